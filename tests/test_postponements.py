"""Postponed, rescheduled and corrected matches through the settlement job, on SQLite and PostgreSQL, the results
read from a Sportmonks API served on 127.0.0.1 (tests/sportmonks_server.py): a postponed fixture's bet stays
pending while the match may be played within VOID_AFTER_HOURS and is settled when it is, voided with the reason
otherwise, without a CLV; a void bet does not block a new bet (the dry run and the real run agree); a result
corrected after settlement settles the bet again, the old and the new result in its note."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sportmonks_server import FakeSportmonks, envelope, fixture, odds, reply, scores
from sqlalchemy import select

from pipeline.betting.placement import place_bets
from pipeline.forecast.predictions import fixtures_frame, prediction_rows
from pipeline.jobs.results_settlement import run as run_settlement
from pipeline.jobs.runner import run_job
from pipeline.prices import PriceRules, prices_key
from pipeline.providers.base import Batch, Match, Odds
from pipeline.providers.sportmonks import SportmonksProvider
from pipeline.records import Bet
from pipeline.store import fixture_ids, make_engine, migrate, store_batch, store_predictions
from pipeline.store import schema as s
from pipeline.store.bets import insert_bets

KO = datetime(2025, 3, 15, 15, 0, tzinfo=UTC)
FID = 101
PATH = f"fixtures/multi/{FID}"
POSTPONED_STATE, NOT_STARTED, FULL_TIME = 10, 1, 5


def _at(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S}"


def _postponed():
    return reply(envelope([fixture(FID, state_id=POSTPONED_STATE, starting_at=_at(KO))]))


def _rescheduled(to: datetime):
    return reply(envelope([fixture(FID, state_id=NOT_STARTED, starting_at=_at(to))]))


def _played(at: datetime, home: int, away: int):
    goals = {"1ST_HALF": (min(home, 1), 0), "2ND_HALF": (home, away), "CURRENT": (home, away)}
    fx = fixture(
        FID,
        state_id=FULL_TIME,
        starting_at=_at(at),
        scores=scores(FID, **goals),
        odds=odds(FID, 2, 1.9, 3.6, 4.4, bookmaker="Pinnacle", update=_at(at - timedelta(minutes=2))),
    )
    return reply(envelope([fx]))


def _store(url, tmp_path, outcome="home", odds_taken=2.0, stake=10.0):
    """A Sportmonks fixture kicking off at KO with one pending bet placed for that kick-off."""
    eng = make_engine(url)
    migrate(eng, tmp_path / "locks")
    match = Match(
        provider_id=str(FID),
        league="8",
        season="23614",
        kickoff=KO,
        home_team="Northbridge FC",
        away_team="Eastvale United",
        home_team_id="4101",
        away_team_id="4377",
    )
    placed = KO - timedelta(hours=20)
    with eng.begin() as conn:
        store_batch(conn, "sportmonks", Batch(matches=[match]), placed)
        fid = conn.execute(select(s.fixtures.c.id)).scalar_one()
        pid = conn.execute(
            s.predictions.insert().values(
                fixture_id=fid,
                prediction_time=placed,
                model_version="v1",
                home_prob=0.5,
                draw_prob=0.3,
                away_prob=0.2,
                input_key="k",
            )
        ).inserted_primary_key[0]
        insert_bets(
            conn,
            [
                Bet(
                    fid,
                    pid,
                    outcome,
                    "Bet365",
                    odds_taken,
                    stake,
                    0.05,
                    0.5,
                    "Pinnacle",
                    0.5,
                    False,
                    placed,
                    kickoff=KO,
                )
            ],
        )
    return eng


def _settle(api, settings, url, now, **kw) -> dict:
    """One settlement run against the fake API; returns the run's counts from job_runs."""
    st = dataclasses.replace(settings, database_url=url, **kw)
    provider = SportmonksProvider("TOKEN", base_url=api.base_url, attempts=1, backoff=0.0)
    assert run_job("results_settlement", run_settlement, settings=st, now=now, provider=provider) == 0
    eng = make_engine(url)
    with eng.connect() as conn:
        counts = conn.execute(select(s.job_runs.c.counts).order_by(s.job_runs.c.id.desc()).limit(1)).scalar_one()
    eng.dispose()
    return json.loads(counts or "{}")


