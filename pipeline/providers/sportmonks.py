"""Sportmonks Football API v3 as a provider: fixtures, 90-minute results, pre-match 1X2 odds, starting lineups.

Field names, ids and limits follow the Sportmonks v3 notes (`../shared/docs/sportmonks-v3.md`, beside the
repository, as for the README's production guide; cited below as "doc §n"). Choices:
- The token travels only in the `Authorization` header (doc §1), never in a URL, so URLs can be logged.
- Pages are requested with our own `page=` counter (or `cursor=` when the API hands one out) and the same
  params, not by following `next_page`: that URL is built by the server and would carry our token to whatever
  host it names. `max_pages` stops a server that keeps saying `has_more`.
- "200 with `message` and no `data`" means no results or no access (doc §2, §7.1): an empty answer, logged.
- A body that is not JSON (e.g. a truncated response) is fetched once more, then raises ProviderError.
- The per-entity hourly budget (doc §4) is read from every body's `rate_limit`; when it reaches 0 the next
  call to that entity waits for the reset if that is short (`max_budget_wait`), else raises ProviderError.
- Every bookmaker in the odds payload becomes a snapshot of its own, named by `bookmakers.canonical()` of the
  name the payload gives (`odds.bookmaker` is included), so SHARP_BOOKMAKERS and BET_BOOKMAKERS match it; a row
  without a bookmaker name keeps the Sportmonks id as text. SPORTMONKS_BOOKMAKERS (ids) narrows what is fetched.
- The standard odds feed has current prices only (doc §3.6). For finished matches the last pre-match price
  (its `latest_bookmaker_update` at or before kick-off) is also reported as the closing price.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import requests

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
    Provider,
    ProviderAuthError,
    ProviderError,
    chunks,
)
from pipeline.providers.http_client import make_session, request

log = logging.getLogger(__name__)

UTC = UTC
PER_PAGE = 50  # the documented maximum (doc §1)
MULTI_MAX_IDS = 50  # fixtures/multi accepts at most 50 ids (doc §1)
WINDOW_DAYS = 100  # fixtures/between spans at most 100 days (doc §1); we ask for 100 inclusive days
DEFAULT_HISTORY_DAYS = 3653  # history(start=None): how far back "everything" reaches
MARKET_1X2 = 1  # "Fulltime Result" (doc §3.6)
LINEUP_STARTER = 11  # lineup type_id: 11 starting XI, 12 bench (doc §3.5)
ODDS_INCLUDE = "participants;scores;odds.bookmaker"  # odds with their bookmaker's name (doc §1: nested include)

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


class SportmonksProvider(Provider):
    name = "sportmonks"
    has_lineups = True

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.sportmonks.com/v3/football",
        league_ids: Sequence[str] = (),
        bookmaker_ids: Sequence[str] = (),
        timeout=(5.0, 30.0),
        max_pages: int = 50,
        attempts: int = 4,
        backoff: float = 1.0,
        session=None,
        max_budget_wait: float = 60.0,
        deadline: float = 120.0,
    ):
        if not api_key:
            raise ProviderAuthError("Sportmonks needs an API token (SPORTMONKS_API_KEY)")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.league_ids = tuple(str(x) for x in league_ids)
        self.bookmaker_ids = tuple(str(x) for x in bookmaker_ids)
        self.timeout = timeout
        self.max_pages = max_pages
        self.attempts = attempts
        self.backoff = backoff
        self.max_budget_wait = max_budget_wait
        self.deadline = deadline  # wall clock of one request (pipeline.providers.http_client)
        self._session = session or make_session()
        self._own_session = session is None
        # first path segment -> (remaining calls, monotonic reset deadline, entity name)
        self._budget: dict[str, tuple[int, float, str]] = {}

    def __repr__(self) -> str:  # never show the token
        return f"SportmonksProvider(base_url={self.base_url!r}, league_ids={self.league_ids!r})"

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    # ---- the Provider questions -------------------------------------------------------------------------

    def history(self, start: datetime | None, end: datetime, now: datetime) -> Batch:
        start = start if start is not None else end - timedelta(days=DEFAULT_HISTORY_DAYS)
        batch = self._between(start, end, now, include=ODDS_INCLUDE)
        batch.matches = [m for m in batch.matches if m.status == FINISHED]
        keep = {m.provider_id for m in batch.matches}
        batch.odds = [o for o in batch.odds if o.match_id in keep]
        return batch

    def fixtures(self, start: datetime, end: datetime, now: datetime) -> Batch:
        return self._between(start, end, now, include=ODDS_INCLUDE)

    def results(self, match_ids: Sequence[str], now: datetime) -> Batch:
        batch = Batch()
        for fx in self._multi(match_ids, ODDS_INCLUDE, self._odds_filters(), batch.problems):
            batch.extend(self._read_fixture(fx, now))
        return batch

    def lineups(self, match_ids: Sequence[str], now: datetime) -> dict[str, Lineup]:
        out: dict[str, Lineup] = {}
        problems: list[str] = []
        for fx in self._multi(match_ids, "participants;lineups", [f"lineupTypes:{LINEUP_STARTER}"], problems):
            lineup = self._read_lineup(fx, problems)
            if lineup is not None:
                out[lineup.match_id] = lineup
        for p in problems:
            log.warning("sportmonks lineups: %s", p)
        return out

    def check(self, now: datetime) -> str:
        body = self._get("leagues", {"per_page": 1})
        if body is None:
            raise ProviderError("Sportmonks answered but lists no leagues: check the subscription")
        rl = body.get("rate_limit") or {}
        return (
            f"{self.name}: ok ({rl.get('requested_entity', 'League')} calls left this hour: {rl.get('remaining', '?')})"
        )

    # ---- requests ---------------------------------------------------------------------------------------

    def _between(self, start: datetime, end: datetime, now: datetime, include: str) -> Batch:
        """Fixtures with kick-off in [start, end), read in windows the API accepts (UTC dates, inclusive)."""
        batch = Batch()
        if end <= start:
            return batch
        first, last = start.astimezone(UTC).date(), (end.astimezone(UTC) - timedelta(microseconds=1)).date()
        filters = ([f"fixtureLeagues:{','.join(self.league_ids)}"] if self.league_ids else []) + self._odds_filters()
        seen: set[str] = set()
        for a, b in _windows(first, last):
            path = f"fixtures/between/{a.isoformat()}/{b.isoformat()}"
            for items in self._pages(path, {"include": include, "filters": ";".join(filters)}):
                for fx in items:
                    part = self._read_fixture(fx, now)
                    part.matches = [m for m in part.matches if start <= m.kickoff < end and m.provider_id not in seen]
                    ids = {m.provider_id for m in part.matches}
                    seen |= ids
                    part.odds = [o for o in part.odds if o.match_id in ids]
                    batch.extend(part)
        return batch

    def _odds_filters(self) -> list[str]:
        out = [f"markets:{MARKET_1X2}"]
        if self.bookmaker_ids:
            out.append(f"bookmakers:{','.join(self.bookmaker_ids)}")
        return out

    def _multi(self, match_ids: Sequence[str], include: str, filters: list[str], problems: list[str]):
        """fixtures/multi in chunks of 50 ids; ids that come back with nothing are reported."""
        ids = []
        for mid in dict.fromkeys(str(m) for m in match_ids):
            if mid.isdigit():
                ids.append(mid)
            else:
                problems.append(f"fixture {mid!r}: not a Sportmonks fixture id")
        for part in chunks(ids, MULTI_MAX_IDS):
            body = self._get(f"fixtures/multi/{','.join(part)}", {"include": include, "filters": ";".join(filters)})
            items = _items(body)
            returned = {str(fx.get("id")) for fx in items if isinstance(fx, dict)}
            problems.extend(
                f"fixture {mid}: not returned (unknown id or not in the subscription)"
                for mid in part
                if mid not in returned
            )
            yield from items

    def _pages(self, path: str, params: dict) -> Iterator[list]:
        page, cursor = 1, None
        for _ in range(self.max_pages):
            query = dict(params, per_page=PER_PAGE)
            if cursor:
                query["cursor"] = cursor
            else:
                query["page"] = page
            body = self._get(path, query)
            if body is None:
                return
            yield _items(body)
            pagination = body.get("pagination") or {}
            if not pagination.get("has_more"):
                return
            cursor, page = pagination.get("next_cursor"), page + 1
        raise ProviderError(
            f"{self.base_url}/{path}: still more pages after {self.max_pages}; narrow the date range or raise max_pages"
        )

    def _get(self, path: str, params: dict) -> dict | None:
        """One call: the JSON body, or None for "no results / no access" answers."""
        url = f"{self.base_url}/{path}"
        shown = f"{url}?{urlencode(params)}" if params else url  # no secret in it: the token is a header
        kind = path.split("/", 1)[0]
        self._respect_budget(kind)
        headers = {"Authorization": self._api_key, "Accept": "application/json"}
        for attempt in (1, 2):
            try:
                resp = request(
                    self._session,
                    url,
                    params=params,
                    headers=headers,
                    timeout=self.timeout,
                    attempts=self.attempts,
                    backoff=self.backoff,
                    safe_url=shown,
                    wait_hint=lambda r: self._wait_hint(r, kind),
                    deadline=self.deadline,
                    max_wait=self.max_budget_wait,
                )
            except ProviderAuthError as exc:
                raise ProviderAuthError(
                    self._redact(
                        f"Sportmonks refused the request ({exc}): check SPORTMONKS_API_KEY and that the "
                        "subscription covers this endpoint and these leagues"
                    )
                ) from None
            except ProviderError as exc:
                raise ProviderError(self._redact(str(exc))) from None
            try:
                body = resp.json()
            except ValueError:
                if resp.status_code >= 300:
                    raise ProviderError(f"{shown}: HTTP {resp.status_code}") from None
                if attempt == 1:  # a truncated body is worth one more call
                    log.warning("%s: HTTP %s body is not JSON; asking once more", shown, resp.status_code)
                    continue
                raise ProviderError(
                    f"{shown}: HTTP {resp.status_code} body is not JSON ({len(resp.content)} bytes)"
                ) from None
            break
        if not isinstance(body, dict):
            raise ProviderError(f"{shown}: unexpected JSON body ({type(body).__name__}, expected an object)")
        self._note_budget(kind, body.get("rate_limit"))
        message = self._redact(str(body.get("message") or ""))[:300]
        if resp.status_code == 404 and "data" not in body:
            log.info("%s: HTTP 404 treated as empty: %s", shown, message)
            return None
        if resp.status_code >= 300:
            code = body.get("code")
            raise ProviderError(
                f"{shown}: HTTP {resp.status_code}"
                f"{f' code {code}' if code is not None else ''}: {message or 'no message'}"
            )
        if body.get("data") is None:
            log.info("%s: no data: %s", shown, message or "(no message)")
            return None
        return body

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    # ---- rate-limit budget ------------------------------------------------------------------------------

    def _note_budget(self, kind: str, rate_limit) -> None:
        if not isinstance(rate_limit, dict):
            return
        remaining, resets = _number(rate_limit.get("remaining")), _number(rate_limit.get("resets_in_seconds"))
        if remaining is None or resets is None:
            return
        entity = str(rate_limit.get("requested_entity") or kind)
        self._budget[kind] = (int(remaining), time.monotonic() + max(0.0, resets), entity)

    def _respect_budget(self, kind: str) -> None:
        remaining, deadline, entity = self._budget.get(kind, (1, 0.0, kind))
        wait = deadline - time.monotonic()
        if remaining > 0 or wait <= 0:
            return
        if wait > self.max_budget_wait:
            raise ProviderError(
                f"Sportmonks hourly budget for {entity} is exhausted; it resets in {wait:.0f} s "
                f"(this run waits at most {self.max_budget_wait:.0f} s)"
            )
        log.warning("Sportmonks budget for %s is exhausted: waiting %.1f s for the reset", entity, wait)
        _sleep(wait)
        self._budget.pop(kind, None)

    def _wait_hint(self, resp: requests.Response, kind: str) -> float | None:
        """Seconds until a 429'd budget resets (body `rate_limit.resets_in_seconds` or `retry_after`).

        A reset further away than `max_budget_wait` ends the run's use of this entity at once: retrying
        inside the hour only spends attempts.
        """
        try:
            body = resp.json()
        except ValueError:
            return None  # pipeline.providers.http_client falls back to Retry-After, then to backoff
        if not isinstance(body, dict):
            return None
        rl = body.get("rate_limit") if isinstance(body.get("rate_limit"), dict) else {}
        secs = _number(rl.get("resets_in_seconds"))
        if secs is None:
            secs = _number(body.get("retry_after"))
        if secs is None:
            return None
        secs = max(0.0, secs)
        entity = str(rl.get("requested_entity") or kind)
        self._budget[kind] = (0, time.monotonic() + secs, entity)
        if secs > self.max_budget_wait:
            raise ProviderError(
                f"Sportmonks rate limit for {entity} reached (HTTP 429); it resets in {secs:.0f} s "
                f"(this run waits at most {self.max_budget_wait:.0f} s)"
            )
        return secs

    # ---- payload reading --------------------------------------------------------------------------------

    def _read_fixture(self, fx, now: datetime) -> Batch:
        """One fixture object -> a Batch with its Match and odds, or a problem."""
        batch = Batch()
        if not isinstance(fx, dict) or fx.get("id") is None:
            batch.problems.append(f"fixture without an id: {str(fx)[:80]}")
            return batch
        fid = str(fx["id"])
        try:
            match = self._read_match(fid, fx)
        except _Skip as exc:
            batch.problems.append(f"fixture {fid}: {exc}")
            return batch
        if match.status == FINISHED and match.home_goals is None:
            batch.problems.append(f"fixture {fid}: finished but no readable 90-minute score")
        batch.matches.append(match)
        batch.odds.extend(self._read_odds(fid, fx.get("odds"), match, now))
        return batch

    def _read_match(self, fid: str, fx: dict) -> Match:
        state_id = _int(fx.get("state_id"))
        if state_id not in STATE_STATUS:
            raise _Skip(f"unknown state_id {fx.get('state_id')!r}")
        status = STATE_STATUS[state_id]
        kickoff = _kickoff(fx)
        sides = _sides(fx.get("participants"))
        if fx.get("league_id") is None or fx.get("season_id") is None:
            raise _Skip("missing league_id or season_id")
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

    def _read_odds(self, fid: str, rows, match: Match, now: datetime) -> list[Odds]:
        """Complete, unsuspended 1X2 prices, one snapshot per bookmaker (SPORTMONKS_BOOKMAKERS' order first)."""
        if not isinstance(rows, list):
            return []
        books: dict[str, dict] = {}
        names: dict[str, str] = {}
        for row in rows:
            if not isinstance(row, dict) or _int(row.get("market_id")) != MARKET_1X2 or row.get("stopped"):
                continue
            book = row.get("bookmaker_id")
            if book is None or (self.bookmaker_ids and str(book) not in self.bookmaker_ids):
                continue
            info = row.get("bookmaker") if isinstance(row.get("bookmaker"), dict) else {}
            if isinstance(info.get("name"), str) and info["name"].strip():
                names[str(book)] = canonical(info["name"])
            outcome = OUTCOME_NAMES.get(str(row.get("name") or "").strip().lower()) or OUTCOME_NAMES.get(
                str(row.get("label") or "").strip().lower()
            )
            price = _number(row.get("value"))
            if outcome is None or price is None or price <= 1.0:
                continue
            seen = _timestamp(row.get("latest_bookmaker_update"))
            entry = books.setdefault(str(book), {"seen": None})
            entry[outcome] = price
            if seen is not None and (entry["seen"] is None or seen > entry["seen"]):
                entry["seen"] = seen
        order = {b: i for i, b in enumerate(self.bookmaker_ids)}
        out, closing = [], []
        for book in sorted(books, key=lambda b: (order.get(b, len(order)), b)):
            entry = books[book]
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

    def _read_lineup(self, fx, problems: list[str]) -> Lineup | None:
        if not isinstance(fx, dict) or fx.get("id") is None:
            return None
        fid = str(fx["id"])
        try:
            sides = _sides(fx.get("participants"))
        except _Skip as exc:
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
                    position=POSITIONS.get(_int(row.get("position_id"))),
                )
            )
        if not {"home", "away"} <= {p.side for p in players}:
            return None  # not published yet (or only one side so far)
        return Lineup(match_id=fid, players=players)


