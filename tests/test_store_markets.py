"""Over/under and Asian handicap in the store (issue 25), on a real SQLite file and the real PostgreSQL server: the
two-way prices in `market_odds` in and out, bets and skips with their market and line, one bet per selection, the
new results, and settlement's reads."""

from __future__ import annotations

import dataclasses
import logging
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from pipeline.markets import Market, MarketPrice, Selection
from pipeline.providers.base import FINISHED, Batch, Match, Odds
from pipeline.records import Bet, SkippedCandidate
from pipeline.store import make_engine, migrate, schema, store_batch
from pipeline.store.bets import bets_since, insert_bets, write_settlements
from pipeline.store.ledger import open_recommendations
from pipeline.store.market_odds import (
    BOOKMAKER_LENGTH,
    closing_market_prices,
    latest_market_prices,
    store_market_prices,
)
from pipeline.store.settlement import pending_bets_with_results, settled_bets_contradicting_results
from pipeline.store.skipped import record_skipped

T0 = datetime(2026, 2, 7, 15, 0, tzinfo=UTC)  # the first kick-off
OU25 = Selection(Market.OU, 2.5, "over"), Selection(Market.OU, 2.5, "under")
AH = Selection(Market.AH, -0.75, "home"), Selection(Market.AH, -0.75, "away")


@pytest.fixture
def engine(db_url, tmp_path):
    eng = make_engine(db_url)
    migrate(eng, tmp_path / "locks")
    yield eng
    eng.dispose()


def _matches(n: int = 2, status: str = "scheduled") -> list[Match]:
    return [
        Match(f"m{i}", "E0", "2526", T0 + timedelta(days=i), f"Home {i}", f"Away {i}", status=status) for i in range(n)
    ]


def _pair(mid, book, sels, prices, at, closing=False) -> list[MarketPrice]:
    return [MarketPrice(mid, book, s, p, closing, at) for s, p in zip(sels, prices)]


def _key(p: MarketPrice):
    return (p.match_id, p.bookmaker, str(p.selection), p.price, p.closing, p.fetched_at)


# ---- market_odds -------------------------------------------------------------------------------------------------


def test_two_way_prices_go_in_once_and_come_back_latest_before_kick_off_and_now(engine, caplog):
    early, late = T0 - timedelta(hours=20), T0 - timedelta(hours=2)
    prices = (
        _pair("m0", "Pinnacle", OU25, (1.95, 1.92), early)
        + _pair("m0", "Pinnacle", OU25, (1.88, 2.00), late)
        + _pair("m0", "Pinnacle", OU25, (1.70, 2.30), T0 + timedelta(minutes=30))  # in play: not pre-match
        + _pair("m0", "Bet365", AH, (2.02, 1.85), early)
        + _pair("m0", "Bet365", (Selection(Market.AH, -0.5, "home"),), (1.80,), early)  # the other line stays apart
        + _pair("m0", "Pinnacle", OU25, (1.90, 1.98), T0 - timedelta(minutes=1), closing=True)
        + _pair("m0", "Pinnacle", OU25, (1.85, 2.04), T0, closing=True)  # the newest close wins
        + _pair("m1", "Bet365", OU25, (1.60, 2.40), None)  # a file row: stamped with the run's time
        + _pair("ghost", "Pinnacle", OU25, (1.9, 1.9), early)  # neither in the batch nor in the store
    )
    now = T0 - timedelta(days=1, hours=-5)  # the run's time: after `early`, before `late`
    batch = Batch(matches=_matches(), market_prices=prices)
    with caplog.at_level(logging.WARNING, logger="pipeline.store.market_odds"):
        for _ in range(2):  # idempotent
            with engine.begin() as conn:
                counts = store_batch(conn, "test", batch, now)
    assert counts["market_prices"] == len(prices) - 2 and counts["prices_not_stored"] == 2
    assert "2 two-way prices of 1 matches not stored: match not in the store (e.g. ghost)" in caplog.text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.market_odds)).scalar() == len(prices) - 2
        fids = dict(conn.execute(select(schema.fixtures.c.provider_id, schema.fixtures.c.id)).all())
        at_early = latest_market_prices(conn, fids.values(), early + timedelta(hours=1))
        at_kickoff = latest_market_prices(conn, fids.values(), T0 + timedelta(days=5))
        close = closing_market_prices(conn, fids.values())
    assert sorted(map(_key, at_early[fids["m0"]])) == sorted(
        map(_key, _pair("m0", "Pinnacle", OU25, (1.95, 1.92), early) + prices[6:9])
    )
    assert sorted(map(_key, at_kickoff[fids["m0"]])) == sorted(
        map(_key, _pair("m0", "Pinnacle", OU25, (1.88, 2.00), late) + prices[6:9])
    )
    # m1's price had no time of its own: seen at the run's time, so not before it
    with engine.connect() as conn:
        assert fids["m1"] not in latest_market_prices(conn, [fids["m1"]], now - timedelta(seconds=1))
        m1 = latest_market_prices(conn, [fids["m1"]], now)[fids["m1"]]
    assert [_key(p) for p in m1] == [_key(p) for p in _pair("m1", "Bet365", OU25, (1.60, 2.40), now)]
    assert sorted(map(_key, close[fids["m0"]])) == sorted(map(_key, prices[11:13]))
    assert set(close) == {fids["m0"]}
    assert all(p.fetched_at.tzinfo is not None for p in at_kickoff[fids["m0"]])


