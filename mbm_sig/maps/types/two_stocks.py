"""``two_stocks``: two stocks per unit on one scale of proportional symbols (Magrit's
two-stock comparison), e.g. private and mining general practitioners by commune.

``mode: half`` (default) draws two half discs back to back at each unit, the first stock
on the left, the second on the right; ``nested`` draws two whole discs, the larger under
the smaller. Both stocks share one scale: a symbol's area is proportional to its value,
the same value gives the same size in both series (mapsf's ``val_max``), and the legend
shows the common scale and the colour of each stock."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.collections import CircleCollection, Collection, PathCollection
from matplotlib.path import Path
from matplotlib.transforms import IdentityTransform

from mbm_sig.maps import fmt, geom
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.layout import GREY, PT_MM, LegendBlock, line_height, measure
from mbm_sig.maps.types._core import LEGEND_DECIMALS, DrawContext, Layer, MapType, is_points, opt
from mbm_sig.maps.types._fields import field_option
from mbm_sig.maps.types.prop import nice_values

MODES = ("half", "nested")
LEFT, RIGHT = Path.wedge(90, 270), Path.wedge(-90, 90)       # unit half discs


def common_max(a, b) -> float:
    """The largest value of both stocks: the value of the largest symbol (0 when no stock
    is above 0: nothing to draw, e.g. a territory without any GP)."""
    v = np.concatenate([np.asarray(a, float).ravel(), np.asarray(b, float).ravel()])
    v = v[np.isfinite(v)]
    if (v < 0).any():
        raise MapError(f"two_stocks: stocks must be >= 0 (found {v.min():g})")
    return float(v.max()) if v.size else 0.0


def radii(values, rmax: float, vmax: float) -> np.ndarray:
    """Radius of each symbol (unit of ``rmax``): ``rmax * sqrt(v / vmax)``; 0 when missing."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    if vmax <= 0:
        return np.zeros(v.shape)
    return rmax * np.sqrt(np.clip(v, 0, None) / vmax)


def _half_disc(cx, cy, r, left=True, n=40):
    t = np.linspace(math.pi / 2, 3 * math.pi / 2, n) if left else np.linspace(-math.pi / 2, math.pi / 2, n)
    return np.c_[cx + r * np.cos(t), cy - r * np.sin(t)]


