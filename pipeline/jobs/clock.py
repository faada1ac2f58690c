"""A job's clock: `--now` may replay the past, but a time later than the machine clock is refused on a store that is
not simulated.

A run dated in the future writes predictions, bets and `job_runs` rows that look newer than anything real: the
health check would report a dead pipeline as fresh until the machine clock caught up. So a job whose `--now` is
more than CLOCK_SKEW ahead of the machine clock exits 64 (sysexits EX_USAGE) with one line and writes nothing,
unless the store is simulated (the sandbox's: its leagues are marked `simulated`, or an empty store with
DATA_SOURCE=sandbox) or `--allow-future` says the replay into a scratch store is deliberate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

CLOCK_SKEW = timedelta(minutes=5)  # clocks of the hosts sharing a store may differ a little


def future_now_refusal(
    now: datetime | None, machine: datetime, simulated: bool | None, data_source: str, allow_future: bool
) -> str | None:
    """The one line refusing a run at `now` (a --now; None without one) on a store that is `simulated` (None:
    the store does not say, judged by `data_source`), or None when the run may go ahead."""
    if now is None or allow_future or now <= machine + CLOCK_SKEW:
        return None
    if simulated or (simulated is None and data_source == "sandbox"):
        return None
    return (
        f"--now {now:%Y-%m-%d %H:%M}Z is later than the machine clock ({machine:%Y-%m-%d %H:%M}Z): refused on a "
        "store that is not simulated, nothing written (--allow-future replays into a scratch store on purpose)"
    )


__all__ = ["CLOCK_SKEW", "future_now_refusal"]
