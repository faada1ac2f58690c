"""The stacking ensemble: a multinomial logistic regression on the log-probabilities of the base models and
the market, fitted only on out-of-sample base predictions in time order. Its output is calibrated by
construction (it minimises log loss). Where a match has no market price, the market inputs are replaced by the
Dixon-Coles probabilities and an indicator says so.
"""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

EPS = 1e-6


class StackingEnsemble:
    def __init__(self, members: tuple[str, ...] = ("elo", "dixon_coles", "xgboost"), use_market: bool = True,
                 C: float = 1.0):
        self.members = members
        self.use_market = use_market
        self.C = C

    def _design(self, base: dict[str, np.ndarray]) -> np.ndarray:
        cols = [np.log(np.clip(base[m], EPS, 1)) for m in self.members]
        if self.use_market:
            market = base.get("market")
            fallback = base[self.members[1] if len(self.members) > 1 else self.members[0]]
            if market is None:
                market = np.full_like(fallback, np.nan)
            has = np.isfinite(market).all(axis=1)
            filled = np.where(has[:, None], market, fallback)
            cols += [np.log(np.clip(filled, EPS, 1)), has[:, None].astype(float)]
        return np.hstack(cols)

    def fit(self, base: dict[str, np.ndarray], outcomes) -> "StackingEnsemble":
        self.model_ = LogisticRegression(C=self.C, max_iter=2000)
        self.model_.fit(self._design(base), np.asarray(outcomes, int))
        return self

    def predict_proba(self, base: dict[str, np.ndarray]) -> np.ndarray:
        return self.model_.predict_proba(self._design(base))
