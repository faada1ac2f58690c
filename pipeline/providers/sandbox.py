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
- the same books quote over/under and Asian handicap (`Batch.market_prices`) at the lines of
  pipeline.providers.sandbox_markets, with the same margins, noise and staleness, on a random stream of their own;
- about 1% of matches are postponed (announced a day before; never played).
`true_probabilities` gives the real 1X2 probabilities of a match (from the XI that actually starts),
`true_goal_rates` its goal rates and `true_two_way` every two-way price's truth: for tests and evaluation only, never
for the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline.markets import MarketPrice
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
from pipeline.providers.sandbox_markets import TwoWayBook
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
MARGINS = np.array([BOOK_STYLE[b][0] for b in BOOKS])
SPREADS = np.array([BOOK_STYLE[b][1] for b in BOOKS])


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

    @staticmethod
    def _quote(m: dict, at: datetime, book: str, closing: bool) -> tuple[float, bool, float, str | int]:
        """How `book` prices match `m` when asked at `at`: (margin, knows the XI, noise sd, the noise's bucket)."""
        margin, spread, every = BOOK_STYLE.get(book, (MARGIN, 1.5, 1))
        # a book that updates every `every` hours still shows the price it made at its last update
        made = at if closing else datetime.fromtimestamp((int(at.timestamp()) // (3600 * every)) * 3600 * every, UTC)
        hours_left = max(0.0, (m["kickoff"] - made).total_seconds() / 3600)
        knows_xi = closing or hours_left * 60 <= LINEUP_MINUTES
        sigma = spread * (0.015 + 0.03 * min(1.0, hours_left / (24 * ODDS_DAYS)))
        return margin, knows_xi, sigma, "close" if closing else int(made.timestamp() // 3600)

    def _price(self, m: dict, at: datetime, book: str, closing: bool = False) -> Odds:
        if closing and book in BOOKS:
            return self._closing(m)[BOOKS.index(book)]
        margin, knows_xi, sigma, bucket = self._quote(m, at, book, closing)
        belief = m["true"] if knows_xi else m["expected"]
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

    def _market_prices(self, m: dict, at: datetime, books: Sequence[str]) -> list[MarketPrice]:
        """The books' pre-match over/under and Asian handicap prices (pipeline.providers.sandbox_markets' lines)
        as `_price` makes a 1X2 price: the same margin, noise level and staleness, on a random stream of their own
        (the 1X2 prices stay as they were)."""
        two_way = self.two_way_book(m["match_id"])
        fair, noise, margins = [], [], []
        for book in books:
            margin, knows_xi, sigma, bucket = self._quote(m, at, book, False)
            fair.append(two_way.true if knows_xi else two_way.expected)
            noise.append(seeded(self.seed, "markets", m["match_id"], book, bucket).normal(0, sigma, two_way.true.shape))
            margins.append(margin)
        return _two_way_prices(m, books, two_way, np.array(fair), np.array(noise), np.array(margins), at, False)

    def _market_closing(self, m: dict) -> list[MarketPrice]:
        """Every book's closing two-way prices (at kick-off, knowing the XI), from one draw per match (as
        `_closing`)."""
        two_way = self.two_way_book(m["match_id"])
        unit = seeded(self.seed, "markets", m["match_id"], "close").normal(0, 0.015, (len(BOOKS), *two_way.true.shape))
        return _two_way_prices(
            m, BOOKS, two_way, two_way.true[None], SPREADS[:, None, None] * unit, MARGINS, m["kickoff"], True
        )

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

    def history(self, start: datetime | None, end: datetime, now: datetime, *, markets: bool = True) -> Batch:
        batch = Batch()
        for m in self._matches(start, min(end, now)):
            if self.status(m, now) != FINISHED:
                continue
            batch.matches.append(self._match(m, now))
            batch.odds.extend(self._price(m, m["kickoff"] - timedelta(days=1), book) for book in BOOKS)
            batch.odds.extend(self._closing(m))
            if markets:
                batch.market_prices.extend(self._market_prices(m, m["kickoff"] - timedelta(days=1), BOOKS))
                batch.market_prices.extend(self._market_closing(m))
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
                batch.market_prices.extend(self._market_prices(m, hour, BOOKS))
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
                batch.market_prices.extend(self._market_closing(m))
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


def _two_way_prices(
    m: dict, books: Sequence[str], two_way: TwoWayBook, fair, noise, margins, fetched_at: datetime, closing: bool
) -> list[MarketPrice]:
    """Each book's prices of every line of `two_way` (books first, then lines, then selections): the fair pairs
    (books or 1, lines, 2) moved by log-noise (books, lines, 2), renormalised and loaded with each book's margin,
    as `_odds` makes a 1X2 price."""
    p = np.exp(np.log(fair) + noise)
    p = p / p.sum(axis=2, keepdims=True)
    odds = np.maximum(np.round(1.0 / (p * (1 + np.asarray(margins)[:, None, None])), 2), 1.01).tolist()
    mid = m["match_id"]
    return [
        MarketPrice(mid, book, sel, price, closing, fetched_at)
        for book, book_odds in zip(books, odds)
        for pair, line_odds in zip(two_way.selections, book_odds)
        for sel, price in zip(pair, line_odds)
    ]


__all__ = ["SandboxProvider", "BOOKS", "SHARP_BOOK", "probabilities"]
