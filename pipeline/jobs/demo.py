"""The demo: the real production jobs, unchanged, against the simulated sandbox over a few simulated days (by
default Friday to Monday: a weekend round's predictions, lineups, bets and results, and Sunday's retraining).

It runs each production script's command in this process (the click commands of pipeline.jobs.cli that
production/<job>.py runs, with --now), on the schedules of the job table (pipeline.jobs.table, from which
crontab.example is generated), by a simulated clock: weekly training on
Sundays 02:00 (and once at the start), hourly predictions at minute 0, lineup updates every 15 minutes,
settlement every 30 minutes, then a backup, a health check and the performance report. Everything is written to
a temporary directory unless --workdir says otherwise, so the real predictions.db and models/ are untouched.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.config import default_environment, load_settings
from pipeline.jobs.cli import COMMANDS
from pipeline.jobs.table import SCHEDULED, parse_schedule
from pipeline.markets import MARKETS
from pipeline.store import make_engine
from pipeline.store.summary import bets_with_kickoff, cycle_counts
from pipeline.value_stats import mean_ci

ALERTS = "bet_alerts.txt"
# run on the simulated clock in this order at each tick; backup, health check and report run once at the end
CYCLE = ("weekly_training", "hourly_predictions", "results_settlement", "lineup_updates")
TICK = timedelta(minutes=15)


def invoke(command, args: list[str], capture: bool = True) -> tuple[int, str]:
    """Run a click command as cron would, returning its exit code and (captured) stdout."""
    out = io.StringIO()
    redirect = contextlib.redirect_stdout(out) if capture else contextlib.nullcontext()
    with redirect:
        try:
            command.main(args=args, prog_name=command.name, standalone_mode=False)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue()


def schedule(start: datetime, days: int):
    """(time, job) pairs in the order cron would start them, every 15 minutes over `days` days (end included)."""
    schedules = {job.name: parse_schedule(job.schedule) for job in SCHEDULED if job.name in CYCLE and job.schedule}
    t, end = start, start + timedelta(days=days)
    while t <= end:
        cron_dow = (t.weekday() + 1) % 7  # cron counts from Sunday = 0
        for job in CYCLE:
            minute, hour, dom, month, dow = schedules[job]
            if t.minute in minute and t.hour in hour and t.day in dom and t.month in month and cron_dow in dow:
                yield t, job
        t += TICK


def demo_environment(workdir: Path, seed: int) -> dict[str, str]:
    """Every setting, at its default unless the demo needs otherwise: nothing in the operator's `.env` or
    environment (VALIDATION_MATCHES, DATA_SOURCE, ALERT_COMMAND...) changes what the demo does or where it writes."""
    return {
        **default_environment(),
        "DATABASE_URL": f"sqlite:///{workdir / 'predictions.db'}",
        "DATA_SOURCE": "sandbox",
        "DEPLOYMENT": "demo",
        "SANDBOX_SEED": str(seed),
        "MODEL_DIR": str(workdir / "models"),
        "BACKUP_DIR": str(workdir / "backups"),
        "LOG_DIR": str(workdir / "logs"),
        "LOCK_DIR": str(workdir / "locks"),
        "CACHE_DIR": str(workdir / "cache"),
        # each new bet as the jobs send it (README "Bet alerts"), into a file the demo shows
        "BET_ALERT_COMMAND": f"cat >> {shlex.quote(str(workdir / ALERTS))}",
    }


def clv_text(bets, what: str = "settled") -> str:
    """The fair CLV of `bets`' settled ones with a CLV, its clustered 95% interval (by match day)."""
    settled = bets[(bets["status"] == "settled") & bets["clv"].notna()]
    if not len(settled):
        return f"none {what} yet"
    days = [t.date() for t in settled["kickoff_time"]]
    m, lo, hi = mean_ci(settled["clv"].astype(float), days)
    # clustered by match day: with the demo's few days the interval is rough, so it says how many
    ci = f" (95% interval {lo:+.2%} to {hi:+.2%}, {len(set(days))} match days)" if hi == hi else ""
    return f"fair CLV of the {len(settled)} {what}: {m:+.2%}{ci}"


def value_line(engine, clv_method: str) -> str:
    """Where the demo's bets went and their fair closing-line value (the sandbox's sharp book is the yardstick),
    overall and per market (1X2, over/under, Asian handicap: a two-way bet graded at its own line)."""
    bets = bets_with_kickoff(engine)
    if bets.empty:
        return "Value bets: none placed."
    books = ", ".join(f"{k} {v}" for k, v in bets["bookmaker"].value_counts().items())
    lines = [f"Value bets at the soft books ({books}); {clv_text(bets)}."]
    lines.append(f"By market (fair CLV against the sharp close at the bet's own line, CLV_METHOD {clv_method}):")
    for market in MARKETS:
        mine = bets[bets["market"] == market]
        if mine.empty:
            lines.append(f"  {market}: no bets")
            continue
        done = mine[mine["status"] == "settled"]
        no_close = int(done["clv"].isna().sum())
        lines.append(
            f"  {market}: {len(mine)} bets ({len(done)} settled: staked {done['stake'].astype(float).sum():.2f}, "
            f"profit {done['profit_loss'].astype(float).sum():+.2f}); {clv_text(mine, 'graded')}"
            + (f"; {no_close} settled without a sharp close at their line" if no_close else "")
        )
    return "\n".join(lines)


