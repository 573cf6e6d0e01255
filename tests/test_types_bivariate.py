"""Bivariate choropleth (3 × 3): classes and palettes on synthetic values."""

import numpy as np
import pytest

from mbm_sig.maps.analysis import bivariate as B


def test_tercile_breaks_and_crossed_classes():
    x = np.arange(1, 10, dtype=float)              # terciles: 1, 3.67, 6.33, 9
    y = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1], dtype=float)
    bx, by = B.breaks_of(x), B.breaks_of(y)
    assert bx == pytest.approx(np.quantile(x, [0, 1 / 3, 2 / 3, 1]))
    cls = B.classes(x, y, bx, by)
    # x low & y high -> top-left (row 2, col 0) = 6; x high & y low -> bottom-right = 2
    assert cls.tolist() == [6, 6, 6, 4, 4, 4, 2, 2, 2]


def test_given_breaks_and_missing_values():
    x = np.array([1, 5, 9, np.nan])
    y = np.array([0.1, 0.5, 0.9, 0.5])
    bx = B.breaks_of(x, breaks=[3, 6])
    by = B.breaks_of(y, breaks=[0.3, 0.6])
    assert bx.tolist() == [1, 3, 6, 9] and by.tolist() == [0.1, 0.3, 0.6, 0.9]
    assert B.classes(x, y, bx, by).tolist() == [0, 4, 8, -1]
    with pytest.raises(B.BivariateError, match="expected 2 inner breaks"):
        B.breaks_of(x, breaks=[3])


def test_palettes():
    for name in B.PALETTES:
        cols = B.palette(name)
        assert len(cols) == 9 and len(set(cols)) == 9
        assert cols[0] == "#e8e8e8"           # both low: the light corner
    with pytest.raises(B.BivariateError, match="unknown bivariate palette 'rainbow'"):
        B.palette("rainbow")
    with pytest.raises(B.BivariateError, match="needs 9 colours"):
        B.palette(["#000000"] * 4)
