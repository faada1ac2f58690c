"""Means with clustered 95% intervals (pipeline.value_stats), checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.value_stats import mean_ci, mean_se


def test_without_clusters_it_is_the_textbook_interval():
    x = np.array([0.10, -0.05, 0.02, 0.07, -0.01])
    m, lo, hi = mean_ci(x)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert m == pytest.approx(0.026) and (hi - lo) / 2 == pytest.approx(1.959964 * se, rel=1e-6)
    assert mean_se(x)[1] == pytest.approx(se)


def test_clusters_of_copies_widen_the_interval_to_that_of_their_means():
    # every bet of a match day repeated: no new information, so the interval is that of one bet per day
    days = np.array([0.05, -0.02, 0.03, 0.01])
    m1, lo1, hi1 = mean_ci(days)
    copies = np.repeat(days, 3)
    m2, lo2, hi2 = mean_ci(copies, clusters=np.repeat(np.arange(4), 3))
    assert m2 == pytest.approx(m1) and hi2 - lo2 == pytest.approx(hi1 - lo1)
    assert hi2 - lo2 > mean_ci(copies)[2] - mean_ci(copies)[1]  # as independent bets it would look surer


def test_stake_weighted_return_is_profit_over_turnover_and_nans_are_left_out():
    stake = np.array([10.0, 30.0, 20.0, 5.0])
    profit = np.array([12.0, -30.0, 18.0, np.nan])
    m, lo, hi = mean_ci(profit / stake, weights=stake)
    assert m == pytest.approx((12 - 30 + 18) / 60) and lo < m < hi
    assert np.isnan(mean_ci([np.nan])[0]) and np.isnan(mean_ci([0.1])[1])
