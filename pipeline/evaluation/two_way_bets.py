"""The two-way markets (over/under, Asian handicap) in the backtest's value rule, as production bets them: each
week's candidates from pipeline.betting.two_way (the code production's placement uses), settled on the 90-minute
score by pipeline.betting.market_settlement and graded against the sharp close at the bet's own line.

- Candidates: the week's matches' pre-match two-way prices (pipeline.evaluation.market_files; no price times, so
  the age guards cannot act), the fair line the first SHARP_BOOKMAKERS book pricing both sides of a line, else
  the models' (the Dixon-Coles expected goals of the walk-forward, pipeline.forecast.market_probs with rho 0 as
  production's stored expected goals give it; the guards' model_fair rule then decides), else none.
- Grade: CLV = price x the sharp closing pair's fair probability of the selection at the bet's line - 1, by every
  margin-removal method (pipeline.betting.market_settlement.two_way_clv). The sharp close is the first
  SHARP_BOOKMAKERS book closing at the bet's line; where the sharp book closed only at another line (an Asian
  handicap whose line moved) the CLV is NaN and the bet counted as "no close at the bet's line", never graded
  against the other line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from pipeline.betting.market_settlement import NO_CLOSE, two_way_clv
from pipeline.betting.two_way import MatchInfo, two_way_candidates
from pipeline.bookmakers import canonical
from pipeline.evaluation.market_files import TwoWayPrices
from pipeline.forecast.market_probs import two_way, xg_matrix
from pipeline.markets import SELECTIONS, TWO_WAY, Market, MarketPrice, market_of
from pipeline.odds import METHODS, implied_probabilities
from pipeline.prices import PriceRules
from pipeline.records import ValueCandidate

XG_COLUMNS = ("dc_home_xg", "dc_away_xg")  # the walk-forward's Dixon-Coles expected goals (pred columns)
Pairs = dict[tuple[str, Market], dict[str, dict[float, tuple[float, float]]]]


def price_pairs(prices: Iterable[MarketPrice], closing: bool) -> Pairs:
    """(match, market) -> book -> line -> (price of the first selection, of the second): both sides priced."""
    sides: dict = defaultdict(dict)
    for p in prices:
        if p.closing == closing:
            s = p.selection
            sides[(p.match_id, s.market, canonical(p.bookmaker), s.line)].setdefault(s.index, p.price)
    out: Pairs = defaultdict(lambda: defaultdict(dict))
    for (mid, market, book, line), got in sides.items():
        if 0 in got and 1 in got:
            out[(mid, market)][book][float(line)] = (got[0], got[1])
    return out


class TwoWayBook:
    """The two-way prices of the backtest's matches (rows of `pred`) and what the value rule does with them."""

    def __init__(
        self,
        pred: pd.DataFrame,
        prices: TwoWayPrices,
        rules: PriceRules,
        markets: Iterable[str | Market] = TWO_WAY,
    ) -> None:
        self.rules = rules
        self.markets = tuple(m for m in (market_of(x) for x in markets) if m in TWO_WAY)
        self.ids = pred["match_id"].astype(str).to_numpy(object)
        self.row_of = {m: i for i, m in enumerate(self.ids)}
        self.kickoff = pred["kickoff"].to_numpy(object)
        if {"home_team", "away_team"} <= set(pred):
            self.names = [
                f"{h} v {a} {k:%Y-%m-%d}" for h, a, k in zip(pred["home_team"], pred["away_team"], pred["kickoff"])
            ]
        else:
            self.names = list(self.ids)
        self.xg = (
            pred[list(XG_COLUMNS)].to_numpy(float) if set(XG_COLUMNS) <= set(pred) else np.full((len(pred), 2), np.nan)
        )
        wanted = [p for m in self.ids for p in prices.by_match.get(m, ()) if p.selection.market in self.markets]
        self.pre = defaultdict(list)
        for p in wanted:
            if not p.closing:
                self.pre[p.match_id].append(p)
        self.close = price_pairs(wanted, closing=True)
        self.sharp = [canonical(b) for b in rules.sharp]
        self._by_row: dict[int, list[ValueCandidate]] | None = None

    def __bool__(self) -> bool:
        return bool(self.markets) and bool(self.pre)

    def model_fair(self, match_id: str, market: Market, line: float) -> np.ndarray | None:
        """The models' fair pair at `line`: the Dixon-Coles score matrix of the match's expected goals."""
        hx, ax = self.xg[self.row_of[match_id]]
        if not (np.isfinite(hx) and np.isfinite(ax)):
            return None
        return two_way(xg_matrix(hx, ax), market, line)[0]

    def candidates(self, rows: Sequence[int]) -> list[ValueCandidate]:
        """The two-way candidates of the matches at `rows` (fixture_id: the row). A match's candidates depend on its
        own prices alone, so they are made once for every match and each run (with and without guards) reuses them."""
        if not self:
            return []
        if self._by_row is None:
            rows_all = [self.row_of[m] for m in self.pre]
            matches = {self.ids[i]: MatchInfo(i, self.kickoff[i], self.names[i]) for i in rows_all}
            prices = [p for v in self.pre.values() for p in v]
            self._by_row = defaultdict(list)
            for c in two_way_candidates(prices, matches, self.rules, self.markets, self.model_fair, price_times=False):
                self._by_row[int(c.fixture_id)].append(c)
        return [c for i in rows for c in self._by_row.get(int(i), ())]

    def sharp_close(self, match_id: str, market: Market, line: float) -> tuple[float, tuple[float, float]]:
        """(line, pair) of the sharp close a bet at `line` is graded against: the first sharp book closing at that
        line, else the first closing at another (its line: never graded), else (NaN, NaN pair)."""
        books = self.close.get((match_id, market), {})
        for b in self.sharp:
            if line in books.get(b, {}):
                return line, books[b][line]
        for b in self.sharp:
            if books.get(b):
                other = min(books[b], key=lambda x: abs(x - line))
                return other, books[b][other]
        return float("nan"), (float("nan"), float("nan"))

    def grade(self, bets: pd.DataFrame, clv_method: str) -> pd.DataFrame:
        """The two-way bets' grade columns (as simulation.grade's): the sharp close of the selection at its line,
        its fair probability and CLV by every method, `clv` by `clv_method`, `clv_note` why a bet is ungraded."""
        out = pd.DataFrame(index=bets.index)
        n = len(bets)
        side = np.array([SELECTIONS[market_of(m)].index(s) for m, s in zip(bets["market"], bets["bet_outcome"])], int)
        close = [
            self.sharp_close(str(mid), market_of(m), float(line))
            for mid, m, line in zip(bets["match_id"], bets["market"], bets["line"])
        ]
        close_line = np.array([c[0] for c in close], float)
        pair = np.array([c[1] for c in close], float).reshape(n, 2)
        odds = bets["odds"].to_numpy(float)
        line = bets["line"].to_numpy(float)
        at_line = np.isclose(close_line, line)
        own = np.where(at_line, pair[np.arange(n), side] if n else np.array([]), np.nan)
        out["sharp_close_odds"] = own
        note = np.full(n, None, dtype=object)
        for m in METHODS:
            fair = implied_probabilities(pair, m) if n else np.empty((0, 2))
            out[f"fair_close_prob_{m}"] = np.where(at_line, fair[np.arange(n), side] if n else [], np.nan)
            clv, why = two_way_clv(odds, line, side, close_line, pair, m)
            out[f"clv_{m}"] = clv
            note = why
        out["clv"] = out[f"clv_{clv_method}"]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["clv_margin_inclusive"] = odds / own - 1
        out["clv_note"] = [None if pd.isna(x) else x for x in note]
        out.loc[~np.isfinite(pair).all(axis=1), "clv_note"] = NO_CLOSE
        return out


__all__ = ["XG_COLUMNS", "TwoWayBook", "price_pairs"]
