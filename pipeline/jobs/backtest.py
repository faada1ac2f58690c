"""The walk-forward backtest: history replayed the way production would have lived it.

Every week (Monday 00:00 UTC to the next) of the test period, the models are refitted on what was known before
that week and predict that week's matches; nothing about a match is used before its kick-off. The model
classes, windows and settings are production's (`pipeline.modelset`, the settings of `pipeline.config`):
- Elo: ratings updated match by match (point in time by construction); its rating-to-1X2 mapping refitted
  every week on every match after the burn-in (as the deployed Elo's);
- Dixon-Coles: refitted every week per league on the three years before the week (warm-started);
- XGBoost: refitted every `xgb_refit_weeks` weeks (1, as production) on the most recent
  STACK_MATCHES + VALIDATION_MATCHES matches with out-of-sample inputs (the deployed XGBoost's window);
- the stacking ensemble: refitted every week on the most recent out-of-sample predictions, as many as the
  deployed ensemble is fitted on (STACK_MATCHES * 3/4 + VALIDATION_MATCHES).
One shortcut: the stacking inputs are the walk-forward's own out-of-sample predictions of earlier weeks, where
the weekly training job makes them anew with expanding folds; both are out of sample. The other shortcuts
(ratings in one pass, warm-started fits, features computed once) give the probabilities that production's
`ModelSet.predict` gives for the same week: tests/test_backtest.py checks that on a sample of weeks.
Before the test period the same loop runs through WARMUP_YEARS of warm-up, so the first test week already has
out-of-sample XGBoost and ensemble training data.

Scores (log loss, Brier, RPS, accuracy) are reported per league and overall for every model, the ensemble, the
price-only baseline `market_recalibrated` (the ensemble's market input alone, pooled by the ensemble's own
machinery and refitted on the same rows every week) and the market prices, on exactly the same matches; the
ensemble's log loss difference to `market_recalibrated` is paired, with a standard error clustered by match day.

Betting, two rules side by side on the same test matches, each with its bankroll carried week to week, Kelly
sizing and caps from the strategy settings:
- value against the sharp line (the rule production follows): the fair probability is the first
  SHARP_BOOKMAKERS pre-match price with the margin removed by FAIR_METHOD (the ensemble's probability where no
  sharp price exists, marked `fair_source = model`); each outcome's price is the best among BET_BOOKMAKERS;
- the model at the sharp price (the previous way): the ensemble's probability against the pre-match price the
  models see (Pinnacle's for these files), kept to show what it was worth.
Every bet is graded by closing-line value against the fair close, one definition everywhere
(`pipeline.odds.fair_clv`): price taken x the sharp book's closing probability with the margin removed - 1,
with CLV_METHOD and, side by side, with each of the three methods. The margin-inclusive ratio (price /
closing price - 1) of the previous way is kept, named `clv_margin_inclusive`; it is not CLV.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.betting.strategy import OUTCOMES, StrategyParams, select_bets
from pipeline.bookmakers import FOOTBALL_DATA_PREFIXES, SHARP_DEFAULT, SOFT_DEFAULT, canonical
from pipeline.config import ConfigError, load_settings
from pipeline.forecast.features import form_features, market_features
from pipeline.forecast.models.elo import EloModel
from pipeline.forecast.models.ensemble import StackingEnsemble
from pipeline.forecast.models.xgb import XGBoostModel
from pipeline.forecast.modelset import STACK_MATCHES, XGB_FOLDS, _feature_frame, dc_walk_forward
from pipeline.jobs.runner import EXIT_CONFIG, EXIT_DATAERR, EXIT_NOINPUT
from pipeline.metrics import outcomes_from_goals, score_all
from pipeline.odds import METHODS, fair_clv, implied_probabilities
from pipeline.providers.base import ProviderError
from pipeline.providers.football_data import load_matches
from pipeline.records import ValueCandidate
from pipeline.threads import limit_threads
from pipeline.value_stats import mean_ci, mean_se

WARMUP_YEARS = 3  # Dixon-Coles from 3 years before the test, XGBoost from 2, the ensemble from the start
MIN_XGB_ROWS = 1000
MIN_STACK_ROWS = 1000
ELO_BURN_IN = 300  # the deployed Elo's burn-in (train_model_set: min(300, ...))
ESTABLISHED_MATCHES = 10
MODELS = ("elo", "dixon_coles", "xgboost", "ensemble")
BASELINES = ("market_recalibrated",)
MARKETS = {"market_prematch": "odds", "market_closing": "close"}


@dataclass
class BacktestResult:
    start: pd.Timestamp
    end: pd.Timestamp
    predictions: pd.DataFrame  # one row per test match: ids, outcome, every forecaster and every price
    scores: dict  # {"overall"|league: {forecaster: {n, log_loss, brier, rps, accuracy}}}
    betting: dict  # see betting_summary; the previous rule under "model_at_sharp_price"
    bets: pd.DataFrame  # the value bets (soft books against the fair sharp line)
    info: dict = field(default_factory=dict)
    previous_bets: pd.DataFrame | None = None  # the ensemble's bets at the sharp price
    weeks: dict = field(default_factory=dict)  # fitted models of the weeks asked for by `keep_weeks`

    def to_json(self) -> dict:
        return {
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            **self.info,
            "scores": self.scores,
            "betting": self.betting,
        }


# ---- every bookmaker's prices ------------------------------------------------------------------------------
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
            for o, side in zip(OUTCOMES, "HDA"):
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


def first_price(pred: pd.DataFrame, books: Sequence[str], kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(odds, book) per match: the first of `books` with a complete price (SHARP_BOOKMAKERS: first one wins)."""
    odds = np.full((len(pred), 3), np.nan)
    source = np.full(len(pred), None, dtype=object)
    for book in books:
        o = _book_odds(pred, book, kind)
        take = np.isfinite(o).all(axis=1) & ~np.isfinite(odds).all(axis=1)
        odds[take] = o[take]
        source[take] = canonical(book)
    return odds, source


