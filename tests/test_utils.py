"""Shared utilities: feature extraction from every model kind, candidates, backend, docs."""

import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from skreuse.utils import (
    check_candidates,
    extract_features,
    import_optional,
    model_kind,
    to_numpy,
    uses_torch,
)
from skreuse.utils._docstrings import fill_doc
from skreuse.utils._validation import all_finite


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 4))
    y = (X[:, 0] > 0).astype(int)
    return X, y


def test_extract_features_sklearn_kinds(data):
    X, y = data
    pca = PCA(2).fit(X)
    clf = LogisticRegression().fit(X, y)
    svc = LinearSVC().fit(X, y)
    reg = LinearRegression().fit(X, y)
    np.testing.assert_allclose(extract_features(pca, X), pca.transform(X))
    np.testing.assert_allclose(extract_features(clf, X), clf.predict_proba(X))
    np.testing.assert_allclose(extract_features(clf, X, output="proba"), clf.predict_proba(X))
    np.testing.assert_allclose(extract_features(svc, X), svc.decision_function(X)[:, None])
    np.testing.assert_allclose(extract_features(reg, X), reg.predict(X)[:, None])
    np.testing.assert_allclose(extract_features(np.tanh, X), np.tanh(X))
    assert [model_kind(m) for m in (pca, clf, reg, np.tanh)] == [
        "transformer",
        "classifier",
        "estimator",
        "callable",
    ]
    with pytest.raises(TypeError, match="has no predict_proba"):
        extract_features(svc, X, output="proba")


def test_unfitted_model_is_named(data):
    X, _ = data
    with pytest.raises(NotFittedError, match="'my_pca' .*not fitted"):
        extract_features(PCA(2), X, name="my_pca")


def test_check_candidates_errors():
    with pytest.raises(TypeError, match="list of \\(name, model\\)"):
        check_candidates("pca")
    with pytest.raises(TypeError, match=r"candidates\[0\] must be a \(name, model\)"):
        check_candidates([PCA()])
    with pytest.raises(ValueError, match="unique; duplicated: \\['a'\\]"):
        check_candidates([("a", np.tanh), ("a", np.sin)])
    with pytest.raises(TypeError, match="Unsupported model"):
        check_candidates([("a", 3)])
    with pytest.raises(ValueError, match="at least 1"):
        check_candidates([])
    assert check_candidates({"a": np.tanh}) == [("a", np.tanh)]


def test_torch_module_features_batched_eval_and_untouched(data):
    torch = pytest.importorskip("torch")
    X, _ = data
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.9), torch.nn.Linear(8, 3))
    net.train()
    out = extract_features(net, X, batch_size=7)
    net.eval()
    with torch.no_grad():
        expected = net(torch.as_tensor(X, dtype=torch.float32)).numpy()
    net.train()
    # float32: batches of 7 rows and one batch of 50 may take different matrix kernels, whose
    # rounding differs by a few ulps of the O(1) activations (seen on one machine's CPU).
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    proba = extract_features(net, X, output="proba")
    np.testing.assert_allclose(
        proba, torch.softmax(torch.as_tensor(expected), 1).numpy(), rtol=1e-6, atol=1e-6
    )
    assert net.training
    t_out = extract_features(net, torch.as_tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(t_out, expected, rtol=1e-6)


def test_skorch_net_features(data):
    pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    import torch

    X, y = data
    X = X.astype(np.float32)
    net = skorch.NeuralNetClassifier(
        torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Softmax(dim=-1)),
        max_epochs=2,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    np.testing.assert_allclose(extract_features(net, X, output="proba"), net.predict_proba(X))
    np.testing.assert_allclose(extract_features(net, X), to_numpy(net.forward(X)))
    unfitted = skorch.NeuralNetClassifier(torch.nn.Linear(4, 2))
    with pytest.raises(NotFittedError, match="not initialized"):
        extract_features(unfitted, X, name="net")


def test_uses_torch_rules():
    assert not uses_torch("cpu")
    assert not uses_torch(None)
    assert uses_torch("cuda")
    torch = pytest.importorskip("torch")
    assert uses_torch(torch.device("cpu"))
    assert uses_torch("cpu", torch.zeros(2))


def test_cuda_unavailable_is_a_clear_error(data):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, _ = data
    net = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match="CUDA is not available"):
        extract_features(net, X, device="cuda")


def test_import_optional_names_the_extra():
    with pytest.raises(ImportError, match=r'pip install "skreuse\[all\]"'):
        import_optional("skreuse_not_a_real_module")
    assert import_optional("numpy") is np


def test_fill_doc_substitutes_shared_parameters():
    @fill_doc
    def f():
        """Do.

        Parameters
        ----------
        %(random_state)s
        """

    assert "random_state : int, RandomState instance or None" in f.__doc__
    assert "%(" not in f.__doc__


def test_shared_models_mixin_shares_pretrained_models_only_when_prefit(data):
    from sklearn.base import BaseEstimator, clone

    from skreuse.utils._clone import SharedModelsMixin

    class Reuser(SharedModelsMixin, BaseEstimator):
        _shared_params = ("models",)

        def __init__(self, models, head=None, prefit=True):
            self.models = models
            self.head = head
            self.prefit = prefit

    X, y = data
    fitted = LogisticRegression().fit(X, y)
    head = LogisticRegression(C=3.0)
    est = Reuser([fitted], head=head)
    twin = clone(est)
    assert twin.models[0] is fitted  # still fitted: GridSearchCV can reuse it
    assert twin.models is not est.models
    assert twin.head is not head
    assert twin.head.C == 3.0
    templates = clone(Reuser([fitted], prefit=False))
    assert templates.models[0] is not fitted


