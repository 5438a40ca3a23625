"""Small numeric kernels shared by several methods; numpy arrays or torch tensors alike."""

import math

import numpy as np

# Arrays whose largest absolute value lies in this range are used without scaling: the
# sums of their squared entries neither underflow nor overflow float64.
_SAFE_PEAK = (2.0**-200, 2.0**200)


def _pow2(exponent):
    """``2.0**exponent``, saturating at inf (and underflowing to 0) like float arithmetic."""
    return math.ldexp(1.0, int(exponent)) if exponent < 1024 else math.inf


def _exponent(value):
    """``k`` with ``2**(k - 1) <= value < 2**k`` (0 for 0): scaling by ``2**-k`` is exact."""
    return math.frexp(value)[1] if value > 0 else 0


def power_of_two_scale(X, safe=_SAFE_PEAK):
    """A power of two ``c`` such that ``X / c`` (a numpy array) has its largest magnitude
    in ``[1, 2)``, or 1 where there is nothing to rescale: ``X``'s largest magnitude lies
    in ``safe`` (``(low, high)``; ``None``: always rescale), or is 0 or not finite (left to
    the caller's checks). Dividing by ``c`` is exact, and a computation built of products
    and sums gives the same digits on ``X / c`` as on ``X``, but for the under- and
    overflows it avoids."""
    return power_of_two_of(float(np.max(np.abs(X), initial=0.0)), safe)


def power_of_two_of(peak, safe=_SAFE_PEAK):
    """:func:`power_of_two_scale` of an array (numpy or torch) whose largest magnitude is
    ``peak``."""
    if not (0.0 < peak < math.inf) or (safe is not None and safe[0] <= peak <= safe[1]):
        return 1.0
    return _pow2(_exponent(peak) - 1)


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
