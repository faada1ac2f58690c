"""The store on a real SQLite file and on the real PostgreSQL server."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
import store_writer
from conftest import insert_prediction_and_bet
from sqlalchemy import func, select, text

from pipeline.providers.base import FINISHED, POSTPONED, SCHEDULED, Batch, Match, Odds
from pipeline.records import Bet, Prediction
from pipeline.store import (
    load_match_frame,
    make_engine,
    migrate,
    schema,
    store_batch,
    store_predictions,
    table_names,
)
from pipeline.store.bets import insert_bets

UTC = UTC
T0 = datetime(2026, 1, 17, 15, 0, tzinfo=UTC)

GUIDE_QUERIES = [
    "SELECT * FROM predictions ORDER BY prediction_time DESC LIMIT 10;",
    "SELECT MAX(prediction_time) FROM predictions;",
    "SELECT bet_outcome, COUNT(*) as total_bets, SUM(CASE WHEN result = 'win' THEN 1 ELSE 0 END) as wins, "
    "SUM(stake) as total_staked, SUM(profit_loss) as net_profit, (SUM(profit_loss) / SUM(stake) * 100) as roi "
    "FROM bets WHERE status = 'settled' GROUP BY bet_outcome;",
]


def _engine(url, tmp_path):
    eng = make_engine(url)
    migrate(eng, tmp_path / "locks")
    return eng


def _batch(n=3, status=FINISHED, with_close=True):
    b = Batch()
    for i in range(n):
        mid = f"m{i}"
        b.matches.append(
            Match(
                provider_id=mid,
                league="L1",
                season="2526",
                kickoff=T0 + timedelta(days=i),
                home_team=f"Team {i}",
                away_team=f"Team {i + 10}",
                status=status,
                home_goals=2 if status == FINISHED else None,
                away_goals=i if status == FINISHED else None,
                stats={"home_shots": 10, "away_shots": 5},
            )
        )
        b.odds.append(Odds(mid, "book", 2.0, 3.4, 4.0, fetched_at=T0 + timedelta(days=i, hours=-20)))
        if with_close:
            b.odds.append(Odds(mid, "book", 1.9, 3.5, 4.2, fetched_at=T0 + timedelta(days=i), is_closing=True))
    return b


def test_migrations_build_every_table(db_url, tmp_path):
    eng = _engine(db_url, tmp_path)
    names = set(table_names(eng))
    for t in (
        "leagues",
        "teams",
        "players",
        "fixtures",
        "odds_snapshots",
        "results",
        "lineups",
        "lineup_updates",
        "predictions",
        "bets",
        "performance_daily",
        "job_runs",
        "model_versions",
        "alembic_version",
    ):
        assert t in names
    migrate(eng, tmp_path / "locks")  # a second run is a no-op
    eng.dispose()


def test_migrations_equal_the_schema_module_column_by_column(db_url, tmp_path):
    """Alembic's autogenerate comparison of the migrated database with schema.py: no table, column, type,
    nullability, index or constraint differs (so a schema change without its migration fails here)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    eng = _engine(db_url, tmp_path)
    with eng.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diffs = compare_metadata(ctx, schema.metadata)
    eng.dispose()
    assert diffs == [], diffs


def test_the_schema_comparison_sees_a_missing_column(sqlite_url, tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import Column, Float, MetaData

    eng = _engine(sqlite_url, tmp_path)
    changed = MetaData()
    for t in schema.metadata.sorted_tables:
        t.to_metadata(changed)
    changed.tables["bets"].append_column(Column("not_migrated", Float))
    with eng.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), changed)
    eng.dispose()
    assert [d[0] for d in diffs] == ["add_column"] and diffs[0][3].name == "not_migrated"


def test_timestamps_round_trip_as_utc(db_url, tmp_path):
    eng = _engine(db_url, tmp_path)
    cet = timezone(timedelta(hours=1))
    with eng.begin() as conn:
        conn.execute(
            schema.job_runs.insert().values(
                job="x", status="success", started_at=datetime(2026, 1, 20, 2, 0, tzinfo=cet)
            )
        )
    with eng.connect() as conn:
        got = conn.execute(select(schema.job_runs.c.started_at)).scalar_one()
    assert got == datetime(2026, 1, 20, 1, 0, tzinfo=UTC) and got.tzinfo is not None
    with pytest.raises(Exception, match="naive"):
        with eng.begin() as conn:
            conn.execute(schema.job_runs.insert().values(job="x", status="success", started_at=datetime(2026, 1, 1)))
    eng.dispose()


def test_sqlite_stores_readable_utc_text(sqlite_url, tmp_path):
    eng = _engine(sqlite_url, tmp_path)
    with eng.begin() as conn:
        conn.execute(
            schema.job_runs.insert().values(
                job="x", status="success", started_at=datetime(2026, 1, 20, 1, 0, tzinfo=UTC)
            )
        )
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///")).execute("SELECT started_at FROM job_runs")
    assert raw.fetchone()[0].startswith("2026-01-20 01:00:00")
    eng.dispose()


