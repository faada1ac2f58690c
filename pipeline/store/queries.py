"""The store read back as the models' match frame (see pipeline.forecast.features), and other read queries.

Odds snapshots are kept one per bookmaker and time seen. Where one price must stand for the match (the models'
pre-match market feature), it is the first bookmaker of
`bookmakers.reference_order(SHARP_BOOKMAKERS)` that has one (`reference`: the sharp books, the market averages,
Bet365, then the others by name, the maxima last); `latest_prices` gives every price the betting needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from pipeline.bookmakers import LAST_RESORT, SHARP_DEFAULT, reference_order, reference_rank
from pipeline.outcomes import columns
from pipeline.prices import PriceRules, price_table
from pipeline.providers.base import FINISHED, SCHEDULED, Batch, chunks
from pipeline.store import schema

CHUNK = 500  # rows per statement and ids per IN list: bounded on both dialects


def result_frame(result) -> pd.DataFrame:
    """A query's rows as a DataFrame, its columns named by the query. Rows go in as plain tuples: handed
    SQLAlchemy's Row objects, pandas probes each one for namedtuple fields, which costs more than the query."""
    return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))


def fixture_ids(conn: Connection, source: str, provider_ids: Iterable[str]) -> dict[str, int]:
    ids = sorted(set(provider_ids))
    out: dict[str, int] = {}
    f = schema.fixtures
    for part in chunks(ids, CHUNK):
        rows = conn.execute(select(f.c.provider_id, f.c.id).where(f.c.source == source, f.c.provider_id.in_(part)))
        out.update({r.provider_id: r.id for r in rows})
    return out


def upcoming_fixtures(conn: Connection, source: str, now: datetime, window_hours: float) -> pd.DataFrame:
    """Scheduled fixtures of `source` kicking off within `window_hours` after `now`, by kick-off (UTC): their ids,
    league, season, teams, team ids (`teams.id`) and team keys (`teams.provider_id`: the models' identity of a club)
    (no prices: see latest_prices)."""
    f = schema.fixtures
    home, away = schema.teams.alias("home"), schema.teams.alias("away")
    q = (
        select(
            f.c.id.label("fixture_id"),
            f.c.provider_id.label("match_id"),
            f.c.league_code.label("league"),
            f.c.season,
            f.c.kickoff_time.label("kickoff"),
            f.c.home_team,
            f.c.away_team,
            f.c.home_team_id,
            f.c.away_team_id,
            home.c.provider_id.label("home_team_key"),
            away.c.provider_id.label("away_team_key"),
        )
        .select_from(f.join(home, home.c.id == f.c.home_team_id).join(away, away.c.id == f.c.away_team_id))
        .where(
            f.c.source == source,
            f.c.status == SCHEDULED,
            f.c.kickoff_time > now,
            f.c.kickoff_time <= now + timedelta(hours=window_hours),
        )
        .order_by(f.c.kickoff_time)
    )
    frame = pd.DataFrame(conn.execute(q).mappings().all())
    if frame.empty:
        return frame
    frame["kickoff"] = pd.to_datetime(frame["kickoff"], utc=True)
    return frame


FRAME_COLUMNS = [
    "match_id",
    "fixture_id",
    "league",
    "season",
    "kickoff",
    "home_team",
    "away_team",
    "home_team_key",  # the club's identity (teams.provider_id): what the models key ratings and form by
    "away_team_key",
    "home_goals",
    "away_goals",
    "home_shots",
    "away_shots",
    "home_shots_on_target",
    "away_shots_on_target",
    *columns("odds_"),
    *columns("close_"),
]


