"""The one import site for scikit-learn's private validation helpers.

scikit-learn moves its private helpers between releases; importing them here
and nowhere else keeps a future change to a single edit.
"""

from sklearn.base import _fit_context
from sklearn.externals.array_api_compat import array_namespace
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    Options,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    _num_samples,
    check_is_fitted,
    validate_data,
)

__all__ = [
    "_get_check_estimator_ids",
    "HasMethods",
    "Hidden",
    "Interval",
    "LinearClassifierMixin",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_check_feature_names_in",
    "_check_sample_weight",
    "_fit_context",
    "array_namespace",
    "_num_samples",
    "check_is_fitted",
    "validate_data",
    "validate_parameter_constraints",
    "validate_params",
]


def _get_check_estimator_ids(obj):
    """scikit-learn's id of an estimator check (test-only; imported lazily: it is heavy)."""
    from sklearn.utils.estimator_checks import _get_check_estimator_ids as get_ids

    return get_ids(obj)
