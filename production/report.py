#!/usr/bin/env python3
"""The performance report: by outcome, league and month, calibration, bankroll; --plot DIR for PNG charts.

Options: `python production/report.py --help`. The command is defined in pipeline/jobs/cli.py.
"""
from pipeline.jobs.cli import report

if __name__ == "__main__":
    report()
