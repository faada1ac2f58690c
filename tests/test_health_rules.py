"""The health check's backup and data-source verdicts on real files: backups of the configured store's kind only
(a PostgreSQL store with only SQLite backups of an earlier setup is a failure naming .dump), the copy off the
volume counted when BACKUP_COPY_COMMAND is set, simulated data a failure outside the demo."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.config import load_settings
from pipeline.jobs.backup_copy import copy_off
from pipeline.jobs.health_rules import backup_verdict, source_verdict

NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)
DAY = timedelta(days=2)
PG = "postgresql+psycopg://football:pw@127.0.0.1:5432/football"


def settings(tmp_path: Path, **env):
    base = {"BACKUP_DIR": str(tmp_path / "backups"), "DATABASE_URL": f"sqlite:///{tmp_path / 'predictions.db'}"}
    return load_settings({**base, **env}, dotenv=Path(os.devnull))


def write(tmp_path: Path, *names: str) -> list[Path]:
    d = tmp_path / "backups"
    d.mkdir(exist_ok=True)
    for n in names:
        (d / n).write_bytes(b"x")
    return [d / n for n in names]


def test_a_postgresql_store_with_only_sqlite_backups_fails_naming_the_dump(tmp_path):
    write(
        tmp_path, "predictions_20260120_040000.db", "predictions_20260120_040000.sql", "models_20260120_040000.tar.gz"
    )
    ok, detail = backup_verdict(settings(tmp_path, DATABASE_URL=PG), NOW, DAY)
    assert not ok
    wanted = f"no PostgreSQL dump (predictions_*.dump) backup in {tmp_path / 'backups'}"
    assert detail == f"{wanted} (only .db, .sql files of another store's kind)"
    write(tmp_path, "predictions_20260120_041000.dump")
    ok, detail = backup_verdict(settings(tmp_path, DATABASE_URL=PG), NOW, DAY)
    assert ok and detail == "Latest backup: 2026-01-20 04:10:00 (predictions_20260120_041000.dump)"


def test_a_sqlite_store_wants_its_db_copy_and_a_recent_one(tmp_path):
    write(tmp_path, "predictions_20260101_040000.dump")
    ok, detail = backup_verdict(settings(tmp_path), NOW, DAY)
    assert not ok and "no SQLite store (predictions_*.db) backup" in detail and ".dump" in detail
    write(tmp_path, "predictions_20260110_040000.db")
    ok, detail = backup_verdict(settings(tmp_path), NOW, DAY)
    assert not ok and detail.endswith("is older than 2 days")
    write(tmp_path, "predictions_20260120_040000.db")
    assert backup_verdict(settings(tmp_path), NOW, DAY)[0]


def test_the_copy_off_the_volume_counts(tmp_path):
    (newest,) = write(tmp_path, "predictions_20260120_040000.db")
    remote = tmp_path / "remote"
    remote.mkdir()
    st = settings(tmp_path, BACKUP_COPY_COMMAND=f'cp "$1" {remote}/')
    ok, detail = backup_verdict(st, NOW, DAY)
    assert not ok and "was not copied off (BACKUP_COPY_COMMAND" in detail
    assert copy_off(st.backup_copy_command, [newest], st.backup_dir) is None
    ok, detail = backup_verdict(st, NOW, DAY)
    assert ok and detail.endswith(", copied off")
    # a newer backup whose copy failed is the one that counts
    (failed,) = write(tmp_path, "predictions_20260120_050000.db")
    assert copy_off("exit 1", [failed], st.backup_dir) is not None
    assert not backup_verdict(st, NOW, DAY)[0]


def test_simulated_data_fails_outside_the_demo(tmp_path):
    st = settings(tmp_path)
    ok, detail = source_verdict(st)
    assert not ok and "DATA_SOURCE=sandbox: simulated" in detail
    assert source_verdict(dataclasses.replace(st, deployment="demo")) == (
        True,
        "Data source: sandbox (simulated, the demo)",
    )
    assert source_verdict(dataclasses.replace(st, data_source="football-data"))[0]


def health_lines(env: dict) -> tuple[int, list[str]]:
    from conftest import invoke_command

    r = invoke_command("health_check", ["--quiet"], env)
    return r.exit_code, [ln for ln in r.stdout.splitlines() if ln.strip()]


def test_the_health_check_on_postgresql_with_only_sqlite_backups_fails_its_backup_line(pg_url, tmp_path):
    from conftest import make_env

    alert = tmp_path / "alert.txt"
    env = make_env(tmp_path, DATABASE_URL=pg_url, ALERT_COMMAND=f"cat > {alert}")
    write(tmp_path, "predictions_20260120_040000.db", "predictions_20260120_040000.sql")
    code, lines = health_lines(env)
    assert code == 1
    (backup,) = [ln for ln in lines if ln.startswith("❌ backup:")]
    assert "no PostgreSQL dump (predictions_*.dump) backup" in backup and ".db, .sql" in backup
    assert backup in alert.read_text()


def test_the_health_check_fails_on_simulated_data_outside_the_demo(tmp_path):
    from conftest import create_store, make_env

    env = make_env(tmp_path, DEPLOYMENT="development")
    create_store(env)
    code, lines = health_lines(env)
    assert code == 1 and any(ln.startswith("❌ data source: DATA_SOURCE=sandbox: simulated") for ln in lines)
    code, lines = health_lines({**env, "DEPLOYMENT": "demo"})
    assert not any(ln.startswith("❌ data source") for ln in lines)
