"""football-data.co.uk's over/under and Asian handicap prices (issue 25): a small hand-written file for the layouts
(runs without ../shared), then copies of the shared files, with faults written in, and the 2003-04 layout."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import FOOTBALL_DATA, needs_shared

from pipeline.bookmakers import AGGREGATES, is_bettable
from pipeline.markets import Market, Selection
from pipeline.providers.base import SCHEDULED, Sanitized
from pipeline.providers.contract import BAD_LINE, BAD_PAIR_PRICE, NO_LINE, ONE_SIDE
from pipeline.providers.football_data import FootballDataProvider, frame_to_batch, load_matches
from pipeline.providers.football_data_csv import read_csv

HEADER = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA,B365H,B365D,B365A,"
    "B365>2.5,B365<2.5,P>2.5,P<2.5,P>3.5,P<3.5,Max>2.5,Max<2.5,AHh,B365AHH,B365AHA,PAHH,PAHA,"
    "PSCH,PSCD,PSCA,PC>2.5,PC<2.5,AHCh,PCAHH,PCAHA"
)
ROWS = [  # line 2..7 of the file
    "E0,10/08/2024,15:00,Arsenal,Everton,2,1,H,1.5,4.2,7.0,1.5,4.0,6.5,"
    "1.80,2.00,1.85,2.05,3.10,1.38,1.90,2.10,-0.75,1.95,1.95,1.97,1.96,1.45,4.5,7.5,1.80,2.10,-1.0,2.02,1.90",
    "E0,10/08/2024,15:00,Chelsea,Fulham,0,0,D,1.9,3.5,4.0,1.9,3.4,4.1,"
    "1.90,1.90,1.95,1.97,,,2.00,2.00,-0.3,1.90,2.00,1.92,1.98,1.95,3.4,4.2,1.96,1.96,-0.5,1.95,1.95",
    "E0,10/08/2024,17:30,Leeds,Wolves,1,3,A,2.5,3.3,2.9,2.5,3.2,2.8,"
    "1.80,2.00,1.85,,3.00,1.40,1.90,2.05,0.0,abc,1.90,1.91,1.99,2.6,3.3,2.8,1.85,2.05,0.25,2.01,1.91",
    "E0,11/08/2024,14:00,Spurs,Luton,4,0,H,1.3,5.5,9.0,1.3,5.0,9.5,"
    "1.0,1.40,1.40,2.95,,,1.50,3.00,-1.5,1.90,2.00,1001,1.80,1.25,6.0,11.0,1.35,3.20,,1.88,2.02",
    "E0,11/08/2024,16:30,Villa,Forest,1,1,D,2.0,3.4,3.8,2.0,3.3,3.9,"
    "1.85,1.95,1.88,2.02,,,1.95,2.05,,,,,,2.0,3.5,3.9,1.90,2.00,0.0,2.00,1.92",
    "E0,12/08/2024,20:00,Brighton,Ipswich,2,2,D,1.6,4.0,5.5,1.6,4.0,5.5,,,,,,,,,-0.5,,,,,1.6,4.1,5.6,,,-0.5,,",
]
# the faults written into ROWS, as (line, column, rule)
FAULTS = [
    (3, "AHh", BAD_LINE),  # -0.3: not a quarter goal, for both books quoted at it
    (4, "P<2.5", ONE_SIDE),
    (4, "B365AHH", BAD_PAIR_PRICE),  # abc
    (5, "B365>2.5", BAD_PAIR_PRICE),  # 1.0
    (5, "PAHH", BAD_PAIR_PRICE),  # 1001
    (5, "AHCh", NO_LINE),  # prices without their line
]


def _file(tmp_path: Path, rows=ROWS, header=HEADER, season="2425", league="E0") -> Path:
    f = tmp_path / "mmz4281" / season / f"{league}.csv"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("\n".join([header, *rows]) + "\n")
    return f


def _prices(batch) -> dict:
    return {(p.match_id, p.bookmaker, p.selection, p.closing): p for p in batch.market_prices}


def test_every_book_line_and_side_read_with_the_1x2_snapshot_times(tmp_path):
    parsed = read_csv(_file(tmp_path), "E0", "2425")
    batch = frame_to_batch(parsed.frame)
    got = _prices(batch)
    ars = "E0-2425-arsenal-everton"
    # any line a file has, every book incl. the aggregates, pre-match and closing
    assert got[(ars, "Pinnacle", Selection(Market.OU, 2.5, "over"), False)].price == 1.85
    assert got[(ars, "Pinnacle", Selection(Market.OU, 3.5, "under"), False)].price == 1.38
    assert got[(ars, "Bet365", Selection(Market.OU, 2.5, "under"), False)].price == 2.0
    assert got[(ars, "Market max", Selection(Market.OU, 2.5, "over"), False)].price == 1.9
    assert got[(ars, "Pinnacle", Selection(Market.AH, -0.75, "home"), False)].price == 1.97  # a quarter line
    assert got[(ars, "Pinnacle", Selection(Market.AH, -0.75, "away"), False)].price == 1.96
    assert got[(ars, "Pinnacle", Selection(Market.AH, -1.0, "away"), True)].price == 1.90  # AHCh, the closing line
    assert got[(ars, "Pinnacle", Selection(Market.OU, 2.5, "under"), True)].price == 2.10
    assert not is_bettable("Market max") and "Market max" in AGGREGATES
    # dated exactly as the row's 1X2 snapshots
    odds_time = {(o.match_id, o.is_closing): o.fetched_at for o in batch.odds}
    assert all(p.fetched_at == odds_time[(p.match_id, p.closing)] for p in batch.market_prices)
    assert {p.closing for p in batch.market_prices} == {False, True}
    # a row with no two-way prices at all: none, and no problem
    assert not [p for p in batch.market_prices if p.match_id == "E0-2425-brighton-ipswich"]


def test_a_bad_pair_is_named_and_only_that_pair_dropped(tmp_path):
    parsed = read_csv(_file(tmp_path), "E0", "2425")
    assert [(r.line, r.field, r.rule) for r in parsed.rejected] == FAULTS
    assert parsed.problems == [r.text() for r in parsed.rejected]
    assert parsed.rejected[0].value == "'-0.3'" and parsed.rejected[2].value == "'abc'"
    assert len(parsed.frame) == len(ROWS)  # every row kept, with its result and 1X2 prices
    batch = frame_to_batch(parsed.frame)
    assert len(batch.matches) == len(ROWS) and len(batch.odds) == 3 * len(ROWS)  # PS, B365, PSC
    got = _prices(batch)
    che, lee, spu = "E0-2425-chelsea-fulham", "E0-2425-leeds-wolves", "E0-2425-spurs-luton"
    # the bad shared line drops both books' handicap pairs on the row, nothing else
    assert not [
        p for p in batch.market_prices if p.match_id == che and p.selection.market is Market.AH and not p.closing
    ]
    assert got[(che, "Pinnacle", Selection(Market.AH, -0.5, "home"), True)].price == 1.95
    assert got[(che, "Pinnacle", Selection(Market.OU, 2.5, "over"), False)].price == 1.95
    # one side missing / not a number: that pair gone, the other books' pairs on the row kept
    assert (lee, "Pinnacle", Selection(Market.OU, 2.5, "over"), False) not in got
    assert (lee, "Bet365", Selection(Market.AH, 0.0, "away"), False) not in got
    assert got[(lee, "Bet365", Selection(Market.OU, 2.5, "over"), False)].price == 1.8
    assert got[(lee, "Pinnacle", Selection(Market.AH, 0.0, "home"), False)].price == 1.91
    assert (spu, "Bet365", Selection(Market.OU, 2.5, "over"), False) not in got
    assert (spu, "Pinnacle", Selection(Market.AH, -1.5, "home"), False) not in got
    assert not [p for p in batch.market_prices if p.match_id == spu and p.selection.market is Market.AH and p.closing]
    assert got[(spu, "Bet365", Selection(Market.AH, -1.5, "home"), False)].price == 1.9
    assert len(
        {(p.match_id, p.bookmaker, p.selection.market, p.selection.line, p.closing) for p in got.values()}
    ) * 2 == len(batch.market_prices)


def test_fixtures_have_pre_match_pairs_at_the_fetch_time_and_no_closing_ones(tmp_path):
    frame = read_csv(_file(tmp_path), "E0", "2425").frame
    now = datetime(2024, 8, 9, 12, tzinfo=UTC)
    batch = frame_to_batch(frame, status=SCHEDULED, odds_time=now)
    assert batch.market_prices and all(not p.closing and p.fetched_at == now for p in batch.market_prices)


OLD_HEADER = (
    "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A,GB>2.5,GB<2.5,GBAHH,GBAHA,GBAH,B365AHH,B365AHA,B365AH"
)
OLD_ROWS = ["E0,16/08/03,Birmingham,Tottenham,1,0,H,2.375,3.25,2.75,1.85,1.85,2.05,1.75,-0.25,2.1,1.8,0.0"]


def test_the_2003_layout_reads_each_books_own_line_and_concatenates_with_the_new_one(tmp_path):
    _file(tmp_path, OLD_ROWS, OLD_HEADER, season="0304")
    _file(tmp_path, ROWS[:1], HEADER, season="2425")
    frame, problems = load_matches(tmp_path)
    assert problems == [] and len(frame) == 2
    got = _prices(frame_to_batch(frame))  # one frame of two layouts: every book's line from its own file
    old, new = "E0-0304-birmingham-tottenham", "E0-2425-arsenal-everton"
    assert got[(old, "Gamebookers", Selection(Market.AH, -0.25, "home"), False)].price == 2.05
    assert got[(old, "Bet365", Selection(Market.AH, 0.0, "away"), False)].price == 1.8
    assert got[(old, "Gamebookers", Selection(Market.OU, 2.5, "under"), False)].price == 1.85
    assert got[(new, "Bet365", Selection(Market.AH, -0.75, "home"), False)].price == 1.95
    assert not [k for k in got if k[0] == old and k[3]]  # no closing prices in 2003


def test_the_provider_and_the_sanitised_batch_carry_the_pairs_and_their_rejections(tmp_path):
    _file(tmp_path)
    (tmp_path / "fixtures.csv").write_text(HEADER + "\n")
    provider = Sanitized(FootballDataProvider(data_dir=tmp_path, leagues=("E0",)))
    now = datetime(2024, 8, 20, tzinfo=UTC)
    batch = provider.history(None, now, now)
    assert len(batch.matches) == len(ROWS) and len(batch.market_prices) > 40
    assert [(r.line, r.field) for r in batch.rejected] == [(line, field) for line, field, _ in FAULTS]
    results = provider.results(["E0-2425-arsenal-everton"], now)
    assert {p.match_id for p in results.market_prices} == {"E0-2425-arsenal-everton"}
    assert {p.selection for p in results.market_prices} >= {Selection(Market.AH, -1.0, "home")}


# ---- the shared files -----------------------------------------------------------------------------------------

SEASON = FOOTBALL_DATA / "mmz4281" / "2324"


def _write_fault(path: Path, home: str, away: str, column: str, value: str) -> tuple[int, str]:
    lines = path.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    line = next(i + 1 for i, ln in enumerate(lines) if f",{home},{away}," in ln)
    cells = lines[line - 1].rstrip("\n").split(",")
    old, cells[header.index(column)] = cells[header.index(column)], value
    lines[line - 1] = ",".join(cells) + "\n"
    path.write_text("".join(lines))
    return line, old


@needs_shared()
def test_a_real_file_with_faults_written_in_loses_only_the_bad_pairs(tmp_path):
    clean = tmp_path / "clean.csv"
    clean.write_bytes((SEASON / "E0.csv").read_bytes())
    faulty = tmp_path / "E0.csv"
    faulty.write_bytes(clean.read_bytes())
    faults = [
        ("Arsenal", "Everton", "AHh", "-0.3", BAD_LINE, 4),  # the shared line: Bet365, Pinnacle, Max, Avg
        ("Liverpool", "Wolves", "B365<2.5", "", ONE_SIDE, 1),
        ("Luton", "Fulham", "B365C>2.5", "1.0", BAD_PAIR_PRICE, 1),
        ("Burnley", "Nott'm Forest", "PCAHA", "x", BAD_PAIR_PRICE, 1),
        ("Chelsea", "Bournemouth", "MaxAHH", "1001", BAD_PAIR_PRICE, 1),
    ]
    written = [(*_write_fault(faulty, h, a, col, v), col, rule, pairs) for h, a, col, v, rule, pairs in faults]
    before, after = read_csv(clean, "E0", "2324"), read_csv(faulty, "E0", "2324")
    assert before.rejected == [] and len(after.frame) == len(before.frame) == 380
    assert [(r.line, r.field, r.rule) for r in after.rejected] == sorted((ln, c, rule) for ln, _, c, rule, _ in written)
    b, a = frame_to_batch(before.frame), frame_to_batch(after.frame)
    assert (len(a.matches), len(a.odds)) == (len(b.matches), len(b.odds))  # results and 1X2 untouched
    assert len(b.market_prices) - len(a.market_prices) == 2 * sum(pairs for *_, pairs in written)
    # every pair the file has, as the file has it (csv module, not the parser)
    with open(clean, newline="", encoding="utf-8-sig") as fh:
        row = next(r for r in csv.DictReader(fh) if (r["HomeTeam"], r["AwayTeam"]) == ("Burnley", "Man City"))
    got = _prices(b)
    mid = "E0-2324-burnley-man_city"
    line = float(row["AHh"])
    assert got[(mid, "Pinnacle", Selection(Market.AH, line, "home"), False)].price == float(row["PAHH"])
    assert got[(mid, "Market average", Selection(Market.AH, float(row["AHCh"]), "away"), True)].price == float(
        row["AvgCAHA"]
    )
    assert got[(mid, "Bet365", Selection(Market.OU, 2.5, "under"), True)].price == float(row["B365C<2.5"])
    kinds = Counter((p.selection.market, p.closing) for p in b.market_prices)
    assert set(kinds) == {(Market.OU, False), (Market.OU, True), (Market.AH, False), (Market.AH, True)}


@needs_shared()
def test_the_2003_04_files_parse_with_each_books_line():
    names = {"B365": "Bet365", "GB": "Gamebookers", "LB": "Ladbrokes"}
    for league in ("E0", "D1", "F1", "I1", "SP1"):
        path = FOOTBALL_DATA / "mmz4281" / "0304" / f"{league}.csv"
        parsed = read_csv(path, league, "0304")
        batch = frame_to_batch(parsed.frame)
        ah = [p for p in batch.market_prices if p.selection.market is Market.AH]
        assert ah and all(p.fetched_at == ko - timedelta(days=1) for p, ko in _kickoffs(batch, ah))
        # what the file has, read with the csv module: each book's pair at the book's own line
        with open(path, newline="", encoding="latin-1") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("HomeTeam")]
        expected, unreadable = Counter(), 0
        for r in rows:
            for book in (b for b in names if f"{b}AH" in r):
                cells = r[f"{book}AHH"], r[f"{book}AHA"], r[f"{book}AH"]
                if not any(x.strip() for x in cells[:2]):
                    continue
                try:
                    h, a, ln = (float(x) for x in cells)
                    readable = 1.01 <= min(h, a) and max(h, a) <= 1000 and ln * 4 == round(ln * 4)
                except ValueError:
                    readable = False
                if readable:
                    expected[(names[book], ln, h, a)] += 1
                else:
                    unreadable += 1
        pairs = {(p.match_id, p.bookmaker, p.selection.line): {} for p in ah}
        for p in ah:
            pairs[(p.match_id, p.bookmaker, p.selection.line)][p.selection.side] = p.price
        got = Counter((book, line, v["home"], v["away"]) for (_, book, line), v in pairs.items())
        assert got == expected and len({k[1] for k in expected}) > 1  # more than one line quoted per file
        assert sum(1 for r in parsed.rejected if "AH" in r.field) == unreadable


def _kickoffs(batch, prices):
    ko = {m.provider_id: m.kickoff for m in batch.matches}
    return [(p, ko[p.match_id]) for p in prices]
