"""The demos behind ``python -m skreuse demo [name]``.

A demo is a function ``(*, output, quick, random_state) -> str`` that prints as it goes,
saves its figure to ``output`` and returns its summary table. Adding a demo is one such
function and one ``@_register`` line above it.
"""

import time
from pathlib import Path

import numpy as np

# name -> (function, one-line description, default figure path)
DEMOS = {}
DEFAULT_DEMO = "main"


def _register(name, description, output=None):
    """Add the decorated function to ``DEMOS``; its figure goes to ``output`` by default."""

    def decorator(func):
        DEMOS[name] = (func, description, output or f"skreuse_demo_{name}.png")
        return func

    return decorator


def _run_demo(name=DEFAULT_DEMO, *, output=None, quick=False, random_state=0):
    """Run the demo ``name``; returns its summary table (also printed)."""
    if name not in DEMOS:
        raise ValueError(f"Unknown demo {name!r}; available: {', '.join(sorted(DEMOS))}.")
    func, _, default_output = DEMOS[name]
    return func(output=Path(output or default_output), quick=quick, random_state=random_state)


def _format_table(header, rows, floatfmt="{:.3f}"):
    """Plain-text table: left-aligned first column, right-aligned numbers."""
    cells = [[str(h) for h in header]]
    for row in rows:
        cells.append(
            [
                floatfmt.format(v)
                if isinstance(v, float) and np.isfinite(v)
                else ("-" if isinstance(v, float) else str(v))
                for v in row
            ]
        )
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    lines = []
    for i, r in enumerate(cells):
        parts = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _draw_shots(y, pool, n_shots, rng):
    """``n_shots`` rows per class drawn from the row indices ``pool``."""
    return np.concatenate(
        [rng.choice(pool[y[pool] == c], n_shots, replace=False) for c in np.unique(y)]
    )


