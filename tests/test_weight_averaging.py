"""Tests of WeightAveraging: soups, WiSE-FT, Fisher merging and RegMean against direct formulas."""

import copy
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skreuse.inference import WeightAveraging


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(n_class=4, return_X_y=True)
    return X[:400] / 16.0, y[:400], X[400:] / 16.0, y[400:]


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.fixture(scope="module")
def family(data):
    """A base model and three fine-tuned copies, each on a different part of the data."""
    X, y, _, _ = data
    base = _fit(MLPClassifier((10,), max_iter=30, random_state=0), X, y)
    tuned = []
    for k in range(3):
        m = copy.deepcopy(base).set_params(
            warm_start=True, max_iter=10, learning_rate_init=3e-3, random_state=k
        )
        tuned.append(_fit(m, X[k::3], y[k::3]))
    return base, tuned


def _with_params(template, coefs, intercepts):
    out = copy.deepcopy(template)
    out.coefs_, out.intercepts_ = coefs, intercepts
    return out


def test_uniform_soup_of_one_model_is_the_model(data, family):
    X, _, X_test, _ = data
    base, _ = family
    soup = WeightAveraging([base]).fit(X)
    np.testing.assert_array_equal(soup.predict_proba(X_test), base.predict_proba(X_test))
    assert isinstance(soup.fused_, MLPClassifier)
    assert soup.fused_ is not base


def test_weighted_uniform_soup_matches_numpy_average(data, family):
    X, y, X_test, _ = data
    _, tuned = family
    before = [pickle.dumps(m) for m in tuned]
    soup = WeightAveraging(tuned, weights=[2, 1, 1]).fit(X)
    w = np.array([0.5, 0.25, 0.25])
    for layer in range(2):
        want = sum(wk * m.coefs_[layer] for wk, m in zip(w, tuned))
        np.testing.assert_allclose(soup.fused_.coefs_[layer], want, atol=1e-12)
    np.testing.assert_allclose(soup.weights_, w)
    assert [pickle.dumps(m) for m in tuned] == before
    assert soup.score(X_test, data[3]) == pytest.approx(soup.fused_.score(X_test, data[3]))


def test_wise_ft_endpoints_and_interpolation(data, family):
    X, _, X_test, _ = data
    base, tuned = family
    for alpha, expected in ((0.0, base), (1.0, tuned[0])):
        wise = WeightAveraging([base, tuned[0]], method="wise_ft", alpha=alpha).fit(X)
        np.testing.assert_allclose(
            wise.predict_proba(X_test), expected.predict_proba(X_test), atol=1e-12
        )
    wise = WeightAveraging([base, tuned[0]], method="wise_ft", alpha=0.3).fit(X)
    mix = _with_params(
        base,
        [0.7 * a + 0.3 * b for a, b in zip(base.coefs_, tuned[0].coefs_)],
        [0.7 * a + 0.3 * b for a, b in zip(base.intercepts_, tuned[0].intercepts_)],
    )
    np.testing.assert_allclose(wise.predict_proba(X_test), mix.predict_proba(X_test), atol=1e-12)


def test_greedy_soup_matches_a_direct_computation(data, family):
    X, y, X_test, y_test = data
    base, tuned = family
    rng = np.random.RandomState(0)
    broken = _with_params(
        base, [rng.normal(size=c.shape) for c in base.coefs_], list(base.intercepts_)
    )
    models = [*tuned, broken, base]
    soup = WeightAveraging(models, method="greedy").fit(X_test, y_test)
    scores = [m.score(X_test, y_test) for m in models]
    np.testing.assert_allclose(soup.scores_, scores)
    order = sorted(range(len(models)), key=lambda k: -scores[k])
    chosen, best = [order[0]], scores[order[0]]
    for k in order[1:]:
        cand = [*chosen, k]
        avg = _with_params(
            base,
            [np.mean([models[i].coefs_[l] for i in cand], axis=0) for l in range(2)],
            [np.mean([models[i].intercepts_[l] for i in cand], axis=0) for l in range(2)],
        )
        if avg.score(X_test, y_test) >= best:
            chosen, best = cand, avg.score(X_test, y_test)
    assert soup.ingredients_ == chosen
    assert len(chosen) >= 2
    assert 3 not in soup.ingredients_  # the random model never helps
    assert soup.score(X_test, y_test) == pytest.approx(best)
    assert soup.score(X_test, y_test) >= max(scores)


def _fisher_brute_force(model, X):
    """Diagonal Fisher of an MLP by torch autograd, one sample and one output at a time."""
    torch = pytest.importorskip("torch")
    coefs = [torch.tensor(c, requires_grad=True) for c in model.coefs_]
    inter = [torch.tensor(b, requires_grad=True) for b in model.intercepts_]
    act = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid}[model.activation]
    fisher = [torch.zeros_like(p) for p in coefs + inter]
    for x in torch.tensor(X):
        h = x[None]
        for layer, (W, b) in enumerate(zip(coefs, inter)):
            h = h @ W + b
            if layer < len(coefs) - 1:
                h = act(h)
        z = h[0]
        out = model.out_activation_
        for m in range(z.shape[0]):
            if out == "softmax":
                logp = torch.log_softmax(z, dim=0)
                weight, target = logp[m].exp().detach(), logp[m]
            elif out == "logistic":
                s = torch.sigmoid(z[m]).detach()
                weight, target = s * (1 - s), z[m]
            else:
                weight, target = 1.0, z[m]
            grads = torch.autograd.grad(target, coefs + inter, retain_graph=True)
            for f, g in zip(fisher, grads):
                f += weight * g**2
    return [f.numpy() / len(X) for f in fisher]


@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression"])
def test_fisher_merge_matches_autograd_fisher(data, kind):
    X, y, _, _ = data
    X = X[:40]
    if kind == "regression":
        target, cls = np.c_[X[:, 10], X[:, 20] - X[:, 30]], MLPRegressor
    else:
        target, cls = (y[:40] if kind == "multiclass" else y[:40] % 2), MLPClassifier
    models = [
        _fit(cls(hidden_layer_sizes=(5,), activation=a, max_iter=20, random_state=s), X, target)
        for s, a in ((0, "tanh"), (1, "tanh"))
    ]
    groups = np.arange(40) % 2
    merged = WeightAveraging(models, method="fisher", weights=[3, 1]).fit(X, groups=groups)
    fishers = [_fisher_brute_force(m, X[groups == k]) for k, m in enumerate(models)]
    params = [m.coefs_ + m.intercepts_ for m in models]
    got = merged.fused_.coefs_ + merged.fused_.intercepts_
    for i in range(4):
        F = [w * np.maximum(f[i], 1e-6) for w, f in zip((0.75, 0.25), fishers)]
        want = (F[0] * params[0][i] + F[1] * params[1][i]) / (F[0] + F[1])
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-9)


def test_fisher_of_identical_models_is_the_model(data, family):
    X, _, X_test, _ = data
    base, _ = family
    merged = WeightAveraging([base, copy.deepcopy(base)], method="fisher").fit(X)
    np.testing.assert_allclose(merged.predict_proba(X_test), base.predict_proba(X_test))


def _two_linear_models(data):
    """Two linear regressors (MLPs without hidden layer), each fitted on its own rows."""
    X = data[0][:, ::4]
    targets = [X @ np.linspace(-1, 1, X.shape[1]), X[:, :3].sum(axis=1) - 1.0]
    groups = (np.arange(len(X)) >= 150).astype(int)
    models = [
        _fit(
            MLPRegressor(hidden_layer_sizes=(), solver="lbfgs", random_state=0),
            X[groups == k],
            targets[k][groups == k],
        )
        for k in range(2)
    ]
    return X, groups, models


def test_regmean_on_linear_models_is_the_least_squares_merge(data):
    X, groups, models = _two_linear_models(data)
    merged = WeightAveraging(models, method="regmean", ridge=0.0).fit(X, groups=groups)
    # least squares: one linear model reproducing every model's outputs on its own data
    A = np.hstack([X, np.ones((len(X), 1))])
    out = np.concatenate([models[k].predict(X[groups == k]) for k in range(2)])
    A = np.vstack([A[groups == k] for k in range(2)])
    theta = np.linalg.lstsq(A, out, rcond=None)[0]
    np.testing.assert_allclose(merged.fused_.coefs_[0].ravel(), theta[:-1], atol=1e-8)
    np.testing.assert_allclose(merged.fused_.intercepts_[0], theta[-1:], atol=1e-8)
    # with every row seen by every model, each model's own data is all of X
    merged_all = WeightAveraging(models, method="regmean", ridge=0.0).fit(X)
    both = np.concatenate([m.predict(X) for m in models])
    theta = np.linalg.lstsq(np.vstack([np.c_[X, np.ones(len(X))]] * 2), both, rcond=None)[0]
    np.testing.assert_allclose(merged_all.fused_.coefs_[0].ravel(), theta[:-1], atol=1e-8)


