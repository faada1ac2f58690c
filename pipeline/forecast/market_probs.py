"""Over/under and Asian handicap probabilities from a score matrix (pipeline.forecast.models.dixon_coles:
`score_matrix`, shape (n, G+1, G+1), [match, home goals, away goals]), at any line.

A stake on a line is settled as pipeline.betting.market_settlement settles it (quarter lines: half the stake on
each neighbouring line), so each selection has, per unit staked, an expected part won `win`, pushed `push` and
lost `loss` (summing to 1; a quarter line's are the average of its two halves'). Its fair probability is the
bookmaker's: conditional on no push, `win / (win + loss)`, so that 1 / fair probability is the price at which the
bet's expected return is zero (win x (odds - 1) = loss); it is what a two-way book's margin-free pair estimates, so
the model's figure and the sharp line's compare directly (and pipeline.odds.fair_clv grades both the same way).
"""

from __future__ import annotations

import numpy as np

from pipeline.distributions import score_matrix
from pipeline.markets import Market, Selection, split_line


def _as_matrices(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[1] != m.shape[2]:
        raise ValueError(f"a score matrix is (n, G+1, G+1), got shape {m.shape}")
    return m


def _margin_distribution(m: np.ndarray, market: Market) -> tuple[np.ndarray, np.ndarray]:
    """(values, probabilities (n, k)): total goals, or the home side's goal difference."""
    g = np.arange(m.shape[1])
    key = g[:, None] + g[None, :] if market is Market.OU else g[:, None] - g[None, :]
    values = np.unique(key)
    probs = np.stack([m[:, key == v].sum(axis=1) for v in values], axis=1)
    return values, probs


def parts(matrix, selection: Selection) -> np.ndarray:
    """(n, 3): expected fractions of the stake won, pushed and lost per match, for `selection` (OU or AH)."""
    if selection.market is Market.X12 or selection.line is None:
        raise ValueError("parts() prices two-way markets; 1X2 is the model's predict_proba")
    m = _as_matrices(matrix)
    values, probs = _margin_distribution(m, selection.market)
    out = np.zeros((m.shape[0], 3))
    for leg in split_line(selection.line):
        if selection.market is Market.OU:
            margin = values - leg if selection.side == "over" else leg - values
        else:
            margin = values + leg if selection.side == "home" else -values - leg
        out[:, 0] += 0.5 * probs[:, margin > 0].sum(axis=1)
        out[:, 1] += 0.5 * probs[:, margin == 0].sum(axis=1)
        out[:, 2] += 0.5 * probs[:, margin < 0].sum(axis=1)
    return out


def fair_probability(matrix, selection: Selection) -> np.ndarray:
    """(n,): the selection's probability conditional on no push, win / (win + loss); NaN where it always pushes."""
    p = parts(matrix, selection)
    with np.errstate(invalid="ignore", divide="ignore"):
        return p[:, 0] / (p[:, 0] + p[:, 2])


def two_way(matrix, market: Market | str, line: float) -> np.ndarray:
    """(n, 2): the fair probabilities of both selections at `line` (over, under / home, away); each row sums to 1."""
    over = Selection(market, line, "over" if str(market).upper() == "OU" else "home")  # type: ignore[arg-type]
    p = fair_probability(matrix, over)
    return np.column_stack([p, 1.0 - p])


def xg_matrix(home_xg, away_xg, rho=0.0, max_goals: int = 10) -> np.ndarray:
    """(n, G+1, G+1): the Dixon-Coles score matrix of expected goals (a stored prediction's home_xg, away_xg), the
    models' view of a match's totals and handicaps where no sharp book prices them. rho 0 is independent Poisson."""
    lam = np.atleast_1d(np.asarray(home_xg, dtype=float))
    mu = np.atleast_1d(np.asarray(away_xg, dtype=float))
    r = np.broadcast_to(np.asarray(rho, dtype=float), lam.shape)
    return score_matrix(lam, mu, r, max_goals)


def total_over(matrix, line: float) -> np.ndarray:
    """P(over) at `line`, conditional on no push."""
    return fair_probability(matrix, Selection(Market.OU, line, "over"))


def handicap_home(matrix, line: float) -> np.ndarray:
    """P(the home side covers the home handicap `line`), conditional on no push."""
    return fair_probability(matrix, Selection(Market.AH, line, "home"))


__all__ = ["parts", "fair_probability", "two_way", "xg_matrix", "total_over", "handicap_home"]
