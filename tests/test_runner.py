"""The job runner: locking, run records, exit codes, logging."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import create_store
from sqlalchemy import select

from pipeline.config import ConfigError, load_settings
from pipeline.errors import ModelLoadError, PipelineError, SourceUnavailable, StoreUnavailable, ToolMissing
from pipeline.jobs.runner import (
    EXIT_CONFIG,
    EXIT_SOFTWARE,
    EXIT_TEMPFAIL,
    EXIT_UNAVAILABLE,
    JobFailed,
    job_is_running,
    run_job,
)
from pipeline.providers.base import ProviderAuthError, ProviderError
from pipeline.store import make_engine, schema

NO_DOTENV = Path("/nonexistent")


@pytest.fixture
def settings(env):
    """An installation whose store exists: only the jobs that set one up may create it (run_job's create_store)."""
    create_store(env)
    return load_settings(env, dotenv=NO_DOTENV)


def _runs(settings):
    eng = make_engine(settings.database_url)
    with eng.connect() as conn:
        rows = conn.execute(select(schema.job_runs).order_by(schema.job_runs.c.id)).mappings().all()
    eng.dispose()
    return rows


def test_success_records_run_and_counts(settings):
    def work(ctx):
        ctx.count("predictions", 3)

    assert run_job("demo_job", work, settings=settings, now="2026-01-20T13:00") == 0
    (row,) = _runs(settings)
    assert row["status"] == "success" and json.loads(row["counts"]) == {"predictions": 3}
    assert row["run_for"].isoformat() == "2026-01-20T13:00:00+00:00"
    assert row["finished_at"] >= row["started_at"]
    log = (settings.log_dir / "demo_job.log").read_text()
    assert "demo_job success" in log and "predictions=3" in log


@pytest.mark.parametrize(
    "exc,code",
    [
        (ConfigError("MIN_EDGE bad"), EXIT_CONFIG),
        (ProviderAuthError("HTTP 401"), EXIT_UNAVAILABLE),
        (ProviderError("HTTP 503"), EXIT_TEMPFAIL),
        (JobFailed("no deployed model", 70), 70),
        (SourceUnavailable("no directory /x/data"), EXIT_UNAVAILABLE),
        (ModelLoadError("no deployed models in /x/models"), EXIT_SOFTWARE),
        (ToolMissing("pg_dump is not installed"), EXIT_CONFIG),
        (StoreUnavailable("pg_dump failed: connection refused"), EXIT_UNAVAILABLE),
        (ZeroDivisionError("boom"), EXIT_SOFTWARE),
    ],
)
def test_failures_map_to_exit_codes_and_are_recorded(settings, exc, code, capsys):
    def work(ctx):
        raise exc

    assert run_job("failing", work, settings=settings) == code
    (row,) = _runs(settings)
    assert row["status"] == "failed" and str(exc) in row["error"]
    if isinstance(exc, PipelineError):  # the class's own words, then the message, as the one line
        assert row["error"] == exc.line() and row["error"].startswith(exc.prefix)
    err = capsys.readouterr().err
    assert "Traceback" not in err  # cron mails stderr: one line, the traceback is in the log file
    if isinstance(exc, ZeroDivisionError):
        assert "Traceback" in (settings.log_dir / "failing.log").read_text()


def test_a_missing_sqlite_store_is_created_only_when_the_caller_says_so(tmp_path, capsys):
    db = tmp_path / "store" / "p.db"
    st = load_settings(
        {"DATABASE_URL": f"sqlite:///{db}", "LOG_DIR": str(tmp_path / "logs"), "LOCK_DIR": str(tmp_path)},
        dotenv=NO_DOTENV,
    )
    ran = []
    assert run_job("x", ran.append, settings=st) == EXIT_UNAVAILABLE  # a misspelt DATABASE_URL, not a new store
    assert ran == [] and not db.exists()
    assert f"{db} does not exist" in capsys.readouterr().err
    assert run_job("x", ran.append, settings=st, create_store=True) == 0
    assert len(ran) == 1 and db.exists() and [r["status"] for r in _runs(st)] == ["success"]


def test_bad_now_is_a_configuration_error(settings, capsys):
    assert run_job("x", lambda ctx: None, settings=settings, now="yesterday") == EXIT_CONFIG
    assert "--now" in capsys.readouterr().err


def test_unreachable_database_exits_69(tmp_path, capsys):
    st = load_settings(
        {
            "DATABASE_URL": "postgresql://nobody:sekret99@127.0.0.1:1/none",
            "LOG_DIR": str(tmp_path),
            "LOCK_DIR": str(tmp_path),
        },
        dotenv=NO_DOTENV,
    )
    assert run_job("x", lambda ctx: None, settings=st) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "database unavailable" in err and "sekret99" not in err


def test_secrets_are_masked_in_logs_and_records(tmp_path):
    st = load_settings(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
            "LOG_DIR": str(tmp_path / "logs"),
            "LOCK_DIR": str(tmp_path),
            "SPORTMONKS_API_KEY": "TOPSECRETKEY",
        },
        dotenv=NO_DOTENV,
    )

    def work(ctx):
        ctx.log.info("calling with TOPSECRETKEY")
        raise ProviderError("url?api_token=TOPSECRETKEY failed")

    assert run_job("leaky", work, settings=st, create_store=True) == EXIT_TEMPFAIL
    assert "TOPSECRETKEY" not in (tmp_path / "logs" / "leaky.log").read_text()
    assert all("TOPSECRETKEY" not in (r["error"] or "") for r in _runs(st))


HOLDER = """
import sys, time
from pipeline.config import load_settings
from pipeline.jobs.runner import run_job
st = load_settings(dotenv=__import__('pathlib').Path('/nonexistent'))
def work(ctx):
    print('holding', flush=True)
    time.sleep(60)
sys.exit(run_job('slow_job', work, settings=st, create_store=True))
"""


def _start_holder(env):
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert p.stdout.readline().strip() == "holding"
    return p


def test_second_copy_is_skipped_and_killed_lock_does_not_block(env, settings):
    holder = _start_holder(env)
    try:
        assert job_is_running(settings, "slow_job")
        ran = []
        assert run_job("slow_job", lambda ctx: ran.append(1), settings=settings) == 0
        assert ran == []
        assert [r["status"] for r in _runs(settings)] == ["running", "skipped"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert not job_is_running(settings, "slow_job")
    assert run_job("slow_job", lambda ctx: ran.append(1), settings=settings) == 0
    assert ran == [1]
    assert _runs(settings)[-1]["status"] == "success"


def test_unwritable_log_dir_is_a_configuration_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    st = load_settings(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "LOG_DIR": str(blocker / "logs"), "LOCK_DIR": str(tmp_path)},
        dotenv=NO_DOTENV,
    )
    assert run_job("x", lambda ctx: None, settings=st) == EXIT_CONFIG
    assert "LOG_DIR" in capsys.readouterr().err
