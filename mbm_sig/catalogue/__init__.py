"""The layer catalogue: one API over an embedded GeoPackage (default) or PostGIS.

>>> cat = Catalogue.open()                       # var/catalogue.gpkg, or MBM_SIG_DB
>>> cat.layers()                                 # name, title, count, sources, vintage, last import
>>> lens = cat.read("communes", where={"arrondissement": "627"})
>>> cat.sql("SELECT nom, ST_Area(geom) AS a FROM communes WHERE insee = :c", {"c": "62498"})
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import geopandas as gpd
import pandas as pd

from mbm_sig.catalogue.layerdef import LayerDef, Source, load_layers, load_sources
from mbm_sig.catalogue.validate import Problem, ValidationError, check
from mbm_sig.config import TARGET_CRS, settings

__all__ = ["Catalogue", "LayerDef", "Problem", "Source", "ValidationError"]


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a file, or of every file sharing its stem (shapefile, MapInfo sets)."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path]
    if path.suffix.lower() in (".shp", ".tab", ".mif"):
        files = sorted(p for p in path.parent.glob(path.stem + ".*") if p.is_file())
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _as_field_type(ftype: str, value):
    """A ``where`` value in the field's type (``{"insee": 62498}`` means "62498")."""
    if isinstance(value, (list, tuple, set)):
        return [_as_field_type(ftype, v) for v in value]
    if value is None:
        return None
    if ftype == "str" and not isinstance(value, str):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if ftype == "int" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if ftype == "float" and isinstance(value, str):
        try:
            return float(value.replace(",", "."))
        except ValueError:
            return value
    if ftype == "bool" and isinstance(value, str):
        return {"true": True, "oui": True, "1": True, "false": False, "non": False, "0": False}.get(
            value.strip().lower(), value)
    return value


def nullable_ints(df, ld):
    """Integer fields as pandas' nullable ``Int64`` (a year stays 2012, not 2012.0, when
    some rows have none), on both backends."""
    for f in ld.fields:
        if f.type == "int" and f.name in df.columns and str(df[f.name].dtype) != "Int64":
            col = df[f.name]
            try:
                df[f.name] = pd.to_numeric(col, errors="raise").astype("Int64")
            except (TypeError, ValueError):      # a non-integer value (an unvalidated write): as is
                pass
    return df


