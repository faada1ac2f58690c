"""The close model in the walk-forward: refitted every week, like the other models, on what was known before it.

Each week of the test period the close model (`pipeline.forecast.models.close_model`, production's class and
window, `CLOSE_MODEL_YEARS`) is refitted, warm-started from the week before, on the matches of the years before
the week that have both a sharp pre-match and a sharp closing price, and predicts the week's matches. Its inputs
are what is known when a bet is made: every bookmaker's pre-match prices (the sharp book's and BET_BOOKMAKERS'),
the ensemble's out-of-sample probabilities (`forecasts=("ensemble",)`; zero weight where the walk-forward has
none yet, as in the weekly training), league, season stage and weekday. Its target is the sharp book's close with
the margin removed by CLV_METHOD: the line bets are graded against.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.forecast.fair_line import CloseLine, fair_close, model_inputs, with_forecast
from pipeline.outcomes import OUTCOMES


def close_inputs(frame: pd.DataFrame, prices: pd.DataFrame | None, line: CloseLine) -> tuple[pd.DataFrame, np.ndarray]:
    """The close model's input frame for the rows of `frame` (league, kick-off, the sharp and each bet book's
    pre-match odds from `prices`, by match id; production's `fair_line.model_inputs`) and its target (n, 3),
    the sharp close without its margin."""
    wide = (
        prices.reindex(frame["match_id"].to_numpy()).reset_index(drop=True)
        if prices is not None
        else pd.DataFrame(index=range(len(frame)))
    )
    return model_inputs(frame, wide, line.sharp_books, line.bet_books), fair_close(
        wide, line.sharp_books, line.clv_method
    )


def close_walk_forward(
    inputs: pd.DataFrame,
    target: np.ndarray,
    week: np.ndarray,
    weeks: Sequence[int] | np.ndarray,
    origin: pd.Timestamp,
    line: CloseLine,
) -> tuple[np.ndarray, int]:
    """The close model's probabilities (n, 3) for the rows of the `weeks` (NaN elsewhere and where a week could
    not be fitted), each from a fit on the `line.years` before its week (`week`: each row's week number since
    `origin`), warm-started from the week before; and the number of fits."""
    kick = inputs["kickoff"]
    probs = np.full((len(inputs), 3), np.nan)
    usable = np.isfinite(target).all(axis=1) & np.isfinite(inputs[[f"sharp_pre_{o}" for o in OUTCOMES]]).all(axis=1)
    window = pd.Timedelta(days=round(365.25 * line.years))
    coef, fits = None, 0
    for w in weeks:
        rows = np.flatnonzero(week == w)
        start = origin + pd.Timedelta(weeks=int(w))
        train = np.flatnonzero(usable.to_numpy() & (kick < start).to_numpy() & (kick >= start - window).to_numpy())
        if len(train) < 100 or not len(rows):
            continue
        model = line.model().fit(inputs.iloc[train], target[train], warm_start=coef)
        coef, fits = model.coef_, fits + 1
        probs[rows] = model.predict_proba(inputs.iloc[rows])
    return probs, fits


def run_close_line(
    frame: pd.DataFrame,
    prices: pd.DataFrame | None,
    ensemble: np.ndarray,
    week: np.ndarray,
    test_mask: np.ndarray,
    origin: pd.Timestamp,
    line: CloseLine,
) -> tuple[np.ndarray, dict]:
    """The walk-forward's close-model step over `frame` (the walk-forward's sorted played matches, `ensemble`
    its out-of-sample probabilities aligned with it): probabilities for the test rows, and what it did."""
    t = time.perf_counter()
    inputs, target = close_inputs(frame, prices, line)
    inputs = with_forecast(inputs, ensemble)
    probs, fits = close_walk_forward(inputs, target, week, np.unique(week[test_mask]), origin, line)
    return probs, {"fits": fits, "seconds": time.perf_counter() - t}


__all__ = ["CloseLine", "close_inputs", "close_walk_forward", "run_close_line"]
