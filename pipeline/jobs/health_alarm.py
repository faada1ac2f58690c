"""The health check's alarm sounds whatever fails: the settings (an unreadable `.env` included), the log directory,
an import, or the check itself. Each of those stops the health check before its own checks run, so here it is
reported the way a failed check is: its ❌ line on stdout (cron mails it), ALERT_COMMAND run with the lines on
stdin (from the environment, or `.env` when it can be read, when the settings cannot be loaded), and exit 1.

Standard library only at import (the settings are imported when needed): production/health_check.py falls back on
`import_failed` when the pipeline cannot be imported, so even a failing import is an alarm.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

EXIT_HEALTHY, EXIT_UNHEALTHY = 0, 1
ALERT_TIMEOUT = 60


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def alert_command_without_settings() -> str:
    """ALERT_COMMAND when the settings cannot be loaded: the environment's, else `.env`'s if it can be read."""
    if os.environ.get("ALERT_COMMAND", "").strip():
        return os.environ["ALERT_COMMAND"].strip()
    try:
        from pipeline.config import ROOT, read_dotenv

        return read_dotenv(ROOT / ".env").get("ALERT_COMMAND", "").strip()
    except Exception:  # noqa: BLE001 - an unreadable or broken .env: the environment was the only source
        return ""


def run_alert(command: str, text: str) -> str | None:
    """Run ALERT_COMMAND with `text` on stdin; None when it ran, else why not (one line)."""
    if not command:
        return None
    try:
        r = subprocess.run(command, shell=True, input=text, text=True, capture_output=True, timeout=ALERT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"ALERT_COMMAND did not finish within {ALERT_TIMEOUT} s"
    except OSError as exc:
        return f"ALERT_COMMAND could not start: {exc.strerror or exc}"
    if r.returncode != 0:
        return f"ALERT_COMMAND exited {r.returncode}: {_one_line((r.stderr or r.stdout).strip()[-300:])}"
    return None


def alarm(failures: list[tuple[str, str]], alert_command: str, as_json: bool = False, now=None) -> int:
    """Report `failures` ((check, detail) pairs) as the health check reports its own: stdout, ALERT_COMMAND,
    exit 1."""
    lines = [f"❌ {name}: {_one_line(detail)}" for name, detail in failures]
    if as_json:
        print(json.dumps([{"check": n, "ok": False, "detail": _one_line(d), "warning": False} for n, d in failures]))
    else:
        print("\n".join(lines))
    sys.stdout.flush()
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M")
    why = run_alert(alert_command, f"football pipeline unhealthy at {when} UTC\n" + "\n".join(lines) + "\n")
    if why:
        print(why, file=sys.stderr)
    return EXIT_UNHEALTHY


def log_dir_problem(log_dir: Path) -> str | None:
    """Why the health check cannot write its log in `log_dir`, or None."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "health_check.log", "a"):
            pass
    except OSError as exc:
        return f"LOG_DIR {log_dir} is not writable ({exc.strerror or exc})"
    return None


class _Errors(logging.Handler):
    """The error lines logged while the health check runs (what the runner says when the check itself fails)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(record, "file_only", False):
            self.lines.append(_one_line(record.getMessage()))


def checked(run: Callable[..., int], *, as_json: bool = False, now: str | None = None, **options) -> int:
    """Run the health check (`run`: the job through the runner, returning its exit code) after what would stop it
    before its checks; whatever stops it is an alarm. Returns the exit code: 0 healthy, 1 not."""
    from pipeline.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        return alarm([("settings", str(exc))], alert_command_without_settings(), as_json)
    problem = log_dir_problem(settings.log_dir)
    if problem:
        return alarm([("log directory", problem)], settings.alert_command, as_json)
    errors = _Errors()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        code = run(as_json=as_json, now=now, **options)
    except Exception as exc:  # noqa: BLE001 - the check itself broke: that is the alarm's business
        code, errors.lines = 70, [*errors.lines, f"{type(exc).__name__}: {exc}"]
    finally:
        root.removeHandler(errors)
    if code in (EXIT_HEALTHY, EXIT_UNHEALTHY):  # the checks ran: they printed and alerted themselves
        return code
    reason = errors.lines[-1] if errors.lines else f"exit {code}"
    return alarm([("health check", f"the check could not finish: {reason}")], settings.alert_command, as_json)


def import_failed(exc: BaseException) -> NoReturn:
    """production/health_check.py when the pipeline cannot be imported: the alarm, then exit 1."""
    line = f"the health check cannot start: {type(exc).__name__}: {exc}"
    sys.exit(alarm([("import", line)], alert_command_without_settings()))


__all__ = ["alarm", "checked", "import_failed", "run_alert", "alert_command_without_settings", "log_dir_problem"]
