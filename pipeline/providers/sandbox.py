"""The simulated sandbox: a deterministic football world, so the whole system runs with no network and no key,
and tests can check the models against a known truth. Everything here is SIMULATED: leagues "SIM1".., teams
"Sim ...", players "Sim Player ..."; every Match it returns has simulated=True.

The world (leagues, squads, calendar, goals) is pipeline.providers.sandbox_world; this module answers the
provider's questions about it at the time asked:
- starting lineups published 60 minutes before kick-off; results once the match is over (kick-off + 2 h);
- bookmakers price the match from the XI they expect (injuries are public, rotation is not), with noise that
  shrinks towards kick-off; prices from 7 days before; the closing price (at kick-off) knows the announced XI.
  One sharp book ("Pinnacle": 2.5% margin, little noise, a new price every hour, the lineups as soon as they are
  out) and the soft books of `bookmakers.SOFT_DEFAULT` (5-7% margins, about twice the noise, a price refreshed
  only every 6-24 hours, so stale after news). A soft price sometimes beats the sharp line by more
  than its margin: real, known edges (`true_probabilities` is the truth they are measured against);
- about 1% of matches are postponed (announced a day before; never played).
`true_probabilities` gives the real 1X2 probabilities of a match (from the XI that actually starts): for tests
only, never for the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline.providers.base import (
    FINISHED,
    LIVE,
    POSTPONED,
    SCHEDULED,
    Batch,
    Lineup,
    LineupPlayer,
    Match,
    Odds,
    Provider,
)
from pipeline.providers.sandbox_world import SimulatedWorld, probabilities, season_code, seeded

MARGIN = 0.05
ODDS_DAYS = 7
LINEUP_MINUTES = 60
MATCH_HOURS = 2
SHARP_BOOK = "Pinnacle"
# book -> (margin, noise relative to the sharp book's, hours between price updates)
BOOK_STYLE = {
    SHARP_BOOK: (0.025, 1.0, 1),
    "Bet365": (0.05, 1.75, 6),
    "Bet&Win": (0.06, 1.9, 12),
    "Interwetten": (0.07, 2.1, 24),
    "William Hill": (0.055, 1.75, 8),
    "VC Bet": (0.05, 2.2, 12),
}
BOOKS = tuple(BOOK_STYLE)


class SandboxProvider(SimulatedWorld, Provider):
    name = "sandbox"
    has_lineups = True
    simulated = True

    # ---- what a provider answers -----------------------------------------------------------------
    def status(self, m: dict, now: datetime) -> str:
        if m["postponed"] and now >= m["kickoff"] - timedelta(days=1):
            return POSTPONED
        if now >= m["kickoff"] + timedelta(hours=MATCH_HOURS):
            return FINISHED
        if now >= m["kickoff"]:
            return LIVE
        return SCHEDULED

    def _match(self, m: dict, now: datetime) -> Match:
        status = self.status(m, now)
        lg = m["league"]
        done = status == FINISHED
        return Match(
            provider_id=m["match_id"],
            league=f"SIM{lg + 1}",
            season=season_code(m["year"]),
            kickoff=m["kickoff"],
            home_team=self.team_name(lg, m["home"]),
            away_team=self.team_name(lg, m["away"]),
            home_team_id=f"SIM{lg + 1}-T{m['home']:02d}",
            away_team_id=f"SIM{lg + 1}-T{m['away']:02d}",
            status=status,
            home_goals=m["hg"] if done else None,
            away_goals=m["ag"] if done else None,
            stats=dict(m["stats"]) if done else {},
            simulated=True,
        )

    def _price(self, m: dict, at: datetime, book: str, closing: bool = False) -> Odds:
        if closing and book in BOOKS:
            return self._closing(m)[BOOKS.index(book)]
        margin, spread, every = BOOK_STYLE.get(book, (MARGIN, 1.5, 1))
        # a book that updates every `every` hours still shows the price it made at its last update
        made = at if closing else datetime.fromtimestamp((int(at.timestamp()) // (3600 * every)) * 3600 * every, UTC)
        hours_left = max(0.0, (m["kickoff"] - made).total_seconds() / 3600)
        lineup_known = hours_left * 60 <= LINEUP_MINUTES
        belief = m["true"] if (closing or lineup_known) else m["expected"]
        sigma = spread * (0.015 + 0.03 * min(1.0, hours_left / (24 * ODDS_DAYS)))
        bucket = "close" if closing else int(made.timestamp() // 3600)
        noise = seeded(self.seed, "odds", m["match_id"], book, bucket).normal(0, sigma, 3)
        return self._odds(m, book, belief, noise, margin, m["kickoff"] if closing else at, closing)

    def _closing(self, m: dict) -> list[Odds]:
        """Every book's closing price (at kick-off, knowing the XI), from one draw: settling thousands of
        matches creates a random generator per match, not one per match and book."""
        unit = seeded(self.seed, "odds", m["match_id"], "close").normal(0, 0.015, (len(BOOKS), 3))
        return [
            self._odds(m, book, m["true"], BOOK_STYLE[book][1] * unit[i], BOOK_STYLE[book][0], m["kickoff"], True)
            for i, book in enumerate(BOOKS)
        ]

    @staticmethod
    def _odds(m: dict, book: str, belief, noise, margin: float, fetched_at: datetime, closing: bool) -> Odds:
        p = np.exp(np.log(belief) + noise)
        p = p / p.sum()
        odds = np.maximum(np.round(1.0 / (p * (1 + margin)), 2), 1.01)
        return Odds(
            match_id=m["match_id"],
            bookmaker=book,
            home=float(odds[0]),
            draw=float(odds[1]),
            away=float(odds[2]),
            fetched_at=fetched_at,
            is_closing=closing,
        )

    def history(self, start: datetime | None, end: datetime, now: datetime) -> Batch:
        batch = Batch()
        for m in self._matches(start, min(end, now)):
            if self.status(m, now) != FINISHED:
                continue
            batch.matches.append(self._match(m, now))
            batch.odds.extend(self._price(m, m["kickoff"] - timedelta(days=1), book) for book in BOOKS)
            batch.odds.extend(self._closing(m))
        return batch

    def fixtures(self, start: datetime, end: datetime, now: datetime) -> Batch:
        batch = Batch()
        hour = now.replace(minute=0, second=0, microsecond=0)
        for m in self._matches(start, end):
            batch.matches.append(self._match(m, now))
            if m["kickoff"] - timedelta(days=ODDS_DAYS) <= now < m["kickoff"] and not (
                m["postponed"] and now >= m["kickoff"] - timedelta(days=1)
            ):
                for book in BOOKS:
                    batch.odds.append(self._price(m, hour, book))
        return batch

    def results(self, match_ids: Sequence[str], now: datetime) -> Batch:
        batch = Batch()
        for mid in match_ids:
            m = self._lookup(mid)
            if m is None:
                batch.problems.append(f"unknown sandbox match id {mid!r}")
                continue
            match = self._match(m, now)
            batch.matches.append(match)
            if match.status == FINISHED:
                batch.odds.extend(self._closing(m))
        return batch

    def lineups(self, match_ids: Sequence[str], now: datetime) -> dict[str, Lineup]:
        out = {}
        for mid in match_ids:
            m = self._lookup(mid)
            if m is None or m["postponed"] or now < m["kickoff"] - timedelta(minutes=LINEUP_MINUTES):
                continue
            lg = m["league"]
            players = [
                LineupPlayer(self.player_id(lg, m[team], k), f"Sim Player {lg + 1}{m[team]:02d}-{k:02d}", side)
                for side, team, xi in (("home", "home", m["xi_home"]), ("away", "away", m["xi_away"]))
                for k in xi
            ]
            out[mid] = Lineup(mid, players, m["kickoff"] - timedelta(minutes=LINEUP_MINUTES))
        return out

    def check(self, now: datetime) -> str:
        return "sandbox (simulated): ok"


__all__ = ["SandboxProvider", "BOOKS", "SHARP_BOOK", "probabilities"]
