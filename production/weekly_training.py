#!/usr/bin/env python3
"""Weekly training (cron: Sundays 02:00): fetch results, rebuild the player database, retrain, validate, deploy.

Options: `python production/weekly_training.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import weekly_training

if __name__ == "__main__":
    weekly_training()
