"""Weekly training alone, and with the hourly job and settlement looping beside it (as cron runs them), in one run.

    .venv/bin/python bench/bench_concurrency.py [--rounds 1] [--threads 1,2]

For each CPU_THREADS value: the real weekly training (production/weekly_training.py on all of ../shared's
football-data files, a fresh SQLite store each time) is timed alone, then again while two other processes run
production/hourly_predictions.py --force and production/results_settlement.py back to back on a sandbox world
until training ends (--loops 1: one such process at a time; --loops 2: two). The ratio (beside / alone) is what
CPU_THREADS is for: with one BLAS/OpenMP thread per job the jobs share two cores instead of fighting over them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, machine, measured, need_data

PY = sys.executable
TRAIN_NOW = "2024-07-01T02:00"
SANDBOX_NOW = "2026-01-12T12:00"


def env_for(work: Path, threads: int, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{work / 'predictions.db'}",
            "MODEL_DIR": str(work / "models"),
            "BACKUP_DIR": str(work / "backups"),
            "LOG_DIR": str(work / "logs"),
            "LOCK_DIR": str(work / "locks"),
            "CACHE_DIR": str(work / "cache"),
            "CPU_THREADS": str(threads),
        }
    )
    env.update(extra)
    return env


def training(work: Path, threads: int, data: Path) -> float:
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    env = env_for(work, threads, DATA_SOURCE="football-data", FOOTBALL_DATA_DIR=str(data), MAX_DATA_AGE_DAYS="100000")
    wall, _, code, out = measured(
        [PY, str(ROOT / "production" / "weekly_training.py"), "--now", TRAIN_NOW, "--quiet"], env
    )
    if code != 0:
        sys.exit(f"weekly training failed ({code}):\n{out[-2000:]}")
    return wall


def sandbox_world(work: Path, threads: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    env = env_for(work, threads, DATA_SOURCE="sandbox", VALIDATION_MATCHES="300")
    # the sandbox world only has to give the loops models to load: its gate is not what is measured
    for job, extra in (("weekly_training", ["--force-deploy"]), ("hourly_predictions", [])):
        r = subprocess.run(
            [PY, str(ROOT / "production" / f"{job}.py"), "--now", SANDBOX_NOW, "--quiet", *extra],
            env=env,
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            sys.exit(f"sandbox {job} failed ({r.returncode}): {r.stderr[-2000:]}")
    return env


def loop(env: dict, stop: threading.Event, runs: list) -> None:
    cmds = [
        [PY, str(ROOT / "production" / "hourly_predictions.py"), "--force", "--now", SANDBOX_NOW, "--quiet"],
        [PY, str(ROOT / "production" / "results_settlement.py"), "--now", SANDBOX_NOW, "--quiet"],
    ]
    i = 0
    while not stop.is_set():
        subprocess.run(cmds[i % 2], env=env, capture_output=True)
        runs.append(cmds[i % 2][1])
        i += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", default="1,2", help="CPU_THREADS values to compare")
    ap.add_argument(
        "--loops",
        type=int,
        default=1,
        help="processes running hourly + settlement back to back beside training (cron starts one "
        "job at a time on each schedule; 2 overstates it: three processes on two cores)",
    )
    args = ap.parse_args()
    data = need_data()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp:
        tmp = Path(tmp)
        for threads in [int(t) for t in args.threads.split(",")]:
            world = sandbox_world(tmp / f"sandbox{threads}", threads)
            for r in range(args.rounds):
                alone = training(tmp / "train", threads, data)
                stop, runs = threading.Event(), []
                loops = [threading.Thread(target=loop, args=(world, stop, runs)) for _ in range(args.loops)]
                for t in loops:
                    t.start()
                time.sleep(2)  # let the loops get going
                beside = training(tmp / "train", threads, data)
                stop.set()
                for t in loops:
                    t.join()
                print(
                    f"CPU_THREADS={threads} round {r + 1}: weekly training alone {alone:.1f} s, "
                    f"beside {args.loops} hourly + settlement loop(s) {beside:.1f} s ({len(runs)} runs beside it): "
                    f"ratio {beside / alone:.2f}"
                )


if __name__ == "__main__":
    main()
