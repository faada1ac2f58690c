"""Price-error guards: a value candidate is checked before it is staked, and a price that looks like an error, a
stale quote or a broken fair line is never bet. Pure functions over typed inputs, no I/O.

A candidate is one outcome the strategy would bet: the soft price, the fair probability it was judged against and
where that came from (the sharp book's line, margin removed, or the models where no sharp price exists), the sharp
book's three prices, the other soft books' prices of the same outcome and, where the source gives them, the times
the prices were seen. `check_candidate` returns None when every guard passes, else the first failing rule (in
RULES order) with a one-line reason naming match, outcome, book, price, fair price and rule.

The rules, each a setting (GuardSettings, pipeline.guard_settings; environment names in SETTING_NAMES):
- model_fair: the fair line comes from the models (no sharp price): off unless ALLOW_MODEL_FAIR, as the models
  have not shown they know more than the price;
- sharp_incomplete: a sharp fair line without all three outcomes priced (each a finite price above 1);
- sharp_overround: the sharp book's sum of 1/price outside [SHARP_BOOKSUM_MIN, SHARP_BOOKSUM_MAX] (a typo such as
  22.1 for 2.21 gives 0.63; a soft book named sharp can add to under 1.00);
- sharp_age, soft_age: the price older than MAX_SHARP_PRICE_AGE / MAX_SOFT_PRICE_AGE minutes at decision time.
  Only where both times are known: None (football-data files carry no observation times) skips the rule;
- price_ratio: price / fair price (1 / fair probability) above MAX_PRICE_RATIO. Against the same fair line this
  ratio is 1 + EV, so it is the gross-error backstop that still holds when MAX_EDGE is raised or turned off;
- max_edge: EV = fair probability x price - 1 above MAX_EDGE;
- soft_outlier: the price above every other soft book's price of the outcome by more than SOFT_OUTLIER_MARGIN
  (price / highest other - 1), where at least SOFT_OUTLIER_MIN_BOOKS others price it: one book alone far above
  the rest is suspect (a typo or a quote the book has since moved).
A numeric guard set to None ("none" or "off" in the environment) does not apply.

Defaults (bench/guards_study.py on top-5 2014-15..2018-19; reported on 2019-20..2023-24). Those curated files hold
no gross errors, so history shows what a guard costs, not what it stops: each price guard is the strictest setting
costing at most 0.5 units of summed fair CLV on 2014-19 (MAX_EDGE 0.175: 3 of 2127 bets; SOFT_OUTLIER_MARGIN 0.25:
1). Every Pinnacle line of those seasons adds to 1.0125-1.0537, so 1.00-1.12 skips none (under 1.00 a book offers
an arbitrage against itself). Model-fair bets: 4 bets at -4% CLV on average, off. MAX_PRICE_RATIO 1.5 is the
backstop at EV +50%. The ages cannot be measured on files without times: 180 minutes (three missed hourly runs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pipeline.guard_settings import SETTING_NAMES, GuardSettings, GuardSettingsError, parse_setting
from pipeline.outcomes import OUTCOMES

FairSource = Literal["sharp", "model"]
RULES = (
    "model_fair",
    "sharp_incomplete",
    "sharp_overround",
    "sharp_age",
    "soft_age",
    "price_ratio",
    "max_edge",
    "soft_outlier",
)


@dataclass(frozen=True)
class GuardCandidate:
    """One outcome the strategy would bet, with what the guards judge it by.

    sharp_prices: the sharp book's home, draw, away prices (None or NaN where missing; may be None altogether
    when the fair line is the models'). other_soft_prices: the other betting books' prices of this outcome.
    Times are tz-aware; None where the source gives none (the age rules then do not apply)."""

    match_id: str
    outcome: str
    bookmaker: str
    price: float
    fair_prob: float
    fair_source: FairSource
    sharp_prices: tuple[float | None, ...] | None = None
    other_soft_prices: tuple[float, ...] = ()
    decided_at: datetime | None = None
    price_seen_at: datetime | None = None
    sharp_seen_at: datetime | None = None
    market: str = "1X2"  # pipeline.markets.Market's value; a two-way market's outcome reads "OU 2.5 over"

    def __post_init__(self) -> None:
        if self.market == "1X2" and self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        if self.fair_source not in ("sharp", "model"):
            raise ValueError(f"fair_source must be 'sharp' or 'model', got {self.fair_source!r}")
        if not (math.isfinite(self.price) and self.price > 1.0):
            raise ValueError(f"price must be a finite number above 1, got {self.price!r}")
        if not (math.isfinite(self.fair_prob) and 0.0 < self.fair_prob < 1.0):
            raise ValueError(f"fair_prob must be in (0, 1), got {self.fair_prob!r}")
        if self.sharp_prices is not None and len(self.sharp_prices) != (3 if self.market == "1X2" else 2):
            raise ValueError("sharp_prices must be the prices of every selection of the market (1X2: home, draw, away)")

    @property
    def fair_price(self) -> float:
        return 1.0 / self.fair_prob

    @property
    def edge(self) -> float:
        return self.fair_prob * self.price - 1.0


@dataclass(frozen=True)
class GuardFailure:
    """The first failing guard of a candidate: `rule` (one of RULES) and a one-line `reason`."""

    rule: str
    reason: str


def _usable(price: float | None) -> bool:
    return price is not None and math.isfinite(price) and price > 1.0


def sharp_booksum(prices: Sequence[float | None] | None) -> float | None:
    """Sum of 1/price over the market's selections; None unless all are priced (finite, above 1)."""
    usable = [p for p in prices or () if p is not None and _usable(p)]
    if prices is None or len(prices) < 2 or len(usable) != len(prices):
        return None
    return sum(1.0 / p for p in usable)


