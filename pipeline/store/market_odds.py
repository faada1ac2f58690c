"""The `market_odds` table: the two-way markets' prices (pipeline.markets.MarketPrice: over/under and Asian handicap at
any line, every book, pre-match and closing) in and back out. 1X2 prices are odds_snapshots' (pipeline.store.writes).

Like the 1X2 snapshots, a price is kept with the time it was seen and never overwritten: storing the same one again
changes nothing. A price the source gives no time for (a football-data file row) is stamped with the run's time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from pipeline.markets import MarketPrice, Selection
from pipeline.providers.base import chunks
from pipeline.store import schema
from pipeline.store.engine import insert_ignore

log = logging.getLogger(__name__)

CHUNK = 500  # rows per statement and ids per IN list: bounded on both dialects
KEY = ("fixture_id", "bookmaker", "market", "line", "selection", "is_closing", "fetched_at")
BOOKMAKER_LENGTH = 64  # market_odds.bookmaker is String(64)


def store_market_prices(conn: Connection, ids: Mapping[str, int], prices: Iterable[MarketPrice], now: datetime) -> int:
    """Insert the prices of the matches in `ids` (provider id -> fixtures.id); one already stored is left as it is.
    Returns how many rows were offered. A price of a match not in `ids`, or of a book whose name the column cannot
    hold, is not stored: each kind is counted and logged with a few examples."""
    rows: list[dict] = []
    unknown: list[str] = []
    long_names: list[str] = []
    for p in prices:
        fixture = ids.get(p.match_id)
        if fixture is None:
            unknown.append(p.match_id)
            continue
        if len(p.bookmaker) > BOOKMAKER_LENGTH:
            long_names.append(p.bookmaker)
            continue
        rows.append(
            {
                "fixture_id": fixture,
                "bookmaker": p.bookmaker,
                "market": p.selection.market.value,
                "line": p.selection.line,
                "selection": p.selection.side,
                "odds": float(p.price),
                "is_closing": bool(p.closing),
                "fetched_at": p.fetched_at if p.fetched_at is not None else now,
            }
        )
    if unknown:
        log.warning(
            "%d two-way prices of %d matches not stored: match not in the store (e.g. %s)",
            len(unknown),
            len(set(unknown)),
            ", ".join(sorted(set(unknown))[:5]),
        )
    if long_names:
        log.warning(
            "%d two-way prices not stored: bookmaker name over %d characters (e.g. %r)",
            len(long_names),
            BOOKMAKER_LENGTH,
            long_names[0],
        )
    for part in chunks(rows, CHUNK):
        insert_ignore(conn, schema.market_odds, part, keys=KEY)
    return len(rows)


def _prices(rows, provider: Mapping[int, str]) -> dict[int, list[MarketPrice]]:
    out: dict[int, list[MarketPrice]] = {}
    for r in rows:
        out.setdefault(r.fixture_id, []).append(
            MarketPrice(
                provider[r.fixture_id],
                r.bookmaker,
                Selection(r.market, r.line, r.selection),
                float(r.odds),
                bool(r.is_closing),
                r.fetched_at,
            )
        )
    return out


def _latest(conn: Connection, fixture_ids: Iterable[int], closing: bool, now: datetime | None):
    """Per fixture, book, market, line and selection the newest row (pre-match: fetched by kick-off and by `now`;
    closing: the newest closing row), with the fixture's provider id; ordered for a stable answer."""
    m, f = schema.market_odds, schema.fixtures
    rows, provider = [], {}
    for part in chunks(sorted({int(x) for x in fixture_ids}), CHUNK):
        cond: list[ColumnElement[bool]] = [m.c.fixture_id.in_(part), m.c.is_closing.is_(closing)]
        if not closing:
            cond += [m.c.fetched_at <= f.c.kickoff_time]
            if now is not None:
                cond.append(m.c.fetched_at <= now)
        rank = (
            func.row_number()
            .over(
                partition_by=(m.c.fixture_id, m.c.bookmaker, m.c.market, m.c.line, m.c.selection),
                order_by=(m.c.fetched_at.desc(), m.c.id.desc()),
            )
            .label("rank")
        )
        ranked = (
            select(m, f.c.provider_id, rank).select_from(m.join(f, f.c.id == m.c.fixture_id)).where(*cond).subquery()
        )
        q = (
            select(*[c for c in ranked.c if c.name != "rank"])
            .where(ranked.c.rank == 1)
            .order_by(ranked.c.fixture_id, ranked.c.market, ranked.c.line, ranked.c.bookmaker, ranked.c.selection)
        )
        for r in conn.execute(q):
            provider[r.fixture_id] = r.provider_id
            rows.append(r)
    return _prices(rows, provider)


def latest_market_prices(conn: Connection, fixture_ids: Iterable[int], now: datetime) -> dict[int, list[MarketPrice]]:
    """Per fixture (fixtures.id), each book's latest pre-match price of every market, line and selection it quotes,
    seen by kick-off and by `now`; match_id is the fixture's provider id. Fixtures without one are absent."""
    return _latest(conn, fixture_ids, closing=False, now=now)


def closing_market_prices(conn: Connection, fixture_ids: Iterable[int]) -> dict[int, list[MarketPrice]]:
    """Per fixture (fixtures.id), each book's closing price of every market, line and selection it closed (the newest
    closing row where a source sent more than one). Settlement grades a bet against the sharp close at its own line:
    a close at another line is a different selection, never a stand-in."""
    return _latest(conn, fixture_ids, closing=True, now=None)


__all__ = ["store_market_prices", "latest_market_prices", "closing_market_prices"]
