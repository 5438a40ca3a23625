"""Transferability scores against independent computations written from the papers' formulas."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau
from sklearn.covariance import LedoitWolf
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.random_projection import GaussianRandomProjection

from skreuse.transferability import (
    _logme_fit,
    gbc_score,
    hscore,
    leep_score,
    logme_score,
    nce_score,
    regularized_hscore,
    transrate,
)

# -- an independent, slow LogME ---------------------------------------------------------------


def _slow_logme_evidence(F, y, alpha, beta):
    """The log evidence at (alpha, beta), the textbook formula (not divided by n)."""
    n, D = F.shape
    A = alpha * np.eye(D) + beta * F.T @ F
    m = beta * np.linalg.solve(A, F.T @ y)
    return (
        D / 2 * np.log(alpha)
        + n / 2 * np.log(beta)
        - 0.5 * np.linalg.slogdet(A)[1]
        - beta / 2 * np.sum((F @ m - y) ** 2)
        - alpha / 2 * m @ m
        - n / 2 * np.log(2 * np.pi)
    )


def _slow_logme_column(F, y, tol=1e-8, max_iter=1000):
    """MacKay's fixed point on the D x D system, evidence evaluated with slogdet.

    Same stopping rule as the library (relative change of alpha / beta), so both stop at
    the same iterate; everything else is the textbook formula.
    """
    evidence, m, _, _ = _slow_logme_hyperparameters(F, y, tol=tol, max_iter=max_iter)
    return evidence, m


def _slow_logme_hyperparameters(F, y, tol=1e-8, max_iter=1000):
    """:func:`_slow_logme_column` that also returns the fitted ``alpha`` and ``beta``."""
    n, D = F.shape
    FtF, Fty = F.T @ F, F.T @ y
    sigma = np.linalg.eigvalsh(FtF)
    alpha = beta = 1.0
    for _ in range(max_iter):
        m = beta * np.linalg.solve(alpha * np.eye(D) + beta * FtF, Fty)
        gamma = np.sum(beta * sigma / (alpha + beta * sigma))
        t = alpha / beta
        alpha, beta = gamma / (m @ m), (n - gamma) / np.sum((F @ m - y) ** 2)
        if abs(alpha / beta - t) <= tol * t:
            break
    m = beta * np.linalg.solve(alpha * np.eye(D) + beta * FtF, Fty)
    return _slow_logme_evidence(F, y, alpha, beta) / n, m, alpha, beta


def _slow_logme(F, Y):
    results = [_slow_logme_column(F, Y[:, j]) for j in range(Y.shape[1])]
    return np.mean([e for e, _ in results]), np.array([m for _, m in results])


def _classification_data(n, D, n_classes=4, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, n_classes, size=n)
    F = rng.normal(size=(n, D))
    F[:, :n_classes] += 1.5 * np.eye(n_classes)[y]
    return F, y


@pytest.mark.parametrize(("n", "D"), [(150, 20), (30, 60)], ids=["n>D", "n<D"])
def test_logme_classification_matches_slow_formula(n, D):
    F, y = _classification_data(n, D)
    score, result, task = _logme_fit(F, y)
    expected, coef = _slow_logme(F, np.eye(4)[y])
    assert task == "classification"
    assert score == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(result["coef"], coef, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize(("n", "D"), [(150, 20), (30, 60)], ids=["n>D", "n<D"])
def test_logme_multioutput_regression_matches_slow_formula(n, D):
    rng = np.random.RandomState(1)
    F = rng.normal(size=(n, D))
    Y = F[:, :3] @ rng.normal(size=(3, 3)) + 0.5 * rng.normal(size=(n, 3))
    score, result, task = _logme_fit(F, Y)
    expected, coef = _slow_logme(F, Y)
    assert task == "regression"
    assert score == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(result["coef"], coef, rtol=1e-5, atol=1e-9)
    # 1-D regression target = one column
    one = logme_score(F, Y[:, 0])
    assert one == pytest.approx(_slow_logme_column(F, Y[:, 0])[0], rel=1e-6)


def test_logme_rank_deficient_keeps_the_log_alpha_term():
    # Zero and duplicated columns do not change the model's marginal likelihood: the
    # reference code's missing (D - rank) log(alpha) term would change the score.
    F, y = _classification_data(40, 10)
    base = logme_score(F, y)
    assert logme_score(np.c_[F, np.zeros((40, 30))], y) == pytest.approx(base, rel=1e-8)
    assert logme_score(np.c_[F, F, F], y) == pytest.approx(base, rel=1e-8)
    # n < D (rank = n): agrees with the full-determinant formula
    F, y = _classification_data(20, 50)
    assert logme_score(F, y) == pytest.approx(_slow_logme(F, np.eye(4)[y])[0], rel=1e-6)


@pytest.mark.parametrize("scale", [1e-4, 1e4])
def test_logme_does_not_depend_on_feature_scale(scale):
    F, y = _classification_data(100, 8)
    assert logme_score(scale * F, y) == pytest.approx(logme_score(F, y), rel=1e-7)


def test_logme_label_permutation_and_type_invariance():
    F, y = _classification_data(120, 10)
    base = logme_score(F, y)
    perm = np.array([2, 0, 3, 1])
    assert logme_score(F, perm[y]) == pytest.approx(base, rel=1e-12)
    assert logme_score(F, np.array(["d", "a", "c", "b"])[y]) == pytest.approx(base, rel=1e-12)
    # labels need not be 0..C-1: absent labels do not count as (empty) classes
    assert logme_score(F, 10 * y + 7) == pytest.approx(base, rel=1e-12)
    assert logme_score(F, y.astype(np.int8)) == pytest.approx(base)
    # floating labels are regression values unless told otherwise
    as_float = y.astype(float)
    assert logme_score(F, as_float, task="classification") == pytest.approx(base, rel=1e-12)
    assert logme_score(F, as_float) == pytest.approx(logme_score(F, as_float, task="regression"))


def test_logme_task_argument():
    rng = np.random.RandomState(0)
    F = rng.normal(size=(60, 4))
    y = rng.randint(0, 3, size=60)
    as_regression = logme_score(F, y, task="regression")
    assert as_regression == pytest.approx(_slow_logme_column(F, y.astype(float))[0], rel=1e-6)
    assert logme_score(F, y, task="classification") == pytest.approx(logme_score(F, y))


def test_logme_informative_features_score_higher():
    F, y = _classification_data(200, 6)
    rng = np.random.RandomState(3)
    assert logme_score(F, y) > logme_score(rng.normal(size=F.shape), y)


def test_logme_unexplained_column_takes_alpha_infinity_limit():
    # Features orthogonal to the target: the evidence is that of y ~ N(0, ||y||^2 / n).
    F = np.zeros((6, 2))
    F[:3, 0] = [1.0, -1.0, 0.0]
    F[:3, 1] = [0.0, 1.0, -1.0]
    y = np.array([0.0, 0.0, 0.0, 1.0, -2.0, 0.5])
    score, result, _ = _logme_fit(F, y, task="regression")
    n, y2 = 6, y @ y
    expected = 0.5 * np.log(n / y2) - 0.5 - 0.5 * np.log(2 * np.pi)
    assert score == pytest.approx(expected, rel=1e-12)
    assert np.isinf(result["alpha"][0])
    np.testing.assert_array_equal(result["coef"], 0.0)


def test_logme_backend_equals_numpy(backend):
    torch = pytest.importorskip("torch")
    F, y = _classification_data(80, 12)
    expected = logme_score(F, y)
    device = "cpu" if backend == "cpu" else backend
    F_t = torch.as_tensor(F, dtype=torch.float64, device=device)
    assert logme_score(F_t, y) == pytest.approx(expected, rel=1e-10)
    assert logme_score(F_t, torch.as_tensor(y)) == pytest.approx(expected, rel=1e-10)
    # float32 keeps the Gram matrix in float32: close, not equal
    assert logme_score(F_t.float(), y) == pytest.approx(expected, rel=1e-4)
    _, result, _ = _logme_fit(F_t, y)
    assert result["coef"].device == F_t.device


def test_logme_float32_numpy_close_to_float64():
    F, y = _classification_data(300, 50)
    assert logme_score(F.astype(np.float32), y) == pytest.approx(logme_score(F, y), rel=1e-4)


@pytest.mark.parametrize(
    ("features", "y", "match"),
    [
        (np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0]]), [0, 1, 0], "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0], [1.0, 1.0]]), [0, 1, 0], "infinity"),
        (np.ones((4, 2)), [0, 1, 0], "y has 3 samples but features has 4"),
        (np.ones((4, 2)), [1, 1, 1, 1], "at least 2 classes"),
        (np.ones(4), [0, 1, 0, 1], "2D array"),
    ],
)
def test_logme_errors(features, y, match):
    with pytest.raises(ValueError, match=match):
        logme_score(features, y)


def test_logme_parameter_errors():
    with pytest.raises(ValueError, match="identically zero"):
        logme_score(np.eye(3), np.c_[np.zeros(3), np.ones(3)], task="regression")
    with pytest.raises(ValueError, match="task"):
        logme_score(np.eye(3), [0, 1, 0], task="ranking")


# -- property tests ---------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 30),
    D=st.integers(1, 40),
    n_classes=st.integers(2, 4),
    n_constant=st.integers(0, 3),
    duplicate=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_logme_property_finite_with_degenerate_features(
    n, D, n_classes, n_constant, duplicate, seed
):
    rng = np.random.RandomState(seed)
    n_classes = min(n_classes, n)
    y = np.r_[np.arange(n_classes), rng.randint(0, n_classes, size=n - n_classes)]
    F = rng.normal(size=(n, D))
    F = np.c_[F, np.full((n, n_constant), 3.0)]
    if duplicate:
        F = np.c_[F, F[:, :1]]
    score, result, _ = _logme_fit(F, y)
    assert np.isfinite(score)
    assert result["coef"].shape == (n_classes, F.shape[1])
    assert np.all(np.isfinite(result["coef"]))
    assert np.all(result["beta"] > 0)


@settings(max_examples=20, deadline=None)
@given(n_classes=st.integers(2, 6), D=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_logme_property_one_sample_per_class(n_classes, D, seed):
    F = np.random.RandomState(seed).normal(size=(n_classes, D))
    score = logme_score(F, np.arange(n_classes))
    assert np.isfinite(score)
    assert logme_score(F, np.arange(n_classes)[::-1]) == pytest.approx(score, rel=1e-9)


# -- LEEP, NCE, H-score, TransRate against direct formulas ------------------------------------


def _source_proba(n, n_source, seed):
    rng = np.random.RandomState(seed)
    logits = rng.normal(size=(n, n_source)) * 2
    proba = np.exp(logits)
    return proba / proba.sum(axis=1, keepdims=True)


def test_leep_matches_direct_formula():
    proba = _source_proba(60, 5, 0)
    y = np.random.RandomState(1).randint(0, 3, size=60)
    n = 60
    joint = np.zeros((3, 5))
    for i in range(n):
        joint[y[i]] += proba[i] / n
    cond = joint / joint.sum(axis=0)  # P(y | z)
    expected = np.mean(
        [np.log(sum(cond[y[i], z] * proba[i, z] for z in range(5))) for i in range(n)]
    )
    assert leep_score(proba, y) == pytest.approx(expected, rel=1e-12)
    assert leep_score(proba, np.array(["a", "b", "c"])[y]) == pytest.approx(expected, rel=1e-12)


def test_leep_errors():
    with pytest.raises(ValueError, match="sum to 1"):
        leep_score(np.ones((3, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match="y has 2 samples but source_proba has 3"):
        leep_score(np.full((3, 2), 0.5), [0, 1])


def test_nce_matches_direct_formula():
    rng = np.random.RandomState(0)
    z = rng.randint(0, 4, size=80)
    y = (z + rng.randint(0, 2, size=80)) % 3
    expected = 0.0
    for a in range(4):
        for b in range(3):
            p_ab = np.mean((z == a) & (y == b))
            if p_ab > 0:
                expected += p_ab * np.log(p_ab / np.mean(z == a))
    assert nce_score(z, y) == pytest.approx(expected, rel=1e-12)
    assert nce_score(np.array(list("wxyz"))[z], y + 5) == pytest.approx(expected, rel=1e-12)
    assert nce_score(y, y) == 0.0


def _direct_hscore(F, y):
    cov_f = np.cov(F, rowvar=False)
    g = np.zeros_like(F)
    for c in np.unique(y):
        g[y == c] = F[y == c].mean(axis=0)
    cov_g = np.cov(g, rowvar=False)
    return np.trace(np.linalg.pinv(cov_f, rcond=1e-15) @ cov_g)


def test_hscore_matches_direct_formula():
    F, y = _classification_data(90, 6, n_classes=3)
    assert hscore(F, y) == pytest.approx(_direct_hscore(F, y), rel=1e-9)
    assert 0 < hscore(F, y) <= 2 + 1e-9  # at most min(D, C - 1)


def test_regularized_hscore_matches_direct_formula():
    F, y = _classification_data(90, 6, n_classes=3)
    lw = LedoitWolf().fit(F)
    g = np.zeros_like(F)
    for c in np.unique(y):
        g[y == c] = F[y == c].mean(axis=0)
    g -= g.mean(axis=0)
    cov_g = g.T @ g / F.shape[0]
    expected = np.trace(np.linalg.inv(lw.covariance_) @ ((1 - lw.shrinkage_) * cov_g))
    assert regularized_hscore(F, y) == pytest.approx(expected, rel=1e-9)


def test_transrate_matches_direct_formula():
    F, y = _classification_data(90, 6, n_classes=3)

    def rate(Z, eps=1e-4):
        n, d = Z.shape
        return 0.5 * np.linalg.slogdet(np.eye(d) + Z.T @ Z / (n * eps))[1]

    Z = F - F.mean(axis=0)
    expected = rate(Z) - np.mean([rate(Z[y == c]) for c in range(3)])
    assert transrate(F, y) == pytest.approx(expected, rel=1e-9)
    # fewer rows in a class than features: the small-side determinant agrees
    F, y = _classification_data(12, 30, n_classes=3)
    Z = F - F.mean(axis=0)
    expected = rate(Z) - np.mean([rate(Z[y == c]) for c in range(3)])
    assert transrate(F, y) == pytest.approx(expected, rel=1e-9)


def test_gbc_matches_direct_formula():
    F, y = _classification_data(90, 5, n_classes=3)
    stats = [(F[y == c].mean(axis=0), F[y == c].var(axis=0)) for c in range(3)]
    expected = 0.0
    for i in range(3):
        for j in range(3):
            if i == j:
                continue
            (mi, vi), (mj, vj) = stats[i], stats[j]
            v = (vi + vj) / 2
            d = np.sum((mi - mj) ** 2 / v) / 8 + 0.5 * np.log(
                np.prod(v) / np.sqrt(np.prod(vi) * np.prod(vj))
            )
            expected -= np.exp(-d)
    assert gbc_score(F, y) == pytest.approx(expected, rel=1e-10)
    assert gbc_score(F, np.array(["x", "y", "z"])[y]) == pytest.approx(expected, rel=1e-12)
    # a feature constant within a class stays finite
    F[y == 0, 0] = 1.0
    assert np.isfinite(gbc_score(F, y))


def test_feature_scores_accept_tensors_and_reject_bad_input():
    torch = pytest.importorskip("torch")
    F, y = _classification_data(50, 5, n_classes=3)
    for score in (hscore, regularized_hscore, transrate, gbc_score):
        assert score(torch.as_tensor(F), y) == pytest.approx(score(F, y), rel=1e-12)
        with pytest.raises(ValueError, match="at least 2 classes"):
            score(F, np.zeros(50))
    assert leep_score(torch.as_tensor(_source_proba(50, 4, 0)), y) == pytest.approx(
        leep_score(_source_proba(50, 4, 0), y)
    )


# -- a realistic ranking: LogME vs the accuracy of a head on each feature extractor -----------


def _hidden_layer(mlp):
    def features(X):
        return np.maximum(X @ mlp.coefs_[0] + mlp.intercepts_[0], 0.0)

    return features


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_logme_ranking_correlates_with_head_accuracy_on_digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.RandomState(0)
    order = rng.permutation(len(y))
    source, target = order[:900], order[900:1500]
    Xs, ys, Xt, yt = X[source], y[source], X[target], y[target]
    zoo = {}
    for k in (2, 4, 8, 16, 32):
        zoo[f"pca{k}"] = PCA(n_components=k, random_state=0).fit(Xs).transform
    for k in (8, 32):
        zoo[f"random{k}"] = GaussianRandomProjection(k, random_state=0).fit(Xs).transform
    # MLPs trained on related source tasks: parity, "digit < 5", and the 10 classes
    source_tasks = [("parity", lambda v: v % 2), ("small", lambda v: v < 5), ("digits", None)]
    for name, target_fn in source_tasks:
        labels = ys if target_fn is None else target_fn(ys)
        mlp = MLPClassifier((32,), max_iter=300, random_state=0).fit(Xs, labels)
        zoo[f"mlp_{name}"] = _hidden_layer(mlp)
    logme, accuracy = [], []
    for extract in zoo.values():
        F = extract(Xt)
        logme.append(logme_score(F, yt))
        head = LogisticRegression(max_iter=500)
        accuracy.append(cross_val_score(head, F, yt, cv=3).mean())
    tau, p_value = kendalltau(logme, accuracy)
    print(f"Kendall tau(LogME, head accuracy), {len(zoo)} extractors: {tau:.3f} (p={p_value:.1e})")
    # For 10 extractors, tau > 0.5 rejects "unrelated rankings" at the 5% level (one-sided);
    # this zoo gives 0.64: the misorderings are among extractors within 5% accuracy.
    assert tau > 0.5


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


def test_logme_keeps_a_near_collinear_direction_above_the_rank_cutoff():
    # F = U diag(s) V^T with one tiny singular value: its eigenvalue of F^T F,
    # 1e-14 * sigma_max, is above the rounding level min(n, D) * eps but below
    # max(n, D) * eps. It carries a real (small) part of y, so the posterior mean and the
    # evidence must match the slow D x D formula, which keeps every direction.
    rng = np.random.RandomState(0)
    n, D = 400, 4
    U, _ = np.linalg.qr(rng.normal(size=(n, D)))
    V, _ = np.linalg.qr(rng.normal(size=(D, D)))
    F = (U * np.array([1.0, 0.8, 0.6, 1e-7])) @ V.T
    sigma = np.linalg.eigvalsh(F.T @ F)
    eps = np.finfo(np.float64).eps
    assert min(n, D) * eps < sigma[0] / sigma[-1] < max(n, D) * eps
    # Noise off the span of F: an exact fit would have a second, higher maximum of the
    # evidence at alpha / beta below the tiny eigenvalue, which the iteration from
    # alpha = beta = 1 does not reach (see the tests at the end of this file).
    noise = rng.normal(size=n)
    noise -= U @ (U.T @ noise)
    y = U[:, :3] @ np.array([1.0, -0.5, 0.7]) + 1e-3 * U[:, 3] + 3e-4 * noise
    score, result, _ = _logme_fit(F, y, task="regression")
    expected, coef = _slow_logme_column(F, y)
    assert score == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(result["coef"][0], coef, rtol=1e-5)


# -- dask arrays without a cluster (issue 20: the chunked path under mutation testing) --------
# tests/test_distributed.py runs these on a real cluster; here dask's synchronous scheduler
# keeps them cheap enough for every mutant of the chunked path.


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_logme_dask_chunks_equal_in_memory_statistics(synchronous_dask, task):
    import dask.array as da

    F, y = _classification_data(90, 6, n_classes=3, seed=4)
    if task == "regression":
        y = F[:, :2] @ np.array([[1.0, -2.0], [0.5, 3.0]]) + np.random.RandomState(5).normal(
            size=(90, 2)
        )
    # rows of very different magnitudes: chunks get different power-of-two exponents
    F[:30] *= 1e250
    F[30:60] *= 1e-250
    expected_score, expected, expected_task = _logme_fit(F, y)
    for chunks in [(30, 6), (17, 4), (90, 6)]:
        score, result, got_task = _logme_fit(da.from_array(F, chunks=chunks), y)
        assert got_task == expected_task == task
        assert score == pytest.approx(expected_score, rel=1e-10)
        for key in ("coef", "beta"):
            np.testing.assert_allclose(result[key], expected[key], rtol=1e-8)
        assert score == pytest.approx(logme_score(da.from_array(F, chunks=chunks), y), rel=0)
    # a dask y is computed first
    score = _logme_fit(da.from_array(F, chunks=(30, 6)), da.from_array(np.asarray(y)))[0]
    assert score == pytest.approx(expected_score, rel=1e-10)
    # the caller's dask array is not modified
    assert np.all(da.from_array(F, chunks=(30, 6)).compute() == F)


def test_logme_dask_with_fewer_rows_than_features_equals_in_memory(synchronous_dask):
    import dask.array as da

    F, y = _classification_data(20, 50, seed=2)
    expected = _slow_logme(F, np.eye(4)[y])[0]
    score, _, task = _logme_fit(da.from_array(F, chunks=(7, 50)), y, task="classification")
    assert task == "classification"
    assert score == pytest.approx(expected, rel=1e-6)
    # the task is resolved once: float labels asked as classification stay classification
    got = logme_score(da.from_array(F, chunks=(7, 50)), y.astype(float), task="classification")
    assert got == pytest.approx(expected, rel=1e-6)


def test_logme_dask_errors(synchronous_dask):
    import dask.array as da

    F, y = _classification_data(40, 3, n_classes=3)
    with pytest.raises(ValueError, match=r"features must be 2-D \(n_samples, n_features\)"):
        logme_score(da.from_array(F[:, 0], chunks=10), y)
    with pytest.raises(ValueError, match="features must be numeric, got a dask array of dtype"):
        logme_score(da.from_array(F.astype(complex), chunks=(10, 3)), y)
    unknown = da.from_array(F, chunks=(10, 3))
    unknown = unknown[unknown[:, 0] > -np.inf]
    with pytest.raises(ValueError, match="unknown size; call features.compute_chunk_sizes"):
        logme_score(unknown, y)
    with pytest.raises(ValueError, match="features has 1 sample\\(s\\); at least 2 are needed"):
        logme_score(da.from_array(F[:1], chunks=(1, 3)), y[:1])
    with pytest.raises(ValueError, match="y has 39 samples but features has 40"):
        logme_score(da.from_array(F, chunks=(10, 3)), y[:39])
    # integer and boolean features are numeric
    as_int = np.rint(4 * F).astype(np.int64)
    assert logme_score(da.from_array(as_int, chunks=(10, 3)), y) == pytest.approx(
        logme_score(as_int.astype(float), y), rel=1e-10
    )


@pytest.mark.parametrize("scale", [1e4, 1e8, 2.0**600, 2.0**-600])
def test_transrate_of_large_features_matches_exact_arithmetic(scale):
    # The coding rates in 800-digit arithmetic (exact centring and determinants: the
    # identity must survive next to Gram entries of 2**1200).
    # With n <= D (here every class, and the centred whole) some eigenvalues are exact
    # zeros: rounding noise in their place must add nothing, which matters once the
    # features are large (1e8: 5.7 too high before the fix). At 2**+-600 the Gram matrices
    # under- or overflow float64: the scaled path must give the value too, without a warning.
    import warnings

    mpmath = pytest.importorskip("mpmath")

    def exact_transrate(F, y, eps=1e-4):
        with mpmath.workdps(800):
            n, D = F.shape
            rows = [[mpmath.mpf(float(v)) for v in row] for row in F]
            mean = [mpmath.fsum(row[j] for row in rows) / n for j in range(D)]
            Z = [[row[j] - mean[j] for j in range(D)] for row in rows]

            def rate(Z):
                M, m = mpmath.matrix(Z), len(Z)
                gram = M.T * M if D <= m else M * M.T
                return mpmath.log(mpmath.det(mpmath.eye(gram.rows) + gram / (m * eps))) / 2

            classes = np.unique(y)
            per_class = [rate([Z[i] for i in np.flatnonzero(y == c)]) for c in classes]
            return float(rate(Z) - mpmath.fsum(per_class) / len(classes))

    rng = np.random.RandomState(1)
    F, y = scale * rng.normal(size=(12, 30)), np.repeat([0, 1, 2], 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = transrate(F, y)
    assert got == pytest.approx(exact_transrate(F, y), rel=1e-7)
    # more rows than features, with a duplicated column (a zero eigenvalue)
    F, y = _classification_data(90, 3, n_classes=3, seed=3)
    F = scale * np.c_[F, F[:, 1]]
    assert transrate(F, y) == pytest.approx(exact_transrate(F, y), rel=1e-7)


def test_sfda_features_constant_within_every_class_are_rejected_by_name():
    from skreuse.transferability import sfda_score

    y = np.repeat([0, 1, 2], 5)
    centres = np.array([[0.0, 1.0], [2.0, -1.0], [1.0, 3.0]])
    with pytest.raises(ValueError, match="features do not vary within any class"):
        sfda_score(centres[y], y)
    # one row of noise is a within-class scatter: a finite score in (0, 1]
    X = centres[y]
    X[0] += [1e-3, -2e-3]
    assert 0.0 < sfda_score(X, y) <= 1.0


def test_registry_table_of_the_scores():
    # The registry as documented: what each score needs, the tasks it supports, its
    # label on plots; only LogME computes on a requested device and takes a task.
    from skreuse.transferability import get_scorer

    table = {
        "logme": ("features", {"classification", "regression"}, "LogME", True),
        "leep": ("proba", {"classification"}, "LEEP", False),
        "nce": ("labels", {"classification"}, "NCE", False),
        "hscore": ("features", {"classification"}, "H-score", False),
        "regularized_hscore": ("features", {"classification"}, "Regularized H-score", False),
        "transrate": ("features", {"classification"}, "TransRate", False),
        "gbc": ("features", {"classification"}, "GBC", False),
        "nleep": ("features", {"classification"}, "N-LEEP", False),
        "sfda": ("features", {"classification"}, "SFDA", False),
        "parc": ("features", {"classification"}, "PARC", False),
    }
    for name, (needs, tasks, label, on_device) in table.items():
        scorer = get_scorer(name)
        assert scorer.name == name
        assert (scorer.input, scorer.tasks, scorer.label) == (needs, frozenset(tasks), label)
        assert scorer.on_device is on_device
        assert scorer.takes_task is (name == "logme")
        assert get_scorer(scorer) is scorer
    # keyword arguments reach the score: integer labels scored as regression values
    F, labels = _classification_data(50, 3, n_classes=3)
    as_values = get_scorer("logme")(F, labels, task="regression")
    assert as_values == logme_score(F, labels, task="regression") != logme_score(F, labels)


@pytest.mark.parametrize("scale", [1.0, 1e200])
def test_logme_stream_in_blocks_equals_the_full_matrix(scale):
    # The selector's streamed LogME: rows arrive in blocks, with as many rows as features
    # (the smallest n it streams) and features whose squares overflow float64.
    from skreuse.transferability import _LogMEStream

    F, y = _classification_data(12, 12, n_classes=3, seed=6)
    F = scale * F
    t = F[:, :2] @ np.array([[1.0, 0.5], [-1.0, 2.0]]) / scale + 0.1
    for target, task in ((y, "classification"), (t, "regression")):
        expected, full, _ = _logme_fit(F, target, task=task)
        stream = _LogMEStream(target, 12, task=task)
        for start in (0, 5, 9):
            stream.update(start, F[start : {0: 5, 5: 9, 9: 12}[start]])
        score, result = stream.result()
        assert score == pytest.approx(expected, rel=1e-9)
        np.testing.assert_allclose(result["coef"], full["coef"], rtol=1e-7)
        np.testing.assert_allclose(result["alpha"], full["alpha"], rtol=1e-7)
    # rows missing, or fewer rows than features: refused by name
    stream = _LogMEStream(y, 12, task="classification", name="features of 'm'")
    stream.update(0, F[:11])
    with pytest.raises(ValueError, match="features of 'm': statistics of 11 rows"):
        stream.result()
    stream = _LogMEStream(y[:11], 11, task="classification")
    stream.update(0, F[:11])
    with pytest.raises(ValueError, match="11 rows for 12 features"):
        stream.result()


@pytest.mark.parametrize("scale", [2.0**-700, 1e-200, 1e200])
def test_covariance_scores_of_extreme_features_equal_those_of_ordinary_ones(scale):
    # H-scores and GBC do not depend on a global scale: squares that under- or overflow
    # float64 must not change them (the features are rescaled by a power of two first).
    F, y = _classification_data(60, 4, n_classes=3, seed=7)
    for score in (hscore, regularized_hscore, gbc_score):
        assert score(scale * F, y) == pytest.approx(score(F, y), rel=1e-9)


@pytest.mark.parametrize("largest", [1e-3, 1e-30, 1e30])
def test_sfda_of_features_in_the_ordinary_range_is_not_rescaled(largest):
    # SFDA's shrinkage depends on the scale of the features: within [1e-30, 1e30] they
    # are used as given, so the score is the slow definition's on the given features.
    from test_new_scores import _slow_sfda, _task

    from skreuse.transferability import sfda_score

    X, y = _task(2, n=80, d=4, n_classes=3)
    X = X / np.abs(X).max() * largest
    assert np.abs(X).max() == largest
    assert sfda_score(X, y) == pytest.approx(_slow_sfda(X, y), rel=1e-7)


def test_sfda_of_extreme_features_is_that_of_the_features_brought_to_unit_scale():
    # Outside [1e-30, 1e30] the features are divided by the power of two just above their
    # largest magnitude (exact): 2**+-700 times features in [0.5, 1) score as those.
    from test_new_scores import _task

    from skreuse.transferability import sfda_score

    X, y = _task(4, n=60, d=3, n_classes=3)
    X = X / np.abs(X).max() * 0.75
    for exponent in (700, -700):
        assert sfda_score(2.0**exponent * X, y) == sfda_score(X, y)


def test_sfda_of_tight_well_separated_classes_is_one():
    # Tiny within-class scatter: discriminant scores of order 1e8 that differ between
    # rows by far more than exp can span; each row's softmax must still be taken
    # relative to its own largest score.
    from skreuse.transferability import sfda_score

    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 10)
    X = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]])[y] + 1e-4 * rng.normal(size=(30, 2))
    assert sfda_score(X, y) == pytest.approx(1.0, abs=1e-12)


def test_logme_dask_with_two_rows(synchronous_dask):
    import dask.array as da

    F = np.array([[1.0, 0.5, -1.0], [0.2, -0.3, 2.0]])
    expected = _slow_logme(F, np.eye(2))[0]
    assert logme_score(da.from_array(F, chunks=(1, 3)), [0, 1]) == pytest.approx(expected, rel=1e-6)


def test_class_scores_of_float32_features_are_computed_in_float64():
    # The class-statistics scores promote float32 features to float64 first: the score is
    # that of the same values in float64 (in float32, the H-score would move at 1e-7 and
    # TransRate at 1e-6).
    from skreuse.transferability import nleep_score

    F, y = _classification_data(80, 6, n_classes=3)
    F32 = F.astype(np.float32)
    for score in (hscore, transrate, nleep_score):
        assert score(F32, y) == pytest.approx(score(F32.astype(np.float64), y), rel=1e-13)


def test_class_scores_accept_tensors_that_require_grad():
    torch = pytest.importorskip("torch")
    F, y = _classification_data(60, 5, n_classes=3)
    for score in (hscore, regularized_hscore, transrate, gbc_score):
        tensor = torch.tensor(F, requires_grad=True)
        assert score(tensor, y) == pytest.approx(score(F, y), rel=1e-12)
        assert tensor.grad is None


def test_class_scores_refuse_a_dataframe_with_a_missing_value():
    pd = pytest.importorskip("pandas")
    F, y = _classification_data(60, 5, n_classes=3)
    frame = pd.DataFrame(F).astype("Float64")
    assert hscore(frame, y) == pytest.approx(hscore(F, y), rel=1e-12)
    frame.iloc[3, 2] = pd.NA
    for score in (hscore, transrate, gbc_score):
        with pytest.raises(ValueError, match="features contains NaN"):
            score(frame, y)


def test_a_callable_is_a_features_score_of_any_task():
    from skreuse.transferability import get_scorer

    def spread(features, y):
        return float(np.var(features) + np.var(y))

    scorer = get_scorer(spread)
    assert scorer.input == "features"
    assert scorer.tasks == {"classification", "regression"}
    assert (scorer.name, scorer.label) == ("spread", "spread")
    F, y = _classification_data(30, 4)
    assert scorer(F, y) == spread(F, y)
    assert get_scorer(scorer) is scorer
    # a callable without a __name__ (a functools.partial) is called "score"
    from functools import partial

    unnamed = get_scorer(partial(spread))
    assert (unnamed.name, unnamed.label) == ("score", "score")
    assert unnamed(F, y) == spread(F, y)


def test_feature_scores_accept_integer_and_single_column_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, size=40)
    F = rng.randint(0, 5, size=(40, 3)) + y[:, None]
    for score in (hscore, gbc_score, transrate, logme_score):
        assert score(torch.as_tensor(F), y) == pytest.approx(score(F.astype(float), y), rel=1e-12)
        one = torch.as_tensor(F[:, :1].astype(float))
        assert score(one, y) == pytest.approx(score(F[:, :1].astype(float), y), rel=1e-12)


def test_two_rows_are_enough_and_one_is_refused_on_numpy_and_torch():
    # The documented minimum is two samples, the same on every backend: two rows are scored
    # (equal on numpy and torch), one row gets a message naming the minimum.
    torch = pytest.importorskip("torch")
    F = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
    y = np.array([0, 1])
    for score in (logme_score, hscore, transrate):
        expected = score(F, y)
        assert np.isfinite(expected)
        assert score(torch.as_tensor(F), y) == pytest.approx(expected, rel=1e-12)
        for one in (F[:1], torch.as_tensor(F[:1])):
            with pytest.raises(ValueError, match=r"1 sample\(s\).*(at least|minimum of) 2"):
                score(one, y[:1])


# -- LogME's spectral solver: scales, degenerate spectra, the fitted hyperparameters ----------
# (issue 20: survivors of _logme_spectral, _logme_from_statistics and _pow2). Power-of-two
# scales are exact in float64, so a result at scale 2**k is compared with the one at scale 1
# mapped analytically: for F -> s F and y -> c y the evidence per sample shifts by -log(c),
# the posterior mean scales by c / s, alpha by (s / c)**2 and beta by 1 / c**2.


@pytest.mark.parametrize(("n", "D"), [(80, 6), (30, 60)], ids=["n>D", "n<D"])
def test_logme_alpha_and_beta_follow_the_textbook_iteration_at_any_scale(n, D):
    # The documented fixed point starts from alpha = beta = 1 in the features' own units and
    # stops on the relative change of alpha / beta: on features and targets far from unit
    # scale (each target column at its own scale) the library's internal rescaling must
    # give the same iterate as the textbook iteration run on the data as given: the same
    # evidence, posterior mean, alpha (the prior precision) and beta (the noise precision).
    rng = np.random.RandomState(4)
    F = rng.normal(size=(n, D)) * 2.0**-10
    W = rng.normal(size=(3, 2)) * 2.0**10
    Y = (F[:, :3] @ W + 0.5 * rng.normal(size=(n, 2))) * np.array([2.0**-20, 2.0**15])
    score, result, _ = _logme_fit(F, Y, task="regression")
    for j in range(2):
        evidence, m, alpha, beta = _slow_logme_hyperparameters(F, Y[:, j])
        assert result["evidence"][j] == pytest.approx(evidence, rel=1e-12)
        np.testing.assert_allclose(result["coef"][j], m, rtol=1e-9)
        assert result["alpha"][j] == pytest.approx(alpha, rel=1e-9)
        assert result["beta"][j] == pytest.approx(beta, rel=1e-9)


@pytest.mark.parametrize("k", [-700, -170, 170, 700])
def test_logme_of_features_scaled_by_a_power_of_two_equals_the_unit_scale_result(k):
    # 2**+-170 stays in the range the statistics use as they are (their Gram matrix is then
    # 2**+-340 times larger), 2**+-700 is brought back by the statistics themselves; either
    # way the iteration must run at unit scale. The starting point is clipped to 2**+-26
    # of the spectrum, so the result is the scale-1 one to the solver's tolerance.
    F, y = _classification_data(100, 8)
    rng = np.random.RandomState(8)
    t = F[:, :2] @ np.array([1.0, -2.0]) + rng.normal(size=100)
    s = 2.0**k
    for target, task in ((y, "classification"), (t, "regression")):
        _, expected, _ = _logme_fit(F, target, task=task)
        _, result, _ = _logme_fit(F * s, target, task=task)
        np.testing.assert_allclose(result["evidence"], expected["evidence"], rtol=1e-12)
        np.testing.assert_allclose(result["coef"] * s, expected["coef"], rtol=1e-6)
        np.testing.assert_allclose(result["beta"], expected["beta"], rtol=1e-6)
        if abs(k) < 500:  # alpha * s**2 is representable
            np.testing.assert_allclose(result["alpha"] / s**2, expected["alpha"], rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_logme_of_extreme_tensors_equals_numpy(scale):
    # Features at 1e+-30 and targets at 1e-20: the factors that map alpha, beta and the
    # posterior mean back to these scales are beyond float32's range, so they must be
    # float64 tensors like the numpy ones (torch's default dtype is float32).
    torch = pytest.importorskip("torch")
    F, y = _classification_data(60, 8)
    t = (F[:, :3] @ np.array([[1.0, 0.5], [-1.0, 2.0], [0.3, 0.0]]) + 0.5) * 1e-20
    for target, task in ((y, "classification"), (t, "regression")):
        _, expected, _ = _logme_fit(F * scale, target, task=task)
        _, result, _ = _logme_fit(torch.as_tensor(F * scale), target, task=task)
        for key in ("evidence", "coef", "alpha", "beta"):
            assert result[key].dtype == torch.float64
            np.testing.assert_allclose(result[key].numpy(), expected[key], rtol=1e-9)


@pytest.mark.parametrize(("n", "D"), [(10, 3), (5, 5), (3, 10)], ids=["n>D", "n=D", "n<D"])
def test_logme_of_all_zero_features_is_the_alpha_infinity_limit(n, D, backend):
    # Features that are all zero explain nothing: every column takes the alpha -> inf
    # limit, y ~ N(0, ||y||^2 / n), with a zero posterior mean; no direction is kept, and
    # nothing on the way divides by zero (a RuntimeWarning in a notebook is an error here).
    import warnings

    torch = pytest.importorskip("torch") if backend != "cpu" else None
    y = np.arange(n) % 2
    t = np.linspace(-1.0, 2.0, n)
    for target, task, columns in ((y, "classification", np.eye(2)[y]), (t, "regression", t)):
        features = np.zeros((n, D))
        if torch is not None:
            features = torch.zeros((n, D), dtype=torch.float64, device=backend)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _, result, _ = _logme_fit(features, target, task=task)
        y2 = np.sum(np.reshape(columns, (n, -1)) ** 2, axis=0)
        expected = 0.5 * np.log(n / y2) - 0.5 - 0.5 * np.log(2 * np.pi)
        np.testing.assert_allclose(np.asarray(result["evidence"].tolist()), expected, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(result["beta"].tolist()), n / y2, rtol=1e-12)
        assert np.all(np.isinf(np.asarray(result["alpha"].tolist())))
        assert np.all(np.asarray(result["coef"].tolist()) == 0.0)


def test_logme_of_rank_deficient_features_raises_no_floating_point_warning():
    # Duplicated and zero columns give the Gram matrix exact or rounding-level zero (even
    # slightly negative) eigenvalues, and a target orthogonal to the features has no
    # projection at all: the score is that of the reduced features, computed without a
    # square root of a negative number or a division by zero along the way.
    import warnings

    F, y = _classification_data(40, 10)
    G, g = _classification_data(20, 8)
    Z = np.zeros((6, 2))
    Z[:3, 0] = [1.0, -1.0, 0.0]
    Z[:3, 1] = [0.0, 1.0, -1.0]
    t = np.array([0.0, 0.0, 0.0, 1.0, -2.0, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert logme_score(np.c_[F, F, np.zeros((40, 3))], y) == pytest.approx(
            logme_score(F, y), rel=1e-8
        )
        # n < D: F F^T has rank 8 < n = 20
        assert logme_score(np.c_[G, G, G, G], g) == pytest.approx(logme_score(G, g), rel=1e-8)
        for features in (Z, np.c_[Z, np.zeros((6, 6))]):
            score = logme_score(features, t, task="regression")
            assert score == pytest.approx(
                0.5 * np.log(6 / (t @ t)) - 0.5 - 0.5 * np.log(2 * np.pi), rel=1e-12
            )


@pytest.mark.parametrize(("n", "D"), [(400, 50), (60, 8)])
def test_logme_treats_a_direction_below_the_rank_cutoff_as_a_zero_singular_value(n, D):
    # The counterpart of the near-collinear test above: a singular value whose square is
    # 1e-15 of the largest is below min(n, D) * eps, the rounding level of the Gram matrix,
    # so it must act as an exact zero: the posterior mean has no component along it (the
    # target has a unit one), as for the same features with that singular value set to 0.
    rng = np.random.RandomState(0)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    U, rest = Q[:, :D], Q[:, D:]
    V, _ = np.linalg.qr(rng.normal(size=(D, D)))
    s = np.linspace(1.0, 0.5, D)
    s[-1] = np.sqrt(1e-15)
    F = (U * s) @ V.T
    assert s[-1] ** 2 < min(n, D) * np.finfo(np.float64).eps
    y = U[:, :-1] @ rng.normal(size=D - 1) + U[:, -1] + rest @ (0.5 * rng.normal(size=n - D))
    s[-1] = 0.0
    evidence, coef, alpha, beta = _slow_logme_hyperparameters((U * s) @ V.T, y)
    score, result, _ = _logme_fit(F, y, task="regression")
    assert score == pytest.approx(evidence, rel=1e-12)
    np.testing.assert_allclose(result["coef"][0], coef, rtol=1e-10, atol=1e-12 * np.abs(coef).max())
    assert result["alpha"][0] == pytest.approx(alpha, rel=1e-12)
    assert result["beta"][0] == pytest.approx(beta, rel=1e-12)


# The saturation is by design: no overflow warning either.
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_logme_from_stats_at_the_ends_of_float64_equals_unit_scale():
    # Statistics are the user's sums, not rescaled by anyone: a Gram matrix whose largest
    # eigenvalue is 1.5 * 2**1022 (near float64's maximum; its alpha is 2**1024 times the
    # unit-scale one, beyond float64, and saturates) and targets at 2**-500 that the
    # features explain to 1e-6 (so beta would overflow at their scale) give the unit-scale
    # score, shifted by -log(c) for targets scaled by c (exact powers of two).
    from skreuse.transferability import logme_score_from_stats

    rng = np.random.RandomState(0)
    n = 200
    F = rng.normal(size=(n, 5))
    F *= np.sqrt(1.5 / np.linalg.eigvalsh(F.T @ F)[-1])
    gram = F.T @ F
    for noise in (0.5, 1e-6):
        y = F @ rng.normal(size=5) + noise * rng.normal(size=n)
        y *= np.sqrt(0.5 * n / (y @ y))  # unit mean square: no scaling of the column
        expected = logme_score_from_stats(gram, F.T @ y, y @ y, n)
        # with noise 1e-6 the statistics form the residual (1e-12 of ||y||^2) by
        # cancellation: the slow formula on the rows agrees only to about 1e-6 then
        rel = 1e-10 if noise == 0.5 else 1e-5
        assert expected == pytest.approx(_slow_logme_column(F, y)[0], rel=rel)
        if noise == 0.5:
            top = logme_score_from_stats(gram * 2.0**1022, F.T @ y * 2.0**511, y @ y, n)
            assert top == pytest.approx(expected, rel=1e-10)
        c = 2.0**-500
        tiny = logme_score_from_stats(gram, F.T @ y * c, (y @ y) * c * c, n)
        assert tiny == pytest.approx(expected - np.log(c), rel=1e-12)


_DIRECT_LOGME = {}


def _direct_logme_of_square_features():
    """LogME of 12 x 12 features maximized directly: y ~ N(0, F F^T / alpha + I / beta)
    over (log alpha, log beta) by Nelder-Mead from several starts, on the eigenbasis of
    F F^T, independently of MacKay's fixed point."""
    from scipy.optimize import minimize

    F, y = _classification_data(12, 12)
    if "score" in _DIRECT_LOGME:  # computed once for the three scales
        return F, y, _DIRECT_LOGME["score"]
    n = 12
    U, sv, _ = np.linalg.svd(F)
    best = []
    for yc in np.eye(4)[y].T:
        z2 = (U.T @ yc) ** 2

        def neg_log_evidence(p, z2=z2):
            lam = sv**2 * np.exp(-p[0]) + np.exp(-p[1])
            return 0.5 * np.sum(np.log(lam) + z2 / lam) + n / 2 * np.log(2 * np.pi)

        options = {"xatol": 1e-9, "fatol": 1e-12}
        fits = [
            minimize(neg_log_evidence, x0, method="Nelder-Mead", options=options)
            for x0 in [(0, 0), (4, 4), (0, 8)]
        ]
        best.append(-min(fit.fun for fit in fits) / n)
    _DIRECT_LOGME["score"] = float(np.mean(best))
    return F, y, _DIRECT_LOGME["score"]


