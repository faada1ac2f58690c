"""Running an operator's alert command (ALERT_COMMAND, BET_ALERT_COMMAND): a shell command line that gets the
alert's text on its stdin, e.g. `mail -s "..." me@example.com` or a `curl` to a chat webhook. A leaf module, used
by the health check and by the bet alert, so both run a command the same way."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

TIMEOUT = 60.0  # seconds: a hung mailer must not hold a job


def run_alert_command(command: str, text: str, *, setting: str, secrets: Iterable[str] = ()) -> str | None:
    """Run `command` (a shell command line) with `text` on its stdin. None when it succeeded (or `command` is
    empty), else one line saying what went wrong, naming `setting`, with any of `secrets` masked."""
    if not command:
        return None
    try:
        r = subprocess.run(command, shell=True, input=text, text=True, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"{setting} did not finish within {TIMEOUT:g} s"
    except OSError as exc:  # no shell, too many processes
        return f"{setting} could not be started: {exc.strerror or exc}"
    if r.returncode == 0:
        return None
    said = " ".join((r.stderr or r.stdout).strip()[-300:].split())
    for s in secrets:
        said = said.replace(s, "***")
    return f"{setting} exited {r.returncode}" + (f": {said}" if said else "")


__all__ = ["run_alert_command", "TIMEOUT"]
