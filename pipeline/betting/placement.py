"""Bet placement: value against the sharp line for freshly stored predictions, written once.

For each outcome the best price among BET_BOOKMAKERS (pipeline.prices), the fair probability from the sharp
book's latest price with its margin removed (FAIR_METHOD), EV = fair probability x price - 1; the strategy
(pipeline.betting.strategy) sizes the bets. The models' probability is the fair one only where no sharp book
prices the match (`fair_source = 'model'`): a model that knows no more than the sharp price cannot find value at
that price (issue 13's measurements), so it does not second-guess the sharp line. Never a bet at a book outside
BET_BOOKMAKERS.

Before staking, the price-error guards (pipeline.betting.screening, the same code the backtest runs) set aside
every outcome whose price looks like an error, a stale quote or a broken fair line: never bet, logged in one line
and stored with its rule in `skipped_candidates`. The prices' ages are judged only where the source says when a
price was seen (`price_times`; football-data files do not).

Over/under and Asian handicap (MARKETS): the same predictions' two-way candidates (pipeline.betting.two_way: the
sharp pair at the line without its margin, else the models' score matrix from the caller's `model_fair`), then
ONE strategy run over every market of the run, so the caps and the bankroll are shared. A two-way bet's
`model_prob` is the models' probability of its selection at its line (conditional on no push); a match whose
prediction has no such view (no expected goals) gets no two-way bet. With MARKETS=1X2 nothing of this runs.

The bankroll is the starting bankroll plus settled profit and loss; the caps count every stake already placed
on the match and the match day, so a re-run or a lineup re-prediction can never double a stake.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from pipeline.betting.ledger import min_acceptable_odds
from pipeline.betting.screening import choose_bets
from pipeline.betting.strategy import StrategyParams
from pipeline.betting.two_way import MatchInfo, ModelFair, two_way_candidates
from pipeline.markets import SELECTIONS, TWO_WAY, Market, MarketPrice, Selection, market_of
from pipeline.outcomes import OUTCOMES
from pipeline.prices import CLOSE_MODEL, MODEL, PriceRules, fair_probabilities
from pipeline.records import Bet, PlacedBet, Prediction, SkippedCandidate, ValueCandidate
from pipeline.store.bets import bets_since, insert_bets, settled_profit
from pipeline.store.skipped import record_skipped

log = logging.getLogger(__name__)


def current_bankroll(conn, starting: float) -> float:
    return starting + settled_profit(conn)


def existing_bets(conn, since: datetime) -> list[PlacedBet]:
    """Bets on matches from `since` on (for per-fixture duplicates and per-day caps)."""
    return bets_since(conn, since)


def _times(frame: pd.DataFrame, column: str) -> list[datetime | None]:
    if column not in frame:
        return [None] * len(frame)
    return [None if pd.isna(t) else pd.Timestamp(t).to_pydatetime() for t in frame[column]]


def _others(frame: pd.DataFrame, o: str) -> list[tuple[float, ...]]:
    if f"others_{o}" not in frame:
        return [()] * len(frame)
    return [tuple(float(p) for p in v) if isinstance(v, tuple) else () for v in frame[f"others_{o}"]]


def _match(frame: pd.DataFrame) -> list[str]:
    """'Chelsea v Luton 2024-05-19' for log lines; the provider's id where the teams are not in the frame."""
    if not {"home_team", "away_team"} <= set(frame.columns):
        return [str(m) for m in frame["match_id"]]
    return [
        f"{h} v {a} {pd.Timestamp(k):%Y-%m-%d}"
        for h, a, k in zip(frame["home_team"], frame["away_team"], frame["kickoff"], strict=True)
    ]


