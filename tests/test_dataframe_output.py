"""pandas in notebooks: DataFrames reach the candidates, and transformers speak set_output."""

import warnings

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from test_logme_selector import _ranking_logme

from skreuse.selection import LogMESelector
from skreuse.utils import all_estimators
from skreuse.utils._test_common.instance_generator import _tested_estimators

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    X = X.assign(colour=np.where(X["hue"] > X["hue"].median(), "dark", "light"))
    source, target = slice(0, 100), slice(100, None)
    by_name = ColumnTransformer(
        [
            ("num", StandardScaler(), ["alcohol", "proline", "flavanoids"]),
            ("cat", OneHotEncoder(), ["colour"]),
        ]
    ).fit(X[source])
    numeric = X.columns.drop("colour")
    fitted_on_frame = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), list(numeric))]), LogisticRegression()
    ).fit(X[source], y[source])
    by_columns = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), list(numeric))]), PCA(3)
    ).fit(X[source])
    candidates = [("by_name", by_name), ("frame_lr", fitted_on_frame), ("pca", by_columns)]
    return X[target], y[target], candidates


def _output(model, X):
    return model.transform(X) if hasattr(model, "transform") else model.predict_proba(X)


def test_dataframe_reaches_candidates_with_its_column_names(wine):
    X, y, candidates = wine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        selector = LogMESelector(candidates, top_k=3).fit(X, y)
        transformed = selector.transform(X)
    np.testing.assert_array_equal(selector.feature_names_in_, X.columns)
    models = dict(candidates)
    for name, model in candidates:
        out = _output(model, X)
        assert selector.scores_[name] == pytest.approx(_ranking_logme(out, y)[0], rel=1e-9)
    expected = np.hstack(
        [
            models[n].transform(X)
            if hasattr(models[n], "transform")
            else models[n].predict_proba(X)
            for n in selector.selected_
        ]
    )
    np.testing.assert_allclose(transformed, expected)
    assert selector.score(X, y) > 0.8


def test_get_feature_names_out_prefixes_candidate_names(wine):
    X, y, candidates = wine
    selector = LogMESelector(candidates, top_k=3).fit(X, y)
    names = selector.get_feature_names_out()
    assert len(names) == selector.transform(X).shape[1]
    by_name = [n for n in names if n.startswith("by_name__")]
    assert by_name == [f"by_name__{n}" for n in dict(candidates)["by_name"].get_feature_names_out()]
    # A classifier has no feature names of its own: numbered columns.
    assert [n for n in names if n.startswith("frame_lr__")] == [
        f"frame_lr__x{j}" for j in range(len(dict(candidates)["frame_lr"].classes_))
    ]
    with pytest.raises(ValueError, match="input_features"):
        selector.get_feature_names_out(["a", "b"])


def test_set_output_pandas_through_a_pipeline(wine):
    X, y, candidates = wine
    pipe = make_pipeline(LogMESelector(candidates, top_k=2), StandardScaler())
    default = clone(pipe).fit_transform(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = pipe.set_output(transform="pandas").fit_transform(X, y)
        again = pipe.transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(pipe[0].get_feature_names_out())
    assert frame.index.equals(X.index)
    np.testing.assert_allclose(frame.to_numpy(), default)
    pd.testing.assert_frame_equal(again, frame)


def test_global_pandas_output_gives_a_frame_without_warnings(wine):
    X, y, _ = wine
    with config_context(transform_output="pandas"):
        # Candidates fitted under the same configuration, as in a notebook that sets it first.
        numeric = X.columns.drop("colour")
        scaler = ColumnTransformer([("num", StandardScaler(), list(numeric))]).fit(X)
        pca = PCA(4).fit(scaler.transform(X))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            selector = LogMESelector([("pca", make_pipeline(scaler, pca)), ("scaler", scaler)])
            out = selector.fit(X, y).transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(selector.get_feature_names_out())


@pytest.mark.parametrize(
    "estimator",
    [est for est in _tested_estimators() if hasattr(est, "transform")],
    ids=lambda est: type(est).__name__,
)
def test_every_transformer_has_feature_names_and_set_output(estimator):
    transformers = {cls for _, cls in all_estimators(type_filter="transformer")}
    assert type(estimator) in transformers
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + 0.3 * rng.normal(size=60) > 0).astype(int)
    est = clone(estimator).set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = est.fit(X, y).transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    np.testing.assert_allclose(out.to_numpy(), clone(estimator).fit(X, y).transform(X))


def test_library_zoo_under_global_pandas_output_without_warnings():
    from skreuse.datasets import make_model_zoo

    zoo = make_model_zoo("wine", random_state=0)  # built before the configuration changes
    with config_context(transform_output="pandas"), warnings.catch_warnings():
        warnings.simplefilter("error")
        selector = LogMESelector(zoo.models, top_k=2).fit(zoo.X_target, zoo.y_target)
        out = selector.transform(zoo.X_target)
        for _, model in zoo.models:
            _output(model, zoo.X_target)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(selector.get_feature_names_out())
