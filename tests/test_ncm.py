"""NCMClassifier: against NearestCentroid, brute-force distances, and incremental updates."""

import warnings

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.datasets import load_digits, load_iris
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreuse.inference import NCMClassifier
from skreuse.utils._class_means import class_mean_span, class_sums


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_:UserWarning")
def test_matches_nearest_centroid(digits):
    X_train, X_test, y_train, _ = digits
    ncm = NCMClassifier().fit(X_train, y_train)
    ref = NearestCentroid().fit(X_train, y_train)
    np.testing.assert_array_equal(ncm.predict(X_test), ref.predict(X_test))
    np.testing.assert_allclose(ncm.centroids_, ref.centroids_, rtol=1e-12)


@pytest.mark.parametrize("normalize", [None, "l2"])
def test_partial_fit_equals_fit_class_incremental(digits, normalize):
    X_train, _, y_train, _ = digits
    full = NCMClassifier(normalize=normalize).fit(X_train, y_train)
    inc = NCMClassifier(normalize=normalize)
    # Sessions of two new classes each, every session in several small batches.
    for session in np.array_split(np.arange(10), 5):
        rows = np.flatnonzero(np.isin(y_train, session))
        for batch in np.array_split(rows, 3):
            inc.partial_fit(X_train[batch], y_train[batch])
    np.testing.assert_array_equal(inc.classes_, full.classes_)
    np.testing.assert_allclose(inc.centroids_, full.centroids_, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(inc.class_count_, np.bincount(y_train))


def test_partial_fit_with_declared_classes_and_empty_class():
    X, y = load_iris(return_X_y=True)
    clf = NCMClassifier().partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match=r"Classes \[1, 2\] have no samples yet"):
        clf.predict(X)
    clf.partial_fit(X[y > 0], y[y > 0])
    assert clf.score(X, y) > 0.9


def test_partial_fit_label_outside_classes_on_first_call():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=r"labels \[2\] that are not in `classes`"):
        NCMClassifier().partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("normalize", [None, "l2", "cl2n"])
def test_proba_and_decision_against_brute_force(digits, metric, normalize):
    X_train, X_test, y_train, _ = digits
    clf = NCMClassifier(metric=metric, normalize=normalize, temperature=7.0).fit(X_train, y_train)

    def feats(A):
        if normalize == "cl2n":
            A = A - X_train.mean(axis=0)
        if normalize is not None:
            A = A / np.linalg.norm(A, axis=1, keepdims=True)
        return A

    F_train, F_test = feats(X_train), feats(X_test)
    means = np.stack([F_train[y_train == c].mean(axis=0) for c in range(10)])
    d = cdist(F_test, means, "sqeuclidean" if metric == "euclidean" else "cosine")
    np.testing.assert_allclose(clf.centroids_, means, atol=1e-12)
    np.testing.assert_allclose(clf.decision_function(X_test), -d / 7.0, atol=1e-8)
    np.testing.assert_allclose(clf.predict_proba(X_test), _softmax(-d / 7.0), atol=1e-10)
    np.testing.assert_allclose(clf.predict_log_proba(X_test), np.log(_softmax(-d / 7.0)), atol=1e-8)
    np.testing.assert_array_equal(clf.predict(X_test), d.argmin(axis=1))


def test_binary_decision_function_is_difference():
    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], np.where(y[y > 0] == 1, "versicolor", "virginica")
    clf = NCMClassifier().fit(X, y)
    d = cdist(X, clf.centroids_, "sqeuclidean")
    np.testing.assert_allclose(clf.decision_function(X), d[:, 0] - d[:, 1], atol=1e-9)
    assert set(clf.predict(X)) == {"versicolor", "virginica"}


def test_transformer_and_callable_backbone_unchanged(digits):
    X_train, X_test, y_train, _ = digits
    pca = PCA(n_components=20, random_state=0).fit(X_train)
    components = pca.components_.copy()
    by_pca = NCMClassifier(backbone=pca, features="backbone").fit(X_train, y_train)
    by_callable = NCMClassifier(backbone=pca.transform, features="backbone").fit(X_train, y_train)
    manual = NearestCentroid().fit(pca.transform(X_train), y_train)
    np.testing.assert_array_equal(by_pca.predict(X_test), manual.predict(pca.transform(X_test)))
    np.testing.assert_array_equal(by_callable.predict(X_test), by_pca.predict(X_test))
    np.testing.assert_array_equal(pca.components_, components)


def test_backends_agree(digits, backend):
    X_train, X_test, y_train, _ = digits
    ref = NCMClassifier(normalize="cl2n", metric="cosine").fit(X_train, y_train)
    clf = NCMClassifier(normalize="cl2n", metric="cosine", device=backend).fit(X_train, y_train)
    np.testing.assert_allclose(clf.centroids_, ref.centroids_, atol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X_test), ref.predict_proba(X_test), atol=1e-10)
    np.testing.assert_array_equal(clf.predict(X_test), ref.predict(X_test))


def test_torch_module_backbone(digits, backend):
    torch = pytest.importorskip("torch")
    X_train, X_test, y_train, _ = digits
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.5))
    net.train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    clf = NCMClassifier(backbone=net, features="backbone", device=backend, batch_size=100).fit(
        X_train, y_train
    )
    with torch.no_grad():
        net.eval()
        f_train = net(torch.as_tensor(X_train, dtype=torch.float32)).numpy()
        f_test = net(torch.as_tensor(X_test, dtype=torch.float32)).numpy()
        net.train()
    manual = NearestCentroid().fit(f_train, y_train)
    np.testing.assert_array_equal(clf.predict(X_test), manual.predict(f_test))
    assert net.training, "the user's module must be left in its own mode"
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k])
        assert v.device.type == "cpu"


def test_pipeline_grid_search(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(StandardScaler(), NCMClassifier())
    grid = GridSearchCV(
        pipe,
        {
            "ncmclassifier__metric": ["euclidean", "cosine"],
            "ncmclassifier__normalize": [None, "l2"],
        },
        cv=3,
    ).fit(X_train, y_train)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.score(X_test, y_test) > 0.85


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(bad):
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        NCMClassifier().fit(X, y)


def test_wrong_feature_count_at_predict():
    X, y = load_iris(return_X_y=True)
    clf = NCMClassifier().fit(X, y)
    with pytest.raises(ValueError, match="4 features"):
        clf.predict(X[:, :3])


def test_non_finite_backbone_features():
    X, y = load_iris(return_X_y=True)
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="NaN or infinite features"):
        NCMClassifier(backbone=lambda A: np.log(A - 5)).fit(X, y)


def test_bad_parameters():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="'metric' parameter"):
        NCMClassifier(metric="manhattan").fit(X, y)
    with pytest.raises(ValueError, match="'temperature' parameter"):
        NCMClassifier(temperature=0).fit(X, y)


def test_fitted_classifier_backbone_uses_its_probabilities(digits):
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, _ = digits
    source = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    source.fit(X_train[y_train < 5], y_train[y_train < 5])
    clf = NCMClassifier(backbone=source, features="backbone").fit(X_train, y_train)
    manual = NearestCentroid().fit(source.predict_proba(X_train), y_train)
    np.testing.assert_array_equal(clf.predict(X_test), manual.predict(source.predict_proba(X_test)))


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


