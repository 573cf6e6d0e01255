"""Checking a GeoDataFrame against its layer definition, and conforming it to the schema.

``validate`` returns every problem (row, field, value, reason) instead of stopping at the
first; ``conform`` returns the frame with the layer's columns, types and geometry type.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mbm_sig.catalogue.layerdef import LayerDef
from mbm_sig.config import NPDC_EXTENT, TARGET_CRS
from mbm_sig.errors import InvalidInput

MAX_REPORTED = 50
TRUE = {"true", "t", "1", "oui", "o", "yes", "y", "vrai"}
FALSE = {"false", "f", "0", "non", "n", "no", "faux"}
COMPATIBLE_GEOMS = {
    "Point": {"Point"},
    "MultiPoint": {"Point", "MultiPoint"},
    "LineString": {"LineString"},
    "MultiLineString": {"LineString", "MultiLineString"},
    "Polygon": {"Polygon"},
    "MultiPolygon": {"Polygon", "MultiPolygon"},
}


@dataclass(frozen=True)
class Problem:
    row: int | None      # 1-based record number in the input (None: the whole file)
    field: str | None
    value: object
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        fld = f", field {self.field}" if self.field else ""
        value = self.value.item() if hasattr(self.value, "item") else self.value   # numpy scalars
        val = "" if value is None else f", value {value!r}"
        return f"{where}{fld}{val}: {self.reason}"


class ValidationError(InvalidInput):
    """The input does not satisfy the layer definition; nothing was written."""

    def __init__(self, source: str, layer: str, problems: list[Problem]):
        self.source, self.layer, self.problems = source, layer, problems
        super().__init__(self.report())

    def report(self) -> str:
        n = len(self.problems)
        lines = [f"{self.source}: {n} problem{'s' if n > 1 else ''} for layer {self.layer}; "
                 "the catalogue was not changed"]
        lines += [f"  {p}" for p in self.problems[:MAX_REPORTED]]
        if n > MAX_REPORTED:
            lines.append(f"  ... and {n - MAX_REPORTED} more problems")
        return "\n".join(lines)


REASONS = {"int": "expected an integer (at most 2^53 in absolute value)", "float": "expected a number",
           "bool": "expected a boolean (oui/non, true/false, 1/0)", "date": "expected a date YYYY-MM-DD"}


def _nulls(s: pd.Series) -> np.ndarray:
    """Missing or blank values, vectorised (text columns from Arrow are pandas strings)."""
    null = s.isna().to_numpy().copy()
    if isinstance(s.dtype, pd.StringDtype):
        null |= s.str.strip().eq("").to_numpy(dtype=bool, na_value=False)
    elif s.dtype == object:
        kind = pd.api.types.infer_dtype(s, skipna=True)
        if kind == "string":                    # text only: no per-value test
            null |= s.str.strip().eq("").to_numpy(dtype=bool, na_value=False)
        elif kind not in ("empty", "integer", "floating", "boolean", "mixed-integer-float"):
            txt = s.astype(object)
            isstr = txt.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
            if isstr.any():
                blank = np.zeros(len(s), dtype=bool)
                blank[isstr] = s[isstr].astype(str).str.strip().eq("").to_numpy()
                null |= blank
    return null


def _numeric_text(s: pd.Series) -> pd.Series:
    """Numbers written as text, French style accepted (``1 234,5``)."""
    txt = s.astype(str).str.strip().str.replace("\u202f", "", regex=False).str.replace("\u00a0", "", regex=False)
    txt = txt.str.replace(" ", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(txt, errors="coerce")


def _coerce_text(s: pd.Series, null: np.ndarray) -> pd.Series:
    """Text values stripped, empty ones missing; text read through Arrow stays Arrow text."""
    if isinstance(s.dtype, pd.StringDtype):
        return s.str.strip().where(~null)
    out = np.full(len(s), None, dtype=object)
    keep = ~null
    if keep.any():
        vals = s[keep]
        if pd.api.types.is_float_dtype(vals):
            # 62498.0 (a code read as a number) -> "62498"; other numbers as written
            out[keep] = [str(int(v)) if v % 1 == 0 and abs(v) < 2.0 ** 53 else repr(float(v))
                         for v in vals.to_numpy(dtype=float)]
        else:
            out[keep] = vals.astype(str).str.strip().to_numpy(dtype=object)
    return pd.Series(out, dtype=object)


def coerce_column(s: pd.Series, ftype: str, null: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """(typed column, mask of values that do not convert), vectorised.

    The column is typed with pandas nullable dtypes: Int64, float64, boolean, object.
    """
    n = len(s)
    s = s.reset_index(drop=True)
    bad = np.zeros(n, dtype=bool)
    if ftype == "str":
        return _coerce_text(s, null), bad
    if ftype in ("int", "float"):
        if pd.api.types.is_bool_dtype(s):
            num = pd.Series(np.full(n, np.nan))
            bad = ~null
        elif pd.api.types.is_numeric_dtype(s):
            num = s.astype("float64")
        else:
            num = _numeric_text(s.where(~null, None).fillna("nan")) if (~null).any() \
                else pd.Series(np.full(n, np.nan))
            if s.dtype == object:   # Python bools in an object column are not numbers
                isbool = s.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
                bad |= isbool
        arr = num.to_numpy(dtype="float64", na_value=np.nan)
        bad |= ~null & ~np.isfinite(arr)
        if ftype == "int":
            with np.errstate(invalid="ignore"):
                bad |= ~null & np.isfinite(arr) & (np.mod(arr, 1) != 0)
                bad |= ~null & (np.abs(arr) >= 2.0 ** 53)     # beyond exact integers (and int64)
            ok = ~null & ~bad
            out = pd.array(np.where(ok, arr, 0).astype("int64"), dtype="Int64")
            out[~ok] = pd.NA
            return pd.Series(out), bad
        arr = np.where(~null & ~bad, arr, np.nan)
        return pd.Series(arr, dtype="float64"), bad
    if ftype == "bool":
        if pd.api.types.is_bool_dtype(s):
            out = pd.array(s.to_numpy(), dtype="boolean")
            out[null] = pd.NA
            return pd.Series(out), bad
        if pd.api.types.is_numeric_dtype(s):
            arr = s.to_numpy(dtype="float64", na_value=np.nan)
            bad |= ~null & ~np.isin(arr, (0.0, 1.0))
            vals = np.where(~null & ~bad, arr == 1.0, False)
        else:
            low = s.map(lambda v: str(v).strip().lower() if not isinstance(v, (bool, np.bool_))
                        else ("true" if v else "false"))
            t = low.isin(TRUE).to_numpy()
            f = low.isin(FALSE).to_numpy()
            bad |= ~null & ~t & ~f
            vals = t
        out = pd.array(vals, dtype="boolean")
        out[null | bad] = pd.NA
        return pd.Series(out), bad
    if ftype == "date":
        if pd.api.types.is_datetime64_any_dtype(s):
            d = s
        else:
            txt = s.where(~null, None).astype(object).map(lambda v: None if v is None else str(v).strip())
            # the whole value must be a date (a time of day at midnight is tolerated)
            txt = txt.map(lambda v: v[:10] if isinstance(v, str) and (len(v) == 10 or v[10:] in (
                "T00:00:00", " 00:00:00", "T00:00:00Z")) else ("invalid" if isinstance(v, str) else v))
            d = pd.to_datetime(txt, format="%Y-%m-%d", errors="coerce")
        bad |= ~null & d.isna().to_numpy()
        out = pd.Series([None] * n, dtype=object)
        ok = ~null & ~bad
        out[ok] = d[ok].dt.strftime("%Y-%m-%d").to_numpy()
        return out, bad
    raise ValueError(f"unknown type {ftype}")


def check(gdf: gpd.GeoDataFrame | pd.DataFrame, ld: LayerDef, check_extent: bool = True, keys: bool = True):
    """(problems, conformed frame or None): every problem of ``gdf`` against the layer
    definition, and when there is none the frame with exactly the layer's typed fields and
    a ``geom`` column in EPSG:2154. ``keys=False``: repeated keys left to the caller (a
    stream checks them across its batches)."""
    problems: list[Problem] = []
    cols = set(gdf.columns)
    n = len(gdf)
    if n == 0:
        # an empty file would silently wipe the layer: never a valid replacement
        return [Problem(None, None, None, "the file holds no rows")], None
    data = {}
    for f in ld.fields:
        if f.name not in cols:
            if f.required:
                problems.append(Problem(None, f.name, None, "required field is missing from the file"))
            data[f.name] = _typed_empty(f.type, n)
            continue
        data[f.name] = _check_field(f, gdf[f.name].reset_index(drop=True), problems)
    if keys and ld.key and ld.key in cols:
        kv = data[ld.key]
        dup = kv.duplicated(keep="first").to_numpy() & kv.notna().to_numpy()
        for i in np.flatnonzero(dup):
            problems.append(Problem(int(i) + 1, ld.key, kv.iloc[i], "duplicate key"))
    geoms = None
    if ld.has_geometry:
        gproblems, geoms = _validate_geometry(gdf, ld, check_extent)
        problems += gproblems
    problems.sort(key=lambda p: (p.row or 0))
    if problems:
        return problems, None
    frame = pd.DataFrame(data)
    if not ld.has_geometry:
        return [], frame
    if ld.geometry.startswith("Multi"):
        geoms = _to_multi(geoms, ld.geometry)
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=TARGET_CRS).values, crs=TARGET_CRS)
    return [], out.rename_geometry("geom")


def _check_field(f, raw: pd.Series, problems: list[Problem]) -> pd.Series:
    """Column ``raw`` typed as field ``f``; its empty required values, values of the wrong
    type and values outside the domain appended to ``problems`` (rows numbered from 1)."""
    null = _nulls(raw)
    if f.required:
        for i in np.flatnonzero(null):
            problems.append(Problem(int(i) + 1, f.name, None, "required value is empty"))
    typed, bad = coerce_column(raw, f.type, null)
    for i in np.flatnonzero(bad):
        problems.append(Problem(int(i) + 1, f.name, raw.iloc[i], REASONS[f.type]))
    if f.domain is not None:
        ok = ~null & ~bad
        out = ok & ~typed.isin(list(f.domain)).to_numpy(dtype=bool)
        allowed = ", ".join(map(str, f.domain))
        for i in np.flatnonzero(out):
            problems.append(Problem(int(i) + 1, f.name, raw.iloc[i],
                                    f"not an allowed value (allowed: {allowed})"))
    return typed


def _typed_empty(ftype: str, n: int):
    if ftype == "int":      # every value masked (not a Python list of n NAs to convert)
        return pd.Series(pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)))
    if ftype == "float":
        return pd.Series(np.full(n, np.nan))
    if ftype == "bool":
        return pd.Series(pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool)))
    return pd.Series([None] * n, dtype=object)


def validate(gdf, ld: LayerDef, check_extent: bool = True) -> list[Problem]:
    return check(gdf, ld, check_extent)[0]


@functools.lru_cache(maxsize=8)
def _to_target(crs):
    """The PROJ transformation ``to_crs`` uses from ``crs`` to EPSG:2154 (made once per CRS,
    not once per batch)."""
    from pyproj import Transformer
    return Transformer.from_crs(crs, TARGET_CRS, always_xy=True)


def _in_target_crs(gs: gpd.GeoSeries) -> np.ndarray:
    """The geometries of ``gs`` in EPSG:2154, as ``to_crs`` gives them. 2D points (the big
    imports) are made anew from their reprojected coordinates, the same PROJ transformation
    as ``to_crs`` (``always_xy``), without its copy of every geometry before setting its
    coordinates (the same points, to the bit: tested)."""
    arr = np.asarray(gs.values, dtype=object)
    if gs.crs == TARGET_CRS:
        return arr
    if (len(arr) and (shapely.get_type_id(arr) == 0).all() and not shapely.is_empty(arr).any()
            and not shapely.has_z(arr).any()):
        xy = shapely.get_coordinates(arr)
        x, y = _to_target(gs.crs).transform(xy[:, 0], xy[:, 1])
        return shapely.points(np.column_stack([x, y]))
    return np.asarray(gs.to_crs(TARGET_CRS).values, dtype=object)


def _validate_geometry(gdf, ld: LayerDef, check_extent: bool):
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
        return [Problem(None, "geometry", None, f"no geometry; layer {ld.name} needs {ld.geometry}")], None
    if gdf.crs is None:
        return [Problem(None, "geometry", None, "no coordinate reference system (missing .prj or CRS)")], None
    geoms = _in_target_crs(gdf.geometry)
    out = []
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                      "MultiLineString", "MultiPolygon", "GeometryCollection"])
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    allowed = COMPATIBLE_GEOMS.get(ld.geometry)
    wrong = np.zeros(len(geoms), dtype=bool)
    if allowed is not None:
        ok_ids = [i for i, nm in enumerate(names) if nm in allowed]
        wrong = ~missing & ~empty & ~np.isin(types, ok_ids)
    invalid = ~missing & ~empty & ~wrong & ~shapely.is_valid(geoms)
    outside = np.zeros(len(geoms), dtype=bool)
    if check_extent:
        xmin, ymin, xmax, ymax = NPDC_EXTENT
        b = shapely.bounds(geoms)
        with np.errstate(invalid="ignore"):
            outside = ~missing & ~empty & ~wrong & ~invalid & (
                (b[:, 0] < xmin) | (b[:, 2] > xmax) | (b[:, 1] < ymin) | (b[:, 3] > ymax))
    for i in np.flatnonzero(missing | empty | wrong | invalid | outside):
        if missing[i]:
            out.append(Problem(int(i) + 1, "geometry", None, "geometry is missing"))
        elif empty[i]:
            out.append(Problem(int(i) + 1, "geometry", None, "geometry is empty"))
        elif wrong[i]:
            out.append(Problem(int(i) + 1, "geometry", str(names[types[i]]),
                               f"wrong geometry type, expected {ld.geometry}"))
        elif invalid[i]:
            out.append(Problem(int(i) + 1, "geometry", None,
                               "invalid geometry: " + shapely.is_valid_reason(geoms[i])))
        else:
            b = geoms[i].bounds
            out.append(Problem(int(i) + 1, "geometry", f"{b[0]:.0f}, {b[1]:.0f}",
                               "outside the plausible extent of Nord-Pas-de-Calais "
                               "(wrong CRS or coordinates swapped?)"))
    return out, geoms


def _to_multi(geoms, target: str):
    single = {"MultiPolygon": 3, "MultiLineString": 1, "MultiPoint": 0}[target]
    ids = shapely.get_type_id(geoms)
    out = np.array(geoms, dtype=object)
    mask = ids == single
    if mask.any():
        ctor = {"MultiPolygon": shapely.multipolygons, "MultiLineString": shapely.multilinestrings,
                "MultiPoint": shapely.multipoints}[target]
        out[mask] = [ctor([g]) for g in out[mask]]
    return out


def merge_read_problems(frame, problems: list[Problem]) -> list[Problem]:
    """Problems found while reading (bad coordinates, unreadable WKT: ``frame.attrs``) in
    place of the «geometry is missing» they leave behind."""
    read = list(getattr(frame, "attrs", {}).get("read_problems") or [])
    if not read:
        return problems
    rows = {p.row for p in read}
    return sorted(read + [p for p in problems if not (p.row in rows and p.field == "geometry")],
                  key=lambda p: p.row or 0)


def plain_columns(df):
    """``df`` with its column names as a plain object index (in place; returns ``df``), as
    every backend's read gives them (``Catalogue.read``, the GeoPackage's cached layers): not
    pandas' Arrow-backed strings, which geopandas compares with "geometry" each time it makes
    a frame (a slice, a copy, a new column), an Arrow cast that doubled the cost of a map
    sheet's reads."""
    if df.columns.dtype != object:
        df.columns = pd.Index(list(df.columns), dtype=object)
    return df