def test_store_batch_is_idempotent(db_url, tmp_path):
    eng = _engine(db_url, tmp_path)
    for _ in range(3):
        with eng.begin() as conn:
            counts = store_batch(conn, "test", _batch(), T0)
    assert counts == {"fixtures": 3, "odds_snapshots": 6, "market_prices": 0, "prices_not_stored": 0, "results": 3}
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.fixtures)).scalar() == 3
        assert conn.execute(select(func.count()).select_from(schema.odds_snapshots)).scalar() == 6
        assert conn.execute(select(func.count()).select_from(schema.results)).scalar() == 3
        assert conn.execute(select(func.count()).select_from(schema.teams)).scalar() == 6
        frame = load_match_frame(conn, "test")
    assert list(frame["match_id"]) == ["m0", "m1", "m2"]
    assert frame.loc[0, "odds_home"] == 2.0 and frame.loc[0, "close_home"] == 1.9
    assert frame.loc[2, "away_goals"] == 2 and frame.loc[0, "home_shots"] == 10
    eng.dispose()


def test_match_frame_takes_the_latest_price_seen_before_kick_off(db_url, tmp_path):
    eng = _engine(db_url, tmp_path)
    b = _batch(2)
    kickoff = T0  # m0's kick-off
    b.odds += [
        Odds("m0", "book", 2.2, 3.3, 3.6, fetched_at=kickoff - timedelta(hours=2)),  # the latest before
        Odds("m0", "other", 2.1, 3.3, 3.7, fetched_at=kickoff - timedelta(hours=5)),
        Odds("m0", "book", 9.0, 9.0, 9.0, fetched_at=kickoff + timedelta(minutes=10)),
    ]  # in play: ignored
    with eng.begin() as conn:
        store_batch(conn, "test", b, T0 + timedelta(days=3))
    with eng.connect() as conn:
        frame = load_match_frame(conn, "test").set_index("match_id")
    assert tuple(frame.loc["m0", ["odds_home", "odds_draw", "odds_away"]]) == (2.2, 3.3, 3.6)
    assert frame.loc["m0", "close_home"] == 1.9  # the closing snapshot is not a pre-match price
    assert frame.loc["m1", "odds_home"] == 2.0  # its only pre-match snapshot
    eng.dispose()


def test_result_update_keeps_known_closing_odds(db_url, tmp_path):
    eng = _engine(db_url, tmp_path)
    with eng.begin() as conn:
        store_batch(conn, "test", _batch(1), T0)
        store_batch(conn, "test", _batch(1, with_close=False), T0 + timedelta(hours=1))
    with eng.connect() as conn:
        assert conn.execute(select(schema.results.c.closing_home_odds)).scalar_one() == 1.9
    eng.dispose()


def test_status_changes_and_void_results(db_url, tmp_path):
    eng = _engine(db_url, tmp_path)
    with eng.begin() as conn:
        store_batch(conn, "test", _batch(1, status=SCHEDULED, with_close=False), T0 - timedelta(days=1))
        store_batch(conn, "test", _batch(1, status=POSTPONED, with_close=False), T0)
    with eng.connect() as conn:
        assert conn.execute(select(schema.fixtures.c.status)).scalar_one() == POSTPONED
        row = conn.execute(select(schema.results)).mappings().one()
    assert row["status"] == POSTPONED and row["outcome"] is None and row["home_goals"] is None
    eng.dispose()


def test_guide_queries_run_verbatim(sqlite_url, tmp_path):
    eng = _engine(sqlite_url, tmp_path)
    with eng.begin() as conn:
        store_batch(conn, "test", _batch(2), T0)
        fid = conn.execute(select(schema.fixtures.c.id).order_by(schema.fixtures.c.id)).scalars().all()
        for i, f in enumerate(fid):
            insert_prediction_and_bet(
                conn,
                f,
                T0 + timedelta(hours=i),
                bet_outcome="home",
                bookmaker="b",
                odds=2.0,
                stake=10.0,
                edge=0.1,
                model_prob=0.55,
                status="settled",
                result="win" if i == 0 else "loss",
                profit_loss=10.0 if i == 0 else -10.0,
                placed_at=T0,
            )
    db = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    rows = [db.execute(q).fetchall() for q in GUIDE_QUERIES]
    assert len(rows[0]) == 2
    assert rows[1][0][0] == "2026-01-17 16:00:00.000000" or rows[1][0][0].startswith("2026-01-17 16:00:00")
    assert rows[2] == [("home", 2, 1, 20.0, 0.0, 0.0)]
    eng.dispose()


