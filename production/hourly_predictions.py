#!/usr/bin/env python3
"""Hourly predictions (cron: minute 0): fixtures in the next 48 hours, predictions, value bets, stored."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402

from pipeline.cli import job_options, run  # noqa: E402


@click.command()
@click.option("--force", is_flag=True, help="Predict again even fixtures already predicted from the same odds.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@job_options
def main(force, dry_run, now, quiet):
    from pipeline import predict
    run("hourly_predictions", lambda ctx: predict.run_hourly(ctx, force=force, dry_run=dry_run), now=now, quiet=quiet)


if __name__ == "__main__":
    main()
