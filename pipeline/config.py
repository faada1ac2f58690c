"""Configuration, read in one place: the environment, then an optional `.env` at the project root.

Every setting, its default and its meaning is listed in `.env.example`. Invalid settings raise ConfigError,
which the job runner turns into one line naming the setting and exit code 78.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.dotenv_file import read_dotenv
from pipeline.errors import ConfigError
from pipeline.guard_settings import SETTING_NAMES as GUARD_SETTING_NAMES
from pipeline.guard_settings import GuardSettings, GuardSettingsError, parse_setting
from pipeline.jobs.table import JOBS
from pipeline.leagues import UnknownLeague, check_football_data, check_sportmonks
from pipeline.markets import MARKETS as MARKET_CODES
from pipeline.setting_values import (
    ROOT,
    as_path,
    bookmakers,
    choice,
    database_url,
    http_url,
    integer,
    items,
    nonempty,
    number,
)

SOURCES = ("sandbox", "football-data", "sportmonks")
DEPLOYMENTS = ("development", "production", "demo")
MARGIN_METHODS = ("multiplicative", "shin", "power")
LEDGER_MODES = ("paper", "confirmed")  # pipeline.betting.ledger: what a recommendation counts as
# What value is measured against: the sharp pre-match price without its margin, or the close model's forecast of
# the sharp close (pipeline.forecast.models.close_model; trained and deployed only when chosen)
FAIR_LINES = ("sharp", "close_model")
# Wall-clock limit of a run of a job the table does not know (a job_runs row of a renamed job, a test's own job):
# the deadlines themselves are the job table's, JOB_DEADLINES overrides them.
OTHER_JOB_DEADLINE = 3600.0
_GUARDS = GuardSettings()  # the price-error guards' defaults are written once, in pipeline.guard_settings


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_source: str = "sandbox"
    sportmonks_api_key: str = field(default="", repr=False)
    sportmonks_base_url: str = "https://api.sportmonks.com/v3/football"
    sportmonks_leagues: tuple[str, ...] = ()
    sportmonks_bookmakers: tuple[str, ...] = ()
    # the two-way markets' ids (not in the shared Sportmonks notes; pipeline.providers.sportmonks_markets)
    sportmonks_market_ou: int = 80  # "Goals Over/Under"
    sportmonks_market_ah: int = 6  # "Asian Handicap"
    football_data_dir: Path | None = None
    football_data_url: str = "https://www.football-data.co.uk"
    football_data_leagues: tuple[str, ...] = ("E0", "D1", "F1", "I1", "SP1")
    sandbox_seed: int = 7
    http_timeout: float = 30.0  # read timeout of one HTTP request, seconds (connect: 5 s)
    http_attempts: int = 4  # tries of one request before the job gives up on the source
    http_deadline: float = 120.0  # wall clock of one request: attempts, waits and the whole body, seconds
    job_deadlines: tuple[tuple[str, float], ...] = ()  # overrides of the job table's deadlines
    model_dir: Path = ROOT / "models"
    backup_dir: Path = ROOT / "backups"
    log_dir: Path = ROOT / "logs"
    lock_dir: Path = ROOT / ".locks"
    cache_dir: Path = ROOT / ".cache"
    # Training and the validation gate
    history_years: float = 25.0
    validation_matches: int = 1000
    dc_xi: float = 0.0019
    max_log_loss: float = 1.05
    min_accuracy: float = 0.50
    max_brier: float = 0.60
    deploy_tolerance: float = 0.005
    keep_model_backups: int = 8
    # The prediction cycle
    prediction_horizon_hours: float = 48.0
    lineup_window_hours: float = 2.0
    margin_method: str = "multiplicative"
    # Value against the sharp line: fair probabilities from SHARP_BOOKMAKERS, bets only at BET_BOOKMAKERS
    sharp_bookmakers: tuple[str, ...] = ("Pinnacle",)
    bet_bookmakers: tuple[str, ...] = ("Bet365", "Bet&Win", "Interwetten", "William Hill", "VC Bet")
    fair_method: str = "power"  # margin removal for the fair line (power: best on 2014-15..2018-19)
    clv_method: str = "shin"  # margin removal for grading bets against the sharp close
    fair_line: str = "sharp"  # sharp: the close model lost to it in the backtest on 2014-15..2018-19 (README)
    # Betting strategy: the bankroll, and the rules (pipeline.betting.strategy.StrategyParams.from_settings)
    starting_bankroll: float = 1000.0
    min_edge: float = 0.02  # against the fair sharp line (issue 13; the backtest's table in BENCHMARKS.md)
    min_odds: float = 1.5
    max_odds: float = 10.0
    min_probability: float = 0.05
    kelly_fraction: float = 0.25
    max_stake_fraction: float = 0.05
    max_match_fraction: float = 0.08
    max_daily_fraction: float = 0.20
    # Price-error guards before staking (pipeline.betting.guards; chosen on 2014-15..2018-19, bench/guards_study.py).
    # None turns a numeric guard off.
    max_edge: float | None = _GUARDS.max_edge
    max_price_ratio: float | None = _GUARDS.max_price_ratio
    sharp_booksum_min: float = _GUARDS.sharp_booksum_min
    sharp_booksum_max: float = _GUARDS.sharp_booksum_max
    max_soft_age_minutes: float | None = _GUARDS.max_soft_age_minutes
    max_sharp_age_minutes: float | None = _GUARDS.max_sharp_age_minutes
    soft_outlier_margin: float | None = _GUARDS.soft_outlier_margin
    soft_outlier_min_books: int = _GUARDS.soft_outlier_min_books
    allow_model_fair: bool = _GUARDS.allow_model_fair
    two_way_max_edge: float | None = _GUARDS.two_way_max_edge
    # What is bet: the match result (1X2), over/under total goals (OU), the Asian handicap (AH)
    markets: tuple[str, ...] = ("1X2", "OU", "AH")
    # Operations
    backup_retention_days: int = 14
    min_free_disk_mb: int = 500
    pending_bet_grace_hours: float = 6.0
    void_after_hours: float = 168.0  # a bet with no final result this long after kick-off is voided
    # Newest result older than this: training does not deploy, the health check fails (a summer break is ~80 days)
    max_data_age_days: float = 90.0
    # Run by the health check when it fails, the failing lines on its stdin (e.g. mail -s "..." ops@example.com)
    alert_command: str = ""
    # Run after a job that placed new bets, one line per new bet on its stdin (a failure is only a warning)
    bet_alert_command: str = ""
    # paper: every recommendation counts as placed; confirmed: only what production/bets.py records as placed
    ledger: str = "paper"
    # Run after each backup with a new backup file as $1 (e.g. curl or rclone to object storage): a copy off the
    # machine or volume; a failing copy fails the backup run
    backup_copy_command: str = ""
    # production: the jobs refuse the simulated sandbox and an SQLite store (the Kubernetes production overlay);
    # demo: the sandbox is expected (the health check fails on simulated data anywhere else)
    deployment: str = "development"
    # BLAS/OpenMP threads per job: cron runs jobs side by side on few cores, so one each by default
    cpu_threads: int = 1

    def secrets(self) -> list[str]:
        """Values that must never appear in output (used by the log filter)."""
        out = [self.sportmonks_api_key] if self.sportmonks_api_key else []
        pw = urlsplit(self.database_url.replace("+psycopg", "")).password
        if pw:
            out.append(pw)
        return [s for s in out if len(s) >= 4]

    @property
    def safe_database_url(self) -> str:
        """The database URL with any password masked, for logs and errors."""
        parts = urlsplit(self.database_url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.database_url

    def job_deadline(self, job: str) -> float:
        """Seconds a run of `job` may take before the runner stops it: JOB_DEADLINES, else the job table's."""
        own = JOBS[job].deadline if job in JOBS else None
        return dict(self.job_deadlines).get(job, OTHER_JOB_DEADLINE if own is None else own)

    @property
    def guards(self) -> GuardSettings:
        """The price-error guards as pipeline.betting.guards takes them."""
        return GuardSettings(**{attr: getattr(self, attr) for attr in GUARD_SETTING_NAMES})

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


