"""Bets on the replayed matches: every bookmaker's prices, the value rule's prices and fair probabilities, the
strategy run week by week with its bankroll carried over, each bet settled and graded against the fair close.

Two rules side by side on the same test matches, each with Kelly sizing and caps from the strategy settings:
- value against the sharp line (the rule production follows): the fair probability is the first
  SHARP_BOOKMAKERS pre-match price with the margin removed by FAIR_METHOD (the ensemble's probability where no
  sharp price exists, marked `fair_source = model`); each outcome's price is the best among BET_BOOKMAKERS,
  chosen by production's own `pipeline.prices.price_table`;
- the model at the sharp price (the previous way): the ensemble's probability against the pre-match price the
  models see (Pinnacle's for these files), kept to show what it was worth.
The value rule runs production's price-error guards before staking (pipeline.betting.screening.choose_bets, the
code placement runs): a candidate failing one is never bet, and comes back in `skipped`. Football-data files carry
no price times, so the age guards cannot act here; each outcome's "other soft books" are the other BET_BOOKMAKERS
(pipeline.prices.price_table's `others_*`, as in production).
Every bet is settled and graded by production's rules (`pipeline.betting.settlement`: `closing_line_value` against
the fair sharp close), with CLV_METHOD and, side by side, each of the three methods.
The margin-inclusive ratio (price / closing price - 1, `pipeline.betting.settlement.close_ratio_with_margin`) of
the previous way is kept, named `clv_margin_inclusive`; it is not CLV.
Given the two-way markets' prices (`two_way_bets.TwoWayBook`), the value rule bets them in the same weekly choice
as 1X2, one bankroll and the caps across markets, each bet with its `market` and `line`, settled and graded at
its line (two_way_bets).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.betting.guards import GuardSettings
from pipeline.betting.market_settlement import HALF_WIN, NO_CLOSE, settle_market
from pipeline.betting.screening import choose_bets
from pipeline.betting.settlement import LOSS, WIN, bet_profit, close_ratio_with_margin, closing_line_value
from pipeline.betting.strategy import StrategyParams
from pipeline.bookmakers import FOOTBALL_DATA_PREFIXES, canonical
from pipeline.evaluation.two_way_bets import TwoWayBook
from pipeline.evaluation.walk_forward import probs_columns, week_index
from pipeline.markets import Market, Selection, market_of
from pipeline.odds import METHODS, implied_probabilities
from pipeline.outcomes import LETTERS, OUTCOMES, index_of
from pipeline.prices import MODEL, PriceRules, price_table
from pipeline.records import BetProposal, SkippedCandidate, ValueCandidate

BET_COLUMNS = [
    "row",
    "match_id",
    "league",
    "season",
    "kickoff",
    "match_day",
    "market",  # pipeline.markets.Market's value: 1X2, OU, AH
    "line",  # the total (OU) or the home side's handicap (AH); None for 1X2
    "bet_outcome",  # the selection: home/draw/away, over/under, home/away
    "bookmaker",
    "odds",
    "stake",
    "edge",
    "fair_prob",  # the probability the bet was sized on (the ensemble's where fair_source is "model")
    "fair_source",
    "result",  # win, loss; half_win, push, half_loss for two-way lines
    "won",  # won, or half won
    "profit",
    "bankroll_before",
]


def book_slug(name: str) -> str:
    """A column-safe name for a bookmaker: "Bet&Win" -> "bet_and_win"."""
    return re.sub(r"[^a-z0-9]+", "_", canonical(name).lower().replace("&", " and ")).strip("_")


def book_prices(frame: pd.DataFrame, books: Sequence[str]) -> pd.DataFrame:
    """Each named bookmaker's pre-match and closing 1X2 prices, indexed by match id; columns
    `<book>_<pre|close>_<home|draw|away>` (book_slug names).

    Taken from the per-bookmaker columns every football-data match frame carries (PSH, PSD, PSA, PSCH, ...: the
    provider's parse leaves a book's three prices NaN for a match unless all are valid and above 1), so the files
    are read once, with the rows and match ids of the frame the models see.
    """
    out = {}
    for book in books:
        prefix = FOOTBALL_DATA_PREFIXES[canonical(book)]
        for name, p in (("pre", prefix), ("close", prefix + "C")):
            for o, side in zip(OUTCOMES, LETTERS):
                col = f"{p}{side}"
                out[f"{book_slug(book)}_{name}_{o}"] = (
                    frame[col].to_numpy(float) if col in frame else np.full(len(frame), np.nan)
                )
    return pd.DataFrame(out, index=pd.Index(frame["match_id"].to_numpy(), name="match_id"))


def _book_odds(pred: pd.DataFrame, book: str, kind: str) -> np.ndarray:
    cols = [f"{book_slug(book)}_{kind}_{o}" for o in OUTCOMES]
    if not all(c in pred for c in cols):
        return np.full((len(pred), 3), np.nan)
    return pred[cols].to_numpy(float)


def _price_table(pred: pd.DataFrame, books: Sequence[str], kind: str, rules: PriceRules) -> pd.DataFrame:
    """`pipeline.prices.price_table` over the `kind` ("pre" or "close") prices of `books`, one snapshot per book
    and match; indexed by row of `pred`, bookmaker columns None where no book priced the match."""
    when = pd.Timestamp(0, tz="UTC")
    parts = [
        pd.DataFrame(
            {"row": np.arange(len(pred)), "bookmaker": canonical(book), "fetched_at": when}
            | {o: p for o, p in zip(OUTCOMES, _book_odds(pred, book, kind).T)}
        )
        for book in books
    ]
    table = price_table(pd.concat(parts, ignore_index=True), rules, key="row").reindex(range(len(pred)))
    for c in table.columns:
        if table[c].dtype == object:
            table[c] = table[c].where(table[c].notna(), None)
    return table


def add_value_columns(
    pred: pd.DataFrame,
    prices: pd.DataFrame | None,
    sharp_books: Sequence[str],
    bet_books: Sequence[str],
    fair_method: str,
) -> pd.DataFrame:
    """Every price used, by bookmaker; the sharp pre-match and closing price; the fair probability (sharp price,
    margin removed by `fair_method`, else the ensemble's, `fair_source` says which); fair closing probabilities by
    every method; the best bettable price per outcome and its bookmaker."""
    pred = pred.copy()
    books = list(dict.fromkeys([*sharp_books, *bet_books]))
    if prices is not None and len(prices):
        wanted = [f"{book_slug(b)}_{k}_{o}" for b in books for k in ("pre", "close") for o in OUTCOMES]
        got = prices.reindex(columns=[c for c in wanted if c in prices]).reindex(pred["match_id"].to_numpy())
        for c in got:
            pred[c] = got[c].to_numpy(float)
    rules = PriceRules(tuple(canonical(b) for b in sharp_books), tuple(canonical(b) for b in bet_books), fair_method)
    at_pre = _price_table(pred, books, "pre", rules)
    at_close = _price_table(pred, sharp_books, "close", rules)
    pre = probs_columns(at_pre, "sharp")
    close = probs_columns(at_close, "sharp")
    fair = implied_probabilities(pre, fair_method)
    has = np.isfinite(fair).all(axis=1)
    model = probs_columns(pred, "ensemble")
    use_model = ~has & np.isfinite(model).all(axis=1)
    fair[use_model] = model[use_model]
    pred["fair_source"] = np.where(
        has, at_pre["sharp_bookmaker"].to_numpy(object), np.where(use_model, MODEL, np.array(None, dtype=object))
    )
    pred["sharp_close_book"] = at_close["sharp_bookmaker"].to_numpy(object)
    for k, o in enumerate(OUTCOMES):
        pred[f"sharp_pre_{o}"], pred[f"sharp_close_{o}"], pred[f"fair_{o}"] = pre[:, k], close[:, k], fair[:, k]
        pred[f"best_{o}"], pred[f"best_{o}_book"] = (
            at_pre[f"best_{o}"].to_numpy(float),
            at_pre[f"book_{o}"].to_numpy(object),
        )
        pred[f"others_{o}"] = at_pre[f"others_{o}"].to_numpy(object)  # the other bet books' prices (guards)
    for m in METHODS:
        p = implied_probabilities(close, m)
        for k, o in enumerate(OUTCOMES):
            pred[f"close_fair_{m}_{o}"] = p[:, k]
    return pred


def _others(pred: pd.DataFrame, i: int, o: str) -> tuple[float, ...]:
    v = pred[f"others_{o}"].iat[i] if f"others_{o}" in pred else ()
    return tuple(float(x) for x in v) if isinstance(v, tuple) else ()


def _candidates(
    pred: pd.DataFrame,
    rows: np.ndarray,
    probs: np.ndarray,
    odds: np.ndarray,
    books: np.ndarray,
    fair_source: np.ndarray | None,
    sharp: np.ndarray,
) -> list[ValueCandidate]:
    """The strategy's input for the matches `rows`: one candidate per match, keyed by its row in `pred`, with what
    the guards judge it by (`sharp`: the sharp pre-match prices; no price times: the files have none)."""
    out = []
    for i in rows:
        source = fair_source[i] if fair_source is not None else MODEL
        s = sharp[i]
        out.append(
            ValueCandidate(
                fixture_id=int(i),
                kickoff=pred["kickoff"].iat[i],
                fair_probs=(probs[i, 0], probs[i, 1], probs[i, 2]),
                odds=(odds[i, 0], odds[i, 1], odds[i, 2]),
                books=(books[i, 0], books[i, 1], books[i, 2]),
                fair_source=source,
                match=f"{pred['home_team'].iat[i]} v {pred['away_team'].iat[i]} {pred['kickoff'].iat[i]:%Y-%m-%d}"
                if "home_team" in pred
                else str(pred["match_id"].iat[i]),
                sharp_odds=None if source == MODEL else (float(s[0]), float(s[1]), float(s[2])),
                other_odds=(_others(pred, i, "home"), _others(pred, i, "draw"), _others(pred, i, "away")),
            )
        )
    return out


def _settled(pred: pd.DataFrame, b: BetProposal, books: np.ndarray) -> tuple[str | None, str, bool, float]:
    """(bookmaker, result, won, profit) of a chosen bet at the match's 90-minute score: 1X2 by
    pipeline.betting.settlement's rule, a two-way market's by pipeline.betting.market_settlement's."""
    i = int(b.fixture_id)
    if market_of(b.market) is Market.X12:
        k = index_of(b.outcome)
        won = int(pred["outcome"].iat[i]) == k
        return books[i, k], WIN if won else LOSS, won, bet_profit(WIN if won else LOSS, b.stake, b.odds)
    hg, ag = int(pred["home_goals"].iat[i]), int(pred["away_goals"].iat[i])
    s = settle_market(Selection(market_of(b.market), b.line, b.outcome), hg, ag, b.stake, b.odds)
    return b.bookmaker, s.result, s.result in (WIN, HALF_WIN), s.profit


def simulate(
    pred: pd.DataFrame,
    probs: np.ndarray,
    odds: np.ndarray,
    books: np.ndarray,
    params: StrategyParams,
    bankroll: float,
    fair_source: np.ndarray | None = None,
    guards: GuardSettings | None = None,
    skipped: list[SkippedCandidate] | None = None,
    two_way: TwoWayBook | None = None,
) -> pd.DataFrame:
    """The strategy run week by week (probabilities `probs` against prices `odds` offered by `books`, all (n, 3)
    aligned with `pred`); each week's bets settled at the final score before the next week is sized. With
    `guards`, production's price-error guards first (pipeline.betting.screening): the candidates they set aside
    are appended to `skipped` (fixture_id: the row in `pred`). With `two_way`, each week's two-way candidates
    (over/under, Asian handicap) join the 1X2 ones in the same choice: one bankroll, the match and day caps
    across markets, as production's placement."""
    with np.errstate(invalid="ignore"):
        has_1x2 = np.isfinite(probs).all(axis=1) & (np.isfinite(odds) & (odds > 1)).any(axis=1)
    ok = np.flatnonzero(has_1x2 | bool(two_way))  # every match may have a two-way candidate
    if not len(ok):
        return pd.DataFrame(columns=BET_COLUMNS)
    kick = pred["kickoff"].iloc[ok]
    origin = (kick.min() - pd.Timedelta(days=kick.min().day_of_week)).normalize()
    week = week_index(kick, origin)
    sharp = probs_columns(pred, "sharp_pre") if "sharp_pre_home" in pred else np.full((len(pred), 3), np.nan)
    out = []
    for w in np.unique(week):
        rows = ok[week == w]
        week_profit = 0.0
        cands = _candidates(pred, rows[has_1x2[rows]], probs, odds, books, fair_source, sharp)
        if two_way:
            cands += two_way.candidates(rows)
        choice = choose_bets(cands, bankroll, params, guards)
        if skipped is not None:
            skipped.extend(choice.skipped)
        for b in choice.bets:
            i = int(b.fixture_id)
            book, result, won, profit = _settled(pred, b, books)
            x12 = market_of(b.market) is Market.X12
            out.append(
                {
                    "row": i,
                    "match_id": pred["match_id"].iat[i],
                    "league": pred["league"].iat[i],
                    "season": pred["season"].iat[i],
                    "kickoff": pred["kickoff"].iat[i],
                    "match_day": str(pred["kickoff"].iat[i].date()),
                    "market": market_of(b.market).value,
                    "line": b.line,
                    "bet_outcome": b.outcome,
                    "bookmaker": book,
                    "odds": b.odds,
                    "stake": b.stake,
                    "edge": b.edge,
                    "fair_prob": b.fair_prob,
                    "fair_source": (fair_source[i] if fair_source is not None else MODEL)
                    if x12
                    else b.candidate.fair_source,
                    "result": result,
                    "won": won,
                    "profit": profit,
                    "bankroll_before": bankroll,
                }
            )
            week_profit += profit
        bankroll = round(bankroll + week_profit, 2)
    return pd.DataFrame(out, columns=BET_COLUMNS)


def grade(bets: pd.DataFrame, pred: pd.DataFrame, clv_method: str, two_way: TwoWayBook | None = None) -> pd.DataFrame:
    """Closing-line value of each bet against the fair sharp close, by every margin-removal method; `clv` is the
    one graded by `clv_method`. NaN where the match has no sharp closing price (`clv_note` says why). 1X2 bets
    here; two-way bets (a `market` column other than 1X2) by `two_way` at their own line (two_way_bets)."""
    bets = bets.copy()
    x12 = (bets["market"] == Market.X12.value).to_numpy() if "market" in bets else np.ones(len(bets), bool)
    graded = _grade_1x2(bets[x12], pred, clv_method)
    if (~x12).any():
        if two_way is None:
            raise ValueError("two-way bets are graded against their sharp close: pass the TwoWayBook")
        graded = pd.concat([graded, bets[~x12].join(two_way.grade(bets[~x12], clv_method))]).loc[bets.index]
    return graded


def _grade_1x2(bets: pd.DataFrame, pred: pd.DataFrame, clv_method: str) -> pd.DataFrame:
    bets = bets.copy()
    rows = bets["row"].to_numpy(int)
    k = np.array([OUTCOMES.index(o) for o in bets["bet_outcome"]], int)
    sharp_close = probs_columns(pred, "sharp_close")[rows] if len(bets) else np.empty((0, 3))
    bets["sharp_close_odds"] = sharp_close[np.arange(len(bets)), k] if len(bets) else []
    for m in METHODS:
        bets[f"fair_close_prob_{m}"] = probs_columns(pred, f"close_fair_{m}")[rows, k] if len(bets) else np.array([])
        bets[f"clv_{m}"] = closing_line_value(bets["odds"].to_numpy(float), sharp_close, k, m)
    bets["clv"] = bets[f"clv_{clv_method}"]
    close = probs_columns(pred, "close")[rows, k] if len(bets) else np.array([])
    bets["clv_margin_inclusive"] = close_ratio_with_margin(bets["odds"].to_numpy(float), close)
    bets["clv_note"] = [None if np.isfinite(x) else NO_CLOSE for x in bets["clv"].to_numpy(float)]
    return bets


__all__ = ["BET_COLUMNS", "book_slug", "book_prices", "add_value_columns", "simulate", "grade"]
