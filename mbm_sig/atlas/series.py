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

import json
import math
import re
from pathlib import Path

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
    """Set a loaded recipe's layers to the atlas's series (in place), and a basin map's
    layout to the one its group shares (``sheet_layout``, :func:`with_layouts`); returns
    the recipe."""
    if not values:
        return recipe
    lay = (values.get(LAYOUTS) or {}).get(page_key(recipe.path, recipe.params))
    if lay and not recipe.doc.get("sheet_layout"):
        recipe.doc["sheet_layout"] = dict(lay)
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


# ------------------------------------------------------------------------------ one layout

LAYOUTS = "@sheet_layouts"      # the key of the basin maps' layouts among the series' values
_LAYOUT_MEMO: dict = {}
#: the members of the last decisions, built and laid out alone (see :func:`decide_layout`):
#: member key -> [map, {layout kind: plan}]; a warm process (``--watch``) whose one recipe
#: changed builds and plans that sheet alone, not the twelve of its group
_MEMBER_MEMO: dict = {}
#: the answers of the requirement test (:func:`_remembered`)
_WAITING_MEMO: dict = {}
#: the basin maps' recipes as loaded, by content (:func:`_loaded`)
_DOC_MEMO: dict = {}


def page_key(recipe, params: dict | None) -> str:
    """A map page's key among the layouts: its recipe file and parameters."""
    return f"{Path(recipe).resolve()}|{json.dumps(params or {}, sort_keys=True, default=str)}"


def group_key(doc: dict) -> str | None:
    """The group of the sheets that share one layout without a coverage: one page format,
    orientation and extent (the basin maps of an atlas); None for a sheet of a coverage
    series (``series_of``), which its own series lays out, or one without a fixed extent."""
    ext = doc.get("extent")
    if doc.get("series_of") or not ext or doc.get("orientation", "portrait") == "auto":
        return None
    return json.dumps([doc.get("page", "A4"), doc.get("orientation", "portrait"), ext], sort_keys=True, default=str)


def layout_groups(atlas, waiting, docs: dict | None = None) -> dict:
    """group key -> [(recipe path, parameters)] of the atlas's map sheets drawn once (no
    coverage) whose data are there (``waiting(spec)`` false: the engine's requirements), by
    :func:`group_key`; groups of two sheets or more. ``docs``: filled with each member's
    recipe as loaded, by :func:`page_key`."""
    from mbm_sig.maps.recipe import RecipeError, load_recipe
    groups: dict = {}
    for sec in atlas.sections:
        if sec.coverage:
            continue
        for spec in sec.sheets:
            if spec.kind != "map" or not spec.recipe or spec.coverage or waiting(spec):
                continue
            try:
                doc = _loaded(Path(spec.recipe), spec.params, load_recipe)
            except RecipeError:         # the sheet's own render reports it, naming the sheet
                continue
            key = group_key(doc)
            if key:
                groups.setdefault(key, []).append((Path(spec.recipe), dict(spec.params)))
                if docs is not None:
                    docs[page_key(spec.recipe, spec.params)] = doc
    return {k: v for k, v in groups.items() if len(v) > 1}


def _loaded(recipe: Path, params: dict, load_recipe) -> dict:
    """A recipe's document as loaded (parameters filled, structure checked), kept by the
    file's bytes and the parameters (:data:`_DOC_MEMO`): a warm process looks at every basin
    map's recipe on each rebuild. Not to be changed by the caller."""
    try:
        data = recipe.read_bytes()
    except OSError:
        return load_recipe(recipe, params).doc          # (its error, naming the file)
    key = (str(recipe), data, json.dumps(params, sort_keys=True, default=str))
    doc = _DOC_MEMO.get(key)
    if doc is None:
        doc = load_recipe(recipe, params).doc
        if len(_DOC_MEMO) >= 256:
            _DOC_MEMO.clear()
        _DOC_MEMO[key] = doc
    return doc


def with_layouts(atlas, cat, waiting, values: dict | None = None) -> dict:
    """The series' values with the layout each basin map shares with its group
    (:data:`LAYOUTS`: page key -> ``sheet_layout``), decided once over the group; memoised
    on the recipes as a layout sees them (:func:`_member_key`: a recolouring decides
    nothing again), the series, the catalogue's state and the layer definitions.
    ``waiting(spec)``: whether a sheet waits for its data (left out of the groups; the
    engine's requirement test, whose answer is memoised on the same and the sheet's
    ``requires``)."""
    values = {k: v for k, v in (atlas.series_values if values is None else values).items() if k != LAYOUTS}
    stamp = _catalogue_stamp(cat)
    common = _members_common(cat, stamp) if stamp is not None else None
    docs: dict = {}
    groups = layout_groups(atlas, waiting if common is None else _remembered(waiting, common), docs)
    if not groups:
        return values
    key = (str(atlas.path), common, json.dumps(values, sort_keys=True, default=repr),
           tuple(_member_key(r, p, docs[page_key(r, p)], "") for members in groups.values() for r, p in members))
    if common is None or key not in _LAYOUT_MEMO:
        out = {}
        built: dict | None = None if common is None else {}
        for members in groups.values():
            out.update(decide_layout(members, cat, values, built, common or ""))
        _LAYOUT_MEMO.clear()
        _LAYOUT_MEMO[key] = out
        _MEMBER_MEMO.clear()
        _MEMBER_MEMO.update(built or {})
    return {**values, LAYOUTS: _LAYOUT_MEMO[key]}


