"""Weekly training's promises about what it changes, on the sandbox (lineups, so a player database): the
deployed set uses MARGIN_METHOD, as the backtest does; a dry run or a candidate the gate rejects leaves the
deployed set's player ratings (the lineup job reads them beside that set) as they were, and only a deploy
rewrites them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import make_env

from pipeline.config import load_settings
from pipeline.forecast import registry
from pipeline.forecast.modelset import ModelSet
from pipeline.jobs import weekly_training
from pipeline.jobs.runner import run_job
from pipeline.jobs.table import JOBS

pytestmark = pytest.mark.slow  # trains four times on three simulated seasons
FIRST = "2024-04-07T02:00"  # Sundays in the season: each week brings new results and lineups
NEXT = "2024-04-14T02:00"


def train(env: dict, now: str, **options) -> int:
    settings = load_settings(env, dotenv=Path("/nonexistent"))
    job = JOBS["weekly_training"]
    return run_job(
        job.name,
        lambda ctx: weekly_training.run(ctx, **options),
        settings=settings,
        now=now,
        create_store=job.creates_store,  # as its command line does: the job that sets an installation up
    )


def query(env: dict, sql: str) -> list[tuple]:
    con = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def ratings(env: dict) -> list[tuple]:
    return query(env, "SELECT source, provider_id, rating, appearances, rating_updated_at FROM players ORDER BY 1, 2")


def last_action(env: dict) -> str:
    return query(env, "SELECT action FROM model_versions ORDER BY id DESC LIMIT 1")[0][0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("weekly")
    env = make_env(tmp, VALIDATION_MATCHES=200, HISTORY_YEARS=3, MARGIN_METHOD="shin")
    assert train(env, FIRST, force_deploy=True) == 0
    return env


def test_the_deployed_set_removes_the_margin_with_margin_method(world):
    deployed = registry.load_deployed(Path(world["MODEL_DIR"]))
    assert ModelSet.from_objects(deployed.objects).margin_method == "shin"


def test_a_dry_run_or_a_rejected_candidate_leaves_the_player_ratings_alone(world):
    before = ratings(world)
    assert len(before) > 500 and all(r[2] is not None for r in before)

    assert train(world, NEXT, dry_run=True) == 0
    assert last_action(world) == "dry_run" and ratings(world) == before

    assert train({**world, "MAX_LOG_LOSS": "0.5"}, NEXT) == 70  # no set clears that
    assert last_action(world) == "rejected" and ratings(world) == before

    # a deploy the same week does rewrite them: the runs above had new ratings they did not write
    assert train(world, NEXT, force_deploy=True) == 0
    after = ratings(world)
    assert last_action(world) == "deploy" and after != before
    assert {r[4][:10] for r in after} == {NEXT[:10]}
