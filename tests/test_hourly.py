"""The hourly job's own promises, on a clone of the demo's world: --dry-run writes nothing, --force predicts again
without duplicating anything, a malformed fixture is skipped and reported while the others go on, and without
deployed models it fails clearly and touches nothing. The commands run in this process (conftest.run_command):
what a separate process adds is tested in test_reliability and test_guide."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from conftest import DEMO_DAYS, DEMO_SEED, DEMO_START, clone, run_command

from pipeline.config import load_settings
from pipeline.jobs.hourly_predictions import run as run_hourly
from pipeline.jobs.runner import run_job
from pipeline.markets import Market
from pipeline.odds import implied_probabilities
from pipeline.providers.sandbox import SandboxProvider

NOW = DEMO_START + timedelta(days=DEMO_DAYS, hours=10)  # Sunday 10:00 after the demo: fixtures to predict
TABLES = ("fixtures", "odds_snapshots", "predictions", "bets", "lineup_updates", "results")
# every bet by its selection (a fixture may have a 1X2 and a handicap bet on "home")
BETS = "SELECT fixture_id, market, line, bet_outcome, odds, stake FROM bets ORDER BY 1, 2, 3, 4"


def counts(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def test_dry_run_prints_and_writes_nothing(cycle, tmp_path):
    env = clone(cycle[0], tmp_path / "w")
    db = tmp_path / "w" / "predictions.db"
    before = counts(db)
    code, out = run_command("hourly_predictions", NOW, env, "--dry-run")
    assert code == 0, out
    assert "would predict" in out and "not written" in out
    assert counts(db) == before
    code, out = run_command("hourly_predictions", NOW, env)  # the real run does write
    assert code == 0 and counts(db)["predictions"] > before["predictions"]


def test_force_predicts_again_without_duplicating(cycle, tmp_path):
    env = clone(cycle[0], tmp_path / "w")
    db = tmp_path / "w" / "predictions.db"
    assert run_command("hourly_predictions", NOW, env)[0] == 0
    after_first = counts(db)
    con = sqlite3.connect(db)
    bets_first = con.execute(BETS).fetchall()
    con.close()
    assert run_command("hourly_predictions", NOW, env)[0] == 0  # same odds, same model: nothing
    assert counts(db) == after_first
    bet_predictions = "SELECT b.id, p.* FROM bets b JOIN predictions p ON p.id = b.prediction_id ORDER BY b.id"
    con = sqlite3.connect(db)
    before = con.execute(bet_predictions).fetchall()
    # the newest bet placed by an hourly run: 20 minutes later the odds are that hour's, so --force predicts that
    # fixture again from the same input, the very row the bet points to
    (placed,) = con.execute(
        "SELECT MAX(p.prediction_time) FROM bets b JOIN predictions p ON p.id = b.prediction_id "
        "WHERE p.uses_lineups = 0 AND p.prediction_time LIKE '%:00:00.000000'"
    ).fetchone()
    con.close()
    assert before and placed, "no bet: the test would prove nothing"
    later = datetime.fromisoformat(placed).replace(tzinfo=UTC) + timedelta(minutes=20)
    code, out = run_command("hourly_predictions", later, env, "--force")
    assert code == 0, out
    assert counts(db) == after_first  # rewritten, not duplicated
    log = (tmp_path / "w" / "logs" / "hourly_predictions.log").read_text().splitlines()
    summaries = [line for line in log if "hourly_predictions success" in line]
    assert "predictions=" not in summaries[-2] and "predictions=" in summaries[-1]  # --force did predict
    con = sqlite3.connect(db)
    assert con.execute(BETS).fetchall() == bets_first
    # a bet's prediction is never rewritten: it still shows the time and numbers the bet was placed on
    assert con.execute(bet_predictions).fetchall() == before
    rewritten = con.execute(
        "SELECT COUNT(*) FROM predictions WHERE prediction_time = ?", (f"{later:%Y-%m-%d %H:%M:%S}.000000",)
    ).fetchone()[0]
    con.close()
    assert rewritten > 0  # the others were predicted again


class SandboxWithBadFixtures(SandboxProvider):
    """The sandbox plus two fixtures a careless feed might send: one team missing, the same team twice."""

    def fixtures(self, start, end, now):
        batch = super().fixtures(start, end, now)
        good = next(m for m in batch.matches if m.kickoff > now)
        batch.matches.append(replace(good, provider_id="BAD-1", away_team=""))
        batch.matches.append(
            replace(good, provider_id="BAD-2", away_team=good.home_team, away_team_id=good.home_team_id)
        )
        return batch


def test_a_malformed_fixture_is_skipped_and_reported_the_rest_go_on(cycle, tmp_path):
    env = clone(cycle[0], tmp_path / "w")
    settings = load_settings(env, dotenv=Path("/nonexistent"))
    code = run_job(
        "hourly_predictions",
        run_hourly,
        now=NOW,
        settings=settings,
        quiet=True,
        provider=SandboxWithBadFixtures(seed=DEMO_SEED),
    )
    assert code == 0
    log = (tmp_path / "w" / "logs" / "hourly_predictions.log").read_text()
    assert "fixture BAD-1: missing or identical teams" in log and "fixture BAD-2" in log
    con = sqlite3.connect(tmp_path / "w" / "predictions.db")
    runs = con.execute("SELECT status, counts FROM job_runs ORDER BY id DESC LIMIT 1").fetchone()
    assert runs[0] == "success" and '"fixtures_skipped": 2' in runs[1]
    predicted = {
        r[0]
        for r in con.execute(
            "SELECT f.provider_id FROM predictions p JOIN fixtures f "
            "ON f.id = p.fixture_id WHERE p.prediction_time >= ?",
            (f"{NOW:%Y-%m-%d %H:%M:%S}",),
        )
    }
    assert predicted and not predicted & {"BAD-1", "BAD-2"}


def test_without_models_it_fails_clearly_and_touches_nothing(cycle, tmp_path):
    env = clone(cycle[0], tmp_path / "w")
    shutil.rmtree(tmp_path / "w" / "models")
    db = tmp_path / "w" / "predictions.db"
    before = counts(db)
    code, out = run_command("hourly_predictions", NOW, env)
    assert code == 70 and "weekly_training" in out and "Traceback" not in out
    assert counts(db) == before


class SandboxWithNewOverPrice(SandboxProvider):
    """The sandbox, where Bet365's over 2.5 of match `bump` is, from `bump_at`, priced 6% above Pinnacle's fair
    price (the 1X2 and every other price as the sandbox makes them)."""

    bump: str | None = None
    bump_at = NOW

    def fixtures(self, start, end, now):
        batch = super().fixtures(start, end, now)
        if self.bump is None or now < self.bump_at:
            return batch
        mine = [p for p in batch.market_prices if p.match_id == self.bump and p.selection.market is Market.OU]
        sharp = {p.selection.side: p.price for p in mine if p.bookmaker == "Pinnacle" and p.selection.line == 2.5}
        fair_over = implied_probabilities(np.array([[sharp["over"], sharp["under"]]]), "multiplicative")[0, 0]
        old = next(p for p in mine if p.bookmaker == "Bet365" and str(p.selection) == "OU 2.5 over")
        batch.market_prices.append(replace(old, price=round(1.06 / fair_over, 2), fetched_at=self.bump_at))
        return batch


def test_a_new_two_way_price_alone_is_a_new_look_and_the_same_prices_are_nothing_new(cycle, tmp_path):
    """The prediction's input_key holds the sharp and bet books' latest two-way prices: an hourly re-run whose only
    news is one over/under price predicts that match again and bets it; with nothing new it writes nothing."""
    env = clone(cycle[0], tmp_path / "w")
    db = tmp_path / "w" / "predictions.db"
    # the round after the demo's (no bet of the demo's on it), with room under the daily cap for a late bet
    now = DEMO_START + timedelta(days=DEMO_DAYS + 6, hours=10)
    settings = replace(load_settings(env, dotenv=Path("/nonexistent")), max_daily_fraction=1.0)
    provider = SandboxWithNewOverPrice(seed=DEMO_SEED)

    def hourly(at) -> dict:
        assert run_job("hourly_predictions", run_hourly, now=at, settings=settings, quiet=True, provider=provider) == 0
        con = sqlite3.connect(db)
        try:
            return {
                **{t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in (*TABLES, "market_odds")},
                "bets_rows": con.execute(BETS).fetchall(),
                "run": con.execute("SELECT counts FROM job_runs ORDER BY id DESC LIMIT 1").fetchone()[0],
            }
        finally:
            con.close()

    first = hourly(now)
    assert '"predictions": ' in first["run"] and first["market_odds"] > 0
    # the sandbox's prices are the hour's: 20 minutes later nothing is new, and nothing is written
    again = hourly(now + timedelta(minutes=20))
    assert {k: v for k, v in again.items() if k != "run"} == {k: v for k, v in first.items() if k != "run"}
    assert '"predictions"' not in again["run"] and '"already_predicted": ' in again["run"]
    # a match of the round without any bet yet gets a new Bet365 over 2.5 price, nothing else changes
    con = sqlite3.connect(db)
    quiet = con.execute(
        "SELECT f.id, f.provider_id FROM fixtures f JOIN predictions p ON p.fixture_id = f.id "
        "WHERE p.prediction_time >= ? AND f.id NOT IN (SELECT fixture_id FROM bets) ORDER BY f.kickoff_time, f.id",
        (f"{now:%Y-%m-%d %H:%M:%S}",),
    ).fetchone()
    con.close()
    assert quiet, "every match has a bet: the test would prove nothing"
    provider.bump, provider.bump_at = quiet[1], now + timedelta(minutes=40)
    bumped = hourly(now + timedelta(minutes=40))
    assert bumped["predictions"] == first["predictions"] + 1  # that match predicted again, no other
    assert '"predictions": 1' in bumped["run"]
    new_bets = sorted(set(bumped["bets_rows"]) - set(first["bets_rows"]))
    assert [(b[0], b[1], b[2], b[3]) for b in new_bets] == [(quiet[0], "OU", 2.5, "over")], new_bets
    # and that price seen again is nothing new
    assert {k: v for k, v in hourly(now + timedelta(minutes=50)).items() if k != "run"} == {
        k: v for k, v in bumped.items() if k != "run"
    }
