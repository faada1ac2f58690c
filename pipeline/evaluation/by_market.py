"""A betting rule's bets by market (1X2, over/under, Asian handicap): the same statistics as overall
(pipeline.evaluation.bet_stats), for the backtest's JSON (`betting.by_market.<market>`) and its text.

The overall figures of a rule are those of all its markets together (production bets them from one bankroll);
`by_market.1X2` is the match result alone, the figure earlier backtests gave as the overall one. A two-way bet
whose sharp book closed at another line than the bet's is ungraded (CLV NaN) and counted in `no_close_at_line`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from pipeline.betting.market_settlement import NO_CLOSE_AT_LINE
from pipeline.evaluation.bet_stats import BetStats, stats_json
from pipeline.markets import Market


def market_column(bets: pd.DataFrame) -> pd.Series:
    """Each bet's market (1X2 where the frame has no `market` column: bets from before the markets)."""
    if "market" in bets:
        return bets["market"].astype(str)
    return pd.Series(Market.X12.value, index=bets.index, dtype=object)


def no_close_at_line(bets: pd.DataFrame) -> int:
    return int((bets["clv_note"] == NO_CLOSE_AT_LINE).sum()) if "clv_note" in bets else 0


def split(bets: pd.DataFrame, markets: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The bets of each market in `markets` (an empty frame for a market without bets)."""
    m = market_column(bets)
    return {k: bets[(m == k).to_numpy()] for k in markets}


def by_market_json(
    bets: pd.DataFrame, markets: Sequence[str], stats: Callable[[pd.DataFrame], BetStats]
) -> dict[str, dict]:
    """{market: stats_json of its bets, and for the two-way markets `no_close_at_line`}."""
    out = {}
    for k, b in split(bets, markets).items():
        out[k] = stats_json(stats(b))
        if k != Market.X12.value:
            out[k]["no_close_at_line"] = no_close_at_line(b)
            out[k]["lines"] = {f"{x:g}": int(n) for x, n in b["line"].astype(float).value_counts().sort_index().items()}
    return out


def lines_text(by_market: dict[str, dict]) -> list[str]:
    """One line per two-way market: the bets without a close at their line and the lines bet."""
    out = []
    for k, d in by_market.items():
        if k == Market.X12.value or not d["bets"]:
            continue
        lines = ", ".join(f"{x} x{n}" for x, n in d["lines"].items())
        out.append(
            f"  {k}: {d['no_close_at_line']} of {d['bets']} bets without a sharp close at their line; lines {lines}"
        )
    return out


__all__ = ["by_market_json", "lines_text", "market_column", "no_close_at_line", "split"]
