"""Provider records into the store, idempotently: fixtures, odds snapshots, the two-way markets' prices
(pipeline.store.market_odds) and results (pipeline.store.queries reads them back; lineups: pipeline.store.lineups).

Every write is an upsert on a natural key, so fetching the same thing twice changes nothing. Odds snapshots are
kept with the time they were seen (never overwritten), one per bookmaker, so opening, pre-kick-off and closing
prices stay apart. A result's closing price is the first book of the reference order that has one
(pipeline.store.queries), named in `results.closing_bookmaker`.
"""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Connection

from pipeline.bookmakers import SHARP_DEFAULT, reference_order, reference_rank
from pipeline.providers.base import FINISHED, VOID_STATUSES, Batch, Match, Odds, chunks, outcome_of
from pipeline.store import schema
from pipeline.store.engine import insert_ignore, upsert
from pipeline.store.market_odds import store_market_prices
from pipeline.store.queries import CHUNK, fixture_ids
from pipeline.store.rejected_rows import record_rejections

log = logging.getLogger(__name__)

STAT_KEYS = ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target", "home_corners", "away_corners")


def _team_key(team_id: str | None, name: str) -> str:
    return str(team_id) if team_id not in (None, "") else name


def store_matches(conn: Connection, source: str, matches: list[Match], now: datetime) -> dict[str, int]:
    """Upsert leagues, teams and fixtures; returns provider_id -> fixtures.id."""
    if not matches:
        return {}
    simulated = any(m.simulated for m in matches)
    leagues = sorted({m.league for m in matches})
    upsert(
        conn,
        schema.leagues,
        [{"source": source, "code": code, "name": code, "simulated": simulated} for code in leagues],
        keys=("source", "code"),
        update=("simulated",),
    )
    teams: dict[str, dict] = {}
    for m in matches:
        for tid, name in ((m.home_team_id, m.home_team), (m.away_team_id, m.away_team)):
            key = _team_key(tid, name)
            teams[key] = {"source": source, "provider_id": key, "name": name, "league_code": m.league}
    for part in chunks(list(teams.values()), CHUNK):
        upsert(conn, schema.teams, part, keys=("source", "provider_id"))
    team_ids: dict[str, int] = {}
    for keys in chunks(sorted(teams), CHUNK):
        rows = conn.execute(
            select(schema.teams.c.provider_id, schema.teams.c.id).where(
                schema.teams.c.source == source, schema.teams.c.provider_id.in_(keys)
            )
        )
        team_ids.update({r.provider_id: r.id for r in rows})
    # Last one wins when a batch repeats a match (e.g. fixtures and results in one batch).
    fixture_rows = {}
    for m in matches:
        fixture_rows[m.provider_id] = {
            "source": source,
            "provider_id": m.provider_id,
            "league_code": m.league,
            "season": m.season,
            "kickoff_time": m.kickoff,
            "home_team": m.home_team,
            "away_team": m.away_team,
            "home_team_id": team_ids[_team_key(m.home_team_id, m.home_team)],
            "away_team_id": team_ids[_team_key(m.away_team_id, m.away_team)],
            "status": m.status,
            "simulated": m.simulated,
            "updated_at": now,
        }
    for part in chunks(list(fixture_rows.values()), CHUNK):
        upsert(conn, schema.fixtures, part, keys=("source", "provider_id"))
    return fixture_ids(conn, source, fixture_rows)


def store_batch(
    conn: Connection, source: str, batch: Batch, now: datetime, reference: tuple[str, ...] | None = None
) -> dict[str, int]:
    """Store a provider batch: fixtures, 1X2 odds snapshots, two-way prices (`market_odds`), and results of final
    matches (their closing price: the first book in `reference` order that has one, default the sharp default's
    order), and the rows it rejected (`rejected_rows`). Prices of a match neither in the batch nor in the store are
    not stored: counted (`prices_not_stored`) and logged. Returns counts."""
    order = reference if reference is not None else reference_order(SHARP_DEFAULT)
    record_rejections(conn, source, batch.rejected, now)
    ids = store_matches(conn, source, batch.matches, now)
    missing = ({o.match_id for o in batch.odds} | {p.match_id for p in batch.market_prices}) - set(ids)
    if missing:
        ids.update(fixture_ids(conn, source, missing))
    unmatched = sorted({o.match_id for o in batch.odds} - set(ids))
    if unmatched:
        log.warning(
            "1X2 odds of %d matches not stored: match not in the store (e.g. %s)",
            len(unmatched),
            ", ".join(unmatched[:5]),
        )
    odds_rows = [
        {
            "fixture_id": ids[o.match_id],
            "bookmaker": o.bookmaker,
            "market": o.market,
            "home_odds": float(o.home),
            "draw_odds": float(o.draw),
            "away_odds": float(o.away),
            "is_closing": bool(o.is_closing),
            "fetched_at": o.fetched_at,
        }
        for o in batch.odds
        if o.match_id in ids
    ]
    for part in chunks(odds_rows, CHUNK):
        insert_ignore(conn, schema.odds_snapshots, part, keys=("fixture_id", "bookmaker", "market", "fetched_at"))
    market_rows = store_market_prices(conn, ids, batch.market_prices, now)
    closing: dict[str, Odds] = {}
    for o in batch.odds:
        if o.is_closing and min(o.home, o.draw, o.away) > 1.0:
            best = closing.get(o.match_id)
            if best is None or (reference_rank(o.bookmaker, order), o.bookmaker) < (
                reference_rank(best.bookmaker, order),
                best.bookmaker,
            ):
                closing[o.match_id] = o
    result_rows = []
    for m in batch.matches:
        if m.status != FINISHED and m.status not in VOID_STATUSES:
            continue
        finished = m.status == FINISHED and m.home_goals is not None and m.away_goals is not None
        c = closing.get(m.provider_id)
        row = {
            "fixture_id": ids[m.provider_id],
            "status": m.status,
            "home_goals": m.home_goals if finished else None,
            "away_goals": m.away_goals if finished else None,
            "outcome": outcome_of(m.home_goals, m.away_goals)
            if finished and m.home_goals is not None and m.away_goals is not None
            else None,
            "closing_home_odds": c.home if c else None,
            "closing_draw_odds": c.draw if c else None,
            "closing_away_odds": c.away if c else None,
            "closing_bookmaker": c.bookmaker if c else None,
            "recorded_at": now,
        }
        for k in STAT_KEYS:
            v = m.stats.get(k)
            row[k] = None if v is None or (isinstance(v, float) and np.isnan(v)) else int(v)
        if m.status == FINISHED and not finished:
            continue  # a "finished" match without a score is not a result yet
        result_rows.append(row)
    for part in chunks(result_rows, CHUNK):
        # Closing odds may arrive later than the score: never overwrite a known price with NULL.
        upsert(
            conn,
            schema.results,
            part,
            keys=("fixture_id",),
            keep_existing=("closing_home_odds", "closing_draw_odds", "closing_away_odds", "closing_bookmaker"),
        )
    return {
        "fixtures": len(ids),
        "odds_snapshots": len(odds_rows),
        "market_prices": market_rows,
        "prices_not_stored": len(batch.odds) - len(odds_rows) + len(batch.market_prices) - market_rows,
        "results": len(result_rows),
    }
