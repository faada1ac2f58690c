"""Backups, restore and the health check, each check tested both ways."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, create_store, insert_prediction_and_bet, invoke_command
from sqlalchemy import text

from pipeline.forecast import registry
from pipeline.jobs.backup import run_backup, run_restore
from pipeline.jobs.health_check import run as run_health_check
from pipeline.jobs.lock import JobLock
from pipeline.jobs.runner import run_job
from pipeline.providers.base import ProviderError
from pipeline.providers.sandbox import SandboxProvider
from pipeline.store import make_engine, migrate, schema

UTC = UTC
NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


def _healthy_store(settings):
    eng = make_engine(settings.database_url)
    migrate(eng, settings.lock_dir)
    with eng.begin() as conn:
        conn.execute(schema.leagues.insert().values(source="sandbox", code="L", name="L"))
        t1 = conn.execute(
            schema.teams.insert().values(source="sandbox", provider_id="a", name="A")
        ).inserted_primary_key[0]
        t2 = conn.execute(
            schema.teams.insert().values(source="sandbox", provider_id="b", name="B")
        ).inserted_primary_key[0]
        fid = conn.execute(
            schema.fixtures.insert().values(
                source="sandbox",
                provider_id="m1",
                league_code="L",
                season="2526",
                kickoff_time=NOW + timedelta(hours=5),
                home_team_id=t1,
                away_team_id=t2,
                home_team="A",
                away_team="B",
                status="scheduled",
                updated_at=NOW,
            )
        ).inserted_primary_key[0]
        played = conn.execute(
            schema.fixtures.insert().values(
                source="sandbox",
                provider_id="m0",
                league_code="L",
                season="2526",
                kickoff_time=NOW - timedelta(days=2),
                home_team_id=t2,
                away_team_id=t1,
                home_team="B",
                away_team="A",
                status="finished",
                updated_at=NOW,
            )
        ).inserted_primary_key[0]
        conn.execute(
            schema.results.insert().values(
                fixture_id=played,
                status="finished",
                home_goals=1,
                away_goals=0,
                outcome="home",
                recorded_at=NOW - timedelta(days=2),
            )
        )
        insert_prediction_and_bet(
            conn,
            fid,
            datetime(2026, 1, 20, 11, 0, tzinfo=UTC),
            bet_outcome="home",
            bookmaker="b",
            odds=2.1,
            stake=10,
            edge=0.05,
            model_prob=0.5,
            placed_at=NOW,
        )
        for job, ago in (
            ("weekly_training", timedelta(days=2)),
            ("hourly_predictions", timedelta(minutes=50)),
            ("lineup_updates", timedelta(minutes=10)),
            ("results_settlement", timedelta(minutes=20)),
            ("backup", timedelta(hours=8)),
        ):
            conn.execute(
                schema.job_runs.insert().values(job=job, started_at=NOW - ago, finished_at=NOW - ago, status="success")
            )
    eng.dispose()
    registry.deploy(
        settings.model_dir,
        {k: {"placeholder": k} for k in registry.MODEL_FILES},
        {"version": "v1", "trained_at": (NOW - timedelta(days=2)).isoformat()},
        now=NOW - timedelta(days=2),
    )
    assert run_job("backup", run_backup, settings=settings, now=NOW - timedelta(hours=8)) == 0


@pytest.fixture
def healthy(settings):
    _healthy_store(settings)
    return settings


def _health(settings, capsys, provider=None, as_json=False):
    code = run_job(
        "health_check",
        lambda ctx: run_health_check(ctx, as_json),
        settings=settings,
        now=NOW,
        needs_store=False,
        lock=False,
        provider=provider,
    )
    return code, capsys.readouterr().out


def test_healthy_system(healthy, capsys):
    code, out = _health(healthy, capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert "✅ Models loaded successfully" in lines and "✅ Database accessible" in lines
    assert "✅ Latest prediction: 2026-01-20 11:00:00" in lines
    assert any(line.startswith("✅ API connection working") for line in lines)
    assert all(line.startswith("✅") for line in lines)
    names = [c["check"] for c in json.loads(_health(healthy, capsys, as_json=True)[1])]
    assert len(names) == len(set(names)), names  # each check once ("backup" was listed twice)
    code, out = _health(healthy, capsys, as_json=True)
    assert code == 0 and all(c["ok"] for c in json.loads(out))


class Broken(SandboxProvider):
    def check(self, now):
        raise ProviderError("HTTP 503 from upstream")


def _break(settings, what):
    eng = make_engine(settings.database_url)
    with eng.begin() as conn:
        if what == "prediction":
            conn.execute(text("DELETE FROM bets"))
            conn.execute(text("DELETE FROM predictions"))
        elif what == "hourly_late":
            conn.execute(
                text("UPDATE job_runs SET started_at = '2026-01-20 08:00:00' WHERE job = 'hourly_predictions'")
            )
        elif what == "pending":
            conn.execute(text("UPDATE fixtures SET kickoff_time = '2026-01-20 05:00:00'"))
        elif what == "training_never":
            conn.execute(text("DELETE FROM job_runs WHERE job = 'weekly_training'"))
    eng.dispose()


@pytest.mark.parametrize(
    "what,check",
    [
        ("tamper", "models"),
        ("database", "database"),
        ("api", "api"),
        ("prediction", "latest prediction"),
        ("hourly_late", "hourly_predictions"),
        ("training_never", "weekly_training"),
        ("pending", "pending bets"),
        ("old_models", "model age"),
        ("disk", "disk"),
        ("no_backup", "backup"),
    ],
)
def test_each_check_fails_with_its_reason(healthy, capsys, what, check):
    st, provider = healthy, None
    if what == "tamper":
        with open(registry.live_path(st.model_dir) / "elo.joblib", "ab") as fh:
            fh.write(b"x")
    elif what == "database":
        st = dataclasses.replace(st, database_url="postgresql+psycopg://nobody:pw999999@127.0.0.1:1/none")
    elif what == "api":
        provider = Broken()
    elif what == "old_models":
        registry.deploy(
            st.model_dir,
            {k: {"p": k} for k in registry.MODEL_FILES},
            {"version": "v0", "trained_at": (NOW - timedelta(days=20)).isoformat()},
            now=NOW,
        )
    elif what == "disk":
        st = dataclasses.replace(st, min_free_disk_mb=10**12)
    elif what == "no_backup":
        shutil.rmtree(st.backup_dir)
    else:
        _break(st, what)
    code, out = _health(st, capsys, provider=provider)
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("❌")]
    assert any(line.startswith(f"❌ {check}:") for line in failed), out
    assert "pw999999" not in out


def test_backup_files_integrity_and_sql_dump_restores(healthy, tmp_path):
    st = healthy
    assert run_job("backup", run_backup, settings=st, now=NOW) == 0
    stamp = NOW.strftime("%Y%m%d_%H%M%S")
    db, dump = st.backup_dir / f"predictions_{stamp}.db", st.backup_dir / f"predictions_{stamp}.sql"
    assert db.is_file() and dump.is_file() and (st.backup_dir / f"models_{stamp}.tar.gz").is_file()
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    if shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 command-line shell is not installed")
    target = tmp_path / "from_dump.db"
    with open(dump) as fh:
        subprocess.run(["sqlite3", str(target)], stdin=fh, check=True)
    q = "SELECT COUNT(*) FROM predictions"
    assert sqlite3.connect(target).execute(q).fetchone() == sqlite3.connect(db).execute(q).fetchone() == (1,)


def test_restore_brings_back_the_same_rows_and_keeps_a_copy(healthy):
    st = healthy
    assert run_job("backup", run_backup, settings=st, now=NOW) == 0
    live = Path(st.database_url.removeprefix("sqlite:///"))
    con = sqlite3.connect(live)
    before = con.execute("SELECT * FROM predictions").fetchall()
    con.execute("DELETE FROM bets")
    con.execute("DELETE FROM predictions")
    con.commit()
    con.close()
    backup = st.backup_dir / f"predictions_{NOW:%Y%m%d_%H%M%S}.db"
    assert run_job("backup", lambda ctx: run_restore(ctx, backup), settings=st, now=NOW + timedelta(hours=1)) == 0
    assert sqlite3.connect(live).execute("SELECT * FROM predictions").fetchall() == before
    kept = [p for p in live.parent.glob("predictions.db.before_restore_*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and sqlite3.connect(kept[0]).execute("SELECT COUNT(*) FROM predictions").fetchone() == (0,)


def test_restore_refuses_while_a_job_runs_and_refuses_a_bad_file(healthy, tmp_path):
    st = healthy
    backup = sorted(st.backup_dir.glob("predictions_*.db"))[-1]
    lock = JobLock.of(st, "hourly_predictions")
    assert lock.acquire()
    try:
        assert run_job("backup", lambda ctx: run_restore(ctx, backup), settings=st, now=NOW) == 70
    finally:
        lock.release()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert run_job("backup", lambda ctx: run_restore(ctx, junk), settings=st, now=NOW) == 70


def test_retention_prunes_old_backups_but_never_the_newest(settings):
    settings.backup_dir.mkdir(parents=True)
    old = [settings.backup_dir / f"predictions_2025010{d}_040000.db" for d in (1, 2, 3)]
    for p in old:
        sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.commit()
    from pipeline.jobs.backup import prune

    removed = prune(settings.backup_dir, keep_days=14, now=NOW)
    assert sorted(removed) == old[:2] and old[2].exists()  # the newest is kept however old


def test_postgres_backup_with_pg_dump(pg_url, settings):
    st = dataclasses.replace(settings, database_url=pg_url)  # its own schema: the public one is shared
    if shutil.which("pg_dump") is None:
        assert run_job("backup", run_backup, settings=st, now=NOW) == 78
        return
    eng = make_engine(st.database_url)
    migrate(eng, st.lock_dir)
    eng.dispose()
    assert run_job("backup", run_backup, settings=st, now=NOW) == 0
    dump = st.backup_dir / f"predictions_{NOW:%Y%m%d_%H%M%S}.dump"
    assert dump.is_file() and dump.read_bytes()[:5] == b"PGDMP"


# ---- restore when it is needed: a damaged store ---------------------------------------------------------------


def _script(name, env, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "production" / f"{name}.py"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _fill(settings, n=3000):
    """Enough rows that the store spans many pages (damage in the middle hits data, not only the header)."""
    eng = make_engine(settings.database_url)
    with eng.begin() as conn:
        conn.execute(
            schema.job_runs.insert(),
            [{"job": "filler", "started_at": NOW, "status": "success", "counts": "x" * 200} for _ in range(n)],
        )
    eng.dispose()


def _damage(live: Path, how: str) -> None:
    data = bytearray(live.read_bytes())
    if how == "zeroed header":
        data[:100] = bytes(100)
    elif how == "truncated":
        data = data[: len(data) // 3]
    elif how == "pages overwritten":
        page = int.from_bytes(data[16:18], "big")
        rng = random.Random(3)
        for p in range(3, len(data) // page - 1, 2):
            data[p * page : (p + 1) * page] = bytes(rng.getrandbits(8) for _ in range(page))
    live.write_bytes(bytes(data))


STALE_WAL_WRITER = """
import os, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA wal_autocheckpoint = 0")
con.execute("INSERT INTO job_runs (job, started_at, status) VALUES ('from the stale wal', '2026-01-20 12:00:00', 'x')")
con.commit()
os._exit(0)   # no close, no checkpoint: the -wal stays behind with a committed frame
"""


@pytest.mark.parametrize("damage", ["zeroed header", "truncated", "pages overwritten", "stale wal"])
def test_restore_works_on_a_damaged_store_and_keeps_it(healthy, env, damage):
    st = healthy
    _fill(st)
    assert run_job("backup", run_backup, settings=st, now=NOW) == 0
    backup = st.backup_dir / f"predictions_{NOW:%Y%m%d_%H%M%S}.db"
    live = Path(st.database_url.removeprefix("sqlite:///"))
    expected = {
        t: sqlite3.connect(backup).execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        for t in ("predictions", "bets", "job_runs")
    }
    if damage == "stale wal":
        subprocess.run([sys.executable, "-c", STALE_WAL_WRITER, str(live)], check=True)
        assert live.with_name(live.name + "-wal").stat().st_size > 0
    else:
        _damage(live, damage)
    damaged = live.read_bytes()
    r = _script("backup", env, "--restore", str(backup), "--now", "2026-01-20T13:00:00", "--quiet")
    assert r.returncode == 0 and "Traceback" not in r.stderr and not r.stderr.strip(), r.stderr
    con = sqlite3.connect(live)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for table, rows in expected.items():
        got = con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        if table == "job_runs":  # the restore is recorded in the restored store
            assert got[: len(rows)] == rows and len(got) == len(rows) + 1
            job, status, counts = con.execute("SELECT job, status, counts FROM job_runs ORDER BY id DESC").fetchone()
            assert (job, status) == ("backup", "success") and '"restored": 1' in counts and backup.name in counts
        else:
            assert got == rows, table
    con.close()
    kept = live.with_name(f"{live.name}.before_restore_20260120_130000")
    assert kept.read_bytes() == damaged  # kept as it was, for inspection
    if damage == "stale wal":
        assert kept.with_name(kept.name + "-wal").is_file()  # moved aside with it, never replayed
    assert _script("results_settlement", env, "--now", "2026-01-20T13:30:00", "--quiet").returncode == 0


def test_health_check_finds_a_store_damaged_mid_file(healthy, capsys):
    _fill(healthy)
    _damage(Path(healthy.database_url.removeprefix("sqlite:///")), "pages overwritten")
    code, out = _health(healthy, capsys)
    assert code == 1
    assert any(line.startswith("❌ database:") and "integrity" in line for line in out.splitlines()), out


def test_health_check_never_creates_the_store(settings, capsys):
    db = Path(settings.database_url.removeprefix("sqlite:///"))
    st = dataclasses.replace(settings, database_url=f"sqlite:///{db.parent / 'nowhere' / 'predictions.db'}")
    code, out = _health(st, capsys)
    assert code == 1 and any(
        line.startswith("❌ database:") and "does not exist" in line for line in out.splitlines()
    ), out
    assert not (db.parent / "nowhere").exists() and not db.exists()


@pytest.mark.parametrize("script", ["hourly_predictions", "results_settlement", "lineup_updates", "report", "backup"])
def test_a_misspelt_sqlite_path_is_refused_not_created(env, script, tmp_path):
    create_store(env)
    misspelt = tmp_path / "predictons.db"
    # the command in this process: what is checked is the job's refusal, not the process around it
    r = invoke_command(
        script, [] if script == "report" else ["--quiet"], {**env, "DATABASE_URL": f"sqlite:///{misspelt}"}
    )
    assert r.exit_code == 69 and "does not exist" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not misspelt.exists()


def test_health_check_runs_the_alert_command_only_when_unhealthy(healthy, capsys, tmp_path):
    alert = tmp_path / "alert.txt"
    st = dataclasses.replace(healthy, alert_command=f"cat > {alert}")
    code, _ = _health(st, capsys)
    assert code == 0 and not alert.exists()
    shutil.rmtree(st.backup_dir)
    code, out = _health(st, capsys)
    assert code == 1 and alert.read_text().splitlines()[1:] == [ln for ln in out.splitlines() if ln.startswith("❌")]


def test_postgres_restore_brings_the_rows_back_and_is_recorded(pg_url, settings):
    if shutil.which("pg_restore") is None:
        pytest.skip("the PostgreSQL client (pg_restore) is not installed")
    st = dataclasses.replace(settings, database_url=pg_url)
    eng = make_engine(pg_url)
    migrate(eng, st.lock_dir)
    with eng.begin() as conn:
        conn.execute(schema.leagues.insert().values(source="sandbox", code="L", name="League"))
    assert run_job("backup", run_backup, settings=st, now=NOW) == 0
    with eng.begin() as conn:
        conn.execute(schema.leagues.delete())
    dump = st.backup_dir / f"predictions_{NOW:%Y%m%d_%H%M%S}.dump"
    assert (
        run_job(
            "backup", lambda ctx: run_restore(ctx, dump), settings=st, now=NOW + timedelta(hours=1), needs_store=False
        )
        == 0
    )
    with eng.connect() as conn:
        assert conn.execute(text("SELECT code FROM leagues")).fetchall() == [("L",)]
        restores = conn.execute(text("SELECT counts FROM job_runs WHERE counts LIKE '%restored_from%'")).fetchall()
    eng.dispose()
    assert len(restores) == 1 and dump.name in restores[0][0]


def test_the_daily_backup_never_archives_a_damaged_model_set(healthy, capsys):
    st = healthy
    with open(st.model_dir / "xgboost.joblib", "ab") as fh:
        fh.write(b"damage")
    assert run_job("backup", run_backup, settings=st, now=NOW) == 0
    assert not (st.backup_dir / f"models_{NOW:%Y%m%d_%H%M%S}.tar.gz").exists()
    assert "models not archived" in capsys.readouterr().err