def test_bets_are_never_duplicated(db_url, tmp_path):
    eng = _engine(db_url, tmp_path)
    with eng.begin() as conn:
        store_batch(conn, "test", _batch(1), T0)
        f = conn.execute(select(schema.fixtures.c.id)).scalar_one()
        pid = conn.execute(
            schema.predictions.insert().values(
                fixture_id=f,
                prediction_time=T0,
                model_version="v1",
                home_prob=0.5,
                draw_prob=0.3,
                away_prob=0.2,
                input_key="k",
            )
        ).inserted_primary_key[0]
        bet = Bet(f, pid, "home", "b", 2.0, 10.0, 0.1, 0.5, "Pinnacle", 0.55, False, T0, kickoff=T0)
        insert_bets(conn, [bet])
        insert_bets(conn, [dataclasses.replace(bet, odds=3.0, stake=99.0)])
        rows = conn.execute(select(schema.bets.c.odds, schema.bets.c.stake, schema.bets.c.kickoff_at_placement)).all()
        assert rows == [(2.0, 10.0, T0)]
        # a void bet is over: it does not block a new bet on its outcome (one that is not void is never doubled)
        conn.execute(schema.bets.update().values(status="void", result="void", profit_loss=0.0))
        insert_bets(conn, [dataclasses.replace(bet, odds=3.0, stake=5.0)])
        insert_bets(conn, [dataclasses.replace(bet, odds=4.0, stake=6.0)])
    with eng.connect() as conn:
        rows = conn.execute(select(schema.bets.c.status, schema.bets.c.odds).order_by(schema.bets.c.id)).all()
    assert rows == [("void", 2.0), ("pending", 3.0)]
    eng.dispose()


@pytest.mark.parametrize("workers,n", [(6, 40)])
def test_concurrent_writers_lose_nothing(db_url, tmp_path, workers, n):
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=store_writer.write, args=(db_url, w, n, str(tmp_path / "locks"))) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * workers
    eng = make_engine(db_url)
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.job_runs)).scalar() == workers * n
        assert conn.execute(select(func.count()).select_from(schema.leagues)).scalar() == workers * n
    if db_url.startswith("sqlite"):
        with eng.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    eng.dispose()


def test_force_rewrites_predictions_but_never_one_a_bet_points_to(db_url, tmp_path):
    """hourly_predictions.py --force predicts again; a prediction a placed bet points to keeps its time and
    numbers (both dialects)."""
    t0 = datetime(2026, 1, 20, 12, tzinfo=UTC)
    eng = make_engine(db_url)
    migrate(eng, tmp_path)
    with eng.begin() as conn:
        conn.execute(schema.leagues.insert().values(source="s", code="L", name="L"))
        a = conn.execute(schema.teams.insert().values(source="s", provider_id="a", name="A")).inserted_primary_key[0]
        b = conn.execute(schema.teams.insert().values(source="s", provider_id="b", name="B")).inserted_primary_key[0]
        ids = [
            conn.execute(
                schema.fixtures.insert().values(
                    source="s",
                    provider_id=f"m{i}",
                    league_code="L",
                    season="2526",
                    kickoff_time=t0 + timedelta(days=1),
                    home_team_id=a,
                    away_team_id=b,
                    home_team="A",
                    away_team="B",
                    status="scheduled",
                    updated_at=t0,
                )
            ).inserted_primary_key[0]
            for i in range(2)
        ]

    def rows(when, p):
        return [
            Prediction(
                match_id=f"m{i}",
                fixture_id=f,
                prediction_time=when,
                model_version="v1",
                home_prob=p,
                draw_prob=0.3,
                away_prob=0.7 - p,
                input_key="k",
            )
            for i, f in enumerate(ids)
        ]

    with eng.begin() as conn:
        first, kept = store_predictions(conn, rows(t0, 0.4), force=False)
        assert kept == 0 and all(r.id is not None for r in first)
        conn.execute(
            schema.bets.insert().values(
                fixture_id=ids[0],
                prediction_id=first[0].id,
                bet_outcome="home",
                bookmaker="b",
                odds=3.0,
                stake=5,
                edge=0.2,
                model_prob=0.4,
                placed_at=t0,
            )
        )
    with eng.begin() as conn:
        again, kept = store_predictions(conn, rows(t0 + timedelta(minutes=20), 0.45), force=True)
        assert kept == 1
        assert [r.id for r in again] == [r.id for r in first]  # rewritten in place, the ids kept
    with eng.connect() as conn:
        got = {r.fixture_id: (r.prediction_time, r.home_prob) for r in conn.execute(schema.predictions.select())}
    eng.dispose()
    assert got[ids[0]] == (t0, 0.4)  # the bet's prediction, as it was
    assert got[ids[1]] == (t0 + timedelta(minutes=20), 0.45)  # the other one predicted again
