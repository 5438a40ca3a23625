"""L2-SP fine-tuning: skorch nets that keep a pre-trained network near its starting point.

Li, Grandvalet & Davoine (ICML'18): when fine-tuning a pre-trained network on a small
target set, penalizing the distance to the pre-trained weights (the "starting point",
SP) rather than to zero keeps what the source taught and generalizes better.
"""

import copy

import numpy as np
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Freezer
from skorch.dataset import Dataset

from ..utils._backend import get_torch_device
from ..utils._docstrings import fill_doc
from ..utils._validation import all_finite, check_classification_target

__all__ = ["HypothesisTransferNet", "HypothesisTransferNetRegressor"]

_PENALTIES = ("l2", "l2sp", "l2sp_fisher", "l1sp")

# ``lam`` is the pull toward the source everywhere in skreuse (HypothesisTransferClassifier's
# ``lam``); ``alpha`` there is the plain L2 penalty. The nets called it ``alpha`` at first.
_RENAMED = (
    "alpha was renamed lam: the strength of the penalty toward the pre-trained weights, "
    "as lam is the pull toward the source in HypothesisTransferClassifier/Regressor."
)


class _StartingPoint(torch.nn.Module):
    """The pre-trained weights theta0 and their Fisher weights, as buffers.

    Buffers (not parameters) so that skorch moves them with the net's device but no
    optimizer ever sees them.
    """

    def __init__(self, named_parameters):
        super().__init__()
        self.names = [name for name, _ in named_parameters]
        for i, (_, p) in enumerate(named_parameters):
            self.register_buffer(f"theta0_{i}", p.detach().clone())
            self.register_buffer(f"fisher_{i}", torch.ones_like(p))
        self.fisher_computed = False

    def theta0(self, i):
        return getattr(self, f"theta0_{i}")

    def fisher(self, i):
        return getattr(self, f"fisher_{i}")


def _replace_last_linear(module, n_outputs):
    """Swap the last ``nn.Linear`` of ``module`` for a new one with ``n_outputs`` outputs."""
    last = None
    for name, sub in module.named_modules():
        if isinstance(sub, torch.nn.Linear):
            last = name
    if last is None:
        raise ValueError("head_outputs needs a module with an nn.Linear layer to replace.")
    parent_name, _, attr = last.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    old = getattr(parent, attr)
    device, dtype = old.weight.device, old.weight.dtype
    new = torch.nn.Linear(old.in_features, n_outputs, bias=old.bias is not None)
    setattr(parent, attr, new.to(device=device, dtype=dtype))
    return [f"{last}.{p}" for p, _ in new.named_parameters()]


def _n_features(X):
    shape = getattr(X, "shape", None)
    return int(shape[1]) if shape is not None and len(shape) >= 2 else None


def _check_net_input(X, net):
    """Finite features of the module's floating dtype and of the width seen in fit."""
    module = getattr(net, "module_", None)
    params = list(module.parameters()) if module is not None else []
    dtype = params[0].dtype if params else torch.float32
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    if torch.is_tensor(X):
        if X.is_complex():
            raise ValueError("X must be real, got a complex tensor.")
        if X.is_floating_point():
            X = X.to(dtype)
        finite = all_finite(X)
    else:
        X = np.asarray(X)
        if X.dtype.kind == "c":
            raise ValueError("X must be real, got a complex array.")
        if X.dtype.kind == "O":
            # Object arrays of numbers (a DataFrame of mixed columns) are read as numbers, as
            # scikit-learn does; others stay objects and are refused below.
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError):
                pass
        if X.dtype.kind not in "fiub":
            # Strings are refused here rather than by torch's collate deep inside fit.
            raise ValueError(f"X must be numeric, got an array of dtype {X.dtype}.")
        X = X.astype(torch.empty((), dtype=dtype).numpy().dtype, copy=False)
        finite = all_finite(X)
    if not finite:
        raise ValueError("X contains NaN or infinity.")
    expected = getattr(net, "n_features_in_", None)
    if expected is not None and _n_features(X) is not None and _n_features(X) != expected:
        raise ValueError(
            f"X has {_n_features(X)} features, but {type(net).__name__} was fitted with "
            f"{expected} features."
        )
    return X


