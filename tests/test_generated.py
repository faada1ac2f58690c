"""The files generated from the job table are the committed ones, and `python -m pipeline.jobs.table --check`
names the ones that are not (a real process, on a copy of the checkout's generated files and their inputs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline.jobs import generated
from pipeline.jobs.table import JOBS

INPUTS = (generated.POD_PATCH, generated.SETTINGS_ENV, Path("pyproject.toml"), generated.README)


def table_command(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.jobs.table", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def checkout(tmp_path) -> Path:
    for rel in (*generated.files(ROOT), *INPUTS):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tmp_path / rel)
    return tmp_path


def test_every_generated_file_is_the_committed_one():
    assert generated.stale(ROOT) == [], "run: python -m pipeline.jobs.table --write"
    assert {str(p) for p in generated.files()} == {
        "crontab.example",
        "deploy/container.crontab",
        "deploy/kubernetes/base/cronjobs.yaml",
        "deploy/kubernetes/base/migrate-job.yaml",
    }


def test_check_names_a_stale_file_and_write_mends_it(checkout):
    assert table_command(checkout, "--check").returncode == 0
    cronjobs = checkout / generated.CRONJOBS
    cronjobs.write_text(cronjobs.read_text().replace("activeDeadlineSeconds: 3060", "activeDeadlineSeconds: 1800"))
    (checkout / generated.CONTAINER_CRONTAB).unlink()
    r = table_command(checkout, "--check")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "stale: deploy/container.crontab (run: python -m pipeline.jobs.table --write)",
        "stale: deploy/kubernetes/base/cronjobs.yaml (run: python -m pipeline.jobs.table --write)",
    ]
    r = table_command(checkout, "--write")
    assert r.returncode == 0 and r.stdout.split() == [
        "wrote",
        "deploy/container.crontab",
        "wrote",
        "deploy/kubernetes/base/cronjobs.yaml",
    ]
    assert table_command(checkout, "--check").returncode == 0
    assert cronjobs.read_text() == (ROOT / generated.CRONJOBS).read_text()


def test_a_deadline_set_for_the_cluster_reaches_the_pods(checkout):
    """JOB_DEADLINES in settings.env (every pod's settings) makes the pod's deadline follow the job's."""
    env = checkout / generated.SETTINGS_ENV
    env.write_text(env.read_text() + "JOB_DEADLINES=hourly_predictions=3300,migrate=7200\n")
    assert generated.stale(checkout) == [generated.CRONJOBS, generated.MIGRATE_JOB]
    generated.write(checkout)
    cronjobs = (checkout / generated.CRONJOBS).read_text()
    assert "activeDeadlineSeconds: 3360" in cronjobs and "own 3300 s (JOB_DEADLINES in settings.env)" in cronjobs
    assert "activeDeadlineSeconds: 7260" in (checkout / generated.MIGRATE_JOB).read_text()


def test_neither_option_is_a_usage_error(checkout):
    r = table_command(checkout)
    assert r.returncode == 2 and "--write" in r.stderr


def test_the_readmes_job_table_is_generated_between_its_markers_and_the_rest_is_left_alone(checkout):
    readme = checkout / generated.README
    committed = readme.read_text()
    assert generated.sections(ROOT) == {generated.README: committed}
    rows = committed.split(generated.README_BEGIN + "\n")[1].split(generated.README_END)[0]
    assert rows == generated.readme_job_table() and rows.count("\n| `") == len(JOBS)
    # a row edited by hand and a line of prose changed outside the markers: the row is stale, the prose is kept
    edited = committed.replace("| `backup.py` | daily 04:00 |", "| `backup.py` | daily 03:00 |")
    edited = edited.replace("## How the code is laid out", "## How the code is laid out (edited)")
    readme.write_text(edited)
    r = table_command(checkout, "--check")
    assert r.returncode == 1 and r.stderr.splitlines() == [
        "stale: README.md (run: python -m pipeline.jobs.table --write)"
    ]
    assert table_command(checkout, "--write").returncode == 0
    assert readme.read_text() == committed.replace(
        "## How the code is laid out", "## How the code is laid out (edited)"
    )
    readme.write_text(committed.replace(generated.README_END, ""))
    r = table_command(checkout, "--check")
    assert r.returncode == 1 and "lacks the job table's markers" in r.stderr
