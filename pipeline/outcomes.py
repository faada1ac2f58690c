"""The three outcomes of a match result, in the one order every array, column list and table uses: home win, draw,
away win (index 0, 1, 2). A leaf module."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    HOME = "home"
    DRAW = "draw"
    AWAY = "away"


OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
# football-data's result letters (FTR) and odds-column suffixes (B365H, B365D, B365A), in the same order
LETTERS = "HDA"


def columns(prefix: str, suffix: str = "") -> list[str]:
    """The three columns of one quantity, in the outcome order: `columns("odds_")` is odds_home, odds_draw,
    odds_away; `columns("market_", "_prob")` is market_home_prob, market_draw_prob, market_away_prob."""
    return [f"{prefix}{o}{suffix}" for o in OUTCOMES]


PROB_COLUMNS: tuple[str, ...] = tuple(columns("", "_prob"))


def index_of(outcome: str) -> int:
    """0, 1 or 2 for "home", "draw", "away" (or "H", "D", "A")."""
    return LETTERS.index(outcome) if len(outcome) == 1 else OUTCOMES.index(outcome)


__all__ = ["Outcome", "OUTCOMES", "LETTERS", "PROB_COLUMNS", "columns", "index_of"]
