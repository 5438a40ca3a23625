"""Tests of hypothesis transfer: the biased-regularization solvers and the estimators."""

import copy
import pickle
import warnings
from itertools import product

import numpy as np
import pytest
from scipy.optimize import approx_fprime, minimize
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_regression,
)
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skreuse.datasets._scenarios import draw_shots, useless_source
from skreuse.training import (
    HypothesisTransferClassifier,
    HypothesisTransferRegressor,
    _hypothesis_transfer,
)
from skreuse.training._biased_regularization import (
    _log_softmax_rows,
    biased_logistic_log_evidence,
    fit_biased_logistic,
    fit_biased_ridge,
    prior_mean,
)
from skreuse.training._hypothesis_transfer import _N_FOLDS, _folds, _WeightedGram


def _ridge_objective(W, b, X, Y, W0, lam, alpha, s, b0=None, lam_b=0.0):
    R = X @ W.T + b - Y
    obj = s @ (R**2).sum(axis=1) + lam * ((W - W0) ** 2).sum() + alpha * (W**2).sum()
    if lam_b:
        obj += lam_b * ((b - b0) ** 2).sum()
    return obj


def _ridge_gradient(W, b, X, Y, W0, lam, alpha, s, b0=None, lam_b=0.0):
    """Gradient of the stated squared-loss objective, written the slow way."""
    gW = 2 * lam * (W - W0) + 2 * alpha * W
    gb = np.zeros_like(b)
    for i in range(X.shape[0]):
        e = W @ X[i] + b - Y[i]
        gW += 2 * s[i] * np.outer(e, X[i])
        gb += 2 * s[i] * e
    if lam_b:
        gb += 2 * lam_b * (b - b0)
    return gW, gb


@pytest.mark.parametrize(("n", "d"), [(40, 6), (8, 30)])
@pytest.mark.parametrize("lam_b", [0.0, 0.7])
def test_biased_ridge_first_order_optimality(n, d, lam_b):
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, 3))
    W0, b0 = rng.normal(size=(3, d)), rng.normal(size=3)
    s = rng.uniform(0.2, 2.0, size=n)
    W, b = fit_biased_ridge(
        X, Y, W0, lam=0.5, alpha=0.3, sample_weight=s, b0=b0, lam_intercept=lam_b
    )
    gW, gb = _ridge_gradient(W, b, X, Y, W0, 0.5, 0.3, s, b0, lam_b)
    assert np.abs(gW).max() < 1e-8
    assert np.abs(gb).max() < 1e-8


def test_biased_ridge_limits_and_plain_ridge():
    rng = np.random.RandomState(1)
    X, y = rng.normal(size=(30, 5)), rng.normal(size=30)
    W0 = rng.normal(size=(1, 5))
    coef, b = fit_biased_ridge(X, y, W0, lam=0.0, alpha=2.0)
    ref = Ridge(alpha=2.0).fit(X, y)
    np.testing.assert_allclose(coef[0], ref.coef_, rtol=1e-10)
    np.testing.assert_allclose(b[0], ref.intercept_, rtol=1e-10)
    coef, _ = fit_biased_ridge(X, y, W0, lam=1e12)
    np.testing.assert_allclose(coef, W0, atol=1e-9)
    coef, _ = fit_biased_ridge(X, y, W0, lam=np.inf)
    np.testing.assert_array_equal(coef, W0)


def test_biased_ridge_dual_equals_primal_and_weights_equal_repeats():
    rng = np.random.RandomState(2)
    X, y = rng.normal(size=(6, 20)), rng.normal(size=6)
    W0 = rng.normal(size=(1, 20))
    s = np.array([1, 2, 1, 3, 1, 1])
    coef, b = fit_biased_ridge(X, y, W0, lam=0.4, sample_weight=s)
    rep = np.repeat(np.arange(6), s)
    coef_r, b_r = fit_biased_ridge(X[rep], y[rep], W0, lam=0.4)
    np.testing.assert_allclose(coef, coef_r, atol=1e-10)
    np.testing.assert_allclose(b, b_r, atol=1e-10)


def _logistic_objective(theta, X, y, k, W0, b0, lam, alpha, s, lam_b):
    d = X.shape[1]
    W, b = theta[: k * d].reshape(k, d), theta[k * d :]
    Z = X @ W.T + b
    if k == 1:
        loss = s @ (np.log1p(np.exp(Z[:, 0])) - y * Z[:, 0])
    else:
        loss = s @ (np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(y)), y])
    return loss + lam * ((W - W0) ** 2).sum() + alpha * (W**2).sum() + lam_b * ((b - b0) ** 2).sum()


def _random_logistic_problem(seed, n, d, n_classes):
    """``(rng, X, y, k)``: Gaussian rows, random labels and the number of weight rows
    (one for a binary problem); ``rng`` goes on to draw the rest of the problem."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    y = rng.randint(n_classes, size=n)
    return rng, X, y, 1 if n_classes == 2 else n_classes


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(("lam", "alpha"), [(0.05, 0.0), (0.0, 0.05)])
def test_biased_logistic_weighted_rows_equal_repeated_rows_to_rounding_error(n_classes, lam, alpha):
    # A flat objective (60 features, 15 rows, weak penalty): L-BFGS alone stops where its
    # line search no longer lowers the objective, and the weighted and the repeated
    # problem came out 4e-7 apart; the Newton steps after it reach rounding error.
    rng = np.random.RandomState(42)
    X, y = rng.rand(15, 60), rng.randint(0, n_classes, size=15)
    s = rng.randint(0, 5, size=15).astype(float)
    rep = np.repeat(np.arange(15), s.astype(int))
    kw = dict(lam=lam, alpha=alpha, lam_intercept=100.0, tol=1e-8)
    W, b = fit_biased_logistic(X, y, n_classes, None, sample_weight=s, **kw)
    W_rep, b_rep = fit_biased_logistic(X[rep], y[rep], n_classes, None, **kw)
    np.testing.assert_allclose(W, W_rep, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b, b_rep, rtol=0, atol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("lam_b", [0.0, 0.5])
def test_biased_logistic_first_order_optimality(n_classes, lam_b):
    rng, X, y, k = _random_logistic_problem(3, 50, 4, n_classes)
    W0, b0 = rng.normal(size=(k, 4)), rng.normal(size=k)
    s = rng.uniform(0.5, 2.0, size=50)
    W, b = fit_biased_logistic(
        X,
        y,
        n_classes,
        W0,
        b0,
        lam=0.8,
        alpha=0.1,
        sample_weight=s,
        lam_intercept=lam_b,
        tol=1e-10,
    )
    theta = np.r_[W.ravel(), b]
    grad = approx_fprime(theta, _logistic_objective, 1e-7, X, y, k, W0, b0, 0.8, 0.1, s, lam_b)
    assert np.abs(grad).max() < 1e-4


@pytest.mark.parametrize("n_classes", [2, 3])
def test_biased_logistic_prior_far_out_in_rescaled_columns(n_classes):
    # Columns around 2**510 are rescaled inside the solver, and a prior mean of about 10
    # becomes about 3e154 there: its squared pull overflowed (an infinite loss where it
    # is finite, and L-BFGS stopped at its start), and lam / col**2 underflowed for
    # larger columns (0 * inf, a NaN). In the rows' units the pull's gradient there is
    # about 1e-153 of the data's, so the fit is the unpenalized logistic regression.
    rng, X, y, k = _random_logistic_problem(5, 60, 3, n_classes)
    W0 = 10.0 * rng.normal(size=(k, 3))
    t = 2.0**510
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        W, b = fit_biased_logistic(X * t, y, n_classes, W0, lam=0.5, alpha=0.2, tol=1e-10)
    ours = [w for w in caught if "_biased_regularization" in w.filename]
    assert not ours, [str(w.message) for w in ours]
    Z = X @ (W * t).T + b
    proba = softmax(np.column_stack([np.zeros(len(Z)), Z]) if k == 1 else Z, axis=1)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(proba, ref.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_biased_logistic_limits(n_classes):
    rng, X, y, k = _random_logistic_problem(4, 60, 4, n_classes)
    W0 = rng.normal(size=(k, 4))
    C = 0.7
    W, b = fit_biased_logistic(X, y, n_classes, W0, lam=0.0, alpha=1 / (2 * C), tol=1e-10)
    ref = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(W, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(b, ref.intercept_, atol=1e-5)
    W, _ = fit_biased_logistic(X, y, n_classes, W0, lam=1e9)
    np.testing.assert_allclose(W, W0, atol=1e-6)
    W, _ = fit_biased_logistic(X, y, n_classes, W0, lam=np.inf)
    np.testing.assert_array_equal(W, W0)


@pytest.mark.parametrize(
    ("n", "fit_intercept", "lam_b"), [(30, True, 0.0), (6, True, 0.3), (6, False, 0)]
)
def test_biased_ridge_closed_form_matches_lbfgs(n, fit_intercept, lam_b):
    # Per-feature pulls (one of them zero) and an offset, against L-BFGS on the squared loss.
    rng = np.random.RandomState(5)
    d, k = 10, 2
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, k))
    W0, b0, offset = rng.normal(size=(k, d)), rng.normal(size=k), rng.normal(size=(n, k))
    lam = rng.uniform(0.1, 2.0, size=d)
    lam[0] = 0.0
    s = rng.uniform(0.5, 2.0, size=n)
    W, b = fit_biased_ridge(
        X,
        Y,
        W0,
        lam=lam,
        alpha=0.2,
        sample_weight=s,
        fit_intercept=fit_intercept,
        b0=b0,
        lam_intercept=lam_b,
        offset=offset,
    )

    def objective(theta):
        Wt = theta[: k * d].reshape(k, d)
        bt = theta[k * d :] if fit_intercept else np.zeros(k)
        R = X @ Wt.T + bt + offset - Y
        obj = s @ (R**2).sum(axis=1) + (lam * (Wt - W0) ** 2).sum() + 0.2 * (Wt**2).sum()
        return obj + lam_b * ((bt - b0) ** 2).sum()

    theta0 = np.zeros(k * d + (k if fit_intercept else 0))
    res = minimize(objective, theta0, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15})
    np.testing.assert_allclose(W.ravel(), res.x[: k * d], atol=1e-4)
    if fit_intercept:
        np.testing.assert_allclose(b, res.x[k * d :], atol=1e-4)
    assert objective(np.r_[W.ravel(), b if fit_intercept else []]) <= res.fun + 1e-9


# -- estimators --------------------------------------------------------------------------------


def _shifted_digits():
    """Digits (source) and digits blurred horizontally by one pixel (target)."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    perm = np.random.RandomState(0).permutation(len(y))
    src, tgt = perm[:900], perm[900:]
    images = X[tgt].reshape(-1, 8, 8)
    shifted = np.zeros_like(images)
    shifted[:, :, 1:] = images[:, :, :-1]
    X_target = (0.5 * images + 0.5 * shifted).reshape(-1, 64)
    return X[src], y[src], X_target, y[tgt]


def test_transfer_beats_target_only_and_source_only_on_shifted_digits():
    Xs, ys, Xt, yt = _shifted_digits()
    source = LogisticRegression(C=1.0, max_iter=2000).fit(Xs, ys)
    acc = {"source": [], "target": [], "transfer": []}
    for seed in range(4):
        rng = np.random.RandomState(seed)
        train = np.concatenate(
            [rng.choice(np.flatnonzero(yt == c), 5, replace=False) for c in range(10)]
        )
        test = np.setdiff1d(np.arange(len(yt)), train)
        acc["source"].append(source.score(Xt[test], yt[test]))
        # alpha = 1 / (2 C): the same L2 strength as the target-only model.
        target_only = LogisticRegression(C=1.0, max_iter=2000).fit(Xt[train], yt[train])
        acc["target"].append(target_only.score(Xt[test], yt[test]))
        transfer = HypothesisTransferClassifier(source, lam=0.5).fit(Xt[train], yt[train])
        acc["transfer"].append(transfer.score(Xt[test], yt[test]))
    mean = {k: np.mean(v) for k, v in acc.items()}
    print("shifted digits, 5 shots per class:", {k: round(v, 3) for k, v in mean.items()})
    assert mean["transfer"] > mean["target"] + 0.02
    assert mean["transfer"] > mean["source"] + 0.02


def test_classifier_lam_limits_and_lbfgs_optimality():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    source = LogisticRegression().fit(X[:300], y[:300])
    Xt, yt = X[300:340], y[300:340]
    clf = HypothesisTransferClassifier(source, lam=0.0, alpha=0.5, tol=1e-10).fit(Xt, yt)
    ref = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(Xt, yt)
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    clf = HypothesisTransferClassifier(source, lam=np.inf).fit(Xt, yt)
    np.testing.assert_array_equal(clf.coef_, source.coef_)
    # The intercept is refitted, not pulled, unless lam_intercept says so.
    assert clf.intercept_[0] != pytest.approx(source.intercept_[0])
    clf = HypothesisTransferClassifier(source, lam=np.inf, lam_intercept=np.inf).fit(Xt, yt)
    np.testing.assert_allclose(clf.decision_function(X), source.decision_function(X))
    # gradient of the stated objective at the solution, by finite differences
    clf = HypothesisTransferClassifier(source, lam=2.0, alpha=0.1, tol=1e-10).fit(Xt, yt)
    theta = np.r_[clf.coef_.ravel(), clf.intercept_]
    args = (Xt, yt, 1, source.coef_, source.intercept_, 2.0, 0.1, np.ones(len(yt)), 0.0)
    grad = approx_fprime(theta, _logistic_objective, 1e-7, *args)
    assert np.abs(grad).max() < 1e-4


def test_regressor_matches_closed_form_ridge_and_limits():
    X, y = load_diabetes(return_X_y=True)
    source = Ridge(alpha=0.1).fit(X[:300], y[:300])
    Xt, yt = X[300:330], y[300:330]
    reg = HypothesisTransferRegressor(source, lam=0.0, alpha=3.0).fit(Xt, yt)
    ref = Ridge(alpha=3.0).fit(Xt, yt)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)
    assert reg.intercept_ == pytest.approx(ref.intercept_)
    reg = HypothesisTransferRegressor(source, lam=1e12).fit(Xt, yt)
    np.testing.assert_allclose(reg.coef_, source.coef_, rtol=1e-6)
    # lam in between: W = W_src + Ridge(lam) fitted on the residual of the source.
    reg = HypothesisTransferRegressor(source, lam=0.7).fit(Xt, yt)
    resid = Ridge(alpha=0.7).fit(Xt, yt - Xt @ source.coef_)
    np.testing.assert_allclose(reg.coef_, source.coef_ + resid.coef_, rtol=1e-8)
    assert reg.coef_.shape == (10,)
    assert isinstance(reg.intercept_, float)


def test_fewer_samples_than_features_and_sample_weights():
    rng = np.random.RandomState(0)
    w = rng.normal(size=200)
    X, y = rng.normal(size=(15, 200)), None
    y = X @ w
    source = (w + 0.1 * rng.normal(size=200), 0.0)
    reg = HypothesisTransferRegressor(source, lam=1.0).fit(X, y)
    X_test = rng.normal(size=(100, 200))
    assert reg.score(X_test, X_test @ w) > 0.9
    assert Ridge(alpha=1.0).fit(X, y).score(X_test, X_test @ w) < 0.3
    s = rng.randint(1, 4, size=15)
    rep = np.repeat(np.arange(15), s)
    a = HypothesisTransferRegressor(source, lam=1.0).fit(X, y, sample_weight=s)
    b = HypothesisTransferRegressor(source, lam=1.0).fit(X[rep], y[rep])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
    yc = (X[:, 0] > 0).astype(int)
    source_clf = (np.ones((1, 200)), np.zeros(1))
    a = HypothesisTransferClassifier(source_clf, tol=1e-10).fit(X, yc, sample_weight=s)
    b = HypothesisTransferClassifier(source_clf, tol=1e-10).fit(X[rep], yc[rep])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-5)