def test_regmean_layers_use_each_models_own_inputs(data, family):
    X, _, X_test, _ = data
    base, tuned = family
    merged = WeightAveraging(tuned[:2], method="regmean", ridge=0.0).fit(X)
    # second layer: inputs are each model's own hidden activations on X
    hidden = [np.maximum(X @ m.coefs_[0] + m.intercepts_[0], 0) for m in tuned[:2]]
    A = [np.c_[h, np.ones(len(X))] for h in hidden]
    outs = [h @ m.coefs_[1] + m.intercepts_[1] for h, m in zip(hidden, tuned[:2])]
    theta = np.linalg.lstsq(np.vstack(A), np.vstack(outs), rcond=None)[0]
    np.testing.assert_allclose(merged.fused_.coefs_[1], theta[:-1], atol=1e-6)
    same = WeightAveraging([base, copy.deepcopy(base)], method="regmean").fit(X)
    np.testing.assert_allclose(same.predict_proba(X_test), base.predict_proba(X_test), atol=1e-8)


def test_torch_and_skorch_models(data):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    X, y, _, _ = data
    X = X.astype(np.float32)
    torch.manual_seed(0)
    nets = [
        torch.nn.Sequential(torch.nn.Linear(64, 6), torch.nn.ReLU(), torch.nn.Linear(6, 4))
        for _ in range(2)
    ]
    soup = WeightAveraging(nets, weights=[1, 3]).fit(X)
    assert isinstance(soup.fused_, torch.nn.Sequential)
    with torch.no_grad():
        for got, a, b in zip(soup.fused_.parameters(), *(n.parameters() for n in nets)):
            torch.testing.assert_close(got, 0.25 * a + 0.75 * b)
        expected = soup.fused_(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(soup.predict(X), expected, atol=1e-6)
    # regmean on torch linear models: the least-squares merge
    lin = [torch.nn.Sequential(torch.nn.Linear(64, 2)) for _ in range(2)]
    merged = WeightAveraging(lin, method="regmean", ridge=0.0).fit(X[:, :64])
    with torch.no_grad():
        outs = np.vstack([m(torch.from_numpy(X)).numpy() for m in lin]).astype(np.float64)
    A = np.vstack([np.c_[X.astype(np.float64), np.ones(len(X))]] * 2)
    theta = np.linalg.lstsq(A, outs, rcond=None)[0]
    np.testing.assert_allclose(merged.fused_[0].weight.detach().numpy(), theta[:-1].T, atol=1e-4)

    def make_net(seed):
        torch.manual_seed(seed)
        module = torch.nn.Sequential(torch.nn.Linear(64, 6), torch.nn.Tanh(), torch.nn.Linear(6, 4))
        net = skorch.NeuralNetClassifier(
            module, criterion=torch.nn.CrossEntropyLoss, max_epochs=2, lr=0.1, verbose=0
        )
        return net.fit(X, y)

    skorch_nets = [make_net(0), make_net(1)]
    wise = WeightAveraging(skorch_nets, method="wise_ft", alpha=1.0).fit(X)
    assert isinstance(wise.fused_, skorch.NeuralNetClassifier)
    np.testing.assert_allclose(wise.predict_proba(X), skorch_nets[1].predict_proba(X), atol=1e-6)
    fisher = WeightAveraging(skorch_nets, method="fisher").fit(X)
    assert fisher.score(X, y) == pytest.approx(np.mean(fisher.predict(X) == y))


def test_bad_input(data, family):
    X, y, _, _ = data
    base, tuned = family
    wider = _fit(MLPClassifier((11,), max_iter=2, random_state=0), X, y)
    with pytest.raises(ValueError, match="different hidden widths"):
        WeightAveraging([base, wider]).fit(X)
    with pytest.raises(ValueError, match="interpolates two models"):
        WeightAveraging(tuned, method="wise_ft").fit(X)
    with pytest.raises(ValueError, match="weights must be None"):
        WeightAveraging(tuned, method="greedy", weights=[1, 1, 1]).fit(X, y)
    with pytest.raises(ValueError, match="requires y"):
        WeightAveraging(tuned, method="greedy").fit(X)
    with pytest.raises(ValueError, match="groups must take values"):
        WeightAveraging(tuned, method="regmean").fit(X, groups=np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="groups must be an integer array"):
        WeightAveraging(tuned, method="fisher").fit(X, groups=np.zeros(3, dtype=int))
    with pytest.raises(NotFittedError, match=r"models\[1\]"):
        WeightAveraging([base, MLPClassifier((10,))]).fit(X)
    with pytest.raises(ValueError, match="different input/output sizes"):
        WeightAveraging([base, _fit(MLPClassifier((10,), max_iter=2), X[:, :8], y)]).fit(X)
    deeper = _fit(MLPClassifier((10, 4), max_iter=2), X, y)
    with pytest.raises(ValueError, match="different depths"):
        WeightAveraging([base, deeper]).fit(X)


# -- behaviour pinned by mutation testing (issue 20) -----------------------------------------


def test_regmean_ridge_matches_the_documented_formula(data):
    # With the models' weights w_i (normalized to sum 1) and Gram matrices G_i of their
    # inputs (with a column of ones), lam = ridge * mean(diag(sum_i w_i G_i)) is added to
    # every G_i; on linear models the merge is then one regularized solve.
    X, groups, models = _two_linear_models(data)
    A = [np.c_[X[groups == k], np.ones(np.sum(groups == k))] for k in range(2)]
    G = [a.T @ a for a in A]
    theta = [np.r_[m.coefs_[0], m.intercepts_[0][None]] for m in models]
    w = np.array([0.25, 0.75])
    eye = np.eye(G[0].shape[0])
    for ridge in (0.05, 3.0):
        merged = WeightAveraging(models, method="regmean", weights=[1, 3], ridge=ridge)
        merged.fit(X, groups=groups)
        total = w[0] * G[0] + w[1] * G[1]
        lam = ridge * np.mean(np.diag(total))
        rhs = sum(wk * (g + lam * eye) @ t for wk, g, t in zip(w, G, theta))
        expected = np.linalg.solve(total + lam * eye, rhs)
        np.testing.assert_allclose(merged.fused_.coefs_[0], expected[:-1], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(merged.fused_.intercepts_[0], expected[-1], rtol=1e-8)
    # a huge ridge leaves only the weighted average of the parameters
    flat = WeightAveraging(models, method="regmean", weights=[1, 3], ridge=1e9)
    flat.fit(X, groups=groups)
    np.testing.assert_allclose(
        flat.fused_.coefs_[0], w[0] * theta[0][:-1] + w[1] * theta[1][:-1], atol=1e-6
    )


def test_greedy_soup_keeps_the_best_model_alone_when_averaging_hurts(data, family):
    # The soup starts from the best model's score: a second model whose average with the
    # best scores between the two models' own scores must not be added.
    X, y, X_test, y_test = data
    base, _ = family
    rng = np.random.RandomState(1)
    noisy = _with_params(
        base,
        [c + 0.6 * rng.normal(size=c.shape) * np.abs(c).mean() for c in base.coefs_],
        list(base.intercepts_),
    )
    half = _with_params(
        base,
        [(a + b) / 2 for a, b in zip(base.coefs_, noisy.coefs_)],
        list(base.intercepts_),
    )
    s_base, s_noisy, s_half = (m.score(X_test, y_test) for m in (base, noisy, half))
    assert s_noisy < s_half < s_base  # the case this test is about
    for models, best in (([base, noisy], 0), ([noisy, base], 1)):
        soup = WeightAveraging(models, method="greedy").fit(X_test, y_test)
        assert soup.ingredients_ == [best]
        np.testing.assert_array_equal(soup.weights_, np.eye(2)[best])


@pytest.mark.parametrize("bad", [3, 7, -1])
def test_groups_out_of_range_are_refused(data, family, bad):
    X, _, _, _ = data
    _, tuned = family
    groups = np.arange(len(X)) % 3
    groups[5] = bad
    with pytest.raises(ValueError, match=r"groups must take values in 0\.\.2 with"):
        WeightAveraging(tuned, method="regmean").fit(X, groups=groups)


# --- any torch module: CNNs with BatchNorm, task arithmetic, TIES, DARE -----------------


def _cnn(seed, n_classes=4):
    """A small digits CNN with BatchNorm (8x8 images, one channel)."""
    nn = pytest.importorskip("torch").nn
    pytest.importorskip("torch").manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, n_classes),
    )


def _train_cnn(model, X, y, steps, seed, lr=0.05):
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(seed)
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(X_t), (32,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X_t[idx]), y_t[idx]).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def images(data):
    X, y, X_test, y_test = data
    as_img = lambda A: A.reshape(-1, 1, 8, 8).astype(np.float32)  # noqa: E731
    return as_img(X), y, as_img(X_test), y_test


@pytest.fixture(scope="module")
def cnn_family(images):
    """A pre-trained CNN and three copies fine-tuned on different parts of the data."""
    X, y, _, _ = images
    base = _train_cnn(_cnn(0), X, y, steps=30, seed=0)
    tuned = [
        _train_cnn(copy.deepcopy(base), X[k::3], y[k::3], steps=15, seed=k + 1, lr=0.02)
        for k in range(3)
    ]
    return base, tuned


def _params(module):
    return {n: p.detach().double().numpy() for n, p in module.named_parameters()}


