#!/usr/bin/env python3
"""The migration step of a deploy: the store's schema to the latest revision, then exit.

Options: `python production/migrate.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import migrate

if __name__ == "__main__":
    migrate()
