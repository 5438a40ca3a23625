"""Small numeric kernels shared by several methods; numpy arrays or torch tensors alike."""

import math

# Arrays whose largest absolute value lies in this range are used without scaling: the
# sums of their squared entries neither underflow nor overflow float64.
_SAFE_PEAK = (2.0**-200, 2.0**200)


def _pow2(exponent):
    """``2.0**exponent``, saturating at inf (and underflowing to 0) like float arithmetic."""
    return math.ldexp(1.0, int(exponent)) if exponent < 1024 else math.inf


def _exponent(value):
    """``k`` with ``2**(k - 1) <= value < 2**k`` (0 for 0): scaling by ``2**-k`` is exact."""
    return math.frexp(value)[1] if value > 0 else 0


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
