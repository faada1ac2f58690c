"""Issue 15: faults found by trying to break the pipeline. No hang, no traceback, no stuck bet, no poisoned cache.

Each test drives the real code against a real fault: a server on 127.0.0.1 that trickles or refuses, a store file
that is read-only, damaged or on a full disk (a private tmpfs via `unshare -rm`, see faults.py), the real
PostgreSQL server, a SIGKILLed process. bench/bench_faults.py runs the same scenarios for the README's table.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faults
import pytest
from conftest import ROOT
from faults import (
    NOW,
    Server,
    can_mount,
    count,
    damage_header,
    full_disk,
    lock_free,
    log_line,
    make_env,
    prepared_store,
    read_only,
    record,
    run_here,
    run_script,
    runs,
    send,
    sportmonks_page,
    trickle_body,
    trickle_headers,
)
from sportmonks_server import fixture, participants, scores
from sqlalchemy import select, text

from pipeline.config import load_settings
from pipeline.jobs.runner import run_job
from pipeline.providers.base import Batch
from pipeline.providers.football_data import FootballDataProvider
from pipeline.store import make_engine, migrate, store_batch
from pipeline.store import schema as s

UTC = UTC
NO_DOTENV = Path("/nonexistent")
MOUNT = can_mount()
needs_mount = pytest.mark.skipif(MOUNT is not None, reason=f"needs a private mount namespace: {MOUNT}")


def _store(url: str) -> str:
    return "SQLite" if url.startswith("sqlite") else "PostgreSQL"


def _settings(env: dict, **overrides):
    return dataclasses.replace(load_settings(env, dotenv=NO_DOTENV), **overrides)


def _sportmonks_env(tmp_path, url: str, **extra) -> dict:
    return make_env(
        tmp_path,
        DATA_SOURCE="sportmonks",
        SPORTMONKS_API_KEY="k-123",
        SPORTMONKS_LEAGUES="8",
        SPORTMONKS_BASE_URL=f"{url}/v3/football",
        **extra,
    )


# ---- 1. no hang: a deadline per request and per job ---------------------------------------------------------------


@pytest.mark.parametrize("source", ["sportmonks", "football-data"])
def test_a_body_sent_a_byte_at_a_time_stops_at_the_request_deadline(tmp_path, source):
    with Server() as srv:
        if source == "sportmonks":
            srv.routes["/v3/football/"] = trickle_body(sportmonks_page())
            env = _sportmonks_env(tmp_path, srv.url)
        else:
            srv.routes["/mmz4281/"] = trickle_body(b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\n" * 50)
            env = make_env(tmp_path, DATA_SOURCE="football-data", FOOTBALL_DATA_URL=srv.url, FOOTBALL_DATA_LEAGUES="E0")
        env.update(HTTP_TIMEOUT="5", HTTP_DEADLINE="2", HTTP_ATTEMPTS="2")
        out = run_script("weekly_training", env, now=NOW, timeout=60)
    assert out.code == 75, out.stderr
    assert "HTTP_DEADLINE" in out.line and "Traceback" not in out.stderr
    assert out.elapsed < 30
    assert [r[2] for r in runs(tmp_path / "predictions.db")] == ["failed"]
    assert lock_free(env, "weekly_training") and count(tmp_path / "predictions.db", "fixtures") == 0
    shown = {"sportmonks": "Sportmonks", "football-data": "football-data.co.uk"}[source]
    record(
        f"{shown} sends a 200 body one byte every 0.25 s (HTTP_TIMEOUT=5, HTTP_DEADLINE=2) :: weekly training",
        out.code,
        out.message,
        f"stopped after {out.elapsed:.0f} s; run recorded `failed`; lock released; nothing stored",
    )


def test_headers_sent_a_byte_at_a_time_stop_at_the_job_deadline(tmp_path):
    with Server() as srv:
        srv.routes["/v3/football/"] = trickle_headers()
        env = _sportmonks_env(
            tmp_path, srv.url, HTTP_TIMEOUT="30", HTTP_DEADLINE="600", JOB_DEADLINES="weekly_training=3"
        )
        out = run_script("weekly_training", env, now=NOW, timeout=60)
    assert out.code == 75, out.stderr
    assert "deadline" in out.line and "JOB_DEADLINES" in out.line and "Traceback" not in out.stderr
    assert out.elapsed < 30
    ((_, job, status, error),) = runs(tmp_path / "predictions.db")
    assert (job, status) == ("weekly_training", "failed") and "deadline" in error
    assert lock_free(env, "weekly_training")
    record(
        "the server sends its headers one byte every 0.5 s (HTTP_TIMEOUT=30, JOB_DEADLINES "
        "weekly_training=3) :: weekly training",
        out.code,
        out.message,
        f"stopped after {out.elapsed:.0f} s; run recorded `failed`; lock released",
    )


# ---- 2. one bad download never breaks training, and is never cached -----------------------------------------------

SEASON = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,PSH,PSD,PSA\n"
    "E0,12/08/2023,15:00,Alpha,Beta,2,1,2.0,3.4,4.0\n"
    "E0,19/08/2023,15:00,Beta,Gamma,0,0,2.5,3.2,3.0\n"
)
HTML = b"<!DOCTYPE html>\n<html><head><title>Service</title></head><body>Try again later</body></html>\n"


def test_an_html_page_for_a_past_season_is_named_skipped_and_never_cached(tmp_path):
    pages = {"/mmz4281/2223/E0.csv": HTML, "/mmz4281/2324/E0.csv": SEASON.encode()}
    with Server() as srv:
        srv.routes["/mmz4281/"] = lambda h: (
            send(h, 200, pages.get(h.path, b"x"), "text/csv") if h.path in pages else send(h, 404, b"")
        )
        env = make_env(
            tmp_path,
            DATA_SOURCE="football-data",
            FOOTBALL_DATA_URL=srv.url,
            FOOTBALL_DATA_LEAGUES="E0",
            HISTORY_YEARS="2",
        )
        st = _settings(env)
        from pipeline.jobs.weekly_training import fetch_history

        code = run_job("weekly_training", fetch_history, settings=st, now="2024-05-30T02:00", create_store=True)
        assert code == 0
        log = (tmp_path / "logs" / "weekly_training.log").read_text()
        assert f"{srv.url}/mmz4281/2223/E0.csv: not a football-data CSV" in log and "file skipped" in log
        assert count(tmp_path / "predictions.db", "results") == 2  # the good season is stored
        cache = tmp_path / "cache" / "football-data" / "mmz4281"
        assert not (cache / "2223" / "E0.csv").exists() and (cache / "2324" / "E0.csv").exists()
        record(
            "a past-season CSV arrives as an HTML page with status 200 :: weekly training's fetch",
            code,
            log_line(tmp_path / "logs" / "weekly_training.log", "2223/E0.csv"),
            "the other seasons stored; the page not cached; fetched again (and read) once the site is fixed; "
            "a bad copy already in the cache is fetched again",
        )
        # the source is fixed: the file is fetched (never served from a poisoned cache) and read
        pages["/mmz4281/2223/E0.csv"] = SEASON.replace("/2023", "/2022").encode()
        p = FootballDataProvider(base_url=srv.url, leagues=("E0",), cache_dir=tmp_path / "cache")
        now = datetime(2024, 5, 30, tzinfo=UTC)
        assert len(p.history(datetime(2022, 7, 1, tzinfo=UTC), now, now).matches) == 4
        # a copy cached by older code that does not parse is fetched again
        (cache / "2223" / "E0.csv").write_bytes(HTML)
        before = len(srv.calls)
        assert len(p.history(datetime(2022, 7, 1, tzinfo=UTC), now, now).matches) == 4
        assert srv.calls[before:].count("/mmz4281/2223/E0.csv") == 1


LOCAL_FILES = [
    (SEASON.encode("utf-16"), True),  # UTF-16 with a BOM: read
    (SEASON.encode("utf-16-le"), True),  # ... and without one
    (bytes(range(256)) * 40, False),  # binary
    (b"\x00" * 3000, False),  # NULs only
    (HTML, False),  # an HTML page saved as the CSV
    (b"", False),  # empty
]


def _case(content: bytes) -> int:
    return [c for c, _ in LOCAL_FILES].index(content)


@pytest.mark.parametrize("content, readable", LOCAL_FILES)
def test_an_unreadable_local_file_is_named_and_skipped(tmp_path, content, readable):
    data = tmp_path / "data" / "mmz4281"
    (data / "2223").mkdir(parents=True)
    (data / "2324").mkdir()
    (data / "2223" / "E0.csv").write_bytes(content)
    (data / "2324" / "E0.csv").write_text(SEASON)
    env = make_env(
        tmp_path,
        DATA_SOURCE="football-data",
        FOOTBALL_DATA_DIR=str(tmp_path / "data"),
        FOOTBALL_DATA_LEAGUES="E0",
        HISTORY_YEARS="2",
    )
    from pipeline.jobs.weekly_training import fetch_history

    assert (
        run_job("weekly_training", fetch_history, settings=_settings(env), now="2024-05-30T02:00", create_store=True)
        == 0
    )
    log = (tmp_path / "logs" / "weekly_training.log").read_text()
    if readable:
        assert count(tmp_path / "predictions.db", "results") == 4
        kept, line = "read as text: all rows stored", "(none)"
    else:
        assert f"{data / '2223' / 'E0.csv'}: " in log and "file skipped" in log
        assert count(tmp_path / "predictions.db", "results") == 2
        kept, line = "the other files stored", log_line(tmp_path / "logs" / "weekly_training.log", "2223/E0.csv")
    what = [
        "a UTF-16 file with a BOM",
        "a UTF-16 file without a BOM",
        "a binary file",
        "a file of NUL bytes",
        "an HTML page",
        "an empty file",
    ][_case(content)]
    record(f"FOOTBALL_DATA_DIR holds {what} for a season :: weekly training's fetch", 0, line, kept)


# ---- 3. one line, the README's exit codes, for every store fault on every job -------------------------------------

JOBS = ["hourly_predictions", "results_settlement", "backup"]


@needs_mount
@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize(
    "fault, codes, words",
    [
        ("read-only", (69,), "read-only"),
        ("damaged", (69,), "not a database"),
        ("disk full", (75,), "disk is full"),
    ],
)
def test_a_broken_store_is_one_line_naming_the_file(tmp_path, job, fault, codes, words):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    db = prepared_store(store_dir)
    env = make_env(tmp_path, DATABASE_URL=f"sqlite:///{db}")
    prefix = None
    if fault == "read-only":
        prefix = read_only(store_dir)
    elif fault == "damaged":
        damage_header(db)
    else:
        prefix = full_disk(store_dir, size_kb=1024, seed=store_dir)
    out = run_script(job, env, prefix=prefix, now=None if job == "backup" else "2026-01-20T13:00")
    assert out.code in codes, out.stderr
    assert "Traceback" not in out.stderr
    assert str(db) in out.line and words in out.line, out.line
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    record(
        f"store file {fault} :: {job.replace('_', ' ')}",
        out.code,
        out.message,
        "nothing written; no traceback (it is in the job's log file)",
    )


def test_a_read_only_postgresql_store_is_one_line_naming_the_url(pg_url, tmp_path):
    engine = make_engine(pg_url)
    migrate(engine, tmp_path / "locks")
    engine.dispose()
    env = make_env(tmp_path, DATABASE_URL=pg_url.replace("options=", "options=-cdefault_transaction_read_only%3Don%20"))
    out = run_script("results_settlement", env, now="2026-01-20T13:00")
    assert out.code == 69, out.stderr
    assert "Traceback" not in out.stderr and "127.0.0.1" in out.line and "read-only" in out.line
    record("PostgreSQL store in read-only mode :: results settlement", out.code, out.message, "nothing written")


# ---- 4. a postponed match settles; no bet pending for ever --------------------------------------------------------

FIXTURES = "Div,Date,Time,HomeTeam,AwayTeam,PSH,PSD,PSA\nE0,{day}/01/2024,15:00,Alpha,Beta,2.1,3.4,3.6\n"
PLAYED = "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,PSH,PSD,PSA\nE0,{day}/01/2024,19:45,Alpha,Beta,2,0,2.1,3.4,3.6\n"


def _bet_on(engine, fixture_id: int, outcome: str = "home", stake: float = 10.0) -> int:
    with engine.begin() as conn:
        pid = conn.execute(
            s.predictions.insert().values(
                fixture_id=fixture_id,
                prediction_time=datetime(2024, 1, 19, 12, tzinfo=UTC),
                model_version="v1",
                home_prob=0.6,
                draw_prob=0.25,
                away_prob=0.15,
                input_key="k",
            )
        ).inserted_primary_key[0]
        return conn.execute(
            s.bets.insert().values(
                fixture_id=fixture_id,
                prediction_id=pid,
                bet_outcome=outcome,
                bookmaker="Pinnacle",
                odds=2.1,
                stake=stake,
                edge=0.26,
                model_prob=0.6,
                placed_at=datetime(2024, 1, 19, 12, tzinfo=UTC),
            )
        ).inserted_primary_key[0]


def test_a_rescheduled_football_data_match_stays_one_fixture_and_its_bet_settles(db_url, tmp_path):
    data = tmp_path / "data"
    (data / "mmz4281" / "2324").mkdir(parents=True)
    env = make_env(
        tmp_path,
        DATABASE_URL=db_url,
        DATA_SOURCE="football-data",
        FOOTBALL_DATA_DIR=str(data),
        FOOTBALL_DATA_LEAGUES="E0",
    )
    st = _settings(env)
    engine = make_engine(db_url)
    migrate(engine, tmp_path / "locks")
    p = FootballDataProvider(data_dir=data, leagues=("E0",))
    (data / "fixtures.csv").write_text(FIXTURES.format(day=20))  # Saturday 20th
    now = datetime(2024, 1, 19, 12, tzinfo=UTC)
    with engine.begin() as conn:
        store_batch(conn, "football-data", p.fixtures(now, now + timedelta(days=2), now), now)
        (fid,) = conn.execute(select(s.fixtures.c.id)).scalars().all()
    bet = _bet_on(engine, fid)
    (data / "fixtures.csv").write_text(FIXTURES.format(day=23))  # postponed to Tuesday 23rd
    now = datetime(2024, 1, 22, 12, tzinfo=UTC)
    with engine.begin() as conn:
        store_batch(conn, "football-data", p.fixtures(now, now + timedelta(days=2), now), now)
        rows = conn.execute(select(s.fixtures.c.id, s.fixtures.c.kickoff_time)).all()
    assert [r.id for r in rows] == [fid] and rows[0].kickoff_time == datetime(2024, 1, 23, 15, tzinfo=UTC)
    (data / "mmz4281" / "2324" / "E0.csv").write_text(PLAYED.format(day=23))
    from pipeline.jobs.results_settlement import run as run_settlement

    assert run_job("results_settlement", run_settlement, settings=st, now="2024-01-24T02:00") == 0
    with engine.connect() as conn:
        b = conn.execute(select(s.bets).where(s.bets.c.id == bet)).mappings().one()
        assert (b["status"], b["result"], b["profit_loss"]) == ("settled", "win", 11.0)
        assert conn.execute(select(s.fixtures.c.status)).scalar() == "finished"
    engine.dispose()
    record(
        f"a football-data match postponed three days, then played :: settlement ({_store(db_url)})",
        0,
        "(none)",
        "one fixture, its kick-off moved; the bet settled on the result",
    )


def test_a_match_never_reported_is_named_then_its_bet_voided_with_the_reason(db_url, tmp_path):
    data = tmp_path / "data"
    (data / "mmz4281" / "2324").mkdir(parents=True)
    (data / "mmz4281" / "2324" / "E0.csv").write_text(PLAYED.format(day=13).replace("Alpha,Beta", "Gamma,Delta"))
    (data / "fixtures.csv").write_text(FIXTURES.format(day=20))
    env = make_env(
        tmp_path,
        DATABASE_URL=db_url,
        DATA_SOURCE="football-data",
        FOOTBALL_DATA_DIR=str(data),
        FOOTBALL_DATA_LEAGUES="E0",
        VOID_AFTER_HOURS="72",
    )
    st = _settings(env)
    engine = make_engine(db_url)
    migrate(engine, tmp_path / "locks")
    now = datetime(2024, 1, 19, 12, tzinfo=UTC)
    with engine.begin() as conn:
        store_batch(
            conn,
            "football-data",
            FootballDataProvider(data_dir=data, leagues=("E0",)).fixtures(now, now + timedelta(days=2), now),
            now,
        )
        fid = conn.execute(select(s.fixtures.c.id)).scalar()
    bet = _bet_on(engine, fid)
    from pipeline.jobs.results_settlement import run as run_settlement

    assert run_job("results_settlement", run_settlement, settings=st, now="2024-01-21T02:00") == 0
    log = (tmp_path / "logs" / "results_settlement.log").read_text()
    assert "not found at the source: fixture E0-2324-alpha-beta (Alpha v Beta" in log
    with engine.connect() as conn:
        assert conn.execute(select(s.bets.c.status).where(s.bets.c.id == bet)).scalar() == "pending"
    assert run_job("results_settlement", run_settlement, settings=st, now="2024-01-23T16:00") == 0
    with engine.connect() as conn:
        b = conn.execute(select(s.bets).where(s.bets.c.id == bet)).mappings().one()
    assert (b["status"], b["result"], b["profit_loss"]) == ("void", "void", 0.0)
    assert "no final result 72 h after kick-off" in b["settlement_note"]
    engine.dispose()
    record(
        f"a match the source never reports (VOID_AFTER_HOURS=72) :: settlement ({_store(db_url)})",
        0,
        log_line(tmp_path / "logs" / "results_settlement.log", "not found at the source"),
        f"bet pending, then voided 72 h after kick-off; bets.settlement_note: {b['settlement_note']}",
    )


def test_a_bet_is_voided_or_settled_by_hand_and_recorded(tmp_path):
    env = make_env(tmp_path)
    engine = make_engine(env["DATABASE_URL"])
    migrate(engine, tmp_path / "locks")
    ko = datetime(2024, 1, 20, 15, tzinfo=UTC)
    from pipeline.providers.base import Match

    with engine.begin() as conn:
        store_batch(
            conn,
            "sandbox",
            Batch(
                matches=[
                    Match(provider_id=m, league="L", season="2324", kickoff=ko, home_team=f"H{m}", away_team=f"A{m}")
                    for m in ("a", "b")
                ]
            ),
            ko,
        )
        ids = dict(conn.execute(select(s.fixtures.c.provider_id, s.fixtures.c.id)).all())
    void_me, win_me = _bet_on(engine, ids["a"]), _bet_on(engine, ids["b"], "draw", 5.0)
    out = run_here("results_settlement", env, "--void", str(void_me), "--reason", "abandoned after 60'")
    assert out.code == 0, out.stderr
    out = run_here("results_settlement", env, "--settle", str(win_me), "--result", "win", "--reason", "paid")
    assert out.code == 0, out.stderr
    with engine.connect() as conn:
        got = {r.id: r for r in conn.execute(select(s.bets))}
        jobs = conn.execute(select(s.job_runs.c.job, s.job_runs.c.status, s.job_runs.c.counts)).all()
    assert (got[void_me].status, got[void_me].profit_loss) == ("void", 0.0)
    assert got[void_me].settlement_note == "voided by hand: abandoned after 60'"
    assert (got[win_me].status, got[win_me].result, got[win_me].profit_loss) == ("settled", "win", 5.5)
    assert got[win_me].settlement_note == "settled by hand as win: paid"
    assert [(j, st) for j, st, _ in jobs] == [("results_settlement", "success")] * 2
    assert ['"bets_voided_by_hand": 1' in c for _, _, c in jobs] == [True, False]
    # a settled bet is never changed, an unknown one is named; the command line is checked
    for args, code, words in (
        (["--void", str(void_me), "--reason", "x"], 70, "already void"),
        (["--void", "999", "--reason", "x"], 70, "no bet with id 999"),
        (["--settle", str(win_me), "--reason", "x"], 2, "--result"),
        (["--void", str(void_me)], 2, "--reason"),
    ):
        out = run_here("results_settlement", env, *args)
        assert out.code == code and words in out.stderr and "Traceback" not in out.stderr, out.stderr
        if code == 70:
            record(
                f"`results_settlement.py {' '.join(args)}` :: results settlement by hand",
                out.code,
                out.message,
                "nothing changed",
            )
    engine.dispose()


def test_stored_date_ids_are_rewritten_by_the_migration(db_url, tmp_path):
    """A store from before the fix: its football-data ids carry the date; after the migration the provider's
    answers land on the same rows, and the stuck bet of a postponed match settles."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "pipeline" / "store" / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    old = [
        "E0-2324-20240120-alpha-beta",  # postponed, never played under this date: its bet is stuck
        "E0-2324-20230812-gamma-delta",  # played, result stored
        "E0-2324-20230902-eps-zeta",  # a pair stored twice: played (result) ...
        "E0-2324-20231005-eps-zeta",
    ]  # ... and a past copy without a result: ambiguous, left alone
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO leagues (source, code, name, simulated) VALUES ('football-data', 'E0', 'E0', false)")
        )
        for name in ("Alpha", "Beta"):
            conn.execute(
                text("INSERT INTO teams (source, provider_id, name) VALUES ('football-data', :n, :n)"), {"n": name}
            )
        for pid in old:
            day = pid.split("-")[2]
            conn.execute(
                text(
                    "INSERT INTO fixtures (source, provider_id, league_code, season, kickoff_time, "
                    "home_team_id, away_team_id, home_team, away_team, status, simulated, updated_at) "
                    "VALUES ('football-data', :pid, 'E0', '2324', :ko, 1, 2, 'Alpha', 'Beta', "
                    "'scheduled', false, :ko)"
                ),
                {"pid": pid, "ko": datetime.strptime(day + "15", "%Y%m%d%H").replace(tzinfo=UTC)},
            )
        ids = dict(conn.execute(text("SELECT provider_id, id FROM fixtures")).all())
        for pid in old[1:3]:
            conn.execute(
                text(
                    "INSERT INTO results (fixture_id, status, home_goals, away_goals, outcome, "
                    "recorded_at) VALUES (:f, 'finished', 1, 0, 'home', :t)"
                ),
                {"f": ids[pid], "t": datetime(2024, 2, 1, tzinfo=UTC)},
            )
    migrate(engine, tmp_path / "locks")
    with engine.connect() as conn:
        now_ids = dict(conn.execute(select(s.fixtures.c.id, s.fixtures.c.provider_id)).all())
        assert {c["name"] for c in __import__("sqlalchemy").inspect(conn).get_columns("bets")} >= {"settlement_note"}
    assert now_ids[ids[old[0]]] == "E0-2324-alpha-beta"
    assert now_ids[ids[old[1]]] == "E0-2324-gamma-delta"
    assert now_ids[ids[old[2]]] == "E0-2324-eps-zeta" and now_ids[ids[old[3]]] == old[3]
    engine.dispose()
    record(
        f"a store with date-bearing football-data ids :: first job after the upgrade ({_store(db_url)})",
        0,
        "(none)",
        "ids rewritten by migration 0002_issue15; an ambiguous past copy keeps its id (voided later)",
    )


