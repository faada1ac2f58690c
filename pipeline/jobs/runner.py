"""The job runner: what every production script shares.

- a per-job lock (`flock` on LOCK_DIR/<job>.lock): a second copy logs "skipped: already running", records a
  skipped run and exits 0. The kernel drops the lock when its process dies, so a killed run never blocks the next.
- a `job_runs` row per run (running -> success/failed/skipped, counts, error text);
- logging to LOG_DIR/<job>.log (rotated) and stderr, with secrets masked; one summary line per run;
- `now`: any job can run at a simulated time;
- exit codes (sysexits): 0 done or nothing to do, 78 configuration, 69 upstream unavailable,
  75 temporary failure (try again later), 70 unexpected failure. No traceback reaches cron's mail; it is in the log.
- every failure class is one line naming what failed: any database error (the file or URL and the driver's first
  line, exit 69/75/70 by its kind, see `database_failure`), any file-system error (the path and the setting it
  belongs to, see `file_failure`);
- a wall-clock deadline per run (JOB_DEADLINES): SIGALRM raises JobDeadline in the job's thread, which unwinds
  it like any error (transactions roll back), exit 75, the run recorded, the lock released;
- runs left `running` by a process that died are marked `killed` (its pid gone, or its job's lock free) or
  `abandoned` (past its job's deadline) by the next run.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import logging.handlers
import os
import shutil
import signal
import socket
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from pipeline.config import ConfigError, Settings, load_settings
from pipeline.forecast.registry import ModelLoadError
from pipeline.providers import get_provider
from pipeline.providers.base import ProviderAuthError, ProviderError, Sanitized, SourceUnavailable
from pipeline.store import link_guide_path, migrate, missing_sqlite_file, schema, shared_engine
from pipeline.threads import limit_threads

EXIT_OK = 0
EXIT_DATAERR = 65  # the input data is wrong (backtest files)
EXIT_NOINPUT = 66  # the input is missing
EXIT_SOFTWARE = 70
EXIT_UNAVAILABLE = 69
EXIT_TEMPFAIL = 75
EXIT_CONFIG = 78


class JobDeadline(BaseException):
    """The run passed its deadline. A BaseException, so no `except Exception` inside a job swallows it."""


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
    run_id: int | None = None  # this run's job_runs row (a restore re-creates it in the restored store)
    _provider: Any = None

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    @property
    def provider(self):
        if self._provider is None:
            self._provider = get_provider(self.settings)  # answers cleaned of control characters
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
    for s in settings.secrets() if settings else []:
        text = text.replace(s, "***")
    return text


class _LogFile(logging.handlers.RotatingFileHandler):
    """The job's log file. A write that fails (a full disk) is reported once on stderr, in one line, and the
    file is given up for this run; logging's default prints a traceback for every record instead."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        exc = sys.exc_info()[1]
        print(
            f"log file {self.baseFilename} cannot be written ({getattr(exc, 'strerror', None) or exc}); "
            "logging to stderr only for this run",
            file=sys.stderr,
        )


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
    fh = _LogFile(settings.log_dir / f"{job}.log", maxBytes=5_000_000, backupCount=5)
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
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


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


HOST = socket.gethostname()[:255]


def record_start(conn, job: str, started: datetime, run_for: datetime | None, status: str) -> int:
    res = conn.execute(
        schema.job_runs.insert().values(
            job=job, started_at=started, run_for=run_for, status=status, pid=os.getpid(), host=HOST
        )
    )
    return res.inserted_primary_key[0]


def _record_start(engine, job: str, started: datetime, run_for: datetime | None, status: str) -> int:
    with engine.begin() as conn:
        return record_start(conn, job, started, run_for, status)


def _record_end(engine, run_id: int, status: str, counts: dict, error: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(schema.job_runs)
            .where(schema.job_runs.c.id == run_id)
            .values(
                finished_at=datetime.now(UTC),
                status=status,
                counts=json.dumps(counts, sort_keys=True, default=str),
                error=error,
            )
        )


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


