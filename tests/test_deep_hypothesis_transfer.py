"""Tests of L2-SP fine-tuning (skreuse.deep.HypothesisTransferNet and its regressor)."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from skreuse.deep import HypothesisTransferNet, HypothesisTransferNetRegressor  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # the test machine's cores are shared: one thread is faster than many here
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits_transfer():
    """An MLP pre-trained on digits, and a shifted digits target (pixels moved right)."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    perm = np.random.RandomState(0).permutation(len(y))
    src, tgt = perm[:900], perm[900:]
    images = X[tgt].reshape(-1, 8, 8)
    shifted = np.zeros_like(images)
    shifted[:, :, 1:] = images[:, :, :-1]
    Xt = (0.3 * images + 0.7 * shifted).reshape(-1, 64)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        mlp = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        opt = torch.optim.Adam(mlp.parameters(), lr=0.01)
        Xs, ys = torch.from_numpy(X[src]), torch.from_numpy(y[src])
        for _ in range(150):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(mlp(Xs), ys).backward()
            opt.step()
    return mlp, Xt, y[tgt]


def _few_shot(y, shots, seed):
    rng = np.random.RandomState(seed)
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in np.unique(y)]
    )
    return train, np.setdiff1d(np.arange(len(y)), train)


def _net(module, **params):
    defaults = dict(
        max_epochs=30,
        lr=0.1,
        batch_size=32,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        train_split=None,
        verbose=0,
    )
    return HypothesisTransferNet(module, **{**defaults, **params})


def test_l2sp_stays_closer_and_beats_l2_finetuning(digits_transfer):
    mlp, Xt, yt = digits_transfer
    results = {"l2": [], "l2sp": [], "l2sp_fisher": []}
    for seed in range(2):
        train, test = _few_shot(yt, 3, seed)
        for penalty in results:
            torch.manual_seed(seed)
            net = _net(mlp, penalty=penalty, lam=0.1).fit(Xt[train], yt[train])
            results[penalty].append((net.score(Xt[test], yt[test]), net.distance_to_start()))
    mean = {k: np.mean(v, axis=0) for k, v in results.items()}
    print({k: np.round(v, 3).tolist() for k, v in mean.items()})  # (accuracy, distance)
    for penalty in ("l2sp", "l2sp_fisher"):
        assert mean[penalty][1] < 0.5 * mean["l2"][1]
        assert mean[penalty][0] > mean["l2"][0] + 0.05


def test_user_module_is_never_trained_in_place(digits_transfer):
    mlp, Xt, yt = digits_transfer
    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    net = _net(mlp, max_epochs=3, head_outputs=10).fit(Xt[:50], yt[:50])
    assert net.module_ is not mlp
    for k, v in mlp.state_dict().items():
        assert torch.equal(v, before[k])
    assert isinstance(mlp[2], torch.nn.Linear)
    assert net.module_[2] is not mlp[2]


def test_penalty_matches_formula():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    theta0 = {k: v.clone() for k, v in module.state_dict().items()}
    for penalty in ("l2", "l2sp", "l2sp_fisher", "l1sp"):
        net = HypothesisTransferNet(
            module, penalty=penalty, lam=0.3, beta=0.7, head_outputs=5, verbose=0
        ).initialize()
        assert net.new_param_names_ == ["2.weight", "2.bias"]
        assert net.module_[2].out_features == 5
        with torch.no_grad():
            for p in net.module_.parameters():
                p.add_(torch.randn_like(p))
        fisher = {"0.weight": torch.rand(4, 3), "0.bias": torch.rand(4)}
        if penalty == "l2sp_fisher":
            for i, name in enumerate(net.starting_point_.names):
                net.starting_point_.fisher(i).copy_(fisher[name])
        params = dict(net.module_.named_parameters())
        expected = 0.0
        for name in ("0.weight", "0.bias"):
            diff = params[name] - theta0[name]
            expected += {
                "l2": 0.15 * params[name].pow(2).sum(),
                "l2sp": 0.15 * diff.pow(2).sum(),
                "l2sp_fisher": 0.15 * (fisher[name] * diff.pow(2)).sum(),
                "l1sp": 0.3 * diff.abs().sum(),
            }[penalty]
        expected += 0.35 * (params["2.weight"].pow(2).sum() + params["2.bias"].pow(2).sum())
        torch.testing.assert_close(net.transfer_penalty(), expected)
        # added to the training loss only
        y_pred, y_true = torch.randn(6, 5), torch.randint(0, 5, (6,))
        plain = torch.nn.functional.cross_entropy(y_pred, y_true)
        torch.testing.assert_close(net.get_loss(y_pred, y_true, training=False), plain)
        torch.testing.assert_close(net.get_loss(y_pred, y_true, training=True), plain + expected)


def test_fisher_matches_per_sample_gradients_brute_force(digits_transfer):
    mlp, Xt, yt = digits_transfer
    X, y = Xt[:40], yt[:40]
    net = _net(mlp, penalty="l2sp_fisher", batch_size=16).initialize()
    net.on_train_begin(net, X=X, y=y)
    squares = {name: torch.zeros_like(p) for name, p in mlp.named_parameters()}
    for xi, yi in zip(torch.from_numpy(X), torch.from_numpy(y)):
        mlp.zero_grad()
        torch.nn.functional.cross_entropy(mlp(xi[None]), yi[None]).backward()
        for name, p in mlp.named_parameters():
            squares[name] += p.grad.pow(2)
    mlp.zero_grad()
    top = max(s.max() for s in squares.values())
    sp = net.starting_point_
    for i, name in enumerate(sp.names):
        torch.testing.assert_close(sp.fisher(i), squares[name] / top, rtol=1e-4, atol=1e-6)
    assert sp.fisher_computed


