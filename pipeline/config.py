"""Configuration, read in one place: the environment, then an optional `.env` at the project root.

Every setting, its default and its meaning is listed in `.env.example`. Invalid settings raise ConfigError,
which the job runner turns into one line naming the setting and exit code 78.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from pipeline.bookmakers import canonical, is_bettable, is_known, known_names
from pipeline.errors import ConfigError
from pipeline.jobs.table import JOBS
from pipeline.leagues import UnknownLeague, check_football_data, check_sportmonks

ROOT = Path(__file__).resolve().parents[1]
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


def _path(value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (ROOT / p)


def _float(
    name: str,
    value: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if lo is not None and (x < lo or (lo_open and x == lo)):
        raise ConfigError(f"{name}={value} is out of range (must be {'>' if lo_open else '>='} {lo})")
    if hi is not None and (x > hi or (hi_open and x == hi)):
        raise ConfigError(f"{name}={value} is out of range (must be {'<' if hi_open else '<='} {hi})")
    return x


def _int(name: str, value: str, lo: int = 0) -> int:
    try:
        x = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if x < lo:
        raise ConfigError(f"{name}={value} is out of range (must be >= {lo})")
    return x


def _list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_source: str = "sandbox"
    sportmonks_api_key: str = field(default="", repr=False)
    sportmonks_base_url: str = "https://api.sportmonks.com/v3/football"
    sportmonks_leagues: tuple[str, ...] = ()
    sportmonks_bookmakers: tuple[str, ...] = ()
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
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


# setting name -> (field, parser). Parsers get (name, raw string).
def _parsers():
    f = _float
    return {
        "DATABASE_URL": ("database_url", lambda n, v: _database_url(v)),
        "DATA_SOURCE": ("data_source", lambda n, v: _choice(n, v, SOURCES)),
        "SPORTMONKS_API_KEY": ("sportmonks_api_key", lambda n, v: v.strip()),
        "SPORTMONKS_BASE_URL": ("sportmonks_base_url", lambda n, v: _http_url(n, v)),
        "SPORTMONKS_LEAGUES": ("sportmonks_leagues", lambda n, v: _leagues(n, v, check_sportmonks)),
        "SPORTMONKS_BOOKMAKERS": ("sportmonks_bookmakers", lambda n, v: _list(v)),
        "FOOTBALL_DATA_DIR": ("football_data_dir", lambda n, v: _path(v) if v else None),
        "FOOTBALL_DATA_URL": ("football_data_url", lambda n, v: _http_url(n, v)),
        "FOOTBALL_DATA_LEAGUES": ("football_data_leagues", lambda n, v: _leagues(n, v, check_football_data, True)),
        "SANDBOX_SEED": ("sandbox_seed", lambda n, v: _int(n, v)),
        "HTTP_TIMEOUT": ("http_timeout", lambda n, v: f(n, v, 0, 600, lo_open=True)),
        "HTTP_ATTEMPTS": ("http_attempts", lambda n, v: _int(n, v, 1)),
        "HTTP_DEADLINE": ("http_deadline", lambda n, v: f(n, v, 0, 3600, lo_open=True)),
        "JOB_DEADLINES": ("job_deadlines", lambda n, v: _deadlines(n, v)),
        "MODEL_DIR": ("model_dir", lambda n, v: _path(v)),
        "BACKUP_DIR": ("backup_dir", lambda n, v: _path(v)),
        "LOG_DIR": ("log_dir", lambda n, v: _path(v)),
        "LOCK_DIR": ("lock_dir", lambda n, v: _path(v)),
        "CACHE_DIR": ("cache_dir", lambda n, v: _path(v)),
        "HISTORY_YEARS": ("history_years", lambda n, v: f(n, v, 0, lo_open=True)),
        "VALIDATION_MATCHES": ("validation_matches", lambda n, v: _int(n, v, 50)),
        "DC_XI": ("dc_xi", lambda n, v: f(n, v, 0, 0.1)),
        "MAX_LOG_LOSS": ("max_log_loss", lambda n, v: f(n, v, 0, 5, lo_open=True)),
        "MIN_ACCURACY": ("min_accuracy", lambda n, v: f(n, v, 0, 1)),
        "MAX_BRIER": ("max_brier", lambda n, v: f(n, v, 0, 2, lo_open=True)),
        "DEPLOY_TOLERANCE": ("deploy_tolerance", lambda n, v: f(n, v, 0, 1)),
        "KEEP_MODEL_BACKUPS": ("keep_model_backups", lambda n, v: _int(n, v, 1)),
        "PREDICTION_HORIZON_HOURS": ("prediction_horizon_hours", lambda n, v: f(n, v, 0, 24 * 14, lo_open=True)),
        "LINEUP_WINDOW_HOURS": ("lineup_window_hours", lambda n, v: f(n, v, 0, 24, lo_open=True)),
        "MARGIN_METHOD": ("margin_method", lambda n, v: _choice(n, v, MARGIN_METHODS)),
        "SHARP_BOOKMAKERS": ("sharp_bookmakers", lambda n, v: _bookmakers(n, v)),
        "BET_BOOKMAKERS": ("bet_bookmakers", lambda n, v: _bookmakers(n, v, bettable=True)),
        "FAIR_METHOD": ("fair_method", lambda n, v: _choice(n, v, MARGIN_METHODS)),
        "CLV_METHOD": ("clv_method", lambda n, v: _choice(n, v, MARGIN_METHODS)),
        "FAIR_LINE": ("fair_line", lambda n, v: _choice(n, v, FAIR_LINES)),
        "STARTING_BANKROLL": ("starting_bankroll", lambda n, v: f(n, v, 0, lo_open=True)),
        "MIN_EDGE": ("min_edge", lambda n, v: f(n, v, 0, 1)),
        "MIN_ODDS": ("min_odds", lambda n, v: f(n, v, 1, lo_open=True)),
        "MAX_ODDS": ("max_odds", lambda n, v: f(n, v, 1, lo_open=True)),
        "MIN_PROBABILITY": ("min_probability", lambda n, v: f(n, v, 0, 1)),
        "KELLY_FRACTION": ("kelly_fraction", lambda n, v: f(n, v, 0, 1, lo_open=True)),
        "MAX_STAKE_FRACTION": ("max_stake_fraction", lambda n, v: f(n, v, 0, 1, lo_open=True)),
        "MAX_MATCH_FRACTION": ("max_match_fraction", lambda n, v: f(n, v, 0, 1, lo_open=True)),
        "MAX_DAILY_FRACTION": ("max_daily_fraction", lambda n, v: f(n, v, 0, 1, lo_open=True)),
        "BACKUP_RETENTION_DAYS": ("backup_retention_days", lambda n, v: _int(n, v, 1)),
        "MIN_FREE_DISK_MB": ("min_free_disk_mb", lambda n, v: _int(n, v, 0)),
        "PENDING_BET_GRACE_HOURS": ("pending_bet_grace_hours", lambda n, v: f(n, v, 0, lo_open=True)),
        "VOID_AFTER_HOURS": ("void_after_hours", lambda n, v: f(n, v, 1)),
        "MAX_DATA_AGE_DAYS": ("max_data_age_days", lambda n, v: f(n, v, 0, lo_open=True)),
        "ALERT_COMMAND": ("alert_command", lambda n, v: v.strip()),
        "BET_ALERT_COMMAND": ("bet_alert_command", lambda n, v: v.strip()),
        "LEDGER": ("ledger", lambda n, v: _choice(n, v.strip(), LEDGER_MODES)),
        "BACKUP_COPY_COMMAND": ("backup_copy_command", lambda n, v: v.strip()),
        "DEPLOYMENT": ("deployment", lambda n, v: _choice(n, v, DEPLOYMENTS)),
        "CPU_THREADS": ("cpu_threads", lambda n, v: _int(n, v, 1)),
    }


def _choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of: {', '.join(allowed)}")
    return value


def _nonempty(name: str, value: tuple) -> tuple:
    if not value:
        raise ConfigError(f"{name} must list at least one value")
    return value


def _leagues(name: str, value: str, check, required: bool = False) -> tuple[str, ...]:
    codes = _nonempty(name, _list(value)) if required else _list(value)
    try:
        return check(name, codes)
    except UnknownLeague as exc:
        raise ConfigError(str(exc)) from None


def _bookmakers(name: str, value: str, bettable: bool = False) -> tuple[str, ...]:
    names = _nonempty(name, _list(value))
    unknown = [n for n in names if not is_known(n)]
    if unknown:
        raise ConfigError(f"{name}: unknown bookmaker {unknown[0]!r} (known: {', '.join(known_names())})")
    if bettable and not all(is_bettable(n) for n in names):
        raise ConfigError(f"{name}: market aggregates (max/average) are not bookmakers one can bet with")
    return tuple(dict.fromkeys(canonical(n) for n in names))


def _deadlines(name: str, value: str) -> tuple[tuple[str, float], ...]:
    """`job=seconds,job=seconds`, e.g. `weekly_training=28800,hourly_predictions=3000`."""
    out = []
    for item in _list(value):
        job, sep, secs = item.partition("=")
        job = job.strip()
        if not sep or not job:
            raise ConfigError(f"{name} must list job=seconds pairs, got {item!r}")
        timed = [j.name for j in JOBS.values() if j.deadline is not None]
        if job not in timed:
            why = "runs without a deadline (not through the job runner)" if job in JOBS else "is not a job"
            raise ConfigError(f"{name}: {job!r} {why} (jobs with a deadline: {', '.join(timed)})")
        out.append((job, _float(f"{name} {job}", secs.strip(), 0, 7 * 24 * 3600, lo_open=True)))
    return tuple(out)


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a valid database URL") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError("DATABASE_URL must name an SQLite file (jobs share it), not an in-memory database")
        db = Path(url.database)
        if not db.is_absolute():  # relative to the project root, never the working directory
            url = url.set(database=str(ROOT / db))
        return url.render_as_string(hide_password=False)
    if backend == "postgresql":
        if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
            url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver we ship
        return url.render_as_string(hide_password=False)
    raise ConfigError(f"DATABASE_URL must be sqlite:/// or postgresql://, got a {backend!r} URL")


def read_dotenv(path: Path) -> dict[str, str]:
    """The settings in the `.env` file at `path` ({} when there is none). A file the job may not read is one
    line naming it and its owner (cron running as another user than the one who made it `chmod 600`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc} ({_ownership(path)})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: not UTF-8 text (byte {exc.start})") from None
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def _ownership(path: Path) -> str:
    """Who owns `path` and who is asking, for the line that says why it cannot be read."""
    import grp
    import pwd

    def user(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return f"uid {uid}"

    def group(gid: int) -> str:
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return f"gid {gid}"

    try:
        st = path.stat()
    except OSError:
        return f"this job runs as {user(os.geteuid())}"
    return (
        f"owner {user(st.st_uid)}:{group(st.st_gid)}, mode {st.st_mode & 0o777:04o}; this job runs as "
        f"{user(os.geteuid())}: make it readable by that user, e.g. chown {user(os.geteuid())} {path}"
    )


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
