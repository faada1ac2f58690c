#!/usr/bin/env python3
"""Results settlement (cron: every 30 minutes): results, settle pending bets, performance metrics.

Options: `python production/results_settlement.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import results_settlement

if __name__ == "__main__":
    results_settlement()
