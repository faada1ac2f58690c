#!/usr/bin/env python3
"""Lineup updates (cron: every 15 minutes): re-predict fixtures within 2 hours once their lineups are out.

Options: `python production/lineup_updates.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import lineup_updates

if __name__ == "__main__":
    lineup_updates()
