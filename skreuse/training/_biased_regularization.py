"""Biased regularization: fit a linear model pulled toward a source model's weights.

The solvers behind hypothesis transfer (Kuzborskij & Orabona, ICML'13) and the
fine-tuning step of ReForm (Ye et al., TPAMI'21). Both minimize a data term plus

    lam * ||W - W0||_F^2 + alpha * ||W||_F^2 (+ lam_intercept * ||b - b0||^2),

the first term pulling the weights toward the source weights ``W0`` and the
second being plain L2 shrinkage (together the "L2-SP" form of Li et al., ICML'18).
"""

import numpy as np
from scipy.optimize import minimize
from scipy.sparse.linalg import LinearOperator, cg
from scipy.special import expit, softmax

from ..utils._math import _SAFE_PEAK, power_of_two_scale
from ..utils._threads import one_blas_thread_if_small
from ..utils._validation import all_finite

__all__ = ["biased_logistic_log_evidence", "fit_biased_logistic", "fit_biased_ridge"]


def _check_weights(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    s = np.asarray(sample_weight, dtype=float)
    if s.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {s.shape}.")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    return s


def _check_source(W0, k, d, name="W0"):
    if W0 is None:
        return np.zeros((k, d))
    W0 = np.asarray(W0, dtype=float)
    if W0.ndim == 1 and k == 1:
        W0 = W0[None, :]
    if W0.shape != (k, d):
        raise ValueError(f"{name} must have shape ({k}, {d}), got {W0.shape}.")
    return W0


def _check_penalties(lam, alpha, lam_intercept, d, k=None):
    """``lam`` as an array; ``k`` (number of weight rows) allows one value per weight."""
    for name, value in (("alpha", alpha), ("lam_intercept", lam_intercept)):
        if np.isnan(value) or value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}.")
    if np.isinf(alpha):
        raise ValueError("alpha must be finite.")
    lam = np.asarray(lam, dtype=float)
    per_weight = k is not None and lam.shape == (k, d)
    if not per_weight and (lam.ndim > 1 or (lam.ndim == 1 and lam.shape != (d,))):
        raise ValueError(f"lam must be a float or an array of shape ({d},), got shape {lam.shape}.")
    if np.any(np.isnan(lam)) or np.any(lam < 0):
        raise ValueError("lam must be non-negative.")
    if lam.ndim >= 1 and np.any(np.isinf(lam)) and not np.all(np.isinf(lam)):
        raise ValueError("lam must be infinite for all features or for none.")
    return lam


def _check_offset(offset, n, k):
    if offset is None:
        return np.zeros((n, k))
    offset = np.asarray(offset, dtype=float)
    if offset.ndim == 1:
        offset = offset[:, None]
    if offset.shape != (n, k):
        raise ValueError(f"offset must have shape ({n}, {k}), got {offset.shape}.")
    return offset


def _power_of_two_scale(X):
    """A power of two ``c`` such that the Gram matrices of ``X / c`` cannot overflow: 1
    unless an entry of ``X`` exceeds ``2**200`` (from about ``1e153`` they overflow
    float64), else ``X``'s largest entry lies in ``[c, 2c)``. Dividing by it is exact."""
    return power_of_two_scale(X, safe=(0.0, _SAFE_PEAK[1]))


def prior_mean(W0, lam, alpha):
    """Mean of the Gaussian prior that the two weight penalties make together.

    ``lam ||W - W0||^2 + alpha ||W||^2`` is ``(lam + alpha) ||W - m||^2`` plus a
    constant, with ``m = lam W0 / (lam + alpha)``: ``W0`` itself where ``lam`` is
    infinite, and zero where there is no penalty at all.
    """
    lam = np.asarray(lam, dtype=float)
    if np.all(np.isinf(lam)):
        return W0
    r = lam + alpha
    return W0 * np.divide(lam, r, out=np.zeros_like(r), where=r > 0)


