"""The settlement job's reads and writes: fixtures to look up, pending bets with their match's result, and the
conditional UPDATEs that settle or void a bet exactly once (each is conditional on `status = 'pending'`, so a
second run, or one killed half-way, never settles twice). What a result means for a bet is decided in
`pipeline.betting.settlement`, not here."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.engine import Connection

from pipeline.store import schema


def fixtures_to_check(conn: Connection, source: str, now: datetime, lookback: timedelta, duration: timedelta):
    """(fixture id, provider id) of `source`'s fixtures that may have finished (kick-off at least `duration`
    ago) and have a pending bet, or a prediction without a result and a kick-off within `lookback`."""
    f, b, p, r = schema.fixtures, schema.bets, schema.predictions, schema.results
    # Uncorrelated IN subqueries, each evaluated once: correlated EXISTS on bets made SQLite scan every pending
    # bet for every fixture (27 s for 10,000 pending bets, bench/bench_cycle.py).
    pending_bet = f.c.id.in_(select(b.c.fixture_id).where(b.c.status == "pending"))
    unscored = and_(
        f.c.id.in_(select(p.c.fixture_id)),
        f.c.id.not_in(select(r.c.fixture_id)),
        f.c.kickoff_time >= now - lookback,
    )
    q = (
        select(f.c.id, f.c.provider_id)
        .where(f.c.source == source, f.c.kickoff_time <= now - duration, or_(pending_bet, unscored))
        .order_by(f.c.kickoff_time)
    )
    return [(row.id, row.provider_id) for row in conn.execute(q)]


def pending_bets_with_results(conn: Connection) -> list[dict]:
    """Pending bets whose fixture has a row in `results`: id, fixture_id, bet_outcome, odds, stake, the ledger's
    ledger_status, taken_odds and taken_stake, and the result's status and outcome."""
    b, r = schema.bets, schema.results
    q = (
        select(
            b.c.id,
            b.c.fixture_id,
            b.c.bet_outcome,
            b.c.odds,
            b.c.stake,
            b.c.ledger_status,
            b.c.taken_odds,
            b.c.taken_stake,
            r.c.status,
            r.c.outcome,
        )
        .select_from(b.join(r, r.c.fixture_id == b.c.fixture_id))
        .where(b.c.status == "pending")
    )
    return [dict(row) for row in conn.execute(q).mappings().all()]


def write_settlements(conn: Connection, rows: list[dict], now: datetime) -> None:
    """One executemany: each row's bet (`id`) gets status, result, profit_loss, closing_odds, clv and
    close_ratio_with_margin, if it is still pending."""
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
            }
            for x in rows
        ],
    )


def overdue_pending_bets(conn: Connection, kickoff_before: datetime):
    """Pending bets of fixtures that kicked off before `kickoff_before`: rows of id, provider_id, status (the
    fixture's)."""
    b, f = schema.bets, schema.fixtures
    return conn.execute(
        select(b.c.id, f.c.provider_id, f.c.status)
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status == "pending", f.c.kickoff_time < kickoff_before)
    ).all()


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


def fixtures_kicked_off_before(conn: Connection, ids: list[int], before: datetime):
    """Rows (provider_id, home_team, away_team, kickoff_time) of the fixtures `ids` that kicked off before
    `before`, by kick-off."""
    f = schema.fixtures
    return conn.execute(
        select(f.c.provider_id, f.c.home_team, f.c.away_team, f.c.kickoff_time)
        .where(f.c.id.in_(ids), f.c.kickoff_time < before)
        .order_by(f.c.kickoff_time)
    ).all()


def bet_by_id(conn: Connection, bet_id: int):
    """id, status, result, stake, odds, ledger_status, taken_odds and taken_stake of one bet, or None."""
    b = schema.bets
    return conn.execute(
        select(
            b.c.id, b.c.status, b.c.result, b.c.stake, b.c.odds, b.c.ledger_status, b.c.taken_odds, b.c.taken_stake
        ).where(b.c.id == bet_id)
    ).first()


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
    "fixtures_to_check",
    "pending_bets_with_results",
    "write_settlements",
    "overdue_pending_bets",
    "void_bets",
    "fixtures_kicked_off_before",
    "bet_by_id",
    "settle_pending_bet",
]