def test_dataframes_and_source_fitted_on_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = load_wine(return_X_y=True, as_frame=True)
    X = (X - X.mean()) / X.std()
    source = LogisticRegression().fit(X.iloc[::2], y.iloc[::2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in ("biased", "residual"):
            clf = HypothesisTransferClassifier(source, mode=mode).fit(X.iloc[1::4], y.iloc[1::4])
            np.testing.assert_array_equal(clf.feature_names_in_, X.columns.to_numpy(dtype=object))
            assert clf.score(X, y) > 0.9
    assert isinstance(X, pd.DataFrame)


def test_classes_matched_by_label():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica", "new"])
    source = LogisticRegression(max_iter=1000).fit(X, labels[y])
    rng = np.random.RandomState(0)
    Xt = rng.normal(size=(40, 4))
    yt = labels[1 + np.arange(40) % 3]  # versicolor, virginica, new
    with pytest.warns(UserWarning, match=r"\['setosa'\].*dropped"):
        clf = HypothesisTransferClassifier(source).fit(Xt, yt)
    np.testing.assert_array_equal(clf.classes_, ["new", "versicolor", "virginica"])
    np.testing.assert_array_equal(clf.source_coef_[0], 0.0)
    np.testing.assert_array_equal(clf.source_coef_[1:], source.coef_[1:])
    np.testing.assert_array_equal(clf.source_intercept_[1:], source.intercept_[1:])
    # a binary target reduces the class rows to one: class 1 minus class 0
    binary = labels[1 + np.arange(40) % 2]
    with pytest.warns(UserWarning, match="dropped"):
        clf = HypothesisTransferClassifier(source).fit(Xt, binary)
    np.testing.assert_allclose(clf.source_coef_[0], source.coef_[2] - source.coef_[1])
    # a binary source's single row plays -w/2 and w/2 for its two classes
    src2 = LogisticRegression(max_iter=1000).fit(X[y > 0], labels[y[y > 0]])
    yt3 = labels[np.arange(40) % 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no source class is dropped here
        clf = HypothesisTransferClassifier(src2).fit(Xt, yt3)
    np.testing.assert_allclose(clf.source_coef_[1], -src2.coef_[0] / 2)
    np.testing.assert_allclose(clf.source_coef_[2], src2.coef_[0] / 2)
    np.testing.assert_array_equal(clf.source_coef_[0], 0.0)


def test_residual_fixed_weight_is_ridge_on_source_residual():
    X, y = load_diabetes(return_X_y=True)
    source = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(X[:300], y[:300])
    Xt, yt = X[300:340], y[300:340]
    reg = HypothesisTransferRegressor(source, mode="residual", lam=0.3).fit(Xt, yt)
    ref = Ridge(alpha=0.3).fit(Xt, yt - source.predict(Xt))
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)
    np.testing.assert_allclose(reg.predict(X[340:]), ref.predict(X[340:]) + source.predict(X[340:]))
    np.testing.assert_array_equal(reg.source_weights_, [[1.0]])
    reg2 = HypothesisTransferRegressor(
        [source, source], mode="residual", source_weights=[0.25, 0.75], lam=0.3
    ).fit(Xt, yt)
    np.testing.assert_allclose(reg2.predict(Xt), reg.predict(Xt))


def test_residual_learned_weights_ignore_useless_and_adversarial_sources():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.RandomState(0)
    noise = DecisionTreeClassifier(random_state=0).fit(X[:200], rng.permutation(y[:200]))
    adversarial = LogisticRegression().fit(X[:200], 1 - y[:200])
    acc = {"target": [], "useless": [], "adversarial": [], "fixed": []}
    useless_share, adversarial_sign = [], []
    for seed in range(3):
        r = np.random.RandomState(seed)
        train = (
            200
            + np.r_[
                r.choice(np.flatnonzero(y[200:] == 0), 10),
                r.choice(np.flatnonzero(y[200:] == 1), 10),
            ]
        )
        test = np.setdiff1d(np.arange(200, len(y)), train)
        base = HypothesisTransferClassifier(None, lam=1.0).fit(X[train], y[train])
        acc["target"].append(base.score(X[test], y[test]))
        for name, src in (("useless", noise), ("adversarial", adversarial)):
            clf = HypothesisTransferClassifier(
                src, mode="residual", source_weights="learn", lam=1.0, source_reg=1.0
            ).fit(X[train], y[train])
            acc[name].append(clf.score(X[test], y[test]))
            beta = clf.source_weights_[0, 0]
            if name == "useless":
                # share of the source's term in the decision function's spread
                proba = src.predict_proba(X[test])
                spread = np.std(clf.decision_function(X[test]))
                useless_share.append(np.std(beta * (proba[:, 1] - proba[:, 0])) / spread)
            else:
                adversarial_sign.append(np.sign(beta))
        fixed = HypothesisTransferClassifier(adversarial, mode="residual", lam=1.0)
        acc["fixed"].append(fixed.fit(X[train], y[train]).score(X[test], y[test]))
    assert np.mean(useless_share) < 0.15
    assert np.all(np.array(adversarial_sign) < 0)  # its signal is used, negated
    mean = {k: np.mean(v) for k, v in acc.items()}
    assert mean["useless"] > mean["target"] - 0.03
    assert mean["adversarial"] > mean["target"] - 0.03
    # a fixed weight of 1 on the adversarial source is much worse: the learned weight matters
    assert np.mean(acc["fixed"]) < mean["adversarial"] - 0.05


def test_residual_learned_weights_regression_useless_source_gets_near_zero_weight():
    X, y = load_diabetes(return_X_y=True)
    y = (y - y.mean()) / y.std()
    rng = np.random.RandomState(0)
    good = Ridge(alpha=0.01).fit(X[:300], y[:300])
    # non-linear, so that its scores are not in the span of the inputs' own weights
    useless = DecisionTreeRegressor(max_depth=4, random_state=0).fit(
        X[:300], rng.permutation(y[:300])
    )
    reg = HypothesisTransferRegressor(
        [good, useless], mode="residual", source_weights="learn", lam=1.0, source_reg=1.0
    ).fit(X[300:360], y[300:360])
    beta_good, beta_useless = reg.source_weights_[0]
    assert beta_good > 0.5
    assert abs(beta_useless) < 0.25 * beta_good


def test_sources_never_modified_and_clone_keeps_fitted_source():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    source = LogisticRegression().fit(X[:300], y[:300])
    before = pickle.dumps(source)
    grid = GridSearchCV(
        HypothesisTransferClassifier(source, mode="residual"), {"lam": [0.1, 10.0]}, cv=3
    ).fit(X[300:360], y[300:360])
    assert pickle.dumps(source) == before
    assert grid.best_estimator_.source is source
    assert grid.best_estimator_.sources_[0] is not source
    assert clone(HypothesisTransferClassifier(source)).source is source


def test_bad_sources_raise_clear_errors():
    X, y = load_breast_cancer(return_X_y=True)
    source = LogisticRegression(max_iter=5000).fit(X[:, :10], y)
    with pytest.raises(ValueError, match="source has weights of shape .* X has 30 features"):
        HypothesisTransferClassifier(source).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 10 features but X has 30"):
        HypothesisTransferClassifier(source, mode="residual").fit(X, y)
    with pytest.raises(NotFittedError, match="'source' .* is not fitted"):
        HypothesisTransferClassifier(LogisticRegression()).fit(X, y)
    with pytest.raises(NotFittedError, match="not fitted"):
        HypothesisTransferClassifier(RandomForestClassifier(), mode="residual").fit(X, y)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="not a linear model .* mode='residual'"):
        HypothesisTransferClassifier(forest).fit(X, y)
    with pytest.raises(TypeError, match="must be a fitted estimator"):
        HypothesisTransferClassifier(object(), mode="residual").fit(X, y)
    with pytest.raises(ValueError, match="source_weights='learn' needs mode='residual'"):
        HypothesisTransferClassifier(forest, source_weights="learn").fit(X, y)
    with pytest.raises(ValueError, match="one weight per source"):
        HypothesisTransferClassifier(forest, mode="residual", source_weights=[1, 2]).fit(X, y)
    with pytest.raises(ValueError, match="source has no classes_ to match"):
        HypothesisTransferClassifier((np.zeros((3, 30)), np.zeros(3))).fit(X, y)
    with pytest.raises(ValueError, match="source has 2 output"):
        HypothesisTransferRegressor((np.zeros((2, 30)), np.zeros(2))).fit(X, y)


def test_residual_base_scores_matched_by_label():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["a", "b", "c", "d"])
    source = LogisticRegression(max_iter=1000).fit(X, labels[y])  # knows a, b, c
    yt = labels[1 + np.arange(len(y)) % 3]  # b, c, d
    with pytest.warns(UserWarning, match=r"\['a'\].*dropped"):
        clf = HypothesisTransferClassifier(source, mode="residual", lam=1.0).fit(X, yt)
    linear = X @ clf.coef_.T + clf.intercept_
    src = source.decision_function(X)
    expected = np.column_stack([src[:, 1], src[:, 2], np.zeros(len(X))])
    np.testing.assert_allclose(clf.decision_function(X) - linear, expected, atol=1e-10)


def test_multi_output_regression_source():
    rng = np.random.RandomState(0)
    W = rng.normal(size=(3, 8))
    Xs = rng.normal(size=(200, 8))
    source = Ridge(alpha=0.1).fit(Xs, Xs @ W.T)
    X = rng.normal(size=(12, 8))
    Y = X @ (W + 0.1 * rng.normal(size=W.shape)).T
    reg = HypothesisTransferRegressor(source, lam=2.0).fit(X, Y)
    coef, intercept = fit_biased_ridge(X, Y, source.coef_, lam=2.0)
    np.testing.assert_allclose(reg.coef_, coef)
    np.testing.assert_allclose(reg.predict(X), X @ coef.T + intercept)
    assert reg.coef_.shape == (3, 8)


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


