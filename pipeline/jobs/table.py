"""The job table: every production job once, with its entry point, schedule and log name.

crontab.example is the operator's copy of these schedules (a test holds the two equal); the health check judges
lateness from them, the demo runs the jobs in this order, and the Kubernetes CronJobs are checked against the
crontab. Schedules are cron expressions in UTC.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


@dataclass(frozen=True)
class Job:
    """One job. `name` is its script (production/<name>.py), its log (LOG_DIR/<name>.log), its lock and its
    `job_runs.job`. `entry` and `then` are "module:function" paths, called with (ctx, **options); `then` runs
    after `entry` in the same run (not on --dry-run). `schedule` is None for jobs run by hand."""

    name: str
    entry: str
    description: str
    schedule: str | None = None
    then: str | None = None
    cron_args: tuple[str, ...] = ("--quiet",)

    @property
    def script(self) -> str:
        return f"production/{self.name}.py"

    @property
    def log_name(self) -> str:
        return f"{self.name}.log"

    @property
    def every(self) -> timedelta | None:
        """The longest time between two scheduled runs (what lateness is measured against)."""
        return None if self.schedule is None else longest_gap(self.schedule)


JOBS: dict[str, Job] = {
    j.name: j
    for j in (
        Job(
            "weekly_training",
            "pipeline.jobs.weekly_training:run",
            "fetch results, rebuild players, retrain, validate, deploy through the gate",
            schedule="0 2 * * 0",
        ),
        Job(
            "hourly_predictions",
            "pipeline.jobs.hourly_predictions:run",
            "fixtures in the next 48 h, predictions, value bets; then the lineup step",
            schedule="0 * * * *",
            then="pipeline.jobs.lineup_updates:run",
        ),
        Job(
            "lineup_updates",
            "pipeline.jobs.lineup_updates:run",
            "re-predict fixtures within 2 h whose lineups are out",
            schedule="*/15 * * * *",
        ),
        Job(
            "results_settlement",
            "pipeline.jobs.results_settlement:run",
            "results, settle bets, closing-line value, daily performance",
            schedule="*/30 * * * *",
        ),
        Job("backup", "pipeline.jobs.backup:run", "back up the store, models and .env", schedule="0 4 * * *"),
        Job(
            "health_check",
            "pipeline.jobs.health_check:run",
            "one line per check; exit 0 when healthy",
            schedule="*/10 * * * *",
        ),
        Job("report", "pipeline.jobs.report:run", "performance report and charts"),
        Job("backtest", "pipeline.jobs.backtest:run", "walk-forward replay of history"),
        Job("demo", "pipeline.jobs.demo:run", "the whole cycle on the simulated sandbox"),
        Job("migrate", "pipeline.jobs.migrate:run", "the store's schema to the latest revision (a deploy step)"),
    )
}
SCHEDULED = tuple(j for j in JOBS.values() if j.schedule)


def resolve(path: str) -> Callable:
    """The function named by a "module:function" path (imported when a job runs, not when the table is read)."""
    module, _, func = path.partition(":")
    return getattr(importlib.import_module(module), func)


def expand_field(field: str, lo: int, hi: int) -> set[int]:
    """One cron field: *, N, A-B, lists and /steps."""
    out: set[int] = set()
    for part in field.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a, b = map(int, rng.split("-"))
        else:
            a = b = int(rng)
        if not (lo <= a <= hi and lo <= b <= hi) or step < 1:
            raise ValueError(f"bad cron field {field!r}")
        out |= set(range(a, b + 1, step))
    return out


def parse_schedule(expr: str) -> tuple[set[int], ...]:
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"a cron schedule has five fields, got {expr!r}")
    out = tuple(expand_field(f, lo, hi) for f, (lo, hi) in zip(fields, CRON_FIELDS))
    dow = {d % 7 for d in out[4]}  # 7 is Sunday too
    return out[:4] + (dow,)


def longest_gap(expr: str) -> timedelta:
    """Longest interval between runs over one week (day-of-month and month fields must be '*')."""
    minute, hour, _, _, dow = parse_schedule(expr)
    if expr.split()[2:4] != ["*", "*"]:
        raise ValueError(f"{expr!r}: only day-of-week schedules are supported for lateness")
    # minutes of the week from Sunday 00:00 (cron's day 0)
    marks = sorted(d * 1440 + h * 60 + m for d in dow for h in hour for m in minute)
    gaps = [b - a for a, b in zip(marks, marks[1:])] + [marks[0] + 7 * 1440 - marks[-1]]
    return timedelta(minutes=max(gaps))


__all__ = ["Job", "JOBS", "SCHEDULED", "resolve", "expand_field", "parse_schedule", "longest_gap"]
