#!/usr/bin/env python3
"""Weekly training (cron: Sundays 02:00): fetch results, rebuild the player database, retrain, validate, deploy.

Options: `python production/weekly_training.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import weekly_training

if __name__ == "__main__":
    weekly_training()
