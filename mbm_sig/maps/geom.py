"""Geometry preparation for print: keep what is in the extent, simplify to the resolution
of the paper, leave out what lies well outside the frame, and turn polygons into a few
compound matplotlib paths.

A sheet is drawn with one compound path per class (choropleth) instead of one artist per
feature: the PDF gets a handful of fill operators, and matplotlib's per-artist overhead
disappears. A layer drawn on many sheets at many scales (the communes of an atlas) has its
rings and each vertex's Douglas-Peucker threshold computed once (:func:`dp_thresholds`):
simplifying it for a sheet is then a comparison per vertex instead of a GEOS call, with the
same vertices kept.
"""

from __future__ import annotations

import numpy as np
import shapely
from matplotlib.path import Path

MOVETO, LINETO, CLOSEPOLY = Path.MOVETO, Path.LINETO, Path.CLOSEPOLY


#: a geometry set of at least this many has its features' bounds kept (:func:`_kept_for`)
KEPT_BOUNDS = 256


def _read_only_bounds(geoms: np.ndarray) -> np.ndarray:
    b = shapely.bounds(geoms)
    b.flags.writeable = False           # kept and shared (:func:`_kept_for`)
    return b


def in_extent(geoms: np.ndarray, bbox) -> np.ndarray:
    """Boolean mask of geometries whose bounding box meets ``bbox`` (x0, y0, x1, y1). The
    bounds of a large set are kept for its objects: a coverage atlas asks for the communes'
    on every page (some 0.4 ms each time)."""
    if len(geoms) == 0:
        return np.zeros(0, dtype=bool)
    b = _kept_for(geoms, "bounds", _read_only_bounds) if len(geoms) >= KEPT_BOUNDS else shapely.bounds(geoms)
    x0, y0, x1, y1 = bbox
    with np.errstate(invalid="ignore"):
        return ~((b[:, 0] > x1) | (b[:, 2] < x0) | (b[:, 1] > y1) | (b[:, 3] < y0)) & ~np.isnan(b[:, 0])


#: a geometry set whose vertices number at least this, drawn at a second frame or scale, has
#: each vertex's Douglas-Peucker threshold computed then (:func:`dp_thresholds`, some twice a
#: GEOS simplification's time); before, and for a smaller set, GEOS simplifies the parts each
#: sheet draws (the same vertices: which way a sheet takes changes no byte)
INDEXED_VERTICES = 4000
INDEXED_AFTER = 1          # the frames drawn (cached results aside) before the thresholds are made
#: how far beyond the clip box (mm on paper) a run of vertices is cut to its ends: more than
#: half the widest stroke (up to some 28 pt), so that no outline drawn along the cut shows in
#: the frame
OUTSIDE_MM = 5.0


def dp_thresholds(xy: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each vertex of the lines ``xy[starts[i]:ends[i]]``, the largest tolerance at which
    Douglas-Peucker simplification (GEOS's, ``shapely.simplify(line, tol,
    preserve_topology=False)``) keeps it: the vertex is kept at ``tol`` when its threshold is
    above ``tol``; the ends of each line are kept at any tolerance (``inf``).

    The algorithm's splits do not depend on the tolerance (each part is split at the vertex
    farthest from its chord, the first of equals, as GEOS takes it), only where it stops: a
    vertex's threshold is its distance to its part's chord, capped by the threshold of the
    vertex that made the part. Computed one level of splits at a time over all lines, each
    distance with GEOS's arithmetic (``Distance::pointToSegment``, operation for operation),
    so that equal distances are equal here too and the first is taken."""
    n = len(xy)
    thr = np.zeros(n)
    thr[starts] = np.inf
    thr[ends - 1] = np.inf
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    a, b = starts.astype(np.intp), (ends - 1).astype(np.intp)
    cap = np.full(len(a), np.inf)
    while True:
        inner = b - a - 1
        live = inner > 0
        if not live.all():
            a, b, cap, inner = a[live], b[live], cap[live], inner[live]
        if len(a) == 0:
            return thr
        first = np.cumsum(inner) - inner
        part = np.repeat(np.arange(len(a)), inner)
        v = np.arange(len(part)) - first[part] + (a + 1)[part]
        ax, ay, bx, by, px, py = x[a][part], y[a][part], x[b][part], y[b][part], x[v], y[v]
        d = _point_segment(px, py, ax, ay, bx, by)
        far = np.maximum.reduceat(d, first)
        at = np.flatnonzero(d == far[part])
        k = v[at[np.r_[True, part[at][1:] != part[at][:-1]]]]     # the first farthest of each part
        t = np.minimum(far, cap)
        thr[k] = t
        a, b, cap = np.r_[a, k], np.r_[k, b], np.r_[t, t]


def _point_segment(px, py, ax, ay, bx, by) -> np.ndarray:
    """Distances of the points to the segments, as GEOS's ``Distance::pointToSegment``
    computes them: to A when A = B or the projection falls before A, to B after B, else
    ``|s| * sqrt(len2)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
        r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2
        s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / len2
        d = np.abs(s) * np.sqrt(len2)
    to_a = np.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    to_b = np.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    same = (ax == bx) & (ay == by)
    return np.where(same | (r <= 0), to_a, np.where(r >= 1, to_b, d))


