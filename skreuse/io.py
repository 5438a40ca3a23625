"""Safe persistence of skreuse estimators: skops files whose loading runs no code.

:mod:`pickle` runs whatever a file tells it to, so a shared model file is a program. The
`skops <https://skops.readthedocs.io>`_ format stores an object as a tree of plain
states (JSON and ``.npy`` arrays in a zip) and rebuilds it from a list of types the
loader names as trusted. :func:`load` trusts numpy, scipy, scikit-learn and skreuse
types only and refuses a file naming any other type, before building anything.

skops is imported when :func:`dump` or :func:`load` is called, so ``import skreuse``
stays light; without it they raise an ``ImportError`` naming the extra to install.
"""

import copy
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .utils._optional import import_optional, is_skorch_net, is_torch_module, is_torch_tensor

__all__ = ["dump", "load"]

# Top-level modules whose types (classes and functions) a loaded file may name.
TRUSTED_MODULES = ("numpy", "scipy", "sklearn", "skreuse")


class _FrameState:
    """A pandas DataFrame or Series as plain arrays (skops cannot store pandas objects).

    Each column keeps its own numpy dtype; the index is stored as an array. pandas
    extension dtypes (categorical, nullable integers) come back as numpy arrays.
    """

    def __init__(self, obj, pd):
        self.kind = "series" if isinstance(obj, pd.Series) else "frame"
        if self.kind == "series":
            self.name = obj.name
            self.columns = []
            self.values = [obj.to_numpy()]
        else:
            self.name = None
            self.columns = list(obj.columns)
            self.values = [obj.iloc[:, j].to_numpy() for j in range(obj.shape[1])]
        self.index = np.asarray(obj.index)

    def restore(self):
        pd = import_optional("pandas")
        index = pd.Index(self.index)
        if self.kind == "series":
            return pd.Series(self.values[0], index=index, name=self.name)
        frame = pd.DataFrame(dict(enumerate(self.values)), index=index)
        frame.columns = pd.Index(self.columns)
        return frame


def _is_pandas(obj):
    pd = _pandas_if_loaded()
    return pd is not None and isinstance(obj, pd.DataFrame | pd.Series)


def _pandas_if_loaded():
    # A pandas object can only exist if pandas was imported: no import needed to check.
    return sys.modules.get("pandas")


def _owned_by_us(obj):
    """Objects whose attributes are walked: scikit-learn's and skreuse's (estimators,
    trees' wrappers, skreuse helpers); anything else is left to skops as it is."""
    module = type(obj).__module__ or ""
    return module.split(".")[0] in ("sklearn", "skreuse") and hasattr(obj, "__dict__")


def _convert(obj, leaf, memo, path):
    """Copy of ``obj`` with ``leaf(x)`` applied to every leaf it handles (copy on change).

    ``leaf`` returns a replacement or ``None`` to descend. Containers and sklearn/skreuse
    objects are copied only when something inside them changed, so the caller's object
    is never modified.
    """
    key = id(obj)
    if key in memo:
        return memo[key]
    replaced = leaf(obj, path)
    if replaced is not None:
        memo[key] = replaced
        return replaced
    if isinstance(obj, list | tuple) and type(obj) in (list, tuple):
        items = [_convert(x, leaf, memo, f"{path}[{i}]") for i, x in enumerate(obj)]
        out = obj if all(a is b for a, b in zip(items, obj)) else type(obj)(items)
    elif type(obj) is dict:
        items = {k: _convert(v, leaf, memo, f"{path}[{k!r}]") for k, v in obj.items()}
        out = obj if all(items[k] is obj[k] for k in obj) else items
    elif _owned_by_us(obj):
        memo[key] = obj  # cycles (an estimator referring back to itself) end here
        attrs = {k: _convert(v, leaf, memo, f"{path}.{k}") for k, v in list(vars(obj).items())}
        changed = {k: v for k, v in attrs.items() if v is not vars(obj)[k]}
        if changed:
            out = copy.copy(obj)
            vars(out).update(changed)
        else:
            out = obj
    else:
        out = obj
    memo[key] = out
    return out


def _to_storable(obj, path, pd):
    if _is_pandas(obj):
        return _FrameState(obj, pd)
    if is_torch_module(obj) or is_torch_tensor(obj) or is_skorch_net(obj):
        raise TypeError(
            f"skreuse.io cannot store the torch object at {path} ({type(obj).__name__}): "
            "a torch module can only be rebuilt by running its code, which this format "
            "refuses by design. Save torch models with torch.jit.save (TorchScript) or "
            "their state_dict instead."
        )
    return None


def _from_storable(obj, path):
    return obj.restore() if isinstance(obj, _FrameState) else None