def _logits(module, X):
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        return module.eval()(torch.as_tensor(X)).numpy()


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("uniform", {}),
        ("fisher", {}),
        ("greedy", {}),
        ("task_arithmetic", {"scaling": 0.5}),
        ("ties", {"density": 1.0}),  # disjoint mean of equal task vectors
    ],
)
def test_merging_a_cnn_with_itself_returns_it(images, cnn_family, method, extra):
    X, y, X_test, _ = images
    base, tuned = cnn_family
    model = tuned[0]
    before = pickle.dumps(model.state_dict())
    if method in ("task_arithmetic", "ties"):
        extra = {**extra, "base": base}
    merged = WeightAveraging(
        [model, copy.deepcopy(model)], method=method, classes=[0, 1, 2, 3], **extra
    ).fit(X, y)
    assert isinstance(merged.fused_, type(model))
    assert merged.fused_ is not model
    for name, value in _params(model).items():
        np.testing.assert_allclose(_params(merged.fused_)[name], value, rtol=1e-6, atol=1e-7)
    for (name, a), b in zip(model.named_buffers(), merged.fused_.buffers()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(_logits(merged.fused_, X_test), _logits(model, X_test), atol=1e-5)
    assert pickle.dumps(model.state_dict()) == before


def test_task_arithmetic_of_base_plus_tau_is_the_fine_tuned_model(images, cnn_family):
    X, _, X_test, _ = images
    base, tuned = cnn_family
    one = WeightAveraging([tuned[0]], method="task_arithmetic", base=base).fit(X)
    for name, value in _params(tuned[0]).items():
        np.testing.assert_allclose(_params(one.fused_)[name], value, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_logits(one.fused_, X_test), _logits(tuned[0], X_test), atol=1e-5)
    # two task vectors: base + lambda * (tau_1 + tau_2), computed directly
    two = WeightAveraging(tuned[:2], method="task_arithmetic", base=base, scaling=0.4).fit(X)
    b, t1, t2 = _params(base), _params(tuned[0]), _params(tuned[1])
    for name in b:
        want = b[name] + 0.4 * ((t1[name] - b[name]) + (t2[name] - b[name]))
        np.testing.assert_allclose(_params(two.fused_)[name], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(two.weights_, [0.4, 0.4])


def _ties_reference(base, tuned, density, scaling):
    """TIES-Merging written from the paper (Yadav et al. 2023, Algorithm 1), slowly."""
    names = list(base)
    taus = [np.concatenate([(t[n] - base[n]).ravel() for n in names]) for t in tuned]
    d = taus[0].size
    k = int(density * d)
    trimmed = []
    for tau in taus:  # keep the top-k% magnitudes of each task vector
        keep = np.argsort(-np.abs(tau), kind="stable")[:k]
        t = np.zeros(d)
        t[keep] = tau[keep]
        trimmed.append(t)
    merged = np.zeros(d)
    for j in range(d):
        values = [t[j] for t in trimmed]
        gamma = np.sign(sum(values))  # elected sign: the larger total mass
        agreeing = [v for v in values if np.sign(v) == gamma and v != 0]
        merged[j] = sum(agreeing) / len(agreeing) if agreeing else 0.0
    out, start = {}, 0
    for n in names:
        size = base[n].size
        out[n] = base[n] + scaling * merged[start : start + size].reshape(base[n].shape)
        start += size
    return out


@pytest.mark.parametrize("density", [0.2, 0.5])
def test_ties_matches_a_slow_reference(images, cnn_family, density):
    X, _, _, _ = images
    base, tuned = cnn_family
    merged = WeightAveraging(tuned, method="ties", base=base, density=density, scaling=0.8).fit(X)
    want = _ties_reference(_params(base), [_params(t) for t in tuned], density, 0.8)
    got = _params(merged.fused_)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
    # the trim keeps (about) the density of each task vector
    tau = np.concatenate([(got[n] - _params(base)[n]).ravel() for n in want])
    assert 0 < np.mean(tau != 0) <= min(1.0, len(tuned) * density) + 1e-6


def test_dare_matches_a_slow_reference(images, cnn_family):
    X, _, X_test, _ = images
    base, tuned = cnn_family
    p = 0.7
    merged = WeightAveraging(
        tuned[:2], method="dare", base=base, drop_rate=p, scaling=0.5, random_state=3
    ).fit(X)
    rng = np.random.RandomState(3)
    b = _params(base)
    delta = {n: np.zeros_like(v) for n, v in b.items()}
    for t in tuned[:2]:
        for n, value in _params(t).items():  # one Bernoulli(p) drop per entry
            drop = rng.random_sample(value.shape) < p
            flat = (value - b[n]).ravel().copy()
            for j, dropped in enumerate(drop.ravel()):
                flat[j] = 0.0 if dropped else flat[j] / (1 - p)
            delta[n] += flat.reshape(value.shape)
    got = _params(merged.fused_)
    for n in b:
        np.testing.assert_allclose(got[n], b[n] + 0.5 * delta[n], rtol=1e-5, atol=1e-6)
    # drop_rate=0 is task arithmetic; the same seed gives the same merge
    none = WeightAveraging(tuned[:2], method="dare", base=base, drop_rate=0.0).fit(X)
    ta = WeightAveraging(tuned[:2], method="task_arithmetic", base=base).fit(X)
    np.testing.assert_allclose(_logits(none.fused_, X_test), _logits(ta.fused_, X_test), atol=1e-6)
    again = WeightAveraging(
        tuned[:2], method="dare", base=base, drop_rate=p, scaling=0.5, random_state=3
    ).fit(X)
    for n in b:
        np.testing.assert_array_equal(_params(again.fused_)[n], got[n])


def test_torch_classifier_is_scored_with_accuracy_and_greedy_soup(images, cnn_family):
    X, y, X_test, y_test = images
    base, tuned = cnn_family
    labels = np.array(["zero", "one", "two", "three"])
    soup = WeightAveraging(tuned, method="greedy", classes=labels).fit(X_test, labels[y_test])
    assert is_classifier(soup)
    for k, model in enumerate(tuned):
        want = np.mean(_logits(model, X_test).argmax(axis=1) == y_test)
        assert soup.scores_[k] == pytest.approx(want)
    pred = labels[_logits(soup.fused_, X_test).argmax(axis=1)]
    np.testing.assert_array_equal(soup.predict(X_test), pred)
    assert soup.score(X_test, labels[y_test]) == pytest.approx(np.mean(pred == labels[y_test]))
    proba = soup.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(soup.classes_, labels)
    assert soup.ingredients_[0] == int(np.argmax(soup.scores_))


def test_reset_bn_recomputes_running_statistics_on_X(images, cnn_family):
    torch = pytest.importorskip("torch")
    X, _, _, _ = images
    base, tuned = cnn_family
    X = X[:200]  # one batch: the running statistics are exactly those of X
    merged = WeightAveraging(tuned, reset_bn=True).fit(X)
    fused = merged.fused_
    seen = {}

    def keep_input(i):
        def hook(module, inputs, output):
            seen[i] = inputs[0]

        return hook

    hooks = [fused[i].register_forward_hook(keep_input(i)) for i in (1, 5)]
    with torch.no_grad():
        fused.eval()(torch.as_tensor(X))
    for h in hooks:
        h.remove()
    for i in (1, 5):
        a = seen[i].double()
        mean = a.mean(dim=(0, 2, 3))
        np.testing.assert_allclose(fused[i].running_mean, mean, rtol=1e-4, atol=1e-5)
        var = a.transpose(0, 1).reshape(a.shape[1], -1).var(dim=1, unbiased=True)
        np.testing.assert_allclose(fused[i].running_var, var, rtol=1e-4, atol=1e-6)
    assert fused.training is False
    assert fused[1].momentum == tuned[0][1].momentum
    # without the reset, the running statistics are the mean of the models'
    plain = WeightAveraging(tuned).fit(X)
    want = np.mean([m[1].running_var.numpy() for m in tuned], axis=0)
    np.testing.assert_allclose(plain.fused_[1].running_var.numpy(), want, rtol=1e-6)


def _fisher_reference(model, X):
    """Diagonal Fisher of a torch classifier: per sample, per class autograd."""
    torch = pytest.importorskip("torch")
    model = copy.deepcopy(model).double().eval()
    params = list(model.parameters())
    fisher = [torch.zeros_like(p) for p in params]
    for x in torch.as_tensor(X, dtype=torch.float64):
        logp = torch.log_softmax(model(x[None])[0], dim=0)
        for c in range(logp.shape[0]):
            grads = torch.autograd.grad(logp[c], params, retain_graph=True)
            for f, g in zip(fisher, grads):
                f += logp[c].exp().detach() * g**2
    return [f.numpy() / len(X) for f in fisher]


def test_fisher_merge_of_cnns_matches_autograd(images, cnn_family):
    X, _, _, _ = images
    _, tuned = cnn_family
    X = X[:12]
    merged = WeightAveraging(tuned[:2], method="fisher", weights=[1, 3], classes=[0, 1, 2, 3]).fit(
        X, groups=np.arange(12) % 2
    )
    fishers = [_fisher_reference(m, X[k::2]) for k, m in enumerate(tuned[:2])]
    params = [list(_params(m).values()) for m in tuned[:2]]
    for i, got in enumerate(_params(merged.fused_).values()):
        F = [w * np.maximum(f[i], 1e-6) for w, f in zip((0.25, 0.75), fishers)]
        want = (F[0] * params[0][i] + F[1] * params[1][i]) / (F[0] + F[1])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_torch_merge_bad_input(images, cnn_family):
    torch = pytest.importorskip("torch")
    X, y, _, _ = images
    base, tuned = cnn_family
    wider = _cnn(1)
    wider[4] = torch.nn.Conv2d(6, 8, 5, padding=2)
    with pytest.raises(ValueError, match=r"parameter '4.weight' has shape"):
        WeightAveraging([tuned[0], wider]).fit(X)
    renamed = torch.nn.Sequential(torch.nn.Identity(), *_cnn(1))
    with pytest.raises(ValueError, match=r"first differing parameter '1.weight' in models\[1\]"):
        WeightAveraging([tuned[0], renamed]).fit(X)
    with pytest.raises(ValueError, match=r"base and models\[0\].*'4.weight'"):
        WeightAveraging(tuned, method="ties", base=wider).fit(X)
    with pytest.raises(ValueError, match="needs base="):
        WeightAveraging(tuned, method="dare").fit(X)
    with pytest.raises(ValueError, match="base is used only by"):
        WeightAveraging(tuned, base=base).fit(X)
    with pytest.raises(ValueError, match="weights must be None"):
        WeightAveraging(tuned, method="ties", base=base, weights=[1, 1, 1]).fit(X)
    with pytest.raises(ValueError, match="needs MLPs"):
        WeightAveraging(tuned, method="regmean").fit(X)
    with pytest.raises(ValueError, match="4 outputs but classes has 3"):
        WeightAveraging(tuned, classes=[0, 1, 2]).fit(X).predict(X)
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
    with pytest.raises(ValueError, match="no BatchNorm layer"):
        WeightAveraging([mlp], reset_bn=True).fit(X)


def test_classes_is_refused_for_sklearn_models(data, family):
    X, _, _, _ = data
    _, tuned = family
    with pytest.raises(ValueError, match="classes is for plain torch modules"):
        WeightAveraging(tuned, classes=[0, 1, 2, 3]).fit(X)
    with pytest.raises(ValueError, match="reset_bn=True needs torch"):
        WeightAveraging(tuned, reset_bn=True).fit(X)


@pytest.mark.skipif(
    not (pytest.importorskip("torch").cuda.is_available()), reason="needs a CUDA GPU"
)
def test_cuda_merges_match_cpu(images, cnn_family, monkeypatch):
    torch = pytest.importorskip("torch")
    # cuDNN convolves float32 in TF32 by default (10-bit mantissa): reset_bn's running means
    # then differ from the CPU's by ~1e-3 relative (seen on an H200). The merges are compared
    # in full float32; TF32 is the user's torch setting, not the merge's.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    X, y, X_test, y_test = images
    base, tuned = cnn_family
    gpu = [copy.deepcopy(m).cuda() for m in tuned]
    gpu_base = copy.deepcopy(base).cuda()
    labels = np.arange(4)
    for kwargs in (
        {"reset_bn": True},
        {"method": "ties", "base": "base", "density": 0.3},
        {"method": "dare", "base": "base", "random_state": 0},
        {"method": "fisher"},
    ):
        cpu_kwargs = {k: (base if v == "base" else v) for k, v in kwargs.items()}
        gpu_kwargs = {k: (gpu_base if v == "base" else v) for k, v in kwargs.items()}
        on_cpu = WeightAveraging(tuned, classes=labels, **cpu_kwargs).fit(X[:100])
        on_gpu = WeightAveraging(gpu, classes=labels, **gpu_kwargs).fit(X[:100])
        assert next(on_gpu.fused_.parameters()).is_cuda
        for (name, a), b in zip(
            on_cpu.fused_.state_dict().items(), on_gpu.fused_.state_dict().values()
        ):
            np.testing.assert_allclose(
                b.cpu().double().numpy(), a.double().numpy(), rtol=1e-4, atol=1e-5, err_msg=name
            )
        assert on_gpu.score(X_test, y_test) == pytest.approx(on_cpu.score(X_test, y_test), abs=0.01)
    soup = WeightAveraging(gpu, method="greedy", classes=labels).fit(X_test, y_test)
    assert soup.scores_.shape == (3,)


def _mlp_params(model):
    return {
        **{f"c{k}": c for k, c in enumerate(model.coefs_)},
        **{f"i{k}": b for k, b in enumerate(model.intercepts_)},
    }


def test_task_vector_methods_on_sklearn_mlps(data, family):
    X, _, X_test, _ = data
    base, tuned = family
    one = WeightAveraging([tuned[0]], method="task_arithmetic", base=base).fit(X)
    np.testing.assert_allclose(one.predict_proba(X_test), tuned[0].predict_proba(X_test))
    ties = WeightAveraging(tuned, method="ties", base=base, density=0.3, scaling=0.7).fit(X)
    want = _ties_reference(_mlp_params(base), [_mlp_params(t) for t in tuned], 0.3, 0.7)
    got = _mlp_params(ties.fused_)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12)
    assert isinstance(ties.fused_, MLPClassifier)


def test_base_is_shared_by_clones_and_merges_pickle(images, cnn_family):
    from sklearn.base import clone

    X, _, X_test, _ = images
    base, tuned = cnn_family
    est = WeightAveraging(tuned, method="ties", base=base, classes=[0, 1, 2, 3])
    cloned = clone(est)
    assert cloned.base is base
    assert cloned.models[0] is tuned[0]
    fitted = cloned.fit(X)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X_test), fitted.predict_proba(X_test))


