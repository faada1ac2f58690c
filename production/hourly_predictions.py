#!/usr/bin/env python3
"""Hourly predictions (cron: minute 0): fixtures in the next 48 hours, predictions, value bets, stored.

Options: `python production/hourly_predictions.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import hourly_predictions
from pipeline.store import PredictionDatabase  # noqa: F401 - the production guide's set-up step imports it from here

if __name__ == "__main__":
    hourly_predictions()
