"""Small numeric kernels shared by several methods; numpy arrays or torch tensors alike."""


def sq_dists(A, B):
    """Squared euclidean distances between the rows of ``A`` and of ``B``.

    Uses ``||a||² - 2 a·b + ||b||²`` (one matrix product), which works on numpy arrays
    and torch tensors alike, clipped at 0 because rounding can take it slightly below.
    Both sets are first shifted by the same row (``A``'s first, else ``B``'s), which
    leaves the distances unchanged: the rounding of the expansion then scales with the
    spread of the rows, not with their distance from the origin (rows around 1e7 with a
    spread of 1 came out at distance 0 from each other).
    """
    origin = A[:1] if A.shape[0] else B[:1]
    A, B = A - origin, B - origin
    d = (A * A).sum(1)[:, None] - 2 * (A @ B.T) + (B * B).sum(1)[None, :]
    return d.clip(min=0)
