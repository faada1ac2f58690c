"""The per-job lock: `flock` on LOCK_DIR/<job>.lock, holding the owner's pid.

The kernel drops the lock when its process dies, so a killed run never blocks the next; a second copy of a job
finds it held and is skipped (the runner), and a restore holds every writing job's lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from pipeline.config import Settings


class JobLock:
    def __init__(self, path: Path):
        self.path = path
        self.fh: IO[str] | None = None

    @classmethod
    def of(cls, settings: Settings, job: str) -> JobLock:
        return cls(settings.lock_dir / f"{job}.lock")

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it. Raises OSError when LOCK_DIR
        cannot be used."""
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
    lock = JobLock.of(settings, job)
    if lock.acquire():
        lock.release()
        return False
    return True


__all__ = ["JobLock", "job_is_running"]
