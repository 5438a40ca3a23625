"""Transferability scores: how well a pre-trained model's features or outputs fit a target task.

Every score is "higher is better" and needs only one forward pass of the pre-trained model
over the labelled target data: no fine-tuning. :func:`logme_score` works on features of any
model, for classification and regression; :func:`leep_score` and :func:`nce_score` need the
source model's class probabilities or labels; :func:`hscore`, :func:`regularized_hscore`,
:func:`transrate` and :func:`gbc_score` score features for classification.

Every score is registered by name: :func:`get_score_names` lists them and :func:`get_scorer`
gives one with what it needs (features, class probabilities or hard labels, and the tasks
it supports); :class:`~skreuse.selection.LogMESelector` accepts every name as ``metric``.

``logme_score`` has one implementation for numpy arrays and torch tensors (CPU or CUDA): a
tensor input keeps the work on the tensor's device. It also accepts a dask array, reduced
chunk by chunk, and :func:`logme_score_from_stats` computes it from sums over rows. The
other scores accept tensors and move them to the CPU (their cost is small next to
extracting the features).
"""

import inspect
import math
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.covariance import ledoit_wolf
from sklearn.utils import check_array, column_or_1d

from .utils._backend import get_backend, to_numpy
from .utils._math import _SAFE_PEAK, _exponent, _pow2, power_of_two_scale
from .utils._optional import import_optional, is_dask_array, is_torch_tensor
from .utils._sklearn_compat import Interval, StrOptions, validate_params
from .utils._tasks import target_task as _resolve_task
from .utils._validation import all_finite, check_classification_target

__all__ = [
    "gbc_score",
    "get_score_names",
    "get_scorer",
    "hscore",
    "leep_score",
    "logme_score",
    "logme_score_from_stats",
    "nce_score",
    "nleep_score",
    "parc_score",
    "regularized_hscore",
    "sfda_score",
    "transrate",
]

_TASKS = StrOptions({"auto", "classification", "regression"})

# MacKay's iteration stops for a column once t = alpha / beta changes by less than this
# (relative); at the fixed point the evidence is stationary, so its error is far smaller.
_LOGME_TOL = 1e-8
_LOGME_MAX_ITER = 1000
# The starting t = alpha / beta stays within 2**(+-26) (about 1e(+-8)) of the largest eigenvalue
# of the Gram matrix, so that the iteration starts where float64 resolves the features.
_LOGME_T_START_EXP = 26
# The evidence maximized over beta is scanned on this many values of t = alpha / beta per
# octave, from 2**-_LOGME_GRID_MARGIN times the smallest eigenvalue to 2**_LOGME_GRID_MARGIN
# times the largest, to find where a second start is needed.
_LOGME_GRID_STEPS = 4
_LOGME_GRID_MARGIN = 8
# A grid point must beat the maximum MacKay's iteration reached by this much evidence per
# sample (far above rounding, far below any difference in the score) to trigger a restart.
_LOGME_RESTART_GAIN = 1e-10


# -- registry of the scores -------------------------------------------------------------------
# One table, as scikit-learn's ``metrics/_scorer.py`` keeps ``_SCORERS``: the selector's
# ``metric`` options, its docstring and the display's axis labels are all read from here.
# Adding a score is the function plus its ``@_register_score(...)`` line.

_SCORE_INPUTS = ("features", "proba", "labels")


@dataclass(frozen=True)
class _Score:
    """A registered transferability score: the function and what it needs.

    ``input`` is what the score is computed from: ``"features"`` (any model's features),
    ``"proba"`` (a source classifier's class probabilities) or ``"labels"`` (a source
    classifier's hard labels). ``tasks`` are the target tasks it supports; ``label`` names
    it on plots; ``on_device`` says that it computes with torch on a requested device.
    Calling the object calls the score function.
    """

    name: str
    func: object
    input: str
    tasks: frozenset
    label: str
    on_device: bool = False
    takes_task: bool = field(default=False, compare=False)

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)


_SCORES = {}


def _register_score(name, *, input, tasks=("classification",), label=None, on_device=False):
    """Decorator: add the decorated score function to the registry under ``name``."""
    if input not in _SCORE_INPUTS:
        raise ValueError(f"input must be one of {_SCORE_INPUTS}, got {input!r}.")

    def register(func):
        if name in _SCORES:
            raise ValueError(f"A score named {name!r} is already registered.")
        _SCORES[name] = _Score(
            name=name,
            func=func,
            input=input,
            tasks=frozenset(tasks),
            label=label or name,
            on_device=on_device,
            takes_task="task" in inspect.signature(func).parameters,
        )
        return func

    return register


def get_score_names():
    """Names of all registered transferability scores.

    These are the strings :class:`~skreuse.selection.LogMESelector` accepts as ``metric``
    and :func:`get_scorer` resolves.

    Returns
    -------
    names : list of str
        Sorted names of the registered scores.

    See Also
    --------
    get_scorer : The score registered under a name.

    Examples
    --------
    >>> from skreuse.transferability import get_score_names
    >>> "logme" in get_score_names() and "leep" in get_score_names()
    True
    """
    return sorted(_SCORES)


def get_scorer(name):
    """The transferability score registered under ``name``, with what it needs.

    Parameters
    ----------
    name : str or callable
        A name from :func:`get_score_names`, or a callable ``(features, y) -> float``,
        which is returned wrapped as a features-based score of any task.

    Returns
    -------
    score : callable
        Calling it calls the score function (e.g. ``get_scorer("logme")(features, y)``).
        Its attributes say how to use it: ``name``, ``func`` (the function), ``input``
        (``"features"``, ``"proba"`` for a source classifier's class probabilities or
        ``"labels"`` for its hard labels), ``tasks`` (a frozenset among
        ``"classification"`` and ``"regression"``) and ``label`` (a display name).

    See Also
    --------
    get_score_names : All registered names.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import get_scorer
    >>> leep = get_scorer("leep")
    >>> leep.input, sorted(leep.tasks), leep.label
    ('proba', ['classification'], 'LEEP')
    >>> round(leep(np.array([[0.9, 0.1], [0.2, 0.8]]), [0, 1]), 4)
    -0.2911
    """
    if isinstance(name, _Score):
        return name
    if isinstance(name, str):
        try:
            return _SCORES[name]
        except KeyError:
            raise ValueError(
                f"{name!r} is not a registered transferability score; use one of "
                f"{get_score_names()} (see get_score_names())."
            ) from None
    if callable(name):
        return _Score(
            name=getattr(name, "__name__", "score"),
            func=name,
            input="features",
            tasks=frozenset({"classification", "regression"}),
            label=getattr(name, "__name__", "score"),
        )
    raise TypeError(f"name must be a str or a callable, got {type(name).__name__}.")


# -- validation -------------------------------------------------------------------------------


def _check_features(features, name="features", *, min_samples=2):
    """2-D finite floating features; a tensor stays a tensor on its device."""
    if is_torch_tensor(features):
        if features.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_features), got shape {tuple(features.shape)}."
            )
        if features.is_complex():
            # numpy's complex arrays are refused by check_array; a cast would drop the
            # imaginary part with only a warning.
            raise ValueError(f"{name} must be real, got a complex tensor.")
        if not features.is_floating_point():
            features = features.double()
        if features.shape[0] < min_samples:
            raise ValueError(
                f"{name} has {features.shape[0]} sample(s); at least {min_samples} are needed."
            )
        if not all_finite(features):
            raise ValueError(f"{name} contains NaN or infinity.")
        return features
    return check_array(
        features,
        dtype=[np.float64, np.float32],
        input_name=name,
        ensure_min_samples=min_samples,
    )


def _check_length(y, n_samples, name="features"):
    if y.shape[0] != n_samples:
        raise ValueError(f"y has {y.shape[0]} samples but {name} has {n_samples}; they must match.")


def _encode_labels(y, n_samples, *, name="y", other="features", min_classes=2):
    """Label-encode ``y`` (any labels) to integer codes 0..C-1 of the classes present."""
    y = column_or_1d(to_numpy(y), warn=False)
    _check_length(y, n_samples, other)
    if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or infinity.")
    if y.shape[0]:
        check_classification_target(y, input_name=name)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.shape[0] < min_classes:
        raise ValueError(
            f"{name} has {classes.shape[0]} class; at least {min_classes} classes are needed."
        )
    return codes, classes.shape[0]


def _logme_targets(y, n_samples, task):
    """Target columns as a float64 (n_samples, n_targets) numpy array, and the task."""
    y = to_numpy(y)
    task = _resolve_task(y, task)
    if task == "classification":
        codes, n_classes = _encode_labels(y, n_samples)
        Y = np.zeros((n_samples, n_classes))
        Y[np.arange(n_samples), codes] = 1.0
        return Y, task
    Y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    _check_length(Y, n_samples)
    zero = np.flatnonzero(~np.any(Y != 0, axis=0))
    if zero.size:
        raise ValueError(
            f"y column(s) {zero.tolist()} are identically zero: their evidence is unbounded."
        )
    return Y, task


# -- LogME ------------------------------------------------------------------------------------


# A feature matrix is reduced to its statistics in blocks of rows of at most this many
# float64 entries (32 MiB), so the float64 copy of a float32 block stays small.
_LOGME_BLOCK_ENTRIES = 2**22


