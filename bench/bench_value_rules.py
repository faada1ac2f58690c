#!/usr/bin/env python3
"""The value rule's choices replayed from a backtest's `--predictions` file: the fair line's margin removal
(FAIR_METHOD) and the minimum expected value (MIN_EDGE), every other setting as configured. Each row is the
backtest's own betting code (strategy, Kelly, caps, bankroll carried week to week) on the same matches and prices.

    .venv/bin/python production/backtest.py --data-dir ../shared/data/football-data --leagues E0,D1,F1,I1,SP1 \\
        --from 2014-07-01 --to 2019-06-30 --predictions early.csv
    .venv/bin/python bench/bench_value_rules.py early.csv

FAIR_METHOD's default was chosen on 2014-15..2018-19 this way, never on the seasons the README reports.
"""

from __future__ import annotations

import dataclasses

import click
import numpy as np
import pandas as pd
from common import machine

from pipeline.betting.strategy import StrategyParams
from pipeline.config import load_settings
from pipeline.evaluation.backtest import summarise
from pipeline.evaluation.simulation import add_value_columns, grade, simulate
from pipeline.evaluation.walk_forward import probs_columns
from pipeline.odds import METHODS
from pipeline.outcomes import OUTCOMES


def replay(pred: pd.DataFrame, settings, fair_method: str, min_edge: float) -> dict:
    pred = add_value_columns(pred, None, settings.sharp_bookmakers, settings.bet_bookmakers, fair_method)
    params = dataclasses.replace(StrategyParams.from_settings(settings), min_edge=min_edge)
    books = pred[[f"best_{o}_book" for o in OUTCOMES]].to_numpy(object)
    bets = grade(
        simulate(
            pred,
            probs_columns(pred, "fair"),
            probs_columns(pred, "best"),
            books,
            params,
            settings.starting_bankroll,
            pred["fair_source"].to_numpy(object),
        ),
        pred,
        settings.clv_method,
    )
    return summarise(bets, pred, settings.starting_bankroll, settings.clv_method).to_json()


@click.command()
@click.argument("predictions", type=click.Path(exists=True, dir_okay=False))
@click.option("--edges", default="0.01,0.015,0.02,0.03,0.05", show_default=True, help="MIN_EDGE values to try.")
def main(predictions, edges):
    print(machine())
    settings = load_settings(data_source="sandbox")
    pred = pd.read_csv(predictions)
    pred["kickoff"] = pd.to_datetime(pred["kickoff"], utc=True)
    pred["season"] = pred["season"].astype(str).str.zfill(4)
    print(
        f"{len(pred)} matches; sharp {', '.join(settings.sharp_bookmakers)}; bet at "
        f"{', '.join(settings.bet_bookmakers)}; CLV graded by each method (CLV_METHOD={settings.clv_method})"
    )
    print(
        "| fair line | min EV | bets | ROI | fair CLV shin [95% CI] | power | multiplicative | expected profit "
        "(shin) | seasons with CLV > 0 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for fair_method in METHODS:
        for edge in (float(e) for e in edges.split(",")):
            s = replay(pred, settings, fair_method, edge)
            o, by = s["overall"], s["overall"]["clv_fair_by_method"]
            cell = {
                m: f"{100 * by[m]['mean']:+.2f}% [{100 * by[m]['ci95'][0]:+.1f}, {100 * by[m]['ci95'][1]:+.1f}]"
                for m in METHODS
            }
            seasons = [v["clv_fair_mean"] for v in s["by_season"].values() if v["bets"]]
            print(
                f"| {fair_method} | {edge:.3f} | {o['bets']} | {100 * o['roi']:+.1f}% | {cell['shin']} | "
                f"{cell['power']} | {cell['multiplicative']} | {o['expected_profit']:+.0f} | "
                f"{sum(np.array(seasons) > 0)} of {len(seasons)} |"
            )


if __name__ == "__main__":
    main()
