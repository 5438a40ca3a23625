"""Hypothesis transfer: fit a linear model on few target samples, helped by source models.

Kuzborskij & Orabona (ICML'13, MLJ'16): with few target samples, a linear model
regularized toward a source hypothesis (``mode="biased"``) or fitted on top of the
source hypotheses' outputs (``mode="residual"``) generalizes better than one trained
from scratch, as long as the sources are related; learned source weights shrink a
useless source away.
"""

import copy
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.preprocessing import LabelEncoder

from ..utils._clone import SharedModelsMixin
from ..utils._docstrings import fill_doc
from ..utils._features import check_model_fitted
from ..utils._math import power_of_two_scale
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ..utils._validation import (
    all_finite,
    check_classification_targets,
    check_finite_weights,
)
from ..utils._warnings import warn as warn_user
from ._biased_regularization import (
    _logistic_loss_grad,
    _power_of_two_scale,
    evidence_weights,
    fit_biased_logistic,
    fit_biased_ridge,
    prior_mean,
)

__all__ = ["HypothesisTransferClassifier", "HypothesisTransferRegressor"]


# Penalty strengths tried by ``lam="auto"`` (per weight, against a data term summed
# over the samples), each with the source as prior mean, half of it, and none of it.
_STRENGTHS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
# Folds of the held-out log-likelihood by which lam="auto" weighs a classifier's
# candidates (leave-one-out with fewer rows).
_N_FOLDS = 10
# Largest penalty on the weights of a target class no source knows, with lam="auto":
# 1 / (2 C) of scikit-learn's LogisticRegression(C=1).
_NEW_CLASS_PENALTY = 0.5
# Smallest probability whose log a probability-only source gives as a base score.
_PROBA_FLOOR = 1e-3
_EPS = np.finfo(float).eps


def _is_weight_pair(source):
    """Whether ``source`` is a ``(coef, intercept)`` pair rather than a model."""
    return (
        isinstance(source, tuple)
        and len(source) == 2
        and not any(hasattr(part, "predict") or hasattr(part, "fit") for part in source)
    )


def _source_list(source):
    if source is None:
        return []
    if isinstance(source, list):
        if not source:
            raise ValueError("source must not be an empty list.")
        return list(source)
    return [source]


def _source_name(i, n_sources):
    return "source" if n_sources == 1 else f"source[{i}]"


def _check_source_model(model, name, n_features):
    """Fitted-ness and feature count of a model used as a source."""
    if not (hasattr(model, "predict") or hasattr(model, "decision_function")):
        raise TypeError(
            f"{name} must be a fitted estimator with predict or decision_function, or a "
            f"(coef, intercept) pair in mode='biased'; got {type(model).__name__}."
        )
    check_model_fitted(model, name)
    n_in = getattr(model, "n_features_in_", None)
    if n_in is not None and n_in != n_features:
        raise ValueError(f"{name} was fitted on {n_in} features but X has {n_features} features.")


def _linear_weights(source, name, n_features):
    """``(coef (r, d), intercept (r,), classes or None)`` of a linear source."""
    if _is_weight_pair(source):
        coef, intercept = source
        classes = None
    else:
        if not hasattr(source, "coef_") and not hasattr(source, "fit"):
            raise TypeError(
                f"{name} must be a fitted linear model (with coef_ and intercept_) or a "
                f"(coef, intercept) pair in mode='biased'; got {type(source).__name__}."
            )
        check_model_fitted(source, name)
        if not hasattr(source, "coef_"):
            raise TypeError(
                f"{name} ({type(source).__name__}) is not a linear model (no coef_): "
                "mode='biased' needs one; use mode='residual' for any fitted estimator."
            )
        coef, intercept = source.coef_, getattr(source, "intercept_", 0.0)
        classes = getattr(source, "classes_", None)
    coef = np.asarray(coef, dtype=float)
    if coef.ndim == 1:
        coef = coef[None, :]
    if coef.ndim != 2 or coef.shape[1] != n_features:
        raise ValueError(
            f"{name} has weights of shape {coef.shape} but X has {n_features} features."
        )
    intercept = np.broadcast_to(np.asarray(intercept, dtype=float), (coef.shape[0],)).copy()
    check_finite_weights(coef, intercept, name)
    return coef, intercept, classes


def _per_class(A, src_classes, name):
    """Rows of ``A`` (source scores or weights, class axis first), one per source class.

    A binary source has one row, the score of its second class against its first; it
    becomes the two rows ``-a / 2`` and ``a / 2``, which give the same softmax.
    """
    n_src = len(src_classes)
    if A.shape[0] == 1 and n_src == 2:
        return np.concatenate([-A / 2, A / 2])
    if A.shape[0] != n_src:
        raise ValueError(
            f"{name} knows {n_src} classes but gives {A.shape[0]} score rows or columns."
        )
    return A


def _align_classes(A, src_classes, classes, name, *, warn=True):
    """Map the per-class rows of a source to the target's rows.

    Target classes are matched to source classes by label; a target class unknown to
    the source gets zeros, a source class absent from the target is dropped with a
    warning. Returns one row for a binary target (second class minus first) and one
    row per class otherwise.
    """
    n_rows = 1 if len(classes) == 2 else len(classes)
    if src_classes is None:
        if A.shape[0] != n_rows:
            raise ValueError(
                f"{name} has no classes_ to match, so it must give {n_rows} score row(s) or "
                f"weight row(s) for {len(classes)} target classes; got {A.shape[0]}."
            )
        return A
    src_classes = np.asarray(src_classes)
    A = _per_class(A, src_classes, name)
    position = {c: i for i, c in enumerate(src_classes.tolist())}
    dropped = sorted(set(position) - set(np.asarray(classes).tolist()), key=str)
    if dropped and warn:
        warn_user(
            f"{name} classes {dropped} do not occur in the target and are dropped.",
            UserWarning,
        )
    aligned = np.zeros((len(classes),) + A.shape[1:])
    for j, c in enumerate(np.asarray(classes).tolist()):
        if c in position:
            aligned[j] = A[position[c]]
    if len(classes) == 2:
        return aligned[1:] - aligned[:1]
    return aligned


def _source_scores(model, X, *, classes, n_rows, name, warn, log_proba):
    """Base scores ``(n_samples, n_rows)`` of one fitted source model on ``X``.

    A classifier without ``decision_function`` gives its probabilities, or their logs
    when ``log_proba``.
    """
    if classes is not None and hasattr(model, "classes_"):
        if hasattr(model, "decision_function"):
            S = np.asarray(model.decision_function(X), dtype=float)
        else:
            S = np.asarray(model.predict_proba(X), dtype=float)
            if log_proba:
                S = np.log(np.maximum(S, _PROBA_FLOOR))
        S = _finite_scores(S.reshape(S.shape[0], -1), name)
        return _align_classes(S.T, model.classes_, classes, name, warn=warn).T
    if classes is not None and hasattr(model, "decision_function"):
        S = np.asarray(model.decision_function(X), dtype=float)
    else:
        S = np.asarray(model.predict(X), dtype=float)
    S = S.reshape(S.shape[0], -1)
    if n_rows is not None and S.shape[1] != n_rows:
        raise ValueError(f"{name} gives {S.shape[1]} output(s) but the target needs {n_rows}.")
    return _finite_scores(S, name)


def _finite_scores(S, name):
    """``S``, or a clear error when a source's scores are infinite or NaN (every fit and
    prediction built on them would be NaN)."""
    if not all_finite(S):
        raise ValueError(f"{name} gives infinite or NaN scores on X.")
    return S


