"""Settlement of over/under and Asian handicap bets on the 90-minute score, and their grade against the sharp close
at the bet's own line. Pure functions, like pipeline.betting.settlement (whose void rules and 1X2 profit rule these
extend, not copy).

A stake on a line is settled leg by leg:
- a half line (2.5, -0.5) cannot land: the bet is won or lost;
- a whole line (2.0, -1.0) that lands exactly (2 goals; a one-goal win for the home side at -1) is a push: the
  stake is returned;
- a quarter line (2.25, -0.75) is half the stake on each neighbouring line (2.0 and 2.5; -0.5 and -1.0), so a bet
  can be half won (the other half pushed) or half lost (the other half pushed).
The margin a leg is judged by: over: total - line; under: line - total; Asian handicap: the selected team's goals
minus the other's plus its handicap (pipeline.markets.Selection.handicap).

Profit, exactly: stake x (odds - 1) on each won part, -stake on each lost part, 0 on a pushed part, in decimal
arithmetic on the prices and stakes as written (1.95, not the float nearest it), rounded once to the cent
(half to even). Results: win, half_win, push, half_loss, loss (void for a void match, as 1X2).

CLV of a two-way bet (pipeline.odds.fair_clv): odds x the fair closing probability of its selection - 1, the
sharp book's closing pair at THE BET'S LINE with the margin removed. Where the sharp book closed at another line
the grade is NaN and the reason "no close at the bet's line"; a bet is never graded against another line. With a
push possible the fair probability is the bookmaker's: conditional on no push, so CLV is the expected return per
unit staked on the part of the stake that is not returned.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np

from pipeline.betting.settlement import LOSS, VOID, WIN, Settlement, settlement_of
from pipeline.markets import Market, Selection, split_line
from pipeline.odds import fair_clv, implied_probabilities
from pipeline.providers.base import FINISHED, VOID_STATUSES

HALF_WIN, PUSH, HALF_LOSS = "half_win", "push", "half_loss"
MARKET_RESULTS = (WIN, HALF_WIN, PUSH, HALF_LOSS, LOSS, VOID)
NO_CLOSE = "no sharp close"
NO_CLOSE_AT_LINE = "no close at the bet's line"
_CENT = Decimal("0.01")


def _margin(selection: Selection, line: Fraction, home_goals: int, away_goals: int) -> Fraction:
    if selection.market is Market.OU:
        total = home_goals + away_goals
        return total - line if selection.side == "over" else line - total
    diff = home_goals - away_goals if selection.side == "home" else away_goals - home_goals
    handicap = line if selection.side == "home" else -line
    return diff + handicap


def parts(selection: Selection, home_goals: int, away_goals: int) -> tuple[Fraction, Fraction, Fraction]:
    """(won, pushed, lost): the fractions of the stake won, returned and lost (each 0, 1/2 or 1; they sum to 1)."""
    if selection.market is Market.X12 or selection.line is None:
        raise ValueError("parts() settles two-way markets; 1X2 is pipeline.betting.settlement")
    if home_goals < 0 or away_goals < 0 or int(home_goals) != home_goals or int(away_goals) != away_goals:
        raise ValueError(f"a score is two whole numbers >= 0, got {home_goals}-{away_goals}")
    won = pushed = lost = Fraction(0)
    half = Fraction(1, 2)
    for leg in split_line(selection.line):
        m = _margin(selection, Fraction(leg), int(home_goals), int(away_goals))
        if m > 0:
            won += half
        elif m < 0:
            lost += half
        else:
            pushed += half
    return won, pushed, lost


def result_of(won: Fraction, pushed: Fraction, lost: Fraction) -> str:
    """The bet's result word: win, half_win, push, half_loss or loss."""
    if won == 1:
        return WIN
    if lost == 1:
        return LOSS
    if pushed == 1:
        return PUSH
    if won and pushed:
        return HALF_WIN
    if lost and pushed:
        return HALF_LOSS
    raise ValueError(f"a stake won {won} and lost {lost}: legs of one line never split that way")


def _decimal(x: float | str | Decimal) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def parts_profit(won: Fraction, lost: Fraction, stake: float | str, odds: float | str) -> float:
    """stake x (odds - 1) x won - stake x lost, exact in decimal, rounded once to the cent (half to even)."""
    s, o = _decimal(stake), _decimal(odds)
    exact = s * (o - 1) * Decimal(won.numerator) / Decimal(won.denominator) - s * Decimal(lost.numerator) / Decimal(
        lost.denominator
    )
    return float(exact.quantize(_CENT, rounding=ROUND_HALF_EVEN)) + 0.0


def settle_market(selection: Selection, home_goals: int, away_goals: int, stake: float, odds: float) -> Settlement:
    """A finished match's settlement of a bet on `selection` (any market; 1X2 by its own rule)."""
    if selection.market is Market.X12:
        outcome = "home" if home_goals > away_goals else "away" if away_goals > home_goals else "draw"
        s = settlement_of(FINISHED, outcome, selection.side, stake, odds)
        assert s is not None
        return s
    won, pushed, lost = parts(selection, home_goals, away_goals)
    return Settlement("settled", result_of(won, pushed, lost), parts_profit(won, lost, stake, odds))


def market_settlement_of(
    match_status: str,
    home_goals: int | None,
    away_goals: int | None,
    selection: Selection,
    stake: float,
    odds: float,
) -> Settlement | None:
    """What the match's state means for the bet: a Settlement, or None while it stays pending. Void rules as 1X2:
    a void match (providers.base.VOID_STATUSES) voids it, profit 0."""
    if match_status == FINISHED and home_goals is not None and away_goals is not None:
        return settle_market(selection, home_goals, away_goals, stake, odds)
    if match_status in VOID_STATUSES:
        return Settlement("void", VOID, 0.0)
    return None


def two_way_clv(odds, bet_lines, sides, close_lines, close_prices, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(CLV, reason) per bet against the sharp close at its own line. `sides` 0 or 1 (the selection's index in its
    market: over/home 0, under/away 1); `close_prices` (n, 2) the sharp closing pair quoted at `close_lines`.
    CLV NaN with reason NO_CLOSE (no valid closing pair) or NO_CLOSE_AT_LINE (the close is at another line);
    reason None where graded. Totals' lines are fixed per column, so pass the bet's line as the close's."""
    o = np.asarray(odds, dtype=float).ravel()
    n = len(o)
    line = np.asarray(bet_lines, dtype=float).ravel()
    close_line = np.asarray(close_lines, dtype=float).ravel()
    k = np.asarray(sides, dtype=int).ravel()
    close = np.asarray(close_prices, dtype=float).reshape(n, 2)
    fair = implied_probabilities(close, method) if n else np.empty((0, 2))
    priced = np.isfinite(fair).all(axis=1)
    same = np.isclose(line, close_line) & np.isfinite(close_line)
    p = np.where(priced & same, fair[np.arange(n), k] if n else np.array([]), np.nan)
    reason = np.full(n, None, dtype=object)
    reason[~same] = NO_CLOSE_AT_LINE
    reason[~priced] = NO_CLOSE
    return fair_clv(o, p), reason


__all__ = [
    "HALF_WIN",
    "PUSH",
    "HALF_LOSS",
    "MARKET_RESULTS",
    "NO_CLOSE",
    "NO_CLOSE_AT_LINE",
    "parts",
    "result_of",
    "parts_profit",
    "settle_market",
    "market_settlement_of",
    "two_way_clv",
]
