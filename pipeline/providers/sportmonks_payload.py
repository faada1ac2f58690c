"""Sportmonks Football API v3 payloads read into provider records: fixtures (state, kick-off, sides, the
90-minute score), 1X2 odds and starting lineups. The requests are pipeline.providers.sportmonks.

Field names and ids follow the Sportmonks v3 notes (`../shared/docs/sportmonks-v3.md`, beside the repository;
cited below as "doc §n"). Choices:
- Every bookmaker in the odds payload becomes a snapshot of its own, named by `bookmakers.canonical()` of the
  name the payload gives (`odds.bookmaker` is included), so SHARP_BOOKMAKERS and BET_BOOKMAKERS match it; a row
  without a bookmaker name keeps the Sportmonks id as text.
- The standard odds feed has current prices only (doc §3.6). For finished matches the last pre-match price
  (its `latest_bookmaker_update` at or before kick-off) is also reported as the closing price.
- A fixture the payload does not let us read (unknown state, no kick-off, sides missing, a score outside
  0..20) is a rejection in the batch (pipeline.providers.contract: file "fixture <id>", the field, its value,
  the rule), never an exception; so is a 1X2 price outside 1.01..1000 (that bookmaker's prices are dropped).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from pipeline.bookmakers import canonical
from pipeline.providers.base import (
    ABANDONED,
    CANCELLED,
    FINISHED,
    LIVE,
    POSTPONED,
    SCHEDULED,
    Batch,
    Lineup,
    LineupPlayer,
    Match,
    Odds,
)
from pipeline.providers.contract import (
    BAD_GOALS,
    BAD_PRICE,
    GOALS_MAX,
    GOALS_MIN,
    KICKOFF_MAX,
    KICKOFF_MIN,
    LINE_NONE,
    Rejection,
    price_ok,
    shown,
)

log = logging.getLogger(__name__)

MARKET_1X2 = 1  # "Fulltime Result" (doc §3.6)
LINEUP_STARTER = 11  # lineup type_id: 11 starting XI, 12 bench (doc §3.5)

# state_id -> pipeline status (doc §3.4). Keyed on ids: short names collide.
STATE_STATUS = {
    1: SCHEDULED,
    13: SCHEDULED,
    16: SCHEDULED,
    26: SCHEDULED,  # NS, TBA, DELAYED, PENDING
    2: LIVE,
    3: LIVE,
    4: LIVE,
    6: LIVE,
    9: LIVE,
    21: LIVE,
    22: LIVE,
    23: LIVE,
    25: LIVE,
    11: LIVE,
    18: LIVE,
    19: LIVE,  # SUSPENDED, INTERRUPTED, AWAITING_UPDATES: may resume or be corrected
    5: FINISHED,
    7: FINISHED,
    8: FINISHED,  # FT, AET, FT_PEN
    10: POSTPONED,
    12: CANCELLED,
    15: ABANDONED,
    20: CANCELLED,  # POSTPONED, CANCELLED, ABANDONED, DELETED
    # Walk-over and awarded: not played over 90 minutes, so void for 1X2 and useless for training.
    14: CANCELLED,
    17: ABANDONED,
}
STATE_AFTER_EXTRA_TIME = (7, 8)  # AET, FT_PEN: the CURRENT score includes extra time

# Score rows (doc §3.3): type_id and description, either may identify the row.
CURRENT = (1525, "CURRENT")
FIRST_HALF = (1, "1ST_HALF")
SECOND_HALF = (2, "2ND_HALF")  # cumulative at 90 minutes
SECOND_HALF_ONLY = (48996, "2ND_HALF_ONLY")

POSITIONS = {24: "GK", 25: "DEF", 26: "MID", 27: "ATT"}  # position_id (doc §3.5); 28 = unknown
OUTCOME_NAMES = {"home": "home", "1": "home", "draw": "draw", "x": "draw", "away": "away", "2": "away"}


def read_fixture(fx, now: datetime, bookmaker_ids: Sequence[str] = ()) -> Batch:
    """One fixture object -> a Batch with its Match and odds (of `bookmaker_ids` when given), or a problem."""
    batch = Batch()
    if not isinstance(fx, dict) or fx.get("id") is None:
        batch.reject(Rejection("fixture without an id", LINE_NONE, "id", shown(fx), "no fixture id; row skipped"))
        return batch
    fid = str(fx["id"])
    try:
        match = read_match(fid, fx)
    except Skip as exc:
        batch.reject(Rejection(f"fixture {fid}", LINE_NONE, exc.field, shown(exc.value), f"{exc}; row skipped"))
        return batch
    if match.status == FINISHED and match.home_goals is None:
        batch.problems.append(f"fixture {fid}: finished but no readable 90-minute score")
    batch.matches.append(match)
    rejected: list[Rejection] = []
    batch.odds.extend(read_odds(fid, fx.get("odds"), match, now, bookmaker_ids, rejected))
    for r in rejected:
        batch.reject(r)
    return batch


def read_match(fid: str, fx: dict) -> Match:
    state_id = _int(fx.get("state_id"))
    if state_id not in STATE_STATUS:
        raise Skip("unknown state_id", "state_id", fx.get("state_id"))
    status = STATE_STATUS[state_id]
    kickoff = _kickoff(fx)
    sides = _sides(fx.get("participants"))
    if fx.get("league_id") is None or fx.get("season_id") is None:
        raise Skip("missing league_id or season_id", "league_id", (fx.get("league_id"), fx.get("season_id")))
    home, away = sides["home"], sides["away"]
    goals = _ninety_minutes(fx.get("scores"), state_id, sides) if status == FINISHED else None
    return Match(
        provider_id=fid,
        league=str(fx["league_id"]),
        season=str(fx["season_id"]),
        kickoff=kickoff,
        home_team=home[1],
        away_team=away[1],
        home_team_id=home[0],
        away_team_id=away[0],
        status=status,
        home_goals=goals[0] if goals else None,
        away_goals=goals[1] if goals else None,
    )


def read_odds(
    fid: str,
    rows,
    match: Match,
    now: datetime,
    bookmaker_ids: Sequence[str] = (),
    rejected: list[Rejection] | None = None,
) -> list[Odds]:
    """Complete, unsuspended 1X2 prices, one snapshot per bookmaker (only and in the order of `bookmaker_ids`,
    SPORTMONKS_BOOKMAKERS, when given). A price outside 1.01..1000 drops its bookmaker, as one of `rejected`."""
    refused: set[str] = set()
    if not isinstance(rows, list):
        return []
    books: dict[str, dict] = {}
    names: dict[str, str] = {}
    for row in rows:
        if not isinstance(row, dict) or _int(row.get("market_id")) != MARKET_1X2 or row.get("stopped"):
            continue
        book = row.get("bookmaker_id")
        if book is None or (bookmaker_ids and str(book) not in bookmaker_ids):
            continue
        info = json_object(row.get("bookmaker"))
        if isinstance(info.get("name"), str) and info["name"].strip():
            names[str(book)] = canonical(info["name"])
        outcome = OUTCOME_NAMES.get(str(row.get("name") or "").strip().lower()) or OUTCOME_NAMES.get(
            str(row.get("label") or "").strip().lower()
        )
        price = number(row.get("value"))
        if outcome is None or row.get("value") in (None, ""):
            continue
        if price is None or not price_ok(price):
            if rejected is not None and str(book) not in refused:
                field = f"odds[{outcome}] (bookmaker {book})"
                rejected.append(Rejection(f"fixture {fid}", LINE_NONE, field, shown(row.get("value")), BAD_PRICE))
            refused.add(str(book))
            continue
        seen = _timestamp(row.get("latest_bookmaker_update"))
        entry = books.setdefault(str(book), {"seen": None})
        entry[outcome] = price
        if seen is not None and (entry["seen"] is None or seen > entry["seen"]):
            entry["seen"] = seen
    order = {b: i for i, b in enumerate(bookmaker_ids)}
    out, closing = [], []
    for book in sorted(books, key=lambda b: (order.get(b, len(order)), b)):
        entry = books[book]
        if book in refused:
            continue
        if not all(k in entry for k in ("home", "draw", "away")):
            # Suspended or unreadable prices: no snapshot, and no problem either (the fixture is fine).
            log.debug("fixture %s: bookmaker %s has no complete 1X2 market", fid, book)
            continue
        seen = entry["seen"]
        prices = dict(
            match_id=fid,
            bookmaker=names.get(book, book),
            home=entry["home"],
            draw=entry["draw"],
            away=entry["away"],
            fetched_at=seen or now,
        )
        out.append(Odds(**prices))
        if match.status == FINISHED and seen is not None and seen <= match.kickoff:
            closing.append(Odds(**prices, is_closing=True))
    return out + closing


def read_lineup(fx, problems: list[str]) -> Lineup | None:
    """The starting XIs of one fixture object (None until both are published); bad rows become `problems`."""
    if not isinstance(fx, dict) or fx.get("id") is None:
        return None
    fid = str(fx["id"])
    try:
        sides = _sides(fx.get("participants"))
    except Skip as exc:
        problems.append(f"fixture {fid}: {exc}")
        return None
    side_of = {sides["home"][0]: "home", sides["away"][0]: "away"}
    players = []
    for row in fx.get("lineups") or []:
        if not isinstance(row, dict) or _int(row.get("type_id")) != LINEUP_STARTER:
            continue
        side = side_of.get(str(row.get("team_id")))
        if side is None or row.get("player_id") is None:
            problems.append(f"fixture {fid}: lineup row {row.get('id')} has no player or an unknown team")
            continue
        players.append(
            LineupPlayer(
                player_id=str(row["player_id"]),
                name=str(row.get("player_name") or ""),
                side=side,
                position=POSITIONS.get(_int(row.get("position_id")) or 0),  # 0: no such position
            )
        )
    if not {"home", "away"} <= {p.side for p in players}:
        return None  # not published yet (or only one side so far)
    return Lineup(match_id=fid, players=players)


class Skip(Exception):
    """A fixture the payload does not let us read; becomes a rejection naming the field and its value."""

    def __init__(self, rule: str, field: str = "", value=None):
        super().__init__(rule)
        self.field, self.value = field, value


def json_object(value) -> dict:
    """`value` if it is a JSON object, else an empty one (a payload field that is missing or of another type)."""
    return value if isinstance(value, dict) else {}


def data_items(body: dict | None) -> list:
    """The objects of an answer's `data` (one object or a list)."""
    if body is None:
        return []
    data = body.get("data")
    if isinstance(data, dict):
        return [data]
    return data if isinstance(data, list) else []


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def number(value) -> float | None:
    """A finite number from a JSON value (numbers and numeric strings; not booleans), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _timestamp(value) -> datetime | None:
    """ "YYYY-MM-DD HH:MM:SS" in UTC (doc §6); ISO strings with an offset are converted."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is not None and ts.utcoffset() is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _kickoff(fx: dict) -> datetime:
    # The epoch timestamp is unambiguous; `starting_at` is UTC without a marker (doc §6).
    stamp = number(fx.get("starting_at_timestamp"))
    if stamp is not None and stamp > 0:
        if not KICKOFF_MIN.timestamp() <= stamp < KICKOFF_MAX.timestamp():
            raise Skip(
                f"kick-off timestamp outside {KICKOFF_MIN.year}..{KICKOFF_MAX.year - 1}", "starting_at_timestamp", stamp
            )
        return datetime.fromtimestamp(stamp, UTC)
    kickoff = _timestamp(fx.get("starting_at"))
    if kickoff is None or not KICKOFF_MIN <= kickoff < KICKOFF_MAX:
        raise Skip(
            "bad kick-off (accepted: YYYY-MM-DD HH:MM:SS in UTC, or ISO 8601 with an offset)",
            "starting_at",
            fx.get("starting_at"),
        )
    return kickoff


