"""The jobs: the runner every job goes through (lock, run history, logging, exit codes), the job table, the
command lines, and one module per production script, named as the script is. Nothing outside this package
imports a job module.

Exports load on first use: pipeline.config reads the job table (pipeline.jobs.table, standard library only),
which must not load the runner, itself built on the configuration."""

from __future__ import annotations

from pipeline.lazy import exporter

_RUNNER = "pipeline.jobs.runner"
_TABLE = "pipeline.jobs.table"
# public name -> the module that defines it
_EXPORTS = {
    "EXIT_OK": _RUNNER,
    "EXIT_CONFIG": _RUNNER,
    "EXIT_DATAERR": _RUNNER,
    "EXIT_SOFTWARE": _RUNNER,
    "EXIT_TEMPFAIL": _RUNNER,
    "EXIT_UNAVAILABLE": _RUNNER,
    "JobContext": _RUNNER,
    "JobFailed": _RUNNER,
    "run_job": _RUNNER,
    "JOBS": _TABLE,
    "SCHEDULED": _TABLE,
    "Job": _TABLE,
}

__getattr__, __all__ = exporter(__name__, _EXPORTS)
