"""Tests of OTFusion: exactness on permuted copies, the paper's formulas, input kinds."""

import copy
import pickle
import warnings

import numpy as np
import pytest
from scipy.optimize import linprog
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skreuse.inference import OTFusion, WeightAveraging


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600], X[1200:] / 16.0, y[1200:]


def _mlp(hidden, seed, X, y, max_iter=40, cls=MLPClassifier):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(hidden_layer_sizes=hidden, max_iter=max_iter, random_state=seed).fit(X, y)


@pytest.fixture(scope="module")
def mlp(digits):
    X, y, _, _ = digits
    return _mlp((12, 8), 0, X, y)


def _permuted(model, perms):
    """A copy of a scikit-learn MLP with hidden neurons reordered: neuron i <- perms[l][i]."""
    out = copy.deepcopy(model)
    coefs, inter = [c.copy() for c in model.coefs_], [b.copy() for b in model.intercepts_]
    for layer, p in enumerate(perms):
        coefs[layer] = coefs[layer][:, p]
        inter[layer] = inter[layer][p]
        coefs[layer + 1] = coefs[layer + 1][p]
    out.coefs_, out.intercepts_ = coefs, inter
    return out


def _snapshot(models):
    return [pickle.dumps(m) for m in models]


@pytest.mark.parametrize("align", ["activation", "weight", "permutation"])
@pytest.mark.parametrize("permuted_is_anchor", [False, True])
def test_fusing_a_permuted_copy_gives_back_the_model(digits, mlp, align, permuted_is_anchor):
    X, _, X_test, _ = digits
    rng = np.random.RandomState(1)
    perms = [rng.permutation(12), rng.permutation(8)]
    other = _permuted(mlp, perms)
    models = [other, mlp] if permuted_is_anchor else [mlp, other]
    before = _snapshot(models)
    fusion = OTFusion(models, align=align, random_state=0).fit(X)
    np.testing.assert_allclose(
        fusion.predict_proba(X_test), mlp.predict_proba(X_test), rtol=0, atol=1e-6
    )
    np.testing.assert_array_equal(fusion.predict(X_test), mlp.predict(X_test))
    assert isinstance(fusion.fused_, MLPClassifier)
    np.testing.assert_array_equal(fusion.classes_, mlp.classes_)
    assert _snapshot(models) == before
    if not permuted_is_anchor:
        # model 1's neuron i is the anchor's neuron perms[l][i]: the plan says so exactly
        for layer, p in enumerate(perms):
            expected = np.zeros((len(p), len(p)))
            expected[np.arange(len(p)), p] = 1.0 / len(p)
            np.testing.assert_allclose(fusion.transport_[1][layer], expected, atol=1e-12)


def test_sinkhorn_plan_is_soft_with_the_right_marginals(digits, mlp):
    X, _, X_test, _ = digits
    other = _permuted(mlp, [np.arange(12)[::-1], np.arange(8)])
    exact = OTFusion([mlp, other]).fit(X)
    soft = OTFusion([mlp, other], reg=0.05).fit(X)
    plan = soft.transport_[1][0]
    np.testing.assert_allclose(plan.sum(axis=1), np.full(12, 1 / 12), atol=1e-6)
    np.testing.assert_allclose(plan.sum(axis=0), np.full(12, 1 / 12), atol=1e-6)
    assert (plan > 1e-6).sum() > 12  # not a permutation
    sharp = OTFusion([mlp, other], reg=1e-3).fit(X)
    np.testing.assert_allclose(sharp.transport_[1][0], exact.transport_[1][0], atol=1e-4)
    np.testing.assert_allclose(
        sharp.predict_proba(X_test), mlp.predict_proba(X_test), rtol=0, atol=1e-3
    )


def _slow_fusion(models, plans, weights):
    """Singh & Jaggi's Algorithm 1 written neuron by neuron, for given plans (anchor 0)."""
    anchor = models[0]
    n_layers = len(anchor.coefs_)
    fused = [w * c.copy() for w, c in zip([weights[0]] * n_layers, anchor.coefs_)]
    fused_b = [weights[0] * b.copy() for b in anchor.intercepts_]
    for k in range(1, len(models)):
        m, prev = models[k], None
        for layer in range(n_layers):
            W, b = m.coefs_[layer].T, m.intercepts_[layer]  # (n_out, n_in)
            if prev is not None:  # W_hat[:, j] = sum_i W[:, i] T[i, j] / beta_j
                n_a = prev.shape[1]
                W_hat = np.zeros((W.shape[0], n_a))
                for j in range(n_a):
                    for i in range(prev.shape[0]):
                        W_hat[:, j] += W[:, i] * prev[i, j] * n_a
                W = W_hat
            if layer < n_layers - 1:
                T = plans[k][layer]
                n_a = T.shape[1]
                W_al, b_al = np.zeros((n_a, W.shape[1])), np.zeros(n_a)
                for j in range(n_a):
                    for i in range(T.shape[0]):
                        W_al[j] += T[i, j] * n_a * W[i]
                        b_al[j] += T[i, j] * n_a * b[i]
                W, b, prev = W_al, b_al, T
            fused[layer] += weights[k] * W.T
            fused_b[layer] += weights[k] * b
    return fused, fused_b


