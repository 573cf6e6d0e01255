"""``prop_typo``: proportional symbols (``var``) coloured by the category of a second
field (``var2``), as mapsf's ``mf_prop_typo``: a stock and a category on one sheet."""

from __future__ import annotations

from mbm_sig.maps.types._core import NODATA, Layer, opt
from mbm_sig.maps.types._fields import field_option
from mbm_sig.maps.types.prop import PROP_OPTIONS, Prop
from mbm_sig.maps.types.typo import CATEGORY_OPTIONS, categorise, category_defaults, category_legend


class PropTypo(Prop):
    name = "prop_typo"
    doc = ("Proportional symbols sized by `var` and coloured by the category of `var2` "
           "(e.g. GPs by commune, coloured by the commune's type).")
    options = (*PROP_OPTIONS,
               field_option("var2", "field holding the categories that colour the symbols"),
               opt("legend_title2", (str, type(None)), None, "title of the categories' legend block"),
               *CATEGORY_OPTIONS)
    numeric_vars = ("var",)
    default_fill = "#f0f0f0"

    def recipe_defaults(self, spec, ld, kw, title_of):
        super().recipe_defaults(spec, ld, kw, title_of)
        cat = {}
        category_defaults({**spec, "var": spec["var2"]}, ld, cat, title_of)
        for k in ("colors", "order"):
            if k not in kw and cat.get(k) is not None:
                kw[k] = cat[k]
        kw.setdefault("legend_title2", cat.get("legend_title"))

    def prepare(self, L: Layer, data, o: dict) -> None:
        super().prepare(L, data, o)
        anchors = L.anchors
        categorise(L, data, {**o, "var": o["var2"]}, symbols=True)
        L.anchors = anchors
        L.cat_legend = True

    def legend(self, L: Layer, o: dict) -> list:
        cats = category_legend(L, {**o, "var": o["var2"], "legend_title": o["legend_title2"] or str(o["var2"]),
                                   "marker": "o", "size": None})
        for b in cats:           # colour swatches, not the size of a symbol
            b.kind, b.sym = "typo", None
            b.entries = [(lab, {"fill": st["fill"], "edgecolor": "#4d4d4d"}) for lab, st in b.entries]
        return [self.size_block(L, o, "#f0f0f0"), *cats]

    def face_colors(self, L: Layer, idx):
        return [L.colors[c] if c >= 0 else NODATA for c in L.classes[idx]]


TYPE = PropTypo()
