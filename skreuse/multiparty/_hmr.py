"""Heterogeneous model reuse via the multiparty multiclass margin (HMR).

Several parties each own a local dataset, possibly over different (overlapping) class
sets, and a local classifier of any kind. Their models are combined by the max rule and
calibrated by exchanging a few training rows chosen by the multiparty multiclass margin
(Wu, Liu & Zhou, ICML 2019, Algorithm 1).
"""

import copy
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if

from ..utils._clone import SharedModelsMixin
from ..utils._docstrings import fill_doc
from ..utils._features import check_candidates, check_model_fitted
from ..utils._progress import progress_bar
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ..utils._validation import check_classification_targets

__all__ = ["HMRCalibrator"]


def _mpmc_margin(scores, y_idx):
    """Multiparty multiclass margin of every row, vectorized over rows.

    Parameters
    ----------
    scores : ndarray of shape (n_parties, n_samples, n_classes)
        Each party's score for each global class, ``-inf`` where the party does not
        claim the class.
    y_idx : ndarray of shape (n_samples,)
        Index of each row's true class in the global classes.

    Returns
    -------
    rho : ndarray of shape (n_samples,)
        ``max_{i: y in C_i} h_i(x)_y - max_{i, c in C_i, c != y} h_i(x)_c``.
    i_pos, i_neg, c_neg : ndarray of shape (n_samples,)
        The party attaining the first maximum, the party and the class attaining the
        second (``i⁺``, ``i⁻`` and ``y⁻`` of the paper).
    """
    n_parties, n_samples, n_classes = scores.shape
    rows = np.arange(n_samples)
    true = scores[:, rows, y_idx]
    i_pos = true.argmax(axis=0)
    pos = true[i_pos, rows]
    wrong = scores.copy()
    wrong[:, rows, y_idx] = -np.inf
    # Parties and classes flattened together: one argmax finds both i⁻ and y⁻.
    flat = wrong.transpose(1, 0, 2).reshape(n_samples, n_parties * n_classes)
    j = flat.argmax(axis=1)
    neg = flat[rows, j]
    i_neg, c_neg = np.divmod(j, n_classes)
    return pos - neg, i_pos, i_neg, c_neg


def _raw_scores(model, X, response_method):
    """Scores of ``model`` for each of its ``classes_``, always 2-D."""
    if response_method == "predict_proba":
        return np.asarray(model.predict_proba(X), dtype=float)
    out = np.asarray(model.decision_function(X), dtype=float)
    if out.ndim == 1:
        out = np.column_stack([-out, out])
    return out


def _party_scores(model, claimed, classes, X, response_method):
    """One party's scores over the global ``classes``, ``-inf`` where it has no vote.

    ``claimed`` holds the global indices of the party's own classes. The model's other
    outputs (classes it learned from received rows only, the "reserved" classes) are
    dropped, so what they took from the probabilities stays taken.
    """
    raw = _raw_scores(model, X, response_method)
    model_classes = np.asarray(model.classes_)
    order = np.argsort(model_classes, kind="stable")
    columns = order[np.searchsorted(model_classes, classes[claimed], sorter=order)]
    out = np.full((raw.shape[0], len(classes)), -np.inf)
    out[:, claimed] = raw[:, columns]
    return out


def _fit_local(model, X, y):
    return model.fit(X, y)


def _calibrate_party(model, X, y, rows, new_row, update, claimed, classes, response_method):
    """Calibrate one party with a received row; return the model and its new scores.

    ``rows`` are the party's own rows followed by every row it received (``new_row``
    last); a refit trains on all of them.
    """
    known = np.isin(y[new_row], np.asarray(model.classes_))
    if update == "partial_fit" and hasattr(model, "partial_fit") and known:
        model.partial_fit(X[[new_row]], y[[new_row]])
    else:
        model.fit(X[rows], y[rows])
    return model, _party_scores(model, claimed, classes, X, response_method)


