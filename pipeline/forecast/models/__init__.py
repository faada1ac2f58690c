"""The forecasters, each a scikit-learn-style estimator (see base.py): Elo, Dixon-Coles, XGBoost and the stacking
ensemble that pools them with the market."""

from pipeline.forecast.models.base import Forecaster
from pipeline.forecast.models.dixon_coles import DixonColesModel
from pipeline.forecast.models.elo import EloModel
from pipeline.forecast.models.ensemble import StackingEnsemble
from pipeline.forecast.models.xgb import XGBoostModel

__all__ = ["Forecaster", "EloModel", "DixonColesModel", "XGBoostModel", "StackingEnsemble"]
