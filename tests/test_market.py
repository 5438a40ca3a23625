"""ModelMarket: persistence, search against brute force, reuse, concurrency, crash safety."""

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skreuse.market import ModelMarket
from skreuse.specification import RKMEReuser, RKMESpecification
from skreuse.transferability import logme_score

pytest.importorskip("skops")
pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parent.parent
CENTERS = np.array([[-4.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, -4.0, 2.0]])


def _region(i, n=120, seed=0):
    rng = np.random.RandomState(seed + 10 * i)
    X = rng.normal(size=(n, 3)) + CENTERS[i]
    return X, (X[:, 2] > CENTERS[i, 2]).astype(int)


@pytest.fixture
def market(tmp_path):
    m = ModelMarket(tmp_path / "market", n_reduced=15, random_state=0)
    for i in range(4):
        X, y = _region(i)
        m.add(f"clf{i}", LogisticRegression().fit(X, y), X, tags=["clf", f"r{i}"])
    X, _ = _region(1)
    m.add("reg1", LinearRegression().fit(X, X[:, 0]), X, description="a regressor")
    yield m
    m.close()


def _n_files(m):
    return len(list((m.path / "models").glob("*.skops"))), len(
        list((m.path / "specs").glob("*.json"))
    )


def test_catalog_metadata(market):
    cat = market.catalog()
    assert list(cat.columns) == [
        "name", "task", "n_features", "feature_names", "classes", "tags", "description", "added",
    ]  # fmt: skip
    assert cat["name"].tolist() == ["clf0", "clf1", "clf2", "clf3", "reg1"]
    assert cat["task"].tolist() == ["classification"] * 4 + ["regression"]
    assert cat.loc[0, "classes"] == [0, 1]
    assert cat.loc[4, "classes"] is None
    assert cat.loc[4, "description"] == "a regressor"
    assert cat.loc[1, "tags"] == ["clf", "r1"]
    assert pd.Timestamp(cat.loc[0, "added"]).tzinfo is not None
    assert len(market) == 5
    assert "clf2" in market
    assert _n_files(market) == (5, 5)
    # The index holds one kernel width, fixed by the first add.
    X0, _ = _region(0)
    assert market.gamma_ == pytest.approx(1 / (3 * X0.var()))


def test_search_equals_brute_force_mmd_for_every_entry(market):
    X, _ = _region(2, seed=5)
    res = market.search(X, k=len(market))
    query = RKMESpecification(15, gamma=market.gamma_, random_state=0).fit(X)
    for name, mmd2 in zip(res["name"], res["mmd2"]):
        spec = market.specification(name)
        assert spec.gamma_ == market.gamma_
        assert mmd2 == pytest.approx(query.mmd(spec), rel=1e-9, abs=1e-12)
    assert res["name"].iloc[0] == "clf2"
    assert res["mmd2"].is_monotonic_increasing


def test_mixture_weights_equal_the_dense_qp_over_the_k_closest(market):
    X = np.vstack([_region(0, seed=7)[0], _region(2, seed=7)[0]])
    res = market.search(X, k=3, task="classification")
    names = res["name"].tolist()
    query = RKMESpecification(15, gamma=market.gamma_, random_state=0).fit(X)
    specs = [market.specification(n) for n in names]
    G = np.array(
        [[s.weights_ @ t.transform(s.reduced_points_) @ t.weights_ for t in specs] for s in specs]
    )
    c = np.array([query.weights_ @ s.transform(query.reduced_points_) @ s.weights_ for s in specs])
    res_qp = minimize(
        lambda w: w @ G @ w - 2 * c @ w, np.full(3, 1 / 3), method="SLSQP",
        bounds=[(0, 1)] * 3, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        options={"ftol": 1e-15},
    )  # fmt: skip
    w = res["weight"].to_numpy()
    assert w.sum() == pytest.approx(1.0)
    assert w @ G @ w - 2 * c @ w <= res_qp.fun + 1e-9
    assert set(names[:2]) == {"clf0", "clf2"}
    assert min(w[:2]) > 0.3


def test_persistence_close_reopen_same_search(market, tmp_path):
    X, _ = _region(3, seed=3)
    before = market.search(X, k=4)
    market.close()
    with pytest.raises(ValueError, match="closed"):
        market.search(X)
    reopened = ModelMarket(tmp_path / "market", n_reduced=15, random_state=0)
    pd.testing.assert_frame_equal(reopened.search(X, k=4), before)
    X1, y1 = _region(1)
    np.testing.assert_array_equal(
        reopened.load("clf1").predict(X1), LogisticRegression().fit(X1, y1).predict(X1)
    )
    reopened.close()


