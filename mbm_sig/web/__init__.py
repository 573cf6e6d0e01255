"""Offline interactive heritage map: ``mbm-sig web [-o DIR] [--db URL]`` (see :mod:`mbm_sig.web.build`)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from mbm_sig.web.build import WEB_LAYERS, BuildResult, WebBuildError, build_site

__all__ = ["WEB_LAYERS", "BuildResult", "WebBuildError", "build_site", "cli_web"]


def cli_web(argv: list[str] | None = None) -> int:
    from mbm_sig.config import settings

    p = argparse.ArgumentParser(
        prog="mbm-sig web",
        description="write the offline interactive heritage map (a static folder that opens from file://)")
    p.add_argument("-o", "--out", type=Path, default=None, help="output folder (default out/web)")
    p.add_argument("--db", default=None, help="catalogue: GeoPackage path or postgresql:// URL "
                                             "(default $MBM_SIG_DB or var/catalogue.gpkg)")
    p.add_argument("--no-geojson", action="store_true",
                   help="do not write the data/*.geojson copies (the page uses data/*.js only)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:      # `mbm-sig web -- -o DIR` (the main parser passes the rest through)
        argv = argv[1:]
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyogrio")

    from mbm_sig.catalogue import Catalogue
    s = settings(db_url=a.db or os.environ.get("MBM_SIG_DB"))
    out = a.out or s.out_dir / "web"
    try:
        cat = Catalogue.open(s.db_url)
        missing = [wl.layer for wl in WEB_LAYERS if not _has_rows(cat, wl.layer)]
        if missing:
            print(f"error: empty or missing layers in {s.db_url}: {', '.join(missing)} "
                  f"(run `mbm-sig build` first)", file=sys.stderr)
            return 1
        res = build_site(cat, out, geojson=not a.no_geojson)
    except (WebBuildError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{k} {v}" for k, v in res.layers.items())
    print(f"{res.out_dir / 'index.html'}: {len(res.files)} files, {res.bytes / 1e6:.1f} MB ({counts})")
    return 0


def _has_rows(cat, name: str) -> bool:
    df = cat.layers()
    row = df[df["name"] == name]
    return bool(len(row)) and int(row["count"].iloc[0] or 0) > 0
