"""The production scripts as cron runs them: from the root or from production/, bad options, bad configuration."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT, make_env

SCRIPTS = sorted(p.name for p in (ROOT / "production").glob("*.py"))
JOB_SCRIPTS = ["weekly_training.py", "hourly_predictions.py", "lineup_updates.py", "results_settlement.py"]


def _run(args, cwd, env):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_from_root_and_from_production(script, tmp_path):
    env = {**os.environ, **make_env(tmp_path)}
    for cwd, path in ((ROOT, f"production/{script}"), (ROOT / "production", script)):
        r = _run([path, "--help"], cwd, env)
        assert r.returncode == 0, r.stderr
        assert "Usage:" in r.stdout


@pytest.mark.parametrize("script", JOB_SCRIPTS)
def test_unknown_option_is_a_usage_error(script, tmp_path):
    r = _run([f"production/{script}", "--bogus"], ROOT, {**os.environ, **make_env(tmp_path)})
    assert r.returncode == 2 and "No such option" in r.stderr


@pytest.mark.parametrize("script", JOB_SCRIPTS)
@pytest.mark.parametrize("bad,name", [({"DATA_SOURCE": "nope"}, "DATA_SOURCE"),
                                      ({"MAX_BRIER": "-3"}, "MAX_BRIER"),
                                      ({"DATA_SOURCE": "sportmonks", "SPORTMONKS_API_KEY": ""}, "SPORTMONKS_API_KEY")])
def test_bad_configuration_is_one_line_and_exit_78(script, bad, name, tmp_path):
    r = _run([f"production/{script}"], ROOT, {**os.environ, **make_env(tmp_path, **bad)})
    assert r.returncode == 78
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in r.stderr


def test_bad_now_is_exit_78(tmp_path):
    r = _run(["production/results_settlement.py", "--now", "tomorrow-ish"], ROOT,
             {**os.environ, **make_env(tmp_path)})
    assert r.returncode == 78 and "--now" in r.stderr


def test_unreachable_database_is_one_line_and_exit_69(tmp_path):
    env = {**os.environ, **make_env(tmp_path, DATABASE_URL="postgresql://u:pw12345@127.0.0.1:1/x")}
    r = _run(["production/results_settlement.py", "--quiet"], ROOT, env)
    assert r.returncode == 69
    assert "pw12345" not in r.stderr and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1


def test_unwritable_model_dir_fails_cleanly(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    env = {**os.environ, **make_env(tmp_path, MODEL_DIR=str(blocker / "models"))}
    r = _run(["production/hourly_predictions.py", "--quiet"], ROOT, env)
    assert r.returncode == 70 and "Traceback" not in r.stderr and "models" in r.stderr