@pytest.mark.parametrize("scale", [1e-8, 1e-2, 1.0, 1e2, 1e8])
def test_logme_of_square_features_is_the_maximum_of_the_marginal_likelihood(scale):
    # LogME is the maximum evidence, whatever the scale of the features (n = D = 12): the
    # evidence of one column has two local maxima, and MacKay's iteration from
    # alpha = beta = 1 in the features' units reaches the lower one at scales up to 1e-2.
    F, y, expected = _direct_logme_of_square_features()
    assert logme_score(F * scale, y) == pytest.approx(expected, rel=1e-6)


# -- inputs and streamed statistics (issue 20: dtypes, blocks, chunks, extreme scales) --------

_FEATURE_SCORES = (
    "logme_score",
    "hscore",
    "regularized_hscore",
    "transrate",
    "gbc_score",
    "nleep_score",
    "sfda_score",
    "parc_score",
)


def test_feature_scores_of_any_numeric_dtype_equal_those_of_float64():
    # float16, integer, boolean and object (e.g. a pandas object column) features are
    # numbers: every score equals that of their float64 copy (float16 is promoted first,
    # not computed in).
    import skreuse.transferability as tf

    F, y = _classification_data(60, 4, n_classes=3, seed=3)
    variants = [F.astype(np.float16), np.rint(4 * F).astype(np.int64), F > 0, F.astype(object)]
    for name in _FEATURE_SCORES:
        score = getattr(tf, name)
        for X in variants:
            expected = score(X.astype(np.float64), y)
            assert score(X, y) == pytest.approx(expected, rel=1e-12), (name, X.dtype)


