#!/usr/bin/env python3
"""The demo: weekly training, then two simulated weeks of hourly predictions, lineup updates and settlement on
the simulated sandbox, a backup, a health check and the performance report. Touches nothing outside a
temporary directory unless --workdir is given."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402


@click.command()
@click.option("--days", type=click.IntRange(1, 60), default=14, show_default=True, help="Simulated days to run.")
@click.option("--start", default="2026-01-05T00:00", show_default=True, help="Simulated start time (UTC).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's store, models, logs and backups here (default: a temporary directory).")
@click.option("--seed", type=int, default=7, show_default=True, help="The simulated world's seed.")
def main(days, start, workdir, seed):
    from pipeline import demo
    try:
        when = demo.parse_start(start)
    except ValueError:
        raise click.BadParameter(f"not an ISO time: {start!r}", param_hint="--start") from None
    sys.exit(demo.run_demo(when, days, workdir, seed))


if __name__ == "__main__":
    main()