def test_probabilities_stay_exact_far_from_every_class_mean():
    # Rows whose squared distances to the means are ~1e6 (exp underflows) next to a row
    # close to the means: the softmax must be stabilized row by row.
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(20, 3)), rng.normal(size=(20, 3)) + 4.0]
    y = np.repeat([0, 1], 20)
    ncm = NCMClassifier().fit(X, y)
    queries = np.array([[1.0, 1.0, 1.0], [900.0, 1000.0, 1100.0], [-1000.0, 0.0, 5.0]])
    means = np.array([X[y == k].mean(axis=0) for k in (0, 1)])
    z = -cdist(queries, means, "sqeuclidean")
    expected = _softmax(z)
    proba = ncm.predict_proba(queries)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba, expected, rtol=1e-6, atol=1e-12)
    log_expected = z - z.max(axis=1, keepdims=True)
    log_expected -= np.log(np.exp(log_expected).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(ncm.predict_log_proba(queries), log_expected, rtol=1e-6)


def test_squared_distance_of_a_class_mean_to_itself_is_not_negative():
    # |f|^2 - 2 f.m + |m|^2 cancels to round-off at f = m; a distance is never negative.
    rng = np.random.RandomState(0)
    X = 1e4 + rng.normal(size=(60, 5))
    y = np.repeat([0, 1, 2], 20)
    ncm = NCMClassifier().fit(X, y)
    means = np.array([X[y == k].mean(axis=0) for k in range(3)])
    scores = ncm.decision_function(np.repeat(means, 20, axis=0) + rng.normal(size=(60, 5)) * 1e-7)
    assert np.all(scores <= 0.0)


def test_cosine_distance_to_unit_norm_class_means():
    # Class means of norm exactly 1: the cosine distance of a row along a mean is 0.
    X = np.repeat(np.eye(3), 4, axis=0)
    y = np.repeat([0, 1, 2], 4)
    ncm = NCMClassifier(metric="cosine").fit(X, y)
    queries = np.array([[2.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 3.0]])
    expected = -cdist(queries, np.eye(3), "cosine")
    np.testing.assert_allclose(ncm.decision_function(queries), expected, atol=1e-12)


def test_backbone_takes_multidimensional_input():
    # Images (n, 2, 3) through a flattening backbone: fit and predict accept n-d input.
    rng = np.random.RandomState(0)
    images = rng.normal(size=(30, 2, 3)) + np.repeat([0.0, 3.0, 6.0], 10)[:, None, None]
    y = np.repeat([0, 1, 2], 10)
    ncm = NCMClassifier(
        backbone=lambda Z: np.asarray(Z).reshape(len(Z), -1), features="backbone"
    ).fit(images, y)
    flat = NCMClassifier().fit(images.reshape(30, -1), y)
    np.testing.assert_allclose(
        ncm.predict_proba(images), flat.predict_proba(images.reshape(30, -1)), rtol=1e-12
    )


def test_l2_normalization_keeps_unit_rows_and_zero_rows():
    # Rows already of norm 1 are unchanged by normalize="l2", and a zero row stays zero.
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.0, 0.0], [3.0, 4.0], [0.0, 2.0]])
    y = np.array([0, 1, 0, 1, 0, 1])
    ncm = NCMClassifier(normalize="l2").fit(X, y)
    unit = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    expected = np.array([unit[y == k].mean(axis=0) for k in (0, 1)])
    np.testing.assert_allclose(ncm.centroids_, expected, atol=1e-12)


def test_partial_fit_with_declared_classes_and_single_samples():
    # Declared classes without rows yet have a zero centroid (and no NaN); a class seen
    # once has that row as its centroid; a later fit starts again from scratch.
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    y = np.array([0, 0, 1])
    ncm = NCMClassifier().partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(ncm.centroids_, [[2.0, 3.0], [5.0, 7.0], [0.0, 0.0]])
    np.testing.assert_array_equal(ncm.class_count_, [2, 1, 0])
    ncm.fit(X[1:], y[1:])
    np.testing.assert_array_equal(ncm.classes_, [0, 1])
    np.testing.assert_array_equal(ncm.centroids_, [[3.0, 4.0], [5.0, 7.0]])
    np.testing.assert_array_equal(ncm.class_count_, [1, 1])


# -- features="auto": the backbone, the inputs or both, by leave-one-out ---------------------


def _brute_force_loo(F, y, metric):
    """Leave-one-out accuracy by refitting the rule n times; a row alone in its class is an
    error (its class has no mean without it)."""
    hits = []
    for i in range(len(y)):
        rest = np.arange(len(y)) != i
        if not np.any(y[rest] == y[i]):
            hits.append(False)
            continue
        if metric == "euclidean":
            pred = NearestCentroid().fit(F[rest], y[rest]).predict(F[i : i + 1])[0]
        else:
            classes = np.unique(y[rest])
            means = np.array([F[rest][y[rest] == c].mean(axis=0) for c in classes])
            pred = classes[np.argmin(cdist(F[i : i + 1], means, metric="cosine"))]
        hits.append(pred == y[i])
    return np.mean(hits)


def _brute_force_loo_distances(F, y, metric):
    """Distances of each row not alone in its class to the class means of the other rows
    (squared Euclidean, or cosine distance), by refitting; and those rows' class codes."""
    classes = np.unique(y)
    D, codes = [], []
    for i in range(len(y)):
        rest = np.arange(len(y)) != i
        if not np.any(y[rest] == y[i]):
            continue
        means = np.array([F[rest][y[rest] == c].mean(axis=0) for c in classes])
        D.append(
            cdist(F[i : i + 1], means, "sqeuclidean" if metric == "euclidean" else "cosine")[0]
        )
        codes.append(np.searchsorted(classes, y[i]))
    return np.array(D), np.array(codes)


def _grid_log_loss(F, y, metric):
    """Least mean leave-one-out log loss of softmax(-beta D) over a fine grid of beta."""
    D, codes = _brute_force_loo_distances(F, y, metric)
    best = np.log(D.shape[1])  # beta = 0
    for beta in np.logspace(-4, 4, 16001) / np.std(D):
        Z = -beta * D
        Z -= Z.max(axis=1, keepdims=True)
        loss = np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(codes)), codes]
        best = min(best, loss.mean())
    return best


