#!/usr/bin/env python3
"""Weekly training (cron: Sundays 02:00): fetch results, rebuild the player database, retrain, validate, deploy."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402

from pipeline.cli import job_options, run  # noqa: E402


@click.command()
@click.option("--dry-run", is_flag=True, help="Train and validate, record the report, deploy nothing.")
@click.option("--force-deploy", is_flag=True, help="Deploy even if the validation gate fails (recorded as forced).")
@click.option("--rollback", "rollback", is_flag=False, flag_value="latest", default=None, metavar="[TIMESTAMP]",
              help="Restore a model backup (the latest, or backup_TIMESTAMP e.g. 20260118_020000) instead of training.")
@job_options
def main(dry_run, force_deploy, rollback, now, quiet):
    from pipeline import training
    if rollback is not None:
        if dry_run or force_deploy:
            raise click.UsageError("--rollback cannot be combined with --dry-run or --force-deploy")
        stamp = None if rollback == "latest" else rollback
        run("weekly_training", lambda ctx: training.run_rollback(ctx, stamp), now=now, quiet=quiet)
    run("weekly_training", lambda ctx: training.run_weekly_training(ctx, dry_run=dry_run, force_deploy=force_deploy),
        now=now, quiet=quiet)


if __name__ == "__main__":
    main()
