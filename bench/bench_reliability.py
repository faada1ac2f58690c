#!/usr/bin/env python3
"""The reliability checks of tests/test_reliability.py at full strength (minutes, so not in the test suite):
20 rounds of the four cron jobs started at the same instant (weekly training, hourly predictions, lineup updates,
settlement) on SQLite and on PostgreSQL, and 20 SIGKILLs each of the hourly and settlement jobs.

    .venv/bin/python bench/bench_reliability.py [--rounds 20] [--kills 20]

PostgreSQL: TEST_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
The crash-during-deploy check (20 SIGKILLs through the deploy step) runs in the test suite itself:
tests/test_registry.py::test_sigkill_during_deploy_leaves_a_complete_set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import click
from common import ROOT, machine


@click.command()
@click.option("--rounds", default=20, show_default=True)
@click.option("--kills", default=20, show_default=True)
def main(rounds, kills):
    print(machine())
    env = {
        **os.environ,
        "RELIABILITY_ROUNDS": str(rounds),
        "RELIABILITY_KILLS": str(kills),
        "RELIABILITY_WITH_TRAINING": "1",
        "CI": "true",
    }  # CI=true: PostgreSQL must be there, not skipped
    t = time.perf_counter()
    code = subprocess.call(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            str(ROOT / "tests" / "test_reliability.py"),
            "-k",
            "together or killed",
            "--durations=0",
        ],
        cwd=ROOT,
        env=env,
    )
    print(f"{rounds} rounds x 2 stores, {kills} kills x 2 jobs: exit {code} in {time.perf_counter() - t:.0f} s")
    sys.exit(code)


if __name__ == "__main__":
    main()
