"""Tests of skreuse.datasets: determinism, shapes, metadata, model quality, task layouts."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreuse.datasets import (
    REFORM_SCENARIOS,
    make_heterogeneous_task,
    make_hmr_toy,
    make_model_zoo,
    make_multiparty_task,
    make_reform_task,
    make_transfer_task,
)
from skreuse.utils import check_model_fitted, extract_features


def _assert_bunches_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        va, vb = a[key], b[key]
        if isinstance(va, pd.DataFrame):
            pd.testing.assert_frame_equal(va, vb)
        elif isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        elif key != "models":
            assert va == vb, key


# -- make_model_zoo -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wine_zoo():
    return make_model_zoo("wine", random_state=0)


def test_zoo_is_deterministic_and_cached_copies_are_independent(wine_zoo):
    again = make_model_zoo("wine", random_state=0)
    _assert_bunches_equal(wine_zoo, again)
    for (n1, m1), (n2, m2) in zip(wine_zoo.models, again.models, strict=True):
        assert n1 == n2
        assert m1 is not m2
        np.testing.assert_array_equal(
            extract_features(m1, wine_zoo.X_target), extract_features(m2, again.X_target)
        )
    # Corrupting a returned copy must not reach the cache.
    again.X_target[:] = 0
    again.models[0][1].steps[-1][1].coefs_[0][:] = 0
    third = make_model_zoo("wine", random_state=0)
    np.testing.assert_array_equal(third.X_target, wine_zoo.X_target)
    np.testing.assert_array_equal(
        extract_features(third.models[0][1], third.X_target),
        extract_features(wine_zoo.models[0][1], wine_zoo.X_target),
    )


def test_zoo_differs_with_seed(wine_zoo):
    other = make_model_zoo("wine", random_state=1)
    assert not np.array_equal(other.X_target[:10], wine_zoo.X_target[:10])


def test_zoo_target_rows_are_unseen_and_shifted():
    X, y = load_wine(return_X_y=True)
    zoo = make_model_zoo("wine", target_shift=0.0, random_state=0)
    # With no shift the target rows are rows of the data set; 40% of every class.
    rows = {tuple(r) for r in X}
    assert all(tuple(r) in rows for r in zoo.X_target)
    expected = [round(0.4 * np.sum(y == c)) for c in np.unique(y)]
    assert np.bincount(zoo.y_target).tolist() == expected
    shifted = make_model_zoo("wine", target_shift=0.5, random_state=0)
    np.testing.assert_array_equal(shifted.y_target, zoo.y_target)
    assert not np.allclose(shifted.X_target, zoo.X_target)


def test_zoo_metadata_and_models_are_fitted(wine_zoo):
    names = [n for n, _ in wine_zoo.models]
    assert names == list(wine_zoo.metadata.index)
    assert len(set(names)) == len(names)
    meta = wine_zoo.metadata
    assert set(meta["family"]) == {"linear", "mlp", "pca", "random_projection"}
    assert set(meta.columns) >= {"source_task", "architecture", "kind", "source_classes"}
    for name, model in wine_zoo.models:
        check_model_fitted(model, name)  # raises NotFittedError if not
        row = meta.loc[name]
        if row["kind"] == "classifier":
            assert list(model.classes_) == list(row["source_classes"])
            assert 0.5 < row["source_score"] <= 1.0
        else:
            assert hasattr(model, "transform")
            assert np.isnan(row["source_score"])
    # Class-subset tasks: halves of the three wine classes, sharing the middle one.
    assert meta.loc["mlp_first_half", "source_classes"] == (0, 1)
    assert meta.loc["linear_second_half", "source_classes"] == (1, 2)
    assert meta.loc["mlp_few_rows", "n_source_samples"] < meta.loc["mlp_all", "n_source_samples"]
    with pytest.raises(NotFittedError):
        check_model_fitted(LogisticRegression(), "unfitted")


def test_zoo_models_have_varied_quality_on_the_target():
    zoo = make_model_zoo("digits", random_state=0)
    X, y = zoo.X_target, zoo.y_target
    rng = np.random.RandomState(0)
    train = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        train[rng.choice(np.flatnonzero(y == c), 20, replace=False)] = True
    accuracy = {}
    for name, model in zoo.models:
        F = extract_features(model, X)
        head = make_pipeline(StandardScaler(), LogisticRegression()).fit(F[train], y[train])
        accuracy[name] = head.score(F[~train], y[~train])
    # A model trained on all ten digits beats one that saw half the classes or 2 PCA axes.
    assert accuracy["mlp_all"] > 0.9
    assert accuracy["mlp_all"] > accuracy["mlp_first_half"] + 0.15
    assert accuracy["mlp_all"] > accuracy["pca_2"] + 0.2
    assert max(accuracy.values()) - min(accuracy.values()) > 0.3


def test_zoo_binary_dataset_skips_class_subsets():
    zoo = make_model_zoo("breast_cancer", architectures=["linear"], random_state=0)
    assert list(zoo.metadata.index) == ["linear_all", "linear_few_rows", "linear_shifted"]


def test_zoo_architecture_filter_keeps_the_same_models(wine_zoo):
    only_linear = make_model_zoo("wine", architectures="linear", random_state=0)
    assert set(only_linear.metadata["family"]) == {"linear"}
    full = dict(wine_zoo.models)
    for name, model in only_linear.models:
        np.testing.assert_allclose(
            model.predict_proba(wine_zoo.X_target), full[name].predict_proba(wine_zoo.X_target)
        )


def test_zoo_torch_mlp():
    torch = pytest.importorskip("torch")
    state = torch.random.get_rng_state()
    zoo = make_model_zoo("iris", architectures=["torch_mlp"], random_state=0)
    # Training the zoo's torch model leaves the caller's torch random stream alone.
    assert torch.equal(state, torch.random.get_rng_state())
    ((name, module),) = zoo.models
    assert name == "torch_mlp_all"
    assert isinstance(module, torch.nn.Module)
    logits = extract_features(module, zoo.X_target)
    assert logits.shape == (len(zoo.y_target), 3)
    assert zoo.metadata.loc[name, "source_score"] > 0.9
    assert np.mean(logits.argmax(axis=1) == zoo.y_target) > 0.8


def test_zoo_regression():
    zoo = make_model_zoo("diabetes", random_state=0)
    assert zoo.task == "regression"
    meta = zoo.metadata
    assert set(meta["kind"]) == {"regressor", "feature extractor"}
    median_split = meta.loc[["mlp_first_half", "linear_second_half"], "n_source_samples"]
    assert median_split.sum() == meta.loc["mlp_all", "n_source_samples"]
    X, y = zoo.X_target, zoo.y_target
    assert X.shape == (len(y), 10)
    r2 = {}
    for name, model in zoo.models:
        check_model_fitted(model, name)
        if meta.loc[name, "kind"] == "regressor":
            assert model.predict(X).shape == y.shape
            r2[name] = 1 - np.sum((y - model.predict(X)) ** 2) / np.sum((y - y.mean()) ** 2)
    # Trained on every source row, a ridge regression transfers; one trained on the
    # patients with a low target only does not.
    assert r2["linear_all"] > 0.3
    assert r2["linear_all"] > r2["linear_second_half"] + 0.3


def test_zoo_bad_parameters():
    with pytest.raises(ValueError, match="architectures must be among"):
        make_model_zoo("wine", architectures=["linear", "resnet"])
    with pytest.raises(ValueError, match="at least one"):
        make_model_zoo("wine", architectures=[])
    with pytest.raises(ValueError, match="'dataset' parameter"):
        make_model_zoo("mnist")
    with pytest.raises(ValueError, match="'target_fraction' parameter"):
        make_model_zoo("wine", target_fraction=0.95)


# -- make_transfer_task ---------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["breast_cancer", "iris", "diabetes"])
def test_transfer_task_shapes_and_determinism(dataset):
    task = make_transfer_task(dataset, n_shots=4, random_state=3)
    n_total = len(task.y_source) + len(task.y_target) + len(task.y_test)
    assert n_total == {"breast_cancer": 569, "iris": 150, "diabetes": 442}[dataset]
    n_features = task.X_source.shape[1]
    assert task.X_target.shape[1] == task.X_test.shape[1] == n_features
    if task.task == "classification":
        assert np.bincount(task.y_target).tolist() == [4] * len(np.unique(task.y_source))
    else:
        assert dataset == "diabetes"
        assert len(task.y_target) == 4
    _assert_bunches_equal(task, make_transfer_task(dataset, n_shots=4, random_state=3))


def test_transfer_task_shift_biases_the_source_model():
    no_shift = make_transfer_task("breast_cancer", shift=0.0, random_state=0)
    shifted = make_transfer_task("breast_cancer", shift=1.0, random_state=0)
    np.testing.assert_array_equal(no_shift.X_source, shifted.X_source)

    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        no_shift.X_source, no_shift.y_source
    )
    assert model.score(no_shift.X_test, no_shift.y_test) > 0.9
    assert (
        model.score(shifted.X_test, shifted.y_test)
        < model.score(no_shift.X_test, no_shift.y_test) - 0.05
    )


# -- make_heterogeneous_task ----------------------------------------------------------------


def test_heterogeneous_task_column_overlap_as_requested():
    task = make_heterogeneous_task(
        "wine", n_shared=5, n_vanished=4, n_new=2, n_shots=3, n_unlabeled=10, random_state=0
    )
    src, tgt = set(task.X_source.columns), set(task.X_target.columns)
    assert src & tgt == set(task.shared_features)
    assert len(task.shared_features) == 5
    assert src - tgt == set(task.vanished_features)
    assert len(task.vanished_features) == 4
    assert tgt - src == set(task.new_features)
    assert len(task.new_features) == 2
    assert list(task.X_test.columns) == list(task.X_target.columns)
    assert list(task.X_target_unlabeled.columns) == list(task.X_target.columns)
    assert len(task.X_target_unlabeled) == 10
    assert np.bincount(task.y_target).tolist() == [3, 3, 3]
    # Columns keep their data: a shared column holds real wine values of that feature.
    X = load_wine(as_frame=True).data
    name = task.shared_features[0]
    assert set(task.X_source[name]) <= set(X[name])
    _assert_bunches_equal(
        task,
        make_heterogeneous_task(
            "wine", n_shared=5, n_vanished=4, n_new=2, n_shots=3, n_unlabeled=10, random_state=0
        ),
    )


def test_heterogeneous_task_default_shares_the_rest_and_classes_differ():
    task = make_heterogeneous_task("iris", n_vanished=1, n_new=1, classes="different")
    assert len(task.shared_features) == 2
    assert set(task.y_source) == {0, 1}
    assert set(task.y_target) == set(task.y_test) == {1, 2}


def test_heterogeneous_task_bad_parameters():
    with pytest.raises(ValueError, match="exceeds the 13 features"):
        make_heterogeneous_task("wine", n_shared=10, n_vanished=3, n_new=3)
    with pytest.raises(ValueError, match="at least 3 classes"):
        make_heterogeneous_task("breast_cancer", classes="different")
    with pytest.raises(ValueError, match="at least one feature"):
        make_heterogeneous_task("iris", n_shared=0, n_vanished=0, n_new=2)
    with pytest.raises(ValueError, match="'classes' parameter"):
        make_heterogeneous_task("wine", classes="some")


# -- make_multiparty_task -------------------------------------------------------------------


def test_multiparty_class_sets_as_requested():
    task = make_multiparty_task("digits", party_classes=[[0, 1, 2], [2, 3], [7]])
    assert task.party_classes == [[0, 1, 2], [2, 3], [7]]
    for party, classes in enumerate(task.party_classes):
        assert set(task.y[task.groups == party]) == set(classes)
    assert set(task.y) == set(task.y_test) == {0, 1, 2, 3, 7}
    # Class 2 is shared: its rows are dealt out between parties 0 and 1 evenly.
    counts = np.bincount(task.groups[task.y == 2])
    assert abs(counts[0] - counts[1]) <= 1


def test_multiparty_default_blocks_cover_all_classes():
    task = make_multiparty_task("digits", n_parties=4, n_classes_per_party=3, random_state=1)
    assert task.party_classes == [[0, 1, 2], [2, 3, 4], [5, 6, 7], [7, 8, 9]]
    assert len(task.y) + len(task.y_test) == 1797
    assert task.X.shape == (len(task.y), 64)
    assert task.groups.shape == task.y.shape
    _assert_bunches_equal(
        task, make_multiparty_task("digits", n_parties=4, n_classes_per_party=3, random_state=1)
    )


def test_multiparty_bad_parameters():
    with pytest.raises(ValueError, match="cannot cover"):
        make_multiparty_task("digits", n_parties=2, n_classes_per_party=3)
    with pytest.raises(ValueError, match="does not have"):
        make_multiparty_task("iris", party_classes=[[0, 1], [5]])
    with pytest.raises(TypeError, match="list of lists"):
        make_multiparty_task("iris", party_classes=[0, 1])


# -- scenario builders shared by the demo, the examples and the tests -------------------------


@pytest.mark.parametrize("scenario", REFORM_SCENARIOS)
def test_make_reform_task_splits_follow_the_protocol(scenario):
    task = make_reform_task(scenario, n_shots=3, random_state=1)
    assert list(task.X_source.columns) == task.source_features
    for frame in (task.X_target, task.X_target_unlabeled, task.X_test):
        assert list(frame.columns) == task.target_features
    assert set(task.source_features) != set(task.target_features)
    assert set(task.source_features) & set(task.target_features)
    # Shots, unlabeled pool and test rows are disjoint, and split the target half.
    rows = [set(f.index) for f in (task.X_target, task.X_target_unlabeled, task.X_test)]
    assert len(rows[0] | rows[1] | rows[2]) == sum(len(r) for r in rows)
    assert abs(len(rows[1]) - len(rows[2])) <= 1
    classes, counts = np.unique(task.y_target, return_counts=True)
    assert np.all(counts == 3)
    assert set(np.unique(task.y_test)) <= set(classes)
    # Same seed, same task; another seed, other shots.
    again = make_reform_task(scenario, n_shots=3, random_state=1)
    pd.testing.assert_frame_equal(again.X_target, task.X_target)
    other = make_reform_task(scenario, n_shots=3, random_state=2)
    assert not other.X_source.index.equals(task.X_source.index)


def test_make_reform_task_matches_the_protocol_written_out():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    Xs, Xt, ys, yt = train_test_split(X, y, test_size=0.5, stratify=y, random_state=4)
    rng = np.random.RandomState(4)
    shot = np.concatenate([rng.choice(np.flatnonzero(yt == c), 5, replace=False) for c in (0, 1)])
    task = make_reform_task("breast_cancer_mean_to_worst", n_shots=5, random_state=4)
    np.testing.assert_array_equal(task.y_target, yt[shot])
    np.testing.assert_array_equal(
        task.X_target["worst area"].to_numpy(), Xt["worst area"].to_numpy()[shot]
    )
    np.testing.assert_array_equal(task.y_source, ys)
    assert not any(c.startswith("worst ") for c in task.source_features)
    assert not any(c.startswith("mean ") for c in task.target_features)
    new_classes = make_reform_task("digits_shifted_crop_new_classes", random_state=0)
    assert set(np.unique(new_classes.y_source)) == set(range(7))
    assert set(np.unique(new_classes.y_target)) == {0, 1, 2, 3, 4, 7, 8, 9}
    with pytest.raises(ValueError, match="scenario"):
        make_reform_task("nope")


def test_make_hmr_toy_parties_are_fresh_unfitted_learners():
    first, second = make_hmr_toy(random_state=3), make_hmr_toy(random_state=3)
    assert [n for n, _ in first.parties] == [
        "logistic regression",
        "RBF kernel",
        "gradient boosting",
    ]
    for (_, a), (_, b) in zip(first.parties, second.parties):
        assert a is not b
        assert repr(a) == repr(b)
        assert not hasattr(a, "classes_")
    assert dict(first.parties)["gradient boosting"].random_state == 3
