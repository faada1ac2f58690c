"""Hourly predictions: fixtures in the next PREDICTION_HORIZON_HOURS, every bookmaker's latest odds, the deployed
models' probabilities, value bets against the sharp line (pipeline.betting.placement), all stored in one
transaction. The job table runs the lineup step after it.

Over/under and Asian handicap (MARKETS): the batch's pre-match two-way prices seen by now are bet beside 1X2, the
models' view of them from each prediction's expected goals (pipeline.forecast.predictions.model_two_way), in one
strategy run (pipeline.betting.placement.place_bets).

A fixture already predicted by the same model version from the same prices (reference, sharp and best; and, when
MARKETS bets a two-way market, the sharp and bet books' latest over/under and handicap prices) is skipped (unless
--force), so an hourly run that finds nothing new writes nothing, and a new two-way price alone is a new look.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from pipeline.betting.alerts import alert_new_bets
from pipeline.betting.placement import bet_name, place_bets
from pipeline.forecast.predictions import (
    HISTORY_DAYS,
    already_predicted,
    fixtures_frame,
    load_models,
    market_probabilities,
    prediction_rows,
    record_copied_set,
    two_way_view,
)
from pipeline.jobs.runner import JobContext
from pipeline.markets import TWO_WAY, MarketPrice
from pipeline.outcomes import columns
from pipeline.prices import PriceRules, prices_key, two_way_keys
from pipeline.records import Bet, Prediction
from pipeline.store import fixture_ids, load_match_frame, store_batch, store_predictions


def print_dry_run(rows: list[Prediction], bets: list[Bet], frame: pd.DataFrame) -> None:
    teams = frame.set_index("match_id")
    for r in rows:
        t = teams.loc[r.match_id]
        print(
            f"would predict {t['kickoff']:%Y-%m-%d %H:%M} {t['home_team']} v {t['away_team']}: "
            f"H {r.home_prob:.3f} D {r.draw_prob:.3f} A {r.away_prob:.3f}"
        )
    for b in bets:
        print(
            f"would bet {bet_name(b.market, b.line, b.outcome)} on fixture {b.fixture_id}: "
            f"stake {b.stake:.2f} at {b.odds:.2f} "
            f"with {b.bookmaker} (fair probability {b.fair_prob:.3f} from {b.fair_source}, "
            f"EV {b.edge:+.3f})"
        )
    print(f"dry run: {len(rows)} predictions and {len(bets)} bets not written")


def two_way_prices(batch, now) -> list[MarketPrice]:
    """The batch's pre-match two-way prices seen by `now` (a file row's, without a time, counts as seen now)."""
    return [p for p in batch.market_prices if not p.closing and (p.fetched_at is None or p.fetched_at <= now)]


def input_keys(frame: pd.DataFrame, two_way: list[MarketPrice], rules: PriceRules) -> dict[str, str]:
    """Each fixture's input_key: its 1X2 prices (prices_key) and, where MARKETS bets a two-way market and the match
    has such prices, their digest (pipeline.prices.two_way_keys: the sharp and bet books' latest), so a new
    over/under or handicap price alone is a new look for value (with MARKETS=1X2 the keys are as before)."""
    extra = two_way_keys(two_way, [*rules.sharp, *rules.bet])
    return {
        m["match_id"]: prices_key(m) + (f"|{extra[m['match_id']]}" if m["match_id"] in extra else "")
        for m in frame.to_dict("records")
    }


def close_fair(ctx: JobContext, models, batch, frame: pd.DataFrame, preds: pd.DataFrame):
    """FAIR_LINE=close_model: the deployed close model's fair line for `frame`'s fixtures from the batch's
    pre-match prices (None with FAIR_LINE=sharp, or when the set has no close model)."""
    if ctx.settings.fair_line != "close_model":
        return None
    snapshots = pd.DataFrame(
        [
            (o.match_id, o.bookmaker, o.home, o.draw, o.away, o.fetched_at)
            for o in batch.odds
            if not o.is_closing and o.fetched_at <= ctx.now and o.market == "1X2"
        ],
        columns=["match_id", "bookmaker", "home", "draw", "away", "fetched_at"],
    )
    ensemble = preds.set_index("match_id").loc[frame["match_id"], columns("p_")].to_numpy(float)
    return models.model_set.close_fair(frame, snapshots, "match_id", ensemble, ctx.settings, ctx.log)


def run(ctx: JobContext, *, force: bool = False, dry_run: bool = False) -> None:
    """The hourly job (the lineup step follows it, see pipeline.jobs.table)."""
    settings = ctx.settings
    rules = PriceRules.from_settings(settings)
    models = load_models(settings.model_dir)  # no usable set: the runner exits 70 saying so
    if record_copied_set(ctx.engine, settings.model_dir, models.deployed, ctx.now, ctx.log):
        ctx.count("manual_rollback", 1)
    source, price_times = ctx.provider.name, ctx.provider.price_times
    end = ctx.now + timedelta(hours=settings.prediction_horizon_hours)
    batch = ctx.provider.fixtures(ctx.now, end, ctx.now)
    frame, problems = fixtures_frame(batch, ctx.now, rules)
    for p in batch.problems + problems:
        ctx.log.warning("skipped: %s", p)
    if batch.problems or problems:
        ctx.count("fixtures_skipped", len(batch.problems) + len(problems))
    ctx.count("fixtures", len(frame))
    two_way = two_way_prices(batch, ctx.now) if any(m in TWO_WAY for m in settings.markets) else []
    keys = input_keys(frame, two_way, rules)
    with ctx.engine.connect() as conn:
        ids = fixture_ids(conn, source, frame["match_id"])
        done = set() if force else already_predicted(conn, ids, models.version, keys)
    todo = frame[~frame["match_id"].isin(done)].reset_index(drop=True)
    ctx.count("already_predicted", len(done))
    if todo.empty:
        if not dry_run:
            with ctx.engine.begin() as conn:
                store_batch(conn, source, batch, ctx.now, rules.reference)  # keep the odds history anyway
        return
    with ctx.engine.connect() as conn:  # results only: the models take form and ratings from them, not odds
        history = load_match_frame(
            conn,
            source,
            since=ctx.now - timedelta(days=HISTORY_DAYS),
            until=ctx.now,
            reference=rules.reference,
            prematch_odds=False,
        )
    preds = models.model_set.predict(todo, history)
    market = market_probabilities(todo, settings.margin_method)
    fair = close_fair(ctx, models, batch, todo, preds)
    if dry_run:
        rows = prediction_rows(
            todo, preds, ids, models.version, ctx.now, [keys[m] for m in todo["match_id"]], False, market
        )
        with ctx.engine.connect() as conn:
            bets = place_bets(
                conn,
                settings,
                ctx.now,
                todo,
                rows,
                lineup_based=False,
                write=False,
                close_fair=fair,
                price_times=price_times,
                market_prices=two_way,
                model_fair=two_way_view(settings.markets, rows),
            )
        print_dry_run(rows, bets, todo)
        return
    with ctx.engine.begin() as conn:  # fixtures, odds, predictions and bets land together or not at all
        store_batch(conn, source, batch, ctx.now, rules.reference)
        ids = fixture_ids(conn, source, todo["match_id"])
        rows = prediction_rows(
            todo, preds, ids, models.version, ctx.now, [keys[m] for m in todo["match_id"]], False, market
        )
        rows, kept = store_predictions(conn, rows, force)
        bets = place_bets(
            conn,
            settings,
            ctx.now,
            todo,
            rows,
            lineup_based=False,
            close_fair=fair,
            price_times=price_times,
            market_prices=two_way,
            model_fair=two_way_view(settings.markets, rows),
        )
    if kept:
        ctx.log.info("--force: %d predictions that placed bets point to were kept as they were", kept)
        ctx.count("predictions_kept_for_bets", kept)
    ctx.count("predictions", len(rows))
    ctx.count("bets_placed", len(bets))
    if sent := alert_new_bets(ctx.engine, settings, ctx.log, bets):
        ctx.count("bet_alert_lines", sent)
