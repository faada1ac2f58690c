"""The `model_versions` table: one row per thing that happened to the deployed model set (deploy, rejected,
skipped, dry_run, rollback, manual_rollback). This module is its one writer."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Connection

from pipeline.store import schema


def record_model_version(
    conn: Connection,
    version: str,
    action: str,
    created_at: datetime,
    *,
    forced: bool = False,
    training_matches: int | None = None,
    metrics: dict | None = None,
    backup_path: Path | str | None = None,
    notes: str | None = None,
) -> None:
    """One row; `metrics` (the validation report) is stored as JSON."""
    conn.execute(
        schema.model_versions.insert().values(
            version=version,
            action=action,
            created_at=created_at,
            forced=forced,
            training_matches=training_matches,
            metrics=json.dumps(metrics, default=str) if metrics is not None else None,
            backup_path=str(backup_path) if backup_path else None,
            notes=notes,
        )
    )


__all__ = ["record_model_version"]
