"""The distributions the pipeline needs, from scipy.special: importing scipy.stats costs about half a second,
paid by every cron job that starts (settlement, every 30 minutes, needs only a normal quantile)."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, ndtri, xlogy


def poisson_pmf(k, mu) -> np.ndarray:
    """P(X = k) for X ~ Poisson(mu), broadcast; what scipy.stats.poisson.pmf computes, the same way."""
    k, mu = np.asarray(k, float), np.asarray(mu, float)
    return np.exp(xlogy(k, mu) - gammaln(k + 1) - mu)


def score_matrix(lam, mu, rho, max_goals: int = 10) -> np.ndarray:
    """(n, G+1, G+1): the Dixon-Coles (1997) score distribution, P[match, home goals, away goals], of home and away
    goal rates `lam`, `mu` (n,) and the low-score correction `rho` (n,), clipped per match into the range where
    every tau is positive; rho 0 is independent Poisson. Here, not in the model, so that pricing a score matrix
    (the sandbox, pipeline.forecast.market_probs) does not load the model stack."""
    lam, mu = np.asarray(lam, float), np.asarray(mu, float)
    goals = np.arange(max_goals + 1)
    ph = poisson_pmf(goals[None, :], lam[:, None])
    pa = poisson_pmf(goals[None, :], mu[:, None])
    m = ph[:, :, None] * pa[:, None, :]
    lo = -1.0 / np.maximum(lam, mu) + 1e-9
    hi = np.minimum(1.0, 1.0 / (lam * mu)) - 1e-9
    r = np.clip(np.broadcast_to(np.asarray(rho, float), lam.shape), lo, hi)
    m[:, 0, 0] *= 1 - lam * mu * r
    m[:, 0, 1] *= 1 + lam * r
    m[:, 1, 0] *= 1 + mu * r
    m[:, 1, 1] *= 1 - r
    m = np.clip(m, 0, None)
    return m / m.sum(axis=(1, 2), keepdims=True)


def normal_quantile(p: float) -> float:
    """The standard normal's p-quantile (scipy.stats.norm.ppf)."""
    return float(ndtri(p))


__all__ = ["poisson_pmf", "normal_quantile"]
