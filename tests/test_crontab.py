"""The job table and the crontabs generated from it: the documented schedules, what each property means, and
crontab.example read as cron runs it (its variables, then one line per job: five schedule fields and a shell
command, whose words shlex gives as /bin/sh would)."""

from __future__ import annotations

import os
import runpy
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT, make_env

from pipeline.jobs import generated
from pipeline.jobs.table import JOBS, POD_MARGIN, SCHEDULED, Job, describe, longest_gap, parse_schedule


def read_crontab(text: str) -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """Variables (NAME=value lines) and jobs (schedule, the command's words) of a crontab, in file order."""
    env, jobs = {}, []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        if eq and name.isidentifier():
            env[name] = value.strip('"')
            continue
        fields = line.split(None, 5)
        jobs.append((" ".join(fields[:5]), shlex.split(fields[5])))
    return env, jobs


CRONTAB = read_crontab((ROOT / "crontab.example").read_text())
CONTAINER = read_crontab((ROOT / "deploy" / "container.crontab").read_text())
ALL_DAYS = (set(range(1, 32)), set(range(1, 13)))
EXPECTED = {
    "weekly_training": ({0}, {2}, *ALL_DAYS, {0}),
    "hourly_predictions": ({0}, set(range(24)), *ALL_DAYS, set(range(7))),
    "lineup_updates": ({0, 15, 30, 45}, set(range(24)), *ALL_DAYS, set(range(7))),
    "results_settlement": ({0, 30}, set(range(24)), *ALL_DAYS, set(range(7))),
    "backup": ({0}, {4}, *ALL_DAYS, set(range(7))),
    "health_check": (set(range(0, 60, 10)), set(range(24)), *ALL_DAYS, set(range(7))),
}


def test_the_job_table_holds_the_documented_schedules():
    assert {job.name: parse_schedule(job.schedule) for job in SCHEDULED} == EXPECTED
    assert [j.name for j in JOBS.values() if j.kind == "manual"] == ["report", "backtest", "demo"]
    assert [j.name for j in JOBS.values() if j.kind == "deploy"] == ["migrate"]


def test_a_schedule_is_what_makes_a_job_scheduled():
    with pytest.raises(ValueError, match="schedule"):
        Job("x", "m:f", "d", kind="scheduled")
    with pytest.raises(ValueError, match="schedule"):
        Job("x", "m:f", "d", schedule="0 * * * *")
    with pytest.raises(ValueError, match="kind"):
        Job("x", "m:f", "d", kind="hourly")
    with pytest.raises(ValueError, match="cron"):
        Job("x", "m:f", "d", kind="scheduled", schedule="61 * * * *")


def test_a_hung_run_stops_before_the_next_is_due():
    """The job's deadline and its pod's (the deadline plus the margin) both end before the next run starts."""
    for job in SCHEDULED:
        assert job.deadline is not None and job.deadline + POD_MARGIN <= job.every.total_seconds(), job.name


def test_only_setup_jobs_create_the_store_and_only_the_health_check_runs_without_one():
    assert {j.name for j in JOBS.values() if j.creates_store} == {"weekly_training", "migrate"}
    assert {j.name for j in JOBS.values() if not j.needs_store} == {"health_check"}
    assert {j.name for j in JOBS.values() if not j.lock and j.deadline} == {"health_check", "report", "migrate"}
    # the health check judges the jobs that must keep running, not itself, nor the backup (judged by its files)
    assert {j.name for j in JOBS.values() if j.watched} == set(EXPECTED) - {"health_check", "backup"}


def test_lateness_is_measured_against_the_longest_gap():
    assert longest_gap("0 2 * * 0").days == 7
    assert longest_gap("0 * * * *").total_seconds() == 3600
    assert longest_gap("*/15 * * * *").total_seconds() == 900
    assert longest_gap("0 9,17 * * 1-5").total_seconds() == (2 * 24 + 16) * 3600  # Friday 17:00 -> Monday 09:00
    with pytest.raises(ValueError):
        parse_schedule("61 * * * *")


