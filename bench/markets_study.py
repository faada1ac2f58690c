#!/usr/bin/env python3
"""Over/under 2.5 and the Asian handicap on football-data's files: the 1X2 sharp-vs-soft rule applied to the
two-way markets, graded against the sharp close at the bet's own line (issue 25).

    PYTHONPATH=$PWD python bench/markets_study.py [--from 2019-07-01 --to 2024-06-30 --leagues E0,D1,F1,I1,SP1]

The rule, as production's for 1X2: the fair probability is Pinnacle's pre-match pair with the margin removed by
the fair method; the bet is at the best price among the bettable books other than the sharp one that the file has
for the market (pipeline.markets.fd_columns; Max/Avg are aggregates); a side is a candidate at EV >= MIN_EDGE
with the odds and probability in range, sized by pipeline.betting.strategy.select_bets (fractional Kelly for the
two exclusive sides, the caps; bankroll carried week to week, each week settled by
pipeline.betting.market_settlement before the next is sized). Guards: off, or the 1X2 defaults read as two-way
rules (pipeline.betting.guards has 1X2 candidates only): the sharp pair's booksum in [1.00, 1.12], EV <= MAX_EDGE,
price / fair price <= MAX_PRICE_RATIO. Grade: fair CLV (pipeline.odds.fair_clv) against Pinnacle's closing pair
at the bet's line, margin removed by each method; a handicap bet whose line moved (AHCh != AHh) has no close at
its line: NaN and counted, never graded at the other line. Means with 95% intervals clustered by match day
(pipeline.value_stats.mean_ci).

Matches are read with the project's reader (pipeline.providers.football_data_csv.parse_csv). It keeps only the
1X2 prices, so the two-way columns are read from the same files here with pandas and joined on (date, home, away).

Findings (top-5, 2019-07-01..2024-06-30, 8,955 matches; fair CLV mean [95% CI clustered by match day]):
- Only Bet365 quotes both markets besides Pinnacle and the aggregates, so "the soft books" are Bet365 alone.
- OU 2.5, MIN_EDGE 2%: fair multiplicative 67 bets, power 42, Shin 44 (issue 25's 42-67 reproduced); graded by
  their own method +9.7% (mult) and +8.5% (power), as the issue quotes; by the Shin close +6.3% [+2.5, +10.2],
  +10.1% [+6.8, +13.5], +10.7% [+6.9, +14.5]. 63 of the 67 are unders at 3.2-4.3, many on last-round match days.
- CLV rises with EV (mult: EV 2-5% -2.3%, 17.5-25% +17.1%, >25% +25.5% by the Shin close), so the 1X2 MAX_EDGE
  (0.175) costs two-way bets their best: multiplicative falls to 52 bets at +2.4% [-0.4, +5.3]. Two-way guard
  defaults cannot be chosen on 2014-15..2018-19: those files carry only the Betbrain max/average for OU and AH (no
  sharp, no soft book, no close). Chosen instead on 2019-20+2020-21 by bench/guards_study.py's rule: MAX_EDGE none
  for OU and AH (looser never cost; 2021-24 agrees: +2.30 units at none vs +1.61 at 0.175); the booksum range
  1.00-1.12 and MAX_PRICE_RATIO 1.5 skip nothing (Pinnacle's OU pairs add to 1.018-1.071, AH 1.014-1.055).
- AH at the bet's line: 15-18 bets, 7-10 of them without a Pinnacle close at their line (AHCh != AHh on 3,336
  of 8,947 matches); the graded ones +1.7% [-1.9, +5.3].
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import click
import numpy as np
import pandas as pd
from common import machine, need_data

from pipeline.betting.guards import GuardSettings
from pipeline.betting.market_settlement import NO_CLOSE_AT_LINE, settle_market, two_way_clv
from pipeline.betting.strategy import StrategyParams, select_bets
from pipeline.config import load_settings
from pipeline.evaluation.walk_forward import week_index
from pipeline.markets import SELECTIONS, Market, Selection, fd_columns
from pipeline.odds import METHODS, implied_probabilities
from pipeline.outcomes import index_of
from pipeline.providers.base import clean_text
from pipeline.providers.football_data_csv import LONDON, parse_csv
from pipeline.records import ValueCandidate
from pipeline.value_stats import mean_ci, roi_ci

SHARP = "P"
SEASONS_1924 = ("1920", "2021", "2122", "2223", "2324")
CHOICE_SEASONS = ("1920", "2021")  # the guard choice: the window's first two seasons (2014-19 has no such prices)
MAX_EDGE_GRID = (0.10, 0.125, 0.15, 0.175, 0.20, 0.25, 0.30, None)  # strict to loose, as bench/guards_study.py
TOLERANCE = 0.5  # units of summed fair CLV a guard may cost on the choice seasons (bench/guards_study.py)


def _seasons(start: str, end: str) -> list[str]:
    a, b = int(start[:4]) if int(start[5:7]) >= 7 else int(start[:4]) - 1, int(end[:4])
    return [f"{y % 100:02d}{(y + 1) % 100:02d}" for y in range(a, b) if y < b]


def _pairs(raw: pd.DataFrame, market: Market, closing: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """book prefix -> ((n, 2) prices, (n,) line) for `market` (2.5 only for totals), NaN rows unless both sides
    are valid prices and the line a multiple of 0.25."""
    out = {}
    for cs in fd_columns(raw.columns):
        if cs.market is not market or cs.closing != closing or (market is Market.OU and cs.line != 2.5):
            continue
        prices = np.column_stack([pd.to_numeric(raw[c], errors="coerce").to_numpy(float) for c in cs.columns])
        line = (
            np.full(len(raw), cs.line)
            if cs.line_column is None
            else pd.to_numeric(raw[cs.line_column], errors="coerce").to_numpy(float)
        )
        with np.errstate(invalid="ignore"):
            ok = (prices > 1).all(axis=1) & np.isfinite(line) & (line * 4 == np.round(line * 4))
        prices[~ok] = np.nan
        out[cs.book_prefix if cs.bettable or cs.book_prefix == SHARP else f"~{cs.book_prefix}"] = (prices, line)
    return out


def load(data, leagues, seasons, start, end) -> tuple[pd.DataFrame, dict]:
    """One row per match: identity and score from parse_csv; per market the sharp pre/close pair and line, the
    bettable books' pre-match pairs. Also how many rows the join lost."""
    frames, lost = [], 0
    for season in seasons:
        for league in leagues:
            path = data / "mmz4281" / season / f"{league}.csv"
            if not path.exists():
                continue
            frame, _ = parse_csv(path, league, season)
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="latin-1")
            raw = raw[raw["HomeTeam"].str.strip() != ""]
            raw["_day"] = pd.to_datetime(raw["Date"].str.strip(), dayfirst=True, format="mixed").dt.strftime("%Y%m%d")
            raw["_home"], raw["_away"] = raw["HomeTeam"].map(clean_text), raw["AwayTeam"].map(clean_text)
            raw = raw.drop_duplicates(["_day", "_home", "_away"]).reset_index(drop=True)
            cols: dict[str, np.ndarray] = {}
            for market in (Market.OU, Market.AH):
                m = market.value
                for closing in (False, True):
                    for book, (prices, line) in _pairs(raw, market, closing).items():
                        tag = f"{m}_{book}_{'close' if closing else 'pre'}"
                        cols[f"{tag}_0"], cols[f"{tag}_1"], cols[f"{tag}_line"] = prices[:, 0], prices[:, 1], line
            extra = pd.concat([raw[["_day", "_home", "_away"]], pd.DataFrame(cols, index=raw.index)], axis=1)
            frame["_day"] = frame["kickoff"].dt.tz_convert(LONDON).dt.strftime("%Y%m%d")
            joined = frame.merge(
                extra, left_on=["_day", "home_team", "away_team"], right_on=["_day", "_home", "_away"], how="left"
            )
            lost += int(joined["_home"].isna().sum())
            frames.append(joined.drop(columns=["_day", "_home", "_away"]))
    df = pd.concat(frames, ignore_index=True)
    df = df[(df["kickoff"] >= pd.Timestamp(start, tz="UTC")) & (df["kickoff"] < pd.Timestamp(end, tz="UTC"))]
    return df.sort_values("kickoff", kind="stable").reset_index(drop=True), {"unjoined_rows": lost}


