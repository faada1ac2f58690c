"""The jobs: the runner every job goes through (lock, run history, logging, exit codes), the job table, the
command lines, and one module per production script, named as the script is. Nothing outside this package
imports a job module.

Exports load on first use: pipeline.config reads the job table (pipeline.jobs.table, standard library only),
which must not load the runner, itself built on the configuration."""

from __future__ import annotations

from pipeline.lazy import exporter

# the modules the other packages use (each imported from its own module, loaded on first use here)
_SUBMODULES = ("table", "generated", "runner", "cli")

__getattr__, __all__ = exporter(__name__, {}, _SUBMODULES)
