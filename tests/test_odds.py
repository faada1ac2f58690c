import numpy as np
import pytest

from pipeline.odds import implied_probabilities, overround

ODDS = np.array([[1.5, 4.2, 7.0], [2.6, 3.3, 2.9], [np.nan, 3.0, 3.0], [1.0, 3.0, 3.0]])


@pytest.mark.parametrize("method", ["multiplicative", "shin", "power"])
def test_sum_to_one_and_invalid_rows(method):
    p = implied_probabilities(ODDS, method)
    assert np.allclose(p[:2].sum(axis=1), 1)
    assert np.isnan(p[2:]).all()


def test_multiplicative_by_hand():
    p = implied_probabilities([[2.0, 4.0, 4.0]])[0]
    # 1/2 + 1/4 + 1/4 = 1: no margin, so the inverse odds themselves
    assert p == pytest.approx([0.5, 0.25, 0.25])
    p = implied_probabilities([[1.8, 3.6, 4.5]])[0]
    inv = np.array([1 / 1.8, 1 / 3.6, 1 / 4.5])
    assert p == pytest.approx(inv / inv.sum())
    assert overround([[1.8, 3.6, 4.5]])[0] == pytest.approx(inv.sum() - 1)


@pytest.mark.parametrize("method", ["shin", "power"])
def test_longshot_bias_direction(method):
    m = implied_probabilities(ODDS[:1], "multiplicative")[0]
    p = implied_probabilities(ODDS[:1], method)[0]
    assert p[0] > m[0] and p[2] < m[2]  # more margin taken from the long shot


def test_unknown_method():
    with pytest.raises(ValueError):
        implied_probabilities(ODDS, "magic")


@pytest.mark.parametrize("method", ["shin", "power"])
def test_vectorised_solutions_match_a_scalar_root_finder(method):
    from scipy.optimize import brentq

    rng = np.random.default_rng(2)
    p = rng.dirichlet([4, 2.5, 3], 500)
    odds = np.round(1 / (p * rng.uniform(1.0, 1.12, (500, 1))), 2)
    got = implied_probabilities(odds, method)
    for o, g in zip(odds, got):
        inv = 1 / o
        if method == "power":
            k = brentq(lambda k: (inv**k).sum() - 1, 1e-3, 50)
            want = inv**k
        else:
            t = inv.sum()

            def probs(z):
                return (np.sqrt(z**2 + 4 * (1 - z) * inv**2 / t) - z) / (2 * (1 - z))

            want = inv / t if t <= 1 else probs(brentq(lambda z: probs(z).sum() - 1, 0, 0.999))
        assert g == pytest.approx(want / want.sum(), abs=1e-10)
