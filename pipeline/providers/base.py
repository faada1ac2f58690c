"""The provider interface: what every data source answers, in one shape.

A provider turns a source (the Sportmonks API, football-data.co.uk files, the simulated sandbox) into plain
records. It never touches the store; `pipeline.store` upserts what providers return. All datetimes are
timezone-aware UTC.
"""

from __future__ import annotations

import abc
import dataclasses
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

# the failures providers raise, with their exit codes in pipeline.errors (importable from here as before)
from pipeline.errors import ProviderAuthError as ProviderAuthError
from pipeline.errors import ProviderError
from pipeline.errors import SourceUnavailable as SourceUnavailable
from pipeline.markets import MarketPrice
from pipeline.providers.contract import LINE_NONE, Rejection, check_match, check_odds, shown

# Fixture status vocabulary shared by all providers and the store.
SCHEDULED = "scheduled"
LIVE = "live"  # in play, paused, half-time, extra time... not final
FINISHED = "finished"  # final; the 90-minute score is known
POSTPONED = "postponed"  # void for betting
CANCELLED = "cancelled"  # void
ABANDONED = "abandoned"  # void
VOID_STATUSES = (POSTPONED, CANCELLED, ABANDONED)


class LineupsUnavailable(ProviderError):
    """This source never publishes lineups (e.g. football-data.co.uk)."""


@dataclass
class Match:
    """A fixture, scheduled or played. `provider_id` is unique within the source."""

    provider_id: str
    league: str  # league code, e.g. "E0" or a Sportmonks league id as text
    season: str  # e.g. "2324"
    kickoff: datetime  # tz-aware UTC
    home_team: str
    away_team: str
    home_team_id: str | None = None  # provider's team id; the name is used when None
    away_team_id: str | None = None
    status: str = SCHEDULED
    home_goals: int | None = None  # 90-minute score (not extra time, not penalties)
    away_goals: int | None = None
    # Match statistics where the source has them; keys: home_shots, away_shots, home_shots_on_target,
    # away_shots_on_target, home_corners, away_corners.
    stats: dict = field(default_factory=dict)
    simulated: bool = False


@dataclass
class Odds:
    """One 1X2 price snapshot from one bookmaker, as seen at `fetched_at`."""

    match_id: str  # Match.provider_id
    bookmaker: str
    home: float
    draw: float
    away: float
    fetched_at: datetime  # tz-aware UTC; when the price was observed
    is_closing: bool = False
    market: str = "1X2"


@dataclass
class LineupPlayer:
    player_id: str
    name: str
    side: str  # "home" or "away"
    position: str | None = None


@dataclass
class Lineup:
    match_id: str
    players: list[LineupPlayer]  # starting eleven of both sides
    published_at: datetime | None = None


@dataclass
class Batch:
    """What a provider returns for a question: matches and the odds seen for them."""

    matches: list[Match] = field(default_factory=list)
    odds: list[Odds] = field(default_factory=list)
    # Rows the provider could not read: human-readable reasons, reported by the job, never fatal.
    problems: list[str] = field(default_factory=list)
    # Rows that broke the validation contract (pipeline.providers.contract), each also one of `problems`;
    # the store records them in `rejected_rows`.
    rejected: list[Rejection] = field(default_factory=list)
    # Over/under and Asian handicap prices (pipeline.markets), every bookmaker and line, pre-match and closing;
    # 1X2 stays in `odds`.
    market_prices: list[MarketPrice] = field(default_factory=list)

    def extend(self, other: Batch) -> None:
        self.matches.extend(other.matches)
        self.odds.extend(other.odds)
        self.market_prices.extend(other.market_prices)
        self.problems.extend(other.problems)
        self.rejected.extend(other.rejected)

    def reject(self, rejection: Rejection) -> None:
        self.rejected.append(rejection)
        self.problems.append(rejection.text())


class Provider(abc.ABC):
    """Every source answers these questions. `now` is the job's (possibly simulated) current time."""

    name: str = "provider"
    has_lineups: bool = False
    simulated: bool = False
    # Odds.fetched_at is when the price was seen, so the price-error guards may judge a price's age by it
    price_times: bool = True

    @abc.abstractmethod
    def history(self, start: datetime | None, end: datetime, now: datetime, *, markets: bool = True) -> Batch:
        """Finished matches with kick-off in [start, end) (start None: everything), with scores, stats, odds;
        `markets=False` leaves out the over/under and handicap prices (training needs none of them)."""

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

    def close(self) -> None:  # noqa: B027 - optional hook: most providers hold nothing to release
        pass


def outcome_of(home_goals: int, away_goals: int) -> str:
    return "home" if home_goals > away_goals else "away" if home_goals < away_goals else "draw"


