"""Read, rebuild, train and run the models that OTFusion and WeightAveraging merge.

:class:`~skreuse.inference.OTFusion` and :class:`~skreuse.inference.WeightAveraging`
share one representation of a model: its dense layers ``(W, b)`` (``W`` of shape
``(n_out, n_in)``, float64 numpy), the elementwise activations between them (with
derivatives), the output distribution (for Fisher information) and the model the
weights came from, used as the template of a new model built from new weights.

Kinds: a fitted scikit-learn ``MLPClassifier`` / ``MLPRegressor``; a torch
``nn.Sequential`` of ``nn.Linear`` layers separated by elementwise activations
(anything without parameters may follow the last ``Linear``, e.g. ``nn.Softmax``);
a skorch net whose ``module_`` is such a ``Sequential``. A model wrapped in
:class:`sklearn.frozen.FrozenEstimator` is unwrapped (frozen models survive
:func:`sklearn.base.clone`, so the estimators can be used in ``GridSearchCV``).

Rules that combine parameters entry by entry (soups, WiSE-FT, task arithmetic, TIES,
DARE, Fisher merging of other modules) use a second, architecture-free representation,
:class:`_State`: every named parameter of any torch module (and its floating buffers), or
a scikit-learn MLP's ``coefs_`` / ``intercepts_``, as float64 numpy arrays.
"""

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if

from ..utils._clone import SharedModelsMixin
from ..utils._features import check_model_fitted, extract_features, model_kind
from ..utils._optional import import_optional, is_skorch_net
from ..utils._sklearn_compat import check_is_fitted, validate_data
from ..utils._validation import check_classification_targets

_FLOATS = (np.float64, np.float32)


@dataclass
class _Activation:
    """An elementwise activation: its name, ``a = fn(z)`` and ``da/dz = grad(z)``."""

    name: str
    fn: object
    grad: object


def _relu_grad(z):
    return (z > 0).astype(z.dtype)


def _logistic_grad(z):
    s = expit(z)
    return s * (1.0 - s)


_SKLEARN_ACTIVATIONS = {
    "identity": (lambda z: z, np.ones_like),
    "logistic": (expit, _logistic_grad),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), _relu_grad),
}

# Parameter-free torch modules that act on each coordinate alone, so that permuting or
# mixing neurons commutes with them (eval-mode dropout is the identity).
_ELEMENTWISE = {
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Tanh",
    "Sigmoid", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Softsign", "Tanhshrink",
    "Hardshrink", "Softshrink", "Threshold", "LogSigmoid", "Identity", "Dropout", "AlphaDropout",
}  # fmt: skip


def _torch_activation(modules):
    torch = import_optional("torch")
    chain = copy.deepcopy(torch.nn.Sequential(*modules)).cpu().eval()
    name = "->".join(repr(m) for m in modules) or "Identity()"

    def fn(z):
        with torch.no_grad():
            return chain(torch.from_numpy(np.ascontiguousarray(z))).numpy()

    def grad(z):
        z_t = torch.from_numpy(np.ascontiguousarray(z)).requires_grad_(True)
        # elementwise, so the gradient of the sum is the derivative at each coordinate
        (g,) = torch.autograd.grad(chain(z_t).sum(), z_t)
        return g.numpy()

    return _Activation(name, fn, grad)


@dataclass
class _MLP:
    """The dense layers of one model, as float64 numpy arrays, and where they came from."""

    kind: str  # "sklearn", "torch" or "skorch"
    model: object  # the model read (never modified)
    weights: list  # (n_out, n_in) per layer
    biases: list  # (n_out,) per layer
    activations: list  # one _Activation per hidden layer
    likelihood: str  # output distribution: "softmax", "logistic" or "gaussian"
    has_bias: tuple = field(default=())
    classes: object = None

    @property
    def widths(self):
        return [W.shape[0] for W in self.weights[:-1]]

    @property
    def n_in(self):
        return self.weights[0].shape[1]

    @property
    def n_out(self):
        return self.weights[-1].shape[0]


def _unwrap(model):
    """The model inside a :class:`~sklearn.frozen.FrozenEstimator`, else the model."""
    return model.estimator if isinstance(model, FrozenEstimator) else model