def nullable_int_fields(df, names):
    """The fields ``names`` of ``df`` as pandas' nullable ``Int64`` (in place; returns ``df``);
    a field holding a non-integer value (an unvalidated write) is left as it is."""
    for name in names:
        if name in df.columns and str(df[name].dtype) != "Int64":
            try:
                df[name] = pd.to_numeric(df[name], errors="raise").astype("Int64")
            except (TypeError, ValueError):
                pass
    return df


def conformed(out, ld: LayerDef):
    """A checked frame marked with the geometry type its layer is written with."""
    if ld.has_geometry:
        out.attrs["geometry_type"] = None if ld.geometry == "Geometry" else ld.geometry
    return out


class FrameStream:
    """The checked, conformed frames of one layer, in file order (an import read in batches):
    iterating checks the next batch and yields it; ``rows`` counts the rows yielded,
    ``key_nulls`` says whether a key value was empty. A problem anywhere raises
    :class:`ValidationError` at the end of the iteration, after every batch was checked, so
    that a backend writes the stream into a temporary table or copy it drops on any exception."""

    def __init__(self, frames):
        self._frames = frames
        self.rows = 0
        self.key_nulls = False

    def __iter__(self):
        return iter(self._frames)

    def __len__(self):
        return self.rows


def check_stream(batches, ld: LayerDef, source: str, check_extent: bool = True) -> FrameStream:
    """A :class:`FrameStream` of ``batches`` (``(offset, frame)`` in file order, as
    :func:`mbm_sig.catalogue.readers.stream_user_file` yields them).

    Every batch is checked like a whole file (problems numbered by the file's rows; a problem
    of the whole file, such as a missing column, said once). Keys are checked across batches:
    a key repeated inside a batch exactly, one repeated from an earlier batch by 64-bit hashes
    of the keys seen (8 bytes a row, sorted: the odds of a false «duplicate key» are about
    n² / 2⁶⁵, 3·10⁻⁸ for a million keys). After the first problem nothing more is yielded,
    but the following batches are still checked (up to ``10 × MAX_REPORTED`` problems) so
    that the report lists every problem; then :class:`ValidationError`."""
    stream = FrameStream(None)
    key = ld.key

    def checked():
        problems: list[Problem] = []
        said: set = set()
        seen = np.empty(0, dtype=np.uint64)
        rows = 0
        for offset, raw in batches:
            if not len(raw):
                continue
            rows += len(raw)
            found, out = check(raw, ld, check_extent=check_extent, keys=False)
            for p in merge_read_problems(raw, found):
                if p.row is None:
                    if (p.field, p.reason) not in said:
                        said.add((p.field, p.reason))
                        problems.append(p)
                else:
                    problems.append(Problem(p.row + offset, p.field, p.value, p.reason))
            if key and key in raw.columns:
                seen, dups = _repeated_keys(raw, out, ld, offset, seen)
                problems.extend(dups)
                if out is not None:
                    stream.key_nulls = stream.key_nulls or bool(out[key].isna().any())
            del raw, found
            if problems:
                if len(problems) > 10 * MAX_REPORTED:
                    break
                continue
            stream.rows += len(out)
            box = [conformed(out, ld)]
            del out                           # the writer holds the only reference
            yield box.pop()
        if not rows:
            problems.append(Problem(None, None, None, "the file holds no rows"))
        if problems:
            raise ValidationError(source, ld.name, sorted(problems, key=lambda p: p.row or 0))

    stream._frames = checked()
    return stream


