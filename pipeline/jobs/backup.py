"""Backups (daily) and restore.

SQLite: an online backup through SQLite's backup API (never a copy of the live file, which may be mid-write),
checked with `PRAGMA integrity_check` before it gets its final name, plus a plain SQL dump that
`sqlite3 FILE < backups/predictions_YYYYmmdd_HHMMSS.sql` restores into a new or an existing file. PostgreSQL:
`pg_dump -Fc`. Beside them: the deployed model set (models_*.tar.gz, only when it loads) and `.env` (env_*, mode
0600: it holds secrets). Retention keeps BACKUP_RETENTION_DAYS of backups and never deletes the newest good one.

Restore (`--restore FILE`) works when the store is damaged: it never opens the live SQLite file, checks a copy of
the backup, moves the live file and its -wal/-shm aside (kept for inspection), renames the copy into place, all
while holding every writing job's lock.

Every file is written under a temporary name and renamed when complete; a failure (a full disk, say) removes the
temporary and SQLite's journal beside it at once, and temporaries left by a killed run are removed by the next.
History stays true: in a store backup this run's own job_runs row is closed (not left `running`), and a restore
closes the rows that were running when the backup was taken and records itself in the restored store.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import tarfile
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.config import ROOT, ConfigError
from pipeline.errors import EXIT_CONFIG, EXIT_SOFTWARE, JobFailed
from pipeline.forecast import registry
from pipeline.jobs.backup_copy import copy_off
from pipeline.jobs.history import HOST
from pipeline.jobs.lock import JobLock
from pipeline.jobs.runner import JobContext
from pipeline.jobs.table import SCHEDULED
from pipeline.store import copies, job_runs, make_engine, migrate
from pipeline.store.backup_files import STAMP, backups, integrity_ok, sqlite_path

# jobs that write the store: a restore holds their locks, so none of them starts half-way
WRITERS = tuple(j.name for j in SCHEDULED if j.name not in ("backup", "health_check"))
# temporaries of our own files (and SQLite's journals beside them): debris once no backup runs
DEBRIS = re.compile(r"^(predictions|models|env)_\d{8}_\d{6}.*\.tmp(-journal|-wal|-shm)?$")


def _remove_temporary(tmp: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)


@contextmanager
def _staged(dest: Path):
    """Yield a temporary path renamed to `dest` when the block completes; removed (with any SQLite journal
    beside it) when it fails, so a full disk leaves no debris and gets its space back."""
    tmp = dest.with_name(dest.name + ".tmp")
    _remove_temporary(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o600)  # a backup holds every bet and prediction: its owner's alone
        os.replace(tmp, dest)
    except OSError as exc:
        _remove_temporary(tmp)
        if exc.filename is None and exc.errno is not None:  # a failed write() names no file: name it
            raise OSError(exc.errno, exc.strerror, str(dest)) from None
        raise
    except BaseException:
        _remove_temporary(tmp)
        raise


def remove_debris(backup_dir: Path) -> list[Path]:
    """Temporaries left by a run that was killed (the backup lock is held, so none is in use)."""
    removed = []
    if backup_dir.is_dir():
        for p in backup_dir.iterdir():
            if DEBRIS.match(p.name):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def _disk_full(exc: sqlite3.Error, dest: Path) -> OSError | None:
    """A write error on the copy that is the destination's full disk, as the OSError it is (named, exit 75)."""
    try:
        full = exc.sqlite_errorname == "SQLITE_FULL" or shutil.disk_usage(dest.parent).free < 2**20
    except (AttributeError, OSError):
        full = False
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest)) if full else None


def _sqlite_backup(src: Path, dest: Path, run_id: int | None = None) -> None:
    with _staged(dest) as tmp:
        try:
            copies.sqlite_backup(src, tmp)
        except sqlite3.Error as exc:
            full = _disk_full(exc, dest)
            if full:
                raise full from None
            raise
        if run_id is not None:
            # in the copy this run's row must not stay `running`: after a restore nothing would ever close it
            job_runs.close_run_in_copy(tmp, run_id, {"store_copy": dest.name})
        ok, why = integrity_ok(tmp)
        if not ok:
            raise JobFailed(f"backup failed its integrity check: {why}")