# setting name -> (field, parser). Parsers get (name, raw string).
def _parsers():
    f = number
    return {
        "DATABASE_URL": ("database_url", lambda n, v: database_url(v)),
        "DATA_SOURCE": ("data_source", lambda n, v: choice(n, v, SOURCES)),
        "SPORTMONKS_API_KEY": ("sportmonks_api_key", lambda n, v: v.strip()),
        "SPORTMONKS_BASE_URL": ("sportmonks_base_url", lambda n, v: http_url(n, v)),
        "SPORTMONKS_LEAGUES": ("sportmonks_leagues", lambda n, v: _leagues(n, v, check_sportmonks)),
        "SPORTMONKS_BOOKMAKERS": ("sportmonks_bookmakers", lambda n, v: items(v)),
        "SPORTMONKS_MARKET_OU": ("sportmonks_market_ou", lambda n, v: integer(n, v, 1)),
        "SPORTMONKS_MARKET_AH": ("sportmonks_market_ah", lambda n, v: integer(n, v, 1)),
        "FOOTBALL_DATA_DIR": ("football_data_dir", lambda n, v: as_path(v) if v else None),
        "FOOTBALL_DATA_URL": ("football_data_url", lambda n, v: http_url(n, v)),
        "FOOTBALL_DATA_LEAGUES": ("football_data_leagues", lambda n, v: _leagues(n, v, check_football_data, True)),
        "SANDBOX_SEED": ("sandbox_seed", lambda n, v: integer(n, v)),
        "HTTP_TIMEOUT": ("http_timeout", lambda n, v: f(n, v, 0, 600, lo_open=True)),
        "HTTP_ATTEMPTS": ("http_attempts", lambda n, v: integer(n, v, 1)),
        "HTTP_DEADLINE": ("http_deadline", lambda n, v: f(n, v, 0, 3600, lo_open=True)),
        "JOB_DEADLINES": ("job_deadlines", lambda n, v: _deadlines(n, v)),
        "MODEL_DIR": ("model_dir", lambda n, v: as_path(v)),
        "BACKUP_DIR": ("backup_dir", lambda n, v: as_path(v)),
        "LOG_DIR": ("log_dir", lambda n, v: as_path(v)),
        "LOCK_DIR": ("lock_dir", lambda n, v: as_path(v)),
        "CACHE_DIR": ("cache_dir", lambda n, v: as_path(v)),
        "HISTORY_YEARS": ("history_years", lambda n, v: f(n, v, 0, lo_open=True)),
        "VALIDATION_MATCHES": ("validation_matches", lambda n, v: integer(n, v, 50)),
        "DC_XI": ("dc_xi", lambda n, v: f(n, v, 0, 0.1)),
        "MAX_LOG_LOSS": ("max_log_loss", lambda n, v: f(n, v, 0, 5, lo_open=True)),
        "MIN_ACCURACY": ("min_accuracy", lambda n, v: f(n, v, 0, 1)),
        "MAX_BRIER": ("max_brier", lambda n, v: f(n, v, 0, 2, lo_open=True)),
        "DEPLOY_TOLERANCE": ("deploy_tolerance", lambda n, v: f(n, v, 0, 1)),
        "KEEP_MODEL_BACKUPS": ("keep_model_backups", lambda n, v: integer(n, v, 1)),
        "PREDICTION_HORIZON_HOURS": ("prediction_horizon_hours", lambda n, v: f(n, v, 0, 24 * 14, lo_open=True)),
        "LINEUP_WINDOW_HOURS": ("lineup_window_hours", lambda n, v: f(n, v, 0, 24, lo_open=True)),
        "MARGIN_METHOD": ("margin_method", lambda n, v: choice(n, v, MARGIN_METHODS)),
        "SHARP_BOOKMAKERS": ("sharp_bookmakers", lambda n, v: bookmakers(n, v)),
        "BET_BOOKMAKERS": ("bet_bookmakers", lambda n, v: bookmakers(n, v, bettable=True)),
        "FAIR_METHOD": ("fair_method", lambda n, v: choice(n, v, MARGIN_METHODS)),
        "CLV_METHOD": ("clv_method", lambda n, v: choice(n, v, MARGIN_METHODS)),
        "FAIR_LINE": ("fair_line", lambda n, v: choice(n, v, FAIR_LINES)),
        "MARKETS": ("markets", _markets),
        "STARTING_BANKROLL": ("starting_bankroll", lambda n, v: f(n, v, 0, lo_open=True)),
        "MIN_EDGE": ("min_edge", lambda n, v: f(n, v, 0, 1)),
        "MIN_ODDS": ("min_odds", lambda n, v: f(n, v, 1, lo_open=True)),
        "MAX_ODDS": ("max_odds", lambda n, v: f(n, v, 1, lo_open=True)),
        "MIN_PROBABILITY": ("min_probability", lambda n, v: f(n, v, 0, 1)),
        "KELLY_FRACTION": ("kelly_fraction", lambda n, v: f(n, v, 0, 1, lo_open=True)),
        "MAX_STAKE_FRACTION": ("max_stake_fraction", lambda n, v: f(n, v, 0, 1, lo_open=True)),
        "MAX_MATCH_FRACTION": ("max_match_fraction", lambda n, v: f(n, v, 0, 1, lo_open=True)),
        "MAX_DAILY_FRACTION": ("max_daily_fraction", lambda n, v: f(n, v, 0, 1, lo_open=True)),
        **{env: (attr, _guard) for attr, env in GUARD_SETTING_NAMES.items()},
        "BACKUP_RETENTION_DAYS": ("backup_retention_days", lambda n, v: integer(n, v, 1)),
        "MIN_FREE_DISK_MB": ("min_free_disk_mb", lambda n, v: integer(n, v, 0)),
        "PENDING_BET_GRACE_HOURS": ("pending_bet_grace_hours", lambda n, v: f(n, v, 0, lo_open=True)),
        "VOID_AFTER_HOURS": ("void_after_hours", lambda n, v: f(n, v, 1)),
        "MAX_DATA_AGE_DAYS": ("max_data_age_days", lambda n, v: f(n, v, 0, lo_open=True)),
        "ALERT_COMMAND": ("alert_command", lambda n, v: v.strip()),
        "BET_ALERT_COMMAND": ("bet_alert_command", lambda n, v: v.strip()),
        "LEDGER": ("ledger", lambda n, v: choice(n, v.strip(), LEDGER_MODES)),
        "BACKUP_COPY_COMMAND": ("backup_copy_command", lambda n, v: v.strip()),
        "DEPLOYMENT": ("deployment", lambda n, v: choice(n, v, DEPLOYMENTS)),
        "CPU_THREADS": ("cpu_threads", lambda n, v: integer(n, v, 1)),
    }