def test_logme_of_tensors_of_any_real_dtype_equals_that_of_float64():
    # LogME keeps a tensor a tensor; whatever its dtype, the products are formed in float64,
    # with more rows than features and with fewer.
    torch = pytest.importorskip("torch")
    for n, D in [(60, 4), (6, 9)]:
        F, y = _classification_data(n, D, n_classes=3, seed=4)
        for X in (
            torch.as_tensor(F > 0),
            torch.as_tensor(np.rint(4 * np.abs(F))).to(torch.uint8),
            torch.as_tensor(np.rint(4 * F)).to(torch.int32),
            torch.as_tensor(F).to(torch.float16),
            torch.as_tensor(F).to(torch.float32),
        ):
            expected = logme_score(X.double().numpy(), y)
            assert logme_score(X, y) == pytest.approx(expected, rel=1e-12), (n, X.dtype)


def test_logme_refuses_complex_features_on_numpy_and_torch():
    # A complex tensor used to be scored as its real part with only a warning (here
    # -0.6684 for F + 1j * F and for F + 3j * F[::-1], the score of F); numpy arrays are
    # refused.
    torch = pytest.importorskip("torch")
    F, y = _classification_data(40, 3, n_classes=3, seed=5)
    for X in (F + 1j * F, torch.as_tensor(F + 1j * F)):
        with pytest.raises(ValueError, match="[Cc]omplex"):
            logme_score(X, y)


