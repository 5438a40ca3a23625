"""Reduced kernel mean embedding (RKME): a statistical specification of a task's data."""

import json
import math
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.linalg import LinAlgError, cholesky, solve_triangular
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ..utils._backend import DeviceConstraint, get_backend, to_numpy, uses_torch
from ..utils._docstrings import fill_doc
from ..utils._math import sq_dists as _sq_dists
from ..utils._optional import import_optional, is_dask_array, is_torch_tensor
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
    validate_parameter_constraints,
)
from ..utils._validation import all_finite, check_allocation

__all__ = ["RKMESpecification"]

_JSON_FORMAT = "skreuse.RKMESpecification"
_JSON_VERSION = 1

# Kernel entries held at once by a block of rows: 2**22 float64 values are 32 MiB, so
# memory stays O(block) whatever the number of rows.
_BLOCK_ENTRIES = 2**22

# k-means only initializes the reduced set, which the alternating steps then refine on
# all rows: a subsample keeps the initialization cheap for large n.
_KMEANS_MAX_SAMPLES = 20_000

_LINE_SEARCH_HALVINGS = 6


# -- numeric kernels shared by the numpy and torch paths -------------------------------------
# ``xp`` is the numpy module or the torch module; arrays are ndarrays or tensors accordingly.


def _kernel(A, B, gamma, xp):
    return xp.exp(-gamma * _sq_dists(A, B))


