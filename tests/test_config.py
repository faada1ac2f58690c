import os
from pathlib import Path

import pytest

from pipeline.config import ROOT, ConfigError, load_settings, setting_names

NO_DOTENV = Path("/nonexistent")


def test_defaults():
    s = load_settings({}, dotenv=NO_DOTENV)
    assert s.database_url == f"sqlite:///{ROOT / 'predictions.db'}"
    assert s.data_source == "sandbox"
    assert (s.max_log_loss, s.min_accuracy, s.max_brier) == (1.05, 0.50, 0.60)
    assert s.model_dir == ROOT / "models"


@pytest.mark.parametrize(
    "env,fragment",
    [
        ({"DATA_SOURCE": "betfair"}, "DATA_SOURCE"),
        ({"DATA_SOURCE": "sportmonks"}, "SPORTMONKS_API_KEY"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite://"}, "DATABASE_URL"),
        ({"MAX_LOG_LOSS": "-1"}, "MAX_LOG_LOSS"),
        ({"MIN_ACCURACY": "1.5"}, "MIN_ACCURACY"),
        ({"MAX_BRIER": "abc"}, "MAX_BRIER"),
        ({"KELLY_FRACTION": "0"}, "KELLY_FRACTION"),
        ({"SPORTMONKS_BASE_URL": "ftp://x"}, "SPORTMONKS_BASE_URL"),
        ({"VALIDATION_MATCHES": "ten"}, "VALIDATION_MATCHES"),
        ({"MIN_ODDS": "5", "MAX_ODDS": "4"}, "MIN_ODDS"),
    ],
)
def test_invalid_settings_name_the_setting(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env, dotenv=NO_DOTENV)


def test_relative_paths_resolve_from_root_not_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings({"DATABASE_URL": "sqlite:///data/p.db", "MODEL_DIR": "m"}, dotenv=NO_DOTENV)
    assert s.database_url == f"sqlite:///{ROOT / 'data/p.db'}"
    assert s.model_dir == ROOT / "m"


def test_dotenv_is_read_and_environment_wins(tmp_path):
    f = tmp_path / ".env"
    f.write_text("DATA_SOURCE=football-data\nMIN_EDGE=0.07\n")
    s = load_settings({"MIN_EDGE": "0.02"}, dotenv=f)
    assert s.data_source == "football-data" and s.min_edge == 0.02


def test_secrets_are_masked():
    s = load_settings(
        {
            "DATABASE_URL": "postgresql://u:hunter22@db/x",
            "SPORTMONKS_API_KEY": "KEY123456",
            "DATA_SOURCE": "sportmonks",
        },
        dotenv=NO_DOTENV,
    )
    assert "hunter22" not in s.safe_database_url and "***" in s.safe_database_url
    assert "KEY123456" not in repr(s)
    assert set(s.secrets()) == {"KEY123456", "hunter22"}
    assert s.database_url.startswith("postgresql+psycopg://")


def test_env_example_documents_every_setting():
    text = (ROOT / ".env.example").read_text()
    missing = [n for n in setting_names() if f"{n}=" not in text]
    assert not missing, f".env.example lacks {missing}"


@pytest.mark.parametrize(
    "env,fragment",
    [
        ({"SHARP_BOOKMAKERS": "Pinacle"}, "SHARP_BOOKMAKERS: unknown bookmaker 'Pinacle'"),
        ({"BET_BOOKMAKERS": "Bet365,Market max"}, "BET_BOOKMAKERS: market aggregates"),
        ({"FAIR_METHOD": "additive"}, "FAIR_METHOD"),
    ],
)
def test_bookmaker_settings_refuse_unknown_names_and_aggregates(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env, dotenv=NO_DOTENV)
    # names are matched ignoring case and punctuation, football-data prefixes too
    s = load_settings({"SHARP_BOOKMAKERS": "pinnacle", "BET_BOOKMAKERS": "B365, william-hill"}, dotenv=NO_DOTENV)
    assert s.sharp_bookmakers == ("Pinnacle",) and s.bet_bookmakers == ("Bet365", "William Hill")


def test_thread_pools_stay_pinned_when_libraries_load_after_the_limit():
    """limit_threads does its work once per setting (the demo runs every job in one process); a library loaded
    afterwards (XGBoost's OpenMP, when the models are first loaded) still gets the pinned count."""
    import subprocess
    import sys

    code = (
        "from pipeline.threads import limit_threads; limit_threads(1); import xgboost; limit_threads(1); "
        "from threadpoolctl import threadpool_info; info = threadpool_info(); "
        "print(sorted({p['internal_api'] for p in info}), {p['num_threads'] for p in info})"
    )
    from pipeline.threads import ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}  # not inherited from this test run
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert "openmp" in out and out.strip().endswith("{1}"), out


