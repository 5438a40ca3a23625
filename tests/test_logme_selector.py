"""LogMESelector: ranking, head, delegation, meta-estimator behaviour, and its Display."""

import warnings

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import BayesianRidge, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.random_projection import GaussianRandomProjection
from test_hypothesis_transfer import _evidence_the_slow_way

from skreuse.selection import LogMESelector
from skreuse.transferability import hscore, leep_score, logme_score, nce_score


def _bayesian_ridge_coef(F, y):
    """sklearn's BayesianRidge without hyperpriors is MacKay's fixed point on the evidence."""
    br = BayesianRidge(
        fit_intercept=False,
        alpha_init=1.0,
        lambda_init=1.0,
        alpha_1=0.0,
        alpha_2=0.0,
        lambda_1=0.0,
        lambda_2=0.0,
        tol=1e-12,
        max_iter=5000,
        compute_score=True,
    ).fit(F, y)
    return br.coef_, br.scores_[-1] / F.shape[0]


def _head_ratio(head):
    """The default head's prior ratio alpha / beta, the same for every target column."""
    ratio = head.alpha_ / head.beta_
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    return float(ratio[0])


def _ridge(F, Y, ratio):
    """The posterior mean at prior ratio ``ratio`` with a flat prior on the intercept: ridge
    regression of every target column, scikit-learn's way."""
    return Ridge(alpha=ratio, solver="svd").fit(F, Y)


def _one_hot(y):
    return (np.asarray(y)[:, None] == np.unique(y)[None, :]).astype(float)


def _head_log_evidence(F, Y, ratio):
    """The head's log evidence at prior ratio ``ratio``, the slow way: the intercept's flat
    prior integrated out (the targets projected on the complement of the constant vector,
    an orthonormal basis of n - 1 dimensions), each column Gaussian with covariance
    ``(I + F F^T / ratio) / beta`` there, at its maximum-likelihood ``beta``, the columns'
    log densities summed (the hypothesis-transfer regressor's evidence, with the prior
    mean at zero). Also returns those betas."""
    return _evidence_the_slow_way(F, Y, 1, None, ratio, return_precisions=True)


def _check_head_is_the_evidence_maximizing_ridge(head, F, Y):
    """``head``'s posterior means are ridge regression at its ratio, the ratio is a maximum
    of the log evidence written the slow way (above its neighbours and every point of a
    coarse grid), and its betas are that evidence's."""
    ratio = _head_ratio(head)
    ridge = _ridge(F, Y, ratio)
    np.testing.assert_allclose(head.coef_, np.atleast_2d(ridge.coef_), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        head.intercept_, np.atleast_1d(ridge.intercept_), rtol=1e-6, atol=1e-9
    )
    best, betas = _head_log_evidence(F, Y, ratio)
    np.testing.assert_allclose(head.beta_, betas, rtol=1e-6)
    # (Toward an exact fit, with as many features as rows, the evidence rises to a plateau
    # as the ratio falls; the head stops at the bottom of its grid, within 1e-8 of it.)
    slack = 1e-6 * abs(best)
    for other in (ratio * 1.05, ratio / 1.05):
        assert best >= _head_log_evidence(F, Y, other)[0] - slack
    top = np.linalg.norm(F - F.mean(axis=0), 2) ** 2
    for other in top * 2.0 ** np.arange(-20.0, 21.0, 4.0):
        assert best >= _head_log_evidence(F, Y, other)[0] - slack


def _ranking_logme(F, y):
    """The selector's LogME of a classification, the slow way: each class indicator scored
    by the paper's LogME on the features with a constant column (the root mean square of
    the features), capped at 0, averaged; and the plain average (the tie-break)."""
    F = np.asarray(F, dtype=np.float64)
    F1 = np.hstack([F, np.full((len(F), 1), np.sqrt(np.mean(F**2)))])
    per_class = [logme_score(F1, (y == c).astype(float), task="regression") for c in np.unique(y)]
    return np.mean(np.minimum(per_class, 0.0)), np.mean(per_class)


def _square(X):
    return np.asarray(X, dtype=float) ** 2


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    source, target = slice(0, 900), slice(900, 1300)
    candidates = [
        ("pca3", PCA(n_components=3, random_state=0).fit(X[source])),
        ("pca20", PCA(n_components=20, random_state=0).fit(X[source])),
        ("random10", GaussianRandomProjection(10, random_state=0).fit(X[source])),
        ("knn", KNeighborsClassifier(5).fit(X[source], y[source])),
        ("square", _square),
    ]
    return X[target], y[target], candidates


def _features(model, X):
    if hasattr(model, "transform"):
        return model.transform(X)
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model(X)


def _near_tie_ranking(scores, spans, widths, n_rows):
    """The ranking of LogMESelector's Notes, the slow way: ``scores`` maps each name to its
    ``(capped, plain)`` LogME. Repeatedly, among the names left of the widest span (once none
    is left, those of the smaller spans), those within half a nat of total evidence (score
    times rows) of the best left, and of them the best by (capped, plain) that is at most
    twice as wide as the narrowest."""
    widest = max(spans.values())
    left, ranking = dict(scores), []
    while left:
        narrow_span = all(spans[n] < widest for n in left)
        group = {n: v for n, v in left.items() if (spans[n] < widest) == narrow_span}
        top = max(v[0] for v in group.values())
        near = [n for n, v in group.items() if n_rows * (top - v[0]) < 0.5]
        narrowest = min(widths[n] for n in near)
        pick = max((n for n in near if widths[n] <= 2 * narrowest), key=group.get)
        ranking.append(pick)
        del left[pick]
    return ranking


def test_scores_ranking_selected_are_consistent(digits):
    X, y, candidates = digits
    selector = LogMESelector(candidates, top_k=2).fit(X, y)
    features = {name: _features(m, X) for name, m in candidates}
    expected = {name: _ranking_logme(F, y) for name, F in features.items()}
    assert selector.scores_.keys() == expected.keys()
    for name in expected:
        assert selector.scores_[name] == pytest.approx(expected[name][0], rel=1e-9, abs=1e-12)
    widths = {name: F.shape[1] for name, F in features.items()}
    # knn (10 probabilities), pca20 and square (64) all reach the cap: a tie, where square,
    # more than twice as wide as knn and as pca20, ranks after both.
    assert [expected[n][0] for n in ("knn", "pca20", "square")] == [0.0, 0.0, 0.0]
    assert selector.ranking_ == _near_tie_ranking(expected, selector.class_span_, widths, len(y))
    assert selector.ranking_ == ["knn", "pca20", "square", "random10", "pca3"]
    assert selector.selected_ == selector.ranking_[:2]
    models = dict(candidates)
    stacked = np.hstack([_features(models[n], X) for n in selector.selected_])
    np.testing.assert_allclose(selector.transform(X), stacked)
    np.testing.assert_array_equal(selector.classes_, np.arange(10))


def test_bayesian_head_is_ridge_at_the_evidence_maximizing_shared_ratio(digits):
    X, y, candidates = digits
    # knn's probabilities reproduce class 0 exactly: the evidence rises without bound as
    # the ratio falls, the head takes the least-squares fit, and scikit-learn's Ridge at a
    # ratio of 1e-18 keeps a direction of rounding error: leave it out here.
    candidates = [c for c in candidates if c[0] != "knn"]
    selector = LogMESelector(candidates).fit(X, y)
    F = selector.transform(X)
    head = selector.estimator_
    _check_head_is_the_evidence_maximizing_ridge(head, F, _one_hot(y))
    scores = F @ head.coef_.T + head.intercept_
    np.testing.assert_array_equal(selector.predict(X), np.argmax(scores, axis=1))
    proba = selector.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.argmax(proba, axis=1), selector.predict(X))
    np.testing.assert_allclose(selector.decision_function(X), scores, rtol=1e-12)
    assert selector.score(X, y) == pytest.approx(np.mean(selector.predict(X) == y))

    # the temperature is the maximum-likelihood one: the NLL is worse on both sides
    def nll(temperature):
        z = scores / temperature
        z = z - z.max(axis=1, keepdims=True)
        return -np.mean(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)))

    best = nll(head.temperature_)
    assert best <= nll(head.temperature_ * 1.1)
    assert best <= nll(head.temperature_ / 1.1)