# ---- 5. control characters never kill a run, on either store ------------------------------------------------------


def test_control_characters_in_a_csv_are_stripped_or_the_row_rejected(db_url, tmp_path):
    data = tmp_path / "data" / "mmz4281" / "2324"
    data.mkdir(parents=True)
    (data / "E0.csv").write_bytes(
        b"Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG\n"
        b"E0,12/08/2023,15:00,Al\x00pha,Be\tta\x1b,2,1\n"
        b"E0,13/08/2023,15:00,\x00\x01\x02,Gamma,1,1\n"
        b"E0,14/08/2023,15:00,Delta\x7f\xc2\x85,Eps\xe2\x80\x8bilon,0,3\n"
    )
    env = make_env(
        tmp_path,
        DATABASE_URL=db_url,
        DATA_SOURCE="football-data",
        FOOTBALL_DATA_DIR=str(tmp_path / "data"),
        FOOTBALL_DATA_LEAGUES="E0",
        HISTORY_YEARS="1",
    )
    from pipeline.jobs.weekly_training import fetch_history

    assert (
        run_job("weekly_training", fetch_history, settings=_settings(env), now="2024-05-30T02:00", create_store=True)
        == 0
    )
    engine = make_engine(db_url)
    with engine.connect() as conn:
        names = conn.execute(
            select(s.fixtures.c.home_team, s.fixtures.c.away_team).order_by(s.fixtures.c.kickoff_time)
        ).all()
    engine.dispose()
    assert [tuple(n) for n in names] == [("Alpha", "Be ta"), ("Delta", "Epsilon")]
    assert "a team is missing; row skipped" in (tmp_path / "logs" / "weekly_training.log").read_text()
    record(
        "NUL, escape, DEL, NEL, tab and zero-width characters in CSV team names :: "
        f"weekly training's fetch ({_store(db_url)})",
        0,
        log_line(tmp_path / "logs" / "weekly_training.log", "team is missing"),
        "names stored cleaned (Al\\x00pha -> Alpha); a name of control characters only: that row skipped",
    )