@pytest.mark.parametrize(("lam", "source_reg"), [(0.3, 20.0), (20.0, 0.3)])
def test_learned_source_weights_regressor_minimize_the_stated_objective(lam, source_reg):
    # ||y - X Delta - G beta - b||^2 + lam ||Delta||^2 + source_reg ||beta||^2, with the
    # two penalties different so that swapping them changes the minimizer; solved here
    # directly from the normal equations of the centred problem (b is not penalized).
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = y / 50.0
    sources = [
        Ridge(alpha=10.0).fit(X[:300], y[:300]),
        DecisionTreeRegressor(max_depth=3, random_state=0).fit(X[:300], -y[:300]),
    ]
    Xt, yt = X[300:340], y[300:340]
    reg = HypothesisTransferRegressor(
        sources, mode="residual", source_weights="learn", lam=lam, source_reg=source_reg
    ).fit(Xt, yt)
    G = np.column_stack([s.predict(Xt) for s in sources])
    Z = np.hstack([Xt, G])
    Zc, yc = Z - Z.mean(axis=0), yt - yt.mean()
    penalty = np.diag(np.r_[np.full(X.shape[1], lam), np.full(2, source_reg)])
    w = np.linalg.solve(Zc.T @ Zc + penalty, Zc.T @ yc)
    np.testing.assert_allclose(reg.coef_, w[: X.shape[1]], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(reg.source_weights_, w[None, X.shape[1] :], rtol=1e-8, atol=1e-10)
    assert reg.intercept_ == pytest.approx(yt.mean() - Z.mean(axis=0) @ w, abs=1e-10)
    np.testing.assert_allclose(reg.predict(Xt), Z @ w + reg.intercept_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(("lam", "source_reg"), [(0.5, 10.0), (10.0, 0.5)])
def test_learned_source_weights_classifier_minimize_the_stated_objective(lam, source_reg):
    # Binary log-loss summed over rows + lam ||Delta||^2 + source_reg ||beta||^2, minimized
    # here by scipy on the concatenated parameters [Delta, beta, b].
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :6]
    source = LogisticRegression().fit(X[:200], y[:200])
    Xt, yt = X[200:260], y[200:260]
    clf = HypothesisTransferClassifier(
        source, mode="residual", source_weights="learn", lam=lam, source_reg=source_reg
    ).fit(Xt, yt)
    G = clf._base_scores(Xt, None)
    Z = np.hstack([Xt, G])
    d, H = Xt.shape[1], G.shape[1]
    penalty = np.r_[np.full(d, lam), np.full(H, source_reg)]
    sign = 2.0 * yt - 1.0

    def objective(p):
        z = Z @ p[:-1] + p[-1]
        grad_z = -sign / (1.0 + np.exp(sign * z))
        value = np.sum(np.logaddexp(0.0, -sign * z)) + penalty @ p[:-1] ** 2
        return value, np.r_[Z.T @ grad_z + 2.0 * penalty * p[:-1], grad_z.sum()]

    res = minimize(
        objective,
        np.zeros(d + H + 1),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 5000},
    )
    np.testing.assert_allclose(clf.coef_.ravel(), res.x[:d], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(clf.source_weights_.ravel(), res.x[d:-1], rtol=1e-4, atol=1e-5)
    assert clf.intercept_[0] == pytest.approx(res.x[-1], rel=1e-4, abs=1e-5)


# -- lam="auto": the evidence and the choice it makes ----------------------------------------


def _laplace_by_hand(X, y, n_classes, W0, b0, lam, alpha, lam_b):
    """Laplace log evidence from a numerical Hessian of the penalized objective."""
    from skreuse.training._biased_regularization import biased_logistic_log_evidence

    k = 1 if n_classes == 2 else n_classes
    d = X.shape[1]
    W, b = fit_biased_logistic(
        X, y, n_classes, W0, b0, lam=lam, alpha=alpha, lam_intercept=lam_b, tol=1e-12
    )
    theta = np.r_[np.column_stack([W, b]).ravel()]

    def energy(t):
        Wb = t.reshape(k, d + 1)
        Z = X @ Wb[:, :d].T + Wb[:, d]
        if k == 1:
            loss = np.sum(np.logaddexp(0, Z[:, 0]) - y * Z[:, 0])
        else:
            loss = -np.sum(Z[np.arange(len(y)), y] - np.logaddexp.reduce(Z, axis=1))
        # The prior N(lam W0 / (lam + alpha), 1 / (2 (lam + alpha))) per weight.
        mean = lam * W0 / (lam + alpha)
        return (
            loss
            + (lam + alpha) * np.sum((Wb[:, :d] - mean) ** 2)
            + lam_b * np.sum((Wb[:, d] - b0) ** 2)
        )

    eps = 1e-4
    p = theta.size
    H = np.zeros((p, p))
    for i in range(p):
        e = np.zeros(p)
        e[i] = eps
        H[i] = (approx_fprime(theta + e, energy, 1e-6) - approx_fprime(theta - e, energy, 1e-6)) / (
            2 * eps
        )
    H = (H + H.T) / 2
    prec = np.tile(np.r_[np.full(d, 2 * (lam + alpha)), 2 * lam_b], k)
    expected = -energy(theta) + 0.5 * np.sum(np.log(prec)) - 0.5 * np.linalg.slogdet(H)[1]
    got = biased_logistic_log_evidence(
        X, y, n_classes, W, b, W0, b0, lam=lam, alpha=alpha, lam_intercept=lam_b
    )
    return got, expected


@pytest.mark.parametrize("n_classes", [2, 3])
def test_log_evidence_is_the_laplace_formula_with_a_numerical_hessian(n_classes):
    rng, X, y, k = _random_logistic_problem(0, 15, 3, n_classes)
    W0, b0 = rng.normal(size=(k, 3)), rng.normal(size=k)
    got, expected = _laplace_by_hand(X, y, n_classes, W0, b0, lam=0.7, alpha=0.2, lam_b=0.4)
    assert got == pytest.approx(expected, rel=1e-4)


def test_log_evidence_matches_numerical_integration_in_one_dimension():
    # One weight, no intercept: the evidence is a 1-D integral; for 40 rows the
    # posterior is close to Gaussian, so Laplace must be close to it.
    from scipy.integrate import quad

    from skreuse.training._biased_regularization import biased_logistic_log_evidence

    rng = np.random.RandomState(1)
    x = rng.normal(size=(40, 1))
    y = (x[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(int)
    lam, w0 = 0.5, 1.0

    def integrand(w):
        z = w * x[:, 0]
        loglik = np.sum(y * z - np.logaddexp(0, z))
        return np.exp(loglik - lam * (w - w0) ** 2) * np.sqrt(lam / np.pi)

    exact = np.log(quad(integrand, -20, 20, points=[0, 1, 2, 3])[0])
    W, b = fit_biased_logistic(x, y, 2, [[w0]], lam=lam, fit_intercept=False, tol=1e-12)
    laplace = biased_logistic_log_evidence(x, y, 2, W, b, [[w0]], lam=lam, fit_intercept=False)
    # The Gaussian prior's normalizer differs from the evidence's convention only by
    # the factor (2 pi)^(-1/2) * sqrt(2 lam) / sqrt(lam / pi) = 1.
    assert laplace == pytest.approx(exact, abs=0.02)


def _irrelevant_and_perfect_sources(seed, n_per_class):
    rng = np.random.RandomState(seed)
    w = rng.normal(size=10)
    X = rng.normal(size=(2000, 10))
    y = (X @ w + 0.5 * rng.normal(size=2000) > 0).astype(int)
    perfect = LogisticRegression(C=100, max_iter=1000).fit(X[1000:], y[1000:])
    # An irrelevant source: fitted to labels of an unrelated direction.
    y_other = (X[1000:] @ rng.normal(size=10) > 0).astype(int)
    irrelevant = LogisticRegression(C=100, max_iter=1000).fit(X[1000:], y_other)
    train = np.r_[
        rng.choice(np.flatnonzero(y[:1000] == 0), n_per_class, replace=False),
        rng.choice(np.flatnonzero(y[:1000] == 1), n_per_class, replace=False),
    ]
    test = np.setdiff1d(np.arange(1000), train)
    return X, y, train, test, perfect, irrelevant


def test_auto_falls_back_to_target_only_with_an_irrelevant_source():
    gaps, dropped = [], 0
    for seed in range(8):
        X, y, train, test, _, irrelevant = _irrelevant_and_perfect_sources(seed, 15)
        auto = HypothesisTransferClassifier(irrelevant).fit(X[train], y[train])
        target_only = LogisticRegression().fit(X[train], y[train])
        gaps.append(auto.score(X[test], y[test]) - target_only.score(X[test], y[test]))
        dropped += auto.lam_ == 0  # share 0: the source is left out of the prior
    # Within noise of the target-only model, and the source dropped nearly always.
    assert np.mean(gaps) > -0.02
    assert dropped >= 6


def test_auto_keeps_a_perfect_source():
    no_source, shares = [], []
    for seed in range(4):
        X, y, train, test, perfect, _ = _irrelevant_and_perfect_sources(seed, 3)
        auto = HypothesisTransferClassifier(perfect).fit(X[train], y[train])
        no_source.append(auto.candidate_weights_[auto.candidates_[:, 0] == 0].sum())
        assert auto.score(X[test], y[test]) >= perfect.score(X[test], y[test]) - 0.01
        residual = HypothesisTransferClassifier(perfect, mode="residual").fit(X[train], y[train])
        # The averaged share of the source's base scores.
        assert residual.source_weights_[0, 0] == pytest.approx(
            residual.candidate_weights_ @ residual.candidates_[:, 0]
        )
        shares.append(residual.source_weights_[0, 0])
        assert residual.score(X[test], y[test]) >= perfect.score(X[test], y[test]) - 0.01
    # The source is kept: the odds are for reusing it, and the fits without it get no
    # weight.
    assert np.max(no_source) == 0.0
    assert np.mean(shares) > 0.5
    # With two rows per class the held-out rows are four, and one of them near the
    # boundary can favour the fits without the source: the source is dropped on 2 of the
    # first 20 draws (28 points of accuracy lost on them) and kept on the others.
    kept = 0
    for seed in range(20):
        X, y, train, test, perfect, _ = _irrelevant_and_perfect_sources(seed, 2)
        auto = HypothesisTransferClassifier(perfect).fit(X[train], y[train])
        kept += auto.candidate_weights_[auto.candidates_[:, 0] == 0].sum() == 0.0
    assert kept >= 17


def test_auto_drops_a_useless_source():
    # A source fitted to shuffled labels: its probabilities are all near the class
    # frequencies, in a random direction. Averaging its fits with the target's own, as
    # the weights did before the odds decided between the two, gave a model worse than
    # the target-only one (0.4 to 1.0 point on these draws, 15 points at one row per
    # class of wine).
    for name, shots in (("breast_cancer", 3), ("wine", 5)):
        gaps, dropped = [], 0
        for seed in range(200, 210):
            s = useless_source(name, random_state=seed)
            rng = np.random.RandomState(seed)
            useless = LogisticRegression(max_iter=1000).fit(s.X_source, s.y_source)
            train, test = draw_shots(s.y_target, shots, rng, 300)
            X, y = s.X_target[train], s.y_target[train]
            auto = HypothesisTransferClassifier(useless).fit(X, y)
            target_only = LogisticRegression(max_iter=1000).fit(X, y)
            X_test, y_test = s.X_target[test], s.y_target[test]
            gaps.append(auto.score(X_test, y_test) - target_only.score(X_test, y_test))
            dropped += auto.candidate_weights_[auto.candidates_[:, 0] > 0].sum() == 0.0
        assert dropped >= 7, (name, dropped)
        assert np.mean(gaps) > -0.01, (name, gaps)


def test_held_out_folds_are_stratified_grouped_and_independent_of_the_row_order():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = np.repeat([0, 1, 2], [20, 14, 6])
    weights = np.ones(40)
    weights[[3, 25]] = 0.0
    X[5], y[5] = X[4], y[4]  # an identical row of the same class
    X[7], y[7] = X[30], 0  # an identical row of another class
    folds = _folds(X, y, weights)
    # Rows of zero weight are never held out; the others fill _N_FOLDS folds.
    assert np.all(folds[[3, 25]] == -1)
    assert set(folds[weights > 0]) == set(range(_N_FOLDS))
    # Identical rows of a class are held out together (so integer weights act as repeated
    # rows); identical rows of different classes are distinct rows.
    assert folds[5] == folds[4]
    # Stratified: each class's distinct rows spread over the folds as evenly as they can.
    distinct = (weights > 0) & (np.arange(40) != 5)
    for c in range(3):
        counts = np.bincount(folds[(y == c) & distinct], minlength=_N_FOLDS)
        assert counts.max() - counts.min() <= 1
    # The folds follow the rows, not their order.
    order = rng.permutation(40)
    np.testing.assert_array_equal(_folds(X[order], y[order], weights[order]), folds[order])
    # Fewer groups than _N_FOLDS: leave-one-out; a single group: no folds at all.
    assert sorted(_folds(X[8:14], y[8:14], np.ones(6))) == list(range(6))
    assert sorted(_folds(X[8:10], y[8:10], np.ones(2))) == [0, 1]
    np.testing.assert_array_equal(_folds(X[:2], y[:2], np.array([1.0, 0.0])), [-1, -1])


@pytest.mark.parametrize("mode", ["biased", "residual"])
def test_auto_with_integer_weights_equals_repeated_rows(mode):
    # The class totals that balance the held-out score are weight totals, not row counts:
    # here each class's rows carry another weight (3, 1, 2), so counts would weigh the
    # classes 1:1:1 where the repeated rows weigh them 3:1:2.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(15, 3))
    y = np.arange(15) % 3
    source = LogisticRegression().fit(X + rng.normal(size=X.shape), y)
    weights = np.array([3, 1, 2])[y]
    rep = np.repeat(np.arange(15), weights)
    weighted = HypothesisTransferClassifier(source, mode=mode).fit(X, y, sample_weight=weights)
    repeated = HypothesisTransferClassifier(source, mode=mode).fit(X[rep], y[rep])
    np.testing.assert_allclose(
        weighted.candidate_weights_, repeated.candidate_weights_, rtol=1e-6, atol=1e-10
    )
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-6, atol=1e-10
    )


def test_auto_with_a_class_of_zero_weight_raises_no_warning():
    # A class whose rows all weigh 0 has no total to balance by: it is left out of the
    # held-out score's scaling (no division by zero).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(15, 3))
    y = np.arange(15) % 3
    source = LogisticRegression().fit(X + rng.normal(size=X.shape), y)
    weights = np.where(y == 2, 0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = HypothesisTransferClassifier(source).fit(X, y, sample_weight=weights)
    assert np.all(np.isfinite(clf.coef_))
    np.testing.assert_allclose(clf.candidate_weights_.sum(), 1.0)


def _expected_weights(log_lik, shares):
    """The weights of lam="auto" written out: the held-out likelihoods times even prior
    odds on the source (half the mass on the candidates of share 0, half on the others,
    evenly within each half), normalized; then the kind with the larger posterior mass
    (the source's on a tie) keeps its weights, renormalized, and the other gets none."""
    log_lik, shares = np.asarray(log_lik, dtype=float), np.asarray(shares, dtype=float)
    none = shares == 0
    if none.all() or not none.any():
        prior = np.full(len(shares), 1.0 / len(shares))
    else:
        prior = np.where(none, 0.5 / none.sum(), 0.5 / (~none).sum())
    post = prior * np.exp(log_lik - log_lik.max())
    post /= post.sum()
    if none.any() and not none.all():
        keep = none if post[none].sum() > 0.5 else ~none
        post = np.where(keep, post, 0.0) / post[keep].sum()
    return post


def _held_out_log_likelihood(fit_on, y, folds):
    """Sum over the folds of the log-likelihood of the held-out labels ``y`` (codes), each
    class's rows weighted by the mean class size over its size (every class weighs
    alike): ``fit_on(sample_weight)`` fits with the fold's weights zeroed and returns the
    log-probabilities of the rows of a boolean mask."""
    counts = np.bincount(y)
    balance = counts[counts > 0].mean() / np.maximum(counts, 1)
    total = 0.0
    for fold in range(folds.max() + 1):
        held = folds == fold
        log_proba = fit_on(np.where(held, 0.0, 1.0))(held)
        total += balance[y[held]] @ log_proba[np.arange(held.sum()), y[held]]
    return total


def test_auto_is_the_held_out_likelihood_weighted_average_of_the_candidates():
    X, y, train, _, good, irrelevant = _irrelevant_and_perfect_sources(0, 5)
    # Ten rows: leave-one-out, whatever the assignment of the folds.
    folds = np.arange(10)
    for source in (good, irrelevant):
        a = HypothesisTransferClassifier(source).fit(X[train], y[train])
        b = HypothesisTransferClassifier(source).fit(X[train], y[train])
        np.testing.assert_array_equal(a.coef_, b.coef_)
        # Every candidate refitted through the public API: prior mean ``share`` times the
        # source, intercept pulled as strongly toward the same share of the source's;
        # each row left out in turn (its weight zeroed, its class kept) and scored.
        coefs, intercepts, log_lik, n_iters = [], [], [], []
        for share, strength in product((1.0, 0.5, 0.0), (100.0, 30.0, 10.0, 3.0, 1.0, 0.3, 0.1)):
            W0, b0 = share * source.coef_, share * source.intercept_

            def fit_on(sample_weight, W0=W0, b0=b0, strength=strength, n_iters=n_iters):
                fixed = HypothesisTransferClassifier((W0, b0), lam=strength, lam_intercept=strength)
                fixed.fit(X[train], y[train], sample_weight=sample_weight)
                n_iters.append(fixed.n_iter_)
                return lambda rows: fixed.predict_log_proba(X[train][rows])

            log_lik.append(_held_out_log_likelihood(fit_on, y[train], folds))
            fixed = HypothesisTransferClassifier((W0, b0), lam=strength, lam_intercept=strength)
            fixed.fit(X[train], y[train])
            coefs.append(fixed.coef_)
            intercepts.append(fixed.intercept_)
            n_iters.append(fixed.n_iter_)
        weights = _expected_weights(log_lik, a.candidates_[:, 0])
        np.testing.assert_allclose(a.candidate_weights_, weights, atol=1e-6)
        np.testing.assert_allclose(a.candidate_weights_.sum(), 1.0)
        np.testing.assert_allclose(a.coef_, np.tensordot(weights, coefs, axes=1), atol=1e-5)
        np.testing.assert_allclose(a.intercept_, weights @ np.array(intercepts), atol=1e-5)
        # The fits of the folds start from the candidate's fit on every row.
        assert 0 < a.n_iter_ <= max(n_iters)
        # lam_ and alpha_ are the penalties of the candidate with the largest weight.
        share, strength = a.candidates_[np.argmax(a.candidate_weights_)]
        assert (a.lam_, a.alpha_) == pytest.approx((share * strength, (1 - share) * strength))
    # The candidates' weights put the good source first and drop the irrelevant one.
    for source, kept in ((good, True), (irrelevant, False)):
        a = HypothesisTransferClassifier(source).fit(X[train], y[train])
        assert (a.candidate_weights_[a.candidates_[:, 0] == 0].sum() < 0.5) == kept


def _evidence_the_slow_way(
    X, Y, counts, M, penalty, offset=None, fit_intercept=True, return_precisions=False
):
    """Log marginal likelihood of the targets of the rows repeated ``counts`` times:
    every output a multivariate normal ``N(X M', sigma^2 (I + X diag(1 / penalty) X'))``
    (``scipy.stats``) at its maximum-likelihood ``sigma^2``, the flat intercept
    integrated out by projecting on the complement of the constant vector; up to a
    constant that depends on the rows only. ``return_precisions``: also the outputs'
    ``1 / sigma^2``."""
    from scipy.linalg import null_space
    from scipy.stats import multivariate_normal

    rep = np.repeat(np.arange(len(X)), counts)
    Xr, Yr = X[rep], Y.reshape(len(X), -1)[rep]
    R = Yr - (0.0 if offset is None else offset.reshape(len(X), -1)[rep])
    if M is not None:
        R = R - Xr @ np.atleast_2d(M).T
    n = len(rep)
    C = np.eye(n)
    penalty = np.broadcast_to(np.asarray(penalty, dtype=float), (X.shape[1],))
    if not np.all(np.isinf(penalty)):
        C = C + (Xr / penalty) @ Xr.T
    if fit_intercept:
        Q = null_space(np.ones((1, n)))
        R, C = Q.T @ R, Q.T @ C @ Q
    total, precisions = 0.0, []
    for r in R.T:
        sigma2 = r @ np.linalg.solve(C, r) / len(r)
        total += multivariate_normal(np.zeros(len(r)), sigma2 * C).logpdf(r)
        precisions.append(1.0 / sigma2)
    return (total, np.array(precisions)) if return_precisions else total


def _candidate_model(source, share, strength):
    """The fixed-``lam`` regressor of one candidate of ``lam="auto"`` (biased mode)."""
    if np.isinf(strength):
        return HypothesisTransferRegressor(source, lam=np.inf)
    return HypothesisTransferRegressor(source, lam=share * strength, alpha=(1 - share) * strength)


@pytest.mark.parametrize("mode", ["biased", "residual"])
def test_regressor_auto_averages_the_candidates_by_their_evidence(mode):
    # Bayesian model averaging: the weights are the candidates' marginal likelihoods
    # written the slow way (scipy's multivariate normal), normalized, and the model
    # averages their weights and intercepts.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 6))
    w = rng.normal(size=6)
    y = X @ w + 0.3 * rng.normal(size=12) + 2.0
    source = Ridge().fit(rng.normal(size=(200, 6)), rng.normal(size=(200, 6)) @ (w + 0.5))
    reg = HypothesisTransferRegressor(source, mode=mode).fit(X, y)
    W0 = source.coef_
    base = source.predict(X)
    slow, models = [], []
    unit = np.mean(X.var(axis=0))
    for share, strength in reg.candidates_:
        if mode == "biased":
            models.append(_candidate_model(source, share, strength).fit(X, y))
            slow.append(_evidence_the_slow_way(X, y, 1, share * W0, strength))
        else:
            # The correction pulled toward zero, per unit of the inputs' variance; the
            # share of the source's predictions an offset.
            slow.append(_evidence_the_slow_way(X, y, 1, None, unit * strength, share * base))
    slow = np.array(slow)
    expected = np.exp(slow - slow.max()) / np.exp(slow - slow.max()).sum()
    np.testing.assert_allclose(reg.candidate_weights_, expected, rtol=1e-6, atol=1e-12)
    if mode == "biased":
        np.testing.assert_allclose(
            reg.coef_, expected @ np.array([m.coef_ for m in models]), rtol=1e-6
        )
        np.testing.assert_allclose(
            reg.intercept_, expected @ np.array([m.intercept_ for m in models]), rtol=1e-6
        )
        # The source's weights as they are (the intercept fitted: the evidence leaves it
        # free for every candidate).
        assert tuple(reg.candidates_[0]) == (1.0, np.inf)
        np.testing.assert_array_equal(models[0].coef_, W0)
    else:
        # The averaged share of the source's predictions.
        assert reg.source_weights_[0, 0] == pytest.approx(
            reg.candidate_weights_ @ reg.candidates_[:, 0]
        )


def test_regressor_auto_reuses_a_good_source_and_drops_a_useless_one():
    # Diabetes split along a random direction (a shifted target), seeds 100-109, a
    # source fitted to the other side's targets or to them shuffled, 10 or 20 rows.
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    scores = {}
    for seed in range(100, 110):
        rng = np.random.RandomState(seed)
        side = X @ rng.normal(size=X.shape[1]) < 0
        for kind in ("good", "useless"):
            ys = y[side] if kind == "good" else rng.permutation(y[side])
            source = LinearRegression().fit(X[side], ys)
            Xt, yt = X[~side], y[~side]
            for n in (10, 20):
                idx = rng.permutation(len(yt))
                tr, te = idx[:n], idx[n:]
                row = [
                    HypothesisTransferRegressor(source).fit(Xt[tr], yt[tr]).score(Xt[te], yt[te]),
                    source.score(Xt[te], yt[te]),
                    RidgeCV().fit(Xt[tr], yt[tr]).score(Xt[te], yt[te]),
                ]
                scores.setdefault((kind, n), []).append(row)
    mean = {key: np.mean(value, axis=0) for key, value in scores.items()}
    # Measured (auto, source as it is, RidgeCV): good source 0.264, 0.351, -0.500 with
    # 10 rows and 0.359, 0.350, 0.223 with 20; useless source 0.069, -0.521, 0.049 and
    # 0.204, -0.516, 0.209. GCV: 0.061 and 0.330; -0.276 and 0.141.
    auto, source_only, target_only = mean[("good", 10)]
    assert auto > source_only - 0.1
    assert auto > target_only + 0.5
    auto, source_only, target_only = mean[("good", 20)]
    assert auto > max(source_only, target_only) - 0.01
    auto, source_only, target_only = mean[("useless", 10)]
    assert auto > max(source_only, target_only) + 0.01
    auto, source_only, target_only = mean[("useless", 20)]
    assert auto > max(source_only, target_only) - 0.01


def test_auto_learns_a_class_the_source_does_not_know():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.RandomState(0)
    half = rng.permutation(len(y)) < len(y) // 2
    known = half & (y != 0)
    source = LogisticRegression(max_iter=1000).fit(X[known], y[known])  # classes 1, 2
    scores = []
    for seed in range(5):
        rng = np.random.RandomState(seed)
        pool = np.flatnonzero(~half)
        shots = np.concatenate([rng.choice(pool[y[pool] == c], 2, replace=False) for c in range(3)])
        test = np.setdiff1d(pool, shots)
        for mode in ("biased", "residual"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                clf = HypothesisTransferClassifier(source, mode=mode).fit(X[shots], y[shots])
            pred = clf.predict(X[test])
            # The source alone never predicts class 0; the transferred model does.
            assert np.any(pred == 0)
            scores.append(
                clf.score(X[test], y[test])
                - LogisticRegression().fit(X[shots], y[shots]).score(X[test], y[test])
            )
    assert np.mean(scores) > -0.03


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_outputs_agree_with_its_decision_function(n_classes):
    # predict, predict_proba and predict_log_proba are the logistic model of the decision
    # scores: sigmoid / threshold 0 for two classes, softmax / argmax otherwise.
    from scipy.special import expit, softmax

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    keep = y < n_classes
    X, y = X[keep], np.array(["a", "b", "c"])[y[keep]]
    source = LogisticRegression(C=0.05).fit(X[::2], y[::2])
    for mode in ("biased", "residual"):
        clf = HypothesisTransferClassifier(source, mode=mode, lam=0.5).fit(X[1::2], y[1::2])
        scores = clf.decision_function(X)
        if n_classes == 2:
            assert scores.shape == (len(X),)
            proba = np.column_stack([1 - expit(scores), expit(scores)])
            pred = clf.classes_[(scores > 0).astype(int)]
            assert np.abs(scores).min() < 1.0  # rows near the boundary are checked too
        else:
            proba = softmax(scores, axis=1)
            pred = clf.classes_[scores.argmax(axis=1)]
        np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10)
        np.testing.assert_array_equal(clf.predict(X), pred)
        assert 0 < np.mean(pred == y) <= 1


@pytest.mark.parametrize("as_list", [False, True])
def test_residual_mode_without_source_is_ridge(as_list):
    # No source: the base scores are an empty block, and the model is Ridge(alpha=lam);
    # a list of rows (no .shape) takes the same path.
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:80], y[:80]
    rows = X.tolist() if as_list else X
    reg = HypothesisTransferRegressor(None, mode="residual", lam=0.7).fit(rows, y)
    ridge = Ridge(alpha=0.7).fit(X, y)
    np.testing.assert_allclose(reg.coef_, ridge.coef_, rtol=1e-8)
    np.testing.assert_allclose(reg.predict(rows[:5]), ridge.predict(X[:5]), rtol=1e-8)


def test_two_sources_default_to_their_average_and_refit_forgets_the_old_mode():
    X, y = load_diabetes(return_X_y=True)
    sources = [Ridge(alpha=a).fit(X[:200], y[:200]) for a in (0.1, 10.0)]
    mean = (
        np.mean([s.coef_ for s in sources], axis=0),
        np.mean([s.intercept_ for s in sources]),
    )
    Xt, yt = X[200:260], y[200:260]
    # biased mode: W_src is the average of the two sources' weights
    both = HypothesisTransferRegressor(sources, lam=2.0).fit(Xt, yt)
    averaged = HypothesisTransferRegressor(mean, lam=2.0).fit(Xt, yt)
    np.testing.assert_allclose(both.coef_, averaged.coef_, rtol=1e-10)
    np.testing.assert_allclose(both.source_coef_, mean[0][None, :], rtol=1e-12)
    # residual mode: the base score is the average of the two predictions
    reg = HypothesisTransferRegressor(sources, mode="residual", lam=2.0).fit(Xt, yt)
    np.testing.assert_allclose(reg.source_weights_, [[0.5, 0.5]])
    # refitting in another mode leaves no attribute of the previous one
    reg.set_params(mode="biased").fit(Xt, yt)
    assert not hasattr(reg, "sources_")
    assert not hasattr(reg, "source_weights_")
    np.testing.assert_allclose(reg.predict(Xt), both.predict(Xt), rtol=1e-12)
    reg.set_params(mode="residual").fit(Xt, yt)
    assert not hasattr(reg, "source_coef_")
    assert not hasattr(reg, "source_intercept_")


@pytest.mark.parametrize("source_weights", [None, "learn"])
def test_residual_mode_sample_weight_equals_repeated_rows(source_weights):
    X, y = load_diabetes(return_X_y=True)
    source = Ridge(alpha=1.0).fit(X[:200], y[:200])
    Xt, yt = X[200:240], y[200:240]
    counts = np.arange(len(yt)) % 3 + 1
    params = dict(mode="residual", source_weights=source_weights, lam=0.3, source_reg=3.0)
    weighted = HypothesisTransferRegressor(source, **params).fit(Xt, yt, sample_weight=counts)
    repeated = HypothesisTransferRegressor(source, **params).fit(
        np.repeat(Xt, counts, axis=0), np.repeat(yt, counts)
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weighted.predict(Xt), repeated.predict(Xt), rtol=1e-10)


def test_biased_intercept_pull_and_no_intercept_with_two_sources():
    X, y = load_diabetes(return_X_y=True)
    sources = [Ridge(alpha=a).fit(X[:200] + s, y[:200]) for a, s in ((0.1, 0.0), (10.0, 0.05))]
    mean = (
        np.mean([s.coef_ for s in sources], axis=0),
        np.mean([s.intercept_ for s in sources]),
    )
    Xt, yt = X[200:230], y[200:230]
    for params in ({"lam_intercept": 50.0}, {"fit_intercept": False}):
        both = HypothesisTransferRegressor(sources, lam=2.0, **params).fit(Xt, yt)
        averaged = HypothesisTransferRegressor(mean, lam=2.0, **params).fit(Xt, yt)
        np.testing.assert_allclose(both.coef_, averaged.coef_, rtol=1e-10)
        assert both.intercept_ == pytest.approx(averaged.intercept_, rel=1e-10, abs=1e-12)
    assert both.intercept_ == 0.0
    # Pulled hard, the score at the centre of the rows is the averaged source's there.
    pulled = HypothesisTransferRegressor(sources, lam=2.0, lam_intercept=1e9).fit(Xt, yt)
    m = Xt.mean(axis=0)
    assert pulled.intercept_ + pulled.coef_ @ m == pytest.approx(mean[1] + mean[0] @ m, rel=1e-5)
    assert not np.allclose(pulled.coef_, mean[0])


# -- source plumbing: what is taken from a source, and what is said about it ----------------


class _ScoresOnly(BaseEstimator):
    """A fitted source with ``decision_function`` but no ``predict``."""

    def __init__(self, w):
        self.w = np.asarray(w, dtype=float)
        self.fitted_ = True

    def fit(self, X, y):
        return self

    def decision_function(self, X):
        return np.asarray(X) @ self.w


class _LinearNoIntercept(BaseEstimator):
    """Fitted linear weights, with an ``intercept_`` only when given."""

    def __init__(self, coef, intercept=None):
        self.coef_ = np.asarray(coef)
        if intercept is not None:
            self.intercept_ = intercept

    def fit(self, X, y):
        return self

    def decision_function(self, X):
        return np.asarray(X) @ self.coef_.T + getattr(self, "intercept_", 0.0)


class _PredictOnly:
    def predict(self, X):
        return np.zeros(len(X))


class _FitOnly:
    def fit(self, X, y):
        return self


def _binary_data(seed=0, n=40, d=3):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    y = (X @ np.arange(1.0, d + 1) > 0).astype(int)
    return X, y


def test_defaults_are_the_documented_ones():
    assert HypothesisTransferClassifier().get_params() == dict(
        source=None,
        lam="auto",
        mode="biased",
        source_weights=None,
        alpha=0.0,
        source_reg=1.0,
        fit_intercept=True,
        lam_intercept=0.0,
        max_iter=1000,
        tol=1e-8,
    )
    assert HypothesisTransferRegressor().get_params() == dict(
        source=None,
        lam="auto",
        mode="biased",
        source_weights=None,
        alpha=0.0,
        source_reg=1.0,
        fit_intercept=True,
        lam_intercept=0.0,
    )


def test_source_with_only_a_decision_function_gives_the_base_scores():
    X, y = _binary_data()
    source = _ScoresOnly([1.0, -2.0, 0.5])
    clf = HypothesisTransferClassifier(source, mode="residual", lam=np.inf).fit(X, y)
    # With Delta held at zero the decision is the source's score plus the intercept.
    np.testing.assert_allclose(
        clf.decision_function(X) - clf.intercept_[0], source.decision_function(X)
    )


def test_linear_source_without_intercept_is_a_zero_intercept_source():
    X, y = _binary_data()
    source = _LinearNoIntercept([[1.0, -2.0, 0.5]])
    clf = HypothesisTransferClassifier(source, lam=np.inf, lam_intercept=np.inf).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, [[1.0, -2.0, 0.5]])
    np.testing.assert_array_equal(clf.intercept_, [0.0])
    with_b = _LinearNoIntercept([[1.0, -2.0, 0.5]], intercept=0.25)
    clf = HypothesisTransferClassifier(with_b, lam=np.inf, lam_intercept=np.inf).fit(X, y)
    np.testing.assert_array_equal(clf.intercept_, [0.25])


@pytest.mark.parametrize("part", [_PredictOnly, _FitOnly])
def test_a_pair_of_models_is_not_a_weight_pair(part):
    X, y = _binary_data()
    with pytest.raises(TypeError, match="source must be a fitted linear model"):
        HypothesisTransferClassifier((part(), part()), lam=1.0).fit(X, y)


def test_weight_pair_for_a_multiclass_target_has_one_row_per_class():
    X, _ = _binary_data(n=60)
    y = np.arange(60) % 3
    W = np.arange(9.0).reshape(3, 3) / 10
    clf = HypothesisTransferClassifier((W, np.zeros(3)), lam=np.inf).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, W)
    with pytest.raises(ValueError, match="must give 3 score row"):
        HypothesisTransferClassifier((W[:1], np.zeros(1)), lam=1.0).fit(X, y)