def _ridge_toward_zero(Xs, Rs, r):
    """Solve ``min ||Xs V^T - Rs||^2 + sum_j r_j ||V[:, j]||^2`` for V (k, d).

    ``r`` is a float or one penalty per feature. The primal system is d x d and the
    dual one n x n: the smaller one is solved. ``r == 0`` gives the minimum-norm
    least-squares solution.
    """
    n, d = Xs.shape
    if np.ndim(r) == 1:
        if np.all(r == r[0]):
            return _ridge_toward_zero(Xs, Rs, float(r[0]))
        if np.all(r > 0):
            # Rescaling column j by 1 / sqrt(r_j) makes the penalty uniform, so the
            # dual still applies.
            scale = 1.0 / np.sqrt(r)
            return _ridge_toward_zero(Xs * scale, Rs, 1.0) * scale
        # Some features unpenalized: least squares on rows augmented by sqrt(r).
        A = np.vstack([Xs, np.diag(np.sqrt(r))])
        B = np.vstack([Rs, np.zeros((d, Rs.shape[1]))])
        return np.linalg.lstsq(A, B, rcond=None)[0].T
    if r == 0:
        return np.linalg.lstsq(Xs, Rs, rcond=None)[0].T
    c = _power_of_two_scale(Xs)
    if c != 1.0:
        # The same problem on Xs / c (the penalty divided by c**2, in two steps that
        # cannot overflow), the solution scaled back.
        return _ridge_toward_zero(Xs / c, Rs, r / c / c) / c
    if n < d:
        gram = Xs @ Xs.T
        gram.flat[:: n + 1] += r
        return (Xs.T @ _solve_regularized(gram, Rs)).T
    gram = Xs.T @ Xs
    gram.flat[:: d + 1] += r
    return _solve_regularized(gram, Xs.T @ Rs).T


