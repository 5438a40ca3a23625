"""Tests for HMRCalibrator (Wu, Liu & Zhou, ICML 2019) and CalibrationHistoryDisplay."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from skreuse.datasets import make_hmr_toy
from skreuse.multiparty import HMRCalibrator
from skreuse.multiparty._hmr import _mpmc_margin
from skreuse.plotting import CalibrationHistoryDisplay


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # Hundreds of fits on tiny data: BLAS threads only add overhead (tenfold on a busy machine).
    with threadpool_limits(limits=1):
        yield


def _iris_two_parties():
    """Iris: party "a" owns classes 0 and part of 1, party "b" the rest of 1 and 2."""
    X, y = load_iris(return_X_y=True)
    groups = np.where(y == 0, "a", np.where(y == 2, "b", np.where(X[:, 0] > 5.9, "a", "b")))
    return X, y, groups


def _three_party_blobs(seed=0):
    """Three parties with overlapping class subsets {0,1,2}, {2,3}, {3,4,0}."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=2.0, size=(5, 4))
    y = np.repeat(np.arange(5), 40)
    X = centers[y] + rng.normal(scale=1.5, size=(y.size, 4))
    party_classes = [{0, 1, 2}, {2, 3}, {3, 4, 0}]
    groups = np.array([rng.choice([k for k, c in enumerate(party_classes) if v in c]) for v in y])
    return X, y, groups


def _lr_parties(n=3):
    return [(f"p{k}", LogisticRegression()) for k in range(n)]


# -- the margin ------------------------------------------------------------------------------


def test_margin_kernel_matches_brute_force():
    rng = np.random.RandomState(0)
    n_parties, n_samples, n_classes = 3, 40, 5
    scores = rng.uniform(size=(n_parties, n_samples, n_classes))
    claims = rng.uniform(size=(n_parties, n_classes)) < 0.6
    claims[0] = True  # every class known by some party
    scores = np.where(claims[:, None, :], scores, -np.inf)
    y = rng.randint(n_classes, size=n_samples)
    rho, i_pos, i_neg, c_neg = _mpmc_margin(scores, y)
    for r in range(n_samples):
        best_pos, arg_pos = -np.inf, None
        best_neg, arg_neg = -np.inf, None
        for i in range(n_parties):
            for c in range(n_classes):
                if not claims[i, c]:
                    continue
                if c == y[r] and scores[i, r, c] > best_pos:
                    best_pos, arg_pos = scores[i, r, c], i
                if c != y[r] and scores[i, r, c] > best_neg:
                    best_neg, arg_neg = scores[i, r, c], (i, c)
        assert rho[r] == pytest.approx(best_pos - best_neg)
        assert i_pos[r] == arg_pos
        assert (i_neg[r], c_neg[r]) == arg_neg


def test_margin_method_matches_brute_force_over_fitted_parties():
    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties(), budget=5, random_state=0).fit(X, y, groups=groups)
    expected = []
    for x, label in zip(X, y):
        pos, neg = -np.inf, -np.inf
        for model, known in zip(hmr.estimators_, hmr.party_classes_):
            proba = model.predict_proba(x[None])[0]
            for c, p in zip(model.classes_, proba):
                if c not in known:
                    continue  # a reserved output has no vote
                if c == label:
                    pos = max(pos, p)
                else:
                    neg = max(neg, p)
        expected.append(pos - neg)
    np.testing.assert_allclose(hmr.margin(X, y), expected)
    # the global rule is right exactly where the margin is positive (no ties here)
    np.testing.assert_array_equal(hmr.margin(X, y) > 0, hmr.predict(X) == y)


# -- the calibration loop --------------------------------------------------------------------


def test_party_learns_unknown_class_as_reserved_output():
    X, y, groups = _iris_two_parties()
    parties = [("a", LogisticRegression()), ("b", DecisionTreeClassifier(random_state=0))]
    hmr = HMRCalibrator(parties, budget=10, random_state=0).fit(X, y, groups=groups)
    assert [c.tolist() for c in hmr.party_classes_] == [[0, 1], [1, 2]]
    # party "b" received class-0 rows: its model grew an output for class 0 ...
    assert hmr.reserved_classes_[1].tolist() == [0]
    assert hmr.estimators_[1].classes_.tolist() == [0, 1, 2]
    # ... whose column is dropped: the global scores are the max rule over voting columns
    pa = hmr.estimators_[0].predict_proba(X)  # classes 0, 1
    pb = hmr.estimators_[1].predict_proba(X)[:, 1:]  # classes 1, 2 (0 dropped)
    scores = np.full((len(X), 3), -np.inf)
    scores[:, :2] = pa
    scores[:, 1:] = np.maximum(scores[:, 1:], pb)
    np.testing.assert_allclose(hmr.predict_proba(X), scores / scores.sum(1, keepdims=True))
    np.testing.assert_array_equal(hmr.predict(X), scores.argmax(1))


