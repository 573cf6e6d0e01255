"""``mbm-sig``: a thin command layer over the catalogue, maps and atlases.

Exit status: 0 success, 1 failure, 2 invalid input (nothing written).

Every error reaches the user as one ``error:`` line: an :class:`~mbm_sig.errors.MbmSigError`
with its own exit status, anything unexpected with status 1 (``MBM_SIG_DEBUG=1`` shows
the traceback). Global options (``--db``) are accepted before or after the command.

Commands are rows of :data:`COMMANDS` (name, help, a function adding its arguments, the
function running it); a new command is one more row.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path

from mbm_sig.errors import InvalidInput, MbmSigError


def _catalogue(args, create: bool = False):
    from mbm_sig.catalogue import Catalogue
    return Catalogue.open(args.db, create=create)


# ------------------------------------------------------------------------------ build

def args_build(s):
    s.add_argument("layers", nargs="*", help="only these layers (default: all)")
    s.add_argument("--data-dir", type=Path, default=None,
                   help="open-data mirror (default $MBM_SIG_DATA_DIR, else ../shared/data, else var/mirror)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.add_argument("--force", action="store_true",
                   help="also rebuild layers whose last write is a user import (their imported data are lost)")


def cmd_build(args) -> int:
    from mbm_sig.catalogue.build import build, report
    cat = _catalogue(args, create=True)
    print(f"building {cat.url}", file=sys.stderr)
    results = build(cat, names=args.layers or None, data_dir=args.data_dir, progress=not args.quiet,
                    force=args.force)
    report(results)
    failed = [r for r in results if r.status == "failed"]
    return 1 if failed else 0


# ------------------------------------------------------------------------------ layers

def args_layers(s):
    s.add_argument("--json", action="store_true")


def columns_text(rows: list[list[str]], right: set[int] = frozenset()) -> str:
    """Rows as aligned columns, two spaces apart however long a value is."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def cmd_layers(args) -> int:
    cat = _catalogue(args)
    df = cat.layers()
    if args.json:
        print(df.to_json(orient="records", force_ascii=False, indent=1))
        return 0
    rows = [["layer", "status", "count", "last write", "vintage", "sources"]]
    for r in df.itertuples():
        last = r.last_import if isinstance(r.last_import, str) else ""
        vintage = r.vintage if isinstance(r.vintage, str) else ""
        rows.append([r.name, r.status, str(int(r.count)) if r.status in ("built", "imported") else "-",
                     last[:16].replace("T", " "), vintage, r.sources])
    print(columns_text(rows, right={2}))
    missing = df[df["status"] == "missing"]
    for r in missing.itertuples():
        print(f"warning: layer {r.name} was written but its table is gone (dropped outside mbm-sig): "
              f"{r.fill} repairs it", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------ import

def args_import(s):
    s.add_argument("layer")
    s.add_argument("file", type=Path)
    s.add_argument("--layer-name", default=None, help="layer inside a multi-layer file")
    s.add_argument("--crs", default=None, help="CRS of the file when it has none (e.g. EPSG:4326)")
    s.add_argument("--encoding", default=None, help="text encoding of the file (e.g. cp1252)")


def cmd_import(args) -> int:
    from mbm_sig.catalogue import ValidationError
    cat = _catalogue(args, create=True)
    try:
        n = cat.import_file(args.layer, args.file, layer=args.layer_name, crs=args.crs,
                            encoding=args.encoding)
    except ValidationError as exc:
        print(exc.report(), file=sys.stderr)
        return exc.exit_code
    print(f"{args.layer}: {n} rows imported from {args.file} into {cat.url}")
    return 0


# ------------------------------------------------------------------------------ export

def args_export(s):
    s.add_argument("layer")
    s.add_argument("out", type=Path, help="OUT.gpkg, .geojson, .shp, .fgb or .csv")
    s.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                   help="only the features whose FIELD equals VALUE (repeatable: all must hold)")
    s.add_argument("--bbox", default=None, metavar="XMIN,YMIN,XMAX,YMAX",
                   help="only the features meeting this box (EPSG:2154 metres)")
    s.add_argument("--within", default=None, metavar="LAYER:ID",
                   help="only the features inside the feature ID of LAYER (e.g. epci:200068120)")
    s.add_argument("--csv-dialect", choices=["fr", "standard"], default="fr",
                   help="CSV for French spreadsheets (; separator, decimal comma, UTF-8 BOM; the default) "
                        "or standard CSV (, and .)")


