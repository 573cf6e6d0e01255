"""``symbols``: point symbols, one marker per feature, coloured by category (``var``) or
all alike (a single legend entry)."""

from __future__ import annotations

from mbm_sig.maps.types import _core as core
from mbm_sig.maps.types._core import DrawContext, Layer, MapType, draw_points, opt
from mbm_sig.maps.types.typo import CATEGORY_OPTIONS, categorise, category_defaults, category_legend


class Symbols(MapType):
    name = "symbols"
    doc = ("Point symbols (a matplotlib marker at the anchor of each feature), coloured by the category "
           "of `var`, or all alike with one legend entry (`legend_label`).")
    options = (opt("var", (str, type(None)), None, "field holding the categories (none: one symbol)", field=True),
               *CATEGORY_OPTIONS,
               opt("shape_var", (str, type(None)), None, "a second field shown by the symbols' shape (colour: "
                   "var), with its own legend block", field=True),
               opt("shapes", (dict, type(None)), None, "marker of each value of shape_var {value: marker} "
                   "(legend order)"),
               opt("shape_labels", (dict, type(None)), None, "legend label of each value of shape_var"),
               opt("shape_title", (str, type(None)), None, "title of the shapes' legend block"),
               opt("displace_mm", (float, type(None)), None, "point displacement (QGIS): symbols that would "
                   "touch on paper are spread on a ring of at least this radius (mm) around their "
                   "common place, their labels with them", minimum=0, exclusive_min=True),
               core.MARKER, core.SIZE, core.FILL, core.EDGECOLOR, core.LINEWIDTH, core.LEGEND_LABEL)

    def recipe_defaults(self, spec, ld, kw, title_of):
        style = ld.style or {}
        if "fill" not in spec and style.get("color"):
            kw["fill"] = style["color"]
        category_defaults(spec, ld, kw, title_of)
        if not spec.get("var"):
            kw.setdefault("legend_label", ld.title)

    def labels_on_points(self, layer: Layer) -> bool | None:
        return True

    def prepare(self, L: Layer, data, o: dict) -> None:
        categorise(L, data, o, symbols=True)
        if o.get("displace_mm") and L.anchors is not None:
            L.displace = (float(o["displace_mm"]), None)

    def legend(self, L: Layer, o: dict) -> list:
        return category_legend(L, o)

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        if L.displace is None:
            return draw_points(ctx, L)
        # at this sheet's scale; the labels and the symbols they keep off use the drawn places
        # (L.displace[1]); L.anchors, the features' own places, stay for the legend and focus
        ring_mm = L.displace[0]
        L.displace = (ring_mm, displaced(L.anchors, (L.style["size"] or 4.0) * core.PT_MM, ring_mm, ctx.m_per_mm))
        own = L.anchors
        L.anchors = L.displace[1]
        try:
            return draw_points(ctx, L)
        finally:
            L.anchors = own


def displaced(xy, symbol_mm: float, ring_mm: float, m_per_mm: float):
    """QGIS's point displacement: the points whose symbols (``symbol_mm`` wide on paper) could
    touch another's, grouped, each group spread evenly on a ring around its centre, clockwise from
    the top in the order of the features; the ring's radius at least ``ring_mm`` and enough
    for the symbols not to touch. Ground coordinates in and out; alone, a point stays."""
    import math

    import numpy as np
    out = np.array(xy, dtype=float, copy=True)
    n = len(out)
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    near = 1.45 * symbol_mm * m_per_mm      # squares and diamonds touch up to √2 of their size apart
    for i in range(n):
        d = np.hypot(out[i + 1:, 0] - out[i, 0], out[i + 1:, 1] - out[i, 1])
        for j in np.flatnonzero(d < near) + i + 1:
            parent[root(int(j))] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        if np.isfinite(out[i]).all():
            groups.setdefault(root(i), []).append(i)
    for members in groups.values():
        k = len(members)
        if k < 2:
            continue
        cx, cy = out[members].mean(axis=0)
        r = max(ring_mm, 0.6 * symbol_mm / math.sin(math.pi / k)) * m_per_mm
        for step, i in enumerate(members):
            a = math.pi / 2 - 2 * math.pi * step / k
            out[i] = (cx + r * math.cos(a), cy + r * math.sin(a))
    return out


TYPE = Symbols()
