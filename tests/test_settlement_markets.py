"""The settlement job's rule for a stored bet of any market (pipeline.betting.bet_results): void rules as 1X2 (a
postponed match leaves a two-way bet pending), and the grade at the bet's own line, with the reason where there is
none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.betting.bet_results import grade_two_way, settlement_for, sharp_close_at_line
from pipeline.betting.market_settlement import NO_CLOSE, NO_CLOSE_AT_LINE
from pipeline.markets import MarketPrice, Selection
from pipeline.providers.base import ABANDONED, CANCELLED, FINISHED, LIVE, POSTPONED

AT = datetime(2026, 1, 18, 15, tzinfo=UTC)


def close(book, market, line, prices, closing=True):
    sides = ("over", "under") if market == "OU" else ("home", "away")
    return [MarketPrice("m", book, Selection(market, line, s), p, closing, AT) for s, p in zip(sides, prices)]


@pytest.mark.parametrize("status", [POSTPONED, LIVE])
def test_a_two_way_bet_stays_pending_while_its_match_may_still_be_played(status):
    assert settlement_for("OU", 2.5, "over", status, None, None, None, 10.0, 2.0) is None
    assert settlement_for("1X2", None, "home", status, None, None, None, 10.0, 2.0) is None


@pytest.mark.parametrize("status", [CANCELLED, ABANDONED])
def test_a_cancelled_or_abandoned_match_voids_it(status):
    assert settlement_for("AH", -0.75, "home", status, None, None, None, 10.0, 2.0) == ("void", "void", 0.0)


@pytest.mark.parametrize(
    "market, line, side, score, result, profit",
    [
        ("OU", 2.0, "over", (1, 1), "push", 0.0),
        ("OU", 2.25, "over", (1, 1), "half_loss", -5.0),
        ("OU", 2.75, "over", (2, 1), "half_win", 4.75),
        ("AH", -0.75, "home", (1, 0), "half_win", 4.75),
        ("AH", -0.75, "away", (1, 0), "half_loss", -5.0),
        ("AH", 0.0, "away", (2, 2), "push", 0.0),
        ("AH", 1.5, "home", (0, 1), "win", 9.5),
    ],
)
def test_a_finished_match_settles_it_on_the_score(market, line, side, score, result, profit):
    s = settlement_for(market, line, side, FINISHED, *score, None, 10.0, 1.95)
    assert (s.status, s.result, s.profit) == ("settled", result, profit)


def test_the_close_is_the_first_sharp_book_at_the_bets_line_never_another_line():
    sel = Selection("AH", -0.5, "away")
    prices = close("Pinnacle", "AH", -0.25, (1.9, 2.0)) + close("Bet365", "AH", -0.5, (1.8, 2.1))
    assert sharp_close_at_line(prices, sel, ("Pinnacle",)) == (None, NO_CLOSE_AT_LINE)
    assert sharp_close_at_line(close("Bet365", "AH", -0.5, (1.8, 2.1)), sel, ("Pinnacle",)) == (None, NO_CLOSE)
    pre_match = close("Pinnacle", "AH", -0.5, (1.9, 2.0), closing=False)
    assert sharp_close_at_line(pre_match, sel, ("Pinnacle",)) == (None, NO_CLOSE)
    both = prices + close("Pinnacle", "AH", -0.5, (2.0, 1.9))
    assert sharp_close_at_line(both, sel, ("Pinnacle",)) == ((2.0, 1.9), None)


def test_the_grade_is_the_fair_clv_at_the_line_with_its_closing_price():
    bets = [(2.1, Selection("OU", 2.5, "under")), (2.1, Selection("OU", 3.5, "under"))]
    prices = close("Pinnacle", "OU", 2.5, (1.9, 2.0))
    g = grade_two_way(bets, [prices, prices], ("Pinnacle",), "multiplicative")
    fair_under = (1 / 2.0) / (1 / 1.9 + 1 / 2.0)
    assert g[0].clv == pytest.approx(2.1 * fair_under - 1) and g[0].closing_odds == 2.0 and g[0].reason is None
    assert (g[1].clv, g[1].closing_odds, g[1].reason) == (None, None, NO_CLOSE_AT_LINE)
