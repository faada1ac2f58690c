"""Forecasts of the two-way markets scored on the replayed matches (`scores.by_market` of the backtest's JSON): the
models' (the Dixon-Coles score matrix of the walk-forward's expected goals, rho 0 as production's stored
expected goals give it: pipeline.forecast.market_probs) against the sharp book's pre-match and closing pairs,
margin removed by CLV_METHOD, on the same matches.

- OU: over 2.5 goals (the line every file quotes).
- AH: the home side at the sharp book's pre-match line (its most even pair where it quotes several), on the
  matches whose sharp close is at that same line (the others are counted, `close_at_another_line`).
Pushes: a forecast is of the bookmaker's probability, conditional on no push (market_probs), so each match is
scored on the part of the stake that is not returned: won part x -log p + lost part x -log(1 - p), the sum over
matches divided by the sum of the won and lost parts. A half line counts fully; a whole line that lands (a push)
counts zero; a quarter line that half-pushes counts one half. This is a proper score for the conditional
probability (its expectation is least at the true win / (win + loss)).
Without sharp prices (football-data before 2019-20) the models alone are scored, on every match with a forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.betting.market_settlement import parts
from pipeline.evaluation.two_way_bets import TwoWayBook, price_pairs
from pipeline.forecast.market_probs import fair_probability, xg_matrix
from pipeline.markets import SELECTIONS, Market, Selection
from pipeline.odds import implied_probabilities

OU_LINE = 2.5
FORECASTERS = ("dixon_coles", "sharp_prematch", "sharp_close")


def _sharp(pairs: dict, sharp: list[str], line: float | None) -> tuple[float, tuple[float, float]] | None:
    """(line, pair) of the first sharp book quoting `line` (None: its most even line)."""
    for b in sharp:
        got = pairs.get(b, {})
        if line is None and got:
            best = min(got, key=lambda x: abs(1 / got[x][0] - 1 / got[x][1]))
            return best, got[best]
        if line is not None and line in got:
            return line, got[line]
    return None


def _weighted_log_loss(p: np.ndarray, won: np.ndarray, lost: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    w = won + lost
    return float((won * -np.log(p) + lost * -np.log(1 - p)).sum() / w.sum()) if w.sum() > 0 else float("nan")


def _market(pred: pd.DataFrame, book: TwoWayBook, market: Market, method: str, matrix: np.ndarray) -> dict:
    pre_pairs = price_pairs([p for v in book.pre.values() for p in v], closing=False)
    n = len(pred)
    line = np.full(n, np.nan)
    pre = np.full((n, 2), np.nan)
    close = np.full((n, 2), np.nan)
    other_line = np.zeros(n, bool)
    for i, mid in enumerate(book.ids):
        got = _sharp(pre_pairs.get((mid, market), {}), book.sharp, OU_LINE if market is Market.OU else None)
        if got is None:
            continue
        line[i], pre[i] = got
        shut = book.close.get((mid, market), {})
        at = _sharp(shut, book.sharp, float(line[i]))
        if at is not None:
            close[i] = at[1]
        else:
            other_line[i] = _sharp(shut, book.sharp, None) is not None
    if market is Market.OU:
        line[:] = OU_LINE  # the models' and the results' line even where no sharp book quotes it
    side = SELECTIONS[market][0]
    won, lost = np.zeros(n), np.zeros(n)
    model = np.full(n, np.nan)
    hg, ag = pred["home_goals"].to_numpy(float), pred["away_goals"].to_numpy(float)
    has_xg = np.isfinite(book.xg).all(axis=1)
    for x in np.unique(line[np.isfinite(line)]):
        rows = np.flatnonzero(line == x)
        sel = Selection(market, float(x), side)
        for i in map(int, rows):
            w, _, lo = parts(sel, int(hg[i]), int(ag[i]))
            won[i], lost[i] = float(w), float(lo)
        ok = rows[has_xg[rows]]
        if len(ok):
            model[ok] = fair_probability(matrix[ok], sel)
    fair_pre = implied_probabilities(pre, method)[:, 0]
    fair_close = implied_probabilities(close, method)[:, 0]
    probs = {"dixon_coles": model, "sharp_prematch": fair_pre, "sharp_close": fair_close}
    common = np.isfinite(model) & np.isfinite(fair_pre) & np.isfinite(fair_close) & np.isfinite(line)
    alone = np.isfinite(model) & np.isfinite(line)
    out: dict = {
        "line": f"{OU_LINE:g}" if market is Market.OU else "the sharp book's pre-match line",
        "selection": side,
        "margin_removed_by": method,
        "matches": int(((won + lost) > 0)[common].sum()),
        "pushed": int(((won + lost) == 0)[common].sum()),
        "half_pushed": int((((won + lost) > 0) & ((won + lost) < 1))[common].sum()),
        "log_loss": {
            k: _weighted_log_loss(v[common], won[common], lost[common]) if common.any() else None
            for k, v in probs.items()
        },
        "dixon_coles_every_match": {
            "matches": int(((won + lost) > 0)[alone].sum()),
            "log_loss": _weighted_log_loss(model[alone], won[alone], lost[alone]) if alone.any() else None,
        },
        "matches_with_sharp_prematch": int(np.isfinite(fair_pre).sum()),
    }
    if market is Market.AH:
        out["close_at_another_line"] = int(other_line.sum())
        out["lines"] = {f"{x:+g}": int(c) for x, c in zip(*np.unique(line[common], return_counts=True))}
    return out


def score_markets(pred: pd.DataFrame, book: TwoWayBook, method: str) -> dict[str, dict]:
    """{"OU"|"AH": its scores} for the two-way markets `book` holds (see the module's notes); NaN-free JSON."""
    if not len(pred) or not {"home_goals", "away_goals"} <= set(pred):
        return {}
    matrix = np.full((len(pred), 11, 11), np.nan)
    ok = np.isfinite(book.xg).all(axis=1)
    if ok.any():
        matrix[ok] = xg_matrix(book.xg[ok, 0], book.xg[ok, 1])
    out = {}
    for market in book.markets:
        d = _market(pred, book, market, method, matrix)
        d["log_loss"] = {
            k: (None if v is None or not np.isfinite(v) else round(v, 5)) for k, v in d["log_loss"].items()
        }
        ll = d["dixon_coles_every_match"]["log_loss"]
        d["dixon_coles_every_match"]["log_loss"] = None if ll is None or not np.isfinite(ll) else round(ll, 5)
        out[market.value] = d
    return out


__all__ = ["FORECASTERS", "OU_LINE", "score_markets"]
