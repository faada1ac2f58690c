"""The ledger of what was really placed (issue 24): the migration of a store with bets in it, and production/bets.py
(`list`, `place`, `skip`, `show`) run as its click command in this process, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from conftest import ROOT, create_store, make_env
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from pipeline.jobs.cli import COMMANDS
from pipeline.providers.base import Batch, Match, Odds
from pipeline.store import make_engine, migrate, schema, store_batch
from pipeline.store.ledger import LedgerRefused, ledger_counts, mark_missed, record_placement

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # the recommendations are made at T0; kick-offs follow
NEW_COLUMNS = {"min_odds", "ledger_status", "taken_odds", "taken_stake", "taken_bookmaker", "ledger_at", "ledger_note"}


def _fixtures(conn, n: int) -> list[int]:
    b = Batch()
    for i in range(n):
        mid = f"m{i}"
        b.matches.append(
            Match(mid, "E0", "2526", T0 + timedelta(hours=3 + 24 * i), f"Home {i}", f"Away {i}", status="scheduled")
        )
        b.odds.append(Odds(mid, "Pinnacle", 2.0, 3.4, 4.0, fetched_at=T0))
    store_batch(conn, "test", b, T0)
    return list(conn.execute(select(schema.fixtures.c.id).order_by(schema.fixtures.c.kickoff_time)).scalars())


def seed_bets(engine, n: int = 3) -> list[int]:
    """n pending recommendations on n fixtures (kick-offs T0+3h, T0+27h, ...), recommended one minute apart: the
    last is the newest. Bet i: price 2.10 + i/10, fair probability 0.5, min price 2.04 (MIN_EDGE 0.02)."""
    with engine.begin() as conn:
        ids = []
        for i, fid in enumerate(_fixtures(conn, n)):
            pid = conn.execute(
                schema.predictions.insert().values(
                    fixture_id=fid,
                    prediction_time=T0,
                    model_version="v1",
                    home_prob=0.5,
                    draw_prob=0.3,
                    away_prob=0.2,
                    input_key=f"k{i}",
                )
            ).inserted_primary_key[0]
            ids.append(
                conn.execute(
                    schema.bets.insert().values(
                        fixture_id=fid,
                        prediction_id=pid,
                        bet_outcome="home",
                        bookmaker="Bet365",
                        odds=2.10 + i / 10,
                        stake=10.0 + i,
                        edge=0.5 * (2.10 + i / 10) - 1,
                        model_prob=0.5,
                        fair_prob=0.5,
                        fair_source="Pinnacle",
                        min_odds=2.04,
                        placed_at=T0 + timedelta(minutes=i),
                    )
                ).inserted_primary_key[0]
            )
    return ids


@pytest.fixture
def store(db_url, tmp_path):
    """A store with three recommendations, and the environment of a script using it."""
    env = make_env(tmp_path, DATABASE_URL=db_url)
    create_store(env)
    engine = make_engine(db_url)
    ids = seed_bets(engine)
    yield env, engine, ids
    engine.dispose()


def bets_cmd(env: dict, *args: str, now: datetime = T0 + timedelta(hours=1)):
    """production/bets.py's command in this process: (exit code, stdout, stderr)."""
    r = CliRunner().invoke(COMMANDS["bets"], ["--now", now.isoformat(), *args], env=env, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def row(engine, bet_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(schema.bets).where(schema.bets.c.id == bet_id)).mappings().one())


def lines(text_: str) -> list[str]:
    return [ln for ln in text_.splitlines() if ln.strip()]


# ---- the migration -------------------------------------------------------------------------------------------


