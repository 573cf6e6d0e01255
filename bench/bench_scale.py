#!/usr/bin/env python3
"""Scale benchmark (issue 13, target 5): the per-commune atlas (atlases/communes.yaml, one page
per commune of Nord and Pas-de-Calais, the classic QGIS atlas) at 50 / 330 / 1534 pages (the
first N communes by INSEE code), `mbm-sig atlas` in a new process on all cores against QGIS's
atlas export of the same coverage (bench/qgis_whole.py "atlas" mode: coverage = the communes
layer of the catalogue GeoPackage, map driven by the atlas feature, 6-class quantile
renderer on population density (the expression "population" / "superficie_km2"; mbm-sig's Q6
classes are other quantiles, the same work), every commune
named (dark text, white halo: the recipe names every commune of its frame), legend, scale bar,
north arrow; no inset on either side), QGIS on one process (its atlas export is single-threaded)
and on 2 processes (coverage split in two halves, run at once). Interleaved A B A B, medians of
the per-pair ratios; peak RSS of the whole command (/usr/bin/time -v: the largest process),
book assembly share. Each coverage is first run once untimed (it makes the decisions the timed
runs find kept; its time and peak are printed on their own line).

    .venv/bin/python bench/bench_scale.py [--pairs 5] [--sizes 50,330,1534] [--no-qgis2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT,
    compile_package,
    have_qgis,
    med,
    med_ratio,
    run_mbm,
    run_qgis,
    sql_where,
    whole_cpu_path,
)

ATLAS = ROOT / "atlases" / "communes.yaml"


def atlas_of(codes: list[str], tmp: Path) -> Path:
    """atlases/communes.yaml restricted to these communes (its recipe by absolute path)."""
    text = ATLAS.read_text(encoding="utf-8")
    cov = 'where: {departement: ["59", "62"]}'
    assert cov in text, f"{ATLAS}: coverage line changed"
    text = text.replace(cov, "where: {insee: [%s]}" % ", ".join(f'"{c}"' for c in codes))
    text = text.replace("recipe: maps/", f"recipe: {ATLAS.parent}/maps/")
    path = tmp / f"communes-{len(codes)}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def qgis_spec(db, codes, pdf):
    return {"gpkg": db, "pdf": str(pdf), "mode": "atlas",
            "atlas": {"layer": "communes", "subset": sql_where({"insee": codes}), "sort": "insee",
                      "var": '"population" / "superficie_km2"', "labels": "nom",
                      "title": '[% "nom" %] ([% "insee" %])', "margin": 0.9}}


def qgis2(db, codes, tmp):
    """QGIS's atlas export on 2 processes at once, each on half the coverage."""
    halves = [codes[: len(codes) // 2], codes[len(codes) // 2:]]
    res = [None, None]
    sub = [tmp / "q0", tmp / "q1"]
    for d in sub:
        d.mkdir(exist_ok=True)
        # each its own copy of the catalogue (made before the clock starts): two QGIS processes
        # opening one GeoPackage at once both write its header, and one of them then cannot
        # open the layer ("database is locked")
        shutil.copyfile(db, d / "catalogue.gpkg")

    def go(k):
        res[k] = run_qgis(qgis_spec(str(sub[k] / "catalogue.gpkg"), halves[k], sub[k] / "qgis.pdf"), sub[k])
    import time
    t0 = time.time()
    th = [threading.Thread(target=go, args=(k,)) for k in range(2)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    return dict(wall=time.time() - t0, peak_mb=max(r["peak_mb"] for r in res))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("MBM_SIG_DB", str(ROOT / "var" / "catalogue.gpkg")))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--sizes", default="50,330,1534")
    ap.add_argument("-j", "--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-qgis2", action="store_true", help="skip QGIS on 2 processes")
    a = ap.parse_args()
    if not Path(a.db).exists():
        print(f"catalogue {a.db} not found: run `make build` first", file=sys.stderr)
        return 1
    import pyogrio
    codes_all = sorted(pyogrio.read_dataframe(a.db, layer="communes", columns=["insee"],
                                              read_geometry=False)["insee"])
    compile_package()
    tmp = Path(tempfile.mkdtemp(prefix="mbm-bench-scale-"))
    env = dict(os.environ, MBM_SIG_DB=a.db)
    qg = have_qgis()
    rows, firsts = [], []
    for n in [int(x) for x in a.sizes.split(",")]:
        codes = codes_all[:n]
        path = atlas_of(codes, tmp)
        args = ["atlas", str(path), "-o", str(tmp), "-q", "-j", str(a.workers)]
        spec = qgis_spec(a.db, codes, tmp / "qgis.pdf")
        ra, rq, rq2 = [], [], []
        # the first run of a coverage (or after a change of code) makes the decisions kept for it
        # (mbm_sig.atlas.engine._kept) and holds what making them holds: not among the timed runs,
        # which meet them as a cartographer's re-runs do; printed on its own
        first = run_mbm(args, env, tmp)
        firsts.append((n, first))
        for i in range(a.pairs):
            ra.append(run_mbm(args, env, tmp))
            if qg:
                rq.append(run_qgis(spec, tmp))
                if not a.no_qgis2:
                    rq2.append(qgis2(a.db, codes, tmp))
            print(f"  {n} pages, pair {i + 1}/{a.pairs}: mbm-sig {ra[-1]['wall']:.1f} s"
                  + (f", QGIS {rq[-1]['wall']:.1f} s" if rq else "")
                  + (f", QGIS x2 {rq2[-1]['wall']:.1f} s" if rq2 else ""), flush=True)
        book = statistics.median((x["book_end"] - x["book_start"]) for x in ra)
        render = statistics.median((x["book_start"] - x["first_page"]) for x in ra)
        rows.append(dict(n=n, wall=med(ra, "wall"), peak=max(x["peak_mb"] for x in ra), book=book, render=render,
                         ms_page=1000 * render / n, cpu_page=1000 * med(ra, "cpu") / n,
                         qcpu_page=1000 * med(rq, "cpu") / n if rq else None, q_cpu=med(rq, "cpu") if rq else None,
                         q=med(rq, "wall") if rq else None, qpeak=max(x["peak_mb"] for x in rq) if rq else None,
                         ratio=med_ratio(ra, rq) if rq else None,
                         q2=med(rq2, "wall") if rq2 else None, ratio2=med_ratio(ra, rq2) if rq2 else None,
                         path=statistics.median(map(whole_cpu_path, ra)),
                         cpu_ratio=statistics.median(y["cpu"] / whole_cpu_path(x)
                                                     for x, y in zip(ra, rq, strict=True)) if rq else None))
    print(f"\nper-commune atlas (atlases/communes.yaml), first N communes by INSEE code; mbm-sig -j {a.workers} "
          f"(new process) vs QGIS atlas export (new process; 1 process, and 2 processes on halves); "
          f"no inset on either side; medians of {a.pairs} interleaved runs")
    print("| pages | mbm-sig s | render ms/page | CPU ms/page mbm-sig / QGIS | book assembly s (share) "
          "| mbm-sig peak MB | QGIS 1 proc. s | ratio QGIS/mbm | QGIS 2 proc. s | ratio | QGIS peak MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def f(v, p=".2f"):
        return "—" if v is None else format(v, p)
    for r in rows:
        print(f"| {r['n']} | {r['wall']:.1f} | {r['ms_page']:.0f} | {r['cpu_page']:.0f} / {f(r['qcpu_page'], '.0f')} "
              f"| {r['book']:.2f} ({100 * r['book'] / r['wall']:.0f} %) "
              f"| {r['peak']:.0f} | {f(r['q'], '.1f')} | {f(r['ratio'])} | {f(r['q2'], '.1f')} | {f(r['ratio2'])} "
              f"| {f(r['qpeak'], '.0f')} |")
    print("free cores (CPU seconds along mbm-sig's longest process, against QGIS's CPU seconds on its one "
          "process: what the two give when no other work takes the cores; medians):")
    for r in rows:
        print(f"  {r['n']} pages: mbm-sig {r['path']:.1f} s along its longest process"
              + (f", QGIS {r['q_cpu']:.1f} s: ratio {r['cpu_ratio']:.2f}" if r["cpu_ratio"] is not None else ""))
    print("first run of each coverage (the decisions made, not timed above): " + ", ".join(
        f"{n} pages {x['wall']:.1f} s, {x['peak_mb']:.0f} MB" for n, x in firsts))
    if len(rows) > 1:
        peaks = [r["peak"] for r in rows]
        print(f"peak memory spread over the sizes: {100 * (max(peaks) / min(peaks) - 1):.0f} % (target <= 15 %, "
              f"max <= 350 MB); book assembly per page: "
              + ", ".join(f"{1000 * r['book'] / r['n']:.1f} ms ({r['n']} p.)" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
