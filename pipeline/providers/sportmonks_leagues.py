"""The league ids a Sportmonks plan covers (`GET /leagues`, doc §1), cached in a file, and SPORTMONKS_LEAGUES
checked against them.

The list changes only when the subscription does, so it is read at most once a week
(`sportmonks_plan_leagues.json` under CACHE_DIR, with its fetch time). An id missing from a cached list is
checked once more against the API before it stops the job, so a plan upgraded this week is not refused. A
failed fetch falls back to the cache however old; with neither, the check is skipped with one info line (the
fixture fetch then says what the API thinks).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.errors import ConfigError, ProviderError

log = logging.getLogger(__name__)

CACHE_NAME = "sportmonks_plan_leagues.json"
MAX_AGE = timedelta(days=7)
SETTING = "SPORTMONKS_LEAGUES"


def read_cache(path: Path) -> tuple[datetime, dict[str, str]] | None:
    """(fetch time, {id: name}) from the cache file, or None when it is missing or unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        fetched = datetime.fromisoformat(raw["fetched_at"])
        leagues = {str(k): str(v) for k, v in raw["leagues"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return (fetched if fetched.tzinfo else fetched.replace(tzinfo=UTC)), leagues


def write_cache(path: Path, leagues: Mapping[str, str], now: datetime) -> None:
    """Written beside and renamed over, so a concurrent job never reads half a file; a cache that cannot be
    written only costs a fetch next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fetched_at": now.isoformat(), "leagues": dict(leagues)}, indent=1), "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("sportmonks: cannot write the plan's league cache %s: %s", path, exc)


def plan_leagues(
    fetch: Callable[[], dict[str, str]], cache: Path, wanted: Iterable[str], now: datetime | None = None
) -> dict[str, str] | None:
    """{id: name} of the plan's leagues (cached, fresh, or the cache when the API fails), or None when unknown."""
    now = now or datetime.now(UTC)
    cached = read_cache(cache)
    if cached is not None and now - cached[0] < MAX_AGE and set(wanted) <= cached[1].keys():
        return cached[1]
    try:
        leagues = fetch()
    except ProviderError as exc:
        leagues, why = {}, str(exc)
    else:
        why = "the API listed no leagues"
    if leagues:
        write_cache(cache, leagues, now)
        return leagues
    if cached is not None:
        log.info("sportmonks: plan's leagues not refreshed (%s); using the list of %s", why, cached[0].isoformat())
        return cached[1]
    log.info("sportmonks: %s not checked against the plan's leagues (%s; no cache yet)", SETTING, why)
    return None


def nearest(league_id: str, plan: Mapping[str, str], n: int = 3) -> list[str]:
    """The plan's ids numerically closest to `league_id`, shown as `id (name)`."""
    target = int(league_id) if league_id.isdigit() else 0
    ids = sorted(plan, key=lambda k: (abs(int(k) - target) if k.isdigit() else float("inf"), k))[:n]
    return [f"{k} ({plan[k]})" for k in ids]


def check_plan(league_ids: Iterable[str], plan: Mapping[str, str]) -> None:
    """ConfigError (one line) naming the first configured id the plan does not cover and the nearest ones."""
    for league_id in league_ids:
        if league_id not in plan:
            close = nearest(league_id, plan)
            raise ConfigError(
                f"{SETTING}: league id {league_id} is not in the Sportmonks plan's {len(plan)} leagues; "
                f"nearest: {', '.join(close)}"
            )


__all__ = ["CACHE_NAME", "MAX_AGE", "plan_leagues", "check_plan", "read_cache", "nearest"]