def _model_kind(model):
    """``"sklearn"``, ``"skorch"`` or ``"torch"`` for a supported model, else None."""
    model = _unwrap(model)
    if isinstance(model, MLPClassifier | MLPRegressor):
        return "sklearn"
    try:
        kind = model_kind(model)  # the one detector of torch modules and skorch nets
    except TypeError:
        return None
    return kind if kind in ("torch", "skorch") else None


def _is_classifier_model(model):
    """Whether ``model`` predicts classes (scikit-learn MLPClassifier, skorch classifier)."""
    model = _unwrap(model)
    if isinstance(model, MLPClassifier):
        return True
    if is_skorch_net(model):
        skorch = import_optional("skorch")
        return isinstance(model, skorch.NeuralNetClassifier | skorch.NeuralNetBinaryClassifier)
    return False


def _flat_modules(module):
    torch = import_optional("torch")
    if isinstance(module, torch.nn.Sequential):
        for child in module.children():
            yield from _flat_modules(child)
    else:
        yield module


def _linear_layers(module):
    torch = import_optional("torch")
    return [m for m in _flat_modules(module) if isinstance(m, torch.nn.Linear)]


def _read_sequential(module, name):
    torch = import_optional("torch")
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(
            f"{name} must be a torch nn.Sequential of Linear layers and elementwise "
            f"activations, got {type(module).__name__}."
        )
    mods = list(_flat_modules(module))
    lin_idx = [i for i, m in enumerate(mods) if isinstance(m, torch.nn.Linear)]
    if not lin_idx:
        raise ValueError(f"{name} has no nn.Linear layer.")
    for i, m in enumerate(mods):
        if not isinstance(m, torch.nn.Linear) and any(True for _ in m.parameters()):
            raise TypeError(
                f"{name} contains {type(m).__name__}, a layer with parameters other than "
                "nn.Linear; only Linear layers and parameter-free activations are supported."
            )
        between = lin_idx[0] < i < lin_idx[-1]
        before = i < lin_idx[0]
        if (between or before) and not isinstance(m, torch.nn.Linear):
            allowed = _ELEMENTWISE | ({"Flatten"} if before else set())
            if type(m).__name__ not in allowed or not type(m).__module__.startswith("torch.nn"):
                raise TypeError(
                    f"{name} uses {type(m).__name__} between Linear layers; only elementwise "
                    f"activations are supported there ({', '.join(sorted(_ELEMENTWISE))})."
                )
    weights, biases, has_bias = [], [], []
    for i in lin_idx:
        lin = mods[i]
        weights.append(lin.weight.detach().cpu().double().numpy().copy())
        has_bias.append(lin.bias is not None)
        b = lin.bias.detach().cpu().double().numpy().copy() if lin.bias is not None else None
        biases.append(b if b is not None else np.zeros(lin.out_features))
    activations = [_torch_activation(mods[a + 1 : b]) for a, b in zip(lin_idx, lin_idx[1:])]
    return weights, biases, activations, tuple(has_bias)


def _read_mlp(model, name="model"):
    """Read a fitted model of a supported kind into an :class:`_MLP`."""
    model = _unwrap(model)
    kind = _model_kind(model)
    if kind is None:
        raise TypeError(
            f"{name} must be a fitted scikit-learn MLPClassifier/MLPRegressor, a torch "
            f"nn.Sequential MLP or a skorch net, got {type(model).__name__}."
        )
    if kind == "sklearn":
        check_model_fitted(model, name)
        weights = [np.asarray(c, dtype=np.float64).T.copy() for c in model.coefs_]
        biases = [np.asarray(b, dtype=np.float64).copy() for b in model.intercepts_]
        fn, grad = _SKLEARN_ACTIVATIONS[model.activation]
        activations = [_Activation(model.activation, fn, grad) for _ in weights[:-1]]
        likelihood = {"softmax": "softmax", "logistic": "logistic"}.get(
            model.out_activation_, "gaussian"
        )
        return _MLP(
            kind, model, weights, biases, activations, likelihood,
            (True,) * len(weights), getattr(model, "classes_", None),
        )  # fmt: skip
    if kind == "skorch":
        check_model_fitted(model, name)
        weights, biases, activations, has_bias = _read_sequential(model.module_, f"{name}.module_")
        skorch = import_optional("skorch")
        if isinstance(model, skorch.NeuralNetBinaryClassifier):
            likelihood = "logistic"
        elif isinstance(model, skorch.NeuralNetClassifier):
            likelihood = "softmax"
        else:
            likelihood = "gaussian"
        classes = getattr(model, "classes_", None) if likelihood != "gaussian" else None
        return _MLP(kind, model, weights, biases, activations, likelihood, has_bias, classes)
    weights, biases, activations, has_bias = _read_sequential(model, name)
    return _MLP(kind, model, weights, biases, activations, "gaussian", has_bias)


