"""Reading user files for import and writing exports.

Formats: GeoPackage, Shapefile (.cpg honoured; legacy cp1252/latin-1 detected when there
is no .cpg), MapInfo TAB, GeoJSON, FlatGeobuf, and CSV with a WKT column or x/y columns.
"""

from __future__ import annotations

import csv
import gc
import io
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from mbm_sig.catalogue.layerdef import LayerDef
from mbm_sig.catalogue.validate import Problem
from mbm_sig.config import TARGET_CRS
from mbm_sig.errors import Failure, InvalidInput

VECTOR_SUFFIXES = {".gpkg", ".shp", ".tab", ".mif", ".geojson", ".json", ".fgb", ".zip"}
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")
XY_COLUMNS = (("x", "y"), ("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"))


class InputError(InvalidInput):
    """The file cannot be read as a layer (format, encoding, geometry columns)."""


def _dbf_encoding(shp: Path) -> str | None:
    """Encoding for a shapefile with no .cpg: UTF-8 if its DBF decodes as UTF-8, else cp1252."""
    cpg = [p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".cpg"]
    if cpg:
        return None   # GDAL honours the .cpg
    dbf = [p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".dbf"]
    if not dbf:
        return None
    raw = dbf[0].read_bytes()
    if len(raw) > 32 and raw[29] in (0x57, 0x03):   # ANSI / Windows-1252 language drivers
        return "cp1252"
    return None if _dbase_records_are_utf8(raw) else "cp1252"


def _dbase_records_are_utf8(raw: bytes) -> bool:
    """Whether the records of a dBase file (after its binary header) decode as UTF-8."""
    header = int.from_bytes(raw[8:10], "little") if len(raw) >= 10 else 0
    try:
        raw[header:].decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _read_options(path: Path, crs: str | None, encoding: str | None, layer: str | None):
    """The checks every read starts with (file, --crs, --encoding, size and feature limits):
    ``(path, crs, encoding)`` normalised, or a one-line :class:`InputError`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if crs is not None:
        from pyproj import CRS
        from pyproj.exceptions import CRSError
        try:
            crs = CRS.from_user_input(crs).to_string()
        except CRSError:
            raise InputError(f"--crs {crs!r}: not a known coordinate reference system "
                             "(e.g. EPSG:4326, EPSG:2154)") from None
    if encoding is not None:
        import codecs
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"--encoding {encoding!r}: unknown text encoding (e.g. utf-8, cp1252)") from None
    check_bounds(path, layer=layer)
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES and suffix not in CSV_SUFFIXES:
        raise InputError(f"{path}: unsupported format {suffix!r} (GeoPackage, Shapefile, MapInfo TAB, "
                         "GeoJSON, FlatGeobuf or CSV)")
    if suffix == ".shp" and encoding is None:
        encoding = _dbf_encoding(path)
    return path, crs, encoding


CSV_SUFFIXES = (".csv", ".txt", ".tsv")

# every import is read, checked and written STREAM_BATCH features at a time: memory is
# bounded by the batch, not by the file (a CSV is parsed at once by pandas: one batch)
STREAM_BATCH = 25_000


@contextmanager
def streaming():
    """Settings of a streamed import, restored after: GDAL reads a GeoPackage's Arrow stream
    on the calling thread (no batches prefetched by worker threads) and builds a new layer's
    R-tree from the table at the end (not in memory while writing); Arrow buffers come from
    the system allocator, which returns them, instead of a pool that keeps the peak."""
    import pyarrow as pa
    options = {"OGR_GPKG_NUM_THREADS": "1", "OGR_GPKG_ALLOW_THREADED_RTREE": "NO"}
    before = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pool = pa.default_memory_pool()
    pyogrio.set_gdal_config_options(options)
    pa.set_memory_pool(pa.system_memory_pool())
    # the objects alive before the import (the modules loaded) are left out of the cyclic
    # collector's passes: each batch makes tens of thousands of objects, and the passes
    # they set off walked every object of pandas, geopandas and pyproj (a quarter of the
    # client's time of a 1 M point import); batches die young and are still collected
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        pa.set_memory_pool(pool)
        pyogrio.set_gdal_config_options(before)


def read_user_file(path: Path, ld: LayerDef, layer: str | None = None, crs: str | None = None,
                   encoding: str | None = None, x: str | None = None, y: str | None = None,
                   wkt: str | None = None) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read ``path`` at once into a frame with the file's columns (not yet checked): the
    batches of :func:`stream_user_file` put together (a notebook's look at a file)."""
    frames = [f for _, f in stream_user_file(path, ld, layer=layer, crs=crs, encoding=encoding, x=x, y=y,
                                             wkt=wkt)]
    if len(frames) == 1:
        return frames[0]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, crs=frames[0].crs) if isinstance(frames[0], gpd.GeoDataFrame) else out


