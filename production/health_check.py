#!/usr/bin/env python3
"""Health check (cron: every 10 minutes): one line per check; exit 0 when healthy, 1 when not.

Options: `python production/health_check.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

try:
    from pipeline.jobs.cli import health_check
except Exception as exc:  # noqa: BLE001 - a module that does not import: the alarm still sounds (exit 1)
    from pipeline.jobs.health_alarm import import_failed

    import_failed(exc)

if __name__ == "__main__":
    health_check()
