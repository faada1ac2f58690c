"""football-data.co.uk: the real files from ../shared (values checked by hand against the CSVs), malformed
files written here, and the provider on a local directory and over HTTP from a local server."""

from __future__ import annotations

import http.server
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FOOTBALL_DATA, needs_shared

from pipeline.bookmakers import is_bettable
from pipeline.providers.base import FINISHED, SCHEDULED
from pipeline.providers.contract import BAD_PAIR_PRICE, ONE_SIDE, PAIR_IGNORED
from pipeline.providers.football_data import FootballDataProvider, frame_to_batch, load_matches, parse_csv, season_of

UTC = UTC


@pytest.fixture(scope="module")
def everything():
    if not (FOOTBALL_DATA / "mmz4281").is_dir():
        pytest.skip(f"real football-data files not found at {FOOTBALL_DATA}")
    return load_matches(FOOTBALL_DATA)


@needs_shared()
def test_all_files_load_without_problems(everything):
    frame, problems = everything
    # the only problems: two-way pairs the files quote unreadably, each named (by hand: 2122/E0.csv line 168 has
    # B365C>2.5 and B365C<2.5 "0.0"; 0304/E0.csv line 103 a GBAHH price without GBAHA)
    assert len(frame) == 37434 and problems and all(p.endswith(PAIR_IGNORED) for p in problems)
    assert any(p.endswith("2122/E0.csv:168: B365C>2.5 '0.0': " + BAD_PAIR_PRICE) for p in problems)
    assert any(p.endswith("0304/E0.csv:103: GBAHA '': " + ONE_SIDE) for p in problems)
    counts = frame.groupby(["league", "season"]).size()
    # by hand: grep -c of data rows in each file
    assert counts[("E0", "0304")] == 335 and counts[("D1", "0304")] == 194  # the two incomplete files
    assert counts[("E0", "2324")] == 380 and counts[("SP1", "1213")] == 380 and counts[("D1", "2324")] == 306
    assert frame["match_id"].is_unique


@needs_shared()
def test_kickoffs_in_utc_and_odds_as_in_the_files(everything):
    frame, _ = everything
    row = frame.set_index("match_id")
    m = row.loc["E0-2324-burnley-man_city"]  # 11/08/2023 20:00 BST
    assert m["kickoff"] == pd.Timestamp("2023-08-11 19:00", tz="UTC")
    assert (m["home_goals"], m["away_goals"]) == (0, 3)
    assert (m["odds_home"], m["odds_draw"], m["odds_away"], m["odds_bookmaker"]) == (8.58, 5.51, 1.37, "Pinnacle")
    assert (m["close_home"], m["close_draw"], m["close_away"]) == (9.62, 5.81, 1.33)
    # every bookmaker's own columns, as in the file (by hand: the 2324/E0.csv row of this match)
    assert (m["B365H"], m["WHA"], m["MaxCH"], m["AvgCA"]) == (8.0, 1.25, 10.5, 1.33)
    m = row.loc["E0-2324-arsenal-wolves"]  # 02/12/2023 15:00 GMT
    assert m["kickoff"] == pd.Timestamp("2023-12-02 15:00", tz="UTC")
    m = row.loc["E0-0304-arsenal-everton"]  # no Time column: assumed 15:00 UK (BST)
    assert m["kickoff"] == pd.Timestamp("2003-08-16 14:00", tz="UTC")
    assert (m["odds_home"], m["odds_draw"], m["odds_away"], m["odds_bookmaker"]) == (1.4, 3.8, 8.0, "Bet365")
    assert m["home_shots"] == 11 and m["away_shots_on_target"] == 7
    # closing prices exist from 2012-13 only: 21,733 matches (the README's Pinnacle closing count)
    assert frame.loc[frame["season"] < "1213", "close_home"].notna().sum() == 0
    assert frame["close_home"].notna().sum() == 21733


GOOD = """Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,HS,AS,HST,AST,B365H,B365D,B365A,PSH,PSD,PSA,PSCH,PSCD,PSCA,,
E0,12/08/2023,15:00,Alpha,Beta,2,1,10,5,4,2,2.0,3.4,4.0,2.05,3.5,4.1,1.95,3.6,4.3,,
E0,12/08/2023,17:30,Gamma,Delta,0,0,8,8,3,3,2.5,3.2,3.0,0,3.2,3.0,2.6,3.1,2.9,,
E0,13/08/2023,14:00,Eps,Zeta,1,x,1,1,1,1,2.5,3.2,3.0,2.6,3.3,3.1,,,,,
E0,13/08/2023,14:00,,Zeta,1,1,1,1,1,1,2.5,3.2,3.0,2.6,3.3,3.1,,,,,
E0,32/13/2023,14:00,Eta,Theta,1,1,1,1,1,1,2.5,3.2,3.0,2.6,3.3,3.1,,,,,
E0,12/08/2023,15:00,Alpha,Beta,2,1,10,5,4,2,2.0,3.4,4.0,2.05,3.5,4.1,1.95,3.6,4.3,,
E0,14/08/23,,Iota,Kappa,3,2,,,,,1.0,abc,3.0,1.9,3.4,4.4,,,,,
,,,,,,,,,,,,,,,,,,,,,
,,,,,,,,,,,,,,,,,,,,,
"""


