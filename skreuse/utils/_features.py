"""Turn a pre-trained model of any supported kind into features or probabilities.

Supported kinds (checked in this order): a ``torch.nn.Module`` (run in eval mode,
without gradients, in batches on ``device``), a skorch net, a fitted scikit-learn
estimator (``transform``, ``predict_proba``, ``decision_function`` or ``predict``)
and a plain callable ``X -> features``.
"""

import copy
from numbers import Integral

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError

from ._backend import get_torch_device, to_numpy
from ._optional import import_optional, is_skorch_net, is_torch_module, is_torch_tensor
from ._sklearn_compat import check_is_fitted

__all__ = ["check_candidates", "check_model_fitted", "extract_features", "model_kind"]


def model_kind(model):
    """Name the kind of a candidate model.

    Returns
    -------
    kind : {"torch", "skorch", "transformer", "classifier", "estimator", "callable"}
    """
    if is_torch_module(model):
        return "torch"
    if is_skorch_net(model):
        return "skorch"
    if hasattr(model, "fit"):
        if hasattr(model, "transform"):
            return "transformer"
        if is_classifier(model) or hasattr(model, "predict_proba"):
            return "classifier"
        if hasattr(model, "predict") or hasattr(model, "decision_function"):
            return "estimator"
    if callable(model):
        return "callable"
    raise TypeError(
        f"Unsupported model of type {type(model).__name__}: expected a fitted scikit-learn "
        "transformer or classifier, a torch.nn.Module, a skorch net or a callable X -> features."
    )


def check_candidates(candidates, *, param="candidates", min_length=1):
    """Validate a list of ``(name, model)`` pairs like ``Pipeline.steps``.

    Returns
    -------
    candidates : list of tuple
        The validated pairs (the models themselves are not copied).
    """
    if isinstance(candidates, dict):
        candidates = list(candidates.items())
    if not isinstance(candidates, list | tuple):
        raise TypeError(
            f"{param} must be a list of (name, model) tuples, got {type(candidates).__name__}."
        )
    if len(candidates) < min_length:
        raise ValueError(f"{param} must contain at least {min_length} (name, model) pair(s).")
    names = []
    for i, item in enumerate(candidates):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise TypeError(f"{param}[{i}] must be a (name, model) tuple, got {item!r:.80}.")
        name, model = item
        if not isinstance(name, str):
            raise TypeError(f"{param}[{i}]: the name must be a str, got {type(name).__name__}.")
        model_kind(model)
        names.append(name)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"{param} names must be unique; duplicated: {duplicated}.")
    return [tuple(item) for item in candidates]


def check_model_fitted(model, name="model"):
    """Raise ``NotFittedError`` naming ``name`` when ``model`` is not ready to be used."""
    kind = model_kind(model)
    if kind == "skorch":
        if not getattr(model, "initialized_", False):
            raise NotFittedError(
                f"{name!r} is a skorch net that is not initialized; call its fit or "
                "initialize() before handing it to skreuse."
            )
    elif kind in ("transformer", "classifier", "estimator"):
        try:
            check_is_fitted(model)
        except NotFittedError as exc:
            raise NotFittedError(
                f"{name!r} ({type(model).__name__}) is not fitted: skreuse reuses pre-trained "
                "models, fit it first."
            ) from exc


def _module_device_dtype(module):
    for p in module.parameters():
        return p.device, p.dtype
    return None, None


def _run_torch_module(module, X, *, batch_size, device):
    torch = import_optional("torch")
    target = get_torch_device(device, X)
    mod_device, mod_dtype = _module_device_dtype(module)
    if mod_device is not None and mod_device != target:
        # Moving a module is in place: move a copy, the user's model stays where it is.
        module = copy.deepcopy(module).to(target)
    dtype = mod_dtype or torch.float32
    X_t = X.to(device=target, dtype=dtype) if is_torch_tensor(X) else None
    was_training = module.training
    module.eval()
    try:
        outs = []
        with torch.inference_mode():
            n = X.shape[0]
            for start in range(0, n, batch_size):
                if X_t is not None:
                    batch = X_t[start : start + batch_size]
                else:
                    batch = torch.as_tensor(
                        np.asarray(X[start : start + batch_size]), dtype=dtype, device=target
                    )
                out = module(batch)
                outs.append(out.reshape(out.shape[0], -1))
        return torch.cat(outs) if outs else torch.empty((0, 0), device=target)
    finally:
        module.train(was_training)