@_register(
    "main", "rank a model zoo with LogME, reuse the best, compare with training from scratch"
)
def _demo_main(*, output, quick, random_state):
    import warnings

    from scipy.stats import kendalltau
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    from .datasets import make_model_zoo
    from .inference import NCMClassifier
    from .selection import LogMESelector
    from .training import HypothesisTransferClassifier
    from .utils import import_optional

    # Fail before a minute of work, not at the figure.
    import_optional("matplotlib", purpose="for the demo's figure")
    start = time.perf_counter()
    rng = np.random.RandomState(random_state)
    n_rank_shots = 20
    shot_counts = (1, 5) if quick else (1, 2, 5, 10, 20)
    n_repeats = 1 if quick else 5

    print("skreuse demo: which pre-trained model should I reuse, and how much does it help?\n")
    print("Building the model zoo (real models, trained offline on scikit-learn's digits)...")
    zoo = make_model_zoo("digits", random_state=random_state)
    meta = zoo.metadata
    X, y = zoo.X_target, zoo.y_target
    print(zoo.DESCR + "\n")

    # The target rows: a labeled set to rank on (as a user would label a few rows), a
    # pool the few-shot training sets are drawn from, and a test set nobody trains on.
    rank_rows = _draw_shots(y, np.arange(len(y)), n_rank_shots, rng)
    rest = np.setdiff1d(np.arange(len(y)), rank_rows)
    test_rows = rest[rng.permutation(len(rest))[: len(rest) // 2]]
    pool = np.setdiff1d(rest, test_rows)
    classifiers = [(n, m) for n, m in zoo.models if meta.loc[n, "kind"] == "classifier"]

    def linear_head():
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    n_steps = 4 + len(zoo.models) + len(shot_counts) * n_repeats
    with (
        tqdm(total=n_steps, desc="skreuse demo", unit="step", leave=False) as bar,
        warnings.catch_warnings(),
        # Every problem here is small: BLAS threads would only add overhead.
        threadpool_limits(limits=1, user_api="blas"),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        # The selector's warning at k=1 (one labelled row per class): the text says it.
        warnings.filterwarnings("ignore", message="Each class has one labelled row")
        # NCM's at k=1 and 2, that it kept the backbone without comparing it with the
        # pixels: here the backbone was ranked first on 20 labelled rows per class.
        warnings.filterwarnings("ignore", message=r"NCMClassifier\(features='auto'\) kept")
        Xr, yr = X[rank_rows], y[rank_rows]
        scores = {}
        selector = LogMESelector(zoo.models, metric="logme").fit(Xr, yr)
        scores["LogME"] = selector.scores_
        bar.update()
        for metric in ("leep", "nce"):
            # LEEP and NCE read a source classifier's predictions: classifiers only.
            scores[metric.upper()] = LogMESelector(classifiers, metric=metric).fit(Xr, yr).scores_
            bar.update()

        # Ground truth: what each model is worth on the target once a new head is trained
        # on its outputs with the ranking labels (the model itself stays frozen).
        probe = {}
        for name, model in zoo.models:
            # A selector with a single candidate is that model with a new head on top.
            one = LogMESelector([(name, model)], estimator=linear_head()).fit(Xr, yr)
            probe[name] = one.score(X[test_rows], y[test_rows])
            bar.update()

        best = selector.ranking_[0]
        best_classifier = next(n for n in selector.ranking_ if meta.loc[n, "kind"] == "classifier")
        best_model = dict(zoo.models)[best_classifier]

        methods = {
            "scratch (logistic regression)": lambda: linear_head(),
            "LogMESelector + linear head": lambda: LogMESelector(
                zoo.models, estimator=linear_head()
            ),
            # lam="auto": how much of the source to keep and how strongly to pull the
            # linear correction are chosen on the few labelled rows.
            f"HypothesisTransfer({best_classifier})": lambda: HypothesisTransferClassifier(
                best_model, mode="residual", tol=1e-4
            ),
            f"NCM on {best} features": lambda: NCMClassifier(backbone=selector),
        }
        curves = {m: np.zeros((len(shot_counts), n_repeats)) for m in methods}
        for i, k in enumerate(shot_counts):
            for r in range(n_repeats):
                train = _draw_shots(y, pool, k, rng)
                for method, make in methods.items():
                    est = make().fit(X[train], y[train])
                    curves[method][i, r] = est.score(X[test_rows], y[test_rows])
                bar.update()
        bar.update()

    names = list(selector.ranking_)
    rank_rows_table = [
        (
            n,
            meta.loc[n, "kind"],
            scores["LogME"][n],
            scores["LEEP"].get(n, np.nan),
            scores["NCE"].get(n, np.nan),
            probe[n],
        )
        for n in names
    ]
    taus = {}
    for metric, s in scores.items():
        ranked = [n for n in names if n in s]
        taus[metric] = (
            kendalltau([s[n] for n in ranked], [probe[n] for n in ranked])[0],
            len(ranked),
        )

    out = []
    out.append(
        f"1. Ranking the zoo with {n_rank_shots} labeled target rows per class "
        f"({len(rank_rows)} rows); 'probe acc.' is the accuracy on {len(test_rows)} "
        "held-out target rows of a new logistic-regression head trained on the model's "
        "outputs (the model frozen). 'LogME' is the selector's score: each class's evidence "
        "capped at 0, so models that predict every class almost exactly on these rows tie "
        "at 0.000 (LogMESelector's Notes say how ties are ranked)."
    )
    out.append(
        _format_table(
            ["model (LogME order)", "kind", "LogME", "LEEP", "NCE", "probe acc."],
            rank_rows_table,
        )
    )
    out.append(
        "Kendall tau between score and probe accuracy: "
        + ", ".join(f"{m} {t:+.2f} ({n} models)" for m, (t, n) in taus.items())
    )
    out.append("")
    out.append(
        f"2. Reusing the best model ({best!r}; best classifier {best_classifier!r}) with k "
        f"labeled target rows per class: mean accuracy on the held-out rows over "
        f"{n_repeats} draw(s)."
    )
    out.append(
        _format_table(
            ["method"] + [f"k={k}" for k in shot_counts],
            [(m, *c.mean(axis=1).tolist()) for m, c in curves.items()],
        )
    )
    out.append(
        "scratch: StandardScaler + LogisticRegression on the k labeled rows per class only.\n"
        "LogMESelector + linear head: ranks the zoo again on those rows, trains a head on the "
        "winner's outputs (at k=1 the ranking cannot read the labels: its warning, silenced "
        "here, says why).\n"
        f"HypothesisTransfer: the scores of {best_classifier} plus a linear correction "
        "(mode='residual'), the source's share and the penalty chosen on the labelled "
        "rows by held-out log-likelihood (lam='auto').\n"
        f"NCM: nearest class mean of the outputs of {best}; no training beyond the means."
    )
    table = "\n".join(out)
    print(table)

    _plot_main(output, names, scores["LogME"], probe, taus["LogME"][0], shot_counts, curves)
    elapsed = time.perf_counter() - start
    print(f"\nSaved the figure to {output} ({elapsed:.0f} s in all).")
    return table


def _plot_main(output, names, logme, probe, tau, shot_counts, curves):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5.2), layout="constrained")
    ax_rank, ax_curve = fig.subplots(1, 2, width_ratios=[1, 1.15])
    order = names[::-1]  # best at the top
    pos = np.arange(len(order))
    values = np.array([logme[n] for n in order])
    colors = ["tab:blue" if i == len(order) - 1 else "tab:gray" for i in range(len(order))]
    bars = ax_rank.barh(pos, values, color=colors)
    ax_rank.set_yticks(pos, order)
    ax_rank.axvline(0, color="black", lw=0.6)
    ax_rank.set_xlabel("LogME score on the target (higher = predicted more transferable)")
    ax_acc = ax_rank.twiny()
    (dots,) = ax_acc.plot([probe[n] for n in order], pos, "o", color="tab:orange")
    ax_acc.set_xlabel("probe accuracy on held-out target rows", color="tab:orange")
    ax_acc.tick_params(axis="x", colors="tab:orange")
    ax_rank.set_title(f"Ranking the zoo: LogME vs. actual accuracy (Kendall tau = {tau:.2f})")
    ax_rank.legend(
        [bars[-1], bars[0], dots],
        ["LogME, the selected model", "LogME, the others", "probe accuracy"],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncols=3,
        frameon=False,
    )

    for method, acc in curves.items():
        mean, std = acc.mean(axis=1), acc.std(axis=1)
        (line,) = ax_curve.plot(shot_counts, mean, "o-", label=method)
        ax_curve.fill_between(
            shot_counts, mean - std, mean + std, alpha=0.15, color=line.get_color()
        )
    ax_curve.set_xscale("log")
    ax_curve.set_xticks(shot_counts, [str(k) for k in shot_counts])
    ax_curve.minorticks_off()
    ax_curve.set_xlabel("labeled target rows per class (k)")
    ax_curve.set_ylabel("accuracy on held-out target rows")
    ax_curve.set_title("Reusing the best model vs. training from scratch")
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(loc="lower right")
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)


