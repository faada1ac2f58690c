#!/usr/bin/env python3
"""Issue 26's study: does a model of the sharp close (pipeline.forecast.models.close_model) beat the sharp
pre-match price as the fair line, walk-forward, on the football-data files?

    PYTHONPATH=$PWD /work/venv/bin/python bench/close_model_study.py --select      # defaults, 2014-15..2018-19
    PYTHONPATH=$PWD /work/venv/bin/python bench/close_model_study.py               # the report, 2019-07..2024-06

The files are read with the project's reader (providers.football_data.load_matches; the parsed frame is cached
in /tmp between runs). Every week (or `--refit` days) the close model is refitted on the matches played before
the week with a Pinnacle close (the target: Pinnacle's close, margin removed by CLV_METHOD), within `--years` of
history, and predicts the week's matches from their pre-match prices only. `--select` scores a grid of settings on
2014-15..2018-19 (cross-entropy against the fair close, the model's own loss) and names the best; the report
period is never used to choose.

Reported, on the same matches: log loss against the results and cross-entropy against the fair close of Pinnacle
pre-match (margin removed multiplicatively, as the backtest's `market_prematch`, and by FAIR_METHOD), of the close
model, and of Pinnacle's close; the paired differences with 95% intervals clustered by match day. Betting, the
backtest's own simulation (strategy, Kelly, caps, bankroll carried week to week): the plain sharp rule (fair =
Pinnacle pre-match by FAIR_METHOD, priced at the best of BET_BOOKMAKERS, MIN_EDGE) against the same rule with fair
= the close model; fair CLV against Pinnacle's close by each margin-removal method, per season; and at equal
volume (the plain rule's MIN_EDGE raised until it places as many bets as the close model), with the difference of
the two mean CLVs and its interval clustered by match day.
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd
from common import FOOTBALL_DATA, machine

from pipeline.betting.strategy import StrategyParams
from pipeline.bookmakers import FOOTBALL_DATA_PREFIXES, canonical
from pipeline.config import load_settings
from pipeline.evaluation.backtest import summarise
from pipeline.evaluation.simulation import grade, simulate
from pipeline.forecast.models.close_model import CloseModel, book_slug, cross_entropy
from pipeline.metrics import outcomes_from_goals
from pipeline.odds import METHODS, implied_probabilities
from pipeline.outcomes import OUTCOMES
from pipeline.providers.football_data import load_matches
from pipeline.value_stats import mean_ci

LEAGUES = ("E0", "D1", "F1", "I1", "SP1")
SELECT = ("2014-07-01", "2019-06-30")
REPORT = ("2019-07-01", "2024-06-30")
CACHE = Path("/tmp/close_model_study_frame.pkl")
L2_GRID = (0.0003, 0.003, 0.03)
YEARS_GRID = (3.0, 6.0)


def betting_summary(bets: pd.DataFrame, pred: pd.DataFrame, bankroll: float, method: str) -> dict:
    """The backtest's JSON of a rule's bets (overall, by season and league)."""
    return summarise(bets, pred, bankroll, method).to_json()


def load(data_dir: Path, leagues) -> pd.DataFrame:
    key = (str(data_dir), tuple(leagues))
    if CACHE.exists():
        cached_key, frame = pickle.loads(CACHE.read_bytes())
        if cached_key == key:
            return frame
    frame, problems = load_matches(data_dir, list(leagues))
    if problems:
        print(f"{len(problems)} rows skipped by the reader, e.g. {problems[:3]}")
    CACHE.write_bytes(pickle.dumps((key, frame)))
    return frame


def inputs(frame: pd.DataFrame, sharp: str, books, clv_method: str) -> pd.DataFrame:
    """One row per played match: the close model's inputs (sharp and soft pre-match odds, league, kick-off), the
    result, and the backtest's price columns for simulate/grade (sharp close, fair close by every method)."""
    f = frame[frame["home_goals"].notna() & frame["away_goals"].notna()]
    f = f.sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)
    out = f[["match_id", "league", "season", "kickoff"]].copy()
    out["outcome"] = outcomes_from_goals(f["home_goals"], f["away_goals"])

    def triple(prefix):
        cols = [f"{prefix}{s}" for s in "HDA"]
        return f[cols].to_numpy(float) if all(c in f for c in cols) else np.full((len(f), 3), np.nan)

    sp = FOOTBALL_DATA_PREFIXES[canonical(sharp)]
    pre, close = triple(sp), triple(sp + "C")
    for k, o in enumerate(OUTCOMES):
        out[f"sharp_pre_{o}"], out[f"sharp_close_{o}"], out[f"close_{o}"] = pre[:, k], close[:, k], close[:, k]
        for b in books:
            out[f"{book_slug(b)}_pre_{o}"] = triple(FOOTBALL_DATA_PREFIXES[canonical(b)])[:, k]
    for m in METHODS:
        p = implied_probabilities(close, m)
        for k, o in enumerate(OUTCOMES):
            out[f"close_fair_{m}_{o}"] = p[:, k]
    out["target"] = list(implied_probabilities(close, clv_method))
    return out