class _Shapes:
    """The rings (``kind`` "area": of the polygons) or the lines and rings ("line": the lines
    and the polygons' outlines) of a geometry set, as they are drawn on every sheet: their
    coordinates ``xy`` (part ``i`` is ``xy[start[i]:start[i + 1]]``), the ``feature`` of each
    part, for a polygon's ring its ``polygon`` (a number, -1 for a line: ``ring`` False) and
    whether it is the ``exterior``; ``thr``: each vertex's Douglas-Peucker threshold once made
    (:data:`INDEXED_VERTICES`), else None; ``frames``: the frames (box and tolerance) it was
    simplified for."""

    def __init__(self, geoms: np.ndarray, kind: str):
        rings, feature, exterior = _polygon_rings(geoms)
        polygon = np.cumsum(exterior) - 1
        if kind == "line":
            tid = shapely.get_type_id(geoms)
            parts, pidx = shapely.get_parts(geoms[(tid != 3) & (tid >= 0)], return_index=True)
            lined = np.isin(shapely.get_type_id(parts), (1, 2))
            lines = parts[lined]
            lf = np.flatnonzero((tid != 3) & (tid >= 0))[pidx[lined]]
            if len(lines):
                rings = np.concatenate([rings, lines])
                feature = np.concatenate([feature, lf])
                exterior = np.concatenate([exterior, np.zeros(len(lines), dtype=bool)])
                polygon = np.concatenate([polygon, np.full(len(lines), -1)])
                order = np.argsort(feature, kind="stable")
                rings, feature, exterior, polygon = rings[order], feature[order], exterior[order], polygon[order]
        counts = shapely.get_num_coordinates(rings)
        some = counts > 0
        if not some.all():
            rings, feature, exterior, polygon, counts = (a[some] for a in (rings, feature, exterior, polygon, counts))
        self.kind = kind
        self.feature, self.exterior, self.polygon = feature, exterior, polygon
        self.start = np.r_[0, np.cumsum(counts)].astype(np.intp)
        self.vpart = np.repeat(np.arange(len(counts)), counts)      # the part of each vertex
        self.xy = shapely.get_coordinates(rings) if len(rings) else np.zeros((0, 2))
        self.ring = polygon >= 0                # a polygon's ring (else a line)
        self.thr: np.ndarray | None = None
        self.frames: set = set()

    def indexed(self, frame) -> bool:
        """Whether simplifying for ``frame`` (box and tolerance) goes by the thresholds: made on
        the first new frame after :data:`INDEXED_AFTER` of a set of :data:`INDEXED_VERTICES` or
        more (a sheet drawing a layer's classes apart asks for one frame several times)."""
        if self.thr is None and len(self.xy) >= INDEXED_VERTICES and frame not in self.frames \
                and len(self.frames) >= INDEXED_AFTER:
            self.thr = dp_thresholds(self.xy, self.start[:-1], self.start[1:])
        self.frames.add(frame)
        return self.thr is not None


_SHAPES: dict = {}
_SHAPES_KEPT = 32       # (the sets and large sets' bounds of a few atlases' layers)