def test_malformed_rows_are_reported_and_skipped(tmp_path):
    f = tmp_path / "E0.csv"
    f.write_text(GOOD)
    frame, problems = parse_csv(f, "E0", "2324")
    assert list(frame["home_team"]) == ["Alpha", "Gamma", "Iota"]
    text = "\n".join(problems)
    # each skipped row named once: line, column, value, rule
    assert "E0.csv:4: FTAG 'x': missing or non-numeric score; row skipped" in text
    assert "E0.csv:5: HomeTeam '': a team is missing; row skipped" in text
    assert "E0.csv:6: Date '32/13/2023': bad or missing date" in text and "E0.csv:7: HomeTeam/AwayTeam" in text
    assert "duplicate of an earlier row" in text
    # a bad price drops its bookmaker on that row, named too; the row is kept
    assert "E0.csv:3: PSH '0': price not a number in 1.01..1000" in text
    assert "E0.csv:8: B365H '1.0': price not a number" in text and len(problems) == 6
    g = frame.set_index("home_team")
    assert g.loc["Alpha", "odds_bookmaker"] == "Pinnacle" and g.loc["Alpha", "close_home"] == 1.95
    # Pinnacle's home price of 0 is invalid: the next bookmaker in the list gives all three prices
    assert (g.loc["Gamma", "odds_home"], g.loc["Gamma", "odds_bookmaker"]) == (2.5, "Bet365")
    assert np.isnan(g.loc["Gamma", "PSH"]) and np.isnan(g.loc["Gamma", "PSD"])  # a book's row is all or nothing
    # odds of 1.0 and text make bet365 invalid; Pinnacle is used; no Time and yy date: 15:00 UK (BST)
    assert g.loc["Iota", "odds_home"] == 1.9 and g.loc["Iota", "kickoff"] == pd.Timestamp("2023-08-14 14:00", tz="UTC")
    assert np.isnan(g.loc["Iota", "home_shots"])


@needs_shared()
def test_every_bookmaker_of_a_real_file_becomes_a_snapshot():
    frame, _ = parse_csv(FOOTBALL_DATA / "mmz4281" / "2324" / "E0.csv", "E0", "2324")
    batch = frame_to_batch(frame[frame["match_id"] == "E0-2324-burnley-man_city"])
    got = {(o.bookmaker, o.is_closing): (o.home, o.draw, o.away) for o in batch.odds}
    books = {"Bet365", "Bet&Win", "Interwetten", "Pinnacle", "William Hill", "VC Bet", "Market max", "Market average"}
    assert set(got) == {(b, c) for b in books for c in (False, True)}
    assert got[("Pinnacle", False)] == (8.58, 5.51, 1.37) and got[("Pinnacle", True)] == (9.62, 5.81, 1.33)
    assert got[("William Hill", False)][2] == 1.25 and got[("Market max", True)][0] == 10.5
    ko = batch.matches[0].kickoff
    assert {o.fetched_at for o in batch.odds if o.is_closing} == {ko}
    assert {o.fetched_at for o in batch.odds if not o.is_closing} == {ko - timedelta(days=1)}


def test_each_bookmaker_is_stored_under_its_canonical_name_and_aggregates_are_kept(tmp_path):
    f = tmp_path / "E0.csv"
    f.write_text(
        "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,B365H,B365D,B365A,BSH,BSD,BSA,MaxH,MaxD,MaxA,"
        "AvgH,AvgD,AvgA,B365CH,B365CD,B365CA\n"
        "E0,12/08/2023,15:00,Alpha,Beta,2,1,2.0,3.4,4.0,2.1,3.3,3.9,2.2,3.6,4.4,2.05,3.4,4.0,1.9,3.5,4.4\n"
    )
    frame, problems = parse_csv(f, "E0", "2324")
    assert problems == []
    # no Pinnacle price: the market average is the reference, then Bet365
    assert (frame.loc[0, "odds_bookmaker"], frame.loc[0, "odds_home"]) == ("Market average", 2.05)
    assert (frame.loc[0, "close_bookmaker"], frame.loc[0, "close_home"]) == ("Bet365", 1.9)
    batch = frame_to_batch(frame)
    got = {(o.bookmaker, o.is_closing): o.home for o in batch.odds}
    assert got == {
        ("Bet365", False): 2.0,
        ("Blue Square", False): 2.1,
        ("Market max", False): 2.2,
        ("Market average", False): 2.05,
        ("Bet365", True): 1.9,
    }
    assert [b for b, _ in got if not is_bettable(b)] == ["Market max", "Market average"]