def _task(n_per_class, seed=0, informative=2, noise_dims=8, spread=1.0):
    """Three classes apart in the first ``informative`` columns; the others are noise."""
    means = 3.0 * np.random.RandomState(42).normal(size=(3, informative))
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2], n_per_class)
    X = np.hstack(
        [means[y] + rng.normal(size=(len(y), informative)),
         spread * rng.normal(size=(len(y), noise_dims))]
    )  # fmt: skip
    return X, y


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_auto_leave_one_out_matches_refitting(metric):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(14, 5)) + np.repeat(np.eye(5)[:4] * 2, [1, 2, 4, 7], axis=0)
    y = np.repeat([3, 5, 7, 9], [1, 2, 4, 7])  # one class with a single row
    W = rng.normal(size=(5, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. an option the temperature search ignores
        clf = NCMClassifier(backbone=lambda Z: Z @ W, metric=metric).fit(X, y)
    spaces = {"backbone": X @ W, "inputs": X, "both": np.hstack([X @ W, X])}
    assert set(clf.loo_accuracy_) == set(clf.loo_log_loss_) == set(spaces)
    for space, F in spaces.items():
        assert clf.loo_accuracy_[space] == pytest.approx(_brute_force_loo(F, y, metric))
        # the least loss over a fine grid of temperatures, at least as low as any point
        grid = _grid_log_loss(F, y, metric)
        assert grid - 1e-6 <= clf.loo_log_loss_[space] <= grid + 1e-12
    # The backbone (3 of 5 dimensions) does not collapse the 4 classes: the least loss wins.
    assert _span(X @ W, y) == _span(X, y) == 3
    assert clf.features_ == min(clf.loo_log_loss_, key=clf.loo_log_loss_.get)
    ref = NCMClassifier(backbone=lambda Z: Z @ W, metric=metric, features=clf.features_)
    np.testing.assert_allclose(clf.centroids_, ref.fit(X, y).centroids_, rtol=1e-12)


@pytest.mark.parametrize("n_per_class", [3, 5])
def test_auto_falls_back_to_the_inputs_with_an_irrelevant_backbone(n_per_class):
    X, y = _task(n_per_class)
    X_test, y_test = _task(100, seed=1)
    # The backbone's features are loud pseudo-random numbers: its class means say nothing.
    W = np.random.RandomState(3).normal(size=(10, 6))

    def noise(Z):
        return 5 * np.sin(100 * Z @ W)

    clf = NCMClassifier(backbone=noise).fit(X, y)
    assert clf.features_ == "inputs"
    assert clf.loo_accuracy_["inputs"] > max(
        clf.loo_accuracy_["backbone"], clf.loo_accuracy_["both"]
    )
    target_only = NearestCentroid().fit(X, y)
    np.testing.assert_array_equal(clf.predict(X_test), target_only.predict(X_test))
    forced = NCMClassifier(backbone=noise, features="backbone").fit(X, y)
    assert forced.score(X_test, y_test) < clf.score(X_test, y_test) - 0.3


def test_auto_keeps_a_perfect_backbone():
    # Inputs drowned in loud noise columns; the backbone keeps the informative ones.
    X, y = _task(5, noise_dims=40, spread=4.0)
    X_test, y_test = _task(100, seed=1, noise_dims=40, spread=4.0)
    clf = NCMClassifier(backbone=lambda Z: Z[:, :2]).fit(X, y)
    assert clf.features_ == "backbone"
    assert clf.loo_accuracy_["backbone"] > clf.loo_accuracy_["inputs"]
    reference = NearestCentroid().fit(X[:, :2], y)
    np.testing.assert_array_equal(clf.predict(X_test), reference.predict(X_test[:, :2]))
    assert clf.score(X_test, y_test) > NearestCentroid().fit(X, y).score(X_test, y_test) + 0.1


def test_auto_with_one_row_per_class_keeps_the_backbone():
    # Nothing can be left out: every space scores 0, and the backbone is kept.
    X, y = _task(1)
    # It says so, at the user's line, and how to choose (the same fit as below).
    with pytest.warns(UserWarning, match="without comparing them with the inputs") as record:
        clf = NCMClassifier(backbone=lambda Z: Z[:, 2:] * 1.0).fit(X, y)
    assert [r.filename for r in record] == [__file__]
    assert clf.loo_accuracy_ == {"both": 0.0, "backbone": 0.0, "inputs": 0.0}
    assert clf.features_ == "backbone"
    np.testing.assert_allclose(clf.centroids_, X[:, 2:])


def test_auto_with_two_rows_per_class_keeps_the_backbone():
    # Each left-out row would be judged by the one row left in its class: too noisy to
    # overrule the backbone, even where the inputs score better.
    # The backbone's two columns give three class means in general position, as the
    # inputs' do (it does not collapse classes).
    y = np.repeat([0, 1, 2], 2)
    rng = np.random.RandomState(0)
    X = np.hstack([rng.normal(size=(6, 2)), 100.0 * y[:, None] + rng.normal(size=(6, 2))])
    with pytest.warns(UserWarning, match="at most two labelled rows per class"):
        clf = NCMClassifier(backbone=lambda Z: Z[:, :2] * 1.0).fit(X, y)
    assert clf.loo_accuracy_["inputs"] > clf.loo_accuracy_["backbone"]
    assert clf.features_ == "backbone"
    np.testing.assert_allclose(clf.centroids_, NearestCentroid().fit(X[:, :2], y).centroids_)


def test_the_unexamined_backbone_warning_is_raised_only_where_auto_kept_it_unexamined():
    X, y = _task(1)
    backbone = lambda Z: Z[:, 2:] * 1.0  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # A space the user chose, or no backbone: no choice was made for them.
        for features in ("backbone", "both", "inputs"):
            NCMClassifier(backbone=backbone, features=features).fit(X, y)
        NCMClassifier().fit(X, y)
        # Three rows per class: the spaces are compared (leave-one-out).
        X3, y3 = _task(3)
        NCMClassifier(backbone=backbone).fit(X3, y3)
    # The first call of partial_fit makes the choice (and warns at the user's line);
    # later calls add to the means of that space and do not.
    clf = NCMClassifier(backbone=backbone)
    with pytest.warns(UserWarning, match="without comparing") as record:
        clf.partial_fit(X, y)
    assert [r.filename for r in record] == [__file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.partial_fit(X, y)
    # Inside a Pipeline, too, the warning names the user's line, not scikit-learn's.
    with pytest.warns(UserWarning, match="without comparing") as record:
        make_pipeline(NCMClassifier(backbone=backbone)).fit(X, y)
    assert [r.filename for r in record] == [__file__]


def test_auto_ties_go_to_both():
    # A backbone that is the inputs themselves: the three spaces are one geometry ("both"
    # doubles the distances, which the temperature absorbs), so they tie and "both" wins.
    X, y = _task(4)
    clf = NCMClassifier(backbone=lambda Z: Z * 1.0).fit(X, y)
    losses = list(clf.loo_log_loss_.values())
    assert max(losses) - min(losses) < 1e-9
    assert clf.features_ == "both"
    np.testing.assert_allclose(
        clf.centroids_, NearestCentroid().fit(np.hstack([X, X]), y).centroids_
    )


def test_least_loss_breaks_ties_in_the_order_given():
    from skreuse.inference._ncm import _least_loss

    spaces = ["both", "backbone", "inputs"]
    assert _least_loss({"both": 0.5, "backbone": 0.3, "inputs": 0.3}, spaces) == "backbone"
    assert _least_loss({"both": 0.3 + 1e-12, "backbone": 0.3, "inputs": 0.2}, spaces) == "inputs"
    assert _least_loss({"both": 0.3 + 1e-12, "backbone": 0.3, "inputs": 0.4}, spaces) == "both"
    assert _least_loss({"both": 0.3 + 1e-6, "backbone": 0.3, "inputs": 0.4}, spaces) == "backbone"
    # "to rounding": 1e-9 of the loss when it is above 1, 1e-9 below
    assert _least_loss({"both": 0.3 + 1.5e-9, "backbone": 0.3, "inputs": 0.4}, spaces) == "backbone"
    assert _least_loss({"both": 1e3 + 1e-8, "backbone": 1e3, "inputs": 2e3}, spaces) == "both"


def test_leave_one_out_log_loss_is_scale_free_and_uninformative_spaces_score_log_k():
    X, y = _task(4)
    small = NCMClassifier(backbone=lambda Z: Z[:, :2] * 1.0).fit(X, y)
    large = NCMClassifier(backbone=lambda Z: Z[:, :2] * 1e3).fit(X, y)
    assert large.loo_log_loss_["backbone"] == pytest.approx(
        small.loo_log_loss_["backbone"], rel=1e-6
    )
    # A backbone that maps every row to the same point: every class is as likely (and no
    # division by its zero spread of distances warns).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat = NCMClassifier(backbone=lambda Z: np.ones((len(Z), 2))).fit(X, y)
    assert flat.loo_log_loss_["backbone"] == pytest.approx(np.log(3), rel=1e-12)
    # Classes interleaved so that every left-out row is nearer the other class's mean: no
    # temperature beats uniform probabilities, and the loss is theirs, log 2, exactly.
    X2, y2 = np.array([[0.0], [3.0], [1.0], [2.0]]), np.array([0, 0, 1, 1])
    odd = NCMClassifier(backbone=lambda Z: Z * 1.0).fit(X2, y2)
    assert odd.loo_accuracy_["inputs"] == 0.0
    assert odd.loo_log_loss_ == {"both": np.log(2), "backbone": np.log(2), "inputs": np.log(2)}
    # "both" adds a constant to the inputs, so it ties with them, and the tie goes to it.
    assert flat.loo_log_loss_["both"] == pytest.approx(flat.loo_log_loss_["inputs"], rel=1e-9)
    assert flat.features_ == "both"


def test_leave_one_out_log_losses_ignore_an_offset_per_row():
    # The softmax ignores a constant added to a row's distances (a row far from every mean
    # has large distances to all of them), so the losses and their best temperature do too.
    from skreuse.inference._ncm import _loo_log_losses

    rng = np.random.RandomState(0)
    codes = np.repeat([0, 1, 2], 4)
    D = rng.uniform(size=(12, 3)) + 0.5 * (np.arange(3)[None, :] != codes[:, None])
    base = _loo_log_losses(D, codes)
    assert 0 < base.mean() < np.log(3)
    for offset in (1e6 * np.ones(12), 1e6 * np.arange(12)):
        np.testing.assert_allclose(_loo_log_losses(D + offset[:, None], codes), base, rtol=1e-6)


def test_leave_one_out_log_losses_of_separated_rows_stop_at_the_coldest_temperature():
    # Every left-out row nearest its own class: the loss falls as the temperature does, and
    # the search stops at an inverse temperature of 1e3 per unit of the rows' spread of
    # distances (mean absolute deviation from the row's mean, after shifting each row's
    # least distance to 0).
    from skreuse.inference._ncm import _loo_log_losses

    rng = np.random.RandomState(0)
    codes = np.repeat([0, 1, 2], 4)
    # own class at 0, the next class 0.1 to 0.11 away, the last one 10 or 20 away
    far = 10.0 + 10.0 * (np.arange(12) % 2)
    D = np.where(np.arange(3)[None, :] == codes[:, None], 0.0, far[:, None])
    D[np.arange(12), (codes + 1) % 3] = 0.1 + 0.01 * rng.uniform(size=12)
    D += rng.uniform(size=(12, 1))  # an offset per row
    shifted = D - D.min(axis=1, keepdims=True)
    spread = np.mean(np.abs(shifted - shifted.mean(axis=1, keepdims=True)))
    Z = -1e3 / spread * shifted
    Z -= Z.max(axis=1, keepdims=True)
    expected = np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(12), codes]
    assert 1e-12 < expected.mean() < 1e-6
    np.testing.assert_allclose(_loo_log_losses(D, codes), expected, rtol=1e-3)


def test_clearly_lower_needs_a_lead_of_two_standard_errors():
    from skreuse.inference._ncm import _clearly_lower

    assert not _clearly_lower(np.array([0.0]), np.array([5.0]))  # one row: no error bar
    assert _clearly_lower(np.zeros(3), np.ones(3))  # a lead without spread
    assert _clearly_lower(np.zeros(2), np.ones(2))
    assert not _clearly_lower(np.zeros(3), np.zeros(3))
    b = np.array([1.0, 0.0, 0.0, 0.0])  # lead 0.25, standard error 0.25
    assert not _clearly_lower(np.zeros(4), b)
    assert _clearly_lower(np.zeros(4), b + 0.3)


@pytest.mark.parametrize("normalize", [None, "cl2n"])
def test_auto_partial_fit_keeps_the_space_of_the_first_call(normalize):
    X, y = _task(20, noise_dims=40, spread=4.0)
    first = np.isin(y, [0, 1])
    inc = NCMClassifier(backbone=lambda Z: Z[:, :2], normalize=normalize)
    inc.partial_fit(X[first], y[first])
    chosen = inc.features_
    inc.partial_fit(X[~first], y[~first])  # a new class, in the same space
    assert inc.features_ == chosen == "backbone"
    ref = NCMClassifier(backbone=lambda Z: Z[:, :2], normalize=normalize, features=chosen)
    ref.partial_fit(X[first], y[first]).partial_fit(X[~first], y[~first])
    np.testing.assert_allclose(inc.centroids_, ref.centroids_, rtol=1e-12)
    if normalize == "cl2n":
        np.testing.assert_allclose(inc.center_, X[first][:, :2].mean(axis=0), rtol=1e-12)


def test_inputs_of_more_than_two_dimensions_are_flattened():
    rng = np.random.RandomState(0)
    images = rng.normal(size=(30, 2, 3)) + np.repeat([0.0, 3.0, 6.0], 10)[:, None, None]
    y = np.repeat([0, 1, 2], 10)
    flat = images.reshape(30, -1)
    clf = NCMClassifier(backbone=lambda Z: np.asarray(Z)[:, 0, :], features="both")
    clf.fit(images, y)
    ref = NearestCentroid().fit(np.hstack([images[:, 0, :], flat]), y)
    np.testing.assert_allclose(clf.centroids_, ref.centroids_, rtol=1e-12)
    inputs = NCMClassifier(backbone=lambda Z: np.asarray(Z)[:, 0, :], features="inputs")
    np.testing.assert_allclose(
        inputs.fit(images, y).centroids_, NearestCentroid().fit(flat, y).centroids_
    )


def test_features_without_backbone_and_errors():
    X, y = load_iris(return_X_y=True)
    for features in ("auto", "backbone", "inputs"):
        clf = NCMClassifier(features=features).fit(X, y)
        assert clf.features_ == "inputs"
        assert clf.loo_accuracy_ == {}
        np.testing.assert_allclose(clf.centroids_, NearestCentroid().fit(X, y).centroids_)
    with pytest.raises(ValueError, match="features='both' .* backbone=None"):
        NCMClassifier(features="both").fit(X, y)
    with pytest.raises(ValueError, match="features"):
        NCMClassifier(features="raw").fit(X, y)


def test_loader_keeps_the_backbone():
    torch = pytest.importorskip("torch")
    X, y = _task(10)
    net = torch.nn.Linear(10, 4).double()
    ds = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    clf = NCMClassifier(backbone=net).fit(ds)
    assert clf.features_ == "backbone"
    # Prediction reads the loader through the backbone too, in the loader's row order.
    ref = NCMClassifier(backbone=net, features="backbone").fit(X, y)
    np.testing.assert_allclose(clf.centroids_, ref.centroids_, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(ds), ref.predict_proba(X), rtol=1e-9)
    np.testing.assert_array_equal(clf.predict(ds), ref.predict(X))
    for features in ("inputs", "both"):
        with pytest.raises(ValueError, match=f"features='{features}' needs the inputs"):
            NCMClassifier(backbone=net, features=features).fit(ds)


def test_auto_leave_one_out_cosine_with_a_zero_row_matches_refitting():
    # A zero feature vector has cosine 0 with every mean, in prediction as in the choice.
    rng = np.random.RandomState(2)
    X = rng.normal(size=(12, 3))
    X[4] = 0.0
    y = np.repeat([0, 1, 2], 4)
    clf = NCMClassifier(backbone=lambda Z: Z[:, :2] * 1.0, metric="cosine").fit(X, y)
    for space, F in {"backbone": X[:, :2], "inputs": X}.items():
        hits = [
            NCMClassifier(metric="cosine")
            .fit(F[np.arange(12) != i], y[np.arange(12) != i])
            .predict(F[i : i + 1])[0]
            == y[i]
            for i in range(12)
        ]
        assert clf.loo_accuracy_[space] == pytest.approx(np.mean(hits))


def test_both_on_the_torch_path_matches_numpy(backend):
    X, y = _task(6)
    ref = NCMClassifier(backbone=lambda Z: np.asarray(Z)[:, :2] * 2.0, features="both")
    ref.fit(X, y)
    clf = NCMClassifier(
        backbone=lambda Z: np.asarray(Z)[:, :2] * 2.0, features="both", device=backend
    ).fit(X, y)
    np.testing.assert_allclose(clf.centroids_, ref.centroids_, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=1e-9)


def test_cosine_leave_one_out_with_a_zero_row_in_a_two_row_class():
    # Row 0's class mean without it is the zero vector: cosine 0, distance 1, so the
    # nearer class (cosine > 0) wins, in the choice as in a refitted classifier.
    X = np.array([[1.0, 0.1], [0.0, 0.0], [1.0, 0.3], [0.9, 0.2], [-1.0, 5.0], [-1.2, 4.0]])
    y = np.array([0, 0, 1, 1, 2, 2])
    clf = NCMClassifier(backbone=lambda Z: Z * 2.0, metric="cosine").fit(X, y)
    hits = [
        NCMClassifier(metric="cosine")
        .fit(X[np.arange(6) != i], y[np.arange(6) != i])
        .predict(X[i : i + 1])[0]
        == y[i]
        for i in range(6)
    ]
    assert hits[0] is np.False_
    assert clf.loo_accuracy_["inputs"] == pytest.approx(np.mean(hits))


def test_loader_paths_match_the_array_paths():
    torch = pytest.importorskip("torch")
    X, y = _task(10)
    net = torch.nn.Sequential(torch.nn.Linear(10, 6), torch.nn.Tanh(), torch.nn.Linear(6, 4))
    net = net.double()
    inputs_only = torch.utils.data.TensorDataset(torch.as_tensor(X))
    labelled = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    for layer in (None, "1"):
        ref = NCMClassifier(backbone=net, layer=layer, features="backbone").fit(X, y)
        # y given with a loader of inputs; then a loader that brings its labels
        clf = NCMClassifier(backbone=net, layer=layer).fit(X, y).fit(inputs_only, y)
        assert not hasattr(clf, "n_features_in_")
        assert clf.features_ == "backbone"
        np.testing.assert_allclose(clf.centroids_, ref.centroids_, rtol=1e-12)
        np.testing.assert_allclose(clf.decision_function(labelled), ref.decision_function(X))
        # class-incremental sessions from loaders
        first, second = y < 2, y == 2
        inc = NCMClassifier(backbone=net, layer=layer)
        inc.partial_fit(torch.utils.data.TensorDataset(torch.as_tensor(X[first])), y[first])
        inc.partial_fit(torch.utils.data.TensorDataset(torch.as_tensor(X[second])), y[second])
        np.testing.assert_allclose(inc.centroids_, ref.centroids_, rtol=1e-12)
    with pytest.raises(ValueError, match="y is None"):
        NCMClassifier(backbone=net).fit(inputs_only)
    # the layer's features differ from the output's
    out = NCMClassifier(backbone=net, features="backbone").fit(X, y)
    assert out.centroids_.shape[1] == 4
    assert (
        NCMClassifier(backbone=net, layer="1", features="backbone").fit(X, y).centroids_.shape[1]
        == 6
    )


def test_prediction_in_small_chunks_equals_one_chunk(monkeypatch):
    from skreuse.inference import _ncm

    X, y = _task(30)
    clf = NCMClassifier(backbone=lambda Z: Z[:, :4] * 1.0).fit(X, y)
    whole = clf.predict_proba(X), clf.predict(X)
    monkeypatch.setattr(_ncm, "_PREDICT_CHUNK_ENTRIES", 10 * 7)  # 7 rows per chunk
    np.testing.assert_allclose(clf.predict_proba(X), whole[0], rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), whole[1])


def test_partial_fit_checks_the_number_of_features_and_nan_tag():
    from sklearn.utils import get_tags

    X, y = _task(5)
    clf = NCMClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)
    assert get_tags(clf).input_tags.allow_nan is False


