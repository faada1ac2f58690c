"""The store: one SQLite file or PostgreSQL database, in SQLAlchemy Core.

- `schema`: every table (the interface users query with sqlite3); `migrations/`: Alembic, generated from it;
- `engine`: engine set-up for both dialects, migrations at start, upserts that work on both;
- `writes`: provider records in, idempotently; `queries`: the store back out as the models' match frame.
"""
from __future__ import annotations

from pipeline.store import schema
from pipeline.store.engine import StoreUnavailable, insert_ignore, make_engine, migrate, table_names, upsert
from pipeline.store.queries import (FRAME_COLUMNS, batch_to_frame, chunks, fixture_ids, latest_prematch_odds,
                                    load_match_frame)
from pipeline.store.writes import store_batch, store_lineup, store_matches

__all__ = ["schema", "StoreUnavailable", "make_engine", "migrate", "table_names", "upsert", "insert_ignore",
           "FRAME_COLUMNS", "batch_to_frame", "chunks", "fixture_ids", "latest_prematch_odds", "load_match_frame",
           "store_batch", "store_lineup", "store_matches"]