def _lp_transport_cost(cost):
    """Optimal transport cost with uniform marginals, by scipy's LP solver."""
    n, m = cost.shape
    A_eq = np.vstack([np.kron(np.eye(n), np.ones(m)), np.kron(np.ones(n), np.eye(m))])
    b_eq = np.concatenate([np.full(n, 1 / n), np.full(m, 1 / m)])
    return linprog(cost.ravel(), A_eq=A_eq, b_eq=b_eq, bounds=(0, None)).fun


@pytest.mark.parametrize("align", ["activation", "weight"])
def test_different_widths_follow_the_paper(digits, align):
    X, y, _, _ = digits
    models = [_mlp((6, 5), 0, X, y), _mlp((9, 7), 1, X, y), _mlp((4, 8), 2, X, y)]
    weights = np.array([0.5, 0.3, 0.2])
    fusion = OTFusion(models, align=align, weights=[5, 3, 2]).fit(X)
    np.testing.assert_allclose(fusion.weights_, weights)
    assert [c.shape for c in fusion.fused_.coefs_] == [(64, 6), (6, 5), (5, 10)]
    plan = fusion.transport_[1][0]
    assert plan.shape == (9, 6)
    np.testing.assert_allclose(plan.sum(axis=1), np.full(9, 1 / 9), atol=1e-12)
    np.testing.assert_allclose(plan.sum(axis=0), np.full(6, 1 / 6), atol=1e-12)
    assert (plan > 0).sum() > 9  # a split mass: not a permutation
    # the plan of the first layer is an optimal transport for the ground cost
    if align == "activation":
        feats = X @ models[1].coefs_[0] + models[1].intercepts_[0]
        feats_a = X @ models[0].coefs_[0] + models[0].intercepts_[0]
    else:
        feats = np.hstack([models[1].coefs_[0].T, models[1].intercepts_[0][:, None]])
        feats_a = np.hstack([models[0].coefs_[0].T, models[0].intercepts_[0][:, None]])
        feats, feats_a = feats.T, feats_a.T
    cost = ((feats.T[:, None, :] - feats_a.T[None, :, :]) ** 2).sum(axis=2)
    cost /= cost.max()
    np.testing.assert_allclose((plan * cost).sum(), _lp_transport_cost(cost), rtol=1e-7)
    coefs, intercepts = _slow_fusion(models, fusion.transport_, weights)
    for got, want in zip(fusion.fused_.coefs_ + fusion.fused_.intercepts_, coefs + intercepts):
        np.testing.assert_allclose(got, want, atol=1e-10)


def test_weights_select_a_model(digits, mlp):
    X, y, X_test, _ = digits
    other = _mlp((12, 8), 3, X, y)
    only_anchor = OTFusion([mlp, other], weights=[1, 0]).fit(X)
    for a, b in zip(only_anchor.fused_.coefs_, mlp.coefs_):
        np.testing.assert_array_equal(a, b)
    # all weight on the other model: its function, re-expressed in the anchor's order
    only_other = OTFusion([mlp, other], weights=[0, 1]).fit(X)
    np.testing.assert_allclose(
        only_other.predict_proba(X_test), other.predict_proba(X_test), atol=1e-6
    )


def test_ot_fusion_beats_naive_averaging(digits):
    """The known result, small: OT fusion keeps far more accuracy than plain averaging."""
    X, y, X_test, y_test = digits
    naive, fused, single = [], [], []
    for seed in range(2):
        models = [_mlp((24, 24), 2 * seed + s, X, y, max_iter=50) for s in range(2)]
        single.append(np.mean([m.score(X_test, y_test) for m in models]))
        naive.append(WeightAveraging(models).fit(X).score(X_test, y_test))
        fused.append(OTFusion(models).fit(X).score(X_test, y_test))
    assert np.mean(fused) > np.mean(naive) + 0.1
    assert np.mean(single) > np.mean(fused)


def test_prefit_false_trains_then_fuses(digits):
    X, y, X_test, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        unfitted = [MLPClassifier((8,), max_iter=30, random_state=s) for s in range(2)]
        trained = OTFusion(unfitted, prefit=False).fit(X, y)
    fitted = [_mlp((8,), s, X, y, max_iter=30) for s in range(2)]
    direct = OTFusion(fitted).fit(X)
    np.testing.assert_array_equal(trained.predict_proba(X_test), direct.predict_proba(X_test))
    assert not hasattr(unfitted[0], "coefs_")
    with pytest.raises(ValueError, match="requires y"):
        OTFusion(unfitted, prefit=False).fit(X)


