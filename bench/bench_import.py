#!/usr/bin/env python3
"""Import benchmark (issue 13, target 6): `mbm-sig import pts_projets FILE` of N points (1 M by
default; a GeoPackage in EPSG:4326 the bench generates once, with the fields of the pts_projets
layer definition, valid values) into a copy of the catalogue, against
`ogr2ogr -t_srs EPSG:2154 -f GPKG` of the same file into a new GeoPackage; each in a new
process, interleaved A B A B, medians of the per-pair ratios; peak RSS (/usr/bin/time -v).
mbm-sig does more (validation against the layer definition, provenance, atomic replace of the
layer in an existing catalogue): the figures say so.

    .venv/bin/python bench/bench_import.py [--pairs 5] [--points 1000000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, _timed, med, med_ratio  # noqa: E402


def make_points(path: Path, n: int, seed: int = 13) -> None:
    """n valid pts_projets rows in EPSG:4326 over Nord and Pas-de-Calais."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    porteurs = np.array(["Association", "Collectivité locale", "Éducation nationale", "Établissement de soins",
                         "Organisme professionnel"], dtype=object)
    them = np.array(["SCV", "SEJ", "PRASE", "PRAPS", "CC", "CCAR"], dtype=object)
    ids = pd.Series(np.arange(n)).map("P{:07d}".format)
    df = pd.DataFrame({"id": ids, "intitule": "Projet " + ids, "commune": "Lens", "insee": "62498",
                       "porteur": porteurs[rng.integers(0, 5, n)], "thematique": them[rng.integers(0, 6, n)],
                       "annee": rng.integers(2000, 2026, n), "accepte": rng.integers(0, 2, n).astype(bool)})
    geom = gpd.points_from_xy(rng.uniform(1.6, 4.2, n), rng.uniform(50.0, 51.1, n), crs="EPSG:4326")
    tmp = path.with_suffix(".part.gpkg")
    gpd.GeoDataFrame(df, geometry=geom).to_file(tmp, layer="points", driver="GPKG", engine="pyogrio")
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("MBM_SIG_DB", str(ROOT / "var" / "catalogue.gpkg")))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--cache", default="/tmp/mbm-bench-import")
    a = ap.parse_args()
    if not Path(a.db).exists():
        print(f"catalogue {a.db} not found: run `make build` first", file=sys.stderr)
        return 1
    if not shutil.which("ogr2ogr"):
        print("ogr2ogr not installed (apt-get install gdal-bin): no baseline", file=sys.stderr)
        return 1
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    src = cache / f"points-{a.points}.gpkg"
    if not src.exists():
        print(f"generating {a.points:,} points into {src} …", flush=True)
        make_points(src, a.points)
    tmp = Path(tempfile.mkdtemp(prefix="mbm-bench-import-"))
    db = tmp / "catalogue.gpkg"
    mbm = ROOT / ".venv" / "bin" / "mbm-sig"
    mbm = [str(mbm)] if mbm.exists() else [sys.executable, "-m", "mbm_sig.cli"]

    def ours():
        shutil.copyfile(a.db, db)
        _, wall, peak = _timed([*mbm, "--db", str(db), "import", "pts_projets", str(src)], dict(os.environ))
        return dict(wall=wall, peak_mb=peak)

    def ogr():
        out = tmp / "ogr.gpkg"
        out.unlink(missing_ok=True)
        _, wall, peak = _timed(["ogr2ogr", "-t_srs", "EPSG:2154", "-f", "GPKG", str(out), str(src)], dict(os.environ))
        return dict(wall=wall, peak_mb=peak)

    ra, rb = [], []
    for i in range(a.pairs):
        ra.append(ours())
        rb.append(ogr())
        print(f"  pair {i + 1}/{a.pairs}: mbm-sig import {ra[-1]['wall']:.1f} s {ra[-1]['peak_mb']:.0f} MB, "
              f"ogr2ogr {rb[-1]['wall']:.1f} s {rb[-1]['peak_mb']:.0f} MB", flush=True)
    print(f"\nimport of {a.points:,} points (GeoPackage, EPSG:4326 -> 2154), new process each, median of {a.pairs} "
          "interleaved pairs")
    print("| tool | s | peak MB |")
    print("|---|---:|---:|")
    print(f"| mbm-sig import pts_projets (validation, provenance, atomic replace in the catalogue) | "
          f"{med(ra, 'wall'):.1f} | {med(ra, 'peak_mb'):.0f} |")
    print(f"| ogr2ogr -t_srs EPSG:2154 -f GPKG (new file, no validation) | {med(rb, 'wall'):.1f} | "
          f"{med(rb, 'peak_mb'):.0f} |")
    print(f"time ogr2ogr / mbm-sig = {med_ratio(ra, rb):.2f} (> 1: mbm-sig faster; target >= 1); peak memory "
          f"{med(ra, 'peak_mb'):.0f} MB (target <= 300 MB)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
