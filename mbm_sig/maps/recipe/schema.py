"""The recipe schema: every key of a map recipe, its type, default and meaning.

The keys of a recipe layer are the recipe's own (:data:`LAYER_KEYS`: which catalogue
layer, filter, join, computed fields, labels) and the options of its map type
(:mod:`mbm_sig.maps.types`); the top-level keys and their nested mappings are
:data:`TOP`. The loader checks recipes against them (an unknown key is an error naming
the file and the key path) and ``docs/recipes.md`` is generated from them
(``python -m mbm_sig.maps.recipe.docs``).
"""

from __future__ import annotations

from mbm_sig.maps import types as map_types
from mbm_sig.maps.sheet import FRAMES, LAYOUTS, ORIENTATIONS, PAGES, PLACEMENTS
from mbm_sig.maps.types._core import Option, opt

NONE = type(None)


def _margin_check(value) -> str | None:
    return None if 0 <= value < 1 else f"must be a number between 0 and 1, not {value!r}"


def _bbox_check(b) -> str | None:
    if (len(b) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)
            or b[2] <= b[0] or b[3] <= b[1]):
        return f"expected [xmin, ymin, xmax, ymax] in EPSG:2154, not {b!r}"
    return None


LABELS = (
    opt("var", str, None, "field holding the label text", required=True, field=True),
    opt("size", float, 6, "text size (pt)", minimum=0, exclusive_min=True),
    opt("halo", bool, True, "white halo around the text"),
    opt("priority", (str, NONE), None, "numeric field: higher values are placed first (others dropped on "
        "collision)", field=True),
    opt("color", str, "#1a1a1a", "text colour"),
    opt("weight", str, "normal", "font weight", choices=("normal", "bold")),
    opt("max_labels", (int, NONE), None, "at most this many labels", minimum=1),
    opt("where", dict, None, "only the features matching {field: value or [values]}"),
    opt("placement", (str, NONE), None, "around (beside point symbols; default for points) or center "
        "(default for areas)", choices=PLACEMENTS + (None,)),
    opt("unique", bool, False, "one label per distinct text"),
)

JOIN = (
    opt("layer", str, None, "catalogue layer joined (its fields become available)", required=True),
    opt("on", (str, NONE), None, "join field, in both layers (default: the joined layer's key)"),
)

# a recipe layer's own keys, besides its map type's options
LAYER_KEYS = (
    opt("layer", str, None, "catalogue layer drawn", required=True),
    opt("type", str, "base", "map type (see the sections below)"),
    opt("where", dict, None, "filter {field: value or [values]} (template parameters allowed)"),
    opt("join", (str, dict), None, "another layer joined on a key (a layer name, or {layer, on})", keys=JOIN),
    opt("computed", dict, None, "new fields {name: expression} computed from the layer's fields "
        "(+ - * / ** and numbers)"),
    opt("labels", dict, None, "labels of the layer's features", keys=LABELS),
)

EXTENT = (
    opt("layer", str, None, "the extent of this layer's features"),
    opt("where", dict, None, "only the features matching {field: value or [values]}"),
    opt("bbox", list, None, "[xmin, ymin, xmax, ymax] in EPSG:2154", check=_bbox_check),
)
INSET = (
    opt("layer", str, "departements", "layer drawn in the locator map"),
    opt("context", (str, NONE), "bassin_minier", "layer outlined in the locator map"),
)
CREDITS = (
    opt("notes", list, [], "free notes, one paragraph each"),
    opt("sources", list, [], "sources added to those of the layers used"),
    opt("producer", str, "Mission Bassin Minier", "«Réalisation» line"),
    opt("date", (str, NONE), None, "date of the «Réalisation» line (default: this month)"),
)
BASEMAP = (
    opt("source", str, None, "local raster (GeoTIFF, relative to the recipe) or a provider name "
        "(OpenStreetMap.Mapnik)", required=True),
    opt("alpha", float, 1.0, "opacity, 0 to 1", minimum=0, maximum=1),
)
METADATA = (
    opt("subject", str, None, "PDF subject (default: the subtitle)"),
    opt("keywords", (list, str), None, "PDF keywords"),
    opt("author", str, "Mission Bassin Minier Nord-Pas de Calais", "PDF author"),
)

