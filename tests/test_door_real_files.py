"""Issue 22 on real files: copies of the shared E0 and D1 2023-24 files with the fault written in.

- `Time` 25:00 and `FTHG` 1.5 in two played fixtures of the last round, both with bets: one settlement run
  (production/results_settlement.py) exits 0, records and settles the other 17, leaves those two bets pending and
  names both rows in `rejected_rows`; the next run moves `last_seen`, not the row count.
- One latin-1 byte in one row of a UTF-8 file: the same teams as without it, none with "Ã".
- "19.45", "9:5", FTHG 99, an FTR against the score: rejected by name; the autumn night's 01:30: the earlier
  instant, with a log line; price columns of an unknown bookmaker: one log line.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import FOOTBALL_DATA, ROOT, needs_shared
from faults import log_line, make_env, record, run_script
from sqlalchemy import select

from pipeline.config import load_settings
from pipeline.jobs.runner import run_job
from pipeline.jobs.weekly_training import fetch_history
from pipeline.providers.base import SCHEDULED
from pipeline.providers.football_data import FootballDataProvider, frame_to_batch
from pipeline.providers.football_data_csv import read_csv
from pipeline.store import make_engine, migrate, store_batch
from pipeline.store import schema as s

pytestmark = needs_shared()
SEASON = FOOTBALL_DATA / "mmz4281" / "2324"
BEFORE_ROUND = datetime(2024, 5, 17, 12, tzinfo=UTC)  # D1's last round is on the 18th, E0's on the 19th
AFTER_ROUND = "2024-05-20T12:00"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _write_fault(path: Path, line: int, column: str, value: str) -> str:
    """Set `column` of the file's `line` (1-based, header = 1) to `value`; returns the value it had."""
    lines = _lines(path)
    header = lines[0].rstrip("\n").split(",")
    cells = lines[line - 1].rstrip("\n").split(",")
    old, cells[header.index(column)] = cells[header.index(column)], value
    lines[line - 1] = ",".join(cells) + "\n"
    path.write_text("".join(lines))
    return old


def _line_of(path: Path, home: str, away: str) -> int:
    return next(i + 1 for i, ln in enumerate(_lines(path)) if f",{home},{away}," in ln)


def _copy_season(root: Path, leagues=("E0", "D1")) -> Path:
    (root / "mmz4281" / "2324").mkdir(parents=True)
    for lg in leagues:
        (root / "mmz4281" / "2324" / f"{lg}.csv").write_bytes((SEASON / f"{lg}.csv").read_bytes())
    return root / "mmz4281" / "2324"


