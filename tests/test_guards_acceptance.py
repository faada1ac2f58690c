"""Issue 24's acceptance for the price-error guards, through the production scripts.

(a) football-data: a copy of the shared E0/D1 files (2022-23, 2023-24) with each league's last round of 2023-24
cut out and written as `fixtures.csv`, once as it was and once with Bet365 9.0 against Pinnacle 1.30 on
Leverkusen's home win and Pinnacle's away price of Brentford v Newcastle typed 22.1 instead of 2.21. Nothing is
bet on the affected outcomes, each is named in one log line and stored in skipped_candidates with its rule, and
the round's other value bets are placed as without the faults.
(b) the sandbox: a guard's skip is stored and reported.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import DEMO_DAYS, DEMO_START, FOOTBALL_DATA, clone, invoke_command, make_env, needs_shared, run_command

pytestmark = pytest.mark.slow  # trains a model set on two seasons of two leagues

SEASONS = ("2223", "2324")
LAST_ROUND = {"E0": "19/05/2024", "D1": "18/05/2024"}
TRAINED = datetime(2024, 5, 17, 2, tzinfo=UTC)  # after every match of both leagues' second-to-last round
HOURLY = datetime(2024, 5, 17, 16, tzinfo=UTC)  # the last round kicks off within the next 48 hours
BOOKS = ("B365", "BW", "IW", "PS", "WH", "VC", "Max", "Avg")
TYPO = ("Leverkusen", "Augsburg", "home")  # Bet365 9.0 against Pinnacle 1.30
BROKEN = ("Brentford", "Newcastle")  # Pinnacle 2.97 4.00 22.1 (2.21 in the file)


def _write_data(root: Path, faulted: bool) -> None:
    """Real files copied (never linked: this copy is changed), the last round as fixtures.csv."""
    fixtures = []
    for season in SEASONS:
        for div in LAST_ROUND:
            src = FOOTBALL_DATA / "mmz4281" / season / f"{div}.csv"
            dst = root / "mmz4281" / season / f"{div}.csv"
            dst.parent.mkdir(parents=True, exist_ok=True)
            if season != SEASONS[-1]:
                shutil.copyfile(src, dst)
                continue
            lines = src.read_text(encoding="utf-8-sig").splitlines()
            date = lines[0].split(",").index("Date")
            dst.write_text("\n".join(ln for ln in lines if ln.split(",")[date] != LAST_ROUND[div]) + "\n")
            rows = pd.read_csv(src, dtype=str, keep_default_na=False)
            rows = rows[rows["Date"] == LAST_ROUND[div]]
            cols = ["Div", "Date", "Time", "HomeTeam", "AwayTeam"] + [f"{b}{s}" for b in BOOKS for s in "HDA"]
            fixtures.append(rows[[c for c in cols if c in rows]])
    table = pd.concat(fixtures, ignore_index=True)
    typo = (table["HomeTeam"] == TYPO[0]) & (table["AwayTeam"] == TYPO[1])
    broken = (table["HomeTeam"] == BROKEN[0]) & (table["AwayTeam"] == BROKEN[1])
    assert typo.sum() == broken.sum() == 1
    assert (table.loc[typo, "PSH"].item(), table.loc[broken, "PSA"].item()) == ("1.3", "2.21")
    if faulted:
        table.loc[typo, "B365H"] = "9.0"
        table.loc[broken, "PSA"] = "22.1"
    table.to_csv(root / "fixtures.csv", index=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One trained set; the hourly run on the clean and on the faulted fixtures, each on its own copy of the store.
    Returns {name: (env, output of the hourly run)}."""
    if not (FOOTBALL_DATA / "mmz4281").is_dir():
        pytest.skip(f"real football-data files not found at {FOOTBALL_DATA}")
    tmp = tmp_path_factory.mktemp("guards_acceptance")
    base = tmp / "base"
    for name in ("clean", "faulted"):
        _write_data(tmp / name / "football-data", faulted=name == "faulted")
    common = dict(DATA_SOURCE="football-data", FOOTBALL_DATA_LEAGUES="E0,D1", VALIDATION_MATCHES=200, HISTORY_YEARS=3)
    # The real round's best value is EV +2.1% (Leverkusen's away win at 9.0), staked below the minimum stake by a
    # quarter Kelly: a 1% minimum and full Kelly give the round bets to compare (Frankfurt v Leipzig's draw too).
    common |= dict(MIN_EDGE=0.01, KELLY_FRACTION=1)
    env = make_env(base, FOOTBALL_DATA_DIR=tmp / "clean" / "football-data", **common)
    code, out = run_command("weekly_training", TRAINED, env, "--force-deploy")  # the gate is not the point here
    assert code == 0, out
    got = {}
    # "unguarded": the faulted files with every price guard off, as main was before the guards
    off = dict(MAX_EDGE="none", MAX_PRICE_RATIO="none", SOFT_OUTLIER_MARGIN="none", SHARP_BOOKSUM_MIN=0.5)
    for name, data, extra in (("clean", "clean", {}), ("faulted", "faulted", {}), ("unguarded", "faulted", off)):
        work = tmp / name
        shutil.copytree(base / "models", work / "models", symlinks=True)
        with sqlite3.connect(base / "predictions.db") as src, sqlite3.connect(work / "predictions.db") as dst:
            src.backup(dst)
        run_env = make_env(work, FOOTBALL_DATA_DIR=tmp / data / "football-data", **common, **extra)
        code, out = run_command("hourly_predictions", HOURLY, run_env)
        assert code == 0, out
        got[name] = (run_env, out)
    return got


