"""Rank pre-trained candidate models by a transferability score and reuse the best."""

import copy
import math
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

from ..transferability import (
    _encode_labels,
    _logme_fit,
    _logme_from_statistics,
    _logme_profile,
    _logme_targets,
    _LogMEStream,
    _magnitude,
    get_score_names,
    get_scorer,
)
from ..utils._backend import DeviceConstraint, get_backend, to_numpy, uses_torch
from ..utils._class_means import class_mean_span, class_sums
from ..utils._clone import SharedModelsMixin
from ..utils._docstrings import fill_doc
from ..utils._features import (
    _is_sequential,
    _is_torch_data,
    check_candidates,
    check_loader_input,
    check_model_fitted,
    extract_features,
    iter_feature_batches,
    loader_features,
    model_kind,
)
from ..utils._math import _exponent, _pow2, power_of_two_of
from ..utils._optional import import_optional, is_torch_tensor
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
from ..utils._warnings import warn

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


# Rows per call to the candidate when its features are streamed: a float64 copy of such a
# chunk of 512 features is 8 MiB.
_STREAM_ROWS = 2048

# When the features are streamed, LogME's Bayesian head fits its softmax temperature (one
# number) on the features of evenly spaced rows, at most 2**21 feature values of them (and
# never fewer than 4096 rows); its posterior means come from the statistics of all rows.
_TEMPERATURE_MAX_ENTRIES = 2**21
_TEMPERATURE_MIN_ROWS = 4096


def _temperature_rows(n, n_features):
    """Evenly spaced rows for the temperature of the Bayesian head (all rows when few)."""
    m = max(_TEMPERATURE_MIN_ROWS, _TEMPERATURE_MAX_ENTRIES // max(n_features, 1))
    if n <= m:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, m).round().astype(np.intp))


def _finite_score(score, name):
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


def _with_constant(F, value=1.0):
    """``F`` with a constant column of ``value`` appended (numpy array or tensor, same
    dtype)."""
    if is_torch_tensor(F):
        torch = import_optional("torch")
        return torch.cat([F, F.new_full((F.shape[0], 1), value)], dim=1)
    return np.hstack([F, np.full((F.shape[0], 1), value, dtype=F.dtype)])


def _root_mean_square(F):
    """Root mean square of all the entries of ``F`` (1 when they are all zero): the value of
    the ranking's constant column, so that rescaling the features rescales it alike."""
    xp = get_backend(F).xp
    # Summed on the features divided by a power of two of their size (exact): beyond about
    # 1e154 their squares overflowed (an infinite column, then an error saying the input
    # held an infinity) and below 1e-162 they underflowed (a column of 1 beside them).
    c = power_of_two_of(_magnitude(F))
    squares = float(xp.sum((xp.astype(F, xp.float64) / c) ** 2))
    rms = c * math.sqrt(squares / max(F.shape[0] * F.shape[1], 1))
    return rms if rms > 0 else 1.0


def _rescale_constant(stats, value, n):
    """Statistics whose last column (a constant, ``value`` in their scaled units) is set to
    the root mean square of the other columns, exactly (a scaling of the last row and
    column of ``F^T F`` and of the last row of ``F^T Y``). Returns the new value."""
    gram = stats.gram
    trace = float(gram.diagonal()[:-1].sum())
    target = math.sqrt(trace / (n * (gram.shape[0] - 1))) if trace > 0 else value
    factor = target / value
    gram[-1, :] = gram[-1, :] * factor
    gram[:, -1] = gram[:, -1] * factor
    # The corner is n times the square of the constant (set, not scaled: next to features
    # far larger than the starting value, it may have underflowed).
    gram[-1, -1] = n * target**2
    stats.cross[-1] = stats.cross[-1] * factor
    return target


def _class_evidence(result, name, span, width):
    """``(score, tie-break, span, width)`` of LogME on a classification: the mean of the class
    evidences each capped at 0, their plain mean, ``span``, the dimensions spanned by the
    class means of the features, and ``width``, the number of features (see the Notes of
    :class:`LogMESelector`)."""
    evidence = np.asarray(to_numpy(result["evidence"]), dtype=np.float64)
    return (
        _finite_score(np.mean(np.minimum(evidence, 0.0)), name),
        _finite_score(np.mean(evidence), name),
        span,
        width,
    )


class _ClassSums:
    """Per-class sums of a candidate's features, added block by block of rows, for
    :func:`~skreuse.utils._class_means.class_mean_span`."""

    def __init__(self, y, n_samples):
        # LogME's own encoding, with its errors for labels that are not classes.
        self.codes, n_classes = _encode_labels(y, n_samples)
        self.counts = np.bincount(self.codes, minlength=n_classes).astype(np.float64)
        self.sums = None
        self.dtype = np.float64

    def update(self, start, F):
        F = np.asarray(to_numpy(F))
        if F.dtype == np.float32:
            self.dtype = np.float32
        block = class_sums(F, self.codes[start : start + F.shape[0]], len(self.counts))
        self.sums = block if self.sums is None else self.sums + block

    def span(self):
        return class_mean_span(self.sums, self.counts, self.dtype)


def _column_sums(F):
    """Column sums of a block of features in float64, as a numpy array (a tensor is summed
    on its device)."""
    if is_torch_tensor(F):
        torch = import_optional("torch")
        return to_numpy(torch.sum(F, dim=0, dtype=torch.float64))
    return np.sum(F, axis=0, dtype=np.float64)