@dataclass
class TwoStocksBlock(LegendBlock):
    """The common scale (``entries``: ``(label, radius_mm)``, largest first) drawn as half
    discs (``symbol="half"``) or discs, then one row per stock with its colour
    (``colors``: ``{"stocks": [(label, colour), (label, colour)]}``)."""

    def _swatch(self):
        return 2.2 * self.scale

    def _stock_rows(self):
        lh = line_height(self.text_size, 1.15)
        stocks = self.colors.get("stocks", []) if isinstance(self.colors, dict) else []
        return [(lab, col, max(2 * self._swatch() + 0.6, lh)) for lab, col in stocks]

    def _shown(self, base):
        """The reference values whose labels (at the top of their symbol) do not touch the
        label above them: the largest always, the next ones only a line apart."""
        lh = 0.9 * line_height(self.text_size)
        out, last = [], None
        for label, r in self.entries:
            ty = base - 2 * r
            if last is None or ty - last >= lh:
                out.append((label, r))
                last = ty
        return out

    def size(self) -> tuple[float, float]:
        tl = self.title_lines()
        w = max([measure(s, self.title_size, "bold")[0] for s in tl] + [0])
        rmax = self.entries[0][1] if self.entries else 0
        lw = max([measure(s, self.text_size)[0] for s, _ in self.entries] + [0])
        half = self.symbol == "half"
        w = max(w, (rmax if half else 2 * rmax) + 4 + lw)
        h = self._title_h() + 2 * rmax + 1.5
        for lab, _, rh in self._stock_rows():
            w = max(w, 2 * self._swatch() + 1.5 * self.scale + measure(lab, self.text_size)[0])
            h += rh + 1.0 * self.scale
        return w, h

    def draw(self, page, x: float, y: float) -> list:
        drawn = []
        y = page.lines(x, y, self.title_lines(), self.title_size, weight="bold")
        if self.title_lines():
            y += 1.5 * self.scale
        rmax = self.entries[0][1] if self.entries else 0
        half = self.symbol == "half"
        cx = x + rmax
        base = y + 2 * rmax
        kw = dict(facecolor="#f0f0f0", edgecolor=GREY, linewidth=0.4)
        for label, r in self._shown(base):
            if half:
                page.poly(_half_disc(cx, base - r, r), **kw)
            else:
                page.circle(cx, base - r, r, **kw)
            drawn.append((label, "half" if half else "circle", r if half else 2 * r, 2 * r))
        x_lab = cx + (0 if half else rmax) + 2
        for label, r in self._shown(base):
            ty = base - 2 * r
            page.segment(cx, ty, x_lab, ty, color=GREY, linewidth=0.3)
            page.text(x_lab + 0.5, ty, label, size=self.text_size, va="center_baseline")
        y = base + 1.5
        s = self._swatch()
        for i, (lab, col, rh) in enumerate(self._stock_rows()):
            yc = y + rh / 2
            if half:       # the stock's half filled, the other half in outline: which side is which
                page.poly(_half_disc(x + s, yc, s, left=i != 0), facecolor="none", edgecolor="#bdbdbd",
                          linewidth=0.3)
                page.poly(_half_disc(x + s, yc, s, left=i == 0), facecolor=col, edgecolor="#ffffff", linewidth=0.3)
            else:
                page.circle(x + s, yc, s, facecolor=col, edgecolor="#ffffff", linewidth=0.3)
            page.text(x + 2 * s + 1.5 * self.scale, yc, lab, size=self.text_size, va="center_baseline")
            drawn.append((lab, "half" if half else "circle", s if half else 2 * s, 2 * s))
            y += rh + 1.0 * self.scale
        return drawn


