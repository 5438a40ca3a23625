"""Parameter descriptions shared by many estimators, written once.

Use ``%(random_state)s`` style markers in a docstring and decorate the class (or
function) with :func:`fill_doc`.
"""

import re

_shared_docs = {
    "random_state": """random_state : int, RandomState instance or None, default=None
        Controls the randomness. Pass an int for reproducible output across
        multiple function calls. See :term:`Glossary <random_state>`.""",
    "n_jobs": """n_jobs : int, default=None
        Number of jobs to run in parallel with joblib. ``None`` means 1 unless in a
        :func:`joblib.parallel_backend` context (Dask and Ray backends work too);
        ``-1`` means all processors.""",
    "verbose": """verbose : int, default=0
        Verbosity; ``verbose > 0`` shows a progress bar.""",
    "device": """device : str or torch.device, default="cpu"
        Where numeric work runs. ``"cpu"`` uses numpy; ``"cuda"``, ``"cuda:1"`` or
        any ``torch.device`` (also ``torch.device("cpu")``) use torch, which needs
        the ``deep`` extra (``pip install "skreuse[deep]"``).""",
    "batch_size": """batch_size : int, default=256
        Rows per batch when a torch module computes features.""",
}

_MARKER = re.compile(r"%\((\w+)\)s")


def fill_doc(obj=None, **extra):
    """Substitute the shared parameter descriptions into ``obj.__doc__``.

    Used bare (``@fill_doc``) or with extra pieces for this object only
    (``@fill_doc(metric_names=...)``); an unknown marker is left as it is.
    """
    if obj is None:
        return lambda target: fill_doc(target, **extra)
    docs = {**_shared_docs, **extra}
    if obj.__doc__:
        obj.__doc__ = _MARKER.sub(lambda m: docs.get(m.group(1), m.group(0)), obj.__doc__)
    return obj
