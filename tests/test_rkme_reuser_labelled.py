"""RKMEReuser's labelled methods: feature augmentation and ensemble pruning."""

import itertools

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeCV
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreuse.specification import RKMEReuser, RKMESpecification


def _zoo(task, seed=0):
    """Three models on shifted source tasks: two useful, one with flipped labels."""
    rng = np.random.RandomState(seed)
    zoo = []
    for name, shift, flip in (("a", -1.0, False), ("b", 1.0, False), ("bad", 0.0, True)):
        X = rng.normal(size=(150, 3)) + shift
        if task == "classification":
            y = (X[:, 0] + X[:, 1] > 2 * shift).astype(int)
            model = GaussianNB().fit(X, 1 - y if flip else y)
        else:
            y = X @ [1.0, -1.0, 0.5]
            model = LinearRegression().fit(X, -y if flip else y)
        spec = RKMESpecification(10, random_state=0).fit(X)
        zoo.append((name, model, spec))
    return zoo


def _user(task, seed=1, n=80):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    if task == "classification":
        return X, np.where(X[:, 0] + X[:, 1] > 0, "pos", "neg")
    return X, X @ [1.0, -1.0, 0.5] + 0.3 * X[:, 2]


def test_feature_augment_classification_is_a_logistic_model_on_augmented_features():
    zoo = _zoo("classification")
    X, y = _user("classification")
    y01 = (y == "pos").astype(int)
    reuser = RKMEReuser(zoo, method="feature_augment").fit(X, y01)
    np.testing.assert_array_equal(reuser.classes_, [0, 1])
    augmented = np.hstack([X] + [m.predict_proba(X) for _, m, _ in zoo])
    expected = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    expected.fit(augmented, y01)
    X_new = np.random.RandomState(5).normal(size=(30, 3))
    aug_new = np.hstack([X_new] + [m.predict_proba(X_new) for _, m, _ in zoo])
    np.testing.assert_allclose(reuser.predict_proba(X_new), expected.predict_proba(aug_new))
    np.testing.assert_array_equal(reuser.predict(X_new), expected.predict(aug_new))


def test_feature_augment_regression_is_a_ridge_on_augmented_features():
    zoo = _zoo("regression")
    X, y = _user("regression")
    reuser = RKMEReuser(zoo, method="feature_augment").fit(X, y)
    augmented = np.hstack([X] + [m.predict(X)[:, None] for _, m, _ in zoo])
    expected = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    np.testing.assert_allclose(reuser.predict(X), expected.fit(augmented, y).predict(augmented))
    assert reuser.score(X, y) > 0.95


def _slow_greedy(outputs, score):
    """Forward selection written plainly: the subset is grown one model at a time."""
    selected, best = [], -np.inf
    while True:
        trials = {
            j: score(np.mean([outputs[i] for i in selected + [j]], axis=0))
            for j in range(len(outputs))
            if j not in selected
        }
        if not trials:
            return selected, best
        j = max(trials, key=lambda j: (trials[j], -j))
        if trials[j] <= best:
            return selected, best
        selected.append(j)
        best = trials[j]


@pytest.mark.parametrize("seed", range(3))
def test_ensemble_pruning_classification_matches_plain_greedy_and_drops_the_bad_model(seed):
    zoo = _zoo("classification", seed)
    X, y = _user("classification", seed + 10)
    y01 = (y == "pos").astype(int)
    reuser = RKMEReuser(zoo, method="ensemble_pruning").fit(X, y01)
    outputs = [m.predict_proba(X) for _, m, _ in zoo]
    selected, best = _slow_greedy(outputs, lambda p: np.mean(np.argmax(p, axis=1) == y01))
    assert reuser.selected_models_ == [zoo[j][0] for j in selected]
    assert reuser.ensemble_score_ == pytest.approx(best)
    assert "bad" not in reuser.selected_models_
    mean = np.mean([outputs[j] for j in selected], axis=0)
    np.testing.assert_allclose(reuser.predict_proba(X), mean)
    assert reuser.score(X, y01) == pytest.approx(best)


