"""The models: Dixon-Coles and Elo against known truths, point-in-time features, and the trained set on the
sandbox against the simulated world's true probabilities."""

from __future__ import annotations

from datetime import UTC, datetime

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from pipeline.forecast.features import form_features
from pipeline.forecast.models.dixon_coles import DixonColesModel
from pipeline.forecast.models.elo import EloModel
from pipeline.forecast.modelset import ModelSet, train_model_set
from pipeline.metrics import log_loss, outcomes_from_goals
from pipeline.providers.sandbox import SandboxProvider
from pipeline.store import batch_to_frame

UTC = UTC


def simulated_league(n_teams=20, seasons=3, home=0.3, rho=-0.1, seed=0, league="L1"):
    rng = np.random.default_rng(seed)
    att, dfc = rng.normal(0, 0.3, n_teams), rng.normal(0, 0.3, n_teams)
    att -= att.mean()
    dfc -= dfc.mean()
    rows, t0 = [], pd.Timestamp("2020-08-01", tz="UTC")
    for s in range(seasons):
        for r in range(2 * (n_teams - 1)):
            perm = rng.permutation(n_teams)
            for i in range(n_teams // 2):
                h, a = perm[2 * i], perm[2 * i + 1]
                lam, mu = np.exp(0.2 + home + att[h] - dfc[a]), np.exp(0.2 + att[a] - dfc[h])
                rows.append(
                    {
                        "match_id": f"{league}-{s}-{r}-{i}",
                        "league": league,
                        "season": str(s),
                        "kickoff": t0 + pd.Timedelta(days=365 * s + 7 * r),
                        "home_team": f"T{h}",
                        "away_team": f"T{a}",
                        "home_goals": float(rng.poisson(lam)),
                        "away_goals": float(rng.poisson(mu)),
                    }
                )
    return pd.DataFrame(rows), att, dfc


def test_dixon_coles_recovers_parameters():
    frame, att, dfc = simulated_league(seasons=6)
    m = DixonColesModel(xi=0.0, history_days=10_000).fit(frame)
    p = m.leagues_["L1"]
    order = np.argsort([int(t[1:]) for t in p["teams"]])
    assert np.corrcoef(p["attack"][order], att)[0, 1] > 0.9
    assert np.corrcoef(p["defence"][order], dfc)[0, 1] > 0.9
    assert abs(p["home"] - 0.3) < 0.06 and p["converged"]


def with_newcomers(frame: pd.DataFrame, teams=("T17", "T18", "T19")) -> pd.DataFrame:
    """The league with three teams replaced after the first season, as if relegated and promoted."""
    later = frame["season"] != "0"
    out = frame.copy()
    for side in ("home_team", "away_team"):
        out.loc[later & out[side].isin(teams), side] = "N" + out.loc[later & out[side].isin(teams), side].str[1:]
    return out


def test_dixon_coles_gradient_is_exact():
    frame = with_newcomers(simulated_league(seasons=2)[0])  # the newcomer prior's terms are checked too
    m = DixonColesModel()
    captured = {}
    orig = DixonColesModel._fit_league

    def spy(self, g, ref, init):
        import scipy.optimize as so

        real = so.minimize

        def grab(fun, x0, **kw):
            captured["f"] = fun
            captured["x"] = x0 + np.random.default_rng(1).normal(0, 0.1, len(x0))
            return real(fun, x0, **kw)

        so_min = so.minimize
        import pipeline.forecast.models.dixon_coles as dcmod

        dcmod.minimize = grab
        try:
            return orig(self, g, ref, init)
        finally:
            dcmod.minimize = so_min

    DixonColesModel._fit_league = spy
    try:
        m.fit(frame)
    finally:
        DixonColesModel._fit_league = orig
    f = captured["f"]
    x = captured["x"]
    x[-3] = -0.05  # rho, inside its bounds
    err = check_grad(lambda v: f(v)[0], lambda v: f(v)[1], x)
    assert err < 1e-4 * max(1.0, np.linalg.norm(f(x)[1]))


def test_dixon_coles_probabilities_are_valid_even_for_extreme_rates():
    frame, _, _ = simulated_league(seasons=1)
    m = DixonColesModel().fit(frame)
    m.leagues_["L1"]["rho"] = 0.2  # at the bound; with big rates tau(0,0) would go negative unclipped
    lam = np.array([0.05, 3.0, 8.0])
    mat = m.score_matrix(lam, lam[::-1], np.full(3, 0.2))
    assert (mat >= 0).all() and np.allclose(mat.sum(axis=(1, 2)), 1)
    fx = frame.head(5).assign(home_team=["T0", "T1", "Promoted FC", "T3", "T4"])
    p = m.predict_proba(fx)
    assert (p >= 0).all() and np.allclose(p.sum(axis=1), 1)


def test_dixon_coles_prior_keeps_a_promoted_teams_first_results_from_running_away():
    frame = with_newcomers(simulated_league(seasons=2, seed=3)[0])
    frame = frame.sort_values("kickoff", kind="stable")
    newcomer_matches = frame[(frame["season"] == "1") & frame[["home_team", "away_team"]].isin(["N17"]).any(axis=1)]
    # N17's first two matches end 0-5 and 0-4: alone, they say it never scores
    first_two = newcomer_matches.index[:2]
    frame.loc[first_two, ["home_goals", "away_goals"]] = frame.loc[first_two, ["home_team"]].eq(
        "N17"
    ).to_numpy() * np.array([0.0, 5.0]) + frame.loc[first_two, ["away_team"]].eq("N17").to_numpy() * np.array(
        [5.0, 0.0]
    )
    ref = frame.loc[first_two[1], "kickoff"] + pd.Timedelta(days=1)
    plain = DixonColesModel(xi=0.0, prior_sd=None).fit(frame[frame["kickoff"] < ref], reference_time=ref)
    shrunk = DixonColesModel(xi=0.0).fit(frame[frame["kickoff"] < ref], reference_time=ref)
    att = {
        name: m.leagues_["L1"]["attack"][m.leagues_["L1"]["teams"].index("N17")]
        for name, m in (("plain", plain), ("shrunk", shrunk))
    }
    assert att["plain"] < -2.5  # maximum likelihood: log-rate far below any real team's
    assert -1.0 < att["shrunk"] < 0  # the prior: weak, but a team that can score
    fixture = frame[frame["kickoff"] >= ref].head(1).assign(home_team="N17")
    assert shrunk.expected_goals(fixture)[0, 0] > 0.4 > plain.expected_goals(fixture)[0, 0]


def test_dixon_coles_learns_how_strong_promoted_teams_are():
    frame, _, _ = simulated_league(seasons=2, seed=4)
    frame = with_newcomers(frame)
    weak = frame["season"] == "1"
    # the promoted teams concede two extra goals a match at home and away in their first season
    frame.loc[weak & frame["home_team"].str.startswith("N"), "away_goals"] += 2
    frame.loc[weak & frame["away_team"].str.startswith("N"), "home_goals"] += 2
    m = DixonColesModel(xi=0.0).fit(frame)
    p = m.leagues_["L1"]
    new_att, new_def = p["newcomer"]
    assert new_def < -0.3 and new_def < np.median(p["defence"])  # the fitted newcomer level: a weak defence
    # a team never seen is predicted at that level
    unknown = frame.tail(1).assign(home_team="T0", away_team="Never Seen FC")
    t0 = p["teams"].index("T0")
    expected = np.exp(p["mu"] + p["home"] + p["attack"][t0] - new_def), np.exp(p["mu"] + new_att - p["defence"][t0])
    assert np.allclose(m.expected_goals(unknown)[0], expected)


def test_dixon_coles_time_decay_follows_a_changed_team():
    frame, _, _ = simulated_league(seasons=3, seed=2)
    late = frame["kickoff"] > frame["kickoff"].quantile(0.8)
    boosted = frame.copy()
    boosted.loc[late & (boosted["home_team"] == "T0"), "home_goals"] += 3
    decayed = DixonColesModel(xi=0.01).fit(boosted).leagues_["L1"]
    flat = DixonColesModel(xi=0.0).fit(boosted).leagues_["L1"]
    i = decayed["teams"].index("T0")
    assert decayed["attack"][i] > flat["attack"][i]


def test_elo_is_point_in_time_and_moves_sensibly():
    frame, _, _ = simulated_league(seasons=2)
    frame = frame.sort_values(["kickoff", "match_id"]).reset_index(drop=True)
    elo = EloModel(burn_in=50).fit(frame)
    changed = frame.copy()
    changed.loc[600:, "home_goals"] = 9.0  # later results must not move earlier pre-match ratings
    elo2 = EloModel(burn_in=50).fit(changed)
    early = frame["match_id"].iloc[:600]
    pd.testing.assert_frame_equal(elo.history_.loc[early], elo2.history_.loc[early])
    p = elo.predict_proba(frame.tail(50))
    assert np.allclose(p.sum(axis=1), 1) and (p > 0).all()
    big = EloModel(burn_in=0)
    one = pd.DataFrame(
        {
            "match_id": ["a"],
            "league": "L",
            "season": "1",
            "kickoff": [pd.Timestamp("2020-01-01", tz="UTC")],
            "home_team": ["X"],
            "away_team": ["Y"],
            "home_goals": [4.0],
            "away_goals": [0.0],
        }
    )
    big._start()
    big._process(one)
    small = EloModel(burn_in=0)
    small._start()
    small._process(one.assign(home_goals=1.0))
    assert big.ratings_["X"] - 1500 > small.ratings_["X"] - 1500 > 0


def test_form_features_use_only_earlier_matches():
    frame, _, _ = simulated_league(seasons=1)
    frame["home_shots"] = frame["home_goals"] * 4
    frame["away_shots"] = frame["away_goals"] * 4
    frame["home_shots_on_target"] = frame["home_goals"] * 2
    frame["away_shots_on_target"] = frame["away_goals"] * 2
    frame = frame.sort_values(["kickoff", "match_id"]).reset_index(drop=True)
    base = form_features(frame)
    k = 200
    changed = frame.copy()
    changed.loc[k:, ["home_goals", "away_goals", "home_shots"]] = 7.0
    after = form_features(changed)
    pd.testing.assert_frame_equal(base.iloc[: k + 1], after.iloc[: k + 1])  # row k's own result is not used
    assert not base.iloc[k + 1 :].equals(after.iloc[k + 1 :])
    first = frame.iloc[0]
    assert np.isnan(base.loc[0, "home_form_goals_for"]) and np.isnan(base.loc[0, "home_rest_days"])
    assert first["home_team"]  # sanity


@pytest.fixture(scope="module")
def sandbox_training():
    sb = SandboxProvider(seed=11)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    frame = batch_to_frame(sb.history(None, now, now))
    return sb, frame, train_model_set(frame, validation_matches=1000)


@pytest.mark.slow  # trains a whole set (the sandbox_training fixture)
def test_trained_set_is_close_to_the_truth_on_held_out_matches(sandbox_training):
    sb, frame, result = sandbox_training
    val = result.validation_frame
    y = outcomes_from_goals(val["home_goals"], val["away_goals"])
    truth = np.array([sb.true_probabilities([m])[m] for m in val["match_id"]])
    ens = result.validation_predictions[["p_home", "p_draw", "p_away"]].to_numpy()
    gap = log_loss(ens, y) - log_loss(truth, y)
    # Stated margin: within 0.015 of the true probabilities' log loss on the 1,000 held-out matches.
    assert gap < 0.015, gap
    assert (
        result.metrics["ensemble"]["log_loss"]
        <= min(result.metrics["elo"]["log_loss"], result.metrics["dixon_coles"]["log_loss"]) + 0.002
    )
    assert set(result.metrics) >= {"ensemble", "elo", "dixon_coles", "xgboost", "market_prematch", "market_closing"}


@pytest.mark.slow
def test_model_set_survives_joblib_and_predicts_unknown_teams(sandbox_training, tmp_path):
    sb, frame, result = sandbox_training
    fixtures = frame.tail(20).assign(home_goals=np.nan, away_goals=np.nan).reset_index(drop=True)
    fixtures.loc[0, "home_team"] = "Brand New FC"
    history = frame.iloc[:-20]
    p1 = result.model_set.predict(fixtures, history)
    joblib.dump(result.model_set.to_objects(), tmp_path / "set.joblib")
    p2 = ModelSet.from_objects(joblib.load(tmp_path / "set.joblib")).predict(fixtures, history)
    pd.testing.assert_frame_equal(p1, p2)
    probs = p1[["p_home", "p_draw", "p_away"]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1) and (probs > 0).all()


def test_stacking_ensemble_weighs_forecasters_by_what_they_know():
    from pipeline.forecast.models.ensemble import StackingEnsemble

    rng = np.random.default_rng(5)
    n = 6000
    truth = rng.dirichlet([6, 3, 4], n)
    y = np.array([rng.choice(3, p=p) for p in truth])
    flat = np.tile(truth.mean(axis=0), (n, 1))
    noisy = rng.dirichlet([2, 2, 2], n)
    market = truth.copy()
    market[:1000] = np.nan  # some matches have no price
    base = {"elo": noisy, "dixon_coles": flat, "xgboost": 0.5 * truth + 0.5 * flat, "market": market}
    ens = StackingEnsemble().fit(base, y)
    w_elo, w_dc, w_xgb, w_market = ens.market_weights_[:4]
    assert abs(w_market - 1) < 0.25 and abs(w_elo) < 0.1  # the truth kept as it is, noise ignored
    p = ens.predict_proba(base)
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1)
    # without a price, the pool of the models alone: better than the flat forecast, worse than with the truth
    no_price = slice(0, 1000)
    assert (
        log_loss(truth[no_price], y[no_price])
        < log_loss(p[no_price], y[no_price])
        < log_loss(flat[no_price], y[no_price])
    )
    with_price = slice(1000, n)
    assert log_loss(p[with_price], y[with_price]) < log_loss(truth[with_price], y[with_price]) + 0.005