def test_source_rows_not_matching_its_classes_are_named():
    X, y = _binary_data()
    source = _LinearNoIntercept(np.ones((2, 3)))
    source.classes_ = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="source knows 3 classes but gives 2"):
        HypothesisTransferClassifier(source, lam=1.0).fit(X, y)


@pytest.mark.parametrize("mode", ["biased", "residual"])
def test_dropped_source_classes_warn_once_at_fit(mode):
    X, _ = _binary_data(n=60)
    y = np.arange(60) % 3
    source = LogisticRegression().fit(X, y)
    with pytest.warns(
        UserWarning, match=r"^source classes \[2\] do not occur in the target"
    ) as rec:
        clf = HypothesisTransferClassifier(source, mode=mode, lam=1.0).fit(X[y < 2], y[y < 2])
    assert len([w for w in rec if issubclass(w.category, UserWarning)]) == 1
    # At the user's line in both modes (the residual one warns from deeper down).
    assert [w.filename for w in rec] == [__file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(X)


def test_unfitted_residual_source_is_named():
    X, y = _binary_data()
    with pytest.raises(NotFittedError, match="'source'"):
        HypothesisTransferClassifier(LogisticRegression(), mode="residual").fit(X, y)
    fitted = LogisticRegression().fit(X, y)
    with pytest.raises(NotFittedError, match=r"'source\[1\]'"):
        HypothesisTransferClassifier([fitted, LogisticRegression()], mode="residual").fit(X, y)


def test_residual_regressor_takes_predictions_of_classifier_and_multioutput_sources():
    X, y = _binary_data()
    # A classifier as the source of a regression: its predicted labels are the scores.
    clf_source = LogisticRegression().fit(X, y)
    reg = HypothesisTransferRegressor(clf_source, mode="residual", lam=np.inf).fit(X, 2.0 * y)
    np.testing.assert_allclose(reg.predict(X) - reg.intercept_, clf_source.predict(X))
    # Two outputs: one base score per output.
    Y = np.column_stack([X[:, 0], X[:, 1] - X[:, 2]])
    ridge = Ridge(alpha=1e-6).fit(X, Y)
    reg = HypothesisTransferRegressor(ridge, mode="residual", lam=np.inf).fit(X, Y)
    np.testing.assert_allclose(reg.predict(X), ridge.predict(X) + reg.intercept_, atol=1e-9)


def test_classifier_fit_intercept_max_iter_and_ties():
    X, y = _binary_data()
    source = LogisticRegression().fit(X, y)
    clf = HypothesisTransferClassifier(source, lam=1.0, fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(clf.intercept_, [0.0])
    assert HypothesisTransferClassifier(source, lam=0.1, max_iter=1).fit(X, y).n_iter_ <= 1
    # A score of exactly zero goes to the first class, as in scikit-learn.
    zero = (np.zeros((1, 3)), np.zeros(1))
    clf = HypothesisTransferClassifier(zero, lam=np.inf, lam_intercept=np.inf).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), np.zeros(len(X)))


def test_regressor_accepts_numeric_object_targets():
    X, y = _binary_data()
    y_num = X @ [1.0, 2.0, 3.0]
    reg = HypothesisTransferRegressor(lam=1.0).fit(X, y_num.astype(object))
    np.testing.assert_allclose(reg.coef_, HypothesisTransferRegressor(lam=1.0).fit(X, y_num).coef_)


def test_residual_source_output_count_is_checked_with_fixed_weights():
    X, _ = _binary_data()
    two = Ridge().fit(X, np.column_stack([X[:, 0], X[:, 1]]))
    with pytest.raises(ValueError, match="source gives 2 output\\(s\\) but the target needs 1"):
        HypothesisTransferRegressor(two, mode="residual").fit(X, X[:, 0])
    # Learned weights take every output column as a feature instead.
    reg = HypothesisTransferRegressor(two, mode="residual", source_weights="learn").fit(X, X[:, 0])
    assert reg.source_weights_.shape == (1, 2)


def test_residual_sources_are_deep_copies():
    X, y = _binary_data()
    source = LogisticRegression().fit(X, y)
    clf = HypothesisTransferClassifier(source, mode="residual", lam=1.0).fit(X, y)
    before = clf.decision_function(X)
    source.coef_[:] = 0.0
    np.testing.assert_array_equal(clf.decision_function(X), before)


def test_prediction_checks_the_feature_count():
    X, y = _binary_data()
    clf = HypothesisTransferClassifier(lam=1.0).fit(X, y)
    with pytest.raises(ValueError, match="is expecting 3 features"):
        clf.predict(X[:, :2])


def test_log_softmax_rows_is_scipys_to_the_bit():
    # The log-loss's own log-softmax gives scipy's numbers exactly (the fits, which
    # follow them step by step, are then those of scipy's), non-finite rows included.
    rng = np.random.RandomState(0)
    Z = rng.normal(scale=30.0, size=(50, 7))
    Z[1, 2], Z[2, :] = -np.inf, -np.inf
    Z[3, 0], Z[4, 4], Z[5, :] = np.inf, np.nan, 1e308
    with np.errstate(invalid="ignore", over="ignore"):
        ours, theirs = _log_softmax_rows(Z), log_softmax(Z, axis=1)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(_log_softmax_rows(Z[6:]), log_softmax(Z[6:], axis=1))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_log_evidence_is_the_marginal_likelihood_of_repeated_rows(
    fit_intercept, n_outputs
):
    # Integer sample weights: the evidence of the rows repeated as often, written the
    # slow way, for every kind of candidate (the differences between candidates: the
    # evidence is defined up to a constant of the rows).
    rng = np.random.RandomState(n_outputs)
    X = rng.normal(size=(15, 4))
    Y = X @ rng.normal(size=(4, n_outputs)) + rng.normal(size=(15, n_outputs)) + 1.0
    counts = rng.randint(1, 4, size=15)
    s = counts.astype(float)
    offset = rng.normal(size=(15, n_outputs))
    W0 = rng.normal(size=(n_outputs, 4))
    reg = HypothesisTransferRegressor(fit_intercept=fit_intercept)
    ours, slow = [], []
    for lam, alpha, off, pull in (
        (0.3, 0.2, None, 0.0),
        (2.0, 0.0, offset, 0.0),
        (2.0, 0.0, None, 2.0),
        (np.array([0.1, 1, 10, 0.5]), 0.1, None, 0.0),
        (np.inf, 0.0, None, 0.0),
        (np.inf, 0.0, None, np.inf),
    ):
        fit = reg._fit_candidate(
            X, Y, s, W0=W0, lam=lam, alpha=alpha, offset=off, lam_intercept=pull
        )
        ours.append(reg._log_evidence(fit, Y))
        M = prior_mean(W0, lam, alpha)
        slow.append(
            _evidence_the_slow_way(X, Y, counts, M, np.asarray(lam) + alpha, off, fit_intercept)
        )
    # (The intercept's prior does not enter: it is integrated out under a flat one, for
    # every candidate alike.)
    np.testing.assert_allclose(np.diff(ours), np.diff(slow), rtol=1e-8, atol=1e-8)
    # The same rows repeated: the same evidence (weights act as repeated rows).
    rep = np.repeat(np.arange(15), counts)
    fit = reg._fit_candidate(
        X[rep], Y[rep], np.ones(len(rep)), W0=W0, lam=0.3, alpha=0.2, lam_intercept=0.0
    )
    again = reg._fit_candidate(X, Y, s, W0=W0, lam=0.3, alpha=0.2, lam_intercept=0.0)
    assert reg._log_evidence(fit, Y[rep]) == pytest.approx(reg._log_evidence(again, Y), rel=1e-10)
    # Two rows and an intercept: one degree of freedom, still the evidence.
    two = [
        reg._fit_candidate(X[:2], Y[:2], np.ones(2), W0=W0, lam=lam, lam_intercept=0.0)
        for lam in (0.3, np.inf)
    ]
    slow_two = [
        _evidence_the_slow_way(X[:2], Y[:2], 1, W0, lam, None, fit_intercept)
        for lam in (0.3, np.inf)
    ]
    ours_two = [reg._log_evidence(fit, Y[:2]) for fit in two]
    assert ours_two[0] != ours_two[1]
    assert np.diff(ours_two)[0] == pytest.approx(np.diff(slow_two)[0], rel=1e-8)
    # No degree of freedom left (one row and an intercept): every candidate scores the
    # same.
    if fit_intercept:
        for lam in (0.3, np.inf):
            fit = reg._fit_candidate(X[:1], Y[:1], np.ones(1), W0=W0, lam=lam, lam_intercept=0.0)
            assert reg._log_evidence(fit, Y[:1]) == 0.0


def test_regressor_log_evidence_of_a_perfect_fit_is_finite():
    # Targets the source predicts exactly: Q is floored at the targets' rounding level,
    # so the evidence stays finite.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 3))
    w = np.array([1.0, -2.0, 0.5])
    y = X @ w + 3.0
    reg = HypothesisTransferRegressor((w, 3.0)).fit(X, y)
    assert np.all(np.isfinite(reg.candidate_weights_))
    # Every candidate that keeps the whole source fits it exactly (the strongest pulls
    # weigh most: they explain the rows with the least freedom); the others get nothing.
    whole = reg.candidates_[:, 0] == 1.0
    assert reg.candidate_weights_[whole].sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(reg.candidate_weights_[:8]) < 0)
    np.testing.assert_allclose(reg.coef_, w, rtol=1e-12)
    assert reg.intercept_ == pytest.approx(3.0, rel=1e-12)


def _weighted_rows(rng, scale):
    """Weighted rows with a repeated column, more rows than columns and fewer: each as
    ``(X, s, _WeightedGram(X * scale, s), X' diag(s) X)``."""
    for n, d in ((30, 5), (4, 9)):
        X = rng.normal(size=(n, d))
        X[:, -1] = X[:, 0]
        s = rng.uniform(0.5, 2.0, size=n)
        yield X, s, _WeightedGram(X * scale, s), (X * s[:, None]).T @ X


@pytest.mark.parametrize("scale", [1.0, 1e100])
def test_weighted_gram_log_det_is_the_occam_factor(scale):
    # log det(I + G diag(p)^-1) from the eigenvalues (one penalty for all weights) and
    # from the rescaled rows (one per weight) against numpy's slogdet written out: full
    # rank, rank deficient (fewer rows than columns, a repeated column), and inputs whose
    # Gram matrix overflows unless scaled; a zero penalty (an improper prior) is infinite.
    rng = np.random.RandomState(0)
    for X, s, gram, G in _weighted_rows(rng, scale):
        n, d = X.shape
        uneven = rng.uniform(0.1, 3, size=d)
        for p in (np.full(d, 0.7), np.full(d, 1e-3), uneven):
            expected = np.linalg.slogdet(np.eye(d) + G / p)[1]
            assert gram.log_det(p * scale**2) == pytest.approx(expected, rel=1e-9)
        assert gram.log_det(np.r_[0.0, uneven[1:]] * scale**2) == np.inf
        # Shared only by the same rows and weights (copies included).
        assert gram.matches((X * scale).copy(), s.copy())
        assert not gram.matches(X[::-1] * scale, s)
        assert not gram.matches(X * scale, s[::-1])
        assert not gram.matches(X[:, :-1] * scale, s)


@pytest.mark.parametrize("scale", [1.0, 1e100])
def test_weighted_gram_ridge_is_the_penalized_least_squares_solution(scale):
    # The weights from the shared eigendecomposition against pinv(G + p I) X' S R written
    # out: more rows than columns (primal) and fewer (dual), a repeated column, several
    # outputs, inputs whose Gram matrix overflows unless scaled; a penalty that vanishes
    # next to the data gives the minimum-norm least-squares solution.
    rng = np.random.RandomState(1)
    for X, s, gram, G in _weighted_rows(rng, scale):
        n, d = X.shape
        R = rng.normal(size=(n, 2))
        root = np.sqrt(s)[:, None]
        for p in (0.7, 1e-3, 100.0):
            expected = np.linalg.pinv(G + p * np.eye(d)) @ X.T @ (s[:, None] * R)
            np.testing.assert_allclose(
                gram.ridge(root * R, p * scale**2) * scale, expected.T, rtol=1e-8, atol=1e-10
            )
        least_squares = np.linalg.pinv(root * X) @ (root * R)
        np.testing.assert_allclose(
            gram.ridge(root * R, 1e-40 * scale**2) * scale,
            least_squares.T,
            rtol=1e-6,
            atol=1e-8,
        )
    # A Gram matrix that overflows even scaled (no finite entry to scale by) has no
    # decomposition: None, and the caller solves.
    overflowing = _WeightedGram(np.array([[np.inf, 1.0], [1.0, 2.0]]), np.ones(2))
    assert overflowing.ridge(R[:2], 1.0) is None
    # Penalties that differ are the caller's to solve; equal ones are one penalty.
    assert gram.ridge(R, np.linspace(1.0, 2.0, d)) is None
    np.testing.assert_array_equal(gram.ridge(R, np.full(d, 0.7)), gram.ridge(R, 0.7))


@pytest.mark.parametrize(
    ("mode", "source_weights", "lam_intercept", "fit_intercept", "scale"),
    [
        ("biased", None, 0.0, True, 1.0),
        ("residual", None, 0.0, True, 1.0),
        ("residual", "learn", 0.0, True, 1.0),
        ("biased", None, 5.0, True, 1.0),
        ("residual", None, 5.0, True, 1.0),
        ("biased", None, 0.0, False, 1.0),
        ("residual", None, 0.0, False, 1.0),
        ("biased", None, 0.0, True, 1e300),
        ("residual", None, 5.0, True, 1e300),
    ],
)
def test_regressor_candidates_share_one_decomposition(
    mode, source_weights, lam_intercept, fit_intercept, scale, monkeypatch
):
    # lam="auto" decomposes one Gram matrix for all its candidates with one penalty (not
    # those of learned source weights, whose two penalties differ), and each candidate's
    # fit is fit_biased_ridge's on the same rows (with a pulled intercept too); also
    # targets of 1e300, which fit_biased_ridge solves for divided by a power of two.
    X, y = make_regression(n_samples=40, n_features=6, noise=5.0, random_state=0)
    y = y * scale
    source = Ridge().fit(X + 0.3, y)
    reg = HypothesisTransferRegressor(
        source,
        mode=mode,
        source_weights=source_weights,
        lam_intercept=lam_intercept,
        fit_intercept=fit_intercept,
    )
    calls = {"eigen": 0, "shared": 0}
    eigen = _WeightedGram._gram_eigenvalues
    shared = _WeightedGram.ridge
    solve = _hypothesis_transfer.fit_biased_ridge

    def count_eigen(A, vectors=False):
        calls["eigen"] += vectors
        return eigen(A, vectors)

    def count_shared(self, Rs, penalty):
        V = shared(self, Rs, penalty)
        calls["shared"] += V is not None
        return V

    monkeypatch.setattr(_WeightedGram, "_gram_eigenvalues", staticmethod(count_eigen))
    monkeypatch.setattr(_WeightedGram, "ridge", count_shared)
    fits = []
    solve_one = reg._solve

    def record_fit(*args, **kwargs):
        fits.append((args, kwargs, solve_one(*args, **kwargs)))
        return fits[-1][2]

    reg._solve = record_fit
    reg.fit(X, y)
    del reg._solve
    learn = source_weights == "learn"
    # Learned weights: the candidate whose two penalties happen to be equal (strength 1 =
    # source_reg) shares; biased and residual: every candidate but the source as it is.
    # (The evidence takes its eigenvalues from the same decomposition.)
    assert calls["eigen"] == 1
    own_solves = len(reg.candidates_) - calls["shared"]
    # (A pulled intercept is solved apart: on the centred rows the weights do not
    # depend on it.)
    assert own_solves == (6 if learn else 1)
    assert len(fits) == len(reg.candidates_)
    for (Xc, target, s, W0), kwargs, (coef, intercept) in fits:
        del kwargs["start"], kwargs["cache"]
        expected = solve(Xc, target, W0, sample_weight=s, fit_intercept=fit_intercept, **kwargs)
        np.testing.assert_allclose(coef, expected[0], rtol=1e-9, atol=1e-9 * scale)
        np.testing.assert_allclose(intercept, expected[1], rtol=1e-9, atol=1e-9 * scale)


@pytest.mark.parametrize(
    ("mode", "source_weights"), [("biased", None), ("residual", None), ("residual", "learn")]
)
def test_regressor_candidates_share_one_gram_matrix(mode, source_weights):
    # Every candidate's evidence with the shared Gram matrix is the one it gets alone, and
    # all candidates share one matrix (the source kept as it is has none: it fits no
    # weight).
    X, y = make_regression(n_samples=40, n_features=6, noise=5.0, random_state=0)
    source = Ridge().fit(X + 0.3, y)
    reg = HypothesisTransferRegressor(source, mode=mode, source_weights=source_weights)
    seen = {}

    def record(fits, refit, target, prior_knows):
        grams = []
        shared = np.array([reg._log_evidence(fit, target, grams) for fit in fits])
        alone = np.array([reg._log_evidence(fit, target) for fit in fits])
        # A matrix of other rows is not reused.
        other = _WeightedGram(fits[-1]["X"] + 1.0, fits[-1]["sample_weight"])
        np.testing.assert_array_equal(
            [reg._log_evidence(fit, target, [other]) for fit in fits], alone
        )
        seen.update(shared=shared, alone=alone, n_grams=len(grams))
        return shared

    reg._candidate_scores = record
    reg.fit(X, y)
    np.testing.assert_allclose(seen["shared"], seen["alone"], rtol=1e-10)
    assert seen["n_grams"] == 1
    del reg._candidate_scores
    # The fitted model weighs the candidates by their evidence alone.
    alone = seen["alone"]
    np.testing.assert_allclose(
        reg.candidate_weights_, np.exp(alone - alone.max()) / np.exp(alone - alone.max()).sum()
    )


