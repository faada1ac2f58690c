"""Settlement on a hand-built store: wins, losses, voids, closing-line value against the fair close (checked by
hand), idempotency, performance."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from pipeline.jobs.results_settlement import run as run_settlement
from pipeline.jobs.results_settlement import settle_bets
from pipeline.jobs.runner import run_job
from pipeline.prices import PriceRules
from pipeline.providers.base import CANCELLED, FINISHED, LIVE, POSTPONED, SCHEDULED, Batch, Match, Odds, Provider
from pipeline.store import make_engine, migrate, store_batch
from pipeline.store import schema as s

UTC = UTC
KO = datetime(2026, 1, 17, 15, 0, tzinfo=UTC)


class ScriptedProvider(Provider):
    """Answers results() from a dict the test sets; records what it was asked."""

    name = "scripted"

    def __init__(self, results):
        self._results = results
        self.asked = []

    def history(self, start, end, now, *, markets=True):
        return Batch()

    def fixtures(self, start, end, now):
        return Batch()

    def results(self, match_ids, now):
        self.asked.append(sorted(match_ids))
        b = Batch()
        for mid in match_ids:
            if mid in self._results:
                m, close, *book = self._results[mid]
                b.matches.append(m)
                if close:
                    b.odds.append(
                        Odds(mid, book[0] if book else "Pinnacle", *close, fetched_at=m.kickoff, is_closing=True)
                    )
        return b


def _match(mid, status=SCHEDULED, hg=None, ag=None, ko=KO):
    return Match(
        provider_id=mid,
        league="L",
        season="2526",
        kickoff=ko,
        home_team=f"H{mid}",
        away_team=f"A{mid}",
        status=status,
        home_goals=hg,
        away_goals=ag,
    )


def _setup(url, tmp_path, specs):
    """specs: list of (match_id, [(outcome, odds, stake)])"""
    eng = make_engine(url)
    migrate(eng, tmp_path / "locks")
    with eng.begin() as conn:
        b = Batch(
            matches=[_match(mid) for mid, _ in specs],
            odds=[Odds(mid, "book", 2.0, 3.5, 4.0, fetched_at=KO - timedelta(hours=3)) for mid, _ in specs],
        )
        store_batch(conn, "scripted", b, KO - timedelta(hours=3))
        ids = dict(conn.execute(select(s.fixtures.c.provider_id, s.fixtures.c.id)).all())
        for mid, bets in specs:
            pid = conn.execute(
                s.predictions.insert().values(
                    fixture_id=ids[mid],
                    prediction_time=KO - timedelta(hours=3),
                    model_version="v1",
                    home_prob=0.5,
                    draw_prob=0.3,
                    away_prob=0.2,
                    input_key="k",
                )
            ).inserted_primary_key[0]
            for outcome, odds, stake in bets:
                conn.execute(
                    s.bets.insert().values(
                        fixture_id=ids[mid],
                        prediction_id=pid,
                        bet_outcome=outcome,
                        bookmaker="book",
                        odds=odds,
                        stake=stake,
                        edge=0.1,
                        model_prob=0.5,
                        placed_at=KO - timedelta(hours=3),
                    )
                )
    return eng


def _bets(eng):
    with eng.connect() as conn:
        return {
            (r.provider_id, r.bet_outcome): r
            for r in conn.execute(
                select(s.fixtures.c.provider_id, s.bets).join(s.fixtures, s.fixtures.c.id == s.bets.c.fixture_id)
            )
        }


def test_settles_wins_losses_and_voids(db_url, tmp_path, settings):
    eng = _setup(
        db_url,
        tmp_path,
        [
            ("a", [("home", 2.0, 10.0), ("draw", 3.5, 5.0)]),
            ("b", [("away", 4.0, 10.0)]),
            ("c", [("home", 2.0, 10.0)]),
            ("d", [("draw", 3.5, 10.0)]),
            ("e", [("home", 2.0, 10.0)]),
            ("f", [("home", 2.0, 10.0)]),
        ],
    )
    prov = ScriptedProvider(
        {
            "a": (_match("a", FINISHED, 2, 1), (1.8, 3.6, 4.5)),  # home win; Pinnacle closing 1.8
            "b": (_match("b", FINISHED, 1, 1), None),  # draw: the away bet loses; no close at all
            "c": (_match("c", POSTPONED), None),  # postponed: pending while it may be played within the window
            "d": (_match("d", LIVE), None),  # still playing: stays pending
            "e": (_match("e", CANCELLED), (1.8, 3.6, 4.5)),  # void, with the reason, and no CLV
            "f": (_match("f", FINISHED, 0, 1), (1.8, 3.6, 4.5), "Market average"),  # a close, but not a sharp one
        }
    )
    st = dataclasses.replace(settings, database_url=db_url, clv_method="multiplicative")
    code = run_job("results_settlement", run_settlement, settings=st, now=KO + timedelta(hours=3), provider=prov)
    assert code == 0
    bets = _bets(eng)
    assert (bets[("a", "home")].result, bets[("a", "home")].profit_loss) == ("win", 10.0)
    assert bets[("a", "home")].closing_odds == 1.8
    # by hand: 1/1.8 + 1/3.6 + 1/4.5 = 19/18, so the fair closing probabilities are 10/19, 5/19, 4/19
    assert bets[("a", "home")].clv == pytest.approx(2.0 * 10 / 19 - 1)  # +5.26%
    assert bets[("a", "home")].close_ratio_with_margin == pytest.approx(2.0 / 1.8 - 1)
    assert (bets[("a", "draw")].result, bets[("a", "draw")].profit_loss) == ("loss", -5.0)
    assert bets[("a", "draw")].clv == pytest.approx(3.5 * 5 / 19 - 1)  # -7.89%
    assert bets[("a", "home")].settlement_note == "settled on 2-1 (home)"
    assert (bets[("b", "away")].status, bets[("b", "away")].profit_loss) == ("settled", -10.0)
    # no closing price: no CLV (it used to be graded against the last pre-match price, 2.0/3.5/4.0)
    assert (bets[("b", "away")].closing_odds, bets[("b", "away")].clv) == (None, None)
    assert bets[("b", "away")].close_ratio_with_margin is None
    # a close of the market average only: not a sharp close, so no CLV either (it used to stand in for one)
    assert (bets[("f", "home")].result, bets[("f", "home")].closing_odds, bets[("f", "home")].clv) == (
        "loss",
        None,
        None,
    )
    assert bets[("c", "home")].status == "pending"  # postponed: it may still be played within VOID_AFTER_HOURS
    assert (bets[("e", "home")].status, bets[("e", "home")].result, bets[("e", "home")].profit_loss) == (
        "void",
        "void",
        0.0,
    )
    assert bets[("e", "home")].settlement_note == "void: the source reports the match cancelled"
    assert (bets[("e", "home")].clv, bets[("e", "home")].closing_odds) == (None, None)  # a void bet has no CLV
    assert bets[("d", "draw")].status == "pending"
    with eng.connect() as conn:
        perf = conn.execute(select(s.performance_daily)).mappings().one()
        assert perf["profit_loss"] == pytest.approx(-15.0) and perf["bankroll"] == pytest.approx(985.0)
        assert perf["bets_settled"] == 4 and perf["predictions_scored"] == 3
    # Settling again changes nothing; only the still-open fixture is asked about.
    before = {k: (v.status, v.profit_loss, v.settled_at) for k, v in bets.items()}
    prov.asked.clear()
    assert run_job("results_settlement", run_settlement, settings=st, now=KO + timedelta(hours=4), provider=prov) == 0
    assert prov.asked == [["c", "d"]]
    after = {k: (v.status, v.profit_loss, v.settled_at) for k, v in _bets(eng).items()}
    assert after == before
    eng.dispose()


def test_settle_bets_is_idempotent_at_sql_level(sqlite_url, tmp_path):
    eng = _setup(sqlite_url, tmp_path, [("a", [("home", 2.0, 10.0)])])
    with eng.begin() as conn:
        store_batch(conn, "scripted", Batch(matches=[_match("a", FINISHED, 0, 1)]), KO + timedelta(hours=2))
        assert settle_bets(conn, KO + timedelta(hours=2)) == {"bets_won": 0, "bets_lost": 1, "bets_void": 0}
        assert settle_bets(conn, KO + timedelta(hours=3)) == {"bets_won": 0, "bets_lost": 0, "bets_void": 0}
        total = conn.execute(select(func.sum(s.bets.c.profit_loss))).scalar()
    assert total == -10.0
    eng.dispose()


def _sharp_and_soft_closes(mid, ko=KO):
    """Closing prices of three books: CLV must be graded against the sharp one, whatever the order given."""
    return [
        Odds(mid, "Bet365", 2.5, 3.0, 3.0, fetched_at=ko, is_closing=True),
        Odds(mid, "Market max", 3.0, 3.3, 3.3, fetched_at=ko, is_closing=True),
        Odds(mid, "Pinnacle", 2.9, 2.9, 2.9, fetched_at=ko, is_closing=True),
    ]


@pytest.mark.parametrize("method", ["multiplicative", "power", "shin"])
def test_clv_is_graded_against_the_fair_sharp_close(db_url, tmp_path, method):
    # Equal closing prices: every margin-removal method gives 1/3 each, so CLV = odds / 3 - 1 by hand.
    eng = _setup(db_url, tmp_path, [("a", [("home", 3.3, 10.0), ("away", 2.7, 10.0)])])
    with eng.begin() as conn:
        store_batch(
            conn,
            "scripted",
            Batch(matches=[_match("a", FINISHED, 1, 0)], odds=_sharp_and_soft_closes("a")),
            KO + timedelta(hours=2),
        )
        settle_bets(conn, KO + timedelta(hours=2), PriceRules(clv_method=method))
        assert conn.execute(select(s.results.c.closing_bookmaker)).scalar() == "Pinnacle"
    bets = _bets(eng)
    assert bets[("a", "home")].clv == pytest.approx(3.3 / 3 - 1)  # +10%
    assert bets[("a", "away")].clv == pytest.approx(2.7 / 3 - 1)  # -10%
    assert bets[("a", "home")].closing_odds == 2.9
    # the margin-inclusive ratio flatters: 3.3 / 2.9 - 1 = +13.8% against a true +10%
    assert bets[("a", "home")].close_ratio_with_margin == pytest.approx(3.3 / 2.9 - 1)
    eng.dispose()


def test_shin_and_power_clv_against_independent_values(sqlite_url, tmp_path):
    """A close with a margin: Shin's and the power method's fair probabilities, solved here independently."""
    close = np.array([1.8, 3.6, 4.5])
    inv = 1 / close
    k = _bisect(lambda k: (inv**k).sum() - 1, 1.0, 2.0)  # power: sum (1/o)^k = 1
    power = inv**k
    total = inv.sum()

    def shin(z):
        return (np.sqrt(z**2 + 4 * (1 - z) * inv**2 / total) - z) / (2 * (1 - z))

    z = _bisect(lambda z: shin(z).sum() - 1, 0.0, 0.5)
    expected = {"power": 4.0 * power[2] - 1, "shin": 4.0 * shin(z)[2] - 1}
    for method, want in expected.items():
        eng = _setup(sqlite_url.replace(".db", f"_{method}.db"), tmp_path, [("a", [("away", 4.0, 10.0)])])
        with eng.begin() as conn:
            store_batch(
                conn,
                "scripted",
                Batch(
                    matches=[_match("a", FINISHED, 0, 1)],
                    odds=[Odds("a", "Pinnacle", *close, fetched_at=KO, is_closing=True)],
                ),
                KO + timedelta(hours=2),
            )
            settle_bets(conn, KO + timedelta(hours=2), PriceRules(clv_method=method))
        assert _bets(eng)[("a", "away")].clv == pytest.approx(want, abs=1e-9)
        eng.dispose()
    # both take more margin off the long shot than multiplicative removal does
    assert expected["shin"] < 4.0 * inv[2] / total - 1 and expected["power"] < 4.0 * inv[2] / total - 1


def _bisect(f, lo, hi):
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(lo) * f(mid) > 0 else (lo, mid)
    return (lo + hi) / 2