def stream_user_file(path: Path, ld: LayerDef, layer: str | None = None, crs: str | None = None,
                     encoding: str | None = None, x: str | None = None, y: str | None = None,
                     wkt: str | None = None, batch: int | None = None):
    """The file as batches ``(offset, frame)``: ``frame`` holds the file's columns (not yet
    checked) of rows ``offset + 1 …``, ``batch`` (default ``STREAM_BATCH``) features at a
    time, read in one pass through GDAL's Arrow stream (GeoPackage, Shapefile, MapInfo,
    GeoJSON, FlatGeobuf, ZIP), or the whole CSV as one batch. The file, the options and the
    size limits are checked at once (a one-line :class:`InputError`), the rows as the
    batches are asked for."""
    path, crs, encoding = _read_options(path, crs, encoding, layer)
    if path.suffix.lower() in CSV_SUFFIXES:
        return iter([(0, _read_csv(path, ld, crs=crs, encoding=encoding, x=x, y=y, wkt=wkt))])
    if layer is None and path.suffix.lower() == ".gpkg":
        layer = _gpkg_layer(path, ld)
    return _arrow_batches(path, ld, layer, crs, encoding, batch or STREAM_BATCH)


def _arrow_batches(path: Path, ld: LayerDef, layer, crs, encoding, batch: int):
    """Batches of a vector file, each converted as ``pyogrio.read_dataframe(use_arrow=True)``
    converts a whole file (dates and times as ISO text)."""
    import pyarrow as pa
    import shapely
    from pyogrio.raw import open_arrow
    kwargs = {"encoding": encoding} if encoding else {}
    shp = path.suffix.lower() == ".shp"
    offset = 0
    try:
        with open_arrow(path, layer=layer, batch_size=batch, use_pyarrow=True, datetime_as_string=True,
                        **kwargs) as (meta, reader):
            gcol = meta.get("geometry_name") or "wkb_geometry"
            file_crs = crs or meta.get("crs")
            for rb in reader:
                table = pa.Table.from_batches([rb])
                del rb
                geom = table.column(gcol).to_numpy(zero_copy_only=False) if gcol in table.column_names else None
                df = (table.drop_columns([gcol]) if geom is not None else table).to_pandas(self_destruct=True)
                del table
                gdf = df if geom is None else gpd.GeoDataFrame(df, geometry=shapely.from_wkb(geom), crs=file_crs)
                del geom
                _check_geographic(path, gdf)
                if shp:
                    gdf = restore_field_names(gdf, ld.field_names)
                n = len(gdf)
                box = [gdf]
                del gdf, df                   # the consumer holds the only reference
                yield offset, box.pop()
                offset += n
    except InvalidInput:
        raise
    except Exception as exc:  # GDAL errors carry their own message
        raise InputError(f"{path}: cannot read ({_first_line(exc)})") from exc


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _gpkg_layer(path: Path, ld: LayerDef) -> str:
    """The layer of a GeoPackage to import: the one named like the catalogue layer, else the
    only one."""
    try:
        layers = [n for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    if ld.name in layers:
        return ld.name
    if len(layers) == 1:
        return layers[0]
    raise InputError(f"{path}: several layers ({', '.join(layers)}); choose one with --layer")


def _companions(path: Path) -> list[Path]:
    if path.suffix.lower() in (".shp", ".tab", ".mif"):
        return sorted(p for p in path.parent.glob(path.stem + ".*") if p.is_file())
    return [path]


def check_bounds(path: Path, layer: str | None = None) -> None:
    """Refuse, before reading anything big, a file larger than ``MBM_SIG_MAX_IMPORT_MB``,
    a sparse file (far fewer bytes on disk than its size says), a shapefile whose headers
    declare more records than its files hold, a ZIP that inflates past the limit, or more
    features than ``MBM_SIG_MAX_IMPORT_FEATURES``. Headers only: seconds, bounded memory."""
    from mbm_sig.config import settings
    cfg = settings()
    limit = cfg.max_import_mb * 1e6
    most = cfg.max_import_features
    files = _companions(path)
    total = 0
    for f in files:
        st = f.stat()
        total += st.st_size
        blocks = getattr(st, "st_blocks", None)
        if blocks is not None and st.st_size > (8 << 20) and blocks * 512 < st.st_size / 64:
            raise InputError(f"{f}: sparse file ({_mb(st.st_size)} MB long, "
                             f"{_mb(blocks * 512)} MB on disk): not a real data file; refused")
    if total > limit:
        raise InputError(f"{path}: {_mb(total)} MB is more than the import limit of "
                         f"{cfg.max_import_mb:g} MB (MBM_SIG_MAX_IMPORT_MB)")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        import zipfile
        try:
            with zipfile.ZipFile(path) as z:
                inflated = sum(i.file_size for i in z.infolist())
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"{path}: not a readable ZIP ({exc})") from None
        if inflated > limit:
            raise InputError(f"{path}: the ZIP inflates to {_mb(inflated)} MB, more than the import "
                             f"limit of {cfg.max_import_mb:g} MB (MBM_SIG_MAX_IMPORT_MB)")
    declared = None
    if suffix == ".shp":
        declared = _shapefile_records(path)
    elif suffix in (".csv", ".txt", ".tsv"):
        with open(path, "rb") as fh:
            declared = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 22), b"")) - 1
    elif suffix in (".gpkg", ".fgb", ".tab"):
        try:
            info = pyogrio.read_info(path, layer=layer) if layer or suffix != ".gpkg" else None
        except Exception:
            info = None       # the reader says what is wrong with the file
        if info is not None and info.get("features", -1) >= 0:
            declared = int(info["features"])
        elif suffix == ".gpkg":
            try:
                declared = sum(int(pyogrio.read_info(path, layer=n)["features"])
                               for n, _ in pyogrio.list_layers(path))
            except Exception:
                declared = None
    if declared is not None and declared > most:
        raise InputError(f"{path}: {_n(declared)} features declared, more than the import limit of "
                         f"{_n(most)} (MBM_SIG_MAX_IMPORT_FEATURES)")


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _mb(nbytes: float) -> str:
    mb = nbytes / 1e6
    return f"{mb:.2g}" if mb < 10 else _n(round(mb))


