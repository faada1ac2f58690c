"""The two fair lines side by side on the same test matches: the sharp pre-match price (margin removed by
FAIR_METHOD) and the close model's forecast of the sharp close.

- `close_model_scores`: the close model's log loss against the results and every forecaster's cross-entropy
  against the fair close (the sharp close, margin removed by CLV_METHOD) on the backtest's scored matches, and the
  paired differences close model minus Pinnacle pre-match (multiplicative, as `market_prematch`, and by
  FAIR_METHOD, the line the plain rule bets against) with 95% intervals clustered by match day;
- `compare_bets`: the two rules' bets: the difference of their mean CLVs over all their bets, and paired over the
  matches both bet (each rule's mean CLV on the match), both under each grading, clustered by match day;
- `equal_volume`: the plain rule's MIN_EDGE raised until it places as many bets as the close-model rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from pipeline.betting.strategy import StrategyParams
from pipeline.evaluation.walk_forward import probs_columns
from pipeline.forecast.models.close_model import cross_entropy
from pipeline.metrics import score_all
from pipeline.odds import METHODS, implied_probabilities
from pipeline.prices import CLOSE_MODEL
from pipeline.value_stats import mean_ci


def _ci(x: np.ndarray, day: np.ndarray) -> dict:
    m, lo, hi = mean_ci(x, day)
    ok = np.isfinite(lo) and np.isfinite(hi)
    return {"diff": float(m), "ci95": [float(lo), float(hi)] if ok else None, "n": int(np.isfinite(x).sum())}


def _nll(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1))


def close_model_probs(pred: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The close model's probabilities, the plain rule's fair line where it has none (no sharp pre-match price or
    too little history): (probabilities, where the fallback stood in)."""
    p = probs_columns(pred, CLOSE_MODEL).copy()
    fallback = ~np.isfinite(p).all(axis=1)
    p[fallback] = probs_columns(pred, "fair")[fallback]
    return p, fallback


def close_model_scores(scores: dict, pred: pd.DataFrame, clv_method: str, fair_method: str) -> dict:
    """Adds `close_model` to every league's table of `scores` (on the same matches: the fallback of
    close_model_probs where it has no forecast) and `ce_vs_fair_close` to it and to the market prices; returns
    the paired comparison for the backtest's info."""
    names = list(scores["overall"])
    common = np.column_stack([np.isfinite(probs_columns(pred, n)).all(axis=1) for n in names]).all(axis=1)
    close, fallback = close_model_probs(pred)
    target = probs_columns(pred, f"close_fair_{clv_method}")
    sharp_fair = implied_probabilities(probs_columns(pred, "sharp_pre"), fair_method)
    y = pred["outcome"].to_numpy()
    day = pred["kickoff"].dt.date.to_numpy()
    has_target = np.isfinite(target).all(axis=1)
    for league, table in scores.items():
        rows = common if league == "overall" else common & (pred["league"] == league).to_numpy()
        idx = np.flatnonzero(rows)
        table[CLOSE_MODEL] = score_all(close[idx], y[idx])
        ce_rows = np.flatnonzero(rows & has_target)
        for name in (CLOSE_MODEL, "market_prematch", "market_closing"):
            p = close if name == CLOSE_MODEL else probs_columns(pred, name)
            table[name]["ce_vs_fair_close"] = float(cross_entropy(target[ce_rows], p[ce_rows]).mean())
            table[name]["n_ce"] = int(len(ce_rows))
    # paired on the scored matches with a sharp pre-match price and a sharp close: where both lines exist
    idx = np.flatnonzero(common & has_target & np.isfinite(sharp_fair).all(axis=1) & ~fallback)
    pre_mult = probs_columns(pred, "market_prematch")
    out: dict = {
        "matches": int(len(idx)),
        "scored_with_fallback": int((common & fallback).sum()),
        "target": f"sharp close, margin removed by {clv_method}",
        "clustered_by": "match day",
    }
    for name, other in (("market_prematch", pre_mult), (f"sharp_prematch_{fair_method}", sharp_fair)):
        out[f"close_model_minus_{name}"] = {
            "log_loss": _ci(_nll(close[idx], y[idx]) - _nll(other[idx], y[idx]), day[idx]),
            "ce_vs_fair_close": _ci(
                cross_entropy(target[idx], close[idx]) - cross_entropy(target[idx], other[idx]), day[idx]
            ),
        }
    return out


