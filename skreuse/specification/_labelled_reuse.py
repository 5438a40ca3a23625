"""Labelled reuse of several found models: feature augmentation and ensemble pruning.

The learnware package reuses the models found for a user's task with a few labels in
two ways: ``FeatureAugmentReuser`` (a linear model on the user's features augmented
with the models' outputs) and ``EnsemblePruningReuser`` (keep the subset of models
whose averaged prediction fits the labels best). :class:`~skreuse.RKMEReuser` offers
both as ``method="feature_augment"`` and ``method="ensemble_pruning"``; this module
holds their fitting and prediction, so the reuser only dispatches to them.
"""

import numpy as np
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets

LABELLED_METHODS = ("feature_augment", "ensemble_pruning")


def _output(model, X, classes):
    """One model's outputs: probabilities over ``classes``, or its predictions as columns."""
    if classes is None:
        return np.asarray(model.predict(X), dtype=np.float64).reshape(X.shape[0], -1)
    out = np.zeros((X.shape[0], len(classes)))
    cols = np.searchsorted(classes, np.asarray(model.classes_))
    if hasattr(model, "predict_proba"):
        out[:, cols] = model.predict_proba(X)
    else:
        out[np.arange(X.shape[0]), np.searchsorted(classes, model.predict(X))] = 1.0
    return out


def _outputs(reuser, X):
    classes = getattr(reuser, "classes_", None)
    return Parallel(n_jobs=reuser.n_jobs)(
        delayed(_output)(model, X, classes) for _, model in reuser.models_
    )


def _ensemble_score(mean_output, y, classes):
    """Accuracy of the averaged probabilities, or minus the mean squared error."""
    if classes is not None:
        return float(np.mean(classes[np.argmax(mean_output, axis=1)] == y))
    return -float(np.mean((mean_output - y.reshape(len(y), -1)) ** 2))


def fit_labelled(reuser, X, y):
    """Fit ``reuser`` (an :class:`RKMEReuser` whose ``models_`` are set) on labelled rows."""
    if y is None:
        raise ValueError(
            f"method={reuser.method!r} learns from labels: fit(X, y) needs y; the methods "
            "'job_selector', 'best' and 'average' work without labels."
        )
    y = column_or_1d(np.asarray(y), warn=True)
    check_consistent_length(X, y)
    if reuser.task_ == "classification":
        check_classification_targets(y)
        model_classes = reuser.classes_
        if (model_classes.dtype.kind in "biuf") != (y.dtype.kind in "biuf"):
            raise ValueError(
                f"y has labels of type {y.dtype} but the models' classes_ are of type "
                f"{model_classes.dtype}; they cannot be matched."
            )
        reuser.classes_ = np.unique(np.concatenate([model_classes, np.unique(y)]))
    else:
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity.")
    classes = getattr(reuser, "classes_", None)
    outputs = _outputs(reuser, X)
    if reuser.method == "feature_augment":
        head = (
            LogisticRegression(max_iter=1000)
            if classes is not None
            else RidgeCV(alphas=np.logspace(-3, 3, 13))
        )
        # Scaled, so that one penalty suits the raw features and the models' outputs alike.
        reuser.head_ = make_pipeline(StandardScaler(), head).fit(np.hstack([X, *outputs]), y)
        return
    # Greedy forward selection: add the model that most improves the averaged ensemble
    # on the labelled rows; stop when none improves it (ties keep the smaller ensemble).
    stacked = np.stack(outputs)
    selected, best, total = [], -np.inf, np.zeros_like(stacked[0])
    while len(selected) < len(stacked):
        candidates = [j for j in range(len(stacked)) if j not in selected]
        scores = [
            _ensemble_score((total + stacked[j]) / (len(selected) + 1), y, classes)
            for j in candidates
        ]
        k = int(np.argmax(scores))
        if scores[k] <= best:
            break
        best = scores[k]
        selected.append(candidates[k])
        total += stacked[candidates[k]]
    reuser.selected_models_ = [reuser.models_[j][0] for j in selected]
    reuser.ensemble_score_ = best


def _selected_mean(reuser, X):
    names = [name for name, _ in reuser.models_]
    keep = [names.index(n) for n in reuser.selected_models_]
    classes = getattr(reuser, "classes_", None)
    outs = Parallel(n_jobs=reuser.n_jobs)(
        delayed(_output)(reuser.models_[j][1], X, classes) for j in keep
    )
    return np.mean(outs, axis=0)


def predict_proba_labelled(reuser, X):
    """Class probabilities over ``reuser.classes_``."""
    if reuser.method == "ensemble_pruning":
        return _selected_mean(reuser, X)
    head = reuser.head_
    proba = np.zeros((X.shape[0], len(reuser.classes_)))
    cols = np.searchsorted(reuser.classes_, head.classes_)
    proba[:, cols] = head.predict_proba(np.hstack([X, *_outputs(reuser, X)]))
    return proba


def predict_labelled(reuser, X):
    """Predicted classes or values."""
    if reuser.task_ == "classification":
        return reuser.classes_[np.argmax(predict_proba_labelled(reuser, X), axis=1)]
    if reuser.method == "ensemble_pruning":
        out = _selected_mean(reuser, X)
    else:
        out = reuser.head_.predict(np.hstack([X, *_outputs(reuser, X)]))
        out = np.asarray(out).reshape(X.shape[0], -1)
    return out[:, 0] if out.shape[1] == 1 else out
