"""Reliability of the real production scripts, as cron runs them (separate processes), on clones of the demo's
world: jobs started together, jobs killed mid-run, and secrets kept out of everything they print or store; and a
tampered model refused until a rollback (the commands in this process: nothing there depends on a process).
The 20-round and 20-kill versions are in bench/bench_reliability.py; these are the same checks, fewer times."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import DEMO_DAYS, DEMO_START, clone, finish, run_command, start
from faults import QuietServer
from sqlalchemy import create_engine, text

END = DEMO_START + timedelta(days=DEMO_DAYS)  # Sunday 2026-01-18 00:00 UTC, where the demo stopped
# bench/bench_reliability.py runs this module with more rounds and kills, and weekly training in the rounds
ROUNDS = int(os.environ.get("RELIABILITY_ROUNDS", "3"))
KILLS = int(os.environ.get("RELIABILITY_KILLS", "3"))
WITH_TRAINING = os.environ.get("RELIABILITY_WITH_TRAINING") == "1"
PROBLEMS = ("database is locked", "deadlock", "Traceback", "could not serialize")


def query(url: str, sql: str) -> list[tuple]:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        eng.dispose()


DUPLICATES = {
    "predictions": "SELECT fixture_id, model_version, input_key FROM predictions "
    "GROUP BY fixture_id, model_version, input_key HAVING COUNT(*) > 1",
    "bets": "SELECT fixture_id, market, line, bet_outcome FROM bets WHERE status != 'void' "
    "GROUP BY fixture_id, market, line, bet_outcome HAVING COUNT(*) > 1",
    "results": "SELECT fixture_id FROM results GROUP BY fixture_id HAVING COUNT(*) > 1",
    "lineup_updates": "SELECT fixture_id, lineup_hash FROM lineup_updates GROUP BY fixture_id, lineup_hash "
    "HAVING COUNT(*) > 1",
}


# ---- concurrency ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_jobs_started_together_never_lock_or_duplicate(cycle, tmp_path, request, store):
    work, _ = cycle
    url = request.getfixturevalue("pg_url") if store == "postgresql" else None
    env = clone(work, tmp_path / "w", url)
    url = env["DATABASE_URL"]
    jobs = ["hourly_predictions", "lineup_updates", "results_settlement", "backup"]
    if WITH_TRAINING:
        jobs[-1] = "weekly_training"
    # from Monday 2026-01-19 14:00, every 3 hours: rounds find lineups to read and matches to settle
    rounds = [END + timedelta(days=1, hours=14 + 3 * r) for r in range(ROUNDS)]
    for now in rounds:
        procs = {job: start(job, now, env) for job in jobs}
        for job, p in procs.items():
            code, output = finish(p)
            rejected = job == "weekly_training" and code == 70 and "new models not deployed" in output
            assert code == 0 or rejected, f"{job} at {now}: exit {code}\n{output}"
            assert not any(bad in output for bad in PROBLEMS), output
    for table, sql in DUPLICATES.items():
        assert query(url, sql) == [], f"duplicate rows in {table}"
    runs = dict(query(url, "SELECT status, COUNT(*) FROM job_runs GROUP BY status"))
    assert "failed" not in runs and "running" not in runs, runs
    # the rounds did real work on this store (else the test proves nothing)
    made = query(url, f"SELECT COUNT(*) FROM predictions WHERE prediction_time >= '{rounds[0]:%Y-%m-%d}'")[0][0]
    assert made > 0


# ---- killed mid-run -------------------------------------------------------------------------------------------


def _state(db: Path, job: str) -> dict:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        out = {t: con.execute(sql).fetchall() for t, sql in DUPLICATES.items()}
        assert all(v == [] for v in out.values()), out
        out = {
            "predictions": con.execute(
                "SELECT fixture_id, model_version, input_key, uses_lineups, "
                "ROUND(home_prob, 9), ROUND(draw_prob, 9), ROUND(away_prob, 9) "
                "FROM predictions ORDER BY 1, 2, 3"
            ).fetchall(),
            "bets": con.execute(
                "SELECT fixture_id, market, line, bet_outcome, odds, stake, status, result, profit_loss, "
                "closing_odds FROM bets ORDER BY 1, 2, 3, 4"
            ).fetchall(),
            "results": con.execute(
                "SELECT fixture_id, status, home_goals, away_goals FROM results ORDER BY 1"
            ).fetchall(),
            "performance": con.execute(
                "SELECT day, bets_settled, profit_loss, bankroll FROM performance_daily ORDER BY day"
            ).fetchall(),
        }
        return out
    finally:
        con.close()


def _work_seconds(log: Path, job: str) -> float:
    """How long the job's own work took (from its summary line: after start-up and imports)."""
    line = [x for x in log.read_text().splitlines() if f"{job} success in" in x][-1]
    return float(line.split(f"{job} success in ")[1].split("s:")[0])


