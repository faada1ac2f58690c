"""The close model: the sharp book's fair closing probabilities anticipated from what is known when a bet is made.

A bet's closing-line value is graded against the sharp close with the margin removed, so the fair line that
finds the bets which beat it is the best forecast of that close, not of the result. The sharp pre-match price is
most of it; the rest lies in how the soft books price the match beside it (their consensus leads the sharp line's
later moves a little, each book has habits of its own), in the draw and long shots, in the league and the time of
season, and in how long the sharp line still has to move (the day of the week stands in where no snapshot time is
known).

The model is a multinomial logistic regression with the sharp pre-match log-probabilities as an offset:

    p(outcome k) proportional to exp(log s_k + b_k + x . W_k),

s the sharp pre-match price with the margin removed by `fair_method`, x the standardised features below, W and b
fitted by minimising the cross-entropy against the soft targets (the fair closing probabilities, any row summing
to 1) plus `l2` x the sum of squares of W, by L-BFGS with the exact gradient. W = 0 and b = 0 give back the sharp
price itself, so the penalty shrinks towards the line the plain rule bets against.

Input: a DataFrame with `sharp_pre_home/draw/away` (the sharp book's pre-match odds), `<book>_pre_home/draw/away`
for each of `books` (book_slug names, as the backtest's price columns), `league`, `kickoff` (UTC), optionally
`<name>_home/draw/away` probabilities for each of `forecasts` (e.g. the ensemble's). A soft book without a price
for a match counts as absent (its deviation 0, left out of the consensus); a row without a sharp price gets a NaN
row from predict_proba (the fair line falls back as it did before).

Features (per outcome k unless said): the sharp log-probabilities themselves (their tempering), the soft books'
consensus minus the sharp price (log scale), each book's deviation from the consensus, the books' spread, the
best soft price's edge over the sharp line (log of best odds x s_k), the sharp and soft overrounds, each
forecast's log-ratio to the sharp price, the league (one-hot over the leagues seen in fit), the season stage,
and the weekday group of kick-off (weekend or midweek; the snapshot-to-kick-off gap differs between them).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from pipeline.bookmakers import SOFT_DEFAULT, canonical
from pipeline.forecast.models.base import Forecaster
from pipeline.odds import implied_probabilities
from pipeline.outcomes import OUTCOMES

EPS = 1e-6
CLOSE_MODEL_YEARS = 3.0  # the training window (chosen with l2 on 2014-15..2018-19: bench/close_model_study.py)


def book_slug(name: str) -> str:
    """A column-safe name for a bookmaker ("Bet&Win" -> "bet_and_win"), as the backtest's price columns."""
    return re.sub(r"[^a-z0-9]+", "_", canonical(name).lower().replace("&", " and ")).strip("_")


def _triple(frame: pd.DataFrame, prefix: str) -> np.ndarray:
    cols = [f"{prefix}_{o}" for o in OUTCOMES]
    if not all(c in frame for c in cols):
        return np.full((len(frame), 3), np.nan)
    return frame[cols].to_numpy(float)


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, EPS, 1.0))


def season_stage(kickoff: pd.Series) -> np.ndarray:
    """Years since the 1st of July that opened the season (0 at the start, about 0.9 at the end)."""
    k = pd.to_datetime(kickoff, utc=True)
    year = k.dt.year - (k.dt.month < 7).astype(int)
    start = pd.to_datetime(year.astype(str) + "-07-01", utc=True)
    return ((k - start).dt.total_seconds() / (365.25 * 86400)).to_numpy(float)


