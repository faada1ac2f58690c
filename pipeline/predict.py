"""Hourly predictions: fixtures in the next PREDICTION_HORIZON_HOURS, their latest odds, the deployed models'
probabilities, the betting strategy, all stored in one transaction; then the lineup step for fixtures about to
kick off.

A fixture already predicted by the same model version from the same odds is skipped (unless --force), so an
hourly run that finds nothing new writes nothing.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from pipeline import registry
from pipeline import schema as s
from pipeline.ingest import FRAME_COLUMNS, fixture_ids, load_match_frame, store_batch
from pipeline.modelset import ModelSet
from pipeline.odds import implied_probabilities
from pipeline.providers.base import SCHEDULED, Batch
from pipeline.runner import EXIT_SOFTWARE, JobContext, JobFailed
from pipeline.store import insert_ignore, upsert
from pipeline.strategy import StrategyParams, select_bets

HISTORY_DAYS = 800  # recent results the models need for form and rating updates


@dataclass
class LoadedModels:
    model_set: ModelSet
    version: str


def load_models(settings) -> LoadedModels:
    try:
        deployed = registry.load_deployed(settings.model_dir)
    except registry.ModelLoadError as exc:
        raise JobFailed(f"cannot predict: {exc}", EXIT_SOFTWARE) from None
    return LoadedModels(ModelSet.from_objects(deployed.objects), deployed.version)


def strategy_params(settings) -> StrategyParams:
    return StrategyParams(min_edge=settings.min_edge, min_odds=settings.min_odds, max_odds=settings.max_odds,
                          min_probability=settings.min_probability, kelly_fraction=settings.kelly_fraction,
                          max_stake_fraction=settings.max_stake_fraction,
                          max_match_fraction=settings.max_match_fraction,
                          max_daily_fraction=settings.max_daily_fraction)


def odds_key(bookmaker, home, draw, away) -> str:
    if bookmaker is None or pd.isna(home):
        return "odds:none"
    raw = f"{bookmaker}|{home:.4f}|{draw:.4f}|{away:.4f}"
    return "odds:" + hashlib.sha1(raw.encode()).hexdigest()[:16]


def fixtures_frame(batch: Batch, now: datetime) -> tuple[pd.DataFrame, list[str]]:
    """Upcoming matches of a provider batch as match-frame rows with their latest pre-match odds."""
    problems, rows = [], []
    for m in batch.matches:
        if m.status != SCHEDULED or m.kickoff <= now:
            continue
        if not m.home_team or not m.away_team or m.home_team == m.away_team:
            problems.append(f"fixture {m.provider_id}: missing or identical teams")
            continue
        rows.append({"match_id": m.provider_id, "league": m.league, "season": str(m.season),
                     "kickoff": m.kickoff, "home_team": m.home_team, "away_team": m.away_team})
    frame = pd.DataFrame(rows, columns=["match_id", "league", "season", "kickoff", "home_team", "away_team"])
    odds = pd.DataFrame([{"match_id": o.match_id, "odds_bookmaker": o.bookmaker, "odds_home": o.home,
                          "odds_draw": o.draw, "odds_away": o.away, "fetched_at": o.fetched_at}
                         for o in batch.odds if not o.is_closing and o.fetched_at <= now
                         and min(o.home, o.draw, o.away) > 1.0])
    if not odds.empty:
        odds = odds.sort_values(["match_id", "fetched_at"], kind="stable").groupby("match_id").last()
        frame = frame.merge(odds.drop(columns="fetched_at"), left_on="match_id", right_index=True, how="left")
    for c in FRAME_COLUMNS + ["odds_bookmaker"]:
        if c not in frame:
            frame[c] = np.nan
    frame["kickoff"] = pd.to_datetime(frame["kickoff"], utc=True)
    return frame.sort_values(["kickoff", "match_id"]).reset_index(drop=True), problems


def current_bankroll(conn, starting: float) -> float:
    pl = conn.execute(select(func.coalesce(func.sum(s.bets.c.profit_loss), 0.0))
                      .where(s.bets.c.status != "pending")).scalar()
    return starting + float(pl)


def existing_bets(conn, since: datetime) -> list[dict]:
    """Bets on matches from `since` on (for per-fixture duplicates and per-day caps)."""
    b, f = s.bets, s.fixtures
    rows = conn.execute(select(b.c.fixture_id, b.c.bet_outcome, b.c.stake, f.c.kickoff_time)
                        .select_from(b.join(f, f.c.id == b.c.fixture_id))
                        .where(f.c.kickoff_time >= since)).mappings().all()
    return [{"fixture_id": r["fixture_id"], "bet_outcome": r["bet_outcome"], "stake": r["stake"],
             "match_day": r["kickoff_time"].date()} for r in rows]


def market_probabilities(frame: pd.DataFrame, method: str) -> np.ndarray:
    odds = frame[["odds_home", "odds_draw", "odds_away"]].to_numpy(float)
    return implied_probabilities(odds, method=method)


def prediction_rows(frame: pd.DataFrame, preds: pd.DataFrame, ids: dict, version: str, now: datetime,
                    keys: list[str], uses_lineups: bool, market: np.ndarray) -> list[dict]:
    preds = preds.set_index("match_id").loc[frame["match_id"]]
    base_cols = [c for c in preds.columns if c not in ("p_home", "p_draw", "p_away", "home_xg", "away_xg")
                 and pd.api.types.is_numeric_dtype(preds[c])]
    # plain Python values column by column: row-wise pandas access costs ~0.5 ms a fixture
    probs = preds[["p_home", "p_draw", "p_away"]].to_numpy(float).tolist()
    xg = [[None if pd.isna(v) else float(v) for v in preds[c]] if c in preds else [None] * len(preds)
          for c in ("home_xg", "away_xg")]
    base = {c: [None if pd.isna(v) else float(v) for v in preds[c]] for c in base_cols}
    mk = [[None if np.isnan(v) else float(v) for v in row] for row in market.tolist()]
    rows = []
    for i, match_id in enumerate(frame["match_id"]):
        details = {c: base[c][i] for c in base_cols}
        rows.append({"fixture_id": ids.get(match_id), "prediction_time": now, "model_version": version,
                     "home_prob": probs[i][0], "draw_prob": probs[i][1], "away_prob": probs[i][2],
                     "home_xg": xg[0][i], "away_xg": xg[1][i], "uses_lineups": uses_lineups, "input_key": keys[i],
                     "market_home_prob": mk[i][0], "market_draw_prob": mk[i][1], "market_away_prob": mk[i][2],
                     "details": json.dumps(details, sort_keys=True), "_match_id": match_id})
    return rows


def place_bets(conn, ctx: JobContext, frame: pd.DataFrame, rows: list[dict], lineup_based: bool,
               write: bool = True) -> list[dict]:
    """Run the strategy for freshly stored predictions and insert its bets (never duplicating one)."""
    settings = ctx.settings
    bankroll = current_bankroll(conn, settings.starting_bankroll)
    existing = existing_bets(conn, ctx.now - timedelta(days=2))
    by_match = {m["match_id"]: m for m in frame[["match_id", "kickoff", "odds_home", "odds_draw", "odds_away",
                                                  "odds_bookmaker"]].to_dict("records")}
    candidates = []
    for r in rows:
        m = by_match[r["_match_id"]]
        if pd.isna(m["odds_home"]):
            continue
        candidates.append({"fixture_id": r["fixture_id"], "match_day": m["kickoff"].date(),
                           "kickoff": m["kickoff"], "p_home": r["home_prob"], "p_draw": r["draw_prob"],
                           "p_away": r["away_prob"], "odds_home": float(m["odds_home"]),
                           "odds_draw": float(m["odds_draw"]), "odds_away": float(m["odds_away"]),
                           "bookmaker": str(m["odds_bookmaker"]), "prediction_id": r.get("id")})
    proposals = select_bets(candidates, bankroll, strategy_params(settings), existing)
    placed = []
    by_fixture = {c["fixture_id"]: c for c in candidates}
    for p in proposals:
        c = by_fixture[p["fixture_id"]]
        bet = {"fixture_id": p["fixture_id"], "prediction_id": c["prediction_id"], "bet_outcome": p["bet_outcome"],
               "bookmaker": c["bookmaker"], "odds": float(p["odds"]), "stake": float(p["stake"]),
               "edge": float(p["edge"]), "model_prob": float(p["model_prob"]), "lineup_based": lineup_based,
               "status": "pending", "placed_at": ctx.now}
        placed.append(bet)
    if placed and write:
        insert_ignore(conn, s.bets, placed, keys=("fixture_id", "bet_outcome"))
    return placed


def _attach_prediction_ids(conn, rows: list[dict]) -> None:
    p = s.predictions
    by_key = {(r["fixture_id"], r["model_version"], r["input_key"]): r for r in rows}
    fixture_ids_ = sorted({r["fixture_id"] for r in rows})
    for i in range(0, len(fixture_ids_), 500):   # bounded IN lists
        q = select(p.c.id, p.c.fixture_id, p.c.model_version, p.c.input_key).where(
            p.c.fixture_id.in_(fixture_ids_[i:i + 500]))
        for row in conn.execute(q):
            r = by_key.get((row.fixture_id, row.model_version, row.input_key))
            if r is not None:
                r["id"] = row.id
    missing = [r["_match_id"] for r in rows if "id" not in r]
    if missing:
        raise RuntimeError(f"predictions not found after insert: {missing[:5]}")


def store_predictions(conn, rows: list[dict], force: bool) -> None:
    clean = [{k: v for k, v in r.items() if not k.startswith("_") and k != "id"} for r in rows]
    if force:
        upsert(conn, s.predictions, clean, keys=("fixture_id", "model_version", "input_key"))
    else:
        insert_ignore(conn, s.predictions, clean, keys=("fixture_id", "model_version", "input_key"))
    _attach_prediction_ids(conn, rows)


def already_predicted(conn, fixture_id_by_match: dict, version: str, keys: dict[str, str]) -> set[str]:
    p = s.predictions
    ids = [fid for fid in fixture_id_by_match.values() if fid is not None]
    if not ids:
        return set()
    done = {(r.fixture_id, r.input_key) for r in conn.execute(
        select(p.c.fixture_id, p.c.input_key).where(p.c.fixture_id.in_(ids), p.c.model_version == version))}
    return {m for m, fid in fixture_id_by_match.items() if (fid, keys[m]) in done}


def print_dry_run(rows: list[dict], bets: list[dict], frame: pd.DataFrame) -> None:
    teams = frame.set_index("match_id")
    for r in rows:
        t = teams.loc[r["_match_id"]]
        print(f"would predict {t['kickoff']:%Y-%m-%d %H:%M} {t['home_team']} v {t['away_team']}: "
              f"H {r['home_prob']:.3f} D {r['draw_prob']:.3f} A {r['away_prob']:.3f}")
    for b in bets:
        print(f"would bet {b['bet_outcome']} on fixture {b['fixture_id']}: "
              f"stake {b['stake']:.2f} at {b['odds']:.2f} (edge {b['edge']:+.3f})")
    print(f"dry run: {len(rows)} predictions and {len(bets)} bets not written")


def run_hourly(ctx: JobContext, *, force: bool = False, dry_run: bool = False) -> None:
    settings = ctx.settings
    models = load_models(settings)
    source = ctx.provider.name
    end = ctx.now + timedelta(hours=settings.prediction_horizon_hours)
    batch = ctx.provider.fixtures(ctx.now, end, ctx.now)
    frame, problems = fixtures_frame(batch, ctx.now)
    for p in batch.problems + problems:
        ctx.log.warning("skipped: %s", p)
    if batch.problems or problems:
        ctx.count("fixtures_skipped", len(batch.problems) + len(problems))
    ctx.count("fixtures", len(frame))
    keys = {m.match_id: odds_key(m.odds_bookmaker if pd.notna(m.odds_bookmaker) else None, m.odds_home,
                                 m.odds_draw, m.odds_away) for m in frame.itertuples(index=False)}
    with ctx.engine.connect() as conn:
        history = load_match_frame(conn, source, since=ctx.now - timedelta(days=HISTORY_DAYS), until=ctx.now)
        ids = fixture_ids(conn, source, frame["match_id"])
        done = set() if force else already_predicted(conn, ids, models.version, keys)
    todo = frame[~frame["match_id"].isin(done)].reset_index(drop=True)
    ctx.count("already_predicted", len(done))
    if todo.empty:
        if not dry_run:
            with ctx.engine.begin() as conn:
                store_batch(conn, source, batch, ctx.now)  # keep the odds history even when nothing changed
        _lineup_step(ctx, dry_run)
        return
    preds = models.model_set.predict(todo, history)
    market = market_probabilities(todo, settings.margin_method)
    if dry_run:
        rows = prediction_rows(todo, preds, ids, models.version, ctx.now, [keys[m] for m in todo["match_id"]],
                               False, market)
        with ctx.engine.connect() as conn:
            for r in rows:
                r["fixture_id"] = r["fixture_id"] or r["_match_id"]
            bets = place_bets(conn, ctx, todo, rows, lineup_based=False, write=False)
        print_dry_run(rows, bets, todo)
        return
    with ctx.engine.begin() as conn:  # fixtures, odds, predictions and bets land together or not at all
        store_batch(conn, source, batch, ctx.now)
        ids = fixture_ids(conn, source, todo["match_id"])
        rows = prediction_rows(todo, preds, ids, models.version, ctx.now, [keys[m] for m in todo["match_id"]],
                               False, market)
        store_predictions(conn, rows, force)
        bets = place_bets(conn, ctx, todo, rows, lineup_based=False)
    ctx.count("predictions", len(rows))
    ctx.count("bets_placed", len(bets))
    _lineup_step(ctx, dry_run)


def _lineup_step(ctx: JobContext, dry_run: bool) -> None:
    if dry_run:
        return
    from pipeline.lineups import update_lineups
    update_lineups(ctx)
