"""``grad``: graduated symbols (mapsf's ``mf_grad``): the values are cut in classes and
each class gets one symbol size (points, areas: circles or squares at their anchor) or one
line width (lines). Unlike proportional symbols the sizes do not follow the values: they
are ordered steps, for a variable whose classes matter more than its exact amounts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mbm_sig.maps import fmt, geom
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.layout import GREY, PT_MM, LegendBlock, line_height
from mbm_sig.maps.types._core import CLASSED, LEGEND_DECIMALS, DrawContext, Layer, MapType, opt, type_id
from mbm_sig.maps.types._fields import field_option

METHOD, BREAKS = (next(o for o in CLASSED if o.name == n) for n in ("method", "breaks"))


def _sizes_check(value) -> str | None:
    if not value or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in value):
        return "expected a list of sizes > 0 (pt), one per class"
    if any(b <= a for a, b in zip(value, value[1:], strict=False)):
        return "sizes must increase from the lowest class to the highest"
    return None


def pick(sizes, n: int) -> list[float]:
    """``n`` of the given increasing ``sizes``: all of them when there are ``n``, else
    evenly spread from the first to the last (ties in the data can leave fewer classes than
    asked for: the smallest and largest sizes are kept)."""
    sizes = [float(s) for s in sizes]
    if n >= len(sizes):
        return sizes[:n] if n == len(sizes) else sizes
    if n == 1:
        return sizes[-1:]
    return [sizes[int(round(i))] for i in np.linspace(0, len(sizes) - 1, n)]


def class_labels(bounds, decimals: int) -> list[str]:
    """«a – b» for each class (lowest first)."""
    return [f"{fmt.num(a, decimals)} – {fmt.num(b, decimals)}" for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@dataclass
class SizesBlock(LegendBlock):
    """A legend of size classes: one row per class, the highest on top, each with its
    symbol at the map's size (``entries``: ``(label, size_mm)``, the size a diameter for
    ``symbol`` circle or square, a line width for ``line``); ``colors``: fill and edge."""

    LINE_W = 10.0

    def _rows(self):
        fs = self.text_size
        lh = line_height(fs, 1.15)
        rows, y = [], 0.0
        for label, s in self.entries:
            rh = max(s + 0.6 if self.symbol != "line" else s, self.BOX_H * self.scale, lh)
            rows.append((label, s, y, rh))
            y += rh + 1.0 * self.scale
        return rows, y

    def _swatch_w(self, items=None):
        if self.symbol == "line":
            return self.LINE_W * self.scale
        return max([s for _, s in self.entries] + [self.BOX_W * self.scale * 0.6])

    def size(self) -> tuple[float, float]:
        from mbm_sig.maps.layout import measure
        tl = self.title_lines()
        w = max([measure(s, self.title_size, "bold")[0] for s in tl] + [0])
        rows, h = self._rows()
        sw = self._swatch_w()
        lw = max([measure(lab, self.text_size)[0] for lab, *_ in rows] + [0])
        return max(w, sw + 1.5 * self.scale + lw), self._title_h() + h

    def draw(self, page, x: float, y: float) -> list:
        drawn = []
        y = page.lines(x, y, self.title_lines(), self.title_size, weight="bold")
        if self.title_lines():
            y += 1.5 * self.scale
        style: dict = self.colors if isinstance(self.colors, dict) else {}
        fill, ec = style.get("fill", "#000000"), style.get("edgecolor", GREY)
        sw = self._swatch_w()
        rows, _ = self._rows()
        for label, s, dy, rh in rows:
            cx, cy = x + sw / 2, y + dy + rh / 2
            if self.symbol == "line":
                page.segment(x, cy, x + sw, cy, color=fill, linewidth=s / PT_MM, capstyle="butt")
                drawn.append((label, "line", sw, s))
            elif self.symbol == "square":
                page.rect(cx - s / 2, cy - s / 2, s, s, facecolor=fill, edgecolor=ec, linewidth=0.4)
                drawn.append((label, "square", s, s))
            else:
                page.circle(cx, cy, s / 2, facecolor=fill, edgecolor=ec, linewidth=0.4)
                drawn.append((label, "circle", s, s))
            page.text(x + sw + 1.5 * self.scale, cy, label, size=self.text_size, va="center_baseline")
        return drawn


def draw_lines_by_class(ctx: DrawContext, geoms, classes, widths, color, alpha=1.0) -> int:
    """Lines of each class in one compound path at the class's width (pt)."""
    ax = ctx.ax
    mask = geom.in_extent(geoms, ctx.clip) & (classes >= 0)
    n = 0
    for c, w in enumerate(widths):
        sel = mask & (classes == c)
        if not sel.any():
            continue
        p = geom.outline_path(geoms, sel, ctx.clip, ctx.tol, ctx.m_per_mm)
        if p is not None:
            ax.draw_path(p, fill=False, edgecolor=color, linewidth=w, alpha=alpha, capstyle="round",
                         joinstyle="round")
            n += int(sel.sum())
    return n