def _block_rows(n_cols):
    return max(1, _BLOCK_ENTRIES // max(int(n_cols), 1))


def _cross_stats(Z, X, w, gamma, xp, *, with_moments=True):
    """``a = K(Z, X) w`` and ``P = K(Z, X) diag(w) X``, one block of rows of X at a time."""
    if is_dask_array(X):
        return _cross_stats_dask(Z, X, w, gamma, with_moments=with_moments)
    a = P = None
    step = _block_rows(Z.shape[0])
    for start in range(0, X.shape[0], step):
        Xb = X[start : start + step]
        Kb = _kernel(Z, Xb, gamma, xp) * w[start : start + step][None, :]
        a_b = Kb.sum(1)
        a = a_b if a is None else a + a_b
        if with_moments:
            P_b = Kb @ Xb
            P = P_b if P is None else P + P_b
    return a, P


def _checked_chunk(X, n_rows, n_features):
    """A chunk of a dask array as float64 numpy, with the shape its array declared."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape != (n_rows, n_features):
        raise ValueError(
            f"A chunk of X has shape {X.shape}, but ({n_rows}, {n_features}) was declared: "
            "every chunk must have the rows its dask array declares and all the features."
        )
    if not all_finite(X):
        raise ValueError("Input X contains NaN or infinity.")
    return X


def _chunk_moments(X, n_rows, n_features):
    """Count, mean and sum of squared deviations of all the entries of a chunk."""
    X = _checked_chunk(X, n_rows, n_features)
    mean = float(X.mean()) if X.size else 0.0
    return X.size, mean, float(((X - mean) ** 2).sum())


def _cross_stats_chunk(Z, X, w, gamma, with_moments):
    X = _checked_chunk(X, w.shape[0], Z.shape[1])
    return _cross_stats(Z, X, w, gamma, np, with_moments=with_moments)


def _cross_stats_dask(Z, X, w, gamma, *, with_moments=True):
    """:func:`_cross_stats` of a dask array: both are sums over rows, one task per chunk."""
    dask = import_optional("dask", purpose="for dask array input")
    Z, w = to_numpy(Z), to_numpy(w)
    bounds = np.cumsum((0, *X.chunks[0]))
    parts = dask.compute(
        *(
            dask.delayed(_cross_stats_chunk)(Z, block, w[start:stop], gamma, with_moments)
            for block, start, stop in zip(X.to_delayed().ravel(), bounds[:-1], bounds[1:])
        )
    )
    a = sum(part[0] for part in parts)
    P = sum(part[1] for part in parts) if with_moments else None
    return a, P


def _self_inner(X, w, gamma, xp):
    """``w^T K(X, X) w`` in O(block) memory (O(n^2 d) time)."""
    total = 0.0
    step = _block_rows(X.shape[0])
    for start in range(0, X.shape[0], step):
        Kb = _kernel(X[start : start + step], X, gamma, xp)
        total += float(w[start : start + step] @ (Kb @ w))
    return total


def _solve_weights(K, a):
    """Non-negative minimizer of ``beta^T K beta - 2 a^T beta`` (numpy, small m).

    With ``K = L L^T`` the objective is ``||L^T beta - L^{-1} a||^2`` up to a constant,
    a non-negative least-squares problem. A vanishing jitter keeps the Cholesky factor of
    nearly singular Gaussian Gram matrices defined.
    """
    m = K.shape[0]
    eye = np.eye(m)
    for jitter in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4):
        try:
            L = cholesky(K + jitter * eye, lower=True)
            break
        except LinAlgError:
            continue
    else:  # pragma: no cover - K + 1e-4 I is always positive definite
        raise LinAlgError("The kernel matrix of the reduced points is not positive definite.")
    rhs = solve_triangular(L, a, lower=True)
    beta, _ = nnls(L.T, rhs, maxiter=10 * m)
    return beta


def _objective(beta, a, K):
    """``||mu - mu_tilde||^2`` without the constant term ``w^T K_xx w``."""
    return float(beta @ K @ beta - 2.0 * beta @ a)


def _n_reduced_points(n_rows, n_reduced):
    """At most two thirds of the rows (as learnware does), so no reduced set is the data."""
    return min(n_reduced, max(1, (2 * n_rows) // 3))


def _drop_copied_rows(Z, beta, X, w, rows, gamma):
    """Remove reduced points that coincide with a row of ``rows``, then re-solve ``beta``.

    k-means puts a centre on a row that is alone in its cluster, and the mean-shift steps
    keep an isolated row's point there: such a point would publish the row. "Coincide"
    is relative to the data's scale, so a copy rounded by float arithmetic counts too.
    """
    # The total variance (of every feature about its own mean): the variance of all entries
    # pooled would add the spread of the features' means, so columns at different offsets
    # (e.g. years and prices) would make distant points count as copies.
    scale = float(rows.var(axis=0).sum()) or 1.0
    nearest = np.full(Z.shape[0], np.inf)
    step = _block_rows(Z.shape[0])
    # _sq_dists shifts both sets by the first reduced point, so the rounding of the
    # expansion scales with the spread of the data, not with its offset (rows around 1e4
    # would leave a copied row at a rounded distance above the tolerance).
    for start in range(0, rows.shape[0], step):
        # np.asarray computes one block of a dask array at a time (a no-op for numpy).
        block = np.asarray(rows[start : start + step], dtype=np.float64)
        nearest = np.minimum(nearest, _sq_dists(Z, block).min(axis=1))
    copied = nearest <= 1e-10 * scale
    if not copied.any():
        return Z, beta
    Z = Z[~copied]
    if Z.shape[0] == 0:
        raise ValueError(
            f"X cannot be described without publishing one of its rows: it has fewer than "
            f"2 distinct rows (n_samples={rows.shape[0]})."
        )
    a, _ = _cross_stats(Z, X, w, gamma, np, with_moments=False)
    return Z, _solve_weights(_kernel(Z, Z, gamma, np), a)


def _fit_reduced_set(X, w, m, gamma, n_iter, rng, ns):
    """Minimize ``||sum_i w_i k(x_i, .) - sum_j beta_j k(z_j, .)||^2`` over ``Z`` and ``beta >= 0``.

    ``X`` (numpy, n x d) and ``w`` (n,) describe the weighted point set to summarize. Returns
    numpy ``Z`` (m' x d, m' <= m), ``beta`` (m',) and the number of rounds run.
    """
    n = X.shape[0]
    if n > _KMEANS_MAX_SAMPLES:
        idx = rng.choice(n, _KMEANS_MAX_SAMPLES, replace=False)
        X_init, w_init = X[idx], w[idx]
    else:
        X_init, w_init = X, w
    X_init = np.asarray(X_init)  # a dask array: only these rows are read
    with warnings.catch_warnings():
        # Fewer distinct points than clusters: duplicated centres are merged just below.
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=m, n_init=1, random_state=rng).fit(X_init, sample_weight=w_init)
    # The rest runs in coordinates centred on the data (the kernel sees only differences):
    # the mean-shift step's P - K Z cancels in proportion to the rows' distance from the
    # origin, and rows around 1e7 with a spread of 1 gave reduced points 0.2 off.
    centre = X_init.mean(axis=0)
    X = X - centre
    Z = np.unique(km.cluster_centers_, axis=0) - centre

    xp = ns.xp
    Xt, wt, Zt = ns.asarray(X), ns.asarray(w), ns.asarray(Z)
    a, P = _cross_stats(Zt, Xt, wt, gamma, xp)
    K = _kernel(Zt, Zt, gamma, xp)
    a_np, K_np = to_numpy(a), to_numpy(K)
    beta = _solve_weights(K_np, a_np)
    loss = _objective(beta, a_np, K_np)

    n_rounds = 0
    for _ in range(n_iter):
        bt = ns.asarray(beta)
        # A gradient step on Z preconditioned by 1 / a_j: each point moves to the
        # kernel-weighted mean of the data around it (a mean-shift step), pushed away
        # from the other reduced points in proportion to their weights.
        Kb = K * bt[None, :]
        Z_target = (P - Kb @ Zt + Kb.sum(1)[:, None] * Zt) / a.clip(min=1e-300)[:, None]
        # Points the data's embedding does not reach stay where they are.
        far = (a <= 1e-300)[:, None]
        Z_target = xp.where(far, Zt, Z_target)
        direction = Z_target - Zt
        t = 1.0
        for _ in range(_LINE_SEARCH_HALVINGS):
            Z_try = Zt + t * direction
            a_try, P_try = _cross_stats(Z_try, Xt, wt, gamma, xp)
            K_try = _kernel(Z_try, Z_try, gamma, xp)
            a_try_np, K_try_np = to_numpy(a_try), to_numpy(K_try)
            loss_try = _objective(beta, a_try_np, K_try_np)
            if loss_try < loss:
                break
            t *= 0.5
        else:
            break
        Zt, a, P, K = Z_try, a_try, P_try, K_try
        beta = _solve_weights(K_try_np, a_try_np)
        new_loss = _objective(beta, a_try_np, K_try_np)
        n_rounds += 1
        converged = loss - new_loss <= 1e-10 * max(abs(new_loss), 1e-12)
        loss = new_loss
        if converged:
            break
    return np.asarray(to_numpy(Zt), dtype=np.float64) + centre, beta, n_rounds


@fill_doc
class RKMESpecification(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Reduced kernel mean embedding (RKME) specification of a data set.

    The RKME summarizes the distribution of the rows ``x_1, ..., x_n`` by a small
    weighted set of points whose kernel mean embedding is closest to the data's: it
    minimizes, over the reduced points ``z_j`` and weights ``beta_j >= 0``,

    .. math::

        \Big\| \frac{1}{n} \sum_i k(x_i, \cdot) - \sum_j \beta_j k(z_j, \cdot) \Big\|^2
        = \frac{1}{n^2} 1^T K_{xx} 1 - \frac{2}{n} \beta^T K_{zx} 1 + \beta^T K_{zz} \beta

    in the reproducing kernel Hilbert space of the Gaussian kernel
    ``k(x, z) = exp(-gamma_ * ||x - z||^2)``. The specification describes a model's
    training data without sharing it, so that models can later be found by how their
    data looked (the learnware paradigm); see :class:`RKMEReuser`.

    Read more in the :ref:`User Guide <specification>`.

    Parameters
    ----------
    n_reduced : int, default=100
        Number of reduced points, at most two thirds of the rows. A specification never
        contains a training row: a reduced point that would coincide with one (a row
        alone in its k-means cluster) is dropped and the weights re-solved, so fewer
        than 2 distinct rows cannot be described.

    gamma : "scale" or float, default="scale"
        Kernel width. ``"scale"`` uses ``1 / (n_features * X.var())`` like
        :class:`~sklearn.svm.SVC`.

    n_iter : int, default=10
        Maximum number of alternating rounds (a step on the reduced points, then the
        weights) after the k-means initialization; ``0`` keeps the k-means centres
        with optimal weights. Rounds stop early when the objective stops decreasing.

    %(random_state)s
        Used by the k-means initialization (and its subsample of at most 20 000 rows).

    %(device)s

    Attributes
    ----------
    reduced_points_ : ndarray of shape (n_reduced_points, n_features_in_)
        The reduced set ``Z``; ``n_reduced_points <= n_reduced``.

    weights_ : ndarray of shape (n_reduced_points,)
        Non-negative weights ``beta``. They are not constrained to sum to one; their
        sum is close to one when the embedding is accurate.

    gamma_ : float
        The kernel width used.

    n_samples_seen_ : int
        Number of rows summarized (all calls to :meth:`partial_fit` together).

    n_iter_ : int
        Number of alternating rounds run by the last fit.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    RKMEReuser : Find and reuse the models whose specifications match new data.
    sklearn.kernel_approximation.Nystroem : Kernel features from a subset of rows.

    Notes
    -----
    Fitting initializes the reduced points by k-means, then alternates a non-negative
    least-squares step on ``beta`` (closed form when no weight is clipped) and a
    preconditioned gradient step on ``Z`` with backtracking, so the objective never
    increases. Each round costs ``O(n * n_reduced * n_features)`` time in blocks of rows;
    the ``n x n`` kernel matrix is never formed.

    :meth:`mmd` between two specifications uses only their reduced sets. The exact
    MMD to raw data (:meth:`mmd` with an array, :meth:`score`) needs the data's own term
    ``(1/n^2) 1^T K_xx 1``: it is computed from the data passed in, in blocks of rows
    (``O(n^2)`` time, ``O(n)`` memory). Nothing about the training rows is kept beyond
    the reduced set, so a specification can be shared without the data: the reduced set
    has at most ``2 n / 3`` points (about as many as learnware uses for small data) and
    no reduced point equals a training row (up to ``1e-10`` of the data's scale).

    To describe images or text through a pre-trained network, fit the specification on
    its features: ``F = skreuse.utils.extract_features(net, X, layer="avgpool")`` (the
    output of a submodule, taken by a forward hook; ``X`` may be a torch
    ``DataLoader``), then ``RKMESpecification().fit(F)``; in a pipeline,
    ``FunctionTransformer(lambda X: extract_features(net, X, layer="avgpool"))`` does
    the same. Specifications compared with each other must use the same network and
    layer.

    References
    ----------
    .. [1] X.-Z. Wu, W. Xu, S. Liu and Z.-H. Zhou, "Model reuse with reduced kernel
       mean embedding specification", IEEE Transactions on Knowledge and Data
       Engineering, 35(1):699-710, 2023.
    .. [2] Z.-H. Zhou, "Learnware: on the future of machine learning", Frontiers of
       Computer Science, 10(4):589-590, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.specification import RKMESpecification
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 3))
    >>> spec = RKMESpecification(n_reduced=20, random_state=0).fit(X)
    >>> spec.reduced_points_.shape
    (20, 3)
    >>> spec.mmd(X) < 1e-3
    True
    >>> spec.mmd(X + 2.0) > 0.1
    True
    >>> spec2 = RKMESpecification.from_json(spec.to_json())
    >>> np.array_equal(spec2.reduced_points_, spec.reduced_points_)
    True
    """

    _parameter_constraints: dict = {
        "n_reduced": [Interval(Integral, 1, None, closed="left")],
        "gamma": [StrOptions({"scale"}), Interval(Real, 0, None, closed="neither")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "device": [DeviceConstraint()],
    }

    def __init__(self, n_reduced=100, *, gamma="scale", n_iter=10, random_state=None, device="cpu"):
        self.n_reduced = n_reduced
        self.gamma = gamma
        self.n_iter = n_iter
        self.random_state = random_state
        self.device = device

    # -- fitting ------------------------------------------------------------------------------

    def _validate_X(self, X, *, reset):
        raw = X
        if is_torch_tensor(X):
            X = to_numpy(X)
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        return np.asarray(X, dtype=np.float64), raw

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the reduced set and weights to ``X``.

        Parameters
        ----------
        X : array-like, torch.Tensor or dask array of shape (n_samples, n_features)
            The data to describe. A dask array is never loaded whole: each round's
            sums over rows (the weights' right-hand side ``K(Z, X) w`` and the reduced
            points' gradient ``K(Z, X) diag(w) X``) are computed chunk by chunk where
            dask runs them, and the k-means initialization reads a subsample of at
            most 20 000 rows.

        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : RKMESpecification
            The fitted specification.
        """
        if is_dask_array(X):
            return self._fit_dask(X)
        X, raw = self._validate_X(X, reset=True)
        return self._fit_weighted(
            X, np.full(X.shape[0], 1.0 / X.shape[0]), X.shape[0], raw, True, X.shape[0]
        )

    def _fit_dask(self, X):
        """:meth:`fit` on a dask array: every pass over the rows is a sum over its chunks."""
        dask = import_optional("dask", purpose="for dask array input")
        if uses_torch(self.device):
            raise ValueError(
                f"A dask array X is computed chunk by chunk with numpy; device={self.device!r} "
                "is not supported with it (use device='cpu')."
            )
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}.")
        if X.dtype.kind not in "fiub":
            raise ValueError(f"X must be numeric, got a dask array of dtype {X.dtype}.")
        n = X.shape[0]
        if math.isnan(n):
            raise ValueError("X has chunks of unknown size; call X.compute_chunk_sizes() first.")
        if n <= self.n_reduced:
            # Few rows: they fit in memory.
            X = X.compute()
            X_valid, raw = self._validate_X(X, reset=True)
            return self._fit_weighted(X_valid, np.full(n, 1.0 / n), n, raw, True, n)
        # Whole rows in every chunk, and no chunk of no rows: the sums over rows have none
        # to add, and dask's var() of such an array is NaN (which hid copied rows).
        X = X.rechunk({0: tuple(c for c in X.chunks[0] if c), 1: -1})
        d = X.shape[1]
        state = dict(self.__dict__)
        try:
            # A first pass checks every chunk (shape, finite) and gives the variance.
            moments = dask.compute(
                *(
                    dask.delayed(_chunk_moments)(block, rows, d)
                    for block, rows in zip(X.to_delayed().ravel(), X.chunks[0])
                )
            )
            count = sum(c for c, _, _ in moments)
            mean = sum(c * m for c, m, _ in moments) / count
            var = sum(s + c * (m - mean) ** 2 for c, m, s in moments) / count
            # Feature count (and no feature names), without reading the data again.
            validate_data(self, np.zeros((1, d)), reset=True)
            if self.gamma == "scale":
                self.gamma_ = 1.0 / (d * var) if var > 0 else 1.0
            else:
                self.gamma_ = float(self.gamma)
            return self._fit_weighted(X, np.full(n, 1.0 / n), n, X, False, n)
        except BaseException:
            # Nothing half-fitted: the estimator is left as it was before the call.
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Update the specification with a new batch of rows.

        The current reduced set stands for the rows seen so far: a new reduced set is
        fitted to the mixture ``(n_seen * mu_tilde + sum_i k(x_i, .)) / (n_seen + n)``,
        so memory never grows with the stream. ``gamma_`` is fixed by the first call.
        The first call is the same as :meth:`fit`.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            A new batch of rows.

        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : RKMESpecification
            The updated specification.
        """
        first = not hasattr(self, "reduced_points_")
        X, raw = self._validate_X(X, reset=first)
        n = X.shape[0]
        if first:
            return self._fit_weighted(X, np.full(n, 1.0 / n), n, raw, True, n)
        n_total = self.n_samples_seen_ + n
        points = np.vstack([self.reduced_points_, X])
        w = np.concatenate(
            [self.weights_ * (self.n_samples_seen_ / n_total), np.full(n, 1.0 / n_total)]
        )
        return self._fit_weighted(points, w, n_total, raw, False, n)

    def _fit_weighted(self, X, w, n_seen, raw, reset_gamma, raw_rows):
        ns = get_backend(raw, device=self.device)
        if reset_gamma:
            if self.gamma == "scale":
                var = float(X.var())
                self.gamma_ = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
            else:
                self.gamma_ = float(self.gamma)
        rng = check_random_state(self.random_state)
        # For partial_fit, ``X`` also holds the previous reduced points; only the new
        # rows at its end are training rows.
        rows = X[X.shape[0] - raw_rows :]
        Z, beta, n_rounds = _fit_reduced_set(
            X,
            w,
            min(_n_reduced_points(n_seen, self.n_reduced), X.shape[0]),
            self.gamma_,
            self.n_iter,
            rng,
            ns,
        )
        Z, beta = _drop_copied_rows(Z, beta, X, w, rows, self.gamma_)
        self.reduced_points_ = Z
        self.weights_ = beta
        self.n_samples_seen_ = int(n_seen)
        self.n_iter_ = n_rounds
        return self

    # -- using the specification --------------------------------------------------------------

    def _embedding(self, other):
        """Points and weights of ``other``: a fitted specification or an array of rows."""
        if isinstance(other, RKMESpecification):
            check_is_fitted(other)
            if other.n_features_in_ != self.n_features_in_:
                raise ValueError(
                    f"other has {other.n_features_in_} features, but this "
                    f"RKMESpecification has {self.n_features_in_}."
                )
            return other.reduced_points_, other.weights_, None
        Y, raw = self._validate_X(other, reset=False)
        return Y, np.full(Y.shape[0], 1.0 / Y.shape[0]), raw

    def mmd(self, other):
        """Squared maximum mean discrepancy to another specification or to data.

        Computed in the RKHS of this specification's kernel (``gamma_``).

        Parameters
        ----------
        other : RKMESpecification or array-like of shape (n_samples, n_features)
            A fitted specification (only its reduced set is used) or rows of data
            (their exact empirical embedding is used).

        Returns
        -------
        mmd2 : float
            ``||mu_tilde - mu_other||^2 >= 0``.
        """
        check_is_fitted(self)
        Y, v, raw = self._embedding(other)
        ns = get_backend(raw, device=self.device)
        Z, beta = ns.asarray(self.reduced_points_), ns.asarray(self.weights_)
        Yt, vt = ns.asarray(Y), ns.asarray(v)
        a, _ = _cross_stats(Z, Yt, vt, self.gamma_, ns.xp, with_moments=False)
        zz = float(beta @ (_kernel(Z, Z, self.gamma_, ns.xp) @ beta))
        yy = _self_inner(Yt, vt, self.gamma_, ns.xp)
        return max(zz - 2.0 * float(beta @ a) + yy, 0.0)

    def score(self, X, y=None):
        """Negative squared MMD between the specification and the rows ``X``.

        Higher is better, so :class:`~sklearn.model_selection.GridSearchCV` can tune
        ``n_reduced`` without labels. Scores for different ``gamma`` are distances in
        different kernels: a smaller ``gamma`` always looks closer.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Held-out rows.

        y : None
            Ignored; present for API consistency.

        Returns
        -------
        score : float
            ``-mmd(X)``.
        """
        return -self.mmd(X)

    def transform(self, X):
        """Kernel features ``k(X, reduced_points_)``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Rows to embed.

        Returns
        -------
        K : ndarray of shape (n_samples, n_reduced_points)
            Gaussian kernel between each row and each reduced point.
        """
        check_is_fitted(self)
        X, raw = self._validate_X(X, reset=False)
        ns = get_backend(raw, device=self.device)
        return np.asarray(
            to_numpy(_kernel(ns.asarray(X), ns.asarray(self.reduced_points_), self.gamma_, ns.xp)),
            dtype=np.float64,
        )

    @property
    def _n_features_out(self):
        return self.reduced_points_.shape[0]

    def sample(self, n_samples, random_state=None, *, noise=0.0):
        """Draw synthetic rows from the specification by weighted resampling.

        Each row is a reduced point drawn with probability proportional to its
        weight, so with ``noise=0`` the sample's kernel mean embedding converges to the
        specification's (at rate ``1/sqrt(n_samples)``). A Gaussian jitter (a smoothed
        bootstrap) spreads the rows around the reduced points, which helps models
        trained on the sample (e.g. the job selector of :class:`RKMEReuser`)
        generalize beyond the few distinct reduced points.

        Parameters
        ----------
        n_samples : int
            Number of rows to draw.

        random_state : int, RandomState instance or None, default=None
            Seed of the draw.

        noise : float or "auto", default=0.0
            Standard deviation of the jitter added to every coordinate. ``"auto"`` uses
            the median distance from a reduced point to its nearest other reduced
            point divided by ``sqrt(n_features_in_)``: each reduced point then stands
            for the data in its own neighbourhood.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            Synthetic rows. A ``ValueError`` is raised before anything is allocated
            when they would not fit in the memory available to the process.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 0:
            raise ValueError(f"n_samples must be a non-negative int, got {n_samples!r}.")
        if isinstance(noise, str):
            if noise != "auto":
                raise ValueError(f"noise must be a non-negative float or 'auto', got {noise!r}.")
            noise = self._auto_noise()
        elif isinstance(noise, bool) or not isinstance(noise, Real) or not noise >= 0:
            raise ValueError(f"noise must be a non-negative float or 'auto', got {noise!r}.")
        # The draw's indices and rows (and the jitter) would be allocated at once.
        n_arrays = 3 if noise > 0 else 1
        check_allocation(
            int(n_samples) * (8 + 8 * n_arrays * self.n_features_in_),
            f"sample(n_samples={n_samples})",
        )
        rng = check_random_state(random_state)
        p = self.weights_ / self.weights_.sum()
        X = self.reduced_points_[rng.choice(len(p), size=int(n_samples), p=p)]
        if noise > 0:
            X = X + noise * rng.standard_normal(X.shape)
        return X

    def _auto_noise(self):
        Z = self.reduced_points_
        if Z.shape[0] < 2:
            return 0.0
        D = _sq_dists(Z, Z)
        np.fill_diagonal(D, np.inf)
        return float(np.sqrt(np.median(D.min(axis=1))) / np.sqrt(Z.shape[1]))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        return tags

    # -- plain JSON ---------------------------------------------------------------------------

    def to_json(self):
        """Serialize the fitted specification to plain JSON.

        The text holds numbers, strings and lists only (a format name and a version
        field, the parameters, the reduced set and weights); it never contains
        executable content and :meth:`from_json` reads nothing else.

        Returns
        -------
        text : str
            JSON text; floats are written with full precision, so a round trip is exact.
        """
        check_is_fitted(self)
        random_state = self.random_state
        if not (random_state is None or isinstance(random_state, Integral)):
            random_state = None
        device = self.device if isinstance(self.device, str) else str(self.device)
        payload = {
            "format": _JSON_FORMAT,
            "version": _JSON_VERSION,
            "params": {
                "n_reduced": int(self.n_reduced),
                "gamma": self.gamma if isinstance(self.gamma, str) else float(self.gamma),
                "n_iter": int(self.n_iter),
                "random_state": None if random_state is None else int(random_state),
                "device": device,
            },
            "gamma_": float(self.gamma_),
            "n_features_in_": int(self.n_features_in_),
            "feature_names_in_": (
                [str(c) for c in self.feature_names_in_]
                if hasattr(self, "feature_names_in_")
                else None
            ),
            "n_samples_seen_": int(self.n_samples_seen_),
            "n_iter_": int(self.n_iter_),
            "reduced_points_": self.reduced_points_.tolist(),
            "weights_": self.weights_.tolist(),
        }
        return json.dumps(payload, allow_nan=False)

    @classmethod
    def from_json(cls, text):
        """Read a specification written by :meth:`to_json`.

        Only plain JSON is parsed (never pickle or ``eval``); every field is checked
        (types, shapes, finite values, at most ``n_reduced`` reduced points) before the
        specification is built, so untrusted text cannot make later calls allocate
        without bound.

        Parameters
        ----------
        text : str or bytes
            JSON text.

        Returns
        -------
        spec : RKMESpecification
            A fitted specification.
        """
        if isinstance(text, bytes | bytearray):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"RKMESpecification JSON is not valid UTF-8: {exc}") from exc
        if not isinstance(text, str):
            raise TypeError(f"text must be a str or bytes, got {type(text).__name__}.")
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Malformed RKMESpecification JSON: {exc}") from exc
        except RecursionError as exc:
            raise ValueError("Malformed RKMESpecification JSON: nested too deeply.") from exc
        return cls._from_payload(data)

    @classmethod
    def _from_payload(cls, data):
        if not isinstance(data, dict):
            raise ValueError("RKMESpecification JSON must be an object.")
        if data.get("format") != _JSON_FORMAT:
            raise ValueError(
                f"Not an RKMESpecification JSON: 'format' must be {_JSON_FORMAT!r}, "
                f"got {data.get('format')!r:.80}."
            )
        version = data.get("version")
        if version != _JSON_VERSION or isinstance(version, bool):
            raise ValueError(
                f"Unsupported RKMESpecification JSON version {version!r:.40}; "
                f"this skreuse reads version {_JSON_VERSION}."
            )
        expected = {
            "format",
            "version",
            "params",
            "gamma_",
            "n_features_in_",
            "feature_names_in_",
            "n_samples_seen_",
            "n_iter_",
            "reduced_points_",
            "weights_",
        }
        if set(data) != expected:
            raise ValueError(
                "RKMESpecification JSON has unexpected or missing fields: "
                f"missing {sorted(expected - set(data))}, unexpected "
                f"{sorted(str(k) for k in set(data) - expected)[:10]}."
            )
        params = data["params"]
        if not isinstance(params, dict) or set(params) != set(cls._parameter_constraints):
            raise ValueError(
                "RKMESpecification JSON 'params' must be an object with the keys "
                f"{sorted(cls._parameter_constraints)}."
            )
        if not isinstance(params["device"], str):
            raise ValueError("RKMESpecification JSON 'params.device' must be a string.")
        if isinstance(params["random_state"], bool) or not (
            params["random_state"] is None or isinstance(params["random_state"], int)
        ):
            raise ValueError("RKMESpecification JSON 'params.random_state' must be an int or null.")
        try:
            validate_parameter_constraints(cls._parameter_constraints, params, cls.__name__)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"RKMESpecification JSON has invalid 'params': {exc}") from exc

        gamma_ = _json_number(data["gamma_"], "gamma_")
        if gamma_ <= 0:
            raise ValueError(f"RKMESpecification JSON 'gamma_' must be positive, got {gamma_}.")
        d = _json_int(data["n_features_in_"], "n_features_in_", minimum=1)
        n_seen = _json_int(data["n_samples_seen_"], "n_samples_seen_", minimum=1)
        n_iter_ = _json_int(data["n_iter_"], "n_iter_", minimum=0)
        # Checked before any array is built: mmd and transform allocate
        # n_reduced_points^2 and n_samples * n_reduced_points floats.
        n_points = len(data["reduced_points_"]) if isinstance(data["reduced_points_"], list) else 0
        if n_points > params["n_reduced"]:
            raise ValueError(
                f"RKMESpecification JSON has {n_points} reduced points but n_reduced is "
                f"{params['n_reduced']}; a specification never has more."
            )
        Z = _json_matrix(data["reduced_points_"], "reduced_points_")
        beta = _json_vector(data["weights_"], "weights_")
        if Z.shape[1] != d:
            raise ValueError(
                f"RKMESpecification JSON 'reduced_points_' has {Z.shape[1]} columns but "
                f"'n_features_in_' is {d}."
            )
        if beta.shape[0] != Z.shape[0]:
            raise ValueError(
                f"RKMESpecification JSON has {beta.shape[0]} weights for {Z.shape[0]} "
                "reduced points."
            )
        if np.any(beta < 0) or beta.sum() <= 0:
            raise ValueError(
                "RKMESpecification JSON 'weights_' must be non-negative and not all zero."
            )
        names = data["feature_names_in_"]
        if names is not None:
            if (
                not isinstance(names, list)
                or len(names) != d
                or not all(isinstance(c, str) for c in names)
            ):
                raise ValueError(
                    "RKMESpecification JSON 'feature_names_in_' must be null or a list of "
                    f"{d} strings."
                )

        spec = cls(**params)
        spec.gamma_ = gamma_
        spec.n_features_in_ = d
        if names is not None:
            spec.feature_names_in_ = np.asarray(names, dtype=object)
        spec.n_samples_seen_ = n_seen
        spec.n_iter_ = n_iter_
        spec.reduced_points_ = Z
        spec.weights_ = beta
        return spec


def _reject_constant(name):
    raise ValueError(f"RKMESpecification JSON must not contain {name}; values must be finite.")


def _json_number(value, field):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"RKMESpecification JSON '{field}' must be a number, got {value!r:.40}.")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(
            f"RKMESpecification JSON '{field}' holds an integer too large for a float "
            f"({value.bit_length()} bits)."
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"RKMESpecification JSON '{field}' must be finite, got {value}.")
    return value


def _json_int(value, field, *, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"RKMESpecification JSON '{field}' must be an int >= {minimum}, got {value!r:.40}."
        )
    return value


def _json_vector(value, field):
    if not isinstance(value, list) or not value:
        raise ValueError(f"RKMESpecification JSON '{field}' must be a non-empty list of numbers.")
    return np.array([_json_number(v, field) for v in value], dtype=np.float64)


def _json_matrix(value, field):
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        raise ValueError(
            f"RKMESpecification JSON '{field}' must be a non-empty list of lists of numbers."
        )
    lengths = {len(r) for r in value}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"RKMESpecification JSON '{field}' rows must all have the same length.")
    return np.array([[_json_number(v, field) for v in r] for r in value], dtype=np.float64)