def _shapefile_records(shp: Path) -> int | None:
    """Records a shapefile declares, checked against what its files can hold: the .shx
    index (8 bytes a record) and the .dbf header (record count × record length)."""
    side = {p.suffix.lower(): p for p in shp.parent.glob(shp.stem + ".*")}
    counts = []
    if ".shx" in side:
        size = side[".shx"].stat().st_size
        if size < 100 or (size - 100) % 8:
            raise InputError(f"{side['.shx']}: not a shapefile index ({size} bytes)")
        counts.append((size - 100) // 8)
    if ".dbf" in side:
        with open(side[".dbf"], "rb") as fh:
            head = fh.read(32)
        if len(head) < 32:
            raise InputError(f"{side['.dbf']}: truncated dBase header")
        n = int.from_bytes(head[4:8], "little")
        header_len = int.from_bytes(head[8:10], "little")
        record_len = int.from_bytes(head[10:12], "little")
        size = side[".dbf"].stat().st_size
        if header_len + n * record_len > size:
            raise InputError(f"{side['.dbf']}: declares {_n(n)} records of {record_len} bytes but holds "
                             f"{_n(size)} bytes: truncated or forged; refused")
        counts.append(n)
    if len(counts) == 2 and counts[0] != counts[1]:
        raise InputError(f"{shp}: the .shx indexes {counts[0]} records and the .dbf declares {counts[1]}")
    return max(counts) if counts else None


def _check_geographic(path: Path, gdf) -> None:
    """Projected coordinates declared as longitude/latitude (a GeoJSON written in Lambert-93
    without a CRS) would reproject to infinity: say what is wrong instead."""
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None or not gdf.crs.is_geographic or not len(gdf):
        return
    b = gdf.total_bounds
    if np.isfinite(b).all() and (abs(b[0]) > 180 or abs(b[2]) > 180 or abs(b[1]) > 90 or abs(b[3]) > 90):
        raise InputError(f"{path}: coordinates ({b[0]:.0f}, {b[1]:.0f}) are not longitude/latitude although "
                         f"the file declares {gdf.crs.to_string()}; they look projected (Lambert-93?): "
                         "give the CRS with --crs EPSG:2154")


def _read_csv(path: Path, ld: LayerDef, crs=None, encoding=None, x=None, y=None, wkt=None):  # noqa: C901 - encoding, dialect and coordinate sniffing in order; speed engineer edits this file
    raw = path.read_bytes()
    if encoding is None:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
    else:
        text = raw.decode(encoding)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from exc
    lower = {c.lower(): c for c in df.columns}
    if not ld.has_geometry:
        return df
    wcol = wkt or next((lower[c] for c in WKT_COLUMNS if c in lower), None)
    if wcol:
        import shapely
        problems, geoms = [], []
        for i, v in enumerate(df[wcol]):
            g = None
            if isinstance(v, str) and v.strip():
                try:
                    g = shapely.from_wkt(v)
                except Exception:
                    problems.append(Problem(i + 1, wcol, v[:60], "unreadable WKT"))
            geoms.append(g)
        geom = gpd.GeoSeries(geoms)
        df = df.drop(columns=[wcol])
        gdf = gpd.GeoDataFrame(df, geometry=geom.values, crs=crs or TARGET_CRS)
        gdf.attrs["read_problems"] = problems
        return gdf
    pair = (x, y) if x and y else next(((lower[a], lower[b]) for a, b in XY_COLUMNS
                                        if a in lower and b in lower), None)
    if pair is None:
        raise InputError(f"{path}: no geometry column: give a WKT column ({', '.join(WKT_COLUMNS)}) "
                         "or x/y (lon/lat) columns")
    xs = pd.to_numeric(df[pair[0]].str.replace(",", "."), errors="coerce")
    ys = pd.to_numeric(df[pair[1]].str.replace(",", "."), errors="coerce")
    problems = []
    for i in np.flatnonzero((xs.isna() | ys.isna()).to_numpy()):
        for col, vals in ((pair[0], xs), (pair[1], ys)):
            if pd.isna(vals.iloc[i]):
                raw = df[col].iloc[i]
                problems.append(Problem(int(i) + 1, col, None if pd.isna(raw) else raw,
                                        "coordinate is missing" if pd.isna(raw) else "coordinate is not a number"))
    ok = (xs.notna() & ys.notna()).to_numpy()
    if crs is None:
        # lon/lat columns, or small x/y values, mean WGS84; otherwise Lambert-93
        lonlat = pair[0].lower() in ("lon", "longitude", "lng") or (
            xs[ok].abs().max() <= 180 and ys[ok].abs().max() <= 90)
        crs = "EPSG:4326" if lonlat else TARGET_CRS
    pts = gpd.points_from_xy(xs.fillna(0), ys.fillna(0))
    geom = [p if k else None for p, k in zip(pts, ok, strict=True)]
    gdf = gpd.GeoDataFrame(df.drop(columns=list(pair)), geometry=geom, crs=crs)
    _check_geographic(path, gdf)
    gdf.attrs["read_problems"] = problems
    return gdf


EXPORT_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile",
                  ".fgb": "FlatGeobuf"}


