"""production/bets.py: the ledger of what was really placed, a click group over the store (pipeline.store.ledger).

`list` the open recommendations (newest first, each with its minimum acceptable price), `place BET_ID --odds X
[--stake S] [--bookmaker B]` what you really got, `skip BET_ID [--reason TEXT]`, `show BET_ID`. Each command runs
through the job runner (settings, store, exit codes, LOG_DIR/bets.log, a `job_runs` row as its record) without a
job lock: each change is one transaction that repeats the state it expects, so it is safe beside running jobs and
beside a second copy of itself. A refused change (an unknown bet, one already placed, skipped, missed or settled) is
one line on stderr and exit 70, nothing changed; a bad value is a bad command line, exit 2.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import click

from pipeline.betting.ledger import min_acceptable_odds, slippage
from pipeline.bookmakers import canonical, is_known
from pipeline.errors import ConfigError, JobFailed
from pipeline.jobs.logs import write_stdout
from pipeline.jobs.runner import JobContext, parse_now, run_job
from pipeline.store.ledger import (
    LedgerBet,
    get_bet,
    open_recommendations,
    record_placement,
    record_skip,
)

JOB = "bets"
MAX_ODDS = 1000.0


def _effective_min(bet: LedgerBet, min_edge: float) -> float | None:
    """The stored minimum acceptable price; for a bet stored before it existed, the current MIN_EDGE's."""
    return bet.min_odds if bet.min_odds is not None else min_acceptable_odds(bet.fair_prob, min_edge)