def _check_architectures(mlps, *, same_widths, n_features, param="models"):
    """Raise a ``ValueError`` unless the models can be merged layer by layer."""
    ref = mlps[0]
    for k, m in enumerate(mlps[1:], start=1):
        where = f"{param}[{k}] and {param}[0]"
        if m.kind != ref.kind:
            raise ValueError(f"{where} are of different kinds ({m.kind} vs {ref.kind}).")
        if len(m.weights) != len(ref.weights):
            raise ValueError(
                f"{where} have different depths ({len(m.weights)} vs {len(ref.weights)} "
                "dense layers)."
            )
        if m.n_in != ref.n_in or m.n_out != ref.n_out:
            raise ValueError(
                f"{where} have different input/output sizes ({m.n_in}->{m.n_out} vs "
                f"{ref.n_in}->{ref.n_out})."
            )
        if [a.name for a in m.activations] != [a.name for a in ref.activations]:
            raise ValueError(f"{where} use different activations.")
        if m.likelihood != ref.likelihood or m.has_bias != ref.has_bias:
            raise ValueError(f"{where} have different output layers (or biases).")
        if ref.classes is not None and not np.array_equal(m.classes, ref.classes):
            raise ValueError(f"{where} were trained on different classes.")
        if same_widths and m.widths != ref.widths:
            raise ValueError(
                f"{where} have different hidden widths ({m.widths} vs {ref.widths}); "
                "this method needs identical architectures."
            )
    if n_features is not None and ref.n_in != n_features:
        raise ValueError(f"X has {n_features} features, but the {param} take {ref.n_in} inputs.")


def _forward(mlp, X):
    """Inputs and pre-activations of every dense layer on ``X``.

    Returns
    -------
    inputs : list of ndarray
        ``inputs[l]`` is the input of layer ``l`` (``inputs[0]`` is ``X``, its rows
        flattened as an ``nn.Flatten`` in front of the first layer does).
    pre : list of ndarray
        ``pre[l] = inputs[l] @ W_l.T + b_l``; the last one is the output before any
        parameter-free tail (e.g. the logits of a softmax head).
    """
    a = np.asarray(X, dtype=np.float64)
    if a.ndim > 2:
        # a torch module with an nn.Flatten in front of its first Linear layer
        a = a.reshape(a.shape[0], -1)
    inputs, pre = [], []
    for layer, (W, b) in enumerate(zip(mlp.weights, mlp.biases)):
        inputs.append(a)
        z = a @ W.T + b
        pre.append(z)
        if layer < len(mlp.activations):
            a = mlp.activations[layer].fn(z)
    return inputs, pre


def _build_model(template, weights, biases):
    """A copy of ``template.model`` carrying new dense weights (same kind, same shapes)."""
    if template.kind == "sklearn":
        model = copy.deepcopy(template.model)
        dtype = model.coefs_[0].dtype
        model.coefs_ = [np.asarray(W.T, dtype=dtype).copy() for W in weights]
        model.intercepts_ = [np.asarray(b, dtype=dtype).copy() for b in biases]
        # The template's optimizer moments belong to other weights: a later partial_fit
        # must start a fresh optimizer.
        for attr in ("_optimizer", "_best_coefs", "_best_intercepts"):
            if hasattr(model, attr):
                delattr(model, attr)
        return model
    torch = import_optional("torch")
    model = copy.deepcopy(template.model)
    module = model.module_ if template.kind == "skorch" else model
    with torch.no_grad():
        for lin, W, b in zip(_linear_layers(module), weights, biases):
            lin.weight.copy_(torch.as_tensor(W, dtype=lin.weight.dtype))
            if lin.bias is not None:
                lin.bias.copy_(torch.as_tensor(b, dtype=lin.bias.dtype))
    return model


