"""Text for people: the bet-statistics table and summary the report and the backtest both print, and the
backtest's whole result."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.evaluation.bet_stats import BetStats, Estimate
from pipeline.evaluation.by_market import lines_text
from pipeline.odds import METHODS

SHORT = {"multiplicative": "mult", "power": "power", "shin": "shin"}


def pct(x: float | None, digits: int = 1) -> str:
    """'+1.9%'; '-' for a missing figure."""
    return "-" if x is None or not np.isfinite(x) else f"{100 * x:+.{digits}f}%"


def interval(e: Estimate, digits: int = 1) -> str:
    """'+1.9% [+0.8, +3.0]' (the bounds with `digits`); '[n/a]' without an interval, '-' without a mean."""
    if not np.isfinite(e.mean):
        return "-"
    if not (np.isfinite(e.lo) and np.isfinite(e.hi)):
        return f"{pct(e.mean, digits)} [n/a]"
    return f"{pct(e.mean, digits)} [{100 * e.lo:+.{digits}f}, {100 * e.hi:+.{digits}f}]"


def _share(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{100 * x:.0f}%"


def bet_table(groups: Sequence[tuple[str, BetStats]], key: str) -> str:
    """One row per group of bets (its name in column `key`): bets, staked, profit, ROI and fair CLV with their
    intervals, stake-weighted CLV, CLV graded by each method, the share beating the fair close."""
    if key in {"bets", "staked", "profit"}:
        raise ValueError(f"the group column cannot be named {key!r}")
    rows = [
        {
            key: str(name),
            "bets": s.bets,
            "staked": f"{s.turnover:.2f}",
            "profit": f"{s.profit:+.2f}",
            "ROI [95% CI]": interval(s.roi),
            "fair CLV [95% CI]": interval(s.clv.flat),
            "stake-wtd CLV": pct(s.clv.stake_weighted.mean),
            **{f"CLV {SHORT[m]}": pct(s.by_method[m].flat.mean) for m in METHODS if m in s.by_method},
            "beat close": _share(s.clv.share_beating),
        }
        for name, s in groups
    ]
    return pd.DataFrame(rows).to_string(index=False)


def bet_summary(s: BetStats) -> list[str]:
    """The headline of a group of bets: fair CLV flat and stake-weighted, by each method, ROI."""
    return [
        f"  fair CLV        flat {interval(s.clv.flat, 2)}   stake-weighted {interval(s.clv.stake_weighted, 2)}   "
        f"beating the fair close {pct(s.clv.share_beating, 0).lstrip('+')} of {s.clv.graded} bets",
        "  graded by       " + "   ".join(f"{m} {interval(c.flat, 2)}" for m, c in s.by_method.items()),
        f"  ROI             {interval(s.roi, 2)}   (over few bets mostly luck; CLV is the evidence)",
    ]


def _score_lines(table: dict) -> list[str]:
    lines = [f"  {'forecaster':<20}{'n':>7}{'log loss':>10}{'Brier':>8}{'RPS':>8}{'acc':>7}"]
    for name, m in table.items():
        lines.append(
            f"  {name:<20}{m['n']:>7}{m['log_loss']:>10.4f}{m['brier']:>8.4f}{m['rps']:>8.4f}{m['accuracy']:>7.3f}"
        )
    return lines


def market_lines(rule) -> list[str]:
    """A rule's bets by market (when it bets more than one): the table, and the two-way bets without a sharp close
    at their line."""
    stats = rule.by_market_stats
    if len(stats) < 2:
        return []
    return ["  by market (overall: all together):", *bet_table(list(stats.items()), "market").splitlines()] + (
        lines_text(rule.by_market)
    )


def market_score_lines(by_market: dict) -> list[str]:
    """The two-way markets' log loss (scores.by_market): the models and the sharp prices on the same matches."""
    lines = []
    for market, d in by_market.items():
        ll = d["log_loss"]
        extra = f", close at another line {d['close_at_another_line']}" if "close_at_another_line" in d else ""
        lines += [
            "",
            f"{market} ({d['selection']} at {d['line']}; sharp margin removed by {d['margin_removed_by']}): "
            f"{d['matches']} matches (pushed {d['pushed']}, half pushed {d['half_pushed']}{extra})",
            "  log loss: "
            + ", ".join(f"{k} {'-' if v is None else f'{v:.4f}'}" for k, v in ll.items())
            + f"; dixon_coles on every match ({d['dixon_coles_every_match']['matches']}): "
            + (
                "-"
                if d["dixon_coles_every_match"]["log_loss"] is None
                else f"{d['dixon_coles_every_match']['log_loss']:.4f}"
            ),
        ]
    return lines


def _betting(rule) -> list[str]:
    """A rule's bets: the table overall, by season and by league, its headline and bankroll."""
    o = rule.overall
    groups = [("overall", o), *rule.by_season.items(), *rule.by_league.items()]
    return [
        *bet_table(groups, "group").splitlines(),
        *market_lines(rule),
        *bet_summary(o),
        f"  bankroll {rule.bankroll:.2f} -> {rule.bankroll + o.profit:.2f}; expected profit "
        f"(sum of stake x fair CLV) {o.clv.expected_profit:+.0f}; bets without a sharp close {o.ungraded}",
    ]


