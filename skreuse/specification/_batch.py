"""MMD between one embedding and many RKME specifications, in blocks of reduced points.

Stacking the reduced sets of ``M`` specifications into one kernel matrix costs
``O((M K)^2)`` memory (74.5 GiB at ``M = 1000``, ``K = 100``). Everything a search needs
is linear in the number of specifications instead:

- the cross terms ``c_j = beta_q^T K(Z_q, Z_j) beta_j`` come from one pass over the
  stacked reduced points, a block of rows at a time: ``a = K(Z_block, Z_q) beta_q``,
  then ``c = sum over the points of each spec of a * beta`` (``np.bincount``);
- the self terms ``s_j = beta_j^T K(Z_j, Z_j) beta_j`` need each spec's own small
  ``K x K`` kernel, batched over specifications padded to a common size.

Both are shared by :class:`RKMEReuser` and :class:`~skreuse.market.ModelMarket`.
"""

import numpy as np

# Kernel entries held at once (2**22 float64 values: 32 MiB), as in ``_rkme``.
_BLOCK_ENTRIES = 2**22


def _sq_norms(A):
    return np.einsum("ij,ij->i", A, A)


def _kernel_block(A, B, gamma, A_norms=None, B_norms=None):
    """``exp(-gamma ||a - b||^2)`` for the rows of ``A`` and ``B``.

    Four passes over the block (product, two shifts, exponential; the clip is cheap
    beside the exponential) instead of the six of the textbook expansion: the search is
    bound by memory traffic. The exponent is clipped at 0, where a distance rounds below
    zero: its rounding is relative to ``gamma ||a||^2``, so for points in large units
    compared with the kernel's width (rows around 1e150 against specifications fitted on
    rows around 1) a point's distance to itself came out at about ``-1e284`` and its kernel
    value at infinity, which made every distance of ``RKMEReuser`` infinite (or at about
    ``+1e284``, a kernel value of 0: :func:`query_self` sets the diagonal itself).
    """
    A_norms = _sq_norms(A) if A_norms is None else A_norms
    B_norms = _sq_norms(B) if B_norms is None else B_norms
    # Scale the smaller operand (the query side in a search), not the block of rows.
    D = A @ (2.0 * gamma * B).T if len(B) <= len(A) else (2.0 * gamma * A) @ B.T
    D -= gamma * A_norms[:, None]
    D -= gamma * B_norms[None, :]
    np.minimum(D, 0.0, out=D)
    np.exp(D, out=D)
    return D


def _groups(sizes, max_rows):
    """Consecutive ``(start, stop)`` ranges of specs holding at most ``max_rows`` points."""
    start, rows = 0, 0
    for j, size in enumerate(sizes):
        if rows and rows + size > max_rows:
            yield start, j
            start, rows = j, 0
        rows += size
    if rows or start < len(sizes):
        yield start, len(sizes)