def _shapes(geoms: np.ndarray, kind: str) -> _Shapes:
    """The :class:`_Shapes` of ``geoms``, kept for the same geometry objects
    (:func:`_kept_for`)."""
    return _kept_for(geoms, kind, lambda g: _Shapes(g, kind))


def _kept_for(geoms: np.ndarray, kind: str, make):
    """``make(geoms)``, kept for the same geometry objects (shapely's are immutable; the
    catalogue's cached layers give the same objects from one read to the next): an atlas's
    sheets draw the same layers at many extents. The entry holds the objects, so their
    identities cannot be reused while it lives. The least recently used entry goes first: a
    coverage atlas draws a new set on every page (its feature's outline), and the layer that
    every page draws stays (dropped in the order it came, it was made again every 16 pages,
    its vertex thresholds with it)."""
    ids = np.fromiter(map(id, geoms), dtype=np.int64, count=len(geoms))
    key = (kind, len(geoms), hash(ids.tobytes()))
    hit = _SHAPES.pop(key, None)
    if hit is not None and np.array_equal(hit[1], ids):
        _SHAPES[key] = hit                # the most recently used last: kept the longest
        return hit[2]
    value = make(geoms)
    _SHAPES[key] = (geoms.copy(), ids, value)
    while len(_SHAPES) > _SHAPES_KEPT:
        _SHAPES.pop(next(iter(_SHAPES)))
    return value


def _ranges(start: np.ndarray, parts: np.ndarray):
    """The vertex numbers of ``parts`` (in order) and the part of each."""
    n = start[parts + 1] - start[parts]
    part = np.repeat(parts, n)
    first = np.cumsum(n) - n
    return np.arange(len(part)) - np.repeat(first, n) + np.repeat(start[parts], n), part


def _simplified(S: _Shapes, parts: np.ndarray, tol: float, frame=None):
    """The vertices of ``parts`` simplified at ``tol`` (Douglas-Peucker on each ring and line,
    its ends kept): coordinates and part of each, in order. A polygon whose exterior keeps
    fewer than 4 vertices is left out, and a hole that does; a feature left with no polygon is
    drawn as it is (as GEOS's simplification of the polygons, whose collapsed rings go)."""
    if tol > 0 and S.indexed((frame, tol)):
        assert S.thr is not None
        if 3 * int((S.start[parts + 1] - S.start[parts]).sum()) < len(S.xy):     # a few of its parts
            v, part = _ranges(S.start, parts)
            v = v[S.thr[v] > tol]
        else:
            chosen = np.zeros(len(S.feature), dtype=bool)
            chosen[parts] = True
            v = np.flatnonzero(chosen[S.vpart] & (S.thr > tol))
        xy, sp = S.xy[v], S.vpart[v]
    else:
        v, part = _ranges(S.start, parts)
        if tol <= 0:
            return S.xy[v], part
        # a small set: GEOS's simplification of each ring as a line (the same vertices)
        local = np.searchsorted(parts, part)
        lines = shapely.simplify(shapely.linestrings(S.xy[v], indices=local), tol, preserve_topology=False)
        xy, li = shapely.get_coordinates(lines, return_index=True)
        sp = parts[li]
    ring = S.ring[parts]
    if not ring.any():
        return xy, sp
    ok = np.bincount(sp, minlength=len(S.feature)) >= 4
    outer_ok = np.zeros(int(S.polygon.max()) + 1, dtype=bool)
    ext = parts[S.exterior[parts]]
    outer_ok[S.polygon[ext]] = ok[ext]
    kept = np.ones(len(S.feature), dtype=bool)
    kept[parts] = ~ring | (ok[parts] & outer_ok[S.polygon[parts]])
    feat = S.feature[parts]
    has = np.zeros(int(feat.max()) + 1, dtype=bool)
    has[feat[ring & kept[parts]]] = True
    whole = np.zeros(len(S.feature), dtype=bool)         # features left with no polygon: as they are
    whole[parts] = ring & ~has[feat]
    if kept[parts].all() and not whole.any():
        return xy, sp
    sel = kept[sp] & ~whole[sp]
    xy, sp = xy[sel], sp[sel]
    if whole.any():
        wv, wp = _ranges(S.start, np.flatnonzero(whole))
        xy = np.concatenate([xy, S.xy[wv]])
        sp = np.concatenate([sp, wp])
        order = np.argsort(sp, kind="stable")
        xy, sp = xy[order], sp[order]
    return xy, sp


