"""Find and reuse models by the RKME specifications of their training data (learnware reuse)."""

import copy
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if

from ..utils._clone import SharedModelsMixin
from ..utils._docstrings import fill_doc
from ..utils._features import check_candidates, check_model_fitted
from ..utils._progress import progress
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ..utils._tasks import model_task
from ..utils._validation import all_finite
from ._batch import cross_to_many, query_self, self_terms
from ._labelled_reuse import (
    LABELLED_METHODS,
    fit_labelled,
    predict_labelled,
    predict_proba_labelled,
)
from ._rkme import RKMESpecification

__all__ = ["RKMEReuser"]


def _check_models(models):
    """Validate ``(name, fitted_model, spec)`` triples; return them and the task."""
    models = check_candidates(
        models,
        param="models",
        fields=("name", "fitted_model", "RKMESpecification"),
        check_kind=False,
    )
    tasks = set()
    for i, (name, model, spec) in enumerate(models):
        if not hasattr(model, "predict"):
            raise TypeError(
                f"models[{i}] ({name!r}): the model must have a predict method, got "
                f"{type(model).__name__}."
            )
        check_model_fitted(model, name)
        if not isinstance(spec, RKMESpecification):
            raise TypeError(
                f"models[{i}] ({name!r}): the specification must be an RKMESpecification, got "
                f"{type(spec).__name__}."
            )
        check_is_fitted(spec)
        tasks.add(model_task(model))
    if len(tasks) != 1:
        raise ValueError(
            "models mixes classifiers and regressors; all models must solve the same kind of task."
        )
    n_features = {spec.n_features_in_ for _, _, spec in models}
    if len(n_features) != 1:
        raise ValueError(
            f"The specifications in models describe different numbers of features: "
            f"{sorted(n_features)}."
        )
    return list(models), tasks.pop()


def _simplex_qp(G, c):
    """Minimize ``w^T G w - 2 c^T w`` over the probability simplex (small k, SLSQP)."""
    k = len(c)
    if k == 1:
        return np.ones(1)
    w0 = np.full(k, 1.0 / k)
    res = minimize(
        lambda w: (w @ G @ w - 2.0 * c @ w, 2.0 * (G @ w - c)),
        w0,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(k)}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    w = np.clip(res.x, 0.0, None)
    # Solver round-off leaves 1e-12-sized weights on unused specifications.
    w[w < 1e-9] = 0.0
    return w / w.sum()


class _LazyGram:
    """Columns of the specifications' Gram matrix ``G``, computed when first asked for.

    ``G[i, j] = beta_i^T K(Z_i, Z_j) beta_j``; a column is one blocked pass over all
    reduced sets (:func:`~skreuse.specification._batch.cross_to_many`), so the full
    ``M x M`` matrix (and never the ``(M K)^2`` kernel) is needed only if every spec is.
    """

    def __init__(self, specs, gamma, diag):
        self._points = [s.reduced_points_ for s in specs]
        self._weights = [s.weights_ for s in specs]
        self._gamma = gamma
        self.diag = diag
        self._columns = {}

    def column(self, j):
        if j not in self._columns:
            col = cross_to_many(
                self._points[j], self._weights[j], self._points, self._weights, self._gamma
            )
            col[j] = self.diag[j]
            self._columns[j] = col
        return self._columns[j]

    def block(self, idx):
        return np.column_stack([self.column(j) for j in idx])[idx]


def _simplex_qp_columns(gram, c, start, tol=1e-10):
    """Simplex QP over all specs by column generation (an active-set method).

    The QP is solved on a small working set; the gradient ``G w - c`` over every
    spec needs only the working set's columns. A spec whose gradient is below the
    working set's multiplier would lower the objective and joins the set; when none
    does, the KKT conditions of the full problem hold and the solution is exact.
    """
    k = len(c)
    working = [int(start)]
    while True:
        w_s = _simplex_qp(gram.block(working), c[working])
        grad = np.column_stack([gram.column(j) for j in working]) @ w_s - c
        multiplier = float(w_s @ grad[working])
        candidate = int(np.argmin(grad))
        if grad[candidate] >= multiplier - tol * max(1.0, abs(multiplier)) or (
            candidate in working
        ):
            break
        working.append(candidate)
    weights = np.zeros(k)
    weights[working] = w_s
    return weights


