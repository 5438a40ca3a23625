"""Few-shot reuse scenarios built from scikit-learn's bundled datasets.

Each builder splits one dataset into a *source* part (what a pre-trained model was
trained on) and a *target* part (the user's task), changed in one way: the covariates
shift, the class set changes, columns vanish and new ones appear, several parties
each know some of the classes, or the source learned nothing (shuffled labels).
``draw_shots`` then picks the few labelled target rows. The reuse-gain benchmark
(``benchmarks/bench_reuse_gain.py``) and the selection tests use them; they are
private because their details serve those two.
"""

from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.utils import check_random_state

_LOADERS = {
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
    # A regression (the shift and useless splits only; its targets are left as they are).
    "diabetes": load_diabetes,
}


@dataclass
class Scenario:
    """A source/target split of one dataset (all features standardized)."""

    X_source: np.ndarray
    y_source: np.ndarray
    X_target: np.ndarray
    y_target: np.ndarray
    source_columns: list = None
    target_columns: list = None
    source_groups: np.ndarray = None
    info: dict = field(default_factory=dict)


def _load(name):
    X, y = _LOADERS[name](return_X_y=True)
    X = X[:, X.std(axis=0) > 0]
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def shifted_covariates(name, random_state=None, strength=1.5, drift=0.5):
    """Source and target rows drawn unevenly along a random direction, and drifted.

    A row goes to the source with probability ``sigmoid(-strength * z)``, ``z`` its
    standardized projection on a random unit direction: the source sees mostly one
    side of the data, the target mostly the other. In the target, a ``drift`` fraction
    of the columns is rescaled (by a factor in [0.5, 1.5]) and offset (by a normal
    amount of standard deviation 0.75), as when sensors are recalibrated. Same columns
    and classes.
    """
    rng = check_random_state(random_state)
    X, y = _load(name)
    d = X.shape[1]
    u = rng.normal(size=d)
    z = X @ (u / np.linalg.norm(u))
    z = (z - z.mean()) / z.std()
    to_source = rng.uniform(size=len(y)) < 1 / (1 + np.exp(strength * z))
    drifted = rng.permutation(d) < int(round(drift * d))
    scale = np.where(drifted, rng.uniform(0.5, 1.5, size=d), 1.0)
    offset = np.where(drifted, rng.normal(scale=0.75, size=d), 0.0)
    X_target = X[~to_source] * scale + offset
    return Scenario(X[to_source], y[to_source], X_target, y[~to_source])


def useless_source(name, random_state=None):
    """The ``shifted_covariates`` split whose source rows carry shuffled labels.

    A model trained on the source rows has learned nothing about the task: its
    predictions are about as good as chance on the target, and reusing it can only
    hurt. The target part is that of ``shifted_covariates`` with the same seed.
    (Regression targets are shuffled alike.)
    """
    rng = check_random_state(random_state)
    s = shifted_covariates(name, random_state=rng)
    s.y_source = rng.permutation(s.y_source)
    return s


def class_subsets(name, random_state=None, known=0.6):
    """The source knows only some classes; the target has them all.

    Rows are split in halves at random; the source keeps the rows of the first
    ``ceil(known * n_classes)`` classes of a random order.
    """
    rng = check_random_state(random_state)
    X, y = _load(name)
    classes = rng.permutation(np.unique(y))
    kept = classes[: int(np.ceil(known * len(classes)))]
    half = rng.permutation(len(y)) < len(y) // 2
    to_source = half & np.isin(y, kept)
    return Scenario(
        X[to_source], y[to_source], X[~half], y[~half], info={"source_classes": np.sort(kept)}
    )


def vanished_new_columns(name, random_state=None, vanished=0.25, new=0.25):
    """Some source columns vanish in the target, some target columns are new.

    Columns are shuffled; a ``vanished`` fraction is seen by the source only, a
    ``new`` fraction by the target only, the rest by both. Rows are split in halves.
    Columns are named ``f0``, ``f1``, ... after the original column order.
    """
    rng = check_random_state(random_state)
    X, y = _load(name)
    d = X.shape[1]
    order = rng.permutation(d)
    n_van, n_new = int(round(vanished * d)), int(round(new * d))
    van, nw, shared = order[:n_van], order[n_van : n_van + n_new], order[n_van + n_new :]
    src_cols, tgt_cols = np.sort(np.r_[shared, van]), np.sort(np.r_[shared, nw])
    half = rng.permutation(len(y)) < len(y) // 2
    return Scenario(
        X[half][:, src_cols],
        y[half],
        X[~half][:, tgt_cols],
        y[~half],
        source_columns=[f"f{j}" for j in src_cols],
        target_columns=[f"f{j}" for j in tgt_cols],
    )


def parties(name, random_state=None, n_parties=3):
    """Parties that each own the rows of an overlapping subset of the classes.

    The classes (in a random order) are cut into ``n_parties`` consecutive blocks
    that share their boundary class; half the rows, at random, are the source rows
    (``source_groups`` says which party owns each), the other half the target.
    """
    rng = check_random_state(random_state)
    X, y = _load(name)
    classes = rng.permutation(np.unique(y))
    n_parties = min(n_parties, len(classes) - 1)
    cuts = np.linspace(0, len(classes) - 1, n_parties + 1).round().astype(int)
    blocks = [classes[cuts[i] : cuts[i + 1] + 1] for i in range(n_parties)]
    half = rng.permutation(len(y)) < len(y) // 2
    Xs, ys = X[half], y[half]
    # A boundary class belongs to both neighbouring parties: its rows are dealt out.
    owners = [np.flatnonzero([c in b for b in blocks]) for c in ys]
    groups = np.array([o[rng.randint(len(o))] for o in owners])
    return Scenario(
        Xs, ys, X[~half], y[~half], source_groups=groups, info={"party_classes": blocks}
    )


def draw_shots(y, n_shots, random_state=None, max_test=300):
    """Indices of ``n_shots`` labelled rows per class and of the test rows.

    Classes with fewer than ``n_shots + 1`` rows give all but one. The test rows are
    the others, at most ``max_test`` of them (drawn at random).
    """
    rng = check_random_state(random_state)
    shots = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        shots.append(rng.choice(rows, min(n_shots, len(rows) - 1), replace=False))
    shots = np.sort(np.concatenate(shots))
    rest = np.setdiff1d(np.arange(len(y)), shots)
    test = np.sort(rng.permutation(rest)[:max_test])
    return shots, test
