"""skreuse: model reuse for scikit-learn.

Choose which pre-trained model to reuse, describe tasks so models can be found,
adapt a source model to a new task with few labels, and fuse or calibrate several
models — each as an ordinary scikit-learn estimator.

``import skreuse`` never imports torch, skorch, POT or matplotlib: they are
imported where they are needed.
"""

from . import (
    datasets,
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

__all__ = [
    "__version__",
    "datasets",
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