def _solve_regularized(gram, rhs):
    """``gram^{-1} rhs`` for a penalized Gram matrix.

    The penalty makes ``gram`` positive definite, but on features of huge scale (say
    1e150) it vanishes at float64 precision next to the data's own products, and
    collinear columns leave ``gram`` singular: then the minimum-norm solution, which is
    the limit of the penalized one, is returned.
    """
    try:
        return np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def fit_biased_ridge(
    X,
    Y,
    W0,
    *,
    lam,
    alpha=0.0,
    sample_weight=None,
    fit_intercept=True,
    b0=None,
    lam_intercept=0.0,
    offset=None,
    ridge=None,
):
    r"""Least squares biased toward source weights, in closed form.

    Minimizes

    .. math::

        \sum_i s_i \|W x_i + b + o_i - y_i\|^2 + \lambda \|W - W_0\|_F^2
        + \alpha \|W\|_F^2 + \lambda_b \|b - b_0\|^2 .

    The two weight penalties combine into one ridge penalty
    :math:`(\lambda + \alpha)\|W - \lambda W_0 / (\lambda + \alpha)\|^2` (plus a constant),
    so the problem is a ridge regression on the residual of the shrunk source; it is
    solved in the dual (an ``n x n`` system) when ``n < d``. A per-feature ``lam``
    (a diagonal penalty) is reduced to the uniform case by rescaling the columns.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Target inputs.
    Y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Target outputs; 1-D means one output.
    W0 : ndarray of shape (n_outputs, n_features) or None
        Source weights (``None``: zeros). For one output a 1-D array is accepted.
    lam : float or ndarray of shape (n_features,)
        Strength of the pull toward ``W0``, one value for all features or one per
        feature (column ``j`` of ``W`` then costs ``lam[j] * ||W[:, j] - W0[:, j]||^2``);
        ``np.inf`` keeps ``W = W0``.
    alpha : float, default=0.0
        Plain L2 penalty on ``W``.
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights :math:`s_i` of the squared errors (``None``: ones).
    fit_intercept : bool, default=True
        Whether to fit ``b``; otherwise ``b = 0``.
    b0 : ndarray of shape (n_outputs,), default=None
        Source intercept, used only when ``lam_intercept > 0`` (``None``: zeros).
    lam_intercept : float, default=0.0
        Pull of the intercept toward ``b0``; ``0`` leaves the intercept free.
    offset : ndarray of shape (n_samples,) or (n_samples, n_outputs), default=None
        Fixed scores :math:`o_i` added to the linear model's (e.g. a source
        hypothesis' predictions); ``None``: zeros.
    ridge : callable, default=None
        ``ridge(Rs, r)``: the ``V`` minimizing ``||Xs V^T - Rs||^2 + sum_j r_j
        ||V[:, j]||^2`` on the weighted rows ``Xs = S^(1/2) X`` (centred at their
        weighted mean when the intercept is free), from a decomposition of their Gram
        matrix that several fits on the same rows share, or None when it cannot (the fit
        then solves its own system); not used when ``lam_intercept`` pulls the
        intercept (a finite positive value). ``None``: every fit solves its own system.

    Returns
    -------
    coef : ndarray of shape (n_outputs, n_features)
        The fitted weights ``W``.
    intercept : ndarray of shape (n_outputs,)
        The fitted intercept ``b`` (zeros when ``fit_intercept=False``).

    References
    ----------
    .. [1] I. Kuzborskij and F. Orabona, "Stability and hypothesis transfer
       learning", ICML 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.training._biased_regularization import fit_biased_ridge
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y = X @ np.array([2.0, -1.0])
    >>> coef, b = fit_biased_ridge(X, y, np.array([[2.0, -1.0]]), lam=1.0, fit_intercept=False)
    >>> np.round(coef, 6)
    array([[ 2., -1.]])
    """
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    n, d = X.shape
    if Y.shape[0] != n:
        raise ValueError(f"X has {n} samples but Y has {Y.shape[0]}.")
    k = Y.shape[1]
    W0 = _check_source(W0, k, d)
    b0 = np.zeros(k) if b0 is None else np.broadcast_to(np.asarray(b0, dtype=float), (k,))
    s = _check_weights(sample_weight, n)
    lam = _check_penalties(lam, alpha, lam_intercept, d)
    Y = Y - _check_offset(offset, n, k)
    # (Non-finite targets are left to the solver: its callers refuse them.)
    t = _power_of_two_scale(Y) if all_finite(Y) else 1.0
    if t != 1.0:
        # The problem is linear in (Y, W0, b0): the same problem on them divided by a
        # power of two of the targets' magnitude (exact), the solution scaled back, so
        # that sums of targets near float64's top do not overflow.
        W, b = fit_biased_ridge(
            X,
            Y / t,
            W0 / t,
            lam=lam,
            alpha=alpha,
            sample_weight=s,
            fit_intercept=fit_intercept,
            b0=b0 / t,
            lam_intercept=lam_intercept,
            ridge=ridge,
        )
        return W * t, b * t
    sq = np.sqrt(s)[:, None]

    if np.all(np.isinf(lam)):
        W = W0.copy()
        if not fit_intercept:
            return W, np.zeros(k)
        if np.isinf(lam_intercept):
            return W, b0.copy()
        total = s.sum() + lam_intercept
        resid = Y - X @ W.T
        b = (s @ resid + lam_intercept * b0) / total if total > 0 else b0.copy()
        return W, b

    r = lam + alpha
    Wc = prior_mean(W0, lam, alpha)

    def solve(Rs, x_mean=0.0):
        # The weighted (centred) rows are formed only when this fit solves its own system.
        V = None if ridge is None else ridge(Rs, r)
        return _ridge_toward_zero(sq * (X - x_mean), Rs, r) if V is None else V

    if fit_intercept and lam_intercept == 0:
        x_mean = s @ X / s.sum()
        y_mean = s @ Y / s.sum()
        W = Wc + solve(sq * ((Y - y_mean) - (X @ Wc.T - x_mean @ Wc.T)), x_mean)
        return W, y_mean - W @ x_mean

    if not fit_intercept or np.isinf(lam_intercept):
        b = b0.copy() if fit_intercept else np.zeros(k)
        W = Wc + solve(sq * (Y - X @ Wc.T - b))
        return W, b

    # The pulled intercept is the weight of a constant feature with penalty lam_intercept.
    Xa = np.hstack([X, np.ones((n, 1))])
    Wa = np.hstack([Wc, b0[:, None]])
    ra = np.append(np.broadcast_to(r, (d,)), lam_intercept)
    Wa = Wa + _ridge_toward_zero(sq * Xa, sq * (Y - Xa @ Wa.T), ra)
    return Wa[:, :d], Wa[:, d]


