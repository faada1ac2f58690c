#!/usr/bin/env python3
"""The price-error guards (pipeline.betting.guards) replayed on backtests' `--predictions` files: defaults chosen on
the early file (2014-15..2018-19), their effect reported on the late one (2019-07-01..2024-06-30).

Each run is the backtest's own betting code (strategy, Kelly, caps, bankroll carried week to week, fair CLV graded
against the Shin-margin-free sharp close, intervals clustered by match day) on the same matches and prices; the
guards remove a candidate (an outcome the strategy would consider: EV >= MIN_EDGE, odds and probability in range)
before staking, as production does. The candidate's "other soft books" are the BET_BOOKMAKERS other than the one
with the best price; football-data files carry no price times, so the age rules cannot act here.

    PYTHONPATH=$PWD python production/backtest.py --data-dir ../shared/data/football-data \\
        --leagues E0,D1,F1,I1,SP1 --from 2014-07-01 --to 2019-06-30 --predictions early.csv
    PYTHONPATH=$PWD python bench/guards_study.py early.csv late.csv

How a default is chosen (early file only): each guard alone over a grid, every other guard off; the setting whose
run has the largest expected profit per unit (sum of fair CLV over the bets, each bet one unit) wins, a looser
setting on a tie (within 0.5 units), since a guard is there to stop errors, not to pick bets.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import click
import numpy as np
import pandas as pd
from common import machine

from pipeline.betting.guards import RULES, GuardCandidate, GuardSettings, check_candidate
from pipeline.betting.strategy import StrategyParams
from pipeline.config import load_settings
from pipeline.evaluation.backtest import group_stats
from pipeline.evaluation.bet_stats import stats_json
from pipeline.evaluation.simulation import add_value_columns, book_slug, grade, simulate
from pipeline.evaluation.walk_forward import probs_columns as _probs_columns
from pipeline.outcomes import OUTCOMES

EV_BUCKETS = ((0.02, 0.03, "2-3%"), (0.03, 0.05, "3-5%"), (0.05, 0.10, "5-10%"), (0.10, np.inf, ">10%"))
# every guard off: the backtest as it is
OFF = GuardSettings(
    max_edge=None,
    max_price_ratio=None,
    sharp_booksum_min=0.5,
    sharp_booksum_max=2.0,
    max_soft_age_minutes=None,
    max_sharp_age_minutes=None,
    soft_outlier_margin=None,
    allow_model_fair=True,
)
GRIDS: dict[str, list[Any]] = {  # each from strict to loose
    "max_edge": [0.10, 0.125, 0.15, 0.175, 0.20, 0.25, 0.30, None],
    "soft_outlier_margin": [0.10, 0.15, 0.20, 0.25, 0.30, 0.40, None],
    "allow_model_fair": [False, True],
}
TOLERANCE = 0.5  # units of summed fair CLV a guard may cost on the choice seasons


def bet_stats(bets: pd.DataFrame, clv_method: str) -> dict:
    """The backtest's figures of a group of bets (graded by clv_method in `clv`)."""
    return stats_json(group_stats(bets))


def load(path: str, settings) -> pd.DataFrame:
    pred = pd.read_csv(path)
    pred["kickoff"] = pd.to_datetime(pred["kickoff"], utc=True)
    pred["season"] = pred["season"].astype(str).str.zfill(4)
    return add_value_columns(pred, None, settings.sharp_bookmakers, settings.bet_bookmakers, settings.fair_method)


def candidates(pred: pd.DataFrame, settings) -> list[tuple[int, int, GuardCandidate]]:
    """(row, outcome index, candidate) for every outcome the strategy's filters let through (select_bets' mask)."""
    p = StrategyParams.from_settings(settings)
    fair, best = _probs_columns(pred, "fair"), _probs_columns(pred, "best")
    sharp = _probs_columns(pred, "sharp_pre")
    books = list(settings.bet_bookmakers)
    soft = {b: np.column_stack([pred.get(f"{book_slug(b)}_pre_{o}", np.nan) for o in OUTCOMES]) for b in books}
    with np.errstate(invalid="ignore"):
        edge = fair * best - 1
        ok = (
            np.isfinite(fair)
            & np.isfinite(best)
            & (best > 1)
            & (edge >= p.min_edge)
            & (best >= p.min_odds)
            & (best <= p.max_odds)
            & (fair >= p.min_probability)
        )
    source = pred["fair_source"].to_numpy(object)
    book = pred[[f"best_{o}_book" for o in OUTCOMES]].to_numpy(object)
    ids = pred["match_id"].astype(str).to_numpy()
    out = []
    for i, k in zip(*np.nonzero(ok)):
        others = tuple(float(soft[b][i, k]) for b in books if b != book[i, k] and np.isfinite(soft[b][i, k]))
        out.append(
            (
                int(i),
                int(k),
                GuardCandidate(
                    match_id=ids[i],
                    outcome=OUTCOMES[k],
                    bookmaker=str(book[i, k]),
                    price=float(best[i, k]),
                    fair_prob=float(fair[i, k]),
                    fair_source="model" if source[i] == "model" else "sharp",
                    sharp_prices=(float(sharp[i, 0]), float(sharp[i, 1]), float(sharp[i, 2]))
                    if source[i] != "model"
                    else None,
                    other_soft_prices=others,
                ),
            )
        )
    return out


