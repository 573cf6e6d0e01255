#!/usr/bin/env python3
"""Warm incremental re-run benchmark (issue 13, target 2): after a one-recipe edit, the time
until the new book is there with `mbm-sig atlas sante --watch` running, against QGIS's export
of the same pages inside an already-open project (the export time alone).

A: `mbm-sig atlas sante --watch` runs in its own process (started once, first build done);
   the benchmark writes a new fill colour into one recipe (a value never rendered before, so
   never a cache hit) and times from the write until the book's new file is renamed into
   place (the watcher notices, re-renders the sheets of that recipe, rewrites the book:
   contents, page numbers, bookmarks).
B: bench/qgis_whole.py (PyQGIS 3.22, QgsApplication, the same layers from the catalogue, one
   layout page per page of the book, as bench_whole.py) with the export done twice in the open
   project; the second export's time is QGIS's warm re-export (QGIS has no incremental export:
   it re-exports every page).
Interleaved A B A B, the median of the per-pair ratios B / A (> 1: mbm-sig faster; target
>= 5). At the end the watched book is compared byte for byte with a cold run of the same
inputs. The definitions are a temporary copy (MBM_SIG_DEFINITIONS): the checkout is not edited.

    .venv/bin/python bench/bench_watch.py [--pairs 5] [--recipe sante_hopitaux] [--db var/catalogue.gpkg]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, have_qgis, run_qgis  # noqa: E402


def _sha(p) -> str:
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


class Watcher:
    """`mbm-sig atlas NAME --watch` in a process; its output lines collected by a thread."""

    def __init__(self, args, env):
        self.p = subprocess.Popen([sys.executable, "-m", "mbm_sig.cli", *args], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def wait_line(self, pred, start=0, timeout=300):
        t0 = time.time()
        with self.cv:
            while True:
                for line in self.lines[start:]:
                    if pred(line):
                        return line
                if self.p.poll() is not None or time.time() - t0 > timeout:
                    raise RuntimeError("watcher: " + "\n".join(self.lines[-20:]))
                self.cv.wait(0.5)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()


def cpu_of(pid: int) -> float:
    """CPU seconds a process has run so far, every thread (the scheduler's nanoseconds,
    /proc/PID/task/*/schedstat; not the 10 ms ticks of /proc/PID/stat)."""
    total = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((t / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):       # a thread that just ended
            pass
    return total / 1e9


def edit_and_time(recipe: Path, old: str, new: str, pdf: Path, pid: int | None = None,
                  timeout=120) -> tuple[float, float]:
    """Write the edit, then (seconds until the book's file is replaced, a new inode; CPU
    seconds the watcher process ``pid`` ran meanwhile, nan without it)."""
    ino = pdf.stat().st_ino
    text = recipe.read_text(encoding="utf-8")
    c0 = cpu_of(pid) if pid else float("nan")
    t0 = time.perf_counter()
    recipe.write_text(text.replace(old, new, 1), encoding="utf-8")
    while True:
        try:
            if pdf.stat().st_ino != ino:
                t = time.perf_counter() - t0
                return t, (cpu_of(pid) - c0 if pid else float("nan"))
        except FileNotFoundError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"no new {pdf} {timeout} s after editing {recipe}")
        time.sleep(0.002)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("MBM_SIG_DB", str(ROOT / "var" / "catalogue.gpkg")))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--recipe", default="sante_hopitaux", help="recipe edited (atlases/maps/NAME.yaml)")
    a = ap.parse_args()
    if not Path(a.db).exists():
        print(f"catalogue {a.db} not found: run `make build` first", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="mbm-bench-watch-"))
    defs = tmp / "definitions"
    for d in ("layers", "atlases", "data"):
        shutil.copytree(ROOT / d, defs / d)
    from mbm_sig.maps.output import fonts
    fonts.ensure()
    shutil.copytree(fonts._cache_dir(), tmp / "cache" / "fonts")      # the print font, made once
    env = dict(os.environ, MBM_SIG_DB=a.db, MBM_SIG_DEFINITIONS=str(defs), MBM_SIG_CACHE=str(tmp / "cache"))
    recipe = defs / "atlases" / "maps" / f"{a.recipe}.yaml"
    m = re.search(r'fill: "(#[0-9a-fA-F]{6})"', recipe.read_text(encoding="utf-8"))
    if not m:
        print(f"{recipe.name}: no fill colour to edit", file=sys.stderr)
        return 1
    out = tmp / "out"
    pdf = out / "atlas-sante.pdf"
    w = Watcher(["atlas", "sante", "-o", str(out), "--watch"], env)
    try:
        w.wait_line(lambda s: s.startswith("watching"))
        first = next(line for line in w.lines if "atlas-sante.pdf" in line)
        print(f"mbm-sig atlas sante --watch: first build: {first.split(': ', 1)[1]}")
        qgis = have_qgis()
        spec = None
        if qgis:
            from bench_whole import sante_spec
            from pypdf import PdfReader
            # QGIS opens its own copy of the catalogue (opening a GeoPackage, GDAL writes to it)
            qdb = shutil.copy(a.db, tmp / "qgis-catalogue.gpkg")
            spec = dict(sante_spec(str(qdb), str(tmp / "qgis-sante.pdf"), len(PdfReader(pdf).pages)), export_reps=2)
        else:
            print("QGIS not installed here (apt-get install qgis python3-qgis): no ratio")
        orig = colour = m.group(1)
        ra, rb, ca, cb, rendered, loads = [], [], [], [], [], []
        for i in range(a.pairs):
            new = f"#{(int(orig[1:], 16) ^ (i + 1)):06x}"            # a fill never rendered before
            n = len(w.lines)
            loads.append(os.getloadavg()[0])
            wall, cpu = edit_and_time(recipe, f'fill: "{colour}"', f'fill: "{new}"', pdf, w.p.pid)
            ra.append(wall)
            ca.append(cpu)
            colour = new
            line = w.wait_line(lambda s: "changed:" in s, start=n)
            rendered.append(re.search(r"(\d+) rendered", line).group(1))
            if qgis:
                q = run_qgis(spec, tmp)
                rb.append(q["export_s"][-1])
                cb.append(q["export_cpu_s"][-1])
            print(f"  pair {i + 1}/{a.pairs} (load {loads[-1]:.1f}): edit to new book {ra[-1]:.3f} s, "
                  f"CPU {ca[-1]:.3f} s"
                  + (f" / QGIS re-export {rb[-1]:.3f} s, CPU {cb[-1]:.3f} s" if rb else "")
                  + f" ({rendered[-1]} page(s) rendered)", flush=True)
        print("  last rebuild:", w.lines[-1].split(": ", 1)[1])
    finally:
        w.stop()
    cold = subprocess.run([sys.executable, "-m", "mbm_sig.cli", "atlas", "sante", "-o", str(tmp / "cold"), "-q"],
                          env=env, cwd=ROOT, capture_output=True, text=True)
    same = cold.returncode == 0 and _sha(pdf) == _sha(tmp / "cold" / "atlas-sante.pdf")
    print()
    print(f"| after a one-recipe edit ({recipe.name}), sante atlas, {spec and len(spec['pages']) or '?'} pages "
          f"| median s | median CPU s |")
    print("|---|---:|---:|")
    print(f"| mbm-sig --watch: edit to new book (1 sheet re-rendered, book rewritten) | {statistics.median(ra):.3f} "
          f"| {statistics.median(ca):.3f} |")
    if rb:
        print(f"| QGIS 3.22: export of the same pages in the open project (2nd export, export alone) | "
              f"{statistics.median(rb):.3f} | {statistics.median(cb):.3f} |")
        r = statistics.median(y / x for x, y in zip(ra, rb, strict=True))
        rc = statistics.median(y / x for x, y in zip(ca, cb, strict=True))
        print(f"\nwarm re-run after a one-recipe edit, QGIS re-export time / mbm-sig edit-to-book time = {r:.2f} "
              f"(median of {a.pairs} interleaved pairs; both on 1 core; target >= 5); CPU: QGIS export / "
              f"mbm-sig watcher from the write to the new book = {rc:.2f}; load average "
              f"{min(loads):.1f}-{max(loads):.1f}")
    print(f"watched book identical to a cold run of the same inputs: {'yes' if same else 'NO'}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
