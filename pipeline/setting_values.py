"""One setting's value, parsed and checked: numbers in range, lists, choices, bookmakers, URLs. Each raises
ConfigError naming the setting (exit 78 through the runner). A leaf below pipeline.config."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pipeline.bookmakers import canonical, is_bettable, is_known, known_names
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def as_path(value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (ROOT / p)


def number(
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


def integer(name: str, value: str, lo: int = 0) -> int:
    try:
        x = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if x < lo:
        raise ConfigError(f"{name}={value} is out of range (must be >= {lo})")
    return x


def items(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of: {', '.join(allowed)}")
    return value


def nonempty(name: str, value: tuple) -> tuple:
    if not value:
        raise ConfigError(f"{name} must list at least one value")
    return value


def bookmakers(name: str, value: str, bettable: bool = False) -> tuple[str, ...]:
    names = nonempty(name, items(value))
    unknown = [n for n in names if not is_known(n)]
    if unknown:
        raise ConfigError(f"{name}: unknown bookmaker {unknown[0]!r} (known: {', '.join(known_names())})")
    if bettable and not all(is_bettable(n) for n in names):
        raise ConfigError(f"{name}: market aggregates (max/average) are not bookmakers one can bet with")
    return tuple(dict.fromkeys(canonical(n) for n in names))


def http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def database_url(value: str) -> str:
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


__all__ = ["as_path", "bookmakers", "choice", "database_url", "http_url", "integer", "items", "nonempty", "number"]
