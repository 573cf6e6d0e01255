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
from mbm_sig.catalogue.validate import (
    Problem,
    ValidationError,
    check,
    check_stream,
    conformed,
    merge_read_problems,
    nullable_int_fields,
    plain_columns,
)
from mbm_sig.config import TARGET_CRS, settings
from mbm_sig.errors import InvalidInput, UnknownName

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
    return nullable_int_fields(df, _int_fields(ld))


def last_import_rows(log: pd.DataFrame, names=None) -> dict:
    """Each layer's last provenance row (a dict by layer name; ``names``: only those layers)."""
    out = {}
    for name in (pd.unique(log["layer"]) if names is None else names):
        rows = log[log["layer"] == name].reset_index(drop=True)
        if len(rows):
            out[name] = rows.sort_values("imported_at").iloc[-1].to_dict()
    return out


def _int_fields(ld) -> tuple[str, ...]:
    return tuple(f.name for f in ld.fields if f.type == "int")


class Catalogue:
    """Facade over one backend; knows the layer definitions, validates every write."""

    def __init__(self, backend):
        self.backend = backend

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str | None = None, create: bool = True) -> "Catalogue":
        """Open the catalogue at ``url`` (``postgresql://…`` for PostGIS, else a GeoPackage path).

        With ``create=False`` (every command that only reads) a catalogue that does not
        exist is an error naming it, at once. Otherwise the first write creates it; reading
        it before (``layers``, ``read``, ``sql``, ``export``) is the same error, never an
        empty answer."""
        s = settings(db_url=url)
        if s.is_postgis:
            from mbm_sig.catalogue.postgis import PostGISBackend
            cat = cls(PostGISBackend(s.db_url))
        else:
            from mbm_sig.catalogue.gpkg import GeoPackageBackend
            cat = cls(GeoPackageBackend(s.db_url))
        if not create:
            cat.backend.require()
        return cat

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
            raise UnknownName(f"unknown layer {name!r}; known layers: {', '.join(defs)}")
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
        """One row per defined layer: name, title, theme, status, count, sources, vintage,
        last write, and ``fill``, the command that fills or repairs it.

        ``status``: ``built`` or ``imported`` (its last write), ``never built`` (defined,
        no table yet), ``missing`` (written once, its table since dropped outside the tool).
        A catalogue not yet created lists every layer as ``never built`` (the command line
        opens with ``create=False`` and names the missing catalogue instead)."""
        present = set(self.backend.layer_names())
        log = self.backend.log()
        rows = []
        for name, ld in load_layers().items():
            mine = log[log["layer"] == name] if len(log) else log
            last = mine["imported_at"].max() if len(mine) else None
            action = mine.sort_values("imported_at")["action"].iloc[-1] if len(mine) else None
            if name in present:
                status = "imported" if action == "import" else "built"
            else:
                status = "missing" if len(mine) else "never built"
            rows.append({
                "name": name, "title": ld.title, "theme": ld.theme, "geometry": ld.geometry,
                "status": status,
                "count": self.backend.count(name) if name in present else 0,
                "sources": ", ".join(ld.sources), "vintage": ld.vintage,
                "last_import": last if isinstance(last, str) else None,
                "fill": self.fill_command(name),
            })
        from mbm_sig.notebook import LayerListing
        return LayerListing(pd.DataFrame(rows))

    def fill_command(self, name: str) -> str:
        """The command that fills (or repairs) a layer: ``build`` or ``import``."""
        ld = self.layer_def(name)
        db = "" if self.url == settings().db_url else f" --db {self.backend_display()}"
        if ld.build:
            return f"`mbm-sig{db} build {name}`"
        return f"`mbm-sig{db} import {name} FILE`"

    def backend_display(self) -> str:
        return getattr(self.backend, "display_url", self.url)

    def read(self, name: str, bbox=None, where: dict | None = None, columns=None):
        """A layer as a GeoDataFrame in EPSG:2154 (geometry column ``geom``), its column names
        a plain object index on every backend (:func:`plain_columns`), as :meth:`sql` gives them.

        ``bbox``: (xmin, ymin, xmax, ymax) in EPSG:2154; ``where``: {field: value or [values]}
        (parameterised: never SQL text); ``columns``: fields to keep.
        """
        ld = self.layer_def(name)
        where = dict(where or {})
        for f in list(where) + list(columns or []):
            ld.field(f)   # raises a clear KeyError for an unknown field
        for f, v in where.items():
            where[f] = _as_field_type(ld.field(f).type, v)
        self.backend.require()
        if name not in self.backend.layer_names():
            return self._empty(ld, columns)
        # the GeoPackage converts the integer fields once, on the layer it keeps in memory
        ints = {"ints": _int_fields(ld)} if self.backend.kind == "gpkg" else {}
        return plain_columns(nullable_ints(self.backend.read(name, bbox=bbox, where=where, columns=columns,
                                                             has_geometry=ld.has_geometry, **ints), ld))

    def _empty(self, ld: LayerDef, columns=None):
        frame = pd.DataFrame({f.name: pd.Series(dtype="Int64" if f.type == "int" else object) for f in ld.fields
                              if columns is None or f.name in columns})
        if not ld.has_geometry:
            return plain_columns(frame)
        return plain_columns(gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=TARGET_CRS).values,
                                              crs=TARGET_CRS).rename_geometry("geom"))

    def sql(self, query: str, params: dict | None = None):
        """Spatial SQL in the backend's dialect (SpatiaLite on GeoPackage, PostGIS), with
        ``:name`` parameters: exactly one read-only query (see :mod:`mbm_sig.catalogue.sqlguard`);
        anything else raises :class:`~mbm_sig.catalogue.sqlguard.SQLRefused`."""
        if self.backend.kind != "gpkg":
            self.backend.require()
        return plain_columns(self.backend.sql(query, params))

    def provenance(self, name: str | None = None) -> pd.DataFrame:
        log = self.backend.log()
        return log if name is None else log[log["layer"] == name].reset_index(drop=True)

    def last_import(self, name: str):
        """The provenance row of the layer's last write (a dict), or None. A GeoPackage keeps
        the rows of its log's version (map sheets ask for the communes' on every page)."""
        last = getattr(self.backend, "last_imports", None)
        row = last(last_import_rows).get(name) if last else last_import_rows(self.backend.log(), [name]).get(name)
        return None if row is None else dict(row)

    # -- writing ------------------------------------------------------------------------
    def prepare(self, name: str, frame, source: str = "python", check_extent: bool = True):
        """Validate ``frame`` against the layer definition and conform it; raises
        :class:`ValidationError` listing every problem."""
        ld = self.layer_def(name)
        problems, out = check(frame, ld, check_extent=check_extent)
        problems = merge_read_problems(frame, problems)
        if problems:
            raise ValidationError(source, name, problems)
        return conformed(out, ld)

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
        """Read a user file (GeoPackage, Shapefile, MapInfo, GeoJSON, FlatGeobuf, CSV), check
        it against the layer definition and replace the layer atomically; returns the rows
        written.

        One path for every size: the file is read in batches (GDAL's Arrow stream; a CSV at
        once), each batch checked and written into the backend's temporary table or copy as
        it comes (memory bounded by the batch, keys checked across batches): a problem
        anywhere, or a kill at any moment, leaves the catalogue with its old layer and
        provenance (:func:`mbm_sig.catalogue.validate.check_stream`)."""
        from mbm_sig.catalogue.readers import stream_user_file, streaming
        path = Path(path)
        ld = self.layer_def(name)
        with streaming():
            stream = check_stream(stream_user_file(path, ld, **options), ld, source=str(path))
            self.write_many({name: stream}, {name: str(path.resolve())}, action="import",
                            checksums={name: file_checksum(path)})
        return stream.rows

    def export(self, name: str, out: str | Path, where: dict | None = None, bbox=None,
               within: str | None = None, csv_dialect: str = "fr") -> Path:
        """Write a layer, or the part a partner needs, to ``out`` (format from its suffix),
        complete or not at all.

        ``where``: {field: value}; ``bbox``: (xmin, ymin, xmax, ymax) in EPSG:2154;
        ``within``: ``"LAYER:ID"``, the features inside that feature (``"epci:200068120"``:
        one EPCI), those only touching its boundary left out. A layer with no table (never
        built, or dropped) is refused with the command that fills it."""
        from mbm_sig.catalogue.readers import write_user_file
        ld = self.layer_def(name)
        self.backend.require()
        if name not in self.backend.layer_names():
            raise InvalidInput(f"layer {name} holds no data in {self.backend_display()}: "
                               f"fill it with {self.fill_command(name)}")
        frame = self.read(name, bbox=bbox, where=where)
        if within:
            frame = self._within(frame, ld, within)
        path = write_user_file(frame, Path(out), layer=name, csv_dialect=csv_dialect,
                               int_fields=[f.name for f in ld.fields if f.type == "int"])
        from mbm_sig.qgis.styles import write_export_style
        write_export_style(path, ld)     # QGIS opens the export styled
        return path

    def _within(self, frame, ld: LayerDef, within: str):
        import shapely
        layer, sep, key = str(within).partition(":")
        if not sep or not key:
            raise InvalidInput(f"--within {within!r}: expected LAYER:ID (e.g. epci:200068120)")
        if not ld.has_geometry:
            raise InvalidInput(f"--within: layer {ld.name} has no geometry")
        area_def = self.layer_def(layer)
        if not area_def.has_geometry or not area_def.key:
            raise InvalidInput(f"--within: layer {layer} has no geometry or no key field")
        value = _as_field_type(area_def.field(area_def.key).type, key)
        area = self.read(layer, where={area_def.key: value})
        if not len(area):
            raise InvalidInput(f"--within: no feature of {layer} has {area_def.key} = {key!r}")
        shape = shapely.union_all(area.geometry.values)
        geoms = frame.geometry.values
        keep = shapely.intersects(geoms, shape) & ~shapely.touches(geoms, shape)
        return frame[keep].reset_index(drop=True)
