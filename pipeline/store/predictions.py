"""The `predictions` table: Prediction records (pipeline.records) in, idempotently, and back out.

One row per fixture, model version and input (`input_key`), so storing the same prediction twice changes nothing.
A prediction a placed bet points to is never rewritten, not even by `--force`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, replace
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from pipeline.providers.base import chunks
from pipeline.records import Prediction
from pipeline.store import schema
from pipeline.store.engine import insert_ignore, upsert
from pipeline.store.queries import CHUNK

KEY = ("fixture_id", "model_version", "input_key")
_NOT_COLUMNS = ("match_id", "id")  # record fields that are no column: the provider's id, the row's own id


def _row(p: Prediction) -> dict:
    return {k: v for k, v in asdict(p).items() if k not in _NOT_COLUMNS}


def predictions_with_bets(conn: Connection, fixture_ids: list[int]) -> set[tuple]:
    """Keys (fixture_id, model_version, input_key) of the predictions of these fixtures that a bet points to."""
    p, b = schema.predictions, schema.bets
    keys: set[tuple] = set()
    for part in chunks(fixture_ids, CHUNK):
        q = (
            select(p.c.fixture_id, p.c.model_version, p.c.input_key)
            .select_from(p.join(b, b.c.prediction_id == p.c.id))
            .where(p.c.fixture_id.in_(part))
        )
        keys.update(tuple(r) for r in conn.execute(q))
    return keys


def prediction_ids(conn: Connection, fixture_ids: list[int]) -> dict[tuple, int]:
    """predictions.id by key (fixture_id, model_version, input_key), for these fixtures."""
    p = schema.predictions
    out = {}
    for part in chunks(fixture_ids, CHUNK):
        q = select(p.c.id, p.c.fixture_id, p.c.model_version, p.c.input_key).where(p.c.fixture_id.in_(part))
        out.update({(r.fixture_id, r.model_version, r.input_key): r.id for r in conn.execute(q)})
    return out


def store_predictions(conn: Connection, predictions: list[Prediction], force: bool) -> tuple[list[Prediction], int]:
    """Insert predictions (existing ones of the same fixture, model version and input are kept). With `force`
    existing ones are rewritten, except those a placed bet points to: a bet's prediction never changes.

    Returns the predictions with their stored ids, and how many were kept for that reason."""
    fixtures = sorted({p.fixture_id for p in predictions if p.fixture_id is not None})
    keep = predictions_with_bets(conn, fixtures) if force else set()
    kept = [_row(p) for p in predictions if p.key in keep]
    rewrite = [_row(p) for p in predictions if p.key not in keep]
    if force:
        upsert(conn, schema.predictions, rewrite, keys=KEY)
        insert_ignore(conn, schema.predictions, kept, keys=KEY)
    else:
        insert_ignore(conn, schema.predictions, rewrite, keys=KEY)
    ids = prediction_ids(conn, fixtures)
    missing = [p.match_id for p in predictions if p.key not in ids]
    if missing:
        raise RuntimeError(f"predictions not found after insert: {missing[:5]}")
    return [replace(p, id=ids[p.key]) for p in predictions], len(kept)


def predicted_inputs(conn: Connection, fixture_ids: Iterable[int], version: str) -> set[tuple[int, str]]:
    """(fixture_id, input_key) of every prediction of these fixtures by model `version`."""
    p = schema.predictions
    out: set[tuple[int, str]] = set()
    for part in chunks(sorted(set(fixture_ids)), CHUNK):
        q = select(p.c.fixture_id, p.c.input_key).where(p.c.fixture_id.in_(part), p.c.model_version == version)
        out.update((r.fixture_id, r.input_key) for r in conn.execute(q))
    return out


def predictions_before_kickoff(conn: Connection) -> pd.DataFrame:
    """Every prediction of a finished fixture made before its kick-off, with the fixture's kick-off, league and
    outcome (pipeline.betting.performance scores the last one of each)."""
    p, f, r = schema.predictions, schema.fixtures, schema.results
    q = (
        select(
            p.c.id,
            p.c.fixture_id,
            p.c.prediction_time,
            p.c.home_prob,
            p.c.draw_prob,
            p.c.away_prob,
            p.c.uses_lineups,
            p.c.market_home_prob,
            p.c.market_draw_prob,
            p.c.market_away_prob,
            f.c.kickoff_time,
            f.c.league_code,
            r.c.outcome,
        )
        .select_from(p.join(f, f.c.id == p.c.fixture_id).join(r, r.c.fixture_id == p.c.fixture_id))
        .where(r.c.outcome.is_not(None), p.c.prediction_time <= f.c.kickoff_time)
    )
    return pd.DataFrame(conn.execute(q).mappings().all())


def newest_prediction(conn: Connection, not_after: datetime | None = None) -> datetime | None:
    """When the newest prediction was made (the health check's "latest prediction"), those dated after
    `not_after` left out."""
    t = schema.predictions.c.prediction_time
    q = select(func.max(t))
    return conn.execute(q.where(t <= not_after) if not_after is not None else q).scalar()


def predictions_dated_after(conn: Connection, when: datetime) -> tuple[int, datetime | None]:
    """How many predictions are dated after `when`, and the latest of them."""
    t = schema.predictions.c.prediction_time
    n, latest = conn.execute(select(func.count(), func.max(t)).where(t > when)).one()
    return int(n), latest


__all__ = [
    "newest_prediction",
    "predictions_dated_after",
    "store_predictions",
    "prediction_ids",
    "predictions_with_bets",
    "predicted_inputs",
    "predictions_before_kickoff",
]
