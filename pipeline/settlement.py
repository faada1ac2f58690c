"""Results settlement (every 30 minutes): record results, settle pending bets, update performance.

Works out from the store what still needs doing: fixtures whose kick-off has passed and that have a pending bet
or an unscored prediction. A bet moves from pending to settled/void exactly once (the UPDATE is conditional on
`status = 'pending'`), so a second run, or one killed half-way, never settles twice.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, exists, or_, select, update

from pipeline import schema as s
from pipeline.ingest import store_batch
from pipeline.performance import refresh_performance
from pipeline.providers.base import FINISHED, VOID_STATUSES, Batch
from pipeline.runner import JobContext

# Predictions older than this without a result are given up on (a source that never reports them).
RESULT_LOOKBACK = timedelta(days=14)
# A match is not looked up before it can have finished.
MATCH_DURATION = timedelta(minutes=110)


def fixtures_to_check(conn, source: str, now) -> list[tuple[int, str]]:
    f, b, p, r = s.fixtures, s.bets, s.predictions, s.results
    pending_bet = exists().where(b.c.fixture_id == f.c.id, b.c.status == "pending")
    predicted = exists().where(p.c.fixture_id == f.c.id)
    has_final = exists().where(r.c.fixture_id == f.c.id)
    q = (select(f.c.id, f.c.provider_id)
         .where(f.c.source == source, f.c.kickoff_time <= now - MATCH_DURATION,
                or_(pending_bet, and_(predicted, ~has_final, f.c.kickoff_time >= now - RESULT_LOOKBACK)))
         .order_by(f.c.kickoff_time))
    return [(row.id, row.provider_id) for row in conn.execute(q)]


def _closing_odds(conn, fixture_id: int, bookmaker: str, outcome: str, kickoff) -> float | None:
    """The bet's closing price: the result's closing odds, else the last snapshot seen before kick-off."""
    r = conn.execute(select(s.results).where(s.results.c.fixture_id == fixture_id)).mappings().first()
    if r and r[f"closing_{outcome}_odds"]:
        return r[f"closing_{outcome}_odds"]
    o = s.odds_snapshots
    row = conn.execute(select(o.c[f"{outcome}_odds"]).where(
        o.c.fixture_id == fixture_id, o.c.fetched_at <= kickoff)
        .order_by((o.c.bookmaker == bookmaker).desc(), o.c.fetched_at.desc()).limit(1)).first()
    return row[0] if row else None


def settle_bets(conn, now) -> dict[str, int]:
    """Settle every pending bet whose fixture has a final result. Idempotent."""
    b, r, f = s.bets, s.results, s.fixtures
    rows = conn.execute(
        select(b.c.id, b.c.fixture_id, b.c.bet_outcome, b.c.odds, b.c.stake, b.c.bookmaker, r.c.status,
               r.c.outcome, f.c.kickoff_time)
        .select_from(b.join(r, r.c.fixture_id == b.c.fixture_id).join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status == "pending")).mappings().all()
    counts = {"bets_won": 0, "bets_lost": 0, "bets_void": 0}
    for bet in rows:
        if bet["status"] == FINISHED and bet["outcome"]:
            won = bet["outcome"] == bet["bet_outcome"]
            values = {"status": "settled", "result": "win" if won else "loss",
                      "profit_loss": round(bet["stake"] * (bet["odds"] - 1), 2) if won else -bet["stake"]}
            counts["bets_won" if won else "bets_lost"] += 1
        elif bet["status"] in VOID_STATUSES:
            values = {"status": "void", "result": "void", "profit_loss": 0.0}
            counts["bets_void"] += 1
        else:
            continue
        closing = _closing_odds(conn, bet["fixture_id"], bet["bookmaker"], bet["bet_outcome"],
                                bet["kickoff_time"])
        values.update(settled_at=now, closing_odds=closing,
                      closing_line_value=(bet["odds"] / closing - 1) if closing else None)
        conn.execute(update(b).where(b.c.id == bet["id"], b.c.status == "pending").values(**values))
    return counts


def run_settlement(ctx: JobContext) -> None:
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