@dataclass
class _State:
    """All trainable tensors of a model as float64 numpy arrays, keyed by name.

    ``params`` are what merging rules combine: a torch module's ``named_parameters()``
    (convolutions, normalization layers, anything), or a scikit-learn MLP's
    ``coefs_.<l>`` / ``intercepts_.<l>``. ``buffers`` are the floating buffers (e.g.
    BatchNorm running statistics), averaged with the models' weights or recomputed.
    """

    kind: str
    model: object
    params: dict
    buffers: dict
    classes: object = None


def _module_of(model, kind):
    return model.module_ if kind == "skorch" else model


def _to_float64(tensor):
    return tensor.detach().to("cpu", dtype=tensor.dtype).double().numpy().copy()


def _read_state(model, name="model"):
    """Read a fitted scikit-learn MLP, torch module or skorch net into a :class:`_State`."""
    model = _unwrap(model)
    kind = _model_kind(model)
    if kind is None:
        raise TypeError(
            f"{name} must be a fitted scikit-learn MLPClassifier/MLPRegressor, a torch "
            f"nn.Module or a skorch net, got {type(model).__name__}."
        )
    check_model_fitted(model, name)
    if kind == "sklearn":
        params = {}
        for layer, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
            params[f"coefs_.{layer}"] = np.asarray(W, dtype=np.float64).copy()
            params[f"intercepts_.{layer}"] = np.asarray(b, dtype=np.float64).copy()
        return _State(kind, model, params, {}, getattr(model, "classes_", None))
    module = _module_of(model, kind)
    params = {n: _to_float64(p) for n, p in module.named_parameters()}
    buffers = {n: _to_float64(b) for n, b in module.named_buffers() if b.is_floating_point()}
    classes = getattr(model, "classes_", None) if _is_classifier_model(model) else None
    return _State(kind, model, params, buffers, classes)


def _check_states(states, *, names):
    """Raise a ``ValueError`` naming the first parameter where two models differ."""
    ref, ref_name = states[0], names[0]
    ref_items = [(n, a.shape) for n, a in (*ref.params.items(), *ref.buffers.items())]
    for state, name in zip(states[1:], names[1:]):
        where = f"{name} and {ref_name}"
        if state.kind != ref.kind:
            raise ValueError(f"{where} are of different kinds ({state.kind} vs {ref.kind}).")
        items = [(n, a.shape) for n, a in (*state.params.items(), *state.buffers.items())]
        for k in range(max(len(items), len(ref_items))):
            mine = items[k] if k < len(items) else None
            theirs = ref_items[k] if k < len(ref_items) else None
            if mine == theirs:
                continue
            if mine is None or theirs is None:
                owner, missing = (name, theirs[0]) if mine is None else (ref_name, mine[0])
                raise ValueError(
                    f"{where} have different architectures: {owner} has no parameter "
                    f"{missing!r}; merging needs identical parameter names and shapes."
                )
            if mine[0] != theirs[0]:
                raise ValueError(
                    f"{where} have different architectures: first differing parameter "
                    f"{mine[0]!r} in {name} vs {theirs[0]!r} in {ref_name}; merging needs "
                    "identical parameter names and shapes."
                )
            raise ValueError(
                f"{where} have different architectures: parameter {mine[0]!r} has shape "
                f"{mine[1]} vs {theirs[1]}; merging needs identical parameter names and "
                "shapes."
            )
        if ref.classes is not None and not np.array_equal(state.classes, ref.classes):
            raise ValueError(f"{where} were trained on different classes.")


def _build_from_state(template, params, buffers):
    """A copy of ``template.model`` carrying new parameters (and floating buffers)."""
    if template.kind == "sklearn":
        n_layers = len(template.model.coefs_)
        weights = [params[f"coefs_.{layer}"].T for layer in range(n_layers)]
        biases = [params[f"intercepts_.{layer}"] for layer in range(n_layers)]
        return _build_model(template, weights, biases)
    torch = import_optional("torch")
    model = copy.deepcopy(template.model)
    module = _module_of(model, template.kind)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.as_tensor(params[name], dtype=p.dtype, device=p.device))
        for name, b in module.named_buffers():
            if name in buffers:
                b.copy_(torch.as_tensor(buffers[name], dtype=b.dtype, device=b.device))
    return model


