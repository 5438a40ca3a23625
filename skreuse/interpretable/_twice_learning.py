"""Twice learning: a readable decision tree learned from a strong teacher (NeC4.5)."""

import copy
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import BaggingClassifier, BaggingRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text
from sklearn.utils import check_array, check_random_state

from ..utils import check_model_fitted
from ..utils._clone import SharedModelsMixin
from ..utils._docstrings import fill_doc
from ..utils._math import _exponent, power_of_two_of
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ..utils._validation import check_classification_targets

__all__ = ["TwiceLearningTree", "TwiceLearningTreeClassifier", "TwiceLearningTreeRegressor"]

_SMOTE_NEIGHBORS = 5
# Generated rows of the largest amount the validation tries (see ``_candidates``).
_MANY_EXTRA = 2000
_MAX_SEED = np.iinfo(np.int32).max


def _sample_like(X, n_samples, sampling, rng):
    """Draw ``n_samples`` rows that look like the training rows ``X``.

    ``"uniform"`` (NeC4.5): every feature independently and uniformly within its
    observed range. ``"gaussian"``: a normal law with the mean and covariance of ``X``.
    ``"kde"``: a training row plus Gaussian noise of per-feature bandwidth (Scott's
    rule). ``"smote"``: a point on the segment between a training row and one of its
    nearest neighbours.
    """
    n, d = X.shape
    if n_samples == 0:
        return np.empty((0, d), dtype=X.dtype)
    if sampling == "uniform":
        return rng.uniform(X.min(axis=0), X.max(axis=0), size=(n_samples, d))
    if sampling == "gaussian":
        cov = np.atleast_2d(np.cov(X, rowvar=False)) if n > 1 else np.zeros((d, d))
        # A symmetric square root accepts the singular covariances of constant or
        # collinear features (a Cholesky factor would not exist).
        eigval, eigvec = np.linalg.eigh(cov)
        root = eigvec * np.sqrt(np.clip(eigval, 0, None))
        return X.mean(axis=0) + rng.normal(size=(n_samples, d)) @ root.T
    anchors = rng.randint(n, size=n_samples)
    if sampling == "kde":
        bandwidth = X.std(axis=0) * n ** (-1.0 / (d + 4))
        return X[anchors] + rng.normal(size=(n_samples, d)) * bandwidth
    k = min(_SMOTE_NEIGHBORS, n - 1)
    if k == 0:
        return X[anchors].copy()
    # Column 0 is (usually) the row itself; the teacher relabels every point, so
    # neighbours of any class are used, unlike the class-wise original SMOTE.
    neighbors = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)
    partners = neighbors[anchors, 1 + rng.randint(k, size=n_samples)]
    step = rng.uniform(size=(n_samples, 1))
    return X[anchors] + step * (X[partners] - X[anchors])


