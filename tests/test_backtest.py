"""The walk-forward backtest on synthetic football-data files written here (true team strengths known, prices
derived from the true probabilities), through the real CSV parser and the real command."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

import pipeline.jobs.backtest as backtest
from conftest import ROOT
from pipeline.providers.football_data import load_matches

SEASONS = ["1920", "2021", "2122", "2223", "2324"]
TEAMS = 16


def _true_probs(lh: float, la: float) -> np.ndarray:
    g = np.arange(11)
    grid = np.outer(poisson.pmf(g, lh), poisson.pmf(g, la))
    p = np.array([np.tril(grid, -1).sum(), np.trace(grid), np.triu(grid, 1).sum()])
    return p / p.sum()


def _prices(p: np.ndarray, rng, noise: float, margin: float = 1.05) -> list[str]:
    q = p * np.exp(rng.normal(0, noise, 3))
    return [f"{1 / x:.2f}" for x in q / q.sum() * margin]


def write_league(root, div: str, seed: int) -> None:
    """A double round robin per season; strengths drift between seasons; odds = truth + noise + 5% margin,
    closing prices less noisy than pre-match ones, as in the market."""
    rng = np.random.default_rng(seed)
    attack = rng.normal(0, 0.3, TEAMS)
    defence = rng.normal(0, 0.25, TEAMS)
    names = [f"{div} Team {i:02d}" for i in range(TEAMS)]
    header = ("Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HS,AS,HST,AST,"
              "PSH,PSD,PSA,PSCH,PSCD,PSCA\n")
    for s, season in enumerate(SEASONS):
        attack = 0.8 * attack + rng.normal(0, 0.15, TEAMS)
        defence = 0.8 * defence + rng.normal(0, 0.12, TEAMS)
        pairs = [(h, a) for h in range(TEAMS) for a in range(TEAMS) if h != a]
        rng.shuffle(pairs)
        day0 = datetime(2000 + int(season[:2]), 8, 10)
        lines = []
        for k, (h, a) in enumerate(pairs):
            when = day0 + timedelta(days=7 * (k // (TEAMS // 2)))   # a round of 8 matches a week
            lh = np.exp(0.3 + attack[h] - defence[a])
            la = np.exp(0.05 + attack[a] - defence[h])
            hg, ag = rng.poisson(lh), rng.poisson(la)
            p = _true_probs(lh, la)
            res = "H" if hg > ag else "D" if hg == ag else "A"
            shots = [rng.poisson(6 * lh), rng.poisson(6 * la)]
            sot = [rng.binomial(n, 0.35) for n in shots]
            lines.append(",".join([div, when.strftime("%d/%m/%Y"), "15:00", names[h], names[a], str(hg), str(ag),
                                   res, *map(str, shots), *map(str, sot), *_prices(p, rng, 0.12),
                                   *_prices(p, rng, 0.06)]))
        folder = root / "mmz4281" / season
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{div}.csv").write_text(header + "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("football-data")
    write_league(root, "E0", 1)
    write_league(root, "D1", 2)
    return root


@pytest.fixture(scope="module")
def frame(data_dir):
    matches, problems = load_matches(data_dir)
    assert problems == [] and len(matches) == 2 * len(SEASONS) * TEAMS * (TEAMS - 1)
    return matches


TEST_FROM, TEST_TO = "2023-07-01", "2024-07-01"


@pytest.fixture(scope="module")
def result(frame):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(backtest, "MIN_XGB_ROWS", 200)
        mp.setattr(backtest, "MIN_STACK_ROWS", 200)
        return backtest.run_backtest(frame, TEST_FROM, TEST_TO, xgb_refit_weeks=4)


def test_every_forecaster_is_scored_on_the_same_test_matches(result, frame):
    test = frame[(frame["kickoff"] >= pd.Timestamp(TEST_FROM, tz="UTC"))]
    assert result.info["test_matches"] == len(test) == 480
    assert result.info["scored_matches"] == 480, result.info["left_out"]
    names = {"elo", "dixon_coles", "xgboost", "ensemble", "market_prematch", "market_closing"}
    assert set(result.scores) == {"overall", "D1", "E0"}
    for league, table in result.scores.items():
        assert set(table) == names
        assert len({m["n"] for m in table.values()}) == 1                  # exactly the same matches
        assert table["ensemble"]["n"] == (480 if league == "overall" else 240)
        for m in table.values():
            assert 0.7 < m["log_loss"] < 1.2 and 0.1 < m["rps"] < 0.3 and 0 <= m["accuracy"] <= 1
    assert result.info["prices"] == {"market_prematch": {"pinnacle": 480}, "market_closing": {"pinnacle": 480}}


def test_scores_rank_as_the_information_does(result):
    s = result.scores["overall"]
    # the closing price is the truth with less noise than the pre-match one; both carry the true strengths,
    # which the models must learn from 240 matches a season
    assert s["market_closing"]["log_loss"] < s["market_prematch"]["log_loss"]
    assert s["market_prematch"]["log_loss"] < s["elo"]["log_loss"]
    # the ensemble, which sees the pre-match price, must do at least about as well as its best input model
    assert s["ensemble"]["log_loss"] < min(s["elo"]["log_loss"], s["dixon_coles"]["log_loss"]) + 0.005


def test_bets_follow_the_strategy_and_add_up(result):
    bets, b = result.bets, result.betting["overall"]
    assert b["bets"] == len(bets) > 0
    assert b["turnover"] == pytest.approx(bets["stake"].sum(), abs=0.01)
    assert b["final_bankroll"] == pytest.approx(1000 + bets["profit"].sum(), abs=0.01)
    assert (bets["edge"] >= 0.05 - 1e-9).all() and (bets["stake"] > 0).all()
    won = bets["won"].astype(bool)
    assert np.allclose(bets.loc[won, "profit"], bets.loc[won, "stake"] * (bets.loc[won, "odds"] - 1), atol=0.0051)
    assert np.allclose(bets.loc[~won, "profit"], -bets.loc[~won, "stake"])
    assert np.allclose(bets["clv"], bets["odds"] / bets["closing_odds"] - 1)
    # one bet per outcome of a match at most (outcomes of a match are sized together), none before the test period
    assert not bets.duplicated(["match_id", "bet_outcome"]).any() and (bets["kickoff"] >= pd.Timestamp(TEST_FROM, tz="UTC")).all()


def test_no_prediction_depends_on_a_later_result(frame, result):
    """Scramble every result from 2024-01-01 on: no prediction before that day may change."""
    cut = pd.Timestamp("2024-01-01", tz="UTC")
    rng = np.random.default_rng(5)
    later = frame["kickoff"] >= cut
    scrambled = frame.copy()
    for col in ("home_goals", "away_goals", "home_shots", "away_shots", "home_shots_on_target",
                "away_shots_on_target"):
        scrambled.loc[later, col] = rng.permutation(scrambled.loc[later, col].to_numpy())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(backtest, "MIN_XGB_ROWS", 200)
        mp.setattr(backtest, "MIN_STACK_ROWS", 200)
        again = backtest.run_backtest(scrambled, TEST_FROM, TEST_TO, xgb_refit_weeks=4)
    cols = [f"{m}_{o}" for m in ("elo", "dixon_coles", "xgboost", "ensemble") for o in ("home", "draw", "away")]
    before = (result.predictions["kickoff"] < cut).to_numpy()
    assert before.sum() > 200 and (~before).sum() > 100
    a, b = result.predictions.loc[before, cols].to_numpy(), again.predictions.loc[before, cols].to_numpy()
    assert np.array_equal(a, b)
    # and the scrambled results do change the later ones (the check above can fail)
    assert not np.allclose(result.predictions.loc[~before, cols].to_numpy(),
                           again.predictions.loc[~before, cols].to_numpy())


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "production" / "backtest.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, code, message", [
    (["--from", "2023-13-01", "--to", "2024-07-01"], 2, "not a date"),
    (["--from", "2023-07-01", "--to", "2024-07-01", "--leagues", "E0,XX"], 65, "no files for league(s) XX"),
    (["--from", "2024-07-01", "--to", "2023-07-01"], 65, "--to must be after --from"),
    (["--from", "2019-07-01", "--to", "2024-07-01"], 65, "the models need at least 1000 earlier matches"),
    (["--from", "2030-07-01", "--to", "2031-07-01"], 65, "no played matches"),
])
def test_command_rejects_bad_input_with_one_line(data_dir, args, code, message):
    out = run_cli("--data-dir", data_dir, *args)
    assert out.returncode == code, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_command_writes_the_numbers_it_prints(data_dir, tmp_path):
    # a short test window: the real command end to end with the production minimums
    path = tmp_path / "bt.json"
    out = run_cli("--data-dir", data_dir, "--leagues", "E0,D1", "--from", "2024-01-01", "--to", "2024-07-01",
                  "--json", path)
    assert out.returncode == 0, out.stderr
    data = json.loads(path.read_text())
    assert data["period"]["from"].startswith("2024-01-01") and data["test_matches"] > 0
    overall = data["scores"]["overall"]
    assert {"elo", "dixon_coles", "market_prematch", "market_closing"} <= set(overall)
    assert f"{overall['elo']['log_loss']:.4f}" in out.stdout
    assert "backtest finished" in out.stdout and data["betting"]["overall"]["starting_bankroll"] == 1000.0


def test_established_means_both_teams_have_ten_matches_in_three_years():
    kick = pd.date_range("2020-01-01", periods=30, freq="7D", tz="UTC")
    home = ["A"] * 30
    away = ["B"] * 12 + ["C"] * 18                 # C first plays in week 13
    frame = pd.DataFrame({"kickoff": kick, "home_team": home, "away_team": away})
    ok = backtest._established(frame)
    assert not ok[:10].any() and ok[10:12].all()    # A and B reach 10 earlier matches at the 11th match
    assert not ok[12:22].any() and ok[22:].all()    # C reaches 10 at its 11th match
    late = frame.assign(kickoff=frame["kickoff"] + pd.to_timedelta(np.r_[np.zeros(29), [3000]], unit="D"))
    assert not backtest._established(late)[-1]     # nothing in the 3 years before: not established
