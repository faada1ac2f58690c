"""Backups (daily) and restore.

SQLite: an online backup through SQLite's backup API (never a copy of the live file, which may be mid-write),
checked with `PRAGMA integrity_check` before it gets its final name, plus a plain SQL dump that
`sqlite3 predictions.db < backups/predictions_YYYYmmdd_HHMMSS.sql` restores. PostgreSQL: `pg_dump -Fc`.
Beside them: the deployed model set (models_*.tar.gz) and `.env` (env_*, mode 0600: it holds secrets).
Retention keeps BACKUP_RETENTION_DAYS of backups and never deletes the newest good one.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from pipeline.forecast import registry
from pipeline.config import ROOT
from pipeline.jobs.table import SCHEDULED
from pipeline.store.backup_files import STAMP, backups, integrity_ok, sqlite_path
from pipeline.jobs.runner import EXIT_CONFIG, EXIT_SOFTWARE, EXIT_UNAVAILABLE, JobContext, JobFailed, job_is_running

# jobs that write the store: a restore waits until none of them runs
WRITERS = tuple(j.name for j in SCHEDULED if j.name not in ("backup", "health_check"))


def _sqlite_backup(src: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(src, timeout=60)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")  # a standalone file: no -wal/-shm beside it
    finally:
        target.close()
        source.close()
    ok, why = integrity_ok(tmp)
    if not ok:
        tmp.unlink(missing_ok=True)
        raise JobFailed(f"backup failed its integrity check: {why}")
    os.replace(tmp, dest)


def _sql_dump(db: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        with open(tmp, "w") as fh:
            for line in con.iterdump():
                fh.write(f"{line}\n")
    finally:
        con.close()
    os.replace(tmp, dest)


def _pg_env(url: str) -> tuple[list[str], dict]:
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password  # never on the command line, where `ps` would show it
    args = ["-h", u.host or "localhost", "-p", str(u.port or 5432), "-U", u.username or "postgres",
            "-d", u.database or "postgres"]
    # a store kept in its own schema (options=-csearch_path=NAME in the URL): dump that schema only
    m = re.search(r"search_path=([A-Za-z_][A-Za-z0-9_]*)", str(u.query.get("options", "")))
    if m:
        args += ["-n", m.group(1)]
    return args, env


def _pg_dump(url: str, dest: Path) -> None:
    exe = shutil.which("pg_dump")
    if exe is None:
        raise JobFailed("pg_dump is not installed: install the PostgreSQL client (e.g. apt-get install "
                        "postgresql-client) to back up a PostgreSQL store", EXIT_CONFIG)
    args, env = _pg_env(url)
    tmp = dest.with_name(dest.name + ".tmp")
    r = subprocess.run([exe, "-Fc", "-f", str(tmp), *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise JobFailed(f"pg_dump failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}",
                        EXIT_UNAVAILABLE)
    os.replace(tmp, dest)


def _archive_models(model_dir: Path, dest: Path) -> bool:
    live = registry.live_path(model_dir)
    if live is None:
        return False
    tmp = dest.with_name(dest.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(live, arcname=live.name)
    os.replace(tmp, dest)
    return True


def _copy_env(dest: Path) -> bool:
    src = ROOT / ".env"
    if not src.is_file():
        return False
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(src.read_bytes())
    os.chmod(dest, 0o600)
    return True


def prune(backup_dir: Path, keep_days: int, now: datetime) -> list[Path]:
    """Delete backups older than keep_days, never those of the newest good store backup's stamp."""
    items = backups(backup_dir)
    stores = [(t, p) for t, p in items if p.name.startswith("predictions_") and p.suffix in (".db", ".dump")]
    newest = stores[-1][0] if stores else None
    cutoff = now.replace(tzinfo=None) - timedelta(days=keep_days)
    removed = []
    for t, p in items:
        if t < cutoff and t != newest:
            p.unlink()
            removed.append(p)
    return removed


def run(ctx: JobContext, restore_file: Path | None = None) -> None:
    """The backup job; with `restore_file`, a restore instead."""
    if restore_file is not None:
        run_restore(ctx, restore_file)
    else:
        run_backup(ctx)


def run_backup(ctx: JobContext) -> None:
    settings = ctx.settings
    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = ctx.now.strftime(STAMP)
    if settings.is_sqlite:
        db = sqlite_path(settings.database_url)
        dest = settings.backup_dir / f"predictions_{stamp}.db"
        _sqlite_backup(db, dest)
        _sql_dump(dest, settings.backup_dir / f"predictions_{stamp}.sql")
        ctx.log.info("store backed up to %s (integrity ok) and %s", dest.name, dest.with_suffix(".sql").name)
    else:
        dest = settings.backup_dir / f"predictions_{stamp}.dump"
        _pg_dump(settings.database_url, dest)
        ctx.log.info("store backed up to %s (pg_dump custom format)", dest.name)
    ctx.count("store_backups", 1)
    if _archive_models(settings.model_dir, settings.backup_dir / f"models_{stamp}.tar.gz"):
        ctx.count("model_archives", 1)
    if _copy_env(settings.backup_dir / f"env_{stamp}"):
        ctx.count("env_copies", 1)
    removed = prune(settings.backup_dir, settings.backup_retention_days, ctx.now)
    ctx.count("pruned", len(removed))


def run_restore(ctx: JobContext, backup_file: Path) -> None:
    settings = ctx.settings
    running = [j for j in WRITERS if job_is_running(settings, j)]
    if running:
        raise JobFailed(f"refusing to restore while {', '.join(running)} is running; try again when it finishes",
                        EXIT_SOFTWARE)
    backup_file = Path(backup_file).resolve()
    if not backup_file.is_file():
        raise JobFailed(f"no such backup file: {backup_file}", EXIT_CONFIG)
    stamp = ctx.now.strftime(STAMP)
    if settings.is_sqlite:
        ok, why = integrity_ok(backup_file)
        if not ok:
            raise JobFailed(f"{backup_file.name} is not a sound store backup ({why}); nothing restored")
        db = sqlite_path(settings.database_url)
        if db.exists():
            keep = db.with_name(f"{db.name}.before_restore_{stamp}")
            _sqlite_backup(db, keep)
            ctx.log.info("current store kept as %s", keep)
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        target = sqlite3.connect(db, timeout=60)
        try:
            source.backup(target)  # page by page into the live file, under SQLite's own locking
        finally:
            target.close()
            source.close()
        ok, why = integrity_ok(db)
        if not ok:
            raise JobFailed(f"the restored store fails its integrity check ({why})")
    else:
        exe = shutil.which("pg_restore")
        if exe is None:
            raise JobFailed("pg_restore is not installed: install the PostgreSQL client", EXIT_CONFIG)
        keep = settings.backup_dir / f"predictions_{stamp}_before_restore.dump"
        _pg_dump(settings.database_url, keep)
        args, env = _pg_env(settings.database_url)
        r = subprocess.run([exe, "--clean", "--if-exists", "--no-owner", *args, str(backup_file)], env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise JobFailed(f"pg_restore failed: {r.stderr.strip()[-300:]}", EXIT_UNAVAILABLE)
    ctx.count("restored", 1)
    ctx.log.info("store restored from %s", backup_file.name)


