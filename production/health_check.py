#!/usr/bin/env python3
"""Health check (cron: every 10 minutes): one line per check; exit 0 when healthy, 1 when not.

Options: `python production/health_check.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import health_check

if __name__ == "__main__":
    health_check()