def test_finetune_equals_warm_start_training(digits, mlp):
    X, y, X_test, _ = digits
    other = _mlp((12, 8), 4, X, y)
    tuned = OTFusion([mlp, other], finetune_epochs=3).fit(X, y)
    manual = copy.deepcopy(OTFusion([mlp, other]).fit(X).fused_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        manual.set_params(warm_start=True, max_iter=3).fit(X, y)
    np.testing.assert_allclose(tuned.predict_proba(X_test), manual.predict_proba(X_test))
    assert tuned.fused_.max_iter == mlp.max_iter
    with pytest.raises(ValueError, match="requires y"):
        OTFusion([mlp, other], finetune_epochs=3).fit(X)


def test_regressor(digits):
    X, _, X_test, _ = digits
    target = X[:, :3] @ np.array([1.0, -2.0, 0.5])
    model = _mlp((10,), 0, X, target, max_iter=100, cls=MLPRegressor)
    other = _permuted(model, [np.random.RandomState(0).permutation(10)])
    fusion = OTFusion([model, other]).fit(X)
    assert isinstance(fusion.fused_, MLPRegressor)
    np.testing.assert_allclose(fusion.predict(X_test), model.predict(X_test), atol=1e-6)
    assert fusion.score(X, target) == pytest.approx(model.score(X, target))
    assert not hasattr(fusion, "predict_proba")


def test_frozen_models_survive_clone_and_grid_search(digits, mlp):
    X, y, _, _ = digits
    other = _mlp((12, 8), 5, X, y)
    est = OTFusion([FrozenEstimator(mlp), FrozenEstimator(other)])
    search = GridSearchCV(est, {"align": ["activation", "permutation"]}, cv=2).fit(X, y)
    assert search.best_params_["align"] in ("activation", "permutation")
    fitted = clone(est).fit(X)
    np.testing.assert_array_equal(fitted.predict(X), OTFusion([mlp, other]).fit(X).predict(X))


def test_bad_input(digits, mlp):
    X, y, _, _ = digits
    deeper = _mlp((12, 8, 4), 0, X, y, max_iter=5)
    with pytest.raises(ValueError, match="different depths"):
        OTFusion([mlp, deeper]).fit(X)
    narrow_in = _mlp((12, 8), 0, X[:, :10], y, max_iter=5)
    with pytest.raises(ValueError, match="different input/output sizes"):
        OTFusion([mlp, narrow_in]).fit(X)
    fewer_classes = _mlp((12, 8), 0, X[y < 5], y[y < 5], max_iter=5)
    with pytest.raises(ValueError, match="different input/output sizes"):
        OTFusion([mlp, fewer_classes]).fit(X)
    with pytest.raises(NotFittedError, match=r"models\[1\]"):
        OTFusion([mlp, MLPClassifier((12, 8))]).fit(X)
    with pytest.raises(TypeError, match="MLPClassifier/MLPRegressor"):
        OTFusion([mlp, LogisticRegression().fit(X, y)]).fit(X)
    wider = _mlp((13, 8), 0, X, y, max_iter=5)
    with pytest.raises(ValueError, match="different hidden widths"):
        OTFusion([mlp, wider], align="permutation").fit(X)
    with pytest.raises(ValueError, match="anchor=2 is out of range"):
        OTFusion([mlp, mlp], anchor=2).fit(X)
    with pytest.raises(ValueError, match="weights must have one entry per model"):
        OTFusion([mlp, mlp], weights=[1.0]).fit(X)
    with pytest.raises(ValueError, match="non-negative"):
        OTFusion([mlp, mlp], weights=[1.0, -1.0]).fit(X)
    with pytest.raises(ValueError, match="X has 10 features, but the models take 64"):
        OTFusion([mlp, mlp]).fit(X[:, :10])
    with pytest.raises(ValueError, match="non-empty"):
        OTFusion([]).fit(X)
    relu_tanh = copy.deepcopy(mlp).set_params(activation="tanh")
    with pytest.raises(ValueError, match="different activations"):
        OTFusion([mlp, relu_tanh]).fit(X)


# -- torch and skorch models --------------------------------------------------------------


def _torch_permuted(module, perms):
    torch = pytest.importorskip("torch")
    out = copy.deepcopy(module)
    linears = [m for m in out if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for layer, p in enumerate(perms):
            p = torch.as_tensor(p)
            linears[layer].weight.copy_(linears[layer].weight[p])
            linears[layer].bias.copy_(linears[layer].bias[p])
            linears[layer + 1].weight.copy_(linears[layer + 1].weight[:, p])
    return out


@pytest.mark.parametrize("align", ["activation", "weight", "permutation"])
def test_torch_sequential_permuted_copy(align):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8), torch.nn.GELU(),
        torch.nn.Linear(8, 3),
    )  # fmt: skip
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    other = _torch_permuted(net, [rng.permutation(16), rng.permutation(8)])
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in (net, other)]
    fusion = OTFusion([net, other], align=align, random_state=0).fit(X)
    assert isinstance(fusion.fused_, torch.nn.Sequential)
    assert fusion.fused_kind_ == "torch"
    with torch.no_grad():
        expected = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(fusion.predict(X), expected, atol=1e-5)
    for m, b in zip((net, other), before):
        for k, v in m.state_dict().items():
            assert torch.equal(v, b[k])
    assert not hasattr(fusion, "predict_proba")
    with pytest.raises(ValueError, match="finetune_epochs > 0 needs"):
        OTFusion([net, other], finetune_epochs=1).fit(X, expected)


def test_torch_unsupported_layers():
    torch = pytest.importorskip("torch")
    X = np.zeros((4, 5), dtype=np.float32)
    with_norm = torch.nn.Sequential(
        torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)
    )
    with pytest.raises(TypeError, match="BatchNorm1d"):
        OTFusion([with_norm, with_norm]).fit(X)
    softmax_inside = torch.nn.Sequential(
        torch.nn.Linear(5, 4), torch.nn.Softmax(dim=1), torch.nn.Linear(4, 2)
    )
    with pytest.raises(TypeError, match="elementwise"):
        OTFusion([softmax_inside, softmax_inside]).fit(X)
    with pytest.raises(TypeError, match="nn.Sequential"):
        OTFusion([torch.nn.Linear(5, 2), torch.nn.Linear(5, 2)]).fit(X)


