"""N-LEEP, SFDA and PARC against slow implementations written from their papers' equations."""

import math

import numpy as np
import pytest
from scipy import linalg
from scipy.stats import rankdata
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from skreuse.transferability import nleep_score, parc_score, sfda_score


def _task(seed, n=120, d=6, n_classes=3, signal=1.5):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, n_classes, size=n)
    centres = rng.normal(size=(n_classes, d))
    X = signal * centres[y] + rng.normal(size=(n, d)) * rng.uniform(0.5, 2, size=d)
    return X, y


# -- slow N-LEEP (Li et al., CVPR'21, Sec. 3) ------------------------------------------------


def _slow_nleep(X, y, component_ratio=5, variance=0.8, seed=0):
    n = len(y)
    classes = sorted(set(y.tolist()))
    Z = PCA(n_components=variance).fit_transform(X)
    n_comp = min(math.ceil(component_ratio * len(classes)), n)
    post = GaussianMixture(n_components=n_comp, random_state=seed).fit(Z).predict_proba(Z)
    # Empirical joint P(y, v), marginal P(v), conditional P(y | v), one entry at a time.
    joint = {(c, v): 0.0 for c in classes for v in range(n_comp)}
    for i in range(n):
        for v in range(n_comp):
            joint[(y[i], v)] += post[i, v] / n
    total = 0.0
    for i in range(n):
        s = 0.0
        for v in range(n_comp):
            marginal = sum(joint[(c, v)] for c in classes)
            if marginal > 0:
                s += joint[(y[i], v)] / marginal * post[i, v]
        total += math.log(s)
    return total / n


@pytest.mark.parametrize(
    ("seed", "n_classes", "ratio"), [(0, 2, 5), (1, 3, 5), (2, 4, 2), (3, 3, 1.5)]
)
def test_nleep_matches_the_slow_definition(seed, n_classes, ratio):
    X, y = _task(seed, n_classes=n_classes)
    expected = _slow_nleep(X, y, component_ratio=ratio, seed=seed)
    got = nleep_score(X, y, component_ratio=ratio, random_state=seed)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_nleep_labels_and_bounds():
    X, y = _task(5)
    a = nleep_score(X, y, random_state=0)
    b = nleep_score(X, np.array(["a", "b", "c"])[y], random_state=0)
    assert a == pytest.approx(b)
    assert a <= 0


# -- slow SFDA (Shao et al., ECCV'22, Sec. 3.2-3.3) -------------------------------------------


def _slow_fda_proba(X, y, classes, shrinkage):
    """Regularized FDA as the paper writes it: generalized eigenvectors of (S_b, S_w)."""
    n, d = X.shape
    priors = np.array([np.mean(y == c) for c in classes])
    means = np.array([X[y == c].mean(axis=0) for c in classes])
    Sw = np.zeros((d, d))
    for k, c in enumerate(classes):
        Xc = X[y == c] - means[k]
        Sw += priors[k] * (Xc.T @ Xc) / len(Xc)
    if shrinkage is None:
        shrinkage = max(math.exp(-5 * np.max(np.linalg.eigvalsh(Sw))), 1e-10)
    Xc = X - X.mean(axis=0)
    St = Xc.T @ Xc / n
    St = (1 - shrinkage) * St + shrinkage * np.trace(St) / d * np.eye(d)
    Sw = (1 - shrinkage) * Sw + shrinkage * np.trace(Sw) / d * np.eye(d)
    evals, V = linalg.eigh(St - Sw, Sw)
    V = V[:, np.argsort(evals)[::-1]]
    coef = means @ V @ V.T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    scores = X @ coef.T + intercept
    proba = np.exp(scores - scores.max(axis=1, keepdims=True))
    return proba / proba.sum(axis=1, keepdims=True), means, shrinkage