def test_regressor_auto_averages_its_candidates_fits():
    X, _ = _binary_data(n=30, d=4)
    y = X @ [1.0, -1.0, 0.5, 0.0] + np.random.RandomState(0).normal(size=30)
    source = Ridge().fit(X, X @ [1.0, -1.0, 0.0, 0.0])
    reg = HypothesisTransferRegressor(source).fit(X, y)
    assert reg.candidate_weights_.sum() == pytest.approx(1.0)
    s = np.ones(30)
    scores, coefs, intercepts = [], [], []
    for sh, st in reg.candidates_:
        lam, alpha = (np.inf, 0.0) if np.isinf(st) else (sh * st, (1 - sh) * st)
        # (The intercept is free for every candidate.)
        pull = 0.0
        fit = reg._fit_candidate(
            X,
            y,
            s,
            W0=source.coef_[None],
            b0=sh * np.atleast_1d(source.intercept_),
            lam=lam,
            alpha=alpha,
            lam_intercept=pull,
        )
        scores.append(reg._log_evidence(fit, y))
        fit = reg._uncentred(fit)
        coefs.append(fit["coef"][0])
        intercepts.append(fit["intercept"][0])
    weights = np.exp(np.array(scores) - max(scores))
    weights /= weights.sum()
    np.testing.assert_allclose(reg.candidate_weights_, weights, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(reg.coef_, weights @ np.array(coefs), rtol=1e-10)
    assert reg.intercept_ == pytest.approx(weights @ np.array(intercepts), rel=1e-10)
    # lam_ and alpha_ are those of the candidate of largest weight.
    share, strength = reg.candidates_[np.argmax(weights)]
    if np.isinf(strength):
        assert reg.lam_ == np.inf
    else:
        assert (reg.lam_, reg.alpha_) == pytest.approx((share * strength, (1 - share) * strength))


def test_new_class_penalty_caps_the_pull_on_unknown_classes():
    unknown = np.array([False, True, False])
    penalty = HypothesisTransferClassifier._new_class_penalty
    # Known classes keep the candidate's pull; an unknown class gets at most 0.5 in
    # total (with the plain shrinkage alpha counted in), never below zero.
    np.testing.assert_array_equal(penalty(3.0, 0.0, 3.0, unknown, 2), [[3, 3], [0.5, 0.5], [3, 3]])
    np.testing.assert_allclose(penalty(1.5, 0.2, 3.0, unknown, 2)[1], [0.3, 0.3])
    np.testing.assert_allclose(penalty(0.1, 0.0, 0.1, unknown, 2)[1], [0.1, 0.1])
    np.testing.assert_array_equal(penalty(2.0, 1.0, 3.0, unknown, 2)[1], [0.0, 0.0])


def test_learned_source_weights_with_free_input_weights_is_partly_penalized_least_squares():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(30, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=30)
    source = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    reg = HypothesisTransferRegressor(
        source, mode="residual", source_weights="learn", lam=0.0, source_reg=2.0
    ).fit(X, y)
    # Only the source's weight is penalized: least squares on centred [X, g] with a
    # ridge of 2 on the last column, written out.
    A = np.column_stack([X, source.predict(X)])
    Ac, yc = A - A.mean(axis=0), y - y.mean()
    theta = np.linalg.solve(Ac.T @ Ac + np.diag([0.0, 0.0, 0.0, 2.0]), Ac.T @ yc)
    np.testing.assert_allclose(reg.coef_, theta[:3], rtol=1e-8)
    np.testing.assert_allclose(reg.source_weights_.ravel(), theta[3:], rtol=1e-8)


def test_candidate_weights_are_normalized_evidence_with_even_odds_on_the_source():
    def weights(scores, shares=None):
        shares = np.ones(len(scores)) if shares is None else np.asarray(shares)
        return HypothesisTransferClassifier._candidate_weights(np.asarray(scores), shares)

    # Candidates of one kind (e.g. without a source): the normalized evidence.
    np.testing.assert_allclose(weights([0.0, np.log(3.0)]), [0.25, 0.75])
    np.testing.assert_allclose(weights([-1e3, -1e3 + np.log(3.0)]), [0.25, 0.75])
    np.testing.assert_allclose(weights([-np.inf, 0.0]), [0.0, 1.0])
    np.testing.assert_allclose(weights([0.0, np.log(3.0)], [0.0, 0.0]), [0.25, 0.75])
    # No candidate with a finite evidence: nothing to prefer, equal weights.
    np.testing.assert_array_equal(weights(np.full(4, -np.inf)), np.full(4, 0.25))
    # With and without the source: half the prior mass on each kind; the kind with the
    # larger posterior mass keeps its candidates' weights, renormalized.
    shares = [1.0, 1.0, 0.5, 0.5, 0.0, 0.0]
    # Prior 1/8 each with the source, 1/4 without: the no-source kind has posterior mass
    # (e^0.2 + e^1.0) / 4 = 0.98 against (e^0.3 + e^-1 + e^0.1 + e^0.5) / 8 = 0.56.
    scores = [0.3, -1.0, 0.1, 0.5, 0.2, 1.0]
    np.testing.assert_allclose(
        weights(scores, shares), [0, 0, 0, 0, np.exp(0.2), np.exp(1.0)] / np.exp([0.2, 1.0]).sum()
    )
    scores = [0.3, -1.0, 2.0, 0.5, -0.2, 1.1]  # now the source's: 1.34 against 0.96
    np.testing.assert_allclose(
        weights(scores, shares),
        np.r_[np.exp(scores[:4]) / np.exp(scores[:4]).sum(), 0, 0],
    )
    for scores in np.random.RandomState(0).normal(scale=2.0, size=(20, 6)):
        np.testing.assert_allclose(weights(scores, shares), _expected_weights(scores, shares))
    # An exact tie (nothing scored) keeps the source.
    np.testing.assert_allclose(weights(np.zeros(6), shares), [0.25] * 4 + [0, 0])
    np.testing.assert_allclose(weights(np.full(6, -np.inf), shares), [0.25] * 4 + [0, 0])
    # The regressor averages with a uniform prior over the candidates (its evidence is
    # exact; nothing decides between the kinds first).
    np.testing.assert_allclose(
        HypothesisTransferRegressor._candidate_weights(np.array([-2.0, -1.0, -1.0]), shares[:3]),
        np.exp([-2.0, -1.0, -1.0]) / np.exp([-2.0, -1.0, -1.0]).sum(),
    )


def test_auto_without_intercept_weighs_candidates_by_their_held_out_likelihood():
    X, y, train, _, good, _ = _irrelevant_and_perfect_sources(1, 5)
    a = HypothesisTransferClassifier(good, fit_intercept=False).fit(X[train], y[train])
    np.testing.assert_array_equal(a.intercept_, [0.0])
    log_lik = []
    for share, strength in a.candidates_:

        def fit_on(sample_weight, W0=share * good.coef_, strength=strength):
            fixed = HypothesisTransferClassifier(
                (W0, np.zeros(1)), lam=strength, fit_intercept=False
            ).fit(X[train], y[train], sample_weight=sample_weight)
            return lambda rows: fixed.predict_log_proba(X[train][rows])

        log_lik.append(_held_out_log_likelihood(fit_on, y[train], np.arange(10)))
    weights = _expected_weights(log_lik, a.candidates_[:, 0])
    np.testing.assert_allclose(a.candidate_weights_, weights, atol=1e-6)


def test_binary_source_probabilities_give_one_base_score():
    X, y = _binary_data()
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    clf = HypothesisTransferClassifier(tree, mode="residual", lam=np.inf).fit(X, y)
    # No decision_function: the base score is the log-odds of the second class (its
    # floored log-probability minus the first's), so the source alone keeps its
    # probabilities; with learned weights, the second class's probability minus the
    # first's.
    P = tree.predict_proba(X)
    assert P.min() == 0  # pure leaves: the floor matters
    logP = np.log(np.maximum(P, 1e-3))
    np.testing.assert_allclose(
        clf.decision_function(X) - clf.intercept_[0], logP[:, 1] - logP[:, 0], rtol=1e-12
    )
    alone = HypothesisTransferClassifier(
        tree, mode="residual", lam=np.inf, lam_intercept=np.inf
    ).fit(X, y)
    mixed = P.min(axis=1) > 0
    np.testing.assert_allclose(alone.predict_proba(X)[mixed], P[mixed], rtol=1e-12)
    learned = HypothesisTransferClassifier(
        tree, mode="residual", source_weights="learn", lam=1e10, source_reg=1.0
    ).fit(X, y)
    base = learned.decision_function(X) - learned.intercept_[0]
    assert abs(learned.source_weights_[0, 0]) > 0.1
    np.testing.assert_allclose(base, learned.source_weights_[0, 0] * (P[:, 1] - P[:, 0]), atol=1e-6)
    # Nothing left to fit: no L-BFGS iteration.
    source = LogisticRegression().fit(X, y)
    fixed = HypothesisTransferClassifier(source, lam=np.inf, lam_intercept=np.inf).fit(X, y)
    assert fixed.n_iter_ == 0


def test_fixed_lam_is_the_only_candidate():
    X, y = _binary_data()
    clf = HypothesisTransferClassifier(lam=2.0).fit(X, y)
    np.testing.assert_array_equal(clf.candidates_, [[1.0, 2.0]])
    np.testing.assert_array_equal(clf.candidate_weights_, [1.0])


def test_unknown_rows_are_the_target_classes_no_source_knows():
    clf = HypothesisTransferClassifier()
    clf.classes_ = np.array([0, 1, 2, 3])
    unknown = clf._unknown_rows([np.array([1, 2]), np.array([2, 5])], 4)
    assert unknown.dtype == bool
    np.testing.assert_array_equal(unknown, [True, False, False, True])
    # A source without classes_ (weights matched by position), a binary target (one
    # weight row) or a regressor (no classes): no row is singled out.
    np.testing.assert_array_equal(clf._unknown_rows([np.array([1]), None], 4), [False] * 4)
    clf.classes_ = np.array([0, 1])
    np.testing.assert_array_equal(clf._unknown_rows([np.array([1])], 1), [False])
    reg = HypothesisTransferRegressor()
    unknown = reg._unknown_rows([None], 2)
    assert unknown.dtype == bool
    np.testing.assert_array_equal(unknown, [False, False])


def _source_without_class_0():
    X, _ = _binary_data(seed=5, n=90, d=4)
    y = np.argmax(X[:, :3], axis=1)
    source = LogisticRegression().fit(X[y > 0], y[y > 0])
    a = source.coef_[0]
    W0 = np.vstack([np.zeros(4), -a / 2, a / 2])
    b0 = np.array([0.0, -source.intercept_[0] / 2, source.intercept_[0] / 2])
    return X[::3], y[::3], source, W0, b0


def _capped_candidate(X, y, W0, b0, share, strength):
    """``fit_on(sample_weight)`` for ``_held_out_log_likelihood``: the biased candidate
    ``(share, strength)`` of ``lam="auto"`` on ``_source_without_class_0``'s classes, fitted
    with ``fit_biased_logistic``. The pull share * strength toward the source plus the
    shrinkage: a prior centred on share times the source (class 0's row of W0 is zero,
    its pull capped at 0.5), the intercept at the centre of the rows fitted to pulled
    toward that prior's score there."""
    lam = np.full((3, 4), share * strength)
    alpha = (1 - share) * strength
    lam[0] = max(0.0, min(strength, 0.5) - alpha)

    def fit_on(sample_weight):
        m = sample_weight @ X / sample_weight.sum()
        prior_b = share * b0 + share * W0 @ m
        W, b = fit_biased_logistic(
            X - m, y, 3, W0, prior_b, lam=lam, alpha=alpha, lam_intercept=strength,
            sample_weight=sample_weight, tol=1e-8,
        )  # fmt: skip
        return lambda rows: log_softmax((X[rows] - m) @ W.T + b, axis=1)

    return fit_on


def test_auto_caps_the_pull_on_a_class_no_source_knows():
    X, y, source, W0, b0 = _source_without_class_0()
    auto = HypothesisTransferClassifier(source).fit(X, y)
    folds = _folds(X - X.mean(axis=0), y, np.ones(len(y)))
    log_lik = [
        _held_out_log_likelihood(_capped_candidate(X, y, W0, b0, share, strength), y, folds)
        for share, strength in auto.candidates_
    ]
    weights = _expected_weights(log_lik, auto.candidates_[:, 0])
    np.testing.assert_allclose(auto.candidate_weights_, weights, atol=1e-5)
    # A fixed lam pulls every class alike.
    fixed = HypothesisTransferClassifier(source, lam=5.0).fit(X, y)
    W, b = fit_biased_logistic(X, y, 3, W0, b0, lam=5.0, tol=1e-8)
    np.testing.assert_allclose(fixed.coef_, W, atol=1e-6)


def test_auto_skips_held_out_rows_of_a_class_nothing_left_knows():
    # Class 0 is unknown to the source. With one row of it, that row left out has no
    # other row of its class and no source weights, so it is not scored (never held
    # out here); the rows of classes 1 and 2 are, from the source's weights for their
    # class. With two rows of class 0, each left out has the other: every row is scored.
    X_all, y_all, source, W0, b0 = _source_without_class_0()
    first = [np.flatnonzero(y_all == c)[0] for c in range(3)]
    second_of_0 = np.flatnonzero(y_all == 0)[1]
    for rows, folds in ((first, [-1, 0, 1]), (first + [second_of_0], [0, 1, 2, 3])):
        X, y = X_all[rows], y_all[rows]
        auto = HypothesisTransferClassifier(source).fit(X, y)
        log_lik = [
            _held_out_log_likelihood(
                _capped_candidate(X, y, W0, b0, share, strength), y, np.array(folds)
            )
            for share, strength in auto.candidates_
        ]
        weights = _expected_weights(log_lik, auto.candidates_[:, 0])
        np.testing.assert_allclose(auto.candidate_weights_, weights, atol=1e-5)
    # Without a source no class is known: with one row per class no row can be scored,
    # and the candidates weigh the same.
    alone = HypothesisTransferClassifier().fit(X_all[first], y_all[first])
    np.testing.assert_allclose(alone.candidate_weights_, 1 / len(alone.candidates_))
    # Nor in a binary task, where the one weight row would otherwise count as known to
    # both classes.
    pair = first[1:]
    alone = HypothesisTransferClassifier().fit(X_all[pair], y_all[pair])
    np.testing.assert_allclose(alone.candidate_weights_, 1 / len(alone.candidates_))


def test_refit_in_residual_mode_drops_the_biased_attributes():
    X, y = _binary_data()
    source = LogisticRegression().fit(X, y)
    clf = HypothesisTransferClassifier(source, lam=1.0).fit(X, y)
    assert hasattr(clf, "alpha_")
    clf.set_params(mode="residual").fit(X, y)
    assert not hasattr(clf, "alpha_")
    assert not hasattr(clf, "source_coef_")


# -- fit_biased_ridge, every branch, against the normal equations written the slow way --


def _biased_ridge_brute_force(X, Y, W0, lam, alpha, s, fit_intercept, b0, lam_b, offset):
    """Minimize the stated objective of ``fit_biased_ridge`` one output at a time by its
    normal equations in ``(w, b)`` (a dense (d + 1)-square system); infinite penalties
    fix their parameters to the source's. Returns ``(W, b)`` and whether the system was
    non-singular (the minimizer is then unique)."""
    n, d = X.shape
    k = Y.shape[1]
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (d,))
    T = Y - offset
    W, b = np.zeros((k, d)), np.zeros(k)
    unique = True
    for o in range(k):
        free_w = not np.all(np.isinf(lam))
        free_b = fit_intercept and not np.isinf(lam_b)
        fixed_b = b0[o] if (fit_intercept and np.isinf(lam_b)) else 0.0
        w = W0[o].copy() if not free_w else None
        cols, pen, target = [], [], []
        if free_w:
            cols.append(X)
            pen.extend(lam + alpha)
            target.extend(lam * W0[o])
        if free_b:
            cols.append(np.ones((n, 1)))
            pen.append(lam_b)
            target.append(lam_b * b0[o])
        if not cols:
            W[o], b[o] = w, fixed_b
            continue
        A = np.hstack(cols)
        t = T[:, o] - fixed_b - (X @ w if w is not None else 0.0)
        M = A.T @ (s[:, None] * A) + np.diag(pen)
        rhs = A.T @ (s * t) + np.array(target)
        unique &= np.linalg.matrix_rank(M) == M.shape[0]
        theta = np.linalg.lstsq(M, rhs, rcond=None)[0]
        W[o] = theta[:d] if free_w else w
        b[o] = theta[-1] if free_b else fixed_b
    return W, b, unique


def _full_ridge_objective(W, b, X, Y, W0, lam, alpha, s, b0, lam_b, offset):
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (X.shape[1],))
    R = X @ W.T + b + offset - Y
    obj = s @ (R**2).sum(axis=1) + alpha * (W**2).sum()
    finite = np.isfinite(lam)
    obj += (lam[finite] * ((W - W0)[:, finite] ** 2)).sum()
    if np.isfinite(lam_b) and lam_b > 0:
        obj += lam_b * ((b - b0) ** 2).sum()
    return obj


@pytest.mark.parametrize(("n", "d"), [(25, 4), (5, 9)])
@pytest.mark.parametrize(
    "lam",
    [
        "uniform",
        "per_feature_equal",
        "per_feature_positive",
        "per_feature_some_zero",
        "zero",
        "inf",
    ],
)
@pytest.mark.parametrize("alpha", [0.0, 0.6])
@pytest.mark.parametrize(
    ("fit_intercept", "lam_b"),
    [(True, 0.0), (True, 0.8), (True, 1.0), (True, np.inf), (False, 0.0)],
)
def test_biased_ridge_every_branch_matches_the_normal_equations(
    n, d, lam, alpha, fit_intercept, lam_b
):
    rng = np.random.RandomState(n * d)
    X = rng.normal(size=(n, d)) + 1.5  # off-centre, so a wrong centring shows
    Y = rng.normal(size=(n, 2)) + 3.0
    W0, b0 = rng.normal(size=(2, d)), rng.normal(size=2) - 2.0
    s = rng.uniform(0.3, 2.0, size=n)
    s[1] = 0.0  # a row without weight
    offset = rng.normal(size=(n, 2))
    lam = {
        "uniform": 0.7,
        "per_feature_equal": np.full(d, 0.7),
        "per_feature_positive": rng.uniform(0.2, 3.0, size=d),
        "per_feature_some_zero": np.r_[0.0, rng.uniform(0.2, 3.0, size=d - 1)],
        "zero": 0.0,
        "inf": np.inf,
    }[lam]
    W, b = fit_biased_ridge(
        X,
        Y,
        W0,
        lam=lam,
        alpha=alpha,
        sample_weight=s,
        fit_intercept=fit_intercept,
        b0=b0,
        lam_intercept=lam_b,
        offset=offset,
    )
    assert W.shape == (2, d)
    assert b.shape == (2,)
    W_ref, b_ref, unique = _biased_ridge_brute_force(
        X, Y, W0, lam, alpha, s, fit_intercept, b0, lam_b, offset
    )
    args = (X, Y, W0, lam, alpha, s, b0, lam_b, offset)
    found, best = _full_ridge_objective(W, b, *args), _full_ridge_objective(W_ref, b_ref, *args)
    assert found <= best * (1 + 1e-9) + 1e-9
    if not fit_intercept:
        np.testing.assert_array_equal(b, 0.0)
    elif np.isinf(lam_b):
        np.testing.assert_array_equal(b, b0)
    if np.all(np.isinf(lam)):
        np.testing.assert_array_equal(W, W0)
    if unique:
        np.testing.assert_allclose(W, W_ref, rtol=1e-7, atol=1e-8)
        np.testing.assert_allclose(b, b_ref, rtol=1e-7, atol=1e-8)


def test_biased_ridge_infinite_pull_intercept_without_weight_keeps_the_source():
    # Every weight zero: no row informs the intercept, which stays at b0.
    X, Y = np.ones((3, 2)), np.ones((3, 1))
    W, b = fit_biased_ridge(X, Y, np.zeros((1, 2)), lam=np.inf, sample_weight=np.zeros(3), b0=[4.0])
    np.testing.assert_array_equal(b, [4.0])
    # A zero-weight row is ignored, the others set the intercept: their mean residual
    # y - x is (1 + 1) / 2 (with the middle row it would be 2).
    W, b = fit_biased_ridge(
        np.array([[0.0], [1.0], [2.0]]),
        np.array([1.0, 5.0, 3.0]),
        np.array([[1.0]]),
        lam=np.inf,
        sample_weight=np.array([1.0, 0.0, 1.0]),
    )
    np.testing.assert_allclose(b, [1.0])
    # Weights summing to less than 1 are weights all the same (a total of 0.2, not a count).
    W, b = fit_biased_ridge(
        np.array([[0.0], [1.0], [2.0]]),
        np.array([1.0, 5.0, 3.0]),
        np.array([[1.0]]),
        lam=np.inf,
        sample_weight=np.array([0.1, 0.0, 0.1]),
        b0=[-7.0],
    )
    np.testing.assert_allclose(b, [1.0])


@pytest.mark.parametrize(("n", "copies"), [(8, 2), (3, 10)])  # primal and dual systems
def test_biased_ridge_singular_gram_gives_the_minimum_norm_solution(n, copies):
    # Duplicated columns of scale 1e150: the penalty 0.7 vanishes next to the Gram
    # matrix's entries (~1e300), which is exactly singular. The penalized solution tends
    # to the minimum-norm least-squares one: the weight split evenly over the copies.
    rng = np.random.RandomState(0)
    x, y = rng.normal(size=n), rng.normal(size=n)
    X = np.repeat(x[:, None], copies, axis=1) * 1e150
    W, b = fit_biased_ridge(X, y, None, lam=0.7, fit_intercept=False)
    expected = (x @ y) / (x @ x) / copies / 1e150
    np.testing.assert_allclose(W, np.full((1, copies), expected), rtol=1e-9)
    np.testing.assert_array_equal(b, 0.0)


