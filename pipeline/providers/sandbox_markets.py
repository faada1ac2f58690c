"""The sandbox's two-way markets (pipeline.markets: over/under and Asian handicap): the lines each simulated match
is quoted at and the fair probability of each line, true and as the public expects it, from the world's goal
rates. The bookmakers of pipeline.providers.sandbox add their margin and noise to these as they do to the 1X2.

- Fair probabilities go through pipeline.forecast.market_probs (`xg_matrix`, `two_way`), the functions the models'
  own two-way probabilities go through, with rho 0: the world draws its goals as independent Poisson.
- The lines are fixed per match from the public expectation (injuries known, rotation not), so every book quotes
  the same lines from the first price to the close (CLV at the bet's own line always has a close): over/under 2.5;
  the total nearest the expected total in quarter steps (when it is not 2.5); the home handicap whose price is
  nearest even. Choosing them from the true rates would let a line give away the rested players.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from pipeline.forecast.market_probs import two_way, xg_matrix
from pipeline.markets import SELECTIONS, Market, Selection

GOALS = 15  # the score matrix's size: the strongest simulated attack scores about 8 a match, never near 15
AH_LINES = np.arange(-32, 33) / 4  # the home handicaps considered for the main line: -8..+8 (some sides are lopsided)
BASE_TOTAL = 2.5


@dataclass(frozen=True)
class TwoWayBook:
    """One match's two-way markets: `selections[i]` are line i's two selections (SELECTIONS order); `true[i]` and
    `expected[i]` their fair probabilities given the XI that starts / the XI the public expects."""

    selections: tuple[tuple[Selection, Selection], ...]
    true: np.ndarray  # (lines, 2)
    expected: np.ndarray  # (lines, 2)


def main_total(lam: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """The total line nearest the expected total goals, in quarter steps (at least 0.5)."""
    return np.maximum(np.round(4 * (np.asarray(lam) + np.asarray(mu))) / 4, 0.5)


def main_handicap(matrix: np.ndarray) -> np.ndarray:
    """The home handicap (AH_LINES) whose fair home probability is nearest one half, per match; ties to the
    smaller handicap."""
    home = np.column_stack([two_way(matrix, Market.AH, line)[:, 0] for line in AH_LINES])
    return AH_LINES[np.argmin(np.abs(home - 0.5), axis=1)]


def _fair_at(matrix: np.ndarray, market: Market, lines: np.ndarray) -> np.ndarray:
    """(n, 2): each match's fair pair at its own line (one call per distinct line)."""
    out = np.empty((len(lines), 2))
    for line in np.unique(lines):
        rows = lines == line
        out[rows] = two_way(matrix[rows], market, float(line))
    return out


def _pair(market: Market, line: float) -> tuple[Selection, Selection]:
    first, second = SELECTIONS[market]
    return Selection(market, line, first), Selection(market, line, second)


def season_books(rows: list[dict]) -> dict[str, TwoWayBook]:
    """Every match of one season of the world (its records: rates lam, mu true and lam_e, mu_e expected) ->
    its TwoWayBook. A pure function of the records: the same world gives the same lines and probabilities."""
    if not rows:
        return {}
    n = len(rows)
    rate = {k: np.array([m[k] for m in rows]) for k in ("lam", "mu", "lam_e", "mu_e")}
    expected = xg_matrix(rate["lam_e"], rate["mu_e"], 0.0, max_goals=GOALS)
    # both beliefs stacked (true rows first): one call per distinct line prices both
    both = np.concatenate([xg_matrix(rate["lam"], rate["mu"], 0.0, max_goals=GOALS), expected])
    total = main_total(rate["lam_e"], rate["mu_e"])
    markets = [(Market.OU, np.full(n, BASE_TOTAL)), (Market.OU, total), (Market.AH, main_handicap(expected))]
    stacked = [_fair_at(both, market, np.tile(lines, 2)) for market, lines in markets]
    fair = {"true": [f[:n] for f in stacked], "expected": [f[n:] for f in stacked]}
    pair = functools.cache(_pair)
    out = {}
    for i, m in enumerate(rows):
        keep = [0, 2] if total[i] == BASE_TOTAL else [0, 1, 2]  # 2.5 is the main total: one line, not two
        out[m["match_id"]] = TwoWayBook(
            selections=tuple(pair(markets[j][0], float(markets[j][1][i])) for j in keep),
            true=np.array([fair["true"][j][i] for j in keep]),
            expected=np.array([fair["expected"][j][i] for j in keep]),
        )
    return out


__all__ = ["TwoWayBook", "season_books", "main_total", "main_handicap", "AH_LINES", "GOALS"]
