"""The performance report's edges: the bankroll chart starts from the starting bankroll, empty charts say why,
and a report piped into `head` is not a failed run."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import ROOT, insert_prediction_and_bet

from pipeline.jobs.report import build_report, write_plots
from pipeline.store import make_engine, migrate
from pipeline.store import schema as s

UTC = UTC
KO = datetime(2026, 1, 10, 15, tzinfo=UTC)


class _Store:
    def __init__(self, url, lock_dir):
        self.engine = make_engine(url)
        migrate(self.engine, lock_dir)

    def close(self):
        self.engine.dispose()


def _store_with_bets(url, settled=True):
    db = _Store(url, Path(url.removeprefix("sqlite:///")).parent)
    with db.engine.begin() as conn:
        conn.execute(s.leagues.insert().values(source="sandbox", code="L", name="L"))
        t1 = conn.execute(s.teams.insert().values(source="sandbox", provider_id="a", name="A")).inserted_primary_key[0]
        t2 = conn.execute(s.teams.insert().values(source="sandbox", provider_id="b", name="B")).inserted_primary_key[0]
        for i, (pl, result) in enumerate(((12.0, "win"), (-10.0, "loss"))):
            fid = conn.execute(
                s.fixtures.insert().values(
                    source="sandbox",
                    provider_id=f"m{i}",
                    league_code="L",
                    season="2526",
                    kickoff_time=KO + timedelta(days=i),
                    home_team_id=t1,
                    away_team_id=t2,
                    home_team="A",
                    away_team="B",
                    status="finished",
                    updated_at=KO,
                )
            ).inserted_primary_key[0]
            insert_prediction_and_bet(
                conn,
                fid,
                KO - timedelta(days=2),
                bet_outcome="home",
                bookmaker="b",
                odds=2.2,
                stake=10,
                edge=0.1,
                model_prob=0.5,
                placed_at=KO - timedelta(days=2),
                status="settled" if settled else "pending",
                result=result if settled else None,
                profit_loss=pl if settled else None,
            )
    return db


def test_the_bankroll_curve_starts_from_the_starting_bankroll(tmp_path):
    db = _store_with_bets(f"sqlite:///{tmp_path / 'p.db'}")
    with db.engine.connect() as conn:
        curve = build_report(conn, 1000.0)["bankroll"]
    db.close()
    assert list(curve["bankroll"]) == [1000.0, 1012.0, 1002.0]  # from the starting bankroll, then each bet


def _ink_in_the_middle(png) -> float:
    import matplotlib.image

    img = matplotlib.image.imread(png)[..., :3]
    h, w = img.shape[:2]
    middle = img[int(h * 0.4) : int(h * 0.6), int(w * 0.3) : int(w * 0.7)]
    return float((middle < 0.9).any(axis=2).mean())


def test_empty_charts_say_why_they_are_empty(tmp_path):
    db = _store_with_bets(f"sqlite:///{tmp_path / 'p.db'}", settled=False)
    with db.engine.connect() as conn:
        rep = build_report(conn, 1000.0)
    db.close()
    charts = write_plots(rep, tmp_path / "charts")
    assert charts and all(_ink_in_the_middle(c) > 0.001 for c in charts)  # each empty chart carries a note


def test_a_report_piped_into_head_is_not_a_failed_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _store_with_bets(url).close()
    env = {**os.environ, "DATABASE_URL": url, "LOG_DIR": str(tmp_path / "logs"), "LOCK_DIR": str(tmp_path / "l")}
    r = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" production/report.py | head -n 0; echo "exit ${{PIPESTATUS[0]}}"'],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.stdout.strip() == "exit 0" and "Traceback" not in r.stderr and "Error" not in r.stderr, r.stderr
    con = sqlite3.connect(tmp_path / "p.db")
    ((status, counts),) = con.execute("SELECT status, counts FROM job_runs WHERE job = 'report'").fetchall()
    assert status == "success", counts
    assert json.loads(counts) == {}
    con.close()