def _log_softmax_rows(Z):
    """:func:`scipy.special.log_softmax` of the rows of a 2-D array, the same operations
    in the same order (so the same numbers) without its array-API dispatch, which took
    most of the time of the log-loss on the small problems of ``lam="auto"``."""
    Z_max = np.max(Z, axis=1, keepdims=True)
    Z_max[~np.isfinite(Z_max)] = 0
    shifted = Z - Z_max
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def _logistic_loss_grad(Z, Yoh, y, s, binary):
    """Weighted log-loss of the scores ``Z`` and its gradient with respect to ``Z``."""
    if binary:
        z = Z[:, 0]
        loss = s @ (np.logaddexp(0.0, z) - y * z)
        dZ = (s * (expit(z) - y))[:, None]
        return loss, dZ
    logp = _log_softmax_rows(Z)
    loss = -s @ logp[np.arange(Z.shape[0]), y]
    dZ = s[:, None] * (np.exp(logp) - Yoh)
    return loss, dZ


def _newton_polish(fun, hessian_at, theta, grad, max_steps=2):
    """Newton steps from L-BFGS's solution ``theta`` while they shrink the gradient.

    L-BFGS stops where its line search can no longer lower the objective in floating
    point: on a flat objective that is ~1e-7 from the minimizer, whatever ``gtol``
    (weighted and repeated rows then gave probabilities 1e-7 apart). A Newton step, by
    conjugate gradients on Hessian-vector products, needs the gradient only and brings
    the solution to rounding error. ``fun`` returns the objective and its gradient,
    ``grad`` is the gradient at ``theta`` (L-BFGS's last), ``hessian_at(theta)`` the
    product ``v -> H(theta) v``.
    """
    for _ in range(max_steps):
        # (A zero gradient gives a zero step, which does not shrink it: the loop ends.)
        hessian = LinearOperator((theta.size, theta.size), matvec=hessian_at(theta))
        step = cg(hessian, -grad, rtol=1e-4)[0]
        new_grad = fun(theta + step)[1]
        if not np.max(np.abs(new_grad)) < np.max(np.abs(grad)):
            break
        theta, grad = theta + step, new_grad
    return theta


