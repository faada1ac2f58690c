"""Betting: the strategy (value, Kelly, caps; pure functions), bet placement in the store, performance.

It never imports the forecasting package: it works on probabilities and prices, whoever made them.
"""
from pipeline.betting.performance import final_predictions, refresh_performance, settled_bets, summary
from pipeline.betting.placement import current_bankroll, existing_bets, place_bets
from pipeline.betting.strategy import OUTCOMES, StrategyParams, closing_line_value, edge, kelly_stakes, select_bets

__all__ = ["OUTCOMES", "StrategyParams", "closing_line_value", "edge", "kelly_stakes", "select_bets",
           "current_bankroll", "existing_bets", "place_bets", "final_predictions", "refresh_performance",
           "settled_bets", "summary"]
