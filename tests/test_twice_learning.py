"""Tests of the twice-learning trees (NeC4.5)."""

import pickle
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_wine, make_classification
from sklearn.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skreuse.datasets import _scenarios as sc
from skreuse.interpretable import (
    TwiceLearningTree,
    TwiceLearningTreeClassifier,
    TwiceLearningTreeRegressor,
)
from skreuse.interpretable._twice_learning import _MAX_SEED, _sample_like


@pytest.fixture(scope="module")
def wine():
    return load_wine(return_X_y=True)


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(150, 4))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=150)
    return X, y


def _logreg():
    return make_pipeline(StandardScaler(), LogisticRegression())


def _same_tree(a, b):
    ta, tb = a.tree_, b.tree_
    np.testing.assert_array_equal(ta.feature, tb.feature)
    np.testing.assert_array_equal(ta.threshold, tb.threshold)
    np.testing.assert_array_equal(ta.children_left, tb.children_left)
    np.testing.assert_allclose(ta.value, tb.value)


def test_alias():
    assert TwiceLearningTree is TwiceLearningTreeClassifier


@pytest.mark.parametrize("max_depth", [None, 3])
def test_no_extra_data_and_own_labels_is_a_plain_tree(wine, max_depth):
    X, y = wine
    teacher = _logreg().fit(X, y)
    est = TwiceLearningTreeClassifier(
        teacher,
        prefit=True,
        extra_ratio=0,
        keep_original_labels=True,
        max_depth=max_depth,
        criterion="gini",
        cv=None,
        random_state=3,
    ).fit(X, y)
    plain = DecisionTreeClassifier(max_depth=max_depth, random_state=3).fit(X, y)
    _same_tree(est.tree_, plain)
    np.testing.assert_array_equal(est.predict(X), plain.predict(X))
    np.testing.assert_allclose(est.predict_proba(X), plain.predict_proba(X))
    assert est.n_extra_samples_ == 0


def test_regressor_no_extra_data_and_own_labels_is_a_plain_tree(regression_data):
    X, y = regression_data
    teacher = LinearRegression().fit(X, y)
    est = TwiceLearningTreeRegressor(
        teacher,
        prefit=True,
        extra_ratio=0,
        keep_original_labels=True,
        min_samples_leaf=4,
        cv=None,
        random_state=1,
    ).fit(X, y)
    plain = DecisionTreeRegressor(min_samples_leaf=4, random_state=1).fit(X, y)
    _same_tree(est.tree_, plain)
    np.testing.assert_allclose(est.predict(X), plain.predict(X))


def test_tree_learns_teacher_labels_on_union(wine):
    """The tree's training set is the rows plus extra rows, all labelled by the teacher."""
    X, y = wine
    teacher = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    est = TwiceLearningTreeClassifier(
        teacher, prefit=True, extra_ratio=0.5, cv=None, random_state=0
    )
    est.fit(X, y)
    n_extra = round(0.5 * len(X))
    assert est.n_extra_samples_ == n_extra
    assert est.tree_.tree_.n_node_samples[0] == len(X) + n_extra
    # With the teacher's labels the unpruned tree reproduces the teacher on the rows.
    np.testing.assert_array_equal(est.predict(X), teacher.predict(X))
    assert est.fidelity_score(X) == 1.0


class _CountingTree(DecisionTreeClassifier):
    n_fit_calls = 0

    def fit(self, X, y, **kwargs):
        type(self).n_fit_calls += 1
        return super().fit(X, y, **kwargs)


def test_prefit_teacher_is_neither_refitted_nor_modified(wine):
    X, y = wine
    # The counter is shared by the tests: whatever ran before, count from here.
    _CountingTree.n_fit_calls = 0
    teacher = _CountingTree(max_depth=3, random_state=0).fit(X[:100], y[:100])
    before = pickle.dumps(teacher)
    est = TwiceLearningTreeClassifier(teacher, prefit=True, random_state=0).fit(X, y)
    assert _CountingTree.n_fit_calls == 1
    assert pickle.dumps(teacher) == before
    assert est.teacher_ is not teacher
    np.testing.assert_array_equal(est.teacher_.predict(X), teacher.predict(X))


def test_unfitted_teacher_is_cloned_and_fitted(wine):
    X, y = wine
    teacher = _logreg()
    est = TwiceLearningTreeClassifier(teacher, random_state=0).fit(X, y)
    assert not hasattr(teacher[-1], "coef_")
    expected = clone(teacher).fit(X, y)
    np.testing.assert_allclose(est.teacher_[-1].coef_, expected[-1].coef_)


def test_teacher_random_state_is_seeded_for_determinism(wine):
    X, y = wine
    kw = dict(teacher=RandomForestClassifier(n_estimators=3), max_depth=3, random_state=7)
    a = TwiceLearningTreeClassifier(**kw).fit(X, y)
    b = TwiceLearningTreeClassifier(**kw).fit(X, y)
    assert a.teacher_.random_state is not None
    assert a.export_text() == b.export_text()
    assert a.fidelity_ == b.fidelity_


def test_default_teacher_is_bagged_neural_networks(wine):
    X, y = wine
    X, y = X[::2], y[::2]
    with warnings.catch_warnings():
        # The default networks may stop before convergence on this small sample.
        warnings.simplefilter("ignore", ConvergenceWarning)
        # cv=None: one teacher fit each (the inner validation would refit it per fold).
        est = TwiceLearningTreeClassifier(extra_ratio=0.2, n_jobs=1, cv=None, random_state=0)
        est.fit(X, y)
        reg = TwiceLearningTreeRegressor(extra_ratio=0.2, cv=None, random_state=0)
        reg.fit(X[:, 1:], X[:, 0])
    assert isinstance(est.teacher_, BaggingClassifier)
    assert len(est.teacher_.estimators_) == 10
    assert isinstance(est.teacher_.estimators_[0][-1], MLPClassifier)
    assert est.teacher_.n_jobs == 1
    assert est.teacher_.score(X, y) > 0.95
    assert isinstance(reg.teacher_, BaggingRegressor)
    assert reg.teacher_.score(X[:, 1:], X[:, 0]) > 0.5


@pytest.mark.parametrize("random_state", [0, 1])
def test_uniform_sampling_fills_the_observed_range(random_state):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3)) * [1, 10, 100]
    Z = _sample_like(X, 4000, "uniform", np.random.RandomState(random_state))
    lo, hi = X.min(axis=0), X.max(axis=0)
    assert Z.shape == (4000, 3)
    assert np.all(Z >= lo)
    assert np.all(Z <= hi)
    for j in range(3):
        assert stats.kstest(Z[:, j], stats.uniform(lo[j], hi[j] - lo[j]).cdf).pvalue > 1e-3
    # Independent features: no correlation between them.
    assert np.abs(np.corrcoef(Z, rowvar=False) - np.eye(3)).max() < 0.1


def test_gaussian_sampling_matches_mean_and_covariance():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3)) @ np.array([[2.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0, 0, 0]])
    Z = _sample_like(X, 20000, "gaussian", np.random.RandomState(0))
    np.testing.assert_allclose(Z.mean(axis=0), X.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.cov(X, rowvar=False), atol=0.08)
    # The constant third feature stays constant (singular covariance).
    np.testing.assert_allclose(Z[:, 2], X[0, 2])


def test_kde_sampling_adds_scott_bandwidth_noise():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 2)) * [1.0, 5.0]
    Z = _sample_like(X, 40000, "kde", np.random.RandomState(0))
    bandwidth = X.std(axis=0) * 100 ** (-1 / 6)
    # Variance of a Gaussian KDE sample = data variance + bandwidth**2.
    np.testing.assert_allclose(Z.var(axis=0), X.var(axis=0) + bandwidth**2, rtol=0.05)
    np.testing.assert_allclose(Z.mean(axis=0), X.mean(axis=0), atol=0.1)


def test_smote_sampling_lies_on_segments_to_nearest_neighbours():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(15, 3))
    Z = _sample_like(X, 50, "smote", np.random.RandomState(1))
    dist = np.linalg.norm(X[:, None] - X[None], axis=2)
    neighbours = np.argsort(dist, axis=1)[:, 1:6]
    for z in Z:
        best = np.inf
        for i in range(len(X)):
            for j in neighbours[i]:
                seg = X[j] - X[i]
                t = np.clip(np.dot(z - X[i], seg) / np.dot(seg, seg), 0, 1)
                best = min(best, np.linalg.norm(X[i] + t * seg - z))
        assert best < 1e-10


def test_fidelity_is_agreement_on_held_out_generated_data(wine):
    X, y = wine
    teacher = _logreg().fit(X, y)
    est = TwiceLearningTreeClassifier(
        teacher, prefit=True, extra_ratio=2, sampling="kde", max_depth=3, random_state=5
    ).fit(X, y)
    # Replay the documented draw: the held-out rows come after the extra rows.
    rng = np.random.RandomState(5)
    rng.randint(_MAX_SEED, size=2)
    n_extra = est.n_extra_samples_
    X_held_out = _sample_like(X, n_extra + max(len(X), n_extra), "kde", rng)[n_extra:]
    expected = np.mean(est.predict(X_held_out) == teacher.predict(X_held_out))
    assert est.fidelity_ == pytest.approx(expected)
    # The training rows were seen by the tree: held-out fidelity is the honest one.
    assert 0.5 < est.fidelity_ < 1