def close_features(
    frame: pd.DataFrame, books: Sequence[str], fair_method: str, forecasts: Sequence[str], leagues: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(log sharp probabilities (n, 3), features (n, d), feature names) from the input frame."""
    sharp = implied_probabilities(_triple(frame, "sharp_pre"), fair_method)
    base = _log(sharp)
    odds = np.stack([_triple(frame, f"{book_slug(b)}_pre") for b in books])  # (books, n, 3)
    with np.errstate(invalid="ignore"):
        have = np.isfinite(odds).all(axis=2) & (odds > 1).all(axis=2)
    probs = np.stack([implied_probabilities(o, "multiplicative") for o in odds])
    logs = np.where(have[..., None], _log(np.nan_to_num(probs, nan=1.0)), np.nan)
    n_have = have.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no soft book priced the match
        consensus = np.nanmean(logs, axis=0)
        spread = np.where(n_have[:, None] >= 2, np.nanstd(logs, axis=0), 0.0)
        best = np.nanmax(np.where(have[..., None], odds, np.nan), axis=0)
        soft_over = np.nanmean(np.where(have, (1 / odds).sum(axis=2) - 1, np.nan), axis=0)
    none = n_have == 0
    consensus[none] = base[none]
    best = np.where(np.isfinite(best), best, 1.0 / np.clip(sharp, EPS, 1))
    soft_over = np.where(none, 0.0, soft_over)
    cols: list[np.ndarray] = []
    names: list[str] = []

    def add(values: np.ndarray, name: str) -> None:
        values = np.asarray(values, float).reshape(len(frame), -1)
        cols.append(np.nan_to_num(values, nan=0.0))
        names.extend([f"{name}_{o}" for o in OUTCOMES] if values.shape[1] == 3 else [name])

    add(base, "sharp_log")
    add(consensus - base, "consensus_minus_sharp")
    for b, lg in zip(books, logs):
        add(np.where(np.isfinite(lg), lg - consensus, 0.0), f"dev_{book_slug(b)}")
    with np.errstate(invalid="ignore", divide="ignore"):
        for b, o in zip(books, odds):  # a book's price above the sharp line: is that book ahead of it, or stale?
            add(np.where(np.isfinite(o), np.maximum(np.log(o * sharp), 0.0), 0.0), f"above_{book_slug(b)}")
    add(spread, "spread")
    add(_log(np.clip(best * sharp, EPS, None)), "best_edge")
    sharp_odds = _triple(frame, "sharp_pre")
    add((1 / sharp_odds).sum(axis=1) - 1, "sharp_overround")
    add(soft_over, "soft_overround")
    for name in forecasts:
        add(_log(_triple(frame, name)) - base, f"{name}_minus_sharp")
    league = frame["league"].astype(str).to_numpy() if "league" in frame else np.full(len(frame), "")
    for lg in leagues:
        add((league == lg).astype(float), f"league_{lg}")
    if "kickoff" in frame:
        kick = pd.to_datetime(frame["kickoff"], utc=True)
        add(season_stage(kick), "season_stage")
        add(kick.dt.tz_convert("Europe/London").dt.day_of_week.isin([1, 2, 3]).to_numpy(float), "midweek")
    return base, np.column_stack(cols), names


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class CloseModel(Forecaster):
    """The sharp close's fair probabilities from the pre-match prices (see the module's docstring).

    Parameters: `l2` the ridge on the standardised features' weights (the intercepts are free); `books` the soft
    books whose prices are features; `fair_method` the margin removal of the sharp pre-match price (the offset);
    `forecasts` probability column prefixes added as features; `max_iter` of L-BFGS.
    """

    def __init__(
        self,
        l2: float = 0.03,  # chosen on 2014-15..2018-19 (bench/close_model_study.py --select)
        books: Sequence[str] = SOFT_DEFAULT,
        fair_method: str = "power",
        forecasts: Sequence[str] = (),
        max_iter: int = 300,
    ):
        self.l2 = l2
        self.books = books
        self.fair_method = fair_method
        self.forecasts = forecasts
        self.max_iter = max_iter

    def _design(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        base, feats, _ = close_features(X, tuple(self.books), self.fair_method, tuple(self.forecasts), self.leagues_)
        ok = np.isfinite(base).all(axis=1) & np.isfinite(_triple(X, "sharp_pre")).all(axis=1)
        return base, (feats - self.mean_) / self.scale_, ok

    def fit(self, X: pd.DataFrame, Y, sample_weight=None, warm_start: np.ndarray | None = None) -> CloseModel:
        """X the input frame, Y (n, 3) the fair closing probabilities (rows with a NaN target or no sharp
        price are left out). `warm_start`: a previous fit's `coef_` to start from (same features)."""
        if self.l2 < 0:
            raise ValueError("l2 must be >= 0")
        Y = np.asarray(Y, float).reshape(-1, 3)
        if len(Y) != len(X):
            raise ValueError("X and Y must have the same number of rows")
        leagues = X["league"].astype(str) if "league" in X else pd.Series([""] * len(X))
        self.leagues_ = sorted(leagues.unique())
        base, feats, names = close_features(
            X, tuple(self.books), self.fair_method, tuple(self.forecasts), self.leagues_
        )
        ok = np.isfinite(base).all(axis=1) & np.isfinite(Y).all(axis=1) & np.isfinite(_triple(X, "sharp_pre")).all(1)
        if ok.sum() < 10:
            raise ValueError(f"only {int(ok.sum())} rows with both a sharp pre-match price and a target")
        w = np.ones(len(Y)) if sample_weight is None else np.asarray(sample_weight, float).ravel()
        if len(w) != len(Y) or not (np.isfinite(w) & (w >= 0)).all():
            raise ValueError("sample_weight must be one finite weight >= 0 per row")
        base, feats, Y, w = base[ok], feats[ok], Y[ok] / Y[ok].sum(axis=1, keepdims=True), w[ok] / w[ok].mean()
        self.mean_ = feats.mean(axis=0)
        self.scale_ = np.where(feats.std(axis=0) > 1e-12, feats.std(axis=0), 1.0)
        Z = (feats - self.mean_) / self.scale_
        n, d = Z.shape
        l2 = float(self.l2)

        def objective(theta):
            W, b = theta[: 3 * d].reshape(d, 3), theta[3 * d :]
            s = base + b + Z @ W
            s = s - s.max(axis=1, keepdims=True)
            logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
            r = (np.exp(logp) - Y) * w[:, None]
            loss = -(w[:, None] * Y * logp).sum() / n + l2 * (W**2).sum()
            grad = np.r_[(Z.T @ r / n + 2 * l2 * W).ravel(), r.sum(axis=0) / n]
            return loss, grad

        x0 = np.zeros(3 * d + 3) if warm_start is None or len(warm_start) != 3 * d + 3 else np.asarray(warm_start)
        res = minimize(objective, x0, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        self.coef_ = res.x
        self.feature_names_ = names
        self.n_train_ = int(n)
        self.train_loss_ = float(res.fun)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 3) home/draw/away fair closing probabilities; NaN rows where X has no sharp pre-match price."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("CloseModel is not fitted: call fit first")
        base, Z, ok = self._design(X)
        d = Z.shape[1]
        W, b = self.coef_[: 3 * d].reshape(d, 3), self.coef_[3 * d :]
        out = np.full((len(X), 3), np.nan)
        if ok.any():
            out[ok] = _softmax(base[ok] + b + Z[ok] @ W)
        return out

    def weights(self) -> pd.DataFrame:
        """The fitted weights per (standardised) feature and outcome, for reading what the model learned."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("CloseModel is not fitted: call fit first")
        d = len(self.feature_names_)
        return pd.DataFrame(self.coef_[: 3 * d].reshape(d, 3), index=self.feature_names_, columns=list(OUTCOMES))


def cross_entropy(target, probs) -> np.ndarray:
    """Per row, -sum_k target_k log probs_k: the loss against soft targets (the fair close)."""
    return -(np.asarray(target, float) * _log(np.asarray(probs, float))).sum(axis=1)


__all__ = ["CLOSE_MODEL_YEARS", "CloseModel", "close_features", "cross_entropy", "book_slug", "season_stage"]
