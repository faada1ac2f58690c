"""Misconfiguration an operator makes, each one line and exit 78 from every script: the wrong interpreter (a real
`python3 -I` without the virtual environment), an `.env` the job's user may not read (a real process as another
user), and league codes the source does not know; a known league without data is a warning line."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FOOTBALL_DATA, ROOT, invoke_command, make_env, needs_shared

from pipeline.config import ConfigError, load_settings
from pipeline.leagues import FOOTBALL_DATA_DIVISIONS, nearest
from pipeline.providers import get_provider
from pipeline.providers.base import FINISHED, Batch, Match
from pipeline.providers.coverage import league_gaps

SCRIPTS = sorted(p.name for p in (ROOT / "production").glob("*.py") if not p.name.startswith("_"))
# the scripts that read the settings (container.py prints help; the demo sets every setting itself); the health
# check turns a failure to read them into its alarm, exit 1 (tests/test_health_alarm.py)
SETTINGS_SCRIPTS = [s for s in SCRIPTS if s not in ("container.py", "demo.py", "health_check.py")]
BACKTEST_ARGS = ["--data-dir", str(ROOT), "--from", "2020-07-01", "--to", "2021-06-30"]


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def script_args(script: str) -> list[str]:
    """What each script needs to reach its settings (bets.py is a command group: a subcommand)."""
    return {"backtest.py": BACKTEST_ARGS, "bets.py": ["list"]}.get(script, [])


# ---- the wrong interpreter -------------------------------------------------------------------------------------------


def bare_python() -> str:
    """The interpreter the virtual environment was made from: the system's python3, without the venv's packages."""
    return getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_wrong_interpreter_is_one_line_naming_the_venv_and_exit_78(script, tmp_path):
    # -I: no PYTHONPATH, no user site, no script directory on sys.path; -S: no site-packages at all
    r = subprocess.run(
        [bare_python(), "-I", "-S", str(ROOT / "production" / script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 78, r.stderr
    (line,) = lines(r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert script in line and str(ROOT / ".venv") in line and "pipeline" in line


def test_the_wrong_interpreter_from_the_production_directory_with_a_relative_path(tmp_path):
    r = subprocess.run(
        [bare_python(), "-I", "-S", "hourly_predictions.py", "--help"],
        cwd=ROOT / "production",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 78 and len(lines(r.stderr)) == 1 and "hourly_predictions.py" in r.stderr


def test_the_check_finds_what_is_missing_and_passes_in_the_venv(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "production"))
    import _venv_check

    assert _venv_check.missing(("json", "no_such_package_here")) == ["no_such_package_here"]
    assert _venv_check.problem() is None  # this interpreter has everything
    assert "bin/python" in _venv_check.message("x.py", "has no click") or "python3 -m venv" in _venv_check.message(
        "x.py", "has no click"
    )


# ---- an .env the job's user may not read ---------------------------------------------------------------------------


def other_user() -> list[str]:
    """A command prefix running as a user who may not read root's 0600 files (as root: `nobody`, via setpriv)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot run a job as another user")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def checkout_with_private_env():
    """A copy of the code (pipeline/, production/) with a `.env` of mode 0600 that the job's user may not read, in a
    directory that user may enter."""
    top = Path(tempfile.mkdtemp(prefix="football-env-"))
    try:
        top.chmod(0o755)
        for part in ("pipeline", "production"):
            shutil.copytree(ROOT / part, top / part, ignore=shutil.ignore_patterns("__pycache__"))
        env_file = top / ".env"
        env_file.write_text("DATA_SOURCE=sandbox\nALERT_COMMAND=cat\n")
        env_file.chmod(0o600 if os.geteuid() == 0 else 0o000)
        state = top / "state"
        state.mkdir()
        state.chmod(0o777)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_an_unreadable_env_is_one_line_naming_it_and_its_owner_from_every_script(checkout_with_private_env):
    top = checkout_with_private_env
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DATA_SOURCE"))}
    env.update(make_env(top / "state"))
    for key in ("DATA_SOURCE", "DATABASE_URL"):  # the settings the .env holds: the job must read it
        env.pop(key)
    env.update(PYTHONPATH=str(top), HOME=str(top / "state"), MPLCONFIGDIR=str(top / "state" / "mpl"))
    procs = {
        script: subprocess.Popen(
            [*other_user(), sys.executable, str(top / "production" / script), *script_args(script)],
            cwd=top / "state",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in SETTINGS_SCRIPTS
    }
    owner = "root" if os.geteuid() == 0 else os.environ.get("USER", "")
    for script, p in procs.items():
        out, err = p.communicate(timeout=120)
        assert p.returncode == 78, (script, err)
        (line,) = lines(err)
        assert str(top / ".env") in line and "Permission denied" in line, (script, line)
        assert f"owner {owner}" in line and "mode 0600" in line or os.geteuid() != 0, (script, line)
        assert "Traceback" not in err


def test_every_setting_in_the_environment_leaves_the_env_file_unread(tmp_path):
    from pipeline.config import default_environment

    private = tmp_path / "not-a-file.env"
    private.mkdir()  # reading it would fail: a directory
    (private / "x").write_text("")
    # nothing to read for a missing file or a directory in its place; a full environment never looks
    assert load_settings({}, dotenv=tmp_path / "missing.env").data_source == "sandbox"
    assert load_settings(default_environment(), dotenv=private).data_source == "sandbox"


def test_env_file_settings_still_apply(tmp_path):
    f = tmp_path / ".env"
    f.write_text("FOOTBALL_DATA_LEAGUES=E0,I1\n# a comment\nMIN_EDGE=0.04\n")
    s = load_settings({}, dotenv=f)
    assert s.football_data_leagues == ("E0", "I1") and s.min_edge == 0.04


# ---- league codes --------------------------------------------------------------------------------------------------

JOB_COMMANDS = {
    "weekly_training": [],
    "hourly_predictions": [],
    "lineup_updates": [],
    "results_settlement": [],
    "backup": [],
    "report": [],
    "migrate": [],
    "backtest": BACKTEST_ARGS,
}


@pytest.mark.parametrize("job", JOB_COMMANDS)
@pytest.mark.parametrize(
    "leagues,unknown,suggested",
    [("EO,D1", "'EO'", "E0"), ("e0", "'e0'", "E0"), ("E0,SP9", "'SP9'", "SP1")],
)
def test_an_unknown_league_code_is_one_line_and_exit_78_on_every_job(job, leagues, unknown, suggested, tmp_path):
    env = make_env(tmp_path, FOOTBALL_DATA_LEAGUES=leagues)
    r = invoke_command(job, [*JOB_COMMANDS[job]], env)
    assert r.exit_code == 78, r.output
    (line,) = lines(r.stderr)
    assert f"FOOTBALL_DATA_LEAGUES: unknown football-data league code {unknown}" in line
    assert f"nearest: {suggested}" in line


def test_a_code_in_the_wrong_case_is_refused_not_normalised():
    with pytest.raises(ConfigError, match=r"'sp1' \(codes are case-sensitive\); nearest: SP1"):
        load_settings({"FOOTBALL_DATA_LEAGUES": "E0,sp1"}, dotenv=Path(os.devnull))


def test_nearest_codes():
    assert nearest("EO", FOOTBALL_DATA_DIVISIONS)[0] == "E0"
    assert nearest("DI", FOOTBALL_DATA_DIVISIONS)[0] == "D1"
    assert nearest("SC", FOOTBALL_DATA_DIVISIONS)[0] == "SC0"
    assert nearest("ZZZZZZ", FOOTBALL_DATA_DIVISIONS) == []


def test_sportmonks_league_ids_are_numbers():
    base = {"DATA_SOURCE": "sportmonks", "SPORTMONKS_API_KEY": "k" * 12}
    assert load_settings({**base, "SPORTMONKS_LEAGUES": "8, 564"}, dotenv=Path(os.devnull)).sportmonks_leagues == (
        "8",
        "564",
    )
    with pytest.raises(ConfigError, match="SPORTMONKS_LEAGUES: 'premier-league' is not a Sportmonks league id"):
        load_settings({**base, "SPORTMONKS_LEAGUES": "8,premier-league"}, dotenv=Path(os.devnull))


def match(league: str, day: int) -> Match:
    when = datetime(2024, 3, 1, 15, tzinfo=UTC) + timedelta(days=day)
    return Match(f"{league}-{day}", league, "2324", when, "A", "B", status=FINISHED, home_goals=1, away_goals=0)


def test_league_gaps_name_a_league_without_data_unless_a_break_explains_it():
    end = datetime(2024, 3, 15, tzinfo=UTC)
    week = end - timedelta(days=14)
    both = Batch(matches=[match("E0", 1), match("E0", 2)])
    (line,) = league_gaps(both, "FOOTBALL_DATA_LEAGUES", ("E0", "SP2"), week, end)
    assert line.startswith("FOOTBALL_DATA_LEAGUES: no finished match of SP2 from 2024-03-01 to 2024-03-15")
    assert "E0 2" in line
    # two weeks without any league playing: a break, no line; a season without one: a line per league
    assert league_gaps(Batch(), "X", ("E0", "SP2"), week, end) == []
    assert len(league_gaps(Batch(), "X", ("E0", "SP2"), end - timedelta(days=365), end)) == 2
    assert len(league_gaps(Batch(), "X", ("E0",), None, end)) == 1
    assert league_gaps(both, "X", ("E0",), week, end) == []


@needs_shared()
def test_a_known_league_without_files_is_a_warning_from_the_production_provider(tmp_path, caplog):
    """E0,SP2 on the real files (which hold E0, not SP2): the provider every job gets names SP2 in a warning."""
    settings = load_settings(
        make_env(
            tmp_path, DATA_SOURCE="football-data", FOOTBALL_DATA_DIR=str(FOOTBALL_DATA), FOOTBALL_DATA_LEAGUES="E0,SP2"
        ),
        dotenv=Path(os.devnull),
    )
    provider = get_provider(settings)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    with caplog.at_level(logging.WARNING):
        batch = provider.history(datetime(2023, 7, 1, tzinfo=UTC), now, now)
    assert {m.league for m in batch.matches} == {"E0"} and len(batch.matches) == 380
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no finished match of SP2 from 2023-07-01" in warnings[0]
    assert "E0 380" in warnings[0]


def test_the_copy_a_restore_keeps_is_ignored_by_git():
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    r = subprocess.run(
        ["git", "check-ignore", "--no-index", "predictions.db.before_restore_20260101_040000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and r.stdout.strip() == "predictions.db.before_restore_20260101_040000"


@needs_shared()
def test_weekly_training_dry_run_names_a_configured_league_without_data(tmp_path):
    """`E0,SP2 weekly_training.py --dry-run` on a copy of two seasons of real E0 files (no SP2 file): one warning
    line names SP2, the run itself goes on."""
    data = tmp_path / "data"
    for season in ("2223", "2324"):
        (data / "mmz4281" / season).mkdir(parents=True)
        shutil.copy2(FOOTBALL_DATA / "mmz4281" / season / "E0.csv", data / "mmz4281" / season / "E0.csv")
    header = (data / "mmz4281" / "2324" / "E0.csv").read_text().splitlines()[0]
    (data / "fixtures.csv").write_text(header + "\n")
    env = make_env(
        tmp_path,
        DATA_SOURCE="football-data",
        FOOTBALL_DATA_DIR=str(data),
        FOOTBALL_DATA_LEAGUES="E0,SP2",
        VALIDATION_MATCHES="100",
    )
    r = invoke_command("weekly_training", ["--dry-run", "--now", "2024-06-01T12:00", "--quiet"], env)
    assert r.exit_code == 0, r.output
    (line,) = [ln for ln in lines(r.stderr) if "WARNING" in ln]
    assert "FOOTBALL_DATA_LEAGUES: no finished match of SP2" in line and "E0 760" in line
