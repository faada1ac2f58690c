"""Any failure as (exit code, one line): the one lookup the runner makes when a job raises.

- the pipeline's own failures (pipeline.errors) carry their exit code and line;
- any database error: the SQLite file or the URL (password masked) and the driver's first line, never the SQL,
  exit 69/75/70 by its kind (`database_failure`);
- any file-system error on a path we know: the path and the setting it belongs to (`file_failure`);
- anything else is unexpected: exit 70, its traceback in the log file only.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from pipeline.config import Settings
from pipeline.errors import (
    EXIT_CONFIG,
    EXIT_SOFTWARE,
    EXIT_TEMPFAIL,
    EXIT_UNAVAILABLE,
    JobDeadline,
    PipelineError,
    clean_line,
)
from pipeline.jobs.logs import mask

DATABASE_ERRORS = (SQLAlchemyError, sqlite3.Error)

# SQLite result codes (sqlite3 exceptions carry sqlite_errorname) and PostgreSQL SQLSTATE classes -> exit code.
_SQLITE_CODES = {
    "SQLITE_BUSY": EXIT_TEMPFAIL,
    "SQLITE_LOCKED": EXIT_TEMPFAIL,
    "SQLITE_FULL": EXIT_TEMPFAIL,
    "SQLITE_INTERRUPT": EXIT_TEMPFAIL,
    "SQLITE_NOMEM": EXIT_TEMPFAIL,
    "SQLITE_PROTOCOL": EXIT_TEMPFAIL,
    "SQLITE_READONLY": EXIT_UNAVAILABLE,
    "SQLITE_CANTOPEN": EXIT_UNAVAILABLE,
    "SQLITE_NOTADB": EXIT_UNAVAILABLE,
    "SQLITE_CORRUPT": EXIT_UNAVAILABLE,
    "SQLITE_IOERR": EXIT_UNAVAILABLE,
    "SQLITE_PERM": EXIT_UNAVAILABLE,
    "SQLITE_AUTH": EXIT_UNAVAILABLE,
    "SQLITE_NOLFS": EXIT_UNAVAILABLE,
    "SQLITE_CONSTRAINT": EXIT_SOFTWARE,
    "SQLITE_MISMATCH": EXIT_SOFTWARE,
    "SQLITE_TOOBIG": EXIT_SOFTWARE,
    "SQLITE_RANGE": EXIT_SOFTWARE,
    "SQLITE_SCHEMA": EXIT_TEMPFAIL,
    "SQLITE_ERROR": EXIT_SOFTWARE,
    "SQLITE_MISUSE": EXIT_SOFTWARE,
}
_PG_CLASSES = {
    "08": EXIT_UNAVAILABLE,
    "28": EXIT_UNAVAILABLE,
    "3D": EXIT_UNAVAILABLE,
    "58": EXIT_UNAVAILABLE,
    "XX": EXIT_UNAVAILABLE,
    "25": EXIT_UNAVAILABLE,
    "40": EXIT_TEMPFAIL,
    "53": EXIT_TEMPFAIL,
    "55": EXIT_TEMPFAIL,
    "57": EXIT_TEMPFAIL,
    "22": EXIT_SOFTWARE,
    "23": EXIT_SOFTWARE,
    "42": EXIT_SOFTWARE,
    "0A": EXIT_SOFTWARE,
}
_PG_STATES = {"42501": 69}  # insufficient privilege: someone must grant it
_KIND = {
    EXIT_UNAVAILABLE: "database unavailable",
    EXIT_TEMPFAIL: "database temporarily unavailable",
    EXIT_SOFTWARE: "database refused the job's data",
}
_HINT = {
    "SQLITE_NOTADB": 'damaged: restore it from a backup, README "Backups and restore"',
    "SQLITE_CORRUPT": 'damaged: restore it from a backup, README "Backups and restore"',
    "SQLITE_READONLY": "the file or its directory is read-only",
    "SQLITE_FULL": "the disk is full",
    "53100": "the disk is full",
}
_REFUSED = (
    sa_exc.IntegrityError,
    sa_exc.DataError,
    sa_exc.ProgrammingError,
    sa_exc.NotSupportedError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.ProgrammingError,
)


def failure(exc: BaseException, settings: Settings) -> tuple[int, str] | None:
    """(exit code, one line) for a failure the pipeline knows, or None for an unexpected one."""
    if isinstance(exc, (PipelineError, JobDeadline)):
        return exc.exit_code, exc.line()
    if isinstance(exc, DATABASE_ERRORS):
        return database_failure(exc, settings)
    if isinstance(exc, OSError):
        return file_failure(exc, settings)
    return None


def _first_line(text: object) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def sqlite_file(settings: Settings) -> Path:
    return Path(make_url(settings.database_url).database or "")


def _database_code(exc: BaseException, orig: BaseException) -> tuple[int, str | None]:
    """The exit code of a database error and the key (SQLite result code or SQLSTATE) it was found by."""
    name = getattr(orig, "sqlite_errorname", None)
    if name:
        key = next((k for k in _SQLITE_CODES if name == k or name.startswith(k + "_")), None)
        if key is not None:
            return _SQLITE_CODES[key], key
    state = getattr(orig, "sqlstate", None)
    if state:
        code = _PG_STATES.get(state) or _PG_CLASSES.get(state[:2])
        if code is not None:
            return code, state
    if isinstance(exc, _REFUSED):
        return EXIT_SOFTWARE, None
    if isinstance(exc, sa_exc.TimeoutError) or (
        isinstance(exc, (sa_exc.OperationalError, sqlite3.OperationalError))
        and not (state is None and type(orig).__module__.startswith("psycopg"))
    ):
        return EXIT_TEMPFAIL, None  # a pool or lock timeout, a dropped connection: the next run may well succeed
    return EXIT_UNAVAILABLE, None  # a connection that never opened, a damaged file, an interface error


def database_failure(exc: BaseException, settings: Settings) -> tuple[int, str]:
    """(exit code, one line) for any database error: SQLAlchemy's (wrapping the driver's) or sqlite3's own.

    The line names the store (the SQLite file, or the URL with its password masked) and the driver's first line
    (never the SQL or its parameters). 69: the store cannot be used until someone acts (read-only, damaged,
    unreachable, refused); 75: a later run may succeed (locked, disk full, connection dropped); 70: the store
    refused what the job wrote (a bug or bad data).
    """
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    code, key = _database_code(exc, orig)
    state = getattr(orig, "sqlstate", None)
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


__all__ = ["DATABASE_ERRORS", "failure", "database_failure", "file_failure", "sqlite_file"]