def test_regressor_fidelity_is_r2_against_teacher(regression_data):
    X, y = regression_data
    teacher = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    est = TwiceLearningTreeRegressor(
        teacher,
        prefit=True,
        extra_ratio=1,
        sampling="uniform",
        max_depth=4,
        cv=None,
        random_state=2,
    ).fit(X, y)
    rng = np.random.RandomState(2)
    rng.randint(_MAX_SEED, size=2)
    X_held_out = _sample_like(X, 2 * len(X), "uniform", rng)[len(X) :]
    t, p = teacher.predict(X_held_out), est.predict(X_held_out)
    r2 = 1 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2)
    assert est.fidelity_ == pytest.approx(r2)
    Xt = X[::3]
    t, p = teacher.predict(Xt), est.predict(Xt)
    r2 = 1 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2)
    assert est.fidelity_score(Xt) == pytest.approx(r2)


def test_tree_reproduces_the_teacher_on_generated_data():
    # An axis-aligned teacher (a small tree) is copied almost exactly.
    X, y = make_classification(
        n_samples=200, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    teacher = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    est = TwiceLearningTreeClassifier(teacher, prefit=True, extra_ratio=5, cv=None, random_state=0)
    assert est.fit(X, y).fidelity_ > 0.99
    # An oblique boundary needs many axis-aligned cuts: more extra data over the whole
    # square, closer copy.
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(100, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    teacher = LogisticRegression().fit(X, y)
    fidelity = [
        TwiceLearningTreeClassifier(
            teacher, prefit=True, extra_ratio=mu, sampling="uniform", cv=None, random_state=0
        )
        .fit(X, y)
        .fidelity_
        for mu in (0, 20)
    ]
    assert fidelity[1] > 0.97
    assert fidelity[1] > fidelity[0] + 0.02


def test_clone_shares_a_prefit_teacher_for_cross_validation(wine):
    X, y = wine
    teacher = _logreg().fit(X, y)
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=3, random_state=0)
    assert clone(est).teacher is teacher
    scores = cross_val_score(est, X, y, cv=3)
    expected = [
        clone(est).fit(X[tr], y[tr]).score(X[te], y[te])
        for tr, te in StratifiedKFold(3).split(X, y)
    ]
    np.testing.assert_allclose(scores, expected)
    assert clone(est.set_params(prefit=False)).teacher is not teacher


def test_same_seed_same_tree_other_seed_other_data(wine):
    X, y = wine
    teacher = _logreg().fit(X, y)
    kw = dict(teacher=teacher, prefit=True, extra_ratio=1, sampling="smote")
    a = TwiceLearningTreeClassifier(**kw, random_state=0).fit(X, y)
    b = TwiceLearningTreeClassifier(**kw, random_state=0).fit(X, y)
    c = TwiceLearningTreeClassifier(**kw, random_state=1).fit(X, y)
    _same_tree(a.tree_, b.tree_)
    assert a.fidelity_ == b.fidelity_
    assert a.export_text() != c.export_text()
    rs = np.random.RandomState(0)
    d = TwiceLearningTreeClassifier(**kw, random_state=rs).fit(X, y)
    assert d.tree_.tree_.node_count > 1


def test_string_labels_and_a_class_the_teacher_never_predicts(wine):
    X, y = wine
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    # The teacher knows only two of the three classes.
    seen = names != "barbera"
    teacher = _logreg().fit(X[seen], names[seen])
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=3, cv=None, random_state=0)
    est.fit(X, names)
    np.testing.assert_array_equal(est.classes_, ["barbera", "barolo", "grignolino"])
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(proba[:, 0], 0)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], est.predict(X))
    # Keeping the original labels brings the third class back into the tree.
    kept = clone(est).set_params(keep_original_labels=True, max_depth=None).fit(X, names)
    assert set(kept.tree_.classes_) == set(est.classes_)
    np.testing.assert_array_equal(kept.predict(X), names)


def test_export_text_uses_dataframe_feature_names(wine):
    pd = pytest.importorskip("pandas")
    data = load_wine(as_frame=True)
    est = TwiceLearningTreeClassifier(_logreg(), max_depth=2, random_state=0).fit(
        data.data, data.target
    )
    text = est.export_text()
    used = {data.data.columns[f] for f in est.tree_.tree_.feature if f >= 0}
    assert used
    assert all(f"|--- {name} <=" in text for name in used)
    assert "feature_" not in text
    own = est.export_text(feature_names=[f"x{i}" for i in range(13)])
    assert "x" in own
    assert not any(name in own for name in used)
    with pytest.raises(ValueError, match="feature_names has 2 names"):
        est.export_text(feature_names=["a", "b"])
    # A prefit teacher trained on a DataFrame receives DataFrames (no name warning).
    teacher = _logreg().fit(data.data, data.target)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        TwiceLearningTreeClassifier(teacher, prefit=True, random_state=0).fit(
            data.data.to_numpy(), data.target
        )
    assert isinstance(pd.DataFrame(data.data), pd.DataFrame)


def test_export_text_names_from_pipeline_with_categorical_column():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    df = pd.DataFrame(
        {"colour": rng.choice(["red", "green", "blue"], size=120), "size": rng.normal(size=120)}
    )
    y = ((df["colour"] == "red") & (df["size"] > 0)).astype(int)
    encode = ColumnTransformer(
        [("cat", OneHotEncoder(sparse_output=False), ["colour"])], remainder="passthrough"
    )
    pipe = make_pipeline(
        encode,
        TwiceLearningTreeClassifier(RandomForestClassifier(n_estimators=10), random_state=0),
    ).set_output(transform="pandas")
    pipe.fit(df, y)
    text = pipe[-1].export_text()
    assert "cat__colour_red" in text
    assert "remainder__size" in text
    assert pipe.score(df, y) == 1.0