def test_logme_regression_targets_of_any_numeric_dtype_equal_those_of_float64():
    # object (a pandas object column), float32, integer and boolean targets are the same
    # numbers in float64: the score is theirs, on numpy, torch and dask features alike.
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(6)
    F = rng.normal(size=(50, 4))
    t = F @ rng.normal(size=4) + rng.normal(size=50)
    for y in (t.astype(object), t.astype(np.float32), np.rint(t).astype(np.int64), t > t.min()):
        as_float = np.asarray(y, dtype=np.float64)
        for X in (F, F[:3]):
            expected = logme_score(X, as_float[: len(X)], task="regression")
            for features in (X, torch.as_tensor(X)):
                got = logme_score(features, y[: len(X)], task="regression")
                assert got == pytest.approx(expected, rel=1e-12), (y.dtype, len(X))


@pytest.mark.parametrize("scale", [2.0**-160, 2.0**160])
def test_logme_target_scale_on_torch_shifts_the_score_by_log_scale(scale):
    # As on numpy (test_streaming.py): y = c y' moves the per-sample evidence by -log(c)
    # exactly, also for scales whose inverse float32 cannot hold (2**+-160).
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(7)
    F = rng.normal(size=(60, 5))
    t = F @ rng.normal(size=5) + rng.normal(size=60)
    for X in (F, F[:4]):
        base = logme_score(X, t[: len(X)])
        scaled = logme_score(torch.as_tensor(X), t[: len(X)] * scale, task="regression")
        assert scaled + np.log(scale) == pytest.approx(base, rel=1e-9, abs=1e-9)


