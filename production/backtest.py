#!/usr/bin/env python3
"""The walk-forward backtest on football-data.co.uk files (run by hand; see README "Backtest")."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from any directory

import click  # noqa: E402


@click.command()
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A directory laid out like the site: DIR/mmz4281/<season>/<Div>.csv.")
@click.option("--leagues", default=None, help="Comma-separated divisions, e.g. E0,D1 (default: every file found).")
@click.option("--from", "start", required=True, metavar="DATE", help="First day of the test period, e.g. 2019-07-01.")
@click.option("--to", "end", required=True, metavar="DATE", help="Day after the test period, e.g. 2024-06-30.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the numbers to this JSON file.")
@click.option("--xgb-refit-weeks", type=click.IntRange(1, 52), default=1, show_default=True,
              help="Refit XGBoost every N weeks (Elo, Dixon-Coles and the ensemble are refitted weekly).")
def main(data_dir, leagues, start, end, json_path, xgb_refit_weeks):
    from datetime import date

    from pipeline.backtest import backtest_command
    for name, value in (("--from", start), ("--to", end)):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}", param_hint=name) from None
    codes = [c.strip() for c in leagues.split(",") if c.strip()] if leagues else None
    sys.exit(backtest_command(data_dir, codes, start, end, json_path, xgb_refit_weeks))


if __name__ == "__main__":
    main()
