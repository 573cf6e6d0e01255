"""Smoothed potential (Stewart): the definitions of the R package ``potential`` on small
synthetic masses."""

import math

import numpy as np
import pytest
import shapely

from mbm_sig.maps.analysis import potential as P


def test_interaction_functions_are_half_at_span():
    for fun in ("e", "p", "exponential", "pareto"):
        for beta in (0.5, 1, 2, 3):
            assert P.interaction(3000.0, fun, span=3000, beta=beta) == pytest.approx(0.5)
            assert P.interaction(0.0, fun, span=3000, beta=beta) == pytest.approx(1.0)
    # the formulas of potential::interact_density
    d = np.array([0, 500, 2500, 10000.0])
    assert P.interaction(d, "e", 2500, 2) == pytest.approx(np.exp(-math.log(2) / 2500 ** 2 * d ** 2))
    alpha = (2 ** (1 / 3) - 1) / 2500
    assert P.interaction(d, "p", 2500, 3) == pytest.approx((1 + alpha * d) ** -3)


def test_single_mass_equals_mass_times_interaction_at_distance():
    src = [[1000.0, 2000.0]]
    dst = np.array([[1000.0, 2000.0], [4000.0, 6000.0], [1000.0, 12000.0]])
    dist = np.hypot(dst[:, 0] - 1000, dst[:, 1] - 2000)          # 0, 5000, 10000
    for fun in ("e", "p"):
        pot = P.potential(src, [250.0], dst, fun, span=5000, beta=2)
        assert pot == pytest.approx(250 * P.interaction(dist, fun, 5000, 2))
    assert P.potential(src, [250.0], dst, "e", 5000, 2)[1] == pytest.approx(125.0)


def test_potentials_add_and_missing_masses_count_zero():
    src = [[0, 0], [3000, 0], [0, 4000]]
    dst = [[3000, 4000], [100, 100]]
    both = P.potential(src, [10, 20, np.nan], dst, "p", 2000, 2)
    one = P.potential(src[:1], [10], dst, "p", 2000, 2) + P.potential(src[1:2], [20], dst, "p", 2000, 2)
    assert both == pytest.approx(one)


def test_chunks_give_the_same_potential(monkeypatch):
    rng = np.random.default_rng(3)
    src, m = rng.uniform(0, 1e4, (50, 2)), rng.uniform(0, 100, 50)
    dst = rng.uniform(0, 1e4, (700, 2))
    whole = P.potential(src, m, dst, "e", 1500, 2)
    monkeypatch.setattr(P, "CHUNK", 500)
    assert P.potential(src, m, dst, "e", 1500, 2) == pytest.approx(whole, rel=1e-12)


def test_grid_like_create_grid():
    xs, ys = P.create_grid((1234, 560, 9000, 4100), 1000)
    assert xs.tolist() == [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]
    assert ys.tolist() == [0, 1000, 2000, 3000, 4000, 5000]
    with pytest.raises(P.PotentialError, match="too large"):
        P.create_grid((0, 0, 1e6, 1e6), 10)


def test_errors_name_the_parameter():
    with pytest.raises(P.PotentialError, match="span must be a distance > 0"):
        P.interaction(1.0, "e", span=0)
    with pytest.raises(P.PotentialError, match="beta must be a number > 0"):
        P.interaction(1.0, "p", span=10, beta=-1)
    with pytest.raises(P.PotentialError, match="unknown interaction function 'gauss'"):
        P.interaction(1.0, "gauss", span=10)
    with pytest.raises(P.PotentialError, match="masses must be >= 0"):
        P.potential([[0, 0]], [-1], [[1, 1]], "e", 10, 2)


def test_ratio_of_potentials_is_a_smoothed_rate():
    # two towns: 10 GPs for 10 000 inhabitants and 1 for 5 000; the smoothed rate lies
    # between the two rates everywhere and tends to each one near its town
    src = [[0, 0], [20000, 0]]
    s = P.smooth(src, [10, 1], (-5000, -5000, 25000, 5000), span=3000, beta=2, fun="e", res=500,
                 divisor=[10000, 5000], multiplier=10000)
    v = s.values[np.isfinite(s.values)]
    assert v.min() >= 2 - 1e-9 and v.max() <= 10 + 1e-9
    iy, ix = np.argmin(np.abs(s.ys)), np.argmin(np.abs(s.xs))
    assert s.values[iy, ix] == pytest.approx(10, rel=1e-3)