def _span(F, y):
    """Dimensions spanned by the class means of ``F`` around their mean, by brute force."""
    means = np.array([F[y == c].mean(axis=0) for c in np.unique(y)])
    return np.linalg.matrix_rank(means - means.mean(axis=0))


def test_auto_does_not_keep_a_backbone_that_collapses_classes_at_one_row_per_class():
    # A backbone trained on two of the three classes (an LDA: one component) puts the third
    # class on the line through the other two; the inputs keep the three apart. With one row
    # per class nothing can be left out, so the span of the class means decides: "both".
    rng = np.random.RandomState(0)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    y_source = np.repeat([0, 1], 50)
    lda = LinearDiscriminantAnalysis().fit(centres[y_source] + rng.normal(size=(100, 2)), y_source)
    X, y = centres + 0.3 * rng.normal(size=(3, 2)), np.array([0, 1, 2])
    assert (_span(lda.transform(X), y), _span(X, y)) == (1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "both" is no unexamined reuse: nothing to warn of
        clf = NCMClassifier(backbone=lda).fit(X, y)
    assert clf.features_ == "both"
    # One row per class: the class means are the rows, side by side in both spaces.
    np.testing.assert_allclose(clf.centroids_, np.hstack([lda.transform(X), X]))
    y_test = np.repeat([0, 1, 2], 200)
    X_test = centres[y_test] + rng.normal(size=(600, 2))
    alone = NCMClassifier(backbone=lda, features="backbone").fit(X, y)
    assert clf.score(X_test, y_test) > alone.score(X_test, y_test) + 0.1


def test_auto_keeps_a_collapsing_backbone_only_where_it_is_clearly_better():
    # The one-dimensional backbone collapses the three classes' means onto a line, but
    # orders them along it, far apart; the inputs add two loud noise columns.
    def task(n):
        y = np.repeat([0, 1, 2], n)
        rng = np.random.RandomState(0)
        noise = 10.0 * rng.normal(size=(3 * n, 2))
        return np.hstack([10.0 * y[:, None] + rng.normal(size=(3 * n, 1)), noise]), y

    def backbone(Z):
        return Z[:, :1] * 1.0

    X, y = task(20)
    assert (_span(backbone(X), y), _span(X, y)) == (1, 2)
    clf = NCMClassifier(backbone=backbone).fit(X, y)
    loss = clf.loo_log_loss_
    assert loss["backbone"] < min(loss["both"], loss["inputs"])
    assert clf.features_ == "backbone"
    # Three rows per class: the backbone's loss is still the least, but its lead rests on
    # the two rows "both" gets wrong, within two standard errors: "both".
    X, y = task(3)
    few = NCMClassifier(backbone=backbone).fit(X, y)
    loss = few.loo_log_loss_
    assert loss["backbone"] < loss["both"] < loss["inputs"]
    assert few.loo_accuracy_["both"] == pytest.approx(7 / 9)
    assert few.features_ == "both"
    # The same rows without the collapse (a second backbone column that separates the
    # classes across the line): the least loss wins.
    wide = NCMClassifier(backbone=lambda Z: np.c_[Z[:, :1], 3.0 * (y == 1)]).fit(X, y)
    assert wide.features_ == "backbone"
    # Two rows per class: the span alone decides, "both".
    two = np.r_[0:2, 3:5, 6:8]
    assert NCMClassifier(backbone=backbone).fit(X[two], y[two]).features_ == "both"


def test_auto_sets_aside_a_collapsing_backbone_on_the_classes_scenario():
    # Digits, the source an LDA fitted on the rows of 6 of the 10 classes (5 components),
    # 3 labelled rows of each class: the backbone's leave-one-out loss is the least, by
    # less than two standard errors; "both" is chosen, and is better on the other rows.
    from sklearn.feature_selection import VarianceThreshold

    from skreuse.datasets._scenarios import class_subsets, draw_shots

    s = class_subsets("digits", random_state=5)
    lda = make_pipeline(VarianceThreshold(), LinearDiscriminantAnalysis())
    lda.fit(s.X_source, s.y_source)
    shots, test = draw_shots(s.y_target, 3, 5, 300)
    X, y = s.X_target[shots], s.y_target[shots]
    clf = NCMClassifier(backbone=lda).fit(X, y)
    assert min(clf.loo_log_loss_, key=clf.loo_log_loss_.get) == "backbone"
    assert clf.features_ == "both"
    alone = NCMClassifier(backbone=lda, features="backbone").fit(X, y)
    X_test, y_test = s.X_target[test], s.y_target[test]
    assert clf.score(X_test, y_test) > alone.score(X_test, y_test) + 0.03


def test_class_mean_span_of_float32_probabilities():
    # Probabilities over two classes sum to one: in float32 only to float32 rounding, which the
    # float32 tolerance does not count as a dimension (numpy's float64 one does).
    rng = np.random.RandomState(0)
    p = rng.uniform(size=(6, 1))
    P = np.hstack([p, 1 - p]).astype(np.float32)
    codes = np.arange(6) % 3
    counts = np.bincount(codes).astype(np.float64)
    sums = class_sums(P, codes, 3)
    assert class_mean_span(sums, counts, np.float32) == 1
    assert _span(P.astype(np.float64), codes) == 2
    means = np.array([P[codes == c].mean(axis=0) for c in range(3)], dtype=np.float64)
    centred = means - means.mean(axis=0)
    tol = np.linalg.svd(centred, compute_uv=False).max() * 3 * np.finfo(np.float32).eps
    assert np.linalg.matrix_rank(centred, tol=tol) == 1
    assert class_mean_span(np.zeros((3, 2)), counts) == 0
    # A class without rows is left out.
    assert class_mean_span(sums, np.array([2.0, 2.0, 0.0])) == 1


def test_class_mean_span_of_a_weak_classifiers_probabilities():
    # The probabilities of a weak classifier over k classes are all near 1 / k: the class
    # means differ by little next to their common part, and centring them leaves rounding
    # errors of the means' own size, which matrix_rank's tolerance (relative to the centred
    # means) counts as a dimension. With k + 1 target classes they span k - 1 dimensions
    # (the rows sum to one); rows that do not, k.
    rng = np.random.RandomState(0)
    spurious = 0
    for k in (2, 3, 5):
        for spread in (1e-1, 1e-3, 1e-6):
            Z = spread * rng.normal(size=(60, k))
            P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
            codes = np.arange(60) % (k + 1)
            counts = np.bincount(codes).astype(np.float64)
            assert class_mean_span(class_sums(P, codes, k + 1), counts) == k - 1
            spurious += _span(P, codes) > k - 1
            # A real dimension is still counted: one class's first column scaled up.
            Q = P * (1 + spread * (codes == 0))[:, None] ** np.eye(k)[0]
            assert class_mean_span(class_sums(Q, codes, k + 1), counts) == k
            # Two classes (one dimension at most) of a weak binary classifier.
            two = codes % 2
            assert class_mean_span(class_sums(P[:, :2], two, 2), np.bincount(two) * 1.0) == 1
    assert spurious >= 3  # the case this is about


def test_span_rule_with_a_torch_backbone_of_float32_features(backend):
    # A torch backbone gives float32 features (a tensor on the torch path): one row per
    # class, a two-class softmax collapses the third class (its probabilities sum to one, up
    # to float32 rounding), a three-class softmax does not.
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    X = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]) + 0.3
    y = np.array([0, 1, 2])
    for n_out, expected in ((2, "both"), (3, "backbone")):
        net = torch.nn.Sequential(torch.nn.Linear(2, n_out), torch.nn.Softmax(dim=1))
        clf = NCMClassifier(backbone=net, device=backend).fit(X, y)
        with torch.no_grad():
            P = net(torch.as_tensor(X, dtype=torch.float32)).numpy()
        assert clf.features_ == expected
        means = np.hstack([P, X]) if expected == "both" else P
        np.testing.assert_allclose(clf.centroids_, means, rtol=1e-6)


