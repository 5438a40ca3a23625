"""Which task (classification or regression) a target, a model or a head solves."""

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils.multiclass import type_of_target

from ._validation import check_label_types


def target_task(y, task="auto"):
    """``task`` itself, or for ``"auto"`` the task that the targets ``y`` describe.

    Floating ``y`` (and continuous or multi-output ``y``) is regression; integer, boolean
    or string labels (binary or multiclass) are classification.
    """
    if task != "auto":
        return task
    check_label_types(y, "y")
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    # Floating targets are values even when they happen to be whole numbers (e.g. counts).
    floating = np.asarray(y).dtype.kind == "f"
    if kind in ("binary", "multiclass") and not floating:
        return "classification"
    if kind in ("continuous", "continuous-multioutput", "multilabel-indicator") or (
        floating and kind in ("binary", "multiclass", "multiclass-multioutput")
    ):
        return "regression"
    raise ValueError(
        f"Cannot infer the task from y of type {kind!r}: pass task='classification' or "
        "task='regression'."
    )


def model_task(model):
    """The task of a fitted model: classification when it has classes, else regression.

    None when the model predicts nothing.
    """
    if is_classifier(model) or hasattr(model, "classes_"):
        return "classification"
    if is_regressor(model) or hasattr(model, "predict"):
        return "regression"
    return None


def infer_task(y, estimator=None):
    """The task of a head ``estimator`` (fitted or not) when it says, else of ``y``."""
    if estimator is not None and is_classifier(estimator):
        return "classification"
    if estimator is not None and is_regressor(estimator):
        return "regression"
    return target_task(y, "auto")
