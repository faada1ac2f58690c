"""Totals and handicaps from a score matrix: against brute-force enumeration of the scores through the settlement
rule, against the 1X2 probabilities where a line is a 1X2 bet in disguise, and on the sandbox's known truth
(issue 25's acceptance: the model's over/under probabilities within 0.02 log loss of the truth's)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from pipeline.betting import market_settlement
from pipeline.distributions import poisson_pmf
from pipeline.forecast.market_probs import fair_probability, handicap_home, parts, total_over, two_way
from pipeline.forecast.models.dixon_coles import DixonColesModel
from pipeline.markets import Selection
from pipeline.providers.sandbox_world import SimulatedWorld

AH_LINES = [x / 4 for x in range(-9, 10)]
OU_LINES = [x / 4 for x in range(2, 19)]


@pytest.fixture(scope="module")
def matrices():
    rng = np.random.default_rng(5)
    random = rng.dirichlet(np.full(36, 0.7), 3).reshape(3, 6, 6)  # any distribution over scores 0..5
    dc = DixonColesModel(max_goals=8).score_matrix(np.array([1.6, 0.7]), np.array([1.1, 2.2]), np.array([-0.1, 0.05]))
    return [random, dc]


def _brute_force(m: np.ndarray, sel: Selection) -> np.ndarray:
    """Sum over every score of its probability times how the settlement rule settles the bet on it."""
    out = np.zeros((m.shape[0], 3))
    for x in range(m.shape[1]):
        for y in range(m.shape[2]):
            won, pushed, lost = (float(f) for f in market_settlement.parts(sel, x, y))
            out += m[:, x, y][:, None] * np.array([won, pushed, lost])
    return out


@pytest.mark.parametrize("market, lines", [("AH", AH_LINES), ("OU", OU_LINES)])
def test_parts_equal_enumeration_through_the_settlement_rule(matrices, market, lines):
    for m in matrices:
        for line in lines:
            for side in ("home", "away") if market == "AH" else ("over", "under"):
                sel = Selection(market, line, side)
                want = _brute_force(m, sel)
                assert parts(m, sel) == pytest.approx(want, abs=1e-12), (market, line, side)
                fair = want[:, 0] / (want[:, 0] + want[:, 2])
                assert fair_probability(m, sel) == pytest.approx(fair, abs=1e-12)


def test_quarter_lines_are_the_average_of_their_halves_and_price_at_zero_expected_return(matrices):
    m = matrices[1]
    for line in (-0.75, -0.25, 0.25, 1.25):
        q = parts(m, Selection("AH", line, "home"))
        lo, hi = parts(m, Selection("AH", line - 0.25, "home")), parts(m, Selection("AH", line + 0.25, "home"))
        assert q == pytest.approx((lo + hi) / 2, abs=1e-12)
        # at the fair price 1/p, half a stake on each neighbouring line returns nothing on average
        price = 1 / handicap_home(m, line)
        ev = sum(0.5 * (h[:, 0] * (price - 1) - h[:, 2]) for h in (lo, hi))
        assert ev == pytest.approx(0.0, abs=1e-12)


def test_lines_that_are_1x2_bets_in_disguise(matrices):
    m = matrices[1]
    home = np.tril(m, -1).sum(axis=(1, 2))
    draw = np.trace(m, axis1=1, axis2=2)
    away = 1 - home - draw
    assert handicap_home(m, -0.5) == pytest.approx(home)  # home -0.5: the home win
    assert handicap_home(m, 0.0) == pytest.approx(home / (home + away))  # draw no bet
    assert handicap_home(m, 0.5) == pytest.approx(home + draw)  # double chance
    totals = np.array(
        [[sum(m[i, x, t - x] for x in range(t + 1) if t - x < m.shape[2]) for t in range(3)] for i in range(2)]
    )
    assert total_over(m, 2.5) == pytest.approx(1 - totals.sum(axis=1))
    assert two_way(m, "OU", 2.0) == pytest.approx(
        np.column_stack([(1 - totals.sum(axis=1)), totals[:, :2].sum(axis=1)]) / (1 - totals[:, 2])[:, None]
    )
    assert two_way(m, "AH", -1.25).sum(axis=1) == pytest.approx(1.0)


def _world_frame(world: SimulatedWorld) -> pd.DataFrame:
    # The truth (each match's goal rates given the XI that starts) is read from the world's own records: tests
    # only, as SimulatedWorld.true_probabilities does for 1X2.
    rows = [
        {
            "league": world.league_codes()[m["league"]],
            "kickoff": pd.Timestamp(m["kickoff"]),
            "home_team": world.team_name(m["league"], m["home"]),
            "away_team": world.team_name(m["league"], m["away"]),
            "home_goals": float(m["hg"]),
            "away_goals": float(m["ag"]),
            "true_total_rate": m["lam"] + m["mu"],
        }
        for m in world._matches(None, datetime(2024, 7, 1, tzinfo=UTC))
        if not m["postponed"]
    ]
    return pd.DataFrame(rows).sort_values("kickoff", kind="stable").reset_index(drop=True)


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_sandbox_over_under_within_002_log_loss_of_the_truth():
    """Dixon-Coles fitted on the seasons before, refitted each quarter of the held-out 2023-24 season (point in
    time: only matches before the quarter starts), against the sandbox's true goal rates."""
    frame = _world_frame(SimulatedWorld())
    held_out = frame[frame["kickoff"] >= pd.Timestamp("2023-08-01", tz="UTC")]
    quarters = held_out["kickoff"].dt.tz_localize(None).dt.to_period("Q-JUL")
    predicted = []
    for quarter, g in held_out.groupby(quarters):
        start = quarter.start_time.tz_localize("UTC")
        model = DixonColesModel().fit(frame[frame["kickoff"] < start], reference_time=start)
        lam, mu, rho = model._rates(g)
        predicted.append((g, model.score_matrix(lam, mu, rho)))
    goals = np.concatenate([(g["home_goals"] + g["away_goals"]).to_numpy() for g, _ in predicted])
    rate = np.concatenate([g["true_total_rate"].to_numpy() for g, _ in predicted])
    assert len(goals) > 1000
    gaps = {}
    for line in (1.5, 2.5, 3.5):
        model_p = np.concatenate([total_over(m, line) for _, m in predicted])
        true_p = 1 - poisson_pmf(np.arange(int(line) + 1)[None, :], rate[:, None]).sum(axis=1)
        y = (goals > line).astype(float)
        gaps[line] = _log_loss(model_p, y) - _log_loss(true_p, y)
        assert _log_loss(model_p, y) < _log_loss(np.full(len(y), y.mean()), y) - 0.03  # the model knows something
    assert 0 <= gaps[2.5] <= 0.02, gaps  # measured: 0.013
    assert np.mean(list(gaps.values())) <= 0.02, gaps


def test_fraction_parts_sum_to_one():
    for line in AH_LINES:
        assert sum(market_settlement.parts(Selection("AH", line, "home"), 2, 1)) == Fraction(1)
