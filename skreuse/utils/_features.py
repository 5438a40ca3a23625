"""Turn a pre-trained model of any supported kind into features or probabilities.

Supported kinds (checked in this order): a ``torch.nn.Module`` (run in eval mode,
without gradients, in batches on ``device``), a skorch net, a fitted scikit-learn
estimator (``transform``, ``predict_proba``, ``decision_function`` or ``predict``)
and a plain callable ``X -> features``.
"""

import contextlib
import copy
import sys
from numbers import Integral

import numpy as np
from scipy.special import softmax
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


def check_candidates(
    candidates, *, param="candidates", min_length=1, fields=("name", "model"), check_kind=True
):
    """Validate a list of ``(name, model)`` pairs like ``Pipeline.steps``.

    The one check of named model lists: ``fields`` names longer tuples (e.g.
    ``("name", "fitted_model", "RKMESpecification")``), whose first field is the name;
    ``check_kind`` also checks that the second field is a supported model.

    Returns
    -------
    candidates : list of tuple
        The validated tuples (the models themselves are not copied).
    """
    what = f"({', '.join(fields)})"
    if isinstance(candidates, dict) and len(fields) == 2:
        candidates = list(candidates.items())
    if not isinstance(candidates, list | tuple):
        raise TypeError(
            f"{param} must be a list of {what} tuples, got {type(candidates).__name__}."
        )
    if len(candidates) < min_length:
        raise ValueError(
            f"{param} must be a non-empty list of {what} tuples (at least {min_length})."
        )
    names = []
    for i, item in enumerate(candidates):
        if not isinstance(item, list | tuple) or len(item) != len(fields):
            raise TypeError(f"{param}[{i}] must be a {what} tuple, got {item!r:.80}.")
        name = item[0]
        if not isinstance(name, str):
            raise TypeError(f"{param}[{i}]: the name must be a str, got {type(name).__name__}.")
        if check_kind:
            model_kind(item[1])
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


class _LayerReached(Exception):
    """Raised by the feature hook to stop the forward pass once the layer has run."""


def _find_layer(module, layer, name):
    """The submodule called ``layer`` (as in ``named_modules()``), or a ValueError."""
    modules = dict(module.named_modules())
    if not isinstance(layer, str) or layer not in modules or layer == "":
        valid = [n for n in modules if n]
        shown = ", ".join(repr(n) for n in valid[:60])
        more = f", ... ({len(valid)} in all)" if len(valid) > 60 else ""
        raise ValueError(
            f"layer={layer!r} is not a submodule of {name!r}; valid names (as in "
            f"model.named_modules()): {shown or 'none'}{more}."
        )
    return modules[layer]


def _torch_batches(X, batch_size):
    """Batches of inputs: slices of an array or tensor, or the ``x`` of what a torch
    ``DataLoader`` (or a ``Dataset``, batched here in order) yields as ``x`` or ``(x, y)``."""
    torch = import_optional("torch")
    data = torch.utils.data
    if isinstance(X, data.Dataset) and not isinstance(X, data.IterableDataset):
        X = data.DataLoader(X, batch_size=batch_size, shuffle=False)
    if isinstance(X, data.DataLoader | data.IterableDataset):
        for batch in X:
            yield batch[0] if isinstance(batch, tuple | list) else batch
        return
    for start in range(0, X.shape[0], batch_size):
        yield X[start : start + batch_size]


def _as_input(batch, dtype, device):
    torch = import_optional("torch")
    if is_torch_tensor(batch):
        return batch.to(device=device, dtype=dtype)
    batch = np.asarray(batch)
    if not batch.flags.writeable:
        # torch warns about (and would share) read-only buffers, e.g. np.memmap(mode="r")
        batch = batch.copy()
    return torch.as_tensor(batch, dtype=dtype, device=device)


def _main_output(out, output_key, name):
    """The tensor in a module's output: the first element of a tuple or list, the
    ``output_key`` entry of a dict or ``ModelOutput`` (default ``"logits"``); half
    precision is cast to float32."""
    torch = import_optional("torch")
    if isinstance(out, dict):
        key = "logits" if output_key is None else output_key
        if key not in out:
            raise ValueError(
                f"{name!r} returned a dict-like output with keys {list(out)}; "
                + (
                    "pass output_key= to choose one."
                    if output_key is None
                    else f"output_key={output_key!r} is not one of them."
                )
            )
        out = out[key]
    elif isinstance(out, tuple | list):
        if not out:
            raise ValueError(f"{name!r} returned an empty {type(out).__name__}.")
        out = out[0]
    if not is_torch_tensor(out):
        raise TypeError(f"{name!r} returned {type(out).__name__}, not a tensor.")
    if out.dtype in (torch.float16, torch.bfloat16):
        out = out.float()
    return out.detach()