def _head_statistics(stream, ranked, sum_x, score, constant=None):
    """What the head needs from the statistics of a candidate's pass, as numpy arrays:
    ``F^T F``, ``F^T Y``, the targets' ``y^T y``, the sums of both, ``n``, the scaling
    exponents and the features' LogME (``None``: not computed yet). Kept for every
    candidate that may still be selected; :func:`_streamed_head` turns the selected one's
    into the head. ``ranked``: the statistics have a constant last column (a
    classification ranked by LogME), ``constant`` in their scaled units, whose cross
    terms are the sums; otherwise ``sum_x`` are the features' sums and ``score`` their
    LogME."""
    stats = stream.stats
    gram, cross, target_sq = (
        np.asarray(to_numpy(a), dtype=np.float64)
        for a in (stats.gram, stats.cross, stats.target_sq)
    )
    fe = stats.exponent
    if ranked:
        # The constant column is ``constant`` on every row: its products are the sums times it.
        sum_x, sum_y = gram[-1, :-1] / constant, cross[-1] / constant
        gram, cross, score = gram[:-1, :-1], cross[:-1], None
    else:
        sum_x, sum_y = sum_x * _pow2(-fe), stream.Y.sum(axis=0)
    return {
        "gram": gram,
        "cross": cross,
        "target_sq": target_sq,
        "sums": (sum_x, sum_y),
        "n": stream.n_samples,
        "exponents": (fe, stream.target_exp),
        "logme": score,
    }


def _one_row_per_class(y, task):
    """Whether ``y`` is a classification's labels with one row per class (the case where
    the head's evidence says nothing about its prior ratio: :func:`_shared_ratio`)."""
    return task == "classification" and np.unique(y).shape[0] == np.shape(y)[0]


def _streamed_head(h, one_row_per_class=False):
    """``(the features' LogME, the head's posterior)`` from :func:`_head_statistics`; the
    posterior is None when centring the statistics loses too many digits (the head is then
    fitted on the features). ``one_row_per_class`` as in :func:`_shared_ratio`."""
    (fe, te), n = h["exponents"], h["n"]
    score = h["logme"]
    if score is None:
        # The features' own LogME (the paper's), from the statistics without the column.
        result = _logme_from_statistics(
            h["gram"], h["cross"], h["target_sq"], n, feature_exp=fe, target_exp=te
        )
        score = float(np.mean(to_numpy(result["evidence"])))
    posterior = _posterior_from_statistics(
        h["gram"], h["cross"], h["target_sq"], *h["sums"], n, fe, te, one_row_per_class
    )
    return score, posterior


def _score_candidate(
    name, model, X, y, *, scorer, task, batch_size, device, keep, layer=None, features=None
):
    """Score one candidate in a single pass of its model over ``X``.

    ``features``: the candidate's features of all rows, already extracted (from a torch
    loader, which cannot be sliced by rows); ``X`` is then not read.

    ``keep`` says what the head will need if the candidate is selected: ``"features"``
    (all rows of its features) or ``"stats"`` (LogME's posterior, computed from the
    statistics, plus the features of the temperature rows). Returns ``(score, kept)``
    where ``kept`` is a dict with ``"features"``, or with ``"logme"`` (the
    ``(score, result)`` of LogME), ``"rows"`` (those rows' features) and ``"row_ids"``, or
    is None when the head's features cannot come from this pass (a class-output score on
    a model whose probabilities are not its features).
    """
    n = X.shape[0] if features is None else features.shape[0]
    kind = model_kind(model)
    if scorer.input in ("proba", "labels"):
        no_proba = not hasattr(model, "predict_proba")
        if scorer.input == "labels" and kind == "classifier" and no_proba:
            return _finite_score(scorer(model.predict(X), y), name), None
        if kind not in ("classifier", "torch") and features is None:
            # Their probabilities are not their features (transform / forward): score on the
            # probabilities; the head's features are extracted if the candidate is selected.
            proba = extract_features(
                model, X, output="proba", batch_size=batch_size, device=device, name=name,
                layer=layer,
            )  # fmt: skip
            labels = proba if scorer.input == "proba" else np.argmax(proba, axis=1)
            return _finite_score(scorer(labels, y), name), None
    # LogME ranks the candidates of a classification with an intercept and bounded class
    # evidences (Notes of LogMESelector); the head has an intercept and one prior ratio.
    ranked = scorer.name == "logme" and task == "classification"
    sums = _ClassSums(y, n) if ranked else None
    on_device = scorer.on_device and uses_torch(device)
    nx = get_backend(device=device) if on_device else None
    stream = stream_rows = None
    blocks = []
    rows = None
    # The head's intercept needs the features' sums; a classification's ranking has them
    # already (its constant column).
    sum_x = None if ranked or keep != "stats" else 0.0
    unit = 1.0
    batches = (
        [(0, n, features)]
        if features is not None
        else iter_feature_batches(
            model,
            X,
            chunk_size=max(batch_size, _STREAM_ROWS),
            name=name,
            batch_size=batch_size,
            device=device,
            layer=layer,
        )
    )
    for start, stop, F in batches:
        if sums is not None:
            sums.update(start, F)
        if start == 0 and scorer.name == "logme" and n >= F.shape[1] + ranked:
            # LogME needs only F^T F, F^T Y and Y^T Y here: the rows need not be kept.
            stream = _LogMEStream(y, n, task=task, name=f"features of {name!r}")
            stream_rows = []
            if keep == "stats":
                rows = _temperature_rows(n, F.shape[1])
            # The ranking's constant column starts at a power of two of the features' scale
            # (so that the statistics are rescaled with them), and is set to their root mean
            # square once every row is in.
            unit = _pow2(_exponent(_magnitude(F))) if ranked else 1.0
        if stream is not None:
            block = nx.asarray(F, dtype=None) if on_device else F
            stream.update(start, _with_constant(block, unit) if ranked else block)
            if sum_x is not None:
                sum_x = sum_x + _column_sums(block)
            if keep == "features":
                blocks.append(F)
            elif rows is not None:
                stream_rows.append(F[rows[(rows >= start) & (rows < stop)] - start])
        else:
            blocks.append(F)
    if stream is not None:
        constant = None
        if ranked:
            constant = _rescale_constant(stream.stats, unit * _pow2(-stream.stats.exponent), n)
        head_score, result = stream.result()
        score = _finite_score(head_score, name)
        if ranked:
            score = _class_evidence(result, name, sums.span(), F.shape[1])
        if keep == "stats":
            kept = {
                "head": _head_statistics(stream, ranked, sum_x, head_score, constant),
                "rows": np.concatenate(stream_rows),
                "row_ids": rows,
            }
        else:
            kept = {"features": np.concatenate(blocks)}
        return score, kept

    features = np.concatenate(blocks)
    kept = {"features": features}
    if scorer.input in ("proba", "labels"):
        proba = _proba_from_features(kind, features)
        labels = proba if scorer.input == "proba" else np.argmax(proba, axis=1)
        return _finite_score(scorer(labels, y), name), kept
    scored = nx.asarray(features, dtype=None) if on_device else features
    if ranked:
        result = _logme_fit(_with_constant(scored, _root_mean_square(scored)), y, task=task)[1]
        return _class_evidence(result, name, sums.span(), features.shape[1]), kept
    score = scorer(scored, y, task=task) if scorer.takes_task else scorer(scored, y)
    return _finite_score(score, name), kept


