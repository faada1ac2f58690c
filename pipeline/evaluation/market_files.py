"""The two-way markets' prices (over/under, Asian handicap) of the backtest's matches, by the frame's match ids.

The match frame the backtest reads (pipeline.providers.football_data.load_matches) carries every two-way pair of
its files in columns of their own (pipeline.providers.football_data_markets: `P>2.5`, `PCAHH`, with each handicap
pair's line beside it; a pair that breaks the contract is NaN there and named in the reader's problems, the row
kept). They become `MarketPrice` records here by the provider's own `market_prices`, the code production's store
reads them with, so the files are read once and a price means the same in both. Only the books asked for are
kept: pre-match prices of the sharp and bet books, closing prices of the sharp books (what the grade reads). The
files carry no times: the provider's conventional dates are ignored (price_times False for
pipeline.betting.two_way).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from pipeline.bookmakers import canonical
from pipeline.markets import MarketPrice
from pipeline.providers.football_data_markets import frame_sets, market_prices


@dataclass(frozen=True)
class TwoWayPrices:
    """Every two-way price of the backtest's matches by match id (pre-match and closing)."""

    by_match: dict[str, tuple[MarketPrice, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_match.values())

    def of(self, match_ids: Iterable[str], closing: bool) -> list[MarketPrice]:
        """The pre-match (closing False) or closing prices of `match_ids`."""
        return [p for m in match_ids for p in self.by_match.get(m, ()) if p.closing == closing]


def two_way_prices(
    frame: pd.DataFrame, books: Iterable[str], closing_books: Iterable[str] | None = None
) -> TwoWayPrices:
    """The two-way prices of `books` for every match of `frame` (a match frame with its two-way columns);
    closing prices only of `closing_books` (default: all of `books`)."""
    wanted = {canonical(b) for b in books}
    at_close = wanted if closing_books is None else {canonical(b) for b in closing_books}
    sets = [s for s in frame_sets(frame.columns) if canonical(s.bookmaker) in (at_close if s.closing else wanted)]
    if frame.empty or not sets:
        return TwoWayPrices()
    # only the wanted books' columns: the provider turns every pair of the frame it is given into prices
    cols = list(dict.fromkeys(c for s in sets for c in (*s.columns, s.line_column) if c))
    part = frame[["match_id", "kickoff", *cols]]
    kickoffs = [k.to_pydatetime() for k in part["kickoff"]]
    by_match: dict[str, list[MarketPrice]] = defaultdict(list)
    for p in market_prices(part, part["match_id"].astype(str).tolist(), kickoffs, True, None):
        by_match[p.match_id].append(p)
    return TwoWayPrices({k: tuple(v) for k, v in by_match.items()})


__all__ = ["TwoWayPrices", "two_way_prices"]
