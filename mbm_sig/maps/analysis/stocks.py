"""Two stocks per unit (e.g. private and mining general practitioners) on one scale of
proportional symbols: the symbol area is proportional to the stock, the same value gives
the same area in both series (Magrit's two-stock comparison, mapsf's ``val_max``)."""

from __future__ import annotations

import numpy as np

from mbm_sig.errors import InvalidInput

MODES = ("half", "nested")


class StocksError(InvalidInput):
    """Invalid input of a two-stock map (exit status 2)."""


def common_max(a, b) -> float:
    """The largest value of both stocks: the value of the largest symbol."""
    v = np.concatenate([np.asarray(a, float).ravel(), np.asarray(b, float).ravel()])
    v = v[np.isfinite(v)]
    if v.size == 0 or v.max() <= 0:
        raise StocksError("no stock > 0 to draw")
    if (v < 0).any():
        raise StocksError(f"stocks must be >= 0 (found {v.min():g})")
    return float(v.max())


def radii(values, rmax: float, vmax: float) -> np.ndarray:
    """Radius of each symbol (unit of ``rmax``): ``rmax * sqrt(v / vmax)``; 0 when missing.

    A half disc of radius r has half the area of the disc: two half discs of one unit
    compare the stocks by their areas, like two whole symbols of one scale."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    return rmax * np.sqrt(np.clip(v, 0, None) / vmax)


def legend_values(vmax: float, n: int = 3) -> list[float]:
    """Reference values of the common scale: the maximum, then round values below it."""
    from mbm_sig.maps.layout import nice_length
    out = [vmax]
    for f in (0.4, 0.1)[: n - 1]:
        v = nice_length(vmax * f * 1.25)
        if 0 < v < out[-1] * 0.8:
            out.append(v)
    return out