def test_bad_input(wine):
    X, y = wine
    teacher = _logreg().fit(X, y)
    with pytest.raises(ValueError, match="prefit=True needs a fitted teacher"):
        TwiceLearningTreeClassifier(prefit=True).fit(X, y)
    with pytest.raises(NotFittedError, match="'teacher'.*not fitted"):
        TwiceLearningTreeClassifier(LogisticRegression(), prefit=True).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but the prefit teacher"):
        TwiceLearningTreeClassifier(teacher, prefit=True).fit(X[:, :5], y)
    with pytest.raises(ValueError, match="'extra_ratio' parameter"):
        TwiceLearningTreeClassifier(teacher, prefit=True, extra_ratio=-1).fit(X, y)
    with pytest.raises(ValueError, match="'sampling' parameter"):
        TwiceLearningTreeClassifier(teacher, prefit=True, sampling="normal").fit(X, y)
    with pytest.raises(ValueError, match="'criterion' parameter"):
        TwiceLearningTreeRegressor(criterion="gini").fit(X, y)
    with pytest.raises(ValueError, match="'teacher' parameter"):
        TwiceLearningTreeClassifier(teacher="mlp").fit(X, y)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TwiceLearningTreeClassifier(teacher, prefit=True).fit(X_nan, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        TwiceLearningTreeClassifier(teacher, prefit=True).fit(X, y + 0.5)
    with pytest.raises(ValueError, match="y has 1 class"):
        TwiceLearningTreeClassifier().fit(X, np.zeros(len(X)))
    # A prefit teacher brings its own classes, so one class in y is enough.
    one_class = TwiceLearningTreeClassifier(teacher, prefit=True, random_state=0)
    np.testing.assert_array_equal(one_class.fit(X, np.zeros(len(X), dtype=int)).classes_, [0, 1, 2])
    with pytest.raises(ValueError, match="teacher predicts labels"):
        TwiceLearningTreeClassifier(teacher, prefit=True).fit(X, np.array(["a", "b", "c"])[y])
    est = TwiceLearningTreeClassifier(teacher, prefit=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        est.predict(X[:, :3])
    with pytest.raises(NotFittedError):
        TwiceLearningTreeClassifier().export_text()


def test_twice_learning_beats_a_plain_tree_of_the_same_size_on_diabetes():
    """The paper's claim, on the data set where it holds robustly (5 seeds x 3 folds).

    A linear teacher keeps the test fast; the example shows the same gain with the
    default bagged networks.
    """
    X, y = load_diabetes(return_X_y=True)
    twice, plain = [], []
    for seed in range(5):
        for train, test in KFold(3, shuffle=True, random_state=seed).split(X):
            teacher = RidgeCV().fit(X[train], y[train])
            est = TwiceLearningTreeRegressor(
                teacher, prefit=True, extra_ratio=3, max_leaf_nodes=16, random_state=seed
            ).fit(X[train], y[train])
            tree = DecisionTreeRegressor(max_leaf_nodes=16, random_state=seed)
            tree.fit(X[train], y[train])
            assert est.tree_.get_n_leaves() <= 16
            twice.append(est.score(X[test], y[test]))
            plain.append(tree.score(X[test], y[test]))
    twice, plain = np.array(twice), np.array(plain)
    assert twice.mean() > plain.mean() + 0.1
    assert np.mean(twice > plain) >= 0.8


def test_teacher_with_one_output_column(regression_data):
    X, y = regression_data
    teacher = LinearRegression().fit(X, y[:, None])
    est = TwiceLearningTreeRegressor(teacher, prefit=True, cv=None, random_state=0).fit(X, y)
    assert est.predict(X).shape == (len(X),)
    # The unpruned tree reproduces the teacher's predictions on the training rows.
    np.testing.assert_allclose(est.predict(X), teacher.predict(X).ravel())


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


@pytest.mark.parametrize(("extra_ratio", "expected"), [(0.2, 36), (1.37, 244), (0.004, 1)])
def test_number_of_generated_rows_is_rounded_not_truncated(wine, extra_ratio, expected):
    # extra_ratio * n_samples is not a whole number here (178 rows: 35.6, 243.86, 0.712):
    # the documented count is round(extra_ratio * n_samples).
    X, y = wine
    assert expected == np.floor(extra_ratio * len(X) + 0.5) != np.floor(extra_ratio * len(X))
    # cv=None: no inner validation, so the tree learns from exactly extra_ratio x n rows.
    teacher = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    est = TwiceLearningTreeClassifier(
        teacher, prefit=True, extra_ratio=extra_ratio, cv=None, random_state=0
    ).fit(X, y)
    assert est.n_extra_samples_ == expected
    reg = TwiceLearningTreeRegressor(
        DecisionTreeRegressor(max_depth=2, random_state=0).fit(X, y.astype(float)),
        prefit=True,
        extra_ratio=extra_ratio,
        cv=None,
        random_state=0,
    ).fit(X, y.astype(float))
    assert reg.n_extra_samples_ == expected


# -- cv: what the tree learns from ----------------------------------------------------------


def _one_se_choice(scores, plain):
    """The one-standard-error rule, the slow way: ``scores[c][i]`` is candidate c's
    out-of-fold score on row i; the first candidate whose mean is at most one standard
    error of the paired difference below the best mean, and not below the plain
    tree's (candidate ``plain``)."""
    n = len(scores[0])
    means = [sum(row) / n for row in scores]
    best = max(range(len(scores)), key=lambda c: (means[c], -c))
    for c, row in enumerate(scores):
        d = [scores[best][i] - row[i] for i in range(n)]
        mean_d = sum(d) / n
        se = (sum((v - mean_d) ** 2 for v in d) / (n - 1)) ** 0.5 / n**0.5
        if mean_d <= se + 1e-12 and means[c] >= means[plain]:
            return c


def _replay_validation(est, X, y, n_folds):
    """Candidates, per-row out-of-fold accuracies of each and of the (prefit) teacher,
    recomputed by hand."""
    n = len(y)
    many = max(4.0 * est.extra_ratio, 2000 / n)
    amounts = sorted({float(est.extra_ratio), 4.0 * est.extra_ratio, many} - {0.0})[::-1]
    kinds = ["kde"] if est.sampling == "kde" else ["kde", est.sampling]
    teacher_only = [(False, a, k) for a in amounts for k in kinds]
    mixed = [(True, a, k) for a in amounts for k in kinds]
    candidates = teacher_only + [(False, 0.0, est.sampling), (True, 0.0, est.sampling)] + mixed
    # The documented folds: a generator seeded from the teacher's seed + 1.
    teacher_seed = np.random.RandomState(est.random_state).randint(_MAX_SEED, size=2)[0]
    val_rng = np.random.RandomState((int(teacher_seed) + 1) % _MAX_SEED)
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=val_rng.randint(_MAX_SEED))
    scores = np.zeros((len(candidates), n))
    teacher_scores = np.zeros(n)
    for tr, te in folds.split(X, y):
        teacher_scores[te] = est.teacher.predict(X[te]) == y[te]
        seed = val_rng.randint(_MAX_SEED)
        for c, (keep, ratio, kind) in enumerate(candidates):
            n_extra = int(round(ratio * len(tr)))
            X_extra = _sample_like(X[tr], n_extra, kind, np.random.RandomState(seed))
            y_rows = y[tr] if keep else est.teacher.predict(X[tr])
            y_extra = est.teacher.predict(X_extra) if n_extra else y[:0]
            tree = DecisionTreeClassifier(
                criterion=est.criterion, max_depth=est.max_depth, random_state=est.random_state
            ).fit(np.vstack([X[tr], X_extra]), np.r_[y_rows, y_extra])
            scores[c, te] = tree.predict(X[te]) == y[te]
    return candidates, scores, teacher_scores


def test_cv_scores_and_choice_match_a_brute_force_replay(wine):
    X, y = wine
    teacher = _logreg().fit(X, y)
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=2, cv=4, random_state=3)
    est.fit(X, y)
    candidates, scores, teacher_scores = _replay_validation(est, X, y, 4)
    res = est.cv_results_
    assert list(zip(res["keep_original_labels"], res["extra_ratio"], res["sampling"])) == (
        candidates
    )
    plain = candidates.index((True, 0.0, "smote"))
    np.testing.assert_allclose(res["score"], scores.mean(axis=1))
    assert est.teacher_cv_score_ == pytest.approx(teacher_scores.mean())
    # A teacher that validates above the plain tree: the one-standard-error choice.
    assert teacher_scores.mean() > scores[plain].mean()
    chosen = _one_se_choice(scores.tolist(), plain)
    np.testing.assert_array_equal(res["chosen"], np.arange(len(candidates)) == chosen)
    keep, ratio, kind = candidates[chosen]
    assert (est.keep_original_labels_, est.extra_ratio_, est.sampling_) == (keep, ratio, kind)
    # The returned tree is the chosen candidate grown on all rows.
    same = TwiceLearningTreeClassifier(
        teacher,
        prefit=True,
        max_depth=2,
        keep_original_labels=keep,
        extra_ratio=ratio,
        sampling=kind,
        cv=None,
        random_state=3,
    ).fit(X, y)
    _same_tree(est.tree_, same.tree_)


def test_select_keeps_the_preferred_candidate_unless_clearly_worse():
    select = TwiceLearningTreeClassifier._select
    rng = np.random.RandomState(0)
    for _ in range(300):
        n_rows = rng.randint(2, 12)
        scores = (rng.uniform(size=(4, n_rows)) < rng.uniform(size=(4, 1))).astype(float)
        plain = rng.randint(4)
        assert select(scores, plain) == _one_se_choice(scores.tolist(), plain)
    # The plain tree (last) better on every row: the others are clearly worse.
    scores = np.array([[0, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1]], dtype=float)
    assert select(scores, 2) == 2
    # The best better than the first on one row of five only: within noise, the first
    # is kept, unless the plain tree scores more than it.
    scores = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 1, 0]], dtype=float)
    assert select(scores, 2) == 0
    scores[2] = [1, 1, 1, 1, 1]
    assert select(scores, 2) == 1
    # Equal on every row: a tie goes to the first.
    assert select(np.ones((3, 5)), 2) == 0


def test_cv_returns_the_plain_tree_when_the_teacher_is_useless(wine):
    X, y = wine
    rng = np.random.RandomState(0)
    # A teacher of shuffled labels: its labels only add noise.
    teacher = _logreg().fit(X, rng.permutation(y))
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=3, random_state=0)
    est.fit(X, y)
    assert est.keep_original_labels_
    assert est.extra_ratio_ == 0
    plain = DecisionTreeClassifier(criterion="entropy", max_depth=3, random_state=0).fit(X, y)
    _same_tree(est.tree_, plain)
    assert 0 <= est.fidelity_ <= 1  # still reported against the teacher


def test_cv_uses_a_good_teacher_with_few_rows():
    X, y = make_classification(
        n_samples=3000, n_features=8, n_informative=5, random_state=0, flip_y=0.05
    )
    teacher = _logreg().fit(X[1000:], y[1000:])
    chosen = []
    for seed in range(4):
        rng = np.random.RandomState(seed)
        rows = np.r_[[rng.choice(np.flatnonzero(y[:1000] == c), 5, replace=False) for c in (0, 1)]]
        rows = rows.ravel()
        est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=3, random_state=seed)
        est.fit(X[rows], y[rows])
        chosen.append((est.keep_original_labels_, est.extra_ratio_))
    # Ten rows: the teacher's labels (on the rows or on generated ones) beat the plain
    # tree's in validation.
    assert (True, 0.0) not in chosen, chosen


def test_cv_is_deterministic_with_a_random_state(wine):
    X, y = wine
    teacher = _logreg().fit(X, y)
    a = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=3, random_state=7).fit(X, y)
    b = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=3, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.cv_results_["score"], b.cv_results_["score"])
    _same_tree(a.tree_, b.tree_)


def test_cv_refits_an_unfitted_teacher_per_fold(wine):
    X, y = wine
    teacher = _CountingTree(max_depth=2, random_state=0)
    _CountingTree.n_fit_calls = 0
    TwiceLearningTreeClassifier(teacher, max_depth=2, cv=3, random_state=0).fit(X, y)
    # One fit on all rows, one per training fold (the grown trees are not counted:
    # they are plain DecisionTreeClassifier).
    assert _CountingTree.n_fit_calls == 1 + 3


def test_cv_useless_teacher_is_gated_out_before_any_tree_is_compared(wine):
    X, y = wine
    teacher = _logreg().fit(X, np.random.RandomState(0).permutation(y))
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=2, cv=4, random_state=3)
    est.fit(X, y)
    candidates, scores, teacher_scores = _replay_validation(est, X, y, 4)
    plain = candidates.index((True, 0.0, "smote"))
    # Replayed by hand: the teacher validates below the plain tree, so the plain tree
    # is returned whatever the other candidates scored.
    assert est.teacher_cv_score_ == pytest.approx(teacher_scores.mean())
    assert teacher_scores.mean() <= scores[plain].mean()
    assert np.flatnonzero(est.cv_results_["chosen"]).tolist() == [plain]
    plain_tree = DecisionTreeClassifier(criterion="entropy", max_depth=2, random_state=3)
    _same_tree(est.tree_, plain_tree.fit(X, y))