def _bets(eng) -> list:
    with eng.connect() as conn:
        return conn.execute(select(s.bets).order_by(s.bets.c.id)).all()


def _fixture(eng):
    with eng.connect() as conn:
        return conn.execute(select(s.fixtures.c.kickoff_time, s.fixtures.c.status)).one()


def test_a_postponed_match_rescheduled_within_the_window_is_settled_when_played(db_url, tmp_path, settings):
    eng = _store(db_url, tmp_path)
    new = KO + timedelta(hours=28, minutes=45)
    with FakeSportmonks() as api:
        api.route(PATH, _postponed())
        _settle(api, settings, db_url, KO + timedelta(hours=3), void_after_hours=48)
        (bet,) = _bets(eng)
        # it used to be voided here, with a CLV and no note
        assert (bet.status, bet.clv, bet.settlement_note) == ("pending", None, None)
        assert _fixture(eng).status == "postponed"
        api.route(PATH, _rescheduled(new))
        _settle(api, settings, db_url, KO + timedelta(hours=5), void_after_hours=48)
        assert _fixture(eng) == (new, "scheduled") and _bets(eng)[0].status == "pending"
        assert (
            _settle(api, settings, db_url, new - timedelta(hours=2), void_after_hours=48).get("fixtures_checked", 0)
            == 0
        )  # not before the new kick-off
        api.route(PATH, _played(new, 2, 1))
        counts = _settle(api, settings, db_url, new + timedelta(hours=3), void_after_hours=48)
    assert counts["fixtures_checked"] == 1 and counts["bets_won"] == 1  # it used to check 0 fixtures
    (bet,) = _bets(eng)
    assert (bet.status, bet.result, bet.profit_loss, bet.settlement_note) == (
        "settled",
        "win",
        10.0,
        "settled on 2-1 (home)",
    )
    assert bet.closing_odds == 1.9 and bet.clv is not None and np.isfinite(bet.clv)  # against Pinnacle's close
    with eng.connect() as conn:
        assert conn.execute(select(s.results.c.status, s.results.c.outcome)).one() == ("finished", "home")
    eng.dispose()


def test_a_postponed_match_without_a_new_date_is_voided_after_the_window(db_url, tmp_path, settings):
    eng = _store(db_url, tmp_path)
    with FakeSportmonks() as api:
        api.route(PATH, _postponed())
        _settle(api, settings, db_url, KO + timedelta(hours=47), void_after_hours=48)
        assert _bets(eng)[0].status == "pending"
        counts = _settle(api, settings, db_url, KO + timedelta(hours=48), void_after_hours=48)
    assert counts["bets_void_overdue"] == 1
    (bet,) = _bets(eng)
    assert (bet.status, bet.result, bet.profit_loss, bet.clv) == ("void", "void", 0.0, None)
    assert bet.settlement_note == (
        f"void: postponed (fixture {FID}) and no new date within VOID_AFTER_HOURS (48 h) of the kick-off the bet "
        "was placed for, 2025-03-15 15:00 UTC"
    )
    eng.dispose()


def _new_bet_batch(kickoff: datetime, now: datetime) -> Batch:
    m = Match(
        provider_id=str(FID),
        league="8",
        season="23614",
        kickoff=kickoff,
        home_team="Northbridge FC",
        away_team="Eastvale United",
        home_team_id="4101",
        away_team_id="4377",
    )
    seen = now - timedelta(minutes=5)
    return Batch(
        matches=[m],
        odds=[
            Odds(str(FID), "Pinnacle", 2.0, 3.6, 4.2, fetched_at=seen),
            Odds(str(FID), "Bet365", 2.3, 3.3, 3.6, fetched_at=seen),
        ],
    )


