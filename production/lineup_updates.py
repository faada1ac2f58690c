#!/usr/bin/env python3
"""Lineup updates (cron: every 15 minutes): re-predict fixtures within 2 hours once their lineups are out."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402

from pipeline.cli import job_options, run  # noqa: E402


@click.command()
@job_options
def main(now, quiet):
    from pipeline import lineups
    run("lineup_updates", lineups.run_lineup_updates, now=now, quiet=quiet)


if __name__ == "__main__":
    main()
