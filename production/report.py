#!/usr/bin/env python3
"""The performance report: fair closing-line value and ROI with 95% intervals by league, month and bookmaker, by
outcome, calibration, bankroll; a warning when recent bets lose to the closing line; --plot DIR for PNG charts.

Options: `python production/report.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import report

if __name__ == "__main__":
    report()
