"""Tests of TransferTreeClassifier / TransferForestClassifier (Segev et al., TPAMI'17)."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skreuse.training import TransferForestClassifier, TransferTreeClassifier

ALGOS = ("ser", "strut", "relab")


def _shifted_task(seed, n_source=400, n_target=30, shift=0.8):
    """Source: class = x0 > 0 (plus an x1 rule); target: the same rules shifted by ``shift``."""
    rng = np.random.RandomState(seed)

    def make(n, s):
        X = rng.uniform(-3, 3, size=(n, 3))
        y = (X[:, 0] > s).astype(int) + (X[:, 1] > 1 + s)
        return X, y

    return make(n_source, 0.0), make(n_target, shift), make(2000, shift)


def _tree_arrays(tree):
    t = tree.tree_
    return [
        np.array(a) for a in (t.children_left, t.children_right, t.feature, t.threshold, t.value)
    ]


def _check_structure(tree, X, n_classes):
    """Invariants every refined tree satisfies."""
    t = tree
    left, right = t.children_left, t.children_right
    is_leaf = left == -1
    assert np.array_equal(is_leaf, right == -1)
    assert np.all(t.feature[is_leaf] == -2)
    assert np.all(t.feature[~is_leaf] >= 0)
    children = np.concatenate([left[~is_leaf], right[~is_leaf]])
    # Every node but the root has exactly one parent, and parents precede children.
    assert sorted(children.tolist()) == list(range(1, t.node_count))
    assert np.all(left[~is_leaf] > np.flatnonzero(~is_leaf))
    assert t.n_leaves == is_leaf.sum()
    assert t.value.shape == (t.node_count, 1, n_classes)
    np.testing.assert_allclose(t.value.sum(axis=-1), 1.0)
    # Target rows reaching a split are those reaching its two children.
    n = t.n_node_samples
    np.testing.assert_array_equal(n[~is_leaf], n[left[~is_leaf]] + n[right[~is_leaf]])
    leaves = t.apply(X)
    assert np.all(is_leaf[leaves])
    np.testing.assert_array_equal(np.bincount(leaves, minlength=t.node_count)[is_leaf], n[is_leaf])


@pytest.mark.parametrize("seed", range(3))
def test_relab_on_the_source_data_reproduces_the_source(seed):
    (Xs, ys), _, (X_test, _) = _shifted_task(seed)
    source = DecisionTreeClassifier(max_depth=4, random_state=seed).fit(Xs, ys)
    relab = TransferTreeClassifier(source, algo="relab").fit(Xs, ys)
    # Same structure (scikit-learn numbers nodes in pre-order too), same distributions.
    for ours, theirs in zip(_tree_arrays(relab), _tree_arrays(source)):
        np.testing.assert_allclose(ours, theirs)
    np.testing.assert_array_equal(relab.apply(X_test), source.apply(X_test))
    np.testing.assert_allclose(relab.predict_proba(X_test), source.predict_proba(X_test))
    np.testing.assert_array_equal(relab.predict(X_test), source.predict(X_test))


def test_relab_takes_target_leaf_distributions_and_keeps_unreached_leaves():
    (Xs, ys), (Xt, yt), (X_test, _) = _shifted_task(0)
    source = DecisionTreeClassifier(max_depth=3, random_state=0).fit(Xs, ys)
    relab = TransferTreeClassifier(source, algo="relab").fit(Xt[:5], yt[:5])
    leaves = source.apply(Xt[:5])
    for leaf in np.unique(leaves):
        expected = np.bincount(yt[:5][leaves == leaf], minlength=3) / np.sum(leaves == leaf)
        np.testing.assert_allclose(relab.tree_.value[leaf, 0], expected)
    unreached = np.setdiff1d(np.flatnonzero(source.tree_.children_left == -1), leaves)
    assert unreached.size
    np.testing.assert_allclose(relab.tree_.value[unreached], source.tree_.value[unreached])


@pytest.mark.parametrize("seed", range(3))
def test_ser_keeps_a_source_that_is_perfect_on_the_target(seed):
    rng = np.random.RandomState(seed)
    Xs = rng.uniform(-3, 3, size=(300, 2))
    ys = (Xs[:, 0] > 0).astype(int)
    source = DecisionTreeClassifier(random_state=0).fit(Xs, ys)
    Xt = rng.uniform(-3, 3, size=(40, 2))
    yt = (Xt[:, 0] > 0).astype(int)
    assert source.score(Xt, yt) == 1.0
    ser = TransferTreeClassifier(source, algo="ser", random_state=0).fit(Xt, yt)
    X_test = rng.uniform(-3, 3, size=(2000, 2))
    np.testing.assert_array_equal(ser.predict(X_test), source.predict(X_test))
    # Nothing to expand (pure leaves); reduction collapses the split to the one the
    # target needs.
    assert ser.tree_.node_count == 3
    assert ser.tree_.feature[0] == 0


def test_ser_expands_impure_leaves_and_reduces_useless_splits():
    rng = np.random.RandomState(0)
    Xs = rng.uniform(-3, 3, size=(300, 2))
    source = DecisionTreeClassifier(max_depth=1).fit(Xs, (Xs[:, 0] > 0).astype(int))
    Xt = rng.uniform(-3, 3, size=(60, 2))
    # Target: a rule on x1 that the source's x0 split knows nothing about.
    yt = (Xt[:, 1] > 0).astype(int)
    ser = TransferTreeClassifier(source, algo="ser", random_state=0).fit(Xt, yt)
    _check_structure(ser.tree_, Xt, 2)
    assert ser.score(Xt, yt) == 1.0  # each leaf grew a full tree on its rows
    assert 1 in ser.tree_.feature
    X_test = rng.uniform(-3, 3, size=(2000, 2))
    assert ser.score(X_test, (X_test[:, 1] > 0).astype(int)) > 0.9


def _brute_force_strut_threshold(x, y, classes, q_left, q_right):
    """The STRUT threshold from the definitions, one candidate and one formula at a time."""
    x = x.astype(np.float32).astype(np.float64)
    values = np.unique(x)
    candidates = (values[:-1] + values[1:]) / 2

    def counts(labels):
        return np.array([np.sum(labels == c) for c in classes], dtype=float)

    def info_gain(t):
        left, right = y[x <= t], y[x > t]
        h = entropy(counts(y))
        return h - (len(left) * entropy(counts(left)) + len(right) * entropy(counts(right))) / len(
            y
        )

    def divergence_gain(t, ql, qr):
        left, right = y[x <= t], y[x > t]
        # scipy's jensenshannon is the square root of the divergence (natural log).
        jl = jensenshannon(counts(left), ql) ** 2
        jr = jensenshannon(counts(right), qr) ** 2
        return 1 - (len(left) * jl + len(right) * jr) / len(y)

    ig = [info_gain(t) for t in candidates]
    best = []
    for ql, qr in ((q_left, q_right), (q_right, q_left)):
        maxima = [
            k for k in range(1, len(candidates) - 1) if ig[k] >= ig[k - 1] and ig[k] >= ig[k + 1]
        ]
        if maxima:
            k = max(maxima, key=lambda k: divergence_gain(candidates[k], ql, qr))
        else:
            k = int(np.argmax(ig))
        best.append((divergence_gain(candidates[k], ql, qr), candidates[k]))
    swap = best[1][0] > best[0][0]
    return best[int(swap)][1], swap


@pytest.mark.parametrize("seed", range(6))
def test_strut_threshold_matches_brute_force_divergence_criterion(seed):
    rng = np.random.RandomState(seed)
    Xs = rng.normal(size=(300, 2))
    ys = (Xs[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(int)
    source = DecisionTreeClassifier(max_depth=1, random_state=0).fit(Xs, ys)
    Xt = rng.normal(size=(25, 2))
    yt = (Xt[:, 0] + 0.5 * rng.normal(size=25) > rng.uniform(-1, 1)).astype(int)
    if seed % 2:
        yt = 1 - yt  # a flipped target: the children should swap
    if len(np.unique(yt)) < 2:
        pytest.skip("one-class target")
    t = source.tree_
    counts = t.value[:, 0, :] * t.weighted_n_node_samples[:, None]
    expected, swap = _brute_force_strut_threshold(
        Xt[:, t.feature[0]], yt, [0, 1], counts[t.children_left[0]], counts[t.children_right[0]]
    )
    strut = TransferTreeClassifier(source, algo="strut").fit(Xt, yt)
    assert strut.tree_.feature[0] == t.feature[0]
    np.testing.assert_allclose(strut.tree_.threshold[0], expected)
    # Leaves hold the target's distributions on either side of the new threshold.
    left = Xt[:, t.feature[0]].astype(np.float32) <= expected
    for side, rows in (
        (strut.tree_.children_left[0], left),
        (strut.tree_.children_right[0], ~left),
    ):
        dist = np.bincount(yt[rows], minlength=2) / rows.sum()
        np.testing.assert_allclose(strut.tree_.value[side, 0], dist)
    if seed % 2:
        assert swap


def test_strut_swaps_children_of_a_flipped_split():
    Xs = np.linspace(-1, 1, 200)[:, None]
    source = DecisionTreeClassifier(max_depth=1).fit(Xs, (Xs[:, 0] > 0).astype(int))
    Xt = np.linspace(-1, 1, 20)[:, None]
    yt = (Xt[:, 0] < 0.3).astype(int)  # the target's class 1 is on the left
    strut = TransferTreeClassifier(source, algo="strut").fit(Xt, yt)
    t = strut.tree_
    assert 0.2 < t.threshold[0] < 0.4
    # The source's class-1 child (right) now receives the rows left of the threshold.
    assert np.argmax(t.value[t.children_left[0], 0]) == 1
    assert strut.score(Xt, yt) == 1.0


def test_strut_prunes_one_class_and_unseparable_nodes():
    Xs = np.random.RandomState(0).normal(size=(300, 2))
    ys = (Xs[:, 0] > 0).astype(int) + (Xs[:, 1] > 0)
    source = DecisionTreeClassifier(max_depth=3, random_state=0).fit(Xs, ys)
    # All target rows share x0 (the root's feature): the root cannot separate them.
    Xt = np.column_stack([np.full(12, 0.5), np.linspace(-1, 1, 12)])
    yt = (Xt[:, 1] > 0).astype(int)
    assert source.tree_.feature[0] == 0 or source.tree_.feature[0] == 1
    strut = TransferTreeClassifier(source, algo="strut").fit(Xt, yt)
    _check_structure(strut.tree_, Xt, 3)
    assert strut.tree_.node_count < source.tree_.node_count
    # A node whose target rows are of one class is a leaf.
    t = strut.tree_
    splits = np.flatnonzero(t.children_left != -1)
    assert np.all(np.count_nonzero(t.value[splits, 0], axis=1) > 1)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("seed", range(3))
def test_structure_invariants(algo, seed):
    (Xs, ys), (Xt, yt), _ = _shifted_task(seed)
    source = DecisionTreeClassifier(max_depth=5, random_state=seed).fit(Xs, ys)
    model = TransferTreeClassifier(source, algo=algo, random_state=0).fit(Xt, yt)
    _check_structure(model.tree_, Xt, 3)
    if algo != "ser":
        # STRUT and relabelling only use the source's features; STRUT only prunes.
        assert set(model.tree_.feature[model.tree_.feature >= 0]) <= set(source.tree_.feature)
        assert model.tree_.node_count <= source.tree_.node_count


@pytest.mark.parametrize("algo", ["ser", "strut"])
def test_refinement_beats_the_source_on_a_shifted_target(algo):
    gains = []
    for seed in range(5):
        (Xs, ys), (Xt, yt), (X_test, y_test) = _shifted_task(seed, n_target=60)
        source = DecisionTreeClassifier(max_depth=5, random_state=0).fit(Xs, ys)
        model = TransferTreeClassifier(source, algo=algo, random_state=0).fit(Xt, yt)
        gains.append(model.score(X_test, y_test) - source.score(X_test, y_test))
    assert np.mean(gains) > 0.03


@pytest.mark.parametrize("algo", ALGOS)
def test_source_is_not_modified_and_clones_share_it(algo):
    from sklearn.base import clone

    (Xs, ys), (Xt, yt), _ = _shifted_task(0)
    source = DecisionTreeClassifier(max_depth=4, random_state=0).fit(Xs, ys)
    before = pickle.dumps(source)
    arrays = _tree_arrays(source)
    Xt_copy, yt_copy = Xt.copy(), yt.copy()
    model = TransferTreeClassifier(source, algo=algo, random_state=0)
    model.fit(Xt, yt)
    assert pickle.dumps(source) == before
    for a, b in zip(arrays, _tree_arrays(source)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(Xt, Xt_copy)
    np.testing.assert_array_equal(yt, yt_copy)
    assert clone(model).source is source


@pytest.mark.parametrize("algo", ALGOS)
def test_pickle_round_trip(algo):
    (Xs, ys), (Xt, yt), (X_test, _) = _shifted_task(1)
    source = RandomForestClassifier(n_estimators=5, random_state=0).fit(Xs, ys)
    for model in (
        TransferTreeClassifier(source.estimators_[0], algo=algo, random_state=0),
        TransferForestClassifier(source, algo=algo, random_state=0),
    ):
        model.fit(Xt, yt)
        loaded = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))


def test_dataframes_keep_feature_names_and_mismatched_names_raise():
    (Xs, ys), (Xt, yt), (X_test, _) = _shifted_task(2)
    cols = ["a", "b", "c"]
    source = DecisionTreeClassifier(max_depth=4, random_state=0).fit(
        pd.DataFrame(Xs, columns=cols), ys
    )
    model = TransferTreeClassifier(source, algo="strut").fit(pd.DataFrame(Xt, columns=cols), yt)
    np.testing.assert_array_equal(model.feature_names_in_, cols)
    np.testing.assert_array_equal(
        model.predict(pd.DataFrame(X_test, columns=cols)),
        model.classes_[np.argmax(model.tree_.predict_proba(X_test), axis=1)],
    )
    with pytest.raises(ValueError, match="feature names"):
        TransferTreeClassifier(source).fit(pd.DataFrame(Xt, columns=["c", "b", "a"]), yt)


def test_gridsearch_over_algo():
    (Xs, ys), (Xt, yt), _ = _shifted_task(3, n_target=60)
    source = DecisionTreeClassifier(max_depth=5, random_state=0).fit(Xs, ys)
    search = GridSearchCV(
        TransferTreeClassifier(source, random_state=0), {"algo": list(ALGOS)}, cv=3
    ).fit(Xt, yt)
    assert search.best_params_["algo"] in ALGOS
    assert search.best_estimator_.source is source
    assert len(search.cv_results_["mean_test_score"]) == 3


@pytest.mark.parametrize("algo", ALGOS)
def test_target_classes_subset_and_superset_of_the_source(algo):
    (Xs, ys), (Xt, yt), _ = _shifted_task(4, n_target=40)
    source = DecisionTreeClassifier(max_depth=4, random_state=0).fit(
        Xs, np.array(["a", "b", "c"])[ys]
    )
    # Subset: the target has only "a" and "b"; "c" stays known from the source.
    yt_str = np.array(["a", "b", "b"])[yt]
    model = TransferTreeClassifier(source, algo=algo, random_state=0).fit(Xt, yt_str)
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c"])
    assert model.predict_proba(Xt).shape == (len(Xt), 3)
    # Superset: a class "d" the source never saw is learned from the target.
    yt_new = np.where(Xt[:, 2] > 1.5, "d", np.array(["a", "b", "c"])[yt])
    model = TransferTreeClassifier(source, algo=algo, random_state=0).fit(Xt, yt_new)
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c", "d"])
    if algo == "ser":
        assert "d" in set(model.predict(Xt))


@pytest.mark.parametrize("algo", ["ser", "strut"])
@pytest.mark.parametrize("rows_per_class", [1, 2, 5])
def test_few_rows_per_class(algo, rows_per_class):
    (Xs, ys), (Xt, yt), (X_test, y_test) = _shifted_task(5, n_target=300)
    idx = np.concatenate([np.flatnonzero(yt == c)[:rows_per_class] for c in range(3)])
    source = DecisionTreeClassifier(max_depth=5, random_state=0).fit(Xs, ys)
    model = TransferTreeClassifier(source, algo=algo, random_state=0).fit(Xt[idx], yt[idx])
    _check_structure(model.tree_, Xt[idx], 3)
    assert model.score(X_test, y_test) > 1 / 3


def test_bad_sources_raise():
    X, y = np.random.RandomState(0).normal(size=(20, 3)), np.arange(20) % 2
    with pytest.raises(TypeError, match="source must be a fitted DecisionTreeClassifier"):
        TransferTreeClassifier(DecisionTreeClassifier()).fit(X, y)
    with pytest.raises(TypeError, match="got DecisionTreeRegressor"):
        TransferTreeClassifier(DecisionTreeRegressor().fit(X, y)).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 3 features but X has 2"):
        TransferTreeClassifier(DecisionTreeClassifier().fit(X, y)).fit(X[:, :2], y)
    with pytest.raises(TypeError, match="RandomForestClassifier"):
        TransferForestClassifier(DecisionTreeClassifier().fit(X, y)).fit(X, y)
    with pytest.raises(ValueError, match="cannot be compared"):
        TransferTreeClassifier(DecisionTreeClassifier().fit(X, y)).fit(X, np.array(["u", "v"])[y])


def test_forest_relab_reproduces_a_forest_without_bootstrap():
    (Xs, ys), _, (X_test, _) = _shifted_task(6)
    source = RandomForestClassifier(
        n_estimators=8, bootstrap=False, max_depth=4, random_state=0
    ).fit(Xs, ys)
    forest = TransferForestClassifier(source, algo="relab").fit(Xs, ys)
    assert len(forest.estimators_) == 8
    assert all(isinstance(e, TransferTreeClassifier) for e in forest.estimators_)
    np.testing.assert_allclose(forest.predict_proba(X_test), source.predict_proba(X_test))
    np.testing.assert_array_equal(forest.apply(X_test), source.apply(X_test))


@pytest.mark.parametrize("algo", ALGOS)
def test_forest_n_jobs_and_seed_give_the_same_forest(algo):
    (Xs, ys), (Xt, yt), (X_test, _) = _shifted_task(7)
    source = RandomForestClassifier(n_estimators=6, random_state=0).fit(Xs, ys)
    a = TransferForestClassifier(source, algo=algo, bootstrap=True, random_state=0).fit(Xt, yt)
    b = TransferForestClassifier(source, algo=algo, bootstrap=True, n_jobs=2, random_state=0)
    b.fit(Xt, yt)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    np.testing.assert_allclose(
        a.predict_proba(X_test),
        np.mean([e.predict_proba(X_test) for e in a.estimators_], axis=0),
    )


@pytest.mark.parametrize("algo", ALGOS)
def test_forest_trees_are_the_tree_refinements_of_the_source_trees(algo):
    (Xs, ys), (Xt, yt), (X_test, _) = _shifted_task(8)
    source = RandomForestClassifier(n_estimators=4, random_state=0).fit(Xs, ys)
    forest = TransferForestClassifier(source, algo=algo, random_state=0).fit(Xt, yt)
    for est, src_tree in zip(forest.estimators_, source.estimators_):
        assert est.source is src_tree
        _check_structure(est.tree_, Xt, 3)
        # Without bootstrap every tree sees all target rows, so relabelling and STRUT
        # (deterministic) give exactly the single-tree refinement.
        if algo != "ser":
            single = TransferTreeClassifier(src_tree, algo=algo).fit(Xt, yt)
            np.testing.assert_allclose(est.predict_proba(X_test), single.predict_proba(X_test))


def test_forest_rejects_boosting_and_shows_progress(capsys):
    from sklearn.ensemble import GradientBoostingClassifier

    (Xs, ys), (Xt, yt), _ = _shifted_task(9)
    boosting = GradientBoostingClassifier(n_estimators=3).fit(Xs, ys)
    with pytest.raises(TypeError, match="forest of classification trees"):
        TransferForestClassifier(boosting).fit(Xt, yt)
    source = RandomForestClassifier(n_estimators=3, random_state=0).fit(Xs, ys)
    TransferForestClassifier(source, verbose=1).fit(Xt, yt)
    assert "refining trees" in capsys.readouterr().err


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


@pytest.mark.parametrize("seed", range(2))
def test_relab_on_the_source_data_keeps_the_source_tree_statistics(seed):
    (Xs, ys), _, _ = _shifted_task(seed)
    source = DecisionTreeClassifier(max_depth=4, random_state=seed).fit(Xs, ys)
    t = TransferTreeClassifier(source, algo="relab").fit(Xs, ys).tree_
    assert t.max_depth == source.get_depth()
    assert t.n_leaves == source.get_n_leaves()
    assert t.node_count == source.tree_.node_count
    np.testing.assert_array_equal(t.n_node_samples, source.tree_.n_node_samples)
    np.testing.assert_array_equal(t.feature, source.tree_.feature)


def test_forest_bootstrap_is_class_wise_and_differs_between_trees():
    (Xs, ys), (Xt, yt), _ = _shifted_task(10)
    source = RandomForestClassifier(n_estimators=5, random_state=0).fit(Xs, ys)
    forest = TransferForestClassifier(source, algo="relab", bootstrap=True, random_state=0)
    forest.fit(Xt, yt)
    plain = TransferForestClassifier(source, algo="relab").fit(Xt, yt)
    root = np.bincount(yt, minlength=3) / len(yt)
    for est in forest.estimators_:
        # Every class keeps its number of rows: the root sees the target's class counts.
        assert est.tree_.n_node_samples[0] == len(yt)
        np.testing.assert_allclose(est.tree_.value[0, 0], root)
    # ... but the rows are resampled: trees differ from the plain relabelling
    assert any(
        not np.allclose(est.tree_.value, ref.tree_.value)
        for est, ref in zip(forest.estimators_, plain.estimators_)
    )


def test_entropy_jsd_and_divergence_gain_match_their_definitions():
    from skreuse.training._transfer_tree import _divergence_gain, _entropy, _jsd

    rng = np.random.RandomState(0)
    counts = rng.randint(0, 4, size=(8, 3)).astype(float)
    counts[counts.sum(axis=1) == 0, 2] = 1.0
    counts[0] = 0  # an empty row has entropy 0
    counts[1] = [5, 0, 0]
    expected = [entropy(row) if row.sum() else 0.0 for row in counts]
    np.testing.assert_allclose(_entropy(counts), expected, atol=1e-12)
    source = np.array([3.0, 0.0, 7.0])
    rows = counts[1:]
    # scipy's jensenshannon is the square root of the divergence (natural log).
    expected = [jensenshannon(row, source) ** 2 for row in rows]
    np.testing.assert_allclose(_jsd(rows, source), expected, atol=1e-12)
    QL, QR = rows[:3], rows[3:6]
    src_left, src_right = np.array([1.0, 2.0, 0.0]), np.array([0.0, 1.0, 4.0])
    n = QL.sum(axis=1) + QR.sum(axis=1)
    expected = [
        1
        - (
            ql.sum() * jensenshannon(ql, src_left) ** 2
            + qr.sum() * jensenshannon(qr, src_right) ** 2
        )
        / m
        for ql, qr, m in zip(QL, QR, n)
    ]
    np.testing.assert_allclose(_divergence_gain(QL, QR, src_left, src_right), expected)


@pytest.mark.parametrize("algo", ALGOS)
def test_fit_emits_no_runtime_warning(algo):
    (Xs, ys), (Xt, yt), _ = _shifted_task(11)
    source = DecisionTreeClassifier(max_depth=4, random_state=0).fit(Xs, ys)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. log(0) of an empty class in STRUT's entropies
        TransferTreeClassifier(source, algo=algo, random_state=0).fit(Xt, yt)


def test_strut_does_not_split_values_that_float32_cannot_tell_apart():
    Xs = np.linspace(0, 2, 200)[:, None]
    source = DecisionTreeClassifier(max_depth=1).fit(Xs, (Xs[:, 0] > 1).astype(int))
    # Two classes on values equal in float32 (the precision trees compare in): no
    # threshold separates them, so no split is made and no child is left empty.
    Xt = np.r_[np.full(5, 1.0), np.full(5, 1.0 + 1e-9)][:, None]
    yt = np.r_[np.zeros(5, int), np.ones(5, int)]
    t = TransferTreeClassifier(source, algo="strut").fit(Xt, yt).tree_
    assert np.all(t.n_node_samples > 0)
    assert t.node_count == 1


def test_apply_checks_the_number_of_features():
    (Xs, ys), (Xt, yt), (X_test, _) = _shifted_task(12)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(Xs, ys)
    forest = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0).fit(Xs, ys)
    for model in (
        TransferTreeClassifier(tree, algo="relab").fit(Xt, yt),
        TransferForestClassifier(forest, algo="relab").fit(Xt, yt),
    ):
        for method in (model.apply, model.predict_proba):
            with pytest.raises(ValueError, match="expecting 3 features"):
                method(X_test[:, :2])
    params = TransferForestClassifier(n_jobs=3, verbose=2, random_state=4).get_params()
    assert (params["n_jobs"], params["verbose"], params["random_state"]) == (3, 2, 4)


def test_strut_threshold_with_ties_and_few_distinct_values_matches_brute_force():
    from skreuse.training._transfer_tree import _strut_threshold

    rng = np.random.RandomState(0)
    checked = {2: 0, "more": 0}
    for _ in range(40):
        n = rng.randint(4, 30)
        # Few distinct values: many ties, sometimes exactly two values.
        x = rng.randint(0, rng.randint(2, 6), size=n) * 0.5 + 0.1
        y = rng.randint(0, 3, size=n)
        if len(np.unique(x)) < 2:
            continue
        q_left, q_right = rng.randint(0, 10, size=(2, 3)).astype(float) + 0.5
        expected, swap = _brute_force_strut_threshold(x, y, [0, 1, 2], q_left, q_right)
        threshold, our_swap = _strut_threshold(x, y, 3, q_left, q_right)
        assert threshold == pytest.approx(expected)
        assert our_swap == swap
        checked[2 if len(np.unique(x)) == 2 else "more"] += 1
    assert min(checked.values()) >= 5


def _two_level_source():
    """Root on x0; its left child splits on x1 (mostly class 0), its right on x2 (mostly 1)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(2000, 3))
    y = np.where(X[:, 0] <= 0, X[:, 1] > 1, X[:, 2] > -1).astype(int)
    source = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    t = source.tree_
    assert (t.feature[0], t.feature[t.children_left[0]], t.feature[t.children_right[0]]) == (
        0,
        1,
        2,
    )
    return source