def test_bayesian_head_is_invariant_to_shifting_and_scaling_the_features():
    # The intercept's flat prior and one ratio for all classes: shifting the features
    # (here far from the origin) or scaling them changes no prediction. Without an
    # intercept (the paper's head) a shift of the features moved the predictions; with a
    # ratio per class, the classes' scores were on different scales.
    rng = np.random.RandomState(0)
    y, y_test = np.repeat(np.arange(3), 4), np.arange(60) % 3
    means = rng.normal(size=(3, 5))
    F = means[y] + 0.8 * rng.normal(size=(12, 5))
    test = means[y_test] + 0.8 * rng.normal(size=(60, 5))
    base = LogMESelector([("f", _identity)]).fit(F, y)
    for shift, scale in ((50.0, 1.0), (0.0, 1e4), (-3.0, 1e-3)):
        moved = LogMESelector([("f", _identity)]).fit(F * scale + shift, y)
        np.testing.assert_array_equal(moved.predict(test * scale + shift), base.predict(test))
        np.testing.assert_allclose(
            moved.predict_proba(test * scale + shift), base.predict_proba(test), atol=1e-6
        )
    assert np.mean(base.predict(test) == y_test) > 0.75


def _identity(Z):
    return np.asarray(Z, dtype=float)


def test_string_labels(digits):
    X, y, candidates = digits
    names = np.array([f"digit{d}" for d in range(10)])
    selector = LogMESelector(candidates).fit(X, names[y])
    reference = LogMESelector(candidates).fit(X, y)
    assert selector.scores_ == pytest.approx(reference.scores_)
    np.testing.assert_array_equal(selector.predict(X), names[reference.predict(X)])
    np.testing.assert_array_equal(selector.classes_, names)


@pytest.mark.parametrize("metric", ["leep", "nce", "hscore", "callable"])
def test_other_metrics(digits, metric):
    X, y, candidates = digits
    knn = [c for c in candidates if c[0] == "knn"]
    proba = knn[0][1].predict_proba(X)
    if metric == "hscore":
        selector = LogMESelector(candidates[:3], metric="hscore").fit(X, y)
        expected = {n: hscore(m.transform(X), y) for n, m in candidates[:3]}
    elif metric == "callable":
        selector = LogMESelector(candidates[:3], metric=hscore).fit(X, y)
        expected = {n: hscore(m.transform(X), y) for n, m in candidates[:3]}
    else:
        selector = LogMESelector(knn, metric=metric).fit(X, y)
        value = leep_score(proba, y) if metric == "leep" else nce_score(proba.argmax(1), y)
        expected = {"knn": value}
    assert selector.scores_ == pytest.approx(expected, rel=1e-12)


def test_regression_head_is_the_evidence_maximizing_ridge_with_an_intercept():
    X, y = load_diabetes(return_X_y=True)
    candidates = [
        ("pca2", PCA(n_components=2).fit(X)),
        ("identity", lambda Z: Z),
        ("pca8", PCA(n_components=8).fit(X)),
    ]
    selector = LogMESelector(candidates).fit(X, y)
    F = selector.transform(X)
    # The ranking is the paper's LogME (no intercept), the head has one.
    evidence = _bayesian_ridge_coef(F, y)[1]
    assert selector.scores_[selector.selected_[0]] == pytest.approx(evidence, rel=1e-6)
    head = selector.estimator_
    _check_head_is_the_evidence_maximizing_ridge(head, F, y[:, None])
    np.testing.assert_allclose(
        selector.predict(X), F @ head.coef_[0] + head.intercept_[0], rtol=1e-12
    )
    assert not hasattr(selector, "predict_proba")
    assert not hasattr(selector, "classes_")
    r2 = 1 - np.sum((y - selector.predict(X)) ** 2) / np.sum((y - y.mean()) ** 2)
    assert selector.score(X, y) == pytest.approx(r2)
    # Targets around 150: without an intercept the head's R^2 was -3.6 on these rows.
    assert r2 > 0.45
    # multi-output: the same ratio for both outputs, each its own intercept
    Y = np.c_[y, -2 * y + 1000.0]
    multi = LogMESelector(candidates).fit(X, Y)
    assert multi.predict(X).shape == (len(y), 2)
    _check_head_is_the_evidence_maximizing_ridge(multi.estimator_, multi.transform(X), Y)


def test_external_head_and_pipeline(digits):
    X, y, candidates = digits
    selector = LogMESelector(candidates, estimator=LogisticRegression(max_iter=500), top_k=2)
    selector.fit(X, y)
    F = selector.transform(X)
    head = LogisticRegression(max_iter=500).fit(F, y)
    np.testing.assert_allclose(selector.predict_proba(X), head.predict_proba(F))
    np.testing.assert_allclose(selector.decision_function(X), head.decision_function(F))
    pipe = make_pipeline(LogMESelector(candidates), LogisticRegression(max_iter=500)).fit(X, y)
    best = LogMESelector(candidates).fit(X, y)
    manual = LogisticRegression(max_iter=500).fit(best.transform(X), y)
    np.testing.assert_array_equal(pipe.predict(X), manual.predict(best.transform(X)))


def test_grid_search_over_top_k_metric_and_head_parameter(digits):
    X, y, candidates = digits
    selector = LogMESelector(candidates[:3], estimator=LogisticRegression(max_iter=300))
    grid = GridSearchCV(
        selector,
        {"top_k": [1, 2], "metric": ["logme", "hscore"], "estimator__C": [0.01, 1.0]},
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 8
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_params_["estimator__C"] == 1.0
    # clone keeps the pre-trained candidates themselves (cloning would unfit them)
    cloned = clone(selector)
    assert all(a[1] is b[1] for a, b in zip(cloned.candidates, selector.candidates))
    assert cloned.estimator is not selector.estimator


def test_candidates_are_not_modified_and_results_do_not_depend_on_n_jobs(digits):
    X, y, candidates = digits
    before = [m.components_.copy() for _, m in candidates if hasattr(m, "components_")]
    one = LogMESelector(candidates, n_jobs=1).fit(X, y)
    # threads keep the test fast; the process-based backends need pickling, tested elsewhere
    with parallel_config(backend="threading"):
        two = LogMESelector(candidates, n_jobs=2, verbose=1).fit(X, y)
    after = [m.components_ for _, m in candidates if hasattr(m, "components_")]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert one.scores_ == two.scores_
    assert one.selected_models_[0][1] is not dict(candidates)[one.selected_[0]]


def test_torch_module_candidate(backend):
    torch = pytest.importorskip("torch")
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 24), torch.nn.ReLU()).double()
    module.train()
    weights = module[0].weight.detach().clone()
    selector = LogMESelector(
        [("net", module), ("pca", PCA(5).fit(X))], device=backend, batch_size=64
    ).fit(X, y)
    with torch.no_grad():
        expected, _ = _ranking_logme(module(torch.as_tensor(X)).numpy(), y)
    assert selector.scores_["net"] == pytest.approx(expected, rel=1e-8)
    assert module.training
    assert torch.equal(module[0].weight, weights)
    assert selector.selected_ == ["net"]
    assert selector.transform(X).shape == (300, 24)


