"""What a price is a price of: a market, its line and a selection. A leaf module (the standard library and
pipeline.bookmakers' names).

- 1X2: no line; selections home, draw, away (pipeline.outcomes' order).
- OU (over/under total goals): the line is the total (2.5; whole and quarter lines too: 2.0, 2.25); selections
  over, under.
- AH (Asian handicap): the line is the HOME team's handicap (-0.75: home gives three quarters of a goal), the one
  number both selections share, as football-data's `AHh` and Sportmonks' `handicap` quote it; selection home plays
  at `line`, away at `-line` (`Selection.handicap`).
Lines are multiples of a quarter goal. A market at one line on one match is one two- or three-way book: the prices of
its selections are what a margin is removed from (pipeline.odds).

football-data.co.uk's columns for the two-way markets (`fd_columns(header)` finds every set a file has):
- totals: `<book><side><line>` with side `>` over / `<` under, e.g. `P>2.5` Pinnacle, `B365<2.5`, closing with a
  `C` after the book (`PC>2.5`, `B365C<2.5`). Any line a file has is read, not only 2.5.
- handicap: `<book>AHH` / `<book>AHA` (home / away), closing `<book>CAHH`. The line: the book's own `<book>AH`
  where a file has one (2003-2006: `B365AH`, `GBAH`, `LBAH`), else `BbAHh` for the Betbrain aggregates, else the
  market's `AHh` (pre-match) / `AHCh` (closing), which every book's price is quoted at (since 2019-20).
- Pinnacle is `P` in these columns (`PS` in the 1X2 ones). `Max`, `Avg`, `BbMx`, `BbAv` are aggregates over many
  books: stored for reference, never bettable (pipeline.bookmakers.AGGREGATES). `BbOU` and `BbAH` count books.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pipeline.bookmakers import AGGREGATES, FOOTBALL_DATA_PREFIXES


class Market(StrEnum):
    X12 = "1X2"
    OU = "OU"
    AH = "AH"


SELECTIONS: dict[Market, tuple[str, ...]] = {
    Market.X12: ("home", "draw", "away"),
    Market.OU: ("over", "under"),
    Market.AH: ("home", "away"),
}
MARKETS: tuple[str, ...] = tuple(m.value for m in Market)
TWO_WAY = (Market.OU, Market.AH)


def market_of(value: str | Market) -> Market:
    try:
        return Market(str(value).upper())
    except ValueError:
        raise ValueError(f"market must be one of {MARKETS}, got {value!r}") from None


def is_quarter(line: float) -> bool:
    """A quarter line (x.25, x.75): a bet on it is half a bet at each neighbouring half and whole line."""
    return (line * 4) % 2 == 1


def split_line(line: float) -> tuple[float, float]:
    """The two lines a stake on `line` is split over: a quarter line's two neighbours, else the line twice."""
    return (line - 0.25, line + 0.25) if is_quarter(line) else (line, line)


def _check_line(market: Market, line: float | None) -> float | None:
    if market is Market.X12:
        if line is not None:
            raise ValueError(f"1X2 has no line, got {line!r}")
        return None
    if line is None or isinstance(line, bool) or not isinstance(line, int | float) or not math.isfinite(line):
        raise ValueError(f"{market.value} needs a finite line, got {line!r}")
    if (line * 4) != round(line * 4):
        raise ValueError(f"{market.value} lines are multiples of 0.25, got {line!r}")
    if market is Market.OU and line <= 0:
        raise ValueError(f"an over/under line is above 0, got {line!r}")
    return float(line) + 0.0  # -0.0 -> 0.0: one key per line


@dataclass(frozen=True)
class Selection:
    """One side of one market at one line: ("OU", 2.5, "over"), ("AH", -0.75, "away"), ("1X2", None, "draw")."""

    market: Market
    line: float | None
    side: str

    def __post_init__(self) -> None:
        market = market_of(self.market)
        object.__setattr__(self, "market", market)
        object.__setattr__(self, "line", _check_line(market, self.line))
        if self.side not in SELECTIONS[market]:
            raise ValueError(f"a {market.value} selection is one of {SELECTIONS[market]}, got {self.side!r}")

    @property
    def handicap(self) -> float:
        """The goals added to the selected team's score (AH only): the line for home, its negative for away."""
        if self.market is not Market.AH or self.line is None:
            raise ValueError(f"{self.market.value} has no handicap")
        return self.line if self.side == "home" else -self.line + 0.0

    @property
    def index(self) -> int:
        """Position of the side in its market's SELECTIONS (the column of its price in an (n, k) array)."""
        return SELECTIONS[self.market].index(self.side)

    def others(self) -> tuple[Selection, ...]:
        """The other selections of the same market at the same line (the rest of its book)."""
        return tuple(Selection(self.market, self.line, s) for s in SELECTIONS[self.market] if s != self.side)

    def __str__(self) -> str:
        line = "" if self.line is None else f" {self.line:+g}" if self.market is Market.AH else f" {self.line:g}"
        return f"{self.market.value}{line} {self.side}"


