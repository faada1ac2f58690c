"""Elo ratings for football, with a fitted mapping from rating difference to home/draw/away.

- a team is its identity (the match frame's team keys: a club within its country, or the provider's id), so two
  clubs that share a name never share a rating; names are for display;
- update after each match: K * G * (S - E), E = 1 / (1 + 10^(-(R_home + H - R_away) / 400)), S = 1 / 0.5 / 0;
- G, the goal-difference multiplier of the World Football Elo ratings: 1 for a one-goal margin, 1.5 for two,
  (11 + margin) / 8 beyond;
- between seasons each rating moves `season_regression` of the way back to its league's mean: the whole league
  at once, at its first match of the new season, so the order of the opening matches does not matter and a
  prediction made before the season (`ratings_for`) gives the ratings the first matches are played at;
- a team first seen in a league (promoted) starts `promoted_offset` below the league's mean at the start of the
  season;
- probabilities: an ordered logit on d = (R_home + H - R_away) / 400, P(away) = s(c1 - b d),
  P(away or draw) = s(c2 - b d), fitted by maximum likelihood on the pre-match differences of the training
  matches (after a burn-in), not an ad-hoc draw rule.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from pipeline.forecast.features import NAMES, team_columns
from pipeline.forecast.models.base import Forecaster
from pipeline.metrics import outcomes_from_goals


class EloModel(Forecaster):
    slope_: float  # the fitted mapping (set by fit_mapping)
    cutpoints_: tuple[float, float]

    def __init__(
        self,
        k: float = 20.0,
        home_advantage: float = 60.0,
        goal_diff_multiplier: bool = True,
        season_regression: float = 0.2,
        initial: float = 1500.0,
        promoted_offset: float = 75.0,
        burn_in: int = 300,
    ):
        self.k = k
        self.home_advantage = home_advantage
        self.goal_diff_multiplier = goal_diff_multiplier
        self.season_regression = season_regression
        self.initial = initial
        self.promoted_offset = promoted_offset
        self.burn_in = burn_in

    def _start(self, matches: pd.DataFrame | None = None):
        # ratings are keyed by the club's identity, not its name
        self.team_columns_ = team_columns(matches) if matches is not None else NAMES
        self.ratings_: dict = {}  # team key -> rating
        self.team_season_: dict = {}
        self.team_league_: dict = {}
        self.league_season_: dict = {}  # league -> (season, a newcomer's rating that season)
        self.last_kickoff_ = None

    def _league_mean(self, league: str) -> float:
        vals = [r for t, r in self.ratings_.items() if self.team_league_.get(t) == league]
        return float(np.mean(vals)) if vals else self.initial

    def _newcomer(self, league: str) -> float:
        """A promoted team's first rating: the league's mean less the offset (a league's first teams: initial).
        Regression to the mean keeps the mean, so before the season starts this is what it will start at."""
        has_league = any(v == league for v in self.team_league_.values())
        return self._league_mean(league) - self.promoted_offset if has_league else self.initial

    def _regressed(self, team: str) -> float:
        mean = self._league_mean(self.team_league_[team])
        return mean + (1 - self.season_regression) * (self.ratings_[team] - mean)

    def _rating(self, team: str, league: str, season: str) -> float:
        seasons = self.__dict__.setdefault("league_season_", {})  # models saved before it existed
        if seasons.get(league, (None,))[0] != season:  # the league's first match of a season
            newcomer = self._newcomer(league)
            moved = {
                t: self._regressed(t)
                for t, lg in self.team_league_.items()
                if lg == league and self.team_season_.get(t) != season
            }
            self.ratings_.update(moved)
            self.team_season_.update(dict.fromkeys(moved, season))
            seasons[league] = (season, newcomer)
        if team not in self.ratings_:
            self.ratings_[team] = seasons[league][1]
        elif self.team_season_.get(team) != season:  # from another league that has not started its season
            self.ratings_[team] = self._regressed(team)
        self.team_season_[team] = season
        self.team_league_[team] = league
        return self.ratings_[team]

    def _process(self, matches: pd.DataFrame) -> pd.DataFrame:
        played = matches[matches["home_goals"].notna() & matches["away_goals"].notna()]
        if self.last_kickoff_ is not None:
            played = played[played["kickoff"] > self.last_kickoff_]
        played = played.sort_values(["kickoff", "match_id"], kind="stable")
        n = len(played)
        pre_h, pre_a = np.empty(n), np.empty(n)
        cols = [played[c].to_numpy() for c in (*self._teams(), "league", "season", "home_goals", "away_goals")]
        for i, (h, a, lg, season, hg, ag) in enumerate(zip(*cols)):
            rh = self._rating(h, lg, season)
            ra = self._rating(a, lg, season)
            pre_h[i], pre_a[i] = rh, ra
            expected = 1.0 / (1.0 + 10 ** (-(rh + self.home_advantage - ra) / 400.0))
            score = 1.0 if hg > ag else 0.5 if hg == ag else 0.0
            margin = abs(hg - ag)
            g = 1.0
            if self.goal_diff_multiplier and margin >= 2:
                g = 1.5 if margin == 2 else (11.0 + margin) / 8.0
            delta = self.k * g * (score - expected)
            self.ratings_[h] = rh + delta
            self.ratings_[a] = ra - delta
        if n:
            self.last_kickoff_ = played["kickoff"].iloc[-1]
        return pd.DataFrame(
            {"home_rating": pre_h, "away_rating": pre_a}, index=pd.Index(played["match_id"].to_numpy(), name="match_id")
        )

    def _teams(self) -> tuple[str, str]:
        return getattr(self, "team_columns_", NAMES)  # sets saved before team keys were keyed by name

    def fit(self, matches: pd.DataFrame) -> EloModel:
        self._start(matches)
        self.history_ = self._process(matches)
        played = matches.set_index("match_id").loc[self.history_.index]
        y = outcomes_from_goals(played["home_goals"], played["away_goals"])
        d = self.rating_diff(self.history_["home_rating"].to_numpy(), self.history_["away_rating"].to_numpy())
        self.fit_mapping(d[self.burn_in :], y[self.burn_in :])
        return self

    def update(self, matches: pd.DataFrame) -> EloModel:
        """A copy brought up to date with matches played after the fit (ratings only; the mapping is kept)."""
        self._check_fitted()
        new = copy.deepcopy(self)
        new._process(matches)
        return new

    def rating_diff(self, rh, ra) -> np.ndarray:
        """The logit's input d = (R_home + H - R_away) / 400 for pre-match ratings."""
        return (np.asarray(rh) + self.home_advantage - np.asarray(ra)) / 400.0

    def fit_mapping(self, d: np.ndarray, y: np.ndarray, warm_start: bool = False) -> EloModel:
        """Fit the ordered logit from rating differences `d` to outcomes `y` (0 home, 1 draw, 2 away), keeping
        the ratings; `warm_start` begins from the current fit (the backtest refits it weekly, on data that
        changes little from one week to the next)."""
        x0 = [1.5, -0.7, np.log(0.9)]
        if warm_start and hasattr(self, "slope_"):
            c1, c2 = self.cutpoints_
            x0 = [self.slope_, c1, np.log(c2 - c1)]

        def nll(theta):
            b, c1, delta = theta
            p = self._probs(d, b, c1, c1 + np.exp(delta))
            return -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1)))

        res = minimize(nll, x0=x0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
        b, c1, delta = res.x
        self.slope_, self.cutpoints_ = float(b), (float(c1), float(c1 + np.exp(delta)))
        return self

    def with_mapping(self, d: np.ndarray, y: np.ndarray) -> EloModel:
        """A copy with the same ratings whose mapping is fitted on (d, y) only (out-of-sample stacking inputs)."""
        new = copy.deepcopy(self)
        return new.fit_mapping(d, y)

    def proba_from_diff(self, d) -> np.ndarray:
        """Home/draw/away probabilities for rating differences `d` under the fitted mapping."""
        self._check_fitted()
        return self._probs(np.asarray(d, float), self.slope_, *self.cutpoints_)

    @staticmethod
    def _probs(d, b, c1, c2):
        p_away = expit(c1 - b * d)
        p_not_home = expit(c2 - b * d)
        return np.column_stack([1 - p_not_home, p_not_home - p_away, p_away])

    def ratings_for(self, fixtures: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The ratings each fixture would be played at: a team's first match of a new season regressed towards
        its league's mean, a promoted team at its league's newcomer level (as `_rating` does when it is played)."""
        self._check_fitted()
        seasons = getattr(self, "league_season_", {})

        def r(team, league, season):
            if team in self.ratings_:
                if season is None or self.team_season_.get(team) == season:
                    return self.ratings_[team]
                return self._regressed(team)
            started = seasons.get(league)
            if started is not None and started[0] == season:
                return started[1]
            return self._newcomer(league) if season is not None else self._league_mean(league) - self.promoted_offset

        season = fixtures["season"] if "season" in fixtures else [None] * len(fixtures)
        home, away = self._teams()
        rh = np.array([r(t, lg, s) for t, lg, s in zip(fixtures[home], fixtures["league"], season)], float)
        ra = np.array([r(t, lg, s) for t, lg, s in zip(fixtures[away], fixtures["league"], season)], float)
        return rh, ra

    def proba_from_ratings(self, rh, ra) -> np.ndarray:
        return self.proba_from_diff(self.rating_diff(rh, ra))

    def predict_proba(self, fixtures: pd.DataFrame) -> np.ndarray:
        return self.proba_from_ratings(*self.ratings_for(fixtures))
