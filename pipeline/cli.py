"""What every production script's command line shares: --now and --quiet, and the exit through the runner."""
from __future__ import annotations

import sys
from typing import Callable

import click

from pipeline.runner import run_job


def job_options(f: Callable) -> Callable:
    f = click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr (the log file has all).")(f)
    f = click.option("--now", metavar="ISO_TIME", default=None,
                     help="Run as if the time were this (UTC unless an offset is given), e.g. 2026-01-20T13:00.")(f)
    return f


def run(job: str, func: Callable, *, now: str | None, quiet: bool, **kw) -> None:
    """Run a job through the runner and exit with its code (never returns)."""
    sys.exit(run_job(job, func, now=now, quiet=quiet, **kw))
