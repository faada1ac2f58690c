#!/usr/bin/env python3
"""Hourly predictions (cron: minute 0): fixtures in the next 48 hours, predictions, value bets, stored.

Options: `python production/hourly_predictions.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import hourly_predictions
from pipeline.store import PredictionDatabase  # noqa: F401 - the production guide's set-up step imports it from here

if __name__ == "__main__":
    hourly_predictions()