def mark_stale_runs(conn, settings: Settings, holds_lock_of: str | None, exclude: int | None = None) -> int:
    """Close `running` rows whose process is gone (see stale_reason). Returns how many were marked."""
    jr = schema.job_runs
    now = datetime.now(UTC)
    rows = conn.execute(
        select(jr.c.id, jr.c.job, jr.c.started_at, jr.c.pid, jr.c.host).where(
            jr.c.status == "running", jr.c.id != (exclude or -1)
        )
    ).all()
    marked = 0
    for row in rows:
        verdict = stale_reason(row, settings, now, holds_lock_of)
        if verdict:
            res = conn.execute(
                update(jr)
                .where(jr.c.id == row.id, jr.c.status == "running")
                .values(status=verdict[0], finished_at=now, error=verdict[1])
            )
            marked += res.rowcount
    return marked


# ---- failures as one line ---------------------------------------------------------------------------------------

# SQLite result codes (sqlite3 exceptions carry sqlite_errorname) and PostgreSQL SQLSTATE classes -> exit code.
_SQLITE_CODES = {
    "SQLITE_BUSY": 75,
    "SQLITE_LOCKED": 75,
    "SQLITE_FULL": 75,
    "SQLITE_INTERRUPT": 75,
    "SQLITE_NOMEM": 75,
    "SQLITE_PROTOCOL": 75,
    "SQLITE_READONLY": 69,
    "SQLITE_CANTOPEN": 69,
    "SQLITE_NOTADB": 69,
    "SQLITE_CORRUPT": 69,
    "SQLITE_IOERR": 69,
    "SQLITE_PERM": 69,
    "SQLITE_AUTH": 69,
    "SQLITE_NOLFS": 69,
    "SQLITE_CONSTRAINT": 70,
    "SQLITE_MISMATCH": 70,
    "SQLITE_TOOBIG": 70,
    "SQLITE_RANGE": 70,
    "SQLITE_SCHEMA": 75,
    "SQLITE_ERROR": 70,
    "SQLITE_MISUSE": 70,
}
_PG_CLASSES = {
    "08": 69,
    "28": 69,
    "3D": 69,
    "58": 69,
    "XX": 69,
    "25": 69,
    "40": 75,
    "53": 75,
    "55": 75,
    "57": 75,
    "22": 70,
    "23": 70,
    "42": 70,
    "0A": 70,
}
_PG_STATES = {"42501": 69}  # insufficient privilege: someone must grant it
_KIND = {69: "database unavailable", 75: "database temporarily unavailable", 70: "database refused the job's data"}
_HINT = {
    "SQLITE_NOTADB": 'damaged: restore it from a backup, README "Backups and restore"',
    "SQLITE_CORRUPT": 'damaged: restore it from a backup, README "Backups and restore"',
    "SQLITE_READONLY": "the file or its directory is read-only",
    "SQLITE_FULL": "the disk is full",
    "53100": "the disk is full",
}


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def database_failure(exc: BaseException, settings: Settings) -> tuple[int, str]:
    """(exit code, one line) for any database error: SQLAlchemy's (wrapping the driver's) or sqlite3's own.

    The line names the store (the SQLite file, or the URL with its password masked) and the driver's first line
    (never the SQL or its parameters). 69: the store cannot be used until someone acts (read-only, damaged,
    unreachable, refused); 75: a later run may succeed (locked, disk full, connection dropped); 70: the store
    refused what the job wrote (a bug or bad data).
    """
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    code, key = None, None
    name = getattr(orig, "sqlite_errorname", None)
    if name:
        key = next((k for k in _SQLITE_CODES if name == k or name.startswith(k + "_")), None)
        code = _SQLITE_CODES.get(key)
    state = getattr(orig, "sqlstate", None)
    if code is None and state:
        key = state
        code = _PG_STATES.get(state) or _PG_CLASSES.get(state[:2])
    if code is None:
        if isinstance(
            exc,
            (
                sa_exc.IntegrityError,
                sa_exc.DataError,
                sa_exc.ProgrammingError,
                sa_exc.NotSupportedError,
                sqlite3.IntegrityError,
                sqlite3.DataError,
                sqlite3.ProgrammingError,
            ),
        ):
            code = 70
        elif isinstance(exc, sa_exc.TimeoutError) or (
            isinstance(exc, (sa_exc.OperationalError, sqlite3.OperationalError))
            and not (state is None and type(orig).__module__.startswith("psycopg"))
        ):
            code = 75  # a pool or lock timeout, a dropped connection: the next run may well succeed
        else:  # a connection that never opened, a damaged file, an interface error
            code = 69
    where = str(sqlite_file(settings)) if settings.is_sqlite else settings.safe_database_url
    reason = _first_line(orig) or type(orig).__name__
    hint = _HINT.get(key or "") or _HINT.get(state or "")
    if settings.is_sqlite and key in ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_FULL", None):
        # SQLite often says only "unable to open" or "disk I/O error": look at the file's directory ourselves
        found = _sqlite_diagnosis(sqlite_file(settings))
        if found:
            code, hint = found
    line = f"{_KIND[code]} ({where}): {reason}" + (f" ({hint})" if hint and hint not in reason else "")
    return code, mask(clean_line(line), settings)


