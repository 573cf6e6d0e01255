"""Discontinuities between neighbouring units, on a synthetic grid of squares."""

import numpy as np
import pytest
import shapely
import shapely.affinity

from mbm_sig.maps.analysis import discontinuities as D


def squares(nx=3, ny=2, side=1000.0):
    """Units numbered row by row from the bottom-left: 0 1 2 / 3 4 5 (top row 3 4 5)."""
    return [shapely.box(x * side, y * side, (x + 1) * side, (y + 1) * side) for y in range(ny) for x in range(nx)]


def test_shared_borders_are_the_common_edges():
    br = D.shared_borders(squares())
    pairs = sorted(zip(br.i.tolist(), br.j.tolist()))
    # units touching only at a corner (0 and 4, 1 and 3…) share no border
    assert pairs == [(0, 1), (0, 3), (1, 2), (1, 4), (2, 5), (3, 4), (4, 5)]
    for g in br.geoms:
        assert g.geom_type == "LineString" and g.length == pytest.approx(1000)
    e = dict(zip(zip(br.i.tolist(), br.j.tolist()), br.geoms))
    assert e[0, 1].equals(shapely.LineString([(1000, 0), (1000, 1000)]))


def test_snap_joins_outlines_that_do_not_match():
    a = shapely.box(0, 0, 1000, 1000)
    b = shapely.box(1002, 0, 2000, 1000)        # a 2 m gap
    assert len(D.shared_borders([a, b]).i) == 0
    br = D.shared_borders([a, b], snap=5)
    # a's edge facing b, and at most ``snap`` of the edges that meet it at each end
    assert br.i.tolist() == [0] and 1000 <= br.geoms[0].length <= 1000 + 2 * 5


def test_relative_and_absolute_discontinuities():
    assert D.discontinuity([2, 10], [8, 5], "rel").tolist() == [4, 2]
    assert D.discontinuity([2, 10], [8, 5], "abs").tolist() == [6, 5]
    with pytest.raises(D.DiscontinuityError, match="unknown discontinuity 'ratio'"):
        D.discontinuity([1], [2], "ratio")


def test_borders_kept_only_above_the_threshold():
    v = [10, 10, 40, 10, 20, 20]
    rel = D.discontinuities(squares(), v, "rel", threshold=1.5)
    got = {(int(i), int(j)): float(d) for i, j, d in zip(rel.i, rel.j, rel.values)}
    # 1|2: 40/10 = 4; 1|4: 2; 2|5: 2; 3|4: 2; (0|1, 0|3 and 4|5 are equal values: ratio 1)
    assert got == {(1, 2): 4.0, (1, 4): 2.0, (2, 5): 2.0, (3, 4): 2.0}
    assert D.discontinuities(squares(), v, "rel", threshold=2).i.tolist() == [1]
    # strictly above: a discontinuity equal to the threshold is not drawn
    assert len(D.discontinuities(squares(), v, "rel", threshold=4).i) == 0
    ab = D.discontinuities(squares(), v, "abs", threshold=15)
    assert sorted(zip(ab.i.tolist(), ab.j.tolist(), ab.values.tolist())) == [(1, 2, 30.0), (2, 5, 20.0)]
    assert len(D.discontinuities(squares(), v, "abs").i) == 7      # no threshold: every border


def test_missing_values_and_rel_needs_positive_values():
    v = [10, np.nan, 40, 10, 20, 20]
    d = D.discontinuities(squares(), v, "abs")
    assert 1 not in d.i.tolist() + d.j.tolist()
    with pytest.raises(D.DiscontinuityError, match="needs values > 0"):
        D.discontinuities(squares(), [0, 1, 2, 3, 4, 5], "rel")


def test_points_are_refused():
    with pytest.raises(D.DiscontinuityError, match="need polygons"):
        D.shared_borders([shapely.Point(0, 0), shapely.Point(1, 1)])


# ----------------------------------------------------------------------------- the map type

import geopandas as gpd  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402

from mbm_sig.maps import Map  # noqa: E402
from mbm_sig.maps.errors import MapError  # noqa: E402


def test_map_draws_only_borders_above_the_threshold(tmp_path):
    sq = [shapely.affinity.translate(g, 680000, 7030000) for g in squares()]
    df = gpd.GeoDataFrame({"v": [10, 10, 40, 10, 20, 20.0]}, geometry=sq, crs=2154)
    m = Map(extent=df)
    m.layer(df, type="choro", var="v", k=2, palette="Blues")
    m.layer(df, type="discontinuities", var="v", kind="rel", threshold=1.5, method="equal", k=2, widths=[1, 3],
            legend_title="Rapport entre voisins")
    info = m.save(tmp_path / "d.pdf")
    assert info.symbols[1]["borders"] == 4
    L = m._layers[1]
    # 4 (the 1|2 border) is in the top class, the three ratios of 2 in the lower one
    assert sorted(zip(L.values.tolist(), L.classes.tolist())) == [(2.0, 0), (2.0, 0), (2.0, 0), (4.0, 1)]
    lines = [a for a in info.figure.artists if isinstance(a, PathPatch) and not a.get_fill()
             and a.get_clip_box() is not None]
    assert sorted(a.get_linewidth() for a in lines) == [1, 3]
    # the thick line is the border between units 1 and 2 (x = 2000)
    thick = next(a for a in lines if a.get_linewidth() == 3)
    assert np.ptp(thick.get_path().vertices[:, 0]) < 1e-6
    leg = info.legends[1]
    assert leg["kind"] == "discontinuities" and leg["title"] == "Rapport entre voisins"
    assert [s["height_mm"] for s in leg["symbols"]] == pytest.approx([3 * 25.4 / 72, 1 * 25.4 / 72])


def test_no_border_above_the_threshold_draws_nothing(tmp_path):
    sq = [shapely.affinity.translate(g, 680000, 7030000) for g in squares()]
    df = gpd.GeoDataFrame({"v": [10, 10, 40, 10, 20, 20.0]}, geometry=sq, crs=2154)
    m = Map(extent=df)
    m.layer(df, type="discontinuities", var="v", kind="abs", threshold=100)
    info = m.save(tmp_path / "d.pdf")
    assert info.features[0] == 0 and info.legends == []
    with pytest.raises(MapError, match="needs values > 0"):
        Map(extent=df).layer(df.assign(v=df.v - 10), type="discontinuities", var="v", kind="rel")


def test_given_breaks_fix_the_widths_across_sheets():
    sq = [shapely.affinity.translate(g, 680000, 7030000) for g in squares()]
    df = gpd.GeoDataFrame({"v": [10, 10, 40, 10, 20, 20.0]}, geometry=sq, crs=2154)
    m = Map(extent=df)
    m.layer(df, type="discontinuities", var="v", kind="rel", threshold=1.5, breaks=[1.5, 3, 10], widths=[1, 3])
    L = m._layers[0]
    assert L.breaks.tolist() == [1.5, 3, 10]
    assert sorted(zip(L.values.tolist(), L.classes.tolist())) == [(2.0, 0), (2.0, 0), (2.0, 0), (4.0, 1)]
