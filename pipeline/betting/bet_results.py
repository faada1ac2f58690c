"""What a match's result means for a bet of any market, and the grade of a two-way bet against the sharp close at its
own line: the settlement job's one entry for 1X2 (pipeline.betting.settlement), over/under and Asian handicap
(pipeline.betting.market_settlement). Pure functions.

- 1X2 bets: exactly as before (settlement_of, correction_of).
- Two-way bets: settled on the 90-minute score (win, half_win, push, half_loss, loss; profit exactly as
  market_settlement computes it). Void rules as 1X2: a cancelled or abandoned match voids the bet; a postponed one
  leaves it pending (the postponement window of the settlement job decides), although market_settlement_of would
  void it.
- CLV of a two-way bet: against the first of SHARP_BOOKMAKERS that closed BOTH selections of its market at the bet's
  line (market_settlement.two_way_clv, CLV_METHOD); `closing_odds` is that book's close of the selection. Without
  one it stays NULL with the reason: "no close at the bet's line" when a sharp book closed the market only at other
  lines, "no sharp close" when none closed it. Never graded against another line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.betting.market_settlement import NO_CLOSE, NO_CLOSE_AT_LINE, market_settlement_of, two_way_clv
from pipeline.betting.settlement import VOID_AT_SOURCE, Correction, Settlement, correction_of, settlement_of
from pipeline.bookmakers import canonical
from pipeline.markets import SELECTIONS, Market, MarketPrice, Selection, market_of
from pipeline.providers.base import FINISHED

# the settlement job's counters per result
RESULT_COUNTS = {
    "win": "bets_won",
    "loss": "bets_lost",
    "void": "bets_void",
    "half_win": "bets_half_won",
    "push": "bets_pushed",
    "half_loss": "bets_half_lost",
}


def selection_of(market: str, line: float | None, outcome: str) -> Selection:
    return Selection(market_of(market), line, outcome)


def settlement_for(
    market: str,
    line: float | None,
    bet_outcome: str,
    match_status: str,
    home_goals: int | None,
    away_goals: int | None,
    match_outcome: str | None,
    stake: float,
    odds: float,
) -> Settlement | None:
    """A bet's settlement on its match's result, or None while it stays pending (void rules as 1X2)."""
    if market_of(market) is Market.X12:
        return settlement_of(match_status, match_outcome, bet_outcome, stake, odds)
    if match_status != FINISHED and match_status not in VOID_AT_SOURCE:
        return None  # postponed, live...: pending, as a 1X2 bet
    return market_settlement_of(
        match_status, home_goals, away_goals, selection_of(market, line, bet_outcome), stake, odds
    )


def correction_for(bet: dict, now) -> Correction | None:
    """correction_of (pipeline.betting.settlement) for a bet of any market: `bet` as
    pipeline.store.settlement.settled_bets_contradicting_results reads it (market and line, the match's status,
    score and outcome)."""
    status, hg, ag, outcome = bet["match_status"], bet["home_goals"], bet["away_goals"], bet["outcome"]
    market = bet.get("market") or "1X2"
    if market_of(market) is Market.X12:
        return correction_of(bet, status, hg, ag, outcome, now)
    new = settlement_for(
        market, bet.get("line"), bet["bet_outcome"], status, hg, ag, outcome, bet["stake"], bet["odds"]
    )
    return correction_of(bet, status, hg, ag, outcome, now, new=new)


def sharp_close_at_line(
    closes: Iterable[MarketPrice], selection: Selection, sharp: Sequence[str]
) -> tuple[tuple[float, float] | None, str | None]:
    """The sharp closing pair (SELECTIONS order) of the selection's market at its line, from the first of `sharp`
    that closed both sides there, and None; or None and why there is none (NO_CLOSE_AT_LINE, NO_CLOSE)."""
    books = [canonical(b) for b in sharp]
    sides = SELECTIONS[selection.market]
    at_line: dict[str, dict[str, float]] = {}
    elsewhere = False
    for p in closes:
        s = p.selection
        if not p.closing or s.market is not selection.market or canonical(p.bookmaker) not in books:
            continue
        if s.line == selection.line:
            at_line.setdefault(canonical(p.bookmaker), {})[s.side] = p.price
        else:
            elsewhere = True
    for b in books:
        got = at_line.get(b, {})
        if all(side in got for side in sides):
            return (got[sides[0]], got[sides[1]]), None
    return None, NO_CLOSE_AT_LINE if elsewhere or at_line else NO_CLOSE


@dataclass(frozen=True)
class Grade:
    clv: float | None
    closing_odds: float | None  # the sharp close of the bet's selection at its line
    reason: str | None  # why there is no CLV (None when graded)


def grade_two_way(
    bets: Sequence[tuple[float, Selection]], closes: Sequence[Iterable[MarketPrice]], sharp: Sequence[str], method: str
) -> list[Grade]:
    """CLV of two-way bets ((odds, selection) each, with its match's closing prices) against the sharp close at
    the bet's line, margin removed by `method` (CLV_METHOD)."""
    if not bets:
        return []
    pairs, reasons = zip(*(sharp_close_at_line(c, s, sharp) for (_, s), c in zip(bets, closes, strict=True)))
    prices = np.array([p if p is not None else (np.nan, np.nan) for p in pairs], dtype=float)
    lines = [s.line for _, s in bets]
    clv, why = two_way_clv([o for o, _ in bets], lines, [s.index for _, s in bets], lines, prices, method)
    out = []
    for k, ((_, s), pair) in enumerate(zip(bets, pairs)):
        graded = pair is not None and np.isfinite(clv[k])
        out.append(
            Grade(
                float(clv[k]) if graded else None,
                float(pair[s.index]) if pair is not None else None,
                None if graded else (reasons[k] or why[k] or NO_CLOSE),
            )
        )
    return out


__all__ = [
    "RESULT_COUNTS",
    "selection_of",
    "settlement_for",
    "correction_for",
    "sharp_close_at_line",
    "Grade",
    "grade_two_way",
]
