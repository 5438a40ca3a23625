"""MMD of one embedding against many specifications, in blocks: exact against spec.mmd."""

import numpy as np
import pytest
from scipy.optimize import minimize

from skreuse.specification import RKMEReuser, RKMESpecification, _batch


@pytest.fixture
def specs():
    rng = np.random.RandomState(0)
    out = []
    for i in range(12):
        # Different sizes (padding in the batched self terms) and locations.
        X = rng.normal(size=(30 + 7 * i, 3)) + 0.3 * i
        out.append(RKMESpecification(n_reduced=4 + i, gamma=0.4, random_state=i).fit(X))
    return out


@pytest.mark.parametrize("block", [7, 64, 2**22])
def test_mmd2_to_many_equals_a_loop_over_spec_mmd(specs, block, monkeypatch):
    monkeypatch.setattr(_batch, "_BLOCK_ENTRIES", block)
    rng = np.random.RandomState(1)
    query = RKMESpecification(n_reduced=9, gamma=0.4, random_state=0).fit(rng.normal(size=(50, 3)))
    got = _batch.mmd2_to_many(
        query.reduced_points_,
        query.weights_,
        [s.reduced_points_ for s in specs],
        [s.weights_ for s in specs],
        0.4,
    )
    expected = np.array([query.mmd(s) for s in specs])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)
    # Raw rows as the query (weights 1/n): the exact MMD to data.
    X = rng.normal(size=(40, 3)) + 1.0
    got = _batch.mmd2_to_many(
        X,
        np.full(40, 1 / 40),
        [s.reduced_points_ for s in specs],
        [s.weights_ for s in specs],
        0.4,
    )
    np.testing.assert_allclose(got, [s.mmd(X) for s in specs], rtol=1e-10, atol=1e-13)