class _StartingPointMixin:
    """The penalty toward the starting point, shared by the classifier and regressor."""

    def _check_transfer_params(self):
        if self.penalty not in _PENALTIES:
            raise ValueError(f"penalty must be one of {_PENALTIES}, got {self.penalty!r}.")
        for name in ("lam", "beta"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
        if self.head_outputs is not None and (
            not isinstance(self.head_outputs, int) or self.head_outputs < 1
        ):
            raise ValueError(
                f"head_outputs must be None or a positive int, got {self.head_outputs!r}."
            )
        if self.device is not None:
            get_torch_device(self.device)  # a clear error for CUDA without a GPU

    def check_data(self, X, y=None):
        """skorch's checks, plus: class labels (classifier) or finite targets, head width.

        Array inputs are checked for NaN, infinity and width in :meth:`get_dataset`.
        """
        if isinstance(X, Dataset) or y is None:
            return super().check_data(X, y)
        y_arr = np.asarray(y.detach().cpu() if torch.is_tensor(y) else y)
        if isinstance(self, NeuralNetClassifier):
            # Before skorch's np.unique, which fails on mixed-type labels.
            check_classification_target(y_arr)
        super().check_data(X, y)
        y = y_arr
        if isinstance(self, NeuralNetClassifier):
            needed = len(self.classes_) if y.dtype.kind not in "iu" else int(y.max()) + 1
            if self.head_outputs is not None and needed > self.head_outputs:
                raise ValueError(
                    f"head_outputs={self.head_outputs} is smaller than the {needed} classes "
                    "in y; the new head needs one output per class."
                )
        elif y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity.")
        self.n_features_in_ = _n_features(X)

    def get_dataset(self, X, y=None):
        """skorch's dataset of finite inputs of the module's dtype and fitted width.

        Labels that are not integers (strings...) are encoded as their index in
        ``classes_``; :meth:`HypothesisTransferNet.predict` maps indices back.

        Returns
        -------
        dataset : torch.utils.data.Dataset
            The dataset.
        """
        if isinstance(X, np.ndarray) or torch.is_tensor(X) or hasattr(X, "to_numpy"):
            X = _check_net_input(X, self)
        if y is not None and isinstance(self, NeuralNetClassifier) and not torch.is_tensor(y):
            y = np.asarray(y)
            if y.dtype.kind not in "iu":
                y = np.searchsorted(self.classes_, y)
        return super().get_dataset(X, y)

    def initialize_module(self):
        """Deep-copy the pre-trained module, add a new head if asked, record theta0.

        skorch would otherwise train the user's module in place.

        Returns
        -------
        self : object
            The net, with ``module_``, ``starting_point_`` and ``new_param_names_``.
        """
        self._check_transfer_params()
        kwargs = self.get_params_for("module")
        if isinstance(self.module, torch.nn.Module):
            if kwargs:
                raise ValueError(
                    "module is a pre-trained instance; module__* parameters would replace "
                    f"it by a fresh one: {sorted(kwargs)}."
                )
            module = copy.deepcopy(self.module)
        else:
            module = self.module(**kwargs)
        self.new_param_names_ = (
            [] if self.head_outputs is None else _replace_last_linear(module, self.head_outputs)
        )
        self.module_ = module
        shared = [
            (name, p) for name, p in module.named_parameters() if name not in self.new_param_names_
        ]
        self.starting_point_ = _StartingPoint(shared)
        return self

    def get_default_callbacks(self):
        """skorch's default callbacks, plus a ``Freezer`` when ``freeze`` is set.

        Returns
        -------
        callbacks : list of (str, Callback)
            The default callbacks.
        """
        callbacks = list(super().get_default_callbacks())
        if self.freeze:
            callbacks.append(("freezer", Freezer(self.freeze)))
        return callbacks

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Estimate the diagonal Fisher at theta0 on the training data (``l2sp_fisher``)."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if self.penalty == "l2sp_fisher" and not self.starting_point_.fisher_computed:
            self._estimate_fisher(X, y)

    def _estimate_fisher(self, X, y):
        """Mean squared per-sample gradient of the loss, normalized to a maximum of 1.

        Per-sample gradients come from ``torch.func.vmap``; the module runs in eval
        mode (no dropout). With the largest weight 1 the penalty is nowhere stiffer
        than ``"l2sp"``'s with the same ``lam``, so a learning rate stable for one
        is stable for the other.
        """
        from torch.func import functional_call, grad, vmap

        sp = self.starting_point_
        module = self.module_
        names = sp.names
        buffers = dict(module.named_buffers())
        was_training = module.training
        module.eval()

        def sample_loss(params, xi, yi):
            out = functional_call(module, (params, buffers), (xi.unsqueeze(0),))
            return self.get_loss(out, yi.unsqueeze(0), training=False)

        per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))
        totals = [torch.zeros_like(sp.fisher(i)) for i in range(len(names))]
        dataset = self.get_dataset(X, y)
        params = {n: p.detach() for n, p in module.named_parameters() if n in names}
        # torch.func.grad ignores an outer no_grad; the latter only keeps the new
        # head's parameters from linking the Fisher buffers to the training graph.
        with torch.no_grad():
            for Xi, yi in self.get_iterator(dataset, training=False):
                Xi, yi = Xi.to(self.device), yi.to(self.device)
                grads = per_sample(params, Xi, yi)
                for i, name in enumerate(names):
                    totals[i] += grads[name].pow(2).sum(0)
        module.train(was_training)
        scale = torch.clamp(max(t.max() for t in totals), min=1e-30)
        for i, total in enumerate(totals):
            sp.fisher(i).copy_(total / scale)
        sp.fisher_computed = True

    def transfer_penalty(self):
        """The regularizer Omega(theta) added to the training loss.

        Returns
        -------
        omega : torch.Tensor
            ``lam / 2 * ||theta_shared - theta0||^2`` (``"l2sp"``; ``theta0`` replaced
            by zero for ``"l2"``, weighted by the diagonal Fisher for ``"l2sp_fisher"``,
            ``lam * ||.||_1`` for ``"l1sp"``) ``+ beta / 2 * ||theta_new||^2``.
        """
        sp = self.starting_point_
        params = dict(self.module_.named_parameters())
        shared = torch.zeros((), device=sp.theta0(0).device) if sp.names else 0.0
        for i, name in enumerate(sp.names):
            p = params[name]
            if not p.requires_grad:
                continue
            if self.penalty == "l2":
                shared = shared + p.pow(2).sum()
                continue
            diff = p - sp.theta0(i)
            if self.penalty == "l2sp":
                shared = shared + diff.pow(2).sum()
            elif self.penalty == "l2sp_fisher":
                shared = shared + (sp.fisher(i) * diff.pow(2)).sum()
            else:
                shared = shared + diff.abs().sum()
        factor = self.lam if self.penalty == "l1sp" else self.lam / 2
        new = sum(params[name].pow(2).sum() for name in self.new_param_names_)
        return factor * shared + self.beta / 2 * new

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion's loss, plus the transfer penalty while training.

        Parameters
        ----------
        y_pred : torch.Tensor
            Module outputs.
        y_true : torch.Tensor
            Targets.
        X : input data, default=None
            The batch's inputs.
        training : bool, default=False
            Whether the loss is used for training; only then is the penalty added.

        Returns
        -------
        loss : torch.Tensor
            The loss.
        """
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training:
            loss = loss + self.transfer_penalty()
        return loss

    def distance_to_start(self):
        """Euclidean distance of the shared weights to the pre-trained ones.

        Returns
        -------
        distance : float
            ``||theta_shared - theta0||_2``.
        """
        sp = self.starting_point_
        params = dict(self.module_.named_parameters())
        total = sum(
            float((params[name].detach() - sp.theta0(i)).pow(2).sum())
            for i, name in enumerate(sp.names)
        )
        return total**0.5


_PARAMS_DOC = """
    Parameters
    ----------
    module : torch.nn.Module instance or class
        The pre-trained network. An instance is deep-copied into ``module_`` and never
        trained in place; a class is instantiated with the ``module__*`` parameters
        (its random initialization is then the starting point).
    penalty : {{"l2sp", "l2", "l2sp_fisher", "l1sp"}}, default="l2sp"
        Regularizer of the shared (pre-trained) weights: ``"l2sp"``,
        ``lam / 2 * ||theta - theta0||^2``; ``"l2"``, ``lam / 2 * ||theta||^2``
        (plain weight decay, the usual fine-tuning); ``"l2sp_fisher"``,
        ``lam / 2 * sum_j F_j (theta_j - theta0_j)^2`` with ``F`` the diagonal
        Fisher information estimated on the training data at ``theta0`` (divided by its
        largest entry); ``"l1sp"``, ``lam * ||theta - theta0||_1``.
    lam : float, default=0.01
        Strength of the penalty on the shared weights.
    beta : float, default=0.01
        Strength of the plain L2 penalty ``beta / 2 * ||theta_new||^2`` on the new
        head's weights (with ``head_outputs``).
    head_outputs : int, default=None
        Replace the module's last ``nn.Linear`` by a freshly initialized one with
        this many outputs ({head}). ``None`` keeps the head, which is then penalized
        like the other pre-trained weights.
    freeze : str or list of str, default=None
        Parameter-name patterns (``fnmatch``, e.g. ``"0.*"``) frozen during training
        by skorch's :class:`~skorch.callbacks.Freezer`.
    criterion : torch criterion, default={criterion}
        The training loss{criterion_note}.
    **kwargs
        Any other parameter of skorch's ``{base}`` (``lr``, ``max_epochs``,
        ``batch_size``, ``optimizer``, ``device`` — ``"cuda"`` works when available,
        ``train_split``, ``callbacks``, ``iterator_train__shuffle``...).
