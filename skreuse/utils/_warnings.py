"""Warnings that point at the user's line.

A fixed ``stacklevel`` names the right line for one call path only: the same warning
can be raised a different number of frames below the user's call (``fit`` itself,
or a helper two calls down, under scikit-learn's ``_fit_context`` wrapper), and a
wrong level names a line of scikit-learn, where a user cannot act on it (nor filter it
by module). :func:`warn` names the first frame outside skreuse and scikit-learn
instead, as pandas' ``find_stack_level`` does.
"""

import inspect
import os
import warnings

import sklearn

__all__ = ["warn"]

_INTERNAL = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
    os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep,
)


def _user_stacklevel():
    """``stacklevel`` for a ``warnings.warn`` called by :func:`warn`: that of the first
    frame outside skreuse and scikit-learn (there is one: every stack starts at a script,
    an interpreter, ``runpy`` or ``threading``)."""
    frame = inspect.currentframe().f_back  # warn's frame: stacklevel 1
    level = 1
    try:
        while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INTERNAL):
            frame = frame.f_back
            level += 1
        return level
    finally:
        del frame


def warn(message, category=UserWarning):
    """``warnings.warn(message, category)`` attributed to the user's line (module docstring)."""
    warnings.warn(message, category, stacklevel=_user_stacklevel())