def test_callable_candidate_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_digits(return_X_y=True)
    X, y = X[:200], y[:200]
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    selector = LogMESelector([("sq", _square), ("half", lambda Z: np.asarray(Z)[:, :32])])
    selector.fit(df, y)
    np.testing.assert_array_equal(selector.feature_names_in_, df.columns.to_numpy(dtype=object))
    expected = {"sq": _ranking_logme(X**2, y)[0], "half": _ranking_logme(X[:, :32], y)[0]}
    assert selector.scores_ == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_errors(digits):
    X, y, candidates = digits
    with pytest.raises(NotFittedError, match="'fresh'"):
        LogMESelector([("pca", candidates[0][1]), ("fresh", PCA(2))]).fit(X, y)
    with pytest.raises(ValueError, match="top_k=9 is larger than the number of candidates"):
        LogMESelector(candidates, top_k=9).fit(X, y)
    with pytest.raises(ValueError, match="classification tasks only"):
        LogMESelector(candidates, metric="leep").fit(X, y + 0.5)
    with pytest.raises(TypeError, match="metric must return a real number"):
        LogMESelector(candidates[:1], metric=lambda F, y: "high").fit(X, y)
    with pytest.raises(ValueError, match="unique"):
        LogMESelector([("a", _square), ("a", _square)]).fit(X, y)
    with (
        pytest.warns(UserWarning, match="gives no class probabilities"),
        pytest.raises(ValueError, match="No candidate can be scored by metric='leep'"),
    ):
        LogMESelector(candidates[:1], metric="leep").fit(X, y)
    with pytest.raises(NotFittedError):
        LogMESelector(candidates).predict(X)
    selector = LogMESelector(candidates).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        selector.transform(X[:, :10])


def test_transferability_display(digits):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skreuse.plotting import TransferabilityDisplay

    X, y, candidates = digits
    selector = LogMESelector(candidates, top_k=2).fit(X, y)
    display = TransferabilityDisplay.from_estimator(selector)
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    assert labels == selector.ranking_[::-1]
    widths = [bar.get_width() for bar in display.bars_]
    np.testing.assert_allclose(widths, [selector.scores_[n] for n in labels])
    colors = {n: bar.get_facecolor() for n, bar in zip(labels, display.bars_)}
    assert colors[selector.ranking_[0]] == colors[selector.ranking_[1]]
    assert colors[selector.ranking_[0]] != colors[selector.ranking_[2]]
    assert display.ax_.get_xlabel() == "LogME"
    with pytest.raises(NotFittedError):
        TransferabilityDisplay.from_estimator(LogMESelector(candidates))
    plt.close("all")


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


def test_binary_head_decision_function_sign_and_proba_temperature(digits):
    # Two classes with string labels: the head's binary decision_function is the score of
    # classes_[1] minus that of classes_[0], positive exactly where classes_[1] is
    # predicted, and predict_proba is the softmax of the scores over the fitted temperature.
    X, y, candidates = digits
    labels = np.array(["low", "high"])[(y >= 5).astype(int)]
    candidates = [c for c in candidates if c[0] in ("pca3", "pca20")]
    selector = LogMESelector(candidates).fit(X, labels)
    np.testing.assert_array_equal(selector.classes_, ["high", "low"])
    F = selector.transform(X)
    ridge = _ridge(F, _one_hot(labels), _head_ratio(selector.estimator_))
    scores = ridge.predict(F)
    decision = selector.decision_function(X)
    assert decision.shape == (X.shape[0],)
    np.testing.assert_allclose(decision, scores[:, 1] - scores[:, 0], rtol=1e-5, atol=1e-8)
    pred = selector.predict(X)
    np.testing.assert_array_equal(pred, np.where(decision > 0, "low", "high"))
    assert 0.5 < np.mean(pred == labels) < 1.0  # both signs occur, and mostly right
    temperature = selector.estimator_.temperature_
    z = scores / temperature
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(selector.predict_proba(X), expected, rtol=1e-5, atol=1e-9)
    # a fitted temperature far from 1: an unscaled softmax would not pass the check above
    assert not 0.5 < temperature < 2.0


