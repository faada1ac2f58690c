"""The production scripts as cron runs them: from the root or from production/, bad options, bad configuration.

The commands run in this process (click's CliRunner, or the script file itself through runpy): the scripts are
one import and one call, so a subprocess would only add start-up time. tests/test_crontab.py starts one for real.
"""

from __future__ import annotations

import runpy
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT, create_store, make_env

from pipeline.jobs.cli import COMMANDS

SCRIPTS = sorted(p.name for p in (ROOT / "production").glob("*.py") if not p.name.startswith("_"))
JOB_SCRIPTS = ["weekly_training.py", "hourly_predictions.py", "lineup_updates.py", "results_settlement.py"]


def invoke(script: str, args: list[str], env: dict):
    """Run production/<script>'s command with `env` over the environment; the result has exit_code, stdout,
    stderr."""
    return CliRunner().invoke(COMMANDS[script.removesuffix(".py")], args, env=env)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_from_root_and_from_production(script, tmp_path, monkeypatch, capsys):
    for k, v in make_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    for cwd, path in ((ROOT, f"production/{script}"), (ROOT / "production", script)):
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", [path, "--help"])
        with pytest.raises(SystemExit) as exit_:
            runpy.run_path(path, run_name="__main__")
        assert exit_.value.code == 0
        assert "Usage:" in capsys.readouterr().out


@pytest.mark.parametrize("script", JOB_SCRIPTS)
def test_unknown_option_is_a_usage_error(script, tmp_path):
    r = invoke(script, ["--bogus"], make_env(tmp_path))
    assert r.exit_code == 2 and "No such option" in r.stderr


@pytest.mark.parametrize("script", JOB_SCRIPTS)
@pytest.mark.parametrize(
    "bad,name",
    [
        ({"DATA_SOURCE": "nope"}, "DATA_SOURCE"),
        ({"MAX_BRIER": "-3"}, "MAX_BRIER"),
        ({"DATA_SOURCE": "sportmonks", "SPORTMONKS_API_KEY": ""}, "SPORTMONKS_API_KEY"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_78(script, bad, name, tmp_path):
    r = invoke(script, [], make_env(tmp_path, **bad))
    assert r.exit_code == 78
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in r.stderr


@pytest.mark.parametrize("script", JOB_SCRIPTS + ["backup.py", "health_check.py"])
def test_bad_now_is_a_bad_command_line_exit_2(script, tmp_path):
    # the README's exit codes: 2 for a bad option value (it was 78, a configuration error)
    r = invoke(script, ["--now", "yesterday"], make_env(tmp_path))
    assert r.exit_code == 2 and "--now" in r.stderr and "Traceback" not in r.stderr


def test_unreachable_database_is_one_line_and_exit_69(tmp_path):
    r = invoke(
        "results_settlement.py", ["--quiet"], make_env(tmp_path, DATABASE_URL="postgresql://u:pw12345@127.0.0.1:1/x")
    )
    assert r.exit_code == 69
    assert "pw12345" not in r.stderr and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1


def test_unwritable_model_dir_fails_cleanly(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    env = make_env(tmp_path, MODEL_DIR=str(blocker / "models"))
    create_store(env)
    r = invoke("hourly_predictions.py", ["--quiet"], env)
    assert r.exit_code == 70 and "Traceback" not in r.stderr and "models" in r.stderr


def test_unwritable_model_dir_is_found_before_training(tmp_path):
    # it was found only after training (exit 70 after the whole run); the README says 78, naming the setting
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    r = invoke(
        "weekly_training.py",
        ["--now", "2026-01-10T00:00", "--quiet"],
        make_env(tmp_path, MODEL_DIR=str(blocker / "models")),
    )
    assert r.exit_code == 78 and "MODEL_DIR" in r.stderr and "Traceback" not in r.stderr
    assert "fetching results" not in (tmp_path / "logs" / "weekly_training.log").read_text()


def test_unwritable_backup_dir_is_a_configuration_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    env = make_env(tmp_path, BACKUP_DIR=str(blocker / "backups"))
    create_store(env)
    r = invoke("backup.py", ["--quiet"], env)
    assert r.exit_code == 78 and "BACKUP_DIR" in r.stderr and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1


@pytest.mark.parametrize("job", ["hourly_predictions", "lineup_updates", "results_settlement", "backup", "report"])
def test_a_job_that_may_not_create_the_store_refuses_a_missing_file(job, tmp_path):
    """The job table's `creates_store` is what the runner gets: a missing SQLite file is a misspelt DATABASE_URL
    (exit 69, no empty store made), except for the set-up jobs."""
    r = invoke(f"{job}.py", [], make_env(tmp_path))
    assert r.exit_code == 69 and "Traceback" not in r.stderr, r.output
    assert not (tmp_path / "predictions.db").exists()


def test_the_set_up_step_creates_the_store_and_the_health_check_answers_without_one(tmp_path):
    env = make_env(tmp_path)
    r = invoke("health_check.py", ["--quiet"], env)  # needs_store False: a missing store is one failed check
    assert r.exit_code == 1 and "❌" in r.stdout and not (tmp_path / "predictions.db").exists()
    assert invoke("migrate.py", ["--quiet"], env).exit_code == 0
    assert (tmp_path / "predictions.db").is_file()
