#!/usr/bin/env python3
"""Health check (cron: every 10 minutes): one line per check; exit 0 when healthy, 1 when not.

Options: `python production/health_check.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.health_alarm import main  # the command, or an alarm when the pipeline cannot be imported

if __name__ == "__main__":
    main()