def test_a_store_made_at_the_previous_head_keeps_its_bets_and_gains_the_ledger(db_url, tmp_path):
    from alembic import command
    from alembic.config import Config

    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "pipeline" / "store" / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002_issue13")
    with engine.begin() as conn:
        fids = _fixtures(conn, 2)
        for i, fid in enumerate(fids):
            conn.execute(
                text(
                    "INSERT INTO predictions (fixture_id, prediction_time, model_version, home_prob, draw_prob, "
                    "away_prob, uses_lineups, input_key) VALUES (:f, :t, 'v1', 0.5, 0.3, 0.2, false, :k)"
                ),
                {"f": fid, "t": T0, "k": f"k{i}"},
            )
        preds = list(conn.execute(text("SELECT id FROM predictions ORDER BY id")).scalars())
        for fid, pid, status, pl in ((fids[0], preds[0], "settled", 11.0), (fids[1], preds[1], "pending", None)):
            conn.execute(
                text(
                    "INSERT INTO bets (fixture_id, prediction_id, bet_outcome, bookmaker, odds, stake, edge, "
                    "model_prob, fair_prob, fair_source, lineup_based, status, result, profit_loss, placed_at, clv) "
                    "VALUES (:f, :p, 'home', 'Bet365', 2.1, 10, 0.05, 0.5, 0.5, 'Pinnacle', false, :s, :r, :pl, :t, "
                    ":clv)"
                ),
                {"f": fid, "p": pid, "s": status, "r": "win" if pl else None, "pl": pl, "t": T0, "clv": 0.03},
            )
    migrate(engine, tmp_path / "locks")
    with engine.connect() as conn:
        assert NEW_COLUMNS <= {c["name"] for c in inspect(conn).get_columns("bets")}
        got = conn.execute(
            text(
                "SELECT status, profit_loss, clv, odds, stake, ledger_status, min_odds, taken_odds, taken_stake, "
                "taken_bookmaker, ledger_at, ledger_note FROM bets ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in got] == [
        ("settled", 11.0, 0.03, 2.1, 10.0, "recommended", None, None, None, None, None, None),
        ("pending", None, 0.03, 2.1, 10.0, "recommended", None, None, None, None, None, None),
    ]
    for bad in ("ledger_status = 'maybe'", "taken_odds = 0.9", "taken_stake = 0"):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(f"UPDATE bets SET {bad}"))
    # the migration goes back down and up again with the rows in place
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002_issue13")
    with engine.connect() as conn:
        assert not NEW_COLUMNS & {c["name"] for c in inspect(conn).get_columns("bets")}
        assert conn.execute(text("SELECT count(*) FROM bets")).scalar() == 2
    migrate(engine, tmp_path / "locks")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bets WHERE ledger_status = 'recommended'")).scalar() == 2
    engine.dispose()


# ---- production/bets.py ------------------------------------------------------------------------------------------


def test_list_shows_open_recommendations_newest_first_with_their_minimum_price(store):
    env, engine, ids = store
    code, out, err = bets_cmd(env, "list")
    assert code == 0 and err == "", err
    body = lines(out)
    assert body[0].split()[:3] == ["id", "kick-off", "UTC"] and "min" in body[0]
    assert [int(ln.split()[0]) for ln in body[1:4]] == ids[::-1]
    first = body[1].split()
    assert first[-5:] == ["Bet365", "2.30", "2.04", "12.00", "+15.0%"] and first[1:3] == ["2026-01-12", "15:00"]
    assert "Home 2 v Away 2" in body[1] and body[4].startswith("3 open recommendations")
    bets_cmd(env, "skip", str(ids[0]))
    code, out, _ = bets_cmd(env, "list")
    assert [int(ln.split()[0]) for ln in lines(out)[1:3]] == [ids[2], ids[1]]


def test_place_records_what_was_taken_and_twice_is_refused(store):
    env, engine, ids = store
    when = T0 + timedelta(hours=1)
    code, out, err = bets_cmd(env, "place", str(ids[0]), "--odds", "2.08", "--stake", "7.5", "--bookmaker", "bet365")
    assert code == 0 and err == "", err
    assert f"bet {ids[0]} placed" in out and "slippage -1.0%" in out and "LEDGER=paper" in out
    r = row(engine, ids[0])
    assert (r["ledger_status"], r["taken_odds"], r["taken_stake"], r["taken_bookmaker"]) == (
        "placed",
        2.08,
        7.5,
        "Bet365",
    )
    assert r["ledger_at"] == when and (r["odds"], r["stake"], r["status"]) == (2.10, 10.0, "pending")
    # a second placement: one line, exit 70, nothing changed
    code, out, err = bets_cmd(env, "place", str(ids[0]), "--odds", "2.5", now=T0 + timedelta(hours=2))
    assert code == 70 and len(lines(err)) == 1 and "already placed (2.08 x 7.50 with Bet365" in err, err
    assert row(engine, ids[0]) == r
    # the defaults: the recommended stake and bookmaker
    code, out, err = bets_cmd(env, "place", str(ids[1]), "--odds", "2.20")
    r1 = row(engine, ids[1])
    assert code == 0 and (r1["taken_stake"], r1["taken_bookmaker"], r1["ledger_note"]) == (11.0, "Bet365", None)