def test_logme_of_a_constant_target_column_matches_the_slow_formula():
    # A column of ones is a target like any other (only an all-zero column is refused).
    rng = np.random.RandomState(8)
    F = rng.normal(size=(60, 4)) + 1.0
    Y = np.c_[np.ones(60), F[:, 0] + 0.3 * rng.normal(size=60)]
    assert logme_score(F, Y) == pytest.approx(_slow_logme(F, Y)[0], rel=1e-6)
    assert logme_score(F, np.ones(60)) == pytest.approx(
        _slow_logme_column(F, np.ones(60))[0], rel=1e-6
    )
    with pytest.raises(ValueError, match=r"y column\(s\) \[0\] are identically zero"):
        logme_score(F, np.c_[np.zeros(60), Y[:, 1]])


def test_scores_take_a_column_vector_of_labels_without_a_warning():
    # y of shape (n, 1) holds the same labels as y of shape (n,): the same score, and no
    # DataConversionWarning in the user's notebook.
    import warnings

    F, y = _classification_data(40, 3, n_classes=3, seed=9)
    proba = np.exp(F) / np.exp(F).sum(axis=1, keepdims=True)
    cases = [(leep_score, proba), (nce_score, y[::-1].copy()), (hscore, F), (logme_score, F)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for score, X in cases:
            assert score(X, y[:, None]) == score(X, y)


def test_logme_dask_chunks_of_zero_and_one_rows_equal_in_memory(synchronous_dask):
    # Empty chunks (e.g. left by a filter) add nothing; one-row chunks add their row.
    import dask.array as da

    F, y = _classification_data(40, 3, n_classes=3, seed=10)
    expected = logme_score(F, y)
    for rows in [(0, 20, 0, 20, 0), (1, 38, 1), (1, 1, 18, 1, 19)]:
        got = logme_score(da.from_array(F, chunks=(rows, 3)), y)
        assert got == pytest.approx(expected, rel=1e-12), rows


def test_logme_dask_chunks_that_disagree_with_the_declared_shape_are_refused(synchronous_dask):
    # A chunk function whose output width depends on the chunk (a per-chunk encoder, say):
    # the error names both widths; a chunk that comes back 1-D names its shape.
    import dask.array as da

    F, y = _classification_data(40, 3, n_classes=3, seed=11)
    X = da.from_array(F, chunks=(20, 3))

    def later_chunks(change):
        def func(block, block_info=None):
            return block if block_info[None]["chunk-location"][0] == 0 else change(block)

        return X.map_blocks(func, dtype=float)

    with pytest.raises(ValueError, match="a block has 2 columns but the earlier rows had 3"):
        logme_score(later_chunks(lambda b: b[:, :2]), y)
    with pytest.raises(ValueError, match=r"features must be 2-D .*got shape \(20,\)"):
        logme_score(later_chunks(lambda b: b[:, 0]), y)


@pytest.mark.parametrize("exponent", [600, -600])
def test_logme_of_all_negative_features_of_extreme_scale(exponent):
    # The scale of a block is its largest magnitude, here that of its minimum: squares of
    # 2**600 features overflow float64 and those of 2**-600 underflow unless rescaled first.
    F, y = _classification_data(60, 4, n_classes=3, seed=12)
    F = -(np.abs(F) + 0.5)
    assert logme_score(2.0**exponent * F, y) == pytest.approx(logme_score(F, y), rel=1e-9)


def test_logme_statistics_of_no_rows_and_of_blocks_of_zero_and_one_rows():
    from skreuse.transferability import _LogMEStatistics

    rng = np.random.RandomState(13)
    F, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    empty = _LogMEStatistics()
    assert (empty.n_samples, empty.n_features) == (0, None)
    assert empty.update(F[:0], Y[:0]).n_samples == 0
    stats = _LogMEStatistics()
    for start, stop in [(0, 0), (0, 1), (1, 1), (1, 2), (2, 5)]:
        stats.update(F[start:stop], Y[start:stop])
    assert (stats.n_samples, stats.n_features) == (5, 3)
    # gram and cross are those of F * 2**-exponent
    scale = 2.0**stats.exponent
    np.testing.assert_allclose(stats.gram * scale**2, F.T @ F, rtol=1e-14)
    np.testing.assert_allclose(stats.cross * scale, F.T @ Y, rtol=1e-14)
    np.testing.assert_allclose(stats.target_sq, np.sum(Y * Y, axis=0), rtol=1e-14)
    with pytest.raises(ValueError, match=r"features must be 2-D .*got shape \(5,\)"):
        _LogMEStatistics().update(F[:, 0], Y)


def test_logme_reads_the_features_in_blocks_of_bounded_size(monkeypatch):
    # Blocks of rows hold at most _LOGME_BLOCK_ENTRIES entries (one row when a row alone is
    # wider), so the float64 copy of a float32 block stays small; any blocking gives the
    # score of one block.
    import skreuse.transferability as tf

    F, y = _classification_data(50, 3, n_classes=3, seed=14)
    F32 = F.astype(np.float32)
    expected = logme_score(F32, y)
    rows = []
    update = tf._LogMEStatistics.update

    def spy(self, features, Y):
        rows.append(features.shape[0])
        return update(self, features, Y)

    monkeypatch.setattr(tf._LogMEStatistics, "update", spy)
    for entries in (2, 3, 7, 9, 2**22):
        monkeypatch.setattr(tf, "_LOGME_BLOCK_ENTRIES", entries)
        rows.clear()
        assert logme_score(F32, y) == pytest.approx(expected, rel=1e-12)
        assert sum(rows) == 50
        assert max(rows) * 3 <= max(entries, 3)


def test_feature_scores_refuse_an_object_column_with_a_missing_value():
    # A pandas object column (or an object array) holding None: validated as float64,
    # the missing value is a NaN and every score names it, instead of scoring NaN or
    # failing on a comparison with None.
    pd = pytest.importorskip("pandas")
    import skreuse.transferability as tf

    F, y = _classification_data(30, 3, n_classes=3, seed=15)
    frame = pd.DataFrame(F).astype(object)
    frame.iloc[4, 1] = None
    for name in _FEATURE_SCORES:
        for X in (frame, frame.to_numpy()):
            with pytest.raises(ValueError, match="features contains NaN"):
                getattr(tf, name)(X, y)


def test_bad_inputs_get_messages_that_name_the_input_and_the_problem():
    # A message is the user's only clue: it names the argument and what is wrong with it
    # (tensor features, labels, and the blocks of a dask array or of the statistics).
    torch = pytest.importorskip("torch")
    F, y = _classification_data(40, 3, n_classes=3, seed=16)
    with pytest.raises(ValueError, match=r"features must be 2-D .*got shape \(40, 3, 1\)"):
        logme_score(torch.as_tensor(F[:, :, None]), y)
    bad = torch.tensor(F)
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="features contains NaN or infinity"):
        logme_score(bad, y)
    proba = np.exp(F) / np.exp(F).sum(axis=1, keepdims=True)
    for value in (np.nan, np.inf):
        labels = y.astype(float)
        labels[3] = value
        # scikit-learn's own check says "Input y contains infinity or a value too large"
        with pytest.raises(ValueError, match=r"\by contains (NaN|infinity)"):
            leep_score(proba, labels)
    # which of two label arguments is wrong
    with pytest.raises(ValueError, match="source_labels must hold class labels"):
        nce_score(F[:, 0], y)
    with pytest.raises(ValueError, match="Unknown label type: y must hold class labels"):
        nce_score(y, F[:, 0])
    for value in (np.nan, np.inf):
        target = F[:, 0].copy()
        target[5] = value
        with pytest.raises(ValueError, match=r"Input y contains (NaN|infinity)"):
            logme_score(F, target, task="regression")
    from skreuse.transferability import _LogMEStatistics

    stats = _LogMEStatistics().update(F[:20], np.ones((20, 1)))
    with pytest.raises(ValueError, match="a block has 2 columns but the earlier rows had 3"):
        stats.update(F[20:, :2], np.ones((20, 1)))


