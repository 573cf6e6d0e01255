"""``symb_choro``: point symbols whose shape gives the category of a field (``var``) and
whose colour gives the class of a numeric variable (``var2``), as mapsf's
``mf_symb_choro`` (e.g. health establishments by kind, coloured by their commune's share
of people aged 65 and over)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.collections import CircleCollection, Collection, PathCollection
from matplotlib.transforms import IdentityTransform

from mbm_sig.maps import fmt, geom, layout
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.layout import PT_MM, LegendBlock
from mbm_sig.maps.types import _core as core
from mbm_sig.maps.types._core import DrawContext, Layer, MapType, classed, drawn_index, opt
from mbm_sig.maps.types._fields import field_option

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "p", "h")      # filled markers, distinct shapes


def _markers_check(value) -> str | None:
    from matplotlib.markers import MarkerStyle
    if not isinstance(value, dict) or not value:
        return "expected a mapping {category: marker}"
    for k, m in value.items():
        try:
            MarkerStyle(m)
        except (ValueError, TypeError):
            return f"unknown marker {m!r} for {k!r} (matplotlib markers: o s D ^ v P X * p h…)"
    return None


class SymbChoro(MapType):
    name = "symb_choro"
    doc = ("Point symbols: the shape gives the category of `var`, the colour the class of the numeric "
           "`var2` (two legend blocks: shapes and classes).")
    options = (
        field_option("var", "field holding the categories (one marker shape each)"),
        field_option("var2", "numeric field whose class colours the symbols"),
        opt("markers", (dict, type(None)), None, "marker of each category {value: marker} (default: o s ^ D v "
            "P X * p h in the categories' order)", check=_markers_check),
        opt("order", (list, type(None)), None, "order of the categories (default: the field's domain)"),
        opt("legend_title2", (str, type(None)), None, "title of the colour legend block"),
        *core.CLASSED, core.LEGEND_DECIMALS, core.SIZE, core.EDGECOLOR, core.LINEWIDTH,
    )
    numeric_vars = ("var2",)

    def recipe_defaults(self, spec, ld, kw, title_of):
        kw.setdefault("legend_title", title_of(spec["var"]))
        kw.setdefault("legend_title2", title_of(spec["var2"]))
        if "order" not in kw:
            try:
                dom = ld.field(spec["var"]).domain
            except KeyError:
                dom = None
            if dom:
                kw["order"] = list(dom)
        core.classed_defaults(spec, kw)

    def check_recipe(self, spec, fail, key):
        core.check_palette_classes(spec, fail, key)

    def labels_on_points(self, layer: Layer) -> bool | None:
        return True

    def prepare(self, L: Layer, data, o: dict) -> None:
        vals = data[o["var"]].astype(object).where(data[o["var"]].notna(), None).to_numpy()
        seen = {v for v in vals if v is not None}
        cats = [c for c in (o["order"] or []) if c in seen] + sorted(seen - set(o["order"] or []),
                                                                      key=fmt.collation_key)
        markers = dict(o["markers"] or {})
        free = [m for m in MARKERS if m not in markers.values()]
        for c in cats:
            if c not in markers:
                if not free:
                    raise MapError(f"markers: {len(cats)} categories, give a marker for each "
                                   f"(only {len(MARKERS)} default shapes)")
                markers[c] = free.pop(0)
        lookup = {c: i for i, c in enumerate(cats)}
        L.categories = cats
        L.style["markers"] = [markers[c] for c in cats]
        L.style["cat"] = np.array([lookup.get(v, -1) for v in vals], dtype=int)
        title2 = o["legend_title2"] or str(o["var2"])
        L.values, L.classes, L.breaks, L.colors, block = classed(data[o["var2"]], o, title2)
        L.anchors = geom.anchor_points(L.geoms)
        L.style["choro_block"] = block

    def legend(self, L: Layer, o: dict) -> list:
        size_mm = (o["size"] or 4.0) * PT_MM
        sym = {"size_mm": size_mm, "edgecolor": "#4d4d4d", "linewidth": 0.3}
        entries = [(str(c), {**sym, "marker": m, "fill": "#bdbdbd"})
                   for c, m in zip(L.categories, L.style["markers"], strict=True)]
        shapes = LegendBlock("symbols", o["legend_title"] if o["legend_title"] is not None else str(o["var"]),
                             entries=entries, sym={**sym, "marker": "o"})
        return [shapes, L.style["choro_block"]]

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        ax = ctx.ax
        idx = drawn_index(L, ctx.clip)
        cat = L.style["cat"]
        idx = idx[cat[idx] >= 0]
        size = L.style.get("size") or 4.0
        ec = L.style.get("edgecolor") or "#4d4d4d"
        lw = L.style.get("linewidth") if L.style.get("linewidth") is not None else 0.3
        col: Collection
        for c, marker in enumerate(L.style["markers"]):
            sel = idx[cat[idx] == c]
            if not len(sel):
                continue
            fc = [L.colors[k] if k >= 0 else core.NODATA for k in L.classes[sel]]
            if marker == "o":
                col = CircleCollection(np.full(len(sel), math.pi * (size / 2) ** 2), offsets=L.anchors[sel],
                                       offset_transform=ax.transData)
            else:
                col = PathCollection([layout.marker_path(marker)], sizes=np.full(len(sel), size ** 2),
                                     offsets=L.anchors[sel], offset_transform=ax.transData)
                col.set_transform(IdentityTransform())
            col.set_facecolor(fc)
            col.set_edgecolor(ec)
            col.set_linewidth(lw)
            ax.add_collection(col, autolim=False)
        if ctx.info is not None:
            ctx.info.symbols[ctx.index] = dict(markers=list(L.style["markers"]), size_mm=size * PT_MM)
        return int(len(idx))

    def symbol_radius(self, L: Layer):
        return (L.style.get("size") or 4.0) * PT_MM / 2


TYPE = SymbChoro()