def kill_after_start(job: str, now, env: dict, seconds: float) -> None:
    """Start the job, wait for its 'started' log line (start-up done), let it work `seconds`, SIGKILL it."""
    log = Path(env["LOG_DIR"]) / f"{job}.log"
    started = log.read_text().count(f"{job} started") if log.exists() else 0
    p = start(job, now, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        if log.exists() and log.read_text().count(f"{job} started") > started:
            break
        time.sleep(0.01)
    time.sleep(seconds)
    p.send_signal(signal.SIGKILL)
    p.communicate()


@pytest.mark.parametrize("job, hours", [("hourly_predictions", 10), ("results_settlement", 72)])
def test_job_killed_mid_run_then_rerun_does_the_work_exactly_once(cycle, tmp_path, job, hours):
    """SIGKILL at moments spread over a clean run's duration; the next full run must leave exactly the store a
    single clean run leaves."""
    work, _ = cycle
    now = END + timedelta(hours=hours)
    ref_env = clone(work, tmp_path / "ref")
    before = _state(tmp_path / "ref" / "predictions.db", job)
    code, output = finish(start(job, now, ref_env))
    assert code == 0, output
    expected = _state(tmp_path / "ref" / "predictions.db", job)
    key = "predictions" if job == "hourly_predictions" else "bets"
    assert expected[key] != before[key], "the job had nothing to do: the test would prove nothing"

    work_seconds = _work_seconds(tmp_path / "ref" / "logs" / f"{job}.log", job)
    env = clone(work, tmp_path / "crash")
    rng = random.Random(3)
    landed = {"before the commit": 0, "after it": 0}
    for trial in range(KILLS):
        kill_after_start(job, now, env, work_seconds * rng.uniform(0.1, 1.0))
        state = _state(tmp_path / "crash" / "predictions.db", job)
        # all or nothing: the store is as before the job or as after a complete run, never in between
        assert state in (before, expected), f"a half-written batch after kill {trial}"
        landed["before the commit" if state == before else "after it"] += 1
    print(f"{job}: {KILLS} kills over {work_seconds:.1f}s of work: {landed}")
    code, output = finish(start(job, now, env))
    assert code == 0, output
    assert _state(tmp_path / "crash" / "predictions.db", job) == expected


# ---- secrets --------------------------------------------------------------------------------------------------

API_KEY = "SMK-7f3a9c2e41d8b605"
DB_PASSWORD = "PgPw-5e1d9a7c3b"


class EchoingUpstream(BaseHTTPRequestHandler):
    """An upstream that repeats the request (URL and Authorization header) back in its errors: 500s (with
    Retry-After: 0) and 400s with a JSON message, alternately, so both retry and error paths see the secret."""

    count = 0

    def do_GET(self):  # noqa: N802
        EchoingUpstream.count += 1
        echo = f"request {self.path} authorized by {self.headers.get('Authorization')}"
        status = 500 if EchoingUpstream.count % 2 else 400
        body = json.dumps({"message": echo}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_no_job_reveals_the_api_key_or_database_password(cycle, tmp_path, pg_url):
    work, _ = cycle
    server = QuietServer(("127.0.0.1", 0), EchoingUpstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = pg_url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://postgres:{DB_PASSWORD}@")
        env = clone(work, tmp_path / "w", url)
        env.update(
            {
                "DATA_SOURCE": "sportmonks",
                "SPORTMONKS_API_KEY": API_KEY,
                "SPORTMONKS_LEAGUES": "8",
                "SPORTMONKS_BASE_URL": f"http://127.0.0.1:{server.server_port}/v3/football",
            }
        )
        outputs = {}
        now = END + timedelta(hours=10)
        for job, extra in (
            ("weekly_training", ()),
            ("hourly_predictions", ()),
            ("lineup_updates", ()),
            ("results_settlement", ()),
            ("backup", ()),
            ("health_check", ()),
            ("health_check", ("--json",)),
        ):
            code, out = finish(start(job, now, env, *extra))
            outputs[f"{job} {' '.join(extra)} (exit {code})"] = out
        # a bad key value and an unreachable database, where error messages are most tempted to quote settings
        bad = {**env, "DATABASE_URL": f"postgresql+psycopg://postgres:{DB_PASSWORD}@127.0.0.1:9/test"}
        outputs["hourly, database unreachable"] = finish(start("hourly_predictions", now, bad))[1]
    finally:
        server.shutdown()
    assert EchoingUpstream.count > 0, "no job called the upstream: the test would prove nothing"
    assert any("HTTP 500" in o or "HTTP 400" in o for o in outputs.values()), outputs
    logs = {p.name: p.read_text() for p in (tmp_path / "w" / "logs").glob("*.log*")}
    assert logs
    runs = query(url, "SELECT job, status, error, counts FROM job_runs")
    assert any(r[1] == "failed" for r in runs), "no job failed: the error paths were not exercised"
    names = [str(p.relative_to(tmp_path / "w")) for p in (tmp_path / "w").rglob("*")]
    for secret in (API_KEY, DB_PASSWORD):
        for where, text_ in [*outputs.items(), *logs.items(), ("job_runs", repr(runs)), ("file names", repr(names))]:
            assert secret not in text_, f"{secret} found in {where}"


# ---- a tampered model ------------------------------------------------------------------------------------------


def test_tampered_model_is_refused_health_fails_and_rollback_restores_service(cycle, tmp_path):
    # the commands in this process (conftest.run_command): the refusal and the recovery are the jobs' own
    work, _ = cycle
    env = clone(work, tmp_path / "w")
    now = END + timedelta(hours=10)
    live = tmp_path / "w" / "models"  # the live set's files themselves
    with open(live / "xgboost.joblib", "ab") as fh:
        fh.write(b"tampered")
    code, out = run_command("hourly_predictions", now, env)
    assert code == 70 and "checksum" in out and "Traceback" not in out
    code, out = run_command("health_check", now, env)
    assert code == 1 and any(line.startswith("❌") and "odel" in line for line in out.splitlines()), out
    code, out = run_command("weekly_training", now, env, "--rollback")
    assert code == 0, out
    code, out = run_command("hourly_predictions", now, env)
    assert code == 0, out
    code, out = run_command("health_check", now, env)  # --quiet: the failing checks only
    assert not any(line.startswith(("❌ models", "❌ model age")) for line in out.splitlines()), out
