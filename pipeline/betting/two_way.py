"""Value candidates of the two-way markets (over/under, Asian handicap): the same rule as 1X2
(pipeline.betting.placement), per match, market and line. Pure functions, no I/O: production's placement and the
backtest both build their candidates here.

For each (match, market, line) among the MARKETS chosen:
- the fair probabilities: the first SHARP_BOOKMAKERS book that prices BOTH selections at that line, its margin
  removed with FAIR_METHOD (pipeline.odds, on the pair); where no sharp book prices the line, the models' (the
  caller's `model_fair`: the jobs and the backtest take it from the score matrix, pipeline.forecast.market_probs;
  `fair_source = 'model'`, and the guards' model_fair rule then decides), else no candidate;
- per selection the best price among BET_BOOKMAKERS at that line (never an aggregate: the configuration refuses
  them there), with the other bet books' prices of the selection and when each was seen, for the guards.
Only each book's latest pre-match price of a selection counts (a later `fetched_at` wins; closing prices are never
bet). A line is never mixed with another: a sharp price at 2.25 says nothing about 2.5 here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from pipeline.bookmakers import canonical
from pipeline.markets import SELECTIONS, TWO_WAY, Market, MarketPrice, market_of
from pipeline.odds import implied_probabilities
from pipeline.prices import MODEL, PriceRules
from pipeline.records import FixtureKey, Prediction, ValueCandidate


@dataclass(frozen=True)
class MatchInfo:
    """What a candidate needs of its match beyond the prices: its key on the money path, kick-off, the name log
    lines use, and the prediction it comes from (None in the backtest)."""

    fixture_id: FixtureKey
    kickoff: datetime
    match: str = ""
    prediction: Prediction | None = None


# the models' fair probabilities of both selections of (match id, market, line), or None where they have none
ModelFair = Callable[[str, Market, float], "np.ndarray | tuple[float, float] | None"]


def latest_prices(prices: Iterable[MarketPrice]) -> dict[tuple, MarketPrice]:
    """Each book's latest pre-match price per (match, market, line, side): closing prices are left out."""
    out: dict[tuple, MarketPrice] = {}
    for p in prices:
        if p.closing:
            continue
        key = (p.match_id, p.selection.market, p.selection.line, p.selection.side, canonical(p.bookmaker))
        old = out.get(key)
        if old is None or (p.fetched_at is not None and (old.fetched_at is None or p.fetched_at >= old.fetched_at)):
            out[key] = p
    return out


def _pair(books: Mapping[str, dict[str, MarketPrice]], book: str, sides: tuple[str, ...]) -> list[MarketPrice] | None:
    got = books.get(book, {})
    return [got[s] for s in sides] if all(s in got for s in sides) else None


def two_way_candidates(
    prices: Iterable[MarketPrice],
    matches: Mapping[str, MatchInfo],
    rules: PriceRules,
    markets: Iterable[str | Market] = TWO_WAY,
    model_fair: ModelFair | None = None,
    price_times: bool = True,
) -> list[ValueCandidate]:
    """The strategy's candidates of the two-way `markets` for the matches in `matches` (keyed by MarketPrice's
    match_id), in order of match, market and line. `price_times`: whether `fetched_at` is when a price was seen
    (False for football-data files: the age guards then do not apply)."""
    wanted = {market_of(m) for m in markets} & set(TWO_WAY)
    sharp = [canonical(b) for b in rules.sharp]
    bet = [canonical(b) for b in rules.bet]
    books: dict[tuple, dict[str, dict[str, MarketPrice]]] = defaultdict(lambda: defaultdict(dict))
    for (mid, market, line, side, book), p in latest_prices(prices).items():
        if mid in matches and market in wanted:
            books[(mid, market, line)][book][side] = p
    out = []
    order = {m: i for i, m in enumerate(matches)}
    keys = sorted(books, key=lambda k: (order[k[0]], k[1].value, k[2]))
    sharp_pairs: dict[tuple, list[MarketPrice] | None] = {}
    for key in keys:
        sides = SELECTIONS[key[1]]
        sharp_book = next((b for b in sharp if _pair(books[key], b, sides)), None)
        sharp_pairs[key] = _pair(books[key], sharp_book, sides) if sharp_book else None
    # every sharp pair's margin removed at once (the power and Shin solvers cost the same for one row as for many)
    priced = {k: [p.price for p in v] for k, v in sharp_pairs.items() if v is not None}
    fair_of = dict(zip(priced, implied_probabilities(list(priced.values()), rules.fair_method)))
    for mid, market, line in keys:
        by_book = books[(mid, market, line)]
        sides = SELECTIONS[market]
        info = matches[mid]
        sharp_pair = sharp_pairs[(mid, market, line)]
        if sharp_pair is not None and np.isfinite(fair_of[(mid, market, line)]).all():
            fair = fair_of[(mid, market, line)]
            source = sharp_pair[0].bookmaker
        else:  # no sharp pair at this line (or one no margin removal can price): the models' pair, if any
            sharp_pair = None
            own = model_fair(mid, market, float(line)) if model_fair is not None else None
            if own is None:
                continue
            fair = np.asarray(own, dtype=float).ravel()
            source = MODEL
        if not np.isfinite(fair).all():
            continue
        best: list[MarketPrice | None] = []
        others: list[tuple[float, ...]] = []
        for s in sides:
            offered = [by_book[b][s] for b in bet if s in by_book.get(b, {})]
            top = max(offered, key=lambda p: p.price, default=None)  # equal prices: the book listed first
            best.append(top)
            others.append(tuple(p.price for p in offered if p is not top))
        if all(b is None for b in best):
            continue  # none of the user's bookmakers prices this line
        out.append(
            ValueCandidate(
                fixture_id=info.fixture_id,
                kickoff=info.kickoff,
                fair_probs=tuple(float(x) for x in fair),
                odds=tuple(float("nan") if b is None else b.price for b in best),
                books=tuple(None if b is None else b.bookmaker for b in best),
                fair_source=source,
                prediction=info.prediction,
                match=info.match or str(mid),
                sharp_odds=tuple(p.price for p in sharp_pair) if sharp_pair else None,
                other_odds=tuple(others),
                odds_seen_at=tuple(b.fetched_at if b is not None and price_times else None for b in best),
                sharp_seen_at=max((p.fetched_at for p in sharp_pair if p.fetched_at), default=None)
                if sharp_pair and price_times
                else None,
                market=market.value,
                line=line,
            )
        )
    return out


__all__ = ["MatchInfo", "ModelFair", "latest_prices", "two_way_candidates"]