@pytest.mark.parametrize("shape", [(20, 3), (3, 20)])  # primal and dual systems
def test_biased_ridge_fits_features_whose_products_overflow(shape):
    # Entries above ~1e153 (for 20 rows, or 20 columns) overflow the Gram matrix: the
    # weights came back wrong (at 1.5e154) or NaN (1e200), and LAPACK failed with "SVD did
    # not converge" (a LinAlgError, HypothesisTransferRegressor at 1e300). The solver now
    # divides such rows by a power of two (exact) and the penalty by its square: at these
    # scales the penalty is next to nothing, and the fit is least squares (the minimum-norm
    # one with more columns than rows), quietly.
    rng = np.random.RandomState(0)
    Z = rng.normal(size=shape)
    y = Z @ rng.normal(size=shape[1])
    X = Z / np.abs(Z).max()
    W_ls, b_ls = fit_biased_ridge(X, y, None, lam=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for c in (1.5e154, 1e200, 1e300):
            for lam in (0.7, 0.0):
                W, b = fit_biased_ridge(X * c, y, None, lam=lam)
                np.testing.assert_allclose(W * c, W_ls, rtol=1e-6, atol=1e-9)
                np.testing.assert_allclose(b, b_ls, rtol=1e-6, atol=1e-9)
        assert HypothesisTransferRegressor().fit(X * 1e300, y).score(X * 1e300, y) > 1 - 1e-9
        # Entries up to 1.5e308 (no intercept: the mean itself would overflow), and
        # entries large only below zero.
        W_0, _ = fit_biased_ridge(X, y, None, lam=0.0, fit_intercept=False)
        W, _ = fit_biased_ridge(X * 1.5e308, y, None, lam=0.7, fit_intercept=False)
        np.testing.assert_allclose(W * 1.5e308, W_0, rtol=1e-6, atol=1e-9)
        W_neg, _ = fit_biased_ridge(-np.abs(X), y, None, lam=0.0, fit_intercept=False)
        W, _ = fit_biased_ridge(-np.abs(X) * 1e300, y, None, lam=0.7, fit_intercept=False)
        np.testing.assert_allclose(W * 1e300, W_neg, rtol=1e-6, atol=1e-9)
        # With the penalty in the same units the fit is that of the original units,
        # exactly: the solver's scaling is by a power of two.
        c = 2.0**300
        W, b = fit_biased_ridge(X * c, y, None, lam=0.7 * c * c)
        W1, b1 = fit_biased_ridge(X, y, None, lam=0.7)
        np.testing.assert_allclose(W * c, W1, rtol=1e-12)
        np.testing.assert_allclose(b, b1, rtol=1e-12)
    # Fixed weights form no product.
    W0 = rng.normal(size=(1, shape[1]))
    W, _ = fit_biased_ridge(X * 1e300, y, W0, lam=np.inf)
    np.testing.assert_array_equal(W, W0)


def test_hypothesis_transfer_regressor_is_the_same_at_any_scale_of_its_inputs():
    # Diabetes times 1e150, 1e200, 1e300: the evidence of lam="auto" decomposes the
    # inputs' Gram matrix too (it overflowed from ~1e153). The penalties are
    # then next to nothing, and every fit is least squares: R^2 0.5177 at each scale.
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    plain = LinearRegression().fit(X, y).score(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for c in (1e150, 1e200, 1e300):
            for lam in ("auto", 1.0, 0.0):
                est = HypothesisTransferRegressor(lam=lam).fit(X * c, y)
                assert est.score(X * c, y) == pytest.approx(plain, abs=1e-9)
    # In residual mode the strengths are per unit of the inputs' variance: the penalties
    # keep their meaning at any scale, and so does the choice of lam="auto".
    c = 2.0**300
    source_1 = LinearRegression().fit(X[:200], y[:200])
    source_c = LinearRegression().fit(X[:200] * c, y[:200])
    small = HypothesisTransferRegressor(source_1, mode="residual").fit(X[200:260], y[200:260])
    large = HypothesisTransferRegressor(source_c, mode="residual").fit(X[200:260] * c, y[200:260])
    np.testing.assert_array_equal(large.candidate_weights_, small.candidate_weights_)
    np.testing.assert_allclose(large.predict(X[260:] * c), small.predict(X[260:]), rtol=1e-9)


@pytest.mark.parametrize("mode", ["biased", "residual"])
def test_hypothesis_transfer_regressor_is_the_same_at_any_scale_of_its_targets(mode):
    # Targets (and the source) times 1e-300 .. 1e300: the same candidate weights, the
    # predictions scaled alike. The evidence's squared residuals underflowed to zero at
    # 1e-300 before its scale was taken from the targets in both directions (weights off
    # by 0.11, predictions by 31 on targets of about 150). At 1e305 (targets up to 3.5e307)
    # the sums of the targets overflowed in the solves: NaN predictions, no error (the
    # problem is now solved on the targets divided by a power of two of their size).
    # A pulled intercept sums the targets apart (_solve).
    X, y = load_diabetes(return_X_y=True)
    base = HypothesisTransferRegressor(Ridge().fit(X[:200], y[:200]), mode=mode)
    base.fit(X[200:230], y[200:230])

    def scaled_source(c):
        # (Ridge's own fit overflows at 1e305: the source fitted once, its weights scaled.)
        source = copy.deepcopy(base.source)
        source.coef_, source.intercept_ = source.coef_ * c, source.intercept_ * c
        return source

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for c in (1e-300, 1e-200, 1e200, 1e300, 1e305):
            source = scaled_source(c)
            est = HypothesisTransferRegressor(source, mode=mode).fit(X[200:230], y[200:230] * c)
            np.testing.assert_allclose(
                est.candidate_weights_, base.candidate_weights_, rtol=1e-9, atol=1e-12
            )
            np.testing.assert_allclose(
                est.predict(X[230:260]) / c, base.predict(X[230:260]), rtol=1e-9
            )
    pulled = HypothesisTransferRegressor(base.source, mode=mode, lam_intercept=1.0)
    expected = pulled.fit(X[200:230], y[200:230]).predict(X[230:260])
    pulled = HypothesisTransferRegressor(scaled_source(1e305), mode=mode, lam_intercept=1.0)
    got = pulled.fit(X[200:230], y[200:230] * 1e305).predict(X[230:260])
    np.testing.assert_allclose(got / 1e305, expected, rtol=1e-9)


def test_hypothesis_transfer_regressor_refuses_weights_beyond_float64():
    # Weights that cannot be represented (least squares of targets of 1e307 on inputs
    # of 1e-5): a clear error, not infinite weights and NaN predictions.
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="weights overflowed float64"):
        HypothesisTransferRegressor((np.zeros(X.shape[1]), 0.0), lam=0.0, mode="biased").fit(
            X[200:230] * 1e-5, y[200:230] * 1e305
        )


@pytest.mark.parametrize("Est", [HypothesisTransferClassifier, HypothesisTransferRegressor])
@pytest.mark.parametrize("mode", ["biased", "residual"])
def test_hypothesis_transfer_refuses_a_source_with_infinite_weights_or_scores(Est, mode):
    # Such a source made every candidate NaN: NaN predictions without an error.
    X, y = load_iris(return_X_y=True)
    fitted = (LogisticRegression if Est is HypothesisTransferClassifier else Ridge)().fit(X, y)
    match = "weights or an intercept that are infinite" if mode == "biased" else "infinite or NaN"
    for attr in ("coef_", "intercept_"):
        source = copy.deepcopy(fitted)
        value = np.array(getattr(source, attr), dtype=float)
        value.flat[0] = np.inf
        setattr(source, attr, value)
        with pytest.raises(ValueError, match=match):
            Est(source, mode=mode).fit(X, y)
        if mode == "biased":
            with pytest.raises(ValueError, match=match):
                Est((source.coef_, source.intercept_), mode=mode).fit(X, y)


def test_biased_ridge_without_any_penalty_is_minimum_norm_least_squares():
    # lam = alpha = 0 with fewer rows than features: the source plays no part, and of the
    # many exact fits the minimum-norm one is returned (as np.linalg.lstsq does).
    rng = np.random.RandomState(3)
    X, y = rng.normal(size=(4, 7)), rng.normal(size=4)
    W0 = rng.normal(size=(1, 7)) * 100
    for lam in (0.0, np.zeros(7)):
        W, b = fit_biased_ridge(X, y, W0, lam=lam, fit_intercept=False)
        np.testing.assert_allclose(W[0], np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-10)
        np.testing.assert_array_equal(b, 0.0)


def test_biased_ridge_returns_float_intercepts_for_integer_inputs():
    X, y = np.array([[0, 1], [1, 0], [1, 1]]), np.array([1, 2, 4])
    for lam_b in (0.0, 2.0, np.inf):
        W, b = fit_biased_ridge(X, y, [1, 1], lam=np.inf, b0=[3], lam_intercept=lam_b)
        assert W.dtype == np.float64
        assert b.dtype == np.float64
    W, b = fit_biased_ridge(X, y, [1, 1], lam=1.0, b0=[3], lam_intercept=np.inf)
    assert b.dtype == np.float64
    np.testing.assert_array_equal(b, [3.0])


def test_residual_auto_strengths_are_per_unit_of_input_variance():
    # Rescaling the inputs (and the source with them) rescales the correction and
    # leaves the candidates' weights and the predictions as they were.
    X, y = _binary_data()
    source = LogisticRegression().fit(X[:20], y[:20])
    c = 7.0
    scaled = copy.deepcopy(source)
    scaled.coef_ = source.coef_ / c
    a = HypothesisTransferClassifier(source, mode="residual").fit(X[20:], y[20:])
    b = HypothesisTransferClassifier(scaled, mode="residual").fit(c * X[20:], y[20:])
    np.testing.assert_allclose(a.candidate_weights_, b.candidate_weights_, atol=1e-6)
    np.testing.assert_allclose(b.coef_, a.coef_ / c, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(b.predict_proba(c * X), a.predict_proba(X), atol=1e-6)
    # The penalty applied is the candidate's strength times the mean column variance.
    strength = a.candidates_[np.argmax(a.candidate_weights_), 1]
    assert a.lam_ == pytest.approx(strength * np.var(X[20:], axis=0).mean())
    assert b.lam_ == pytest.approx(c**2 * a.lam_)
    # A number given as lam is the penalty itself.
    fixed = HypothesisTransferClassifier(source, mode="residual", lam=3.0).fit(X[20:], y[20:])
    assert fixed.lam_ == 3.0


def test_residual_auto_keeps_a_probability_only_source_on_raw_pixels():
    # The demo's setting: a classifier with predict_proba only, raw digit pixels
    # (variance ~20), one or two labelled rows per class. The source's log-probabilities
    # are its own model; probabilities as base scores lost 3-6 points to the source.
    X, y = load_digits(return_X_y=True)
    source = RandomForestClassifier(n_estimators=50, random_state=0).fit(X[:900], y[:900])
    assert not hasattr(source, "decision_function")
    rest = np.arange(900, len(y))
    source_acc = source.score(X[rest], y[rest])
    gaps = []
    for seed, k in product(range(3), (1, 2)):
        rng = np.random.RandomState(seed)
        train = np.concatenate(
            [rng.choice(rest[y[rest] == c], k, replace=False) for c in range(10)]
        )
        test = np.setdiff1d(rest, train)
        clf = HypothesisTransferClassifier(source, mode="residual", tol=1e-4)
        gaps.append(clf.fit(X[train], y[train]).score(X[test], y[test]) - source_acc)
    assert np.mean(gaps) > -0.01
    assert min(gaps) > -0.03


@pytest.mark.parametrize("cls", [HypothesisTransferClassifier, HypothesisTransferRegressor])
def test_learned_source_weights_with_infinite_lam_learn_no_correction(cls):
    # lam=np.inf with learned weights: the input weights stay at zero and only the
    # source weights are learned, the limit of an ever larger lam.
    X, y = _binary_data()
    y = y if cls is HypothesisTransferClassifier else X @ np.arange(X.shape[1]) + y
    tree_cls = (
        DecisionTreeClassifier if cls is HypothesisTransferClassifier else DecisionTreeRegressor
    )
    source = tree_cls(max_depth=2, random_state=0).fit(X, y)
    kw = dict(mode="residual", source_weights="learn", source_reg=1.0)
    inf = cls(source, lam=np.inf, **kw).fit(X, y)
    big = cls(source, lam=1e12, **kw).fit(X, y)
    np.testing.assert_array_equal(inf.coef_, np.zeros_like(inf.coef_))
    assert inf.lam_ == np.inf
    np.testing.assert_allclose(inf.source_weights_, big.source_weights_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(inf.predict(X), big.predict(X), rtol=1e-4, atol=1e-6)


def test_mean_variance_is_the_weighted_column_variance_or_one():
    from skreuse.training._hypothesis_transfer import _mean_variance

    rng = np.random.RandomState(0)
    X = rng.normal(size=(7, 3)) * [1.0, 2.0, 5.0]
    w = rng.uniform(0.5, 2.0, size=7)
    expected = np.mean([np.cov(X[:, j], aweights=w, bias=True) for j in range(3)])
    assert _mean_variance(X, w) == pytest.approx(expected)
    # Integer weights are repeated rows.
    counts = np.array([1, 2, 1, 3, 1, 1, 2])
    assert _mean_variance(X, counts.astype(float)) == pytest.approx(
        np.var(np.repeat(X, counts, axis=0), axis=0).mean()
    )
    # Nothing to measure: the strengths are used as they are.
    assert _mean_variance(np.ones((4, 2)), np.ones(4)) == 1.0
    assert _mean_variance(X, np.zeros(7)) == 1.0


# -- pinned by mutation testing (issue 20) ---------------------------------------------------


def test_auto_candidates_are_the_documented_grid():
    """lam="auto" tries every strength with the source kept, halved and dropped, plus the
    source itself for the regressor; without a source only the target-only strengths.
    The strongest pull comes first, so that the regressor's tie rule (the first one
    wins) prefers the more regularized candidate."""
    X, y = _binary_data(n=30, d=4)
    strengths = [100.0, 30.0, 10.0, 3.0, 1.0, 0.3, 0.1]
    grid = [[share, s] for share in (1.0, 0.5, 0.0) for s in strengths]
    source = LogisticRegression().fit(X, y)
    clf = HypothesisTransferClassifier(source).fit(X, y)
    np.testing.assert_array_equal(clf.candidates_, grid)
    y_reg = X @ [1.0, -1.0, 0.5, 0.0]
    reg = HypothesisTransferRegressor(Ridge().fit(X, y_reg)).fit(X, y_reg)
    np.testing.assert_array_equal(reg.candidates_, [[1.0, np.inf], *grid])
    no_source = [
        HypothesisTransferClassifier().fit(X, y),
        HypothesisTransferRegressor().fit(X, y_reg),
    ]
    for model in no_source:
        np.testing.assert_array_equal(model.candidates_, [[1.0, s] for s in strengths])


def test_refit_reports_the_iterations_of_the_last_fit():
    X, y = _binary_data()
    source = LogisticRegression().fit(X, y)
    clf = HypothesisTransferClassifier(source, lam=0.1).fit(X, y)
    assert clf.n_iter_ > 0
    # nothing left to fit: a fresh fit makes no iteration, and so does the refit
    clf.set_params(lam=np.inf, lam_intercept=np.inf).fit(X, y)
    assert clf.n_iter_ == 0


# -- the solvers' input checks, one bad value at a time --


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": -1.0}, "alpha must be non-negative"),
        ({"alpha": np.nan}, "alpha must be non-negative"),
        ({"alpha": np.inf}, "alpha must be finite"),
        ({"lam_intercept": -0.5}, "lam_intercept must be non-negative"),
        ({"lam_intercept": np.nan}, "lam_intercept must be non-negative"),
        ({"lam": -1.0}, "lam must be non-negative"),
        ({"lam": np.nan}, "lam must be non-negative"),
        ({"lam": np.array([1.0, np.nan, 1.0])}, "lam must be non-negative"),
        ({"lam": np.array([1.0, -2.0, 1.0])}, "lam must be non-negative"),
        ({"lam": np.array([1.0, 1.0])}, r"lam must be a float or an array of shape \(3,\)"),
        ({"lam": np.ones((2, 3))}, r"lam must be a float or an array of shape \(3,\)"),
        ({"lam": np.ones((3, 3, 1))}, r"lam must be a float or an array of shape \(3,\)"),
        ({"lam": np.array([1.0, np.inf, 1.0])}, "infinite for all features or for none"),
        ({"sample_weight": np.array([1.0, -1.0, 1.0, 1.0])}, "finite and non-negative"),
        ({"sample_weight": np.array([1.0, np.inf, 1.0, 1.0])}, "finite and non-negative"),
        ({"sample_weight": np.array([1.0, np.nan, 1.0, 1.0])}, "finite and non-negative"),
        ({"sample_weight": np.ones(3)}, r"sample_weight must have shape \(4,\)"),
        ({"offset": np.ones(3)}, r"offset must have shape \(4, 1\)"),
    ],
)
def test_biased_solvers_refuse_bad_values_by_name(kwargs, match):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(4, 3)), np.array([0, 1, 0, 1])
    kwargs = {"lam": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit_biased_ridge(X, y.astype(float), None, **kwargs)
    with pytest.raises(ValueError, match=match):
        fit_biased_logistic(X, y, 2, None, **kwargs)


def test_biased_ridge_offset_of_one_output_may_be_1d():
    rng = np.random.RandomState(1)
    X, y, o = rng.normal(size=(6, 2)), rng.normal(size=6), rng.normal(size=6)
    W1, b1 = fit_biased_ridge(X, y, None, lam=0.5, offset=o)
    W2, b2 = fit_biased_ridge(X, y - o, None, lam=0.5)
    np.testing.assert_allclose(W1, W2, atol=1e-12)
    np.testing.assert_allclose(b1, b2, atol=1e-12)


def test_biased_solvers_accept_an_infinite_pull_on_every_feature():
    rng = np.random.RandomState(2)
    X, y = rng.normal(size=(5, 3)), np.array([0, 1, 0, 1, 1])
    W0 = rng.normal(size=(1, 3))
    W, _ = fit_biased_ridge(X, y.astype(float), W0, lam=np.full(3, np.inf))
    np.testing.assert_array_equal(W, W0)
    W, _ = fit_biased_logistic(X, y, 2, W0, lam=np.full(3, np.inf))
    np.testing.assert_array_equal(W, W0)


# -- biased solvers and their Laplace evidence, every input path (issue 20, mutation testing) --
# Each number is checked against the formula written the slow way: the Hessian summed row by
# row, the energy from its definition, the gradient of the objective computed directly.


def _biased_scores(X, W, b, offset):
    return X @ np.atleast_2d(W).T + b + (0.0 if offset is None else offset.reshape(len(X), -1))


def _laplace_slow(X, y, n_classes, W, b, W0, b0, lam, alpha, lam_b, s, offset, fit_intercept):
    """The Laplace evidence, written out; flat (zero-precision) parameters have no prior term.

    Returns ``-E + sum(log prec) / 2`` over the penalized parameters, the Hessian ``H`` of the
    energy ``E`` (the data's summed row by row, plus the prior precisions) and the precisions;
    the evidence is the first minus ``log det H / 2``.
    """
    n, d = X.shape
    k = 1 if n_classes == 2 else n_classes
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (k, d))
    r = lam + alpha
    Z = _biased_scores(X, W, b, offset)
    if k == 1:
        log_p = y * Z[:, 0] - np.logaddexp(0.0, Z[:, 0])
    else:
        log_p = Z[np.arange(n), y] - np.logaddexp.reduce(Z, axis=1)
    energy = -(s @ log_p)
    free_W = not np.all(np.isinf(lam))
    free_b = fit_intercept and not np.isinf(lam_b)
    if free_W:
        mean = np.where(r > 0, lam * W0 / np.where(r > 0, r, 1.0), 0.0)
        energy += np.sum(r * (W - mean) ** 2)
    if free_b:
        energy += lam_b * np.sum((b - b0) ** 2)
    cols = [j for j in range(d) if free_W] + ([d] if free_b else [])
    if not cols:
        return -energy, None, None
    Xa = np.c_[X, np.ones(n)][:, cols]
    H = np.zeros((k * len(cols), k * len(cols)))
    for i in range(n):
        if k == 1:
            p = 1.0 / (1.0 + np.exp(-Z[i, 0]))
            A = np.array([[p * (1.0 - p)]])
        else:
            p = np.exp(Z[i] - np.logaddexp.reduce(Z[i]))
            A = np.diag(p) - np.outer(p, p)
        H += s[i] * np.kron(A, np.outer(Xa[i], Xa[i]))
    prec = np.hstack(
        [2 * r if free_W else np.empty((k, 0)), np.full((k, int(free_b)), 2.0 * lam_b)]
    ).ravel()
    H += np.diag(prec)
    return -energy + 0.5 * np.sum(np.log(prec[prec > 0])), H, prec


def _evidence_problem(seed, n_classes, n=25, d=3):
    rng, X, y, k = _random_logistic_problem(seed, n, d, n_classes)
    y[:n_classes] = np.arange(n_classes)
    return (
        X,
        y,
        rng.normal(size=(k, d)),
        rng.normal(size=k),
        rng.uniform(0.5, 2.0, size=n),
        0.3 * rng.normal(size=(n, k)),
    )


