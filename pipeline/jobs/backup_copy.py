"""Backups copied off the machine (or off the Kubernetes volume) by the operator's command, BACKUP_COPY_COMMAND.

A backup on the disk it protects is lost with that disk. After each backup run, the command runs once per new
backup file, through /bin/sh with the file's path as `$1` (and in BACKUP_FILE), e.g. curl (in the image) to
S3-compatible storage. A copy that fails is a failed backup step, one line naming the file and the command's own
last line. Each copy is recorded in BACKUP_DIR/copied.json, which the health check reads: the newest backup must
have been copied.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

RECORD = "copied.json"
TIMEOUT = 1800.0  # seconds one copy may take (a dump of a large store to a slow link)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def copy_one(command: str, path: Path, timeout: float = TIMEOUT) -> str | None:
    """Run `command` for `path`; None when it succeeded, else one line saying why not."""
    try:
        r = subprocess.run(
            ["/bin/sh", "-c", command, "backup-copy", str(path)],
            env={**os.environ, "BACKUP_FILE": str(path)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"BACKUP_COPY_COMMAND did not finish copying {path.name} in {timeout:g} s"
    except OSError as exc:
        return f"BACKUP_COPY_COMMAND could not start for {path.name}: {exc.strerror or exc}"
    if r.returncode != 0:
        why = _last_line(r.stderr) or _last_line(r.stdout) or "no output"
        return f"BACKUP_COPY_COMMAND failed for {path.name} (exit {r.returncode}): {why}"
    return None


def copy_off(command: str, files: Sequence[Path], backup_dir: Path, timeout: float = TIMEOUT) -> str | None:
    """Copy every file of `files` with `command`, recording each copy; stops at the first failure and returns its
    line (None when every copy succeeded, or when no command is set)."""
    if not command:
        return None
    for path in files:
        error = copy_one(command, path, timeout)
        if error:
            return error
        record_copy(backup_dir, path)
    return None


def record_copy(backup_dir: Path, path: Path, when: datetime | None = None) -> None:
    record = backup_dir / RECORD
    copied = last_copies(backup_dir)
    copied[path.name] = (when or datetime.now(UTC)).isoformat(timespec="seconds")
    tmp = record.with_name(record.name + ".part")
    tmp.write_text(json.dumps(dict(sorted(copied.items())), indent=1) + "\n")
    tmp.chmod(0o600)
    tmp.replace(record)


def last_copies(backup_dir: Path) -> dict[str, str]:
    """Backup file name -> when it was copied (ISO time), for the files still in the directory."""
    try:
        data = json.loads((backup_dir / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if (backup_dir / str(k)).exists()}


def was_copied(backup_dir: Path, path: Path) -> bool:
    return path.name in last_copies(backup_dir)


__all__ = ["RECORD", "copy_one", "copy_off", "record_copy", "last_copies", "was_copied"]
