"""What the store holds, counted for a summary line (the demo's daily lines and its closing value line)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from pipeline.store import schema


def cycle_counts(engine, since_run_id: int = 0) -> dict[str, int]:
    """Predictions (those with lineups too), bets, settled bets, and failed job runs after `since_run_id`."""
    p, b, jr = schema.predictions, schema.bets, schema.job_runs
    with engine.connect() as conn:

        def n(table, *where) -> int:
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

        return {
            "predictions": n(p),
            "lineup predictions": n(p, p.c.uses_lineups),
            "bets": n(b),
            "settled": n(b, b.c.status != "pending"),
            "failed runs": n(jr, jr.c.status == "failed", jr.c.id > since_run_id),
        }


BET_COLUMNS = ["bookmaker", "market", "stake", "profit_loss", "status", "clv", "kickoff_time"]


def bets_with_kickoff(engine) -> pd.DataFrame:
    """Every bet's bookmaker, market, stake, profit, status and closing-line value, with its fixture's kick-off
    (columns BET_COLUMNS)."""
    b, f = schema.bets, schema.fixtures
    query = select(*(b.c[c] for c in BET_COLUMNS[:-1]), f.c.kickoff_time).select_from(
        b.join(f, f.c.id == b.c.fixture_id)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=BET_COLUMNS)


__all__ = ["cycle_counts", "bets_with_kickoff", "BET_COLUMNS"]
