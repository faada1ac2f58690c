"""The store read back as the models' match frame (see pipeline.forecast.features), and other read queries.

Pre-match odds are the latest non-closing snapshot seen before kick-off; closing odds come from `results`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from pipeline.providers.base import FINISHED, Batch
from pipeline.store import schema

CHUNK = 500  # rows per statement and ids per IN list: bounded on both dialects


def chunks(rows: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def fixture_ids(conn: Connection, source: str, provider_ids: Iterable[str]) -> dict[str, int]:
    ids = sorted(set(provider_ids))
    out: dict[str, int] = {}
    f = schema.fixtures
    for part in chunks(ids):
        rows = conn.execute(select(f.c.provider_id, f.c.id).where(f.c.source == source,
                                                                  f.c.provider_id.in_(part)))
        out.update({r.provider_id: r.id for r in rows})
    return out


FRAME_COLUMNS = ["match_id", "fixture_id", "league", "season", "kickoff", "home_team", "away_team",
                 "home_goals", "away_goals", "home_shots", "away_shots", "home_shots_on_target",
                 "away_shots_on_target", "odds_home", "odds_draw", "odds_away", "close_home", "close_draw",
                 "close_away"]


def load_match_frame(conn: Connection, source: str, *, since: datetime | None = None,
                     until: datetime | None = None, finished_only: bool = True,
                     leagues: list[str] | None = None) -> pd.DataFrame:
    """The store's matches as the models' match frame (see pipeline.forecast.features), sorted by kick-off.

    Pre-match odds are the latest non-closing snapshot seen before kick-off; closing odds come from `results`.
    """
    f, r = schema.fixtures, schema.results
    q = (select(f.c.provider_id.label("match_id"), f.c.id.label("fixture_id"), f.c.league_code.label("league"),
                f.c.season, f.c.kickoff_time.label("kickoff"), f.c.home_team, f.c.away_team, r.c.home_goals,
                r.c.away_goals, r.c.home_shots, r.c.away_shots, r.c.home_shots_on_target,
                r.c.away_shots_on_target, r.c.closing_home_odds.label("close_home"),
                r.c.closing_draw_odds.label("close_draw"), r.c.closing_away_odds.label("close_away"))
         .select_from(f.outerjoin(r, r.c.fixture_id == f.c.id))
         .where(f.c.source == source))
    if finished_only:
        q = q.where(r.c.status == FINISHED)
    if since is not None:
        q = q.where(f.c.kickoff_time >= since)
    if until is not None:
        q = q.where(f.c.kickoff_time < until)
    if leagues is not None:
        q = q.where(f.c.league_code.in_(leagues))
    result = conn.execute(q)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    if frame.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    frame["kickoff"] = pd.to_datetime(frame["kickoff"], utc=True)
    odds = latest_prematch_odds(conn, frame["fixture_id"].tolist())
    frame = frame.merge(odds, on="fixture_id", how="left")
    for c in FRAME_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    num = [c for c in FRAME_COLUMNS[7:]]
    frame[num] = frame[num].astype(float)
    frame["season"] = frame["season"].astype(str)
    return frame[FRAME_COLUMNS].sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)


def latest_prematch_odds(conn: Connection, fixture_ids_: list[int]) -> pd.DataFrame:
    """Per fixture, the latest non-closing 1X2 snapshot fetched before kick-off."""
    o, f = schema.odds_snapshots, schema.fixtures
    parts = []
    # the hourly job stores a snapshot per fixture per run: rank them in SQL and fetch one row per fixture
    # (fetching them all cost a quarter of a second per run on two weeks of the sandbox, and grows with history)
    for part in chunks(sorted(set(fixture_ids_)), 900):
        rank = func.row_number().over(partition_by=o.c.fixture_id,
                                      order_by=(o.c.fetched_at.desc(), o.c.id.desc())).label("rank")
        ranked = (select(o.c.id.label("odds_snapshot_id"), o.c.fixture_id, o.c.bookmaker, o.c.home_odds,
                         o.c.draw_odds, o.c.away_odds, o.c.fetched_at, rank)
                  .select_from(o.join(f, f.c.id == o.c.fixture_id))
                  .where(o.c.fixture_id.in_(part), o.c.market == "1X2", o.c.is_closing.is_(False),
                         o.c.fetched_at <= f.c.kickoff_time)
                  .subquery())
        q = select(*[c for c in ranked.c if c.name != "rank"]).where(ranked.c.rank == 1)
        parts.append(pd.DataFrame(conn.execute(q).mappings().all()))
    cols = ["fixture_id", "odds_home", "odds_draw", "odds_away", "odds_bookmaker", "odds_snapshot_id"]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=cols)
    odds = pd.concat(parts)
    return odds.rename(columns={"home_odds": "odds_home", "draw_odds": "odds_draw", "away_odds": "odds_away",
                                "bookmaker": "odds_bookmaker"})[cols]


def batch_to_frame(batch: Batch) -> pd.DataFrame:
    """Provider records as a match frame (no store involved): pre-match odds are the latest non-closing
    snapshot seen before kick-off, closing odds the match's closing snapshot."""
    rows = {}
    for m in batch.matches:
        row = {"match_id": m.provider_id, "fixture_id": np.nan, "league": m.league, "season": str(m.season),
               "kickoff": m.kickoff, "home_team": m.home_team, "away_team": m.away_team,
               "home_goals": np.nan if m.home_goals is None else float(m.home_goals),
               "away_goals": np.nan if m.away_goals is None else float(m.away_goals)}
        for k in ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target"):
            row[k] = float(m.stats[k]) if m.stats.get(k) is not None else np.nan
        rows[m.provider_id] = row
    seen: dict = {}
    for o in batch.odds:
        r = rows.get(o.match_id)
        if r is None:
            continue
        if o.is_closing:
            if "close_home" not in r:
                r.update(close_home=o.home, close_draw=o.draw, close_away=o.away)
        elif o.fetched_at <= r["kickoff"] and o.fetched_at >= seen.get(o.match_id, o.fetched_at):
            seen[o.match_id] = o.fetched_at
            r.update(odds_home=o.home, odds_draw=o.draw, odds_away=o.away)
    frame = pd.DataFrame(list(rows.values()))
    for c in FRAME_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    frame["kickoff"] = pd.to_datetime(frame["kickoff"], utc=True)
    return frame[FRAME_COLUMNS].sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)
