"""Point-in-time features for a match frame: every feature of a match uses only matches that kicked off
strictly before it (each team's series is shifted by one match before any averaging).

- form: exponentially weighted means of goals, shots and shots on target, for and against, over each team's
  previous matches (home and away together), a team being its identity (`team_columns`), never its bare name;
- rest days since the team's previous match, and how many previous matches it has in the data;
- the pre-match market's probabilities (margin removed) when the match has odds, NaN otherwise.
Model-based features (Elo ratings, Dixon-Coles probabilities and expected goals) are added by
pipeline.forecast.modelset,
which computes them out of sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.odds import implied_probabilities
from pipeline.outcomes import columns

FORM_SPAN = 8
TEAM_KEYS = ("home_team_key", "away_team_key")  # a club's identity (teams.provider_id): within its country, or
NAMES = ("home_team", "away_team")  # the provider's own id; names are for display only


def team_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """The two columns that identify the clubs of a match frame: the team keys. A frame without them (built by
    hand from names, or by a version before them) is keyed by names, which is right only within one country;
    a frame whose keys are missing for some rows is refused rather than keyed half by name."""
    if not all(c in frame for c in TEAM_KEYS):
        return NAMES
    missing = frame[list(TEAM_KEYS)].isna().any(axis=1)
    if missing.any():
        raise ValueError(f"{int(missing.sum())} matches without a team key (e.g. {frame['match_id'][missing].iloc[0]})")
    return TEAM_KEYS


STATS = {
    "goals": ("home_goals", "away_goals"),
    "shots": ("home_shots", "away_shots"),
    "sot": ("home_shots_on_target", "away_shots_on_target"),
}


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (match, team) with the team's for/against numbers."""
    parts = []
    for side, team in zip(("home", "away"), team_columns(frame), strict=True):
        d = pd.DataFrame(
            {
                "match_id": frame["match_id"].to_numpy(),
                "kickoff": frame["kickoff"].array,
                "team": frame[team].to_numpy(),
                "side": side,
            }
        )
        for stat, (h, a) in STATS.items():
            mine, theirs = (h, a) if side == "home" else (a, h)
            d[f"{stat}_for"] = frame[mine].to_numpy(float) if mine in frame else np.nan
            d[f"{stat}_against"] = frame[theirs].to_numpy(float) if theirs in frame else np.nan
        parts.append(d)
    return pd.concat(parts, ignore_index=True).sort_values(["team", "kickoff", "match_id"], kind="stable")


def form_features(frame: pd.DataFrame, span: int = FORM_SPAN) -> pd.DataFrame:
    """Per match (indexed like `frame`): home_/away_ form, rest days and experience."""
    long = _long(frame)
    cols = [c for c in long.columns if c.endswith("_for") or c.endswith("_against")]
    g = long.groupby("team", sort=False)
    prev = g[cols].shift()  # the match itself never counts
    ewm = (
        prev.groupby(long["team"], sort=False)
        .ewm(span=span, min_periods=1, ignore_na=True)
        .mean()
        .reset_index(level=0, drop=True)
        .loc[prev.index]
    )
    out = ewm.add_prefix("form_")
    kick = long["kickoff"]
    out["rest_days"] = ((kick - g["kickoff"].shift()).dt.total_seconds() / 86400).clip(upper=30)
    out["prior_matches"] = g.cumcount()
    out["match_id"] = long["match_id"].to_numpy()
    out["side"] = long["side"].to_numpy()
    home = out[out["side"] == "home"].drop(columns="side").set_index("match_id").add_prefix("home_")
    away = out[out["side"] == "away"].drop(columns="side").set_index("match_id").add_prefix("away_")
    both = home.join(away)
    res = both.reindex(frame["match_id"].to_numpy())
    res.index = frame.index
    for stat in STATS:
        res[f"diff_{stat}"] = (res[f"home_form_{stat}_for"] - res[f"home_form_{stat}_against"]) - (
            res[f"away_form_{stat}_for"] - res[f"away_form_{stat}_against"]
        )
    return res


def market_features(frame: pd.DataFrame, method: str = "multiplicative") -> pd.DataFrame:
    odds = frame[columns("odds_")].to_numpy(float)
    p = implied_probabilities(odds, method)
    return pd.DataFrame(p, columns=columns("market_"), index=frame.index)