def _price(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def list_lines(bets: list[LedgerBet], min_edge: float) -> list[str]:
    if not bets:
        return ["no open recommendations"]
    rows = [
        (
            str(b.id),
            f"{b.kickoff:%Y-%m-%d %H:%M}",
            b.league,
            b.match,
            b.bet_outcome,
            b.bookmaker,
            _price(b.odds),
            _price(_effective_min(b, min_edge)),
            f"{b.stake:.2f}",
            f"{b.edge:+.1%}",
        )
        for b in bets
    ]
    head = ("id", "kick-off UTC", "league", "match", "outcome", "bookmaker", "price", "min", "stake", "EV")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {0, 6, 7, 8, 9}

    def fmt(r):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    tail = (
        f"{len(bets)} open recommendation{'s' if len(bets) != 1 else ''}, newest first; min = the lowest price "
        "that still clears MIN_EDGE. Record yours: bets.py place ID --odds PRICE [--stake S] [--bookmaker B]"
    )
    return [fmt(head), *(fmt(r) for r in rows), tail]


def show_lines(bet: LedgerBet, min_edge: float) -> list[str]:
    lines = [
        f"bet {bet.id}: {bet.bet_outcome} on {bet.match} ({bet.league}), kick-off {bet.kickoff:%Y-%m-%d %H:%M} UTC",
        f"recommended {bet.recommended_at:%Y-%m-%d %H:%M} UTC: {bet.odds:.2f} with {bet.bookmaker}, stake "
        f"{bet.stake:.2f}, EV {bet.edge:+.1%}, minimum acceptable price {_price(_effective_min(bet, min_edge))}",
        f"fair probability: {'-' if bet.fair_prob is None else f'{bet.fair_prob:.4f}'} ({bet.fair_source or '-'})",
        f"ledger: {bet.ledger_status}"
        + (f" at {bet.ledger_at:%Y-%m-%d %H:%M} UTC" if bet.ledger_at else "")
        + (f" ({bet.ledger_note})" if bet.ledger_note else ""),
    ]
    if bet.taken_odds is not None:
        lines.append(
            f"taken: {bet.taken_odds:.2f} x {bet.taken_stake:.2f} with {bet.taken_bookmaker} "
            f"(slippage {slippage(bet.taken_odds, bet.odds):+.1%})"
        )
    settled = f"status: {bet.status}" + (f", {bet.result}" if bet.result else "")
    if bet.profit_loss is not None:
        settled += f", profit {bet.profit_loss:+.2f}"
    if bet.clv is not None:
        settled += f", CLV {bet.clv:+.1%}"
    if bet.settlement_note:
        settled += f" ({bet.settlement_note})"
    return [*lines, settled]


def run_list(ctx: JobContext) -> None:
    with ctx.engine.connect() as conn:
        bets = open_recommendations(conn)
    ctx.count("open", len(bets))
    write_stdout("\n".join(list_lines(bets, ctx.settings.min_edge)))


def run_show(ctx: JobContext, *, bet_id: int) -> None:
    with ctx.engine.connect() as conn:
        bet = get_bet(conn, bet_id)
    if bet is None:
        raise JobFailed(f"no bet with id {bet_id}")
    write_stdout("\n".join(show_lines(bet, ctx.settings.min_edge)))


def run_place(
    ctx: JobContext, *, bet_id: int, odds: float, stake: float | None, bookmaker: str | None, note: str | None
) -> None:
    book = None if bookmaker is None else (canonical(bookmaker) if is_known(bookmaker) else bookmaker)
    _, bet = record_placement(ctx.engine, bet_id, odds=odds, stake=stake, bookmaker=book, now=ctx.now, note=note)
    ctx.count("placed")
    assert bet.taken_odds is not None and bet.taken_stake is not None
    min_edge = ctx.settings.min_edge
    floor = _effective_min(bet, min_edge)
    if floor is not None and odds < floor - 1e-9:
        ev = f"EV {bet.fair_prob * odds - 1:+.1%} at this price" if bet.fair_prob is not None else "below"
        ctx.log.warning(
            "bet %d placed at %.2f, below its minimum acceptable price %.2f (%s, under MIN_EDGE %.1f%%): "
            "recorded as placed",
            bet.id,
            odds,
            floor,
            ev,
            100 * min_edge,
        )
    lines = [
        f"bet {bet.id} placed: {bet.bet_outcome} on {bet.match} (kick-off {bet.kickoff:%Y-%m-%d %H:%M} UTC) at "
        f"{bet.taken_odds:.2f} x {bet.taken_stake:.2f} with {bet.taken_bookmaker}; recommended {bet.odds:.2f} x "
        f"{bet.stake:.2f} with {bet.bookmaker}, slippage {slippage(bet.taken_odds, bet.odds):+.1%}"
    ]
    if ctx.settings.ledger == "paper":
        lines.append(
            "LEDGER=paper: settlement and the report count the recommendation; LEDGER=confirmed counts what you took"
        )
    write_stdout("\n".join(lines))


def run_skip(ctx: JobContext, *, bet_id: int, reason: str | None) -> None:
    _, bet = record_skip(ctx.engine, bet_id, reason=reason, now=ctx.now)
    ctx.count("skipped")
    write_stdout(
        f"bet {bet.id} skipped: {bet.bet_outcome} on {bet.match} at {bet.odds:.2f} with {bet.bookmaker}"
        + (f" ({reason})" if reason else "")
    )


def _run(obj: dict, func: Callable, **options) -> None:
    code = run_job(
        JOB,
        lambda ctx: func(ctx, **options),
        now=obj.get("now"),
        quiet=obj.get("quiet", True),
        lock=False,
        create_store=False,
    )
    sys.exit(code)


def _check_now(ctx, param, value):
    try:
        parse_now(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("--now "), ctx=ctx, param=param) from None
    return value


def _text(ctx, param, value):
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        raise click.BadParameter("must not be empty", ctx=ctx, param=param)
    return value


def _finite(ctx, param, value):
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", ctx=ctx, param=param)
    return value


BET_ID = click.argument("bet_id", type=click.IntRange(1), metavar="BET_ID")


@click.group(
    help="The ledger of what was really placed: `list` the open recommendations, `place BET_ID --odds X [--stake S] "
    "[--bookmaker B]` at the price and stake you got, `skip BET_ID [--reason TEXT]`, `show BET_ID`. With "
    "LEDGER=confirmed only placed bets count (at the taken price and stake); one unplaced at kick-off becomes "
    "missed."
)
@click.option(
    "--now",
    metavar="ISO_TIME",
    default=None,
    callback=_check_now,
    help="Act as if the time were this (UTC unless an offset is given), e.g. 2026-01-20T13:00.",
)
@click.option(
    "--quiet/--verbose",
    default=True,
    show_default=True,
    help="Only warnings and errors on stderr (--verbose adds the run's log lines; LOG_DIR/bets.log has all).",
)
@click.pass_context
def bets(ctx, now, quiet):
    ctx.obj = {"now": now, "quiet": quiet}


@bets.command("list", help="Open recommendations, newest first, each with its minimum acceptable price.")
@click.pass_obj
def list_(obj):
    _run(obj, run_list)


@bets.command(
    help="Record that you placed bet BET_ID: at --odds, for --stake (default: the recommended stake), with "
    "--bookmaker (default: the recommended one). Below the minimum acceptable price it is recorded with a warning."
)
@BET_ID
@click.option(
    "--odds",
    type=click.FloatRange(1, MAX_ODDS, min_open=True),
    callback=_finite,
    required=True,
    help="The price you got (decimal odds).",
)
@click.option(
    "--stake", type=click.FloatRange(0, 1e9, min_open=True), callback=_finite, default=None, help="The stake placed."
)
@click.option("--bookmaker", callback=_text, default=None, help="Where you placed it.")
@click.option("--note", callback=_text, default=None, help="Anything worth keeping (stored in bets.ledger_note).")
@click.pass_obj
def place(obj, bet_id, odds, stake, bookmaker, note):
    _run(obj, run_place, bet_id=bet_id, odds=odds, stake=stake, bookmaker=bookmaker, note=note)


@bets.command(help="Record that you did not place bet BET_ID (a price gone, a limit, a choice).")
@BET_ID
@click.option("--reason", callback=_text, default=None, help="Why (stored in bets.ledger_note).")
@click.pass_obj
def skip(obj, bet_id, reason):
    _run(obj, run_skip, bet_id=bet_id, reason=reason)


@bets.command(help="One bet in full: the recommendation, what was placed, how it settled.")
@BET_ID
@click.pass_obj
def show(obj, bet_id):
    _run(obj, run_show, bet_id=bet_id)


__all__ = ["bets", "list_lines", "show_lines", "run_list", "run_place", "run_skip", "run_show"]