def test_a_placement_below_the_minimum_price_is_kept_with_a_warning(store):
    env, engine, ids = store
    code, out, err = bets_cmd(env, "place", str(ids[2]), "--odds", "2.0", "--bookmaker", "Betfair Exchange")
    assert code == 0 and f"bet {ids[2]} placed" in out
    warning = lines(err)
    assert len(warning) == 1 and "WARNING" in warning[0] and "below its minimum acceptable price 2.04" in warning[0]
    assert "EV +0.0% at this price" in warning[0]
    r = row(engine, ids[2])
    assert (r["ledger_status"], r["taken_odds"], r["taken_bookmaker"]) == ("placed", 2.0, "Betfair Exchange")


def test_skip_and_show(store):
    env, engine, ids = store
    code, out, err = bets_cmd(env, "skip", str(ids[1]), "--reason", "  price   gone ")
    assert code == 0 and err == "" and "skipped" in out and "(price gone)" in out
    r = row(engine, ids[1])
    assert (r["ledger_status"], r["ledger_note"], r["taken_odds"], r["status"]) == (
        "skipped",
        "price gone",
        None,
        "pending",
    )
    for args in (["skip", str(ids[1])], ["place", str(ids[1]), "--odds", "2.3"]):
        code, _, err = bets_cmd(env, *args)
        assert code == 70 and len(lines(err)) == 1 and "was skipped" in err and "price gone" in err
    assert row(engine, ids[1]) == r
    bets_cmd(env, "place", str(ids[0]), "--odds", "2.05")
    code, out, err = bets_cmd(env, "show", str(ids[0]))
    assert code == 0 and err == ""
    assert "kick-off 2026-01-10 15:00 UTC" in out and "minimum acceptable price 2.04" in out
    assert "ledger: placed at 2026-01-10 13:00 UTC" in out and "taken: 2.05 x 10.00 with Bet365 (slippage -2.4%)" in out


@pytest.mark.parametrize(
    "args,code,words",
    [
        (["place", "999", "--odds", "2"], 70, "no bet with id 999"),
        (["skip", "999"], 70, "no bet with id 999"),
        (["show", "999"], 70, "no bet with id 999"),
        (["place", "1", "--odds", "1.0"], 2, "--odds"),
        (["place", "1", "--odds", "two"], 2, "--odds"),
        (["place", "1", "--odds", "nan"], 2, "--odds"),
        (["place", "1", "--odds", "2", "--stake", "0"], 2, "--stake"),
        (["place", "1"], 2, "--odds"),
        (["place", "0", "--odds", "2"], 2, "BET_ID"),
        (["place", "1", "--odds", "2", "--bookmaker", " "], 2, "--bookmaker"),
        (["bogus"], 2, "No such command"),
    ],
)
def test_bad_input_is_one_line_and_a_meaningful_exit_code(store, args, code, words):
    env, engine, ids = store
    before = [row(engine, i) for i in ids]
    got, out, err = bets_cmd(env, *args)
    assert got == code and words in err and "Traceback" not in err, err
    if code == 70:
        assert len(lines(err)) == 1
    assert [row(engine, i) for i in ids] == before


def test_the_store_must_exist_and_the_settings_be_valid(tmp_path):
    env = make_env(tmp_path)
    code, _, err = bets_cmd(env, "list")
    assert code == 69 and "does not exist" in err and not (tmp_path / "predictions.db").exists()
    code, _, err = bets_cmd(make_env(tmp_path, LEDGER="maybe"), "list")
    assert code == 78 and len(lines(err)) == 1 and "LEDGER" in err
    r = CliRunner().invoke(COMMANDS["bets"], ["--now", "soon", "list"], env=env)
    assert r.exit_code == 2 and "--now" in r.stderr