def test_a_batch_of_prices_alone_finds_its_matches_in_the_store(engine):
    with engine.begin() as conn:
        store_batch(conn, "test", Batch(matches=_matches(1)), T0 - timedelta(days=2))
        counts = store_batch(
            conn, "test", Batch(market_prices=_pair("m0", "Pinnacle", AH, (1.9, 1.95), None)), T0 - timedelta(days=1)
        )
        assert counts["market_prices"] == 2 and counts["prices_not_stored"] == 0
        # the function itself: what it offers and what it leaves (a book name the column cannot hold)
        fid = conn.execute(select(schema.fixtures.c.id)).scalar_one()
        too_long = _pair("m0", "B" * 65, AH, (1.9, 1.95), T0 - timedelta(hours=1))
        assert store_market_prices(conn, {"m0": fid}, too_long, T0) == 0
        assert BOOKMAKER_LENGTH == schema.market_odds.c.bookmaker.type.length == 64
        rows = conn.execute(select(schema.market_odds.c.line, schema.market_odds.c.selection)).all()
    assert sorted(rows) == [(-0.75, "away"), (-0.75, "home")]


@pytest.mark.parametrize(
    "bad",
    [
        {"market": "1X2", "selection": "home"},  # 1X2 stays in odds_snapshots
        {"market": "OU", "selection": "home"},  # not a selection of the market
        {"market": "AH", "selection": "over"},
        {"odds": 1.0},
    ],
)
def test_market_odds_refuses_what_is_not_a_two_way_price(engine, bad):
    with engine.begin() as conn:
        store_batch(conn, "test", Batch(matches=_matches(1)), T0)
        fid = conn.execute(select(schema.fixtures.c.id)).scalar_one()
    row = {"fixture_id": fid, "bookmaker": "Pinnacle", "market": "OU", "line": 2.5, "selection": "over", "odds": 1.9}
    row["fetched_at"] = T0
    with engine.begin() as conn:
        conn.execute(schema.market_odds.insert().values(**row))  # the good row goes in
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(schema.market_odds.insert().values(**{**row, "fetched_at": T0 + timedelta(hours=1), **bad}))


# ---- bets and skips ----------------------------------------------------------------------------------------------


def _prediction(conn, fid: int) -> int:
    return conn.execute(
        schema.predictions.insert().values(
            fixture_id=fid,
            prediction_time=T0 - timedelta(hours=3),
            model_version="v1",
            home_prob=0.5,
            draw_prob=0.3,
            away_prob=0.2,
            input_key=f"k{fid}",
        )
    ).inserted_primary_key[0]


def _bet(fid, pid, outcome, market="1X2", line=None, odds=2.0) -> Bet:
    return Bet(
        fid, pid, outcome, "Bet365", odds, 10.0, 0.05, 0.5, "Pinnacle", 0.5, False, T0 - timedelta(hours=3), 2.04, T0,
        market=market, line=line,
    )  # fmt: skip