def _mixture_weights(gram, c, max_models):
    """Simplex weights, with at most ``max_models`` non-zero ones (greedy forward selection)."""
    k = len(c)
    dist = gram.diag - 2.0 * c
    if max_models is None or max_models >= k:
        return _simplex_qp_columns(gram, c, np.argmin(dist))
    selected = []
    for _ in range(max_models):
        best = None
        cols = np.column_stack([gram.column(j) for j in selected]) if selected else None
        for j in range(k):
            if j in selected:
                continue
            idx = selected + [j]
            G = np.empty((len(idx), len(idx)))
            if selected:
                G[:-1, :-1] = cols[selected]
                G[-1, :-1] = G[:-1, -1] = cols[j]
            G[-1, -1] = gram.diag[j]
            w = _simplex_qp(G, c[idx])
            obj = w @ G @ w - 2.0 * c[idx] @ w
            if best is None or obj < best[0]:
                best = (obj, idx, w)
        selected = best[1]
    weights = np.zeros(k)
    weights[best[1]] = best[2]
    return weights


def _predict_model(model, X, classes, proba):
    if not proba:
        return np.asarray(model.predict(X), dtype=np.float64).reshape(X.shape[0], -1)
    out = np.zeros((X.shape[0], len(classes)))
    model_classes = np.asarray(model.classes_)
    cols = np.searchsorted(classes, model_classes)
    if hasattr(model, "predict_proba"):
        out[:, cols] = model.predict_proba(X)
    else:
        pred = np.asarray(model.predict(X))
        out[np.arange(X.shape[0]), np.searchsorted(classes, pred)] = 1.0
    return out