def test_self_terms_equal_the_dense_quadratic_forms(specs, monkeypatch):
    monkeypatch.setattr(_batch, "_BLOCK_ENTRIES", 50)
    got = _batch.self_terms([s.reduced_points_ for s in specs], [s.weights_ for s in specs], 0.4)
    expected = [s.weights_ @ s.transform(s.reduced_points_) @ s.weights_ for s in specs]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_reuser_mixture_equals_the_dense_qp_over_every_spec(specs):
    """Column generation reaches the optimum of the full simplex QP (brute force: SLSQP on
    the dense Gram matrix of all specifications)."""
    models = []
    rng = np.random.RandomState(2)
    from sklearn.linear_model import LinearRegression

    for i, s in enumerate(specs):
        X = rng.normal(size=(10, 3))
        models.append((f"m{i}", LinearRegression().fit(X, X[:, 0] * i), s))
    Xu = np.vstack([rng.normal(size=(60, 3)) + 0.3 * 2, rng.normal(size=(60, 3)) + 0.3 * 9])
    reuser = RKMEReuser(models, method="average").fit(Xu)
    G = np.array(
        [[t.weights_ @ s.transform(t.reduced_points_) @ s.weights_ for t in specs] for s in specs]
    )
    c = np.array([s.transform(Xu).mean(axis=0) @ s.weights_ for s in specs])
    k = len(specs)
    res = minimize(
        lambda w: w @ G @ w - 2 * c @ w,
        np.full(k, 1 / k),
        jac=lambda w: 2 * (G @ w - c),
        method="SLSQP",
        bounds=[(0, 1)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    w = np.array([reuser.mixture_weights_[f"m{i}"] for i in range(k)])
    assert w @ G @ w - 2 * c @ w <= res.fun + 1e-10
    assert np.count_nonzero(w) >= 2
    for name, _, s in models:
        assert reuser.distances_[name] == pytest.approx(s.mmd(Xu), abs=1e-10)


def test_reuser_scales_to_many_specifications():
    """M = 1000 specifications of K = 30 points: the stacked kernel would need 7 GB."""
    rng = np.random.RandomState(0)
    from sklearn.dummy import DummyRegressor

    base = DummyRegressor().fit(np.zeros((2, 4)), [0, 1])
    models = []
    for i in range(1000):
        s = RKMESpecification(n_reduced=30, gamma=0.25)
        s.reduced_points_ = rng.normal(size=(30, 4)) + (i % 50) * 0.2
        s.weights_ = np.full(30, 1 / 30)
        s.gamma_, s.n_features_in_, s.n_samples_seen_, s.n_iter_ = 0.25, 4, 100, 0
        models.append((f"m{i}", base, s))
    Xu = rng.normal(size=(100, 4)) + 3.0
    reuser = RKMEReuser(models, method="best").fit(Xu)
    d = np.array(list(reuser.distances_.values()))
    assert reuser.best_ == f"m{int(np.argmin(d))}"
    assert sum(reuser.mixture_weights_.values()) == pytest.approx(1.0)


def test_mmd2_to_many_uses_stored_self_terms_and_is_never_negative(monkeypatch):
    # A spec against itself: the three terms cancel to a rounding error that can fall
    # below zero (-1.1e-16 here); the squared MMD is clipped at exactly 0.
    rng = np.random.RandomState(1)
    Z, w = rng.normal(size=(5, 3)), rng.dirichlet(np.ones(5))
    raw = _batch.query_self(Z, w, 0.7) - 2 * _batch.cross_to_many(Z, w, [Z], [w], 0.7)
    raw += _batch.self_terms([Z], [w], 0.7)
    assert raw[0] < 0
    assert _batch.mmd2_to_many(Z, w, [Z], [w], 0.7)[0] == 0.0
    # stored self terms (a market's) are used as given, not recomputed
    points = [rng.normal(size=(k, 3)) for k in (2, 4)]
    weights = [np.full(k, 1.0 / k) for k in (2, 4)]
    expected = _batch.mmd2_to_many(Z, w, points, weights, 0.7)
    stored = _batch.self_terms(points, weights, 0.7)

    def no_recompute(*args, **kwargs):
        raise AssertionError("self terms recomputed")

    monkeypatch.setattr(_batch, "self_terms", no_recompute)
    got = _batch.mmd2_to_many(Z, w, points, weights, 0.7, spec_self=list(stored))
    np.testing.assert_array_equal(got, expected)


def test_mmd_to_many_of_points_far_from_the_origin():
    # The market's search shifts every point by the query's first (and each spec's self
    # term by its own first point): around 1e8 the expansion cancelled to nonsense.
    rng = np.random.RandomState(0)
    query = rng.normal(size=(30, 3))
    sets = [rng.normal(size=(k, 3)) + shift for k, shift in [(5, 0.0), (8, 0.5), (12, 2.0)]]
    weights = [rng.dirichlet(np.ones(len(Z))) for Z in sets]
    vq = np.full(30, 1 / 30)
    near = _batch.mmd2_to_many(query, vq, sets, weights, 0.4)
    far = _batch.mmd2_to_many(query + 1e8, vq, [Z + 1e8 for Z in sets], weights, 0.4)
    np.testing.assert_allclose(far, near, rtol=1e-5)
    assert near.min() > 0.01


def test_cross_terms_of_an_empty_query_are_zero():
    # No query point: its embedding is 0, and so is every cross term.
    rng = np.random.RandomState(0)
    sets = [rng.normal(size=(k, 3)) + 1e8 for k in (2, 5)]
    weights = [np.full(len(Z), 1.0 / len(Z)) for Z in sets]
    out = _batch.cross_to_many(np.zeros((0, 3)), np.zeros(0), sets, weights, 0.5)
    np.testing.assert_array_equal(out, np.zeros(2))


def test_self_terms_of_nearly_coinciding_points_are_at_most_one():
    # Two points 1e-9 apart, far from the set's first point: the expansion of their distance
    # rounds below zero, and an unclipped kernel value would exceed 1 (so would the term).
    rng = np.random.RandomState(0)
    w = np.array([0.0, 0.5, 0.5])
    for _ in range(50):
        a = 100.0 * rng.normal(size=3)
        Z = np.array([np.zeros(3), a, a + 1e-9 * rng.normal(size=3)])
        assert _batch.self_terms([Z], [w], 1.0)[0] <= 1.0


def test_kernel_values_of_points_in_large_units_are_at_most_one():
    # Rows around 1e150 against specifications fitted on rows around 1 (gamma about 1):
    # the expansion's rounding is relative to gamma * ||a||^2, a point's distance to itself
    # came out at about -1e284 and its kernel value at infinity, so every distance of
    # RKMEReuser was infinite (and best_ the first specification).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(6, 3)) * 1e150
    w = np.full(6, 1 / 6)
    with np.errstate(over="raise"):
        K = _batch._kernel_block(X, X, 0.4)
        self_term = _batch.query_self(X, w, 0.4)
    assert np.all(K <= 1.0)
    # The rows are far apart in the kernel's width: K is the identity, w^T K w = 1 / 6.
    assert self_term == pytest.approx(1 / 6)
    sets = [rng.normal(size=(k, 3)) for k in (4, 7)]
    weights = [rng.dirichlet(np.ones(len(Z))) for Z in sets]
    mmd2 = _batch.mmd2_to_many(X, w, sets, weights, 0.4)
    # No cross term: each squared distance is the two self terms.
    expected = 1 / 6 + _batch.self_terms(sets, weights, 0.4)
    np.testing.assert_allclose(mmd2, expected, rtol=1e-12)