def test_job_deadlines_are_the_job_tables_and_job_deadlines_overrides_any_job_the_runner_runs():
    from pipeline.jobs.table import JOBS

    s = load_settings({}, dotenv=NO_DOTENV)
    assert s.job_deadline("hourly_predictions") == JOBS["hourly_predictions"].deadline == 3000
    assert s.job_deadline("no_such_job") == 3600  # a job_runs row of a name the table does not know
    # report and migrate run through the runner, with a deadline: an operator may set it (it was refused)
    s = load_settings({"JOB_DEADLINES": "report=120, migrate=7200,hourly_predictions=3300"}, dotenv=NO_DOTENV)
    assert [s.job_deadline(j) for j in ("report", "migrate", "hourly_predictions", "lineup_updates")] == [
        120,
        7200,
        3300,
        JOBS["lineup_updates"].deadline,
    ]


@pytest.mark.parametrize(
    "value,fragment",
    [
        ("backtest=600", "JOB_DEADLINES: 'backtest' runs without a deadline"),
        ("demo=600", "JOB_DEADLINES: 'demo' runs without a deadline"),
        ("hourly=600", "JOB_DEADLINES: 'hourly' is not a job"),
        ("hourly_predictions", "job=seconds"),
        ("report=0", "JOB_DEADLINES report"),
    ],
)
def test_job_deadlines_name_jobs_of_the_table(value, fragment):
    with pytest.raises(ConfigError, match=fragment) as exc:
        load_settings({"JOB_DEADLINES": value}, dotenv=NO_DOTENV)
    if "is not a job" in fragment or "without" in fragment:  # the names it may use, listed
        assert "migrate" in str(exc.value) and "backtest" not in str(exc.value).split("(")[-1]


def test_the_configuration_loads_the_job_table_and_nothing_else_of_the_jobs():
    """config checks JOB_DEADLINES against the job table (standard library only); the runner, built on the
    configuration, must not load with it (that would be an import cycle)."""
    import subprocess
    import sys

    code = "import sys, pipeline.config; print(sorted(m for m in sys.modules if m.startswith('pipeline.jobs')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['pipeline.jobs', 'pipeline.jobs.table']"


def test_env_example_gives_the_job_tables_deadlines():
    import re

    from pipeline.jobs.table import JOBS

    text = (ROOT / ".env.example").read_text()
    comment = text[: text.index("\nJOB_DEADLINES=")].rsplit("\n\n", 1)[-1]
    listed = {job: float(secs) for job, secs in re.findall(r"(\w+)=(\d+)", comment)}
    assert listed == {j.name: j.deadline for j in JOBS.values() if j.deadline is not None}


def test_markets_are_read_and_an_unknown_one_is_named():
    assert load_settings({"MARKETS": "1x2, ou"}).markets == ("1X2", "OU")
    assert load_settings({}).markets == ("1X2", "OU", "AH")
    with pytest.raises(ConfigError, match="MARKETS: unknown market 'XX'"):
        load_settings({"MARKETS": "1X2,XX"})
