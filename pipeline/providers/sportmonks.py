"""Sportmonks Football API v3 as a provider: fixtures, 90-minute results, pre-match 1X2, over/under and Asian
handicap odds (pipeline.providers.sportmonks_markets), starting lineups.
This module asks the API (requests, pages, the rate-limit budget); pipeline.providers.sportmonks_payload reads
what it answers.

Endpoints, ids and limits follow the Sportmonks v3 notes (`../shared/docs/sportmonks-v3.md`, beside the
repository, as for the README's production guide; cited below as "doc §n"). Choices:
- The token travels only in the `Authorization` header (doc §1), never in a URL, so URLs can be logged.
- Pages are requested with our own `page=` counter (or `cursor=` when the API hands one out) and the same
  params, not by following `next_page`: that URL is built by the server and would carry our token to whatever
  host it names. `max_pages` stops a server that keeps saying `has_more`.
- "200 with `message` and no `data`" means no results or no access (doc §2, §7.1): an empty answer, logged.
- A body that is not JSON (e.g. a truncated response) is fetched once more, then raises ProviderError.
- The per-entity hourly budget (doc §4) is read from every body's `rate_limit`; when it reaches 0 the next
  call to that entity waits for the reset if that is short (`max_budget_wait`), else raises ProviderError.
- Odds come with their bookmaker's name (`odds.bookmaker` is included); SPORTMONKS_BOOKMAKERS (ids) narrows what
  is fetched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import requests

from pipeline.providers.base import FINISHED, Batch, Lineup, Provider, ProviderAuthError, ProviderError, chunks
from pipeline.providers.http_client import make_session, request
from pipeline.providers.sportmonks_leagues import CACHE_NAME, check_plan, plan_leagues
from pipeline.providers.sportmonks_markets import MARKET_AH, MARKET_OU, add_market_prices, two_way_markets
from pipeline.providers.sportmonks_payload import (
    LINEUP_STARTER,
    MARKET_1X2,
    data_items,
    json_object,
    number,
    read_fixture,
    read_lineup,
)
from pipeline.redact import Redactor

log = logging.getLogger(__name__)

UTC = UTC
PER_PAGE = 50  # the documented maximum (doc §1)
MULTI_MAX_IDS = 50  # fixtures/multi accepts at most 50 ids (doc §1)
WINDOW_DAYS = 100  # fixtures/between spans at most 100 days (doc §1); we ask for 100 inclusive days
DEFAULT_HISTORY_DAYS = 3653  # history(start=None): how far back "everything" reaches
ODDS_INCLUDE = "participants;scores;odds.bookmaker"  # odds with their bookmaker's name (doc §1: nested include)


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
        cache_dir: Path | None = None,
        ou_market_id: int = MARKET_OU,
        ah_market_id: int = MARKET_AH,
    ):
        if not api_key:
            raise ProviderAuthError("Sportmonks needs an API token (SPORTMONKS_API_KEY)")
        self._api_key = api_key
        self._redactor = Redactor([api_key])
        self.base_url = base_url.rstrip("/")
        self.league_ids = tuple(str(x) for x in league_ids)
        self.bookmaker_ids = tuple(str(x) for x in bookmaker_ids)
        self.two_way = two_way_markets(ou_market_id, ah_market_id)  # market id -> Market (SPORTMONKS_MARKET_*)
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
        # the plan's leagues are checked before the first call of a job when there is a cache directory
        self._leagues_checked = cache_dir is None or not self.league_ids
        self._cache_dir = cache_dir

    def __repr__(self) -> str:  # never show the token
        return f"SportmonksProvider(base_url={self.base_url!r}, league_ids={self.league_ids!r})"

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    # ---- the Provider questions -------------------------------------------------------------------------

    def history(self, start: datetime | None, end: datetime, now: datetime, *, markets: bool = True) -> Batch:
        self._check_leagues()
        start = start if start is not None else end - timedelta(days=DEFAULT_HISTORY_DAYS)
        batch = self._between(start, end, now, include=ODDS_INCLUDE)
        batch.matches = [m for m in batch.matches if m.status == FINISHED]
        keep = {m.provider_id for m in batch.matches}
        batch.odds = [o for o in batch.odds if o.match_id in keep]
        batch.market_prices = [p for p in batch.market_prices if markets and p.match_id in keep]
        return batch

    def fixtures(self, start: datetime, end: datetime, now: datetime) -> Batch:
        self._check_leagues()
        return self._between(start, end, now, include=ODDS_INCLUDE)

    def results(self, match_ids: Sequence[str], now: datetime) -> Batch:
        self._check_leagues()
        batch = Batch()
        for fx in self._multi(match_ids, ODDS_INCLUDE, self._odds_filters(), batch.problems):
            batch.extend(self._read(fx, now))
        return batch

    def lineups(self, match_ids: Sequence[str], now: datetime) -> dict[str, Lineup]:
        self._check_leagues()
        out: dict[str, Lineup] = {}
        problems: list[str] = []
        for fx in self._multi(match_ids, "participants;lineups", [f"lineupTypes:{LINEUP_STARTER}"], problems):
            lineup = read_lineup(fx, problems)
            if lineup is not None:
                out[lineup.match_id] = lineup
        for p in problems:
            log.warning("sportmonks lineups: %s", p)
        return out

    def check(self, now: datetime) -> str:
        self._check_leagues()
        body = self._get("leagues", {"per_page": 1})
        if body is None:
            raise ProviderError("Sportmonks answered but lists no leagues: check the subscription")
        rl = body.get("rate_limit") or {}
        return (
            f"{self.name}: ok ({rl.get('requested_entity', 'League')} calls left this hour: {rl.get('remaining', '?')})"
        )

    def _check_leagues(self) -> None:
        """SPORTMONKS_LEAGUES against the plan's league ids (pipeline.providers.sportmonks_leagues), once."""
        if self._leagues_checked or self._cache_dir is None:
            return
        self._leagues_checked = True
        plan = plan_leagues(self._plan_leagues, self._cache_dir / CACHE_NAME, self.league_ids)
        if plan is not None:
            check_plan(self.league_ids, plan)

    def _plan_leagues(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for items in self._pages("leagues", {}):
            for league in items:
                if isinstance(league, dict) and league.get("id") is not None:
                    out[str(league["id"])] = str(league.get("name") or "?")
        return out

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
                    part = self._read(fx, now)
                    part.matches = [m for m in part.matches if start <= m.kickoff < end and m.provider_id not in seen]
                    ids = {m.provider_id for m in part.matches}
                    seen |= ids
                    part.odds = [o for o in part.odds if o.match_id in ids]
                    part.market_prices = [p for p in part.market_prices if p.match_id in ids]
                    batch.extend(part)
        return batch

    def _read(self, fx, now: datetime) -> Batch:
        """One fixture object: its match, 1X2 odds and two-way prices (pipeline.providers.sportmonks_markets)."""
        return add_market_prices(read_fixture(fx, now, self.bookmaker_ids), fx, now, self.bookmaker_ids, self.two_way)

    def _odds_filters(self) -> list[str]:
        # 1X2 and the two-way markets in the same calls: one request, every market
        out = [f"markets:{','.join(str(m) for m in (MARKET_1X2, *self.two_way))}"]
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
            items = data_items(body)
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
            yield data_items(body)
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
        """The token masked in any form an upstream may echo it in (pipeline.redact)."""
        return self._redactor(text)

    # ---- rate-limit budget ------------------------------------------------------------------------------

    def _note_budget(self, kind: str, rate_limit) -> None:
        if not isinstance(rate_limit, dict):
            return
        remaining, resets = number(rate_limit.get("remaining")), number(rate_limit.get("resets_in_seconds"))
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
        rl = json_object(body.get("rate_limit"))
        secs = number(rl.get("resets_in_seconds"))
        if secs is None:
            secs = number(body.get("retry_after"))
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


_sleep = time.sleep  # module-level so tests can observe budget waits


def _windows(first: date, last: date) -> Iterator[tuple[date, date]]:
    a = first
    while a <= last:
        b = min(last, a + timedelta(days=WINDOW_DAYS - 1))
        yield a, b
        a = b + timedelta(days=1)


__all__ = ["SportmonksProvider"]
