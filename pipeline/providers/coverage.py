"""A configured league with no data is a warning line, never silence.

A league code the source does not know is refused when the settings are read (pipeline.leagues). A known one can
still bring nothing: football-data.co.uk has no file for it in these seasons, or the Sportmonks plan does not
cover it. Every fetch of finished matches is checked: a configured league with no match in the window is named in
a warning, when the window is long enough that a season break cannot explain it, or when another configured
league did play in it.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from pipeline.providers.base import Batch, Provider

log = logging.getLogger(__name__)
# longer than any season break (the summer break is about 80 days): no match in such a window is not a break
BREAK = timedelta(days=90)


def league_gaps(batch: Batch, setting: str, leagues, start: datetime | None, end: datetime) -> list[str]:
    """One line per league of `leagues` without a finished match in `batch` (the answer for [start, end))."""
    played = Counter(m.league for m in batch.matches)
    empty = [league for league in leagues if not played[league]]
    if not empty:
        return []
    long_window = start is None or end - start >= BREAK
    others = [f"{league} {played[league]}" for league in leagues if played[league]]
    if not long_window and not others:
        return []
    since = "the first season" if start is None else f"{start:%Y-%m-%d}"
    also = f" (matches of the others: {', '.join(others)})" if others else ""
    return [
        f"{setting}: no finished match of {league} from {since} to {end:%Y-%m-%d}{also}: the source has no data "
        "for it in this window; check the code or the plan, or drop it"
        for league in empty
    ]


class LeagueCoverage(Provider):
    """`inner` (a Sanitized provider) whose `history` answers are checked for the configured leagues."""

    def __init__(self, inner: Provider, setting: str, leagues):
        self.inner, self.setting, self.leagues = inner, setting, tuple(leagues)
        self.name, self.has_lineups, self.simulated = inner.name, inner.has_lineups, inner.simulated

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

    def history(self, start, end, now, *, markets: bool = True) -> Batch:
        batch = self.inner.history(start, end, now, markets=markets)
        for line in league_gaps(batch, self.setting, self.leagues, start, min(end, now)):
            log.warning("%s", line)
        return batch

    def fixtures(self, start, end, now) -> Batch:
        return self.inner.fixtures(start, end, now)

    def results(self, match_ids, now) -> Batch:
        return self.inner.results(match_ids, now)

    def lineups(self, match_ids, now) -> dict:
        return self.inner.lineups(match_ids, now)

    def check(self, now) -> str:
        return self.inner.check(now)

    def close(self) -> None:
        self.inner.close()


def covered(provider: Provider, settings) -> Provider:
    """`provider` checked for the leagues its settings name (the sandbox's leagues are its own)."""
    if settings.data_source == "football-data":
        return LeagueCoverage(provider, "FOOTBALL_DATA_LEAGUES", settings.football_data_leagues)
    if settings.data_source == "sportmonks" and settings.sportmonks_leagues:
        return LeagueCoverage(provider, "SPORTMONKS_LEAGUES", settings.sportmonks_leagues)
    return provider


__all__ = ["BREAK", "LeagueCoverage", "covered", "league_gaps"]
