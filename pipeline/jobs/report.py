"""The weekly performance report: by outcome (the guide's sqlite3 query), by league, by month, calibration of
the predictions, and the bankroll curve; optionally PNG charts.

Every figure is computed from the store's rows, so it agrees with what a user gets from `sqlite3`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from pipeline.metrics import calibration_table
from pipeline.betting.performance import final_predictions, settled_bets, summary

# Verbatim from the operations guide (README): the report's first table must match it.
BY_OUTCOME_SQL = ("SELECT bet_outcome, COUNT(*) as total_bets, SUM(CASE WHEN result = 'win' THEN 1 ELSE 0 END) as "
                  "wins, SUM(stake) as total_staked, SUM(profit_loss) as net_profit, "
                  "(SUM(profit_loss) / SUM(stake) * 100) as roi FROM bets WHERE status = 'settled' "
                  "GROUP BY bet_outcome;")


def by_outcome(conn) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(text(BY_OUTCOME_SQL)).mappings().all(),
                        columns=["bet_outcome", "total_bets", "wins", "total_staked", "net_profit", "roi"])


def _bet_table(bets: pd.DataFrame, key: str) -> pd.DataFrame:
    settled = bets[bets["status"] == "settled"]
    if settled.empty:
        return pd.DataFrame(columns=[key, "bets", "staked", "profit", "roi_pct", "avg_clv"])
    g = settled.groupby(key)
    out = pd.DataFrame({"bets": g.size(), "staked": g["stake"].sum().round(2),
                        "profit": g["profit_loss"].sum().round(2),
                        "avg_clv": g["closing_line_value"].mean()})
    out["roi_pct"] = (out["profit"] / out["staked"] * 100).round(2)
    return out.reset_index()[[key, "bets", "staked", "profit", "roi_pct", "avg_clv"]]


def bankroll_curve(bets: pd.DataFrame, starting: float) -> pd.DataFrame:
    settled = bets[bets["status"] == "settled"].sort_values(["kickoff_time", "id"]) if len(bets) else bets
    if settled.empty:
        return pd.DataFrame(columns=["kickoff_time", "bankroll"])
    return pd.DataFrame({"kickoff_time": settled["kickoff_time"].to_numpy(),
                         "bankroll": starting + settled["profit_loss"].cumsum().to_numpy()})


def build_report(conn, starting_bankroll: float) -> dict:
    preds = final_predictions(conn)
    bets = settled_bets(conn)
    if len(bets):
        bets["month"] = bets["kickoff_time"].dt.strftime("%Y-%m")
    calib = None
    if len(preds):
        calib = calibration_table(preds[["home_prob", "draw_prob", "away_prob"]].to_numpy(float),
                                  preds["y"].to_numpy(int), bins=5)
    return {"summary": summary(conn, starting_bankroll), "by_outcome": by_outcome(conn),
            "by_league": _bet_table(bets, "league_code") if len(bets) else None,
            "by_month": _bet_table(bets, "month") if len(bets) else None,
            "calibration": calib, "bankroll": bankroll_curve(bets, starting_bankroll)}


def _fmt(x, spec=".4f"):
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def format_report(rep: dict) -> str:
    summary = rep["summary"]
    lines = ["PERFORMANCE REPORT", "",
             f"Predictions scored (last prediction before kick-off, finished matches): {summary['predictions_scored']}"]
    if summary.get("predictions_scored"):
        lines.append(f"  model:  log loss {_fmt(summary['log_loss'])}  Brier {_fmt(summary['brier'])}  RPS {_fmt(summary['rps'])}  "
                     f"accuracy {_fmt(summary['accuracy'], '.3f')}")
        if "market" in summary:
            m, mm = summary["market"], summary["model_on_market_matches"]
            lines.append(f"  on the {m['n']} matches with odds: model log loss {_fmt(mm['log_loss'])} vs market "
                         f"(pre-match odds used, margin removed) {_fmt(m['log_loss'])}")
    lines += ["", f"Bets settled: {summary['bets_settled']} (void: {summary['bets_void']})  staked {summary['staked']:.2f}  "
              f"profit {summary['profit']:+.2f}  ROI {_fmt(None if summary['roi'] is None else summary['roi'] * 100, '.2f')}%  "
              f"avg CLV {_fmt(summary['avg_clv'], '+.4f')}  bankroll {summary['bankroll']:.2f}", "", "By outcome:"]
    lines.append(rep["by_outcome"].to_string(index=False) if len(rep["by_outcome"]) else "  (no settled bets)")
    for title, key in (("By league:", "by_league"), ("By month:", "by_month")):
        if rep[key] is not None and len(rep[key]):
            lines += ["", title, rep[key].to_string(index=False)]
    if rep["calibration"] is not None:
        lines += ["", "Calibration (predicted vs observed frequency):", rep["calibration"].to_string(index=False)]
    return "\n".join(lines)


def write_plots(rep: dict, out_dir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    curve = rep["bankroll"]
    fig, ax = plt.subplots(figsize=(8, 4))
    if len(curve):
        ax.plot(curve["kickoff_time"], curve["bankroll"], drawstyle="steps-post")
    ax.set_title("Bankroll after each settled bet")
    ax.set_ylabel("bankroll")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out_dir / "bankroll.png", dpi=100)
    plt.close(fig)
    written.append(out_dir / "bankroll.png")
    cal = rep["calibration"]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey")
    if cal is not None and len(cal):
        pred_col = next(c for c in cal.columns if "pred" in c)
        obs_col = next(c for c in cal.columns if "obs" in c)
        cls_col = next((c for c in cal.columns if c in ("outcome", "class")), None)
        groups = cal.groupby(cls_col) if cls_col else [("all", cal)]
        for name, g in groups:
            ax.plot(g[pred_col], g[obs_col], marker="o", label=str(name))
        ax.legend()
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("Calibration")
    fig.tight_layout()
    fig.savefig(out_dir / "calibration.png", dpi=100)
    plt.close(fig)
    written.append(out_dir / "calibration.png")
    return written


def run(ctx, plot_dir: Path | None = None) -> None:
    with ctx.engine.connect() as conn:
        rep = build_report(conn, ctx.settings.starting_bankroll)
    print(format_report(rep))
    if plot_dir is not None:
        for p in write_plots(rep, plot_dir):
            print(f"wrote {p}")