def test_logme_dask_chunk_with_rows_missing_is_refused(synchronous_dask):
    import dask.array as da

    F, y = _classification_data(40, 3, n_classes=3, seed=17)
    X = da.from_array(F, chunks=(20, 3)).map_blocks(lambda block: block[:-1], dtype=float)
    with pytest.raises(ValueError, match="features has 19 rows but its targets have 20"):
        logme_score(X, y)


# -- LogME is the highest maximum of the evidence at every scale of the features ---------------
# MacKay's iteration climbs to the local maximum next to its start (alpha = beta = 1 in the
# features' units); the library runs it again from the best point of a grid of t = alpha/beta
# where the evidence maximized over beta is higher. Checked against the evidence written the
# textbook way on the D x D system and maximized by brute force.


def _slow_logme_profile(F, y, t):
    """The evidence at alpha = t beta, maximized over beta: beta = n / (||Fm - y||^2 +
    t ||m||^2) with the posterior mean m = (t I + F^T F)^-1 F^T y (per sample)."""
    n, D = F.shape
    m = np.linalg.solve(t * np.eye(D) + F.T @ F, F.T @ y)
    beta = n / (np.sum((F @ m - y) ** 2) + t * m @ m)
    return _slow_logme_evidence(F, y, t * beta, beta) / n


