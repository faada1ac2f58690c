"""The `rejected_rows` table: rows a provider rejected at the door (pipeline.providers.contract), its one writer
and what the health check asks of it.

One row per source, file, line, field and rule however often the same bad row is read again (the settlement job
reads the current season file every 30 minutes): `last_seen` and `times_seen` move, `first_seen` stays, `value`
is the latest. An operator reviews them with sqlite3 (README, "The schema").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection

from pipeline.providers.contract import Rejection
from pipeline.store import schema
from pipeline.store.engine import _insert

KEY = ("source", "file", "line", "field", "reason")
WIDTH = {"file": 500, "field": 100, "value": 200, "reason": 200}  # the columns' lengths (PostgreSQL holds them)


def _cut(name: str, text: str) -> str:
    width = WIDTH[name]
    return text if len(text) <= width else text[: width - 3] + "..."


def record_rejections(conn: Connection, source: str, rejections: Iterable[Rejection], now: datetime) -> int:
    """Upsert the batch's rejected rows; returns how many distinct rows it named."""
    rows: dict[tuple, dict] = {}
    for r in rejections:
        row = {
            "source": source,
            "file": _cut("file", r.file),
            "line": int(r.line),
            "field": _cut("field", r.field),
            "value": _cut("value", r.value),
            "reason": _cut("reason", r.rule),
            "first_seen": now,
            "last_seen": now,
            "times_seen": 1,
        }
        rows[tuple(row[k] for k in KEY)] = row  # a batch naming one row twice (history and results) counts once
    if not rows:
        return 0
    table = schema.rejected_rows
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            "value": stmt.excluded.value,
            "last_seen": func.max(table.c.last_seen, stmt.excluded.last_seen)
            if conn.dialect.name == "sqlite"
            else func.greatest(table.c.last_seen, stmt.excluded.last_seen),
            "times_seen": table.c.times_seen + 1,
        },
    )
    conn.execute(stmt, list(rows.values()))
    return len(rows)


def rejected_since(conn: Connection, since: datetime) -> tuple[int, list[str]]:
    """(how many rejected rows were seen at or after `since`, the files they are in, most rows first)."""
    t = schema.rejected_rows
    rows = conn.execute(
        select(t.c.source, t.c.file, func.count().label("n"))
        .where(t.c.last_seen >= since)
        .group_by(t.c.source, t.c.file)
        .order_by(func.count().desc(), t.c.file)
    ).all()
    return sum(r.n for r in rows), [r.file for r in rows]


def rejected_rows_line(conn: Connection, now: datetime, window: timedelta = timedelta(days=1)) -> str | None:
    """The health check's ⚠️ line when rows were rejected within `window` before `now`, else None (also on a store
    not yet migrated to have the table: the health check never migrates)."""
    if not inspect(conn).has_table(schema.rejected_rows.name):
        return None
    n, files = rejected_since(conn, now - window)
    if not n:
        return None
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return (
        f"⚠️ {n} source rows rejected in the last {window.total_seconds() / 3600:g} h ({shown}): "
        "see the rejected_rows table (README, The schema)"
    )


__all__ = ["record_rejections", "rejected_rows_line", "rejected_since"]
