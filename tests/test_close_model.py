"""The close model (issue 26): scikit-learn's estimator conventions, and on synthetic prices whose fair close is a
known function of them, that it learns that function (its cross-entropy against the targets near the truth's)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from pipeline.forecast.models.close_model import CloseModel, book_slug, close_features, cross_entropy
from pipeline.odds import implied_probabilities
from pipeline.outcomes import OUTCOMES

BOOKS = ("Bet365", "William Hill")


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def synthetic(n: int, seed: int, shift: float = 0.6):
    """Prices of n matches: a sharp book and two soft ones. The true close moves from the sharp pre-match line
    towards Bet365's view (shift x Bet365's log deviation from the sharp line); William Hill's noise tells
    nothing. Returns the input frame, the close's true probabilities and soft targets drawn around them."""
    rng = np.random.default_rng(seed)
    logits = np.column_stack([rng.normal(0.3, 0.6, n), np.full(n, -0.2), rng.normal(-0.2, 0.6, n)])
    sharp = _softmax(logits)
    b365_view = _softmax(np.log(sharp) + rng.normal(0, 0.25, (n, 3)))
    wh_view = _softmax(np.log(sharp) + rng.normal(0, 0.15, (n, 3)))
    truth = _softmax(np.log(sharp) + shift * (np.log(b365_view) - np.log(sharp)))
    # what the target would be after news: the truth, plus noise that averages out
    target = _softmax(np.log(truth) + rng.normal(0, 0.05, (n, 3)))
    frame = pd.DataFrame(
        {
            "league": rng.choice(["L1", "L2"], n),
            "kickoff": pd.Timestamp("2020-08-15", tz="UTC") + pd.to_timedelta(rng.integers(0, 280, n), unit="D"),
        }
    )
    for name, p, margin in (("sharp_pre", sharp, 1.02), (book_slug("Bet365") + "_pre", b365_view, 1.06)):
        odds = 1 / (p * margin)
        for k, o in enumerate(OUTCOMES):
            frame[f"{name}_{o}"] = odds[:, k]
    wh = 1 / (wh_view * 1.06)
    for k, o in enumerate(OUTCOMES):
        frame[f"{book_slug('William Hill')}_pre_{o}"] = wh[:, k]
    return frame, truth, target


def is_fitted(model) -> bool:
    """scikit-learn's own test of a fit (what the models' use-before-fit check asks)."""
    try:
        check_is_fitted(model)
    except NotFittedError:
        return False
    return True


def test_estimator_conventions():
    frame, _, target = synthetic(600, seed=1)
    model = CloseModel(books=BOOKS, l2=0.01)
    assert model.get_params()["l2"] == 0.01
    assert model.set_params(l2=0.02) is model and model.l2 == 0.02
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict_proba(frame)
    assert not is_fitted(model)
    assert model.fit(frame, target) is model
    assert is_fitted(model)
    p = model.predict_proba(frame)
    assert p.shape == (600, 3)
    assert np.allclose(p.sum(axis=1), 1.0) and (p > 0).all()
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not is_fitted(twin)
    assert np.allclose(twin.fit(frame, target).predict_proba(frame), p)
    with pytest.raises(ValueError, match="same number of rows"):
        CloseModel(books=BOOKS).fit(frame, target[:10])
    with pytest.raises(ValueError, match="l2"):
        CloseModel(books=BOOKS, l2=-1).fit(frame, target)


def test_no_sharp_price_gives_a_nan_row_and_missing_soft_books_are_absent():
    frame, _, target = synthetic(400, seed=2)
    model = CloseModel(books=BOOKS).fit(frame, target)
    hostile = frame.copy()
    hostile.loc[0, "sharp_pre_home"] = np.nan  # no sharp price: nothing to anticipate
    hostile.loc[1, [f"bet365_pre_{o}" for o in OUTCOMES]] = np.nan  # a soft book that did not price it
    hostile.loc[2, [c for c in hostile if c.endswith(tuple(OUTCOMES)) and not c.startswith("sharp")]] = np.nan
    p = model.predict_proba(hostile)
    assert np.isnan(p[0]).all()
    assert np.isfinite(p[1:]).all() and np.allclose(p[1:].sum(axis=1), 1.0)
    # fitting skips rows without a target or a sharp price instead of failing on them
    target = target.copy()
    target[3] = np.nan
    assert CloseModel(books=BOOKS).fit(hostile, target).n_train_ == len(frame) - 2


def test_zero_weights_give_back_the_sharp_line():
    """The offset is the sharp price by FAIR_METHOD: with every weight held at 0 the model is that price."""
    frame, _, target = synthetic(300, seed=3)
    model = CloseModel(books=BOOKS, fair_method="power").fit(frame, target)
    model.coef_ = np.zeros_like(model.coef_)
    sharp = implied_probabilities(frame[[f"sharp_pre_{o}" for o in OUTCOMES]].to_numpy(), "power")
    assert np.allclose(model.predict_proba(frame), sharp)


def test_it_learns_a_known_close_on_held_out_matches():
    frame, truth, target = synthetic(6000, seed=4)
    test, truth_t, target_t = synthetic(3000, seed=5)
    model = CloseModel(books=BOOKS, l2=1e-4).fit(frame, target)
    p = model.predict_proba(test)
    sharp = implied_probabilities(test[[f"sharp_pre_{o}" for o in OUTCOMES]].to_numpy(), "power")
    ce_model, ce_truth = cross_entropy(target_t, p).mean(), cross_entropy(target_t, truth_t).mean()
    ce_sharp = cross_entropy(target_t, sharp).mean()
    # the sharp line misses the move towards Bet365; the model recovers nearly all of what there is to recover
    assert ce_sharp - ce_truth > 0.003
    assert ce_model - ce_truth < 0.1 * (ce_sharp - ce_truth)
    # the move is read from Bet365's price, not from William Hill's noise: shorten each book's home price by 10%
    moved = {}
    for book in BOOKS:
        shifted = test.copy()
        shifted[f"{book_slug(book)}_pre_home"] /= 1.1
        moved[book] = np.abs(model.predict_proba(shifted)[:, 0] - p[:, 0]).mean()
    assert moved["Bet365"] > 3 * moved["William Hill"]
    assert moved["Bet365"] > 0.005


def test_features_are_named_and_only_from_prematch_columns():
    frame, _, _ = synthetic(50, seed=6)
    frame["sharp_close_home"] = 99.0  # a closing price in the frame must not reach the features
    base, feats, names = close_features(frame, BOOKS, "power", (), ["L1", "L2"])
    assert base.shape == (50, 3) and feats.shape == (50, len(names)) and np.isfinite(feats).all()
    assert not any("close" in n for n in names)
    frame["sharp_close_home"] = 2.0
    assert np.array_equal(close_features(frame, BOOKS, "power", (), ["L1", "L2"])[1], feats)
