"""Tests of RKMESpecification against brute-force kernel computations."""

import builtins
import json
import pickle

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skreuse.specification import RKMESpecification, _rkme


@pytest.fixture(autouse=True, scope="module")
def _one_openmp_thread():
    # k-means and HistGradientBoosting run OpenMP threads, which crawl on oversubscribed
    # cores (pytest -n 2 on two cores); one thread keeps this file fast everywhere.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def _brute_mmd2(Z, beta, Y, v, gamma):
    """||sum beta_j k(z_j, .) - sum v_i k(y_i, .)||^2 from the full kernel matrices."""
    Kzz = np.exp(-gamma * cdist(Z, Z, "sqeuclidean"))
    Kzy = np.exp(-gamma * cdist(Z, Y, "sqeuclidean"))
    Kyy = np.exp(-gamma * cdist(Y, Y, "sqeuclidean"))
    return beta @ Kzz @ beta - 2 * beta @ Kzy @ v + v @ Kyy @ v


def _uniform(n):
    return np.full(n, 1.0 / n)


@pytest.fixture(scope="module")
def digits():
    return StandardScaler().fit_transform(load_digits().data)


def test_mmd_matches_brute_force(rng):
    X = rng.normal(size=(60, 3))
    Y = rng.normal(size=(45, 3)) + 0.5
    spec = RKMESpecification(n_reduced=7, random_state=0).fit(X)
    other = RKMESpecification(n_reduced=5, random_state=0).fit(Y)
    Z, beta, g = spec.reduced_points_, spec.weights_, spec.gamma_
    assert spec.mmd(X) == pytest.approx(_brute_mmd2(Z, beta, X, _uniform(60), g), abs=1e-8)
    assert spec.mmd(Y) == pytest.approx(_brute_mmd2(Z, beta, Y, _uniform(45), g), abs=1e-8)
    expected = _brute_mmd2(Z, beta, other.reduced_points_, other.weights_, g)
    assert spec.mmd(other) == pytest.approx(expected, abs=1e-8)
    assert spec.score(Y) == pytest.approx(-spec.mmd(Y), abs=1e-15)
    np.testing.assert_allclose(spec.transform(Y), rbf_kernel(Y, Z, gamma=g), atol=1e-12)


def test_gamma_scale_and_float(rng):
    X = rng.normal(size=(50, 4)) * 3
    spec = RKMESpecification(n_reduced=5, random_state=0).fit(X)
    assert spec.gamma_ == pytest.approx(1.0 / (4 * X.var()))
    assert RKMESpecification(n_reduced=5, gamma=0.3).fit(X).gamma_ == 0.3
    # Constant data: the one distinct row is all a specification could describe.
    with pytest.raises(ValueError, match="without publishing one of its rows"):
        RKMESpecification(n_reduced=5).fit(np.ones((20, 2)))


def test_alternating_steps_improve_on_kmeans(digits):
    mmd = [
        RKMESpecification(n_reduced=20, n_iter=it, random_state=0).fit(digits).mmd(digits)
        for it in (0, 5)
    ]
    assert mmd[1] < 0.9 * mmd[0]


def test_reduced_set_beats_random_subset_on_digits(digits):
    m = 30
    for seed in range(3):
        spec = RKMESpecification(n_reduced=m, random_state=seed).fit(digits)
        idx = np.random.RandomState(seed).choice(len(digits), m, replace=False)
        random_mmd = _brute_mmd2(
            digits[idx], _uniform(m), digits, _uniform(len(digits)), spec.gamma_
        )
        assert spec.mmd(digits) * 2 <= random_mmd
    # More points, closer embedding.
    mmds = [
        RKMESpecification(n_reduced=m, random_state=0).fit(digits).mmd(digits) for m in (5, 20, 80)
    ]
    assert mmds[0] > mmds[1] > mmds[2]


def test_blocked_computation_equals_one_block(rng, monkeypatch):
    X = rng.normal(size=(80, 3))
    Y = rng.normal(size=(30, 3))
    full = RKMESpecification(n_reduced=6, random_state=0).fit(X)
    monkeypatch.setattr(_rkme, "_BLOCK_ENTRIES", 7)
    blocked = RKMESpecification(n_reduced=6, random_state=0).fit(X)
    np.testing.assert_allclose(blocked.reduced_points_, full.reduced_points_, atol=1e-10)
    np.testing.assert_allclose(blocked.weights_, full.weights_, atol=1e-10)
    assert blocked.mmd(Y) == pytest.approx(full.mmd(Y), abs=1e-12)


def test_sample_weighted_resampling(rng):
    X = rng.normal(size=(200, 2))
    spec = RKMESpecification(n_reduced=5, random_state=0).fit(X)
    S = spec.sample(20000, random_state=0)
    idx = np.argmin(cdist(S, spec.reduced_points_), axis=1)
    np.testing.assert_allclose(cdist(S, spec.reduced_points_).min(axis=1), 0.0, atol=1e-12)
    freq = np.bincount(idx, minlength=5) / len(S)
    np.testing.assert_allclose(freq, spec.weights_ / spec.weights_.sum(), atol=0.02)
    np.testing.assert_array_equal(S, spec.sample(20000, random_state=0))
    # Jitter: the mean per-coordinate deviation from the drawn point is the noise.
    jittered = spec.sample(20000, random_state=0, noise=0.5)
    assert np.std(jittered - S) == pytest.approx(0.5, rel=0.03)
    Z = spec.reduced_points_
    nn = np.sort(cdist(Z, Z), axis=1)[:, 1]
    assert spec._auto_noise() == pytest.approx(np.median(nn) / np.sqrt(2))
    with pytest.raises(ValueError, match="n_samples must be"):
        spec.sample(-1)
    with pytest.raises(ValueError, match="noise must be"):
        spec.sample(3, noise="big")