def value_candidates(
    frame: pd.DataFrame,
    predictions: list[Prediction],
    rules: PriceRules,
    close_fair: np.ndarray | None = None,
    price_times: bool = True,
) -> list[ValueCandidate]:
    """Strategy candidates of freshly made predictions: per outcome the best price among BET_BOOKMAKERS and the
    fair probability (the sharp price without its margin; the prediction's own where no sharp book priced it;
    with `close_fair`, FAIR_LINE=close_model's forecast aligned with `frame`, that where it has one), with what
    the guards judge them by (pipeline.prices.GUARD_COLUMNS; the times only when `price_times`, i.e.
    the source's snapshot times are when the prices were seen). A fixture not stored yet (a dry run) is known by
    its provider id."""
    # plain arrays and lists, row by row: pandas access per prediction cost ~0.3 ms (3 s for 10,000 fixtures)
    pos = {m: i for i, m in enumerate(frame["match_id"])}
    fair = fair_probabilities(frame, rules.fair_method)
    best = frame[[f"best_{o}" for o in OUTCOMES]].to_numpy(float)
    books = frame[[f"book_{o}" for o in OUTCOMES]].to_numpy(object)
    sharp_odds = frame[["sharp_home", "sharp_draw", "sharp_away"]].to_numpy(float)
    kickoffs, sharp_books = frame["kickoff"].tolist(), frame["sharp_bookmaker"].tolist()
    names, others = _match(frame), [_others(frame, o) for o in OUTCOMES]
    none: list[datetime | None] = [None] * len(frame)
    seen = [_times(frame, f"seen_{o}") if price_times else none for o in OUTCOMES]
    sharp_seen = _times(frame, "sharp_seen_at") if price_times else none
    candidates = []
    for pred in predictions:
        i = pos[pred.match_id]
        if np.isnan(best[i]).all():
            continue  # none of the user's bookmakers prices this match
        sharp = bool(np.isfinite(fair[i]).all())
        own = close_fair[i] if close_fair is not None else None
        closing = own is not None and bool(np.isfinite(own).all())
        p = own.tolist() if own is not None and closing else fair[i].tolist() if sharp else list(pred.probs)
        candidates.append(
            ValueCandidate(
                fixture_id=pred.fixture_id if pred.fixture_id is not None else pred.match_id,
                kickoff=kickoffs[i],
                fair_probs=(p[0], p[1], p[2]),
                odds=(float(best[i, 0]), float(best[i, 1]), float(best[i, 2])),
                books=(books[i, 0], books[i, 1], books[i, 2]),
                fair_source=CLOSE_MODEL if closing else sharp_books[i] if sharp else MODEL,
                prediction=pred,
                match=names[i],
                sharp_odds=(float(sharp_odds[i, 0]), float(sharp_odds[i, 1]), float(sharp_odds[i, 2]))
                if sharp
                else None,
                other_odds=(others[0][i], others[1][i], others[2][i]),
                odds_seen_at=(seen[0][i], seen[1][i], seen[2][i]),
                sharp_seen_at=sharp_seen[i],
            )
        )
    return candidates


def market_candidates(
    frame: pd.DataFrame,
    predictions: list[Prediction],
    rules: PriceRules,
    markets: Iterable[str],
    prices: Iterable[MarketPrice],
    model_fair: ModelFair | None,
    price_times: bool = True,
) -> list[ValueCandidate]:
    """The two-way candidates (over/under, Asian handicap among `markets`) of freshly made predictions: `prices`
    keyed by the provider's match id (closing ones and other matches' are ignored), the models' view
    `model_fair` where no sharp book prices a line. Only predictions with the models' expected goals take part
    (a bet records the models' probability of its selection)."""
    wanted = [m for m in (market_of(x) for x in markets) if m in TWO_WAY]
    if not wanted or model_fair is None:
        return []
    pos = {m: i for i, m in enumerate(frame["match_id"])}
    kickoffs, names = frame["kickoff"].tolist(), _match(frame)
    matches = {
        p.match_id: MatchInfo(
            p.fixture_id if p.fixture_id is not None else p.match_id,
            kickoffs[pos[p.match_id]],
            names[pos[p.match_id]],
            p,
        )
        for p in predictions
        if p.home_xg is not None and p.away_xg is not None
    }
    return two_way_candidates(prices, matches, rules, wanted, model_fair, price_times)


