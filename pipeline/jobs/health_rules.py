"""Two of the health check's verdicts, on files and settings only: the backup (of the configured store's kind,
recent, copied off when BACKUP_COPY_COMMAND is set) and the data source (simulated data outside the demo).

Each returns (ok, detail); pipeline.jobs.health_check turns them into its lines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.jobs.backup_copy import was_copied
from pipeline.store.backup_files import backups

# the backup that restores the store, by the store's kind (the .sql beside a .db is its readable twin)
STORE_BACKUP = {
    True: (".db", "SQLite store (predictions_*.db)"),
    False: (".dump", "PostgreSQL dump (predictions_*.dump)"),
}


def backup_verdict(settings, now: datetime, max_age: timedelta) -> tuple[bool, str]:
    """The newest backup of the configured store's kind: there, younger than `max_age`, and copied off the
    machine when BACKUP_COPY_COMMAND is set. Backups of another kind (SQLite files of an earlier setup on a
    PostgreSQL store) do not count, and the line names the kind it wants."""
    suffix, kind = STORE_BACKUP[settings.is_sqlite]
    stores = [(t, p) for t, p in backups(settings.backup_dir) if p.name.startswith("predictions_")]
    wanted = [(t, p) for t, p in stores if p.suffix == suffix]
    if not wanted:
        others = sorted({p.suffix for _, p in stores})
        also = f" (only {', '.join(others)} files of another store's kind)" if others else ""
        return False, f"no {kind} backup in {settings.backup_dir}{also}"
    stamp, path = wanted[-1]
    latest = stamp.replace(tzinfo=UTC)
    detail = f"Latest backup: {latest:%Y-%m-%d %H:%M:%S} ({path.name})"
    if now - latest > max_age:
        return False, f"{detail} is older than {max_age.days} days"
    if settings.backup_copy_command:
        if not was_copied(settings.backup_dir, path):
            return False, f"{detail} was not copied off (BACKUP_COPY_COMMAND failed or has not run for it)"
        return True, f"{detail}, copied off"
    return True, detail


def source_verdict(settings) -> tuple[bool, str]:
    """The data source: DATA_SOURCE=sandbox is simulated, a failure anywhere but in the demo (DEPLOYMENT=demo)."""
    if settings.data_source != "sandbox":
        return True, f"Data source: {settings.data_source}"
    if settings.deployment == "demo":
        return True, "Data source: sandbox (simulated, the demo)"
    return False, (
        "DATA_SOURCE=sandbox: simulated matches, nothing real is predicted or bet; set a real DATA_SOURCE "
        "(or DEPLOYMENT=demo for a trial)"
    )


__all__ = ["STORE_BACKUP", "backup_verdict", "source_verdict"]
