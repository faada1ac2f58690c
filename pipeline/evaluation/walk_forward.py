"""The walk-forward: history replayed week by week, the models refitted on what was known before each week.

Every week (Monday 00:00 UTC to the next) of the test period, the models are refitted on what was known before
that week and predict that week's matches; nothing about a match is used before its kick-off. The model
classes, windows and settings are production's (`pipeline.forecast.modelset`, the settings of `pipeline.config`):
- Elo: ratings updated match by match (point in time by construction); its rating-to-1X2 mapping refitted
  every week on every match after the burn-in (as the deployed Elo's);
- Dixon-Coles: refitted every week per league on the three years before the week (warm-started);
- XGBoost: refitted every `xgb_refit_weeks` weeks (1, as production) on the most recent
  STACK_MATCHES + VALIDATION_MATCHES matches with out-of-sample inputs (the deployed XGBoost's window);
- the stacking ensemble: refitted every week on the most recent out-of-sample predictions, as many as the
  deployed ensemble is fitted on (STACK_MATCHES * 3/4 + VALIDATION_MATCHES);
- `market_recalibrated`, the price-only baseline: the ensemble's market input alone, pooled by the ensemble's
  own machinery and refitted on the same rows every week;
- the close model (given `close_line` and every bookmaker's `prices`): refitted every week on the three years
  before it, reading the pre-match prices and the ensemble's out-of-sample probabilities (`close_line`).
One shortcut: the stacking inputs are the walk-forward's own out-of-sample predictions of earlier weeks, where
the weekly training job makes them anew with expanding folds; both are out of sample. The other shortcuts
(ratings in one pass, warm-started fits, features computed once) give the probabilities that production's
`ModelSet.predict` gives for the same week: tests/test_backtest.py checks that on a sample of weeks.
Before the test period the same loop runs through WARMUP_YEARS of warm-up, so the first test week already has
out-of-sample XGBoost and ensemble training data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.evaluation.close_line import run_close_line
from pipeline.forecast.fair_line import CloseLine
from pipeline.forecast.features import form_features, market_features, team_columns
from pipeline.forecast.models.elo import EloModel
from pipeline.forecast.models.ensemble import StackingEnsemble
from pipeline.forecast.models.xgb import XGBoostModel
from pipeline.forecast.modelset import STACK_MATCHES, XGB_FOLDS, dc_walk_forward, feature_frame
from pipeline.metrics import outcomes_from_goals
from pipeline.odds import implied_probabilities
from pipeline.outcomes import OUTCOMES, columns

WARMUP_YEARS = 3  # Dixon-Coles from 3 years before the test, XGBoost from 2, the ensemble from the start
MIN_XGB_ROWS = 1000
MIN_STACK_ROWS = 1000
ELO_BURN_IN = 300  # the deployed Elo's burn-in (train_model_set: min(300, ...))
ESTABLISHED_MATCHES = 10
MODELS = ("elo", "dixon_coles", "xgboost", "ensemble")
BASELINES = ("market_recalibrated",)
MARKETS = {"market_prematch": "odds", "market_closing": "close"}  # forecaster -> the price columns it reads
MATCH_COLUMNS = [
    "match_id",
    "league",
    "season",
    "kickoff",
    "home_team",
    "away_team",
    "home_goals",
    "away_goals",
    *(f"{p}_{o}" for p in ("odds", "close") for o in OUTCOMES),
]


@dataclass
class WalkForward:
    """One row per test match (`predictions`: ids, outcome, every forecaster's probabilities `<name>_<outcome>`),
    seconds per stage, the training windows and the fitted models of the weeks asked for."""

    predictions: pd.DataFrame
    timings: dict[str, float]
    windows: dict
    weeks: dict = field(default_factory=dict)


def utc(when) -> pd.Timestamp:
    t = pd.Timestamp(when)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def check_period(start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) in UTC; ValueError when it is empty."""
    start, end = utc(start), utc(end)
    if end <= start:
        raise ValueError("the test period is empty: --to must be after --from")
    return start, end


def week_index(kickoff: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    return ((kickoff - origin).dt.total_seconds() // (7 * 86400)).astype(int).to_numpy()


def probs_columns(df: pd.DataFrame, name: str) -> np.ndarray:
    """(n, 3) of the columns `<name>_home`, `<name>_draw`, `<name>_away`."""
    return df[columns(f"{name}_")].to_numpy(float)


def established(frame: pd.DataFrame, years: int = 3, min_matches: int = ESTABLISHED_MATCHES) -> np.ndarray:
    """True where both teams played at least `min_matches` matches in the `years` before kick-off: the subset
    on which public Dixon-Coles benchmarks are quoted (promoted teams' first matches left out)."""
    # one sorted array of kick-offs per team; a match's count is a difference of two binary searches
    home, away = team_columns(frame)
    long = pd.concat([frame[["kickoff"]].assign(team=frame[home]), frame[["kickoff"]].assign(team=frame[away])])
    times = {t: np.sort(g["kickoff"].to_numpy()) for t, g in long.groupby("team")}
    window = np.timedelta64(int(years * 365.25), "D")
    ko = frame["kickoff"].to_numpy()
    ok = np.ones(len(frame), bool)
    for side in (home, away):
        n = np.array(
            [
                np.searchsorted(times[t], k) - np.searchsorted(times[t], k - window)
                for t, k in zip(frame[side].to_numpy(), ko)
            ]
        )
        ok &= n >= min_matches
    return ok


def walk_forward(
    matches: pd.DataFrame,
    start,
    end,
    *,
    xi: float,
    margin_method: str,
    xgb_refit_weeks: int = 1,
    seed: int = 0,
    validation_matches: int = 1000,
    stack_matches: int = STACK_MATCHES,
    keep_weeks: Sequence = (),
    progress: Callable[[str], None] | None = None,
    close_line: CloseLine | None = None,
    prices: pd.DataFrame | None = None,
) -> WalkForward:
    """Every forecaster's probabilities for the played matches of [start, end), each made from what was known
    before its week. `keep_weeks`: dates whose week's fitted models are kept in `weeks` (for tests);
    `close_line`: the close model's settings, fitted on `prices` (simulation.book_prices) when given."""
    say = progress or (lambda msg: None)
    start, end = check_period(start, end)
    if xgb_refit_weeks < 1:
        raise ValueError("xgb_refit_weeks must be at least 1")
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
    week = week_index(frame["kickoff"], origin)
    dc_from = origin - pd.DateOffset(years=WARMUP_YEARS)
    xgb_from = origin - pd.DateOffset(years=WARMUP_YEARS - 1)
    keep = {int(week_index(pd.Series([utc(d)]), origin)[0]) for d in keep_weeks}

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
        cols = feature_frame(frame.iloc[rows], elo_p[rows], elo_diff[rows], dc_p[rows], dc_xg[rows], form, market)
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
        # the close model learns from the ensemble's earlier out-of-sample probabilities: made from the warm-up on
        if test_mask[rows].any() or w in keep or close_line is not None:
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
                if len(has) >= MIN_STACK_ROWS and (test_mask[rows].any() or w in keep):
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
    close_p = np.full((len(frame), 3), np.nan)
    if close_line is not None:
        close_p, done = run_close_line(frame, prices, ens_p, week, test_mask, origin, close_line)
        timings["close_model"] = done["seconds"]
        say(f"close model: {done['fits']} weekly fits")

    test = np.flatnonzero(test_mask)
    pred = frame.iloc[test][MATCH_COLUMNS + [c for c in ("odds_bookmaker", "close_bookmaker") if c in frame]].copy()
    pred["outcome"] = y[test]
    pred["established"] = established(frame)[test]
    forecasts = {"elo": elo_p, "dixon_coles": dc_p, "xgboost": xgb_p, "ensemble": ens_p, "market_recalibrated": recal_p}
    if close_line is not None:
        forecasts["close_model"] = close_p
    for name, p in forecasts.items():
        for k, o in enumerate(OUTCOMES):
            pred[f"{name}_{o}"] = p[test, k]
    # the Dixon-Coles expected goals: the models' totals and handicaps (evaluation.two_way_bets, market_scores)
    pred["dc_home_xg"], pred["dc_away_xg"] = dc_xg[test, 0], dc_xg[test, 1]
    for name, prefix in MARKETS.items():
        p = implied_probabilities(probs_columns(pred, prefix), margin_method)
        for k, o in enumerate(OUTCOMES):
            pred[f"{name}_{o}"] = p[:, k]
    windows = {
        "xgboost_matches": xgb_window,
        "ensemble_matches": stack_window,
        "elo_mapping": f"every match after the first {ELO_BURN_IN}",
        "dixon_coles_days": round(3 * 365.25, 2),
    }
    if close_line is not None:
        windows["close_model_days"] = round(close_line.years * 365.25, 2)
    return WalkForward(pred.reset_index(drop=True), timings, windows, kept)
