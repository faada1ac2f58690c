"""Reads of `fixtures` that training needs: where to resume fetching results, and which finished matches still
lack a lineup; and whether the store holds simulated matches (the runner's clock rule)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from pipeline.store import schema


def last_finished_kickoff(conn: Connection, source: str) -> datetime | None:
    """Kick-off of the newest fixture of `source` whose status is finished (None when there is none)."""
    f = schema.fixtures
    return conn.execute(
        select(func.max(f.c.kickoff_time)).where(f.c.source == source, f.c.status == "finished")
    ).scalar()


def finished_without_lineups(conn: Connection, source: str, since: datetime) -> list[tuple[int, str]]:
    """(fixture id, provider id) of the finished fixtures of `source` kicked off since `since` that have no lineup
    stored."""
    f, ln = schema.fixtures, schema.lineups
    have = select(ln.c.fixture_id).distinct()
    rows = conn.execute(
        select(f.c.id, f.c.provider_id).where(
            f.c.source == source, f.c.status == "finished", f.c.id.not_in(have), f.c.kickoff_time >= since
        )
    ).all()
    return [(fid, pid) for fid, pid in rows]


def store_is_simulated(conn: Connection) -> bool | None:
    """True when every league in the store is simulated (the sandbox's), False when any is real, None when the
    store holds none yet."""
    lg = schema.leagues
    kinds = {bool(x) for x in conn.execute(select(lg.c.simulated).distinct()).scalars()}
    if not kinds:
        return None
    return kinds == {True}


__all__ = ["last_finished_kickoff", "finished_without_lineups", "store_is_simulated"]