@pytest.mark.parametrize("budget", [0, 1, 4, 9])
def test_budget_respected_exactly(budget):
    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties(), budget=budget, random_state=0).fit(X, y, groups=groups)
    assert hmr.n_communicated_ == budget
    assert hmr.history_n_communicated_[-1] == budget
    assert len(hmr.history_) == len(hmr.history_n_communicated_) == hmr.n_iter_ + 1
    # counts grow by at most one row per round
    assert set(np.diff(hmr.history_n_communicated_)) <= {0, 1}
    # rows received: the budget's rows plus rows kept local (i⁺ = i⁻ = owner)
    assert sum(len(r) for r in hmr._received) >= hmr.n_communicated_
    if budget == 0:
        for model, (_, template), k in zip(hmr.estimators_, _lr_parties(), range(3)):
            local = template.fit(X[groups == k], y[groups == k])
            np.testing.assert_allclose(model.coef_, local.coef_)


def test_stops_when_no_row_has_a_non_positive_margin():
    X, y, groups = _iris_two_parties()
    parties = [("a", DecisionTreeClassifier(random_state=0)), ("b", GaussianNB())]
    hmr = HMRCalibrator(parties, budget=500, random_state=0).fit(X, y, groups=groups)
    assert hmr.n_communicated_ < 500
    assert np.all(hmr.margin(X, y) > 0)
    assert hmr.history_[-1] == 1.0


def test_max_iter_bounds_local_rounds():
    X, y, _ = _three_party_blobs()
    hmr = HMRCalibrator([("only", LogisticRegression(C=0.01))], max_iter=3, random_state=0)
    hmr.fit(X, y)  # one party owns every row: groups may be left out
    assert hmr.n_iter_ == 3
    assert hmr.n_communicated_ == 0
    assert len(hmr._received[0]) == 3


def test_same_seed_same_result_and_warm_start_continues():
    X, y, groups = _three_party_blobs()
    a = HMRCalibrator(_lr_parties(), budget=8, random_state=3).fit(X, y, groups=groups)
    b = HMRCalibrator(_lr_parties(), budget=8, random_state=3).fit(X, y, groups=groups)
    np.testing.assert_array_equal(a.history_, b.history_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    warm = HMRCalibrator(_lr_parties(), budget=3, random_state=3, warm_start=True)
    warm.fit(X, y, groups=groups)
    warm.set_params(budget=8).fit(X, y, groups=groups)
    np.testing.assert_array_equal(warm.history_, a.history_)
    np.testing.assert_allclose(warm.predict_proba(X), a.predict_proba(X))
    with pytest.raises(ValueError, match="budget=2 must be at least n_communicated_=8"):
        warm.set_params(budget=2).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="same X, y and groups"):
        warm.set_params(budget=9).fit(X[:-1], y[:-1], groups=groups[:-1])


def test_groups_by_name_or_position_and_string_labels():
    X, y, groups = _iris_two_parties()
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    parties = [("a", LogisticRegression()), ("b", LogisticRegression())]
    by_name = HMRCalibrator(parties, budget=6, random_state=0).fit(X, labels, groups=groups)
    by_pos = HMRCalibrator(parties, budget=6, random_state=0).fit(
        X, labels, groups=(groups == "b").astype(int)
    )
    assert by_name.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(by_name.predict(X), by_pos.predict(X))
    assert set(by_name.predict(X)) <= set(labels)


def test_partial_fit_update_adds_the_row_to_the_running_statistics():
    X, y, groups = _three_party_blobs()
    parties = [(f"nb{k}", GaussianNB()) for k in range(3)]
    hmr = HMRCalibrator(parties, budget=6, update="partial_fit", random_state=0)
    hmr.fit(X, y, groups=groups)
    for k, model in enumerate(hmr.estimators_):
        rows = np.concatenate([hmr._own[k], hmr._received[k]]).astype(int)
        # a class new to the party triggers a refit; known classes get exact running counts
        counts = [np.sum(y[rows] == c) for c in model.classes_]
        np.testing.assert_array_equal(model.class_count_, counts)
        for j, c in enumerate(model.classes_):
            np.testing.assert_allclose(model.theta_[j], X[rows][y[rows] == c].mean(0))


