"""Settlement rules: what a match's final result means for a bet, and the bet's grade against the fair close.

- A finished match with an outcome settles a bet as won or lost; a match the source reports void (cancelled,
  abandoned, awarded...: `providers.base.VOID_STATUSES`) voids it; anything else leaves it pending.
- Profit: a win pays stake x (odds - 1), to the cent; a loss costs the stake; a void is 0.
- Closing-line value, one definition everywhere (`pipeline.odds.fair_clv`): odds x the closing line's
  probability of the bet's outcome with the margin removed by CLV_METHOD - 1; NaN without a closing price.
Pure functions: the settlement job reads and writes the store, the backtest replays history, both decide here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pipeline.odds import fair_clv, implied_probabilities
from pipeline.outcomes import index_of
from pipeline.providers.base import FINISHED, VOID_STATUSES

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


def settlement_of(match_status: str, match_outcome: str | None, bet_outcome: str, stake: float, odds: float):
    """What the match's result means for a bet on `bet_outcome`: a Settlement, or None while it stays pending."""
    if match_status == FINISHED and match_outcome:
        return settle_as(WIN if match_outcome == bet_outcome else LOSS, stake, odds)
    if match_status in VOID_STATUSES:
        return settle_as(VOID, stake, odds)
    return None


def closing_line_value(odds, closing_prices, bet_outcomes, method: str) -> np.ndarray:
    """CLV of each bet: its odds x the fair closing probability of its outcome (the closing triple's margin
    removed by `method`) - 1. `closing_prices` (n, 3) in the outcome order, NaN rows where there is none;
    `bet_outcomes` names ("home", ...) or indices."""
    odds = np.asarray(odds, dtype=float).ravel()
    close = np.asarray(closing_prices, dtype=float).reshape(-1, 3)
    k = np.array([o if isinstance(o, int | np.integer) else index_of(o) for o in bet_outcomes], dtype=int)
    fair = implied_probabilities(close, method)[np.arange(len(odds)), k] if len(odds) else np.array([])
    return fair_clv(odds, fair)


__all__ = [
    "WIN",
    "LOSS",
    "VOID",
    "RESULTS",
    "Settlement",
    "bet_profit",
    "settle_as",
    "settlement_of",
    "closing_line_value",
]
