"""Tests of RKMEReuser on model zoos built from scikit-learn's bundled data."""

import itertools
import pickle

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.metrics import r2_score
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skreuse.specification import RKMEReuser, RKMESpecification

GAMMA = 1.0 / 64  # one kernel for the whole zoo, as in a learnware market
GROUPS = {"g012": [0, 1, 2], "g345": [3, 4, 5], "g6789": [6, 7, 8, 9]}


@pytest.fixture(autouse=True, scope="module")
def _one_openmp_thread():
    # k-means and HistGradientBoosting run OpenMP threads, which crawl on oversubscribed
    # cores (pytest -n 2 on two cores); one thread keeps this file fast everywhere.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def digits_zoo():
    """Three classifiers trained on disjoint digit class groups, each with its RKME."""
    d = load_digits()
    X = StandardScaler().fit_transform(d.data)
    Xtr, Xte, ytr, yte = train_test_split(
        X, d.target, test_size=0.5, stratify=d.target, random_state=0
    )
    zoo = []
    for name, classes in GROUPS.items():
        rows = np.isin(ytr, classes)
        model = LogisticRegression(max_iter=500).fit(Xtr[rows], ytr[rows])
        spec = RKMESpecification(n_reduced=30, gamma=GAMMA, random_state=0).fit(Xtr[rows])
        zoo.append((name, model, spec))
    return zoo, Xte, yte


def _source(y):
    return np.select([np.isin(y, c) for c in GROUPS.values()], list(range(len(GROUPS))))


def test_user_data_from_one_source_is_matched(digits_zoo):
    zoo, X, y = digits_zoo
    for i, name in enumerate(GROUPS):
        rows = _source(y) == i
        reuser = RKMEReuser(zoo, method="best").fit(X[rows])
        assert reuser.best_ == name
        assert min(reuser.distances_, key=reuser.distances_.get) == name
        assert reuser.mixture_weights_[name] > 0.85
        # The model of the matched source predicts its own classes well.
        assert reuser.score(X[rows], y[rows]) > 0.9


@pytest.fixture(scope="module")
def mixed_user(digits_zoo):
    """Test rows of sources 0 and 2, and the default (job selector) reuser fitted on them."""
    zoo, X, y = digits_zoo
    rows = np.isin(_source(y), [0, 2])
    return X[rows], y[rows], RKMEReuser(zoo, random_state=0).fit(X[rows])


def test_mixed_user_data_gets_weight_on_both_sources(mixed_user):
    w = mixed_user[2].mixture_weights_
    assert w["g012"] > 0.25
    assert w["g6789"] > 0.25
    assert w["g012"] + w["g6789"] > 0.9
    assert sum(w.values()) == pytest.approx(1.0)


def test_job_selector_close_to_oracle_router(digits_zoo, mixed_user):
    zoo = digits_zoo[0]
    Xu, yu, reuser = mixed_user
    src = _source(yu)
    oracle = np.empty_like(yu)
    for i in (0, 2):
        oracle[src == i] = zoo[i][1].predict(Xu[src == i])
    oracle_acc = np.mean(oracle == yu)
    scores = {
        method: RKMEReuser(zoo, method=method).fit(Xu).score(Xu, yu)
        for method in ("best", "average")
    }
    scores["job_selector"] = reuser.score(Xu, yu)
    assert oracle_acc > 0.98
    assert scores["job_selector"] >= oracle_acc - 0.06
    assert scores["job_selector"] > scores["average"] > scores["best"]
    # Each row goes to the model of its source.
    names = np.array(list(GROUPS))
    assert np.mean(reuser.route(Xu) == names[src]) > 0.93
    # Each row is predicted by the model it is routed to.
    route = reuser.route(Xu)
    models = dict((n, m) for n, m, _ in zoo)
    for name in np.unique(route):
        np.testing.assert_array_equal(
            reuser.predict(Xu)[route == name], models[name].predict(Xu[route == name])
        )


def test_distances_equal_specification_mmd(digits_zoo):
    zoo, X, y = digits_zoo
    reuser = RKMEReuser(zoo, method="best").fit(X[:200])
    assert reuser.gamma_ == GAMMA
    for name, _, spec in zoo:
        assert reuser.distances_[name] == pytest.approx(spec.mmd(X[:200]), abs=1e-10)


