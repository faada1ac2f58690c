"""Time running forward by mistake: a job on a store that is not simulated refuses a --now later than the machine
clock (exit 64, one line, nothing written; --allow-future for a deliberate replay), a simulated store accepts it,
and the health check leaves runs and predictions dated after its clock out of every age and names them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from conftest import FOOTBALL_DATA, ROOT, create_store, invoke_command, make_env, needs_shared

from pipeline.providers.football_data import FootballDataProvider
from pipeline.store import job_runs, make_engine, store_batch
from pipeline.store import schema as s


def _counts(db) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def _football_data_store(tmp_path) -> dict:
    """A store holding the real E0 2023-24 season (its last weeks), DATA_SOURCE=football-data."""
    data = tmp_path / "football-data"
    (data / "mmz4281" / "2324").mkdir(parents=True)
    (data / "mmz4281" / "2324" / "E0.csv").symlink_to(FOOTBALL_DATA / "mmz4281" / "2324" / "E0.csv")
    env = make_env(tmp_path, DATA_SOURCE="football-data", FOOTBALL_DATA_DIR=data, FOOTBALL_DATA_LEAGUES="E0")
    create_store(env)
    provider = FootballDataProvider(data_dir=data, leagues=("E0",))
    end = datetime(2024, 5, 20, tzinfo=UTC)
    engine = make_engine(env["DATABASE_URL"])
    with engine.begin() as conn:
        store_batch(conn, "football-data", provider.history(end - timedelta(days=30), end, end), end)
    engine.dispose()
    return env


@needs_shared()
def test_a_year_ahead_on_a_football_data_store_is_refused_and_writes_nothing(tmp_path):
    env = _football_data_store(tmp_path)
    db = tmp_path / "predictions.db"
    before = _counts(db)
    ahead = datetime.now(UTC) + timedelta(days=365)
    p = subprocess.run(
        [sys.executable, str(ROOT / "production" / "hourly_predictions.py"), "--now", ahead.isoformat(), "--quiet"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 64, p.stderr
    assert len(lines) == 1 and "is later than the machine clock" in lines[0] and "--allow-future" in lines[0], lines
    assert _counts(db) == before and before["job_runs"] == 0  # nothing written, not even the run's row
    # on purpose: the run goes ahead (and stops for its own reason: no deployed models here)
    replay = invoke_command("hourly_predictions", ["--now", ahead.isoformat(), "--allow-future", "--quiet"], env)
    assert replay.exit_code not in (0, 64) and "machine clock" not in replay.output
    assert _counts(db)["job_runs"] == 1
    # a --now in the past, or within a few minutes of the clock, is never refused
    past = invoke_command("results_settlement", ["--now", "2024-05-20T12:00", "--quiet"], env)
    assert past.exit_code == 0, past.output


def test_a_simulated_store_takes_a_future_now(tmp_path):
    env = make_env(tmp_path)  # DATA_SOURCE=sandbox
    create_store(env)
    ahead = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    r = invoke_command("results_settlement", ["--now", ahead, "--quiet"], env)
    assert r.exit_code == 0, r.output


def test_the_health_check_ignores_and_names_rows_dated_after_its_clock(tmp_path):
    env = _football_data_store(tmp_path) if (FOOTBALL_DATA / "mmz4281").is_dir() else make_env(tmp_path)
    engine = make_engine(env["DATABASE_URL"])
    machine = datetime.now(UTC)
    future = machine + timedelta(days=730)
    # what a --now two years ahead used to leave behind: a successful hourly run and a prediction "in 2 years"
    rid = job_runs.start_run(engine, "hourly_predictions", machine, future, "running", pid=1, host="h")
    job_runs.finish_run(engine, rid, "success", {}, None)
    with engine.begin() as conn:
        fid = conn.execute(s.fixtures.select().limit(1)).first()
        if fid is not None:
            conn.execute(
                s.predictions.insert().values(
                    fixture_id=fid.id,
                    prediction_time=future,
                    model_version="v1",
                    home_prob=0.5,
                    draw_prob=0.3,
                    away_prob=0.2,
                    input_key="k",
                )
            )
    engine.dispose()
    r = invoke_command("health_check", [], env)
    lines = r.output.splitlines()
    assert r.exit_code == 1
    assert not any(ln.startswith("✅") and f"{future:%Y-%m-%d}" in ln for ln in lines), lines  # not fooled
    assert any(ln.startswith("❌ hourly_predictions: never succeeded") for ln in lines), lines
    flagged = [ln for ln in lines if ln.startswith("❌ future rows")]
    assert len(flagged) == 1 and f"hourly_predictions 1 run(s) up to {future:%Y-%m-%d %H:%M}" in flagged[0]
    if fid is not None:
        assert f"1 prediction(s) up to {future:%Y-%m-%d %H:%M}" in flagged[0]
        assert not any(ln.startswith("✅ Latest prediction") for ln in lines)
    # judged at a --now after those rows, they are ordinary history again
    # (a health check at a future --now is itself refused on this store, unless deliberate: its alarm wrapper
    # reports the refusal as a failing line)
    args = ["--now", (future + timedelta(hours=1)).isoformat()]
    refused = invoke_command("health_check", args, env)
    assert refused.exit_code != 0 and "is later than the machine clock" in refused.output
    later = invoke_command("health_check", [*args, "--allow-future"], env).output.splitlines()
    assert any(ln.startswith("✅ hourly_predictions last succeeded") for ln in later), later
    assert not any(ln.startswith("❌ future rows") for ln in later)
