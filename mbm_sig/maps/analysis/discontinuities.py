"""Discontinuities: the borders shared by neighbouring units and the difference of a
value on either side (mapsf's ``mf_get_borders``, cartography's ``discLayer``, Magrit's
discontinuity map).

- ``rel`` (relative): ``max(a, b) / min(a, b)`` (values > 0);
- ``abs`` (absolute): ``|a - b|``.

A border is kept when its discontinuity is strictly above ``threshold``; the map draws it
with a width growing with the discontinuity (classes of widths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from mbm_sig.maps.errors import MapError

KINDS = ("rel", "abs")


class DiscontinuityError(MapError):
    """Invalid input of a discontinuity map (exit status 2)."""


@dataclass
class Borders:
    """Shared borders: unit indices ``i < j`` on either side and the line between them."""

    i: np.ndarray
    j: np.ndarray
    geoms: np.ndarray          # (Multi)LineString per pair


def shared_borders(geoms, snap: float = 0.0) -> Borders:
    """The borders shared by pairs of polygons (``mf_get_borders``: the linear part of the
    polygons' intersection). ``snap`` (m): with units whose outlines do not match exactly
    (independently digitised), the part of ``i``'s outline within ``snap`` of ``j``."""
    g = np.asarray(geoms, dtype=object)
    if len(g) == 0:
        return Borders(np.zeros(0, int), np.zeros(0, int), np.zeros(0, dtype=object))
    tid = shapely.get_type_id(g)
    if not np.isin(tid, (3, 6)).all():
        raise DiscontinuityError("discontinuities need polygons (the units' areas)")
    if snap < 0:
        raise DiscontinuityError(f"snap must be a distance >= 0 (m), not {snap!r}")
    tree = shapely.STRtree(g)
    if snap > 0:
        pi, pj = tree.query(g, predicate="dwithin", distance=snap)
    else:
        pi, pj = tree.query(g, predicate="intersects")
    keep = pi < pj
    pi, pj = pi[keep], pj[keep]
    rings = shapely.boundary(g)
    if snap > 0:
        lines = shapely.intersection(rings[pi], shapely.buffer(g[pj], snap))
    else:
        lines = shapely.intersection(rings[pi], rings[pj])
    lines = np.array([_linear(x) for x in lines], dtype=object)
    ok = np.array([x is not None for x in lines], dtype=bool)
    return Borders(pi[ok], pj[ok], lines[ok])


def _linear(g):
    """The lines of a geometry (points where units only touch at a corner are dropped)."""
    if g is None or g.is_empty:
        return None
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("LineString", "MultiLineString")
             and p.length > 0]
    if not parts:
        return None
    merged = shapely.line_merge(shapely.union_all(parts))
    return merged if not merged.is_empty else None


def discontinuity(a, b, kind: str = "rel") -> np.ndarray:
    """The discontinuity between values ``a`` and ``b`` (arrays): ``rel`` or ``abs``."""
    if kind not in KINDS:
        raise DiscontinuityError(f"unknown discontinuity {kind!r}; known: rel (ratio), abs (difference)")
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if kind == "abs":
        return np.abs(a - b)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lo > 0, hi / lo, np.nan)


@dataclass
class Discontinuities:
    i: np.ndarray
    j: np.ndarray
    geoms: np.ndarray
    values: np.ndarray         # the discontinuity of each border kept


def discontinuities(geoms, values, kind: str = "rel", threshold: float | None = None,
                    snap: float = 0.0, borders: Borders | None = None) -> Discontinuities:
    """Borders between neighbouring units whose discontinuity is above ``threshold``
    (all of them when None), with the discontinuity; pairs with a missing value (or a value
    <= 0 for ``rel``) are left out."""
    v = np.asarray(values, dtype=float)
    if kind == "rel" and (v[np.isfinite(v)] <= 0).any():
        raise DiscontinuityError("a relative discontinuity (rel) needs values > 0: use abs")
    br = borders if borders is not None else shared_borders(geoms, snap)
    d = discontinuity(v[br.i], v[br.j], kind)
    keep = np.isfinite(d)
    if threshold is not None:
        keep &= d > threshold
    return Discontinuities(br.i[keep], br.j[keep], br.geoms[keep], d[keep])