def _untrusted(types):
    return sorted(t for t in types if t.split(".")[0] not in TRUSTED_MODULES)


def dump(obj, file):
    """Save an estimator (or any object made of numpy, scipy, scikit-learn and skreuse
    objects) in the skops format.

    pandas DataFrames and Series held by the object (e.g. the ``source_meta`` of
    :class:`~skreuse.training.ReFormRectifier`) are stored as plain arrays and come back
    as DataFrames. A path is written atomically (a temporary file in the same directory,
    then renamed), so a crash never leaves a half-written file under ``file``.

    Parameters
    ----------
    obj : object
        The object to save; it is not modified.

    file : str, path-like or binary file object
        Where to write.

    Returns
    -------
    None
        The object is written to ``file``.

    Raises
    ------
    TypeError
        If ``obj`` holds a torch module, tensor or skorch net (refused: rebuilding one
        runs its code), or a type :func:`load` would not trust; the message names them.

    See Also
    --------
    load : Read a file written by :func:`dump`, running no code from it.

    Notes
    -----
    The file is checked before it is written: every type it names must be one
    :func:`load` trusts, so nothing is saved that could not be read back.

    References
    ----------
    .. [1] skops developers, "Secure persistence with skops",
       https://skops.readthedocs.io/en/stable/persistence.html

    Examples
    --------
    >>> import io
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreuse.io import dump, load
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=500).fit(X, y)
    >>> buffer = io.BytesIO()
    >>> dump(model, buffer)
    >>> _ = buffer.seek(0)
    >>> (load(buffer).predict(X) == model.predict(X)).all()
    np.True_
    """
    sio = import_optional("skops.io", purpose="by skreuse.io")
    pd = _pandas_if_loaded()
    storable = _convert(obj, lambda x, p: _to_storable(x, p, pd), {}, "obj")
    try:
        data = sio.dumps(storable)
    except Exception as exc:
        raise TypeError(
            f"skreuse.io cannot store {type(obj).__name__}: skops failed with "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    untrusted = _untrusted(sio.get_untrusted_types(data=data))
    if untrusted:
        raise TypeError(
            f"skreuse.io refuses to store {type(obj).__name__}: it holds types that "
            f"skreuse.io.load would not trust (only {', '.join(TRUSTED_MODULES)} are): "
            f"{untrusted}."
        )
    if hasattr(file, "write"):
        file.write(data)
        return
    _atomic_write(Path(file), data)


def _atomic_write(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(file):
    """Load an object saved by :func:`dump`, trusting numpy, scipy, scikit-learn and
    skreuse types only.

    The file's list of types is read first; a file naming any other type (a function
    of :mod:`os`, a class of another package) is refused before anything is built,
    and nothing in the file is executed.

    Parameters
    ----------
    file : str, path-like or binary file object
        The file to read.

    Returns
    -------
    obj : object
        The loaded object, with its pandas DataFrames restored.

    Raises
    ------
    ValueError
        If the file is not a skops file (foreign or corrupted), or names types outside
        numpy, scipy, scikit-learn and skreuse (the message lists them).

    See Also
    --------
    dump : Save an object in the format read here.

    References
    ----------
    .. [1] skops developers, "Secure persistence with skops",
       https://skops.readthedocs.io/en/stable/persistence.html

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from skreuse.io import dump, load
    >>> from skreuse.specification import RKMESpecification
    >>> X = np.random.RandomState(0).normal(size=(60, 2))
    >>> spec = RKMESpecification(n_reduced=5, random_state=0).fit(X)
    >>> buffer = io.BytesIO()
    >>> dump(spec, buffer)
    >>> loaded = load(io.BytesIO(buffer.getvalue()))
    >>> bool(np.array_equal(loaded.reduced_points_, spec.reduced_points_))
    True
    """
    sio = import_optional("skops.io", purpose="by skreuse.io")
    if hasattr(file, "read"):
        data, where = file.read(), "the file object"
    else:
        data, where = Path(file).read_bytes(), str(file)
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"file must be opened in binary mode, got {type(data).__name__} data.")
    try:
        types = sio.get_untrusted_types(data=bytes(data))
    except Exception as exc:
        raise ValueError(
            f"{where} is not a skreuse.io (skops) file or is corrupted: {type(exc).__name__}: {exc}"
        ) from exc
    untrusted = _untrusted(types)
    if untrusted:
        raise ValueError(
            f"{where} names types that skreuse.io does not trust (only "
            f"{', '.join(TRUSTED_MODULES)} are): {untrusted}. It was not loaded."
        )
    try:
        obj = sio.loads(bytes(data), trusted=types)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{where} could not be read as a skreuse.io (skops) file: {type(exc).__name__}: {exc}"
        ) from exc
    return _convert(obj, _from_storable, {}, "obj")