"""

_ATTRS_DOC = """
    Attributes
    ----------
    module_ : torch.nn.Module
        The fine-tuned copy of ``module``.
    starting_point_ : torch.nn.Module
        The pre-trained weights ``theta0`` (and Fisher weights) as buffers, on the
        net's device.
    new_param_names_ : list of str
        Names of the new head's parameters (empty without ``head_outputs``).
"""


@fill_doc(
    net_params=_PARAMS_DOC.format(
        head="the new class count",
        criterion="torch.nn.CrossEntropyLoss",
        criterion_note=" (the module outputs logits)",
        base="NeuralNetClassifier",
    ).strip(),
    net_attributes=_ATTRS_DOC.strip(),
)
class HypothesisTransferNet(_StartingPointMixin, NeuralNetClassifier):
    """Fine-tune a pre-trained torch classifier with L2-SP (a skorch net).

    A skorch :class:`~skorch.NeuralNetClassifier` whose training loss adds a penalty
    pulling the pre-trained weights toward their starting point ``theta0`` (Li et al.,
    ICML'18) — the deep counterpart of biased regularization. The module must return
    class scores (logits) for the default cross-entropy criterion.

    %(net_params)s

    %(net_attributes)s

    See Also
    --------
    HypothesisTransferNetRegressor : The same for regression.
    skreuse.training.HypothesisTransferClassifier : Biased regularization of linear models.

    Notes
    -----
    The penalty is added to the training loss only (``valid_loss`` is the plain
    criterion). Frozen parameters are left out of it: they stay at ``theta0``.

    References
    ----------
    .. [1] X. Li, Y. Grandvalet and F. Davoine, "Explicit inductive bias for transfer
       learning with convolutional networks", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skreuse.deep import HypothesisTransferNet
    >>> _ = torch.manual_seed(0)
    >>> pretrained = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> X = np.random.RandomState(0).normal(size=(40, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = HypothesisTransferNet(pretrained, head_outputs=2, lam=0.1,
    ...                             max_epochs=5, lr=0.1, train_split=None, verbose=0)
    >>> net = net.fit(X, y)
    >>> net.predict_proba(X).shape
    (40, 2)
    >>> net.new_param_names_
    ['2.weight', '2.bias']
    """

    def __init__(
        self,
        module,
        *,
        penalty="l2sp",
        lam=0.01,
        beta=0.01,
        head_outputs=None,
        freeze=None,
        criterion=torch.nn.CrossEntropyLoss,
        **kwargs,
    ):
        if "alpha" in kwargs:
            raise TypeError(_RENAMED)
        super().__init__(module, criterion=criterion, **kwargs)
        self.penalty = penalty
        self.lam = lam
        self.beta = beta
        self.head_outputs = head_outputs
        self.freeze = freeze

    def predict(self, X):
        """Predict class labels (the labels of ``y``, strings included).

        Parameters
        ----------
        X : input data
            Anything skorch accepts (arrays, tensors, a ``Dataset``).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        idx = super().predict(X)
        classes = self.classes_
        # Integer labels are the module's output indices (skorch's convention); other
        # labels were encoded as their index in classes_.
        return idx if classes.dtype.kind in "iu" else classes[idx]


@fill_doc(
    net_params=_PARAMS_DOC.format(
        head="the new output count",
        criterion="torch.nn.MSELoss",
        criterion_note="",
        base="NeuralNetRegressor",
    ).strip(),
    net_attributes=_ATTRS_DOC.strip(),
)
class HypothesisTransferNetRegressor(_StartingPointMixin, NeuralNetRegressor):
    """Fine-tune a pre-trained torch regressor with L2-SP (a skorch net).

    A skorch :class:`~skorch.NeuralNetRegressor` whose training loss adds a penalty
    pulling the pre-trained weights toward their starting point ``theta0`` (Li et al.,
    ICML'18). Targets are 2-D float32 arrays, as skorch expects.

    %(net_params)s

    %(net_attributes)s

    See Also
    --------
    HypothesisTransferNet : The same for classification.
    skreuse.training.HypothesisTransferRegressor : Biased regularization of linear models.

    References
    ----------
    .. [1] X. Li, Y. Grandvalet and F. Davoine, "Explicit inductive bias for transfer
       learning with convolutional networks", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skreuse.deep import HypothesisTransferNetRegressor
    >>> _ = torch.manual_seed(0)
    >>> pretrained = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> X = np.random.RandomState(0).normal(size=(40, 4)).astype(np.float32)
    >>> y = X[:, :1] * 2
    >>> net = HypothesisTransferNetRegressor(pretrained, lam=1.0, max_epochs=5,
    ...                                      lr=0.05, train_split=None, verbose=0)
    >>> net.fit(X, y).predict(X).shape
    (40, 1)
    """

    def __init__(
        self,
        module,
        *,
        penalty="l2sp",
        lam=0.01,
        beta=0.01,
        head_outputs=None,
        freeze=None,
        criterion=torch.nn.MSELoss,
        **kwargs,
    ):
        if "alpha" in kwargs:
            raise TypeError(_RENAMED)
        super().__init__(module, criterion=criterion, **kwargs)
        self.penalty = penalty
        self.lam = lam
        self.beta = beta
        self.head_outputs = head_outputs
        self.freeze = freeze
