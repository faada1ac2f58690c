"""Bet placement: the strategy's proposals for freshly stored predictions, written once.

The bankroll is the starting bankroll plus settled profit and loss; the caps count every stake already placed
on the match and the match day, so a re-run or a lineup re-prediction can never double a stake.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select

from pipeline.betting.strategy import select_bets
from pipeline.store import insert_ignore, schema


def current_bankroll(conn, starting: float) -> float:
    pl = conn.execute(select(func.coalesce(func.sum(schema.bets.c.profit_loss), 0.0))
                      .where(schema.bets.c.status != "pending")).scalar()
    return starting + float(pl)


def existing_bets(conn, since: datetime) -> list[dict]:
    """Bets on matches from `since` on (for per-fixture duplicates and per-day caps)."""
    b, f = schema.bets, schema.fixtures
    rows = conn.execute(select(b.c.fixture_id, b.c.bet_outcome, b.c.stake, f.c.kickoff_time)
                        .select_from(b.join(f, f.c.id == b.c.fixture_id))
                        .where(f.c.kickoff_time >= since)).mappings().all()
    return [{"fixture_id": r["fixture_id"], "bet_outcome": r["bet_outcome"], "stake": r["stake"],
             "match_day": r["kickoff_time"].date()} for r in rows]


def place_bets(conn, settings, now: datetime, frame: pd.DataFrame, rows: list[dict], lineup_based: bool,
               write: bool = True) -> list[dict]:
    """Run the strategy for freshly stored predictions and insert its bets (never duplicating one).

    frame: the predicted fixtures (match frame with their odds); rows: their prediction rows (with ids).
    """
    bankroll = current_bankroll(conn, settings.starting_bankroll)
    existing = existing_bets(conn, now - timedelta(days=2))
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
    proposals = select_bets(candidates, bankroll, settings.strategy, existing)
    placed = []
    by_fixture = {c["fixture_id"]: c for c in candidates}
    for p in proposals:
        c = by_fixture[p["fixture_id"]]
        bet = {"fixture_id": p["fixture_id"], "prediction_id": c["prediction_id"], "bet_outcome": p["bet_outcome"],
               "bookmaker": c["bookmaker"], "odds": float(p["odds"]), "stake": float(p["stake"]),
               "edge": float(p["edge"]), "model_prob": float(p["model_prob"]), "lineup_based": lineup_based,
               "status": "pending", "placed_at": now}
        placed.append(bet)
    if placed and write:
        insert_ignore(conn, schema.bets, placed, keys=("fixture_id", "bet_outcome"))
    return placed


__all__ = ["current_bankroll", "existing_bets", "place_bets"]
