"""The validation contract: what a row must be before it reaches the store or a model, declared once for every
source (football-data.co.uk CSVs, Sportmonks JSON, the sandbox), and the record of a row that is not.

Every source's rows end as `Match`, `Odds` and two-way `MarketPrice` records; `check_match` and `check_odds` hold
the first two to the ranges below whatever the source (pipeline.providers.base.sanitize_batch applies them to every
batch), the providers the two-way pairs (PAIR_IGNORED: football_data_markets.py, sportmonks_markets.py). The
football-data CSV rows are first held to the text forms of their own columns (football_data_rows.py), the
Sportmonks payloads to theirs (sportmonks_payload.py); both use the constants here.

A row that fails is never silent and never fatal: it becomes a `Rejection` (file, line, field, value, rule), its
one-line text joins the batch's problems (the job logs it), the store records it in `rejected_rows`
(pipeline.store.rejected_rows), and the rows around it go on.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from datetime import UTC, datetime

GOALS_MIN, GOALS_MAX = 0, 20  # a 90-minute score per side; the highest top-flight score on record is 13
ODDS_MIN, ODDS_MAX = 1.01, 1000.0  # decimal prices: 1.00 pays nothing back; books quote no 1X2 price above 1000
KICKOFF_MIN = datetime(1990, 1, 1, tzinfo=UTC)  # older than any source we read
KICKOFF_MAX = datetime(2100, 1, 1, tzinfo=UTC)
RESULT_LETTERS = ("H", "D", "A")  # football-data's FTR

# football-data.co.uk's text forms (football_data_rows.py applies them)
DATE_FORMS = ("dd/mm/yyyy", "dd/mm/yy")  # two-digit day and month; yy: 00-68 are 2000-2068, 69-99 1969-1999
TIME_FORMS = ("HH:MM", "H:MM")  # 24-hour, 00:00..23:59, UK local time; "19.45", "9:5", "25:00" are rejected
GOAL_FORMS = ("N", "N.0")  # whole numbers, written "2" or "2.0" (some seasons' files); "1.5" is rejected
DEFAULT_TIME = "15:00"  # an empty or absent Time: the traditional Saturday kick-off, UK time (approximate)
# DST: a UK time that occurs twice (01:00-01:59 on the autumn night) is taken as the earlier instant (summer
# time): a kick-off read too early only closes betting early; one that does not exist (the spring night's
# 01:00-01:59) is taken as the instant the clocks jump to. Either way one log line names the row.

LINE_NONE = 0  # `line` of a row that has no line number (a JSON object, a generated record)


@dataclass(frozen=True)
class Rejection:
    """A row that failed the contract: where it was read, the field and its value, the rule it broke and what was
    done (the rule's text ends with it: "row skipped", or "its prices ignored" for a bookmaker's bad price)."""

    file: str  # the file read, or what was asked ("fixture 123" for an API object)
    line: int  # 1-based line of the file (the header is line 1); LINE_NONE when there is none
    field: str  # the column or payload field ("" when the rule is about the row, e.g. its two teams)
    value: str  # the offending value as text (repr: control characters escaped), at most 200 characters
    rule: str

    def text(self) -> str:
        where = f"{self.file}:{self.line}" if self.line != LINE_NONE else self.file
        return f"{where}: {self.field} {self.value}: {self.rule}" if self.field else f"{where}: {self.rule}"


def shown(value) -> str:
    """A value as the rejection shows and stores it: repr (control characters and lone surrogates escaped, so
    PostgreSQL and a terminal take it), cut to 200 characters."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def goals_ok(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and GOALS_MIN <= int(value) <= GOALS_MAX


def price_ok(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    x = float(value)
    return math.isfinite(x) and ODDS_MIN <= x <= ODDS_MAX


def instant_ok(value) -> bool:
    """A timezone-aware datetime between KICKOFF_MIN and KICKOFF_MAX (pandas' NaT is a datetime and is not)."""
    if not isinstance(value, datetime) or value != value or value.tzinfo is None:  # NaT != NaT
        return False
    try:
        return KICKOFF_MIN <= value <= KICKOFF_MAX
    except (TypeError, ValueError):
        return False


BAD_GOALS = f"score not a whole number {GOALS_MIN}..{GOALS_MAX}; row skipped"
BAD_PRICE = f"price not a number in {ODDS_MIN}..{ODDS_MAX:g}; this bookmaker's prices on the row ignored"
BAD_KICKOFF = f"kick-off not a UTC time in {KICKOFF_MIN.year}..{KICKOFF_MAX.year - 1}; row skipped"
# a two-way price pair (over/under, Asian handicap: pipeline.markets) that cannot be read drops only that pair
PAIR_IGNORED = "this price pair ignored"
BAD_PAIR_PRICE = f"price not a number in {ODDS_MIN}..{ODDS_MAX:g}; {PAIR_IGNORED}"
ONE_SIDE = f"one side of a two-way price pair missing; {PAIR_IGNORED}"
BAD_LINE = f"line not a number that is a multiple of 0.25 (an over/under line above 0); {PAIR_IGNORED}"
NO_LINE = f"price pair without its line; {PAIR_IGNORED}"


def check_match(m) -> tuple[str, object, str] | None:
    """(field, value, rule) of the first field of a `Match` that breaks the contract, or None."""
    if not instant_ok(m.kickoff):
        return "kickoff", m.kickoff, BAD_KICKOFF
    for side in ("home_goals", "away_goals"):
        value = getattr(m, side)
        if value is not None and not goals_ok(value):
            return side, value, BAD_GOALS
    if (m.home_goals is None) != (m.away_goals is None):
        return "home_goals", (m.home_goals, m.away_goals), "one side's score without the other's; row skipped"
    return None


def check_odds(o) -> tuple[str, object, str] | None:
    """(field, value, rule) of the first field of an `Odds` snapshot that breaks the contract, or None."""
    for side in ("home", "draw", "away"):
        if not price_ok(getattr(o, side)):
            return side, getattr(o, side), BAD_PRICE
    if not instant_ok(o.fetched_at):
        return "fetched_at", o.fetched_at, "price time not a UTC time; this bookmaker's prices on the row ignored"
    return None


__all__ = [
    "BAD_GOALS",
    "BAD_KICKOFF",
    "BAD_LINE",
    "BAD_PAIR_PRICE",
    "BAD_PRICE",
    "DATE_FORMS",
    "DEFAULT_TIME",
    "GOALS_MAX",
    "GOALS_MIN",
    "GOAL_FORMS",
    "LINE_NONE",
    "NO_LINE",
    "ODDS_MAX",
    "ODDS_MIN",
    "ONE_SIDE",
    "PAIR_IGNORED",
    "RESULT_LETTERS",
    "Rejection",
    "TIME_FORMS",
    "check_match",
    "check_odds",
    "goals_ok",
    "instant_ok",
    "price_ok",
    "shown",
]
