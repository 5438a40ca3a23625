"""The registry of transferability scores and its use by LogMESelector and the Display."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from test_logme_selector import _ranking_logme

from skreuse import transferability
from skreuse.datasets import make_model_zoo
from skreuse.selection import LogMESelector
from skreuse.transferability import get_score_names, get_scorer


@pytest.fixture(scope="module")
def zoo():
    return make_model_zoo("wine", random_state=0)


def test_every_public_score_is_registered_once():
    # The registry accessors, and LogME from precomputed statistics (not a (features, y)
    # score), are the public functions that are not scores themselves.
    not_scores = ("get_score_names", "get_scorer", "logme_score_from_stats")
    public = {name for name in transferability.__all__ if name not in not_scores}
    registered = {get_scorer(name).func.__name__ for name in get_score_names()}
    assert registered == public
    assert get_score_names() == sorted(get_score_names())
    for name in get_score_names():
        scorer = get_scorer(name)
        assert scorer.func is getattr(transferability, scorer.func.__name__)
        assert scorer.input in ("features", "proba", "labels")
        assert scorer.tasks <= {"classification", "regression"}
        assert scorer.tasks
    assert {"transrate", "gbc", "regularized_hscore"} <= set(get_score_names())


def test_get_scorer_calls_the_function_and_rejects_unknown_names():
    rng = np.random.RandomState(0)
    F, y = rng.normal(size=(40, 3)), rng.randint(0, 2, size=40)
    assert get_scorer("hscore")(F, y) == transferability.hscore(F, y)
    assert get_scorer("logme")(F, y, task="classification") == transferability.logme_score(F, y)
    assert get_scorer("logme").takes_task
    assert not get_scorer("hscore").takes_task
    wrapped = get_scorer(np.mean)
    assert wrapped.input == "features"
    assert wrapped.func is np.mean
    with pytest.raises(ValueError, match="not a registered transferability score"):
        get_scorer("accuracy")
    with pytest.raises(TypeError, match="a str or a callable"):
        get_scorer(3)


def test_selector_constraints_and_docstring_read_the_registry():
    (options, _) = LogMESelector._parameter_constraints["metric"]
    assert options.options == set(get_score_names())
    for name in get_score_names():
        assert f'``"{name}"``' in LogMESelector.__doc__


def _direct_score(scorer, model, X, y):
    """The score computed by hand from the model's own outputs."""
    if scorer.input == "proba":
        return scorer.func(model.predict_proba(X), y)
    if scorer.input == "labels":
        return scorer.func(np.argmax(model.predict_proba(X), axis=1), y)
    out = model.transform(X) if hasattr(model, "transform") else model.predict_proba(X)
    if scorer.name == "logme":  # the selector's ranking LogME of a classification
        return _ranking_logme(out, y)[0]
    return scorer.func(out, y)


@pytest.mark.parametrize("name", get_score_names())
def test_every_registered_score_is_usable_as_metric(zoo, name):
    scorer = get_scorer(name)
    X, y = zoo.X_target, zoo.y_target
    needs_classes = scorer.input != "features"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        selector = LogMESelector(zoo.models, metric=name).fit(X, y)
    models = dict(zoo.models)
    no_proba = [n for n, m in zoo.models if not hasattr(m, "predict_proba")]
    if needs_classes:
        assert sorted(selector.skipped_) == sorted(no_proba)
        assert any("cannot be scored" in str(w.message) for w in caught)
        assert selector.ranking_[-len(no_proba) :] == no_proba
        for n in no_proba:
            assert np.isnan(selector.scores_[n])
            assert "predict_proba" in selector.skipped_[n]
    else:
        assert selector.skipped_ == {}
    for n, score in selector.scores_.items():
        if n in selector.skipped_:
            continue
        assert score == pytest.approx(_direct_score(scorer, models[n], X, y), rel=1e-9)
    best = max((s, n) for n, s in selector.scores_.items() if np.isfinite(s))[1]
    assert selector.selected_ == [best]
    assert 0.0 <= selector.score(X, y) <= 1.0


def test_grid_search_over_every_metric_on_the_zoo_fails_no_fit(zoo):
    grid = GridSearchCV(
        LogMESelector(zoo.models),
        {"metric": get_score_names()},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*cannot be scored.*", category=UserWarning)
        grid.fit(zoo.X_target, zoo.y_target)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_params_["metric"] in get_score_names()


def test_classification_only_metric_on_regression_names_the_alternatives():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 4))
    with pytest.raises(ValueError, match=r"scores classification tasks only.*'logme'"):
        LogMESelector([("id", lambda Z: Z)], metric="transrate").fit(X, X[:, 0])


def test_display_label_comes_from_the_registry(zoo):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from skreuse.plotting import TransferabilityDisplay

    for name in ("gbc", "transrate"):
        selector = LogMESelector(zoo.models, metric=name).fit(zoo.X_target, zoo.y_target)
        display = TransferabilityDisplay.from_estimator(selector)
        assert display.ax_.get_xlabel() == get_scorer(name).label
        matplotlib.pyplot.close(display.figure_)
