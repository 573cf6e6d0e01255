"""Map recipes: a sheet described once in YAML (``atlases/maps/*.yaml``), validated against
the catalogue's layer definitions before anything is read or drawn, then rendered.

    page: A4                      # A5, A4, A3, A2
    orientation: portrait         # or landscape, or auto (from the extent's shape)
    title: Densité de population
    subtitle: Bassin minier, 2023
    extent: {layer: arrondissements, where: {bassin_minier: true}}   # or {bbox: [x0, y0, x1, y1]}
    margin: 0.05
    frame: fit                    # the frame fits the extent's aspect (default); fixed: fills the page
    fictive: false
    layers:
      - layer: communes           # a catalogue layer
        where: {arrondissement: ["622", "627"]}      # parameterised filter
        join: {layer: sante_communes_import, on: insee}
        computed: {dens: "1e4 * etab_generalistes / population"}
        type: choro               # choro, prop, prop_choro, typo, symbols, base
        var: dens
        method: q6                # quantile, equal, jenks, fisher, q6, geom, nested_means, headtails
        k: 6
        palette: YlOrRd
        legend_title: …
        labels: {var: nom, size: 6, priority: population}   # placement: around (points) / center
    inset: {layer: departements, context: bassin_minier}   # or false
    layout: auto                  # side (legend column) / bottom (band under a full-width map)
    scalebar: true
    arrow: true
    credits: {notes: [...], producer: Mission Bassin Minier}
    basemap: {source: fonds/scan.tif, alpha: 0.6}     # optional; local raster or provider name
    metadata: {subject: ..., keywords: [...]}

Template parameters ``{name}`` in any string are filled from ``params`` (the atlas engine
passes the fields of the coverage feature; ``mbm-sig map -p name=value``); a recipe may give
defaults in a top-level ``params:`` mapping so that it also renders on its own. Sources in
the credits come from the layers used (``Catalogue.sources_for``).

The package: :mod:`~mbm_sig.maps.recipe.schema` (every key), :mod:`~mbm_sig.maps.recipe.load`
(reading and structure checks), :mod:`~mbm_sig.maps.recipe.build` (catalogue checks and the
:class:`Map`), :mod:`~mbm_sig.maps.recipe.docs` (``docs/recipes.md`` from the schema).
"""

from __future__ import annotations

from mbm_sig.maps.errors import RecipeError
from mbm_sig.maps.recipe.build import build_map, decide_series_layout, render_recipe, validate_recipe
from mbm_sig.maps.recipe.load import Recipe, check_structure, load_recipe

__all__ = ["Recipe", "RecipeError", "build_map", "check_structure", "decide_series_layout", "load_recipe",
           "render_recipe", "validate_recipe"]