def test_control_characters_and_lone_surrogates_in_json_on_postgresql(pg_url, tmp_path):
    rows = [
        fixture(
            7,
            state_id=5,
            scores=scores(7, CURRENT=(1, 0)),
            participants=participants(home="North\u0000bridge", away="East\ud800vale"),
        ),
        fixture(
            8,
            state_id=5,
            scores=scores(8, CURRENT=(0, 0)),
            participants=participants(home="\u0000\u0001", away="Eastvale"),
        ),
    ]
    body = '{"data": ' + _json_raw(rows) + "}"
    with Server() as srv:
        srv.routes["/v3/football/"] = lambda h: send(h, 200, body.encode())
        env = _sportmonks_env(tmp_path, srv.url, DATABASE_URL=pg_url, HISTORY_YEARS="1")
        from pipeline.jobs.weekly_training import fetch_history

        assert run_job("weekly_training", fetch_history, settings=_settings(env), now=NOW, create_store=True) == 0
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        names = conn.execute(select(s.fixtures.c.provider_id, s.fixtures.c.home_team, s.fixtures.c.away_team)).all()
    engine.dispose()
    assert [tuple(n) for n in names] == [("7", "Northbridge", "Eastvale")]
    assert (
        "fixture 8: missing or identical teams once control characters are removed"
        in (tmp_path / "logs" / "weekly_training.log").read_text()
    )
    record(
        "\\u0000 and a lone \\ud800 in Sportmonks JSON names :: weekly training's fetch (PostgreSQL)",
        0,
        log_line(tmp_path / "logs" / "weekly_training.log", "control characters are removed"),
        "names stored cleaned; a name of control characters only: that fixture skipped",
    )


