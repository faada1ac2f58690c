"""The bet alert (issue 24): BET_ALERT_COMMAND gets one line per new bet on its stdin, run as a real shell command;
nothing is run when there are no new bets; a failing command is a warning, never a failure."""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import timedelta

import pytest
from conftest import DEMO_DAYS, DEMO_START, clone, create_store, make_env, run_command
from test_ledger import seed_bets

from pipeline.betting.alerts import bet_alert_line, send_bet_alert
from pipeline.store import make_engine
from pipeline.store.ledger import bets_by_id

log = logging.getLogger("test_bet_alerts")


@pytest.fixture
def new_bets(sqlite_url, tmp_path):
    env = make_env(tmp_path, DATABASE_URL=sqlite_url)
    create_store(env)
    engine = make_engine(sqlite_url)
    ids = seed_bets(engine, 3)
    with engine.connect() as conn:
        bets = bets_by_id(conn, ids[::-1])
    engine.dispose()
    return bets


def test_one_line_per_bet_on_the_commands_stdin(new_bets, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    assert send_bet_alert("cat >> alerts.txt", new_bets, log) == 3
    got = (tmp_path / "alerts.txt").read_text().splitlines()
    assert got == [bet_alert_line(b) for b in new_bets]
    assert [b.id for b in new_bets] == [1, 2, 3]  # by kick-off, whatever order they were asked for in
    assert got[0] == (
        "2026-01-10 15:00 UTC | E0 | Home 0 v Away 0 | home | Bet365 | price 2.10 | min 2.04 | stake 10.00 | "
        "EV +5.0% | bet 1"
    )
    # no new bets: the command is not run at all (the file is not even touched)
    before = (tmp_path / "alerts.txt").stat().st_mtime_ns
    assert send_bet_alert("cat >> alerts.txt; echo ran >> ran.txt", [], log) == 0
    assert not (tmp_path / "ran.txt").exists() and (tmp_path / "alerts.txt").stat().st_mtime_ns == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    "command,said",
    [
        ("false", "BET_ALERT_COMMAND exited 1"),
        ("echo 'webhook refused token s3cr3t-token' >&2; exit 7", "exited 7: webhook refused token ***"),
        ("/nonexistent/mailer", "exited 127"),
    ],
)
def test_a_failing_command_is_one_warning_line(new_bets, command, said, caplog):
    with caplog.at_level(logging.WARNING):
        assert send_bet_alert(command, new_bets, log, secrets=["s3cr3t-token"]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and said in warnings[0] and "3 new bets" in warnings[0], warnings
    assert "s3cr3t" not in warnings[0] and "\n" not in warnings[0]


def _bet_ids(db) -> set[int]:
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute("SELECT id FROM bets")}
    finally:
        con.close()


def _run_until_bets(env, db, start, hours=36):
    """Hourly runs from `start` until one places bets: (its time, its output, the ids of the bets it placed)."""
    t = start
    for _ in range(hours):
        before = _bet_ids(db)
        code, out = run_command("hourly_predictions", t, env)
        assert code == 0, out
        new = _bet_ids(db) - before
        if new:
            return t, out, new
        t += timedelta(hours=1)
    pytest.fail(f"no hourly run from {start} placed a bet: the test would prove nothing")


def test_a_sandbox_hourly_run_alerts_each_new_bet_once(cycle, tmp_path):
    """The acceptance case: N new bets, N lines; the next run with none, no line; `false` leaves exit 0 with a
    warning."""
    env = clone(cycle[0], tmp_path / "w")
    db = tmp_path / "w" / "predictions.db"
    alerts = tmp_path / "alerts.txt"
    env["BET_ALERT_COMMAND"] = f"cat >> {alerts}"
    start = DEMO_START + timedelta(days=DEMO_DAYS, hours=10)
    when, _, new = _run_until_bets(env, db, start)
    got = alerts.read_text().splitlines()
    assert len(got) == len(new) and {int(line.rsplit(" bet ", 1)[1]) for line in got} == new
    assert all(
        re.fullmatch(
            r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \| SIM\d \| .+ v .+ \| "
            r"(home|draw|away|OU \d+(\.\d+)? (over|under)|AH [+-]\d+(\.\d+)? (home|away)) \| .+",
            x,
        )
        for x in got
    )
    code, out = run_command("hourly_predictions", when, env)  # the same prices again: nothing new
    assert code == 0 and alerts.read_text().splitlines() == got and _bet_ids(db) >= new
    env["BET_ALERT_COMMAND"] = "false"
    _, out, new = _run_until_bets(env, db, when + timedelta(hours=1))
    # one warning per step that placed bets (the hourly step, and its lineup step if that placed some too)
    warnings = [x for x in out.splitlines() if "bet alert not sent" in x]
    assert warnings and all("WARNING" in x and "BET_ALERT_COMMAND exited 1" in x for x in warnings), out
    assert sum(int(re.search(r"\((\d+) new bets; they are stored\)", x)[1]) for x in warnings) == len(new)
