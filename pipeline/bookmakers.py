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
    "Blue Square": "SO",
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
    "pinnaclesports": "Pinnacle", "bet365": "Bet365", "betandwin": "Bet&Win", "bwin": "Bet&Win",
    "williamhill": "William Hill", "vcbet": "VC Bet", "betvictor": "BetVictor", "1xbet": "1XBet",
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("&", "and"))


# football-data prefixes are accepted as names too (BET_BOOKMAKERS=B365,WH)
_BY_KEY = ({_key(p): n for n, p in FOOTBALL_DATA_PREFIXES.items()} | {_key(n): n for n in FOOTBALL_DATA_PREFIXES}
           | {_key(k): v for k, v in _ALIASES.items()})


def canonical(name: str) -> str:
    """The canonical name of a known bookmaker, else the name as given (stripped): sources may add new books."""
    return _BY_KEY.get(_key(name), name.strip())


def is_known(name: str) -> bool:
    return _key(name) in _BY_KEY


def is_bettable(name: str) -> bool:
    return canonical(name) not in AGGREGATES


def known_names() -> list[str]:
    return list(FOOTBALL_DATA_PREFIXES)


__all__ = ["FOOTBALL_DATA_PREFIXES", "AGGREGATES", "SHARP_DEFAULT", "SOFT_DEFAULT", "canonical", "is_known",
           "is_bettable", "known_names"]
