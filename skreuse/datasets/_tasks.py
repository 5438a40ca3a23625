"""Reuse tasks carved from bundled data: transfer, heterogeneous features, several parties."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, check_random_state

from ..utils._sklearn_compat import Interval, RealNotInt, StrOptions, validate_params
from ..utils._validation import check_allocation
from ._base import (
    ALL_DATASETS,
    CLASSIFICATION_DATASETS,
    _cached_build,
    _covariate_shift,
    _load,
    _stratified_split,
    _take_shots,
)


def _target_shots(X, y, n_shots, task, rng):
    """Split target rows into ``n_shots`` labeled rows (per class) and the rest."""
    if task == "classification":
        return _take_shots(y, n_shots, rng)
    perm = rng.permutation(len(y))
    return np.sort(perm[:n_shots]), np.sort(perm[n_shots:])


def _build_transfer(dataset, n_shots, source_fraction, shift, *, random_state):
    rng = check_random_state(random_state)
    X, y, feature_names, target_names, task = _load(dataset)
    source_idx, target_idx = _stratified_split(y, source_fraction, rng, task=task)
    X_t = _covariate_shift(X[target_idx], shift, rng)
    y_t = y[target_idx]
    labeled, test = _target_shots(X_t, y_t, n_shots, task, rng)
    return Bunch(
        X_source=X[source_idx],
        y_source=y[source_idx],
        X_target=X_t[labeled],
        y_target=y_t[labeled],
        X_test=X_t[test],
        y_test=y_t[test],
        task=task,
        feature_names=feature_names,
        target_names=target_names,
        DESCR=(
            f"Transfer task on scikit-learn's {dataset!r} data: {len(source_idx)} labeled "
            f"source rows; a target domain (covariate shift of strength {shift}) with "
            f"{len(labeled)} labeled rows and {len(test)} held-out test rows."
        ),
    )


_cached_build_transfer = _cached_build(_build_transfer)


@validate_params(
    {
        "dataset": [StrOptions(set(ALL_DATASETS))],
        "n_shots": [Interval(Integral, 1, None, closed="left")],
        "source_fraction": [Interval(RealNotInt, 0.1, 0.9, closed="both")],
        "shift": [Interval(RealNotInt, 0.0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_transfer_task(
    dataset="breast_cancer", *, n_shots=5, source_fraction=0.5, shift=1.0, random_state=0
):
    """Build a source/target pair that shares features, with few labeled target rows.

    The rows of a bundled scikit-learn data set are split into a source domain and a
    target domain. The target domain is covariate-shifted (every feature rescaled and
    offset, as after a recalibrated instrument), so a model fitted on the source is
    useful but biased there, and only ``n_shots`` target rows per class (or in all,
    for regression) are labeled: the setting of hypothesis transfer learning.

    Parameters
    ----------
    dataset : {"breast_cancer", "digits", "wine", "iris", "diabetes"}, \