def test_tags_and_task_filter_first(market):
    X, _ = _region(1)
    res = market.search(X, k=5, tags=["r0"])
    assert res["name"].tolist() == ["clf0"]
    res = market.search(X, k=5, task="regression")
    assert res["name"].tolist() == ["reg1"]
    with pytest.raises(ValueError, match="tags"):
        market.search(X, tags=["nope"])


def test_labels_rerank_by_logme(market):
    X, y = _region(1, seed=9)
    res = market.search(X, y, k=3, task="classification")
    assert res["logme"].is_monotonic_decreasing
    for name, value in zip(res["name"], res["logme"]):
        features = market.load(name).predict_proba(X)
        assert value == pytest.approx(logme_score(features, y), rel=1e-10)
    closest = market.search(X, k=3, task="classification")["name"].tolist()
    assert set(res["name"]) == set(closest)


def test_reuser_pipeline_grid_search_pickle(market):
    X, y = _region(2, seed=11)
    reuser = market.reuser(X, k=2, method="best", task="classification")
    assert isinstance(reuser, RKMEReuser)
    assert reuser.best_ == "clf2"
    np.testing.assert_array_equal(reuser.predict(X), market.load("clf2").predict(X))
    restored = pickle.loads(pickle.dumps(reuser))
    np.testing.assert_array_equal(restored.predict_proba(X), reuser.predict_proba(X))
    pipe = make_pipeline(StandardScaler(with_mean=False, with_std=False), reuser).fit(X)
    np.testing.assert_array_equal(pipe.predict(X), reuser.predict(X))
    grid = GridSearchCV(reuser, {"method": ["best", "average"]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.8
    assert reuser.score(X, y) > 0.8


def test_heterogeneous_columns(tmp_path):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.normal(size=(150, 4)), columns=["a", "b", "c", "d"])
    y = (frame["a"] + frame["c"] > 0).astype(int)
    m = ModelMarket(tmp_path / "m", n_reduced=10, random_state=0)
    m.add("ac", LogisticRegression().fit(frame[["c", "a"]], y), frame[["c", "a"]])
    m.add("ab", LogisticRegression().fit(frame[["a", "b"]], y), frame[["a", "b"]])
    m.add(
        "ae",
        LogisticRegression().fit(frame[["a"]].assign(e=1.0 * y), y),
        frame[["a"]].assign(e=1.0 * y),
    )
    user = frame[["d", "a", "c"]].iloc[:80]
    res = m.search(user, k=5)
    assert res["name"].tolist()[:1] == ["ac"]
    assert res.set_index("name").loc["ac", "columns"] == ["c", "a"]
    skipped = res[res["reason"].notna()]
    assert set(skipped["name"]) == {"ab", "ae"}
    assert "['b']" in skipped.set_index("name").loc["ab", "reason"]
    assert skipped["mmd2"].isna().all()
    # The MMD is the one on the model's own columns, in the model's order.
    query = RKMESpecification(10, gamma=m.gamma_, random_state=0).fit(user[["c", "a"]])
    assert res["mmd2"].iloc[0] == pytest.approx(query.mmd(m.specification("ac")), rel=1e-9)
    reuser = m.reuser(user, k=1, method="best")
    np.testing.assert_array_equal(reuser.predict(user), m.load("ac").predict(user[["c", "a"]]))
    assert list(reuser.feature_names_in_) == ["d", "a", "c"]
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(reuser)).predict(user), reuser.predict(user)
    )
    with pytest.raises(ValueError, match="No model of the market can read X"):
        m.reuser(frame[["d"]])
    m.close()


def test_kernel_is_fixed_for_the_market(market, tmp_path):
    X, y = _region(0)
    spec = RKMESpecification(15, gamma=0.123, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"gamma=0\.123.*uses gamma="):
        market.add("other", LogisticRegression().fit(X, y), X, spec=spec)
    good = RKMESpecification(15, gamma=market.gamma_, random_state=0).fit(X)
    market.add("given", LogisticRegression().fit(X, y), None, spec=good)
    np.testing.assert_array_equal(
        market.specification("given").reduced_points_, good.reduced_points_
    )
    with pytest.raises(ValueError, match="uses gamma="):
        ModelMarket(tmp_path / "market", gamma=0.5)
    assert _n_files(market) == (6, 6)