# Shared pieces of the sub-demos below.


def _quiet():
    """Context: ConvergenceWarning silenced and one BLAS thread (every problem is small)."""
    import contextlib
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore", ConvergenceWarning)
    stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
    return stack


def _digits_split(random_state, scale):
    """Digits (standardized, or scaled to [0, 1]) split in halves, stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X) if scale == "standard" else X / 16.0
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=random_state)


def _mean_std_rows(results):
    """``{name: [value per seed]}`` -> table rows ``(name, mean, std)``."""
    return [(name, float(np.mean(v)), float(np.std(v))) for name, v in results.items()]


def _barh(ax, rows, xlabel, title):
    """Horizontal bars of ``(name, mean, std)`` rows, the first row at the top."""
    names, means, stds = zip(*rows[::-1])
    # The first row is the baseline: grey; the others blue.
    ax.barh(names, means, xerr=stds, color=["tab:blue"] * (len(rows) - 1) + ["tab:gray"])
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)


def _finish(fig, output, table, start):
    """Print the table, save the figure, report the time; returns the table."""
    print(table)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    print(f"\nSaved the figure to {output} ({time.perf_counter() - start:.0f} s in all).")
    return table


def _figure(ncols, figsize):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


@_register("rkme", "find models by their RKME specification and reuse them (learnware)")
def _demo_rkme(*, output, quick, random_state):
    from sklearn.linear_model import LogisticRegression

    from .specification import RKMEReuser, RKMESpecification

    start = time.perf_counter()
    print("skreuse demo: a zoo of models, each published with an RKME specification.\n")
    X_train, X_test, y_train, y_test = _digits_split(random_state, scale="standard")
    groups = {"digits 0-2": [0, 1, 2], "digits 3-5": [3, 4, 5], "digits 6-9": [6, 7, 8, 9]}
    users = {"one group (3-5)": ["digits 3-5"], "mixture (0-2 + 6-9)": ["digits 0-2", "digits 6-9"]}
    methods = ("best", "average", "job_selector")
    gamma = 1.0 / 64  # one kernel for the whole zoo, as a learnware market uses
    weights, accuracy, spec_rows = {}, {}, []
    with _quiet():
        zoo = []
        for name, classes in groups.items():
            rows = np.isin(y_train, classes)
            model = LogisticRegression(max_iter=500).fit(X_train[rows], y_train[rows])
            spec = RKMESpecification(
                n_reduced=10 if quick else 30, gamma=gamma, random_state=random_state
            ).fit(X_train[rows])
            zoo.append((name, model, spec))
        for user, members in users.items():
            rows = np.isin(y_test, sum((groups[g] for g in members), []))
            X_user, y_user = X_test[rows], y_test[rows]
            fitted = {
                m: RKMEReuser(
                    zoo, method=m, n_samples=500 if quick else 2000, random_state=random_state
                ).fit(X_user)
                for m in methods
            }
            reuser = fitted["job_selector"]
            weights[user] = [reuser.mixture_weights_[g] for g in groups]
            spec_rows += [
                (user, g, reuser.distances_[g], reuser.mixture_weights_[g]) for g in groups
            ]
            accuracy[user] = [fitted[m].score(X_user, y_user) for m in methods]

    table = "\n".join(
        [
            "1. Each user's unlabeled rows against every specification: squared MMD to the "
            "user's data and weight in the closest mixture of specifications.",
            _format_table(
                ["user / model", "model", "MMD^2", "mixture weight"], spec_rows, "{:.4f}"
            ),
            "",
            "2. Accuracy on the user's rows of RKMEReuser(method=...): no labels used.",
            _format_table(["user", *methods], [(u, *a) for u, a in accuracy.items()]),
        ]
    )
    fig, (ax_w, ax_a) = _figure(2, (11, 4))
    width = 0.8 / len(users)
    for i, user in enumerate(users):
        ax_w.bar(np.arange(len(groups)) + i * width, weights[user], width, label=user)
        ax_a.bar(np.arange(len(methods)) + i * width, accuracy[user], width, label=user)
    ax_w.set_xticks(np.arange(len(groups)) + width / 2, list(groups))
    ax_w.set_ylabel("mixture weight")
    ax_w.set_title("Which specifications match the user's data")
    ax_a.set_xticks(np.arange(len(methods)) + width / 2, methods)
    ax_a.set_ylabel("accuracy on the user's rows")
    ax_a.set_title("Reusing the zoo with RKMEReuser")
    for ax in (ax_w, ax_a):
        ax.set_ylim(0, 1.2)  # room for the legend above the bars
        ax.legend(loc="upper center", ncols=2)
    return _finish(fig, output, table, start)


@_register("hmr", "calibrate three parties' local models by exchanging a few rows (HMR)")
def _demo_hmr(*, output, quick, random_state):
    from matplotlib import colormaps

    from .datasets import make_hmr_toy
    from .multiparty import HMRCalibrator
    from .plotting import CalibrationHistoryDisplay

    start = time.perf_counter()
    print("skreuse demo: three parties, each knowing some of five classes, calibrate by HMR.\n")
    # Party 0 has classes 0-1, party 1 classes 2-3, party 2 classes 3-4 (class 3 is split).
    task = make_hmr_toy(random_state=random_state)
    X_train, y_train, groups = task.X_train, task.y_train, task.groups
    X_test, y_test = task.X_test, task.y_test
    parties = task.parties
    budget = 30 if quick else 50
    with _quiet():
        before = HMRCalibrator(parties, budget=0).fit(X_train, y_train, groups=groups)
        hmr = HMRCalibrator(parties, budget=budget, random_state=random_state)
        hmr.fit(X_train, y_train, groups=groups)
    table = "\n".join(
        [
            f"Test accuracy of the global model on {len(y_test)} rows (budget: {budget} rows).",
            _format_table(
                ["stage", "test accuracy", "train accuracy", "rows communicated"],
                [
                    ("before calibration", before.score(X_test, y_test), hmr.history_[0], 0),
                    (
                        "after calibration",
                        hmr.score(X_test, y_test),
                        hmr.history_[-1],
                        hmr.n_communicated_,
                    ),
                ],
            ),
            "reserved classes learned: "
            + ", ".join(f"{n} {r.tolist()}" for (n, _), r in zip(parties, hmr.reserved_classes_)),
        ]
    )
    fig, (ax_h, ax_b, ax_a) = _figure(3, (15, 4.2))
    CalibrationHistoryDisplay.from_estimator(hmr, ax=ax_h, name="training rows")
    ax_h.set_title("Training accuracy against communicated rows")
    # The regions take the colours the scatter gives the classes.
    class_colors = colormaps["tab10"].colors[:5]
    xx, yy = np.meshgrid(np.linspace(-2, 2, 160), np.linspace(-1, 1.5, 120))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    for ax, model, title in [(ax_b, before, "before HMR"), (ax_a, hmr, "after HMR")]:
        regions = model.predict(grid).reshape(xx.shape)
        ax.contourf(xx, yy, regions, levels=np.arange(6) - 0.5, colors=class_colors, alpha=0.4)
        ax.scatter(X_test[:, 0], X_test[:, 1], c=y_test, cmap="tab10", vmin=0, vmax=9, s=3)
        ax.set_title(f"{title} (test accuracy {model.score(X_test, y_test):.2f})")
    return _finish(fig, output, table, start)


@_register("fusion", "fuse two MLPs trained from different seeds: OT fusion vs averaging")
def _demo_fusion(*, output, quick, random_state):
    from sklearn.neural_network import MLPClassifier

    from .inference import OTFusion, WeightAveraging

    start = time.perf_counter()
    print("skreuse demo: fusing two MLPs (64-32-32-10) trained on digits from different seeds.\n")
    X_train, X_test, y_train, y_test = _digits_split(random_state, scale="unit")
    methods = {
        "naive average": lambda models: WeightAveraging(models),
        "OT fusion (activation)": lambda models: OTFusion(models, align="activation"),
        "permutation": lambda models: OTFusion(
            models, align="permutation", random_state=random_state
        ),
    }
    n_seeds = 1 if quick else 3
    results = {"individual models": [], **{name: [] for name in methods}}
    with _quiet():
        for seed in range(n_seeds):
            models = [
                MLPClassifier((32, 32), max_iter=50, random_state=2 * seed + i).fit(
                    X_train, y_train
                )
                for i in range(2)
            ]
            results["individual models"].append(np.mean([m.score(X_test, y_test) for m in models]))
            for name, make in methods.items():
                results[name].append(make(models).fit(X_train, y_train).score(X_test, y_test))
    rows = _mean_std_rows(results)
    table = "\n".join(
        [
            f"Digits test accuracy ({len(y_test)} rows), mean and std over {n_seeds} pair(s).",
            _format_table(["method", "accuracy", "std"], rows),
        ]
    )
    fig, (ax,) = _figure(1, (7, 3.5))
    _barh(ax, rows, "test accuracy", "Fusing two MLPs trained from different seeds")
    return _finish(fig, output, table, start)


@_register("reform", "rectify a model whose columns changed with ReForm (few labeled rows)")
def _demo_reform(*, output, quick, random_state):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .datasets import make_reform_task
    from .training import ReFormRectifier

    def logreg(X, y):
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)

    start = time.perf_counter()
    print(
        "skreuse demo: breast cancer, the 10 'mean' columns vanished and the 10 'worst' "
        "ones are new;\n5 labeled target rows per class.\n"
    )
    n_seeds = 2 if quick else 5
    results = {"target-only": [], "source on shared": [], "ReFormRectifier": []}
    with _quiet():
        for seed in range(random_state, random_state + n_seeds):
            task = make_reform_task("breast_cancer_mean_to_worst", n_shots=5, random_state=seed)
            source = logreg(task.X_source, task.y_source)
            X_fit = pd.concat([task.X_target, task.X_target_unlabeled])
            y_fit = np.r_[task.y_target, np.full(len(task.X_target_unlabeled), -1)]  # unlabeled
            X_test, y_test = task.X_test, task.y_test
            # The source as is: vanished columns at their source mean.
            X_src = pd.DataFrame(
                {
                    c: X_test[c] if c in task.target_features else task.X_source[c].mean()
                    for c in task.source_features
                }
            )
            reform = ReFormRectifier(source, source_meta=task.X_source).fit(X_fit, y_fit)
            results["target-only"].append(
                logreg(task.X_target, task.y_target).score(X_test, y_test)
            )
            results["source on shared"].append(source.score(X_src, y_test))
            results["ReFormRectifier"].append(reform.score(X_test, y_test))
    rows = _mean_std_rows(results)
    table = "\n".join(
        [
            f"Test accuracy on the target, mean and std over {n_seeds} seeds.",
            _format_table(["method", "accuracy", "std"], rows),
            "target-only: logistic regression on the 10 labeled rows; source on shared: the "
            "old model, vanished columns at their old mean.",
        ]
    )
    fig, (ax,) = _figure(1, (7, 3))
    _barh(ax, rows, "test accuracy", "Breast cancer: 'mean' columns replaced by 'worst'")
    return _finish(fig, output, table, start)


@_register("tree", "learn a readable tree from a strong teacher (twice learning, NeC4.5)")
def _demo_tree(*, output, quick, random_state):
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import BaggingClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    from .interpretable import TwiceLearningTreeClassifier

    start = time.perf_counter()
    print(
        "skreuse demo: breast cancer, a plain tree vs a tree learned from bagged MLPs, "
        "both with min_samples_leaf=5.\n"
    )
    X, y = load_breast_cancer(return_X_y=True)
    n_seeds = 2 if quick else 5
    accuracy = {"teacher (5 bagged MLPs)": [], "plain tree": [], "twice-learned tree": []}
    fidelity = {name: [] for name in accuracy}
    leaves = {name: [] for name in accuracy}
    with _quiet():
        for seed in range(random_state, random_state + n_seeds):
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=0.5, stratify=y, random_state=seed
            )
            network = make_pipeline(
                StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=200)
            )
            teacher = BaggingClassifier(network, n_estimators=5, random_state=seed)
            y_teacher = teacher.fit(X_tr, y_tr).predict(X_te)
            plain = DecisionTreeClassifier(
                criterion="entropy", min_samples_leaf=5, random_state=seed
            ).fit(X_tr, y_tr)
            twice = TwiceLearningTreeClassifier(
                teacher, prefit=True, extra_ratio=3.0, min_samples_leaf=5, random_state=seed
            ).fit(X_tr, y_tr)
            for name, pred, n_leaves in [
                ("teacher (5 bagged MLPs)", y_teacher, np.nan),
                ("plain tree", plain.predict(X_te), plain.get_n_leaves()),
                ("twice-learned tree", twice.predict(X_te), twice.tree_.get_n_leaves()),
            ]:
                accuracy[name].append(np.mean(pred == y_te))
                fidelity[name].append(np.mean(pred == y_teacher))
                leaves[name].append(n_leaves)
    rows = [
        (
            *row,
            float(np.mean(fidelity[row[0]])),
            f"{np.mean(leaves[row[0]]):.1f}".replace("nan", "-"),
        )
        for row in _mean_std_rows(accuracy)
    ]
    table = "\n".join(
        [
            f"Test accuracy, fidelity (agreement with the teacher) and leaves; mean over "
            f"{n_seeds} seeds (half the rows train, half test).",
            _format_table(["model", "accuracy", "std", "fidelity", "leaves"], rows),
        ]
    )
    fig, (ax_acc, ax_fid) = _figure(2, (11, 3))
    _barh(ax_acc, [r[:3] for r in rows], "test accuracy", "Accuracy")
    _barh(ax_fid, _mean_std_rows(fidelity), "agreement with the teacher", "Fidelity")
    for ax in (ax_acc, ax_fid):
        ax.set_xlim(0.8, 1)
    return _finish(fig, output, table, start)


def _market_zoo(random_state):
    """52 models on bundled data sets: class subsets, column subsets, both tasks.

    Returns ``(models, users)``: ``models`` is a list of ``(name, model, X_train_frame,
    tags)``; ``users`` maps a user's name to ``(X_frame, y)`` of held-out rows.
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import GaussianNB
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from .datasets._base import _load

    def split(name):
        X, y, names, _, _ = _load(name)
        # Published data are standardized, so one market-wide kernel width fits them all.
        X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
        frame = pd.DataFrame(X, columns=[f"{name}_{c}" if name == "digits" else c for c in names])
        return train_test_split(frame, y, test_size=0.4, random_state=random_state)

    models, users = [], {}

    def add(name, estimator, X, y, tags):
        models.append((name, estimator.fit(X, y), X, tags))

    X_tr, X_te, y_tr, y_te = split("digits")
    subsets = [
        (0, 1, 2), (3, 4, 5), (6, 7, 8, 9), (0, 1), (2, 3), (4, 5), (6, 7), (8, 9),
        (0, 1, 2, 3, 4), (5, 6, 7, 8, 9), (1, 7), (3, 8), (0, 6), (2, 5, 8), (1, 4, 9),
    ]  # fmt: skip
    for classes in subsets:
        rows, label = np.isin(y_tr, classes), "".join(map(str, classes))
        add(f"digits_{label}_lr", LogisticRegression(max_iter=300), X_tr[rows], y_tr[rows],
            ["digits"])  # fmt: skip
        add(f"digits_{label}_nb", GaussianNB(), X_tr[rows], y_tr[rows], ["digits"])
    # Models that saw only the left half of each image (a column subset).
    left = [c for c in X_tr.columns if int(c.rsplit("_", 1)[1]) < 4]
    for classes in [(0, 1, 2), (3, 4, 5), (6, 7, 8, 9)]:
        rows, label = np.isin(y_tr, classes), "".join(map(str, classes))
        X_left = X_tr.loc[rows, left]
        add(f"digits_{label}_left_lr", LogisticRegression(max_iter=300), X_left, y_tr[rows],
            ["digits", "left half"])  # fmt: skip
        add(f"digits_{label}_left_tree", DecisionTreeClassifier(max_depth=8, random_state=0),
            X_left, y_tr[rows], ["digits", "left half"])  # fmt: skip
    users["digits 3-5"] = (X_te[np.isin(y_te, (3, 4, 5))], y_te[np.isin(y_te, (3, 4, 5))])
    mix = np.isin(y_te, (0, 1, 2, 6, 7, 8, 9))
    users["digits 0-2 + 6-9"] = (X_te[mix], y_te[mix])

    for dataset in ("wine", "breast_cancer"):
        X_tr, X_te, y_tr, y_te = split(dataset)
        cols = list(X_tr.columns)
        for j in range(3):
            subset = cols[j::3]
            add(f"{dataset}_cols{j}_lr", LogisticRegression(max_iter=1000), X_tr[subset], y_tr,
                [dataset])  # fmt: skip
            add(f"{dataset}_cols{j}_tree", DecisionTreeClassifier(max_depth=4, random_state=0),
                X_tr[subset], y_tr, [dataset])  # fmt: skip
    users["breast cancer, all 30 columns"] = (X_te, y_te)

    X_tr, _, y_tr, _ = split("diabetes")
    for part, rows in {"young": X_tr["age"] < 0, "old": X_tr["age"] >= 0}.items():
        add(f"diabetes_{part}_ridge", Ridge(), X_tr[rows], y_tr[rows], ["diabetes"])
        add(f"diabetes_{part}_tree", DecisionTreeRegressor(max_depth=4, random_state=0),
            X_tr[rows], y_tr[rows], ["diabetes"])  # fmt: skip
    return models, users