def best_price(pred: pd.DataFrame, books: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(odds, book) per match and outcome: the highest pre-match price among `books` (first listed on a tie)."""
    odds = np.full((len(pred), 3), np.nan)
    source = np.full((len(pred), 3), None, dtype=object)
    for book in books:
        o = _book_odds(pred, book, "pre")
        with np.errstate(invalid="ignore"):
            take = np.isfinite(o) & ~(o <= odds)
        odds[take] = o[take]
        source[take] = canonical(book)
    return odds, source


# ---- the walk-forward --------------------------------------------------------------------------------------
def _week_index(kickoff: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    return ((kickoff - origin).dt.total_seconds() // (7 * 86400)).astype(int).to_numpy()


def _probs_columns(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[[f"{name}_home", f"{name}_draw", f"{name}_away"]].to_numpy(float)


def _utc(when) -> pd.Timestamp:
    t = pd.Timestamp(when)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _test_period(start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError("the test period is empty: --to must be after --from")
    return start, end


def run_backtest(
    matches: pd.DataFrame,
    start,
    end,
    *,
    xi: float = 0.0019,
    margin_method: str = "multiplicative",
    strategy: StrategyParams | None = None,
    bankroll: float = 1000.0,
    xgb_refit_weeks: int = 1,
    seed: int = 0,
    prices: pd.DataFrame | None = None,
    sharp_books: Sequence[str] = SHARP_DEFAULT,
    bet_books: Sequence[str] = SOFT_DEFAULT,
    fair_method: str = "power",
    clv_method: str = "shin",
    validation_matches: int = 1000,
    stack_matches: int = STACK_MATCHES,
    keep_weeks: Sequence = (),
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """`prices`: every bookmaker's prices by match id (book_prices); without them only the previous rule
    is simulated. `keep_weeks`: dates whose week's fitted models are kept in `result.weeks` (for tests)."""
    say = progress or (lambda msg: None)
    start, end = _test_period(start, end)
    if xgb_refit_weeks < 1:
        raise ValueError("xgb_refit_weeks must be at least 1")
    for name, m in (("fair_method", fair_method), ("clv_method", clv_method)):
        if m not in METHODS:
            raise ValueError(f"{name} must be one of {METHODS}, got {m!r}")
    xgb_window = stack_matches + validation_matches  # train_model_set: S + V
    stack_window = stack_matches - stack_matches // XGB_FOLDS + validation_matches  # S1 + V
    timings: dict[str, float] = {}
    frame = matches[matches["home_goals"].notna() & matches["away_goals"].notna() & (matches["kickoff"] < end)]
    frame = frame.sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)
    test_mask = (frame["kickoff"] >= start).to_numpy()
    if not test_mask.any():
        raise ValueError(f"no played matches between {start.date()} and {end.date()}")
    if (~test_mask).sum() < 1000:
        raise ValueError(
            f"only {(~test_mask).sum()} matches before {start.date()}: the models need at least "
            "1000 earlier matches (ideally three seasons or more) to learn from"
        )
    y = outcomes_from_goals(frame["home_goals"], frame["away_goals"])
    origin = (start - pd.Timedelta(days=start.day_of_week)).normalize()  # the Monday of the first test week
    week = _week_index(frame["kickoff"], origin)
    dc_from = origin - pd.DateOffset(years=WARMUP_YEARS)
    xgb_from = origin - pd.DateOffset(years=WARMUP_YEARS - 1)
    keep = {int(_week_index(pd.Series([_utc(d)]), origin)[0]) for d in keep_weeks}

    t = time.perf_counter()
    elo = EloModel(burn_in=0).fit(frame)  # only its point-in-time ratings are used
    hist = elo.history_.loc[frame["match_id"]]
    elo_diff = elo.rating_diff(hist["home_rating"].to_numpy(), hist["away_rating"].to_numpy())
    timings["elo_ratings"] = time.perf_counter() - t

    t = time.perf_counter()
    win_idx = np.flatnonzero((frame["kickoff"] >= dc_from).to_numpy())
    dc_p, dc_xg = dc_walk_forward(frame, win_idx, xi, progress=say, origin=origin)
    timings["dixon_coles"] = time.perf_counter() - t

    form = form_features(frame)
    market = market_features(frame, margin_method)
    market_p = market.to_numpy(float)
    priced = np.isfinite(market_p).all(axis=1)
    elo_p = np.full((len(frame), 3), np.nan)
    xgb_p = np.full((len(frame), 3), np.nan)
    ens_p = np.full((len(frame), 3), np.nan)
    recal_p = np.full((len(frame), 3), np.nan)
    t_elo = t_xgb = t_ens = 0.0
    elo_map = EloModel(burn_in=0, home_advantage=elo.home_advantage)
    xgb = None
    weeks = np.unique(week[(frame["kickoff"] >= xgb_from).to_numpy()])
    feats = None
    kept: dict = {}
    for n, w in enumerate(weeks):
        rows = np.flatnonzero(week == w)
        before = np.flatnonzero(week < w)
        t = time.perf_counter()
        # as the deployed Elo: the mapping fitted on every match after the burn-in
        elo_map.fit_mapping(elo_diff[ELO_BURN_IN : len(before)], y[ELO_BURN_IN : len(before)], warm_start=True)
        elo_p[rows] = elo_map.proba_from_diff(elo_diff[rows])
        t_elo += time.perf_counter() - t
        cols = _feature_frame(frame.iloc[rows], elo_p[rows], elo_diff[rows], dc_p[rows], dc_xg[rows], form, market)
        feats = cols if feats is None else pd.concat([feats, cols])
        t = time.perf_counter()
        known = feats.index[feats.index.isin(before)]
        known = known[np.isfinite(dc_p[known]).all(axis=1)][-xgb_window:]
        if len(known) >= MIN_XGB_ROWS and (xgb is None or n % xgb_refit_weeks == 0):
            xgb = XGBoostModel(seed=seed).fit(feats.loc[known], y[known])
        if xgb is not None:
            ok = rows[np.isfinite(dc_p[rows]).all(axis=1)]
            if len(ok):
                xgb_p[ok] = xgb.predict_proba(feats.loc[ok])
        t_xgb += time.perf_counter() - t
        ens = None
        if test_mask[rows].any() or w in keep:
            t = time.perf_counter()
            stack = before[np.isfinite(xgb_p[before]).all(axis=1)][-stack_window:]
            if len(stack) >= MIN_STACK_ROWS:
                base = {"elo": elo_p, "dixon_coles": dc_p, "xgboost": xgb_p, "market": market_p}
                ens = StackingEnsemble().fit({k: v[stack] for k, v in base.items()}, y[stack])
                ok = rows[np.isfinite(xgb_p[rows]).all(axis=1)]
                if len(ok):
                    ens_p[ok] = ens.predict_proba({k: v[ok] for k, v in base.items()})
                # the price-only baseline: the same pool, the same rows, the market alone
                has = stack[priced[stack]]
                if len(has) >= MIN_STACK_ROWS:
                    recal = StackingEnsemble(members=("market",), use_market=False).fit(
                        {"market": market_p[has]}, y[has]
                    )
                    ok = rows[priced[rows]]
                    if len(ok):
                        recal_p[ok] = recal.predict_proba({"market": market_p[ok]})
            t_ens += time.perf_counter() - t
        if w in keep:
            kept[str((origin + pd.Timedelta(weeks=int(w))).date())] = {
                "week_start": origin + pd.Timedelta(weeks=int(w)),
                "match_ids": frame["match_id"].iloc[rows].tolist(),
                "xgboost": xgb,
                "ensemble": ens,
                "elo_slope": elo_map.slope_,
                "elo_cutpoints": elo_map.cutpoints_,
            }
        if n % 26 == 0 or n == len(weeks) - 1:
            say(f"week {n + 1}/{len(weeks)} ({frame['kickoff'].iloc[rows[0]].date()})")
    timings.update({"elo_mapping": t_elo, "xgboost": t_xgb, "ensemble": t_ens})

    test = np.flatnonzero(test_mask)
    pred = frame.iloc[test][
        [
            "match_id",
            "league",
            "season",
            "kickoff",
            "home_team",
            "away_team",
            "home_goals",
            "away_goals",
            "odds_home",
            "odds_draw",
            "odds_away",
            "close_home",
            "close_draw",
            "close_away",
        ]
        + [c for c in ("odds_bookmaker", "close_bookmaker") if c in frame]
    ].copy()
    pred["outcome"] = y[test]
    pred["established"] = _established(frame)[test]
    for name, p in (
        ("elo", elo_p),
        ("dixon_coles", dc_p),
        ("xgboost", xgb_p),
        ("ensemble", ens_p),
        ("market_recalibrated", recal_p),
    ):
        pred[f"{name}_home"], pred[f"{name}_draw"], pred[f"{name}_away"] = p[test, 0], p[test, 1], p[test, 2]
    for name, prefix in MARKETS.items():
        p = implied_probabilities(
            pred[[f"{prefix}_home", f"{prefix}_draw", f"{prefix}_away"]].to_numpy(float), margin_method
        )
        pred[f"{name}_home"], pred[f"{name}_draw"], pred[f"{name}_away"] = p[:, 0], p[:, 1], p[:, 2]
    pred = pred.reset_index(drop=True)
    pred = add_value_columns(pred, prices, sharp_books, bet_books, fair_method)

    params = strategy or StrategyParams()
    t = time.perf_counter()
    fair = _probs_columns(pred, "fair")
    best = _probs_columns(pred, "best")
    best_book = pred[[f"best_{o}_book" for o in OUTCOMES]].to_numpy(object)
    bets = grade(
        simulate(pred, fair, best, best_book, params, bankroll, pred["fair_source"].to_numpy(object)), pred, clv_method
    )
    prev_books = (
        np.repeat(pred["odds_bookmaker"].to_numpy(object)[:, None], 3, axis=1)
        if "odds_bookmaker" in pred
        else np.full((len(pred), 3), None, dtype=object)
    )
    previous = grade(
        simulate(pred, _probs_columns(pred, "ensemble"), _probs_columns(pred, "odds"), prev_books, params, bankroll),
        pred,
        clv_method,
    )
    timings["betting"] = time.perf_counter() - t
    scores, info = score_predictions(pred)
    betting = betting_summary(bets, pred, bankroll, clv_method)
    betting["rule"] = (
        f"fair probability: {', '.join(sharp_books)} pre-match, margin removed by {fair_method} "
        f"(the ensemble where no sharp price); price: the best of {', '.join(bet_books)}; "
        f"bet when EV >= {params.min_edge:g}; CLV against the fair {', '.join(sharp_books)} close "
        f"({clv_method})"
    )
    betting["model_at_sharp_price"] = {
        "rule": "the previous way: the ensemble's probability against the sharp pre-match price itself, "
        "graded against the same fair close",
        **betting_summary(previous, pred, bankroll, clv_method),
    }
    info["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    info["xgb_refit_weeks"] = xgb_refit_weeks
    info["windows"] = {
        "xgboost_matches": xgb_window,
        "ensemble_matches": stack_window,
        "elo_mapping": f"every match after the first {ELO_BURN_IN}",
        "dixon_coles_days": round(3 * 365.25, 2),
    }
    info["value"] = {
        "sharp_bookmakers": list(sharp_books),
        "bet_bookmakers": list(bet_books),
        "fair_method": fair_method,
        "clv_method": clv_method,
        "matches_with_sharp_prematch": int(np.isfinite(_probs_columns(pred, "sharp_pre")).all(axis=1).sum()),
        "matches_with_sharp_close": int(np.isfinite(_probs_columns(pred, "sharp_close")).all(axis=1).sum()),
    }
    return BacktestResult(start, end, pred, scores, betting, bets, info, previous, kept)


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
    pre, pre_src = first_price(pred, sharp_books, "pre")
    close, close_src = first_price(pred, sharp_books, "close")
    fair = implied_probabilities(pre, fair_method)
    has = np.isfinite(fair).all(axis=1)
    model = _probs_columns(pred, "ensemble")
    use_model = ~has & np.isfinite(model).all(axis=1)
    fair[use_model] = model[use_model]
    pred["fair_source"] = np.where(has, pre_src, np.where(use_model, "model", None))
    pred["sharp_close_book"] = close_src
    best, best_src = best_price(pred, bet_books)
    for k, o in enumerate(OUTCOMES):
        pred[f"sharp_pre_{o}"], pred[f"sharp_close_{o}"], pred[f"fair_{o}"] = pre[:, k], close[:, k], fair[:, k]
        pred[f"best_{o}"], pred[f"best_{o}_book"] = best[:, k], best_src[:, k]
    for m in METHODS:
        p = implied_probabilities(close, m)
        for k, o in enumerate(OUTCOMES):
            pred[f"close_fair_{m}_{o}"] = p[:, k]
    return pred


def simulate(
    pred: pd.DataFrame,
    probs: np.ndarray,
    odds: np.ndarray,
    books: np.ndarray,
    params: StrategyParams,
    bankroll: float,
    fair_source: np.ndarray | None = None,
) -> pd.DataFrame:
    """The strategy run week by week (probabilities `probs` against prices `odds` offered by `books`, all (n, 3)
    aligned with `pred`); each week's bets settled at the final score before the next week is sized."""
    cols = [
        "row",
        "match_id",
        "league",
        "season",
        "kickoff",
        "match_day",
        "bet_outcome",
        "bookmaker",
        "odds",
        "stake",
        "edge",
        "model_prob",
        "fair_source",
        "won",
        "profit",
        "bankroll_before",
    ]
    with np.errstate(invalid="ignore"):
        ok = np.flatnonzero(np.isfinite(probs).all(axis=1) & (np.isfinite(odds) & (odds > 1)).any(axis=1))
    if not len(ok):
        return pd.DataFrame(columns=cols)
    kick = pred["kickoff"].iloc[ok]
    origin = (kick.min() - pd.Timedelta(days=kick.min().day_of_week)).normalize()
    week = _week_index(kick, origin)
    out = []
    for w in np.unique(week):
        rows = ok[week == w]
        cands = [
            ValueCandidate(
                fixture_id=int(i),
                kickoff=pred["kickoff"].iat[i],
                fair_probs=(probs[i, 0], probs[i, 1], probs[i, 2]),
                odds=(odds[i, 0], odds[i, 1], odds[i, 2]),
            )
            for i in rows
        ]
        week_profit = 0.0
        for b in select_bets(cands, bankroll, params):
            i, k = int(b.fixture_id), OUTCOMES.index(b.outcome)
            won = int(pred["outcome"].iat[i]) == k
            profit = round(b.stake * (b.odds - 1), 2) if won else -b.stake
            out.append(
                {
                    "row": i,
                    "match_id": pred["match_id"].iat[i],
                    "league": pred["league"].iat[i],
                    "season": pred["season"].iat[i],
                    "kickoff": pred["kickoff"].iat[i],
                    "match_day": str(pred["kickoff"].iat[i].date()),
                    "bet_outcome": b.outcome,
                    "bookmaker": books[i, k],
                    "odds": b.odds,
                    "stake": b.stake,
                    "edge": b.edge,
                    "model_prob": b.fair_prob,
                    "fair_source": fair_source[i] if fair_source is not None else "model",
                    "won": won,
                    "profit": profit,
                    "bankroll_before": bankroll,
                }
            )
            week_profit += profit
        bankroll = round(bankroll + week_profit, 2)
    return pd.DataFrame(out, columns=cols)


def grade(bets: pd.DataFrame, pred: pd.DataFrame, clv_method: str) -> pd.DataFrame:
    """Closing-line value of each bet against the fair sharp close, by every margin-removal method; `clv` is the
    one graded by `clv_method`. NaN where the match has no sharp closing price."""
    bets = bets.copy()
    rows = bets["row"].to_numpy(int)
    k = np.array([OUTCOMES.index(o) for o in bets["bet_outcome"]], int)
    bets["sharp_close_odds"] = _probs_columns(pred, "sharp_close")[rows, k] if len(bets) else []
    for m in METHODS:
        p = _probs_columns(pred, f"close_fair_{m}")[rows, k] if len(bets) else np.array([])
        bets[f"fair_close_prob_{m}"] = p
        bets[f"clv_{m}"] = fair_clv(bets["odds"].to_numpy(float), p)
    bets["clv"] = bets[f"clv_{clv_method}"]
    close = _probs_columns(pred, "close")[rows, k] if len(bets) else np.array([])
    with np.errstate(invalid="ignore", divide="ignore"):
        bets["clv_margin_inclusive"] = bets["odds"].to_numpy(float) / close - 1  # price / closing price - 1
    return bets


def _ci(lo: float, hi: float) -> list | None:
    return [lo, hi] if np.isfinite(lo) and np.isfinite(hi) else None


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def bet_stats(b: pd.DataFrame, clv_method: str) -> dict:
    """One group of bets: counts, money, ROI and fair CLV (flat and stake-weighted) with 95% intervals
    clustered by match day, the share beating the fair close, under `clv_method` and every method."""
    n = len(b)
    stake = b["stake"].to_numpy(float)
    profit = b["profit"].to_numpy(float)
    day = b["match_day"].to_numpy(object)
    turnover = float(stake.sum())
    out = {"bets": int(n), "turnover": round(turnover, 2), "profit": round(float(profit.sum()), 2)}
    roi, lo, hi = mean_ci(profit / stake, day, weights=stake) if n else (np.nan,) * 3
    out.update(
        {
            "roi": _num(roi),
            "roi_ci95": _ci(lo, hi),
            "win_rate": _num(b["won"].mean()) if n else None,
            "mean_odds": _num(b["odds"].mean()) if n else None,
        }
    )
    by_method = {}
    for m in METHODS:
        clv = b[f"clv_{m}"].to_numpy(float)
        graded = np.isfinite(clv)
        mean, lo, hi = mean_ci(clv, day) if n else (np.nan,) * 3
        wmean, wlo, whi = mean_ci(clv, day, weights=stake) if n else (np.nan,) * 3
        by_method[m] = {
            "mean": _num(mean),
            "ci95": _ci(lo, hi),
            "stake_weighted": _num(wmean),
            "stake_weighted_ci95": _ci(wlo, whi),
            "share_beating_fair_close": _num((clv[graded] > 0).mean()) if graded.any() else None,
            "expected_profit": round(float(np.nansum(stake * clv)), 2),
        }
    main = by_method[clv_method]
    out.update(
        {
            "clv_fair_mean": main["mean"],
            "clv_fair_ci95": main["ci95"],
            "clv_fair_stake_weighted": main["stake_weighted"],
            "clv_fair_stake_weighted_ci95": main["stake_weighted_ci95"],
            "share_beating_fair_close": main["share_beating_fair_close"],
            "expected_profit": main["expected_profit"],
            "clv_fair_by_method": by_method,
            "bets_without_sharp_close": int((~np.isfinite(b["clv"].to_numpy(float))).sum()) if n else 0,
        }
    )
    if "fair_source" in b:
        out["bets_fair_from_model"] = int((b["fair_source"] == "model").sum())
    if "clv_margin_inclusive" in b:
        ratio = b["clv_margin_inclusive"].to_numpy(float)
        out["clv_margin_inclusive_mean"] = _num(np.nanmean(ratio)) if np.isfinite(ratio).any() else None
    return out


def betting_summary(bets: pd.DataFrame, pred: pd.DataFrame, bankroll: float, clv_method: str) -> dict:
    """{"overall", "by_season", "by_league"}, each from bet_stats; the bankroll at start and end overall."""
    profit = float(bets["profit"].sum()) if len(bets) else 0.0
    out = {
        "clv_method": clv_method,
        "overall": {
            **bet_stats(bets, clv_method),
            "starting_bankroll": bankroll,
            "final_bankroll": round(bankroll + profit, 2),
        },
    }
    for key, col in (("by_season", "season"), ("by_league", "league")):
        out[key] = {str(v): bet_stats(bets[bets[col] == v], clv_method) for v in sorted(pred[col].unique())}
    return out


def _established(frame: pd.DataFrame, years: int = 3, min_matches: int = ESTABLISHED_MATCHES) -> np.ndarray:
    """True where both teams played at least `min_matches` matches in the `years` before kick-off: the subset
    on which public Dixon-Coles benchmarks are quoted (promoted teams' first matches left out)."""
    # one sorted array of kick-offs per team; a match's count is a difference of two binary searches
    long = pd.concat(
        [frame[["kickoff"]].assign(team=frame["home_team"]), frame[["kickoff"]].assign(team=frame["away_team"])]
    )
    times = {t: np.sort(g["kickoff"].to_numpy()) for t, g in long.groupby("team")}
    window = np.timedelta64(int(years * 365.25), "D")
    ko = frame["kickoff"].to_numpy()
    ok = np.ones(len(frame), bool)
    for side in ("home_team", "away_team"):
        n = np.array(
            [
                np.searchsorted(times[t], k) - np.searchsorted(times[t], k - window)
                for t, k in zip(frame[side].to_numpy(), ko)
            ]
        )
        ok &= n >= min_matches
    return ok


def score_predictions(pred: pd.DataFrame) -> tuple[dict, dict]:
    """Every forecaster on the same matches: those where every model predicted and both prices exist."""
    # a model that never predicted (too little history for it) is left out and named, not allowed to empty the set
    have = {n: np.isfinite(_probs_columns(pred, n)).all(axis=1) for n in (*MODELS, *BASELINES)}
    models = [n for n in MODELS if have[n].any()]
    if not models:
        raise ValueError("no model could predict any test match: give the backtest more history before --from")
    models_ok = np.column_stack([have[n] for n in models]).all(axis=1)
    markets_ok = np.column_stack([np.isfinite(_probs_columns(pred, n)).all(axis=1) for n in MARKETS]).all(axis=1)
    use_markets = bool((models_ok & markets_ok).any())
    baselines = [n for n in BASELINES if use_markets and have[n][models_ok & markets_ok].all()]
    common = models_ok & markets_ok if use_markets else models_ok
    forecasters = [*models, *baselines, *MARKETS] if use_markets else models
    scores = {}
    for league, idx in [("overall", np.flatnonzero(common))] + [
        (lg, np.flatnonzero(common & (pred["league"] == lg).to_numpy())) for lg in sorted(pred["league"].unique())
    ]:
        y = pred["outcome"].to_numpy()[idx]
        scores[league] = {n: score_all(_probs_columns(pred, n)[idx], y) for n in forecasters}
    est = np.flatnonzero(common & pred["established"].to_numpy(bool)) if "established" in pred else []
    established = (
        {n: score_all(_probs_columns(pred, n)[est], pred["outcome"].to_numpy()[est]) for n in forecasters}
        if len(est)
        else {}
    )
    priced = np.isfinite(_probs_columns(pred, "odds")).all(axis=1)
    info = {
        "test_matches": int(len(pred)),
        "scored_matches": int(common.sum()),
        "left_out": {
            "no_model_prediction": int((~models_ok).sum()),
            "no_model_prediction_with_a_price": int((~models_ok & priced).sum()),
            "no_prematch_or_closing_price": int((models_ok & ~markets_ok).sum()) if use_markets else None,
        },
        "models_without_predictions": [n for n in MODELS if n not in models],
        "prices": {},
        "established_teams": {
            "definition": f"both teams played >= {ESTABLISHED_MATCHES} matches in the 3 "
            "years before kick-off (how public Dixon-Coles figures are quoted)",
            "n": int(len(est)),
            "scores": established,
        },
    }
    if baselines and "ensemble" in models:
        idx = np.flatnonzero(common)
        y = pred["outcome"].to_numpy()[idx]
        nll = {
            n: -np.log(np.clip(_probs_columns(pred, n)[idx][np.arange(len(idx)), y], 1e-15, 1))
            for n in ("ensemble", "market_recalibrated")
        }
        diff, se = mean_se(nll["ensemble"] - nll["market_recalibrated"], pred["kickoff"].iloc[idx].dt.date.to_numpy())
        info["paired_log_loss"] = {
            "ensemble_minus_market_recalibrated": {
                "diff": float(diff),
                "se": float(se),
                "n": int(len(idx)),
                "clustered_by": "match day",
            }
        }
    for name, prefix in MARKETS.items():
        col = f"{prefix}_bookmaker"
        if col in pred:
            counts = pred.loc[common, col].value_counts()
            info["prices"][name] = {str(k): int(v) for k, v in counts.items()}
    return scores, info


# ---- output ------------------------------------------------------------------------------------------------
def _pct(x, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:+.{digits}f}%"


def _pct_ci(ci) -> str:
    return "" if not ci else f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def _betting_table(summary: dict, clv_method: str) -> list[str]:
    lines = [
        f"  {'':<10}{'bets':>6}{'turnover':>10}{'profit':>9}  {'ROI [95% CI]':<24}"
        f"{'fair CLV (' + clv_method + ') [95% CI]':<30}{'stake-wtd':>10}{'beat close':>11}"
    ]
    groups = [("overall", summary["overall"])] + list(summary["by_season"].items()) + list(summary["by_league"].items())
    for name, b in groups:
        roi = _pct(b["roi"]) + _pct_ci(b["roi_ci95"])
        clv = _pct(b["clv_fair_mean"], 2) + _pct_ci(b["clv_fair_ci95"])
        beat = f"{b['share_beating_fair_close']:.2f}" if b["share_beating_fair_close"] is not None else "-"
        lines.append(
            f"  {name:<10}{b['bets']:>6}{b['turnover']:>10.0f}{b['profit']:>9.0f}  {roi:<24}{clv:<30}"
            f"{_pct(b['clv_fair_stake_weighted'], 2):>10}{beat:>11}"
        )
    o = summary["overall"]
    lines.append(
        "  fair CLV overall by margin-removal method of the close: "
        + "; ".join(f"{m} {_pct(v['mean'], 2)}{_pct_ci(v['ci95'])}" for m, v in o["clv_fair_by_method"].items())
    )
    lines.append(
        f"  bankroll {o['starting_bankroll']:.2f} -> {o['final_bankroll']:.2f}; expected profit "
        f"(sum of stake x fair CLV) {o['expected_profit']:+.0f}; bets without a sharp close "
        f"{o['bets_without_sharp_close']}"
    )
    return lines


def format_result(result: BacktestResult) -> str:
    info = result.info
    lines = [
        f"Walk-forward backtest {result.start.date()} to {result.end.date()}: {info['test_matches']} test "
        f"matches, {info['scored_matches']} scored (every forecaster on exactly these matches; left out: "
        f"{info['left_out']})."
    ]
    for name, counts in info.get("prices", {}).items():
        lines.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + " (margin removed)")
    for league, table in result.scores.items():
        lines.append("")
        lines.append(f"{league}:")
        lines.append(f"  {'forecaster':<20}{'n':>7}{'log loss':>10}{'Brier':>8}{'RPS':>8}{'acc':>7}")
        for name, m in table.items():
            lines.append(
                f"  {name:<20}{m['n']:>7}{m['log_loss']:>10.4f}{m['brier']:>8.4f}{m['rps']:>8.4f}{m['accuracy']:>7.3f}"
            )
    paired = info.get("paired_log_loss", {}).get("ensemble_minus_market_recalibrated")
    if paired:
        lines.append(
            f"ensemble minus market_recalibrated, log loss paired on {paired['n']} matches: "
            f"{paired['diff']:+.5f} (se {paired['se']:.5f}, clustered by match day)"
        )
    est = info.get("established_teams", {})
    if est.get("scores"):
        lines.append("")
        lines.append(f"overall, established teams only ({est['definition']}): {est['n']} matches")
        for name, m in est["scores"].items():
            lines.append(
                f"  {name:<20}{m['n']:>7}{m['log_loss']:>10.4f}{m['brier']:>8.4f}{m['rps']:>8.4f}{m['accuracy']:>7.3f}"
            )
    b = result.betting
    lines += ["", f"Value bets ({b['rule']}):"] + _betting_table(b, b["clv_method"])
    prev = b["model_at_sharp_price"]
    lines += ["", f"Beside it, {prev['rule']}:"] + _betting_table(prev, b["clv_method"])
    lines.append(
        f"  (margin-inclusive ratio price / closing price - 1, not CLV: "
        f"{_pct(prev['overall'].get('clv_margin_inclusive_mean'), 2)})"
    )
    lines.append(f"timings (s): {info['timings_seconds']}")
    return "\n".join(lines)


