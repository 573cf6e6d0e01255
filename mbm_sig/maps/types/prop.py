"""``prop``: proportional symbols, circles (or squares) whose area is proportional to a
numeric variable, at the features' anchor points."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.collections import CircleCollection, Collection, RegularPolyCollection

from mbm_sig.maps import fmt, geom, layout
from mbm_sig.maps.layout import PT_MM, LegendBlock
from mbm_sig.maps.types._core import (
    EDGECOLOR,
    FILL,
    LEGEND_DECIMALS,
    LINEWIDTH,
    NODATA,
    DrawContext,
    Layer,
    MapType,
    Option,
    opt,
)

PROP_OPTIONS = (
    opt("var", str, None, "numeric field the symbols' areas are proportional to", required=True, field=True),
    opt("inches", float, 0.25, "radius of the largest symbol (inches)", minimum=0, exclusive_min=True),
    opt("symbol", str, "circle", "symbol shape", choices=("circle", "square")),
    opt("val_max", (float, int, type(None)), None, "value drawn at the full radius (as in mapsf): sheets "
        "meant to be compared share one scale (default: the sheet's largest value)", minimum=0,
        exclusive_min=True),
    FILL, EDGECOLOR, LINEWIDTH, LEGEND_DECIMALS,
)

LABEL_GAP_MM = 2.6          # two reference labels of the size legend never closer (text height)


def nice_values(vmax: float, n: int = 3, scale_max: float | None = None, rmax_mm: float | None = None,
                gap_mm: float = LABEL_GAP_MM) -> list[float]:
    """Reference values for a proportional-symbol legend: the maximum, then round values;
    with ``rmax_mm`` (the radius of ``scale_max``, default ``vmax``), a value is kept only
    when its label (at the top of its circle) clears the previous one by ``gap_mm``."""
    out = [vmax]
    smax = scale_max or vmax
    for f in (0.4, 0.1)[: n - 1]:
        v = layout.nice_length(vmax * f * 1.25)
        if not (v > 0 and v < out[-1] * 0.8):
            continue
        if rmax_mm is not None:
            top = 2 * rmax_mm * math.sqrt(out[-1] / smax)
            if top - 2 * rmax_mm * math.sqrt(v / smax) < gap_mm:
                continue
        out.append(v)
    return out


def whole(values) -> bool:
    """True when every finite value is a whole number (a count)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v)) and bool(np.all(np.abs(v - np.round(v)) < 1e-9))


def on_points(geoms) -> bool:
    import shapely
    return bool(len(geoms)) and bool(np.all(np.isin(shapely.get_type_id(geoms), (0, 4))))


class Prop(MapType):
    name = "prop"
    doc = "Proportional symbols: circles (or squares) whose area is proportional to a count or stock."
    options: tuple[Option, ...] = PROP_OPTIONS
    numeric_vars: tuple[str, ...] = ("var",)
    default_fill = "#fdae6b"

    def recipe_defaults(self, spec, ld, kw, title_of):
        kw.setdefault("legend_title", title_of(spec["var"]))

    def labels_on_points(self, layer: Layer) -> bool | None:
        return True if on_points(layer.geoms) else None

    def prepare(self, L: Layer, data, o: dict) -> None:
        vals = pd.to_numeric(data[o["var"]], errors="coerce").to_numpy(dtype=float)
        vmax = np.nanmax(np.abs(vals)) if np.isfinite(vals).any() else 1.0
        scale = float(o["val_max"]) if o.get("val_max") else vmax
        rmax_pt = o["inches"] * 72
        L.values, L.vmax, L.scale_max = vals, vmax, scale
        L.sizes = rmax_pt * np.sqrt(np.abs(np.nan_to_num(vals)) / scale)
        L.anchors = geom.anchor_points(L.geoms)
        L.style["fill"] = o["fill"] or self.default_fill
        L.style["symbol"] = o["symbol"]

    def size_block(self, L: Layer, o: dict, fill: str) -> LegendBlock:
        """The legend block of the symbol sizes (reference values, largest first)."""
        vmax, rmax_pt = L.vmax, o["inches"] * 72
        scale = getattr(L, "scale_max", None) or vmax
        counts = whole(L.values)
        dec = o["legend_decimals"] if o["legend_decimals"] is not None else (0 if counts or vmax >= 100 else 1)
        distinct = np.unique(np.abs(L.values[np.isfinite(L.values) & (L.values != 0)]))
        if len(distinct) == 1:          # a single value is stated, not drawn as a three-circle scale
            refs = [float(distinct[0])]
        else:
            refs = nice_values(vmax, scale_max=scale, rmax_mm=rmax_pt * PT_MM)
            if counts:
                refs = list(dict.fromkeys(float(round(v)) for v in refs if round(v) > 0))
        entries = [(fmt.num(v, dec), rmax_pt * math.sqrt(v / scale) * PT_MM) for v in refs]
        block = LegendBlock("prop", o["legend_title"] if o["legend_title"] is not None else str(o["var"]),
                            entries=entries, colors={"fill": fill, "edgecolor": "#636363"})
        block.symbol = "square" if o["symbol"] == "square" else "circle"
        missing = ~np.isfinite(L.values)
        if missing.any():           # features without a value: no symbol, said with their count
            block.nodata = (None, f"Pas de données, sans symbole ({fmt.num(int(missing.sum()))})")
        return block

    def legend(self, L: Layer, o: dict) -> list:
        return [self.size_block(L, o, L.style["fill"])]

    def face_colors(self, L: Layer, idx):
        return L.style["fill"]

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        ax = ctx.ax
        xy, r = L.anchors, L.sizes
        rmax_m = (r.max() if len(r) else 0) * PT_MM * ctx.m_per_mm
        x0, y0, x1, y1 = ctx.clip
        keep = ((xy[:, 0] > x0 - rmax_m) & (xy[:, 0] < x1 + rmax_m) & (xy[:, 1] > y0 - rmax_m)
                & (xy[:, 1] < y1 + rmax_m) & np.isfinite(L.values) & (r > 0))
        idx = np.flatnonzero(keep)
        idx = idx[np.argsort(-r[idx], kind="stable")]          # big first: small ones stay on top
        fc = self.face_colors(L, idx)
        ec = L.style["edgecolor"] or "#ffffff"
        lw = L.style["linewidth"] if L.style["linewidth"] is not None else 0.4
        col: Collection
        if L.style.get("symbol") == "square":
            col = RegularPolyCollection(4, rotation=math.pi / 4, sizes=math.pi * 2 * r[idx] ** 2,
                                        offsets=xy[idx], offset_transform=ax.transData)
        else:
            col = CircleCollection(math.pi * r[idx] ** 2, offsets=xy[idx], offset_transform=ax.transData)
        col.set_facecolor(fc)
        col.set_edgecolor(ec)
        col.set_linewidth(lw)
        ax.add_collection(col, autolim=False)
        if ctx.info is not None and len(idx):
            d = 2 * r[idx] * PT_MM
            ctx.info.symbols[ctx.index] = dict(marker="s" if L.style.get("symbol") == "square" else "o",
                                               max_mm=float(d.max()), min_mm=float(d.min()))
        return int(len(idx))

    def symbol_radius(self, L: Layer):
        if L.sizes is not None:
            return L.sizes * PT_MM
        return super().symbol_radius(L)


TYPE = Prop()
__all__ = ["NODATA", "PROP_OPTIONS", "Prop", "TYPE", "nice_values", "on_points"]
