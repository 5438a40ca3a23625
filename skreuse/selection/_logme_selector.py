"""Rank pre-trained candidate models by a transferability score and reuse the best."""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    TransformerMixin,
    clone,
)
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if

from ..transferability import _logme_fit, get_score_names, get_scorer
from ..utils._backend import DeviceConstraint, get_backend
from ..utils._clone import SharedModelsMixin
from ..utils._docstrings import fill_doc
from ..utils._features import (
    check_candidates,
    check_model_fitted,
    extract_features,
    model_kind,
)
from ..utils._progress import progress
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ..utils._tasks import infer_task

__all__ = ["LogMESelector"]


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "dtypes")


def _dtype_of(X):
    """Columns of a DataFrame are the candidates' business (e.g. strings for an encoder)."""
    return None if _is_dataframe(X) else "numeric"


def _class_output_missing(model, needs):
    """Why ``model`` cannot give the class outputs a score needs (None when it can)."""
    kind = model_kind(model)
    if kind in ("torch", "skorch") or hasattr(model, "predict_proba"):
        return None
    if needs == "labels" and kind == "classifier":
        return None
    what = "class probabilities" if needs == "proba" else "class labels"
    return f"a {kind} without predict_proba gives no {what}"


def _score_candidate(name, model, X, y, *, scorer, task, batch_size, device, layer=None):
    """Transferability score of one candidate on (X, y)."""
    if scorer.input in ("proba", "labels"):
        if (
            scorer.input == "labels"
            and not hasattr(model, "predict_proba")
            and (model_kind(model) == "classifier")
        ):
            return scorer(model.predict(X), y)
        proba = extract_features(
            model, X, output="proba", batch_size=batch_size, device=device, name=name, layer=layer
        )
        return scorer(proba if scorer.input == "proba" else np.argmax(proba, axis=1), y)
    features = extract_features(
        model, X, batch_size=batch_size, device=device, name=name, layer=layer
    )
    if scorer.on_device:
        features = get_backend(device=device).asarray(features, dtype=None)
    score = scorer(features, y, task=task) if scorer.takes_task else scorer(features, y)
    if not isinstance(score, Real | np.number):
        raise TypeError(
            f"metric must return a real number; it returned {type(score).__name__} for "
            f"candidate {name!r}."
        )
    if not np.isfinite(score):
        # A NaN or infinite score cannot be ranked: sorting would place the candidate
        # arbitrarily (or first), so the selection would be silently wrong.
        raise ValueError(
            f"metric returned {float(score)} for candidate {name!r}; it must return a "
            "finite number (check the metric, or leave this candidate out)."
        )
    return float(score)


class _BayesianLinearHead(BaseEstimator):
    """LogME's Bayesian linear model used as a predictor (``LogMESelector(estimator=None)``).

    Each target column (one-hot class indicator or regression output) gets the posterior
    mean ``m`` of the evidence-maximizing Bayesian linear regression, without bias.
    Classification predicts the class of largest ``f @ m``; ``predict_proba`` is the softmax
    of these scores divided by a temperature fitted by maximum likelihood on the training
    data (temperature scaling), since the raw scores estimate indicator values, not logits.
    """

    def __init__(self, task="auto"):
        self.task = task

    def fit(self, X, y):
        """Fit the posterior means (and the temperature, for classification)."""
        score, result, task = _logme_fit(X, y, task=self.task)
        self.task_ = task
        self.logme_ = score
        self.coef_ = np.asarray(result["coef"])
        self.alpha_ = np.asarray(result["alpha"])
        self.beta_ = np.asarray(result["beta"])
        self.n_features_in_ = X.shape[1]
        if task == "classification":
            self.classes_, codes = np.unique(y, return_inverse=True)
            scores = X @ self.coef_.T

            def nll(log_t):
                logp = log_softmax(scores / np.exp(log_t), axis=1)
                return -np.mean(logp[np.arange(codes.shape[0]), codes])

            opt = minimize_scalar(nll, bounds=(np.log(1e-4), np.log(1e4)), method="bounded")
            self.temperature_ = float(np.exp(opt.x))
        else:
            self.n_outputs_ = self.coef_.shape[0]
            self._y_1d = np.ndim(y) == 1
        return self

    def _is_classification(self):
        return getattr(self, "task_", "classification") == "classification"

    def _scores(self, X):
        return np.asarray(X, dtype=np.float64) @ self.coef_.T

    @available_if(_is_classification)
    def decision_function(self, X):
        """Class scores ``X @ coef_.T`` (binary: score of class 1 minus class 0)."""
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    @available_if(_is_classification)
    def predict_proba(self, X):
        """Temperature-scaled softmax of the class scores."""
        return softmax(self._scores(X) / self.temperature_, axis=1)

    def predict(self, X):
        """Class of largest score, or the regression outputs."""
        scores = self._scores(X)
        if self._is_classification():
            return self.classes_[np.argmax(scores, axis=1)]
        return scores.ravel() if self._y_1d else scores

    def score(self, X, y, sample_weight=None):
        """Accuracy (classification) or R² (regression)."""
        if self._is_classification():
            return accuracy_score(y, self.predict(X), sample_weight=sample_weight)
        return r2_score(y, self.predict(X), sample_weight=sample_weight)