def test_bands_cover_the_mask_and_hold_their_values():
    src, m = [[5000, 4000], [2000, 2000]], [100, 50]
    s = P.smooth(src, m, (0, 0, 10000, 8000), span=2000, beta=2, res=250)
    mask = shapely.Point(5000, 4000).buffer(3500)
    b = np.linspace(s.values.min(), s.values.max(), 6)
    bands = P.bands(s.xs, s.ys, s.values, b, mask)
    assert sum(g.area for *_, g in bands) == pytest.approx(mask.area, rel=1e-6)
    # a point inside a band has its potential between the band's bounds
    rng = np.random.default_rng(0)
    for lo, hi, g in bands:
        for p in shapely.points(rng.uniform(0, 10000, (400, 2))):
            if g.contains(p):
                pot = P.potential(src, m, [[p.x, p.y]], "e", 2000, 2)[0]
                assert lo - 0.02 * (hi - lo) - 0.5 <= pot <= hi + 0.02 * (hi - lo) + 0.5
    # the highest band holds the largest mass
    assert bands[-1][2].contains(shapely.Point(5000, 4000))


# ----------------------------------------------------------------------------- the map type

import geopandas as gpd  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402

from mbm_sig.maps import Map  # noqa: E402
from mbm_sig.maps.errors import MapError  # noqa: E402
from mbm_sig.maps.palettes import colors as palette_colors  # noqa: E402

X0, Y0 = 680000, 7030000


def towns():
    cells = [shapely.box(X0 + 4000 * i, Y0 + 4000 * j, X0 + 4000 * (i + 1), Y0 + 4000 * (j + 1))
             for j in range(3) for i in range(4)]
    pop = np.full(12, 1000.0)
    pop[5] = 20000
    gp = np.zeros(12)
    gp[5], gp[0] = 20, 3
    return gpd.GeoDataFrame({"pop": pop, "gp": gp}, geometry=cells, crs=2154)


def test_map_bands_clipped_to_the_area(tmp_path):
    df = towns()
    m = Map(extent=df)
    m.layer(df, type="potential", var="pop", span=3000, beta=2, fun="e", k=5, palette="YlOrRd",
            legend_title="Potentiel de population")
    info = m.save(tmp_path / "p.pdf")
    L = m._layers[0]
    area = shapely.union_all(df.geometry.values)
    assert sum(g.area for g in L.geoms) == pytest.approx(area.area, rel=1e-6)
    assert all(area.buffer(1).contains(g) for g in L.geoms)
    # equal intervals of the grid values inside the area, as potential::equipotential
    s = L.style["surface"]
    v = s.inside(area)
    assert L.breaks == pytest.approx(np.linspace(v.min(), v.max(), 6))
    # the top band holds the big town, whose potential is its mass plus its neighbours'
    top = L.geoms[L.classes == L.classes.max()][0]
    assert top.contains(shapely.Point(X0 + 6000, Y0 + 6000))
    (leg,) = info.legends
    assert leg["kind"] == "choro" and leg["colors"] == palette_colors("YlOrRd", 5)
    drawn = {to_hex(a.get_facecolor()) for a in info.figure.artists
             if isinstance(a, PathPatch) and a.get_clip_box() is not None}
    assert drawn <= set(leg["colors"]) and len(drawn) == len(set(L.classes.tolist()))
    assert info.symbols[0]["span"] == 3000 and info.symbols[0]["fun"] == "e"


def test_map_smoothed_ratio_between_the_rates():
    df = towns()
    m = Map(extent=df)
    m.layer(df, type="potential", var="gp", var2="pop", multiplier=10000, span=4000, fun="p", beta=2, k=4)
    L = m._layers[0]
    # rates are 0, 30 (3 GPs for 1 000) and 10 (20 for 20 000): smoothed between them
    assert L.breaks[0] >= 0 and L.breaks[-1] <= 30
    with pytest.raises(MapError, match="span"):
        Map(extent=df).layer(df, type="potential", var="gp")
    with pytest.raises(MapError, match="masses must be >= 0"):
        Map(extent=df).layer(df.assign(gp=-df.gp), type="potential", var="gp", span=1000)