def _objective(w, G, c):
    return w @ G @ w - 2 * c @ w


def test_mixture_weights_solve_the_simplex_qp(digits_zoo):
    zoo, X, y = digits_zoo
    Xu = X[np.isin(_source(y), [0, 1])][::2]
    reuser = RKMEReuser(zoo, method="average").fit(Xu)
    specs = [s for _, _, s in zoo]
    # Brute force: the Gram matrix entry by entry, and a fine grid over the simplex.
    G = np.array(
        [[t.weights_ @ s.transform(t.reduced_points_) @ s.weights_ for t in specs] for s in specs]
    )
    c = np.array([s.transform(Xu).mean(axis=0) @ s.weights_ for s in specs])
    steps = np.linspace(0, 1, 201)
    grid = np.array([(a, b, 1 - a - b) for a, b in itertools.product(steps, steps) if a + b <= 1])
    best_grid = min(_objective(w, G, c) for w in grid)
    w = np.array(list(reuser.mixture_weights_.values()))
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0)
    assert _objective(w, G, c) <= best_grid + 1e-9
    # At most one model: the closest specification alone.
    single = RKMEReuser(zoo, method="average", max_models=1).fit(Xu)
    assert np.count_nonzero(list(single.mixture_weights_.values())) == 1
    assert single.mixture_weights_[single.best_] == 1.0
    two = RKMEReuser(zoo, method="average", max_models=2).fit(Xu)
    assert np.count_nonzero(list(two.mixture_weights_.values())) <= 2


def test_average_combines_different_class_sets(digits_zoo):
    zoo, X, y = digits_zoo
    Xu = X[np.isin(_source(y), [0, 2])]
    reuser = RKMEReuser(zoo, method="average").fit(Xu)
    np.testing.assert_array_equal(reuser.classes_, np.arange(10))
    expected = np.zeros((len(Xu), 10))
    for name, model, _ in zoo:
        expected[:, model.classes_] += reuser.mixture_weights_[name] * model.predict_proba(Xu)
    np.testing.assert_allclose(reuser.predict_proba(Xu), expected, atol=1e-12)
    np.testing.assert_array_equal(reuser.predict(Xu), expected.argmax(axis=1))


def test_string_labels_and_models_without_predict_proba(rng):
    X0, X1 = rng.normal(size=(80, 2)) - 3, rng.normal(size=(80, 2)) + 3
    y0 = np.where(X0[:, 1] > -3, "a", "b")
    y1 = np.where(X1[:, 1] > 3, "c", "d")
    zoo = [
        ("left", LogisticRegression().fit(X0, y0), RKMESpecification(10, random_state=0).fit(X0)),
        (
            "right",
            RidgeClassifier().fit(X1, y1),
            RKMESpecification(10, random_state=0).fit(X1),
        ),
    ]
    reuser = RKMEReuser(zoo, method="average").fit(np.vstack([X0, X1]))
    np.testing.assert_array_equal(reuser.classes_, ["a", "b", "c", "d"])
    assert reuser.predict(X1[:5]).dtype == reuser.classes_.dtype
    # RidgeClassifier has no predict_proba: its vote is one-hot.
    proba = reuser.predict_proba(X1)
    w = reuser.mixture_weights_
    expected_right = w["right"] * (zoo[1][1].predict(X1)[:, None] == ["c", "d"])
    np.testing.assert_allclose(proba[:, 2:], expected_right)
    # Averaging disjoint class sets favours the one-hot voter; routing each row does not.
    router = RKMEReuser(zoo, job_selector=KNeighborsClassifier(3), random_state=0)
    X_all, y_all = np.vstack([X0, X1]), np.concatenate([y0, y1])
    assert router.fit(X_all).score(X_all, y_all) > 0.9


