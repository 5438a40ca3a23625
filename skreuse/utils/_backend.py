"""A small numpy / torch backend layer.

One numeric implementation serves both: the torch path is taken when an input is a
torch tensor or ``device`` asks for torch (``"cuda"``, ``"cuda:1"``, ``"mps"`` or a
``torch.device``, including ``torch.device("cpu")``). The string ``"cpu"`` keeps the
numpy path. Results go back to numpy unless the caller passed tensors.

The idiom, as POT's ``nx = get_backend(*arrays)``: one call at the top of a numeric
function, ``nx = get_backend(*arrays, device=device)``, then ``nx.xp`` (an array-API
namespace: numpy's or torch's), ``nx.asarray`` and ``nx.device`` in its body.
"""

import sys

import numpy as np

from ._optional import import_optional, is_dask_array, is_torch_tensor
from ._sklearn_compat import HasMethods, array_namespace

__all__ = [
    "Backend",
    "DeviceConstraint",
    "get_backend",
    "get_torch_device",
    "to_numpy",
    "to_torch",
    "uses_torch",
]


def _is_torch_device(obj):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.device)


class DeviceConstraint(HasMethods):
    """Parameter constraint for ``device``: a string or a ``torch.device``.

    Built on ``HasMethods`` only because scikit-learn's ``make_constraint`` accepts
    a fixed set of constraint classes.
    """

    def __init__(self):
        super().__init__([])

    def is_satisfied_by(self, val):
        return isinstance(val, str) or _is_torch_device(val)

    def __str__(self):
        return "a str (e.g. 'cpu', 'cuda', 'cuda:1') or a torch.device"


def uses_torch(device="cpu", *arrays):
    """Whether the torch path is taken for ``device`` and ``arrays``.

    Parameters
    ----------
    device : str or torch.device, default="cpu"
        ``"cpu"`` (numpy, unless an array is a tensor), ``"cuda"``, ``"cuda:k"``,
        ``"mps"`` or a ``torch.device``.
    *arrays : array-like or torch.Tensor
        Inputs; any tensor selects torch.

    Returns
    -------
    bool
    """
    if any(is_torch_tensor(a) for a in arrays):
        return True
    if device is None:
        return False
    if isinstance(device, str):
        return device.strip().lower() != "cpu"
    return True


def get_torch_device(device="cpu", *arrays):
    """Resolve ``device`` to a ``torch.device`` (importing torch).

    A tensor among ``arrays`` decides when ``device`` is ``"cpu"`` or None, so a CUDA
    tensor in gives CUDA work. Asking for CUDA where none is available is a
    ``ValueError`` naming the parameter.
    """
    torch = import_optional("torch", purpose=f"for device={device!r}")
    if device is None or (isinstance(device, str) and device.strip().lower() == "cpu"):
        for a in arrays:
            if is_torch_tensor(a):
                return a.device
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here.")
    return dev


def to_torch(x, device, dtype=None):
    """Convert ``x`` (array-like or tensor) to a tensor on ``device``."""
    torch = import_optional("torch")
    if is_torch_tensor(x):
        return x.to(device=device, dtype=dtype or x.dtype)
    arr = np.asarray(x)
    if dtype is None:
        dtype = torch.float64 if arr.dtype == np.float64 else torch.float32
    return torch.as_tensor(arr, dtype=dtype, device=device)


def to_numpy(x):
    """Bring an array or tensor back to a numpy array."""
    if is_torch_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class Backend:
    """numpy or torch, chosen once for a computation (see :func:`get_backend`).

    Attributes
    ----------
    xp : module
        The array-API namespace: numpy's, or torch's (``xp.astype``, ``xp.linalg.eigh``,
        ``xp.where`` ... behave alike on both).
    device : torch.device or None
        Where tensors live on the torch path; None on the numpy path.
    """

    def __init__(self, xp, device):
        self.xp = xp
        self.device = device

    @property
    def is_torch(self):
        return self.device is not None

    def asarray(self, x, dtype="float64"):
        """``x`` as an array of this backend (a tensor on ``device``).

        ``dtype="float64"`` makes both paths agree to rounding; ``None`` keeps a floating
        ``x``'s precision (float32 stays float32, e.g. for fast GPU matrix products).
        """
        if self.is_torch:
            torch = import_optional("torch")
            return to_torch(x, self.device, dtype=None if dtype is None else getattr(torch, dtype))
        if is_dask_array(x):
            # Stays lazy: computed chunk by chunk by the code that reduces it.
            return x if dtype is None else x.astype(dtype)
        return np.asarray(to_numpy(x), dtype=dtype)

    to_numpy = staticmethod(to_numpy)


def get_backend(*arrays, device="cpu"):
    """The backend of a computation on ``arrays`` asked to run on ``device``.

    Parameters
    ----------
    *arrays : array-like or torch.Tensor
        The inputs; any tensor selects torch (on its device when ``device="cpu"``).
    device : str, torch.device or None, default="cpu"
        As everywhere in skreuse: ``"cpu"`` (or None) keeps numpy unless an input is a
        tensor; ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a ``torch.device`` select torch.

    Returns
    -------
    backend : Backend
        ``backend.xp`` is the array namespace, ``backend.device`` the torch device (None
        for numpy) and ``backend.asarray`` converts to it.
    """
    if not uses_torch(device, *arrays):
        return Backend(array_namespace(np.empty(0)), None)
    torch = import_optional("torch", purpose=f"for device={device!r}")
    return Backend(array_namespace(torch.empty(0)), get_torch_device(device, *arrays))
