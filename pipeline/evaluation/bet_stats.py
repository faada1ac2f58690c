"""The one set of bet statistics, for the backtest's bets and the store's settled ones (report.py): counts, money,
ROI and closing-line value with 95% intervals clustered by match day (pipeline.value_stats), flat and
stake-weighted, as graded (CLV_METHOD) and by each margin-removal method side by side.

`bet_stats` takes plain arrays, so a backtest's frame and the store's rows give the same figures the same way;
`stats_json` is the backtest's JSON form of it (its keys are an interface: tests and users read them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pipeline.value_stats import mean_ci


@dataclass(frozen=True)
class Estimate:
    """A mean and its two-sided 95% interval (NaN bounds with fewer than two match days, NaN mean with no data)."""

    mean: float
    lo: float
    hi: float

    @classmethod
    def of(cls, values, clusters, weights=None) -> Estimate:
        if not len(values):
            return cls(float("nan"), float("nan"), float("nan"))
        return cls(*mean_ci(values, clusters, weights=weights))

    @property
    def ci(self) -> list[float] | None:
        return [self.lo, self.hi] if np.isfinite(self.lo) and np.isfinite(self.hi) else None


@dataclass(frozen=True)
class ClvStats:
    """Fair closing-line value of a group of bets under one grading."""

    flat: Estimate
    stake_weighted: Estimate
    graded: int  # bets with a fair close to grade them against
    share_beating: float  # of those, the share with CLV > 0 (NaN when none is graded)
    expected_profit: float  # sum of stake x CLV, to the cent: what the bets were worth at the close

    @classmethod
    def of(cls, clv, stake, day) -> ClvStats:
        clv = np.asarray(clv, dtype=float)
        graded = np.isfinite(clv)
        return cls(
            Estimate.of(clv, day),
            Estimate.of(clv, day, weights=stake),
            int(graded.sum()),
            float((clv[graded] > 0).mean()) if graded.any() else float("nan"),
            round(float(np.nansum(stake * clv)), 2),
        )


@dataclass(frozen=True)
class BetStats:
    bets: int
    turnover: float  # to the cent
    profit: float  # to the cent
    roi: Estimate  # sum(profit) / sum(stake), its interval clustered by match day
    win_rate: float
    mean_odds: float
    clv: ClvStats  # as graded (CLV_METHOD)
    by_method: Mapping[str, ClvStats]  # graded again by each margin-removal method

    @property
    def ungraded(self) -> int:
        return self.bets - self.clv.graded


def bet_stats(stake, profit, day, won, odds, clv, clv_by_method: Mapping[str, object]) -> BetStats:
    """One group of bets, each array one value per bet: `day` the match day (the cluster), `won` true/false,
    `clv` as graded and `clv_by_method` {method: CLV graded by it}."""
    stake = np.asarray(stake, dtype=float)
    profit = np.asarray(profit, dtype=float)
    day = np.asarray(day, dtype=object)
    n = len(stake)
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = Estimate.of(profit / stake, day, weights=stake)
    return BetStats(
        bets=int(n),
        turnover=round(float(stake.sum()), 2),
        profit=round(float(profit.sum()), 2),
        roi=roi,
        win_rate=float(np.mean(np.asarray(won, dtype=float))) if n else float("nan"),
        mean_odds=float(np.mean(np.asarray(odds, dtype=float))) if n else float("nan"),
        clv=ClvStats.of(clv, stake, day),
        by_method={m: ClvStats.of(v, stake, day) for m, v in clv_by_method.items()},
    )


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _clv_json(c: ClvStats) -> dict:
    return {
        "mean": _num(c.flat.mean),
        "ci95": c.flat.ci,
        "stake_weighted": _num(c.stake_weighted.mean),
        "stake_weighted_ci95": c.stake_weighted.ci,
        "share_beating_fair_close": _num(c.share_beating),
        "expected_profit": c.expected_profit,
    }


def stats_json(s: BetStats) -> dict:
    """The backtest's keys: bets, turnover, profit, roi, roi_ci95, win_rate, mean_odds, clv_fair_* (as graded),
    clv_fair_by_method, bets_without_sharp_close."""
    main = _clv_json(s.clv)
    return {
        "bets": s.bets,
        "turnover": s.turnover,
        "profit": s.profit,
        "roi": _num(s.roi.mean),
        "roi_ci95": s.roi.ci,
        "win_rate": _num(s.win_rate),
        "mean_odds": _num(s.mean_odds),
        "clv_fair_mean": main["mean"],
        "clv_fair_ci95": main["ci95"],
        "clv_fair_stake_weighted": main["stake_weighted"],
        "clv_fair_stake_weighted_ci95": main["stake_weighted_ci95"],
        "share_beating_fair_close": main["share_beating_fair_close"],
        "expected_profit": main["expected_profit"],
        "clv_fair_by_method": {m: _clv_json(c) for m, c in s.by_method.items()},
        "bets_without_sharp_close": s.ungraded,
    }


# EV at bet time (fair probability x price - 1): (from, below, name); the backtest and the report group by them
EV_BUCKETS = ((0.02, 0.03, "2-3%"), (0.03, 0.05, "3-5%"), (0.05, 0.10, "5-10%"), (0.10, np.inf, ">10%"))
# hours from the bet to its kick-off: (from, below, name)
LEAD_BUCKETS = ((0.0, 2.0, "under 2 h"), (2.0, 6.0, "2-6 h"), (6.0, 24.0, "6-24 h"), (24.0, np.inf, "24 h or more"))


def bucket(values, buckets) -> list[str | None]:
    """Each value's bucket name (None outside every bucket), with the 1e-12 slack the EV edges need."""
    out: list[str | None] = []
    for v in np.asarray(values, float):
        out.append(next((name for lo, hi, name in buckets if lo - 1e-12 <= v < hi - 1e-12), None))
    return out


__all__ = [
    "Estimate",
    "ClvStats",
    "BetStats",
    "bet_stats",
    "stats_json",
    "EV_BUCKETS",
    "LEAD_BUCKETS",
    "bucket",
]
