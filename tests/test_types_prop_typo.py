"""``prop_typo``: proportional symbols coloured by category, on synthetic squares."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.collections import CircleCollection
from matplotlib.colors import to_hex

from mbm_sig.maps import Map

X0, Y0 = 680000, 7030000


@pytest.fixture
def units():
    cells = [shapely.box(X0 + 2000 * i, Y0, X0 + 2000 * (i + 1), Y0 + 2000) for i in range(5)]
    return gpd.GeoDataFrame({"pop": [100.0, 400, 900, 1600, np.nan],
                             "kind": ["urbain", "rural", "urbain", "cité", "rural"]}, geometry=cells, crs=2154)


def test_sizes_by_value_colours_by_category(units, tmp_path):
    colors = {"urbain": "#e41a1c", "rural": "#4daf4a", "cité": "#377eb8"}
    m = Map(extent=units)
    m.layer(units, type="prop_typo", var="pop", var2="kind", colors=colors, order=["urbain", "cité", "rural"],
            inches=0.2, legend_title="Population", legend_title2="Type")
    info = m.draw()
    L = m._layers[0]
    # areas proportional to the values, the largest at inches × 72 pt
    assert L.sizes[:4] == pytest.approx(0.2 * 72 * np.sqrt(np.array([100, 400, 900, 1600]) / 1600))
    (col,) = [a for a in info.figure.artists if isinstance(a, CircleCollection)]
    # drawn largest first; the missing value is not drawn
    assert len(col.get_sizes()) == 4
    got = [to_hex(c) for c in col.get_facecolors()]
    assert got == [colors[k] for k in ("cité", "urbain", "rural", "urbain")]
    prop, typo = info.legends
    assert prop["kind"] == "prop" and prop["title"] == "Population"
    assert typo["kind"] == "typo" and typo["title"] == "Type" and typo["entries"] == ["urbain", "cité", "rural"]


def test_legend_lists_only_the_categories_drawn(units):
    m = Map(extent=(X0, Y0, X0 + 4000, Y0 + 2000), margin=0)
    m.layer(units, type="prop_typo", var="pop", var2="kind")
    info = m.draw()
    assert info.legends[1]["entries"] == ["rural", "urbain"]
