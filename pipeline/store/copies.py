"""Copies of the whole store, for backups and restores: SQLite's online backup API (never a copy of the live file,
which may be mid-write) and a plain SQL dump, a check of a copy about to be put in place, and PostgreSQL's
`pg_dump -Fc` / `pg_restore`. The callers choose the file names and stage them (pipeline.jobs.backup)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from pipeline.errors import StoreUnavailable, ToolMissing

_INSTALL = {
    "pg_dump": "pg_dump is not installed: install the PostgreSQL client (e.g. apt-get install "
    "postgresql-client) to back up a PostgreSQL store",
    "pg_restore": "pg_restore is not installed: install the PostgreSQL client",
}


def sqlite_backup(src: Path, dest: Path) -> None:
    """An online backup of the SQLite file `src` into `dest`, made a standalone file (no -wal/-shm beside it).
    Raises sqlite3.Error."""
    source = sqlite3.connect(src, timeout=60)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
        source.close()


def sql_dump(db: Path, dest: Path) -> None:
    """A plain SQL dump that `sqlite3 FILE < dump.sql` restores whether FILE is new or an existing store: the
    dump's own tables are dropped first, in the same transaction as the rows that replace them (a dump from
    iterdump alone fails on an existing store with "table already exists" and leaves a mix of rows)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        with open(dest, "w") as fh:
            fh.write("PRAGMA foreign_keys=OFF;\n")
            for line in con.iterdump():
                fh.write(f"{line}\n")
                if line == "BEGIN TRANSACTION;":
                    for t in tables:
                        fh.write(f'DROP TABLE IF EXISTS "{t}";\n')
    finally:
        con.close()


def check_copy(path: Path) -> str:
    """Check a private copy of a store backup read-write ("ok", or what is wrong) and make it a standalone file
    (journal_mode DELETE, no -wal of its own), ready to be renamed into place."""
    try:
        con = sqlite3.connect(path)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
            con.execute("SELECT COUNT(*) FROM alembic_version").fetchone()
            con.execute("PRAGMA journal_mode = DELETE")
        finally:
            con.close()
    except sqlite3.Error as exc:
        return str(exc)
    return result


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program; ToolMissing (exit 78) naming what to install when it is absent."""
    exe = shutil.which(name)
    if exe is None:
        raise ToolMissing(_INSTALL[name])
    return exe


def pg_connection(url: str) -> tuple[list[str], dict]:
    """The client programs' connection arguments and environment for `url`."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password  # never on the command line, where `ps` would show it
    args = [
        "-h",
        u.host or "localhost",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
        "-d",
        u.database or "postgres",
    ]
    # a store kept in its own schema (options=-csearch_path=NAME in the URL): dump that schema only
    m = re.search(r"search_path=([A-Za-z_][A-Za-z0-9_]*)", str(u.query.get("options", "")))
    if m:
        args += ["-n", m.group(1)]
    return args, env


def pg_dump(url: str, dest: Path) -> None:
    """`pg_dump -Fc` of the store into `dest`; StoreUnavailable (exit 69) with pg_dump's last line on failure."""
    exe = pg_tool("pg_dump")
    args, env = pg_connection(url)
    r = subprocess.run([exe, "-Fc", "-f", str(dest), *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode
        raise StoreUnavailable(f"pg_dump failed: {last}")


def pg_restore(url: str, backup_file: Path) -> None:
    """Replace the store's tables by those of a `pg_dump -Fc` file; StoreUnavailable (exit 69) on failure."""
    exe = pg_tool("pg_restore")
    args, env = pg_connection(url)
    r = subprocess.run(
        [exe, "--clean", "--if-exists", "--no-owner", *args, str(backup_file)],
        env=env,
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise StoreUnavailable(f"pg_restore failed: {r.stderr.strip()[-300:]}")


__all__ = ["sqlite_backup", "sql_dump", "check_copy", "pg_tool", "pg_connection", "pg_dump", "pg_restore"]