def _brute_logme_column(F, y):
    """The maximum of the slow profile over t: a dense grid of log t well beyond the spectrum
    (8 points per unit), refined by a bounded scalar search around the best point, and the
    alpha -> inf limit. Also returns the local maxima of the grid."""
    from scipy.optimize import minimize_scalar

    n = F.shape[0]
    sigma = np.linalg.svd(F, compute_uv=False) ** 2
    sigma = sigma[sigma > sigma[0] * 1e-12]
    logt = np.arange(np.log(sigma[-1]) - 14, np.log(sigma[0]) + 14, 1 / 8)
    values = np.array([_slow_logme_profile(F, y, np.exp(u)) for u in logt])
    i = int(np.argmax(values))
    fit = minimize_scalar(
        lambda u: -_slow_logme_profile(F, y, np.exp(u)),
        bounds=(logt[max(i - 1, 0)], logt[min(i + 1, len(logt) - 1)]),
        method="bounded",
        options={"xatol": 1e-10},
    )
    limit = 0.5 * np.log(n / (y @ y)) - 0.5 - 0.5 * np.log(2 * np.pi)
    inner = (values[1:-1] > values[:-2]) & (values[1:-1] >= values[2:])
    return max(-fit.fun, values[i], limit), values[1:-1][inner]


def _two_maxima_problem(n, D, rank, n_targets, seed):
    """Features of rank ``rank`` whose singular values are ~1 and ~1e-2 (half each) and
    targets with a large part on the first half, a small one on the second and a smaller
    part off the span of the features: the evidence of a column has a maximum that shrinks
    the small directions and one that fits them (alpha / beta below their eigenvalues)."""
    rng = np.random.RandomState(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, rank + n_targets)))
    V, _ = np.linalg.qr(rng.normal(size=(D, rank)))
    k = rank // 2
    s = np.r_[rng.uniform(0.5, 1.0, k), 1e-2 * rng.uniform(0.5, 1.0, rank - k)]
    F = (U[:, :rank] * s) @ V.T
    Y = (
        U[:, :k] @ rng.normal(size=(k, n_targets))
        + U[:, k:rank] @ (0.3 * rng.normal(size=(rank - k, n_targets)))
        + 0.03 * U[:, rank:]
    )
    return F, Y


_TWO_MAXIMA = {}


