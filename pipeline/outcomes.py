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
PROB_COLUMNS: tuple[str, ...] = tuple(f"{o}_prob" for o in OUTCOMES)


def index_of(outcome: str) -> int:
    """0, 1 or 2 for "home", "draw", "away" (or "H", "D", "A")."""
    return LETTERS.index(outcome) if len(outcome) == 1 else OUTCOMES.index(outcome)


__all__ = ["Outcome", "OUTCOMES", "LETTERS", "PROB_COLUMNS", "index_of"]