def test_two_placements_racing_on_one_bet_change_it_once(store):
    env, engine, ids = store
    results: list[str] = []
    barrier = threading.Barrier(4)

    def place(odds):
        eng = make_engine(env["DATABASE_URL"])
        barrier.wait()
        try:
            record_placement(eng, ids[0], odds=odds, stake=None, bookmaker=None, now=T0)
            results.append(f"placed {odds}")
        except LedgerRefused as exc:
            results.append(str(exc))
        finally:
            eng.dispose()

    threads = [threading.Thread(target=place, args=(2.0 + k / 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    placed = [r for r in results if r.startswith("placed")]
    assert len(results) == 4 and len(placed) == 1, results
    assert row(engine, ids[0])["taken_odds"] == float(placed[0].split()[1])


def test_unplaced_at_kick_off_becomes_missed(store):
    env, engine, ids = store
    bets_cmd(env, "place", str(ids[1]), "--odds", "2.2")
    with engine.begin() as conn:  # the first kick-off is T0+3h: only bet 0 has started
        assert mark_missed(conn, T0 + timedelta(hours=2, minutes=59)) == []
        assert mark_missed(conn, T0 + timedelta(hours=3)) == [ids[0]]
        assert mark_missed(conn, T0 + timedelta(hours=30)) == []  # bet 1 (T0+27h) is placed: never missed
        assert mark_missed(conn, T0 + timedelta(hours=51)) == [ids[2]]
        assert mark_missed(conn, T0 + timedelta(hours=60)) == []
    with engine.connect() as conn:
        assert ledger_counts(conn) == {"recommended": 0, "placed": 1, "skipped": 0, "missed": 2}
    r = row(engine, ids[0])
    assert (r["ledger_status"], r["ledger_at"], r["status"]) == ("missed", T0 + timedelta(hours=3), "pending")
    code, _, err = bets_cmd(env, "place", str(ids[0]), "--odds", "2.2", now=T0 + timedelta(hours=4))
    assert code == 70 and "was missed (not placed by kick-off, 2026-01-10 15:00 UTC)" in err
    code, out, _ = bets_cmd(env, "list")
    assert lines(out) == ["no open recommendations"]


def test_placement_stores_the_minimum_acceptable_price_of_every_bet(db_url, tmp_path, settings):
    """fair odds x (1 + MIN_EDGE): at that price the bet's EV against its fair line is exactly MIN_EDGE."""
    import dataclasses

    from test_value_bets import _run

    # ALLOW_MODEL_FAIR on: m2's bet on the models' line has a minimum price too
    st = dataclasses.replace(
        settings, database_url=db_url, fair_method="multiplicative", min_edge=0.03, allow_model_fair=True
    )
    engine, bets = _run(db_url, tmp_path, st)
    assert len(bets) == 3
    for b in bets.values():
        assert b.min_odds == pytest.approx(1.03 / b.fair_prob) and b.fair_prob * b.min_odds - 1 == pytest.approx(0.03)
        assert b.odds >= b.min_odds and b.ledger_status == "recommended" and b.taken_odds is None
    assert bets[("m1", "home")].min_odds == pytest.approx(1.03 * 85 / 40)  # Pinnacle 2.1/3.5/4.0 by hand
    engine.dispose()


# ---- the ledger's rules ------------------------------------------------------------------------------------------


def test_what_a_bet_counts_at_under_each_ledger():
    import pandas as pd

    from pipeline.betting.ledger import counted, counted_bets, ledger_lines, min_acceptable_odds, slippage

    assert min_acceptable_odds(0.5, 0.02) == pytest.approx(2.04) and min_acceptable_odds(None, 0.02) is None
    assert min_acceptable_odds(float("nan"), 0.02) is None and min_acceptable_odds(1.0, 0.02) is None
    assert slippage(2.0, 2.1) == pytest.approx(-1 / 21)
    assert counted("paper", "skipped", 2.1, 10, None, None).odds == 2.1
    assert counted("confirmed", "recommended", 2.1, 10, None, None) is None
    c = counted("confirmed", "placed", 2.1, 10, 2.0, 5)
    assert (c.odds, c.stake) == (2.0, 5)
    bets = pd.DataFrame(
        {
            "ledger_status": ["placed", "placed", "skipped", "missed", "recommended"],
            "odds": [2.1, 3.0, 2.5, 4.0, 2.2],
            "stake": [10.0, 5.0, 8.0, 2.0, 1.0],
            "taken_odds": [2.0, 3.1, None, None, None],
            "taken_stake": [4.0, None, None, None, None],
        }
    )
    assert counted_bets(bets, "paper") is bets
    got = counted_bets(bets, "confirmed")
    assert got["odds"].tolist() == [2.0, 3.1] and got["stake"].tolist() == [4.0, 5.0]
    assert got["recommended_odds"].tolist() == [2.1, 3.0]
    counts = {"recommended": 1, "placed": 2, "skipped": 1, "missed": 1}
    lines = ledger_lines("confirmed", counts, [(2.1, 2.0), (3.0, 3.1)])
    assert (
        lines[0].startswith("Ledger (LEDGER=confirmed")
        and "5 recommended, 2 placed, 1 skipped, 1 missed, 1 not recorded" in lines[0]
    )
    assert "mean -0.71%" in lines[1] and "worst -4.76%" in lines[1] and "1 taken below" in lines[1]
    assert len(ledger_lines("paper", counts, [])) == 1