class _BaseTwiceLearningTree(SharedModelsMixin, BaseEstimator):
    """Shared fit logic of the twice-learning trees."""

    _shared_params = ("teacher",)

    _parameter_constraints: dict = {
        "teacher": [HasMethods(["fit", "predict"]), None],
        "prefit": ["boolean"],
        "extra_ratio": [Interval(Real, 0, None, closed="left")],
        "sampling": [StrOptions({"uniform", "gaussian", "kde", "smote"})],
        "unlabeled": ["array-like", None],
        "keep_original_labels": ["boolean"],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "min_samples_leaf": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0.0, 1.0, closed="neither"),
        ],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left"), None],
        "ccp_alpha": [Interval(Real, 0.0, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    @abstractmethod
    def __init__(
        self,
        teacher=None,
        *,
        prefit=False,
        extra_ratio=1.0,
        sampling="smote",
        unlabeled=None,
        keep_original_labels=False,
        criterion,
        max_depth=None,
        min_samples_leaf=1,
        max_leaf_nodes=None,
        ccp_alpha=0.0,
        cv=5,
        random_state=None,
        n_jobs=None,
    ):
        self.teacher = teacher
        self.prefit = prefit
        self.extra_ratio = extra_ratio
        self.sampling = sampling
        self.unlabeled = unlabeled
        self.keep_original_labels = keep_original_labels
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_leaf_nodes = max_leaf_nodes
        self.ccp_alpha = ccp_alpha
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    @abstractmethod
    def _default_teacher(self, seed):
        """The paper's teacher: bagged neural networks."""

    @abstractmethod
    def _make_tree(self, seed):
        """An unfitted scikit-learn tree with this estimator's size limits."""

    @abstractmethod
    def _agreement(self, teacher_pred, tree_pred):
        """Fidelity of ``tree_pred`` to ``teacher_pred``."""

    @abstractmethod
    def _guess_score(self, y):
        """Score of a guess that ignores the features, on targets ``y``."""

    @abstractmethod
    def _row_scores(self, y_pred, y, trained_on, y_all):
        """Score of the predictions ``y_pred`` of each held-out row of true target ``y``.

        ``trained_on``: the targets the predicting model learned from (``None`` for a
        prefit teacher); ``y_all``: the targets of all rows.
        """

    def _teacher_predict(self, X, teacher=None):
        teacher = self.teacher_ if teacher is None else teacher
        # A prefit teacher fitted on a DataFrame expects its column names back.
        names = getattr(teacher, "feature_names_in_", None)
        if names is not None and len(names) == X.shape[1]:
            import pandas as pd

            X = pd.DataFrame(X, columns=names)
        y = np.asarray(teacher.predict(X))
        # Some regressors return a single column; the tree wants 1-D targets.
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            # A tree grown on these would predict several outputs for a single y.
            outputs = ", ".join(str(k) for k in y.shape[1:])
            raise ValueError(
                f"The teacher ({type(teacher).__name__}) predicts arrays of shape "
                f"(n_samples, {outputs}); the tree learns one target: pass a teacher with "
                "one output."
            )
        return y

    def _teacher_targets(self, X, teacher=None):
        """The teacher's predictions as the trees learn them (see the regressor's)."""
        return self._teacher_predict(X, teacher)

    def _fit_teacher(self, X, y, seed):
        self.teacher_ = self._new_teacher(X, y, seed)

    def _new_teacher(self, X, y, seed):
        """The teacher fitted on ``(X, y)`` (a copy of the prefit one)."""
        n_features = X.shape[1]
        if self.prefit:
            if self.teacher is None:
                raise ValueError(
                    "prefit=True needs a fitted teacher; got teacher=None. Pass the fitted "
                    "model as teacher, or set prefit=False to train the default teacher."
                )
            check_model_fitted(self.teacher, "teacher")
            expected = getattr(self.teacher, "n_features_in_", n_features)
            if expected != n_features:
                raise ValueError(
                    f"X has {n_features} features, but the prefit teacher "
                    f"({type(self.teacher).__name__}) expects {expected} features."
                )
            # A copy, so that later changes to the user's model cannot change this one.
            return copy.deepcopy(self.teacher)
        if self.teacher is None:
            teacher = self._default_teacher(seed)
        else:
            teacher = clone(self.teacher)
            if teacher.get_params(deep=False).get("random_state", 0) is None:
                teacher.set_params(random_state=seed)
        return teacher.fit(X, y)

    def _candidates(self, n_samples):
        """``(keep_original_labels, extra_ratio, sampling)`` triples, most preferred first.

        The order is the tie-break of the validation (see ``_select``): first the
        trees that learn the teacher's labels only, more generated rows before fewer
        and ``"kde"`` before the configured kind; then the plain tree; then the trees
        that mix the rows' own labels with teacher-labelled generated rows.
        """
        # With a handful of rows, even 4 x n generated rows are too few for the tree
        # to follow the teacher: the largest amount is at least _MANY_EXTRA rows.
        many = max(4.0 * self.extra_ratio, _MANY_EXTRA / n_samples)
        amounts = sorted({float(self.extra_ratio), 4.0 * self.extra_ratio, many} - {0.0})
        # "kde" spreads the rows beyond the convex hull of a few training rows, which
        # an interpolating scheme (the default "smote") cannot.
        kinds = list(dict.fromkeys(["kde", self.sampling]))
        teacher_only, mixed = (
            [(keep, a, k) for a in reversed(amounts) for k in kinds] for keep in (False, True)
        )
        return teacher_only + [(False, 0.0, self.sampling), (True, 0.0, self.sampling)] + mixed

    def _grow(self, X, y, U, teacher, keep_original_labels, extra_ratio, sampling, rng, tree_seed):
        """A tree with this estimator's size limits, learned from ``(X, y)`` and
        ``extra_ratio * n`` generated rows labelled by ``teacher``.

        Unless the tree is the plain one (own labels, no generated rows), the
        unlabeled rows ``U`` join the generated ones, and those are drawn around the
        rows of ``X`` and ``U``.
        """
        n_extra = int(round(extra_ratio * X.shape[0]))
        plain = keep_original_labels and n_extra == 0
        X_extra = _sample_like(np.vstack([X, U]), n_extra, sampling, rng)
        if not plain:
            X_extra = np.vstack([U, X_extra])
            n_extra = X_extra.shape[0]
        if keep_original_labels:
            y_rows = y
            y_extra = self._teacher_targets(X_extra, teacher) if n_extra else y[:0]
        else:
            y_all = self._teacher_targets(np.vstack([X, X_extra]), teacher)
            y_rows, y_extra = y_all[: X.shape[0]], y_all[X.shape[0] :]
        X_tree = np.vstack([X, X_extra])
        y_tree = np.concatenate([y_rows, y_extra])
        return self._make_tree(tree_seed).fit(X_tree, y_tree), y_tree

    def _validate(self, X, y, U, candidates, teacher_seed, tree_seed, rng):
        """Out-of-fold scores on every row: of every candidate, shape
        ``(n_candidates, n_samples)``, and of the teacher (``None`` for a single row)."""
        splits = self._splits(X, y, rng)
        if splits is None:
            return None
        scores = np.zeros((len(candidates), X.shape[0]))
        teacher_scores = np.zeros(X.shape[0])
        for train, test in splits:
            # An unfitted teacher is refitted without the held-out rows: a teacher that
            # saw them would make its own labels look better than they are.
            teacher = (
                self.teacher_
                if self.prefit
                else self._new_teacher(X[train], y[train], teacher_seed)
            )
            seed = rng.randint(_MAX_SEED)
            for i, (keep, ratio, sampling) in enumerate(candidates):
                # The same random draws for every candidate of a fold.
                tree, _ = self._grow(
                    X[train],
                    y[train],
                    U,
                    teacher,
                    keep,
                    ratio,
                    sampling,
                    np.random.RandomState(seed),
                    tree_seed,
                )
                scores[i, test] = self._row_scores(
                    tree.predict(X[test]), y[test], getattr(tree, "classes_", None), y
                )
            trained_on = None if self.prefit else y[train]
            teacher_scores[test] = self._row_scores(
                self._teacher_targets(X[test], teacher), y[test], trained_on, y
            )
        return scores, teacher_scores

    @staticmethod
    def _select(scores, plain):
        """Index of the first candidate within one standard error of the best and
        scoring at least the plain tree (index ``plain``).

        ``scores`` holds each candidate's out-of-fold score on each row. The standard
        error is that of the mean paired difference with the best candidate. With a
        few rows, the best mean is mostly luck (the more candidates, the luckier):
        a preferred candidate is kept unless validation says, beyond its own noise,
        that it is worse (Breiman's one-standard-error rule), and never when it
        scores below the plain tree, which is returned when no candidate qualifies.
        """
        mean = scores.mean(axis=1)
        diff = scores[np.argmax(mean)] - scores
        std_error = diff.std(axis=1, ddof=1) / np.sqrt(scores.shape[1])
        # One row of n worse is exactly one standard error (1/n): the tolerance keeps
        # that case within noise whatever the rounding.
        within = diff.mean(axis=1) <= std_error + 1e-12
        return int(np.flatnonzero(within & (mean >= mean[plain]))[0])

    def _fit(self, X, y):
        rng = check_random_state(self.random_state)
        teacher_seed, tree_seed = rng.randint(_MAX_SEED, size=2)
        # An int random_state reaches the tree unchanged: with extra_ratio=0 and
        # keep_original_labels=True the tree is then exactly a plain tree on (X, y).
        if isinstance(self.random_state, Integral):
            tree_seed = self.random_state
        self._fit_teacher(X, y, teacher_seed)
        U = self._check_unlabeled(X)

        scores = None
        if self.cv is not None:
            candidates = self._candidates(X.shape[0])
            # Its own generator, so that the draws below do not depend on ``cv``.
            val_rng = np.random.RandomState((int(teacher_seed) + 1) % _MAX_SEED)
            scores = self._validate(X, y, U, candidates, teacher_seed, tree_seed, val_rng)
        # Without validation (cv=None, or a single row) the configured tree is grown.
        if scores is None:
            self.cv_results_ = self.teacher_cv_score_ = None
            keep, ratio, sampling = self.keep_original_labels, self.extra_ratio, self.sampling
        else:
            scores, teacher_scores = scores
            plain = candidates.index((True, 0.0, self.sampling))
            self.teacher_cv_score_ = float(teacher_scores.mean())
            # The teacher's labels are learned only when the teacher itself validates
            # at least as well as the plain tree, and better than a guess: with a few
            # rows, a tree of a useless teacher is too often within noise of the plain
            # one (with one row per class, the plain tree's score is itself a guess).
            teacher = self.teacher_cv_score_
            if teacher >= scores[plain].mean() and teacher > self._guess_score(y):
                best = self._select(scores, plain)
            else:
                best = plain
            self.cv_results_ = {
                "keep_original_labels": np.array([c[0] for c in candidates]),
                "extra_ratio": np.array([c[1] for c in candidates]),
                "sampling": np.array([c[2] for c in candidates]),
                "score": scores.mean(axis=1),
                "chosen": np.arange(len(candidates)) == best,
            }
            keep, ratio, sampling = candidates[best]
        self.keep_original_labels_, self.extra_ratio_ = bool(keep), float(ratio)
        self.sampling_ = sampling

        n_samples = X.shape[0]
        n_extra = int(round(ratio * n_samples))
        n_held_out = max(n_samples, n_extra)
        X_new = _sample_like(np.vstack([X, U]), n_extra + n_held_out, sampling, rng)
        if not (keep and n_extra == 0):
            # The unlabeled rows, labelled by the teacher, join the generated ones
            # (not the plain tree, which learns the rows' own labels only).
            X_new = np.vstack([U, X_new])
            n_extra += U.shape[0]
        y_all = self._teacher_targets(np.vstack([X, X_new]))
        y_teacher, y_extra, y_held_out = np.split(y_all, [n_samples, n_samples + n_extra])
        X_extra, X_held_out = X_new[:n_extra], X_new[n_extra:]

        y_train = y if keep else y_teacher
        self._set_target_info(y, y_all)
        X_tree = np.vstack([X, X_extra])
        y_tree = np.concatenate([y_train, y_extra])
        self.tree_ = self._make_tree(tree_seed).fit(X_tree, y_tree)
        self.n_extra_samples_ = n_extra
        self.fidelity_ = float(self._agreement(y_held_out, self.tree_.predict(X_held_out)))
        return self

    def _check_unlabeled(self, X):
        """``unlabeled`` as a float array with the columns of ``X`` (no rows if None)."""
        if self.unlabeled is None:
            return np.empty((0, X.shape[1]))
        names = getattr(self, "feature_names_in_", None)
        columns = getattr(self.unlabeled, "columns", None)
        if names is not None and columns is not None:
            missing = [c for c in names if c not in set(columns)]
            if missing:
                raise ValueError(f"unlabeled lacks the columns {missing} seen in fit.")
            U = self.unlabeled[list(names)]
        else:
            U = self.unlabeled
        U = check_array(U, dtype=np.float64, ensure_min_samples=0, input_name="unlabeled")
        if U.shape[1] != X.shape[1]:
            raise ValueError(
                f"unlabeled has {U.shape[1]} features, but X has {X.shape[1]} features."
            )
        return U

    def _set_target_info(self, y, y_teacher):
        """Hook for the classifier to record ``classes_``."""

    def _splits(self, X, y, rng):
        """Folds of the inner validation, or ``None`` for a single row."""
        if X.shape[0] < 2:
            return None
        folds = KFold(min(self.cv, X.shape[0]), shuffle=True, random_state=rng.randint(_MAX_SEED))
        return list(folds.split(X))

    def _validate_X_predict(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False)

    def predict(self, X):
        """Predict with the twice-learned tree.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The tree's predictions.
        """
        X = self._validate_X_predict(X)
        return self.tree_.predict(X)

    def fidelity_score(self, X):
        """Agreement of the tree with the teacher on ``X``.

        The same measure as ``fidelity_``: the fraction of equal predictions for a
        classifier, the R² of the tree's predictions against the teacher's for a
        regressor. No labels are needed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        fidelity : float
            Tree–teacher agreement on ``X``.
        """
        X = self._validate_X_predict(X)
        return float(self._agreement(self._teacher_predict(X), self.tree_.predict(X)))

    def export_text(
        self, *, feature_names=None, max_depth=10, spacing=3, decimals=2, show_weights=False
    ):
        """The tree's rules as text, with the feature names seen in ``fit``.

        A thin wrapper of :func:`sklearn.tree.export_text`.

        Parameters
        ----------
        feature_names : list of str, default=None
            Names of the features. ``None`` uses ``feature_names_in_`` when ``fit``
            saw a DataFrame (also a DataFrame made by a ``Pipeline`` with
            ``set_output(transform="pandas")``), else ``feature_0``, ``feature_1``, ...
            In a pipeline without pandas output, pass
            ``pipe[:-1].get_feature_names_out()``.
        max_depth : int, default=10
            Only the first ``max_depth`` levels are shown.
        spacing : int, default=3
            Spaces between edges.
        decimals : int, default=2
            Decimal digits shown.
        show_weights : bool, default=False
            Whether to show the number of samples of each class (classifier) at
            each leaf.

        Returns
        -------
        report : str
            The rules of the tree.
        """
        check_is_fitted(self)
        if feature_names is None and hasattr(self, "feature_names_in_"):
            feature_names = list(self.feature_names_in_)
        elif feature_names is not None:
            feature_names = list(feature_names)
            if len(feature_names) != self.n_features_in_:
                raise ValueError(
                    f"feature_names has {len(feature_names)} names, but the tree has "
                    f"{self.n_features_in_} features."
                )
        return export_text(
            self.tree_,
            feature_names=feature_names,
            max_depth=max_depth,
            spacing=spacing,
            decimals=decimals,
            show_weights=show_weights,
        )


_SHARED_PARAMS = """teacher : estimator, default=None
        The strong model. ``None`` trains the paper's teacher, a bagging ensemble of
        ten small neural networks on standardized inputs (see ``prefit``). A given
        unfitted teacher is cloned and fitted on ``(X, y)``; when it has a
        ``random_state`` parameter left at ``None``, it gets a seed drawn from
        ``random_state``.

    prefit : bool, default=False
        Whether ``teacher`` is already fitted (the reuse case: a pre-trained model one
        cannot read). It is then never refitted nor modified: ``teacher_`` is a deep
        copy of it, and :func:`~sklearn.base.clone` (as used by cross-validation)
        shares it instead of cloning it. A teacher fitted on a DataFrame receives
        DataFrames with its column names. It must predict one output per row (a
        single column is flattened); several outputs raise a ``ValueError``.

    extra_ratio : float, default=1.0
        Number of generated examples as a multiple of the number of training
        samples (μ in the paper). ``0`` trains the tree on the training rows only.
        With ``cv`` set, it sets the amounts the validation compares (see ``cv``).

    sampling : {"uniform", "gaussian", "kde", "smote"}, default="smote"
        How the extra examples are generated from the training rows:

        - ``"uniform"`` (the paper's choice): each feature independently and
          uniformly within its observed range ``[min, max]``;
        - ``"gaussian"``: a multivariate normal law with the training mean and
          covariance;
        - ``"kde"``: a Gaussian kernel density estimate, i.e. a random training row
          plus Gaussian noise with the per-feature bandwidth of Scott's rule,
          ``std_j * n ** (-1 / (d + 4))``;
        - ``"smote"``: SMOTE-like interpolation, a uniform random point on the segment
          between a random training row and one of its 5 nearest neighbours (of any
          class, as the teacher relabels it).

        The default is ``"smote"``, not the paper's ``"uniform"``: rows near the data
        are where the teacher is reliable and where the tree is used, so the tree
        spends its leaves there. See the Notes. With ``cv`` set, the validation
        compares it with ``"kde"``.

    unlabeled : array-like of shape (n_unlabeled, n_features), default=None
        Rows without labels, in the columns of ``X`` (a DataFrame is matched by
        column name), e.g. rows the teacher was trained on, or more rows of the
        task. The teacher labels them, and every tree except the plain one learns
        from them besides the generated rows, which are then drawn around them as
        well as around ``X``: with a few labelled rows, generated rows stay near
        those few, while a readable tree must follow the teacher where the data
        are. The validation scores only labelled rows. Not transformed by
        earlier steps of a :class:`~sklearn.pipeline.Pipeline`.

    keep_original_labels : bool, default=False
        Whether the training rows keep their own labels. The paper replaces them by
        the teacher's predictions (``False``), which removes label noise. With
        ``cv`` set, the validation compares both (this value is then unused).
"""

_TREE_PARAMS = """max_depth : int, default=None
        Maximum depth of the tree, as in
        :class:`~sklearn.tree.DecisionTreeClassifier`.

    min_samples_leaf : int or float, default=1
        Minimum number (or fraction) of training samples in a leaf.

    max_leaf_nodes : int, default=None
        Maximum number of leaves (best-first growth).

    ccp_alpha : float, default=0.0
        Cost-complexity pruning parameter.

    cv : int or None, default=5
        Folds of the inner validation that chooses what the tree learns from, at the
        size limits above. The candidates: the teacher's labels on the rows plus
        ``extra_ratio``, ``4 * extra_ratio`` or many (at least 2000 in all) times
        ``n_samples`` generated rows, of kind ``"kde"`` or ``sampling``; the teacher's
        labels on the rows alone; the plain tree (the rows' own labels only); the
        rows' own labels plus the same amounts and kinds of teacher-labelled
        generated rows. Every candidate and the teacher are scored out of fold on
        the true labels of the held-out rows (accuracy, or squared error for a
        regressor; with one row per class, a held-out row of a class its fold lacks
        counts as a guess among the classes, ``1 / n_classes``). If the teacher
        itself scores below the plain tree, or no better than a guess (``1 /
        n_classes``, or the variance of ``y`` for a regressor), the plain tree is
        grown. Otherwise the chosen candidate is the first, in the order above,
        whose mean score is within one standard error (of the paired per-row
        difference) of the best mean and at least the plain tree's: with a few rows
        the best mean is mostly luck, so a candidate is passed over only when
        validation says, beyond its own noise, that it is worse, or that it is
        worse than the plain tree. The tree is then grown on all rows. A teacher
        trained here (``prefit=False``) is refitted on every training fold
        (``cv + 1`` teacher fits in all); a prefit teacher is used as it is (one
        trained on these same rows looks better in validation than it is). Folds
        are stratified when every class has two rows (at most as many folds as the
        smallest class has rows), plain k-fold (leave-one-out below ``cv`` rows)
        otherwise. ``None``, or a single row, grows the tree configured by
        ``extra_ratio``, ``sampling`` and ``keep_original_labels`` without
        validation.

    random_state : int, RandomState instance or None, default=None
        Seeds the default teacher, the generated examples and the tree. An int is
        handed to the tree unchanged, so with ``extra_ratio=0`` and
        ``keep_original_labels=True`` the tree equals a plain scikit-learn tree
        fitted on ``(X, y)`` with the same ``random_state``. Pass an int for
        reproducible output.

    n_jobs : int, default=None
        Number of jobs of the default bagging teacher (joblib; ``None`` means 1
        unless in a :func:`joblib.parallel_backend` context). A user's teacher keeps
        its own setting.
"""

_FITTED_ATTRS = """teacher_ : estimator
        The fitted teacher: a fitted clone of ``teacher`` (or of the default
        ensemble), or a deep copy of the prefit teacher.

    n_extra_samples_ : int
        Number of teacher-labelled examples the tree learned from besides the
        training rows: ``round(extra_ratio_ * n_samples)`` generated ones, plus the
        ``unlabeled`` rows unless the plain tree was grown.

    keep_original_labels_ : bool
        Whether the tree learned the training rows' own labels (chosen by the
        validation, else ``keep_original_labels``).

    extra_ratio_ : float
        Generated rows per training row the tree learned from (chosen by the
        validation, else ``extra_ratio``).

    sampling_ : str
        How those rows were generated (chosen by the validation, else ``sampling``).

    teacher_cv_score_ : float or None
        The teacher's mean out-of-fold score on the true labels (accuracy, or minus
        the mean squared error), to which the plain tree's is compared. ``None``
        without validation.

    cv_results_ : dict or None
        The validation: arrays ``"keep_original_labels"``, ``"extra_ratio"``,
        ``"sampling"``, ``"score"`` (mean out-of-fold accuracy, or minus the mean
        squared error) and ``"chosen"`` (``True`` for the grown candidate), one
        entry per candidate, in the order of preference described under ``cv``.
        ``None`` without validation.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when ``X``
        has feature names that are all strings."""


_fill = fill_doc(
    shared_params=_SHARED_PARAMS.rstrip(),
    tree_params=_TREE_PARAMS.rstrip(),
    fitted_attrs=_FITTED_ATTRS,
)


@_fill
class TwiceLearningTreeClassifier(ClassifierMixin, _BaseTwiceLearningTree):
    """Decision tree learned twice: from a strong teacher's labels (NeC4.5).

    A strong teacher (by default a bagging ensemble of neural networks) is fitted
    first. It then relabels the training rows and ``extra_ratio * n_samples``
    generated rows, and a scikit-learn decision tree is learned from that union.
    The tree is as readable as a plain tree, but learns the teacher's smoother
    decision function from more (and less noisy) examples, so it usually
    generalizes better than a tree of the same size grown on the raw data.

    Parameters
    ----------
    %(shared_params)s

    criterion : {"gini", "entropy", "log_loss"}, default="entropy"
        Split quality, as in :class:`~sklearn.tree.DecisionTreeClassifier`. The
        default is information gain, the closest to the paper's C4.5.

    %(tree_params)s

    Attributes
    ----------
    tree_ : DecisionTreeClassifier
        The twice-learned tree, a fitted
        :class:`~sklearn.tree.DecisionTreeClassifier` (its low-level
        :class:`~sklearn.tree._tree.Tree` is ``tree_.tree_``). Its ``classes_`` may
        miss a class that neither the labels it learned nor the teacher produced.

    classes_ : ndarray of shape (n_classes,)
        The class labels: those of ``y`` and those the teacher predicts.

    fidelity_ : float
        Fraction of held-out generated examples (``max(n_samples, n_extra)`` rows
        drawn like the extra ones, never seen by the tree) on which the tree
        predicts the teacher's class.

    %(fitted_attrs)s

    See Also
    --------
    TwiceLearningTreeRegressor : The same for regression.
    sklearn.tree.DecisionTreeClassifier : The plain tree.

    Notes
    -----
    ``TwiceLearningTree`` is an alias of this class. The paper generates the extra
    examples by drawing each feature at random within its range (``"uniform"``) and
    uses C4.5; here the tree is scikit-learn's CART. In 5 seeds × 5-fold
    cross-validation with the default teacher and ``extra_ratio=3`` (breast cancer,
    wine, digits; trees with ``min_samples_leaf=5`` or 16 leaves), ``"uniform"``
    never beat a plain tree of the same size limit on average and lost up to 6
    points on wine, while ``"smote"`` stayed within a point of it or gained up to 2
    points (digits), with the smallest trees of all schemes.

    Categorical or mixed pandas inputs go through a
    :class:`~sklearn.pipeline.Pipeline` that encodes them first; the teacher and
    the tree both see the encoded features.

    References
    ----------
    .. [1] Z.-H. Zhou and Y. Jiang, "NeC4.5: Neural ensemble based C4.5", IEEE
       Transactions on Knowledge and Data Engineering, 16(6):770-773, 2004.
    .. [2] Z.-H. Zhou, Y. Jiang and S.-F. Chen, "Extracting symbolic rules from
       trained neural network ensembles", AI Communications, 16(1):3-15, 2003.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skreuse.interpretable import TwiceLearningTreeClassifier
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> teacher = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> clf = TwiceLearningTreeClassifier(teacher, prefit=True, max_depth=2,
    ...                                   random_state=0).fit(X, y)
    >>> print(clf.export_text())
    |--- worst radius <= 17.23
    |   |--- worst concave points <= 0.14
    |   |   |--- class: 1
    |   |--- worst concave points >  0.14
    |   |   |--- class: 0
    |--- worst radius >  17.23
    |   |--- worst concave points <= 0.14
    |   |   |--- class: 0
    |   |--- worst concave points >  0.14
    |   |   |--- class: 0
    <BLANKLINE>
    >>> # What the inner validation chose: the teacher's labels, 4 x n "kde" rows.
    >>> clf.keep_original_labels_, clf.extra_ratio_, clf.sampling_
    (False, 4.0, 'kde')
    >>> print(f"{clf.fidelity_:.2f}")
    0.82
    """

    _parameter_constraints: dict = {
        **_BaseTwiceLearningTree._parameter_constraints,
        "criterion": [StrOptions({"gini", "entropy", "log_loss"})],
    }

    def __init__(
        self,
        teacher=None,
        *,
        prefit=False,
        extra_ratio=1.0,
        sampling="smote",
        unlabeled=None,
        keep_original_labels=False,
        criterion="entropy",
        max_depth=None,
        min_samples_leaf=1,
        max_leaf_nodes=None,
        ccp_alpha=0.0,
        cv=5,
        random_state=None,
        n_jobs=None,
    ):
        super().__init__(
            teacher,
            prefit=prefit,
            extra_ratio=extra_ratio,
            sampling=sampling,
            unlabeled=unlabeled,
            keep_original_labels=keep_original_labels,
            criterion=criterion,
            max_depth=max_depth,
            min_samples_leaf=min_samples_leaf,
            max_leaf_nodes=max_leaf_nodes,
            ccp_alpha=ccp_alpha,
            cv=cv,
            random_state=random_state,
            n_jobs=n_jobs,
        )

    def _default_teacher(self, seed):
        network = make_pipeline(
            StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=300)
        )
        return BaggingClassifier(network, n_estimators=10, n_jobs=self.n_jobs, random_state=seed)

    def _make_tree(self, seed):
        return DecisionTreeClassifier(
            criterion=self.criterion,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_leaf_nodes=self.max_leaf_nodes,
            ccp_alpha=self.ccp_alpha,
            random_state=seed,
        )

    def _agreement(self, teacher_pred, tree_pred):
        return np.mean(teacher_pred == tree_pred) if len(tree_pred) else 1.0

    def _guess_score(self, y):
        return 1.0 / np.unique(y).size

    def _row_scores(self, y_pred, y, trained_on, y_all):
        # A held-out row of a class the model's training data lacked (one row per
        # class) counts as a guess among the classes: the plain tree grown on all rows
        # will know that class, so a zero would unfairly favour the teacher's trees.
        unseen = np.zeros(len(y), bool) if trained_on is None else ~np.isin(y, trained_on)
        return np.where(unseen, self._guess_score(y_all), y_pred == y)

    def _splits(self, X, y, rng):
        # Stratified when every class has two rows; with one row per class a held-out
        # row's class is missing from its training fold, which a plain tree cannot
        # predict and a teacher can: that is what validation should see.
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            return super()._splits(X, y, rng)
        folds = StratifiedKFold(
            min(self.cv, counts.min()), shuffle=True, random_state=rng.randint(_MAX_SEED)
        )
        return list(folds.split(X, y))

    def _set_target_info(self, y, y_teacher):
        numeric = "biuf"
        mixed = (y.dtype.kind in numeric) != (y_teacher.dtype.kind in numeric)
        try:
            if mixed:
                raise TypeError
            self.classes_ = np.unique(np.concatenate([y, y_teacher]))
        except TypeError as exc:
            raise ValueError(
                f"The teacher predicts labels of dtype {y_teacher.dtype} that cannot be "
                f"compared with the labels of y (dtype {y.dtype}); the prefit teacher must "
                "predict the same kind of labels as y."
            ) from exc

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the teacher (unless prefit), generate and relabel data, grow the tree.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples (numeric; encode categorical columns in a Pipeline).
        y : array-like of shape (n_samples,)
            Class labels (any labels, e.g. strings).

        Returns
        -------
        self : TwiceLearningTreeClassifier
            The fitted estimator.
        """
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        if not self.prefit and np.unique(y).shape[0] < 2:
            raise ValueError(
                "y has 1 class; the teacher needs at least 2 classes to learn from "
                "(or pass a fitted teacher with prefit=True)."
            )
        return self._fit(X, y)

    def predict_proba(self, X):
        """Class probabilities of the tree's leaves, in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities (zero for a class the tree never saw).
        """
        X = self._validate_X_predict(X)
        proba = np.zeros((X.shape[0], len(self.classes_)))
        proba[:, np.searchsorted(self.classes_, self.tree_.classes_)] = self.tree_.predict_proba(X)
        return proba


@_fill
class TwiceLearningTreeRegressor(RegressorMixin, _BaseTwiceLearningTree):
    """Regression tree learned twice: from a strong teacher's predictions (NeC4.5).

    A strong teacher (by default a bagging ensemble of neural networks) is fitted
    first. It then predicts the targets of the training rows and of
    ``extra_ratio * n_samples`` generated rows, and a scikit-learn regression tree
    is learned from that union. This is NeC4.5's twice learning carried over to
    regression.

    Parameters
    ----------
    %(shared_params)s

    criterion : {"squared_error", "friedman_mse", "absolute_error", "poisson"}, \
default="squared_error"
        Split quality, as in :class:`~sklearn.tree.DecisionTreeRegressor`.

    %(tree_params)s

    Attributes
    ----------
    tree_ : DecisionTreeRegressor
        The twice-learned tree, a fitted
        :class:`~sklearn.tree.DecisionTreeRegressor` (its low-level
        :class:`~sklearn.tree._tree.Tree` is ``tree_.tree_``).

    fidelity_ : float
        Coefficient of determination R² of the tree's predictions against the
        teacher's (the teacher's predictions play the role of the truth) on held-out
        generated examples (``max(n_samples, n_extra)`` rows drawn like the extra
        ones, never seen by the tree). 1 means the tree reproduces the teacher.

    %(fitted_attrs)s

    See Also
    --------
    TwiceLearningTreeClassifier : The same for classification.
    sklearn.tree.DecisionTreeRegressor : The plain tree.

    Notes
    -----
    The default teacher bags neural networks on standardized inputs and targets.
    The paper generates the extra examples by drawing each feature at random within
    its range (``"uniform"``); the default here is ``"smote"`` (see
    :class:`TwiceLearningTreeClassifier`). On the diabetes data (5 seeds × 5-fold
    cross-validation, ``extra_ratio=3``) every scheme lifts the test R² of a tree
    of the same size limit from 0.14 to 0.40–0.42 (``min_samples_leaf=5``) and from
    0.26 to 0.38–0.42 (16 leaves).

    The trees learn ``y`` (and the teacher's predictions) divided by a power of two
    near the standard deviation of ``y``, and their leaves are multiplied back, which
    is exact: on its own, scikit-learn's regression tree makes a leaf of any node whose
    variance is below 2.2e-16, so it grows a single leaf from targets in units of 1e-9,
    and its sums of squares overflow beyond about 1e154. ``teacher_cv_score_`` and
    ``cv_results_["score"]`` are in the units of ``y`` squared. A teacher trained here
    learns ``y`` as it is (the default one's target scaler divides it by that power
    first when its spread is beyond ``2**+-200``).

    References
    ----------
    .. [1] Z.-H. Zhou and Y. Jiang, "NeC4.5: Neural ensemble based C4.5", IEEE
       Transactions on Knowledge and Data Engineering, 16(6):770-773, 2004.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import RidgeCV
    >>> from skreuse.interpretable import TwiceLearningTreeRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> teacher = RidgeCV().fit(X, y)
    >>> reg = TwiceLearningTreeRegressor(teacher, prefit=True, extra_ratio=3,
    ...                                  max_leaf_nodes=16, random_state=0).fit(X, y)
    >>> int(reg.tree_.get_n_leaves())
    16
    >>> print(f"{reg.fidelity_:.1f}")
    0.9
    """

    _parameter_constraints: dict = {
        **_BaseTwiceLearningTree._parameter_constraints,
        "criterion": [StrOptions({"squared_error", "friedman_mse", "absolute_error", "poisson"})],
    }

    def __init__(
        self,
        teacher=None,
        *,
        prefit=False,
        extra_ratio=1.0,
        sampling="smote",
        unlabeled=None,
        keep_original_labels=False,
        criterion="squared_error",
        max_depth=None,
        min_samples_leaf=1,
        max_leaf_nodes=None,
        ccp_alpha=0.0,
        cv=5,
        random_state=None,
        n_jobs=None,
    ):
        super().__init__(
            teacher,
            prefit=prefit,
            extra_ratio=extra_ratio,
            sampling=sampling,
            unlabeled=unlabeled,
            keep_original_labels=keep_original_labels,
            criterion=criterion,
            max_depth=max_depth,
            min_samples_leaf=min_samples_leaf,
            max_leaf_nodes=max_leaf_nodes,
            ccp_alpha=ccp_alpha,
            cv=cv,
            random_state=random_state,
            n_jobs=n_jobs,
        )

    def _default_teacher(self, seed):
        targets = StandardScaler()
        if getattr(self, "_teacher_unit", 1.0) != 1.0:
            # Targets whose spread is beyond 2**+-200: divided by a power of two first,
            # as the scaler's variance would overflow or underflow (see ``fit``).
            unit = {"unit": self._teacher_unit}
            divide = FunctionTransformer(
                _divide, inverse_func=_multiply, kw_args=unit, inv_kw_args=unit
            )
            targets = make_pipeline(divide, targets)
        network = TransformedTargetRegressor(
            make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(32,), max_iter=300)),
            transformer=targets,
        )
        return BaggingRegressor(network, n_estimators=10, n_jobs=self.n_jobs, random_state=seed)

    def _make_tree(self, seed):
        # The trees learn the targets divided by ``_unit`` (see ``fit``): the pruning
        # strength, in units of the impurity, is divided alike.
        return DecisionTreeRegressor(
            criterion=self.criterion,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_leaf_nodes=self.max_leaf_nodes,
            ccp_alpha=_times_power_of_two(
                self.ccp_alpha, -_unit_exponent(self._unit) * _impurity_power(self.criterion)
            ),
            random_state=seed,
        )

    def _new_teacher(self, X, y, seed):
        # The teacher learns the targets in the user's units (``y`` here is divided by
        # ``_unit``, a power of two: multiplying back is exact).
        return super()._new_teacher(X, y * self._unit, seed)

    def _teacher_targets(self, X, teacher=None):
        # In the units the trees learn (see ``fit``).
        y = self._teacher_predict(X, teacher)
        if self.criterion == "poisson" and np.any(y < 0):
            # scikit-learn's tree would say that "y" is negative: the user's y is not.
            teacher = self.teacher_ if teacher is None else teacher
            raise ValueError(
                f"criterion='poisson' needs non-negative targets, but the teacher "
                f"({type(teacher).__name__}) predicts negative values on {np.sum(y < 0)} of "
                f"{y.size} rows (the training rows and the generated ones): pass a teacher "
                "whose predictions are non-negative (e.g. PoissonRegressor), or another "
                "criterion."
            )
        return y / self._unit

    def _agreement(self, teacher_pred, tree_pred):
        # R^2 does not change when both are divided by a power of two (exactly), which
        # keeps the sums of squares finite for predictions beyond about 1e154.
        peak = max(
            np.max(np.abs(teacher_pred), initial=0.0), np.max(np.abs(tree_pred), initial=0.0)
        )
        unit = power_of_two_of(float(peak), safe=None)
        teacher_pred, tree_pred = teacher_pred / unit, tree_pred / unit
        if len(tree_pred) < 2:
            return float(np.allclose(teacher_pred, tree_pred))
        return r2_score(teacher_pred, tree_pred)

    def _guess_score(self, y):
        # The mean as the prediction of every row.
        return -np.var(y)

    def _row_scores(self, y_pred, y, trained_on, y_all):
        return -((y - y_pred) ** 2)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the teacher (unless prefit), generate and relabel data, grow the tree.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples (numeric; encode categorical columns in a Pipeline).
        y : array-like of shape (n_samples,)
            Target values.

        Returns
        -------
        self : TwiceLearningTreeRegressor
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        # The trees and the validation work on y divided by a power of two near its spread
        # (exact, and undone on the fitted tree): scikit-learn's regression tree makes a
        # leaf of any node whose variance is below 2.2e-16, so targets in units of 1e-8
        # gave a tree of a few leaves and 1e-9 a single one, and beyond about 1e154 its
        # sums of squares overflowed (a tree of other splits); the validation's squared
        # errors too, which then always chose the plain tree, and fidelity_ was NaN. The
        # default teacher's target scaler divides by the same power where the spread is
        # beyond 2**+-200 (its variance overflowed, or underflowed to a network that
        # learned nothing); elsewhere it is the plain scaler it always was.
        peak = float(np.max(np.abs(y), initial=0.0))
        magnitude = power_of_two_of(peak, safe=None)
        spread = float(np.std(y / magnitude)) * magnitude
        spread = spread if spread > 0 else peak
        self._unit = power_of_two_of(spread, safe=None)
        self._teacher_unit = power_of_two_of(spread)
        self._fit(X, y / self._unit)
        tree, k = self.tree_.tree_, _unit_exponent(self._unit)
        tree.value[...] *= self._unit
        tree.impurity[...] = _times_power_of_two(tree.impurity, k * _impurity_power(self.criterion))
        if self.cv_results_ is not None:
            # Minus mean squared errors: back in the units of y squared.
            self.teacher_cv_score_ = float(_times_power_of_two(self.teacher_cv_score_, 2 * k))
            self.cv_results_["score"] = _times_power_of_two(self.cv_results_["score"], 2 * k)
        return self


def _divide(y, unit):
    return y / unit


def _multiply(y, unit):
    return y * unit


def _unit_exponent(unit):
    """``k`` with ``unit == 2**k`` (``unit`` a power of two)."""
    return _exponent(unit) - 1


def _times_power_of_two(x, exponent):
    """``x * 2**exponent``, exact, saturating at infinity or zero like float arithmetic."""
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(x, exponent)


def _impurity_power(criterion):
    """The power of the targets' unit in a regression tree's impurity of ``criterion``."""
    return 1 if criterion in ("absolute_error", "poisson") else 2


TwiceLearningTree = TwiceLearningTreeClassifier