def _pair(df: pd.DataFrame, tag: str) -> np.ndarray:
    cols = [f"{tag}_0", f"{tag}_1"]
    return df[cols].to_numpy(float) if all(c in df for c in cols) else np.full((len(df), 2), np.nan)


def _line(df: pd.DataFrame, tag: str) -> np.ndarray:
    return df[f"{tag}_line"].to_numpy(float) if f"{tag}_line" in df else np.full(len(df), np.nan)


@dataclass(frozen=True)
class Run:
    market: Market
    fair_method: str
    guards: GuardSettings | None
    label: str = "off"


def best_soft(df: pd.DataFrame, market: Market, sharp_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) best bettable pre-match price per side at the sharp book's line, and its book prefix."""
    m = market.value
    books = sorted({c.split("_")[1] for c in df.columns if c.startswith(f"{m}_") and c.endswith("_pre_0")})
    books = [b for b in books if b != SHARP and not b.startswith("~")]
    best = np.full((len(df), 2), np.nan)
    book = np.full((len(df), 2), None, dtype=object)
    for b in books:
        p = _pair(df, f"{m}_{b}_pre")
        same = np.isclose(_line(df, f"{m}_{b}_pre"), sharp_line)
        with np.errstate(invalid="ignore"):
            take = same[:, None] & np.isfinite(p) & ~(p <= best)
        best[take], book[take] = p[take], b
    return best, book