def test_log_evidence_with_flat_weights_and_intercept_is_the_laplace_formula():
    # Binary: an unpenalized feature (lam_j = alpha = 0) and the default flat intercept
    # (lam_intercept=0) take no prior term; the Hessian is then nonsingular, so the evidence
    # is the formula itself, not just up to a constant.
    X, y, W0, b0, s, offset = _evidence_problem(0, 2)
    lam = np.array([0.0, 0.4, 2.0])
    W, b = fit_biased_logistic(X, y, 2, W0, b0, lam=lam, sample_weight=s, offset=offset, tol=1e-10)
    got = biased_logistic_log_evidence(
        X, y, 2, W, b, W0, b0, lam=lam, sample_weight=s, offset=offset
    )
    head, H, prec = _laplace_slow(X, y, 2, W, b, W0, b0, lam, 0.0, 0.0, s, offset, True)
    assert np.count_nonzero(prec == 0) == 2
    assert got == pytest.approx(head - 0.5 * np.linalg.slogdet(H)[1], rel=1e-7)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_log_evidence_with_a_flat_multiclass_intercept_compares_priors_exactly(alpha):
    # Softmax scores do not change when every class's intercept moves by the same amount:
    # along that direction the posterior is flat, and the evidence is defined up to a
    # constant that is the same for every prior. Differences between priors are the Laplace
    # formula's, with the determinant taken on the other directions.
    X, y, W0, b0, s, offset = _evidence_problem(1, 3)
    k, d = W0.shape
    v = np.kron(np.ones(k), np.r_[np.zeros(d), 1.0]) / np.sqrt(k)
    Q = np.linalg.svd(np.eye(k * (d + 1)) - np.outer(v, v))[0][:, : k * (d + 1) - 1]
    got, want = [], []
    for lam, source in ((0.5, W0), (3.0, W0), (np.array([0.2, 1.0, 4.0]), -W0), (0.05, 0 * W0)):
        W, b = fit_biased_logistic(
            X, y, 3, source, b0, lam=lam, alpha=alpha, sample_weight=s, offset=offset, tol=1e-10
        )
        got.append(
            biased_logistic_log_evidence(
                X, y, 3, W, b, source, b0, lam=lam, alpha=alpha, sample_weight=s, offset=offset
            )
        )
        head, H, _ = _laplace_slow(X, y, 3, W, b, source, b0, lam, alpha, 0.0, s, offset, True)
        assert abs(v @ H @ v) < 1e-10
        want.append(head - 0.5 * np.linalg.slogdet(Q.T @ H @ Q)[1])
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(np.diff(got), np.diff(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_log_evidence_of_fixed_weights(n_classes):
    # lam=inf fixes the weights: without an intercept nothing is integrated and the evidence
    # is the log likelihood; with a pulled intercept only the intercept is integrated.
    X, y, W0, b0, s, offset = _evidence_problem(2, n_classes)
    b = b0 + 0.1
    got = biased_logistic_log_evidence(
        X, y, n_classes, W0, b, W0, b0, lam=np.inf, sample_weight=s, offset=offset,
        fit_intercept=False,
    )  # fmt: skip
    want, _, _ = _laplace_slow(X, y, n_classes, W0, b, W0, b0, np.inf, 0.0, 0.0, s, offset, False)
    assert got == pytest.approx(want, rel=1e-12)
    assert got < 0  # a log likelihood of discrete labels
    W, b = fit_biased_logistic(
        X, y, n_classes, W0, b0, lam=np.inf, lam_intercept=0.7, sample_weight=s, offset=offset,
        tol=1e-10,
    )  # fmt: skip
    np.testing.assert_array_equal(W, W0)
    got = biased_logistic_log_evidence(
        X, y, n_classes, W, b, W0, b0, lam=np.inf, lam_intercept=0.7, sample_weight=s,
        offset=offset,
    )  # fmt: skip
    head, H, prec = _laplace_slow(X, y, n_classes, W, b, W0, b0, np.inf, 0.0, 0.7, s, offset, True)
    assert H.shape == (len(b0), len(b0))
    assert got == pytest.approx(head - 0.5 * np.linalg.slogdet(H)[1], rel=1e-10)


def test_log_evidence_of_a_numerically_singular_posterior_is_minus_infinity():
    # Two identical columns and a prior precision below the rounding of the data's curvature:
    # the Hessian is singular in float64. Such a prior must never win a comparison of
    # evidences (lam="auto" takes the largest), so its evidence is -inf, not +inf.
    rng = np.random.RandomState(3)
    x = rng.normal(size=(20, 1))
    X = np.c_[x, x]
    y = (x[:, 0] > 0).astype(int)
    W, W0 = np.zeros((1, 2)), np.ones((1, 2))
    assert np.linalg.slogdet(X.T @ X / 4 + 2e-30 * np.eye(2))[0] == 0
    got = biased_logistic_log_evidence(X, y, 2, W, [0.0], W0, lam=1e-30, fit_intercept=False)
    assert got == -np.inf


def test_biased_logistic_starts_from_the_minimizer_of_the_penalty():
    # With a tolerance no gradient can exceed, L-BFGS stops where it starts: the minimizer
    # of the penalty alone, W = lam W0 / (lam + alpha) (0 where lam + alpha = 0) and b = b0.
    rng = np.random.RandomState(4)
    X = rng.normal(size=(30, 3))
    for n_classes, k in ((2, 1), (3, 3)):
        y = rng.randint(n_classes, size=30)
        W0, b0 = rng.normal(size=(k, 3)) + 1.0, rng.normal(size=k)
        for lam, alpha in ((np.array([0.0, 0.5, 3.0]), 0.0), (np.array([0.0, 0.5, 3.0]), 0.25)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                W, b, n_iter = fit_biased_logistic(
                    X, y, n_classes, W0, b0, lam=lam, alpha=alpha, tol=np.inf,
                    return_n_iter=True,
                )  # fmt: skip
            assert n_iter == 0
            np.testing.assert_allclose(W, W0 * (lam / np.maximum(lam + alpha, 1e-300)))
            np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_biased_logistic_with_fixed_weights_fits_only_the_intercept_without_warnings(n_classes):
    rng, X, y, k = _random_logistic_problem(5, 40, 3, n_classes)
    W0 = rng.normal(size=(k, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0 * inf or inf / inf on the way
        W, b = fit_biased_logistic(X, y, n_classes, W0, lam=np.inf, lam_intercept=0.5, tol=1e-10)
    np.testing.assert_array_equal(W, W0)
    grad = approx_fprime(
        b, lambda t: _logistic_objective(np.r_[W0.ravel(), t], X, y, k, W0, np.zeros(k), 0.0,
                                         0.0, np.ones(40), 0.5),
        1e-7,
    )  # fmt: skip
    assert np.abs(grad).max() < 1e-4


def test_biased_logistic_stops_by_the_documented_gradient_rule():
    # tol bounds the largest gradient entry of the objective divided by the total sample
    # weight. With weights summing to 1.5 (between 1 and 2), on every problem and tolerance.
    def largest_gradient(X, y, W, b, W0, lam, alpha, s):
        p = 1.0 / (1.0 + np.exp(-(X @ W[0] + b[0])))
        g = np.r_[X.T @ (s * (p - y)) + 2 * lam * (W[0] - W0[0]) + 2 * alpha * W[0], s @ (p - y)]
        return np.abs(g).max()

    for seed in range(5):
        rng = np.random.RandomState(seed)
        X = rng.normal(size=(30, 4))
        y = (X[:, 0] + rng.normal(size=30) > 0).astype(int)
        s = rng.uniform(size=30)
        s *= 1.5 / s.sum()
        W0, b0 = rng.normal(size=(1, 4)), rng.normal(size=1)
        for tol in [*np.geomspace(1e-2, 1e-6, 9), None]:
            extra = {} if tol is None else {"tol": tol}
            W, b = fit_biased_logistic(
                X, y, 2, W0, b0, lam=0.3, alpha=0.1, sample_weight=s, **extra
            )
            bound = 1e-6 if tol is None else tol  # the documented default
            assert largest_gradient(X, y, W, b, W0, 0.3, 0.1, s) / 1.5 <= bound


def test_biased_logistic_refuses_class_codes_outside_the_range():
    X = np.random.RandomState(6).normal(size=(4, 2))
    for y in ([0, 1, 3, 1], [0, 1, -1, 1], [0, 4, 1, 1]):
        with pytest.raises(ValueError, match=r"integer codes in 0\.\.2"):
            fit_biased_logistic(X, np.array(y), 3, None, lam=1.0)
    fit_biased_logistic(X, np.array([0, 1, 2, 2]), 3, None, lam=1.0)


def test_biased_solver_defaults_are_the_documented_ones():
    # max_iter=1000: a fit that needs more (directions on scales 1e-3..1e3, rotated so that
    # no rescaling of the columns undoes it; tol=0) stops after exactly 1000 L-BFGS
    # iterations, where an explicit max_iter=1000 stops.
    from scipy.stats import ortho_group

    rng = np.random.RandomState(2)
    X = (rng.normal(size=(60, 16)) * np.logspace(-3, 3, 16)) @ ortho_group.rvs(16, random_state=3)
    y = rng.randint(2, size=60)
    W, b, n_iter = fit_biased_logistic(X, y, 2, None, lam=1e-6, tol=0.0, return_n_iter=True)
    assert n_iter == 1000
    W_cap, b_cap = fit_biased_logistic(X, y, 2, None, lam=1e-6, tol=0.0, max_iter=1000)
    np.testing.assert_array_equal(W, W_cap)
    np.testing.assert_array_equal(b, b_cap)
    # (tol=1e-6 is checked by test_biased_logistic_stops_by_the_documented_gradient_rule.)
    # The evidence's default intercept is flat, as the solver's.
    ev = biased_logistic_log_evidence
    X, y, W0, b0, s, offset = _evidence_problem(7, 2)
    W, b = fit_biased_logistic(X, y, 2, W0, b0, lam=0.6)
    flat = ev(X, y, 2, W, b, W0, b0, lam=0.6)
    assert flat == ev(X, y, 2, W, b, W0, b0, lam=0.6, lam_intercept=0.0)
    assert flat != ev(X, y, 2, W, b, W0, b0, lam=0.6, lam_intercept=1.0)


def test_biased_solvers_take_any_real_array_like():
    # Object arrays of numbers (a pandas column of mixed origin), integers, float32 and
    # lists give the float64 answer.
    from skreuse.training._biased_regularization import evidence_weights

    rng = np.random.RandomState(8)
    X = rng.randint(-3, 4, size=(20, 3))
    y = rng.randint(3, size=20)
    W0, b0 = rng.normal(size=(3, 3)), rng.normal(size=3)
    lam, s, offset = (
        np.array([0.5, 1.0, 2.0]),
        rng.uniform(0.5, 2, size=20),
        rng.normal(size=(20, 3)),
    )

    def obj(a):
        return np.asarray(a, dtype=float).astype(object)

    def as_float(a):
        return np.asarray(a, dtype=float)

    kw = {"lam": lam, "alpha": 0.1, "sample_weight": s, "offset": offset}
    okw = {"lam": obj(lam), "alpha": 0.1, "sample_weight": obj(s), "offset": obj(offset)}
    for lam_b in (0.0, 0.4, np.inf):
        want = fit_biased_logistic(as_float(X), y, 3, W0, b0, lam_intercept=lam_b, **kw)
        for Xv, extra in ((obj(X), okw), (X, kw), (X.astype(np.float32), kw), (X.tolist(), kw)):
            got = fit_biased_logistic(Xv, y, 3, obj(W0), obj(b0), lam_intercept=lam_b, **extra)
            for g, w in zip(got, want):
                assert g.dtype == np.float64
                np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)
        W, b = want
        ev = biased_logistic_log_evidence(
            as_float(X), y, 3, W, b, W0, b0, lam_intercept=lam_b, **kw
        )
        got = biased_logistic_log_evidence(
            obj(X), y, 3, obj(W), obj(b), obj(W0), obj(b0), lam_intercept=lam_b, **okw
        )
        assert got == pytest.approx(ev, rel=1e-12)
    W, b = fit_biased_ridge(as_float(X), offset[:, 0], None, lam=lam, sample_weight=s)
    Wo, bo = fit_biased_ridge(obj(X), obj(offset[:, 0]), None, lam=obj(lam), sample_weight=obj(s))
    np.testing.assert_allclose(Wo, W, rtol=1e-12)
    np.testing.assert_allclose(bo, b, rtol=1e-12)
    Wo, bo = fit_biased_ridge(
        as_float(X), offset[:, 0], None, lam=lam, sample_weight=s, offset=obj(offset[:, 1])
    )
    W, b = fit_biased_ridge(
        as_float(X), offset[:, 0] - offset[:, 1], None, lam=lam, sample_weight=s
    )
    np.testing.assert_allclose(Wo, W, rtol=1e-12)
    log_ev = np.array([-3.0, -1.0, -2.5])
    want = np.exp(log_ev - log_ev.max()) / np.exp(log_ev - log_ev.max()).sum()
    np.testing.assert_allclose(evidence_weights(obj(log_ev)), want, rtol=1e-12)
    np.testing.assert_allclose(evidence_weights([-3, -1, -2]), evidence_weights([-3.0, -1.0, -2.0]))


@pytest.mark.parametrize("fixed", ["no intercept", "infinite pull"])
def test_biased_logistic_with_a_fixed_intercept_optimizes_the_weights(fixed):
    # fit_intercept=False fixes b = 0, lam_intercept=inf fixes b = b0: the weights are then
    # the minimizer over W alone (its gradient, written out, is zero), b the fixed value.
    for seed, n_classes in product(range(6), (2, 3)):
        rng, X, y, k = _random_logistic_problem(seed, 40, 3, n_classes)
        W0, b0 = rng.normal(size=(k, 3)), rng.normal(size=k)
        if fixed == "no intercept":
            kw, b_fixed = {"fit_intercept": False}, np.zeros(k)
        else:
            kw, b_fixed = {"lam_intercept": np.inf}, b0
        W, b = fit_biased_logistic(X, y, n_classes, W0, b0, lam=0.5, alpha=0.1, tol=1e-10, **kw)
        np.testing.assert_array_equal(b, b_fixed)
        Z = X @ W.T + b_fixed
        if k == 1:
            dZ = (1.0 / (1.0 + np.exp(-Z[:, 0])) - y)[:, None]
        else:
            dZ = np.exp(Z - np.logaddexp.reduce(Z, axis=1, keepdims=True)) - np.eye(k)[y]
        grad = dZ.T @ X + 2 * 0.5 * (W - W0) + 2 * 0.1 * W
        assert np.abs(grad).max() < 1e-6


# -- issue 20, _hypothesis_transfer.py survivors (s15-reform): residual mode's units, learned
# source weights with sample and intercept weights, classes no source knows, dtypes --------


def test_residual_auto_unit_is_the_weighted_variance_for_any_weight_scale():
    # Weights summing to 1 and inputs of variance below 1: the strengths are still per
    # unit of the weighted mean column variance (lam_ is the penalty applied).
    X, y = _binary_data(n=60)
    X = 0.1 * X
    source = LogisticRegression().fit(X[:20], y[:20])
    w = np.random.RandomState(1).uniform(0.5, 2.0, size=40)
    w /= w.sum()
    clf = HypothesisTransferClassifier(source, mode="residual")
    clf.fit(X[20:], y[20:], sample_weight=w)
    unit = np.mean([np.cov(X[20:, j], aweights=w, bias=True) for j in range(3)])
    assert unit < 0.1
    strength = clf.candidates_[np.argmax(clf.candidate_weights_), 1]
    assert clf.lam_ == pytest.approx(strength * unit, rel=1e-10)


class _ProbabilityOnlySource(BaseEstimator):
    """A fitted classifier with predict_proba only, in a given dtype (a torch model's
    probabilities are float32)."""

    def __init__(self, model, dtype):
        self.model, self.dtype = model, dtype

    def fit(self, X, y):
        self.classes_ = self.model.classes_
        return self

    def predict(self, X):
        return self.model.predict(X)

    def predict_proba(self, X):
        return self.model.predict_proba(X).astype(np.float32).astype(self.dtype)


@pytest.mark.parametrize("lam", [1.0, "auto"])
def test_float32_probabilities_give_the_model_of_their_float64_values(lam):
    # The same probabilities in float32 or float64: their logs are taken in double
    # precision either way, so the models are the same.
    X, y = load_iris(return_X_y=True)
    source = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    fits = [
        HypothesisTransferClassifier(
            _ProbabilityOnlySource(source, dtype).fit(X, y), mode="residual", lam=lam
        ).fit(X[1::4], y[1::4])
        for dtype in (np.float32, np.float64)
    ]
    np.testing.assert_allclose(fits[0].coef_, fits[1].coef_, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fits[0].intercept_, fits[1].intercept_, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("lam", [np.inf, 1.0])
def test_learned_source_weights_with_sample_and_intercept_weights_are_penalized_least_squares(
    lam,
):
    # Minimize sum_i s_i (y_i - x_i delta - g_i beta - b)^2 + lam ||delta||^2
    # + source_reg beta^2 + lam_intercept c^2, c = b + m_x delta + m_g beta being the
    # score at the rows' weighted mean (lam=inf: delta = 0), written out on centred columns.
    rng = np.random.RandomState(4)
    X = rng.normal(size=(30, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.normal(size=30) + 4.0
    source = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    s = rng.randint(1, 4, size=30).astype(float)
    reg = HypothesisTransferRegressor(
        source, mode="residual", source_weights="learn", lam=lam, source_reg=2.0, lam_intercept=5.0
    ).fit(X, y, sample_weight=s)
    g = source.predict(X)[:, None]
    if np.isinf(lam):
        F, penalty = g, [2.0, 5.0]
    else:
        F, penalty = np.column_stack([X, g]), [lam] * 3 + [2.0, 5.0]
    mean = s @ F / s.sum()
    A = np.column_stack([F - mean, np.ones(30)])
    theta = np.linalg.solve(A.T @ (s[:, None] * A) + np.diag(penalty), A.T @ (s * y))
    coef = np.zeros(3) if np.isinf(lam) else theta[:3]
    np.testing.assert_allclose(reg.coef_, coef, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(reg.source_weights_.ravel(), theta[-2:-1], rtol=1e-8)
    np.testing.assert_allclose(reg.intercept_, theta[-1] - theta[:-1] @ mean, rtol=1e-8)
    # Integer sample weights are repeated rows.
    rows = np.repeat(np.arange(30), s.astype(int))
    rep = clone(reg).fit(X[rows], y[rows])
    np.testing.assert_allclose(rep.predict(X), reg.predict(X), rtol=1e-8)


@pytest.mark.parametrize("cls", [HypothesisTransferClassifier, HypothesisTransferRegressor])
def test_learned_source_weights_lam_is_the_correction_strength_with_one_feature(cls):
    X, y = _binary_data(d=1)
    y = y if cls is HypothesisTransferClassifier else X[:, 0] + y
    tree_cls = (
        DecisionTreeClassifier if cls is HypothesisTransferClassifier else DecisionTreeRegressor
    )
    source = tree_cls(max_depth=2, random_state=0).fit(X, y)
    kw = dict(mode="residual", source_weights="learn", source_reg=0.5)
    assert cls(source, lam=2.0, **kw).fit(X, y).lam_ == 2.0
    auto = cls(source, **kw).fit(X, y)
    assert auto.lam_ == auto.candidates_[np.argmax(auto.candidate_weights_), 1]


def test_residual_infinite_lam_keeps_the_source_even_for_a_class_no_source_knows():
    X, y, source, _, _ = _source_without_class_0()
    clf = HypothesisTransferClassifier(source, mode="residual", lam=np.inf).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, np.zeros((3, 4)))
    np.testing.assert_array_equal(clf.source_weights_, np.eye(3))


def test_residual_auto_caps_the_pull_on_a_class_no_source_knows():
    # mode="residual": the base scores of the binary source (classes 1 and 2) are its
    # decision function split into two opposite halves, zero for class 0; class 0's
    # correction is pulled by at most 0.5 (per unit of the inputs' variance).
    X, y, source, _, _ = _source_without_class_0()
    auto = HypothesisTransferClassifier(source, mode="residual", tol=1e-8).fit(X, y)
    unit = np.var(X, axis=0).mean()
    G = source.decision_function(X)[:, None] * [0.0, -0.5, 0.5]
    folds = _folds(X - X.mean(axis=0), y, np.ones(len(y)))
    log_lik = []
    for share, strength in auto.candidates_:
        lam = np.full((3, 4), unit * strength)
        lam[0] = unit * min(strength, 0.5)
        kw = dict(lam=lam, lam_intercept=strength, offset=share * G)

        def fit_on(sample_weight, share=share, kw=kw):
            # The intercept at the centre of the rows fitted to is pulled toward zero.
            m = sample_weight @ X / sample_weight.sum()
            W, b = fit_biased_logistic(
                X - m, y, 3, None, sample_weight=sample_weight, tol=1e-8, **kw
            )
            return lambda rows: log_softmax((X[rows] - m) @ W.T + b + share * G[rows], axis=1)

        log_lik.append(_held_out_log_likelihood(fit_on, y, folds))
    weights = _expected_weights(log_lik, auto.candidates_[:, 0])
    np.testing.assert_allclose(auto.candidate_weights_, weights, atol=1e-5)


def test_residual_auto_candidates_are_the_documented_grid():
    # As in mode="biased": the source kept, halved and dropped (plus the source itself
    # for the regressor); without a source only the target-only strengths.
    X, y = _binary_data(n=30, d=4)
    strengths = [100.0, 30.0, 10.0, 3.0, 1.0, 0.3, 0.1]
    grid = [[share, s] for share in (1.0, 0.5, 0.0) for s in strengths]
    y_reg = X @ [1.0, -1.0, 0.5, 0.0]
    clf = HypothesisTransferClassifier(LogisticRegression().fit(X, y), mode="residual")
    np.testing.assert_array_equal(clf.fit(X, y).candidates_, grid)
    reg = HypothesisTransferRegressor(Ridge().fit(X, y_reg), mode="residual").fit(X, y_reg)
    np.testing.assert_array_equal(reg.candidates_, [[1.0, np.inf], *grid])
    for model in (
        HypothesisTransferClassifier(mode="residual").fit(X, y),
        HypothesisTransferRegressor(mode="residual").fit(X, y_reg),
    ):
        np.testing.assert_array_equal(model.candidates_, [[1.0, s] for s in strengths])


def test_error_messages_in_full():
    import re

    X, y = load_iris(return_X_y=True)
    source = LogisticRegression(max_iter=1000).fit(X, y)
    cases = [
        (
            HypothesisTransferClassifier(source=[]),
            y,
            ValueError,
            "source must not be an empty list.",
        ),
        (
            HypothesisTransferClassifier(source, source_weights=[np.nan]),
            y,
            ValueError,
            "source_weights must be finite.",
        ),
        (
            HypothesisTransferClassifier(source, source_weights="learn"),
            y,
            ValueError,
            "source_weights='learn' needs mode='residual' (with linear sources it learns the "
            "same model family as mode='biased').",
        ),
        (
            HypothesisTransferClassifier(source),
            np.zeros(len(y), dtype=int),
            ValueError,
            "y must contain at least 2 classes; got only one class, np.int64(0).",
        ),
        (
            HypothesisTransferClassifier(DecisionTreeClassifier().fit(X, y)),
            y,
            TypeError,
            "source (DecisionTreeClassifier) is not a linear model (no coef_): mode='biased' "
            "needs one; use mode='residual' for any fitted estimator.",
        ),
        (
            HypothesisTransferClassifier(StandardScaler().fit(X), mode="residual"),
            y,
            TypeError,
            "source must be a fitted estimator with predict or decision_function, or a "
            "(coef, intercept) pair in mode='biased'; got StandardScaler.",
        ),
        (
            HypothesisTransferClassifier((np.ones((2, 4)), np.zeros(2))),
            y,
            ValueError,
            "source has no classes_ to match, so it must give 3 score row(s) or weight row(s) "
            "for 3 target classes; got 2.",
        ),
    ]
    for model, target, exc, message in cases:
        with pytest.raises(exc, match=f"^{re.escape(message)}$"):
            model.fit(X, target)


def _shifted_source(source, c):
    """A copy of a fitted linear ``source`` that scores ``x + c`` as ``source`` scores ``x``."""
    shifted = copy.deepcopy(source)
    shifted.intercept_ = source.intercept_ - source.coef_ @ c
    return shifted


class _ShiftedInput(BaseEstimator):
    """A fitted ``model`` read on inputs shifted by ``c`` (residual-mode source)."""

    def __init__(self, model, c):
        self.model, self.c = model, c
        for attr in ("classes_", "n_features_in_"):
            if hasattr(model, attr):
                setattr(self, attr, getattr(model, attr))

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return self.model.predict(X - self.c)

    def predict_proba(self, X):
        return self.model.predict_proba(X - self.c)


@pytest.mark.parametrize("offset", [1e3, 1e8])
def test_fit_does_not_depend_on_the_origin_of_the_inputs(offset):
    # Inputs (and the source) shifted by a constant give the same model, its intercept
    # shifted to match: the intercept pulled toward the source's is the one at the centre
    # of the rows. Before, an intercept pulled toward the source's at the origin cost 3
    # points at an offset of 1e3 and left uniform probabilities at 1e8.
    X, y, source, _, _ = _source_without_class_0()
    c = np.linspace(1.0, 2.0, X.shape[1]) * offset
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    s = np.random.RandomState(0).randint(1, 4, size=len(y)).astype(float)
    cases = [
        (HypothesisTransferClassifier(), HypothesisTransferClassifier()),
        (
            HypothesisTransferClassifier(source),
            HypothesisTransferClassifier(_shifted_source(source, c)),
        ),
        (
            HypothesisTransferClassifier(source, lam=2.0, lam_intercept=3.0),
            HypothesisTransferClassifier(_shifted_source(source, c), lam=2.0, lam_intercept=3.0),
        ),
        (
            HypothesisTransferClassifier(tree, mode="residual"),
            HypothesisTransferClassifier(_ShiftedInput(tree, c), mode="residual"),
        ),
    ]
    for plain, shifted in cases:
        plain.fit(X, y, sample_weight=s)
        shifted.fit(X + c, y, sample_weight=s)
        np.testing.assert_allclose(shifted.coef_, plain.coef_, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            shifted.predict_proba(X + c), plain.predict_proba(X), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            shifted.intercept_ + shifted.coef_ @ c, plain.intercept_, rtol=1e-6, atol=1e-4
        )
    # The regressor, with the intercept pulled and with learned source weights.
    Xd, yd = load_diabetes(return_X_y=True)
    Xd = StandardScaler().fit_transform(Xd)
    c = np.linspace(1.0, 2.0, Xd.shape[1]) * offset
    ridge = Ridge().fit(Xd[:200], yd[:200])
    gbr = DecisionTreeRegressor(max_depth=3, random_state=0).fit(Xd[:200], yd[:200])
    Xt, yt = Xd[200:240], yd[200:240]
    cases = [
        (
            HypothesisTransferRegressor(ridge, lam_intercept=5.0),
            HypothesisTransferRegressor(_shifted_source(ridge, c), lam_intercept=5.0),
        ),
        (
            HypothesisTransferRegressor(
                gbr, mode="residual", source_weights="learn", lam_intercept=5.0
            ),
            HypothesisTransferRegressor(
                _ShiftedInput(gbr, c), mode="residual", source_weights="learn", lam_intercept=5.0
            ),
        ),
    ]
    for plain, shifted in cases:
        plain.fit(Xt, yt)
        shifted.fit(Xt + c, yt)
        # (Centring inputs 1e8 from the origin loses 8 digits, and the evidence's weights
        # carry that to the coefficients: 3e-6 of coefficients up to 6.)
        np.testing.assert_allclose(shifted.coef_, plain.coef_, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(shifted.predict(Xd + c), plain.predict(Xd), rtol=1e-6, atol=1e-4)


def test_without_a_pull_on_the_weights_the_intercept_is_pulled_toward_the_sources():
    # lam=0 puts no prior on the weights: the score at the centre of the rows is pulled
    # toward the source's intercept alone (its weights are not the prior's).
    X = np.random.RandomState(0).normal(size=(20, 3)) + 2.0
    y = X @ [1.0, 2.0, 3.0] + 5.0
    source = Ridge().fit(X - 2.0, y)
    reg = HypothesisTransferRegressor(source, lam=0.0, lam_intercept=1e9).fit(X, y)
    m = X.mean(axis=0)
    assert reg.intercept_ + reg.coef_ @ m == pytest.approx(source.intercept_, rel=1e-6)
    assert abs(source.intercept_ - (source.intercept_ + source.coef_ @ m)) > 1.0


# -- stop 20: mutmut survivors of the solver and the evidence --------------------------------


def _biased_logistic_gradient(X, y, k, W, b, W0, b0, lam, alpha, s, lam_b, offset):
    """Gradient of fit_biased_logistic's stated objective, written out (one weight row,
    the score of class 1, when k == 2)."""
    Z = X @ W.T + b + offset
    if k == 2:
        P = 1 / (1 + np.exp(-Z[:, 0]))
        dZ = (s * (P - y))[:, None]
    else:
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        dZ = s[:, None] * (P - np.eye(k)[y])
    return dZ.T @ X + 2 * lam * (W - W0) + 2 * alpha * W, dZ.sum(axis=0) + 2 * lam_b * (b - b0)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("case", ["offset", "no_intercept", "fixed_weights"])
def test_biased_logistic_solution_is_stationary_to_rounding_error(n_classes, case):
    # The Newton polish uses an analytic Hessian-vector product: a wrong product (the
    # scores at the wrong point, the intercept's block summed over classes too, the
    # fixed block not zero) still lowers the gradient a little, so only the size of the
    # gradient left at the solution tells it from the right one.
    rng = np.random.RandomState(1)
    n, d = 40, 4
    k = 1 if n_classes == 2 else n_classes
    X = rng.normal(size=(n, d)) + 3.0
    y = rng.randint(n_classes, size=n)
    W0, b0 = rng.normal(size=(k, d)), rng.normal(size=k)
    s = rng.uniform(0.5, 2.0, size=n)
    offset = rng.normal(size=(n, k)) if case == "offset" else np.zeros((n, k))
    lam = np.inf if case == "fixed_weights" else 0.3
    fit_intercept = case != "no_intercept"
    W, b = fit_biased_logistic(
        X,
        y,
        n_classes,
        W0,
        b0,
        lam=lam,
        alpha=0.0 if case == "fixed_weights" else 0.2,
        sample_weight=s,
        fit_intercept=fit_intercept,
        lam_intercept=0.5,
        offset=offset if case == "offset" else None,
    )
    gW, gb = _biased_logistic_gradient(
        X, y, n_classes, W, b, W0, b0 if fit_intercept else 0.0,
        0.0 if case == "fixed_weights" else lam, 0.0 if case == "fixed_weights" else 0.2,
        s, 0.5, offset,
    )  # fmt: skip
    if case != "fixed_weights":
        assert np.max(np.abs(gW)) < 1e-10 * s.sum()
    if fit_intercept:
        assert np.max(np.abs(gb)) < 1e-10 * s.sum()


def test_biased_logistic_infinite_tolerance_returns_the_start():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(20, 3)), np.arange(20) % 3
    start = (rng.normal(size=(3, 3)), rng.normal(size=3))
    W, b = fit_biased_logistic(X, y, 3, np.zeros((3, 3)), lam=1.0, tol=np.inf, start=start)
    np.testing.assert_array_equal(W, start[0])
    np.testing.assert_array_equal(b, start[1])


def test_log_evidence_defaults_and_per_weight_penalties():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(30, 3)), np.arange(30) % 3
    W0 = rng.normal(size=(3, 3))
    lam = rng.uniform(0.5, 2.0, size=(3, 3))  # one strength per weight
    W, b = fit_biased_logistic(X, y, 3, W0, lam=lam, lam_intercept=0.7, tol=1e-10)
    kw = dict(lam=lam, lam_intercept=0.7)
    without_b0 = biased_logistic_log_evidence(X, y, 3, W, b, W0, **kw)
    with_zeros = biased_logistic_log_evidence(X, y, 3, W, b, W0, np.zeros(3), **kw)
    assert np.isfinite(without_b0)
    assert without_b0 == pytest.approx(with_zeros, rel=1e-12)


def test_classifier_passes_its_tolerance_to_the_solver():
    # L-BFGS stops sooner with the looser tolerance.
    X, y = _binary_data()
    source = LogisticRegression().fit(X + 0.5, y)
    loose = HypothesisTransferClassifier(source, lam=1.0, tol=1e-1).fit(X, y)
    tight = HypothesisTransferClassifier(source, lam=1.0, tol=1e-10).fit(X, y)
    assert loose.n_iter_ < tight.n_iter_


def test_n_iter_is_the_largest_count_of_any_fit(monkeypatch):
    from skreuse.training import _hypothesis_transfer as ht

    counts = []
    solve = ht.fit_biased_logistic

    def spy(*args, **kwargs):
        out = solve(*args, **kwargs)
        counts.append(out[2])
        return out

    monkeypatch.setattr(ht, "fit_biased_logistic", spy)
    X, y = _binary_data()
    clf = HypothesisTransferClassifier(LogisticRegression().fit(X + 0.5, y)).fit(X, y)
    assert len(counts) > len(clf.candidates_)  # the candidates and their fold refits
    assert clf.n_iter_ == max(counts)
    assert counts[-1] < max(counts)  # the last fit is not the longest here


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("c", [1e-3, 1e6, 1e150])
def test_biased_logistic_is_equivariant_to_the_features_scale(n_classes, c):
    # Features times c with the penalties times c**2 (and the source weights over c) is the
    # same problem in other units: the weights come out over c, the intercept the same.
    # Before the solver rescaled its columns, iris times 1e6 stalled far from the minimizer.
    X, y = load_iris(return_X_y=True)
    if n_classes == 2:
        y = (y == 2).astype(int)
    k = 1 if n_classes == 2 else n_classes
    W0 = np.random.RandomState(0).normal(size=(k, 4))
    W, b = fit_biased_logistic(X, y, n_classes, W0, lam=0.3, alpha=0.1, tol=1e-10)
    Wc, bc = fit_biased_logistic(
        X * c, y, n_classes, W0 / c, lam=0.3 * c**2, alpha=0.1 * c**2, tol=1e-10
    )
    np.testing.assert_allclose(Wc * c, W, rtol=1e-6, atol=1e-8)
    # (a free multinomial intercept is only defined up to a constant added to every class)
    np.testing.assert_allclose(bc - bc.mean(), b - b.mean(), rtol=1e-6, atol=1e-8)


def test_hypothesis_transfer_fits_features_in_large_units():
    # Iris in units a million times smaller: lam=1 is then next to no penalty, and the fit
    # a nearly plain logistic regression (0.847 training accuracy before the solver
    # rescaled its columns: L-BFGS stopped with gradient entries of 442).
    X, y = load_iris(return_X_y=True)
    assert HypothesisTransferClassifier(lam=1.0).fit(X * 1e6, y).score(X * 1e6, y) > 0.98
    # With the penalty in the same units, the fit is that of the original units.
    big = HypothesisTransferClassifier(lam=0.1 * 1e12).fit(X * 1e6, y)
    plain = HypothesisTransferClassifier(lam=0.1).fit(X, y)
    np.testing.assert_allclose(big.coef_ * 1e6, plain.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(big.predict_proba(X * 1e6), plain.predict_proba(X), atol=1e-7)


def test_biased_logistic_without_rows_or_weight_returns_the_prior_mean():
    # No rows, or rows of zero weight: only the penalties are left, and their minimizer,
    # lam W0 / (lam + alpha), comes back without a warning (the columns' scale has no
    # weighted rows to be computed from).
    W0 = np.array([[1.0, 2.0, 0.0]])
    X = np.random.RandomState(0).normal(size=(5, 3))
    y = np.array([0, 1, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for args, weights in (((X[:0], y[:0]), None), ((X, y), np.zeros(5))):
            W, b = fit_biased_logistic(*args, 2, W0, lam=1.0, alpha=1.0, sample_weight=weights)
            np.testing.assert_allclose(W, 0.5 * W0, atol=1e-8)
            np.testing.assert_allclose(b, [0.0], atol=1e-8)


def test_biased_logistic_ignores_a_column_of_rounding_noise():
    # A column constant in the rows, centred by the caller, holds rounding noise of about
    # 1e-17: scaling it up to unit size made its penalty 1e33 times larger and stopped
    # L-BFGS after one step (hypothesis transfer on digits lost up to 5 points).
    X, y = load_iris(return_X_y=True)
    X = X - X.mean(axis=0)
    noise = 1e-17 * np.random.RandomState(0).normal(size=(len(X), 1))
    W0 = np.random.RandomState(1).normal(size=(3, 5))
    W, b = fit_biased_logistic(np.hstack([X, noise]), y, 3, W0, lam=0.3, tol=1e-10)
    W_ref, b_ref = fit_biased_logistic(X, y, 3, W0[:, :4], lam=0.3, tol=1e-10)
    np.testing.assert_allclose(W[:, :4], W_ref, rtol=1e-6, atol=1e-8)
    # the noise column's weights stay at the prior mean
    np.testing.assert_allclose(W[:, 4], W0[:, 4], rtol=1e-6)
    np.testing.assert_allclose(b - b.mean(), b_ref - b_ref.mean(), rtol=1e-6, atol=1e-8)


def test_biased_logistic_with_some_columns_in_large_units():
    # Two of iris' columns in units a million times smaller, the other two as they are:
    # with the penalties of those two in the same units it is the original problem, and
    # fixed weights come back exactly.
    X, y = load_iris(return_X_y=True)
    c = np.array([1e6, 1e6, 1.0, 1.0])
    W0 = np.random.RandomState(0).normal(size=(3, 4))
    W, b = fit_biased_logistic(X, y, 3, W0, lam=0.3, tol=1e-10)
    Wc, bc = fit_biased_logistic(X * c, y, 3, W0 / c, lam=0.3 * c**2, tol=1e-10)
    np.testing.assert_allclose(Wc * c, W, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(bc - bc.mean(), b - b.mean(), rtol=1e-6, atol=1e-8)
    fixed, _ = fit_biased_logistic(X * c, y, 3, W0 / c, lam=np.inf, lam_intercept=1.0)
    np.testing.assert_array_equal(fixed, W0 / c)


def test_the_prior_on_reuse_is_the_with_source_candidates_mass():
    # Candidates that predict the held-out rows equally well: the posterior is the prior,
    # reuse_prior for those with the source (share > 0) together, the rest for those
    # without; the kind of larger mass is kept (the source on a tie), evenly within it.
    shares = np.array([0.0, 0.0, 1.0, 1.0, 0.5])
    weigh = HypothesisTransferClassifier._candidate_weights
    np.testing.assert_allclose(weigh(np.zeros(5), shares, 0.3), [0.5, 0.5, 0, 0, 0])
    np.testing.assert_allclose(weigh(np.zeros(5), shares, 0.7), [0, 0, 1 / 3, 1 / 3, 1 / 3])
    # Even odds, a tie: the source is kept (summed normalized weights gave 0.5 + 1e-16 to
    # the two candidates without it, and dropped it).
    np.testing.assert_allclose(weigh(np.zeros(5), shares), [0, 0, 1 / 3, 1 / 3, 1 / 3])
    for n_none, n_with in [(1, 2), (2, 3), (3, 2), (7, 14), (7, 7), (5, 9)]:
        tied = weigh(np.zeros(n_none + n_with), np.r_[np.zeros(n_none), np.ones(n_with)])
        np.testing.assert_allclose(tied, np.r_[np.zeros(n_none), np.full(n_with, 1 / n_with)])
    # No finite score: every candidate as likely (a tie: the source kept).
    np.testing.assert_allclose(weigh(np.full(5, -np.inf), shares), [0, 0, 1 / 3, 1 / 3, 1 / 3])
    # A likelihood ratio of 4 for the no-source kind beats prior odds of 3 on reuse, not 5.
    ll = np.log([4.0, 4.0, 1.0, 1.0, 1.0])
    assert weigh(ll, shares, 0.75)[:2].sum() == pytest.approx(1.0)
    assert weigh(ll, shares, 5 / 6 + 1e-9)[2:].sum() == pytest.approx(1.0)
