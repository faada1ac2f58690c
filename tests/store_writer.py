"""One writer of test_store's concurrency test, in a module of its own: each writer is a new process (spawn) that
imports the module its target lives in, and this one needs only the store, not the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from pipeline.store import make_engine, migrate, schema, upsert

T0 = datetime(2026, 1, 17, 15, 0, tzinfo=UTC)


def write(url: str, worker: int, n: int, lock_dir: str) -> None:
    eng = make_engine(url)
    migrate(eng, Path(lock_dir))
    for i in range(n):
        with eng.begin() as conn:
            conn.execute(
                schema.job_runs.insert().values(
                    job=f"w{worker}", status="success", started_at=T0 + timedelta(seconds=i)
                )
            )
            # read-modify-write: the pattern that fails with deferred transactions
            total = conn.execute(select(func.count()).select_from(schema.job_runs)).scalar()
            upsert(
                conn,
                schema.leagues,
                [{"source": "w", "code": f"{worker}-{i}", "name": str(total)}],
                keys=("source", "code"),
            )
    eng.dispose()
