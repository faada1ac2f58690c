"""Backups, restore and the health check, each check tested both ways."""
from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from pipeline.forecast import registry
from pipeline.store import schema
from pipeline.jobs.backup import run_backup, run_restore
from pipeline.jobs.health_check import run as run_health_check
from pipeline.providers.base import ProviderError
from pipeline.providers.sandbox import SandboxProvider
from pipeline.jobs.runner import _Lock, run_job
from pipeline.store import make_engine, migrate

UTC = timezone.utc
NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


def _healthy_store(settings):
    eng = make_engine(settings.database_url)
    migrate(eng, settings.lock_dir)
    with eng.begin() as conn:
        conn.execute(schema.leagues.insert().values(source="sandbox", code="L", name="L"))
        t1 = conn.execute(schema.teams.insert().values(source="sandbox", provider_id="a", name="A")).inserted_primary_key[0]
        t2 = conn.execute(schema.teams.insert().values(source="sandbox", provider_id="b", name="B")).inserted_primary_key[0]
        fid = conn.execute(schema.fixtures.insert().values(
            source="sandbox", provider_id="m1", league_code="L", season="2526", kickoff_time=NOW + timedelta(hours=5),
            home_team_id=t1, away_team_id=t2, home_team="A", away_team="B", status="scheduled",
            updated_at=NOW)).inserted_primary_key[0]
        pid = conn.execute(schema.predictions.insert().values(
            fixture_id=fid, prediction_time=datetime(2026, 1, 20, 11, 0, tzinfo=UTC), model_version="v1",
            home_prob=0.5, draw_prob=0.3, away_prob=0.2, input_key="k")).inserted_primary_key[0]
        conn.execute(schema.bets.insert().values(fixture_id=fid, prediction_id=pid, bet_outcome="home", bookmaker="b",
                                            odds=2.1, stake=10, edge=0.05, model_prob=0.5, placed_at=NOW))
        for job, ago in (("weekly_training", timedelta(days=2)), ("hourly_predictions", timedelta(minutes=50)),
                         ("lineup_updates", timedelta(minutes=10)), ("results_settlement", timedelta(minutes=20)),
                         ("backup", timedelta(hours=8))):
            conn.execute(schema.job_runs.insert().values(job=job, started_at=NOW - ago, finished_at=NOW - ago,
                                                    status="success"))
    eng.dispose()
    registry.deploy(settings.model_dir, {k: {"placeholder": k} for k in registry.MODEL_FILES},
                    {"version": "v1", "trained_at": (NOW - timedelta(days=2)).isoformat()}, now=NOW - timedelta(days=2))
    assert run_job("backup", run_backup, settings=settings, now=NOW - timedelta(hours=8)) == 0


@pytest.fixture
def healthy(settings):
    _healthy_store(settings)
    return settings


def _health(settings, capsys, provider=None, as_json=False):
    code = run_job("health_check", lambda ctx: run_health_check(ctx, as_json), settings=settings, now=NOW,
                   needs_store=False, lock=False, provider=provider)
    return code, capsys.readouterr().out


def test_healthy_system(healthy, capsys):
    code, out = _health(healthy, capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert "✅ Models loaded successfully" in lines and "✅ Database accessible" in lines
    assert "✅ Latest prediction: 2026-01-20 11:00:00" in lines
    assert any(line.startswith("✅ API connection working") for line in lines)
    assert all(line.startswith("✅") for line in lines)
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
            conn.execute(text("UPDATE job_runs SET started_at = '2026-01-20 08:00:00' WHERE job = 'hourly_predictions'"))
        elif what == "pending":
            conn.execute(text("UPDATE fixtures SET kickoff_time = '2026-01-20 05:00:00'"))
        elif what == "training_never":
            conn.execute(text("DELETE FROM job_runs WHERE job = 'weekly_training'"))
    eng.dispose()


@pytest.mark.parametrize("what,check", [
    ("tamper", "models"), ("database", "database"), ("api", "api"), ("prediction", "latest prediction"),
    ("hourly_late", "hourly_predictions"), ("training_never", "weekly_training"), ("pending", "pending bets"),
    ("old_models", "model age"), ("disk", "disk"), ("no_backup", "backup"),
])
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
        registry.deploy(st.model_dir, {k: {"p": k} for k in registry.MODEL_FILES},
                        {"version": "v0", "trained_at": (NOW - timedelta(days=20)).isoformat()}, now=NOW)
    elif what == "disk":
        st = dataclasses.replace(st, min_free_disk_mb=10 ** 12)
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
    kept = list(live.parent.glob("predictions.db.before_restore_*"))
    assert len(kept) == 1 and sqlite3.connect(kept[0]).execute("SELECT COUNT(*) FROM predictions").fetchone() == (0,)


def test_restore_refuses_while_a_job_runs_and_refuses_a_bad_file(healthy, tmp_path):
    st = healthy
    backup = sorted(st.backup_dir.glob("predictions_*.db"))[-1]
    lock = _Lock(st.lock_dir / "hourly_predictions.lock")
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
