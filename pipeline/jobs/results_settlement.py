"""Results settlement (every 30 minutes): record results, settle pending bets, update performance.

Works out from the store what still needs doing: fixtures whose kick-off has passed and that have a pending bet
or an unscored prediction. A bet moves from pending to settled/void exactly once (the UPDATE in
pipeline.store.settlement is conditional on `status = 'pending'`), so a second run, or one killed half-way, never
settles twice. What a result means for a bet (status, profit, CLV) is decided in pipeline.betting.settlement.

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

from pipeline.betting.ledger import counted
from pipeline.betting.performance import has_performance, refresh_performance
from pipeline.betting.settlement import closing_line_value, settle_as, settlement_of
from pipeline.jobs.runner import EXIT_SOFTWARE, JobContext, JobFailed
from pipeline.outcomes import OUTCOMES
from pipeline.prices import PriceRules
from pipeline.providers.base import Batch, clean_text
from pipeline.store import closing_prices, store_batch
from pipeline.store import settlement as store
from pipeline.store.ledger import close_unplaced, mark_missed

# Predictions older than this without a result are given up on (a source that never reports them).
RESULT_LOOKBACK = timedelta(days=14)
# A match is not looked up before it can have finished.
MATCH_DURATION = timedelta(minutes=110)


def fixtures_to_check(conn, source: str, now) -> list[tuple[int, str]]:
    return store.fixtures_to_check(conn, source, now, RESULT_LOOKBACK, MATCH_DURATION)


def settle_bets(conn, now, rules: PriceRules | None = None, ledger: str = "paper") -> dict[str, int]:
    """Settle every pending bet whose fixture has a final result, with its closing-line value, at the price and
    stake it counts at under LEDGER (pipeline.betting.ledger.counted; an unplaced bet under LEDGER=confirmed is
    left to close_unplaced). Idempotent."""
    rules = rules or PriceRules()
    counts = {"bets_won": 0, "bets_lost": 0, "bets_void": 0}
    todo = []
    for row in store.pending_bets_with_results(conn):
        c = counted(ledger, row["ledger_status"], row["odds"], row["stake"], row["taken_odds"], row["taken_stake"])
        if c is None:
            continue
        bet = {**row, "odds": c.odds, "stake": c.stake}
        done = settlement_of(bet["status"], bet["outcome"], bet["bet_outcome"], bet["stake"], bet["odds"])
        if done is not None:
            todo.append((bet, done))
            counts[{"win": "bets_won", "loss": "bets_lost", "void": "bets_void"}[done.result]] += 1
    if not todo:
        return counts
    close = closing_prices(conn, [bet["fixture_id"] for bet, _ in todo], rules.reference)
    triples = close.reindex([bet["fixture_id"] for bet, _ in todo])[[f"close_{o}" for o in OUTCOMES]]
    clv = closing_line_value(
        [bet["odds"] for bet, _ in todo],
        triples.to_numpy(float),
        [bet["bet_outcome"] for bet, _ in todo],
        rules.clv_method,
    )
    rows = []
    for (bet, done), value in zip(todo, clv):
        closing = (
            float(close.loc[bet["fixture_id"], f"close_{bet['bet_outcome']}"])
            if bet["fixture_id"] in close.index
            else None
        )
        rows.append(
            {
                "id": bet["id"],
                "status": done.status,
                "result": done.result,
                "profit_loss": done.profit,
                "closing_odds": closing,
                "clv": float(value) if np.isfinite(value) else None,
                "close_ratio_with_margin": (bet["odds"] / closing - 1) if closing else None,
            }
        )
    # one executemany; still conditional on 'pending', so a bet is settled once whatever runs beside this
    store.write_settlements(conn, rows, now)
    return counts


def void_overdue_bets(conn, now, hours: float) -> int:
    """Void pending bets whose match has had no final result for `hours` after kick-off, the reason recorded."""
    notes = {
        r.id: f"void: no final result {hours:g} h after kick-off (fixture {r.provider_id} "
        f"is {r.status} at the source, or not reported)"
        for r in store.overdue_pending_bets(conn, now - timedelta(hours=hours))
    }
    store.void_bets(conn, notes, now)
    return len(notes)


def _report_missing(ctx: JobContext, todo: list[tuple[int, str]], batch: Batch) -> None:
    """Name the fixtures the source did not report although their grace period after kick-off has passed."""
    returned = {m.provider_id for m in batch.matches}
    missing = [fid for fid, pid in todo if pid not in returned]
    if not missing:
        return
    late = ctx.now - timedelta(hours=ctx.settings.pending_bet_grace_hours)
    with ctx.engine.connect() as conn:
        rows = store.fixtures_kicked_off_before(conn, missing, late)
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
    bet_id = void if void is not None else settle
    if bet_id is not None:
        settle_by_hand(ctx, bet_id, "void" if void is not None else (result or ""), reason or "")
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
        unplaced = close_ledger(ctx, conn)
        settled = settle_bets(conn, ctx.now, rules, ctx.settings.ledger)
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
        if recorded or any(settled.values()) or voided or unplaced or not has_performance(conn):
            refresh_performance(conn, ctx.settings.starting_bankroll, ctx.now, ctx.settings.ledger)


def close_ledger(ctx: JobContext, conn) -> int:
    """Under LEDGER=confirmed: recommendations still unplaced at kick-off become missed, and skipped and missed
    bets are voided (they count nowhere). Returns how many were voided."""
    if ctx.settings.ledger != "confirmed":
        return 0
    missed = mark_missed(conn, ctx.now)
    if missed:
        ctx.log.info("%d recommendations not placed by kick-off marked missed: %s", len(missed), missed[:20])
        ctx.count("bets_missed", len(missed))
    closed = close_unplaced(conn, ctx.now)
    if closed:
        ctx.count("bets_unplaced_closed", closed)
    return closed


def settle_by_hand(ctx: JobContext, bet_id: int, result: str, reason: str) -> None:
    """Settle (win/loss) or void one pending bet by hand; recorded in the bet's settlement_note and job_runs."""
    with ctx.engine.begin() as conn:
        bet = store.bet_by_id(conn, bet_id)
        if bet is None:
            raise JobFailed(f"no bet with id {bet_id}; nothing changed", EXIT_SOFTWARE)
        if bet.status != "pending":
            raise JobFailed(f"bet {bet_id} is already {bet.status} ({bet.result}); nothing changed", EXIT_SOFTWARE)
        c = counted(ctx.settings.ledger, bet.ledger_status, bet.odds, bet.stake, bet.taken_odds, bet.taken_stake)
        if c is None:
            raise JobFailed(
                f"bet {bet_id} is {bet.ledger_status}, not placed, and counts nowhere under LEDGER=confirmed; "
                "record it with bets.py place first; nothing changed",
                EXIT_SOFTWARE,
            )
        done = settle_as(result, c.stake, c.odds)
        reason = clean_text(reason)
        note = f"voided by hand: {reason}" if result == "void" else f"settled by hand as {result}: {reason}"
        if not store.settle_pending_bet(conn, bet_id, done.status, done.result, done.profit, ctx.now, note):
            # settled by the cron job between our read and our write
            raise JobFailed(f"bet {bet_id} was settled meanwhile; nothing changed", EXIT_SOFTWARE)
        refresh_performance(conn, ctx.settings.starting_bankroll, ctx.now, ctx.settings.ledger)
    ctx.log.info("bet %d %s (profit/loss %.2f)", bet_id, note, done.profit)
    ctx.count(f"bets_{'voided' if result == 'void' else 'settled'}_by_hand", 1)
