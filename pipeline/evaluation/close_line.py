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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.forecast.models.close_model import CLOSE_MODEL_YEARS, CloseModel, book_slug
from pipeline.odds import implied_probabilities
from pipeline.outcomes import OUTCOMES

FORECASTS = ("ensemble",)  # the models' view the close model may lean on (production's choice as well)


@dataclass(frozen=True)
class CloseLine:
    """How the walk-forward builds the close model: production's class and window, the books it reads, the
    margin removal of its offset (FAIR_METHOD) and of its target (CLV_METHOD)."""

    sharp_books: tuple[str, ...]
    bet_books: tuple[str, ...]
    fair_method: str
    clv_method: str
    years: float = CLOSE_MODEL_YEARS

    def model(self) -> CloseModel:
        return CloseModel(books=self.bet_books, fair_method=self.fair_method, forecasts=FORECASTS)


def first_priced(prices: pd.DataFrame, books: Sequence[str], kind: str) -> np.ndarray:
    """(n, 3) the `kind` ("pre" or "close") price of the first of `books` that prices each match (NaN: none)."""
    out = np.full((len(prices), 3), np.nan)
    for book in books:
        cols = [f"{book_slug(book)}_{kind}_{o}" for o in OUTCOMES]
        if not all(c in prices for c in cols):
            continue
        odds = prices[cols].to_numpy(float)
        with np.errstate(invalid="ignore"):
            take = ~np.isfinite(out).all(axis=1) & np.isfinite(odds).all(axis=1) & (odds > 1).all(axis=1)
        out[take] = odds[take]
    return out


def close_inputs(frame: pd.DataFrame, prices: pd.DataFrame | None, line: CloseLine) -> tuple[pd.DataFrame, np.ndarray]:
    """The close model's input frame for the rows of `frame` (league, kick-off, the sharp and each bet book's
    pre-match odds from `prices`, by match id) and its target (n, 3), the sharp close without its margin."""
    x = frame[["league", "kickoff"]].reset_index(drop=True)
    cols = [
        f"{book_slug(b)}_{k}_{o}"
        for b in (*line.sharp_books, *line.bet_books)
        for k in ("pre", "close")
        for o in OUTCOMES
    ]
    cols = [c for c in dict.fromkeys(cols) if prices is not None and c in prices]
    got = (
        prices.reindex(columns=cols).reindex(frame["match_id"].to_numpy()).reset_index(drop=True)
        if prices is not None
        else pd.DataFrame(index=x.index)
    )
    sharp_pre = first_priced(got, line.sharp_books, "pre")
    sharp_close = first_priced(got, line.sharp_books, "close")
    parts = {f"sharp_pre_{o}": sharp_pre[:, k] for k, o in enumerate(OUTCOMES)}
    for b in line.bet_books:
        for o in OUTCOMES:
            c = f"{book_slug(b)}_pre_{o}"
            parts[c] = got[c].to_numpy(float) if c in got else np.full(len(x), np.nan)
    x = pd.concat([x, pd.DataFrame(parts)], axis=1)
    return x, implied_probabilities(sharp_close, line.clv_method)


def close_walk_forward(
    inputs: pd.DataFrame,
    target: np.ndarray,
    week: np.ndarray,
    weeks: Sequence[int],
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
    for k, o in enumerate(OUTCOMES):
        inputs[f"ensemble_{o}"] = ensemble[:, k]
    probs, fits = close_walk_forward(inputs, target, week, np.unique(week[test_mask]), origin, line)
    return probs, {"fits": fits, "seconds": time.perf_counter() - t}


__all__ = ["CloseLine", "FORECASTS", "first_priced", "close_inputs", "close_walk_forward", "run_close_line"]
