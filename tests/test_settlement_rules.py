"""The single homes of the money rules: the profit rule, closing-line value, the price rules' defaults (taken from
the configuration, not invented), and the bet statistics the report and the backtest share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from pipeline.betting.settlement import (
    LOSS,
    VOID,
    WIN,
    Settlement,
    bet_profit,
    closing_line_value,
    correction_of,
    overdue_note,
    settle_as,
    settlement_of,
)
from pipeline.config import Settings, load_settings
from pipeline.evaluation.bet_stats import bet_stats, stats_json
from pipeline.evaluation.simulation import add_value_columns
from pipeline.evaluation.text import bet_table, interval
from pipeline.odds import fair_clv, implied_probabilities
from pipeline.outcomes import OUTCOMES
from pipeline.prices import PriceRules, price_table
from pipeline.providers.base import ABANDONED, CANCELLED, FINISHED, POSTPONED, SCHEDULED


def test_profit_rule():
    assert bet_profit(WIN, 10.0, 2.345) == 13.45  # 13.45 to the cent
    assert bet_profit(WIN, 7.5, 1.5) == 3.75
    assert bet_profit(LOSS, 7.5, 3.0) == -7.5
    assert bet_profit(VOID, 7.5, 3.0) == 0.0
    with pytest.raises(ValueError, match="win"):
        bet_profit("push", 1.0, 2.0)


def test_a_result_settles_a_bet_once_it_is_final():
    assert settlement_of(FINISHED, "home", "home", 10.0, 2.0) == Settlement("settled", "win", 10.0)
    assert settlement_of(FINISHED, "away", "home", 10.0, 2.0) == Settlement("settled", "loss", -10.0)
    for void in (ABANDONED, CANCELLED):
        assert settlement_of(void, None, "draw", 10.0, 3.0) == Settlement("void", "void", 0.0)
    assert settlement_of(POSTPONED, None, "draw", 10.0, 3.0) is None  # the postponement rule decides
    assert settlement_of(SCHEDULED, None, "home", 10.0, 2.0) is None
    assert settlement_of(FINISHED, None, "home", 10.0, 2.0) is None  # finished but no outcome yet: wait
    assert settle_as(VOID, 5.0, 2.0).status == "void" and settle_as(LOSS, 5.0, 2.0).status == "settled"


def test_the_postponement_rule_by_hand():
    ko = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    h = 48.0

    def note(kickoff, status, now):
        return overdue_note(ko, kickoff, status, "77", now, h)

    # postponed, no new date: pending until 48 h after the kick-off the bet was placed for, then void
    assert note(ko, POSTPONED, ko + timedelta(hours=47.9)) is None
    assert "postponed (fixture 77) and no new date within VOID_AFTER_HOURS (48 h)" in note(
        ko, POSTPONED, ko + timedelta(hours=48)
    )
    # a new date within the window: pending until it has been played (and 48 h more without a result)
    moved = ko + timedelta(hours=47)
    assert note(moved, SCHEDULED, ko + timedelta(hours=60)) is None
    assert "no final result 48 h after kick-off" in note(moved, SCHEDULED, moved + timedelta(hours=48))
    # a new date beyond the window: void at once, saying from when to when
    far = ko + timedelta(days=10)
    assert note(far, SCHEDULED, ko + timedelta(hours=1)) == (
        "void: the match was moved from 2026-03-14 15:00 to 2026-03-24 15:00 UTC, more than VOID_AFTER_HOURS "
        "(48 h) after the kick-off the bet was placed for"
    )
    # a bet recorded without the kick-off it was placed for: counted from the fixture's, as before
    assert overdue_note(None, far, SCHEDULED, "77", far + timedelta(hours=47), h) is None


def test_a_corrected_result_settles_a_bet_again_by_hand():
    now = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    won = {
        "status": "settled",
        "result": "win",
        "profit_loss": 6.77,
        "bet_outcome": "home",
        "stake": 10.0,
        "odds": 1.677,
        "settlement_note": "settled on 5-0 (home)",
    }
    fix = correction_of(won, FINISHED, 0, 2, "away", now)
    assert fix.settlement == Settlement("settled", "loss", -10.0)
    assert fix.note == (
        "settled on 0-2 (away); re-settled 2026-03-16 09:00 UTC: the result changed at the source from 5-0 (home) "
        "to 0-2 (away); was win +6.77, now loss -10.00"
    )
    assert correction_of(won, FINISHED, 4, 0, "home", now) is None  # another score, the same outcome
    assert correction_of(won, CANCELLED, None, None, None, now).settlement.result == "void"
    # the operator's settlement, and a void for a move or an overdue result, are never overturned
    assert correction_of({**won, "settlement_note": "settled by hand as win: x"}, FINISHED, 0, 2, "away", now) is None
    moved = {**won, "status": "void", "result": "void", "settlement_note": "void: the match was moved ..."}
    assert correction_of(moved, FINISHED, 0, 2, "away", now) is None
    annulled = {**moved, "settlement_note": "void: the source reports the match abandoned"}
    again = correction_of(annulled, FINISHED, 0, 2, "away", now)
    assert again.settlement.result == "loss" and "from abandoned to 0-2 (away)" in again.note


def test_closing_line_value_by_hand():
    # Pinnacle closes at 2.00 / 3.50 / 4.00 (1/odds sum 1.035714); a home bet at 2.20 and an away bet at 4.40
    close = np.array([[2.0, 3.5, 4.0], [2.0, 3.5, 4.0], [np.nan] * 3])
    clv = closing_line_value([2.2, 4.4, 2.0], close, ["home", "away", "home"], "multiplicative")
    assert clv[0] == pytest.approx(2.2 * 0.5 / 1.035714 - 1, abs=1e-6)  # +6.21%
    assert clv[1] == pytest.approx(4.4 * 0.25 / 1.035714 - 1, abs=1e-6)
    assert np.isnan(clv[2])  # no closing price: not graded
    # indices work as names do, and every method goes through the one definition, odds.fair_clv
    for m in ("shin", "power"):
        got = closing_line_value([2.2], close[:1], [0], m)
        assert got[0] == fair_clv(2.2, implied_probabilities(close[:1], m)[0, 0])
    assert closing_line_value([], np.empty((0, 3)), [], "shin").shape == (0,)


def test_price_rules_without_settings_are_the_configured_defaults():
    # PriceRules() used to grade with Shin while FAIR_METHOD's default is power
    configured = PriceRules.from_settings(Settings(database_url="sqlite://"))
    assert PriceRules() == configured
    assert PriceRules().fair_method == Settings.fair_method == "power" and PriceRules().clv_method == "shin"
    assert PriceRules.from_settings(load_settings({}, dotenv=ROOT / "no.env", data_source="sandbox")) == PriceRules()


def test_the_backtest_selects_prices_as_production_does():
    """Wide per-book columns (the backtest's files) and production's long snapshots give the same sharp, fair and
    best prices: one price-selection rule, pipeline.prices.price_table."""
    rng = np.random.default_rng(4)
    n = 60
    books = {"Pinnacle": "pinnacle", "Bet365": "bet365", "William Hill": "william_hill"}
    pred = pd.DataFrame({"match_id": [f"m{i}" for i in range(n)]})
    for book, slug in books.items():
        odds = np.round(rng.uniform(1.6, 6.0, (n, 3)), 2)
        odds[rng.random(n) < 0.2] = np.nan  # some matches this book does not price
        for k, o in enumerate(OUTCOMES):
            pred[f"{slug}_pre_{o}"] = odds[:, k]
            pred[f"{slug}_close_{o}"] = odds[:, k] * 0.98
    for o in OUTCOMES:
        pred[f"ensemble_{o}"] = 1 / 3
    out = add_value_columns(pred, None, ["Pinnacle"], ["Bet365", "William Hill"], "power")
    long = pd.concat(
        [
            pd.DataFrame(
                {"match_id": pred["match_id"], "bookmaker": book, "fetched_at": "2024-01-01"}
                | {o: pred[f"{slug}_pre_{o}"] for o in OUTCOMES}
            )
            for book, slug in books.items()
        ]
    )
    table = price_table(long, PriceRules(("Pinnacle",), ("Bet365", "William Hill"), "power")).reindex(pred["match_id"])
    for o in OUTCOMES:
        assert np.allclose(out[f"best_{o}"], table[f"best_{o}"], equal_nan=True)
        assert (out[f"best_{o}_book"].fillna("-").to_numpy() == table[f"book_{o}"].fillna("-").to_numpy()).all()
        assert np.allclose(out[f"sharp_pre_{o}"], table[f"sharp_{o}"], equal_nan=True)
    fair = implied_probabilities(table[[f"sharp_{o}" for o in OUTCOMES]].to_numpy(float), "power")
    has = np.isfinite(fair).all(axis=1)
    assert np.allclose(out.loc[has, [f"fair_{o}" for o in OUTCOMES]].to_numpy(), fair[has])
    assert (out.loc[~has, "fair_source"] == "model").all() and (out.loc[has, "fair_source"] == "Pinnacle").all()


def test_bet_statistics_by_hand_and_as_both_print_them():
    stake = np.array([10.0, 20.0, 10.0, 40.0])
    odds = np.array([2.0, 2.5, 3.0, 1.8])
    won = np.array([True, False, False, True])
    profit = np.array([bet_profit(WIN if w else LOSS, s, o) for w, s, o in zip(won, stake, odds)])
    clv = np.array([0.05, -0.02, np.nan, 0.01])
    s = bet_stats(stake, profit, ["d1", "d1", "d2", "d3"], won, odds, clv, {"shin": clv, "power": clv + 0.01})
    assert (s.bets, s.turnover, s.profit) == (4, 80.0, round(profit.sum(), 2))
    assert s.roi.mean == pytest.approx(profit.sum() / stake.sum())
    assert s.clv.graded == 3 and s.ungraded == 1 and s.clv.share_beating == pytest.approx(2 / 3)
    assert s.clv.flat.mean == pytest.approx(np.nanmean(clv))
    assert s.clv.stake_weighted.mean == pytest.approx((0.5 - 0.4 + 0.4) / 70)
    assert s.clv.expected_profit == round(0.5 - 0.4 + 0.4, 2)
    assert s.by_method["power"].flat.mean == pytest.approx(np.nanmean(clv) + 0.01)
    j = stats_json(s)
    assert j["clv_fair_mean"] == j["clv_fair_by_method"]["shin"]["mean"] and j["bets_without_sharp_close"] == 1
    assert j["roi_ci95"] == [s.roi.lo, s.roi.hi] and j["win_rate"] == 0.5
    text = bet_table([("overall", s), ("E0", s)], "group").splitlines()
    assert text[0].split()[:4] == ["group", "bets", "staked", "profit"] and text[2].split()[:2] == ["E0", "4"]
    assert interval(s.roi) in text[1] and "beat close" in text[0] and text[1].endswith("67%")
    empty = bet_stats([], [], [], [], [], [], {"shin": []})
    assert empty.bets == 0 and stats_json(empty)["roi"] is None and interval(empty.roi) == "-"
