"""Scaling past memory: LogME from sufficient statistics, streamed selection, chunked NCM."""

import numpy as np
import pytest
from test_logme_selector import _ranking_logme
from test_transferability import _slow_logme_column as _slow_logme_column_and_mean

from skreuse.transferability import _logme_fit, logme_score, logme_score_from_stats

# -- an independent, slow LogME (the textbook D x D fixed point) ------------------------------


def _slow_logme_column(F, y):
    """The textbook evidence per sample (D x D solves and slogdet), from the LogME tests."""
    return _slow_logme_column_and_mean(F, y)[0]


def _data(n=600, D=12, n_classes=3, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, n_classes, size=n)
    F = rng.normal(size=(n, D))
    F[:, :n_classes] += 1.2 * np.eye(n_classes)[y]
    return F, y


def _chunked_stats(F, Y, n_chunks=5):
    gram = np.zeros((F.shape[1], F.shape[1]))
    cross = np.zeros((F.shape[1], Y.shape[1]))
    target = np.zeros((Y.shape[1], Y.shape[1]))
    for rows in np.array_split(np.arange(F.shape[0]), n_chunks):
        gram += F[rows].T @ F[rows]
        cross += F[rows].T @ Y[rows]
        target += Y[rows].T @ Y[rows]
    return gram, cross, target


# -- LogME from statistics --------------------------------------------------------------------


def test_logme_from_stats_equals_full_matrix_and_slow_formula():
    F, y = _data()
    Y = np.eye(3)[y]
    gram, cross, target = _chunked_stats(F, Y)
    full = logme_score(F, y)
    assert logme_score_from_stats(gram, cross, target, F.shape[0]) == pytest.approx(full, rel=1e-10)
    # the diagonal of Y^T Y is enough
    assert logme_score_from_stats(gram, cross, np.diag(target), F.shape[0]) == pytest.approx(
        full, rel=1e-10
    )
    slow = np.mean([_slow_logme_column(F, Y[:, j]) for j in range(3)])
    assert full == pytest.approx(slow, rel=1e-6)