# the French spreadsheet CSV dialect (to be saved with a UTF-8 BOM): one definition for every
# French CSV written (``frame_to_csv``, the partner packs' tables)
FR_CSV = {"sep": ";", "decimal": ",", "lineterminator": "\r\n"}
FR_BOOL = {True: "oui", False: "non"}


def frame_to_csv(frame, dialect: str = "fr", int_fields=()) -> str:
    """A frame as CSV text; geometry as a ``wkt`` column (EPSG:2154).

    ``fr`` (French spreadsheets): ``;`` separator, decimal comma, integers without «.0»
    (integer fields with gaps, and float columns holding only whole numbers, written as
    integers), to be saved with a UTF-8 BOM. ``standard``: ``,`` and ``.``."""
    if dialect not in ("fr", "standard"):
        raise InvalidInput(f"CSV dialect {dialect!r}: expected fr or standard")
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        df = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        df["wkt"] = frame.geometry.to_wkt()
    else:
        df = pd.DataFrame(frame)
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_float_dtype(col.dtype):
            vals = col.dropna()
            whole = c in int_fields or (len(vals) and bool(np.isfinite(vals).all()
                                                          and (vals == np.round(vals)).all()
                                                          and (vals.abs() < 2 ** 53).all()))
            if whole:
                df[c] = col.round().astype("Int64")
        elif pd.api.types.is_bool_dtype(col.dtype):
            df[c] = col.map(FR_BOOL) if dialect == "fr" else col
    if dialect == "fr":
        return df.to_csv(index=False, **FR_CSV)
    return df.to_csv(index=False, lineterminator="\n")


