"""The price-error guards before staking, in one place for production (pipeline.betting.placement: the hourly job
and the lineup step) and the backtest (pipeline.evaluation.simulation), so the backtest runs production's rule.

Every outcome the strategy's rules let through (strategy.eligible: EV >= MIN_EDGE, price and probability in
range, no bet on it yet) is checked by pipeline.betting.guards. One that fails is set aside before Kelly sizing:
its price is removed from the candidate, so it is never bet and the match's other outcomes are sized without it,
and it comes back as a SkippedCandidate with its rule and one-line reason. Then the strategy sizes what is left.
Pure functions, no I/O: placement logs and stores the skips, the backtest counts them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pipeline.betting.guards import GuardCandidate, GuardSettings, check_candidate
from pipeline.betting.strategy import StrategyParams, eligible, select_bets
from pipeline.markets import SELECTIONS, Market, Selection, market_of
from pipeline.prices import MODEL
from pipeline.records import BetProposal, PlacedBet, SkippedCandidate, ValueCandidate


@dataclass(frozen=True)
class Choice:
    """What a run would bet (sized by the strategy) and what the guards set aside."""

    bets: list[BetProposal]
    skipped: list[SkippedCandidate]


def guard_candidate(c: ValueCandidate, k: int, decided_at: datetime | None = None) -> GuardCandidate:
    """Outcome `k` of a value candidate as the guards judge it; times only where the candidate has them."""
    market = market_of(c.market)
    side = SELECTIONS[market][k]
    return GuardCandidate(
        match_id=c.match or str(c.fixture_id),
        outcome=side if market is Market.X12 else str(Selection(market, c.line, side)),
        market=market.value,
        bookmaker=c.books[k] or "unknown book",
        price=float(c.odds[k]),
        fair_prob=float(c.fair_probs[k]),
        fair_source="model" if c.fair_source == MODEL else "sharp",
        sharp_prices=c.sharp_odds,
        other_soft_prices=c.other_odds[k],
        decided_at=decided_at,
        price_seen_at=c.odds_seen_at[k],
        sharp_seen_at=c.sharp_seen_at,
    )


def screen(
    candidates: Iterable[ValueCandidate],
    params: StrategyParams,
    guards: GuardSettings,
    existing: Iterable[PlacedBet] = (),
    decided_at: datetime | None = None,
) -> tuple[list[ValueCandidate], list[SkippedCandidate]]:
    """The candidates with every outcome failing a guard priced out (NaN: never bet), and those outcomes as
    SkippedCandidate records. Outcomes already bet (`existing`) are not judged again: no bet is added to them."""
    placed = {(b.fixture_id, market_of(b.market), b.line, b.outcome) for b in existing}
    kept, skipped = [], []
    for c in candidates:
        odds, changed = list(c.odds), False
        names = SELECTIONS[market_of(c.market)]
        for k in map(int, eligible(c.fair_probs, c.odds, params).nonzero()[0]):
            if (c.fixture_id, market_of(c.market), c.line, names[k]) in placed:
                continue
            failure = check_candidate(guard_candidate(c, k, decided_at), guards.for_market(c.market))
            if failure is None:
                continue
            odds[k], changed = math.nan, True
            skipped.append(
                SkippedCandidate(
                    fixture_id=c.fixture_id,
                    outcome=names[k],
                    bookmaker=c.books[k],
                    odds=float(c.odds[k]),
                    fair_prob=float(c.fair_probs[k]),
                    edge=float(c.fair_probs[k] * c.odds[k] - 1.0),
                    rule=failure.rule,
                    reason=failure.reason,
                    market=market_of(c.market).value,
                    line=c.line,
                )
            )
        kept.append(dataclasses.replace(c, odds=tuple(odds)) if changed else c)
    return kept, skipped


def choose_bets(
    candidates: Iterable[ValueCandidate],
    bankroll: float,
    params: StrategyParams,
    guards: GuardSettings | None,
    existing: Iterable[PlacedBet] = (),
    decided_at: datetime | None = None,
) -> Choice:
    """The guards (None: none, for the backtest's comparison rules), then the strategy (strategy.select_bets) on
    what passed. `decided_at`: the run's time, against which the prices' ages are judged."""
    existing = list(existing)
    if guards is None:
        return Choice(select_bets(candidates, bankroll, params, existing), [])
    kept, skipped = screen(candidates, params, guards, existing, decided_at)
    return Choice(select_bets(kept, bankroll, params, existing), skipped)


__all__ = ["Choice", "choose_bets", "guard_candidate", "screen"]