def _two_maxima_with_brute_force(n, D, rank, seed):
    """:func:`_two_maxima_problem` with 3 targets, and each column's brute-force LogME."""
    key = (n, D, rank, seed)
    if key not in _TWO_MAXIMA:
        F, Y = _two_maxima_problem(n, D, rank, 3, seed)
        _TWO_MAXIMA[key] = F, Y, [_brute_logme_column(F, Y[:, j]) for j in range(3)]
    return _TWO_MAXIMA[key]


@pytest.mark.parametrize(("n", "D"), [(40, 7), (9, 25)], ids=["n>D", "n<D"])
def test_logme_profile_is_the_evidence_at_its_best_beta(n, D):
    # P(t) = r/2 log t - 1/2 sum log(t + sigma) - n/2 log S(t) + const, on the spectrum,
    # must be the textbook evidence at (t beta*, beta*) with beta* = n / S(t), and beta*
    # must be the best beta for that t (a nearby beta on the same ray is lower).
    from skreuse.transferability import _logme_profile

    rng = np.random.RandomState(n)
    F = rng.normal(size=(n, D)) * rng.uniform(0.1, 3.0, size=D)
    Y = F[:, :2] @ rng.normal(size=(2, 3)) + rng.normal(size=(n, 3))
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    sigma, z2 = s**2, (U.T @ Y) ** 2
    delta = np.sum(Y**2, axis=0) - np.sum(z2, axis=0)
    t = np.geomspace(sigma.min() * 1e-4, sigma.max() * 1e4, 11)
    profile, S = _logme_profile(t, sigma, z2, delta, n, np)
    assert profile.shape == S.shape == (3, 11)
    for j in range(3):
        for g, tg in enumerate(t):
            beta = n / S[j, g]
            expected = _slow_logme_evidence(F, Y[:, j], tg * beta, beta)
            assert profile[j, g] == pytest.approx(expected, rel=1e-10)
            for f in (0.99, 1.01):
                assert _slow_logme_evidence(F, Y[:, j], tg * beta * f, beta * f) < expected
    # one t per column: the diagonal of the grid
    paired, S_paired = _logme_profile(t[:3], sigma, z2, delta, n, np, paired=True)
    np.testing.assert_allclose(paired, np.diag(profile[:, :3]), rtol=1e-14)
    np.testing.assert_allclose(S_paired, np.diag(S[:, :3]), rtol=1e-14)


@pytest.mark.parametrize(("n", "D"), [(60, 8), (30, 60)], ids=["n>D", "n<D"])
@pytest.mark.parametrize("seed", [0, 2])
def test_logme_of_two_maxima_is_the_highest_at_every_scale(n, D, seed):
    # The textbook iteration from alpha = beta = 1 reaches the lower maximum at some scales
    # of these features (asserted, so the problem is a real test); LogME must be the
    # brute-force maximum at every scale, on numpy and torch.
    F, Y, brute = _two_maxima_with_brute_force(n, D, 8, seed)
    assert any(len(maxima) == 2 for _, maxima in brute)
    expected = np.array([best for best, _ in brute])
    textbook = [
        _slow_logme_hyperparameters(F * c, Y[:, j])[0] for c in (1e-3, 1e3) for j in range(3)
    ]
    assert min(textbook - np.tile(expected, 2)) < -0.1
    scales = 10.0 ** np.arange(-6, 7, 2)
    for c in scales:
        _, result, _ = _logme_fit(F * c, Y, task="regression")
        np.testing.assert_allclose(result["evidence"], expected, rtol=1e-8)
    torch = pytest.importorskip("torch")
    for c in scales[::3]:
        score = logme_score(torch.as_tensor(F * c), Y, task="regression")
        assert score == pytest.approx(np.mean(expected), rel=1e-8)


@pytest.mark.parametrize(("n", "D"), [(80, 6), (30, 60)], ids=["n>D", "n<D"])
def test_logme_of_ordinary_inputs_is_the_textbook_iteration(n, D):
    # One maximum (checked by brute force): the second run never starts, so the result is
    # the textbook iteration's to rounding, as the authors' algorithm, at scales where the
    # library starts where it does (its start is kept within 2**26 of the spectrum).
    F, y = _classification_data(n, D, seed=5)
    rng = np.random.RandomState(6)
    t = F[:, :3] @ rng.normal(size=3) + 0.5 * rng.normal(size=n)
    for target, task in ((y, "classification"), (t, "regression")):
        Y = np.eye(4)[y] if task == "classification" else t[:, None]
        for c in (2.0**-10, 1.0, 2.0**10):
            _, result, _ = _logme_fit(F * c, target, task=task)
            for j in range(Y.shape[1]):
                evidence, _, alpha, beta = _slow_logme_hyperparameters(F * c, Y[:, j])
                assert result["evidence"][j] == pytest.approx(evidence, rel=1e-12)
                # the same iterate, to the rounding of a slowly converging iteration
                assert result["alpha"][j] == pytest.approx(alpha, rel=1e-8)
                assert result["beta"][j] == pytest.approx(beta, rel=1e-8)
        for j in range(Y.shape[1]):
            best, maxima = _brute_logme_column(F, Y[:, j])
            assert len(maxima) == 1
            assert result["evidence"][j] == pytest.approx(best, rel=1e-9)


def test_logme_from_stats_of_two_maxima_is_the_highest(synchronous_dask):
    # The statistics, dask and streamed paths share the spectral solver: at a scale where
    # the textbook iteration reaches a lower maximum they give the highest one too.
    import dask.array as da

    from skreuse.transferability import logme_score_from_stats

    F, Y, brute = _two_maxima_with_brute_force(60, 8, 8, 0)
    expected = np.mean([best for best, _ in brute])
    F = F * 1e-3
    score = logme_score_from_stats(F.T @ F, F.T @ Y, Y.T @ Y, 60)
    assert score == pytest.approx(expected, rel=1e-8)
    score = logme_score(da.from_array(F, chunks=(25, 8)), Y, task="regression")
    assert score == pytest.approx(expected, rel=1e-8)


def test_logme_selector_head_of_two_maxima_is_the_highest():
    # LogMESelector's default head streams the statistics (n >= D): its score and its
    # LogME are the highest maximum as well.
    from skreuse.selection import LogMESelector

    F, Y, brute = _two_maxima_with_brute_force(60, 8, 8, 0)
    expected = np.mean([best for best, _ in brute])
    selector = LogMESelector([("scaled", lambda Z: np.asarray(Z) * 1e-3)]).fit(F, Y)
    assert selector.scores_["scaled"] == pytest.approx(expected, rel=1e-8)
    assert selector.estimator_.logme_ == pytest.approx(expected, rel=1e-8)


def test_logme_of_one_column_with_two_maxima_is_the_highest():
    # A single target (a 1-D regression y) takes the second start as well as several do.
    F, Y, brute = _two_maxima_with_brute_force(60, 8, 8, 0)
    two = [j for j, (_, maxima) in enumerate(brute) if len(maxima) == 2]
    assert two
    for j in two:
        for c in (1e-3, 1.0, 1e3):
            assert logme_score(F * c, Y[:, j], task="regression") == pytest.approx(
                brute[j][0], rel=1e-8
            )


@pytest.mark.parametrize("seed", range(5))
def test_logme_of_two_maxima_is_the_same_at_every_scale(seed):
    # Barely more rows than features (16 x 12, rank 10): at large scales the second start
    # must come from the top of the grid, near the largest eigenvalue.
    F, Y = _two_maxima_problem(16, 12, 10, 3, seed)
    _, unit, _ = _logme_fit(F, Y, task="regression")
    for c in (1e-6, 1e-2, 1e2, 1e6):
        _, result, _ = _logme_fit(F * c, Y, task="regression")
        np.testing.assert_allclose(result["evidence"], unit["evidence"], rtol=1e-8)


# Every score of _FEATURE_SCORES but LogME (a linear model without intercept) is invariant
# to a shift of the features.
@pytest.mark.parametrize("name", _FEATURE_SCORES[1:])
def test_scores_of_features_far_from_the_origin_are_those_of_the_centred_ones(name):
    # These scores do not change when the features are shifted. Around 1e8, SFDA's
    # discriminant cancelled, and so did the PCA of NLEEP and of PARC (with fewer n_dims
    # than columns): with many more rows than columns scikit-learn's PCA takes its
    # covariance solver, which does not centre first.
    import skreuse.transferability as tf

    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 100)
    F = rng.normal(size=(300, 12)) + 0.8 * y[:, None]
    score = getattr(tf, name)
    kwargs = {"n_dims": 4} if name == "parc_score" else {}
    assert score(F + 1e8, y, **kwargs) == pytest.approx(score(F, y, **kwargs), rel=1e-6)
    # each column at its own offset: each is centred on its own mean
    offsets = 1e8 * rng.uniform(-10.0, 10.0, size=12)
    assert score(F + offsets, y, **kwargs) == pytest.approx(score(F, y, **kwargs), rel=1e-5)
