#!/usr/bin/env python3
"""The performance report: fair closing-line value and ROI with 95% intervals by league, month and bookmaker, by
outcome, calibration, bankroll; a warning when recent bets lose to the closing line; --plot DIR for PNG charts.

Options: `python production/report.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import report

if __name__ == "__main__":
    report()
