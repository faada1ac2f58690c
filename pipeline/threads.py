"""Pin the numeric libraries' thread pools (BLAS, OpenMP: numpy, scipy, XGBoost) to CPU_THREADS.

Cron starts training, hourly predictions and settlement side by side on a small machine; each library would
otherwise start one thread per core and they would fight (weekly training measured 8x slower beside other jobs).
Libraries already loaded are limited through threadpoolctl; the environment variables cover those loaded later
(libgomp reads OMP_NUM_THREADS when XGBoost first loads it) and child processes.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_limits = None
_limited_to: int | None = None


def limit_threads(n: int) -> None:
    """Limit every thread pool of this process (and its children) to `n` threads."""
    global _limits, _limited_to
    if _limited_to == n and all(os.environ.get(var) == str(n) for var in ENV_VARS):
        return  # already so (the demo runs ~1,700 jobs in one process; each asks again)
    for var in ENV_VARS:
        os.environ[var] = str(n)
    _limits = threadpool_limits(limits=n)
    _limited_to = n


__all__ = ["limit_threads", "ENV_VARS"]