class _LogMEStatistics:
    """Running ``F^T F``, ``F^T Y``, ``diag(Y^T Y)`` and ``n`` in float64, block by block.

    Every block is scaled by a power of two (exact) before its products, and the sums are
    kept relative to the largest block scale so far: ``gram`` and ``cross`` are those of
    ``F * 2**-exponent``, so neither tiny nor huge features under- or overflow, and float32
    features lose nothing to a float32 Gram matrix. Works on numpy arrays and torch tensors.
    """

    def __init__(self, name="features"):
        self.name = name
        self.n_samples = 0
        self.exponent = 0
        self.gram = self.cross = self.target_sq = None

    @property
    def n_features(self):
        return None if self.gram is None else self.gram.shape[0]

    def update(self, features, Y):
        """Add a block of rows: ``features`` (n_b, D) of any float dtype, ``Y`` float64 (n_b, C)."""
        if features.ndim != 2:
            raise ValueError(
                f"{self.name} must be 2-D (n_samples, n_features), got shape "
                f"{tuple(features.shape)}."
            )
        if features.shape[0] != Y.shape[0]:
            raise ValueError(
                f"A block of {self.name} has {features.shape[0]} rows but its targets have "
                f"{Y.shape[0]}; they must match."
            )
        if self.gram is not None and features.shape[1] != self.gram.shape[0]:
            raise ValueError(
                f"{self.name} changed width: a block has {features.shape[1]} columns but the "
                f"earlier rows had {self.gram.shape[0]}; every block must have the same columns."
            )
        if features.shape[0] == 0:
            return self
        xp = get_backend(features, Y).xp
        # max and min propagate NaN, so these reductions are also the finiteness check.
        peak = _magnitude(features)
        if not math.isfinite(peak):
            raise ValueError(f"{self.name} contains NaN or infinity.")
        block = _LogMEStatistics(self.name)
        if _SAFE_PEAK[0] <= peak <= _SAFE_PEAK[1]:
            # No square can under- or overflow: use the block as it is (float64 view).
            F = xp.astype(features, xp.float64, copy=False)
        else:
            # A copy of its own, scaled in place (the caller's block is not modified).
            block.exponent = _exponent(peak)
            F = xp.astype(features, xp.float64, copy=True)
            F *= _pow2(-block.exponent)
        block.gram, block.cross, block.target_sq = F.T @ F, F.T @ Y, xp.sum(Y * Y, axis=0)
        block.n_samples = features.shape[0]
        return self.merge(block)

    def merge(self, other):
        """Add the statistics of other rows (e.g. a chunk computed elsewhere)."""
        if other.gram is None:
            return self
        if self.gram is None:
            self.gram, self.cross, self.target_sq = other.gram, other.cross, other.target_sq
            self.exponent, self.n_samples = other.exponent, other.n_samples
            return self
        if other.gram.shape != self.gram.shape or other.cross.shape != self.cross.shape:
            raise ValueError(
                f"{self.name} changed width: a block has {other.gram.shape[0]} columns but "
                f"the earlier rows had {self.gram.shape[0]}; every block must have the same "
                "columns."
            )
        top = max(self.exponent, other.exponent)
        old, new = _pow2(self.exponent - top), _pow2(other.exponent - top)
        self.gram = self.gram * (old * old) + other.gram * (new * new)
        self.cross = self.cross * old + other.cross * new
        self.target_sq = self.target_sq + other.target_sq
        self.exponent = top
        self.n_samples += other.n_samples
        return self


def _magnitude(F):
    """Largest absolute value of a block of features (numpy array or tensor; NaN if it has
    one, 0 for no rows)."""
    xp = get_backend(F).xp
    return max(float(xp.max(F)), -float(xp.min(F))) if F.shape[0] else 0.0


def _target_exponents(Y, xp):
    """Per-column powers of two that bring ``Y`` to unit scale (before any square is formed)."""
    peaks = xp.max(xp.abs(Y), axis=0) if Y.shape[0] else xp.zeros(Y.shape[1], dtype=xp.float64)
    return [_exponent(float(p)) for p in peaks]


