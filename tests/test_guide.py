"""The production guide's operator commands, typed as the guide (../shared/docs/production-guide.md) types them,
in a fresh clone of this repository: the crontab's lines under `env -i` (cron's empty environment), the set-up
step `PredictionDatabase()`, the monitoring commands (logs, sqlite3 on production/predictions.db, the health
check), the manual rollback `cp models/backup_X/*.joblib models/` followed by the jobs, and the `.sql` restore.

The clone is what `git clone` gives (tracked and new files, nothing ignored: no logs/, no models, no store) plus
`.venv`, a virtual environment that sees this one's packages and the clone itself (what `python3 -m venv .venv &&
.venv/bin/pip install -r requirements.txt` makes, `-e .` included, without the download). Its `.env` makes
training small (HISTORY_YEARS, VALIDATION_MATCHES) so the jobs run for real in a minute or two.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow  # the jobs train for real (small) in a fresh clone
VENV = Path(sys.prefix)
SMALL_TRAINING = "HISTORY_YEARS=1.2\nVALIDATION_MATCHES=200\n"
JOBS = ("weekly_training", "hourly_predictions", "lineup_updates", "results_settlement", "backup", "health_check")


def fresh_clone(dest: Path) -> Path:
    """The files `git clone` would give (the working tree's versions of them), and a .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        src = ROOT / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest / ".venv")], check=True)
    site = next((dest / ".venv").glob("lib/python*/site-packages"))
    # the requirements are this venv's; `-e .` is the clone (this venv's own `-e .` names another checkout)
    (site / "requirements.pth").write_text(f"{next(VENV.glob('lib/python*/site-packages'))}\n{dest}\n")
    return dest


def crontab(root: Path) -> tuple[dict, list[str]]:
    """crontab.example with /opt/football replaced by the clone: its variables and its commands, in order."""
    env, commands = {}, []
    for line in (root / "crontab.example").read_text().replace("/opt/football", str(root)).splitlines():
        if line.strip() and not line.startswith("#"):
            name, eq, value = line.partition("=")
            if eq and name.isidentifier():
                env[name] = value
            else:
                commands.append(line.split(None, 5)[5])  # after the five schedule fields
    return env, commands


def sh(command: str, env: dict, cwd: Path | None = None, timeout: float = 1200) -> subprocess.CompletedProcess:
    """`command` as cron runs it: /bin/sh -c in an empty environment plus the crontab's variables (and the HOME and
    LOGNAME cron sets)."""
    home = env.get("HOME") or str(Path(env["PATH"].split(":")[0]).parent.parent.parent / "home")  # beside the clone
    Path(home).mkdir(exist_ok=True)
    args = [
        "env",
        "-i",
        f"HOME={home}",
        "LOGNAME=operator",
        *[f"{k}={v}" for k, v in env.items() if k != "HOME"],
        "/bin/sh",
        "-c",
        command,
    ]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def line_for(commands: list[str], job: str) -> str:
    return next(c for c in commands if f"production/{job}.py" in c)


def query(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def versions_snapshot(models: Path) -> dict:
    return {str(p.relative_to(models)): p.read_bytes() for p in sorted((models / "versions").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh clone on which every crontab line has run once, in the crontab's order, under env -i."""
    root = fresh_clone(tmp_path_factory.mktemp("clone") / "football")
    assert not (root / "logs").exists() and not (root / "predictions.db").exists()
    alerts = root.parent / "alerts.txt"
    (root / ".env").write_text(SMALL_TRAINING + f'ALERT_COMMAND="cat >> {alerts}"\n')
    env, commands = crontab(root)
    ran = {c: sh(c, env) for c in commands}
    return root, env, commands, ran


def test_every_crontab_line_works_from_a_fresh_clone_under_env_i(installed):
    root, env, commands, ran = installed
    for command, r in ran.items():
        assert "Directory nonexistent" not in r.stderr and "not found" not in r.stderr, (command, r.stderr)
    assert len(ran) == len(JOBS)
    for job in JOBS[:-1]:
        r = ran[line_for(commands, job)]
        assert r.returncode == 0, (job, r.stderr, (root / "logs" / f"{job}.cron.log").read_text())
        assert (root / "logs" / f"{job}.cron.log").is_file()  # cron's output, appended
        assert f"{job} success" in (root / "logs" / f"{job}.log").read_text()  # the job's own log
    health = ran[line_for(commands, "health_check")]
    # silent while healthy; when not, only the failing checks (what cron mails)
    assert (health.returncode, health.stdout) == (0, "") or (
        health.returncode == 1 and all(ln.startswith("❌") for ln in health.stdout.splitlines())
    )
    assert query(root / "predictions.db", "SELECT COUNT(*) FROM model_versions WHERE action = 'deploy'") == [(1,)]


def test_a_failing_health_check_reaches_cron_mail_and_the_alert_command(installed):
    root, env, commands, _ = installed
    line = line_for(commands, "health_check")
    model = root / "models" / "stacking_ensemble.joblib"
    original = model.read_bytes()
    try:
        model.write_bytes(original + b"damage")
        r = sh(line, env)
    finally:
        model.write_bytes(original)
    assert r.returncode == 1
    assert r.stdout.startswith("❌ models:") and "✅" not in r.stdout  # on stdout: cron mails it to MAILTO
    assert "❌ models:" in (root.parent / "alerts.txt").read_text()  # and ALERT_COMMAND got it on stdin


def test_what_cron_appends_is_rotated_by_the_job(installed):
    root, env, commands, _ = installed
    cron_log = root / "logs" / "hourly_predictions.cron.log"
    cron_log.write_bytes(b"x" * 6_000_000)
    assert sh(line_for(commands, "hourly_predictions"), env).returncode == 0
    rotated = root / "logs" / "hourly_predictions.cron.log.1"
    assert rotated.stat().st_size >= 6_000_000 and not cron_log.exists()
    assert sh(line_for(commands, "hourly_predictions"), env).returncode == 0
    assert cron_log.is_file() and cron_log.stat().st_size < 1_000_000  # the next run starts a new one


def test_step_3_prediction_database_as_typed_in_production(tmp_path):
    root = fresh_clone(tmp_path / "football")
    env = {"PATH": f"{root / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}  # an activated venv
    r = sh(
        'cd production && python -c "from hourly_predictions import PredictionDatabase; PredictionDatabase()"',
        env,
        cwd=root,
    )
    assert r.returncode == 0, r.stderr
    tables = {t for (t,) in query(root / "predictions.db", "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"predictions", "bets", "results", "lineup_updates"} <= tables
    # the guide's `sqlite3 production/predictions.db` and the README's `sqlite3 predictions.db` are one store
    assert (root / "production" / "predictions.db").resolve() == (root / "predictions.db").resolve()


def test_the_guides_monitoring_commands(installed):
    root, env, commands, _ = installed
    queries = [
        'sqlite3 production/predictions.db "SELECT * FROM predictions ORDER BY prediction_time DESC LIMIT 10;"',
        '''sqlite3 production/predictions.db "
SELECT
  bet_outcome,
  COUNT(*) as total_bets,
  SUM(CASE WHEN result = 'win' THEN 1 ELSE 0 END) as wins,
  SUM(stake) as total_staked,
  SUM(profit_loss) as net_profit,
  (SUM(profit_loss) / SUM(stake) * 100) as roi
FROM bets
WHERE status = 'settled'
GROUP BY bet_outcome;
"''',
        'sqlite3 production/predictions.db "SELECT MAX(prediction_time) FROM predictions;"',
        'sqlite3 production/predictions.db ".timeout 5000"',
        "ls -lh models/*.joblib",
        "tail -100 logs/weekly_training.log",  # the README's place for the guide's /var/log/... files
        "grep ERROR logs/*.log",
    ]
    sh("cd production && python health_check.py --now 2099-01-01", env, cwd=root)  # an ERROR to find
    for command in queries:
        r = sh(command, env, cwd=root)
        assert r.returncode == 0 and not r.stderr, (command, r.stderr)
    latest = sh(queries[2], env, cwd=root).stdout.strip()
    assert latest == query(root / "predictions.db", "SELECT MAX(prediction_time) FROM predictions")[0][0]
    r = sh("cd production && python health_check.py", env, cwd=root)
    lines = r.stdout.splitlines()
    assert "✅ Models loaded successfully" in lines and "✅ Database accessible" in lines
    assert len({ln.split(":")[0] for ln in lines}) == len(lines)  # each check once


def test_the_guides_log_directory_spelling(installed, tmp_path):
    """LOG_DIR=/var/log/football-predictions gives the guide's file names (weekly_training.log...) and its crontab
    lines work as typed with the crontab's PATH."""
    root, env, _, _ = installed
    var_log = tmp_path / "var" / "log" / "football-predictions"
    var_log.mkdir(parents=True)  # the guide's step 1: mkdir -p /var/log/football-predictions
    dotenv = (root / ".env").read_text()
    try:
        (root / ".env").write_text(dotenv + f"LOG_DIR={var_log}\n")
        for line in (
            f"cd {root}/production && python weekly_training.py >> {var_log}/weekly.log 2>&1",
            f"cd {root}/production && python hourly_predictions.py >> {var_log}/hourly.log 2>&1",
        ):
            r = sh(line, env)
            assert r.returncode == 0, (line, (var_log / "weekly.log").read_text())
        r = sh(f"cd {root}/production && python health_check.py --now 2099-01-01", env)
        assert r.returncode == 1  # something to grep for
        r = sh(f"timeout 3 tail -f {var_log}/weekly_training.log", env)
        assert "weekly_training" in r.stdout and "INFO" in r.stdout
        r = sh(f"tail -100 {var_log}/hourly_predictions.log", env)
        assert "hourly_predictions success" in r.stdout
        r = sh(f"grep ERROR {var_log}/*.log", env)
        assert r.returncode == 0 and "health_check failed" in r.stdout
    finally:
        (root / ".env").write_text(dotenv)


def test_manual_cp_rollback_then_hourly_health_and_rollback_leave_a_working_recorded_set(installed):
    root, env, commands, _ = installed
    db, models = root / "predictions.db", root / "models"
    typed = {"PATH": env["PATH"]}
    dotenv = (root / ".env").read_text()
    (root / ".env").write_text(dotenv + "DC_XI=0.003\n")  # a changed setting: a different set (same data)
    try:
        r = sh("cd production && python weekly_training.py --force-deploy", typed, cwd=root)  # the manual trigger
    finally:
        (root / ".env").write_text(dotenv)
    assert r.returncode == 0, r.stderr
    r = sh("ls -lt models/backup_*/", typed, cwd=root)
    assert r.returncode == 0 and "stacking_ensemble.joblib" in r.stdout
    backup = next(models.glob("backup_*"))
    deployed_at = json.loads((models / "metadata.json").read_text())["deployed_at"]
    r = sh("stat models/stacking_ensemble.joblib", typed, cwd=root)
    assert r.returncode == 0 and "regular file" in r.stdout  # not a symlink's own date
    deployed = datetime.fromisoformat(deployed_at).timestamp()
    assert abs((models / "stacking_ensemble.joblib").stat().st_mtime - deployed) < 1
    before = versions_snapshot(models)
    assert (backup / "xgboost.joblib").read_bytes() != (models / "xgboost.joblib").read_bytes()
    r = sh(f"cp models/{backup.name}/*.joblib models/", typed, cwd=root)  # the guide's rollback
    assert r.returncode == 0 and versions_snapshot(models) == before
    r = sh(line_for(commands, "hourly_predictions"), env)
    assert r.returncode == 0, (root / "logs" / "hourly_predictions.cron.log").read_text()
    (row,) = query(db, "SELECT version, backup_path, notes FROM model_versions WHERE action = 'manual_rollback'")
    assert row[1].endswith(backup.name) and backup.name in row[2]
    counts = json.loads(
        query(db, "SELECT counts FROM job_runs WHERE job = 'hourly_predictions' ORDER BY id DESC LIMIT 1")[0][0]
    )
    assert counts.get("manual_rollback") == 1
    r = sh("cd production && python health_check.py", typed, cwd=root)
    assert "✅ Models loaded successfully" in r.stdout.splitlines(), r.stdout
    r = sh("cd production && python weekly_training.py --rollback", typed, cwd=root)
    assert r.returncode == 0, r.stderr
    assert sh(line_for(commands, "hourly_predictions"), env).returncode == 0
    actions = [a for (a,) in query(db, "SELECT action FROM model_versions ORDER BY id")]
    assert actions[-2:] == ["manual_rollback", "rollback"]
    after = versions_snapshot(models)
    assert all(after[k] == v for k, v in before.items())  # no version ever changed
    assert len(query(db, "SELECT * FROM model_versions WHERE action = 'manual_rollback'")) == 1


def test_the_sql_dump_restores_as_documented(installed):
    root, env, commands, _ = installed
    assert sh(line_for(commands, "backup"), env).returncode == 0
    dump = sorted((root / "backups").glob("predictions_*.sql"))[-1]
    saved = dump.with_suffix(".db")
    assert sh(line_for(commands, "hourly_predictions"), env).returncode == 0
    sh(
        f"{root}/.venv/bin/python -c \"import sqlite3; c = sqlite3.connect('predictions.db'); "
        "c.execute('DELETE FROM bets'); c.commit()\"",
        env,
        cwd=root,
    )  # rows the restore must bring back
    r = sh(f"sqlite3 predictions.db < backups/{dump.name}", env, cwd=root)  # the README's command, as typed
    assert r.returncode == 0 and not r.stderr, r.stderr
    for table in ("predictions", "bets", "job_runs", "model_versions", "alembic_version"):
        assert query(root / "predictions.db", f"SELECT * FROM {table} ORDER BY 1") == query(
            saved, f"SELECT * FROM {table} ORDER BY 1"
        ), table
    assert query(root / "predictions.db", "PRAGMA integrity_check") == [("ok",)]
    r = sh(line_for(commands, "results_settlement"), env)  # the jobs carry on from it
    assert r.returncode == 0, (root / "logs" / "results_settlement.cron.log").read_text()
    # the README's route for a damaged file: rebuild from the dump into a new file, restore that
    (root / "predictions.db").write_bytes(b"\0" * 4096)
    typed = {"PATH": env["PATH"]}
    r = sh(f"sqlite3 restored.db < backups/{dump.name}", typed, cwd=root)
    assert r.returncode == 0 and not r.stderr, r.stderr
    r = sh("python production/backup.py --restore restored.db", typed, cwd=root)
    assert r.returncode == 0, r.stderr
    bets = "SELECT * FROM bets ORDER BY 1"
    assert query(root / "predictions.db", bets) == query(saved, bets)


# ---- the README's demo command in a fresh clone, beside an operator's settings -----------------------------------

HOSTILE_DOTENV = (
    "VALIDATION_MATCHES=5000\nDATA_SOURCE=football-data\nFOOTBALL_DATA_DIR=/nonexistent\n"
    "MODEL_DIR=/nonexistent/models\nALERT_COMMAND=exit 3\n"
)


def test_the_demo_ignores_the_operators_settings(tmp_path):
    root = fresh_clone(tmp_path / "football")
    (root / ".env").write_text(HOSTILE_DOTENV)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MIN_EDGE": "0.99", "STARTING_BANKROLL": "5"}
    # the README's command, one simulated day (the whole default run is timed in BENCHMARKS.md)
    r = sh(".venv/bin/python production/demo.py --days 1", env, cwd=root)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "with 0 failed job runs" in r.stdout
    bets = [int(m) for m in re.findall(r", bets (\d+),", r.stdout)]
    assert bets and bets[-1] > 0  # MIN_EDGE=0.99 would have placed none
    workdir = Path(re.search(r"working in (\S+)", r.stdout).group(1))
    assert not workdir.exists()  # a temporary directory, removed


def test_a_failed_demo_keeps_the_files_it_points_to(tmp_path):
    root = fresh_clone(tmp_path / "football")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = sh(".venv/bin/python production/demo.py --start 2000-08-10T00:00 --days 1", env, cwd=root)
    assert r.returncode != 0
    log = Path(re.search(r"see the log in (\S+)", r.stdout).group(1))
    assert log.is_file() and "only 0 finished matches" in log.read_text()
    shutil.rmtree(log.parent.parent)
