"""The `performance_daily` table: its one writer (`replace_performance`; the rows are computed by
pipeline.betting.performance.refresh_performance, which the settlement and training jobs call)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from pipeline.store import schema
from pipeline.store.engine import upsert


def has_performance(conn: Connection) -> bool:
    """Whether performance_daily has any row."""
    return conn.execute(select(schema.performance_daily.c.day).limit(1)).first() is not None


def replace_performance(conn: Connection, rows: list[dict]) -> None:
    """Make performance_daily exactly `rows` (one per day): days not among them are deleted, the others upserted."""
    days = [r["day"] for r in rows]
    conn.execute(delete(schema.performance_daily).where(schema.performance_daily.c.day.not_in(days)))
    upsert(conn, schema.performance_daily, rows, keys=("day",))


__all__ = ["has_performance", "replace_performance"]
