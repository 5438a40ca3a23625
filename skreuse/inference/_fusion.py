"""Model fusion via optimal transport (Singh & Jaggi, NeurIPS 2020)."""

import copy
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import linear_sum_assignment
from sklearn.utils import check_random_state

from ..utils._docstrings import fill_doc
from ..utils._features import check_model_fitted
from ..utils._optional import import_optional
from ..utils._progress import progress
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ._mlp_params import (
    _build_model,
    _check_architectures,
    _check_model_weights,
    _finetune,
    _flat_modules,
    _forward,
    _MLPMergeBase,
    _model_kind,
    _module_of,
    _to_float64,
    _unwrap,
)


def _ground_cost(feats, feats_anchor):
    """Squared Euclidean distances between neurons, scaled to a maximum of 1."""
    cost = (
        (feats**2).sum(axis=1)[:, None]
        + (feats_anchor**2).sum(axis=1)[None, :]
        - 2.0 * feats @ feats_anchor.T
    )
    np.maximum(cost, 0.0, out=cost)
    top = cost.max()
    # Scaling keeps ``reg`` meaningful across layers and models; EMD is unaffected.
    return cost / top if top > 0 else cost


def _transport_plan(cost, reg):
    ot = import_optional("ot", purpose="for OTFusion")
    n, m = cost.shape
    a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    if reg == 0:
        return ot.emd(a, b, cost, numItermax=max(100_000, 50 * n * m))
    plan = ot.sinkhorn(a, b, cost, reg, method="sinkhorn_stabilized", numItermax=10_000)
    if not np.all(np.isfinite(plan)):
        # exp(-cost / reg) underflows for every entry of a row when reg is tiny
        raise ValueError(
            f"reg={reg} is too small for Sinkhorn's iterations (the transport plan is not "
            "finite); use a larger reg, or reg=0 for the exact plan."
        )
    return plan


def _weight_matching(mlp, anchor, max_sweeps, rng):
    """Git Re-Basin weight matching: one permutation per hidden layer.

    Coordinate ascent on ``sum_l <W_anchor_l, P_l W_l P_{l-1}^T>`` (biases included),
    each step a linear assignment for one layer given its neighbours' permutations.
    ``perms[l][j]`` is the neuron of ``mlp`` matched to neuron ``j`` of the anchor.
    """
    n_hidden = len(mlp.weights) - 1
    perms = [np.arange(w) for w in mlp.widths]
    for _ in range(max_sweeps):
        changed = False
        for layer in rng.permutation(n_hidden):
            W = mlp.weights[layer]
            if layer:
                W = W[:, perms[layer - 1]]
            W_next = mlp.weights[layer + 1]
            if layer + 1 < n_hidden:
                W_next = W_next[perms[layer + 1]]
            gain = (
                anchor.weights[layer] @ W.T
                + np.outer(anchor.biases[layer], mlp.biases[layer])
                + anchor.weights[layer + 1].T @ W_next
            )
            _, match = linear_sum_assignment(gain, maximize=True)
            if not np.array_equal(match, perms[layer]):
                perms[layer] = match
                changed = True
        if not changed:
            break
    plans = []
    for perm in perms:
        plan = np.zeros((len(perm), len(perm)))
        plan[perm, np.arange(len(perm))] = 1.0 / len(perm)
        plans.append(plan)
    return plans


def _align_to_anchor(mlp, anchor, pre, pre_anchor, *, align, reg, max_sweeps, seed):
    """Weights of ``mlp`` moved into the anchor's neuron order, and the transport plans.

    Layer by layer (Singh & Jaggi, Algorithm 1): the incoming weights are first carried
    over by the previous plan, ``W <- W T diag(1 / beta)``; then the layer's plan ``T``
    between the model's and the anchor's neurons gives ``W <- diag(1 / beta) T^T W``
    (each anchor neuron receives the plan-weighted barycentre of the neurons sent to
    it; ``beta`` are the anchor's uniform marginals). The output layer keeps its order.
    """
    if align == "permutation":
        plans = _weight_matching(mlp, anchor, max_sweeps, np.random.RandomState(seed))
    else:
        plans = []
    weights, biases = [], []
    prev = None
    for layer, (W, b) in enumerate(zip(mlp.weights, mlp.biases)):
        if prev is not None:
            W = W @ prev * prev.shape[1]  # W T diag(1 / beta), beta = 1 / width
        if layer == len(mlp.weights) - 1:
            weights.append(W)
            biases.append(b)
            break
        if align == "permutation":
            plan = plans[layer]
        else:
            if align == "weight":
                feats = np.hstack([W, b[:, None]])
                feats_anchor = np.hstack([anchor.weights[layer], anchor.biases[layer][:, None]])
            else:
                feats, feats_anchor = pre[layer].T, pre_anchor[layer].T
            plan = _transport_plan(_ground_cost(feats, feats_anchor), reg)
            plans.append(plan)
        beta = 1.0 / plan.shape[1]
        weights.append(plan.T @ W / beta)
        biases.append(plan.T @ b / beta)
        prev = plan
    return weights, biases, plans