def _blas_threads():
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    return {lib["filepath"]: lib["num_threads"] for lib in blas}


def test_one_blas_thread_if_small():
    from threadpoolctl import threadpool_limits

    from skreuse.utils._threads import _SMALL_PRODUCT, one_blas_thread_if_small

    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        if set(before.values()) != {2}:
            pytest.skip(f"the BLAS libraries here cannot be set to 2 threads: {before}")
        with one_blas_thread_if_small(_SMALL_PRODUCT):
            assert set(_blas_threads().values()) == {1}
        assert _blas_threads() == before
        with one_blas_thread_if_small(_SMALL_PRODUCT + 1):
            assert _blas_threads() == before


def test_biased_logistic_solves_small_problems_on_one_blas_thread(monkeypatch):
    # The solver's many small products ran 13x slower with two BLAS thread pools
    # (numpy's and scipy's OpenBLAS) taking turns.
    from threadpoolctl import threadpool_limits

    from skreuse.training import _biased_regularization as br

    seen = []
    loss_grad = br._logistic_loss_grad

    def spy(*args):
        seen.append(set(_blas_threads().values()))
        return loss_grad(*args)

    monkeypatch.setattr(br, "_logistic_loss_grad", spy)
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), np.arange(40) % 3
    with threadpool_limits(limits=2, user_api="blas"):
        if set(_blas_threads().values()) != {2}:
            pytest.skip("the BLAS libraries here cannot be set to 2 threads")
        br.fit_biased_logistic(X, y, 3, np.ones((3, 3)), lam=1.0)
        assert set(_blas_threads().values()) == {2}
    assert seen
    assert all(s == {1} for s in seen)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex128"])
def test_all_finite_agrees_with_the_entrywise_check(dtype, backend):
    """The sum's fast path never changes the answer: sums that overflow from finite
    entries, NaN, either infinity or both (a NaN sum), on numpy and torch alike."""
    big = float(np.finfo(np.complex128 if dtype == "complex128" else dtype).max)
    cases = [
        np.zeros((0, 3)),
        np.arange(12.0).reshape(4, 3),
        np.full((3, 5), big),  # finite entries whose sum overflows
        np.array([[big, -big, big]]),
        np.array([[1.0, np.nan]]),
        np.array([[1.0, np.inf]]),
        np.array([[-np.inf, 2.0]]),
        np.array([[np.inf, -np.inf]]),
        np.array([[big, big, np.nan]]),
    ]
    if dtype == "complex128":
        cases.append(np.array([1.0 + 1j * np.nan]))
    for a in cases:
        a = a.astype(dtype)
        expected = bool(np.isfinite(a).all())
        if backend != "cpu":
            torch = pytest.importorskip("torch")
            a = torch.as_tensor(a, device=backend)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an overflowing sum is no warning to the user
            assert all_finite(a) is expected, (dtype, a)
    for ints in (np.arange(6).reshape(2, 3), np.ones(3, dtype=bool)):
        assert all_finite(ints) is True
        if backend != "cpu":
            assert all_finite(pytest.importorskip("torch").as_tensor(ints, device=backend))


def test_power_of_two_scale():
    # One helper for every method that divides its data by a power of two of its size
    # (hypothesis transfer's ridge and evidence, the transferability scores).
    from skreuse.utils._math import power_of_two_scale

    for peak in (3e-310, 1e-200, 0.7, 1.0, 5.0, 1e200, 1.7e308):
        X = np.array([[peak, -peak / 3], [0.0, peak / 1000]])
        c = power_of_two_scale(X, safe=None)
        assert np.frexp(c)[0] == 0.5  # a power of two
        assert 1.0 <= np.max(np.abs(X / c)) < 2.0
        np.testing.assert_array_equal(X / c * c, X)  # exact
    assert power_of_two_scale(np.array([-5.0, 1.0]), safe=None) == 4.0  # magnitude
    X = np.array([1e-250, 1e250])
    assert power_of_two_scale(X) == 2.0**830  # 1e250 lies above the default 2**200
    assert power_of_two_scale(X, safe=(0.0, 1e300)) == 1.0
    assert power_of_two_scale(X / 1e250 * 1e-30, safe=(1e-30, 1e30)) == 1.0
    assert power_of_two_scale(np.array([1e-31]), safe=(1e-30, 1e30)) == 2.0**-103
    # nothing to rescale: zeros, an empty array, a value that is not finite
    for X in (np.zeros((2, 3)), np.empty((0, 4)), np.array([1e250, np.inf]), np.array([np.nan])):
        assert power_of_two_scale(X, safe=None) == 1.0


def test_warn_names_the_first_line_outside_skreuse_and_scikit_learn():
    from skreuse.utils import _warnings

    with pytest.warns(UserWarning, match="from the test") as rec:
        _warnings.warn("from the test")
    assert [r.filename for r in rec] == [__file__]
    with pytest.warns(RuntimeWarning) as rec:
        _warnings.warn("a category", RuntimeWarning)
    assert [r.filename for r in rec] == [__file__]
    # Frames of skreuse and scikit-learn are skipped, however many: the estimators' tests
    # check the lines of their own warnings (fit, partial_fit, a Pipeline, helpers).
    assert _warnings._INTERNAL[0].endswith(("skreuse/", "skreuse\\"))
