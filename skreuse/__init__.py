"""skreuse: model reuse for scikit-learn.

Choose which pre-trained model to reuse, describe tasks so models can be found,
adapt a source model to a new task with few labels, and fuse or calibrate several
models — each as an ordinary scikit-learn estimator.

``import skreuse`` never imports torch, skorch, POT or matplotlib: they are
imported where they are needed.
"""

from . import (
    inference,
    interpretable,
    io,
    market,
    multiparty,
    plotting,
    selection,
    specification,
    training,
    transferability,
)
from .inference import *  # noqa: F403
from .interpretable import *  # noqa: F403
from .multiparty import *  # noqa: F403
from .selection import *  # noqa: F403
from .specification import *  # noqa: F403
from .training import *  # noqa: F403

__version__ = "0.1.0.dev0"


def __getattr__(name):
    # skreuse.datasets (and the scipy.stats it needs) is imported on first use only.
    if name == "datasets":
        import importlib

        return importlib.import_module(f"{__name__}.datasets")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "datasets",  # noqa: F405 (loaded lazily by __getattr__)
    "io",
    "market",
    "plotting",
    "transferability",
    *inference.__all__,
    *interpretable.__all__,
    *multiparty.__all__,
    *selection.__all__,
    *specification.__all__,
    *training.__all__,
]
