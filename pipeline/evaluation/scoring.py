"""Scores of the replayed forecasts: log loss, Brier, RPS and accuracy per league and overall for every model,
the price-only baseline `market_recalibrated` and the market prices, on exactly the same matches (those every
model predicted and both prices exist); the ensemble's log loss difference to `market_recalibrated` paired,
with a standard error clustered by match day; the same scores on established teams only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.evaluation.walk_forward import BASELINES, ESTABLISHED_MATCHES, MARKETS, MODELS, probs_columns
from pipeline.metrics import score_all
from pipeline.value_stats import mean_se


def score_predictions(pred: pd.DataFrame) -> tuple[dict, dict]:
    """({"overall"|league: {forecaster: {n, log_loss, brier, rps, accuracy}}}, what was scored and left out)."""
    # a model that never predicted (too little history for it) is left out and named, not allowed to empty the set
    have = {n: np.isfinite(probs_columns(pred, n)).all(axis=1) for n in (*MODELS, *BASELINES)}
    models = [n for n in MODELS if have[n].any()]
    if not models:
        raise ValueError("no model could predict any test match: give the backtest more history before --from")
    models_ok = np.column_stack([have[n] for n in models]).all(axis=1)
    markets_ok = np.column_stack([np.isfinite(probs_columns(pred, n)).all(axis=1) for n in MARKETS]).all(axis=1)
    use_markets = bool((models_ok & markets_ok).any())
    baselines = [n for n in BASELINES if use_markets and have[n][models_ok & markets_ok].all()]
    common = models_ok & markets_ok if use_markets else models_ok
    forecasters = [*models, *baselines, *MARKETS] if use_markets else models
    scores = {}
    for league, idx in [("overall", np.flatnonzero(common))] + [
        (lg, np.flatnonzero(common & (pred["league"] == lg).to_numpy())) for lg in sorted(pred["league"].unique())
    ]:
        y = pred["outcome"].to_numpy()[idx]
        scores[league] = {n: score_all(probs_columns(pred, n)[idx], y) for n in forecasters}
    est = np.flatnonzero(common & pred["established"].to_numpy(bool)) if "established" in pred else np.array([], int)
    established = (
        {n: score_all(probs_columns(pred, n)[est], pred["outcome"].to_numpy()[est]) for n in forecasters}
        if len(est)
        else {}
    )
    priced = np.isfinite(probs_columns(pred, "odds")).all(axis=1)
    info: dict[str, Any] = {
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
            n: -np.log(np.clip(probs_columns(pred, n)[idx][np.arange(len(idx)), y], 1e-15, 1))
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


__all__ = ["score_predictions"]