# -- issue 20: behaviour that mutation testing found unchecked -------------------------------


def test_partial_fit_sessions_on_every_backend(backend):
    # Later sessions compute their features on the same backend as the first one.
    X, y = _task(8)
    ref = NCMClassifier(normalize="l2").fit(X, y)
    first = y < 2
    clf = NCMClassifier(normalize="l2", device=backend).partial_fit(X[first], y[first])
    clf.partial_fit(X[~first], y[~first])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_allclose(clf.centroids_, ref.centroids_, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=1e-9)


def test_torch_backbone_runs_in_batches_of_batch_size():
    # The forward passes see at most batch_size rows, on arrays and on a Dataset, in fit and
    # predict (the memory of a large backbone is bounded by it).
    torch = pytest.importorskip("torch")
    X, y = _task(10)  # 30 rows
    net = torch.nn.Linear(10, 4).double()
    seen = []
    net.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    ds = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    clf = NCMClassifier(backbone=net, features="backbone", batch_size=7)
    with torch.no_grad():
        F = net(torch.as_tensor(X)).numpy()
    for fit_on, predict_on in ((X, X), (ds, ds)):
        seen.clear()
        clf.fit(fit_on, None if fit_on is ds else y)
        assert seen == [7, 7, 7, 7, 2]
        np.testing.assert_allclose(clf.centroids_, NearestCentroid().fit(F, y).centroids_)
        seen.clear()
        clf.predict(predict_on)
        assert seen == [7, 7, 7, 7, 2]