def parse_pairs(values, what: str) -> dict:
    out = {}
    for v in values or []:
        if "=" not in v or not v.split("=", 1)[0].strip():
            raise InvalidInput(f"{what} {v!r} is not NAME=VALUE")
        k, val = v.split("=", 1)
        if k.strip() in out:
            raise InvalidInput(f"{what} {k.strip()!r} given twice ({out[k.strip()]!r} and {val!r})")
        out[k.strip()] = val
    return out


def parse_bbox(text: str | None):
    if text is None:
        return None
    parts = text.replace(";", ",").split(",")
    try:
        box = tuple(float(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
        raise InvalidInput(f"--bbox {text!r}: expected XMIN,YMIN,XMAX,YMAX in EPSG:2154 with XMIN < XMAX, YMIN < YMAX")
    return box


def cmd_export(args) -> int:
    cat = _catalogue(args)
    out = cat.export(args.layer, args.out, where=parse_pairs(args.where, "--where") or None,
                     bbox=parse_bbox(args.bbox), within=args.within, csv_dialect=args.csv_dialect)
    size = f"{out.stat().st_size:,}".replace(",", " ")
    print(f"{args.layer} -> {out} ({size} bytes)")
    return 0


# ------------------------------------------------------------------------------ sql

def args_sql(s):
    s.add_argument("query")
    s.add_argument("-p", "--param", action="append", help="NAME=VALUE")
    s.add_argument("--limit", type=int, default=50, help="rows shown by the table view (default 50)")
    s.add_argument("--format", choices=["table", "csv", "json", "gpkg"], default="table",
                   help="table (the first --limit rows), or every row as CSV, JSON or GeoPackage")
    s.add_argument("-o", "--out", type=Path, default=None, help="write to this file (required for gpkg)")
    s.add_argument("--csv-dialect", choices=["fr", "standard"], default="fr")


def cmd_sql(args) -> int:
    import pandas as pd

    from mbm_sig.atomic import atomic_write_text
    from mbm_sig.catalogue.readers import frame_to_csv, write_user_file
    cat = _catalogue(args)
    params = parse_pairs(args.param, "parameter")
    df = cat.sql(args.query, params)
    fmt = args.format
    if fmt == "gpkg":
        if args.out is None:
            raise InvalidInput("--format gpkg needs -o FILE.gpkg")
        out = write_user_file(df, args.out.with_suffix(".gpkg") if args.out.suffix.lower() != ".gpkg" else args.out,
                              layer="sql")
        print(f"{len(df)} rows -> {out}")
        return 0
    if fmt == "csv":
        text = frame_to_csv(df, args.csv_dialect)
    elif fmt == "json":
        if hasattr(df, "geometry") and df.geometry.name in df:        # GeoJSON (RFC 7946: EPSG:4326)
            text = (df.to_crs("EPSG:4326") if df.crs else df).to_json(na="null", ensure_ascii=False)
        else:
            text = pd.DataFrame(df).to_json(orient="records", force_ascii=False)
        text += "\n"
    else:
        if hasattr(df, "geometry") and df.geometry.name in df:
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
        shown = df.head(max(args.limit, 0))
        with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_columns", None):
            text = shown.to_string(index=False) + "\n"
        if len(df) > len(shown):
            text += f"({len(shown)} of {len(df)} rows; --limit N shows more, --format csv -o FILE writes all)\n"
        else:
            text += f"({len(df)} row{'s' if len(df) != 1 else ''})\n"
    if args.out is not None:
        atomic_write_text(args.out, text, encoding="utf-8-sig" if fmt == "csv" and args.csv_dialect == "fr"
                          else "utf-8")
        print(f"{len(df)} rows -> {args.out}")
    else:
        sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------------------ fetch, roles

def args_fetch(s):
    s.add_argument("sources", nargs="*")
    s.add_argument("--data-dir", type=Path, default=None)
    s.add_argument("--force", action="store_true")


def cmd_fetch(args) -> int:
    from mbm_sig.catalogue.fetch import main as fetch_main
    argv = list(args.sources)
    if args.data_dir:
        argv += ["--data-dir", str(args.data_dir)]
    if args.force:
        argv.append("--force")
    return fetch_main(argv)


def args_roles(s):
    s.add_argument("--reader", default=None,
                   help="name of the reader role (default $MBM_SIG_PG_READER_ROLE or mbm_reader)")
    s.add_argument("--writer", default="mbm_writer", help="name of the writer role (default mbm_writer)")


def cmd_roles(args) -> int:
    from mbm_sig.catalogue.postgis import roles_sql
    from mbm_sig.config import settings
    sys.stdout.write(roles_sql(args.db, reader=args.reader or settings().reader_role, writer=args.writer))
    return 0


# ------------------------------------------------------------------------------ map, atlas, fiche, web

def passthrough(module: str, func: str, reads_catalogue: bool = True):
    """A command whose module parses its own options (``args.rest``)."""
    def run(args):
        import importlib
        with _importing(getattr(args, "freeze_imports", False)):
            if reads_catalogue and not {"-h", "--help"} & set(args.rest):
                _catalogue(args)           # a missing catalogue is named before any work
            command = getattr(importlib.import_module(module), func)
        return command(args.rest)
    return run


@contextlib.contextmanager
def _importing(freeze: bool):
    """A command's imports (the data and drawing stack: some hundred thousand objects that live
    as long as the process) with the cyclic garbage collector paused: its collections while
    importing found nothing to free and took about a tenth of a second of CPU. With ``freeze``
    (the process is the command) what the imports made is also frozen out of the collector's
    later passes (:func:`gc.freeze`)."""
    import gc
    was = gc.isenabled()
    gc.disable()
    if freeze:
        _lean_matplotlib()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was:
            gc.enable()


def _lean_matplotlib() -> None:
    """matplotlib writes, as it imports, the signature and docstring of each artist class's
    ``set`` (every property listed, read off the class) and the property tables of its other
    docstrings: about a tenth of a second of CPU (a quarter of its import) for help text a
    command never shows. In a command's own process (not in a notebook or a library user's),
    those are left out; what the artists do is unchanged (``set`` reads its keywords, not its
    signature)."""
    if "matplotlib.artist" in sys.modules:
        return
    from matplotlib import artist

    def update(cls):
        cls.set._autogenerated_signature = True     # (what marks a set() made by the class hierarchy)
    artist.Artist._update_set_signature_and_docstring = classmethod(update)
    artist.kwdoc = lambda _artist: ""


def args_rest(s):
    s.add_argument("rest", nargs=argparse.REMAINDER)


#: name, help, add arguments, run
COMMANDS = [
    ("build", "fill the catalogue from every configured source", args_build, cmd_build),
    ("layers", "list the layers with status, counts and last write", args_layers, cmd_layers),
    ("import", "check a user file against a layer and replace the layer", args_import, cmd_import),
    ("export", "write a layer (or part of it) to GeoPackage, GeoJSON, Shapefile, FlatGeobuf or CSV",
     args_export, cmd_export),
    ("sql", "run one read-only spatial SQL query on the catalogue (:name parameters)", args_sql, cmd_sql),
    ("fetch", "download the official sources into the data directory", args_fetch, cmd_fetch),
    ("roles", "print the SQL that creates the PostGIS reader and writer roles", args_roles, cmd_roles),
    ("map", "render one map recipe to PDF/PNG/SVG", args_rest, passthrough("mbm_sig.maps", "cli_map")),
    ("atlas", "render an atlas (book PDF and sheets)", args_rest, passthrough("mbm_sig.atlas", "cli_atlas")),
    ("fiche", "«carte d'identité» sheet of one feature", args_rest, passthrough("mbm_sig.atlas", "cli_fiche")),
    ("web", "write the offline interactive heritage map", args_rest, passthrough("mbm_sig.web", "cli_web")),
    ("check", "check every page of an atlas (exit 0 only when clean)", args_rest,
     passthrough("mbm_sig.check", "cli_check")),
    ("pack", "write the pack (sheets, data, web map) of an EPCI or arrondissement", args_rest,
     passthrough("mbm_sig.pack", "cli_pack")),
    ("qgis", "write a QGIS project (styled layers, layouts, atlases)", args_rest,
     passthrough("mbm_sig.qgis.project", "cli_qgis")),
]
PASSTHROUGH = {name for name, _, add, _ in COMMANDS if add is args_rest}
#: global options taking a value, accepted anywhere before ``--``
GLOBAL_VALUE_OPTIONS = ("--db",)


def parser() -> argparse.ArgumentParser:
    from mbm_sig import __version__
    p = argparse.ArgumentParser(prog="mbm-sig", description=__doc__.splitlines()[0])
    p.add_argument("--db", default=None,
                   help="catalogue: GeoPackage path or postgresql:// URL (default $MBM_SIG_DB or var/catalogue.gpkg)")
    p.add_argument("--version", action="version", version=f"mbm-sig {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_, add, run in COMMANDS:
        s = sub.add_parser(name, help=help_, add_help=add is not args_rest)
        add(s)
        s.set_defaults(func=run)
    return p


def hoist_globals(argv: list[str]) -> list[str]:
    """``mbm-sig build --db X`` as ``mbm-sig --db X build``: global options found after the
    command (before a ``--``) are moved in front of it."""
    front, rest, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest.extend(argv[i:])
            break
        name = a.split("=", 1)[0]
        if name in GLOBAL_VALUE_OPTIONS:
            if "=" in a:
                front.append(a)
            elif i + 1 < len(argv):
                front.extend([a, argv[i + 1]])
                i += 1
            else:
                front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest


def main(argv: list[str] | None = None, command: bool = False) -> int:
    """Run ``mbm-sig ARGV``; returns the exit status. ``command``: this process is the command
    (:func:`console`), which ends with it."""
    import signal
    if hasattr(signal, "SIGPIPE"):          # `mbm-sig layers | head` ends quietly (POSIX only)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyogrio")
    argv = hoist_globals(list(sys.argv[1:] if argv is None else argv))
    p = parser()
    args, unknown = p.parse_known_args(argv)
    args.freeze_imports = command
    debug = bool(os.environ.get("MBM_SIG_DEBUG"))
    try:
        return _dispatch(p, args, unknown)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MbmSigError as exc:
        if debug:
            raise
        print(f"error: {_one_line(exc.message())}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:        # unexpected: one line, the traceback on request
        if debug:
            raise
        print(f"error: {type(exc).__name__}: {_one_line(str(exc))} (MBM_SIG_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else "unknown error"


def _dispatch(p, args, unknown) -> int:
    if unknown:
        if hasattr(args, "rest"):      # options of the pass-through commands (map, atlas, web…)
            args.rest = unknown + list(args.rest)
        else:
            p.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.db:
        os.environ["MBM_SIG_DB"] = args.db
    return args.func(args)


def console() -> None:
    """The ``mbm-sig`` command: :func:`main`, then :func:`finish`. :func:`main` itself
    returns normally, for callers in Python."""
    finish(main(command=True))


def finish(rc: int) -> None:
    """End the process with status ``rc``: output flushed, exit handlers run, and no tearing
    down of its modules and caches one object at a time (a second or more after an atlas,
    for nothing: the process is gone right after)."""
    import atexit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):      # a closed pipe: nothing more to say
            pass
    atexit._run_exitfuncs()
    os._exit(rc)


if __name__ == "__main__":
    console()
