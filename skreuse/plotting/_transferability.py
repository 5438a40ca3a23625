"""Bar chart of the transferability scores of candidate pre-trained models."""

import numpy as np

from ..transferability import get_scorer
from ..utils._optional import import_optional
from ._base import _find_fitted

__all__ = ["TransferabilityDisplay"]


class TransferabilityDisplay:
    """Horizontal bar chart of candidates' transferability scores, the best highlighted.

    Create it with :meth:`from_estimator` from a fitted
    :class:`~skreuse.selection.LogMESelector`, or directly from a dict of scores.
    matplotlib is imported only when plotting.

    Parameters
    ----------
    scores : dict of str to float
        Score of each candidate (higher is better).
    selected : list of str, default=None
        Candidates drawn highlighted; ``None`` highlights the best one.
    metric_name : str, default="score"
        Label of the score axis.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the chart.
    figure_ : matplotlib Figure
        Figure containing the chart.
    bars_ : matplotlib BarContainer
        The bars, best candidate on top.

    See Also
    --------
    skreuse.selection.LogMESelector : Ranks candidates; its ``scores_`` are drawn here.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skreuse.plotting import TransferabilityDisplay
    >>> display = TransferabilityDisplay({"resnet": -0.8, "vit": -0.5, "mlp": -1.1}).plot()
    >>> [t.get_text() for t in display.ax_.get_yticklabels()]
    ['mlp', 'resnet', 'vit']
    """

    def __init__(self, scores, *, selected=None, metric_name="score"):
        self.scores = scores
        self.selected = selected
        self.metric_name = metric_name

    def plot(self, ax=None):
        """Draw the chart.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        display : TransferabilityDisplay
            Object that stores the matplotlib artists.
        """
        plt = import_optional("matplotlib.pyplot", purpose="to plot transferability scores")
        if not self.scores:
            raise ValueError("scores is empty: there is nothing to plot.")
        names = list(self.scores)
        values = np.array([self.scores[n] for n in names], dtype=float)
        # Worst first, so that barh draws the best candidate at the top.
        order = np.argsort(np.where(np.isfinite(values), values, -np.inf), kind="stable")
        names = [names[i] for i in order]
        values = values[order]
        selected = set(self.selected) if self.selected is not None else {names[-1]}
        colors = ["tab:orange" if n in selected else "tab:gray" for n in names]
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, max(2.0, 0.4 * len(names) + 1.0)))
        self.bars_ = ax.barh(names, values, color=colors)
        ax.set_xlabel(self.metric_name)
        ax.set_title("Transferability of candidate models (best highlighted)")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, selector, ax=None):
        """Chart the scores of a fitted :class:`~skreuse.selection.LogMESelector`.

        Parameters
        ----------
        selector : LogMESelector or meta-estimator
            A fitted selector, or a fitted meta-estimator wrapping one (a
            :class:`~sklearn.pipeline.Pipeline`, a fitted
            :class:`~sklearn.model_selection.GridSearchCV`, ...); its ``selected_``
            candidates are highlighted.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        display : TransferabilityDisplay
            Object that stores the matplotlib artists.
        """
        selector = _find_fitted(selector, "scores_", "LogMESelector")
        metric = selector.metric
        # Registered scores carry their display label; a callable is named by itself.
        label = get_scorer(metric).label if isinstance(metric, str) else "score"
        # Worst first: ties of scores_ (broken in ranking_) are then drawn in ranking order.
        scores = {name: selector.scores_[name] for name in reversed(selector.ranking_)}
        display = cls(scores, selected=selector.selected_, metric_name=label)
        return display.plot(ax=ax)