def _sqlite_diagnosis(db: Path) -> tuple[int, str] | None:
    folder = db.parent
    if not folder.is_dir():
        return EXIT_UNAVAILABLE, f"no directory {folder}"
    if not os.access(folder, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
        return EXIT_UNAVAILABLE, "the file or its directory is read-only"
    try:
        if shutil.disk_usage(folder).free < 2**20:
            return EXIT_TEMPFAIL, "the disk is full"
    except OSError:
        pass
    return None


def sqlite_file(settings: Settings) -> Path:
    return Path(make_url(settings.database_url).database or "")


def _path_setting(path: str | None, settings: Settings) -> tuple[str, Path] | None:
    """The setting whose directory holds `path` (the most specific one)."""
    if not path:
        return None
    p = Path(os.path.abspath(path))
    dirs = [
        ("BACKUP_DIR", settings.backup_dir),
        ("MODEL_DIR", settings.model_dir),
        ("LOG_DIR", settings.log_dir),
        ("LOCK_DIR", settings.lock_dir),
        ("CACHE_DIR", settings.cache_dir),
        ("FOOTBALL_DATA_DIR", settings.football_data_dir),
    ]
    if settings.is_sqlite:
        dirs.append(("DATABASE_URL", sqlite_file(settings).parent))
    best = None
    for name, d in dirs:
        if d is None:
            continue
        d = Path(os.path.abspath(d))
        if (p == d or d in p.parents) and (best is None or len(str(d)) > len(str(best[1]))):
            best = (name, d)
    return best


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.EEXIST)


def file_failure(exc: OSError, settings: Settings) -> tuple[int, str] | None:
    """(exit code, one line) for a file-system error on a path we know, else None (an unexpected failure).

    75: the disk is full (space may be freed before the next run); 78: a configured directory that cannot be
    used (missing, not a directory, read-only, no permission), the setting named; 69: other I/O errors.
    """
    path = exc.filename
    if exc.errno in _FULL:
        where = f" writing {path}" if path else ""
        return EXIT_TEMPFAIL, clean_line(f"disk full{where}: {exc.strerror or exc}")
    if path is None:
        return None
    owner = _path_setting(str(path), settings)
    if exc.errno in _NOT_WRITABLE and owner:
        return EXIT_CONFIG, clean_line(
            f"configuration error: {owner[0]} {owner[1]} cannot be used ({exc.strerror}: {path})"
        )
    if exc.errno == errno.EIO or owner:
        return EXIT_UNAVAILABLE, clean_line(f"file error on {path}: {exc.strerror or exc}")
    return None


def clean_line(text: str) -> str:
    """One printable line: control characters (a NUL from an upstream message, say) removed."""
    return "".join(ch if ch.isprintable() else " " for ch in " ".join(str(text).split()))