def test_cv_with_one_row_per_class_credits_an_unseen_class_as_a_guess(wine):
    X, y = wine
    rows = [np.flatnonzero(y == c)[0] for c in (0, 1, 2)]
    teacher = _logreg().fit(X, y)
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=3, random_state=0)
    est.fit(X[rows], y[rows])
    res = est.cv_results_
    plain = np.flatnonzero(res["keep_original_labels"] & (res["extra_ratio"] == 0))[0]
    # Three rows, three leave-one-out folds: the plain tree never knows the held-out
    # row's class, and is credited with a guess among the 3 classes on every row.
    assert res["score"][plain] == pytest.approx(1 / 3)
    # The prefit teacher is scored on what it predicts (it gets these rows right).
    assert est.teacher_cv_score_ == np.mean(teacher.predict(X[rows]) == y[rows]) == 1
    assert not est.keep_original_labels_


def test_cv_with_two_rows_validates_and_one_row_grows_the_configured_tree(regression_data):
    X, y = regression_data
    teacher = LinearRegression().fit(X, y)
    est = TwiceLearningTreeRegressor(teacher, prefit=True, extra_ratio=2, random_state=0)
    assert est.fit(X[:2], y[:2]).cv_results_["score"].shape == (14,)
    est.fit(X[:1], y[:1])
    assert est.cv_results_ is None
    assert est.teacher_cv_score_ is None
    assert (est.keep_original_labels_, est.extra_ratio_, est.sampling_) == (False, 2.0, "smote")
    assert est.n_extra_samples_ == 2


def _shift_trial(seed, n_shots, shuffle_source):
    """Twice-learned and plain trees on the benchmark's shifted-covariates wine task."""
    s = sc.shifted_covariates("wine", random_state=seed)
    y_source = s.y_source
    if shuffle_source:
        y_source = np.random.RandomState(seed).permutation(y_source)
    source = LogisticRegression(max_iter=1000).fit(s.X_source, y_source)
    shots, test = sc.draw_shots(s.y_target, n_shots, seed)
    Xl, yl = s.X_target[shots], s.y_target[shots]
    Xt, yt = s.X_target[test], s.y_target[test]
    est = TwiceLearningTreeClassifier(source, prefit=True, max_depth=3, random_state=seed)
    est.fit(Xl, yl)
    plain = DecisionTreeClassifier(criterion="entropy", max_depth=3, random_state=seed)
    plain.fit(Xl, yl)
    return est, est.score(Xt, yt), plain.score(Xt, yt), source.score(Xt, yt)


def test_cv_irrelevant_source_falls_back_to_the_plain_tree():
    for seed in range(3):
        est, acc, plain_acc, _ = _shift_trial(seed, 5, shuffle_source=True)
        # Fifteen rows are enough to see that a shuffled-label teacher is useless.
        assert est.keep_original_labels_
        assert est.extra_ratio_ == 0
        assert acc == plain_acc


def test_cv_good_source_is_kept_and_beats_the_plain_tree():
    accs, plain_accs = [], []
    for seed in range(3):
        est, acc, plain_acc, source_acc = _shift_trial(seed, 3, shuffle_source=False)
        assert source_acc > 0.9
        assert not est.keep_original_labels_
        accs.append(acc)
        plain_accs.append(plain_acc)
    # Nine rows: the tree of the teacher's labels on many generated rows is far better.
    assert np.mean(accs) > np.mean(plain_accs) + 0.05, (accs, plain_accs)


def test_cv_teacher_tied_with_the_plain_tree_is_used():
    X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0], [11.0], [12.0], [13.0]])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    teacher = LogisticRegression().fit(X, y)
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=1, cv=2, random_state=0)
    est.fit(X, y)
    # Both perfect out of fold: a tie is not "worse than the plain tree".
    assert est.teacher_cv_score_ == 1
    assert est.cv_results_["score"].max() == 1
    assert not est.keep_original_labels_
    assert est.cv_results_["chosen"][0]


def test_cv_teacher_no_better_than_a_guess_gives_the_plain_tree(wine, regression_data):
    X, y = wine
    rows = [np.flatnonzero(y == c)[0] for c in (0, 1, 2)]
    # Always class 0: right on one row of three, as a guess among three classes is.
    teacher = DecisionTreeClassifier(max_depth=1).fit(X[:5], y[:5])
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=3, random_state=0)
    est.fit(X[rows], y[rows])
    assert est.teacher_cv_score_ == pytest.approx(1 / 3)
    assert est.keep_original_labels_
    assert est.extra_ratio_ == 0
    # A regressor's guess is the mean: a teacher predicting a constant far from it
    # has a larger squared error than the variance of y.
    X, y = regression_data
    far = DecisionTreeRegressor(max_depth=1).fit(X[:3], np.full(3, 10.0))
    reg = TwiceLearningTreeRegressor(far, prefit=True, max_depth=3, random_state=0)
    reg.fit(X[:30], y[:30])
    assert reg.teacher_cv_score_ == pytest.approx(-np.mean((y[:30] - 10.0) ** 2))
    assert reg.teacher_cv_score_ < -np.var(y[:30])
    assert reg.keep_original_labels_
    assert reg.extra_ratio_ == 0
    plain = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X[:30], y[:30])
    _same_tree(reg.tree_, plain)


def _spec(obj):
    """An estimator as nested (class name, parameters), for exact comparison."""
    if hasattr(obj, "get_params"):
        return (type(obj).__name__, {k: _spec(v) for k, v in obj.get_params(deep=False).items()})
    if isinstance(obj, (list, tuple)):
        return [_spec(v) for v in obj]
    return obj


def test_default_teachers_are_the_documented_ensembles():
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.neural_network import MLPRegressor

    clf = TwiceLearningTreeClassifier(n_jobs=2)._default_teacher(7)
    network = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=300))
    expected = BaggingClassifier(network, n_estimators=10, n_jobs=2, random_state=7)
    assert _spec(clf) == _spec(expected)
    reg = TwiceLearningTreeRegressor(n_jobs=3)._default_teacher(5)
    network = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(32,), max_iter=300)),
        transformer=StandardScaler(),
    )
    expected = BaggingRegressor(network, n_estimators=10, n_jobs=3, random_state=5)
    assert _spec(reg) == _spec(expected)


def test_export_text_passes_its_options_to_scikit_learn():
    from sklearn.tree import export_text

    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = rng.randint(2, size=400)  # noise: a deep tree, more than 10 levels
    est = TwiceLearningTreeClassifier(
        LogisticRegression().fit(X, y),
        prefit=True,
        keep_original_labels=True,
        extra_ratio=0,
        cv=None,
        random_state=0,
    ).fit(X, y)
    assert est.tree_.get_depth() > 11
    # The defaults are scikit-learn's.
    assert est.export_text() == export_text(est.tree_)
    options = dict(max_depth=11, spacing=4, decimals=3, show_weights=True)
    names = ["a", "b", "c"]
    assert est.export_text(feature_names=names, **options) == export_text(
        est.tree_, feature_names=names, **options
    )


def test_regressor_validation_and_tree_are_seeded(regression_data):
    X, y = regression_data
    # Five copies of each column: which copy a split uses is up to the tree's seed.
    X = np.repeat(X[:40], 5, axis=1)
    teacher = LinearRegression().fit(X, y[:40])
    fits = [
        TwiceLearningTreeRegressor(teacher, prefit=True, max_depth=4, random_state=3).fit(X, y[:40])
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].cv_results_["score"], fits[1].cv_results_["score"])
    _same_tree(fits[0].tree_, fits[1].tree_)
    plain = DecisionTreeRegressor(max_depth=4, random_state=3).fit(X, y[:40])
    grown = TwiceLearningTreeRegressor(
        teacher,
        prefit=True,
        extra_ratio=0,
        keep_original_labels=True,
        max_depth=4,
        cv=None,
        random_state=3,
    ).fit(X, y[:40])
    _same_tree(grown.tree_, plain)


def test_regressor_criterion_reaches_the_tree(regression_data):
    X, y = regression_data
    est = TwiceLearningTreeRegressor(
        LinearRegression().fit(X, y),
        prefit=True,
        extra_ratio=0,
        keep_original_labels=True,
        criterion="absolute_error",
        max_depth=3,
        cv=None,
        random_state=0,
    ).fit(X, y)
    plain = DecisionTreeRegressor(criterion="absolute_error", max_depth=3, random_state=0)
    _same_tree(est.tree_, plain.fit(X, y))


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize(
    "limit", [{"max_depth": 3}, {"min_samples_leaf": 5}, {"max_leaf_nodes": 6}, {"ccp_alpha": 0.02}]
)
def test_every_size_limit_reaches_the_tree(wine, regression_data, kind, limit):
    X, y = wine if kind == "classifier" else regression_data
    if kind == "classifier":
        Twice, Tree, teacher = TwiceLearningTreeClassifier, DecisionTreeClassifier, _logreg()
        criterion = {"criterion": "entropy"}
    else:
        Twice, Tree, teacher = TwiceLearningTreeRegressor, DecisionTreeRegressor, LinearRegression()
        criterion = {}
    est = Twice(
        teacher.fit(X, y),
        prefit=True,
        extra_ratio=0,
        keep_original_labels=True,
        cv=None,
        random_state=0,
        **limit,
    ).fit(X, y)
    plain = Tree(random_state=0, **criterion, **limit).fit(X, y)
    _same_tree(est.tree_, plain)
    # The limit binds: without it the tree is larger.
    unlimited = Tree(random_state=0, **criterion).fit(X, y)
    assert unlimited.tree_.node_count > plain.tree_.node_count


