"""Training accuracy of a multi-party global model against the rows its parties exchanged."""

import numpy as np

from ..utils._optional import import_optional
from ._base import _find_fitted

__all__ = ["CalibrationHistoryDisplay"]

# HMRCalibrator.history_ is measured on the rows it was fitted on, not on held-out data.
_TRAINING_ACCURACY = "Training accuracy of the global model"


class CalibrationHistoryDisplay:
    """Training accuracy of the global model as the parties communicate rows (HMR).

    Create it with :meth:`from_estimator` from a fitted
    :class:`~skreuse.multiparty.HMRCalibrator`, or directly from an accuracy history.
    matplotlib is imported only when plotting.

    Parameters
    ----------
    history : array-like of shape (n_rounds + 1,)
        Accuracy before calibration and after each calibration round (for
        :class:`~skreuse.multiparty.HMRCalibrator`, on the training rows).
    n_communicated : array-like of shape (n_rounds + 1,), default=None
        Rows communicated so far at each entry of ``history``; ``None`` means one
        row per round (``0, 1, 2, ...``).
    name : str, default=None
        Label of the curve in the legend.
    ylabel : str, default="Training accuracy of the global model"
        Label of the accuracy axis; say what ``history`` was measured on.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The accuracy curve.
    ax_ : matplotlib Axes
        Axes with the curve.
    figure_ : matplotlib Figure
        Figure containing the curve.

    See Also
    --------
    skreuse.multiparty.HMRCalibrator : Its ``history_`` and
        ``history_n_communicated_`` are drawn here.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skreuse.plotting import CalibrationHistoryDisplay
    >>> display = CalibrationHistoryDisplay([0.4, 0.7, 0.9, 1.0]).plot()
    >>> display.line_.get_xdata().tolist()
    [0, 1, 2, 3]
    """

    def __init__(self, history, n_communicated=None, *, name=None, ylabel=_TRAINING_ACCURACY):
        self.history = history
        self.n_communicated = n_communicated
        self.name = name
        self.ylabel = ylabel

    def plot(self, ax=None, **kwargs):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        **kwargs : dict
            Passed to ``ax.plot`` (e.g. ``color``, ``marker``).

        Returns
        -------
        display : CalibrationHistoryDisplay
            Object that stores the matplotlib artists.
        """
        plt = import_optional("matplotlib.pyplot", purpose="to plot a calibration history")
        history = np.asarray(self.history, dtype=float)
        if history.ndim != 1 or history.size == 0:
            raise ValueError(f"history must be a non-empty 1-D array, got shape {history.shape}.")
        if self.n_communicated is None:
            x = np.arange(history.size)
        else:
            x = np.asarray(self.n_communicated)
            if x.shape != history.shape:
                raise ValueError(
                    f"n_communicated has shape {x.shape} but history has shape {history.shape}."
                )
        if ax is None:
            _, ax = plt.subplots()
        kwargs.setdefault("marker", ".")
        if self.name is not None:
            kwargs.setdefault("label", self.name)
        (self.line_,) = ax.plot(x, history, **kwargs)
        ax.set_xlabel("Communicated rows")
        ax.set_ylabel(self.ylabel)
        ax.set_title("Multi-party calibration (HMR)")
        if self.name is not None:
            ax.legend(loc="lower right")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, ax=None, *, name=None, **kwargs):
        """Draw the training-accuracy history of a fitted HMRCalibrator.

        Parameters
        ----------
        estimator : HMRCalibrator or meta-estimator
            A fitted calibrator, or a fitted meta-estimator wrapping one (a
            :class:`~sklearn.pipeline.Pipeline`, a fitted
            :class:`~sklearn.model_selection.GridSearchCV`, ...).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        name : str, default=None
            Label of the curve in the legend.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : CalibrationHistoryDisplay
            Object that stores the matplotlib artists.
        """
        estimator = _find_fitted(estimator, "history_", "HMRCalibrator")
        display = cls(estimator.history_, estimator.history_n_communicated_, name=name)
        return display.plot(ax=ax, **kwargs)
