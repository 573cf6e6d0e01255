"""``base``: outlines, fills and point symbols in one style (no variable)."""

from __future__ import annotations

from mbm_sig.maps import geom
from mbm_sig.maps.layout import PT_MM, LegendBlock
from mbm_sig.maps.types._core import (
    ALPHA,
    EDGECOLOR,
    FILL,
    HATCH,
    LEGEND_LABEL,
    LINESTYLE,
    LINEWIDTH,
    MARKER,
    SIZE,
    DrawContext,
    Layer,
    MapType,
    draw_base_points,
    is_points,
    type_id,
)


class Base(MapType):
    name = "base"
    doc = ("Outlines, fills or point symbols in one style: boundaries, perimeters, lines, points. "
           "A `legend_label` gives the layer one legend entry.")
    options = (FILL, EDGECOLOR, LINEWIDTH, LINESTYLE, ALPHA, HATCH, MARKER, SIZE, LEGEND_LABEL)

    def legend(self, L: Layer, o: dict) -> list:
        if not o["legend_label"]:
            return []
        fill, edgecolor, linewidth, size = o["fill"], o["edgecolor"], o["linewidth"], o["size"]
        is_pt = is_points(L.geoms)
        is_line = (fill in (None, "none")) and not is_pt
        st = {"fill": fill or "none", "edgecolor": edgecolor or "#333333", "linewidth": linewidth or 0.6,
              "linestyle": o["linestyle"], "line": is_line, "hatch": o["hatch"],
              "marker": o["marker"] if is_pt else None}
        if is_pt:       # drawn like the points are drawn
            st.update(fill=fill or "#000000", edgecolor=edgecolor or "#ffffff", size_mm=(size or 4.0) * PT_MM,
                      linewidth=linewidth if linewidth is not None else 0.3)
        return [LegendBlock("base", "", entries=[(o["legend_label"], st)])]

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        tid = type_id(L)
        if tid and tid[0] in (0, 4):   # points
            return draw_base_points(ctx, L)
        ax, st = ctx.ax, L.style
        mask = geom.in_extent(L.geoms, ctx.clip)
        is_line = tid and tid[0] in (1, 5)
        fill = st["fill"]
        lw = st["linewidth"] if st["linewidth"] is not None else 0.5
        ec = st["edgecolor"] or "#333333"
        if is_line or fill in (None, "none"):
            p = geom.outline_path(L.geoms, mask, ctx.clip, ctx.tol, ctx.m_per_mm)
            if p is not None:
                ax.draw_path(p, fill=False, edgecolor=ec, linewidth=lw, linestyle=st["linestyle"],
                             alpha=st["alpha"], capstyle="round", joinstyle="round")
        else:
            (p,) = geom.group_paths(geom.area_rings(L.geoms, mask, ctx.clip, ctx.tol, ctx.m_per_mm),
                                    None, 1)
            if p is not None:
                ax.draw_path(p, facecolor=fill, edgecolor=ec, linewidth=lw, linestyle=st["linestyle"],
                             alpha=st["alpha"], hatch=st["hatch"], joinstyle="round")
        return int(mask.sum())


TYPE = Base()
