#!/usr/bin/env python3
"""Atlas benchmark: the whole health atlas on 1 core and on all cores.

Prints, on 1 worker and on all cores, the time of the whole command `mbm-sig atlas sante`
in a new process (interpreter start-up, cold caches: what a cartographer waits for) and of
the same atlas made again in one process (warm caches: a notebook, a re-run), pages per
second, the speed-up and bytes per page; with `--with-maps`, the per-sheet figures of the
map benchmark (bench/bench_maps.py) after them.

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
    env = dict(os.environ, MBM_SIG_DB=a.db)
    # what a cartographer runs: the whole command in a new process (start-up, planning,
    # every page from cold caches, book assembly), on 1 worker and on all cores
    cold = []
    for workers in sorted({1, ncpu}):
        cmd = [sys.executable, "-m", "mbm_sig.cli", "atlas", "sante", "-o", str(out), "-q", "-j", str(workers)]
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
        cold.append((workers, statistics.median(times)))
    # the same atlas again in a process that has made it once (a notebook, a re-run)
    warm = []
    for workers in sorted({1, ncpu}):
        times = []
        for _ in range(a.reps + 1):
            t0 = time.perf_counter()
            res = render_atlas("sante", out_dir=out, catalogue=cat, progress=False, workers=workers)
            times.append(time.perf_counter() - t0)
        warm.append((workers, statistics.median(times[1:]), res.pages, res.sheets, res.pdf.stat().st_size))

    pages, sheets, size = warm[0][2], warm[0][3], warm[0][4]
    print(f"health atlas: {pages} pages ({sheets} map sheets), {size / pages:,.0f} bytes per page, "
          f"median of {a.reps} runs")
    print(f"{'':>26} {'workers':>8} {'seconds':>8} {'pages/s':>8} {'s/page':>7}")
    for workers, t in cold:
        print(f"{'whole command (new process)':>26} {workers:>8} {t:>8.2f} {pages / t:>8.2f} {t / pages:>7.3f}")
    for workers, t, *_ in warm:
        print(f"{'again in the same process':>26} {workers:>8} {t:>8.2f} {pages / t:>8.2f} {t / pages:>7.3f}")
    if len(cold) > 1:
        print(f"speed-up on {cold[-1][0]} cores: whole command {cold[0][1] / cold[-1][1]:.2f}x, "
              f"same process {warm[0][1] / warm[-1][1]:.2f}x")
    if a.with_maps:
        print("\nper-sheet figures of the map benchmark (bench/bench_maps.py):", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "bench_maps.py"), "--reps", str(a.reps),
                        "--no-france"], check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