def test_many_generated_rows_is_four_times_extra_ratio_when_that_is_more():
    est = TwiceLearningTreeClassifier(extra_ratio=20, sampling="smote")
    # 4 x 20 = 80 rows per row beats 2000 / 178 = 11.2: the amounts are 80 and 20.
    amounts = [a for keep, a, _ in est._candidates(178) if not keep and a]
    assert amounts == [80.0, 80.0, 20.0, 20.0]
    est.set_params(extra_ratio=1)
    amounts = [a for keep, a, _ in est._candidates(178) if not keep and a]
    assert amounts == pytest.approx([2000 / 178] * 2 + [4.0, 4.0, 1.0, 1.0])


def test_regressor_fidelity_score_on_two_rows_is_their_r2(regression_data):
    X, y = regression_data
    teacher = LinearRegression().fit(X, y)
    est = TwiceLearningTreeRegressor(teacher, prefit=True, max_depth=2, cv=None, random_state=0)
    est.fit(X, y)
    t, p = teacher.predict(X[:2]), est.predict(X[:2])
    r2 = 1 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2)
    assert est.fidelity_score(X[:2]) == pytest.approx(r2)
    assert est.fidelity_score(X[:2]) not in (0.0, 1.0)


def test_unlabeled_rows_are_learned_with_the_teachers_labels(wine):
    X, y = wine
    X = StandardScaler().fit_transform(X)
    teacher = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    U = X[1::2][:40]
    few = np.r_[0, 1, 60, 61, 130, 131]
    # Teacher's labels on the rows, no generated rows: the tree learns the rows and the
    # unlabeled rows, both labelled by the teacher (unlabeled rows after the rows).
    est = TwiceLearningTreeClassifier(
        teacher, prefit=True, unlabeled=U, extra_ratio=0, cv=None, max_depth=2, random_state=3
    ).fit(X[few], y[few])
    X_ref = np.vstack([X[few], U])
    ref = DecisionTreeClassifier(criterion="entropy", max_depth=2, random_state=3)
    ref.fit(X_ref, teacher.predict(X_ref))
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))
    assert est.n_extra_samples_ == len(U)
    # The plain tree ignores them: it learns the rows' own labels only.
    plain = TwiceLearningTreeClassifier(
        teacher,
        prefit=True,
        unlabeled=U,
        extra_ratio=0,
        keep_original_labels=True,
        cv=None,
        max_depth=2,
        random_state=3,
    ).fit(X[few], y[few])
    ref = DecisionTreeClassifier(criterion="entropy", max_depth=2, random_state=3)
    np.testing.assert_array_equal(plain.predict(X), ref.fit(X[few], y[few]).predict(X))
    assert plain.n_extra_samples_ == 0
    # Generated rows come on top of them.
    gen = TwiceLearningTreeClassifier(
        teacher, prefit=True, unlabeled=U, extra_ratio=50, cv=None, random_state=0
    ).fit(X[[0, 1]], y[[0, 1]])
    assert gen.n_extra_samples_ == 100 + len(U)
    # No unlabeled rows (None or none at all) is the estimator as it was.
    kw = dict(teacher=teacher, prefit=True, max_depth=2, random_state=0)
    a = TwiceLearningTreeClassifier(**kw).fit(X[few], y[few])
    b = TwiceLearningTreeClassifier(**kw, unlabeled=U[:0]).fit(X[few], y[few])
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.fidelity_ == b.fidelity_


def test_unlabeled_dataframe_columns_and_bad_shapes(wine):
    pd = pytest.importorskip("pandas")
    X, y = wine
    cols = [f"c{j}" for j in range(X.shape[1])]
    df = pd.DataFrame(X, columns=cols)
    teacher = RandomForestClassifier(n_estimators=5, random_state=0).fit(df, y)
    kw = dict(teacher=teacher, prefit=True, extra_ratio=0, cv=None, random_state=0)
    # Columns matched by name, whatever their order.
    a = TwiceLearningTreeClassifier(**kw, unlabeled=df.iloc[:50]).fit(df.iloc[50:], y[50:])
    shuffled = df.iloc[:50][cols[::-1]]
    b = TwiceLearningTreeClassifier(**kw, unlabeled=shuffled).fit(df.iloc[50:], y[50:])
    np.testing.assert_array_equal(a.predict(df), b.predict(df))
    with pytest.raises(ValueError, match=r"unlabeled lacks the columns \['c0'\]"):
        TwiceLearningTreeClassifier(**kw, unlabeled=df.iloc[:50, 1:]).fit(df, y)
    with pytest.raises(ValueError, match="unlabeled has 12 features, but X has 13"):
        TwiceLearningTreeClassifier(**kw, unlabeled=X[:50, 1:]).fit(X, y)
    with pytest.raises(ValueError, match="unlabeled"):
        TwiceLearningTreeClassifier(**kw, unlabeled=np.full((3, 13), np.nan)).fit(X, y)
    reg = TwiceLearningTreeRegressor(
        RidgeCV().fit(X, X[:, 0]), prefit=True, unlabeled=X[:5, :3], cv=None
    )
    with pytest.raises(ValueError, match="unlabeled has 3 features"):
        reg.fit(X, X[:, 0])


def test_unlabeled_source_rows_bring_the_tree_closer_to_the_teacher():
    # The benchmark's shifted wine task: with one labelled row per class the
    # generated rows stay near those three; some of the teacher's own rows, unlabeled,
    # show the tree where the data are.
    gains = []
    for seed in range(4):
        s = sc.shifted_covariates("wine", random_state=seed)
        source = LogisticRegression(max_iter=1000).fit(s.X_source, s.y_source)
        shots, test = sc.draw_shots(s.y_target, 1, seed)
        Xl, yl = s.X_target[shots], s.y_target[shots]
        Xt, yt = s.X_target[test], s.y_target[test]
        rows = np.random.RandomState(seed).permutation(len(s.y_source))[:100]
        kw = dict(teacher=source, prefit=True, max_depth=3, random_state=seed)
        alone = TwiceLearningTreeClassifier(**kw).fit(Xl, yl).score(Xt, yt)
        given = TwiceLearningTreeClassifier(**kw, unlabeled=s.X_source[rows]).fit(Xl, yl)
        gains.append(given.score(Xt, yt) - alone)
    assert np.mean(gains) > 0.05, gains
    assert min(gains) > 0, gains


def test_unlabeled_array_beside_a_dataframe_x_and_the_reverse(wine):
    # Columns are matched by name only when both have names; otherwise by position.
    pd = pytest.importorskip("pandas")
    X, y = wine
    df = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    teacher = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    kw = dict(teacher=teacher, prefit=True, extra_ratio=0, cv=None, random_state=0)
    ref = TwiceLearningTreeClassifier(**kw, unlabeled=X[:50]).fit(X[50:], y[50:])
    for X_fit, U in ((df.iloc[50:], X[:50]), (X[50:], df.iloc[:50])):
        est = TwiceLearningTreeClassifier(**kw, unlabeled=U).fit(X_fit, y[50:])
        assert est.n_extra_samples_ == 50
        _same_tree(est.tree_, ref.tree_)


def test_unlabeled_of_object_dtype_is_read_as_floats(wine):
    # Numbers held as Python objects (e.g. ``to_numpy()`` of a frame with mixed columns)
    # are converted like X's, whatever the sampling; NaN is refused naming the parameter.
    X, y = wine
    X = StandardScaler().fit_transform(X)
    teacher = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    U = X[1::2][:30]
    for sampling in ("kde", "smote"):
        kw = dict(teacher=teacher, prefit=True, extra_ratio=2, sampling=sampling, cv=None)
        ref = TwiceLearningTreeClassifier(**kw, unlabeled=U, random_state=0).fit(X[:40], y[:40])
        est = TwiceLearningTreeClassifier(**kw, unlabeled=U.astype(object), random_state=0)
        est.fit(X[:40], y[:40])
        _same_tree(est.tree_, ref.tree_)
    bad = U.astype(object)
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="Input unlabeled contains NaN"):
        TwiceLearningTreeClassifier(teacher, prefit=True, unlabeled=bad, cv=None).fit(X, y)


@pytest.mark.parametrize(
    ("Tree", "criterion", "other"),
    [
        (TwiceLearningTreeClassifier, "entropy", "gini"),
        (TwiceLearningTreeRegressor, "squared_error", "absolute_error"),
    ],
)
def test_documented_defaults_and_every_parameter_is_stored(Tree, criterion, other):
    defaults = dict(
        teacher=None,
        prefit=False,
        extra_ratio=1.0,
        sampling="smote",
        unlabeled=None,
        keep_original_labels=False,
        criterion=criterion,
        max_depth=None,
        min_samples_leaf=1,
        max_leaf_nodes=None,
        ccp_alpha=0.0,
        cv=5,
        random_state=None,
        n_jobs=None,
    )
    assert Tree().get_params(deep=False) == defaults
    # Every argument reaches its attribute unchanged (none is replaced by a default).
    given = dict(
        teacher=LinearRegression(),
        prefit=True,
        extra_ratio=2.5,
        sampling="kde",
        unlabeled=np.zeros((2, 3)),
        keep_original_labels=True,
        criterion=other,
        max_depth=4,
        min_samples_leaf=3,
        max_leaf_nodes=9,
        ccp_alpha=0.01,
        cv=3,
        random_state=7,
        n_jobs=2,
    )
    params = Tree(**given).get_params(deep=False)
    assert params.keys() == given.keys()
    for name, value in given.items():
        assert params[name] is value, name


