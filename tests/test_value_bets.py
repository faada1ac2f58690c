"""Value against the sharp line, from stored prices to placed bets, on SQLite and PostgreSQL: the best price among
BET_BOOKMAKERS, the fair probability from the sharp book (the model's where no sharp book prices a match, marked
so), EV checked by hand, never a bet at a book outside BET_BOOKMAKERS, unknown bookmaker names, re-runs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from pipeline.betting.placement import place_bets
from pipeline.forecast.predictions import fixtures_frame, prediction_rows
from pipeline.prices import PriceRules, price_table, prices_key
from pipeline.providers.base import Batch, Match, Odds
from pipeline.records import Bet
from pipeline.store import fixture_ids, latest_prices, make_engine, migrate, store_batch, store_predictions
from pipeline.store import schema as s

UTC = UTC
KO = datetime(2026, 1, 17, 15, 0, tzinfo=UTC)
NOW = KO - timedelta(hours=20)
SHADY = "Shady Book"  # a name no list knows: stored as given, never bet with


def _match(mid):
    return Match(provider_id=mid, league="L", season="2526", kickoff=KO, home_team=f"H{mid}", away_team=f"A{mid}")


def _odds(mid, book, h, d, a, hours_ago=1.0):
    return Odds(mid, book, h, d, a, fetched_at=NOW - timedelta(hours=hours_ago))


def world() -> Batch:
    """m1: a sharp price (an older and a newer one) and soft books; m2: no sharp price; m3: nothing bettable."""
    return Batch(
        matches=[_match("m1"), _match("m2"), _match("m3")],
        odds=[
            _odds("m1", "Pinnacle", 2.0, 3.6, 4.2, hours_ago=3),
            _odds("m1", "Pinnacle", 2.1, 3.5, 4.0),
            _odds("m1", "Bet365", 2.3, 3.3, 3.6),
            _odds("m1", "William Hill", 2.25, 3.8, 3.5),
            _odds("m1", "Market max", 2.6, 4.0, 4.5),
            _odds("m1", SHADY, 3.0, 4.5, 5.0),
            _odds("m2", "Bet365", 2.5, 3.4, 3.0),
            _odds("m2", "VC Bet", 2.4, 3.5, 3.1),
            _odds("m2", "Market average", 2.35, 3.3, 2.95),
            _odds("m3", "Market max", 3.0, 4.0, 5.0),
            _odds("m3", SHADY, 3.0, 4.0, 5.0),
        ],
    )


MODEL = {"m1": (0.40, 0.30, 0.30), "m2": (0.45, 0.28, 0.27), "m3": (0.60, 0.30, 0.10)}


def _run(url, tmp_path, settings, batch=None, model=MODEL):
    """Store the world, predict it with the given model probabilities, place bets; returns (engine, bets)."""
    eng = make_engine(url)
    migrate(eng, tmp_path / "locks")
    rules = PriceRules.from_settings(settings)
    batch = batch or world()
    frame, problems = fixtures_frame(batch, NOW, rules)
    assert problems == []
    preds = pd.DataFrame([{"match_id": m, "p_home": p[0], "p_draw": p[1], "p_away": p[2]} for m, p in model.items()])
    with eng.begin() as conn:
        store_batch(conn, "t", batch, NOW, rules.reference)
        ids = fixture_ids(conn, "t", frame["match_id"])
        rows = prediction_rows(
            frame,
            preds,
            ids,
            "v1",
            NOW,
            [prices_key(m) for m in frame.to_dict("records")],
            False,
            np.full((len(frame), 3), np.nan),
        )
        rows, _ = store_predictions(conn, rows, force=False)
        placed = place_bets(conn, settings, NOW, frame, rows, lineup_based=False)
    bets = _bets(eng)
    # what place_bets returns is what it wrote (bets placed by an earlier run are kept, never written again)
    by_id = {r.id: r for r in rows}
    for b in placed:
        assert isinstance(b, Bet) and by_id[b.prediction_id].fixture_id == b.fixture_id
        stored = bets[(by_id[b.prediction_id].match_id, b.outcome)]
        assert (stored.stake, stored.odds, stored.bookmaker, stored.fair_prob, stored.model_prob) == (
            b.stake,
            b.odds,
            b.bookmaker,
            b.fair_prob,
            b.model_prob,
        )
    return eng, bets


def _bets(eng):
    with eng.connect() as conn:
        return {
            (r.provider_id, r.bet_outcome): r
            for r in conn.execute(
                select(s.fixtures.c.provider_id, s.bets).join(s.fixtures, s.fixtures.c.id == s.bets.c.fixture_id)
            )
        }


def test_bets_at_the_best_soft_price_against_the_fair_sharp_line(db_url, tmp_path, settings):
    # ALLOW_MODEL_FAIR on: m2's bet on the models' line (off by default, tests/test_guard_wiring.py)
    st = dataclasses.replace(settings, database_url=db_url, fair_method="multiplicative", allow_model_fair=True)
    eng, bets = _run(db_url, tmp_path, st)
    assert set(bets) == {("m1", "home"), ("m1", "draw"), ("m2", "home")}
    # m1, by hand: Pinnacle's latest price 2.1 / 3.5 / 4.0; 1/odds = 10/21, 6/21, 1/4, sum 85/84, so the fair
    # probabilities are 40/85, 24/85, 21/85. Best prices: home 2.3 at Bet365, draw 3.8 at William Hill (the
    # market maximum's 2.6 / 4.0 and the unknown book's 3.0 / 4.5 are not bettable).
    home, draw = bets[("m1", "home")], bets[("m1", "draw")]
    assert (home.bookmaker, home.odds, draw.bookmaker, draw.odds) == ("Bet365", 2.3, "William Hill", 3.8)
    assert (home.fair_prob, draw.fair_prob) == (pytest.approx(40 / 85), pytest.approx(24 / 85))
    assert home.edge == pytest.approx(40 / 85 * 2.3 - 1)  # EV +8.2%
    assert draw.edge == pytest.approx(24 / 85 * 3.8 - 1)  # EV +7.3%
    assert home.fair_source == draw.fair_source == "Pinnacle"
    assert (home.model_prob, draw.model_prob) == (0.40, 0.30)  # the model's view, kept beside
    # m2 has no sharp price: the model's 0.45 is the fair probability, and the bet says so
    m2 = bets[("m2", "home")]
    assert (m2.bookmaker, m2.odds, m2.fair_source, m2.fair_prob) == ("Bet365", 2.5, "model", 0.45)
    assert m2.edge == pytest.approx(0.45 * 2.5 - 1)
    # m3 is priced only by an aggregate and an unknown book: no bet, however good the model thinks it is
    assert not any(mid == "m3" for mid, _ in bets)
    eng.dispose()


def test_no_bet_at_a_bookmaker_outside_bet_bookmakers(db_url, tmp_path, settings):
    st = dataclasses.replace(
        settings, database_url=db_url, fair_method="multiplicative", bet_bookmakers=("William Hill",)
    )
    eng, bets = _run(db_url, tmp_path, st)
    assert {b.bookmaker for b in bets.values()} == {"William Hill"}
    assert set(bets) == {("m1", "home"), ("m1", "draw")}  # m2 is not priced by William Hill
    assert bets[("m1", "home")].odds == 2.25 and bets[("m1", "home")].edge == pytest.approx(40 / 85 * 2.25 - 1)
    eng.dispose()


def test_placing_again_never_duplicates_or_doubles(sqlite_url, tmp_path, settings):
    st = dataclasses.replace(settings, database_url=sqlite_url)
    eng, first = _run(sqlite_url, tmp_path, st)
    # the same prices again, then a lineup-style re-prediction with other model probabilities
    _, second = _run(sqlite_url, tmp_path, st)
    _, third = _run(sqlite_url, tmp_path, st, model={k: (0.7, 0.2, 0.1) for k in MODEL})
    stakes = {k: (b.stake, b.odds, b.bookmaker) for k, b in first.items()}
    assert {k: (b.stake, b.odds, b.bookmaker) for k, b in third.items()} == stakes
    eng.dispose()


def test_prices_from_the_store_equal_prices_from_the_batch(db_url, tmp_path):
    """The lineup job reads prices from the store, the hourly job from the provider's batch: the same choice."""
    rules = PriceRules()
    eng = make_engine(db_url)
    migrate(eng, tmp_path / "locks")
    batch = world()
    with eng.begin() as conn:
        store_batch(conn, "t", batch, NOW, rules.reference)
        ids = fixture_ids(conn, "t", ["m1", "m2", "m3"])
        stored = latest_prices(conn, list(ids.values()), rules, before=NOW)
    stored.index = stored.index.map({v: k for k, v in ids.items()})
    frame, _ = fixtures_frame(batch, NOW, rules)
    from_batch = frame.set_index("match_id")[stored.columns].sort_index()
    pd.testing.assert_frame_equal(stored.sort_index(), from_batch, check_names=False)
    assert stored.loc["m1", "odds_bookmaker"] == "Pinnacle" and stored.loc["m1", "sharp_home"] == 2.1
    assert stored.loc["m2", "odds_bookmaker"] == "Market average" and np.isnan(stored.loc["m2", "sharp_home"])
    assert stored.loc["m3", "odds_bookmaker"] == SHADY  # an unknown book before the maxima
    eng.dispose()


