"""FAIR_LINE=close_model in production, on the sandbox: weekly training trains the close model, checks it on the
validation matches' fair close and records the verdict; the hourly job bets against its forecast (fair_source
'close_model') when it is deployed, against the sharp line when the gate refused it (saying so in the log)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_env

from pipeline.config import load_settings
from pipeline.forecast import registry
from pipeline.forecast.modelset import ModelSet
from pipeline.jobs import hourly_predictions, lineup_updates, weekly_training
from pipeline.jobs.runner import run_job
from pipeline.jobs.table import JOBS

pytestmark = pytest.mark.slow  # trains on three simulated seasons

TRAIN_AT = "2024-04-07T02:00"


def _settings(env: dict):
    return load_settings(env, dotenv=Path("/nonexistent"))


def query(env: dict, sql: str) -> list[tuple]:
    con = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    env = make_env(
        tmp_path_factory.mktemp("fairline"), VALIDATION_MATCHES=200, HISTORY_YEARS=3, FAIR_LINE="close_model"
    )
    code = run_job(
        "weekly_training",
        lambda ctx: weekly_training.run(ctx, force_deploy=True),
        settings=_settings(env),
        now=TRAIN_AT,
        create_store=JOBS["weekly_training"].creates_store,  # as its command line does
    )
    assert code == 0
    return env


def _hourly(env: dict, now: datetime) -> int:
    return run_job("hourly_predictions", hourly_predictions.run, settings=_settings(env), now=now)


def test_training_checks_the_close_model_and_records_the_verdict(trained):
    deployed = registry.load_deployed(Path(trained["MODEL_DIR"]))
    verdict = deployed.metadata["close_model"]
    ce = verdict["ce_vs_fair_close"]
    assert verdict["n"] >= 100 and 0.5 < ce["sharp_prematch"] < 1.2 and 0.5 < ce["close_model"] < 1.2
    # the gate's rule: used exactly when it beats the sharp pre-match price on the validation matches
    assert verdict["used"] == (ce["close_model"] < ce["sharp_prematch"])
    model = ModelSet.from_objects(deployed.objects).close_model
    assert (model is not None) == verdict["used"]
    (metrics,) = query(trained, "SELECT metrics FROM model_versions WHERE action = 'deploy'")[0]
    assert json.loads(metrics)["close_model"] == verdict


def test_the_hourly_job_bets_against_the_close_model_when_it_is_deployed(trained):
    deployed = registry.load_deployed(Path(trained["MODEL_DIR"]))
    used = deployed.metadata["close_model"]["used"]
    start = datetime.fromisoformat(TRAIN_AT + ":00+00:00")
    for hours in range(6, 6 + 24 * 6, 24):
        assert _hourly(trained, start + timedelta(hours=hours)) == 0
    for hours in range(8, 8 + 24 * 2):  # the lineup step re-predicts once the starting lineups are out
        now = start + timedelta(hours=hours)
        assert run_job("lineup_updates", lineup_updates.run, settings=_settings(trained), now=now) == 0
    # the close model forecasts the 1X2 close: over/under and handicap bets keep the sharp line of their own market
    sources = dict(query(trained, "SELECT fair_source, COUNT(*) FROM bets WHERE market = '1X2' GROUP BY fair_source"))
    two_way = {s for (s,) in query(trained, "SELECT DISTINCT fair_source FROM bets WHERE market <> '1X2'")}
    assert "close_model" not in two_way
    # the lineup step ran its placement with the close model's line (its bets, if any, are among `sources`)
    assert query(trained, "SELECT COUNT(*) FROM predictions WHERE uses_lineups = 1")[0][0] > 0
    assert sum(sources.values()) > 0, "no bet: the test would prove nothing"
    if used:
        assert set(sources) == {"close_model"}, sources
        # each bet's fair probability is the close model's: EV = fair_prob x odds - 1 as stored
        for fair, odds, edge in query(trained, "SELECT fair_prob, odds, edge FROM bets WHERE market = '1X2'"):
            assert edge == pytest.approx(fair * odds - 1, abs=1e-9)
    else:
        assert "close_model" not in sources
        log = (Path(trained["LOG_DIR"]) / "hourly_predictions.log").read_text()
        assert "the deployed set has no close model" in log
