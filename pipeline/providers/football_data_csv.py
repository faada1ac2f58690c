"""football-data.co.uk's CSV files read into match frames: season files `mmz4281/<season>/<Div>.csv` and
`fixtures.csv`. Where the files come from (a local directory or the site) is pipeline.providers.football_data.

The layout drifts over the years and the parser takes all of it: dd/mm/yy and dd/mm/yyyy dates, no `Time`
column before 2019-20, bookmaker columns that come and go, blank trailing rows and columns, UTF-8 or older
Western encodings (pipeline.providers.text_decoding, line by line). Every row is held to the validation contract
(pipeline.providers.football_data_rows): a row that breaks it is skipped and named (file, line, column, value,
rule) as a `Rejection`; the rest of the file is used.

Kick-off times on the site are UK local time (Europe/London, with summer time) and are stored in UTC.
ASSUMPTION: when a season has no `Time` column, or a row has no time, kick-off is taken as 15:00 UK time,
the traditional Saturday kick-off; such times are approximate (by design, no job depends on them to the hour).

Prices: every bookmaker a file has (`bookmakers.FOOTBALL_DATA_PREFIXES`: PS is Pinnacle, B365 Bet365, ..., Max/Avg
and BbMx/BbAv the aggregates) keeps its columns as the file names them (PSH, PSCH, ...); a book's row counts only
when its three prices are valid (numeric, 1.01..1000). Over/under and Asian handicap pairs, every book and line,
are read by pipeline.providers.football_data_markets into columns of their own. The frame adds one reference price
(`odds_*`, `close_*`): the first valid book in `bookmakers.reference_order(SHARP_BOOKMAKERS)` (Pinnacle, the
market averages, Bet365, then the others by name, the maxima last), the order the store uses (pipeline.prices).

Identity (pipeline.providers.football_data_identity): a club is `<country>:<name>` (`home_team_key`,
`away_team_key`), a match `<Div>-<season>-<home>-<away>` with `-2`, `-3`... for a later meeting in one season.

A file that is not the expected CSV (an HTML error page served with status 200, a binary or unreadable file)
gives an empty frame and one problem naming it, never an exception.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.bookmakers import FOOTBALL_DATA_PREFIXES, LAST_RESORT, SHARP_DEFAULT, reference_order
from pipeline.providers import football_data_rows as rows
from pipeline.providers.base import clean_text
from pipeline.providers.contract import Rejection, shown
from pipeline.providers.football_data_identity import identify, match_ids, pair_ids
from pipeline.providers.football_data_markets import read_pairs
from pipeline.providers.football_data_rows import LONDON
from pipeline.providers.text_decoding import BadFile, decode

BOOK_OF_PREFIX = {p + c: name for name, p in FOOTBALL_DATA_PREFIXES.items() for c in ("", "C")}  # PS, PSC: Pinnacle
STATS = {
    "HS": "home_shots",
    "AS": "away_shots",
    "HST": "home_shots_on_target",
    "AST": "away_shots_on_target",
    "HC": "home_corners",
    "AC": "away_corners",
}
REQUIRED = ("Date", "HomeTeam", "AwayTeam")


def season_of(when: datetime) -> str:
    """Season code for a date: seasons run July to June, "2324" for 2023-24."""
    y = when.year if when.month >= 7 else when.year - 1
    return f"{y % 100:02d}{(y + 1) % 100:02d}"


def _read_text(source) -> tuple[str, str]:
    """(text, label) from a path or raw bytes/str."""
    if isinstance(source, (str, bytes)) and not (
        isinstance(source, str) and "\n" not in source and Path(source).exists()
    ):
        if isinstance(source, str):
            return source, "<data>"
        raw, label = source, "<data>"
    else:
        label = str(source)
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise BadFile(f"{label}: unreadable ({exc.strerror or exc})") from None
    return decode(raw, label), label


def csv_problem(text: str, label: str) -> str | None:
    """Why `text` is not a football-data CSV (its header lacks Date, HomeTeam, AwayTeam), or None."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    header = {clean_text(h) for h in next(csv.reader([first]), [])}  # names may be quoted
    missing = [c for c in REQUIRED if c not in header]
    if not missing:
        return None
    shown = clean_text(first[:60]) or "an empty first line"
    return f"{label}: not a football-data CSV (no {'/'.join(missing)} column; starts with {shown!r})"


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def content_problem(raw: bytes, label: str) -> str | None:
    """Why these bytes are not a football-data CSV, or None."""
    if not raw.strip():
        return f"{label}: empty file"
    try:
        return csv_problem(decode(raw, label), label)
    except BadFile as exc:
        return str(exc)


