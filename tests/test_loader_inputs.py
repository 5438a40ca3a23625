"""Torch ``Dataset`` / ``DataLoader`` inputs of LogMESelector and NCMClassifier (issue 17)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from torch.utils.data import DataLoader, Dataset, TensorDataset  # noqa: E402

from skreuse.inference import NCMClassifier  # noqa: E402
from skreuse.selection import LogMESelector  # noqa: E402


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X, y = X[:600].astype(np.float32) / 16, y[:600]
    torch.manual_seed(0)
    nets = [
        (
            f"mlp{h}",
            torch.nn.Sequential(torch.nn.Linear(64, h), torch.nn.ReLU(), torch.nn.Linear(h, 12)),
        )
        for h in (6, 48)
    ]
    ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    return X, y, nets, ds


class _Images(Dataset):
    """Items ``(x, y)`` with ``x`` of shape (1, 8, 8), as an image dataset gives them."""

    def __init__(self, X, y):
        self.X, self.y = X.reshape(-1, 1, 8, 8), y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.from_numpy(self.X[i]), int(self.y[i])


def _cnn():
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 10)
    )


def _inputs(ds, y):
    """The same rows as a Dataset, as an ordered DataLoader (y from its batches or given)."""
    return [
        (ds, None),
        (ds, y),
        (DataLoader(ds, batch_size=97), None),
        (DataLoader(ds, batch_size=64), y.tolist()),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"top_k": 2},
        {"estimator": LogisticRegression(max_iter=300)},
        {"metric": "leep"},
        {"metric": "hscore"},
        {"layer": "1"},
    ],
)
def test_logme_selector_loader_matches_array(data, params):
    X, y, nets, ds = data
    ref = LogMESelector(nets, **params).fit(X, y)
    assert ref.ranking_ == ["mlp48", "mlp6"] or params.get("metric") == "leep"
    for loader, y_arg in _inputs(ds, y):
        sel = LogMESelector(nets, **params).fit(loader, y_arg)
        assert sel.ranking_ == ref.ranking_
        for name in ref.scores_:
            # float32 forward passes batched differently: equal up to rounding
            np.testing.assert_allclose(sel.scores_[name], ref.scores_[name], rtol=1e-5)
        assert not hasattr(sel, "n_features_in_")
        np.testing.assert_array_equal(sel.predict(loader), ref.predict(X))
        np.testing.assert_allclose(sel.transform(loader), ref.transform(X), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            sel.predict_proba(DataLoader(ds, batch_size=33)), ref.predict_proba(X), atol=1e-5
        )
        # an array still works after a loader fit
        np.testing.assert_array_equal(sel.predict(X), ref.predict(X))


def test_logme_selector_cnn_on_image_dataset(data):
    X, y, _, _ = data
    images = _Images(X, y)
    cands = [("cnn", _cnn()), ("mlp", torch.nn.Sequential(torch.nn.Flatten(), data[2][1][1]))]
    ref = LogMESelector(cands).fit(X.reshape(-1, 1, 8, 8), y)
    sel = LogMESelector(cands).fit(DataLoader(images, batch_size=50))
    assert sel.ranking_ == ref.ranking_
    np.testing.assert_allclose(
        [sel.scores_[n] for n in ref.ranking_], [ref.scores_[n] for n in ref.ranking_], rtol=1e-5
    )
    np.testing.assert_array_equal(sel.predict(images), ref.predict(X.reshape(-1, 1, 8, 8)))


def test_shuffled_loader_takes_labels_from_the_same_pass(data):
    X, y, nets, ds = data
    ref = LogMESelector(nets).fit(X, y)
    torch.manual_seed(3)
    shuffled = DataLoader(ds, batch_size=50, shuffle=True)
    sel = LogMESelector(nets).fit(shuffled)
    for name in ref.scores_:
        np.testing.assert_allclose(sel.scores_[name], ref.scores_[name], rtol=1e-5)
    # the head is fitted on the shuffled rows with their own labels
    assert (sel.predict(X) == ref.predict(X)).mean() > 0.99
    ncm = NCMClassifier(backbone=nets[1][1]).fit(shuffled)
    ncm_ref = NCMClassifier(backbone=nets[1][1], features="backbone").fit(X, y)
    np.testing.assert_allclose(ncm.centroids_, ncm_ref.centroids_, rtol=1e-6, atol=1e-7)


def test_shuffled_loader_with_separate_y_or_outputs_is_refused(data):
    X, y, nets, ds = data
    shuffled = DataLoader(ds, batch_size=50, shuffle=True)
    with pytest.raises(ValueError, match="shuffle=False"):
        LogMESelector(nets).fit(shuffled, y)
    with pytest.raises(ValueError, match="shuffle=False"):
        NCMClassifier(backbone=nets[0][1]).fit(shuffled, y)
    with pytest.raises(ValueError, match="top_k=2 .*shuffle=False"):
        LogMESelector(nets, top_k=2).fit(shuffled)
    sel = LogMESelector(nets).fit(ds)
    ncm = NCMClassifier(backbone=nets[0][1]).fit(ds)
    for method in (sel.predict, sel.transform, ncm.predict, ncm.predict_proba):
        with pytest.raises(ValueError, match="shuffle=False"):
            method(shuffled)


def test_non_torch_candidate_with_loader_is_a_type_error(data):
    X, y, nets, ds = data
    cands = [nets[0], ("pca", PCA(5).fit(X))]
    with pytest.raises(TypeError, match="'pca' .*PCA.* cannot take"):
        LogMESelector(cands).fit(ds)
    with pytest.raises(TypeError, match="'backbone' .*PCA"):
        NCMClassifier(backbone=PCA(5).fit(X)).fit(ds)
    with pytest.raises(TypeError, match="backbone=None"):
        NCMClassifier().fit(ds)
    # refused before any work, also at prediction
    sel = LogMESelector(cands, top_k=2).fit(X, y)
    with pytest.raises(TypeError, match="'pca'"):
        sel.transform(ds)


def test_loader_without_labels_or_wrong_length(data):
    X, y, nets, ds = data
    inputs_only = TensorDataset(torch.from_numpy(X))
    with pytest.raises(ValueError, match="no labels"):
        LogMESelector(nets).fit(DataLoader(inputs_only, batch_size=100))
    with pytest.raises(ValueError, match="no labels"):
        NCMClassifier(backbone=nets[0][1]).fit(inputs_only)
    # inputs-only batches with y given work
    sel = LogMESelector(nets).fit(DataLoader(inputs_only, batch_size=100), y)
    assert sel.ranking_ == LogMESelector(nets).fit(X, y).ranking_
    with pytest.raises(ValueError, match="y has 599 entries but X gave 600 rows"):
        LogMESelector(nets).fit(ds, y[:-1])
    with pytest.raises(ValueError, match="y has 599 entries"):
        NCMClassifier(backbone=nets[0][1]).fit(ds, y[:-1])


def test_callable_candidate_reads_the_loader(data):
    X, y, nets, ds = data
    net = nets[1][1]

    def features(loader):
        with torch.no_grad():
            return torch.cat([net(xb) for xb, _ in loader]).numpy()

    ref = LogMESelector([("f", lambda A: net(torch.as_tensor(A)).detach())]).fit(X, y)
    sel = LogMESelector([("f", features)]).fit(DataLoader(ds, batch_size=100))
    np.testing.assert_allclose(sel.scores_["f"], ref.scores_["f"], rtol=1e-5)


@pytest.mark.parametrize("normalize", [None, "l2", "cl2n"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_ncm_loader_matches_array(data, normalize, metric):
    X, y, nets, ds = data
    backbone = nets[1][1]
    ref = NCMClassifier(
        backbone=backbone, normalize=normalize, metric=metric, features="backbone"
    ).fit(X, y)
    for loader, y_arg in _inputs(ds, y):
        ncm = NCMClassifier(backbone=backbone, normalize=normalize, metric=metric)
        ncm.fit(loader, y_arg)
        np.testing.assert_allclose(ncm.centroids_, ref.centroids_, rtol=1e-6, atol=1e-7)
        assert not hasattr(ncm, "n_features_in_")
        np.testing.assert_array_equal(ncm.predict(loader), ref.predict(X))
        np.testing.assert_allclose(ncm.predict_proba(loader), ref.predict_proba(X), atol=1e-6)
        np.testing.assert_allclose(
            ncm.decision_function(loader), ref.decision_function(X), atol=1e-5
        )


def test_ncm_partial_fit_with_loaders(data):
    X, y, nets, ds = data
    backbone = nets[1][1]
    ref = NCMClassifier(backbone=backbone, features="backbone").fit(X, y)
    first, second = y < 5, y >= 5
    inc = NCMClassifier(backbone=backbone)
    inc.partial_fit(TensorDataset(torch.from_numpy(X[first]), torch.from_numpy(y[first])))
    assert list(inc.classes_) == [0, 1, 2, 3, 4]
    inc.partial_fit(
        DataLoader(TensorDataset(torch.from_numpy(X[second])), batch_size=40), y[second]
    )
    np.testing.assert_array_equal(inc.classes_, ref.classes_)
    np.testing.assert_allclose(inc.centroids_, ref.centroids_, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(inc.predict(ds), ref.predict(X))


def test_array_inputs_unchanged(data):
    X, y, nets, _ = data
    ncm = NCMClassifier(backbone=nets[1][1]).fit(X, y)
    assert ncm.n_features_in_ == 64
    sel = LogMESelector(nets).fit(X, y)
    assert sel.n_features_in_ == 64
    for est in (NCMClassifier(backbone=nets[1][1]), LogMESelector(nets)):
        with pytest.raises(ValueError, match="requires y"):
            est.fit(X)


@pytest.mark.parametrize("metric", ["logme", "leep"])
def test_skorch_candidate_with_loader(data, metric):
    skorch = pytest.importorskip("skorch")
    X, y, nets, ds = data
    net = skorch.NeuralNetClassifier(nets[1][1], criterion=torch.nn.CrossEntropyLoss).initialize()
    cands = [("skorch", net), nets[0]]
    ref = LogMESelector(cands, metric=metric).fit(X, y)
    sel = LogMESelector(cands, metric=metric).fit(DataLoader(ds, batch_size=128))
    assert sel.ranking_ == ref.ranking_
    for name in ref.scores_:
        np.testing.assert_allclose(sel.scores_[name], ref.scores_[name], rtol=1e-5)
    np.testing.assert_array_equal(sel.predict(ds), ref.predict(X))
    ncm = NCMClassifier(backbone=net).fit(ds)
    np.testing.assert_array_equal(
        ncm.predict(ds), NCMClassifier(backbone=net, features="backbone").fit(X, y).predict(X)
    )


def test_labels_skipped_candidate_first(data):
    # the first candidate's pass gives the labels even when a class-output metric skips it
    X, y, nets, ds = data

    def first_columns(A):
        # reads a TensorDataset (the loader given to fit) or an array
        return np.asarray(A.tensors[0] if isinstance(A, TensorDataset) else A)[:, :3]

    cands = [("f", first_columns), nets[1]]
    with pytest.warns(UserWarning, match="cannot be scored"):
        sel = LogMESelector(cands, metric="leep").fit(ds)
    with pytest.warns(UserWarning, match="cannot be scored") as rec:
        ref = LogMESelector(cands, metric="leep").fit(X, y)
    assert [r.filename for r in rec] == [__file__]
    assert sel.ranking_ == ref.ranking_ == ["mlp48", "f"]
    np.testing.assert_allclose(sel.scores_["mlp48"], ref.scores_["mlp48"], rtol=1e-5)
