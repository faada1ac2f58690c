#!/usr/bin/env python3
"""Daily backup (cron: 04:00): the store (online, integrity-checked, plus an SQL dump), models and .env.
--restore FILE restores the store from a backup after checking it.

Options: `python production/backup.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import backup

if __name__ == "__main__":
    backup()
