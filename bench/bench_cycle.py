#!/usr/bin/env python3
"""The frequent jobs at scale, on a sandbox with many leagues (no network: the sandbox is in-process).

- hourly_predictions for about 100, 1,000 and 10,000 upcoming fixtures (targets: 1,000 under 5 s);
- results_settlement of 10,000 pending bets (target: under 3 s);
- lineup_updates for 200 fixtures (target: under 3 s).

Each job runs through the real runner (lock, job_runs, logging, store) on a SQLite file, timed from the outside.
To put thousands of fixtures in one run the sandbox here prices every fixture of the window (the real one prices
a fixture from 7 days before kick-off) and releases lineups whenever asked (the real one from 60 minutes before):
bench-only changes of what the provider answers, not of the jobs.

    .venv/bin/python bench/bench_cycle.py [--leagues 40]
"""

from __future__ import annotations

import dataclasses
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from common import machine

UTC = UTC


def wide_sandbox(leagues: int, seed: int):
    from pipeline.providers.base import Batch
    from pipeline.providers.sandbox import BOOKS, SandboxProvider

    class WideSandbox(SandboxProvider):
        def fixtures(self, start, end, now):
            batch = Batch()
            hour = now.replace(minute=0, second=0, microsecond=0)
            for m in self._matches(start, end):
                batch.matches.append(self._match(m, now))
                if now < m["kickoff"]:
                    batch.odds.extend(self._price(m, hour, book) for book in BOOKS)
            return batch

        def lineups(self, match_ids, now):
            early = now + timedelta(days=400)  # as if every lineup were out
            return super().lineups(match_ids, early)

    return WideSandbox(seed=seed, leagues=leagues, first_season=2024)