def test_predict_after_a_failed_fit_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    X, y = _task(4)
    clf = NCMClassifier(backbone=lambda Z: np.full((len(Z), 2), np.nan))
    with pytest.raises(ValueError, match="NaN or infinite features"):
        clf.fit(X, y)
    # validate_data set n_features_in_ before the failure; the classifier is still unfitted
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_integer_images_reach_the_backbone_as_floats():
    # uint8 pixels are converted to float64 before the backbone, in fit and predict: a
    # backbone squaring them gives the true squares, not uint8 wrap-around (255**2 % 256).
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 10)
    X = np.clip(60 * y[:, None] + rng.randint(0, 140, size=(30, 6)), 0, 255).astype(np.uint8)
    squares = X.astype(np.float64) ** 2
    clf = NCMClassifier(backbone=lambda Z: Z * Z, features="backbone").fit(X, y)
    means = np.array([squares[y == c].mean(axis=0) for c in range(3)])
    np.testing.assert_allclose(clf.centroids_, means, rtol=1e-12)
    expected = _softmax(-cdist(squares, means, "sqeuclidean"))
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-9, atol=1e-300)


def test_integer_backbone_features_are_compared_in_float64():
    # A backbone with integer outputs (quantized features): the float64 class means are not
    # rounded to integers at prediction.
    X, y = _task(10)
    quantize = lambda Z: np.floor(4 * Z[:, :3]).astype(np.int64)  # noqa: E731
    clf = NCMClassifier(backbone=quantize, features="backbone").fit(X, y)
    Q = quantize(X).astype(np.float64)
    means = np.array([Q[y == c].mean(axis=0) for c in range(3)])
    assert not np.array_equal(means, np.round(means))
    np.testing.assert_allclose(clf.centroids_, means, rtol=1e-12)
    scores = -cdist(Q, means, "sqeuclidean")
    np.testing.assert_allclose(clf.decision_function(X), scores, rtol=1e-9)
    np.testing.assert_allclose(clf.predict_proba(X), _softmax(scores), rtol=1e-9, atol=1e-300)


