"""The job runner: what every production script shares, in order (each part is a module of its own).

- `now`: any job can run at a simulated time (`parse_now`); a time later than the machine clock only on a
  simulated store or with `allow_future` (`clock`: exit 64, nothing written);
- logging to LOG_DIR/<job>.log (rotated) and stderr, with secrets masked; one summary line per run (`logs`);
- a per-job lock: a second copy logs "skipped: already running", records a skipped run and exits 0 (`lock`);
- the store opened and migrated; without `create_store` a missing SQLite file is exit 69, never a new store;
- a `job_runs` row per run (running -> success/failed/skipped, counts, error text); runs left `running` by a
  process that died are closed as killed or abandoned (`history`, `pipeline.store.job_runs`);
- a wall-clock deadline per run (JOB_DEADLINES), exit 75 (`deadline`);
- exit codes (sysexits, README "Exit codes"): 0 done or nothing to do, 78 configuration, 69 unavailable, 75
  temporary failure, 70 failed. Every failure is one line naming what failed (`failures`: the pipeline's own
  errors carry their code, database and file-system errors are read); no traceback reaches cron's mail, it is
  in the log.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.config import Settings, load_settings
from pipeline.errors import (
    EXIT_CONFIG,
    EXIT_DATAERR,
    EXIT_FUTURE_NOW,
    EXIT_NOINPUT,
    EXIT_OK,
    EXIT_SOFTWARE,
    EXIT_TEMPFAIL,
    EXIT_UNAVAILABLE,
    ConfigError,
    JobDeadline,
    JobFailed,
    clean_line,
)
from pipeline.jobs.clock import future_now_refusal
from pipeline.jobs.deadline import Deadline
from pipeline.jobs.failures import DATABASE_ERRORS, database_failure, failure, file_failure
from pipeline.jobs.history import mark_stale_runs, start_run
from pipeline.jobs.lock import JobLock, job_is_running
from pipeline.jobs.logs import mask, rotate_cron_output, setup_logging, write_stdout
from pipeline.providers import get_provider
from pipeline.providers.base import Sanitized
from pipeline.redact import Redactor
from pipeline.store import job_runs, link_guide_path, migrate, missing_sqlite_file, shared_engine
from pipeline.store.fixtures import store_is_simulated
from pipeline.threads import limit_threads


@dataclass
class JobContext:
    job: str
    settings: Settings
    now: datetime
    log: logging.Logger
    engine: Any = None
    counts: dict = field(default_factory=dict)
    simulated_now: bool = False
    run_id: int | None = None  # this run's job_runs row (a restore re-creates it in the restored store)
    _provider: Any = None

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    @property
    def provider(self):
        if self._provider is None:
            self._provider = get_provider(self.settings)  # answers cleaned of control characters
        return self._provider


def parse_now(value: str | datetime | None) -> datetime | None:
    """`--now` values: ISO 8601; a time without an offset is taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"--now must be an ISO time such as 2026-01-20T13:00, got {value!r}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def _open_store(ctx: JobContext, deadline: Deadline, create_store: bool) -> tuple[Any, int | None]:
    """(engine, None) on the migrated store, or (None, exit code) with the one line logged."""
    settings, log = ctx.settings, ctx.log
    missing = None if create_store else missing_sqlite_file(settings.database_url)
    if missing is not None:
        log.error(
            "database unavailable: %s does not exist (a misspelt DATABASE_URL? weekly_training.py "
            "or PredictionDatabase() creates the store)",
            missing,
        )
        return None, EXIT_UNAVAILABLE
    try:
        engine = shared_engine(settings.database_url)  # disposed when the run ends
        migrate(engine, settings.lock_dir)
        link_guide_path(settings.database_url)
        return engine, None
    except JobDeadline:
        log.error(
            "stopped at its deadline (%g s, JOB_DEADLINES %s) while opening the database %s",
            deadline.seconds,
            ctx.job,
            mask(settings.safe_database_url, settings),
        )
        return None, EXIT_TEMPFAIL
    except DATABASE_ERRORS as exc:
        code, line = database_failure(exc, settings)
        log.error("%s", line)
        return None, EXIT_UNAVAILABLE if code == EXIT_SOFTWARE else code
    except OSError as exc:
        code, line = file_failure(exc, settings) or (
            EXIT_UNAVAILABLE,
            clean_line(f"database unavailable ({settings.safe_database_url}): {exc}"),
        )
        log.error("%s", mask(line, settings))
        return None, code


def _refuse_future(ctx: JobContext, when: datetime | None, started: datetime, allow_future: bool) -> str | None:
    """The one line refusing a --now later than the machine clock on a store that is not simulated, else None."""
    if when is None or allow_future or when <= started:
        return None
    simulated = None
    if ctx.engine is not None:
        with ctx.engine.connect() as conn:
            simulated = store_is_simulated(conn)
    return future_now_refusal(when, started, simulated, ctx.settings.data_source, allow_future)


def _record_skipped(ctx: JobContext, started: datetime, when: datetime | None) -> None:
    try:
        rid = start_run(ctx.engine, ctx.job, started, when, "skipped")
        job_runs.finish_run(ctx.engine, rid, "skipped", {}, "already running")
    except (*DATABASE_ERRORS, JobDeadline) as exc:
        why = "its deadline passed" if isinstance(exc, JobDeadline) else database_failure(exc, ctx.settings)[1]
        ctx.log.error("could not record the skipped run: %s", why)