@dataclass(frozen=True)
class MarketPrice:
    """One bookmaker's price of one selection of one match, pre-match or closing, as seen at `fetched_at` (tz-aware
    UTC; None where the source does not say, e.g. a football-data file row, which the store stamps with the run's
    time like its 1X2 prices)."""

    match_id: str
    bookmaker: str
    selection: Selection
    price: float
    closing: bool = False
    fetched_at: datetime | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.price, int | float) and math.isfinite(self.price) and self.price > 1.0):
            raise ValueError(f"a price is a finite number above 1, got {self.price!r}")


# ---- football-data.co.uk columns ----------------------------------------------------------------------------
# the prefixes of the two-way markets' columns: the 1X2 ones, except Pinnacle's "P" ("PS" in the 1X2 columns)
FD_TWO_WAY_BOOKS = {p: name for name, p in FOOTBALL_DATA_PREFIXES.items() if p != "PS"} | {"P": "Pinnacle"}
FD_AGGREGATES = frozenset(p for p, name in FD_TWO_WAY_BOOKS.items() if name in AGGREGATES)
_TOTAL = re.compile(r"^(?P<book>.+?)(?P<side>[<>])(?P<line>\d+(?:\.\d+)?)$")
_HANDICAP = re.compile(r"^(?P<book>.+?)AH(?P<side>[HA])$")


@dataclass(frozen=True)
class FdColumns:
    """Where one book's two-way prices are in a football-data file: `columns` in SELECTIONS order; the line is
    fixed (`line`, totals) or read per row from `line_column` (handicap)."""

    market: Market
    book_prefix: str  # the file's prefix without the closing "C": "P", "B365", "Max"
    closing: bool
    columns: tuple[str, str]
    line: float | None = None
    line_column: str | None = None

    @property
    def bookmaker(self) -> str:
        return FD_TWO_WAY_BOOKS.get(self.book_prefix, self.book_prefix)

    @property
    def bettable(self) -> bool:
        return self.book_prefix not in FD_AGGREGATES


def _book(prefix: str) -> tuple[str, bool] | None:
    """(book prefix, closing) of a column prefix: "PC" -> ("P", True), "VC" -> ("VC", False); None if unknown."""
    if prefix in FD_TWO_WAY_BOOKS:
        return prefix, False
    if prefix.endswith("C") and prefix[:-1] in FD_TWO_WAY_BOOKS:
        return prefix[:-1], True
    return None


def fd_columns(header: Iterable[str]) -> list[FdColumns]:
    """Every (market, book, pre-match/closing, line) price pair a football-data header carries, both columns
    present. Totals at any line; handicap with its line column (see the module's notes), skipped without one."""
    cols = [str(c).strip() for c in header]
    have = set(cols)
    out: list[FdColumns] = []
    for c in cols:
        m = _TOTAL.match(c)
        if m and m["side"] == ">" and (book := _book(m["book"])):
            under = f"{m['book']}<{m['line']}"
            if under in have:
                out.append(FdColumns(Market.OU, book[0], book[1], (c, under), line=float(m["line"])))
        m = _HANDICAP.match(c)
        if m and m["side"] == "H" and (book := _book(m["book"])):
            away = f"{m['book']}AHA"
            line_col = next(
                (
                    lc
                    for lc in (
                        f"{m['book']}AH" if book[0] not in FD_AGGREGATES else "",
                        "BbAHh" if book[0].startswith("Bb") else "",
                        "AHCh" if book[1] else "AHh",
                    )
                    if lc and lc in have
                ),
                None,
            )
            if away in have and line_col:
                out.append(FdColumns(Market.AH, book[0], book[1], (c, away), line_column=line_col))
    return out


def _number(raw: object) -> float | None:
    try:
        x = float(str(raw).strip())
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def fd_row_prices(
    row: Mapping[str, object], match_id: str, sets: Iterable[FdColumns]
) -> tuple[list[MarketPrice], list[str]]:
    """One file row's two-way prices (both sides valid, above 1) and a problem per price pair that could not be
    read (a line that is not a multiple of 0.25, one side missing or not a price). Blank pairs are no problem."""
    prices: list[MarketPrice] = []
    problems: list[str] = []
    for cs in sets:
        raw = [row.get(c) for c in cs.columns]
        if all(r is None or str(r).strip() == "" for r in raw):
            continue
        odds = [_number(r) for r in raw]
        line = cs.line if cs.line_column is None else _number(row.get(cs.line_column))
        try:
            sels = [Selection(cs.market, line, side) for side in SELECTIONS[cs.market]]
            if any(o is None or o <= 1.0 for o in odds):
                raise ValueError(f"prices {raw[0]!r}/{raw[1]!r} are not both above 1")
        except ValueError as exc:
            problems.append(f"{match_id}: {'/'.join(cs.columns)}: {exc}; pair skipped")
            continue
        prices += [MarketPrice(match_id, cs.bookmaker, s, float(o), cs.closing) for s, o in zip(sels, odds)]  # type: ignore[arg-type]
    return prices, problems


__all__ = [
    "Market",
    "MARKETS",
    "SELECTIONS",
    "TWO_WAY",
    "market_of",
    "is_quarter",
    "split_line",
    "Selection",
    "MarketPrice",
    "FD_TWO_WAY_BOOKS",
    "FD_AGGREGATES",
    "FdColumns",
    "fd_columns",
    "fd_row_prices",
]
