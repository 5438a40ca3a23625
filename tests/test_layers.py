"""Deep-model features: layer= hooks, torch data inputs, real model outputs, precision."""

import collections
import copy
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from test_logme_selector import _ranking_logme

from skreuse.inference import NCMClassifier
from skreuse.selection import LogMESelector
from skreuse.utils import extract_features

torch = pytest.importorskip("torch")
nn = torch.nn


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32), y[:300]


def _cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 12),
        nn.ReLU(),
        nn.Linear(12, 10),
    ).eval()


class _Residual(nn.Module):
    """Not a Sequential: a residual block, a head, and a layer that forward never calls."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.stem = nn.Conv2d(1, 3, 3, padding=1)
        self.block = nn.ModuleDict({"conv": nn.Conv2d(3, 3, 3, padding=1), "act": nn.ReLU()})
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(3, 5)
        self.unused = nn.Linear(3, 3)

    def forward(self, x):
        h = self.stem(x)
        h = h + self.block["act"](self.block["conv"](h))
        return self.head(self.pool(h).flatten(1))


def _no_hooks(module):
    return all(not m._forward_hooks for m in module.modules())


def test_layer_features_equal_hand_sliced_submodule_outputs(digits):
    X, _ = digits
    net = _cnn()
    before = pickle.dumps(net.state_dict())
    with torch.no_grad():
        want = net[:6](torch.as_tensor(X)).numpy()
        maps = net[:3](torch.as_tensor(X)).reshape(len(X), -1).numpy()
    np.testing.assert_allclose(extract_features(net, X, layer="5", batch_size=64), want)
    np.testing.assert_allclose(extract_features(net, X, layer="2"), maps)  # flattened maps
    res = _Residual().eval()
    with torch.no_grad():
        h = res.stem(torch.as_tensor(X))
        block = res.block["act"](res.block["conv"](h)).reshape(len(X), -1).numpy()
        pooled = res.pool(h + res.block["act"](res.block["conv"](h))).flatten(1).numpy()
    np.testing.assert_allclose(extract_features(res, X, layer="block.act"), block, rtol=1e-6)
    np.testing.assert_allclose(extract_features(res, X, layer="pool"), pooled, rtol=1e-6)
    assert pickle.dumps(net.state_dict()) == before
    assert _no_hooks(net)
    assert _no_hooks(res)
    assert not net.training


def test_forward_stops_at_the_layer(digits):
    X, _ = digits
    net = _cnn()
    calls = []
    handle = net[6].register_forward_hook(lambda m, i, o: calls.append(1))
    extract_features(net, X, layer="4", batch_size=100)
    handle.remove()
    assert calls == []


def test_layer_errors_and_hook_removed_on_error(digits):
    X, _ = digits
    res = _Residual()
    with pytest.raises(ValueError, match=r"layer='blok' is not a submodule.*'block.conv'"):
        extract_features(res, X, layer="blok")
    with pytest.raises(ValueError, match="layer='unused' of 'model' was never reached"):
        extract_features(res, X, layer="unused")
    assert _no_hooks(res)
    with pytest.raises(RuntimeError):  # the forward fails on wrong input: hook still removed
        extract_features(res, X[:, :, :, :1].repeat(2, axis=0).reshape(-1, 2, 8, 1), layer="pool")
    assert _no_hooks(res)
    with pytest.raises(ValueError, match="layer need"):
        extract_features(lambda A: A, X.reshape(len(X), -1), layer="0")
    from sklearn.decomposition import PCA

    pca = PCA(2).fit(X.reshape(len(X), -1))
    loader = torch.utils.data.DataLoader(torch.as_tensor(X.reshape(len(X), -1)), batch_size=10)
    with pytest.raises(TypeError, match="DataLoader input needs a torch module"):
        extract_features(pca, loader)


def test_dataloader_and_dataset_inputs_equal_array_input(digits):
    X, y = digits
    net = _cnn()
    want = extract_features(net, X, layer="5")
    data = torch.utils.data
    pairs = data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    for inputs in (
        data.DataLoader(pairs, batch_size=33),  # yields (x, y)
        data.DataLoader(torch.as_tensor(X), batch_size=50),  # yields x
        pairs,  # a Dataset, batched here
    ):
        np.testing.assert_allclose(
            extract_features(net, inputs, layer="5"), want, rtol=1e-5, atol=1e-7
        )
    np.testing.assert_allclose(
        extract_features(net, data.DataLoader(pairs, batch_size=64)),
        extract_features(net, X),
        rtol=1e-5,
        atol=1e-7,
    )


def test_read_only_memmap_gives_no_warning(digits, tmp_path):
    X, _ = digits
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    assert not mm.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = extract_features(_cnn(), mm, batch_size=64)
    np.testing.assert_allclose(got, extract_features(_cnn(), X))


class _Outputs(nn.Module):
    """Returns its logits wrapped as a tuple, a dict or a ModelOutput-like mapping."""

    class ModelOutput(collections.OrderedDict):
        pass

    def __init__(self, wrap):
        super().__init__()
        self.net = _cnn()
        self.wrap = wrap

    def forward(self, x):
        logits = self.net(x)
        hidden = self.net[:5](x)
        if self.wrap == "tuple":
            return (logits, hidden)
        if self.wrap == "list":
            return [logits, hidden]
        if self.wrap == "dict":
            return {"hidden": hidden, "logits": logits}
        return self.ModelOutput(last_hidden_state=hidden, pooler_output=logits)


def test_tuple_dict_and_model_outputs(digits):
    X, _ = digits
    want = extract_features(_cnn(), X)
    hidden = extract_features(_cnn(), X, layer="4")
    for wrap in ("tuple", "list", "dict"):
        np.testing.assert_allclose(extract_features(_Outputs(wrap), X), want, rtol=1e-6)
    model = _Outputs("model_output")
    with pytest.raises(ValueError, match=r"keys \['last_hidden_state', 'pooler_output'\]"):
        extract_features(model, X)
    got = extract_features(model, X, output_key="last_hidden_state")
    np.testing.assert_allclose(got, hidden, rtol=1e-6)
    with pytest.raises(ValueError, match="output_key='nope' is not one of them"):
        extract_features(model, X, output_key="nope")
    proba = extract_features(_Outputs("dict"), X, output="proba")
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_half_precision_outputs_and_autocast(digits):
    X, _ = digits
    net = _cnn()
    want = extract_features(net, X)
    bf16 = copy.deepcopy(net).to(torch.bfloat16)
    got = extract_features(bf16, X)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=0.05)
    assert next(net.parameters()).dtype == torch.float32
    mixed = extract_features(net, X, autocast="bfloat16")
    assert mixed.dtype == np.float32
    np.testing.assert_allclose(mixed, want, atol=0.05)
    assert not np.array_equal(mixed, want)  # it did run in bfloat16
    np.testing.assert_allclose(extract_features(net, X, autocast=torch.bfloat16), mixed)
    for bad in ("int8", "half_precision", torch.float64):
        with pytest.raises(ValueError, match="autocast must be"):
            extract_features(net, X, autocast=bad)


def test_skorch_net_with_layer(digits):
    skorch = pytest.importorskip("skorch")
    X, y = digits
    net = skorch.NeuralNetClassifier(
        _cnn(), criterion=nn.CrossEntropyLoss, max_epochs=1, lr=0.01, verbose=0
    ).fit(X, y)
    with torch.no_grad():
        want = net.module_[:6](torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(extract_features(net, X, layer="5"), want, rtol=1e-6)


def test_logme_selector_and_ncm_with_layer(digits):
    X, y = digits
    zoo = [("a", _cnn(0)), ("b", _cnn(1))]
    penultimate = {n: extract_features(m, X, layer="5") for n, m in zoo}
    sel = LogMESelector(zoo, layer="5").fit(X, y)
    for n, _ in zoo:
        assert sel.scores_[n] == pytest.approx(_ranking_logme(penultimate[n], y)[0], rel=1e-6)
    np.testing.assert_allclose(sel.transform(X), penultimate[sel.selected_[0]])
    per = LogMESelector(zoo, layer={"a": "4"}).fit(X, y)
    assert per.scores_["a"] == pytest.approx(
        _ranking_logme(extract_features(zoo[0][1], X, layer="4"), y)[0], rel=1e-6
    )
    assert per.scores_["b"] == pytest.approx(
        _ranking_logme(extract_features(zoo[1][1], X), y)[0], rel=1e-6
    )
    with pytest.raises(ValueError, match=r"do not exist: \['c'\]"):
        LogMESelector(zoo, layer={"c": "4"}).fit(X, y)
    ncm = NCMClassifier(backbone=zoo[0][1], layer="5", features="backbone").fit(X, y)
    ref = NCMClassifier().fit(penultimate["a"], y)
    np.testing.assert_array_equal(ncm.predict(X), ref.predict(penultimate["a"]))
    np.testing.assert_allclose(ncm.centroids_, ref.centroids_, rtol=1e-6)
    with pytest.raises(ValueError, match="backbone=None"):
        NCMClassifier(layer="5").fit(X.reshape(len(X), -1), y)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_cuda_layer_features_and_loaders(digits):
    X, y = digits
    net = _cnn()
    want = extract_features(net, X, layer="5")
    got = extract_features(net, X, layer="5", device="cuda")
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), batch_size=64
    )
    np.testing.assert_allclose(
        extract_features(net, loader, layer="5", device="cuda", autocast="float16"),
        want,
        atol=0.02,
    )
    on_gpu = copy.deepcopy(net).cuda()
    np.testing.assert_allclose(extract_features(on_gpu, X, layer="5"), want, rtol=1e-4, atol=1e-5)
    assert _no_hooks(on_gpu)
    sel = LogMESelector([("a", net)], layer="5", device="cuda").fit(X, y)
    assert sel.scores_["a"] == pytest.approx(_ranking_logme(want, y)[0], rel=1e-4)