# Parameter-free torch modules that act on each channel alone (or flatten it), so that
# permuting or mixing channels commutes with them.
_CHANNELWISE = {
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "LPPool2d",
    "Flatten", "Dropout2d",
}  # fmt: skip
_BN_FIELDS = ("weight", "bias", "running_mean", "running_var")


@dataclass
class _CNNLayer:
    """A Conv2d or Linear layer, with the BatchNorm that normalizes its output channels.

    Every per-channel tensor (weight along its first axis, bias, BatchNorm parameters and
    running statistics) moves with the layer's output channels. ``spatial`` is the
    number of positions per channel of a Linear layer's input when it follows a
    convolution through ``Flatten`` (channel-major order), else None.
    """

    weight: np.ndarray
    bias: object
    bn: dict
    spatial: object
    module: object
    bn_module: object

    @property
    def width(self):
        return self.weight.shape[0]


@dataclass
class _CNN:
    kind: str
    model: object
    layers: list

    @property
    def widths(self):
        return [layer.width for layer in self.layers[:-1]]


def _is_cnn(model):
    """Whether a torch module or skorch net's module contains a Conv2d."""
    model = _unwrap(model)
    kind = _model_kind(model)
    if kind not in ("torch", "skorch"):
        return False
    torch = import_optional("torch")
    # an unfitted skorch net (prefit=False) has only its module template
    module = model if kind == "torch" else getattr(model, "module_", model.module)
    return isinstance(module, torch.nn.Module) and any(
        isinstance(m, torch.nn.Conv2d) for m in module.modules()
    )


def _read_cnn(model, name="model"):
    """Read a sequential CNN (Conv2d, BatchNorm, Linear, channel-wise layers) into a _CNN."""
    from ._mlp_params import _ELEMENTWISE

    torch = import_optional("torch")
    model = _unwrap(model)
    kind = _model_kind(model)
    check_model_fitted(model, name)
    module = _module_of(model, kind)
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(
            f"{name}: OTFusion aligns torch nn.Sequential CNNs (Conv2d, BatchNorm2d, "
            f"Linear and channel-wise layers), got {type(module).__name__}."
        )
    layers, channels = [], None
    after_conv = False
    for m in _flat_modules(module):
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            if isinstance(m, torch.nn.Conv2d) and m.groups != 1:
                raise TypeError(f"{name}: grouped convolutions cannot be aligned channel-wise.")
            spatial = None
            if isinstance(m, torch.nn.Linear) and after_conv:
                if channels is None or m.in_features % channels:
                    raise ValueError(
                        f"{name}: the Linear layer after the convolutions takes "
                        f"{m.in_features} inputs, not a multiple of the {channels} channels."
                    )
                spatial = m.in_features // channels
            after_conv = isinstance(m, torch.nn.Conv2d)
            bias = None if m.bias is None else _to_float64(m.bias)
            layers.append(_CNNLayer(_to_float64(m.weight), bias, None, spatial, m, None))
            channels = m.weight.shape[0]
        elif isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            if not layers or layers[-1].bn is not None or m.num_features != channels:
                raise TypeError(
                    f"{name}: each BatchNorm must follow the Conv2d/Linear whose "
                    f"{channels} output channels it normalizes."
                )
            if not m.affine or not m.track_running_stats:
                raise TypeError(f"{name}: BatchNorm layers need affine=True and running stats.")
            layers[-1].bn = {f: _to_float64(getattr(m, f)) for f in _BN_FIELDS}
            layers[-1].bn_module = m
        elif any(True for _ in m.parameters()) or not (
            type(m).__name__ in _ELEMENTWISE | _CHANNELWISE
            and type(m).__module__.startswith("torch.nn")
        ):
            raise TypeError(
                f"{name} contains {type(m).__name__}; OTFusion aligns sequential CNNs of "
                "Conv2d, BatchNorm, Linear, elementwise activations, pooling and Flatten."
            )
    if not layers:
        raise ValueError(f"{name} has no Conv2d or Linear layer.")
    return _CNN(kind, model, layers)