def test_decision_function_response_method():
    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties(), budget=3, response_method="decision_function")
    hmr.fit(X, y, groups=groups)
    assert not hasattr(hmr, "predict_proba")
    expected = np.full((len(X), 5), -np.inf)
    for model, known in zip(hmr.estimators_, hmr.party_classes_):
        d = model.decision_function(X)
        d = np.column_stack([-d, d]) if d.ndim == 1 else d
        cols = np.isin(model.classes_, known)
        expected[:, model.classes_[cols]] = np.maximum(
            expected[:, model.classes_[cols]], d[:, cols]
        )
    np.testing.assert_allclose(hmr.decision_function(X), expected)
    np.testing.assert_array_equal(hmr.predict(X), expected.argmax(1))


def test_prefit_models_are_copied_not_modified():
    X, y, groups = _three_party_blobs()
    fitted = [(f"p{k}", LogisticRegression().fit(X[groups == k], y[groups == k])) for k in range(3)]
    before = [pickle.dumps(m) for _, m in fitted]
    hmr = HMRCalibrator(fitted, budget=5, prefit=True, random_state=0).fit(X, y, groups=groups)
    assert [pickle.dumps(m) for _, m in fitted] == before
    assert all(a is not m for a, (_, m) in zip(hmr.estimators_, fitted))
    trained = HMRCalibrator(_lr_parties(), budget=5, random_state=0).fit(X, y, groups=groups)
    np.testing.assert_allclose(hmr.predict_proba(X), trained.predict_proba(X))


def test_pipeline_routes_groups():
    X, y, groups = _three_party_blobs()
    with sklearn.config_context(enable_metadata_routing=True):
        hmr = HMRCalibrator(_lr_parties(), budget=4, random_state=0).set_fit_request(groups=True)
        pipe = make_pipeline(StandardScaler(), hmr).fit(X, y, groups=groups)
    X_scaled = StandardScaler().fit_transform(X)
    direct = HMRCalibrator(_lr_parties(), budget=4, random_state=0).fit(X_scaled, y, groups=groups)
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(X_scaled))
    np.testing.assert_array_equal(pipe[-1].history_, direct.history_)


# -- bad input -------------------------------------------------------------------------------


def test_bad_input():
    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties())
    with pytest.raises(ValueError, match="groups is required with 3 parties"):
        hmr.fit(X, y)
    with pytest.raises(ValueError, match="groups has 199 entries but X has 200 rows"):
        hmr.fit(X, y, groups=groups[:-1])
    with pytest.raises(ValueError, match=r"Parties \['p2'\] have no rows"):
        hmr.fit(X, y, groups=np.where(groups == 2, 0, groups))
    with pytest.raises(ValueError, match=r"groups holds unknown parties \['zz'\]"):
        hmr.fit(X, y, groups=np.where(groups == 0, "zz", "p1"))
    with pytest.raises(ValueError, match=r"groups holds unknown parties \[7\]"):
        hmr.fit(X, y, groups=np.where(groups == 0, 7, groups))
    with pytest.raises(TypeError, match=r"estimators\[1\] \('bad'\) must be a scikit-learn"):
        HMRCalibrator([("a", LogisticRegression()), ("bad", LinearRegression())]).fit(
            X, y, groups=groups % 2
        )
    with pytest.raises(TypeError, match="has no decision_function"):
        HMRCalibrator(
            [("a", GaussianNB()), ("b", GaussianNB())], response_method="decision_function"
        ).fit(X, y, groups=groups % 2)
    with pytest.raises(NotFittedError, match="'p0' .* is not fitted"):
        HMRCalibrator(_lr_parties(), prefit=True).fit(X, y, groups=groups)
    fitted = [("a", LogisticRegression().fit(X[y < 2], y[y < 2]))]
    with pytest.raises(ValueError, match=r"knows the classes \[2, 3, 4\]|classes \[2, 3, 4\]"):
        HMRCalibrator(fitted, prefit=True).fit(X, y)
    fit = HMRCalibrator(_lr_parties(), budget=1).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match=r"y holds classes \[9\] not in classes_"):
        fit.margin(X[:2], [0, 9])


# -- the paper's toy example -----------------------------------------------------------------


