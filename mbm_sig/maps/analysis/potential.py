"""Stewart potentials on a regular grid, as defined by the R package ``potential``
(RIATE: ``create_grid``, ``create_matrix``, ``potential``, ``equipotential``).

The potential of a grid point ``j`` is ``sum_i mass_i * f(d_ij)``, with the spatial
interaction function ``f`` one of (``span``: the distance where ``f = 0.5``; ``beta``: the
impedance):

- ``"e"``, exponential: ``f(d) = exp(-alpha * d ** beta)``, ``alpha = ln 2 / span ** beta``;
- ``"p"``, Pareto (power law): ``f(d) = (1 + alpha * d) ** -beta``,
  ``alpha = (2 ** (1 / beta) - 1) / span``.

A smoothed ratio (a density over small populations) is the ratio of two potentials,
e.g. GPs and inhabitants, computed with the same function (:func:`smooth`). The map shows
contour bands of the grid values (``equipotential``), clipped to the study area.
Distances are Euclidean, in metres of EPSG:2154.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from mbm_sig.maps.errors import MapError

FUNCTIONS = {"e": "exponential", "p": "pareto"}
_NAMES = {"e": "e", "exponential": "e", "p": "p", "pareto": "p"}
MAX_CELLS = 200_000          # grid points: 1 km over the whole of Nord-Pas-de-Calais is ~25 000
CHUNK = 4_000_000            # distances computed at once (masses × grid points)


class PotentialError(MapError):
    """Invalid parameters or masses of a potential (exit status 2)."""


def function_name(fun: str) -> str:
    """``"e"`` or ``"p"`` from ``e``/``exponential``/``p``/``pareto``."""
    f = _NAMES.get(str(fun).lower())
    if f is None:
        raise PotentialError(f"unknown interaction function {fun!r}; known: e (exponential), p (pareto)")
    return f


def _check(span, beta):
    if not (isinstance(span, (int, float)) and math.isfinite(span) and span > 0):
        raise PotentialError(f"span must be a distance > 0 (m), not {span!r}")
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise PotentialError(f"beta must be a number > 0, not {beta!r}")


def interaction(d, fun: str = "e", span: float = 5000.0, beta: float = 2.0) -> np.ndarray:
    """The interaction ``f(d)`` (``potential``'s ``interact_density``) of distances ``d`` (m)."""
    f = function_name(fun)
    _check(span, beta)
    d = np.asarray(d, dtype=float)
    if f == "p":
        alpha = (2 ** (1 / beta) - 1) / span
        return (1 + alpha * d) ** (-beta)
    alpha = math.log(2) / span ** beta
    return np.exp(-alpha * d ** beta)


def create_grid(bounds, res: float) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates of a regular grid of step ``res`` covering ``bounds``
    (``potential::create_grid``: the box is widened to multiples of ``res``)."""
    if not (isinstance(res, (int, float)) and math.isfinite(res) and res > 0):
        raise PotentialError(f"grid resolution must be a distance > 0 (m), not {res!r}")
    x0, y0, x1, y1 = (float(v) for v in bounds)
    x0, y0 = x0 - x0 % res, y0 - y0 % res
    x1, y1 = x1 + res - x1 % res, y1 + res - y1 % res
    nx, ny = int(round((x1 - x0) / res)) + 1, int(round((y1 - y0) / res)) + 1
    if nx * ny > MAX_CELLS:
        raise PotentialError(f"a grid of {nx} × {ny} points at {res:g} m is too large "
                             f"(at most {MAX_CELLS}): give a larger resolution")
    return x0 + res * np.arange(nx), y0 + res * np.arange(ny)


def potential(src_xy, masses, dst_xy, fun: str = "e", span: float = 5000.0, beta: float = 2.0) -> np.ndarray:
    """Potential at each point of ``dst_xy`` (n × 2) of the ``masses`` at ``src_xy``
    (``potential::potential``; missing masses count as 0, negative ones are refused)."""
    src = np.asarray(src_xy, dtype=float).reshape(-1, 2)
    dst = np.asarray(dst_xy, dtype=float).reshape(-1, 2)
    m = np.asarray(masses, dtype=float).ravel()
    if len(m) != len(src):
        raise PotentialError(f"{len(m)} masses for {len(src)} points")
    m = np.where(np.isfinite(m), m, 0.0)
    if (m < 0).any():
        raise PotentialError(f"masses must be >= 0 (found {m.min():g})")
    keep = m > 0
    src, m = src[keep], m[keep]
    f = function_name(fun)
    _check(span, beta)
    out = np.zeros(len(dst))
    if not len(src):
        return out
    step = max(1, CHUNK // len(src))
    for a in range(0, len(dst), step):
        b = dst[a:a + step]
        d = np.hypot(b[:, None, 0] - src[None, :, 0], b[:, None, 1] - src[None, :, 1])
        out[a:a + step] = interaction(d, f, span, beta) @ m
    return out


def bands(xs, ys, z, breaks, mask=None) -> list:
    """Contour bands (``potential::equipotential``, ``mapiso``) of the grid values ``z``
    (``len(ys)`` × ``len(xs)``) between successive ``breaks``: a list of
    ``(low, high, geometry)``, the geometry clipped to ``mask`` when given (bands left
    empty are dropped). Every grid value of the first and last bands is inside them."""
    import contourpy
    z = np.asarray(z, dtype=float)
    b = np.asarray(breaks, dtype=float)
    gen = contourpy.contour_generator(np.asarray(xs, float), np.asarray(ys, float), np.ma.masked_invalid(z),
                                      fill_type=contourpy.FillType.OuterOffset)
    zmin, zmax = float(np.nanmin(z)), float(np.nanmax(z))
    out = []
    for i in range(len(b) - 1):
        lo, hi = b[i], b[i + 1]
        if i == 0:
            lo = min(lo, zmin) - 1e-9 * max(abs(zmin), 1.0)
        if i == len(b) - 2:
            hi = max(hi, zmax) + 1e-9 * max(abs(zmax), 1.0)
        filled = gen.filled(lo, hi)           # OuterOffset: (points, offsets)
        pts, offs = filled[0], filled[1]
        polys = []
        for p, o in zip(pts, offs, strict=True):
            p, o = np.asarray(p), np.asarray(o)
            rings = [p[o[j]:o[j + 1]] for j in range(len(o) - 1)]
            rings = [r for r in rings if len(r) >= 4]
            if rings:
                polys.append(shapely.Polygon(rings[0], rings[1:]))
        if not polys:
            continue
        g = shapely.make_valid(shapely.union_all(polys))
        if mask is not None:
            g = shapely.intersection(g, mask)
        g = _polygonal(g)
        if g is not None and not g.is_empty:
            out.append((float(b[i]), float(b[i + 1]), g))
    return out


def _polygonal(g):
    if g is None or g.is_empty:
        return None
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    return shapely.union_all(parts) if parts else None


@dataclass
class Smoothed:
    """A smoothed surface: grid coordinates, values (``len(ys)`` × ``len(xs)``), and the
    parameters that made it."""

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    fun: str
    span: float
    beta: float
    res: float

    def inside(self, mask) -> np.ndarray:
        """The grid values at points inside ``mask`` (all of them without a mask)."""
        if mask is None:
            return self.values.ravel()
        gx, gy = np.meshgrid(self.xs, self.ys)
        inside = shapely.contains_xy(mask, gx.ravel(), gy.ravel())
        v = self.values.ravel()[inside]
        return v if len(v) else self.values.ravel()


def smooth(src_xy, masses, bounds, *, span: float, beta: float = 2.0, fun: str = "e",
           res: float | None = None, divisor=None, multiplier: float = 1.0) -> Smoothed:
    """Potential of ``masses`` on a grid over ``bounds`` (step ``res``, by default a
    hundredth of the larger side, never coarser than ``span / 4``); with ``divisor`` (a
    second stock at the same points), the ratio ``multiplier * pot(masses) / pot(divisor)``
    (a smoothed rate; where the divisor's potential is 0 the value is missing)."""
    x0, y0, x1, y1 = bounds
    if res is None:
        res = min(max(x1 - x0, y1 - y0) / 100, span / 4)
        res = float(f"{res:.1g}") if res > 0 else 1.0
    xs, ys = create_grid(bounds, res)
    gx, gy = np.meshgrid(xs, ys)
    dst = np.c_[gx.ravel(), gy.ravel()]
    v = potential(src_xy, masses, dst, fun, span, beta)
    if divisor is not None:
        den = potential(src_xy, divisor, dst, fun, span, beta)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(den > 0, multiplier * v / den, np.nan)
    elif multiplier != 1:
        v = multiplier * v
    return Smoothed(xs, ys, v.reshape(gx.shape), function_name(fun), float(span), float(beta), float(res))