def replay(pred: pd.DataFrame, settings, cands, guards: GuardSettings) -> tuple[pd.DataFrame, Counter]:
    """The backtest's bets with the guards applied before staking, and the candidates skipped by rule."""
    best = _probs_columns(pred, "best").copy()
    skipped: Counter = Counter()
    for i, k, c in cands:
        failure = check_candidate(c, guards)
        if failure is not None:
            best[i, k] = np.nan  # never a bet: select_bets takes only finite prices
            skipped[failure.rule] += 1
    bets = simulate(
        pred,
        _probs_columns(pred, "fair"),
        best,
        pred[[f"best_{o}_book" for o in OUTCOMES]].to_numpy(object),
        StrategyParams.from_settings(settings),
        settings.starting_bankroll,
        pred["fair_source"].to_numpy(object),
    )
    return grade(bets, pred, settings.clv_method), skipped


def _clv(s: dict) -> str:
    if s["clv_fair_mean"] is None:
        return "-"
    ci = s["clv_fair_ci95"]
    return f"{100 * s['clv_fair_mean']:+.2f}% [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]" if ci else "-"


def _units(bets: pd.DataFrame) -> float:
    return float(np.nansum(bets["clv"].to_numpy(float)))


def row(label: str, bets: pd.DataFrame, clv_method: str, skipped: Counter | None = None) -> str:
    s = bet_stats(bets, clv_method)
    skips = ", ".join(f"{r} {skipped[r]}" for r in RULES if skipped and skipped[r]) or "-"
    return f"| {label} | {s['bets']} | {_clv(s)} | {_units(bets):+.2f} | {s['expected_profit']:+.0f} | {skips} |"


HEADER = (
    "| guards | bets | fair CLV [95% CI] | sum CLV (units) | expected profit (stake x CLV) | skipped candidates |\n"
    "|---|---|---|---|---|---|"
)


def by_edge(bets: pd.DataFrame, clv_method: str) -> list[str]:
    lines = ["| EV at bet time | bets | fair CLV [95% CI] |", "|---|---|---|"]
    e = bets["edge"].to_numpy(float)
    for lo, hi, name in EV_BUCKETS:
        s = bet_stats(bets[(e >= lo - 1e-12) & (e < hi)], clv_method)
        lines.append(f"| {name} | {s['bets']} | {_clv(s)} |")
    return lines


def choose(pred, settings, cands) -> tuple[GuardSettings, list[str]]:
    """Each guard alone on the choice seasons; the strictest setting whose summed fair CLV is within TOLERANCE
    units of the best run's. Clean history shows what a guard costs, not the errors it stops (football-data files
    are curated), so the tightest setting that costs nothing measurable is the one that stops the most errors."""
    lines, chosen = [], OFF
    for name, grid in GRIDS.items():
        lines += ["", f"{name} alone (every other guard off):", HEADER]
        runs = []
        for value in grid:
            bets, skipped = replay(pred, settings, cands, dataclasses.replace(OFF, **{name: value}))
            runs.append((value, _units(bets)))
            lines.append(row(f"{name}={value}", bets, settings.clv_method, skipped))
        top = max(u for _, u in runs)
        value = next(v for v, u in runs if u >= top - TOLERANCE)  # grids run strict to loose
        lines.append(f"chosen: {name}={value}")
        chosen = dataclasses.replace(chosen, **{name: value})
    return chosen, lines


