"""The common estimator checks, as scikit-learn runs them on its own estimators, for every forecaster in
pipeline/forecast/models: scikit-learn's own checks that need no data (parameters stored as given, nothing set in
`__init__`, get/set_params, repr, clone), and ours on football data: `fit` returns self and leaves the parameters
as they were, use before `fit` refuses saying it is not fitted (NotFittedError; the close model's own
RuntimeError), `predict_proba` gives (n, 3) probabilities whose rows sum to 1, a clone of a fitted model refitted
on the same data predicts the same (the parameters are all there is), and a pickled model predicts the same."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks
from test_close_model import BOOKS, synthetic

from pipeline.forecast.models import DixonColesModel, EloModel, StackingEnsemble, XGBoostModel
from pipeline.forecast.models.close_model import CloseModel
from pipeline.metrics import outcomes_from_goals


def league(seasons: int = 2, n_teams: int = 12, seed: int = 0) -> pd.DataFrame:
    """Double round-robins of Poisson goals with a home advantage and fixed team strengths."""
    rng = np.random.default_rng(seed)
    att, dfc = rng.normal(0, 0.3, n_teams), rng.normal(0, 0.3, n_teams)
    rows, t0 = [], pd.Timestamp("2021-08-07", tz="UTC")
    for s in range(seasons):
        for r in range(2 * (n_teams - 1)):
            perm = rng.permutation(n_teams)
            for i in range(n_teams // 2):
                h, a = perm[2 * i], perm[2 * i + 1]
                rows.append(
                    {
                        "match_id": f"L1-{s}-{r:02d}-{i}",
                        "league": "L1",
                        "season": str(2021 + s),
                        "kickoff": t0 + pd.Timedelta(days=365 * s + 7 * r),
                        "home_team": f"T{h}",
                        "away_team": f"T{a}",
                        "home_goals": float(rng.poisson(np.exp(0.25 + 0.25 + att[h] - dfc[a]))),
                        "away_goals": float(rng.poisson(np.exp(0.25 + att[a] - dfc[h]))),
                    }
                )
    return pd.DataFrame(rows)


FRAME = league()
Y = outcomes_from_goals(FRAME["home_goals"], FRAME["away_goals"])
FIXTURES = FRAME.tail(30).assign(home_goals=np.nan, away_goals=np.nan).reset_index(drop=True)


def features(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, 4)), columns=["elo_diff", "dc_home", "form", "rest_days"])


def probabilities(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet([4.0, 2.5, 3.0], size=n)


def base_inputs(n: int) -> dict[str, np.ndarray]:
    market = probabilities(n, 13)
    market[::7] = np.nan  # matches without a price: the second pool
    return {
        "elo": probabilities(n, 10),
        "dixon_coles": probabilities(n, 11),
        "xgboost": probabilities(n, 12),
        "market": market,
    }


@dataclass
class Case:
    """How one forecaster is fitted and what it predicts on; `other` are valid non-default parameters."""

    model: Any
    fit_args: tuple
    predict_args: tuple
    n: int
    other: dict


CASES = {
    "elo": lambda: Case(
        EloModel(burn_in=20), (FRAME,), (FIXTURES,), len(FIXTURES), {"k": 25.0, "home_advantage": 70.0}
    ),
    "dixon_coles": lambda: Case(
        DixonColesModel(), (FRAME,), (FIXTURES,), len(FIXTURES), {"xi": 0.003, "max_goals": 8, "prior_sd": None}
    ),
    "xgboost": lambda: Case(
        XGBoostModel(n_estimators=20),
        (features(len(Y)), Y),
        (features(50, seed=2),),
        50,
        {"max_depth": 2, "learning_rate": 0.1},
    ),
    "ensemble": lambda: Case(
        StackingEnsemble(),
        (base_inputs(len(Y)), Y),
        ({k: v[:60] for k, v in base_inputs(len(Y)).items()},),
        60,
        {"use_market": False, "member_penalty": 0.1},
    ),
    "close_model": lambda: Case(
        CloseModel(books=BOOKS),
        synthetic(400, seed=3)[::2],  # (frame, fair-close targets)
        (synthetic(80, seed=4)[0],),
        80,
        {"l2": 0.01, "fair_method": "shin"},
    ),
}
MODELS = pytest.mark.parametrize("name", CASES)


@MODELS
@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_estimator_repr,
        estimator_checks.check_estimator_cloneable,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
    ],
    ids=lambda c: c.__name__,
)
def test_scikit_learns_own_checks(name, check):
    case = CASES[name]()
    check(type(case.model).__name__, case.model)


@MODELS
def test_fit_returns_self_and_leaves_the_parameters_as_given(name):
    case = CASES[name]()
    params = case.model.get_params()
    assert case.model.fit(*case.fit_args) is case.model
    assert case.model.get_params() == params


@MODELS
def test_use_before_fit_refuses(name):
    case = CASES[name]()
    with pytest.raises((NotFittedError, RuntimeError), match="not fitted"):
        case.model.predict_proba(*case.predict_args)
    fitted = case.model.fit(*case.fit_args)
    with pytest.raises((NotFittedError, RuntimeError), match="not fitted"):  # a clone has the parameters, not the fit
        clone(fitted).predict_proba(*case.predict_args)


@MODELS
def test_predict_proba_is_n_by_3_and_rows_sum_to_1(name):
    case = CASES[name]()
    p = case.model.fit(*case.fit_args).predict_proba(*case.predict_args)
    assert isinstance(p, np.ndarray) and p.shape == (case.n, 3)
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert p.std(axis=0).max() > 1e-3  # it tells matches apart


@MODELS
def test_clone_round_trips_the_parameters(name):
    case = CASES[name]()
    model = case.model.set_params(**case.other)
    assert clone(model).get_params() == model.get_params()
    assert {k: clone(model).get_params()[k] for k in case.other} == case.other
    fitted = model.fit(*case.fit_args)
    refitted = clone(fitted).fit(*case.fit_args)
    np.testing.assert_allclose(
        refitted.predict_proba(*case.predict_args), fitted.predict_proba(*case.predict_args), rtol=0, atol=1e-12
    )


@MODELS
def test_a_pickled_model_predicts_the_same(name):
    case = CASES[name]()
    fitted = case.model.fit(*case.fit_args)
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.predict_proba(*case.predict_args), fitted.predict_proba(*case.predict_args))
