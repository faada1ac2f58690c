"""The stacking ensemble: a log-linear pool of the base models and the market,

    p(outcome k) proportional to exp(sum_m w_m log p_m(k) + b_k),

one weight per forecaster and one intercept per outcome, fitted by maximum likelihood (so it minimises log loss
and is calibrated on its training data) only on out-of-sample base predictions in time order. A weight above 1
sharpens a forecaster, below 0 leans against it. Five or six parameters cannot overfit thousands of matches,
which is why this beats a multinomial logistic regression with a coefficient per class and input (measured in
the walk-forward backtest: log loss 0.9732 against 0.9748 on the same 8,954 matches, see BENCHMARKS.md).

Matches without a market price get a second pool fitted without the market, rather than a stand-in price.

With a price, the models' weights carry a ridge penalty (`member_penalty` x the sum of their squares; the
market's weight and the intercepts are free): the models rarely know more than the price, and three noisy
weights fitted on a few thousand matches cost more than they gain. Measured walk-forward on 2014-15..2018-19
(9,128 matches, the backtest's windows; paired log loss of the pool minus the market alone, recalibrated):
penalty 0: +0.00016, 0.003: +0.00002, 0.01: -0.00006, 0.03: -0.00008, 0.1: -0.00005. 0.03 was chosen there;
on 2019-20..2023-24 it gave -0.00014 (0 gave -0.00004).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from pipeline.forecast.models.base import Forecaster

EPS = 1e-6
MIN_MARKET_ROWS = 300  # fewer training matches with a price than this: the market pool is not fitted
MEMBER_PENALTY = 0.03  # ridge on the models' weights beside the price (chosen on 2014-15..2018-19)


def _log_inputs(base: dict[str, np.ndarray], names: tuple[str, ...], rows: np.ndarray) -> np.ndarray:
    return np.stack([np.log(np.clip(np.asarray(base[m], float)[rows], EPS, 1)) for m in names])


def _priced(market) -> np.ndarray:
    """Rows with a complete market price."""
    return np.flatnonzero(np.isfinite(np.asarray(market, float)).all(axis=1))


def _pool(logs: np.ndarray, params: np.ndarray) -> np.ndarray:
    m = len(logs)
    s = np.tensordot(params[:m], logs, 1) + np.r_[0.0, params[m:]]
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    return p / p.sum(axis=1, keepdims=True)


def _fit_pool(logs: np.ndarray, y: np.ndarray, penalty: np.ndarray | None = None) -> np.ndarray:
    """Weights and intercepts minimising mean log loss + sum(penalty x weight^2) (penalty: one per input)."""
    m, n = len(logs), len(y)
    onehot = np.eye(3)[y]
    pen = np.zeros(m) if penalty is None else np.asarray(penalty, float)

    def objective(x):
        p = _pool(logs, x)
        r = p - onehot  # d(-log p_y)/d score
        grad = np.r_[[(r * logs[j]).sum() for j in range(m)], r[:, 1:].sum(axis=0)] / n
        grad[:m] += 2 * pen * x[:m]
        loss = -np.log(np.clip(p[np.arange(n), y], 1e-300, None)).mean() + (pen * x[:m] ** 2).sum()
        return loss, grad

    x0 = np.r_[np.full(m, 1.0 / m), 0.0, 0.0]
    res = minimize(objective, x0, jac=True, method="L-BFGS-B")
    return res.x


class StackingEnsemble(Forecaster):
    def __init__(
        self,
        members: tuple[str, ...] = ("elo", "dixon_coles", "xgboost"),
        use_market: bool = True,
        member_penalty: float = MEMBER_PENALTY,
    ):
        self.members = members
        self.use_market = use_market
        self.member_penalty = member_penalty

    def fit(self, base: dict[str, np.ndarray], outcomes) -> StackingEnsemble:
        y = np.asarray(outcomes, int)
        everyone = np.arange(len(y))
        self.weights_ = _fit_pool(_log_inputs(base, self.members, everyone), y)
        self.market_weights_ = None
        market = base.get("market") if self.use_market else None
        if market is not None:
            has = _priced(market)
            if len(has) >= MIN_MARKET_ROWS:
                with_market = (*self.members, "market")
                penalty = np.r_[np.full(len(self.members), self.member_penalty), 0.0]
                self.market_weights_ = _fit_pool(_log_inputs(base, with_market, has), y[has], penalty)
        return self

    def predict_proba(self, base: dict[str, np.ndarray]) -> np.ndarray:
        self._check_fitted()
        n = len(np.asarray(base[self.members[0]]))
        market = base.get("market")
        weights = self.market_weights_
        has = _priced(market) if weights is not None and market is not None else np.arange(0)
        rest = np.setdiff1d(np.arange(n), has)
        out = np.empty((n, 3))
        if weights is not None and len(has):
            out[has] = _pool(_log_inputs(base, (*self.members, "market"), has), weights)
        out[rest] = _pool(_log_inputs(base, self.members, rest), self.weights_)
        return out
