"""The leagues a source knows, and configured league codes checked against them.

football-data.co.uk names a league by its division code (the `Div` column, the file name `mmz4281/<season>/<Div>.csv`).
The codes are case-sensitive on the site (`e0.csv` is a 404), so a code in another case is refused with the right
spelling suggested, never normalised: the setting then reads as the site and the store spell it. Sportmonks names a
league by a numeric id (which ids a plan covers is known only to the API). Standard library only: pipeline.config
imports it.
"""

from __future__ import annotations

from difflib import SequenceMatcher

# football-data.co.uk's main divisions (the mmz4281 files; its "extra leagues" are another format, not read here)
FOOTBALL_DATA_DIVISIONS = {
    "E0": "England Premier League",
    "E1": "England Championship",
    "E2": "England League One",
    "E3": "England League Two",
    "EC": "England National League",
    "SC0": "Scotland Premiership",
    "SC1": "Scotland Championship",
    "SC2": "Scotland League One",
    "SC3": "Scotland League Two",
    "D1": "Germany Bundesliga",
    "D2": "Germany 2. Bundesliga",
    "I1": "Italy Serie A",
    "I2": "Italy Serie B",
    "SP1": "Spain La Liga",
    "SP2": "Spain Segunda Division",
    "F1": "France Ligue 1",
    "F2": "France Ligue 2",
    "N1": "Netherlands Eredivisie",
    "B1": "Belgium First Division A",
    "P1": "Portugal Primeira Liga",
    "T1": "Turkey Super Lig",
    "G1": "Greece Super League",
}
# characters typed for one another in a code: the letter O for the digit 0, I or l for 1
_LOOKALIKE = str.maketrans({"O": "0", "I": "1", "L": "1"})


class UnknownLeague(ValueError):
    """A configured league code the source does not know; the message is one line naming the nearest codes."""


def _shape(code: str) -> str:
    return code.upper().translate(_LOOKALIKE)


def nearest(code: str, known, n: int = 3) -> list[str]:
    """The known codes closest to `code` (ignoring case and look-alike characters), best first."""
    scored = [(SequenceMatcher(None, _shape(code), _shape(k)).ratio(), -i, k) for i, k in enumerate(known)]
    return [k for score, _, k in sorted(scored, reverse=True)[:n] if score >= 0.5]


def check_football_data(setting: str, codes) -> tuple[str, ...]:
    """`codes` if every one is a football-data division code; else UnknownLeague naming the first unknown one."""
    for code in codes:
        if code not in FOOTBALL_DATA_DIVISIONS:
            close = nearest(code, FOOTBALL_DATA_DIVISIONS)
            case = " (codes are case-sensitive)" if code.upper() in FOOTBALL_DATA_DIVISIONS else ""
            hint = f"nearest: {', '.join(close)}" if close else f"known: {', '.join(FOOTBALL_DATA_DIVISIONS)}"
            raise UnknownLeague(f"{setting}: unknown football-data league code {code!r}{case}; {hint}")
    return tuple(codes)


def check_sportmonks(setting: str, ids) -> tuple[str, ...]:
    """Sportmonks league ids are positive integers (8 is the Premier League). Which ones the plan covers only the
    API knows: the provider checks them when a job starts (pipeline.providers.sportmonks_leagues)."""
    for value in ids:
        if not value.isdigit() or int(value) == 0:
            raise UnknownLeague(
                f"{setting}: {value!r} is not a Sportmonks league id (a number, e.g. 8 for the Premier League)"
            )
    return tuple(ids)


__all__ = ["FOOTBALL_DATA_DIVISIONS", "UnknownLeague", "nearest", "check_football_data", "check_sportmonks"]