def _place(eng, settings, now, batch, write: bool):
    """What the hourly job does for one predicted fixture: its dry run (write=False, nothing stored first) or its
    real run (the batch stored, then the prediction and the bets)."""
    rules = PriceRules.from_settings(settings)
    frame, problems = fixtures_frame(batch, now, rules)
    assert problems == []
    preds = pd.DataFrame([{"match_id": str(FID), "p_home": 0.5, "p_draw": 0.25, "p_away": 0.25}])
    keys = [prices_key(m) for m in frame.to_dict("records")]
    with eng.begin() as conn:
        if write:
            store_batch(conn, "sportmonks", batch, now, rules.reference)
        ids = fixture_ids(conn, "sportmonks", frame["match_id"])
        rows = prediction_rows(frame, preds, ids, "v2", now, keys, False, np.full((1, 3), np.nan))
        if write:
            rows, _ = store_predictions(conn, rows, force=False)
        return place_bets(conn, settings, now, frame, rows, lineup_based=False, write=write)


def test_a_match_moved_beyond_the_window_voids_its_bet_which_then_blocks_no_new_one(db_url, tmp_path, settings):
    eng = _store(db_url, tmp_path)
    far = KO + timedelta(days=10)
    with FakeSportmonks() as api:
        api.route(PATH, _postponed())
        _settle(api, settings, db_url, KO + timedelta(hours=3), void_after_hours=48)
        api.route(PATH, _rescheduled(far))
        counts = _settle(api, settings, db_url, KO + timedelta(hours=5), void_after_hours=48)
    assert counts["bets_void_overdue"] == 1
    (bet,) = _bets(eng)
    assert (bet.status, bet.clv, bet.closing_odds) == ("void", None, None)
    assert bet.settlement_note.startswith("void: the match was moved from 2025-03-15 15:00 to 2025-03-25 15:00 UTC")
    # the hourly job a day before the new date: its dry run and its real run agree on a new bet, and it is written
    now = far - timedelta(hours=24)
    st = dataclasses.replace(settings, database_url=db_url)
    dry = _place(eng, st, now, _new_bet_batch(far, now), write=False)
    real = _place(eng, st, now, _new_bet_batch(far, now), write=True)
    assert [(b.outcome, b.stake, b.odds) for b in dry] == [(b.outcome, b.stake, b.odds) for b in real]
    assert [b.outcome for b in real] == ["home"]
    rows = _bets(eng)
    assert [(r.bet_outcome, r.status, r.odds) for r in rows] == [("home", "void", 2.0), ("home", "pending", 2.3)]
    assert rows[1].kickoff_at_placement == far
    # and a pending bet is never doubled: both runs now say no bet
    assert _place(eng, st, now + timedelta(hours=1), _new_bet_batch(far, now + timedelta(hours=1)), False) == []
    eng.dispose()


