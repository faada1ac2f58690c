"""Betting: the strategy (value, Kelly, caps; pure functions), bet placement in the store, performance.

It never imports the forecasting package: it works on probabilities and prices, whoever made them.
"""

from __future__ import annotations

from pipeline.lazy import exporter

# public name -> the module that defines it
_EXPORTS = {
    "OUTCOMES": "pipeline.betting.strategy",
    "StrategyParams": "pipeline.betting.strategy",
    "close_ratio_with_margin": "pipeline.betting.strategy",
    "edge": "pipeline.betting.strategy",
    "kelly_stakes": "pipeline.betting.strategy",
    "select_bets": "pipeline.betting.strategy",
    "current_bankroll": "pipeline.betting.placement",
    "existing_bets": "pipeline.betting.placement",
    "place_bets": "pipeline.betting.placement",
    "value_candidates": "pipeline.betting.placement",
    "clv_alarm_line": "pipeline.betting.performance",
    "final_predictions": "pipeline.betting.performance",
    "recent_clv": "pipeline.betting.performance",
    "refresh_performance": "pipeline.betting.performance",
    "settled_bets": "pipeline.betting.performance",
    "summary": "pipeline.betting.performance",
}

__getattr__, __all__ = exporter(__name__, _EXPORTS)
