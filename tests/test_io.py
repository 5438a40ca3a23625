"""skreuse.io: skops persistence that trusts numpy, scipy, scikit-learn and skreuse only."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from test_common import _data_for, _outputs

from skreuse.io import dump, load
from skreuse.utils._test_common.instance_generator import _fit_params, _tested_estimators

pytest.importorskip("skops")

ESTIMATORS = list(_tested_estimators())


def _round_trip(obj):
    buffer = io.BytesIO()
    dump(obj, buffer)
    return load(io.BytesIO(buffer.getvalue()))


@pytest.mark.parametrize(
    "estimator", ESTIMATORS, ids=[f"{type(e).__name__}-{i}" for i, e in enumerate(ESTIMATORS)]
)
def test_every_public_estimator_round_trips_with_identical_outputs(estimator):
    est = clone(estimator)
    X, y = _data_for(est)
    est.fit(X, y, **_fit_params(est, X, y))
    loaded = _round_trip(est)
    assert type(loaded) is type(est)
    for a, b in zip(_outputs(est, X), _outputs(loaded, X), strict=True):
        np.testing.assert_array_equal(a, b)


def test_reform_with_dataframe_source_meta(tmp_path):
    pd = pytest.importorskip("pandas")
    from sklearn.datasets import load_wine

    from skreuse.training import ReFormRectifier

    X, y = load_wine(return_X_y=True, as_frame=True)
    source = LogisticRegression(max_iter=5000).fit(X.iloc[:, :8], y)
    X_t = X.iloc[:, 3:]
    meta = X.iloc[:40, :8]
    est = ReFormRectifier(source, source_meta=meta).fit(X_t.iloc[::5], y.iloc[::5])
    dump(est, tmp_path / "reform.skops")
    loaded = load(tmp_path / "reform.skops")
    assert isinstance(loaded.source_meta, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded.source_meta, meta)
    np.testing.assert_array_equal(loaded.predict(X_t), est.predict(X_t))
    # The user's estimator still holds its DataFrame (dump converts a copy).
    assert est.source_meta is meta


def test_dataframes_and_series_anywhere_come_back():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "c": [1, 2]}, index=pd.Index([10, 20]))
    series = pd.Series([0.5, 1.5], name="s")
    obj = {"frame": frame, "items": [series, (frame, 3)]}
    loaded = _round_trip(obj)
    pd.testing.assert_frame_equal(loaded["frame"], frame)
    pd.testing.assert_series_equal(loaded["items"][0], series)
    pd.testing.assert_frame_equal(loaded["items"][1][0], frame)


def test_foreign_functions_are_refused_at_dump_and_at_load(tmp_path):
    import skops.io as sio

    bad = FunctionTransformer(os.system)
    with pytest.raises(TypeError, match="posix.system|nt.system"):
        dump(bad, tmp_path / "bad.skops")
    assert not (tmp_path / "bad.skops").exists()
    # A file written by skops itself (not by skreuse.io) naming os.system: refused.
    (tmp_path / "foreign.skops").write_bytes(sio.dumps(bad))
    with pytest.raises(ValueError, match=r"does not trust.*system"):
        load(tmp_path / "foreign.skops")


def test_tampered_file_naming_another_type_is_refused(tmp_path):
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        np.random.RandomState(0).normal(size=(30, 3)), np.arange(30) % 2
    )
    path = tmp_path / "model.skops"
    dump(model, path)
    # Rewrite the schema so that the scaler's type points to the os module.
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files["schema.json"] = (
        files["schema.json"]
        .replace(b'"__module__": "sklearn.preprocessing._data"', b'"__module__": "os"')
        .replace(b'"StandardScaler"', b'"system"')
    )
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in files.items():
            zf.writestr(n, data)
    with pytest.raises(ValueError, match=r"does not trust.*os\.system"):
        load(path)


@pytest.mark.parametrize(
    "content", [b"", b"not a zip file", pickle.dumps(LogisticRegression()), b"PK\x03\x04junk"]
)
def test_foreign_or_corrupted_files_are_refused(tmp_path, content):
    path = tmp_path / "x.skops"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a skreuse.io"):
        load(path)


def test_torch_modules_are_refused_with_a_clear_message(tmp_path):
    torch = pytest.importorskip("torch")
    from skreuse.selection import LogMESelector

    selector = LogMESelector([("net", torch.nn.Linear(3, 2))])
    with pytest.raises(TypeError, match=r"torch object at obj\.candidates\[0\]\[1\].*TorchScript"):
        dump(selector, tmp_path / "sel.skops")
    assert list(tmp_path.iterdir()) == []


def test_dump_to_path_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.skops"
    dump(LogisticRegression(C=2.0), path)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        dump(LogisticRegression(C=5.0), path)
    assert load(path).C == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["m.skops"]