def _gdal_failure(exc, out: Path) -> Failure:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "space" in msg.lower():
        msg = "no space left on the device"
    return Failure(f"cannot write {out}: {msg} (the previous file, if any, is unchanged)")


def write_user_file(frame, out: Path, layer: str, csv_dialect: str = "fr", int_fields=()) -> Path:
    """Export a layer: GeoPackage, GeoJSON (EPSG:4326, as RFC 7946 requires), Shapefile
    (UTF-8 with .cpg), FlatGeobuf, or CSV with a WKT column (EPSG:2154, ``csv_dialect``).

    The file appears complete under its name or not at all (:func:`mbm_sig.atomic.atomic_path`;
    a shapefile's sidecars are renamed with it, the ``.shp`` last); on an error, a full
    disk included, the old file is intact and no temporary file remains."""
    from mbm_sig.atomic import atomic_path, atomic_write_text
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix != ".csv" and suffix not in EXPORT_DRIVERS:
        raise InputError(f"{out}: unsupported export format {suffix!r} "
                         f"({', '.join(sorted(EXPORT_DRIVERS))}, .csv)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from mbm_sig.atomic import describe_os_error
        raise Failure(describe_os_error(exc, out)) from None
    if suffix == ".csv":
        text = frame_to_csv(frame, csv_dialect, int_fields)
        return atomic_write_text(out, text, encoding="utf-8-sig" if csv_dialect == "fr" else "utf-8")
    if suffix in (".geojson", ".json") and isinstance(frame, gpd.GeoDataFrame):
        frame = frame.to_crs("EPSG:4326")
    if suffix == ".shp":
        from mbm_sig.catalogue.layerdef import load_layers
        ld = load_layers().get(layer)
        _write_shapefile(frame, out, ld.field_names if ld else [])
        return out
    with atomic_path(out) as tmp:
        try:
            pyogrio.write_dataframe(frame, tmp, layer=layer, driver=EXPORT_DRIVERS[suffix])
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.FieldError, pyogrio.errors.GeometryError) as exc:
            raise _gdal_failure(exc, out) from None
        finally:
            for extra in ("-journal", "-wal", "-shm"):
                Path(str(tmp) + extra).unlink(missing_ok=True)
    return out


SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def dbf_names(names) -> dict[str, str]:
    """A unique DBF name (10 characters at most) for each field name, deterministic in the
    order given: the name itself if short, its first 10 characters if free, else the first
    characters and a number (``arrondisse``, ``arrondis_1``)."""
    out, used = {}, set()
    for n in names:
        short = n if len(n) <= 10 else n[:10]
        k = 1
        while short.lower() in used:
            suffix = f"_{k}"
            short = n[:10 - len(suffix)] + suffix
            k += 1
        used.add(short.lower())
        out[n] = short
    return out


def _write_shapefile(frame, out: Path, field_names) -> None:
    """A shapefile (UTF-8, .cpg) written beside under a temporary name, then renamed sidecar
    by sidecar, the ``.shp`` last; sidecars of an older shapefile of the same name that the
    new one lacks (a ``.qix``) are removed after. Field names longer than the DBF's 10
    characters get the names of :func:`dbf_names` (in the layer definition's order), which
    import maps back."""
    from mbm_sig.atomic import atomic_path
    geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    cols = [c for c in frame.columns if c != geom]
    order = [f for f in field_names if f in cols] + [c for c in cols if c not in field_names]
    cut = {k: v for k, v in dbf_names(order).items() if k != v}
    written = []
    with atomic_path(out, sidecars=SHP_SIDECARS[1:]) as tmp:
        try:
            pyogrio.write_dataframe(frame.rename(columns=cut), tmp, driver="ESRI Shapefile", encoding="UTF-8")
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.FieldError, pyogrio.errors.GeometryError) as exc:
            raise _gdal_failure(exc, out) from None
        written = [ext for ext in SHP_SIDECARS if tmp.with_suffix(ext).exists()]
    for ext in SHP_SIDECARS:
        if ext in written:
            continue
        for stale in (out.with_suffix(ext), out.with_suffix(ext.upper())):
            if stale.exists():
                stale.unlink()          # a sidecar of an older shapefile of the same name


def restore_field_names(frame, field_names) -> pd.DataFrame:
    """Columns named by :func:`dbf_names` (a shapefile export) renamed back to the layer's
    field names."""
    back = {short: full for full, short in dbf_names(field_names).items()
            if short != full and short in frame.columns and full not in frame.columns}
    return frame.rename(columns=back) if back else frame