def _diff(d: dict, scale: float = 1.0, digits: int = 5) -> str:
    if d.get("diff") is None:
        return "-"
    ci = d.get("ci95")
    text = f"{scale * d['diff']:+.{digits}f}"
    return text + (f" [{scale * ci[0]:+.{digits}f}, {scale * ci[1]:+.{digits}f}]" if ci else " [n/a]")


def fair_line_lines(paired: dict, fair_lines: dict) -> list[str]:
    """The two fair lines compared: the close model's scores against Pinnacle's pre-match price, and its bets
    against the plain rule's (all bets, the matches both bet, at equal volume); 95% intervals by match day."""
    lines = ["", f"The two fair lines (FAIR_LINE={fair_lines.get('production', '?')} is the one production follows):"]
    for key, d in paired.items():
        if key.startswith("close_model_minus_"):
            lines.append(
                f"  {key.replace('_', ' ')} on {d['log_loss']['n']} matches: log loss {_diff(d['log_loss'])}; "
                f"cross-entropy vs the fair close {_diff(d['ce_vs_fair_close'])}"
            )
    b = fair_lines.get("bets", {})
    lines.append(
        f"  bets: close model {b.get('close_model')}, sharp {b.get('sharp')}, the same bet {b.get('same_bet')}; "
        f"matches both bet {fair_lines.get('matches_both_bet')}"
    )
    for m, d in fair_lines.get("close_model_minus_sharp", {}).items():
        lines.append(
            f"  CLV {SHORT[m]:<5} close model - sharp: all bets {_diff(d['all_bets'], 100, 2)} points; on the "
            f"matches both bet {_diff(d['matches_both_bet'], 100, 2)} points ({d['matches_both_bet']['n']})"
        )
    eq = fair_lines.get("equal_volume")
    if eq:
        lines.append(
            f"  equal volume: the sharp rule with MIN_EDGE {eq['sharp_min_edge']:.4f} places {eq['sharp']['bets']} "
            f"bets, fair CLV {pct(eq['sharp']['clv_fair_mean'], 2)}; close model - sharp: "
            + "; ".join(f"{SHORT[m]} {_diff(d['all_bets'], 100, 2)}" for m, d in eq["close_model_minus_sharp"].items())
        )
    return lines


def guard_lines(rule) -> list[str]:
    """A rule's price-error guards (what they set aside, by rule; the same rule without them) and its fair CLV by EV
    at bet time, briefly."""
    lines = []
    if rule.skipped is not None:
        skips = ", ".join(f"{r} {n}" for r, n in rule.skipped.items() if n) or "none"
        lines.append(f"  price-error guards set aside {sum(rule.skipped.values())} candidates ({skips})")
    if rule.without_guards is not None:
        w = rule.without_guards
        lines.append(f"  without the guards: {w.bets} bets, fair CLV {interval(w.clv.flat, 2)}")
    lines.append(
        "  fair CLV by EV at bet time: "
        + " | ".join(f"{name} {s.bets} bets {interval(s.clv.flat, 2)}" for name, s in rule.by_edge.items())
    )
    return lines


def format_result(result) -> str:
    """A BacktestResult (pipeline.evaluation.backtest) as the command prints it."""
    info = result.info
    lines = [
        f"Walk-forward backtest {result.start.date()} to {result.end.date()}: {info['test_matches']} test "
        f"matches, {info['scored_matches']} scored (every forecaster on exactly these matches; left out: "
        f"{info['left_out']})."
    ]
    for name, counts in info.get("prices", {}).items():
        lines.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + " (margin removed)")
    for league, table in result.scores.items():
        lines += ["", f"{league}:", *_score_lines(table)]
    lines += market_score_lines(getattr(result, "market_scores", {}))
    paired = info.get("paired_log_loss", {}).get("ensemble_minus_market_recalibrated")
    if paired:
        lines.append(
            f"ensemble minus market_recalibrated, log loss paired on {paired['n']} matches: "
            f"{paired['diff']:+.5f} (se {paired['se']:.5f}, clustered by match day)"
        )
    est = info.get("established_teams", {})
    if est.get("scores"):
        lines += ["", f"overall, established teams only ({est['definition']}): {est['n']} matches"]
        lines += _score_lines(est["scores"])[1:]
    value, previous = result.value, result.previous
    lines += ["", f"Value bets ({value.rule}):", *_betting(value), *guard_lines(value)]
    if result.close is not None:
        lines += ["", f"Value bets against the close model ({result.close.rule}):", *_betting(result.close)]
        lines += fair_line_lines(info.get("paired_close_model", {}), result.fair_lines)
    lines += ["", f"Beside it, {previous.rule}:", *_betting(previous)]
    lines.append(f"  (margin-inclusive ratio price / closing price - 1, not CLV: {pct(previous.margin_inclusive, 2)})")
    lines.append(f"timings (s): {info['timings_seconds']}")
    return "\n".join(lines)


__all__ = [
    "pct",
    "interval",
    "bet_table",
    "bet_summary",
    "fair_line_lines",
    "guard_lines",
    "market_lines",
    "market_score_lines",
    "format_result",
]