def _reset_batchnorm(model, kind, X, batch_size=256):
    """Recompute every BatchNorm layer's running statistics of ``model`` (in place) on X.

    Merged weights change the distribution of every hidden activation, so the averaged
    running statistics no longer normalize it (the variance collapse of Jordan et al.,
    ICLR 2023). Each BatchNorm layer is put in training mode with a cumulative average
    (``momentum=None``) while the rest of the model stays in eval mode (no dropout), and
    X is passed through once without gradients.
    """
    torch = import_optional("torch")
    module = _module_of(model, kind) if kind != "sklearn" else None
    norms = [] if module is None else [
        m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]  # fmt: skip
    if not norms:
        raise ValueError(
            "reset_bn=True recomputes BatchNorm running statistics, but the models have no "
            "BatchNorm layer."
        )
    was_training = module.training
    module.eval()
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    try:
        param = next(module.parameters())
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                batch = torch.as_tensor(
                    np.asarray(X[start : start + batch_size]),
                    dtype=param.dtype,
                    device=param.device,
                )
                module(batch)
    finally:
        for bn, momentum in zip(norms, momenta):
            bn.momentum = momentum
        module.train(was_training)
    return model


def _skorch_xy(net, X, y=None):
    X = np.asarray(X, dtype=np.float32)
    if y is None:
        return X, None
    skorch = import_optional("skorch")
    if isinstance(net, skorch.NeuralNetBinaryClassifier) or not isinstance(
        net, skorch.NeuralNetClassifier
    ):
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 1 and not isinstance(net, skorch.NeuralNetBinaryClassifier):
            y = y.reshape(-1, 1)
    return X, y


def _train_model(model, X, y, name="model"):
    """Fit a fresh clone of an unfitted scikit-learn MLP or skorch net on ``(X, y)``."""
    model = _unwrap(model)
    kind = _model_kind(model)
    if kind not in ("sklearn", "skorch"):
        raise TypeError(
            f"prefit=False trains the models, which needs scikit-learn MLPs or skorch nets; "
            f"{name} is {type(model).__name__}."
        )
    model = clone(model)
    if kind == "skorch":
        return model.fit(*_skorch_xy(model, X, y))
    return model.fit(X, y)


def _finetune(model, kind, X, y, epochs):
    """Train ``model`` (a fresh copy owned by the caller) ``epochs`` more epochs."""
    if kind == "torch":
        raise ValueError(
            "finetune_epochs > 0 needs a model that trains itself (a scikit-learn MLP or a "
            "skorch net); wrap the torch module in a skorch net to fine-tune it."
        )
    if kind == "skorch":
        model.initialize_optimizer()
        model.fit_loop(*_skorch_xy(model, X, y), epochs=epochs)
        return model
    old = model.get_params()
    model.set_params(warm_start=True, max_iter=epochs)
    # A short fine-tune stops before convergence on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    model.set_params(warm_start=old["warm_start"], max_iter=old["max_iter"])
    return model


def _model_predict(model, kind, X, classes=None):
    """Predictions of a model of any kind.

    A torch module gives its outputs, or with ``classes`` the class of its largest output.
    """
    if kind == "sklearn":
        return model.predict(X)
    if kind == "skorch":
        return model.predict(_skorch_xy(model, X)[0])
    out = extract_features(model, X, device=_torch_device_of(model))
    if classes is not None:
        _check_n_classes(out, classes)
        return np.asarray(classes)[out.argmax(axis=1)]
    return out.ravel() if out.shape[1] == 1 else out


def _torch_device_of(module):
    """Where a torch module's parameters live (so it runs there, without a copy)."""
    for p in module.parameters():
        return p.device
    return "cpu"


def _check_n_classes(out, classes):
    if out.shape[1] != len(classes):
        raise ValueError(
            f"The torch module has {out.shape[1]} outputs but classes has {len(classes)} "
            "entries; classes must name one class per output."
        )


def _model_predict_proba(model, kind, X, classes=None):
    """Class probabilities of a classifier (a torch module with ``classes``: softmax)."""
    if kind == "skorch":
        return model.predict_proba(_skorch_xy(model, X)[0])
    if kind == "torch":
        out = extract_features(model, X, output="proba", device=_torch_device_of(model))
        _check_n_classes(out, classes)
        return out
    return model.predict_proba(X)


def _model_score(model, kind, X, y, classifier, sample_weight=None, classes=None):
    """Accuracy (classifiers) or R² (regressors and torch modules without classes)."""
    y_pred = _model_predict(model, kind, X, classes)
    if classifier:
        return accuracy_score(y, y_pred, sample_weight=sample_weight)
    return r2_score(y, y_pred, sample_weight=sample_weight)


