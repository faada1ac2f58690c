"""The run history (`job_runs`): one row per run, `running` -> success/failed/skipped (killed or abandoned when a
later run finds it left `running`), with its counts and its one-line error.

The runner writes it (start, end, stale rows closed); the health check reads it (last success per job, runs left
running, jobs whose latest run died); a backup closes its own row in the copy, a restore rewrites the history of
the restored store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.pool import NullPool

from pipeline.store import schema

jr = schema.job_runs
ENDED = ("success", "failed", "killed", "abandoned")  # a run that ran (a skipped one did not)


def _counts(counts: dict) -> str:
    return json.dumps(counts, sort_keys=True, default=str)


def record_start(
    conn: Connection, job: str, started: datetime, run_for: datetime | None, status: str, *, pid: int, host: str
) -> int:
    """A new run row; returns its id."""
    res = conn.execute(
        jr.insert().values(job=job, started_at=started, run_for=run_for, status=status, pid=pid, host=host)
    )
    key = res.inserted_primary_key
    assert key is not None
    return key[0]


def start_run(
    engine: Engine, job: str, started: datetime, run_for: datetime | None, status: str, *, pid: int, host: str
) -> int:
    """`record_start` in a transaction of its own (committed before the job's work begins)."""
    with engine.begin() as conn:
        return record_start(conn, job, started, run_for, status, pid=pid, host=host)


def finish_run(
    engine: Engine, run_id: int, status: str, counts: dict, error: str | None, redact: Callable[[str], str] = str
) -> None:
    """Close this run's row; its error line passes through `redact` (pipeline.redact) on the way in."""
    error = redact(error) if error else error
    with engine.begin() as conn:
        conn.execute(
            update(jr)
            .where(jr.c.id == run_id)
            .values(finished_at=datetime.now(UTC), status=status, counts=_counts(counts), error=error)
        )


def running_runs(conn: Connection, exclude: int | None = None) -> Sequence[Row]:
    """Rows still marked `running` (id, job, started_at, pid, host), oldest first."""
    return conn.execute(
        select(jr.c.id, jr.c.job, jr.c.started_at, jr.c.pid, jr.c.host)
        .where(jr.c.status == "running", jr.c.id != (exclude or -1))
        .order_by(jr.c.id)
    ).all()


def still_running(conn: Connection, run_id: int) -> bool:
    return conn.execute(select(jr.c.status).where(jr.c.id == run_id)).scalar() == "running"


def close_run(conn: Connection, run_id: int, status: str, error: str, at: datetime) -> int:
    """Close a row left `running` (1), or nothing when its run closed it meanwhile (0)."""
    res = conn.execute(
        update(jr).where(jr.c.id == run_id, jr.c.status == "running").values(status=status, finished_at=at, error=error)
    )
    return res.rowcount


def close_stale_runs(
    engine: Engine, verdict: Callable[[Row, datetime], tuple[str, str] | None], exclude: int | None = None
) -> int:
    """Close each `running` row (but `exclude`) for which `verdict(row, now)` gives (status, reason), in one
    transaction. Returns how many were closed."""
    now = datetime.now(UTC)
    marked = 0
    with engine.begin() as conn:
        for row in running_runs(conn, exclude):
            found = verdict(row, now)
            if found:
                marked += close_run(conn, row.id, found[0], found[1], now)
    return marked


def last_success(conn: Connection, job: str, not_after: datetime | None = None) -> datetime | None:
    """The job's clock at its latest successful run: `run_for` (its --now) when simulated, else its start; runs
    dated after `not_after` are left out (a --now in the future must not pass for a fresh run)."""
    when = func.coalesce(jr.c.run_for, jr.c.started_at)
    q = select(func.max(when)).where(jr.c.job == job, jr.c.status == "success")
    if not_after is not None:
        q = q.where(when <= not_after)
    return conn.execute(q).scalar()


def runs_dated_after(conn: Connection, when: datetime) -> Sequence[Row]:
    """Per job, its runs whose clock (`run_for`, else the start) is later than `when`: job, n, latest."""
    clock = func.coalesce(jr.c.run_for, jr.c.started_at)
    return conn.execute(
        select(jr.c.job, func.count().label("n"), func.max(clock).label("latest"))
        .where(clock > when)
        .group_by(jr.c.job)
        .order_by(jr.c.job)
    ).all()


def latest_runs_that_died(conn: Connection) -> Sequence[Row]:
    """Per job, its latest run that ran, when that one was killed or abandoned (id, job, status, started_at)."""
    latest = select(jr.c.job, func.max(jr.c.id).label("id")).where(jr.c.status.in_(ENDED)).group_by(jr.c.job).subquery()
    return conn.execute(
        select(jr.c.id, jr.c.job, jr.c.status, jr.c.started_at)
        .join(latest, latest.c.id == jr.c.id)
        .where(jr.c.status.in_(("killed", "abandoned")))
    ).all()


def count_runs(conn: Connection) -> int:
    """How many runs are recorded (reads the table: a probe that the store answers)."""
    return conn.execute(text("SELECT COUNT(*) FROM job_runs")).scalar_one()


def close_run_in_copy(copy: Path, run_id: int, counts: dict[str, Any]) -> None:
    """In a SQLite copy of the store (a backup), this run's row as `success`: after a restore from the copy
    nothing would ever close it."""
    engine = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(jr)
                .where(jr.c.id == run_id, jr.c.status == "running")
                .values(status="success", finished_at=datetime.now(UTC), error=None, counts=json.dumps(counts))
            )
    finally:
        engine.dispose()


def rewrite_after_restore(
    engine: Engine,
    backup_name: str,
    job: str,
    run_for: datetime | None,
    *,
    counts: dict | None = None,
    pid: int | None = None,
    host: str | None = None,
) -> int | None:
    """In a restored store, in one transaction: close the runs the backup caught mid-way (`abandoned`), then
    record the restore itself, whole (`success` with `counts`, no process) when `counts` is given, else as a
    `running` row of this process whose end the runner records (its id returned)."""
    with engine.begin() as conn:
        conn.execute(
            update(jr)
            .where(jr.c.status == "running")
            .values(
                status="abandoned",
                finished_at=datetime.now(UTC),
                error=f"running when the backup was taken; closed by the restore from {backup_name}",
            )
        )
        started = datetime.now(UTC)
        if counts is not None:
            conn.execute(
                jr.insert().values(
                    job=job,
                    started_at=started,
                    finished_at=started,
                    run_for=run_for,
                    status="success",
                    counts=json.dumps(counts, sort_keys=True),
                )
            )
            return None
        return record_start(conn, job, started, run_for, "running", pid=pid or 0, host=host or "")


__all__ = [
    "record_start",
    "start_run",
    "finish_run",
    "running_runs",
    "still_running",
    "close_run",
    "close_stale_runs",
    "last_success",
    "runs_dated_after",
    "latest_runs_that_died",
    "count_runs",
    "close_run_in_copy",
    "rewrite_after_restore",
]