@_register("market", "a market of 52 models: find the right ones for unlabeled data, reuse them")
def _demo_market(*, output, quick, random_state):
    import tempfile

    from .market import ModelMarket

    start = time.perf_counter()
    print("skreuse demo: a model market. Developers add models with RKME specifications;")
    print("a user with unlabeled rows searches it and reuses what it finds.\n")
    sections, results = [], {}
    with _quiet(), tempfile.TemporaryDirectory() as tmp:
        models, users = _market_zoo(random_state)
        market = ModelMarket(tmp, n_reduced=20 if quick else 50, random_state=random_state)
        t0 = time.perf_counter()
        for name, model, X, tags in models:
            market.add(name, model, X, tags=tags)
        sections.append(
            f"Market: {len(market)} models added in {time.perf_counter() - t0:.1f} s "
            f"(kernel width gamma = {market.gamma_:.4f} for all)."
        )
        rng = np.random.default_rng(random_state)
        for user, (X, y) in users.items():
            found = market.search(X, k=10, task="classification")
            usable = found[found["reason"].isna()]
            skipped = found[found["reason"].notna()]
            rows = [
                (r.name, r.mmd2, r.weight, "all" if r.columns is None else f"{len(r.columns)} cols")
                for r in usable.itertuples()
            ]
            sections += [
                f"\nUser '{user}': {len(X)} unlabeled rows, {X.shape[1]} columns. Search:",
                _format_table(["model", "MMD^2", "weight", "columns"], rows, "{:.4f}"),
                f"({len(skipped)} models skipped, e.g. {skipped['name'].iloc[0]}: "
                f"{skipped['reason'].iloc[0]})"
                if len(skipped)
                else "(no model skipped)",
            ]
            reuser = market.reuser(X, k=10, method="job_selector", task="classification")
            # Every classifier that can read the user's columns, scored with the labels the
            # user does not have: the best is the oracle, their mean a random pick.
            every = market.search(X, k=len(market), task="classification")
            every = every[every["reason"].isna()]
            accs = []
            for name, cols in zip(every["name"], every["columns"]):
                model = market.load(name)
                accs.append(float(np.mean(model.predict(X if cols is None else X[cols]) == y)))
            accs = np.array(accs)
            results[user] = (
                reuser.score(X, y),
                accs.max(),
                float(accs.mean()),
                float(accs[rng.integers(len(accs))]),
            )
        market.close()
    sections += [
        "\nAccuracy on each user's rows (labels used only here, to score):",
        _format_table(
            ["user", "market reuse", "oracle model", "random pick (mean)", "one random pick"],
            [(u, *r) for u, r in results.items()],
        ),
    ]
    table = "\n".join(sections)
    fig, (ax,) = _figure(1, (9, 4))
    labels = ["market reuse", "oracle model", "random pick (mean)"]
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        ax.bar(
            np.arange(len(results)) + i * width,
            [r[i] for r in results.values()],
            width,
            label=label,
        )
    ax.set_xticks(np.arange(len(results)) + width, list(results))
    ax.set_ylabel("accuracy on the user's rows")
    ax.set_ylim(0, 1.2)
    ax.legend(loc="upper center", ncols=3)
    ax.set_title("Models found in a market by their specifications, reused without labels")
    return _finish(fig, output, table, start)
