"""Tests of ReFormRectifier: exact recovery, the paper's formulas, scenarios, bad input."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreuse.datasets import make_reform_task
from skreuse.training import ReFormRectifier
from skreuse.training import _reform as _reform_module


def _logreg(X, y):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)


@pytest.fixture(scope="module")
def wine():
    data = load_wine(as_frame=True)
    return data.data, data.target.to_numpy()


# -- exactness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("with_scaler", [False, True])
def test_renamed_permuted_columns_recover_the_permutation(wine, with_scaler):
    X, y = wine
    plain = LogisticRegression(solver="newton-cholesky")
    source = _logreg(X, y) if with_scaler else plain.fit(X, y)
    perm = np.random.RandomState(0).permutation(X.shape[1])
    names = [f"t{j}" for j in range(X.shape[1])]
    X_t = pd.DataFrame(X.to_numpy()[:, perm], columns=names)  # t{j} is source column perm[j]

    exact = ReFormRectifier(source, source_meta=X, meta="data", reg=0, lam=np.inf)
    exact.fit(X_t, y)
    expected = np.zeros((X.shape[1], X.shape[1]))
    expected[perm, np.arange(X.shape[1])] = 1 / X.shape[1]
    np.testing.assert_allclose(exact.transport_, expected, atol=1e-12)
    assert exact.shared_features_.size == 0
    # The rectified model is the source, column for column, up to the target's spreads:
    # estimates from 178 rows (unbiased in logs, shrunk toward their common level),
    # within 1 % of the rows' standard deviations.
    spread = _shrunk_spreads(X_t.to_numpy())
    assert np.max(np.abs(spread / X_t.std(ddof=0).to_numpy() - 1)) < 0.01
    np.testing.assert_allclose(
        exact.decision_function(X_t), source.decision_function(X), rtol=0.01, atol=0.05
    )
    np.testing.assert_array_equal(exact.predict(X_t), source.predict(X))

    # Sinkhorn's plan is blurred but still puts most mass on the permutation; fine-tuning
    # on a few shots keeps the predictions of the source.
    shots = np.concatenate([np.flatnonzero(y == c)[:5] for c in np.unique(y)])
    y_fit = np.full(len(y), -1)
    y_fit[shots] = y[shots]
    tuned = ReFormRectifier(source, source_meta=X, meta="data").fit(X_t, y_fit)
    np.testing.assert_array_equal(tuned.transport_.argmax(axis=0), perm)
    assert np.mean(tuned.predict(X_t) == source.predict(X)) >= 0.97


# -- the formulas, written the slow way --------------------------------------------------------


def _split_features(rng, n=400):
    u = rng.normal(size=(n, 5))
    mix = np.array([[1, 0.6, 0.3, 0, 0], [0, 1, 0, 0.5, 0], [0, 0, 1, 0, 0.7]])
    return u[:, :3] @ mix + 0.3 * u


def test_feature_transport_and_mapping_match_a_direct_computation():
    ot = pytest.importorskip("ot")
    rng = np.random.RandomState(1)
    Z = _split_features(rng)
    y = (Z[:, 0] - Z[:, 2] + Z[:, 3] > 0).astype(int)
    src_cols, tgt_cols = ["a", "b", "c", "d"], ["a", "b", "e", "f"]
    source = LogisticRegression().fit(pd.DataFrame(Z[:, :4], columns=src_cols), y)
    meta = pd.DataFrame(_split_features(rng)[:, :4], columns=src_cols)
    Zt = _split_features(rng, 300)
    # Target: "c" and "d" vanished; "e", "f" are new (rescaled, reordered relatives).
    X_t = pd.DataFrame(
        {"a": Zt[:, 0], "b": Zt[:, 1], "e": 3 * Zt[:, 3] + 1, "f": -2 * Zt[:, 2]},
        columns=tgt_cols,
    )
    y_fit = np.full(300, -1)
    y_fit[:20] = (Zt[:20, 0] - Zt[:20, 2] + Zt[:20, 3] > 0).astype(int)

    for reg in (0.0, 0.1):
        est = ReFormRectifier(source, source_meta=meta, reg=reg, lam=np.inf).fit(X_t, y_fit)
        # Meta-representation: correlations with the shared columns a, b.
        cs = np.corrcoef(meta.to_numpy().T)[2:, :2]
        ct = np.corrcoef(X_t.to_numpy().T)[2:, :2]
        cost = ((cs[:, None, :] - ct[None, :, :]) ** 2).sum(-1)
        cost /= cost.max()
        unif = np.full(2, 0.5)
        if reg == 0:
            block = ot.emd(unif, unif, cost)
        else:
            block = ot.sinkhorn(
                unif, unif, cost, reg, method="sinkhorn_log", numItermax=10_000, stopThr=1e-6
            )
        np.testing.assert_allclose(est.transport_[2:, 2:], block * 2 / 4, atol=1e-10)
        np.testing.assert_allclose(est.transport_[:2, :2], np.eye(2) / 4)
        assert np.all(est.transport_[:2, 2:] == 0)
        assert np.all(est.transport_[2:, :2] == 0)

        # Carried weights: standardized source weights, plan-weighted, back to raw units.
        sd_s, mu_s = meta.std(ddof=0).to_numpy(), meta.mean().to_numpy()
        w_std = source.coef_[0] * sd_s
        b_std = source.intercept_[0] + source.coef_[0] @ mu_s
        w_t = np.r_[w_std[:2], (w_std[2:] @ block) / block.sum(axis=0)]
        # Shared columns stay in the source's units (statistics of source_meta), new
        # columns are standardized on the target's rows (their spreads shrunk toward
        # the target columns' common one).
        sd_t = np.r_[sd_s[:2], _shrunk_spreads(X_t.to_numpy())[2:]]
        mu_t = np.r_[mu_s[:2], X_t.mean().to_numpy()[2:]]
        np.testing.assert_allclose(est.coef_[0, :2], source.coef_[0, :2], rtol=1e-10)
        np.testing.assert_allclose(est.coef_[0], w_t / sd_t, rtol=1e-10)
        np.testing.assert_allclose(est.intercept_[0], b_std - (w_t / sd_t) @ mu_t, rtol=1e-10)
    # The exact plan sends "c" to "f" and "d" to "e".
    est = ReFormRectifier(source, source_meta=meta, reg=0, lam=np.inf).fit(X_t, y_fit)
    np.testing.assert_array_equal(est.transport_[2:, 2:].argmax(axis=1), [1, 0])
    assert est.coef_[0, 3] < 0 < est.coef_[0, 2]


def test_fine_tuning_is_the_biased_logistic_solution():
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = np.argmax(X[:, :3], axis=1)
    source = LogisticRegression().fit(X, y)
    X_t = X[:12] * [1, 2, 1, 3] + 0.5
    y_t = y[:12]
    lam = 0.7
    est = ReFormRectifier(source, lam=lam).fit(X_t, y_t)
    # Same columns by position, no source rows: shared columns take the target's scale,
    # each column's spread shrunk toward the columns' common one.
    mu, sd = X_t.mean(0), _shrunk_spreads(X_t)
    Z = (X_t - mu) / sd
    W0 = source.coef_ * sd
    b0 = source.intercept_ + source.coef_ @ mu

    def objective(theta):
        W, b = theta[:12].reshape(3, 4), theta[12:]
        loss = -log_softmax(Z @ W.T + b, axis=1)[np.arange(12), y_t].sum()
        return loss + lam * ((W - W0) ** 2).sum() + lam * ((b - b0) ** 2).sum()

    res = minimize(objective, np.r_[W0.ravel(), b0], method="BFGS", options={"gtol": 1e-9})
    W, b = res.x[:12].reshape(3, 4), res.x[12:]
    np.testing.assert_allclose(est.coef_, W / sd, atol=1e-4)
    np.testing.assert_allclose(est.intercept_, b - (W / sd) @ mu, atol=1e-4)


def _shrunk_spreads(X):
    """The moderated column spreads the slow way: unbiased log variances moved toward
    their mean by the share of their spread that is not sampling noise."""
    from scipy.special import digamma, polygamma

    d = len(X) - 1
    e = np.log(X.var(axis=0, ddof=1)) - digamma(d / 2) + np.log(d / 2)
    noise = polygamma(1, d / 2)  # variance of the log of a chi-square over d
    signal = max(e.var(ddof=1) - noise, 0.0)
    return np.exp((e.mean() + signal / (signal + noise) * (e - e.mean())) / 2)


def test_moderated_spreads_pool_a_few_rows_and_keep_many():
    from skreuse.training._reform import _moderated_std

    rng = np.random.RandomState(0)
    scales = np.logspace(-2, 3, 12)
    for n in (2, 3, 5, 40, 1000):
        X = rng.normal(size=(n, 12)) * scales * 1e100
        np.testing.assert_allclose(_moderated_std(X.std(axis=0), n), _shrunk_spreads(X), rtol=1e-9)
    # Columns of one spread: two or three rows give (nearly) one common spread; with
    # many rows in different units each column keeps its own.
    X = rng.normal(size=(3, 30))
    spread = _moderated_std(X.std(axis=0), 3)
    assert np.ptp(np.log(spread)) < 0.1 * np.ptp(np.log(X.std(axis=0)))
    X = rng.normal(size=(1000, 12)) * scales
    np.testing.assert_allclose(_moderated_std(X.std(axis=0), 1000), X.std(axis=0), rtol=0.01)
    # Constant columns stay at zero; one varying column is left as it is.
    std = np.array([0.0, 2.0, 0.0])
    np.testing.assert_array_equal(_moderated_std(std, 3), std)
    # A few rows' estimates come closer to the true spreads than the rows' own (mean
    # squared error of the log spreads over 300 draws of 3 rows).
    true = np.exp(rng.normal(scale=0.3, size=20))
    own, shrunk = [], []
    for _ in range(300):
        X = rng.normal(size=(3, 20)) * true
        own.append(np.mean(np.log(X.std(axis=0, ddof=1) / true) ** 2))
        shrunk.append(np.mean(np.log(_moderated_std(X.std(axis=0), 3) / true) ** 2))
    assert np.mean(shrunk) < 0.5 * np.mean(own)


def test_two_rows_are_not_standardized_by_their_own_spread():
    # One row per class: standardizing each column by the two rows' spread maps every
    # column to +-1 and gave the weights 1 / (x2 - x1) column by column; with the
    # columns' common spread the weights follow the rows' difference, as a logistic
    # regression's do.
    rng = np.random.RandomState(0)
    source = LogisticRegression().fit(rng.normal(size=(40, 6)), np.arange(40) % 2)
    source.coef_[:], source.intercept_[:] = 0.0, 0.0
    x1 = rng.normal(size=6)
    x2 = x1 + rng.choice([-1, 1], size=6) * rng.uniform(0.5, 2.0, size=6)
    est = ReFormRectifier(source, lam=1.0).fit(np.array([x1, x2]), [0, 1])
    diff = x2 - x1
    cosine = est.coef_[0] @ diff / np.linalg.norm(est.coef_[0]) / np.linalg.norm(diff)
    assert cosine > 1 - 1e-9
    plain = LogisticRegression(C=0.5).fit(np.array([x1, x2]), [0, 1])
    np.testing.assert_array_equal(np.sign(est.coef_), np.sign(plain.coef_))


def test_one_row_per_class_without_the_source_is_a_logistic_regression():
    # Shuffled labels taught the source nothing. With one labelled row per class (no
    # unlabeled rows) the candidates without a source were fitted on columns
    # standardized by the shots' own spread: where the rectifier dropped the source it
    # lost 7 (breast cancer) and 12 (wine) points on average to a logistic regression
    # on the same rows, on these draws.
    from skreuse.datasets._scenarios import draw_shots, useless_source

    for name in ("breast_cancer", "wine"):
        gaps = []
        for seed in range(300, 316):
            s = useless_source(name, random_state=seed)
            useless = LogisticRegression().fit(s.X_source, s.y_source)
            shots, test = draw_shots(s.y_target, 1, np.random.RandomState(seed), 300)
            Xl, yl = s.X_target[shots], s.y_target[shots]
            if np.any(np.ptp(Xl, axis=0) == 0):
                continue  # a column constant on the shots is refused (another test)
            est = ReFormRectifier(useless).fit(Xl, yl)
            if est.prior_ != "none":
                continue
            target_only = LogisticRegression().fit(Xl, yl)
            X_test, y_test = s.X_target[test], s.y_target[test]
            gaps.append(est.score(X_test, y_test) - target_only.score(X_test, y_test))
        assert len(gaps) >= 6, (name, gaps)
        assert np.mean(gaps) > -0.05, (name, gaps)


def test_class_transport_maps_new_classes_onto_unmatched_source_classes():
    ot = pytest.importorskip("ot")
    data = load_digits()
    y = data.target
    tgt = np.flatnonzero(np.isin(y, [0, 1, 2, 8, 9]))
    X = data.data[:, data.data[tgt].std(axis=0) > 1]
    src = np.isin(y, range(7))
    source = LogisticRegression(max_iter=2000).fit(X[src] / 16, y[src])
    shots = np.concatenate([tgt[y[tgt] == c][:4] for c in (0, 1, 2, 8, 9)])
    rows = np.r_[shots, np.setdiff1d(tgt, shots)]
    y_fit = np.r_[y[shots], np.full(len(rows) - len(shots), -1)]
    est = ReFormRectifier(source, lam=np.inf).fit(X[rows] / 16, y_fit)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2, 8, 9])
    plan = est.class_transport_
    assert plan.shape == (7, 5)
    np.testing.assert_allclose(plan[[0, 1, 2], [0, 1, 2]], 1 / 5)
    np.testing.assert_allclose(plan[:3, 3:], 0)
    np.testing.assert_allclose(plan[3:, :3], 0)
    np.testing.assert_allclose(plan.sum(axis=0), 1 / 5, atol=1e-6)

    # Direct computation: cost = -log softmax over the pool {3..6} of the carried source
    # scores at each new class's centre (standardized target units).
    Xs = X[rows] / 16
    mu, sd = Xs.mean(0), Xs.std(0)
    Z = (X[shots] / 16 - mu) / sd
    W = source.coef_ * sd
    b = source.intercept_ + source.coef_ @ mu
    centres = np.array([Z[y[shots] == c].mean(0) for c in (8, 9)])
    scores = centres @ W[3:].T + b[3:]
    cost = -(scores - np.log(np.exp(scores).sum(1, keepdims=True))).T
    block = ot.sinkhorn(
        np.full(4, 0.25),
        np.full(2, 0.5),
        cost / cost.max(),
        0.05,
        method="sinkhorn_log",
        numItermax=10_000,
        stopThr=1e-6,
    )
    np.testing.assert_allclose(plan[3:, 3:], block * 2 / 5, atol=1e-10)
    # With lam=inf a new class's weights are the plan-weighted mean of the pool's.
    rows = (block.T @ W[3:]) / block.sum(0)[:, None]
    np.testing.assert_allclose(est.coef_[3:], rows / sd, rtol=1e-8)
    np.testing.assert_allclose(est.coef_[:3], source.coef_[:3], rtol=1e-8)

    same = ReFormRectifier(source, lam=np.inf).fit(X[src][:70] / 16, y[src][:70])
    assert not hasattr(same, "class_transport_")


def test_unlabeled_rows_only_inform_the_statistics(wine):
    X, y = wine
    source = _logreg(X.iloc[::2], y[::2])
    X_t = X.iloc[1::2].rename(columns={"flavanoids": "flav_new"}).reset_index(drop=True)
    y_t = y[1::2]
    shots = np.concatenate([np.flatnonzero(y_t == c)[:3] for c in range(3)])
    y_fit = np.full(len(y_t), -1)
    y_fit[shots] = y_t[shots]
    est = ReFormRectifier(source, source_meta=X.iloc[::2], lam=1.0).fit(X_t, y_fit)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    shots_only = ReFormRectifier(source, source_meta=X.iloc[::2], lam=1.0)
    shots_only.fit(X_t.iloc[shots], y_t[shots])
    # The unlabeled rows changed the column statistics (hence the model), not the labels.
    assert not np.allclose(est.coef_, shots_only.coef_)
    assert est.new_features_.tolist() == ["flav_new"]
    assert est.vanished_features_.tolist() == ["flavanoids"]
    assert est.transport_[
        list(X.columns).index("flavanoids"), list(X_t.columns).index("flav_new")
    ] == pytest.approx(1 / X.shape[1])


def test_feature_embeddings(wine):
    X, y = wine
    source = _logreg(X, y)
    X_t = X.rename(columns={"alcohol": "ethanol", "proline": "amino"})
    emb = {"alcohol": [1.0, 0.0], "ethanol": [0.9, 0.1], "proline": [0.0, 1.0], "amino": [0.1, 0.8]}
    est = ReFormRectifier(source, meta="embeddings", feature_embeddings=emb, reg=0, lam=np.inf).fit(
        X_t, y
    )
    cols = list(X_t.columns)
    assert est.transport_[0, cols.index("ethanol")] > 0
    assert est.transport_[list(X.columns).index("proline"), cols.index("amino")] > 0
    np.testing.assert_array_equal(est.predict(X_t), source.predict(X))
    by_frame = ReFormRectifier(
        source, meta="embeddings", reg=0, lam=np.inf, feature_embeddings=pd.DataFrame(emb).T
    ).fit(X_t, y)
    np.testing.assert_allclose(by_frame.coef_, est.coef_)


# -- scenarios on bundled data -----------------------------------------------------------------


def _scenario(scenario, shots, seed):
    """Accuracy of ReForm and the three baselines on one random split."""
    task = make_reform_task(scenario, n_shots=shots, random_state=seed)
    source = _logreg(task.X_source, task.y_source)
    meta = task.X_source
    X_fit = pd.concat([task.X_target, task.X_target_unlabeled])
    y_fit = np.r_[task.y_target, np.full(len(task.X_target_unlabeled), -1)]
    X_test, y_test = task.X_test, task.y_test
    # (b) the source on the shared columns, vanished ones at their source mean
    X_src = pd.DataFrame(
        {c: X_test[c] if c in task.target_features else meta[c].mean() for c in meta.columns}
    )
    scores = {
        "target-only": _logreg(task.X_target, task.y_target).score(X_test, y_test),
        "source-shared": source.score(X_src, y_test),
    }
    for name, lam in (("mapped", np.inf), ("reform", "auto")):
        est = ReFormRectifier(source, source_meta=meta, lam=lam).fit(X_fit, y_fit)
        scores[name] = est.score(X_test, y_test)
    return scores


def _mean_scores(seeds, **kw):
    runs = [_scenario(seed=s, **kw) for s in seeds]
    return {k: np.mean([r[k] for r in runs]) for k in runs[0]}


def test_breast_cancer_mean_to_worst_columns():
    s = _mean_scores(range(3), scenario="breast_cancer_mean_to_worst", shots=5)
    assert s["reform"] > s["target-only"] + 0.03
    assert s["reform"] > s["source-shared"] + 0.2
    # The carried "mean" -> "worst" weights are already near the ceiling: fine-tuning on
    # 5 shots per class neither helps nor hurts much.
    assert s["reform"] > s["mapped"] - 0.02
    assert s["mapped"] > 0.9


def test_digits_new_classes_and_shifted_crop():
    s = _mean_scores(range(3), scenario="digits_shifted_crop_new_classes", shots=3)
    # With the evidence-weighted average of the candidates (3 seeds): reform 0.792,
    # target-only 0.762, source-shared 0.606, mapped 0.610 (the single most probable
    # candidate scored 0.781). The 3-fold CV of lam toward the carried model alone
    # scored 0.817 here, but fell 5 points below target-only on other splits.
    assert s["reform"] > max(s["target-only"], s["source-shared"]) + 0.02
    assert s["reform"] > s["source-shared"] + 0.1
    assert s["reform"] > s["mapped"] + 0.1


# -- bad input ---------------------------------------------------------------------------------


def test_no_shared_columns_and_no_meta_explains_what_is_needed(wine):
    X, y = wine
    source = _logreg(X, y)
    X_t = X.set_axis([f"t{j}" for j in range(X.shape[1])], axis=1)
    with pytest.raises(ValueError, match="needs meta-representations.*source_meta"):
        ReFormRectifier(source).fit(X_t, y)
    with pytest.raises(ValueError, match="No column of X is shared.*meta='data'"):
        ReFormRectifier(source, source_meta=X).fit(X_t, y)
    with pytest.raises(ValueError, match="same instances as X"):
        ReFormRectifier(source, source_meta=X.iloc[:50], meta="data").fit(X_t, y)
    with pytest.raises(ValueError, match="feature_embeddings has no vector"):
        ReFormRectifier(source, meta="embeddings", feature_embeddings={"t0": [1.0]}).fit(X_t, y)
    with pytest.raises(ValueError, match="meta='embeddings' needs feature_embeddings"):
        ReFormRectifier(source, meta="embeddings").fit(X_t, y)
    with pytest.raises(ValueError, match="only used with meta='embeddings'"):
        ReFormRectifier(source, source_meta=X, feature_embeddings={}).fit(
            X.rename(columns={"alcohol": "a2"}), y
        )


def test_constant_target_column(wine):
    X, y = wine
    source = _logreg(X, y)
    X_t = X.assign(magnesium=3.0)
    with pytest.raises(ValueError, match=r"\['magnesium'\] are constant"):
        ReFormRectifier(source).fit(X_t, y)


def test_unknown_and_unshot_classes(wine):
    X, y = wine
    source = _logreg(X, y)
    with pytest.raises(ValueError, match=r"labels \[2\] that are not in classes"):
        ReFormRectifier(source, classes=[0, 1]).fit(X, y)
    with pytest.raises(ValueError, match=r"Classes \[7\] have no labelled rows"):
        ReFormRectifier(source, classes=[0, 1, 2, 7]).fit(X, y)
    # A source class without shots keeps its carried weights.
    two = y < 2
    est = ReFormRectifier(source, classes=[0, 1, 2], lam=np.inf).fit(X[two], y[two])
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match="at least 2 classes"):
        ReFormRectifier(source).fit(X[y == 0], y[y == 0])
    with pytest.raises(ValueError, match="at least 2 labelled samples"):
        ReFormRectifier(source).fit(X, np.r_[0, np.full(len(y) - 1, -1)])


def test_names_sources_and_types(wine):
    X, y = wine
    source = _logreg(X, y)
    with pytest.raises(ValueError, match="target_features"):
        ReFormRectifier(source).fit(X.to_numpy(), y)
    named = ReFormRectifier(source, target_features=list(X.columns), lam=np.inf)
    np.testing.assert_allclose(
        named.fit(X.to_numpy(), y).decision_function(X.to_numpy()), source.decision_function(X)
    )
    with pytest.raises(ValueError, match="source_features has 3 names"):
        ReFormRectifier(source, source_features=["a", "b", "c"]).fit(X, y)
    with pytest.raises(TypeError, match="fitted linear classifier"):
        ReFormRectifier(LogisticRegression()).fit(X, y)
    no_centering = make_pipeline(StandardScaler(with_mean=False), LogisticRegression(max_iter=5000))
    with pytest.raises(TypeError, match="must center and scale"):
        ReFormRectifier(no_centering.fit(X, y)).fit(X, y)
    frozen = ReFormRectifier(FrozenEstimator(source), lam=np.inf).fit(X, y)
    np.testing.assert_allclose(frozen.decision_function(X), source.decision_function(X))


def test_clone_shares_the_fitted_source(wine):
    X, y = wine
    source = _logreg(X, y)
    est = ReFormRectifier(source, lam=1.0)
    assert clone(est).source is source
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.mean() > 0.9


# -- lam="auto": choosing the prior ---------------------------------------------------------


def _sources_for(X, y, seed):
    """A source fitted to the same labels and one fitted to unrelated labels."""
    rng = np.random.RandomState(seed)
    half = rng.permutation(len(y)) < len(y) // 2
    good = _logreg(X[half], y[half])
    Z = StandardScaler().fit_transform(X[half])
    unrelated = (Z @ rng.normal(size=X.shape[1]) > 0).astype(int)
    bad = _logreg(X[half], unrelated)
    return half, good, bad


def test_auto_with_an_irrelevant_source_falls_back_to_target_only():
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    gaps, priors = [], []
    for seed in range(6):
        half, _, bad = _sources_for(X, y, seed)
        rng = np.random.RandomState(seed)
        Xt, yt = X[~half].reset_index(drop=True), y[~half]
        shots = np.r_[[rng.choice(np.flatnonzero(yt == c), 10, replace=False) for c in (0, 1)]]
        shots = shots.ravel()
        test = np.setdiff1d(np.arange(len(yt)), shots)
        est = ReFormRectifier(bad, source_meta=X[half]).fit(Xt.iloc[shots], yt[shots])
        target_only = _logreg(Xt.iloc[shots], yt[shots])
        gaps.append(est.score(Xt.iloc[test], yt[test]) - target_only.score(Xt.iloc[test], yt[test]))
        priors.append(est.prior_)
    assert np.mean(gaps) > -0.02, gaps
    assert priors.count("none") >= 4, priors


def test_auto_with_flat_evidence_drops_a_source_no_better_than_a_guess():
    # A source fitted to shuffled labels and one labelled row per class: the evidence
    # cannot tell the candidates apart, and the source on the shared columns was kept
    # as it is, 30-42 points below the target-only model on these draws. It is kept
    # now only where it predicts the shots better than a uniform guess.
    from skreuse.datasets._scenarios import draw_shots, useless_source

    for name in ("breast_cancer", "wine"):
        gaps = []
        for seed in range(200, 215):
            s = useless_source(name, random_state=seed)
            rng = np.random.RandomState(seed)
            useless = _logreg(s.X_source, s.y_source)
            shots, test = draw_shots(s.y_target, 1, rng, 300)
            est = ReFormRectifier(useless).fit(s.X_target[shots], s.y_target[shots])
            X_test, y_test = s.X_target[test], s.y_target[test]
            target_only = _logreg(s.X_target[shots], s.y_target[shots])
            gaps.append(est.score(X_test, y_test) - target_only.score(X_test, y_test))
            if est.prior_ == "shared" and est.lam_ == np.inf:
                proba = useless.predict_proba(s.X_target[shots])
                guess = len(shots) * (np.log(len(useless.classes_)) - 0.1)
                assert np.log(proba[np.arange(len(shots)), s.y_target[shots]]).sum() > -guess
        assert np.mean(gaps) > -0.2, (name, np.mean(gaps))


@pytest.mark.parametrize(("p_source", "kept"), [(0.75, True), (0.6, False)])
def test_flat_evidence_keeps_a_source_only_clearly_better_than_a_guess(p_source, kept, monkeypatch):
    # Four shots, three of class 1, and a shared source that gives class 1 the
    # probability p_source on every row: per shot 3/4 log p + 1/4 log(1 - p), against
    # log 1/2 for a uniform guess: 0.131 nat better at 0.75 (kept), 0.081 at 0.6 (both
    # beat the guess; the second by less than 0.1 nat per shot, so it is dropped).
    rng = np.random.RandomState(0)
    Z = rng.normal(size=(4, 3))
    y = np.array([1, 1, 1, 0])
    logit = np.log(p_source / (1 - p_source))
    priors = {
        "shared": (np.zeros((1, 3)), np.array([logit])),
        "carried": (np.zeros((1, 3)), np.array([logit])),
        "none": (np.zeros((1, 3)), np.zeros(1)),
    }
    margin = 0.75 * np.log(p_source) + 0.25 * np.log(1 - p_source) - np.log(0.5)
    assert margin > 0
    assert (margin > 0.1) == kept
    est = ReFormRectifier(LogisticRegression())
    est.classes_ = np.arange(2)
    monkeypatch.setattr(_reform_module, "_FLAT_EVIDENCE", np.inf)
    est._combine_priors(Z, y, priors)
    assert (est.prior_ == "shared" and est.lam_ == np.inf) == kept
    if not kept:
        assert est.prior_ == "none"


def test_auto_with_a_good_source_keeps_it():
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    for seed in range(3):
        half, good, _ = _sources_for(X, y, seed)
        rng = np.random.RandomState(seed)
        Xt, yt = X[~half].reset_index(drop=True), y[~half]
        shots = np.r_[[rng.choice(np.flatnonzero(yt == c), 2, replace=False) for c in (0, 1)]]
        shots = shots.ravel()
        test = np.setdiff1d(np.arange(len(yt)), shots)
        est = ReFormRectifier(good, source_meta=X[half]).fit(Xt.iloc[shots], yt[shots])
        # The candidates centred on the whole source carry most of the weight (or the
        # source is kept as it is), and the model predicts as well as the source.
        names = [name for name, _ in est.candidates_]
        on_source = [name in ("shared", "carried") for name in names]
        assert est.candidate_weights_[on_source].sum() > 0.5
        assert est.candidate_weights_[[name == "none" for name in names]].sum() < 0.2
        assert est.score(Xt.iloc[test], yt[test]) >= good.score(Xt.iloc[test], yt[test]) - 0.01


def test_auto_is_deterministic(wine):
    X, y = wine
    source = _logreg(X, y)
    a = ReFormRectifier(source).fit(X.iloc[::7], y[::7])
    b = ReFormRectifier(source).fit(X.iloc[::7], y[::7])
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert (a.prior_, a.lam_) == (b.prior_, b.lam_)


# -- lam="auto": the evidence-weighted average, against a brute-force computation ------------


def _brute_force_average(Z, y, n_classes, priors):
    """Fit every candidate, score it by its evidence, and average the finite ones."""
    from skreuse.training._biased_regularization import (
        biased_logistic_log_evidence,
        fit_biased_logistic,
    )

    grid = [("shared", np.inf), ("carried", np.inf)]
    grid += [(name, lam) for lam in (100, 30, 10, 3, 1, 0.3, 0.1, 0.03, 0.01) for name in priors]
    fits, log_ev = [], []
    for name, lam in grid:
        W0, b0 = priors[name]
        W, b = fit_biased_logistic(
            Z, y, n_classes, W0, b0, lam=lam, lam_intercept=lam, tol=1e-6, max_iter=1000
        )
        fits.append((W, b))
        log_ev.append(
            biased_logistic_log_evidence(Z, y, n_classes, W, b, W0, b0, lam=lam, lam_intercept=lam)
        )
    log_ev = np.array(log_ev)
    return grid, fits, log_ev


@pytest.mark.parametrize("n_classes", [2, 3])
def test_auto_averages_the_candidates_by_their_evidence(n_classes, monkeypatch):
    rng = np.random.RandomState(n_classes)
    k = 1 if n_classes == 2 else n_classes
    W_src = rng.normal(size=(k, 4))
    priors = {
        "shared": (W_src * [1, 1, 1, 0], np.zeros(k)),
        "carried": (W_src, np.zeros(k)),
        "shared/2": (W_src * [1, 1, 1, 0] / 2, np.zeros(k)),
        "carried/2": (W_src / 2, np.zeros(k)),
        "none": (np.zeros((k, 4)), np.zeros(k)),
    }
    est = ReFormRectifier(LogisticRegression())
    est.classes_ = np.arange(n_classes)
    # Enough rows, labelled by an unrelated direction, for the evidence to discriminate.
    Z = rng.normal(size=(40, 4))
    y = np.argmax(Z @ rng.normal(size=(4, n_classes)), axis=1)
    W, b = est._combine_priors(Z, y, priors)
    grid, fits, log_ev = _brute_force_average(Z, y, n_classes, priors)
    assert np.ptp(log_ev) > np.log(10)
    weights = np.r_[0.0, 0.0, np.exp(log_ev[2:] - log_ev[2:].max())]
    weights /= weights.sum()
    assert est.candidates_ == [(name, float(lam)) for name, lam in grid]
    np.testing.assert_allclose(est.candidate_weights_, weights, atol=1e-6)
    np.testing.assert_allclose(W, sum(w * f[0] for w, f in zip(weights, fits)), atol=1e-5)
    np.testing.assert_allclose(b, sum(w * f[1] for w, f in zip(weights, fits)), atol=1e-5)
    assert (est.prior_, est.lam_) == grid[int(np.argmax(weights))]

    # Evidence spanning less than the threshold: the shots do not discriminate. The
    # source on the shared columns is kept as it is where it predicts the shots better
    # than a uniform guess by 0.1 nat per shot (its log-likelihood of them, written
    # out); otherwise the candidates without a source are averaged by their evidence.
    def shared_log_likelihood(y):
        W_sh, b_sh = priors["shared"]
        scores = Z @ W_sh.T + b_sh
        if n_classes == 2:
            scores = np.hstack([np.zeros((len(Z), 1)), scores])
        scores = scores - scores.max(axis=1, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        return log_p[np.arange(len(y)), y].sum()

    y_source = np.argmax(np.hstack([np.zeros((40, 1)), Z @ W_src.T])[:, -n_classes:], axis=1)
    for labels in (y, y_source):
        grid, fits, log_ev = _brute_force_average(Z, labels, n_classes, priors)
        monkeypatch.setattr(_reform_module, "_FLAT_EVIDENCE", np.ptp(log_ev) + 1e-3)
        W, b = est._combine_priors(Z, labels, priors)
        beats_guess = shared_log_likelihood(labels) > -len(labels) * (np.log(n_classes) - 0.1)
        if beats_guess:
            np.testing.assert_array_equal(est.candidate_weights_, np.eye(len(grid))[0])
            assert (est.prior_, est.lam_) == ("shared", np.inf)
            np.testing.assert_array_equal(W, priors["shared"][0])
            np.testing.assert_array_equal(b, priors["shared"][1])
        else:
            none = np.array([name == "none" for name, _ in grid])
            flat = np.where(none, np.exp(log_ev - log_ev[none].max()), 0.0)
            flat /= flat.sum()
            np.testing.assert_allclose(est.candidate_weights_, flat, atol=1e-6)
            np.testing.assert_allclose(W, sum(w * f[0] for w, f in zip(flat, fits)), atol=1e-5)
            assert est.prior_ == "none"
        # The unrelated labels: the shared source is no better than a guess by 0.1 nat
        # per shot (on 2 classes it beat the guess itself, and was kept, before the
        # margin); on the source's own labels it is.
        assert beats_guess == (labels is y_source)
    grid, fits, log_ev = _brute_force_average(Z, y, n_classes, priors)
    monkeypatch.setattr(_reform_module, "_FLAT_EVIDENCE", np.ptp(log_ev) - 1e-3)
    est._combine_priors(Z, y, priors)
    np.testing.assert_allclose(est.candidate_weights_, weights, atol=1e-6)


@pytest.mark.parametrize("attr", ["coef_", "intercept_"])
@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_a_source_with_a_weight_that_is_not_finite_is_refused(attr, value):
    # Every candidate centred on it was NaN, and so were the predictions, with no error
    # (the hypothesis-transfer estimators refuse such a source with the same check).
    X, y = load_wine(return_X_y=True)
    source = LogisticRegression(max_iter=5000).fit(X, y)
    weights = np.array(getattr(source, attr), dtype=float)
    weights.flat[0] = value
    setattr(source, attr, weights)
    with pytest.raises(ValueError, match="source has weights or an intercept that are"):
        ReFormRectifier(source).fit(X[::5], y[::5])


def test_a_prior_equal_to_another_is_one_candidate():
    # Where no column is new the carried model is the shared one: as two candidates each,
    # the uniform prior over the candidates gave the source twice its mass. A source with
    # zero weights is no source: "none", the fall-back, is the one kept.
    from skreuse.training._reform import _distinct

    W, b = np.array([[1.0, -2.0]]), np.array([0.5])
    zero = (np.zeros_like(W), np.zeros_like(b))

    def priors(carried, scale=1.0):
        W_sh, W_c = W * scale, carried * scale
        return {
            "shared": (W_sh, b * scale),
            "carried": (W_c, b * scale),
            "shared/2": (W_sh / 2, b * scale / 2),
            "carried/2": (W_c / 2, b * scale / 2),
            "none": zero,
        }

    assert _distinct(priors(W)) == ["shared", "shared/2", "none"]
    every = ["shared", "carried", "shared/2", "carried/2", "none"]
    assert _distinct(priors(W + [[0.0, 1.0]])) == every
    assert _distinct(priors(W, scale=0.0)) == ["none"]
    # Zero weights with an intercept: still a source (the class frequencies it learned).
    frequencies = {name: (W * 0.0, prior[1]) for name, prior in priors(W).items()}
    assert _distinct(frequencies) == ["shared", "shared/2", "none"]
    # The same columns on both sides: every finite candidate is the shared source's, its
    # half or none, at every strength.
    X, y = load_wine(return_X_y=True, as_frame=True)
    source = _logreg(X.iloc[::2], y[::2])
    est = ReFormRectifier(source).fit(X.iloc[1::9], y[1::9])
    finite = [name for name, lam in est.candidates_ if np.isfinite(lam)]
    assert sorted(set(finite)) == ["none", "shared", "shared/2"]
    assert len(finite) == 3 * 9


# -- mutation-testing survivors (issue 20): names, source forms, degenerate plans ------------


def _named_source(seed=0, n=120):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(
        rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -3.0], columns=list("abc")
    )
    y = (X["a"] - X["b"] / 2 + 2 * X["c"] + 6 > 0).astype(int).to_numpy()
    return X, y, LogisticRegression().fit(X, y)


def test_target_features_must_agree_with_the_dataframe_columns():
    X, y, source = _named_source()
    same = ReFormRectifier(source, target_features=list("abc"), lam=np.inf).fit(X, y)
    np.testing.assert_allclose(same.decision_function(X), source.decision_function(X))
    with pytest.raises(ValueError, match="target_features differs from the columns"):
        ReFormRectifier(source, target_features=list("cba"), lam=np.inf).fit(X, y)


def test_duplicate_names_say_which_side():
    X, y, source = _named_source()
    with pytest.raises(ValueError, match="The source feature names are not unique"):
        ReFormRectifier(source, source_features=list("aab")).fit(X, y)
    with pytest.raises(ValueError, match="The target feature names are not unique"):
        ReFormRectifier(source, target_features=list("abb")).fit(X.to_numpy(), y)


def test_names_are_matched_by_value_and_type():
    # Names keep their type: the column 0 and the column "0" are different features.
    X, y, source = _named_source()
    names = [0, "b", 2]
    est = ReFormRectifier(
        source.fit(X.to_numpy(), y), source_features=names, target_features=names, lam=np.inf
    ).fit(X.to_numpy(), y)
    assert est.shared_features_.tolist() == names
    assert est.new_features_.size == 0
    np.testing.assert_allclose(
        est.decision_function(X.to_numpy()), source.decision_function(X.to_numpy())
    )


def test_unnamed_source_matches_source_meta_by_position():
    X, y, source = _named_source()
    source = LogisticRegression().fit(X.to_numpy(), y)
    # The source has no names (x0, x1, x2 internally): the DataFrame's own column names
    # play no part, its columns are read in order.
    meta = X.set_axis(["p", "q", "r"], axis=1)
    est = ReFormRectifier(source, source_meta=meta, lam=np.inf).fit(X.to_numpy(), y)
    ref = ReFormRectifier(source, source_meta=X.to_numpy(), lam=np.inf).fit(X.to_numpy(), y)
    np.testing.assert_allclose(est.coef_, ref.coef_)
    np.testing.assert_allclose(
        est.decision_function(X.to_numpy()), source.decision_function(X.to_numpy())
    )


def test_named_source_meta_columns_are_reordered_by_name():
    X, y, source = _named_source()
    rng = np.random.RandomState(1)
    meta = pd.DataFrame(rng.normal(size=(200, 3)) * [3.0, 1.0, 2.0], columns=list("abc"))
    X_t = X.rename(columns={"c": "c_new"})  # "c" vanished, "c_new" is new
    in_order = ReFormRectifier(source, source_meta=meta, lam=np.inf, reg=0).fit(X_t, y)
    shuffled = ReFormRectifier(source, source_meta=meta[["c", "a", "b"]], lam=np.inf, reg=0)
    np.testing.assert_allclose(shuffled.fit(X_t, y).coef_, in_order.coef_)
    # Shared columns are in the units of source_meta: carried weights stay the source's.
    np.testing.assert_allclose(in_order.coef_[0, :2], source.coef_[0, :2])
    sd_meta, sd_t = meta["c"].std(ddof=0), _shrunk_spreads(X_t.to_numpy())[2]
    np.testing.assert_allclose(in_order.coef_[0, 2], source.coef_[0, 2] * sd_meta / sd_t)
    with pytest.raises(ValueError, match=r"source_meta lacks the source columns \['c'\]"):
        ReFormRectifier(source, source_meta=meta[["a", "b"]]).fit(X_t, y)


def test_source_meta_row_count_and_nan():
    X, y, source = _named_source()
    X_t = X.rename(columns={"c": "c_new"})
    est = ReFormRectifier(source, source_meta=X.iloc[:2], lam=np.inf).fit(X_t, y)  # 2 is enough
    assert np.all(np.isfinite(est.coef_))
    with pytest.raises(ValueError, match="source_meta needs at least 2 rows, got 1"):
        ReFormRectifier(source, source_meta=X.iloc[:1]).fit(X_t, y)
    with pytest.raises(ValueError, match="source_meta contains NaN"):
        ReFormRectifier(source, source_meta=X.assign(a=np.nan)).fit(X_t, y)


def test_pipeline_sources_other_than_one_scaler_are_refused():
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    X, y, _ = _named_source()
    lr = LogisticRegression()
    for head in ([StandardScaler(), StandardScaler()], [MinMaxScaler()]):
        source = make_pipeline(*head, lr).fit(X, y)
        with pytest.raises(TypeError, match="only hold one StandardScaler"):
            ReFormRectifier(source).fit(X, y)
    # "passthrough" steps and a bare classifier in a Pipeline are the classifier itself.
    for source in (Pipeline([("skip", "passthrough"), ("lr", lr)]), make_pipeline(lr)):
        source.fit(X, y)
        est = ReFormRectifier(source, lam=np.inf).fit(X, y)
        np.testing.assert_allclose(est.decision_function(X), source.decision_function(X))


def _linear_source(coef, intercept, classes):
    model = LogisticRegression()
    model.coef_, model.intercept_ = np.asarray(coef), np.asarray(intercept)
    model.classes_ = np.asarray(classes)
    return model


def test_binary_source_with_one_row_per_class():
    X, y, _ = _named_source()
    # A softmax-style binary source: two rows; its log-odds are the difference of rows.
    W, b = np.array([[0.5, -1.0, 0.2], [-0.3, 0.4, 1.1]]), np.array([0.3, -0.2])
    est = ReFormRectifier(_linear_source(W, b, [0, 1]), lam=np.inf).fit(X.to_numpy(), y)
    np.testing.assert_allclose(est.decision_function(X.to_numpy()), X @ (W[1] - W[0]) + b[1] - b[0])
    with pytest.raises(ValueError, match="coef_ has 1 rows for 3 classes"):
        ReFormRectifier(_linear_source(W[:1], b[:1], [0, 1, 2])).fit(X.to_numpy(), y)


def test_new_column_without_vanished_feature_gets_zero_weight():
    X, y, source = _named_source()
    X_t = X.assign(d=np.random.RandomState(3).normal(size=len(X)))
    est = ReFormRectifier(source, source_meta=X, lam=np.inf).fit(X_t, y)
    assert np.all(est.transport_[:, 3] == 0)
    np.testing.assert_array_equal(est.coef_[0, 3], 0.0)
    np.testing.assert_allclose(est.decision_function(X_t), source.decision_function(X))
    plan = np.array([[0.5, 0.0], [0.25, 0.0]])
    np.testing.assert_array_equal(
        _reform_module._barycentric(plan, np.array([[2.0], [8.0]])), [[4.0], [0.0]]
    )


def test_constant_source_meta_column_keeps_the_plan_finite():
    X, y, source = _named_source()
    X_t = X.rename(columns={"c": "c_new"})
    meta = X.copy()
    meta["b"] = 1.0  # a shared column constant in the source data: correlations 0, not NaN
    est = ReFormRectifier(source, source_meta=meta, lam=np.inf).fit(X_t, y)
    assert np.all(np.isfinite(est.transport_))
    assert np.all(np.isfinite(est.coef_))
    mean, std, Z = _reform_module._standardize(meta.to_numpy())
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    np.testing.assert_allclose(Z[:, 0], (meta["a"] - meta["a"].mean()) / meta["a"].std(ddof=0))


def test_transport_of_a_zero_cost_is_uniform_and_small_reg_is_stable():
    pytest.importorskip("ot")
    # Every plan is optimal for EMD: only its marginals are fixed; Sinkhorn's is uniform.
    plan = _reform_module._transport(np.zeros((2, 3)), 0)
    np.testing.assert_allclose(plan.sum(axis=1), [1 / 2, 1 / 2])
    np.testing.assert_allclose(plan.sum(axis=0), [1 / 3, 1 / 3, 1 / 3])
    plan = _reform_module._transport(np.zeros((2, 3)), 0.05)
    np.testing.assert_allclose(plan, np.full((2, 3), 1 / 6), atol=1e-9)
    # At a small entropic regularization, the kernel exp(-cost / reg) underflows to 0 for
    # whole rows; the log-domain solver still returns the exact plan's neighbourhood.
    cost = np.array([[0.0, 1.0], [1.0, 0.95]])
    plan = _reform_module._transport(cost, 1e-3)
    np.testing.assert_allclose(plan, np.eye(2) / 2, atol=1e-6)


def test_identical_embeddings_spread_the_weight_evenly():
    X, y, source = _named_source()
    X_t = X.rename(columns={"c": "c1"}).assign(c2=X["c"] * 2)
    emb = {n: [1.0, 0.0] for n in ("c", "c1", "c2")}
    est = ReFormRectifier(source, meta="embeddings", feature_embeddings=emb, lam=np.inf).fit(X_t, y)
    np.testing.assert_allclose(est.transport_[2, 2:], [1 / 4, 1 / 4])
    with pytest.raises(ValueError, match="feature_embeddings contains NaN"):
        ReFormRectifier(
            source, meta="embeddings", feature_embeddings={**emb, "c2": [np.nan, 0.0]}
        ).fit(X_t, y)


def test_target_subset_of_source_classes_and_unshot_message(wine):
    X, y = wine
    source = _logreg(X, y)
    two = y < 2
    est = ReFormRectifier(source, lam=np.inf).fit(X[two], y[two])
    np.testing.assert_array_equal(est.classes_, [0, 1])
    np.testing.assert_allclose(est.class_transport_, [[0.5, 0], [0, 0.5], [0, 0]])
    scores = source.decision_function(X)
    np.testing.assert_allclose(est.decision_function(X), scores[:, 1] - scores[:, 0], atol=1e-8)
    with pytest.raises(ValueError, match=r"leave them out of classes\.$"):
        ReFormRectifier(source, classes=[0, 1, 2, 7]).fit(X, y)


def test_tags_say_multiclass():
    X, y, source = _named_source()
    assert ReFormRectifier(source).__sklearn_tags__().classifier_tags.multi_class is True


def test_boolean_embeddings_count_as_numbers_and_a_list_is_refused():
    X, y, source = _named_source()
    X_t = X.assign(d=X["a"] + X["c"]).rename(columns={"c": "c1", "d": "c2"})
    source = LogisticRegression().fit(X.assign(d=X["b"] - X["c"]), y)
    # Tag indicators: c and c1 share two tags, d and c2 two others.
    tags = {"c": [1, 1, 0, 0], "d": [0, 0, 1, 1], "c1": [1, 1, 0, 0], "c2": [0, 0, 1, 1]}
    as_float = {k: np.asarray(v, dtype=float) for k, v in tags.items()}
    as_bool = {k: np.asarray(v, dtype=bool) for k, v in tags.items()}
    plans = [
        ReFormRectifier(source, meta="embeddings", feature_embeddings=e, lam=np.inf)
        .fit(X_t, y)
        .transport_
        for e in (as_float, as_bool)
    ]
    np.testing.assert_allclose(plans[1], plans[0])
    assert plans[0][2, 2] > plans[0][2, 3]
    # A list has an ``index`` method but names no feature.
    with pytest.raises(ValueError, match="feature_embeddings has no vector"):
        ReFormRectifier(source, meta="embeddings", feature_embeddings=[[1.0], [2.0]]).fit(X_t, y)


# -- mutation-testing survivors (issue 20), second pass: probabilities, source dtypes ---------


def test_predict_proba_is_the_softmax_of_the_decision_function(wine):
    from sklearn.exceptions import NotFittedError

    X, y = wine
    with pytest.raises(NotFittedError):
        ReFormRectifier(_logreg(X, y)).predict_proba(X)
    # Same features, infinite pull: the rectified model is the source, probabilities too.
    for classes in ([0, 1, 2], [0, 1]):
        keep = np.isin(y, classes)
        source = _logreg(X[keep], y[keep])
        est = ReFormRectifier(source, lam=np.inf).fit(X[keep], y[keep])
        proba = est.predict_proba(X)
        np.testing.assert_allclose(proba, source.predict_proba(X), atol=1e-8)
        # The formula the slow way: exp(score) normalized per row (binary: the logistic
        # of the one score is the probability of classes_[1]).
        scores = est.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        expected = np.exp(scores - scores.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        assert proba.shape == (len(X), len(classes))
        np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)


def test_integer_quantized_binary_source_is_read_as_numbers():
    # An 8-bit quantized source: its one binary row is split into two opposite half rows,
    # which must not be computed in int8 (-(-128) overflows to -128 there).
    X, y, _ = _named_source()
    W = np.array([[-128, 3, 2]], dtype=np.int8)
    for b in (np.array([-128], dtype=np.int8), [-128], np.int8(-128)):
        source = _linear_source(W, b, [0, 1])
        est = ReFormRectifier(source, lam=np.inf).fit(X.to_numpy(), y)
        expected = X.to_numpy() @ [-128.0, 3.0, 2.0] - 128.0
        np.testing.assert_allclose(est.decision_function(X.to_numpy()), expected)
    assert source.coef_.dtype == np.int8  # never modified


def test_float32_source_meta_is_read_in_double_precision():
    X, y, source = _named_source()
    X_t = X.rename(columns={"c": "c_new"})
    rng = np.random.RandomState(5)
    meta32 = (X + rng.normal(scale=0.3, size=X.shape) + 100.0).astype(np.float32)
    meta64 = meta32.astype(np.float64)  # the same numbers, exactly
    for m32, m64 in ((meta32, meta64), (meta32.to_numpy(), meta64.to_numpy())):
        est32 = ReFormRectifier(source, source_meta=m32, lam=np.inf).fit(X_t, y)
        est64 = ReFormRectifier(source, source_meta=m64, lam=np.inf).fit(X_t, y)
        np.testing.assert_allclose(est32.transport_, est64.transport_, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(est32.coef_, est64.coef_, rtol=1e-13)
        np.testing.assert_allclose(est32.intercept_, est64.intercept_, rtol=1e-13)


def test_generated_and_listed_names_print_as_plain_strings():
    X, y, _ = _named_source()
    # An unnamed source on an array: names x0, x1, ... print like DataFrame column names.
    source = LogisticRegression().fit(X.to_numpy(), y)
    positional = ReFormRectifier(source, lam=np.inf).fit(X.to_numpy(), y)
    named = X.set_axis(["x0", "x1", "x2"], axis=1)
    by_name = ReFormRectifier(LogisticRegression().fit(named, y), lam=np.inf).fit(named, y)
    assert repr(positional.shared_features_) == "array(['x0', 'x1', 'x2'], dtype=object)"
    assert repr(positional.shared_features_) == repr(by_name.shared_features_)
    # A source with more columns than X: the missing one vanishes, by position.
    wide = LogisticRegression().fit(X.assign(d=X["a"] * X["b"]).to_numpy(), y)
    est = ReFormRectifier(wide, lam=np.inf).fit(X.to_numpy(), y)
    assert repr(est.vanished_features_) == "array(['x3'], dtype=object)"
    # A hand-built source whose feature_names_in_ is a list of str.
    listed = LogisticRegression().fit(X, y)
    listed.feature_names_in_ = list("abc")
    est = ReFormRectifier(listed, source_meta=X, lam=np.inf).fit(
        X.rename(columns={"c": "c_new"}), y
    )
    assert repr(est.vanished_features_) == "array(['c'], dtype=object)"
    assert repr(est.shared_features_) == "array(['a', 'b'], dtype=object)"


def test_evidence_spanning_exactly_log_10_is_not_flat(monkeypatch):
    # The source is kept when the log evidence spans *less* than log 10 (odds of 10 to
    # 1, Kass and Raftery's "strong"); at exactly log 10 the candidates are averaged.
    rng = np.random.RandomState(0)
    W_src = rng.normal(size=(1, 3))
    priors = {
        "shared": (W_src * [1, 1, 0], np.zeros(1)),
        "carried": (W_src, np.zeros(1)),
        "none": (np.zeros((1, 3)), np.zeros(1)),
    }
    Z = rng.normal(size=(6, 3))
    y = np.array([0, 1, 0, 1, 1, 0])
    calls = []

    def log_evidence(*args, **kwargs):
        calls.append(None)
        return np.log(10) if len(calls) == 1 else 0.0  # ("shared", inf) first

    monkeypatch.setattr(_reform_module, "biased_logistic_log_evidence", log_evidence)
    est = ReFormRectifier(LogisticRegression())
    est.classes_ = np.array([0, 1])
    est._combine_priors(Z, y, priors)
    n_finite = len(est.candidates_) - 2
    np.testing.assert_allclose(
        est.candidate_weights_, np.r_[0.0, 0.0, np.full(n_finite, 1 / n_finite)]
    )


def test_a_constant_column_is_constant_whatever_its_rounding():
    # The mean of 120 copies of 0.1 is not 0.1 in floating point: the column's computed
    # standard deviation was 1e-17, the column passed as informative and got a weight
    # of 1e17 (its standardized values, +-1, were rounding noise).
    X, y, source = _named_source()
    for value in (0.1, 3.7, 1e-300, -2e8):
        col = np.full(len(X), value)
        X_t = X.drop(columns="c").assign(c_new=col)
        with pytest.raises(ValueError, match=r"Target column\(s\) \['c_new'\] are constant"):
            ReFormRectifier(source, source_meta=X).fit(X_t, y)
        mean, std, Z = _reform_module._standardize(np.column_stack([col, X["a"], col]))
        np.testing.assert_array_equal(mean[[0, 2]], value)
        np.testing.assert_array_equal(std[[0, 2]], 0.0)
        np.testing.assert_array_equal(Z[:, [0, 2]], 0.0)
        np.testing.assert_allclose(Z[:, 1], (X["a"] - X["a"].mean()) / X["a"].std(ddof=0))


def test_error_messages_in_full():
    # Each refusal says what is wrong and what to do, with the offending values (at
    # most five of them).
    import re

    from sklearn.tree import DecisionTreeClassifier

    X, y, source = _named_source()
    X_t = X.rename(columns={"c": "c_new"})
    unnamed = LogisticRegression().fit(X.to_numpy(), y)
    wide_cols = list("abcdefg")
    wide_X = pd.DataFrame(
        np.random.RandomState(2).normal(size=(len(X), 7)), columns=wide_cols
    ).assign(a=X["a"])
    wide = LogisticRegression().fit(wide_X, y)
    renamed = wide_X.set_axis(["a"] + [f"n{k}" for k in range(1, 7)], axis=1)
    y8 = np.arange(len(X)) % 8
    W, b = np.array([[0.5, -1.0, 0.2], [-0.3, 0.4, 1.1]]), np.array([0.3, -0.2])
    cases = [
        (
            lambda: ReFormRectifier(
                make_pipeline(StandardScaler(), StandardScaler(), LogisticRegression()).fit(X, y)
            ).fit(X, y),
            TypeError,
            "source: a Pipeline source may only hold one StandardScaler before its linear "
            "classifier, got steps ['StandardScaler', 'StandardScaler'].",
        ),
        (
            lambda: ReFormRectifier(DecisionTreeClassifier().fit(X, y)).fit(X, y),
            TypeError,
            "source must be a fitted linear classifier (with coef_, intercept_ and classes_, "
            "e.g. LogisticRegression), or a Pipeline of a StandardScaler and one; "
            "DecisionTreeClassifier lacks ['coef_', 'intercept_'].",
        ),
        (
            lambda: ReFormRectifier(_linear_source(W[:1], b[:1], [0, 1, 2])).fit(X.to_numpy(), y),
            ValueError,
            "source: coef_ has 1 rows for 3 classes; expected one row per class (or one row "
            "for two classes).",
        ),
        (
            lambda: ReFormRectifier(
                make_pipeline(StandardScaler(with_mean=False), LogisticRegression()).fit(X, y)
            ).fit(X, y),
            TypeError,
            "source: the StandardScaler of a Pipeline source must center and scale "
            "(with_mean=True, with_std=True).",
        ),
        (
            lambda: ReFormRectifier(source, meta="embeddings").fit(X_t, y),
            ValueError,
            "meta='embeddings' needs feature_embeddings.",
        ),
        (
            lambda: ReFormRectifier(wide, meta="embeddings", feature_embeddings={}).fit(renamed, y),
            ValueError,
            "feature_embeddings has no vector for ['b', 'c', 'd', 'e', 'f'].",
        ),
        (
            lambda: ReFormRectifier(source).fit(X_t, y),
            ValueError,
            "Features vanished and new ones appeared, so they must be matched, which needs "
            "meta-representations of the source's features: pass source_meta (unlabeled rows "
            "of source-domain data), or meta='embeddings' with feature_embeddings (e.g. "
            "embeddings of the column descriptions).",
        ),
        (
            lambda: ReFormRectifier(source, source_meta=X.iloc[:50], meta="data").fit(X_t, y),
            ValueError,
            "meta='data' needs source_meta to hold the same instances as X, row for row; got "
            "50 and 120 rows.",
        ),
        (
            lambda: ReFormRectifier(source, source_meta=X).fit(
                X.set_axis(["p", "q", "r"], axis=1), y
            ),
            ValueError,
            "No column of X is shared with the source (by name), so meta='correlation' has "
            "nothing to correlate features with. Name the shared columns alike, pass "
            "meta='data' with source_meta holding the same instances as X, or "
            "meta='embeddings' with feature_embeddings.",
        ),
        (
            lambda: ReFormRectifier(unnamed, target_features=list("abc")).fit(X.to_numpy(), y),
            ValueError,
            "target_features is given but the source has no feature names: pass "
            "source_features too, or leave both out to match columns by position.",
        ),
        (
            lambda: ReFormRectifier(source, target_features=["a", "b"]).fit(X.to_numpy(), y),
            ValueError,
            "target_features has 2 names but X has 3 features.",
        ),
        (
            lambda: ReFormRectifier(source, target_features=list("cba")).fit(X, y),
            ValueError,
            "target_features differs from the columns of the DataFrame X; leave "
            "target_features out for DataFrame input.",
        ),
        (
            lambda: ReFormRectifier(source).fit(X.to_numpy(), y),
            ValueError,
            "X has no column names but the source's features are named: pass X as a "
            "DataFrame, or name its columns with target_features.",
        ),
        (
            lambda: ReFormRectifier(source, classes=range(8), lam=np.inf).fit(X, y),
            ValueError,
            "Classes [2, 3, 4, 5, 6] have no labelled rows and are not source classes: "
            "nothing says what they look like. Give them shots or leave them out of classes.",
        ),
        (
            lambda: ReFormRectifier(source, classes=[0, 1]).fit(X, y8),
            ValueError,
            "y contains labels [2, 3, 4, 5, 6] that are not in classes [0, 1].",
        ),
        (
            lambda: ReFormRectifier(wide, source_meta=wide_X[["a"]]).fit(wide_X, y),
            ValueError,
            "source_meta lacks the source columns ['b', 'c', 'd', 'e', 'f'].",
        ),
        (
            lambda: ReFormRectifier(source, source_meta=X[["a", "b"]].to_numpy()).fit(X, y),
            ValueError,
            "source_meta has 2 columns but the source has 3 features.",
        ),
    ]
    for call, exc, message in cases:
        with pytest.raises(exc, match=f"^{re.escape(message)}$"):
            call()