def _autocast_context(autocast, device):
    torch = import_optional("torch")
    if autocast is None:
        return contextlib.nullcontext()
    dtype = getattr(torch, autocast, None) if isinstance(autocast, str) else autocast
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(
            f"autocast must be None, 'float16', 'bfloat16' or the torch dtype, got {autocast!r}."
        )
    return torch.autocast(device_type=device.type, dtype=dtype)


def _run_torch_module(
    module, X, *, batch_size, device, layer=None, output_key=None, autocast=None, name="model"
):
    torch = import_optional("torch")
    target = get_torch_device(device, X)
    mod_device, mod_dtype = _module_device_dtype(module)
    if mod_device is not None and mod_device != target:
        # Moving a module is in place: move a copy, the user's model stays where it is.
        module = copy.deepcopy(module).to(target)
    dtype = mod_dtype or torch.float32
    _autocast_context(autocast, target)  # a bad value fails before any work
    captured = []
    handle = None
    if layer is not None:
        submodule = _find_layer(module, layer, name)

        def hook(mod, inputs, output):
            captured.append(output)
            # the rest of the forward pass is not needed
            raise _LayerReached

        handle = submodule.register_forward_hook(hook)
    was_training = module.training
    module.eval()
    try:
        outs = []
        with torch.inference_mode():
            for batch in _torch_batches(X, batch_size):
                batch = _as_input(batch, dtype, target)
                captured.clear()
                try:
                    with _autocast_context(autocast, target):
                        out = module(batch)
                except _LayerReached:
                    out = captured[0]
                else:
                    if layer is not None:
                        raise ValueError(
                            f"layer={layer!r} of {name!r} was never reached in the forward "
                            "pass: the model does not call it (is it defined but unused?)."
                        )
                out = _main_output(out, output_key, name)
                outs.append(out.reshape(out.shape[0], -1))
        return torch.cat(outs) if outs else torch.empty((0, 0), device=target)
    finally:
        if handle is not None:
            handle.remove()
        module.train(was_training)


def extract_features(
    model,
    X,
    *,
    output="features",
    batch_size=256,
    device="cpu",
    name="model",
    layer=None,
    output_key=None,
    autocast=None,
):
    """Features (or class probabilities) of ``X`` computed by a pre-trained ``model``.

    Parameters
    ----------
    model : estimator, torch.nn.Module, skorch net or callable
        The pre-trained model; it is not modified (a torch module is put back in
        its own training mode and is copied before a device move; a hook placed for
        ``layer`` is removed, also on error).
    X : array-like of shape (n_samples, ...), torch.Tensor, torch Dataset or DataLoader
        Input rows. A torch module or skorch net also takes a ``torch.utils.data``
        ``Dataset`` (batched here, in order) or ``DataLoader`` whose items are ``x`` or
        ``(x, y)`` (``y`` is ignored; a ``DataLoader`` keeps its own batch size), and
        read-only arrays such as ``np.memmap``.
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
    layer : str, default=None
        Torch modules and skorch nets: name of the submodule (as in
        ``model.named_modules()``, e.g. ``"features.3"`` or ``"avgpool"``) whose output
        is returned, taken by a forward hook; the forward pass stops there. None: the
        model's output.
    output_key : str, default=None
        When the module (or ``layer``) returns a dict or a Hugging Face ``ModelOutput``,
        the entry to use; None uses ``"logits"``. Tuples and lists give their first
        element.
    autocast : {None, "float16", "bfloat16"} or torch.dtype, default=None
        Run the forward pass under ``torch.autocast`` in this precision (mixed
        precision). Half-precision outputs are always returned as float32.

    Returns
    -------
    features : ndarray of shape (n_samples, n_outputs)
        Always a 2-D numpy array (feature maps are flattened).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skreuse.utils import extract_features
    >>> net = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ... )
    >>> X = np.random.RandomState(0).rand(5, 4)
    >>> extract_features(net, X).shape
    (5, 3)
    >>> extract_features(net, X, layer="1").shape  # penultimate features
    (5, 8)
    """
    if output not in ("features", "proba"):
        raise ValueError(f"output must be 'features' or 'proba', got {output!r}.")
    if not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    kind = model_kind(model)
    check_model_fitted(model, name)
    torch_options = {"layer": layer, "output_key": output_key, "autocast": autocast}
    if kind not in ("torch", "skorch") and any(v is not None for v in torch_options.values()):
        used = [k for k, v in torch_options.items() if v is not None]
        raise ValueError(
            f"{', '.join(used)} need(s) a torch module or skorch net; {name!r} is a "
            f"{type(model).__name__}."
        )
    if kind in ("transformer", "classifier", "estimator") and _is_torch_data(X):
        raise TypeError(
            f"{name!r} is a {type(model).__name__}: a torch Dataset or DataLoader input "
            "needs a torch module or skorch net; pass an array instead."
        )
    if kind == "skorch" and (
        layer is not None or autocast is not None or output_key is not None or _is_torch_data(X)
    ):
        # the same hooks, loaders and precision as a bare module, on the net's module
        model, kind = model.module_, "torch"
    if kind == "torch":
        out = _run_torch_module(
            model, X, batch_size=batch_size, device=device, name=name, **torch_options
        )
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
                out = softmax(out, axis=1)
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


