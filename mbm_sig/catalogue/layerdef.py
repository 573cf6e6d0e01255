"""Layer definitions: one YAML file per layer in ``layers/``, the single truth for a layer's
schema, domains, sources, licence and default style. Code reads them; it never repeats them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mbm_sig.config import LAYERS_DIR, TARGET_CRS, check_definitions, load_yaml
from mbm_sig.errors import InvalidInput, UnknownName

FIELD_TYPES = {"str", "int", "float", "date", "bool"}
GEOMETRY_TYPES = {
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "Geometry", "None",
}
SOURCES_FILE = "sources.yaml"


class LayerDefinitionError(InvalidInput):
    """A layer definition file is malformed."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "str"
    required: bool = False
    title: str = ""
    domain: tuple | None = None
    unit: str = ""
    source: tuple = ()       # the sources this field's values come from (credits per field)


@dataclass(frozen=True)
class Source:
    """One entry of the source manifest (``layers/sources.yaml``)."""

    id: str
    title: str
    producer: str
    licence: str
    vintage: str
    mirror: str | None = None          # file expected in the data directory
    url: str | None = None             # official download (file or ZIP)
    member: str | None = None          # file inside the ZIP
    wfs: str | None = None             # WFS endpoint
    typename: str | None = None        # WFS layer
    registry: str | None = None        # registry package (pypi:name==v, npm:@scope/name@v)
    sha256: str | None = None          # expected checksum of the downloaded file
    note: str = ""

    def credit(self) -> str:
        """One credit line in French: producer, title, vintage."""
        return f"{self.producer}, {self.title} ({self.vintage})"


@dataclass(frozen=True)
class LayerDef:
    name: str
    title: str
    theme: str
    geometry: str
    key: str | None
    fields: tuple[Field, ...]
    sources: tuple[str, ...]
    licence: str
    description: str = ""
    crs: str = TARGET_CRS
    vintage: str = ""
    note: str = ""
    holder: str = ""                   # who holds the data of a layer filled by import
    style: dict = field(default_factory=dict)
    build: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise UnknownName(f"layer {self.name!r} has no field {name!r} (fields: {', '.join(self.field_names)})")

    @property
    def has_geometry(self) -> bool:
        return self.geometry != "None"


def _fail(path: Path, msg: str) -> LayerDefinitionError:
    return LayerDefinitionError(f"{path}: {msg}")


def _parse_field(path: Path, name: str, spec: Any) -> Field:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict):
        raise _fail(path, f"field {name!r}: expected a mapping, got {spec!r}")
    unknown = set(spec) - {"type", "required", "title", "domain", "unit", "source"}
    if unknown:
        raise _fail(path, f"field {name!r}: unknown keys {sorted(unknown)}")
    ftype = spec.get("type", "str")
    if ftype not in FIELD_TYPES:
        raise _fail(path, f"field {name!r}: type {ftype!r} not in {sorted(FIELD_TYPES)}")
    domain = spec.get("domain")
    if domain is not None:
        if isinstance(domain, dict):   # value -> description
            domain = tuple(domain)
        domain = tuple(domain)
    src = spec.get("source") or ()
    src = (src,) if isinstance(src, str) else tuple(src)
    return Field(name=name, type=ftype, required=bool(spec.get("required", False)),
                 title=spec.get("title", ""), domain=domain, unit=spec.get("unit", ""), source=src)


def parse_layer(path: Path, known_sources: dict[str, Source] | None = None) -> LayerDef:
    with open(path, encoding="utf-8") as fh:
        doc = load_yaml(fh)
    if not isinstance(doc, dict):
        raise _fail(path, "expected a mapping at top level")
    for key in ("name", "title", "theme", "geometry", "fields", "licence"):
        if key not in doc:
            raise _fail(path, f"missing key {key!r}")
    if doc["name"] != path.stem:
        raise _fail(path, f"name {doc['name']!r} differs from the file name {path.stem!r}")
    if doc["geometry"] not in GEOMETRY_TYPES:
        raise _fail(path, f"geometry {doc['geometry']!r} not in {sorted(GEOMETRY_TYPES)}")
    if doc.get("crs", TARGET_CRS) != TARGET_CRS:
        raise _fail(path, f"crs must be {TARGET_CRS}")
    fields = tuple(_parse_field(path, n, s) for n, s in (doc["fields"] or {}).items())
    names = [f.name for f in fields]
    key = doc.get("key")
    if key is not None and key not in names:
        raise _fail(path, f"key {key!r} is not a field")
    if "geom" in names:
        raise _fail(path, "'geom' is reserved for the geometry column")
    sources = tuple(doc.get("sources") or ())
    for f in fields:
        for s in f.source:
            if s not in sources:
                raise _fail(path, f"field {f.name!r}: source {s!r} is not one of the layer's sources")
    if known_sources is not None:
        for s in sources:
            if s not in known_sources:
                raise _fail(path, f"source {s!r} is not in {SOURCES_FILE}")
    return LayerDef(
        name=doc["name"], title=doc["title"], theme=doc["theme"], geometry=doc["geometry"],
        key=key, fields=fields, sources=sources, licence=doc["licence"],
        description=doc.get("description", "").strip(), vintage=str(doc.get("vintage", "")),
        note=doc.get("note", "").strip(), holder=str(doc.get("holder", "")).strip(),
        style=doc.get("style") or {}, build=doc.get("build") or {},
        path=path,
    )


def parse_sources(path: Path) -> dict[str, Source]:
    with open(path, encoding="utf-8") as fh:
        doc = load_yaml(fh) or {}
    out = {}
    allowed = set(Source.__dataclass_fields__) - {"id"}
    for sid, spec in doc.items():
        unknown = set(spec) - allowed
        if unknown:
            raise _fail(path, f"source {sid!r}: unknown keys {sorted(unknown)}")
        for key in ("title", "producer", "licence", "vintage"):
            if key not in spec:
                raise _fail(path, f"source {sid!r}: missing key {key!r}")
        out[sid] = Source(id=sid, **{k: (str(v) if v is not None else None) if k != "note" else v
                                     for k, v in spec.items()})
    return out


@functools.lru_cache(maxsize=4)
def load_sources(layers_dir: Path = LAYERS_DIR) -> dict[str, Source]:
    if layers_dir == LAYERS_DIR:
        check_definitions()
    return parse_sources(Path(layers_dir) / SOURCES_FILE)


@functools.lru_cache(maxsize=4)
def load_layers(layers_dir: Path = LAYERS_DIR) -> dict[str, LayerDef]:
    """All layer definitions, by name, in file-name order."""
    layers_dir = Path(layers_dir)
    sources = load_sources(layers_dir)
    out = {}
    for path in sorted(layers_dir.glob("*.yaml")):
        if path.name == SOURCES_FILE:
            continue
        ld = parse_layer(path, sources)
        out[ld.name] = ld
    return out


def layer(name: str) -> LayerDef:
    layers = load_layers()
    if name not in layers:
        raise KeyError(f"unknown layer {name!r}; known layers: {', '.join(layers)}")
    return layers[name]