default="breast_cancer"
        The bundled data set. ``"diabetes"`` gives a regression task, the others
        classification tasks.

    n_shots : int, default=5
        Labeled target rows per class (classification) or in total (regression).

    source_fraction : float, default=0.5
        Fraction of the rows (per class) that form the source domain.

    shift : float, default=1.0
        Strength of the target's covariate shift: every feature ``x`` becomes
        ``x * exp(s a / 2) + s b std(x) / 2`` with ``a, b`` drawn from ``N(0, 1)``.
        ``0`` means no shift.

    random_state : int, RandomState instance or None, default=0
        Seed of the splits and the shift. An int gives the same task on every call
        (and uses the in-memory cache).

    Returns
    -------
    task : :class:`~sklearn.utils.Bunch`
        With ``X_source``, ``y_source`` (the labeled source domain), ``X_target``,
        ``y_target`` (the few labeled target rows), ``X_test``, ``y_test`` (the other
        target rows, to evaluate on), ``task`` (``"classification"`` or
        ``"regression"``), ``feature_names``, ``target_names`` and ``DESCR``.

    See Also
    --------
    make_model_zoo : Many pre-trained models and a new target task.
    make_heterogeneous_task : Source and target with different features.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreuse.datasets import make_transfer_task
    >>> task = make_transfer_task("breast_cancer", n_shots=5, random_state=0)
    >>> task.X_source.shape, task.X_target.shape, task.X_test.shape
    ((284, 30), (10, 30), (275, 30))
    >>> sorted(set(task.y_target.tolist()))
    [0, 1]
    """
    return _cached_build_transfer(
        dataset, int(n_shots), float(source_fraction), float(shift), random_state=random_state
    )


def _build_heterogeneous(
    dataset, n_shared, n_vanished, n_new, n_shots, n_unlabeled, classes, shift, *, random_state
):
    rng = check_random_state(random_state)
    X, y, feature_names, target_names, task = _load(dataset)
    n_features = X.shape[1]
    if n_shared is None:
        n_shared = n_features - n_vanished - n_new
    if n_shared + n_vanished + n_new > n_features:
        raise ValueError(
            f"n_shared + n_vanished + n_new = {n_shared + n_vanished + n_new} exceeds the "
            f"{n_features} features of the {dataset!r} data set."
        )
    if n_shared + n_vanished < 1 or n_shared + n_new < 1:
        raise ValueError(
            "The source and the target need at least one feature each: raise n_shared, "
            "n_vanished or n_new."
        )
    perm = rng.permutation(n_features)
    shared = np.sort(perm[:n_shared])
    vanished = np.sort(perm[n_shared : n_shared + n_vanished])
    new = np.sort(perm[n_shared + n_vanished : n_shared + n_vanished + n_new])
    source_cols = np.sort(np.concatenate([shared, vanished]))
    target_cols = np.sort(np.concatenate([shared, new]))

    source_idx, target_idx = _stratified_split(y, 0.5, rng, task=task)
    if classes == "different":
        labels = np.unique(y)
        if task != "classification" or len(labels) < 3:
            has = "a continuous target" if task != "classification" else f"{len(labels)} classes"
            raise ValueError(
                "classes='different' needs a classification data set with at least 3 "
                f"classes; {dataset!r} has {has}."
            )
        # The source misses the last class and the target the first: most classes are shared.
        source_idx = source_idx[y[source_idx] != labels[-1]]
        target_idx = target_idx[y[target_idx] != labels[0]]

    names = np.asarray(feature_names, dtype=object)
    X_target_all = _covariate_shift(X[target_idx], shift, rng)
    y_target_all = y[target_idx]
    labeled, rest = _target_shots(X_target_all, y_target_all, n_shots, task, rng)
    rest = rng.permutation(rest)
    unlabeled, test = np.sort(rest[:n_unlabeled]), np.sort(rest[n_unlabeled:])

    def frame(rows, cols, data):
        return pd.DataFrame(data[np.ix_(rows, cols)], columns=list(names[cols]))

    return Bunch(
        X_source=frame(source_idx, source_cols, X),
        y_source=y[source_idx],
        X_target=frame(labeled, target_cols, X_target_all),
        y_target=y_target_all[labeled],
        X_target_unlabeled=frame(unlabeled, target_cols, X_target_all),
        X_test=frame(test, target_cols, X_target_all),
        y_test=y_target_all[test],
        shared_features=list(names[shared]),
        vanished_features=list(names[vanished]),
        new_features=list(names[new]),
        task=task,
        target_names=target_names,
        DESCR=(
            f"Heterogeneous task on scikit-learn's {dataset!r} data: the source has "
            f"{len(source_cols)} features and the target {len(target_cols)} "
            f"({len(shared)} shared, {len(vanished)} vanished, {len(new)} new); "
            f"{len(labeled)} labeled target rows, {len(unlabeled)} unlabeled, "
            f"{len(test)} for testing."
        ),
    )


_cached_build_heterogeneous = _cached_build(_build_heterogeneous)


@validate_params(
    {
        "dataset": [StrOptions(set(ALL_DATASETS))],
        "n_shared": [Interval(Integral, 0, None, closed="left"), None],
        "n_vanished": [Interval(Integral, 0, None, closed="left")],
        "n_new": [Interval(Integral, 0, None, closed="left")],
        "n_shots": [Interval(Integral, 1, None, closed="left")],
        "n_unlabeled": [Interval(Integral, 0, None, closed="left")],
        "classes": [StrOptions({"same", "different"})],
        "shift": [Interval(RealNotInt, 0.0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_heterogeneous_task(
    dataset="wine",
    *,
    n_shared=None,
    n_vanished=3,
    n_new=3,
    n_shots=5,
    n_unlabeled=20,
    classes="same",
    shift=0.0,
    random_state=0,
):
    """Build source and target DataFrames whose columns only partly overlap.

    The features of a bundled scikit-learn data set are split at random into
    *shared* features (columns of both domains), *vanished* features (source only)
    and *new* features (target only); columns keep the data set's feature names, so
    they can be matched by name. The rows are split in half between the domains. The
    target has ``n_shots`` labeled rows per class, ``n_unlabeled`` unlabeled rows and
    a test set. With ``classes="different"`` the class sets differ too: the source
    never sees the last class and the target never sees the first — the setting of
    heterogeneous model reuse (ReForm).

    Parameters
    ----------
    dataset : {"wine", "digits", "breast_cancer", "iris", "diabetes"}, default="wine"
        The bundled data set.

    n_shared : int or None, default=None
        Number of features both domains have. ``None`` means every feature that is
        neither vanished nor new.

    n_vanished : int, default=3
        Number of features only the source has.

    n_new : int, default=3
        Number of features only the target has.

    n_shots : int, default=5
        Labeled target rows per class (classification) or in total (regression).

    n_unlabeled : int, default=20
        Unlabeled target rows (at most the rows left after the labeled ones).

    classes : {"same", "different"}, default="same"
        ``"different"``: the source lacks the last class and the target the first
        (needs a classification data set with at least 3 classes).

    shift : float, default=0.0
        Strength of a covariate shift of the target rows (see
        :func:`make_transfer_task`).

    random_state : int, RandomState instance or None, default=0
        Seed of the feature and row splits. An int gives the same task on every call
        (and uses the in-memory cache).

    Returns
    -------
    task : :class:`~sklearn.utils.Bunch`
        With ``X_source`` (DataFrame, shared + vanished columns), ``y_source``,
        ``X_target`` (DataFrame, shared + new columns, the labeled rows),
        ``y_target``, ``X_target_unlabeled``, ``X_test``, ``y_test``,
        ``shared_features``, ``vanished_features``, ``new_features`` (lists of column
        names), ``task``, ``target_names`` and ``DESCR``.

    See Also
    --------
    make_transfer_task : Source and target with the same features.

    Examples
    --------
    >>> from skreuse.datasets import make_heterogeneous_task
    >>> task = make_heterogeneous_task("wine", n_vanished=3, n_new=2, random_state=0)
    >>> task.X_source.shape[1], task.X_target.shape[1], len(task.shared_features)
    (11, 10, 8)
    >>> set(task.vanished_features) & set(task.X_target.columns)
    set()
    >>> task = make_heterogeneous_task("wine", classes="different", random_state=0)
    >>> sorted(set(task.y_source.tolist())), sorted(set(task.y_target.tolist()))
    ([0, 1], [1, 2])
    """
    return _cached_build_heterogeneous(
        dataset,
        None if n_shared is None else int(n_shared),
        int(n_vanished),
        int(n_new),
        int(n_shots),
        int(n_unlabeled),
        classes,
        float(shift),
        random_state=random_state,
    )


def _party_classes(labels, n_parties, n_classes_per_party):
    """Contiguous, wrapping blocks of classes, one per party, covering every class."""
    n_classes = len(labels)
    if n_classes_per_party is None:
        n_classes_per_party = max(2, -(-n_classes // n_parties))
    if n_classes_per_party > n_classes:
        raise ValueError(
            f"n_classes_per_party={n_classes_per_party} exceeds the {n_classes} classes."
        )
    if n_classes_per_party * n_parties < n_classes:
        raise ValueError(
            f"{n_parties} parties with {n_classes_per_party} classes each cannot cover "
            f"all {n_classes} classes; raise n_parties or n_classes_per_party."
        )
    starts = np.floor(np.arange(n_parties) * n_classes / n_parties).astype(int)
    return [[labels[(s + j) % n_classes] for j in range(n_classes_per_party)] for s in starts]


def _build_multiparty(
    dataset, n_parties, n_classes_per_party, party_classes, test_size, *, random_state
):
    rng = check_random_state(random_state)
    X, y, feature_names, target_names, _ = _load(dataset)
    labels = np.unique(y).tolist()
    if party_classes is None:
        party_classes = _party_classes(labels, n_parties, n_classes_per_party)
    else:
        party_classes = [sorted(set(p)) for p in party_classes]
        unknown = sorted({c for p in party_classes for c in p} - set(labels))
        if unknown:
            raise ValueError(
                f"party_classes holds classes the {dataset!r} data set does not have: "
                f"{unknown}; its classes are {labels}."
            )
        if any(len(p) == 0 for p in party_classes):
            raise ValueError("party_classes: every party needs at least one class.")
    covered = sorted({c for p in party_classes for c in p})

    train_idx, test_idx = _stratified_split(y, 1.0 - test_size, rng)
    train_idx = train_idx[np.isin(y[train_idx], covered)]
    test_idx = test_idx[np.isin(y[test_idx], covered)]
    # Each training row goes to one party, drawn uniformly among the parties that hold its class.
    owners = np.empty(len(train_idx), dtype=int)
    for c in covered:
        holders = np.array([i for i, p in enumerate(party_classes) if c in p])
        rows = np.flatnonzero(y[train_idx] == c)
        owners[rows] = holders[rng.permutation(len(rows)) % len(holders)]
    return Bunch(
        X=X[train_idx],
        y=y[train_idx],
        groups=owners,
        X_test=X[test_idx],
        y_test=y[test_idx],
        party_classes=party_classes,
        feature_names=feature_names,
        target_names=target_names,
        DESCR=(
            f"Multi-party task on scikit-learn's {dataset!r} data: {len(train_idx)} rows "
            f"split across {len(party_classes)} parties holding the class sets "
            f"{party_classes}; {len(test_idx)} test rows over all of them."
        ),
    )


_cached_build_multiparty = _cached_build(_build_multiparty)


@validate_params(
    {
        "dataset": [StrOptions(set(CLASSIFICATION_DATASETS))],
        "n_parties": [Interval(Integral, 2, None, closed="left")],
        "n_classes_per_party": [Interval(Integral, 1, None, closed="left"), None],
        "party_classes": ["array-like", None],
        "test_size": [Interval(RealNotInt, 0.05, 0.9, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_multiparty_task(
    dataset="digits",
    *,
    n_parties=3,
    n_classes_per_party=None,
    party_classes=None,
    test_size=0.3,
    random_state=0,
):
    """Split a classification data set across parties that hold different class sets.

    Each party sees only the rows of its own classes, so its local model knows only
    part of the label space; the global task is to classify the test rows among the
    union of all parties' classes. Rows of a class held by several parties are dealt
    out among them. This is the setting of heterogeneous model reuse by multiparty
    multiclass margin calibration (HMR).

    Parameters
    ----------
    dataset : {"digits", "wine", "breast_cancer", "iris"}, default="digits"
        The bundled classification data set.

    n_parties : int, default=3
        Number of parties (ignored when ``party_classes`` is given).

    n_classes_per_party : int or None, default=None
        Classes each party holds: contiguous blocks of the sorted classes, spread
        evenly and wrapping around, so neighbouring parties share classes when
        ``n_parties * n_classes_per_party`` exceeds the number of classes. ``None``
        means ``max(2, ceil(n_classes / n_parties))``.

    party_classes : list of list or None, default=None
        Explicit class set of every party (overrides ``n_parties`` and
        ``n_classes_per_party``). Classes no party holds are left out of the task.

    test_size : float, default=0.3
        Fraction of the rows (per class) kept for the global test set.

    random_state : int, RandomState instance or None, default=0
        Seed of the splits. An int gives the same task on every call (and uses the
        in-memory cache).

    Returns
    -------
    task : :class:`~sklearn.utils.Bunch`
        With ``X``, ``y`` (the training rows of all parties), ``groups`` (the party
        index of every training row, for ``fit(X, y, groups=groups)``), ``X_test``,
        ``y_test``, ``party_classes`` (list of each party's classes),
        ``feature_names``, ``target_names`` and ``DESCR``.

    See Also
    --------
    make_model_zoo : Many pre-trained models and a new target task.

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.datasets import make_multiparty_task
    >>> task = make_multiparty_task("digits", n_parties=3, random_state=0)
    >>> task.party_classes
    [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    >>> sorted(np.unique(task.y[task.groups == 1]).tolist())
    [3, 4, 5, 6]
    """
    if party_classes is not None:
        if isinstance(party_classes, str) or not all(
            isinstance(p, list | tuple | np.ndarray) for p in party_classes
        ):
            raise TypeError("party_classes must be a list of lists of class labels.")
        party_classes = tuple(tuple(np.asarray(p).tolist()) for p in party_classes)
        if len(party_classes) < 2:
            raise ValueError("party_classes must describe at least 2 parties.")
    return _cached_build_multiparty(
        dataset,
        int(n_parties),
        None if n_classes_per_party is None else int(n_classes_per_party),
        party_classes,
        float(test_size),
        random_state=random_state,
    )


@validate_params(
    {
        "n_train": [Interval(Integral, 10, None, closed="left")],
        "n_test": [Interval(Integral, 10, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_hmr_toy(n_train=1000, n_test=1000, *, random_state=None):
    """The five-class 2-D toy of the HMR paper, split among three parties.

    Four regions of a box (two of them swapped circles) and a band above it make
    five classes. Party 0 owns the rows of classes 0 and 1, party 1 those of class 2,
    party 2 those of class 4, and the class-3 rows alternate between parties 1 and 2,
    so that the parties know {0, 1}, {2, 3} and {3, 4} as in the paper's experiment.

    Parameters
    ----------
    n_train : int, default=1000
        Number of training rows (shared among the parties).
    n_test : int, default=1000
        Number of test rows.
    random_state : int, RandomState instance or None, default=None
        Seed of the uniform draws.

    Returns
    -------
    task : :class:`~sklearn.utils.Bunch`
        ``X_train``, ``y_train``, ``groups`` (the party owning each training row),
        ``X_test``, ``y_test``, ``party_classes`` (the classes each party knows) and
        ``parties``: the paper's three local learners, unfitted ``(name, estimator)``
        pairs ready for :class:`~skreuse.multiparty.HMRCalibrator` (a logistic
        regression, an RBF-kernel machine and gradient boosting; seeded by an int
        ``random_state``).

    References
    ----------
    .. [1] X.-Z. Wu, S. Liu and Z.-H. Zhou, "Heterogeneous model reuse via optimizing
       multiparty multiclass margin", ICML 2019 (Section 5.1).

    Examples
    --------
    >>> import numpy as np
    >>> from skreuse.datasets import make_hmr_toy
    >>> task = make_hmr_toy(random_state=0)
    >>> task.X_train.shape
    (1000, 2)
    >>> np.unique(task.y_train), np.unique(task.groups)
    (array([0, 1, 2, 3, 4]), array([0, 1, 2]))
    >>> task.party_classes
    [[0, 1], [2, 3], [3, 4]]
    >>> [name for name, _ in task.parties]
    ['logistic regression', 'RBF kernel', 'gradient boosting']
    """
    # About ten float64 arrays of all the rows exist at once.
    check_allocation(80 * (n_train + n_test), f"make_hmr_toy(n_train={n_train}, n_test={n_test})")
    rng = check_random_state(random_state)
    n_samples = n_train + n_test
    n_band = n_samples // 5
    n_box = n_samples - n_band
    x0 = rng.uniform(-1.95, 1.95, n_box)
    x1 = rng.uniform(-0.95, 0.95, n_box)
    y = np.where(x0 <= 0, np.where(x1 > 0, 0, 1), np.where(x0 <= 1, 2, 3))
    y[(x0 - 1) ** 2 + (x1 - 0.5) ** 2 <= 0.25] = 2  # upper circle
    y[(x0 - 1) ** 2 + (x1 + 0.5) ** 2 <= 0.25] = 3  # lower circle
    # Small gaps between the regions, as in the reference code.
    x0 = x0 + np.array([-0.05, -0.05, 0.05, 0.1])[y]
    x1 = np.where(y >= 2, x1 / 0.95, x1 + np.where(y == 0, 0.05, -0.05))
    band = np.column_stack([rng.uniform(-2, 2, n_band), rng.uniform(1.01, 1.5, n_band)])
    X = np.vstack([np.column_stack([x0, x1]), band])
    y = np.concatenate([y, np.full(n_band, 4)])
    order = rng.permutation(n_samples)
    X, y = X[order], y[order]
    y_train = y[:n_train]
    groups = np.select([y_train <= 1, y_train == 2, y_train == 4], [0, 1, 2], default=-1)
    threes = np.flatnonzero(y_train == 3)
    groups[threes] = np.where(np.arange(threes.size) % 2 == 0, 1, 2)
    seed = random_state if isinstance(random_state, Integral) else rng.randint(2**31 - 1)
    return Bunch(
        X_train=X[:n_train],
        y_train=y_train,
        groups=groups,
        X_test=X[n_train:],
        y_test=y[n_train:],
        party_classes=[[0, 1], [2, 3], [3, 4]],
        parties=_hmr_toy_parties(seed),
    )


def _hmr_toy_parties(seed):
    """The paper's three heterogeneous local learners, unfitted, one per party."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rbf = make_pipeline(
        Nystroem(gamma=2, n_components=100, random_state=seed), LogisticRegression(C=10)
    )
    return [
        ("logistic regression", LogisticRegression()),
        ("RBF kernel", rbf),
        ("gradient boosting", GradientBoostingClassifier(random_state=seed)),
    ]


# -- ReForm's scenarios: columns that changed meaning, not columns drawn at random --------------


def _reform_breast_cancer_mean_to_worst():
    data = load_breast_cancer(as_frame=True)
    cols = list(data.data.columns)
    mean = [c for c in cols if c.startswith("mean ")]
    error = [c for c in cols if c.endswith(" error")]
    worst = [c for c in cols if c.startswith("worst ")]
    return data.data, data.target.to_numpy(), mean + error, error + worst, None


def _reform_wine_new_sensors():
    data = load_wine(as_frame=True)
    X, cols = data.data.copy(), list(data.data.columns)
    # Fixed seed: the instruments are part of the scenario, not of the random split.
    rng = np.random.RandomState(0)
    for c in cols[:6]:
        noise = 0.5 * X[c].std() * rng.normal(size=len(X))
        X[f"new {c}"] = rng.uniform(0.5, 5) * X[c] + noise + rng.normal()
    return X, data.target.to_numpy(), cols, cols[6:] + [f"new {c}" for c in cols[:6]], None


def _reform_wine_unrelated_columns():
    data = load_wine(as_frame=True)
    cols = list(data.data.columns)
    return data.data, data.target.to_numpy(), cols[:9], cols[4:], None


def _reform_digits(classes=None):
    data = load_digits()
    names = [f"p{r}{c}" for r in range(8) for c in range(8)]
    X = pd.DataFrame(data.data, columns=names)
    keep = [n for n in names if X[n].std() > 0.5]
    left = [n for n in keep if int(n[2]) <= 5]
    right = [n for n in keep if int(n[2]) >= 2]
    return X, data.target, left, right, classes


_REFORM_SCENARIOS = {
    "breast_cancer_mean_to_worst": (
        _reform_breast_cancer_mean_to_worst,
        'the "mean" measurements vanished, the "worst" ones are new, the "error" ones stay',
    ),
    "wine_new_sensors": (
        _reform_wine_new_sensors,
        "six measurements are now taken by new instruments (other units, more noise)",
    ),
    "wine_unrelated_columns": (
        _reform_wine_unrelated_columns,
        "four columns vanished and four unrelated ones appeared: nothing to carry over",
    ),
    "digits_shifted_crop": (
        _reform_digits,
        "the camera's crop moved two pixels to the right",
    ),
    "digits_shifted_crop_new_classes": (
        lambda: _reform_digits((range(7), (0, 1, 2, 3, 4, 7, 8, 9))),
        "the crop moved; digits 5 and 6 left the task and 7, 8 and 9 joined it",
    ),
}
REFORM_SCENARIOS = tuple(_REFORM_SCENARIOS)


@validate_params(
    {
        "scenario": [StrOptions(set(REFORM_SCENARIOS))],
        "n_shots": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_reform_task(scenario="breast_cancer_mean_to_worst", *, n_shots=5, random_state=0):
    """A source model's columns changed meaning: ReForm's scenarios on bundled data.

    Unlike :func:`make_heterogeneous_task`, whose vanished and new columns are drawn at
    random, every scenario here is a change a user meets: measurements replaced by
    related ones, new instruments, a moved camera crop, new classes. The rows are split
    in half (stratified) between the source and the target; the target keeps its own
    columns, ``n_shots`` labeled rows per class, half of the remaining rows unlabeled
    and the other half for testing. This is the protocol of the ReForm example, the
    ``reform`` demo and the tests, built here once.

    Parameters
    ----------
    scenario : str, default="breast_cancer_mean_to_worst"
        One of :data:`REFORM_SCENARIOS`:

        - ``"breast_cancer_mean_to_worst"``: the 10 "mean" columns vanished, the 10
          "worst" ones are new, the 10 "error" ones are shared;
        - ``"wine_new_sensors"``: six measurements taken by new instruments (new
          columns, other units, more noise);
        - ``"wine_unrelated_columns"``: four columns vanished, four unrelated ones
          appeared;
        - ``"digits_shifted_crop"``: the 8x8 crop moved two pixels to the right;
        - ``"digits_shifted_crop_new_classes"``: the same, and the source knows digits
          0-6 while the target has 0-4 and 7-9.
    n_shots : int, default=5
        Labeled target rows per class.
    random_state : int, default=0
        Seed of the source/target split and of the draw of shots, unlabeled and test
        rows (the scenario's data themselves do not depend on it).

    Returns
    -------
    task : :class:`~sklearn.utils.Bunch`
        ``X_source`` (DataFrame of the source's columns; also what ReForm takes as
        ``source_meta``), ``y_source``, ``X_target`` and ``y_target`` (the labeled
        shots, the target's columns), ``X_target_unlabeled``, ``X_test``, ``y_test``,
        ``source_features`` and ``target_features`` (column names) and ``DESCR``.

    See Also
    --------
    make_heterogeneous_task : Vanished and new columns drawn at random.
    skreuse.training.ReFormRectifier : Rectifies a source model for such a target.

    Examples
    --------
    >>> from skreuse.datasets import make_reform_task
    >>> task = make_reform_task("breast_cancer_mean_to_worst", n_shots=5, random_state=0)
    >>> task.X_source.shape, task.X_target.shape
    ((284, 20), (10, 20))
    >>> sorted(set(task.source_features) - set(task.target_features))[:2]
    ['mean area', 'mean compactness']
    """
    build, description = _REFORM_SCENARIOS[scenario]
    X, y, src_cols, tgt_cols, classes = build()
    Xs, Xt, ys, yt = train_test_split(X, y, test_size=0.5, stratify=y, random_state=random_state)
    if classes is not None:
        keep_s, keep_t = np.isin(ys, classes[0]), np.isin(yt, classes[1])
        Xs, ys, Xt, yt = Xs[keep_s], ys[keep_s], Xt[keep_t], yt[keep_t]
    rng = check_random_state(random_state)
    Xt = Xt[tgt_cols].reset_index(drop=True)
    shot = np.concatenate(
        [rng.choice(np.flatnonzero(yt == c), n_shots, replace=False) for c in np.unique(yt)]
    )
    rest = rng.permutation(np.setdiff1d(np.arange(len(yt)), shot))
    unlabeled, test = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    return Bunch(
        X_source=Xs[src_cols],
        y_source=np.asarray(ys),
        X_target=Xt.iloc[shot],
        y_target=np.asarray(yt)[shot],
        X_target_unlabeled=Xt.iloc[unlabeled],
        X_test=Xt.iloc[test],
        y_test=np.asarray(yt)[test],
        source_features=list(src_cols),
        target_features=list(tgt_cols),
        DESCR=(
            f"ReForm scenario {scenario!r}: {description}. The source has {len(src_cols)} "
            f"columns and the target {len(tgt_cols)}; {len(shot)} labeled target rows, "
            f"{len(unlabeled)} unlabeled, {len(test)} for testing."
        ),
    )