def test_foreign_and_tampered_files_are_refused(market, tmp_path):
    conn = sqlite3.connect(market.path / "index.sqlite")
    file_id = conn.execute("SELECT file_id FROM models WHERE name='clf0'").fetchone()[0]
    conn.close()
    model_file = market.path / "models" / f"{file_id}.skops"
    # A pickle (which would run code) put in place of the model.
    model_file.write_bytes(pickle.dumps(LogisticRegression()))
    with pytest.raises(ValueError, match="modified after it was added"):
        market.load("clf0")
    spec_file = market.path / "specs" / f"{file_id}.json"
    spec_file.write_text(spec_file.read_text().replace('"n_iter_": ', '"n_iter_":  '))
    with pytest.raises(ValueError, match="spec file of 'clf0'.*modified"):
        market.specification("clf0")
    spec_file.unlink()
    with pytest.raises(ValueError, match="missing"):
        market.specification("clf0")
    # The other models are untouched.
    assert market.load("clf1").predict(_region(1)[0]).shape == (120,)


def test_not_a_market(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="is not a ModelMarket"):
        ModelMarket(tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        ModelMarket(tmp_path / "notes.txt")
    other = tmp_path / "db"
    other.mkdir()
    sqlite3.connect(other / "index.sqlite").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ValueError, match="not a ModelMarket index"):
        ModelMarket(other)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "index.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a ModelMarket index"):
        ModelMarket(garbage)


def test_bad_input_is_refused_and_nothing_is_half_written(market):
    X, y = _region(0)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    fitted, small = LogisticRegression().fit(X, y), LogisticRegression().fit(X[:, :2], y)
    bad = [
        (lambda: market.load("nope"), ValueError, "No model named 'nope'"),
        (lambda: market.remove("nope"), ValueError, "No model named 'nope'"),
        (lambda: market.add("clf0", LogisticRegression().fit(X, y), X), ValueError, "already"),
        (lambda: market.add("x", small, X), ValueError, "takes 2 features but X has 3"),
        (lambda: market.add("x", LogisticRegression(), X), NotFittedError, "not fitted"),
        (lambda: market.add("x", fitted, X_nan), ValueError, "NaN"),
        (lambda: market.add("x", "model", X), TypeError, "fitted classifier or regressor"),
        (lambda: market.add("x", LogisticRegression().fit(X, y), X, tags="clf"), TypeError, "tags"),
        (lambda: market.add("x", LogisticRegression().fit(X, y), None), ValueError, "X is needed"),
        (lambda: market.add("x", FunctionTransformer(os.system).fit(X), X), TypeError, "fitted"),
        (lambda: market.search(X_nan), ValueError, "NaN"),
        (lambda: market.search(X, y[:5]), ValueError, "one label per row"),
        (lambda: market.search(X, k=0), ValueError, "k must be"),
    ]  # fmt: skip
    for call, exc, match in bad:
        with pytest.raises(exc, match=match):
            call()
        assert len(market) == 5
        assert _n_files(market) == (5, 5)
    assert not list(market.path.rglob("*.tmp"))


def test_empty_market_search(tmp_path):
    m = ModelMarket(tmp_path / "empty")
    with pytest.raises(ValueError, match="empty"):
        m.search(np.ones((5, 2)) * np.arange(5)[:, None])
    m.close()


def test_read_only_market(market, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode)
    )
    X, y = _region(0)
    with pytest.raises(PermissionError, match="read-only"):
        market.add("x", LogisticRegression().fit(X, y), X)
    with pytest.raises(PermissionError, match="read-only"):
        market.remove("clf0")
    assert len(market) == 5
    # Reading still works, from a fresh (immutable) connection too.
    ro = ModelMarket(market.path, n_reduced=15, random_state=0)
    assert ro.search(X, k=1)["name"].tolist() == ["clf0"]
    ro.close()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_directory_for_real(market):
    market.path.chmod(0o555)
    try:
        X, y = _region(0)
        with pytest.raises(PermissionError, match="read-only"):
            market.add("x", LogisticRegression().fit(X, y), X)
    finally:
        market.path.chmod(0o755)


def test_remove(market):
    market.remove("clf0")
    assert "clf0" not in market
    assert len(market) == 4
    assert _n_files(market) == (4, 4)
    X, _ = _region(0)
    assert "clf0" not in market.search(X, k=5)["name"].tolist()


def test_torch_models_are_refused(market):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="fitted classifier or regressor|torch"):
        market.add("net", torch.nn.Linear(3, 2), _region(0)[0])
    assert len(market) == 5


