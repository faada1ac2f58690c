"""Who is who in football-data.co.uk's files: clubs and matches.

Clubs. The files name a club and nothing else, and the names are only unique within a country: a club relegated
from E0 to E1 keeps its name (and must keep its ratings), while a German and an English club may share one.
So a club is `<country>:<slug of its name>` (`ENG:newcastle`), the country taken from the division code
(`COUNTRY_OF_DIVISION`: E0..E3 and EC are England, D1/D2 Germany, ...). Names that differ only in case,
accents or punctuation are one club (the slug folds them); a club spelt otherwise by one of the files (or
renamed by the site) is mapped onto one canonical name in `TEAM_ALIASES` before anything else sees it.

Matches. `<Div>-<season>-<home>-<away>` (canonical names slugged), `-2`, `-3`... for the N-th meeting of the same
home and away club in one league and season, counted in kick-off order among the meetings played (the season
file). No date in it: the site lists a postponed match again under its new date, and it must stay the same
fixture (its kick-off moved, its bets kept). The rule for upcoming matches (`fixtures.csv`):
- a listing is the meeting after those already played before it: a genuine second meeting (a league whose clubs
  meet more than twice, the first meeting played) is `-2`, a fixture of its own;
- listings of one home and away club in one league and season with no result between them are one match listed
  again (rescheduled): one fixture, kicking off at the latest listing (`collapse_relistings`), the others named
  as problems. A league never plays the same home fixture twice before the first is played; a cup is not in
  these files (Sportmonks and the sandbox identify matches and clubs by their own ids).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

import pandas as pd

# football-data.co.uk's division codes by country; a code not listed counts as its own letters' country
COUNTRY_OF_DIVISION = {
    **dict.fromkeys(("E0", "E1", "E2", "E3", "EC"), "ENG"),
    **dict.fromkeys(("SC0", "SC1", "SC2", "SC3"), "SCO"),
    **dict.fromkeys(("D1", "D2"), "GER"),
    **dict.fromkeys(("I1", "I2"), "ITA"),
    **dict.fromkeys(("SP1", "SP2"), "ESP"),
    **dict.fromkeys(("F1", "F2"), "FRA"),
    "N1": "NED",
    "B1": "BEL",
    "P1": "POR",
    "T1": "TUR",
    "G1": "GRE",
}

# Per country, a spelling -> the club's canonical name (as the season files spell it). Every club in the shared
# 2003-2024 files (E0, D1, F1, I1, SP1) has one spelling; add a line here when a file spells a club otherwise.
TEAM_ALIASES: dict[str, dict[str, str]] = {}


def country_of(division: str) -> str:
    """The country of a football-data division code ("E1" -> "ENG"); unknown codes: their letters ("X1" -> "X")."""
    code = str(division).strip().upper()
    return COUNTRY_OF_DIVISION.get(code) or re.sub(r"\d+$", "", code) or code


def slug(names: pd.Series) -> pd.Series:
    """Lower case, accents folded ("München" -> "munchen"), runs of other characters as one underscore."""
    folded = names.astype(str).map(
        lambda s: s if s.isascii() else unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    )
    return folded.str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True).str.strip("_")


def canonical_names(
    names: pd.Series, countries: pd.Series, aliases: Mapping[str, Mapping[str, str]] | None = None
) -> pd.Series:
    """Each name as its club's canonical spelling (TEAM_ALIASES of its country), else as it is."""
    table = TEAM_ALIASES if aliases is None else aliases
    if not table:
        return names
    return pd.Series(
        [table.get(c, {}).get(n, n) for n, c in zip(names.to_numpy(object), countries.to_numpy(object))],
        index=names.index,
        dtype=object,
    )


def team_keys(names: pd.Series, countries: pd.Series) -> pd.Series:
    """`<country>:<slug>`: the club's identity (teams.provider_id, the models' team key)."""
    return countries.astype(str) + ":" + slug(names)


def identify(frame: pd.DataFrame, aliases: Mapping[str, Mapping[str, str]] | None = None) -> pd.DataFrame:
    """`frame` with canonical team names, the clubs' identities (`home_team_key`, `away_team_key`) and the
    matches' (`match_id`, meetings numbered in kick-off order)."""
    if frame.empty:
        return frame.assign(home_team_key=[], away_team_key=[], match_id=[])
    country = frame["league"].map(country_of)
    out = frame.assign(
        home_team=canonical_names(frame["home_team"], country, aliases),
        away_team=canonical_names(frame["away_team"], country, aliases),
    )
    out["home_team_key"] = team_keys(out["home_team"], country)
    out["away_team_key"] = team_keys(out["away_team"], country)
    out["match_id"] = match_ids(out)
    return out


def pair_ids(frame: pd.DataFrame) -> pd.Series:
    """`<league>-<season>-<home>-<away>`: one home and away club in one league and season."""
    return (
        frame["league"].astype(str)
        + "-"
        + frame["season"].astype(str)
        + "-"
        + slug(frame["home_team"])
        + "-"
        + slug(frame["away_team"])
    )


def match_ids(frame: pd.DataFrame, earlier: pd.Series | None = None) -> pd.Series:
    """`<league>-<season>-<home>-<away>`, `-N` for the N-th meeting (N >= 2) of the same home and away club in a
    league and season, counted in kick-off order. `earlier` adds meetings not in `frame` (played ones, for
    fixtures), by pair id."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    base = pair_ids(frame)
    by_time = base.loc[frame["kickoff"].sort_values(kind="stable").index]
    n = by_time.groupby(by_time).cumcount().add(1).reindex(frame.index)
    if earlier is not None:
        n = n + base.map(earlier).fillna(0).astype(int)
    return base.where(n <= 1, base + "-" + n.astype(str))


def collapse_relistings(frame: pd.DataFrame, label: str = "fixtures.csv") -> tuple[pd.DataFrame, list[str]]:
    """Upcoming listings of one home and away club in one league and season as one match: the latest listing
    kept (a postponed match's new date is later than its old one), each other one named."""
    if frame.empty:
        return frame, []
    pair = pair_ids(frame)
    latest = frame["kickoff"].groupby(pair).transform("max")
    order = pd.DataFrame({"pair": pair, "kickoff": frame["kickoff"]}).sort_values(["pair", "kickoff"], kind="stable")
    keep = ~order["pair"].duplicated(keep="last")
    problems = [
        f"{label}: {frame.at[i, 'home_team']} v {frame.at[i, 'away_team']} ({frame.at[i, 'league']}) listed on "
        f"{frame.at[i, 'kickoff']:%Y-%m-%d %H:%M} UTC and again on {latest[i]:%Y-%m-%d %H:%M} UTC: one match "
        f"rescheduled, the kick-off of {latest[i]:%Y-%m-%d %H:%M} UTC kept"
        for i in order.index[~keep.to_numpy()]
    ]
    return frame.loc[order.index[keep.to_numpy()]].sort_index(), problems


__all__ = [
    "COUNTRY_OF_DIVISION",
    "TEAM_ALIASES",
    "canonical_names",
    "collapse_relistings",
    "country_of",
    "identify",
    "match_ids",
    "pair_ids",
    "slug",
    "team_keys",
]