def test_float32_inputs_give_float64_probabilities():
    # Distances of float32 features are float32, but the softmax is taken in float64: a
    # probability of about 4e-157 is not flushed to zero (float32 stops near 1e-45).
    X = np.array([[0.0], [0.0], [20.0], [20.0]], dtype=np.float32)
    clf = NCMClassifier().fit(X, [0, 0, 1, 1])
    row = np.array([[1.0]], dtype=np.float32)
    z = -np.array([1.0, 361.0])  # squared distances to the means 0 and 20, exact in float32
    proba = clf.predict_proba(row)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba[0], np.exp(z - np.logaddexp(*z)), rtol=1e-12)
    assert proba[0, 1] > 0
    np.testing.assert_allclose(clf.decision_function(row), [z[1] - z[0]], rtol=1e-12)


def test_prediction_chunks_bound_similarities_and_features(monkeypatch):
    # Each chunk of rows holds at most _PREDICT_CHUNK_ENTRIES entries, counting the
    # row-class similarities and the chunk's input features, and no fewer rows than that
    # allows (at least one).
    from skreuse.inference import _ncm

    X, y = _task(10)  # 30 rows, 10 features, 3 classes
    sizes = []

    def backbone(Z):
        sizes.append(len(Z))
        return Z[:, :4] * 1.0

    clf = NCMClassifier(backbone=backbone, features="backbone").fit(X, y)
    whole = clf.predict_proba(X)
    for entries, rows in ((70, 7), (10, 1), (15, 1), (25, 2)):
        monkeypatch.setattr(_ncm, "_PREDICT_CHUNK_ENTRIES", entries)
        sizes.clear()
        np.testing.assert_allclose(clf.predict_proba(X), whole, rtol=1e-12)
        assert max(sizes) == rows
        assert sum(sizes) == 30
        assert max(sizes) * 10 <= max(entries, 10)


def test_refit_on_a_loader_forgets_the_feature_names():
    pd = pytest.importorskip("pandas")
    torch = pytest.importorskip("torch")
    X, y = _task(5)
    net = torch.nn.Linear(10, 3).double()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    clf = NCMClassifier(backbone=net).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    clf.fit(torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y)))
    assert not hasattr(clf, "feature_names_in_")
    assert not hasattr(clf, "n_features_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "fitted with feature names" warning
        clf.predict(X)


def test_backbone_errors_name_the_backbone():
    torch = pytest.importorskip("torch")
    from sklearn.exceptions import NotFittedError

    X, y = _task(5)
    with pytest.raises(NotFittedError, match="'backbone' \\(PCA\\) is not fitted"):
        NCMClassifier(backbone=PCA(2)).fit(X, y)
    net = torch.nn.Sequential(torch.nn.Linear(10, 3)).double()
    ds = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    with pytest.raises(ValueError, match="not a submodule of 'backbone'"):
        NCMClassifier(backbone=net, layer="nope").fit(ds)
    clf = NCMClassifier(backbone=net, layer="0").fit(ds)
    clf.set_params(layer="nope")
    with pytest.raises(ValueError, match="not a submodule of 'backbone'"):
        clf.predict(ds)


def test_auto_span_of_float64_features_uses_the_float64_tolerance():
    # One row per class. The backbone's float64 features put the third class 1e-9 off the
    # line through the other two: a dimension at float64 precision (it would be lost at
    # float32's), so the class means span as many dimensions as the inputs' and the
    # backbone is kept.
    X = np.array([[0.0, 0.0], [3.0, 0.5], [1.0, 2.0]])
    y = np.array([0, 1, 2])
    F = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 1e-9]])
    assert (_span(F, y), _span(X, y)) == (2, 2)
    clf = NCMClassifier(backbone=lambda Z: F[: len(Z)].copy()).fit(X, y)
    assert clf.features_ == "backbone"
    np.testing.assert_array_equal(clf.centroids_, F)


def test_prediction_chunks_count_an_image_row_by_its_flattened_size(monkeypatch):
    # Rows of more than one dimension (images for a backbone) bound the chunks by their
    # flattened size, as 2-D rows do by their width: 2 x 5 entries per row here.
    from skreuse.inference import _ncm

    X, y = _task(10)  # 30 rows, 10 features, 3 classes
    images = X.reshape(30, 2, 5)
    sizes = []

    def backbone(Z):
        sizes.append(len(Z))
        return Z.reshape(len(Z), -1)[:, :4] * 1.0

    clf = NCMClassifier(backbone=backbone, features="backbone").fit(images, y)
    whole = clf.predict_proba(images)
    monkeypatch.setattr(_ncm, "_PREDICT_CHUNK_ENTRIES", 70)
    sizes.clear()
    np.testing.assert_allclose(clf.predict_proba(images), whole, rtol=1e-12)
    assert max(sizes) == 7
    assert sum(sizes) == 30