class _ResidualNet(pytest.importorskip("torch").nn.Module):
    """Not a Sequential: a residual block with LayerNorm and a shared-input head."""

    def __init__(self, seed):
        nn = pytest.importorskip("torch").nn
        super().__init__()
        pytest.importorskip("torch").manual_seed(seed)
        self.stem = nn.Linear(64, 16)
        self.norm = nn.LayerNorm(16)
        self.block = nn.Sequential(nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 16))
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        h = self.norm(self.stem(x.flatten(1)))
        return self.head(h + self.block(h))


def test_residual_module_with_layernorm(images):
    X, y, X_test, _ = images
    a, b = _ResidualNet(0).eval(), _ResidualNet(1).eval()
    same = WeightAveraging([a, copy.deepcopy(a)], method="fisher", classes=np.arange(4)).fit(X[:20])
    np.testing.assert_allclose(_logits(same.fused_, X_test), _logits(a, X_test), atol=1e-5)
    soup = WeightAveraging([a, b], weights=[3, 1]).fit(X)
    pa, pb = _params(a), _params(b)
    for name, got in _params(soup.fused_).items():
        np.testing.assert_allclose(got, 0.75 * pa[name] + 0.25 * pb[name], rtol=1e-6, atol=1e-7)
    assert isinstance(soup.fused_, _ResidualNet)


def test_regmean_default_ridge_is_a_tiny_regularization(data):
    # The default ridge (1e-6 of the mean Gram diagonal) only stabilizes the solve: on
    # well-conditioned linear models the merge is the least-squares merge of ridge=0.
    X, _, _, _ = data
    X = X[:, X.std(axis=0) > 0.1][:, ::4]
    targets = [X @ np.linspace(-1, 1, X.shape[1]), X[:, :3].sum(axis=1) - 1.0]
    models = [
        _fit(MLPRegressor(hidden_layer_sizes=(), solver="lbfgs", random_state=0), X, t)
        for t in targets
    ]
    exact = WeightAveraging(models, method="regmean", ridge=0.0).fit(X)
    default = WeightAveraging(models, method="regmean").fit(X)
    assert default.ridge == 1e-6
    np.testing.assert_allclose(default.fused_.coefs_[0], exact.fused_.coefs_[0], atol=1e-3)
    np.testing.assert_allclose(default.predict(X), exact.predict(X), atol=1e-3)


# -- TIES, greedy, BatchNorm reset and input checks pinned by mutation testing (issue 20) ----


def _ties_authors(taus, density):
    """TIES-Merging coordinate by coordinate as in the authors' code (ties_merging.py:
    trim by a magnitude threshold, ``resolve_zero_signs(sign, "majority")``,
    ``disjoint_merge``): each task vector keeps the entries at least as large in magnitude
    as its k-th largest (ties at the threshold kept, as the authors' ``>=`` mask does); a
    coordinate whose trimmed values sum to zero takes the sign of the sum of the elected
    signs, and a coordinate whose sign is still zero keeps the negative values."""
    d = taus[0].size
    k = int(density * d)
    trimmed = []
    for tau in taus:
        t = np.zeros(d)
        if k:
            threshold = sorted(np.abs(tau), reverse=True)[k - 1]
            for j in range(d):
                if abs(tau[j]) >= threshold:
                    t[j] = tau[j]
        trimmed.append(t)
    signs = [np.sign(sum(t[j] for t in trimmed)) for j in range(d)]
    majority = np.sign(sum(signs))
    merged = np.zeros(d)
    for j in range(d):
        gamma = signs[j] if signs[j] != 0 else majority
        kept = [t[j] for t in trimmed if (t[j] > 0 if gamma > 0 else t[j] < 0)]
        merged[j] = sum(kept) / len(kept) if kept else 0.0
    return merged


def _flat(model):
    return np.concatenate([p.ravel() for p in _mlp_params(model).values()])


def _with_flat(template, flat):
    """A copy of a scikit-learn MLP whose parameters, in _mlp_params order, are ``flat``."""
    params, start = {}, 0
    for name, value in _mlp_params(template).items():
        params[name] = flat[start : start + value.size].reshape(value.shape)
        start += value.size
    n = len(template.coefs_)
    return _with_params(
        template, [params[f"c{k}"] for k in range(n)], [params[f"i{k}"] for k in range(n)]
    )