def show_ledger(bets_command, alerts: Path, when: datetime, echo) -> int:
    """The first bet alert as the user gets it, then the ledger: the first bet placed a little below its
    recommended price, the second skipped. Returns the number of failed commands."""
    lines = alerts.read_text().splitlines()
    echo(f"  {when:%Y-%m-%d %H:%M} bet alert (BET_ALERT_COMMAND gets one line per new bet):")
    for line in lines:
        echo("    " + line)
    ids = [line.rsplit(" bet ", 1)[-1] for line in lines]
    price, floor = (float(lines[0].split(f"| {k} ")[1].split(" |")[0]) for k in ("price", "min"))
    steps = [["place", ids[0], "--odds", f"{max(floor, price - 0.05):.2f}"]]  # a little less than recommended
    if len(ids) > 1:
        steps.append(["skip", ids[1], "--reason", "price gone"])
    failed = 0
    for step in steps:
        code, out = invoke(bets_command, ["--now", when.isoformat(), *step])
        echo(f"  $ python production/bets.py {shlex.join(step)}\n" + "\n".join("    " + ln for ln in out.splitlines()))
        failed += code != 0
    return failed


def run(start: datetime, days: int, workdir: Path | None, seed: int = 7, echo=print) -> int:
    """The demo; returns the exit code (0 when every job run succeeded)."""
    temporary = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="football-demo-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    environment = demo_environment(workdir, seed)
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    code = 1
    try:
        code = _run(start, days, workdir, echo)
        return code
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if temporary and code == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        elif temporary:  # the messages above point into it
            echo(f"The demo's files are kept in {workdir} (logs in {workdir / 'logs'}); delete it when done.")


def _run(start: datetime, days: int, workdir: Path, echo) -> int:
    commands = COMMANDS
    echo(f"Demo: simulated data (sandbox), {days} days from {start:%Y-%m-%d %H:%M} UTC, working in {workdir}")
    echo("Every job below is the production script's own command, run with --now on the simulated clock.")
    t0 = time.monotonic()
    code, _ = invoke(commands["weekly_training"], ["--now", start.isoformat(), "--quiet"])
    echo(f"[{time.monotonic() - t0:6.1f}s] initial weekly training: exit {code}")
    if code != 0:
        echo("training failed; see the log in " + str(workdir / "logs" / "weekly_training.log"))
        return code
    engine = make_engine(load_settings().database_url)
    failures = 0
    day = None
    shown_ledger = False
    for when, job in schedule(start, days):
        if when.date() != day:
            if day is not None:
                c = cycle_counts(engine)
                echo(f"[{time.monotonic() - t0:6.1f}s] {day}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
            day = when.date()
        code, _ = invoke(commands[job], ["--now", when.isoformat(), "--quiet"])
        if code != 0:
            failures += 1
            echo(f"  {when:%Y-%m-%d %H:%M} {job} exited {code} (see {workdir / 'logs' / (job + '.log')})")
        if not shown_ledger and (workdir / ALERTS).is_file():
            shown_ledger = True
            failures += show_ledger(commands["bets"], workdir / ALERTS, when, echo)
    end = start + timedelta(days=days)
    c = cycle_counts(engine)
    echo(f"[{time.monotonic() - t0:6.1f}s] {day}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    code, out = invoke(commands["backup"], ["--now", end.isoformat(), "--quiet"])
    echo(f"backup: exit {code}")
    code, out = invoke(commands["health_check"], ["--now", end.isoformat()])
    echo("health check:\n" + out.rstrip())
    _, out = invoke(commands["report"], [])
    echo("\n" + out.rstrip())
    echo("\n" + value_line(engine, load_settings().clv_method))
    alerts = (workdir / ALERTS).read_text().splitlines() if (workdir / ALERTS).is_file() else []
    echo(f"Bet alerts: {len(alerts)} lines, one per bet as it was placed (BET_ALERT_COMMAND wrote them to {ALERTS}).")
    engine.dispose()
    echo(
        f"\nDemo finished in {time.monotonic() - t0:.0f}s with {failures} failed job runs. "
        "All figures above are from simulated matches."
    )
    return 0 if failures == 0 else 1