class _Skip(Exception):
    """A fixture the payload does not let us read; becomes a Batch problem."""


_sleep = time.sleep  # module-level so tests can observe budget waits


def _windows(first: date, last: date) -> Iterator[tuple[date, date]]:
    a = first
    while a <= last:
        b = min(last, a + timedelta(days=WINDOW_DAYS - 1))
        yield a, b
        a = b + timedelta(days=1)


def _items(body: dict | None) -> list:
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


def _number(value) -> float | None:
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
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _kickoff(fx: dict) -> datetime:
    # The epoch timestamp is unambiguous; `starting_at` is UTC without a marker (doc §6).
    stamp = _number(fx.get("starting_at_timestamp"))
    if stamp is not None and stamp > 0:
        return datetime.fromtimestamp(stamp, UTC)
    kickoff = _timestamp(fx.get("starting_at"))
    if kickoff is None:
        raise _Skip(f"bad kick-off {fx.get('starting_at')!r}")
    return kickoff


def _sides(participants) -> dict[str, tuple[str, str]]:
    """{"home": (team id, name), "away": (...)} from participants[].meta.location."""
    out = {}
    for p in participants if isinstance(participants, list) else []:
        if not isinstance(p, dict):
            continue
        loc = (p.get("meta") or {}).get("location") if isinstance(p.get("meta"), dict) else None
        if loc in ("home", "away") and p.get("id") is not None and p.get("name"):
            if loc in out:
                raise _Skip(f"two {loc} participants")
            out[loc] = (str(p["id"]), str(p["name"]))
    if set(out) != {"home", "away"}:
        raise _Skip("missing home or away participant")
    if out["home"][0] == out["away"][0]:
        raise _Skip("home and away are the same team")
    return out


def _score(rows, kind: tuple[int, str], sides: dict) -> tuple[int, int] | None:
    by_team = {team_id: loc for loc, (team_id, _) in sides.items()}
    found: dict[str, int] = {}
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        if _int(row.get("type_id")) != kind[0] and row.get("description") != kind[1]:
            continue
        score = row.get("score") if isinstance(row.get("score"), dict) else {}
        loc = (
            score.get("participant")
            if score.get("participant") in ("home", "away")
            else by_team.get(str(row.get("participant_id")))
        )
        goals = _int(score.get("goals"))
        if loc is not None and goals is not None:
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
