#!/usr/bin/env python3
"""Results settlement (cron: every 30 minutes): results, settle pending bets, performance metrics.

Options: `python production/results_settlement.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import results_settlement

if __name__ == "__main__":
    results_settlement()