def fit_biased_logistic(
    X,
    y,
    n_classes,
    W0,
    b0=None,
    *,
    lam,
    alpha=0.0,
    sample_weight=None,
    fit_intercept=True,
    lam_intercept=0.0,
    max_iter=1000,
    tol=1e-6,
    offset=None,
    return_n_iter=False,
    start=None,
):
    r"""Logistic regression biased toward source weights, by L-BFGS.

    Minimizes

    .. math::

        \sum_i s_i \, \ell(W x_i + b + o_i, y_i) + \lambda \|W - W_0\|_F^2
        + \alpha \|W\|_F^2 + \lambda_b \|b - b_0\|^2 ,

    with :math:`\ell` the binary log-loss (one weight row, the score of class 1) when
    ``n_classes == 2`` and the multinomial log-loss (one row per class) otherwise.
    scipy's L-BFGS-B runs on the exact objective and its analytic gradient, starting
    from the minimizer of the penalty alone (or from ``start``); Newton steps on
    Hessian-vector products then polish its solution to rounding error. Both work on the
    columns of ``X`` whose root mean square exceeds 1e4 scaled down to 1 (the weights and
    penalties rescaled to match: the same objective in other coordinates), so that
    features in large units converge like standardized ones.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Target inputs.
    y : ndarray of shape (n_samples,)
        Integer class codes in ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes (at least 2).
    W0 : ndarray of shape (n_rows, n_features) or None
        Source weights, ``n_rows = 1`` for two classes and ``n_classes`` otherwise
        (``None``: zeros).
    b0 : ndarray of shape (n_rows,), default=None
        Source intercept: the starting point, and the target of the pull when
        ``lam_intercept > 0`` (``None``: zeros).
    lam : float or ndarray of shape (n_features,) or (n_rows, n_features)
        Strength of the pull toward ``W0``, one value for all features, one per
        feature, or one per weight; ``np.inf`` keeps ``W = W0``.
    alpha : float, default=0.0
        Plain L2 penalty on ``W``. With ``lam=0`` and ``alpha = 1 / (2 C)`` the
        solution is scikit-learn's ``LogisticRegression(C=C)``.
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights :math:`s_i` of the losses (``None``: ones).
    fit_intercept : bool, default=True
        Whether to fit ``b``; otherwise ``b = 0``.
    lam_intercept : float, default=0.0
        Pull of the intercept toward ``b0``; ``0`` leaves the intercept free.
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations.
    tol : float, default=1e-6
        L-BFGS stops when the largest gradient entry of the objective divided by the
        total sample weight (by 1 when the weights sum to less than 1) falls below ``tol``,
        in the coordinates of the rescaled columns (those of ``X`` for columns of root
        mean square up to 1e4).
    offset : ndarray of shape (n_samples,) or (n_samples, n_rows), default=None
        Fixed scores :math:`o_i` added to the linear scores (e.g. a source
        hypothesis' decision values); ``None``: zeros.
    return_n_iter : bool, default=False
        Whether to also return the number of L-BFGS iterations.
    start : tuple of two ndarrays, default=None
        Weights of shape (n_rows, n_features) and intercept of shape (n_rows,) to
        start from (e.g. the solution on nearly the same rows); ``None``: the minimizer
        of the penalty alone, ``(prior mean, b0)``. Fixed parts (infinite penalties, no
        intercept) ignore it.

    Returns
    -------
    coef : ndarray of shape (n_rows, n_features)
        The fitted weights ``W``.
    intercept : ndarray of shape (n_rows,)
        The fitted intercept ``b`` (zeros when ``fit_intercept=False``).
    n_iter : int
        Number of L-BFGS iterations (only when ``return_n_iter=True``).

    References
    ----------
    .. [1] I. Kuzborskij and F. Orabona, "Stability and hypothesis transfer
       learning", ICML 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.training._biased_regularization import fit_biased_logistic
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> y = np.array([0, 1, 0, 1])
    >>> coef, b = fit_biased_logistic(X, y, 2, np.array([[3.0]]), lam=1e8)
    >>> np.round(coef, 4)
    array([[3.]])
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    n, d = X.shape
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {y.shape}.")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}.")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y must hold integer codes in 0..{n_classes - 1}.")
    y = y.astype(np.intp)
    binary = n_classes == 2
    k = 1 if binary else n_classes
    W0 = _check_source(W0, k, d)
    b0 = np.zeros(k) if b0 is None else np.broadcast_to(np.asarray(b0, dtype=float), (k,))
    s = _check_weights(sample_weight, n)
    lam = _check_penalties(lam, alpha, lam_intercept, d, k)
    offset = _check_offset(offset, n, k)
    Yoh = None if binary else np.eye(k)[y]
    fix_W = bool(np.all(np.isinf(lam)))
    fix_b = not fit_intercept or np.isinf(lam_intercept)
    b_fixed = b0.copy() if fit_intercept else np.zeros(k)
    if fix_W and fix_b:
        return (W0.copy(), b_fixed, 0) if return_n_iter else (W0.copy(), b_fixed)

    W_start, b_start = (prior_mean(W0, lam, alpha), b0) if start is None else start
    # The objective is divided by the total weight so that ``tol`` means the same for
    # any sample size; the minimizer is unchanged.
    scale = max(s.sum(), 1.0)
    # Columns in large units are scaled down, the weights and penalties rescaled to
    # match (the same objective in other coordinates): they left L-BFGS stalled far from
    # the minimizer (iris times 1e6: its relative progress fell below ftol with gradient
    # entries of 442, and 0.847 training accuracy instead of 0.967). Other fits are
    # untouched.
    col = _column_scale(X, s)
    W_given = W0
    # The penalties are squares of ``sqrt(lam) * (W - W0)`` and ``sqrt(alpha) * W``:
    # ``lam * (W - W0)**2`` overflowed where a large column's weights in the rescaled
    # coordinates exceed 1e154 (a source fitted on rows around 1, applied to rows around
    # 1e150), an infinite loss where it is finite, and ``0 * inf``, a NaN, where ``lam /
    # col**2`` underflowed.
    root_lam, root_alpha = np.sqrt(lam), np.sqrt(alpha)
    if np.any(col != 1.0):
        X = X / col
        W0, W_start = W0 * col, np.asarray(W_start, dtype=float) * col
        root_lam, root_alpha = root_lam / col, root_alpha / col
        # (squared from the roots: col**2 overflows for columns beyond about 1e154)
        lam, alpha = root_lam**2, root_alpha**2

    def unpack(theta):
        W = W0 if fix_W else theta[: k * d].reshape(k, d)
        b = b_fixed if fix_b else theta[theta.size - k :]
        return W, b

    # A trial point of the line search can lie far out (columns of very different scales):
    # its scores or penalties overflow, the objective is not finite and L-BFGS steps back.
    @np.errstate(over="ignore", invalid="ignore")
    def fun(theta):
        W, b = unpack(theta)
        loss, dZ = _logistic_loss_grad(X @ W.T + b + offset, Yoh, y, s, binary)
        grads = []
        if not fix_W:
            pull = np.broadcast_to(root_lam * (W - W0), W.shape)
            shrink = np.broadcast_to(root_alpha * W, W.shape)
            loss += np.vdot(pull, pull) + np.vdot(shrink, shrink)
            grads.append((dZ.T @ X + 2 * root_lam * pull + 2 * root_alpha * shrink).ravel())
        if not fix_b:
            db = b - b0
            loss += lam_intercept * db @ db
            grads.append(dZ.sum(axis=0) + 2 * lam_intercept * db)
        return loss / scale, np.concatenate(grads) / scale

    theta0 = np.concatenate(
        ([] if fix_W else [np.ravel(W_start)]) + ([] if fix_b else [np.asarray(b_start, float)])
    )

    def hessian_at(theta):
        # v -> the Hessian of the objective at theta times v: the loss's through the
        # scores' changes ``X V^T + v_b`` (the probabilities computed once), plus the
        # penalties'.
        W, b = unpack(theta)
        Z = X @ W.T + b + offset
        if binary:
            p = expit(Z)
            curvature = s[:, None] * p * (1 - p)
        else:
            P = softmax(Z, axis=1)
            sP = s[:, None] * P

        def matvec(v):
            V = 0.0 if fix_W else v[: k * d].reshape(k, d)
            v_b = 0.0 if fix_b else v[v.size - k :]
            dZ = v_b if fix_W else X @ V.T + v_b
            if binary:
                Q = curvature * dZ
            else:
                Q = sP * (dZ - (P * dZ).sum(axis=1, keepdims=True))
            out = []
            if not fix_W:
                out.append((Q.T @ X + 2 * (lam + alpha) * V).ravel())
            if not fix_b:
                out.append(Q.sum(axis=0) + 2 * lam_intercept * v_b)
            return np.concatenate(out) / scale

        return matvec

    with one_blas_thread_if_small(n * d * k):
        if start is None and not fix_W:
            # The minimizer of the penalty alone, unless zero weights are better: a prior
            # mean far out (a source fitted on rows around 1, applied to rows around 1e150)
            # put the scores around 1e155 and L-BFGS never left it.
            zero = theta0.copy()
            zero[: k * d] = 0.0
            if not fun(theta0)[0] <= fun(zero)[0]:
                theta0 = zero
        res = minimize(
            fun,
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
        )
        # (An infinite tolerance asks for the start itself: nothing to polish.)
        theta = _newton_polish(fun, hessian_at, res.x, res.jac) if np.isfinite(tol) else res.x
    W, b = unpack(theta)
    W = W_given.copy() if fix_W else W / col
    W, b = np.array(W, dtype=float), np.array(b, dtype=float)
    return (W, b, int(res.nit)) if return_n_iter else (W, b)


# Columns whose root mean square exceeds this are scaled down to 1 inside the solver.
_LARGE_COLUMN = 1e4


def _column_scale(X, s):
    """Root mean square of each column of ``X`` under the weights ``s`` (plain when they
    sum to 0) where it exceeds ``_LARGE_COLUMN``; else 1. Computed on the columns divided
    by their largest magnitude, so that squares of large features do not overflow.

    Only large columns are scaled, and only down. Scaling small ones up also blows up the
    rounding noise of a column constant in the rows (centred by the caller to about
    1e-17: hypothesis transfer on digits, whose pixels are often constant in a few rows,
    lost up to 5 points), and scaling every column above 1 down to 1 took 1.7 times the
    iterations on the benchmark's digits fits, for the same solutions. The old solver
    fitted columns up to about 1e5 well (raw wine, breast cancer, iris times 1e5) and
    stalled above (iris times 1e6).
    """
    if not len(X):
        return np.ones(X.shape[1])
    w = s if s.sum() > 0 else np.ones(len(X))
    top = np.abs(X).max(axis=0)
    top = np.where(top > 0, top, 1.0)
    rms = top * np.sqrt((w @ (X / top) ** 2) / w.sum())
    return np.where(rms > _LARGE_COLUMN, rms, 1.0)


def evidence_weights(log_evidence):
    """Posterior probabilities of candidate models from their log evidences.

    Under a uniform prior over the candidates, ``exp(log_evidence)`` normalized to sum to 1
    (computed from the largest value, so no term overflows). When no evidence is finite,
    every candidate gets the same weight.
    """
    log_evidence = np.asarray(log_evidence, dtype=float)
    top = np.max(log_evidence)
    if not np.isfinite(top):
        return np.full(len(log_evidence), 1.0 / len(log_evidence))
    weights = np.exp(log_evidence - top)
    return weights / weights.sum()


def biased_logistic_log_evidence(
    X,
    y,
    n_classes,
    W,
    b,
    W0,
    b0=None,
    *,
    lam,
    alpha=0.0,
    sample_weight=None,
    fit_intercept=True,
    lam_intercept=0.0,
    offset=None,
):
    r"""Laplace approximation of the log marginal likelihood of a biased logistic fit.

    The penalty of :func:`fit_biased_logistic` is read as a Gaussian prior: weight
    ``W[c, j]`` has mean ``lam_j W0[c, j] / (lam_j + alpha)`` and precision
    ``2 (lam_j + alpha)``, the intercept mean ``b0`` and precision ``2 lam_intercept``
    (an unpenalized intercept has a flat prior). At the fitted ``(W, b)`` (the mode of
    the posterior),

    .. math::

        \log p(y) \approx -E(W, b) + \tfrac12 \sum_{\text{penalized}} \log(2 r)
        - \tfrac12 \log\det H ,

    with :math:`E` the penalized objective, its weight penalty written as the
    Gaussian's exponent :math:`\\sum (\\lambda_j + \\alpha) (W_{cj} - m_{cj})^2`
    (the objective up to a constant in ``W``), and :math:`H` its Hessian. Weights with an
    infinite penalty are fixed and contribute nothing; the flat intercept contributes
    a constant that is the same for every prior, so values are comparable across
    ``lam`` and ``alpha`` (and across ``W0``) on the same data. This is the empirical
    Bayes criterion used to choose the prior when there are too few rows to validate
    on (MacKay, "The evidence framework applied to classification networks", 1992).

    Parameters
    ----------
    X, y, n_classes, W0, b0, lam, alpha, sample_weight, fit_intercept, lam_intercept, \
