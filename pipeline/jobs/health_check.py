"""The health check: one line per check, ✅ or ❌ with the reason; exit 0 only when every check passes.

It runs without the job lock and without needing the store (a dead database is one failed check, and the others
still run); it never creates anything (a missing SQLite file is a failed check), and on SQLite it runs
`PRAGMA quick_check`. Job freshness is judged against the job's own clock: a run's `run_for` (its --now) when it
was simulated, else its start time, compared with the health check's now (the machine clock, or its --now); runs
and predictions dated after that now are left out of every age and named in a failing "future rows" line. Stale
data (the newest result older than MAX_DATA_AGE_DAYS) and a missing fixtures source fail. When unhealthy it exits
1 with the failing lines on stdout (cron mails them when the crontab line does not redirect them) and runs
ALERT_COMMAND, if set, with them on stdin.

One line is a warning, not a check: when the fair closing-line value of the last 200 settled bets is below zero
at 95% confidence (pipeline.betting.performance.recent_clv), a ⚠️ line says so; the exit code is unchanged, since
the system works and an alarm that failed every run would hide real failures. Likewise a ⚠️ line while source rows
were rejected at the door in the last day (pipeline.store.rejected_rows).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.alert_command import run_alert_command
from pipeline.betting.performance import clv_alarm_line, recent_clv
from pipeline.errors import EXIT_UNHEALTHY, JobFailed
from pipeline.forecast import registry
from pipeline.jobs.health_rules import backup_verdict, source_verdict
from pipeline.jobs.history import stale_reason
from pipeline.jobs.logs import mask, write_stdout
from pipeline.jobs.runner import JobContext
from pipeline.jobs.table import SCHEDULED
from pipeline.store import job_runs, make_engine, newest_result, quick_check
from pipeline.store.backup_files import sqlite_path
from pipeline.store.bets import bets_pending_since
from pipeline.store.predictions import newest_prediction, predictions_dated_after
from pipeline.store.rejected_rows import rejected_rows_line

# job -> longest gap between its scheduled runs, for the jobs the table marks `watched`; a job is late when its
# last success is older than twice that plus 10 minutes. (The daily backup is judged by its files below.)
SCHEDULES = {job.name: job.every for job in SCHEDULED if job.watched and job.every is not None}
GRACE = timedelta(minutes=10)
MODEL_MAX_AGE = timedelta(days=14)  # two training cycles
BACKUP_MAX_AGE = timedelta(days=2)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # shown with ⚠️; does not fail the check (the system works, the bets do not)

    def line(self) -> str:
        if self.warning:
            return self.detail
        return f"✅ {self.detail}" if self.ok else f"❌ {self.name}: {self.detail}"


def _model_checks(st, now, newest) -> list[Check]:
    try:
        deployed = registry.load_deployed(st.model_dir)
    except registry.ModelLoadError as exc:
        return [Check("models", False, str(exc))]
    except OSError as exc:  # an unreadable MODEL_DIR: a failed check, the others still run
        where = exc.filename or st.model_dir
        return [Check("models", False, f"MODEL_DIR {st.model_dir} cannot be read ({exc.strerror or exc}: {where})")]
    note = (
        f" (copied by hand from {deployed.copied_from.name}; the next job records it)"
        if deployed.copied_from is not None
        else ""
    )
    out = [Check("models", True, "Models loaded successfully" + note)]
    trained = deployed.metadata.get("trained_at")
    end = deployed.metadata.get("training_end")
    age = now - datetime.fromisoformat(trained) if trained else None
    data_age = now - datetime.fromisoformat(end) if end else None
    newer_data = newest is not None and (end is None or newest > datetime.fromisoformat(end))
    if end is not None and data_age is not None and data_age > timedelta(days=st.max_data_age_days):
        out.append(
            Check(
                "model age",
                False,
                f"models were trained on results up to {end[:10]}, {data_age.days} "
                f"days old (MAX_DATA_AGE_DAYS={st.max_data_age_days:g})",
            )
        )
    elif age is not None and age > MODEL_MAX_AGE and (newer_data or end is None):
        # no retraining for two cycles while new results came in (none in a summer break is no fault)
        out.append(
            Check(
                "model age",
                False,
                f"models trained {age.days} days ago (more than two cycles) and results since then are not in them",
            )
        )
    else:
        out.append(
            Check("model age", True, f"Models trained {trained[:16] if trained else '?'} (version {deployed.version})")
        )
    return out


def _open_store(st):
    """An engine on the store, or the reason there is none. A missing SQLite file is reported, never created,
    and SQLite's quick_check finds damaged pages (a store that opens can still be damaged mid-file)."""
    if st.is_sqlite:
        path = sqlite_path(st.database_url)
        if not path.exists():
            return None, Check(
                "database",
                False,
                f"{path} does not exist (a misspelt DATABASE_URL? "
                "weekly_training.py or PredictionDatabase() creates it)",
            )
    engine = None
    try:
        engine = make_engine(st.database_url)
        with engine.connect() as conn:
            if st.is_sqlite:
                rows = quick_check(conn)
                if rows != ["ok"]:
                    engine.dispose()
                    return None, Check(
                        "database",
                        False,
                        f"integrity check failed ({'; '.join(rows)}): restore "
                        "the newest backup with backup.py --restore",
                    )
            job_runs.count_runs(conn)
        return engine, Check("database", True, "Database accessible")  # the guide's words; quick_check passed
    except Exception as exc:  # noqa: BLE001 - any failure here is "not accessible"
        if engine is not None:
            engine.dispose()
        orig = getattr(exc, "orig", None) or exc
        reason = str(orig).strip().splitlines()[0]
        if isinstance(orig, sqlite3.DatabaseError) and not isinstance(orig, sqlite3.OperationalError):
            # "malformed", "not a database": the file opens but its pages are damaged
            return None, Check(
                "database",
                False,
                f"integrity check failed ({reason}): restore the newest backup with backup.py --restore",
            )
        return None, Check("database", False, f"{st.safe_database_url} not accessible ({mask(reason, st)})")


