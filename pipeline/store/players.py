"""The player database in the store: starters read from `lineups` (what the ratings learn from, and each team's
recent XIs), and the `players` table's ratings written and read."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import and_, exists, func, literal, select, union_all
from sqlalchemy.engine import Connection

from pipeline.store import schema
from pipeline.store.engine import upsert
from pipeline.store.queries import result_frame

USUAL_XI_MATCHES = 10  # the usual XI: the 11 most frequent starters of the team's last N matches


def lineup_history(conn: Connection, source: str, until: datetime | None = None) -> pd.DataFrame:
    """Starters of stored fixtures: fixture_id, kickoff, side, team_id, player_provider_id, player_name."""
    f, ln = schema.fixtures, schema.lineups
    q = (
        select(
            ln.c.fixture_id,
            f.c.kickoff_time,
            ln.c.side,
            ln.c.player_provider_id,
            ln.c.player_name,
            f.c.home_team_id,
            f.c.away_team_id,
        )
        .select_from(ln.join(f, f.c.id == ln.c.fixture_id))
        .where(f.c.source == source)
    )
    if until is not None:
        q = q.where(f.c.kickoff_time < until)
    df = result_frame(conn.execute(q))
    if df.empty:
        return df
    df["team_id"] = np.where(df["side"] == "home", df["home_team_id"], df["away_team_id"])
    return df.drop(columns=["home_team_id", "away_team_id"])


def recent_starters(
    conn: Connection, source: str, team_ids: list[int], before: datetime, matches: int = USUAL_XI_MATCHES
) -> pd.DataFrame:
    """The starters of each team's last `matches` fixtures with a lineup before `before` (fixture_id,
    kickoff_time, side, team_id, player_provider_id): all `usual_xi` needs, ranked in SQL so the lineup job
    reads ~100 rows a team instead of the whole lineup history."""
    f, ln = schema.fixtures, schema.lineups
    if not team_ids:
        return pd.DataFrame(columns=["fixture_id", "kickoff_time", "side", "team_id", "player_provider_id"])
    has_lineup = exists().where(ln.c.fixture_id == f.c.id)
    sides = [
        select(f.c.id.label("fixture_id"), f.c.kickoff_time, literal(side).label("side"), team.label("team_id")).where(
            f.c.source == source, f.c.kickoff_time < before, team.in_(team_ids), has_lineup
        )
        for side, team in (("home", f.c.home_team_id), ("away", f.c.away_team_id))
    ]
    played = union_all(*sides).subquery()
    ranked = select(
        played,
        func.row_number().over(partition_by=played.c.team_id, order_by=played.c.kickoff_time.desc()).label("rank"),
    ).subquery()
    q = (
        select(ranked.c.fixture_id, ranked.c.kickoff_time, ranked.c.side, ranked.c.team_id, ln.c.player_provider_id)
        .select_from(ranked.join(ln, and_(ln.c.fixture_id == ranked.c.fixture_id, ln.c.side == ranked.c.side)))
        .where(ranked.c.rank <= matches)
    )
    return result_frame(conn.execute(q))


def store_player_ratings(
    conn: Connection, source: str, ratings: pd.DataFrame, history: pd.DataFrame, now: datetime
) -> int:
    """Upsert `ratings` (player_provider_id, rating, appearances) with each player's name and team from his latest
    lineup in `history`; returns the number of players written."""
    latest = history.sort_values("kickoff_time").groupby("player_provider_id").last()
    rows = []
    for r in ratings.itertuples(index=False):
        info = latest.loc[r.player_provider_id]
        rows.append(
            {
                "source": source,
                "provider_id": r.player_provider_id,
                "name": info["player_name"],
                "team_id": int(info["team_id"]),
                "rating": float(r.rating),
                "appearances": int(r.appearances),
                "rating_updated_at": now,
            }
        )
    for i in range(0, len(rows), 500):
        upsert(conn, schema.players, rows[i : i + 500], keys=("source", "provider_id"))
    return len(rows)


def player_ratings(conn: Connection, source: str) -> dict[str, float]:
    """Rated players of `source`: provider id -> rating."""
    q = select(schema.players.c.provider_id, schema.players.c.rating).where(
        schema.players.c.source == source, schema.players.c.rating.is_not(None)
    )
    return {r.provider_id: r.rating for r in conn.execute(q)}


__all__ = ["USUAL_XI_MATCHES", "lineup_history", "recent_starters", "store_player_ratings", "player_ratings"]