def _cols(df: pd.DataFrame, prefix: str) -> np.ndarray:
    return df[[f"{prefix}_{o}" for o in OUTCOMES]].to_numpy(float)


def walk_forward(data: pd.DataFrame, start, end, model: CloseModel, years: float, refit_days: int, clv_method: str):
    """Close-model probabilities for the matches in [start, end) (NaN elsewhere), refitted every `refit_days`
    on the matches before each block within `years`; returns (probs, seconds spent fitting)."""
    start, end = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    origin = (start - pd.Timedelta(days=start.day_of_week)).normalize()
    kick = data["kickoff"]
    target = _cols(data, f"close_fair_{clv_method}")
    probs = np.full((len(data), 3), np.nan)
    block = ((kick - origin).dt.total_seconds() // (refit_days * 86400)).to_numpy()
    test = ((kick >= start) & (kick < end)).to_numpy()
    coef, spent = None, 0.0
    for b in np.unique(block[test]):
        rows = np.flatnonzero(test & (block == b))
        t0 = origin + pd.Timedelta(days=int(b) * refit_days)
        train = ((kick < t0) & (kick >= t0 - pd.Timedelta(days=round(365.25 * years)))).to_numpy()
        train = train & np.isfinite(target).all(axis=1)
        t = time.perf_counter()
        m = CloseModel(**model.get_params())
        m.fit(data.loc[train], target[train], warm_start=coef)
        coef = m.coef_
        probs[rows] = m.predict_proba(data.iloc[rows])
        spent += time.perf_counter() - t
    return probs, spent


def _nll(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1))


def _ci_text(mean, lo, hi=None, scale=1.0, digits=5) -> str:
    if hi is None:  # (lo, hi) given as one pair
        lo, hi = lo
    return f"{scale * mean:+.{digits}f} [{scale * lo:+.{digits}f}, {scale * hi:+.{digits}f}]"


def scores(data: pd.DataFrame, rows: np.ndarray, forecasts: dict, clv_method: str) -> list[str]:
    y = data["outcome"].to_numpy()[rows]
    target = _cols(data, f"close_fair_{clv_method}")[rows]
    day = data["kickoff"].dt.date.to_numpy()[rows]
    nll = {k: _nll(p[rows], y) for k, p in forecasts.items()}
    ce = {k: cross_entropy(target, p[rows]) for k, p in forecasts.items()}
    lines = [f"  {'forecaster':<34}{'log loss':>10}{'CE vs fair close':>18}   (n = {len(rows)})"]
    for k in forecasts:
        lines.append(f"  {k:<34}{nll[k].mean():>10.5f}{ce[k].mean():>18.5f}")
    for a, b in (("close model", "Pinnacle pre-match (multiplicative)"), ("close model", "Pinnacle pre-match (fair)")):
        lines.append(
            f"  paired {a} - {b}: log loss {_ci_text(*mean_ci(nll[a] - nll[b], day))}; "
            f"CE {_ci_text(*mean_ci(ce[a] - ce[b], day))}"
        )
    return lines


def run_rule(data: pd.DataFrame, rows: np.ndarray, fair: np.ndarray, settings, min_edge: float) -> pd.DataFrame:
    pred = data.iloc[rows].reset_index(drop=True)
    books = list(settings.bet_bookmakers)
    odds = np.stack([_cols(pred, f"{book_slug(b)}_pre") for b in books])  # (books, n, 3)
    best = np.full(odds.shape[1:], np.nan)
    book = np.full(odds.shape[1:], None, dtype=object)
    for name, o in zip(books, odds):  # the highest price, the first book listed on a tie (backtest.best_price)
        with np.errstate(invalid="ignore"):
            take = np.isfinite(o) & ~(o <= best)
        best[take], book[take] = o[take], canonical(name)
    params = dataclasses.replace(StrategyParams.from_settings(settings), min_edge=min_edge)
    bets = simulate(pred, fair[rows], best, book, params, settings.starting_bankroll)
    return grade(bets, pred, settings.clv_method)


