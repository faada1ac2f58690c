"""The price-error guards wired before staking (issue 24 item 1): one place (pipeline.betting.screening) that
placement and the backtest's simulation both run; a candidate failing a guard is set aside before Kelly sizing,
logged in one line and stored in `skipped_candidates` (one row per fixture, outcome and rule, last_seen moving on);
the ages judged only where the source gives price times; the settings read and checked by the configuration; the
report's section. On SQLite and PostgreSQL, with real stores."""

from __future__ import annotations

import dataclasses
import logging
import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_value_bets import KO, MODEL, NOW, _match, _odds, world

from pipeline.betting.guards import RULES, GuardSettings
from pipeline.betting.placement import place_bets
from pipeline.betting.screening import choose_bets
from pipeline.betting.strategy import StrategyParams, select_bets
from pipeline.config import ConfigError, load_settings
from pipeline.evaluation.backtest import EV_BUCKETS, skipped_by_rule, summarise
from pipeline.evaluation.simulation import add_value_columns, grade, simulate
from pipeline.evaluation.walk_forward import probs_columns
from pipeline.forecast.predictions import fixtures_frame, prediction_rows
from pipeline.guard_settings import GuardSettings as LeafGuardSettings
from pipeline.jobs.report import build_report, format_report
from pipeline.outcomes import OUTCOMES
from pipeline.prices import PriceRules, prices_key
from pipeline.providers.base import Batch
from pipeline.records import PlacedBet, ValueCandidate
from pipeline.store import fixture_ids, latest_prices, make_engine, migrate, store_batch, store_predictions
from pipeline.store import schema as s

NO_DOTENV = Path("/nonexistent")
LOG = "pipeline.betting.placement"


def _predict_and_place(engine, settings, batch: Batch, now, frame=None, price_times: bool = True):
    """Store the batch, predict it with MODEL's probabilities and place bets as the hourly job does."""
    rules = PriceRules.from_settings(settings)
    if frame is None:
        frame, problems = fixtures_frame(batch, now, rules)
        assert problems == []
    preds = pd.DataFrame([{"match_id": m, "p_home": p[0], "p_draw": p[1], "p_away": p[2]} for m, p in MODEL.items()])
    with engine.begin() as conn:
        store_batch(conn, "t", batch, now, rules.reference)
        ids = fixture_ids(conn, "t", frame["match_id"])
        keys = [prices_key(m) for m in frame.to_dict("records")]
        rows = prediction_rows(frame, preds, ids, "v1", now, keys, False, np.full((len(frame), 3), np.nan))
        rows, _ = store_predictions(conn, rows, force=False)
        return place_bets(conn, settings, now, frame, rows, lineup_based=False, price_times=price_times)


def _skipped(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            s.skipped_candidates.select()
            .add_columns(s.fixtures.c.provider_id)
            .join(s.fixtures, s.fixtures.c.id == s.skipped_candidates.c.fixture_id)
            .order_by(s.skipped_candidates.c.id)
        )
        return [dict(r._mapping) for r in rows]


@pytest.fixture
def store(db_url, tmp_path):
    engine = make_engine(db_url)
    migrate(engine, tmp_path / "locks")
    yield engine
    engine.dispose()


def test_a_model_fair_candidate_is_never_bet_logged_in_one_line_and_stored_once(store, db_url, env, caplog):
    settings = load_settings({**env, "DATABASE_URL": db_url}, dotenv=NO_DOTENV)
    assert settings.allow_model_fair is False  # the default: the models have not shown they know more
    with caplog.at_level(logging.WARNING, logger=LOG):
        bets = _predict_and_place(store, settings, world(), NOW)
    # m1 is bet against Pinnacle as before; m2 (no sharp price, the models' line) is not
    assert {(b.fixture_id, b.outcome) for b in bets} and all(b.fair_source == "Pinnacle" for b in bets)
    lines = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert len(lines) == 1 and "\n" not in lines[0]
    for part in ("Hm2 v Am2 2026-01-17", "home", "Bet365", "2.50", f"fair {1 / 0.45:.2f}", "model_fair"):
        assert part in lines[0], lines[0]
    (row,) = _skipped(store)
    assert (row["provider_id"], row["outcome"], row["bookmaker"], row["odds"], row["rule"]) == (
        "m2",
        "home",
        "Bet365",
        2.5,
        "model_fair",
    )
    assert row["fair_prob"] == pytest.approx(0.45) and row["reason"] == lines[0]
    assert row["first_seen"] == row["last_seen"] == NOW
    # set aside again an hour later: the same row, last_seen moved on, first_seen kept
    later = NOW + timedelta(hours=1)
    _predict_and_place(store, settings, world(), later)
    (again,) = _skipped(store)
    assert (again["id"], again["first_seen"], again["last_seen"]) == (row["id"], NOW, later)
    # ALLOW_MODEL_FAIR=true lets it through (tests/test_value_bets.py checks that bet's numbers)
    on = dataclasses.replace(settings, allow_model_fair=True)
    assert "home" in {b.outcome for b in _predict_and_place(store, on, world(), later) if b.fair_source == "model"}


