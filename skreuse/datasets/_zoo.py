"""An embedded model zoo: real models pre-trained on source tasks carved from bundled data."""

import math
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.random_projection import GaussianRandomProjection
from sklearn.utils import Bunch, check_random_state
from threadpoolctl import threadpool_limits

from ..utils._optional import import_optional
from ..utils._sklearn_compat import Interval, RealNotInt, StrOptions, validate_params
from ._base import (
    ALL_DATASETS,
    _cached_build,
    _covariate_shift,
    _load,
    _stratified_split,
)

ARCHITECTURES = ("linear", "mlp", "pca", "random_projection", "torch_mlp")

# (source task, architecture) of the default zoo. Several tasks share an architecture and
# several architectures share a task, so the zoo holds good, mediocre and poor models for
# any target carved from the same data set.
_ZOO_LAYOUT = (
    ("all", "mlp"),
    ("all", "linear"),
    ("first_half", "mlp"),
    ("second_half", "linear"),
    ("few_rows", "mlp"),
    ("few_rows", "linear"),
    ("half_features", "mlp"),
    ("shifted", "linear"),
    ("unlabeled", "pca"),
    ("unlabeled", "pca_small"),
    ("unlabeled", "random_projection"),
    ("all", "torch_mlp"),
)


def _mlp_hidden(n_features):
    return (max(16, min(64, 2 * n_features)),)


