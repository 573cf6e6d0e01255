#!/usr/bin/env python3
"""Run every benchmark of bench/ in turn (each prints ratios against its own baseline)."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for script in ("bench_catalogue.py", "bench_maps.py", "bench_atlas.py"):
    print(f"\n=== {script}", flush=True)
    r = subprocess.run([sys.executable, str(HERE / script)], cwd=HERE.parent)
    if r.returncode:
        sys.exit(r.returncode)
