#!/usr/bin/env python3
"""Daily backup (cron: 04:00): the store (online, integrity-checked, plus an SQL dump), models and .env.
--restore FILE restores the store from a backup after checking it.

Options: `python production/backup.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import backup

if __name__ == "__main__":
    backup()