_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from skreuse.market import ModelMarket

    path, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    market = ModelMarket(path, n_reduced=5, random_state=0)
    rng = np.random.RandomState(abs(hash(prefix)) % 1000)
    i = 0
    while count < 0 or i < count:
        X = rng.normal(size=(30, 3)) + rng.normal(size=3)
        market.add(f"{prefix}{i}", LogisticRegression().fit(X, X[:, 0] > X[:, 0].mean()), X)
        if i % 10 == 0:
            market.search(X, k=3)
        i += 1
    market.close()
    """
)


def _spawn(path, prefix, count):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), prefix, str(count)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _count(path):
    conn = sqlite3.connect(path / "index.sqlite", timeout=60)
    try:
        return conn.execute("SELECT COUNT(*) FROM models").fetchone()[0]
    finally:
        conn.close()


def _assert_consistent(path):
    m = ModelMarket(path)
    names = m.catalog()["name"].tolist()
    for name in names:
        assert m.load(name).predict(np.zeros((1, 3))).shape == (1,)
        m.specification(name)
    m.close()
    return names


@pytest.mark.slow
def test_two_processes_adding_50_models_each(tmp_path):
    path = tmp_path / "shared"
    ModelMarket(path).close()
    procs = [_spawn(path, p, 50) for p in ("a", "b")]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()
    names = _assert_consistent(path)
    assert len(names) == 100
    assert {n[0] for n in names} == {"a", "b"}
    assert len(list((path / "models").glob("*.skops"))) == 100


@pytest.mark.slow
def test_writer_killed_half_way_loses_nothing(tmp_path):
    path = tmp_path / "crash"
    m = ModelMarket(path, n_reduced=5, random_state=0)
    rng = np.random.RandomState(0)
    for i in range(5):
        X = rng.normal(size=(30, 3))
        m.add(f"before{i}", LogisticRegression().fit(X, X[:, 0] > 0), X)
    m.close()
    grew, after = 0, _assert_consistent(path)
    for round_, delay in enumerate((0.0, 0.07, 0.15)):
        before = after
        proc = _spawn(path, f"k{round_}_", -1)
        # Wait until the writer is adding (two models in), then kill it at some point of
        # an add: fitting the spec, writing a file, or inside the index transaction.
        deadline = time.time() + 120
        while _count(path) < len(before) + 2 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = _assert_consistent(path)
        assert set(before) <= set(after)
        grew += len(after) > len(before)
    assert grew == 3
    assert {f"before{i}" for i in range(5)} <= set(after)


def test_kernel_fixed_by_another_process_meanwhile(tmp_path, monkeypatch):
    """The first add fits under its own 'scale' width; if another writer fixed the kernel
    meanwhile, the spec is refitted under the stored width inside the transaction."""
    from skreuse.market import _market

    path = tmp_path / "race"
    m = ModelMarket(path, n_reduced=10, random_state=0)
    X, y = _region(0)
    real = _market.ModelMarket._spec_for

    def racing(self, X_fit, given, gamma, name):
        spec = real(self, X_fit, given, gamma, name)
        if gamma is None:
            other = sqlite3.connect(path / "index.sqlite")
            other.execute("INSERT INTO meta VALUES ('gamma', '0.25')")
            other.commit()
            other.close()
        return spec

    monkeypatch.setattr(_market.ModelMarket, "_spec_for", racing)
    m.add("first", LogisticRegression().fit(X, y), X)
    assert m.gamma_ == 0.25
    assert m.specification("first").gamma_ == 0.25
    m.close()


def test_market_pickles_and_reopens(market):
    copy = pickle.loads(pickle.dumps(market))
    X, _ = _region(1)
    pd.testing.assert_frame_equal(copy.search(X, k=3), market.search(X, k=3))
    copy.close()


def test_reuser_with_labels_uses_the_labelled_methods(market):
    # A user whose rows span two regions with different label rules: no single model
    # fits both; a head on the models' outputs (feature augmentation) can.
    X2, y2 = _region(2, seed=21)
    X3, y3 = _region(3, seed=21)
    X, y = np.vstack([X2, X3]), np.concatenate([y2, y3])
    singles = {f"clf{i}": market.load(f"clf{i}").score(X, y) for i in range(4)}
    pruned = market.reuser(X, y, k=4, method="ensemble_pruning", task="classification")
    assert pruned.method == "ensemble_pruning"
    assert set(pruned.selected_models_) <= set(singles)
    # greedy forward selection starts from the best single model and only adds what helps
    assert pruned.score(X, y) >= max(singles.values())
    augmented = market.reuser(X, y, k=4, method="feature_augment", task="classification")
    assert augmented.score(X, y) >= max(singles.values()) + 0.1
    with pytest.raises(ValueError, match="needs y"):
        market.reuser(X, k=4, method="feature_augment", task="classification")
