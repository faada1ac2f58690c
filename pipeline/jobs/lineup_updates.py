"""Lineup updates (every 15 minutes, and at the end of each hourly run): fixtures kicking off within
LINEUP_WINDOW_HOURS; when their starting lineups are out, and differ from what was last seen, record them in
`lineup_updates` and re-predict with the players who actually start.

Betting rule for lineup-based predictions: the strategy runs again with the new probabilities, but it may only
add a bet on an outcome of the fixture that has no bet yet, and the per-match and per-day caps count the stakes
already placed. A placed bet is never changed, so a lineup can never double a stake. The two-way markets (MARKETS)
are bet the same way, from the store's latest pre-match prices (pipeline.store.market_odds) and the models' view
from the lineup-adjusted expected goals.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from pipeline.betting.alerts import alert_new_bets
from pipeline.betting.placement import place_bets
from pipeline.forecast.players import goal_rate_adjustment, lineup_hash, lineup_strength_change, usual_xis
from pipeline.forecast.predictions import (
    HISTORY_DAYS,
    load_models,
    market_probabilities,
    prediction_rows,
    record_copied_set,
    two_way_view,
)
from pipeline.jobs.runner import JobContext
from pipeline.markets import TWO_WAY
from pipeline.outcomes import columns
from pipeline.prices import PRICE_COLUMNS, PriceRules, prices_key
from pipeline.providers.base import LineupsUnavailable
from pipeline.store import (
    latest_lineup_hash,
    latest_prices,
    load_match_frame,
    record_lineup_update,
    replace_lineup,
    seen_lineup_hashes,
    store_predictions,
    upcoming_fixtures,
)
from pipeline.store.book_prices import book_snapshots
from pipeline.store.market_odds import latest_market_prices
from pipeline.store.players import player_ratings, recent_starters


def with_prices(conn, frame: pd.DataFrame, now, rules: PriceRules) -> pd.DataFrame:
    """`frame` with each fixture's prices from the bookmakers' latest snapshots before `now`, and the match frame's
    result columns empty."""
    prices = latest_prices(conn, frame["fixture_id"].tolist(), rules, before=now)
    frame = frame.merge(prices, left_on="fixture_id", right_index=True, how="left")
    for c in PRICE_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    for c in (
        "home_goals",
        "away_goals",
        "home_shots",
        "away_shots",
        "home_shots_on_target",
        "away_shots_on_target",
        "close_home",
        "close_draw",
        "close_away",
    ):
        frame[c] = np.nan
    return frame


def run(ctx: JobContext) -> None:
    """The lineup job (also the step after each hourly run)."""
    settings, source = ctx.settings, ctx.provider.name
    rules = PriceRules.from_settings(settings)
    if not ctx.provider.has_lineups:
        ctx.log.info("%s publishes no lineups: nothing to do", source)
        ctx.count("lineups_unavailable", 1)
        return
    with ctx.engine.connect() as conn:
        frame = upcoming_fixtures(conn, source, ctx.now, settings.lineup_window_hours)
    ctx.count("fixtures_in_window", len(frame))
    if frame.empty:
        return
    try:
        lineups = ctx.provider.lineups(frame["match_id"].tolist(), ctx.now)
    except LineupsUnavailable:
        ctx.log.info("%s publishes no lineups: nothing to do", source)
        ctx.count("lineups_unavailable", 1)
        return
    ctx.count("lineups_out", len(lineups))
    if not lineups:
        return
    with ctx.engine.connect() as conn:
        latest = {fid: latest_lineup_hash(conn, fid) for fid in frame["fixture_id"]}
    changed = frame[
        [m in lineups and latest[f] != lineup_hash(lineups[m]) for m, f in zip(frame["match_id"], frame["fixture_id"])]
    ].reset_index(drop=True)
    if changed.empty:
        return
    with ctx.engine.connect() as conn:  # prices only for the fixtures to predict again
        changed = with_prices(conn, changed, ctx.now, rules)
    models = load_models(settings.model_dir)
    if record_copied_set(ctx.engine, settings.model_dir, models.deployed, ctx.now, ctx.log):
        ctx.count("manual_rollback", 1)
    with ctx.engine.connect() as conn:
        ratings = player_ratings(conn, source)
        teams = sorted({int(t) for t in pd.concat([changed["home_team_id"], changed["away_team_id"]]).dropna()})
        usual = usual_xis(recent_starters(conn, source, teams, before=ctx.now))
        results = load_match_frame(
            conn,
            source,
            since=ctx.now - timedelta(days=HISTORY_DAYS),
            until=ctx.now,
            leagues=sorted(changed["league"].unique()),
            reference=rules.reference,
            prematch_odds=False,
        )
    base = models.model_set.predict(changed, results).set_index("match_id")
    changes, adjust = [], []
    for m in changed.itertuples(index=False):
        hc, ac = lineup_strength_change(
            lineups[m.match_id], ratings, usual.get(int(m.home_team_id), []), usual.get(int(m.away_team_id), [])
        )
        lh, la = goal_rate_adjustment(
            hc, ac, float(base.loc[m.match_id, "home_xg"]), float(base.loc[m.match_id, "away_xg"])
        )
        changes.append((hc, ac))
        adjust.append({"match_id": m.match_id, "home_log_rate": lh, "away_log_rate": la})
    preds = models.model_set.predict(changed, results, strength_adjustments=pd.DataFrame(adjust))
    market = market_probabilities(changed, settings.margin_method)
    hashes = [lineup_hash(lineups[m]) for m in changed["match_id"]]
    keys = [f"{prices_key(m)}|lineup:{lh}" for m, lh in zip(changed.to_dict("records"), hashes)]
    ids = dict(zip(changed["match_id"], changed["fixture_id"]))
    with ctx.engine.begin() as conn:
        # Re-checked inside the write transaction: a concurrent run may have recorded the same lineup.
        seen = seen_lineup_hashes(conn, changed["fixture_id"].tolist())
        fresh = [i for i, (fid, h) in enumerate(zip(changed["fixture_id"], hashes)) if h not in seen.get(fid, set())]
        if not fresh:
            return
        sub = changed.iloc[fresh].reset_index(drop=True)
        rows = prediction_rows(sub, preds, ids, models.version, ctx.now, [keys[i] for i in fresh], True, market[fresh])
        rows, _ = store_predictions(conn, rows, force=False)
        fair = None
        if settings.fair_line == "close_model":  # the close model's fair line, from each book's latest price
            books = [*settings.sharp_bookmakers, *settings.bet_bookmakers]
            snaps = book_snapshots(conn, sub["fixture_id"].tolist(), books, before=ctx.now)
            ens = preds.set_index("match_id").loc[sub["match_id"], columns("p_")].to_numpy(float)
            fair = models.model_set.close_fair(sub, snaps, "fixture_id", ens, settings, ctx.log)
        for i, r in zip(fresh, rows):
            fid = int(changed.loc[i, "fixture_id"])
            lineup = lineups[changed.loc[i, "match_id"]]
            replace_lineup(conn, fid, lineup, ctx.now)
            record_lineup_update(conn, fid, ctx.now, hashes[i], lineup, changes[i], r.id)
        two_way = []
        if any(m in TWO_WAY for m in settings.markets):
            by_fixture = latest_market_prices(conn, [int(f) for f in sub["fixture_id"]], ctx.now)
            two_way = [p for prices in by_fixture.values() for p in prices]
        bets = place_bets(
            conn,
            settings,
            ctx.now,
            sub,
            rows,
            lineup_based=True,
            close_fair=fair,
            price_times=ctx.provider.price_times,
            market_prices=two_way,
            model_fair=two_way_view(settings.markets, rows),
        )
    ctx.count("lineup_predictions", len(rows))
    ctx.count("lineup_bets_placed", len(bets))
    if sent := alert_new_bets(ctx.engine, settings, ctx.log, bets):
        ctx.count("bet_alert_lines", sent)