@pytest.mark.parametrize("sampling", ["uniform", "gaussian", "kde", "smote"])
def test_one_generated_row_is_one_row_and_none_is_an_empty_block(sampling):
    # A candidate of the inner validation may ask for a single row (round(ratio * n) = 1).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 3))
    one = _sample_like(X, 1, sampling, np.random.RandomState(0))
    assert one.shape == (1, 3)
    assert np.all(np.isfinite(one))
    if sampling == "uniform":
        assert np.all((X.min(axis=0) <= one) & (one <= X.max(axis=0)))
    if sampling == "smote":
        # on a segment between two training rows
        seg = X[None, :] - X[:, None]
        t = np.clip(
            ((one[0] - X)[:, None] * seg).sum(axis=2) / np.maximum((seg**2).sum(axis=2), 1e-300),
            0,
            1,
        )
        assert np.linalg.norm(X[:, None] + t[..., None] * seg - one[0], axis=2).min() < 1e-10
    assert _sample_like(X, 0, sampling, np.random.RandomState(0)).shape == (0, 3)


def test_gaussian_sampling_of_one_two_and_collinear_rows():
    rng = np.random.RandomState(5)
    x = rng.normal(size=(30, 1))
    # One row: no spread to estimate, every draw is that row.
    X1 = x[:1] * [1.0, 2.0]
    Z = _sample_like(X1, 4, "gaussian", np.random.RandomState(0))
    np.testing.assert_array_equal(Z, np.repeat(X1, 4, axis=0))
    # Two rows already have a covariance: the draws spread along the line through them.
    X2 = np.array([[0.0, 1.0], [2.0, 5.0]])
    Z = _sample_like(X2, 20000, "gaussian", np.random.RandomState(0))
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.cov(X2, rowvar=False), rtol=0.05)
    np.testing.assert_allclose(Z[:, 1], 1.0 + 2.0 * Z[:, 0], atol=1e-9)
    # Exactly collinear features: the covariance's zero eigenvalue comes out of eigh as
    # -3.9e-16 here; the draws stay finite and on the plane x1 = 3 x0 + 1.
    X = np.hstack([x, 3 * x + 1, rng.normal(size=(30, 1))])
    assert np.linalg.eigh(np.cov(X, rowvar=False))[0].min() < 0
    Z = _sample_like(X, 1000, "gaussian", np.random.RandomState(0))
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z[:, 1], 3 * Z[:, 0] + 1, atol=1e-9)


def test_kde_noise_is_scotts_bandwidth_around_each_anchor():
    # A tight cluster and two far rows: the draws near the cluster are its point plus the
    # noise, whose spread is Scott's bandwidth std(X) * n ** (-1 / (d + 4)) per feature.
    X = np.repeat([[0.0, 0.0], [1000.0, 10.0]], [98, 2], axis=0)
    Z = _sample_like(X, 40000, "kde", np.random.RandomState(0))
    bandwidth = X.std(axis=0) * 100 ** (-1 / 6)  # (65.0, 0.65): the far rows are 15 away
    near = Z[:, 0] < 500
    assert 0.97 < near.mean() < 0.99
    np.testing.assert_allclose(Z[near].std(axis=0), bandwidth, rtol=0.02)
    assert np.all(np.abs(Z[near].mean(axis=0)) < 0.02 * bandwidth)


def test_smote_partners_are_every_near_neighbour_at_a_uniform_position():
    # Each draw is x_i + t (x_j - x_i) with x_j one of the 5 nearest neighbours of x_i
    # (never x_i itself) and t uniform on [0, 1]; every such pair is used. Found back by
    # brute force (a draw lies on the segment {i, j} whichever end was its anchor).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(15, 3))
    Z = _sample_like(X, 3000, "smote", np.random.RandomState(1))
    dist = np.linalg.norm(X[:, None] - X[None], axis=2)
    neighbours = np.argsort(dist, axis=1)[:, 1:6]
    seg = X[neighbours] - X[:, None, :]  # (15, 5, 3): row i to its r-th neighbour
    rel = Z[:, None, None, :] - X[None, :, None, :]  # (3000, 15, 1, 3)
    t = (rel * seg[None]).sum(axis=3) / (seg**2).sum(axis=2)[None]
    gap = np.linalg.norm(rel - t[..., None] * seg[None], axis=3)
    gap[(t < 0) | (t > 1)] = np.inf
    gap, t = gap.reshape(len(Z), -1), t.reshape(len(Z), -1)
    found = gap.argmin(axis=1)
    assert np.all(gap.min(axis=1) < 1e-10)
    i, j = found // 5, neighbours.ravel()[found]
    pairs = {(min(a, b), max(a, b)) for a, b in zip(i, j)}
    assert pairs == {(min(a, b), max(a, b)) for a in range(15) for b in neighbours[a]}
    # the position from the lower-numbered end: t or 1 - t, uniform either way
    positions = np.where(i < j, 1.0, 0.0) * t[np.arange(len(Z)), found]
    positions += np.where(i < j, 0.0, 1.0) * (1 - t[np.arange(len(Z)), found])
    assert stats.kstest(positions, "uniform").pvalue > 1e-3
    assert np.min(np.linalg.norm(Z[:, None] - X[None], axis=2)) > 0


def test_regressor_fidelity_on_one_row_is_whether_tree_and_teacher_agree(regression_data):
    # R^2 is undefined on one row: the fidelity there is 1 when the tree predicts the
    # teacher's value (to rounding: a leaf's mean of equal values), else 0.
    from sklearn.dummy import DummyRegressor

    X, y = regression_data
    constant = DummyRegressor().fit(X, y)  # the tree learns its constant exactly
    est = TwiceLearningTreeRegressor(constant, prefit=True, cv=None, random_state=0).fit(X, y)
    np.testing.assert_allclose(est.predict(X[:1]), constant.predict(X[:1]), rtol=1e-12)
    assert est.fidelity_score(X[:1]) == 1.0
    linear = LinearRegression().fit(X, y)
    est = TwiceLearningTreeRegressor(linear, prefit=True, max_depth=1, cv=None, random_state=0)
    est.fit(X, y)
    assert est.predict(X[:1])[0] != pytest.approx(linear.predict(X[:1])[0])
    assert est.fidelity_score(X[:1]) == 0.0


def test_cv_with_two_rows_per_class_stratifies_into_two_folds(wine):
    # Every class has two rows: stratified folds (as many as the smallest class allows,
    # here 2 although cv=5), each training fold holding one row of every class.
    X, y = wine
    teacher = _logreg().fit(X, y)
    rows = np.r_[0, 1, 60, 61, 130, 131]
    est = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=2, cv=5, random_state=3)
    est.fit(X[rows], y[rows])
    candidates, scores, teacher_scores = _replay_validation(est, X[rows], y[rows], 2)
    np.testing.assert_allclose(est.cv_results_["score"], scores.mean(axis=1))
    assert est.teacher_cv_score_ == pytest.approx(teacher_scores.mean())


def test_prefit_teacher_labels_of_another_kind_than_y_are_refused(wine):
    # numpy would silently turn integer and string labels into strings ('0', 'a', ...).
    X, y = wine
    words = np.array(["low", "mid", "high"])[y]
    teacher = _logreg().fit(X, words)
    for labels in (y, y == 1, y.astype(float)):
        with pytest.raises(ValueError, match="cannot be compared with the labels of y"):
            TwiceLearningTreeClassifier(teacher, prefit=True, cv=None).fit(X, labels)
    numeric = _logreg().fit(X, y)
    with pytest.raises(ValueError, match="cannot be compared with the labels of y"):
        TwiceLearningTreeClassifier(numeric, prefit=True, cv=None).fit(X, words)
    # Strings compare with strings, whatever their dtype: y of dtype object (as from a
    # pandas column) beside a teacher that predicts numpy strings.
    est = TwiceLearningTreeClassifier(teacher, prefit=True, cv=None).fit(X, words.astype(object))
    np.testing.assert_array_equal(est.classes_, ["high", "low", "mid"])
    # Numbers of another dtype compare: float labels beside an integer-predicting teacher.
    est = TwiceLearningTreeClassifier(numeric, prefit=True, cv=None).fit(X, y.astype(float))
    np.testing.assert_array_equal(est.classes_, [0.0, 1.0, 2.0])


