"""The betting strategy: value bets sized by fractional Kelly, with caps. Pure functions, no I/O.

Rules (every number is a setting, see .env.example):
- p is the fair probability (the sharp line's, margin removed; pipeline.prices) and the odds are the best price
  among the bookmakers the user bets with, each outcome possibly at another book (`book_<outcome>`).
- An outcome is a candidate when edge = p * odds - 1 >= min_edge, min_odds <= odds <= max_odds,
  p >= min_probability, and the fixture has no bet on that outcome yet.
- The outcomes of one match are mutually exclusive, so they are sized together by the Kelly criterion for
  exclusive outcomes (Smoczynski & Tomkins 2010), never as independent bets; then scaled by kelly_fraction.
- Stakes are fractions of the current bankroll (starting bankroll plus settled profit and loss; pending stakes
  are not subtracted, they are counted by the caps instead), capped per bet (max_stake_fraction), per match
  (max_match_fraction, counting stakes already placed on that match) and per match day (max_daily_fraction,
  counting every stake already placed on matches of that UTC day). When a cap binds, the match's stakes are
  scaled down together. Stakes are rounded to cents; stakes below min_stake are not placed.
- A placed bet is never changed or duplicated. A later prediction for the same fixture (e.g. once the lineups are
  out) may only add a bet on an outcome that has none, within the match cap counting what is already staked on
  the fixture, so it can never double a stake.
- Markets (pipeline.markets): a candidate is one market of a match at one line; its selections are sized together
  as above. The caps count every market of the match together. A two-way market (over/under, Asian handicap) gets
  bets at one line and on one side only: once a match has a bet in it, no other line or side of it is added (a
  second line would double the same view, the other side would hedge it). Of a match's candidates in one run,
  1X2 is sized first, then OU, then AH, and within a market the line with the largest edge first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike

from pipeline.config import Settings
from pipeline.markets import MARKETS, SELECTIONS, Market, market_of
from pipeline.outcomes import OUTCOMES
from pipeline.records import BetProposal, PlacedBet, ValueCandidate

# The settings are the one place the rules' defaults are written (MIN_EDGE etc., see .env.example)
_SETTING: dict[str, float] = {f.name: f.default for f in fields(Settings) if isinstance(f.default, float)}


@dataclass(frozen=True)
class StrategyParams:
    min_edge: float = _SETTING["min_edge"]
    min_odds: float = _SETTING["min_odds"]
    max_odds: float = _SETTING["max_odds"]
    min_probability: float = _SETTING["min_probability"]
    kelly_fraction: float = _SETTING["kelly_fraction"]
    max_stake_fraction: float = _SETTING["max_stake_fraction"]
    max_match_fraction: float = _SETTING["max_match_fraction"]
    max_daily_fraction: float = _SETTING["max_daily_fraction"]
    min_stake: float = 1.0  # not a setting

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"{f.name} must be a finite number >= 0, got {v!r}")
        if self.min_odds <= 1.0 or self.max_odds <= self.min_odds:
            raise ValueError("min_odds must exceed 1.0 and max_odds must exceed min_odds")
        for name in ("kelly_fraction", "max_stake_fraction", "max_match_fraction", "max_daily_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.min_probability > 1:
            raise ValueError("min_probability must be <= 1")

    @classmethod
    def from_settings(cls, settings: Settings) -> StrategyParams:
        """The rules the settings name (MIN_EDGE, MIN_ODDS, ..., MAX_DAILY_FRACTION); the others at their default."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)})


def edge(prob, odds):
    return np.asarray(prob, dtype=float) * np.asarray(odds, dtype=float) - 1.0


def eligible(probs: ArrayLike, odds: ArrayLike, params: StrategyParams) -> np.ndarray:
    """Which outcomes the rules let through before sizing: a price above 1, EV >= min_edge, min_odds <= price <=
    max_odds, probability >= min_probability (the outcomes the price-error guards judge: betting.screening)."""
    p = np.asarray(probs, dtype=float)
    o = np.asarray(odds, dtype=float)
    with np.errstate(invalid="ignore"):
        e = edge(p, o)
        return (
            np.isfinite(o)
            & (o > 1.0)
            & (e >= params.min_edge)
            & (o >= params.min_odds)
            & (o <= params.max_odds)
            & (p >= params.min_probability)
        )


