"""Bivariate classes: two variables, each cut in ``n`` classes (terciles by default),
crossed into ``n × n`` classes drawn with a two-dimensional palette (Joshua Stevens'
bivariate choropleths; Magrit's and biscale's 3 × 3).

The class of a unit is ``row * n + col``: ``col`` the class of the first variable (x,
left to right), ``row`` that of the second (y, bottom to top); -1 when either value is
missing.
"""

from __future__ import annotations

import numpy as np

from mbm_sig.maps.classify import assign, classify
from mbm_sig.maps.errors import MapError

# 3 × 3 palettes, row by row from the bottom (low y) to the top; in each row x grows.
# pinkblue and greenblue: Joshua Stevens, «Bivariate choropleth maps: a how-to guide» (2015);
# purplegold: a purple (y) × gold (x) scheme built the same way. All have the light grey
# corner for «both low» and the darkest cell for «both high».
PALETTES = {
    "pinkblue": ["#e8e8e8", "#ace4e4", "#5ac8c8",
                         "#dfb0d6", "#a5add3", "#5698b9",
                         "#be64ac", "#8c62aa", "#3b4994"],
    "greenblue": ["#e8e8e8", "#b5c0da", "#6c83b5",
                          "#b8d6be", "#90b2b3", "#567994",
                          "#73ae80", "#5a9178", "#2a5a5b"],
    "purplegold": ["#e8e8e8", "#e4d9ac", "#c8b35a",
                           "#cbb8d7", "#c8ada0", "#af8e53",
                           "#9972af", "#976b82", "#804d36"],
}
DEFAULT_PALETTE = "pinkblue"


class BivariateError(MapError):
    """Invalid input of a bivariate map (exit status 2)."""


def breaks_of(values, n: int = 3, breaks=None, method: str = "quantile") -> np.ndarray:
    """The ``n + 1`` bounds of one variable: its ``n``-iles (terciles for 3) by default, or
    the given inner ``breaks`` (``n - 1`` values) between the data's minimum and maximum.
    When ties make two quantiles equal (a third of the communes with no GP), the quantiles
    of the distinct values are taken instead, so that there are still ``n`` classes."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise BivariateError("no value to classify")
    if breaks is not None:
        inner = sorted(float(b) for b in breaks)
        if len(inner) != n - 1:
            raise BivariateError(f"expected {n - 1} inner breaks for {n} classes, not {len(inner)}")
        lo, hi = float(v.min()), float(v.max())
        return np.array([min(lo, inner[0])] + inner + [max(hi, inner[-1])])
    u = np.unique(v)
    b: np.ndarray = classify(v, method, n) if u.size >= n else np.zeros(0)
    if len(b) != n + 1 and u.size >= n:
        b = classify(u, method, n)
    if len(b) != n + 1:
        raise BivariateError(f"{len(np.unique(v))} distinct values: too few for {n} classes")
    return b


def classes(x, y, bx, by) -> np.ndarray:
    """Bivariate class ``row * n + col`` of each unit (-1 when a value is missing)."""
    cx, cy = assign(x, bx), assign(y, by)
    n = len(bx) - 1
    if len(by) - 1 != n:
        raise BivariateError("both variables need the same number of classes")
    out = cy * n + cx
    out[(cx < 0) | (cy < 0)] = -1
    return out


def palette(name_or_colors, n: int = 3) -> list:
    """The ``n × n`` colours (row by row from the bottom) of a named palette or a list."""
    if isinstance(name_or_colors, (list, tuple)):
        cols = list(name_or_colors)
    else:
        if name_or_colors not in PALETTES:
            raise BivariateError(f"unknown bivariate palette {name_or_colors!r}; known: {', '.join(PALETTES)}")
        cols = PALETTES[name_or_colors]
    if len(cols) != n * n:
        raise BivariateError(f"a {n} × {n} bivariate palette needs {n * n} colours, not {len(cols)}")
    return cols
