#!/usr/bin/env python3
"""Results settlement (cron: every 30 minutes): results, settle pending bets, performance metrics."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402

from pipeline.cli import job_options, run  # noqa: E402


@click.command()
@job_options
def main(now, quiet):
    from pipeline import settlement
    run("results_settlement", settlement.run_settlement, now=now, quiet=quiet)


if __name__ == "__main__":
    main()
