"""The map-type registry: one module per type in this package, each defining ``TYPE``, an
instance of :class:`~mbm_sig.maps.types._core.MapType` (its option schema, data
preparation, drawing and legend).

Adding a type is one new module here (``mbm_sig/maps/types/NAME.py`` with ``TYPE``) and
its test: :meth:`Map.layer`, recipes (their keys are the type's options) and the recipe
reference (``docs/recipes.md``) find it through :func:`get` and :func:`registry`.
"""

from __future__ import annotations

import importlib
import pkgutil

from mbm_sig.maps.errors import MapError
from mbm_sig.maps.types._core import (
    COMMON,
    NODATA,
    NODATA_LABEL,
    STYLE_DEFAULTS,
    STYLE_KEYS,
    DrawContext,
    Layer,
    MapType,
    Option,
)

__all__ = ["COMMON", "NODATA", "NODATA_LABEL", "STYLE_DEFAULTS", "STYLE_KEYS", "DrawContext", "Layer",
           "MapType", "Option", "get", "names", "registry"]

# the order types are listed in (messages, docs); types not named here come after, by name
_ORDER = ("choro", "prop", "prop_choro", "typo", "symbols", "base")
_REGISTRY: dict[str, MapType] = {}


def registry() -> dict[str, MapType]:
    """Every map type by name (the modules of this package are imported on first use)."""
    if not _REGISTRY:
        found = {}
        for mod in pkgutil.iter_modules(__path__):
            if mod.name.startswith("_"):
                continue
            m = importlib.import_module(f"{__name__}.{mod.name}")
            t = getattr(m, "TYPE", None)
            if not isinstance(t, MapType):
                raise TypeError(f"{m.__name__}: a map-type module must define TYPE = <a MapType instance>")
            if t.name != mod.name:
                raise TypeError(f"{m.__name__}: TYPE.name is {t.name!r}, expected the module name {mod.name!r}")
            found[t.name] = t
        rank = {n: i for i, n in enumerate(_ORDER)}
        for n in sorted(found, key=lambda n: (rank.get(n, len(rank)), n)):
            _REGISTRY[n] = found[n]
    return _REGISTRY


def names() -> tuple[str, ...]:
    return tuple(registry())


def get(name: str) -> MapType:
    """The map type ``name``, else :class:`MapError` listing the known types."""
    reg = registry()
    if name not in reg:
        raise MapError(f"unknown layer type {name!r}; known types: {', '.join(reg)}")
    return reg[name]