def _markets(name: str, value: str) -> tuple[str, ...]:
    codes = nonempty(name, items(value))
    wrong = [c for c in codes if c.upper() not in MARKET_CODES]
    if wrong:
        raise ConfigError(f"{name}: unknown market {wrong[0]!r}; the markets are {', '.join(MARKET_CODES)}")
    return tuple(dict.fromkeys(c.upper() for c in codes))


def _guard(name: str, value: str) -> object:
    try:
        return parse_setting(name, value)
    except GuardSettingsError as exc:
        raise ConfigError(str(exc)) from None


def _leagues(name: str, value: str, check, required: bool = False) -> tuple[str, ...]:
    codes = nonempty(name, items(value)) if required else items(value)
    try:
        return check(name, codes)
    except UnknownLeague as exc:
        raise ConfigError(str(exc)) from None


def _deadlines(name: str, value: str) -> tuple[tuple[str, float], ...]:
    """`job=seconds,job=seconds`, e.g. `weekly_training=28800,hourly_predictions=3000`."""
    out = []
    for item in items(value):
        job, sep, secs = item.partition("=")
        job = job.strip()
        if not sep or not job:
            raise ConfigError(f"{name} must list job=seconds pairs, got {item!r}")
        timed = [j.name for j in JOBS.values() if j.deadline is not None]
        if job not in timed:
            why = "runs without a deadline (not through the job runner)" if job in JOBS else "is not a job"
            raise ConfigError(f"{name}: {job!r} {why} (jobs with a deadline: {', '.join(timed)})")
        out.append((job, number(f"{name} {job}", secs.strip(), 0, 7 * 24 * 3600, lo_open=True)))
    return tuple(out)