def _remembered(waiting, common: str):
    """``waiting`` with its answers kept while ``common`` (catalogue state, layer
    definitions: :func:`_members_common`) stays the same, per sheet requirements."""
    if _WAITING_MEMO.get("common") != common:
        _WAITING_MEMO.clear()
        _WAITING_MEMO["common"] = common
    # the test itself: its code and what it closes over (the engine's lambda is new each run)
    code = (getattr(waiting, "__code__", waiting),
            tuple(id(c.cell_contents) for c in getattr(waiting, "__closure__", None) or ()))

    def asked(spec) -> bool:
        k = (code, tuple(spec.requires))
        if k not in _WAITING_MEMO:
            _WAITING_MEMO[k] = bool(waiting(spec))
        return _WAITING_MEMO[k]
    return asked


def _stat(path) -> tuple | None:
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _catalogue_stamp(cat) -> tuple | None:
    """The GeoPackage catalogue's ``state()``; None on a server (no memo: the layouts are
    decided on every render)."""
    if getattr(cat.backend, "kind", None) != "gpkg":
        return None
    return cat.backend.state()


def decide_layout(members, cat, values: dict, built: dict | None = None, common: str = "") -> dict:
    """page key -> ``sheet_layout`` of one group: each sheet built with the series applied
    and laid out alone with each layout its recipe leaves open; the layout whose worst sheet
    loses least scale against that sheet's best (then the largest maps on the whole), and
    the one grid of it (:func:`mbm_sig.maps.solver.decide_grid`). ``built``: filled with the
    members built here, by :func:`_member_key` (``common``: :func:`_members_common`); a
    member whose key is in :data:`_MEMBER_MEMO` (the previous decision's) is taken from
    there, not built and planned again."""
    from mbm_sig.maps.draw import planned
    from mbm_sig.maps.recipe import build_map, load_recipe
    from mbm_sig.maps.solver import decide_grid
    maps, keys, kinds, entries = [], [], None, []
    for recipe, params in members:
        r = apply(load_recipe(str(recipe), params), values)
        mk = _member_key(recipe, params, r.doc, common) if built is not None else None
        entry = _MEMBER_MEMO.get(mk) if mk is not None else None
        if entry is None:
            entry = [build_map(r, cat)[0], {}]
        if built is not None:
            built[mk] = entry
        given = r.doc.get("layout", "auto")
        mine = ("bottom", "side") if given == "auto" else (given,)
        kinds = [k for k in (kinds if kinds is not None else mine) if k in mine]
        maps.append(entry[0])
        entries.append(entry)
        keys.append(page_key(recipe, params))
    grids, scales = {}, {}
    for kind in kinds or ("bottom",):
        plans = []
        for m, entry in zip(maps, entries, strict=True):
            m.layout = kind
            if kind not in entry[1]:
                entry[1][kind] = planned(m)[0]
            plans.append((m, entry[1][kind]))
        g = grids[kind] = decide_grid(plans, kind)
        fw, fh = g.frame[2], g.frame[3]
        scales[kind] = [max(w / fw, h / fh) for w, h in (_natural_size(m) for m in maps)]
    best = [min(r[i] for r in scales.values()) for i in range(len(maps))]

    def cost(k):
        r = scales[k]
        return (round(max(v / b for v, b in zip(r, best, strict=True)), 3), sum(math.log(v) for v in r))
    g = grids[min(scales, key=cost)]
    return {k: g.as_dict() for k in keys}


def _members_common(cat, stamp) -> str:
    """The part of the members' keys they share: the catalogue (url and state) and the layer
    definitions (their files' size and times)."""
    from mbm_sig.config import LAYERS_DIR
    defs = sorted((p.name, _stat(p)) for p in Path(LAYERS_DIR).glob("*.yaml"))
    return json.dumps([cat.url, stamp, defs], default=str)


def _member_key(recipe, params: dict, doc: dict, common: str) -> str:
    """What a member's map, built and planned alone, is made of: its recipe as drawn (the
    series applied, so the series' values too) with its colours left out (:func:`_uncoloured`),
    the stats of the files it names (logo, basemap: size, times), and ``common``
    (:func:`_members_common`)."""
    bm = doc.get("basemap")
    named = [str((bm if isinstance(bm, dict) else {"source": bm}).get("source") or "") if bm else "",
             str(doc.get("logo") or "")]
    files = [_stat(Path(recipe).parent / n) for n in named if n]
    drawn = json.dumps(_uncoloured(doc), default=str)        # (in its order: a category's place is its colour's)
    return json.dumps([str(recipe), files, params, drawn, common], sort_keys=True, default=str)


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def _uncoloured(o):
    """A recipe with every colour value (``#rrggbb``) alike: what a sheet's plan is made of.
    The plan (legend blocks and their entries, frame, extent) is made of sizes and of what
    the data show, never of the colours drawn: a sheet recoloured (a fill, an outline, a
    category's colour) keeps its plan and its group's layout, and is not built again for
    the decision (tested: every basin map recoloured, the decision of a new process is the
    same). ``none`` and named palettes are kept as they are."""
    if isinstance(o, dict):
        return {k: _uncoloured(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_uncoloured(v) for v in o]
    return "#colour" if isinstance(o, str) and _COLOUR.fullmatch(o) else o


def _natural_size(m) -> tuple[float, float]:
    x0, y0, x1, y1 = m.extent_bounds
    return max(x1 - x0, 1.0) * (1 + m.margin), max(y1 - y0, 1.0) * (1 + m.margin)

