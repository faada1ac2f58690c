"""The store: one SQLite file or PostgreSQL database, in SQLAlchemy Core.

- `schema`: every table (the interface users query with sqlite3); `migrations/`: Alembic, generated from it;
- `engine`: engine set-up for both dialects, migrations at start, upserts that work on both;
- `writes`: provider records in, idempotently; `queries`: the store back out as the models' match frame.
"""

from __future__ import annotations

from pipeline.lazy import exporter

_SUBMODULES = ("schema", "backup_files")
# public name -> the module that defines it
_EXPORTS = {
    "StoreUnavailable": "pipeline.store.engine",
    "insert_ignore": "pipeline.store.engine",
    "make_engine": "pipeline.store.engine",
    "shared_engine": "pipeline.store.engine",
    "migrate": "pipeline.store.engine",
    "PredictionDatabase": "pipeline.store.engine",
    "missing_sqlite_file": "pipeline.store.engine",
    "link_guide_path": "pipeline.store.engine",
    "table_names": "pipeline.store.engine",
    "upsert": "pipeline.store.engine",
    "FRAME_COLUMNS": "pipeline.store.queries",
    "batch_to_frame": "pipeline.store.queries",
    "chunks": "pipeline.store.queries",
    "fixture_ids": "pipeline.store.queries",
    "closing_prices": "pipeline.store.queries",
    "latest_prematch_odds": "pipeline.store.queries",
    "latest_prices": "pipeline.store.queries",
    "load_match_frame": "pipeline.store.queries",
    "newest_result": "pipeline.store.queries",
    "result_frame": "pipeline.store.queries",
    "store_batch": "pipeline.store.writes",
    "store_lineup": "pipeline.store.writes",
    "store_matches": "pipeline.store.writes",
}

__getattr__, __all__ = exporter(__name__, _EXPORTS, _SUBMODULES)
