"""Embedded tasks and model zoos built offline from scikit-learn's bundled data.

Everything here is built from the data sets that ship with scikit-learn (digits, wine,
breast cancer, iris, diabetes): no download, a few seconds, the same result for the same
``random_state``, cached in memory.
"""

from ._tasks import (
    REFORM_SCENARIOS,
    make_heterogeneous_task,
    make_hmr_toy,
    make_multiparty_task,
    make_reform_task,
    make_transfer_task,
)
from ._zoo import make_model_zoo

__all__ = [
    "REFORM_SCENARIOS",
    "make_heterogeneous_task",
    "make_hmr_toy",
    "make_model_zoo",
    "make_multiparty_task",
    "make_reform_task",
    "make_transfer_task",
]