def test_teacher_fitted_on_a_dataframe_gets_its_column_names_back(wine):
    # Generated rows are arrays: they reach a teacher fitted on a DataFrame with its column
    # names, so it predicts without scikit-learn's "feature names" warning.
    pd = pytest.importorskip("pandas")
    X, y = wine
    df = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    teacher = RandomForestClassifier(n_estimators=5, random_state=0).fit(df, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in (X, df):
            est = TwiceLearningTreeClassifier(teacher, prefit=True, cv=3, random_state=0)
            est.fit(data, y)
            assert est.fidelity_score(data) == pytest.approx(
                np.mean(est.predict(data) == teacher.predict(df))
            )


def test_cv_scores_an_unfitted_teacher_refitted_without_the_held_out_rows(wine):
    # An unpruned tree as teacher knows its training rows by heart: scored on rows it was
    # fitted on it would be perfect. Its validation score is that of the fold's teacher on
    # the fold's held-out rows, replayed by hand on the documented folds.
    X, y = wine
    teacher = DecisionTreeClassifier(random_state=0)
    est = TwiceLearningTreeClassifier(teacher, max_depth=2, cv=3, random_state=0).fit(X, y)
    teacher_seed = np.random.RandomState(0).randint(_MAX_SEED, size=2)[0]
    val_rng = np.random.RandomState((int(teacher_seed) + 1) % _MAX_SEED)
    folds = StratifiedKFold(3, shuffle=True, random_state=val_rng.randint(_MAX_SEED))
    hits = np.zeros(len(y))
    for train, test in folds.split(X, y):
        hits[test] = clone(teacher).fit(X[train], y[train]).predict(X[test]) == y[test]
    assert est.teacher_cv_score_ == pytest.approx(hits.mean())
    assert est.teacher_cv_score_ < 0.97
    assert est.teacher_.score(X, y) == 1.0


def test_teacher_with_one_output_column_in_validation_and_beside_the_own_labels(
    regression_data,
):
    # The single column is flattened wherever the teacher's predictions are used: in the
    # inner validation (a prefit teacher scores -squared error on every row) and when the
    # rows keep their own labels beside teacher-labelled generated rows.
    X, y = regression_data
    teacher = LinearRegression().fit(X, y[:, None])
    est = TwiceLearningTreeRegressor(teacher, prefit=True, cv=3, random_state=0).fit(X, y)
    residual = y - teacher.predict(X).ravel()
    assert est.teacher_cv_score_ == pytest.approx(-np.mean(residual**2))
    mixed = TwiceLearningTreeRegressor(
        teacher, prefit=True, keep_original_labels=True, extra_ratio=1, cv=None, random_state=0
    ).fit(X, y)
    assert mixed.n_extra_samples_ == len(y)
    assert mixed.predict(X).shape == (len(y),)
    # the unpruned tree reproduces the rows' own labels
    np.testing.assert_allclose(mixed.predict(X), y)


class _WrapperTeacher(RegressorMixin, BaseEstimator):
    """A fitted model without ``n_features_in_`` (as many hand-written wrappers are)."""

    def __init__(self, w=None):
        self.w = w

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.asarray(X) @ self.w

    def __sklearn_is_fitted__(self):
        return True


def test_prefit_teacher_without_n_features_in_is_accepted(regression_data):
    X, y = regression_data
    teacher = _WrapperTeacher(w=np.array([1.0, -1.0, 0.5, 0.0]))
    assert not hasattr(teacher, "n_features_in_")
    est = TwiceLearningTreeRegressor(teacher, prefit=True, cv=None, random_state=0).fit(X, y)
    # the unpruned tree reproduces the teacher on the training rows
    np.testing.assert_allclose(est.predict(X), teacher.predict(X))


def test_predict_checks_features_against_fit_and_leaves_them_unchanged(wine):
    pd = pytest.importorskip("pandas")
    X, y = wine
    df = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    est = TwiceLearningTreeClassifier(_logreg().fit(X, y), prefit=True, cv=None, random_state=0)
    est.fit(df, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the array has no column names
        with pytest.raises(ValueError, match="TwiceLearningTreeClassifier is expecting 13"):
            est.predict(X[:, :3])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(X)
    assert est.n_features_in_ == 13
    np.testing.assert_array_equal(est.feature_names_in_, df.columns)


def test_later_changes_to_the_users_prefit_teacher_do_not_reach_teacher_(wine):
    # teacher_ is a deep copy: editing the user's model in place (its coefficients) after
    # fit leaves the fitted estimator's teacher, and so fidelity_score, as they were.
    X, y = wine
    Xs = StandardScaler().fit_transform(X)
    teacher = LogisticRegression(max_iter=5000).fit(Xs, y)
    est = TwiceLearningTreeClassifier(teacher, prefit=True, cv=None, random_state=0).fit(Xs, y)
    before = est.teacher_.predict(Xs), est.fidelity_score(Xs)
    teacher.coef_ *= -1.0
    teacher.intercept_ *= -1.0
    assert np.mean(teacher.predict(Xs) == before[0]) < 0.5
    np.testing.assert_array_equal(est.teacher_.predict(Xs), before[0])
    assert est.fidelity_score(Xs) == before[1]


# -- cv replayed by hand with unlabeled rows, an unfitted teacher, an unseen class -----------


def _replay_cv(est, X, y, U, teacher_for_fold):
    """Per-row out-of-fold scores of each candidate of ``est.cv_results_`` and of the
    teacher, recomputed the slow way on the documented folds. ``teacher_for_fold(tr)`` is
    the teacher of the fold whose training rows are ``tr``; ``None`` for a prefit one."""
    n, classes = len(y), np.unique(y)
    res = est.cv_results_
    candidates = list(zip(res["keep_original_labels"], res["extra_ratio"], res["sampling"]))
    teacher_seed = np.random.RandomState(est.random_state).randint(_MAX_SEED, size=2)[0]
    val_rng = np.random.RandomState((int(teacher_seed) + 1) % _MAX_SEED)
    counts = np.unique(y, return_counts=True)[1]
    if counts.min() < 2:  # a class of one row: plain folds, not stratified
        folds = KFold(min(est.cv, n), shuffle=True, random_state=val_rng.randint(_MAX_SEED))
    else:
        folds = StratifiedKFold(
            min(est.cv, counts.min()), shuffle=True, random_state=val_rng.randint(_MAX_SEED)
        )

    def row_scores(pred, truth, known):
        # a held-out row of a class the model never learned counts as a guess among all
        return [1 / len(classes) if t not in known else float(p == t) for p, t in zip(pred, truth)]

    scores, teacher_scores = np.zeros((len(candidates), n)), np.zeros(n)
    for tr, te in folds.split(X, y):
        fold_teacher = teacher_for_fold(tr)
        teacher = est.teacher if fold_teacher is None else fold_teacher
        known = classes if fold_teacher is None else set(y[tr])
        teacher_scores[te] = row_scores(teacher.predict(X[te]), y[te], known)
        seed = val_rng.randint(_MAX_SEED)
        for c, (keep, ratio, kind) in enumerate(candidates):
            n_extra = int(round(ratio * len(tr)))
            X_gen = _sample_like(np.vstack([X[tr], U]), n_extra, kind, np.random.RandomState(seed))
            # Every tree but the plain one (own labels, nothing generated) also learns the
            # unlabeled rows, labelled by the teacher.
            X_extra = X_gen if keep and n_extra == 0 else np.vstack([U, X_gen])
            y_rows = y[tr] if keep else teacher.predict(X[tr])
            y_extra = teacher.predict(X_extra) if len(X_extra) else y[:0]
            tree = DecisionTreeClassifier(
                criterion=est.criterion, max_depth=est.max_depth, random_state=est.random_state
            ).fit(np.vstack([X[tr], X_extra]), np.r_[y_rows, y_extra])
            scores[c, te] = row_scores(tree.predict(X[te]), y[te], set(tree.classes_))
    return scores, teacher_scores


def test_cv_with_unlabeled_rows_matches_a_replay_where_only_the_plain_tree_ignores_them(wine):
    # A teacher fitted on the other half of wine; 30 labelled rows and 60 unlabeled ones.
    # Every candidate but the plain tree learns the unlabeled rows with the teacher's
    # labels, and draws its generated rows around the labelled and the unlabeled rows.
    X, y = wine
    X = StandardScaler().fit_transform(X)
    rows = np.random.RandomState(0).permutation(len(y))
    labelled, unlabeled = rows[:30], rows[30:90]
    teacher = _logreg().fit(X[rows[90:]], y[rows[90:]])
    U = X[unlabeled]
    est = TwiceLearningTreeClassifier(
        teacher, prefit=True, unlabeled=U, extra_ratio=0.5, max_depth=2, cv=3, random_state=1
    ).fit(X[labelled], y[labelled])
    scores, teacher_scores = _replay_cv(est, X[labelled], y[labelled], U, lambda tr: None)
    np.testing.assert_allclose(est.cv_results_["score"], scores.mean(axis=1))
    assert est.teacher_cv_score_ == pytest.approx(teacher_scores.mean())
    # The replay is not blind to the unlabeled rows: without them, the scores change.
    blind, _ = _replay_cv(est, X[labelled], y[labelled], U[:0], lambda tr: None)
    assert not np.allclose(blind.mean(axis=1), scores.mean(axis=1))


def test_cv_with_an_unfitted_teacher_matches_a_replay_with_each_folds_teacher(wine):
    # An unfitted teacher is refitted on each training fold; the candidates' labels come
    # from that fold's teacher (not from the teacher fitted on all rows). One class has a
    # single row: plain folds, and where that row is held out, neither the fold's teacher
    # nor a tree knows its class, which counts as a guess among the 3 classes.
    X, y = wine
    X = StandardScaler().fit_transform(X)
    rows = np.r_[
        np.flatnonzero(y == 0)[:20], np.flatnonzero(y == 1)[:20], np.flatnonzero(y == 2)[:1]
    ]
    X, y = X[rows], y[rows]
    teacher = _logreg()
    est = TwiceLearningTreeClassifier(teacher, max_depth=2, cv=4, random_state=2).fit(X, y)
    scores, teacher_scores = _replay_cv(
        est, X, y, X[:0], lambda tr: clone(teacher).fit(X[tr], y[tr])
    )
    np.testing.assert_allclose(est.cv_results_["score"], scores.mean(axis=1))
    assert est.teacher_cv_score_ == pytest.approx(teacher_scores.mean())
    # the held-out single row of class 2 is credited 1/3, not its (wrong) prediction
    single = np.flatnonzero(y == 2)[0]
    assert teacher_scores[single] == pytest.approx(1 / 3)
    # The fold's teacher is not the teacher fitted on all rows: that one labels otherwise.
    full, _ = _replay_cv(est, X, y, X[:0], lambda tr: est.teacher_)
    assert not np.allclose(full.mean(axis=1), scores.mean(axis=1))


def test_a_random_state_makes_validation_with_random_teachers_reproducible(wine):
    # A teacher left unseeded (random_state=None) gets a seed drawn from random_state: each
    # fold's teacher, hence every validation score, is the same from one fit to the next.
    X, y = wine
    kw = dict(teacher=RandomForestClassifier(n_estimators=2), max_depth=2, cv=3, random_state=5)
    a = TwiceLearningTreeClassifier(**kw).fit(X, y)
    b = TwiceLearningTreeClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.cv_results_["score"], b.cv_results_["score"])
    assert a.teacher_cv_score_ == b.teacher_cv_score_
    # The same for the default teacher (bagged networks): the same fitted teacher.
    rng = np.random.RandomState(0)
    Xs = rng.normal(size=(40, 2))
    ys = (Xs[:, 0] + Xs[:, 1] > 0).astype(int)
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(2):
            est = TwiceLearningTreeClassifier(extra_ratio=0.5, cv=None, random_state=3)
            fits.append(est.fit(Xs, ys).teacher_.predict_proba(Xs))
    np.testing.assert_array_equal(fits[0], fits[1])


def test_feature_count_error_names_the_prefit_teachers_class(wine):
    X, y = wine
    teacher = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    msg = r"X has 5 features, but the prefit teacher \(RandomForestClassifier\) expects 13 features"
    with pytest.raises(ValueError, match=msg):
        TwiceLearningTreeClassifier(teacher, prefit=True, cv=None).fit(X[:, :5], y)


def test_numeric_labels_of_dtype_object_are_refused_as_scikit_learns_tree_refuses_them(wine):
    # Numbers stored as dtype object are of type "unknown" to scikit-learn: its own tree
    # (and any classifier) refuses them with the same message, before the teacher's labels
    # are compared with them; strings of dtype object are accepted (see above).
    X, y = wine
    teacher = _logreg().fit(X, y)
    labels = y.astype(object)
    with pytest.raises(ValueError, match="Unknown label type") as ours:
        TwiceLearningTreeClassifier(teacher, prefit=True, cv=None).fit(X, labels)
    with pytest.raises(ValueError, match="Unknown label type") as sklearns:
        DecisionTreeClassifier().fit(X, labels)
    assert str(ours.value) == str(sklearns.value)


def test_a_teacher_with_several_outputs_is_refused(regression_data):
    # Its predictions would silently become a tree with several outputs, predicting an
    # array of shape (n_samples, 2) for a 1-D y (or fail in numpy's words).
    from sklearn.multioutput import MultiOutputClassifier

    X, y = regression_data
    teacher = LinearRegression().fit(X, np.c_[y, -y])
    msg = r"The teacher \(LinearRegression\) predicts arrays of shape \(n_samples, 2\)"
    for kw in (dict(cv=None), dict(cv=3), dict(cv=None, keep_original_labels=True, extra_ratio=1)):
        with pytest.raises(ValueError, match=msg):
            TwiceLearningTreeRegressor(teacher, prefit=True, random_state=0, **kw).fit(X, y)
    labels = (y > 0).astype(int)
    teacher = MultiOutputClassifier(LogisticRegression()).fit(X, np.c_[labels, 1 - labels])
    with pytest.raises(ValueError, match=r"\(MultiOutputClassifier\) predicts arrays of shape"):
        TwiceLearningTreeClassifier(teacher, prefit=True, cv=3, random_state=0).fit(X, labels)
    # One output, as a single column, is still flattened.
    one = LinearRegression().fit(X, y[:, None])
    est = TwiceLearningTreeRegressor(one, prefit=True, cv=None, random_state=0).fit(X, y)
    assert est.predict(X).shape == (len(y),)


@pytest.mark.parametrize("scale", [1e-9, 2.0**-600, 1e-300, 2.0**600, 1e300])
def test_regressor_is_equivariant_to_the_units_of_y(regression_data, scale):
    # scikit-learn's regression tree makes a leaf of a node of variance below 2.2e-16
    # (targets in units of 1e-8 gave a few leaves, 1e-9 one) and its sums of squares
    # overflow beyond 1e154; the validation's squared errors overflowed too (the plain
    # tree was then always chosen and fidelity_ was NaN). y is learned divided by a power
    # of two, which gives the same tree as y itself.
    X, y = regression_data

    def fit(y):
        teacher = LinearRegression().fit(X, y)
        return TwiceLearningTreeRegressor(teacher, prefit=True, max_depth=3, random_state=0).fit(
            X, y
        )

    ref, est = fit(y), fit(y * scale)
    assert ref.tree_.tree_.node_count == 15
    for name in ("feature", "threshold", "children_left", "children_right"):
        np.testing.assert_array_equal(
            getattr(est.tree_.tree_, name), getattr(ref.tree_.tree_, name)
        )
    np.testing.assert_allclose(est.predict(X) / scale, ref.predict(X), rtol=1e-9)
    np.testing.assert_allclose(est.tree_.predict(X) / scale, ref.tree_.predict(X), rtol=1e-9)
    assert est.fidelity_ == pytest.approx(ref.fidelity_, rel=1e-9)
    # fidelity_score compares the teacher and the tree in y's units (R^2, unit-free)
    assert est.fidelity_score(X) == pytest.approx(ref.fidelity_score(X), rel=1e-9)
    for key in ("keep_original_labels", "extra_ratio", "chosen"):
        np.testing.assert_array_equal(est.cv_results_[key], ref.cv_results_[key])
    mantissa, exponent = np.frexp(scale)
    if mantissa == 0.5:
        # A power of two: the squared errors and impurities are those of y times
        # scale**2 exactly (saturating at 0 or infinity like float arithmetic).
        with np.errstate(over="ignore", under="ignore"):
            twice = 2 * (int(exponent) - 1)
            np.testing.assert_array_equal(
                est.tree_.tree_.impurity, np.ldexp(ref.tree_.tree_.impurity, twice)
            )
            np.testing.assert_array_equal(
                est.cv_results_["score"], np.ldexp(ref.cv_results_["score"], twice)
            )
            assert est.teacher_cv_score_ == np.ldexp(ref.teacher_cv_score_, twice)


def test_regressor_default_teacher_takes_targets_of_any_units(regression_data):
    # Its target scaler's variance overflowed beyond about 1e154 ("Input y contains NaN"
    # from the networks) and underflowed below about 1e-154 (networks that learned
    # nothing: the plain tree was chosen and fidelity_ was NaN).
    X, y = regression_data
    X, y = X[:60], y[:60]
    kwargs = {"max_depth": 2, "extra_ratio": 0.5, "cv": 2, "random_state": 0}
    ref = TwiceLearningTreeRegressor(**kwargs).fit(X, y)
    for scale in (2.0**-600, 2.0**600):
        est = TwiceLearningTreeRegressor(**kwargs).fit(X, y * scale)
        np.testing.assert_allclose(est.predict(X) / scale, ref.predict(X), rtol=1e-6)
        assert est.fidelity_ == pytest.approx(ref.fidelity_, rel=1e-6)
        np.testing.assert_allclose(
            est.teacher_.predict(X) / scale, ref.teacher_.predict(X), rtol=1e-6
        )


def test_regressor_poisson_with_a_teacher_predicting_negative_values_says_so():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0]))
    teacher = LinearRegression().fit(X, y - 1.0)  # predicts below zero on some rows
    est = TwiceLearningTreeRegressor(teacher, prefit=True, criterion="poisson", random_state=0)
    with pytest.raises(ValueError, match=r"criterion='poisson' needs non-negative.*LinearReg"):
        est.fit(X, y)


