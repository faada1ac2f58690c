"""The job runner: what every production script shares.

- a per-job lock (`flock` on LOCK_DIR/<job>.lock): a second copy logs "skipped: already running", records a
  skipped run and exits 0. The kernel drops the lock when its process dies, so a killed run never blocks the next.
- a `job_runs` row per run (running -> success/failed/skipped, counts, error text);
- logging to LOG_DIR/<job>.log (rotated) and stderr, with secrets masked; one summary line per run;
- `now`: any job can run at a simulated time;
- exit codes (sysexits): 0 done or nothing to do, 78 configuration, 69 upstream unavailable,
  75 temporary failure (try again later), 70 unexpected failure. No traceback reaches cron's mail; it is in the log.
"""
from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import sys
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from pipeline.forecast.registry import ModelLoadError
from pipeline.providers import get_provider
from pipeline.threads import limit_threads
from pipeline.store import make_engine, migrate, schema
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.providers.base import ProviderAuthError, ProviderError

EXIT_OK = 0
EXIT_DATAERR = 65        # the input data is wrong (backtest files)
EXIT_NOINPUT = 66        # the input is missing
EXIT_SOFTWARE = 70
EXIT_UNAVAILABLE = 69
EXIT_TEMPFAIL = 75
EXIT_CONFIG = 78


class JobFailed(Exception):
    """A failure the job explains itself (e.g. no deployed model); its message is shown as is."""

    def __init__(self, message: str, exit_code: int = EXIT_SOFTWARE):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class JobContext:
    job: str
    settings: Settings
    now: datetime
    log: logging.Logger
    engine: Any = None
    counts: dict = field(default_factory=dict)
    simulated_now: bool = False
    _provider: Any = None

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    @property
    def provider(self):
        if self._provider is None:
            self._provider = get_provider(self.settings)
        return self._provider


