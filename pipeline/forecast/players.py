"""The player database: per-player ratings rebuilt weekly from lineup history, and what a lineup is worth.

A player's rating is his estimated effect on his team's goal difference per match, relative to the team's
usual strength: a ridge regression of the match's goal-difference surprise (actual minus the Dixon-Coles
expectation) on who started (+1 home starters, -1 away starters). Ridge shrinks players seen rarely towards 0,
and a player who always starts is absorbed in his team's strength, so what the lineup job measures is the
difference between the announced XI and the team's usual XI. The lineups it learns from and the ratings are
read and written by pipeline.store.players.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.providers.base import Lineup

RIDGE_ALPHA = 30.0


def lineup_hash(lineup: Lineup) -> str:
    ids = sorted(f"{p.side}:{p.player_id}" for p in lineup.players)
    return hashlib.sha256("|".join(ids).encode()).hexdigest()[:32]


def fit_player_ratings(
    history: pd.DataFrame, matches: pd.DataFrame, expected_goals: np.ndarray, alpha: float = RIDGE_ALPHA
) -> pd.DataFrame:
    """Ratings from lineups of played matches.

    `matches`: the match frame rows (needs fixture_id, home_goals, away_goals) of the matches to learn from;
    `expected_goals`: (n, 2) Dixon-Coles expectations for those rows. Returns player_provider_id, rating,
    appearances.
    """
    played = matches.assign(xh=expected_goals[:, 0], xa=expected_goals[:, 1])
    played = played[played["fixture_id"].isin(history["fixture_id"])].reset_index(drop=True)
    if played.empty:
        return pd.DataFrame(columns=["player_provider_id", "rating", "appearances"])
    row_of = pd.Series(np.arange(len(played)), index=played["fixture_id"])
    h = history[history["fixture_id"].isin(played["fixture_id"])]
    players = pd.Index(sorted(h["player_provider_id"].unique()))
    rows = row_of.loc[h["fixture_id"]].to_numpy()
    cols = players.get_indexer(h["player_provider_id"])
    vals = np.where(h["side"].to_numpy() == "home", 1.0, -1.0)
    X = sparse.csr_matrix((vals, (rows, cols)), shape=(len(played), len(players)))
    y = (played["home_goals"] - played["away_goals"] - (played["xh"] - played["xa"])).to_numpy(float)
    # imported here: the lineup job, every 15 minutes, uses this module's queries but never fits (scikit-learn
    # costs it most of a second to import)
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=alpha, fit_intercept=False).fit(X, y)
    apps = h.groupby("player_provider_id").size()
    return pd.DataFrame(
        {"player_provider_id": players, "rating": model.coef_, "appearances": apps.reindex(players).to_numpy()}
    )


def usual_xis(starters: pd.DataFrame) -> dict[int, list[str]]:
    """Each team's usual XI: the 11 players who started most often in `starters` (from `recent_starters`, the
    team's last USUAL_XI_MATCHES matches); ties go to the smaller player id."""
    if starters.empty:
        return {}
    counts = starters.groupby(["team_id", "player_provider_id"]).size().rename("n").reset_index()
    counts = counts.sort_values(["team_id", "n", "player_provider_id"], ascending=[True, False, True])
    top = counts.groupby("team_id").head(11)
    return {int(t): list(g["player_provider_id"]) for t, g in top.groupby("team_id", sort=False)}


def lineup_strength_change(
    lineup: Lineup, ratings: dict[str, float], usual_home: list[str], usual_away: list[str]
) -> tuple[float, float]:
    """Goal-difference change of each side: announced XI minus usual XI, in rated players' terms (0 for a side
    whose usual XI is unknown)."""
    out = []
    for side, usual in (("home", usual_home), ("away", usual_away)):
        if not usual:
            out.append(0.0)
            continue
        announced = [p.player_id for p in lineup.players if p.side == side]
        out.append(sum(ratings.get(p, 0.0) for p in announced) - sum(ratings.get(p, 0.0) for p in usual))
    return out[0], out[1]


def goal_rate_adjustment(
    home_change: float, away_change: float, home_xg: float, away_xg: float, limit: float = 0.5
) -> tuple[float, float]:
    """Log-rate shifts of the home and away expected goals for those goal-difference changes.

    A side's change in goal difference is split evenly between scoring more and conceding less.
    """
    dh = 0.5 * home_change - 0.5 * away_change
    da = 0.5 * away_change - 0.5 * home_change
    lh = np.log(max(home_xg + dh, 0.05) / home_xg)
    la = np.log(max(away_xg + da, 0.05) / away_xg)
    return float(np.clip(lh, -limit, limit)), float(np.clip(la, -limit, limit))