class _Deadline:
    """SIGALRM after `seconds` raises JobDeadline in the main thread; a no-op elsewhere (signals need it)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = False
        self.previous = None

    def _fire(self, signum, frame):
        if self.armed:
            raise JobDeadline()

    def arm(self) -> None:
        if threading.current_thread() is threading.main_thread() and self.seconds > 0:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True

    def disarm(self) -> None:
        if self.armed:
            self.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous or signal.SIG_DFL)


CRON_OUTPUT_MAX_BYTES = 5_000_000
CRON_OUTPUT_KEEP = 5


def rotate_cron_output() -> None:
    """Rotate the file cron appends this job's output to (crontab.example: logs/<job>.cron.log) once it passes
    5 MB, keeping 5, as the job's own log is rotated. The file is found through /proc/self/fd (Linux); a terminal,
    a pipe or cron's mail is left alone. This run goes on writing to the renamed file; the next starts a new one."""
    done = set()
    for fd in (1, 2):
        try:
            path = Path(os.readlink(f"/proc/self/fd/{fd}"))
            st = os.fstat(fd)
        except OSError:
            continue
        # by inode: stdout and stderr are usually the same file (`>> f 2>&1`), renamed once
        if (st.st_dev, st.st_ino) in done or st.st_size < CRON_OUTPUT_MAX_BYTES or not path.is_file():
            continue
        done.add((st.st_dev, st.st_ino))
        try:
            for i in range(CRON_OUTPUT_KEEP - 1, 0, -1):
                older = path.with_name(f"{path.name}.{i}")
                if older.exists():
                    os.replace(older, path.with_name(f"{path.name}.{i + 1}"))
            os.replace(path, path.with_name(f"{path.name}.1"))
        except OSError:
            pass  # another copy of the job rotated it first, or the directory is read-only: not worth failing for


