"""Performance metrics: per UTC match day and cumulative, for predictions and for bets (the rows of
`performance_daily`, written by pipeline.store.performance).

Recomputed from `predictions`, `results` and `bets` whenever what it summarises changes (a result recorded by
settlement or by training's results fetch, a bet settled or voided by settlement or by hand), so the table can
never drift from the rows it summarises. The prediction scored for a fixture is its last one made before kick-off.
`avg_clv` is the mean of `bets.clv`, the closing-line value against the fair (margin-free) sharp close.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from pipeline.betting.ledger import counted_bets
from pipeline.metrics import score_all
from pipeline.outcomes import OUTCOMES, PROB_COLUMNS, columns
from pipeline.store.bets import recent_settled_clv, settled_bets
from pipeline.store.performance import has_performance, replace_performance
from pipeline.store.predictions import predictions_before_kickoff
from pipeline.value_stats import upper_bound

# The protect-the-user alarm: the fair CLV of the most recent settled bets below zero at 95% confidence
CLV_ALARM_BETS = 200  # how many of the most recent settled bets are judged
CLV_ALARM_MIN_BETS = 20  # fewer than this: no verdict either way


def final_predictions(conn) -> pd.DataFrame:
    """Per finished fixture, the last prediction made before kick-off, with the outcome."""
    df = predictions_before_kickoff(conn)
    if df.empty:
        return df
    df = df.sort_values(["fixture_id", "prediction_time", "id"]).groupby("fixture_id", as_index=False).last()
    df["kickoff_time"] = pd.to_datetime(df["kickoff_time"], utc=True)
    df["y"] = df["outcome"].map(OUTCOMES.index)
    return df


def refresh_performance(conn, starting_bankroll: float, now: datetime, ledger: str = "paper") -> int:
    """Rewrite performance_daily from predictions, results and bets (as they count under LEDGER). Returns its
    number of rows."""
    preds = final_predictions(conn)
    bets = counted_bets(settled_bets(conn), ledger)
    days = set()
    if not preds.empty:
        preds["day"] = preds["kickoff_time"].dt.date
        days |= set(preds["day"])
    if not bets.empty:
        bets["day"] = bets["kickoff_time"].dt.date
        days |= set(bets["day"])
    rows = []
    cumulative, peak, max_dd = 0.0, starting_bankroll, 0.0
    for day in sorted(days):
        row = {"day": day, "updated_at": now}
        dp = preds[preds["day"] == day] if not preds.empty else preds
        if len(dp):
            probs = dp[list(PROB_COLUMNS)].to_numpy(float)
            sc = score_all(probs, dp["y"].to_numpy(int))
            row.update(
                predictions_scored=int(sc["n"]),
                log_loss=sc["log_loss"],
                brier=sc["brier"],
                rps=sc["rps"],
                accuracy=sc["accuracy"],
            )
        else:
            row.update(predictions_scored=0, log_loss=None, brier=None, rps=None, accuracy=None)
        db = bets[(bets["day"] == day) & (bets["status"] == "settled")] if not bets.empty else bets
        staked = float(db["stake"].sum()) if len(db) else 0.0
        profit = float(db["profit_loss"].sum()) if len(db) else 0.0
        clv = db["clv"].dropna() if len(db) else pd.Series(dtype=float)
        cumulative += profit
        bankroll = starting_bankroll + cumulative
        peak = max(peak, bankroll)
        max_dd = max(max_dd, peak - bankroll)
        row.update(
            bets_settled=int(len(db)),
            staked=round(staked, 2),
            profit_loss=round(profit, 2),
            roi=(profit / staked) if staked else None,
            avg_clv=float(clv.mean()) if len(clv) else None,
            cumulative_profit=round(cumulative, 2),
            bankroll=round(bankroll, 2),
            max_drawdown=round(max_dd, 2),
        )
        rows.append(row)
    replace_performance(conn, rows)
    return len(rows)


def summary(conn, starting_bankroll: float, ledger: str = "paper") -> dict:
    """Overall numbers (the report's headline and the demo's last lines), the bets as they count under LEDGER."""
    preds = final_predictions(conn)
    bets = counted_bets(settled_bets(conn), ledger)
    out: dict = {"predictions_scored": int(len(preds))}
    if len(preds):
        out.update(score_all(preds[list(PROB_COLUMNS)].to_numpy(float), preds["y"].to_numpy(int)))
        mk = preds[columns("market_", "_prob")].astype(float)
        ok = mk.notna().all(axis=1).to_numpy()
        if ok.any():
            out["market"] = score_all(mk.to_numpy()[ok], preds["y"].to_numpy(int)[ok])
            out["model_on_market_matches"] = score_all(
                preds[list(PROB_COLUMNS)].to_numpy(float)[ok], preds["y"].to_numpy(int)[ok]
            )
    settled = bets[bets["status"] == "settled"] if len(bets) else bets
    staked = float(settled["stake"].sum()) if len(settled) else 0.0
    profit = float(settled["profit_loss"].sum()) if len(settled) else 0.0
    out.update(
        bets_settled=int(len(settled)),
        bets_void=int((bets["status"] == "void").sum()) if len(bets) else 0,
        staked=round(staked, 2),
        profit=round(profit, 2),
        roi=(profit / staked) if staked else None,
        avg_clv=float(settled["clv"].dropna().mean()) if len(settled) and settled["clv"].notna().any() else None,
        bankroll=round(starting_bankroll + profit, 2),
    )
    return out


def recent_clv(conn, n: int = CLV_ALARM_BETS, level: float = 0.95) -> dict:
    """Fair CLV of the last `n` settled bets (by kick-off): n, mean, the one-sided `level` upper bound of the
    mean (standard error clustered by match day) and `alarm`: that bound is below zero, i.e. the bets lose to
    the fair closing line at that confidence. Fewer than CLV_ALARM_MIN_BETS bets: no bound, no alarm."""
    rows = recent_settled_clv(conn, n)
    values = [clv for clv, _ in rows]
    out = {
        "n": len(values),
        "mean": float(sum(values) / len(values)) if values else None,
        "upper": None,
        "alarm": False,
    }
    if len(values) >= CLV_ALARM_MIN_BETS:
        upper = upper_bound(values, clusters=[day for _, day in rows], level=level)
        out["upper"], out["alarm"] = upper, bool(upper < 0)
    return out


def clv_alarm_line(stat: dict) -> str:
    """The warning health_check.py and report.py print when recent_clv() raises the alarm."""
    return (
        f"⚠️  WARNING: the fair CLV of the last {stat['n']} settled bets is {stat['mean']:+.2%}, below zero at 95% "
        f"confidence (upper bound {stat['upper']:+.2%}): these bets lose to the closing line. Stop staking "
        "real money on them; see the README, 'When the CLV warning shows'."
    )


__all__ = [
    "CLV_ALARM_BETS",
    "CLV_ALARM_MIN_BETS",
    "final_predictions",
    "settled_bets",  # pipeline.store.bets', here for the report
    "has_performance",  # pipeline.store.performance's, here for settlement
    "refresh_performance",
    "summary",
    "recent_clv",
    "clv_alarm_line",
]