def kelly_stakes(probs: ArrayLike, odds: ArrayLike, candidates: ArrayLike | None = None) -> np.ndarray:
    """Full-Kelly fractions of the bankroll for mutually exclusive outcomes of one event.

    Outcomes enter in order of expected return p*o while that exceeds the reserve rate
    R = (1 - sum p) / (1 - sum 1/o) of those already in; each then gets f = p - R / o.
    """
    p = np.asarray(probs, dtype=float)
    o = np.asarray(odds, dtype=float)
    allowed = np.ones(len(p), bool) if candidates is None else np.asarray(candidates, bool)
    f = np.zeros(len(p))
    ok = allowed & np.isfinite(p) & np.isfinite(o) & (o > 1.0)
    order = sorted((int(i) for i in np.flatnonzero(ok)), key=lambda i: -p[i] * o[i])
    chosen: list[int] = []
    reserve = 1.0
    for i in order:
        if p[i] * o[i] <= reserve:
            break
        sum_p = p[chosen + [i]].sum()
        sum_b = (1.0 / o[chosen + [i]]).sum()
        if sum_b >= 1.0:  # the book's prices on these outcomes are an arbitrage: stop before it
            break
        chosen.append(i)
        reserve = (1.0 - sum_p) / (1.0 - sum_b)
    for i in chosen:
        f[i] = max(0.0, p[i] - reserve / o[i])
    return f


def select_bets(
    candidates: Iterable[ValueCandidate],
    bankroll: float,
    params: StrategyParams,
    existing: Iterable[PlacedBet] = (),
) -> list[BetProposal]:
    """Bets to place now: BetProposal records (pipeline.records) in the order they were sized (candidates by
    kick-off, then fixture, then market (1X2, OU, AH) and the line with the largest edge; a candidate's selections
    in its market's SELECTIONS order). `existing`: bets already placed, which get no second bet on their outcome
    (a two-way market: none in that market) and count in the match and day caps.
    """
    if not bankroll or bankroll <= 0 or not np.isfinite(bankroll):
        return []
    placed_outcomes: dict = defaultdict(set)  # (fixture, market) -> the selections bet
    match_staked: dict = defaultdict(float)
    day_staked: dict = defaultdict(float)
    for b in existing:
        placed_outcomes[(b.fixture_id, market_of(b.market))].add(b.outcome)
        match_staked[b.fixture_id] += float(b.stake)
        day_staked[b.match_day] += float(b.stake)
    out = []
    for c in sorted(candidates, key=_order):
        market = market_of(c.market)
        names = SELECTIONS[market]
        p = np.array(c.fair_probs, dtype=float)
        o = np.array(c.odds, dtype=float)
        with np.errstate(invalid="ignore"):
            e = edge(p, o)
        mask = eligible(p, o, params)
        taken = placed_outcomes[(c.fixture_id, market)]
        if market is Market.X12:
            mask &= np.array([name not in taken for name in names])
        elif taken:
            continue
        elif mask.sum() > 1:  # both sides beat the fair line (a price error or an arbitrage): the larger edge only
            mask = np.arange(len(mask)) == int(np.nanargmax(np.where(mask, e, -np.inf)))
        if not mask.any():
            continue
        stakes = kelly_stakes(p, o, mask) * params.kelly_fraction * bankroll
        stakes = np.minimum(stakes, params.max_stake_fraction * bankroll)
        room_match = max(0.0, params.max_match_fraction * bankroll - match_staked[c.fixture_id])
        room_day = max(0.0, params.max_daily_fraction * bankroll - day_staked[c.match_day])
        total = stakes.sum()
        room = min(room_match, room_day)
        if total > room > 0:
            stakes *= room / total
        elif room <= 0:
            continue
        stakes = np.floor(stakes * 100) / 100  # round down: a cap is never exceeded by rounding
        for k in np.flatnonzero(stakes >= max(params.min_stake, 0.01)):
            out.append(
                BetProposal(
                    candidate=c,
                    outcome=names[k],
                    bookmaker=c.books[k],
                    odds=float(o[k]),
                    stake=float(stakes[k]),
                    edge=float(e[k]),
                    fair_prob=float(p[k]),
                )
            )
            match_staked[c.fixture_id] += float(stakes[k])
            day_staked[c.match_day] += float(stakes[k])
            placed_outcomes[(c.fixture_id, market)].add(names[k])
    return out


def _order(c: ValueCandidate) -> tuple:
    """Sizing order: kick-off, fixture, market, then the line whose best selection has the largest edge."""
    with np.errstate(invalid="ignore"):
        best = np.nanmax(edge(c.fair_probs, c.odds)) if np.isfinite(c.odds).any() else -np.inf
    return (c.kickoff, str(c.fixture_id), MARKETS.index(market_of(c.market).value), -best)


__all__ = [
    "OUTCOMES",
    "StrategyParams",
    "edge",
    "eligible",
    "kelly_stakes",
    "select_bets",
]