def _stale_world(hours: float) -> Batch:
    """world() with Bet365's price of m1 seen `hours` before NOW (its home price 2.3 is m1's best)."""
    b = world()
    b.odds = [o for o in b.odds if not (o.match_id == "m1" and o.bookmaker == "Bet365")]
    b.odds.append(_odds("m1", "Bet365", 2.3, 3.3, 3.6, hours_ago=hours))
    return b


def test_a_stale_price_is_set_aside_only_where_the_source_gives_price_times(store, db_url, env, caplog):
    settings = load_settings({**env, "DATABASE_URL": db_url, "MAX_SOFT_PRICE_AGE": "240"}, dotenv=NO_DOTENV)
    rules = PriceRules.from_settings(settings)
    batch = _stale_world(5)
    with caplog.at_level(logging.WARNING, logger=LOG):
        bets = _predict_and_place(store, settings, batch, NOW)
    assert ("home" not in {b.outcome for b in bets if b.bookmaker == "Bet365"}) and bets  # the draw still is
    rows = [r for r in _skipped(store) if r["provider_id"] == "m1"]
    assert [(r["outcome"], r["rule"]) for r in rows] == [("home", "soft_age")]
    assert "price 300 min old, limit 240" in rows[0]["reason"]
    # the lineup step reads the same prices from the store: the same times, the same decision
    with store.connect() as conn:
        ids = fixture_ids(conn, "t", ["m1", "m2", "m3"])
        stored = latest_prices(conn, list(ids.values()), rules, before=NOW)
    frame, _ = fixtures_frame(batch, NOW, rules)
    assert stored.loc[ids["m1"], "seen_home"] == frame.set_index("match_id").loc["m1", "seen_home"]
    assert stored.loc[ids["m1"], "seen_home"] == NOW - timedelta(hours=5)
    assert stored.loc[ids["m1"], "others_home"] == (2.25,)  # William Hill's, the other bet book
    # a source without price times (football-data): the age guard cannot act, the price is bet
    fresh = make_engine(db_url)
    with fresh.begin() as conn:
        conn.execute(s.skipped_candidates.delete())
        conn.execute(s.bets.delete())
    _predict_and_place(fresh, settings, batch, NOW, price_times=False)
    assert ("m1", "home") in {(r["provider_id"], r["bet_outcome"]) for r in _bet_rows(fresh)}
    assert not [r for r in _skipped(fresh) if r["rule"] == "soft_age"]
    fresh.dispose()


def _bet_rows(engine) -> list[dict]:
    with engine.connect() as conn:
        q = (
            s.bets.select()
            .add_columns(s.fixtures.c.provider_id)
            .join(s.fixtures, s.fixtures.c.id == s.bets.c.fixture_id)
        )
        return [dict(r._mapping) for r in conn.execute(q)]


def _cand(odds, probs=(0.55, 0.25, 0.20), **kw) -> ValueCandidate:
    values = dict(
        fixture_id=1,
        kickoff=KO,
        fair_probs=probs,
        odds=odds,
        books=("Bet365", "William Hill", "VC Bet"),
        fair_source="Pinnacle",
        match="A v B",
        sharp_odds=(1.75, 3.85, 4.8),
        other_odds=((2.0,), (4.3,), (5.0,)),
    )
    values.update(kw)
    return ValueCandidate(**values)  # type: ignore[arg-type]


