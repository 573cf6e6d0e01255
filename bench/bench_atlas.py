#!/usr/bin/env python3
"""Atlas benchmark: the whole health atlas on 1 core and on all cores.

Prints pages per second on 1 worker and on all cores, the speed-up, seconds and bytes per
page, and the whole-command time of `mbm-sig atlas sante` (interpreter start-up included),
next to the per-sheet figures of the map benchmark (bench/bench_maps.py) when given
`--with-maps`.

    .venv/bin/python bench/bench_atlas.py [--reps 3] [--db var/catalogue.gpkg] [--with-maps]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=os.environ.get("MBM_SIG_DB", str(ROOT / "var" / "catalogue.gpkg")))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--with-maps", action="store_true", help="also run bench/bench_maps.py")
    a = ap.parse_args()
    import warnings
    warnings.filterwarnings("ignore")
    from mbm_sig.atlas.engine import render_atlas
    from mbm_sig.catalogue import Catalogue
    if not Path(a.db).exists() and not a.db.startswith("postgresql"):
        print(f"catalogue {a.db} not found: run `make build` first", file=sys.stderr)
        return 1
    cat = Catalogue.open(a.db)
    ncpu = os.cpu_count() or 1
    out = Path(tempfile.mkdtemp(prefix="mbm-bench-atlas-"))
    rows = []
    for workers in sorted({1, ncpu}):
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            res = render_atlas("sante", out_dir=out, catalogue=cat, progress=False, workers=workers)
            times.append(time.perf_counter() - t0)
        t = statistics.median(times)
        rows.append((workers, t, res.pages, res.sheets, res.pdf.stat().st_size))
    env = dict(os.environ, MBM_SIG_DB=a.db)
    cmd = [sys.executable, "-m", "mbm_sig.cli", "atlas", "sante", "-o", str(out), "-q"]
    whole = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        whole.append(time.perf_counter() - t0)

    print(f"health atlas: {rows[0][2]} pages ({rows[0][3]} map sheets), median of {a.reps} runs")
    print(f"{'workers':>8} {'seconds':>8} {'pages/s':>8} {'s/page':>7} {'bytes/page':>11}")
    for workers, t, pages, sheets, size in rows:
        print(f"{workers:>8} {t:>8.2f} {pages / t:>8.2f} {t / pages:>7.3f} {size / pages:>11,.0f}")
    if len(rows) > 1:
        print(f"speed-up on {rows[-1][0]} cores: {rows[0][1] / rows[-1][1]:.2f}x")
    print(f"whole command `mbm-sig atlas sante` (start-up included): {statistics.median(whole):.2f} s")
    if a.with_maps:
        print("\nper-sheet figures of the map benchmark (bench/bench_maps.py):", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "bench_maps.py"), "--reps", str(a.reps),
                        "--no-france"], check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