def write_stdout(text: str) -> None:
    """Print, tolerating a reader that stops early (`report.py | head`): that is not a failed run."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # no further output can arrive; point stdout at /dev/null so the interpreter's exit flush stays quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
    create_store: bool = True,
) -> int:
    """Run `func(ctx)` as job `job`; returns the process exit code. Never raises.

    `provider` replaces the one DATA_SOURCE would build (tests use scripted providers). Without `create_store` a
    missing SQLite file is an error (exit 69) rather than a new empty store: a misspelt DATABASE_URL must not
    look like a fresh start.
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

    job_lock = _Lock(settings.lock_dir / f"{job}.lock")
    try:
        locked = job_lock.acquire() if lock else True
    except OSError as exc:
        code, line = file_failure(exc, settings) or (
            EXIT_CONFIG,
            f"configuration error: LOCK_DIR {settings.lock_dir} is not writable ({exc.strerror})",
        )
        log.error("%s", line)
        return code

    engine = None
    deadline = _Deadline(settings.job_deadline(job))
    code, status, error = EXIT_OK, "success", None
    try:
        deadline.arm()  # from here: opening the store (its locks may be held), recording, the work
        if needs_store:
            missing = None if create_store else missing_sqlite_file(settings.database_url)
            if missing is not None:
                log.error(
                    "database unavailable: %s does not exist (a misspelt DATABASE_URL? weekly_training.py "
                    "or PredictionDatabase() creates the store)",
                    missing,
                )
                return EXIT_UNAVAILABLE
            try:
                engine = shared_engine(settings.database_url)  # disposed when the run ends (below)
                migrate(engine, settings.lock_dir)
                link_guide_path(settings.database_url)
            except JobDeadline:
                log.error(
                    "stopped at its deadline (%g s, JOB_DEADLINES %s) while opening the database %s",
                    deadline.seconds,
                    job,
                    mask(settings.safe_database_url, settings),
                )
                return EXIT_TEMPFAIL
            except (SQLAlchemyError, sqlite3.Error) as exc:
                code, line = database_failure(exc, settings)
                log.error("%s", line)
                return EXIT_UNAVAILABLE if code == EXIT_SOFTWARE else code
            except OSError as exc:
                code, line = file_failure(exc, settings) or (
                    EXIT_UNAVAILABLE,
                    clean_line(f"database unavailable ({settings.safe_database_url}): {exc}"),
                )
                log.error("%s", mask(line, settings))
                return code
            ctx.engine = engine
        if not locked:
            log.info("%s skipped: already running", job)
            if engine is not None:
                try:
                    rid = _record_start(engine, job, started, when, "skipped")
                    _record_end(engine, rid, "skipped", {}, "already running")
                except (SQLAlchemyError, sqlite3.Error, JobDeadline) as exc:
                    why = "its deadline passed" if isinstance(exc, JobDeadline) else database_failure(exc, settings)[1]
                    log.error("could not record the skipped run: %s", why)
            return EXIT_OK
        try:
            try:
                if engine is not None:
                    ctx.run_id = _record_start(engine, job, started, when, "running")
                    with engine.begin() as conn:
                        stale = mark_stale_runs(conn, settings, job if lock else None, exclude=ctx.run_id)
                    if stale:
                        log.warning("%d earlier run(s) left marked running were closed as killed/abandoned", stale)
                log.info("%s started%s", job, f" (simulated now {ctx.now:%Y-%m-%d %H:%M}Z)" if when else "")
                func(ctx)
            finally:
                deadline.disarm()  # before recording the end: that must not be cut short
        except JobDeadline:
            code, status, error = (
                EXIT_TEMPFAIL,
                "failed",
                (
                    f"stopped at its deadline: still running after {deadline.seconds:g} s (JOB_DEADLINES {job}); "
                    "the next run starts afresh"
                ),
            )
        except ConfigError as exc:
            code, status, error = EXIT_CONFIG, "failed", f"configuration error: {exc}"
        except ProviderAuthError as exc:
            code, status, error = EXIT_UNAVAILABLE, "failed", f"data source refused access: {exc}"
        except SourceUnavailable as exc:
            code, status, error = EXIT_UNAVAILABLE, "failed", f"data source unavailable: {exc}"
        except ProviderError as exc:
            code, status, error = EXIT_TEMPFAIL, "failed", f"data source unavailable: {exc}"
        except JobFailed as exc:
            code, status, error = exc.exit_code, "failed", str(exc)
        except ModelLoadError as exc:
            code, status, error = EXIT_SOFTWARE, "failed", f"cannot predict: {exc}"
        except (SQLAlchemyError, sqlite3.Error) as exc:
            code, error = database_failure(exc, settings)
            status = "failed"
        except Exception as exc:  # noqa: BLE001 - the runner is the last line of defence
            known = file_failure(exc, settings) if isinstance(exc, OSError) else None
            if known:
                code, error = known
            else:
                # The traceback goes to the log file only: cron mails stderr, which gets the one-line error.
                log.error("unexpected failure:\n%s", traceback.format_exc(), extra={"file_only": True})
                code, error = EXIT_SOFTWARE, f"unexpected {type(exc).__name__}: {exc}"
            status = "failed"
        if error:
            error = mask(clean_line(error), settings)
            log.error("%s failed: %s", job, error)
        if engine is not None and ctx.run_id is not None:
            try:
                _record_end(engine, ctx.run_id, status, ctx.counts, error)
            except (SQLAlchemyError, sqlite3.Error) as exc:
                # the next run closes the row (mark_stale_runs); the exit code still tells cron
                log.error("could not record the end of the run: %s", database_failure(exc, settings)[1])
        summary = " ".join(f"{k}={v}" for k, v in sorted(ctx.counts.items())) or "nothing to do"
        log.info("%s %s in %.1fs: %s", job, status, (datetime.now(UTC) - started).total_seconds(), summary)
        return code
    finally:
        deadline.disarm()
        if ctx._provider is not None and provider is None:
            ctx._provider.close()
        job_lock.release()
        if engine is not None:
            engine.dispose()