@fill_doc
class RKMEReuser(MetaEstimatorMixin, SharedModelsMixin, BaseEstimator):
    r"""Reuse the models of a zoo whose RKME specifications match the user's data.

    Every model comes with an :class:`RKMESpecification` of its training data (the
    learnware paradigm). ``fit`` looks only at the user's unlabeled rows: it measures
    the squared MMD from the data to each specification, finds the closest one, and
    the simplex weights ``w`` of the mixture of specifications closest to the data,

    .. math::

        \min_{w \geq 0,\ \sum_i w_i = 1}
        \Big\| \hat\mu_{\text{user}} - \sum_i w_i \tilde\mu_i \Big\|^2
        = w^T G w - 2 c^T w + \text{const},

    a small quadratic program in the Gram matrix ``G`` of the specifications. The
    models are then reused by ``method``.

    Read more in the :ref:`User Guide <specification>`.

    Parameters
    ----------
    models : list of tuple
        ``(name, fitted_model, spec)`` triples: a fitted classifier or regressor (all
        of one kind) and the fitted :class:`RKMESpecification` of its training data.
        The models are never modified (they are deep-copied into ``models_``).

    method : str, default="job_selector"
        How the found models predict; one of:

        - ``"best"``: predict with the model whose specification is closest.
        - ``"average"``: mixture-weighted average of ``predict_proba`` (classifiers)
          or ``predict`` (regressors) over models with non-zero weight.
        - ``"job_selector"``: a classifier trained on rows sampled from the
          specifications (in proportion to the mixture weights) tells which model
          each row belongs to; each row is predicted by that model.
        - ``"feature_augment"`` (needs ``y``): a linear model (logistic regression, or
          ridge regression with built-in cross-validation) on the standardized user
          features augmented with every model's outputs (learnware's
          ``FeatureAugmentReuser``).
        - ``"ensemble_pruning"`` (needs ``y``): the subset of models whose averaged
          output fits the labelled rows best (greedy forward selection), averaged
          (learnware's ``EnsemblePruningReuser``).

    feature_map : callable, fitted transformer or None, default=None
        Maps the rows the models take to the space the specifications describe, when
        the specifications were built on derived features (e.g. the outputs of a
        pre-trained feature extractor, or a feature space shared by a heterogeneous
        zoo). ``None``: the specifications describe the raw features. The models
        always receive the raw rows; the job selector routes on mapped rows.

    gamma : float or None, default=None
        Width of the common Gaussian kernel used to compare the user's data and the
        specifications. ``None`` uses the mean of the specifications' ``gamma_``
        (their common value when the zoo uses one kernel, as a learnware market does).

    max_models : int or None, default=None
        At most this many non-zero mixture weights (greedy forward selection); ``None``
        for no limit.

    job_selector : classifier or None, default=None
        The router for ``method="job_selector"`` (cloned). ``None`` means
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.

    n_samples : int, default=2000
        Rows sampled from the specifications to train the job selector.

    sample_noise : float or "auto", default="auto"
        Jitter of the rows sampled for the job selector (``noise`` of
        :meth:`RKMESpecification.sample`). Without it the router only sees the few
        distinct reduced points, which tree ensembles do not generalize from.

    %(n_jobs)s
        Models predict in parallel.

    %(random_state)s
        Seeds the sampling from the specifications and the default job selector.

    %(verbose)s

    Attributes
    ----------
    models_ : list of tuple
        ``(name, model)`` deep copies of the zoo's models.

    task_ : {"classification", "regression"}
        The zoo's task.

    classes_ : ndarray of shape (n_classes,)
        Union of the classifiers' classes (classification only).

    gamma_ : float
        Kernel width used for the comparison.

    distances_ : dict
        Model name -> squared MMD between the user's data and its specification.

    best_ : str
        Name of the model with the closest specification.

    mixture_weights_ : dict
        Model name -> simplex weight of its specification in the closest mixture.

    job_selector_ : classifier or None
        The fitted router (``method="job_selector"`` with several weighted models),
        predicting indices into ``models_``.

    head_ : sklearn.pipeline.Pipeline
        The fitted linear model of ``method="feature_augment"``.

    selected_models_ : list of str
        The models kept by ``method="ensemble_pruning"``, in order of selection.

    ensemble_score_ : float
        Accuracy (or minus the mean squared error) of the pruned ensemble on the
        labelled rows (``method="ensemble_pruning"``).

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    RKMESpecification : The specification each model carries.

    Notes
    -----
    All kernel quantities are linear in the number of specifications: the user's rows
    meet the reduced sets of all specifications in one pass, a block at a time
    (``O(n * M * d)`` time for ``M`` reduced points in total, ``O(block)`` memory); the
    mixture weights are solved exactly by column generation, which needs the Gram
    column of a specification only when it can enter the mixture. The squared MMD in
    ``distances_`` also needs the data's own term ``(1/n^2) 1^T K_xx 1``, computed in
    blocks of rows (``O(n^2 d)`` time, ``O(n)`` memory); it is the same for every
    specification, so it never changes the ranking.

    The unlabelled methods learn nothing from labels: ``y`` is ignored, and predictions
    come from the zoo's pre-trained models. The labelled methods depart from learnware
    where it is simpler: ensemble pruning selects greedily (learnware runs a
    multi-objective evolutionary search over subsets), and feature augmentation uses
    the classifiers' probabilities (over the union of classes) as the added features.
    Classifiers with different class sets are combined over the union of their classes;
    a class unknown to a model gets probability 0 from it.

    References
    ----------
    .. [1] X.-Z. Wu, W. Xu, S. Liu and Z.-H. Zhou, "Model reuse with reduced kernel
       mean embedding specification", IEEE Transactions on Knowledge and Data
       Engineering, 35(1):699-710, 2023.
    .. [2] Z.-H. Zhou and Z.-H. Tan, "Learnware: small models do big", Science China
       Information Sciences, 67(1):112102, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreuse.specification import RKMEReuser, RKMESpecification
    >>> rng = np.random.RandomState(0)
    >>> zoo = []
    >>> for name, shift in [("left", -3.0), ("right", 3.0)]:
    ...     X = rng.normal(size=(200, 2)) + [shift, 0.0]
    ...     y = (X[:, 1] > 0).astype(int)
    ...     model = LogisticRegression().fit(X, y)
    ...     zoo.append((name, model, RKMESpecification(20, gamma=0.5, random_state=0).fit(X)))
    >>> X_user = rng.normal(size=(100, 2)) + [3.0, 0.0]
    >>> reuser = RKMEReuser(zoo, method="best").fit(X_user)
    >>> reuser.best_
    'right'
    >>> round(reuser.mixture_weights_["right"], 2)
    1.0
    >>> reuser.predict(X_user[:3])
    array([1, 0, 1])
    """

    _shared_params = ("models", "feature_map")

    _parameter_constraints: dict = {
        "models": [list, tuple],
        "method": [StrOptions({"job_selector", "best", "average", *LABELLED_METHODS})],
        "feature_map": [None, callable, HasMethods(["transform"])],
        "gamma": [None, Interval(Real, 0, None, closed="neither")],
        "max_models": [None, Interval(Integral, 1, None, closed="left")],
        "job_selector": [None, HasMethods(["fit", "predict"])],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "sample_noise": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        models,
        *,
        method="job_selector",
        feature_map=None,
        gamma=None,
        max_models=None,
        job_selector=None,
        n_samples=2000,
        sample_noise="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.models = models
        self.method = method
        self.feature_map = feature_map
        self.gamma = gamma
        self.max_models = max_models
        self.job_selector = job_selector
        self.n_samples = n_samples
        self.sample_noise = sample_noise
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Match the user's unlabeled data to the zoo's specifications.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The user's rows.

        y : array-like of shape (n_samples,) or None
            Labels of the rows, needed by ``method="feature_augment"`` and
            ``"ensemble_pruning"``; ignored by the other methods, which reuse the
            zoo's models as they are.

        Returns
        -------
        self : RKMEReuser
            The fitted reuser.
        """
        models, self.task_ = _check_models(self.models)
        X = validate_data(self, X, dtype=np.float64)
        specs = [spec for _, _, spec in models]
        F = self._spec_space(X)
        if specs[0].n_features_in_ != F.shape[1]:
            where = "X" if self.feature_map is None else "feature_map(X)"
            raise ValueError(
                f"{where} has {F.shape[1]} features, but the specifications in models "
                f"describe {specs[0].n_features_in_} features."
            )
        names = [name for name, _, _ in models]
        self.models_ = [(name, copy.deepcopy(model)) for name, model, _ in models]
        if self.task_ == "classification":
            self.classes_ = np.unique(
                np.concatenate([np.asarray(m.classes_) for _, m in self.models_])
            )

        self.gamma_ = (
            float(np.mean([s.gamma_ for s in specs])) if self.gamma is None else float(self.gamma)
        )
        # Linear in the number of specifications: one blocked pass over all reduced sets
        # for the cross terms, their own small kernels for the self terms, and Gram
        # columns only for the specifications the mixture's active set visits.
        points = [s.reduced_points_ for s in specs]
        spec_weights = [s.weights_ for s in specs]
        w_user = np.full(F.shape[0], 1.0 / F.shape[0])
        c = cross_to_many(F, w_user, points, spec_weights, self.gamma_)
        gram = _LazyGram(specs, self.gamma_, self_terms(points, spec_weights, self.gamma_))
        xx = query_self(F, w_user, self.gamma_)
        dist = np.clip(gram.diag - 2.0 * c + xx, 0.0, None)
        weights = _mixture_weights(gram, c, self.max_models)

        self.distances_ = dict(zip(names, dist.tolist()))
        self.best_ = names[int(np.argmin(dist))]
        self.mixture_weights_ = dict(zip(names, weights.tolist()))

        self.job_selector_ = None
        if self.method == "job_selector" and np.count_nonzero(weights) > 1:
            self._fit_job_selector(specs, weights)
        if self.method in LABELLED_METHODS:
            fit_labelled(self, X, y)
        return self

    def _fit_job_selector(self, specs, weights):
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(self.n_samples, weights)
        # Every weighted specification is seen by the router, however small its share.
        counts = np.where(weights > 0, np.maximum(counts, 1), 0)
        rows, labels = [], []
        for i in progress(np.flatnonzero(counts), verbose=self.verbose, desc="sampling specs"):
            rows.append(specs[i].sample(int(counts[i]), random_state=rng, noise=self.sample_noise))
            labels.append(np.full(counts[i], i))
        selector = (
            HistGradientBoostingClassifier(random_state=rng.randint(np.iinfo(np.int32).max))
            if self.job_selector is None
            else clone(self.job_selector)
        )
        self.job_selector_ = selector.fit(np.vstack(rows), np.concatenate(labels))

    def _spec_space(self, X):
        if self.feature_map is None:
            return X
        fm = self.feature_map
        F = fm.transform(X) if hasattr(fm, "transform") else fm(X)
        F = np.asarray(F.toarray() if hasattr(F, "toarray") else F, dtype=np.float64)
        if F.ndim != 2 or F.shape[0] != X.shape[0] or not all_finite(F):
            raise ValueError(
                "feature_map must return a finite 2-D array with one row per input row, got "
                f"shape {F.shape}."
            )
        return F

    def _route_indices(self, X):
        if self.method == "best" or self.job_selector_ is None:
            names = [name for name, _ in self.models_]
            if self.method == "best":
                return np.full(X.shape[0], names.index(self.best_))
            weights = np.array([self.mixture_weights_[n] for n in names])
            return np.full(X.shape[0], int(np.argmax(weights)))
        return np.asarray(self.job_selector_.predict(self._spec_space(X)), dtype=int)

    def _combine(self, X, proba):
        names = [name for name, _ in self.models_]
        classes = getattr(self, "classes_", None)
        if self.method == "average":
            weights = np.array([self.mixture_weights_[n] for n in names])
            used = np.flatnonzero(weights)
            outs = Parallel(n_jobs=self.n_jobs)(
                delayed(_predict_model)(self.models_[i][1], X, classes, proba) for i in used
            )
            return sum(weights[i] * out for i, out in zip(used, outs))
        route = self._route_indices(X)
        used = np.unique(route)
        outs = Parallel(n_jobs=self.n_jobs)(
            delayed(_predict_model)(self.models_[i][1], X[route == i], classes, proba) for i in used
        )
        result = None
        for i, out in zip(used, outs):
            if result is None:
                result = np.zeros((X.shape[0], out.shape[1]))
            result[route == i] = out
        if result is None:
            result = np.zeros((0, len(classes) if proba else 1))
        return result

    def route(self, X):
        """Name of the model that predicts each row.

        For ``method="best"`` it is always ``best_``; for ``method="average"`` (which
        uses every weighted model) it is the model with the largest mixture weight.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The user's rows.

        Returns
        -------
        names : ndarray of shape (n_samples,)
            Model names.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        names = np.array([name for name, _ in self.models_], dtype=object)
        return names[self._route_indices(X)]

    def predict(self, X):
        """Predict with the reused models.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The user's rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted classes (among ``classes_``) or values.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.method in LABELLED_METHODS:
            return predict_labelled(self, X)
        if self.task_ == "classification":
            if self.method == "average":
                return self.classes_[np.argmax(self._combine(X, proba=True), axis=1)]
            route = self._route_indices(X)
            used = np.unique(route)
            outs = Parallel(n_jobs=self.n_jobs)(
                delayed(self.models_[i][1].predict)(X[route == i]) for i in used
            )
            y_pred = np.empty(X.shape[0], dtype=self.classes_.dtype)
            for i, out in zip(used, outs):
                y_pred[route == i] = out
            return y_pred
        out = self._combine(X, proba=False)
        return out[:, 0] if out.shape[1] == 1 else out

    def _is_classification(self):
        try:
            return _check_models(self.models)[1] == "classification"
        except (TypeError, ValueError):
            return True

    @available_if(_is_classification)
    def predict_proba(self, X):
        """Class probabilities over the union of the models' classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The user's rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.method in LABELLED_METHODS:
            return predict_proba_labelled(self, X)
        return self._combine(X, proba=True)

    def score(self, X, y):
        """Accuracy (classification) or :math:`R^2` (regression) on labeled rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test rows.

        y : array-like of shape (n_samples,)
            True labels or values.

        Returns
        -------
        score : float
            Accuracy or coefficient of determination.
        """
        y_pred = self.predict(X)
        if self.task_ == "classification":
            return accuracy_score(y, y_pred)
        return r2_score(y, y_pred)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        return tags
