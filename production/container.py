#!/usr/bin/env python3
"""The container image's entry points: every job's --help (the image's default command), and the compose
scheduler (--scheduler deploy/container.crontab).

Options: `python production/container.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import container

if __name__ == "__main__":
    container()