def run(df: pd.DataFrame, r: Run, params: StrategyParams, bankroll: float = 1000.0) -> pd.DataFrame:
    m = r.market.value
    line = _line(df, f"{m}_{SHARP}_pre")
    sharp = _pair(df, f"{m}_{SHARP}_pre")
    fair = implied_probabilities(sharp, r.fair_method)
    odds, books = best_soft(df, r.market, line)
    with np.errstate(invalid="ignore"):
        ev = fair * odds - 1
        ok = np.isfinite(ev)
        if r.guards is not None:
            g = r.guards
            booksum = (1 / sharp).sum(axis=1)
            ok &= ((booksum >= g.sharp_booksum_min) & (booksum <= g.sharp_booksum_max))[:, None]
            if g.max_edge is not None:
                ok &= ev <= g.max_edge
            if g.max_price_ratio is not None:
                ok &= odds * fair <= g.max_price_ratio
    odds = np.where(ok, odds, np.nan)
    rows = np.flatnonzero(np.isfinite(fair).all(axis=1) & np.isfinite(odds).any(axis=1))
    if not len(rows):
        return pd.DataFrame()
    kick = df["kickoff"].iloc[rows]
    origin = (kick.min() - pd.Timedelta(days=kick.min().day_of_week)).normalize()
    weeks = week_index(kick, origin)
    out = []
    for w in np.unique(weeks):
        cands = [
            ValueCandidate(
                fixture_id=int(i),
                kickoff=df["kickoff"].iat[i],
                # the strategy sizes up to three exclusive outcomes: a two-way market is the first two, the third
                # never priced (NaN), so it is never a candidate
                fair_probs=(fair[i, 0], fair[i, 1], np.nan),
                odds=(odds[i, 0], odds[i, 1], np.nan),
            )
            for i in rows[weeks == w]
        ]
        week_profit = 0.0
        for b in select_bets(cands, bankroll, params):
            i, k = int(b.fixture_id), index_of(b.outcome)
            sel = Selection(r.market, float(line[i]), SELECTIONS[r.market][k])
            s = settle_market(sel, int(df["home_goals"].iat[i]), int(df["away_goals"].iat[i]), b.stake, b.odds)
            out.append(
                {
                    "row": i,
                    "match_day": str(df["kickoff"].iat[i].date()),
                    "season": df["season"].iat[i],
                    "side": k,
                    "line": float(line[i]),
                    "book": books[i, k],
                    "odds": b.odds,
                    "stake": b.stake,
                    "edge": b.edge,
                    "result": s.result,
                    "profit": s.profit,
                }
            )
            week_profit += s.profit
        bankroll = round(bankroll + week_profit, 2)
    bets = pd.DataFrame(out)
    i = bets["row"].to_numpy(int)
    close = _pair(df, f"{m}_{SHARP}_close")[i]
    close_line = _line(df, f"{m}_{SHARP}_close")[i]
    for method in METHODS:
        clv, why = two_way_clv(bets["odds"], bets["line"], bets["side"], close_line, close, method)
        bets[f"clv_{method}"] = clv
    bets["no_close_at_line"] = why == NO_CLOSE_AT_LINE
    bets["no_close"] = pd.isna(bets["clv_shin"]) & ~bets["no_close_at_line"]
    return bets


def _units(bets: pd.DataFrame) -> float:
    return float(bets["clv_shin"].sum()) if len(bets) else 0.0


def summary(bets: pd.DataFrame) -> dict:
    if bets.empty:
        return {"bets": 0}
    out: dict = {
        "bets": len(bets),
        "no_close_at_line": int(bets["no_close_at_line"].sum()),
        "no_close": int(bets["no_close"].sum()),
        "graded": int(bets["clv_shin"].notna().sum()),
        "mean_edge": float(bets["edge"].mean()),
        "by_result": bets["result"].value_counts().to_dict(),
    }
    for method in METHODS:
        out[f"clv_{method}"] = mean_ci(bets[f"clv_{method}"], clusters=bets["match_day"])
    out["roi"] = roi_ci(bets["profit"], bets["stake"], clusters=bets["match_day"])
    return out


