"""The performance report: by outcome (the guide's sqlite3 query); value against the fair closing line overall,
by league, by month and by bookmaker; calibration of the predictions; the bankroll; optionally PNG charts.

Value first: a bet's closing-line value (`bets.clv`) is odds x the sharp closing line's probability of the
outcome, margin removed, - 1 (pipeline.odds.fair_clv), its expected return if the close is right. ROI over a
few hundred bets is mostly luck; CLV is the evidence. Every CLV figure comes with a 95% interval clustered by
match day (pipeline.value_stats), flat and stake-weighted, and graded by each of the three margin-removal
methods side by side (the stored `clv` uses CLV_METHOD), so no flattering method can be picked afterwards.

By market (1X2, over/under, Asian handicap): every figure of the overall table again per market, a two-way bet graded
against the sharp close at its own line (pipeline.betting.bet_results; none is graded against another line, and
the bets without a close at their line are counted per market).

Every figure is computed from the store's rows, so it agrees with what a user gets from `sqlite3`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.betting.bet_results import grade_two_way, selection_of
from pipeline.betting.ledger import counted_bets, ledger_lines
from pipeline.betting.performance import clv_alarm_line, final_predictions, recent_clv, settled_bets, summary
from pipeline.betting.settlement import closing_line_value
from pipeline.evaluation.bet_stats import EV_BUCKETS, LEAD_BUCKETS, BetStats, bet_stats, bucket
from pipeline.evaluation.text import bet_summary, bet_table
from pipeline.jobs.runner import write_stdout
from pipeline.markets import MARKETS
from pipeline.metrics import calibration_table
from pipeline.odds import METHODS
from pipeline.outcomes import OUTCOMES, PROB_COLUMNS
from pipeline.prices import PriceRules
from pipeline.store.ledger import ledger_counts, placed_prices
from pipeline.store.market_odds import closing_market_prices
from pipeline.store.reporting import by_outcome
from pipeline.store.settlement import sharp_closing_prices
from pipeline.store.skipped import latest_skips, skipped_by_rule


def graded_bets(conn, rules: PriceRules, ledger: str = "paper") -> pd.DataFrame:
    """Settled bets (void ones left out) as they count under LEDGER, with their match day, month and CLV graded
    by every margin method (`clv_<method>`, at the counted price) against the sharp close settlement used
    (pipeline.store.settlement.sharp_closing_prices); NaN for bets without a sharp close, which every fair-CLV
    figure leaves out and counts apart."""
    bets = counted_bets(settled_bets(conn), ledger)
    if bets.empty:
        return bets
    bets = bets[bets["status"] == "settled"].sort_values(["kickoff_time", "id"]).reset_index(drop=True)
    if bets.empty:
        return bets
    bets["day"] = bets["kickoff_time"].dt.date
    bets["month"] = bets["kickoff_time"].dt.strftime("%Y-%m")
    # does a larger EV give a larger CLV, or mostly price errors? and does a bet placed early beat the close more?
    bets["ev_bucket"] = pd.Categorical(bucket(bets["edge"], EV_BUCKETS), [n for _, _, n in EV_BUCKETS], ordered=True)
    hours = (bets["kickoff_time"] - bets["placed_at"]).dt.total_seconds() / 3600.0
    bets["lead_time"] = pd.Categorical(bucket(hours, LEAD_BUCKETS), [n for _, _, n in LEAD_BUCKETS], ordered=True)
    close = sharp_closing_prices(conn, bets["fixture_id"].tolist(), rules.sharp)
    triples = close.reindex(bets["fixture_id"])[[f"close_{o}" for o in OUTCOMES]].to_numpy(float)
    if "market" not in bets:
        bets["market"] = "1X2"
    two_way = (bets["market"] != "1X2").to_numpy()
    outcomes = bets["bet_outcome"].where(~two_way, "home")  # a two-way row's 1X2 grade is replaced below
    for method in METHODS:
        bets[f"clv_{method}"] = closing_line_value(bets["odds"], triples, outcomes, method)
    bets["no_close"] = None
    if two_way.any():  # graded at the bet's own line, never against the 1X2 close or another line
        sub = bets[two_way]
        closes = closing_market_prices(conn, sub["fixture_id"].astype(int).tolist())
        graded = [
            (float(o), selection_of(m, float(line), side))
            for o, m, line, side in zip(sub["odds"], sub["market"], sub["line"], sub["bet_outcome"])
        ]
        prices = [closes.get(int(f), []) for f in sub["fixture_id"]]
        for method in METHODS:
            grades = grade_two_way(graded, prices, rules.sharp, method)
            bets.loc[two_way, f"clv_{method}"] = [np.nan if g.clv is None else g.clv for g in grades]
        bets.loc[two_way, "no_close"] = [g.reason for g in grades]
    return bets


def value_stats(b: pd.DataFrame) -> BetStats:
    """Bets, turnover, profit, ROI and fair CLV (as stored, and graded by each method) with 95% intervals."""
    return bet_stats(
        b["stake"],
        b["profit_loss"],
        b["day"],
        b["result"] == "win",
        b["odds"],
        b["clv"],
        {m: b[f"clv_{m}"] for m in METHODS},
    )


def value_table(bets: pd.DataFrame, key: str) -> dict[str, BetStats]:
    return {str(k): value_stats(g) for k, g in bets.groupby(key, sort=True, observed=True)}


def market_table(bets: pd.DataFrame) -> dict[str, BetStats]:
    """The value table by market, in the markets' order (1X2, OU, AH)."""
    table = value_table(bets, "market")
    return {m: table[m] for m in MARKETS if m in table}