def model_prob_of(p, model_fair: ModelFair | None) -> float:
    """The deployed models' probability of a proposal's selection: the prediction's own for 1X2, the score
    matrix's at the bet's line (conditional on no push) for a two-way market."""
    pred = p.candidate.prediction
    market = market_of(p.market)
    if market is Market.X12:
        return float(pred.probs[OUTCOMES.index(p.outcome)])
    own = model_fair(pred.match_id, market, float(p.line)) if model_fair is not None else None
    if own is None:  # cannot happen: market_candidates keeps only predictions the models price
        return float("nan")
    return float(np.asarray(own, dtype=float).ravel()[SELECTIONS[market].index(p.outcome)])


def place_bets(
    conn,
    settings,
    now: datetime,
    frame: pd.DataFrame,
    predictions: list[Prediction],
    lineup_based: bool,
    write: bool = True,
    close_fair: np.ndarray | None = None,
    price_times: bool = True,
    market_prices: Iterable[MarketPrice] = (),
    model_fair: ModelFair | None = None,
) -> list[Bet]:
    """Run the guards and the strategy for freshly stored predictions and insert its bets (never duplicating one);
    log and store (`skipped_candidates`) each candidate a guard set aside.

    frame: the predicted fixtures (match frame with their prices, pipeline.prices.PRICE_COLUMNS and GUARD_COLUMNS);
    predictions: theirs, with their ids once stored; close_fair: the close model's fair line (FAIR_LINE=close_model);
    price_times: whether the frame's snapshot times are when the prices were seen (False for football-data files:
    the age guards then do not apply); market_prices: the two-way prices (pre-match, seen by `now`) of the
    frame's matches, by provider match id; model_fair: the models' two-way view
    (pipeline.forecast.predictions.model_two_way). The markets bet are settings.markets (MARKETS).
    """
    rules = PriceRules.from_settings(settings)
    markets = tuple(getattr(settings, "markets", ("1X2",)))
    bankroll = current_bankroll(conn, settings.starting_bankroll)
    existing = existing_bets(conn, now - timedelta(days=2))
    candidates = value_candidates(frame, predictions, rules, close_fair, price_times) if "1X2" in markets else []
    candidates += market_candidates(frame, predictions, rules, markets, market_prices, model_fair, price_times)
    placed = []
    params = StrategyParams.from_settings(settings)
    choice = choose_bets(candidates, bankroll, params, settings.guards, existing, decided_at=now)
    report_skipped(conn, choice.skipped, now, write)
    for p in choice.bets:
        if p.bookmaker not in rules.bet:  # cannot happen (best prices come from BET_BOOKMAKERS only): never bet
            log.error("refused a bet at %r, which is not in BET_BOOKMAKERS", p.bookmaker)
            continue
        pred = p.candidate.prediction
        assert pred is not None  # every candidate here is made from a prediction
        placed.append(
            Bet(
                fixture_id=p.fixture_id,
                prediction_id=pred.id,
                outcome=p.outcome,
                bookmaker=p.bookmaker,
                odds=p.odds,
                stake=p.stake,
                edge=p.edge,
                fair_prob=p.fair_prob,
                fair_source=p.candidate.fair_source,
                model_prob=model_prob_of(p, model_fair),
                lineup_based=lineup_based,
                placed_at=now,
                min_odds=min_acceptable_odds(p.fair_prob, params.min_edge),
                kickoff=p.candidate.kickoff,
                market=market_of(p.market).value,
                line=p.line,
            )
        )
    if write:
        insert_bets(conn, placed)
    return placed


def report_skipped(conn, skipped: list[SkippedCandidate], now: datetime, write: bool = True) -> None:
    """One warning line per candidate the guards set aside (the reason names match, outcome, book, price, fair
    price and rule), and its row in `skipped_candidates` (not in a dry run)."""
    for s in skipped:
        log.warning("%s", s.reason)
    if write and skipped:
        record_skipped(conn, skipped, now)


def bet_name(market: str, line: float | None, outcome: str) -> str:
    """How log and alert lines name a bet's selection: "home" for 1X2 (as before), "OU 2.5 over", "AH -0.5 home"."""
    m = market_of(market)
    return outcome if m is Market.X12 else str(Selection(m, line, outcome))


__all__ = [
    "current_bankroll",
    "existing_bets",
    "value_candidates",
    "market_candidates",
    "model_prob_of",
    "place_bets",
    "report_skipped",
    "bet_name",
]