def _ci(t) -> str:
    m, lo, hi = t
    return f"{m:+.1%} [{lo:+.1%}, {hi:+.1%}]"


def table(results: list[tuple[Run, str, dict]]) -> str:
    head = (
        f"{'market':6} {'fair':14} {'guards':6} {'period':9} {'bets':>4} {'no close@line':>13} "
        f"{'CLV shin close':>24} {'CLV power close':>24} {'CLV mult close':>24} {'ROI':>24}"
    )
    lines = [head, "-" * len(head)]
    for r, period, s in results:
        if not s["bets"]:
            lines.append(f"{r.market.value:6} {r.fair_method:14} {r.label:6} {period:9}    0")
            continue
        lines.append(
            f"{r.market.value:6} {r.fair_method:14} {r.label:6} {period:9} {s['bets']:>4} "
            f"{s['no_close_at_line']:>13} {_ci(s['clv_shin']):>24} {_ci(s['clv_power']):>24} "
            f"{_ci(s['clv_multiplicative']):>24} {_ci(s['roi']):>24}"
        )
    return "\n".join(lines)


@click.command()
@click.option("--from", "start", default="2019-07-01")
@click.option("--to", "end", default="2024-06-30")
@click.option("--leagues", default="E0,D1,F1,I1,SP1")
@click.option("--json-out", type=click.Path(dir_okay=False), default=None)
def main(start: str, end: str, leagues: str, json_out: str | None) -> None:
    data = need_data()
    df, notes = load(data, leagues.split(","), _seasons(start, end), start, end)
    settings = load_settings(data_source="sandbox")
    params = StrategyParams.from_settings(settings)
    print(machine())
    print(f"{len(df)} matches {start}..{end}; {notes['unjoined_rows']} rows without two-way columns joined")
    for m in ("OU", "AH"):
        have = np.isfinite(_pair(df, f"{m}_{SHARP}_pre")).all(axis=1)
        moved = ~np.isclose(_line(df, f"{m}_{SHARP}_pre"), _line(df, f"{m}_{SHARP}_close"))
        print(f"{m}: Pinnacle pre-match pair on {have.sum()} matches; close at another line on {(have & moved).sum()}")
    choice = df[df["season"].isin(CHOICE_SEASONS)]
    later = df[~df["season"].isin(CHOICE_SEASONS)]
    chosen = {}
    print(f"\nMAX_EDGE for two-way markets, fair {settings.fair_method}: bets / summed fair CLV (Shin close), each")
    print(f"bet one unit; chosen on {'+'.join(CHOICE_SEASONS)} (the 2014-19 files have no sharp or soft two-way price)")
    for market in (Market.OU, Market.AH):
        grid = []
        for max_edge in MAX_EDGE_GRID:
            g = dataclasses.replace(GuardSettings(), max_edge=max_edge)
            a, b = (run(part, Run(market, settings.fair_method, g), params) for part in (choice, later))
            grid.append((max_edge, a, b))
        best = max(_units(a) for _, a, _ in grid)
        chosen[market] = next(e for e, a, _ in reversed(grid) if _units(a) >= best - TOLERANCE)
        for e, a, b in grid:
            mark = " <- chosen" if e == chosen[market] else ""
            print(
                f"  {market.value} MAX_EDGE {e!s:5}: choice {len(a):3} bets {_units(a):+6.2f}; "
                f"later {len(b):3} bets {_units(b):+6.2f}{mark}"
            )
    results = []
    for market in (Market.OU, Market.AH):
        two_way = dataclasses.replace(GuardSettings(), max_edge=chosen[market])
        for label, guards in (("off", None), ("1X2", GuardSettings()), ("2-way", two_way)):
            for method in METHODS:
                r = Run(market, method, guards, label)
                bets = run(df, r, params)
                results.append((r, "all", summary(bets)))
                if not bets.empty and label == "2-way" and method == settings.fair_method:
                    for season, g in bets.groupby("season"):
                        results.append((r, str(season), summary(g)))
    print(
        f"\nMIN_EDGE {params.min_edge}, odds {params.min_odds}-{params.max_odds}, Kelly x{params.kelly_fraction}; "
        "guards: off, the 1X2 defaults, or those with the two-way MAX_EDGE chosen above"
    )
    print(table(results))
    if json_out:
        rows = [
            {"market": r.market.value, "fair": r.fair_method, "guards": bool(r.guards), "period": p} | s
            for r, p, s in results
        ]
        with open(json_out, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
