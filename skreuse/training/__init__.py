"""Training-level reuse: adapt a source model to a new task with few labels."""

from ._hypothesis_transfer import HypothesisTransferClassifier, HypothesisTransferRegressor
from ._reform import ReFormRectifier
from ._transfer_tree import TransferForestClassifier, TransferTreeClassifier

__all__ = [
    "HypothesisTransferClassifier",
    "HypothesisTransferRegressor",
    "ReFormRectifier",
    "TransferForestClassifier",
    "TransferTreeClassifier",
]