def clv_diff(a: pd.DataFrame, b: pd.DataFrame, method: str) -> tuple[float, float, float]:
    """mean CLV of bets a minus that of bets b, 95% interval clustered by match day (both sets' residuals summed
    per day: the days they share are paired)."""
    xa, xb = a[f"clv_{method}"].to_numpy(float), b[f"clv_{method}"].to_numpy(float)
    da, db = a["match_day"].to_numpy(object)[np.isfinite(xa)], b["match_day"].to_numpy(object)[np.isfinite(xb)]
    xa, xb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
    ma, mb = xa.mean(), xb.mean()
    u = (
        pd.concat([pd.Series((xa - ma) / len(xa), index=da), pd.Series(-(xb - mb) / len(xb), index=db)])
        .groupby(level=0)
        .sum()
    )
    g = len(u)
    se = float(np.sqrt(g / (g - 1) * (u.to_numpy() ** 2).sum()))
    return ma - mb, ma - mb - 1.96 * se, ma - mb + 1.96 * se


def bet_lines(name: str, summary: dict) -> list[str]:
    o = summary["overall"]
    by = o["clv_fair_by_method"]
    lines = [
        f"  {name}: {o['bets']} bets, ROI {100 * (o['roi'] or 0):+.1f}%; fair CLV "
        + "; ".join(f"{m} {_ci_text(by[m]['mean'], by[m]['ci95'], scale=100, digits=2)}%" for m in METHODS)
    ]
    seasons = summary["by_season"]
    lines.append(
        "    by season (CLV "
        + summary["clv_method"]
        + "): "
        + ", ".join(
            f"{s} {v['bets']}@{100 * v['clv_fair_mean']:+.2f}%" if v["bets"] else f"{s} 0" for s, v in seasons.items()
        )
    )
    return lines


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=FOOTBALL_DATA, show_default=True)
@click.option("--leagues", default=",".join(LEAGUES), show_default=True)
@click.option("--select", "select", is_flag=True, help="Score the settings grid on 2014-15..2018-19 and stop.")
@click.option("--l2", type=float, default=None, help="The ridge (default: CloseModel's).")
@click.option("--years", type=float, default=3.0, show_default=True, help="Training window in years.")
@click.option("--refit", "refit_days", type=int, default=7, show_default=True, help="Refit every N days.")
def main(data_dir, leagues, select, l2, years, refit_days):
    print(machine())
    t0 = time.perf_counter()
    settings = load_settings(data_source="sandbox")
    sharp = settings.sharp_bookmakers[0]
    frame = load(data_dir, leagues.split(","))
    data = inputs(frame, sharp, settings.bet_bookmakers, settings.clv_method)
    print(
        f"read {len(data)} played matches in {time.perf_counter() - t0:.1f}s; sharp {sharp}, soft books "
        f"{', '.join(settings.bet_bookmakers)}; FAIR_METHOD {settings.fair_method}, CLV_METHOD {settings.clv_method}"
    )
    base = CloseModel(fair_method=settings.fair_method, books=tuple(settings.bet_bookmakers))
    if l2 is not None:
        base.set_params(l2=l2)
    target = _cols(data, f"close_fair_{settings.clv_method}")
    pre_fair = implied_probabilities(_cols(data, "sharp_pre"), settings.fair_method)
    if select:
        period = SELECT
        kick = data["kickoff"]
        rows = np.flatnonzero(
            ((kick >= pd.Timestamp(period[0], tz="UTC")) & (kick < pd.Timestamp(period[1], tz="UTC"))).to_numpy()
        )
        print(
            f"selection on {period[0]}..{period[1]}, refit every {refit_days} days; CE vs the fair close "
            f"(Pinnacle pre-match by {settings.fair_method}: "
            f"{np.nanmean(cross_entropy(target[rows], pre_fair[rows])):.5f})"
        )
        results = []
        for yrs in YEARS_GRID:
            for lam in L2_GRID:
                p, spent = walk_forward(data, *period, base.set_params(l2=lam), yrs, refit_days, settings.clv_method)
                ok = rows[np.isfinite(p[rows]).all(1) & np.isfinite(target[rows]).all(1)]
                y = data["outcome"].to_numpy()[ok]
                ce, ll = cross_entropy(target[ok], p[ok]).mean(), _nll(p[ok], y).mean()
                print(
                    f"  years {yrs:>4} l2 {lam:<7} CE {ce:.6f}  log loss {ll:.6f}  "
                    f"(Pinnacle pre-match {_nll(pre_fair[ok], y).mean():.6f}; fit {spent:.1f}s)"
                )
                results.append((ce, yrs, lam))
        ce, yrs, lam = min(results)
        print(f"chosen by cross-entropy against the fair close: years {yrs}, l2 {lam}")
        print(f"done in {time.perf_counter() - t0:.0f}s")
        return

    run_report(data, base, years, refit_days, settings, target, pre_fair)
    print(f"done in {time.perf_counter() - t0:.0f}s")