@pytest.mark.parametrize(
    ("rule", "kept"), [(lambda X: X[:, 2] > -1, 2), (lambda X: X[:, 1] > 1, 1)]
)
def test_strut_keeps_the_closer_child_when_the_rows_share_the_split_value(rule, kept):
    source = _two_level_source()
    rng = np.random.RandomState(1)
    Xt = rng.uniform(-2, 2, size=(40, 3))
    Xt[:, 0] = 1.5  # one value of the root's feature: the root cannot split them
    yt = rule(Xt).astype(int)
    t = TransferTreeClassifier(source, algo="strut").fit(Xt, yt).tree_
    # The child whose source distribution is closer (mostly 1 for "x2 > -1", mostly 0
    # for "x1 > 1") takes the root's place, with its own feature.
    assert t.feature[0] == kept


def test_strut_keeps_each_child_subtree_on_its_side_and_stops_at_one_class():
    source = _two_level_source()
    rng = np.random.RandomState(2)
    Xt = rng.uniform(-2, 2, size=(300, 3))
    yt = np.where(Xt[:, 0] <= 0, Xt[:, 1] > 1, Xt[:, 2] > -1).astype(int)
    t = TransferTreeClassifier(source, algo="strut").fit(Xt, yt).tree_
    assert t.feature[0] == 0
    assert (t.feature[t.children_left[0]], t.feature[t.children_right[0]]) == (1, 2)
    # A target of one class: the root is already pure, so the tree is one leaf.
    one = TransferTreeClassifier(source, algo="strut").fit(Xt, np.ones(len(Xt), dtype=int)).tree_
    assert one.node_count == 1
    np.testing.assert_allclose(one.value[0, 0], [0.0, 1.0])