def test_one_bet_per_selection_a_1x2_home_and_a_handicap_home_are_two(engine):
    with engine.begin() as conn:
        store_batch(conn, "test", Batch(matches=_matches(1)), T0 - timedelta(days=1))
        fid = conn.execute(select(schema.fixtures.c.id)).scalar_one()
        pid = _prediction(conn, fid)
        bets = [
            _bet(fid, pid, "home"),
            _bet(fid, pid, "home", "AH", -0.5),
            _bet(fid, pid, "home", "AH", -0.25),
            _bet(fid, pid, "away", "AH", -0.5),
            _bet(fid, pid, "over", "OU", 2.5),
            _bet(fid, pid, "over", Market.OU, 3.0),
        ]
        insert_bets(conn, bets)
        insert_bets(conn, [dataclasses.replace(b, odds=9.0, stake=99.0) for b in bets])  # all refused: duplicates
        got = conn.execute(
            select(schema.bets.c.market, schema.bets.c.line, schema.bets.c.bet_outcome, schema.bets.c.odds).order_by(
                schema.bets.c.id
            )
        ).all()
        assert got == [(str(b.market), b.line, b.outcome, 2.0) for b in bets]
        # a void bet is over: a new one on its selection is taken, once
        conn.execute(schema.bets.update().where(schema.bets.c.line == -0.5).values(status="void", result="void"))
        insert_bets(conn, [dataclasses.replace(bets[1], odds=2.2), dataclasses.replace(bets[1], odds=2.3)])
        placed = bets_since(conn, T0 - timedelta(days=1))
        shown = [(b.market, b.line, b.selection) for b in open_recommendations(conn)]
    assert sorted(shown, key=str) == sorted(
        [("1X2", None, "home"), ("AH", -0.5, "AH -0.5 home"), ("AH", -0.25, "AH -0.25 home")]
        + [("OU", 2.5, "OU 2.5 over"), ("OU", 3.0, "OU 3 over")],
        key=str,
    )
    assert sorted((p.market, p.line, p.outcome, p.stake) for p in placed) == sorted(
        [("1X2", None, "home", 10.0), ("AH", -0.5, "home", 10.0), ("AH", -0.25, "home", 10.0)]
        + [("OU", 2.5, "over", 10.0), ("OU", 3.0, "over", 10.0)]
    )


@pytest.mark.parametrize(
    "bad",
    [{"market": "BTTS", "line": 0.5}, {"market": "OU", "line": None}, {"market": "1X2", "line": 0.5}],
)
def test_a_bet_market_and_line_must_agree(engine, bad):
    with engine.begin() as conn:
        store_batch(conn, "test", Batch(matches=_matches(1)), T0 - timedelta(days=1))
        fid = conn.execute(select(schema.fixtures.c.id)).scalar_one()
        pid = _prediction(conn, fid)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_bets(conn, [_bet(fid, pid, "over", bad["market"], bad["line"])])


def test_pending_bets_carry_market_and_line_and_settle_as_half_and_push(engine):
    with engine.begin() as conn:
        store_batch(conn, "test", Batch(matches=_matches(1)), T0 - timedelta(days=1))
        fid = conn.execute(select(schema.fixtures.c.id)).scalar_one()
        pid = _prediction(conn, fid)
        insert_bets(
            conn,
            [
                _bet(fid, pid, "home"),
                _bet(fid, pid, "home", "AH", -0.25),
                _bet(fid, pid, "over", "OU", 2.0),
                _bet(fid, pid, "away", "AH", -0.75),
            ],
        )
        played = dataclasses.replace(_matches(1)[0], status=FINISHED, home_goals=1, away_goals=1)
        store_batch(conn, "test", Batch(matches=[played]), T0 + timedelta(hours=2))
        pending = pending_bets_with_results(conn)
        assert [(b.market, b.line, b.bet_outcome, b.home_goals, b.away_goals) for b in pending] == [
            ("1X2", None, "home", 1, 1),
            ("AH", -0.25, "home", 1, 1),
            ("OU", 2.0, "over", 1, 1),
            ("AH", -0.75, "away", 1, 1),
        ]
        results = [("loss", -10.0), ("half_loss", -5.0), ("push", 0.0), ("half_win", 4.1)]
        write_settlements(
            conn,
            [
                {
                    "id": b.id,
                    "status": "settled",
                    "result": r,
                    "profit_loss": pl,
                    "closing_odds": None,
                    "clv": None,
                    "close_ratio_with_margin": None,
                    "settlement_note": "settled on 1-1 (draw)",
                }
                for b, (r, pl) in zip(pending, results)
            ],
            T0 + timedelta(hours=3),
        )
        got = conn.execute(select(schema.bets.c.result, schema.bets.c.profit_loss).order_by(schema.bets.c.id)).all()
        assert got == results
        assert pending_bets_with_results(conn) == []
        # the result agrees with every note: nothing to correct
        assert settled_bets_contradicting_results(conn) == []
        # the score is corrected to 2-1: the 1X2 bet is now a winner, and every two-way bet is read again (the
        # decision is pipeline.betting.settlement's)
        store_batch(conn, "test", Batch(matches=[dataclasses.replace(played, home_goals=2)]), T0 + timedelta(hours=5))
        again = settled_bets_contradicting_results(conn)
    assert [(r["market"], r["line"], r["bet_outcome"], r["result"], r["home_goals"]) for r in again] == [
        ("1X2", None, "home", "loss", 2),
        ("AH", -0.25, "home", "half_loss", 2),
        ("OU", 2.0, "over", "push", 2),
        ("AH", -0.75, "away", "half_win", 2),
    ]


