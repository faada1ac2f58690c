#!/usr/bin/env python3
"""The walk-forward backtest on football-data.co.uk files (run by hand; see README "Backtest").

Options: `python production/backtest.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import backtest

if __name__ == "__main__":
    backtest()