T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last shorter): a source's ids per request, the store's rows per statement."""
    buf: list[T] = []
    for item in items:
        buf.append(item)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


# ---- text hygiene ----------------------------------------------------------------------------------------------
# Sources send what they send: NUL bytes (PostgreSQL refuses them in text), other control characters, lone
# surrogates from JSON escapes (no UTF-8 encoding exists for them). Text is cleaned once, where it enters.

_WHITESPACE_CONTROLS = "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"


def clean_text(value):
    """`value` without control characters (Unicode Cc; tabs and line breaks become spaces), lone surrogates (Cs)
    or zero-width marks, NFC-normalised and stripped. Non-strings are returned as they are."""
    if not isinstance(value, str):
        return value
    if value.isascii() and value.isprintable():
        return value.strip()
    out = []
    for ch in value:
        if ch in _WHITESPACE_CONTROLS:
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u200b\u200c\u200d\u2060\ufeff":
            continue
        else:
            out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)).strip()


def sanitize_batch(batch: Batch) -> Batch:
    """Clean every text field of a provider's batch in place and hold its records to the contract
    (pipeline.providers.contract): a match whose identity or teams are empty once cleaned, whose two teams become
    the same, or whose kick-off or score is out of range is dropped as a rejection (and its odds with it); a
    price out of range drops that snapshot as a rejection."""
    keep: list[Match] = []
    renamed: dict[str, str] = {}
    for m in batch.matches:
        original = m.provider_id
        before = (m.provider_id, m.league, m.season, m.home_team, m.away_team)
        for attr in (
            "provider_id",
            "league",
            "season",
            "home_team",
            "away_team",
            "home_team_id",
            "away_team_id",
            "status",
        ):
            setattr(m, attr, clean_text(getattr(m, attr)))
        cleaned = (
            " once control characters are removed"
            if before != (m.provider_id, m.league, m.season, m.home_team, m.away_team)
            else ""
        )
        empty = [a for a in ("provider_id", "league", "season") if not getattr(m, a)]
        if empty:
            batch.reject(
                Rejection(f"match {original!r}", LINE_NONE, "", "", f"no {', '.join(empty)}{cleaned}; row skipped")
            )
            continue
        same = m.home_team == m.away_team and (m.home_team_id or m.home_team) == (m.away_team_id or m.away_team)
        if not m.home_team or not m.away_team or same:
            batch.reject(
                Rejection(
                    f"fixture {m.provider_id}",
                    LINE_NONE,
                    "",  # no field: the line keeps the words it always had
                    shown(f"{m.home_team} v {m.away_team}"),
                    f"missing or identical teams{cleaned}; row skipped",
                )
            )
            continue
        broken = check_match(m)
        if broken:
            batch.reject(Rejection(f"fixture {m.provider_id}", LINE_NONE, broken[0], shown(broken[1]), broken[2]))
            continue
        renamed[original] = m.provider_id
        keep.append(m)
    batch.matches = keep
    odds = []
    for o in batch.odds:
        o.match_id = renamed.get(o.match_id, clean_text(o.match_id))
        o.bookmaker, o.market = clean_text(o.bookmaker), clean_text(o.market)
        if not (o.bookmaker and o.match_id):
            continue
        broken = check_odds(o)
        if broken:
            where = f"fixture {o.match_id}"
            batch.reject(Rejection(where, LINE_NONE, f"{o.bookmaker} {broken[0]}", shown(broken[1]), broken[2]))
            continue
        odds.append(o)
    batch.odds = odds
    prices, known = [], {}  # (match id, book) -> cleaned: a batch repeats a few of each hundreds of times
    for p in batch.market_prices:
        key = (p.match_id, p.bookmaker)
        if key not in known:
            known[key] = (renamed.get(p.match_id, clean_text(p.match_id)), clean_text(p.bookmaker))
        mid, book = known[key]
        if mid and book:
            prices.append(p if (mid, book) == key else dataclasses.replace(p, match_id=mid, bookmaker=book))
    batch.market_prices = prices
    return batch


def sanitize_lineups(lineups: dict) -> dict:
    out = {}
    for mid, lineup in lineups.items():
        lineup.match_id = clean_text(lineup.match_id)
        players = []
        for p in lineup.players:
            p.player_id, p.name, p.position = clean_text(p.player_id), clean_text(p.name), clean_text(p.position)
            if p.player_id:
                players.append(p)
        lineup.players = players
        out[clean_text(mid)] = lineup
    return out


class Sanitized(Provider):
    """A provider whose answers pass through `sanitize_batch`: what every job sees, whatever the source."""

    def __init__(self, inner: Provider):
        self.inner = inner
        self.name, self.has_lineups, self.simulated = inner.name, inner.has_lineups, inner.simulated
        self.price_times = inner.price_times

    def __getattr__(self, attr):  # anything else a source offers (e.g. the sandbox's world)
        return getattr(self.inner, attr)

    def history(self, start, end, now, *, markets: bool = True) -> Batch:
        return sanitize_batch(self.inner.history(start, end, now, markets=markets))

    def fixtures(self, start, end, now) -> Batch:
        return sanitize_batch(self.inner.fixtures(start, end, now))

    def results(self, match_ids, now) -> Batch:
        return sanitize_batch(self.inner.results(match_ids, now))

    def lineups(self, match_ids, now) -> dict:
        return sanitize_lineups(self.inner.lineups(match_ids, now))

    def check(self, now) -> str:
        return self.inner.check(now)

    def close(self) -> None:
        self.inner.close()