def test_a_candidate_failing_a_guard_is_set_aside_before_kelly_sizes_the_others():
    params = StrategyParams()
    c = _cand((9.0, 4.2, 5.2))  # home 9.0 against a fair 1.82: an error; draw and away are honest value
    choice = choose_bets([c], 1000.0, params, GuardSettings())
    assert [(x.outcome, x.rule, x.odds, x.bookmaker) for x in choice.skipped] == [
        ("home", "price_ratio", 9.0, "Bet365")
    ]
    assert choice.skipped[0].edge == pytest.approx(0.55 * 9.0 - 1)
    # the others sized as if home had never been offered (Kelly over exclusive outcomes: not as the unguarded run)
    without = select_bets([dataclasses.replace(c, odds=(math.nan, 4.2, 5.2))], 1000.0, params)
    assert [(b.outcome, b.stake) for b in choice.bets] == [(b.outcome, b.stake) for b in without]
    assert {b.outcome for b in choice.bets} == {"draw", "away"}
    unguarded = choose_bets([c], 1000.0, params, None)
    assert unguarded.skipped == [] and "home" in {b.outcome for b in unguarded.bets}
    # an outcome already bet is not judged again (no second bet can be added to it anyway)
    placed = [PlacedBet(1, "home", 10.0, KO.date())]
    assert choose_bets([c], 1000.0, params, GuardSettings(), placed).skipped == []
    # a broken sharp line (away 22.1 for 2.21) stops every outcome judged against it
    broken = _cand((2.6, 4.0, 2.2), probs=(0.53, 0.40, 0.07), sharp_odds=(2.97, 4.0, 22.1))
    got = choose_bets([broken], 1000.0, params, GuardSettings())
    assert got.bets == [] and {x.rule for x in got.skipped} == {"sharp_overround"}


