"""Discontinuities between neighbouring units, on a synthetic grid of squares."""

import numpy as np
import pytest
import shapely

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
