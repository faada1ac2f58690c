"""CLV only against a sharp close, on a copy of football-data.co.uk's real E0 2023-24 file with the fault written
in: Pinnacle's closing columns emptied in one row (the market average's close remains), every closing column
emptied in another (only pre-match prices remain). Their bets get no CLV (it used to be graded against the market
average, and against the pre-match price), the report counts them apart and leaves them out of the fair-CLV
figures; a bet with Pinnacle's close is graded against it. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FOOTBALL_DATA, needs_shared
from sqlalchemy import select

from pipeline.jobs.report import build_report, format_report
from pipeline.jobs.results_settlement import run as run_settlement
from pipeline.jobs.runner import run_job
from pipeline.prices import PriceRules
from pipeline.providers.base import Batch
from pipeline.providers.football_data import FootballDataProvider
from pipeline.records import Bet
from pipeline.store import make_engine, migrate, store_batch
from pipeline.store import schema as s
from pipeline.store.bets import insert_bets

pytestmark = needs_shared()
LAST_ROUND = "19/05/2024"
CLOSING_PREFIXES = ("B365C", "BWC", "IWC", "PSC", "WHC", "VCC", "MaxC", "AvgC")


def _copy_with_faults(dest: Path) -> list[tuple[str, str]]:
    """E0 2023-24 with the last round's first match untouched, the second without Pinnacle's close and the third
    without any close; returns those three (home, away)."""
    src = FOOTBALL_DATA / "mmz4281" / "2324" / "E0.csv"
    with open(src, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    last = [r for r in body if r[1] == LAST_ROUND][:3]
    assert len(last) == 3

    def blank(row, prefixes):
        for i, name in enumerate(header):
            if any(name == p + side for p in prefixes for side in "HDA"):
                row[i] = ""

    blank(last[1], ("PSC",))
    blank(last[2], CLOSING_PREFIXES)
    dest.mkdir(parents=True)
    with open(dest / "E0.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *body])
    return [(r[3], r[4]) for r in last]


def test_bets_without_a_sharp_close_get_no_clv_and_are_counted_apart(db_url, tmp_path, settings):
    data = tmp_path / "football-data"
    pairs = _copy_with_faults(data / "mmz4281" / "2324")
    provider = FootballDataProvider(data_dir=data, leagues=("E0",))
    now = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
    eng = make_engine(db_url)
    migrate(eng, tmp_path / "locks")
    batch = provider.history(datetime(2024, 5, 18, tzinfo=UTC), now, now)
    with eng.begin() as conn:
        # the fixtures as the hourly job saw them, before the results: no result rows yet
        store_batch(
            conn,
            provider.name,
            Batch(
                matches=[
                    dataclasses.replace(m, status="scheduled", home_goals=None, away_goals=None) for m in batch.matches
                ]
            ),
            now - timedelta(days=2),
        )
        fixtures = {
            (r.home_team, r.away_team): r
            for r in conn.execute(
                select(s.fixtures.c.id, s.fixtures.c.home_team, s.fixtures.c.away_team, s.fixtures.c.kickoff_time)
            )
        }
        bets = []
        for home, away in pairs:
            fx = fixtures[(home, away)]
            pid = conn.execute(
                s.predictions.insert().values(
                    fixture_id=fx.id,
                    prediction_time=fx.kickoff_time - timedelta(hours=3),
                    model_version="v1",
                    home_prob=0.4,
                    draw_prob=0.3,
                    away_prob=0.3,
                    input_key="k",
                )
            ).inserted_primary_key[0]
            bets.append(
                Bet(
                    fixture_id=fx.id,
                    prediction_id=pid,
                    outcome="draw",
                    bookmaker="Bet365",
                    odds=4.0,
                    stake=10.0,
                    edge=0.05,
                    fair_prob=0.3,
                    fair_source="Pinnacle",
                    model_prob=0.3,
                    lineup_based=False,
                    placed_at=fx.kickoff_time - timedelta(hours=3),
                    kickoff=fx.kickoff_time,
                )
            )
        insert_bets(conn, bets)
    st = dataclasses.replace(settings, database_url=db_url, data_source="football-data")
    assert run_job("results_settlement", run_settlement, settings=st, now=now, provider=provider) == 0
    with eng.connect() as conn:
        got = {
            (r.home_team, r.away_team): r
            for r in conn.execute(
                select(
                    s.fixtures.c.home_team, s.fixtures.c.away_team, s.bets.c.status, s.bets.c.closing_odds, s.bets.c.clv
                ).join(s.fixtures, s.fixtures.c.id == s.bets.c.fixture_id)
            )
        }
        rep = build_report(conn, st.starting_bankroll, PriceRules.from_settings(st))
    full, no_pinnacle, no_close = (got[p] for p in pairs)
    assert all(b.status == "settled" for b in got.values())
    assert full.closing_odds is not None and full.clv is not None  # Pinnacle's close: graded
    assert (no_pinnacle.closing_odds, no_pinnacle.clv) == (None, None)  # used to be graded against AvgC
    assert (no_close.closing_odds, no_close.clv) == (None, None)  # used to be graded against the pre-match price
    value = rep["value"]
    assert (value.bets, value.clv.graded, value.ungraded) == (3, 1, 2)
    assert value.clv.flat.mean == pytest.approx(full.clv)
    for method, stats in value.by_method.items():
        assert stats.graded == 1, method
    text = format_report(rep)
    assert "2 settled bets without a sharp close (no Pinnacle closing price)" in text
    eng.dispose()
