"""What every forecaster shares, following scikit-learn's estimator conventions: parameters are explicit
`__init__` keywords stored as given (so `get_params`, `set_params`, `clone` and `repr` work), fitted state ends
with an underscore, `fit` returns self, use before `fit` raises scikit-learn's NotFittedError, and `predict_proba`
gives an (n, 3) array of probabilities in pipeline.outcomes' order (home, draw, away) whose rows sum to 1.
tests/test_estimator_checks.py holds every model to this."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


class Forecaster(BaseEstimator):
    """Base of the match forecasters (Elo, Dixon-Coles, XGBoost, the stacking ensemble)."""

    def _check_fitted(self) -> None:
        """NotFittedError, naming the model, before a model that was never fitted is used."""
        check_is_fitted(self)

    def predict_proba(self, *args, **kwargs):  # pragma: no cover - every model defines it
        raise NotImplementedError


__all__ = ["Forecaster"]
