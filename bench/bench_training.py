#!/usr/bin/env python3
"""Weekly training on all of ../shared/data/football-data: the real job, wall time and peak memory; then how the
cost grows with the data (25%, 50%, 100% of the matches, most recent first) and which step dominates.

    .venv/bin/python bench/bench_training.py            # target: the job under 60 s and 1.5 GB
    .venv/bin/python bench/bench_training.py --skip-job # only the scaling table
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import click
from common import FOOTBALL_DATA, ROOT, machine, measured, need_data

NOW = "2024-07-01T02:00"  # after the last season in the files


def _child_train(fraction: float) -> None:
    """In a child process: load every file, keep the most recent `fraction`, train and validate the four models."""
    from pipeline.forecast.modelset import train_model_set
    from pipeline.providers.football_data import load_matches

    t = time.perf_counter()
    frame, _ = load_matches(FOOTBALL_DATA)
    frame = frame.sort_values("kickoff").tail(int(round(len(frame) * fraction)))
    load = time.perf_counter() - t
    t = time.perf_counter()
    result = train_model_set(frame)
    total = time.perf_counter() - t
    print(
        json.dumps(
            {
                "matches": len(frame),
                "load_csv": load,
                "train_total": total,
                **result.timings,
                "ensemble_log_loss": result.metrics["ensemble"]["log_loss"],
            }
        )
    )


def _history_import() -> str:
    """The football-data provider's history of every file, stored into a new SQLite store (what the first weekly
    run does before it trains)."""
    from datetime import datetime

    from pipeline.providers.football_data import FootballDataProvider
    from pipeline.store import make_engine, migrate, store_batch

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/p.db")
        migrate(engine, Path(tmp))
        now = datetime.fromisoformat(NOW).replace(tzinfo=UTC)
        t = time.perf_counter()
        batch = FootballDataProvider(data_dir=FOOTBALL_DATA).history(None, now, now)
        parsed = time.perf_counter() - t
        t = time.perf_counter()
        with engine.begin() as conn:
            stored = store_batch(conn, "football-data", batch, now)
        engine.dispose()
        return (
            f"history import: {len(batch.matches)} matches, {len(batch.odds)} odds snapshots, "
            f"{len(batch.problems)} problems; parsed in {parsed:.1f} s, stored in {time.perf_counter() - t:.1f} s "
            f"({stored})"
        )


@click.command()
@click.option("--skip-job", is_flag=True, help="Skip the end-to-end job runs.")
@click.option("--child-train", type=float, default=None, hidden=True)
def main(skip_job, child_train):
    if child_train is not None:
        _child_train(child_train)
        return
    need_data()
    print(machine())
    py = sys.executable
    print(_history_import())
    if not skip_job:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "DATA_SOURCE": "football-data",
                "FOOTBALL_DATA_DIR": str(FOOTBALL_DATA),
                "DATABASE_URL": f"sqlite:///{tmp}/predictions.db",
                "MODEL_DIR": f"{tmp}/models",
                "BACKUP_DIR": f"{tmp}/backups",
                "LOG_DIR": f"{tmp}/logs",
                "LOCK_DIR": f"{tmp}/locks",
                "CACHE_DIR": f"{tmp}/cache",
                "HISTORY_YEARS": "25",
            }
            job = [py, str(ROOT / "production" / "weekly_training.py"), "--now", NOW, "--quiet"]
            seen = 0
            for label in (
                "first run (ingests all files into a new SQLite store, trains, deploys)",
                "second run (store up to date: re-reads the files, trains, compares, deploys)",
            ):
                wall, mem, code, out = measured(job, env)
                print(f"weekly_training.py {label}: {wall:.1f} s wall, peak memory {mem:.0f} MB, exit {code}")
                if code != 0:
                    print(out)
                log = (Path(tmp) / "logs" / "weekly_training.log").read_text().splitlines()
                for line in log[seen:]:
                    if any(
                        k in line
                        for k in ("training on", "unseen matches", "weekly_training success", "weekly_training failed")
                    ):
                        print("  log:", line.split(" ", 3)[-1][:220])
                seen = len(log)
    print("\nscaling: train_model_set (four models, walk-forward validation) on the most recent share of the data")
    print(f"{'share':>6}{'matches':>9}{'wall s':>8}{'peak MB':>9}{'train s':>9}   steps (s)")
    for fraction in (0.25, 0.5, 1.0):
        wall, mem, code, out = measured([py, __file__, "--child-train", str(fraction)])
        if code != 0:
            print(out)
            continue
        r = json.loads(out.strip().splitlines()[-1])
        steps = {k: round(v, 1) for k, v in r.items() if k not in ("matches", "train_total", "ensemble_log_loss")}
        print(f"{fraction:>6.0%}{r['matches']:>9}{wall:>8.1f}{mem:>9.0f}{r['train_total']:>9.1f}   {steps}")


if __name__ == "__main__":
    main()
