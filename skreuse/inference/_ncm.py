"""Nearest class mean classifier over pre-trained features."""

import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, logsumexp, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import column_or_1d

from ..utils._backend import DeviceConstraint, get_backend, to_numpy
from ..utils._class_means import class_mean_span, class_sums
from ..utils._clone import SharedModelsMixin
from ..utils._docstrings import fill_doc
from ..utils._features import _is_torch_data, check_loader_input, extract_features, loader_features
from ..utils._math import sq_dists
from ..utils._optional import import_optional
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ..utils._validation import all_finite, check_classification_targets
from ..utils._warnings import warn

# Entries (rows x classes) of the similarity matrix of one chunk of rows at prediction: 2**21
# float32 values are 8 MiB, so memory stays bounded whatever the number of rows.
_PREDICT_CHUNK_ENTRIES = 2**21
# Entries (rows x classes) of the leave-one-out distances of one space with
# features="auto": 2**22 float64 values are 32 MiB. A first call with more rows scores
# evenly spaced rows among them (the class means still use every row).
_LOO_MAX_ENTRIES = 2**22


@fill_doc
class NCMClassifier(SharedModelsMixin, ClassifierMixin, BaseEstimator):
    """Nearest class mean classifier over pre-trained features.

    Each class is represented by the mean of its (optionally normalized) features;
    a row is assigned to the class whose mean is closest. Class means are kept as
    running sums, so :meth:`partial_fit` adds samples *and new classes* without the
    old data (class-incremental learning): after any sequence of ``partial_fit``
    calls the means equal those of a single :meth:`fit` on all the data.

    Parameters
    ----------
    backbone : None, fitted estimator, torch.nn.Module, skorch net or callable, default=None
        Pre-trained feature extractor applied to ``X`` before the class means.
        ``None`` uses ``X`` itself; a fitted transformer gives ``transform``, another
        fitted model its ``predict_proba`` (else ``decision_function``, else
        ``predict``). A torch module runs in eval mode, without gradients, in
        batches on ``device``. The backbone is never modified, and clones (so
        ``GridSearchCV`` and ``cross_val_score``) share it instead of unfitting it.

    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between a row's features and a class mean: squared Euclidean
        distance, or cosine distance ``1 - cos``.

    normalize : {None, "l2", "cl2n"}, default=None
        Feature normalization before the means: ``"l2"`` scales every feature
        vector to unit norm; ``"cl2n"`` (SimpleShot) first subtracts the mean
        feature vector of the data seen in the first call to :meth:`fit` or
        :meth:`partial_fit` (the base session), then scales to unit norm.

    temperature : float, default=1.0
        :meth:`predict_proba` is the softmax of ``-distance / temperature``.

    batch_size : int, default=1024
        Rows per forward pass of a torch backbone.

    %(device)s

    layer : str, default=None
        With a torch module or skorch net as ``backbone``: the name of the submodule
        (as in ``backbone.named_modules()``) whose output gives the features, taken by
        a forward hook (e.g. the penultimate layer). None: the backbone's output.

    features : {"auto", "backbone", "inputs", "both"}, default="auto"
        The space of the class means when there is a ``backbone``: its features
        (``"backbone"``, Mensink et al.'s rule), the inputs ``X`` themselves (``"inputs"``, no
        reuse; inputs of more than two dimensions, e.g. images, are flattened), or both
        side by side (``"both"``). ``"auto"`` chooses among the three by leave-one-out
        log loss on the rows of the first call to :meth:`fit` or :meth:`partial_fit`
        (see Notes), so that a backbone whose features do not separate the target's
        classes is not forced on it; with at most two rows per class it keeps the
        backbone unexamined, and warns. With ``backbone=None`` the inputs are the only
        space (``"both"`` is then an error); with a torch ``Dataset`` or ``DataLoader``
        ``X`` there are no inputs to fall back to, and ``"auto"`` keeps the backbone.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.

    centroids_ : ndarray of shape (n_classes, n_features_out)
        Class means in the normalized feature space.

    class_count_ : ndarray of shape (n_classes,)
        Number of samples seen per class.

    center_ : ndarray of shape (n_features_out,) or None
        The centring vector of ``normalize="cl2n"``, else None.

    features_ : {"backbone", "inputs", "both"}
        The space of the class means (``features``, or the one ``"auto"`` chose).

    loo_accuracy_ : dict of str to float
        With ``features="auto"`` and a choice to make: the leave-one-out accuracy of each
        space on the rows of the first call (on evenly spaced rows among them when there
        are more than ``2**22 / n_classes``; the class means use every row). Empty
        otherwise.

    loo_log_loss_ : dict of str to float
        With ``features="auto"`` and a choice to make: the leave-one-out log loss of each
        space on the rows of the first call (the rows of ``loo_accuracy_``; mean over
        those not alone in their class, of ``-log softmax(-distance / T)`` at the row's
        class, at the temperature ``T`` best for that space), by which ``"auto"``
        chooses. Empty otherwise, and when every row is alone in its class.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    sklearn.neighbors.NearestCentroid : The same rule on raw features (no backbone,
        no class-incremental updates, no probabilities).

    Notes
    -----
    With ``backbone=None``, ``metric="euclidean"`` and ``normalize=None`` the
    predictions equal those of :class:`~sklearn.neighbors.NearestCentroid`; with a
    backbone they equal those of ``NearestCentroid`` on the backbone's features when
    ``features="backbone"``.

    ``features="auto"`` scores each space by the leave-one-out log loss of the rule
    itself, in closed form: without row ``x`` its class mean is
    ``c' = (n c - x) / (n - 1)`` (``n`` rows in the class), and the other means do not
    move. The probabilities are the softmax of the negative distances at the temperature
    that fits that space best (one number per space, so the distances' scale does not
    matter); a row alone in its class cannot be predicted once left out and is not
    counted. The log loss weighs how far each left-out row lies from its own class mean
    against the others, where the accuracy only counts which is nearest: on a few rows
    per class the accuracies of the spaces differ by a row or two, or tie.
    ``loo_accuracy_`` is reported beside it. Ties go to ``"both"``, then
    ``"backbone"``: the concatenation hedges between the backbone and the inputs, where
    either alone can be far off (a backbone trained on other classes, or inputs too few
    to estimate means from).

    A backbone can collapse classes: the class means of its features span fewer
    dimensions (around their mean, a numerical rank) than those of the inputs, so some
    class lies where a mix of the other classes would be. Features trained on a subset
    of the classes do this by construction (an LDA fitted on ``k`` classes has
    ``k - 1`` components, a classifier's probabilities over ``k`` classes sum to one).
    Such a backbone is wrong for some class by construction, which a few left-out rows
    need not show (3 rows per class on the ``classes`` family of digits, seeds 0-11: the
    log loss put the backbone first on 6 seeds, and ``"both"`` was better on the test
    rows on all 6), so a collapsing backbone is kept only where it is clearly better
    than the best other space: its mean lead in leave-one-out log loss above two
    standard errors (paired over the rows). With enough rows a collapsing
    backbone that separates the classes well is kept (a narrow backbone over many
    classes, e.g. 64 features for 100 classes); on a few rows its lead must be large.
    On the ``classes`` family of ``benchmarks/bench_reuse_gain.py`` (the source's LDA
    as backbone), on seeds the benchmark does not use (100 of wine, 30 of digits), with
    3, 5 and 10 rows per class, the choice by leave-one-out accuracy (without this rule)
    reached 0.906, 0.932, 0.944 on wine and 0.786, 0.828, 0.876 on digits; this choice
    reaches 0.920, 0.930, 0.950 and 0.811, 0.835, 0.876 (a logistic regression on the
    same rows: 0.918, 0.940, 0.956 and 0.795, 0.828, 0.885). Most of the gain is the
    rule for collapsing backbones. On the ``shift`` family, where the backbone does not
    collapse, the two choices stay within 0.8 points of each other.

    With one row per class nothing can be left out, and with two each left-out row is
    judged by the single row left in its class (a 1-nearest-neighbour vote): the
    backbone is then kept (the reuse the user asked for), unless it collapses classes,
    the one sign of a bad backbone such rows can show; ``"both"`` is then used (on the
    ``classes`` family, one row per class of wine: 0.878 instead of 0.691 with the
    backbone alone, where the target-only logistic regression gets 0.841). Keeping a
    backbone that the rows could not examine is a choice made for the user, so ``fit``
    says so (a ``UserWarning``, raised only then; passing ``features`` silences it).
    With one row per class the labels cannot help: every assignment of them to the rows
    is a renaming of the classes, so the rows cannot show whether the backbone's
    features predict them. What each choice costs, on the ``shift`` and ``useless``
    families of ``benchmarks/bench_reuse_gain.py`` (the same target rows; the source's
    LDA fitted to the source's labels, or to shuffled ones), one row per class, seeds
    100-129 (mean test accuracy of the backbone / ``"both"`` / the inputs, and of a
    logistic regression on the rows): a useful backbone, wine 0.908 / 0.893 / 0.809
    (0.818), breast cancer 0.786 / 0.806 / 0.776 (0.776), digits 0.772 / 0.689 / 0.561
    (0.571); a useless one, wine 0.441 / 0.774 / 0.809 (0.818), breast cancer 0.712 /
    0.786 / 0.776 (0.776). ``features="both"`` hedges: at most 4.4 points below the
    logistic regression in these cells (the backbone alone: 37.7), but 8.3 points below
    the useful backbone on digits. A backbone with fewer dimensions than the classes
    less one (e.g. 512 features for 1000 classes) spans fewer dimensions than wider
    inputs whatever its quality: with one or two rows per class, or a few more when its
    lead is not clear, pass ``features="backbone"`` to keep it. The choice is made once,
    on the rows of the first call (like the centre of ``"cl2n"``): later calls to
    :meth:`partial_fit` add to the means of that space, so they stay equal to those of a
    single :meth:`fit`. In
    class-incremental use, when those first rows are the ones the backbone was trained
    on, the backbone separates them better than it will separate new classes, and
    ``"auto"`` favours it: first fitted on the source rows of the ``classes`` family of
    digits (the backbone an LDA fitted on them), then given 10 rows of each class,
    "auto" kept the backbone and reached 0.794 where ``"both"`` reached 0.898 (10
    seeds). Pass ``features`` there, or make the first call on rows the backbone has not
    seen.
    The sums are kept in float64, so incremental and batch means agree to
    rounding error. ``"cl2n"`` fixes its centre at the first call (as SimpleShot
    centres with the base classes' mean), so later calls do not change it.

    Prediction runs over chunks of rows (at most about two million row-class
    similarities at a time), so its memory does not grow with the number of rows
    beyond the output; float32 features stay float32 there (the means are summed in
    float64). Features whose squared distances overflow (around ``1e154`` in float64,
    ``1e19`` in float32) raise a ``ValueError`` rather than tie every class. Data larger
    than memory is fitted chunk by chunk with :meth:`partial_fit`,
    which gives the same means as one :meth:`fit`; with a dask array ``X`` (and a
    numpy ``y``) whose row chunks are ``X.chunks[0]``::

        bounds = np.cumsum((0, *X.chunks[0]))
        for block, start, stop in zip(X.to_delayed().ravel(), bounds[:-1], bounds[1:]):
            clf.partial_fit(block.compute(), y[start:stop], classes=all_classes)

    References
    ----------
    .. [1] T. Mensink, J. Verbeek, F. Perronnin and G. Csurka, "Distance-based
       image classification: generalizing to new classes at near-zero cost",
       IEEE TPAMI 35(11), 2013.
    .. [2] Y. Wang, W.-L. Chao, K. Q. Weinberger and L. van der Maaten,
       "SimpleShot: revisiting nearest-neighbor classification for few-shot
       learning", arXiv:1911.04623, 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skreuse.inference import NCMClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NCMClassifier().fit(X[y < 2], y[y < 2])
    >>> clf.classes_
    array([0, 1])
    >>> clf = clf.partial_fit(X[y == 2], y[y == 2])  # a new class, old data not needed
    >>> clf.classes_
    array([0, 1, 2])
    >>> round(clf.score(X, y), 2)
    0.93
    """

    _shared_params = ("backbone",)

    _parameter_constraints: dict = {
        "backbone": [
            None,
            HasMethods(["transform"]),
            HasMethods(["predict_proba"]),
            HasMethods(["decision_function"]),
            HasMethods(["predict"]),
            callable,
        ],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "normalize": [None, StrOptions({"l2", "cl2n"})],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [DeviceConstraint()],
        "layer": [str, None],
        "features": [StrOptions({"auto", "backbone", "inputs", "both"})],
    }

    def __init__(
        self,
        *,
        backbone=None,
        metric="euclidean",
        normalize=None,
        temperature=1.0,
        batch_size=1024,
        device="cpu",
        layer=None,
        features="auto",
    ):
        self.backbone = backbone
        self.metric = metric
        self.normalize = normalize
        self.temperature = temperature
        self.batch_size = batch_size
        self.device = device
        self.layer = layer
        self.features = features

    # -- features ---------------------------------------------------------------------------

    def _backbone_features(self, X, extracted):
        """The backbone's features of X (X itself when extracted from a loader)."""
        if extracted:
            return X
        return extract_features(
            self.backbone,
            X,
            batch_size=self.batch_size,
            device=self.device,
            name="backbone",
            layer=self.layer,
        )

    def _features(self, X, device, dtype=np.float64, extracted=False, space=None, B=None):
        """Normalized features of X in ``space`` (default ``features_``): numpy, or a float64
        tensor on ``device``.

        ``dtype=None`` keeps float32 features in float32 (prediction), else float64.
        ``extracted``: X already holds the backbone's features (from a torch loader).
        ``B``: the backbone's features of X, when already computed.
        """
        space = space or self.features_
        parts = []
        if space != "inputs":
            parts.append(self._backbone_features(X, extracted) if B is None else B)
        if space != "backbone":
            parts.append(X.reshape(X.shape[0], -1))
        nx = get_backend(device=device)
        if nx.is_torch:
            parts = [nx.asarray(P) for P in parts]
            F = parts[0] if len(parts) == 1 else nx.xp.concat(parts, axis=1)
        else:
            F = parts[0] if len(parts) == 1 else np.hstack([np.asarray(P) for P in parts])
            F = np.asarray(F)
            F = F.astype(dtype or (F.dtype if F.dtype == np.float32 else np.float64), copy=False)
        if not all_finite(F):
            raise ValueError("The backbone produced NaN or infinite features.")
        if self.normalize == "cl2n":
            if self.center_ is None:
                # The first call is the base session: its mean is the centre from now on.
                self.center_ = to_numpy(F.mean(axis=0))
            F = F - _as_backend(self.center_, device)
        if self.normalize in ("l2", "cl2n"):
            norms = (F * F).sum(axis=1) ** 0.5
            F = F / (norms + (norms == 0))[:, None]  # a zero vector stays zero
        return F

    def _device(self, X):
        """The torch device of the torch path, or None for numpy."""
        return get_backend(X, device=self.device).device

    # -- fitting ----------------------------------------------------------------------------

    def _check_loader(self, X):
        """Refuse a torch Dataset/DataLoader ``X`` without a backbone that reads it."""
        if self.backbone is None:
            raise TypeError(
                f"X is a torch {type(X).__name__}, but backbone=None uses X itself as the "
                "features: pass an array, or a torch backbone that reads the loader."
            )
        check_loader_input(self.backbone, X, name="backbone")

    def _validate_X_y(self, X, y, reset):
        """``(X, y, extracted)``: a torch loader ``X`` is replaced by its features."""
        if _is_torch_data(X):
            self._check_loader(X)
            F, y = loader_features(
                self.backbone,
                X,
                y=y,
                name="backbone",
                batch_size=self.batch_size,
                device=self.device,
                layer=self.layer,
            )
            if y is None:
                raise ValueError(
                    "y is None and the items of the torch loader X have no labels: pass y, "
                    "or a loader that yields (x, y)."
                )
            if reset:
                # A loader has no tabular features: nothing to check at prediction.
                for attr in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(attr, None)
            check_classification_targets(y)
            return F, column_or_1d(y), True
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float64, np.float32],
            allow_nd=self.backbone is not None,
        )
        check_classification_targets(y)
        return X, column_or_1d(y), False

    def _spaces(self, extracted):
        """The spaces ``features`` allows, in the order that breaks ties of ``"auto"``."""
        if self.backbone is None:
            if self.layer is not None:
                raise ValueError("layer names a submodule of the backbone, but backbone=None.")
            if self.features == "both":
                raise ValueError(
                    "features='both' puts the backbone's features beside the inputs, but "
                    "backbone=None: use features='auto' or 'inputs', or pass a backbone."
                )
            return ["inputs"]
        if extracted:
            if self.features in ("inputs", "both"):
                raise ValueError(
                    f"features={self.features!r} needs the inputs themselves, but X is a "
                    "torch Dataset or DataLoader: pass an array, or use features='backbone'."
                )
            return ["backbone"]
        if self.features == "auto":
            return ["both", "backbone", "inputs"]
        return [self.features]

    def _choose_features(self, X, y, extracted):
        """Set ``features_`` (and ``loo_accuracy_``, ``loo_log_loss_``, ``center_``) from the
        rows of the first call; return their normalized features in that space."""
        spaces = self._spaces(extracted)
        device = self._device(X)
        self.loo_accuracy_, self.loo_log_loss_ = {}, {}
        if len(spaces) == 1:
            self.features_ = spaces[0]
            return self._features(X, device, extracted=extracted)
        # One pass of the backbone serves every space.
        B = self._backbone_features(X, extracted)
        codes = np.unique(y, return_inverse=True)[1]
        counts = np.bincount(codes)
        scored = _loo_rows(len(codes), len(counts))
        found, losses, sums = {}, {}, {}
        for space in spaces:
            self.center_ = None  # each space has its own "cl2n" centre
            F = self._features(X, device, extracted=extracted, space=space, B=B)
            found[space] = (F, self.center_)
            F_host = to_numpy(F)  # a device tensor is copied to the host once per space
            sums[space] = class_sums(F_host, codes, len(counts))
            D, held = _loo_distances(F_host, codes, self.metric, scored, sums[space])
            _check_finite(D, np.float64)
            self.loo_accuracy_[space] = _loo_accuracy(D, held, codes[scored])
            if held.any():
                losses[space] = _loo_log_losses(D[held], codes[scored][held])
                self.loo_log_loss_[space] = float(losses[space].mean())

        def collapses():
            # Whether the backbone's class means span fewer dimensions than the inputs'
            # (Notes): some class lies where a mix of the other classes would be.
            span = {
                space: class_mean_span(
                    sums[space],
                    counts.astype(np.float64),
                    np.float32 if _is_float32(B) else np.float64,
                )
                for space in ("backbone", "inputs")
            }
            return span["backbone"] < span["inputs"]

        if counts.max() <= 2:
            # One row per class: nothing could be left out. Two: each left-out row is
            # compared with the single row left in its class, a 1-nearest-neighbour vote too
            # noisy to overrule the backbone the user chose (in the demo, 0.896 instead of
            # 0.945 with the backbone at two rows per class). Unless it collapses classes
            # (Notes): "both".
            self.features_ = "both" if collapses() else "backbone"
            if self.features_ == "backbone":
                warn(
                    "NCMClassifier(features='auto') kept the backbone's features without "
                    "comparing them with the inputs: with at most two labelled rows per "
                    "class the rows cannot show whether the backbone separates the classes "
                    "(a backbone that learned nothing is kept too). Pass "
                    "features='backbone' to keep it, or features='both' or 'inputs' to "
                    "hedge against it or do without it.",
                    UserWarning,
                )
        else:
            self.features_ = _least_loss(self.loo_log_loss_, spaces)
            if self.features_ == "backbone" and collapses():
                # A backbone that collapses classes is kept only where the rows show it
                # clearly better than the best other space: its mean lead in leave-one-out
                # log loss above two standard errors (Notes).
                others = [space for space in spaces if space != "backbone"]
                other = _least_loss(self.loo_log_loss_, others)
                if not _clearly_lower(losses["backbone"], losses[other]):
                    self.features_ = other
        F, self.center_ = found[self.features_]
        return F

    def _accumulate(self, X, y, classes, extracted=False, F=None):
        """Add X's features (``F`` when already computed) to the running class sums, growing
        the class set as needed."""
        device = self._device(X)
        if F is None:
            F = self._features(X, device, extracted=extracted)
        new_classes = np.unique(np.concatenate([self.classes_, classes]))
        if len(new_classes) != len(self.classes_):
            sums = np.zeros((len(new_classes), F.shape[1]))
            counts = np.zeros(len(new_classes))
            if len(self.classes_):
                pos = np.searchsorted(new_classes, self.classes_)
                sums[pos] = self.class_sums_
                counts[pos] = self.class_count_
            self.classes_, self.class_sums_, self.class_count_ = new_classes, sums, counts
        codes = np.searchsorted(self.classes_, y)
        n_classes = len(self.classes_)
        if device is not None:
            torch = import_optional("torch")
            idx = torch.as_tensor(codes, device=F.device)
            sums = torch.zeros((n_classes, F.shape[1]), dtype=F.dtype, device=F.device)
            sums.index_add_(0, idx, F)
            batch_sums = to_numpy(sums)
        else:
            # A sparse one-hot product sums each class's rows in O(n * d).
            onehot = sp.csr_matrix(
                (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_classes, len(codes))
            )
            batch_sums = onehot @ F
        self.class_sums_ = self.class_sums_ + batch_sums
        self.class_count_ = self.class_count_ + np.bincount(codes, minlength=n_classes)
        seen = self.class_count_ > 0
        self.centroids_ = np.zeros_like(self.class_sums_)
        self.centroids_[seen] = self.class_sums_[seen] / self.class_count_[seen, None]
        return self

    def _reset(self):
        self.classes_ = np.array([])
        self.class_sums_ = np.zeros((0, 0))
        self.class_count_ = np.zeros(0)
        self.center_ = None

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the class means of the (backbone) features of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Training data (or backbone inputs). With a torch module or skorch net as
            ``backbone``, also a ``torch.utils.data`` ``Dataset`` or ``DataLoader`` yielding
            ``x`` or ``(x, y)``; its features are computed in one pass (``n_features_in_``
            is then not set).
        y : array-like of shape (n_samples,), default=None
            Class labels. None only for a loader yielding ``(x, y)``: the labels of the
            same pass (which match the rows even when the loader shuffles). Given with a
            loader, the loader must not shuffle.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, y, extracted = self._validate_X_y(X, y, reset=True)
        classes = np.unique(y)
        self._reset()
        self.classes_ = classes[:0]
        F = self._choose_features(X, y, extracted)
        return self._accumulate(X, y, classes, extracted, F)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, classes=None):
        """Add samples, and new classes, to the class means without the old data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            New training data; a loader as in :meth:`fit`.
        y : array-like of shape (n_samples,), default=None
            Their labels; labels not seen before become new classes. None only for a
            loader yielding ``(x, y)``, as in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            On the first call, the classes that ``y`` may contain (classes with
            no samples yet are allowed but cannot be predicted until samples of
            them arrive). On later calls, extra classes to register.

        Returns
        -------
        self : object
            The updated classifier.
        """
        first = not hasattr(self, "classes_")
        X, y, extracted = self._validate_X_y(X, y, reset=first)
        if first:
            self._reset()
        declared = np.unique(np.asarray(classes)) if classes is not None else None
        if first and declared is not None:
            unknown = np.setdiff1d(np.unique(y), declared)
            if unknown.size:
                raise ValueError(
                    f"y contains labels {unknown.tolist()} that are not in `classes` "
                    f"{declared.tolist()} given to the first call of partial_fit."
                )
        if first:
            self.classes_ = (declared if declared is not None else np.unique(y))[:0]
        wanted = np.unique(y) if declared is None else np.union1d(declared, np.unique(y))
        if self.classes_.size and wanted.dtype.kind != self.classes_.dtype.kind:
            if not (wanted.dtype.kind in "iuf" and self.classes_.dtype.kind in "iuf"):
                raise ValueError(
                    f"Labels of dtype {wanted.dtype} cannot be mixed with the classes seen so "
                    f"far (dtype {self.classes_.dtype})."
                )
        F = self._choose_features(X, y, extracted) if first else None
        return self._accumulate(X, y, wanted, extracted, F)

    # -- prediction -------------------------------------------------------------------------

    def _check_predict(self, X):
        """``(X, extracted)``: a torch loader ``X`` is replaced by its features."""
        check_is_fitted(self, "centroids_")
        extracted = _is_torch_data(X)
        if extracted:
            self._check_loader(X)
            # The outputs are in the order of the loader's rows: it must have one.
            check_loader_input(self.backbone, X, name="backbone", ordered=True)
            X = extract_features(
                self.backbone,
                X,
                batch_size=self.batch_size,
                device=self.device,
                name="backbone",
                layer=self.layer,
            )
        else:
            X = validate_data(
                self,
                X,
                reset=False,
                dtype=[np.float64, np.float32],
                allow_nd=self.backbone is not None,
            )
        empty = self.class_count_ == 0
        if empty.any():
            raise ValueError(
                f"Classes {self.classes_[empty].tolist()} have no samples yet: call "
                "partial_fit with samples of them before predicting."
            )
        return X, extracted

    def _similarity(self, X, extracted=False):
        """Per chunk of validated rows: ``(start, stop, F, S)`` with the chunk's features ``F`` and
        ``S = 2 F C^T - ||c||^2`` (euclidean; ``F`` and ``C`` shifted by the mean of the class
        means when it lies farther from the origin than every mean from it) or
        ``F C^T / ||c||`` (cosine).

        Both order the classes like the distances do, without the per-row term, which
        is all :meth:`predict` needs. A chunk holds at most ``_PREDICT_CHUNK_ENTRIES``
        similarities, so memory is bounded whatever the number of rows; float32 features
        stay float32 (the centroids, kept in float64, are rounded to float32 for them).
        """
        device = self._device(X)
        n_classes = len(self.classes_)
        # An input row of more than one dimension (images) counts by its flattened size.
        width = math.prod(X.shape[1:])
        step = max(1, _PREDICT_CHUNK_ENTRIES // max(n_classes, width))
        terms = {}
        for start in range(0, X.shape[0], step):
            stop = min(start + step, X.shape[0])
            F = self._features(X[start:stop], device, dtype=None, extracted=extracted)
            if F.dtype not in terms:
                C = _as_backend(self.centroids_, device)
                origin = None
                if self.metric == "euclidean":
                    # Means far from the origin relative to their spread: rows and means are
                    # shifted by the means' mean (distances unchanged), so that the rounding
                    # of the expansion scales with the spread, not with the offset (around
                    # 1e8, half the predictions changed). Nearer, the shift would cost a pass
                    # over the rows for no accuracy.
                    mean = C.mean(axis=0)
                    if (mean * mean).sum() > ((C - mean) ** 2).sum(axis=1).max():
                        C, origin = C - mean, _cast(mean, F.dtype)
                c_norm2 = (C * C).sum(axis=1)
                _check_finite(c_norm2, F.dtype)
                if self.metric == "euclidean":
                    terms[F.dtype] = (_cast(2 * C, F.dtype).T, _cast(c_norm2, F.dtype), origin)
                else:
                    scale = 1 / (c_norm2 + (c_norm2 == 0)) ** 0.5
                    terms[F.dtype] = (_cast(C * scale[:, None], F.dtype).T, None, None)
            CT, offset, origin = terms[F.dtype]
            if origin is not None:
                F = F - origin[None, :]
            S = F @ CT
            if offset is not None:
                S -= offset[None, :]
            _check_finite(S, F.dtype)
            yield start, stop, F, S

    def _distances(self, X, extracted=False):
        """Per chunk of rows: ``(start, stop, distances)``."""
        for start, stop, F, sim in self._similarity(X, extracted):
            f_norm2 = (F * F).sum(axis=1)[:, None]
            _check_finite(f_norm2, F.dtype)
            if self.metric == "euclidean":
                yield start, stop, (f_norm2 - sim).clip(min=0)
            else:
                yield start, stop, 1 - sim / (f_norm2 + (f_norm2 == 0)) ** 0.5

    def _scores(self, X, transform=None):
        """``-distances / temperature`` (float64), optionally transformed chunk by chunk."""
        X, extracted = self._check_predict(X)
        out = np.empty((X.shape[0], len(self.classes_)))
        for start, stop, dist in self._distances(X, extracted):
            z = -np.asarray(to_numpy(dist), dtype=np.float64) / self.temperature
            out[start:stop] = z if transform is None else transform(z)
        return out

    def decision_function(self, X):
        """Negative distance of each row to each class mean, divided by ``temperature``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Input data; with a torch backbone also a loader (as in :meth:`fit`) that gives
            its rows in order (no shuffling).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            For two classes, the score of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        scores = self._scores(X)
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        """Predict the class whose mean is closest.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Input data; with a torch backbone also a loader (as in :meth:`fit`) that gives
            its rows in order (no shuffling).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        X, extracted = self._check_predict(X)
        idx = np.empty(X.shape[0], dtype=np.intp)
        for start, stop, _, sim in self._similarity(X, extracted):
            idx[start:stop] = to_numpy(sim.argmax(axis=1))
        return self.classes_[idx]

    def predict_proba(self, X):
        """Softmax of the negative distances divided by ``temperature``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Input data; with a torch backbone also a loader (as in :meth:`fit`) that gives
            its rows in order (no shuffling).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, columns in the order of ``classes_``.
        """
        return self._scores(X, lambda z: softmax(z, axis=1))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Input data; with a torch backbone also a loader (as in :meth:`fit`) that gives
            its rows in order (no shuffling).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log class probabilities.
        """
        return self._scores(X, lambda z: log_softmax(z, axis=1))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _loo_rows(n_rows, n_classes):
    """The rows whose leave-one-out distances are computed: all of them, or evenly spaced
    ones so that at most ``_LOO_MAX_ENTRIES`` distances are formed (at least one row)."""
    m = max(1, _LOO_MAX_ENTRIES // max(n_classes, 1))
    if n_rows <= m:
        return np.arange(n_rows)
    return np.unique(np.linspace(0, n_rows - 1, m).round().astype(np.intp))


def _loo_distances(F, codes, metric, scored=None, sums=None):
    """``(D, held)``: the distance of every row of ``F`` (numpy) whose index is in
    ``scored`` (all rows when None) to every class mean, its own class's mean computed
    without it, in closed form (without row ``x`` its class mean is ``(n c - x) / (n - 1)``,
    the other means do not move; every row of ``F`` enters the means); ``held``: those rows
    not alone in their class (a row alone has no class mean without it). Euclidean:
    squared distances; cosine: ``-cos`` (the cosine distance less one). ``sums``: the
    class sums of ``F`` when the caller has them."""
    n_classes = codes.max() + 1
    counts = np.bincount(codes, minlength=n_classes)
    if sums is None:
        sums = class_sums(F, codes, n_classes)
    C = sums / counts[:, None]
    if scored is not None and len(scored) < len(codes):
        # (Every row scored: F as it is, without a copy.)
        F, codes = F[scored], codes[scored]
    rows = np.arange(len(codes))
    n = counts[codes]
    own = (sums[codes] - F) / np.maximum(n - 1, 1)[:, None]
    if metric == "euclidean":
        # sq_dists shifts rows and means by a common row, so rows far from the origin do
        # not cancel (around 1e8 the accuracy fell from 0.97 to 0.52).
        D = sq_dists(F, C)
        D[rows, codes] = _norm2(F - own)
    else:
        f2, c2 = _norm2(F), _norm2(C)
        _check_finite(f2, np.float64)
        D = -(F @ C.T) / _safe(f2[:, None] * c2[None, :]) ** 0.5
        D[rows, codes] = -(F * own).sum(axis=1) / _safe(f2 * _norm2(own)) ** 0.5
    return D, n > 1


def _loo_accuracy(D, held, codes):
    """Leave-one-out accuracy from :func:`_loo_distances`' ``(D, held)``; a row alone in
    its class counts as an error."""
    return float(np.mean((D.argmin(axis=1) == codes) & held))


# Range of the inverse temperature of the leave-one-out log loss, in units of the rows'
# spread of distances: from nearly uniform probabilities to nearly hard ones.
_LOG_BETA_BOUNDS = (np.log(1e-3), np.log(1e3))


def _loo_log_losses(D, codes):
    """Per row, ``-log softmax(-beta D)`` at its own class, at the inverse temperature
    ``beta >= 0`` that minimizes their mean (the loss is convex in ``beta``; ``beta`` is
    searched on a log scale relative to the rows' spread of distances, and 0 gives
    ``log(n_classes)`` for every row)."""
    rows = np.arange(len(codes))
    # The softmax ignores a constant per row: with each row's least distance at 0, a row
    # far from every mean (large distances, close to one another) keeps its precision.
    D = D - D.min(axis=1, keepdims=True)
    spread = np.mean(np.abs(D - D.mean(axis=1, keepdims=True)))
    uniform = np.full(len(codes), np.log(D.shape[1]))
    if not spread > 0:
        return uniform

    def losses(log_beta):
        Z = -np.exp(log_beta) / spread * D
        return logsumexp(Z, axis=1) - Z[rows, codes]

    res = minimize_scalar(
        lambda t: losses(t).mean(), bounds=_LOG_BETA_BOUNDS, method="bounded",
        options={"xatol": 1e-6},
    )  # fmt: skip
    best = losses(res.x)
    return best if best.mean() < uniform.mean() else uniform


def _least_loss(loss, spaces):
    """The space of least mean loss; ties (to rounding) go to the first in ``spaces``."""
    least = min(loss[space] for space in spaces)
    return next(s for s in spaces if loss[s] <= least + 1e-9 * max(1.0, abs(least)))


def _clearly_lower(a, b):
    """Whether the losses ``a`` are lower than ``b`` (paired, per row) by more than two
    standard errors of the mean difference."""
    d = b - a
    if len(d) < 2:
        return False
    return bool(d.mean() > 2 * d.std(ddof=1) / np.sqrt(len(d)))


def _check_finite(a, dtype):
    """Raise if ``a`` (distances or similarities, numpy or torch) holds a non-finite value:
    the features are too large for their squares in ``dtype``."""
    if not all_finite(a):
        name = str(dtype).replace("torch.", "") if "torch" in str(dtype) else np.dtype(dtype).name
        raise ValueError(
            "The features are too large: their squared distances to the class means overflow "
            f"{name}. Rescale X (or the backbone's output)."
        )


def _is_float32(a):
    """Whether ``a`` (numpy array or torch tensor) holds float32 values."""
    return str(a.dtype).endswith("float32")


def _norm2(a):
    return (a * a).sum(axis=1)


def _safe(a):
    """``a`` with zeros replaced by 1: a zero vector has cosine 0 with everything."""
    return a + (a == 0)


def _as_backend(a, device):
    return a if device is None else get_backend(device=device).asarray(a)


def _cast(a, dtype):
    """``a`` in the dtype of the features (numpy), or as it is (torch, float64)."""
    return a.astype(dtype, copy=False) if isinstance(a, np.ndarray) else a
