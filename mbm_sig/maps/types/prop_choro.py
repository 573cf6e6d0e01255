"""``prop_choro``: proportional symbols (``var``) coloured by the class of a second
variable (``var2``), as mapsf's ``mf_prop_choro``."""

from __future__ import annotations

from mbm_sig.maps.types._core import CLASSED, NODATA, Layer, check_palette_classes, classed, classed_defaults, opt
from mbm_sig.maps.types.prop import PROP_OPTIONS, Prop


class PropChoro(Prop):
    name = "prop_choro"
    doc = ("Proportional symbols sized by `var` and coloured by the class of `var2` "
           "(a stock and a rate on one sheet).")
    options = (*PROP_OPTIONS,
               opt("var2", str, None, "numeric field whose class colours the symbols", required=True, field=True),
               opt("legend_title2", (str, type(None)), None, "title of the colour legend block"),
               *CLASSED)
    numeric_vars = ("var", "var2")
    default_fill = "#ffffff"

    def recipe_defaults(self, spec, ld, kw, title_of):
        super().recipe_defaults(spec, ld, kw, title_of)
        kw.setdefault("legend_title2", title_of(spec["var2"]))
        classed_defaults(spec, kw)

    def check_recipe(self, spec, fail, key):
        check_palette_classes(spec, fail, key)

    def prepare(self, L: Layer, data, o: dict) -> None:
        super().prepare(L, data, o)
        _, L.classes, L.breaks, L.colors, block = classed(data[o["var2"]], o,
                                                              o["legend_title2"] or str(o["var2"]))
        L.legend = [block]

    def legend(self, L: Layer, o: dict) -> list:
        return [self.size_block(L, o, "#f0f0f0"), L.legend[-1]]

    def face_colors(self, L: Layer, idx):
        return [L.colors[c] if c >= 0 else NODATA for c in L.classes[idx]]


TYPE = PropChoro()