def test_skorch_classifier_permuted_copy():
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    module = torch.nn.Sequential(
        torch.nn.Linear(6, 10), torch.nn.ReLU(), torch.nn.Linear(10, 3), torch.nn.Softmax(dim=-1)
    )
    net = skorch.NeuralNetClassifier(module, max_epochs=3, lr=0.1, verbose=0).fit(X, y)
    other = copy.deepcopy(net)
    other.module_ = _torch_permuted(net.module_, [rng.permutation(10)])
    fusion = OTFusion([net, other]).fit(X)
    assert isinstance(fusion.fused_, skorch.NeuralNetClassifier)
    assert fusion.fused_ is not net
    np.testing.assert_allclose(fusion.predict_proba(X), net.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(fusion.predict(X), net.predict(X))
    assert fusion.score(X, y) == pytest.approx(np.mean(net.predict(X) == y))
    tuned = OTFusion([net, other], finetune_epochs=2).fit(X, y)
    assert len(tuned.fused_.history) == len(net.history) + 2
    assert len(net.history) == 3


def test_parallel_alignment_gives_the_same_model(digits):
    from joblib import parallel_backend

    X, y, X_test, _ = digits
    models = [_mlp((8, 8), s, X, y, max_iter=10) for s in range(3)]
    serial = OTFusion(models, anchor=1, align="permutation", random_state=0).fit(X)
    with parallel_backend("threading"):
        parallel = OTFusion(models, anchor=1, align="permutation", random_state=0, n_jobs=2)
        parallel.fit(X)
    np.testing.assert_array_equal(serial.predict_proba(X_test), parallel.predict_proba(X_test))
    assert len(parallel.transport_) == 3
    np.testing.assert_array_equal(parallel.transport_[1][0], np.eye(8) / 8)


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


def _matching_gain(anchor, model, perms, layer):
    """Gain of every (anchor neuron, model neuron) pair of a hidden layer, neighbours fixed.

    Weights as (out, in) matrices; ``perms[l][j]`` is the model neuron sent to anchor
    neuron ``j``. The weight-matching objective is sum_j gain[j, perms[layer][j]].
    """
    W = [c.T for c in model.coefs_]
    A = [c.T for c in anchor.coefs_]
    W_in = W[layer] if layer == 0 else W[layer][:, perms[layer - 1]]
    W_out = W[layer + 1] if layer + 1 == len(perms) else W[layer + 1][perms[layer + 1]]
    return (
        A[layer] @ W_in.T
        + np.outer(anchor.intercepts_[layer], model.intercepts_[layer])
        + A[layer + 1].T @ W_out
    )


def test_permutation_matching_is_a_fixed_point_of_coordinate_ascent(digits):
    # Two independently trained nets with four hidden layers: weight matching stops at a
    # permutation per layer that no single-layer assignment improves, given its
    # neighbours (each layer's gain depends on both neighbouring permutations).
    from scipy.optimize import linear_sum_assignment

    X, y, _, _ = digits
    anchor, model = (_mlp((9, 8, 7, 6), seed, X, y, max_iter=15) for seed in (0, 1))
    fusion = OTFusion([anchor, model], anchor=0, align="permutation", random_state=0).fit(X)
    plans = fusion.transport_[1]
    perms = [plan.argmax(axis=0) for plan in plans]
    for plan, perm in zip(plans, perms):
        expected = np.zeros_like(plan)
        expected[perm, np.arange(len(perm))] = 1.0 / len(perm)
        np.testing.assert_array_equal(plan, expected)
    for layer in range(len(perms)):
        gain = _matching_gain(anchor, model, perms, layer)
        rows, cols = linear_sum_assignment(gain, maximize=True)
        reached = gain[np.arange(len(perms[layer])), perms[layer]].sum()
        assert reached == pytest.approx(gain[rows, cols].sum(), rel=1e-12, abs=1e-12)
    assert any(not np.array_equal(p, np.arange(len(p))) for p in perms)


def test_ground_cost_is_squared_distance_scaled_to_one():
    from scipy.spatial.distance import cdist

    from skreuse.inference._fusion import _ground_cost

    rng = np.random.RandomState(0)
    for scale in (1e-3, 1.0, 1e3):  # the largest distance below and above 1
        A, B = scale * rng.normal(size=(5, 3)), scale * rng.normal(size=(4, 3))
        expected = cdist(A, B, "sqeuclidean")
        np.testing.assert_allclose(_ground_cost(A, B), expected / expected.max(), atol=1e-12)
    # a neuron against itself: the expansion |a|^2 + |b|^2 - 2 a.b cancels to tiny negative
    # values in floating point; a cost is never negative
    A = 1e3 * rng.normal(size=(50, 20)) + 5e3
    assert np.all(_ground_cost(A, A) >= 0.0)
    # identical neurons: zero cost everywhere, not 0 / 0
    same = np.ones((3, 2))
    np.testing.assert_array_equal(_ground_cost(same, same), np.zeros((3, 3)))


# --- sequential CNNs: channels aligned like neurons -------------------------------------


def _digit_cnn(seed):
    nn = pytest.importorskip("torch").nn
    pytest.importorskip("torch").manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 5, 3, padding=1),
        nn.BatchNorm2d(5),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(5 * 4 * 4, 7),
        nn.ReLU(),
        nn.Linear(7, 10),
    )