def test_regression_zoo_covariate_regions():
    """Ridge models trained on terciles of the diabetes BMI covariate."""
    d = load_diabetes()
    X = StandardScaler().fit_transform(d.data)
    region = np.digitize(X[:, 2], np.quantile(X[:, 2], [1 / 3, 2 / 3]))
    rng = np.random.RandomState(0)
    test = rng.rand(len(X)) < 0.3
    zoo = []
    for r in range(3):
        rows = (region == r) & ~test
        model = Ridge().fit(X[rows], d.target[rows])
        zoo.append(
            (f"bmi{r}", model, RKMESpecification(20, gamma=0.1, random_state=0).fit(X[rows]))
        )
    for r in range(3):
        reuser = RKMEReuser(zoo, method="best").fit(X[(region == r) & test])
        assert reuser.best_ == f"bmi{r}"
    Xu, yu = X[test], d.target[test]
    reuser = RKMEReuser(zoo, method="job_selector", random_state=0).fit(Xu)
    assert not hasattr(reuser, "predict_proba")
    route = reuser.route(Xu)
    models = dict((n, m) for n, m, _ in zoo)
    expected = np.empty(len(Xu))
    for name in np.unique(route):
        expected[route == name] = models[name].predict(Xu[route == name])
    np.testing.assert_allclose(reuser.predict(Xu), expected)
    average = RKMEReuser(zoo, method="average").fit(Xu)
    w = average.mixture_weights_
    np.testing.assert_allclose(
        average.predict(Xu), sum(w[n] * m.predict(Xu) for n, m, _ in zoo), atol=1e-10
    )
    assert average.score(Xu, yu) == pytest.approx(r2_score(yu, average.predict(Xu)))
    assert average.score(Xu, yu) > 0.3


def test_models_never_modified_and_survive_clone(digits_zoo):
    zoo, X, y = digits_zoo
    before = pickle.dumps(zoo)
    reuser = RKMEReuser(zoo, random_state=0, job_selector=KNeighborsClassifier(3)).fit(X)
    reuser.predict(X[:10])
    assert pickle.dumps(zoo) == before
    assert all(m is not orig for (_, m), (_, orig, _) in zip(reuser.models_, zoo))
    twin = clone(reuser)
    assert twin.models is not zoo  # a shallow copy of the list ...
    assert all(a is b for a, b in zip(twin.models, zoo, strict=True))  # ... sharing the models
    assert not hasattr(twin, "models_")
    assert isinstance(twin.job_selector, KNeighborsClassifier)
    assert twin.job_selector is not reuser.job_selector
    scores = cross_val_score(RKMEReuser(zoo, method="best"), X, y, cv=2)
    assert np.all(scores > 0.2)


def test_job_selector_parameter_and_single_weighted_model(digits_zoo):
    zoo, X, y = digits_zoo
    rows = np.isin(_source(y), [0, 2])
    reuser = RKMEReuser(
        zoo, job_selector=KNeighborsClassifier(5), n_samples=500, random_state=0
    ).fit(X[rows])
    assert isinstance(reuser.job_selector_, KNeighborsClassifier)
    assert reuser.score(X[rows], y[rows]) > 0.9
    single = RKMEReuser(zoo, max_models=1, random_state=0).fit(X[_source(y) == 1])
    assert single.job_selector_ is None
    assert set(single.route(X[:20])) == {"g345"}


def test_feature_map(rng):
    X0, X1 = rng.normal(size=(80, 4)) - 2, rng.normal(size=(80, 4)) + 2
    y0, y1 = (X0[:, 0] > -2).astype(int), (X1[:, 0] > 2).astype(int) + 2

    def summary(X):
        return np.column_stack([X.mean(axis=1), X.std(axis=1)])

    zoo = [
        (
            "low",
            LogisticRegression().fit(X0, y0),
            RKMESpecification(10, random_state=0).fit(summary(X0)),
        ),
        (
            "high",
            LogisticRegression().fit(X1, y1),
            RKMESpecification(10, random_state=0).fit(summary(X1)),
        ),
    ]
    reuser = RKMEReuser(zoo, feature_map=summary, method="best").fit(X1)
    assert reuser.best_ == "high"
    assert reuser.n_features_in_ == 4
    with pytest.raises(ValueError, match="feature_map must return"):
        RKMEReuser(zoo, feature_map=lambda X: X[:3]).fit(X1)
    with pytest.raises(ValueError, match="feature_map\\(X\\) has 4 features"):
        RKMEReuser(zoo, feature_map=lambda X: X).fit(X1)