def _json_raw(value) -> str:
    """JSON whose strings keep their escapes as the API would send them (\\u0000, a lone \\ud800)."""
    import json

    return json.dumps(value, ensure_ascii=True)


# ---- 6. a backup on a full disk leaves nothing behind; an unusable BACKUP_DIR is named ----------------------------


@needs_mount
def test_a_backup_on_a_full_disk_fails_in_one_line_and_leaves_no_debris(tmp_path):
    prepared_store(tmp_path, rows=3000)
    backups = tmp_path / "backups"
    env = make_env(tmp_path)
    probe = '; ls -A "$BACKUP_DIR" > "$PROBE"'  # what the job left on the full disk, seen from inside
    prefix = full_disk(backups, size_kb=512)
    prefix[-1] = prefix[-1].replace(' && exec "$0" "$@"', ' && "$0" "$@"; rc=$?' + probe + "; exit $rc")
    out = run_script("backup", {**env, "PROBE": str(tmp_path / "left.txt")}, prefix=prefix)
    assert out.code == 75, out.stderr
    assert "disk full" in out.line and str(backups) in out.line and "Traceback" not in out.stderr
    assert (tmp_path / "left.txt").read_text().split() == [".filler"]
    assert [r[2] for r in runs(tmp_path / "predictions.db")] == ["failed"]
    record(
        "BACKUP_DIR on a full disk :: backup",
        out.code,
        out.message,
        "no temporary file or journal left; run recorded `failed`",
    )


