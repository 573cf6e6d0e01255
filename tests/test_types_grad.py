"""``grad``: graduated symbols on synthetic points and lines."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.patches import PathPatch

from mbm_sig.maps import Map
from mbm_sig.maps.classify import assign, classify
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.layout import PT_MM

X0, Y0 = 680000, 7030000


@pytest.fixture
def points():
    v = np.array([5, 12, 18, 25, 40, 41, 60, 90, 150, 400], dtype=float)
    g = [shapely.Point(X0 + 1500 * i, Y0 + 700 * (i % 3)) for i in range(len(v))]
    return gpd.GeoDataFrame({"v": v, "nom": [f"P{i}" for i in range(len(v))]}, geometry=g, crs=2154)


def test_sizes_by_class(points, tmp_path):
    m = Map(extent=points)
    m.layer(points, type="grad", var="v", k=3, sizes=[4, 8, 12], legend_title="Valeur")
    info = m.save(tmp_path / "g.pdf")
    L = m._layers[0]
    b = classify(points["v"], "quantile", 3)
    cls = assign(points["v"], b)
    # every symbol has its class's diameter (radius in pt)
    assert (2 * L.sizes).tolist() == [[4, 8, 12][c] for c in cls]
    assert info.features[0] == len(points)
    assert info.symbols[0]["max_mm"] == pytest.approx(12 * PT_MM)
    assert info.symbols[0]["min_mm"] == pytest.approx(4 * PT_MM)
    leg = info.legends[0]
    assert leg["kind"] == "grad" and leg["title"] == "Valeur"
    # highest class on top, each with the map's size
    assert [s["width_mm"] for s in leg["symbols"]] == pytest.approx([12 * PT_MM, 8 * PT_MM, 4 * PT_MM])
    assert leg["entries"][0].endswith("400") and leg["entries"][-1].startswith("5")


def test_default_sizes_increase_and_count_checked(points):
    m = Map(extent=points)
    m.layer(points, type="grad", var="v", k=4)
    sizes = m._layers[0].style["class_sizes"]
    assert len(sizes) == 4 and sizes == sorted(sizes) and sizes[0] < sizes[-1]
    with pytest.raises(MapError, match="sizes: 2 sizes for 3 classes"):
        Map(extent=points).layer(points, type="grad", var="v", k=3, sizes=[4, 8])
    with pytest.raises(MapError, match="sizes must increase"):
        Map(extent=points).layer(points, type="grad", var="v", k=2, sizes=[8, 4])


def test_lines_get_widths_by_class(tmp_path):
    lines = [shapely.LineString([(X0, Y0 + 1000 * i), (X0 + 8000, Y0 + 1000 * i)]) for i in range(6)]
    df = gpd.GeoDataFrame({"trafic": [10, 20, 30, 400, 500, 600.0]}, geometry=lines, crs=2154)
    m = Map(extent=df)
    m.layer(df, type="grad", var="trafic", k=2, sizes=[1, 3])
    info = m.draw()
    # on the map (artists clipped to the frame): one compound path per class
    widths = sorted(a.get_linewidth() for a in info.figure.artists
                    if isinstance(a, PathPatch) and not a.get_fill() and a.get_clip_box() is not None)
    assert widths == [1, 3]
    assert info.legends[0]["symbols"][0]["marker"] == "line"
    assert info.legends[0]["symbols"][0]["height_mm"] == pytest.approx(3 * PT_MM)


def test_ties_leave_fewer_classes_and_sizes_are_picked(points):
    from mbm_sig.maps.types.grad import pick
    assert pick([2, 4, 6, 8, 10], 3) == [2, 6, 10] and pick([2, 4, 6], 1) == [6] and pick([2, 4], 2) == [2, 4]
    df = points.assign(v=[1, 1, 1, 1, 1, 1, 1, 5, 9, 9.0])      # quartiles 1, 1, 1: two classes left
    m = Map(extent=df)
    m.layer(df, type="grad", var="v", k=4, sizes=[3, 6, 9, 12])
    assert m._layers[0].style["class_sizes"] == [3, 12]
