"""Dask: dask arrays in LogME and RKME, and n_jobs work on a real LocalCluster via joblib."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from dask import delayed  # noqa: E402
from joblib import parallel_config  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreuse.datasets import make_hmr_toy  # noqa: E402
from skreuse.inference import NCMClassifier  # noqa: E402
from skreuse.multiparty import HMRCalibrator  # noqa: E402
from skreuse.selection import LogMESelector  # noqa: E402
from skreuse.specification import RKMEReuser, RKMESpecification  # noqa: E402
from skreuse.transferability import logme_score  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """A real cluster of two worker processes, started and stopped here."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _features(n=6000, D=20, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 4, size=n)
    F = rng.normal(size=(n, D))
    F[:, :4] += np.eye(4)[y]
    return F, y


# -- dask arrays ------------------------------------------------------------------------------


def test_logme_dask_array_equals_in_memory(client):
    F, y = _features(n=3000)
    expected = logme_score(F, y)
    for chunks in [(1000, 20), (777, 7)]:
        assert logme_score(da.from_array(F, chunks=chunks), y) == pytest.approx(expected, rel=1e-10)
    # a dask y, regression, and float32 chunks
    t = F @ np.linspace(-1, 1, 20) + np.random.RandomState(1).normal(size=F.shape[0])
    got = logme_score(da.from_array(F.astype(np.float32), chunks=(1500, 20)), da.from_array(t))
    assert got == pytest.approx(logme_score(F.astype(np.float32), t), rel=1e-10)


def test_logme_dask_bad_chunks(client):
    F, y = _features(n=400, D=5)
    with_nan = F.copy()
    with_nan[350, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        logme_score(da.from_array(with_nan, chunks=(100, 5)), y)
    # a chunk whose computed width is not the declared one
    blocks = [
        da.from_delayed(delayed(np.ones)((200, 5)), shape=(200, 5), dtype=float),
        da.from_delayed(delayed(np.ones)((200, 6)), shape=(200, 5), dtype=float),
    ]
    with pytest.raises(ValueError, match="changed width"):
        logme_score(da.concatenate(blocks), y)


def _mixture(n, seed=0):
    rng = np.random.RandomState(seed)
    half = n // 2
    return np.r_[rng.normal(size=(half, 3)), rng.normal(size=(n - half, 3)) + 2.5]


def test_rkme_fit_on_dask_array_is_as_good_as_in_memory(client):
    X = _mixture(4000)
    memory = RKMESpecification(n_reduced=20, n_iter=5, random_state=0).fit(X)
    lazy = RKMESpecification(n_reduced=20, n_iter=5, random_state=0).fit(
        da.from_array(X, chunks=(1000, 3))
    )
    assert lazy.gamma_ == pytest.approx(memory.gamma_, rel=1e-12)
    assert lazy.n_features_in_ == 3
    assert lazy.mmd(X) <= 1.1 * memory.mmd(X)
    assert lazy.mmd(X) < 1e-3


def test_rkme_dask_bad_input_leaves_nothing_fitted(client):
    X = _mixture(3000)
    bad = X.copy()
    bad[2500, 1] = np.inf
    spec = RKMESpecification(n_reduced=10, n_iter=2, random_state=0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        spec.fit(da.from_array(bad, chunks=(1000, 3)))
    assert not hasattr(spec, "reduced_points_")
    assert not hasattr(spec, "gamma_")
    blocks = [
        da.from_delayed(delayed(np.ones)((1000, 3)), shape=(1000, 3), dtype=float),
        da.from_delayed(delayed(np.zeros)((1000, 4)), shape=(1000, 3), dtype=float),
    ]
    with pytest.raises(ValueError, match="A chunk of X has shape"):
        spec.fit(da.concatenate(blocks))
    assert not hasattr(spec, "reduced_points_")
    # a fitted specification keeps its state when a later fit fails
    spec.fit(X)
    points = spec.reduced_points_.copy()
    with pytest.raises(ValueError, match="NaN or infinity"):
        spec.fit(da.from_array(bad, chunks=(1000, 3)))
    np.testing.assert_array_equal(spec.reduced_points_, points)


def test_ncm_partial_fit_over_dask_chunks_equals_fit(client):
    F, y = _features(n=3000, D=6)
    X = da.from_array(F, chunks=(700, 6))
    clf = NCMClassifier()
    bounds = np.cumsum((0, *X.chunks[0]))
    for block, start, stop in zip(X.to_delayed().ravel(), bounds[:-1], bounds[1:]):
        clf.partial_fit(block.compute(), y[start:stop], classes=np.unique(y))
    full = NCMClassifier().fit(F, y)
    np.testing.assert_allclose(clf.centroids_, full.centroids_, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(F), full.predict(F))


# -- n_jobs on the cluster through joblib -----------------------------------------------------


def _scale(Z):
    return Z * 3.0


def test_logme_selector_on_cluster_equals_serial(client):
    F, y = _features(n=2000, D=8)
    rng = np.random.RandomState(0)
    W = rng.normal(size=(8, 12))
    candidates = [
        ("proj", StandardScaler().fit(F @ W)),
        ("scaled", _scale),
    ]
    X = F @ W
    candidates.append(("logistic", LogisticRegression(max_iter=300).fit(X[:500], y[:500])))
    serial = LogMESelector(candidates, top_k=2, n_jobs=1).fit(X, y)
    with parallel_config(backend="dask"):
        parallel = LogMESelector(candidates, top_k=2, n_jobs=2).fit(X, y)
    assert parallel.scores_ == serial.scores_
    assert parallel.ranking_ == serial.ranking_
    np.testing.assert_array_equal(parallel.predict_proba(X), serial.predict_proba(X))


def test_rkme_reuser_on_cluster_equals_serial(client):
    rng = np.random.RandomState(0)
    zoo = []
    for k, shift in enumerate([0.0, 3.0, -3.0]):
        X = rng.normal(size=(300, 2)) + shift
        y = (X[:, 0] > shift).astype(int) + 2 * k
        model = LogisticRegression().fit(X, y)
        zoo.append((f"m{k}", model, RKMESpecification(n_reduced=10, random_state=0).fit(X)))
    Xu = np.r_[rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 3.0]
    params = {"job_selector": LogisticRegression(), "n_samples": 600, "random_state": 0}
    serial = RKMEReuser(zoo, n_jobs=1, **params).fit(Xu)
    with parallel_config(backend="dask"):
        parallel = RKMEReuser(zoo, n_jobs=2, **params).fit(Xu)
        proba = parallel.predict_proba(Xu)
    assert parallel.mixture_weights_ == serial.mixture_weights_
    np.testing.assert_array_equal(proba, serial.predict_proba(Xu))
    np.testing.assert_array_equal(parallel.predict(Xu), serial.predict(Xu))


def test_hmr_calibrator_on_cluster_equals_serial(client):
    task = make_hmr_toy(n_train=300, n_test=200, random_state=0)
    parties = [(f"p{k}", LogisticRegression()) for k in range(3)]

    def fit(n_jobs):
        return HMRCalibrator(parties, max_iter=5, random_state=0, n_jobs=n_jobs).fit(
            task.X_train, task.y_train, groups=task.groups
        )

    serial = fit(1)
    with parallel_config(backend="dask"):
        parallel = fit(2)
    np.testing.assert_array_equal(parallel.history_, serial.history_)
    assert parallel.n_communicated_ == serial.n_communicated_
    np.testing.assert_array_equal(parallel.predict(task.X_test), serial.predict(task.X_test))