def _is_torch_data(X):
    """Whether ``X`` is a torch ``Dataset`` or ``DataLoader`` (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(
        X, torch.utils.data.Dataset | torch.utils.data.DataLoader
    )


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


def _is_sequential(X):
    """Whether a torch Dataset or DataLoader gives its rows in the dataset's order (a
    ``Dataset`` is batched here in order; a ``DataLoader`` must use a ``SequentialSampler``,
    or read an ``IterableDataset``, whose order is its own)."""
    data = sys.modules["torch"].utils.data
    if not isinstance(X, data.DataLoader) or isinstance(X.dataset, data.IterableDataset):
        return True
    sampler = getattr(X.batch_sampler, "sampler", X.sampler)
    return isinstance(sampler, data.SequentialSampler)


def check_loader_input(model, X, *, name="model", param="X", ordered=False):
    """Refuse a torch Dataset/DataLoader ``X`` that ``model`` cannot take, or (``ordered``)
    whose rows come in an order that nothing can match (``shuffle=True``)."""
    kind = model_kind(model)
    if kind not in ("torch", "skorch", "callable"):
        raise TypeError(
            f"{param} is a torch {type(X).__name__}, which {name!r} (a {type(model).__name__}) "
            "cannot take: only torch modules, skorch nets and callables read a torch Dataset "
            "or DataLoader; pass an array instead."
        )
    if ordered and not _is_sequential(X):
        raise ValueError(
            f"{param} is a DataLoader that does not give its rows in order (shuffle=True or "
            "a random sampler): its rows cannot be matched to labels passed separately or "
            "to the outputs; use shuffle=False (order is irrelevant to feature extraction)."
        )


def loader_features(model, X, *, y=None, name="model", param="X", **kwargs):
    """Features of every row of a torch Dataset or DataLoader ``X``, with their labels.

    One pass of ``model`` over ``X`` (see :func:`extract_features`, which gets
    ``**kwargs``); its features are materialized, ``n x D``. When ``y`` is None and the
    items are ``(x, y)``, the labels are collected in the same pass, so they match the rows
    whatever the order (a shuffling ``DataLoader`` included); a callable reads ``X`` itself,
    so its labels come from a second pass over ``X``, which must then be in order. A given
    ``y`` needs ``X`` in order and is checked to have one entry per row.

    Returns
    -------
    features : ndarray of shape (n_samples, n_outputs)
    y : ndarray or None
        ``y`` as given, else the labels of the pass (None when the items have none).
    """
    torch = import_optional("torch")
    data = torch.utils.data
    check_loader_input(model, X, name=name, param=param, ordered=y is not None)
    labels = []

    def items(source):
        for batch in source:
            if isinstance(batch, tuple | list):
                if len(batch) > 1:
                    labels.append(to_numpy(batch[1]))
                yield batch[0]
            else:
                yield batch

    source = X
    if isinstance(X, data.Dataset) and not isinstance(X, data.IterableDataset):
        source = data.DataLoader(X, batch_size=kwargs.get("batch_size", 256), shuffle=False)
    if model_kind(model) == "callable":
        F = extract_features(model, X, name=name, **kwargs)
        if y is None:
            check_loader_input(model, X, name=name, param=param, ordered=True)
            for _ in items(source):
                pass
    else:

        class _Inputs(data.IterableDataset):
            # The inputs of each batch; the labels are kept on the way.
            def __iter__(self):
                return items(source)

        F = extract_features(model, _Inputs(), name=name, **kwargs)
    if y is None:
        y = np.concatenate([np.asarray(b) for b in labels]) if labels else None
    else:
        y = np.asarray(y)
    if y is not None and len(y) != F.shape[0]:
        raise ValueError(
            f"y has {len(y)} entries but {param} gave {F.shape[0]} rows of features of {name!r}."
        )
    return F, y
