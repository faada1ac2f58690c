"""Bookmakers by one canonical name, whatever the source calls them.

football-data.co.uk names a bookmaker by a column prefix (`PSH` is Pinnacle's home price, `PSCH` its closing
one); Sportmonks by a display name ("bet365", "William Hill"); the sandbox uses the canonical names. Settings
(SHARP_BOOKMAKERS, BET_BOOKMAKERS) are matched against these names ignoring case, spaces and punctuation.
Aggregates (the best or average price over many books) are stored for reference but are not bettable: nobody
can place a bet at "the market maximum".
"""

from __future__ import annotations

import re

# canonical name -> football-data.co.uk column prefix (pre-match; the closing prefix adds "C")
FOOTBALL_DATA_PREFIXES = {
    "Pinnacle": "PS",
    "Bet365": "B365",
    "Bet&Win": "BW",
    "Interwetten": "IW",
    "William Hill": "WH",
    "VC Bet": "VC",
    "Ladbrokes": "LB",
    "Gamebookers": "GB",
    "Sportingbet": "SB",
    "Stan James": "SJ",
    "Blue Square": "BS",
    "Sporting Odds": "SO",
    "BetVictor": "BV",
    "1XBet": "1XB",
    "Betfair Exchange": "BFE",
    "Betfair": "BF",
    "Market max": "Max",
    "Market average": "Avg",
    "Betbrain max": "BbMx",
    "Betbrain average": "BbAv",
}
AGGREGATES = frozenset({"Market max", "Market average", "Betbrain max", "Betbrain average"})
SHARP_DEFAULT = ("Pinnacle",)
SOFT_DEFAULT = ("Bet365", "Bet&Win", "Interwetten", "William Hill", "VC Bet")
# Other spellings seen in the sources (Sportmonks' display names, football-data's older prefixes).
_ALIASES = {
    "pinnaclesports": "Pinnacle",
    "bet365": "Bet365",
    "betandwin": "Bet&Win",
    "bwin": "Bet&Win",
    "williamhill": "William Hill",
    "vcbet": "VC Bet",
    "betvictor": "BetVictor",
    "1xbet": "1XBet",
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("&", "and"))


# football-data prefixes are accepted as names too (BET_BOOKMAKERS=B365,WH)
_BY_KEY = (
    {_key(p): n for n, p in FOOTBALL_DATA_PREFIXES.items()}
    | {_key(n): n for n in FOOTBALL_DATA_PREFIXES}
    | {_key(k): v for k, v in _ALIASES.items()}
)


def canonical(name: str) -> str:
    """The canonical name of a known bookmaker, else the name as given (stripped): sources may add new books."""
    return _BY_KEY.get(_key(name), name.strip())


def is_known(name: str) -> bool:
    return _key(name) in _BY_KEY


def is_bettable(name: str) -> bool:
    return canonical(name) not in AGGREGATES


def known_names() -> list[str]:
    return list(FOOTBALL_DATA_PREFIXES)


# After the sharp books, the most neutral stand-ins for "the market's price": the consensus averages, then the
# biggest soft book. The maxima come last of all: a best-of-many price is biased and often an arbitrage.
REFERENCE_FALLBACK = ("Market average", "Betbrain average", "Bet365")
LAST_RESORT = ("Market max", "Betbrain max")


def reference_order(sharp=SHARP_DEFAULT) -> tuple[str, ...]:
    """Which bookmaker's price is "the" price of a match (the models' market feature, the closing line that
    bets are graded against): the first of these that has one; books not listed rank after them (maxima last)."""
    order = [canonical(b) for b in sharp] + [b for b in REFERENCE_FALLBACK]
    return tuple(dict.fromkeys(order))


def reference_rank(name: str, order: tuple[str, ...]) -> int:
    """Position of a bookmaker in `order`; unlisted books after it, the maxima after those."""
    name = canonical(name)
    if name in order:
        return order.index(name)
    return len(order) + (1 if name in LAST_RESORT else 0)


__all__ = [
    "FOOTBALL_DATA_PREFIXES",
    "AGGREGATES",
    "SHARP_DEFAULT",
    "SOFT_DEFAULT",
    "canonical",
    "is_known",
    "is_bettable",
    "known_names",
    "reference_order",
    "reference_rank",
]
