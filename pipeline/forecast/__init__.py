"""Forecasting: match frames -> features -> models -> a deployed model set -> prediction rows.

- `features`: point-in-time features (form, market) from a match frame;
- `models/`: the forecasters; `modelset`: the four trained together, validated, used as one;
- `registry`: deployed model sets on disk (versions, checksums, backups, rollback);
- `players`: player ratings from lineups, and the lineup correction;
- `predictions`: upcoming fixtures -> prediction rows in the store.
"""

from __future__ import annotations

from pipeline.lazy import exporter

_SUBMODULES = ("registry", "features", "players", "models")
# public name -> the module that defines it
_EXPORTS = {
    "ModelSet": "pipeline.forecast.modelset",
    "TrainResult": "pipeline.forecast.modelset",
    "train_model_set": "pipeline.forecast.modelset",
    "HISTORY_DAYS": "pipeline.forecast.predictions",
    "LoadedModels": "pipeline.forecast.predictions",
    "already_predicted": "pipeline.forecast.predictions",
    "fixtures_frame": "pipeline.forecast.predictions",
    "load_models": "pipeline.forecast.predictions",
    "record_copied_set": "pipeline.forecast.predictions",
    "market_probabilities": "pipeline.forecast.predictions",
    "prediction_rows": "pipeline.forecast.predictions",
    "ModelLoadError": "pipeline.forecast.registry",
    "load_deployed": "pipeline.forecast.registry",
    "deploy": "pipeline.forecast.registry",
    "rollback": "pipeline.forecast.registry",
}

__getattr__, __all__ = exporter(__name__, _EXPORTS, _SUBMODULES)
