"""Checking a GeoDataFrame against its layer definition, and conforming it to the schema.

``validate`` returns every problem (row, field, value, reason) instead of stopping at the
first; ``conform`` returns the frame with the layer's columns, types and geometry type.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mbm_sig.catalogue.layerdef import LayerDef
from mbm_sig.config import NPDC_EXTENT, TARGET_CRS

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


class ValidationError(ValueError):
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


def _is_null(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT or (
        isinstance(v, str) and v.strip() == "")


def _coerce(value, ftype: str):
    """Value converted to the field type; raises ValueError with a reason."""
    if _is_null(value):
        return None
    if ftype == "str":
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()
    if ftype == "int":
        if isinstance(value, (bool, np.bool_)):
            raise ValueError("expected an integer")
        if isinstance(value, str):
            value = value.strip().replace("\u202f", "").replace(" ", "")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError("expected an integer") from None
        if not np.isfinite(f) or not f.is_integer():
            raise ValueError("expected an integer")
        return int(f)
    if ftype == "float":
        if isinstance(value, str):
            value = value.strip().replace("\u202f", "").replace(" ", "").replace(",", ".")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError("expected a number") from None
        if not np.isfinite(f):
            raise ValueError("expected a finite number")
        return f
    if ftype == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and value in (0, 1):
            return bool(value)
        s = str(value).strip().lower()
        if s in TRUE:
            return True
        if s in FALSE:
            return False
        raise ValueError("expected a boolean (oui/non, true/false, 1/0)")
    if ftype == "date":
        if isinstance(value, (dt.date, pd.Timestamp)):
            return pd.Timestamp(value).date().isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
        except ValueError:
            raise ValueError("expected a date YYYY-MM-DD") from None
    raise ValueError(f"unknown type {ftype}")


def validate(gdf: gpd.GeoDataFrame | pd.DataFrame, ld: LayerDef,
             check_extent: bool = True) -> list[Problem]:
    problems: list[Problem] = []
    cols = set(gdf.columns)
    for f in ld.fields:
        if f.required and f.name not in cols:
            problems.append(Problem(None, f.name, None, "required field is missing from the file"))
    for f in ld.fields:
        if f.name not in cols:
            continue
        values = gdf[f.name].tolist()
        for i, v in enumerate(values):
            if _is_null(v):
                if f.required:
                    problems.append(Problem(i + 1, f.name, None, "required value is empty"))
                continue
            try:
                c = _coerce(v, f.type)
            except ValueError as exc:
                problems.append(Problem(i + 1, f.name, v, str(exc)))
                continue
            if f.domain is not None and c not in f.domain:
                problems.append(Problem(i + 1, f.name, v, "not an allowed value (allowed: "
                                        + ", ".join(map(str, f.domain)) + ")"))
    if ld.key and ld.key in cols:
        keys = gdf[ld.key].map(lambda v: None if _is_null(v) else str(v).strip())
        dup = keys.duplicated(keep="first") & keys.notna()
        for i in np.flatnonzero(dup.to_numpy()):
            problems.append(Problem(int(i) + 1, ld.key, keys.iloc[i], "duplicate key"))
    if ld.has_geometry:
        problems += _validate_geometry(gdf, ld, check_extent)
    return sorted(problems, key=lambda p: (p.row or 0))


def _validate_geometry(gdf, ld: LayerDef, check_extent: bool) -> list[Problem]:
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
        return [Problem(None, "geometry", None, f"no geometry; layer {ld.name} needs {ld.geometry}")]
    if gdf.crs is None:
        return [Problem(None, "geometry", None, "no coordinate reference system (missing .prj or CRS)")]
    out = []
    geoms = gdf.geometry.to_crs(TARGET_CRS).values if gdf.crs != TARGET_CRS else gdf.geometry.values
    allowed = COMPATIBLE_GEOMS.get(ld.geometry)
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                      "MultiLineString", "MultiPolygon", "GeometryCollection"])
    valid = shapely.is_valid(geoms)
    empty = shapely.is_empty(geoms)
    xmin, ymin, xmax, ymax = NPDC_EXTENT
    for i, g in enumerate(geoms):
        if g is None:
            out.append(Problem(i + 1, "geometry", None, "geometry is missing"))
            continue
        if empty[i]:
            out.append(Problem(i + 1, "geometry", None, "geometry is empty"))
            continue
        gtype = names[types[i]]
        if allowed is not None and gtype not in allowed:
            out.append(Problem(i + 1, "geometry", gtype, f"wrong geometry type, expected {ld.geometry}"))
            continue
        if not valid[i]:
            out.append(Problem(i + 1, "geometry", None,
                               "invalid geometry: " + shapely.is_valid_reason(g)))
            continue
        if check_extent:
            b = g.bounds
            if b[0] < xmin or b[2] > xmax or b[1] < ymin or b[3] > ymax:
                out.append(Problem(i + 1, "geometry", f"{b[0]:.0f}, {b[1]:.0f}",
                                   "outside the plausible extent of Nord-Pas-de-Calais "
                                   "(wrong CRS or coordinates swapped?)"))
    return out


def conform(gdf: gpd.GeoDataFrame | pd.DataFrame, ld: LayerDef) -> gpd.GeoDataFrame | pd.DataFrame:
    """Frame with exactly the layer's fields (typed) and a ``geom`` column in EPSG:2154.

    Call after :func:`validate` returned no problem: values that do not coerce raise.
    """
    data = {}
    n = len(gdf)
    for f in ld.fields:
        if f.name in gdf:
            vals = [_coerce(v, f.type) for v in gdf[f.name].tolist()]
        else:
            vals = [None] * n
        if f.type == "int":
            col = pd.array(vals, dtype="Int64")
        elif f.type == "float":
            col = pd.array(vals, dtype="Float64").astype("float64")
        elif f.type == "bool":
            col = pd.array(vals, dtype="boolean")
        else:
            col = pd.array(vals, dtype=object)
        data[f.name] = col
    frame = pd.DataFrame(data, index=range(n))
    if not ld.has_geometry:
        return frame
    geoms = gdf.geometry.to_crs(TARGET_CRS).values
    if ld.geometry.startswith("Multi"):
        geoms = _to_multi(geoms, ld.geometry)
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=TARGET_CRS).values, crs=TARGET_CRS)
    return out.rename_geometry("geom")


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
