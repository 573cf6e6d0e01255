"""``bivariate``: bivariate choropleth, 3 × 3 (Joshua Stevens' method; Magrit, biscale):
each area coloured by the crossing of the terciles (or given breaks) of two variables, e.g.
GP density × share of people aged 65 and over. The legend is the usual square: the first
variable grows to the right, the second upwards, the break values on both axes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mbm_sig.maps import fmt
from mbm_sig.maps.analysis import bivariate as B
from mbm_sig.maps.layout import GREY, LegendBlock, line_height, measure, wrap
from mbm_sig.maps.types import _core as core
from mbm_sig.maps.types._core import DrawContext, Layer, MapType, draw_classed_areas, opt
from mbm_sig.maps.types._fields import field_option

N = 3


def _inner_check(value) -> str | None:
    if len(value) != N - 1 or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in value):
        return f"expected {N - 1} numbers (the inner breaks of {N} classes)"
    if value[1] <= value[0]:
        return "breaks must increase"
    return None


def _palette_check(value) -> str | None:
    if isinstance(value, str):
        return None if value in B.PALETTES else (f"unknown bivariate palette {value!r}; known: "
                                                 f"{', '.join(B.PALETTES)}")
    if len(value) != N * N or not all(isinstance(c, str) for c in value):
        return f"expected {N * N} colours, row by row from the bottom (low var2) to the top"
    return None


@dataclass
class BivariateBlock(LegendBlock):
    """The square legend: ``colors`` (n × n, row by row from the bottom), ``breaks``
    (x bounds) and ``breaks2`` (y bounds), axis titles ``title_x`` and ``title2`` (y);
    ``title``, when given, is a heading above the square."""

    breaks2: list | None = None
    title_x: str = ""
    title2: str = ""
    decimals2: int = 0

    CELL = 8.0

    def _labels(self):
        return ([fmt.num(b, self.decimals) for b in self.breaks], [fmt.num(b, self.decimals2) for b in self.breaks2])

    def _geometry(self):
        fs = self.text_size * 0.92
        xl, yl = self._labels()
        cell = max(self.CELL * self.scale, max(measure(s, fs)[0] for s in xl) + 1.0)
        n = len(self.breaks) - 1
        side = n * cell
        ylab_w = max(measure(s, fs)[0] for s in yl)
        ytitle = wrap(fmt.typo(self.title2) + " →", max(side, 20.0), self.text_size, "bold")
        lh = line_height(self.text_size, 1.1)
        ytitle_w = len(ytitle) * lh
        xtitle = wrap(fmt.typo(self.title_x) + " →", max(self.max_w - ytitle_w - ylab_w - 2, side), self.text_size,
                      "bold")
        gx = ytitle_w + 1.0 + ylab_w + 1.0          # grid left edge, from the block's left
        return dict(fs=fs, xl=xl, yl=yl, cell=cell, n=n, side=side, ytitle=ytitle, xtitle=xtitle, lh=lh, gx=gx,
                    ylab_w=ylab_w)

    def size(self) -> tuple[float, float]:
        g = self._geometry()
        w = g["gx"] + g["side"] + measure(g["xl"][-1], g["fs"])[0] / 2
        w = max([w] + [g["gx"] + measure(s, self.text_size, "bold")[0] for s in g["xtitle"]])
        h = self._top_pad() + g["side"] + 1.0 + g["fs"] * 0.36 + 1.2 + len(g["xtitle"]) * g["lh"]
        if self.nodata:
            h += 2 * self.scale + self.BOX_H * self.scale
            w = max(w, self.BOX_W * self.scale + 1.5 * self.scale + measure(self.nodata[1], self.text_size)[0])
        return w, h

    def _top_pad(self):
        # room for the top y label, centred on the grid's top edge
        return self._title_h() + self.text_size * 0.36 * 0.5 + 0.5

    def draw(self, page, x: float, y: float) -> list:
        g = self._geometry()
        y0 = page.lines(x, y, self.title_lines(), self.title_size, weight="bold")
        if self.title_lines():
            y0 += 1.5 * self.scale
        gy = y + self._top_pad()
        gx = x + g["gx"]
        c, n, fs = g["cell"], g["n"], g["fs"]
        for row in range(n):
            for col in range(n):
                page.rect(gx + col * c, gy + (n - 1 - row) * c, c, c, facecolor=self.colors[row * n + col],
                          edgecolor="#ffffff", linewidth=0.4)
        page.rect(gx, gy, g["side"], g["side"], facecolor="none", edgecolor=GREY, linewidth=0.3)
        cap = 0.73 * fs * 25.4 / 72 / 2
        for i, s in enumerate(g["xl"]):                  # x breaks under the grid's edges
            page.text(gx + i * c, gy + g["side"] + 1.0 + 2 * cap, s, size=fs, ha="center")
        for i, s in enumerate(g["yl"]):                  # y breaks left of the grid's edges
            page.text(gx - 1.0, gy + (n - i) * c + cap, s, size=fs, ha="right")
        yt = gy + g["side"] + 1.0 + 2 * cap + 1.2
        for j, s in enumerate(g["xtitle"]):
            page.text(gx, yt + (j + 0.8) * g["lh"], s, size=self.text_size, weight="bold")
        for j, s in enumerate(g["ytitle"]):              # rotated, reading upwards
            page.text(x + (j + 0.8) * g["lh"], gy + g["side"], s, size=self.text_size, weight="bold", rotation=90,
                      rotation_mode="anchor")
        if self.nodata:
            bw, bh = self.BOX_W * self.scale, self.BOX_H * self.scale
            yn = yt + len(g["xtitle"]) * g["lh"] + 2 * self.scale
            page.rect(x, yn, bw, bh, facecolor=self.nodata[0], edgecolor=GREY, linewidth=0.3)
            page.text(x + bw + 1.5 * self.scale, yn + bh / 2, self.nodata[1], size=self.text_size,
                      va="center_baseline")
        return [(s, "tick", 0.0, 0.0) for s in g["xl"] + g["yl"]]


class Bivariate(MapType):
    name = "bivariate"
    doc = ("Bivariate choropleth (3 × 3): areas coloured by the crossing of the classes (terciles by default) "
           "of `var` (x, to the right) and `var2` (y, upwards), with the square legend.")
    options = (
        field_option("var", "numeric field of the first variable (x axis of the legend)"),
        field_option("var2", "numeric field of the second variable (y axis)"),
        opt("breaks", (list, type(None)), None, "the 2 inner breaks of var (default: its terciles)",
            check=_inner_check),
        opt("breaks2", (list, type(None)), None, "the 2 inner breaks of var2 (default: its terciles)",
            check=_inner_check),
        opt("palette", (str, list), B.DEFAULT_PALETTE, f"bivariate palette ({', '.join(B.PALETTES)}) or 9 colours, "
            "row by row from the bottom", check=_palette_check),
        opt("legend_title2", (str, type(None)), None, "title of the y axis (default: var2's title)"),
        opt("legend_heading", (str, type(None)), None, "title above the square legend"),
        opt("legend_decimals", (int, type(None)), None, "decimals of var's breaks", minimum=0),
        opt("legend_decimals2", (int, type(None)), None, "decimals of var2's breaks", minimum=0),
        core.NODATA_OPT, core.NODATA_LABEL_OPT,
        opt("edgecolor", core.EDGECOLOR.types, None, core.EDGECOLOR.doc),
        opt("linewidth", core.LINEWIDTH.types, None, core.LINEWIDTH.doc, minimum=0), core.ALPHA,
    )
    numeric_vars = ("var", "var2")

    def recipe_defaults(self, spec, ld, kw, title_of):
        kw.setdefault("legend_title", title_of(spec["var"]))
        kw.setdefault("legend_title2", title_of(spec["var2"]))

    def prepare(self, L: Layer, data, o: dict) -> None:
        x = pd.to_numeric(data[o["var"]], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(data[o["var2"]], errors="coerce").to_numpy(dtype=float)
        bx = B.breaks_of(x, N, o["breaks"])
        by = B.breaks_of(y, N, o["breaks2"])
        L.values = x
        L.classes = B.classes(x, y, bx, by)
        L.breaks = bx
        L.style["breaks2"] = by
        L.colors = B.palette(o["palette"], N)

    def legend(self, L: Layer, o: dict) -> list:
        bx, by = L.breaks, L.style["breaks2"]
        dx = o["legend_decimals"] if o["legend_decimals"] is not None else fmt.auto_decimals(bx)
        dy = o["legend_decimals2"] if o["legend_decimals2"] is not None else fmt.auto_decimals(by)
        block = BivariateBlock("bivariate", o["legend_heading"] or "", breaks=list(bx), breaks2=list(by),
                               colors=list(L.colors), decimals=dx, decimals2=dy,
                               title_x=o["legend_title"] if o["legend_title"] is not None else str(o["var"]),
                               title2=o["legend_title2"] or str(o["var2"]),
                               nodata=(o["nodata"], o["nodata_label"]) if (L.classes < 0).any() else None)
        # entries: the break labels, x then y (render info)
        block.entries = [(s, None) for s in block._labels()[0] + block._labels()[1]]
        return [block]

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        return draw_classed_areas(ctx, L)


TYPE = Bivariate()