def test_ties_trim_sign_election_and_single_model_match_the_authors_code(data, family):
    X, _, _, _ = data
    # parameters on a grid of 1/8: base + tau - base is tau exactly, so zero sums stay zero
    b = np.round(8 * _flat(family[0])) / 8
    base = _with_flat(family[0], b)
    d = b.size
    rng = np.random.RandomState(0)

    def merge(taus, density, scaling=1.0):
        tuned = [_with_flat(base, b + tau) for tau in taus]
        got = WeightAveraging(tuned, method="ties", base=base, density=density, scaling=scaling)
        got = _flat(got.fit(X).fused_) - b
        np.testing.assert_allclose(got, scaling * _ties_authors(taus, density), atol=1e-12)
        return got

    # integer task vectors: sums are exact, so zero sums are real ties
    taus = [rng.randint(-3, 4, size=d).astype(float) for _ in range(3)]
    taus[1][:5], taus[2][:5] = -taus[0][:5], 0.0  # five coordinates that sum to zero
    taus[0][:5] = [1.0, -2.0, 3.0, 1.0, -1.0]
    taus[1][:5] = -taus[0][:5]
    for majority in (1, -1):
        taus = [t * majority * np.sign(sum(np.sign(sum(taus)))) for t in taus]
        assert np.sign(sum(np.sign(sum(taus)))) == majority
        got = merge(taus, density=1.0)
        # a zero-sum coordinate takes the majority sign: the value of its pair of that sign
        np.testing.assert_allclose(got[:5], majority * np.abs(taus[0][:5]))
    # trimming to one entry per model, and to none (the base model comes back)
    normal = [rng.normal(size=d) for _ in range(3)]
    got = merge(normal, density=1.5 / d, scaling=0.7)
    assert 1 <= np.count_nonzero(got) <= 3
    np.testing.assert_array_equal(merge(taus, density=0.5 / d), np.zeros(d))
    # opposite task vectors: every sign, and the majority, is zero
    tau = np.round(8 * rng.normal(size=d)) / 8
    np.testing.assert_allclose(merge([tau, -tau], density=1.0), -np.abs(tau))
    # one model: its density largest entries, the rest of it dropped
    tau = rng.normal(size=d)
    got = merge([tau], density=0.3, scaling=0.5)
    keep = np.argsort(-np.abs(tau))[: int(0.3 * d)]
    want = np.zeros(d)
    want[keep] = 0.5 * tau[keep]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_one_model_soups_and_the_base_named_in_errors(data, images, cnn_family):
    """Greedy and Fisher merges of one model give it back; a bad base is named "base"."""
    X, _, X_test, _ = images
    Xd, yd, _, _ = data
    base, tuned = cnn_family
    for method, fit_y in (("greedy", True), ("fisher", False)):
        merged = WeightAveraging([tuned[1]], method=method, classes=[0, 1, 2, 3])
        merged.fit(X, images[1] if fit_y else None)
        for name, value in _params(tuned[1]).items():
            np.testing.assert_allclose(_params(merged.fused_)[name], value, rtol=1e-6, atol=1e-7)
    with pytest.raises(NotFittedError, match="^'base' \\(MLPClassifier\\) is not fitted"):
        WeightAveraging(
            [_fit(MLPClassifier((10,), max_iter=5, random_state=0), Xd, yd)],
            method="ties",
            base=MLPClassifier((10,)),
        ).fit(Xd)
    with pytest.raises(TypeError, match="^base must be a fitted"):
        WeightAveraging(tuned, method="ties", base="pre-trained").fit(X)


def test_greedy_soup_with_reset_bn_is_its_ingredients_reset(images, cnn_family):
    """Each candidate soup of the greedy search is scored after the BatchNorm reset, and
    the result equals the uniform average of the chosen ingredients, reset on X."""
    X, y, X_test, y_test = images
    _, tuned = cnn_family
    greedy = WeightAveraging(tuned, method="greedy", reset_bn=True, classes=[0, 1, 2, 3])
    greedy.fit(X_test, y_test)
    chosen = [tuned[k] for k in greedy.ingredients_]
    plain = WeightAveraging(chosen, reset_bn=True, classes=[0, 1, 2, 3]).fit(X_test)
    for (name, a), b in zip(plain.fused_.state_dict().items(), greedy.fused_.state_dict().values()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7, err_msg=name)


def test_reset_bn_of_skorch_nets(images, cnn_family):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    X, _, X_test, _ = images
    _, tuned = cnn_family

    def net(module):
        return skorch.NeuralNetClassifier(
            copy.deepcopy(module), criterion=torch.nn.CrossEntropyLoss, verbose=0
        ).initialize()

    nets = [net(m) for m in tuned]
    merged = WeightAveraging(nets, reset_bn=True).fit(X)
    direct = WeightAveraging(tuned, reset_bn=True).fit(X)
    for a, b in zip(direct.fused_.buffers(), merged.fused_.module_.buffers()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)


def test_fisher_and_regmean_check_the_width_of_X_for_torch_mlps(data):
    torch = pytest.importorskip("torch")
    X, _, _, _ = data
    torch.manual_seed(0)
    mlps = [
        torch.nn.Sequential(torch.nn.Linear(64, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4))
        for _ in range(2)
    ]
    for method in ("fisher", "regmean"):
        with pytest.raises(ValueError, match="X has 63 features, but the models take 64"):
            WeightAveraging(mlps, method=method, classes=[0, 1, 2, 3]).fit(X[:, :63])


# -- _mlp_params: reading models, Fisher diagonals, fine-tuning, BatchNorm reset ----------
# Tests of skreuse/inference/_mlp_params.py (behind OTFusion and WeightAveraging), each
# checked against an independent computation (issue 20, mutation testing).


def _fisher_slow(module, X, likelihood):
    """Diagonal Fisher of any torch module the slow way: per row and output, by autograd."""
    torch = pytest.importorskip("torch")
    module = copy.deepcopy(module).double().eval()
    named = dict(module.named_parameters())
    fisher = {n: torch.zeros_like(p) for n, p in named.items()}
    for x in torch.as_tensor(np.asarray(X), dtype=torch.float64):
        z = module(x[None]).reshape(-1)
        for m in range(z.shape[0]):
            if likelihood == "softmax":
                logp = torch.log_softmax(z, dim=0)
                weight, target = logp[m].exp().detach(), logp[m]
            elif likelihood == "logistic":
                s = torch.sigmoid(z[m]).detach()
                weight, target = s * (1 - s), z[m]
            else:  # a unit Gaussian on each output
                weight, target = 1.0, z[m]
            grads = torch.autograd.grad(target, list(named.values()), retain_graph=True)
            for f, g in zip(fisher.values(), grads):
                f += weight * g**2
    return {n: f.numpy() / len(X) for n, f in fisher.items()}


@pytest.mark.parametrize(
    ("kind", "activation"),
    [("multiclass", "relu"), ("binary", "relu"), ("regression", "relu"), ("binary", "logistic")],
)
def test_mlp_params_fisher_diagonal_of_deep_sklearn_mlps_matches_autograd(data, kind, activation):
    from skreuse.inference._mlp_params import _fisher_diagonal, _read_mlp

    X, y, _, _ = data
    X = X[:30]
    if kind == "regression":
        target, cls = np.c_[X[:, 10], X[:, 20] - X[:, 30]], MLPRegressor
    else:
        target, cls = (y[:30] if kind == "multiclass" else y[:30] % 2), MLPClassifier
    # two hidden layers: the output layer is not the second one
    model = cls(hidden_layer_sizes=(6, 5), activation=activation, max_iter=30, random_state=0)
    model = _fit(model, X, target)
    # A row of zeros meets a first-layer unit of zero bias: a pre-activation of exactly 0,
    # where ReLU's derivative is 0 (as in torch's autograd).
    model.intercepts_[0][0] = 0.0
    X = np.vstack([np.zeros(X.shape[1]), X])
    fisher_W, fisher_b = _fisher_diagonal(_read_mlp(model), X)
    want = _fisher_brute_force(model, X)
    n_layers = len(model.coefs_)
    for layer in range(n_layers):
        np.testing.assert_allclose(fisher_W[layer].T, want[layer], rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(fisher_b[layer], want[n_layers + layer], rtol=1e-7, atol=1e-12)


def _mixed_torch_mlp(seed=0):
    """Flatten in front, two different activations, a hidden layer without bias."""
    nn = pytest.importorskip("torch").nn
    pytest.importorskip("torch").manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(12, 6), nn.Tanh(), nn.Linear(6, 5, bias=False), nn.ReLU(),
        nn.Linear(5, 3),
    )  # fmt: skip


