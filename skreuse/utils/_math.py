"""Small numeric kernels shared by several methods; numpy arrays or torch tensors alike."""


def sq_dists(A, B):
    """Squared euclidean distances between the rows of ``A`` and of ``B``.

    Uses ``||a||² - 2 a·b + ||b||²`` (one matrix product), which works on numpy arrays
    and torch tensors alike, clipped at 0 because rounding can take it slightly below.
    """
    d = (A * A).sum(1)[:, None] - 2 * (A @ B.T) + (B * B).sum(1)[None, :]
    return d.clip(min=0)