def _cut_outside(xy: np.ndarray, part: np.ndarray, box):
    """The vertices with each run of three or more beyond one side of ``box`` cut to the
    run's two ends (the first and last vertex of each part kept): the straight line that
    replaces the run lies beyond that side too, so nothing changes inside the box (but the
    phase of a dashed line's dashes), and the file holds little of what the frame does not
    show (clipping with GEOS made new vertices on the frame's edge, and could turn a
    self-crossing ring inside out)."""
    n = len(xy)
    if n < 3:
        return xy, part
    x0, y0, x1, y1 = box
    sides = (xy[:, 0] < x0, xy[:, 0] > x1, xy[:, 1] < y0, xy[:, 1] > y1)
    inner = np.zeros(n, dtype=bool)            # neither the first nor the last vertex of its part
    inner[1:-1] = (part[:-2] == part[1:-1]) & (part[2:] == part[1:-1])
    idx = None
    for side in sides:
        # each side is tested on what the last left: a cut run lies beyond one side only, so
        # the line that replaces it stays beyond that side
        c = side if idx is None else side[idx]
        cut = np.zeros(len(c), dtype=bool)
        cut[1:-1] = c[1:-1] & c[:-2] & c[2:]
        cut &= inner if idx is None else inner[idx]
        if cut.any():
            idx = np.flatnonzero(~cut) if idx is None else idx[~cut]
    return (xy, part) if idx is None else (xy[idx], part[idx])


def _print_shapes(geoms, mask, kind, clip, tol, m_per_mm):
    """Coordinates, path codes and feature of every vertex of the rings (areas) or lines
    drawn for the features ``mask`` of ``geoms`` in the clip box ``clip``: simplified at
    ``tol`` (:func:`_simplified`), the runs beyond the box and a margin cut
    (:func:`_cut_outside`), the rings oriented; or None when there is nothing to draw. Kept
    for the same set, features, box and tolerance (read-only arrays): the sheets of an atlas
    drawn at one extent (the basin) share their layers."""
    if not mask.any():
        return None
    S = _shapes(geoms, kind)
    key = (id(S), hash(np.packbits(mask).tobytes()), tuple(map(float, clip)), float(tol), float(m_per_mm))
    hit = _DRAWN.get(key)
    if hit is not None and hit[0] is S and np.array_equal(hit[1], mask):
        return hit[2]
    got = _drawn(S, mask, kind, clip, tol, m_per_mm)
    if got is not None:
        for a in got:
            a.flags.writeable = False
    _DRAWN[key] = (S, mask.copy(), got)
    while len(_DRAWN) > _DRAWN_KEPT:
        _DRAWN.pop(next(iter(_DRAWN)))
    return got


_DRAWN: dict = {}
_DRAWN_KEPT = 16


def _drawn(S: _Shapes, mask, kind, clip=None, tol=0.0, m_per_mm=0.0):
    """:func:`_print_shapes` of ``S``, made (without ``clip``: nothing cut; at ``tol`` 0:
    nothing simplified)."""
    parts = np.flatnonzero(mask[S.feature]) if len(S.feature) else np.zeros(0, dtype=np.intp)
    if len(parts) == 0:
        return None
    xy, part = _simplified(S, parts, tol, None if clip is None else tuple(clip))
    flip_of = np.zeros(len(S.feature), dtype=bool)         # rings to reverse, as simplified (simplifying can turn one)
    if kind == "area" and len(xy):
        starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
        flip_of[part[starts]] = _flipped(xy, starts, np.r_[starts[1:], len(xy)], S.exterior[part[starts]])
    if clip is not None:
        pad = OUTSIDE_MM * m_per_mm
        xy, part = _cut_outside(xy, part, (clip[0] - pad, clip[1] - pad, clip[2] + pad, clip[3] + pad))
    first = np.r_[True, part[1:] != part[:-1]]
    last = np.r_[part[1:] != part[:-1], True]
    flip = flip_of[part]
    if flip.any():
        starts, ends = np.flatnonzero(first), np.flatnonzero(last) + 1
        i = np.arange(len(xy))
        p = np.repeat(np.arange(len(starts)), ends - starts)
        xy = np.take(xy, np.where(flip, (starts + ends - 1)[p] - i, i), axis=0)
    codes = np.full(len(xy), LINETO, dtype=Path.code_type)
    if kind == "area":
        codes[last] = CLOSEPOLY
    codes[first] = MOVETO
    return xy, codes, S.feature[part]