@pytest.mark.parametrize("likelihood", ["softmax", "logistic", "gaussian"])
def test_mlp_params_fisher_diagonal_of_a_torch_mlp_matches_autograd(likelihood):
    from skreuse.inference._mlp_params import _fisher_diagonal, _read_mlp

    module = _mixed_torch_mlp()
    # float32 rows, flattened by the module; the Fisher is computed in float64
    X = np.random.RandomState(0).normal(size=(15, 3, 4)).astype(np.float32)
    mlp = _read_mlp(module)
    assert mlp.has_bias == (True, False, True)
    np.testing.assert_array_equal(mlp.biases[1], np.zeros(5))
    assert mlp.likelihood == "gaussian"  # a plain torch module: regression outputs
    mlp.likelihood = likelihood
    fisher_W, fisher_b = _fisher_diagonal(mlp, X)
    want = _fisher_slow(module, X, likelihood)
    for layer, index in enumerate((1, 3, 5)):
        np.testing.assert_allclose(fisher_W[layer], want[f"{index}.weight"], rtol=1e-9, atol=1e-15)
        if mlp.has_bias[layer]:
            np.testing.assert_allclose(
                fisher_b[layer], want[f"{index}.bias"], rtol=1e-9, atol=1e-15
            )


@pytest.mark.parametrize("likelihood", ["softmax", "logistic", "gaussian"])
def test_mlp_params_fisher_torch_matches_autograd_for_any_batching(likelihood):
    torch = pytest.importorskip("torch")
    from skreuse.inference._mlp_params import _fisher_torch, _read_state

    torch.manual_seed(0)
    nn = torch.nn
    module = nn.Sequential(nn.Linear(5, 6), nn.LayerNorm(6), nn.Tanh(), nn.Linear(6, 3))
    X = np.random.RandomState(1).normal(size=(11, 5))  # more rows than features
    want = _fisher_slow(module, X, likelihood)
    state = _read_state(module)
    # batches of 4, 4 and 3 rows; one batch (the cap of 2**25 Jacobian numbers is not reached)
    for batch_size in (4, 10**9):
        got = _fisher_torch(state, X, likelihood, batch_size=batch_size)
        assert got.keys() == want.keys()
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("method", ["fisher", "regmean", "otfusion"])
def test_mlp_params_flatten_in_front_takes_image_inputs(method):
    # An nn.Flatten in front of the first Linear layer is accepted by the reader; the
    # layer-wise methods must flatten image rows as the module does (they multiplied the
    # (n, 3, 4) array by the (6, 12) weights and failed).
    torch = pytest.importorskip("torch")
    from skreuse.inference import OTFusion

    module = _mixed_torch_mlp()
    X = np.random.RandomState(0).normal(size=(40, 3, 4)).astype(np.float32)
    if method == "otfusion":
        merged = OTFusion([module, copy.deepcopy(module)], align="activation").fit(X)
    else:
        merged = WeightAveraging([module, copy.deepcopy(module)], method=method).fit(X)
    with torch.no_grad():
        want = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(merged.predict(X), want, rtol=1e-4, atol=1e-5)


def test_mlp_params_likelihood_of_each_kind_of_model():
    # The Fisher information of a skorch net follows its class (binary: Bernoulli outputs,
    # classifier: softmax, regressor: Gaussian); a torch module is a classifier when the
    # estimator is given classes.
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from skreuse.inference._mlp_params import _fisher_torch, _likelihood, _read_state

    torch.manual_seed(0)
    nn = torch.nn
    X = np.random.RandomState(0).normal(size=(7, 4)).astype(np.float32)
    body = nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5), nn.Tanh())
    nets = {
        "logistic": skorch.NeuralNetBinaryClassifier(nn.Sequential(body, nn.Linear(5, 1))),
        "softmax": skorch.NeuralNetClassifier(nn.Sequential(body, nn.Linear(5, 3))),
        "gaussian": skorch.NeuralNetRegressor(nn.Sequential(body, nn.Linear(5, 2))),
    }
    for want, net in nets.items():
        state = _read_state(net.initialize())
        assert _likelihood(state, None) == want
        got = _fisher_torch(state, X, _likelihood(state, None))
        slow = _fisher_slow(net.module_, X, want)
        for name in slow:
            np.testing.assert_allclose(got[name], slow[name], rtol=1e-6, atol=1e-12)
    module = _read_state(nn.Sequential(nn.Linear(4, 3)))
    assert _likelihood(module, [0, 1, 2]) == "softmax"
    assert _likelihood(module, None) == "gaussian"


def test_mlp_params_finetune_restores_settings_and_silences_only_convergence(data):
    from skreuse.inference._mlp_params import _finetune

    X, y = data[0][:60], data[1][:60]
    model = _fit(MLPClassifier((5,), max_iter=7, random_state=0), X, y)
    before = model.get_params()
    want = _fit(copy.deepcopy(model).set_params(warm_start=True, max_iter=3), X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the stop after 3 epochs is wanted
        got = _finetune(copy.deepcopy(model), "sklearn", X, y, 3)
    assert got.get_params() == before  # warm_start=False and max_iter=7 again
    for a, b in zip(got.coefs_ + got.intercepts_, want.coefs_ + want.intercepts_):
        np.testing.assert_array_equal(a, b)

    class _WarningMLP(MLPClassifier):
        def fit(self, X, y):
            warnings.warn("a warning of the model's own", UserWarning, stacklevel=2)
            return super().fit(X, y)

    with pytest.warns(UserWarning, match="a warning of the model's own"):
        other = _fit(_WarningMLP((5,), max_iter=7, random_state=0), X, y)
    with pytest.warns(UserWarning, match="a warning of the model's own"):
        _finetune(other, "sklearn", X, y, 3)


def test_mlp_params_read_sequential_layer_rules():
    torch = pytest.importorskip("torch")
    from skreuse.inference import OTFusion
    from skreuse.inference._mlp_params import _read_mlp

    nn = torch.nn
    torch.manual_seed(0)
    # Flatten is accepted in front of the first Linear layer only, and elementwise layers
    assert len(_read_mlp(_mixed_torch_mlp()).weights) == 3
    with pytest.raises(TypeError, match="uses Softmax"):
        _read_mlp(nn.Sequential(nn.Softmax(dim=1), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))
    with pytest.raises(TypeError, match="uses Flatten between Linear layers"):
        _read_mlp(nn.Sequential(nn.Linear(4, 3), nn.Flatten(), nn.Linear(3, 2)))
    # non-elementwise layers are refused between any two Linear layers, not only the first
    with pytest.raises(TypeError, match="uses Softmax between Linear layers"):
        _read_mlp(
            nn.Sequential(
                nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3), nn.Softmax(dim=1), nn.Linear(3, 2)
            )
        )
    # a layer with parameters after the last Linear one would be silently dropped
    with pytest.raises(TypeError, match="contains LayerNorm, a layer with parameters"):
        _read_mlp(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.LayerNorm(2)))
    # a model with a bias and one without are not merged layer by layer
    X = np.random.RandomState(0).normal(size=(20, 4)).astype(np.float32)
    with_bias = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    without = nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(ValueError, match="different output layers"):
        OTFusion([with_bias, without]).fit(X)
    # activations are compared by name: a different one is refused, and an nn.Identity is
    # the same as no activation at all
    tanh = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with pytest.raises(ValueError, match="use different activations"):
        OTFusion([with_bias, tanh]).fit(X)
    bare = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    identity = copy.deepcopy(bare)
    identity.insert(1, nn.Identity())
    fused = OTFusion([bare, identity], align="activation").fit(X)
    with torch.no_grad():
        np.testing.assert_allclose(fused.predict(X), bare(torch.from_numpy(X)).numpy(), atol=1e-5)


def test_mlp_params_reading_leaves_the_modules_training_mode():
    torch = pytest.importorskip("torch")
    from skreuse.inference._mlp_params import _read_mlp

    nn = torch.nn
    module = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.5), nn.Linear(3, 2)).train()
    mlp = _read_mlp(module)
    assert all(m.training for m in module.modules())
    # the activation read is the eval-mode chain: dropout is the identity
    z = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    np.testing.assert_array_equal(mlp.activations[0].fn(z), np.maximum(z, 0.0))


def test_mlp_params_reset_batchnorm_averages_the_batches_of_X():
    # momentum=None: each running statistic is the plain average of the batch statistics
    # (batch means; unbiased batch variances), computed here batch by batch.
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from skreuse.inference._mlp_params import _reset_batchnorm

    nn = torch.nn
    torch.manual_seed(0)
    X = np.random.RandomState(0).normal(2.0, 3.0, size=(120, 5))  # float64, a float32 model
    batches = [X[i : i + 50] for i in range(0, 120, 50)]  # 50, 50 and 20 rows
    mean = np.mean([b.mean(axis=0) for b in batches], axis=0)
    var = np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0)
    module = nn.Sequential(nn.BatchNorm1d(5, momentum=0.3), nn.Linear(5, 2), nn.Dropout(0.5))
    assert _reset_batchnorm(module, "torch", X, batch_size=50) is module
    np.testing.assert_allclose(module[0].running_mean, mean, rtol=1e-5)
    np.testing.assert_allclose(module[0].running_var, var, rtol=1e-5)
    assert module[0].momentum == 0.3  # put back as it was, and the training mode too
    assert module.training
    net = skorch.NeuralNetRegressor(
        nn.Sequential(nn.BatchNorm1d(5), nn.Linear(5, 1)), max_epochs=1, train_split=None
    ).initialize()
    _reset_batchnorm(net, "skorch", X, batch_size=50)
    np.testing.assert_allclose(net.module_[0].running_var, var, rtol=1e-5)
    for model, kind in ((MLPRegressor(), "sklearn"), (nn.Sequential(nn.Linear(5, 2)), "torch")):
        with pytest.raises(ValueError, match="no BatchNorm layer"):
            _reset_batchnorm(model, kind, X)


