"""How fresh the store's money path is, for the health check: the newest prediction, and the bets still pending
long after their kick-off (settlement has stopped, or the source never reports the result)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from pipeline.store import schema


def newest_prediction(conn: Connection) -> datetime | None:
    return conn.execute(select(func.max(schema.predictions.c.prediction_time))).scalar()


def bets_pending_since(conn: Connection, kickoff_before: datetime) -> int:
    """How many bets are pending on fixtures that kicked off before `kickoff_before`."""
    b, f = schema.bets, schema.fixtures
    return conn.execute(
        select(func.count())
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status == "pending", f.c.kickoff_time < kickoff_before)
    ).scalar_one()


__all__ = ["newest_prediction", "bets_pending_since"]