def test_bad_input(rng):
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    spec = RKMESpecification(5, random_state=0).fit(X)
    clf, reg = LogisticRegression().fit(X, y), Ridge().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="non-empty list"):
        RKMEReuser([]).fit(X)
    with pytest.raises(TypeError, match="tuple"):
        RKMEReuser([("a", clf)]).fit(X)
    with pytest.raises(TypeError, match="name must be a str"):
        RKMEReuser([(1, clf, spec)]).fit(X)
    with pytest.raises(TypeError, match="must be an RKMESpecification"):
        RKMEReuser([("a", clf, X)]).fit(X)
    with pytest.raises(TypeError, match="predict method"):
        RKMEReuser([("a", object(), spec)]).fit(X)
    with pytest.raises(NotFittedError, match="'a'"):
        RKMEReuser([("a", LogisticRegression(), spec)]).fit(X)
    with pytest.raises(NotFittedError):
        RKMEReuser([("a", clf, RKMESpecification())]).fit(X)
    with pytest.raises(ValueError, match="unique"):
        RKMEReuser([("a", clf, spec), ("a", clf, spec)]).fit(X)
    with pytest.raises(ValueError, match="mixes classifiers and regressors"):
        RKMEReuser([("a", clf, spec), ("b", reg, spec)]).fit(X)
    with pytest.raises(ValueError, match="X has 2 features"):
        RKMEReuser([("a", clf, spec)]).fit(X[:, :2])
    other = RKMESpecification(5).fit(X[:, :2])
    with pytest.raises(ValueError, match="different numbers of features"):
        RKMEReuser([("a", clf, spec), ("b", clf, other)]).fit(X)
    with pytest.raises(ValueError, match="method"):
        RKMEReuser([("a", clf, spec)], method="vote").fit(X)
    reuser = RKMEReuser([("a", clf, spec)]).fit(X)
    with pytest.raises(ValueError, match="features"):
        reuser.predict(X[:, :2])
    X_nan = X.copy()
    X_nan[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        RKMEReuser([("a", clf, spec)]).fit(X_nan)


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


def _greedy_brute_force(G, c, max_models, grid_size=2001):
    """Greedy forward selection, each subset's simplex QP minimized on a fine grid."""
    grid = np.linspace(0.0, 1.0, grid_size)
    selected = []
    for _ in range(max_models):
        best = None
        for j in range(len(c)):
            if j in selected:
                continue
            idx = selected + [j]
            W = np.ones((1, 1)) if len(idx) == 1 else np.c_[grid, 1.0 - grid]
            objective = [_objective(w, G[np.ix_(idx, idx)], c[idx]) for w in W]
            if best is None or min(objective) < best[0]:
                best = (min(objective), idx)
        selected = best[1]
    return sorted(selected), best[0]


def test_max_models_greedy_subset_matches_brute_force():
    # Four specifications of different spreads: the self-similarity term w^T G w and the
    # match term 2 c^T w pull toward different subsets, so a wrong weighting of the two
    # (or a wrong comparison) picks another subset than the greedy on the true objective.
    rng = np.random.RandomState(0)
    blobs = {"tight": ((0, 0), 0.3), "broad": ((0, 0), 2.0), "east": ((1.5, 0), 0.5)}
    blobs["north"] = ((0, 1.5), 0.5)
    zoo = []
    for name, (center, scale) in blobs.items():
        X = np.array(center) + scale * rng.normal(size=(150, 2))
        y = X @ [1.0, -1.0] + rng.normal(size=150)
        spec = RKMESpecification(n_reduced=10, gamma=0.5, random_state=0).fit(X)
        zoo.append((name, Ridge().fit(X, y), spec))
    Xu = np.r_[0.8 * rng.normal(size=(60, 2)), [1.5, 0] + 0.5 * rng.normal(size=(40, 2))]
    specs = [s for _, _, s in zoo]
    G = np.array(
        [[t.weights_ @ s.transform(t.reduced_points_) @ s.weights_ for t in specs] for s in specs]
    )
    c = np.array([s.transform(Xu).mean(axis=0) @ s.weights_ for s in specs])
    names = list(blobs)
    for max_models in (1, 2):
        subset, best = _greedy_brute_force(G, c, max_models)
        reuser = RKMEReuser(zoo, method="average", max_models=max_models).fit(Xu)
        w = np.array([reuser.mixture_weights_[n] for n in names])
        assert sorted(np.flatnonzero(w).tolist()) == subset, max_models
        assert w.sum() == pytest.approx(1.0)
        assert _objective(w, G, c) <= best + 1e-9


def test_route_names_the_best_or_the_heaviest_model():
    rng = np.random.RandomState(0)
    zoo = []
    for name, center in (("west", -2.0), ("mid", 0.0), ("east", 2.0)):
        X = center + 0.5 * rng.normal(size=(80, 3))
        spec = RKMESpecification(n_reduced=8, gamma=0.5, random_state=0).fit(X)
        zoo.append((name, Ridge().fit(X, X.sum(axis=1) + center), spec))
    # mostly "mid" rows, some "east" rows: mid is the closest, and the heaviest weight
    Xu = np.r_[0.5 * rng.normal(size=(40, 3)), 2.0 + 0.5 * rng.normal(size=(15, 3))]
    best = RKMEReuser(zoo, method="best").fit(Xu)
    assert best.best_ == min(best.distances_, key=best.distances_.get)
    np.testing.assert_array_equal(best.route(Xu), np.full(len(Xu), best.best_, dtype=object))
    average = RKMEReuser(zoo, method="average").fit(Xu)
    heaviest = max(average.mixture_weights_, key=average.mixture_weights_.get)
    np.testing.assert_array_equal(average.route(Xu), np.full(len(Xu), heaviest, dtype=object))
    # the single closest specification alone: best's prediction is that model's
    single = RKMEReuser(zoo, method="best").fit(Xu[40:])
    assert single.best_ == "east"
    np.testing.assert_allclose(
        single.predict(Xu[40:]), dict((n, m) for n, m, _ in zoo)["east"].predict(Xu[40:])
    )


# -- second pass over _reuser's survivors (issue 20) ------------------------------------------


class _RecordingRouter(ClassifierMixin, BaseEstimator):
    """A one-nearest-neighbour router that keeps the rows and labels it was trained on."""

    def fit(self, X, y):
        self.X_, self.y_ = np.array(X), np.array(y)
        self.classes_ = np.unique(self.y_)
        return self

    def predict(self, X):
        d = ((np.asarray(X)[:, None, :] - self.X_[None]) ** 2).sum(axis=-1)
        return self.y_[d.argmin(axis=1)]


@pytest.fixture(scope="module")
def blob_zoo():
    """Two-output ridge models on four blobs; user rows from "west" and "east" only.

    The single closest specification is "wide" (it covers both blobs), while the closest
    mixture puts its weight on "west" and "east": ``best_`` is not the heaviest model.
    """
    rng = np.random.RandomState(0)
    blobs = {"west": (-2.0, 0.5), "east": (2.0, 0.5), "wide": (0.0, 2.0), "far": (12.0, 0.5)}
    zoo = []
    for name, (center, scale) in blobs.items():
        X = center + scale * rng.normal(size=(120, 2))
        spec = RKMESpecification(n_reduced=10, gamma=0.5, random_state=0).fit(X)
        zoo.append((name, Ridge().fit(X, np.c_[X.sum(axis=1), X[:, 0] - center]), spec))
    Xu = np.r_[-2 + 0.5 * rng.normal(size=(30, 2)), 2 + 0.5 * rng.normal(size=(30, 2))]
    return zoo, Xu


def test_route_and_multi_output_predict_when_the_closest_spec_is_not_the_heaviest(blob_zoo):
    zoo, Xu = blob_zoo
    models = {n: m for n, m, _ in zoo}
    best = RKMEReuser(zoo, method="best").fit(Xu)
    assert best.best_ == "wide"
    np.testing.assert_array_equal(best.route(Xu), np.full(len(Xu), "wide", dtype=object))
    assert best.route(Xu).dtype == object
    np.testing.assert_allclose(best.predict(Xu), models["wide"].predict(Xu))
    average = RKMEReuser(zoo, method="average").fit(Xu)
    w = average.mixture_weights_
    assert w["wide"] == w["far"] == 0.0
    heaviest = max(w, key=w.get)
    assert heaviest == "west"
    np.testing.assert_array_equal(average.route(Xu), np.full(len(Xu), "west", dtype=object))
    expected = w["west"] * models["west"].predict(Xu) + w["east"] * models["east"].predict(Xu)
    assert average.predict(Xu).shape == (len(Xu), 2)
    np.testing.assert_allclose(average.predict(Xu), expected, atol=1e-12)
    # Routing each row: the two outputs of the model it is routed to.
    router = RKMEReuser(zoo, job_selector=_RecordingRouter(), random_state=0).fit(Xu)
    route = router.route(Xu)
    assert set(route) == {"west", "east"}
    expected = np.vstack([models[name].predict(x[None]) for name, x in zip(route, Xu)])
    np.testing.assert_allclose(router.predict(Xu), expected)


def test_job_selector_rows_per_specification(blob_zoo):
    zoo, Xu = blob_zoo
    specs = [s for _, _, s in zoo]
    # One row to share: each weighted specification still gets exactly one, the others none.
    one = RKMEReuser(zoo, job_selector=_RecordingRouter(), n_samples=1, random_state=0).fit(Xu)
    np.testing.assert_array_equal(np.sort(one.job_selector_.y_), [0, 1])
    # By default 2000 rows (both shares are far above one row), reproducible by random_state.
    fits = [
        RKMEReuser(zoo, job_selector=_RecordingRouter(), random_state=0).fit(Xu) for _ in range(2)
    ]
    rows = [f.job_selector_.X_ for f in fits]
    assert rows[0].shape == (2000, 2)
    np.testing.assert_array_equal(rows[0], rows[1])
    assert set(fits[0].job_selector_.y_) == {0, 1}
    # "auto" jitters the sampled rows; without noise they are the specifications' points.
    plain = RKMEReuser(
        zoo, job_selector=_RecordingRouter(), sample_noise=0.0, n_samples=200, random_state=0
    ).fit(Xu)
    for x, label in zip(plain.job_selector_.X_, plain.job_selector_.y_):
        assert np.min(np.abs(specs[label].reduced_points_ - x).sum(axis=1)) == 0.0
    jittered = fits[0].job_selector_
    on_points = [
        np.min(np.abs(specs[label].reduced_points_ - x).sum(axis=1)) == 0.0
        for x, label in zip(jittered.X_, jittered.y_)
    ]
    assert not any(on_points)


def test_predict_proba_of_routed_rows_is_their_models_proba(digits_zoo, mixed_user):
    zoo, X, y = digits_zoo
    models = {n: m for n, m, _ in zoo}
    Xu, _, reuser = mixed_user
    for fitted in (reuser, RKMEReuser(zoo, method="best").fit(Xu)):
        route = fitted.route(Xu)
        expected = np.zeros((len(Xu), 10))
        for name in np.unique(route):
            rows = route == name
            expected[np.ix_(rows, models[name].classes_)] = models[name].predict_proba(Xu[rows])
        np.testing.assert_allclose(fitted.predict_proba(Xu), expected, atol=1e-12)


def test_feature_map_as_a_fitted_transformer_or_with_sparse_output(blob_zoo):
    zoo, Xu = blob_zoo
    rng = np.random.RandomState(1)
    scaler = StandardScaler().fit(rng.normal(size=(50, 2)) * 3 + 1)
    mapped = []  # the same models, with specifications of their scaled training rows
    for (name, model, _), center in zip(zoo, (-2.0, 2.0, 0.0, 12.0)):
        rows = scaler.transform(center + 0.5 * rng.normal(size=(100, 2)))
        spec = RKMESpecification(n_reduced=10, gamma=0.5, random_state=0)
        mapped.append((name, model, spec.fit(rows)))
    fitted = RKMEReuser(mapped, feature_map=scaler, method="best").fit(Xu)
    for name, _, spec in mapped:
        assert fitted.distances_[name] == pytest.approx(spec.mmd(scaler.transform(Xu)), abs=1e-10)
    sparse = RKMEReuser(
        mapped, feature_map=lambda X: csr_matrix(scaler.transform(X)), method="best"
    ).fit(Xu)
    assert sparse.distances_ == pytest.approx(fitted.distances_, abs=1e-12)


def test_parameters_tags_and_predict_proba_availability(blob_zoo, rng):
    zoo, Xu = blob_zoo
    reuser = RKMEReuser(zoo, gamma=0.3, n_jobs=2, random_state=7, method="average")
    params = reuser.get_params()
    assert (params["gamma"], params["n_jobs"], params["random_state"]) == (0.3, 2, 7)
    assert reuser.fit(Xu).gamma_ == 0.3
    # The squared MMD under the given kernel width, not the specifications' own (0.5).
    for name, _, spec in zoo:
        Z, beta = spec.reduced_points_, spec.weights_
        mmd = (
            beta @ rbf_kernel(Z, Z, gamma=0.3) @ beta
            - 2 * rbf_kernel(Xu, Z, gamma=0.3).mean(axis=0) @ beta
            + rbf_kernel(Xu, Xu, gamma=0.3).mean()
        )
        assert reuser.distances_[name] == pytest.approx(mmd, abs=1e-10)
    tags = reuser.__sklearn_tags__()
    assert tags.target_tags.required is False
    assert tags.input_tags.allow_nan is False
    # Before fit, predict_proba is offered unless the models are known regressors: models
    # that cannot be checked yet must not hide it (fit reports what is wrong with them).
    assert not hasattr(reuser, "predict_proba")
    assert hasattr(RKMEReuser([]), "predict_proba")
    assert hasattr(RKMEReuser([("a", Ridge())]), "predict_proba")


def test_errors_name_the_wrong_type_and_the_reuser(rng):
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    spec = RKMESpecification(5, random_state=0).fit(X)
    clf = LogisticRegression().fit(X, y)
    what = r"\(name, fitted_model, RKMESpecification\)"
    with pytest.raises(ValueError, match=rf"^models must be a non-empty list of {what} tuples"):
        RKMEReuser([]).fit(X)
    with pytest.raises(TypeError, match=rf"^models\[0\] must be a {what} tuple"):
        RKMEReuser([("a", clf)]).fit(X)
    with pytest.raises(TypeError, match="predict method, got object"):
        RKMEReuser([("a", object(), spec)]).fit(X)
    with pytest.raises(TypeError, match="RKMESpecification, got ndarray"):
        RKMEReuser([("a", clf, X)]).fit(X)
    for method in ("best", "average"):
        reuser = RKMEReuser([("a", clf, spec)], method=method).fit(X)
        for call in (reuser.predict, reuser.predict_proba, reuser.route):
            with pytest.raises(ValueError, match="RKMEReuser is expecting 3 features"):
                call(X[:, :2])


def test_ties_between_identical_specifications_go_to_the_first_model(blob_zoo):
    zoo, Xu = blob_zoo
    twins = [("first", zoo[0][1], zoo[0][2]), ("second", zoo[0][1], zoo[0][2]), zoo[1]]
    single = RKMEReuser(twins, method="average", max_models=1).fit(Xu)
    assert single.distances_["first"] == single.distances_["second"]
    assert single.best_ == "first"
    assert single.mixture_weights_ == {"first": 1.0, "second": 0.0, "east": 0.0}


def _simplex_qp_by_enumeration(G, c):
    """Exact simplex QP: the KKT system on every support, the best feasible solution."""
    k = len(c)
    best = None
    for size in range(1, k + 1):
        for S in itertools.combinations(range(k), size):
            S = list(S)
            A = np.block([[2 * G[np.ix_(S, S)], np.ones((size, 1))], [np.ones((1, size)), 0]])
            sol = np.linalg.solve(A, np.r_[2 * c[S], 1.0])
            if np.any(sol[:-1] < -1e-12):
                continue
            w = np.zeros(k)
            w[S] = np.clip(sol[:-1], 0, None)
            if best is None or _objective(w, G, c) < _objective(best, G, c):
                best = w
    return best


def test_mixture_weights_match_the_exact_simplex_qp(blob_zoo, digits_zoo):
    zoo, Xu = blob_zoo
    dzoo, X, y = digits_zoo
    cases = [
        (zoo, Xu),
        (zoo, Xu[:25]),  # mostly "west"
        (zoo[:3], Xu[::3] * 1.4),  # between the blobs: "wide" takes a share
        (dzoo, X[np.isin(_source(y), [0, 1])][::2]),
    ]
    for models, rows in cases:
        specs = [s for _, _, s in models]
        G = np.array(
            [
                [t.weights_ @ s.transform(t.reduced_points_) @ s.weights_ for t in specs]
                for s in specs
            ]
        )
        c = np.array([s.transform(rows).mean(axis=0) @ s.weights_ for s in specs])
        exact = _simplex_qp_by_enumeration(G, c)
        w = np.array(list(RKMEReuser(models, method="average").fit(rows).mixture_weights_.values()))
        np.testing.assert_allclose(w, exact, atol=1e-6)
        assert abs(w.sum() - 1.0) < 1e-15


def test_default_job_selector_is_seeded_by_random_state(blob_zoo):
    zoo, Xu = blob_zoo
    # Above 10 000 rows HistGradientBoosting stops early on a random validation split:
    # random_state must seed it too for the router to be reproducible.
    fits = [RKMEReuser(zoo, n_samples=10_001, random_state=0).fit(Xu) for _ in range(2)]
    scores = [f.job_selector_.validation_score_ for f in fits]
    assert fits[0].job_selector_.do_early_stopping_
    np.testing.assert_array_equal(scores[0], scores[1])


def test_simplex_qp_solver_matches_the_exact_solution_on_random_problems():
    from skreuse.specification._reuser import _simplex_qp

    rng = np.random.RandomState(0)
    on_boundary = 0
    for _ in range(30):
        k = rng.randint(2, 6)
        A = rng.normal(size=(k, k + 2))
        G, c = A @ A.T + 0.1 * np.eye(k), rng.normal(size=k)
        exact = _simplex_qp_by_enumeration(G, c)
        on_boundary += np.any(exact == 0)
        w = _simplex_qp(G, c)
        # SLSQP's default tolerance leaves errors of 1e-4 here; the solver's settings 1e-9.
        np.testing.assert_allclose(w, exact, atol=1e-6)
        assert abs(w.sum() - 1.0) < 1e-15
    assert on_boundary >= 10  # the non-negativity bounds are active in many problems


def test_max_models_greedy_weights_match_exact_subset_qps_beyond_pairs(blob_zoo):
    zoo, Xu = blob_zoo
    rng = np.random.RandomState(3)
    X5 = [1.0, 1.0] + 0.7 * rng.normal(size=(120, 2))
    spec5 = RKMESpecification(n_reduced=10, gamma=0.5, random_state=0).fit(X5)
    zoo = [*zoo, ("northeast", zoo[0][1], spec5)]
    rows = np.r_[Xu, [1.0, 1.0] + 0.7 * rng.normal(size=(20, 2))]
    specs = [s for _, _, s in zoo]
    G = np.array(
        [[t.weights_ @ s.transform(t.reduced_points_) @ s.weights_ for t in specs] for s in specs]
    )
    c = np.array([s.transform(rows).mean(axis=0) @ s.weights_ for s in specs])
    for max_models in (3, 4):
        # Greedy forward selection, each subset's QP solved exactly.
        selected = []
        for _ in range(max_models):
            best = None
            for j in set(range(len(c))) - set(selected):
                idx = selected + [j]
                w = _simplex_qp_by_enumeration(G[np.ix_(idx, idx)], c[idx])
                obj = _objective(w, G[np.ix_(idx, idx)], c[idx])
                if best is None or obj < best[0]:
                    best = (obj, idx, w)
            selected = best[1]
        expected = np.zeros(len(c))
        expected[best[1]] = best[2]
        fitted = RKMEReuser(zoo, method="average", max_models=max_models).fit(rows)
        w = np.array(list(fitted.mixture_weights_.values()))
        np.testing.assert_allclose(w, expected, atol=1e-6)
        assert np.count_nonzero(w) >= 3