def copy_store(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchone()[0]


def timed_job(job: str, func, settings, now, provider) -> tuple[float, int]:
    from pipeline.jobs.runner import run_job
    from pipeline.jobs.table import JOBS

    t = time.perf_counter()
    create = JOBS[job].creates_store  # weekly training sets the base store up
    code = run_job(job, func, now=now, settings=settings, provider=provider, quiet=True, create_store=create)
    return time.perf_counter() - t, code


@click.command()
@click.option("--leagues", default=40, show_default=True, help="Sandbox leagues of 20 teams (10 fixtures a week each).")
@click.option("--sizes", default="100,1000,10000", show_default=True)
@click.option("--bets", "n_bets", default=10000, show_default=True)
@click.option("--lineups", "n_lineups", default=200, show_default=True)
def main(leagues, sizes, n_bets, n_lineups):
    from pipeline.config import load_settings
    from pipeline.jobs.hourly_predictions import run as run_hourly
    from pipeline.jobs.lineup_updates import run as run_lineup_updates
    from pipeline.jobs.results_settlement import run as run_settlement
    from pipeline.jobs.weekly_training import run as run_weekly_training

    print(machine())
    provider = wide_sandbox(leagues, seed=7)
    now = datetime(2026, 8, 20, 9, 0, tzinfo=UTC)
    tmp = Path(tempfile.mkdtemp(prefix="bench_cycle_"))
    base_db = tmp / "trained.db"
    env = {
        "DATA_SOURCE": "sandbox",
        "MODEL_DIR": str(tmp / "models"),
        "BACKUP_DIR": str(tmp / "backups"),
        "LOG_DIR": str(tmp / "logs"),
        "LOCK_DIR": str(tmp / "locks"),
        "HISTORY_YEARS": "2",
    }
    base = load_settings(env, dotenv=Path("/nonexistent"), database_url=f"sqlite:///{base_db}")

    t = time.perf_counter()
    _, code = timed_job("weekly_training", run_weekly_training, base, now - timedelta(days=4), provider)
    print(
        f"setup: weekly training on {leagues} sandbox leagues, 2 seasons: {time.perf_counter() - t:.0f} s, "
        f"exit {code}; {count(base_db, 'SELECT COUNT(*) FROM fixtures')} fixtures in the store"
    )
    if code:
        raise SystemExit("training failed: see " + str(tmp / "logs"))

    kickoffs = sorted(
        m.kickoff for m in provider.fixtures(now, now + timedelta(weeks=40), now).matches if m.kickoff > now
    )

    def horizon(n: int) -> float:
        if n > len(kickoffs):
            raise SystemExit(f"only {len(kickoffs)} fixtures in 40 weeks: use more --leagues")
        return (kickoffs[n - 1] - now).total_seconds() / 3600 + 0.01

    print(f"\n{'job':<22}{'fixtures':>9}{'wall s':>8}  what it wrote")
    last_db = None
    for n in (int(x) for x in sizes.split(",")):
        db = tmp / f"hourly_{n}.db"
        copy_store(base_db, db)
        settings = dataclasses.replace(base, database_url=f"sqlite:///{db}", prediction_horizon_hours=horizon(n))
        wall, code = timed_job("hourly_predictions", run_hourly, settings, now, provider)
        print(
            f"{'hourly_predictions':<22}{n:>9}{wall:>8.2f}  exit {code}: "
            f"{count(db, 'SELECT COUNT(*) FROM predictions')} predictions, "
            f"{count(db, 'SELECT COUNT(*) FROM bets')} bets "
            f"(horizon {settings.prediction_horizon_hours:.0f} h)"
        )
        last_db = (db, settings) if n >= n_bets else last_db

    # settlement: one pending bet for each of n_bets predicted fixtures (beside the strategy's own bets)
    if last_db is None:
        print("settlement skipped: no hourly run with as many fixtures as --bets")
    else:
        db, settings = last_db
        with sqlite3.connect(db) as con:
            con.execute(f"""
                INSERT INTO bets (fixture_id, prediction_id, bet_outcome, bookmaker, odds, stake, edge, model_prob,
                                  lineup_based, status, placed_at)
                SELECT p.fixture_id, MAX(p.id), 'draw', 'sim_book_a', 3.4, 1.0, 0.0, 0.3, 0, 'pending',
                       '{now:%Y-%m-%d %H:%M:%S}.000000'
                FROM predictions p
                WHERE NOT EXISTS (SELECT 1 FROM bets b WHERE b.fixture_id = p.fixture_id AND b.bet_outcome = 'draw')
                GROUP BY p.fixture_id ORDER BY p.fixture_id LIMIT {n_bets}""")
        pending = count(db, "SELECT COUNT(*) FROM bets WHERE status = 'pending'")
        last_kickoff = kickoffs[n_bets - 1]
        wall, code = timed_job(
            "results_settlement", run_settlement, settings, last_kickoff + timedelta(hours=3), provider
        )
        print(
            f"{'results_settlement':<22}{pending:>9}{wall:>8.2f}  exit {code}: "
            f"{count(db, 'SELECT COUNT(*) FROM bets WHERE status != ' + chr(39) + 'pending' + chr(39))} bets "
            f"settled or void, {count(db, 'SELECT COUNT(*) FROM results')} results (pending bets before)"
        )

    db = tmp / "lineups.db"
    copy_store(base_db, db)
    settings = dataclasses.replace(
        base, database_url=f"sqlite:///{db}", prediction_horizon_hours=horizon(n_lineups), lineup_window_hours=0.001
    )  # the hourly run's own lineup step finds nothing
    timed_job("hourly_predictions", run_hourly, settings, now, provider)
    settings = dataclasses.replace(settings, lineup_window_hours=horizon(n_lineups))
    wall, code = timed_job("lineup_updates", run_lineup_updates, settings, now, provider)
    print(
        f"{'lineup_updates':<22}{n_lineups:>9}{wall:>8.2f}  exit {code}: "
        f"{count(db, 'SELECT COUNT(*) FROM lineup_updates')} lineup updates, "
        f"{count(db, 'SELECT COUNT(*) FROM predictions WHERE uses_lineups')} lineup-based predictions"
    )
    print(f"\nstores and logs kept in {tmp}")


if __name__ == "__main__":
    main()