def _work(ctx: JobContext, func: Callable[[JobContext], Any], started, when, deadline: Deadline, lock: bool):
    """Record the start, close stale rows, run `func`: (exit code, status, error line or None)."""
    try:
        try:
            if ctx.engine is not None:
                ctx.run_id = start_run(ctx.engine, ctx.job, started, when, "running")
                stale = mark_stale_runs(ctx.engine, ctx.settings, ctx.job if lock else None, exclude=ctx.run_id)
                if stale:
                    ctx.log.warning("%d earlier run(s) left marked running were closed as killed/abandoned", stale)
            ctx.log.info("%s started%s", ctx.job, f" (simulated now {ctx.now:%Y-%m-%d %H:%M}Z)" if when else "")
            func(ctx)
        finally:
            deadline.disarm()  # before recording the end: that must not be cut short
    except (Exception, JobDeadline) as exc:  # noqa: BLE001 - the runner is the last line of defence
        known = failure(exc, ctx.settings)
        if known is None:
            # The traceback goes to the log file only: cron mails stderr, which gets the one-line error.
            ctx.log.error("unexpected failure:\n%s", traceback.format_exc(), extra={"file_only": True})
            known = EXIT_SOFTWARE, f"unexpected {type(exc).__name__}: {exc}"
        return known[0], "failed", mask(clean_line(known[1]), ctx.settings)
    return EXIT_OK, "success", None


def run_job(
    job: str,
    func: Callable[[JobContext], Any],
    *,
    now: str | datetime | None = None,
    settings: Settings | None = None,
    quiet: bool = False,
    needs_store: bool = True,
    lock: bool = True,
    provider=None,
    create_store: bool = False,
    allow_future: bool = False,
) -> int:
    """Run `func(ctx)` as job `job`; returns the process exit code. Never raises.

    `provider` replaces the one DATA_SOURCE would build (tests use scripted providers). Without `create_store` a
    missing SQLite file is an error (exit 69) rather than a new empty store: a misspelt DATABASE_URL must not
    look like a fresh start. Only the jobs that set an installation up pass it (the job table says which).
    `allow_future` lets `now` be later than the machine clock on a store that is not simulated (pipeline.jobs.clock).
    """
    try:
        settings = settings or load_settings()
        when = parse_now(now)
    except ConfigError as exc:
        print(exc.line(), file=sys.stderr)
        return EXIT_CONFIG
    limit_threads(settings.cpu_threads)
    try:
        setup_logging(job, settings, quiet)
    except OSError as exc:
        print(f"configuration error: LOG_DIR {settings.log_dir} is not writable ({exc.strerror})", file=sys.stderr)
        return EXIT_CONFIG
    log = logging.getLogger(f"pipeline.jobs.{job}")
    rotate_cron_output()
    started = datetime.now(UTC)
    ctx = JobContext(
        job=job,
        settings=settings,
        now=when or started,
        log=log,
        simulated_now=when is not None,
        _provider=Sanitized(provider) if provider is not None else None,
    )

    job_lock = JobLock.of(settings, job)
    try:
        locked = job_lock.acquire() if lock else True
    except OSError as exc:
        code, line = file_failure(exc, settings) or (
            EXIT_CONFIG,
            f"configuration error: LOCK_DIR {settings.lock_dir} is not writable ({exc.strerror})",
        )
        log.error("%s", line)
        return code

    deadline = Deadline(job, settings.job_deadline(job))
    try:
        deadline.arm()  # from here: opening the store (its locks may be held), recording, the work
        if needs_store:
            ctx.engine, refused = _open_store(ctx, deadline, create_store)
            if refused is not None:
                return refused
        future = _refuse_future(ctx, when, started, allow_future)
        if future is not None:
            log.error("%s", future)
            return EXIT_FUTURE_NOW
        if not locked:
            log.info("%s skipped: already running", job)
            if ctx.engine is not None:
                _record_skipped(ctx, started, when)
            return EXIT_OK
        code, status, error = _work(ctx, func, started, when, deadline, lock)
        if error:
            log.error("%s failed: %s", job, error)
        if ctx.engine is not None and ctx.run_id is not None:
            try:
                job_runs.finish_run(ctx.engine, ctx.run_id, status, ctx.counts, error, Redactor(settings.secrets()))
            except DATABASE_ERRORS as exc:
                # the next run closes the row (mark_stale_runs); the exit code still tells cron
                log.error("could not record the end of the run: %s", database_failure(exc, settings)[1])
        summary = " ".join(f"{k}={v}" for k, v in sorted(ctx.counts.items())) or (
            "nothing done" if status == "failed" else "nothing to do"
        )
        log.info("%s %s in %.1fs: %s", job, status, (datetime.now(UTC) - started).total_seconds(), summary)
        return code
    finally:
        deadline.disarm()
        if ctx._provider is not None and provider is None:
            ctx._provider.close()
        job_lock.release()
        if ctx.engine is not None:
            ctx.engine.dispose()


__all__ = [
    "EXIT_OK",
    "EXIT_CONFIG",
    "EXIT_DATAERR",
    "EXIT_NOINPUT",
    "EXIT_SOFTWARE",
    "EXIT_TEMPFAIL",
    "EXIT_UNAVAILABLE",
    "JobContext",
    "JobDeadline",
    "JobFailed",
    "job_is_running",
    "parse_now",
    "run_job",
    "write_stdout",
]