def _check_cnns(cnns, param="models"):
    ref = cnns[0]
    for k, c in enumerate(cnns[1:], start=1):
        where = f"{param}[{k}] and {param}[0]"
        if c.kind != ref.kind:
            raise ValueError(f"{where} are of different kinds ({c.kind} vs {ref.kind}).")
        sig = [(type(la.module).__name__, la.weight.shape[2:], la.bn is not None,
                la.bias is not None) for la in c.layers]  # fmt: skip
        ref_sig = [(type(la.module).__name__, la.weight.shape[2:], la.bn is not None,
                    la.bias is not None) for la in ref.layers]  # fmt: skip
        if sig != ref_sig:
            raise ValueError(
                f"{where} have different layer sequences (types, kernel sizes, BatchNorm, biases)."
            )
        if (c.layers[0].weight.shape[1], c.layers[-1].width) != (
            ref.layers[0].weight.shape[1],
            ref.layers[-1].width,
        ):
            raise ValueError(f"{where} have different input channels or outputs.")
        if [la.spatial for la in c.layers] != [la.spatial for la in ref.layers]:
            raise ValueError(f"{where} flatten feature maps of different spatial sizes.")


def _cnn_activations(cnn, X, batch_size=256):
    """Per hidden layer, each channel's outputs (after its BatchNorm) on X: (C, n * H * W)."""
    torch = import_optional("torch")
    module = copy.deepcopy(_module_of(cnn.model, cnn.kind)).eval()
    mods = list(_flat_modules(module))
    originals = list(_flat_modules(_module_of(cnn.model, cnn.kind)))
    taps = [mods[originals.index(la.bn_module or la.module)] for la in cnn.layers[:-1]]
    outs = [[] for _ in taps]

    def keep(k):
        def hook(module, inputs, output):
            outs[k].append(output.detach())

        return hook

    hooks = [tap.register_forward_hook(keep(k)) for k, tap in enumerate(taps)]
    try:
        p = next(module.parameters())
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                module(
                    torch.as_tensor(X[start : start + batch_size], dtype=p.dtype, device=p.device)
                )
    finally:
        for h in hooks:
            h.remove()
    feats = []
    for chunks in outs:
        a = torch.cat(chunks).double()
        feats.append(a.transpose(0, 1).reshape(a.shape[1], -1).cpu().numpy())
    return feats


def _carry_inputs(W, plan, spatial):
    """``W T diag(1 / beta)`` on the input channels of a Conv2d or Linear weight."""
    scale = plan.shape[1]
    if spatial is not None:  # Linear after Flatten: inputs are (channel, position) pairs
        W3 = W.reshape(W.shape[0], plan.shape[0], spatial)
        return np.einsum("ocs,cd->ods", W3, plan).reshape(W.shape[0], -1) * scale
    return np.moveaxis(np.tensordot(W, plan, axes=([1], [0])), -1, 1) * scale


def _align_cnn(cnn, anchor, acts, acts_anchor, *, align, reg):
    """The CNN's per-channel tensors moved into the anchor's channel order (Algorithm 1
    of Singh & Jaggi with channels as neurons), and the transport plans."""
    aligned, plans, prev = [], [], None
    for index, layer in enumerate(cnn.layers):
        W, b = layer.weight, layer.bias
        bn = dict(layer.bn) if layer.bn is not None else None
        if prev is not None:
            W = _carry_inputs(W, prev, layer.spatial)
        if index < len(cnn.layers) - 1:
            if align == "weight":
                ref = anchor.layers[index]
                feats = W.reshape(W.shape[0], -1)
                feats_anchor = ref.weight.reshape(ref.width, -1)
                if b is not None:
                    feats = np.hstack([feats, b[:, None]])
                    feats_anchor = np.hstack([feats_anchor, ref.bias[:, None]])
            else:
                feats, feats_anchor = acts[index], acts_anchor[index]
            plan = _transport_plan(_ground_cost(feats, feats_anchor), reg)
            inv_beta = plan.shape[1]
            W = np.tensordot(plan.T, W, axes=([1], [0])) * inv_beta
            b = None if b is None else plan.T @ b * inv_beta
            if bn is not None:
                bn = {f: plan.T @ v * inv_beta for f, v in bn.items()}
            plans.append(plan)
            prev = plan
        aligned.append((W, b, bn))
    return aligned, plans


