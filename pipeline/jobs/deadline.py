"""A run's wall-clock deadline (JOB_DEADLINES): SIGALRM raises JobDeadline in the job's thread, which unwinds it
like any error (transactions roll back), exit 75, the run recorded, the lock released."""

from __future__ import annotations

import signal
import threading
from typing import Any

from pipeline.errors import JobDeadline


class Deadline:
    """SIGALRM after `seconds` raises JobDeadline in the main thread; a no-op elsewhere (signals need it)."""

    def __init__(self, job: str, seconds: float):
        self.job = job
        self.seconds = seconds
        self.armed = False
        self.previous: Any = None

    def _fire(self, signum, frame):
        if self.armed:
            raise JobDeadline(
                f"stopped at its deadline: still running after {self.seconds:g} s (JOB_DEADLINES {self.job}); "
                "the next run starts afresh"
            )

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


__all__ = ["Deadline", "JobDeadline"]
