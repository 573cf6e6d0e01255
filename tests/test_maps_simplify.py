"""Douglas-Peucker from ranked vertices (mbm_sig/maps/simplify.py) against GEOS, on the
catalogue's real layers and on small geometries made here."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from mbm_sig.maps import simplify


@pytest.fixture(scope="module")
def layers(built_gpkg):
    return {name: np.asarray(built_gpkg.read(name).geometry.array)
            for name in ("communes", "epci", "cites_minieres", "terrils", "cavaliers")}


def _open_lines(geoms):
    """Every ring and line of ``geoms`` as an open LineString (its last point dropped when closed)."""
    parts = shapely.get_parts(shapely.boundary(geoms) if shapely.get_type_id(geoms[0]) in (3, 6) else geoms)
    parts = shapely.get_parts(parts)
    out = []
    for p in parts:
        c = shapely.get_coordinates(p)
        if len(c) > 3 and (c[0] == c[-1]).all():
            c = c[:-1]
        out.append(shapely.linestrings(c))
    return np.array(out, dtype=object)


@pytest.mark.parametrize("tol", [5.0, 25.0, 150.0])
def test_open_lines_are_exactly_geos_douglas_peucker(layers, tol, monkeypatch):
    """On open lines (no ring rule, no repair on either side) the ranked simplification keeps
    exactly the vertices GEOS keeps: the split rule and the distance are GEOS's."""
    monkeypatch.setattr(simplify, "RANKED_FROM", 0)
    for name in ("communes", "cites_minieres", "cavaliers"):
        lines = _open_lines(layers[name])
        assert len(lines) > 20, name
        ours = simplify.simplify(lines, tol)
        geos = shapely.simplify(lines, tol, preserve_topology=False)
        same = shapely.equals_exact(ours, geos, 0.0)
        assert same.all(), (name, tol, int((~same).sum()), len(lines))


@pytest.mark.parametrize("tol", [10.0, 40.0, 150.0])
def test_polygons_stay_within_the_tolerance_and_keep_original_vertices(layers, tol, monkeypatch):
    """Every simplified feature is within ``tol`` of its original both ways (Hausdorff), made
    of the original's vertices, of the same kind, with about GEOS's number of vertices (GEOS
    may also drop a ring's start point, and drops the parts of a collapsed feature one by one)."""
    monkeypatch.setattr(simplify, "RANKED_FROM", 0)          # the ranked path for the small layers too
    for name in ("communes", "epci", "cites_minieres", "terrils"):
        g = layers[name]
        ours = simplify.simplify(g, tol)
        assert not shapely.is_empty(ours).any(), name
        assert (shapely.get_type_id(ours) == shapely.get_type_id(g)).all(), name
        geos = shapely.simplify(g, tol, preserve_topology=False)
        # a part or hole left with fewer than four points is dropped (GEOS drops it too)
        rings = [shapely.get_num_geometries, lambda a: shapely.get_num_interior_rings(shapely.get_geometry(a, 0))]
        whole = np.ones(len(g), dtype=bool)
        for count in rings:
            whole &= count(ours) == count(g)
            assert (count(ours)[~whole] >= 0).all()
        lost = ~whole & (shapely.get_num_geometries(ours) < shapely.get_num_geometries(g))
        assert (shapely.get_num_geometries(geos)[lost] < shapely.get_num_geometries(g)[lost]).all(), name
        assert whole.mean() > 0.5, name
        h = shapely.hausdorff_distance(ours[whole], g[whole], densify=0.25)
        assert (h <= tol * 1.05 + 1e-6).all(), (name, tol, float(h.max()))
        mine = shapely.get_coordinates(ours)
        orig = {tuple(c) for c in shapely.get_coordinates(g)}
        assert all(tuple(c) in orig for c in mine), name
        n_ours = shapely.get_num_coordinates(ours).sum()
        gone = shapely.is_empty(geos)
        geos[gone] = g[gone]                    # as geom.prepare keeps what GEOS collapses
        n_geos = shapely.get_num_coordinates(geos).sum()
        assert n_geos * 0.9 <= n_ours <= n_geos * 1.1 + 10, (name, tol, n_ours, n_geos)
        assert n_ours < shapely.get_num_coordinates(g).sum() or tol < 20


