"""Means with honest 95% intervals, for closing-line value and ROI. A leaf module: numpy and
pipeline.distributions only.

Bets are not independent draws: bets on the same match day share matches (two outcomes of one match, several
matches of one round) and the same news, so their errors correlate. The standard error is therefore clustered
(by match day, say): residuals are summed within each cluster first, then squared (the usual sandwich estimator,
with the small-sample factor G/(G-1)). Without clusters every observation is its own cluster, which is the plain
heteroscedasticity-robust standard error. `bootstrap_ci` resamples whole clusters instead, for a cross-check.

- `mean_ci(values, clusters=None, weights=None, level=0.95) -> (mean, lo, hi)`: flat or weighted mean;
  `mean_se(...) -> (mean, se)` the same estimator. Stake-weighted CLV: weights = stakes. ROI = sum(profit) /
  sum(stake) is the stake-weighted mean of profit / stake, so `roi_ci(profit, stake, clusters)` is
  mean_ci(profit / stake, weights=stake).
- `upper_bound(values, clusters=None, level=0.95)`: the one-sided upper confidence bound of the mean; "below zero
  at 95% confidence" means upper_bound(...) < 0.
Intervals need at least two clusters; with fewer the bounds are NaN (the mean is still given).
"""

from __future__ import annotations

import numpy as np

from pipeline.distributions import normal_quantile


def _prepare(values, clusters, weights):
    x = np.asarray(values, dtype=float).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    g = np.arange(len(x)) if clusters is None else np.asarray(clusters).ravel()
    if not (len(x) == len(w) == len(g)):
        raise ValueError("values, weights and clusters must have the same length")
    ok = np.isfinite(x) & np.isfinite(w) & (w > 0)
    x, w, g = x[ok], w[ok], g[ok]
    _, gi = np.unique(g, return_inverse=True) if len(g) else (np.array([]), np.array([], dtype=int))
    return x, w, gi.ravel()


def _mean_se(x, w, gi) -> tuple[float, float]:
    if len(x) == 0:
        return float("nan"), float("nan")
    m = float(np.sum(w * x) / np.sum(w))
    n_groups = int(gi.max()) + 1
    if n_groups < 2:
        return m, float("nan")
    u = np.bincount(gi, weights=w * (x - m), minlength=n_groups)
    var = n_groups / (n_groups - 1) * float(np.sum(u**2)) / float(np.sum(w)) ** 2
    return m, float(np.sqrt(var))


def mean_ci(values, clusters=None, weights=None, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper): the (weighted) mean and its two-sided `level` interval, standard error clustered."""
    m, se = _mean_se(*_prepare(values, clusters, weights))
    z = normal_quantile(0.5 + level / 2)
    return m, m - z * se, m + z * se


def mean_se(values, clusters=None, weights=None) -> tuple[float, float]:
    """(mean, standard error), the estimator of mean_ci."""
    return _mean_se(*_prepare(values, clusters, weights))


def roi_ci(profit, stake, clusters=None, level: float = 0.95) -> tuple[float, float, float]:
    """(ROI, lower, upper) of sum(profit) / sum(stake), clustered like mean_ci."""
    p, st = np.asarray(profit, dtype=float), np.asarray(stake, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return mean_ci(p / st, clusters, weights=st, level=level)


def upper_bound(values, clusters=None, weights=None, level: float = 0.95) -> float:
    """One-sided upper `level` confidence bound of the mean (NaN with fewer than two clusters)."""
    m, se = _mean_se(*_prepare(values, clusters, weights))
    return m + normal_quantile(level) * se


def bootstrap_ci(
    values, clusters=None, weights=None, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, lower, upper) with a percentile interval from resampling whole clusters (deterministic seed)."""
    x, w, gi = _prepare(values, clusters, weights)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(np.sum(w * x) / np.sum(w))
    n_groups = int(gi.max()) + 1
    if n_groups < 2:
        return m, float("nan"), float("nan")
    swx = np.bincount(gi, weights=w * x, minlength=n_groups)
    sw = np.bincount(gi, weights=w, minlength=n_groups)
    counts = np.random.default_rng(seed).multinomial(n_groups, np.full(n_groups, 1 / n_groups), size=n_boot)
    boot = (counts @ swx) / (counts @ sw)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return m, float(lo), float(hi)


__all__ = ["mean_ci", "mean_se", "roi_ci", "upper_bound", "bootstrap_ci"]
