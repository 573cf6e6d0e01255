"""Two-stock comparison symbols: one scale for both stocks."""

import numpy as np
import pytest

from mbm_sig.maps.analysis import stocks as S


def test_one_scale_for_both_stocks():
    a = np.array([100.0, 25.0, 0.0])
    b = np.array([50.0, 100.0, np.nan])
    vmax = S.common_max(a, b)
    assert vmax == 100
    ra, rb = S.radii(a, 10.0, vmax), S.radii(b, 10.0, vmax)
    # areas proportional to the stocks, the same value the same size in both series
    assert ra.tolist() == [10.0, 5.0, 0.0] and rb[1] == ra[0]
    assert (rb[0] / ra[0]) ** 2 == pytest.approx(0.5)
    assert rb[2] == 0


def test_negative_or_empty_stocks_refused():
    with pytest.raises(S.StocksError, match="no stock > 0"):
        S.common_max([0, np.nan], [0, 0])
    with pytest.raises(S.StocksError, match=">= 0"):
        S.common_max([-1, 5], [2, 3])


def test_legend_values():
    assert S.legend_values(137.0) == [137.0, 50, 10]