def _proba_from_features(kind, features):
    """The probabilities ``extract_features(output="proba")`` gives, from the features.

    A classifier's features are its ``predict_proba``; a torch module's probabilities are
    the softmax of its outputs (computed as :func:`extract_features` does).
    """
    if kind == "classifier":
        return features
    torch = import_optional("torch")
    return torch.from_numpy(np.ascontiguousarray(features)).softmax(dim=1).numpy()


# LogME ranking of a classification: candidates whose total log evidence (the score times
# the number of rows) lies less than this many nats under the best are near ties, among
# which those more than _NEAR_TIE_WIDTHS times as wide as the narrowest rank after the
# others (Notes of LogMESelector). (1 nat until stop 38: see the Notes.)
_NEAR_TIE_NATS = 0.5
_NEAR_TIE_WIDTHS = 2


def _rank(scores, tie_break, spans, widths=None, n_samples=None):
    """Names by decreasing score, then decreasing ``tie_break`` (0 when absent), those whose
    ``spans`` is below the largest after the others; NaN scores last, remaining ties in
    insertion order (a stable sort).

    With ``widths`` (LogME on a classification, ``n_samples`` rows), one name at a time: of
    the names left in the first group (by span) whose score is within
    ``_NEAR_TIE_NATS / n_samples`` of the best left, the first in that order that is at most
    ``_NEAR_TIE_WIDTHS`` times as wide as the narrowest of them."""
    widest = max(spans.values(), default=0)

    def key(n):
        if not np.isfinite(scores[n]):
            return (np.inf,)
        return (spans.get(n, widest) < widest, -scores[n], -tie_break.get(n, 0.0))

    left = sorted(scores, key=key)
    if not widths:
        return left
    # Only scored candidates have a width (their scores are finite); the others stay last.
    ranking = []
    while left and left[0] in widths:
        best = left[0]
        near = [
            n
            for n in left
            if key(n)[0] == key(best)[0]  # the same span group; unscored names are not
            and n_samples * (scores[best] - scores[n]) < _NEAR_TIE_NATS
        ]
        narrowest = min(widths[n] for n in near)
        pick = next(n for n in near if widths[n] <= _NEAR_TIE_WIDTHS * narrowest)
        ranking.append(pick)
        left.remove(pick)
    return ranking + left


def _outranked(scores, tie_break, spans, top_k, widths=None, n_samples=None):
    """Scored names that ``top_k`` others rank before in :func:`_rank` whatever the candidates
    still to be scored: those that beat them on the score (then ``tie_break``, then order)
    with a span at least as large. A larger span scored later can only move candidates of
    smaller spans together, so these stay out of the best ``top_k``. With ``widths``, only
    by a score at least ``_NEAR_TIE_NATS / n_samples`` higher: a near tie can go either way
    (a narrower candidate scored later can change which)."""
    order = {n: i for i, n in enumerate(scores)}
    scored = [n for n in scores if np.isfinite(scores[n])]

    def key(n):
        return (-scores[n], -tie_break.get(n, 0.0), order[n])

    def beats(a, b):
        if widths and n_samples * (scores[a] - scores[b]) < _NEAR_TIE_NATS:
            return False
        return spans.get(a, 0) >= spans.get(b, 0) and key(a) < key(b)

    return [b for b in scored if sum(beats(a, b) for a in scored) >= top_k]


# A feature column whose raw sum of squares exceeds its centred one by more than this factor
# (its mean more than about 1000 times its spread) loses too many digits when the head's
# centred statistics are formed from the raw ones: the head is then fitted on the features.
_CENTRING_LOSS = 1e6
# Grid of the shared prior ratio, in octaves of the largest eigenvalue (then refined). At
# the top the features' weights are about 1e-6 of the least-squares ones: where the evidence
# rises further (the features explain nothing it can see), the prediction is the class
# frequencies, and the features still break the ties between classes as frequent as each
# other (an infinite ratio would leave them all tied). With one row per class the evidence
# says nothing about the ratio: see _shared_ratio.
_RATIO_OCTAVES = np.arange(-60.0, 21.0)


def _shared_ratio(sigma, z2, delta, n_eff, one_row_per_class=False):
    """The prior ratio ``t = alpha / beta`` of :class:`_BayesianLinearHead`, shared by the
    target columns, and every column's ``S(t) = ||y - F m||^2 + t ||m||^2``.

    ``sigma`` are the kept eigenvalues of the centred features' Gram matrix, ``z2`` (r, C)
    the squared coordinates of the centred targets on its eigenvectors (scaled by
    ``sigma^-1/2``) and ``delta`` (C,) what lies outside them; ``n_eff = n - 1`` (the flat
    prior on the intercept takes one degree of freedom). Maximizes the log evidence summed
    over the columns, each column's ``beta`` at its best (``n_eff / S``): a grid of octaves
    (``_RATIO_OCTAVES``), then a bounded search around its best point. ``t = inf`` (no
    weight on the features) only when there is nothing to fit: no direction, no row beyond
    the intercept's, or constant targets.

    ``one_row_per_class``: the columns are the indicators of classes that have one row
    each. Their summed evidence is then the same whichever row carries which label (a
    relabelling only permutes the columns), so it cannot tell whether the features
    predict the classes, and says nothing about ``t``: ``t`` is the largest eigenvalue
    (the leading direction's weights shrunk by half; Notes of :class:`LogMESelector`).
    """
    total = z2.sum(axis=0) + delta
    cols = total > 0
    if sigma.shape[0] == 0 or n_eff < 1 or not cols.any():
        return np.inf, total
    scale = float(sigma.max())
    if one_row_per_class:
        t = scale
    else:
        # Each column at unit total: a constant factor of S, so t does not change.
        unit = total[cols]
        t = scale * _evidence_ratio(sigma / scale, z2[:, cols] / unit, delta[cols] / unit, n_eff)
    return t, np.sum(z2 * (t / (sigma + t))[:, None], axis=0) + delta


