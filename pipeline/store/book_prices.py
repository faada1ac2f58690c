"""Each bookmaker's own 1X2 prices of some fixtures, for the close model (pipeline.forecast.fair_line): its inputs
are every listed book's pre-match price, its target the sharp book's closing price.

A long table comes back (fixture_id, bookmaker (canonical name), home, draw, away, fetched_at), one row per
fixture and book: the latest pre-match snapshot fetched at or before `kickoff - lead` (and before `before`), or
the closing snapshot. The lead cut is made in Python, not SQL: timestamp arithmetic differs between SQLite and
PostgreSQL, and the rows are read a chunk of fixtures at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from pipeline.bookmakers import canonical
from pipeline.providers.base import chunks
from pipeline.store import schema

COLUMNS = ["fixture_id", "bookmaker", "home", "draw", "away", "fetched_at"]


def _names(conn: Connection, books: Iterable[str]) -> list[str]:
    """The stored spellings of `books` (providers may write "bet365" for Bet365)."""
    wanted = {canonical(b) for b in books}
    stored = conn.execute(select(schema.odds_snapshots.c.bookmaker).distinct()).scalars().all()
    return [b for b in stored if canonical(b) in wanted]


def book_snapshots(
    conn: Connection,
    fixture_ids: Iterable[int],
    books: Iterable[str],
    *,
    closing: bool = False,
    lead: timedelta = timedelta(0),
    before: datetime | None = None,
) -> pd.DataFrame:
    """Per fixture and book of `books`, its latest pre-match snapshot fetched by kick-off minus `lead` (and by
    `before`), or with `closing` its closing snapshot; COLUMNS, bookmaker names canonical."""
    o, f = schema.odds_snapshots, schema.fixtures
    names = _names(conn, books)
    parts = []
    if not names:
        return pd.DataFrame(columns=COLUMNS)
    for part in chunks(sorted({int(i) for i in fixture_ids}), 500):
        cond = [o.c.fixture_id.in_(part), o.c.market == "1X2", o.c.bookmaker.in_(names)]
        cond += (
            [o.c.is_closing.is_(True)] if closing else [o.c.is_closing.is_(False), o.c.fetched_at <= f.c.kickoff_time]
        )
        if before is not None:
            cond.append(o.c.fetched_at <= before)
        q = (
            select(
                o.c.fixture_id,
                o.c.bookmaker,
                o.c.home_odds.label("home"),
                o.c.draw_odds.label("draw"),
                o.c.away_odds.label("away"),
                o.c.fetched_at,
                f.c.kickoff_time.label("kickoff"),
                o.c.id,
            )
            .select_from(o.join(f, f.c.id == o.c.fixture_id))
            .where(*cond)
        )
        rows = pd.DataFrame(conn.execute(q).mappings().all())
        if rows.empty:
            continue
        rows["fetched_at"] = pd.to_datetime(rows["fetched_at"], utc=True)
        if lead > timedelta(0) and not closing:
            rows = rows[rows["fetched_at"] <= pd.to_datetime(rows["kickoff"], utc=True) - lead]
        rows["bookmaker"] = rows["bookmaker"].map(canonical)
        rows = rows.sort_values(["fixture_id", "bookmaker", "fetched_at", "id"], kind="stable")
        parts.append(rows.groupby(["fixture_id", "bookmaker"], sort=False).tail(1)[COLUMNS])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


__all__ = ["book_snapshots"]
