"""Shared fixtures: a temporary SQLite file, the real PostgreSQL server, settings on temporary directories."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FOOTBALL_DATA = SHARED / "data" / "football-data"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SHARED_ENV = "FOOTBALL_TESTS_SHARED"  # a directory every process of one test run sees (xdist workers too)


def pytest_configure(config):
    # One BLAS/OpenMP thread, as every job runs by default (CPU_THREADS=1): on a shared 2-core machine, spinning
    # thread pools made one XGBoost fit 15x slower; subprocesses (and pytest-xdist's workers) inherit it through
    # the environment.
    from pipeline.threads import limit_threads

    limit_threads(1)
    if not hasattr(config, "workerinput"):  # the main process (the controller under xdist): one per test run
        os.environ[SHARED_ENV] = tempfile.mkdtemp(prefix="football-tests-")
    config.pluginmanager.register(_WorldOrder(), "football-world-order")


class _WorldOrder:
    @pytest.hookimpl(trylast=True)  # after -m/-k have deselected
    def pytest_collection_modifyitems(self, config, items):
        _start_world(items, build=not config.option.collectonly)


def pytest_unconfigure(config):
    if _builder is not None and _builder.poll() is None:
        _builder.wait()  # another worker may still be waiting for the world it is building
    if not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ.pop(SHARED_ENV, ""), ignore_errors=True)


def _shares_a_module_fixture(item) -> bool:
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(d.scope in ("module", "class") for ds in defs.values() for d in ds)


def pytest_itemcollected(item):
    """Tests on the demo's world (the `cycle` fixture) are slow: `pytest -m "not slow"` leaves them, and those
    marked slow by hand, out. Tests sharing a module-scoped fixture (a fresh clone, a trained set, a backtest) go
    to one pytest-xdist worker together (--dist loadgroup), so the fixture is built once, not once per worker
    (marked here, at collection: xdist reads the groups before other collection hooks run)."""
    if "cycle" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.slow)
    if _shares_a_module_fixture(item):
        item.add_marker(pytest.mark.xdist_group(item.module.__name__))
        if hasattr(item.config, "workerinput") and item.config.getvalue("loadgroup"):
            # what pytest-xdist 3.8 does to send a group to one worker (a "@group" suffix on the id), which
            # pytest 9 ignores (the id lives in `_id` now): done here until xdist catches up
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(f"{item.nodeid}@{item.module.__name__}")


def _start_world(items, build: bool = True) -> None:
    """When any selected test uses the demo's world, start building it now, in a background process, so the
    other tests run while it is built. Order (the same in every xdist worker): the groups sharing a fixture
    first, then the other tests, then those on the demo's world, the process-heavy ones (test_reliability)
    first among them, so that what runs last is short and both workers finish together."""

    def uses_world(item):
        return "cycle" in getattr(item, "fixturenames", ())

    grouped = [i for i in items if not uses_world(i) and i.get_closest_marker("xdist_group")]
    world = sorted((i for i in items if uses_world(i)), key=lambda i: i.module.__name__ != "test_reliability")
    items[:] = grouped + [i for i in items if not uses_world(i) and i not in grouped] + world
    if world and build:  # not for --collect-only: nothing will wait for it
        _launch_builder()


def needs_shared():
    return pytest.mark.skipif(
        not (FOOTBALL_DATA / "mmz4281").is_dir(), reason=f"real football-data files not found at {FOOTBALL_DATA}"
    )


def _pg_reachable() -> str | None:
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_server():
    problem = _pg_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at TEST_DATABASE_URL is unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at TEST_DATABASE_URL ({problem})")
    return PG_URL


@pytest.fixture
def pg_url(pg_server):
    """A fresh schema on the real server, dropped afterwards: tests never see each other's rows."""
    schema_name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    sep = "&" if "?" in pg_server else "?"
    yield f"{pg_server}{sep}options=-csearch_path%3D{schema_name}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'predictions.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'predictions.db'}"
    return request.getfixturevalue("pg_url")


def make_env(tmp_path: Path, **extra) -> dict:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'predictions.db'}",
        "MODEL_DIR": str(tmp_path / "models"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "LOG_DIR": str(tmp_path / "logs"),
        "LOCK_DIR": str(tmp_path / "locks"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "DATA_SOURCE": "sandbox",
        "DEPLOYMENT": "demo",  # the sandbox on purpose: the health check fails on simulated data anywhere else
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def create_store(env: dict) -> None:
    """An empty store with the schema at env's DATABASE_URL (jobs other than weekly training refuse to create
    one: a missing SQLite file is an error for them)."""
    from pipeline.store import make_engine, migrate

    engine = make_engine(env["DATABASE_URL"])
    migrate(engine, Path(env["LOCK_DIR"]))
    engine.dispose()


@pytest.fixture
def env(tmp_path):
    return make_env(tmp_path)


@pytest.fixture
def settings(env):
    from pipeline.config import load_settings

    return load_settings(env, dotenv=Path("/nonexistent"))


# Friday to the Sunday nine days later, 00:00: two weekends of lineups and bets, with the Sunday retrain between
# them (the second Sunday's retrain and matches would add a fifth of the build's time and nothing a test needs)
DEMO_START = datetime(2026, 1, 9, tzinfo=UTC)
DEMO_DAYS = 9
DEMO_SEED = 7


WORLD_TIMEOUT = 1200  # seconds: far beyond the ~1-2 minutes it takes, only so that a hang fails
_builder: subprocess.Popen | None = None


def _world_dir() -> Path:
    return Path(os.environ[SHARED_ENV]) / "cycle"


def _launch_builder() -> None:
    """Start tests/build_world.py unless another process of this test run already has (a file lock decides)."""
    global _builder
    import fcntl

    world = _world_dir()
    with open(Path(os.environ[SHARED_ENV]) / "cycle.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if world.exists():
            return
        world.mkdir()
        with open(world / "stderr.txt", "w") as stderr:  # the child keeps its own copy of the descriptor
            _builder = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).with_name("build_world.py")),
                    str(world),
                    DEMO_START.isoformat(),
                    str(DEMO_DAYS),
                    str(DEMO_SEED),
                ],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )


def _wait_for_world() -> tuple[Path, list[str]]:
    world = _world_dir()
    if not world.exists():  # selected after collection (e.g. by a plugin): build it now
        _launch_builder()
    done = world / "exit_code"
    deadline = time.monotonic() + WORLD_TIMEOUT
    while not done.exists():
        if _builder is not None and _builder.poll() is not None and not done.exists():
            pytest.fail(
                f"building the demo's world died (exit {_builder.returncode}):\n"
                + (world / "stderr.txt").read_text()[-4000:]
            )
        if time.monotonic() > deadline:
            pytest.fail(f"the demo's world was not built in {WORLD_TIMEOUT} s (see {world})")
        time.sleep(0.2)
    time.sleep(0.05)  # exit_code is written last, by rename: complete when seen
    lines = (world / "demo.out").read_text().splitlines()
    code = int(done.read_text())
    assert code == 0, "\n".join(lines) + (world / "stderr.txt").read_text()[-4000:]
    return world / "work", lines


@pytest.fixture(scope="session")
def cycle(tmp_path_factory):
    """The demo (pipeline.jobs.demo, every production job on the sandbox, SQLite) over DEMO_DAYS simulated days,
    built once per test run by tests/build_world.py in the background (see _start_world); each process gets its
    own copy of its models and store. Tests that change the store work on a clone (see `clone`)."""
    built, lines = _wait_for_world()
    work = tmp_path_factory.mktemp("cycle")
    shutil.copytree(built, work, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns("predictions.db*"))
    with sqlite3.connect(built / "predictions.db") as src, sqlite3.connect(work / "predictions.db") as dst:
        src.backup(dst)
    return work, lines


# ---- running the production scripts on a clone of the demo's world ---------------------------------------------


def clone(work: Path, dest: Path, database_url: str | None = None) -> dict:
    """A copy of the demo's models and store (the store through SQLite's backup API) and its environment."""
    from pipeline.jobs.demo import demo_environment

    dest.mkdir(parents=True)
    shutil.copytree(work / "models", dest / "models", symlinks=True)
    env = demo_environment(dest, DEMO_SEED)
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        with sqlite3.connect(work / "predictions.db") as src, sqlite3.connect(dest / "predictions.db") as dst:
            src.backup(dst)
    return env


def invoke_command(job: str, args: list[str], env: dict):
    """The production script's click command run in this process (CliRunner) with `env` added to the
    environment: what a subprocess run checks, without a new interpreter's second of imports, for tests of what a
    job does rather than of how a process behaves (kills, locks, cron's environment, mounts, hung jobs). Returns
    click's Result (exit_code, output = stdout+stderr, stderr); an exception escaping the command fails the test."""
    from click.testing import CliRunner

    from pipeline.jobs.cli import COMMANDS

    return CliRunner().invoke(COMMANDS[job], args, env={k: str(v) for k, v in env.items()}, catch_exceptions=False)


def run_command(job: str, now, env: dict, *extra: str) -> tuple[int, str]:
    """What `finish(start(...))` returns (exit code, stdout+stderr), run by invoke_command."""
    result = invoke_command(job, [*extra, *(["--now", now.isoformat()] if job != "backup" else []), "--quiet"], env)
    return result.exit_code, result.output


def start(job: str, now, env: dict, *extra: str) -> subprocess.Popen:
    args = [sys.executable, str(ROOT / "production" / f"{job}.py"), *extra]
    if job != "backup":
        args += ["--now", now.isoformat()]
    return subprocess.Popen(
        args + ["--quiet"], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(p: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out + err


def insert_prediction_and_bet(conn, fixture_id: int, predicted_at: datetime, **bet) -> int:
    """A stored prediction (model "v1": 0.5 / 0.3 / 0.2, input key "k") and one bet on it, as the hourly job leaves
    them; `bet` holds the bet's columns (bet_outcome, bookmaker, odds, stake, edge, model_prob, placed_at, status,
    ...). Returns the bet's id."""
    from pipeline.store import schema

    prediction = schema.predictions.insert().values(
        fixture_id=fixture_id,
        prediction_time=predicted_at,
        model_version="v1",
        home_prob=0.5,
        draw_prob=0.3,
        away_prob=0.2,
        input_key="k",
    )
    pid = conn.execute(prediction).inserted_primary_key[0]
    inserted = conn.execute(schema.bets.insert().values(fixture_id=fixture_id, prediction_id=pid, **bet))
    return inserted.inserted_primary_key[0]