def _fisher_diagonal(mlp, X):
    """Diagonal Fisher information of every weight and bias, averaged over the rows of X.

    The expectation over the model's own output distribution is exact: over the classes
    for a softmax head, over each Bernoulli output for a logistic head, and over a unit
    Gaussian on each output for regression, ``F = E_x sum_m w_m(x) (d z_m(x) / d theta)^2``
    with ``z`` the output logits (softmax: ``w_c = p_c`` and direction ``e_c - p``).
    """
    inputs, pre = _forward(mlp, X)
    z = pre[-1]
    n, n_out = z.shape
    eye = np.broadcast_to(np.eye(n_out), (n, n_out, n_out))
    if mlp.likelihood == "softmax":
        p = softmax(z, axis=1)
        delta = eye - p[:, None, :]
        w = p
    elif mlp.likelihood == "logistic":
        s = expit(z)
        delta, w = eye, s * (1.0 - s)
    else:
        delta, w = eye, np.ones_like(z)
    fisher_W, fisher_b = [None] * len(mlp.weights), [None] * len(mlp.weights)
    for layer in range(len(mlp.weights) - 1, -1, -1):
        # sum over the output directions m of w_m * (d z_m / d pre_layer)^2
        s = np.einsum("nm,nmo->no", w, delta**2)
        fisher_W[layer] = s.T @ inputs[layer] ** 2 / n
        fisher_b[layer] = s.sum(axis=0) / n
        if layer:
            delta = (delta @ mlp.weights[layer]) * mlp.activations[layer - 1].grad(pre[layer - 1])[
                :, None, :
            ]
    return fisher_W, fisher_b


