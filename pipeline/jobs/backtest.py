"""The walk-forward backtest: history replayed the way production would have lived it.

Every week (Monday 00:00 UTC to the next) of the test period, the models are refitted on what was known before
that week and predict that week's matches; nothing about a match is used before its kick-off:
- Elo: ratings updated match by match (point in time by construction); its rating-to-1X2 mapping refitted
  every week on the matches before the week;
- Dixon-Coles: refitted every week per league on the three years before the week (warm-started);
- XGBoost: refitted every `xgb_refit_weeks` weeks (1 by default, as production does; one fit costs ~0.5 s,
  so 4 halves the run for a quick look) on every earlier match that has out-of-sample Elo and Dixon-Coles
  inputs;
- the stacking ensemble: refitted every week on the earlier matches' out-of-sample predictions.
Before the test period the same loop runs through WARMUP_YEARS of warm-up, so the first test week already has
out-of-sample XGBoost and ensemble training data.

Scores (log loss, Brier, RPS, accuracy) are reported per league and overall for every model, the ensemble and
the market prices on exactly the same matches: the test matches that have both a valid pre-match price and a
valid closing price (the count left out is reported). The betting strategy runs on the ensemble's
probabilities against the pre-match price, bankroll carried from week to week, each bet settled at the final
score and compared with the closing price of the same outcome (closing-line value = odds taken / closing odds - 1).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from pipeline.forecast.features import form_features, market_features
from pipeline.metrics import outcomes_from_goals, score_all
from pipeline.forecast.models.elo import EloModel
from pipeline.forecast.models.ensemble import StackingEnsemble
from pipeline.forecast.models.xgb import XGBoostModel
from pipeline.forecast.modelset import _feature_frame, dc_walk_forward
from pipeline.odds import implied_probabilities
from pipeline.betting.strategy import OUTCOMES, StrategyParams, closing_line_value, select_bets
from pipeline.config import ConfigError, load_settings
from pipeline.jobs.runner import EXIT_CONFIG, EXIT_DATAERR, EXIT_NOINPUT
from pipeline.providers.base import ProviderError
from pipeline.providers.football_data import load_matches
from pipeline.threads import limit_threads

WARMUP_YEARS = 3          # Dixon-Coles from 3 years before the test, XGBoost from 2, the ensemble from the start
MIN_XGB_ROWS = 1000
MIN_STACK_ROWS = 1000
ESTABLISHED_MATCHES = 10
MODELS = ("elo", "dixon_coles", "xgboost", "ensemble")
MARKETS = {"market_prematch": "odds", "market_closing": "close"}


@dataclass
class BacktestResult:
    start: pd.Timestamp
    end: pd.Timestamp
    predictions: pd.DataFrame          # one row per test match: ids, outcome, every forecaster's probabilities
    scores: dict                       # {"overall"|league: {forecaster: {n, log_loss, brier, rps, accuracy}}}
    betting: dict                      # {"overall"|league: {bets, turnover, profit, roi, avg_clv, ...}}
    bets: pd.DataFrame
    info: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"period": {"from": self.start.isoformat(), "to": self.end.isoformat()}, **self.info,
                "scores": self.scores, "betting": self.betting}


def _week_index(kickoff: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    return ((kickoff - origin).dt.total_seconds() // (7 * 86400)).astype(int).to_numpy()


def _probs_columns(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[[f"{name}_home", f"{name}_draw", f"{name}_away"]].to_numpy(float)


def run_backtest(matches: pd.DataFrame, start, end, *, xi: float = 0.0019, margin_method: str = "multiplicative",
                 strategy: StrategyParams | None = None, bankroll: float = 1000.0, xgb_refit_weeks: int = 1,
                 seed: int = 0, progress: Callable[[str], None] | None = None) -> BacktestResult:
    say = progress or (lambda msg: None)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    if end <= start:
        raise ValueError("the test period is empty: --to must be after --from")
    if xgb_refit_weeks < 1:
        raise ValueError("xgb_refit_weeks must be at least 1")
    timings: dict[str, float] = {}
    frame = matches[matches["home_goals"].notna() & matches["away_goals"].notna() & (matches["kickoff"] < end)]
    frame = frame.sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)
    test_mask = (frame["kickoff"] >= start).to_numpy()
    if not test_mask.any():
        raise ValueError(f"no played matches between {start.date()} and {end.date()}")
    if (~test_mask).sum() < 1000:
        raise ValueError(f"only {(~test_mask).sum()} matches before {start.date()}: the models need at least "
                         "1000 earlier matches (ideally three seasons or more) to learn from")
    y = outcomes_from_goals(frame["home_goals"], frame["away_goals"])
    origin = (start - pd.Timedelta(days=start.day_of_week)).normalize()   # the Monday of the first test week
    week = _week_index(frame["kickoff"], origin)
    dc_from = origin - pd.DateOffset(years=WARMUP_YEARS)
    xgb_from = origin - pd.DateOffset(years=WARMUP_YEARS - 1)

    t = time.perf_counter()
    elo = EloModel(burn_in=0).fit(frame)          # only its point-in-time ratings are used
    hist = elo.history_.loc[frame["match_id"]]
    elo_diff = elo.rating_diff(hist["home_rating"].to_numpy(), hist["away_rating"].to_numpy())
    timings["elo_ratings"] = time.perf_counter() - t

    t = time.perf_counter()
    win_idx = np.flatnonzero((frame["kickoff"] >= dc_from).to_numpy())
    dc_p, dc_xg = dc_walk_forward(frame, win_idx, xi, progress=say)
    timings["dixon_coles"] = time.perf_counter() - t

    form = form_features(frame)
    market = market_features(frame, margin_method)
    elo_p = np.full((len(frame), 3), np.nan)
    xgb_p = np.full((len(frame), 3), np.nan)
    ens_p = np.full((len(frame), 3), np.nan)
    t_elo = t_xgb = t_ens = 0.0
    elo_map = EloModel(burn_in=0, home_advantage=elo.home_advantage)
    xgb = None
    weeks = np.unique(week[(frame["kickoff"] >= xgb_from).to_numpy()])
    feats = None
    for n, w in enumerate(weeks):
        rows = np.flatnonzero(week == w)
        before = np.flatnonzero(week < w)
        t = time.perf_counter()
        first = max(300, len(before) - 20000)   # the mapping from the last 20,000 matches: ample, and bounded
        elo_map.fit_mapping(elo_diff[first:len(before)], y[first:len(before)], warm_start=True)
        elo_p[rows] = elo_map.proba_from_diff(elo_diff[rows])
        t_elo += time.perf_counter() - t
        cols = _feature_frame(frame.iloc[rows], elo_p[rows], elo_diff[rows], dc_p[rows], dc_xg[rows], form,
                              market)
        feats = cols if feats is None else pd.concat([feats, cols])
        t = time.perf_counter()
        known = feats.index[feats.index.isin(before)]
        known = known[np.isfinite(dc_p[known]).all(axis=1)]
        if len(known) >= MIN_XGB_ROWS and (xgb is None or n % xgb_refit_weeks == 0):
            xgb = XGBoostModel(seed=seed).fit(feats.loc[known], y[known])
        if xgb is not None:
            ok = rows[np.isfinite(dc_p[rows]).all(axis=1)]
            if len(ok):
                xgb_p[ok] = xgb.predict_proba(feats.loc[ok])
        t_xgb += time.perf_counter() - t
        if test_mask[rows].any():
            t = time.perf_counter()
            stack = before[np.isfinite(xgb_p[before]).all(axis=1)]
            if len(stack) >= MIN_STACK_ROWS:
                base = {"elo": elo_p, "dixon_coles": dc_p, "xgboost": xgb_p, "market": market.to_numpy(float)}
                ens = StackingEnsemble().fit({k: v[stack] for k, v in base.items()}, y[stack])
                ok = rows[np.isfinite(xgb_p[rows]).all(axis=1)]
                if len(ok):
                    ens_p[ok] = ens.predict_proba({k: v[ok] for k, v in base.items()})
            t_ens += time.perf_counter() - t
        if n % 26 == 0 or n == len(weeks) - 1:
            say(f"week {n + 1}/{len(weeks)} ({frame['kickoff'].iloc[rows[0]].date()})")
    timings.update({"elo_mapping": t_elo, "xgboost": t_xgb, "ensemble": t_ens})

    test = np.flatnonzero(test_mask)
    pred = frame.iloc[test][["match_id", "league", "season", "kickoff", "home_team", "away_team", "home_goals",
                             "away_goals", "odds_home", "odds_draw", "odds_away", "close_home", "close_draw",
                             "close_away"]
                            + [c for c in ("odds_bookmaker", "close_bookmaker") if c in frame]].copy()
    pred["outcome"] = y[test]
    pred["established"] = _established(frame)[test]
    for name, p in (("elo", elo_p), ("dixon_coles", dc_p), ("xgboost", xgb_p), ("ensemble", ens_p)):
        pred[f"{name}_home"], pred[f"{name}_draw"], pred[f"{name}_away"] = p[test, 0], p[test, 1], p[test, 2]
    for name, prefix in MARKETS.items():
        p = implied_probabilities(pred[[f"{prefix}_home", f"{prefix}_draw", f"{prefix}_away"]].to_numpy(float),
                                  margin_method)
        pred[f"{name}_home"], pred[f"{name}_draw"], pred[f"{name}_away"] = p[:, 0], p[:, 1], p[:, 2]
    pred = pred.reset_index(drop=True)

    bets = simulate_betting(pred, strategy or StrategyParams(), bankroll)
    scores, info = score_predictions(pred)
    betting = betting_summary(bets, pred, bankroll)
    info["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    info["xgb_refit_weeks"] = xgb_refit_weeks
    return BacktestResult(start, end, pred, scores, betting, bets, info)


def _established(frame: pd.DataFrame, years: int = 3, min_matches: int = ESTABLISHED_MATCHES) -> np.ndarray:
    """True where both teams played at least `min_matches` matches in the `years` before kick-off: the subset
    on which public Dixon-Coles benchmarks are quoted (promoted teams' first matches left out)."""
    # one sorted array of kick-offs per team; a match's count is a difference of two binary searches
    long = pd.concat([frame[["kickoff"]].assign(team=frame["home_team"]),
                      frame[["kickoff"]].assign(team=frame["away_team"])])
    times = {t: np.sort(g["kickoff"].to_numpy()) for t, g in long.groupby("team")}
    window = np.timedelta64(int(years * 365.25), "D")
    ko = frame["kickoff"].to_numpy()
    ok = np.ones(len(frame), bool)
    for side in ("home_team", "away_team"):
        n = np.array([np.searchsorted(times[t], k) - np.searchsorted(times[t], k - window)
                      for t, k in zip(frame[side].to_numpy(), ko)])
        ok &= n >= min_matches
    return ok


def score_predictions(pred: pd.DataFrame) -> tuple[dict, dict]:
    """Every forecaster on the same matches: those where every model predicted and both prices exist."""
    # a model that never predicted (too little history for it) is left out and named, not allowed to empty the set
    have = {n: np.isfinite(_probs_columns(pred, n)).all(axis=1) for n in MODELS}
    models = [n for n in MODELS if have[n].any()]
    if not models:
        raise ValueError("no model could predict any test match: give the backtest more history before --from")
    models_ok = np.column_stack([have[n] for n in models]).all(axis=1)
    markets_ok = np.column_stack([np.isfinite(_probs_columns(pred, n)).all(axis=1) for n in MARKETS]).all(axis=1)
    use_markets = bool((models_ok & markets_ok).any())
    common = models_ok & markets_ok if use_markets else models_ok
    forecasters = [*models, *MARKETS] if use_markets else models
    scores = {}
    for league, idx in [("overall", np.flatnonzero(common))] + [
            (lg, np.flatnonzero(common & (pred["league"] == lg).to_numpy())) for lg in sorted(pred["league"].unique())]:
        y = pred["outcome"].to_numpy()[idx]
        scores[league] = {n: score_all(_probs_columns(pred, n)[idx], y) for n in forecasters}
    est = np.flatnonzero(common & pred["established"].to_numpy(bool)) if "established" in pred else []
    established = {n: score_all(_probs_columns(pred, n)[est], pred["outcome"].to_numpy()[est])
                   for n in forecasters} if len(est) else {}
    info = {"test_matches": int(len(pred)), "scored_matches": int(common.sum()),
            "left_out": {"no_model_prediction": int((~models_ok).sum()),
                         "no_prematch_or_closing_price": int((models_ok & ~markets_ok).sum()) if use_markets else None},
            "models_without_predictions": [n for n in MODELS if n not in models], "prices": {},
            "established_teams": {"definition": f"both teams played >= {ESTABLISHED_MATCHES} matches in the 3 "
                                                "years before kick-off (how public Dixon-Coles figures are quoted)",
                                  "n": int(len(est)), "scores": established}}
    for name, prefix in MARKETS.items():
        col = f"{prefix}_bookmaker"
        if col in pred:
            counts = pred.loc[common, col].value_counts()
            info["prices"][name] = {str(k): int(v) for k, v in counts.items()}
    return scores, info


def simulate_betting(pred: pd.DataFrame, params: StrategyParams, bankroll: float) -> pd.DataFrame:
    """The strategy run week by week on the ensemble against the pre-match price; settled at the final score."""
    cols = ["match_id", "league", "kickoff", "bet_outcome", "odds", "stake", "edge", "model_prob", "won",
            "profit", "closing_odds", "clv", "bankroll_before"]
    ok = pred[np.isfinite(_probs_columns(pred, "ensemble")).all(axis=1)
              & np.isfinite(_probs_columns(pred, "odds")).all(axis=1)]
    if ok.empty:
        return pd.DataFrame(columns=cols)
    origin = (ok["kickoff"].min() - pd.Timedelta(days=ok["kickoff"].min().day_of_week)).normalize()
    week = _week_index(ok["kickoff"], origin)
    out = []
    for w in np.unique(week):
        rows = ok[week == w]
        cands = [{"fixture_id": r.match_id, "match_day": r.kickoff.date(), "kickoff": r.kickoff,
                  "p_home": r.ensemble_home, "p_draw": r.ensemble_draw, "p_away": r.ensemble_away,
                  "odds_home": r.odds_home, "odds_draw": r.odds_draw, "odds_away": r.odds_away}
                 for r in rows.itertuples(index=False)]
        placed = select_bets(cands, bankroll, params)
        by_id = rows.set_index("match_id")
        week_profit = 0.0
        for b in placed:
            m = by_id.loc[b["fixture_id"]]
            k = OUTCOMES.index(b["bet_outcome"])
            won = int(m["outcome"]) == k
            profit = round(b["stake"] * (b["odds"] - 1), 2) if won else -b["stake"]
            close = float(m[f"close_{b['bet_outcome']}"])
            out.append({"match_id": b["fixture_id"], "league": m["league"], "kickoff": m["kickoff"],
                        "bet_outcome": b["bet_outcome"], "odds": b["odds"], "stake": b["stake"], "edge": b["edge"],
                        "model_prob": b["model_prob"], "won": won, "profit": profit, "closing_odds": close,
                        "clv": closing_line_value(b["odds"], close) if np.isfinite(close) and close > 1 else np.nan,
                        "bankroll_before": bankroll})
            week_profit += profit
        bankroll = round(bankroll + week_profit, 2)
    return pd.DataFrame(out, columns=cols)


def betting_summary(bets: pd.DataFrame, pred: pd.DataFrame, bankroll: float) -> dict:
    def one(b: pd.DataFrame) -> dict:
        turnover = float(b["stake"].sum()) if len(b) else 0.0
        profit = float(b["profit"].sum()) if len(b) else 0.0
        clv = b["clv"].dropna() if len(b) else pd.Series(dtype=float)
        return {"bets": int(len(b)), "turnover": round(turnover, 2), "profit": round(profit, 2),
                "roi": profit / turnover if turnover else None,
                "avg_clv": float(clv.mean()) if len(clv) else None,
                "share_beating_close": float((clv > 0).mean()) if len(clv) else None,
                "win_rate": float(b["won"].mean()) if len(b) else None}
    out = {"overall": {**one(bets), "starting_bankroll": bankroll,
                       "final_bankroll": round(bankroll + (float(bets["profit"].sum()) if len(bets) else 0.0), 2)}}
    for lg in sorted(pred["league"].unique()):
        out[lg] = one(bets[bets["league"] == lg] if len(bets) else bets)
    return out


def format_result(result: BacktestResult) -> str:
    info = result.info
    lines = [f"Walk-forward backtest {result.start.date()} to {result.end.date()}: {info['test_matches']} test "
             f"matches, {info['scored_matches']} scored (every forecaster on exactly these matches; left out: "
             f"{info['left_out']})."]
    for name, counts in info.get("prices", {}).items():
        lines.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + " (margin removed)")
    for league, table in result.scores.items():
        lines.append("")
        lines.append(f"{league}:")
        lines.append(f"  {'forecaster':<18}{'n':>7}{'log loss':>10}{'Brier':>8}{'RPS':>8}{'acc':>7}")
        for name, m in table.items():
            lines.append(f"  {name:<18}{m['n']:>7}{m['log_loss']:>10.4f}{m['brier']:>8.4f}{m['rps']:>8.4f}"
                         f"{m['accuracy']:>7.3f}")
    est = info.get("established_teams", {})
    if est.get("scores"):
        lines.append("")
        lines.append(f"overall, established teams only ({est['definition']}): {est['n']} matches")
        for name, m in est["scores"].items():
            lines.append(f"  {name:<18}{m['n']:>7}{m['log_loss']:>10.4f}{m['brier']:>8.4f}{m['rps']:>8.4f}"
                         f"{m['accuracy']:>7.3f}")
    lines.append("")
    lines.append("Betting (ensemble vs the pre-match price, fractional Kelly with the configured caps):")
    lines.append(f"  {'':<10}{'bets':>7}{'turnover':>12}{'profit':>11}{'ROI':>8}{'avg CLV':>9}{'beat close':>11}")
    for league, b in result.betting.items():
        roi = f"{b['roi']:.3f}" if b["roi"] is not None else "-"
        clv = f"{b['avg_clv']:.3f}" if b["avg_clv"] is not None else "-"
        beat = f"{b['share_beating_close']:.2f}" if b["share_beating_close"] is not None else "-"
        lines.append(f"  {league:<10}{b['bets']:>7}{b['turnover']:>12.2f}{b['profit']:>11.2f}{roi:>8}{clv:>9}"
                     f"{beat:>11}")
    o = result.betting["overall"]
    lines.append(f"  bankroll {o['starting_bankroll']:.2f} -> {o['final_bankroll']:.2f}")
    lines.append(f"timings (s): {info['timings_seconds']}")
    return "\n".join(lines)


def run(data_dir, leagues: list[str] | None, start: str, end: str, json_path=None,
                     xgb_refit_weeks: int = 1, echo: Callable[[str], None] = print) -> int:
    """What `production/backtest.py` does; returns the exit code (0 done, 65 bad data, 78 bad configuration)."""
    try:
        settings = load_settings(data_source="sandbox")  # the backtest reads files: no provider key needed
        params = settings.strategy
        limit_threads(settings.cpu_threads)
    except (ConfigError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
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
    echo(f"read {len(frame)} matches ({', '.join(sorted(frame['league'].unique()))}) in "
         f"{time.perf_counter() - t0:.1f}s; {len(problems)} rows skipped")
    for p in problems[:10]:
        echo(f"  skipped: {p}")
    try:
        result = run_backtest(frame, start, end, xi=settings.dc_xi, margin_method=settings.margin_method,
                              strategy=params, bankroll=settings.starting_bankroll, xgb_refit_weeks=xgb_refit_weeks,
                              progress=lambda m: echo(f"  [{time.perf_counter() - t0:6.1f}s] {m}"))
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
    return 0
