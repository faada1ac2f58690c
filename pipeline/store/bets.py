"""The `bets` table on the betting side: placed bets in (never duplicated), and what the strategy, the performance
table and the CLV alarm read back. (Settlement's updates are pipeline.store.settlement's.)

`bets.model_prob` is the deployed models' probability of the outcome and `bets.fair_prob` the one the bet was
sized on: the columns users query, named as the Bet record (pipeline.records) names its fields.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import and_, func, not_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pipeline.records import Bet, PlacedBet
from pipeline.store import schema


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
        "kickoff_at_placement": b.kickoff,
    }


def insert_bets(conn: Connection, bets: list[Bet]) -> None:
    """Write new bets, pending; a bet on an outcome of a fixture that already has one that is not void is not
    written (one bet per outcome per fixture: a placed bet is never changed or duplicated; a void one is over)."""
    if bets:
        b = schema.bets
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(b).on_conflict_do_nothing(
            index_elements=["fixture_id", "bet_outcome"], index_where=text("status <> 'void'")
        )
        conn.execute(stmt, [_row(x) for x in bets])


def settled_profit(conn: Connection) -> float:
    """The profit and loss of every settled or voided bet."""
    b = schema.bets
    total = conn.execute(select(func.coalesce(func.sum(b.c.profit_loss), 0.0)).where(b.c.status != "pending")).scalar()
    return float(total or 0.0)


def bets_since(conn: Connection, since: datetime) -> list[PlacedBet]:
    """Bets on matches kicking off from `since` on, and every pending bet whatever its match's kick-off (a
    postponed match's may still lie in the past in the store when a dry run looks), as the strategy's caps count
    them. A bet voided by settlement (its match postponed too long, cancelled...) is left out: its stake is
    returned, so it neither counts nor blocks a new bet on its outcome. One the user skipped or missed (voided
    under LEDGER=confirmed) still blocks: it is not recommended again."""
    b, f = schema.bets, schema.fixtures
    settled_void = and_(b.c.status == "void", b.c.ledger_status.not_in(("skipped", "missed")))
    rows = conn.execute(
        select(b.c.fixture_id, b.c.bet_outcome, b.c.stake, f.c.kickoff_time)
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(not_(settled_void), or_(f.c.kickoff_time >= since, b.c.status == "pending"))
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
