"""``potential``: smoothed map of Stewart potentials (the R package ``potential``): the
stock ``var`` of each feature (at its centroid) spread over a grid by an interaction
function of distance (``fun``: ``e`` exponential or ``p`` Pareto, ``span``: the distance
where the interaction is one half, ``beta``: the impedance), drawn as contour bands
clipped to the layer's area. With ``var2``, the ratio of the two potentials
(``multiplier × pot(var) / pot(var2)``): a rate smoothed over the neighbourhood, for
densities over small populations (GPs per 10 000 inhabitants). Only the layer's features
count as masses: near the edge of the area the potential misses the neighbours beyond it
(select a wider layer and a narrower extent to avoid that edge effect). The bands are
classes of the grid values inside the area (``equal`` by default, as ``equipotential``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from mbm_sig.maps import fmt
from mbm_sig.maps.analysis import potential as P
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.layout import LegendBlock
from mbm_sig.maps.types import _core as core
from mbm_sig.maps.types._core import DrawContext, Layer, MapType, draw_classed_areas, opt
from mbm_sig.maps.types._fields import field_option

_CLASSED = {o.name: o for o in core.CLASSED}
FUNCTIONS = ("e", "p", "exponential", "pareto")


class Potential(MapType):
    name = "potential"
    doc = ("Smoothed potential (Stewart): the stock `var` (or the ratio `var` / `var2`) spread by a "
           "distance interaction of `span` metres, drawn as contour bands clipped to the layer's area.")
    options = (
        field_option("var", "numeric field of the stock to smooth (>= 0)"),
        field_option("var2", "stock dividing var (smoothed ratio), e.g. the population", required=False),
        opt("multiplier", float, 1.0, "the ratio is multiplied by it (e.g. 10000: per 10 000 inhabitants)",
            minimum=0, exclusive_min=True),
        opt("span", float, None, "distance (m) where the interaction is 0.5", required=True, minimum=0,
            exclusive_min=True),
        opt("beta", float, 2.0, "impedance of the interaction function", minimum=0, exclusive_min=True),
        opt("fun", str, "e", "interaction function: e (exponential) or p (Pareto)", choices=FUNCTIONS),
        opt("resolution", (float, type(None)), None, "grid step (m; default: a hundredth of the area's larger "
            "side, at most span / 4)", minimum=0, exclusive_min=True),
        opt("method", str, "equal", "classification of the grid values into bands (equal: potential's "
            "equipotential)", check=_CLASSED["method"].check),
        opt("k", int, 8, "number of bands", minimum=2),
        _CLASSED["breaks"], _CLASSED["palette"], core.LEGEND_DECIMALS, core.ALPHA,
    )
    numeric_vars = ("var", "var2")

    def recipe_defaults(self, spec, ld, kw, title_of):
        t = title_of(spec["var"])
        if spec.get("var2"):
            t = f"{t} / {title_of(spec['var2'])}"
        kw.setdefault("legend_title", t)

    def check_recipe(self, spec, fail, key):
        core.check_palette_classes(spec, fail, key)

    def prepare(self, L: Layer, data, o: dict) -> None:
        from mbm_sig.maps.classify import classify, normalise_method
        from mbm_sig.maps.palettes import colors as palette_colors
        g = L.geoms
        mass = pd.to_numeric(data[o["var"]], errors="coerce").to_numpy(dtype=float)
        div = (pd.to_numeric(data[o["var2"]], errors="coerce").to_numpy(dtype=float) if o["var2"] else None)
        tid = shapely.get_type_id(g)
        pts = np.where(tid == 0, g, shapely.centroid(g))
        xy = np.c_[shapely.get_x(pts), shapely.get_y(pts)]
        areas = g[np.isin(tid, (3, 6))]
        mask = shapely.union_all(shapely.make_valid(areas)) if len(areas) else None
        bounds = shapely.total_bounds(g)
        try:
            s = P.smooth(xy, mass, bounds, span=o["span"], beta=o["beta"], fun=o["fun"], res=o["resolution"],
                         divisor=div, multiplier=o["multiplier"])
        except P.PotentialError as exc:
            raise MapError(str(exc)) from None
        vals = s.inside(mask)
        vals = vals[np.isfinite(vals)]
        if not len(vals):
            raise MapError(f"no potential to draw for {o['var']!r}")
        m = normalise_method("breaks" if o["breaks"] is not None else o["method"])
        b = classify(vals, m, o["k"], o["breaks"])
        palette = o["palette"]
        cols = list(palette) if isinstance(palette, (list, tuple)) else palette_colors(palette, len(b) - 1)
        if len(cols) != len(b) - 1:
            raise MapError(f"{len(cols)} colours for {len(b) - 1} classes")
        bands = P.bands(s.xs, s.ys, s.values, b, mask)
        lows = list(b[:-1])
        L.geoms = np.array([bg for _, _, bg in bands], dtype=object)
        L.classes = np.array([lows.index(lo) for lo, _, _ in bands], dtype=int)
        L.values = np.array([(lo + hi) / 2 for lo, hi, _ in bands])
        L.breaks, L.colors = b, cols
        L.style.update(edgecolor="none", linewidth=0.0)
        L.style["surface"] = s

    def legend(self, L: Layer, o: dict) -> list:
        b = L.breaks
        dec = o["legend_decimals"] if o["legend_decimals"] is not None else fmt.auto_decimals(b)
        return [LegendBlock("choro", o["legend_title"] if o["legend_title"] is not None else str(o["var"]),
                            breaks=list(b), colors=list(L.colors), decimals=dec)]

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        n = draw_classed_areas(ctx, L)
        if ctx.info is not None:
            s = L.style["surface"]
            ctx.info.symbols[ctx.index] = dict(bands=int(len(L.geoms)), resolution=s.res, span=s.span,
                                               beta=s.beta, fun=s.fun)
        return n

    def symbol_radius(self, L: Layer):
        return 0.8


TYPE = Potential()
