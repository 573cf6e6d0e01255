"""Douglas-Peucker simplification for print, ranked once per geometry.

The Douglas-Peucker recursion does not depend on the tolerance: a section of a line is
split at its vertex farthest from the chord, and the tolerance only decides where the
splitting stops. So every vertex has a *rank*, the smallest chord distance along its chain
of splits (endpoints: infinite), and the line simplified with tolerance ``t`` is exactly its
vertices of rank ``> t`` (GEOS removes a section whose farthest vertex lies at ``<= t``).
:func:`simplify` ranks the vertices of a geometry the first time it sees it, for all of its
rings at once (numpy, one pass per level of the recursion), keeps the ranks of the
geometries it saw last (:data:`KEPT_VERTICES`; the entry holds the geometry, so its identity
is not reused) and simplifies at any tolerance with a comparison: the sheets of an atlas draw
the same catalogue geometries at many scales (the arrondissements of the QGIS anchor's
atlas: 4 ms of GEOS per sheet become 0.4). A call with few vertices (:data:`RANKED_FROM`: a
per-commune atlas page) is GEOS's simplification, which costs less there than numpy's set-up.

Against GEOS's ``simplify(preserve_topology=False)``: the same split rule and distance
(to the chord segment; a closed ring's first chord is its start point), the ring's start
point kept, and no validity repair afterwards (GEOS tests every simplified polygon and
buffers the invalid ones: two thirds of its time). A print map fills with the nonzero rule
and draws at 0.15 mm: a sliver where a simplified ring crosses itself is below the
tolerance. A ring left with fewer than four points is dropped (a hole, a part), and a
feature that would lose all of its parts stays unsimplified, as :func:`geom.prepare` keeps
it. Lines keep their endpoints. Points, collections and geometries whose recursion goes
deeper than :data:`MAX_LEVELS` take GEOS's path.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import GeometryType

MAX_LEVELS = 200            # deeper recursions (spiral-like lines) are left to GEOS
RANKED_FROM = 4000          # fewer vertices in a call: GEOS (its cost is below numpy's set-up)
KEPT_VERTICES = 2_000_000   # ranked vertices kept in the process (about 48 MB)
BATCH_VERTICES = 200_000    # vertices ranked at once

_POLY = (3, 6)              # Polygon, MultiPolygon
_LINE = (1, 2)              # LineString, MultiLineString
_RANKED: dict = {}          # id(geometry) -> (geometry, ranks or None)
_count = {"vertices": 0}


def dp_ranks(coords: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """The Douglas-Peucker rank of each vertex of the lines ``coords[starts[i]:ends[i] + 1]``
    (``ends`` inclusive; a closed ring repeats its first point), endpoints ``inf``; None when
    the recursion goes deeper than :data:`MAX_LEVELS`."""
    n = len(coords)
    rank = np.full(n, np.inf)
    x, y = coords[:, 0], coords[:, 1]
    lo, hi = starts.astype(np.intp), ends.astype(np.intp)
    cap = np.full(len(lo), np.inf)
    for _ in range(MAX_LEVELS):
        inner = hi - lo - 1
        live = inner > 0
        if not live.all():
            lo, hi, cap, inner = lo[live], hi[live], cap[live], inner[live]
        if len(lo) == 0:
            return rank
        first = np.cumsum(inner) - inner                      # each section's offset in the flat arrays
        sec = np.repeat(np.arange(len(lo)), inner)
        idx = np.arange(len(sec)) + np.repeat(lo + 1 - first, inner)   # the sections' inner vertices
        xa, ya = x[lo], y[lo]
        dxs, dys = x[hi] - xa, y[hi] - ya
        lls = dxs * dxs + dys * dys
        ax, ay, dx, dy = xa[sec], ya[sec], dxs[sec], dys[sec]
        px, py = x[idx] - ax, y[idx] - ay
        with np.errstate(invalid="ignore", divide="ignore"):
            u = (px * dx + py * dy) / lls[sec]
        # the nearest point of the chord (a closed ring's first chord is its start point)
        np.clip(u, 0.0, 1.0, out=u)
        u[np.isnan(u)] = 0.0
        px -= u * dx
        py -= u * dy
        d = px * px + py * py                                 # squared: the same order
        dmax = np.maximum.reduceat(d, first)
        # the first vertex at the maximum (GEOS keeps the first strictly greater distance)
        at = np.flatnonzero(d == dmax[sec])
        sa = sec[at]
        first_at = np.ones(len(at), dtype=bool)
        first_at[1:] = sa[1:] != sa[:-1]
        at = at[first_at]
        k = idx[at]
        r = np.minimum(np.sqrt(dmax), cap)
        rank[k] = r
        lo, hi, cap = np.concatenate((lo, k)), np.concatenate((k, hi)), np.concatenate((r, r))
    return None


class _Ranked:
    """A geometry's coordinates (2D), their ranks, its rings' (or lines') vertex counts and
    its parts' ring counts (polygons)."""
    __slots__ = ("geom", "coords", "ranks", "ring_len", "part_rings")

    def __init__(self, geom, coords, ranks, ring_len, part_rings):
        self.geom, self.coords, self.ranks = geom, coords, ranks
        self.ring_len, self.part_rings = ring_len, part_rings


def _rank_batch(geoms: np.ndarray) -> list:
    """The :class:`_Ranked` of each of ``geoms`` (all polygonal or all lineal), or None each
    when the recursion is too deep."""
    typ, coords, offsets = shapely.to_ragged_array(geoms)
    coords = np.ascontiguousarray(coords[:, :2], dtype=float)
    line_off = offsets[0]                          # rings or lines, in coordinates
    ranks = dp_ranks(coords, line_off[:-1], line_off[1:] - 1)
    if ranks is None:
        return [None] * len(geoms)
    ring_len = np.diff(line_off)
    if typ == GeometryType.LINESTRING:
        v, r, p = line_off, np.arange(len(line_off)), None
    elif typ == GeometryType.MULTILINESTRING:
        v, r, p = line_off[offsets[1]], offsets[1], None
    elif typ == GeometryType.POLYGON:
        v, r, p = line_off[offsets[1]], offsets[1], np.arange(len(offsets[1]))
    else:
        part_off, geom_off = offsets[1], offsets[2]
        v, r, p = line_off[part_off[geom_off]], part_off[geom_off], geom_off
    part_rings = None if p is None else np.diff(offsets[1])
    return [_Ranked(g, coords[v[i]:v[i + 1]], ranks[v[i]:v[i + 1]], ring_len[r[i]:r[i + 1]],
                    None if p is None else part_rings[p[i]:p[i + 1]])
            for i, g in enumerate(geoms)]


def _ranked(geoms: np.ndarray, tid: np.ndarray) -> list:
    """The kept :class:`_Ranked` of ``geoms`` (None for a geometry GEOS simplifies),
    ranking the new ones."""
    out: list = [None] * len(geoms)
    new: dict = {3: [], 1: []}
    for i, g in enumerate(geoms):
        hit = _RANKED.get(id(g))
        if hit is not None and hit[0] is g:
            out[i] = hit[1]
        elif tid[i] in _POLY:
            new[3].append(i)
        elif tid[i] in _LINE:
            new[1].append(i)
    for todo in new.values():
        if not todo:
            continue
        # ranked in batches of about BATCH_VERTICES (numpy's temporary arrays stay small)
        size = np.cumsum(shapely.get_num_coordinates(geoms[todo]))
        cut = np.searchsorted(size, np.arange(BATCH_VERTICES, size[-1], BATCH_VERTICES), side="right")
        for sel in np.split(np.asarray(todo), np.unique(cut)):
            if not len(sel):
                continue
            batch = geoms[sel]
            for i, g, r in zip(sel, batch, _rank_batch(batch), strict=True):
                out[i] = r
                _RANKED[id(g)] = (g, r)
                _count["vertices"] += 0 if r is None else len(r.ranks)
    while _count["vertices"] > KEPT_VERTICES and _RANKED:
        _, r = _RANKED.pop(next(iter(_RANKED)))
        _count["vertices"] -= 0 if r is None else len(r.ranks)
    return out


def _offsets(counts) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def simplify(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """``geoms`` simplified with ``tolerance`` (ground units), a new array (see the module).
    A call with fewer than :data:`RANKED_FROM` vertices in all is GEOS's simplification."""
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    if len(geoms) == 0 or tolerance <= 0:
        return out
    if shapely.get_num_coordinates(geoms).sum() < RANKED_FROM:
        return shapely.simplify(geoms, tolerance, preserve_topology=False)
    tid = np.where(shapely.is_empty(geoms), -1, shapely.get_type_id(geoms))
    ranked = _ranked(geoms, tid)
    has = np.array([r is not None for r in ranked], dtype=bool)
    geos = np.flatnonzero(~has & (tid >= 0))
    if len(geos):
        out[geos] = shapely.simplify(geoms[geos], tolerance, preserve_topology=False)
    for t in (1, 2, 3, 6):
        sel = np.flatnonzero(has & (tid == t))
        if len(sel):
            out[sel] = _cut([ranked[i] for i in sel], tolerance, t)
    return out


def _cut(items: list, tol: float, t: int) -> np.ndarray:
    """The geometries of type ``t`` rebuilt from their vertices of rank ``> tol``."""
    coords = np.concatenate([r.coords for r in items])
    keep = np.concatenate([r.ranks for r in items]) > tol
    ring_len = np.concatenate([r.ring_len for r in items])
    n_rings = len(ring_len)
    ring_of_vertex = np.repeat(np.arange(n_rings), ring_len)
    if t in _LINE:       # endpoints are kept: every line keeps two points at least
        counts = np.bincount(ring_of_vertex[keep], minlength=n_rings)
        new_line = _offsets(counts)
        if t == 1:
            return shapely.from_ragged_array(GeometryType.LINESTRING, coords[keep], (new_line,))
        lines = _offsets([len(r.ring_len) for r in items])
        return shapely.from_ragged_array(GeometryType.MULTILINESTRING, coords[keep], (new_line, lines))
    part_rings = np.concatenate([r.part_rings for r in items])
    n_parts = len(part_rings)
    part_of_ring = np.repeat(np.arange(n_parts), part_rings)
    geom_parts = np.array([len(r.part_rings) for r in items])
    geom_of_part = np.repeat(np.arange(len(items)), geom_parts)
    exterior = _offsets(part_rings)[:-1]                     # each part's first ring

    def parts_ok(k):
        ok = np.bincount(ring_of_vertex[k], minlength=n_rings) >= 4
        return ok, ok[exterior]
    ok, part_ok = parts_ok(keep)
    geom_ok = np.bincount(geom_of_part[part_ok], minlength=len(items)) > 0
    if not geom_ok.all():         # every part collapses: the feature stays unsimplified
        keep = keep | ~geom_ok[geom_of_part[part_of_ring[ring_of_vertex]]]
        ok, part_ok = parts_ok(keep)
    ring_kept = ok & part_ok[part_of_ring]
    keep &= ring_kept[ring_of_vertex]
    new_ring = _offsets(np.bincount(ring_of_vertex[keep], minlength=n_rings)[ring_kept])
    new_part = _offsets(np.bincount(part_of_ring[ring_kept], minlength=n_parts)[part_ok])
    if t == 3:
        return shapely.from_ragged_array(GeometryType.POLYGON, coords[keep], (new_ring, new_part))
    new_geom = _offsets(np.bincount(geom_of_part[part_ok], minlength=len(items)))
    return shapely.from_ragged_array(GeometryType.MULTIPOLYGON, coords[keep], (new_ring, new_part, new_geom))
