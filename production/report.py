#!/usr/bin/env python3
"""The performance report: by outcome, league and month, calibration, bankroll; --plot DIR for PNG charts."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402

from pipeline.cli import run  # noqa: E402


@click.command()
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write bankroll.png and calibration.png into this directory.")
def main(plot_dir):
    from pipeline import report
    run("report", lambda ctx: report.run_report(ctx, plot_dir), now=None, quiet=True, lock=False)


if __name__ == "__main__":
    main()
