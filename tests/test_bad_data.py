"""Bad data fails loudly (production scripts as cron runs them, on football-data.co.uk's real E0 files):
a missing or misspelt FOOTBALL_DATA_DIR exits 69 naming it; a directory without fixtures.csv stops the hourly
job (69) and fails the health check; training on data whose newest result is older than MAX_DATA_AGE_DAYS
deploys nothing (70, says why); training that finds nothing newer than the deployed set deploys nothing (0, says
why); the health check flags stale data and models."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FOOTBALL_DATA, ROOT, make_env, needs_shared

pytestmark = [needs_shared(), pytest.mark.slow]  # trains once on two seasons
TRAINED = "2024-05-20T12:00"  # the Monday after the last match of 2023-24


def run(script: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "production" / f"{script}.py"), *args, "--quiet"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1200,
    )


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def actions(env: dict) -> list[tuple]:
    con = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
    try:
        return con.execute("SELECT action, notes FROM model_versions ORDER BY id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two seasons of E0 (linked from the shared data, not copied), a store and a deployed model set."""
    tmp = tmp_path_factory.mktemp("bad_data")
    data = tmp / "football-data"
    for season in ("2223", "2324"):
        (data / "mmz4281" / season).mkdir(parents=True)
        (data / "mmz4281" / season / "E0.csv").symlink_to(FOOTBALL_DATA / "mmz4281" / season / "E0.csv")
    env = make_env(
        tmp,
        DATA_SOURCE="football-data",
        FOOTBALL_DATA_DIR=data,
        FOOTBALL_DATA_LEAGUES="E0",
        VALIDATION_MATCHES=200,
        HISTORY_YEARS=3,
    )
    r = run("weekly_training", env, "--now", TRAINED, "--force-deploy")  # the gate is not what this is about
    assert r.returncode == 0, r.stderr
    return tmp, data, env


def test_a_missing_or_misspelt_data_directory_exits_69_naming_it(world):
    tmp, data, env = world
    bad = {**env, "FOOTBALL_DATA_DIR": str(data) + "-misspelt"}
    deploys = actions(env)
    for script, args in (
        ("weekly_training", ("--now", "2024-05-27T12:00")),
        ("hourly_predictions", ("--now", TRAINED)),
        ("results_settlement", ("--now", TRAINED)),
    ):
        r = run(script, bad, *args)
        assert r.returncode == 69, (script, r.stderr)
        assert len(lines(r.stderr)) == 1 and "FOOTBALL_DATA_DIR" in r.stderr and "misspelt" in r.stderr, r.stderr
    assert actions(env) == deploys  # nothing trained on the stale store, nothing deployed


def test_a_data_directory_without_fixtures_stops_the_hourly_job_and_fails_the_health_check(world):
    tmp, data, env = world
    assert not (data / "fixtures.csv").exists()
    r = run("hourly_predictions", env, "--now", TRAINED)
    assert r.returncode == 69 and "fixtures.csv is missing" in r.stderr and len(lines(r.stderr)) == 1
    r = run("health_check", env, "--now", TRAINED)
    assert r.returncode == 1 and any(ln.startswith("❌ api:") and "fixtures.csv" in ln for ln in lines(r.stdout))


def test_training_on_stale_data_deploys_nothing_and_says_why(world):
    tmp, data, env = world
    before = actions(env)
    r = run("weekly_training", env, "--now", "2026-11-15T02:00")  # two and a half years later
    assert r.returncode == 70 and "days old" in r.stderr and "MAX_DATA_AGE_DAYS" in r.stderr, r.stderr
    assert actions(env)[:-1] == before and actions(env)[-1][0] == "rejected" and "days old" in actions(env)[-1][1]
    r = run("health_check", env, "--now", "2026-11-15T02:00")
    failed = [ln.split(":")[0] for ln in lines(r.stdout) if ln.startswith("❌")]
    assert r.returncode == 1 and "❌ data" in failed and "❌ model age" in failed, r.stdout


def test_training_that_finds_nothing_new_deploys_nothing_and_says_why(world):
    tmp, data, env = world
    before = actions(env)
    r = run("weekly_training", env, "--now", "2024-05-27T02:00")  # a week on: the season is over
    assert r.returncode == 0 and "no result newer than the deployed set" in r.stderr, r.stderr
    assert actions(env)[:-1] == before and actions(env)[-1][0] == "skipped"
    assert "deployed=0" in (Path(env["LOG_DIR"]) / "weekly_training.log").read_text().splitlines()[-1]