def _query(env: dict, sql: str) -> list[tuple]:
    con = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _bets(env: dict) -> set[tuple]:
    return set(
        _query(
            env,
            "SELECT f.home_team, f.away_team, b.bet_outcome, b.bookmaker, b.odds, b.stake FROM bets b "
            "JOIN fixtures f ON f.id = b.fixture_id",
        )
    )


def _skips(env: dict) -> list[tuple]:
    return _query(
        env,
        "SELECT f.home_team, f.away_team, s.outcome, s.bookmaker, s.odds, s.rule, s.reason FROM skipped_candidates s "
        "JOIN fixtures f ON f.id = s.fixture_id ORDER BY s.id",
    )


def _affected(bet: tuple) -> bool:
    return bet[:3] == TYPO or bet[:2] == BROKEN


@needs_shared()
def test_no_bet_on_the_faulted_outcomes_each_named_in_one_line_and_stored_with_its_rule(runs):
    env, out = runs["faulted"]
    bets = _bets(env)
    assert not [b for b in bets if _affected(b)], bets
    # without the guards both faults are bet, the typo with most of the match cap (8% of 1,000; "EV +580%")
    unguarded = {b[:3]: b for b in _bets(runs["unguarded"][0]) if _affected(b)}
    assert unguarded[TYPO][3:5] == ("Bet365", 9.0) and unguarded[TYPO][5] >= 40 and (*BROKEN, "home") in unguarded
    skips = _skips(env)
    typo = [s for s in skips if s[:3] == TYPO]
    assert [(s[3], s[4], s[5]) for s in typo] == [("Bet365", 9.0, "price_ratio")]
    broken = [s for s in skips if s[:2] == BROKEN]
    # the broken line made Brentford's home win (2.90 against a "fair" 2.08) and draw look like value
    assert "home" in {s[2] for s in broken} and {s[5] for s in broken} == {"sharp_overround"}
    for s in typo + broken:
        said = [ln for ln in out.splitlines() if s[6] in ln]
        assert len(said) == 1 and "WARNING" in said[0], (s, out)
    line = next(ln for ln in out.splitlines() if "Leverkusen v Augsburg" in ln)
    for part in ("home", "Bet365", "9.00", "fair 1.3", "price_ratio"):
        assert part in line, line
    line = next(ln for ln in out.splitlines() if "Brentford v Newcastle" in ln)
    assert "22.10" in line and "add to 0.63" in line and "sharp_overround" in line
    # the log file has them too
    log = (Path(env["LOG_DIR"]) / "hourly_predictions.log").read_text()
    assert all(s[6] in log for s in typo + broken)


@needs_shared()
def test_the_rounds_other_value_bets_are_placed_as_without_the_faults(runs):
    clean, faulted = _bets(runs["clean"][0]), _bets(runs["faulted"][0])
    others = {b for b in clean if not _affected(b)}
    assert len(others) >= 2, clean  # the round has value bets to compare, or the test proves nothing
    assert {b for b in faulted if not _affected(b)} == others
    # the clean prices set none of the faulted outcomes aside
    assert not [s for s in _skips(runs["clean"][0]) if _affected(s)]


@needs_shared()
def test_the_report_counts_the_skips_by_rule(runs):
    env, _ = runs["faulted"]
    result = invoke_command("report", [], env)
    code, out = result.exit_code, result.output
    assert code == 0, out
    counts = dict(_query(env, "SELECT rule, COUNT(*) FROM skipped_candidates GROUP BY rule"))
    line = next(ln for ln in out.splitlines() if ln.startswith("Price-error guards:"))
    assert f"{sum(counts.values())} candidates set aside" in line
    assert all(f"{rule} {n}" in line for rule, n in counts.items()), line


# ---- (b) the sandbox -------------------------------------------------------------------------------------------


def test_a_sandbox_guard_skip_is_stored_and_reported(cycle, tmp_path):
    env = clone(cycle[0], tmp_path / "w")
    env["MAX_EDGE"] = "0.021"  # every candidate above EV +2.1%: most of the sandbox's value is set aside
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'w' / 'predictions.db'}"}
    t = DEMO_START + timedelta(days=DEMO_DAYS, hours=10)
    out = ""
    for _ in range(36):  # hourly runs until one sets a candidate aside
        code, out = run_command("hourly_predictions", t, env)
        assert code == 0, out
        if _query(db, "SELECT COUNT(*) FROM skipped_candidates")[0][0]:
            break
        t += timedelta(hours=1)
    else:
        pytest.fail("no hourly run set a candidate aside: the test would prove nothing")
    rows = _query(
        db,
        "SELECT s.rule, s.odds, s.fair_prob, s.reason, s.last_seen, b.id FROM skipped_candidates s "
        "LEFT JOIN bets b ON b.fixture_id = s.fixture_id AND b.bet_outcome = s.outcome",
    )
    assert {r[0] for r in rows} == {"max_edge"}
    for rule, odds, fair, reason, seen, bet in rows:
        assert odds * fair - 1 > 0.021 and bet is None  # set aside, never bet
        assert re.search(r"skipped Sim .+ v Sim .+ (home|draw|away) at .+ fair \d+\.\d\d \(sharp\): max_edge", reason)
        assert sum(reason in ln for ln in out.splitlines()) == 1
        assert seen.startswith(t.strftime("%Y-%m-%d %H:%M"))
    result = invoke_command("report", [], env)
    code, report = result.exit_code, result.output
    assert (
        code == 0
        and f"Price-error guards: {len(rows)} candidates set aside, never bet (max_edge {len(rows)})" in report
    )
