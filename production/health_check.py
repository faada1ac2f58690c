#!/usr/bin/env python3
"""Health check (cron: every 10 minutes): one line per check; exit 0 when healthy, 1 when not."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402

from pipeline.cli import job_options, run  # noqa: E402


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON for monitoring tools.")
@job_options
def main(as_json, now, quiet):
    from pipeline import health
    run("health_check", lambda ctx: health.run_health_check(ctx, as_json), now=now, quiet=True,
        needs_store=False, lock=False)


if __name__ == "__main__":
    main()
