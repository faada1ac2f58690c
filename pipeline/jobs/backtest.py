"""The backtest command (`production/backtest.py`): the settings and football-data files read, the walk-forward
backtest run (`pipeline.evaluation`), its text printed and its JSON and per-match predictions written.

Everything it computes lives in `pipeline.evaluation`; this module reads arguments and files and writes output.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import pandas as pd

from pipeline.betting.strategy import StrategyParams
from pipeline.config import load_settings
from pipeline.errors import EXIT_OK, ConfigError, DataError, PipelineError
from pipeline.evaluation.backtest import run_backtest
from pipeline.evaluation.market_files import two_way_prices
from pipeline.evaluation.simulation import book_prices
from pipeline.evaluation.text import format_result
from pipeline.evaluation.walk_forward import check_period
from pipeline.forecast.models.close_model import CLOSE_MODEL_YEARS
from pipeline.providers.football_data import load_matches
from pipeline.threads import limit_threads


def run(
    data_dir,
    leagues: list[str] | None,
    start: str,
    end: str,
    json_path=None,
    xgb_refit_weeks: int = 1,
    predictions_path=None,
    echo: Callable[[str], None] = print,
    bets_path=None,
) -> int:
    """What `production/backtest.py` does; returns the exit code: 0 done, else the failure's own (65 bad data,
    69 no data directory, 78 bad configuration), its one line on stderr."""
    try:
        _run(data_dir, leagues, start, end, json_path, xgb_refit_weeks, predictions_path, echo, bets_path)
    except PipelineError as exc:
        print(exc.line(), file=sys.stderr)
        return exc.exit_code
    return EXIT_OK


def _run(data_dir, leagues, start, end, json_path, xgb_refit_weeks, predictions_path, echo, bets_path=None) -> None:
    try:
        settings = load_settings(data_source="sandbox")  # the backtest reads files: no provider key needed
        strategy = StrategyParams.from_settings(settings)
        limit_threads(settings.cpu_threads)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        first, last = check_period(start, end)  # before reading a file: the data cannot fix it
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    t0 = time.perf_counter()
    frame, problems = load_matches(data_dir, leagues)
    if frame.empty:
        raise DataError(f"no matches for leagues {leagues or 'any'} under {data_dir}/mmz4281")
    missing = sorted(set(leagues or ()) - set(frame["league"]))
    if missing:
        raise DataError(f"no files for league(s) {', '.join(missing)} under {data_dir}/mmz4281")
    books = list(dict.fromkeys([*settings.sharp_bookmakers, *settings.bet_bookmakers]))
    # the test period's prices, and the close model's training window before it
    since = first - pd.Timedelta(days=round(365.25 * CLOSE_MODEL_YEARS) + 7)
    prices = book_prices(frame[(frame["kickoff"] >= since) & (frame["kickoff"] < last)], books)
    # the test period's over/under and Asian handicap prices (the frame's own columns; bad pairs are among `problems`)
    tested = frame[(frame["kickoff"] >= first) & (frame["kickoff"] < last)]
    two_way = two_way_prices(tested, books, settings.sharp_bookmakers) if set(settings.markets) - {"1X2"} else None
    echo(
        f"read {len(frame)} matches ({', '.join(sorted(frame['league'].unique()))}) and {len(books)} "
        f"bookmakers' prices ({len(two_way) if two_way else 0} two-way prices) in {time.perf_counter() - t0:.1f}s; "
        f"{len(problems)} rows or price pairs skipped"
    )
    for p in problems[:10]:
        echo(f"  skipped: {p}")
    try:
        result = run_backtest(
            frame,
            start,
            end,
            xi=settings.dc_xi,
            margin_method=settings.margin_method,
            strategy=strategy,
            bankroll=settings.starting_bankroll,
            xgb_refit_weeks=xgb_refit_weeks,
            prices=prices,
            sharp_books=settings.sharp_bookmakers,
            bet_books=settings.bet_bookmakers,
            fair_method=settings.fair_method,
            clv_method=settings.clv_method,
            validation_matches=settings.validation_matches,
            fair_line=settings.fair_line,
            guards=settings.guards,
            two_way_prices=two_way,
            markets=settings.markets,
            progress=lambda m: echo(f"  [{time.perf_counter() - t0:6.1f}s] {m}"),
        )
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    result.info["run_seconds"] = round(time.perf_counter() - t0, 1)
    result.info["rows_skipped"] = len(problems)
    echo(format_result(result))
    echo(f"backtest finished in {result.info['run_seconds']}s")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(result.to_json(), fh, indent=2, default=str)
        echo(f"wrote {json_path}")
    if predictions_path:
        result.predictions.to_csv(predictions_path, index=False)
        echo(f"wrote {predictions_path} ({len(result.predictions)} test matches)")
    if bets_path:
        result.bets.to_csv(bets_path, index=False)
        echo(f"wrote {bets_path} ({len(result.bets)} value bets, every market; columns market and line)")
