"""Every production script's command line, in one place (as sqlite-utils keeps its `cli.py` thin over `db.py`).

Each command parses its options and makes one call: `run_named(job, ...)` runs the job table's entry point
through the runner (lock, `job_runs` row, logging, exit code). `production/<job>.py` only imports its command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, date
from pathlib import Path

import click

from pipeline.config import ConfigError
from pipeline.jobs import container as container_entry
from pipeline.jobs import health_alarm
from pipeline.jobs.ledger import bets
from pipeline.jobs.runner import parse_now, run_job
from pipeline.jobs.table import JOBS, resolve


def _check_now(ctx, param, value):
    """A bad --now is a bad command line (exit 2, like any bad option value), not a configuration error."""
    try:
        parse_now(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("--now "), ctx=ctx, param=param) from None
    return value


def _remember_allow_future(ctx, param, value):
    ctx.meta["allow_future"] = value  # read by run_named: the commands need not pass it along
    return value


def job_options(f: Callable) -> Callable:
    """--now, --allow-future and --quiet, shared by the scheduled jobs."""
    f = click.option(
        "--allow-future",
        is_flag=True,
        expose_value=False,
        callback=_remember_allow_future,
        help="Accept a --now later than the machine clock on a store that is not simulated (a deliberate replay "
        "into a scratch store).",
    )(f)
    f = click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr (the log file has all).")(
        f
    )
    f = click.option(
        "--now",
        metavar="ISO_TIME",
        default=None,
        callback=_check_now,
        help="Run as if the time were this (UTC unless an offset is given), e.g. 2026-01-20T13:00.",
    )(f)
    return f


def job_function(name: str, **options) -> Callable:
    """The job's entry point bound to its options, followed by its `then` step (skipped on a dry run)."""
    job = JOBS[name]
    entry = resolve(job.entry)
    then = resolve(job.then) if job.then and not options.get("dry_run") else None

    def call(ctx) -> None:
        entry(ctx, **options)
        if then is not None:
            then(ctx)

    return call


def run_named(
    name: str, *, now: str | None = None, quiet: bool = False, runner_options: dict | None = None, **options
) -> int:
    """Run job `name` with `options` through the runner; returns the exit code.

    The runner's options are the job table's (lock, whether the store must exist and whether it may be created);
    `runner_options` overrides them for one invocation (a restore never opens the store it replaces).
    """
    job = JOBS[name]
    table_options = {"lock": job.lock, "needs_store": job.needs_store, "create_store": job.creates_store}
    click_ctx = click.get_current_context(silent=True)
    allow_future = bool(click_ctx and click_ctx.meta.get("allow_future"))
    return run_job(
        name,
        job_function(name, **options),
        now=now,
        quiet=quiet,
        allow_future=allow_future,
        **{**table_options, **(runner_options or {})},
    )


def _exit(code: int) -> None:
    sys.exit(code)


@click.command(
    help=f"Weekly training (cron: {JOBS['weekly_training'].when}): fetch results, rebuild the player database, retrain "
    "the models, validate on the most recent matches, deploy through the gate."
)
@click.option("--dry-run", is_flag=True, help="Train and validate, record the report, deploy nothing.")
@click.option("--force-deploy", is_flag=True, help="Deploy even if the validation gate fails (recorded as forced).")
@click.option(
    "--rollback",
    "rollback",
    is_flag=False,
    flag_value="latest",
    default=None,
    metavar="[TIMESTAMP]",
    help="Restore a model backup (the latest, or backup_TIMESTAMP e.g. 20260118_020000) instead of training.",
)
@job_options
def weekly_training(dry_run, force_deploy, rollback, now, quiet):
    if rollback is not None and (dry_run or force_deploy):
        raise click.UsageError("--rollback cannot be combined with --dry-run or --force-deploy")
    _exit(
        run_named(
            "weekly_training", now=now, quiet=quiet, dry_run=dry_run, force_deploy=force_deploy, rollback=rollback
        )
    )


