"""Atlases: books of map sheets, tables and book pages (see :mod:`mbm_sig.atlas.engine`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mbm_sig.atlas.engine import load_atlas, render_atlas
from mbm_sig.atlas.errors import AtlasError, AtlasFailure, FicheError
from mbm_sig.atlas.incremental import Atlas
from mbm_sig.errors import MbmSigError

__all__ = ["Atlas", "AtlasError", "AtlasFailure", "FicheError", "cli_atlas", "load_atlas", "render_atlas"]


def cli_atlas(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mbm-sig atlas", description="render an atlas to one PDF book")
    p.add_argument("name", help="atlas name (atlases/NAME.yaml) or path")
    p.add_argument("-o", "--out", type=Path, default=None, help="output folder (default out/)")
    p.add_argument("--only", nargs="+", default=None, metavar="SHEET",
                   help="only the sheets whose title, file name or recipe matches")
    p.add_argument("--sheets", action="store_true", help="also write one PDF per sheet")
    p.add_argument("--png", action="store_true", help="with --sheets, also one PNG per sheet")
    p.add_argument("-j", "--workers", type=int, default=None, help="parallel workers (default: all cores)")
    p.add_argument("--demo", action="store_true",
                   help="fill the sheets no open source feeds with fictive values, stamped «Données fictives»")
    p.add_argument("--split-by", default=None, metavar="FIELD",
                   help="one book per value of this coverage field (e.g. siren for the EPCI, code for the "
                        "arrondissements; a,b: the first a page has), each with its contents and bookmarks")
    p.add_argument("--cache", action="store_true",
                   help="reuse the pages of earlier runs whose inputs are unchanged (sheet cache in var/cache)")
    p.add_argument("--watch", action="store_true",
                   help="stay running: on every change of the atlas, its recipes, the layer definitions or the "
                        "catalogue, render again the pages it touches and rewrite the book (Ctrl-C stops)")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.watch or a.cache:
        if a.demo:
            print("error: --watch and --cache do not combine with --demo", file=sys.stderr)
            return 2
        from mbm_sig.atlas.incremental import cli_watch
        return cli_watch(a)
    try:
        res = render_atlas(a.name, a.out, only=a.only, sheets=a.sheets, png=a.png, workers=a.workers,
                           progress=not a.quiet, demo=a.demo, split_by=a.split_by)
    except MbmSigError as exc:          # invalid input: 2, failure: 1 (mbm_sig.errors)
        print(f"error: {exc.message()}", file=sys.stderr)
        return exc.exit_code
    if res.books:
        for b in res.books:
            print(f"{b.pdf}: {b.label}, {b.pages} pages, {b.sheets} map sheets")
        print(f"{len(res.books)} books split by {a.split_by}, {res.seconds:.1f} s")
        return 0
    print(f"{res.pdf}: {res.pages} pages, {res.sheets} map sheets, {len(res.pending)} waiting for data, "
          f"{res.seconds:.1f} s")
    for item in res.pending:
        print(f"  waiting for data: {item['title']} -> {item['command']}")
    if res.sheet_files:
        print(f"  {len(res.sheet_files)} sheet files in {res.sheet_files[0].parent}")
    return 0
from mbm_sig.atlas.fiche import cli_fiche  # noqa: E402,F401  (registers the fiche_cite and carte_effectifs charts)