def _bet_on_every_fixture(engine, ids: list[int]) -> None:
    with engine.begin() as conn:
        for fid in ids:
            pid = conn.execute(
                s.predictions.insert().values(
                    fixture_id=fid,
                    prediction_time=BEFORE_ROUND,
                    model_version="v1",
                    home_prob=0.5,
                    draw_prob=0.25,
                    away_prob=0.25,
                    input_key="k",
                )
            ).inserted_primary_key[0]
            conn.execute(
                s.bets.insert().values(
                    fixture_id=fid,
                    prediction_id=pid,
                    bet_outcome="home",
                    bookmaker="Pinnacle",
                    odds=2.5,
                    stake=50.0,
                    edge=0.25,
                    model_prob=0.5,
                    placed_at=BEFORE_ROUND,
                )
            )


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    """The season up to the last round stored, the last round as scheduled fixtures with a bet on each; then the
    faults written into the E0 file and settlement run twice, as cron runs it."""
    tmp = tmp_path_factory.mktemp("door")
    season = _copy_season(tmp / "data")
    env = make_env(tmp, DATA_SOURCE="football-data", FOOTBALL_DATA_DIR=tmp / "data", FOOTBALL_DATA_LEAGUES="E0,D1")
    engine = make_engine(env["DATABASE_URL"])
    migrate(engine, tmp / "locks")
    provider = FootballDataProvider(data_dir=tmp / "data", leagues=("E0", "D1"))
    last_round = []
    with engine.begin() as conn:
        store_batch(conn, "football-data", provider.history(None, BEFORE_ROUND, BEFORE_ROUND), BEFORE_ROUND)
        for lg in ("E0", "D1"):
            frame = read_csv(season / f"{lg}.csv", lg, "2324").frame
            last_round.append(frame[frame["kickoff"] > pd.Timestamp(BEFORE_ROUND)])
        fixtures = pd.concat(last_round, ignore_index=True)
        store_batch(conn, "football-data", frame_to_batch(fixtures, status=SCHEDULED), BEFORE_ROUND)
        ids = dict(conn.execute(select(s.fixtures.c.provider_id, s.fixtures.c.id)).all())
    _bet_on_every_fixture(engine, [ids[m] for m in fixtures["match_id"]])
    e0 = season / "E0.csv"
    late = _line_of(e0, "Arsenal", "Everton")
    fractional = _line_of(e0, "Liverpool", "Wolves")
    _write_fault(e0, late, "Time", "25:00")
    assert _write_fault(e0, fractional, "FTHG", "1.5") == "2"
    first = run_script("results_settlement", env, now=AFTER_ROUND)
    first_seen = _rejected(env)
    second = run_script("results_settlement", env, now="2024-05-20T12:30")
    engine.dispose()
    return {
        "env": env,
        "ids": ids,
        "round": list(fixtures["match_id"]),
        "faulty": {"E0-2324-arsenal-everton": late, "E0-2324-liverpool-wolves": fractional},
        "runs": (first, second),
        "first_seen": first_seen,
        "e0": str(e0),
    }


def _rejected(env: dict) -> list[tuple]:
    con = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
    try:
        return con.execute(
            "SELECT file, line, field, value, reason, first_seen, last_seen, times_seen FROM rejected_rows "
            "ORDER BY line"
        ).fetchall()
    finally:
        con.close()


def _query(env: dict, sql: str) -> list[tuple]:
    con = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_settlement_with_a_bad_time_and_a_fractional_score_exits_0_and_settles_the_others(settled):
    first, second = settled["runs"]
    assert first.code == 0 and second.code == 0, first.stderr
    assert "database unavailable" not in first.stderr + second.stderr
    env, faulty = settled["env"], settled["faulty"]
    bets = dict(_query(env, "SELECT f.provider_id, b.status FROM bets b JOIN fixtures f ON f.id = b.fixture_id"))
    assert len(bets) == 19 and {m: st for m, st in bets.items() if st == "pending"} == dict.fromkeys(faulty, "pending")
    recorded = {m for (m,) in _query(env, "SELECT f.provider_id FROM results r JOIN fixtures f ON f.id = r.fixture_id")}
    assert set(settled["round"]) - recorded == set(faulty)  # the other 17 results of the round are recorded
    # the Liverpool bet would have been settled as a 1-0 home win on the truncated score: it stays pending
    assert _query(env, "SELECT COUNT(*) FROM bets WHERE status = 'settled'") == [(17,)]
    log = Path(env["LOG_DIR"]) / "results_settlement.log"
    record(
        "E0 2023-24's last round with Time 25:00 and FTHG 1.5 in two played fixtures, each with a bet :: settlement",
        first.code,
        log_line(log, "25:00"),
        "17 results recorded and bets settled; the two bets pending (voided after VOID_AFTER_HOURS); "
        "both rows in rejected_rows",
    )