def test_skips_are_one_row_per_selection_and_rule(engine):
    with engine.begin() as conn:
        store_batch(conn, "test", Batch(matches=_matches(1)), T0 - timedelta(days=1))
        fid = conn.execute(select(schema.fixtures.c.id)).scalar_one()
    skips = [
        SkippedCandidate(fid, "home", "Bet365", 3.0, 0.5, 0.5, "stale_price", "one"),
        SkippedCandidate(fid, "home", "Bet365", 3.1, 0.5, 0.55, "stale_price", "two", market="AH", line=-0.5),
        SkippedCandidate(fid, "home", "Bet365", 3.2, 0.5, 0.6, "stale_price", "three", market="AH", line=0.0),
        SkippedCandidate(fid, "over", "Bet365", 3.3, 0.5, 0.65, "stale_price", "four", market=Market.OU, line=2.5),
    ]
    t1 = T0 - timedelta(hours=6)
    with engine.begin() as conn:
        record_skipped(conn, skips, t1)
    with engine.begin() as conn:  # seen again: last_seen moves on, the latest reason and price are kept
        record_skipped(conn, [dataclasses.replace(s, odds=s.odds + 1, reason=s.reason + "!") for s in skips], T0)
    t = schema.skipped_candidates
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.market, t.c.line, t.c.outcome, t.c.odds, t.c.reason, t.c.first_seen, t.c.last_seen).order_by(
                t.c.id
            )
        ).all()
    assert rows == [(str(s.market), s.line, s.outcome, s.odds + 1, s.reason + "!", t1, T0) for s in skips]


# ---- the migration -----------------------------------------------------------------------------------------------


def _alembic():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "pipeline" / "store" / "migrations"))
    return cfg