class Grad(MapType):
    name = "grad"
    doc = ("Graduated symbols: the classes of a numeric variable drawn as symbols of increasing sizes "
           "(points, areas) or lines of increasing widths (lines).")
    options = (
        field_option("var", "numeric field to classify"),
        METHOD,
        opt("k", int, 3, "number of classes", minimum=2),
        BREAKS,
        opt("sizes", (list, type(None)), None, "symbol diameters (pt; line widths for lines), one per class, "
            "increasing (default: 4 to 16 pt, lines 0.5 to 3.5 pt)", check=_sizes_check),
        opt("symbol", str, "circle", "symbol shape", choices=("circle", "square")),
        opt("fill", str, "#d7301f", "symbol (or line) colour"),
        opt("edgecolor", (str, type(None)), None, "symbol outline colour (default white)"),
        opt("linewidth", (float, type(None)), None, "symbol outline width (pt)", minimum=0),
        LEGEND_DECIMALS,
    )
    numeric_vars = ("var",)

    def recipe_defaults(self, spec, ld, kw, title_of):
        kw.setdefault("legend_title", title_of(spec["var"]))

    def labels_on_points(self, layer: Layer) -> bool | None:
        return True if layer.anchors is not None else None

    def prepare(self, L: Layer, data, o: dict) -> None:
        from mbm_sig.maps.classify import assign, classify, normalise_method
        vals = pd.to_numeric(data[o["var"]], errors="coerce").to_numpy(dtype=float)
        m = normalise_method("breaks" if o["breaks"] is not None else o["method"])
        b = classify(vals, m, o["k"], o["breaks"])
        k = len(b) - 1
        lines = type_id(L) and type_id(L)[0] in (1, 5)
        sizes = pick(o["sizes"], k) if o["sizes"] else (list(np.linspace(0.5, 3.5, k)) if lines
                                                            else list(np.linspace(4, 16, k)))
        if len(sizes) != k:
            raise MapError(f"sizes: {len(sizes)} sizes for {k} classes")
        cls = assign(vals, b)
        L.values, L.classes, L.breaks = vals, cls, b
        L.style.update(fill=o["fill"], edgecolor=o["edgecolor"], linewidth=o["linewidth"], symbol=o["symbol"])
        L.style["class_sizes"] = [float(s) for s in sizes]
        size = np.array(sizes, dtype=float)
        if lines:
            L.anchors = None
            L.sizes = None
        else:
            L.anchors = geom.anchor_points(L.geoms)
            L.sizes = np.where(cls >= 0, size[np.clip(cls, 0, None)] / 2, 0.0)    # radius (pt)

    def legend(self, L: Layer, o: dict) -> list:
        b = L.breaks
        dec = o["legend_decimals"] if o["legend_decimals"] is not None else fmt.auto_decimals(b)
        labels = class_labels(b, dec)
        sizes = L.style["class_sizes"]
        entries = [(lab, s * PT_MM) for lab, s in zip(labels, sizes, strict=True)][::-1]
        block = SizesBlock("grad", o["legend_title"] if o["legend_title"] is not None else str(o["var"]),
                           entries=entries, breaks=list(b), decimals=dec,
                           colors={"fill": o["fill"], "edgecolor": o["edgecolor"] or GREY})
        block.symbol = "line" if L.anchors is None else o["symbol"]
        return [block]

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        if L.anchors is None:
            return draw_lines_by_class(ctx, L.geoms, L.classes, L.style["class_sizes"], L.style["fill"])
        from mbm_sig.maps.types.prop import TYPE as PROP
        return PROP.draw(ctx, L)          # circles (squares) of radius L.sizes, the largest first

    def symbol_radius(self, L: Layer):
        if L.sizes is not None:
            return L.sizes * PT_MM
        return 0.8


TYPE = Grad()
