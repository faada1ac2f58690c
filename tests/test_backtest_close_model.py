"""The backtest with the close model on a small real window (the football-data files of E0, tested on 2023-24):
the close model scored beside Pinnacle's pre-match price on the same matches, the two fair lines' bets side by
side, the sharp-value bar's keys unchanged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import FOOTBALL_DATA, needs_shared

from pipeline.jobs.backtest import run
from pipeline.outcomes import OUTCOMES

pytestmark = [pytest.mark.slow, needs_shared()]  # three seasons of walk-forward on one league: ~25 s


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    out = tmp_path_factory.mktemp("close_bt")
    lines: list[str] = []
    code = run(
        FOOTBALL_DATA,
        ["E0"],
        "2023-07-01",
        "2024-06-30",
        json_path=out / "bt.json",
        predictions_path=out / "bt.csv",
        echo=lines.append,
    )
    assert code == 0, "\n".join(lines)
    return json.loads((out / "bt.json").read_text()), pd.read_csv(out / "bt.csv"), "\n".join(lines)


def test_the_close_model_is_scored_beside_the_pre_match_price_on_the_same_matches(backtest):
    data, pred, text = backtest
    overall = data["scores"]["overall"]
    close, pre = overall["close_model"], overall["market_prematch"]
    assert close["n"] == pre["n"] == data["scored_matches"] > 100
    for m in (close, pre, overall["market_closing"]):
        assert 0.7 < m["ce_vs_fair_close"] < 1.2 and m["n_ce"] == close["n_ce"]
    # the closing price is nearer its own fair version than any pre-match forecast is
    assert overall["market_closing"]["ce_vs_fair_close"] < min(close["ce_vs_fair_close"], pre["ce_vs_fair_close"])
    paired = data["paired_close_model"]
    d = paired["close_model_minus_market_prematch"]
    if paired["matches"] == close["n"] and paired["scored_with_fallback"] == 0:
        assert d["log_loss"]["diff"] == pytest.approx(close["log_loss"] - pre["log_loss"])
        assert d["ce_vs_fair_close"]["diff"] == pytest.approx(close["ce_vs_fair_close"] - pre["ce_vs_fair_close"])
    lo, hi = d["log_loss"]["ci95"]
    assert lo < d["log_loss"]["diff"] < hi
    probs = pred[[f"close_model_{o}" for o in OUTCOMES]].to_numpy(float)
    ok = np.isfinite(probs).all(axis=1)
    assert ok.mean() > 0.9 and np.allclose(probs[ok].sum(axis=1), 1)
    assert "The two fair lines" in text and "close model minus market prematch" in text


def test_both_fair_lines_are_bet_and_compared(backtest):
    data, _, _ = backtest
    b = data["betting"]
    sharp, close = b["overall"], b["close_model"]["overall"]
    assert set(close) == set(sharp) and close["bets"] > 0 and sharp["bets"] > 0
    assert set(b["close_model"]["by_season"]) == set(b["by_season"]) == {"2324"}
    fl = b["fair_lines"]
    # the fair lines compare the value rule's 1X2 bets (the close model forecasts the 1X2 close); the overall
    # figures also count its over/under and handicap bets
    x12 = b["by_market"]["1X2"]
    assert sharp["bets"] == sum(m["bets"] for m in b["by_market"].values()) >= x12["bets"]
    assert fl["bets"]["close_model"] == close["bets"] and fl["bets"]["sharp"] == x12["bets"]
    assert fl["production"] == "sharp" == data["value"]["fair_line"]
    for m, d in fl["close_model_minus_sharp"].items():
        by = close["clv_fair_by_method"][m]["mean"] - x12["clv_fair_by_method"][m]["mean"]
        assert d["all_bets"]["diff"] == pytest.approx(by)
        assert d["matches_both_bet"]["n"] <= fl["matches_both_bet"]
    eq = fl["equal_volume"]
    # as many bets as the close-model rule, or as many as the plain rule places at all (MIN_EDGE bisected to ~0)
    assert abs(eq["sharp"]["bets"] - close["bets"]) <= max(3, close["bets"] // 10) or eq["sharp_min_edge"] < 0.005
    assert eq["sharp"]["bets"] >= x12["bets"] if close["bets"] > x12["bets"] else eq["sharp"]["bets"] <= x12["bets"]


def test_the_sharp_value_bar_keeps_its_keys(backtest):
    data, _, _ = backtest
    b = data["betting"]
    assert {"rule", "clv_method", "overall", "by_season", "by_league", "model_at_sharp_price"} <= set(b)
    assert {"bets", "clv_fair_mean", "clv_fair_ci95", "clv_fair_by_method", "bets_fair_from_model"} <= set(b["overall"])
    assert "close_model" not in b["rule"]