TOPONYMS = (
    opt("min_population", int, 10000, "every commune of at least this population inside the frame is named",
        minimum=0),
    opt("wide_min_population", int, 20000, "on basin-wide maps (frame wider than wide_km): the arrondissement "
        "seats and the communes of at least this population", minimum=0),
    opt("wide_km", float, 60.0, "a frame wider than this (km) is basin-wide", minimum=0),
    opt("optional_min_population", int, 3000, "smaller towns named when room is left, down to this population",
        minimum=0),
    opt("wide_optional_min_population", int, 10000, "the same on basin-wide maps", minimum=0),
    opt("edge_mm", float, 2.5, "a town whose centre lies closer than this to the frame edge is not required",
        minimum=0),
    opt("color", str, "#1a1a1a", "text colour of the town names"),
)
FOCUS = (
    opt("layer", str, None, "layer of the feature the sheet is about", required=True),
    opt("where", dict, None, "the feature {field: value} (template parameters allowed)"),
    opt("alpha", float, 0.85, "opacity of the veil outside the feature", minimum=0, maximum=1),
    opt("color", str, "#f2f2f2", "colour of the veil outside the feature (neighbours greyed)"),
)

SERIES_OF = (
    opt("layer", str, None, "layer of the coverage features", required=True),
    opt("where", dict, None, "the features of the series {field: value or [values]}"),
)

SHEET_LAYOUT = (
    opt("layout", str, None, "side or bottom", required=True, choices=("side", "bottom")),
    opt("frame", list, None, "map frame [x, y, w, h] (mm from the page's top-left corner)", required=True),
    opt("legend", list, None, "room of the legend blocks [x, y, w, h] (mm)", required=True),
    opt("credits", list, None, "credits [x, y, width] (mm)", required=True),
    opt("inset", (list, NONE), None, "locator map [x, y, w, h] (mm), or none"),
    opt("columns", int, 1, "columns of legend blocks (side layout)", minimum=1, maximum=2),
)

TOP = (
    opt("name", str, None, "short name (informative)"),
    opt("description", str, None, "what the sheet shows (informative)"),
    opt("page", str, "A4", "page size", choices=tuple(PAGES)),
    opt("orientation", str, "portrait", "portrait, landscape, or auto (from the extent's shape)",
        choices=ORIENTATIONS),
    opt("title", str, None, "title of the sheet"),
    opt("subtitle", str, None, "subtitle"),
    opt("params", dict, None, "default template parameters ({name} in any string)"),
    opt("extent", (dict, list), None, "extent of the map: {layer, where} or {bbox}; a list is a bbox "
        "(default: the first layer's)", keys=EXTENT),
    opt("margin", float, 0.05, "margin around the extent (fraction of its size, below 1)", minimum=0,
        check=_margin_check),
    opt("frame", str, "fit", "fit: the frame takes the extent's aspect; fixed: the whole available area",
        choices=FRAMES),
    opt("layout", str, "auto", "side (legend column), bottom (band under the map), or auto (the one that "
        "draws the extent larger)", choices=LAYOUTS),
    opt("fictive", bool, False, "the sheet shows fictive data: stamped «Données fictives»"),
    opt("simplify_mm", float, 0.15, "geometry simplified to this tolerance on paper (mm)", minimum=0),
    opt("layers", list, None, "the layers, bottom to top (see «Layers»)", required=True),
    opt("inset", (bool, dict), True, "locator map: false, true (départements and the basin), or {layer, "
        "context}", keys=INSET),
    opt("scalebar", bool, True, "scale bar"),
    opt("arrow", bool, True, "north arrow"),
    opt("legend", bool, True, "legend blocks"),
    opt("credits", dict, None, "credits block (the sources of the layers used are always listed)",
        keys=CREDITS),
    opt("basemap", (str, dict), None, "raster or tile basemap under the layers: a source, or {source, alpha}",
        keys=BASEMAP),
    opt("logo", str, None, "image file (relative to the recipe) drawn at the bottom right"),
    opt("toponyms", (bool, dict), True, "town names (from the communes): true, false, or the naming rule "
        "{min_population, wide_min_population, wide_km, optional_min_population, color}", keys=TOPONYMS),
    opt("series_of", dict, None, "the coverage features this sheet is one of {layer, where}: its orientation and "
        "layout (when auto) are decided once over all of them, the same on every sheet of the series",
        keys=SERIES_OF),
    opt("sheet_layout", dict, None, "a fixed layout (frame, legend room, credits and inset in mm), as an atlas "
        "sets it on its basin maps so that all share one layout decided over them", keys=SHEET_LAYOUT),
    opt("focus", dict, None, "atlas focus: outside this feature the map is veiled and no town is named "
        "{layer, where, alpha}", keys=FOCUS),
    opt("metadata", dict, None, "PDF metadata", keys=METADATA),
)


def layer_schema(mt) -> dict[str, Option]:
    """The keys of a recipe layer of map type ``mt``: the recipe's own, then the type's."""
    out = {o.name: o for o in LAYER_KEYS}
    out.update({k: o for k, o in mt.schema().items() if o.recipe})
    return out


def all_types():
    return map_types.registry()