def _fisher_torch(state, X, likelihood, batch_size=64):
    """Diagonal Fisher information of every parameter of a torch module, averaged over X.

    The same exact expectation as :func:`_fisher_diagonal`, for any module: per-sample
    Jacobians of the outputs (softmax: log-probabilities) with respect to every
    parameter (``torch.func``), squared and weighted by the output distribution.
    """
    torch = import_optional("torch")
    from torch.func import functional_call, jacrev, vmap

    module = copy.deepcopy(_module_of(state.model, state.kind)).eval()
    device = next(module.parameters()).device
    module = module.to(dtype=torch.float64)
    params = {n: p.detach() for n, p in module.named_parameters()}
    buffers = dict(module.named_buffers())

    def outputs(p, x):
        z = functional_call(module, (p, buffers), (x[None],)).reshape(-1)
        return torch.log_softmax(z, dim=0) if likelihood == "softmax" else z

    per_sample = vmap(jacrev(outputs), in_dims=(None, 0))
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    X_t = torch.as_tensor(np.asarray(X), dtype=torch.float64, device=device)
    with torch.no_grad():
        n_out = functional_call(module, (params, buffers), (X_t[:1],)).numel()
    # the Jacobians of a batch hold rows * n_out * n_params numbers: keep them near 2**25
    n_params = sum(p.numel() for p in params.values())
    batch_size = max(1, min(batch_size, 2**25 // max(1, n_out * n_params)))
    for start in range(0, X_t.shape[0], batch_size):
        xb = X_t[start : start + batch_size]
        jac = per_sample(params, xb)
        with torch.no_grad():
            z = functional_call(module, (params, buffers), (xb,)).reshape(xb.shape[0], -1)
            if likelihood == "softmax":
                w = torch.softmax(z, dim=1)
            elif likelihood == "logistic":
                s = torch.sigmoid(z)
                w = s * (1.0 - s)
            else:
                w = torch.ones_like(z)
            for n, J in jac.items():
                fisher[n] += torch.einsum("bc,bc...->...", w, J.detach() ** 2)
    return {n: (f / X_t.shape[0]).cpu().numpy() for n, f in fisher.items()}


def _likelihood(state, classes):
    """Output distribution of a model for its Fisher information."""
    if state.kind == "skorch":
        skorch = import_optional("skorch")
        if isinstance(state.model, skorch.NeuralNetBinaryClassifier):
            return "logistic"
        if isinstance(state.model, skorch.NeuralNetClassifier):
            return "softmax"
    return "softmax" if classes is not None else "gaussian"


def _check_model_weights(weights, n_models, param="weights"):
    """Model importances normalized to sum to 1 (uniform when None)."""
    if weights is None:
        return np.full(n_models, 1.0 / n_models)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_models,):
        raise ValueError(
            f"{param} must have one entry per model ({n_models}), got shape {w.shape}."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"{param} must be finite, non-negative and not all zero, got {w}.")
    return w / w.sum()


class _MLPMergeBase(SharedModelsMixin, BaseEstimator):
    """Prediction, tags and input handling shared by OTFusion and WeightAveraging.

    The estimator is a classifier when its models are (scikit-learn MLPClassifier, skorch
    classifiers, torch modules given ``classes``) and a regressor otherwise; ``predict``,
    ``predict_proba`` and ``score`` go through ``fused_``. Torch and skorch models accept
    inputs of any number of dimensions (e.g. images ``(n, channels, height, width)``).
    """

    _shared_params = ("models",)

    def _models_list(self):
        return list(self.models) if isinstance(self.models, list | tuple) else []

    def _is_classifier(self):
        if getattr(self, "classes", None) is not None:
            return True
        models = self._models_list()
        return bool(models) and _is_classifier_model(models[0])

    def _allow_nd(self):
        models = self._models_list()
        return bool(models) and _model_kind(models[0]) in ("torch", "skorch")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self._is_classifier():
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        else:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
            tags.target_tags.multi_output = True
        tags.target_tags.required = self._requires_y()
        return tags

    def _validate_fit_data(self, X, y):
        classes = getattr(self, "classes", None)
        if classes is not None:
            kinds = {_model_kind(m) for m in self._models_list()}
            if kinds != {"torch"}:
                raise ValueError(
                    "classes is for plain torch modules, whose outputs carry no class labels; "
                    "scikit-learn and skorch classifiers have their own classes_."
                )
            if len(np.unique(np.asarray(classes))) != len(classes):
                raise ValueError(f"classes must be distinct labels, got {classes!r}.")
        classifier = self._is_classifier()
        kwargs = {"dtype": _FLOATS, "allow_nd": self._allow_nd()}
        if y is None:
            return validate_data(self, X, y, **kwargs), None
        X, y = validate_data(
            self, X, y, multi_output=not classifier, y_numeric=not classifier, **kwargs
        )
        if classifier:
            check_classification_targets(y)
        return X, y

    def _prepare_models(self, X, y, read=None):
        """Read the models (training clones of them first when ``prefit=False``)."""
        read = _read_mlp if read is None else read
        models = self._models_list()
        if not models:
            raise ValueError("models must be a non-empty list of models.")
        mlps = []
        for k, model in enumerate(models):
            name = f"models[{k}]"
            if not self.prefit:
                if y is None:
                    raise ValueError("prefit=False trains the models on (X, y): y is required.")
                model = _train_model(model, X, y, name)
            mlps.append(read(model, name))
        return mlps

    def _set_output_attributes(self, kind):
        self.fused_kind_ = kind
        classes = getattr(self, "classes", None)
        if classes is not None:
            self.classes_ = np.asarray(classes)
        elif self._is_classifier():
            classes = getattr(self.fused_, "classes_", None)
            if classes is not None:
                self.classes_ = np.asarray(classes)

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=_FLOATS, allow_nd=self._allow_nd())

    def predict(self, X):
        """Predict with the fused model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Input rows (torch and skorch models: any shape their module takes).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classifiers), or outputs. For a torch module without
            ``classes`` these are the module's outputs (raveled when there is one).
        """
        X = self._check_X(X)
        return _model_predict(self.fused_, self.fused_kind_, X, getattr(self, "classes", None))

    @available_if(lambda self: self._is_classifier())
    def predict_proba(self, X):
        """Class probabilities of the fused model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the classes in ``classes_`` (a torch module: the softmax
            of its outputs).
        """
        X = self._check_X(X)
        return _model_predict_proba(
            self.fused_, self.fused_kind_, X, getattr(self, "classes", None)
        )

    def score(self, X, y, sample_weight=None):
        """Accuracy for classifiers, R² otherwise, of the fused model on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Input rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels or targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Accuracy or coefficient of determination.
        """
        X = self._check_X(X)
        return _model_score(
            self.fused_,
            self.fused_kind_,
            X,
            y,
            self._is_classifier(),
            sample_weight,
            getattr(self, "classes", None),
        )
