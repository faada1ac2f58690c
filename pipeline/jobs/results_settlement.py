"""Results settlement (every 30 minutes): record results, settle pending bets, update performance.

Works out from the store what still needs doing: fixtures whose kick-off has passed and that have a pending bet
or an unscored prediction. A bet moves from pending to settled/void exactly once (the UPDATE is conditional on
`status = 'pending'`), so a second run, or one killed half-way, never settles twice.

No bet stays pending for ever: fixtures the source does not report PENDING_BET_GRACE_HOURS after kick-off are
named in the log, and a bet still without a final result VOID_AFTER_HOURS after kick-off is voided with the
reason in `bets.settlement_note`. `results_settlement.py --void/--settle` settles one by hand
(`settle_by_hand`), recorded as a run
of this job.

Each bet also gets its closing-line value, one definition everywhere (pipeline.odds.fair_clv): `clv` = odds x
the closing line's probability of the outcome with the margin removed by CLV_METHOD - 1. The closing line is the
sharp book's closing price (the first of SHARP_BOOKMAKERS that has one, else the next in reference order, named
in `results.closing_bookmaker`; pipeline.store.queries.closing_prices). `close_ratio_with_margin` = odds /
closing odds - 1 is kept for comparison; it is not CLV (a bet at the closing price itself scores 0 on it, yet
loses the margin).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import and_, bindparam, or_, select, update

from pipeline.betting.performance import has_performance, refresh_performance
from pipeline.jobs.runner import EXIT_SOFTWARE, JobContext, JobFailed
from pipeline.odds import fair_clv, implied_probabilities
from pipeline.prices import PriceRules
from pipeline.providers.base import FINISHED, VOID_STATUSES, Batch, clean_text
from pipeline.store import closing_prices, schema, store_batch

# Predictions older than this without a result are given up on (a source that never reports them).
RESULT_LOOKBACK = timedelta(days=14)
# A match is not looked up before it can have finished.
MATCH_DURATION = timedelta(minutes=110)


def fixtures_to_check(conn, source: str, now) -> list[tuple[int, str]]:
    f, b, p, r = schema.fixtures, schema.bets, schema.predictions, schema.results
    # Uncorrelated IN subqueries, each evaluated once: correlated EXISTS on bets made SQLite scan every pending
    # bet for every fixture (27 s for 10,000 pending bets, bench/bench_cycle.py).
    pending_bet = f.c.id.in_(select(b.c.fixture_id).where(b.c.status == "pending"))
    unscored = and_(
        f.c.id.in_(select(p.c.fixture_id)),
        f.c.id.not_in(select(r.c.fixture_id)),
        f.c.kickoff_time >= now - RESULT_LOOKBACK,
    )
    q = (
        select(f.c.id, f.c.provider_id)
        .where(f.c.source == source, f.c.kickoff_time <= now - MATCH_DURATION, or_(pending_bet, unscored))
        .order_by(f.c.kickoff_time)
    )
    return [(row.id, row.provider_id) for row in conn.execute(q)]


def settle_bets(conn, now, rules: PriceRules | None = None) -> dict[str, int]:
    """Settle every pending bet whose fixture has a final result, with its closing-line value. Idempotent."""
    rules = rules or PriceRules()
    b, r = schema.bets, schema.results
    rows = (
        conn.execute(
            select(b.c.id, b.c.fixture_id, b.c.bet_outcome, b.c.odds, b.c.stake, r.c.status, r.c.outcome)
            .select_from(b.join(r, r.c.fixture_id == b.c.fixture_id))
            .where(b.c.status == "pending")
        )
        .mappings()
        .all()
    )
    counts = {"bets_won": 0, "bets_lost": 0, "bets_void": 0}
    rows = [x for x in rows if (x["status"] == FINISHED and x["outcome"]) or x["status"] in VOID_STATUSES]
    if not rows:
        return counts
    close = closing_prices(conn, [x["fixture_id"] for x in rows], rules.reference)
    fair = dict(
        zip(
            close.index,
            implied_probabilities(close[["close_home", "close_draw", "close_away"]].to_numpy(float), rules.clv_method),
        )
    )
    updates = []
    for bet in rows:
        if bet["status"] == FINISHED:
            won = bet["outcome"] == bet["bet_outcome"]
            values = {
                "v_status": "settled",
                "v_result": "win" if won else "loss",
                "v_profit": round(bet["stake"] * (bet["odds"] - 1), 2) if won else -bet["stake"],
            }
            counts["bets_won" if won else "bets_lost"] += 1
        else:
            values = {"v_status": "void", "v_result": "void", "v_profit": 0.0}
            counts["bets_void"] += 1
        k = ("home", "draw", "away").index(bet["bet_outcome"])
        closing, clv = None, None
        if bet["fixture_id"] in close.index:
            closing = float(close.loc[bet["fixture_id"], f"close_{bet['bet_outcome']}"])
            p = fair[bet["fixture_id"]][k]
            clv = float(fair_clv(bet["odds"], p)) if np.isfinite(p) else None
        updates.append(
            {
                "b_id": bet["id"],
                **values,
                "v_closing": closing,
                "v_clv": clv,
                "v_ratio": (bet["odds"] / closing - 1) if closing else None,
            }
        )
    # one executemany; still conditional on 'pending', so a bet is settled once whatever runs beside this
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
        updates,
    )
    return counts


def void_overdue_bets(conn, now, hours: float) -> int:
    """Void pending bets whose match has had no final result for `hours` after kick-off, the reason recorded."""
    b, f = schema.bets, schema.fixtures
    rows = conn.execute(
        select(b.c.id, f.c.provider_id, f.c.status)
        .select_from(b.join(f, f.c.id == b.c.fixture_id))
        .where(b.c.status == "pending", f.c.kickoff_time < now - timedelta(hours=hours))
    ).all()
    updates = [
        {
            "b_id": r.id,
            "v_note": f"void: no final result {hours:g} h after kick-off (fixture {r.provider_id} "
            f"is {r.status} at the source, or not reported)",
        }
        for r in rows
    ]
    if updates:
        conn.execute(
            update(b)
            .where(b.c.id == bindparam("b_id"), b.c.status == "pending")
            .values(status="void", result="void", profit_loss=0.0, settled_at=now, settlement_note=bindparam("v_note")),
            updates,
        )
    return len(updates)


def _report_missing(ctx: JobContext, todo: list[tuple[int, str]], batch: Batch) -> None:
    """Name the fixtures the source did not report although their grace period after kick-off has passed."""
    returned = {m.provider_id for m in batch.matches}
    missing = [fid for fid, pid in todo if pid not in returned]
    if not missing:
        return
    f = schema.fixtures
    late = ctx.now - timedelta(hours=ctx.settings.pending_bet_grace_hours)
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(f.c.provider_id, f.c.home_team, f.c.away_team, f.c.kickoff_time)
            .where(f.c.id.in_(missing), f.c.kickoff_time < late)
            .order_by(f.c.kickoff_time)
        ).all()
    for r in rows[:20]:
        ctx.log.warning(
            "not found at the source: fixture %s (%s v %s, kick-off %s UTC); its bets stay pending and "
            "are voided %g h after kick-off",
            r.provider_id,
            r.home_team,
            r.away_team,
            f"{r.kickoff_time:%Y-%m-%d %H:%M}",
            ctx.settings.void_after_hours,
        )
    if len(rows) > 20:
        ctx.log.warning("... and %d more fixtures not found at the source", len(rows) - 20)
    if rows:
        ctx.count("fixtures_not_found", len(rows))


def run(
    ctx: JobContext,
    void: int | None = None,
    settle: int | None = None,
    result: str | None = None,
    reason: str | None = None,
) -> None:
    """The settlement job; with `void` or `settle` (and `result`, `reason`), one bet settled by hand instead."""
    if void is not None or settle is not None:
        settle_by_hand(ctx, void if void is not None else settle, "void" if void is not None else result, reason or "")
        return
    source = ctx.provider.name
    with ctx.engine.connect() as conn:
        todo = fixtures_to_check(conn, source, ctx.now)
    ctx.count("fixtures_checked", len(todo))
    batch = ctx.provider.results([pid for _, pid in todo], ctx.now) if todo else Batch()
    for problem in batch.problems:
        ctx.log.warning("skipped: %s", problem)
    if batch.problems:
        ctx.count("problems", len(batch.problems))
    _report_missing(ctx, todo, batch)
    rules = PriceRules.from_settings(ctx.settings)
    # One transaction: results, settlements and metrics land together or not at all.
    with ctx.engine.begin() as conn:
        recorded = store_batch(conn, source, batch, ctx.now, rules.reference)["results"]
        ctx.count("results_recorded", recorded)
        settled = settle_bets(conn, ctx.now, rules)
        for k, v in settled.items():
            ctx.count(k, v)
        voided = void_overdue_bets(conn, ctx.now, ctx.settings.void_after_hours)
        if voided:
            ctx.log.warning(
                "%d bets voided: no final result %g h after kick-off (reason in bets.settlement_note)",
                voided,
                ctx.settings.void_after_hours,
            )
            ctx.count("bets_void_overdue", voided)
        # performance_daily summarises results and settled bets: recomputed when they change (most runs of
        # this 30-minute job find nothing, and the recomputation grows with the history)
        if recorded or any(settled.values()) or voided or not has_performance(conn):
            refresh_performance(conn, ctx.settings.starting_bankroll, ctx.now)


def settle_by_hand(ctx: JobContext, bet_id: int, result: str, reason: str) -> None:
    """Settle (win/loss) or void one pending bet by hand; recorded in the bet's settlement_note and job_runs."""
    b = schema.bets
    with ctx.engine.begin() as conn:
        bet = conn.execute(select(b.c.id, b.c.status, b.c.result, b.c.stake, b.c.odds).where(b.c.id == bet_id)).first()
        if bet is None:
            raise JobFailed(f"no bet with id {bet_id}; nothing changed", EXIT_SOFTWARE)
        if bet.status != "pending":
            raise JobFailed(f"bet {bet_id} is already {bet.status} ({bet.result}); nothing changed", EXIT_SOFTWARE)
        profit = {"win": round(bet.stake * (bet.odds - 1), 2), "loss": -bet.stake, "void": 0.0}[result]
        reason = clean_text(reason)
        note = f"voided by hand: {reason}" if result == "void" else f"settled by hand as {result}: {reason}"
        done = conn.execute(
            update(b)
            .where(b.c.id == bet_id, b.c.status == "pending")
            .values(
                status="void" if result == "void" else "settled",
                result=result,
                profit_loss=profit,
                settled_at=ctx.now,
                settlement_note=note,
            )
        ).rowcount
        if not done:  # settled by the cron job between our read and our write
            raise JobFailed(f"bet {bet_id} was settled meanwhile; nothing changed", EXIT_SOFTWARE)
        refresh_performance(conn, ctx.settings.starting_bankroll, ctx.now)
    ctx.log.info("bet %d %s (profit/loss %.2f)", bet_id, note, profit)
    ctx.count(f"bets_{'voided' if result == 'void' else 'settled'}_by_hand", 1)