@click.command(
    help=f"Hourly predictions (cron: {JOBS['hourly_predictions'].when}): fixtures in the next 48 hours, "
    "predictions, value bets, stored; then the lineup step."
)
@click.option("--force", is_flag=True, help="Predict again even fixtures already predicted from the same odds.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@job_options
def hourly_predictions(force, dry_run, now, quiet):
    _exit(run_named("hourly_predictions", now=now, quiet=quiet, force=force, dry_run=dry_run))


@click.command(
    help=f"Lineup updates (cron: {JOBS['lineup_updates'].when}): fixtures within LINEUP_WINDOW_HOURS whose lineups "
    "are out are re-predicted with the players who start."
)
@job_options
def lineup_updates(now, quiet):
    _exit(run_named("lineup_updates", now=now, quiet=quiet))


@click.command(
    help=f"Results settlement (cron: {JOBS['results_settlement'].when}): results of finished matches, settle pending "
    "bets, closing-line value, daily performance. --void BET_ID or --settle BET_ID --result "
    "win|loss, with --reason, settle one pending bet by hand instead (recorded)."
)
@click.option(
    "--void",
    "void_id",
    type=click.IntRange(1),
    default=None,
    metavar="BET_ID",
    help="Void this pending bet by hand (needs --reason).",
)
@click.option(
    "--settle",
    "settle_id",
    type=click.IntRange(1),
    default=None,
    metavar="BET_ID",
    help="Settle this pending bet by hand (needs --result and --reason).",
)
@click.option("--result", type=click.Choice(["win", "loss"]), default=None, help="The result for --settle.")
@click.option("--reason", default=None, help="Why, recorded in bets.settlement_note.")
@job_options
def results_settlement(void_id, settle_id, result, reason, now, quiet):
    if void_id is None and settle_id is None:
        if result or reason:
            raise click.UsageError("--result and --reason go with --void or --settle")
        _exit(run_named("results_settlement", now=now, quiet=quiet))
    if void_id is not None and settle_id is not None:
        raise click.UsageError("--void and --settle cannot be combined")
    if not (reason or "").strip():
        raise click.UsageError("--reason is required with --void and --settle (it is recorded)")
    if settle_id is not None and result is None:
        raise click.UsageError("--settle needs --result win or --result loss")
    if void_id is not None and result is not None:
        raise click.UsageError("--result goes with --settle, not --void")
    _exit(
        run_named(
            "results_settlement",
            now=now,
            quiet=quiet,
            void=void_id,
            settle=settle_id,
            result=result,
            reason=reason.strip(),
        )
    )


@click.command(
    help=f"Backup (cron: {JOBS['backup'].when}): the store (online, integrity-checked, plus an SQL dump), the "
    "deployed models and .env; --restore FILE puts a backup back."
)
@click.option(
    "--restore",
    "restore_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Restore the store from this backup (predictions_*.db, or *.dump for PostgreSQL).",
)
@job_options
def backup(restore_file, now, quiet):
    # a restore never opens the live store first: it may be what is damaged
    _exit(
        run_named(
            "backup",
            now=now,
            quiet=quiet,
            restore_file=restore_file,
            runner_options={"needs_store": False} if restore_file is not None else None,
        )
    )


@click.command(
    help=f"Health check (cron: {JOBS['health_check'].when}): one line per check (models, database, data, "
    "jobs, bets, backups, disk); exit 0 when healthy, 1 when not (and ALERT_COMMAND runs). With --quiet only "
    "failing checks are printed, so cron mails nothing while all is well."
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON for monitoring tools.")
@job_options
def health_check(as_json, now, quiet):
    # whatever stops the check before its checks (settings, .env, LOG_DIR, the check itself) is an alarm too
    def run(**options) -> int:
        return run_named("health_check", quiet=True, **options)

    _exit(health_alarm.checked(run, as_json=as_json, now=now, only_failures=quiet))


@click.command(
    help="Performance report: fair closing-line value and ROI with 95% intervals by league, month and "
    "bookmaker, by outcome, calibration, bankroll; a warning when recent bets lose to the close."
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write bankroll.png, profit.png, clv_by_month.png and calibration.png into this directory.",
)
def report(plot_dir):
    _exit(run_named("report", quiet=True, plot_dir=plot_dir))


@click.command(
    help="Walk-forward backtest on football-data.co.uk files: weekly refits, every model against the "
    "market on the same matches, value bets at the best soft price against the fair sharp line, "
    "graded by fair closing-line value."
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A directory laid out like the site: DIR/mmz4281/<season>/<Div>.csv.",
)
@click.option("--leagues", default=None, help="Comma-separated divisions, e.g. E0,D1 (default: every file found).")
@click.option("--from", "start", required=True, metavar="DATE", help="First day of the test period, e.g. 2019-07-01.")
@click.option("--to", "end", required=True, metavar="DATE", help="Day after the test period, e.g. 2024-06-30.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the numbers to this JSON file.",
)
@click.option(
    "--predictions",
    "predictions_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write every test match's probabilities and every price used to this CSV file.",
)
@click.option(
    "--bets",
    "bets_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the value rule's bets (every market, with its line, settlement and CLV) to this CSV file.",
)
@click.option(
    "--xgb-refit-weeks",
    type=click.IntRange(1, 52),
    default=1,
    show_default=True,
    help="Refit XGBoost every N weeks (Elo, Dixon-Coles and the ensemble are refitted weekly).",
)
def backtest(data_dir, leagues, start, end, json_path, predictions_path, bets_path, xgb_refit_weeks):
    for name, value in (("--from", start), ("--to", end)):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}", param_hint=name) from None
    codes = [c.strip() for c in leagues.split(",") if c.strip()] if leagues else None
    entry = resolve(JOBS["backtest"].entry)
    _exit(entry(data_dir, codes, start, end, json_path, xgb_refit_weeks, predictions_path, bets_path=bets_path))


@click.command(
    help="The demo: weekly training, then simulated days of hourly predictions, lineup updates and "
    "settlement on the sandbox, a backup, a health check and the report. Touches nothing outside "
    "a temporary directory unless --workdir is given."
)
@click.option(
    "--days",
    type=click.IntRange(1, 60),
    default=3,
    show_default=True,
    help="Simulated days to run (the default: Friday to Monday, a weekend round with a Sunday retrain).",
)
@click.option("--start", default="2026-01-16T00:00", show_default=True, help="Simulated start time (UTC).")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's store, models, logs and backups here (default: a temporary directory).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="The simulated world's seed.")
def demo(days, start, workdir, seed):
    from datetime import datetime

    try:
        when = datetime.fromisoformat(start)
    except ValueError:
        raise click.BadParameter(f"not an ISO time: {start!r}", param_hint="--start") from None
    when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    _exit(resolve(JOBS["demo"].entry)(when, days, workdir, seed))


@click.command(
    help="Bring the store's schema to the latest revision and exit: the deploy's migration step (every "
    "job also migrates at start; this runs it alone, before them)."
)
@job_options
def migrate(now, quiet):
    _exit(run_named("migrate", now=now, quiet=quiet))


@click.command(
    help="The container image's entry points: by default every job's --help (the image's default "
    "command); --scheduler FILE runs FILE's jobs on its schedule with supercronic (the compose scheduler, "
    "on deploy/container.crontab, which the job table generates)."
)
@click.option(
    "--scheduler",
    "scheduler",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Run this crontab's jobs on its schedule with supercronic.",
)
def container(scheduler):
    _exit(container_entry.run_scheduler(scheduler) if scheduler else container_entry.jobs_help(COMMANDS))


COMMANDS: dict[str, click.Command] = {
    "weekly_training": weekly_training,
    "hourly_predictions": hourly_predictions,
    "lineup_updates": lineup_updates,
    "results_settlement": results_settlement,
    "backup": backup,
    "health_check": health_check,
    "report": report,
    "backtest": backtest,
    "demo": demo,
    "migrate": migrate,
    "container": container,
    "bets": bets,
}

__all__ = ["COMMANDS", "job_options", "job_function", "run_named", *COMMANDS]
