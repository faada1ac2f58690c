"""Data providers behind one interface (see base.py), chosen by DATA_SOURCE."""

from __future__ import annotations

from pipeline.providers.base import (
    Batch,
    Lineup,
    LineupPlayer,
    LineupsUnavailable,
    Match,
    Odds,
    Provider,
    ProviderAuthError,
    ProviderError,
    Sanitized,
    SourceUnavailable,
)
from pipeline.providers.coverage import covered


def get_provider(settings) -> Provider:
    """The DATA_SOURCE provider; its answers cleaned of control characters (see base.Sanitized), a configured
    league without data a warning (see coverage)."""
    return covered(Sanitized(_source(settings)), settings)


def _source(settings) -> Provider:
    if settings.data_source == "sandbox":
        from pipeline.providers.sandbox import SandboxProvider

        return SandboxProvider(seed=settings.sandbox_seed)
    if settings.data_source == "football-data":
        from pipeline.providers.football_data import FootballDataProvider

        return FootballDataProvider(
            data_dir=settings.football_data_dir,
            base_url=settings.football_data_url,
            leagues=settings.football_data_leagues,
            cache_dir=settings.cache_dir,
            sharp=settings.sharp_bookmakers,
            timeout=(5.0, settings.http_timeout),
            attempts=settings.http_attempts,
            deadline=settings.http_deadline,
        )
    if settings.data_source == "sportmonks":
        from pipeline.providers.sportmonks import SportmonksProvider

        return SportmonksProvider(
            api_key=settings.sportmonks_api_key,
            base_url=settings.sportmonks_base_url,
            league_ids=settings.sportmonks_leagues,
            bookmaker_ids=settings.sportmonks_bookmakers,
            ou_market_id=settings.sportmonks_market_ou,
            ah_market_id=settings.sportmonks_market_ah,
            timeout=(5.0, settings.http_timeout),
            attempts=settings.http_attempts,
            deadline=settings.http_deadline,
            cache_dir=settings.cache_dir,
        )
    raise ValueError(f"unknown data source {settings.data_source!r}")


__all__ = [
    "get_provider",
    "Provider",
    "Batch",
    "Match",
    "Odds",
    "Lineup",
    "LineupPlayer",
    "ProviderError",
    "ProviderAuthError",
    "LineupsUnavailable",
    "Sanitized",
    "SourceUnavailable",
]
