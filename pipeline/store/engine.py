"""The store: engine set-up for SQLite and PostgreSQL, migrations, and upserts that work on both.

SQLite is made safe for several cron jobs writing at once: WAL (readers never block the writer), a busy
timeout, and `BEGIN IMMEDIATE` for every transaction, so a writer takes the lock up front and waits for it
instead of failing half-way with "database is locked" when it upgrades a read lock.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, func, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from pipeline.config import ROOT, load_settings
from pipeline.errors import StoreUnavailable
from pipeline.store import schema

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 60_000


def _sqlite_dir(u) -> None:
    Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        _sqlite_dir(u)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


_SHARED: OrderedDict[str, Engine] = OrderedDict()
SHARED_ENGINES = 16


def shared_engine(url: str) -> Engine:
    """One Engine per URL in this process, for a caller that disposes it after each use (the job runner, so no
    connection outlives a run: the next run opens the file as it is then). SQLAlchemy caches compiled statements
    per Engine; the demo runs ~1,700 jobs in one process and compiled every statement again in each."""
    engine = _SHARED.pop(url, None)
    if engine is None:
        engine = make_engine(url)
    elif engine.url.get_backend_name() == "sqlite":
        _sqlite_dir(engine.url)  # the directory may have gone since the last run
    _SHARED[url] = engine
    while len(_SHARED) > SHARED_ENGINES:
        _SHARED.popitem(last=False)[1].dispose()
    return engine


def _alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


@functools.cache
def _heads() -> frozenset:
    """The migrations' head revisions: read once per process (the demo runs ~1,700 jobs in one)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(_alembic_config()).get_heads())


def migrate(engine: Engine, lock_dir: Path | None = None) -> None:
    """Bring the schema to the latest Alembic revision. Serialised by a file lock: jobs start together."""
    from alembic.runtime.migration import MigrationContext

    heads = _heads()

    def current() -> set:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())

    if current() == heads:
        return
    with _file_lock((lock_dir or Path(".")) / "migrate.lock"):
        if current() == heads:
            return
        from alembic import command  # not imported by the runs that find the schema current

        cfg = _alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("database schema upgraded to %s", ",".join(sorted(heads)))


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


def quick_check(conn: Connection, limit: int = 3) -> list[str]:
    """SQLite's `PRAGMA quick_check`: ["ok"], or the first `limit` problems it finds (damaged pages that a store
    which opens can still have mid-file)."""
    return [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check").fetchmany(limit)]


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names when it does not exist (None for PostgreSQL or an existing file)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    path = Path(u.database or "")
    return None if path.exists() else path


def link_guide_path(url: str) -> None:
    """The production guide types `sqlite3 production/predictions.db`; the store lives at the project root
    (`sqlite3 predictions.db`). A relative symlink makes both spellings open the same file (SQLite follows it and
    finds the -wal beside the real file)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or Path(u.database or "") != ROOT / "predictions.db":
        return
    link = ROOT / "production" / "predictions.db"
    if link.is_symlink() or link.exists() or not link.parent.is_dir():
        return
    try:
        link.symlink_to(Path("..") / "predictions.db")
    except OSError:
        pass  # a read-only checkout: `sqlite3 predictions.db` from the root still works


class PredictionDatabase:
    """The store, created (or upgraded) and ready: the production guide's set-up step, typed in production/ as
    `python -c "from hourly_predictions import PredictionDatabase; PredictionDatabase()"`.

    `PredictionDatabase(url)` for another store; `.engine` for SQLAlchemy, `.tables()`, `.close()`.
    """

    def __init__(self, database_url: str | None = None, *, lock_dir: Path | None = None):
        if database_url is None:
            settings = load_settings()
            database_url, lock_dir = settings.database_url, lock_dir or settings.lock_dir
        elif lock_dir is None:  # another store: serialise its migration beside it
            u = make_url(database_url)
            lock_dir = (
                Path(u.database or "").parent if u.get_backend_name() == "sqlite" else Path(tempfile.gettempdir())
            )
        self.url = database_url
        self.engine = make_engine(self.url)
        migrate(self.engine, lock_dir)
        link_guide_path(self.url)

    def tables(self) -> list[str]:
        return table_names(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> PredictionDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _insert(conn: Connection, table):
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"upserts are not implemented for {dialect}")


def upsert(
    conn: Connection,
    table,
    rows: Sequence[dict],
    keys: Sequence[str],
    update: Iterable[str] | None = None,
    keep_existing: Iterable[str] = (),
) -> None:
    """Insert rows; on a natural-key conflict update `update` columns (default: all non-key columns).

    Columns in `keep_existing` are only updated when the new value is not NULL (a later fetch that lacks a
    value must not erase one seen earlier).
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    cols = list(rows[0].keys())
    update = [c for c in (cols if update is None else update) if c not in keys]
    if update:
        keep = set(keep_existing)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: func.coalesce(stmt.excluded[c], table.c[c]) if c in keep else stmt.excluded[c] for c in update},
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))


def insert_ignore(conn: Connection, table, rows: Sequence[dict], keys: Sequence[str]) -> None:
    """Insert rows whose natural key is new; existing rows are left exactly as they are."""
    upsert(conn, table, rows, keys, update=())


__all__ = [
    "make_engine",
    "migrate",
    "upsert",
    "insert_ignore",
    "StoreUnavailable",
    "schema",
    "PredictionDatabase",
    "missing_sqlite_file",
    "quick_check",
    "link_guide_path",
]
