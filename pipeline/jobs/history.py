"""Run history policy: which `job_runs` rows left `running` belong to a process that cannot be running any more.

Runs left `running` by a process that died are marked `killed` (its pid gone, or its job's lock held by us) or
`abandoned` (past its job's deadline) by the next run; the health check reports them with the same verdict.
The rows themselves are read and written by pipeline.store.job_runs.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from pipeline.config import Settings
from pipeline.store import job_runs

HOST = socket.gethostname()[:255]


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return True  # unknown: assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, owned by someone else
        return True
    return True


def stale_reason(row, settings: Settings, now: datetime, holds_lock_of: str | None) -> tuple[str, str] | None:
    """(status, reason) for a `running` row whose process cannot be running any more, else None.

    killed: on this host and its pid is gone, or its job is the one whose lock we hold (the lock is held for a
    run's whole life, so a second live run of that job cannot exist). abandoned: older than its job's deadline
    (any host: a run past its deadline stops itself, so a `running` row that old was never closed).
    """
    if row.host == HOST and (row.job == holds_lock_of or not pid_alive(row.pid)):
        return "killed", f"process {row.pid} on {row.host} ended without recording the end of its run"
    age = (now - row.started_at).total_seconds()
    limit = settings.job_deadline(row.job)
    if age > limit + 60:
        return "abandoned", f"still marked running {age / 3600:.1f} h after it started, past its {limit:.0f} s deadline"
    return None


def start_run(engine, job: str, started: datetime, run_for: datetime | None, status: str) -> int:
    """This process's run row (its pid and host, so a later run can tell when it died)."""
    return job_runs.start_run(engine, job, started, run_for, status, pid=os.getpid(), host=HOST)


def mark_stale_runs(engine, settings: Settings, holds_lock_of: str | None, exclude: int | None = None) -> int:
    """Close `running` rows whose process is gone (see stale_reason). Returns how many were marked."""
    return job_runs.close_stale_runs(
        engine, lambda row, now: stale_reason(row, settings, now, holds_lock_of), exclude=exclude
    )


__all__ = ["HOST", "pid_alive", "stale_reason", "start_run", "mark_stale_runs"]
