"""LEDGER=confirmed end to end on both stores (issue 24): recommendations placed, skipped and left unplaced with
production/bets.py, then the real settlement job and the report. Placed bets settle at the taken price and stake
and are graded at the taken price; one unplaced at kick-off becomes missed and, like a skipped one, counts nowhere
but in the report's ledger line. LEDGER=paper settles the same store exactly as before the ledger."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from click.testing import CliRunner
from conftest import make_env
from sqlalchemy import select
from test_settlement import KO, ScriptedProvider, _bets, _match, _setup

from pipeline.jobs.cli import COMMANDS
from pipeline.jobs.results_settlement import run as run_settlement
from pipeline.jobs.runner import run_job
from pipeline.providers.base import FINISHED
from pipeline.store import schema as s

SPECS = [("a", [("home", 2.0, 10.0), ("draw", 3.5, 5.0)]), ("b", [("away", 4.0, 10.0)]), ("c", [("home", 2.0, 10.0)])]
RESULTS = {
    "a": (_match("a", FINISHED, 2, 1), (1.8, 3.6, 4.5)),  # home win; fair close 10/19, 5/19, 4/19 (multiplicative)
    "b": (_match("b", FINISHED, 1, 1), (2.5, 3.0, 3.0)),
    "c": (_match("c", FINISHED, 0, 1), (2.0, 3.5, 4.0)),
}


def cli(env, job, *args):
    r = CliRunner().invoke(COMMANDS[job], list(args), env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout


def ids_of(engine) -> dict:
    return {k: v.id for k, v in _bets(engine).items()}


def settle(db_url, settings, ledger, hours=3):
    st = dataclasses.replace(settings, database_url=db_url, clv_method="multiplicative", ledger=ledger)
    code = run_job(
        "results_settlement",
        run_settlement,
        settings=st,
        now=KO + timedelta(hours=hours),
        provider=ScriptedProvider(RESULTS),
    )
    assert code == 0


def record_ledger(env, ids):
    before = KO - timedelta(hours=1)
    cli(env, "bets", "--now", before.isoformat(), "place", str(ids[("a", "home")]), "--odds", "1.9", "--stake", "8")
    cli(env, "bets", "--now", before.isoformat(), "skip", str(ids[("a", "draw")]), "--reason", "limited")
    cli(env, "bets", "--now", before.isoformat(), "place", str(ids[("c", "home")]), "--odds", "2.1")
    listed = cli(env, "bets", "--now", before.isoformat(), "list").splitlines()
    assert [int(x.split()[0]) for x in listed[1:-1]] == [ids[("b", "away")]]  # the one left open


def test_confirmed_counts_what_was_taken_and_nothing_unplaced(db_url, tmp_path, settings):
    engine = _setup(db_url, tmp_path, SPECS)
    env = make_env(tmp_path, DATABASE_URL=db_url, LEDGER="confirmed", CLV_METHOD="multiplicative")
    ids = ids_of(engine)
    record_ledger(env, ids)
    settle(db_url, settings, "confirmed")
    bets = _bets(engine)
    home = bets[("a", "home")]  # 8 at 1.9, not 10 at 2.0: profit 8 x 0.9, CLV 1.9 x 10/19 - 1 = 0
    assert (home.status, home.result, home.profit_loss) == ("settled", "win", pytest.approx(7.2))
    assert home.clv == pytest.approx(0.0, abs=1e-12) and home.close_ratio_with_margin == pytest.approx(1.9 / 1.8 - 1)
    assert (home.odds, home.stake, home.ledger_status) == (2.0, 10.0, "placed")  # the recommendation stays
    c = bets[("c", "home")]
    assert (c.result, c.profit_loss) == ("loss", -10.0) and c.clv == pytest.approx(2.1 * 0.5 / (0.5 + 2 / 7 + 0.25) - 1)
    for key, ledger, note in (
        (("a", "draw"), "skipped", "not placed: skipped"),
        (("b", "away"), "missed", "not placed: not placed by kick-off"),
    ):
        b = bets[key]
        assert (b.ledger_status, b.status, b.profit_loss, b.clv, b.settlement_note) == (ledger, "void", 0.0, None, note)
    assert bets[("b", "away")].ledger_at == KO + timedelta(hours=3)
    with engine.connect() as conn:
        perf = conn.execute(select(s.performance_daily)).mappings().one()
    assert (perf["bets_settled"], perf["staked"], perf["profit_loss"]) == (2, 18.0, pytest.approx(-2.8))
    assert perf["bankroll"] == pytest.approx(997.2) and perf["avg_clv"] == pytest.approx(c.clv / 2)
    report = cli(env, "report")
    assert (
        "Ledger (LEDGER=confirmed" in report
        and "4 recommended, 2 placed, 1 skipped, 1 missed, 0 not recorded" in report
    )
    assert (
        "slippage (taken / recommended price - 1) of the 2 placed: mean +0.00%, median +0.00%, worst -5.00%" in report
    )
    assert "Bets settled: 2 (void: 0)  staked 18.00  profit -2.80  bankroll 997.20" in report
    # a second run changes nothing
    before = {k: (v.status, v.profit_loss, v.settled_at, v.ledger_status) for k, v in bets.items()}
    settle(db_url, settings, "confirmed", hours=4)
    assert {k: (v.status, v.profit_loss, v.settled_at, v.ledger_status) for k, v in _bets(engine).items()} == before
    engine.dispose()


def test_paper_settles_every_recommendation_as_before(db_url, tmp_path, settings):
    engine = _setup(db_url, tmp_path, SPECS)
    env = make_env(tmp_path, DATABASE_URL=db_url, CLV_METHOD="multiplicative")
    record_ledger(env, ids_of(engine))
    settle(db_url, settings, "paper")
    bets = _bets(engine)
    got = {k: (v.status, v.result, v.profit_loss) for k, v in bets.items()}
    assert got == {
        ("a", "home"): ("settled", "win", 10.0),
        ("a", "draw"): ("settled", "loss", -5.0),
        ("b", "away"): ("settled", "loss", -10.0),
        ("c", "home"): ("settled", "loss", -10.0),
    }
    assert bets[("a", "home")].clv == pytest.approx(2.0 * 10 / 19 - 1)  # at the recommended price
    assert bets[("b", "away")].ledger_status == "recommended"  # never marked missed under paper
    report = cli(env, "report")
    assert "Ledger (LEDGER=paper" in report and "4 recommended, 2 placed, 1 skipped, 0 missed, 1 not recorded" in report
    assert "Bets settled: 4 (void: 0)  staked 35.00  profit -15.00" in report
    engine.dispose()


def test_settling_by_hand_under_confirmed_pays_what_was_taken(db_url, tmp_path):
    engine = _setup(db_url, tmp_path, SPECS)
    env = make_env(tmp_path, DATABASE_URL=db_url, LEDGER="confirmed")
    ids = ids_of(engine)
    record_ledger(env, ids)
    now = (KO + timedelta(hours=3)).isoformat()
    cli(
        env, "results_settlement", "--now", now, "--settle", str(ids[("a", "home")]), "--result", "win", "--reason", "x"
    )
    assert _bets(engine)[("a", "home")].profit_loss == pytest.approx(7.2)  # 8 at 1.9
    r = CliRunner().invoke(
        COMMANDS["results_settlement"],
        ["--now", now, "--settle", str(ids[("a", "draw")]), "--result", "win", "--reason", "x"],
        env=env,
    )
    assert r.exit_code == 70 and "is skipped, not placed, and counts nowhere" in r.stderr, r.output
    assert _bets(engine)[("a", "draw")].status == "pending"
    engine.dispose()
