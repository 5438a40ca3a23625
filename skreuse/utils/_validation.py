"""Validation shared by skreuse's estimators and scores: targets, and memory before allocating.

scikit-learn's ``type_of_target`` sorts the labels, so labels that mix strings and numbers
(``["a", 1]``) fail inside numpy with ``'<' not supported between 'int' and 'str'``; the
helpers here say what is wrong instead. Sizes read from user input (``sample(10**9)``,
a specification read from JSON) are checked against the memory this process may still
use before anything is allocated.
"""

import sys

import numpy as np
from sklearn.utils.multiclass import check_classification_targets as _sklearn_check_targets
from sklearn.utils.multiclass import type_of_target

from ._optional import is_torch_tensor

__all__ = [
    "all_finite",
    "available_memory",
    "check_allocation",
    "check_classification_target",
    "check_classification_targets",
    "check_finite_weights",
    "check_label_types",
]


def all_finite(a):
    """Whether every entry of a numpy array or torch tensor is finite (no NaN, no infinity).

    The sum of the entries is finite whenever they all are, unless finite entries overflow
    it; NaN and infinity always make it non-finite. So the sum decides, and only a sum that
    is not finite is followed by the entry-wise check (scikit-learn's fast path too). On a
    CPU tensor the sum is about 17 times faster than ``isfinite(a).all()``. Integer and
    boolean arrays are finite.

    Parameters
    ----------
    a : ndarray or torch.Tensor
        Values, on any device.

    Returns
    -------
    bool
    """
    if is_torch_tensor(a):
        if not (a.is_floating_point() or a.is_complex()):
            return True
        return bool(a.sum().isfinite()) or bool(a.isfinite().all())
    a = np.asarray(a)
    if a.dtype.kind in "biu":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        total = a.sum()
    return bool(np.isfinite(total)) or bool(np.isfinite(a).all())


def check_finite_weights(coef, intercept, name):
    """Raise a ``ValueError`` naming ``name`` unless a linear model's ``coef`` and
    ``intercept`` are all finite: every fit built on an infinite or NaN weight (a prior
    mean, carried weights) is NaN, with no error of its own."""
    if not (all_finite(coef) and all_finite(intercept)):
        raise ValueError(f"{name} has weights or an intercept that are infinite or NaN.")


def check_label_types(y, input_name="y"):
    """Reject object labels that mix strings with other values (they cannot be sorted).

    Parameters
    ----------
    y : array-like
        Labels.
    input_name : str, default="y"
        Name of the parameter, for error messages.
    """
    arr = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
    if arr.dtype != object or arr.size == 0:
        return
    flat = arr.ravel()
    is_str = np.fromiter((isinstance(v, str) for v in flat), dtype=bool, count=flat.size)
    if is_str.any() and not is_str.all():
        first_str = flat[np.argmax(is_str)]
        first_other = flat[np.argmin(is_str)]
        raise ValueError(
            f"{input_name} mixes string labels with labels of another type (e.g. "
            f"{first_str!r} and {first_other!r} of type {type(first_other).__name__}); "
            "use labels of one type."
        )


def check_classification_target(y, *, input_name="y"):
    """Check that ``y`` holds class labels (binary or multiclass) of one type.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Target labels (any labels: integers, strings, booleans...).
    input_name : str, default="y"
        Name of the parameter, for error messages.

    Returns
    -------
    kind : {"binary", "multiclass"}
        The target type in the sense of :func:`sklearn.utils.multiclass.type_of_target`.

    Raises
    ------
    ValueError
        If ``y`` mixes strings and other labels, contains NaN or infinity, or is not
        a binary or multiclass target (e.g. continuous values, which would make every
        value its own class).
    """
    check_label_types(y, input_name)
    kind = type_of_target(y, input_name=input_name)
    if kind not in ("binary", "multiclass"):
        hint = ""
        if kind.startswith("continuous"):
            hint = (
                ": it holds continuous values, and treating every distinct value as a "
                "class would give a meaningless score"
            )
        # "Unknown label type" is the phrase scikit-learn's own checks look for.
        raise ValueError(
            f"Unknown label type: {input_name} must hold class labels (a binary or "
            f"multiclass target), got a {kind!r} target{hint}."
        )
    return kind


def check_classification_targets(y):
    """:func:`sklearn.utils.multiclass.check_classification_targets` with mixed labels named.

    A drop-in replacement: the same checks, plus a clear ``ValueError`` (instead of
    numpy's ``TypeError``) when labels mix strings and other types.

    Parameters
    ----------
    y : array-like
        Target values.
    """
    check_label_types(y, "y")
    _sklearn_check_targets(y)


def _proc_kib(path, key):
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def available_memory():
    """Bytes this process may still allocate: free memory, and the address-space limit.

    Returns
    -------
    n_bytes : float
        ``inf`` where neither can be read (non-Linux systems).
    """
    available = _proc_kib("/proc/meminfo", "MemAvailable:")
    limit = float("inf") if available is None else float(available)
    if sys.platform != "win32":
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            used = _proc_kib("/proc/self/status", "VmSize:") or 0
            limit = min(limit, float(soft - used))
    return max(limit, 0.0)


def check_allocation(n_bytes, what):
    """Raise a clear error before allocating more memory than the process may use.

    Parameters
    ----------
    n_bytes : int or float
        Bytes the operation would allocate.
    what : str
        What would be allocated, for the message (e.g. ``"sample(n_samples=10**9)"``).

    Raises
    ------
    ValueError
        If ``n_bytes`` exceeds :func:`available_memory`.
    """
    available = available_memory()
    if n_bytes > available:
        raise ValueError(
            f"{what} would need {n_bytes / 2**30:.3g} GiB of memory, more than the "
            f"{available / 2**30:.3g} GiB available to this process."
        )