def test_ensemble_pruning_regression_matches_plain_greedy():
    zoo = _zoo("regression")
    X, y = _user("regression")
    reuser = RKMEReuser(zoo, method="ensemble_pruning").fit(X, y)
    outputs = [m.predict(X) for _, m, _ in zoo]
    selected, best = _slow_greedy(outputs, lambda p: -np.mean((p - y) ** 2))
    assert reuser.selected_models_ == [zoo[j][0] for j in selected]
    assert reuser.ensemble_score_ == pytest.approx(best)
    np.testing.assert_allclose(reuser.predict(X), np.mean([outputs[j] for j in selected], 0))


def test_labels_beyond_the_models_classes():
    zoo = _zoo("classification")
    X, y = _user("classification")
    # The models know 0/1; the user has three classes, one new.
    y3 = np.where(X[:, 2] > 1, 2, (y == "pos").astype(int))
    reuser = RKMEReuser(zoo, method="feature_augment").fit(X, y3)
    np.testing.assert_array_equal(reuser.classes_, [0, 1, 2])
    assert reuser.predict_proba(X).shape == (len(X), 3)
    assert reuser.score(X, y3) > 0.8
    with pytest.raises(ValueError, match="cannot be matched"):
        RKMEReuser(zoo, method="feature_augment").fit(X, y)


@pytest.mark.parametrize("method", ["feature_augment", "ensemble_pruning"])
def test_labelled_methods_need_y_and_leave_the_models_alone(method):
    import pickle

    zoo = _zoo("classification")
    X, y = _user("classification")
    y01 = (y == "pos").astype(int)
    with pytest.raises(ValueError, match="needs y"):
        RKMEReuser(zoo, method=method).fit(X)
    before = [pickle.dumps(m) for _, m, _ in zoo]
    reuser = RKMEReuser(zoo, method=method).fit(X, y01)
    assert [pickle.dumps(m) for _, m, _ in zoo] == before
    # Clones share the models (the list itself is copied).
    assert all(a[1] is b[1] for a, b in zip(clone(reuser).models, zoo))
    loaded = pickle.loads(pickle.dumps(reuser))
    np.testing.assert_array_equal(loaded.predict_proba(X), reuser.predict_proba(X))


def test_feature_augment_beats_unlabelled_reuse_when_the_user_task_differs():
    zoo = _zoo("classification")
    rng = np.random.RandomState(3)
    X = rng.normal(size=(300, 3))
    # The user's boundary is the models' one moved: labels are needed to see it.
    y = (X[:, 0] + X[:, 1] > 1.0).astype(int)
    fit, test = slice(0, 100), slice(100, None)
    labelled = RKMEReuser(zoo, method="feature_augment").fit(X[fit], y[fit])
    unlabelled = RKMEReuser(zoo, method="average").fit(X[fit])
    assert labelled.score(X[test], y[test]) > unlabelled.score(X[test], y[test]) + 0.05


@pytest.mark.parametrize("method", ["feature_augment", "ensemble_pruning"])
def test_gridsearch_over_labelled_methods(method):
    from sklearn.model_selection import GridSearchCV

    zoo = _zoo("classification")
    X, y = _user("classification", n=120)
    y01 = (y == "pos").astype(int)
    search = GridSearchCV(
        RKMEReuser(zoo, method=method),
        {"method": ["feature_augment", "ensemble_pruning"]},
        cv=3,
        scoring="accuracy",
    ).fit(X, y01)
    assert search.best_params_["method"] in ("feature_augment", "ensemble_pruning")
    assert len(list(itertools.chain(search.cv_results_["mean_test_score"]))) == 2