@pytest.mark.parametrize("offset", [1e8, 1e10])
def test_rows_far_from_the_origin_give_the_shifted_classifier(offset):
    # The distances are differences: rows and means around 1e8 give the predictions,
    # distances and leave-one-out choice of the rows without the offset (half of the
    # predictions changed before, from the rounding of ||f||^2 - 2 f.c + ||c||^2).
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    resolution = offset * np.finfo(np.float64).eps
    for spread in (1.0, 10.0):  # class means spread wider than the features are many
        near = NCMClassifier().fit(spread * X, y)
        far = NCMClassifier().fit(spread * X + offset, y)
        np.testing.assert_array_equal(far.predict(spread * X + offset), near.predict(spread * X))
        np.testing.assert_allclose(
            far.decision_function(spread * X + offset),
            near.decision_function(spread * X),
            atol=1e4 * spread**2 * resolution,
        )
    # "auto" between the inputs and a backbone that only scales them: the same scores
    near = NCMClassifier(backbone=lambda Z: 2 * Z, features="auto").fit(X, y)
    far = NCMClassifier(backbone=lambda Z: 2 * Z, features="auto").fit(X + offset, y)
    assert far.loo_accuracy_ == near.loo_accuracy_
    assert min(near.loo_accuracy_.values()) > 0.9


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_leave_one_out_accuracy_is_that_of_refitting_without_each_row(offset):
    # The closed form of "auto" against the rule refitted n times, with classes of 2 and 3
    # rows (the left-out row's class keeps 1 or 2) and a class of 1 (always an error).
    from skreuse.inference._ncm import _loo_accuracy, _loo_distances

    rng = np.random.RandomState(1)
    for _ in range(20):
        codes = np.r_[0, 0, 1, 1, 1, 2, 2, 3]
        F = rng.normal(size=(len(codes), 3)) + offset
        F[:, 0] += 1.5 * codes
        hits = 0
        for i in range(len(codes)):
            keep = np.arange(len(codes)) != i
            if np.sum(codes[keep] == codes[i]) == 0:
                continue
            means = np.array([F[keep][codes[keep] == c].mean(axis=0) for c in range(4)])
            hits += np.argmin(((F[i] - means) ** 2).sum(axis=1)) == codes[i]
        D, held = _loo_distances(F, codes, "euclidean")
        np.testing.assert_array_equal(held, codes != 3)
        assert _loo_accuracy(D, held, codes) == hits / len(codes)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_features_whose_squares_overflow_raise(metric):
    # Features around 1e155 have squared distances beyond float64: every similarity came out
    # infinite or zero, and every row went to the first class. Now a clear error.
    X, y = _task(4)
    big = X * 1e155
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="too large: .* overflow float64"):
            NCMClassifier(backbone=lambda Z: Z[:, :2] * 1.0, metric=metric).fit(big, y)
        clf = NCMClassifier(metric=metric).fit(big, y)  # the means themselves are finite
        for method in ("predict", "predict_proba", "decision_function"):
            with pytest.raises(ValueError, match="too large: .* overflow float64"):
                getattr(clf, method)(big)
    # At 1e150 the squares are finite: the rows' classes are those of the unscaled rows.
    ref = NCMClassifier(metric=metric).fit(X, y).predict(X)
    np.testing.assert_array_equal(
        NCMClassifier(metric=metric).fit(X * 1e150, y).predict(X * 1e150), ref
    )


def test_rows_whose_squares_overflow_raise_on_every_backend(backend):
    # Means of ordinary size, rows around 1e155: with cosine the similarities stay finite
    # but the rows' norms do not (every probability came out uniform).
    X, y = _task(4)
    for metric in ("euclidean", "cosine"):
        clf = NCMClassifier(metric=metric, device=backend).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(ValueError, match="too large: .* overflow float64"):
                clf.predict_proba(X * 1e155)


def test_float32_features_whose_squares_overflow_float32_raise():
    X, y = _task(4)
    clf = NCMClassifier(backbone=lambda Z: (np.asarray(Z) * 1e20).astype(np.float32))
    clf.set_params(features="backbone").fit(X, y)  # means summed in float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="overflow float32"):
            clf.predict(X)
        # cosine: the similarities to unit-norm means stay finite, the rows' norms do not
        clf.set_params(metric="cosine").fit(X, y)
        with pytest.raises(ValueError, match="overflow float32"):
            clf.predict_proba(X)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_leave_one_out_of_some_rows_is_that_of_all_rows_there(metric):
    # Scoring a subset of the rows leaves the class means to every row: the distances of
    # those rows are the rows of the full matrix.
    from skreuse.inference._ncm import _loo_distances

    X, y = _task(7, seed=3)
    scored = np.array([0, 4, 7, 8, 15, 20])
    D, held = _loo_distances(X, y, metric)
    D_sub, held_sub = _loo_distances(X, y, metric, scored)
    np.testing.assert_array_equal(D_sub, D[scored])
    np.testing.assert_array_equal(held_sub, held[scored])


def test_auto_on_many_rows_scores_evenly_spaced_ones(monkeypatch):
    # Leave-one-out distances are n_rows x n_classes: on a first call of a million rows of
    # a thousand classes they took 8 GB per space. Above _LOO_MAX_ENTRIES only evenly
    # spaced rows are scored; the class means and the fitted model use every row.
    from skreuse.inference import _ncm

    X, y = _task(40, seed=1)  # 120 rows, 3 classes
    backbone = PCA(2).fit(X)
    full = NCMClassifier(backbone=backbone).fit(X, y)
    assert _ncm._loo_rows(len(y), 3).tolist() == list(range(len(y)))

    shapes = []
    distances = _ncm._loo_distances

    def spy(F, codes, metric, scored=None, sums=None):
        D, held = distances(F, codes, metric, scored, sums)
        shapes.append(D.shape)
        return D, held

    monkeypatch.setattr(_ncm, "_LOO_MAX_ENTRIES", 90)  # 30 rows of 3 classes
    monkeypatch.setattr(_ncm, "_loo_distances", spy)
    sub = NCMClassifier(backbone=backbone).fit(X, y)
    scored = _ncm._loo_rows(len(y), 3)
    assert len(scored) == 30
    assert scored[0] == 0
    assert scored[-1] == len(y) - 1
    assert np.all(np.diff(scored) >= 3)
    assert shapes == [(30, 3)] * 3  # one per space
    # The accuracies are those of the full leave-one-out on the scored rows.
    monkeypatch.setattr(_ncm, "_loo_distances", distances)
    for space in ("backbone", "inputs", "both"):
        F = NCMClassifier(backbone=backbone, features=space).fit(X, y)
        D, held = distances(F._features(X, None), np.searchsorted(F.classes_, y), "euclidean")
        codes = np.searchsorted(F.classes_, y)
        expected = np.mean((D.argmin(axis=1) == codes)[scored] & held[scored])
        assert sub.loo_accuracy_[space] == pytest.approx(expected)
        losses = _ncm._loo_log_losses(D[scored][held[scored]], codes[scored][held[scored]])
        assert sub.loo_log_loss_[space] == pytest.approx(losses.mean())
    # The model itself is fitted on every row.
    chosen = NCMClassifier(backbone=backbone, features=sub.features_).fit(X, y)
    np.testing.assert_array_equal(sub.centroids_, chosen.centroids_)
    assert set(full.loo_accuracy_) == set(sub.loo_accuracy_)


def test_leave_one_out_rows_keep_to_the_documented_budget():
    # At most 2**22 distances per space (the attribute docs): all rows up to 2**22 /
    # n_classes of them, that many evenly spaced rows above, and one row at least.
    from skreuse.inference._ncm import _loo_rows

    assert len(_loo_rows(2**20, 4)) == 2**20
    assert len(_loo_rows(2**20 + 1, 4)) == 2**20
    assert len(_loo_rows(2**22, 1)) == 2**22
    assert len(_loo_rows(2**22 + 1, 1)) == 2**22
    assert _loo_rows(5, 2**23).tolist() == [0]
    assert _loo_rows(1, 1).tolist() == [0]
