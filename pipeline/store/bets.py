"""The `bets` table on the betting side: placed bets in (never duplicated), and what the strategy, the performance
table and the CLV alarm read back. (Settlement's updates are pipeline.store.settlement's.)

`bets.model_prob` is the deployed models' probability of the outcome and `bets.fair_prob` the one the bet was
sized on: the columns users query, named as the Bet record (pipeline.records) names its fields.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from pipeline.records import Bet, PlacedBet
from pipeline.store import schema
from pipeline.store.engine import insert_ignore


def _row(b: Bet) -> dict:
    return {
        "fixture_id": b.fixture_id,
        "prediction_id": b.prediction_id,
        "bet_outcome": b.outcome,
        "bookmaker": b.bookmaker,
        "odds": b.odds,
        "stake": b.stake,
        "edge": b.edge,
        "fair_prob": b.fair_prob,
        "fair_source": b.fair_source,
        "model_prob": b.model_prob,
        "lineup_based": b.lineup_based,
        "status": "pending",
        "placed_at": b.placed_at,
        "min_odds": b.min_odds,
    }


def insert_bets(conn: Connection, bets: list[Bet]) -> None:
    """Write new bets, pending; a bet on an outcome of a fixture that already has one is not written (one bet per
    outcome per fixture: a placed bet is never changed or duplicated)."""
    if bets:
        insert_ignore(conn, schema.bets, [_row(b) for b in bets], keys=("fixture_id", "bet_outcome"))


def settled_profit(conn: Connection) -> float:
    """The profit and loss of every settled or voided bet."""
    b = schema.bets
    total = conn.execute(select(func.coalesce(func.sum(b.c.profit_loss), 0.0)).where(b.c.status != "pending")).scalar()
    return float(total or 0.0)


def bets_since(conn: Connection, since: datetime) -> list[PlacedBet]:
    """Bets on matches kicking off from `since` on, as the strategy's caps count them."""
    b, f = schema.bets, schema.fixtures
    rows = conn.execute(
        select(b.c.fixture_id, b.c.bet_outcome, b.c.stake, f.c.kickoff_time)
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(f.c.kickoff_time >= since)
    ).all()
    return [PlacedBet(r.fixture_id, r.bet_outcome, r.stake, r.kickoff_time.date()) for r in rows]


def settled_bets(conn: Connection) -> pd.DataFrame:
    """Every settled or voided bet with its fixture's kick-off (UTC) and league."""
    b, f = schema.bets, schema.fixtures
    q = (
        select(b, f.c.kickoff_time, f.c.league_code)
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status != "pending")
    )
    df = pd.DataFrame(conn.execute(q).mappings().all())
    if not df.empty:
        df["kickoff_time"] = pd.to_datetime(df["kickoff_time"], utc=True)
    return df


def recent_settled_clv(conn: Connection, n: int) -> list[tuple[float, date]]:
    """(clv, UTC match day) of the last `n` settled bets with a CLV, newest kick-off first."""
    b, f = schema.bets, schema.fixtures
    rows = conn.execute(
        select(b.c.clv, f.c.kickoff_time)
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status == "settled", b.c.clv.is_not(None))
        .order_by(f.c.kickoff_time.desc(), b.c.id.desc())
        .limit(n)
    ).all()
    return [(r.clv, r.kickoff_time.date()) for r in rows]


def bets_pending_since(conn: Connection, kickoff_before: datetime) -> int:
    """How many bets are pending on fixtures that kicked off before `kickoff_before` (settlement has stopped,
    or the source never reports the result)."""
    b, f = schema.bets, schema.fixtures
    return conn.execute(
        select(func.count())
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status == "pending", f.c.kickoff_time < kickoff_before)
    ).scalar_one()


__all__ = ["bets_pending_since", "insert_bets", "settled_profit", "bets_since", "settled_bets", "recent_settled_clv"]
