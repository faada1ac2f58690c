"""The demo: the real production jobs, unchanged, against the simulated sandbox over two simulated weeks.

It runs each production script's command in this process (importing production/<job>.py and invoking its click
command with --now), on the schedule crontab.example gives them, by a simulated clock: weekly training on
Sundays 02:00 (and once at the start), hourly predictions at minute 0, lineup updates every 15 minutes,
settlement every 30 minutes, then a backup, a health check and the performance report. Everything is written to
a temporary directory unless --workdir says otherwise, so the real predictions.db and models/ are untouched.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.config import ROOT

JOBS = ("weekly_training", "hourly_predictions", "lineup_updates", "results_settlement", "backup",
        "health_check", "report")
DEMO_ENV_KEYS = ("DATABASE_URL", "DATA_SOURCE", "MODEL_DIR", "BACKUP_DIR", "LOG_DIR", "LOCK_DIR", "CACHE_DIR")


def _load_command(job: str):
    path = ROOT / "production" / f"{job}.py"
    spec = importlib.util.spec_from_file_location(f"production_{job}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


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
    t, end = start, start + timedelta(days=days)
    while t <= end:
        if t.weekday() == 6 and t.hour == 2 and t.minute == 0:
            yield t, "weekly_training"
        if t.minute == 0:
            yield t, "hourly_predictions"
        if t.minute % 30 == 0:
            yield t, "results_settlement"
        yield t, "lineup_updates"
        t += timedelta(minutes=15)


def demo_environment(workdir: Path, seed: int) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{workdir / 'predictions.db'}",
        "DATA_SOURCE": "sandbox", "SANDBOX_SEED": str(seed),
        "MODEL_DIR": str(workdir / "models"), "BACKUP_DIR": str(workdir / "backups"),
        "LOG_DIR": str(workdir / "logs"), "LOCK_DIR": str(workdir / "locks"), "CACHE_DIR": str(workdir / "cache"),
    }


def _counts_since(engine, since_id: int) -> dict:
    from sqlalchemy import func, select
    from pipeline import schema as s
    with engine.connect() as conn:
        def n(table, *where):
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()
        return {"predictions": n(s.predictions), "lineup predictions": n(s.predictions, s.predictions.c.uses_lineups),
                "bets": n(s.bets), "settled": n(s.bets, s.bets.c.status != "pending"),
                "failed runs": n(s.job_runs, s.job_runs.c.status == "failed", s.job_runs.c.id > since_id)}


def run_demo(start: datetime, days: int, workdir: Path | None, seed: int = 7, echo=print) -> int:
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="football-demo-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in DEMO_ENV_KEYS + ("SANDBOX_SEED",)}
    os.environ.update(demo_environment(workdir, seed))
    try:
        return _run(start, days, workdir, echo)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if tmp is not None:
            tmp.cleanup()


def _run(start: datetime, days: int, workdir: Path, echo) -> int:
    from pipeline.config import load_settings
    from pipeline.store import make_engine

    commands = {job: _load_command(job) for job in JOBS}
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
    for when, job in schedule(start, days):
        if when.date() != day:
            if day is not None:
                c = _counts_since(engine, 0)
                echo(f"[{time.monotonic() - t0:6.1f}s] {day}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
            day = when.date()
        code, _ = invoke(commands[job], ["--now", when.isoformat(), "--quiet"])
        if code != 0:
            failures += 1
            echo(f"  {when:%Y-%m-%d %H:%M} {job} exited {code} (see {workdir / 'logs' / (job + '.log')})")
    end = start + timedelta(days=days)
    c = _counts_since(engine, 0)
    echo(f"[{time.monotonic() - t0:6.1f}s] {day}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    code, out = invoke(commands["backup"], ["--now", end.isoformat(), "--quiet"])
    echo(f"backup: exit {code}")
    code, out = invoke(commands["health_check"], ["--now", end.isoformat()])
    echo("health check:\n" + out.rstrip())
    _, out = invoke(commands["report"], [])
    echo("\n" + out.rstrip())
    engine.dispose()
    echo(f"\nDemo finished in {time.monotonic() - t0:.0f}s with {failures} failed job runs. "
         "All figures above are from simulated matches.")
    return 0 if failures == 0 else 1


def parse_start(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