def equal_volume(data, rows, fair, settings, n_bets: int) -> tuple[float, pd.DataFrame]:
    """The plain rule's MIN_EDGE (bisected from MIN_EDGE up) at which it places as close to n_bets as it can."""
    lo, hi = 0.0, 0.25
    best = (np.inf, settings.min_edge, None)
    for _ in range(14):
        mid = (lo + hi) / 2
        bets = run_rule(data, rows, fair, settings, mid)
        best = min(best, (abs(len(bets) - n_bets), mid, bets), key=lambda t: t[0])
        if len(bets) > n_bets:
            lo = mid
        else:
            hi = mid
        if len(bets) == n_bets:
            break
    return best[1], best[2]


def run_report(data, model, years, refit_days, settings, target, pre_fair) -> None:
    period = REPORT
    p, spent = walk_forward(data, *period, model, years, refit_days, settings.clv_method)
    kick = data["kickoff"]
    in_period = ((kick >= pd.Timestamp(period[0], tz="UTC")) & (kick < pd.Timestamp(period[1], tz="UTC"))).to_numpy()
    pre_mul = implied_probabilities(_cols(data, "sharp_pre"), "multiplicative")
    close_mul = implied_probabilities(_cols(data, "sharp_close"), "multiplicative")
    scored = in_period & np.isfinite(p).all(1) & np.isfinite(target).all(1) & np.isfinite(pre_fair).all(1)
    print(
        f"\nreport {period[0]}..{period[1]}: close model {model.get_params()}, window {years} years, refit every "
        f"{refit_days} days ({spent:.1f}s fitting); {in_period.sum()} matches, {scored.sum()} scored "
        f"(Pinnacle pre-match and close, and the model, all present)"
    )
    forecasts = {
        "Pinnacle pre-match (multiplicative)": pre_mul,
        "Pinnacle pre-match (fair)": pre_fair,
        "close model": p,
        "Pinnacle close (multiplicative)": close_mul,
        f"Pinnacle close ({settings.clv_method})": target,
    }
    for line in scores(data, np.flatnonzero(scored), forecasts, settings.clv_method):
        print(line)
    rows = np.flatnonzero(in_period)
    fair_model = np.where(np.isfinite(p).all(1, keepdims=True), p, pre_fair)
    pred = data.iloc[rows].reset_index(drop=True)
    bankroll, method = settings.starting_bankroll, settings.clv_method
    min_edge = settings.min_edge
    plain = run_rule(data, rows, pre_fair, settings, min_edge)
    closer = run_rule(data, rows, fair_model, settings, min_edge)
    print(
        f"\nbetting (best of {', '.join(settings.bet_bookmakers)}; MIN_EDGE {min_edge:g}; CLV against Pinnacle's "
        f"close, margin removed by each method; 95% intervals clustered by match day):"
    )
    for name, bets in (("plain sharp rule", plain), ("close-model rule", closer)):
        for line in bet_lines(name, betting_summary(bets, pred, bankroll, method)):
            print(line)
    both = set(zip(plain["match_id"], plain["bet_outcome"])) & set(zip(closer["match_id"], closer["bet_outcome"]))
    print(
        f"  bets in common (match and outcome): {len(both)}; difference of mean CLV, close model - plain, "
        + "; ".join(f"{m} {_ci_text(*clv_diff(closer, plain, m), scale=100, digits=2)}%" for m in METHODS)
    )
    edge, eq = equal_volume(data, rows, pre_fair, settings, len(closer))
    print(f"\nequal volume: the plain rule with MIN_EDGE {edge:.4f} places {len(eq)} bets (close model {len(closer)}):")
    for line in bet_lines(f"plain sharp rule, MIN_EDGE {edge:.4f}", betting_summary(eq, pred, bankroll, method)):
        print(line)
    print(
        "  difference of mean CLV, close model - plain at equal volume: "
        + "; ".join(f"{m} {_ci_text(*clv_diff(closer, eq, m), scale=100, digits=2)}%" for m in METHODS)
    )


if __name__ == "__main__":
    main()