def test_mlp_params_skorch_nets_are_trained_on_float32_and_column_targets():
    # A skorch regressor needs float32 inputs and targets of shape (n, 1) (its MSE loss
    # would otherwise broadcast (n, 1) outputs against (n,) targets); a binary classifier
    # float32 targets of shape (n,). float64 inputs are converted.
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from skreuse.inference._mlp_params import _model_predict_proba, _train_model

    nn = torch.nn
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3
    labels = (y > 0).astype(np.int64)
    torch.manual_seed(0)
    settings = {"max_epochs": 3, "lr": 0.05, "train_split": None, "verbose": 0}
    cases = [
        (skorch.NeuralNetRegressor(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1)),
                                   **settings), y, y.reshape(-1, 1)),
        (skorch.NeuralNetBinaryClassifier(nn.Sequential(nn.Linear(4, 3), nn.Tanh(),
                                                        nn.Linear(3, 1)), **settings),
         labels, labels),
    ]  # fmt: skip
    for net, target, want_target in cases:
        got = _train_model(net, X, target)
        want = copy.deepcopy(net).fit(X.astype(np.float32), want_target.astype(np.float32))
        for a, b in zip(got.module_.parameters(), want.module_.parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    proba = _model_predict_proba(got, "skorch", X)  # float64 rows
    np.testing.assert_allclose(proba, want.predict_proba(X.astype(np.float32)), rtol=1e-6)


def test_mlp_params_predict_of_a_parameter_free_module():
    torch = pytest.importorskip("torch")
    from skreuse.inference._mlp_params import _model_predict

    X = np.linspace(-2.0, 2.0, 12).reshape(4, 3).astype(np.float32)
    np.testing.assert_allclose(_model_predict(torch.nn.Tanh(), "torch", X), np.tanh(X), rtol=1e-6)


def test_mlp_params_check_states_names_the_missing_parameter_and_the_classes(data, family):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    nn = torch.nn
    torch.manual_seed(0)
    X = np.random.RandomState(0).normal(size=(30, 4)).astype(np.float32)
    short = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    long = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"models\[0\] has no parameter '4\.weight'"):
        WeightAveraging([short, long]).fit(X)
    with pytest.raises(ValueError, match=r"models\[1\] has no parameter '4\.weight'"):
        WeightAveraging([long, short]).fit(X)
    # classifiers of the same architecture trained on different labels ({0, 1} and {1, 2})
    y = (X[:, 0] > 0).astype(np.int64)
    nets = [
        skorch.NeuralNetClassifier(
            nn.Sequential(nn.Linear(4, 3)), max_epochs=1, train_split=None, verbose=0
        ).fit(X, labels)
        for labels in (y, y + 1)
    ]
    with pytest.raises(ValueError, match="were trained on different classes"):
        WeightAveraging(nets).fit(X)
    X_digits, y_digits, _, _ = data
    base, tuned = family
    relabelled = _fit(copy.deepcopy(base), X_digits, y_digits + 10)
    with pytest.raises(ValueError, match=r"base and models\[0\] were trained on different classes"):
        WeightAveraging(tuned, method="task_arithmetic", base=relabelled).fit(X_digits)


def test_mlp_params_task_vectors_of_float32_sklearn_mlps_are_taken_in_float64():
    # A float32 scikit-learn MLP (fitted on float32 rows) is read as float64: the task
    # vector tuned - base is not rounded to float32 before it is scaled and added.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 6)).astype(np.float32)
    base = _fit(MLPRegressor(hidden_layer_sizes=(40,), max_iter=5, random_state=0), X, X[:, 0])
    assert base.coefs_[0].dtype == np.float32
    tuned = _with_params(
        base,
        [(c + rng.normal(scale=3.0, size=c.shape)).astype(np.float32) for c in base.coefs_],
        [(b + rng.normal(scale=3.0, size=b.shape)).astype(np.float32) for b in base.intercepts_],
    )
    merged = WeightAveraging([tuned], method="task_arithmetic", base=base, scaling=0.3).fit(X)
    got = merged.fused_.coefs_ + merged.fused_.intercepts_
    for g, b, t in zip(got, base.coefs_ + base.intercepts_, tuned.coefs_ + tuned.intercepts_):
        b, t = b.astype(np.float64), t.astype(np.float64)
        np.testing.assert_array_equal(g, (b + 0.3 * (t - b)).astype(np.float32))


def test_mlp_params_built_sklearn_models_own_their_state(data, family):
    # The fused model is a deep copy of its template with the template's optimizer state
    # and early-stopping snapshots removed: fine-tuning it neither touches the models
    # given nor restarts from their optimizer moments or best weights.
    from skreuse.inference import OTFusion

    X, y, _, _ = data
    models = [
        _fit(MLPClassifier((6,), early_stopping=True, max_iter=8, random_state=s), X, y)
        for s in (0, 1)
    ]
    for m in models:
        assert hasattr(m, "_optimizer")
        assert hasattr(m, "_best_coefs")
    curves = [list(m.loss_curve_) for m in models]
    fused = OTFusion(models, finetune_epochs=2).fit(X, y).fused_
    for attr in ("_optimizer", "_best_coefs", "_best_intercepts"):
        assert not hasattr(WeightAveraging(models).fit(X).fused_, attr)
    assert [m.loss_curve_ for m in models] == curves
    assert len(fused.loss_curve_) == len(curves[0]) + 2
    # a float32 model stays float32
    X32 = X.astype(np.float32)
    small = [_fit(MLPClassifier((6,), max_iter=5, random_state=s), X32, y) for s in (0, 1)]
    soup = WeightAveraging(small).fit(X32).fused_
    assert {a.dtype for a in soup.coefs_ + soup.intercepts_} == {np.dtype(np.float32)}


def test_mlp_params_fisher_merge_of_torch_mlps_matches_autograd():
    # torch MLPs (a layer without bias) go through the dense-layer Fisher and are rebuilt
    # from the merged layers: every weight and bias is the Fisher-weighted average.
    torch = pytest.importorskip("torch")

    models = [_mixed_torch_mlp(seed) for seed in (0, 1)]
    X = np.random.RandomState(2).normal(size=(16, 3, 4)).astype(np.float32)
    groups = np.arange(16) % 2
    merged = WeightAveraging(models, method="fisher", weights=[1, 3]).fit(X, groups=groups)
    fishers = [_fisher_slow(m, X[groups == k], "gaussian") for k, m in enumerate(models)]
    params = [_params(m) for m in models]
    got = _params(merged.fused_)
    assert got.keys() == params[0].keys()
    for name in got:
        F = [w * np.maximum(f[name], 1e-6) for w, f in zip((0.25, 0.75), fishers)]
        want = (F[0] * params[0][name] + F[1] * params[1][name]) / (F[0] + F[1])
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-7)
    assert merged.fused_[3].bias is None
    assert isinstance(merged.fused_, torch.nn.Sequential)


def test_mlp_params_skorch_net_fuses_like_its_module():
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from skreuse.inference import OTFusion

    nn = torch.nn
    X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        module = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 2))
        nets.append(
            skorch.NeuralNetClassifier(module, max_epochs=2, lr=0.1, train_split=None, verbose=0)
        )
        nets[-1].fit(X, y)
    fused = OTFusion(nets, align="activation").fit(X).fused_
    plain = OTFusion([n.module_ for n in nets], align="activation").fit(X).fused_
    for (name, a), b in zip(_params(fused.module_).items(), _params(plain).values()):
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=name)
    assert not np.allclose(_params(fused.module_)["0.weight"], _params(nets[0].module_)["0.weight"])


def test_mlp_params_architecture_messages_and_weighted_scores(data, family):
    from sklearn.metrics import accuracy_score, r2_score

    from skreuse.inference import OTFusion

    X, y, X_test, y_test = data
    base, tuned = family
    deeper = _fit(MLPClassifier((10, 4), max_iter=5, random_state=0), X, y)
    with pytest.raises(ValueError, match=r"models\[1\] and models\[0\] have different depths"):
        OTFusion([base, deeper]).fit(X)
    with pytest.raises(ValueError, match=r"models\[2\] and models\[0\] have different depths"):
        OTFusion([base, tuned[0], deeper]).fit(X)
    relabelled = _fit(copy.deepcopy(base), X, y + 10)
    with pytest.raises(ValueError, match="trained on different classes"):
        OTFusion([base, relabelled]).fit(X)
    w = np.random.RandomState(0).uniform(0, 1, size=len(y_test)) ** 4
    soup = WeightAveraging(tuned).fit(X)
    want = accuracy_score(y_test, soup.predict(X_test), sample_weight=w)
    assert soup.score(X_test, y_test, sample_weight=w) == pytest.approx(want, rel=1e-12)
    assert want != pytest.approx(accuracy_score(y_test, soup.predict(X_test)), rel=1e-6)
    target = X[:, 10] - X[:, 20]
    reg = [_fit(MLPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=s), X, target)
           for s in (0, 1)]  # fmt: skip
    avg = WeightAveraging(reg).fit(X)
    t_test = X_test[:, 10] - X_test[:, 20]
    want = r2_score(t_test, avg.predict(X_test), sample_weight=w)
    assert avg.score(X_test, t_test, sample_weight=w) == pytest.approx(want, rel=1e-12)
    assert want != pytest.approx(r2_score(t_test, avg.predict(X_test)), rel=1e-6)