def _metric_names_doc():
    """The ``metric`` options of the docstring, one bullet per registered score."""
    what = {
        "features": "features",
        "proba": "class probabilities",
        "labels": "predicted class labels",
    }
    lines = []
    for name in get_score_names():
        scorer = get_scorer(name)
        tasks = " and ".join(sorted(scorer.tasks))
        lines.append(
            f'- ``"{name}"``: :func:`~skreuse.transferability.{scorer.func.__name__}` '
            f"({tasks}) on the candidate's {what[scorer.input]}"
        )
    return "\n        ".join(lines)


def _estimator_has(attr):
    """Whether the head (fitted, or as configured) has ``attr``."""

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        if self.estimator is None:
            return True
        return hasattr(self.estimator, attr)

    return check


@fill_doc(metric_names=_metric_names_doc())
class LogMESelector(TransformerMixin, MetaEstimatorMixin, SharedModelsMixin, BaseEstimator):
    """Rank pre-trained models by transferability on the target data and reuse the best.

    Every candidate computes features of ``X`` (one forward pass, no fine-tuning); each is
    scored by a transferability metric (LogME by default) against ``y``; the ``top_k``
    best are kept, and a head is fitted on their features. ``transform`` gives those
    features, and ``predict``, ``predict_proba``, ``decision_function`` and ``score``
    delegate to the head.

    Parameters
    ----------
    candidates : list of (str, model) tuples
        Named pre-trained models, like ``Pipeline.steps``. A model is a fitted
        transformer (its ``transform`` gives the features), a fitted classifier (its
        ``predict_proba`` gives the features, and the probabilities LEEP and NCE need), a
        ``torch.nn.Module`` (run in batches on ``device``, in eval mode, without
        gradients), a skorch net or a callable ``X -> features``. The models are never
        modified or refitted; :func:`~sklearn.base.clone` keeps them as they are.

    metric : str or callable, default="logme"
        Transferability score, higher is better: a name from
        :func:`~skreuse.transferability.get_score_names`,

        %(metric_names)s

        or a callable called as ``metric(features, y)`` that returns a float. A score
        computed from class probabilities or labels skips the candidates that give none
        (e.g. a PCA): they get a NaN score, rank last, and ``skipped_`` says why. A NaN or
        infinite score from a candidate that could be scored is a ``ValueError`` naming the
        candidate (it cannot be ranked).

    estimator : estimator or None, default=None
        Head fitted on the selected features. ``None`` uses LogME's own Bayesian linear
        model (see Notes).

    top_k : int, default=1
        Number of best-ranked candidates kept; with ``top_k > 1`` their features are
        concatenated in ranking order.

    %(n_jobs)s

    %(batch_size)s

    %(device)s
        With ``metric="logme"`` the score is also computed with torch on this device.

    %(verbose)s

    layer : str or dict of str to str, default=None
        Torch candidates (modules and skorch nets): the name of the submodule (as in
        ``model.named_modules()``) whose output gives the features, taken by a forward
        hook, e.g. the penultimate layer the LogME papers score. A dict
        ``{candidate name: layer}`` sets it per candidate (candidates not in it use
        their output). None: every candidate's output.

    Attributes
    ----------
    scores_ : dict of str to float
        Transferability score of every candidate (NaN for a skipped one).

    skipped_ : dict of str to str
        Candidates that ``metric`` could not score, with the reason (empty when all
        were scored).

    ranking_ : list of str
        Candidate names, best first (ties keep the order of ``candidates``).

    selected_ : list of str
        The ``top_k`` best candidate names, ``ranking_[:top_k]``.

    selected_models_ : list of (str, model) tuples
        Deep copies of the selected candidate models, used by :meth:`transform`.

    estimator_ : estimator
        The fitted head: a clone of ``estimator``, or LogME's Bayesian linear head.

    classes_ : ndarray of shape (n_classes,)
        Class labels (classification only).

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    skreuse.transferability.logme_score : The default ranking score.
    skreuse.plotting.TransferabilityDisplay : Bar chart of ``scores_``.

    Notes
    -----
    The task follows ``estimator`` when it is a classifier or a regressor; otherwise ``y``
    of floating dtype (or continuous) is regression, and integer,
    boolean or string labels are classification.

    With ``estimator=None`` the head is the posterior mean of LogME's Bayesian linear
    regression of every target column (class indicator or output) at the maximum of the
    evidence, without bias. Classification predicts the class of largest score; its
    ``predict_proba`` is a softmax of those scores divided by a temperature fitted by
    maximum likelihood on the training data (the raw scores estimate 0/1 indicators, so
    an unscaled softmax would be nearly uniform). Regression predicts the outputs.

    References
    ----------
    .. [1] K. You, Y. Liu, J. Wang, M. Long, "LogME: Practical Assessment of Pre-trained
       Models for Transfer Learning", ICML 2021.
    .. [2] K. You, Y. Liu, Z. Zhang, J. Wang, M. I. Jordan, M. Long, "Ranking and Tuning
       Pre-trained Models: A New Paradigm for Exploiting Model Hubs", JMLR 23, 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.random_projection import GaussianRandomProjection
    >>> from skreuse.selection import LogMESelector
    >>> X, y = load_digits(return_X_y=True)
    >>> source, target = X[:1000], X[1000:]
    >>> candidates = [
    ...     ("pca2", PCA(n_components=2).fit(source)),
    ...     ("pca30", PCA(n_components=30).fit(source)),
    ...     ("random5", GaussianRandomProjection(5, random_state=0).fit(source)),
    ... ]
    >>> selector = LogMESelector(candidates).fit(target, y[1000:])
    >>> selector.ranking_
    ['pca30', 'random5', 'pca2']
    >>> selector.transform(target).shape
    (797, 30)
    >>> round(selector.score(target, y[1000:]), 2)
    0.9...
    """

    _shared_params = ("candidates",)

    _parameter_constraints: dict = {
        "candidates": [list],
        "metric": [StrOptions(set(get_score_names())), callable],
        "estimator": [HasMethods(["fit"]), None],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [DeviceConstraint()],
        "verbose": ["verbose"],
        "layer": [str, dict, None],
    }

    def __init__(
        self,
        candidates,
        *,
        metric="logme",
        estimator=None,
        top_k=1,
        n_jobs=None,
        batch_size=256,
        device="cpu",
        verbose=0,
        layer=None,
    ):
        self.candidates = candidates
        self.metric = metric
        self.estimator = estimator
        self.top_k = top_k
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.device = device
        self.verbose = verbose
        self.layer = layer

    def _layer(self, name):
        """The layer of candidate ``name`` (``layer`` may be one name or a dict)."""
        return self.layer.get(name) if isinstance(self.layer, dict) else self.layer

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Score every candidate on ``(X, y)``, keep the best and fit the head.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Target inputs, in the form the candidate models take.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target class labels or regression targets.

        Returns
        -------
        self : LogMESelector
            The fitted selector.
        """
        X_checked, y = validate_data(
            self, X, y, allow_nd=True, multi_output=True, y_numeric=False, dtype=_dtype_of(X)
        )
        # The candidates get a DataFrame as it is: they may select columns by name.
        X = X if _is_dataframe(X) else X_checked
        candidates = check_candidates(self.candidates)
        if self.top_k > len(candidates):
            raise ValueError(
                f"top_k={self.top_k} is larger than the number of candidates ({len(candidates)})."
            )
        for name, model in candidates:
            check_model_fitted(model, name)
        if isinstance(self.layer, dict) and set(self.layer) - {n for n, _ in candidates}:
            raise ValueError(
                f"layer names candidates that do not exist: "
                f"{sorted(set(self.layer) - {n for n, _ in candidates})}."
            )
        task = infer_task(y, self.estimator)
        scorer = get_scorer(self.metric)
        if task not in scorer.tasks:
            raise ValueError(
                f"metric={scorer.name!r} scores {' and '.join(sorted(scorer.tasks))} tasks "
                f"only, but the task is {task}; use one of "
                f"{[n for n in get_score_names() if task in get_scorer(n).tasks]} or a callable."
            )
        self.skipped_ = {}
        if scorer.input != "features":
            for name, model in candidates:
                reason = _class_output_missing(model, scorer.input)
                if reason is not None:
                    self.skipped_[name] = f"metric={scorer.name!r} needs {scorer.input}: {reason}"
            if self.skipped_:
                warnings.warn(
                    f"{len(self.skipped_)} of {len(candidates)} candidates cannot be scored "
                    f"by metric={scorer.name!r} and rank last (see skipped_): "
                    + "; ".join(f"{n}: {r}" for n, r in self.skipped_.items()),
                    UserWarning,
                    stacklevel=2,
                )
            if len(self.skipped_) == len(candidates):
                raise ValueError(
                    f"No candidate can be scored by metric={scorer.name!r}, which needs "
                    f"{scorer.input}; use a features-based metric such as 'logme'."
                )
        to_score = [(n, m) for n, m in candidates if n not in self.skipped_]

        jobs = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(_score_candidate)(
                name,
                model,
                X,
                y,
                scorer=scorer,
                task=task,
                batch_size=self.batch_size,
                device=self.device,
                layer=self._layer(name),
            )
            for name, model in to_score
        )
        scores = list(
            progress(jobs, verbose=self.verbose, desc="Scoring candidates", total=len(to_score))
        )
        scored = dict(zip([name for name, _ in to_score], scores))
        names = [name for name, _ in candidates]
        self.scores_ = {name: scored.get(name, np.nan) for name in names}
        # NaN ranks last; sorted() is stable, so ties keep the candidates' order.
        self.ranking_ = sorted(
            names, key=lambda n: -self.scores_[n] if np.isfinite(self.scores_[n]) else np.inf
        )
        self.selected_ = self.ranking_[: self.top_k]
        models = dict(candidates)
        self.selected_models_ = [(name, copy.deepcopy(models[name])) for name in self.selected_]

        blocks = self._feature_blocks(X)
        self._block_widths = [block.shape[1] for block in blocks]
        features = np.hstack(blocks) if len(blocks) > 1 else blocks[0]
        head = _BayesianLinearHead(task=task) if self.estimator is None else clone(self.estimator)
        self.estimator_ = head.fit(features, y)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def _feature_blocks(self, X):
        return [
            extract_features(
                model,
                X,
                batch_size=self.batch_size,
                device=self.device,
                name=name,
                layer=self._layer(name),
            )
            for name, model in self.selected_models_
        ]

    def _features(self, X):
        blocks = self._feature_blocks(X)
        return np.hstack(blocks) if len(blocks) > 1 else blocks[0]

    def get_feature_names_out(self, input_features=None):
        """Names of the features given by :meth:`transform`.

        Each selected candidate's features are prefixed by its name, as in
        :class:`~sklearn.pipeline.FeatureUnion`: ``"pca30__pca0"`` when the candidate has
        its own ``get_feature_names_out``, ``"pca30__x0"`` otherwise.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_``; the output names come from the
            candidates.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per output feature, best-ranked candidate first.
        """
        check_is_fitted(self, "_block_widths")
        _check_feature_names_in(self, input_features)
        names = []
        for (name, model), width in zip(self.selected_models_, self._block_widths):
            own = None
            if hasattr(model, "get_feature_names_out"):
                try:
                    own = list(model.get_feature_names_out())
                except (AttributeError, ValueError, TypeError, NotFittedError):
                    own = None  # e.g. a Pipeline whose last step has no names
            if own is None or len(own) != width:
                own = [f"x{j}" for j in range(width)]
            names.extend(f"{name}__{feature}" for feature in own)
        return np.asarray(names, dtype=object)

    def transform(self, X):
        """Features of ``X`` from the selected candidates (concatenated when ``top_k > 1``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            The selected candidates' features, best-ranked first.
        """
        check_is_fitted(self)
        X_checked = validate_data(self, X, reset=False, allow_nd=True, dtype=_dtype_of(X))
        return self._features(X if _is_dataframe(X) else X_checked)

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the head on the selected features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted labels or values.
        """
        check_is_fitted(self)
        return self.estimator_.predict(self.transform(X))

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the head on the selected features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(self.transform(X))

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the head on the selected features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Class scores.
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(self.transform(X))

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the head on the selected features (accuracy or R² by default).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels or values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            The head's ``score`` on the selected features.
        """
        check_is_fitted(self)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self.estimator_.score(self.transform(X), y, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        if self.estimator is not None:
            head_tags = get_tags(self.estimator)
            tags.estimator_type = head_tags.estimator_type
            tags.classifier_tags = head_tags.classifier_tags
            tags.regressor_tags = head_tags.regressor_tags
        return tags