def prefix_order(sharp: Sequence[str] = SHARP_DEFAULT) -> tuple[str, ...]:
    """Pre-match column prefixes in the order that picks the reference price (see pipeline.prices)."""
    ref = [b for b in reference_order(sharp) if b in FOOTBALL_DATA_PREFIXES]
    others = sorted(b for b in FOOTBALL_DATA_PREFIXES if b not in ref and b not in LAST_RESORT)
    return tuple(FOOTBALL_DATA_PREFIXES[b] for b in ref + others + [b for b in LAST_RESORT if b not in ref])


def _odds(books: dict[str, np.ndarray], prefixes: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) prices from the first prefix with three valid prices per row, and the bookmaker chosen."""
    out = np.full((n, 3), np.nan)
    book = np.full(n, None, dtype=object)
    for prefix in prefixes:
        vals = books.get(prefix)
        if vals is None:
            continue
        take = np.isfinite(vals[:, 0]) & np.isnan(out[:, 0])
        out[take] = vals[take]
        book[take] = BOOK_OF_PREFIX.get(prefix, prefix)
    return out, book


def book_columns(frame: pd.DataFrame) -> list[tuple[str, str, bool]]:
    """(canonical bookmaker, column prefix, is_closing) for every bookmaker whose prices the frame carries."""
    out = []
    for name, prefix in FOOTBALL_DATA_PREFIXES.items():
        for closing, p in ((False, prefix), (True, prefix + "C")):
            if f"{p}H" in frame:
                out.append((name, p, closing))
    return out


@dataclass(frozen=True)
class ParsedFile:
    """A football-data CSV read: its match frame, its problems (file-level ones and one line per rejected row)
    and the rejected rows themselves (pipeline.providers.contract)."""

    frame: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def parse_csv(source, league: str | None = None, season: str | None = None, **options) -> tuple[pd.DataFrame, list]:
    """`read_csv`'s frame and problems."""
    parsed = read_csv(source, league, season, **options)
    return parsed.frame, parsed.problems


def read_csv(
    source,
    league: str | None = None,
    season: str | None = None,
    *,
    sharp: Sequence[str] = SHARP_DEFAULT,
    prematch_books: Sequence[str] | None = None,
    closing_books: Sequence[str] | None = None,
    require_result: bool = True,
) -> ParsedFile:
    """One football-data CSV as a match frame, its problems and its rejected rows.

    Every row is held to the contract (pipeline.providers.football_data_rows); a row that breaks it is skipped
    and named, the others are read. Every bookmaker's prices are kept in the file's own columns (PSH, PSD, PSA,
    PSCH, ...; NaN where a book's three prices are not all valid); `odds_*`/`close_*` are the reference price,
    picked in `prefix_order(sharp)` (or the prefixes given), with the book's canonical name in
    `odds_bookmaker`/`close_bookmaker`. A file that cannot be read as such a CSV gives an empty frame and one
    problem naming it; never an exception.
    """
    prematch_books = tuple(prematch_books) if prematch_books else prefix_order(sharp)
    closing_books = tuple(closing_books) if closing_books else tuple(p + "C" for p in prematch_books)
    label = str(source) if isinstance(source, Path) else "<data>"
    try:
        text, label = _read_text(source)
        if not text.strip():
            return ParsedFile(pd.DataFrame(), [f"{label}: empty file; file skipped"])
        why = csv_problem(text, label)
        if why:
            return ParsedFile(pd.DataFrame(), [f"{why}; file skipped"])
        return _parse_text(text, label, league, season, prematch_books, closing_books, require_result)
    except BadFile as exc:
        return ParsedFile(pd.DataFrame(), [f"{exc}; file skipped"])
    except (ValueError, KeyError, IndexError, TypeError, pd.errors.ParserError, csv.Error) as exc:
        # whatever else a hostile file does to the parser: the file is named and skipped, the run goes on
        return ParsedFile(
            pd.DataFrame(),
            [
                f"{label}: not a readable football-data CSV ({type(exc).__name__}: "
                f"{clean_text(str(exc))[:120]}); file skipped"
            ],
        )