class Catalogue:
    """Facade over one backend; knows the layer definitions, validates every write."""

    def __init__(self, backend):
        self.backend = backend

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str | None = None) -> "Catalogue":
        """Open the catalogue at ``url`` (``postgresql://…`` for PostGIS, else a GeoPackage path)."""
        s = settings(db_url=url)
        if s.is_postgis:
            from mbm_sig.catalogue.postgis import PostGISBackend
            return cls(PostGISBackend(s.db_url))
        from mbm_sig.catalogue.gpkg import GeoPackageBackend
        return cls(GeoPackageBackend(s.db_url))

    @property
    def url(self) -> str:
        return self.backend.url

    def __repr__(self) -> str:
        return f"<Catalogue {self.backend.kind} {self.url}>"

    def _repr_html_(self) -> str:
        from mbm_sig.notebook import catalogue_html
        return catalogue_html(self)

    # -- notebooks ------------------------------------------------------------------------
    def explore(self, name: str, where: dict | None = None, fields=None, context: str | None = None, **read):
        """An offline interactive map of a layer in its official style (vendored Leaflet,
        no network), ``context`` (e.g. "communes") drawn underneath; shows in a notebook,
        ``.save("carte.html")`` writes it."""
        from mbm_sig.notebook import explore
        return explore(self, name, where=where, fields=fields, context=context, **read)

    def plot(self, name: str, ax=None, where: dict | None = None, legend: bool = True, **read):
        """A layer drawn with matplotlib in its official style; returns the Axes."""
        from mbm_sig.notebook import plot
        return plot(self, name, ax=ax, where=where, legend=legend, **read)

    # -- definitions --------------------------------------------------------------------
    @staticmethod
    def definitions() -> dict[str, LayerDef]:
        return load_layers()

    def layer_def(self, name: str) -> LayerDef:
        defs = load_layers()
        if name not in defs:
            raise KeyError(f"unknown layer {name!r}; known layers: {', '.join(defs)}")
        return defs[name]

    def sources_for(self, name: str, fields=None) -> list[Source]:
        """Sources of a layer: those of its definition, or those recorded by its last import.

        With ``fields``, only the sources those fields come from (fields may name their
        ``source`` in the definition) plus the sources no field claims (the geometry and
        the base attributes): a map of the population does not credit SIRENE."""
        ld = self.layer_def(name)
        srcs = load_sources()
        ids = list(ld.sources)
        if fields is not None:
            claimed = {s for f in ld.fields for s in f.source}
            wanted = {s for f in ld.fields if f.name in set(fields) for s in f.source}
            ids = [s for s in ids if s not in claimed or s in wanted]
        out = [srcs[s] for s in ids if s != "saisie_utilisateur"]
        if "saisie_utilisateur" in ld.sources:
            last = self.last_import(name)
            if last is not None:
                out.append(Source(id="import", title=ld.title, producer=f"import {Path(last['source']).name}",
                                  licence=ld.licence, vintage=str(last["imported_at"])[:10]))
        return out

    def has_data(self, name: str) -> bool:
        return name in self.backend.layer_names() and self.backend.count(name) > 0

    # -- reading ------------------------------------------------------------------------
    def layers(self) -> pd.DataFrame:
        """One row per defined layer: name, title, theme, count, sources, vintage, last import."""
        present = set(self.backend.layer_names())
        log = self.backend.log()
        rows = []
        for name, ld in load_layers().items():
            last = log[log["layer"] == name]["imported_at"].max() if len(log) else None
            rows.append({
                "name": name, "title": ld.title, "theme": ld.theme, "geometry": ld.geometry,
                "count": self.backend.count(name) if name in present else 0,
                "sources": ", ".join(ld.sources), "vintage": ld.vintage,
                "last_import": last if isinstance(last, str) else None,
            })
        from mbm_sig.notebook import LayerListing
        return LayerListing(pd.DataFrame(rows))

    def read(self, name: str, bbox=None, where: dict | None = None, columns=None):
        """A layer as a GeoDataFrame in EPSG:2154 (geometry column ``geom``).

        ``bbox``: (xmin, ymin, xmax, ymax) in EPSG:2154; ``where``: {field: value or [values]}
        (parameterised: never SQL text); ``columns``: fields to keep.
        """
        ld = self.layer_def(name)
        where = dict(where or {})
        for f in list(where) + list(columns or []):
            ld.field(f)   # raises a clear KeyError for an unknown field
        for f, v in where.items():
            where[f] = _as_field_type(ld.field(f).type, v)
        if name not in self.backend.layer_names():
            return self._empty(ld, columns)
        return nullable_ints(self.backend.read(name, bbox=bbox, where=where, columns=columns,
                                               has_geometry=ld.has_geometry), ld)

    def _empty(self, ld: LayerDef, columns=None):
        frame = pd.DataFrame({f.name: pd.Series(dtype="Int64" if f.type == "int" else object) for f in ld.fields
                              if columns is None or f.name in columns})
        if not ld.has_geometry:
            return frame
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=TARGET_CRS).values,
                                crs=TARGET_CRS).rename_geometry("geom")

    def sql(self, query: str, params: dict | None = None):
        """Spatial SQL in the backend's dialect (SpatiaLite on GeoPackage, PostGIS), with
        ``:name`` parameters."""
        return self.backend.sql(query, params)

    def provenance(self, name: str | None = None) -> pd.DataFrame:
        log = self.backend.log()
        return log if name is None else log[log["layer"] == name].reset_index(drop=True)

    def last_import(self, name: str):
        log = self.provenance(name)
        if not len(log):
            return None
        return log.sort_values("imported_at").iloc[-1].to_dict()

    # -- writing ------------------------------------------------------------------------
    def prepare(self, name: str, frame, source: str = "python", check_extent: bool = True):
        """Validate ``frame`` against the layer definition and conform it; raises
        :class:`ValidationError` listing every problem."""
        ld = self.layer_def(name)
        problems, out = check(frame, ld, check_extent=check_extent)
        # problems found while reading (bad coordinates, unreadable WKT) replace the
        # «geometry is missing» they leave behind
        read = list(getattr(frame, "attrs", {}).get("read_problems") or [])
        if read:
            rows = {p.row for p in read}
            problems = sorted(read + [p for p in problems if not (p.row in rows and p.field == "geometry")],
                              key=lambda p: p.row or 0)
        if problems:
            raise ValidationError(source, name, problems)
        if ld.has_geometry:
            out.attrs["geometry_type"] = None if ld.geometry == "Geometry" else ld.geometry
        return out

    def write_many(self, frames: dict, sources: dict | None = None, action: str = "write",
                   checksums: dict | None = None) -> None:
        """Replace several prepared layers at once, atomically, with a provenance row each."""
        from mbm_sig import __version__
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        rows = [{"layer": n, "action": action, "source": (sources or {}).get(n, "python"),
                 "checksum": (checksums or {}).get(n, ""), "rows": len(f), "imported_at": now,
                 "tool_version": f"mbm-sig {__version__}"} for n, f in frames.items()]
        self.backend.replace_layers(frames, rows)

    def write(self, name: str, frame, source: str = "python") -> int:
        """Validate and replace one layer atomically; returns the number of rows written."""
        out = self.prepare(name, frame, source=source)
        self.write_many({name: out}, {name: source}, action="write")
        return len(out)

    def import_file(self, name: str, path: str | Path, **options) -> int:
        """Read a user file (GeoPackage, Shapefile, MapInfo, GeoJSON, FlatGeobuf, CSV),
        check it against the layer definition and replace the layer atomically."""
        from mbm_sig.catalogue.readers import read_user_file
        path = Path(path)
        frame = read_user_file(path, self.layer_def(name), **options)
        out = self.prepare(name, frame, source=str(path))
        self.write_many({name: out}, {name: str(path.resolve())}, action="import",
                        checksums={name: file_checksum(path)})
        return len(out)

    def export(self, name: str, out: str | Path) -> Path:
        from mbm_sig.catalogue.readers import write_user_file
        path = write_user_file(self.read(name), Path(out), layer=name)
        from mbm_sig.qgis.styles import write_export_style
        write_export_style(path, self.layer_def(name))     # QGIS opens the export styled
        return path