def test_small_calls_are_geos_simplification(layers):
    g = layers["communes"][:30]
    assert shapely.get_num_coordinates(g).sum() < simplify.RANKED_FROM
    assert shapely.equals_exact(simplify.simplify(g, 40.0), shapely.simplify(g, 40.0, preserve_topology=False), 0).all()


def test_collapsed_parts_and_holes_dropped_a_collapsed_feature_kept_whole(monkeypatch):
    monkeypatch.setattr(simplify, "RANKED_FROM", 0)
    big = shapely.Polygon([(0, 0), (1000, 0), (1000, 1000), (0, 1000)],
                          holes=[[(100, 100), (103, 100), (103, 103), (100, 103)]])   # a 3 m hole
    tiny = shapely.Polygon([(5000, 5000), (5002, 5000), (5002, 5002), (5000, 5002)])
    multi = shapely.MultiPolygon([big, tiny])
    alone = shapely.Polygon([(0, 0), (2, 0), (2, 1), (0, 2)])                          # smaller than 10 m
    line = shapely.LineString([(0, 0), (1, 0.1), (2, 0), (3, 0.1), (50, 0)])
    out = simplify.simplify(np.array([big, multi, alone, line, shapely.Point(1, 2), None], dtype=object), 10.0)
    assert len(out[0].interiors) == 0 and out[0].exterior.equals(big.exterior)     # the hole is gone
    assert out[1].geom_type == "MultiPolygon" and len(out[1].geoms) == 1            # the tiny part too
    assert out[2].equals_exact(alone, 0)                                            # kept unsimplified
    assert list(out[3].coords) == [(0, 0), (50, 0)]
    assert out[4].equals(shapely.Point(1, 2)) and out[5] is None


def test_ranks_are_kept_for_the_same_objects_and_deep_recursions_go_to_geos(layers, monkeypatch):
    monkeypatch.setattr(simplify, "RANKED_FROM", 0)
    g = layers["communes"][:40]
    simplify.simplify(g, 30.0)
    kept = simplify._RANKED[id(g[0])]
    assert kept[0] is g[0]
    again = simplify.simplify(g, 80.0)
    assert simplify._RANKED[id(g[0])] is kept                                      # not ranked again
    assert shapely.get_num_coordinates(again).sum() < shapely.get_num_coordinates(simplify.simplify(g, 30.0)).sum()
    # a recursion deeper than MAX_LEVELS: GEOS simplifies those geometries instead
    fresh = np.array([shapely.Polygon(shapely.get_coordinates(p.exterior if p.geom_type == "Polygon"
                                                              else p.geoms[0].exterior)) for p in g[:5]],
                     dtype=object)
    monkeypatch.setattr(simplify, "MAX_LEVELS", 2)
    out = simplify.simplify(fresh, 30.0)
    assert simplify._RANKED[id(fresh[0])][1] is None
    geos = shapely.simplify(fresh, 30.0, preserve_topology=False)
    assert shapely.equals_exact(out, geos, 0.0).all()


def test_batches_rank_as_one(layers, monkeypatch):
    """Ranked in batches of a hundred vertices, the result is the one of a single batch."""
    monkeypatch.setattr(simplify, "RANKED_FROM", 0)
    g = shapely.from_wkb(shapely.to_wkb(layers["communes"][100:220]))         # objects not ranked yet
    whole = simplify.simplify(g, 35.0)
    h = shapely.from_wkb(shapely.to_wkb(layers["communes"][100:220]))
    monkeypatch.setattr(simplify, "BATCH_VERTICES", 100)
    parts = simplify.simplify(h, 35.0)
    assert shapely.get_num_coordinates(h).sum() > 10 * 100
    assert shapely.equals_exact(whole, parts, 0.0).all()
