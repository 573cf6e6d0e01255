#!/usr/bin/env python3
"""Timeline of a parallel atlas run (issue 13, target 3): per process, the start and end of
each piece of work (the warm-up before the fork, the book's own pages written meanwhile, each
body page, the book), in wall seconds from the first page work and in CPU seconds of that
process, to see where the 2-core rendering phase waits. No ratio: a diagnostic, run in a new
process like bench_whole.py (bench/_mbm_run.py's way of importing the engine).

    .venv/bin/python bench/timeline.py [-j 2] [--atlas sante] [--db var/catalogue.gpkg] [--against-one]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, resource, sys, time
log = sys.argv[1]
argv = sys.argv[2:]
from mbm_sig.cli import _importing
with _importing(True):
    from mbm_sig.atlas import engine

def record(what, fn):
    def timed(*a, **k):
        t0, c0, f0 = time.time(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        try:
            return fn(*a, **k)
        finally:
            label = what(*a) if callable(what) else what
            f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            with open(log, "a") as fh:
                fh.write(json.dumps([os.getpid(), label, t0, time.time(), c0, time.process_time(), f1 - f0]) + "\n")
    return timed

def page_label(job):
    p = job[2]
    return f"{p.kind} {job[0]:02d} {(p.spec.recipe.stem if p.spec.recipe else p.title)[:40]}"

engine._render_page = record(page_label, engine._render_page)
engine._warm = record("warm-up", engine._warm)
engine._worker_loop = record("worker life", engine._worker_loop)
engine.book_front = record("book front (meanwhile)", engine.book_front)
engine._write_book = record("book", engine._write_book)
if hasattr(engine, "_decide"):
    engine._decide = record("decisions (towns, series layouts)", engine._decide)
from mbm_sig.cli import main
main(argv, command=True)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("MBM_SIG_DB", str(ROOT / "var" / "catalogue.gpkg")))
    ap.add_argument("--atlas", default="sante")
    ap.add_argument("-j", "--workers", type=int, default=2)
    ap.add_argument("--against-one", action="store_true",
                    help="also a -j 1 run: each process's pages, their CPU there; and a plain Python loop "
                         "alone against two at once (how much a process slows while another runs)")
    a = ap.parse_args()
    rows = _run(a, a.workers)
    _print(rows, _run(a, 1) if a.against_one else None)
    if a.against_one:
        _loops()
    return 0


def _run(a, workers: int) -> list:
    tmp = Path(tempfile.mkdtemp(prefix="mbm-timeline-"))
    log = tmp / "timeline.jsonl"
    subprocess.run([sys.executable, "-c", CHILD, str(log), "atlas", a.atlas, "-o", str(tmp), "-q",
                    "-j", str(workers)], check=True, cwd=ROOT, env=dict(os.environ, MBM_SIG_DB=a.db),
                   stdout=subprocess.DEVNULL)
    return [json.loads(line) for line in log.read_text().splitlines()]


LOOP = "import time\nt = time.process_time()\ns = 0\nfor i in range(8_000_000): s += i\nprint(time.process_time() - t)"


def _loops(pairs: int = 3) -> None:
    """A plain Python loop's CPU seconds alone and with a second one at once, interleaved."""
    alone, together = [], []
    for _ in range(pairs):
        alone.append(float(subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True,
                                          check=True).stdout))
        procs = [subprocess.Popen([sys.executable, "-c", LOOP], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        together += [float(p.communicate()[0]) for p in procs]
    print(f"plain Python loop, CPU s ({pairs} interleaved pairs): alone {min(alone):.2f}-{max(alone):.2f}, "
          f"two at once {min(together):.2f}-{max(together):.2f} each; median two at once / alone = "
          f"{statistics.median(together) / statistics.median(alone):.2f}")


def _print(rows: list, one: list | None) -> None:
    t0 = min(r[2] for r in rows)
    pids = {pid: k for k, pid in enumerate(dict.fromkeys(r[0] for r in sorted(rows, key=lambda r: r[2])))}
    print(f"{'proc':>4} {'start':>6} {'end':>6} {'wall':>6} {'cpu':>6} {'faults':>6}  work")
    for pid, what, s, e, c0, c1, flt in sorted(rows, key=lambda r: (r[2], -r[3])):
        print(f"{pids[pid]:>4} {s - t0:6.3f} {e - t0:6.3f} {e - s:6.3f} {c1 - c0:6.3f} {flt:6d}  {what}")
    for pid, k in pids.items():
        mine = [r for r in rows if r[0] == pid and r[1] not in ("worker life",)]
        pages = [r for r in mine if r[1].split()[0] in ("map", "table", "chart")]
        print(f"process {k}: {len(pages)} pages, {sum(r[5] - r[4] for r in pages):.3f} s CPU in pages, "
              f"{sum(r[6] for r in pages)} minor page faults in pages, "
              f"last page end {max((r[3] for r in pages), default=t0) - t0:.3f} s")
        if one is not None:
            cpu = {r[1]: r[5] - r[4] for r in one}
            print(f"  the same {len(pages)} pages in the -j 1 run: {sum(cpu.get(r[1], 0.0) for r in pages):.3f} s CPU")


if __name__ == "__main__":
    sys.exit(main())
