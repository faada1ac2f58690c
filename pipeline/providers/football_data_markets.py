"""football-data.co.uk's two-way prices (over/under at every line a file has, Asian handicap) read from a file's
rows into match-frame columns, and from those columns into `MarketPrice` records.

Which columns hold which book's pair, and at which line, is pipeline.markets.fd_columns (2003-06 files quote each
book's handicap at its own line, `B365AH`, `GBAH`, `LBAH`; later ones one line for all, `BbAHh`, `AHh`/`AHCh`).
Every pair is held to the contract in one numpy pass per pair of columns: a pair with both cells blank is no pair;
one with a price that is not a number in 1.01..1000 (as for 1X2), one side missing, or a handicap line that is
missing or not a multiple of 0.25 is a `Rejection` naming file, line, column and value, and only that pair is
dropped: the row and its other prices are kept.

In the match frame a pair keeps the file's column names (`P>2.5`, `PCAHH`, `PCAHA`, NaN where the pair is not
valid) and a handicap pair's line is written beside it as `<prefix>AH` (`PCAH`, `MaxAH`), whichever column the
file quoted it in, so frames of files with different layouts concatenate without one book's line being read from
another layout's column.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from pipeline.markets import FD_TWO_WAY_BOOKS, SELECTIONS, FdColumns, Market, MarketPrice, Selection, fd_columns
from pipeline.providers.contract import (
    BAD_LINE,
    BAD_PAIR_PRICE,
    NO_LINE,
    ODDS_MAX,
    ODDS_MIN,
    ONE_SIDE,
    Rejection,
    shown,
)

_HOME, _AWAY = "AHH", "AHA"


def line_column(cs: FdColumns) -> str:
    """The frame column holding a handicap pair's line: `<prefix>AH`, the prefix with its closing "C"."""
    return cs.columns[0][: -len(_HOME)] + "AH"


def _blank(raw: np.ndarray) -> np.ndarray:
    return np.char.str_len(np.char.strip(raw.astype(str))) == 0


def read_pairs(df: pd.DataFrame, label: str) -> tuple[dict[str, np.ndarray], list[Rejection], list[str]]:
    """Every two-way pair of a file's rows (`df`: the file's text columns and `_line`): the frame columns to add
    (see the module's notes), a rejection per unreadable pair, and a problem per pair of columns whose line (in
    the column names) is not a quarter goal."""
    out: dict[str, np.ndarray] = {}
    rejected: list[Rejection] = []
    problems: list[str] = []
    line_no = df["_line"].to_numpy()
    for cs in fd_columns(df.columns):
        if cs.market is Market.OU:
            try:
                Selection(Market.OU, cs.line, "over")
            except ValueError as exc:
                problems.append(f"{label}: columns {'/'.join(cs.columns)}: {exc}; not read")
                continue
        raw = np.column_stack([df[c].to_numpy(dtype=object) for c in cs.columns]).astype(str)
        blank = _blank(raw)
        present = ~blank.all(axis=1)
        vals = np.column_stack([pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in cs.columns])
        with np.errstate(invalid="ignore"):
            good = np.isfinite(vals) & (vals >= ODDS_MIN) & (vals <= ODDS_MAX)
        pair_ok = good.all(axis=1)
        if cs.line_column is not None:
            raw_line = df[cs.line_column].to_numpy(dtype=object).astype(str)
            line = pd.to_numeric(df[cs.line_column], errors="coerce").to_numpy(float)
            with np.errstate(invalid="ignore"):
                line_ok = np.isfinite(line) & (line * 4 == np.round(line * 4))
        else:
            raw_line = np.full(len(df), "", dtype=object)
            line = np.full(len(df), cs.line, dtype=float)
            line_ok = np.ones(len(df), dtype=bool)
        ok = present & pair_ok & line_ok
        for i in np.flatnonzero(present & ~ok):
            rejected.append(_why(cs, label, int(line_no[i]), raw[i], blank[i], good[i], str(raw_line[i])))
        vals[~ok] = np.nan
        out[cs.columns[0]], out[cs.columns[1]] = vals[:, 0], vals[:, 1]
        if cs.line_column is not None:
            out[line_column(cs)] = np.where(ok, line, np.nan)
    # a bad shared line (`AHh`) breaks every book's pair on the row: one cell, named once
    return out, list(dict.fromkeys(rejected)), problems


def _why(cs: FdColumns, label: str, line: int, raw, blank, good, raw_line: str) -> Rejection:
    """The rejection of one unreadable pair: the first side that is not a price, else the line."""
    for j, column in enumerate(cs.columns):
        if blank[j]:
            return Rejection(label, line, column, shown(""), ONE_SIDE)
        if not good[j]:
            return Rejection(label, line, column, shown(raw[j].strip()), BAD_PAIR_PRICE)
    assert cs.line_column is not None  # a totals pair's line is its columns' name, checked once per file
    rule = NO_LINE if not raw_line.strip() else BAD_LINE
    return Rejection(label, line, cs.line_column, shown(raw_line.strip()), rule)


def frame_sets(columns: Iterable[str]) -> list[FdColumns]:
    """The two-way pairs a match frame carries (`read_pairs`' columns): totals as fd_columns finds them, handicap
    pairs with their `<prefix>AH` line column."""
    cols = list(columns)
    have = set(cols)
    out = [cs for cs in fd_columns(cols) if cs.market is Market.OU]
    for c in cols:
        if not c.endswith(_HOME) or (away := c[: -len(_HOME)] + _AWAY) not in have:
            continue
        prefix = c[: -len(_HOME)]
        book, closing = (prefix, False) if prefix in FD_TWO_WAY_BOOKS else (prefix[:-1], True)
        if book not in FD_TWO_WAY_BOOKS or (closing and not prefix.endswith("C")) or prefix + "AH" not in have:
            continue
        out.append(FdColumns(Market.AH, book, closing, (c, away), line_column=prefix + "AH"))
    return out


def market_prices(
    frame: pd.DataFrame, ids: list[str], kickoffs: list[datetime], finished: bool, odds_time: datetime | None
) -> list[MarketPrice]:
    """The frame's valid two-way pairs as prices, dated as the row's 1X2 snapshots are (pre-match at `odds_time`,
    else a day before kick-off; closing, of finished matches only, at kick-off)."""
    out: list[MarketPrice] = []
    selections: dict[tuple[Market, float], tuple[Selection, ...]] = {}  # one object per selection, not per price
    for cs in frame_sets(frame.columns):
        if cs.closing and not finished:
            continue
        # one column at a time: a list of columns from a wide frame costs more than the loop below
        first, second = (frame[c].to_numpy(float) for c in cs.columns)
        lines = frame[cs.line_column].to_numpy(float) if cs.line_column else np.full(len(frame), cs.line)
        rows = np.flatnonzero(np.isfinite(first) & np.isfinite(second) & np.isfinite(lines))
        if not len(rows):
            continue
        sides, book, closing = SELECTIONS[cs.market], cs.bookmaker, cs.closing
        for i, line, a, b in zip(rows.tolist(), lines[rows].tolist(), first[rows].tolist(), second[rows].tolist()):
            ko = kickoffs[i]
            when = ko if closing else (odds_time or ko - timedelta(days=1))
            pair = selections.get((cs.market, line))
            if pair is None:
                pair = selections[(cs.market, line)] = tuple(Selection(cs.market, line, side) for side in sides)
            out.append(MarketPrice(ids[i], book, pair[0], a, closing, when))
            out.append(MarketPrice(ids[i], book, pair[1], b, closing, when))
    return out


__all__ = ["frame_sets", "line_column", "market_prices", "read_pairs"]
