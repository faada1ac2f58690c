#!/usr/bin/env python3
"""The demo: weekly training, then two simulated weeks of hourly predictions, lineup updates and settlement on
the simulated sandbox, a backup, a health check and the performance report. Touches nothing outside a
temporary directory unless --workdir is given.

Options: `python production/demo.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.cli import demo

if __name__ == "__main__":
    demo()