class _SecretFilter(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            for s in self.secrets:
                msg = msg.replace(s, "***")
            record.msg, record.args = msg, None
        return True


def mask(text: str, settings: Settings | None) -> str:
    for s in (settings.secrets() if settings else []):
        text = text.replace(s, "***")
    return text


def _setup_logging(job: str, settings: Settings, quiet: bool) -> logging.Logger:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_pipeline", False):
            root.removeHandler(h)
            h.close()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    fmt.converter = __import__("time").gmtime
    secret_filter = _SecretFilter(settings.secrets())
    handlers: list[logging.Handler] = []
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    fh = logging.handlers.RotatingFileHandler(settings.log_dir / f"{job}.log", maxBytes=5_000_000, backupCount=5)
    handlers.append(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setLevel(logging.WARNING if quiet else logging.INFO)
    sh.addFilter(lambda record: not getattr(record, "file_only", False))
    handlers.append(sh)
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(secret_filter)
        h._pipeline = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(logging.INFO)
    for noisy in ("urllib3", "alembic", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(f"pipeline.jobs.{job}")


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
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


class _Lock:
    def __init__(self, path: Path):
        self.path = path
        self.fh = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            self.fh = None
            return False
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"{os.getpid()}\n")
        self.fh.flush()
        return True

    def release(self) -> None:
        if self.fh:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None


def job_is_running(settings: Settings, job: str) -> bool:
    """True while some process holds `job`'s lock (used by restore to refuse while jobs run)."""
    lock = _Lock(settings.lock_dir / f"{job}.lock")
    if lock.acquire():
        lock.release()
        return False
    return True


def _record_start(engine, job: str, started: datetime, run_for: datetime | None, status: str) -> int:
    with engine.begin() as conn:
        res = conn.execute(schema.job_runs.insert().values(
            job=job, started_at=started, run_for=run_for, status=status))
        return res.inserted_primary_key[0]


def _record_end(engine, run_id: int, status: str, counts: dict, error: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(update(schema.job_runs).where(schema.job_runs.c.id == run_id).values(
            finished_at=datetime.now(timezone.utc), status=status,
            counts=json.dumps(counts, sort_keys=True, default=str), error=error))


def run_job(job: str, func: Callable[[JobContext], Any], *, now: str | datetime | None = None,
            settings: Settings | None = None, quiet: bool = False, needs_store: bool = True,
            lock: bool = True, provider=None) -> int:
    """Run `func(ctx)` as job `job`; returns the process exit code. Never raises.

    `provider` replaces the one DATA_SOURCE would build (tests use scripted providers).
    """
    try:
        settings = settings or load_settings()
        when = parse_now(now)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    limit_threads(settings.cpu_threads)
    try:
        log = _setup_logging(job, settings, quiet)
    except OSError as exc:
        print(f"configuration error: LOG_DIR {settings.log_dir} is not writable ({exc.strerror})", file=sys.stderr)
        return EXIT_CONFIG
    started = datetime.now(timezone.utc)
    ctx = JobContext(job=job, settings=settings, now=when or started, log=log, simulated_now=when is not None,
                     _provider=provider)

    job_lock = _Lock(settings.lock_dir / f"{job}.lock")
    try:
        locked = job_lock.acquire() if lock else True
    except OSError as exc:
        log.error("configuration error: LOCK_DIR %s is not writable (%s)", settings.lock_dir, exc.strerror)
        return EXIT_CONFIG

    engine = None
    run_id = None
    try:
        if needs_store:
            try:
                engine = make_engine(settings.database_url)
                migrate(engine, settings.lock_dir)
            except OperationalError as exc:
                reason = mask(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc), settings)
                log.error("database unavailable (%s): %s", settings.safe_database_url, reason)
                return EXIT_UNAVAILABLE
            ctx.engine = engine
        if not locked:
            log.info("%s skipped: already running", job)
            if engine is not None:
                rid = _record_start(engine, job, started, when, "skipped")
                _record_end(engine, rid, "skipped", {}, "already running")
            return EXIT_OK
        if engine is not None:
            run_id = _record_start(engine, job, started, when, "running")
        log.info("%s started%s", job, f" (simulated now {ctx.now:%Y-%m-%d %H:%M}Z)" if when else "")
        code, status, error = EXIT_OK, "success", None
        try:
            func(ctx)
        except ConfigError as exc:
            code, status, error = EXIT_CONFIG, "failed", f"configuration error: {exc}"
        except ProviderAuthError as exc:
            code, status, error = EXIT_UNAVAILABLE, "failed", f"data source refused access: {exc}"
        except ProviderError as exc:
            code, status, error = EXIT_TEMPFAIL, "failed", f"data source unavailable: {exc}"
        except JobFailed as exc:
            code, status, error = exc.exit_code, "failed", str(exc)
        except ModelLoadError as exc:
            code, status, error = EXIT_SOFTWARE, "failed", f"cannot predict: {exc}"
        except OperationalError as exc:
            code, status, error = EXIT_TEMPFAIL, "failed", f"database error: {str(exc.orig or exc).strip()}"
        except Exception as exc:  # noqa: BLE001 - the runner is the last line of defence
            # The traceback goes to the log file only: cron mails stderr, which gets the one-line error.
            log.error("unexpected failure:\n%s", traceback.format_exc(), extra={"file_only": True})
            code, status, error = EXIT_SOFTWARE, "failed", f"unexpected {type(exc).__name__}: {exc}"
        if error:
            error = mask(error, settings)
            log.error("%s failed: %s", job, error)
        if engine is not None and run_id is not None:
            try:
                _record_end(engine, run_id, status, ctx.counts, error)
            except OperationalError as exc:
                log.error("could not record the run: %s", mask(str(exc.orig or exc), settings))
        summary = " ".join(f"{k}={v}" for k, v in sorted(ctx.counts.items())) or "nothing to do"
        log.info("%s %s in %.1fs: %s", job, status, (datetime.now(timezone.utc) - started).total_seconds(), summary)
        return code
    finally:
        if ctx._provider is not None and provider is None:
            ctx._provider.close()
        job_lock.release()
        if engine is not None:
            engine.dispose()