def _slow_sfda(X, y):
    classes = sorted(set(y.tolist()))
    proba, means, shrinkage = _slow_fda_proba(X, y, classes, None)
    mixed = X.copy()
    for i in range(len(y)):
        k = classes.index(y[i])
        soft = np.exp(proba[i]) / np.exp(proba[i]).sum()
        others = np.mean([means[j] for j in range(len(classes)) if j != k], axis=0)
        mixed[i] = soft[k] * X[i] + (1 - soft[k]) * others
    proba, _, _ = _slow_fda_proba(mixed, y, classes, shrinkage)
    return np.mean([proba[i, classes.index(y[i])] for i in range(len(y))])


@pytest.mark.parametrize(
    ("seed", "n", "d", "n_classes", "scale"),
    [(0, 120, 6, 3, 1.0), (1, 60, 10, 2, 1.0), (2, 200, 4, 5, 0.1), (3, 40, 30, 4, 1.0)],
)
def test_sfda_matches_the_slow_definition(seed, n, d, n_classes, scale):
    X, y = _task(seed, n=n, d=d, n_classes=n_classes)
    X = scale * X
    X_before = X.copy()
    assert sfda_score(X, y) == pytest.approx(_slow_sfda(X, y), rel=1e-7)
    np.testing.assert_array_equal(X, X_before)


# -- slow PARC (Bolya et al., NeurIPS'21, Sec. 4) ---------------------------------------------


def _pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def _slow_parc(X, y, n_dims=32):
    n, d = X.shape
    if n_dims is not None and n_dims < d:
        X = PCA(n_components=min(n_dims, n)).fit_transform(X)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    onehot = np.eye(len(np.unique(y)))[np.unique(y, return_inverse=True)[1]]
    df, dl = [], []
    for i in range(n):
        for j in range(i + 1, n):
            df.append(1 - _pearson(X[i], X[j]))
            dl.append(1 - _pearson(onehot[i], onehot[j]))
    # Spearman = Pearson of the (average-tie) ranks. The label dissimilarities take two
    # values (0 and C / (C - 1)); rounding keeps the pairs tied as they are exactly.
    return 100 * _pearson(rankdata(df), rankdata(np.round(dl, 9)))


@pytest.mark.parametrize(
    ("seed", "n", "d", "n_classes", "n_dims"),
    [(0, 60, 6, 3, 32), (1, 50, 40, 2, 8), (2, 80, 5, 5, None), (3, 30, 12, 4, 3)],
)
def test_parc_matches_the_slow_definition(seed, n, d, n_classes, n_dims):
    X, y = _task(seed, n=n, d=d, n_classes=n_classes)
    assert parc_score(X, y, n_dims=n_dims) == pytest.approx(_slow_parc(X, y, n_dims), rel=1e-9)


def test_parc_bad_input():
    X, y = _task(0)
    with pytest.raises(ValueError, match="at least 2 columns"):
        parc_score(X[:, :1], y)
    with pytest.raises(ValueError, match="n_dims"):
        parc_score(X, y, n_dims=1)


# -- ordering sanity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "score",
    [
        lambda X, y: nleep_score(X, y, random_state=0),
        sfda_score,
        parc_score,
    ],
    ids=["nleep", "sfda", "parc"],
)
def test_informative_features_beat_noise_and_scores_grow_with_signal(score):
    rng = np.random.RandomState(0)
    y = rng.randint(0, 4, size=200)
    noise = rng.normal(size=(200, 8))
    centres = rng.normal(size=(4, 8))
    values = [score(s * centres[y] + noise, y) for s in (0.0, 0.5, 1.5, 4.0)]
    assert values[-1] > values[0]
    assert np.all(np.diff(values) > 0), values


@pytest.mark.parametrize("score", [nleep_score, sfda_score, parc_score])
def test_bad_labels_raise(score):
    X, y = _task(0)
    with pytest.raises(ValueError, match="y has 119 samples"):
        score(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        score(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="NaN"):
        score(np.where(np.eye(*X.shape, dtype=bool), np.nan, X), y)


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    X, y = _task(1)
    Xt = torch.from_numpy(X)
    assert sfda_score(Xt, y) == pytest.approx(sfda_score(X, y))
    assert parc_score(Xt, y) == pytest.approx(parc_score(X, y))
    assert nleep_score(Xt, y, random_state=0) == pytest.approx(nleep_score(X, y, random_state=0))
