"""The jobs: the runner every job goes through (lock, run history, logging, exit codes), the job table, the
command lines, and one module per production script, named as the script is. Nothing outside this package
imports a job module."""

from pipeline.jobs.runner import (
    EXIT_CONFIG,
    EXIT_DATAERR,
    EXIT_OK,
    EXIT_SOFTWARE,
    EXIT_TEMPFAIL,
    EXIT_UNAVAILABLE,
    JobContext,
    JobFailed,
    run_job,
)
from pipeline.jobs.table import JOBS, SCHEDULED, Job

__all__ = [
    "JOBS",
    "SCHEDULED",
    "Job",
    "JobContext",
    "JobFailed",
    "run_job",
    "EXIT_OK",
    "EXIT_CONFIG",
    "EXIT_DATAERR",
    "EXIT_SOFTWARE",
    "EXIT_TEMPFAIL",
    "EXIT_UNAVAILABLE",
]
