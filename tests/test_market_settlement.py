"""Over/under and Asian handicap settlement against textbook tables (issue 25's acceptance), and CLV at the bet's
own line. The expected tables are written out from the textbook definitions (a bookmaker's help page), not
computed by the code under test."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.betting.market_settlement import (
    HALF_LOSS,
    HALF_WIN,
    NO_CLOSE,
    NO_CLOSE_AT_LINE,
    PUSH,
    market_settlement_of,
    settle_market,
    two_way_clv,
)
from pipeline.betting.settlement import LOSS, VOID, WIN
from pipeline.markets import Selection
from pipeline.odds import implied_probabilities

W, HW, P, HL, L = WIN, HALF_WIN, PUSH, HALF_LOSS, LOSS

# Asian handicap, the home team at each line, by the home team's goal difference d (home - away goals).
# Each row as a betting help page states it: "(win if d >= a), (the case at d == b), loss below".
#   line: (d at or above which the bet wins, {d: result for the in-between cases})
AH_HOME_TEXTBOOK = {
    -2.25: (3, {2: HL}),  # win by 3+: win; win by exactly 2: half lost; else lost
    -2.0: (3, {2: P}),  # win by 3+: win; by exactly 2: stake back
    -1.75: (3, {2: HW}),  # win by 3+: win; by exactly 2: half won
    -1.5: (2, {}),
    -1.25: (2, {1: HL}),
    -1.0: (2, {1: P}),
    -0.75: (2, {1: HW}),
    -0.5: (1, {}),
    -0.25: (1, {0: HL}),  # a draw loses half
    0.0: (1, {0: P}),  # draw no bet
    0.25: (1, {0: HW}),  # a draw wins half (half pushed at 0, half won at +0.5)
    0.5: (0, {}),
    0.75: (0, {-1: HL}),  # a one-goal defeat loses half (half lost at +0.5, half pushed at +1)
    1.0: (0, {-1: P}),
    1.25: (0, {-1: HW}),
    1.5: (-1, {}),
    1.75: (-1, {-2: HL}),
    2.0: (-1, {-2: P}),
    2.25: (-1, {-2: HW}),
}
# Over/under: the over at each line by total goals t (the under is its mirror: t <= a wins, ...).
OU_OVER_TEXTBOOK = {
    0.5: (1, {}),
    0.75: (2, {1: HW}),
    1.0: (2, {1: P}),
    1.25: (2, {1: HL}),
    1.5: (2, {}),
    1.75: (3, {2: HW}),
    2.0: (3, {2: P}),
    2.25: (3, {2: HL}),  # 2 goals: half on 2.0 pushed, half on 2.5 lost
    2.5: (3, {}),
    2.75: (4, {3: HW}),  # 3 goals: half on 2.5 won, half on 3.0 pushed
    3.0: (4, {3: P}),
    3.25: (4, {3: HL}),
    3.5: (4, {}),
    4.0: (5, {4: P}),
    4.5: (5, {}),
}
OU_UNDER_TEXTBOOK = {
    0.5: (0, {}),  # under wins if t <= a
    0.75: (0, {1: HL}),
    1.0: (0, {1: P}),
    1.25: (0, {1: HW}),
    1.5: (1, {}),
    1.75: (1, {2: HL}),
    2.0: (1, {2: P}),
    2.25: (1, {2: HW}),
    2.5: (2, {}),
    2.75: (2, {3: HL}),
    3.0: (2, {3: P}),
    3.25: (2, {3: HW}),
    3.5: (3, {}),
    4.0: (3, {4: P}),
    4.5: (4, {}),
}
# the textbook's profit per result at stake 100 and odds 1.95
PROFIT_100_AT_195 = {W: 95.0, HW: 47.5, P: 0.0, HL: -50.0, L: -100.0}
SCORES = [(h, a) for h in range(5) for a in range(5)]


def _home_expected(line: float, d: int) -> str:
    wins_from, between = AH_HOME_TEXTBOOK[line]
    return W if d >= wins_from else between.get(d, L)


def test_the_textbook_table_covers_every_quarter_line():
    assert sorted(AH_HOME_TEXTBOOK) == [x / 4 for x in range(-9, 10)]


@pytest.mark.parametrize("line", sorted(AH_HOME_TEXTBOOK))
def test_asian_handicap_home_and_away_against_the_textbook(line):
    for h, a in SCORES:
        d = h - a
        home = settle_market(Selection("AH", line, "home"), h, a, 100, 1.95)
        assert (home.result, home.profit) == (_home_expected(line, d), PROFIT_100_AT_195[_home_expected(line, d)]), (
            line,
            h,
            a,
        )
        # the away side of the same market plays at -line: the textbook row of -line, by the away team's margin
        away = settle_market(Selection("AH", line, "away"), h, a, 100, 1.95)
        want = _home_expected(-line + 0.0, -d)
        assert (away.result, away.profit) == (want, PROFIT_100_AT_195[want]), (line, h, a)
        assert home.status == away.status == "settled"


@pytest.mark.parametrize("line", sorted(OU_OVER_TEXTBOOK))
def test_over_under_against_the_textbook(line):
    for h, a in SCORES:
        t = h + a
        frm, between = OU_OVER_TEXTBOOK[line]
        want_over = W if t >= frm else between.get(t, L)
        upto, between_u = OU_UNDER_TEXTBOOK[line]
        want_under = W if t <= upto else between_u.get(t, L)
        over = settle_market(Selection("OU", line, "over"), h, a, 100, 1.95)
        under = settle_market(Selection("OU", line, "under"), h, a, 100, 1.95)
        assert (over.result, over.profit) == (want_over, PROFIT_100_AT_195[want_over]), (line, h, a)
        assert (under.result, under.profit) == (want_under, PROFIT_100_AT_195[want_under]), (line, h, a)


def test_whole_lines_push_and_return_the_stake():
    for line, (h, a) in ((2.0, (1, 1)), (3.0, (3, 0)), (1.0, (0, 1))):
        for side in ("over", "under"):
            s = settle_market(Selection("OU", line, side), h, a, 37.5, 2.10)
            assert (s.result, s.profit) == (PUSH, 0.0)


@pytest.mark.parametrize(
    "stake, odds, result_line, score, want",
    [
        # decimal arithmetic on the prices as written: 10 x 0.87 / 2 = 4.35 exactly (float gives 4.3499999...)
        (10, 1.87, -0.75, (1, 0), 4.35),
        (10.01, 1.95, -0.75, (1, 0), 4.75),  # 4.75475 -> 4.75
        (33.33, 2.07, 0.25, (0, 0), 17.83),  # half won: 33.33 x 1.07 / 2 = 17.83155
        (33.33, 2.07, 0.25, (1, 0), 35.66),  # a full win: 33.33 x 1.07 = 35.6631
        (33.33, 2.07, 0.75, (0, 1), -16.66),  # half lost: -16.665 -> -16.66 (half to even)
        (0.03, 1.5, -0.25, (0, 0), -0.02),  # -0.015 -> -0.02 (half to even)
    ],
)
def test_profit_is_exact_to_the_cent(stake, odds, result_line, score, want):
    assert settle_market(Selection("AH", result_line, "home"), *score, stake, odds).profit == want


def test_void_and_pending_as_1x2():
    sel = Selection("AH", -0.25, "home")
    assert market_settlement_of("cancelled", None, None, sel, 10, 1.9) == ("void", VOID, 0.0)
    assert market_settlement_of("scheduled", None, None, sel, 10, 1.9) is None
    assert market_settlement_of("finished", 0, 0, sel, 10, 1.9) == ("settled", HALF_LOSS, -5.0)
    assert market_settlement_of("finished", 2, 1, Selection("1X2", None, "home"), 10, 1.9) == ("settled", WIN, 9.0)


def test_clv_only_against_the_close_at_the_bets_line():
    close = np.array([[1.80, 2.10], [1.80, 2.10], [np.nan, 2.0], [1.95, 1.95]])
    clv, why = two_way_clv(
        [2.0, 2.0, 2.0, 2.0], [-0.5, -0.5, -0.5, 2.5], [0, 1, 0, 1], [-0.5, -0.75, -0.5, 2.5], close, "shin"
    )
    fair = implied_probabilities(close[:1], "shin")[0]
    assert clv[0] == pytest.approx(2.0 * fair[0] - 1)
    assert np.isnan(clv[1]) and why[1] == NO_CLOSE_AT_LINE  # closed at -0.75: never graded at another line
    assert np.isnan(clv[2]) and why[2] == NO_CLOSE
    assert clv[3] == pytest.approx(0.0) and why[0] is None and why[3] is None


def test_selections_refuse_what_no_market_has():
    for bad in (
        ("OU", 2.3, "over"),
        ("OU", -1.0, "over"),
        ("AH", None, "home"),
        ("AH", 0.5, "draw"),
        ("1X2", 1, "home"),
    ):
        with pytest.raises(ValueError):
            Selection(*bad)
    assert Selection("AH", -0.75, "away").handicap == 0.75
    assert Selection("ah", -0.0, "home").line == 0.0
