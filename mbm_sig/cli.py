"""``mbm-sig``: a thin command layer over the catalogue, maps and atlases.

Exit status: 0 success, 1 failure, 2 invalid input (nothing written).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path


def _catalogue(args):
    from mbm_sig.catalogue import Catalogue
    return Catalogue.open(args.db)


def cmd_build(args) -> int:
    from mbm_sig.catalogue.build import build, report
    cat = _catalogue(args)
    print(f"building {cat.url}", file=sys.stderr)
    results = build(cat, names=args.layers or None, data_dir=args.data_dir, progress=not args.quiet,
                    force=args.force)
    report(results)
    failed = [r for r in results if r.status == "failed"]
    return 1 if failed else 0


def cmd_layers(args) -> int:
    cat = _catalogue(args)
    df = cat.layers()
    if args.json:
        print(df.to_json(orient="records", force_ascii=False, indent=1))
        return 0
    print(f"{'layer':<24} {'count':>7}  {'last write':<16}  {'vintage':<34} sources")
    for r in df.itertuples():
        last = r.last_import if isinstance(r.last_import, str) else ""
        vintage = r.vintage if isinstance(r.vintage, str) else ""
        print(f"{r.name:<24} {int(r.count):>7}  {last[:16].replace('T', ' '):<16}  {vintage[:34]:<34} {r.sources}")
    return 0


def cmd_import(args) -> int:
    from mbm_sig.catalogue import ValidationError
    from mbm_sig.catalogue.readers import InputError
    cat = _catalogue(args)
    try:
        n = cat.import_file(args.layer, args.file, layer=args.layer_name, crs=args.crs,
                            encoding=args.encoding)
    except ValidationError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    except (InputError, KeyError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    print(f"{args.layer}: {n} rows imported from {args.file} into {cat.url}")
    return 0


def cmd_export(args) -> int:
    from mbm_sig.catalogue.readers import InputError
    cat = _catalogue(args)
    try:
        out = cat.export(args.layer, args.out)
    except (InputError, KeyError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    print(f"{args.layer} -> {out}")
    return 0


def cmd_sql(args) -> int:
    import pandas as pd
    cat = _catalogue(args)
    bad = [p for p in args.param or [] if "=" not in p]
    if bad:
        print(f"error: parameter {bad[0]!r} is not NAME=VALUE", file=sys.stderr)
        return 2
    params = dict(p.split("=", 1) for p in args.param or [])
    try:
        df = cat.sql(args.query, params)
    except Exception as exc:       # SQL errors of either backend, unknown parameters
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    if hasattr(df, "geometry") and df.geometry.name in df:
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    with pd.option_context("display.max_rows", args.limit, "display.width", 200):
        print(df.head(args.limit).to_string(index=False))
    return 0


def cmd_fetch(args) -> int:
    from mbm_sig.catalogue.fetch import main as fetch_main
    argv = list(args.sources)
    if args.data_dir:
        argv += ["--data-dir", str(args.data_dir)]
    if args.force:
        argv.append("--force")
    return fetch_main(argv)


def main(argv: list[str] | None = None) -> int:
    import signal

    from pyogrio.errors import DataSourceError
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)     # `mbm-sig layers | head` ends quietly
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyogrio")
    p = argparse.ArgumentParser(prog="mbm-sig", description=__doc__.splitlines()[0])
    p.add_argument("--db", default=None,
                   help="catalogue: GeoPackage path or postgresql:// URL (default $MBM_SIG_DB or var/catalogue.gpkg)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("build", help="fill the catalogue from every configured source")
    s.add_argument("layers", nargs="*", help="only these layers (default: all)")
    s.add_argument("--data-dir", type=Path, default=None, help="open-data mirror (default $MBM_SIG_DATA_DIR)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.add_argument("--force", action="store_true",
                   help="also rebuild layers whose last write is a user import (their imported data are lost)")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("layers", help="list the layers with counts and last import")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_layers)

    s = sub.add_parser("import", help="check a user file against a layer and replace the layer")
    s.add_argument("layer")
    s.add_argument("file", type=Path)
    s.add_argument("--layer-name", default=None, help="layer inside a multi-layer file")
    s.add_argument("--crs", default=None, help="CRS of the file when it has none (e.g. EPSG:4326)")
    s.add_argument("--encoding", default=None, help="text encoding of the file (e.g. cp1252)")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("export", help="write a layer to GeoPackage, GeoJSON, Shapefile, FlatGeobuf or CSV")
    s.add_argument("layer")
    s.add_argument("out", type=Path)
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("sql", help="run spatial SQL on the catalogue (:name parameters)")
    s.add_argument("query")
    s.add_argument("-p", "--param", action="append", help="NAME=VALUE")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(func=cmd_sql)

    s = sub.add_parser("fetch", help="download the official sources into the data directory")
    s.add_argument("sources", nargs="*")
    s.add_argument("--data-dir", type=Path, default=None)
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_fetch)

    _add_optional_commands(sub)

    args, unknown = p.parse_known_args(argv)
    try:
        return _dispatch(p, args, unknown)
    except KeyboardInterrupt:
        return 130
    except (OSError, KeyError, ValueError, DataSourceError) as exc:
        # unreadable catalogue, missing folders, unknown names: one line, not a traceback
        if os.environ.get("MBM_SIG_DEBUG"):
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        kind = f"{type(exc).__name__}: " if isinstance(exc, OSError) else ""
        print(f"error: {kind}{msg}", file=sys.stderr)
        return 2


def _dispatch(p, args, unknown) -> int:
    if unknown:
        if hasattr(args, "rest"):      # options of the pass-through commands (map, atlas, web…)
            args.rest = unknown + list(args.rest)
        else:
            p.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.db:
        os.environ["MBM_SIG_DB"] = args.db
    return args.func(args)


def _add_optional_commands(sub) -> None:
    """Map, atlas, fiche and web commands (their modules parse their own options)."""
    def passthrough(module: str, func: str):
        def run(args):
            import importlib
            return getattr(importlib.import_module(module), func)(args.rest)
        return run

    for name, module, func, help_ in (
        ("map", "mbm_sig.maps", "cli_map", "render one map recipe to PDF/PNG/SVG"),
        ("atlas", "mbm_sig.atlas", "cli_atlas", "render an atlas (book PDF and sheets)"),
        ("fiche", "mbm_sig.atlas", "cli_fiche", "«carte d'identité» sheet of one feature"),
        ("web", "mbm_sig.web", "cli_web", "write the offline interactive heritage map"),
        ("check", "mbm_sig.check", "cli_check", "check every page of an atlas (exit 0 only when clean)"),
    ):
        s = sub.add_parser(name, help=help_, add_help=False)
        s.add_argument("rest", nargs=argparse.REMAINDER)
        s.set_defaults(func=passthrough(module, func))


if __name__ == "__main__":
    sys.exit(main())