def _evidence_ratio(sig, z2u, du, n_eff):
    """The ratio of :func:`_shared_ratio` that maximizes the summed evidence, on the
    spectrum scaled to a largest eigenvalue of 1 (``sig``) with every column at unit
    total (``z2u``, ``du``): the best point of ``_RATIO_OCTAVES``, refined between its
    neighbours."""

    def evidence(t):
        return _logme_profile(np.atleast_1d(t), sig, z2u, du, n_eff, np)[0].sum(axis=0)

    grid = 2.0**_RATIO_OCTAVES
    values = evidence(grid)
    best = int(np.argmax(values))
    t = grid[best]
    if 0 < best < grid.shape[0] - 1:
        low, high = _RATIO_OCTAVES[best - 1], _RATIO_OCTAVES[best + 1]
        opt = minimize_scalar(
            lambda e: -float(evidence(2.0**e)[0]), bounds=(low, high), method="bounded"
        )
        if -opt.fun > values[best]:
            t = 2.0**opt.x
    return t


def _posterior_from_spectrum(
    sigma, basis, z, delta, n_eff, feature_exp, target_exp, means, one_row_per_class=False
):
    """Coefficients, intercept, ``alpha`` and ``beta`` of the head from the spectrum of the
    centred, power-of-two-scaled features (eigenvalues ``sigma``, eigenvectors ``basis``
    (D, r), targets' coordinates ``z`` (r, C)); ``means``: the unscaled features' and
    targets' means; ``one_row_per_class`` as in :func:`_shared_ratio`."""
    t, S = _shared_ratio(sigma, z**2, delta, n_eff, one_row_per_class)
    if np.isinf(t):
        coef = np.zeros((z.shape[1], basis.shape[0]))
    else:
        coef = (basis @ (z * (np.sqrt(sigma) / (sigma + t))[:, None])).T
    # Back to the unscaled features (F * 2**-fe) and targets (column j * 2**-te_j).
    te = np.asarray(target_exp, dtype=int)
    with np.errstate(over="ignore"):
        coef = np.ldexp(coef, (te - feature_exp)[:, None])
    if not np.all(np.isfinite(coef)):
        raise ValueError(
            "The head's coefficients overflow float64: the targets are too large for the "
            "scale of the features (e.g. targets near 1e300 on features near 1e-150); "
            "rescale the features or the targets."
        )
    mean_x, mean_y = means
    # beta in the scaled units, then both hyperparameters in the caller's (saturating at
    # 0 or inf for features or targets near the ends of the float range).
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        precision = n_eff / S if n_eff >= 1 else np.full(S.shape, np.inf)
        beta = np.ldexp(precision, -2 * te)
        alpha = np.ldexp(t * precision, 2 * feature_exp - 2 * te)
    return {"coef": coef, "intercept": mean_y - coef @ mean_x, "alpha": alpha, "beta": beta}


def _above_rounding(sigma, n, D):
    """The eigenvalues of a Gram matrix of ``n`` rows and ``D`` columns above its rounding
    level (as LogME's): the directions the head keeps."""
    top = max(float(sigma.max(initial=0.0)), 0.0)
    return (sigma > 0) & (sigma > top * min(n, D) * np.finfo(float).eps)


def _spectrum(gram, cross, n, D):
    """Eigen-decomposition of a centred Gram matrix, truncated at rounding level (as LogME's),
    and the targets' coordinates ``U^T y`` on its directions."""
    sigma, V = np.linalg.eigh(gram)
    keep = _above_rounding(sigma, n, D)
    sigma, V = sigma[keep], V[:, keep]
    return sigma, V, (V.T @ cross) / np.sqrt(sigma)[:, None]


def _posterior_from_features(F, Y, one_row_per_class=False):
    """:class:`_BayesianLinearHead`'s posterior from the features ``F`` and the target
    columns ``Y`` (float64 arrays), centred in two passes; ``one_row_per_class`` as in
    :func:`_shared_ratio`."""
    n, D = F.shape
    mean_x, mean_y = F.mean(axis=0), Y.mean(axis=0)
    Fc, Yc = F - mean_x, Y - mean_y
    feature_exp = _exponent(float(np.max(np.abs(Fc), initial=0.0)))
    target_exp = [_exponent(float(np.max(np.abs(c), initial=0.0))) for c in Yc.T]
    Fc *= _pow2(-feature_exp)
    Yc *= np.array([_pow2(-e) for e in target_exp])[None, :]
    y2 = np.sum(Yc * Yc, axis=0)
    if n >= D:
        sigma, basis, z = _spectrum(Fc.T @ Fc, Fc.T @ Yc, n, D)
    else:
        U, s, Vt = np.linalg.svd(Fc, full_matrices=False)
        keep = _above_rounding(s**2, n, D)
        sigma, basis, z = s[keep] ** 2, Vt[keep].T, U[:, keep].T @ Yc
    delta = np.clip(y2 - np.sum(z * z, axis=0), 0.0, None)
    return _posterior_from_spectrum(
        sigma, basis, z, delta, n - 1, feature_exp, target_exp, (mean_x, mean_y), one_row_per_class
    )


