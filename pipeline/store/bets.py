"""The `bets` table's writer: placed bets in (never duplicated), settlement's conditional UPDATEs that settle, void
or settle again a bet exactly once (conditional on the status read, `pending` for a first settlement, so a second
run, or one killed half-way, never settles twice), and what the strategy, the performance table and the CLV alarm
read back. (The settlement job's reads are pipeline.store.settlement's; the ledger's own updates, what was really
placed, pipeline.store.ledger's.)

`bets.model_prob` is the deployed models' probability of the outcome and `bets.fair_prob` the one the bet was
sized on: the columns users query, named as the Bet record (pipeline.records) names its fields.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import and_, bindparam, func, not_, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pipeline.records import Bet, PlacedBet
from pipeline.store import schema


def _row(b: Bet) -> dict:
    return {
        "fixture_id": b.fixture_id,
        "prediction_id": b.prediction_id,
        "bet_outcome": b.outcome,
        "market": str(b.market),
        "line": b.line,
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
    """Write new bets, pending; a bet on a selection (market, line, outcome) of a fixture that already has one that
    is not void is not written (one bet per selection per fixture: a placed bet is never changed or duplicated; a
    void one is over). A 1X2 home bet and an Asian handicap home bet are two selections."""
    if bets:
        b = schema.bets
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        # the target names uq_bets_fixture_selection's columns and predicate, as PostgreSQL infers the index by them
        stmt = insert(b).on_conflict_do_nothing(
            index_elements=["fixture_id", "market", schema.line_key(), "bet_outcome"],
            index_where=text("status <> 'void'"),
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
    returned, so it neither counts nor blocks a new bet on its selection. One the user skipped or missed (voided
    under LEDGER=confirmed) still blocks: it is not recommended again. Each with its market and line."""
    b, f = schema.bets, schema.fixtures
    settled_void = and_(b.c.status == "void", b.c.ledger_status.not_in(("skipped", "missed")))
    rows = conn.execute(
        select(b.c.fixture_id, b.c.bet_outcome, b.c.stake, f.c.kickoff_time, b.c.market, b.c.line)
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(not_(settled_void), or_(f.c.kickoff_time >= since, b.c.status == "pending"))
        .order_by(b.c.id)
    ).all()
    return [PlacedBet(r.fixture_id, r.bet_outcome, r.stake, r.kickoff_time.date(), r.market, r.line) for r in rows]


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


def resettle(conn: Connection, bet: dict, status: str, result: str, profit: float, note: str, now: datetime) -> bool:
    """Settle a settled bet again (a corrected result), if it is still as read (`bet`: id, status, result);
    a void one loses its CLV. False when it had changed meanwhile (nothing written)."""
    b = schema.bets
    values: dict = {
        "status": status,
        "result": result,
        "profit_loss": profit,
        "settled_at": now,
        "settlement_note": note,
    }
    if status == "void":
        values.update(clv=None, closing_odds=None, close_ratio_with_margin=None)
    done = conn.execute(
        update(b).where(b.c.id == bet["id"], b.c.status == bet["status"], b.c.result == bet["result"]).values(**values)
    ).rowcount
    return bool(done)


def write_settlements(conn: Connection, rows: list[dict], now: datetime) -> None:
    """One executemany: each row's bet (`id`) gets status, result, profit_loss, closing_odds, clv,
    close_ratio_with_margin and settlement_note, if it is still pending."""
    if not rows:
        return
    b = schema.bets
    conn.execute(
        update(b)
        .where(b.c.id == bindparam("b_id"), b.c.status == "pending")
        .values(
            status=bindparam("v_status"),
            result=bindparam("v_result"),
            profit_loss=bindparam("v_profit"),
            settled_at=now,
            closing_odds=bindparam("v_closing"),
            clv=bindparam("v_clv"),
            close_ratio_with_margin=bindparam("v_ratio"),
            settlement_note=bindparam("v_note"),
        ),
        [
            {
                "b_id": x["id"],
                "v_status": x["status"],
                "v_result": x["result"],
                "v_profit": x["profit_loss"],
                "v_closing": x["closing_odds"],
                "v_clv": x["clv"],
                "v_ratio": x["close_ratio_with_margin"],
                "v_note": x["settlement_note"],
            }
            for x in rows
        ],
    )


def void_bets(conn: Connection, notes: dict[int, str], now: datetime) -> None:
    """Void each bet of `notes` (bet id -> settlement note) that is still pending."""
    if not notes:
        return
    b = schema.bets
    conn.execute(
        update(b)
        .where(b.c.id == bindparam("b_id"), b.c.status == "pending")
        .values(status="void", result="void", profit_loss=0.0, settled_at=now, settlement_note=bindparam("v_note")),
        [{"b_id": k, "v_note": v} for k, v in notes.items()],
    )


def settle_pending_bet(
    conn: Connection, bet_id: int, status: str, result: str, profit: float, now: datetime, note: str
) -> bool:
    """Settle one bet if it is still pending; False when it no longer was (nothing changed)."""
    b = schema.bets
    done = conn.execute(
        update(b)
        .where(b.c.id == bet_id, b.c.status == "pending")
        .values(status=status, result=result, profit_loss=profit, settled_at=now, settlement_note=note)
    ).rowcount
    return bool(done)


__all__ = [
    "bets_pending_since",
    "insert_bets",
    "settled_profit",
    "bets_since",
    "settled_bets",
    "recent_settled_clv",
    "resettle",
    "write_settlements",
    "void_bets",
    "settle_pending_bet",
]
