"""Bivariate choropleth (3 × 3): classes and palettes on synthetic values."""

import numpy as np
import pytest

from mbm_sig.maps.analysis import bivariate as B


def test_tercile_breaks_and_crossed_classes():
    x = np.arange(1, 10, dtype=float)              # terciles: 1, 3.67, 6.33, 9
    y = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1], dtype=float)
    bx, by = B.breaks_of(x), B.breaks_of(y)
    assert bx == pytest.approx(np.quantile(x, [0, 1 / 3, 2 / 3, 1]))
    cls = B.classes(x, y, bx, by)
    # x low & y high -> top-left (row 2, col 0) = 6; x high & y low -> bottom-right = 2
    assert cls.tolist() == [6, 6, 6, 4, 4, 4, 2, 2, 2]


def test_given_breaks_and_missing_values():
    x = np.array([1, 5, 9, np.nan])
    y = np.array([0.1, 0.5, 0.9, 0.5])
    bx = B.breaks_of(x, breaks=[3, 6])
    by = B.breaks_of(y, breaks=[0.3, 0.6])
    assert bx.tolist() == [1, 3, 6, 9] and by.tolist() == [0.1, 0.3, 0.6, 0.9]
    assert B.classes(x, y, bx, by).tolist() == [0, 4, 8, -1]
    with pytest.raises(B.BivariateError, match="expected 2 inner breaks"):
        B.breaks_of(x, breaks=[3])


def test_palettes():
    for name in B.PALETTES:
        cols = B.palette(name)
        assert len(cols) == 9 and len(set(cols)) == 9
        assert cols[0] == "#e8e8e8"           # both low: the light corner
        lum = [sum(w * int(c[i:i + 2], 16) for w, i in ((0.2126, 1), (0.7152, 3), (0.0722, 5))) for c in cols]
        assert max(lum) == lum[0] and min(lum) == lum[8]       # both high: the darkest cell
    with pytest.raises(B.BivariateError, match="unknown bivariate palette 'rainbow'"):
        B.palette("rainbow")
    with pytest.raises(B.BivariateError, match="needs 9 colours"):
        B.palette(["#000000"] * 4)


# ----------------------------------------------------------------------------- the map type

import geopandas as gpd  # noqa: E402
import shapely  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402

from mbm_sig.maps import Map  # noqa: E402
from mbm_sig.maps.errors import MapError  # noqa: E402

X0, Y0 = 680000, 7030000


def grid9():
    """Nine squares: x grows to the right (1, 2, 3 by column), y upwards (row)."""
    cells, xs, ys = [], [], []
    for row in range(3):
        for col in range(3):
            cells.append(shapely.box(X0 + 1000 * col, Y0 + 1000 * row, X0 + 1000 * (col + 1), Y0 + 1000 * (row + 1)))
            xs.append(10.0 * (col + 1))
            ys.append(0.1 * (row + 1))
    return gpd.GeoDataFrame({"x": xs, "y": ys}, geometry=cells, crs=2154)


def test_each_area_has_its_crossed_class_colour(tmp_path):
    df = grid9()
    df.loc[4, "y"] = np.nan                      # the centre square: no data
    m = Map(extent=df)
    m.layer(df, type="bivariate", var="x", var2="y", breaks=[15, 25], breaks2=[0.15, 0.25],
            legend_title="Densité", legend_title2="Part des 65 ans et plus")
    info = m.save(tmp_path / "b.pdf")
    L = m._layers[0]
    assert L.classes.tolist() == [0, 1, 2, 3, -1, 5, 6, 7, 8]
    pal = B.palette(B.DEFAULT_PALETTE)
    drawn = {to_hex(a.get_facecolor()) for a in info.figure.artists
             if isinstance(a, PathPatch) and a.get_clip_box() is not None}
    assert drawn == {pal[i] for i in (0, 1, 2, 3, 5, 6, 7, 8)} | {"#d9d9d9"}
    (leg,) = info.legends
    assert leg["kind"] == "bivariate" and leg["nodata"]
    # x breaks then y breaks, the data's extremes around the given inner breaks
    assert leg["entries"] == ["10,0", "15,0", "25,0", "30,0", "0,10", "0,15", "0,25", "0,30"]


def test_terciles_by_default_and_palette_errors():
    df = grid9()
    m = Map(extent=df)
    m.layer(df, type="bivariate", var="x", var2="y", palette="purplegold")
    L = m._layers[0]
    assert L.breaks == pytest.approx(np.quantile(df["x"], [0, 1 / 3, 2 / 3, 1]))
    assert L.colors == B.PALETTES["purplegold"]
    with pytest.raises(MapError, match="unknown bivariate palette 'Blues'"):
        Map(extent=df).layer(df, type="bivariate", var="x", var2="y", palette="Blues")
    with pytest.raises(MapError, match="expected 2 numbers"):
        Map(extent=df).layer(df, type="bivariate", var="x", var2="y", breaks=[1, 2, 3])


def test_ties_still_give_three_classes():
    # half the communes without any GP: the terciles 0, 0 collapse; the distinct values' are used
    x = np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 5, 8, 13.0])
    b = B.breaks_of(x)
    assert len(b) == 4 and b[0] == 0 and b[-1] == 13
    assert b == pytest.approx(np.quantile(np.unique(x), [0, 1 / 3, 2 / 3, 1]))
    with pytest.raises(B.BivariateError, match="2 distinct values: too few for 3 classes"):
        B.breaks_of([1, 1, 2, 2])
