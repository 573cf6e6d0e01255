"""``two_stocks``: two stocks per unit on one scale of proportional symbols, on synthetic
squares."""

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.collections import CircleCollection, PathCollection
from matplotlib.colors import to_hex

from mbm_sig.maps import Map
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.layout import PT_MM
from mbm_sig.maps.recipe import RecipeError, check_structure, Recipe
from mbm_sig.maps.types import two_stocks as T

X0, Y0 = 680000, 7030000


@pytest.fixture
def units():
    cells = [shapely.box(X0 + 3000 * i, Y0, X0 + 3000 * (i + 1), Y0 + 3000) for i in range(4)]
    return gpd.GeoDataFrame({"prive": [100.0, 25, 0, 64], "minier": [50.0, 100, np.nan, 16]}, geometry=cells,
                            crs=2154)


def test_one_scale_for_both_stocks():
    a, b = np.array([100.0, 25.0, 0.0]), np.array([50.0, 100.0, np.nan])
    vmax = T.common_max(a, b)
    assert vmax == 100
    ra, rb = T.radii(a, 10.0, vmax), T.radii(b, 10.0, vmax)
    # areas proportional to the stocks, the same value the same size in both series
    assert ra.tolist() == [10.0, 5.0, 0.0] and rb[1] == ra[0]
    assert (rb[0] / ra[0]) ** 2 == pytest.approx(0.5)
    assert rb[2] == 0
    assert T.common_max([0, np.nan], [0, 0]) == 0 and T.radii([0, 3], 10, 0).tolist() == [0, 0]
    with pytest.raises(MapError, match=">= 0"):
        T.common_max([-1, 5], [2, 3])
    assert T.nice_values(137.0) == [137.0, 50, 10]      # the reference values of prop's legend


def test_half_discs_back_to_back(units):
    m = Map(extent=units)
    m.layer(units, type="two_stocks", var="prive", var2="minier", inches=0.3, colors=["#e6550d", "#3182bd"],
            legend_title="Médecins généralistes", legend_label="libéraux", legend_label2="du régime minier")
    info = m.draw()
    (col,) = [a for a in info.figure.artists if isinstance(a, PathCollection) and a.get_clip_box() is not None]
    rmax = 0.3 * 72
    # units drawn largest first (100 | 50, 25 | 100, 64 | 16; the empty one not at all),
    # each as a left then a right half disc of radius sqrt(sizes) points
    r = np.sqrt(col.get_sizes())
    want = rmax * np.sqrt(np.array([100, 50, 25, 100, 64, 16]) / 100)
    assert r == pytest.approx(want)
    assert [to_hex(c) for c in col.get_facecolors()] == ["#e6550d", "#3182bd"] * 3
    assert col.get_paths()[0].vertices[:, 0].max() <= 1e-9       # left half: x <= 0
    assert col.get_paths()[1].vertices[:, 0].min() >= -1e-9
    assert info.features[0] == 3
    (leg,) = info.legends
    assert leg["kind"] == "two_stocks" and leg["entries"][0] == "100"
    sym = {s["label"]: s for s in leg["symbols"]}
    # the legend's largest half disc is the map's largest one
    assert sym["100"]["height_mm"] == pytest.approx(2 * rmax * PT_MM)
    assert "libéraux" in sym and "du régime minier" in sym


def test_nested_discs_larger_under_smaller(units):
    m = Map(extent=units)
    m.layer(units, type="two_stocks", var="prive", var2="minier", mode="nested", inches=0.3)
    info = m.draw()
    (col,) = [a for a in info.figure.artists if isinstance(a, CircleCollection) and a.get_clip_box() is not None]
    r = np.sqrt(col.get_sizes() / math.pi)
    rmax = 0.3 * 72
    assert r == pytest.approx(rmax * np.sqrt(np.array([100, 50, 100, 25, 64, 16]) / 100))
    c1, c2 = T.TwoStocks.COLORS
    assert [to_hex(c) for c in col.get_facecolors()] == [c1, c2, c2, c1, c1, c2]


def test_recipe_keys_of_the_type(tmp_path):
    spec = {"layer": "indicateurs_communes", "type": "two_stocks", "var": "a", "var2": "b", "mode": "side"}
    r = Recipe(doc={"layers": [spec]}, path=tmp_path / "x.yaml")
    with pytest.raises(RecipeError, match=r"layers\[0\]\.mode: must be one of half, nested"):
        check_structure(r)
    spec.pop("mode")
    spec["radius"] = 3
    with pytest.raises(RecipeError, match=r"layers\[0\]\.radius: unknown key of a 'two_stocks' layer"):
        check_structure(r)


def test_no_stock_draws_nothing_and_keeps_the_colours(units):
    m = Map(extent=units)
    m.layer(units.assign(prive=0.0, minier=np.nan), type="two_stocks", var="prive", var2="minier",
            legend_label="libéraux", legend_label2="miniers")
    info = m.draw()
    assert info.features[0] == 0
    assert [s["label"] for s in info.legends[0]["symbols"]] == ["libéraux", "miniers"]


def test_legend_labels_never_touch(units):
    df = units.assign(prive=[91.0, 3, 0, 7], minier=[12.0, 1, 0, 2])
    m = Map(extent=df)
    m.layer(df, type="two_stocks", var="prive", var2="minier", inches=0.3)
    leg = m.draw().legends[0]
    # 91, 20 and 10 are the candidates: 10's label would touch 20's, it is left out
    assert leg["entries"] == ["91", "20", "10"]
    assert [s["label"] for s in leg["symbols"] if s["label"][0].isdigit()] == ["91", "20"]


def test_val_max_gives_sheets_one_scale(units):
    m = Map(extent=units)
    m.layer(units, type="two_stocks", var="prive", var2="minier", inches=0.3, val_max=400)
    L = m._layers[0]
    # 100 drawn at half the radius of 400, on this sheet as on one where 400 is reached
    assert L.style["radii"][0, 0] == pytest.approx(0.3 * 72 * 0.5)
    leg = m.draw().legends[0]
    assert leg["entries"][0] == "400"
    with pytest.raises(MapError, match="val_max: must be > 0"):
        Map(extent=units).layer(units, type="two_stocks", var="prive", var2="minier", val_max=0)
