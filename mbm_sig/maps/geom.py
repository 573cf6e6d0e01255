"""Geometry preparation for print: keep what is in the extent, clip, simplify to the
resolution of the paper, and turn polygons into a few compound matplotlib paths.

A sheet is drawn with one compound path per class (choropleth) instead of one artist per
feature: the PDF gets a handful of fill operators, and matplotlib's per-artist overhead
disappears.
"""

from __future__ import annotations

import numpy as np
import shapely
from matplotlib.path import Path

MOVETO, LINETO, CLOSEPOLY = Path.MOVETO, Path.LINETO, Path.CLOSEPOLY


def in_extent(geoms: np.ndarray, bbox) -> np.ndarray:
    """Boolean mask of geometries whose bounding box meets ``bbox`` (x0, y0, x1, y1)."""
    if len(geoms) == 0:
        return np.zeros(0, dtype=bool)
    b = shapely.bounds(geoms)
    x0, y0, x1, y1 = bbox
    with np.errstate(invalid="ignore"):
        return ~((b[:, 0] > x1) | (b[:, 2] < x0) | (b[:, 1] > y1) | (b[:, 3] < y0)) & ~np.isnan(b[:, 0])


_PREPARED: dict = {}


def prepare(geoms: np.ndarray, bbox, tolerance: float) -> np.ndarray:
    """Clip to ``bbox`` (only geometries crossing its edge) and simplify with ``tolerance``
    (ground units). Geometries must already be filtered with :func:`in_extent`.

    The result is kept for the same geometry objects, box and tolerance: the sheets of an
    atlas drawn at one extent (the basin) share their prepared layers. The entry holds the
    geometries themselves, so their identities cannot be reused while it lives."""
    if len(geoms) == 0:
        return geoms
    key = (len(geoms), hash(tuple(map(id, geoms))), tuple(map(float, bbox)), float(tolerance))
    hit = _PREPARED.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], geoms, strict=False)):
        return hit[1]
    out = _prepare(geoms, bbox, tolerance)
    out.flags.writeable = False          # shared by the sheets that hit the cache
    if len(_PREPARED) >= 16:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[key] = (geoms.copy(), out)
    return out


def _prepare(geoms: np.ndarray, bbox, tolerance: float) -> np.ndarray:
    x0, y0, x1, y1 = bbox
    b = shapely.bounds(geoms)
    crossing = (b[:, 0] < x0) | (b[:, 2] > x1) | (b[:, 1] < y0) | (b[:, 3] > y1)
    out = geoms.copy()
    if crossing.any():
        out[crossing] = shapely.clip_by_rect(geoms[crossing], x0, y0, x1, y1)
    if tolerance > 0:
        # plain Douglas-Peucker (much faster than the topology-preserving variant); the
        # few features that collapse (smaller than the tolerance on paper) stay unsimplified
        simple = shapely.simplify(out, tolerance, preserve_topology=False)
        gone = shapely.is_empty(simple) & ~shapely.is_empty(out)
        if gone.any():
            simple[gone] = out[gone]
        out = simple
    return out


def polygon_paths(geoms: np.ndarray, groups: np.ndarray | None = None, n_groups: int = 1) -> list[Path | None]:
    """One compound :class:`Path` per group (``groups[i]`` in ``0..n_groups-1``; -1 is ignored).

    Rings are oriented (exterior counter-clockwise, holes clockwise) so that the nonzero
    fill rule leaves holes empty. Empty groups give ``None``.
    """
    if groups is None:
        groups = np.zeros(len(geoms), dtype=int)
    groups = np.asarray(groups)
    rings = _rings(geoms)
    if rings is None:
        return [None] * n_groups
    coords, codes, feat = rings
    if len(groups) and -2 ** 15 <= groups.min() and groups.max() < 2 ** 15:
        groups = groups.astype(np.int16)        # a stable sort of small integers is a radix sort
    g = groups[feat]
    order = np.argsort(g, kind="stable")
    g_sorted = g[order]
    bounds = np.searchsorted(g_sorted, np.arange(-1, n_groups + 1))
    out: list[Path | None] = []
    for i in range(n_groups):
        a, b = bounds[i + 1], bounds[i + 2]
        if a == b:
            out.append(None)
            continue
        sel = order[a:b]
        out.append(Path(np.take(coords, sel, axis=0), codes[sel]))
    return out


_RINGS: list = []


def _rings(geoms: np.ndarray):
    """Coordinates, path codes and feature index of every vertex of the polygon rings of
    ``geoms`` (exteriors counter-clockwise, holes clockwise), or None without polygons.
    Kept for the last few read-only arrays (the prepared layers an atlas draws again on
    every sheet at one extent): the entry holds the array, compared by identity."""
    for arr, res in _RINGS:
        if arr is geoms:
            return res
    rings, feature, exterior = _polygon_rings(geoms)
    if len(rings) == 0:
        res = None
    else:
        coords, cidx = shapely.get_coordinates(rings, return_index=True)
        codes = np.full(len(coords), LINETO, dtype=Path.code_type)
        starts = np.r_[0, np.flatnonzero(np.diff(cidx)) + 1]
        ends = np.r_[starts[1:] - 1, len(coords) - 1]
        codes[starts] = MOVETO
        codes[ends] = CLOSEPOLY
        coords = _oriented(coords, starts, ends + 1, exterior)
        res = (coords, codes, feature[cidx])
    if not geoms.flags.writeable:        # an array that cannot change under the cache
        _RINGS.insert(0, (geoms, res))
        del _RINGS[8:]
    return res


