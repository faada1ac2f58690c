"""crontab.example, read as cron reads it: schedules, and every command exists and answers --help."""

from __future__ import annotations

import os
import runpy
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT, make_env

from pipeline.jobs.container import read_crontab
from pipeline.jobs.table import JOBS, SCHEDULED, longest_gap, parse_schedule


def entries():
    """crontab.example as the scheduler image reads it (pipeline.jobs.container.read_crontab)."""
    env, lines = read_crontab((ROOT / "crontab.example").read_text())
    return env, [(parse_schedule(e.schedule), e.line.split(None, 5)[5]) for e in lines]


def script_of(command: str) -> str:
    return next(w for w in shlex.split(command) if w.startswith("production/"))


EXPECTED = {
    "production/weekly_training.py": ({0}, {2}, set(range(1, 32)), set(range(1, 13)), {0}),
    "production/hourly_predictions.py": ({0}, set(range(24)), set(range(1, 32)), set(range(1, 13)), set(range(8))),
    "production/lineup_updates.py": (
        {0, 15, 30, 45},
        set(range(24)),
        set(range(1, 32)),
        set(range(1, 13)),
        set(range(8)),
    ),
    "production/results_settlement.py": ({0, 30}, set(range(24)), set(range(1, 32)), set(range(1, 13)), set(range(8))),
    "production/backup.py": ({0}, {4}, set(range(1, 32)), set(range(1, 13)), set(range(8))),
    "production/health_check.py": (
        set(range(0, 60, 10)),
        set(range(24)),
        set(range(1, 32)),
        set(range(1, 13)),
        set(range(8)),
    ),
}


def test_the_job_table_holds_the_documented_schedules():
    table = {job.script: parse_schedule(job.schedule) for job in SCHEDULED}
    # cron's day-of-week 7 is Sunday too: parse_schedule folds it to 0
    assert table == {k: v[:4] + ({d % 7 for d in v[4]},) for k, v in EXPECTED.items()}


def test_crontab_equals_the_job_table():
    env, jobs = entries()
    assert env.get("CRON_TZ") == "UTC"
    found = {script_of(cmd): tuple(sched) for sched, cmd in jobs}
    assert found == {job.script: parse_schedule(job.schedule) for job in SCHEDULED}
    for sched, cmd in jobs:  # and each line passes the table's own arguments
        job = JOBS[script_of(cmd).removeprefix("production/").removesuffix(".py")]
        words = shlex.split(cmd.split(">>")[0])
        assert words[words.index(job.script) + 1 :] == list(job.cron_args)


def test_lateness_is_measured_against_the_longest_gap():
    assert longest_gap("0 2 * * 0").days == 7
    assert longest_gap("0 * * * *").total_seconds() == 3600
    assert longest_gap("*/15 * * * *").total_seconds() == 900
    assert longest_gap("0 9,17 * * 1-5").total_seconds() == (2 * 24 + 16) * 3600  # Friday 17:00 -> Monday 09:00
    with pytest.raises(ValueError):
        parse_schedule("61 * * * *")


def test_commands_use_the_venv_interpreter_and_append_to_logs():
    env, jobs = entries()
    # `python` is the venv's too, for the production guide's spelling (cd .../production && python x.py)
    assert env["PATH"].split(":")[0] == "/opt/football/.venv/bin"
    for _, cmd in jobs:
        words = shlex.split(cmd)
        python = next(w for w in words if w.endswith("/python"))
        assert python.startswith("/") and "/.venv/bin/python" in python
        assert cmd.strip().startswith("cd /") and "&& mkdir -p logs &&" in cmd  # cron never finds logs/ missing
        name = script_of(cmd).removeprefix("production/").removesuffix(".py")
        if name == "health_check":
            assert ">" not in cmd  # its failures reach cron's mail (it prints nothing while healthy)
        else:
            assert cmd.endswith(f">> logs/{name}.cron.log 2>&1")


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_script_exists_and_answers_help(name, capsys, monkeypatch):
    """Each production script, run as a script in this process (runpy), prints its usage and exits 0."""
    path = ROOT / JOBS[name].script
    assert path.is_file()
    monkeypatch.setattr(sys, "argv", [str(path), "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(path), run_name="__main__")
    assert exit_.value.code == 0 and "Usage:" in capsys.readouterr().out


def test_a_script_runs_as_cron_runs_it(tmp_path):
    """One real process, as cron starts it: the installed package, no path tricks."""
    r = subprocess.run(
        [sys.executable, str(ROOT / "production" / "health_check.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **make_env(tmp_path)},
        timeout=120,
    )
    assert r.returncode == 0 and "Usage:" in r.stdout