def test_price_table_best_price_ties_unknown_names_and_stale_snapshots():
    t0 = NOW
    long = pd.DataFrame(
        [
            ("a", "bet365", 2.2, 3.4, 3.5, t0),  # Sportmonks spelling: canonical "Bet365"
            ("a", "William Hill", 2.2, 3.5, 3.4, t0),  # equal home price: the book listed first wins
            ("a", "VC Bet", 2.9, 3.3, 3.3, t0 - timedelta(hours=5)),
            ("a", "VC Bet", 2.1, 3.3, 3.3, t0),  # ... but only its latest price counts
            ("a", "Pinnacle", 2.05, 3.6, 3.7, t0),
            ("a", "Betfair Exchange", 2.4, 3.9, 3.9, t0),  # a real book, not among BET_BOOKMAKERS
            ("a", "Bet&Win", 0.0, 3.3, 3.3, t0),  # an invalid price: the whole row is ignored
        ],
        columns=["match_id", "bookmaker", "home", "draw", "away", "fetched_at"],
    )
    t = price_table(long, PriceRules()).loc["a"]
    assert (t["best_home"], t["book_home"]) == (2.2, "Bet365")
    assert (t["best_draw"], t["book_draw"]) == (3.5, "William Hill")
    assert (t["best_away"], t["book_away"]) == (3.5, "Bet365")
    assert (t["sharp_home"], t["sharp_bookmaker"], t["odds_bookmaker"]) == (2.05, "Pinnacle", "Pinnacle")
    # a second sharp book in SHARP_BOOKMAKERS stands in when the first is missing
    rules = PriceRules(sharp=("Pinnacle", "Betfair Exchange"))
    t = price_table(long[long["bookmaker"] != "Pinnacle"], rules).loc["a"]
    assert (t["sharp_bookmaker"], t["sharp_home"], t["odds_bookmaker"]) == ("Betfair Exchange", 2.4, "Betfair Exchange")
