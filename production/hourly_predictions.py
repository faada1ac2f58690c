#!/usr/bin/env python3
"""Hourly predictions (cron: minute 0): fixtures in the next 48 hours, predictions, value bets, stored.

Options: `python production/hourly_predictions.py --help`. The command is defined in pipeline/jobs/cli.py.
"""
from pipeline.jobs.cli import hourly_predictions

if __name__ == "__main__":
    hourly_predictions()