def _age_minutes(now: datetime | None, seen: datetime | None) -> float | None:
    if now is None or seen is None:
        return None
    return (now - seen).total_seconds() / 60.0


def _failures(c: GuardCandidate, s: GuardSettings):
    """(rule, what failed) for every failing rule, in RULES order (a generator: the first is enough)."""
    if c.fair_source == "model" and not s.allow_model_fair:
        yield "model_fair", "fair line from the models (no sharp price); ALLOW_MODEL_FAIR is off"
    if c.fair_source == "sharp":
        total = sharp_booksum(c.sharp_prices)
        if total is None:
            yield "sharp_incomplete", f"sharp prices {_prices(c.sharp_prices)} do not price every outcome"
        elif not s.sharp_booksum_min <= total <= s.sharp_booksum_max:
            yield (
                "sharp_overround",
                f"sharp prices {_prices(c.sharp_prices)} add to {total:.3f}, outside "
                f"{s.sharp_booksum_min:.2f}-{s.sharp_booksum_max:.2f}",
            )
        age = _age_minutes(c.decided_at, c.sharp_seen_at)
        if s.max_sharp_age_minutes is not None and age is not None and age > s.max_sharp_age_minutes:
            yield "sharp_age", f"sharp price {age:.0f} min old, limit {s.max_sharp_age_minutes:g}"
    age = _age_minutes(c.decided_at, c.price_seen_at)
    if s.max_soft_age_minutes is not None and age is not None and age > s.max_soft_age_minutes:
        yield "soft_age", f"price {age:.0f} min old, limit {s.max_soft_age_minutes:g}"
    ratio = c.price / c.fair_price
    if s.max_price_ratio is not None and ratio > s.max_price_ratio:
        yield "price_ratio", f"price / fair price {ratio:.2f} above {s.max_price_ratio:g}"
    if s.max_edge is not None and c.edge > s.max_edge:
        yield "max_edge", f"EV {c.edge:+.1%} above {s.max_edge:.1%}"
    if s.soft_outlier_margin is not None:
        others = [p for p in c.other_soft_prices if _usable(p)]
        if len(others) >= s.soft_outlier_min_books:
            top = max(others)
            if c.price / top - 1.0 > s.soft_outlier_margin:
                yield (
                    "soft_outlier",
                    f"{c.price / top - 1.0:+.0%} above the highest of {len(others)} other soft books ({top:.2f})",
                )


def _prices(prices: Sequence[float | None] | None) -> str:
    if prices is None:
        return "none"
    return "/".join("-" if p is None or not math.isfinite(p) else f"{p:.2f}" for p in prices)


def check_candidate(candidate: GuardCandidate, settings: GuardSettings) -> GuardFailure | None:
    """None when the candidate passes every guard, else the first failing rule (RULES order) and its reason."""
    for rule, why in _failures(candidate, settings):
        c = candidate
        return GuardFailure(
            rule,
            f"skipped {c.match_id} {c.outcome} at {c.bookmaker} {c.price:.2f}, fair {c.fair_price:.2f} "
            f"({c.fair_source}): {rule}: {why}",
        )
    return None


__all__ = [
    "RULES",
    "SETTING_NAMES",
    "GuardSettings",
    "GuardSettingsError",
    "GuardCandidate",
    "GuardFailure",
    "check_candidate",
    "parse_setting",
    "sharp_booksum",
]