def test_mlp_params_merge_base_input_handling(data, family):
    from sklearn.base import is_regressor
    from sklearn.frozen import FrozenEstimator

    X, y, X_test, _ = data
    base, tuned = family
    for bad in ([np.nan, 1.0, 1.0], [np.inf, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, -0.5, 1.0]):
        with pytest.raises(ValueError, match="finite, non-negative and not all zero"):
            WeightAveraging(tuned, weights=bad).fit(X)
    soup = WeightAveraging(tuned, weights=[0.0, 2.0, 6.0]).fit(X)
    np.testing.assert_array_equal(soup.weights_, [0.0, 0.25, 0.75])
    # normalized in float64, whatever the dtype given
    soup = WeightAveraging(tuned, weights=np.array([1, 2, 4], dtype=np.float32)).fit(X)
    np.testing.assert_array_equal(soup.weights_, np.array([1.0, 2.0, 4.0]) / 7.0)
    # a tuple of models, frozen models: the same soup as the list
    frozen = WeightAveraging(tuple(FrozenEstimator(m) for m in tuned)).fit(X)
    plain = WeightAveraging(tuned).fit(X)
    np.testing.assert_array_equal(frozen.predict_proba(X_test), plain.predict_proba(X_test))
    np.testing.assert_array_equal(frozen.classes_, base.classes_)
    # scikit-learn models take 2-D rows only
    with pytest.raises(ValueError, match="dim"):
        WeightAveraging(tuned).fit(X.reshape(len(X), 8, 8))
    with pytest.raises(ValueError, match="features"):
        plain.predict(X_test[:, :10])
    # regressors: no classes_, no predict_proba, multi-output targets
    target = np.c_[X[:, 10], X[:, 20]]
    reg = [_fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=s), X, target)
           for s in (0, 1)]  # fmt: skip
    avg = WeightAveraging(reg).fit(X)
    assert is_regressor(avg)
    assert not hasattr(avg, "classes_")
    assert not hasattr(avg, "predict_proba")
    assert avg.__sklearn_tags__().target_tags.multi_output
    assert avg.predict(X_test).shape == (len(X_test), 2)


def test_mlp_params_classes_must_be_distinct():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(4, 3)) for _ in range(2)]
    X = np.random.RandomState(0).normal(size=(10, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="classes must be distinct labels"):
        WeightAveraging(nets, classes=["a", "b", "a"]).fit(X)
    soup = WeightAveraging(nets, classes=["a", "b", "c"]).fit(X)
    np.testing.assert_array_equal(soup.classes_, ["a", "b", "c"])
    assert set(soup.predict(X)) <= {"a", "b", "c"}


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_mlp_params_torch_regressor_predictions_have_the_target_shape(n_outputs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, n_outputs)
    )
    X = np.random.RandomState(0).normal(size=(10, 4)).astype(np.float32)
    soup = WeightAveraging([module, copy.deepcopy(module)]).fit(X)
    with torch.no_grad():
        want = module(torch.from_numpy(X)).numpy()
    got = soup.predict(X)
    assert got.shape == ((10,) if n_outputs == 1 else (10, 2))
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-6)


def test_mlp_params_skorch_mlps_are_read_with_their_likelihood_and_classes():
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from skreuse.inference import OTFusion
    from skreuse.inference._mlp_params import _fisher_diagonal, _read_mlp

    nn = torch.nn
    X = np.random.RandomState(0).normal(size=(12, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    settings = {"max_epochs": 1, "train_split": None, "verbose": 0}

    def module(n_out):
        return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, n_out))

    torch.manual_seed(0)
    nets = {
        "logistic": skorch.NeuralNetBinaryClassifier(module(1), **settings).fit(X, y * 1.0),
        "softmax": skorch.NeuralNetClassifier(module(3), **settings).fit(X, y),
        "gaussian": skorch.NeuralNetRegressor(module(1), **settings).fit(X, X[:, :1]),
    }
    for likelihood, net in nets.items():
        mlp = _read_mlp(net)
        assert mlp.likelihood == likelihood
        if likelihood == "gaussian":
            assert mlp.classes is None
        else:
            np.testing.assert_array_equal(mlp.classes, [0, 1])
        fisher_W, fisher_b = _fisher_diagonal(mlp, X)
        want = _fisher_slow(net.module_, X, likelihood)
        for layer, index in enumerate((0, 2)):
            np.testing.assert_allclose(fisher_W[layer], want[f"{index}.weight"], rtol=1e-9)
            np.testing.assert_allclose(fisher_b[layer], want[f"{index}.bias"], rtol=1e-9)
    other = skorch.NeuralNetClassifier(module(3), **settings).fit(X, y + 1)
    with pytest.raises(ValueError, match="trained on different classes"):
        OTFusion([nets["softmax"], other]).fit(X)
    no_bias = nn.Sequential(nn.Linear(4, 5, bias=False), nn.Tanh(), nn.Linear(5, 3))
    no_bias = skorch.NeuralNetClassifier(no_bias, **settings).fit(X, y)
    with pytest.raises(ValueError, match="different output layers"):
        OTFusion([nets["softmax"], no_bias]).fit(X)


# -- _MLPMergeBase input handling and skorch reading, pinned by mutation testing (issue 20) --


def test_mlp_params_predict_checks_the_feature_names_seen_in_fit(data, family):
    pd = pytest.importorskip("pandas")
    X, _, X_test, _ = data
    _, tuned = family
    names = [f"px{j}" for j in range(X.shape[1])]
    soup = WeightAveraging(tuned).fit(pd.DataFrame(X, columns=names))
    np.testing.assert_array_equal(soup.feature_names_in_, names)
    same = pd.DataFrame(X_test, columns=names)
    plain = WeightAveraging(tuned).fit(X)
    np.testing.assert_array_equal(soup.predict(same), plain.predict(X_test))
    renamed = pd.DataFrame(X_test, columns=[f"q{j}" for j in range(X.shape[1])])
    for method in (soup.predict, soup.predict_proba):
        with pytest.raises(ValueError, match="feature names"):
            method(renamed)
    # predicting never changes what fit saw
    np.testing.assert_array_equal(soup.feature_names_in_, names)
    assert soup.n_features_in_ == X.shape[1]


def test_mlp_params_trained_classifiers_take_string_labels_of_object_dtype(data):
    from sklearn.base import clone

    X, y, X_test, _ = data
    X, y = X[:200], y[:200]
    labels = np.array(["zero", "one", "two", "three"], dtype=object)[y]
    models = [MLPClassifier((8,), max_iter=15, random_state=s) for s in (0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        soup = WeightAveraging(models, prefit=False).fit(X, labels)
        trained = [clone(m).fit(X, labels) for m in models]
    np.testing.assert_array_equal(soup.classes_, sorted(set(labels)))
    average = _with_params(
        trained[0],
        [np.mean([m.coefs_[j] for m in trained], axis=0) for j in range(2)],
        [np.mean([m.intercepts_[j] for m in trained], axis=0) for j in range(2)],
    )
    np.testing.assert_array_equal(soup.predict(X_test), average.predict(X_test))
    assert set(soup.predict(X_test)) <= set(labels)


def test_mlp_params_a_model_not_in_a_list_is_refused_by_name(data, family):
    # Model selection reads the estimator's tags (is it a classifier?) before fitting: a
    # model given without a list must still reach fit's clear error, not fail in the tags.
    from sklearn.model_selection import cross_val_score

    from skreuse.inference import OTFusion

    X, y, _, _ = data
    base, _ = family
    for merge in (WeightAveraging, OTFusion):
        with pytest.raises(ValueError, match="'models' parameter"):
            cross_val_score(merge(base), X, y, cv=2, error_score="raise")


def test_mlp_params_skorch_classifier_never_fitted_has_no_classes():
    # A skorch classifier initialized (e.g. to load saved weights) but never fitted does not
    # know its classes: it is read without them, and predicts its module's argmax.
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from skreuse.inference import OTFusion

    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    net = skorch.NeuralNetClassifier(module, verbose=0).initialize()
    assert not hasattr(net, "classes_")
    X = np.random.RandomState(0).normal(size=(20, 4)).astype(np.float32)
    fused = OTFusion([net, copy.deepcopy(net)]).fit(X)
    assert not hasattr(fused, "classes_")
    with torch.no_grad():
        want = module(torch.from_numpy(X)).argmax(dim=1).numpy()
    np.testing.assert_array_equal(fused.predict(X), want)


def test_mlp_params_torch_soup_predicts_rows_of_any_numeric_dtype():
    # Rows of object dtype (e.g. a DataFrame of mixed origin) are numbers like any others;
    # the torch module sees them as floats.
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    X = np.random.RandomState(0).randint(-3, 4, size=(10, 4))
    soup = WeightAveraging([module, copy.deepcopy(module)]).fit(X.astype(np.float32))
    with torch.no_grad():
        want = module(torch.from_numpy(X.astype(np.float32))).numpy()
    for rows in (X, X.astype(object), X.astype(np.float64), X.tolist()):
        np.testing.assert_allclose(soup.predict(rows), want, rtol=1e-6)