def test_each_rejected_row_is_named_once_and_seen_again_by_the_next_run(settled):
    e0, (late, fractional) = settled["e0"], settled["faulty"].values()
    rows = settled["first_seen"]
    assert [r[:5] for r in rows] == [
        (e0, late, "Time", "'25:00'", "bad time (accepted: HH:MM or H:MM, 00:00..23:59; empty: 15:00 UK); row skipped"),
        (e0, fractional, "FTHG", "'1.5'", "score not a whole number 0..20; row skipped"),
    ]
    again = _rejected(settled["env"])
    assert [r[:6] for r in again] == [r[:6] for r in rows]  # same rows, first_seen kept
    assert all(a[6] > r[6] and a[7] == 2 for a, r in zip(again, rows, strict=True))  # last_seen moved
    log = (Path(settled["env"]["LOG_DIR"]) / "results_settlement.log").read_text()
    assert f"E0.csv:{late}: Time '25:00': bad time" in log and f"E0.csv:{fractional}: FTHG '1.5': score" in log


def _health_lines(env: dict, now: str) -> list[str]:
    cmd = [sys.executable, str(ROOT / "production" / "health_check.py"), "--now", now]
    r = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr  # 1: unhealthy here (no models, no backups), not a crash
    return r.stdout.splitlines()


def test_the_health_check_shows_a_warning_line_for_rows_rejected_in_the_last_day(settled):
    env = settled["env"]
    lines = _health_lines(env, "2024-05-20T13:00")
    assert [ln for ln in lines if "rejected" in ln] == [
        f"⚠️ 2 source rows rejected in the last 24 h ({settled['e0']}): see the rejected_rows table (README, The schema)"
    ], lines
    assert not [ln for ln in _health_lines(env, "2024-05-22T13:00") if "rejected" in ln]  # two days on: gone


# ---- text: one stray latin-1 byte ---------------------------------------------------------------------------------


def _german(path: Path) -> None:
    """The D1 copy as a UTF-8 file with the clubs' own names (the shared file is ASCII)."""
    text = path.read_text().replace("Bayern Munich", "Bayern München").replace("FC Koln", "FC Köln")
    path.write_bytes(text.encode("utf-8"))


def _teams_after_fetch(tmp: Path, stray: bool) -> tuple[list[str], str]:
    season = _copy_season(tmp / "data", ("D1",))
    d1 = season / "D1.csv"
    _german(d1)
    if stray:  # one row's "München" written by a latin-1 editor: a lone \xfc in a UTF-8 file
        raw = d1.read_bytes().split(b"\n")
        i = next(i for i, ln in enumerate(raw) if b"Bayern M\xc3\xbcnchen" in ln)
        raw[i] = raw[i].replace(b"M\xc3\xbcnchen", b"M\xfcnchen")
        d1.write_bytes(b"\n".join(raw))
    env = make_env(
        tmp, DATA_SOURCE="football-data", FOOTBALL_DATA_DIR=tmp / "data", FOOTBALL_DATA_LEAGUES="D1", HISTORY_YEARS=1
    )
    settings = load_settings(env, dotenv=Path("/nonexistent"))
    fetched = run_job("weekly_training", fetch_history, settings=settings, now="2024-05-20T02:00", create_store=True)
    assert fetched == 0  # weekly training's fetch: the job that reads history
    teams = sorted(n for (n,) in _query(env, "SELECT name FROM teams"))
    return teams, (Path(env["LOG_DIR"]) / "weekly_training.log").read_text()


def test_a_stray_latin1_byte_does_not_re_decode_the_good_rows(tmp_path):
    clean, _ = _teams_after_fetch(tmp_path / "clean", stray=False)
    teams, log = _teams_after_fetch(tmp_path / "stray", stray=True)
    assert teams == clean and len(teams) == 18 and "Bayern München" in teams and "FC Köln" in teams
    assert not any("Ã" in t for t in teams)
    assert "D1.csv:" in log and "not UTF-8 like the rest of the file; this line read as cp1252" in log


