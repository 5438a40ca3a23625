"""Weight averaging of models that share an architecture.

Soups, WiSE-FT, Fisher merging, RegMean, task arithmetic, TIES and DARE.
"""

from numbers import Real

import numpy as np
from scipy.linalg import solve
from sklearn.utils import check_random_state

from ..utils._docstrings import fill_doc
from ..utils._progress import progress
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ._mlp_params import (
    _build_from_state,
    _build_model,
    _check_architectures,
    _check_model_weights,
    _check_states,
    _fisher_diagonal,
    _fisher_torch,
    _forward,
    _likelihood,
    _MLPMergeBase,
    _model_score,
    _read_mlp,
    _read_state,
    _reset_batchnorm,
)

# Methods that merge task vectors (model minus ``base``) rather than whole models.
_TASK_METHODS = ("task_arithmetic", "ties", "dare")


def _weighted_sum(dicts, coef):
    """``sum_k coef[k] * dicts[k][name]`` for every name of ``dicts[0]``."""
    return {name: sum(c * d[name] for c, d in zip(coef, dicts)) for name in dicts[0]}


def _average(states, coef):
    """Parameters and floating buffers averaged with coefficients ``coef``."""
    return (
        _weighted_sum([s.params for s in states], coef),
        _weighted_sum([s.buffers for s in states], coef),
    )


def _ties_merge(task_vectors, density):
    """TIES-Merging of task vectors (Yadav et al., NeurIPS 2023), vectorized.

    1. Trim: in each task vector (all parameters flattened together, as in the
       authors' code), keep the ``int(density * d)`` entries of largest magnitude.
    2. Elect: the sign of each coordinate is that of the summed trimmed values (the
       larger total mass); coordinates with a zero sum take the majority of the elected
       signs.
    3. Disjoint mean: average only the trimmed values that agree with the elected sign.
    """
    names = list(task_vectors[0])
    flat = np.stack([np.concatenate([tv[n].ravel() for n in names]) for tv in task_vectors])
    d = flat.shape[1]
    n_keep = int(density * d)
    magnitude = np.abs(flat)
    if n_keep == 0:
        trimmed = np.zeros_like(flat)
    elif n_keep >= d:
        trimmed = flat
    else:
        threshold = np.partition(magnitude, d - n_keep, axis=1)[:, d - n_keep]
        trimmed = np.where(magnitude >= threshold[:, None], flat, 0.0)
    sign = np.sign(trimmed.sum(axis=0))
    sign[sign == 0] = np.sign(sign.sum())
    agree = np.where(sign > 0, trimmed > 0, trimmed < 0)
    merged = (trimmed * agree).sum(axis=0) / np.maximum(agree.sum(axis=0), 1)
    out, start = {}, 0
    for n in names:
        size = task_vectors[0][n].size
        out[n] = merged[start : start + size].reshape(task_vectors[0][n].shape)
        start += size
    return out


def _dare(task_vectors, drop_rate, rng):
    """DARE (Yu et al., ICML 2024): drop each entry with probability ``drop_rate``,
    rescale the rest by ``1 / (1 - drop_rate)``. Masks are drawn model by model,
    parameter by parameter in the models' order."""
    out = []
    for tv in task_vectors:
        out.append(
            {
                n: np.where(rng.random_sample(t.shape) >= drop_rate, t / (1.0 - drop_rate), 0.0)
                for n, t in tv.items()
            }
        )
    return out


def _try_read_mlps(states):
    """The models as dense-layer stacks, or None when one is not an MLP."""
    try:
        return [_read_mlp(s.model, f"models[{k}]") for k, s in enumerate(states)]
    except (TypeError, ValueError):
        return None


def _n_inputs(X):
    return X.shape[1] if X.ndim == 2 else None