def test_partial_fit(rng):
    X = rng.normal(size=(600, 3))
    once = RKMESpecification(n_reduced=10, gamma=0.2, random_state=0).fit(X)
    first = RKMESpecification(n_reduced=10, gamma=0.2, random_state=0).partial_fit(X)
    np.testing.assert_array_equal(first.reduced_points_, once.reduced_points_)
    np.testing.assert_array_equal(first.weights_, once.weights_)

    stream = RKMESpecification(n_reduced=10, gamma=0.2, random_state=0)
    for chunk in np.array_split(X, 4):
        stream.partial_fit(chunk)
    assert stream.n_samples_seen_ == 600
    assert stream.mmd(X) < 1.5 * once.mmd(X) + 1e-4
    assert stream.mmd(X) < 0.2 * stream.mmd(X + 1.0)

    scaled = RKMESpecification(n_reduced=10, random_state=0).partial_fit(X[:100])
    gamma = scaled.gamma_
    scaled.partial_fit(3 * X[100:])
    assert scaled.gamma_ == gamma
    with pytest.raises(ValueError, match="features"):
        scaled.partial_fit(X[:, :2])


def test_torch_path_equals_numpy(backend, rng):
    torch = pytest.importorskip("torch")
    X = rng.normal(size=(300, 4))
    Y = rng.normal(size=(50, 4))
    ref = RKMESpecification(n_reduced=12, random_state=0).fit(X)
    spec = RKMESpecification(n_reduced=12, random_state=0, device=backend).fit(X)
    np.testing.assert_allclose(spec.reduced_points_, ref.reduced_points_, atol=1e-9)
    np.testing.assert_allclose(spec.weights_, ref.weights_, atol=1e-9)
    assert spec.mmd(Y) == pytest.approx(ref.mmd(Y), abs=1e-10)
    assert spec.score(torch.as_tensor(Y)) == pytest.approx(ref.score(Y), abs=1e-10)
    np.testing.assert_allclose(spec.transform(Y), ref.transform(Y), atol=1e-12)
    # A tensor input alone selects torch.
    tensor_fit = RKMESpecification(n_reduced=12, random_state=0).fit(torch.as_tensor(X))
    np.testing.assert_allclose(tensor_fit.weights_, ref.weights_, atol=1e-9)


def test_grid_search_without_labels(digits):
    X = digits[:600]
    grid = {"n_reduced": [5, 40], "gamma": [0.01, 0.03]}
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(RKMESpecification(random_state=0), grid, cv=cv).fit(X)
    assert search.best_params_["n_reduced"] == 40
    train, test = next(cv.split(X))
    for i, params in enumerate(search.cv_results_["params"]):
        spec = RKMESpecification(random_state=0, **params).fit(X[train])
        expected = -_brute_mmd2(
            spec.reduced_points_, spec.weights_, X[test], _uniform(len(test)), spec.gamma_
        )
        assert search.cv_results_["split0_test_score"][i] == pytest.approx(expected, abs=1e-10)


def test_json_round_trip_is_exact(rng):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    spec = RKMESpecification(n_reduced=8, gamma=0.37, n_iter=4, random_state=3).fit(X)
    text = spec.to_json()
    payload = json.loads(text)
    assert payload["version"] == 1
    back = RKMESpecification.from_json(text)
    np.testing.assert_array_equal(back.reduced_points_, spec.reduced_points_)
    np.testing.assert_array_equal(back.weights_, spec.weights_)
    np.testing.assert_array_equal(back.feature_names_in_, spec.feature_names_in_)
    assert back.gamma_ == spec.gamma_
    assert back.get_params() == spec.get_params()
    assert back.n_samples_seen_ == 100
    assert back.mmd(X) == spec.mmd(X)
    assert back.to_json() == text
    assert RKMESpecification.from_json(text.encode()).mmd(spec) == pytest.approx(0.0, abs=1e-15)


def _payload(spec, **changes):
    data = json.loads(spec.to_json())
    for key, value in changes.items():
        if key.startswith("params."):
            data["params"][key[len("params.") :]] = value
        else:
            data[key] = value
    return json.dumps(data)


class _Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_hostile_json_cannot_execute_code(rng, tmp_path, monkeypatch):
    spec = RKMESpecification(n_reduced=3, random_state=0).fit(rng.normal(size=(20, 2)))
    sentinel = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(sentinel)!r}).touch() or 0.1"

    def forbidden(*args, **kwargs):
        raise AssertionError("from_json must never evaluate or unpickle anything")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    hostile = [
        _payload(spec, gamma_=code),
        _payload(spec, **{"params.gamma": code}),
        _payload(spec, **{"params.random_state": {"py/object": "os.system", "args": code}}),
        json.dumps({"py/reduce": [{"py/type": "builtins.eval"}, {"py/tuple": [code]}]}),
        pickle.dumps(_Exploit(sentinel)),
        pickle.dumps(_Exploit(sentinel)).decode("latin-1"),
    ]
    for text in hostile:
        with pytest.raises(ValueError, match="RKMESpecification JSON"):
            RKMESpecification.from_json(text)
    assert not sentinel.exists()