def _build_cnn(anchor, layers):
    """A copy of the anchor carrying new per-layer tensors."""
    torch = import_optional("torch")
    model = copy.deepcopy(anchor.model)
    originals = list(_flat_modules(_module_of(anchor.model, anchor.kind)))
    copies = list(_flat_modules(_module_of(model, anchor.kind)))

    def put(tensor, value):
        tensor.copy_(torch.as_tensor(value, dtype=tensor.dtype, device=tensor.device))

    with torch.no_grad():
        for la, (W, b, bn) in zip(anchor.layers, layers):
            mod = copies[originals.index(la.module)]
            put(mod.weight, W)
            if b is not None:
                put(mod.bias, b)
            if bn is not None:
                bn_mod = copies[originals.index(la.bn_module)]
                for f, v in bn.items():
                    put(getattr(bn_mod, f), v)
    return model


@fill_doc
class OTFusion(_MLPMergeBase):
    """Fuse several trained MLPs into one by aligning their neurons with optimal transport.

    Layer by layer, the neurons of every model are matched to those of the anchor model
    by an optimal transport plan, the incoming weights of each layer having first been
    carried over by the previous layer's plan; the aligned weights are then averaged.
    Unlike a plain weight average, fusion does not need the models to share an
    initialization, and the models may have different hidden widths (the fused model
    has the anchor's widths).

    Parameters
    ----------
    models : list of models
        The models to fuse, all of the same kind, depth, input and output sizes and
        activations: fitted scikit-learn :class:`~sklearn.neural_network.MLPClassifier`
        or :class:`~sklearn.neural_network.MLPRegressor`, torch ``nn.Sequential`` of
        ``nn.Linear`` layers and elementwise activations, or skorch nets whose module is
        such a ``Sequential``; or sequential CNNs (torch ``nn.Sequential`` or skorch
        nets) of ``Conv2d`` layers, each optionally followed by its ``BatchNorm2d``,
        elementwise activations, pooling, ``Flatten`` and ``Linear`` layers, whose
        channels are aligned like neurons. Models wrapped in
        :class:`~sklearn.frozen.FrozenEstimator` are unwrapped (this keeps them fitted
        through :func:`~sklearn.base.clone`, e.g. in ``GridSearchCV``). The models are
        never modified.

    align : {"activation", "weight", "permutation"}, default="activation"
        How neurons are matched. ``"activation"``: ground cost = squared distance between
        two neurons' pre-activations on the ``X`` passed to :meth:`fit`. ``"weight"``:
        squared distance between their incoming weight vectors (with bias), after the
        previous layer's alignment. ``"permutation"``: Git Re-Basin weight matching, one
        permutation per layer found by coordinate ascent with linear assignment
        (needs equal widths; ``reg`` is not used; MLPs only). For CNNs,
        ``"activation"`` compares the channels' outputs (after their BatchNorm) at every
        position of every row of ``X``, and ``"weight"`` their whole kernels.

    reg : float, default=0.0
        Entropic regularization of the transport problem on the ground cost scaled to a
        maximum of 1. ``0`` solves the exact problem (``ot.emd``, a permutation when the
        widths are equal); ``reg > 0`` uses Sinkhorn (``ot.sinkhorn``, stabilized) and
        gives soft plans.

    weights : array-like of shape (n_models,), default=None
        Importance of each model in the average (normalized to sum to 1); uniform when
        None.

    anchor : int, default=0
        Index of the model whose neuron order and widths the fused model takes.

    max_sweeps : int, default=100
        Most sweeps over the layers of the ``"permutation"`` coordinate ascent.

    finetune_epochs : int, default=0
        When positive, the fused model is trained this many more epochs on ``(X, y)``
        (``max_iter`` of a scikit-learn MLP with ``warm_start``; epochs of a skorch net).
        A bare torch module cannot be fine-tuned here.

    classes : array-like of shape (n_outputs,), default=None
        For torch modules that are classifiers: the class of each output (logit). The
        estimator is then a classifier: ``predict`` gives the class of the largest
        output, ``predict_proba`` the softmax, ``score`` the accuracy. Must be None for
        scikit-learn and skorch models, which carry their own ``classes_``.

    prefit : bool, default=True
        Whether the models are already trained. ``False`` trains a clone of each model
        (scikit-learn MLPs or skorch nets, e.g. with different ``random_state``) on
        ``(X, y)`` in :meth:`fit` before fusing them: the setting of the paper's
        experiments.

    %(random_state)s
        Used to order the layers in the ``"permutation"`` coordinate ascent.

    %(n_jobs)s
        The models are aligned to the anchor in parallel.

    %(verbose)s

    Attributes
    ----------
    fused_ : model
        The fused model, of the kind of the models (scikit-learn MLP, torch
        ``nn.Sequential`` or skorch net), a copy of the anchor carrying the fused weights.

    fused_kind_ : {"sklearn", "torch", "skorch"}
        Kind of ``fused_``.

    transport_ : list of list of ndarray
        ``transport_[k][l]`` is the plan of shape ``(width_k_l, width_anchor_l)`` between
        the neurons of hidden layer ``l`` of model ``k`` and the anchor's (the anchor's
        own plans are ``I / width``).

    weights_ : ndarray of shape (n_models,)
        Normalized model importances used in the average.

    classes_ : ndarray of shape (n_classes,)
        Class labels, when the models are classifiers.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    WeightAveraging : Average models that share an initialization, without alignment.

    Notes
    -----
    ``predict``, ``predict_proba`` and ``score`` use ``fused_``. For a torch module
    without ``classes``, ``predict`` returns the module's outputs (raveled when there is
    one) and ``score`` is R².

    In a CNN every per-channel tensor (the kernels' output axis, the bias, the
    BatchNorm affine parameters and running statistics) moves with its channel; the
    next layer's input channels (for a ``Linear`` after ``Flatten``: its blocks of
    ``height * width`` inputs) are carried over by the plan. With soft plans the
    running variances are averaged like the other statistics, an approximation.

    The transport problems use uniform marginals. With the exact solver and equal
    widths the plan is a permutation, so fusing a model with a neuron-permuted copy of
    itself gives back the model. Pre-activations rather than post-activations are
    compared with ``align="activation"``: they carry the same ordering information and
    never tie for ReLU units that are inactive on ``X``.

    References
    ----------
    .. [1] S. P. Singh and M. Jaggi, "Model Fusion via Optimal Transport", NeurIPS 2020.
    .. [2] S. Ainsworth, J. Hayase and S. Srinivasa, "Git Re-Basin: Merging Models
       modulo Permutation Symmetries", ICLR 2023.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier
    >>> from skreuse.inference import OTFusion
    >>> X, y = load_iris(return_X_y=True)
    >>> models = [MLPClassifier((16,), max_iter=2000, random_state=s).fit(X, y)
    ...           for s in range(2)]
    >>> fusion = OTFusion(models).fit(X)
    >>> fusion.fused_.coefs_[0].shape
    (4, 16)
    >>> fusion.transport_[1][0].shape
    (16, 16)
    >>> fusion.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "models": [list, tuple],
        "align": [StrOptions({"activation", "weight", "permutation"})],
        "reg": [Interval(Real, 0, None, closed="left")],
        "weights": ["array-like", None],
        "anchor": [Interval(Integral, 0, None, closed="left")],
        "max_sweeps": [Interval(Integral, 1, None, closed="left")],
        "finetune_epochs": [Interval(Integral, 0, None, closed="left")],
        "classes": ["array-like", None],
        "prefit": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        models,
        *,
        align="activation",
        reg=0.0,
        weights=None,
        anchor=0,
        max_sweeps=100,
        finetune_epochs=0,
        classes=None,
        prefit=True,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.models = models
        self.align = align
        self.reg = reg
        self.weights = weights
        self.anchor = anchor
        self.max_sweeps = max_sweeps
        self.finetune_epochs = finetune_epochs
        self.classes = classes
        self.prefit = prefit
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _requires_y(self):
        return not self.prefit or self.finetune_epochs > 0

    @_fit_context(
        # the models are estimators, which validate their own parameters when trained
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None):
        """Align the models to the anchor and average them into ``fused_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows whose activations match neurons (``align="activation"``); also the
            training data when ``prefit=False`` or ``finetune_epochs > 0``. CNNs take
            images ``(n_samples, channels, height, width)``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets, needed only when ``prefit=False`` or ``finetune_epochs > 0``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y = self._validate_fit_data(X, y)
        if self.finetune_epochs > 0 and y is None:
            raise ValueError("finetune_epochs > 0 trains the fused model on (X, y): y is required.")
        if any(_is_cnn(m) for m in self._models_list()):
            return self._fit_cnn(X, y)
        mlps = self._prepare_models(X, y)
        n_models = len(mlps)
        if self.anchor >= n_models:
            raise ValueError(f"anchor={self.anchor} is out of range for {n_models} models.")
        _check_architectures(
            mlps, same_widths=self.align == "permutation", n_features=int(np.prod(X.shape[1:]))
        )
        self.weights_ = _check_model_weights(self.weights, n_models)
        anchor = mlps[self.anchor]
        pre = [_forward(m, X)[1] if self.align == "activation" else None for m in mlps]
        seeds = check_random_state(self.random_state).randint(np.iinfo(np.int32).max, size=n_models)
        others = [k for k in range(n_models) if k != self.anchor]
        aligned = Parallel(n_jobs=self.n_jobs)(
            delayed(_align_to_anchor)(
                mlps[k],
                anchor,
                pre[k],
                pre[self.anchor],
                align=self.align,
                reg=self.reg,
                max_sweeps=self.max_sweeps,
                seed=seeds[k],
            )
            for k in progress(others, verbose=self.verbose, desc="aligning models")
        )
        identity = [np.eye(w) / w for w in anchor.widths]
        results = dict(zip(others, aligned))
        results[self.anchor] = (anchor.weights, anchor.biases, identity)
        self.transport_ = [results[k][2] for k in range(n_models)]
        fused_W = [
            sum(self.weights_[k] * results[k][0][layer] for k in range(n_models))
            for layer in range(len(anchor.weights))
        ]
        fused_b = [
            sum(self.weights_[k] * results[k][1][layer] for k in range(n_models))
            for layer in range(len(anchor.biases))
        ]
        self.fused_ = _build_model(anchor, fused_W, fused_b)
        if self.finetune_epochs > 0:
            self.fused_ = _finetune(self.fused_, anchor.kind, X, y, self.finetune_epochs)
        self._set_output_attributes(anchor.kind)
        return self

    def _fit_cnn(self, X, y):
        """Fusion of sequential CNNs: channels are aligned like neurons."""
        if self.align == "permutation":
            raise ValueError(
                "align='permutation' (weight matching) supports MLPs only; use "
                "'activation' or 'weight' to fuse CNNs."
            )
        cnns = self._prepare_models(X, y, read=_read_cnn)
        n_models = len(cnns)
        if self.anchor >= n_models:
            raise ValueError(f"anchor={self.anchor} is out of range for {n_models} models.")
        _check_cnns(cnns)
        self.weights_ = _check_model_weights(self.weights, n_models)
        anchor = cnns[self.anchor]
        acts = [_cnn_activations(c, X) if self.align == "activation" else None for c in cnns]
        others = [k for k in range(n_models) if k != self.anchor]
        aligned = Parallel(n_jobs=self.n_jobs)(
            delayed(_align_cnn)(
                cnns[k], anchor, acts[k], acts[self.anchor], align=self.align, reg=self.reg
            )
            for k in progress(others, verbose=self.verbose, desc="aligning models")
        )
        results = dict(zip(others, aligned))
        results[self.anchor] = (
            [(la.weight, la.bias, la.bn) for la in anchor.layers],
            [np.eye(w) / w for w in anchor.widths],
        )
        self.transport_ = [results[k][1] for k in range(n_models)]
        fused = []
        for index, layer in enumerate(anchor.layers):
            parts = [results[k][0][index] for k in range(n_models)]
            W = sum(w * p[0] for w, p in zip(self.weights_, parts))
            b = None if layer.bias is None else sum(w * p[1] for w, p in zip(self.weights_, parts))
            bn = None
            if layer.bn is not None:
                bn = {f: sum(w * p[2][f] for w, p in zip(self.weights_, parts)) for f in layer.bn}
            fused.append((W, b, bn))
        self.fused_ = _build_cnn(anchor, fused)
        if self.finetune_epochs > 0:
            self.fused_ = _finetune(self.fused_, anchor.kind, X, y, self.finetune_epochs)
        self._set_output_attributes(anchor.kind)
        return self
