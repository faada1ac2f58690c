"""The four models as one deployable set: training with honest, time-ordered validation, and prediction.

Training (`train_model_set`), on a match frame sorted by kick-off:
1. Elo runs through all played matches; its pre-match ratings are point-in-time by construction.
2. A recent window (the validation matches V plus up to STACK_MATCHES before them, S) gets out-of-sample
   Dixon-Coles probabilities and expected goals: per league, refitted every week on the three years before that
   week (warm-started), predicting that week only. Elo's rating-to-1X2 mapping for the window is fitted on the
   matches before it.
3. Features (pipeline.forecast.features) plus those model outputs feed XGBoost. Its out-of-sample predictions on S come
   from expanding-window folds (trained on earlier chunks of S only).
4. The stacking ensemble is fitted on S's out-of-sample predictions (Elo, Dixon-Coles, XGBoost, market).
5. Validation: XGBoost refitted on S, the ensemble as fitted in 4, every model scored on V, which no model
   has seen, next to the market's pre-match and closing prices on the same matches.
6. The deployed set: Elo through all matches, Dixon-Coles refitted at the last match, XGBoost on S+V, the
   ensemble refitted on S's and V's out-of-sample predictions.
7. With FAIR_LINE=close_model (`close_line` and every book's prices given): the close model, checked on V and
   fitted on the last three years (pipeline.forecast.fair_line), its ensemble inputs out of sample (the
   ensemble refitted on expanding folds of S for the later folds, ens on V as validated).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.forecast.fair_line import CloseLine, CloseLineFit, close_fair_line, train_close_line
from pipeline.forecast.features import form_features, market_features
from pipeline.forecast.models.close_model import CloseModel
from pipeline.forecast.models.dixon_coles import DixonColesModel
from pipeline.forecast.models.elo import EloModel
from pipeline.forecast.models.ensemble import StackingEnsemble
from pipeline.forecast.models.xgb import XGBoostModel
from pipeline.metrics import calibration_table, outcomes_from_goals, score_all
from pipeline.odds import implied_probabilities
from pipeline.outcomes import columns

STACK_MATCHES = 4000  # out-of-sample window before the validation matches
MIN_HISTORY = 1500  # matches before the window, so the first weekly fits have data
XGB_FOLDS = 4


def dc_walk_forward(
    frame: pd.DataFrame,
    window_index: np.ndarray,
    xi: float,
    progress: Callable[[str], None] | None = None,
    origin: pd.Timestamp | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-sample Dixon-Coles probabilities and expected goals for frame rows `window_index`.

    Per league, one fit per week on matches before that week (weekly refits, warm-started). Weeks start at
    `origin` (+/- whole weeks; default the day of the window's first match): the backtest passes its own
    Monday so that every model is refitted at the same moments.
    """
    probs = np.full((len(frame), 3), np.nan)
    xg = np.full((len(frame), 2), np.nan)
    win = frame.loc[window_index]
    t0 = win["kickoff"].min().normalize() if origin is None else origin
    week = ((win["kickoff"] - t0).dt.days // 7).to_numpy()
    played = frame[frame["home_goals"].notna()]
    leagues = sorted(win["league"].unique())
    for n, league in enumerate(leagues):
        model = DixonColesModel(xi=xi, warm_start=True)
        lg_played = played[played["league"] == league]
        lg_win = win[win["league"] == league]
        lg_week = week[(win["league"] == league).to_numpy()]
        for w in np.unique(lg_week):
            start = t0 + pd.Timedelta(days=7 * int(w))
            train = lg_played[lg_played["kickoff"] < start]
            if len(train) < model.min_matches:
                continue
            model.fit(train, reference_time=start)
            rows = lg_win[lg_week == w]
            idx = rows.index.to_numpy()
            probs[idx] = model.predict_proba(rows)
            xg[idx] = model.expected_goals(rows)
        if progress:
            progress(f"Dixon-Coles walk-forward: league {league} done ({n + 1}/{len(leagues)})")
    return probs, xg


def feature_frame(
    frame: pd.DataFrame,
    elo_probs: np.ndarray,
    elo_diff: np.ndarray,
    dc_probs: np.ndarray,
    dc_xg: np.ndarray,
    form: pd.DataFrame,
    market: pd.DataFrame,
) -> pd.DataFrame:
    """The model inputs of the matches of `frame` (training, prediction and the backtest build the same ones)."""
    f = pd.DataFrame(
        {
            "elo_diff": elo_diff,
            "elo_home": elo_probs[:, 0],
            "elo_draw": elo_probs[:, 1],
            "elo_away": elo_probs[:, 2],
            "dc_home": dc_probs[:, 0],
            "dc_draw": dc_probs[:, 1],
            "dc_away": dc_probs[:, 2],
            "dc_xg_home": dc_xg[:, 0],
            "dc_xg_away": dc_xg[:, 1],
        },
        index=frame.index,
    )
    return pd.concat([f, form.loc[frame.index], market.loc[frame.index]], axis=1)


@dataclass
class ModelSet:
    elo: EloModel
    dixon_coles: DixonColesModel
    xgboost: XGBoostModel
    ensemble: StackingEnsemble
    form_span: int = 8
    margin_method: str = "multiplicative"
    close_model: CloseModel | None = None  # the fair line with FAIR_LINE=close_model, when it passed its check

    def to_objects(self) -> dict:
        ens = {"model": self.ensemble, "form_span": self.form_span, "margin_method": self.margin_method}
        if self.close_model is not None:  # beside the ensemble: the set's files stay the registry's four
            ens["close_model"] = self.close_model
        return {"elo": self.elo, "dixon_coles": self.dixon_coles, "xgboost": self.xgboost, "ensemble": ens}

    @classmethod
    def from_objects(cls, objects: dict) -> ModelSet:
        ens = objects["ensemble"]
        return cls(
            objects["elo"],
            objects["dixon_coles"],
            objects["xgboost"],
            ens["model"],
            ens.get("form_span", 8),
            ens.get("margin_method", "multiplicative"),
            ens.get("close_model"),
        )

    def close_fair(self, fixtures: pd.DataFrame, snapshots: pd.DataFrame, key: str, ensemble, settings, log=None):
        """FAIR_LINE=close_model's fair probabilities for `fixtures` (fair_line.close_fair_line); None when the
        set has no close model."""
        line = CloseLine.from_settings(settings)
        return close_fair_line(self.close_model, fixtures, snapshots, key, ensemble, line, log)

    def predict(
        self, fixtures: pd.DataFrame, history: pd.DataFrame, strength_adjustments: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Probabilities for upcoming `fixtures` given recent played `history` (match frames).

        `strength_adjustments` (match_id, home_log_rate, away_log_rate) shift the Dixon-Coles goal rates of
        those fixtures (the lineup job's correction for the players who actually start).
        """
        fixtures = fixtures.reset_index(drop=True)
        if fixtures.empty:
            return pd.DataFrame(columns=["match_id", *columns("p_"), "home_xg", "away_xg"])
        hist = (
            history[history["home_goals"].notna() & ~history["match_id"].isin(fixtures["match_id"])]
            if len(history)
            else history
        )
        elo = self.elo.update(hist) if len(hist) else self.elo
        rh, ra = elo.ratings_for(fixtures)
        elo_p = elo.proba_from_ratings(rh, ra)
        elo_diff = elo.rating_diff(rh, ra)
        shift = None
        if strength_adjustments is not None and len(strength_adjustments):
            adj = strength_adjustments.set_index("match_id").reindex(fixtures["match_id"])
            shift = adj[["home_log_rate", "away_log_rate"]].fillna(0.0).to_numpy(float)
        dc_p = self.dixon_coles.predict_proba(fixtures, log_rate_shift=shift)
        dc_xg = self.dixon_coles.expected_goals(fixtures, log_rate_shift=shift)
        combined = pd.concat([hist.assign(_fixture=False), fixtures.assign(_fixture=True)], ignore_index=True)
        combined = combined.sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)
        form = form_features(combined, self.form_span)
        form.index = combined["match_id"].to_numpy()
        form = form.loc[fixtures["match_id"].to_numpy()]
        form.index = fixtures.index
        market = market_features(fixtures, self.margin_method)
        feats = feature_frame(fixtures, elo_p, elo_diff, dc_p, dc_xg, form, market)
        xgb_p = self.xgboost.predict_proba(feats)
        base = {"elo": elo_p, "dixon_coles": dc_p, "xgboost": xgb_p, "market": market.to_numpy(float)}
        ens_p = self.ensemble.predict_proba(base)
        out = pd.DataFrame(
            {
                "match_id": fixtures["match_id"].to_numpy(),
                **dict(zip(columns("p_"), ens_p.T)),
                "home_xg": dc_xg[:, 0],
                "away_xg": dc_xg[:, 1],
            }
        )
        for name, p in (("elo", elo_p), ("dc", dc_p), ("xgb", xgb_p)):
            for col, values in zip(columns(f"{name}_"), p.T):
                out[col] = values
        return out


@dataclass
class TrainResult:
    model_set: ModelSet
    metrics: dict
    n_validation: int
    validation_frame: pd.DataFrame
    validation_predictions: pd.DataFrame
    feature_names: list[str]
    calibration: pd.DataFrame
    timings: dict = field(default_factory=dict)
    close_line: CloseLineFit | None = None  # the close model's fit and check, when asked for


def _market_scores(val: pd.DataFrame, y: np.ndarray, ens: np.ndarray, prefix: str, name: str, method: str) -> dict:
    odds = val[columns(f"{prefix}_")].to_numpy(float)
    p = implied_probabilities(odds, method)
    ok = np.isfinite(p).all(axis=1)
    if not ok.any():
        return {}
    return {name: score_all(p[ok], y[ok]), f"ensemble_on_{name}_matches": score_all(ens[ok], y[ok])}


def train_model_set(
    matches: pd.DataFrame,
    *,
    validation_matches: int = 1000,
    xi: float = 0.0019,
    seed: int = 0,
    margin_method: str = "multiplicative",
    stack_matches: int = STACK_MATCHES,
    progress: Callable[[str], None] | None = None,
    close_line: CloseLine | None = None,
    close_prices: pd.DataFrame | None = None,
) -> TrainResult:
    """The set (steps 1-6 of the module's docstring), and the close model (7) given `close_line` and
    `close_prices` (each book's pre-match and closing prices by match id, fair_line.wide_prices)."""
    say = progress or (lambda msg: None)
    timings = {}
    t = time.perf_counter()
    frame = matches[matches["home_goals"].notna() & matches["away_goals"].notna()]
    frame = frame.sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)
    n = len(frame)
    if n < validation_matches + 200:
        raise ValueError(f"{n} played matches: need at least validation_matches + 200")
    y = outcomes_from_goals(frame["home_goals"], frame["away_goals"])
    window = min(validation_matches + stack_matches, n - min(MIN_HISTORY, n // 3))
    w0 = n - window
    v0 = n - validation_matches
    say(f"{n} matches: out-of-sample window {window} (stacking {v0 - w0}, validation {validation_matches})")

    elo = EloModel(burn_in=min(300, w0 // 2)).fit(frame)
    hist = elo.history_.loc[frame["match_id"]]
    elo_diff = elo.rating_diff(hist["home_rating"].to_numpy(), hist["away_rating"].to_numpy())
    # the ensemble's inputs must be out of sample: a mapping fitted only on matches before the window
    elo_p = elo.with_mapping(elo_diff[elo.burn_in : w0], y[elo.burn_in : w0]).proba_from_diff(elo_diff)
    timings["elo"] = time.perf_counter() - t
    say(f"Elo: {n} matches rated")

    t = time.perf_counter()
    win_idx = np.arange(w0, n)
    dc_p, dc_xg = dc_walk_forward(frame, win_idx, xi, progress=say)
    timings["dixon_coles_walk_forward"] = time.perf_counter() - t

    t = time.perf_counter()
    form = form_features(frame)
    market = market_features(frame, margin_method)
    feats = feature_frame(frame, elo_p, elo_diff, dc_p, dc_xg, form, market)
    timings["features"] = time.perf_counter() - t

    # rows of the window with out-of-sample DC predictions
    S = np.arange(w0, v0)
    S = S[np.isfinite(dc_p[S]).all(axis=1)]
    V = np.arange(v0, n)
    V = V[np.isfinite(dc_p[V]).all(axis=1)]
    t = time.perf_counter()
    chunks = np.array_split(S, XGB_FOLDS)
    xgb_oos = np.full((n, 3), np.nan)
    for k in range(1, XGB_FOLDS):
        train = np.concatenate(chunks[:k])
        model = XGBoostModel(seed=seed).fit(feats.iloc[train], y[train])
        xgb_oos[chunks[k]] = model.predict_proba(feats.iloc[chunks[k]])
        say(f"XGBoost fold {k}/{XGB_FOLDS - 1}")
    xgb_val = XGBoostModel(seed=seed).fit(feats.iloc[S], y[S])
    xgb_oos[V] = xgb_val.predict_proba(feats.iloc[V])
    timings["xgboost"] = time.perf_counter() - t

    def base(rows):
        return {
            "elo": elo_p[rows],
            "dixon_coles": dc_p[rows],
            "xgboost": xgb_oos[rows],
            "market": market.to_numpy(float)[rows],
        }

    S1 = np.concatenate(chunks[1:])
    ens_val = StackingEnsemble().fit(base(S1), y[S1])
    ens_p = ens_val.predict_proba(base(V))
    val = frame.iloc[V]
    yv = y[V]
    metrics = {
        "ensemble": score_all(ens_p, yv),
        "elo": score_all(elo_p[V], yv),
        "dixon_coles": score_all(dc_p[V], yv),
        "xgboost": score_all(xgb_oos[V], yv),
    }
    metrics.update(_market_scores(val, yv, ens_p, "odds", "market_prematch", margin_method))
    metrics.update(_market_scores(val, yv, ens_p, "close", "market_closing", margin_method))
    calibration = calibration_table(ens_p, yv, bins=10)
    say(f"validation on {len(V)} held-out matches: ensemble log loss {metrics['ensemble']['log_loss']:.4f}")

    t = time.perf_counter()
    final_rows = np.concatenate([S, V])
    xgb_final = XGBoostModel(seed=seed).fit(feats.iloc[final_rows], y[final_rows])
    stack_rows = np.concatenate([S1, V])
    ens_final = StackingEnsemble().fit(base(stack_rows), y[stack_rows])
    dc_final = DixonColesModel(xi=xi).fit(frame)
    timings["final_fit"] = time.perf_counter() - t
    model_set = ModelSet(elo, dc_final, xgb_final, ens_final, margin_method=margin_method)
    close_fit = None
    if close_line is not None and close_prices is not None:
        t = time.perf_counter()
        ens_oos = np.full((n, 3), np.nan)
        ens_oos[V] = ens_p
        for k in range(2, XGB_FOLDS):  # the ensemble's out-of-sample probabilities on the later folds of S
            rows = np.concatenate(chunks[1:k])
            ens_oos[chunks[k]] = StackingEnsemble().fit(base(rows), y[rows]).predict_proba(base(chunks[k]))
        close_fit = train_close_line(frame, close_prices, ens_oos, V, close_line)
        model_set.close_model = close_fit.model
        timings["close_model"] = time.perf_counter() - t
        say(
            f"close model: cross-entropy vs the fair close on {close_fit.n} validation matches "
            f"{close_fit.ce_close_model:.5f} (sharp pre-match {close_fit.ce_sharp:.5f})"
            if close_fit.model is not None
            else f"close model not fitted: {close_fit.reason}"
        )
    preds = pd.DataFrame({"match_id": val["match_id"].to_numpy(), **dict(zip(columns("p_"), ens_p.T))})
    return TrainResult(
        model_set,
        metrics,
        int(len(V)),
        val.reset_index(drop=True),
        preds,
        list(feats.columns),
        calibration,
        timings,
        close_fit,
    )
