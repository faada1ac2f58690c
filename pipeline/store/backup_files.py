"""Backup files on disk: their names, the store file a SQLite URL names, and a read-only integrity check.

Shared by the backup job (which writes them) and the health check (which looks at them).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

STAMP = "%Y%m%d_%H%M%S"
NAME = re.compile(r"^(predictions|models|env)_(\d{8}_\d{6})(\.db|\.sql|\.dump|\.tar\.gz)?$")


def sqlite_path(database_url: str) -> Path:
    return Path(make_url(database_url).database or "")


def integrity_ok(path: Path) -> tuple[bool, str]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
            con.execute("SELECT COUNT(*) FROM alembic_version").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return False, str(exc)
    return result == "ok", result


def backups(backup_dir: Path) -> list[tuple[datetime, Path]]:
    out = []
    if backup_dir.is_dir():
        for p in backup_dir.iterdir():
            m = NAME.match(p.name)
            if m:
                out.append((datetime.strptime(m.group(2), STAMP), p))
    return sorted(out)


__all__ = ["STAMP", "NAME", "sqlite_path", "integrity_ok", "backups"]
