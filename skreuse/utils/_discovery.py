"""Discovery of skreuse's public estimators, displays and functions.

Walks the package the way scikit-learn's ``all_estimators`` does; ``skreuse.deep``
(which needs torch) is skipped — its skorch nets are tested on their own.
"""

import inspect
import pkgutil
from importlib import import_module
from operator import itemgetter
from pathlib import Path

from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClusterMixin,
    RegressorMixin,
    TransformerMixin,
)

_SKIP = ("tests", "deep", "_test_common")


def _walk(package="skreuse"):
    root = str(Path(__file__).parent.parent)
    for _, module_name, _ in pkgutil.walk_packages(path=[root], prefix=f"{package}."):
        parts = module_name.split(".")
        if any(p in _SKIP for p in parts):
            continue
        yield import_module(module_name)


def _public_classes():
    seen = {}
    for module in _walk():
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if name.startswith("_") or not cls.__module__.startswith("skreuse"):
                continue
            seen[name] = cls
    return seen


def all_estimators(type_filter=None):
    """List skreuse's public estimators as ``(name, class)`` pairs, sorted by name.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster"}, list or None
        Keep only estimators of these kinds.

    Returns
    -------
    estimators : list of tuple
    """
    estimators = [
        (name, cls)
        for name, cls in _public_classes().items()
        if issubclass(cls, BaseEstimator) and not inspect.isabstract(cls)
    ]
    if type_filter is not None:
        kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter)
        mixins = {
            "classifier": ClassifierMixin,
            "regressor": RegressorMixin,
            "transformer": TransformerMixin,
            "cluster": ClusterMixin,
        }
        unknown = set(kinds) - set(mixins)
        if unknown:
            raise ValueError(f"type_filter must be among {sorted(mixins)}, got {sorted(unknown)}.")
        estimators = [(n, c) for n, c in estimators if any(issubclass(c, mixins[k]) for k in kinds)]
    # Aliases (e.g. TwiceLearningTree) point to the same class: one entry per class.
    unique = {cls.__name__: cls for _, cls in estimators}
    return sorted(unique.items(), key=itemgetter(0))


def all_displays():
    """List skreuse's public Display classes as ``(name, class)`` pairs."""
    return sorted(
        ((n, c) for n, c in _public_classes().items() if n.endswith("Display")),
        key=itemgetter(0),
    )


def all_functions():
    """List skreuse's public functions as ``(name, function)`` pairs.

    A function is public when a public module (no ``_`` in its dotted path) lists it
    in ``__all__``; helpers living in private modules are not.
    """
    funcs = {}
    for module in _walk():
        if any(part.startswith("_") for part in module.__name__.split(".")):
            continue
        if module.__name__.startswith("skreuse.utils"):
            continue
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if inspect.isfunction(obj) and obj.__module__.startswith("skreuse"):
                funcs[name] = obj
    return sorted(funcs.items(), key=itemgetter(0))
