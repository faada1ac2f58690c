"""The failures a job expects, each with its process exit code and its one line (README "Exit codes").

A leaf module: every layer raises these, the runner turns any of them into an exit code and a line with one
lookup (`exc.exit_code`, `exc.line()`). Codes follow sysexits.h.

The one-line rule: what a failure says is one printable line (cron mails stderr; `job_runs.error` holds it) that
names what failed, never a traceback, with control characters from upstream text removed.
"""

from __future__ import annotations

EXIT_OK = 0  # done, nothing to do, or skipped because the same job is already running
EXIT_UNHEALTHY = 1  # the health check: at least one check failed
EXIT_FUTURE_NOW = 64  # --now later than the machine clock on a store that is not simulated (sysexits EX_USAGE)
EXIT_DATAERR = 65  # the input data is wrong (backtest files)
EXIT_NOINPUT = 66  # the input is missing
EXIT_UNAVAILABLE = 69  # the store or the data source cannot be used until someone acts
EXIT_SOFTWARE = 70  # the job failed (its reason is the line)
EXIT_TEMPFAIL = 75  # a later run may succeed
EXIT_CONFIG = 78  # a setting is missing or invalid


def clean_line(text: object) -> str:
    """One printable line: whitespace runs folded, control characters (a NUL from an upstream message) removed."""
    return "".join(ch if ch.isprintable() else " " for ch in " ".join(str(text).split()))


class PipelineError(Exception):
    """A failure the pipeline expects. `exit_code` is the process's; `line()` is what the runner reports: the
    class's `prefix` (what kind of failure) and the message, as one line."""

    exit_code = EXIT_SOFTWARE
    prefix = ""

    def line(self) -> str:
        return clean_line(f"{self.prefix}{self}")


class ConfigError(PipelineError):
    """A setting is missing or invalid. The message names the setting and never contains its secret value."""

    exit_code = EXIT_CONFIG
    prefix = "configuration error: "


class ProviderError(PipelineError):
    """The source failed in a way a later run may not (network, 5xx after retries, bad payload)."""

    exit_code = EXIT_TEMPFAIL
    prefix = "data source unavailable: "


class ProviderAuthError(ProviderError):
    """The source refused our credentials (401/403): retrying will not help; the operator must act."""

    exit_code = EXIT_UNAVAILABLE
    prefix = "data source refused access: "


class SourceUnavailable(ProviderError):
    """The source is not there at all (a missing data directory or file): retrying will not help; the operator
    must act. Jobs exit 69 naming it."""

    exit_code = EXIT_UNAVAILABLE


class DataError(PipelineError):
    """The input data cannot give what was asked (the backtest's files or period); the message names what."""

    exit_code = EXIT_DATAERR
    prefix = "error: "


class ModelLoadError(PipelineError):
    """No deployed set, or a file that is missing, corrupt or does not match its checksum."""

    exit_code = EXIT_SOFTWARE
    prefix = "cannot predict: "


class StoreUnavailable(PipelineError):
    """The store cannot be used (a dump or restore tool failed, the store cannot be reached); message as is."""

    exit_code = EXIT_UNAVAILABLE


class ToolMissing(PipelineError):
    """A program the job needs is not installed (pg_dump, pg_restore); message as is, naming what to install."""

    exit_code = EXIT_CONFIG


class JobFailed(PipelineError):
    """A failure the job explains itself (e.g. no deployed model): its message is shown as is, with the exit
    code given."""

    def __init__(self, message: str, exit_code: int = EXIT_SOFTWARE):
        super().__init__(message)
        self.exit_code = exit_code


class JobDeadline(BaseException):
    """The run passed its deadline. A BaseException, so no `except Exception` inside a job swallows it; its
    message is the whole line."""

    exit_code = EXIT_TEMPFAIL

    def line(self) -> str:
        return clean_line(self)


__all__ = [
    "EXIT_OK",
    "EXIT_UNHEALTHY",
    "EXIT_FUTURE_NOW",
    "EXIT_DATAERR",
    "EXIT_NOINPUT",
    "EXIT_UNAVAILABLE",
    "EXIT_SOFTWARE",
    "EXIT_TEMPFAIL",
    "EXIT_CONFIG",
    "clean_line",
    "PipelineError",
    "ConfigError",
    "ProviderError",
    "ProviderAuthError",
    "SourceUnavailable",
    "DataError",
    "ModelLoadError",
    "StoreUnavailable",
    "ToolMissing",
    "JobFailed",
    "JobDeadline",
]
