"""Two-way candidates (pipeline.betting.two_way) and the strategy's rules across markets (strategy, screening)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipeline.betting.guards import GuardSettings
from pipeline.betting.screening import choose_bets
from pipeline.betting.strategy import StrategyParams, select_bets
from pipeline.betting.two_way import MatchInfo, two_way_candidates
from pipeline.forecast.market_probs import total_over, two_way, xg_matrix
from pipeline.markets import MarketPrice, Selection
from pipeline.odds import implied_probabilities
from pipeline.prices import MODEL, PriceRules
from pipeline.records import PlacedBet, ValueCandidate

T0 = datetime(2024, 3, 2, 15, tzinfo=UTC)
RULES = PriceRules(sharp=("Pinnacle",), bet=("Bet365", "William Hill"), fair_method="multiplicative")
MATCHES = {"m1": MatchInfo(1, T0 + timedelta(hours=20), "A v B 2024-03-03")}


def price(book, market, line, side, odds, *, closing=False, at=T0, match="m1"):
    return MarketPrice(match, book, Selection(market, line, side), odds, closing, at)


def test_fair_line_from_the_sharp_pair_and_the_best_soft_price_per_side():
    prices = [
        price("Pinnacle", "OU", 2.5, "over", 1.90),
        price("Pinnacle", "OU", 2.5, "under", 2.00),
        price("Bet365", "OU", 2.5, "over", 2.10),
        price("William Hill", "OU", 2.5, "over", 2.05),
        price("William Hill", "OU", 2.5, "under", 1.80),
        price("Max", "OU", 2.5, "over", 2.50),  # an aggregate: not a book the user bets with
        price("Pinnacle", "OU", 2.5, "over", 1.70, closing=True),  # closing prices are never bet nor fair
    ]
    (c,) = two_way_candidates(prices, MATCHES, RULES)
    fair = implied_probabilities([[1.90, 2.00]], "multiplicative")[0]
    assert (c.market, c.line, c.fair_source) == ("OU", 2.5, "Pinnacle")
    assert c.fair_probs == pytest.approx(tuple(fair))
    assert c.odds == (2.10, 1.80) and c.books == ("Bet365", "William Hill")
    assert c.sharp_odds == (1.90, 2.00)
    assert c.other_odds == ((2.05,), ())
    assert c.odds_seen_at == (T0, T0)


def test_the_latest_price_of_a_book_counts():
    prices = [
        price("Pinnacle", "AH", -0.25, "home", 1.95),
        price("Pinnacle", "AH", -0.25, "away", 1.95),
        price("Bet365", "AH", -0.25, "home", 2.20, at=T0 - timedelta(hours=1)),
        price("Bet365", "AH", -0.25, "home", 2.00),
    ]
    (c,) = two_way_candidates(prices, MATCHES, RULES)
    assert c.odds[0] == 2.00 and math.isnan(c.odds[1])


def test_a_line_is_never_judged_by_another_lines_sharp_price():
    prices = [
        price("Pinnacle", "OU", 2.25, "over", 1.90),
        price("Pinnacle", "OU", 2.25, "under", 2.00),
        price("Bet365", "OU", 2.5, "over", 2.30),
        price("Bet365", "OU", 2.5, "under", 1.70),
    ]
    # no sharp price at 2.5 and no model: no candidate at 2.5; 2.25 has no bet book
    assert two_way_candidates(prices, MATCHES, RULES) == []
    matrix = xg_matrix(1.6, 1.2)[0]
    (c,) = two_way_candidates(prices, MATCHES, RULES, model_fair=lambda mid, m, line: two_way(matrix, m, line)[0])
    assert (c.line, c.fair_source) == (2.5, MODEL)
    assert c.fair_probs[0] == pytest.approx(total_over(matrix, 2.5)[0])
    assert two_way_candidates(prices, MATCHES, RULES, markets=["AH"]) == []


def candidate(market, line, probs, odds, fixture=1):
    n = len(probs)
    return ValueCandidate(
        fixture_id=fixture,
        kickoff=T0,
        fair_probs=tuple(probs),
        odds=tuple(odds),
        books=("Bet365",) * n,
        fair_source="Pinnacle",
        sharp_odds=tuple(1 / np.asarray(probs) / 1.02),
        other_odds=((),) * n,
        odds_seen_at=(None,) * n,
        market=market,
        line=line,
    )


PARAMS = StrategyParams()


def test_a_two_way_market_gets_one_line_and_one_side():
    cands = [
        candidate("OU", 2.5, (0.5, 0.5), (2.12, 1.80)),
        candidate("OU", 2.75, (0.4, 0.6), (2.80, 1.60)),  # the larger edge: sized first
        candidate("1X2", None, (0.5, 0.3, 0.2), (2.10, 3.0, 4.0)),
    ]
    bets = select_bets(cands, 1000.0, PARAMS)
    assert [(b.market, b.line, b.outcome) for b in bets] == [("1X2", None, "home"), ("OU", 2.75, "over")]
    # a bet already in the market: no other line or side is added; 1X2's own outcomes are judged as before
    existing = [PlacedBet(1, "under", 10.0, T0.date(), "OU", 2.5)]
    again = select_bets(cands, 1000.0, PARAMS, existing)
    assert [(b.market, b.outcome) for b in again] == [("1X2", "home")]


def test_the_match_cap_counts_every_market():
    params = StrategyParams(max_match_fraction=0.02, kelly_fraction=1.0)
    existing = [PlacedBet(1, "home", 15.0, T0.date())]  # 1X2, 1.5% of the bankroll
    bets = select_bets([candidate("AH", -0.5, (0.6, 0.4), (1.95, 2.2))], 1000.0, params, existing)
    assert sum(b.stake for b in bets) == pytest.approx(5.0)


def test_two_way_candidates_have_their_own_ev_ceiling():
    guards = GuardSettings(max_edge=0.10, two_way_max_edge=None)
    big = [candidate("OU", 2.5, (0.6, 0.4), (2.0, 1.5)), candidate("1X2", None, (0.6, 0.25, 0.15), (2.0, 3, 5))]
    choice = choose_bets(big, 1000.0, PARAMS, guards)
    assert {(b.market, b.outcome) for b in choice.bets} == {("OU", "over")}
    assert [(s.market, s.outcome, s.rule) for s in choice.skipped] == [("1X2", "home", "max_edge")]
    tight = choose_bets(big, 1000.0, PARAMS, GuardSettings(max_edge=0.10, two_way_max_edge=0.10))
    assert {(s.market, s.line, s.rule) for s in tight.skipped} == {("OU", 2.5, "max_edge"), ("1X2", None, "max_edge")}


def test_both_sides_of_a_two_way_line_are_never_bet_together():
    # both prices beat the fair line: only the side with the larger edge is bet
    bets = select_bets([candidate("OU", 2.5, (0.5, 0.5), (2.10, 2.16))], 1000.0, PARAMS)
    assert [(b.outcome, b.odds) for b in bets] == [("under", 2.16)]
