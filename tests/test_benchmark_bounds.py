"""The bounds of the reuse-gain benchmark (``benchmarks/bench_reuse_gain.py``) are right.

Its perfect-candidate tables read every candidate of ``lam="auto"``'s grid out of one fit
(hypothesis transfer: the stored candidate fits; ReForm: the candidates' weights stacked).
Here each candidate is made the fitted model on its own (hypothesis transfer: all of the
weight of its own averaging on it; ReForm: its fit returned in place of the average), and
must predict exactly as the benchmark's reading of it. The selector's own head's table
computes ridge regression from an SVD: its entries must be scikit-learn's ``Ridge``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from skreuse.datasets import _scenarios
from skreuse.training import HypothesisTransferClassifier

if not (Path(__file__).resolve().parent.parent / "benchmarks" / "bench_reuse_gain.py").exists():
    # The source distribution ships the tests without the benchmarks.
    pytest.skip("benchmarks/ is not in this tree", allow_module_level=True)

from benchmarks import bench_reuse_gain as bench
from benchmarks import bench_reuse_prior as prior_bench


class _OneHT(HypothesisTransferClassifier):
    """Hypothesis transfer with all of ``lam="auto"``'s weight on candidate ``j``."""

    j = 0

    def _candidate_scores(self, fits, refit, target, prior_knows):
        return np.zeros(len(fits))

    def _candidate_weights(self, scores, shares):
        return np.eye(len(scores))[self.j]


class _OneReForm(bench._ReFormCandidates):
    """ReForm with all of ``lam="auto"``'s weight on candidate ``j`` (the candidates' fits
    as the benchmark records them; from there on, the estimator's own code)."""

    j = 0

    def _combine_priors(self, Z, y_enc, priors):
        super()._combine_priors(Z, y_enc, priors)
        return self._fits[self.j]


@pytest.mark.parametrize(
    ("family", "mode"), [("shift", "biased"), ("shift", "residual"), ("classes", "biased")]
)
def test_hypothesis_transfer_candidates_read_from_one_fit(family, mode):
    s = bench._same_space(family, "wine", 0)
    source = LogisticRegression(max_iter=1000).fit(s.X_source, s.y_source)
    shots, test = _scenarios.draw_shots(s.y_target, 3, np.random.RandomState(3))
    Xl, yl, Xt, yt = s.X_target[shots], s.y_target[shots], s.X_target[test], s.y_target[test]
    read = bench._HTCandidates(source, mode=mode).fit(Xl, yl).accuracies(Xt, yt)
    alone = []
    for j in range(len(read)):
        one = _OneHT(source, mode=mode)
        one.j = j
        alone.append(np.mean(one.fit(Xl, yl).predict(Xt) == yt))
    np.testing.assert_array_equal(read, alone)
    assert len(read) == 21
    assert np.ptp(read) > 0  # the candidates differ on these rows


@pytest.mark.parametrize("mode", ["biased", "residual"])
@pytest.mark.parametrize(
    ("family", "name", "k"), [("useless", "wine", 1), ("shift", "breast_cancer", 3)]
)
def test_reuse_prior_table_reweighs_one_fit_as_a_fit_at_that_prior(family, name, k, mode):
    # bench_reuse_prior weighs one fit's candidates again at each prior: it must predict
    # as a fit with that prior does (its decision function to rounding), and at 0.5 as
    # the estimator itself.
    s = bench._same_space(family, name, 101)
    source = bench._lr().fit(s.X_source, s.y_source)
    _, shots, test = bench.draw(s.y_target, 101, k)  # the benchmarks' draw
    Xl, yl, Xt = s.X_target[shots], s.y_target[shots], s.X_target[test]
    recorded = prior_bench.RecordingHT(source, mode=mode).fit(Xl, yl)
    default = HypothesisTransferClassifier(source, mode=mode).fit(Xl, yl)
    np.testing.assert_array_equal(recorded.decision_function(Xt), default.decision_function(Xt))
    kept = []
    for p in (0.05, 0.5, 0.95):
        fitted = prior_bench.PriorHT(source, mode=mode)
        fitted.reuse_prior = p
        fitted.fit(Xl, yl)
        kept.append(bool(fitted.candidate_weights_ @ fitted.candidates_[:, 0] > 0))
        read = prior_bench.at_prior(recorded, p)
        np.testing.assert_allclose(
            read.decision_function(Xt), fitted.decision_function(Xt), rtol=1e-9, atol=1e-9
        )
        np.testing.assert_array_equal(read.predict(Xt), fitted.predict(Xt))
    # The prior decides on these draws: the source is dropped at p = 0.05 and kept at 0.95.
    assert kept[0] is False
    assert kept[-1] is True


