"""Displays from fitted meta-estimators, the HMR progress total and the HMR plot's label."""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreuse.datasets import make_hmr_toy
from skreuse.multiparty import HMRCalibrator
from skreuse.selection import LogMESelector

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from skreuse.plotting import CalibrationHistoryDisplay, TransferabilityDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    candidates = [(f"pca{k}", PCA(k, random_state=0).fit(X[:800])) for k in (2, 8, 20)]
    return X[800:1200], y[800:1200], candidates


def _bar_values(display):
    return {
        label.get_text(): bar.get_width()
        for label, bar in zip(display.ax_.get_yticklabels(), display.bars_)
    }


def test_transferability_display_from_grid_search_and_pipeline(digits):
    X, y, candidates = digits
    grid = GridSearchCV(LogMESelector(candidates), {"top_k": [1, 2]}, cv=2).fit(X, y)
    display = TransferabilityDisplay.from_estimator(grid)
    assert _bar_values(display) == pytest.approx(grid.best_estimator_.scores_)
    pipe = make_pipeline(StandardScaler(), LogMESelector(candidates))
    pipe.fit(X / 16.0, y)
    display = TransferabilityDisplay.from_estimator(pipe)
    assert _bar_values(display) == pytest.approx(pipe[-1].scores_)
    # A search over a pipeline: both layers are unwrapped.
    grid = GridSearchCV(pipe, {"logmeselector__top_k": [1, 2]}, cv=2).fit(X / 16.0, y)
    display = TransferabilityDisplay.from_estimator(grid)
    assert _bar_values(display) == pytest.approx(grid.best_estimator_[-1].scores_)


def test_transferability_display_errors_say_what_is_wrong(digits):
    X, y, candidates = digits
    with pytest.raises(NotFittedError, match="GridSearchCV is not fitted"):
        TransferabilityDisplay.from_estimator(GridSearchCV(LogMESelector(candidates), {}))
    with pytest.raises(NotFittedError, match="LogMESelector is not fitted"):
        TransferabilityDisplay.from_estimator(LogMESelector(candidates))
    no_refit = GridSearchCV(LogMESelector(candidates), {"top_k": [1, 2]}, cv=2, refit=False)
    with pytest.raises(TypeError, match="refit=False"):
        TransferabilityDisplay.from_estimator(no_refit.fit(X, y))
    other = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with pytest.raises(TypeError, match="Expected a fitted LogMESelector"):
        TransferabilityDisplay.from_estimator(other)


@pytest.fixture(scope="module")
def hmr_toy():
    return make_hmr_toy(n_train=300, n_test=10, random_state=0)


def _hmr(toy, **params):
    from sklearn.tree import DecisionTreeClassifier

    return HMRCalibrator(
        [(f"p{k}", DecisionTreeClassifier(max_depth=2, random_state=0)) for k in range(3)],
        random_state=0,
        **params,
    )


def test_calibration_display_from_grid_search_and_pipeline(hmr_toy):
    toy = hmr_toy
    with config_context(enable_metadata_routing=True):
        pipe = make_pipeline(StandardScaler(), _hmr(toy, budget=5).set_fit_request(groups=True))
        pipe.fit(toy.X_train, toy.y_train, groups=toy.groups)
        grid = GridSearchCV(
            _hmr(toy).set_fit_request(groups=True),
            {"budget": [2, 4]},
            cv=StratifiedKFold(2, shuffle=True, random_state=0),
        )
        grid.fit(toy.X_train, toy.y_train, groups=toy.groups)
    display = CalibrationHistoryDisplay.from_estimator(pipe)
    np.testing.assert_array_equal(display.line_.get_ydata(), pipe[-1].history_)
    np.testing.assert_array_equal(display.line_.get_xdata(), pipe[-1].history_n_communicated_)
    assert display.ax_.get_ylabel() == "Training accuracy of the global model"
    display = CalibrationHistoryDisplay.from_estimator(grid)
    np.testing.assert_array_equal(display.line_.get_ydata(), grid.best_estimator_.history_)
    with pytest.raises(NotFittedError, match="HMRCalibrator"):
        CalibrationHistoryDisplay.from_estimator(_hmr(toy))


def test_hmr_progress_total_is_the_budget(hmr_toy, monkeypatch):
    import skreuse.multiparty._hmr as hmr_module
    import skreuse.utils._progress as progress_module

    bars = []
    real = progress_module.progress_bar

    def spy(**kwargs):
        bar = real(**kwargs)
        bars.append(bar)
        return bar

    monkeypatch.setattr(hmr_module, "progress_bar", spy)
    toy = hmr_toy
    hmr = _hmr(toy, budget=7, verbose=1, max_iter=1000)
    hmr.fit(toy.X_train, toy.y_train, groups=toy.groups)
    (bar,) = bars
    assert bar.total == 7
    assert bar.n == hmr.n_communicated_
    assert hmr.n_communicated_ == 7
    # Warm start continues from what was communicated; the bar starts there too.
    bars.clear()
    hmr.set_params(warm_start=True, budget=10)
    hmr.fit(toy.X_train, toy.y_train, groups=toy.groups)
    (bar,) = bars
    assert bar.total == 10
    assert bar.n == hmr.n_communicated_ == 10