def _offset_zoo(offsets, seed=0):
    """Linear models predicting the user's y = X @ w shifted by a constant each."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -1.0, 0.5]
    spec = RKMESpecification(5, random_state=0).fit(X)
    return [(name, LinearRegression().fit(X, y + c), spec) for name, c in offsets.items()]


def test_ensemble_pruning_regression_grows_sums_and_stops_at_ties():
    X = np.random.RandomState(7).normal(size=(40, 3))
    y = X @ [1.0, -1.0, 0.5]
    # b alone (MSE 1), then a ((b + a) / 2 = y + 0.5), then c ((b + a + c) / 3 = y):
    # three models, each step needs the running sum of every model selected so far
    zoo = _offset_zoo({"a": 2.0, "b": -1.0, "c": -1.0})
    reuser = RKMEReuser(zoo, method="ensemble_pruning").fit(X, y)
    assert reuser.selected_models_ == ["b", "a", "c"]
    assert reuser.ensemble_score_ == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(reuser.predict(X), y, atol=1e-9)
    # an exact model first; its copy does not improve the ensemble: ties keep it smaller
    zoo = _offset_zoo({"exact": 0.0, "copy": 0.0, "off": 1.0})
    assert RKMEReuser(zoo, method="ensemble_pruning").fit(X, y).selected_models_ == ["exact"]
    # a zoo of one model
    one = RKMEReuser(_offset_zoo({"only": 0.5}), method="ensemble_pruning").fit(X, y)
    assert one.selected_models_ == ["only"]
    assert one.ensemble_score_ == pytest.approx(-0.25)


@pytest.mark.parametrize("method", ["feature_augment", "ensemble_pruning"])
def test_labelled_fit_checks_y(method):
    from sklearn.exceptions import DataConversionWarning

    zoo = _zoo("classification")
    X, y = _user("classification")
    y01 = (y == "pos").astype(int)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        RKMEReuser(zoo, method=method).fit(X, y01[:-1])
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = RKMEReuser(zoo, method=method).fit(X, y01[:, None])
    expected = RKMEReuser(zoo, method=method).fit(X, y01)
    np.testing.assert_array_equal(column.predict(X), expected.predict(X))


def test_a_classifier_without_probabilities_adds_its_one_hot_labels():
    from sklearn.linear_model import RidgeClassifier

    zoo = _zoo("classification")
    name, _, spec = zoo[0]
    rng = np.random.RandomState(0)
    X_src = rng.normal(size=(150, 3)) - 1.0
    hard = RidgeClassifier().fit(X_src, (X_src[:, 0] + X_src[:, 1] > -2).astype(int))
    zoo[0] = (name, hard, spec)
    X, y = _user("classification")
    y01 = (y == "pos").astype(int)
    reuser = RKMEReuser(zoo, method="feature_augment").fit(X, y01)
    one_hot = np.eye(2)[hard.predict(X)]
    augmented = np.hstack([X, one_hot] + [m.predict_proba(X) for _, m, _ in zoo[1:]])
    expected = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    np.testing.assert_allclose(
        reuser.predict_proba(X), expected.fit(augmented, y01).predict_proba(augmented)
    )
    # alone in an ensemble, its probabilities are its one-hot labels
    alone = RKMEReuser([zoo[0]], method="ensemble_pruning").fit(X, y01)
    np.testing.assert_array_equal(alone.predict_proba(X), one_hot)


def test_feature_augment_takes_every_output_of_a_multi_output_model():
    """Pinned by mutation testing (issue 20): a model with two outputs adds two columns."""
    zoo = _zoo("regression")
    name, _, spec = zoo[0]
    rng = np.random.RandomState(3)
    X_src = rng.normal(size=(150, 3)) - 1.0
    two = LinearRegression().fit(X_src, np.column_stack([X_src @ [1.0, -1.0, 0.5], X_src[:, 2]]))
    zoo[0] = (name, two, spec)
    X, y = _user("regression")
    reuser = RKMEReuser(zoo, method="feature_augment").fit(X, y)
    augmented = np.hstack(
        [X, two.predict(X), zoo[1][1].predict(X)[:, None], zoo[2][1].predict(X)[:, None]]
    )
    assert augmented.shape[1] == 3 + 2 + 1 + 1
    expected = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    np.testing.assert_allclose(reuser.predict(X), expected.fit(augmented, y).predict(augmented))