def _polygon_rings(geoms: np.ndarray):
    """The rings of the polygons of ``geoms`` (the polygon parts of multi-part and
    collection geometries; lines and points left out), in order, with the feature of each
    and whether it is an exterior. A polygon's rings are taken from it directly: splitting
    every geometry into parts first copied each polygon once more."""
    tid = shapely.get_type_id(geoms)
    one = np.flatnonzero(tid == 3)
    rings, ridx = shapely.get_rings(geoms[one], return_index=True)
    feature = one[ridx]
    exterior = np.r_[True, ridx[1:] != ridx[:-1]][:len(ridx)]
    multi = np.flatnonzero((tid != 3) & (tid >= 0))
    if len(multi):
        parts, pidx = shapely.get_parts(geoms[multi], return_index=True)
        is_poly = shapely.get_type_id(parts) == 3
        parts, pidx = parts[is_poly], pidx[is_poly]
        prings, pridx = shapely.get_rings(parts, return_index=True)
        rings = np.concatenate([rings, prings])
        feature = np.concatenate([feature, multi[pidx[pridx]]])
        exterior = np.concatenate([exterior, np.r_[True, pridx[1:] != pridx[:-1]][:len(pridx)]])
        order = np.argsort(feature, kind="stable")         # the features' order, rings kept in order
        rings, feature, exterior = rings[order], feature[order], exterior[order]
    return rings, feature, exterior


def _oriented(coords: np.ndarray, starts: np.ndarray, ends: np.ndarray, exterior: np.ndarray) -> np.ndarray:
    """The rings' coordinates (ring ``i`` is ``coords[starts[i]:ends[i]]``, closed) with the
    exteriors counter-clockwise and the holes clockwise: a ring whose area has the other
    sign is reversed, as ``shapely.orient_polygons`` does (the same coordinates for the
    valid polygons :func:`prepare` makes, without making new polygons). The area is summed
    from the first vertex (no cancellation between Lambert-93's large numbers)."""
    x = coords[:, 0] - coords[0, 0]
    y = coords[:, 1] - coords[0, 1]
    cross = np.zeros(len(coords))
    cross[:-1] = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross[ends - 1] = 0.0                              # no segment from one ring to the next
    area2 = np.add.reduceat(cross, starts)
    flip = np.where(exterior, area2 < 0, area2 > 0)
    if not flip.any():
        return coords
    ring_of = np.repeat(np.arange(len(starts)), ends - starts)
    i = np.arange(len(coords))
    return np.take(coords, np.where(flip[ring_of], (starts + ends - 1)[ring_of] - i, i), axis=0)


def line_path(geoms: np.ndarray) -> Path | None:
    """One compound open path of all lines (polygon boundaries become their rings)."""
    if len(geoms) == 0:
        return None
    lines = shapely.boundary(geoms)
    is_poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    lines = np.where(is_poly, lines, geoms)
    parts, _ = shapely.get_parts(lines, return_index=True)
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if len(parts) == 0:
        return None
    coords, cidx = shapely.get_coordinates(parts, return_index=True)
    codes = np.full(len(coords), LINETO, dtype=Path.code_type)
    codes[np.r_[0, np.flatnonzero(np.diff(cidx)) + 1]] = MOVETO
    return Path(coords, codes)


def anchor_points(geoms: np.ndarray) -> np.ndarray:
    """(n, 2) label / symbol anchor: the point itself, or a point inside polygons."""
    if len(geoms) == 0:
        return np.zeros((0, 2))
    tid = shapely.get_type_id(geoms)
    pts = np.array(geoms, dtype=object)
    other = tid != 0
    if other.any():
        pts[other] = shapely.point_on_surface(geoms[other])
    return np.c_[shapely.get_x(pts), shapely.get_y(pts)]


#: unions of the same features kept (a warm process draws the same focus and extent again)
_UNIONS: dict = {}
_UNIONS_KEPT = 16


def union_of(geoms, valid: bool = False):
    """``shapely.union_all(geoms)`` (of ``shapely.make_valid(geoms)`` with ``valid``), kept
    for the same geometry objects (shapely's are immutable; the catalogue's cached layers give
    the same objects from one read to the next): a sheet's extent, focus and its veil unite
    the same arrondissements in each build, 5 to 15 ms each time."""
    arr = np.asarray(geoms, dtype=object)
    key = (valid, tuple(map(id, arr)))
    hit = _UNIONS.get(key)
    if hit is None:
        u = shapely.union_all(shapely.make_valid(arr) if valid else arr)
        hit = _UNIONS[key] = (arr, u)       # (the objects kept: their ids are not reused)
        while len(_UNIONS) > _UNIONS_KEPT:
            _UNIONS.pop(next(iter(_UNIONS)))
    return hit[1]
