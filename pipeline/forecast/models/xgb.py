"""Gradient-boosted trees (XGBoost) over the point-in-time feature frame, predicting home/draw/away.

`n_jobs=None` leaves the thread count to OpenMP, which the job runner pins (CPU_THREADS): cron runs jobs side by
side on few cores, and threads fighting over them made training 8x slower.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost

from pipeline.forecast.models.base import Forecaster


class XGBoostModel(Forecaster):
    def __init__(
        self,
        n_estimators: int = 250,
        learning_rate: float = 0.03,
        max_depth: int = 3,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        min_child_weight: float = 10.0,
        reg_lambda: float = 5.0,
        seed: int = 0,
        n_jobs: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, features: pd.DataFrame, outcomes) -> XGBoostModel:
        self.feature_names_ = list(features.columns)
        self.booster_ = xgboost.XGBClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight,
            reg_lambda=self.reg_lambda,
            objective="multi:softprob",
            num_class=3,
            random_state=self.seed,
            n_jobs=self.n_jobs,
            tree_method="hist",
            verbosity=0,
        )
        self.booster_.fit(features.to_numpy(float), np.asarray(outcomes, int))
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        X = features[self.feature_names_].to_numpy(float)
        return self.booster_.predict_proba(X)