def test_a_store_with_bets_and_skips_upgrades_keeps_them_as_1x2_and_goes_back_down(db_url, tmp_path):
    from alembic import command

    engine = make_engine(db_url)
    cfg = _alembic()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007_issue24")
    with engine.begin() as conn:
        store_batch(conn, "test", Batch(matches=_matches(2), odds=[Odds("m0", "Pinnacle", 2, 3.4, 4, T0)]), T0)
        fids = list(conn.execute(select(schema.fixtures.c.id).order_by(schema.fixtures.c.id)).scalars())
        for fid in fids:
            conn.execute(
                text(
                    "INSERT INTO predictions (fixture_id, prediction_time, model_version, home_prob, draw_prob, "
                    "away_prob, uses_lineups, input_key) VALUES (:f, :t, 'v1', 0.5, 0.3, 0.2, false, 'k')"
                ),
                {"f": fid, "t": T0},
            )
        cols = "fixture_id, prediction_id, bet_outcome, bookmaker, odds, stake, edge, model_prob, status, result, "
        cols += "placed_at"
        for fid, outcome, status, result in ((fids[0], "home", "settled", "win"), (fids[1], "away", "void", "void")):
            conn.execute(
                text(f"INSERT INTO bets ({cols}) VALUES (:f, :f, :o, 'Bet365', 2.1, 10, 0.05, 0.5, :s, :r, :t)"),
                {"f": fid, "o": outcome, "s": status, "r": result, "t": T0},
            )
        conn.execute(
            text(
                "INSERT INTO skipped_candidates (fixture_id, outcome, bookmaker, odds, fair_prob, rule, reason, "
                "first_seen, last_seen) VALUES (:f, 'draw', 'Bet365', 9.0, 0.3, 'stale_price', 'why', :t, :t)"
            ),
            {"f": fids[0], "t": T0},
        )
    migrate(engine, tmp_path / "locks")
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT bet_outcome, market, line, status, result, odds FROM bets ORDER BY id")
        ).all() == [("home", "1X2", None, "settled", "win", 2.1), ("away", "1X2", None, "void", "void", 2.1)]
        assert conn.execute(text("SELECT outcome, market, line, reason FROM skipped_candidates")).all() == [
            ("draw", "1X2", None, "why")
        ]
    with engine.begin() as conn:
        # the unique index still refuses the same 1X2 bet, and takes the handicap one beside it
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(text(f"INSERT INTO bets ({cols}) SELECT {cols} FROM bets WHERE status = 'settled'"))
        insert_bets(conn, [_bet(fids[0], 1, "home"), _bet(fids[0], 1, "home", "AH", 0.0)])
        assert conn.execute(text("SELECT count(*) FROM bets")).scalar() == 3
        conn.execute(text("UPDATE bets SET result = 'half_loss' WHERE market = 'AH'"))  # 9 characters
        # the checks of before issue 25 survive the copy of the table (SQLite's batch mode)
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(text("UPDATE bets SET ledger_status = 'maybe'"))
    # down: refused while a two-way bet would be lost
    with pytest.raises(RuntimeError, match="1 bets are on markets other than 1X2"), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007_issue24")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM bets WHERE market = 'AH'"))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007_issue24")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT bet_outcome, status FROM bets ORDER BY id")).all() == [
            ("home", "settled"),
            ("away", "void"),
        ]
        assert "market_odds" not in inspect(conn).get_table_names()
        assert not {"market", "line"} & {c["name"] for c in inspect(conn).get_columns("skipped_candidates")}
    migrate(engine, tmp_path / "locks")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bets WHERE market = '1X2'")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM skipped_candidates WHERE market = '1X2'")).scalar() == 1
    engine.dispose()


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.replace('"', "")).strip().lower()


def test_sqlite_expression_indexes_are_the_schema_modules(sqlite_url, tmp_path):
    """Alembic cannot compare an expression index on SQLite (it skips them): compare the SQL SQLite keeps for the
    two unique indexes with the schema module's own DDL for them."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex

    eng = make_engine(sqlite_url)
    migrate(eng, tmp_path / "locks")
    eng.dispose()
    db = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    stored = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'uq_%'"))
    db.close()
    wanted = {
        i.name: str(CreateIndex(i).compile(dialect=sqlite.dialect()))
        for t in (schema.bets, schema.skipped_candidates)
        for i in t.indexes
        if i.name.startswith("uq_")
    }
    assert set(wanted) == {"uq_bets_fixture_selection", "uq_skipped_candidates_selection_rule"}
    for name, sql in wanted.items():
        assert _normal(stored[name]) == _normal(sql)


# ---- the README's query ------------------------------------------------------------------------------------------


def test_the_readme_query_of_bets_by_market_runs_verbatim(sqlite_url, tmp_path):
    readme = (ROOT / "README.md").read_text()
    query = next(q for q in re.findall(r"```sql\n(.*?)```", readme, re.S) if "GROUP BY market" in q).strip()
    eng = make_engine(sqlite_url)
    migrate(eng, tmp_path / "locks")
    with eng.begin() as conn:
        store_batch(conn, "test", Batch(matches=_matches(1)), T0 - timedelta(days=1))
        fid = conn.execute(select(schema.fixtures.c.id)).scalar_one()
        pid = _prediction(conn, fid)
        insert_bets(
            conn, [_bet(fid, pid, "home"), _bet(fid, pid, "over", "OU", 2.0), _bet(fid, pid, "home", "AH", -0.25)]
        )
        b = schema.bets
        for market, result, pl, clv in (
            ("1X2", "win", 10.0, 0.04),
            ("OU", "push", 0.0, None),
            ("AH", "half_win", 5.0, 0.1),
        ):
            conn.execute(
                b.update().where(b.c.market == market).values(status="settled", result=result, profit_loss=pl, clv=clv)
            )
    eng.dispose()
    db = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    rows = db.execute(query).fetchall()
    db.close()
    assert rows == [
        ("1X2", None, "home", 1, 1, 0, 100.0, 4.0, 0),
        ("AH", -0.25, "home", 1, 1, 0, 50.0, 10.0, 0),
        ("OU", 2.0, "over", 1, 0, 1, 0.0, None, 1),
    ]
