"""Bets in three markets (1X2, over/under, Asian handicap) through the whole cycle on a clone of the demo's world,
on SQLite and on PostgreSQL: the hourly job and the lineup step bet the two-way markets beside 1X2 from the same
predictions (one strategy run: shared caps), settlement settles them on the score and grades them at their own
line (a close at another line is counted, never used), the report gives every figure by market, a re-run never
doubles a bet, the store survives a backup and restore, and MARKETS=1X2 bets exactly what it bet before.

The provider is the sandbox with two-way prices of our own on top (a sharp pair and a soft book's generous side),
so every figure can be checked by hand from the prices written here."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO_DAYS, DEMO_SEED, DEMO_START, clone
from sqlalchemy import text

from pipeline.betting.market_settlement import NO_CLOSE_AT_LINE, settle_market
from pipeline.config import load_settings
from pipeline.jobs.backup import run_backup, run_restore
from pipeline.jobs.hourly_predictions import run as run_hourly
from pipeline.jobs.lineup_updates import run as run_lineups
from pipeline.jobs.report import build_report, format_report
from pipeline.jobs.results_settlement import run as run_settlement
from pipeline.jobs.runner import run_job
from pipeline.markets import Market, MarketPrice, Selection
from pipeline.odds import fair_clv, implied_probabilities
from pipeline.prices import PriceRules
from pipeline.providers.base import Odds
from pipeline.providers.sandbox import SandboxProvider
from pipeline.store import make_engine

# Saturday 10:00 of the round after the demo's: fixtures to predict that the demo never saw, so every bet on them is
# this cycle's (the demo bets all three markets on its own rounds, up to the daily cap)
NOW = DEMO_START + timedelta(days=DEMO_DAYS + 6, hours=10)
LATER = NOW + timedelta(days=3)
NO_DOTENV = Path("/nonexistent")
# (market, line, sharp pair, soft pair, sharp closing line, sharp closing pair): the soft book's over / away side
# beats the sharp fair price by 6-9%; the handicap closes at another line on odd matches
OU = (Market.OU, 2.5, (1.95, 1.95), (2.12, 1.75), (1.90, 2.00))
AH = (Market.AH, 0.0, (1.95, 1.95), (1.75, 2.12), (2.00, 1.90))


def _pair(mid: str, market: Market, line: float, book: str, prices, at, closing: bool) -> list[MarketPrice]:
    sides = ("over", "under") if market is Market.OU else ("home", "away")
    return [MarketPrice(mid, book, Selection(market, line, s), p, closing, at) for s, p in zip(sides, prices)]


class Generous1X2Sandbox(SandboxProvider):
    """The sandbox with a soft book a second after each sharp 1X2 price pricing home 6% above its fair price (so a
    1X2 bet is there to be made beside the two-way ones)."""

    def fixtures(self, start, end, now):
        b = super().fixtures(start, end, now)
        for o in [o for o in b.odds if o.bookmaker == "Pinnacle" and not o.is_closing]:
            fair = implied_probabilities(np.array([[o.home, o.draw, o.away]]), "multiplicative")[0]
            home = round(1.06 / fair[0], 2)
            after = o.fetched_at + timedelta(seconds=1)
            b.odds.append(Odds(o.match_id, "Interwetten", home, round(o.draw * 0.9, 2), round(o.away * 0.9, 2), after))
        return b


class MarketsSandbox(Generous1X2Sandbox):
    """That, with over/under 2.5 and Asian handicap 0.0 prices at Pinnacle (sharp) and Bet365 (soft)."""

    def fixtures(self, start, end, now):
        b = super().fixtures(start, end, now)
        b.market_prices = []
        for m in b.matches:
            for market, line, sharp, soft, _ in (OU, AH):
                b.market_prices += _pair(m.provider_id, market, line, "Pinnacle", sharp, now, False)
                b.market_prices += _pair(m.provider_id, market, line, "Bet365", soft, now, False)
        return b

    def results(self, match_ids, now):
        b = super().results(match_ids, now)
        b.market_prices = []
        for k, m in enumerate(sorted(b.matches, key=lambda x: x.provider_id)):
            if m.status != "finished":
                continue
            ou_market, ou_line, *_, ou_close = OU
            b.market_prices += _pair(m.provider_id, ou_market, ou_line, "Pinnacle", ou_close, m.kickoff, True)
            ah_market, ah_line, *_, ah_close = AH
            line = ah_line if k % 2 == 0 else -0.25  # odd matches: the sharp book closed at another line
            b.market_prices += _pair(m.provider_id, ah_market, line, "Pinnacle", ah_close, m.kickoff, True)
        return b


def _settings(env: dict, **changes):
    return dataclasses.replace(load_settings(env, dotenv=NO_DOTENV), **changes)


def _run_cycle(settings, provider) -> None:
    assert run_job("hourly_predictions", run_hourly, settings=settings, now=NOW, provider=provider) == 0
    for h in range(1, 12):  # the lineup step through the afternoon's kick-offs
        assert (
            run_job("lineup_updates", run_lineups, settings=settings, now=NOW + timedelta(hours=h), provider=provider)
            == 0
        )
    assert run_job("results_settlement", run_settlement, settings=settings, now=LATER, provider=provider) == 0


def _rows(url: str, sql: str) -> list[tuple]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        eng.dispose()


BETS = (
    "SELECT b.id, b.market, b.line, b.bet_outcome, b.odds, b.stake, b.status, b.result, b.profit_loss, b.clv, "
    "b.closing_odds, b.settlement_note, b.fair_prob, b.model_prob, r.home_goals, r.away_goals, b.placed_at "
    "FROM bets b JOIN fixtures f ON f.id = b.fixture_id LEFT JOIN results r ON r.fixture_id = b.fixture_id "
    "WHERE f.kickoff_time >= '{since}' ORDER BY b.id"
)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_three_markets_through_the_whole_cycle(cycle, tmp_path, request, store):
    url = request.getfixturevalue("pg_url") if store == "postgresql" else None
    env = clone(cycle[0], tmp_path / "w", url)
    settings = _settings(env)
    provider = MarketsSandbox(seed=DEMO_SEED)
    _run_cycle(settings, provider)
    # the bets on this round's matches: all placed by this cycle
    bets = _rows(env["DATABASE_URL"], BETS.format(since=f"{NOW:%Y-%m-%d %H:%M:%S}"))
    assert all(str(b[16]) >= f"{NOW:%Y-%m-%d %H:%M:%S}" for b in bets)
    markets = {b[1] for b in bets}
    assert markets == {"1X2", "OU", "AH"}, markets
    assert all(b[6] == "settled" and b[7] in ("win", "loss") for b in bets if b[1] == "1X2"), "1X2 settled as before"
    rules = PriceRules.from_settings(settings)
    fair_over = implied_probabilities(np.array([OU[2]]), rules.fair_method)[0]
    close_ou = implied_probabilities(np.array([OU[4]]), rules.clv_method)[0]
    close_ah = implied_probabilities(np.array([AH[4]]), rules.clv_method)[0]
    seen_other_line = seen_graded_ah = 0
    for (
        _id,
        market,
        line,
        side,
        odds,
        stake,
        status,
        result,
        profit,
        clv,
        closing,
        note,
        fair,
        model,
        hg,
        ag,
        _placed,
    ) in bets:
        if market == "1X2":
            continue
        # the soft book's generous side, sized on the sharp pair's fair probability; never the other side
        assert (line, side, odds) == ((2.5, "over", 2.12) if market == "OU" else (0.0, "away", 2.12))
        assert fair == pytest.approx(fair_over[0] if market == "OU" else fair_over[1])
        assert 0 < model < 1 and model != pytest.approx(fair)  # the models' own probability at the line
        if status == "pending":
            continue
        assert status == "settled" and hg is not None
        done = settle_market(Selection(market, line, side), hg, ag, stake, odds)
        assert (result, profit) == (done.result, done.profit)
        assert note.startswith(f"settled on {hg}-{ag} ")
        if market == "OU":
            assert clv == pytest.approx(float(fair_clv(odds, close_ou[0])))
            assert closing == OU[4][0]
        elif note.endswith(NO_CLOSE_AT_LINE):  # the handicap closed at -0.25: no CLV, never graded there
            assert (clv, closing) == (None, None)
            seen_other_line += 1
        else:
            assert clv == pytest.approx(float(fair_clv(odds, close_ah[1]))) and closing == AH[4][1]
            seen_graded_ah += 1
    settled = [b for b in bets if b[6] == "settled" and b[1] != "1X2"]
    assert settled and seen_other_line and seen_graded_ah, (len(settled), seen_other_line, seen_graded_ah)
    # one bet per selection, one side and one line per two-way market of a match
    assert not _rows(
        env["DATABASE_URL"],
        "SELECT fixture_id, market FROM bets WHERE market != '1X2' GROUP BY fixture_id, market HAVING COUNT(*) > 1",
    )

    # the report: every figure by market beside the overall one
    eng = make_engine(env["DATABASE_URL"])
    with eng.connect() as conn:
        rep = build_report(conn, settings.starting_bankroll, rules, settings.ledger)
    eng.dispose()
    by_market = rep["by_market"]
    assert set(by_market) == {"1X2", "OU", "AH"}
    assert sum(s.bets for s in by_market.values()) == rep["value"].bets
    assert sum(s.profit for s in by_market.values()) == pytest.approx(rep["value"].profit, abs=0.01)
    assert rep["market_ungraded"]["AH"][NO_CLOSE_AT_LINE] >= seen_other_line
    report = format_report(rep)
    assert "By market" in report and "AH: settled bets without a fair CLV: " in report

    # running every job again doubles nothing
    before = _rows(
        env["DATABASE_URL"], "SELECT id, market, line, bet_outcome, status, profit_loss FROM bets ORDER BY id"
    )
    _run_cycle(settings, provider)
    after = _rows(
        env["DATABASE_URL"], "SELECT id, market, line, bet_outcome, status, profit_loss FROM bets ORDER BY id"
    )
    assert after == before

    # backup and restore bring the three markets' bets back
    if store == "postgresql" and shutil.which("pg_restore") is None:
        pytest.skip("the PostgreSQL client (pg_restore) is not installed")
    assert run_job("backup", run_backup, settings=settings, now=LATER) == 0
    kind = "dump" if store == "postgresql" else "db"
    backup = settings.backup_dir / f"predictions_{LATER:%Y%m%d_%H%M%S}.{kind}"
    eng = make_engine(env["DATABASE_URL"])
    with eng.begin() as conn:
        conn.execute(text("DELETE FROM bets WHERE market != '1X2'"))
    eng.dispose()
    restore = lambda ctx: run_restore(ctx, backup)  # noqa: E731
    assert run_job("backup", restore, settings=settings, now=LATER + timedelta(hours=1), needs_store=False) == 0
    restored = _rows(
        env["DATABASE_URL"], "SELECT id, market, line, bet_outcome, status, profit_loss FROM bets ORDER BY id"
    )
    assert restored == before


def test_markets_1x2_bets_exactly_what_it_bet_before(cycle, tmp_path):
    """MARKETS=1X2 with two-way prices in the batch bets exactly what the hourly job bets without them."""
    plain = clone(cycle[0], tmp_path / "plain")
    marked = clone(cycle[0], tmp_path / "marked")
    got = []
    for env, provider in ((plain, Generous1X2Sandbox(seed=DEMO_SEED)), (marked, MarketsSandbox(seed=DEMO_SEED))):
        settings = _settings(env, markets=("1X2",))
        assert run_job("hourly_predictions", run_hourly, settings=settings, now=NOW, provider=provider) == 0
        got.append(
            _rows(
                env["DATABASE_URL"],
                "SELECT fixture_id, market, line, bet_outcome, bookmaker, odds, stake, fair_prob, model_prob "
                f"FROM bets WHERE placed_at >= '{NOW:%Y-%m-%d %H:%M:%S}' ORDER BY id",
            )
        )
    assert got[0] == got[1] and {b[1] for b in got[0]} == {"1X2"}
    assert got[0], "no 1X2 bet: the test would prove nothing"
