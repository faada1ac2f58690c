"""Settlement rules: what a match's final result means for a bet, and the bet's grade against the fair close.

- A finished match with an outcome settles a bet as won or lost (the note says on which score); a match the source
  reports cancelled or abandoned (awarded, walk-over...) voids it; anything else leaves it pending.
- Postponed (the usual bookmaker rule): a bet stays pending while its match may still kick off within
  VOID_AFTER_HOURS of the kick-off the bet was placed for; it is settled on the result when the match is played
  there. It is void, with the reason in the note, once the match is moved beyond that, or has no new date by then.
  A match that has no final result VOID_AFTER_HOURS after its (possibly new) kick-off voids it too.
- Corrections: a settled bet whose match's result changes at the source is settled again on the new result, the
  old and the new one in the note. A bet settled or voided by hand is the operator's and is never changed.
- Profit: a win pays stake x (odds - 1), to the cent; a loss costs the stake; a void is 0.
- Closing-line value, one definition everywhere (`pipeline.odds.fair_clv`): odds x the sharp closing line's
  probability of the bet's outcome with the margin removed by CLV_METHOD - 1; NaN without a sharp closing price
  (no other close stands in for it) and for a void bet. The margin-inclusive ratio (`close_ratio_with_margin`,
  price / closing price - 1) is kept beside it for comparison; it is not CLV.
Pure functions: the settlement job reads and writes the store, the backtest replays history, both decide here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np

from pipeline.odds import fair_clv, implied_probabilities
from pipeline.outcomes import index_of
from pipeline.providers.base import ABANDONED, CANCELLED, FINISHED, POSTPONED

WIN, LOSS, VOID = "win", "loss", "void"
RESULTS = (WIN, LOSS, VOID)


class Settlement(NamedTuple):
    status: str  # bets.status: "settled" or "void"
    result: str  # bets.result: win, loss or void
    profit: float  # bets.profit_loss


def bet_profit(result: str, stake: float, odds: float) -> float:
    """The one profit rule: win stake x (odds - 1) rounded to the cent, loss -stake, void 0."""
    if result == WIN:
        return round(stake * (odds - 1), 2)
    if result == LOSS:
        return -stake
    if result == VOID:
        return 0.0
    raise ValueError(f"a bet's result is one of {RESULTS}, got {result!r}")


def settle_as(result: str, stake: float, odds: float) -> Settlement:
    """A bet settled as `result` (win, loss or void), by the settlement job or by hand."""
    profit = bet_profit(result, stake, odds)
    return Settlement("void" if result == VOID else "settled", result, profit)


VOID_AT_SOURCE = (CANCELLED, ABANDONED)  # a postponed match is not void: it may be played within the window
SETTLED_ON = "settled on "
VOIDED_AT_SOURCE = "void: the source reports the match "
BY_HAND = ("settled by hand", "voided by hand")


def settlement_of(match_status: str, match_outcome: str | None, bet_outcome: str, stake: float, odds: float):
    """What the match's result means for a bet on `bet_outcome`: a Settlement, or None while it stays pending."""
    if match_status == FINISHED and match_outcome:
        return settle_as(WIN if match_outcome == bet_outcome else LOSS, stake, odds)
    if match_status in VOID_AT_SOURCE:
        return settle_as(VOID, stake, odds)
    return None


def result_text(match_status: str, home_goals: int | None, away_goals: int | None, outcome: str | None) -> str:
    """A match's result as notes name it: "2-1 (home)", or its status ("cancelled")."""
    if match_status == FINISHED and outcome and home_goals is not None and away_goals is not None:
        return f"{home_goals}-{away_goals} ({outcome})"
    return match_status


def settled_note(match_status: str, home_goals: int | None, away_goals: int | None, outcome: str | None) -> str:
    """`bets.settlement_note` of a bet settled on a result: the score it was settled on, or why it is void."""
    if match_status == FINISHED:
        return SETTLED_ON + result_text(match_status, home_goals, away_goals, outcome)
    return VOIDED_AT_SOURCE + match_status


def _moved_note(placed_for: datetime, kickoff: datetime, hours: float) -> str:
    return (
        f"void: the match was moved from {placed_for:%Y-%m-%d %H:%M} to {kickoff:%Y-%m-%d %H:%M} UTC, more than "
        f"VOID_AFTER_HOURS ({hours:g} h) after the kick-off the bet was placed for"
    )


def moved_too_far(placed_for: datetime | None, kickoff: datetime, hours: float) -> str | None:
    """The void note of a bet whose match now kicks off more than `hours` after the kick-off it was placed for
    (`placed_for`, None for bets recorded without it), else None."""
    if placed_for is not None and kickoff > placed_for + timedelta(hours=hours):
        return _moved_note(placed_for, kickoff, hours)
    return None


