"""Optional dependencies: imported lazily, with an error that names the extra."""

import importlib
import sys

_EXTRAS = {
    "torch": "deep",
    "skorch": "deep",
    "matplotlib": "plot",
    "skops": "io",
    "dask": "distributed",
}


def import_optional(name, *, purpose=None):
    """Import an optional dependency or raise an ``ImportError`` naming the extra.

    Parameters
    ----------
    name : str
        Module name, e.g. ``"torch"`` or ``"matplotlib.pyplot"``.
    purpose : str, default=None
        What the caller needs it for, added to the error message.

    Returns
    -------
    module : module
        The imported module.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        top = name.split(".")[0]
        extra = _EXTRAS.get(top, "all")
        why = f" {purpose}" if purpose else ""
        raise ImportError(
            f"{top!r} is required{why} but is not installed. "
            f'Install it with: pip install "skreuse[{extra}]"'
        ) from exc


def is_torch_tensor(obj):
    """Whether ``obj`` is a torch tensor, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def is_torch_module(obj):
    """Whether ``obj`` is a ``torch.nn.Module``, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def is_skorch_net(obj):
    """Whether ``obj`` is a skorch ``NeuralNet``, without importing skorch."""
    skorch = sys.modules.get("skorch")
    return skorch is not None and isinstance(obj, skorch.NeuralNet)


def is_dask_array(obj):
    """Whether ``obj`` is a ``dask.array.Array``, without importing dask."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(obj, da.Array)