def _posterior_from_statistics(
    gram, cross, target_sq, sum_x, sum_y, n, feature_exp, target_exp, one_row_per_class=False
):
    """The same from streamed statistics of the scaled features (``F * 2**-fe``) and targets:
    ``F^T F``, ``F^T Y``, the columns' ``y^T y``, the sums of both; ``None`` when centring
    them loses too many digits (a column of mean far above its spread);
    ``one_row_per_class`` as in :func:`_shared_ratio`."""
    gram_c = gram - np.outer(sum_x, sum_x) / n
    raw, centred = np.diag(gram), np.diag(gram_c)
    if np.any((raw > 0) & (centred * _CENTRING_LOSS < raw)):
        return None
    cross_c = cross - np.outer(sum_x, sum_y) / n
    y2 = target_sq - sum_y**2 / n
    sigma, basis, z = _spectrum(gram_c, cross_c, n, gram.shape[0])
    delta = np.clip(y2 - np.sum(z * z, axis=0), 0.0, None)
    means = (np.ldexp(sum_x, feature_exp) / n, np.ldexp(sum_y, np.asarray(target_exp)) / n)
    return _posterior_from_spectrum(
        sigma, basis, z, delta, n - 1, feature_exp, target_exp, means, one_row_per_class
    )


class _BayesianLinearHead(BaseEstimator):
    """A Bayesian linear model as the head of ``LogMESelector(estimator=None)``.

    LogME's Bayesian linear regression of every target column (one-hot class indicator
    or regression output) on the features, with an intercept under a flat prior and one
    prior ratio ``alpha / beta`` for all the columns, at the maximum of their summed
    evidence (each column's ``beta`` at its own best); ``coef_`` and ``intercept_`` are
    the posterior means. Classification predicts the class of largest
    ``f @ coef_.T + intercept_``; ``predict_proba`` is the softmax of these scores divided
    by a temperature fitted by maximum likelihood on the training data (temperature
    scaling), since the raw scores estimate indicator values, not logits. ``logme_`` is
    the paper's LogME of the features (:func:`~skreuse.transferability.logme_score`).
    """

    def __init__(self, task="auto"):
        self.task = task

    def fit(self, X, y):
        """Fit the posterior means (and the temperature, for classification)."""
        score, _, task = _logme_fit(X, y, task=self.task)
        F = np.asarray(to_numpy(X), dtype=np.float64)
        Y, _ = _logme_targets(y, F.shape[0], task)
        posterior = _posterior_from_features(F, Y, _one_row_per_class(y, task))
        return self._fit_posterior(score, posterior, task, y, F, np.arange(F.shape[0]))

    def _fit_posterior(self, score, posterior, task, y, row_features, rows):
        """Set the head from its ``posterior`` (:func:`_posterior_from_features`) on all rows
        of ``y``; ``score`` is the features' LogME.

        The temperature is fitted on ``row_features``, the features of the rows ``rows``.
        """
        self.task_ = task
        self.logme_ = score
        self.coef_ = posterior["coef"]
        self.intercept_ = posterior["intercept"]
        self.alpha_ = posterior["alpha"]
        self.beta_ = posterior["beta"]
        self.n_features_in_ = self.coef_.shape[1]
        if task == "classification":
            self.classes_, codes = np.unique(y, return_inverse=True)
            codes = codes[rows]
            scores = self._scores(row_features)

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
        return np.asarray(to_numpy(X), dtype=np.float64) @ self.coef_.T + self.intercept_

    @available_if(_is_classification)
    def decision_function(self, X):
        """Class scores ``X @ coef_.T + intercept_`` (binary: class 1's minus class 0's)."""
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
        Transferability score of every candidate (NaN for a skipped one). With
        ``metric="logme"`` on a classification task, the LogME of the features with a
        constant column, each class's evidence capped at 0 (see Notes): 0.0 when the
        features predict every class's indicator almost exactly on the labelled rows
        (e.g. a source classifier's probabilities on rows it classifies right, or any
        features with many well-separated classes). Candidates tied at the cap are
        ranked as the Notes say for near ties (much narrower features first), then by
        the same LogME uncapped, which ``scores_`` does not show.

    class_span_ : dict of str to int
        With ``metric="logme"`` on a classification task: the number of dimensions the
        class means of each candidate's features span on the target rows (around their
        mean; at most ``n_classes - 1``). Candidates that span fewer dimensions than the
        widest rank after the others, whatever their score (see Notes). Empty otherwise.

    skipped_ : dict of str to str
        Candidates that ``metric`` could not score, with the reason (empty when all
        were scored).

    ranking_ : list of str
        Candidate names, best first (ties keep the order of ``candidates``): by decreasing
        score, those that span fewer dimensions than the widest (``class_span_``) last. With
        ``metric="logme"`` on a classification, near ties (less than half a nat of total
        evidence apart) rank the much wider candidates last (see Notes).

    selected_ : list of str
        The ``top_k`` best candidate names, ``ranking_[:top_k]``.

    selected_models_ : list of (str, model) tuples
        Deep copies of the selected candidate models, used by :meth:`transform`.

    estimator_ : estimator
        The fitted head: a clone of ``estimator``, or LogME's Bayesian linear head (with
        ``coef_``, ``intercept_``, ``alpha_``, ``beta_``, ``logme_``; see Notes).

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
    :meth:`fit` runs each candidate once over the rows, in chunks of
    ``max(batch_size, 2048)`` rows. With ``metric="logme"`` and at least as many rows as
    features, each chunk's features are added to LogME's statistics (``F^T F``,
    ``F^T Y``, in float64) and dropped, so memory is one chunk plus ``D x D`` per
    candidate, whatever the number of rows. The head's features come from the same pass:
    LogME's own head (``top_k=1``) takes its posterior from the statistics and fits its
    temperature on at most about two million feature values of evenly spaced rows (all
    rows when there are few); another ``estimator``, or ``top_k > 1``, keeps the features of
    the best candidates seen so far. With fewer rows than features (than features plus
    one for the constant column of a classification, below), or another metric, the
    candidate's whole feature matrix is scored. A class-output score (LEEP, NCE) on a
    transformer or a skorch net scores its probabilities, which are not its features: a
    selected one runs a second time for the head's features.

    With ``metric="logme"`` on a classification task, the candidates are ranked by a
    LogME made comparable across kinds of features, with
    :func:`~skreuse.transferability.logme_score` itself unchanged (it still gives the
    paper's value):

    - every candidate's features get a constant column (an intercept). One-hot targets
      have mean ``1 / n_classes``; class probabilities sum to 1, so they carry that
      constant direction and explain the mean, while centred features (standardized raw
      inputs, a PCA or LDA embedding) do not and pay for it in the evidence. With the
      column, every candidate explains the mean alike (and so does the head, when it
      has an intercept). The column's value is the root mean square of the candidate's
      features, so that, like the paper's LogME, the score does not depend on the
      features' units: with a column of ones it did (0.16 per row apart between the same
      features at scales 1e-6 and 1e6, in ``tests/test_logme_selector.py``), since one
      prior on the weights and the intercept favours the intercept of features in large
      units and neglects features in small ones.
    - each class's evidence is capped at 0 before the mean over classes (ties, e.g.
      candidates whose classes are all at the cap, are broken by the plain mean, after the
      rule for near ties below). A 0/1 label
      vector is discrete: its probability is at most 1, i.e. at most 0 per sample in log,
      whereas the Gaussian density LogME evaluates grows without bound when a column is
      predicted almost exactly. Without the cap, one class that a source classifier
      knows (its probability is nearly the indicator) outweighs every class it does not
      know, and a model trained on a subset of the classes outranks features that
      separate all of them.
    - candidates whose ``class_span_`` is below the largest rank after the others (each
      group by its score). ``class_span_`` is the number of dimensions the class means
      of a candidate's features span (a numerical rank of the centred means, with
      the tolerance of :func:`numpy.linalg.matrix_rank` for the features' precision,
      relative to the means before centring: the rounding that centring leaves in the
      probabilities of a weak classifier, all near ``1 / n_classes``, is not a dimension).
      ``n_classes`` means in general position span ``n_classes - 1``; fewer means that
      some class lies where a mix of the other classes would be. Features trained on a
      subset of the
      classes collapse the others by construction (a classifier's probabilities over
      ``k`` classes sum to one and span at most ``k - 1`` dimensions, as do the ``k - 1``
      components of an LDA), whatever the rows, and with a few rows per class LogME
      cannot see it: the classes such a candidate does not know are near the evidence of
      a constant, but with so few rows most classes are there for every candidate, while
      the classes it knows reach the cap. A candidate with fewer features than the classes
      less one (e.g. a 64-dimensional embedding for 100 classes) ranks after wider ones
      whatever its quality: ``scores_`` still gives its LogME.
    - near ties go to the narrower features. The score times the number of rows ``n`` is a
      total log evidence, so two scores less than ``1 / (2 n)`` apart are a Bayes factor
      below :math:`e^{1/2}`, about 1.6, "not worth more than a bare mention" [3]_: the
      rows do not tell the candidates apart. With nothing to choose between them, the head
      is safer on fewer features (its estimation error grows with their number), so of the
      candidates within ``1 / (2 n)`` of the best, those more than twice as wide as the
      narrowest of them rank after the others; the rest keep the order of their scores, and
      so on down the ranking. With one labelled row per class the scores of all candidates
      lie that close (a constant predictor's evidence is about the same for all): on the
      ``shift`` family of wine with one row per class, the raw inputs (13 columns) were
      selected over the source's 2-dimensional LDA embedding on 14 of 70 seeds; over the
      70 seeds, a head on the raw inputs scores 0.79 on average, one on the embedding 0.92.
      With many rows the scores decide: 400 rows of digits rank 64 squared pixels 25 nats
      above a 10-dimensional projection, and first. Until stop 38 a near tie was anything
      under 1 nat (a Bayes factor of e, the top of that band): on breast cancer with three
      rows per class the 1-dimensional LDA embedding of a source fitted to shuffled labels
      was then kept over raw inputs that led it by up to 0.95 nats, and lost 0.30 of
      accuracy to them on one such draw. Half a nat moved no cell of the ``shift`` and
      ``classes`` families of ``benchmarks/bench_reuse_gain.py`` down (seeds 100-149, and
      the benchmark's own), took ``shift``/wine with three rows per class from +1.7 to
      +2.7 points over the better baseline (seeds 100-119), and the ``useless`` family on
      breast cancer with three rows per class from -9.8 and -9.5 to -6.5 and -4.0 points
      (seeds 100-119 and 120-149) and with five from -5.6 and -7.1 to -4.6 and -3.7; a
      quarter of a nat lost 1.8-2.4 points with one row per class of ``shift``.

    On the ``classes`` family of ``benchmarks/bench_reuse_gain.py`` (sources that know 60 %
    of the classes) the cap lets the raw features be selected over the source's
    probabilities once there are 5-10 labelled rows per class, and the span with 1-5 rows
    per class (three rows per class of wine: 0.900, the target-only accuracy, instead of
    0.755). The ``logme_`` that LogME's own head reports is the paper's, on the features
    alone.

    The task follows ``estimator`` when it is a classifier or a regressor; otherwise ``y``
    of floating dtype (or continuous) is regression, and integer,
    boolean or string labels are classification.

    With ``estimator=None`` the head is LogME's Bayesian linear regression of every target
    column (class indicator or output) on the selected features, with two changes to the
    paper's, which fits each column alone and without bias: an intercept, under a flat
    prior (the features and targets centred; the ranking's constant column, above, plays
    its part there), and one prior ratio ``alpha / beta`` for all the columns, the one of
    highest evidence summed over them (each column's ``beta`` at its own best). Its
    coefficients are the posterior means, i.e. ridge regression at that ratio. The
    paper's head put each class's scores on the scale of its own prior, so the largest
    score compared classes on different scales, and without an intercept features far
    from the origin, or targets far from 0, were fitted through the origin. On the
    ``shift`` family of ``benchmarks/bench_reuse_gain.py`` (seeds 100-109, 1/3/5/10 rows per
    class, the benchmark's three candidates) the default selector reached 0.768, 0.910,
    0.878, 0.909 on wine and 0.578, 0.895, 0.914, 0.911 on digits; it now reaches 0.909,
    0.917, 0.949, 0.950 and 0.848, 0.899, 0.916, 0.910 (with the ranking's constant column
    at the features' scale, above; with this head alone 0.872, 0.919, 0.949, 0.947 and
    0.807, 0.899, 0.916, 0.910; the source as it is: 0.899 on both;
    a logistic regression on the rows: 0.766-0.928 and 0.574-0.876). On the ``classes``
    family of digits, one row per class: 0.298, now 0.594 (the logistic regression:
    0.597). On diabetes (regression, targets around 150), 20 to 200 rows, the R^2 of
    the paper's head was -3.8; it is now 0.36-0.47, that of ``RidgeCV`` 0.32-0.47.
    Classification predicts the class of largest score; its ``predict_proba`` is a
    softmax of those scores divided by a temperature fitted by maximum likelihood on the
    training data (the raw scores estimate 0/1 indicators, so an unscaled softmax would
    be nearly uniform). Regression predicts the outputs. In the streamed case the
    centred statistics are formed from the raw ones; for a column whose mean exceeds its
    spread by more than about 1000 that loses too many digits, and the head is then
    fitted on the selected candidate's features, from a second pass.

    With one row per class the head does not follow the evidence: the evidence summed over
    the class indicators is then the same whichever row carries which label (relabelling
    the rows only permutes the columns), so it cannot see whether the features predict the
    classes, and it rose toward the top of the ratio grid, where the weights almost vanish
    and the head ranked the classes by the inner product of the input with each class's
    centred row (favouring rows far from the others). The ratio is then the largest
    eigenvalue of the centred features' Gram matrix (the leading direction's weight shrunk
    by half, the weaker ones more). Measured with the default selector on the benchmark's
    families (seeds 100-119, one row per class, gain over the better of the two baselines,
    before and after): ``shift``/wine -2.0, now -0.2 points; ``shift``/digits -6.1, now -4.2;
    ``classes``/wine -2.9, now -1.5; ``classes``/digits -1.7, now -1.6; the ``useless``
    source on wine -38.2, now -38.5. With two classes (two rows) every ratio predicts alike.

    The ranking is no better off with one labelled row per class: every assignment of the
    labels to the rows is then a renaming of the classes, and no registered score reads a
    label as more than a name, so every candidate scores the same whichever row has which
    label, and the ranking says nothing about whether its features predict them. ``fit``
    then warns (a ``UserWarning``) when it has a choice to make (more candidates than
    ``top_k``) and ``metric`` is a name. On the ``useless`` family of the reuse-gain
    benchmark (a source fitted to shuffled labels), the features of that source come first
    at one row per class as readily as those of a good one.

    References
    ----------
    .. [1] K. You, Y. Liu, J. Wang, M. Long, "LogME: Practical Assessment of Pre-trained
       Models for Transfer Learning", ICML 2021.
    .. [2] K. You, Y. Liu, Z. Zhang, J. Wang, M. I. Jordan, M. Long, "Ranking and Tuning
       Pre-trained Models: A New Paradigm for Exploiting Model Hubs", JMLR 23, 2022.
    .. [3] R. E. Kass, A. E. Raftery, "Bayes Factors", Journal of the American Statistical
       Association 90(430), 1995.

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
    def fit(self, X, y=None):
        """Score every candidate on ``(X, y)``, keep the best and fit the head.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Target inputs, in the form the candidate models take. When every candidate is
            a torch module, a skorch net or a callable that reads it, also a
            ``torch.utils.data`` ``Dataset`` or ``DataLoader`` yielding ``x`` or
            ``(x, y)``: each candidate's features of all rows are extracted in one pass and
            then scored (``n x D`` in memory for one candidate at a time, where arrays are
            streamed), candidates one after the other (``n_jobs`` is not used), and
            ``n_features_in_`` is not set.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Target class labels or regression targets. None only for a loader yielding
            ``(x, y)``: each candidate is scored with the labels of its own pass, which
            match its rows even when the loader shuffles (with ``top_k > 1`` the loader
            must not shuffle). Given with a loader, the loader must not shuffle.

        Returns
        -------
        self : LogMESelector
            The fitted selector.
        """
        loader = _is_torch_data(X)
        if not loader:
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
        passes = {}
        # With a loader and y None, each pass brings its own labels (y is the first's).
        y_given = y
        if loader:
            for name, model in candidates:
                check_loader_input(model, X, name=name, ordered=y is not None)
            if y is None and self.top_k > 1 and not _is_sequential(X):
                raise ValueError(
                    f"top_k={self.top_k} concatenates the features of several passes over X, "
                    "a DataLoader that shuffles its rows: use shuffle=False."
                )
            if y is not None:
                y = np.asarray(y)
            else:
                # The task is read from the labels of the first candidate's pass (kept).
                name, model = candidates[0]
                passes[name] = self._loader_pass(name, model, X, None)
                y = passes[name][1]
                if y is None:
                    raise ValueError(
                        "y is None and the items of the torch loader X have no labels: pass "
                        "y, or a loader that yields (x, y)."
                    )
        task = infer_task(y, self.estimator)
        scorer = get_scorer(self.metric)
        if task not in scorer.tasks:
            raise ValueError(
                f"metric={scorer.name!r} scores {' and '.join(sorted(scorer.tasks))} tasks "
                f"only, but the task is {task}; use one of "
                f"{[n for n in get_score_names() if task in get_scorer(n).tasks]} or a callable."
            )
        skipped = {}
        if scorer.input != "features":
            for name, model in candidates:
                reason = _class_output_missing(model, scorer.input)
                if reason is not None:
                    skipped[name] = f"metric={scorer.name!r} needs {scorer.input}: {reason}"
            if skipped:
                warn(
                    f"{len(skipped)} of {len(candidates)} candidates cannot be scored "
                    f"by metric={scorer.name!r} and rank last (see skipped_): "
                    + "; ".join(f"{n}: {r}" for n, r in skipped.items()),
                    UserWarning,
                )
            if len(skipped) == len(candidates):
                raise ValueError(
                    f"No candidate can be scored by metric={scorer.name!r}, which needs "
                    f"{scorer.input}; use a features-based metric such as 'logme'."
                )
        to_score = [(n, m) for n, m in candidates if n not in skipped]
        for name in skipped:
            passes.pop(name, None)  # its pass gave the labels; its features are not scored

        # The head needs the selected candidates' features; they come from the scoring pass.
        # LogME's own head on one candidate needs only the statistics of that pass.
        keep = "stats" if self.estimator is None and self.top_k == 1 else "features"
        labels = {}

        def loader_jobs():
            # One pass per candidate, one candidate at a time: a loader is not sliced by rows.
            for name, model in to_score:
                F, labels[name] = passes.pop(name, None) or self._loader_pass(
                    name, model, X, y_given
                )
                yield _score_candidate(
                    name,
                    model,
                    None,
                    labels[name],
                    scorer=scorer,
                    task=task,
                    batch_size=self.batch_size,
                    device=self.device,
                    keep=keep,
                    layer=self._layer(name),
                    features=F,
                )

        jobs = (
            loader_jobs()
            if loader
            else Parallel(n_jobs=self.n_jobs, return_as="generator")(
                delayed(_score_candidate)(
                    name,
                    model,
                    X,
                    y,
                    scorer=scorer,
                    task=task,
                    batch_size=self.batch_size,
                    device=self.device,
                    keep=keep,
                    layer=self._layer(name),
                )
                for name, model in to_score
            )
        )
        # Skipped candidates score NaN and rank last.
        scores = {name: np.nan for name, _ in candidates}
        kept = {}
        # LogME on a classification ranks by the span of the class means first, and breaks
        # ties of its capped score by the plain LogME.
        tie_break, spans, widths = {}, {}, {}
        n_rows = None
        for (name, _), (score, payload) in zip(
            to_score,
            progress(jobs, verbose=self.verbose, desc="Scoring candidates", total=len(to_score)),
        ):
            if isinstance(score, tuple):
                score, tie_break[name], spans[name], widths[name] = score
                n_rows = len(labels.get(name, y))
            scores[name] = score
            kept[name] = payload
            # Keep the payloads of the candidates that can still be in the best top_k only.
            for dropped in _outranked(scores, tie_break, spans, self.top_k, widths, n_rows):
                kept.pop(dropped, None)
        ranking = _rank(scores, tie_break, spans, widths, n_rows)
        selected = ranking[: self.top_k]
        # With a shuffling loader each pass has its own row order, and its own labels.
        y = labels.get(selected[0], y)
        one_row_per_class = _one_row_per_class(y, task)
        if one_row_per_class and isinstance(self.metric, str) and len(to_score) > self.top_k:
            warn(
                "Each class has one labelled row: every assignment of the labels to the "
                "rows is then a renaming of the classes, which "
                f"metric={self.metric!r} does not see, so the ranking depends on the "
                "candidates' features only, not on whether they predict the labels (a "
                "source that learned nothing can come first). Label a second row of "
                "some class, or choose the candidate yourself.",
                UserWarning,
            )
        models = dict(candidates)
        selected_models = [(name, copy.deepcopy(models[name])) for name in selected]

        payload = kept.get(selected[0]) or {}
        # The head of the selected candidate only: its posterior costs a decomposition.
        logme, posterior = (
            _streamed_head(payload["head"], one_row_per_class) if "head" in payload else (0, None)
        )
        if posterior is not None:
            head = _BayesianLinearHead(task=task)._fit_posterior(
                logme, posterior, task, y, payload["rows"], payload["row_ids"]
            )
            widths = [payload["rows"].shape[1]]
        elif "head" in payload:
            # Centring the statistics lost too many digits: a second pass for the features.
            name, model = selected_models[0]
            if loader:
                features, y = self._loader_pass(name, model, X, y_given)
            else:
                features = self._candidate_features(name, model, X)
            head = _BayesianLinearHead(task=task).fit(features, y)
            widths = [features.shape[1]]
        else:
            blocks = [
                (kept.get(name) or {}).get("features")
                if "features" in (kept.get(name) or {})
                else self._candidate_features(name, model, X)
                for name, model in selected_models
            ]
            widths = [block.shape[1] for block in blocks]
            features = np.hstack(blocks) if len(blocks) > 1 else blocks[0]
            head = (
                _BayesianLinearHead(task=task) if self.estimator is None else clone(self.estimator)
            )
            head.fit(features, y)

        # Nothing is set on self before every step above has succeeded.
        if loader:
            # A loader has no tabular features: nothing to check at transform.
            for attr in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(attr, None)
        self.skipped_ = skipped
        self.scores_ = scores
        self.class_span_ = spans
        self.ranking_ = ranking
        self.selected_ = selected
        self.selected_models_ = selected_models
        self._block_widths = widths
        self.estimator_ = head
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def _loader_pass(self, name, model, X, y):
        """``(features, labels)`` of candidate ``name`` from one pass over the loader X."""
        return loader_features(
            model,
            X,
            y=y,
            name=name,
            batch_size=self.batch_size,
            device=self.device,
            layer=self._layer(name),
        )

    def _candidate_features(self, name, model, X):
        return extract_features(
            model,
            X,
            batch_size=self.batch_size,
            device=self.device,
            name=name,
            layer=self._layer(name),
        )

    def _feature_blocks(self, X):
        return [self._candidate_features(name, model, X) for name, model in self.selected_models_]

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
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Inputs; a loader as in :meth:`fit`, which must give its rows in order (no
            shuffling).

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            The selected candidates' features, best-ranked first.
        """
        check_is_fitted(self)
        if _is_torch_data(X):
            for name, model in self.selected_models_:
                check_loader_input(model, X, name=name, ordered=True)
            return self._features(X)
        X_checked = validate_data(self, X, reset=False, allow_nd=True, dtype=_dtype_of(X))
        return self._features(X if _is_dataframe(X) else X_checked)

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the head on the selected features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Inputs, as in :meth:`transform`.

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
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Inputs, as in :meth:`transform`.

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
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Inputs, as in :meth:`transform`.

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
        X : array-like of shape (n_samples, n_features), torch Dataset or DataLoader
            Inputs, as in :meth:`transform`.
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