def booksums(pred: pd.DataFrame) -> str:
    total = 1 / _probs_columns(pred, "sharp_pre")
    total = total.sum(axis=1)[np.isfinite(total).all(axis=1)]
    q = np.quantile(total, [0, 0.001, 0.5, 0.999, 1])
    return f"{len(total)} sharp lines, sum of 1/price: min {q[0]:.4f}, 0.1% {q[1]:.4f}, median {q[2]:.4f}, " + (
        f"99.9% {q[3]:.4f}, max {q[4]:.4f}"
    )


def removed_lines(pred, cands, guards: GuardSettings, base: pd.DataFrame) -> list[str]:
    """The log line of every skipped candidate the unguarded run had bet, with that bet's fair CLV (the other
    bets missing from the guarded run went because the bankroll and the caps moved)."""
    bet = {(r.match_id, r.bet_outcome): r.clv for r in base.itertuples()}
    out = []
    for i, k, c in cands:
        failure = check_candidate(c, guards)
        key = (pred["match_id"].iat[i], OUTCOMES[k])
        if failure is not None and key in bet:
            teams = f"{pred['home_team'].iat[i]} v {pred['away_team'].iat[i]} {pred['kickoff'].iat[i].date()}"
            out.append(f"  {teams}: {failure.reason} | fair CLV of the bet {100 * bet[key]:+.1f}%")
    return out


@click.command()
@click.argument("early", type=click.Path(exists=True, dir_okay=False))
@click.argument("late", type=click.Path(exists=True, dir_okay=False))
def main(early, late):
    print(machine())
    settings = load_settings(data_source="sandbox")
    clv = settings.clv_method
    print(
        f"sharp {', '.join(settings.sharp_bookmakers)} (fair line by {settings.fair_method}); bet at "
        f"{', '.join(settings.bet_bookmakers)}; MIN_EDGE {settings.min_edge}; CLV graded by {clv}"
    )
    pred_e, pred_l = load(early, settings), load(late, settings)
    cands_e, cands_l = candidates(pred_e, settings), candidates(pred_l, settings)
    base_e, _ = replay(pred_e, settings, cands_e, OFF)
    print(f"\n== choosing on {early}: {len(pred_e)} matches, {len(cands_e)} candidates ==")
    print("\nwithout guards, fair CLV by EV at bet time:")
    print("\n".join(by_edge(base_e, clv)))
    print(f"\n{booksums(pred_e)}")
    chosen, lines = choose(pred_e, settings, cands_e)
    print("\n".join(lines))
    defaults = GuardSettings()
    print(f"\nchosen on the early file: {chosen}")
    print(f"GuardSettings() defaults:  {defaults}")
    differ = [n for n in GRIDS if getattr(chosen, n) != getattr(defaults, n)]
    print("the defaults follow the choice" if not differ else f"THE DEFAULTS DIFFER FROM THE CHOICE: {differ}")
    for label, pred, cands, name in (
        ("choice seasons", pred_e, cands_e, early),
        ("reported seasons", pred_l, cands_l, late),
    ):
        print(f"\n== {label}: {name}, {len(pred)} matches, {len(cands)} candidates ==")
        print(booksums(pred))
        print(HEADER)
        base, _ = replay(pred, settings, cands, OFF)
        guarded, skipped = replay(pred, settings, cands, defaults)
        print(row("none", base, clv))
        print(row("defaults", guarded, clv, skipped))
        for rule, alone in (
            ("model_fair", dict(allow_model_fair=False)),
            ("sharp_overround", dict(sharp_booksum_min=defaults.sharp_booksum_min)),
            ("max_edge", dict(max_edge=defaults.max_edge)),
            ("price_ratio", dict(max_price_ratio=defaults.max_price_ratio)),
            ("soft_outlier", dict(soft_outlier_margin=defaults.soft_outlier_margin)),
        ):
            if rule == "sharp_overround":
                alone["sharp_booksum_max"] = defaults.sharp_booksum_max
            bets, sk = replay(pred, settings, cands, dataclasses.replace(OFF, **alone))
            print(row(f"{rule} only", bets, clv, sk))
        removed = base.merge(guarded[["match_id", "bet_outcome"]], how="left", indicator=True)
        removed = removed[removed["_merge"] == "left_only"]
        print(f"unguarded bets not in the guarded run: {len(removed)}, fair CLV {_clv(bet_stats(removed, clv))}")
        print("\n".join(removed_lines(pred, cands, defaults, base)))
        print("\nfair CLV by EV at bet time, without guards:")
        print("\n".join(by_edge(base, clv)))
        print("with the default guards:")
        print("\n".join(by_edge(guarded, clv)))


if __name__ == "__main__":
    main()