def test_an_unusable_backup_dir_is_a_configuration_error(tmp_path):
    prepared_store(tmp_path)
    (tmp_path / "afile").write_text("")
    env = make_env(tmp_path, BACKUP_DIR=str(tmp_path / "afile"))
    out = run_here("backup", env)
    assert out.code == 78 and "BACKUP_DIR" in out.line and "Traceback" not in out.stderr, out.stderr
    record("BACKUP_DIR is a file :: backup", out.code, out.message, "nothing written")


def test_debris_of_an_interrupted_backup_is_removed_by_the_next(tmp_path):
    prepared_store(tmp_path)
    env = make_env(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    debris = [
        backups / n
        for n in (
            "predictions_20260101_040000.db.tmp",
            "predictions_20260101_040000.db.tmp-journal",
            "models_20260101_040000.tar.gz.tmp",
            "predictions_20260101_040000.sql.tmp",
        )
    ]
    for p in debris:
        p.write_bytes(b"x" * 1000)
    keep = backups / "notes.txt"
    keep.write_text("mine")
    out = run_here("backup", env)
    assert out.code == 0, out.stderr
    assert not any(p.exists() for p in debris) and keep.exists()
    assert not [p for p in backups.iterdir() if ".tmp" in p.name]
    record(
        "temporaries of a killed backup in BACKUP_DIR :: next backup",
        out.code,
        log_line(tmp_path / "logs" / "backup.log", "temporary files"),
        "removed first; other files untouched",
    )


# ---- 7. history that does not lie -----------------------------------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from pipeline.config import load_settings
from pipeline.jobs.runner import run_job
st = load_settings(dotenv=Path('/nonexistent'))
def work(ctx):
    print('holding', flush=True)
    time.sleep(60)
sys.exit(run_job('results_settlement', work, settings=st, create_store=True))
"""


def test_a_killed_run_is_reported_by_the_health_check_and_closed_by_the_next_run(tmp_path, capsys):
    env = make_env(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    db = tmp_path / "predictions.db"
    assert [r[2] for r in runs(db)] == ["running"]
    st = _settings(env)
    from pipeline.jobs.health_check import run as run_health_check

    run_job("health_check", run_health_check, settings=st, needs_store=False, lock=False)
    out = capsys.readouterr().out
    assert "❌ job runs: results_settlement run 1" in out and "its process is gone" in out
    assert run_job("results_settlement", lambda ctx: None, settings=st) == 0
    (first, second) = runs(db)
    assert first[2] == "killed" and str(holder.pid) in first[3] and second[2] == "success"
    record(
        "a run SIGKILLed mid-way :: health check, then the job's next run",
        0,
        next(ln for ln in out.splitlines() if "job runs" in ln),
        f"the row closed as `killed` by the next run: {first[3]}",
    )


def test_a_run_past_its_deadline_on_another_host_is_abandoned(tmp_path):
    env = make_env(tmp_path)
    st = _settings(env)
    prepared_store(tmp_path)
    engine = make_engine(st.database_url)
    started = datetime.now(UTC) - timedelta(hours=3)
    with engine.begin() as conn:
        for job, host in (("hourly_predictions", "elsewhere"), ("weekly_training", "elsewhere")):
            conn.execute(s.job_runs.insert().values(job=job, started_at=started, status="running", pid=1, host=host))
    engine.dispose()
    assert run_job("lineup_updates", lambda ctx: None, settings=st) == 0
    got = {r[1]: r for r in runs(tmp_path / "predictions.db")}
    assert got["hourly_predictions"][2] == "abandoned" and "deadline" in got["hourly_predictions"][3]
    assert got["weekly_training"][2] == "running"  # its 6 h deadline has not passed: it may be alive
    record(
        "a run of another host still `running` 3 h after it started :: any job's next run",
        0,
        "(none)",
        f"hourly_predictions (deadline 50 min) closed as `abandoned`: {got['hourly_predictions'][3]}; "
        "weekly_training (6 h) left alone",
    )


def test_a_backup_holds_no_running_row_and_a_restore_records_itself(tmp_path):
    env = make_env(tmp_path)
    st = _settings(env)
    prepared_store(tmp_path, rows=5)
    from pipeline.jobs.backup import run_backup, run_restore

    assert run_job("backup", run_backup, settings=st, now="2026-01-20T04:00") == 0
    backup = tmp_path / "backups" / "predictions_20260120_040000.db"
    assert "running" not in [r[2] for r in runs(backup)]
    assert run_job("hourly_predictions", lambda ctx: None, settings=st) == 0
    assert run_job("backup", lambda ctx: run_restore(ctx, backup), settings=st, now="2026-01-20T09:00") == 0
    after = runs(tmp_path / "predictions.db")
    assert "running" not in [r[2] for r in after]
    assert after[-1][1:3] == ("backup", "success")
    con = sqlite3.connect(tmp_path / "predictions.db")
    assert '"restored": 1' in con.execute("SELECT counts FROM job_runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    con.close()
    record(
        "backup, then restore from it :: backup --restore",
        0,
        "(none)",
        "the backup's own row is closed in the copy; after the restore no row is `running` and the restore "
        "is a `success` row",
    )


# ---- 8. a long Retry-After is the same decision as a long reset in the body ----------------------------------------


@pytest.mark.parametrize("status, retry_after", [(429, "3600"), (429, "date"), (503, "3600")])
def test_a_long_retry_after_gives_up_at_once(tmp_path, status, retry_after):
    value = faults.http_date(3600) if retry_after == "date" else retry_after
    with Server() as srv:
        srv.routes["/v3/football/"] = lambda h: send(h, status, b'{"message": "Too Many Attempts."}', Retry_After=value)
        env = _sportmonks_env(tmp_path, srv.url, HTTP_ATTEMPTS="4")
        out = run_here("weekly_training", env, now=NOW)  # the client's decision: nothing here needs a process
        calls = [c for c in srv.calls if "/leagues" not in c]  # the plan's leagues asked first: the same decision
        plan_calls = len(srv.calls) - len(calls)
    assert out.code == 75, out.stderr
    assert "asks to wait" in out.line and "Traceback" not in out.stderr
    assert len(calls) == 1 and plan_calls == 1 and out.elapsed < 20
    record(
        f"HTTP {status} with only Retry-After: {'<an HTTP date 1 h ahead>' if retry_after == 'date' else value}"
        " :: weekly training",
        out.code,
        out.message,
        f"one request, stopped after {out.elapsed:.0f} s; nothing stored",
    )


@needs_mount
def test_a_full_disk_under_the_log_dir_is_one_line_not_a_traceback_per_record(tmp_path):
    prepared_store(tmp_path)
    env = make_env(tmp_path, LOG_DIR=str(tmp_path / "logs"))
    out = run_script(
        "results_settlement", env, "--void", "5", "--reason", "x", prefix=full_disk(tmp_path / "logs", size_kb=64)
    )
    assert out.code == 70 and "no bet with id 5" in out.line, out.stderr  # the job itself went on
    assert "Traceback" not in out.stderr and "Logging error" not in out.stderr, out.stderr
    assert sum("cannot be written" in ln for ln in out.stderr.splitlines()) == 1
    record(
        "LOG_DIR on a full disk :: any job (here settling an unknown bet by hand)",
        out.code,
        next(ln for ln in out.stderr.splitlines() if "cannot be written" in ln),
        "the job runs on, logging to stderr; its own failure still one line",
    )


def _chunked_trickle(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for _ in range(400):
        h.wfile.write(b"1\r\n{\r\n")
        h.wfile.flush()
        time.sleep(0.05)


@pytest.mark.parametrize(
    "hostile, words",
    [
        (_chunked_trickle, "HTTP_DEADLINE"),  # slow, chunked
        (lambda h: send(h, 200, b"\x1f\x8b garbage, not gzip", Content_Encoding="gzip"), "body cut off"),
        (
            lambda h: (
                h.send_response(200),
                h.send_header("Content-Length", "100000"),
                h.send_header("Connection", "close"),
                h.end_headers(),
                h.wfile.write(b'{"data": ['),
            ),
            "body cut off",
        ),  # partial, then closed
    ],
)
def test_the_client_bounds_every_kind_of_hostile_body(hostile, words):
    from pipeline.providers.base import ProviderError
    from pipeline.providers.http_client import make_session, request

    with Server() as srv:
        srv.routes["/"] = hostile
        t = time.monotonic()
        with pytest.raises(ProviderError, match=words):
            request(make_session(), f"{srv.url}/x", timeout=(2, 2), attempts=2, backoff=0.1, deadline=1.5)
        assert time.monotonic() - t < 6