def test_toy_example_reaches_high_accuracy_with_few_rows():
    task = make_hmr_toy(random_state=0)
    X_train, y_train, groups = task.X_train, task.y_train, task.groups
    X_test, y_test = task.X_test, task.y_test
    # logistic regression on {0, 1}, an RBF-kernel machine on {2, 3}, boosting on {3, 4}
    parties = task.parties
    dict(parties)["gradient boosting"].set_params(n_estimators=50)  # fewer trees: faster
    hmr = HMRCalibrator(parties, budget=30, random_state=0, n_jobs=1)
    local = HMRCalibrator(parties, budget=0).fit(X_train, y_train, groups=groups)
    hmr.fit(X_train, y_train, groups=groups)
    assert local.score(X_test, y_test) < 0.5  # uncalibrated max rule: about 0.3-0.4
    assert hmr.n_communicated_ <= 30
    assert hmr.score(X_test, y_test) >= 0.98
    assert hmr.history_[-1] >= 0.99


# -- display ---------------------------------------------------------------------------------


def test_calibration_history_display():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties(), budget=5, random_state=0).fit(X, y, groups=groups)
    display = CalibrationHistoryDisplay.from_estimator(hmr, name="HMR", color="k")
    np.testing.assert_array_equal(display.line_.get_xdata(), hmr.history_n_communicated_)
    np.testing.assert_array_equal(display.line_.get_ydata(), hmr.history_)
    assert display.ax_.get_xlabel() == "Communicated rows"
    assert display.ax_.get_legend().get_texts()[0].get_text() == "HMR"
    _, ax = plt.subplots()
    assert CalibrationHistoryDisplay([0.5, 1.0]).plot(ax=ax).ax_ is ax
    with pytest.raises(ValueError, match="n_communicated has shape"):
        CalibrationHistoryDisplay([0.5, 1.0], [0, 1, 2]).plot()
    with pytest.raises(NotFittedError):
        CalibrationHistoryDisplay.from_estimator(HMRCalibrator(_lr_parties()))
    plt.close("all")


def test_n_jobs_gives_the_same_calibration():
    joblib = pytest.importorskip("joblib")
    X, y, groups = _three_party_blobs()
    serial = HMRCalibrator(_lr_parties(), budget=4, random_state=0).fit(X, y, groups=groups)
    with joblib.parallel_backend("threading", n_jobs=2):
        threaded = HMRCalibrator(_lr_parties(), budget=4, random_state=0, n_jobs=2)
        threaded.fit(X, y, groups=groups)
    np.testing.assert_array_equal(serial.history_, threaded.history_)
    np.testing.assert_allclose(serial.predict_proba(X), threaded.predict_proba(X))


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


def test_rows_with_a_zero_margin_are_calibrated():
    # Two parties whose prior-only models give every claimed class probability 1/2: every
    # row's margin is exactly 0 (a tie the global argmax may break the wrong way), so
    # every row is a candidate and calibration must run, not stop at once.
    from sklearn.dummy import DummyClassifier

    y = np.repeat([0, 1, 1, 2], 10)
    X = np.arange(y.size, dtype=float)[:, None]
    groups = np.where(y == 0, 0, np.where(y == 2, 1, np.arange(y.size) % 2))
    parties = [("a", DummyClassifier()), ("b", DummyClassifier())]
    still = HMRCalibrator(parties, budget=0, random_state=0).fit(X, y, groups=groups)
    np.testing.assert_array_equal(still.margin(X, y), 0.0)
    hmr = HMRCalibrator(parties, budget=3, random_state=0).fit(X, y, groups=groups)
    assert hmr.n_iter_ >= 1
    assert hmr.n_communicated_ >= 1
    assert len(hmr.history_) == hmr.n_iter_ + 1


@pytest.mark.parametrize("budget", [3, 8])
def test_budget_counts_rounds_where_a_row_leaves_its_owner(budget):
    # With two parties each round sends the row to at most one other party, so the rows
    # a party received but does not own are exactly the communicated rows: a round where
    # one receiver is the owner and the other is not must be charged to the budget.
    X, y, groups = _iris_two_parties()
    parties = [("a", LogisticRegression(C=0.05)), ("b", GaussianNB())]
    hmr = HMRCalibrator(parties, budget=budget, random_state=0).fit(X, y, groups=groups)
    owner = np.where(groups == "a", 0, 1)
    foreign = sum(int(np.sum(owner[received] != k)) for k, received in enumerate(hmr._received))
    assert hmr.n_communicated_ == foreign == budget