def _newest_result(engine, source: str) -> datetime | None:
    with engine.connect() as conn:
        return newest_result(conn, source)


def _checks(ctx: JobContext) -> list[Check]:
    st, now = ctx.settings, ctx.now
    out: list[Check] = []
    engine, db_check = _open_store(st)
    newest = None
    if engine is not None:
        try:
            newest = _newest_result(engine, st.data_source)  # providers store rows under their DATA_SOURCE name
        except Exception:  # noqa: BLE001 - the store checks below report a broken store
            newest = None
    out.extend(_model_checks(st, now, newest))
    out.append(db_check)
    out.append(Check("data source", *source_verdict(st)))
    try:
        detail = ctx.provider.check(now)
        out.append(Check("api", True, f"API connection working ({detail})"))
    except Exception as exc:  # noqa: BLE001
        out.append(Check("api", False, mask(f"{type(exc).__name__}: {exc}", st)))
    if engine is not None:
        out.extend(_store_checks(engine, st, now))
        if newest is None:
            out.append(Check("data", False, "no finished match in the store: has weekly training read the source?"))
        else:
            age = now - newest
            ok = age <= timedelta(days=st.max_data_age_days)
            out.append(
                Check(
                    "data",
                    ok,
                    f"Newest result: {newest:%Y-%m-%d}"
                    + (
                        ""
                        if ok
                        else f", {age.days} days old (MAX_DATA_AGE_DAYS={st.max_data_age_days:g}): is the data "
                        "source still being updated?"
                    ),
                )
            )
        engine.dispose()
    try:
        target = st.model_dir if not st.is_sqlite else sqlite_path(st.database_url).parent
        while not target.exists() and target != target.parent:
            target = target.parent  # measure where it will be; creating it is not the health check's job
        free_mb = shutil.disk_usage(target).free // 2**20
        out.append(
            Check(
                "disk",
                free_mb >= st.min_free_disk_mb,
                f"Free disk {free_mb} MB"
                + ("" if free_mb >= st.min_free_disk_mb else f" below MIN_FREE_DISK_MB {st.min_free_disk_mb}"),
            )
        )
    except OSError as exc:
        out.append(Check("disk", False, f"cannot measure free disk: {exc.strerror}"))
    out.append(Check("backup", *backup_verdict(st, now, BACKUP_MAX_AGE)))
    return out