def _read_frame(text: str, label: str, problems: list[str]) -> pd.DataFrame:
    """Every column as stripped-of-nothing text, `_line` the file's line number; blank rows dropped."""
    width = len(text.split("\n", 1)[0].split(","))

    def bad(fields):  # rows with more fields than the header: report, keep the known columns
        problems.append(f"{label}: a row has {len(fields)} fields for {width} columns; extra fields ignored")
        return fields[:width]

    opts = dict(dtype=str, keep_default_na=False, skip_blank_lines=False)  # blank lines kept: line numbers hold
    try:  # the fast parser first; the Python one only for files with over-long rows, to report them
        df = pd.read_csv(io.StringIO(text), **opts)
    except pd.errors.ParserError:
        df = pd.read_csv(io.StringIO(text), engine="python", on_bad_lines=bad, **opts)
    df.columns = [clean_text(str(c)) for c in df.columns]
    df = df.loc[:, [c for c in df.columns if c and not c.startswith("Unnamed")]]
    df["_line"] = np.arange(len(df)) + 2
    key = [c for c in ("Div", "Date", "HomeTeam", "AwayTeam") if c in df]
    blank = (df[key].apply(lambda col: col.str.strip()) == "").all(axis=1) if key else False
    return df[~blank]  # blank rows, and trailing rows such as ",,,,"


def _parse_text(
    text: str, label: str, league, season, prematch_books, closing_books, require_result: bool
) -> ParsedFile:
    problems: list[str] = []
    df = _read_frame(text, label, problems)
    rows.unknown_books(df.columns, label)
    fields = rows.fields(df)
    ok, rejected = rows.check_rows(fields, df["_line"], label, require_result)
    df, fields = df[ok], fields[ok]
    # fixtures.csv mixes divisions: without a given league, each row's own Div is used
    if league is None:
        league = df["Div"].map(clean_text) if "Div" in df else pd.Series("?", index=df.index)
    kickoff = rows.kickoffs(fields, df["_line"], label)
    if season is None:
        season = kickoff.map(season_of)
    known = [p + c for p in FOOTBALL_DATA_PREFIXES.values() for c in ("", "C")]
    books, bad_prices = rows.prices(df, (*known, *prematch_books, *closing_books), df["_line"], label)
    pairs, bad_pairs, pair_problems = read_pairs(df, label)  # over/under and Asian handicap
    problems += pair_problems
    pre, pre_book = _odds(books, prematch_books, len(df))
    close, close_book = _odds(books, closing_books, len(df))
    frame = pd.DataFrame(
        {
            "league": league,
            "season": season,
            "kickoff": kickoff,
            "home_team": fields["HomeTeam"],
            "away_team": fields["AwayTeam"],
            "home_goals": pd.to_numeric(fields["FTHG"].where(fields["FTHG"] != ""), errors="coerce").astype(float),
            "away_goals": pd.to_numeric(fields["FTAG"].where(fields["FTAG"] != ""), errors="coerce").astype(float),
            "odds_home": pre[:, 0],
            "odds_draw": pre[:, 1],
            "odds_away": pre[:, 2],
            "odds_bookmaker": pre_book,
            "close_home": close[:, 0],
            "close_draw": close[:, 1],
            "close_away": close[:, 2],
            "close_bookmaker": close_book,
            "_line": df["_line"],
        },
        index=df.index,
    )
    for col, name in STATS.items():
        frame[name] = pd.to_numeric(df[col], errors="coerce").astype(float) if col in df else np.nan
    per_book = {f"{p}{s}": vals[:, i] for p, vals in books.items() if p in BOOK_OF_PREFIX for i, s in enumerate("HDA")}
    frame = pd.concat([frame, pd.DataFrame(per_book | pairs, index=frame.index)], axis=1)
    day = frame["kickoff"].dt.tz_convert(LONDON).dt.strftime("%Y%m%d")
    dup = pd.DataFrame({"d": day, "h": frame["home_team"], "a": frame["away_team"]}).duplicated()
    for i in np.flatnonzero(dup.to_numpy()):
        r = frame.iloc[i]
        value = shown(f"{r['home_team']} v {r['away_team']}")
        rejected.append(Rejection(label, int(r["_line"]), "HomeTeam/AwayTeam", value, rows.DUPLICATE))
    kept = set(frame["_line"][~dup])
    rejected += [r for r in bad_prices + bad_pairs if r.line in kept]
    rejected.sort(key=lambda r: r.line)
    frame = frame[~dup].drop(columns="_line")
    frame = identify(frame)
    return ParsedFile(frame.reset_index(drop=True), problems + [r.text() for r in rejected], rejected)


__all__ = [
    "BadFile",
    "BOOK_OF_PREFIX",
    "STATS",
    "book_columns",
    "content_problem",
    "csv_problem",
    "match_ids",
    "pair_ids",
    "parse_csv",
    "prefix_order",
    "read_bytes",
    "season_of",
]
