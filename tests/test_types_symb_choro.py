"""``symb_choro``: marker shape by category, colour by class, on synthetic points."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.collections import CircleCollection, PathCollection
from matplotlib.colors import to_hex

from mbm_sig.maps import Map
from mbm_sig.maps.classify import assign, classify
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.palettes import colors as palette_colors

X0, Y0 = 680000, 7030000


@pytest.fixture
def points():
    kinds = ["hôpital", "clinique", "hôpital", "centre", "clinique", "hôpital", "centre", "hôpital"]
    v = [3.0, 10, 15, 22, 30, 41, 55, 70]
    g = [shapely.Point(X0 + 1000 * i, Y0 + 500 * (i % 2)) for i in range(len(v))]
    return gpd.GeoDataFrame({"kind": kinds, "v": v}, geometry=g, crs=2154)


def test_shape_by_category_colour_by_class(points):
    m = Map(extent=points)
    m.layer(points, type="symb_choro", var="kind", var2="v", k=3, palette="Blues",
            markers={"hôpital": "s"}, order=["hôpital", "clinique", "centre"])
    info = m.draw()
    L = m._layers[0]
    assert L.style["markers"] == ["s", "o", "^"]         # given, then the first free shapes
    cls = assign(points["v"], classify(points["v"], "quantile", 3))
    pal = palette_colors("Blues", 3)
    cols = [a for a in info.figure.artists if isinstance(a, (CircleCollection, PathCollection))
            and a.get_clip_box() is not None]
    assert len(cols) == 3 and sum(len(c.get_offsets()) for c in cols) == len(points)
    for c in cols:
        xs = c.get_offsets()[:, 0]
        idx = [int(round((x - X0) / 1000)) for x in xs]
        assert [to_hex(f) for f in c.get_facecolors()] == [pal[cls[i]] for i in idx]
        kinds = {points["kind"][i] for i in idx}
        assert len(kinds) == 1
    shapes, classes = info.legends
    assert shapes["kind"] == "symbols" and shapes["entries"] == ["hôpital", "clinique", "centre"]
    assert [s["marker"] for s in shapes["symbols"]] == ["s", "o", "^"]
    assert classes["kind"] == "choro" and classes["colors"] == pal


def test_too_many_categories_need_markers():
    g = [shapely.Point(X0 + 100 * i, Y0 + 50 * i) for i in range(12)]
    df = gpd.GeoDataFrame({"kind": [f"c{i}" for i in range(12)], "v": np.arange(12.0)}, geometry=g, crs=2154)
    with pytest.raises(MapError, match="12 categories"):
        Map(extent=df).layer(df, type="symb_choro", var="kind", var2="v")
    with pytest.raises(MapError, match="unknown marker 'blob'"):
        Map(extent=df).layer(df, type="symb_choro", var="kind", var2="v", markers={"c1": "blob"})
