"""Betting: the strategy (value, Kelly, caps; pure functions), bet placement in the store, performance.

It never imports the forecasting package: it works on probabilities and prices, whoever made them.
"""

from __future__ import annotations

from pipeline.lazy import exporter

# the modules the other packages use (each imported from its own module, loaded on first use here)
_SUBMODULES = (
    "strategy",
    "screening",
    "placement",
    "guards",
    "alerts",
    "settlement",
    "market_settlement",
    "ledger",
    "performance",
)

__getattr__, __all__ = exporter(__name__, {}, _SUBMODULES)
