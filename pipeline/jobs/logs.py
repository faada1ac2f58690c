"""A job's output: its log file (rotated) and stderr with secrets masked, the file cron appends its output to
(rotated like the log), and stdout for what a job prints."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path

from pipeline.config import Settings
from pipeline.redact import Redactor

LOG_MAX_BYTES = 5_000_000
LOG_KEEP = 5
CRON_OUTPUT_MAX_BYTES = 5_000_000
CRON_OUTPUT_KEEP = 5


class _RedactingFormatter(logging.Formatter):
    """The whole formatted record (message, arguments, traceback) with every form of every secret masked."""

    def __init__(self, redact: Redactor, fmt: str, datefmt: str):
        super().__init__(fmt, datefmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def mask(text: str, settings: Settings | None) -> str:
    """`text` with the settings' secrets masked in any form (pipeline.redact)."""
    return Redactor(settings.secrets() if settings else [])(text)


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


def setup_logging(job: str, settings: Settings, quiet: bool) -> None:
    """Root logging for this run: LOG_DIR/<job>.log (everything) and stderr (warnings only when `quiet`; never
    records marked `file_only`, such as tracebacks), both with secrets masked. Raises OSError when LOG_DIR
    cannot be used."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_pipeline", False):
            root.removeHandler(h)
            h.close()
    fmt = _RedactingFormatter(
        Redactor(settings.secrets()), "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    fmt.converter = time.gmtime
    handlers: list[logging.Handler] = []
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    handlers.append(_LogFile(settings.log_dir / f"{job}.log", maxBytes=LOG_MAX_BYTES, backupCount=LOG_KEEP))
    sh = logging.StreamHandler(sys.stderr)
    sh.setLevel(logging.WARNING if quiet else logging.INFO)
    sh.addFilter(lambda record: not getattr(record, "file_only", False))
    handlers.append(sh)
    for h in handlers:
        h.setFormatter(fmt)
        h._pipeline = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(logging.INFO)
    for noisy in ("urllib3", "alembic", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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


__all__ = ["mask", "setup_logging", "rotate_cron_output", "write_stdout", "CRON_OUTPUT_MAX_BYTES", "CRON_OUTPUT_KEEP"]