def _trained_cnn(seed, X, y, steps=40):
    torch = pytest.importorskip("torch")
    model = _digit_cnn(seed)
    gen = torch.Generator().manual_seed(seed)
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(X_t), (64,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X_t[idx]), y_t[idx]).backward()
        opt.step()
    return model.eval()


def _channel_permuted(model, p1, p2, p3):
    """A copy whose conv channels (p1, p2) and hidden Linear units (p3) are reordered."""
    torch = pytest.importorskip("torch")
    out = copy.deepcopy(model)
    with torch.no_grad():
        for conv, bn, p in ((out[0], out[1], p1), (out[4], out[5], p2)):
            conv.weight.copy_(conv.weight[p])
            conv.bias.copy_(conv.bias[p])
            for f in ("weight", "bias", "running_mean", "running_var"):
                getattr(bn, f).copy_(getattr(bn, f)[p])
        out[4].weight.copy_(out[4].weight[:, p1])
        W = out[8].weight.reshape(7, 5, 16)[:, p2].reshape(7, 80)
        out[8].weight.copy_(W[p3])
        out[8].bias.copy_(out[8].bias[p3])
        out[10].weight.copy_(out[10].weight[:, p3])
    return out


@pytest.mark.parametrize("align", ["activation", "weight"])
def test_conv_fusion_of_a_channel_permuted_copy_returns_the_model(digits, align):
    torch = pytest.importorskip("torch")
    X, y, X_test, y_test = digits
    img = X.reshape(-1, 1, 8, 8).astype(np.float32)
    img_test = X_test.reshape(-1, 1, 8, 8).astype(np.float32)
    model = _trained_cnn(0, img, y)
    rng = np.random.RandomState(0)
    perms = [rng.permutation(6), rng.permutation(5), rng.permutation(7)]
    permuted = _channel_permuted(model, *perms)
    with torch.no_grad():
        want = model(torch.as_tensor(img_test)).numpy()
        # the permuted copy computes the same function with other weights
        np.testing.assert_allclose(permuted(torch.as_tensor(img_test)).numpy(), want, atol=1e-5)
    assert not torch.equal(permuted[0].weight, model[0].weight)
    before = [pickle.dumps(m.state_dict()) for m in (model, permuted)]
    fusion = OTFusion([model, permuted], align=align, classes=np.arange(10)).fit(img)
    with torch.no_grad():
        got = fusion.fused_(torch.as_tensor(img_test)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    for a, b in zip(fusion.fused_.state_dict().values(), model.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # each plan sends the copy's channel j (the model's channel perm[j]) to perm[j]
    for plan, perm in zip(fusion.transport_[1], perms):
        want_plan = np.zeros((len(perm), len(perm)))
        want_plan[np.arange(len(perm)), perm] = 1.0 / len(perm)
        np.testing.assert_allclose(plan, want_plan, atol=1e-12)
    assert fusion.score(img_test, y_test) == pytest.approx(np.mean(want.argmax(1) == y_test))
    assert [pickle.dumps(m.state_dict()) for m in (model, permuted)] == before


def test_conv_fusion_of_independent_models_and_bad_input(digits):
    torch = pytest.importorskip("torch")
    X, y, X_test, y_test = digits
    img = X.reshape(-1, 1, 8, 8).astype(np.float32)
    models = [_trained_cnn(s, img, y, steps=60) for s in (1, 2)]
    fusion = OTFusion(models, classes=np.arange(10)).fit(img)
    assert [p.shape for p in fusion.transport_[1]] == [(6, 6), (5, 5), (7, 7)]
    naive = WeightAveraging(models, classes=np.arange(10)).fit(img)
    img_test = X_test.reshape(-1, 1, 8, 8).astype(np.float32)
    # alignment beats plain averaging of independently trained CNNs
    assert fusion.score(img_test, y_test) > naive.score(img_test, y_test)
    with pytest.raises(ValueError, match="permutation.*MLPs only"):
        OTFusion(models, align="permutation").fit(img)
    other = torch.nn.Sequential(*list(_digit_cnn(3))[:8], torch.nn.Linear(80, 10))
    with pytest.raises(ValueError, match="different layer sequences"):
        OTFusion([models[0], other]).fit(img)
    grouped = _digit_cnn(0)
    grouped[4] = torch.nn.Conv2d(6, 6, 3, padding=1, groups=2)
    with pytest.raises(TypeError, match="grouped convolutions"):
        OTFusion([models[0], grouped]).fit(img)


@pytest.mark.skipif(
    not (pytest.importorskip("torch").cuda.is_available()), reason="needs a CUDA GPU"
)
def test_cuda_conv_fusion_of_a_channel_permuted_copy(digits):
    torch = pytest.importorskip("torch")
    X, y, X_test, _ = digits
    img = X.reshape(-1, 1, 8, 8).astype(np.float32)
    img_test = X_test.reshape(-1, 1, 8, 8).astype(np.float32)
    model = _trained_cnn(0, img, y)
    rng = np.random.RandomState(0)
    permuted = _channel_permuted(model, rng.permutation(6), rng.permutation(5), rng.permutation(7))
    fusion = OTFusion([model.cuda(), permuted.cuda()], classes=np.arange(10)).fit(img)
    assert next(fusion.fused_.parameters()).is_cuda
    with torch.no_grad():
        x = torch.as_tensor(img_test).cuda()
        np.testing.assert_allclose(
            fusion.fused_(x).cpu().numpy(), model(x).cpu().numpy(), rtol=1e-4, atol=1e-4
        )


def test_conv_fusion_of_skorch_nets_trained_in_fit(digits):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    X, y, X_test, y_test = digits
    img = X.reshape(-1, 1, 8, 8).astype(np.float32)
    img_test = X_test.reshape(-1, 1, 8, 8).astype(np.float32)
    nets = [
        skorch.NeuralNetClassifier(
            _digit_cnn(s),
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=0.01,
            max_epochs=3,
            train_split=None,
            verbose=0,
        )
        for s in (0, 1)
    ]
    fusion = OTFusion(nets, prefit=False, finetune_epochs=1).fit(img, y)
    assert isinstance(fusion.fused_, skorch.NeuralNetClassifier)
    np.testing.assert_array_equal(fusion.classes_, np.arange(10))
    assert fusion.score(img_test, y_test) == pytest.approx(
        np.mean(fusion.fused_.predict(img_test) == y_test)
    )
    assert not any(getattr(n, "initialized_", False) for n in nets)  # templates untouched


def test_target_is_required_exactly_when_fit_trains(mlp):
    for prefit, epochs, required in [(True, 0, False), (True, 1, True), (False, 0, True)]:
        fusion = OTFusion([mlp, mlp], prefit=prefit, finetune_epochs=epochs)
        assert fusion.__sklearn_tags__().target_tags.required is required


# -- CNN fusion pinned by mutation testing (issue 20) ----------------------------------------


def _bias_free_cnn(seed, widths):
    """A CNN whose first Conv2d has no bias (BatchNorm follows), with random BatchNorm
    parameters and running statistics, so that every per-channel tensor differs between
    models without training."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(seed)
    c1, c2, h = widths
    model = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=False),
        nn.BatchNorm2d(c1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.BatchNorm2d(c2),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(c2 * 16, h),
        nn.ReLU(),
        nn.Linear(h, 10),
    )
    with torch.no_grad():
        for bn in (model[1], model[5]):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_()
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _log_sinkhorn(cost, reg, n_iter=10_000):
    """Entropic OT plan with uniform marginals, Sinkhorn's iterations in the log domain."""
    from scipy.special import logsumexp

    n, m = cost.shape
    log_a, log_b = np.full(n, -np.log(n)), np.full(m, -np.log(m))
    f, g = np.zeros(n), np.zeros(m)
    for _ in range(n_iter):
        f = reg * (log_a - logsumexp((g[None, :] - cost) / reg, axis=1))
        g = reg * (log_b - logsumexp((f[:, None] - cost) / reg, axis=0))
        plan = np.exp((f[:, None] + g[None, :] - cost) / reg)
        if np.abs(plan.sum(axis=1) - 1.0 / n).max() < 1e-15:  # columns are exact after g
            break
    return plan


def _slow_cnn_fusion(models, X, weights, align, reg):
    """Singh & Jaggi's Algorithm 1 on CNNs (channels as neurons), channel by channel, for
    ``_bias_free_cnn`` models with anchor 0: the cost is the squared distance between two
    channels' whole kernels (with bias) or their outputs after BatchNorm at every position
    of every row, scaled to a maximum of 1; the plans are computed here, not by POT."""
    torch = pytest.importorskip("torch")
    layer_at, bn_at = [0, 4, 8, 10], {0: 1, 4: 5}
    n_hidden = len(layer_at) - 1

    def tensors(model):
        out = []
        for i in layer_at:
            m = model[i]
            bias = None if m.bias is None else m.bias.detach().double().numpy()
            bn = None
            if i in bn_at:
                bn = {
                    f: getattr(model[bn_at[i]], f).detach().double().numpy()
                    for f in ("weight", "bias", "running_mean", "running_var")
                }
            out.append([m.weight.detach().double().numpy(), bias, bn])
        return out

    def channel_outputs(model):
        x = torch.as_tensor(X, dtype=torch.float32)
        feats = []
        with torch.no_grad():
            for i in layer_at[:-1]:
                a = model[: bn_at.get(i, i) + 1](x).double().numpy()
                feats.append(np.stack([a[:, c].ravel() for c in range(a.shape[1])]))
        return feats

    def cost_of(F, G):
        C = np.array([[np.sum((f - g) ** 2) for g in G] for f in F])
        return C / C.max()

    anchor = tensors(models[0])
    acts_anchor = channel_outputs(models[0]) if align == "activation" else None
    fused = [
        [weights[0] * W, None if b is None else weights[0] * b,
         None if bn is None else {f: weights[0] * v for f, v in bn.items()}]
        for W, b, bn in anchor
    ]  # fmt: skip
    all_plans = [[np.eye(la[0].shape[0]) / la[0].shape[0] for la in anchor[:-1]]]
    for k in range(1, len(models)):
        layers = tensors(models[k])
        acts = channel_outputs(models[k]) if align == "activation" else None
        prev, plans = None, []
        for index, (W, b, bn) in enumerate(layers):
            if prev is not None:  # input channel d <- sum_c T[c, d] * width * channel c
                n_in = prev.shape[1]
                if index == 2:  # Linear after Flatten: blocks of 16 positions per channel
                    W = W.reshape(W.shape[0], prev.shape[0], 16)
                carried = np.zeros((W.shape[0], n_in) + W.shape[2:])
                for d in range(n_in):
                    for c in range(prev.shape[0]):
                        carried[:, d] += prev[c, d] * n_in * W[:, c]
                W = carried.reshape(W.shape[0], -1) if index == 2 else carried
            if index < n_hidden:
                ref = anchor[index]
                if align == "weight":
                    F = [np.append(W[o].ravel(), [] if b is None else b[o]) for o in range(len(W))]
                    G = [
                        np.append(ref[0][o].ravel(), [] if ref[1] is None else ref[1][o])
                        for o in range(len(ref[0]))
                    ]
                else:
                    F, G = acts[index], acts_anchor[index]
                T = _log_sinkhorn(cost_of(F, G), reg)
                n_out = T.shape[1]
                W_al = np.zeros((n_out,) + W.shape[1:])
                b_al = None if b is None else np.zeros(n_out)
                bn_al = None if bn is None else {f: np.zeros(n_out) for f in bn}
                for j in range(n_out):
                    for i in range(T.shape[0]):
                        W_al[j] += T[i, j] * n_out * W[i]
                        if b is not None:
                            b_al[j] += T[i, j] * n_out * b[i]
                        if bn is not None:
                            for f in bn:
                                bn_al[f][j] += T[i, j] * n_out * bn[f][i]
                W, b, bn, prev = W_al, b_al, bn_al, T
                plans.append(T)
            fused[index][0] = fused[index][0] + weights[k] * W
            if b is not None:
                fused[index][1] = fused[index][1] + weights[k] * b
            if bn is not None:
                for f in bn:
                    fused[index][2][f] = fused[index][2][f] + weights[k] * bn[f]
        all_plans.append(plans)
    return fused, all_plans


@pytest.mark.parametrize("align", ["activation", "weight"])
def test_conv_fusion_with_soft_plans_and_other_widths_follows_the_paper(digits, align):
    """Every fused tensor and plan against the paper's algorithm written channel by channel:
    models of other widths than the anchor, a bias-free convolution, BatchNorm parameters
    and statistics that differ between models, unequal model weights, soft plans (which
    move with any change of the ground cost), more rows than one activation batch, and
    float64 images for float32 models."""
    torch = pytest.importorskip("torch")
    X = digits[0][:300].reshape(-1, 1, 8, 8)  # float64
    models = [
        _bias_free_cnn(0, (4, 3, 5)),
        _bias_free_cnn(1, (6, 4, 3)),
        _bias_free_cnn(2, (3, 5, 6)),
    ]
    before = [pickle.dumps(m.state_dict()) for m in models]
    weights = np.array([0.5, 0.3, 0.2])
    fusion = OTFusion(models, align=align, reg=0.1, weights=[5, 3, 2], classes=np.arange(10))
    fusion.fit(X)
    want, want_plans = _slow_cnn_fusion(models, X, weights, align, reg=0.1)
    np.testing.assert_allclose(fusion.weights_, weights)
    for plans, wanted in zip(fusion.transport_, want_plans):
        assert len(plans) == len(wanted)
        for plan, w_plan in zip(plans, wanted):
            assert plan.shape == w_plan.shape
            np.testing.assert_allclose(plan, w_plan, rtol=1e-5, atol=1e-9)
    fused = fusion.fused_

    def close(tensor, value):
        np.testing.assert_allclose(tensor.detach().double().numpy(), value, rtol=1e-4, atol=1e-6)

    for i, bn_i, (W, b, bn) in zip([0, 4, 8, 10], [1, 5, None, None], want):
        close(fused[i].weight, W)
        if b is None:
            assert fused[i].bias is None
        else:
            close(fused[i].bias, b)
        if bn is not None:
            for f, v in bn.items():
                close(getattr(fused[bn_i], f), v)
    assert fused[0].weight.dtype == torch.float32
    assert [pickle.dumps(m.state_dict()) for m in models] == before


def test_conv_reader_rejects_what_it_cannot_align_channel_wise(digits):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    img = digits[0][:50].reshape(-1, 1, 8, 8).astype(np.float32)
    good = _digit_cnn(0).eval()

    def fit(model, **kwargs):
        return OTFusion([good, model.eval()], classes=np.arange(10), **kwargs).fit(img)

    # Softmax2d has no parameters and comes from torch.nn, but mixes the channels
    softmax = nn.Sequential(*list(_digit_cnn(1))[:3], nn.Softmax2d(), *list(_digit_cnn(1))[3:])
    with pytest.raises(TypeError, match="models\\[1\\] contains Softmax2d"):
        fit(softmax)
    # a BatchNorm1d over the flattened features normalizes positions, not the 5 channels
    flat_bn = nn.Sequential(
        nn.Conv2d(1, 5, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.BatchNorm1d(320),
        nn.Linear(320, 10),
    )  # fmt: skip
    with pytest.raises(TypeError, match="BatchNorm must follow the Conv2d/Linear whose 5 output"):
        fit(flat_bn)
    # two BatchNorms after one convolution; a BatchNorm before any layer
    double_bn = nn.Sequential(*list(_digit_cnn(1))[:2], nn.BatchNorm2d(6), *list(_digit_cnn(1))[2:])
    with pytest.raises(TypeError, match="BatchNorm must follow"):
        fit(double_bn)
    bn_first = nn.Sequential(nn.BatchNorm2d(1), *list(_digit_cnn(1)))
    with pytest.raises(TypeError, match="BatchNorm must follow"):
        fit(bn_first)
    no_affine = _digit_cnn(1)
    no_affine[1] = nn.BatchNorm2d(6, affine=False)
    with pytest.raises(TypeError, match="affine=True and running stats"):
        fit(no_affine)
    no_stats = _digit_cnn(1)
    no_stats[5] = nn.BatchNorm2d(5, track_running_stats=False)
    with pytest.raises(TypeError, match="affine=True and running stats"):
        fit(no_stats)
    # a Linear right after a convolution acts on the last axis (8 positions), not on the
    # 3 channels: its inputs are no whole number of channel blocks
    last_axis = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Linear(8, 10))
    with pytest.raises(ValueError, match="takes 8 inputs, not a multiple of the 3 channels"):
        OTFusion([last_axis, copy.deepcopy(last_axis)]).fit(img)
    with pytest.raises(ValueError, match="anchor=2 is out of range for 2 models"):
        OTFusion([good, _digit_cnn(1)], anchor=2).fit(img)
    # the message names the model that differs
    other = nn.Sequential(*list(_digit_cnn(3))[:8], nn.Linear(80, 10))
    with pytest.raises(ValueError, match="models\\[2\\] and models\\[0\\] have different layer"):
        OTFusion([good, _digit_cnn(1), other]).fit(img)


try:  # a module class at module level, so that skorch can pickle (deep-copy) its nets
    import torch as _torch

    class _DigitCNN(_torch.nn.Sequential):
        def __init__(self, seed=0):
            super().__init__(*_digit_cnn(seed))

except ImportError:  # pragma: no cover
    pass


def test_conv_fusion_of_skorch_nets(digits):
    """A skorch net given a module class (its module_ is built by initialize) is a CNN;
    an uninitialized net is named in the error; fine-tuning trains exactly
    finetune_epochs more epochs."""
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    X, y, _, _ = digits
    img = X.reshape(-1, 1, 8, 8).astype(np.float32)

    def net(seed):
        return skorch.NeuralNetClassifier(
            _DigitCNN, module__seed=seed, criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam, lr=0.01, max_epochs=3, train_split=None, verbose=0,
        )  # fmt: skip

    nets = [net(s).fit(img, y) for s in (0, 1)]
    fusion = OTFusion(nets, align="weight").fit(img)
    assert isinstance(fusion.fused_, skorch.NeuralNetClassifier)
    assert [p.shape for p in fusion.transport_[1]] == [(6, 6), (5, 5), (7, 7)]
    with pytest.raises(NotFittedError, match="models\\[1\\]"):
        OTFusion([nets[0], net(2)]).fit(img)
    tuned = OTFusion(nets, align="weight", finetune_epochs=1).fit(img, y)
    assert len(tuned.fused_.history) == len(nets[0].history) + 1 == 4
    changed = [
        not torch.equal(a, b)
        for a, b in zip(tuned.fused_.module_.parameters(), fusion.fused_.module_.parameters())
    ]
    assert all(changed)


def test_conv_fusion_leaves_the_models_as_they_were(digits):
    """Fitting neither switches the models' layers out of training mode nor, with
    align="weight", runs them: the weight alignment needs no forward pass."""
    torch = pytest.importorskip("torch")
    img = digits[0][:100].reshape(-1, 1, 8, 8).astype(np.float32)
    models = [_digit_cnn(s).train() for s in (0, 1)]
    calls = []
    for m in models:
        m.register_forward_hook(lambda *args: calls.append(1))
    OTFusion(models, align="weight", classes=np.arange(10)).fit(img)
    assert calls == []
    OTFusion(models, align="activation", classes=np.arange(10)).fit(img)
    assert len(calls) == 2  # one batch per model, each on a copy carrying the hook
    assert all(mod.training for m in models for mod in m.modules())
    # the activations came from copies in eval mode: no BatchNorm statistics were updated
    assert torch.equal(models[0][1].running_mean, torch.zeros(6))


def test_a_reg_too_small_for_sinkhorn_is_refused_not_a_nan_model(digits):
    """Found by mutation testing: with reg=1e-4 the stabilized Sinkhorn plan of these
    layers was NaN (exp(-cost / reg) underflows on whole rows) and fit returned a model of
    NaN weights; it now raises. A reg that Sinkhorn can handle still fits."""
    X, y, _, _ = digits
    models = [_mlp((12, 8), s, X, y) for s in (0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # POT's own numerical warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="reg=0.0001 is too small for Sinkhorn"):
            OTFusion(models, reg=1e-4).fit(X)
        fusion = OTFusion(models, reg=1e-2).fit(X)
    assert all(np.isfinite(p).all() for p in fusion.transport_[1])
    assert np.isfinite(fusion.fused_.coefs_[0]).all()
