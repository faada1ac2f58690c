"""Issue 22, property-based (hypothesis): the CSV and JSON parsers never raise past the validation layer, every row
is either read or rejected by name (never dropped in silence), and a valid row round-trips."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sportmonks_server import fixture, odds, participants, scores

from pipeline.providers.base import FINISHED, Batch, Match, Odds, sanitize_batch
from pipeline.providers.contract import GOALS_MAX, ODDS_MAX, ODDS_MIN, check_match, check_odds, goals_ok
from pipeline.providers.football_data_csv import read_csv
from pipeline.providers.sportmonks_payload import read_fixture

HEADER = ["Div", "Date", "Time", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR", "PSH", "PSD", "PSA", "B365H"]
NOW = datetime(2025, 3, 20, tzinfo=UTC)
# a CSV parse costs ~20 ms (pandas, pandera): fewer examples there than for the JSON and record checks
CSV = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- football-data CSV -----------------------------------------------------------------------------------------

cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "1.5", "25:00", "19.45", "9:5", "99", "-1", "2.0", "31/02/2024", "12/08/23", "H", "X"]),
    st.from_regex(r"\d{1,2}[:./]\d{1,2}", fullmatch=True),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def _csv(rows: list[list[str]], header=HEADER) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a line break inside a field stays in it
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


@CSV
@given(st.lists(st.lists(cell, min_size=len(HEADER), max_size=len(HEADER)), max_size=8))
def test_arbitrary_rows_never_raise_and_each_is_read_or_rejected_by_name(rows):
    parsed = read_csv(_csv(rows), "E0", "2324")
    frame = parsed.frame
    skipped = {r.line for r in parsed.rejected if r.rule.endswith("row skipped")}
    # a row's line is its record's number (the header is 1); rows blank in Div, Date and the teams are no rows
    data_lines = {i + 2 for i, row in enumerate(rows) if any(row[k].strip() for k in (0, 1, 3, 4))}
    assert len(frame) + len(skipped) == len(data_lines) and skipped <= data_lines
    for r in parsed.rejected:  # one line each: file, line, field, value, rule
        assert r.text() in parsed.problems and r.line in data_lines and r.field and r.rule
    if len(frame):  # what is read keeps the contract
        assert frame["kickoff"].notna().all() and str(frame["kickoff"].dt.tz) == "UTC"
        goals = pd.concat([frame["home_goals"], frame["away_goals"]])
        assert ((goals % 1 == 0) & (goals >= 0) & (goals <= GOALS_MAX)).all()
        prices = frame[["PSH", "PSD", "PSA"]].to_numpy().ravel()
        assert all(math.isnan(p) or ODDS_MIN <= p <= ODDS_MAX for p in prices)


@CSV
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw):
    parsed = read_csv(b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\n" + raw, "E0", "2324")
    assert isinstance(parsed.frame, pd.DataFrame)


teams = st.text(alphabet=st.characters(categories=["L"], max_codepoint=0x24F), min_size=1, max_size=15)
price = st.decimals(min_value="1.01", max_value="1000", places=2).map(float)


@CSV
@given(
    day=st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2060, 12, 31).date()),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    home=teams,
    away=teams,
    hg=st.integers(0, GOALS_MAX),
    ag=st.integers(0, GOALS_MAX),
    ps=st.tuples(price, price, price),
    short_date=st.booleans(),
)
def test_a_valid_row_round_trips(day, hour, minute, home, away, hg, ag, ps, short_date):
    assume(home.strip() == home and away.strip() == away and home.lower() != away.lower())
    when = datetime(day.year, day.month, day.day, hour, minute)
    assume(not (short_date and day.year >= 2069))
    date = when.strftime("%d/%m/%y" if short_date else "%d/%m/%Y")
    ftr = "H" if hg > ag else "A" if hg < ag else "D"
    row = ["E0", date, f"{hour}:{minute:02d}", home, away, str(hg), str(ag), ftr, *map(str, ps), ""]
    parsed = read_csv(_csv([row]), "E0", "2324")
    assert parsed.rejected == [] and len(parsed.frame) == 1
    m = parsed.frame.iloc[0]
    local = pd.Timestamp(when).tz_localize("Europe/London", ambiguous=True, nonexistent="shift_forward")
    assert m["kickoff"] == local.tz_convert("UTC")
    assert (m["home_team"], m["away_team"], m["home_goals"], m["away_goals"]) == (home, away, hg, ag)
    assert (m["PSH"], m["PSD"], m["PSA"]) == ps and (m["odds_home"], m["odds_bookmaker"]) == (ps[0], "Pinnacle")


# ---- Sportmonks JSON -------------------------------------------------------------------------------------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = {
    "id": st.integers(1, 10**9) | json_value,
    "state_id": st.sampled_from([1, 5, 7, 8, 10, 99, "5", None]) | json_value,
    "league_id": st.integers(1, 3000) | json_value,
    "season_id": st.integers(1, 30000) | json_value,
    "starting_at": st.sampled_from(["2025-03-15 15:00:00", "2025-03-15T15:00:00+01:00", "junk", ""]) | json_value,
    "starting_at_timestamp": st.integers(-(2**70), 2**70) | st.floats() | json_value,
    "participants": st.just(participants()) | json_value,
    "scores": st.builds(lambda h, a: scores(1, CURRENT=(h, a)), st.integers(-5, 200), st.integers(-5, 200))
    | json_value,
    "odds": st.builds(lambda h, d, a: odds(1, 2, h, d, a), json_value, json_value, json_value) | json_value,
}


@FAST
@given(st.fixed_dictionaries({}, optional=FIELDS) | json_value)
def test_arbitrary_json_fixtures_never_raise_and_what_is_read_keeps_the_contract(fx):
    batch = sanitize_batch(read_fixture(fx, NOW))
    assert len(batch.matches) <= 1
    for m in batch.matches:
        assert check_match(m) is None
    for o in batch.odds:
        assert check_odds(o) is None
    assert [r.text() for r in batch.rejected] == [p for p in batch.problems if p in {r.text() for r in batch.rejected}]
    if not batch.matches and isinstance(fx, dict):  # a fixture not read is named, never dropped in silence
        assert batch.problems


@FAST
@given(
    fid=st.integers(1, 10**9),
    stamp=st.integers(int(datetime(1995, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2090, 1, 1).timestamp())),
    hg=st.integers(0, GOALS_MAX),
    ag=st.integers(0, GOALS_MAX),
    prices=st.tuples(price, price, price),
)
def test_a_valid_fixture_round_trips(fid, stamp, hg, ag, prices):
    kickoff = datetime.fromtimestamp(stamp, UTC)
    rows = odds(fid, 2, *map(str, prices), update=(kickoff - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"))
    fx = fixture(fid, state_id=5, timestamp=stamp, scores=scores(fid, CURRENT=(hg, ag)), odds=rows)
    batch = sanitize_batch(read_fixture(fx, NOW))
    assert batch.problems == [] and batch.rejected == []
    (m,) = batch.matches
    assert (m.provider_id, m.kickoff, m.status, m.home_goals, m.away_goals) == (str(fid), kickoff, FINISHED, hg, ag)
    assert {(o.bookmaker, o.is_closing, (o.home, o.draw, o.away)) for o in batch.odds} == {
        ("2", False, prices),
        ("2", True, prices),
    }


# ---- records from any source (the sandbox's included) -----------------------------------------------------------

any_instant = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive
    st.just(pd.NaT),
)


@FAST
@given(
    kickoff=any_instant,
    goals=st.tuples(st.none() | st.integers(-(2**40), 2**40), st.none() | st.integers(-3, 30)),
    prices=st.tuples(st.floats(), st.floats(), st.floats()),
    seen=any_instant,
)
def test_any_record_is_kept_only_if_it_keeps_the_contract(kickoff, goals, prices, seen):
    m = Match("m1", "L", "2425", kickoff, "A", "B", status=FINISHED, home_goals=goals[0], away_goals=goals[1])
    o = Odds("m1", "book", *prices, fetched_at=seen)
    batch = sanitize_batch(Batch(matches=[m], odds=[o]))
    ok = (
        isinstance(kickoff, datetime)
        and kickoff is not pd.NaT
        and kickoff.tzinfo is not None
        and kickoff.year < 2100
        and kickoff.year >= 1990
    )
    ok = ok and (goals == (None, None) or (goals_ok(goals[0]) and goals_ok(goals[1])))
    assert (batch.matches == [m]) == ok
    assert len(batch.rejected) == (0 if ok else 1) + (0 if check_odds(o) is None else 1)