# ---- the accepted forms, on a real file -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("Time", "19.45", "bad time"),
        ("Time", "9:5", "bad time"),
        ("Time", "24:00", "bad time"),
        ("Date", "19/5/2024", "bad or missing date"),
        ("Date", "30/02/2024", "bad or missing date"),
        ("FTHG", "99", "score not a whole number 0..20"),
        ("FTHG", "-1", "score not a whole number 0..20"),
        ("FTHG", "", "missing or non-numeric score"),
        ("FTR", "A", "FTR not H, D or A, or not the score's result"),
    ],
)
def test_a_value_outside_the_accepted_forms_is_rejected_by_name_and_the_file_read(tmp_path, column, value, rule):
    e0 = _copy_season(tmp_path, ("E0",)) / "E0.csv"
    line = _line_of(e0, "Arsenal", "Everton")  # 19/05/2024 16:00, 2-1 H
    _write_fault(e0, line, column, value)
    parsed = read_csv(e0, "E0", "2324")
    assert len(parsed.frame) == 379 and "E0-2324-arsenal-everton" not in set(parsed.frame["match_id"])
    (r,) = parsed.rejected
    assert (r.line, r.field, r.rule.split(";")[0].split(" (")[0]) == (line, column, rule.split(" (")[0])
    assert parsed.problems == [r.text()] and repr(value).strip("'") in r.value


def test_accepted_forms_are_read(tmp_path):
    e0 = _copy_season(tmp_path, ("E0",)) / "E0.csv"
    line = _line_of(e0, "Arsenal", "Everton")
    _write_fault(e0, line, "Time", "9:30")
    _write_fault(e0, line, "Date", "19/05/24")
    _write_fault(e0, line, "FTHG", "2.0")
    m = read_csv(e0, "E0", "2324").frame.set_index("match_id").loc["E0-2324-arsenal-everton"]
    assert m["kickoff"] == pd.Timestamp("2024-05-19 08:30", tz="UTC") and m["home_goals"] == 2


def test_the_autumn_night_hour_is_the_earlier_instant_with_a_log_line(tmp_path, caplog):
    e0 = _copy_season(tmp_path, ("E0",)) / "E0.csv"
    line = _line_of(e0, "Arsenal", "Everton")
    _write_fault(e0, line, "Date", "29/10/2023")  # clocks go back at 02:00 BST: 01:30 happens twice
    _write_fault(e0, line, "Time", "01:30")
    spring = _line_of(e0, "Luton", "Fulham")
    _write_fault(e0, spring, "Date", "31/03/2024")  # clocks go forward at 01:00 GMT: 01:30 never happens
    _write_fault(e0, spring, "Time", "01:30")
    with caplog.at_level(logging.WARNING, logger="pipeline.providers.football_data_rows"):
        frame = read_csv(e0, "E0", "2324").frame.set_index("match_id")
    assert frame.loc["E0-2324-arsenal-everton", "kickoff"] == pd.Timestamp("2023-10-29 00:30", tz="UTC")  # BST
    assert frame.loc["E0-2324-luton-fulham", "kickoff"] == pd.Timestamp("2024-03-31 01:00", tz="UTC")  # 02:00 BST
    text = caplog.text
    assert f"E0.csv:{line}: UK time 2023-10-29 01:30 occurs twice" in text and "earlier instant" in text
    assert f"E0.csv:{spring}: UK time 2024-03-31 01:30 does not exist" in text


def test_unknown_bookmaker_columns_are_named_in_one_log_line(tmp_path, caplog):
    e0 = _copy_season(tmp_path, ("E0",)) / "E0.csv"
    lines = _lines(e0)
    lines = [lines[0].rstrip("\n") + ",ZZH,ZZD,ZZA\n"] + [ln.rstrip("\n") + ",2.0,3.3,3.9\n" for ln in lines[1:]]
    e0.write_text("".join(lines))
    with caplog.at_level(logging.INFO, logger="pipeline.providers.football_data_rows"):
        parsed = read_csv(e0, "E0", "2324")
        read_csv(e0, "E0", "2324")  # read again (settlement every 30 minutes): no second line
    assert len(parsed.frame) == 380 and parsed.problems == []
    named = [r for r in caplog.records if "ZZH/ZZD/ZZA" in r.getMessage()]
    assert len(named) == 1 and "no known bookmaker" in named[0].getMessage()
