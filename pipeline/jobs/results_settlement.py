"""Results settlement (every 30 minutes): record results, settle pending bets, update performance.

Works out from the store what still needs doing: fixtures whose kick-off has passed and that have a pending bet
or an unscored prediction. A bet moves from pending to settled/void exactly once (the UPDATE is conditional on
`status = 'pending'`), so a second run, or one killed half-way, never settles twice.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, bindparam, or_, select, update

from pipeline.store import schema
from pipeline.store import store_batch
from pipeline.betting.performance import refresh_performance
from pipeline.providers.base import FINISHED, VOID_STATUSES, Batch
from pipeline.jobs.runner import JobContext

# Predictions older than this without a result are given up on (a source that never reports them).
RESULT_LOOKBACK = timedelta(days=14)
# A match is not looked up before it can have finished.
MATCH_DURATION = timedelta(minutes=110)


def fixtures_to_check(conn, source: str, now) -> list[tuple[int, str]]:
    f, b, p, r = schema.fixtures, schema.bets, schema.predictions, schema.results
    # Uncorrelated IN subqueries, each evaluated once: correlated EXISTS on bets made SQLite scan every pending
    # bet for every fixture (27 s for 10,000 pending bets, bench/bench_cycle.py).
    pending_bet = f.c.id.in_(select(b.c.fixture_id).where(b.c.status == "pending"))
    unscored = and_(f.c.id.in_(select(p.c.fixture_id)), f.c.id.not_in(select(r.c.fixture_id)),
                    f.c.kickoff_time >= now - RESULT_LOOKBACK)
    q = (select(f.c.id, f.c.provider_id)
         .where(f.c.source == source, f.c.kickoff_time <= now - MATCH_DURATION, or_(pending_bet, unscored))
         .order_by(f.c.kickoff_time))
    return [(row.id, row.provider_id) for row in conn.execute(q)]


def _snapshot_closing_odds(conn, fixture_id: int, bookmaker: str, outcome: str, kickoff) -> float | None:
    """Without a closing price in the result: the last snapshot seen before kick-off, the bet's bookmaker first."""
    o = schema.odds_snapshots
    row = conn.execute(select(o.c[f"{outcome}_odds"]).where(
        o.c.fixture_id == fixture_id, o.c.fetched_at <= kickoff)
        .order_by((o.c.bookmaker == bookmaker).desc(), o.c.fetched_at.desc()).limit(1)).first()
    return row[0] if row else None


def settle_bets(conn, now) -> dict[str, int]:
    """Settle every pending bet whose fixture has a final result. Idempotent."""
    b, r, f = schema.bets, schema.results, schema.fixtures
    rows = conn.execute(
        select(b.c.id, b.c.fixture_id, b.c.bet_outcome, b.c.odds, b.c.stake, b.c.bookmaker, r.c.status,
               r.c.outcome, f.c.kickoff_time, r.c.closing_home_odds, r.c.closing_draw_odds, r.c.closing_away_odds)
        .select_from(b.join(r, r.c.fixture_id == b.c.fixture_id).join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status == "pending")).mappings().all()
    counts = {"bets_won": 0, "bets_lost": 0, "bets_void": 0}
    updates = []
    for bet in rows:
        if bet["status"] == FINISHED and bet["outcome"]:
            won = bet["outcome"] == bet["bet_outcome"]
            values = {"v_status": "settled", "v_result": "win" if won else "loss",
                      "v_profit": round(bet["stake"] * (bet["odds"] - 1), 2) if won else -bet["stake"]}
            counts["bets_won" if won else "bets_lost"] += 1
        elif bet["status"] in VOID_STATUSES:
            values = {"v_status": "void", "v_result": "void", "v_profit": 0.0}
            counts["bets_void"] += 1
        else:
            continue
        closing = bet[f"closing_{bet['bet_outcome']}_odds"] or _snapshot_closing_odds(
            conn, bet["fixture_id"], bet["bookmaker"], bet["bet_outcome"], bet["kickoff_time"])
        updates.append({"b_id": bet["id"], **values, "v_closing": closing,
                        "v_clv": (bet["odds"] / closing - 1) if closing else None})
    if updates:
        # one executemany; still conditional on 'pending', so a bet is settled once whatever runs beside this
        conn.execute(update(b).where(b.c.id == bindparam("b_id"), b.c.status == "pending").values(
            status=bindparam("v_status"), result=bindparam("v_result"), profit_loss=bindparam("v_profit"),
            settled_at=now, closing_odds=bindparam("v_closing"), closing_line_value=bindparam("v_clv")), updates)
    return counts


def run(ctx: JobContext) -> None:
    source = ctx.provider.name
    with ctx.engine.connect() as conn:
        todo = fixtures_to_check(conn, source, ctx.now)
    ctx.count("fixtures_checked", len(todo))
    batch = ctx.provider.results([pid for _, pid in todo], ctx.now) if todo else Batch()
    for problem in batch.problems:
        ctx.log.warning("skipped: %s", problem)
    if batch.problems:
        ctx.count("problems", len(batch.problems))
    # One transaction: results, settlements and metrics land together or not at all.
    with ctx.engine.begin() as conn:
        ctx.count("results_recorded", store_batch(conn, source, batch, ctx.now)["results"])
        for k, v in settle_bets(conn, ctx.now).items():
            ctx.count(k, v)
        refresh_performance(conn, ctx.settings.starting_bankroll, ctx.now)
