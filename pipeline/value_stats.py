"""Means with 95% confidence intervals for betting figures (closing-line value, return on stake).

Bets are not independent: bets of one match day share the same news and the same line moves, and the outcomes
of one match are exclusive. So the standard error is cluster-robust (the sandwich estimator of a mean, with
the small-sample factor G/(G-1) for G clusters), clustered by whatever the caller passes, usually the match
day; without clusters every value is its own cluster and this is the textbook s/sqrt(n). The interval is the
normal one, mean +/- z * se: with hundreds of bets and tens of clusters that is adequate, and it is
deterministic (no bootstrap seed to report).

A weighted mean (e.g. stake-weighted CLV, or ROI = sum(profit) / sum(stake), which is the stake-weighted mean of
profit / stake) is treated as a ratio estimator: its linearised residuals w_i (x_i - m) / sum(w) are summed per
cluster.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm


def mean_ci(values, clusters=None, weights=None, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the (weighted) mean and its cluster-robust normal confidence interval.

    NaN values are left out (with their cluster and weight). No values: all NaN; fewer than two clusters: the
    interval is NaN (nothing to estimate a spread from).
    """
    x = np.asarray(values, dtype=float).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    c = np.arange(len(x)) if clusters is None else np.asarray(clusters).ravel()
    if not len(x) == len(w) == len(c):
        raise ValueError("values, weights and clusters must have the same length")
    ok = np.isfinite(x) & np.isfinite(w)
    x, w, c = x[ok], w[ok], c[ok]
    if not len(x) or w.sum() <= 0:
        return float("nan"), float("nan"), float("nan")
    m = float(np.sum(w * x) / np.sum(w))
    _, group = np.unique(c, return_inverse=True)
    g = group.max() + 1
    if g < 2:
        return m, float("nan"), float("nan")
    per_cluster = np.bincount(group, weights=w * (x - m)) / w.sum()
    se = float(np.sqrt(np.sum(per_cluster ** 2) * g / (g - 1)))
    z = float(norm.ppf(0.5 + level / 2))
    return m, m - z * se, m + z * se


def mean_se(values, clusters=None, weights=None) -> tuple[float, float]:
    """(mean, standard error), the same estimator as mean_ci."""
    m, lo, hi = mean_ci(values, clusters, weights)
    return m, (hi - lo) / (2 * float(norm.ppf(0.975)))


__all__ = ["mean_ci", "mean_se"]