def overdue_note(
    placed_for: datetime | None, kickoff: datetime, fixture_status: str, provider_id: str, now: datetime, hours: float
) -> str | None:
    """Why a pending bet without a final result is void at `now`, or None while it may still be settled: its
    match moved more than `hours` after the kick-off the bet was placed for, postponed without a new date within
    `hours` of it, or without a final result `hours` after its kick-off."""
    limit = timedelta(hours=hours)
    moved = moved_too_far(placed_for, kickoff, hours)
    if moved:
        return moved
    start = placed_for or kickoff
    if fixture_status == POSTPONED and now >= start + limit:
        return (
            f"void: postponed (fixture {provider_id}) and no new date within VOID_AFTER_HOURS ({hours:g} h) of the "
            f"kick-off the bet was placed for, {start:%Y-%m-%d %H:%M} UTC"
        )
    if now >= kickoff + limit:
        return (
            f"void: no final result {hours:g} h after kick-off (fixture {provider_id} is {fixture_status} at the "
            "source, or not reported)"
        )
    return None


class Correction(NamedTuple):
    settlement: Settlement
    note: str


_RULE = object()


def correction_of(
    bet: dict,
    match_status: str,
    home_goals: int | None,
    away_goals: int | None,
    match_outcome: str | None,
    now,
    new=_RULE,
) -> Correction | None:
    """A settled bet (`bet`: status, result, profit_loss, settlement_note, bet_outcome, stake, odds) whose match's
    result now says otherwise: its new settlement and a note with the old and the new result; None when the
    result agrees, is not final, or the bet was settled by hand or voided for another reason (moved, overdue).
    `new`: the bet's settlement on the result where another rule than 1X2's decides it (a two-way market,
    pipeline.betting.bet_results)."""
    note = bet.get("settlement_note") or ""
    if note.startswith(BY_HAND):
        return None
    if bet["status"] == "void" and not note.startswith(VOIDED_AT_SOURCE):
        return None  # voided by the postponement or overdue rule: a later result does not revive it
    if new is _RULE:
        new = settlement_of(match_status, match_outcome, bet["bet_outcome"], bet["stake"], bet["odds"])
    if new is None or (new.status, new.result) == (bet["status"], bet["result"]):
        return None
    was = _settled_on(note) or f"the result it was settled on ({bet['result']})"
    now_text = result_text(match_status, home_goals, away_goals, match_outcome)
    return Correction(
        new,
        f"{settled_note(match_status, home_goals, away_goals, match_outcome)}; re-settled {now:%Y-%m-%d %H:%M} UTC: "
        f"the result changed at the source from {was} to {now_text}; was {bet['result']} "
        f"{float(bet['profit_loss'] or 0):+.2f}, now {new.result} {new.profit:+.2f}",
    )


def _settled_on(note: str) -> str | None:
    """The result a note says the bet was settled on ("5-0 (home)", "cancelled"), the latest one first."""
    found = re.findall(r"(?:settled on |the source reports the match )(\d+-\d+ \(\w+\)|\w+)", note)
    return found[0] if found else None


def closing_line_value(odds, closing_prices, bet_outcomes, method: str) -> np.ndarray:
    """CLV of each bet: its odds x the fair closing probability of its outcome (the closing triple's margin
    removed by `method`) - 1. `closing_prices` (n, 3) in the outcome order, NaN rows where there is none;
    `bet_outcomes` names ("home", ...) or indices."""
    odds = np.asarray(odds, dtype=float).ravel()
    close = np.asarray(closing_prices, dtype=float).reshape(-1, 3)
    k = np.array([o if isinstance(o, int | np.integer) else index_of(o) for o in bet_outcomes], dtype=int)
    fair = implied_probabilities(close, method)[np.arange(len(odds)), k] if len(odds) else np.array([])
    return fair_clv(odds, fair)


def close_ratio_with_margin(bet_odds, closing_odds):
    """odds / closing odds - 1: the price against the close *with the bookmaker's margin in it*, for a float or an
    array (NaN where the close is missing). Not CLV (`closing_line_value`, against the margin-free close): a bet at
    the closing price itself scores 0 here although it loses the margin."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return bet_odds / closing_odds - 1.0


__all__ = [
    "WIN",
    "LOSS",
    "VOID",
    "RESULTS",
    "Settlement",
    "bet_profit",
    "settle_as",
    "settlement_of",
    "result_text",
    "settled_note",
    "moved_too_far",
    "overdue_note",
    "Correction",
    "correction_of",
    "closing_line_value",
    "close_ratio_with_margin",
]