def test_malformed_json_errors(rng):
    spec = RKMESpecification(n_reduced=3, random_state=0).fit(rng.normal(size=(20, 2)))
    good = json.loads(spec.to_json())
    cases = [
        ("{not json", "Malformed"),
        ("[1, 2]", "must be an object"),
        (_payload(spec, format="other"), "format"),
        (_payload(spec, version=2), "version"),
        (_payload(spec, version=True), "version"),
        (spec.to_json().replace('"weights_": [', '"weights_": [NaN, '), "finite"),
        (spec.to_json().replace('"gamma_": ', '"gamma_": 1e999 + '), "Malformed"),
        (_payload(spec, gamma_=1e999), "finite"),
        (_payload(spec, gamma_=-1.0), "positive"),
        (_payload(spec, weights_=good["weights_"][:-1]), "weights for"),
        (_payload(spec, weights_=[-1.0] * 3), "non-negative"),
        (_payload(spec, reduced_points_=[[0.0, 1.0], [1.0]]), "same length"),
        (_payload(spec, reduced_points_=[[0.0, 1.0, 2.0]] * 3), "columns"),
        (_payload(spec, reduced_points_="[[0, 1]]"), "list of lists"),
        (_payload(spec, weights_=["1", 2, 3]), "number"),
        (_payload(spec, n_features_in_=2.0), "n_features_in_"),
        (_payload(spec, feature_names_in_=["a"]), "feature_names_in_"),
        (_payload(spec, **{"params.n_reduced": -1}), "params"),
        (_payload(spec, **{"params.random_state": True}), "random_state"),
        (json.dumps({k: v for k, v in good.items() if k != "weights_"}), "missing"),
        (json.dumps({**good, "extra": 1}), "unexpected"),
        ("[" * 100_000, "Malformed"),
    ]
    for text, match in cases:
        with pytest.raises(ValueError, match=match):
            RKMESpecification.from_json(text)
    with pytest.raises(TypeError, match="text must be"):
        RKMESpecification.from_json(123)


def test_bad_input(rng):
    X = rng.normal(size=(30, 3))
    with pytest.raises(ValueError, match="n_reduced"):
        RKMESpecification(n_reduced=0).fit(X)
    with pytest.raises(ValueError, match="gamma"):
        RKMESpecification(gamma="auto").fit(X)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        RKMESpecification().fit(X_nan)
    spec = RKMESpecification(n_reduced=4).fit(X)
    with pytest.raises(ValueError, match="other has 2 features"):
        spec.mmd(RKMESpecification(n_reduced=4).fit(X[:, :2]))
    with pytest.raises(ValueError, match="features"):
        spec.score(X[:, :2])
    with pytest.raises(NotFittedError):
        RKMESpecification().mmd(X)
    with pytest.raises(NotFittedError):
        spec.mmd(RKMESpecification())
    with pytest.raises(NotFittedError):
        RKMESpecification().sample(3)
    with pytest.raises(NotFittedError):
        RKMESpecification().to_json()


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


@pytest.mark.parametrize(
    "weights",
    [[-0.2, 0.7, 0.5], [0.6, 0.6, -1e-9], [0.0, 0.0, 0.0], [-0.5, 0.2, 0.1]],
    ids=["one-negative", "tiny-negative", "all-zero", "negative-sum"],
)
def test_json_weights_must_be_non_negative_and_not_all_zero(rng, weights):
    # Mixed signs with a positive sum are refused too: an RKME is a (positive) mean
    # embedding, and a negative weight would make sampling and the MMD meaningless.
    spec = RKMESpecification(n_reduced=3, random_state=0).fit(rng.normal(size=(20, 2)))
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        RKMESpecification.from_json(_payload(spec, weights_=weights))
    # the same payload with valid weights is read back
    back = RKMESpecification.from_json(_payload(spec, weights_=[0.0, 0.25, 0.75]))
    np.testing.assert_array_equal(back.weights_, [0.0, 0.25, 0.75])


