"""The two-way markets' prices (over/under, Asian handicap) of the backtest's matches, read from the same
football-data files as its match frame and keyed by the frame's match ids.

The reader of the match frame (pipeline.providers.football_data_csv) keeps the 1X2 columns only, so each season
file of the frame's leagues and seasons is read once more here: every (market, book, pre-match/closing, line) pair
the header carries (pipeline.markets.fd_columns) of the books asked for, each row's prices read by
pipeline.markets.fd_row_prices. A row is matched to the frame's match by league, UK date and the clubs (their
canonical names slugged, as pipeline.providers.football_data_identity names them), the match id being the frame's.
Nothing is dropped silently: a price pair that cannot be read and a row with two-way prices that matches no match
of the frame (the reader skipped it, and named it) are each one line in `problems`. The files carry no times:
`fetched_at` is None (price_times False for pipeline.betting.two_way).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.bookmakers import canonical
from pipeline.markets import MarketPrice, fd_columns, fd_row_prices
from pipeline.providers import football_data_rows as rows
from pipeline.providers.base import clean_text
from pipeline.providers.football_data_csv import read_bytes
from pipeline.providers.football_data_identity import canonical_names, country_of, slug
from pipeline.providers.text_decoding import decode

LONDON = rows.LONDON


@dataclass(frozen=True)
class TwoWayPrices:
    """Every two-way price of the backtest's matches by match id (pre-match and closing), and what could not be
    read, one line each."""

    by_match: dict[str, tuple[MarketPrice, ...]] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_match.values())

    def of(self, match_ids: Iterable[str], closing: bool) -> list[MarketPrice]:
        """The pre-match (closing False) or closing prices of `match_ids`."""
        return [p for m in match_ids for p in self.by_match.get(m, ()) if p.closing == closing]


def _keys(league: str, day: pd.Series, home: pd.Series, away: pd.Series) -> pd.Series:
    country = pd.Series(country_of(league), index=home.index)
    h, a = slug(canonical_names(home, country)), slug(canonical_names(away, country))
    return league + "|" + day + "|" + h + "|" + a


def frame_keys(frame: pd.DataFrame) -> pd.Series:
    """Each match's key (league, UK date of kick-off, clubs): how a file row finds its match id."""
    day = frame["kickoff"].dt.tz_convert(LONDON).dt.strftime("%Y%m%d")
    return pd.concat(
        [_keys(str(lg), day[g.index], g["home_team"], g["away_team"]) for lg, g in frame.groupby("league")]
    ).reindex(frame.index)


def read_file(
    path: Path,
    league: str,
    ids: dict[str, str],
    books: set[str],
    days: tuple[str, str] = ("", "99999999"),
    closing_books: set[str] | None = None,
) -> tuple[list[MarketPrice], list[str]]:
    """One season file's two-way prices of `books` (canonical names; closing prices of `closing_books`, default
    the same), for the rows whose key is in `ids`; a row dated within `days` (first, last: YYYYMMDD) that matches
    none is named, one outside them is not wanted."""
    at_close = books if closing_books is None else closing_books
    label = str(path)
    raw = read_bytes(path)
    if not raw:
        return [], []  # a missing or unreadable file: the match frame's reader has named it
    try:
        # blank lines kept, as the reader keeps them: a problem names the file's own line number
        df = pd.read_csv(io.StringIO(decode(raw, label)), dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (ValueError, pd.errors.ParserError) as exc:
        return [], [f"{label}: two-way prices not read ({type(exc).__name__}); file skipped"]
    df.columns = [clean_text(str(c)) for c in df.columns]
    sets = [
        s for s in fd_columns(df.columns) if s.bettable and canonical(s.bookmaker) in (at_close if s.closing else books)
    ]
    if not sets or not {"Date", "HomeTeam", "AwayTeam"} <= set(df.columns):
        return [], []
    f = rows.fields(df)
    day = rows.dates(f["Date"]).dt.strftime("%Y%m%d").fillna("")
    keys = _keys(league, day, f["HomeTeam"], f["AwayTeam"])
    cols = sorted({c for s in sets for c in (*s.columns, s.line_column) if c})
    prices: list[MarketPrice] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, (key, d, record) in enumerate(zip(keys, day, df[cols].to_dict("records"))):
        match_id = ids.get(key)
        if match_id is None or match_id in seen:
            priced = any(str(v).strip() for c, v in record.items() if c not in ("AHh", "AHCh"))
            if priced and (match_id is not None or days[0] <= d <= days[1] or not d):
                why = "a second row of the same match" if match_id else "no match of the backtest's frame"
                problems.append(f"{label}:{i + 2}: {why}; its two-way prices skipped")
            continue
        seen.add(match_id)
        got, bad = fd_row_prices(record, match_id, sets)
        prices += got
        problems += [f"{label}:{i + 2}: {b}" for b in bad]
    return prices, problems


def read_two_way(
    data_dir, frame: pd.DataFrame, books: Iterable[str], closing_books: Iterable[str] | None = None
) -> TwoWayPrices:
    """The two-way prices of `books` for every match of `frame` (league, season, kickoff, clubs, match_id), from
    DIR/mmz4281/<season>/<league>.csv; closing prices only of `closing_books` (default: all of `books`; the
    backtest grades against the sharp books' close alone)."""
    wanted = {canonical(b) for b in books}
    at_close = wanted if closing_books is None else {canonical(b) for b in closing_books}
    by_match: dict[str, list[MarketPrice]] = defaultdict(list)
    problems: list[str] = []
    if frame.empty:
        return TwoWayPrices()
    keys = frame_keys(frame)
    for (league, season), g in frame.groupby(["league", "season"]):
        ids = dict(zip(keys[g.index], g["match_id"]))
        path = Path(data_dir) / "mmz4281" / str(season) / f"{league}.csv"
        local = g["kickoff"].dt.tz_convert(LONDON).dt.strftime("%Y%m%d")
        got, bad = read_file(path, str(league), ids, wanted, (local.min(), local.max()), at_close)
        for p in got:
            by_match[p.match_id].append(p)
        problems += bad
    return TwoWayPrices({k: tuple(v) for k, v in by_match.items()}, tuple(problems))


__all__ = ["TwoWayPrices", "frame_keys", "read_file", "read_two_way"]
