"""ModelMarket: a persistent, searchable store of models with RKME specifications."""

import datetime
import hashlib
import io
import json
import os
import sqlite3
import tempfile
import uuid
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.utils import check_array, check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target

from .. import io as skio
from ..specification import RKMEReuser, RKMESpecification
from ..specification._batch import cross_to_many, mmd2_to_many, self_terms
from ..specification._reuser import _simplex_qp
from ..utils._features import check_model_fitted, extract_features

__all__ = ["ModelMarket"]

_FORMAT = "skreuse.ModelMarket"
_VERSION = "1"
_INDEX = "index.sqlite"
_MODELS = "models"
_SPECS = "specs"
# Rows of the index read at once during a search: memory stays O(chunk), whatever M.
_CHUNK_ROWS = 256
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    file_id TEXT NOT NULL UNIQUE,
    task TEXT NOT NULL,
    n_features INTEGER NOT NULL,
    feature_names TEXT,
    classes TEXT,
    tags TEXT NOT NULL,
    description TEXT NOT NULL,
    added TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    spec_sha256 TEXT NOT NULL,
    n_points INTEGER NOT NULL,
    self_term REAL NOT NULL,
    points BLOB NOT NULL,
    weights BLOB NOT NULL
);
"""
_META_COLUMNS = "name, file_id, task, n_features, feature_names, classes, tags, description, added"


class _ColumnSubsetModel(BaseEstimator):
    """A market model fed with its own columns of the user's rows (selected by position).

    :class:`~skreuse.specification.RKMEReuser` hands every model the user's rows as a
    numpy array; this wrapper picks the model's columns and gives them back their names,
    so a model trained on a DataFrame sees the frame it expects.
    """

    def __init__(self, model, columns, feature_names=None):
        self.model = model
        self.columns = columns
        self.feature_names = feature_names

    def __sklearn_is_fitted__(self):
        return True

    def fit(self, X=None, y=None):
        # The wrapped model is pre-trained: nothing to learn.
        return self

    def _select(self, X):
        X = np.asarray(X)[:, self.columns]
        if self.feature_names is None:
            return X
        import pandas as pd

        return pd.DataFrame(X, columns=list(self.feature_names))

    @property
    def classes_(self):
        return self.model.classes_

    def predict(self, X):
        return self.model.predict(self._select(X))

    @available_if(lambda self: hasattr(self.model, "predict_proba"))
    def predict_proba(self, X):
        return self.model.predict_proba(self._select(X))

    def __sklearn_tags__(self):
        return self.model.__sklearn_tags__()


class _SelectColumns:
    """``X -> X[:, columns]``: the feature map from the user's columns to a spec's space."""

    def __init__(self, columns):
        self.columns = columns

    def __call__(self, X):
        return np.asarray(X, dtype=np.float64)[:, self.columns]


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # No fsync: a rename is atomic for other processes and survives the writer being
        # killed; after a power loss a file may be empty, which its SHA-256 in the index
        # then reveals (the model is refused, never loaded wrong).
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_safe(values):
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _task_of(model):
    if is_classifier(model) or hasattr(model, "classes_"):
        return "classification"
    if is_regressor(model) or hasattr(model, "predict"):
        return "regression"
    raise TypeError(f"model must be a fitted classifier or regressor, got {type(model).__name__}.")


def _check_X(X, name="X"):
    """Validated float array and the column names (DataFrames with string columns)."""
    names = None
    columns = getattr(X, "columns", None)
    if columns is not None and all(isinstance(c, str) for c in columns):
        names = [str(c) for c in columns]
    arr = check_array(
        X, dtype=np.float64, ensure_all_finite=True, ensure_min_samples=2, input_name=name
    )
    return arr, names


class ModelMarket:
    """A persistent, searchable store of reusable models (the learnware idea).

    Developers **add** a fitted model with the data it was trained on; the market keeps
    the model (in the :mod:`skreuse.io` format, whose loading runs no code) and an
    :class:`~skreuse.specification.RKMESpecification` of the data, never the data.
    A user with a new task **searches** with their own (unlabeled) rows: the rows are
    summarized by an RKME under the market's kernel, the squared MMD to every
    specification is computed in blocks, and the closest models come back with the
    simplex weights of the mixture of specifications closest to the user's data
    (labels, when given, re-rank the closest models by LogME). :meth:`reuser` turns the
    result into a fitted :class:`~skreuse.specification.RKMEReuser`.

    Read more in the :ref:`User Guide <market>`.

    Parameters
    ----------
    path : str or path-like
        The market's directory, created if missing. It holds ``index.sqlite`` (an
        SQLite index in WAL mode), ``models/`` (one skops file per model) and ``specs/``
        (one JSON specification per model).

    gamma : float or None, default=None
        Width of the Gaussian kernel shared by every specification of the market. Fixed
        when the market is created (when given) or by the first :meth:`add` (``None``:
        ``1 / (n_features * X.var())`` of the first model's data); stored in the index.
        Reopening a market with another ``gamma`` is an error.

    n_reduced : int, default=100
        Reduced points of the specifications built by :meth:`add` and :meth:`search`.

    random_state : int, RandomState instance or None, default=None
        Seeds the specifications' k-means initializations and the reuser.

    Attributes
    ----------
    path : pathlib.Path
        The market's directory.

    gamma_ : float or None
        The market's kernel width (``None`` while the market is empty and no ``gamma``
        was given).

    See Also
    --------
    skreuse.specification.RKMEReuser : Reuse models found by their specifications.
    skreuse.io.dump : The format models are stored in.

    Notes
    -----
    Writes are crash-safe and safe under concurrency: files are written under a
    temporary name and renamed, and the index row that makes a model visible is
    inserted in an SQLite transaction afterwards, so a writer killed half-way leaves at
    most an unreferenced file, never a half-written model. Each stored file's SHA-256 is
    kept in the index: a file changed after it was added is refused when loaded.

    The index also keeps each specification's reduced set in binary (and its self term
    ``beta^T K beta``), so a search reads no JSON: it streams the index in chunks of
    rows, so memory is ``O(chunk)`` and time linear in the number of models.

    Models whose columns are a subset of the user's DataFrame's columns are compared on
    those columns (selected by name); models that need columns the user lacks are
    listed by :meth:`search` with the reason. Specifications over different column sets
    live in different spaces, so the mixture weights (and :meth:`reuser`) only combine
    the found models that share the best match's columns and task.

    References
    ----------
    .. [1] Z.-H. Zhou and Z.-H. Tan, "Learnware: small models do big", Science China
       Information Sciences, 67(1):112102, 2024.
    .. [2] X.-Z. Wu, W. Xu, S. Liu and Z.-H. Zhou, "Model reuse with reduced kernel
       mean embedding specification", IEEE Transactions on Knowledge and Data
       Engineering, 35(1):699-710, 2023.
    .. [3] H.-J. Ye et al., "Beimingwu: a learnware dock system", KDD 2024.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreuse.market import ModelMarket
    >>> rng = np.random.RandomState(0)
    >>> market = ModelMarket(tempfile.mkdtemp(), gamma=0.5, random_state=0)
    >>> for name, shift in [("left", -3.0), ("right", 3.0)]:
    ...     X = rng.normal(size=(200, 2)) + [shift, 0.0]
    ...     model = LogisticRegression().fit(X, X[:, 1] > 0)
    ...     _ = market.add(name, model, X, tags=["toy"])
    >>> X_user = rng.normal(size=(100, 2)) + [3.0, 0.0]
    >>> market.search(X_user, k=2)[["name", "weight"]]
        name  weight
    0  right     1.0
    1   left     0.0
    >>> reuser = market.reuser(X_user, k=1)
    >>> reuser.predict(X_user[:3])
    array([ True, False,  True])
    >>> market.close()
    """

    def __init__(self, path, *, gamma=None, n_reduced=100, random_state=None):
        if gamma is not None and (
            isinstance(gamma, bool) or not isinstance(gamma, Real) or not gamma > 0
        ):
            raise ValueError(f"gamma must be a positive float or None, got {gamma!r}.")
        if isinstance(n_reduced, bool) or not isinstance(n_reduced, Integral) or n_reduced < 1:
            raise ValueError(f"n_reduced must be an int >= 1, got {n_reduced!r}.")
        check_random_state(random_state)
        self.path = Path(path)
        self.gamma = None if gamma is None else float(gamma)
        self.n_reduced = int(n_reduced)
        self.random_state = random_state
        self._conn = None
        self._open()

    # -- index ----------------------------------------------------------------------------

    def _open(self):
        path = self.path
        if path.exists() and not path.is_dir():
            raise ValueError(f"{path} is not a directory, so it cannot be a ModelMarket.")
        index = path / _INDEX
        if path.exists() and not index.exists():
            foreign = [p.name for p in path.iterdir() if p.name not in (_MODELS, _SPECS)]
            if foreign:
                raise ValueError(
                    f"{path} is not a ModelMarket: it has no {_INDEX} and holds other files "
                    f"({sorted(foreign)[:5]}). Use an empty or new directory."
                )
        if not index.exists():
            try:
                for sub in (path, path / _MODELS, path / _SPECS):
                    sub.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise PermissionError(f"Cannot create a ModelMarket at {path}: {exc}") from exc
        writable = os.access(path, os.W_OK)
        try:
            conn = self._connect(index, writable)
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if writable and not tables:
                # A new index (or one another process is creating: the transaction waits).
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('format', ?), ('version', ?)",
                        (_FORMAT, _VERSION),
                    )
                    if self.gamma is not None:
                        conn.execute(
                            "INSERT OR IGNORE INTO meta VALUES ('gamma', ?)", (repr(self.gamma),)
                        )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                tables = {"meta", "models"}
            meta = dict(conn.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        except sqlite3.DatabaseError as exc:
            raise ValueError(
                f"{index} is not a ModelMarket index (not a readable SQLite database): {exc}"
            ) from exc
        if meta.get("format") != _FORMAT or meta.get("version") != _VERSION:
            conn.close()
            raise ValueError(
                f"{index} is not a ModelMarket index of version {_VERSION} "
                f"(format {meta.get('format')!r}, version {meta.get('version')!r})."
            )
        stored = meta.get("gamma")
        if self.gamma is not None and stored is not None and float(stored) != self.gamma:
            conn.close()
            raise ValueError(
                f"The market at {path} uses gamma={float(stored)!r}; it was opened with "
                f"gamma={self.gamma!r}. Every specification of a market shares one kernel: "
                "open it with gamma=None."
            )
        self._conn = conn

    @staticmethod
    def _connect(index, writable):
        if writable:
            conn = sqlite3.connect(index, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL sync: a killed process loses no committed transaction.
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        uri = index.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60.0, isolation_level=None)
            conn.execute("SELECT name FROM sqlite_master").fetchall()
            return conn
        except sqlite3.OperationalError:
            # WAL needs its shared-memory file; in a directory nobody may write, there are
            # no writers either, so the index can be read as immutable.
            return sqlite3.connect(
                f"{uri}?immutable=1", uri=True, timeout=60.0, isolation_level=None
            )

    @property
    def gamma_(self):
        """The market's kernel width, read from the index (``None`` until fixed)."""
        value = self._connection().execute("SELECT value FROM meta WHERE key='gamma'").fetchone()
        return None if value is None else float(value[0])

    def _connection(self):
        if self._conn is None:
            raise ValueError(f"The ModelMarket at {self.path} is closed.")
        return self._conn

    def close(self):
        """Close the index (the market stays on disk and can be reopened).

        Returns
        -------
        None
            The connection to the index is closed.
        """
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __getstate__(self):
        # The SQLite connection cannot travel; the copy reopens the index.
        state = self.__dict__.copy()
        state["_conn"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._open()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        return self._connection().execute("SELECT COUNT(*) FROM models").fetchone()[0]

    def __contains__(self, name):
        row = self._connection().execute("SELECT 1 FROM models WHERE name=?", (name,))
        return row.fetchone() is not None

    def __repr__(self):
        return f"ModelMarket({str(self.path)!r})"

    def _check_writable(self):
        if not os.access(self.path, os.W_OK) or not os.access(self.path / _MODELS, os.W_OK):
            raise PermissionError(
                f"The ModelMarket at {self.path} is read-only: models cannot be added or "
                "removed (searching and loading still work)."
            )

    # -- writing --------------------------------------------------------------------------

    def add(self, name, model, X, *, description="", tags=(), spec=None):
        """Add a fitted model with the specification of its training data.

        Parameters
        ----------
        name : str
            Unique name of the model in the market.

        model : fitted classifier or regressor
            The model; it is stored with :func:`skreuse.io.dump` (torch modules are
            refused there) and not modified.

        X : array-like of shape (n_samples, n_features) or None
            Rows like the model's training data; the RKME specification is fitted on
            them under the market's kernel and ``X`` itself is never stored. May be
            ``None`` when ``spec`` is given.

        description : str, default=""
            Free text shown by :meth:`catalog` and :meth:`search`.

        tags : iterable of str, default=()
            Labels that :meth:`search` can filter on.

        spec : RKMESpecification or None, default=None
            A specification fitted elsewhere (e.g. by the model's developer, who keeps
            the data). It must use the market's kernel width.

        Returns
        -------
        self : ModelMarket
            The market.
        """
        self._check_writable()
        if not isinstance(name, str) or not name or len(name) > 200:
            raise TypeError(
                f"name must be a non-empty str of at most 200 characters, got {name!r:.60}."
            )
        if not isinstance(description, str):
            raise TypeError(f"description must be a str, got {type(description).__name__}.")
        if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
            raise TypeError(f"tags must be an iterable of str (not a str), got {tags!r:.60}.")
        tags = sorted(set(tags))
        if name in self:
            raise ValueError(f"A model named {name!r} is already in the market; remove it first.")
        if not hasattr(model, "predict"):
            raise TypeError(
                f"model must be a fitted classifier or regressor, got {type(model).__name__}."
            )
        check_model_fitted(model, name)
        task = _task_of(model)

        if spec is not None:
            if not isinstance(spec, RKMESpecification) or not hasattr(spec, "gamma_"):
                raise TypeError("spec must be a fitted RKMESpecification.")
            n_features = spec.n_features_in_
            names = (
                [str(c) for c in spec.feature_names_in_]
                if hasattr(spec, "feature_names_in_")
                else None
            )
        if X is not None:
            X_arr, names = _check_X(X)
            n_features = X_arr.shape[1]
            if spec is not None and spec.n_features_in_ != n_features:
                raise ValueError(
                    f"spec describes {spec.n_features_in_} features but X has {n_features}."
                )
        elif spec is None:
            raise ValueError("X is needed to build the specification (or pass spec=).")
        self._check_model_matches(name, model, X, n_features, names)

        buffer = io.BytesIO()
        skio.dump(model, buffer)
        model_bytes = buffer.getvalue()

        X_fit, given = (X_arr if X is not None else None), spec
        spec = self._spec_for(X_fit, given, self.gamma_, name)
        conn = self._connection()
        file_id = uuid.uuid4().hex
        model_path = self.path / _MODELS / f"{file_id}.skops"
        spec_path = self.path / _SPECS / f"{file_id}.json"
        conn.execute("BEGIN IMMEDIATE")
        try:
            gamma = self.gamma_
            if gamma is not None and spec.gamma_ != gamma:
                # Another process fixed the kernel since we looked: fit under it (a
                # given spec is refused).
                spec = self._spec_for(X_fit, given, gamma, name)
            if gamma is None:
                conn.execute("INSERT INTO meta VALUES ('gamma', ?)", (repr(spec.gamma_),))
            spec_bytes = spec.to_json().encode("utf-8")
            Z = np.ascontiguousarray(spec.reduced_points_, dtype="<f8")
            beta = np.ascontiguousarray(spec.weights_, dtype="<f8")
            _atomic_write(model_path, model_bytes)
            _atomic_write(spec_path, spec_bytes)
            classes = (
                json.dumps(_json_safe(np.asarray(model.classes_).tolist()))
                if task == "classification"
                else None
            )
            conn.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    file_id,
                    task,
                    int(n_features),
                    None if names is None else json.dumps(names),
                    classes,
                    json.dumps(tags),
                    description,
                    datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                    _sha256(model_bytes),
                    _sha256(spec_bytes),
                    int(Z.shape[0]),
                    float(self_terms([Z], [beta], spec.gamma_)[0]),
                    Z.tobytes(),
                    beta.tobytes(),
                ),
            )
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            for p in (model_path, spec_path):
                p.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.IntegrityError):
                raise ValueError(
                    f"A model named {name!r} is already in the market; remove it first."
                ) from exc
            raise
        return self

    def _spec_for(self, X, spec, gamma, name):
        if spec is not None:
            if gamma is not None and not np.isclose(spec.gamma_, gamma, rtol=1e-12, atol=0):
                raise ValueError(
                    f"spec of {name!r} was fitted with gamma={spec.gamma_!r}, but every "
                    f"specification of this market uses gamma={gamma!r}: refit it with "
                    f"RKMESpecification(gamma={gamma!r})."
                )
            return spec
        if gamma is None:
            var = float(X.var())
            gamma = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        return RKMESpecification(self.n_reduced, gamma=gamma, random_state=self.random_state).fit(X)

    @staticmethod
    def _check_model_matches(name, model, X, n_features, names):
        n_in = getattr(model, "n_features_in_", None)
        if n_in is not None and n_in != n_features:
            raise ValueError(
                f"model {name!r} takes {n_in} features but X has {n_features}: X must look "
                "like the model's training data."
            )
        model_names = getattr(model, "feature_names_in_", None)
        if model_names is not None and names is not None and list(model_names) != names:
            raise ValueError(
                f"model {name!r} was trained on the columns {list(model_names)[:8]} but X "
                f"has the columns {names[:8]}."
            )
        if X is not None:
            try:
                model.predict(X.iloc[:2] if hasattr(X, "iloc") else np.asarray(X)[:2])
            except Exception as exc:
                raise ValueError(
                    f"model {name!r} cannot predict rows of X: {type(exc).__name__}: {exc}"
                ) from exc

    def remove(self, name):
        """Remove a model and its specification.

        Parameters
        ----------
        name : str
            The model's name.

        Returns
        -------
        self : ModelMarket
            The market.
        """
        self._check_writable()
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT file_id FROM models WHERE name=?", (name,)).fetchone()
            if row is None:
                raise ValueError(self._unknown(name))
            conn.execute("DELETE FROM models WHERE name=?", (name,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        # Files go after the commit: a crash in between leaves only unreferenced files.
        (self.path / _MODELS / f"{row[0]}.skops").unlink(missing_ok=True)
        (self.path / _SPECS / f"{row[0]}.json").unlink(missing_ok=True)
        return self

    def _unknown(self, name):
        return f"No model named {name!r} in the market at {self.path}."

    # -- reading --------------------------------------------------------------------------

    def _read_checked(self, name, kind):
        row = (
            self._connection()
            .execute("SELECT file_id, model_sha256, spec_sha256 FROM models WHERE name=?", (name,))
            .fetchone()
        )
        if row is None:
            raise ValueError(self._unknown(name))
        file_id, model_sha, spec_sha = row
        path = (
            self.path / _MODELS / f"{file_id}.skops"
            if kind == "model"
            else self.path / _SPECS / f"{file_id}.json"
        )
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ValueError(f"The {kind} file of {name!r} ({path}) is missing.") from exc
        if _sha256(data) != (model_sha if kind == "model" else spec_sha):
            raise ValueError(
                f"The {kind} file of {name!r} ({path}) was modified after it was added to "
                "the market (its SHA-256 differs from the index); it was not loaded."
            )
        return data

    def load(self, name):
        """The stored model (read with :func:`skreuse.io.load`: no code runs).

        Parameters
        ----------
        name : str
            The model's name.

        Returns
        -------
        model : estimator
            A fitted copy of the model.
        """
        return skio.load(io.BytesIO(self._read_checked(name, "model")))

    def specification(self, name):
        """The stored RKME specification of a model's training data.

        Parameters
        ----------
        name : str
            The model's name.

        Returns
        -------
        spec : RKMESpecification
            The fitted specification (read from plain JSON).
        """
        return RKMESpecification.from_json(self._read_checked(name, "spec"))

    def catalog(self):
        """One row per model: what the market holds.

        Returns
        -------
        catalog : pandas.DataFrame
            Columns ``name``, ``task``, ``n_features``, ``feature_names``, ``classes``,
            ``tags``, ``description``, ``added`` (UTC, ISO 8601), in order of addition.
        """
        import pandas as pd

        rows = self._connection().execute(f"SELECT {_META_COLUMNS} FROM models ORDER BY rowid")
        records = [self._record(r) for r in rows]
        columns = [
            "name", "task", "n_features", "feature_names", "classes", "tags", "description",
            "added",
        ]  # fmt: skip
        return pd.DataFrame([{c: r[c] for c in columns} for r in records], columns=columns)

    @staticmethod
    def _record(row):
        name, file_id, task, n_features, names, classes, tags, description, added = row
        return {
            "name": name,
            "file_id": file_id,
            "task": task,
            "n_features": n_features,
            "feature_names": None if names is None else json.loads(names),
            "classes": None if classes is None else json.loads(classes),
            "tags": json.loads(tags),
            "description": description,
            "added": added,
        }

    # -- search ---------------------------------------------------------------------------

    def _usable(self, record, n_user, user_names):
        """Column positions of the user's rows a model reads, or a reason it cannot."""
        names = record["feature_names"]
        if names is not None and user_names is not None:
            missing = [c for c in names if c not in user_names]
            if missing:
                return None, f"needs columns absent from X: {missing[:5]}"
            return tuple(user_names.index(c) for c in names), None
        if record["n_features"] != n_user:
            return None, f"takes {record['n_features']} features, X has {n_user}"
        return tuple(range(n_user)), None

    def _search(self, X, y, k, tags, task):
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}.")
        if tags is not None and (
            isinstance(tags, str) or not all(isinstance(t, str) for t in tags)
        ):
            raise TypeError(
                f"tags must be None or an iterable of str (not a str), got {tags!r:.60}."
            )
        if task not in (None, "classification", "regression"):
            raise ValueError(f"task must be None, 'classification' or 'regression', got {task!r}.")
        X_arr, user_names = _check_X(X)
        if y is not None:
            y = np.asarray(y)
            if y.ndim != 1 or y.shape[0] != X_arr.shape[0]:
                raise ValueError(
                    f"y must be 1-D with one label per row of X ({X_arr.shape[0]}), got "
                    f"shape {y.shape}."
                )
            type_of_target(y, input_name="y")
        conn = self._connection()
        gamma = self.gamma_
        if gamma is None or len(self) == 0:
            raise ValueError(f"The market at {self.path} is empty: add models before searching.")
        # One read transaction: the metadata and the specifications are one snapshot even
        # while other processes add or remove models.
        conn.execute("BEGIN")
        try:
            records, skipped, groups = {}, [], {}
            for row in conn.execute(f"SELECT {_META_COLUMNS} FROM models ORDER BY rowid"):
                rec = self._record(row)
                if tags is not None and not set(tags) <= set(rec["tags"]):
                    continue
                if task is not None and rec["task"] != task:
                    continue
                cols, reason = self._usable(rec, X_arr.shape[1], user_names)
                if cols is None:
                    skipped.append((rec, reason))
                    continue
                rec["columns"] = cols
                records[rec["name"]] = rec
                groups.setdefault(cols, None)
            if not records and not skipped:
                raise ValueError(
                    f"No model of the market at {self.path} has the tags {sorted(tags or ())}"
                    + (f" and task {task!r}." if task else ".")
                )
            queries = {
                cols: RKMESpecification(
                    self.n_reduced, gamma=gamma, random_state=self.random_state
                ).fit(X_arr[:, list(cols)])
                for cols in groups
            }
            mmd2 = {}
            cursor = conn.execute(
                "SELECT name, n_features, n_points, self_term, points, weights FROM models "
                "ORDER BY rowid"
            )
            while batch := cursor.fetchmany(_CHUNK_ROWS):
                by_group = {}
                for name, d, n_points, s, points, weights in batch:
                    if name not in records:
                        continue
                    Z = np.frombuffer(points, dtype="<f8").reshape(n_points, d)
                    w = np.frombuffer(weights, dtype="<f8")
                    by_group.setdefault(records[name]["columns"], []).append((name, Z, w, s))
                for cols, items in by_group.items():
                    q = queries[cols]
                    values = mmd2_to_many(
                        q.reduced_points_,
                        q.weights_,
                        [it[1] for it in items],
                        [it[2] for it in items],
                        gamma,
                        spec_self=np.array([it[3] for it in items]),
                    )
                    mmd2.update(zip([it[0] for it in items], values.tolist()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        found = sorted(records, key=lambda n: (mmd2[n], n))[:k]
        weights = self._mixture(found, records, queries, gamma)
        logme = None
        if y is not None and found:
            logme = self._logme(found, records, X, X_arr, y)
            found = sorted(found, key=lambda n: -logme[n])
        return found, records, mmd2, weights, logme, skipped, queries, X_arr, user_names

    def _specs_of(self, names):
        conn = self._connection()
        out = {}
        for name in names:
            d, n_points, s, points, weights = conn.execute(
                "SELECT n_features, n_points, self_term, points, weights FROM models WHERE name=?",
                (name,),
            ).fetchone()
            out[name] = (
                np.frombuffer(points, dtype="<f8").reshape(n_points, d),
                np.frombuffer(weights, dtype="<f8"),
                s,
            )
        return out

    def _mixture(self, found, records, queries, gamma):
        """Simplex weights over the found models sharing the best match's columns and task."""
        weights = dict.fromkeys(found, 0.0)
        if not found:
            return weights
        best = records[found[0]]
        members = [
            n for n in found
            if records[n]["columns"] == best["columns"] and records[n]["task"] == best["task"]
        ]  # fmt: skip
        specs = self._specs_of(members)
        points = [specs[n][0] for n in members]
        spec_weights = [specs[n][1] for n in members]
        G = np.column_stack(
            [cross_to_many(specs[n][0], specs[n][1], points, spec_weights, gamma) for n in members]
        )
        G = (G + G.T) / 2.0
        q = queries[best["columns"]]
        c = cross_to_many(q.reduced_points_, q.weights_, points, spec_weights, gamma)
        weights.update(zip(members, _simplex_qp(G, c).tolist()))
        return weights

    def _logme(self, found, records, X, X_arr, y):
        from ..transferability import logme_score

        task = "classification" if type_of_target(y) in ("binary", "multiclass") else "auto"
        scores = {}
        for name in found:
            model = self._wrapped(name, records[name])
            features = extract_features(model, X_arr, name=name)
            scores[name] = float(logme_score(features, y, task=task))
        return scores

    def _wrapped(self, name, record):
        model = self.load(name)
        names = record["feature_names"]
        cols = list(record["columns"])
        if names is None and cols == list(range(len(cols))) and record["n_features"] == len(cols):
            return model
        return _ColumnSubsetModel(model, cols, names)

    def search(self, X, y=None, *, k=5, tags=None, task=None):
        """Find the models whose training data look most like ``X``.

        ``X`` is summarized by an RKME specification under the market's kernel; its
        squared MMD to every specification in the market is computed in blocks. The
        ``k`` closest are returned with the simplex weights of the mixture of their
        specifications closest to ``X``; with labels ``y`` they are ordered by the LogME
        of their outputs on ``(X, y)`` instead.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The user's rows. With a DataFrame, models trained on a subset of its
            columns are compared on those columns.

        y : array-like of shape (n_samples,) or None, default=None
            Labels: re-rank the ``k`` closest models by LogME
            (:func:`~skreuse.transferability.logme_score`).

        k : int, default=5
            Number of models returned.

        tags : iterable of str or None, default=None
            Only models carrying all these tags are considered.

        task : {"classification", "regression"} or None, default=None
            Only models of this task are considered.

        Returns
        -------
        result : pandas.DataFrame
            One row per found model, best first: ``name``, ``mmd2``, ``weight`` (mixture
            weight; 0 for models outside the best match's columns or task), ``logme``
            (with ``y``), ``task``, ``columns`` (the columns of ``X`` it reads, ``None``
            for all), ``tags``, ``description``, ``reason`` (``None``). Then one row per
            model that cannot read ``X``, with ``mmd2`` NaN and the ``reason``.
        """
        found, records, mmd2, weights, logme, skipped, *_ = self._search(X, y, k, tags, task)
        import pandas as pd

        rows = []
        for name in found:
            rec = records[name]
            row = {"name": name, "mmd2": mmd2[name], "weight": weights[name]}
            if y is not None:
                row["logme"] = logme[name]
            rows.append(row | self._describe(rec, rec["feature_names"], None))
        for rec, reason in skipped:
            row = {"name": rec["name"], "mmd2": np.nan, "weight": 0.0}
            if y is not None:
                row["logme"] = np.nan
            rows.append(row | self._describe(rec, None, reason))
        columns = ["name", "mmd2", "weight"] + (["logme"] if y is not None else [])
        columns += ["task", "columns", "tags", "description", "reason"]
        return pd.DataFrame(rows, columns=columns)

    @staticmethod
    def _describe(rec, columns, reason):
        return {
            "task": rec["task"],
            "columns": columns,
            "tags": rec["tags"],
            "description": rec["description"],
            "reason": reason,
        }

    def reuser(self, X, y=None, *, k=5, method="job_selector", tags=None, task=None):
        """A fitted :class:`~skreuse.specification.RKMEReuser` over the models found for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The user's rows.

        y : array-like of shape (n_samples,) or None, default=None
            Labels. They rank the found models by LogME, and the labelled methods
            (``"feature_augment"``, ``"ensemble_pruning"``) learn from them; the other
            methods learn nothing from labels.

        k : int, default=5
            Number of models searched for; the reuser combines those that share the
            best match's columns and task.

        method : str, default="job_selector"
            How the reuser combines the models: ``"job_selector"``, ``"best"`` or
            ``"average"`` (no labels), or with ``y`` ``"feature_augment"`` or
            ``"ensemble_pruning"`` (see :class:`~skreuse.specification.RKMEReuser`).

        tags : iterable of str or None, default=None
            Only models carrying all these tags are considered.

        task : {"classification", "regression"} or None, default=None
            Only models of this task are considered.

        Returns
        -------
        reuser : RKMEReuser
            Fitted on ``X``; it takes rows with the columns of ``X`` and hands each
            model its own columns.
        """
        found, records, _, _, _, skipped, _, X_arr, user_names = self._search(X, y, k, tags, task)
        if not found:
            reasons = "; ".join(f"{rec['name']}: {why}" for rec, why in skipped[:5])
            raise ValueError(f"No model of the market can read X ({reasons}).")
        best = records[found[0]]
        members = [
            n for n in found
            if records[n]["columns"] == best["columns"] and records[n]["task"] == best["task"]
        ]  # fmt: skip
        models = [(n, self._wrapped(n, records[n]), self.specification(n)) for n in members]
        cols = list(best["columns"])
        feature_map = None if cols == list(range(X_arr.shape[1])) else _SelectColumns(cols)
        return RKMEReuser(
            models, method=method, feature_map=feature_map, random_state=self.random_state
        ).fit(X, y)