@pytest.mark.parametrize("seed", range(3))
def test_ser_leaves_no_split_that_does_not_lower_the_target_error(seed):
    (Xs, ys), (Xt, yt), _ = _shifted_task(seed, n_target=25)
    source = DecisionTreeClassifier(max_depth=6, random_state=0).fit(Xs, ys)
    t = TransferTreeClassifier(source, algo="ser", random_state=0).fit(Xt, yt).tree_
    # Errors of each node as a leaf, from its target class counts.
    counts = t.value[:, 0, :] * t.n_node_samples[:, None]
    leaf_errors = counts.sum(axis=1) - counts.max(axis=1)
    subtree_errors = leaf_errors.copy()
    for i in range(t.node_count - 1, -1, -1):  # children come after their parents
        if t.children_left[i] != -1:
            subtree_errors[i] = (
                subtree_errors[t.children_left[i]] + subtree_errors[t.children_right[i]]
            )
    splits = t.children_left != -1
    assert splits.any()
    # Reduction: every kept split is reached by target rows on both sides and makes
    # strictly fewer target errors than a leaf in its place.
    assert np.all(t.n_node_samples[t.children_left[splits]] > 0)
    assert np.all(t.n_node_samples[t.children_right[splits]] > 0)
    assert np.all(leaf_errors[splits] > subtree_errors[splits] + 1e-9)


