"""What the displays share: finding the fitted estimator inside a meta-estimator."""

from sklearn.exceptions import NotFittedError

from ..utils._sklearn_compat import check_is_fitted


def _inner_estimators(estimator):
    """The estimators a meta-estimator wraps, the most likely holder of the attribute first."""
    best = getattr(estimator, "best_estimator_", None)  # GridSearchCV and friends
    if best is not None:
        yield best
    steps = getattr(estimator, "steps", None)  # Pipeline: the last step first
    if isinstance(steps, list):
        for step in reversed(steps):
            if isinstance(step, tuple) and len(step) >= 2:
                yield step[1]
    for attr in ("estimator_", "regressor_", "classifier_"):  # e.g. TransformedTargetRegressor
        inner = getattr(estimator, attr, None)
        if inner is not None:
            yield inner


def _find_fitted(estimator, attr, expected):
    """The fitted estimator holding ``attr``: ``estimator`` itself or one it wraps.

    A Pipeline, a fitted search (``best_estimator_``) or any meta-estimator with a
    fitted ``estimator_`` is searched, depth first. ``expected`` names the estimator
    class in the error messages.
    """
    seen = set()
    stack = [estimator]
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if hasattr(current, attr):
            return current
        stack[:0] = list(_inner_estimators(current))
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise NotFittedError(
            f"This {type(estimator).__name__} is not fitted: fit it before plotting "
            f"(a fitted {expected}, or a meta-estimator wrapping one, is needed)."
        ) from exc
    except TypeError:
        pass  # not an estimator at all: the message below says what is expected
    hint = ""
    if hasattr(estimator, "cv_results_") and not hasattr(estimator, "best_estimator_"):
        hint = " A search fitted with refit=False keeps no fitted estimator; use refit=True."
    raise TypeError(
        f"Expected a fitted {expected} or a meta-estimator wrapping one (Pipeline, "
        f"GridSearchCV, ...); found no {attr!r} in {type(estimator).__name__}.{hint}"
    )
