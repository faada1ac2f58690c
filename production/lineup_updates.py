#!/usr/bin/env python3
"""Lineup updates (cron: every 15 minutes): re-predict fixtures within 2 hours once their lineups are out.

Options: `python production/lineup_updates.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import lineup_updates

if __name__ == "__main__":
    lineup_updates()
