"""The two distributions the pipeline needs, from scipy.special: importing scipy.stats costs about half a second,
paid by every cron job that starts (settlement, every 30 minutes, needs only a normal quantile)."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, ndtri, xlogy


def poisson_pmf(k, mu) -> np.ndarray:
    """P(X = k) for X ~ Poisson(mu), broadcast; what scipy.stats.poisson.pmf computes, the same way."""
    k, mu = np.asarray(k, float), np.asarray(mu, float)
    return np.exp(xlogy(k, mu) - gammaln(k + 1) - mu)


def normal_quantile(p: float) -> float:
    """The standard normal's p-quantile (scipy.stats.norm.ppf)."""
    return float(ndtri(p))


__all__ = ["poisson_pmf", "normal_quantile"]