def load_match_frame(
    conn: Connection,
    source: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    finished_only: bool = True,
    leagues: list[str] | None = None,
    reference: tuple[str, ...] | None = None,
    prematch_odds: bool = True,
) -> pd.DataFrame:
    """The store's matches as the models' match frame (see pipeline.forecast.features), sorted by kick-off.

    Pre-match odds are the reference book's latest non-closing snapshot seen before kick-off (see
    latest_prematch_odds; left NaN with `prematch_odds=False`, for callers that use only results: the query is
    most of an hourly run's reading); closing odds come from `results`.
    """
    f, r = schema.fixtures, schema.results
    home, away = schema.teams.alias("home"), schema.teams.alias("away")
    q = (
        select(
            f.c.provider_id.label("match_id"),
            f.c.id.label("fixture_id"),
            f.c.league_code.label("league"),
            f.c.season,
            f.c.kickoff_time.label("kickoff"),
            f.c.home_team,
            f.c.away_team,
            home.c.provider_id.label("home_team_key"),
            away.c.provider_id.label("away_team_key"),
            r.c.home_goals,
            r.c.away_goals,
            r.c.home_shots,
            r.c.away_shots,
            r.c.home_shots_on_target,
            r.c.away_shots_on_target,
            r.c.closing_home_odds.label("close_home"),
            r.c.closing_draw_odds.label("close_draw"),
            r.c.closing_away_odds.label("close_away"),
        )
        .select_from(
            f.outerjoin(r, r.c.fixture_id == f.c.id)
            .join(home, home.c.id == f.c.home_team_id)
            .join(away, away.c.id == f.c.away_team_id)
        )
        .where(f.c.source == source)
    )
    if finished_only:
        q = q.where(r.c.status == FINISHED)
    if since is not None:
        q = q.where(f.c.kickoff_time >= since)
    if until is not None:
        q = q.where(f.c.kickoff_time < until)
    if leagues is not None:
        q = q.where(f.c.league_code.in_(leagues))
    frame = result_frame(conn.execute(q))
    if frame.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    frame["kickoff"] = pd.to_datetime(frame["kickoff"], utc=True)
    if prematch_odds:
        odds = latest_prematch_odds(conn, frame["fixture_id"].tolist(), reference)
        frame = frame.merge(odds, on="fixture_id", how="left")
    for c in FRAME_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    num = FRAME_COLUMNS[FRAME_COLUMNS.index("home_goals") :]
    frame[num] = frame[num].astype(float)
    frame["season"] = frame["season"].astype(str)
    return frame[FRAME_COLUMNS].sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)


def newest_result(conn: Connection, source: str) -> datetime | None:
    """Kick-off of the newest finished match of `source` in the store (None when there is none)."""
    f, r = schema.fixtures, schema.results
    return conn.execute(
        select(func.max(f.c.kickoff_time))
        .select_from(f.join(r, r.c.fixture_id == f.c.id))
        .where(f.c.source == source, r.c.status == FINISHED)
    ).scalar()


def _book_rank(order: tuple[str, ...]):
    """SQL for bookmakers.reference_rank: a book's place in `order`, unlisted books after, the maxima last."""
    whens = [(schema.odds_snapshots.c.bookmaker == b, i) for i, b in enumerate(order)]
    whens += [(schema.odds_snapshots.c.bookmaker == b, len(order) + 1) for b in LAST_RESORT if b not in order]
    return case(*whens, else_=len(order))