def test_freeze_keeps_layers_at_their_start(digits_transfer):
    mlp, Xt, yt = digits_transfer
    net = _net(mlp, freeze="0.*", max_epochs=5).fit(Xt[:60], yt[:60])
    torch.testing.assert_close(net.module_[0].weight, mlp[0].weight)
    assert not torch.equal(net.module_[2].weight, mlp[2].weight)


def test_clone_set_params_and_grid_search(digits_transfer):
    mlp, Xt, yt = digits_transfer
    net = _net(mlp, penalty="l2sp", lam=0.2, max_epochs=2)
    twin = clone(net)
    assert twin.get_params()["lam"] == 0.2
    assert twin.get_params()["penalty"] == "l2sp"
    twin.set_params(lam=0.5, penalty="l1sp")
    assert (twin.lam, twin.penalty, net.lam) == (0.5, "l1sp", 0.2)
    grid = GridSearchCV(
        net, {"lam": [0.01, 1.0], "lr": [0.05, 0.1], "max_epochs": [1, 3]}, cv=2
    ).fit(Xt[:80], yt[:80])
    assert len(grid.cv_results_["params"]) == 8
    assert grid.best_estimator_.lam in (0.01, 1.0)
    assert grid.best_estimator_.module_ is not mlp


def test_regressor_l2sp():
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X @ rng.normal(size=(5, 1))).astype(np.float32)
    module = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    common = dict(max_epochs=20, lr=0.05, train_split=None, verbose=0)
    far = HypothesisTransferNetRegressor(module, penalty="l2sp", lam=0.0, **common).fit(X, y)
    near = HypothesisTransferNetRegressor(module, penalty="l2sp", lam=10.0, **common).fit(X, y)
    assert near.distance_to_start() < 0.5 * far.distance_to_start()
    assert near.predict(X).shape == (200, 1)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"penalty": "l3"}, "penalty must be one of"),
        ({"lam": -1.0}, "lam must be a non-negative number"),
        ({"head_outputs": 0}, "head_outputs must be None or a positive int"),
        ({"module__n": 3}, "module__\\* parameters would replace it"),
    ],
)
def test_bad_parameters(params, match):
    module = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match=match):
        HypothesisTransferNet(module, verbose=0, **params).initialize()


def test_head_needs_a_linear_layer():
    with pytest.raises(ValueError, match="needs a module with an nn.Linear"):
        HypothesisTransferNet(torch.nn.ReLU(), head_outputs=2, verbose=0).initialize()


def test_inputs_that_are_not_real_numbers_are_refused_or_read_as_numbers(digits_transfer):
    # Strings, complex values and NaN hidden in an object array get a clear error (they
    # reached torch's collate, or went through as complex); an object array of numbers (a
    # DataFrame of mixed columns) fits like its float copy.
    mlp, Xt, yt = digits_transfer
    X, y = Xt[:40], yt[:40]
    net = _net(mlp, max_epochs=2)
    with pytest.raises(ValueError, match="X must be numeric, got an array of dtype <U"):
        clone(net).fit(X.astype(str), y)
    with pytest.raises(ValueError, match="X must be numeric, got an array of dtype object"):
        clone(net).fit(np.where(X > 0.5, "a", X.astype(object)), y)
    with pytest.raises(ValueError, match="X must be real, got a complex array"):
        clone(net).fit(X.astype(np.complex64), y)
    with pytest.raises(ValueError, match="X must be real, got a complex tensor"):
        clone(net).fit(torch.as_tensor(X.astype(np.complex64)), y)
    hidden_nan = X.astype(object)
    hidden_nan[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        clone(net).fit(hidden_nan, y)
    torch.manual_seed(0)
    as_objects = clone(net).fit(X.astype(object), y).predict_proba(X)
    torch.manual_seed(0)
    np.testing.assert_array_equal(as_objects, clone(net).fit(X, y).predict_proba(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda(digits_transfer):
    mlp, Xt, yt = digits_transfer
    net = _net(mlp, penalty="l2sp_fisher", device="cuda", max_epochs=3).fit(Xt[:60], yt[:60])
    assert next(net.module_.parameters()).is_cuda
    assert net.starting_point_.theta0(0).is_cuda
    assert next(mlp.parameters()).device.type == "cpu"
    assert net.predict(Xt[:5]).shape == (5,)


def test_import_without_torch_names_the_extra():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'skorch'):\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    import skreuse.deep\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "skreuse[deep]"' in out.stdout


def test_old_alpha_name_says_it_is_now_lam():
    for cls in (HypothesisTransferNet, HypothesisTransferNetRegressor):
        with pytest.raises(TypeError, match="alpha was renamed lam"):
            cls(torch.nn.Linear(3, 2), alpha=0.1)
        assert cls(torch.nn.Linear(3, 2), lam=0.3).get_params()["lam"] == 0.3
