"""The `lineups` and `lineup_updates` tables: the starting XIs seen, and each change of one with the prediction
it led to (the lineup job, pipeline.jobs.lineup_updates; training's history fetch stores finished matches' XIs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from pipeline.providers.base import Lineup, chunks
from pipeline.store import schema
from pipeline.store.engine import insert_ignore
from pipeline.store.queries import CHUNK


def store_lineup(conn: Connection, fixture_id: int, lineup: Lineup, now: datetime) -> None:
    """Add a fixture's players (a player already stored for that side is kept as he was)."""
    rows = [
        {
            "fixture_id": fixture_id,
            "side": p.side,
            "player_provider_id": p.player_id,
            "player_name": p.name,
            "position": p.position,
            "seen_at": now,
        }
        for p in lineup.players
    ]
    insert_ignore(conn, schema.lineups, rows, keys=("fixture_id", "side", "player_provider_id"))


def replace_lineup(conn: Connection, fixture_id: int, lineup: Lineup, now: datetime) -> None:
    """Make `lineup` the fixture's stored lineup (a changed XI replaces the one seen before)."""
    conn.execute(delete(schema.lineups).where(schema.lineups.c.fixture_id == fixture_id))
    store_lineup(conn, fixture_id, lineup, now)


def seen_lineup_hashes(conn: Connection, fixture_ids: list[int]) -> dict[int, set[str]]:
    """Per fixture, the hashes of every lineup recorded for it."""
    lu = schema.lineup_updates
    out: dict[int, set[str]] = {}
    for part in chunks(fixture_ids, CHUNK):
        for r in conn.execute(select(lu.c.fixture_id, lu.c.lineup_hash).where(lu.c.fixture_id.in_(part))):
            out.setdefault(r.fixture_id, set()).add(r.lineup_hash)
    return out


def latest_lineup_hash(conn: Connection, fixture_id: int) -> str | None:
    """The hash of the lineup recorded last for the fixture (None before any)."""
    lu = schema.lineup_updates
    return conn.execute(
        select(lu.c.lineup_hash)
        .where(lu.c.fixture_id == fixture_id)
        .order_by(lu.c.detected_at.desc(), lu.c.id.desc())
        .limit(1)
    ).scalar()


def record_lineup_update(
    conn: Connection,
    fixture_id: int,
    detected_at: datetime,
    lineup_hash: str,
    lineup: Lineup,
    strength_change: tuple[float | None, float | None],
    prediction_id: int | None,
) -> None:
    """Record a lineup seen for the first time (once per fixture and hash) and the prediction made with it."""
    row = {
        "fixture_id": fixture_id,
        "detected_at": detected_at,
        "lineup_hash": lineup_hash,
        "home_players": sum(p.side == "home" for p in lineup.players),
        "away_players": sum(p.side == "away" for p in lineup.players),
        "home_strength_change": strength_change[0],
        "away_strength_change": strength_change[1],
        "prediction_id": prediction_id,
    }
    insert_ignore(conn, schema.lineup_updates, [row], keys=("fixture_id", "lineup_hash"))


__all__ = ["store_lineup", "replace_lineup", "seen_lineup_hashes", "latest_lineup_hash", "record_lineup_update"]