@pytest.mark.parametrize(
    "expr,words",
    [
        ("0 2 * * 0", "Sundays 02:00"),
        ("30 6 * * 7", "Sundays 06:30"),
        ("0 4 * * *", "daily 04:00"),
        ("0 * * * *", "minute 0"),
        ("*/15 * * * *", "every 15 min"),
        ("0 9,17 * * 1-5", "0 9,17 * * 1-5"),  # any other shape as written
        ("0 0 1 * *", "0 0 1 * *"),
    ],
)
def test_schedules_in_words(expr, words):
    assert describe(expr) == words


# ---- crontab.example: generated, and what its lines mean ---------------------------------------------------------


def test_crontab_example_is_the_tables():
    assert (ROOT / "crontab.example").read_text() == generated.crontab_example()


def test_crontab_runs_every_scheduled_job_on_its_schedule_in_utc():
    env, jobs = CRONTAB
    assert env["CRON_TZ"] == "UTC"
    assert [(schedule, words[words.index("&&", 3) + 2]) for schedule, words in jobs] == [
        (job.schedule, job.script) for job in SCHEDULED
    ]


@pytest.mark.parametrize("job", SCHEDULED, ids=lambda j: j.name)
def test_each_line_runs_the_venv_python_from_the_checkout_and_appends_to_its_log(job):
    env, jobs = CRONTAB
    # `python` is the venv's too, for the production guide's spelling (cd .../production && python x.py)
    assert env["PATH"].split(":")[0] == "/opt/football/.venv/bin"
    (words,) = [w for _, w in jobs if job.script in w]
    command = ["/opt/football/.venv/bin/python", job.script, *job.cron_args]
    start = ["cd", "/opt/football", "&&", "mkdir", "-p", "logs", "&&", *command]  # cron never finds logs/ missing
    if job.name == "health_check":
        assert words == start  # not redirected: its failures reach cron's mail (it prints nothing while healthy)
    else:
        assert words == [*start, ">>", f"logs/{job.name}.cron.log", "2>&1"]


def test_the_container_crontab_is_the_same_jobs_with_their_output_to_the_log():
    assert (ROOT / "deploy" / "container.crontab").read_text() == generated.container_crontab()
    env, jobs = CONTAINER
    assert env == CRONTAB[0]
    assert len(jobs) == len(CRONTAB[1])
    for (schedule, words), (host_schedule, host) in zip(jobs, CRONTAB[1]):
        end = host.index(">>") if ">>" in host else len(host)
        assert (schedule, words) == (host_schedule, host[:3] + host[7:end])  # cd WORKDIR && the job's command
    text = (ROOT / "deploy" / "container.crontab").read_text()
    assert ">" not in text and "cron.log" not in text, "a container's output is its log, not a file"
    # quoted: supercronic fails on an empty unquoted value such as `MAILTO=`
    assert all(ln.split("=", 1)[1].startswith('"') for ln in text.splitlines() if ln.startswith(("CRON_TZ", "PATH")))


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_script_exists_and_answers_help_with_its_cron_flags(name, capsys, monkeypatch):
    """Each production script, run as a script in this process (runpy), with the flags its cron line passes:
    usage, exit 0 (a flag it did not know would exit 2 before --help is looked at)."""
    path = ROOT / JOBS[name].script
    assert path.is_file()
    monkeypatch.setattr(sys, "argv", [str(path), *JOBS[name].cron_args, "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(path), run_name="__main__")
    assert exit_.value.code == 0 and "Usage:" in capsys.readouterr().out


def test_an_unknown_flag_would_be_caught(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["production/backup.py", "--quiet", "--bogus", "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(ROOT / "production" / "backup.py"), run_name="__main__")
    assert exit_.value.code == 2 and "No such option" in capsys.readouterr().err


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