@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_reform_candidates_read_from_one_fit(name):
    s = _scenarios.vanished_new_columns(name, random_state=0)
    Xs = pd.DataFrame(s.X_source, columns=s.source_columns)
    Xt = pd.DataFrame(s.X_target, columns=s.target_columns)
    source = LogisticRegression(max_iter=1000).fit(Xs, s.y_source)
    rng = np.random.RandomState(3)
    shots, test = _scenarios.draw_shots(s.y_target, 3, rng)
    rows = np.r_[shots, np.setdiff1d(np.arange(len(Xt)), np.r_[shots, test])[:60]]
    y_fit = np.where(np.isin(rows, shots), s.y_target[rows], -1)
    meta = Xs.iloc[:200]
    read = bench._ReFormCandidates(source, source_meta=meta).fit(Xt.iloc[rows], y_fit)
    read = read.accuracies(Xt.iloc[test], s.y_target[test])
    alone = []
    for j in range(len(read)):
        one = _OneReForm(source, source_meta=meta)
        one.j = j
        one.fit(Xt.iloc[rows], y_fit)
        alone.append(one.score(Xt.iloc[test], s.y_target[test]))
    np.testing.assert_array_equal(read, alone)
    assert len(read) == 47
    assert np.ptp(read) > 0


@pytest.mark.parametrize("family", ["shift", "useless"])
def test_regression_cells_are_the_scores_of_the_three_models_on_the_same_rows(family):
    # The regression table's cell for one seed, recomputed independently: the scenario,
    # the labelled and test rows, and the R^2 of the regressor, RidgeCV and the source.
    from sklearn.linear_model import LinearRegression, RidgeCV
    from sklearn.metrics import r2_score

    from skreuse.training import HypothesisTransferRegressor

    out = bench.run_regression(family, "diabetes", 3, ["HT residual"])
    assert sorted(out) == [("HT residual", n) for n in bench.REGRESSION_ROWS]
    builder = _scenarios.shifted_covariates if family == "shift" else _scenarios.useless_source
    s = builder("diabetes", 3)
    if family == "useless":
        # The source rows carry shuffled targets (the same rows as the shift split's).
        shift = _scenarios.shifted_covariates("diabetes", 3)
        np.testing.assert_array_equal(s.X_target, shift.X_target)
        assert not np.array_equal(s.y_source, shift.y_source)
        np.testing.assert_array_equal(np.sort(s.y_source), np.sort(shift.y_source))
    source = LinearRegression().fit(s.X_source, s.y_source)
    n = 10
    order = np.random.RandomState(3000 + n).permutation(len(s.y_target))
    rows, test = order[:n], np.sort(order[n:][: bench.MAX_TEST])
    reg = HypothesisTransferRegressor(source, mode="residual").fit(
        s.X_target[rows], s.y_target[rows]
    )
    expected = [
        r2_score(s.y_target[test], reg.predict(s.X_target[test])),
        r2_score(
            s.y_target[test],
            RidgeCV().fit(s.X_target[rows], s.y_target[rows]).predict(s.X_target[test]),
        ),
        r2_score(s.y_target[test], source.predict(s.X_target[test])),
    ]
    np.testing.assert_allclose(out[("HT residual", n)], expected, rtol=1e-12)


@pytest.mark.parametrize("shots", [1, 3])
def test_own_head_bound_is_ridge_on_each_candidate_at_each_ratio(shots):
    # The own head's perfect-choice table: each entry is scikit-learn's ridge regression of
    # the class indicators (with an intercept) on one candidate at one ratio; with one row
    # per class the selector's own prediction is one of them (its ratio is octave 0).
    from sklearn.linear_model import Ridge

    from skreuse.selection import LogMESelector

    s = bench._same_space("shift", "wine", 0)
    source = LogisticRegression(max_iter=1000).fit(s.X_source, s.y_source)
    candidates = [("source LR", source), ("raw", bench.FunctionTransformer().fit(s.X_source))]
    shots_, test = _scenarios.draw_shots(s.y_target, shots, np.random.RandomState(3))
    Xl, yl, Xt, yt = s.X_target[shots_], s.y_target[shots_], s.X_target[test], s.y_target[test]
    accs = bench._own_head_accuracies(candidates, Xl, yl, Xt, yt)
    octaves = bench._HEAD_OCTAVES
    accs = accs.reshape(len(candidates), len(octaves))
    Y = np.eye(3)[yl]
    for i, (_, model) in enumerate(candidates):
        f = bench._features_of(model)
        F = f(Xl)
        top = np.linalg.norm(F - F.mean(axis=0), 2) ** 2
        for j in np.searchsorted(octaves, [-8.0, 0.0, 5.0]):
            ridge = Ridge(alpha=top * 2.0 ** octaves[j], solver="svd").fit(F, Y)
            assert accs[i, j] == np.mean(np.argmax(ridge.predict(f(Xt)), axis=1) == yt)
    assert np.ptp(accs) > 0
    if shots == 1:
        selector = LogMESelector(candidates).fit(Xl, yl)
        i = [n for n, _ in candidates].index(selector.selected_[0])
        assert selector.score(Xt, yt) == accs[i, np.searchsorted(octaves, 0.0)]