def _sql_dump(db: Path, dest: Path) -> None:
    with _staged(dest) as tmp:
        copies.sql_dump(db, tmp)


def _pg_dump(url: str, dest: Path) -> None:
    copies.pg_tool("pg_dump")  # before a temporary is made
    with _staged(dest) as tmp:
        copies.pg_dump(url, tmp)


def _archive_models(model_dir: Path, dest: Path) -> str | None:
    """Archive the live set's files (as models/<file>); a set whose files are not one complete set matching its
    checksums (damaged, tampered, a mix) is not archived as if good. Returns why nothing was archived, or None
    when it was (or there is no set)."""
    try:
        registry.load_deployed(model_dir, unpickle=False)
    except registry.ModelLoadError as exc:
        return f"the deployed model set is damaged ({exc})" if registry.has_live_set(model_dir) else None
    with _staged(dest) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for name in registry.LIVE_FILES:
                tar.add(model_dir / name, arcname=f"models/{name}")
    return None


def _copy_env(dest: Path) -> bool:
    src = ROOT / ".env"
    if not src.is_file():
        return False
    with _staged(dest) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(src.read_bytes())
        os.chmod(tmp, 0o600)
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


def _backup_dir(settings) -> Path:
    try:
        settings.backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"BACKUP_DIR {settings.backup_dir} is not a usable directory ({exc.strerror})") from None
    try:
        settings.backup_dir.chmod(0o700)
    except OSError:
        pass  # a directory of another owner (a mount point): the files themselves are 0600
    return settings.backup_dir


def run_backup(ctx: JobContext) -> None:
    settings = ctx.settings
    removed = remove_debris(_backup_dir(settings))  # first: a full disk gets that space back before we write
    if removed:
        ctx.log.warning("removed %d temporary files left by an interrupted backup", len(removed))
    stamp = ctx.now.strftime(STAMP)
    if settings.is_sqlite:
        db = sqlite_path(settings.database_url)
        dest = settings.backup_dir / f"predictions_{stamp}.db"
        _sqlite_backup(db, dest, ctx.run_id)
        _sql_dump(dest, settings.backup_dir / f"predictions_{stamp}.sql")
        ctx.log.info("store backed up to %s (integrity ok) and %s", dest.name, dest.with_suffix(".sql").name)
    else:
        dest = settings.backup_dir / f"predictions_{stamp}.dump"
        _pg_dump(settings.database_url, dest)
        ctx.log.info("store backed up to %s (pg_dump custom format)", dest.name)
    ctx.count("store_backups", 1)
    archive = settings.backup_dir / f"models_{stamp}.tar.gz"
    skipped = _archive_models(settings.model_dir, archive)
    if skipped:
        ctx.log.warning("models not archived: %s", skipped)
        ctx.count("model_archive_skipped", 1)
    elif archive.exists():
        ctx.count("model_archives", 1)
    if _copy_env(settings.backup_dir / f"env_{stamp}"):
        ctx.count("env_copies", 1)
    removed = prune(settings.backup_dir, settings.backup_retention_days, ctx.now)
    ctx.count("pruned", len(removed))
    # off the machine or volume: the store's backups and the model archive (the .env copy holds secrets: no)
    made = [p for p in settings.backup_dir.iterdir() if p.name.startswith((f"predictions_{stamp}", f"models_{stamp}"))]
    failed = copy_off(settings.backup_copy_command, sorted(made), settings.backup_dir)
    if failed:
        raise JobFailed(failed)
    if settings.backup_copy_command:
        ctx.count("copied_off", len(made))


def _with_journals(path: Path) -> list[Path]:
    return [
        path,
        path.with_name(path.name + "-wal"),
        path.with_name(path.name + "-shm"),
        path.with_name(path.name + "-journal"),
    ]


def _stage_backup(backup_file: Path, db: Path) -> Path:
    """A checked private copy of the backup beside the live file, ready to be renamed into place.

    The backup itself is only read (a stale -wal beside it would be replayed into it if it were opened where it
    lies); the copy is checked read-write and made a standalone file (journal_mode DELETE, no -wal of its own).
    """
    staged = db.with_name(f".{db.name}.restore.tmp")
    for p in _with_journals(staged):
        p.unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(backup_file, staged)
    result = copies.check_copy(staged)
    if result != "ok":
        for p in _with_journals(staged):
            p.unlink(missing_ok=True)
        raise JobFailed(f"{backup_file.name} is not a sound store backup ({result}); nothing restored")
    return staged