@pytest.mark.parametrize("n", [2, 3, 10, 60, 101, 150])
def test_specification_never_contains_a_training_row(rng, n):
    X = rng.normal(size=(n, 3))
    # An isolated row: alone in its k-means cluster, its centre would be the row itself.
    X[0] = 50.0
    spec = RKMESpecification(n_reduced=100, random_state=0).fit(X)
    assert spec.reduced_points_.shape[0] <= max(1, 2 * n // 3)
    dists = ((spec.reduced_points_[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    assert dists.min() > 1e-10 * X.var() * 3
    # The published JSON holds no training row either.
    published = np.array(json.loads(spec.to_json())["reduced_points_"])
    assert not any((published == row).all(axis=1).any() for row in X)


def test_partial_fit_never_contains_a_row_of_the_new_batch(rng):
    X = rng.normal(size=(200, 2))
    spec = RKMESpecification(n_reduced=10, gamma=0.5, random_state=0).fit(X[:100])
    batch = np.vstack([X[100:103], [[30.0, 30.0]]])
    spec.partial_fit(batch)
    dists = ((spec.reduced_points_[:, None, :] - batch[None, :, :]) ** 2).sum(-1)
    assert dists.min() > 1e-12


def test_one_sample_or_one_distinct_row_is_refused(rng):
    with pytest.raises(ValueError, match="n_samples=1"):
        RKMESpecification().fit(rng.normal(size=(1, 3)))
    with pytest.raises(ValueError, match="fewer than 2 distinct rows"):
        RKMESpecification().fit(np.repeat(rng.normal(size=(1, 3)), 5, axis=0))


# -- dask arrays without a cluster (issue 20: the chunked path under mutation testing) --------
# tests/test_distributed.py fits on a real cluster; dask's synchronous scheduler keeps these
# cheap enough to run for every mutant of the chunked path.


def _two_blobs(rng, n):
    return np.r_[rng.normal(size=(n // 2, 3)), rng.normal(size=(n - n // 2, 3)) + 2.5]


@pytest.mark.parametrize("gamma", ["scale", 0.3])
def test_dask_fit_equals_the_in_memory_fit(rng, synchronous_dask, gamma):
    import dask.array as da

    X = _two_blobs(rng, 300)
    memory = RKMESpecification(n_reduced=12, gamma=gamma, n_iter=4, random_state=0).fit(X)
    for chunks in [(70, 3), (300, 2)]:
        lazy = RKMESpecification(n_reduced=12, gamma=gamma, n_iter=4, random_state=0)
        lazy.fit(da.from_array(X, chunks=chunks))
        assert lazy.gamma_ == pytest.approx(memory.gamma_, rel=1e-12)
        assert lazy.n_features_in_ == 3
        assert not hasattr(lazy, "feature_names_in_")
        assert lazy.n_samples_seen_ == 300
        assert lazy.n_iter_ == memory.n_iter_
        np.testing.assert_allclose(lazy.reduced_points_, memory.reduced_points_, rtol=1e-6)
        np.testing.assert_allclose(lazy.weights_, memory.weights_, rtol=1e-6, atol=1e-12)
    # no more rows than reduced points: computed and fitted in memory, the same fit
    small = X[::25]
    lazy = RKMESpecification(n_reduced=12, gamma=gamma, random_state=0)
    lazy.fit(da.from_array(small, chunks=(5, 3)))
    expected = RKMESpecification(n_reduced=12, gamma=gamma, random_state=0).fit(small)
    np.testing.assert_array_equal(lazy.reduced_points_, expected.reduced_points_)
    np.testing.assert_array_equal(lazy.weights_, expected.weights_)
    assert lazy.gamma_ == expected.gamma_
    assert lazy.n_features_in_ == 3


def test_dask_fit_of_integer_features(rng, synchronous_dask):
    import dask.array as da

    # integer entries are numeric; the variance over all entries gives gamma="scale"
    X = rng.randint(0, 5, size=(200, 2))
    lazy = RKMESpecification(n_reduced=8, n_iter=2, random_state=0)
    lazy.fit(da.from_array(X, chunks=(45, 2)))
    assert lazy.gamma_ == pytest.approx(1.0 / (2 * X.astype(float).var()), rel=1e-12)


def test_dask_bad_input_names_the_problem_and_leaves_nothing_fitted(rng, synchronous_dask):
    import dask.array as da
    from dask import delayed

    X = _two_blobs(rng, 200)
    spec = RKMESpecification(n_reduced=10, n_iter=2, random_state=0)
    cases = [
        (da.from_array(X[:, 0], chunks=50), r"X must be 2-D \(n_samples, n_features\)"),
        (da.from_array(X.astype(complex), chunks=(50, 3)), "X must be numeric, got a dask"),
        (da.from_array(np.where(np.eye(200, 3, -150) > 0, np.nan, X), chunks=(50, 3)), "NaN"),
        (
            da.concatenate(
                [
                    da.from_delayed(delayed(np.ones)((100, 3)), shape=(100, 3), dtype=float),
                    da.from_delayed(delayed(np.zeros)((90, 3)), shape=(100, 3), dtype=float),
                ]
            ),
            r"A chunk of X has shape \(90, 3\), but \(100, 3\) was declared",
        ),
    ]
    unknown = da.from_array(X, chunks=(50, 3))
    cases.append((unknown[unknown[:, 0] > -np.inf], "unknown size; call X.compute_chunk_sizes"))
    for X_bad, match in cases:
        with pytest.raises(ValueError, match=match):
            spec.fit(X_bad)
        assert not hasattr(spec, "reduced_points_")
        assert not hasattr(spec, "gamma_")
        assert not hasattr(spec, "n_features_in_")
    with pytest.raises(ValueError, match="device='cuda' is not supported with it"):
        RKMESpecification(device="cuda").fit(da.from_array(X, chunks=(50, 3)))


def test_json_edge_values_and_messages_that_name_the_field(rng):
    # The smallest legal values round-trip: one feature, n_iter_ = 0, one sample seen,
    # no random_state.
    spec = RKMESpecification(n_reduced=3, random_state=None).fit(rng.normal(size=(20, 1)))
    back = RKMESpecification.from_json(
        _payload(spec, n_iter_=0, n_samples_seen_=1, **{"params.random_state": None})
    )
    assert (back.n_iter_, back.n_samples_seen_, back.random_state) == (0, 1, None)
    np.testing.assert_array_equal(back.reduced_points_, spec.reduced_points_)
    assert back.reduced_points_.dtype == back.weights_.dtype == np.float64
    # malformed fields are named, each with its own message
    cases = [
        (_payload(spec, reduced_points_=[]), "'reduced_points_' must be a non-empty list of lists"),
        (_payload(spec, reduced_points_=5), "'reduced_points_' must be a non-empty list of lists"),
        (_payload(spec, reduced_points_=[[0.0], 1.0]), "'reduced_points_' must be a non-empty"),
        (_payload(spec, reduced_points_=[[]]), "'reduced_points_' rows must all have the same"),
        (_payload(spec, reduced_points_=[["x"]]), "'reduced_points_' must be a number"),
        (_payload(spec, weights_=[]), "'weights_' must be a non-empty list of numbers"),
        (_payload(spec, weights_=5), "'weights_' must be a non-empty list of numbers"),
        (_payload(spec, weights_=[None]), "'weights_' must be a number"),
        (_payload(spec, n_iter_=-1), "'n_iter_' must be an int >= 0"),
        (_payload(spec, n_features_in_=0), "'n_features_in_' must be an int >= 1"),
        (_payload(spec, gamma_="x"), "'gamma_' must be a number"),
        (_payload(spec, gamma_=0.0), "'gamma_' must be positive, got 0.0"),
        (
            _payload(spec, reduced_points_=[[0.0]] * 4, weights_=[0.25] * 4),
            "has 4 reduced points but n_reduced is 3",
        ),
        (
            _payload(spec, **{"params.n_reduced": 0}),
            "invalid 'params': The 'n_reduced' parameter of RKMESpecification must be",
        ),
        (_payload(spec, n_samples_seen_=0), "'n_samples_seen_' must be an int >= 1"),
        (
            json.dumps({**json.loads(spec.to_json()), "params": {"n_reduced": 3}}),
            r"'params' must be an object with the keys \['device', 'gamma', 'n_iter', 'n_re",
        ),
        (spec.to_json().replace('"weights_": [', '"weights_": [NaN, '), "must not contain NaN"),
        (spec.to_json().replace('"gamma_": ', '"gamma_": -Infinity, "x": '), "not contain -Inf"),
    ]
    for text, match in cases:
        with pytest.raises(ValueError, match=match):
            RKMESpecification.from_json(text)


def test_json_of_parameters_given_as_objects(rng):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(rng.normal(size=(30, 2)), columns=["a", "b"])
    spec = RKMESpecification(n_reduced=3, gamma=np.float32(0.5)).fit(X)
    # a RandomState instance has no JSON form: it is written as null
    spec.set_params(random_state=np.random.RandomState(0))
    payload = json.loads(spec.to_json())
    assert payload["params"]["random_state"] is None
    assert payload["params"]["gamma"] == 0.5
    back = RKMESpecification.from_json(spec.to_json())
    assert back.feature_names_in_.dtype == object
    np.testing.assert_array_equal(back.feature_names_in_, ["a", "b"])
    assert back.mmd(X) == spec.mmd(X)
    torch = pytest.importorskip("torch")
    spec.set_params(device=torch.device("cpu"))
    assert json.loads(spec.to_json())["params"]["device"] == "cpu"


def test_transform_checks_the_width_against_the_fit_and_keeps_it(rng):
    spec = RKMESpecification(n_reduced=4, random_state=0).fit(rng.normal(size=(30, 2)))
    X = rng.normal(size=(5, 2))
    np.testing.assert_allclose(
        spec.transform(X), rbf_kernel(X, spec.reduced_points_, gamma=spec.gamma_), rtol=1e-12
    )
    with pytest.raises(ValueError, match="X has 3 features, but RKMESpecification is expecting 2"):
        spec.transform(rng.normal(size=(5, 3)))
    assert spec.n_features_in_ == 2


def test_auto_noise_of_two_reduced_points_in_one_dimension(rng):
    # The median nearest-neighbour distance of two points is their distance (over
    # sqrt(n_features) = 1): "auto" is that jitter, not none.
    X = np.r_[rng.normal(size=(10, 1)), 5.0 + rng.normal(size=(10, 1))]
    spec = RKMESpecification(n_reduced=2, random_state=0).fit(X)
    assert spec.reduced_points_.shape == (2, 1)
    gap = abs(spec.reduced_points_[0, 0] - spec.reduced_points_[1, 0])
    auto = spec.sample(50, random_state=1, noise="auto")
    np.testing.assert_allclose(auto, spec.sample(50, random_state=1, noise=gap), rtol=1e-12)
    assert not np.array_equal(auto, spec.sample(50, random_state=1))


def test_sample_checks_its_arguments_and_the_memory_first(rng, monkeypatch):
    from skreuse.utils import _validation

    spec = RKMESpecification(n_reduced=4, random_state=0).fit(rng.normal(size=(30, 2)))
    assert spec.sample(0).shape == (0, 2)
    for bad in (2.5, True, -1):
        with pytest.raises(ValueError, match="n_samples must be a non-negative int"):
            spec.sample(bad)
    for bad in (-1.0, True, "large"):
        with pytest.raises(ValueError, match="noise must be a non-negative float or 'auto'"):
            spec.sample(5, noise=bad)
    # The draw holds int64 indices and float64 rows (and, with a jitter, the jitter and the
    # jittered rows): 8 + 8 * 2 bytes a row without noise, 8 + 3 * 8 * 2 with it.
    monkeypatch.setattr(_validation, "available_memory", lambda: 2400)
    assert spec.sample(100).shape == (100, 2)
    assert spec.sample(42, noise=0.1).shape == (42, 2)
    with pytest.raises(ValueError, match=r"sample\(n_samples=101\) would need"):
        spec.sample(101)
    with pytest.raises(ValueError, match=r"sample\(n_samples=43\) would need"):
        spec.sample(43, noise=0.1)
    with pytest.raises(ValueError, match=r"sample\(n_samples=43\) would need"):
        spec.sample(43, noise=2.0)


def test_dask_fit_with_an_empty_chunk_an_isolated_row_and_small_variance(rng, synchronous_dask):
    import dask.array as da

    # Entries of variance < 1, an isolated row (its k-means centre would publish it) and
    # a chunk of no rows: the same fit as in memory, and no training row published.
    X = 0.3 * _two_blobs(rng, 200)
    X[0] = 4.0
    memory = RKMESpecification(n_reduced=10, n_iter=3, random_state=0).fit(X)
    lazy = RKMESpecification(n_reduced=10, n_iter=3, random_state=0)
    lazy.fit(da.from_array(X, chunks=((100, 0, 100), (3,))))
    assert X.var() < 1
    assert lazy.gamma_ == pytest.approx(1.0 / (3 * X.var()), rel=1e-12)
    np.testing.assert_allclose(lazy.reduced_points_, memory.reduced_points_, rtol=1e-6)
    np.testing.assert_allclose(lazy.weights_, memory.weights_, rtol=1e-6, atol=1e-12)
    dists = ((lazy.reduced_points_[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    assert dists.min() > 1e-10 * X.var() * 3
    # every entry equal: refused, whatever the chunks
    with pytest.raises(ValueError, match="fewer than 2 distinct rows"):
        RKMESpecification(n_reduced=3).fit(da.from_array(np.ones((40, 2)), chunks=(15, 2)))


def test_auto_noise_of_a_single_reduced_point_is_none(rng):
    spec = RKMESpecification(n_reduced=1, random_state=0).fit(rng.normal(size=(20, 2)))
    assert spec.reduced_points_.shape[0] == 1
    np.testing.assert_array_equal(
        spec.sample(5, random_state=0, noise="auto"), spec.sample(5, random_state=0)
    )


def test_blocked_mmd_to_data_matches_brute_force(rng, monkeypatch):
    # Blocks of one row: every block of w^T K(Y, Y) w must be added up.
    X, Y = rng.normal(size=(60, 3)), rng.normal(size=(25, 3)) + 0.5
    spec = RKMESpecification(n_reduced=6, random_state=0).fit(X)
    monkeypatch.setattr(_rkme, "_BLOCK_ENTRIES", 7)
    expected = _brute_mmd2(spec.reduced_points_, spec.weights_, Y, _uniform(25), spec.gamma_)
    assert spec.mmd(Y) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("negative", [5e-11, 5e-9, 5e-7, 5e-5])
def test_weights_of_a_rounding_indefinite_gram_matrix_use_a_vanishing_jitter(negative):
    """Pinned by mutation testing (issue 20): a Gram matrix with a tiny negative
    eigenvalue (rounding) gets the smallest jitter that makes it positive definite, so the
    weights are those of the matrix itself: here, with ``a`` orthogonal to the negative
    direction and a positive optimum, ``beta = K^+ a`` on the other two directions."""
    from skreuse.specification._rkme import _solve_weights

    Q, _ = np.linalg.qr(np.random.RandomState(0).normal(size=(3, 3)))
    K = Q @ np.diag([2.0, 1.0, -negative]) @ Q.T
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(K + 1e-12 * np.eye(3))
    # the optimum: ones projected off the negative direction Q[:, 2], all positive
    want = np.ones(3) - Q[:, 2].sum() * Q[:, 2]
    assert np.all(want > 0)
    beta = _solve_weights(K, K @ want)
    np.testing.assert_allclose(beta, want, rtol=1e-3)


def _data_term(X, gamma):
    """``(1/n^2) 1^T K_xx 1`` by brute force: the MMD minus the fitted objective."""
    return float(np.exp(-gamma * cdist(X, X, "sqeuclidean")).mean())


@pytest.mark.parametrize(("n_reduced", "gamma"), [(1, 2.0), (2, 2.0), (1, "scale")])
def test_rounds_decrease_the_objective_and_stop_when_it_stops_decreasing(rng, n_reduced, gamma):
    # Fits with n_iter = 0, 1, 2, ... share their first rounds (same k-means start), so the
    # MMD to the data after each round is read from them. Every round decreases it; rounds
    # stop after the first whose decrease is at most 1e-10 of the objective |MMD - data term|
    # (the documented early stop), and n_iter_ counts the rounds run.
    X = rng.normal(size=(40, 2))
    params = {"n_reduced": n_reduced, "gamma": gamma, "random_state": 0}
    n_rounds = RKMESpecification(n_iter=200, **params).fit(X).n_iter_
    assert 3 <= n_rounds < 200
    fits = [RKMESpecification(n_iter=k, **params).fit(X) for k in range(n_rounds + 1)]
    assert [f.n_iter_ for f in fits] == list(range(n_rounds + 1))
    data = _data_term(X, fits[0].gamma_)
    mmd = np.array([f.mmd(X) for f in fits])
    relative_decrease = (mmd[:-1] - mmd[1:]) / np.abs(mmd[1:] - data)
    assert np.all(relative_decrease[:-1] > 1e-10)
    assert 0 < relative_decrease[-1] <= 1e-10
    # Running on gives the same specification: it has stopped.
    np.testing.assert_array_equal(
        RKMESpecification(n_iter=n_rounds + 5, **params).fit(X).reduced_points_,
        fits[-1].reduced_points_,
    )


def test_no_round_keeps_the_kmeans_centres_with_optimal_weights(rng):
    # n_iter=0: the reduced points are the k-means centres (one k-means run, seeded by
    # random_state) and the weights minimize beta^T K beta - 2 a^T beta over beta >= 0
    # (checked by the optimality conditions: zero gradient on positive weights, a
    # non-negative one on zero weights).
    from sklearn.cluster import KMeans

    X = np.vstack([rng.normal(size=(60, 2)) + c for c in ([0, 0], [4, 0], [0, 4])])
    spec = RKMESpecification(n_reduced=6, n_iter=0, random_state=7).fit(X)
    assert spec.n_iter_ == 0
    centres = KMeans(n_clusters=6, n_init=1, random_state=7).fit(X).cluster_centers_
    np.testing.assert_allclose(spec.reduced_points_, np.unique(centres, axis=0), rtol=1e-12)
    Z, beta, g = spec.reduced_points_, spec.weights_, spec.gamma_
    K = np.exp(-g * cdist(Z, Z, "sqeuclidean"))
    a = np.exp(-g * cdist(Z, X, "sqeuclidean")).mean(1)
    grad = 2 * (K @ beta - a)
    assert np.all(beta >= 0)
    np.testing.assert_allclose(grad[beta > 0], 0.0, atol=1e-9)
    assert np.all(grad[beta == 0] >= -1e-9)


def test_kmeans_start_reads_a_subsample_of_20000_distinct_rows(rng, monkeypatch):
    # Documented: the k-means initialization reads a subsample of at most 20 000 rows
    # (drawn with random_state). The rows k-means is given are recorded.
    from sklearn.cluster import KMeans

    seen = []

    class RecordingKMeans(KMeans):
        def fit(self, X, y=None, sample_weight=None):
            seen.append((np.array(X), sample_weight))
            return super().fit(X, y, sample_weight=sample_weight)

    monkeypatch.setattr(_rkme, "KMeans", RecordingKMeans)
    X = rng.normal(size=(20_500, 2))
    RKMESpecification(n_reduced=3, n_iter=0, random_state=0).fit(X)
    rows = seen[0][0]
    assert rows.shape == (20_000, 2)
    # distinct rows of X (drawn without replacement)
    assert np.unique(rows, axis=0).shape[0] == 20_000
    position = {tuple(r): i for i, r in enumerate(X)}
    assert all(tuple(r) in position for r in rows)
    # with at most 20 000 rows, k-means reads them all
    seen.clear()
    RKMESpecification(n_reduced=3, n_iter=0, random_state=0).fit(X[:2000])
    np.testing.assert_array_equal(seen[0][0], X[:2000])


def test_copied_rows_are_found_in_every_block_of_rows(rng, monkeypatch):
    # The check that no reduced point is a training row reads the rows block by block: an
    # isolated last row (alone in its k-means cluster) is found with one-row blocks too.
    X = rng.normal(size=(60, 3))
    X[-1] = 50.0
    full = RKMESpecification(n_reduced=100, random_state=0).fit(X)
    monkeypatch.setattr(_rkme, "_BLOCK_ENTRIES", 7)
    blocked = RKMESpecification(n_reduced=100, random_state=0).fit(X)
    for spec in (full, blocked):
        dists = ((spec.reduced_points_[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        assert dists.min() > 1e-10 * X.var() * 3
    np.testing.assert_allclose(blocked.reduced_points_, full.reduced_points_, atol=1e-10)


def test_dask_float32_rows_are_never_published(rng, synchronous_dask):
    # The copy check measures distances in float64 whatever the dtype of the chunks: in
    # float32, |x|^2 is rounded at 1e-7 of its value, far above the 1e-10 tolerance, and an
    # isolated row's point (its k-means centre) would not be found.
    import dask.array as da

    X = rng.normal(size=(200, 3)).astype(np.float32)
    X[-1] = [48.9, -50.9, 47.7]  # its float32 |x|^2 rounds up (by 1.7e-4)
    spec = RKMESpecification(n_reduced=20, random_state=0).fit(da.from_array(X, chunks=(64, 3)))
    X64 = X.astype(np.float64)
    dists = ((spec.reduced_points_[:, None, :] - X64[None, :, :]) ** 2).sum(-1)
    assert dists.min() > 1e-10 * X64.var() * 3


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_rows_far_from_the_origin_are_never_published(offset):
    # Unstandardized data (e.g. columns of years or prices): unit spread around large
    # offsets, different in each column, and one isolated row. The copy check must find the
    # isolated row's point however far the data is from the origin (its distances were
    # rounded at 1e-16 of |x|^2, above the 1e-10 tolerance of the spread, and the row itself
    # was published), and only it: the tolerance is relative to the spread of each feature
    # about its own mean (the variance of all entries pooled, inflated by the offsets, made
    # every point a copy: the fit was refused at 1e6).
    for seed in range(3):
        rng = np.random.RandomState(seed)
        shift = offset * np.array([1.0, -3.0, 2.0])
        X = rng.normal(size=(60, 3)) + shift
        X[0] = shift + 50.0 + rng.rand(3)
        spec = RKMESpecification(n_reduced=100, random_state=0).fit(X)
        dists = ((spec.reduced_points_[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        assert dists.min() > 1e-10 * X.var(axis=0).sum()
        assert spec.reduced_points_.shape[0] >= 10
        assert not any((spec.reduced_points_ == row).all(axis=1).any() for row in X)


def test_documented_defaults_and_tags():
    assert RKMESpecification().get_params() == {
        "n_reduced": 100,
        "gamma": "scale",
        "n_iter": 10,
        "random_state": None,
        "device": "cpu",
    }
    from sklearn.utils import get_tags

    tags = get_tags(RKMESpecification())
    # unsupervised (y is ignored), and NaN is refused
    assert not tags.target_tags.required
    assert not tags.input_tags.allow_nan


def test_input_is_described_in_float64_and_infinity_refused_in_any_dtype(rng):
    torch = pytest.importorskip("torch")
    X = rng.normal(size=(50, 3))
    X32 = X.astype(np.float32)
    params = {"n_reduced": 5, "random_state": 0}
    ref = RKMESpecification(**params).fit(X32.astype(np.float64))
    # float32 rows are promoted first: the specification of the same values in float64
    spec = RKMESpecification(**params).fit(X32)
    np.testing.assert_allclose(spec.reduced_points_, ref.reduced_points_, rtol=1e-13)
    np.testing.assert_allclose(spec.weights_, ref.weights_, rtol=1e-13)
    # a tensor that requires grad is read without touching its graph
    tensor = torch.tensor(X32.astype(np.float64), requires_grad=True)
    from_tensor = RKMESpecification(**params).fit(tensor)
    np.testing.assert_allclose(from_tensor.reduced_points_, ref.reduced_points_, atol=1e-10)
    assert tensor.grad is None
    # an object array (e.g. from a DataFrame of mixed columns) with an infinite entry
    objects = X.astype(object)
    objects[2, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        RKMESpecification(**params).fit(objects)
    for method in (ref.transform, ref.mmd, ref.score):
        with pytest.raises(ValueError, match="infinity"):
            method(objects)


# -- rows far from the origin: the kernel sees only differences --------------------------------


@pytest.mark.parametrize("offset", [1e7, 1e10])
def test_specification_of_rows_far_from_the_origin_is_the_shifted_one(rng, offset):
    # Rows around 1e7 with a spread of 1: the kernel's distance expansion cancelled (the MMD
    # to the rows themselves came out 0, the reduced points 0.2 off), and around 1e8 the
    # fit stopped with "not positive definite". Shifting rows, reduced points and the
    # compared data by the same amount changes nothing but rounding at the offset's scale.
    X, Y = rng.normal(size=(200, 3)), rng.normal(size=(150, 3)) + 0.3
    near = RKMESpecification(20, random_state=0).fit(X)
    near_y = RKMESpecification(20, random_state=0).fit(Y)
    far = RKMESpecification(20, random_state=0).fit(X + offset)
    far_y = RKMESpecification(20, random_state=0).fit(Y + offset)
    # The data themselves resolve only offset * eps: 1e-9 at 1e7, 1e-6 at 1e10.
    resolution = offset * np.finfo(np.float64).eps
    assert far.gamma_ == pytest.approx(near.gamma_, rel=1e3 * resolution)
    np.testing.assert_allclose(
        far.reduced_points_ - offset, near.reduced_points_, atol=1e4 * resolution
    )
    np.testing.assert_allclose(far.weights_, near.weights_, rtol=1e4 * resolution)
    expected = _brute_mmd2(near.reduced_points_, near.weights_, X, _uniform(200), near.gamma_)
    assert far.mmd(X + offset) == pytest.approx(expected, rel=1e4 * resolution)
    assert far.mmd(far_y) == pytest.approx(near.mmd(near_y), rel=1e4 * resolution)
    assert far.mmd(far_y) > 0.01


def test_kernel_distances_of_rows_far_from_the_origin(rng):
    # The shared distance helper, on numpy and torch, against the differences squared.
    from skreuse.utils._math import sq_dists

    A, B = rng.normal(size=(6, 3)) + 1e8, rng.normal(size=(4, 3)) + 1e8
    expected = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(sq_dists(A, B), expected, rtol=1e-6)
    np.testing.assert_allclose(sq_dists(A, A[:0]), np.zeros((6, 0)))
    np.testing.assert_allclose(sq_dists(A[:0], B), np.zeros((0, 4)))
    torch = pytest.importorskip("torch")
    out = sq_dists(torch.as_tensor(A), torch.as_tensor(B))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
