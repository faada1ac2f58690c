"""The backup job as an operator meets it: its files are not world-readable, BACKUP_COPY_COMMAND copies each new
backup off the volume (a failing copy fails the run with one line naming the file), `--restore x.sql` names the
`sqlite3 <` route, and a failed run's summary never reads "nothing to do"."""

from __future__ import annotations

import json
import stat

from conftest import create_store, invoke_command, make_env


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backups_are_private(tmp_path):
    env = make_env(tmp_path)
    create_store(env)
    r = invoke_command("backup", ["--quiet"], env)
    assert r.exit_code == 0, r.output
    backups = tmp_path / "backups"
    files = [p for p in backups.iterdir() if p.name.startswith("predictions_")]
    assert {p.suffix for p in files} == {".db", ".sql"}
    assert mode(backups) == 0o700
    assert all(mode(p) == 0o600 for p in backups.iterdir()), {p.name: oct(mode(p)) for p in backups.iterdir()}


def test_the_copy_command_copies_every_new_backup_off_the_volume(tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    env = make_env(tmp_path, BACKUP_COPY_COMMAND=f'cp "$1" {remote}/')
    create_store(env)
    r = invoke_command("backup", ["--quiet"], env)
    assert r.exit_code == 0, r.output
    made = sorted(p.name for p in (tmp_path / "backups").iterdir() if p.name != "copied.json")
    assert sorted(p.name for p in remote.iterdir()) == made
    assert sorted(json.loads((tmp_path / "backups" / "copied.json").read_text())) == made


def test_a_failing_copy_fails_the_backup_with_one_line(tmp_path):
    env = make_env(tmp_path, BACKUP_COPY_COMMAND='echo "bucket says 403" >&2; exit 22')
    create_store(env)
    r = invoke_command("backup", ["--quiet"], env)
    assert r.exit_code == 70, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "BACKUP_COPY_COMMAND failed for predictions_" in line and "(exit 22): bucket says 403" in line
    # the backup itself is there, and the health check's verdict says it was not copied
    assert any(p.suffix == ".db" for p in (tmp_path / "backups").iterdir())


def test_restoring_an_sql_dump_names_the_sqlite3_route(tmp_path):
    env = make_env(tmp_path)
    create_store(env)
    assert invoke_command("backup", ["--quiet"], env).exit_code == 0
    (dump,) = (tmp_path / "backups").glob("predictions_*.sql")
    r = invoke_command("backup", ["--restore", str(dump), "--quiet"], env)
    assert r.exit_code == 78, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert f"sqlite3 NEW.db < {dump}" in line and "predictions_" in line


def test_a_failed_run_does_not_say_nothing_to_do(tmp_path):
    env = make_env(tmp_path)
    create_store(env)
    r = invoke_command("backup", ["--restore", str(tmp_path / "missing.db"), "--quiet"], env)
    assert r.exit_code == 78
    log = (tmp_path / "logs" / "backup.log").read_text()
    (summary,) = [ln for ln in log.splitlines() if "backup failed in" in ln]
    assert "nothing to do" not in summary and summary.endswith("nothing done")