def _check_groups(groups, n_samples, n_models):
    """Row indices of each model's data: all rows when ``groups`` is None."""
    if groups is None:
        return [np.arange(n_samples)] * n_models
    groups = np.asarray(groups)
    if groups.shape != (n_samples,) or not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(
            f"groups must be an integer array of shape ({n_samples},) giving the index of "
            f"the model each row belongs to, got dtype {groups.dtype} and shape {groups.shape}."
        )
    rows = [np.flatnonzero(groups == k) for k in range(n_models)]
    missing = [k for k, r in enumerate(rows) if r.size == 0]
    if missing or groups.min() < 0 or groups.max() >= n_models:
        raise ValueError(
            f"groups must take values in 0..{n_models - 1} with at least one row per model; "
            f"models without rows: {missing}."
        )
    return rows


@fill_doc
class WeightAveraging(_MLPMergeBase):
    """Merge models of one architecture by averaging or combining their weights.

    Weight averaging works when the models lie in one basin of the loss, typically
    because they were fine-tuned from the same pre-trained weights. The rules:

    - ``"uniform"``: the (weighted) mean of the weights, a *uniform soup*;
    - ``"greedy"``: a *greedy soup*: models sorted by their score on the held-out
      ``(X, y)`` passed to :meth:`fit` are added one by one to the average, each kept
      only if the soup's held-out score does not drop;
    - ``"wise_ft"``: WiSE-FT interpolation ``(1 - alpha) theta_0 + alpha theta_1``
      between a zero-shot/pre-trained model ``models[0]`` and its fine-tuned version
      ``models[1]``;
    - ``"fisher"``: every parameter averaged with weights given by each model's
      diagonal Fisher information on its data;
    - ``"regmean"``: every dense layer set to the least-squares merge of the models'
      layers on their own inputs, ``W = (sum_i G_i)^-1 sum_i G_i W_i`` with
      ``G_i = X_i^T X_i`` the Gram matrix of the layer's inputs in model ``i``
      (MLPs only);
    - ``"task_arithmetic"``: ``base + scaling * sum_i tau_i`` with the *task vectors*
      ``tau_i = theta_i - base`` of models fine-tuned from ``base``;
    - ``"ties"``: TIES-Merging, ``base + scaling * tau`` where ``tau`` keeps the
      ``density`` fraction of largest-magnitude entries of each task vector, elects one
      sign per entry by the summed mass, and averages only the agreeing entries;
    - ``"dare"``: DARE, every entry of every task vector dropped with probability
      ``drop_rate`` and the rest rescaled by ``1 / (1 - drop_rate)``, then added as in
      task arithmetic.

    Parameters
    ----------
    models : list of models
        Models of one architecture: fitted scikit-learn
        :class:`~sklearn.neural_network.MLPClassifier` or
        :class:`~sklearn.neural_network.MLPRegressor`, torch ``nn.Module`` of any
        architecture (convolutions, normalization layers, residual blocks) with
        identical parameter names and shapes, or skorch nets. Models wrapped in
        :class:`~sklearn.frozen.FrozenEstimator` are unwrapped. The models are never
        modified.

    method : {"uniform", "greedy", "wise_ft", "fisher", "regmean", \
            "task_arithmetic", "ties", "dare"}, default="uniform"
        The merging rule (see above).

    weights : array-like of shape (n_models,), default=None
        Importance of each model for ``"uniform"``, ``"fisher"`` and ``"regmean"``
        (normalized to sum to 1; uniform when None). Must be None for the other
        methods, which set their own.

    alpha : float, default=0.5
        Interpolation weight of the fine-tuned model for ``"wise_ft"``; ``0`` gives
        ``models[0]`` and ``1`` gives ``models[1]``.

    fisher_floor : float, default=1e-6
        Lower bound on every Fisher value, so that parameters no model is sensitive to
        get the plain weighted average.

    ridge : float, default=1e-6
        ``"regmean"``: ``ridge * mean(diag(sum_i w_i G_i))`` (``w_i`` the normalized model
        weights, so with uniform weights the mean Gram matrix's diagonal) is added to
        every model's Gram matrix. It keeps the solve stable, and pulls the weights of
        input directions the data do not excite (e.g. always-inactive ReLU units) toward
        the plain weighted average instead of leaving them undetermined.

    base : model, default=None
        The common pre-trained model the ``models`` were fine-tuned from, of the same
        kind and architecture; required by ``"task_arithmetic"``, ``"ties"`` and
        ``"dare"`` and used by no other method. Never modified.

    scaling : float, default=1.0
        ``lambda``, the coefficient of the (summed, or TIES-merged) task vector added
        to ``base``.

    density : float in (0, 1], default=0.2
        ``"ties"``: fraction of each task vector's entries kept by the trim step (the
        paper's ``k``, 20%%).

    drop_rate : float in [0, 1), default=0.9
        ``"dare"``: probability ``p`` that an entry of a task vector is dropped.

    reset_bn : bool, default=False
        Recompute the running statistics of every BatchNorm layer of the merged torch
        model on ``X`` (a REPAIR-style reset): averaged weights change the statistics of
        the activations, which the averaged running statistics no longer match. Also
        applied to every candidate soup of ``"greedy"``.

    classes : array-like of shape (n_outputs,), default=None
        For torch modules that are classifiers: the class of each output (logit) of the
        module. The estimator is then a classifier: ``predict`` gives the class of the
        largest output, ``predict_proba`` the softmax of the outputs, ``score`` and the
        greedy soup use accuracy, and ``"fisher"`` uses the softmax likelihood. Must be
        None for scikit-learn and skorch models, which carry their own ``classes_``.

    prefit : bool, default=True
        Whether the models are already trained. ``False`` trains a clone of each model
        (scikit-learn MLPs or skorch nets) on ``(X, y)`` in :meth:`fit` first.

    %(random_state)s
        Draws the drop masks of ``"dare"``.

    %(verbose)s

    Attributes
    ----------
    fused_ : model
        The merged model, of the kind of the models: a copy of ``models[0]`` carrying
        the merged weights.

    fused_kind_ : {"sklearn", "torch", "skorch"}
        Kind of ``fused_``.

    weights_ : ndarray of shape (n_models,)
        Coefficient of each model: the normalized importances for ``"uniform"``,
        ``"fisher"`` and ``"regmean"``, ``1 / n_ingredients`` on the soup's ingredients
        for ``"greedy"``, ``(1 - alpha, alpha)`` for ``"wise_ft"``, and ``scaling``
        (the coefficient of each task vector) for ``"task_arithmetic"``, ``"ties"``
        and ``"dare"``.

    scores_ : ndarray of shape (n_models,)
        ``"greedy"`` only: each model's own held-out score (accuracy or R²).

    ingredients_ : list of int
        ``"greedy"`` only: indices of the models in the soup, in the order added.

    classes_ : ndarray of shape (n_classes,)
        Class labels, when the models are classifiers.

    n_features_in_ : int
        Number of features seen during :meth:`fit` (for inputs with more than two
        dimensions, the size of the second one, e.g. the channels of images).

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    OTFusion : Align neurons by optimal transport before averaging (models trained
        from different initializations, different widths).

    Notes
    -----
    ``predict``, ``predict_proba`` and ``score`` use ``fused_``; for a torch module
    without ``classes``, ``predict`` returns its outputs and ``score`` is R².

    Torch modules are merged parameter by parameter (``named_parameters()``); their
    floating buffers (BatchNorm running statistics) are averaged with the models'
    coefficients (for the task-vector methods: the plain mean over ``models``) unless
    ``reset_bn`` recomputes them. Integer buffers (``num_batches_tracked``) are those of
    ``models[0]``.

    The Fisher information is the exact expectation over the model's own predictive
    distribution (classes for a softmax head, Bernoulli outputs for a logistic head,
    unit-variance Gaussian outputs for regression), averaged over the model's rows; for
    torch modules other than ``Sequential`` MLPs it is computed from per-sample
    Jacobians (``torch.func``). RegMean also merges the biases, by appending a constant
    input to every layer. ``"fisher"`` and ``"regmean"`` compute each model's statistics
    on its own data: pass ``groups`` to :meth:`fit` to say which rows belong to which
    model.

    TIES trims each task vector over all its parameters at once, as the authors' code
    does; it keeps exactly the ``int(density * d)`` largest magnitudes (ties at the
    threshold kept), where the authors' ``kthvalue`` threshold keeps one entry more.
    Signs are elected by the summed mass and the kept values of the elected sign are
    averaged (the paper's "disjoint mean"). DARE draws its masks from ``random_state``
    model by model, parameter by parameter.

    References
    ----------
    .. [1] M. Wortsman et al., "Model soups: averaging weights of multiple fine-tuned
       models improves accuracy without increasing inference time", ICML 2022.
    .. [2] M. Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022.
    .. [3] M. Matena and C. Raffel, "Merging Models with Fisher-Weighted Averaging",
       NeurIPS 2022.
    .. [4] X. Jin, X. Ren, D. Preotiuc-Pietro and P. Cheng, "Dataless Knowledge Fusion
       by Merging Weights of Language Models", ICLR 2023.
    .. [5] G. Ilharco et al., "Editing Models with Task Arithmetic", ICLR 2023.
    .. [6] P. Yadav, D. Tam, L. Choshen, C. Raffel and M. Bansal, "TIES-Merging:
       Resolving Interference When Merging Models", NeurIPS 2023.
    .. [7] L. Yu, B. Yu, H. Yu, F. Huang and Y. Li, "Language Models are Super Mario:
       Absorbing Abilities from Homologous Models as a Free Lunch", ICML 2024.
    .. [8] K. Jordan, H. Sedghi, O. Saukh, R. Entezari and B. Neyshabur, "REPAIR:
       REnormalizing Permuted Activations for Interpolation Repair", ICLR 2023.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier
    >>> from skreuse.inference import WeightAveraging
    >>> X, y = load_iris(return_X_y=True)
    >>> # two models trained from the same initialization on two halves of the data
    >>> models = [MLPClassifier((16,), max_iter=2000, random_state=0).fit(X[i::2], y[i::2])
    ...           for i in range(2)]
    >>> soup = WeightAveraging(models, method="uniform").fit(X)
    >>> soup.score(X, y) > 0.9
    True
    >>> wise = WeightAveraging(models, method="wise_ft", alpha=0.3).fit(X)
    >>> wise.weights_
    array([0.7, 0.3])
    >>> # task arithmetic: base + 1.0 * (fine-tuned - base) is the fine-tuned model
    >>> edit = WeightAveraging([models[1]], method="task_arithmetic", base=models[0]).fit(X)
    >>> bool(abs(edit.score(X, y) - models[1].score(X, y)) < 1e-12)
    True
    """

    _parameter_constraints: dict = {
        "models": [list, tuple],
        "method": [
            StrOptions({"uniform", "greedy", "wise_ft", "fisher", "regmean", *_TASK_METHODS})
        ],
        "weights": ["array-like", None],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "fisher_floor": [Interval(Real, 0, None, closed="neither")],
        "ridge": [Interval(Real, 0, None, closed="left")],
        "base": "no_validation",
        "scaling": [Interval(Real, None, None, closed="neither")],
        "density": [Interval(Real, 0, 1, closed="right")],
        "drop_rate": [Interval(Real, 0, 1, closed="left")],
        "reset_bn": ["boolean"],
        "classes": ["array-like", None],
        "prefit": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _shared_params = ("models", "base")

    def __init__(
        self,
        models,
        *,
        method="uniform",
        weights=None,
        alpha=0.5,
        fisher_floor=1e-6,
        ridge=1e-6,
        base=None,
        scaling=1.0,
        density=0.2,
        drop_rate=0.9,
        reset_bn=False,
        classes=None,
        prefit=True,
        random_state=None,
        verbose=0,
    ):
        self.models = models
        self.method = method
        self.weights = weights
        self.alpha = alpha
        self.fisher_floor = fisher_floor
        self.ridge = ridge
        self.base = base
        self.scaling = scaling
        self.density = density
        self.drop_rate = drop_rate
        self.reset_bn = reset_bn
        self.classes = classes
        self.prefit = prefit
        self.random_state = random_state
        self.verbose = verbose

    def _requires_y(self):
        return not self.prefit or self.method == "greedy"

    @_fit_context(
        # the models are estimators, which validate their own parameters when trained
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, groups=None):
        """Merge the models' weights into ``fused_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Held-out rows for ``"greedy"``; the rows whose Fisher information
            (``"fisher"``) or layer inputs (``"regmean"``) are computed, or that
            recompute BatchNorm statistics (``reset_bn=True``); training data when
            ``prefit=False``. Otherwise only checked. Torch and skorch models take
            inputs of any shape their module accepts (e.g. 4-D images).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Held-out targets for ``"greedy"``; training targets when ``prefit=False``.
        groups : array-like of shape (n_samples,), default=None
            ``"fisher"`` and ``"regmean"``: index of the model each row belongs to (the
            data that model was trained on). None: every model uses all rows.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y = self._validate_fit_data(X, y)
        method = self.method
        if method == "greedy" and y is None:
            raise ValueError("method='greedy' scores the soups on held-out (X, y): y is required.")
        if self.weights is not None and method not in ("uniform", "fisher", "regmean"):
            raise ValueError(f"weights must be None for method={method!r}, which sets its own.")
        if (self.base is None) == (method in _TASK_METHODS):
            raise ValueError(
                f"method={method!r} needs base=, the common pre-trained model the models "
                "were fine-tuned from."
                if self.base is None
                else f"base is used only by methods {_TASK_METHODS}, not by {method!r}."
            )
        states = self._prepare_models(X, y, read=_read_state)
        n_models = len(states)
        kind = states[0].kind
        if method == "wise_ft" and n_models != 2:
            raise ValueError(
                "method='wise_ft' interpolates two models (pre-trained, fine-tuned), "
                f"got {n_models}."
            )
        if self.reset_bn and kind == "sklearn":
            raise ValueError("reset_bn=True needs torch or skorch models with BatchNorm layers.")
        if kind == "sklearn":
            # layer-level messages (depth, widths, input size) for scikit-learn MLPs
            _check_architectures(
                [_read_mlp(s.model, f"models[{k}]") for k, s in enumerate(states)],
                same_widths=True,
                n_features=X.shape[1],
            )
        _check_states(states, names=[f"models[{k}]" for k in range(n_models)])
        if method in ("fisher", "regmean"):
            self.weights_ = _check_model_weights(self.weights, n_models)
            rows = _check_groups(groups, X.shape[0], n_models)
            mlps = _try_read_mlps(states)
            if mlps is not None:
                _check_architectures(mlps, same_widths=True, n_features=_n_inputs(X))
                if self.classes is not None:
                    for m in mlps:
                        m.likelihood = "softmax"
                merge = self._fisher if method == "fisher" else self._regmean
                self.fused_ = _build_model(mlps[0], *merge(mlps, X, rows))
            elif method == "regmean":
                raise ValueError(
                    "method='regmean' merges dense layers by least squares on their inputs "
                    "and needs MLPs (scikit-learn MLPs, or torch Sequential stacks of "
                    "Linear layers); use 'fisher' or another method for other modules."
                )
            else:
                self.fused_ = self._finish(states[0], *self._fisher_states(states, X, rows), X)
        else:
            if method == "greedy":
                params, buffers = self._greedy(states, X, y)
            elif method == "wise_ft":
                self.weights_ = np.array([1.0 - self.alpha, self.alpha])
                params, buffers = _average(states, self.weights_)
            elif method == "uniform":
                self.weights_ = _check_model_weights(self.weights, n_models)
                params, buffers = _average(states, self.weights_)
            else:
                params, buffers = self._task_merge(states)
            self.fused_ = self._finish(states[0], params, buffers, X)
        self._set_output_attributes(kind)
        return self

    def _finish(self, template, params, buffers, X):
        """The model built from merged tensors, BatchNorm statistics reset on X if asked."""
        model = _build_from_state(template, params, buffers)
        if self.reset_bn:
            _reset_batchnorm(model, template.kind, X)
        return model

    def _task_merge(self, states):
        base = _read_state(self.base, "base")
        _check_states([states[0], base], names=["models[0]", "base"])
        task_vectors = [{n: s.params[n] - base.params[n] for n in base.params} for s in states]
        n_models = len(states)
        if self.method == "ties":
            merged = _ties_merge(task_vectors, self.density)
        else:
            if self.method == "dare":
                rng = check_random_state(self.random_state)
                task_vectors = _dare(task_vectors, self.drop_rate, rng)
            merged = _weighted_sum(task_vectors, np.ones(n_models))
        self.weights_ = np.full(n_models, float(self.scaling))
        params = {n: base.params[n] + self.scaling * merged[n] for n in base.params}
        buffers = _weighted_sum([s.buffers for s in states], np.full(n_models, 1.0 / n_models))
        return params, buffers

    def _greedy(self, states, X, y):
        clf = self._is_classifier()
        kind = states[0].kind
        self.scores_ = np.array(
            [_model_score(s.model, kind, X, y, clf, classes=self.classes) for s in states]
        )
        order = np.argsort(-self.scores_, kind="stable")
        soup, best = [order[0]], self.scores_[order[0]]
        for k in progress(order[1:], verbose=self.verbose, desc="greedy soup"):
            candidate = [*soup, k]
            coef = np.full(len(candidate), 1.0 / len(candidate))
            model = self._finish(states[0], *_average([states[i] for i in candidate], coef), X)
            score = _model_score(model, kind, X, y, clf, classes=self.classes)
            if score >= best:
                soup, best = candidate, score
        self.ingredients_ = [int(k) for k in soup]
        self.weights_ = np.zeros(len(states))
        self.weights_[soup] = 1.0 / len(soup)
        return _average(states, self.weights_)

    def _fisher_states(self, states, X, rows):
        fishers = [
            _fisher_torch(states[k], X[rows[k]], _likelihood(states[k], self.classes))
            for k in progress(range(len(states)), verbose=self.verbose, desc="Fisher")
        ]
        params = {}
        for name in states[0].params:
            F = [w * np.maximum(f[name], self.fisher_floor)
                 for w, f in zip(self.weights_, fishers)]  # fmt: skip
            params[name] = sum(f * s.params[name] for f, s in zip(F, states)) / sum(F)
        return params, _weighted_sum([s.buffers for s in states], self.weights_)

    def _fisher(self, mlps, X, rows):
        fishers = [
            _fisher_diagonal(mlps[k], X[rows[k]])
            for k in progress(range(len(mlps)), verbose=self.verbose, desc="Fisher")
        ]
        merged = []
        for part in (0, 1):  # weights, then biases
            params = [m.weights if part == 0 else m.biases for m in mlps]
            layers = []
            for layer in range(len(params[0])):
                F = [w * np.maximum(f[part][layer], self.fisher_floor)
                     for w, f in zip(self.weights_, fishers)]  # fmt: skip
                num = sum(f * p[layer] for f, p in zip(F, params))
                layers.append(num / sum(F))
            merged.append(layers)
        return merged[0], merged[1]

    def _regmean(self, mlps, X, rows):
        n_layers = len(mlps[0].weights)
        grams = [[None] * len(mlps) for _ in range(n_layers)]
        for k in progress(range(len(mlps)), verbose=self.verbose, desc="RegMean Gram matrices"):
            inputs, _ = _forward(mlps[k], X[rows[k]])
            for layer, a in enumerate(inputs):
                a1 = np.hstack([a, np.ones((a.shape[0], 1))])
                grams[layer][k] = a1.T @ a1
        weights, biases = [], []
        for layer in range(n_layers):
            total = sum(w * G for w, G in zip(self.weights_, grams[layer]))
            lam = self.ridge * np.mean(np.diag(total))
            lhs = total + lam * np.eye(total.shape[0])
            rhs = sum(
                w
                * (G + lam * np.eye(G.shape[0]))
                @ np.vstack([m.weights[layer].T, m.biases[layer]])
                for w, G, m in zip(self.weights_, grams[layer], mlps)
            )
            merged = solve(lhs, rhs, assume_a="pos") if lam > 0 else np.linalg.lstsq(lhs, rhs)[0]
            weights.append(merged[:-1].T)
            biases.append(merged[-1])
        return weights, biases
