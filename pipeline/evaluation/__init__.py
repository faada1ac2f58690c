"""Evaluation: the walk-forward backtest and the bet statistics the report shares with it.

- `walk_forward`: every model refitted week by week on what was known before the week, production's classes,
  windows and settings;
- `simulation`: the bookmakers' prices, the value rule's fair line and best prices (`pipeline.prices`), the
  strategy run week by week, bets settled and graded against the fair close;
- `scoring`: every forecaster scored on the same matches; `bet_stats`: the one bet-statistics type;
- `text`: what people read; `backtest`: the pieces put together (`run_backtest`).
It imports no job module: the jobs (`jobs/backtest.py`, `jobs/report.py`) call it.
"""

from __future__ import annotations

from pipeline.lazy import exporter

# the modules the other packages use (each imported from its own module, loaded on first use here)
_SUBMODULES = ("backtest", "walk_forward", "simulation", "scoring", "close_line", "fair_lines", "bet_stats", "text")

__getattr__, __all__ = exporter(__name__, {}, _SUBMODULES)
