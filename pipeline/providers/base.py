"""The provider interface: what every data source answers, in one shape.

A provider turns a source (the Sportmonks API, football-data.co.uk files, the simulated sandbox) into plain
records. It never touches the store; `pipeline.store` upserts what providers return. All datetimes are
timezone-aware UTC.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

# Fixture status vocabulary shared by all providers and the store.
SCHEDULED = "scheduled"
LIVE = "live"            # in play, paused, half-time, extra time... not final
FINISHED = "finished"    # final; the 90-minute score is known
POSTPONED = "postponed"  # void for betting
CANCELLED = "cancelled"  # void
ABANDONED = "abandoned"  # void
STATUSES = (SCHEDULED, LIVE, FINISHED, POSTPONED, CANCELLED, ABANDONED)
VOID_STATUSES = (POSTPONED, CANCELLED, ABANDONED)

OUTCOMES = ("home", "draw", "away")


class ProviderError(Exception):
    """The source failed in a way a later run may not (network, 5xx after retries, bad payload)."""


class ProviderAuthError(ProviderError):
    """The source refused our credentials (401/403): retrying will not help; the operator must act."""


class LineupsUnavailable(ProviderError):
    """This source never publishes lineups (e.g. football-data.co.uk)."""


@dataclass
class Match:
    """A fixture, scheduled or played. `provider_id` is unique within the source."""
    provider_id: str
    league: str                    # league code, e.g. "E0" or a Sportmonks league id as text
    season: str                    # e.g. "2324"
    kickoff: datetime              # tz-aware UTC
    home_team: str
    away_team: str
    home_team_id: str | None = None   # provider's team id; the name is used when None
    away_team_id: str | None = None
    status: str = SCHEDULED
    home_goals: int | None = None     # 90-minute score (not extra time, not penalties)
    away_goals: int | None = None
    # Match statistics where the source has them; keys: home_shots, away_shots, home_shots_on_target,
    # away_shots_on_target, home_corners, away_corners.
    stats: dict = field(default_factory=dict)
    simulated: bool = False


@dataclass
class Odds:
    """One 1X2 price snapshot from one bookmaker, as seen at `fetched_at`."""
    match_id: str                  # Match.provider_id
    bookmaker: str
    home: float
    draw: float
    away: float
    fetched_at: datetime           # tz-aware UTC; when the price was observed
    is_closing: bool = False
    market: str = "1X2"


@dataclass
class LineupPlayer:
    player_id: str
    name: str
    side: str                      # "home" or "away"
    position: str | None = None


@dataclass
class Lineup:
    match_id: str
    players: list[LineupPlayer]    # starting eleven of both sides
    published_at: datetime | None = None


@dataclass
class Batch:
    """What a provider returns for a question: matches and the odds seen for them."""
    matches: list[Match] = field(default_factory=list)
    odds: list[Odds] = field(default_factory=list)
    # Rows the provider could not read: human-readable reasons, reported by the job, never fatal.
    problems: list[str] = field(default_factory=list)

    def extend(self, other: "Batch") -> None:
        self.matches.extend(other.matches)
        self.odds.extend(other.odds)
        self.problems.extend(other.problems)


class Provider(abc.ABC):
    """Every source answers these questions. `now` is the job's (possibly simulated) current time."""

    name: str = "provider"
    has_lineups: bool = False
    simulated: bool = False

    @abc.abstractmethod
    def history(self, start: datetime | None, end: datetime, now: datetime) -> Batch:
        """Finished matches with kick-off in [start, end) (start None: everything), with scores, stats, odds."""

    @abc.abstractmethod
    def fixtures(self, start: datetime, end: datetime, now: datetime) -> Batch:
        """Matches kicking off in [start, end) with their latest pre-match 1X2 odds as known at `now`."""

    @abc.abstractmethod
    def results(self, match_ids: Sequence[str], now: datetime) -> Batch:
        """Current status and (when finished) the 90-minute score of the given matches, closing odds if known."""

    def lineups(self, match_ids: Sequence[str], now: datetime) -> dict[str, Lineup]:
        """Starting lineups published by `now`, keyed by match id; matches without a lineup yet are absent."""
        raise LineupsUnavailable(f"{self.name} does not publish lineups")

    def check(self, now: datetime) -> str:
        """A cheap call proving the source answers (health check). Returns a short description."""
        return f"{self.name}: ok"

    def close(self) -> None:
        pass


def outcome_of(home_goals: int, away_goals: int) -> str:
    return "home" if home_goals > away_goals else "away" if home_goals < away_goals else "draw"


def chunks(items: Iterable, size: int):
    buf = []
    for item in items:
        buf.append(item)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf
