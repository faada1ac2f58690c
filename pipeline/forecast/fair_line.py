"""The close model as the fair line (FAIR_LINE=close_model): its inputs and target from every bookmaker's prices,
its fit and check in weekly training, and its fair probabilities at prediction time.

The close model (`models.close_model.CloseModel`) forecasts the sharp book's close without its margin (by
CLV_METHOD, the line bets are graded against) from what is known when a bet is made: the sharp book's and every
BET_BOOKMAKERS book's pre-match price, the ensemble's probabilities, league and season stage. The backtest
(`pipeline.evaluation.close_line`) builds the same inputs with the same functions.

Training (`fit_close_line`): on the matches of CLOSE_MODEL_YEARS before the newest with a sharp pre-match and a
closing price. Their inputs are each book's latest snapshot fetched at least PREMATCH_LEAD before kick-off:
bets are placed up to PREDICTION_HORIZON_HOURS ahead, and the last snapshot before kick-off is nearly the close
itself (a model trained on it would learn that the line does not move). The ensemble's probabilities are its
out-of-sample ones where training made them (the later part of the stacking window and the validation
matches), zero weight elsewhere, as in the backtest. The check: a fit on the matches before the validation
matches forecasts their fair close; the gate (`validation.judge_close_model`) keeps it only when it beats the
sharp pre-match price there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from pipeline.bookmakers import canonical
from pipeline.forecast.models.close_model import CLOSE_MODEL_YEARS, CloseModel, book_slug, cross_entropy
from pipeline.odds import implied_probabilities
from pipeline.outcomes import OUTCOMES

FORECASTS = ("ensemble",)  # the models' view the close model may lean on
PREMATCH_LEAD = timedelta(hours=24)  # training inputs: snapshots at least this long before kick-off
MIN_ROWS = 100


def wide_prices(long: pd.DataFrame, key: str, kind: str) -> pd.DataFrame:
    """A long table of snapshots (key, bookmaker, home, draw, away; one per key and book) as columns
    `<book>_<kind>_<outcome>` indexed by key (book_slug names; prices not above 1 left out)."""
    if long is None or long.empty:
        return pd.DataFrame(index=pd.Index([], name=key))
    d = long.sort_values("fetched_at", kind="stable") if "fetched_at" in long else long.copy()
    odds = d[list(OUTCOMES)].to_numpy(float)
    with np.errstate(invalid="ignore"):
        d = d[np.isfinite(odds).all(axis=1) & (odds > 1).all(axis=1)]
    d["slug"] = d["bookmaker"].map(lambda b: book_slug(canonical(str(b))))
    out = d.pivot_table(index=key, columns="slug", values=list(OUTCOMES), aggfunc="last")
    out.columns = [f"{slug}_{kind}_{o}" for o, slug in out.columns]
    return out


def first_priced(wide: pd.DataFrame, books: Sequence[str], kind: str) -> np.ndarray:
    """(n, 3) the `kind` ("pre" or "close") price of the first of `books` that prices each row (NaN: none)."""
    out = np.full((len(wide), 3), np.nan)
    for book in books:
        cols = [f"{book_slug(book)}_{kind}_{o}" for o in OUTCOMES]
        if not all(c in wide for c in cols):
            continue
        odds = wide[cols].to_numpy(float)
        with np.errstate(invalid="ignore"):
            take = ~np.isfinite(out).all(axis=1) & np.isfinite(odds).all(axis=1) & (odds > 1).all(axis=1)
        out[take] = odds[take]
    return out


def model_inputs(
    frame: pd.DataFrame, wide: pd.DataFrame, sharp_books: Sequence[str], bet_books: Sequence[str]
) -> pd.DataFrame:
    """The close model's input frame for the rows of `frame` (its league and kick-off), `wide` aligned with it:
    the first sharp book's pre-match odds as `sharp_pre_*`, each bet book's as `<book>_pre_*`."""
    x = frame[["league", "kickoff"]].reset_index(drop=True)
    wide = wide.reset_index(drop=True)
    sharp = first_priced(wide, sharp_books, "pre")
    parts = {f"sharp_pre_{o}": sharp[:, k] for k, o in enumerate(OUTCOMES)}
    for b in bet_books:
        for o in OUTCOMES:
            c = f"{book_slug(b)}_pre_{o}"
            parts[c] = wide[c].to_numpy(float) if c in wide else np.full(len(x), np.nan)
    return pd.concat([x, pd.DataFrame(parts)], axis=1)


def fair_close(wide: pd.DataFrame, sharp_books: Sequence[str], clv_method: str) -> np.ndarray:
    """(n, 3) the first sharp book's closing price without its margin (CLV_METHOD): the close model's target."""
    return implied_probabilities(first_priced(wide, sharp_books, "close"), clv_method)


@dataclass(frozen=True)
class CloseLine:
    """How the close model is built, in training and in the backtest: the books it reads (the sharp ones for its
    offset and target, BET_BOOKMAKERS as features), the margin removal of its offset (FAIR_METHOD) and of its
    target (CLV_METHOD), its window."""

    sharp_books: tuple[str, ...]
    bet_books: tuple[str, ...]
    fair_method: str
    clv_method: str
    years: float = CLOSE_MODEL_YEARS

    @classmethod
    def from_settings(cls, settings) -> CloseLine:
        return cls(
            tuple(settings.sharp_bookmakers), tuple(settings.bet_bookmakers), settings.fair_method, settings.clv_method
        )

    @property
    def books(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.sharp_books, *self.bet_books]))

    def model(self) -> CloseModel:
        return CloseModel(books=self.bet_books, fair_method=self.fair_method, forecasts=FORECASTS)


def with_forecast(inputs: pd.DataFrame, probs: np.ndarray, name: str = "ensemble") -> pd.DataFrame:
    out = inputs.copy()
    for k, o in enumerate(OUTCOMES):
        out[f"{name}_{o}"] = np.asarray(probs, float)[:, k]
    return out


@dataclass(frozen=True)
class CloseLineFit:
    """The close model fitted for deployment, and its check on the validation matches: its cross-entropy against
    their fair close beside the sharp pre-match price's (FAIR_METHOD), on the `n` matches with both."""

    model: CloseModel | None
    n: int
    ce_close_model: float
    ce_sharp: float
    reason: str | None = None  # why there is no fit (too few matches with both prices)


