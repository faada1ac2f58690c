"""The ledger's rules: the minimum acceptable price of a bet, what a bet counts at under LEDGER, and slippage.

A recommendation (a row of `bets`) is what the strategy proposed; the ledger records what the user really did
with it: `placed` (at a price, stake and book he reports), `skipped`, or `missed` (still unplaced at kick-off).
LEDGER=paper counts every recommendation as placed at its own price and stake (the behaviour before the ledger);
LEDGER=confirmed counts a bet for bankroll, profit and CLV only once placed, at the taken price and stake.
Pure functions, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from pipeline.store.ledger import LEDGER_STATUSES, MISSED, PLACED, RECOMMENDED, SKIPPED

LEDGER_MODES = ("paper", "confirmed")


def min_acceptable_odds(fair_prob: float | None, min_edge: float) -> float | None:
    """The lowest price at which a bet still clears `min_edge` against the fair line: fair odds x (1 + MIN_EDGE).
    None when there is no usable fair probability."""
    if fair_prob is None or not math.isfinite(fair_prob) or not 0 < fair_prob < 1:
        return None
    return (1.0 + min_edge) / fair_prob


def slippage(taken_odds: float, recommended_odds: float) -> float:
    """taken / recommended price - 1: negative when the user got less than the recommendation."""
    return taken_odds / recommended_odds - 1.0


@dataclass(frozen=True)
class Counted:
    """What a bet counts at: its price and stake, or None when it counts nowhere (unplaced under LEDGER=confirmed)."""

    odds: float
    stake: float


def counted(
    ledger: str, status: str, odds: float, stake: float, taken_odds: float | None, taken_stake: float | None
) -> Counted | None:
    """The price and stake a bet is settled and graded at under `ledger` (paper or confirmed)."""
    if ledger == "paper":
        return Counted(odds, stake)
    if status != PLACED or taken_odds is None:
        return None
    return Counted(taken_odds, stake if taken_stake is None else taken_stake)


def counted_bets(bets: pd.DataFrame, ledger: str) -> pd.DataFrame:
    """Bets (rows of `bets`) as they count under `ledger`: under paper all of them as they are; under confirmed
    only the placed ones, their `odds` and `stake` the taken price and stake (the recommendation's in
    `recommended_odds`, `recommended_stake`). Skipped and missed bets count nowhere."""
    if ledger == "paper" or bets.empty or "ledger_status" not in bets:
        return bets
    out = bets[bets["ledger_status"] == PLACED].copy()
    out["recommended_odds"], out["recommended_stake"] = out["odds"], out["stake"]
    out["odds"] = out["taken_odds"].astype(float)
    out["stake"] = out["taken_stake"].fillna(out["stake"]).astype(float)
    return out


def ledger_lines(ledger: str, counts: dict[str, int], prices: list[tuple[float, float]]) -> list[str]:
    """The report's ledger lines: recommended vs placed vs skipped vs missed, and the slippage of the placed bets
    (taken / recommended price - 1), from ledger_counts and placed_prices (pipeline.store.ledger)."""
    total = sum(counts.values())
    what = (
        "every recommendation counts as placed at its own price and stake"
        if ledger == "paper"
        else "only placed bets count, at the taken price and stake; skipped and missed ones count nowhere"
    )
    lines = [
        f"Ledger (LEDGER={ledger}: {what}): {total} recommended, {counts.get(PLACED, 0)} placed, "
        f"{counts.get(SKIPPED, 0)} skipped, {counts.get(MISSED, 0)} missed, {counts.get(RECOMMENDED, 0)} not recorded"
    ]
    if prices:
        slips = sorted(slippage(taken, rec) for rec, taken in prices)
        mid = len(slips) // 2
        median = slips[mid] if len(slips) % 2 else (slips[mid - 1] + slips[mid]) / 2
        below = sum(s < -1e-12 for s in slips)
        lines.append(
            f"  slippage (taken / recommended price - 1) of the {len(slips)} placed: "
            f"mean {sum(slips) / len(slips):+.2%}, median {median:+.2%}, worst {slips[0]:+.2%}; "
            f"{below} taken below the recommended price"
        )
    return lines


__all__ = [
    "counted_bets",
    "ledger_lines",
    "LEDGER_MODES",
    "LEDGER_STATUSES",
    "RECOMMENDED",
    "PLACED",
    "SKIPPED",
    "MISSED",
    "Counted",
    "counted",
    "min_acceptable_odds",
    "slippage",
]
