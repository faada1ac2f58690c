"""The performance report: by outcome (the guide's sqlite3 query); value against the fair closing line overall,
by league, by month and by bookmaker; calibration of the predictions; the bankroll; optionally PNG charts.

Value first: a bet's closing-line value (`bets.clv`) is odds x the sharp closing line's probability of the
outcome, margin removed, - 1 (pipeline.odds.fair_clv), its expected return if the close is right. ROI over a
few hundred bets is mostly luck; CLV is the evidence. Every CLV figure comes with a 95% interval clustered by
match day (pipeline.value_stats), flat and stake-weighted, and graded by each of the three margin-removal
methods side by side (the stored `clv` uses CLV_METHOD), so no flattering method can be picked afterwards.

Every figure is computed from the store's rows, so it agrees with what a user gets from `sqlite3`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from pipeline.betting.performance import (
    OUTCOME_INDEX,
    clv_alarm_line,
    final_predictions,
    recent_clv,
    settled_bets,
    summary,
)
from pipeline.jobs.runner import write_stdout
from pipeline.metrics import calibration_table
from pipeline.odds import METHODS, implied_probabilities
from pipeline.prices import PriceRules
from pipeline.store import closing_prices
from pipeline.value_stats import mean_ci, roi_ci

# Verbatim from the operations guide (README): the report's first table must match it.
BY_OUTCOME_SQL = (
    "SELECT bet_outcome, COUNT(*) as total_bets, SUM(CASE WHEN result = 'win' THEN 1 ELSE 0 END) as "
    "wins, SUM(stake) as total_staked, SUM(profit_loss) as net_profit, "
    "(SUM(profit_loss) / SUM(stake) * 100) as roi FROM bets WHERE status = 'settled' "
    "GROUP BY bet_outcome;"
)
SHORT = {"multiplicative": "mult", "power": "power", "shin": "shin"}


def by_outcome(conn) -> pd.DataFrame:
    return pd.DataFrame(
        conn.execute(text(BY_OUTCOME_SQL)).mappings().all(),
        columns=["bet_outcome", "total_bets", "wins", "total_staked", "net_profit", "roi"],
    )


def graded_bets(conn, rules: PriceRules) -> pd.DataFrame:
    """Settled bets (void ones left out) with their match day, month and CLV graded by every margin method
    (`clv_<method>`) against the closing line settlement used (pipeline.store.queries.closing_prices)."""
    bets = settled_bets(conn)
    if bets.empty:
        return bets
    bets = bets[bets["status"] == "settled"].sort_values(["kickoff_time", "id"]).reset_index(drop=True)
    if bets.empty:
        return bets
    bets["day"] = bets["kickoff_time"].dt.date
    bets["month"] = bets["kickoff_time"].dt.strftime("%Y-%m")
    close = closing_prices(conn, bets["fixture_id"].tolist(), rules.reference)
    triples = close.reindex(bets["fixture_id"])[["close_home", "close_draw", "close_away"]].to_numpy(float)
    k = bets["bet_outcome"].map(OUTCOME_INDEX).to_numpy(int)
    for method in METHODS:
        fair = implied_probabilities(triples, method)[np.arange(len(bets)), k]
        bets[f"clv_{method}"] = bets["odds"].to_numpy(float) * fair - 1
    return bets


def value_stats(b: pd.DataFrame) -> dict:
    """Bets, turnover, profit, ROI and fair CLV (flat, stake-weighted, by method) with 95% intervals."""
    days = b["day"].to_numpy()
    clv = b["clv"].to_numpy(float)
    has = np.isfinite(clv)
    roi = roi_ci(b["profit_loss"], b["stake"], days)
    out = {
        "bets": int(len(b)),
        "staked": round(float(b["stake"].sum()), 2),
        "profit": round(float(b["profit_loss"].sum()), 2),
        "roi": roi,
        "clv_bets": int(has.sum()),
        "clv": mean_ci(clv, days),
        "clv_staked": mean_ci(clv, days, weights=b["stake"]),
        "beat": float((clv[has] > 0).mean()) if has.any() else float("nan"),
    }
    for method in METHODS:
        out[f"clv_{method}"] = mean_ci(b[f"clv_{method}"], days)
    return out


def value_table(bets: pd.DataFrame, key: str) -> pd.DataFrame:
    rows = [{key: k, **value_stats(g)} for k, g in bets.groupby(key, sort=True)]
    return pd.DataFrame(rows)


def build_report(conn, starting_bankroll: float, rules: PriceRules | None = None) -> dict:
    rules = rules or PriceRules()
    preds = final_predictions(conn)
    bets = graded_bets(conn, rules)
    calib = None
    if len(preds):
        calib = calibration_table(
            preds[["home_prob", "draw_prob", "away_prob"]].to_numpy(float), preds["y"].to_numpy(int), bins=5
        )
    has_bets = len(bets) > 0
    return {
        "summary": summary(conn, starting_bankroll),
        "by_outcome": by_outcome(conn),
        "rules": rules,
        "value": value_stats(bets) if has_bets else None,
        "by_league": value_table(bets, "league_code") if has_bets else None,
        "by_month": value_table(bets, "month") if has_bets else None,
        "by_bookmaker": value_table(bets, "bookmaker") if has_bets else None,
        "bets": bets,
        "starting_bankroll": starting_bankroll,
        "calibration": calib,
        "bankroll": bankroll_curve(bets, starting_bankroll),
        "recent_clv": recent_clv(conn),
    }


def bankroll_curve(bets: pd.DataFrame, starting: float) -> pd.DataFrame:
    """Bankroll after each settled bet, from the starting bankroll (first row: before the first bet)."""
    if bets is None or bets.empty:
        return pd.DataFrame(columns=["kickoff_time", "bankroll"])
    times = bets["kickoff_time"].to_numpy()
    return pd.DataFrame(
        {
            "kickoff_time": np.concatenate([times[:1], times]),
            "bankroll": np.concatenate([[starting], starting + bets["profit_loss"].cumsum().to_numpy()]),
        }
    )


def _fmt(x, spec=".4f"):
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def _pct(x, digits=1) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{100 * x:+.{digits}f}%"


def _ci(t, digits=1) -> str:
    """'+1.9% [+0.8, +3.0]' from (mean, lo, hi)."""
    m, lo, hi = t
    if not np.isfinite(m):
        return "-"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{_pct(m, digits)} [n/a]"
    return f"{_pct(m, digits)} [{100 * lo:+.{digits}f}, {100 * hi:+.{digits}f}]"


def _table_text(df: pd.DataFrame, key: str) -> str:
    cols = {
        key: df[key].astype(str),
        "bets": df["bets"],
        "staked": df["staked"].map(lambda x: f"{x:.2f}"),
        "profit": df["profit"].map(lambda x: f"{x:+.2f}"),
        "ROI [95% CI]": df["roi"].map(_ci),
        "fair CLV [95% CI]": df["clv"].map(_ci),
        "stake-wtd CLV": df["clv_staked"].map(lambda t: _pct(t[0])),
        **{f"CLV {SHORT[m]}": df[f"clv_{m}"].map(lambda t: _pct(t[0])) for m in METHODS},
        "beat close": df["beat"].map(lambda x: "-" if not np.isfinite(x) else f"{100 * x:.0f}%"),
    }
    return pd.DataFrame(cols).to_string(index=False)


def format_report(rep: dict) -> str:
    s, rules = rep["summary"], rep["rules"]
    lines = ["PERFORMANCE REPORT", ""]
    alarm = rep.get("recent_clv") or {}
    if alarm.get("alarm"):
        lines += [clv_alarm_line(alarm), ""]
    lines.append(f"Predictions scored (last prediction before kick-off, finished matches): {s['predictions_scored']}")
    if s.get("predictions_scored"):
        lines.append(
            f"  model:  log loss {_fmt(s['log_loss'])}  Brier {_fmt(s['brier'])}  RPS {_fmt(s['rps'])}  "
            f"accuracy {_fmt(s['accuracy'], '.3f')}"
        )
        if "market" in s:
            m, mm = s["market"], s["model_on_market_matches"]
            lines.append(
                f"  on the {m['n']} matches with odds: model log loss {_fmt(mm['log_loss'])} vs market "
                f"(pre-match odds used, margin removed) {_fmt(m['log_loss'])}"
            )
    lines += [
        "",
        f"Bets settled: {s['bets_settled']} (void: {s['bets_void']})  staked {s['staked']:.2f}  "
        f"profit {s['profit']:+.2f}  bankroll {s['bankroll']:.2f} (started at {rep['starting_bankroll']:.2f})",
    ]
    v = rep["value"]
    if v is not None:
        lines += [
            "",
            "Value against the fair closing line (CLV = odds x the sharp close's probability with its "
            f"margin removed - 1; SHARP_BOOKMAKERS {', '.join(rules.sharp)}, CLV_METHOD {rules.clv_method}; "
            "95% intervals clustered by match day):",
            f"  fair CLV        flat {_ci(v['clv'], 2)}   stake-weighted {_ci(v['clv_staked'], 2)}   "
            f"beating the fair close {_pct(v['beat'], 0).lstrip('+')} of {v['clv_bets']} bets",
            "  graded by       " + "   ".join(f"{m} {_ci(v[f'clv_{m}'], 2)}" for m in METHODS),
            f"  ROI             {_ci(v['roi'], 2)}   (over few bets mostly luck; CLV is the evidence)",
        ]
        if v["clv_bets"] < v["bets"]:
            lines.append(f"  ({v['bets'] - v['clv_bets']} settled bets have no closing price to grade them)")
    lines += ["", "By outcome:"]
    lines.append(rep["by_outcome"].to_string(index=False) if len(rep["by_outcome"]) else "  (no settled bets)")
    for title, key, col in (
        ("By league:", "by_league", "league_code"),
        ("By month:", "by_month", "month"),
        ("By bookmaker:", "by_bookmaker", "bookmaker"),
    ):
        if rep[key] is not None and len(rep[key]):
            lines += ["", title, _table_text(rep[key], col)]
    if rep["calibration"] is not None:
        lines += [
            "",
            "Calibration (predicted vs observed frequency, n matches per bin):",
            rep["calibration"].to_string(index=False),
        ]
    return "\n".join(lines)


def _empty(ax, why: str) -> None:
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True, transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


NO_BETS = "No settled bets yet: the chart fills in once bets are settled."


def figures(rep: dict) -> dict:
    """The report's charts as matplotlib figures, by file name; an empty chart says why it is empty."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    bets = rep["bets"]

    def save(fig, name):
        fig.tight_layout()
        out[name] = fig

    curve = rep["bankroll"]
    fig, ax = plt.subplots(figsize=(8, 4))
    if len(curve):
        ax.plot(curve["kickoff_time"], curve["bankroll"], drawstyle="steps-post")
        ax.axhline(rep["starting_bankroll"], color="grey", ls="--", lw=0.8, label="starting bankroll")
        ax.legend()
        fig.autofmt_xdate()
    else:
        _empty(ax, NO_BETS)
    ax.set_title(f"Bankroll from {rep['starting_bankroll']:.0f}, after each settled bet")
    ax.set_ylabel("bankroll")
    save(fig, "bankroll.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    if len(bets):
        expected = (bets["stake"] * bets["clv"].fillna(0.0)).cumsum()
        ax.plot(bets["kickoff_time"], bets["profit_loss"].cumsum(), drawstyle="steps-post", label="profit")
        ax.plot(
            bets["kickoff_time"], expected, drawstyle="steps-post", label="expected profit (sum of stake x fair CLV)"
        )
        ax.axhline(0, color="grey", lw=0.8)
        ax.legend()
        fig.autofmt_xdate()
    else:
        _empty(ax, NO_BETS)
    ax.set_title("Cumulative profit beside expected profit: the gap is luck")
    save(fig, "profit.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    months = rep["by_month"]
    if months is not None and len(months) and months["clv_bets"].sum():
        m = np.array([t[0] for t in months["clv"]]) * 100
        lo = np.array([t[1] for t in months["clv"]]) * 100
        hi = np.array([t[2] for t in months["clv"]]) * 100
        x = np.arange(len(months))
        err = np.vstack([np.where(np.isfinite(lo), m - lo, 0), np.where(np.isfinite(hi), hi - m, 0)])
        ax.errorbar(x, m, yerr=err, fmt="o", capsize=4)
        for xi, yi, n in zip(x, m, months["clv_bets"]):
            ax.annotate(f"n={n}", (xi, yi), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(x, months["month"])
        ax.set_ylabel("fair CLV, % (95% interval)")
    else:
        _empty(ax, NO_BETS if months is None else "No settled bet has a closing price to grade it yet.")
    ax.set_title(f"Fair CLV per month (CLV_METHOD {rep['rules'].clv_method})")
    save(fig, "clv_by_month.png")

    cal = rep["calibration"]
    fig, ax = plt.subplots(figsize=(6, 6))
    if cal is not None and len(cal):
        ax.plot([0, 1], [0, 1], ls="--", color="grey")
        for name, g in cal.groupby("outcome", sort=False):
            ax.plot(g["predicted"], g["observed"], marker="o", label=str(name))
            for _, r in g.iterrows():
                ax.annotate(
                    f"{r['n']}",
                    (r["predicted"], r["observed"]),
                    textcoords="offset points",
                    xytext=(4, -10),
                    fontsize=7,
                )
        ax.legend()
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
    else:
        _empty(ax, "No finished match has a prediction yet: nothing to calibrate.")
    ax.set_title("Calibration (numbers: matches per bin)")
    save(fig, "calibration.png")
    return out


def write_plots(rep: dict, out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures(rep).items():
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        written.append(out_dir / name)
    return written


def run(ctx, plot_dir: Path | None = None) -> None:
    with ctx.engine.connect() as conn:
        rep = build_report(conn, ctx.settings.starting_bankroll, PriceRules.from_settings(ctx.settings))
    write_stdout(format_report(rep))  # `report.py | head` is not a failed run
    if plot_dir is not None:
        for p in write_plots(rep, plot_dir):
            write_stdout(f"wrote {p}")
