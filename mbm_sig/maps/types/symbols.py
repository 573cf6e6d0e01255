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

    def legend(self, L: Layer, o: dict) -> list:
        return category_legend(L, o)

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        return draw_points(ctx, L)


TYPE = Symbols()
