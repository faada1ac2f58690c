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
__getattr__, __all__ = exporter(__name__, {}, _SUBMODULES)