def _pred(rows: list[dict]) -> pd.DataFrame:
    """A backtest's test matches with each book's prices (simulation.add_value_columns' input)."""
    pred = pd.DataFrame(
        [
            {
                "match_id": f"x{i}",
                "league": "E0",
                "season": "2324",
                "kickoff": pd.Timestamp("2024-05-19 15:00", tz="UTC") + pd.Timedelta(days=7 * (i // 2)),
                "home_team": f"H{i}",
                "away_team": f"A{i}",
                "outcome": r["outcome"],
                **{f"ensemble_{o}": p for o, p in zip(OUTCOMES, (0.4, 0.3, 0.3))},
                **{f"close_{o}": p for o, p in zip(OUTCOMES, r["prices"][("pinnacle", "close")])},
                **{f"{book}_{kind}_{o}": p for (book, kind), v in r["prices"].items() for o, p in zip(OUTCOMES, v)},
            }
            for i, r in enumerate(rows)
        ]
    )
    return pred


def test_the_backtest_runs_the_same_guards_and_counts_what_they_set_aside():
    honest = {
        ("pinnacle", "pre"): (2.0, 3.5, 4.0),
        ("pinnacle", "close"): (1.95, 3.6, 4.1),
        ("bet365", "pre"): (2.2, 3.3, 3.7),
        ("william_hill", "pre"): (2.1, 3.3, 3.8),
        ("vc_bet", "pre"): (2.05, 3.4, 3.8),
    }
    typo = {**honest, ("bet365", "pre"): (9.0, 3.3, 3.7)}  # Bet365 9.0 against Pinnacle 2.0 on the home win
    broken = {**honest, ("pinnacle", "pre"): (2.0, 3.5, 40.0)}  # the sharp away price mistyped
    pred = add_value_columns(
        _pred([{"outcome": 0, "prices": p} for p in (honest, honest, typo, broken)]),  # two a week
        None,
        ["Pinnacle"],
        ["Bet365", "William Hill", "VC Bet"],
        "power",
    )
    assert pred.loc[2, "others_home"] == (2.1, 2.05)  # the other bet books of the best price, as in production
    args = (
        probs_columns(pred, "fair"),
        probs_columns(pred, "best"),
        pred[[f"best_{o}_book" for o in OUTCOMES]].to_numpy(object),
        StrategyParams(),
        1000.0,
        pred["fair_source"].to_numpy(object),
    )
    skipped: list = []
    guarded = grade(simulate(pred, *args, guards=GuardSettings(), skipped=skipped), pred, "shin")
    unguarded = grade(simulate(pred, *args), pred, "shin")
    assert {(r.match_id, r.bet_outcome) for r in unguarded.itertuples()} >= {("x0", "home"), ("x2", "home")}
    assert "x3" in set(unguarded["match_id"])  # the broken line's "value" is bet without guards
    assert ("x2", "home") not in {(r.match_id, r.bet_outcome) for r in guarded.itertuples()}
    assert "x3" not in set(guarded["match_id"])
    assert [(x.fixture_id, x.outcome, x.rule) for x in skipped if x.fixture_id == 2] == [(2, "home", "price_ratio")]
    assert {x.rule for x in skipped if x.fixture_id == 3} == {"sharp_overround"}
    assert "H2 v A2 2024-05-26" in next(x.reason for x in skipped if x.fixture_id == 2)
    # the honest matches (the first week: the same bankroll) are bet as without guards
    same = guarded[guarded["match_id"].isin(["x0", "x1"])][["match_id", "bet_outcome", "odds", "stake"]]
    want = unguarded[unguarded["match_id"].isin(["x0", "x1"])][["match_id", "bet_outcome", "odds", "stake"]]
    pd.testing.assert_frame_equal(same.reset_index(drop=True), want.reset_index(drop=True))
    # the JSON: skips by rule (every rule named), fair CLV by EV at bet time, the run without guards beside it
    counts = skipped_by_rule(skipped)
    assert set(counts) == set(RULES) and counts["price_ratio"] == 1 and sum(counts.values()) == len(skipped)
    rule = summarise(guarded, pred, 1000.0, "shin", "value", counts, unguarded).to_json()
    assert rule["skipped"] == counts and rule["without_guards"]["bets"] == len(unguarded)
    assert list(rule["by_edge"]) == [name for _, _, name in EV_BUCKETS]
    for bucket in rule["by_edge"].values():
        assert set(bucket) == {"bets", "clv_fair_mean", "clv_fair_ci95"}
    assert sum(b["bets"] for b in rule["by_edge"].values()) == len(guarded)
    e = guarded["edge"].to_numpy()
    assert rule["by_edge"]["5-10%"]["bets"] == int(((e >= 0.05) & (e < 0.10)).sum())


@pytest.mark.parametrize(
    "env,fragment",
    [
        ({"MAX_EDGE": "-0.1"}, "MAX_EDGE"),
        ({"MAX_EDGE": "lots"}, "MAX_EDGE"),
        ({"MAX_PRICE_RATIO": "0.9"}, "MAX_PRICE_RATIO"),
        ({"SHARP_BOOKSUM_MIN": "1.2"}, "SHARP_BOOKSUM_MIN"),
        ({"SHARP_BOOKSUM_MAX": "off"}, "SHARP_BOOKSUM_MAX"),
        ({"MAX_SOFT_PRICE_AGE": "0"}, "MAX_SOFT_PRICE_AGE"),
        ({"SOFT_OUTLIER_MIN_BOOKS": "1.5"}, "SOFT_OUTLIER_MIN_BOOKS"),
        ({"ALLOW_MODEL_FAIR": "perhaps"}, "ALLOW_MODEL_FAIR"),
    ],
)
def test_invalid_guard_settings_name_the_setting(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env, dotenv=NO_DOTENV)


def test_guard_settings_default_to_the_guards_own_and_read_the_environment():
    s = load_settings({}, dotenv=NO_DOTENV)
    assert s.guards == GuardSettings() == LeafGuardSettings()
    s = load_settings(
        {"MAX_EDGE": "off", "SHARP_BOOKSUM_MAX": "1.15", "ALLOW_MODEL_FAIR": "yes", "SOFT_OUTLIER_MIN_BOOKS": "3"},
        dotenv=NO_DOTENV,
    )
    assert (s.guards.max_edge, s.guards.sharp_booksum_max, s.guards.allow_model_fair) == (None, 1.15, True)
    assert s.guards.soft_outlier_min_books == 3


def test_a_bad_guard_setting_stops_a_job_with_exit_78(env, tmp_path):
    from conftest import run_command

    code, out = run_command("hourly_predictions", NOW, {**env, "SHARP_BOOKSUM_MIN": "abc"})
    assert code == 78 and "SHARP_BOOKSUM_MIN" in out and len(out.strip().splitlines()) == 1, out


def test_the_report_counts_the_skips_by_rule(store, db_url, env):
    settings = load_settings({**env, "DATABASE_URL": db_url, "MAX_EDGE": "0.05"}, dotenv=NO_DOTENV)
    _predict_and_place(store, settings, world(), NOW)
    with store.connect() as conn:
        text = format_report(build_report(conn, 1000.0))
    # m1 home (EV +8.2%) and draw (+7.3%) over MAX_EDGE 5%, m2 home on the models' line
    section = [ln for ln in text.splitlines() if "Price-error guards" in ln]
    assert section == ["Price-error guards: 3 candidates set aside, never bet (max_edge 2, model_fair 1); the latest:"]
    after = text.splitlines()[text.splitlines().index(section[0]) + 1 :][:3]
    assert all(ln.startswith(f"  {NOW:%Y-%m-%d %H:%M} UTC skipped H") for ln in after), after


def test_a_store_without_skips_says_so(store):
    with store.connect() as conn:
        assert "Price-error guards: no candidate set aside" in format_report(build_report(conn, 1000.0))


def test_a_match_priced_by_one_book_has_no_other_prices_and_no_sharp_time():
    b = Batch(matches=[_match("q")], odds=[_odds("q", "Bet365", 2.0, 3.0, 4.0)])
    frame, _ = fixtures_frame(b, NOW, PriceRules())
    assert frame.loc[0, "others_home"] == () and pd.isna(frame.loc[0, "sharp_seen_at"])