def clv_difference(a: pd.DataFrame, b: pd.DataFrame, method: str) -> dict:
    """Mean CLV of bets `a` minus that of bets `b` (each over all its graded bets), 95% interval clustered by match
    day: both sets' residuals summed per day, so the days they share are paired."""
    xa, xb = a[f"clv_{method}"].to_numpy(float), b[f"clv_{method}"].to_numpy(float)
    da, db = a["match_day"].to_numpy(object)[np.isfinite(xa)], b["match_day"].to_numpy(object)[np.isfinite(xb)]
    xa, xb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
    if not len(xa) or not len(xb):
        return {"diff": None, "ci95": None}
    ma, mb = float(xa.mean()), float(xb.mean())
    u = pd.concat([pd.Series((xa - ma) / len(xa), index=da), pd.Series(-(xb - mb) / len(xb), index=db)])
    u = u.groupby(level=0).sum().to_numpy()
    g = len(u)
    if g < 2:
        return {"diff": ma - mb, "ci95": None}
    se = float(np.sqrt(g / (g - 1) * (u**2).sum()))
    return {"diff": ma - mb, "ci95": [ma - mb - 1.96 * se, ma - mb + 1.96 * se]}


def paired_on_matches(a: pd.DataFrame, b: pd.DataFrame, method: str) -> dict:
    """Over the matches both rules bet: each rule's mean CLV on the match, the mean of a - b, clustered by day."""
    col = f"clv_{method}"
    ma = a.groupby("match_id").agg(clv=(col, "mean"), day=("match_day", "first"))
    mb = b.groupby("match_id")[col].mean()
    both = ma.join(mb.rename("other"), how="inner")
    both = both[np.isfinite(both["clv"]) & np.isfinite(both["other"])]
    return _ci((both["clv"] - both["other"]).to_numpy(float), both["day"].to_numpy(object))


def compare_bets(close: pd.DataFrame, sharp: pd.DataFrame) -> dict:
    """The close-model rule's bets against the plain rule's (graded bets, simulation.grade), by each grading."""
    same = set(zip(close["match_id"], close["bet_outcome"])) & set(zip(sharp["match_id"], sharp["bet_outcome"]))
    return {
        "bets": {"close_model": int(len(close)), "sharp": int(len(sharp)), "same_bet": len(same)},
        "matches_both_bet": int(len(set(close["match_id"]) & set(sharp["match_id"]))),
        "close_model_minus_sharp": {
            m: {"all_bets": clv_difference(close, sharp, m), "matches_both_bet": paired_on_matches(close, sharp, m)}
            for m in METHODS
        },
        "clustered_by": "match day",
    }


def equal_volume(run: Callable[[StrategyParams], pd.DataFrame], params: StrategyParams, n_bets: int):
    """(MIN_EDGE, its bets): the plain rule's minimum edge, bisected between 0 and 0.25, at which `run` (the
    plain rule's simulation with those parameters) places as close to `n_bets` bets as it can."""
    lo, hi = 0.0, 0.25
    best: tuple = (np.inf, params.min_edge, None)
    for _ in range(14):
        mid = (lo + hi) / 2
        bets = run(dataclasses.replace(params, min_edge=mid))
        if abs(len(bets) - n_bets) < best[0]:
            best = (abs(len(bets) - n_bets), mid, bets)
        if len(bets) == n_bets:
            break
        lo, hi = (mid, hi) if len(bets) > n_bets else (lo, mid)
    return best[1], best[2]


__all__ = [
    "CLOSE_MODEL",
    "close_model_probs",
    "close_model_scores",
    "clv_difference",
    "paired_on_matches",
    "compare_bets",
    "equal_volume",
]
