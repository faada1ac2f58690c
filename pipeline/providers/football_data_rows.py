"""football-data.co.uk's rows held to the contract (pipeline.providers.contract) before they become matches.

The row fields (Date, Time, teams, FTHG, FTAG, FTR) are held to rules declared once (`rules`) that make a pandera
schema, one check per rule; the rules run over the whole file, and the rows that break one go through the schema,
which names each failure. In the order a row's first broken rule is reported: a date in DATE_FORMS, a time in
TIME_FORMS (empty: DEFAULT_TIME), both teams, two different teams, a numeric score, a whole score in 0..20, an FTR
that is the score's result. A row that breaks one is skipped as a `Rejection` naming file, line, column, value and rule.

Prices are held to 1.01..1000 by one numpy pass over every bookmaker's columns, not by pandera: a schema column
per price column (60 and more in recent files) costs ~0.8 ms each, doubling the time to read a file, for the
same comparison. A bad price drops that bookmaker's three prices on that row (a rejection too); the row's result
and the other books' prices are kept. Column triples `<X>H/<X>D/<X>A` of a bookmaker not in
`bookmakers.FOOTBALL_DATA_PREFIXES` are named in one log line (per process), not read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from pipeline.bookmakers import FOOTBALL_DATA_PREFIXES
from pipeline.providers.base import clean_text
from pipeline.providers.contract import (
    BAD_GOALS,
    BAD_PRICE,
    DEFAULT_TIME,
    ODDS_MAX,
    ODDS_MIN,
    RESULT_LETTERS,
    Rejection,
    shown,
)

log = logging.getLogger(__name__)

LONDON = "Europe/London"  # football-data's times are UK local time
TIME_RE = r"(?:[01]?\d|2[0-3]):[0-5]\d"
NUMBER_RE = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
GOAL_RE = r"0*(?:1?\d|20)(?:\.0*)?"  # a whole number 0..20 (GOALS_MIN..GOALS_MAX), "2" or "2.0"
BAD_DATE = "bad or missing date (accepted: dd/mm/yyyy, dd/mm/yy); row skipped"
BAD_TIME = "bad time (accepted: HH:MM or H:MM, 00:00..23:59; empty: 15:00 UK); row skipped"
NO_TEAM = "a team is missing; row skipped"
SAME_TEAMS = "home and away team are the same; row skipped"
NO_SCORE = "missing or non-numeric score; row skipped"
BAD_RESULT = "FTR not H, D or A, or not the score's result; row skipped"
DUPLICATE = "duplicate of an earlier row (same date and teams); row skipped"
FIELDS = ("Date", "Time", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR")
KNOWN_PREFIXES = {p + c for p in FOOTBALL_DATA_PREFIXES.values() for c in ("", "C")}


def dates(s: pd.Series) -> pd.Series:
    """dd/mm/yyyy or dd/mm/yy (two-digit day and month), else NaT; 31/02 is NaT too."""
    long = pd.to_datetime(s.where(s.str.fullmatch(r"\d{2}/\d{2}/\d{4}")), format="%d/%m/%Y", errors="coerce")
    short = pd.to_datetime(s.where(s.str.fullmatch(r"\d{2}/\d{2}/\d{2}")), format="%d/%m/%y", errors="coerce")
    return long.fillna(short)


def _numeric(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.where(s != ""), errors="coerce")


def _result_ok(f: pd.DataFrame) -> pd.Series:
    blank, result = f["FTR"] == "", f["_result"]
    return blank | (f["FTR"] == result) | ((result == "") & f["FTR"].isin(list(RESULT_LETTERS)))


def rules(require_result: bool) -> tuple[list, list]:
    """The row contract, declared once: ([(column, rule, check of the column's text)], [(rule, check of the row)]),
    each check True where the row keeps the rule."""

    def score_present(s: pd.Series) -> pd.Series:
        return s.str.fullmatch(NUMBER_RE) | ((s == "") & (not require_result))

    def score_whole(s: pd.Series) -> pd.Series:
        return ~s.str.fullmatch(NUMBER_RE) | s.str.fullmatch(GOAL_RE)

    columns = [
        ("Date", BAD_DATE, lambda s: dates(s).notna()),
        ("Time", BAD_TIME, lambda s: (s == "") | s.str.fullmatch(TIME_RE)),
        ("HomeTeam", NO_TEAM, lambda s: s != ""),
        ("AwayTeam", NO_TEAM, lambda s: s != ""),
        *((side, NO_SCORE, score_present) for side in ("FTHG", "FTAG")),
        *((side, BAD_GOALS, score_whole) for side in ("FTHG", "FTAG")),
    ]
    rows = [
        (SAME_TEAMS, lambda f: (f["HomeTeam"] != f["AwayTeam"]) | (f["HomeTeam"] == "")),
        (BAD_RESULT, _result_ok),
    ]
    return columns, rows


def _schema(require_result: bool) -> pa.DataFrameSchema:
    columns, rows = rules(require_result)
    checks: dict[str, list] = {}
    for column, rule, check in columns:
        checks.setdefault(column, []).append(pa.Check(check, error=rule))
    return pa.DataFrameSchema(
        {column: pa.Column(None, cs) for column, cs in checks.items()},
        checks=[pa.Check(check, error=rule) for rule, check in rows],
    )


RULES = {True: rules(True), False: rules(False)}
SCHEMAS = {True: _schema(True), False: _schema(False)}
# The first broken rule is the one reported; the column a row-wide rule is reported under.
ORDER = (BAD_DATE, BAD_TIME, NO_TEAM, SAME_TEAMS, NO_SCORE, BAD_GOALS, BAD_RESULT)
WIDE_FIELD = {SAME_TEAMS: "AwayTeam", BAD_RESULT: "FTR"}


def fields(df: pd.DataFrame) -> pd.DataFrame:
    """The row fields as stripped text ("" where the column is absent); team names cleaned of control characters."""
    out = {}
    for name in FIELDS:
        col = df[name] if name in df else pd.Series("", index=df.index, dtype=str)
        out[name] = col.map(clean_text) if name in ("HomeTeam", "AwayTeam") else col.str.strip()
    hg, ag = _numeric(out["FTHG"]), _numeric(out["FTAG"])
    out["_result"] = pd.Series(np.select([hg > ag, hg < ag, hg == ag], ["H", "A", "D"], ""), index=df.index)
    return pd.DataFrame(out, index=df.index)


def check_rows(f: pd.DataFrame, lines: pd.Series, label: str, require_result: bool) -> tuple[pd.Series, list]:
    """(rows that keep the contract, one Rejection per row that does not).

    The rules' checks are evaluated once over the whole file; only the rows that break one go through the pandera
    schema, which names each failure (pandera's own cost, ~0.6 ms a check, would otherwise add ~6 ms to every
    file for nothing: real files have no bad row)."""
    columns, rows = RULES[require_result]
    keep = pd.Series(True, index=f.index)
    for column, _, check in columns:
        keep &= check(f[column]).fillna(False).astype(bool)
    for _, check in rows:
        keep &= check(f).fillna(False).astype(bool)
    if keep.all():
        return keep, []
    try:
        SCHEMAS[require_result].validate(f[~keep], lazy=True)
        cases = pd.DataFrame({"check": [], "column": [], "index": []})
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    first: dict = {}
    for check, column, index in zip(cases["check"], cases["column"], cases["index"], strict=True):
        rule = str(check)
        if rule in ORDER and (index not in first or ORDER.index(rule) < ORDER.index(first[index][0])):
            first[index] = (rule, WIDE_FIELD.get(rule, column))
    for index in f.index[~keep]:
        if index not in first:  # not named by pandera (a check's missing value, say): the first rule it breaks
            first[index] = _first_broken(f.loc[[index]], columns, rows)
    ok = keep.copy()
    rejected = []
    for index, (rule, column) in sorted(first.items(), key=lambda kv: lines[kv[0]]):
        value = (
            f"{f.at[index, 'FTR']} for {f.at[index, 'FTHG']}-{f.at[index, 'FTAG']}"
            if rule == BAD_RESULT
            else f.at[index, column]
        )
        rejected.append(Rejection(label, int(lines[index]), str(column), shown(value), rule))
        ok[index] = False
    return ok, rejected


def _first_broken(row: pd.DataFrame, columns: list, rows: list) -> tuple[str, str]:
    broken = [(rule, column) for column, rule, check in columns if not bool(check(row[column]).fillna(False).iloc[0])]
    broken += [(rule, WIDE_FIELD[rule]) for rule, check in rows if not bool(check(row).fillna(False).iloc[0])]
    return min(broken, key=lambda b: ORDER.index(b[0]))


def kickoffs(f: pd.DataFrame, lines: pd.Series, label: str) -> pd.Series:
    """Kick-off in UTC from the UK date and time (rows that keep the contract): DEFAULT_TIME when empty; a time the
    clocks go through twice is the earlier instant, one they skip is the instant they jump to; each in a log line."""
    tm = f["Time"].where(f["Time"] != "", DEFAULT_TIME)
    local = pd.to_datetime(dates(f["Date"]).dt.strftime("%Y-%m-%d") + " " + tm, format="%Y-%m-%d %H:%M")
    earlier = np.ones(len(local), bool)
    strict = local.dt.tz_localize(LONDON, ambiguous="NaT", nonexistent="NaT")
    odd = strict.isna() & local.notna()
    if odd.any():
        twice = local.dt.tz_localize(LONDON, ambiguous=earlier, nonexistent="NaT").notna() & odd
        for i in np.flatnonzero(odd.to_numpy()):
            ko = local.iloc[i]
            how = (
                "occurs twice (clocks go back): taken as the earlier instant, summer time"
                if twice.iloc[i]
                else "does not exist (clocks go forward): taken as the instant the clocks jump to"
            )
            log.warning("%s:%d: UK time %s %s", label, lines.iloc[i], f"{ko:%Y-%m-%d %H:%M}", how)
    return local.dt.tz_localize(LONDON, ambiguous=earlier, nonexistent="shift_forward").dt.tz_convert("UTC")


def prices(df: pd.DataFrame, prefixes: Iterable[str], lines: pd.Series, label: str) -> tuple[dict, list]:
    """{prefix: (n, 3) home/draw/away prices} for every prefix whose three columns the frame has, NaN on rows where
    the book's three prices are not all present and in 1.01..1000; a present but bad price is a Rejection."""
    books: dict[str, np.ndarray] = {}
    rejected: list[Rejection] = []
    line_no = lines.to_numpy()
    for prefix in dict.fromkeys(prefixes):
        cols = [f"{prefix}{s}" for s in "HDA"]
        if not all(c in df for c in cols):
            continue
        raw = np.column_stack([df[c].to_numpy(dtype=object) for c in cols])
        vals = np.column_stack([pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in cols])
        with np.errstate(invalid="ignore"):
            good = np.isfinite(vals) & (vals >= ODDS_MIN) & (vals <= ODDS_MAX)
        named = set()
        for i, j in zip(*np.nonzero(~good & (raw != "")), strict=True):  # few cells: blanks are most of the rest
            if i not in named and str(raw[i, j]).strip():  # row-major order: the row's first bad price
                named.add(i)
                rejected.append(Rejection(label, int(line_no[i]), cols[j], shown(str(raw[i, j]).strip()), BAD_PRICE))
        vals[~good.all(axis=1)] = np.nan
        books[prefix] = vals
    return books, rejected


_named: set[str] = set()


def unknown_books(columns: Iterable[str], label: str) -> list[str]:
    """Prefixes of H/D/A column triples that are no known bookmaker; each named in one log line per process."""
    cols = set(columns)
    found = sorted(
        c[:-1]
        for c in cols
        if c.endswith("H") and len(c) > 1 and c[:-1] + "D" in cols and c[:-1] + "A" in cols
        if c[:-1] not in KNOWN_PREFIXES
    )
    new = [p for p in found if p not in _named]
    if new:
        _named.update(new)
        log.info(
            "%s: price columns of no known bookmaker, not read: %s (add the book to pipeline.bookmakers)",
            label,
            ", ".join(f"{p}H/{p}D/{p}A" for p in new),
        )
    return found


__all__ = [
    "BAD_DATE",
    "BAD_RESULT",
    "BAD_TIME",
    "DUPLICATE",
    "LONDON",
    "NO_SCORE",
    "NO_TEAM",
    "SAME_TEAMS",
    "check_rows",
    "dates",
    "fields",
    "kickoffs",
    "prices",
    "unknown_books",
]