def test_over_long_rows_and_latin1(tmp_path):
    f = tmp_path / "SP1.csv"
    f.write_bytes(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\nSP1,01/09/2010,Málaga,Betis,1,0\nSP1,02/09/2010,A,B,1,0,9,9\n".encode(
            "latin-1"
        )
    )
    frame, problems = parse_csv(f, "SP1", "1011")
    assert list(frame["home_team"]) == ["Málaga", "A"] and any("fields" in p for p in problems)


def _site(root: Path):
    (root / "mmz4281" / "2324").mkdir(parents=True)
    (root / "mmz4281" / "2324" / "E0.csv").write_text(GOOD)
    (root / "fixtures.csv").write_text(
        "Div,Date,Time,HomeTeam,AwayTeam,B365H,B365D,B365A,PSH,PSD,PSA\n"
        "E0,20/01/2024,12:30,Alpha,Gamma,2.1,3.3,3.6,2.15,3.4,3.7\n"
        "D1,20/01/2024,14:30,Bayern,Koln,1.2,7.0,12.0,1.22,7.5,13.0\n"
        "E0,28/01/2024,16:00,Beta,Delta,2.1,3.3,3.6,2.15,3.4,3.7\n"
        "E0,20/01/2024,15:00,Zeta,,2.1,3.3,3.6,,,\n"
    )


def test_provider_on_a_local_directory(tmp_path):
    _site(tmp_path)
    p = FootballDataProvider(data_dir=tmp_path, leagues=("E0",))
    now = datetime(2024, 1, 19, 12, tzinfo=UTC)
    hist = p.history(None, now, now)
    assert [m.home_team for m in hist.matches] == ["Alpha", "Gamma", "Iota"]
    assert all(m.status == FINISHED for m in hist.matches) and hist.problems
    closing = [o for o in hist.odds if o.is_closing]
    assert closing and closing[0].fetched_at == hist.matches[0].kickoff
    fx = p.fixtures(now, now + timedelta(hours=48), now)
    assert [(m.home_team, m.status) for m in fx.matches] == [("Alpha", SCHEDULED)]
    assert fx.matches[0].kickoff == datetime(2024, 1, 20, 12, 30, tzinfo=UTC)
    assert {o.bookmaker for o in fx.odds} == {"Pinnacle", "Bet365"} and all(o.fetched_at == now for o in fx.odds)
    assert any("team is missing" in x for x in fx.problems)
    res = p.results([hist.matches[0].provider_id, "E0-2324-x-y"], now)
    assert len(res.matches) == 1 and res.matches[0].home_goals == 2
    with pytest.raises(Exception):
        p.lineups([hist.matches[0].provider_id], now)
    assert "reading" in p.check(now)


def test_download_uses_the_cache_until_stale(tmp_path):
    site = tmp_path / "site"
    _site(site)
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(site), **kw)

        def log_message(self, *a):
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        cache = tmp_path / "cache"
        p = FootballDataProvider(base_url=url, leagues=("E0",), cache_dir=cache, max_age_hours=1)
        now = datetime(2024, 1, 19, 12, tzinfo=UTC)
        assert len(p.fixtures(now, now + timedelta(days=2), now).matches) == 1
        p.fixtures(now, now + timedelta(days=2), now)
        assert sum("/fixtures.csv" in h for h in hits) == 1  # fresh: served from the cache
        cached = cache / "football-data" / "fixtures.csv"
        old = time.time() - 2 * 3600
        os.utime(cached, (old, old))
        p.fixtures(now, now + timedelta(days=2), now)
        assert sum("/fixtures.csv" in h for h in hits) == 2  # stale: fetched again
        assert len(p.history(None, now, now).matches) == 3
        assert p.results(["E0-2324-alpha-beta"], now).matches[0].away_goals == 1
    finally:
        server.shutdown()


def test_season_codes():
    assert season_of(datetime(2023, 8, 1)) == "2324" and season_of(datetime(2024, 5, 1)) == "2324"
    assert season_of(datetime(2003, 7, 1)) == "0304"
