import os
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.betting.settlement import close_ratio_with_margin
from pipeline.betting.strategy import StrategyParams, edge, kelly_stakes, select_bets
from pipeline.config import load_settings
from pipeline.records import BetProposal, PlacedBet, ValueCandidate

KO = datetime(2026, 1, 17, 15, tzinfo=UTC)
DAY = date(2026, 1, 17)


def cand(fid, p, o, ko=KO, books=(None, None, None)):
    return ValueCandidate(fixture_id=fid, kickoff=ko, fair_probs=tuple(p), odds=tuple(o), books=books)


def test_edge_and_the_margin_inclusive_ratio():
    assert edge(0.55, 2.0) == pytest.approx(0.10)
    assert close_ratio_with_margin(2.2, 2.0) == pytest.approx(0.10)


def test_each_outcome_is_bet_at_its_own_bookmaker():
    c = cand(1, (0.30, 0.40, 0.30), (3.0, 2.8, 3.5), books=("Bet365", "William Hill", "VC Bet"))
    bets = select_bets([c], 1000, StrategyParams())
    assert [(b.outcome, b.bookmaker, b.odds) for b in bets] == [
        ("draw", "William Hill", 2.8),
        ("away", "VC Bet", 3.5),
    ]


@pytest.mark.parametrize("p,o", [(0.55, 2.0), (0.3, 4.0), (0.7, 1.6)])
def test_single_outcome_kelly_is_textbook(p, o):
    f = kelly_stakes([p, (1 - p) / 2, (1 - p) / 2], [o, 50.0, 50.0], [True, False, False])
    assert f[0] == pytest.approx((p * o - 1) / (o - 1))
    assert f[1] == f[2] == 0


def test_two_value_outcomes_are_sized_together():
    p, o = np.array([0.45, 0.32, 0.23]), np.array([2.4, 3.6, 3.2])
    joint = kelly_stakes(p, o, [True, True, False])
    indep = np.array([(p[i] * o[i] - 1) / (o[i] - 1) for i in (0, 1)] + [0.0])

    def growth(f):
        return float(np.dot(p, np.log(1 - f.sum() + f * o)))

    assert joint[0] > 0 and joint[1] > 0 and joint[2] == 0
    # sized together, the stakes grow wealth faster than the two independent Kelly stakes, and are optimal
    assert growth(joint) > growth(indep) > 0
    rng = np.random.default_rng(1)
    for _ in range(200):
        other = np.clip(joint + rng.normal(0, 0.02, 3) * [1, 1, 0], 0, None)
        assert growth(other) <= growth(joint) + 1e-12


def test_random_matches_never_negative_growth():
    rng = np.random.default_rng(0)
    for _ in range(500):
        p = rng.dirichlet([3, 2, 2])
        o = 1 / (p * rng.uniform(0.85, 1.15, 3)) / 1.03
        f = kelly_stakes(p, o)
        assert (f >= 0).all() and f.sum() <= 1 + 1e-9
        growth = np.dot(p, np.log(1 - f.sum() + f * o))
        assert growth >= -1e-12


def test_filters():
    params = StrategyParams()
    assert select_bets([cand(1, (0.5, 0.3, 0.2), (2.03, 3.0, 4.0))], 1000, params) == []  # edge 1.5%
    assert select_bets([cand(1, (0.2, 0.3, 0.5), (1.2, 3.0, 12.0))], 1000, params) == []  # odds out of range
    assert (
        select_bets([cand(1, (0.04, 0.3, 0.66), (30.0, 3.0, 1.4))], 1000, StrategyParams(max_odds=40)) == []
    )  # prob floor
    bets = select_bets([cand(1, (0.55, 0.25, 0.2), (2.0, 3.2, 4.5))], 1000, params)
    assert [(b.outcome, b.odds) for b in bets] == [("home", 2.0)]
    assert bets[0].stake == pytest.approx(min(0.25 * 0.10 * 1000, 50), abs=0.01)


def test_caps_bind_per_bet_match_and_day():
    params = StrategyParams(kelly_fraction=1.0)
    bets = select_bets([cand(1, (0.7, 0.2, 0.1), (2.0, 5.0, 10.0))], 1000, params)
    assert bets[0].stake == 50.0  # per-bet cap 5%
    existing = [PlacedBet(fixture_id=1, outcome="draw", stake=60.0, match_day=DAY)]
    bets = select_bets([cand(1, (0.7, 0.2, 0.1), (2.0, 5.0, 10.0))], 1000, params, existing)
    assert bets[0].stake == 20.0  # match cap 8% counts the 60 already staked
    day = [PlacedBet(fixture_id=99, outcome="home", stake=190.0, match_day=DAY)]
    bets = select_bets([cand(1, (0.7, 0.2, 0.1), (2.0, 5.0, 10.0))], 1000, params, day)
    assert bets[0].stake == 10.0  # day cap 20% counts other matches of the day
    many = [cand(i, (0.7, 0.2, 0.1), (2.0, 5.0, 10.0)) for i in range(10)]
    assert sum(b.stake for b in select_bets(many, 1000, params)) == pytest.approx(200.0)


def test_no_duplicate_of_a_placed_bet_and_deterministic():
    c = [cand(1, (0.55, 0.25, 0.2), (2.0, 3.2, 4.5))]
    assert (
        select_bets(c, 1000, StrategyParams(), [PlacedBet(fixture_id=1, outcome="home", stake=5, match_day=DAY)]) == []
    )
    assert select_bets(c, 1000, StrategyParams()) == select_bets(c, 1000, StrategyParams())


def test_no_bankroll_no_bets():
    c = [cand(1, (0.55, 0.25, 0.2), (2.0, 3.2, 4.5))]
    assert select_bets(c, 0, StrategyParams()) == [] and select_bets(c, -5, StrategyParams()) == []


@pytest.mark.parametrize("kw", [{"kelly_fraction": 0}, {"min_odds": 1.0}, {"max_odds": 1.2}, {"min_edge": -1}])
def test_invalid_params(kw):
    with pytest.raises(ValueError):
        StrategyParams(**kw)


def test_a_proposal_carries_its_candidate_and_the_fair_probability_it_was_sized_on():
    c = cand(7, (0.55, 0.25, 0.2), (2.0, 3.2, 4.5), books=("Bet365", "VC Bet", "VC Bet"))
    (b,) = select_bets([c], 1000, StrategyParams())
    assert isinstance(b, BetProposal) and b.candidate is c and b.fixture_id == 7
    assert (b.outcome, b.bookmaker, b.fair_prob) == ("home", "Bet365", 0.55)
    assert b.edge == pytest.approx(b.fair_prob * b.odds - 1)


def test_params_from_settings():
    assert StrategyParams.from_settings(load_settings({}, dotenv=Path(os.devnull))) == StrategyParams()
    s = load_settings({"MIN_EDGE": "0.04", "KELLY_FRACTION": "0.5", "MAX_ODDS": "8"}, dotenv=Path(os.devnull))
    p = StrategyParams.from_settings(s)
    assert (p.min_edge, p.kelly_fraction, p.max_odds, p.min_odds) == (0.04, 0.5, 8.0, StrategyParams().min_odds)
