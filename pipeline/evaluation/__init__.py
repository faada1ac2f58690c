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

# public name -> the module that defines it
_EXPORTS = {
    "BacktestResult": "pipeline.evaluation.backtest",
    "RuleBets": "pipeline.evaluation.backtest",
    "run_backtest": "pipeline.evaluation.backtest",
    "summarise": "pipeline.evaluation.backtest",
    "BetStats": "pipeline.evaluation.bet_stats",
    "ClvStats": "pipeline.evaluation.bet_stats",
    "Estimate": "pipeline.evaluation.bet_stats",
    "bet_stats": "pipeline.evaluation.bet_stats",
    "stats_json": "pipeline.evaluation.bet_stats",
    "score_predictions": "pipeline.evaluation.scoring",
    "add_value_columns": "pipeline.evaluation.simulation",
    "book_prices": "pipeline.evaluation.simulation",
    "book_slug": "pipeline.evaluation.simulation",
    "grade": "pipeline.evaluation.simulation",
    "simulate": "pipeline.evaluation.simulation",
    "bet_summary": "pipeline.evaluation.text",
    "bet_table": "pipeline.evaluation.text",
    "format_result": "pipeline.evaluation.text",
    "check_period": "pipeline.evaluation.walk_forward",
    "probs_columns": "pipeline.evaluation.walk_forward",
    "utc": "pipeline.evaluation.walk_forward",
    "walk_forward": "pipeline.evaluation.walk_forward",
}

__getattr__, __all__ = exporter(__name__, _EXPORTS)