def _repeated_keys(raw, out, ld: LayerDef, offset: int, seen: np.ndarray):
    """(keys seen including this batch's, «duplicate key» problems of this batch)."""
    f = ld.field(ld.key)
    if out is not None:
        keys = out[ld.key].reset_index(drop=True)
    else:
        col = raw[ld.key].reset_index(drop=True)
        keys, _ = coerce_column(col, f.type, _nulls(col))      # a value that does not convert: NA
    valid = keys.notna().to_numpy()
    dup = keys.duplicated(keep="first").to_numpy() & valid
    idx = np.flatnonzero(valid)
    h = pd.util.hash_array(keys.iloc[idx].astype(str).to_numpy(dtype=object), categorize=False)
    if len(seen):           # looked up in sorted order: the search walks ``seen`` forwards
        order = np.argsort(h, kind="stable")
        hs = h[order]
        pos = np.minimum(np.searchsorted(seen, hs), len(seen) - 1)
        dup[idx[order[seen[pos] == hs]]] = True
    problems = [Problem(int(i) + 1 + offset, ld.key, keys.iloc[i], "duplicate key") for i in np.flatnonzero(dup)]
    h = h[~dup[idx]]
    if len(h):
        seen = np.concatenate([seen, h])
        seen.sort(kind="stable")        # two sorted runs after the first batch: a merge
    return seen, problems