offset
        As in :func:`fit_biased_logistic`. An unpenalized weight or intercept has a
        flat prior and adds the same constant for every prior.
    W : ndarray of shape (n_rows, n_features)
        The fitted weights.
    b : ndarray of shape (n_rows,)
        The fitted intercept.

    Returns
    -------
    log_evidence : float
        The approximate log marginal likelihood, up to a constant that does not
        depend on the prior.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.training._biased_regularization import (
    ...     biased_logistic_log_evidence, fit_biased_logistic)
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = (X @ [2.0, -1.0, 0.5] > 0).astype(int)
    >>> def evidence(W0):
    ...     W, b = fit_biased_logistic(X, y, 2, W0, lam=1.0)
    ...     return biased_logistic_log_evidence(X, y, 2, W, b, W0, lam=1.0)
    >>> bool(evidence([[2.0, -1.0, 0.5]]) > evidence([[-2.0, 1.0, -0.5]]))
    True
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).astype(np.intp)
    n, d = X.shape
    binary = n_classes == 2
    k = 1 if binary else n_classes
    W = np.asarray(W, dtype=float).reshape(k, d)
    b = np.asarray(b, dtype=float).reshape(k)
    W0 = _check_source(W0, k, d)
    b0 = np.zeros(k) if b0 is None else np.broadcast_to(np.asarray(b0, dtype=float), (k,))
    s = _check_weights(sample_weight, n)
    lam = np.broadcast_to(_check_penalties(lam, alpha, lam_intercept, d, k), (k, d))
    offset = _check_offset(offset, n, k)
    r = lam + alpha
    free_W = not np.all(np.isinf(lam))
    free_b = fit_intercept and not np.isinf(lam_intercept)

    Z = X @ W.T + b + offset
    Yoh = None if binary else np.eye(k)[y]
    loss, _ = _logistic_loss_grad(Z, Yoh, y, s, binary)
    energy = loss
    if free_W:
        # The two penalties as one normalized Gaussian: r ||W - m||^2 with
        # m = lam W0 / r. (Their sum differs from it by lam alpha / r ||W0||^2, a
        # constant of the objective but not of the prior's normalization.)
        energy += np.sum(r * (W - prior_mean(W0, lam, alpha)) ** 2)
    if free_b:
        energy += lam_intercept * np.sum((b - b0) ** 2)

    # Columns of the parameters that are free: every weight (if not fixed) and the
    # intercept; the Hessian of the data term is that of the softmax on [X, 1].
    Xa = np.hstack([X, np.ones((n, 1))])
    cols = np.r_[np.full(d, free_W), free_b]
    Xf = Xa[:, cols]
    m = Xf.shape[1]
    if m == 0:
        return float(-energy)
    if binary:
        p = expit(Z[:, 0])
        H = (Xf * (s * p * (1 - p))[:, None]).T @ Xf
    else:
        P = softmax(Z, axis=1)
        # sum_i s_i (diag(p_i) - p_i p_i^T) kron x_i x_i^T, in (class, column) order.
        A = np.einsum("i,ia,ab->iab", s, P, np.eye(k)) - np.einsum("i,ia,ib->iab", s, P, P)
        # One matrix product: (class pairs x rows) @ (rows x column pairs).
        outer = (Xf[:, :, None] * Xf[:, None, :]).reshape(n, m * m)
        H = (A.reshape(n, k * k).T @ outer).reshape(k, k, m, m)
        H = H.transpose(0, 2, 1, 3).reshape(k * m, k * m)
    prec = np.hstack(
        [2 * r if free_W else np.empty((k, 0)), np.full((k, int(free_b)), 2.0 * lam_intercept)]
    ).ravel()
    # A flat (unpenalized) parameter gets a tiny fixed precision: the softmax is invariant to adding
    # a constant to every class's intercept, and that direction must stay finite. The
    # same constant enters every candidate, so comparisons are unaffected.
    H.flat[:: k * m + 1] += np.where(prec > 0, prec, 1e-8)
    sign, logdet = np.linalg.slogdet(H)
    if sign <= 0:
        return -np.inf
    return float(-energy + 0.5 * np.sum(np.log(prec[prec > 0])) - 0.5 * logdet)
