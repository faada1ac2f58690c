"""The health check's alarm always sounds: whatever stops it (settings, an unreadable .env, an unwritable LOG_DIR,
an unreadable MODEL_DIR, a broken import), health_check.py prints its ❌ lines, ALERT_COMMAND receives them (from
the environment when .env cannot be read) and it exits 1. Real processes, as another user where a permission is
the fault; a broken module is a copy of the code with the fault written in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, create_store, invoke_command, make_env


def other_user() -> list[str]:
    """A prefix running as a user who may not read root's 0600/0700 files (as root: `nobody`, via setpriv)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def world():
    """A copy of the code in a directory another user may enter, with a store, logs and backups that user may write."""
    top = Path(tempfile.mkdtemp(prefix="football-health-"))
    try:
        top.chmod(0o755)
        for part in ("pipeline", "production"):
            shutil.copytree(ROOT / part, top / part, ignore=shutil.ignore_patterns("__pycache__"))
        state = top / "state"
        state.mkdir()
        env = make_env(state)
        create_store(env)
        for p in [state, *state.rglob("*")]:
            p.chmod(0o777 if p.is_dir() else 0o666)
        alert = state / "alert.txt"
        env.update(
            PYTHONPATH=str(top),
            HOME=str(state),
            MPLCONFIGDIR=str(state / "mpl"),
            ALERT_COMMAND=f"cat > {alert}",
        )
        yield top, env, alert
    finally:
        shutil.rmtree(top, ignore_errors=True)


def health(top: Path, env: dict, *prefix: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ALERT_COMMAND")}
    return subprocess.run(
        [*prefix, sys.executable, str(top / "production" / "health_check.py"), "--quiet"],
        cwd=env["HOME"],
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def alerted(alert: Path) -> list[str]:
    assert alert.exists(), "ALERT_COMMAND did not run"
    return alert.read_text().splitlines()


def test_an_unreadable_env_is_an_alarm_with_the_alert_command_from_the_environment(world):
    top, env, alert = world
    dotenv = top / ".env"
    dotenv.write_text("MIN_EDGE=0.03\n")
    dotenv.chmod(0o600 if os.geteuid() == 0 else 0o000)
    r = health(top, env, *other_user())
    assert r.returncode == 1, r.stderr
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"❌ settings: cannot read {dotenv}: Permission denied") and "owner" in line
    lines = alerted(alert)
    assert lines[0].startswith("football pipeline unhealthy at") and lines[1:] == [line]


def test_an_unreadable_model_dir_is_a_failed_check_and_an_alarm(world):
    top, env, alert = world
    models = Path(env["MODEL_DIR"])
    models.mkdir()
    models.chmod(0o700 if os.geteuid() == 0 else 0o000)  # root's: nobody may enter
    r = health(top, env, *other_user())
    assert r.returncode == 1, r.stderr
    failing = r.stdout.splitlines()
    assert any(ln.startswith("❌") and str(models) in ln and "Permission denied" in ln for ln in failing), failing
    assert [ln for ln in alerted(alert) if ln.startswith("❌")] == failing
    assert "Traceback" not in r.stderr


def test_an_unwritable_log_dir_is_an_alarm(world):
    top, env, alert = world
    logs = top / "logs-root-only"
    logs.mkdir()
    logs.chmod(0o755 if os.geteuid() == 0 else 0o555)
    env["LOG_DIR"] = str(logs)
    r = health(top, env, *other_user())
    assert r.returncode == 1, r.stderr
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"❌ log directory: LOG_DIR {logs} is not writable (Permission denied)")
    assert alerted(alert)[1:] == [line]


def test_a_broken_module_is_an_alarm(world):
    """A copy of the code whose runner does not import (the fault written in): still one ❌ line and the alert."""
    top, env, alert = world
    runner = top / "pipeline" / "jobs" / "runner.py"
    runner.write_text(
        runner.read_text() + "\nraise ImportError('cannot import name Engine (a half-upgraded install)')\n"
    )
    r = health(top, env)
    assert r.returncode == 1, r.stderr
    (line,) = r.stdout.splitlines()
    assert line.startswith("❌ import: the health check cannot start: ImportError: cannot import name Engine")
    assert alerted(alert)[1:] == [line]


@pytest.mark.parametrize(
    "bad,says",
    [({"MAX_BRIER": "-3"}, "MAX_BRIER"), ({"FOOTBALL_DATA_LEAGUES": "EO,D1"}, "'EO'")],
)
def test_a_bad_setting_is_an_alarm_not_exit_78(bad, says, tmp_path):
    alert = tmp_path / "alert.txt"
    env = make_env(tmp_path, ALERT_COMMAND=f"cat > {alert}", **bad)
    create_store(env)
    r = invoke_command("health_check", ["--quiet"], env)
    assert r.exit_code == 1, r.output
    (line,) = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert line.startswith("❌ settings:") and says in line
    assert alert.read_text().splitlines()[1:] == [line]


def test_a_log_dir_that_is_a_file_is_an_alarm_in_json_too(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    alert = tmp_path / "alert.txt"
    env = make_env(tmp_path, LOG_DIR=str(blocker / "logs"), ALERT_COMMAND=f"cat > {alert}")
    r = invoke_command("health_check", ["--json"], env)
    assert r.exit_code == 1
    import json

    (check,) = json.loads(r.stdout)
    assert check["check"] == "log directory" and not check["ok"] and str(blocker / "logs") in check["detail"]
    assert "❌ log directory" in alert.read_text()