def run(
    data_dir,
    leagues: list[str] | None,
    start: str,
    end: str,
    json_path=None,
    xgb_refit_weeks: int = 1,
    predictions_path=None,
    echo: Callable[[str], None] = print,
) -> int:
    """What `production/backtest.py` does; returns the exit code (0 done, 65 bad data, 78 bad configuration)."""
    try:
        settings = load_settings(data_source="sandbox")  # the backtest reads files: no provider key needed
        params = StrategyParams.from_settings(settings)
        limit_threads(settings.cpu_threads)
    except (ConfigError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        _test_period(start, end)  # before reading a file: the data cannot fix it
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATAERR
    t0 = time.perf_counter()
    try:
        frame, problems = load_matches(data_dir, leagues)
    except ProviderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOINPUT
    if frame.empty:
        print(f"error: no matches for leagues {leagues or 'any'} under {data_dir}/mmz4281", file=sys.stderr)
        return EXIT_DATAERR
    if leagues:
        missing = sorted(set(leagues) - set(frame["league"]))
        if missing:
            print(f"error: no files for league(s) {', '.join(missing)} under {data_dir}/mmz4281", file=sys.stderr)
            return EXIT_DATAERR
    in_test = (frame["kickoff"] >= _utc(start)) & (frame["kickoff"] < _utc(end))
    books = list(dict.fromkeys([*settings.sharp_bookmakers, *settings.bet_bookmakers]))
    prices = book_prices(frame[frame["season"].isin(frame.loc[in_test, "season"].unique())], books)
    echo(
        f"read {len(frame)} matches ({', '.join(sorted(frame['league'].unique()))}) and {len(books)} "
        f"bookmakers' prices in {time.perf_counter() - t0:.1f}s; {len(problems)} rows skipped"
    )
    for p in problems[:10]:
        echo(f"  skipped: {p}")
    try:
        result = run_backtest(
            frame,
            start,
            end,
            xi=settings.dc_xi,
            margin_method=settings.margin_method,
            strategy=params,
            bankroll=settings.starting_bankroll,
            xgb_refit_weeks=xgb_refit_weeks,
            prices=prices,
            sharp_books=settings.sharp_bookmakers,
            bet_books=settings.bet_bookmakers,
            fair_method=settings.fair_method,
            clv_method=settings.clv_method,
            validation_matches=settings.validation_matches,
            progress=lambda m: echo(f"  [{time.perf_counter() - t0:6.1f}s] {m}"),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATAERR
    result.info["run_seconds"] = round(time.perf_counter() - t0, 1)
    result.info["rows_skipped"] = len(problems)
    echo(format_result(result))
    echo(f"backtest finished in {result.info['run_seconds']}s")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(result.to_json(), fh, indent=2, default=str)
        echo(f"wrote {json_path}")
    if predictions_path:
        result.predictions.to_csv(predictions_path, index=False)
        echo(f"wrote {predictions_path} ({len(result.predictions)} test matches)")
    return 0