def latest_prematch_odds(
    conn: Connection, fixture_ids_: list[int], reference: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Per fixture, the reference price: the latest non-closing 1X2 snapshot fetched before kick-off of the first
    book in `reference` order that has one (among unlisted books the latest, then by name; see pipeline.prices)."""
    o, f = schema.odds_snapshots, schema.fixtures
    order = reference if reference is not None else reference_order(SHARP_DEFAULT)
    parts = []
    # the hourly job stores a snapshot per fixture and book per run: rank them in SQL and fetch one row per
    # fixture (fetching them all cost a quarter of a second per run on two weeks of the sandbox, and grows)
    for part in chunks(sorted(set(fixture_ids_)), 900):
        rank = (
            func.row_number()
            .over(
                partition_by=o.c.fixture_id,
                order_by=(_book_rank(order), o.c.fetched_at.desc(), o.c.bookmaker, o.c.id.desc()),
            )
            .label("rank")
        )
        ranked = (
            select(
                o.c.id.label("odds_snapshot_id"),
                o.c.fixture_id,
                o.c.bookmaker,
                o.c.home_odds,
                o.c.draw_odds,
                o.c.away_odds,
                o.c.fetched_at,
                rank,
            )
            .select_from(o.join(f, f.c.id == o.c.fixture_id))
            .where(
                o.c.fixture_id.in_(part),
                o.c.market == "1X2",
                o.c.is_closing.is_(False),
                o.c.fetched_at <= f.c.kickoff_time,
            )
            .subquery()
        )
        q = select(*[c for c in ranked.c if c.name != "rank"]).where(ranked.c.rank == 1)
        parts.append(pd.DataFrame(conn.execute(q).mappings().all()))
    cols = ["fixture_id", *columns("odds_"), "odds_bookmaker", "odds_snapshot_id"]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=cols)
    odds = pd.concat(parts)
    renamed = {**dict(zip(columns("", "_odds"), columns("odds_"))), "bookmaker": "odds_bookmaker"}
    return odds.rename(columns=renamed)[cols]


def latest_prices(
    conn: Connection, fixture_ids_: list[int], rules: PriceRules, before: datetime | None = None
) -> pd.DataFrame:
    """Per fixture (the index), the reference, sharp and best bettable prices (pipeline.prices.PRICE_COLUMNS)
    from each bookmaker's latest pre-match snapshot fetched before kick-off (and before `before`)."""
    o, f = schema.odds_snapshots, schema.fixtures
    parts = []
    for part in chunks(sorted(set(int(x) for x in fixture_ids_)), 900):
        rank = (
            func.row_number()
            .over(partition_by=(o.c.fixture_id, o.c.bookmaker), order_by=(o.c.fetched_at.desc(), o.c.id.desc()))
            .label("rank")
        )
        cond = [
            o.c.fixture_id.in_(part),
            o.c.market == "1X2",
            o.c.is_closing.is_(False),
            o.c.fetched_at <= f.c.kickoff_time,
        ]
        if before is not None:
            cond.append(o.c.fetched_at <= before)
        ranked = (
            select(
                o.c.id,
                o.c.fixture_id,
                o.c.bookmaker,
                o.c.home_odds.label("home"),
                o.c.draw_odds.label("draw"),
                o.c.away_odds.label("away"),
                o.c.fetched_at,
                rank,
            )
            .select_from(o.join(f, f.c.id == o.c.fixture_id))
            .where(*cond)
            .subquery()
        )
        q = select(*[c for c in ranked.c if c.name != "rank"]).where(ranked.c.rank == 1)
        parts.append(pd.DataFrame(conn.execute(q).mappings().all()))
    parts = [p for p in parts if not p.empty]
    return price_table(pd.concat(parts, ignore_index=True) if parts else None, rules, key="fixture_id")


def batch_to_frame(batch: Batch, sharp: tuple[str, ...] = SHARP_DEFAULT) -> pd.DataFrame:
    """Provider records as a match frame (no store involved): pre-match odds are the reference book's latest
    non-closing snapshot seen before kick-off, closing odds the reference book's closing snapshot."""
    rows: dict[str, dict] = {}
    for m in batch.matches:
        row = {
            "match_id": m.provider_id,
            "fixture_id": np.nan,
            "league": m.league,
            "season": str(m.season),
            "kickoff": m.kickoff,
            "home_team": m.home_team,
            "away_team": m.away_team,
            "home_team_key": m.home_team_id or m.home_team,  # as the store keys a club (store.writes)
            "away_team_key": m.away_team_id or m.away_team,
            "home_goals": np.nan if m.home_goals is None else float(m.home_goals),
            "away_goals": np.nan if m.away_goals is None else float(m.away_goals),
        }
        for k in ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target"):
            row[k] = float(m.stats[k]) if m.stats.get(k) is not None else np.nan
        rows[m.provider_id] = row
    order = reference_order(sharp)
    closing_rank: dict = {}
    pre = []
    for o in batch.odds:
        r = rows.get(o.match_id)
        if r is None:
            continue
        if o.is_closing:
            rank = (reference_rank(o.bookmaker, order), o.bookmaker)
            if rank < closing_rank.get(o.match_id, (np.inf, "")):
                closing_rank[o.match_id] = rank
                r.update(close_home=o.home, close_draw=o.draw, close_away=o.away)
        elif o.fetched_at <= r["kickoff"]:
            pre.append((o.match_id, o.bookmaker, o.home, o.draw, o.away, o.fetched_at))
    table = price_table(
        pd.DataFrame(pre, columns=["match_id", "bookmaker", "home", "draw", "away", "fetched_at"]),
        PriceRules(sharp=tuple(sharp)),
    )
    for mid, triple in zip(table.index, table[columns("odds_")].to_numpy(float)):
        rows[mid].update(zip(columns("odds_"), triple))
    frame = pd.DataFrame(list(rows.values()))
    for c in FRAME_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    frame["kickoff"] = pd.to_datetime(frame["kickoff"], utc=True)
    return frame[FRAME_COLUMNS].sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)
