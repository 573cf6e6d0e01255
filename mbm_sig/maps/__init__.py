"""Thematic maps: classification, ColorBrewer palettes, French number format, the
:class:`Map` sheet, layout pieces, labels, recipes and rendering (PDF/PNG/SVG)."""

from mbm_sig.maps.classify import METHODS, ClassificationError, assign, classify
from mbm_sig.maps.output import Book, GhostscriptMissing, save_figure
from mbm_sig.maps.palettes import PALETTES, PaletteError, colors
from mbm_sig.maps.sheet import PAGES, Map, MapError, RenderInfo

__all__ = ["Map", "MapError", "RenderInfo", "Book", "classify", "assign", "colors", "METHODS",
           "PALETTES", "PAGES", "LAYER_TYPES", "ClassificationError", "PaletteError",
           "GhostscriptMissing", "save_figure", "load_recipe", "render_recipe", "cli_map", "RecipeError"]


def __getattr__(name):      # recipe layer loaded lazily (it imports the catalogue)
    if name == "LAYER_TYPES":
        from mbm_sig.maps import types
        return types.names()
    if name in ("load_recipe", "render_recipe", "RecipeError", "validate_recipe"):
        from mbm_sig.maps import recipe
        return getattr(recipe, name)
    if name == "cli_map":
        from mbm_sig.maps.cli import cli_map
        return cli_map
    raise AttributeError(name)
