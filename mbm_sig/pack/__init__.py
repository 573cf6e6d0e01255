"""Partner packs per territory: ``mbm-sig pack epci SIREN|all [-o DIR]``,
``mbm-sig pack arrondissement CODE|all [-o DIR]`` (see :mod:`mbm_sig.pack.build`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

from mbm_sig.pack.build import KINDS, PackResult, Territory, build_pack, build_packs, territories

__all__ = ["KINDS", "PackResult", "Territory", "build_pack", "build_packs", "cli_pack", "territories"]


def cli_pack(argv: list[str] | None = None) -> int:
    from mbm_sig.config import settings
    from mbm_sig.errors import MbmSigError

    p = argparse.ArgumentParser(
        prog="mbm-sig pack",
        description="write the pack of a territory: its atlas sheets (books, PDF and PNG), a GeoPackage "
                    "and CSV tables of every layer in it, its offline web map, a README and a manifest; "
                    "a folder and a zip")
    p.add_argument("kind", choices=sorted(KINDS), help="territory kind")
    p.add_argument("code", help="SIREN of the EPCI or code of the arrondissement, or «all» (those of the basin)")
    p.add_argument("-o", "--out", type=Path, default=None, help="output folder (default out/packs)")
    p.add_argument("--db", default=None, help="catalogue: GeoPackage path or postgresql:// URL")
    p.add_argument("-j", "--processes", type=int, default=None,
                   help="packs made in parallel with «all» (default: one per core)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyogrio")

    from mbm_sig.catalogue import Catalogue
    s = settings(db_url=a.db or os.environ.get("MBM_SIG_DB"))
    out = a.out or s.out_dir / "packs"
    t0 = time.perf_counter()
    try:
        cat = Catalogue.open(s.db_url)
        if not cat.backend.exists():
            print(f"error: catalogue {cat.url} does not exist: run `mbm-sig build` first", file=sys.stderr)
            return 1
        ters = territories(cat, a.kind, a.code)
        results = build_packs(cat, ters, out, processes=a.processes) if len(ters) > 1 \
            else [build_pack(cat, ters[0], out)]
    except MbmSigError as exc:
        print(f"error: {exc.message()}", file=sys.stderr)
        return exc.exit_code
    for r in results:
        books = ", ".join(f"{k} {v} p." for k, v in r.books.items()) or "no atlas section"
        print(f"{r.zip}: {r.territory.name}, {len(r.files)} files ({books}; {len(r.layers)} layers)")
    print(f"{len(results)} pack(s) in {out}, {time.perf_counter() - t0:.1f} s")
    return 0
