"""Results settlement (every 30 minutes): record results, settle pending bets, update performance.

Works out from the store what still needs doing: fixtures whose kick-off has passed and that have a pending bet
or an unscored prediction. A bet moves from pending to settled/void exactly once (the UPDATE in
pipeline.store.bets is conditional on `status = 'pending'`), so a second run, or one killed half-way, never
settles twice. What a result means for a bet (status, profit, CLV) is decided in pipeline.betting.settlement.

No bet stays pending for ever, and none is voided while its match may still be played (the rules are
pipeline.betting.settlement's): fixtures the source does not report PENDING_BET_GRACE_HOURS after kick-off are
named in the log; a postponed match's bets stay pending while it may kick off within VOID_AFTER_HOURS of the
kick-off they were placed for (a postponed fixture with a pending bet is looked up again each run, so its new date
and its result arrive); a bet that can no longer be settled is voided with the reason in `bets.settlement_note`.
A result corrected at the source after settlement settles its bets again, old and new result in the note, with a
warning line. `results_settlement.py --void/--settle` settles one by hand (`settle_by_hand`), recorded as a run
of this job.

Each bet also gets its closing-line value, one definition everywhere (pipeline.odds.fair_clv): `clv` = odds x
the sharp closing line's probability of the outcome with the margin removed by CLV_METHOD - 1. The sharp close is
the closing price of the first of SHARP_BOOKMAKERS that has one (pipeline.store.settlement.sharp_closing_prices);
without one `clv`, `closing_odds` and `close_ratio_with_margin` stay NULL (no market average or pre-match price
stands in), as they do for a void bet. `close_ratio_with_margin` = odds / closing odds - 1 is kept for comparison;
it is not CLV (a bet at the closing price itself scores 0 on it, yet loses the margin).

Over/under and Asian handicap bets (pipeline.betting.bet_results): settled on the 90-minute score (win, half_win,
push, half_loss, loss), graded against the sharp close AT THE BET'S LINE (pipeline.store.market_odds); without one
the note says why ("no close at the bet's line", "no sharp close") and the CLV columns stay NULL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np

from pipeline.betting.bet_results import (
    RESULT_COUNTS,
    Grade,
    correction_for,
    grade_two_way,
    selection_of,
    settlement_for,
)
from pipeline.betting.ledger import counted
from pipeline.betting.performance import has_performance, refresh_performance
from pipeline.betting.settlement import (
    VOID,
    close_ratio_with_margin,
    closing_line_value,
    moved_too_far,
    overdue_note,
    settle_as,
    settled_note,
)
from pipeline.config import Settings
from pipeline.jobs.runner import EXIT_SOFTWARE, JobContext, JobFailed
from pipeline.outcomes import OUTCOMES
from pipeline.prices import PriceRules
from pipeline.providers.base import Batch, clean_text
from pipeline.store import bets as bet_store
from pipeline.store import settlement as store
from pipeline.store import store_batch
from pipeline.store.ledger import close_unplaced, mark_missed
from pipeline.store.market_odds import closing_market_prices

# Predictions older than this without a result are given up on (a source that never reports them).
RESULT_LOOKBACK = timedelta(days=14)
# A match is not looked up before it can have finished.
MATCH_DURATION = timedelta(minutes=110)


def fixtures_to_check(conn, source: str, now) -> list[tuple[int, str]]:
    return store.fixtures_to_check(conn, source, now, RESULT_LOOKBACK, MATCH_DURATION)


def settle_bets(
    conn, now, rules: PriceRules | None = None, void_after_hours: float | None = None, ledger: str = "paper"
) -> dict[str, int]:
    """Settle every pending bet whose fixture has a final result, at the price and stake it counts at under
    LEDGER (pipeline.betting.ledger.counted; an unplaced bet under LEDGER=confirmed is left to close_unplaced),
    with its closing-line value against the sharp close (none without one; none for a void bet). A match played
    more than `void_after_hours` after the kick-off its bet was placed for voids it (the postponement rule,
    pipeline.betting.settlement). Two-way bets (over/under, Asian handicap) are settled on the score and graded
    at their own line (pipeline.betting.bet_results). Idempotent."""
    rules = rules or PriceRules()
    hours = Settings.void_after_hours if void_after_hours is None else void_after_hours
    counts = {"bets_won": 0, "bets_lost": 0, "bets_void": 0}
    todo = []
    for row in store.pending_bets_with_results(conn):
        c = counted(ledger, row.ledger_status, row.odds, row.stake, row.taken_odds, row.taken_stake)
        if c is None:
            continue
        bet = replace(row, odds=c.odds, stake=c.stake)
        done = settlement_for(
            bet.market,
            bet.line,
            bet.bet_outcome,
            bet.match_status,
            bet.home_goals,
            bet.away_goals,
            bet.outcome,
            bet.stake,
            bet.odds,
        )
        if done is None:
            continue
        note = moved_too_far(bet.kickoff_at_placement, bet.kickoff_time, hours)
        if note is not None:
            done = settle_as(VOID, bet.stake, bet.odds)
        else:
            note = settled_note(bet.match_status, bet.home_goals, bet.away_goals, bet.outcome)
        todo.append((bet, done, note))
        key = RESULT_COUNTS[done.result]
        counts[key] = counts.get(key, 0) + 1
    if not todo:
        return counts
    graded = [(bet, done) for bet, done, _ in todo if done.result != VOID]
    one_x_two = [(bet, done) for bet, done in graded if bet.market == "1X2"]
    close = store.sharp_closing_prices(conn, [bet.fixture_id for bet, _ in one_x_two], rules.sharp)
    triples = close.reindex([bet.fixture_id for bet, _ in one_x_two])[[f"close_{o}" for o in OUTCOMES]]
    clv = closing_line_value(
        [bet.odds for bet, _ in one_x_two],
        triples.to_numpy(float),
        [bet.bet_outcome for bet, _ in one_x_two],
        rules.clv_method,
    )
    value_of = {bet.id: float(v) for (bet, _), v in zip(one_x_two, clv) if np.isfinite(v)}
    grades = two_way_grades(conn, [bet for bet, _ in graded if bet.market != "1X2"], rules)
    rows = []
    for bet, done, note in todo:
        closing = None
        if bet.market != "1X2":
            g = grades.get(bet.id)
            closing = g.closing_odds if g else None
            if g is not None and g.reason:
                note = f"{note}; {g.reason}"
            value_of[bet.id] = g.clv if g and g.clv is not None else None  # type: ignore[assignment]
        elif done.result != VOID and bet.fixture_id in close.index:
            closing = float(close.loc[bet.fixture_id, f"close_{bet.bet_outcome}"])
        rows.append(
            {
                "id": bet.id,
                "status": done.status,
                "result": done.result,
                "profit_loss": done.profit,
                "closing_odds": closing,
                "clv": value_of.get(bet.id),
                "close_ratio_with_margin": close_ratio_with_margin(bet.odds, closing) if closing else None,
                "settlement_note": note,
            }
        )
    # one executemany; still conditional on 'pending', so a bet is settled once whatever runs beside this
    bet_store.write_settlements(conn, rows, now)
    return counts


def two_way_grades(conn, bets: list, rules: PriceRules) -> dict[int, Grade]:
    """Each two-way bet's grade (bet id -> CLV, closing odds, reason) against the sharp close at its line."""
    if not bets:
        return {}
    closes = closing_market_prices(conn, sorted({b.fixture_id for b in bets}))
    grades = grade_two_way(
        [(b.odds, selection_of(b.market, b.line, b.bet_outcome)) for b in bets],
        [closes.get(b.fixture_id, []) for b in bets],
        rules.sharp,
        rules.clv_method,
    )
    return {b.id: g for b, g in zip(bets, grades)}


