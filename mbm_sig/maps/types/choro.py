"""``choro``: choropleth, areas coloured by the class of a numeric variable."""

from __future__ import annotations

from mbm_sig.maps.types._core import (
    ALPHA,
    CLASSED,
    EDGECOLOR,
    LEGEND_DECIMALS,
    LINEWIDTH,
    DrawContext,
    Layer,
    MapType,
    check_palette_classes,
    classed,
    classed_defaults,
    draw_base_points,
    draw_classed_areas,
    opt,
    type_id,
)


class Choro(MapType):
    name = "choro"
    doc = "Choropleth: each area coloured by the class of a numeric variable (rates, densities, shares)."
    options = (opt("var", str, None, "numeric field to classify", required=True, field=True), *CLASSED,
               LEGEND_DECIMALS,
               # outlines default to thin grey, not the layer definition's style
               opt("edgecolor", EDGECOLOR.types, None, EDGECOLOR.doc),
               opt("linewidth", LINEWIDTH.types, None, LINEWIDTH.doc, minimum=0), ALPHA)
    numeric_vars = ("var",)

    def recipe_defaults(self, spec, ld, kw, title_of):
        kw.setdefault("legend_title", title_of(spec["var"]))
        classed_defaults(spec, kw)

    def check_recipe(self, spec, fail, key):
        check_palette_classes(spec, fail, key)
        lab = (spec.get("outliers") or {}).get("label")
        if lab is not None and not isinstance(lab, str):
            raise fail(f"{key}.outliers.label", "expected a field name")

    def prepare(self, L: Layer, data, o: dict) -> None:
        title = o["legend_title"] if o["legend_title"] is not None else str(o["var"])
        ov = o.get("outliers") or {}
        names = data[ov["label"]].astype(str).to_numpy() if ov.get("label") else None
        L.values, L.classes, L.breaks, L.colors, block = classed(data[o["var"]], o, title, names)
        L.legend = [block]

    def legend(self, L: Layer, o: dict) -> list:
        return L.legend

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        tid = type_id(L)
        if tid and tid[0] in (0, 4):   # points: one symbol (use prop_choro or symbols for classes)
            return draw_base_points(ctx, L)
        return draw_classed_areas(ctx, L)


TYPE = Choro()
