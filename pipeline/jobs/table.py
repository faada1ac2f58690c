"""The job table: every production job once, with every property it has: entry point, kind, schedule, deadline,
lock, whether it may create the store, what the health check judges, and what its pod asks for on Kubernetes.

Everything else is read or generated from here: the runner's options (pipeline.jobs.cli), the deadlines and the
names `JOB_DEADLINES` may override (pipeline.config), lateness in the health check, the demo's clock, and the
deploy files (`python -m pipeline.jobs.table --write`, pipeline.jobs.generated): crontab.example,
deploy/container.crontab and the Kubernetes CronJobs and migration Job. Schedules are cron expressions in UTC.

Standard library only: pipeline.config imports it to check `JOB_DEADLINES`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
KINDS = ("scheduled", "manual", "deploy")
# A pod (or the migration Job) may run this much longer than the job's own deadline: start-up, and the runner's
# work after the deadline stops the job (recording the run, releasing the lock), so the job ends itself first.
POD_MARGIN = 60


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


DAYS = ("Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays")


def describe(expr: str) -> str:
    """A schedule in words, for the shapes the table uses; any other shape is given as it is written."""
    minute, hour, dom, month, dow = expr.split()
    if (dom, month) != ("*", "*"):
        return expr
    if hour == "*" and dow == "*":
        if minute.startswith("*/"):
            return f"every {minute[2:]} min"
        if minute.isdigit():
            return f"minute {minute}"
    if minute.isdigit() and hour.isdigit():
        at = f"{int(hour):02d}:{int(minute):02d}"
        if dow == "*":
            return f"daily {at}"
        if dow.isdigit():
            return f"{DAYS[int(dow) % 7]} {at}"
    return expr


@dataclass(frozen=True)
class Pod:
    """What a run's pod asks for on Kubernetes: (request, limit) pairs, from measured peaks (BENCHMARKS.md),
    memory requested at about the peak and limited at two to three times it, for growth of the data."""

    cpu: tuple[str, str]
    memory: tuple[str, str]
    measured: str  # the figures behind the numbers (a comment in the manifest)
    starting_deadline: int = 600  # seconds late a scheduled run may still start; the next run catches up
    starting_note: str = ""


@dataclass(frozen=True)
class Job:
    """One job. `name` is its script (production/<name>.py), its log (LOG_DIR/<name>.log), its lock and its
    `job_runs.job`. `entry` and `then` are "module:function" paths, called with (ctx, **options); `then` runs
    after `entry` in the same run (not on --dry-run).

    kind: "scheduled" (cron runs it on `schedule`), "manual" (by hand) or "deploy" (a deploy step).
    deadline: seconds a run may take before the runner stops it (exit 75; `JOB_DEADLINES` overrides it), None
    for a command that does not run through the runner (no lock, deadline or `job_runs` row).
    lock: a per-job lock (an overlapping run exits 0 as skipped). creates_store: may create a missing SQLite
    store (for the others a missing file is a misspelt DATABASE_URL, exit 69). needs_store: the runner opens and
    migrates the store before the job. watched: the health check fails when its last success is late.
    cron_mail: its cron line is not redirected, so cron mails what it prints (the health check's alarm).
    """

    name: str
    entry: str
    description: str
    doc: str = ""  # what it does, in full: its row of the README's job table (options as `--flag`)
    kind: str = "manual"
    schedule: str | None = None
    deadline: float | None = 3600.0
    lock: bool = True
    creates_store: bool = False
    needs_store: bool = True
    watched: bool = False
    cron_mail: bool = False
    then: str | None = None
    cron_args: tuple[str, ...] = ("--quiet",)  # the flags its scheduler (cron, a CronJob, a Job) passes
    runtime: str = ""  # measured run time, beside the pod's deadline in the manifest
    pod: Pod | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "scheduled") != (self.schedule is not None):
            raise ValueError(f"{self.name}: a schedule is what makes a job scheduled")
        if self.schedule is not None:
            parse_schedule(self.schedule)

    @property
    def script(self) -> str:
        return f"production/{self.name}.py"

    @property
    def log_name(self) -> str:
        return f"{self.name}.log"

    @property
    def k8s_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def every(self) -> timedelta | None:
        """The longest time between two scheduled runs (what lateness is measured against)."""
        return None if self.schedule is None else longest_gap(self.schedule)

    @property
    def when(self) -> str:
        """When it runs, in words (crontab.example's comments, the README's job table)."""
        return describe(self.schedule) if self.schedule else {"manual": "by hand", "deploy": "at deploy"}[self.kind]


JOBS: dict[str, Job] = {
    j.name: j
    for j in (
        Job(
            "weekly_training",
            "pipeline.jobs.weekly_training:run",
            "fetch results, rebuild players, retrain, validate, deploy through the gate",
            doc=(
                "fetch new results, rebuild the player database, retrain Elo, Dixon-Coles, XGBoost and the stacking "
                "ensemble, validate on the most recent held-out matches, deploy through the gate. `--dry-run`, "
                "`--force-deploy`, `--rollback [TIMESTAMP]`"
            ),
            kind="scheduled",
            schedule="0 2 * * 0",
            deadline=6 * 3600,
            creates_store=True,
            watched=True,
            runtime="measured 16-21 s; downloads with retries can take minutes",
            pod=Pod(
                cpu=("1", "2"),  # XGBoost and BLAS threads
                memory=("512Mi", "1Gi"),
                measured="314 MB peak on 37,434 matches (first run), 291 MB the week after",
                starting_deadline=6 * 3600,
                starting_note="up to 6 h late still trains this week",
            ),
        ),
        Job(
            "hourly_predictions",
            "pipeline.jobs.hourly_predictions:run",
            "fixtures in the next 48 h, predictions, value bets; then the lineup step",
            doc=(
                "fixtures in the next 48 h and their latest odds, predictions, value bets, stored in one transaction;"
                " then the lineup step. `--force`, `--dry-run`"
            ),
            kind="scheduled",
            schedule="0 * * * *",
            deadline=50 * 60,
            watched=True,
            then="pipeline.jobs.lineup_updates:run",
            runtime="measured 1.3 s for 1,000 fixtures, 3.2 s for 10,000, plus 1.5 s start-up",
            pod=Pod(("250m", "1"), ("256Mi", "512Mi"), "215 MB peak (models loaded, a sandbox hour)"),
        ),
        Job(
            "lineup_updates",
            "pipeline.jobs.lineup_updates:run",
            "re-predict fixtures within 2 h whose lineups are out",
            doc=(
                "fixtures within 2 h: when lineups are out (and changed), record them and re-predict with the players"
                " who start"
            ),
            kind="scheduled",
            schedule="*/15 * * * *",
            deadline=14 * 60,
            watched=True,
            runtime="measured 1.8 s for 200 fixtures",
            pod=Pod(("250m", "1"), ("256Mi", "512Mi"), "207 MB peak", starting_deadline=300),
        ),
        Job(
            "results_settlement",
            "pipeline.jobs.results_settlement:run",
            "results, settle bets, closing-line value, daily performance",
            doc=(
                "results of finished matches, settle pending bets (90-minute result), closing-line value against the "
                "fair sharp close, daily performance; names fixtures the source does not report; keeps a postponed "
                "match's bets pending while it may be played within `VOID_AFTER_HOURS` and voids bets that can no "
                "longer be settled (the rules under [The betting strategy](#the-betting-strategy)); settles again, "
                "with a warning line, a bet whose result the source corrected. By hand: `--void BET_ID` or "
                "`--settle BET_ID` with `--result` win/loss, and `--reason` (recorded in `bets.settlement_note`)"
            ),
            kind="scheduled",
            schedule="*/30 * * * *",
            deadline=25 * 60,
            watched=True,
            runtime="measured 1.6 s for 10,000 pending bets",
            pod=Pod(("250m", "1"), ("256Mi", "512Mi"), "181 MB peak"),
        ),
        Job(
            "backup",
            "pipeline.jobs.backup:run",
            "back up the store, models and .env",
            doc=(
                "online backup of the store with an integrity check, SQL dump, models and `.env` archived; `--restore"
                " FILE`"
            ),
            kind="scheduled",
            schedule="0 4 * * *",
            deadline=2 * 3600,
            # not watched: the health check judges the backup by its files (one line, not two)
            runtime="pg_dump's time grows with the store",
            pod=Pod(
                ("100m", "1"),
                ("128Mi", "512Mi"),
                "79 MB peak (the job; pg_dump streams to the file)",
                starting_deadline=6 * 3600,
                starting_note="a backup up to 6 h late is still today's",
            ),
        ),
        Job(
            "health_check",
            "pipeline.jobs.health_check:run",
            "one line per check; exit 0 when healthy",
            doc=(
                "one line per check (✅/❌), exit 0 when healthy, 1 (and `ALERT_COMMAND`) when not, a ⚠️ line when "
                "recent bets lose to the closing line; ages are judged against the machine clock (or `--now`), runs "
                "and predictions dated after it are left out and named in a ❌ `future rows` line; `--json`, "
                "`--quiet` (failing checks only)"
            ),
            kind="scheduled",
            schedule="*/10 * * * *",
            deadline=5 * 60,
            lock=False,  # it must answer while jobs run
            needs_store=False,  # a dead store is one failed check, not a failed run
            cron_mail=True,
            runtime="measured 3 s; a hung check is a failed check",
            pod=Pod(("100m", "1"), ("256Mi", "512Mi"), "199 MB peak (it loads the deployed models)", 300),
        ),
        Job(
            "report",
            "pipeline.jobs.report:run",
            "performance report and charts",
            doc=(
                "fair closing-line value and ROI with 95% intervals by league, month and bookmaker, by outcome, "
                "calibration, bankroll, the candidates the price-error guards set aside by rule; `--plot DIR` "
                "writes PNG charts"
            ),
            lock=False,
            cron_args=(),
        ),
        Job(
            "backtest",
            "pipeline.jobs.backtest:run",
            "walk-forward replay of history",
            doc=(
                "walk-forward replay of history with weekly refits, every model against the market on the same matches"
            ),
            deadline=None,
            cron_args=(),
        ),
        Job(
            "demo",
            "pipeline.jobs.demo:run",
            "the whole cycle on the simulated sandbox",
            doc="the whole cycle on the simulated sandbox",
            deadline=None,
            cron_args=(),
        ),
        Job(
            "migrate",
            "pipeline.jobs.migrate:run",
            "the store's schema to the latest revision (a deploy step)",
            doc=(
                "the store's schema to the latest revision, then exit (every job also migrates at start); the "
                "containers' migration step"
            ),
            kind="deploy",
            deadline=30 * 60,  # a schema change may rewrite a large table
            # no job lock: the migration is serialised by LOCK_DIR/migrate.lock, which a job lock of the same
            # name, taken first, would wait on forever
            lock=False,
            creates_store=True,
            cron_args=(),
            pod=Pod(("100m", "1"), ("128Mi", "256Mi"), "55 MB peak"),
        ),
    )
}
SCHEDULED = tuple(j for j in JOBS.values() if j.kind == "scheduled")


def pod_deadline(job: Job, deadline: float | None = None) -> int:
    """activeDeadlineSeconds of the job's pod: never shorter than the job's own deadline (or `deadline`, an
    operator's JOB_DEADLINES value), so the job stops itself and records why before Kubernetes kills it."""
    own = job.deadline if deadline is None else deadline
    if own is None:
        raise ValueError(f"{job.name} runs without a deadline")
    return int(own) + POD_MARGIN


def resolve(path: str) -> Callable:
    """The function named by a "module:function" path (imported when a job runs, not when the table is read)."""
    module, _, func = path.partition(":")
    return getattr(importlib.import_module(module), func)


def main(argv: list[str] | None = None) -> int:
    """`python -m pipeline.jobs.table --write | --check`: the files generated from this table."""
    return resolve("pipeline.jobs.generated:main")(argv)


__all__ = [
    "Job",
    "Pod",
    "JOBS",
    "KINDS",
    "SCHEDULED",
    "POD_MARGIN",
    "pod_deadline",
    "resolve",
    "expand_field",
    "parse_schedule",
    "longest_gap",
    "describe",
]


if __name__ == "__main__":
    sys.exit(main())