def void_overdue_bets(conn, now, hours: float) -> int:
    """Void pending bets that can no longer be settled (pipeline.betting.settlement.overdue_note: moved more than
    `hours` after the kick-off they were placed for, postponed without a new date within `hours`, or without a
    final result `hours` after kick-off), the reason recorded."""
    notes = {}
    for r in store.overdue_pending_bets(conn, now - timedelta(hours=hours)):
        note = overdue_note(r.kickoff_at_placement, r.kickoff_time, r.status, r.provider_id, now, hours)
        if note is not None:
            notes[r.id] = note
    bet_store.void_bets(conn, notes, now)
    return len(notes)


def resettle_corrected(conn, now, log, ledger: str = "paper") -> int:
    """Settle again the bets whose match's result changed after they were settled (a corrected score, a match
    annulled), at the price and stake they count at under LEDGER, each with a warning line; the note keeps the
    old and the new result. Returns how many."""
    n = 0
    for row in store.settled_bets_contradicting_results(conn):
        c = counted(ledger, row["ledger_status"], row["odds"], row["stake"], row["taken_odds"], row["taken_stake"])
        if c is None:
            continue  # not placed under LEDGER=confirmed: it counts nowhere
        bet = {**row, "odds": c.odds, "stake": c.stake}
        fix = correction_for(bet, now)
        if fix is None:
            continue
        done = fix.settlement
        if bet_store.resettle(conn, bet, done.status, done.result, done.profit, fix.note, now):
            log.warning("bet %d re-settled: %s", bet["id"], fix.note.split("; re-settled ", 1)[-1])
            n += 1
    return n


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
        settled = settle_bets(conn, ctx.now, rules, ctx.settings.void_after_hours, ctx.settings.ledger)
        for k, v in settled.items():
            ctx.count(k, v)
        corrected = resettle_corrected(conn, ctx.now, ctx.log, ctx.settings.ledger)
        if corrected:
            ctx.count("bets_resettled", corrected)
        voided = void_overdue_bets(conn, ctx.now, ctx.settings.void_after_hours)
        if voided:
            ctx.log.warning(
                "%d bets voided: postponed or moved beyond, or no final result within, %g h of kick-off "
                "(reason in bets.settlement_note)",
                voided,
                ctx.settings.void_after_hours,
            )
            ctx.count("bets_void_overdue", voided)
        # performance_daily summarises results and settled bets: recomputed when they change (most runs of
        # this 30-minute job find nothing, and the recomputation grows with the history)
        if recorded or any(settled.values()) or voided or unplaced or corrected or not has_performance(conn):
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
        if not bet_store.settle_pending_bet(conn, bet_id, done.status, done.result, done.profit, ctx.now, note):
            # settled by the cron job between our read and our write
            raise JobFailed(f"bet {bet_id} was settled meanwhile; nothing changed", EXIT_SOFTWARE)
        refresh_performance(conn, ctx.settings.starting_bankroll, ctx.now, ctx.settings.ledger)
    ctx.log.info("bet %d %s (profit/loss %.2f)", bet_id, note, done.profit)
    ctx.count(f"bets_{'voided' if result == 'void' else 'settled'}_by_hand", 1)
