"""The settlement job's reads: fixtures to look up, pending bets with their match's result, settled bets their
result now contradicts, the sharp close bets are graded against. The UPDATEs that settle or void a bet are
`pipeline.store.bets`' (the one writer of `bets`); what a result means for a bet is decided in
`pipeline.betting.settlement`, not here."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import String, and_, cast, func, literal, not_, or_, select
from sqlalchemy.engine import Connection

from pipeline.bookmakers import canonical
from pipeline.providers.base import ABANDONED, CANCELLED, FINISHED, POSTPONED
from pipeline.records import PendingBet
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
        # a postponed match is not a result: checked again once its new kick-off has passed
        f.c.id.not_in(select(r.c.fixture_id).where(r.c.status != POSTPONED)),
        f.c.kickoff_time >= now - lookback,
    )
    q = (
        select(f.c.id, f.c.provider_id)
        .where(f.c.source == source, f.c.kickoff_time <= now - duration, or_(pending_bet, unscored))
        .order_by(f.c.kickoff_time)
    )
    return [(row.id, row.provider_id) for row in conn.execute(q)]


def pending_bets_with_results(conn: Connection) -> list[PendingBet]:
    """Pending bets whose fixture has a row in `results` (pipeline.records.PendingBet): the bet with its market and
    line, the ledger's ledger_status, taken_odds and taken_stake, the fixture's kickoff_time, and the result."""
    b, r, f = schema.bets, schema.results, schema.fixtures
    q = (
        select(
            b.c.id,
            b.c.fixture_id,
            b.c.bet_outcome,
            b.c.market,
            b.c.line,
            b.c.odds,
            b.c.stake,
            b.c.ledger_status,
            b.c.taken_odds,
            b.c.taken_stake,
            b.c.kickoff_at_placement,
            f.c.kickoff_time,
            r.c.status.label("match_status"),
            r.c.home_goals,
            r.c.away_goals,
            r.c.outcome,
        )
        .select_from(b.join(r, r.c.fixture_id == b.c.fixture_id).join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status == "pending")
        .order_by(b.c.id)
    )
    return [PendingBet(**row) for row in conn.execute(q).mappings().all()]


def settled_bets_contradicting_results(conn: Connection) -> list[dict]:
    """Bets settled or voided whose match's final result in `results` may say otherwise (a settled 1X2 bet on a
    match now finished with another outcome; a settled over/under or handicap bet on a match now finished with
    another score than its note says it was settled on, "settled on 2-1 ..."; a settled bet on a match now
    cancelled/abandoned; a void bet on a match now finished): the bet's id, status, result, profit_loss,
    settlement_note, bet_outcome, market, line, stake, odds, ledger_status, taken_odds, taken_stake, and the
    result's status, home_goals, away_goals and outcome. Which of them to settle again is decided in
    pipeline.betting.settlement."""
    b, r = schema.bets, schema.results
    finished = and_(r.c.status == FINISHED, r.c.outcome.is_not(None))
    # a two-way bet's result depends on the score, not the outcome: its note names the score it was settled on
    settled_on_score = (
        literal("settled on ")
        + cast(r.c.home_goals, String)
        + literal("-")
        + cast(r.c.away_goals, String)
        + literal(" %")
    )
    q = (
        select(
            b.c.id,
            b.c.status.label("bet_status"),
            b.c.result,
            b.c.profit_loss,
            b.c.settlement_note,
            b.c.bet_outcome,
            b.c.market,
            b.c.line,
            b.c.stake,
            b.c.odds,
            b.c.ledger_status,
            b.c.taken_odds,
            b.c.taken_stake,
            r.c.status,
            r.c.home_goals,
            r.c.away_goals,
            r.c.outcome,
        )
        .select_from(b.join(r, r.c.fixture_id == b.c.fixture_id))
        .where(
            or_(
                and_(
                    b.c.status == "settled",
                    finished,
                    or_(
                        and_(b.c.market == "1X2", b.c.result == "win", r.c.outcome != b.c.bet_outcome),
                        and_(b.c.market == "1X2", b.c.result == "loss", r.c.outcome == b.c.bet_outcome),
                        and_(
                            b.c.market != "1X2",
                            not_(func.coalesce(b.c.settlement_note, "").like(settled_on_score)),
                        ),
                    ),
                ),
                and_(b.c.status == "settled", r.c.status.in_((CANCELLED, ABANDONED))),
                and_(b.c.status == "void", finished),
            )
        )
        .order_by(b.c.id)
    )
    return [
        {**dict(row), "status": row["bet_status"], "match_status": row["status"]} for row in conn.execute(q).mappings()
    ]


def sharp_closing_prices(conn: Connection, fixture_ids: list[int], sharp: tuple[str, ...]) -> pd.DataFrame:
    """Per fixture (the index): the sharp closing line bets are graded against, `close_home/draw/away` and its
    `close_bookmaker`: the closing price in `results` when its book is one of `sharp` (SHARP_BOOKMAKERS), else the
    closing snapshot of the first book of `sharp` that has a complete one. Fixtures without one are absent: no
    other book's close, and no pre-match price, stands in for it."""
    o, r = schema.odds_snapshots, schema.results
    books = [canonical(x) for x in sharp]
    cols = ["close_home", "close_draw", "close_away", "close_bookmaker"]
    best: dict[int, tuple] = {}
    ids = sorted({int(x) for x in fixture_ids})
    for part in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        snapshots = conn.execute(
            select(o.c.fixture_id, o.c.bookmaker, o.c.home_odds, o.c.draw_odds, o.c.away_odds)
            .where(
                o.c.fixture_id.in_(part),
                o.c.is_closing.is_(True),
                o.c.market == "1X2",
                o.c.bookmaker.in_(books),
                o.c.home_odds > 1.0,
                o.c.draw_odds > 1.0,
                o.c.away_odds > 1.0,
            )
            .order_by(o.c.fetched_at.desc(), o.c.id.desc())
        ).all()
        recorded = conn.execute(
            select(
                r.c.fixture_id,
                r.c.closing_bookmaker,
                r.c.closing_home_odds,
                r.c.closing_draw_odds,
                r.c.closing_away_odds,
            ).where(r.c.fixture_id.in_(part), r.c.closing_bookmaker.in_(books), r.c.closing_home_odds.is_not(None))
        ).all()
        for rank_first, rows in ((0, recorded), (1, snapshots)):  # results' own close first, then the newest
            for x in rows:
                key = (books.index(x[1]), rank_first)
                if x.fixture_id not in best or key < best[x.fixture_id][0]:
                    best[x.fixture_id] = (key, x[2], x[3], x[4], x[1])
    out = pd.DataFrame([(k, *v[1:]) for k, v in best.items()], columns=["fixture_id", *cols]).set_index("fixture_id")
    out[cols[:3]] = out[cols[:3]].astype(float)
    return out


def overdue_pending_bets(conn: Connection, kickoff_before: datetime):
    """Pending bets that may be overdue: their match, or the kick-off they were placed for, before
    `kickoff_before` or at it, or their match moved to a later kick-off. Rows of id, provider_id, status (the
    fixture's), kickoff_time (the fixture's) and kickoff_at_placement; the rule is
    pipeline.betting.settlement.overdue_note."""
    b, f = schema.bets, schema.fixtures
    return conn.execute(
        select(b.c.id, f.c.provider_id, f.c.status, f.c.kickoff_time, b.c.kickoff_at_placement)
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(
            b.c.status == "pending",
            or_(
                f.c.kickoff_time <= kickoff_before,
                b.c.kickoff_at_placement <= kickoff_before,
                f.c.kickoff_time > b.c.kickoff_at_placement,
            ),
        )
    ).all()


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


__all__ = [
    "fixtures_to_check",
    "pending_bets_with_results",
    "settled_bets_contradicting_results",
    "sharp_closing_prices",
    "overdue_pending_bets",
    "fixtures_kicked_off_before",
    "bet_by_id",
]