def area_rings(geoms: np.ndarray, mask: np.ndarray, clip, tol: float, m_per_mm: float):
    """The rings of the polygons ``mask`` of ``geoms`` as drawn in the clip box ``clip``
    (simplified at ``tol`` ground units, what lies well outside the box left out, exteriors
    counter-clockwise and holes clockwise): coordinates, path codes and feature number of each
    vertex, for :func:`group_paths`; None without any."""
    return _print_shapes(geoms, mask, "area", clip, tol, m_per_mm)


def outline_path(geoms: np.ndarray, mask: np.ndarray, clip, tol: float, m_per_mm: float) -> Path | None:
    """One compound open path of the lines and polygon outlines ``mask`` of ``geoms`` as
    drawn in the clip box ``clip`` (as :func:`area_rings`)."""
    got = _print_shapes(geoms, mask, "line", clip, tol, m_per_mm)
    return None if got is None else Path(got[0], got[1])


def polygon_paths(geoms: np.ndarray, groups: np.ndarray | None = None, n_groups: int = 1) -> list[Path | None]:
    """One compound :class:`Path` per group of the polygons ``geoms`` (``groups[i]`` in
    ``0..n_groups-1``; -1 is ignored), drawn as they are (:func:`group_paths`)."""
    return group_paths(_rings(geoms), groups, n_groups)


def group_paths(rings, groups: np.ndarray | None = None, n_groups: int = 1) -> list[Path | None]:
    """One compound :class:`Path` per group of the features of ``rings`` (coordinates, codes
    and feature of each vertex: :func:`area_rings`, :func:`_rings`): ``groups[i]`` is the group
    of feature ``i``, in ``0..n_groups-1`` (-1 is ignored; None: all in one). Rings are
    oriented (exterior counter-clockwise, holes clockwise) so that the nonzero fill rule
    leaves holes empty. Empty groups give ``None``."""
    if rings is None:
        return [None] * n_groups
    coords, codes, feat = rings
    if groups is None:
        groups = np.zeros(int(feat.max()) + 1 if len(feat) else 0, dtype=int)
    groups = np.asarray(groups)
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


def _rings(geoms: np.ndarray):
    """Coordinates, path codes and feature index of every vertex of the polygon rings of
    ``geoms`` (exteriors counter-clockwise, holes clockwise), or None without polygons:
    polygons drawn as they are (the focus veil, the inset; a layer's are :func:`area_rings`)."""
    return _drawn(_Shapes(geoms, "area"), np.ones(len(geoms), dtype=bool), "area")


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


def _flipped(coords: np.ndarray, starts: np.ndarray, ends: np.ndarray, exterior: np.ndarray) -> np.ndarray:
    """Which rings (ring ``i`` is ``coords[starts[i]:ends[i]]``, closed) to reverse for the
    exteriors to run counter-clockwise and the holes clockwise: a ring whose area has the other
    sign, as ``shapely.orient_polygons`` decides it. The area is summed from the first vertex
    (no cancellation between Lambert-93's large numbers)."""
    x = coords[:, 0] - coords[0, 0]
    y = coords[:, 1] - coords[0, 1]
    cross = np.zeros(len(coords))
    cross[:-1] = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross[ends - 1] = 0.0                              # no segment from one ring to the next
    area2 = np.add.reduceat(cross, starts)
    return np.where(exterior, area2 < 0, area2 > 0)


def line_path(geoms: np.ndarray) -> Path | None:
    """One compound open path of all lines and polygon outlines, drawn as they are (a layer's
    are :func:`outline_path`)."""
    got = _drawn(_Shapes(geoms, "line"), np.ones(len(geoms), dtype=bool), "line")
    return None if got is None else Path(got[0], got[1])


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
