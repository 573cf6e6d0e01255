"""Comparable series: classes and symbol scales fixed once per atlas.

An atlas lists its series (``series:`` in ``atlases/NAME.yaml``)::

    series:
      part_65p:                       # every layer of a map sheet classed on this field
        method: q6                    # computed once on the population below
        over: {layer: indicateurs_communes, where: {arrondissement: ["622", "627", "593", "596"]}}
        palette: OrRd                 # optional: the same colours on every sheet
      etab:                           # a proportional-symbol scale shared by several fields
        fields: [etab_generalistes, etab_specialistes]
        val_max: from_data            # the largest value of the fields on ``over`` (or a number)
        over: {layer: indicateurs_communes, where: {arrondissement: [...]}}

Every map sheet of the atlas then uses the series' breaks (as manual breaks, kept as they are:
the same legend on every sheet) and the common ``val_max`` of its proportional symbols:
the four arrondissement pages of the 65+ share classes and colours with the basin sheet,
and 94 GP and 119 specialist establishments are drawn on one scale (mapsf's ``val_max``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mbm_sig.errors import InvalidInput
from mbm_sig.maps.classify import classify

CLASSED = ("choro",)
PROP = ("prop", "prop_choro")


def resolve(spec: dict | None, cat, where: str = "atlas") -> dict:
    """The series of an atlas with their values: {field: {breaks, palette} | {val_max}}."""
    out: dict = {}
    for name, s in (spec or {}).items():
        if not isinstance(s, dict) or "over" not in s:
            raise InvalidInput(f"{where}: series.{name} needs 'over: {{layer: …, where: …}}'")
        on = s["over"]
        fields = list(s.get("fields") or [name])
        df = cat.read(on["layer"], where=on.get("where"))
        for f in fields:
            if f not in df:
                raise InvalidInput(f"{where}: series.{name}: field {f!r} not in layer {on['layer']!r}")
        vals = pd.concat([pd.to_numeric(df[f], errors="coerce") for f in fields]).dropna().to_numpy(float)
        if not len(vals):
            continue
        for f in fields:
            item = out.setdefault(f, {})
            if "val_max" in s:
                vm = s["val_max"]
                item["val_max"] = float(np.nanmax(np.abs(vals))) if vm == "from_data" else float(vm)
            if "method" in s or "breaks" in s:
                b = (list(map(float, s["breaks"])) if "breaks" in s
                     else classify(vals, s["method"], int(s.get("k", 5))).tolist())
                item["breaks"] = b
                if s.get("palette"):
                    item["palette"] = s["palette"]
                item["method"] = str(s.get("method", "breaks"))
    return out


def apply(recipe, values: dict):
    """Set a loaded recipe's layers to the atlas's series (in place); returns the recipe."""
    if not values:
        return recipe
    for spec in recipe.doc.get("layers") or []:
        t = spec.get("type")
        classed_var = spec.get("var") if t in CLASSED else spec.get("var2") if t == "prop_choro" else None
        item = values.get(classed_var) if classed_var else None
        if item and "breaks" in item:
            spec["method"] = "breaks"
            spec["breaks"] = list(item["breaks"])
            spec["clip_breaks"] = False         # the series' classes, the same on every sheet
            spec.pop("k", None)
            if item.get("palette"):
                spec["palette"] = item["palette"]
        if t in PROP and _recipes_know_val_max():
            item = values.get(spec.get("var"))
            if item and "val_max" in item:
                spec["val_max"] = item["val_max"]
    return recipe


def _recipes_know_val_max() -> bool:
    """Whether the proportional-symbol layers of recipes take a ``val_max``."""
    try:
        from mbm_sig.maps import types
        return "val_max" in types.get("prop").schema()
    except (ImportError, AttributeError, KeyError):
        from mbm_sig.maps import recipe
        return "val_max" in getattr(recipe, "LAYER_KEYS", ())


def method_of(values: dict) -> set:
    """The classification methods the series use (for the sources page)."""
    return {v["method"] for v in values.values() if "method" in v}