def _logme(features, Y, *, tol=_LOGME_TOL, max_iter=_LOGME_MAX_ITER):
    """LogME of every target column, with the Bayesian linear head.

    ``features`` is a validated 2-D array or tensor (float32 or float64) and ``Y`` a float64
    array of the same namespace and device, shape (n_samples, n_targets). The products of the
    features are formed in float64 (float32 products lose up to ~0.02 of the score on
    rank-deficient features), after exact power-of-two scaling of the features and of each
    target column, so that no scale under- or overflows. MacKay's iteration starts from
    alpha = beta = 1 in the features' own units and, for a column whose evidence is higher
    elsewhere on a grid of alpha / beta, again from there (see :func:`logme_score`), so the
    result is the highest maximum whatever the scale of the features.

    Returns a dict of arrays in the input's namespace: ``evidence`` (per-sample log evidence
    of each column), ``coef`` (posterior means, n_targets x n_features), ``alpha``, ``beta``
    (``alpha`` is inf for a column the features do not explain at all) and ``n_iter`` (the
    iterations of both runs, each at most ``max_iter``).
    """
    xp = get_backend(features, Y).xp
    n, D = features.shape
    target_exp = _target_exponents(Y, xp)
    Y = Y * xp.asarray([_pow2(-e) for e in target_exp], dtype=xp.float64, device=Y.device)[None, :]

    if n >= D:
        # Decompose F^T F: U (n x D) is never formed, and F is read one block at a time.
        stats = _LogMEStatistics()
        step = max(1, _LOGME_BLOCK_ENTRIES // max(D, 1))
        for start in range(0, n, step):
            stats.update(features[start : start + step], Y[start : start + step])
        return _logme_from_statistics(
            stats.gram,
            stats.cross,
            stats.target_sq,
            n,
            feature_exp=stats.exponent,
            target_exp=target_exp,
            tol=tol,
            max_iter=max_iter,
        )

    F = xp.astype(features, xp.float64)
    feature_exp = _exponent(float(xp.max(xp.abs(F))))
    F = F * _pow2(-feature_exp)
    sigma, U = xp.linalg.eigh(F @ F.T)
    return _logme_spectral(
        sigma,
        U.T @ Y,
        xp.sum(Y * Y, axis=0),
        n,
        D,
        lambda keep, weights: (F.T @ (U[:, keep] @ weights)).T,
        feature_exp=feature_exp,
        target_exp=target_exp,
        tol=tol,
        max_iter=max_iter,
    )


def _logme_from_statistics(
    gram,
    cross,
    target_sq,
    n,
    *,
    feature_exp=0,
    target_exp=None,
    tol=_LOGME_TOL,
    max_iter=_LOGME_MAX_ITER,
):
    """:func:`_logme` from ``F^T F``, ``F^T Y``, ``diag(Y^T Y)`` and ``n >= D``.

    The statistics are those of ``F * 2**-feature_exp`` and of ``Y`` with column ``j``
    scaled by ``2**-target_exp[j]``; the results are for the unscaled ``F`` and ``Y``.
    """
    xp = get_backend(gram, cross).xp
    sigma, V = xp.linalg.eigh(gram)
    # sigma_i^(1/2) (U^T y)_i, with U = F V sigma^(-1/2) never formed.
    proj = V.T @ cross
    root = xp.sqrt(xp.clip(sigma, min=0.0))
    safe = xp.where(root > 0, root, 1.0)

    def coefficients(keep, weights):
        # m = V diag(1 / (t + sigma)) V^T F^T y, with weights = U^T y / (t + sigma).
        return (V[:, keep] @ (weights * root[keep][:, None])).T

    return _logme_spectral(
        sigma,
        proj / safe[:, None],
        target_sq,
        n,
        gram.shape[0],
        coefficients,
        feature_exp=feature_exp,
        target_exp=target_exp,
        tol=tol,
        max_iter=max_iter,
    )


def _logme_profile(t, sigma, z2, delta, n, xp, *, paired=False):
    """Log evidence maximized over beta at ``alpha = t beta``, on the unit-scale spectrum.

    At ``alpha = t beta`` the evidence of a column is ``r/2 log t + n/2 log beta
    - 1/2 sum_i log(t + sigma_i) - beta/2 S(t) - n/2 log(2 pi)`` with ``S(t) = ||Fm - y||^2
    + t ||m||^2 = sum_i z2_i t / (t + sigma_i) + delta``, so the best beta is ``n / S(t)``.
    ``t`` of shape (G,) is a grid shared by the columns of ``z2`` (r, C) and ``delta``
    (C,), giving (C, G) arrays; with ``paired``, ``t`` (C,) holds one value per column,
    giving (C,) arrays. Returns ``(evidence, S)``; the evidence is not divided by n.
    """
    shrink = t[None, :] / (sigma[:, None] + t[None, :])
    # r/2 log t - 1/2 sum_i log(t + sigma_i), written so that it does not cancel when
    # t >> sigma (it tends to 0: the alpha -> inf limit).
    log_t_det = -0.5 * xp.sum(xp.log1p(sigma[:, None] / t[None, :]), axis=0)
    if paired:
        S = xp.sum(z2 * shrink, axis=0) + delta
    else:
        S = z2.T @ shrink + delta[:, None]
        log_t_det = log_t_det[None, :]
    constant = n / 2.0 * (math.log(n) - 1.0 - math.log(2.0 * math.pi))
    return log_t_det - n / 2.0 * xp.log(S) + constant, S


def _logme_restarts(sigma, z2, delta, n, t, informative, xp):
    """The columns whose evidence profile beats, on a grid of t, the maximum reached at ``t``.

    The grid has ``_LOGME_GRID_STEPS`` points per octave over the spectrum widened by
    ``2**_LOGME_GRID_MARGIN`` on both sides. Beyond it the profile is monotone above the
    spectrum (towards the alpha -> inf limit) and has at most one maximum below it (a near
    exact fit), so a best point at an edge starts the iteration on the slope towards a
    maximum beyond. Returns the indices of the informative columns whose best grid point
    is higher by more than ``_LOGME_RESTART_GAIN`` per sample, that point's t and its best
    beta.
    """
    columns = xp.nonzero(informative)[0]
    if columns.shape[0] == 0:
        return columns, t[columns], t[columns]
    steps = _LOGME_GRID_STEPS
    low = math.floor(math.log2(float(xp.min(sigma)))) - _LOGME_GRID_MARGIN
    high = math.ceil(math.log2(float(xp.max(sigma)))) + _LOGME_GRID_MARGIN
    exponents = xp.arange(low * steps, high * steps + 1, dtype=xp.float64, device=sigma.device)
    grid = 2.0 ** (exponents / steps)
    z2, delta = z2[:, columns], delta[columns]
    profile, S = _logme_profile(grid, sigma, z2, delta, n, xp)
    best = xp.argmax(profile, axis=1)
    reached = _logme_profile(t[columns], sigma, z2, delta, n, xp, paired=True)[0]
    rows = xp.nonzero(xp.max(profile, axis=1) - reached > _LOGME_RESTART_GAIN * n)[0]
    best = best[rows]
    return columns[rows], grid[best], n / S[rows, best]


def _logme_spectral(sigma, uty, y2, n, D, coefficients, *, feature_exp, target_exp, tol, max_iter):
    """MacKay's fixed point and the evidence from the spectrum of the (scaled) features.

    ``sigma`` are the eigenvalues of the small-side Gram matrix, ``uty`` the coordinates
    ``U^T y`` of every target column on the left singular vectors, ``y2`` the columns'
    squared norms; ``coefficients(keep, weights)`` maps ``weights = U^T y / (t + sigma)``
    on the kept directions to the posterior means in feature space. Everything is first
    brought to unit scale by powers of two (exact), the iteration runs there, and the
    results are mapped back, so no scale of features or targets over- or underflows.
    """
    xp = get_backend(sigma, uty).xp
    n_targets = uty.shape[1]
    target_exp = [0] * n_targets if target_exp is None else list(target_exp)
    sigma_max = float(xp.max(sigma)) if sigma.shape[0] else 0.0
    # Unit scale: sigma_max in [1/4, 1) by an even power of two (features scale by its root)
    # and each target column to unit mean square.
    half = (_exponent(sigma_max) + 1) // 2 if sigma_max > 0 else 0
    col_exp = [_exponent(math.sqrt(float(v) / n)) if v > 0 else 0 for v in y2]
    col_scale = xp.asarray([_pow2(-e) for e in col_exp], dtype=xp.float64, device=y2.device)
    sigma = sigma * _pow2(-2 * half)
    sigma_max *= _pow2(-2 * half)
    uty = uty * col_scale[None, :]
    y2 = y2 * col_scale**2

    # Directions below the rounding level of the float64 Gram matrix carry no information;
    # they act as zero singular values (their evidence term is the same log(alpha)).
    eps = float(np.finfo(np.float64).eps)
    keep = sigma > sigma_max * min(n, D) * eps
    sigma, uty = sigma[keep], uty[keep, :]
    r = sigma.shape[0]
    z2 = uty**2
    # ||y||^2 - ||U^T y||^2 can cancel to slightly below 0: clamp.
    delta = xp.clip(y2 - xp.sum(z2, axis=0), min=0.0)

    def moments(t, z2c, delta_c):
        den = sigma[:, None] + t[None, :]
        gamma = xp.sum(sigma[:, None] / den, axis=0)
        m2 = xp.sum(sigma[:, None] * z2c / den**2, axis=0)
        res2 = xp.sum(z2c * (t[None, :] / den) ** 2, axis=0) + delta_c
        # n - gamma written so that it does not cancel when t << sigma.
        n_minus_gamma = (n - r) + xp.sum(t[None, :] / den, axis=0)
        return gamma, m2, res2, n_minus_gamma

    # Start from alpha = beta = 1 in the features' own units (t = 1 / s^2 here), as the
    # textbook iteration does, unless that is beyond what float64 resolves at this scale.
    t_start = _pow2(min(max(-2 * (feature_exp + half), -_LOGME_T_START_EXP), _LOGME_T_START_EXP))
    ones = xp.ones_like(y2)
    alpha, beta = ones * t_start, xp.asarray(ones, copy=True)
    n_iter = xp.zeros_like(y2)
    # Columns the features cannot explain (U^T y = 0) have alpha = inf from the start.
    informative = xp.sum(sigma[:, None] * z2, axis=0) > 0.0
    t_high = sigma_max / eps
    t_low = (float(xp.min(sigma)) if r else 0.0) * eps

    def iterate(alpha, beta, active):
        # MacKay's fixed point for the columns ``active``, updating alpha and beta in place.
        for _ in range(max_iter):
            if active.shape[0] == 0:
                break
            t = alpha[active] / beta[active]
            gamma, m2, res2, n_minus_gamma = moments(t, z2[:, active], delta[active])
            a, b = gamma / m2, n_minus_gamma / res2
            alpha[active], beta[active] = a, b
            n_iter[active] += 1.0
            t_new = a / b
            done = (xp.abs(t_new - t) <= tol * t) | (t_new >= t_high) | (t_new <= t_low)
            active = active[~done]

    active = xp.nonzero(informative)[0]
    iterate(alpha, beta, active)
    # The iteration climbs to the local maximum of the evidence next to its start. Where the
    # evidence maximized over beta is higher at a point of a grid of t, it runs again from
    # there, and each column keeps the higher of its two maxima (whatever the scale).
    restart, t_restart, beta_restart = _logme_restarts(
        sigma, z2, delta, n, alpha / beta, informative, xp
    )
    if restart.shape[0]:
        again_alpha, again_beta = xp.asarray(alpha, copy=True), xp.asarray(beta, copy=True)
        again_alpha[restart], again_beta[restart] = t_restart * beta_restart, beta_restart
        iterate(again_alpha, again_beta, restart)
        higher = (
            _logme_profile(again_alpha / again_beta, sigma, z2, delta, n, xp, paired=True)[0]
            > _logme_profile(alpha / beta, sigma, z2, delta, n, xp, paired=True)[0]
        )
        alpha = xp.where(higher, again_alpha, alpha)
        beta = xp.where(higher, again_beta, beta)
    # Past t_high the features are invisible at float64 precision: use the alpha -> inf limit.
    vanished = ~informative | (alpha / beta >= t_high)
    beta = xp.where(vanished, n / y2, beta)
    alpha = xp.where(vanished, beta, alpha)  # finite stand-in, replaced by inf below
    t = alpha / beta

    _, m2, res2, _ = moments(t, z2, delta)
    log_det = r * xp.log(beta) + xp.sum(xp.log(t[None, :] + sigma[:, None]), axis=0)
    evidence = (
        r / 2.0 * xp.log(alpha)
        + n / 2.0 * xp.log(beta)
        - 0.5 * log_det
        - beta / 2.0 * res2
        - alpha / 2.0 * m2
        - n / 2.0 * math.log(2.0 * math.pi)
    )
    limit = n / 2.0 * xp.log(beta) - n / 2.0 - n / 2.0 * math.log(2.0 * math.pi)
    # Back to the columns' own scale: y = c y' divides the density by c^n.
    log_c = xp.asarray(
        [(e + f) * math.log(2.0) for e, f in zip(target_exp, col_exp)],
        dtype=xp.float64,
        device=y2.device,
    )
    evidence = xp.where(vanished, limit, evidence) / n - log_c
    if not bool(xp.all(xp.isfinite(evidence))):
        raise ValueError(
            "The LogME evidence is not finite in float64 for these features and targets "
            "(a target column is fitted exactly by features of extreme rank or scale)."
        )

    weights = xp.where(vanished[None, :], 0.0, uty / (t[None, :] + sigma[:, None]))

    def column_factors(power_c, power_2):
        # c_j**power_c * 2**power_2 per column, as exact powers of two (saturating).
        return xp.asarray(
            [_pow2(power_c * (e + f) + power_2) for e, f in zip(target_exp, col_exp)],
            dtype=xp.float64,
            device=y2.device,
        )

    # Back to the given scales: y = c y' and F = s F' with s = 2**(feature_exp + half), so
    # w = (c / s) w', alpha = (s / c)^2 alpha' and beta = beta' / c^2. ``coefficients`` maps
    # the unit-scale weights through features 2**half times larger than the unit-scale ones.
    # (Beyond float64, alpha and beta saturate at 0 or inf by design: no overflow warning.)
    with np.errstate(over="ignore", under="ignore"):
        coef = coefficients(keep, weights) * column_factors(1, -(feature_exp + 2 * half))[:, None]
        factors = column_factors(-2, 2 * (feature_exp + half))
        alpha = xp.where(vanished, math.inf, alpha * factors)
        beta = beta * column_factors(-2, 0)
    return {"evidence": evidence, "coef": coef, "alpha": alpha, "beta": beta, "n_iter": n_iter}


def _logme_fit(features, y, *, task="auto"):
    """Validate, then run :func:`_logme`; ``y`` may be any labels or regression targets.

    Returns ``(score, result, task)`` where ``result`` is the dict of :func:`_logme`.
    """
    if is_dask_array(features):
        return _logme_fit_dask(features, y, task=task)
    features = _check_features(features)
    n = features.shape[0]
    Y, task = _logme_targets(y, n, task)
    nx = get_backend(features)
    result = _logme(features, nx.asarray(Y))
    return float(nx.xp.mean(result["evidence"])), result, task


class _LogMEStream:
    """LogME whose features arrive in blocks of rows (``n >= D``); the targets are known.

    ``update(start, features)`` adds the rows ``start:start + len(features)`` (numpy or a
    tensor); ``result()`` gives ``(score, result)`` as :func:`_logme_fit` once every row
    has been added. Memory is that of one block plus ``D x D``.
    """

    def __init__(self, y, n_samples, *, task="auto", name="features"):
        self.n_samples = n_samples
        self.task = _resolve_task(to_numpy(y), task)
        if self.task == "classification":
            # One-hot rows are built per block: no n x n_classes matrix is kept.
            self.codes, n_classes = _encode_labels(y, n_samples)
            self.Y, self.target_exp = None, [_exponent(1.0)] * n_classes
        else:
            Y, _ = _logme_targets(y, n_samples, "regression")
            self.target_exp = _target_exponents(Y, np)
            # Not in place: Y may be the caller's array.
            self.Y = Y * np.array([_pow2(-e) for e in self.target_exp])[None, :]
        self.stats = _LogMEStatistics(name)

    def update(self, start, features):
        stop = start + features.shape[0]
        if self.Y is None:
            codes = self.codes[start:stop]
            Y = np.zeros((codes.shape[0], len(self.target_exp)))
            Y[np.arange(codes.shape[0]), codes] = _pow2(-self.target_exp[0])
        else:
            Y = self.Y[start:stop]
        if is_torch_tensor(features):
            torch = import_optional("torch")
            Y = torch.as_tensor(Y, dtype=torch.float64, device=features.device)
        self.stats.update(features, Y)
        return self

    def result(self):
        stats, n = self.stats, self.n_samples
        if stats.n_samples != n:
            raise ValueError(
                f"{stats.name}: statistics of {stats.n_samples} rows were accumulated, but "
                f"there are {n} targets."
            )
        if n < stats.n_features:
            raise ValueError(
                f"{stats.name}: {n} rows for {stats.n_features} features; the statistics "
                "determine LogME only when n_samples >= n_features."
            )
        result = _logme_from_statistics(
            stats.gram,
            stats.cross,
            stats.target_sq,
            n,
            feature_exp=stats.exponent,
            target_exp=self.target_exp,
        )
        xp = get_backend(result["evidence"]).xp
        return float(xp.mean(result["evidence"])), result


def _chunk_statistics(block, Y):
    return _LogMEStatistics().update(np.asarray(block), Y)


def _logme_fit_dask(features, y, *, task="auto"):
    """:func:`_logme_fit` for a dask array: statistics per chunk of rows, summed here."""
    dask = import_optional("dask", purpose="for dask array features")
    if features.ndim != 2:
        raise ValueError(
            f"features must be 2-D (n_samples, n_features), got shape {features.shape}."
        )
    if features.dtype.kind not in "fiub":
        raise ValueError(f"features must be numeric, got a dask array of dtype {features.dtype}.")
    n, D = features.shape
    if math.isnan(n):
        raise ValueError(
            "features has chunks of unknown size; call features.compute_chunk_sizes() first."
        )
    if n < 2:
        raise ValueError(f"features has {n} sample(s); at least 2 are needed.")
    if is_dask_array(y):
        y = y.compute()
    Y, task = _logme_targets(y, n, task)
    if n < D:
        # Fewer rows than features: the statistics do not suffice, and n x D is the small side.
        return _logme_fit(np.asarray(features.compute()), y, task=task)
    target_exp = _target_exponents(Y, np)
    Y = Y * np.array([_pow2(-e) for e in target_exp])[None, :]
    # One chunk across the columns, so every task sees whole rows.
    features = features.rechunk({1: -1})
    bounds = np.cumsum((0, *features.chunks[0]))
    parts = [
        dask.delayed(_chunk_statistics)(block, Y[start:stop])
        for block, start, stop in zip(features.to_delayed().ravel(), bounds[:-1], bounds[1:])
    ]
    stats = _LogMEStatistics()
    for part in dask.compute(*parts):
        stats.merge(part)
    result = _logme_from_statistics(
        stats.gram,
        stats.cross,
        stats.target_sq,
        n,
        feature_exp=stats.exponent,
        target_exp=target_exp,
    )
    return float(np.mean(result["evidence"])), result, task


@_register_score(
    "logme",
    input="features",
    tasks=("classification", "regression"),
    label="LogME",
    on_device=True,
)
@validate_params(
    {"features": ["array-like"], "y": ["array-like"], "task": [_TASKS]},
    prefer_skip_nested_validation=True,
)
def logme_score(features, y, *, task="auto"):
    r"""LogME: the log maximum evidence of a Bayesian linear model on the features.

    For each target column :math:`y \in \mathbb{R}^n` (a one-hot class indicator, or a
    regression output) LogME models :math:`y = Fw + \varepsilon` with prior
    :math:`w \sim \mathcal{N}(0, \alpha^{-1} I_D)` and noise
    :math:`\varepsilon \sim \mathcal{N}(0, \beta^{-1} I_n)`. The log evidence

    .. math::

        \mathcal{L}(\alpha, \beta) = \frac{D}{2}\log\alpha + \frac{n}{2}\log\beta
        - \frac{1}{2}\log|\alpha I + \beta F^\top F| - \frac{\beta}{2}\|Fm - y\|^2
        - \frac{\alpha}{2} m^\top m - \frac{n}{2}\log 2\pi,
        \quad m = \beta(\alpha I + \beta F^\top F)^{-1} F^\top y,

    is maximized by MacKay's fixed point (:math:`\gamma = \sum_i \beta\sigma_i /
    (\alpha + \beta\sigma_i)`, :math:`\alpha \leftarrow \gamma / m^\top m`,
    :math:`\beta \leftarrow (n - \gamma) / \|Fm - y\|^2`, from :math:`\alpha = \beta = 1`).
    The score is the mean over target columns of :math:`\mathcal{L} / n`. There is no bias
    term and the features are not centred. Higher is better.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features), torch.Tensor or dask array
        Features of the target data computed by a pre-trained model. A tensor keeps the
        computation on its device (CUDA included). A dask array is reduced chunk by chunk
        to the statistics of :func:`logme_score_from_stats` (its chunks are computed where
        dask runs them, e.g. on a cluster), so it never has to fit in memory.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Class labels (any labels; the classes present are one-hot encoded) or regression
        targets (one or several outputs).
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"`` treats ``y`` of floating dtype, and continuous or multi-output ``y``, as
        regression; integer, boolean or string labels (binary or multiclass in the sense
        of :func:`sklearn.utils.multiclass.type_of_target`) as classification.

    Returns
    -------
    score : float
        The average per-sample log maximum evidence (higher is better).

    See Also
    --------
    leep_score : Needs the source model's class probabilities instead of features.
    skreuse.selection.LogMESelector : Ranks candidate models by this score and reuses the best.

    Notes
    -----
    One eigendecomposition is shared by all target columns: of :math:`F^\top F` when
    :math:`n \ge D` (the left singular vectors are never formed) and of :math:`FF^\top`
    when :math:`n < D`; the fixed point then runs vectorized over all columns at once, each
    column stopping when :math:`\alpha/\beta` has converged. When :math:`n \ge D` the
    features are read in blocks of rows and only :math:`F^\top F`, :math:`F^\top Y` and the
    squared norms of the target columns are kept (see :func:`logme_score_from_stats`).
    These products are always formed in float64, also for float32 features and tensors
    (a float32 Gram matrix loses up to a few hundredths of the score on rank-deficient
    features), after exact power-of-two scaling of the features and of each target
    column, so that no scale from :math:`10^{-300}` to :math:`10^{300}` under- or
    overflows. A score that still cannot be represented in float64 raises a
    ``ValueError`` instead of returning NaN. Unlike the authors' reference
    code, the :math:`(D - r)\log\alpha` part of the determinant is kept when the features
    have rank :math:`r < D` (the score is not inflated when :math:`n < D`), no constant is
    added in the updates, and labels are encoded first (classes absent from ``y`` do not
    count). Like the authors' code, MacKay's iteration starts from :math:`\alpha = \beta = 1`
    in the features' own units (kept within :math:`2^{\pm 26}` of the largest eigenvalue of
    :math:`F^\top F`). It climbs to the local maximum next to its start, and the evidence
    of a column can have two (on 12 rows of 12 features, the authors' iteration gives
    -0.545 at scales :math:`10^{-8}` to :math:`10^{-2}` and the maximum, -0.530, at
    scales 1 to :math:`10^{8}`). So the evidence maximized over :math:`\beta` for
    :math:`t = \alpha/\beta`, :math:`\frac{r}{2}\log t - \frac{1}{2}\sum_i
    \log(t + \sigma_i) - \frac{n}{2}\log\big(\sum_i z_i^2 t / (t + \sigma_i) + \|y\|^2
    - \|z\|^2\big) + \text{const}` with :math:`z = U^\top y`, is also evaluated on a
    grid of four values of :math:`t` per octave over the spectrum, widened by :math:`2^8`
    on both sides (beyond, it has at most one maximum, and an edge point starts the
    iteration towards it), for all columns at once. Where a grid point beats the maximum
    reached, the iteration runs again from it and the column keeps the higher maximum.
    The score is thus the maximum evidence, the same at every scale of the features (to
    the solver's tolerance), and equals the authors' result wherever their iteration
    converges to it (the second run does not start then). A column that the
    features cannot explain at all takes the :math:`\alpha \to \infty` limit; one that
    they reproduce exactly (zero residual with rank :math:`r < n`) has unbounded evidence,
    and the iteration stops once :math:`\alpha/\beta` falls below float64 resolution,
    giving a large finite score.

    References
    ----------
    .. [1] K. You, Y. Liu, J. Wang, M. Long, "LogME: Practical Assessment of Pre-trained
       Models for Transfer Learning", ICML 2021.
    .. [2] K. You, Y. Liu, Z. Zhang, J. Wang, M. I. Jordan, M. Long, "Ranking and Tuning
       Pre-trained Models: A New Paradigm for Exploiting Model Hubs", JMLR 23, 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import logme_score
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=200)
    >>> informative = np.eye(3)[y] + 0.1 * rng.normal(size=(200, 3))
    >>> noise = rng.normal(size=(200, 3))
    >>> logme_score(informative, y) > logme_score(noise, y)
    True
    """
    return _logme_fit(features, y, task=task)[0]


@validate_params(
    {
        "gram": ["array-like"],
        "cross": ["array-like"],
        "target_gram": ["array-like", Real],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def logme_score_from_stats(gram, cross, target_gram, n_samples):
    r"""LogME from the sufficient statistics :math:`F^\top F`, :math:`F^\top Y`, :math:`Y^\top Y`.

    When there are at least as many samples as features, LogME depends on the features
    and targets only through these sums over rows, so it can be computed on data that
    never fits in memory: add up the statistics chunk by chunk (or on several machines)
    and call this function once. The result equals :func:`logme_score` on the full
    matrices to rounding error.

    Parameters
    ----------
    gram : array-like of shape (n_features, n_features)
        :math:`F^\top F`, summed over all rows (accumulate it in float64).
    cross : array-like of shape (n_features, n_targets) or (n_features,)
        :math:`F^\top Y`, where the columns of :math:`Y` are the one-hot class indicators
        (classification) or the regression outputs.
    target_gram : array-like of shape (n_targets, n_targets) or (n_targets,), or float
        :math:`Y^\top Y`, or only its diagonal (the squared norms of the target columns);
        a float for a single target.
    n_samples : int
        Number of rows summed; at least ``n_features`` (with fewer rows, use
        :func:`logme_score` on the features themselves).

    Returns
    -------
    score : float
        The average per-sample log maximum evidence, as :func:`logme_score`.

    See Also
    --------
    logme_score : The same score from the feature matrix (and labels).

    Notes
    -----
    The statistics are brought to unit scale by powers of two before the eigendecomposition
    of :math:`F^\top F`, so that no scale of the features or of the targets under- or
    overflows, and the maximum of the evidence is found as in :func:`logme_score` (MacKay's
    iteration, run again from the best point of a grid where that is higher), so the
    result does not depend on the scale either; statistics that over- or underflowed
    float64 cannot be recovered, hence the error on non-finite input.

    References
    ----------
    .. [1] K. You, Y. Liu, J. Wang, M. Long, "LogME: Practical Assessment of Pre-trained
       Models for Transfer Learning", ICML 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import logme_score, logme_score_from_stats
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=1000)
    >>> F = np.eye(3)[y] + rng.normal(size=(1000, 3))
    >>> Y = np.eye(3)[y]
    >>> gram, cross, target_gram = 0, 0, 0
    >>> for rows in np.array_split(np.arange(1000), 4):  # e.g. chunks read from disk
    ...     gram = gram + F[rows].T @ F[rows]
    ...     cross = cross + F[rows].T @ Y[rows]
    ...     target_gram = target_gram + Y[rows].T @ Y[rows]
    >>> bool(np.isclose(logme_score_from_stats(gram, cross, target_gram, 1000),
    ...                 logme_score(F, y), rtol=1e-10))
    True
    """
    gram = check_array(to_numpy(gram), dtype=np.float64, input_name="gram")
    D = gram.shape[0]
    if gram.shape != (D, D):
        raise ValueError(
            f"gram must be a square (n_features, n_features) matrix, got {gram.shape}."
        )
    cross = check_array(to_numpy(cross), dtype=np.float64, ensure_2d=False, input_name="cross")
    if cross.ndim == 1:
        cross = cross.reshape(-1, 1)
    if cross.ndim != 2 or cross.shape[0] != D:
        raise ValueError(
            f"cross must have shape (n_features, n_targets) = ({D}, n_targets), got {cross.shape}."
        )
    target_sq = check_array(
        np.atleast_1d(to_numpy(target_gram)),
        dtype=np.float64,
        ensure_2d=False,
        input_name="target_gram",
    )
    if target_sq.ndim == 2:
        if target_sq.shape[0] != target_sq.shape[1]:
            raise ValueError(
                f"target_gram must be square (n_targets, n_targets), got {target_sq.shape}."
            )
        target_sq = np.diag(target_sq).copy()
    if target_sq.shape != (cross.shape[1],):
        raise ValueError(
            f"target_gram describes {target_sq.shape[0]} target(s) but cross has "
            f"{cross.shape[1]}; they must match."
        )
    if n_samples < D:
        raise ValueError(
            f"n_samples={n_samples} is smaller than n_features={D}: the statistics do not "
            "determine LogME then; call logme_score on the features."
        )
    if np.any(target_sq <= 0):
        zero = np.flatnonzero(target_sq <= 0).tolist()
        raise ValueError(
            f"target_gram: column(s) {zero} have a non-positive squared norm (an identically "
            "zero target has unbounded evidence)."
        )
    if np.any(np.diag(gram) < 0):
        raise ValueError("gram must be positive semi-definite: its diagonal has negative entries.")
    # Symmetrize: a sum of chunk products can differ from its transpose by rounding.
    gram = (gram + gram.T) / 2.0
    result = _logme_from_statistics(gram, cross, target_sq, int(n_samples))
    return float(np.mean(result["evidence"]))


# -- scores from the source model's outputs ---------------------------------------------------


@_register_score("leep", input="proba", label="LEEP")
@validate_params(
    {"source_proba": ["array-like"], "y": ["array-like"]}, prefer_skip_nested_validation=True
)
def leep_score(source_proba, y):
    r"""LEEP: log expected empirical prediction of a source classifier on the target labels.

    With :math:`\theta(x_i) \in \Delta^{C_s}` the source model's class probabilities, the
    empirical joint :math:`\hat P(y, z) = \frac{1}{n}\sum_{i: y_i = y} \theta(x_i)_z`
    gives :math:`\hat P(y \mid z) = \hat P(y, z) / \hat P(z)`, and

    .. math::

        \mathrm{LEEP} = \frac{1}{n} \sum_{i=1}^n
        \log \Big( \sum_{z} \hat P(y_i \mid z)\, \theta(x_i)_z \Big).

    It is the average log-likelihood of the "expected empirical predictor" that reuses the
    source head followed by a fixed source-to-target label map. Higher is better (at most 0).

    Parameters
    ----------
    source_proba : array-like of shape (n_samples, n_source_classes) or torch.Tensor
        Class probabilities of the source model on the target inputs (rows sum to 1).
    y : array-like of shape (n_samples,)
        Target class labels (any labels).

    Returns
    -------
    score : float
        The LEEP score, a non-positive number.

    See Also
    --------
    nce_score : Uses hard source labels instead of probabilities.
    logme_score : Uses features instead of source predictions.

    References
    ----------
    .. [1] C. Nguyen, T. Hassner, M. Seeger, C. Archambeau, "LEEP: A New Measure to
       Evaluate Transferability of Learned Representations", ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import leep_score
    >>> y = np.array([0, 0, 1, 1])
    >>> aligned = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    >>> uninformative = np.full((4, 2), 0.5)
    >>> round(leep_score(aligned, y), 4), round(leep_score(uninformative, y), 4)
    (-0.2955, -0.6931)
    """
    proba = check_array(to_numpy(source_proba), dtype=np.float64, input_name="source_proba")
    if np.any(proba < 0) or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "source_proba must hold class probabilities: non-negative rows that sum to 1."
        )
    codes, n_classes = _encode_labels(y, proba.shape[0], other="source_proba")
    n = proba.shape[0]
    joint = np.zeros((n_classes, proba.shape[1]))
    np.add.at(joint, codes, proba / n)
    marginal = joint.sum(axis=0)
    # A source class with no probability mass anywhere contributes nothing to any row.
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)
    expected = np.einsum("iz,iz->i", proba, conditional[codes])
    return float(np.mean(np.log(expected)))


@_register_score("nce", input="labels", label="NCE")
@validate_params(
    {"source_labels": ["array-like"], "y": ["array-like"]}, prefer_skip_nested_validation=True
)
def nce_score(source_labels, y):
    r"""NCE: negative conditional entropy of the target labels given the source labels.

    With :math:`z_i` the source model's predicted (hard) label of each target input and
    :math:`\hat P(y, z)` the empirical joint distribution of :math:`(y_i, z_i)`,

    .. math::

        \mathrm{NCE} = -H(Y \mid Z) = \sum_{y, z} \hat P(y, z) \log \hat P(y \mid z).

    Higher is better (at most 0, reached when the source label determines the target label).

    Parameters
    ----------
    source_labels : array-like of shape (n_samples,) or torch.Tensor
        Source-task labels predicted for the target inputs (e.g. the argmax of the source
        model's probabilities); any labels.
    y : array-like of shape (n_samples,)
        Target class labels (any labels).

    Returns
    -------
    score : float
        The NCE score, a non-positive number.

    See Also
    --------
    leep_score : Uses the source model's probabilities instead of hard labels.

    References
    ----------
    .. [1] A. T. Tran, C. V. Nguyen, T. Hassner, "Transferability and Hardness of
       Supervised Classification Tasks", ICCV 2019.

    Examples
    --------
    >>> from skreuse.transferability import nce_score
    >>> nce_score(["cat", "cat", "dog", "dog"], [0, 0, 1, 1])
    0.0
    >>> round(nce_score(["cat", "dog", "cat", "dog"], [0, 0, 1, 1]), 4)
    -0.6931
    """
    z = column_or_1d(to_numpy(source_labels), warn=False)
    z_codes, n_source = _encode_labels(z, z.shape[0], name="source_labels", min_classes=1)
    y_codes, n_classes = _encode_labels(y, z.shape[0], other="source_labels")
    counts = np.bincount(z_codes * n_classes + y_codes, minlength=n_source * n_classes)
    joint = counts.reshape(n_source, n_classes) / z.shape[0]
    conditional = joint / joint.sum(axis=1, keepdims=True)
    mask = joint > 0
    return float(np.sum(joint[mask] * np.log(conditional[mask])))


# -- scores from features (classification) ----------------------------------------------------


def _class_means(features, codes, n_classes):
    """Centred class means (C, D) and class proportions (C,)."""
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    sums = np.zeros((n_classes, features.shape[1]))
    np.add.at(sums, codes, features)
    means = sums / counts[:, None] - features.mean(axis=0)
    return means, counts / features.shape[0]


def _prepare_classification(features, y, *, rescale=True):
    features = _check_features(to_numpy(features) if is_torch_tensor(features) else features)
    features = np.asarray(features, dtype=np.float64)
    codes, n_classes = _encode_labels(y, features.shape[0])
    if rescale:
        features = features / _power_of_two_scale(features)
        # Every score prepared here is invariant to a shift of the features. Centred, they
        # keep scikit-learn's PCA (its covariance solver does not centre first) and SFDA's
        # discriminant from cancelling: around 1e8, NLEEP and SFDA came out wrong.
        features = features - features.mean(axis=0)
    return features, codes, n_classes


def _power_of_two_scale(features):
    """A power of two near the largest magnitude of ``features`` (1 for ordinary scales).

    The H-scores and GBC do not depend on a global rescaling of the features, but their
    covariances square the features and Ledoit-Wolf's shrinkage their squares: at 1e150
    they overflow, at 1e-150 they underflow. Dividing by a power of two is exact, so
    features of ordinary magnitude (1e-30 to 1e30) give bit-identical scores. The power
    is the one just above the largest magnitude (features brought into ``[0.5, 1)``):
    SFDA's regularization is not scale-free, so this is part of its result.
    """
    scale = power_of_two_scale(features, safe=(1e-30, 1e30))
    return scale if scale == 1.0 else 2.0 * scale


@_register_score("hscore", input="features", label="H-score")
@validate_params(
    {"features": ["array-like"], "y": ["array-like"]}, prefer_skip_nested_validation=True
)
def hscore(features, y):
    r"""H-score: the discriminability of the features for the target classes.

    .. math::

        H(f) = \operatorname{tr}\big(\operatorname{cov}(f)^{+}\,
        \operatorname{cov}(\mathbb{E}[f \mid y])\big),

    the between-class covariance "divided" by the total covariance of the features (a
    pseudo-inverse when the covariance is singular). It is the optimal value of a
    maximal-correlation (HGR) objective. Higher is better; it lies between 0 and
    ``min(n_features, n_classes - 1)``.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features) or torch.Tensor
        Features of the target data computed by a pre-trained model.
    y : array-like of shape (n_samples,)
        Target class labels (any labels).

    Returns
    -------
    score : float
        The H-score.

    See Also
    --------
    regularized_hscore : The shrinkage-regularized H-score, stabler in high dimension.

    Notes
    -----
    Both covariances use the same normalization, which cancels in the trace. The
    pseudo-inverse drops eigenvalues below ``max(eig) * n_features * eps``.

    References
    ----------
    .. [1] Y. Bao, Y. Li, S.-L. Huang, L. Zhang, L. Zheng, A. Zamir, L. Guibas, "An
       Information-Theoretic Approach to Transferability in Task Transfer Learning",
       ICIP 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import hscore
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 2, size=100)
    >>> features = np.c_[y + 0.1 * rng.normal(size=100), rng.normal(size=100)]
    >>> 0.9 < hscore(features, y) < 1.0
    True
    """
    features, codes, n_classes = _prepare_classification(features, y)
    centred = features - features.mean(axis=0)
    cov_f = centred.T @ centred / features.shape[0]
    means, weights = _class_means(features, codes, n_classes)
    between = (means * weights[:, None]).T @ means
    return float(np.trace(linalg.pinvh(cov_f) @ between))


@_register_score("regularized_hscore", input="features", label="Regularized H-score")
@validate_params(
    {"features": ["array-like"], "y": ["array-like"]}, prefer_skip_nested_validation=True
)
def regularized_hscore(features, y):
    r"""H-score with a Ledoit–Wolf shrinkage estimate of the feature covariance.

    .. math::

        H_\alpha(f) = \operatorname{tr}\big(\Sigma_\alpha^{-1}\,
        (1 - \alpha)\operatorname{cov}(\mathbb{E}[f \mid y])\big),
        \quad \Sigma_\alpha = (1 - \alpha)\operatorname{cov}(f) + \alpha\mu I,

    where :math:`\alpha` is the Ledoit–Wolf shrinkage and :math:`\mu` the mean variance.
    The inverse of the raw covariance in :func:`hscore` is unstable when features are many
    or correlated; shrinkage makes the score reliable there. Higher is better.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features) or torch.Tensor
        Features of the target data computed by a pre-trained model.
    y : array-like of shape (n_samples,)
        Target class labels (any labels).

    Returns
    -------
    score : float
        The regularized H-score.

    See Also
    --------
    hscore : The unregularized score (equal when the shrinkage is 0).
    sklearn.covariance.ledoit_wolf : The shrinkage estimate used here.

    Notes
    -----
    Both covariances are maximum-likelihood (``1/n``) estimates, so that the score
    equals :func:`hscore` when the estimated shrinkage is 0.

    References
    ----------
    .. [1] S. Ibrahim, N. Ponomareva, R. Mazumder, "Newer is not always better: Rethinking
       transferability metrics, their peculiarities, stability and performance", ECML PKDD
       2022.
    .. [2] O. Ledoit, M. Wolf, "A well-conditioned estimator for large-dimensional
       covariance matrices", Journal of Multivariate Analysis 88, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import regularized_hscore
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 2, size=100)
    >>> features = np.c_[y + 0.1 * rng.normal(size=100), rng.normal(size=100)]
    >>> round(regularized_hscore(features, y), 3)
    0.798
    """
    features, codes, n_classes = _prepare_classification(features, y)
    cov_shrunk, shrinkage = ledoit_wolf(features)
    means, weights = _class_means(features, codes, n_classes)
    between = (means * weights[:, None]).T @ means
    try:
        solved = linalg.solve(cov_shrunk, (1.0 - shrinkage) * between, assume_a="pos")
    except linalg.LinAlgError:
        # Singular only when shrinkage cannot regularize (e.g. constant features, whose
        # mean variance is 0); the pseudo-inverse gives hscore's convention there.
        solved = linalg.pinvh(cov_shrunk) @ ((1.0 - shrinkage) * between)
    return float(np.trace(solved))


def _coding_rate(Z, eps, scale=1.0):
    """0.5 * logdet(I + Z^T Z / (n eps)), from the eigenvalues of the smaller Gram matrix.

    ``Z`` is given divided by ``scale``; the eigenvalues are then rescaled in log space,
    so that features whose Gram matrix would overflow (or underflow) still give the value.
    """
    n = Z.shape[0]
    gram = Z.T @ Z if Z.shape[1] <= n else Z @ Z.T
    eigenvalues = linalg.eigvalsh(gram)
    # Eigenvalues at the rounding level of the Gram matrix are zeros (centring alone makes
    # one when n <= D): as noise they would add log(noise / (n eps)), not small for large
    # features (off by 5.7 at features of magnitude 1e8).
    eigenvalues[eigenvalues <= eigenvalues.max() * max(Z.shape) * np.finfo(np.float64).eps] = 0.0
    if scale == 1.0:
        return 0.5 * float(np.sum(np.log1p(eigenvalues / (n * eps))))
    with np.errstate(divide="ignore"):
        log_ratio = np.log(eigenvalues) + 2.0 * math.log(scale) - math.log(n * eps)
    return 0.5 * float(np.sum(np.logaddexp(0.0, log_ratio)))


@_register_score("transrate", input="features", label="TransRate")
@validate_params(
    {
        "features": ["array-like"],
        "y": ["array-like"],
        "eps": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def transrate(features, y, *, eps=1e-4):
    r"""TransRate: the mutual information between features and labels, by coding rate.

    With centred features :math:`Z` and the coding rate
    :math:`R(Z, \epsilon) = \frac{1}{2}\log\det(I + \frac{1}{n\epsilon} Z^\top Z)`,

    .. math::

        \mathrm{TrR}(Z, y) = R(Z, \epsilon) - \frac{1}{C}\sum_{c=1}^{C} R(Z_c, \epsilon),

    where :math:`Z_c` holds the rows of class :math:`c` (each with its own :math:`n_c`).
    Features that are compact within classes and spread between them score high.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features) or torch.Tensor
        Features of the target data computed by a pre-trained model.
    y : array-like of shape (n_samples,)
        Target class labels (any labels).
    eps : float, default=1e-4
        Distortion of the coding rate.

    Returns
    -------
    score : float
        The TransRate score (higher is better).

    See Also
    --------
    hscore : A covariance-based score of the same kind.

    Notes
    -----
    The normalization (``1 / (n eps)`` and the unweighted average over classes) follows the
    authors' released code. Log-determinants use the eigenvalues of the smaller of
    :math:`Z^\top Z` and :math:`ZZ^\top`.

    References
    ----------
    .. [1] L.-K. Huang, J. Huang, Y. Rong, Q. Yang, Y. Wei, "Frustratingly Easy
       Transferability Estimation", ICML 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import transrate
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=150)
    >>> informative = np.eye(3)[y] + 0.1 * rng.normal(size=(150, 3))
    >>> transrate(informative, y) > transrate(rng.normal(size=(150, 3)), y)
    True
    """
    features, codes, n_classes = _prepare_classification(features, y, rescale=False)
    scale = _power_of_two_scale(features)
    Z = features / scale  # exact: a power of two
    Z = Z - Z.mean(axis=0)
    per_class = [_coding_rate(Z[codes == c], eps, scale) for c in range(n_classes)]
    return _coding_rate(Z, eps, scale) - float(np.mean(per_class))


@_register_score("gbc", input="features", label="GBC")
@validate_params(
    {"features": ["array-like"], "y": ["array-like"]}, prefer_skip_nested_validation=True
)
def gbc_score(features, y):
    r"""GBC: Gaussian Bhattacharyya coefficient, the (negative) overlap between classes.

    Each class :math:`c` is modelled by a Gaussian :math:`\mathcal{N}(\mu_c,
    \operatorname{diag}(v_c))` of its features (per-feature mean and variance). For two
    classes, with :math:`v = (v_i + v_j)/2`, the Bhattacharyya distance is

    .. math::

        D_B(i, j) = \frac{1}{8}\sum_k \frac{(\mu_{ik} - \mu_{jk})^2}{v_k}
        + \frac{1}{2}\sum_k \log\frac{v_k}{\sqrt{v_{ik} v_{jk}}},

    and :math:`\mathrm{GBC} = -\sum_{i \ne j} e^{-D_B(i, j)}`. Well separated classes give
    a score near 0 (the maximum); overlapping classes a negative one.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features) or torch.Tensor
        Features of the target data computed by a pre-trained model.
    y : array-like of shape (n_samples,)
        Target class labels (any labels).

    Returns
    -------
    score : float
        The GBC score, a non-positive number.

    See Also
    --------
    hscore : Another class-separability score of the features.

    Notes
    -----
    Variances are population (``1/n_c``) variances, floored at ``eps`` times the largest
    variance so that a feature constant within a class does not divide by zero. The paper
    reduces the features with PCA first (to 64 dimensions); do so before calling this
    function when features are many.

    References
    ----------
    .. [1] M. Pándy, A. Agostinelli, J. Uijlings, V. Ferrari, T. Mensink, "Transferability
       Estimation using Bhattacharyya Class Separability", CVPR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import gbc_score
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=150)
    >>> separated = 5 * np.eye(3)[y] + rng.normal(size=(150, 3))
    >>> overlapping = 0.5 * np.eye(3)[y] + rng.normal(size=(150, 3))
    >>> gbc_score(separated, y) > gbc_score(overlapping, y)
    True
    """
    features, codes, n_classes = _prepare_classification(features, y)
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    sums = np.zeros((n_classes, features.shape[1]))
    np.add.at(sums, codes, features)
    means = sums / counts[:, None]
    variances = np.zeros_like(means)
    np.add.at(variances, codes, (features - means[codes]) ** 2)
    variances /= counts[:, None]
    variances = np.maximum(variances, np.finfo(np.float64).eps * max(variances.max(), 1e-300))
    log_var = np.log(variances)
    avg = 0.5 * (variances[:, None, :] + variances[None, :, :])
    # Features that vary within no class (one row per class, or constant within each)
    # leave only the floor (about 1e-316): classes at different means are then infinitely
    # far apart (a coefficient of 0), the limit of the formula, without the overflow
    # warning; classes at the same mean overlap fully (1).
    with np.errstate(over="ignore"):
        distance = 0.125 * np.sum((means[:, None, :] - means[None, :, :]) ** 2 / avg, axis=2)
    distance += 0.5 * np.sum(
        np.log(avg) - 0.5 * (log_var[:, None, :] + log_var[None, :, :]), axis=2
    )
    coefficients = np.exp(-distance)
    return float(-(coefficients.sum() - np.trace(coefficients)))


# -- N-LEEP, SFDA, PARC -----------------------------------------------------------------------


@_register_score("nleep", input="features", label="N-LEEP")
@validate_params(
    {
        "features": ["array-like"],
        "y": ["array-like"],
        "component_ratio": [Interval(Real, 0, None, closed="neither")],
        "pca_variance": [Interval(Real, 0, 1, closed="right")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def nleep_score(features, y, *, component_ratio=5, pca_variance=0.8, random_state=0):
    r"""N-LEEP: LEEP with a Gaussian mixture on the features in place of the source head.

    The features are reduced by PCA to the fewest components explaining a fraction
    ``pca_variance`` of their variance; a Gaussian mixture with
    :math:`V = \lceil \text{component\_ratio} \cdot C \rceil` components is fitted on them,
    and its posteriors :math:`\pi(v \mid x_i)` play the role of the source model's class
    probabilities in LEEP:

    .. math::

        \hat P(y, v) = \frac{1}{n}\sum_{i: y_i = y} \pi(v \mid x_i), \qquad
        \mathrm{NLEEP} = \frac{1}{n} \sum_{i=1}^n
        \log \Big( \sum_{v} \frac{\hat P(y_i, v)}{\hat P(v)}\, \pi(v \mid x_i) \Big).

    It needs features only (no source classifier). Higher is better (at most 0).

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features) or torch.Tensor
        Features of the target data computed by a pre-trained model.
    y : array-like of shape (n_samples,)
        Target class labels (any labels).
    component_ratio : float, default=5
        Mixture components per target class (the paper's choice is 5), capped at the
        number of samples.
    pca_variance : float in (0, 1], default=0.8
        Fraction of the feature variance kept by the PCA (the paper keeps 80%).
    random_state : int, RandomState instance or None, default=0
        Seeds the mixture's k-means initialization. The default is a fixed seed, so
        that the score is a function of its inputs (ranking the same candidates twice
        gives the same scores); ``None`` draws a new initialization each call.

    Returns
    -------
    score : float
        The N-LEEP score, a non-positive number.

    See Also
    --------
    leep_score : The same expected empirical predictor on a source head's probabilities.

    Notes
    -----
    The N-LEEP of the SFDA authors' benchmark code averages :math:`\hat P(y_i \mid x_i)`
    without the logarithm; this follows the paper's definition (with it), so the score
    equals :func:`leep_score` of the mixture's posteriors. The mixture has full
    covariances, as in both reference codes.

    References
    ----------
    .. [1] Y. Li, X. Jia, R. Sang, Y. Zhu, B. Green, L. Wang, B. Gong, "Ranking Neural
       Checkpoints", CVPR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import nleep_score
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=150)
    >>> informative = 3 * np.eye(3)[y] + rng.normal(size=(150, 3))
    >>> noise = rng.normal(size=(150, 3))
    >>> bool(nleep_score(informative, y, random_state=0) > nleep_score(noise, y, random_state=0))
    True
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    features, codes, n_classes = _prepare_classification(features, y)
    n = features.shape[0]
    reduced = PCA(n_components=pca_variance if pca_variance < 1 else None).fit_transform(features)
    n_components = min(math.ceil(component_ratio * n_classes), n)
    gmm = GaussianMixture(n_components=n_components, random_state=random_state)
    posteriors = gmm.fit(reduced).predict_proba(reduced)
    return leep_score(posteriors, codes)


def _shrunk_lda_proba(features, codes, n_classes, shrinkage):
    """Class posteriors of SFDA's regularized Fisher discriminant, and its shrinkage.

    The authors project on all generalized eigenvectors ``V`` of ``(S_b, S_w)``
    (``V^T S_w V = I``) and score with ``means V V^T``: ``V V^T`` is ``S_w^{-1}``, so
    the scores are linear discriminant scores with the shrunk within-class scatter,
    computed here by one linear solve.
    """
    n, d = features.shape
    priors = np.bincount(codes, minlength=n_classes) / n
    sums = np.zeros((n_classes, d))
    np.add.at(sums, codes, features)
    means = sums / np.bincount(codes, minlength=n_classes)[:, None]
    centred = features - means[codes]
    # sum_c prior_c cov_c (biased) = the pooled scatter of the class-centred rows / n.
    within = centred.T @ centred / n
    if not np.trace(within) > 0.0:
        raise ValueError(
            "features do not vary within any class (e.g. one row per class, or constant "
            "features): SFDA's Fisher discriminant needs a within-class scatter."
        )
    if shrinkage is None:
        # exp(-5 lambda_max): the larger the scatter, the lighter the regularization.
        largest = linalg.eigvalsh(within, subset_by_index=[d - 1, d - 1])[0]
        shrinkage = max(math.exp(-5.0 * largest), 1e-10)
    shrunk = (1.0 - shrinkage) * within
    shrunk.flat[:: d + 1] += shrinkage * np.trace(within) / d
    try:
        coef = linalg.solve(shrunk, means.T, assume_a="pos").T
    except linalg.LinAlgError as exc:
        raise ValueError(
            f"SFDA's shrunk within-class scatter of the features is singular ({exc}); the "
            "features are too degenerate to score."
        ) from exc
    intercept = -0.5 * np.einsum("cd,cd->c", means, coef) + np.log(priors)
    logits = features @ coef.T + intercept
    logits -= logits.max(axis=1, keepdims=True)
    proba = np.exp(logits)
    return proba / proba.sum(axis=1, keepdims=True), means, shrinkage


@_register_score("sfda", input="features", label="SFDA")
@validate_params(
    {"features": ["array-like"], "y": ["array-like"]}, prefer_skip_nested_validation=True
)
def sfda_score(features, y):
    r"""SFDA: self-challenging Fisher discriminant analysis of the features.

    A regularized Fisher discriminant (within-class scatter :math:`S_w` shrunk toward
    :math:`\mu I` by :math:`\lambda = \max(e^{-5\sigma_{\max}(S_w)}, 10^{-10})`, with
    :math:`\mu = \operatorname{tr}(S_w)/D`) gives class posteriors :math:`p(y \mid x)`.
    Self-challenging mixes each feature with the mean :math:`\bar\mu_{\neg y}` of the other
    classes' means, by its softened confidence
    :math:`\tilde p_i = \operatorname{softmax}(p(\cdot \mid x_i))_{y_i}`:

    .. math::

        \tilde x_i = \tilde p_i\, x_i + (1 - \tilde p_i)\, \bar\mu_{\neg y_i},

    and a second discriminant (same :math:`\lambda`) fitted on the mixed features scores

    .. math::

        \mathrm{SFDA} = \frac{1}{n} \sum_{i=1}^n p_2(y_i \mid \tilde x_i).

    Hard examples are pulled toward the other classes, so features whose classes stay
    separable under that challenge score high. Between 0 and 1; higher is better.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features) or torch.Tensor
        Features of the target data computed by a pre-trained model.
    y : array-like of shape (n_samples,)
        Target class labels (any labels).

    Returns
    -------
    score : float
        The SFDA score, in (0, 1].

    See Also
    --------
    hscore : The unregularized Fisher-type ratio of between- to total covariance.
    logme_score : The evidence of a Bayesian linear head on the same features.

    Notes
    -----
    Departures from the authors' code (``metrics.py`` of TencentARC/SFDA): the largest
    eigenvalue of :math:`S_w` is computed exactly rather than by three power iterations,
    and the discriminant scores use a linear solve with the shrunk :math:`S_w` instead of
    the full generalized eigendecomposition of :math:`(S_b, S_w)`, which gives the same
    scores (see the comment in the code); the total scatter :math:`S_t` then plays no
    role. The input features are not modified (the reference code mixes them in place).

    References
    ----------
    .. [1] W. Shao, X. Zhao, Y. Ge, Z. Zhang, L. Yang, X. Wang, Y. Shan, P. Luo, "Not All
       Models Are Equal: Predicting Model Transferability in a Self-challenging Fisher
       Space", ECCV 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import sfda_score
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=150)
    >>> informative = 3 * np.eye(3)[y] + rng.normal(size=(150, 3))
    >>> bool(sfda_score(informative, y) > sfda_score(rng.normal(size=(150, 3)), y))
    True
    """
    features, codes, n_classes = _prepare_classification(features, y)
    proba, means, shrinkage = _shrunk_lda_proba(features, codes, n_classes, None)
    # The reference code softens the probabilities once more with a softmax.
    soft = np.exp(proba)
    soft /= soft.sum(axis=1, keepdims=True)
    confidence = soft[np.arange(len(codes)), codes][:, None]
    others = (means.sum(axis=0) - means) / (n_classes - 1)
    mixed = confidence * features + (1.0 - confidence) * others[codes]
    proba, _, _ = _shrunk_lda_proba(mixed, codes, n_classes, shrinkage)
    return float(np.mean(proba[np.arange(len(codes)), codes]))


@_register_score("parc", input="features", label="PARC")
@validate_params(
    {
        "features": ["array-like"],
        "y": ["array-like"],
        "n_dims": [Interval(Integral, 2, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def parc_score(features, y, *, n_dims=32):
    r"""PARC: Spearman correlation of the sample-pair dissimilarities of features and labels.

    With :math:`\tilde f_i` the features (reduced by PCA to ``n_dims`` dimensions, then
    standardized per dimension) and :math:`\ell_i` the one-hot labels, the representation
    dissimilarity matrices are :math:`D^f_{ij} = 1 - \rho(\tilde f_i, \tilde f_j)` and
    :math:`D^\ell_{ij} = 1 - \rho(\ell_i, \ell_j)`, with :math:`\rho` Pearson's correlation
    between two samples' vectors, and

    .. math::

        \mathrm{PARC} = 100 \cdot \operatorname{Spearman}\big(\{D^f_{ij}\}_{i<j},
        \{D^\ell_{ij}\}_{i<j}\big).

    Features under which same-class pairs are more alike than different-class pairs score
    high. Between -100 and 100; higher is better.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features) or torch.Tensor
        Features of the target data computed by a pre-trained model; at least 2 columns.
    y : array-like of shape (n_samples,)
        Target class labels (any labels).
    n_dims : int or None, default=32
        PCA dimension of the features (the authors' default); capped at the number of
        samples. ``None`` or at least ``n_features``: no reduction.

    Returns
    -------
    score : float
        The PARC score.

    See Also
    --------
    hscore, sfda_score : other class-separability scores of the features.

    Notes
    -----
    The PCA is exact (the reference code uses a randomized solver with one power
    iteration and a fixed seed). The label dissimilarities take their exact values
    (0 or :math:`C/(C-1)`) rather than going through a correlation, whose rounding errors
    in the reference code split tied pairs into different ranks. Memory and time grow with
    the square of the number of samples; the SFDA authors' benchmark subsamples above
    15,000 samples, which is left to the caller here.

    References
    ----------
    .. [1] D. Bolya, R. Mittapalli, J. Hoffman, "Scalable Diverse Model Selection for
       Accessible Transfer Learning", NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.transferability import parc_score
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=100)
    >>> informative = 3 * np.eye(3)[y] + rng.normal(size=(100, 3))
    >>> bool(parc_score(informative, y) > parc_score(rng.normal(size=(100, 3)), y))
    True
    """
    from scipy.stats import spearmanr
    from sklearn.decomposition import PCA

    features, codes, n_classes = _prepare_classification(features, y)
    n, d = features.shape
    if n_dims is not None and n_dims < d:
        features = PCA(n_components=min(n_dims, n)).fit_transform(features)
    if features.shape[1] < 2:
        raise ValueError(
            "features must have at least 2 columns: PARC correlates the feature vectors "
            "of pairs of samples."
        )
    std = features.std(axis=0)
    features = (features - features.mean(axis=0)) / np.where(std > 0, std, 1.0)
    upper = np.triu_indices(n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(features)[upper]
    # A sample whose standardized features are all equal correlates with nothing: count
    # its pairs as uncorrelated (dissimilarity 1) rather than NaN.
    feature_rdm = 1.0 - np.nan_to_num(corr, nan=0.0)
    # 1 - corr of two one-hot rows is 0 (same class) or C / (C - 1): written exactly, as
    # np.corrcoef's rounding errors would break the ties that Spearman's ranks rely on.
    label_rdm = np.where(codes[upper[0]] == codes[upper[1]], 0.0, n_classes / (n_classes - 1))
    if np.ptp(label_rdm) == 0.0:
        raise ValueError(
            "y has no two samples of the same class: PARC compares same-class and "
            "different-class pairs."
        )
    if np.ptp(feature_rdm) == 0.0:
        raise ValueError(
            "features give every pair of samples the same dissimilarity (e.g. constant "
            "features): PARC's rank correlation is undefined."
        )
    return float(100.0 * spearmanr(feature_rdm, label_rdm)[0])