def fit_close_line(
    inputs: pd.DataFrame,
    target: np.ndarray,
    validation: np.ndarray,
    template: CloseModel,
    years: float = CLOSE_MODEL_YEARS,
) -> CloseLineFit:
    """`inputs` (model_inputs with the forecasts) and `target` of the training frame's rows, sorted by kick-off;
    `validation` marks the held-out matches. The check's fit uses the `years` before them, the deployed fit the
    `years` before the newest match."""
    kick = pd.to_datetime(inputs["kickoff"], utc=True)
    usable = (np.isfinite(target).all(axis=1) & np.isfinite(first_priced(inputs, ["sharp"], "pre")).all(axis=1)) & (
        kick >= kick.max() - pd.Timedelta(days=round(365.25 * years))
    ).to_numpy()
    v_start = kick[validation].min() if validation.any() else kick.max()
    before = usable & (kick < v_start).to_numpy() & (kick >= v_start - pd.Timedelta(days=round(365.25 * years)))
    held = usable & validation
    if before.sum() < MIN_ROWS or held.sum() < MIN_ROWS // 2:
        return CloseLineFit(
            None,
            int(held.sum()),
            np.nan,
            np.nan,
            f"too few matches with a sharp pre-match and "
            f"closing price ({int(before.sum())} before the validation matches, {int(held.sum())} in them)",
        )
    check = CloseModel(**template.get_params()).fit(inputs[before], target[before])
    sharp = implied_probabilities(first_priced(inputs, ["sharp"], "pre"), template.fair_method)
    ce_model = cross_entropy(target[held], check.predict_proba(inputs[held])).mean()
    ce_sharp = cross_entropy(target[held], sharp[held]).mean()
    final = CloseModel(**template.get_params()).fit(inputs[usable], target[usable], warm_start=check.coef_)
    return CloseLineFit(final, int(held.sum()), float(ce_model), float(ce_sharp))


def train_close_line(
    frame: pd.DataFrame, prices: pd.DataFrame, ensemble: np.ndarray, validation: np.ndarray, line: CloseLine
) -> CloseLineFit:
    """Weekly training's close model: `frame` the training matches sorted by kick-off, `prices` each book's
    pre-match and closing prices by match id (wide_prices), `ensemble` the out-of-sample probabilities aligned
    with `frame` (NaN where there are none), `validation` the rows of the held-out matches."""
    wide = prices.reindex(frame["match_id"].to_numpy()).reset_index(drop=True)
    inputs = with_forecast(model_inputs(frame, wide, line.sharp_books, line.bet_books), ensemble)
    held = np.zeros(len(frame), bool)
    held[validation] = True
    return fit_close_line(inputs, fair_close(wide, line.sharp_books, line.clv_method), held, line.model(), line.years)


def close_fair_line(
    model: CloseModel | None,
    frame: pd.DataFrame,
    snapshots: pd.DataFrame,
    key: str,
    ensemble: np.ndarray,
    line: CloseLine,
    log=None,
) -> np.ndarray | None:
    """FAIR_LINE=close_model at prediction time: the fair probabilities (n, 3) the deployed close model forecasts
    for the fixtures of `frame` from each book's latest pre-match snapshot (`snapshots`, long, keyed by `key`)
    and the ensemble's probabilities (aligned with `frame`); NaN rows where it cannot (no sharp price). None,
    saying so in the log, when the deployed set has no close model (not trained yet, or refused by its gate)."""
    if model is None:
        if log is not None:
            log.warning("FAIR_LINE=close_model but the deployed set has no close model: bets against the sharp line")
        return None
    wide = wide_prices(snapshots, key, "pre").reindex(frame[key].to_numpy())
    inputs = with_forecast(model_inputs(frame, wide, line.sharp_books, line.bet_books), ensemble)
    return model.predict_proba(inputs)


__all__ = [
    "FORECASTS",
    "PREMATCH_LEAD",
    "wide_prices",
    "first_priced",
    "model_inputs",
    "fair_close",
    "CloseLine",
    "with_forecast",
    "train_close_line",
    "CloseLineFit",
    "fit_close_line",
    "close_fair_line",
]