def test_multiclass_predict_proba_uses_the_fitted_temperature(digits):
    X, y, candidates = digits
    candidates = [c for c in candidates if c[0] != "knn"]
    selector = LogMESelector(candidates).fit(X, y)
    head = selector.estimator_
    scores = selector.transform(X) @ head.coef_.T + head.intercept_
    z = scores / head.temperature_
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(selector.predict_proba(X), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_candidate_with_nan_score_is_never_ranked_first(digits, position):
    # A metric that returns NaN for one candidate (e.g. degenerate features): that
    # candidate must rank last (a warning is allowed) or fit must refuse it clearly;
    # it must never be selected as the best.
    X, y, candidates = digits
    pool = [c for c in candidates if c[0] in ("pca20", "random10")]
    pool.insert(position, ("broken", lambda Z: np.asarray(Z, dtype=float)[:, :4]))

    def metric(F, target):
        return float("nan") if F.shape[1] == 4 else logme_score(F, target)

    try:
        selector = LogMESelector(pool, metric=metric).fit(X, y)
    except ValueError as exc:
        refusal = str(exc)
    else:
        refusal = None
    if refusal is not None:
        assert "nan" in refusal.lower()
        return
    assert np.isnan(selector.scores_["broken"])
    assert selector.ranking_ == ["pca20", "random10", "broken"]
    assert selector.selected_ == ["pca20"]


def test_methods_exist_exactly_when_the_head_has_them(digits):
    # available_if: before fit from the configured head, after fit from the fitted one.
    from sklearn.linear_model import Ridge

    from skreuse.selection._logme_selector import _BayesianLinearHead

    X, y, candidates = digits
    candidates = [c for c in candidates if c[0] in ("pca3", "pca20")]
    ridge = LogMESelector(candidates, estimator=Ridge())
    logistic = LogMESelector(candidates, estimator=LogisticRegression(max_iter=300))
    default = LogMESelector(candidates)
    for selector in (ridge, logistic, default):
        for fitted in (False, True):
            if fitted:
                selector.fit(X, y)
            has = selector is not ridge
            assert hasattr(selector, "predict_proba") is has
            assert hasattr(selector, "decision_function") is has
            assert hasattr(selector, "predict")
            assert hasattr(selector, "score")
    # the default head: classification methods until fitted on a regression target
    assert hasattr(_BayesianLinearHead(), "predict_proba")
    regression = LogMESelector(candidates).fit(X, y.astype(float))
    assert not hasattr(regression, "predict_proba")
    assert not hasattr(regression, "decision_function")


def test_regressor_head_makes_integer_targets_a_regression(digits):
    from sklearn.linear_model import Ridge

    X, y, candidates = digits
    candidates = [c for c in candidates if c[0] in ("pca3", "pca20")]
    selector = LogMESelector(candidates, estimator=Ridge()).fit(X, y)
    expected = {n: logme_score(_features(m, X), y, task="regression") for n, m in candidates}
    assert selector.scores_ == pytest.approx(expected, rel=1e-12)


def test_default_head_fitted_attributes_and_weighted_score(digits):
    from skreuse.transferability import _logme_fit

    X, y, candidates = digits
    candidates = [c for c in candidates if c[0] in ("pca3", "pca20")]
    selector = LogMESelector(candidates).fit(X, y)
    head, F = selector.estimator_, selector.transform(X)
    score, _, task = _logme_fit(F, y)
    assert task == head.task_ == "classification"
    # logme_ is the paper's value (without the constant column of the ranking).
    assert head.logme_ == pytest.approx(score, rel=1e-12)
    assert selector.scores_[selector.selected_[0]] == pytest.approx(
        _ranking_logme(F, y)[0], rel=1e-9
    )
    # alpha_ and beta_: per class, at the shared ratio (beta checked the slow way there).
    ratio = _head_ratio(head)
    np.testing.assert_allclose(head.beta_, _head_log_evidence(F, _one_hot(y), ratio)[1], rtol=1e-6)
    assert head.coef_.shape == (10, F.shape[1])
    assert head.intercept_.shape == (10,)
    assert head.n_features_in_ == F.shape[1]
    w = np.linspace(0.1, 2.0, len(y))
    expected = np.sum(w * (selector.predict(X) == y)) / np.sum(w)
    assert selector.score(X, y, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    # regression, two outputs
    Y = np.c_[y, y**2].astype(float)
    regression = LogMESelector(candidates).fit(X, Y)
    assert regression.estimator_.n_outputs_ == 2
    pred = regression.predict(X)
    r2 = [
        1
        - np.sum(w * (Y[:, j] - pred[:, j]) ** 2)
        / np.sum(w * (Y[:, j] - np.average(Y[:, j], weights=w)) ** 2)
        for j in range(2)
    ]
    assert regression.score(X, Y, sample_weight=w) == pytest.approx(np.mean(r2), rel=1e-10)


def test_tags_follow_the_head(digits):
    from sklearn.linear_model import Ridge
    from sklearn.utils import get_tags

    _, _, candidates = digits
    default = get_tags(LogMESelector(candidates))
    assert default.target_tags.required is True
    assert default.input_tags.allow_nan is False
    for head in (LogisticRegression(), Ridge()):
        tags, expected = get_tags(LogMESelector(candidates, estimator=head)), get_tags(head)
        assert tags.estimator_type == expected.estimator_type
        assert tags.classifier_tags == expected.classifier_tags
        assert tags.regressor_tags == expected.regressor_tags
        assert (tags.classifier_tags is None) is (head.__class__ is Ridge)


# -- LogME's ranking of a classification: intercept column, class evidences capped at 0 ------


def _benchmark_task(build="class_subsets", dataset="digits", seed=0, shots=10):
    """A same-columns scenario of the reuse-gain benchmark (``class_subsets``: the source
    knows 60 % of the classes; ``shifted_covariates``): the selector's candidates (the
    source's LDA, its classifier and the raw features) and the labelled and test target
    rows of the benchmark's draw."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.preprocessing import FunctionTransformer

    from skreuse.datasets import _scenarios as sc

    s = getattr(sc, build)(dataset, random_state=seed)
    source = LogisticRegression(max_iter=1000).fit(s.X_source, s.y_source)
    candidates = [
        ("source LDA", LinearDiscriminantAnalysis().fit(s.X_source, s.y_source)),
        ("source LR", source),
        ("raw features", FunctionTransformer().fit(s.X_source)),
    ]
    rng = np.random.RandomState(1000 * seed + shots)  # the benchmark's draw
    shots, test = sc.draw_shots(s.y_target, shots, rng, 300)
    return candidates, s.X_target[shots], s.y_target[shots], s.X_target[test], s.y_target[test]


def test_source_that_knows_some_classes_does_not_outrank_raw_features():
    candidates, X, y, X_test, y_test = _benchmark_task()
    models = dict(candidates)
    # The paper's LogME prefers the source's probabilities: the classes it knows are
    # predicted almost exactly, and their unbounded evidence outweighs the others.
    plain = {n: logme_score(_features(m, X), y) for n, m in candidates}
    assert max(plain, key=plain.get) == "source LR"
    evidence = {n: _ranking_logme(_features(m, X), y) for n, m in candidates}
    selector = LogMESelector(candidates, estimator=LogisticRegression(max_iter=1000)).fit(X, y)
    assert selector.scores_ == pytest.approx({n: e[0] for n, e in evidence.items()}, rel=1e-9)
    assert selector.selected_ == ["raw features"]
    # Selecting the raw features is exactly training on the target alone.
    target_only = LogisticRegression(max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(selector.predict(X_test), target_only.predict(X_test))
    source_acc = np.mean(models["source LR"].predict(X_test) == y_test)
    assert selector.score(X_test, y_test) > source_acc + 0.2


def test_irrelevant_candidates_fall_back_to_raw_features(digits):
    X, y, _ = digits
    W = np.random.RandomState(0).normal(size=(64, 12))
    candidates = [
        ("noise", lambda Z: np.sin(100 * np.asarray(Z) @ W)),
        ("raw", lambda Z: np.asarray(Z) * 1.0),
    ]
    selector = LogMESelector(candidates, estimator=LogisticRegression(max_iter=1000))
    selector.fit(X[:100], y[:100])
    assert selector.selected_ == ["raw"]
    target_only = LogisticRegression(max_iter=1000).fit(X[:100], y[:100])
    np.testing.assert_array_equal(selector.predict(X[100:]), target_only.predict(X[100:]))


def test_perfect_candidate_is_kept_and_ties_at_the_cap_go_to_plain_logme(digits):
    X, y, _ = digits
    onehot = np.eye(10)[y]
    rng = np.random.RandomState(0)
    # Two candidates that give the labels up to small noise, at different noise levels;
    # the top rows of pixels explain the classes less well.
    exact = onehot + 0.01 * rng.normal(size=onehot.shape)
    close = onehot + 0.05 * rng.normal(size=onehot.shape)
    table = {"close": close, "exact": exact}
    candidates = [
        ("top", lambda Z: np.asarray(Z)[:, :16] * 1.0),
        ("close", lambda Z: table["close"][: len(Z)]),
        ("exact", lambda Z: table["exact"][: len(Z)]),
    ]
    selector = LogMESelector(candidates).fit(X, y)
    # Both near-perfect candidates reach the cap in every class: they tie at 0, and the
    # plain mean of the class evidences orders them.
    assert selector.scores_["close"] == selector.scores_["exact"] == 0.0
    assert selector.scores_["top"] < 0.0
    assert _ranking_logme(exact, y)[1] > _ranking_logme(close, y)[1]
    assert selector.ranking_ == ["exact", "close", "top"]


def test_as_many_rows_as_features_scores_the_whole_matrix():
    from skreuse.transferability import _logme_fit

    # n == D: with the constant column the statistics no longer determine LogME.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 12))
    y = np.arange(12) % 3
    selector = LogMESelector([("id", lambda Z: np.asarray(Z) * 1.0)]).fit(X, y)
    assert selector.scores_["id"] == pytest.approx(_ranking_logme(X, y)[0], rel=1e-9)
    head = selector.estimator_
    assert head.logme_ == pytest.approx(_logme_fit(X, y)[0], rel=1e-12)
    _check_head_is_the_evidence_maximizing_ridge(head, X, _one_hot(y))


def test_fewer_rows_than_features_fits_the_head_on_the_features():
    # n < D: the head is fitted on the whole feature matrix (its spectrum from the rows'
    # side), with a maximum-likelihood temperature.
    from skreuse.transferability import _logme_fit

    rng = np.random.RandomState(1)
    X = rng.normal(size=(10, 14))
    y = np.arange(10) % 3
    selector = LogMESelector([("id", lambda Z: np.asarray(Z) * 1.0)]).fit(X, y)
    head = selector.estimator_
    assert head.logme_ == pytest.approx(_logme_fit(X, y)[0], rel=1e-12)
    _check_head_is_the_evidence_maximizing_ridge(head, X, _one_hot(y))
    scores = X @ head.coef_.T + head.intercept_

    def nll(temperature):
        z = scores / temperature
        z = z - z.max(axis=1, keepdims=True)
        return -np.mean(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)))

    assert nll(head.temperature_) <= min(nll(head.temperature_ * 1.1), nll(head.temperature_ / 1.1))


# -- Candidates that collapse classes rank after those that do not --------------------------


def _span(F, y):
    """Dimensions spanned by the class means of ``F`` around their mean, by brute force."""
    means = np.array([F[y == c].mean(axis=0) for c in np.unique(y)])
    return np.linalg.matrix_rank(means - means.mean(axis=0))


def test_source_that_knows_some_classes_ranks_after_raw_features_at_three_rows_per_class():
    # Three rows per class: the source's probabilities (over 6 of the 10 digits) win LogME,
    # but their class means span 5 dimensions where the raw features' span 9.
    candidates, X, y, X_test, y_test = _benchmark_task(seed=2, shots=3)
    models = dict(candidates)
    selector = LogMESelector(candidates, estimator=LogisticRegression(max_iter=1000)).fit(X, y)
    evidence = {n: _ranking_logme(_features(m, X), y)[0] for n, m in candidates}
    assert selector.scores_ == pytest.approx(evidence, rel=1e-9)
    assert max(evidence, key=evidence.get) == "source LR"
    spans = {n: _span(_features(m, X), y) for n, m in candidates}
    assert spans == {"source LDA": 5, "source LR": 5, "raw features": 9}
    assert selector.class_span_ == spans
    # The candidates that collapse classes follow, in LogME order.
    assert selector.ranking_ == ["raw features", "source LR", "source LDA"]
    target_only = LogisticRegression(max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(selector.predict(X_test), target_only.predict(X_test))
    lr_head = LogMESelector(
        [("source LR", models["source LR"])], estimator=LogisticRegression(max_iter=1000)
    )
    assert selector.score(X_test, y_test) > lr_head.fit(X, y).score(X_test, y_test) + 0.1


def test_candidate_that_separates_every_class_ranks_first_on_a_constructed_case():
    # Three classes, four rows each. "two-class source": the probabilities of a model that
    # knows classes 0 and 1 and puts class 2 with class 1 (one dimension). "all classes":
    # noisy two-dimensional features with three distinct class means.
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 4)
    logit = np.where(y == 0, -6.0, 6.0) + 0.3 * rng.normal(size=12)
    p = 1 / (1 + np.exp(-logit))
    two = np.column_stack([1 - p, p])
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    every = centres[y] + 1.5 * rng.normal(size=(12, 2))
    table = {"two-class source": two, "all classes": every}
    candidates = [(n, (lambda Z, n=n: table[n][: len(Z)])) for n in table]
    X = np.zeros((12, 1))
    selector = LogMESelector(candidates).fit(X, y)
    # LogME alone prefers the source: class 0 is explained almost exactly.
    evidence = {n: _ranking_logme(F, y)[0] for n, F in table.items()}
    assert evidence["two-class source"] > evidence["all classes"]
    assert selector.scores_ == pytest.approx(evidence, rel=1e-9)
    assert selector.class_span_ == {"two-class source": 1, "all classes": 2}
    assert selector.class_span_ == {n: _span(F, y) for n, F in table.items()}
    assert selector.ranking_ == ["all classes", "two-class source"]


def test_class_span_only_for_logme_on_a_classification(digits):
    X, y, candidates = digits
    selector = LogMESelector(candidates, metric="hscore").fit(X[:200], y[:200])
    assert selector.class_span_ == {}
    assert selector.ranking_ == sorted(selector.scores_, key=selector.scores_.get, reverse=True)
    regression = LogMESelector(candidates[:3]).fit(X[:200], y[:200].astype(float))
    assert regression.class_span_ == {}
    # A 3-component PCA spans three of the nine dimensions of ten class means: it ranks last
    # (as LogME alone ranks it too); the others span all nine.
    ranked = LogMESelector(candidates).fit(X[:200], y[:200])
    assert ranked.class_span_ == {n: _span(_features(m, X[:200]), y[:200]) for n, m in candidates}
    assert ranked.class_span_["pca3"] == 3
    assert ranked.ranking_[-1] == "pca3"
    assert min(ranked.scores_, key=ranked.scores_.get) == "pca3"


def _random_rankings(seed, count):
    """``count`` random candidate sets for the ranking helpers: ``(rng, names, top_k, scores,
    tie_breaks)`` with 2-6 candidates, scores and tie-breaks on a coarse grid (so that ties
    occur); ``rng`` goes on to draw anything else the caller needs."""
    rng = np.random.RandomState(seed)
    for _ in range(count):
        n, top_k = rng.randint(2, 7), rng.randint(1, 4)
        names = [f"c{i}" for i in range(n)]
        scores = dict(zip(names, rng.choice([-0.3, -0.2, -0.1, 0.0], n)))
        ties = dict(zip(names, rng.choice([-1.0, 0.0], n)))
        yield rng, names, top_k, scores, ties


def test_payloads_dropped_while_scoring_are_never_needed_later():
    # While candidates are scored one after the other, the features of those that cannot be
    # in the best top_k any more are dropped. A wider candidate scored later moves the
    # narrower ones together, so a candidate is dropped only when top_k others beat it with a
    # span at least as large. Checked against the final ranking of every completion.
    from skreuse.selection._logme_selector import _outranked, _rank

    for rng, names, top_k, score, tie in _random_rankings(seed=0, count=500):
        n = len(names)
        span = dict(zip(names, rng.choice([2, 5, 9], n).tolist()))
        dropped = set()
        for m in range(1, n + 1):
            seen = names[:m]
            scores = {c: score[c] if c in seen else np.nan for c in names}
            ties, spans = {c: tie[c] for c in seen}, {c: span[c] for c in seen}
            dropped |= set(_outranked(scores, ties, spans, top_k))
            assert len(dropped) <= m - min(m, top_k)
        assert not dropped & set(_rank(score, tie, span)[:top_k])
        # Without spans (another metric) every candidate beyond the best top_k so far goes.
        scores = {c: score[c] for c in names}
        assert set(_outranked(scores, tie, {}, top_k)) == set(_rank(scores, tie, {})[top_k:])


def test_feature_names_out_prefix_each_selected_candidate_like_a_feature_union(digits):
    # Each selected candidate's names, prefixed by its name and in ranking order: those of a
    # FeatureUnion of the candidates that name their features, "x0", "x1", ... for the
    # others (a classifier, a callable, a Pipeline ending in a classifier, and a transformer
    # whose own names do not match its output: FunctionTransformer names the 64 inputs but
    # gives 5 columns).
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    X, y, candidates = digits
    first5 = FunctionTransformer(_first5, feature_names_out="one-to-one").fit(X)
    assert len(first5.get_feature_names_out()) == 64
    head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    with pytest.raises(AttributeError):
        head.get_feature_names_out()
    candidates = [*candidates, ("first5", first5), ("clf", head)]
    selector = LogMESelector(candidates, top_k=len(candidates)).fit(X, y)
    expected = []
    for name in selector.ranking_:
        model = dict(candidates)[name]
        if name in ("pca3", "pca20", "random10"):
            expected.extend(FeatureUnion([(name, model)]).get_feature_names_out())
        else:
            width = _features(model, X).shape[1]
            expected.extend(f"{name}__x{j}" for j in range(width))
    names = selector.get_feature_names_out()
    assert names.dtype == object
    assert names.tolist() == expected
    assert names.shape == (selector.transform(X).shape[1],)
    assert {"pca20__pca0", "first5__x4", "clf__x9"} <= set(expected)


def _first5(Z):
    return np.asarray(Z)[:, :5]


def test_feature_names_out_checks_input_features_and_fit():
    pd = pytest.importorskip("pandas")
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16.0, y[:200]
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    selector = LogMESelector([("pca", PCA(4).fit(df)), ("sq", _square)])
    with pytest.raises(NotFittedError):
        selector.get_feature_names_out()
    # A failed fit (top_k too large) leaves no selection behind: still not fitted.
    failed = clone(selector).set_params(top_k=3)
    with pytest.raises(ValueError, match="top_k=3"):
        failed.fit(df, y)
    with pytest.raises(NotFittedError):
        failed.get_feature_names_out()
    selector.set_params(top_k=2).fit(df, y)
    names = selector.get_feature_names_out()
    np.testing.assert_array_equal(selector.get_feature_names_out(df.columns), names)
    with pytest.raises(ValueError, match="input_features"):
        selector.get_feature_names_out([f"c{i}" for i in range(64)])
    # The names are the columns of the DataFrame output.
    out = selector.set_output(transform="pandas").transform(df)
    assert out.columns.tolist() == names.tolist()


def test_labels_metric_scores_a_classifier_without_probabilities(digits):
    # NCE needs class labels: a classifier gives them even without predict_proba; a
    # transformer gives none. LEEP needs probabilities: that classifier is skipped.
    from sklearn.svm import SVC

    X, y, candidates = digits
    svc = SVC().fit(X[:200], y[:200])
    assert not hasattr(svc, "predict_proba")
    cands = [("svc", svc), ("pca", dict(candidates)["pca20"])]
    with pytest.warns(UserWarning, match="1 of 2 candidates"):
        nce = LogMESelector(cands, metric="nce").fit(X, y)
    assert nce.scores_["svc"] == pytest.approx(nce_score(svc.predict(X), y), rel=1e-12)
    assert np.isnan(nce.scores_["pca"])
    assert nce.skipped_ == {
        "pca": "metric='nce' needs labels: a transformer without predict_proba gives no "
        "class labels"
    }
    assert nce.selected_ == ["svc"]
    with pytest.warns(UserWarning, match="2 of 3 candidates"):
        leep = LogMESelector([*cands, ("knn", dict(candidates)["knn"])], metric="leep").fit(X, y)
    assert leep.skipped_["svc"] == (
        "metric='leep' needs proba: a classifier without predict_proba gives no class probabilities"
    )
    assert set(leep.skipped_) == {"svc", "pca"}
    assert leep.selected_ == ["knn"]


def _table_candidate(F):
    """A callable candidate returning the rows of ``F`` (read in order, chunk by chunk)."""
    state = {"start": 0}

    def features(Z):
        start = state["start"] % len(F)
        state["start"] = start + len(Z)
        return F[start : start + len(Z)]

    return features


def test_class_span_counts_at_the_precision_of_the_features():
    # Four classes, features the probabilities of a 3-class model (they sum to one: the class
    # means span two dimensions, the third is rounding). In float32 the rounding is at 1e-8,
    # far above float64's tolerance: the span is the rank at float32's tolerance. A float64
    # direction at 1e-9 of the others is real and counts.
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), 30)
    logits = 3.0 * rng.normal(size=(4, 3))[y] + rng.normal(size=(120, 3))
    proba = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)

    def ranks(F):
        means = np.array([F[y == c].astype(np.float64).mean(0) for c in range(4)])
        centred = means - means.mean(0)
        s = np.linalg.svd(centred, compute_uv=False)
        eps32 = np.finfo(np.float32).eps
        return np.linalg.matrix_rank(centred), int(np.sum(s > s.max() * 4 * eps32))

    assert ranks(proba) == (3, 2)
    tiny = np.column_stack([proba.astype(np.float64), 1e-9 * (y == 3)])
    assert ranks(tiny) == (3, 2)
    X = np.zeros((120, 1))
    selector = LogMESelector(
        [("float32", _table_candidate(proba)), ("tiny", _table_candidate(tiny))]
    ).fit(X, y)
    assert selector.class_span_ == {"float32": 2, "tiny": 3}


def test_class_span_sums_the_class_means_over_every_chunk():
    # 2100 rows are read in two chunks (2048 + 52), labels sorted: the second chunk holds
    # class 2 only. Its rows are placed so that the class 2 mean is off the line of the other
    # two only through both chunks together: the means span two dimensions.
    y = np.repeat([0, 1, 2], 700)
    F = np.zeros((2100, 2))
    F[y == 1, 0] = 1.0
    F[y == 2, 0] = 0.5
    F[1400:2048, 1] = 52.0 / 648.0  # class 2 in the first chunk
    F[2048:, 1] = 1.0  # class 2 in the second chunk
    assert _span(F, y) == 2
    selector = LogMESelector([("f", _table_candidate(F))]).fit(np.zeros((2100, 1)), y)
    assert selector.class_span_ == {"f": 2}
    assert selector.scores_["f"] == pytest.approx(_ranking_logme(F, y)[0], rel=1e-9)


def test_outranked_with_one_span_drops_every_candidate_beyond_top_k():
    # While scoring, the features of a candidate that top_k others already beat are dropped
    # (memory: the head needs the best top_k only). With the same span for all, that is every
    # candidate beyond the best top_k so far, as without spans.
    from skreuse.selection._logme_selector import _outranked, _rank

    for _, names, top_k, scores, ties in _random_rankings(seed=1, count=200):
        spans = {c: 4 for c in names}
        assert set(_outranked(scores, ties, spans, top_k)) == set(
            _rank(scores, ties, spans)[top_k:]
        )


def test_loader_fit_uses_batch_size_the_candidate_layer_and_names_it():
    torch = pytest.importorskip("torch")
    from torch.utils.data import TensorDataset

    X, y = load_digits(return_X_y=True)
    X, y = X[:100] / 16.0, y[:100]
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
    net = net.double()
    sizes = []
    net.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
    ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    selector = LogMESelector([("net", net)], batch_size=30, layer={"net": "1"}).fit(ds)
    # Rows go through the module batch_size at a time (the Dataset is batched that way).
    assert sizes[:4] == [30, 30, 30, 10]
    with torch.no_grad():
        hidden = net[1](net[0](torch.from_numpy(X))).numpy()
    assert selector.scores_["net"] == pytest.approx(_ranking_logme(hidden, y)[0], rel=1e-9)
    sizes.clear()
    np.testing.assert_allclose(selector.transform(X), hidden, rtol=1e-12)
    assert sizes == [30, 30, 30, 10]
    assert selector.predict(X).shape == (100,)
    with pytest.raises(ValueError, match="99 entries.*of 'net'"):
        LogMESelector([("net", net)]).fit(ds, y[:-1])


def test_streamed_head_fits_its_temperature_on_evenly_spaced_rows():
    # 10000 rows of 400 features are more than 2**21 feature values: LogME's head takes its
    # posterior from the statistics of all rows and its temperature from 2**21 // 400 = 5242
    # evenly spaced rows, by maximum likelihood (checked here with an unbounded Brent search
    # on log T, and against the all-rows optimum, which differs).
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    rng = np.random.RandomState(0)
    n, d = 10000, 400
    y = rng.randint(3, size=n)
    F = 0.03 * rng.normal(size=(3, d))[y] + rng.normal(size=(n, d))
    F[: n // 2] *= 3.0  # the first half is noisier: the temperature depends on the rows
    selector = LogMESelector([("f", _table_candidate(F))]).fit(np.zeros((n, 1)), y)
    head = selector.estimator_
    scores = F @ head.coef_.T + head.intercept_

    def temperature(rows):
        def nll(log_t):
            logp = log_softmax(scores[rows] / np.exp(log_t), axis=1)
            return -np.mean(logp[np.arange(len(rows)), y[rows]])

        return float(np.exp(minimize_scalar(nll, bracket=(-2.0, 2.0), tol=1e-10).x))

    spaced = np.unique(np.round(np.linspace(0, n - 1, 2**21 // d)).astype(int))
    assert len(spaced) == 5242
    assert head.temperature_ == pytest.approx(temperature(spaced), rel=1e-4)
    assert abs(temperature(np.arange(n)) / temperature(spaced) - 1) > 1e-3


def test_dataframe_reaches_the_candidates_and_transform_checks_its_input():
    # A DataFrame goes to the candidates as it is (a ColumnTransformer selects columns by
    # name, one of them strings); arrays are validated first (a list of rows becomes an
    # array, the width is checked against the fit).
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    X, y = load_digits(return_X_y=True)
    X, y = X[:150] / 16.0, y[:150]
    df = pd.DataFrame(X[:, :8], columns=[f"px{i}" for i in range(8)])
    df["parity"] = np.where(y % 2 == 0, "even", "odd")
    encoder = ColumnTransformer(
        [("oh", OneHotEncoder(), ["parity"]), ("px", "passthrough", ["px0", "px3", "px5"])]
    ).fit(df)
    selector = LogMESelector([("ct", encoder)]).fit(df, y)
    np.testing.assert_allclose(selector.transform(df), encoder.transform(df), rtol=1e-15)
    assert selector.scores_["ct"] == pytest.approx(
        _ranking_logme(encoder.transform(df), y)[0], rel=1e-9
    )
    sliced = LogMESelector([("first8", _first8)]).fit(X, y)
    np.testing.assert_allclose(sliced.transform(X.tolist()), X[:, :8], rtol=1e-15)
    with pytest.raises(ValueError, match="64 features"):
        sliced.transform(X[:, :10])


def _first8(Z):
    return Z[:, :8]


def test_transformer_that_is_also_a_classifier_is_scored_on_its_probabilities():
    # LDA has transform and predict_proba: LEEP and NCE score its probabilities (NCE their
    # argmax), and the head of a selected one is fitted on its transform, its features.
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    X, y = load_digits(return_X_y=True)
    X, y = X / 16.0, y
    lda = LinearDiscriminantAnalysis(n_components=4).fit(X[:600], y[:600] % 5)
    X, y = X[600:900], y[600:900]
    proba = lda.predict_proba(X)
    for metric, expected in (
        ("leep", leep_score(proba, y)),
        ("nce", nce_score(proba.argmax(axis=1), y)),
    ):
        selector = LogMESelector([("lda", lda)], metric=metric).fit(X, y)
        assert selector.scores_["lda"] == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(selector.transform(X), lda.transform(X), rtol=1e-12)
        ridge = _ridge(lda.transform(X), _one_hot(y), _head_ratio(selector.estimator_))
        np.testing.assert_allclose(selector.estimator_.coef_, ridge.coef_, rtol=1e-6, atol=1e-9)


def test_regressor_head_scores_integer_targets_as_a_regression_with_few_rows():
    # Fewer rows than features: LogME scores the whole feature matrix, with the task of the
    # head (a regressor makes integer targets a regression).
    from sklearn.linear_model import Ridge

    X, y = load_digits(return_X_y=True)
    X, y = X[:40] / 16.0, y[:40]
    selector = LogMESelector([("sq", _square)], estimator=Ridge()).fit(X, y)
    expected = logme_score(X**2, y.astype(float), task="regression")
    assert selector.scores_["sq"] == pytest.approx(expected, rel=1e-9)
    assert selector.scores_["sq"] != pytest.approx(logme_score(X**2, y), rel=1e-3)


def test_torch_device_with_fewer_rows_than_features_scores_like_numpy():
    torch = pytest.importorskip("torch")
    X, y = load_digits(return_X_y=True)
    X, y = X[:40] / 16.0, y[:40] % 3
    ref = LogMESelector([("sq", _square), ("id", _first8)]).fit(X, y)
    on_torch = LogMESelector([("sq", _square), ("id", _first8)], device=torch.device("cpu"))
    on_torch.fit(X, y)
    assert on_torch.scores_ == pytest.approx(ref.scores_, rel=1e-9)
    assert on_torch.scores_["sq"] == pytest.approx(_ranking_logme(X**2, y)[0], rel=1e-9)


def test_labels_metric_uses_the_predicted_labels_of_a_binary_classifier():
    # A binary SVC without probabilities: NCE scores its predicted labels (its one-column
    # decision function has no argmax that would give them).
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    svc = SVC().fit(X[:300], y[:300] >= 5)
    X, y = X[300:600], y[300:600]
    selector = LogMESelector([("svc", svc)], metric="nce").fit(X, y)
    expected = nce_score(svc.predict(X).astype(int), y)
    assert selector.scores_["svc"] == pytest.approx(expected, rel=1e-12)
    assert expected > nce_score(np.zeros(len(y), dtype=int), y) + 0.1


def test_labels_metric_on_a_torch_module_scores_the_argmax_of_its_outputs():
    torch = pytest.importorskip("torch")
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16.0, y[:200]
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 6)).double()
    selector = LogMESelector([("net", net)], metric="nce").fit(X, y)
    with torch.no_grad():
        labels = net(torch.from_numpy(X)).argmax(dim=1).numpy()
    assert selector.scores_["net"] == pytest.approx(nce_score(labels, y), rel=1e-12)


def test_near_ties_rank_like_the_notes_and_never_drop_a_needed_payload():
    # With widths (LogME on a classification), _rank follows the Notes (checked the slow
    # way), and a payload dropped while scoring is never in the final best top_k of any
    # completion: only a lead of at least half a nat of total evidence outranks for sure.
    from skreuse.selection._logme_selector import _outranked, _rank

    for rng, names, top_k, score, tie in _random_rankings(seed=2, count=500):
        n = len(names)
        span = dict(zip(names, rng.choice([2, 5, 9], n).tolist()))
        width = dict(zip(names, rng.choice([3, 5, 10, 30], n).tolist()))
        n_rows = int(rng.choice([3, 10, 30]))  # score steps of 0.1 are 0.3, 1 and 3 nats
        pairs = {c: (score[c], tie[c]) for c in names}
        assert _rank(score, tie, span, width, n_rows) == _near_tie_ranking(
            pairs, span, width, n_rows
        )
        dropped = set()
        for m in range(1, n + 1):
            seen = names[:m]
            scores = {c: score[c] if c in seen else np.nan for c in names}
            ties, spans = {c: tie[c] for c in seen}, {c: span[c] for c in seen}
            widths = {c: width[c] for c in seen}
            dropped |= set(_outranked(scores, ties, spans, top_k, widths, n_rows))
        assert not dropped & set(_rank(score, tie, span, width, n_rows)[:top_k])


def test_near_tie_on_one_row_per_class_prefers_the_narrow_features():
    # One labelled row per class of wine (3 rows): the raw inputs (13 columns) score a hair
    # above the source's LDA embedding (2), 0.11 nats of total evidence, which is no
    # evidence; the embedding, not more than twice as wide as the narrowest, is chosen, and
    # its head is far better on the test rows. The plain order by score is kept for the rest.
    task = _benchmark_task("shifted_covariates", "wine", seed=21, shots=1)
    candidates, X, y, X_test, y_test = task
    head = LogisticRegression(max_iter=1000)
    selector = LogMESelector(candidates, estimator=head).fit(X, y)
    scores = selector.scores_
    assert scores["raw features"] > scores["source LDA"] > scores["source LR"]
    assert len(y) * (scores["raw features"] - scores["source LDA"]) < 0.5
    assert selector.ranking_ == ["source LDA", "source LR", "raw features"]
    raw = LogMESelector(candidates[2:], estimator=head).fit(X, y)
    assert selector.score(X_test, y_test) > raw.score(X_test, y_test) + 0.1


def test_a_lead_of_half_a_nat_is_no_near_tie():
    # Three labelled rows per class of breast cancer, a source fitted to shuffled labels
    # (the reuse-gain benchmark's useless family, seed 8): the raw inputs (30 columns)
    # lead the source's 1-dimensional LDA embedding by 0.95 nats of total evidence, a
    # Bayes factor of 2.6. With near ties up to 1 nat (before stop 38) the embedding was
    # selected, and its head lost 0.30 of accuracy to the raw inputs'.
    candidates, X, y, X_test, y_test = _benchmark_task("useless_source", "breast_cancer", 8, 3)
    head = LogisticRegression(max_iter=1000)
    selector = LogMESelector(candidates, estimator=head).fit(X, y)
    lead = len(y) * (selector.scores_["raw features"] - selector.scores_["source LDA"])
    assert 0.5 < lead < 1.0
    assert selector.selected_ == ["raw features"]
    embedding = LogMESelector(candidates[:1], estimator=head).fit(X, y)
    assert selector.score(X_test, y_test) > embedding.score(X_test, y_test) + 0.25


def test_a_lead_of_more_than_one_nat_is_kept_whatever_the_width(digits):
    # 400 rows: the squared inputs (64 columns) reach the cap, a random projection to 10
    # columns (the same span) is 25 nats of total evidence under it: the wide one leads.
    X, y, candidates = digits
    models = dict(candidates)
    pair = [("random10", models["random10"]), ("square", models["square"])]
    selector = LogMESelector(pair).fit(X, y)
    assert selector.class_span_ == {"random10": 9, "square": 9}
    assert len(y) * (selector.scores_["square"] - selector.scores_["random10"]) > 20
    assert selector.ranking_ == ["square", "random10"]


def test_near_tie_ranking_puts_unscored_candidates_last():
    # A candidate without a score (NaN, no width) ranks last, after the near-tie rule has
    # ordered the scored ones.
    from skreuse.selection._logme_selector import _rank

    scores = {"skipped": np.nan, "wide": -0.10, "narrow": -0.15, "far": -2.0}
    widths = {"wide": 30, "narrow": 3, "far": 3}
    spans = dict.fromkeys(widths, 2)
    ties = dict.fromkeys(widths, 0.0)
    assert _rank(scores, ties, spans, widths, 3) == ["narrow", "wide", "far", "skipped"]
    assert _rank(scores, ties, spans, widths, 100) == ["wide", "narrow", "far", "skipped"]


def test_a_weak_binary_source_does_not_outrank_better_features_by_rounding():
    # Two class means span one dimension. A weak classifier's probabilities (all near 0.5)
    # have class means that differ by little next to their common part; the rounding left
    # by centring them once counted as a second dimension, and the source ranked first
    # whatever its score (13 of these 20 draws).
    from sklearn.preprocessing import FunctionTransformer

    for seed in range(20):
        rng = np.random.RandomState(seed)
        X = rng.normal(size=(300, 5))
        y = (X[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(int)
        weak = LogisticRegression().fit(X[100:], rng.randint(0, 2, 200))
        candidates = [("weak", weak), ("raw", FunctionTransformer())]
        sel = LogMESelector(candidates, estimator=LogisticRegression()).fit(X[:20], y[:20])
        assert sel.class_span_ == {"weak": 1, "raw": 1}
        if 20 * (sel.scores_["raw"] - sel.scores_["weak"]) > 1.0:  # not a near tie
            assert sel.ranking_ == ["raw", "weak"], seed


@pytest.mark.parametrize("feature_scale", [1e-150, 1.0, 1e150, 1e300])
@pytest.mark.parametrize("target_scale", [1.0, 1e300])
def test_regression_head_follows_any_scale_of_features_and_targets(feature_scale, target_scale):
    # The head works in power-of-two units: rescaling the features changes no prediction,
    # rescaling the targets rescales them, near the ends of the float range too, and its
    # hyperparameters saturate (at 0 or inf) rather than warn or turn NaN.
    import warnings

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, -0.5, 0.2]) + 0.1 * rng.normal(size=60) + 3.0
    base = LogMESelector([("f", _identity)]).fit(X, y).predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        # (scikit-learn's type_of_target casts targets near 1e300 to int64 to test them.)
        warnings.filterwarnings("ignore", "invalid value encountered in cast")
        if target_scale / feature_scale > 1e308:
            # Coefficients near 1e450 are no float64: a clear error.
            with pytest.raises(ValueError, match="coefficients overflow float64"):
                LogMESelector([("f", _identity)]).fit(X * feature_scale, y * target_scale)
            return
        selector = LogMESelector([("f", _identity)]).fit(X * feature_scale, y * target_scale)
        pred = selector.predict(X * feature_scale)
    np.testing.assert_allclose(pred / target_scale, base, rtol=1e-9)
    head = selector.estimator_
    assert not np.isnan(head.alpha_).any()
    assert not np.isnan(head.beta_).any()


@pytest.mark.parametrize("n_rows", [5, 6, 300])
def test_ranking_does_not_depend_on_the_units_of_the_features(n_rows):
    # The paper's LogME is the same for features in any units; the ranking's constant
    # column is the features' root mean square, so rescaling them rescales it alike and
    # the score stays (with a column of ones, on these 300 rows: -0.62, -0.61, -0.71 and
    # -0.78 at scales 1e-6, 1, 1e3 and 1e6). Streamed (300 rows, and 6: as many as the
    # features and the column) and whole (5 rows, fewer) alike, up to the ends of float64
    # (whole, the root mean square's squares overflowed beyond about 1e154, an error
    # saying the features held an infinity, and underflowed below 1e-162, a score that
    # moved).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_rows, 5))
    y = np.arange(n_rows) % 3
    y[: n_rows // 2] = (X[: n_rows // 2, 0] > 0) + (X[: n_rows // 2, 1] > 0.5)
    base = LogMESelector([("f", _identity)]).fit(X, y).scores_["f"]
    assert base == pytest.approx(_ranking_logme(X, y)[0], rel=1e-9)
    for scale in (1e-300, 1e-200, 1e-6, 1e-3, 1e3, 1e6, 1e160, 1e300):
        scaled = LogMESelector([("f", lambda Z, s=scale: np.asarray(Z) * s)]).fit(X, y)
        assert scaled.scores_["f"] == pytest.approx(base, rel=1e-9, abs=1e-12)


def test_head_ratio_at_the_bottom_of_its_grid_for_features_that_give_the_classes():
    # Features that hold the class indicators exactly (and a column of noise): the evidence
    # grows without bound as the ratio falls toward the exact fit, so the head takes the
    # bottom of its grid (2^-60 of the largest eigenvalue), not a ratio where the weights
    # vanish.
    rng = np.random.RandomState(0)
    y = np.arange(60) % 3
    F = np.c_[_one_hot(y), rng.normal(size=60)]
    selector = LogMESelector([("f", _identity)]).fit(F, y)
    ratio = _head_ratio(selector.estimator_)
    top = np.linalg.norm(F - F.mean(axis=0), 2) ** 2
    assert ratio < 1e-15 * top
    # (the slow way: the evidence rises at every step down, 1e3 to 1e-6 of the top)
    ratios = top * 10.0 ** np.arange(3.0, -7.0, -3.0)
    evidence = [_head_log_evidence(F, _one_hot(y), r)[0] for r in ratios]
    assert np.all(np.diff(evidence) > 0)
    np.testing.assert_array_equal(selector.predict(F), y)


def test_head_ratio_with_one_row_per_class_is_the_largest_eigenvalue():
    # With one row per class the summed evidence is the same whichever row carries which
    # label (a relabelling only permutes the indicator columns): it cannot see whether the
    # features predict the classes, so the head does not follow it (to the top of its grid
    # here, where its weights vanish and it ranks classes by inner products): its ratio is
    # the largest eigenvalue of the centred Gram matrix, in memory and streamed alike.
    from skreuse.selection._logme_selector import _BayesianLinearHead

    rng = np.random.RandomState(0)
    F = rng.normal(size=(6, 4)) * np.array([3.0, 1.0, 0.5, 0.1])
    y = np.array([4, 0, 5, 2, 1, 3])
    top = np.linalg.norm(F - F.mean(axis=0), 2) ** 2
    relabelled = rng.permutation(y)
    for ratio in top * 2.0 ** np.arange(-6.0, 21.0, 3.0):
        evidence = _head_log_evidence(F, _one_hot(y), ratio)[0]
        assert _head_log_evidence(F, _one_hot(relabelled), ratio)[0] == pytest.approx(evidence)
    streamed = LogMESelector([("f", _identity)]).fit(F, y)
    in_memory = _BayesianLinearHead().fit(F, y)
    for head in (streamed.estimator_, in_memory):
        assert _head_ratio(head) == pytest.approx(top, rel=1e-9)
        ridge = _ridge(F, _one_hot(y), top)
        np.testing.assert_allclose(head.coef_, ridge.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(head.intercept_, ridge.intercept_, rtol=1e-9, atol=1e-12)
        # each column's beta at its maximum-likelihood value for that ratio
        np.testing.assert_allclose(head.beta_, _head_log_evidence(F, _one_hot(y), top)[1])
    # (the evidence is higher at the top of the grid, where it would have put the ratio)
    assert (
        _head_log_evidence(F, _one_hot(y), top * 2.0**20)[0]
        > _head_log_evidence(F, _one_hot(y), top)[0]
    )
    # A second row of one class: the evidence chooses again.
    F2, y2 = np.r_[F, F[:1] + 0.1], np.r_[y, y[0]]
    _check_head_is_the_evidence_maximizing_ridge(
        LogMESelector([("f", _identity)]).fit(F2, y2).estimator_, F2, _one_hot(y2)
    )


def test_one_labelled_row_per_class_warns_that_the_ranking_cannot_read_the_labels():
    # Every assignment of the labels to the rows is a renaming of the classes: the scores
    # are the same for all of them, so the ranking cannot see whether features predict.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3, 5))
    y = np.array([0, 1, 2])
    pca = PCA(2).fit(rng.normal(size=(40, 5)))
    candidates = [("raw", _identity), ("pca", pca)]
    for metric in ("logme", "hscore"):
        with pytest.warns(UserWarning, match=r"one labelled row.*renaming of the classes") as rec:
            first = LogMESelector(candidates, metric=metric).fit(X, y)
        assert [r.filename for r in rec] == [__file__]  # the user's line, not sklearn's
        with pytest.warns(UserWarning, match="renaming"):
            relabelled = LogMESelector(candidates, metric=metric).fit(X, y[[2, 0, 1]])
        assert relabelled.scores_ == pytest.approx(first.scores_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # nothing to choose; a callable metric may read the labels as more than names;
        # a second row in one class
        LogMESelector(candidates, top_k=2).fit(X, y)
        LogMESelector(candidates, metric=lambda F, y: float(F[:, 0] @ y)).fit(X, y)
        LogMESelector(candidates).fit(np.r_[X, X[:1] + 0.1], np.r_[y, 0])