def load_settings(env: dict | None = None, *, dotenv: Path | None = None, **overrides) -> Settings:
    """Settings from `env` (default os.environ) over `.env` (default ROOT/.env), then explicit overrides."""
    raw: dict[str, str] = {}
    given: Mapping[str, str] = os.environ if env is None else env
    dotenv = ROOT / ".env" if dotenv is None else dotenv
    # with every setting in the environment (the demo) the file could change nothing: it is not read
    if not set(_parsers()) <= set(given):
        raw.update(read_dotenv(dotenv))
    raw.update(given)
    values: dict = {}
    for name, (attr, parse) in _parsers().items():
        if name in raw and raw[name] != "":
            values[attr] = parse(name, raw[name])
    values.setdefault("database_url", f"sqlite:///{ROOT / 'predictions.db'}")
    values.update(overrides)
    settings = Settings(**values)
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    # the strategy's cross-setting rules, named by their settings (each value's range is checked by its parser)
    if settings.min_odds >= settings.max_odds:
        raise ConfigError("MIN_ODDS must be below MAX_ODDS")
    if settings.max_stake_fraction > settings.max_match_fraction:
        raise ConfigError("MAX_STAKE_FRACTION must not exceed MAX_MATCH_FRACTION")
    try:
        _ = settings.guards  # the guards' checks across settings (SHARP_BOOKSUM_MIN below SHARP_BOOKSUM_MAX)
    except GuardSettingsError as exc:
        raise ConfigError(str(exc)) from None
    if settings.data_source == "sportmonks" and not settings.sportmonks_api_key:
        raise ConfigError("SPORTMONKS_API_KEY is required when DATA_SOURCE=sportmonks")
    if settings.deployment == "production":
        if settings.data_source == "sandbox":
            raise ConfigError(
                "DEPLOYMENT=production needs DATA_SOURCE=football-data or sportmonks (the sandbox is simulated)"
            )
        if settings.is_sqlite:
            raise ConfigError(
                "DEPLOYMENT=production needs a PostgreSQL DATABASE_URL (postgresql+psycopg://...), not SQLite: "
                "jobs in separate pods would share one SQLite file on network storage"
            )


def setting_names() -> list[str]:
    return list(_parsers())


def default_environment() -> dict[str, str]:
    """Every setting at its default, as environment strings: with these in the environment neither `.env` nor
    the operator's exported settings change what a run does (the demo uses this)."""
    base = load_settings({}, dotenv=Path(os.devnull))
    env = {}
    for name, (attr, _) in _parsers().items():
        value = base
        for part in attr.split("."):
            value = getattr(value, part)
        env[name] = ",".join(value) if isinstance(value, tuple) else "" if value is None else str(value)
    return env


__all__ = ["Settings", "ConfigError", "load_settings", "ROOT", "setting_names", "default_environment"]