def _sides(participants) -> dict[str, tuple[str, str]]:
    """{"home": (team id, name), "away": (...)} from participants[].meta.location."""
    out = {}
    for p in participants if isinstance(participants, list) else []:
        if not isinstance(p, dict):
            continue
        loc = json_object(p.get("meta")).get("location")
        if loc in ("home", "away") and p.get("id") is not None and p.get("name"):
            if loc in out:
                raise Skip(f"two {loc} participants", "participants", loc)
            out[loc] = (str(p["id"]), str(p["name"]))
    if set(out) != {"home", "away"}:
        raise Skip("missing home or away participant", "participants", sorted(out))
    if out["home"][0] == out["away"][0]:
        raise Skip("home and away are the same team", "participants", out["home"][0])
    return out


def _score(rows, kind: tuple[int, str], sides: dict) -> tuple[int, int] | None:
    by_team = {team_id: loc for loc, (team_id, _) in sides.items()}
    found: dict[str, int] = {}
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        if _int(row.get("type_id")) != kind[0] and row.get("description") != kind[1]:
            continue
        score = json_object(row.get("score"))
        loc = (
            score.get("participant")
            if score.get("participant") in ("home", "away")
            else by_team.get(str(row.get("participant_id")))
        )
        goals = _int(score.get("goals"))
        if loc is not None and goals is not None:
            if not GOALS_MIN <= goals <= GOALS_MAX:
                raise Skip(BAD_GOALS.removesuffix("; row skipped"), f"scores[{kind[1]}].{loc}", score.get("goals"))
            found[loc] = goals
    return (found["home"], found["away"]) if set(found) == {"home", "away"} else None


def _ninety_minutes(rows, state_id: int, sides: dict) -> tuple[int, int] | None:
    """The regulation-time score 1X2 settles on (doc §3.3): CURRENT at FT; after extra time the 2ND_HALF
    (cumulative) row, cross-checked with 1ST_HALF + 2ND_HALF_ONLY; disagreement means we do not know."""
    if state_id not in STATE_AFTER_EXTRA_TIME:
        return _score(rows, CURRENT, sides) or _score(rows, SECOND_HALF, sides)
    cumulative = _score(rows, SECOND_HALF, sides)
    first, second = _score(rows, FIRST_HALF, sides), _score(rows, SECOND_HALF_ONLY, sides)
    summed = (first[0] + second[0], first[1] + second[1]) if first and second else None
    if cumulative and summed and cumulative != summed:
        return None
    return cumulative or summed


__all__ = [
    "LINEUP_STARTER",
    "MARKET_1X2",
    "STATE_STATUS",
    "Skip",
    "data_items",
    "json_object",
    "number",
    "read_fixture",
    "read_lineup",
    "read_match",
    "read_odds",
]