@pytest.mark.parametrize("criterion", ["absolute_error", "squared_error"])
def test_regressor_pruning_strength_and_impurity_follow_the_units_of_y(regression_data, criterion):
    # ccp_alpha is in units of the impurity: y (absolute error) or y squared (squared
    # errors). With y times 2**40 and ccp_alpha times the same power, the same pruned tree.
    X, y = regression_data
    power = 1 if criterion == "absolute_error" else 2

    def fit(y, ccp_alpha):
        teacher = LinearRegression().fit(X, y)
        return TwiceLearningTreeRegressor(
            teacher, prefit=True, criterion=criterion, ccp_alpha=ccp_alpha, random_state=0
        ).fit(X, y)

    ref = fit(y, 0.01)
    est = fit(y * 2.0**40, 0.01 * 2.0 ** (40 * power))
    assert 3 < ref.tree_.tree_.node_count < 200  # pruned, not to the root
    np.testing.assert_array_equal(est.tree_.tree_.threshold, ref.tree_.tree_.threshold)
    np.testing.assert_array_equal(
        est.tree_.tree_.impurity, np.ldexp(ref.tree_.tree_.impurity, 40 * power)
    )
    np.testing.assert_array_equal(est.predict(X), np.ldexp(ref.predict(X), 40))


def test_regressor_fidelity_score_is_the_r2_of_tree_against_teacher_in_y_units():
    # Targets of spread about 77 (diabetes): the trees learn y / 64, the teacher predicts
    # in y's units; fidelity_score compared the two (an R^2 far below 0) until stop 40.
    from sklearn.metrics import r2_score

    X, y = load_diabetes(return_X_y=True)
    teacher = RidgeCV().fit(X, y)
    est = TwiceLearningTreeRegressor(teacher, prefit=True, max_leaf_nodes=16, random_state=0)
    est.fit(X, y)
    assert est.fidelity_score(X) == pytest.approx(r2_score(teacher.predict(X), est.predict(X)))
    assert est.fidelity_score(X) > 0.8
