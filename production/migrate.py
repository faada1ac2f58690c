#!/usr/bin/env python3
"""The migration step of a deploy: the store's schema to the latest revision, then exit.

Options: `python production/migrate.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import migrate

if __name__ == "__main__":
    migrate()
