"""Forecasting: match frames -> features -> models -> a deployed model set -> prediction rows.

- `features`: point-in-time features (form, market) from a match frame;
- `models/`: the forecasters; `modelset`: the four trained together, validated, used as one;
- `registry`: deployed model sets on disk (versions, checksums, backups, rollback);
- `players`: player ratings from lineups, and the lineup correction;
- `predictions`: upcoming fixtures -> prediction rows in the store.
"""
from pipeline.forecast import registry
from pipeline.forecast.modelset import ModelSet, TrainResult, train_model_set
from pipeline.forecast.predictions import (HISTORY_DAYS, LoadedModels, already_predicted, fixtures_frame,
                                           load_models, market_probabilities, odds_key, prediction_rows,
                                           store_predictions)

__all__ = ["registry", "ModelSet", "TrainResult", "train_model_set", "HISTORY_DAYS", "LoadedModels",
           "already_predicted", "fixtures_frame", "load_models", "market_probabilities", "odds_key",
           "prediction_rows", "store_predictions"]