def _restore_sqlite(ctx: JobContext, backup_file: Path, stamp: str) -> Path | None:
    """Put a copy of the backup in place of the live file without opening the live file (it may be damaged:
    a zeroed header, a truncated file, overwritten pages). The live file and its -wal/-shm are moved aside
    together, so nothing of them is replayed into the restored store and they can still be inspected."""
    db = sqlite_path(ctx.settings.database_url)
    if backup_file == db.resolve():
        raise JobFailed(f"{backup_file} is the live store itself; name a backup file", EXIT_CONFIG)
    staged = _stage_backup(backup_file, db)
    kept = None
    if any(p.exists() for p in _with_journals(db)):
        kept = db.with_name(f"{db.name}.before_restore_{stamp}")
        for src, dest in zip(_with_journals(db), _with_journals(kept)):
            if src.exists():
                os.replace(src, dest)
        ctx.log.info("the store it replaces is kept as %s (with its -wal/-shm, if any)", kept.name)
    os.replace(staged, db)
    fd = os.open(db.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename is durable before we say "restored"
    finally:
        os.close(fd)
    ok, why = integrity_ok(db)
    if not ok:
        raise JobFailed(f"the restored store fails its integrity check ({why})")
    return kept


def run_restore(ctx: JobContext, backup_file: Path) -> None:
    """Restore the store from a backup. Runs without opening the live store (it may be what is broken), while
    holding every writing job's lock so none starts half-way."""
    settings = ctx.settings
    backup_file = Path(backup_file).resolve()
    if not backup_file.is_file():
        raise JobFailed(f"no such backup file: {backup_file}", EXIT_CONFIG)
    if settings.is_sqlite and backup_file.suffix == ".sql":
        raise JobFailed(
            f"{backup_file.name} is an SQL dump, not a store file: --restore the predictions_*.db of the same time, "
            f"or make a store of it with `sqlite3 NEW.db < {backup_file}` and point DATABASE_URL at NEW.db",
            EXIT_CONFIG,
        )
    locks = []
    try:
        for job in WRITERS:
            lock = JobLock.of(settings, job)
            if not lock.acquire():
                raise JobFailed(
                    f"refusing to restore while {job} is running; try again when it finishes", EXIT_SOFTWARE
                )
            locks.append(lock)
        stamp = ctx.now.strftime(STAMP)
        if settings.is_sqlite:
            kept = _restore_sqlite(ctx, backup_file, stamp)
        else:
            copies.pg_tool("pg_restore")  # before the store is dumped aside
            kept = settings.backup_dir / f"predictions_{stamp}_before_restore.dump"
            _pg_dump(settings.database_url, kept)
            copies.pg_restore(settings.database_url, backup_file)
        ctx.count("restored", 1)
        ctx.counts["restored_from"] = backup_file.name
        if kept is not None:
            ctx.counts["kept_as"] = kept.name
        _record_restore(ctx, backup_file)
    finally:
        for lock in locks:
            lock.release()
    ctx.log.info("store restored from %s", backup_file.name)


def _record_restore(ctx: JobContext, backup_file: Path) -> None:
    """In the restored store: close the runs the backup caught mid-way, and record this restore as a run (the
    runs of the store it replaced went with it). From the command line the runner has no store open (the live one
    may have been damaged): the row is written whole here. Called with an open store, the runner's connections
    are to the file moved aside: they are dropped, and the runner records the end of this run's new row."""
    own = ctx.engine is None
    engine = make_engine(ctx.settings.database_url) if own else ctx.engine
    run_for = ctx.now if ctx.simulated_now else None
    try:
        if not own:
            engine.dispose()
        migrate(engine, ctx.settings.lock_dir)  # a backup from an older release gets the current schema
        if own:
            job_runs.rewrite_after_restore(engine, backup_file.name, ctx.job, run_for, counts=ctx.counts)
        else:
            ctx.run_id = job_runs.rewrite_after_restore(
                engine, backup_file.name, ctx.job, run_for, pid=os.getpid(), host=HOST
            )
    finally:
        if own:
            engine.dispose()