def _store_checks(engine, st, now) -> list[Check]:
    out = []
    with engine.connect() as conn:
        out.extend(_future_rows_check(conn, now))
        latest = newest_prediction(conn, not_after=now)
        out.append(
            Check(
                "latest prediction",
                latest is not None,
                f"Latest prediction: {latest:%Y-%m-%d %H:%M:%S}" if latest else "no predictions yet",
            )
        )
        for job, every in SCHEDULES.items():
            last = job_runs.last_success(conn, job, not_after=now)
            if last is None:
                out.append(Check(job, False, "never succeeded"))
                continue
            late = now - last > 2 * every + GRACE
            out.append(
                Check(
                    job,
                    not late,
                    f"{job} last succeeded {last:%Y-%m-%d %H:%M}"
                    + (f", later than its schedule ({every}) allows" if late else ""),
                )
            )
        stale = bets_pending_since(conn, now - timedelta(hours=st.pending_bet_grace_hours))
        out.append(
            Check(
                "pending bets",
                stale == 0,
                "No bet pending past its grace period"
                if stale == 0
                else f"{stale} bets still pending {st.pending_bet_grace_hours:g} h after kick-off",
            )
        )
        out.append(_run_history_check(conn, st))
        clv = recent_clv(conn)
        if clv["alarm"]:
            out.append(Check("fair clv", True, clv_alarm_line(clv), warning=True))
        elif clv["n"]:
            out.append(Check("fair clv", True, f"Fair CLV of the last {clv['n']} settled bets: {clv['mean']:+.2%}"))
        if rejected := rejected_rows_line(conn, now):  # bad source rows: the data is incomplete, the system works
            out.append(Check("rejected rows", True, rejected, warning=True))
    return out


def _future_rows_check(conn, now) -> list[Check]:
    """Runs and predictions dated after the check's clock: left out of every age above (a run given a --now in
    the future must not pass for a fresh one), and named in a failing line."""
    runs = job_runs.runs_dated_after(conn, now)
    n_pred, last_pred = predictions_dated_after(conn, now)
    if not runs and not n_pred:
        return []
    parts = [f"{r.job} {r.n} run(s) up to {r.latest:%Y-%m-%d %H:%M}" for r in runs]
    if n_pred:
        parts.append(f"{n_pred} prediction(s) up to {last_pred:%Y-%m-%d %H:%M}")
    return [
        Check(
            "future rows",
            False,
            f"dated after now ({now:%Y-%m-%d %H:%M} UTC), ignored above: {'; '.join(parts)} (a --now in the "
            "future on this store? find them with job_runs.run_for and predictions.prediction_time)",
        )
    ]


def _run_history_check(conn, st) -> Check:
    """Runs marked `running` whose process is gone or that are past their deadline, and jobs whose latest run
    was killed or abandoned: a run died without a word, and nothing has succeeded since."""
    wall = datetime.now(UTC)
    problems = []
    for row in job_runs.running_runs(conn):
        # by its pid and age only: probing the job's lock could make a run starting this instant skip
        verdict = stale_reason(row, st, wall, None)
        if verdict and job_runs.still_running(conn, row.id):
            problems.append(
                f"{row.job} run {row.id} (started {row.started_at:%Y-%m-%d %H:%M}) is marked running "
                f"but {'its process is gone' if verdict[0] == 'killed' else 'is past its deadline'}"
            )
    for row in job_runs.latest_runs_that_died(conn):
        problems.append(f"{row.job}'s latest run {row.id} (started {row.started_at:%Y-%m-%d %H:%M}) was {row.status}")
    if problems:
        return Check("job runs", False, "; ".join(problems))
    return Check("job runs", True, "No run left running or killed")


def _alert(ctx: JobContext, text_: str) -> None:
    """ALERT_COMMAND, when set, gets the failing lines on stdin (cron's MAILTO gets the same lines on stdout)."""
    problem = run_alert_command(
        ctx.settings.alert_command, text_, setting="ALERT_COMMAND", secrets=ctx.settings.secrets()
    )
    if problem:
        ctx.log.error("%s", problem)


def run(ctx: JobContext, as_json: bool = False, only_failures: bool = False) -> None:
    checks = _checks(ctx)
    failed = [c for c in checks if not c.ok]
    shown = failed if only_failures else checks
    if as_json and (shown or not only_failures):
        write_stdout(
            json.dumps(
                [{"check": c.name, "ok": c.ok, "detail": c.detail, "warning": c.warning} for c in shown], indent=2
            )
        )
    elif shown and not as_json:
        write_stdout("\n".join(c.line() for c in shown))
    if failed:
        _alert(
            ctx,
            f"football pipeline unhealthy at {ctx.now:%Y-%m-%d %H:%M} UTC\n"
            + "\n".join(c.line() for c in failed)
            + "\n",
        )
        raise JobFailed(f"unhealthy: {', '.join(c.name for c in failed)}", EXIT_UNHEALTHY)
