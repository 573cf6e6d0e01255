"""``discontinuities``: the borders shared by neighbouring areas, drawn where the values on
either side differ by more than a threshold, the wider the larger the difference
(cartography's ``discLayer``, Magrit's discontinuities): ``kind: rel`` compares the ratio
``max / min``, ``kind: abs`` the difference ``|a - b|``. The widths are classes of the
discontinuities drawn (``method``, ``k``). Usually over a choropleth of the same variable."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mbm_sig.maps import fmt
from mbm_sig.maps.analysis import discontinuities as D
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.layout import PT_MM
from mbm_sig.maps.types._core import LEGEND_DECIMALS, DrawContext, Layer, MapType, opt
from mbm_sig.maps.types._fields import field_option
from mbm_sig.maps.types.grad import BREAKS, METHOD, SizesBlock, _sizes_check, class_labels, draw_lines_by_class, pick

KIND_TITLES = {"rel": "rapport entre voisins", "abs": "écart entre voisins"}


class Discontinuities(MapType):
    name = "discontinuities"
    doc = ("Discontinuities: borders between neighbouring areas whose values differ (ratio `rel` or "
           "difference `abs`) by more than `threshold`, drawn wider for larger differences.")
    options = (
        field_option("var", "numeric field compared across borders"),
        opt("kind", str, "rel", "rel: ratio max/min of the two values; abs: absolute difference",
            choices=D.KINDS),
        opt("threshold", (float, type(None)), None, "only borders whose discontinuity is strictly above it "
            "(default: every border)", minimum=0),
        METHOD,
        opt("k", int, 3, "number of width classes", minimum=1),
        BREAKS,
        opt("widths", (list, type(None)), None, "line width of each class (pt), increasing (default 0.8 to 4 pt)",
            check=_sizes_check),
        opt("color", str, "#b2182b", "line colour"),
        opt("snap", float, 0.0, "outlines closer than this (m) count as a shared border (units digitised "
            "independently)", minimum=0),
        LEGEND_DECIMALS,
    )
    numeric_vars = ("var",)

    def recipe_defaults(self, spec, ld, kw, title_of):
        kw.setdefault("legend_title", f"{title_of(spec['var'])} : {KIND_TITLES[spec.get('kind', 'rel')]}")

    def prepare(self, L: Layer, data, o: dict) -> None:
        from mbm_sig.maps.classify import assign, classify
        vals = pd.to_numeric(data[o["var"]], errors="coerce").to_numpy(dtype=float)
        try:
            d = D.discontinuities(L.geoms, vals, o["kind"], o["threshold"], snap=o["snap"])
        except D.DiscontinuityError as exc:
            raise MapError(str(exc)) from None
        L.values = d.values
        L.style["borders"] = d.geoms
        L.style["pairs"] = np.c_[d.i, d.j]
        L.style["color"] = o["color"]
        if len(d.values):
            k = min(o["k"], len(np.unique(d.values)))
            b = classify(d.values, "breaks" if o["breaks"] is not None else o["method"], k, o["breaks"])
            cls = assign(d.values, b)
        else:
            b, cls = np.array([]), np.zeros(0, dtype=int)
        nk = max(len(b) - 1, 0)
        if o["widths"]:
            widths = pick(o["widths"], nk)
        else:
            widths = list(np.linspace(0.8, 4.0, nk)) if nk > 1 else [2.0] * nk
        if nk and len(widths) != nk:
            raise MapError(f"widths: {len(widths)} widths for {nk} classes")
        L.breaks, L.classes = b, cls
        L.style["class_sizes"] = [float(w) for w in widths]

    def legend(self, L: Layer, o: dict) -> list:
        b = L.breaks
        if len(b) < 2:
            return []
        dec = o["legend_decimals"] if o["legend_decimals"] is not None else fmt.auto_decimals(b)
        labels = class_labels(b, dec)
        entries = [(lab, w * PT_MM) for lab, w in zip(labels, L.style["class_sizes"], strict=True)][::-1]
        block = SizesBlock("discontinuities", o["legend_title"] if o["legend_title"] is not None else str(o["var"]),
                           entries=entries, breaks=list(b), decimals=dec, colors={"fill": o["color"]})
        block.symbol = "line"
        return [block]

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        g = L.style["borders"]
        if not len(g):
            return 0
        n = draw_lines_by_class(ctx, g, L.classes, L.style["class_sizes"], L.style["color"])
        if ctx.info is not None:
            ctx.info.symbols[ctx.index] = dict(borders=int(len(g)), widths=list(L.style["class_sizes"]))
        return n

    def symbol_radius(self, L: Layer):
        return 0.8


TYPE = Discontinuities()
