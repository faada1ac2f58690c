"""FAIR_LINE (issue 26): the setting, the close model's gate, the value rule's fair probability and source, each
book's snapshots read back from a real SQLite store, and the walk-forward's close model being point in time."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_close_model import synthetic

from pipeline.betting.placement import value_candidates
from pipeline.config import ConfigError, load_settings
from pipeline.evaluation.close_line import close_walk_forward
from pipeline.forecast.fair_line import (
    CloseLine,
    CloseLineFit,
    close_fair_line,
    model_inputs,
    wide_prices,
    with_forecast,
)
from pipeline.forecast.validation import judge_close_model
from pipeline.prices import PriceRules
from pipeline.providers.base import FINISHED, Batch, Match, Odds
from pipeline.records import Prediction
from pipeline.store import fixture_ids, make_engine, migrate, store_batch
from pipeline.store.book_prices import book_snapshots

NO_DOTENV = Path("/nonexistent")


def test_fair_line_defaults_to_sharp_and_refuses_other_values():
    assert load_settings({}, dotenv=NO_DOTENV).fair_line == "sharp"
    assert load_settings({"FAIR_LINE": "close_model"}, dotenv=NO_DOTENV).fair_line == "close_model"
    with pytest.raises(ConfigError, match="FAIR_LINE"):
        load_settings({"FAIR_LINE": "close"}, dotenv=NO_DOTENV)


def test_the_close_models_gate_keeps_it_only_when_it_beats_the_sharp_price():
    assert judge_close_model(CloseLineFit(object(), 300, 0.9700, 0.9701)).used  # type: ignore[arg-type]
    for ce in (0.9701, 0.9702, float("nan")):
        verdict = judge_close_model(CloseLineFit(object(), 300, ce, 0.9701))  # type: ignore[arg-type]
        assert not verdict.used and "not below" in (verdict.reason or "")
    none = judge_close_model(CloseLineFit(None, 12, float("nan"), float("nan"), "too few matches"))
    assert not none.used and none.reason == "too few matches" and none.as_dict()["used"] is False
    assert not judge_close_model(None).used


def _frame(n: int = 3) -> pd.DataFrame:
    kick = datetime(2024, 4, 8, 15, tzinfo=UTC)
    return pd.DataFrame(
        {
            "match_id": [f"m{i}" for i in range(n)],
            "kickoff": [kick + timedelta(hours=i) for i in range(n)],
            "sharp_home": [2.0, np.nan, 2.5][:n],
            "sharp_draw": [3.4, np.nan, 3.3][:n],
            "sharp_away": [4.0, np.nan, 3.0][:n],
            "sharp_bookmaker": ["Pinnacle", None, "Pinnacle"][:n],
            "best_home": [2.2, 2.2, 2.6][:n],
            "best_draw": [3.5, 3.5, 3.4][:n],
            "best_away": [4.2, 4.2, 3.1][:n],
            "book_home": ["Bet365"] * n,
            "book_draw": ["Bet365"] * n,
            "book_away": ["Bet365"] * n,
        }
    )


def _prediction(match_id: str) -> Prediction:
    return Prediction(match_id, None, datetime(2024, 4, 8, tzinfo=UTC), "v1", 0.4, 0.3, 0.3, "k")


def test_value_is_measured_against_the_close_model_where_it_has_a_forecast():
    frame = _frame()
    preds = [_prediction(m) for m in frame["match_id"]]
    rules = PriceRules(("Pinnacle",), ("Bet365",), "power")
    close = np.array([[0.5, 0.3, 0.2], [0.45, 0.3, 0.25], [np.nan, np.nan, np.nan]])
    sharp = value_candidates(frame, preds, rules)
    with_close = value_candidates(frame, preds, rules, close)
    assert [c.fair_source for c in sharp] == ["Pinnacle", "model", "Pinnacle"]
    # the close model's forecast where it has one (even where no sharp price exists), else as before
    assert [c.fair_source for c in with_close] == ["close_model", "close_model", "Pinnacle"]
    assert with_close[0].fair_probs == (0.5, 0.3, 0.2) and with_close[2].fair_probs == sharp[2].fair_probs


def test_without_a_deployed_close_model_the_fair_line_stays_sharp_and_says_so(caplog):
    line = CloseLine(("Pinnacle",), ("Bet365",), "power", "shin")
    with caplog.at_level(logging.WARNING):
        assert close_fair_line(None, _frame(), pd.DataFrame(), "match_id", np.zeros((3, 3)), line, logging) is None
    assert "no close model" in caplog.text


def test_each_books_snapshots_come_back_by_lead_and_closing(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    migrate(engine, tmp_path)
    kick = datetime(2024, 4, 8, 15, tzinfo=UTC)
    rows = [
        ("Pinnacle", 48, 2.00, False),
        ("Pinnacle", 30, 2.05, False),  # the latest 24 h or more before kick-off
        ("Pinnacle", 2, 2.10, False),  # too late for training's inputs
        ("Pinnacle", 0, 2.20, True),  # the close
        ("bet365", 26, 2.15, False),  # a provider's spelling: canonical Bet365
        ("Unibet", 30, 2.30, False),  # not a listed book
    ]
    batch = Batch(
        [Match("m1", "E0", "2324", kick, "A", "B", status=FINISHED, home_goals=1, away_goals=0)],
        [Odds("m1", b, h, 3.4, 4.0, kick - timedelta(hours=hours), closing) for b, hours, h, closing in rows],
    )
    with engine.begin() as conn:
        store_batch(conn, "sandbox", batch, kick + timedelta(hours=3))
        (fixture,) = fixture_ids(conn, "sandbox", ["m1"]).values()
    with engine.connect() as conn:
        pre = book_snapshots(conn, [fixture], ["Pinnacle", "Bet365"], lead=timedelta(hours=24))
        latest = book_snapshots(conn, [fixture], ["Pinnacle"], before=kick - timedelta(hours=1))
        close = book_snapshots(conn, [fixture], ["Pinnacle"], closing=True)
    engine.dispose()
    assert dict(zip(pre["bookmaker"], pre["home"])) == {"Pinnacle": 2.05, "Bet365": 2.15}
    assert latest["home"].tolist() == [2.10] and close["home"].tolist() == [2.20]
    wide = wide_prices(pre.assign(match_id="m1"), "match_id", "pre")
    assert wide.loc["m1", "pinnacle_pre_home"] == 2.05 and wide.loc["m1", "bet365_pre_home"] == 2.15


def test_the_walk_forwards_close_model_uses_only_earlier_weeks():
    """Each week's forecast is made from the weeks before it: changing every later target and price leaves it."""
    frame, _, target = synthetic(3000, seed=5)
    frame = frame.assign(
        kickoff=pd.Timestamp("2020-08-03", tz="UTC") + pd.to_timedelta(np.arange(3000) // 20 * 2, unit="D")
    )
    line = CloseLine(("Pinnacle",), ("Bet365", "William Hill"), "power", "shin", years=1.0)
    inputs = with_forecast(frame, np.full((3000, 3), np.nan))
    origin = pd.Timestamp("2020-08-03", tz="UTC")
    week = ((inputs["kickoff"] - origin).dt.days // 7).to_numpy()
    weeks = [30, 31, 32]
    probs, fits = close_walk_forward(inputs, target, week, weeks, origin, line)
    assert fits == 3 and np.isfinite(probs[np.isin(week, weeks)]).all() and np.isnan(probs[week < 30]).all()
    later = week >= 31
    changed_target = target.copy()
    changed_target[later] = changed_target[later][:, ::-1]
    changed = inputs.copy()
    changed.loc[later, "bet365_pre_home"] *= 1.3
    again, _ = close_walk_forward(changed, changed_target, week, [30], origin, line)
    assert np.allclose(again[week == 30], probs[week == 30])
    # and a week is really refitted on what came before it: the forecast of week 32 moves with week 31's targets
    moved, _ = close_walk_forward(inputs, changed_target, week, weeks, origin, line)
    assert not np.allclose(moved[week == 32], probs[week == 32])


def test_model_inputs_take_the_first_sharp_book_that_prices_a_match():
    frame = _frame(2).assign(league="E0")
    wide = pd.DataFrame(
        {
            "pinnacle_pre_home": [np.nan, 2.0],
            "pinnacle_pre_draw": [np.nan, 3.4],
            "pinnacle_pre_away": [np.nan, 4.0],
            "betfair_exchange_pre_home": [2.1, 2.2],
            "betfair_exchange_pre_draw": [3.5, 3.5],
            "betfair_exchange_pre_away": [4.1, 4.1],
            "bet365_pre_home": [2.2, 1.9],
            "bet365_pre_draw": [3.3, 3.3],
            "bet365_pre_away": [3.9, 3.9],
        }
    )
    x = model_inputs(frame, wide, ("Pinnacle", "Betfair Exchange"), ("Bet365", "William Hill"))
    assert x["sharp_pre_home"].tolist() == [2.1, 2.0] and x["bet365_pre_home"].tolist() == [2.2, 1.9]
    assert x["william_hill_pre_home"].isna().all()
