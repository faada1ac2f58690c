"""The `skipped_candidates` table: what the price-error guards set aside before staking (pipeline.betting.screening),
written by placement (its one writer) and counted by the report.

One row per fixture, selection (market, line, outcome) and rule: a later run that sets the same candidate aside again
moves `last_seen` on and keeps the latest book, price, fair probability and reason; `first_seen` stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pipeline.records import SkippedCandidate
from pipeline.store import schema

UPDATED = ("bookmaker", "odds", "fair_prob", "reason", "last_seen")


def record_skipped(conn: Connection, skipped: list[SkippedCandidate], now: datetime) -> None:
    """Store each skip (its fixture must be stored: fixture_id is fixtures.id)."""
    rows = {
        (s.fixture_id, str(s.market), s.line, s.outcome, s.rule): {
            "fixture_id": s.fixture_id,
            "market": str(s.market),
            "line": s.line,
            "outcome": s.outcome,
            "bookmaker": s.bookmaker,
            "odds": s.odds,
            "fair_prob": s.fair_prob,
            "rule": s.rule,
            "reason": s.reason,
            "first_seen": now,
            "last_seen": now,
        }
        for s in skipped
    }
    if not rows:
        return
    t = schema.skipped_candidates
    insert = postgresql.insert(t) if conn.dialect.name == "postgresql" else sqlite.insert(t)
    # the target names uq_skipped_candidates_selection_rule's columns (a 1X2 skip's NULL line read as a number)
    stmt = insert.on_conflict_do_update(
        index_elements=["fixture_id", "market", schema.line_key(), "outcome", "rule"],
        set_={c: insert.excluded[c] for c in UPDATED},
    )
    conn.execute(stmt, list(rows.values()))


def skipped_by_rule(conn: Connection) -> dict[str, tuple[int, datetime]]:
    """{rule: (candidates set aside, the newest last_seen)}."""
    t = schema.skipped_candidates
    rows = conn.execute(select(t.c.rule, func.count(), func.max(t.c.last_seen)).group_by(t.c.rule)).all()
    return {r[0]: (int(r[1]), r[2]) for r in rows}


def latest_skips(conn: Connection, n: int) -> list[tuple[datetime, str]]:
    """(last_seen, reason) of the `n` most recently seen skips, newest first."""
    t = schema.skipped_candidates
    rows = conn.execute(select(t.c.last_seen, t.c.reason).order_by(t.c.last_seen.desc(), t.c.id.desc()).limit(n))
    return [(r.last_seen, r.reason) for r in rows]


__all__ = ["record_skipped", "skipped_by_rule", "latest_skips"]