@fill_doc
class HMRCalibrator(ClassifierMixin, MetaEstimatorMixin, SharedModelsMixin, BaseEstimator):
    r"""Reuse several parties' local classifiers, calibrated by the MPMC margin.

    Each party owns a local dataset, possibly over its own subset of the classes, and
    a local classifier of any kind; nobody pools raw data. The global model predicts

    .. math:: H(x) = \arg\max_c \max_{i:\, c \in C_i} h_i(x)_c

    (every party votes with its score for each class it knows). The parties'
    scores are not calibrated against each other, so ``H`` is poor at first. HMR
    (Algorithm 1 of Wu, Liu & Zhou) repairs it with few exchanged rows: a row
    ``(x, y)`` is drawn (a party with probability proportional to its data size, then
    one of its rows); when its multiparty multiclass margin

    .. math:: \rho(x, y) = \max_{i:\, y \in C_i} h_i(x)_y
              - \max_{i,\, c \in C_i,\, c \neq y} h_i(x)_c

    is not positive, the row goes to the party ``i⁺`` attaining the first maximum and
    the party ``i⁻`` attaining the second; both add it to their local data and are
    retrained. A party that receives a class it does not know learns it as an extra
    output whose column is dropped at prediction time, which pulls its scores down
    where that class lives (the reference code's "reserved class").

    Once no row has a non-positive margin, rows whose margin is at most ``min_margin``
    (correct but not by a clear margin) are calibrated the same way, while the budget
    lasts: with few local rows every local model fits its own rows, so that no training
    row is misclassified and Algorithm 1 alone would send nothing (see Notes).

    Read more in the :ref:`User Guide <multiparty>`.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        One ``(name, classifier)`` per party, like ``Pipeline.steps``. Unless
        ``prefit=True`` each classifier is cloned and trained on its party's rows.
    budget : int, default=100
        Most rows that may be communicated: a row counts when it leaves its owner
        (``i⁺`` or ``i⁻`` is another party), once even when it goes to two
        parties, as in Algorithm 1. ``0`` keeps the local models as trained.
    prefit : bool, default=False
        Whether ``estimators`` are already fitted local models. They are deep-copied
        and never modified; ``groups`` still tells which rows each party owns (its
        local data for retraining).
    response_method : {"predict_proba", "decision_function"}, default="predict_proba"
        The local models' scores compared across parties. Scores must be on a
        common scale, which probabilities are; decision values of different model
        families usually are not.
    update : {"refit", "partial_fit"}, default="refit"
        How a party calibrates with a received row. ``"refit"`` retrains on its local
        data plus every row received so far. ``"partial_fit"`` calls the model's
        ``partial_fit`` on the row when it has one and already knows the row's class
        (a new output needs a refit).
    min_margin : float, default=1.0
        Rows whose margin is at most ``min_margin`` are calibrated once no row has a
        non-positive margin (misclassified rows always come first). ``0`` is
        Algorithm 1 as published: only rows the global rule gets wrong or ties are
        sent. With probabilities a margin is at most 1, so the default lets every row
        be sent, each to each party at most once, until the budget is spent; with
        decision values it is the unit margin of the hinge loss.
    max_iter : int, default=1000
        Most calibration rounds, counting also rounds where the row stays with its
        owner (``i⁺ = i⁻ =`` the owner, no communication); bounds the loop when the
        budget is never reached.
    warm_start : bool, default=False
        When True, a new call to ``fit`` with the same ``X``, ``y`` and ``groups``
        continues the previous calibration up to the new ``budget`` and
        ``max_iter`` instead of starting from the local models again.
    %(random_state)s
        Here it controls which rows are drawn; local models keep their own.
    %(n_jobs)s
        Parties are trained (and retrained) in parallel.
    %(verbose)s

    Attributes
    ----------
    estimators_ : list of estimators
        The calibrated local models, in the order of ``estimators``.
    classes_ : ndarray of shape (n_classes,)
        The classes seen in ``y``.
    party_classes_ : list of ndarray
        The classes each party knows and votes for: the classes of its rows, or
        (``prefit=True``) those of its model found in ``y``.
    reserved_classes_ : list of ndarray
        For each party, the classes it learned from received rows only; its model
        has outputs for them, dropped at prediction time.
    n_communicated_ : int
        Rows communicated to another party (at most ``budget``).
    n_iter_ : int
        Calibration rounds run, communicated or local.
    history_ : ndarray of shape (n_iter_ + 1,)
        Accuracy of the global model on the training rows before calibration and
        after each calibration round.
    history_n_communicated_ : ndarray of shape (n_iter_ + 1,)
        Rows communicated so far at each entry of ``history_``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    sklearn.ensemble.VotingClassifier : Combines models trained on the same classes.
    skreuse.plotting.CalibrationHistoryDisplay : Plots ``history_``.

    Notes
    -----
    Sampling a party with probability proportional to its size and then one of its
    rows draws a row uniformly; Algorithm 1 discards draws with a positive margin,
    so drawing uniformly among the rows with a non-positive margin, as done here,
    gives the same distribution without the wasted draws. All margins are
    recomputed, vectorized over rows, after each round, which also tells when no
    row is left to send: the loop then stops before the budget.

    As in the reference code, a receiver that already owns the row (``i⁺`` or ``i⁻`` is
    the owner) adds a second copy of it, which weighs it more in the refit. A round where
    both receivers are the owner communicates nothing and is not charged to the budget
    (Algorithm 1, lines 12-13); ``max_iter`` bounds such rounds.

    ``min_margin`` extends Algorithm 1 (``min_margin=0``) for parties with few rows. A
    local model trained on a few rows fits them, so every training margin is positive
    from the start (with logistic regressions on 1 labelled row per class, nothing was
    ever sent) even though the parties' scores are not calibrated against each other
    on new rows. A margin bound charges every row whose margin is below a positive
    threshold, not only the misclassified ones, so such rows are sent once no row is
    misclassified. A misclassified row may be sent again and again, as in the reference
    code, each copy weighing it more; a row with a positive margin goes to each party
    at most once (it is drawn only while ``i⁺`` or ``i⁻`` has not received it, and only
    the one that has not receives it), or the same few rows, keeping their small
    margins, would pile up copies. When every party has received every
    row and all parties use the same kind of model, each model is trained on all rows
    (other parties' classes as reserved outputs, own rows once more) and the global
    rule is close to the model trained on the pooled rows: calibration approaches
    that model as the budget grows, and cannot be expected to beat it.

    Retraining refits a local model on its rows plus the received ones; the reference
    code instead runs one more epoch of its network from the current weights. For
    convex models (logistic regression) the two reach the same model.

    ``groups`` is required when there are two or more parties. A single party owns
    every row, so it may be left out; HMR then retrains that model on its own
    rows with a non-positive margin, then once each on those with a margin at most
    ``min_margin`` (nothing is communicated).

    References
    ----------
    .. [1] X.-Z. Wu, S. Liu and Z.-H. Zhou, "Heterogeneous model reuse via
       optimizing multiparty multiclass margin", ICML 2019, PMLR 97:6840-6849.
    .. [2] P. Tang, X.-Z. Wu and Z.-H. Zhou, "Heterogeneous model reuse via
       specification-based extension", IJCAI 2023 (a follow-up).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skreuse.multiparty import HMRCalibrator
    >>> X, y = load_iris(return_X_y=True)
    >>> # party "a" sees classes 0 and 1, party "b" classes 1 and 2
    >>> groups = np.where(y == 0, "a", np.where(y == 2, "b", np.where(X[:, 0] > 5.9, "a", "b")))
    >>> hmr = HMRCalibrator(
    ...     [("a", LogisticRegression()), ("b", DecisionTreeClassifier(random_state=0))],
    ...     budget=10, random_state=0,
    ... ).fit(X, y, groups=groups)
    >>> [c.tolist() for c in hmr.party_classes_]
    [[0, 1], [1, 2]]
    >>> print(f"{hmr.history_[0]:.2f} -> {hmr.history_[-1]:.2f}, {hmr.n_communicated_} rows")
    0.60 -> 1.00, 10 rows
    """

    _shared_params = ("estimators",)

    _parameter_constraints: dict = {
        "estimators": [list],
        "budget": [Interval(Integral, 0, None, closed="left")],
        "prefit": ["boolean"],
        "response_method": [StrOptions({"predict_proba", "decision_function"})],
        "update": [StrOptions({"refit", "partial_fit"})],
        "min_margin": [Interval(Real, None, None, closed="neither")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators,
        *,
        budget=100,
        prefit=False,
        response_method="predict_proba",
        update="refit",
        min_margin=1.0,
        max_iter=1000,
        warm_start=False,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.estimators = estimators
        self.budget = budget
        self.prefit = prefit
        self.response_method = response_method
        self.update = update
        self.min_margin = min_margin
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- validation -----------------------------------------------------------------------

    def _check_estimators(self):
        pairs = check_candidates(self.estimators, param="estimators")
        method = self.response_method
        for i, (name, model) in enumerate(pairs):
            if not is_classifier(model):
                raise TypeError(
                    f"estimators[{i}] ({name!r}) must be a scikit-learn classifier, "
                    f"got {type(model).__name__}."
                )
            if not hasattr(model, method):
                raise TypeError(
                    f"estimators[{i}] ({name!r}, {type(model).__name__}) has no {method}, "
                    f"which response_method={method!r} needs."
                )
            if self.prefit:
                check_model_fitted(model, name)
        return pairs

    @staticmethod
    def _check_groups(groups, names, n_samples):
        """Map ``groups`` to the position of each row's party in ``estimators``."""
        if groups is None:
            if len(names) == 1:
                return np.zeros(n_samples, dtype=np.intp)
            raise ValueError(
                f"groups is required with {len(names)} parties: call "
                "fit(X, y, groups=party) with the party (a name from estimators or its "
                "position) owning each row."
            )
        groups = np.asarray(groups)
        if groups.ndim != 1:
            raise ValueError(f"groups must be 1-D, got an array of shape {groups.shape}.")
        if groups.shape[0] != n_samples:
            raise ValueError(
                f"groups has {groups.shape[0]} entries but X has {n_samples} rows; "
                "give one party per row."
            )
        values, inverse = np.unique(groups, return_inverse=True)
        position = {name: k for k, name in enumerate(names)}
        if all(isinstance(v, str) for v in values.tolist()):
            unknown = [v for v in values.tolist() if v not in position]
            mapped = [position.get(v, -1) for v in values.tolist()]
        elif groups.dtype.kind in "iu":
            unknown = [v for v in values.tolist() if not 0 <= v < len(names)]
            mapped = values.tolist()
        else:
            unknown, mapped = values.tolist(), []
        if unknown:
            raise ValueError(
                f"groups holds unknown parties {unknown[:5]}; use the names {names} "
                f"or the positions 0..{len(names) - 1}."
            )
        owner = np.asarray(mapped, dtype=np.intp)[inverse]
        empty = [names[k] for k in np.flatnonzero(np.bincount(owner, minlength=len(names)) == 0)]
        if empty:
            raise ValueError(
                f"Parties {empty} have no rows in groups; every party needs local data."
            )
        return owner

    # -- fitting --------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Train (or take) the local models and calibrate them.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows of all parties (a row is only seen by its owner and by the
            parties it is communicated to).
        y : array-like of shape (n_samples,)
            Class labels.
        groups : array-like of shape (n_samples,), default=None
            The party owning each row: a name from ``estimators`` or its position.
            Required with two or more parties. Inside a ``Pipeline`` it is routed by
            metadata routing (``set_fit_request(groups=True)``).

        Returns
        -------
        self : HMRCalibrator
            The fitted calibrator.
        """
        pairs = self._check_estimators()
        names = [name for name, _ in pairs]
        X, y = validate_data(self, X, y, accept_sparse="csr")
        check_classification_targets(y)
        if np.unique(y).shape[0] < 2:
            raise ValueError(
                f"y has 1 class ({np.unique(y).tolist()}); HMRCalibrator needs at "
                "least 2 classes to calibrate the parties' margins."
            )
        owner = self._check_groups(groups, names, X.shape[0])
        if self.warm_start and hasattr(self, "estimators_"):
            self._check_warm_start(X, y, owner)
        else:
            self._start(pairs, X, y, owner)
        self._calibrate(X, y, owner)
        return self

    def _calibrate(self, X, y, owner):
        """Run Algorithm 1 from the current calibration state up to ``budget``.

        Kept out of ``fit``: mutmut does not mutate decorated functions.
        """
        classes = self.classes_
        y_idx = np.searchsorted(classes, y)
        claimed = [np.searchsorted(classes, c) for c in self.party_classes_]

        scores = np.stack(
            Parallel(n_jobs=self.n_jobs)(
                delayed(_party_scores)(model, claimed[k], classes, X, self.response_method)
                for k, model in enumerate(self.estimators_)
            )
        )
        rho, i_pos, i_neg, _ = _mpmc_margin(scores, y_idx)
        rows = np.arange(X.shape[0])
        # sent[k, r]: party k has received row r (once for a row with a positive margin).
        sent = np.zeros((len(self.estimators_), X.shape[0]), dtype=bool)
        for k, received in enumerate(self._received):
            sent[k, received] = True
        history = list(self.history_)
        history_comm = list(self.history_n_communicated_)
        if not history:
            history.append(np.mean(scores.max(axis=0).argmax(axis=1) == y_idx))
            history_comm.append(0)
        # The budget counts communicated rows, not rounds: the bar's total is the budget.
        bar = progress_bar(
            verbose=self.verbose,
            desc="HMR calibration",
            total=self.budget,
            initial=self.n_communicated_,
            unit="row",
        )
        # Algorithm 1 of Wu, Liu & Zhou (2019): repeat until the budget is spent.
        for _ in range(self.n_iter_, self.max_iter):
            if self.n_communicated_ >= self.budget:
                break
            # Draw a training row whose MPMC-margin (`_mpmc_margin`) is not positive (the
            # global rule misclassifies it or ties); when there is none, a row whose margin
            # is at most min_margin that one of the two parties setting it has not received.
            violated = rho <= min(self.min_margin, 0)
            if violated.any():
                candidates = np.flatnonzero(violated)
            else:
                fresh = ~sent[i_pos, rows] | ~sent[i_neg, rows]
                candidates = np.flatnonzero(fresh & (rho <= self.min_margin))
            if candidates.size == 0:
                break
            row = candidates[self._rng.randint(candidates.size)]
            # It goes to i+, the party with the best score for its true class, and to i-,
            # the party with the best score for a wrong class: the two that set the margin.
            receivers = np.unique([i_pos[row], i_neg[row]])
            if not violated[row]:
                receivers = receivers[~sent[receivers, row]]
            sent[receivers, row] = True
            for k in receivers:
                self._received[k].append(row)
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(_calibrate_party)(
                    self.estimators_[k],
                    X,
                    y,
                    np.concatenate([self._own[k], self._received[k]]).astype(np.intp),
                    row,
                    self.update,
                    claimed[k],
                    classes,
                    self.response_method,
                )
                for k in receivers
            )
            # Each receiver refits its local model on its rows plus the ones received (the
            # calibration step), and only its class scores change.
            for k, (model, party_scores) in zip(receivers, results):
                self.estimators_[k] = model
                scores[k] = party_scores
            # Charged to the budget only when a row leaves its owner (lines 12-13).
            if np.any(receivers != owner[row]):
                self.n_communicated_ += 1
                bar.update(1)
            self.n_iter_ += 1
            rho, i_pos, i_neg, _ = _mpmc_margin(scores, y_idx)
            # Training accuracy of the global rule (max over parties) after this round.
            history.append(np.mean(scores.max(axis=0).argmax(axis=1) == y_idx))
            history_comm.append(self.n_communicated_)
        bar.close()

        self.history_ = np.asarray(history, dtype=float)
        self.history_n_communicated_ = np.asarray(history_comm, dtype=np.intp)
        self.reserved_classes_ = [
            np.setdiff1d(np.asarray(m.classes_), c)
            for m, c in zip(self.estimators_, self.party_classes_)
        ]

    def _start(self, pairs, X, y, owner):
        """Local models (trained or copied) and an empty calibration state."""
        self.classes_ = np.unique(y)
        own = [np.flatnonzero(owner == k) for k in range(len(pairs))]
        if self.prefit:
            models = [copy.deepcopy(m) for _, m in pairs]
            party_classes = []
            for name, model in pairs:
                known = np.intersect1d(np.asarray(model.classes_), self.classes_)
                if known.size == 0:
                    raise ValueError(
                        f"The model of party {name!r} knows none of the classes in y "
                        f"(its classes_ start with {np.asarray(model.classes_)[:5].tolist()})."
                    )
                party_classes.append(known)
            orphan = np.setdiff1d(self.classes_, np.concatenate(party_classes))
            if orphan.size:
                raise ValueError(
                    f"No party's model knows the classes {orphan[:5].tolist()} of y, so "
                    "the global model could never predict them."
                )
        else:
            models = Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_local)(clone(model), X[idx], y[idx])
                for (_, model), idx in zip(pairs, own)
            )
            party_classes = [np.unique(y[idx]) for idx in own]
        self.estimators_ = models
        self.party_classes_ = party_classes
        self.n_communicated_ = 0
        self.n_iter_ = 0
        self.history_ = np.empty(0)
        self.history_n_communicated_ = np.empty(0, dtype=np.intp)
        self._own = own
        self._received = [[] for _ in pairs]
        self._rng = check_random_state(self.random_state)
        self._fit_signature = (X.shape, self.classes_.tolist(), np.bincount(owner).tolist())

    def _check_warm_start(self, X, y, owner):
        signature = (X.shape, np.unique(y).tolist(), np.bincount(owner).tolist())
        if signature != self._fit_signature:
            raise ValueError(
                "warm_start=True continues the previous calibration: fit needs the same "
                "X, y and groups as before (shape, classes or party sizes differ)."
            )
        if self.budget < self.n_communicated_:
            raise ValueError(
                f"budget={self.budget} must be at least n_communicated_="
                f"{self.n_communicated_} when warm_start=True."
            )

    # -- prediction -----------------------------------------------------------------------

    def _global_scores(self, X):
        """Max over parties of their scores for each class (the global rule's scores)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        scores = np.full((X.shape[0], len(self.classes_)), -np.inf)
        for model, classes in zip(self.estimators_, self.party_classes_):
            claimed = np.searchsorted(self.classes_, classes)
            party = _party_scores(model, claimed, self.classes_, X, self.response_method)
            np.maximum(scores, party, out=scores)
        return scores

    def predict(self, X):
        """Predict with the global rule: the class with the highest score of any party.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted classes.
        """
        scores = self._global_scores(X)
        return self.classes_[scores.argmax(axis=1)]

    @available_if(lambda self: self.response_method == "predict_proba")
    def predict_proba(self, X):
        """Global scores normalized to sum to one (``response_method="predict_proba"`` only).

        For each class, the highest probability any party that knows it gives;
        rows are then divided by their sum. Their argmax is ``predict``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Normalized global scores, columns in the order of ``classes_``.
        """
        scores = self._global_scores(X)
        total = scores.sum(axis=1, keepdims=True)
        # Every party may put all its mass on dropped reserved outputs: no evidence left.
        empty = total[:, 0] <= 0
        scores[empty] = 1.0
        total[empty] = scores.shape[1]
        return scores / total

    @available_if(lambda self: self.response_method == "decision_function")
    def decision_function(self, X):
        """Global decision scores (``response_method="decision_function"`` only).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            For each class the highest decision value of any party that knows it;
            with two classes, the second column minus the first.
        """
        scores = self._global_scores(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def margin(self, X, y):
        """Multiparty multiclass margin of labelled rows under the current models.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.
        y : array-like of shape (n_samples,)
            Their classes, among ``classes_``.

        Returns
        -------
        rho : ndarray of shape (n_samples,)
            ``max_{i: y in C_i} h_i(x)_y - max_{i, c in C_i, c != y} h_i(x)_c``;
            a row is classified correctly by the global rule when it is positive.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}.")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds classes {unknown[:5].tolist()} not in classes_.")
        scores = np.stack(
            [
                _party_scores(
                    model, np.searchsorted(self.classes_, c), self.classes_, X, self.response_method
                )
                for model, c in zip(self.estimators_, self.party_classes_)
            ]
        )
        return _mpmc_margin(scores, np.searchsorted(self.classes_, y))[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
