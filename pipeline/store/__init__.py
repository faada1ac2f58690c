"""The store: one SQLite file or PostgreSQL database, in SQLAlchemy Core.

- `schema`: every table (the interface users query with sqlite3); `migrations/`: Alembic, generated from it;
- `engine`: engine set-up for both dialects, migrations at start, upserts that work on both;
- `writes`: provider records in, idempotently; `queries`: the store back out as the models' match frame;
- `market_odds`: the over/under and Asian handicap prices in and back out;
- per table family on the money path: `predictions`, `bets`, `lineups`, `performance` (their only writers);
- `job_runs`: the run history;
- `backup_files`: backup files on disk; `copies`: copies of the whole store (SQLite backup API, dumps);
- `rejected_rows`: the rows providers rejected at the door (pipeline.providers.contract).
"""

from __future__ import annotations

from pipeline.lazy import exporter

_SUBMODULES = ("schema", "backup_files", "copies", "job_runs")
# public name -> the module that defines it
_EXPORTS = {
    "make_engine": "pipeline.store.engine",
    "shared_engine": "pipeline.store.engine",
    "migrate": "pipeline.store.engine",
    "PredictionDatabase": "pipeline.store.engine",
    "missing_sqlite_file": "pipeline.store.engine",
    "quick_check": "pipeline.store.engine",
    "link_guide_path": "pipeline.store.engine",
    "table_names": "pipeline.store.engine",
    "upsert": "pipeline.store.engine",
    "FRAME_COLUMNS": "pipeline.store.queries",
    "batch_to_frame": "pipeline.store.queries",
    "fixture_ids": "pipeline.store.queries",
    "latest_prices": "pipeline.store.queries",
    "load_match_frame": "pipeline.store.queries",
    "newest_result": "pipeline.store.queries",
    "upcoming_fixtures": "pipeline.store.queries",
    "store_batch": "pipeline.store.writes",
    "store_lineup": "pipeline.store.lineups",
    "replace_lineup": "pipeline.store.lineups",
    "seen_lineup_hashes": "pipeline.store.lineups",
    "latest_lineup_hash": "pipeline.store.lineups",
    "record_lineup_update": "pipeline.store.lineups",
    "store_predictions": "pipeline.store.predictions",
}

__getattr__, __all__ = exporter(__name__, _EXPORTS, _SUBMODULES)