def test_a_result_corrected_after_settlement_settles_the_bet_again(db_url, tmp_path, settings, caplog):
    eng = _store(db_url, tmp_path, odds_taken=1.677)
    with FakeSportmonks() as api:
        api.route(PATH, _played(KO, 5, 0))
        _settle(api, settings, db_url, KO + timedelta(hours=3))
        (bet,) = _bets(eng)
        assert (bet.result, bet.profit_loss, bet.settlement_note) == ("win", 6.77, "settled on 5-0 (home)")
        clv = bet.clv
        # the source corrects the score; the weekly training's history fetch stores it
        api.route(PATH, _played(KO, 0, 2))
        provider = SportmonksProvider("TOKEN", base_url=api.base_url, attempts=1, backoff=0.0)
        with eng.begin() as conn:
            store_batch(
                conn, "sportmonks", provider.results([str(FID)], KO + timedelta(days=2)), KO + timedelta(days=2)
            )
        with caplog.at_level(logging.WARNING):
            counts = _settle(api, settings, db_url, KO + timedelta(days=2, hours=1))
    assert counts["bets_resettled"] == 1
    (bet,) = _bets(eng)
    assert (bet.status, bet.result, bet.profit_loss, bet.clv) == ("settled", "loss", -10.0, clv)
    assert bet.settlement_note == (
        "settled on 0-2 (away); re-settled 2025-03-17 16:00 UTC: the result changed at the source from 5-0 (home) "
        "to 0-2 (away); was win +6.77, now loss -10.00"
    )
    assert any("re-settled" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    with eng.connect() as conn:
        assert conn.execute(select(s.results.c.home_goals, s.results.c.away_goals)).one() == (0, 2)
        perf = conn.execute(select(s.performance_daily.c.profit_loss)).scalar_one()
    assert perf == pytest.approx(-10.0)
    # a second run changes nothing
    with FakeSportmonks() as api:
        api.route(PATH, _played(KO, 0, 2))
        assert "bets_resettled" not in _settle(api, settings, db_url, KO + timedelta(days=2, hours=2))
    eng.dispose()


def test_a_store_with_bets_upgrades_to_the_void_aware_unique_index(db_url, tmp_path):
    """A store from before issue 22 with a bet: after migration 0006_issue22_postponements the bet is kept
    (kickoff_at_placement NULL), a second bet on its outcome is still refused, and once it is void a new one is
    taken."""
    from alembic import command
    from alembic.config import Config
    from conftest import ROOT
    from sqlalchemy import text

    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "pipeline" / "store" / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002_issue13")
    with engine.begin() as conn:
        store_batch(conn, "sportmonks", _new_bet_batch(KO, KO - timedelta(hours=3)), KO - timedelta(hours=3))
        fid = conn.execute(select(s.fixtures.c.id)).scalar_one()
        conn.execute(
            text(
                "INSERT INTO predictions (fixture_id, prediction_time, model_version, home_prob, draw_prob, "
                "away_prob, uses_lineups, input_key) VALUES (:f, :t, 'v1', 0.5, 0.3, 0.2, false, 'k')"
            ),
            {"f": fid, "t": KO - timedelta(hours=3)},
        )
        conn.execute(
            text(
                "INSERT INTO bets (fixture_id, prediction_id, bet_outcome, bookmaker, odds, stake, edge, model_prob, "
                "lineup_based, status, placed_at) VALUES (:f, 1, 'home', 'Bet365', 2.0, 10.0, 0.1, 0.5, false, "
                "'pending', :t)"
            ),
            {"f": fid, "t": KO - timedelta(hours=3)},
        )
    migrate(engine, tmp_path / "locks")
    again = Bet(
        fid, 1, "home", "Bet365", 2.5, 5.0, 0.1, 0.5, "Pinnacle", 0.5, False, KO - timedelta(hours=2), kickoff=KO
    )
    with engine.begin() as conn:
        insert_bets(conn, [again])
        assert conn.execute(select(s.bets.c.odds, s.bets.c.kickoff_at_placement)).all() == [(2.0, None)]
        with pytest.raises(Exception, match="(?i)unique"):
            with conn.begin_nested():
                cols = "fixture_id, prediction_id, bet_outcome, bookmaker, odds, stake, edge, model_prob, placed_at"
                conn.execute(text(f"INSERT INTO bets ({cols}) SELECT {cols} FROM bets"))
        conn.execute(text("UPDATE bets SET status = 'void', result = 'void', profit_loss = 0"))
        insert_bets(conn, [again])
        assert conn.execute(select(s.bets.c.status, s.bets.c.odds).order_by(s.bets.c.id)).all() == [
            ("void", 2.0),
            ("pending", 2.5),
        ]
    engine.dispose()
