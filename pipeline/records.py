"""The money path's records. One record per predicted fixture flows one way, each stage making a new one and
never editing the one it was given:

    Prediction (pipeline.forecast.predictions; `id` set once stored, pipeline.store.predictions)
      -> ValueCandidate (pipeline.betting.placement: the best prices and the fair probability, with its prediction)
      -> BetProposal (pipeline.betting.screening.choose_bets: the price-error guards, then
         pipeline.betting.strategy.select_bets: an outcome and a stake, with its candidate)
      -> Bet (pipeline.betting.placement: what is written to `bets`, pipeline.store.bets)

An outcome the guards set aside becomes a SkippedCandidate instead (`skipped_candidates`, pipeline.store.skipped).

`PlacedBet` is a bet already in the store as the strategy's caps count it; `PendingBet` a pending bet with its
match's result, as settlement reads it (pipeline.store.settlement). Outcomes are the strings of
pipeline.outcomes.OUTCOMES. A leaf module: it imports nothing from the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# A fixture's key on the money path: the store's fixtures.id; a fixture not stored yet (a dry run) is known by
# its provider id; the backtest numbers its rows.
FixtureKey = int | str


@dataclass(frozen=True)
class Prediction:
    """The deployed models' probabilities for one fixture, beside the market's margin-free view; the fields are
    the columns of `predictions` (plus `match_id`, the provider's id)."""

    match_id: str
    fixture_id: int | None  # None until the fixture is stored
    prediction_time: datetime
    model_version: str
    home_prob: float
    draw_prob: float
    away_prob: float
    input_key: str  # what it was made from (pipeline.prices.prices_key, and the lineup once it is out)
    uses_lineups: bool = False
    home_xg: float | None = None
    away_xg: float | None = None
    market_home_prob: float | None = None
    market_draw_prob: float | None = None
    market_away_prob: float | None = None
    details: str | None = None  # JSON: each base model's numbers
    id: int | None = None  # predictions.id, once stored

    @property
    def probs(self) -> tuple[float, float, float]:
        return (self.home_prob, self.draw_prob, self.away_prob)

    @property
    def key(self) -> tuple[int | None, str, str]:
        """The store's natural key: one prediction per fixture, model version and input."""
        return (self.fixture_id, self.model_version, self.input_key)


@dataclass(frozen=True)
class ValueCandidate:
    """One market of a fixture the strategy may bet on (1X2, or over/under or Asian handicap at one line): per
    selection (pipeline.markets.SELECTIONS order of `market`; OUTCOMES for 1X2) the probability bets are sized on
    and the best price to take. The tuples have one entry per selection (three for 1X2, two for OU and AH)."""

    fixture_id: FixtureKey
    kickoff: datetime
    fair_probs: tuple[float, ...]  # the sharp line's margin-free probabilities (or the model's)
    odds: tuple[float, ...]  # the best price of each selection; NaN where no bookmaker offers one
    books: tuple[str | None, ...] = (None, None, None)  # who offers each price
    fair_source: str = "model"  # the sharp book fair_probs come from, or "model" (pipeline.prices.MODEL)
    prediction: Prediction | None = None  # the stored prediction it came from (None in the backtest)
    # What the price-error guards judge it by (pipeline.betting.guards): the match as people name it, for log lines
    # ("Chelsea v Luton 2024-05-19"); the sharp book's prices the fair line came from; per outcome the other bet
    # books' prices; when each best price and the sharp price were seen (None where the source does not say).
    match: str = ""
    sharp_odds: tuple[float, ...] | None = None
    other_odds: tuple[tuple[float, ...], ...] = ((), (), ())
    odds_seen_at: tuple[datetime | None, ...] = (None, None, None)
    sharp_seen_at: datetime | None = None
    market: str = "1X2"  # pipeline.markets.Market's value
    line: float | None = None  # the total (OU) or the home side's handicap (AH); None for 1X2

    @property
    def match_day(self) -> date:
        """The UTC day of kick-off: the per-day cap's key."""
        return self.kickoff.date()


@dataclass(frozen=True)
class BetProposal:
    """A bet the strategy would place now (pipeline.betting.strategy.select_bets)."""

    candidate: ValueCandidate
    outcome: str  # the selection: "home", "draw", "away" (1X2), "over", "under" (OU), "home", "away" (AH)
    bookmaker: str | None  # candidate.books of that outcome
    odds: float
    stake: float  # currency units, rounded down to cents
    edge: float  # expected value per unit staked: fair_prob * odds - 1
    fair_prob: float  # the probability it was sized on (candidate.fair_probs of that outcome)

    @property
    def fixture_id(self) -> FixtureKey:
        return self.candidate.fixture_id

    @property
    def market(self) -> str:
        return self.candidate.market

    @property
    def line(self) -> float | None:
        return self.candidate.line


@dataclass(frozen=True)
class SkippedCandidate:
    """An outcome the price-error guards set aside before staking (pipeline.betting.screening): never bet.
    `rule` is one of pipeline.betting.guards.RULES, `reason` its one line (match, outcome, book, price, fair price,
    rule)."""

    fixture_id: FixtureKey
    outcome: str
    bookmaker: str | None
    odds: float
    fair_prob: float
    edge: float  # fair_prob * odds - 1
    rule: str
    reason: str
    market: str = "1X2"
    line: float | None = None


@dataclass(frozen=True)
class PlacedBet:
    """A bet already placed, as the strategy counts it: no second bet on its outcome, its stake in the caps."""

    fixture_id: FixtureKey
    outcome: str
    stake: float
    match_day: date
    market: str = "1X2"
    line: float | None = None


@dataclass(frozen=True)
class Bet:
    """A placed bet, as written to `bets` (the outcome to `bet_outcome`; status pending until settled)."""

    fixture_id: FixtureKey
    prediction_id: int | None
    outcome: str
    bookmaker: str
    odds: float
    stake: float
    edge: float
    fair_prob: float  # the probability it was sized on (`bets.fair_prob`)
    fair_source: str
    model_prob: float  # the deployed models' probability of the outcome, for comparison (`bets.model_prob`)
    lineup_based: bool
    placed_at: datetime
    min_odds: float | None = None  # the lowest price that still clears MIN_EDGE: fair odds x (1 + MIN_EDGE)
    kickoff: datetime | None = None  # the kick-off it was placed for (`bets.kickoff_at_placement`)
    market: str = "1X2"  # `bets.market`; `outcome` is the selection within it (`bets.bet_outcome`)
    line: float | None = None  # `bets.line`: the total or the home handicap; None for 1X2


@dataclass(frozen=True)
class PendingBet:
    """A pending bet whose match has a row in `results`, as settlement reads it: the bet's `bets` columns (the
    ledger's too), its fixture's kick-off now and the result (`results.status` as `match_status`)."""

    id: int
    fixture_id: int
    bet_outcome: str
    odds: float
    stake: float
    ledger_status: str  # recommended, placed, skipped or missed
    taken_odds: float | None
    taken_stake: float | None
    kickoff_at_placement: datetime | None  # the kick-off it was placed for
    kickoff_time: datetime  # the fixture's kick-off now (a postponed match's new one)
    match_status: str
    home_goals: int | None
    away_goals: int | None
    outcome: str | None  # the match's outcome, None until final
    market: str = "1X2"
    line: float | None = None


__all__ = [
    "FixtureKey",
    "Prediction",
    "ValueCandidate",
    "BetProposal",
    "SkippedCandidate",
    "PlacedBet",
    "Bet",
    "PendingBet",
]
