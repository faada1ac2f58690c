"""The sandbox's simulated world (pipeline.providers.sandbox answers questions about it): a pure function of the
seed and the season asked about, never of the wall clock or of call order.
- leagues of 20 teams, each team with attack and defence strengths that drift from season to season;
- squads of 24 players with a quality each (two or three stars per team matter a lot), injuries spanning a few
  rounds, and rotation; the starting XI of a match is the best 11 available, with a rested player now and then;
- a double round-robin calendar from August to May, one round a week (Saturday and Sunday kick-offs, UTC);
- goals: Poisson with log rates mu + home + attack - defence, shifted by the quality of the XI that starts
  relative to the team's usual XI (so a missing star measurably lowers the team's chances);
- about 1% of matches are postponed.
Each match records its true 1X2 probabilities (from the XI that starts) and those the public expected (injuries
are public, rotation is not): the bookmakers price from the second, tests measure against the first. The same
holds for its over/under and Asian handicap lines (pipeline.providers.sandbox_markets; `true_goal_rates`,
`true_two_way`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np

from pipeline.distributions import poisson_pmf
from pipeline.markets import Selection
from pipeline.providers.sandbox_markets import TwoWayBook, season_books

UTC = UTC
SQUAD = 24
XI = 11
MU = np.log(1.30)
HOME = 0.25
PLAYER_EFFECT = 0.5  # goal-rate effect of XI quality is split between scoring and conceding
POSTPONE_RATE = 0.01
KICKOFFS = [
    (5, 12, 30),
    (5, 15, 0),
    (5, 15, 0),
    (5, 15, 0),
    (5, 15, 0),
    (5, 17, 30),
    (6, 14, 0),
    (6, 14, 0),
    (6, 16, 30),
    (6, 16, 30),
]  # (weekday offset from Monday, hour, minute) UTC for the 10 matches of a round
_SEASONS: dict = {}
NAMES = [
    "Rovers",
    "United",
    "Athletic",
    "City",
    "Wanderers",
    "Albion",
    "Town",
    "Rangers",
    "Harriers",
    "Villa",
    "Dynamo",
    "Sporting",
    "Olympic",
    "Forest",
    "County",
    "Academicals",
    "Borough",
    "Celtic",
    "Thistle",
    "Star",
    "Palace",
    "Orient",
    "Argyle",
    "Vale",
]


def seeded(*key) -> np.random.Generator:
    digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def unit(*key) -> float:
    digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def season_code(year: int) -> str:
    return f"{year % 100:02d}{(year + 1) % 100:02d}"


def season_start(year: int) -> date:
    d = date(year, 8, 4)
    while d.weekday() != 0:  # the Monday of the first round's week
        d += timedelta(days=1)
    return d


def probabilities(lam: np.ndarray, mu: np.ndarray, max_goals: int = 12) -> np.ndarray:
    g = np.arange(max_goals + 1)
    ph = poisson_pmf(g[None, :], np.asarray(lam)[:, None])
    pa = poisson_pmf(g[None, :], np.asarray(mu)[:, None])
    m = ph[:, :, None] * pa[:, None, :]
    home = (m * np.tril(np.ones((max_goals + 1,) * 2), -1)).sum(axis=(1, 2))
    draw = np.trace(m, axis1=1, axis2=2)
    p = np.column_stack([home, draw, 1 - home - draw])
    return p / p.sum(axis=1, keepdims=True)


class SimulatedWorld:
    """The leagues, teams, squads, calendar and results of one seed."""

    def __init__(self, seed: int = 7, leagues: int = 3, teams_per_league: int = 20, first_season: int = 2021):
        if teams_per_league % 2 or teams_per_league < 4:
            raise ValueError("teams_per_league must be an even number >= 4")
        self.seed = seed
        self.n_leagues = leagues
        self.n_teams = teams_per_league
        self.first_season = first_season

    def _season(self, league: int, year: int) -> dict:
        # The world is a pure function of these parameters, so one process-wide cache serves every instance
        # (each cron job run builds a new provider).
        key = (self.seed, self.n_leagues, self.n_teams, self.first_season, league, year)
        season = _SEASONS.get(key)
        if season is None:
            season = _SEASONS[key] = self._build_season(league, year)
            while len(_SEASONS) > 1024:  # ~0.5 MB a season
                _SEASONS.pop(next(iter(_SEASONS)))
        return season

    # ---- the world -------------------------------------------------------------------------------
    def league_codes(self) -> list[str]:
        return [f"SIM{i + 1}" for i in range(self.n_leagues)]

    def team_name(self, league: int, team: int) -> str:
        return f"Sim {NAMES[(team + 7 * league) % len(NAMES)]} {league + 1}{team:02d}"

    def _strengths(self, league: int, year: int) -> tuple[np.ndarray, np.ndarray]:
        rng = seeded(self.seed, "base", league)
        att = rng.normal(0, 0.42, self.n_teams)
        dfc = rng.normal(0, 0.36, self.n_teams)
        for y in range(self.first_season + 1, year + 1):  # a random walk from season to season
            r = seeded(self.seed, "drift", league, y)
            att = 0.9 * att + r.normal(0, 0.12, self.n_teams)
            dfc = 0.9 * dfc + r.normal(0, 0.11, self.n_teams)
        return att, dfc

    def _squad(self, league: int, team: int, year: int) -> np.ndarray:
        rng = seeded(self.seed, "squad", league, team)
        q = rng.normal(-0.01, 0.025, SQUAD)
        stars = rng.choice(SQUAD, size=rng.integers(2, 4), replace=False)
        q[stars] = rng.uniform(0.25, 0.40, len(stars))
        for y in range(self.first_season + 1, year + 1):
            q = q + seeded(self.seed, "form", league, team, y).normal(0, 0.01, SQUAD)
        return q

    def player_id(self, league: int, team: int, k: int) -> str:
        return f"SIM{league + 1}-T{team:02d}-P{k:02d}"

    def _availability(self, league: int, team: int, year: int, rounds: int) -> np.ndarray:
        """(rounds, SQUAD) bool: who is fit for each round (injury spells of 1-6 rounds)."""
        rng = seeded(self.seed, "injury", league, team, year)
        fit = np.ones((rounds, SQUAD), bool)
        starts = rng.random((rounds, SQUAD)) < 0.05
        lengths = rng.integers(1, 7, (rounds, SQUAD))
        for r, k in zip(*np.nonzero(starts)):
            fit[r : r + lengths[r, k], k] = False
        return fit

    def _pairings(self, year: int, league: int) -> list[list[tuple[int, int]]]:
        n = self.n_teams
        order = list(seeded(self.seed, "draw", league, year).permutation(n))
        rounds = []
        for r in range(n - 1):
            pairs = []
            for i in range(n // 2):
                a, b = order[i], order[n - 1 - i]
                pairs.append((a, b) if (r + i) % 2 == 0 else (b, a))
            rounds.append(pairs)
            order = [order[0]] + [order[-1]] + order[1:-1]
        return rounds + [[(b, a) for a, b in pairs] for pairs in rounds]

    def _build_season(self, league: int, year: int) -> dict:
        att, dfc = self._strengths(league, year)
        rounds = self._pairings(year, league)
        squads = [self._squad(league, t, year) for t in range(self.n_teams)]
        usual = [np.sort(q)[::-1][:XI].sum() for q in squads]
        fit = [self._availability(league, t, year, len(rounds)) for t in range(self.n_teams)]
        start = season_start(year)
        rows = []
        for r, pairs in enumerate(rounds):
            monday = start + timedelta(days=7 * r)
            for i, (h, a) in enumerate(pairs):
                wd, hh, mm = KICKOFFS[(i + r + league) % len(KICKOFFS)]
                if league % 3 == 2:  # every third league plays midweek: the sandbox has fixtures most days
                    wd, hh = wd - 4, hh + 3
                ko = datetime(monday.year, monday.month, monday.day, hh, mm, tzinfo=UTC) + timedelta(days=wd)
                mid = f"SIM{league + 1}-{season_code(year)}-R{r + 1:02d}-{i + 1:02d}"
                xis, expected = [], []
                for team in (h, a):
                    q = squads[team]
                    avail = np.flatnonzero(fit[team][r])
                    best = avail[np.argsort(-q[avail], kind="stable")]
                    expected.append(q[best[:XI]].sum())
                    xi = list(best[:XI])
                    rng = seeded(self.seed, "rotation", mid, team)
                    if rng.random() < 0.25 and len(best) > XI:  # rest one regular (never a star)
                        regulars = [k for k in xi if q[k] < 0.2]
                        if regulars:
                            xi.remove(regulars[rng.integers(len(regulars))])
                            xi.append(best[XI])
                    xis.append(sorted(int(k) for k in xi))
                s_h = squads[h][xis[0]].sum() - usual[h]
                s_a = squads[a][xis[1]].sum() - usual[a]
                e_h, e_a = expected[0] - usual[h], expected[1] - usual[a]
                base_h = MU + HOME + att[h] - dfc[a]
                base_a = MU + att[a] - dfc[h]
                lam = np.exp(base_h + PLAYER_EFFECT * (s_h - s_a))
                mu = np.exp(base_a + PLAYER_EFFECT * (s_a - s_h))
                lam_e = np.exp(base_h + PLAYER_EFFECT * (e_h - e_a))
                mu_e = np.exp(base_a + PLAYER_EFFECT * (e_a - e_h))
                g = seeded(self.seed, "goals", mid)
                hg, ag = int(g.poisson(lam)), int(g.poisson(mu))
                hst, ast = hg + int(g.poisson(2.6 * lam)), ag + int(g.poisson(2.6 * mu))
                rows.append(
                    {
                        "match_id": mid,
                        "league": league,
                        "year": year,
                        "round": r,
                        "kickoff": ko,
                        "home": h,
                        "away": a,
                        "lam": lam,
                        "mu": mu,
                        "lam_e": lam_e,
                        "mu_e": mu_e,
                        "lam_full": np.exp(base_h),
                        "mu_full": np.exp(base_a),
                        "hg": hg,
                        "ag": ag,
                        "xi_home": xis[0],
                        "xi_away": xis[1],
                        "stats": {
                            "home_shots": hst + int(g.poisson(6 * lam)),
                            "away_shots": ast + int(g.poisson(6 * mu)),
                            "home_shots_on_target": hst,
                            "away_shots_on_target": ast,
                            "home_corners": int(g.poisson(5.2)),
                            "away_corners": int(g.poisson(4.4)),
                        },
                        "postponed": unit(self.seed, "postpone", mid) < POSTPONE_RATE,
                    }
                )
        true = probabilities(np.array([m["lam"] for m in rows]), np.array([m["mu"] for m in rows]))
        expect = probabilities(np.array([m["lam_e"] for m in rows]), np.array([m["mu_e"] for m in rows]))
        for m, t, e in zip(rows, true, expect):
            m["true"], m["expected"] = t, e
        return {"matches": rows, "by_id": {m["match_id"]: m for m in rows}}

    def _seasons_between(self, start: datetime, end: datetime) -> list[int]:
        first = max(self.first_season, start.year - 1)
        return [y for y in range(first, end.year + 1)]

    def _matches(self, start: datetime | None, end: datetime):
        start = start or datetime(self.first_season, 7, 1, tzinfo=UTC)
        for year in self._seasons_between(start, end):
            for league in range(self.n_leagues):
                for m in self._season(league, year)["matches"]:
                    if start <= m["kickoff"] < end:
                        yield m

    def _lookup(self, match_id: str) -> dict | None:
        try:
            code, season, rnd, _ = match_id.split("-")
            league = int(code[3:]) - 1
            year = 2000 + int(season[:2])
        except (ValueError, IndexError):
            return None
        if not (0 <= league < self.n_leagues) or year < self.first_season:
            return None
        return self._season(league, year)["by_id"].get(match_id)

    # ---- the truth, for tests only ----------------------------------------------------------------
    def true_probabilities(self, match_ids: Sequence[str]) -> dict[str, tuple[float, float, float]]:
        """The real 1X2 probabilities given the XI that starts. Tests only: models never see this."""
        out = {}
        for mid in match_ids:
            m = self._lookup(mid)
            if m is not None:
                home, draw, away = (float(x) for x in m["true"])
                out[mid] = (home, draw, away)
        return out

    def true_goal_rates(self, match_ids: Sequence[str]) -> dict[str, tuple[float, float]]:
        """Each match's real goal rates (home, away) given the XI that starts: its goals are independent Poisson
        draws at these rates, so every price's truth follows (pipeline.forecast.market_probs with rho 0). Tests and
        evaluation only: models never see this. Unknown ids are left out."""
        out = {}
        for mid in match_ids:
            m = self._lookup(mid)
            if m is not None:
                out[mid] = (float(m["lam"]), float(m["mu"]))
        return out

    def two_way_book(self, match_id: str) -> TwoWayBook:
        """The over/under and Asian handicap lines the books quote for a match and their fair probabilities, true
        and publicly expected (pipeline.providers.sandbox_markets), computed once per season on first use."""
        m = self._lookup(match_id)
        if m is None:
            raise KeyError(f"unknown sandbox match id {match_id!r}")
        season = self._season(m["league"], m["year"])
        if "two_way" not in season:
            season["two_way"] = season_books(season["matches"])
        return season["two_way"][match_id]

    def true_two_way(self, match_ids: Sequence[str]) -> dict[str, dict[Selection, float]]:
        """The true fair probability of every selection the books quote (tests and evaluation only)."""
        out = {}
        for mid in match_ids:
            if self._lookup(mid) is not None:
                book = self.two_way_book(mid)
                out[mid] = {s: float(p) for pair, ps in zip(book.selections, book.true) for s, p in zip(pair, ps)}
        return out

    def missing_star_strength(self, match_id: str) -> tuple[float, float]:
        """How far below its usual XI each side's starting XI is, in player-quality units (tests only)."""
        m = self._lookup(match_id)
        if m is None:
            raise KeyError(f"unknown sandbox match id {match_id!r}")
        lg, out = m["league"], []
        for team, xi in ((m["home"], m["xi_home"]), (m["away"], m["xi_away"])):
            q = self._squad(lg, team, m["year"])
            out.append(float(q[xi].sum() - np.sort(q)[::-1][:XI].sum()))
        return out[0], out[1]


__all__ = ["SimulatedWorld", "probabilities", "seeded", "season_code", "season_start", "unit"]