def market_ungraded(bets: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per two-way market, its settled bets without a fair CLV by reason ("no close at the bet's line", ...)."""
    two_way = bets[bets["no_close"].notna()] if "no_close" in bets else bets.iloc[:0]
    return {str(m): g["no_close"].value_counts().to_dict() for m, g in two_way.groupby("market", sort=True)}


def build_report(conn, starting_bankroll: float, rules: PriceRules | None = None, ledger: str = "paper") -> dict:
    rules = rules or PriceRules()
    preds = final_predictions(conn)
    bets = graded_bets(conn, rules, ledger)
    calib = None
    if len(preds):
        calib = calibration_table(preds[list(PROB_COLUMNS)].to_numpy(float), preds["y"].to_numpy(int), bins=5)
    has_bets = len(bets) > 0
    return {
        "summary": summary(conn, starting_bankroll, ledger),
        "ledger": ledger_lines(ledger, ledger_counts(conn), placed_prices(conn)),
        "by_outcome": by_outcome(conn),
        "rules": rules,
        "value": value_stats(bets) if has_bets else None,
        "by_market": market_table(bets) if has_bets else None,
        "market_ungraded": market_ungraded(bets) if has_bets else {},
        "by_league": value_table(bets, "league_code") if has_bets else None,
        "by_month": value_table(bets, "month") if has_bets else None,
        "by_bookmaker": value_table(bets, "bookmaker") if has_bets else None,
        "by_edge": value_table(bets, "ev_bucket") if has_bets else None,
        "by_lead_time": value_table(bets, "lead_time") if has_bets else None,
        "bets": bets,
        "starting_bankroll": starting_bankroll,
        "calibration": calib,
        "bankroll": bankroll_curve(bets, starting_bankroll),
        "recent_clv": recent_clv(conn),
        "skipped": skipped_by_rule(conn),
        "latest_skips": latest_skips(conn, 3),
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


def outcome_table(table: pd.DataFrame) -> str:
    """The guide's by-outcome query's rows (its numbers unchanged) as a person reads them: money to the cent,
    ROI as a signed percentage."""
    shown = table.assign(
        total_staked=table["total_staked"].map(lambda x: _fmt(x, ".2f")),
        net_profit=table["net_profit"].map(lambda x: _fmt(x, "+.2f")),
        roi=table["roi"].map(lambda x: "-" if x is None or not np.isfinite(x) else f"{x:+.1f}%"),
    )
    return shown.to_string(index=False)


def calibration_text(table: pd.DataFrame) -> str:
    """Predicted probability and observed frequency as percentages."""
    shown = table.assign(**{c: table[c].map(lambda x: f"{100 * x:.1f}%") for c in ("predicted", "observed")})
    return shown.to_string(index=False)


def skipped_lines(by_rule: dict, latest: list) -> list[str]:
    """The price-error guards' section: candidates set aside before staking (never bet), by rule, and the latest."""
    total = sum(n for n, _ in by_rule.values())
    if not total:
        return ["Price-error guards: no candidate set aside"]
    rules = ", ".join(f"{r} {n}" for r, (n, _) in sorted(by_rule.items(), key=lambda kv: (-kv[1][0], kv[0])))
    lines = [f"Price-error guards: {total} candidates set aside, never bet ({rules}); the latest:"]
    return lines + [f"  {seen:%Y-%m-%d %H:%M} UTC {reason}" for seen, reason in latest]


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
    lines += ["", *rep.get("ledger", [])]
    if "skipped" in rep:
        lines += skipped_lines(rep["skipped"], rep.get("latest_skips", []))
    lines += [
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
            *bet_summary(v),
        ]
        if v.ungraded:
            lines.append(
                f"  {v.ungraded} settled bets without a sharp close (no {', '.join(rules.sharp)} closing price): "
                "no fair CLV, left out of the figures above"
            )
    if rep.get("by_market"):
        lines += ["", f"By market (two-way bets graded at their own line, CLV_METHOD {rules.clv_method}):"]
        lines.append(bet_table(list(rep["by_market"].items()), "market"))
        for market, reasons in rep.get("market_ungraded", {}).items():
            why = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
            lines.append(f"  {market}: settled bets without a fair CLV: {why}")
    lines += ["", "By outcome:"]
    lines.append(outcome_table(rep["by_outcome"]) if len(rep["by_outcome"]) else "  (no settled bets)")
    for title, key, col in (
        ("By league:", "by_league", "league_code"),
        ("By month:", "by_month", "month"),
        ("By bookmaker:", "by_bookmaker", "bookmaker"),
        ("By EV at bet time:", "by_edge", "EV"),
        ("By hours from the bet to kick-off:", "by_lead_time", "lead time"),
    ):
        if rep[key]:
            lines += ["", title, bet_table(list(rep[key].items()), col)]
    if rep["calibration"] is not None:
        lines += [
            "",
            "Calibration (predicted vs observed frequency, n matches per bin):",
            calibration_text(rep["calibration"]),
        ]
    return "\n".join(lines)


def _empty(ax, why: str) -> None:
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True, transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


NO_BETS = "No settled bets yet: the chart fills in once bets are settled."


def _bet_axis(ax, n: int, bets: pd.DataFrame) -> None:
    """The x axis of a chart per settled bet: 0 (before the first) to n, whole numbers, labelled with the dates."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(-0.5, n + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(n + 1, 10)))
    first, last = bets["kickoff_time"].iloc[0], bets["kickoff_time"].iloc[-1]
    ax.set_xlabel(f"settled bets in kick-off order ({first:%Y-%m-%d} to {last:%Y-%m-%d})")


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
    size = 4 if len(bets) <= 60 else 2
    fig, ax = plt.subplots(figsize=(8, 4))
    if len(curve):
        # x: settled bets in kick-off order (0: before the first), so one bet is a step, not a line on a time axis
        ax.plot(np.arange(len(curve)), curve["bankroll"], drawstyle="steps-post", marker="o", markersize=size)
        ax.axhline(rep["starting_bankroll"], color="grey", ls="--", lw=0.8, label="starting bankroll")
        ax.legend()
        _bet_axis(ax, len(bets), bets)
    else:
        _empty(ax, NO_BETS)
    ax.set_title(f"Bankroll from {rep['starting_bankroll']:.0f}, after each settled bet")
    ax.set_ylabel("bankroll")
    save(fig, "bankroll.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    if len(bets):
        steps = np.arange(len(bets) + 1)
        profit = np.concatenate([[0.0], bets["profit_loss"].cumsum().to_numpy(float)])
        expected = np.concatenate([[0.0], (bets["stake"] * bets["clv"].fillna(0.0)).cumsum().to_numpy(float)])
        ax.plot(steps, profit, drawstyle="steps-post", label="profit", marker="o", markersize=size)
        ax.plot(
            steps,
            expected,
            drawstyle="steps-post",
            label="expected profit (sum of stake x fair CLV)",
            marker="o",
            markersize=size,
        )
        ax.axhline(0, color="grey", lw=0.8)
        ax.legend()
        _bet_axis(ax, len(bets), bets)
    else:
        _empty(ax, NO_BETS)
    ax.set_ylabel("cumulative profit")
    ax.set_title("Cumulative profit beside expected profit: the gap is luck")
    save(fig, "profit.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    months = rep["by_month"]
    if months and sum(s.clv.graded for s in months.values()):
        m = np.array([s.clv.flat.mean for s in months.values()]) * 100
        lo = np.array([s.clv.flat.lo for s in months.values()]) * 100
        hi = np.array([s.clv.flat.hi for s in months.values()]) * 100
        x = np.arange(len(months))
        err = np.vstack([np.where(np.isfinite(lo), m - lo, 0), np.where(np.isfinite(hi), hi - m, 0)])
        ax.errorbar(x, m, yerr=err, fmt="o", capsize=4)
        for xi, yi, n in zip(x, m, [s.clv.graded for s in months.values()]):
            ax.annotate(f"n={n}", (xi, yi), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(x, list(months))
        ax.set_xlim(-0.5, len(months) - 0.5)
        ax.set_xlabel("month of kick-off")
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
        rep = build_report(
            conn, ctx.settings.starting_bankroll, PriceRules.from_settings(ctx.settings), ctx.settings.ledger
        )
    write_stdout(format_report(rep))  # `report.py | head` is not a failed run
    if plot_dir is not None:
        for p in write_plots(rep, plot_dir):
            write_stdout(f"wrote {p}")