class TwoStocks(MapType):
    name = "two_stocks"
    doc = ("Two stocks per unit (`var`, `var2`) as proportional symbols on one scale: two half discs "
           "back to back (`mode: half`) or two nested discs (`mode: nested`).")
    options = (
        field_option("var", "numeric field of the first stock (left half disc)"),
        field_option("var2", "numeric field of the second stock (right half disc)"),
        opt("mode", str, "half", "half (two half discs) or nested (two discs)", choices=MODES),
        opt("inches", float, 0.25, "radius of the largest symbol (inches)", minimum=0, exclusive_min=True),
        opt("val_max", (float, type(None)), None, "value drawn at the radius `inches` (default: the largest "
            "value of both stocks); the same on every sheet of a series gives them one scale", minimum=0,
            exclusive_min=True),
        opt("colors", (list, type(None)), None, "colours of the two stocks (default: #e6550d, #3182bd)",
            check=lambda v: None if len(v) == 2 and all(isinstance(c, str) for c in v) else "expected two colours"),
        opt("legend_label", (str, type(None)), None, "legend label of the first stock (default: its field title)"),
        opt("legend_label2", (str, type(None)), None, "legend label of the second stock"),
        opt("edgecolor", (str, type(None)), None, "outline colour of the symbols (default white)"),
        opt("linewidth", (float, type(None)), None, "outline width (pt)", minimum=0),
        LEGEND_DECIMALS,
    )
    numeric_vars = ("var", "var2")
    COLORS = ("#e6550d", "#3182bd")

    def recipe_defaults(self, spec, ld, kw, title_of):
        kw.setdefault("legend_label", title_of(spec["var"]))
        kw.setdefault("legend_label2", title_of(spec["var2"]))

    def labels_on_points(self, layer: Layer) -> bool | None:
        return True if is_points(layer.geoms) else None

    def prepare(self, L: Layer, data, o: dict) -> None:
        a = pd.to_numeric(data[o["var"]], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(data[o["var2"]], errors="coerce").to_numpy(dtype=float)
        vmax = o["val_max"] if o["val_max"] is not None else common_max(a, b)
        if o["val_max"] is not None:
            common_max(a, b)              # the stocks are still checked (>= 0)
        rmax_pt = o["inches"] * 72
        L.values, L.vmax = np.c_[a, b], vmax
        ra, rb = radii(a, rmax_pt, vmax), radii(b, rmax_pt, vmax)
        L.style["radii"] = np.c_[ra, rb]
        L.sizes = np.maximum(ra, rb)                 # what labels must clear
        L.anchors = geom.anchor_points(L.geoms)
        L.style.update(mode=o["mode"], colors=list(o["colors"] or self.COLORS), edgecolor=o["edgecolor"],
                       linewidth=o["linewidth"])

    def legend(self, L: Layer, o: dict) -> list:
        vmax, rmax_pt = L.vmax, o["inches"] * 72
        v = L.values[np.isfinite(L.values)]
        counts = bool(np.all(v == np.round(v)))
        dec = o["legend_decimals"] if o["legend_decimals"] is not None else (0 if counts or vmax >= 100 else 1)
        entries = ([(fmt.num(v, dec), rmax_pt * math.sqrt(v / vmax) * PT_MM) for v in nice_values(vmax)]
                   if vmax > 0 else [])
        c1, c2 = L.style["colors"]
        block = TwoStocksBlock("two_stocks", o["legend_title"] or "", entries=entries,
                               colors={"stocks": [(o["legend_label"] or str(o["var"]), c1),
                                                  (o["legend_label2"] or str(o["var2"]), c2)]})
        block.symbol = "half" if o["mode"] == "half" else "circle"
        return [block]

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        ax = ctx.ax
        xy, r = L.anchors, L.style["radii"]
        big = r.max(axis=1)
        rmax_m = (big.max() if len(big) else 0) * PT_MM * ctx.m_per_mm
        x0, y0, x1, y1 = ctx.clip
        keep = ((xy[:, 0] > x0 - rmax_m) & (xy[:, 0] < x1 + rmax_m) & (xy[:, 1] > y0 - rmax_m)
                & (xy[:, 1] < y1 + rmax_m) & (big > 0))
        idx = np.flatnonzero(keep)
        idx = idx[np.argsort(-big[idx], kind="stable")]       # big first: small ones stay on top
        c1, c2 = L.style["colors"]
        ec = L.style.get("edgecolor") or "#ffffff"
        lw = L.style.get("linewidth") if L.style.get("linewidth") is not None else 0.4
        col: Collection
        if L.style["mode"] == "half":
            # items unit by unit: left half (first stock), right half (second): the
            # collection cycles through its two paths
            sizes = r[idx].ravel() ** 2
            col = PathCollection([LEFT, RIGHT], sizes=sizes, offsets=np.repeat(xy[idx], 2, axis=0),
                                 offset_transform=ax.transData)
            col.set_transform(IdentityTransform())
            col.set_facecolor([c1, c2] * len(idx))
        else:
            first = r[idx, 0] >= r[idx, 1]           # the larger disc under the smaller
            under = np.where(first, r[idx, 0], r[idx, 1])
            over = np.where(first, r[idx, 1], r[idx, 0])
            sizes = math.pi * np.c_[under, over].ravel() ** 2
            col = CircleCollection(sizes, offsets=np.repeat(xy[idx], 2, axis=0), offset_transform=ax.transData)
            fc = np.empty((len(idx), 2), dtype=object)
            fc[:, 0] = np.where(first, c1, c2)
            fc[:, 1] = np.where(first, c2, c1)
            col.set_facecolor(list(fc.ravel()))
        col.set_edgecolor(ec)
        col.set_linewidth(lw)
        ax.add_collection(col, autolim=False)
        if ctx.info is not None and len(idx):
            ctx.info.symbols[ctx.index] = dict(marker=L.style["mode"], max_mm=float(2 * big[idx].max() * PT_MM),
                                               radii_mm=r[idx] * PT_MM)
        return int(len(idx))

    def symbol_radius(self, L: Layer):
        return L.sizes * PT_MM if L.sizes is not None else 0.8


TYPE = TwoStocks()
