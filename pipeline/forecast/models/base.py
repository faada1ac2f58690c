"""What every forecaster shares, following scikit-learn's estimator conventions: parameters are explicit
`__init__` keywords stored as given (so `get_params`, `set_params`, `clone` and `repr` work), fitted state ends
with an underscore, `fit` returns self, and `predict_proba` gives an (n, 3) array of home/draw/away
probabilities whose rows sum to 1."""

from __future__ import annotations

from sklearn.base import BaseEstimator

OUTCOME_ORDER = ("home", "draw", "away")


class Forecaster(BaseEstimator):
    """Base of the match forecasters (Elo, Dixon-Coles, XGBoost, the stacking ensemble)."""

    def is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def predict_proba(self, *args, **kwargs):  # pragma: no cover - every model defines it
        raise NotImplementedError


__all__ = ["Forecaster", "OUTCOME_ORDER"]