def test_rows_on_or_within_float32_rounding_of_a_threshold_go_left_in_fit_and_apply():
    Xs = np.repeat([[0.0], [1.0]], 50, axis=0)
    source = DecisionTreeClassifier(max_depth=1).fit(Xs, np.repeat([0, 1], 50))
    assert source.tree_.threshold[0] == 0.5
    # Exactly on the threshold, and above it by less than float32 can tell: both are
    # left rows for scikit-learn's tree, and so for the relabelled leaf distributions.
    Xt = np.array([[0.5], [0.5 + 1e-12], [0.2], [0.9]])
    yt = np.array([1, 1, 0, 0])
    np.testing.assert_array_equal(source.apply(Xt), [1, 1, 1, 2])
    relab = TransferTreeClassifier(source, algo="relab").fit(Xt, yt)
    np.testing.assert_array_equal(relab.apply(Xt), [1, 1, 1, 2])
    np.testing.assert_allclose(relab.tree_.value[1, 0], [1 / 3, 2 / 3])
    np.testing.assert_allclose(relab.tree_.value[2, 0], [1.0, 0.0])


def test_tree_parameters_tags_and_a_dataframe_source_with_array_targets():
    params = TransferTreeClassifier(algo="strut", random_state=5).get_params()
    assert (params["algo"], params["random_state"]) == ("strut", 5)
    tags = TransferTreeClassifier().__sklearn_tags__()
    assert tags.input_tags.allow_nan is False
    (Xs, ys), (Xt, yt), (X_test, _) = _shifted_task(13)
    frame = pd.DataFrame(Xs, columns=["a", "b", "c"])
    source = DecisionTreeClassifier(max_depth=3, random_state=0).fit(frame, ys)
    # Names are only compared when both sides have them: plain arrays are accepted.
    model = TransferTreeClassifier(source, algo="relab").fit(Xt, yt)
    np.testing.assert_array_equal(
        model.apply(X_test), source.apply(pd.DataFrame(X_test, columns=["a", "b", "c"]))
    )


def test_ser_reduces_a_split_that_a_one_class_target_does_not_need():
    Xs = np.linspace(-1, 1, 200)[:, None]
    source = DecisionTreeClassifier(max_depth=1).fit(Xs, (Xs[:, 0] > 0).astype(int))
    Xt = np.linspace(-1, 1, 20)[:, None]
    # Both sides are reached, both are right with one leaf: the split goes.
    t = TransferTreeClassifier(source, algo="ser").fit(Xt, np.zeros(20, dtype=int)).tree_
    assert t.node_count == 1
    np.testing.assert_allclose(t.value[0, 0], [1.0, 0.0])