def _source_tasks(X, y, feature_names, task, rng):
    """Source tasks carved from the source rows: ``name -> (rows, columns, X, description)``.

    For regression the "halves" are the rows below and above the median target.
    """
    all_rows = np.arange(len(y))
    all_cols = np.arange(X.shape[1])
    everything = "all classes" if task == "classification" else "all rows"
    tasks = {"all": (all_rows, all_cols, X, f"{everything}, all features")}
    if task == "regression":
        median = np.median(y)
        tasks["first_half"] = (np.flatnonzero(y <= median), all_cols, X, "target <= median")
        tasks["second_half"] = (np.flatnonzero(y > median), all_cols, X, "target > median")
        few = np.sort(rng.permutation(len(y))[: max(10, len(y) // 20)])
    else:
        classes = np.unique(y)
        if len(classes) > 2:
            k = max(2, math.ceil(len(classes) / 2))
            for name, subset in (("first_half", classes[:k]), ("second_half", classes[-k:])):
                rows = np.flatnonzero(np.isin(y, subset))
                labels = ", ".join(str(c) for c in subset)
                tasks[name] = (rows, all_cols, X, f"classes {{{labels}}} only")
        few, _ = _stratified_split(y, 0.05, rng)
        few = np.union1d(few, [np.flatnonzero(y == c)[i] for c in classes for i in range(2)])
    tasks["few_rows"] = (few, all_cols, X, f"{everything}, only {len(few)} rows")
    half = np.sort(rng.permutation(X.shape[1])[: max(1, X.shape[1] // 2)])
    tasks["half_features"] = (
        all_rows,
        half,
        X,
        f"{everything}, {len(half)} of {X.shape[1]} features "
        f"({', '.join(feature_names[i] for i in half[:3])}, ...)",
    )
    tasks["shifted"] = (
        all_rows,
        all_cols,
        _covariate_shift(X, 1.0, rng),
        f"{everything}, covariate-shifted features",
    )
    tasks["unlabeled"] = (all_rows, all_cols, X, "all rows, no labels (unsupervised)")
    return tasks


def _fit_sklearn_model(arch, X, y, cols, n_features, task, seed):
    if arch == "linear":
        head = LogisticRegression(max_iter=1000) if task == "classification" else RidgeCV()
        steps = [StandardScaler(), head]
        desc = f"StandardScaler + {type(head).__name__}"
    elif arch == "mlp":
        hidden = _mlp_hidden(len(cols))
        if task == "classification":
            mlp = MLPClassifier(hidden_layer_sizes=hidden, max_iter=300, random_state=seed)
        else:
            # L-BFGS converges in a fraction of Adam's time on a few hundred rows.
            mlp = TransformedTargetRegressor(
                MLPRegressor(
                    hidden_layer_sizes=hidden,
                    solver="lbfgs",
                    alpha=1.0,
                    max_iter=500,
                    random_state=seed,
                ),
                transformer=StandardScaler(),
            )
        steps = [StandardScaler(), mlp]
        kind = "MLPClassifier" if task == "classification" else "MLPRegressor"
        desc = f"StandardScaler + {kind}{hidden}"
    elif arch == "pca":
        k = max(2, min(16, n_features // 4))
        model = PCA(n_components=k, random_state=seed)
        desc = f"PCA({k} components)"
    elif arch == "pca_small":
        model = PCA(n_components=2, random_state=seed)
        desc = "PCA(2 components)"
    else:
        k = max(2, min(16, n_features // 4))
        model = GaussianRandomProjection(n_components=k, random_state=seed)
        desc = f"GaussianRandomProjection({k} components)"
    if arch in ("linear", "mlp"):
        if len(cols) < n_features:
            # The model sees only some columns but, like any hub model, takes full rows.
            steps.insert(0, ColumnTransformer([("keep", "passthrough", list(cols))]))
            desc = f"ColumnTransformer(keep {len(cols)} columns) + {desc}"
        # Inner steps pass arrays whatever the global transform_output: a pipeline fitted
        # here then predicts without feature-name warnings under set_config(pandas).
        model = make_pipeline(*steps).set_output(transform="default")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if arch in ("pca", "pca_small", "random_projection"):
            model.fit(X)
        else:
            model.fit(X, y)
    return model, desc


def _fit_torch_mlp(X, y, task, seed):
    """A small torch MLP trained full-batch with Adam; returns the ``nn.Module``.

    It takes raw rows and returns class logits (classification) or the prediction
    (regression, one output).
    """
    torch = import_optional("torch", purpose="for the 'torch_mlp' architecture")
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-8
    Xt = torch.as_tensor((X - mean) / std, dtype=torch.float32)
    if task == "classification":
        classes = np.unique(y)
        n_out = len(classes)
        yt = torch.as_tensor(np.searchsorted(classes, y), dtype=torch.long)
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        n_out = 1
        y_mean, y_std = float(np.mean(y)), float(np.std(y)) + 1e-8
        yt = torch.as_tensor((y - y_mean) / y_std, dtype=torch.float32).reshape(-1, 1)
        loss_fn = torch.nn.MSELoss()
    hidden = _mlp_hidden(X.shape[1])[0]
    # fork_rng: seeding here must not change the caller's global torch random stream.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        scaler = torch.nn.Linear(X.shape[1], X.shape[1])
        with torch.no_grad():
            # The first layer standardizes, so the module takes raw rows like the sklearn models.
            scaler.weight.copy_(torch.diag(torch.as_tensor(1.0 / std, dtype=torch.float32)))
            scaler.bias.copy_(torch.as_tensor(-mean / std, dtype=torch.float32))
        scaler.requires_grad_(False)
        net = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, n_out),
        )
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(150):
            optimizer.zero_grad()
            loss = loss_fn(net(Xt), yt)
            loss.backward()
            optimizer.step()
    if task == "regression":
        with torch.no_grad():
            # Undo the target scaling inside the last layer: the module predicts y itself.
            net[-1].weight.mul_(y_std)
            net[-1].bias.mul_(y_std).add_(y_mean)
        return torch.nn.Sequential(scaler, *net).eval(), (
            f"torch Sequential MLP ({hidden}, {hidden}) -> 1 output"
        )
    module = torch.nn.Sequential(scaler, *net).eval()
    return module, f"torch Sequential MLP ({hidden}, {hidden}) -> {n_out} logits"


def _source_score(arch, model, X, y, task):
    """Training accuracy (classification) or R^2 (regression) on the source task."""
    if arch in ("linear", "mlp"):
        return float(model.score(X, y))
    if arch == "torch_mlp":
        import torch

        with torch.no_grad():
            out = model(torch.as_tensor(X, dtype=torch.float32)).numpy()
        if task == "classification":
            return float(np.mean(np.unique(y)[out.argmax(axis=1)] == y))
        return float(r2_score(y, out[:, 0]))
    return np.nan


def _build_zoo(dataset, architectures, target_fraction, target_shift, *, random_state):
    # The problems are tiny: BLAS threads only add overhead (and, on a busy machine, a
    # lot of it, e.g. in the L-BFGS steps of the MLPs).
    with threadpool_limits(limits=1, user_api="blas"):
        return _build_zoo_single_threaded(
            dataset, architectures, target_fraction, target_shift, random_state=random_state
        )


def _build_zoo_single_threaded(
    dataset, architectures, target_fraction, target_shift, *, random_state
):
    rng = check_random_state(random_state)
    X, y, feature_names, target_names, task = _load(dataset)
    source_idx, target_idx = _stratified_split(y, 1.0 - target_fraction, rng, task=task)
    Xs, ys = X[source_idx], y[source_idx]
    tasks = _source_tasks(Xs, ys, feature_names, task, rng)
    # The target task's rows were never seen by any model, and they are shifted.
    X_target = _covariate_shift(X[target_idx], target_shift, rng)
    y_target = y[target_idx]

    # One seed per slot of the layout, drawn up front: a model does not change when
    # other families are left out.
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(_ZOO_LAYOUT))
    models, rows = [], []
    for (task_name, arch), seed in zip(_ZOO_LAYOUT, seeds):
        family = "pca" if arch == "pca_small" else arch
        if family not in architectures or task_name not in tasks:
            continue
        task_rows, cols, X_task, task_desc = tasks[task_name]
        Xa, ya = X_task[task_rows], ys[task_rows]
        if arch == "torch_mlp":
            model, desc = _fit_torch_mlp(Xa, ya, task, int(seed))
        else:
            model, desc = _fit_sklearn_model(arch, Xa, ya, cols, X.shape[1], task, int(seed))
        if family in ("pca", "random_projection"):
            name = f"{family}_{model.n_components}"
            kind = "feature extractor"
        else:
            name = f"{arch}_{task_name}"
            kind = "classifier" if task == "classification" else "regressor"
        if any(name == other for other, _ in models):
            continue  # a small data set gives both PCA sizes the same number of components
        models.append((name, model))
        rows.append(
            {
                "name": name,
                "source_task": f"{dataset}: {task_desc}",
                "architecture": desc,
                "family": family,
                "kind": kind,
                "source_classes": tuple(np.unique(ya).tolist()) if kind == "classifier" else (),
                "n_source_samples": len(task_rows),
                "source_score": _source_score(arch, model, Xa, ya, task),
            }
        )
    metadata = pd.DataFrame(rows).set_index("name")
    return Bunch(
        models=models,
        metadata=metadata,
        X_target=X_target,
        y_target=y_target,
        task=task,
        feature_names=feature_names,
        target_names=target_names,
        DESCR=(
            f"Model zoo of {len(models)} models pre-trained on source tasks carved from "
            f"scikit-learn's bundled {dataset!r} data ({len(source_idx)} source rows). "
            f"The target task holds the {len(target_idx)} other rows, with a covariate "
            f"shift of strength {target_shift}; no model saw them."
        ),
    )


_cached_build_zoo = _cached_build(_build_zoo)


@validate_params(
    {
        "dataset": [StrOptions(set(ALL_DATASETS))],
        "architectures": ["array-like", StrOptions(set(ARCHITECTURES))],
        "target_fraction": [Interval(RealNotInt, 0.1, 0.9, closed="both")],
        "target_shift": [Interval(RealNotInt, 0.0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_model_zoo(
    dataset="digits",
    *,
    architectures=("linear", "mlp", "pca", "random_projection"),
    target_fraction=0.4,
    target_shift=0.5,
    random_state=0,
):
    """Build a small model hub: real models pre-trained on source tasks, and a new target task.

    The rows of a bundled scikit-learn data set are split into a source part and a
    target part. Source tasks are carved from the source part — all classes, each half
    of the classes (for regression: the rows below and above the median target), a
    handful of rows, half of the features, a covariate-shifted copy, the unlabeled
    rows — and models of several families are trained on them: scaled logistic
    regressions (ridge regressions), MLPs, PCA and random-projection feature
    extractors, and a torch MLP when asked for. The models therefore range from well
    suited to nearly useless for the target task, the situation transferability
    scores such as LogME are made for. The target part, never seen by any model and
    covariate-shifted, is returned as the new task.

    Everything is offline and takes seconds; results are cached in memory per
    argument set (``random_state`` an int) and every call returns fresh copies.

    Parameters
    ----------
    dataset : {"digits", "wine", "breast_cancer", "iris", "diabetes"}, default="digits"
        The bundled data set the tasks are carved from; ``"diabetes"`` gives a
        regression zoo (regressors and feature extractors). On a binary data set
        (``"breast_cancer"``) the class-subset source tasks are left out.

    architectures : str or sequence of str, default=("linear", "mlp", "pca", \
"random_projection")
        Model families to include, among ``"linear"``, ``"mlp"``, ``"pca"``,
        ``"random_projection"`` and ``"torch_mlp"`` (a ``torch.nn.Sequential`` that
        takes raw rows and returns logits, or the prediction for regression; needs
        the ``deep`` extra and is only built when listed here).

    target_fraction : float, default=0.4
        Fraction of the rows (per class, for classification) kept for the target task.

    target_shift : float, default=0.5
        Strength of the covariate shift applied to the target rows: every feature
        ``x`` becomes ``x * exp(s a / 2) + s b std(x) / 2`` with ``a, b`` drawn
        from ``N(0, 1)``. ``0`` keeps the target rows as they are.

    random_state : int, RandomState instance or None, default=0
        Seed of the splits, the source tasks and the models. An int gives the same
        zoo on every call (and uses the in-memory cache).

    Returns
    -------
    zoo : :class:`~sklearn.utils.Bunch`
        With the fields:

        - ``models``: list of ``(name, fitted_model)`` pairs, ready to be passed as
          the ``candidates`` of :class:`~skreuse.LogMESelector`. Classifiers are
          scikit-learn pipelines with ``predict_proba``, regressors pipelines with
          ``predict``; feature extractors have ``transform``.
        - ``metadata``: :class:`pandas.DataFrame` indexed by model name with columns
          ``source_task``, ``architecture``, ``family``, ``kind`` (``"classifier"``,
          ``"regressor"`` or ``"feature extractor"``), ``source_classes`` (empty but
          for classifiers), ``n_source_samples`` and ``source_score`` (accuracy, or
          R² for regressors, on the source task's training rows; NaN for feature
          extractors).
        - ``X_target``, ``y_target``: the target task's rows and labels.
        - ``task`` (``"classification"`` or ``"regression"``), ``feature_names``,
          ``target_names``, ``DESCR``.

    See Also
    --------
    make_transfer_task : A source/target pair with few target labels.

    Examples
    --------
    >>> from skreuse.datasets import make_model_zoo
    >>> zoo = make_model_zoo("wine", random_state=0)
    >>> [name for name, _ in zoo.models][:4]
    ['mlp_all', 'linear_all', 'mlp_first_half', 'linear_second_half']
    >>> zoo.metadata.loc["linear_second_half", "source_classes"]
    (1, 2)
    >>> zoo.X_target.shape
    (71, 13)
    >>> regression_zoo = make_model_zoo("diabetes", architectures="linear", random_state=0)
    >>> regression_zoo.metadata["kind"].unique().tolist()
    ['regressor']
    """
    if isinstance(architectures, str):
        architectures = (architectures,)
    architectures = tuple(architectures)
    unknown = sorted(set(architectures) - set(ARCHITECTURES))
    if unknown:
        raise ValueError(
            f"architectures must be among {list(ARCHITECTURES)}; got unknown {unknown}."
        )
    if not architectures:
        raise ValueError("architectures must name at least one model family.")
    return _cached_build_zoo(
        dataset,
        architectures,
        float(target_fraction),
        float(target_shift),
        random_state=random_state,
    )