class _BaseHypothesisTransfer(SharedModelsMixin, BaseEstimator):
    """Shared fitting logic of the hypothesis-transfer classifier and regressor."""

    _shared_params = ("source",)

    _parameter_constraints: dict = {
        "source": "no_validation",
        "lam": [StrOptions({"auto"}), Interval(Real, 0, None, closed="both")],
        "mode": [StrOptions({"biased", "residual"})],
        "source_weights": [None, StrOptions({"learn"}), "array-like"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "source_reg": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "lam_intercept": [Interval(Real, 0, None, closed="both")],
    }

    def _fixed_weights(self, n_sources):
        if self.source_weights is None:
            return np.full(n_sources, 1.0 / max(n_sources, 1))
        weights = np.asarray(self.source_weights, dtype=float)
        if weights.shape != (n_sources,):
            raise ValueError(
                f"source_weights must have one weight per source ({n_sources}), "
                f"got shape {weights.shape}."
            )
        if not np.all(np.isfinite(weights)):
            raise ValueError("source_weights must be finite.")
        return weights

    def _fit(self, X, y, sample_weight):
        for attr in (
            "source_coef_",
            "source_intercept_",
            "sources_",
            "source_weights_",
            "alpha_",
            "n_iter_",
        ):
            self.__dict__.pop(attr, None)
        X_raw = X
        X, y = self._validate_fit_data(X, y)
        sample_weight = _check_sample_weight(sample_weight, X)
        target, n_rows = self._encode_target(y)
        sources = _source_list(self.source)
        n_sources = len(sources)
        d = X.shape[1]
        classes = getattr(self, "classes_", None)
        # What the candidates of one fit share (_fit_candidate): the centred rows, and
        # for the regressor the decomposition of their Gram matrix.
        cache = {}

        if self.mode == "biased":
            if isinstance(self.source_weights, str):
                raise ValueError(
                    "source_weights='learn' needs mode='residual' (with linear sources it "
                    "learns the same model family as mode='biased')."
                )
            weights = self._fixed_weights(n_sources)
            W0, b0 = np.zeros((n_rows, d)), np.zeros(n_rows)
            known = []
            for i, src in enumerate(sources):
                name = _source_name(i, n_sources)
                coef, intercept, src_classes = _linear_weights(src, name, d)
                known.append(src_classes)
                if classes is None:
                    if coef.shape[0] != n_rows:
                        raise ValueError(
                            f"{name} has {coef.shape[0]} output(s) but y has {n_rows}."
                        )
                else:
                    coef = _align_classes(coef, src_classes, classes, name)
                    intercept = _align_classes(
                        intercept[:, None], src_classes, classes, name, warn=False
                    )
                    intercept = intercept[:, 0]
                W0 += weights[i] * coef
                b0 += weights[i] * intercept
            self.source_coef_, self.source_intercept_ = W0, b0

            def fit_one(
                share, strength, lam_intercept=0.0, sample_weight=sample_weight, start=None
            ):
                # Penalty strength * ||W - share * W0||^2 (+ alpha ||W||^2), written as
                # the solver's pull toward W0 plus plain shrinkage.
                lam, alpha = share * strength, (1 - share) * strength + self.alpha
                if np.isinf(strength):
                    lam, alpha = np.inf, self.alpha
                elif self.lam == "auto" and unknown.any():
                    lam = self._new_class_penalty(lam, alpha, strength, unknown, d)
                return self._fit_candidate(
                    X,
                    target,
                    sample_weight,
                    W0=W0,
                    b0=share * b0,
                    lam=lam,
                    alpha=alpha,
                    lam_intercept=lam_intercept,
                    start=start,
                    cache=cache,
                )

            unknown = self._unknown_rows(known, n_rows)
            fit = self._choose(fit_one, target, n_sources > 0, self._prior_knows(unknown))
            self.lam_, self.alpha_ = float(np.max(fit["lam"])), float(fit["alpha"])
            coef, intercept = fit["coef"], fit["intercept"]
        else:
            for i, src in enumerate(sources):
                _check_source_model(src, _source_name(i, n_sources), d)
            self.sources_ = [copy.deepcopy(src) for src in sources]
            learn = self.source_weights == "learn"
            # With fixed weights, log-probabilities: the base scores alone (share 1, no
            # correction) are then the source's own probabilities under the softmax.
            # Raw probabilities cap the source's confidence at a logit gap of 1 (a
            # posterior of at most e / (e + 9) with 10 classes), so the choice of the
            # strength (then by the evidence) rewarded any correction that sharpened
            # them, and in the demo a correction of 64 raw pixels fitted on 10-20 rows
            # lost 3 points to the source. Learned weights set the source's temperature
            # themselves; bounded probabilities keep their penalty ``source_reg``
            # meaningful (a useless tree's floored log-probabilities, ten times larger,
            # were fitted to noise).
            self._log_proba = not learn
            # Learned weights take every output column of a source as a feature, so
            # its output count need not match the target's.
            G = self._base_scores(X_raw, None if learn else n_rows, warn=True)
            H = G.shape[1]
            if learn and n_sources:
                # GreedyTL-style: every source score column is a feature of every output,
                # its weight pulled toward zero, so a useless source gets weight ~0.
                XG = np.hstack([X, G])

                def fit_one(
                    share, strength, lam_intercept=0.0, sample_weight=sample_weight, start=None
                ):
                    lam = np.r_[np.full(d, strength), np.full(H, self.source_reg)]
                    if np.isinf(strength):
                        # No correction (the solvers take an infinite penalty on all
                        # weights or none): only the source weights are learned.
                        fit = self._fit_candidate(
                            G,
                            target,
                            sample_weight,
                            lam=lam[d:],
                            lam_intercept=lam_intercept,
                            cache=cache,
                        )
                        fit["coef"] = np.hstack([np.zeros((len(fit["coef"]), d)), fit["coef"]])
                        fit["center"] = np.r_[np.zeros(d), fit["center"]]
                        fit["lam"] = lam
                        return fit
                    return self._fit_candidate(
                        XG,
                        target,
                        sample_weight,
                        lam=lam,
                        lam_intercept=lam_intercept,
                        start=start,
                        cache=cache,
                    )

                # The learned source weights already shrink a useless source: only the
                # strength of the correction is chosen, and it must stay finite.
                # (Every weight, the source's included, is pulled toward zero: no prior
                # knows a class.)
                fit = self._choose(fit_one, target, False)
                coef, B = fit["coef"][:, :d], fit["coef"][:, d:]
                self.lam_ = float(fit["lam"][0])
            else:
                B = np.zeros((n_rows, 0))
                if n_sources:
                    weights = self._fixed_weights(n_sources)
                    B = np.hstack([w * np.eye(n_rows) for w in weights])
                GB = G @ B.T

                unknown = self._unknown_rows(
                    [getattr(src, "classes_", None) for src in sources], n_rows
                )
                # The correction is in the units of the inputs, and nothing else sets its
                # scale: the grid's strengths are per unit of the inputs' variance, so
                # that rescaling X does not change the fit. (On raw pixels of variance
                # ~20 the strongest candidate was too weak to keep the source.)
                unit = _mean_variance(X, sample_weight) if self.lam == "auto" else 1.0

                def fit_one(
                    share, strength, lam_intercept=0.0, sample_weight=sample_weight, start=None
                ):
                    lam = strength
                    if self.lam == "auto" and unknown.any():
                        lam = self._new_class_penalty(strength, 0.0, strength, unknown, d)
                    fit = self._fit_candidate(
                        X,
                        target,
                        sample_weight,
                        lam=unit * lam,
                        offset=share * GB,
                        lam_intercept=lam_intercept,
                        start=start,
                        cache=cache,
                    )
                    fit["share"] = share
                    return fit

                fit = self._choose(fit_one, target, n_sources > 0, self._prior_knows(unknown))
                coef, B = fit["coef"], fit["share"] * B
                self.lam_ = float(np.max(fit["lam"]))
            intercept = fit["intercept"]
            self.source_weights_ = B
        if not (all_finite(coef) and all_finite(intercept)):
            # Finite data and sources, but weights beyond float64's range (targets near
            # its top on inputs near zero, with little or no penalty).
            raise ValueError(
                "The fitted weights overflowed float64 (beyond about 1.8e308): y is too "
                "large for inputs of this scale; rescale y or X."
            )
        self.coef_, self.intercept_ = coef, intercept
        return self

    def _prior_knows(self, unknown):
        """Which classes the sources know, from the weight rows ``unknown`` to them
        (None for a regressor; a binary classifier's one row serves both classes)."""
        classes = getattr(self, "classes_", None)
        if classes is None:
            return None
        if len(unknown) != len(classes):
            return np.ones(len(classes), dtype=bool)
        return ~unknown

    def _unknown_rows(self, source_classes, n_rows):
        """Which weight rows belong to a target class that no source knows."""
        classes = getattr(self, "classes_", None)
        if classes is None or n_rows != len(classes) or any(c is None for c in source_classes):
            return np.zeros(n_rows, dtype=bool)
        known = set().union(*(np.asarray(c).tolist() for c in source_classes))
        return np.array([c not in known for c in classes.tolist()])

    @staticmethod
    def _new_class_penalty(lam, alpha, strength, unknown, d):
        """Per-weight pull: a class no source knows has no source weights to keep.

        Its row (prior mean zero) gets a total penalty of at most
        ``_NEW_CLASS_PENALTY`` (that of ``LogisticRegression(C=1)``), or the
        candidate's strength when smaller, so that a strong pull toward the source
        does not also forbid learning the new class.
        """
        rows = np.full((len(unknown), d), float(lam))
        rows[unknown] = max(0.0, min(strength, _NEW_CLASS_PENALTY) - alpha)
        return rows

    def _fit_candidate(
        self,
        X,
        target,
        sample_weight,
        *,
        W0=None,
        b0=None,
        lam,
        alpha=0.0,
        offset=None,
        lam_intercept,
        start=None,
        cache=None,
    ):
        """Fit with these penalties; the fit and what it was fitted with.

        The fit runs on the inputs centred at the rows' weighted mean ``m``: the
        intercept is then the score at the centre of the rows, and ``b0`` the prior's
        score there (``b0 + P @ m``, ``P = lam W0 / (lam + alpha)`` being the prior mean
        of the weights under the two penalties, ``W0`` where ``lam`` is infinite and 0
        where there is no penalty). The prior's mean function is that of the
        uncentred fit; the prior is tight at the target rows rather than at the
        origin. So the fit does not depend on where the origin of the inputs lies:
        inputs and source shifted by a constant give the same model, its intercept
        shifted to match. Pulled at the
        origin, an intercept cost 3 points of accuracy at an offset of 1e3 times the
        spread, and at 1e7-1e8 the no-source candidates (the fall-back) gave uniform
        probabilities. (In the reuse-gain benchmark, where the origin lies between the
        source's rows and the target's, this cost 1.1-1.6 points in the ``shift``
        family on digits and gained 0.4-1.5 in the ``classes`` family. Keeping the
        looser prior that the pull at the origin gave the score at the centre,
        strength ``lam_intercept / (1 + m @ m)``, recovered the first, but on raw digit
        pixels with one or two rows per class it left the intercept all but free, and
        the residual fit lost 4 points to its source.) The fit's ``X`` and
        ``intercept`` are the centred ones (what the criterion scores); :meth:`_uncentred`
        gives the intercept at the origin. ``start``: a fit with the same penalties to
        start the solver from (on nearly the same rows), moved to this centre.
        ``cache``: a dict that the candidates of one fit share; the rows centred for the
        last ``X`` and ``sample_weight`` (the same arrays) are kept there, so that the
        candidates fitted in a row on them share one copy, and the solver may keep
        more (:meth:`_solve`). Each fit refers to it as ``fit["cache"]``.
        """
        cache = {} if cache is None else cache
        prior = None if W0 is None else prior_mean(W0, lam, alpha)
        # (Validation refuses weights that are all zero.)
        if self.fit_intercept:
            last = cache.get("centred")
            if last is not None and last[0] is X and last[1] is sample_weight:
                center, X = last[2], last[3]
            else:
                center = sample_weight @ X / sample_weight.sum()
                cache["centred"] = (X, sample_weight, center, X - center)
                X = cache["centred"][3]
            b0 = 0.0 if b0 is None else b0
            if prior is not None:
                b0 = b0 + prior @ center
        else:
            center = np.zeros(X.shape[1])
        if start is not None:
            start = start["coef"], start["intercept"] + start["coef"] @ (center - start["center"])
        coef, intercept = self._solve(
            X,
            target,
            sample_weight,
            W0,
            lam=lam,
            alpha=alpha,
            b0=b0,
            lam_intercept=lam_intercept,
            offset=offset,
            start=start,
            cache=cache,
        )
        return dict(
            X=X,
            sample_weight=sample_weight,
            coef=coef,
            intercept=intercept,
            lam=lam,
            alpha=alpha,
            offset=offset,
            center=center,
            cache=cache,
            prior=prior,
        )

    @staticmethod
    def _uncentred(fit):
        """``fit`` with its intercept moved from the centre of its rows to the origin."""
        fit = dict(fit)
        fit["intercept"] = fit["intercept"] - fit["coef"] @ fit["center"]
        return fit

    def _choose(self, fit_one, target, has_source, prior_knows=None):
        """Fit with ``lam`` as given, or combine the candidates of the ``lam="auto"`` grid.

        ``fit_one(share, strength)`` fits the model whose prior mean is ``share`` times
        the source and whose penalty is ``strength``. With ``lam="auto"`` the candidates
        are every strength of ``_STRENGTHS`` with the source kept (share 1), halved
        (share 0.5) or dropped (share 0: the target-only model), plus, for the
        regressor, the source's weights as they are (infinite strength);
        ``self._candidate_weights``
        turns their ``self._candidate_scores(fits, refit, target, prior_knows)`` (higher
        is better; ``refit(j, sample_weight)`` refits candidate ``j`` with other sample
        weights) into weights, and the weights and
        intercepts (and the share of the base scores) are averaged with them. The
        returned fit's other entries are those of the candidate with the largest weight.
        ``prior_knows``: which classes the source's prior knows (a classifier's held-out
        scores skip rows of a class that neither the prior nor the rows fitted to know).
        """
        if self.lam != "auto":
            self.candidates_ = np.array([[1.0, self.lam]])
            self.candidate_weights_ = np.ones(1)
            return self._uncentred(fit_one(1.0, self.lam, lam_intercept=self.lam_intercept))
        shares = (1.0, 0.5, 0.0) if has_source else (1.0,)
        grid = [(1.0, np.inf)] if has_source and not is_classifier(self) else []
        grid += [(share, strength) for share in shares for strength in _STRENGTHS[::-1]]

        def pull(strength):
            # For a classifier a candidate is a prior over the whole model: the intercept
            # is pulled toward the same share of the source's as the weights, at least
            # as strongly (a free intercept fitted on one or two rows per class moves
            # the source's boundary). A regressor's evidence integrates the intercept
            # out under a flat prior, so its candidates leave it free (as
            # ``lam_intercept`` says): the source's level is not trusted unseen (kept,
            # a source whose level a drift of the inputs had moved kept a quarter of the
            # weight, and the model lost 0.36 of R^2 to the target's own fit; see lam).
            if is_classifier(self):
                return max(strength, self.lam_intercept)
            return self.lam_intercept

        fits = [fit_one(share, strength, lam_intercept=pull(strength)) for share, strength in grid]

        def refit(j, sample_weight):
            share, strength = grid[j]
            return fit_one(
                share, strength, pull(strength), sample_weight=sample_weight, start=fits[j]
            )

        weights = self._candidate_weights(
            self._candidate_scores(fits, refit, target, prior_knows if has_source else None),
            np.array([share for share, _ in grid]),
        )
        self.candidates_, self.candidate_weights_ = np.array(grid), weights
        fits = [self._uncentred(f) for f in fits]
        fit = fits[int(np.argmax(weights))]
        for key in ("coef", "intercept", "share"):
            if key in fit:
                fit[key] = sum(w * f[key] for w, f in zip(weights, fits))
        return fit

    def _base_scores(self, X, n_rows, warn=False):
        """Base scores of ``sources_`` side by side; ``n_rows=None`` skips the count check."""
        classes = getattr(self, "classes_", None)
        n_sources = len(self.sources_)
        blocks = [
            _source_scores(
                src,
                X,
                classes=classes,
                n_rows=n_rows,
                name=_source_name(i, n_sources),
                warn=warn,
                log_proba=self._log_proba,
            )
            for i, src in enumerate(self.sources_)
        ]
        return np.hstack(blocks) if blocks else np.zeros((_num_rows(X), 0))

    def _linear_scores(self, X):
        X_raw = X
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        coef = np.atleast_2d(self.coef_)
        scores = X @ coef.T + self.intercept_
        if hasattr(self, "sources_") and self.sources_:
            scores = scores + self._base_scores(X_raw, None) @ self.source_weights_.T
        return scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class _WeightedGram:
    """The weighted Gram matrix ``G = X' diag(s) X`` of some rows, decomposed once for
    the ridge fits on them with a penalty ``p``: their weights and the Occam factor of
    their evidence, ``log det(I + G diag(p)^-1)``.

    ``X`` is divided by a power of two (exact) so that the Gram matrix cannot overflow;
    the fit and the log-determinant are the same for ``X / c`` with the penalty over
    ``c**2``. With the same penalty on every weight (every candidate of ``lam="auto"``
    but those of learned source weights) both come from the eigendecomposition of ``G``,
    computed once for all the candidates, from the ``n x n`` matrix of the rows when
    there are fewer rows than features (its non-zero eigenvalues are those of ``G``, and
    the weights are then combinations of the rows): the log-determinant is
    ``sum(log(1 + e / p))`` over the eigenvalues ``e``. Positive penalties that differ
    (learned source weights: one for the inputs' weights, one for the sources') are made
    uniform by scaling the columns, one (smaller) eigenvalue problem per candidate.
    """

    def __init__(self, X, s):
        self.X, self.s = X, s
        self.scale = _power_of_two_scale(X)
        self._decomposition = None

    def matches(self, X, s):
        """Whether ``X`` and ``s`` are the rows and weights of this matrix."""
        if X is self.X and s is self.s:
            return True
        return X.shape == self.X.shape and np.array_equal(X, self.X) and np.array_equal(s, self.s)

    def _rows(self):
        return self.X / self.scale * np.sqrt(self.s)[:, None]

    @staticmethod
    def _gram_eigenvalues(A, vectors=False):
        """Eigenvalues of ``A' A`` (and the eigenvectors of the matrix they come from),
        from the smaller of ``A' A`` and ``A A'`` (their non-zero eigenvalues are the
        same); None when that matrix overflows."""
        with np.errstate(over="ignore", invalid="ignore"):
            small = A @ A.T if A.shape[0] < A.shape[1] else A.T @ A
        if not all_finite(small):
            return None
        # A Gram matrix is positive semi-definite: negative eigenvalues are rounding errors
        # around zero.
        if not vectors:
            return np.clip(np.linalg.eigvalsh(small), 0.0, None)
        e, V = np.linalg.eigh(small)
        return np.clip(e, 0.0, None), V

    def _eigen(self):
        """The eigenvalues and eigenvectors of the smaller side, once (None on overflow)."""
        if self._decomposition is None:
            self._decomposition = self._gram_eigenvalues(self._rows(), vectors=True) or False
        return self._decomposition or None

    def _tolerance(self, e):
        # lstsq's on the d x d system: below it an eigenvalue is rounding error.
        return np.max(e, initial=0.0) * self.X.shape[1] * np.finfo(e.dtype).eps

    def log_det(self, penalty):
        """``log det(I + G diag(penalty)^-1)`` for a positive penalty per weight: the
        Occam factor of the evidence of a ridge fit (``sum(log(1 + e / p))`` over the
        eigenvalues ``e`` of ``G``); infinite where the Gram matrix overflows or a
        penalty is zero (an improper prior)."""
        p = np.asarray(penalty, dtype=float) / self.scale / self.scale
        if not np.all(p > 0):
            return np.inf
        if p.size and np.all(p == p.flat[0]):
            eigen = self._eigen()
            e = None if eigen is None else eigen[0]
            p = p.flat[0]
        else:
            # G + D = D^(1/2) (B' B + I) D^(1/2) with B = A D^(-1/2).
            e = self._gram_eigenvalues(self._rows() / np.sqrt(p))
            p = 1.0
        if e is None:
            return np.inf
        return float(np.sum(np.log1p(e / p)))

    def ridge(self, Rs, penalty):
        """``V`` of shape ``(k, d)`` minimizing ``||S^(1/2) X V' - Rs||^2 + penalty
        ||V||_F^2`` (``Rs`` the weighted residuals ``S^(1/2) R``; ``penalty`` a float, or
        one per weight), or None when the penalties differ or the decomposition
        overflowed: the caller then solves.

        ``(G + p I)^+ X' S^(1/2) Rs`` through the eigenvectors, a product of the rows and
        ``d`` or ``n`` columns per candidate instead of a Gram matrix and a solve. Eigenvalues
        that the penalty lifts by less than rounding error (no penalty, or one that
        vanishes next to the data's scale, on collinear columns) are left out: the
        minimum-norm solution, as ``lstsq`` gives.
        """
        p = np.asarray(penalty, dtype=float) / self.scale / self.scale
        if p.size != 1 and not np.all(p == p.flat[0]):
            return None
        eigen = self._eigen()
        if eigen is None:
            return None
        e, V = eigen
        lifted = e + p.flat[0]
        inverse = np.divide(1.0, lifted, out=np.zeros_like(e), where=lifted > self._tolerance(e))
        # The weighted rows A = S^(1/2) X / c are not formed: A' u = X' (S^(1/2) u) / c.
        root = np.sqrt(self.s)[:, None]
        n, d = self.X.shape
        if n < d:
            # Dual: V' = A' (A A' + p I)^+ Rs.
            coef = self.X.T @ (root * (V @ (inverse[:, None] * (V.T @ Rs))))
        else:
            coef = V @ (inverse[:, None] * (V.T @ (self.X.T @ (root * Rs))))
        return coef.T / self.scale / self.scale


def _find_gram(grams, X, s):
    """The :class:`_WeightedGram` of ``grams`` for rows ``X`` and weights ``s``; a new
    one, appended to ``grams``, when there is none."""
    gram = next((g for g in grams if g.matches(X, s)), None)
    if gram is None:
        gram = _WeightedGram(X, s)
        grams.append(gram)
    return gram


def _shared_gram(cache, X, s):
    """:func:`_find_gram` among the Gram matrices of the candidates of one fit."""
    return _find_gram(cache.setdefault("grams", []), X, s)


def _mean_variance(X, sample_weight):
    """Mean over the columns of their weighted variance (1 when it is 0 or undefined)."""
    total = sample_weight.sum()
    if total <= 0:
        return 1.0
    mean = sample_weight @ X / total
    unit = float(np.mean(sample_weight @ (X - mean) ** 2) / total)
    return unit if unit > 0 and np.isfinite(unit) else 1.0


def _num_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _folds(X, target, sample_weight):
    """Fold of every row for the held-out scores of ``lam="auto"`` (-1: weight zero).

    The rows of positive weight form groups, identical rows of a class together (so a
    row of integer weight ``k`` is held out as its ``k`` copies would be, and weights act
    as repeated rows). ``min(n, _N_FOLDS)`` folds over the ``n`` groups (none when
    ``n < 2``), stratified: the groups sorted by class, then by their projection on a
    fixed random direction, are dealt out in turn. The folds depend on the rows, not on
    their order, so permuting the rows does not change the fit.
    """
    rows = np.flatnonzero(sample_weight > 0)
    folds = np.full(len(target), -1)
    _, first, inverse = np.unique(
        np.column_stack([target[rows], X[rows]]), axis=0, return_index=True, return_inverse=True
    )
    n_folds = min(len(first), _N_FOLDS)
    if n_folds < 2:
        return folds
    key = X[rows[first]] @ np.random.RandomState(0).standard_normal(X.shape[1])
    group_fold = np.empty(len(first), dtype=int)
    group_fold[np.lexsort((key, target[rows[first]]))] = np.arange(len(first)) % n_folds
    folds[rows] = group_fold[inverse.ravel()]
    return folds


def _log_likelihood(fit, target, sample_weight, rows):
    """Weighted log-likelihood of the labels ``target`` of ``rows`` under a classifier's
    candidate ``fit`` (scores from its centred inputs, one column when binary): minus
    the solver's log-loss."""
    Z = fit["X"][rows] @ fit["coef"].T + fit["intercept"]
    if fit["offset"] is not None:
        Z = Z + fit["offset"][rows]
    binary = Z.shape[1] == 1
    one_hot = None if binary else np.eye(Z.shape[1])[target]
    return -float(_logistic_loss_grad(Z, one_hot, target, sample_weight, binary)[0])


_COMMON_DOC = """
    Parameters
    ----------
    source : estimator, (coef, intercept) pair, list of them, or None, default=None
        The source hypothesis (or hypotheses), never modified; clones of this
        estimator share it rather than refitting it. In ``mode="biased"``: a
        fitted linear model (``coef_``, ``intercept_``, e.g. {linear}) or a
        ``(coef, intercept)`` pair. In ``mode="residual"``: any fitted estimator, whose
        {scores} are the base scores. ``None`` means no source: the zero hypothesis,
        so the model is plain {plain} with penalty ``lam + alpha`` (``mode="biased"``)
        or ``lam`` (``mode="residual"``).
    lam : "auto" or float, default="auto"
        Strength of the penalty ``lam * ||W - W_src||^2`` pulling the weights toward the
        source weights (``mode="biased"``), or of ``lam * ||Delta||^2`` on the weights
        added to the base scores (``mode="residual"``). ``0`` gives the target-only
        model (with ``alpha``), ``np.inf`` the source itself. ``"auto"`` decides, on the
        target rows, both how much of the source to keep and how strongly. The
        candidates have the source, half of it or nothing (the target-only model,
        ridge-shrunk) as prior mean, each with a strength among ``0.1, 0.3, ..., 100``
        (when a target class is unknown to every source, that class's weights,
        centred on zero, are penalized by at most 0.5, as in
        ``LogisticRegression(C=1)``); {criterion} ``candidates_`` and
        ``candidate_weights_`` list them; ``lam_`` and ``alpha_`` (``mode="biased"``)
        are those of the candidate with the largest weight, ``source_weights_``
        (``mode="residual"``, where half the source means half its base scores) the
        averaged ones. In ``mode="residual"`` with fixed source weights the strengths
        are per unit of the inputs' variance (multiplied by the mean variance of the
        columns of ``X``; ``lam_`` is the penalty applied), so rescaling ``X`` does not
        change the fit. With ``source_weights="learn"`` only the strength of the
        correction varies.
    mode : {{"biased", "residual"}}, default="biased"
        ``"biased"``: biased regularization toward a linear source,
        ``f(x) = W x + b``. ``"residual"``: ``f(x) = sum_i beta_i g_i(x) + Delta x + b``
        on the base scores ``g_i`` of any fitted sources.
    source_weights : array-like of shape (n_sources,), "learn" or None, default=None
        Weights ``beta`` of the sources. ``None``: ``1 / n_sources`` each (so ``1`` for
        one source). An array: those weights (``mode="biased"`` combines the source
        weights, ``W_src = sum_i beta_i W_i``). ``"learn"`` (``mode="residual"`` only):
        every base-score column becomes a feature of every output, with penalty
        ``source_reg``, so a useless or adversarial source gets weights near zero
        (GreedyTL's model, without its greedy subset selection).
    alpha : float, default=0.0
        Plain L2 penalty ``alpha * ||W||^2`` in ``mode="biased"`` (the L2-SP form);
        not used in ``mode="residual"``.
    source_reg : float, default=1.0
        Penalty ``source_reg * ||beta||^2`` on learned source weights
        (``source_weights="learn"``).
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    lam_intercept : float, default=0.0
        Pull ``lam_intercept * ||b - b_src||^2`` of the intercept toward the source's
        (``mode="biased"``; toward zero in ``mode="residual"``). ``0`` leaves the
        intercept free: a shift of the target's base rate is not penalized. The
        intercept pulled is the one at the centre of the target rows (their weighted
        mean ``m``): ``W m + b`` toward the prior's score there, ``W_src m + b_src``
        (``W_src`` scaled as the prior mean of the weights). Inputs shifted by a
        constant then give the same model, its ``intercept_`` shifted to match,
        whatever ``lam_intercept`` (and ``lam="auto"``, which pulls the intercept of a
        classifier).
"""


@fill_doc(
    hypothesis_transfer_params=_COMMON_DOC.format(
        linear="``LogisticRegression``, ``LinearSVC``, ``RidgeClassifier``",
        scores="``decision_function`` (or else the logs of ``predict_proba``, "
        "floored at 1e-3, so that the source alone keeps its probabilities; the "
        "probabilities themselves with ``source_weights='learn'``), matched to the "
        "target classes by label,",
        plain="L2-regularized logistic regression",
        criterion="the fitted model is their average, weighted by how well each "
        "predicts target rows it was not fitted to: the rows are dealt into at most 10 "
        "folds, stratified by class (one row each, i.e. leave-one-out, with fewer "
        "rows; identical rows together, so integer weights act as repeated rows), and "
        "each fold is held out in turn by zeroing its sample weights, so its classes "
        "stay in the model, at the candidate's prior where no other row has them (a "
        "held-out row of a class that neither a source nor another row knows is not "
        "scored). The weights are the exponentials of the summed log-probabilities of "
        "the held-out labels, each class's rows scaled to weigh as much as any other "
        "class's, times a prior that gives the candidates without the source as much "
        "mass together as those with it (even odds on reusing it), normalized over the "
        "candidates (pseudo-Bayesian model averaging, "
        "Geisser and Eddy 1979; Yao et al. 2018). The posterior odds then decide "
        "whether the source is reused: the kind of candidate (with or without the "
        "source) of smaller posterior mass gets no weight (on an exact tie, e.g. when "
        "no row can be scored, the source is kept). Averaging across the two kinds "
        "pulled the target's own fits toward a useless source: with a source fitted "
        "to shuffled labels, on shifted wine and breast cancer (seeds 100-109), the "
        "average lost 20.9 points to the target-only model with one row per class of "
        "wine and 1.3-3.6 points with 3-5 rows, deciding first loses 6.6 and 0.8-1.4 "
        "(0.0 with 10 rows); on the reuse-gain benchmark's other families no cell "
        "moved by more than 0.6 point (shifted wine with 10 rows per class gained 0.5, "
        "wine with unseen classes and 5 rows lost 0.4-0.6). The price: a perfect "
        "source can be dropped when the held-out rows are very few (two rows per "
        "class, 2 draws in 20 in the tests). No other odds do better on both the "
        "benchmark's shifted and useless sources at one or three rows per class "
        "(``benchmarks/bench_reuse_prior.py``): a good source that misses one of its two "
        "shots is kept only above a prior probability of reuse of about 0.84, where a "
        "useless one costs 32.5 points on wine with one row per class. "
        "In the reuse-gain "
        "benchmark this beat the candidates' Laplace evidence (MacKay 1992), whose "
        "Occam factor favoured strong pulls in many dimensions: by 1.4-2.1 points on "
        "the shifted digits with 3-10 rows per class and 1.8-3.2 points on digits "
        "with unseen classes and 3-5 rows per class; it lost at most 0.6 point "
        "elsewhere. Averaging keeps the strengths (and shares) of the kept kind in the "
        "mix, where picking the single best candidate followed the noise of a few "
        "held-out rows. The fits of a fold start from the candidate's fit on all the "
        "rows; with ``k`` folds, ``lam='auto'`` costs ``k + 1`` fits per candidate "
        "(3.5-4.3 times the time of the evidence in that benchmark; on 898 rows of "
        "digits, 64 features and 10 classes, 5.6 s instead of 1.0 s). On a large target "
        "a fixed ``lam``, or ``GridSearchCV`` over a few, is cheaper.",
    ).strip()
)
class HypothesisTransferClassifier(ClassifierMixin, _BaseHypothesisTransfer):
    """Logistic regression on few target samples, helped by source hypotheses.

    In ``mode="biased"`` minimizes the weighted log-loss plus
    ``lam * ||W - W_src||^2 + alpha * ||W||^2`` by L-BFGS on the exact objective and
    gradient: binary targets use one weight row, multiclass targets the multinomial
    loss. Source classes are matched to the target's ``classes_`` by label: a target
    class the source does not know starts from zero weights, a source class absent
    from the target is dropped with a warning.

    %(hypothesis_transfer_params)s
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations.
    tol : float, default=1e-8
        Tolerance of L-BFGS on the objective's gradient (per unit of sample weight).
        Tight by default: with ``lam="auto"`` the candidates' weights exponentiate
        their held-out log-likelihoods, which move with the fitted weights. After
        L-BFGS, Newton steps polish each fit to rounding error.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights on the inputs (``Delta`` in ``mode="residual"``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercept.
    source_coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The combined source weights ``W_src`` matched to ``classes_``
        (``mode="biased"`` only).
    source_intercept_ : ndarray of shape (1,) or (n_classes,)
        The combined source intercept (``mode="biased"`` only).
    sources_ : list of estimators
        Deep copies of the sources (``mode="residual"`` only).
    source_weights_ : ndarray of shape (n_rows, n_base_scores)
        Weight of every base-score column (``n_rows`` per source, matched to
        ``classes_``) in every decision row (``mode="residual"`` only; fixed weights
        give ``beta_i`` times the identity per source).
    n_iter_ : int
        Largest number of L-BFGS iterations run by one fit (with ``lam="auto"``, one fit
        per candidate and held-out fold).
    lam_ : float
        The pull toward the source: ``lam``, or that of the candidate with the largest
        weight with ``lam="auto"`` (in ``mode="biased"``, ``share * strength``).
    alpha_ : float
        The plain L2 penalty (``mode="biased"`` only): ``alpha``, plus
        ``(1 - share) * strength`` of the candidate with the largest weight with
        ``lam="auto"``.
    candidates_ : ndarray of shape (n_candidates, 2)
        ``(share, strength)`` of every candidate: the share of the source in the prior
        mean and the penalty; one row ``(1, lam)`` when ``lam`` is a number.
    candidate_weights_ : ndarray of shape (n_candidates,)
        Weight of every candidate in the fitted model (from the held-out
        log-likelihoods, summing to 1; zero for every candidate of the kind, with or
        without the source, that the posterior odds dropped).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    HypothesisTransferRegressor : The same for regression, in closed form.
    skreuse.deep.HypothesisTransferNet : L2-SP fine-tuning of a deep network.
    sklearn.linear_model.LogisticRegression : The target-only model (``lam=0``).

    Notes
    -----
    With ``lam=0`` and ``alpha = 1 / (2 C)`` the model is scikit-learn's
    ``LogisticRegression(C=C)``; as ``lam`` grows it tends to the source. In
    ``mode="residual"`` the sources are evaluated again at prediction time.

    References
    ----------
    .. [1] I. Kuzborskij and F. Orabona, "Stability and hypothesis transfer
       learning", ICML 2013.
    .. [2] I. Kuzborskij and F. Orabona, "Fast rates by transferring from auxiliary
       hypotheses", Machine Learning 106, 2017.
    .. [3] I. Kuzborskij, F. Orabona and B. Caputo, "Scalable greedy algorithms for
       transfer learning", CVIU 158, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skreuse.training import HypothesisTransferClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> source = LogisticRegression().fit(X[:400], y[:400])
    >>> rng = np.random.RandomState(0)
    >>> few = np.r_[rng.choice(np.flatnonzero(y[400:] == 0), 5),
    ...             rng.choice(np.flatnonzero(y[400:] == 1), 5)] + 400
    >>> clf = HypothesisTransferClassifier(source, lam=1.0).fit(X[few], y[few])
    >>> clf.coef_.shape
    (1, 30)
    >>> bool(clf.score(X[400:], y[400:]) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **_BaseHypothesisTransfer._parameter_constraints,
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        source=None,
        *,
        lam="auto",
        mode="biased",
        source_weights=None,
        alpha=0.0,
        source_reg=1.0,
        fit_intercept=True,
        lam_intercept=0.0,
        max_iter=1000,
        tol=1e-8,
    ):
        self.source = source
        self.lam = lam
        self.mode = mode
        self.source_weights = source_weights
        self.alpha = alpha
        self.source_reg = source_reg
        self.fit_intercept = fit_intercept
        self.lam_intercept = lam_intercept
        self.max_iter = max_iter
        self.tol = tol

    def _validate_fit_data(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        return X, y

    def _encode_target(self, y):
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y must contain at least 2 classes; got only one class, {self.classes_[0]!r}."
            )
        n_rows = 1 if len(self.classes_) == 2 else len(self.classes_)
        return encoder.transform(y), n_rows

    def _solve(
        self, X, target, sample_weight, W0, *, lam, alpha, b0, lam_intercept, offset, start, cache
    ):
        coef, intercept, n_iter = fit_biased_logistic(
            X,
            target,
            len(self.classes_),
            W0,
            b0,
            lam=lam,
            alpha=alpha,
            sample_weight=sample_weight,
            fit_intercept=self.fit_intercept,
            lam_intercept=lam_intercept,
            max_iter=self.max_iter,
            tol=self.tol,
            offset=offset,
            return_n_iter=True,
            start=start,
        )
        self.n_iter_ = max(self.__dict__.get("n_iter_", 0), n_iter)
        return coef, intercept

    def _candidate_scores(self, fits, refit, target, prior_knows):
        """Log-likelihood of the target labels held out from each candidate's fit.

        The rows are dealt into folds (:func:`_folds`, at most ``_N_FOLDS``: one row
        each, i.e. leave-one-out, when there are fewer rows). A fold is held out by
        zeroing its sample weights, so the classes stay those of all the rows: a class
        whose every row is held out keeps the candidate's prior for it (the source's
        weights, or a share of them), and is scored on its rows. Even with one row per
        class every candidate is thus judged on rows it was not fitted to. A held-out
        row of a class that no source knows (``prior_knows``) and no row left in the fit
        has is skipped: every candidate gives that class the same zero weights, so the
        row would only reward the candidates least confident elsewhere. (On the
        ``classes`` family of the reuse-gain benchmark, one row per class, 40 % of the
        classes unknown: with such rows scored, 0.606 instead of 0.680 on digits and
        0.887 instead of 0.894 on wine; in ``mode="residual"``, where they favoured
        a tempered source, 0.757 instead of 0.694 on digits but 0.909 instead of
        0.913 on wine.) When no row can be scored, the candidates weigh the same.

        Each class's rows are scaled to weigh as much in the score as any other class's.
        With one row of every other class and eight of the rest, the unscaled score
        followed the well-labelled classes: 0.941 instead of 0.946 on shifted wine and
        0.948 instead of 0.953 on shifted breast cancer (20 draws).
        """
        sample_weight = fits[0]["sample_weight"]
        folds = _folds(fits[0]["X"], target, sample_weight)
        n_classes = len(self.classes_)
        knows = np.zeros(n_classes, dtype=bool) if prior_knows is None else prior_knows
        # Every class's rows weigh as much in the score as any other class's (their
        # weights scaled to the mean class total), so the best-labelled classes do not
        # decide alone; with as many rows of every class the scale is 1.
        totals = np.bincount(target, weights=sample_weight, minlength=n_classes)
        present = totals > 0
        scale = np.zeros(n_classes)
        scale[present] = totals[present].mean() / totals[present]
        balanced = sample_weight * scale[target]
        scores = np.zeros(len(fits))
        for fold in range(folds.max() + 1):
            held = folds == fold
            kept = np.where(held, 0.0, sample_weight)
            informed = knows | (np.bincount(target, weights=kept, minlength=n_classes) > 0)
            scored = held & informed[target]
            if not scored.any():
                continue
            for j in range(len(fits)):
                fit = refit(j, kept)
                scores[j] += _log_likelihood(fit, target[scored], balanced[scored], scored)
        return scores

    @staticmethod
    def _candidate_weights(log_likelihood, shares, reuse_prior=0.5):
        # Held-out log-likelihoods exponentiated and normalized over the candidates
        # (pseudo-Bayesian model averaging, Geisser and Eddy 1979; Yao et al. 2018), with
        # even prior odds on reusing the source or not (the candidates without it, share
        # 0, have half the prior mass together; ``reuse_prior`` is the other half, the
        # mass of those with it: benchmarks/bench_reuse_prior.py shows what other values
        # trade). The odds then decide between the two:
        # the weights of the other kind are zeroed, and the weights and intercepts are
        # averaged over the kept kind. With a few rows, averaging keeps the strengths
        # (and shares) in the mix where picking the best on held-out rows followed the
        # noise of a few rows; averaging a fit pulled toward a useless source with the
        # target's own fits gave a model worse than either (Notes).
        none = shares == 0
        if none.all() or not none.any():
            return evidence_weights(log_likelihood)
        # Each kind's posterior mass, up to a common factor: its prior mass times the mean
        # likelihood of its candidates (a uniform prior within each kind). Means, not sums
        # of normalized weights: on an exact tie (nothing scored) the two are then equal
        # to the last bit, and the source is kept, whatever the number of candidates (the
        # normalized weights of two without the source against three with it summed to
        # 0.5 + 1e-16, and dropped it).
        top = np.max(log_likelihood)
        # (No finite score: every candidate as likely, as in evidence_weights.)
        likelihood = np.exp(log_likelihood - top) if np.isfinite(top) else np.ones(len(shares))
        drop = (1 - reuse_prior) * likelihood[none].mean() > reuse_prior * likelihood[~none].mean()
        keep = none if drop else ~none
        return np.where(keep, likelihood, 0.0) / likelihood[keep].sum()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the transferred classifier on the target samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Target inputs.
        y : array-like of shape (n_samples,)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples' losses.

        Returns
        -------
        self : HypothesisTransferClassifier
            The fitted classifier.
        """
        return self._fit(X, y, sample_weight)

    def decision_function(self, X):
        """Decision scores: one column per class, or the second class's score if binary.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Decision scores.
        """
        scores = self._linear_scores(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_log_proba(self, X):
        """Log-probabilities of the classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        scores = self._linear_scores(X)
        if scores.shape[1] == 1:
            scores = np.hstack([np.zeros_like(scores), scores])
        return log_softmax(scores, axis=1)

    def predict_proba(self, X):
        """Probabilities of the classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        scores = self._linear_scores(X)
        if scores.shape[1] == 1:
            p = expit(scores[:, 0])
            return np.column_stack([1 - p, p])
        return np.exp(log_softmax(scores, axis=1))

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        scores = self._linear_scores(X)
        if scores.shape[1] == 1:
            return self.classes_[(scores[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]


@fill_doc(
    hypothesis_transfer_params=_COMMON_DOC.format(
        linear="``Ridge``, ``LinearRegression``, ``Lasso``",
        scores="``predict`` outputs",
        plain="ridge regression",
        criterion="together with the source's weights as they are (infinite "
        "strength), the candidates are averaged by their evidence (Bayesian model "
        "averaging under a uniform prior over them): each candidate's penalty is a "
        "Gaussian prior on the weights, and its evidence is the exact marginal "
        "likelihood of the targets, with the noise variance at its maximum and a flat "
        "prior on the intercept, integrated out (MacKay 1992, as LogME does); every "
        "candidate's intercept is fitted as ``lam_intercept`` says (free by default). "
        "On diabetes split along random directions (the source fitted on one side, "
        "5/10/20/40 rows of the other; seeds 100-119) this replaced the candidate of "
        "smallest generalized cross-validation error: R^2 -0.21/0.00/0.31/0.39 -> "
        "0.05/0.22/0.37/0.40 with a good source (the source as it is: 0.35-0.37, "
        "``RidgeCV`` on the rows -0.17/-0.16/0.24/0.39), and -0.27/-0.48/0.22/0.38 -> "
        "-0.20/0.09/0.26/0.38 with a source fitted to shuffled targets (``RidgeCV``: "
        "-0.25/-0.18/0.27/0.39). Averaged by their leave-one-out errors instead, the "
        "candidates kept less of a perfect source (one fitted on the target's side); "
        "on 5 rows a near-interpolating fit's held-out errors can beat the source's by "
        "chance, where the evidence's Occam factor charges it for its freedom. The "
        "source's intercept is not kept: pulled toward it, the candidates that keep "
        "the source gained 0.12 of R^2 at 5 rows above, but where a drift of the "
        "inputs had moved the source's level, the source as it is kept a quarter of "
        "the weight (and strong pulls toward it 0.4 more) with 40 rows, and the model "
        "lost 0.36 of R^2 to the target's own fit (the evidence, flat in the "
        "intercept, cannot see the level). With fewer than about 10 rows a good source "
        "is still only partly kept: the rows cannot tell it from a useless one. Every "
        "candidate's weights and Occam factor come from one eigendecomposition of the "
        "Gram matrix.",
    ).strip()
)
class HypothesisTransferRegressor(RegressorMixin, _BaseHypothesisTransfer):
    """Least squares on few target samples, helped by source hypotheses.

    In ``mode="biased"`` minimizes the weighted squared error plus
    ``lam * ||W - W_src||^2 + alpha * ||W||^2`` in closed form (one linear solve,
    in the dual when there are fewer samples than features). Several outputs are
    fitted at once.

    %(hypothesis_transfer_params)s

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_outputs, n_features)
        Weights on the inputs (``Delta`` in ``mode="residual"``).
    intercept_ : float or ndarray of shape (n_outputs,)
        Intercept.
    source_coef_ : ndarray of shape (n_outputs, n_features)
        The combined source weights ``W_src`` (``mode="biased"`` only).
    source_intercept_ : ndarray of shape (n_outputs,)
        The combined source intercept (``mode="biased"`` only).
    sources_ : list of estimators
        Deep copies of the sources (``mode="residual"`` only).
    source_weights_ : ndarray of shape (n_outputs, n_base_scores)
        Weight of every base-score column (the sources' outputs side by side) in every
        output (``mode="residual"`` only; fixed weights give ``beta_i`` times the
        identity per source, and need sources with ``n_outputs`` outputs).
    lam_ : float
        The pull toward the source: ``lam``, or that of the candidate with the largest
        weight with ``lam="auto"`` (in ``mode="biased"``, ``share * strength``).
    alpha_ : float
        The plain L2 penalty (``mode="biased"`` only): ``alpha``, plus
        ``(1 - share) * strength`` of the candidate with the largest weight with
        ``lam="auto"``.
    candidates_ : ndarray of shape (n_candidates, 2)
        ``(share, strength)`` of every candidate: the share of the source in the prior
        mean and the penalty; one row ``(1, lam)`` when ``lam`` is a number.
    candidate_weights_ : ndarray of shape (n_candidates,)
        Weight of every candidate in the fitted model (its posterior probability:
        the normalized evidence, summing to 1).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    HypothesisTransferClassifier : The same for classification.
    sklearn.linear_model.Ridge : The target-only model (``lam=0``).

    Notes
    -----
    The penalties combine into ``(lam + alpha) * ||W - lam W_src / (lam + alpha)||^2``,
    so the fit is a ridge regression on the residual of the shrunk source. With
    ``lam=0`` the model is ``Ridge(alpha=alpha)``; with ``lam=np.inf`` it keeps the
    source weights and refits only the intercept.

    References
    ----------
    .. [1] I. Kuzborskij and F. Orabona, "Stability and hypothesis transfer
       learning", ICML 2013.
    .. [2] I. Kuzborskij and F. Orabona, "Fast rates by transferring from auxiliary
       hypotheses", Machine Learning 106, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skreuse.training import HypothesisTransferRegressor
    >>> rng = np.random.RandomState(0)
    >>> w = rng.normal(size=50)
    >>> X_src = rng.normal(size=(500, 50))
    >>> source = Ridge(alpha=1.0).fit(X_src, X_src @ w)
    >>> X = rng.normal(size=(20, 50))
    >>> y = X @ (w + 0.1 * rng.normal(size=50))
    >>> reg = HypothesisTransferRegressor(source, lam=1.0).fit(X, y)
    >>> X_test = rng.normal(size=(200, 50))
    >>> y_test = X_test @ (w + 0.1 * rng.normal(size=50))
    >>> bool(reg.score(X_test, y_test) > Ridge().fit(X, y).score(X_test, y_test))
    True
    """

    def __init__(
        self,
        source=None,
        *,
        lam="auto",
        mode="biased",
        source_weights=None,
        alpha=0.0,
        source_reg=1.0,
        fit_intercept=True,
        lam_intercept=0.0,
    ):
        self.source = source
        self.lam = lam
        self.mode = mode
        self.source_weights = source_weights
        self.alpha = alpha
        self.source_reg = source_reg
        self.fit_intercept = fit_intercept
        self.lam_intercept = lam_intercept

    def _validate_fit_data(self, X, y):
        return validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)

    def _encode_target(self, y):
        self._single_output = y.ndim == 1
        return y, 1 if y.ndim == 1 else y.shape[1]

    def _solve(
        self, X, target, sample_weight, W0, *, lam, alpha, b0, lam_intercept, offset, start, cache
    ):
        # Closed form: nothing to start from. With an intercept X is centred at the
        # weighted mean of its rows (_fit_candidate), so the shared decomposition is that
        # of the rows fit_biased_ridge solves on.
        shared = _shared_gram(cache, X, sample_weight) if self._shares_decomposition() else None
        # On rows centred at their weighted mean the weights do not depend on the
        # intercept: a pulled intercept is solved apart, in closed form, and the weights
        # as with the intercept fixed (so that they too come from the shared
        # decomposition).
        pulled = self.fit_intercept and 0 < lam_intercept < np.inf
        coef, intercept = fit_biased_ridge(
            X,
            target,
            W0,
            lam=lam,
            alpha=alpha,
            sample_weight=sample_weight,
            fit_intercept=self.fit_intercept,
            b0=b0,
            lam_intercept=np.inf if pulled else lam_intercept,
            offset=offset,
            ridge=None if shared is None else shared.ridge,
        )
        if pulled:
            resid = target.reshape(len(X), -1) - X @ coef.T
            if offset is not None:
                resid = resid - offset.reshape(resid.shape)
            # (Weights that sum to one: a weighted sum of targets near float64's top
            # would overflow.)
            total = sample_weight.sum() + lam_intercept
            intercept = (sample_weight / total) @ resid + lam_intercept / total * intercept
        return coef, intercept

    def _shares_decomposition(self):
        """Whether the fits take their weights from the decomposition that the
        candidates of ``lam="auto"`` share (:meth:`_WeightedGram.ridge`, where it can:
        one penalty on every weight, a free intercept or none); a single fit gains
        nothing by it. (The evidence takes its eigenvalues from it in any case.)"""
        return self.lam == "auto"

    def _candidate_scores(self, fits, refit, target, prior_knows):
        """Log evidence of every candidate fit, from the fit alone."""
        # The candidates are fitted on the same centred rows: one weighted Gram matrix
        # and its eigenvalues serve them all, those their solves used (the source kept
        # as it is fits no weight).
        return np.array([self._log_evidence(fit, target) for fit in fits])

    def _log_evidence(self, fit, target, grams=None):
        """Log marginal likelihood of the target under one candidate, up to a constant
        that all the candidates share. ``grams``: a list of the :class:`_WeightedGram` of
        earlier candidates, reused when this fit's rows and weights are theirs (and
        extended otherwise); by default that of the fit's ``cache``, which its solve used.

        The candidate's penalty is a Gaussian prior on the weights, mean ``M`` (the
        share of the source, ``fit["prior"]``; zero without one) and covariance
        ``sigma^2 / p`` per weight of penalty ``p``; the noise is Gaussian of variance
        ``sigma^2 / s_i`` on a row of weight ``s_i``; the intercept has a flat prior
        (integrated out by centring, for every candidate alike, whatever
        ``lam_intercept``); ``sigma^2`` is set to its maximum (MacKay 1992, as
        LogME does). With ``n = sum(s) - 1`` (``sum(s)`` without an intercept), per
        output ``-(1/2) log det(I + G / p) - (n / 2) log(Q / n)``, where ``G`` is the
        weighted Gram matrix of the centred rows and ``Q = sum_i s_i e_i^2 + p ||W - M||^2``
        (``e`` the residuals of the fit, centred) is ``r' (I + X X' / p)^-1 r`` for the
        residuals ``r`` of the prior's mean. The source as it is fits no weight: its
        log evidence is that of its centred residuals. Weights act as repeated rows.
        """
        X, s = fit["X"], fit["sample_weight"]
        total = s.sum()
        n = total - float(self.fit_intercept)
        if not n > 0:
            # Nothing to tell the candidates apart: they weigh the same.
            return 0.0
        # The evidence depends on the target's scale by a constant that every candidate
        # shares: a power of two of it is divided out (exact) so that squares neither
        # overflow nor underflow (targets of 1e-300 otherwise gave Q = 0 for every
        # candidate, and weights off by 0.11).
        scale = power_of_two_scale(target, safe=None)
        pred = X @ fit["coef"].T + fit["intercept"]
        if fit["offset"] is not None:
            pred = pred + fit["offset"]
        resid = (target.reshape(pred.shape) - pred) / scale
        if self.fit_intercept:
            resid = resid - s @ resid / total
        penalty = np.broadcast_to(np.asarray(fit["lam"], dtype=float) + fit["alpha"], (X.shape[1],))
        with np.errstate(over="ignore", invalid="ignore"):
            # A candidate far off (a source's weights on inputs in other units) has an
            # infinite Q: the worst score, the right one.
            quad = s @ resid**2
            occam = 0.0
            if not np.all(np.isinf(penalty)):
                delta = fit["coef"] if fit["prior"] is None else fit["coef"] - fit["prior"]
                quad = quad + (penalty * (delta / scale) ** 2).sum(axis=1)
                if grams is None:
                    gram = _shared_gram(fit.get("cache", {}), X, s)
                else:
                    gram = _find_gram(grams, X, s)
                occam = gram.log_det(penalty)
            # A perfect fit (Q = 0) would be infinitely likely: Q is floored at the
            # rounding error of the target's own spread.
            spread = s @ (target.reshape(pred.shape) / scale) ** 2
            quad = np.maximum(quad, np.maximum(spread * _EPS**2, np.finfo(float).tiny))
            evidence = -0.5 * len(quad) * occam - 0.5 * n * np.sum(np.log(quad / n))
        return float(evidence) if np.isfinite(evidence) else -np.inf

    @staticmethod
    def _candidate_weights(log_evidence, shares):
        # Bayesian model averaging over the candidates, a uniform prior over them.
        return evidence_weights(log_evidence)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the transferred regressor on the target samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Target inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target outputs.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples' squared errors.

        Returns
        -------
        self : HypothesisTransferRegressor
            The fitted regressor.
        """
        self._fit(X, y, sample_weight)
        if self._single_output:
            self.coef_, self.intercept_ = self.coef_[0], float(self.intercept_[0])
        return self

    def predict(self, X):
        """Predict the target outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions.
        """
        scores = self._linear_scores(X)
        return scores[:, 0] if np.ndim(self.coef_) == 1 else scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
