#!/usr/bin/env python3
"""Run every benchmark of bench/ in turn (each prints ratios against its own baseline);
one that cannot run (a baseline tool missing) is reported at the end, the others still run."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
failed = []
for script in ("bench_catalogue.py", "bench_maps.py", "bench_atlas.py", "bench_whole.py", "bench_watch.py",
               "bench_scale.py", "bench_import.py"):
    print(f"\n=== {script}", flush=True)
    if subprocess.run([sys.executable, str(HERE / script)], cwd=HERE.parent).returncode:
        failed.append(script)
if failed:
    print(f"\nnot run to the end: {', '.join(failed)} (see the messages above)", file=sys.stderr)
sys.exit(1 if failed else 0)