def test_logme_from_stats_regression_one_output():
    rng = np.random.RandomState(2)
    F = rng.normal(size=(300, 6))
    t = F @ rng.normal(size=6) + 0.3 * rng.normal(size=300)
    score = logme_score_from_stats(F.T @ F, F.T @ t, t @ t, 300)
    assert score == pytest.approx(logme_score(F, t), rel=1e-10)
    assert score == pytest.approx(_slow_logme_column(F, t), rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gram": np.ones((3, 2))}, "square"),
        ({"cross": np.ones((4, 2))}, "cross must have shape"),
        ({"target_gram": np.ones(3)}, "must match"),
        ({"target_gram": np.array([1.0, 0.0])}, "non-positive"),
        ({"n_samples": 2}, "smaller than n_features"),
        ({"gram": np.full((3, 3), np.inf)}, "infinity"),
    ],
)
def test_logme_from_stats_errors(kwargs, match):
    args = {
        "gram": np.eye(3),
        "cross": np.ones((3, 2)),
        "target_gram": np.array([2.0, 3.0]),
        "n_samples": 10,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        logme_score_from_stats(**args)


# -- scale and precision (issue 15) -----------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-10, 1e-150, 1e-300, 1e150, 1e300])
def test_logme_any_feature_scale_gives_the_same_score(scale):
    F, y = _data(200, 10)
    base = logme_score(F, y)
    assert logme_score(F * scale, y) == pytest.approx(base, rel=1e-9)
    # n < D too; the iteration starts elsewhere at extreme scales, so the two stop at
    # different iterates within the fixed point's tolerance (1e-8 on alpha / beta)
    assert logme_score(F[:8] * scale, y[:8]) == pytest.approx(logme_score(F[:8], y[:8]), rel=1e-7)


@pytest.mark.parametrize("scale", [1e-150, 1e-300, 1e150, 1e300])
def test_logme_target_scale_shifts_the_score_by_log_scale(scale):
    # y = c y' divides the density by c^n: the per-sample evidence moves by -log(c), exactly.
    F, _ = _data(200, 10)
    t = F @ np.random.RandomState(1).normal(size=10) + np.random.RandomState(2).normal(size=200)
    base = logme_score(F, t)
    scaled = logme_score(F, t * scale, task="regression")
    assert np.isfinite(scaled)
    assert scaled + np.log(scale) == pytest.approx(base, rel=1e-9, abs=1e-9)


def test_logme_float32_features_accumulate_in_float64():
    # Rank-deficient ReLU features (dead units, width 512 from 64 inputs): in a float32
    # Gram matrix the tiny directions drown in rounding; accumulated in float64 the float32
    # features give the score of the same numbers in float64.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4000, 64))
    F = np.maximum(X @ rng.normal(size=(64, 512)), 0).astype(np.float32)
    F[:, :100] = 0
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    as64 = logme_score(F.astype(np.float64), y)
    assert logme_score(F, y) == pytest.approx(as64, rel=1e-10)
    _, result, _ = _logme_fit(F, y)
    assert result["coef"].dtype == np.float64


def test_logme_float32_tensor_accumulates_in_float64():
    torch = pytest.importorskip("torch")
    F, y = _data(300, 20)
    F32 = F.astype(np.float32)
    expected = logme_score(F32.astype(np.float64), y)
    assert logme_score(torch.as_tensor(F32), y) == pytest.approx(expected, rel=1e-10)


# -- LogMESelector: one streamed pass per candidate -------------------------------------------


def _torch_candidates(n_in=8, widths=(4, 16, 6), seed=0):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    return [
        (f"net{w}", torch.nn.Sequential(torch.nn.Linear(n_in, w), torch.nn.ReLU())) for w in widths
    ]


def _count_rows(candidates):
    counts = {name: 0 for name, _ in candidates}
    handles = []
    for name, module in candidates:

        def hook(mod, inputs, output, name=name):
            counts[name] += inputs[0].shape[0]

        handles.append(module.register_forward_hook(hook))
    return counts, handles


@pytest.mark.parametrize(
    ("estimator", "top_k"),
    [(None, 1), (None, 2), ("logistic", 1)],
    ids=["bayes-top1", "bayes-top2", "estimator"],
)
def test_selector_runs_each_candidate_once_per_row(estimator, top_k):
    from sklearn.linear_model import LogisticRegression

    from skreuse.selection import LogMESelector

    candidates = _torch_candidates()
    rng = np.random.RandomState(0)
    X = rng.normal(size=(5000, 8)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    counts, handles = _count_rows(candidates)
    head = LogisticRegression(max_iter=500) if estimator else None
    try:
        LogMESelector(candidates, estimator=head, top_k=top_k, batch_size=512).fit(X, y)
    finally:
        for h in handles:
            h.remove()
    assert counts == {name: X.shape[0] for name, _ in candidates}


def test_selector_leep_runs_torch_candidates_once_per_row():
    from skreuse.selection import LogMESelector
    from skreuse.transferability import leep_score
    from skreuse.utils._features import extract_features

    candidates = _torch_candidates()
    X = np.random.RandomState(1).normal(size=(600, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    counts, handles = _count_rows(candidates)
    try:
        selector = LogMESelector(candidates, metric="leep").fit(X, y)
    finally:
        for h in handles:
            h.remove()
    assert counts == {name: X.shape[0] for name, _ in candidates}
    for name, model in candidates:
        proba = extract_features(model, X, output="proba")
        assert selector.scores_[name] == pytest.approx(leep_score(proba, y), rel=1e-12)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_streamed_selector_equals_full_matrix_head(task):
    # The streamed statistics give the same scores and the same Bayesian head as LogME on
    # the full feature matrix (the old path).
    from skreuse.selection import LogMESelector
    from skreuse.selection._logme_selector import _BayesianLinearHead

    rng = np.random.RandomState(3)
    X = rng.normal(size=(7000, 10))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    if task == "regression":
        y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=7000)
    W = rng.normal(size=(10, 30))
    candidates = [("relu", lambda Z: np.maximum(Z @ W, 0)), ("raw", lambda Z: Z * 1.0)]
    y_before = y.copy()
    selector = LogMESelector(candidates, batch_size=1000).fit(X, y)
    np.testing.assert_array_equal(y, y_before)
    for name, model in candidates:
        expected = _ranking_logme(model(X), y)[0] if task == "classification" else None
        expected = logme_score(model(X), y) if expected is None else expected
        assert selector.scores_[name] == pytest.approx(expected, rel=1e-10)
    best = dict(candidates)[selector.selected_[0]]
    full = _BayesianLinearHead().fit(best(X), y)
    np.testing.assert_allclose(selector.estimator_.coef_, full.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        selector.estimator_.intercept_, full.intercept_, rtol=1e-9, atol=1e-12
    )
    if task == "classification":
        assert selector.estimator_.temperature_ == pytest.approx(full.temperature_, rel=1e-6)
    if task == "classification":
        np.testing.assert_array_equal(selector.predict(X), full.predict(best(X)))
    else:
        np.testing.assert_allclose(selector.predict(X), full.predict(best(X)), rtol=1e-9)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("offset", [10.0, 1e7])
def test_streamed_head_of_features_far_from_the_origin(task, offset):
    # The head's centred statistics come from the raw ones (a sum of squares less the
    # square of the sum): a column of mean 1e7 and spread 1 loses 14 of 16 digits there,
    # so the head is then fitted on the features (a second pass, centred exactly); at a
    # mean of 10 the statistics serve. Either way the head is the one of the features.
    from skreuse.selection import LogMESelector
    from skreuse.selection._logme_selector import (
        _BayesianLinearHead,
        _posterior_from_statistics,
    )

    rng = np.random.RandomState(4)
    X = rng.normal(size=(5000, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    if task == "regression":
        y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=5000)
    shift = np.array([offset, 0.0, 0.0, -offset])
    passes = []

    def far(Z):
        passes.append(len(Z))
        return Z + shift

    selector = LogMESelector([("far", far)], batch_size=1000).fit(X, y)
    # One pass (in chunks) to score, and a second for the head only when centring is lossy.
    assert sum(passes) == len(X) * (2 if offset > 1e3 else 1)
    full = _BayesianLinearHead().fit(X + shift, y)
    np.testing.assert_allclose(selector.estimator_.coef_, full.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(selector.predict(X), full.predict(X + shift), rtol=1e-9)
    F = X + shift
    Y = y[:, None] if task == "regression" else np.eye(3)[y]
    stats = (F.T @ F, F.T @ Y, (Y**2).sum(axis=0), F.sum(axis=0), Y.sum(axis=0), len(F), 0)
    posterior = _posterior_from_statistics(*stats, [0] * Y.shape[1])
    assert (posterior is None) == (offset > 1e3)


def test_bayesian_head_temperature_from_evenly_spaced_rows():
    from skreuse.selection._logme_selector import _TEMPERATURE_MIN_ROWS, _temperature_rows

    assert np.array_equal(_temperature_rows(100, 512), np.arange(100))
    n = 10 * _TEMPERATURE_MIN_ROWS + 7
    rows = _temperature_rows(n, 512)
    assert rows.shape == (_TEMPERATURE_MIN_ROWS,)
    assert rows[0] == 0
    assert rows[-1] == n - 1
    assert np.all(np.diff(rows) > 0)
    # narrow features: more rows for the same memory
    assert _temperature_rows(n, 16).shape == (n,)


def test_selector_small_n_keeps_the_full_matrix_path():
    # n < D: the statistics do not determine LogME; the features are scored as a whole.
    from skreuse.selection import LogMESelector

    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 5))
    y = np.arange(40) % 3
    W = rng.normal(size=(5, 80))
    selector = LogMESelector([("wide", lambda Z: Z @ W)]).fit(X, y)
    assert selector.scores_["wide"] == pytest.approx(_ranking_logme(X @ W, y)[0], rel=1e-12)


def test_selector_bad_candidates_leave_nothing_fitted():
    from skreuse.selection import LogMESelector

    X = np.random.RandomState(0).normal(size=(5000, 4))
    y = (X[:, 0] > 0).astype(int)

    calls = []

    def changing_width(Z):
        calls.append(Z.shape[0])
        return Z if len(calls) == 1 else np.c_[Z, Z]

    def nan_features(Z):
        out = Z.copy()
        out[-1, 0] = np.nan
        return out

    good = ("good", lambda Z: Z * 2.0)
    for bad, match in [(changing_width, "changed its output width"), (nan_features, "NaN")]:
        selector = LogMESelector([good, ("bad", bad)])
        with pytest.raises(ValueError, match=match):
            selector.fit(X, y)
        assert not hasattr(selector, "scores_")
        assert not hasattr(selector, "estimator_")


def test_iter_feature_batches_errors_and_forwarding():
    from skreuse.utils._features import iter_feature_batches

    X = np.arange(20.0).reshape(10, 2)
    chunks = list(iter_feature_batches(lambda Z: Z + 1, X, chunk_size=4))
    assert [(a, b) for a, b, _ in chunks] == [(0, 4), (4, 8), (8, 10)]
    np.testing.assert_array_equal(np.vstack([f for _, _, f in chunks]), X + 1)
    with pytest.raises(TypeError, match="iterator"):
        list(iter_feature_batches(lambda Z: Z, iter(X)))
    with pytest.raises(ValueError, match="no rows"):
        list(iter_feature_batches(lambda Z: Z, X[:0]))
    with pytest.raises(ValueError, match="one row per input row"):
        list(iter_feature_batches(lambda Z: Z[:1], X, chunk_size=4))
    # a DataFrame is sliced by position, whatever its index
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, index=np.arange(10)[::-1] * 7, columns=["a", "b"])
    got = np.vstack([f for _, _, f in iter_feature_batches(np.asarray, frame, chunk_size=3)])
    np.testing.assert_array_equal(got, X)
    # keyword arguments reach extract_features
    with pytest.raises(ValueError, match="output must be"):
        list(iter_feature_batches(lambda Z: Z, X, output="logits"))


# -- NCMClassifier: chunked prediction --------------------------------------------------------


def _ncm_data(n=3000, d=16, n_classes=12, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    centers = 3 * rng.normal(size=(n_classes, d))
    y = rng.randint(0, n_classes, size=n)
    return (centers[y] + rng.normal(size=(n, d))).astype(dtype), y


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("normalize", [None, "l2"])
def test_ncm_chunked_prediction_equals_one_chunk(monkeypatch, metric, normalize):
    from skreuse.inference import NCMClassifier, _ncm

    X, y = _ncm_data()
    clf = NCMClassifier(metric=metric, normalize=normalize, temperature=0.7).fit(X, y)
    whole = {m: getattr(clf, m)(X) for m in ("predict", "predict_proba", "decision_function")}
    monkeypatch.setattr(_ncm, "_PREDICT_CHUNK_ENTRIES", 12 * 7)  # 7 rows per chunk
    for method, expected in whole.items():
        np.testing.assert_array_equal(getattr(clf, method)(X), expected)
    # the distances written the slow way
    F = X / np.linalg.norm(X, axis=1, keepdims=True) if normalize else X
    if metric == "euclidean":
        dist = ((F[:, None, :] - clf.centroids_[None, :, :]) ** 2).sum(-1)
    else:
        C = clf.centroids_ / np.linalg.norm(clf.centroids_, axis=1, keepdims=True)
        dist = 1 - (F / np.linalg.norm(F, axis=1, keepdims=True)) @ C.T
    np.testing.assert_allclose(whole["decision_function"], -dist / 0.7, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(whole["predict"], clf.classes_[dist.argmin(axis=1)])


def test_ncm_float32_stays_float32_with_float64_means():
    from sklearn.neighbors import NearestCentroid

    from skreuse.inference import NCMClassifier

    X, y = _ncm_data(dtype=np.float32)
    clf = NCMClassifier().fit(X, y)
    assert clf.class_sums_.dtype == np.float64
    np.testing.assert_allclose(
        clf.centroids_,
        np.array([X[y == c].astype(np.float64).mean(axis=0) for c in clf.classes_]),
        rtol=1e-12,
    )
    F = clf._features(X, None, dtype=None)
    assert F.dtype == np.float32
    np.testing.assert_array_equal(clf.predict(X), NearestCentroid().fit(X, y).predict(X))
    as64 = NCMClassifier().fit(X.astype(np.float64), y)
    np.testing.assert_array_equal(clf.predict(X), as64.predict(X.astype(np.float64)))
    np.testing.assert_allclose(
        clf.predict_proba(X), as64.predict_proba(X.astype(np.float64)), atol=1e-4
    )


def test_ncm_prediction_memory_is_bounded():
    import tracemalloc

    from skreuse.inference import NCMClassifier

    X, y = _ncm_data(n=40_000, d=32, n_classes=200, dtype=np.float32)
    clf = NCMClassifier().fit(X, y)
    tracemalloc.start()
    clf.predict(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # The whole 40 000 x 200 float64 distance matrix would be 61 MiB.
    assert peak < 20 * 2**20


def test_head_column_sums_of_a_tensor_are_summed_in_float64():
    torch = pytest.importorskip("torch")
    from skreuse.selection._logme_selector import _column_sums

    F = np.random.RandomState(0).normal(size=(50, 3)).astype(np.float32) + 1e4
    expected = F.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(_column_sums(torch.from_numpy(F)), expected, rtol=1e-15)
    np.testing.assert_allclose(_column_sums(F), expected, rtol=1e-15)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-100, 1e100, 1e200])
def test_streamed_classification_head_at_any_scale_of_the_features(scale):
    # The ranking's constant column follows the features' scale, so the statistics are
    # rescaled with them (next to a column of ones, features of 1e-200 were not, their
    # products underflowed, and the head predicted one class). At every scale the head
    # predicts as on features of unit scale.
    import warnings

    from skreuse.selection import LogMESelector

    rng = np.random.RandomState(5)
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    base = LogMESelector([("f", lambda Z: Z * 1.0)], batch_size=1000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scaled = LogMESelector([("f", lambda Z: Z * scale)], batch_size=1000).fit(X, y)
    assert scaled.scores_["f"] == pytest.approx(base.scores_["f"], rel=1e-9)
    np.testing.assert_array_equal(scaled.predict(X), base.predict(X))
    np.testing.assert_allclose(scaled.predict_proba(X), base.predict_proba(X), atol=1e-9)


def test_ranking_constant_set_exactly_when_the_first_block_is_zero():
    # The constant column starts at the scale of the first block; all zeros there and
    # features of 1e200 after it, its square underflowed in the statistics: it is set,
    # not scaled, and the score is that of the same rows at unit scale.
    from skreuse.selection import LogMESelector

    rng = np.random.RandomState(0)
    X = rng.normal(size=(6000, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    X[:2048] = 0.0
    unit = LogMESelector([("f", lambda Z: Z * 1.0)], batch_size=1000).fit(X, y)
    huge = LogMESelector([("f", lambda Z: Z * 1e200)], batch_size=1000).fit(X, y)
    assert huge.scores_["f"] == pytest.approx(unit.scores_["f"], rel=1e-9)
    np.testing.assert_array_equal(huge.predict(X), unit.predict(X))