def extract_features(model, X, *, output="features", batch_size=256, device="cpu", name="model"):
    """Features (or class probabilities) of ``X`` computed by a pre-trained ``model``.

    Parameters
    ----------
    model : estimator, torch.nn.Module, skorch net or callable
        The pre-trained model; it is not modified (a torch module is put back in
        its own training mode and is copied before a device move).
    X : array-like of shape (n_samples, n_features) or torch.Tensor
        Input rows.
    output : {"features", "proba"}, default="features"
        ``"features"``: ``transform`` for transformers, otherwise the model's output
        (``predict_proba``, ``decision_function`` or ``predict`` in that order).
        ``"proba"``: class probabilities (``predict_proba``, or the softmax of a torch
        module's / skorch net's outputs).
    batch_size : int, default=256
        Rows per forward pass of a torch module.
    device : str or torch.device, default="cpu"
        Where a torch module runs.
    name : str, default="model"
        Used in error messages.

    Returns
    -------
    features : ndarray of shape (n_samples, n_outputs)
        Always a 2-D numpy array.
    """
    if output not in ("features", "proba"):
        raise ValueError(f"output must be 'features' or 'proba', got {output!r}.")
    if not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    kind = model_kind(model)
    check_model_fitted(model, name)
    if kind == "torch":
        out = _run_torch_module(model, X, batch_size=batch_size, device=device)
        if output == "proba":
            out = out.softmax(dim=1)
        out = to_numpy(out)
    elif kind == "skorch":
        Xn = to_numpy(X) if is_torch_tensor(X) else X
        if output == "proba" and hasattr(model, "predict_proba"):
            out = model.predict_proba(Xn)
        else:
            out = to_numpy(model.forward(Xn, training=False))
            if output == "proba":
                out = _softmax(out)
    elif kind == "callable":
        out = to_numpy(model(X))
    else:
        Xn = to_numpy(X) if is_torch_tensor(X) else X
        if output == "proba":
            if not hasattr(model, "predict_proba"):
                raise TypeError(
                    f"{name!r} ({type(model).__name__}) has no predict_proba; class "
                    "probabilities are needed here (e.g. by LEEP)."
                )
            out = model.predict_proba(Xn)
        elif kind == "transformer":
            out = model.transform(Xn)
        elif hasattr(model, "predict_proba"):
            out = model.predict_proba(Xn)
        elif hasattr(model, "decision_function"):
            out = model.decision_function(Xn)
        else:
            out = model.predict(Xn)
    if hasattr(out, "toarray"):
        out = out.toarray()
    out = np.asarray(out)
    if out.ndim == 1:
        out = out.reshape(-1, 1)
    elif out.ndim > 2:
        out = out.reshape(out.shape[0], -1)
    if not np.issubdtype(out.dtype, np.number):
        raise TypeError(f"{name!r} returned non-numeric output of dtype {out.dtype}.")
    return out


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def iter_feature_batches(model, X, *, chunk_size=4096, name="model", **kwargs):
    """Features of ``X`` computed chunk by chunk: yields ``(start, stop, features)``.

    Each chunk of ``chunk_size`` rows, ``X[start:stop]``, goes through
    :func:`extract_features` (which runs a torch module in batches of its own
    ``batch_size`` inside the chunk), so only one chunk's features are in memory at a time.

    Parameters
    ----------
    model : estimator, torch.nn.Module, skorch net or callable
        The pre-trained model, as for :func:`extract_features`.
    X : array-like of shape (n_samples, ...) or torch.Tensor
        Input rows; anything that has ``shape`` and slices by rows. An iterator or
        generator (which can be consumed only once) is refused.
    chunk_size : int, default=4096
        Rows per call to :func:`extract_features`.
    name : str, default="model"
        Used in error messages.
    **kwargs : dict
        Passed on to :func:`extract_features` (``output``, ``batch_size``, ``device``, ...).

    Yields
    ------
    start, stop : int
        The rows ``X[start:stop]`` of this chunk.
    features : ndarray of shape (stop - start, n_outputs)
        Their features; every chunk has the same number of columns (else ``ValueError``).
    """
    if not isinstance(chunk_size, Integral) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}.")
    if not (hasattr(X, "shape") and hasattr(X, "__getitem__")):
        raise TypeError(
            f"X must be an array-like with rows (numpy array, tensor, ...), got "
            f"{type(X).__name__}; an iterator can be read only once: make it a list or array."
        )
    n = X.shape[0]
    if n == 0:
        raise ValueError(f"X has no rows: there is nothing to compute features of with {name!r}.")
    if model_kind(model) == "torch":
        # Move (a copy of) the module once, not once per chunk.
        target = get_torch_device(kwargs.get("device", "cpu"), X)
        mod_device, _ = _module_device_dtype(model)
        if mod_device is not None and mod_device != target:
            model = copy.deepcopy(model).to(target)
    width = None
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        # A DataFrame is sliced by position (``[]`` on it would select by label).
        rows = X.iloc[start:stop] if hasattr(X, "iloc") else X[start:stop]
        out = extract_features(model, rows, name=name, **kwargs)
        if out.shape[0] != stop - start:
            raise ValueError(
                f"{name!r} returned {out.shape[0]} rows of features for the {stop - start} "
                f"input rows {start}:{stop}; it must return one row per input row."
            )
        if width is None:
            width = out.shape[1]
        elif out.shape[1] != width:
            raise ValueError(
                f"{name!r} changed its output width between batches: {width} features for "
                f"the rows before {start}, {out.shape[1]} for rows {start}:{stop}."
            )
        yield start, stop, out
