"""Tests for HMRCalibrator (Wu, Liu & Zhou, ICML 2019) and CalibrationHistoryDisplay."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris, load_wine
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
    hmr = HMRCalibrator(parties, budget=500, min_margin=0, random_state=0)
    hmr.fit(X, y, groups=groups)
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


# -- calibration by the margin threshold (issue 13) ------------------------------------------


class _TableClassifier(ClassifierMixin, BaseEstimator):
    """Fixed scores: ``table[c][r]`` is the score of class ``c`` on the row ``x = r``.

    Refitting only updates ``classes_`` (a class learned from received rows only gets
    score 0), so the margins stay what the table says and the rounds can be followed
    by hand.
    """

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        r = np.asarray(X)[:, 0].astype(int)
        zero = np.zeros(4)
        return np.column_stack([np.asarray(self.table.get(c, zero))[r] for c in self.classes_])


def _table_parties(a_on_row2=(0.3, 0.7)):
    """Rows x = 0..3 with classes 0, 1, 2, 1; party "A" owns rows 0-1, "B" rows 2-3.

    A knows classes {0, 1}, B knows {1, 2}. Margins by hand (pos - neg):
    row 0 (y=0): A0 = 0.9 against max(A1 .1, B1 .2, B2 .8) = B2: 0.1, i+ = A, i- = B;
    row 1 (y=1): max(A1 .6, B1 .55) = A1 against max(A0 .4, B2 .45) = B2: 0.15, A, B;
    row 2 (y=2): B2 .75 against max(A0 .3, A1 .7, B1 .25) = A1: 0.05, i+ = B, i- = A;
    row 3 (y=1): max(A1 .9, B1 .95) = B1 against max(A0 .1, B2 .05) = A0: 0.85, B, A.
    """
    a0, a1 = a_on_row2
    table_a = {0: [0.9, 0.4, a0, 0.1], 1: [0.1, 0.6, a1, 0.9]}
    table_b = {1: [0.2, 0.55, 0.25, 0.95], 2: [0.8, 0.45, 0.75, 0.05]}
    X = np.arange(4.0)[:, None]
    y = np.array([0, 1, 2, 1])
    groups = np.array(["A", "A", "B", "B"])
    parties = [("A", _TableClassifier(table_a)), ("B", _TableClassifier(table_b))]
    return X, y, groups, parties


def test_margins_of_a_hand_computed_example():
    X, y, groups, parties = _table_parties()
    hmr = HMRCalibrator(parties, budget=0).fit(X, y, groups=groups)
    np.testing.assert_allclose(hmr.margin(X, y), [0.1, 0.15, 0.05, 0.85])
    scores = np.stack([[[0.9, 0.1, -np.inf], [0.4, 0.6, -np.inf], [0.3, 0.7, -np.inf],
                        [0.1, 0.9, -np.inf]],
                       [[-np.inf, 0.2, 0.8], [-np.inf, 0.55, 0.45], [-np.inf, 0.25, 0.75],
                        [-np.inf, 0.95, 0.05]]])  # fmt: skip
    rho, i_pos, i_neg, c_neg = _mpmc_margin(scores, y)
    np.testing.assert_allclose(rho, [0.1, 0.15, 0.05, 0.85])
    np.testing.assert_array_equal(i_pos, [0, 0, 1, 1])
    np.testing.assert_array_equal(i_neg, [1, 1, 0, 0])
    np.testing.assert_array_equal(c_neg, [2, 2, 1, 0])


def test_algorithm_1_sends_nothing_when_every_margin_is_positive():
    X, y, groups, parties = _table_parties()
    hmr = HMRCalibrator(parties, budget=10, min_margin=0, random_state=0)
    hmr.fit(X, y, groups=groups)
    assert hmr.n_iter_ == hmr.n_communicated_ == 0
    assert hmr._received == [[], []]
    np.testing.assert_array_equal(hmr.history_, [1.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rows_below_min_margin_go_once_to_the_parties_setting_the_margin(seed):
    # min_margin = 0.12 selects rows 0 (0.1) and 2 (0.05), not 1 (0.15) or 3 (0.85).
    # Each goes to both parties (i+ and i-, one of them its owner), once: two rounds, both
    # charged (a row leaves its owner), then nothing is left to send.
    X, y, groups, parties = _table_parties()
    hmr = HMRCalibrator(parties, budget=10, min_margin=0.12, random_state=seed)
    hmr.fit(X, y, groups=groups)
    assert hmr.n_iter_ == hmr.n_communicated_ == 2
    assert [sorted(r) for r in hmr._received] == [[0, 2], [0, 2]]
    # the order is the random draw; both parties got the rows in the same order
    assert hmr._received[0] == hmr._received[1]
    # B learned class 0 from row 0 as a reserved output, A class 2 from row 2
    assert [r.tolist() for r in hmr.reserved_classes_] == [[2], [0]]
    # one more row above the threshold: row 1 (i+ = A, its owner; i- = B)
    wider = HMRCalibrator(parties, budget=10, min_margin=0.2, random_state=seed)
    wider.fit(X, y, groups=groups)
    assert wider.n_iter_ == wider.n_communicated_ == 3
    assert [sorted(r) for r in wider._received] == [[0, 1, 2], [0, 1, 2]]
    # the default reaches every row: row 3 (margin 0.85) too
    full = HMRCalibrator(parties, budget=10, random_state=seed).fit(X, y, groups=groups)
    assert full.n_communicated_ == 4
    assert [sorted(r) for r in full._received] == [[0, 1, 2, 3], [0, 1, 2, 3]]
    # a smaller budget stops first
    short = HMRCalibrator(parties, budget=1, random_state=seed).fit(X, y, groups=groups)
    assert short.n_communicated_ == short.n_iter_ == 1


def test_misclassified_rows_come_first_and_may_be_sent_again():
    # A scores row 2 as 0.8 for its class 1: margin 0.75 - 0.8 = -0.05, misclassified. The
    # fixed table never repairs it, so, as in Algorithm 1, it is drawn again and again
    # (a copy each time) and row 0, whose margin 0.1 is positive, never gets a turn.
    X, y, groups, parties = _table_parties(a_on_row2=(0.3, 0.8))
    hmr = HMRCalibrator(parties, budget=3, random_state=0).fit(X, y, groups=groups)
    np.testing.assert_allclose(hmr.margin(X, y), [0.1, 0.15, -0.05, 0.85])
    assert hmr.n_iter_ == hmr.n_communicated_ == 3
    assert hmr._received == [[2, 2, 2], [2, 2, 2]]
    np.testing.assert_array_equal(hmr.history_, [0.75, 0.75, 0.75, 0.75])


def test_few_shot_parties_reach_the_pooled_model():
    # One labelled row per class of the wine data, parties knowing classes {0, 1} and
    # {1, 2} (as in the benchmark's parties family). Every local model fits its rows, all
    # margins are positive, so Algorithm 1 (min_margin=0) sends nothing; the default sends
    # rows with small margins until every party has them, and the global rule then
    # predicts like one logistic regression trained on the pooled rows.
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    party_classes = [{0, 1}, {1, 2}]
    results = []
    for seed in range(6):
        rng = np.random.RandomState(seed)
        shots = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), 1, replace=False) for c in range(3)]
        )
        test = np.setdiff1d(np.arange(len(y)), shots)
        # a row of a class both parties know is owned by both (a copy each)
        copies = [(r, k) for r in shots for k, c in enumerate(party_classes) if y[r] in c]
        rows, groups = map(np.array, zip(*copies))
        alone = HMRCalibrator(_lr_parties(2), budget=100, min_margin=0, random_state=0)
        alone.fit(X[rows], y[rows], groups=groups)
        hmr = HMRCalibrator(_lr_parties(2), budget=100, random_state=0)
        hmr.fit(X[rows], y[rows], groups=groups)
        pooled = LogisticRegression().fit(X[shots], y[shots])
        assert alone.n_communicated_ == 0
        # each of the 4 rows went to the other party once, then nothing was left
        assert hmr.n_communicated_ == 4
        results.append(
            [
                np.mean(hmr.predict(X[test]) == pooled.predict(X[test])),
                hmr.score(X[test], y[test]),
                pooled.score(X[test], y[test]),
                alone.score(X[test], y[test]),
            ]
        )
    agree, acc_hmr, acc_pooled, acc_alone = np.mean(results, axis=0)
    assert agree >= 0.9
    assert acc_hmr >= acc_pooled - 0.02
    assert acc_hmr >= acc_alone + 0.05


def test_min_margin_is_validated():
    X, y, groups = _three_party_blobs()
    with pytest.raises(ValueError, match="min_margin"):
        HMRCalibrator(_lr_parties(), min_margin="big").fit(X, y, groups=groups)


def test_a_margin_of_exactly_zero_is_calibrated_by_algorithm_1():
    # A scores row 2 as 0.75 for class 1, B as 0.75 for its true class 2: margin exactly 0.
    X, y, groups, parties = _table_parties(a_on_row2=(0.3, 0.75))
    hmr = HMRCalibrator(parties, budget=3, min_margin=0, random_state=0)
    hmr.fit(X, y, groups=groups)
    assert hmr.margin(X, y)[2] == 0.0
    # counted as misclassified: sent again while it stays at 0, as in Algorithm 1
    assert hmr._received == [[2, 2, 2], [2, 2, 2]]
    assert hmr.n_communicated_ == 3


def test_warm_start_remembers_which_rows_each_party_received():
    # min_margin=0.12 sends rows 0 and 2 once each; continuing from a budget of 1 must not
    # send the first row again.
    X, y, groups, parties = _table_parties()
    direct = HMRCalibrator(parties, budget=10, min_margin=0.12, random_state=0)
    direct.fit(X, y, groups=groups)
    warm = HMRCalibrator(parties, budget=1, min_margin=0.12, random_state=0, warm_start=True)
    warm.fit(X, y, groups=groups)
    warm.set_params(budget=10).fit(X, y, groups=groups)
    assert warm._received == direct._received
    assert warm.n_communicated_ == warm.n_iter_ == 2
    # a budget equal to the rows already sent is a valid no-op
    warm.set_params(budget=2).fit(X, y, groups=groups)
    assert warm.n_iter_ == 2
    with pytest.raises(ValueError, match="warm_start=True continues the previous calibration"):
        warm.fit(X[:3], y[:3], groups=groups[:3])


def test_decision_values_use_the_unit_margin_by_default():
    # Decision values are not bounded by 1: margins 0.5 (row 0) and 1.5 (row 1); the
    # default min_margin=1 sends row 0 only, min_margin=2 both.
    # row 0 (y=0): A0 2 against max(A1 0, B1 1, B2 1.5) = 0.5; row 1 (y=1): A1 2 against
    # max(A0 0, B2 0.5) = 1.5; rows 2 and 3: 3.
    table_a = {0: [2.0, 0.0, 0.0, 0.0], 1: [0.0, 2.0, 0.0, 3.0]}
    table_b = {1: [1.0, 0.0, 0.0, 3.0], 2: [1.5, 0.5, 3.0, 0.0]}
    X = np.arange(4.0)[:, None]
    y = np.array([0, 1, 2, 1])
    groups = np.array(["A", "A", "B", "B"])

    class _Decision(_TableClassifier):
        def decision_function(self, X):
            return self.predict_proba(X)

    parties = [("A", _Decision(table_a)), ("B", _Decision(table_b))]
    kw = dict(budget=10, response_method="decision_function", random_state=0)
    hmr = HMRCalibrator(parties, **kw).fit(X, y, groups=groups)
    np.testing.assert_allclose(hmr.margin(X, y), [0.5, 1.5, 3.0, 3.0])
    assert [sorted(r) for r in hmr._received] == [[0], [0]]
    wide = HMRCalibrator(parties, min_margin=2, **kw).fit(X, y, groups=groups)
    assert [sorted(r) for r in wide._received] == [[0, 1], [0, 1]]
    # a margin equal to min_margin counts (exact in binary floating point)
    edge = HMRCalibrator(parties, min_margin=1.5, **kw).fit(X, y, groups=groups)
    assert [sorted(r) for r in edge._received] == [[0, 1], [0, 1]]


def test_sparse_rows_give_the_dense_results():
    sparse = pytest.importorskip("scipy.sparse")
    X, y, groups = _three_party_blobs()
    dense = HMRCalibrator(_lr_parties(), budget=3, random_state=0).fit(X, y, groups=groups)
    csr = HMRCalibrator(_lr_parties(), budget=3, random_state=0)
    csr.fit(sparse.csr_matrix(X), y, groups=groups)
    Xs = sparse.csr_matrix(X)
    np.testing.assert_allclose(csr.predict_proba(Xs), dense.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(csr.margin(Xs, y), dense.margin(X, y), atol=1e-6)
    np.testing.assert_allclose(dense.predict_proba(Xs), dense.predict_proba(X))
    np.testing.assert_allclose(dense.margin(Xs, y), dense.margin(X, y))


def test_margin_rejects_bad_labels_with_a_clear_message():
    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties(), budget=1, random_state=0).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match=r"y must have shape \(2,\), got \(3,\)"):
        hmr.margin(X[:2], y[:3])
    with pytest.raises(ValueError, match=r"y holds classes \[10, 11, 12, 13, 14\] not in"):
        hmr.margin(X[:6], np.arange(10, 16))


def test_prediction_checks_the_fitted_width_without_resetting_it():
    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties(), budget=1, random_state=0).fit(X, y, groups=groups)
    for method in (hmr.predict, hmr.predict_proba, lambda Z: hmr.margin(Z, y[:5])):
        with pytest.raises(ValueError, match="HMRCalibrator is expecting 4 features"):
            method(X[:5, :3])
        assert hmr.n_features_in_ == 4


class _RecordingNB(GaussianNB):
    """Gaussian naive Bayes that records whether it was refitted or updated."""

    def fit(self, X, y, sample_weight=None):
        self.calls_ = [*getattr(self, "calls_", []), "fit"]
        return super().fit(X, y, sample_weight=sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        self.calls_ = [*getattr(self, "calls_", []), "partial_fit"]
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


@pytest.mark.parametrize("update", ["partial_fit", "refit"])
def test_update_uses_partial_fit_only_for_classes_the_party_knows(update):
    X, y, groups = _three_party_blobs()
    parties = [(f"nb{k}", _RecordingNB()) for k in range(3)]
    hmr = HMRCalibrator(parties, budget=12, update=update, random_state=0)
    hmr.fit(X, y, groups=groups)
    n_new = 0
    for k, model in enumerate(hmr.estimators_):
        # replay the rows party k received: a class it has not seen yet needs a refit
        known, expected = set(hmr.party_classes_[k].tolist()), ["fit"]
        for row in hmr._received[k]:
            if update == "partial_fit" and y[row] in known:
                expected.append("partial_fit")
            else:
                n_new += y[row] not in known
                expected.append("fit")
                known.add(y[row])
        assert model.calls_ == expected
    assert n_new > 0  # some rows taught a party a new (reserved) class


def test_models_with_unsorted_classes_are_read_by_label():
    # A model may list its classes in any order: its scores are matched by label.
    class _Reversed(_TableClassifier):
        def fit(self, X, y):
            self.classes_ = np.unique(y)[::-1]
            return self

    X, y, groups, parties = _table_parties()
    sorted_ = HMRCalibrator(parties, budget=0).fit(X, y, groups=groups)
    parties = [(name, _Reversed(model.table)) for name, model in parties]
    hmr = HMRCalibrator(parties, budget=0).fit(X, y, groups=groups)
    assert hmr.estimators_[0].classes_.tolist() == [1, 0]
    np.testing.assert_allclose(hmr.margin(X, y), [0.1, 0.15, 0.05, 0.85])
    np.testing.assert_allclose(hmr.predict_proba(X), sorted_.predict_proba(X))


def test_bad_estimators_name_the_parameter():
    X, y, groups = _three_party_blobs()
    with pytest.raises(ValueError, match=r"estimators must be a non-empty list"):
        HMRCalibrator([]).fit(X, y, groups=groups)
    with pytest.raises(TypeError, match=r"estimators\[0\] must be a \(name, model\) tuple"):
        HMRCalibrator([LogisticRegression()]).fit(X, y, groups=groups)


def test_groups_errors_say_how_to_fix_them():
    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties())
    with pytest.raises(ValueError, match=r"call fit\(X, y, groups=party\) with the party \(a name"):
        hmr.fit(X, y)
    with pytest.raises(ValueError, match=r"or its position\) owning each row\.$"):
        hmr.fit(X, y)
    with pytest.raises(ValueError, match=r"groups must be 1-D, got an array of shape \(200, 1\)"):
        hmr.fit(X, y, groups=groups[:, None])
    with pytest.raises(ValueError, match=r"rows; give one party per row\.$"):
        hmr.fit(X, y, groups=groups[:-1])


def test_prefit_models_updated_in_place_by_partial_fit_stay_untouched():
    # GaussianNB.partial_fit writes into its arrays: a shallow copy would share them.
    X, y, groups = _three_party_blobs()
    fitted = [(f"nb{k}", GaussianNB().fit(X[groups == k], y[groups == k])) for k in range(3)]
    before = [pickle.dumps(m) for _, m in fitted]
    hmr = HMRCalibrator(fitted, budget=8, prefit=True, update="partial_fit", random_state=0)
    hmr.fit(X, y, groups=groups)
    assert any(len(r) for r in hmr._received)
    assert [pickle.dumps(m) for _, m in fitted] == before


def test_verbose_bar_counts_communicated_rows_against_the_budget(capsys):
    X, y, groups, parties = _table_parties()
    hmr = HMRCalibrator(parties, budget=1, min_margin=0.12, warm_start=True, random_state=0)
    hmr.fit(X, y, groups=groups)
    capsys.readouterr()
    # continuing from 1 row: the bar starts at 1 and ends at the 2 rows sent, of 10
    hmr.set_params(budget=10, verbose=2).fit(X, y, groups=groups)  # 2: the bar stays
    err = capsys.readouterr().err
    assert "HMR calibration" in err
    assert "2/10" in err
    assert "row/s" in err or "s/row" in err


def test_max_iter_bounds_rounds_across_warm_starts():
    X, y, _ = _three_party_blobs()
    hmr = HMRCalibrator(
        [("only", LogisticRegression(C=0.01))], max_iter=3, warm_start=True, random_state=0
    )
    hmr.fit(X, y)
    hmr.fit(X, y)  # the 3 rounds are spent: nothing more
    assert hmr.n_iter_ == 3
    assert len(hmr._received[0]) == 3
    hmr.set_params(max_iter=5).fit(X, y)
    assert hmr.n_iter_ == 5
    assert len(hmr.history_) == 6


class _ChangingTable(_TableClassifier):
    """Scores from ``table`` until the model is refitted on more than ``n_own`` rows,
    then from ``after``."""

    def __init__(self, table=None, after=None, n_own=0):
        self.table = table
        self.after = after
        self.n_own = n_own

    def fit(self, X, y):
        self.n_rows_ = len(y)
        return super().fit(X, y)

    def predict_proba(self, X):
        r = np.asarray(X)[:, 0].astype(int)
        table = self.after if self.n_rows_ > self.n_own else self.table
        return np.column_stack([np.asarray(table.get(c, np.zeros(4)))[r] for c in self.classes_])


def test_a_row_reaches_a_party_that_sets_its_margin_later():
    # Row 0 (class 0, owned by A): A scores it 0.9 for class 0 and 0.5 for class 1, B at
    # most 0.3, so A is both i+ and i- (margin 0.4) and the row only goes back to A (a
    # second copy, not charged). Refitted, A scores class 1 at 0.1 there: now B's 0.3 sets
    # the margin (0.6), and the row, which B has not received, goes to B alone (charged).
    # Rows 1-3 have margins 0.85-0.9, above min_margin=0.7.
    table_a = {0: [0.9, 0.05, 0.05, 0.05], 1: [0.5, 0.95, 0.1, 0.1]}
    after_a = {0: [0.9, 0.05, 0.05, 0.05], 1: [0.1, 0.95, 0.1, 0.1]}
    table_b = {1: [0.2, 0.1, 0.05, 0.95], 2: [0.3, 0.05, 0.95, 0.05]}
    X = np.arange(4.0)[:, None]
    y = np.array([0, 1, 2, 1])
    groups = np.array(["A", "A", "B", "B"])
    parties = [
        ("A", _ChangingTable(table_a, after_a, n_own=2)),
        ("B", _ChangingTable(table_b, table_b, n_own=2)),
    ]
    still = HMRCalibrator(parties, budget=0).fit(X, y, groups=groups)
    np.testing.assert_allclose(still.margin(X, y), [0.4, 0.9, 0.85, 0.9])
    hmr = HMRCalibrator(parties, budget=10, min_margin=0.7, random_state=0)
    hmr.fit(X, y, groups=groups)
    assert hmr._received == [[0], [0]]
    assert hmr.n_iter_ == 2
    assert hmr.n_communicated_ == 1
    np.testing.assert_array_equal(hmr.history_n_communicated_, [0, 0, 1])


def test_documented_defaults():
    hmr = HMRCalibrator(_lr_parties())
    params = hmr.get_params(deep=False)
    del params["estimators"]
    assert params == dict(
        budget=100,
        prefit=False,
        response_method="predict_proba",
        update="refit",
        min_margin=1.0,
        max_iter=1000,
        warm_start=False,
        random_state=None,
        n_jobs=None,
        verbose=0,
    )
    assert hmr.__sklearn_tags__().input_tags.sparse is True


def test_groups_positions_and_kinds_are_checked():
    X, y, groups = _three_party_blobs()
    hmr = HMRCalibrator(_lr_parties())
    # position 3 does not exist with 3 parties
    with pytest.raises(ValueError, match=r"unknown parties \[3\]; .* or the positions 0\.\.2\.$"):
        hmr.fit(X, y, groups=np.where(groups == 0, 3, groups))
    # six unknown names: the first five are listed
    bad = np.array(["u", "v", "w", "x", "y", "z"])[np.arange(len(y)) % 6]
    with pytest.raises(ValueError, match=r"unknown parties \['u', 'v', 'w', 'x', 'y'\]; use"):
        hmr.fit(X, y, groups=bad)
    # neither names nor positions
    with pytest.raises(ValueError, match=r"groups holds unknown parties \[0\.0, 1\.0, 2\.0\]"):
        hmr.fit(X, y, groups=groups.astype(float))


def test_prefit_models_must_know_the_classes_of_y():
    X, y, groups = _three_party_blobs()
    other = LogisticRegression().fit(X[:60], y[:60] + 10)  # classes 10, 11: none in y
    knows_one = LogisticRegression().fit(X[y < 2], np.where(y[y < 2] == 0, 0, 99))
    everything = LogisticRegression().fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"The model of party 'b' knows none of the classes in y \(its classes_ start "
        r"with \[10, 11\]\)\.",
    ):
        HMRCalibrator([("a", everything), ("b", other)], prefit=True).fit(X, y, groups=groups % 2)
    # a model that knows a single class of y votes for it
    hmr = HMRCalibrator([("a", everything), ("b", knows_one)], prefit=True, budget=0)
    hmr.fit(X, y, groups=groups % 2)
    assert hmr.party_classes_[1].tolist() == [0]
    few = [(f"p{k}", LogisticRegression().fit(X[y < 2], y[y < 2])) for k in range(2)]
    with pytest.raises(
        ValueError,
        match=r"No party's model knows the classes \[2, 3, 4\] of y, so the global model "
        r"could never predict them\.$",
    ):
        HMRCalibrator(few, prefit=True).fit(X, y, groups=groups % 2)