def cross_to_many(query_points, query_weights, points, weights, gamma):
    """``c_j = w_q^T K(Z_q, Z_j) w_j`` for every spec ``j``, ``O(block)`` memory.

    The reduced sets are stacked a group at a time (as many specs as fit in a block of
    kernel rows), so neither the stacked points nor the kernel of all specs exist at once.
    """
    # Every point is shifted by the query's first (distances are unchanged), so that the
    # expansion's rounding scales with the spread of the points, not with their offset.
    Zq = np.asarray(query_points, dtype=np.float64)
    origin = Zq[:1] if Zq.shape[0] else np.zeros((1, Zq.shape[1]))
    Zq = Zq - origin
    wq = np.asarray(query_weights, dtype=np.float64)
    q_norms = _sq_norms(Zq)
    sizes = [len(w) for w in weights]
    max_rows = max(1, _BLOCK_ENTRIES // max(Zq.shape[0], 1))
    out = np.empty(len(sizes))
    for start, stop in _groups(sizes, max_rows):
        Z = np.vstack(points[start:stop]).astype(np.float64, copy=False)
        Z -= origin  # a new array either way
        w = np.concatenate(weights[start:stop]).astype(np.float64, copy=False)
        owner = np.repeat(np.arange(stop - start), sizes[start:stop])
        # A group bigger than a block (one huge spec) is still cut into row blocks.
        a = np.empty(Z.shape[0])
        for row in range(0, Z.shape[0], max_rows):
            Zb = Z[row : row + max_rows]
            a[row : row + max_rows] = _kernel_block(Zb, Zq, gamma, B_norms=q_norms) @ wq
        out[start:stop] = np.bincount(owner, weights=a * w, minlength=stop - start)
    return out


def self_terms(points, weights, gamma):
    """``s_j = w_j^T K(Z_j, Z_j) w_j`` for every spec, batched over padded reduced sets."""
    n_specs = len(weights)
    out = np.empty(n_specs)
    if n_specs == 0:
        return out
    sizes = np.array([len(w) for w in weights])
    d = np.asarray(points[0]).shape[1]
    # Specs in order of size, so that padding to a batch's largest set wastes little.
    order = np.argsort(sizes, kind="stable")
    start = 0
    while start < n_specs:
        k_max = sizes[order[start]]
        stop = start
        while stop < n_specs:
            k_max = max(k_max, sizes[order[stop]])
            if (stop - start + 1) * k_max * max(k_max, d) > _BLOCK_ENTRIES and stop > start:
                break
            stop += 1
        idx = order[start:stop]
        k_max = sizes[idx].max()
        Zb = np.zeros((len(idx), k_max, d))
        wb = np.zeros((len(idx), k_max))
        for row, j in enumerate(idx):
            # Each set shifted by its first point (as in cross_to_many).
            Zj = np.asarray(points[j], dtype=np.float64)
            Zb[row, : sizes[j]] = Zj - Zj[:1]
            wb[row, : sizes[j]] = weights[j]
        norms = np.einsum("bkd,bkd->bk", Zb, Zb)
        # A contiguous transpose lets matmul call BLAS per spec (5x faster than strides).
        D = np.matmul(Zb, np.ascontiguousarray(Zb.transpose(0, 2, 1)))
        D *= -2.0
        D += norms[:, :, None]
        D += norms[:, None, :]
        np.maximum(D, 0.0, out=D)
        D *= -gamma
        np.exp(D, out=D)
        # Padded points carry weight zero, so they add nothing.
        out[idx] = np.einsum("bi,bij,bj->b", wb, D, wb)
        start = stop
    return out


def mmd2_to_many(query_points, query_weights, points, weights, gamma, *, spec_self=None):
    """Squared MMD from one weighted point set to each of many reduced sets.

    Parameters
    ----------
    query_points : ndarray of shape (n_query, n_features)
        Points of the query embedding (a reduced set, or raw rows).

    query_weights : ndarray of shape (n_query,)
        Their weights (``1 / n`` for raw rows).

    points : list of ndarray of shape (K_j, n_features)
        Reduced sets of the specifications.

    weights : list of ndarray of shape (K_j,)
        Their weights.

    gamma : float
        Width of the Gaussian kernel ``exp(-gamma ||x - z||^2)``.

    spec_self : ndarray of shape (n_specs,), default=None
        Precomputed self terms ``w_j^T K(Z_j, Z_j) w_j`` (a market stores them).

    Returns
    -------
    mmd2 : ndarray of shape (n_specs,)
        ``||mu_query - mu_j||^2``, clipped at zero.
    """
    c = cross_to_many(query_points, query_weights, points, weights, gamma)
    s = self_terms(points, weights, gamma) if spec_self is None else np.asarray(spec_self)
    q = query_self(query_points, query_weights, gamma)
    return np.clip(q - 2.0 * c + s, 0.0, None)


def query_self(points, weights, gamma):
    """``w^T K(Z, Z) w`` for one point set, in blocks of rows (``O(block)`` memory)."""
    points = np.asarray(points, dtype=np.float64)
    points = points - points[:1]  # as in cross_to_many
    weights = np.asarray(weights, dtype=np.float64)
    norms = _sq_norms(points)
    step = max(1, _BLOCK_ENTRIES // max(points.shape[0], 1))
    total = 0.0
    for start in range(0, points.shape[0], step):
        K = _kernel_block(
            points[start : start + step], points, gamma, norms[start : start + step], norms
        )
        # A point's distance to itself is 0, which the expansion only approximates (by up
        # to 1e284 for rows around 1e150 in a kernel of width 1: a kernel value of 0).
        rows = np.arange(K.shape[0])
        K[rows, start + rows] = 1.0
        total += float(weights[start : start + step] @ (K @ weights))
    return total
