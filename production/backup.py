#!/usr/bin/env python3
"""Daily backup (cron: 04:00): the store (online, integrity-checked, plus an SQL dump), models and .env.
--restore FILE restores the store from a backup after checking it."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402

from pipeline.cli import job_options, run  # noqa: E402


@click.command()
@click.option("--restore", "restore_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Restore the store from this backup (predictions_*.db, or *.dump for PostgreSQL).")
@job_options
def main(restore_file, now, quiet):
    from pipeline import backup
    if restore_file is not None:
        run("backup", lambda ctx: backup.run_restore(ctx, restore_file), now=now, quiet=quiet)
    run("backup", backup.run_backup, now=now, quiet=quiet)


if __name__ == "__main__":
    main()
