"""Model market search: blocked MMD^2 to M specifications vs a loop over ``spec.mmd``.

Part 1 (the search kernel). M specifications of K = 100 reduced points in d = 64
dimensions (Gaussian clouds around random centres, uniform weights) and one query
specification of K = 100 points under one kernel width. Three ways to get the squared MMD
from the query to every specification:

- ``blocked``: ``skreuse.specification._batch.mmd2_to_many`` (what ``ModelMarket.search``
  and ``RKMEReuser.fit`` run): one pass over the reduced sets a block of rows at a time,
  with the specifications' self terms precomputed (a market stores them at ``add``);
- ``loop``: ``query.mmd(spec)`` for every spec, the obvious baseline (run up to M = 1000);
- ``stacked``: the previous ``RKMEReuser`` computation, one kernel matrix over all stacked
  reduced sets, ``O((M K)^2)`` memory (run at M = 10 only: 1.7 GB at M = 100).

Peak memory is measured by ``tracemalloc`` around the call (the inputs, ``M K d`` floats,
are allocated before and not counted; at M = 10 000 they are 512 MB).

Part 2 (the market end to end): ``ModelMarket.add`` of 1000 small models (logistic
regressions on 150 rows x 10 features, ``n_reduced=20``), ``search`` of the full market,
then ``remove`` of all of them, in a temporary directory.

Run ``python benchmarks/bench_market.py`` (``--quick``: M up to 1000, 200 models).
"""

import sys
import tempfile
import time
import tracemalloc

import numpy as np

from skreuse.specification import RKMESpecification
from skreuse.specification._batch import mmd2_to_many, self_terms

M_VALUES = [10, 100, 1_000, 10_000]
QUICK_M = [10, 100, 1_000]
LOOP_MAX = 1_000
K, D = 100, 64
N_MODELS = 1_000
QUICK_MODELS = 200


def make_specs(m, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.normal(scale=2.0, size=(m, 1, D))
    points = centres + rng.normal(size=(m, K, D))
    return list(points), [np.full(K, 1.0 / K)] * m


def _as_spec(points, weights, gamma):
    spec = RKMESpecification(K, gamma=gamma)
    spec.reduced_points_, spec.weights_ = points, weights
    spec.gamma_, spec.n_features_in_, spec.n_samples_seen_, spec.n_iter_ = gamma, D, 1000, 0
    return spec


def measured(fn, *args, **kwargs):
    """(seconds, peak MiB allocated during ``fn(*args, **kwargs)``, result)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, out


def stacked(query, points, weights, gamma):
    """The former RKMEReuser: one kernel matrix over every stacked reduced set."""
    Z = np.vstack(points)
    owner = np.repeat(np.arange(len(points)), K)
    B = np.zeros((Z.shape[0], len(points)))
    B[np.arange(Z.shape[0]), owner] = np.concatenate(weights)
    sq = (Z**2).sum(1)
    G = B.T @ np.exp(-gamma * np.maximum(sq[:, None] - 2 * Z @ Z.T + sq[None, :], 0)) @ B
    Zq, wq = query.reduced_points_, query.weights_
    cross = np.exp(-gamma * np.maximum(sq[:, None] - 2 * Z @ Zq.T + (Zq**2).sum(1), 0)) @ wq
    qq = wq @ query.transform(Zq) @ wq
    return np.clip(np.diag(G) - 2 * B.T @ cross + qq, 0, None)


def search_rows(m_values):
    gamma = 1.0 / (2 * D)
    rng = np.random.RandomState(1)
    query = _as_spec(rng.normal(size=(K, D)), np.full(K, 1.0 / K), gamma)
    rows = []
    for m in m_values:
        points, weights = make_specs(m)
        t_self, _, s = measured(self_terms, points, weights, gamma)
        t_blk, mem_blk, got = measured(
            mmd2_to_many, query.reduced_points_, query.weights_, points, weights, gamma, spec_self=s
        )
        row = {"M": m, "blocked": (t_blk, mem_blk), "self": t_self}
        if m <= LOOP_MAX:
            specs = [_as_spec(p, w, gamma) for p, w in zip(points, weights)]
            t_loop, mem_loop, ref = measured(lambda specs=specs: [query.mmd(sp) for sp in specs])
            row["loop"] = (t_loop, mem_loop, float(np.max(np.abs(got - np.array(ref)))))
        if m <= 10:
            t_st, mem_st, ref = measured(stacked, query, points, weights, gamma)
            row["stacked"] = (t_st, mem_st, float(np.max(np.abs(got - ref))))
        rows.append(row)
        print(row, flush=True)
    return rows


def market_round_trip(n_models):
    import skops.io  # noqa: F401  (its first import walks scikit-learn: ~10 s, not timed)
    from sklearn.linear_model import LogisticRegression

    from skreuse.market import ModelMarket

    rng = np.random.RandomState(0)
    data = []
    for _ in range(n_models):
        X = rng.normal(size=(150, 10)) + rng.normal(scale=2.0, size=10)
        data.append((X, LogisticRegression().fit(X, X[:, 0] > np.median(X[:, 0]))))
    with tempfile.TemporaryDirectory() as tmp:
        market = ModelMarket(tmp, n_reduced=20, random_state=0)
        start = time.perf_counter()
        for i, (X, model) in enumerate(data):
            market.add(f"m{i}", model, X)
        t_add = time.perf_counter() - start
        start = time.perf_counter()
        found = market.search(data[7][0], k=5)
        t_search = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(n_models):
            market.remove(f"m{i}")
        t_remove = time.perf_counter() - start
        assert found["name"].iloc[0] == "m7"
        assert len(market) == 0
        market.close()
    return t_add, t_search, t_remove


def market_search_large(m):
    """``ModelMarket.search`` over an index of ``m`` specifications (K = 100, d = 64).

    One model is added for real; the other ``m - 1`` index rows are bulk-inserted with
    their own reduced sets (adding 10 000 models one by one would dominate the run).
    A search without labels reads only the index, so this times exactly what it does.
    """
    import sqlite3
    import uuid

    from sklearn.dummy import DummyClassifier

    from skreuse.market import ModelMarket

    gamma = 1.0 / (2 * D)
    points, weights = make_specs(m, seed=3)
    selfs = self_terms(points, weights, gamma)
    rng = np.random.RandomState(2)
    X0 = points[0] + 0.1 * rng.normal(size=(K, D))
    with tempfile.TemporaryDirectory() as tmp:
        market = ModelMarket(tmp, gamma=gamma, n_reduced=K, random_state=0)
        market.add("real", DummyClassifier().fit(X0, np.arange(K) % 2), X0)
        conn = sqlite3.connect(f"{tmp}/index.sqlite")
        row = list(conn.execute("SELECT * FROM models WHERE name='real'").fetchone())
        rows = []
        for j in range(1, m):
            row[0], row[1] = f"s{j}", uuid.uuid4().hex
            row[11:15] = [K, float(selfs[j]), points[j].tobytes(), weights[j].tobytes()]
            rows.append(tuple(row))
        conn.executemany(f"INSERT INTO models VALUES ({', '.join('?' * 15)})", rows)
        conn.commit()
        conn.close()
        del rows
        X_user = points[5] + 0.1 * rng.normal(size=(K, D))
        seconds, peak, found = measured(market.search, X_user, k=5)
        assert found["name"].iloc[0] == "s5"
        market.close()
    return seconds, peak


def main(quick=False):
    m_values = QUICK_M if quick else M_VALUES
    n_models = QUICK_MODELS if quick else N_MODELS
    rows = search_rows(m_values)
    lines = [
        "## Model market: search (blocked MMD^2) and add/search/remove",
        "",
        f"Search kernel: M specifications of K = {K} points in d = {D} dimensions, one query "
        "spec of K points. `blocked` is what `ModelMarket.search` and `RKMEReuser.fit` run "
        "(self terms precomputed, as a market stores them); `loop` calls `query.mmd(spec)` for "
        "each spec; `stacked` is the former RKMEReuser computation (one (M K)^2 kernel). Peak "
        "memory: tracemalloc during the call, inputs excluded. learnware not installed here "
        "(its search loops over specifications in Python, like `loop`).",
        "",
        "| M | blocked (s) | blocked peak (MiB) | loop (s) | loop / blocked | "
        "max abs diff vs loop | stacked (s) | stacked peak (MiB) | self terms at add (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t_blk, mem_blk = r["blocked"]
        loop = r.get("loop")
        st = r.get("stacked")
        lines.append(
            f"| {r['M']} | {t_blk:.3f} | {mem_blk:.1f} | "
            + (f"{loop[0]:.3f} | {loop[0] / t_blk:.1f}x | {loop[2]:.1e}" if loop else "- | - | -")
            + (f" | {st[0]:.3f} | {st[1]:.1f}" if st else " | - | -")
            + f" | {r['self']:.2f} |"
        )
    times = np.array([r["blocked"][0] for r in rows])
    ms = np.array([r["M"] for r in rows], dtype=float)
    slope = np.polyfit(np.log(ms[1:]), np.log(times[1:]), 1)[0]
    lines += [
        "",
        f"Time vs M (log-log slope from M = {int(ms[1])}): {slope:.2f} (1 = linear).",
        "",
    ]
    m_large = 1_000 if quick else 10_000
    t_large, peak_large = market_search_large(m_large)
    lines += [
        f"`ModelMarket.search` over an index of {m_large} specifications (K = {K}, d = {D}; "
        "rows bulk-inserted, see `market_search_large`): "
        f"{t_large:.2f} s, peak {peak_large:.0f} MiB (tracemalloc; includes fitting the "
        "user's RKME on 100 rows and reading the index in chunks).",
        "",
    ]
    t_add, t_search, t_remove = market_round_trip(n_models)
    total = t_add + t_search + t_remove
    peak = max(peak_large, rows[-1]["blocked"][1])
    lines += [
        f"Market end to end ({n_models} logistic regressions, 150 rows x 10 features, "
        "n_reduced=20): "
        f"add {t_add:.1f} s ({1000 * t_add / n_models:.0f} ms per model), search of the "
        f"full market {t_search:.2f} s, remove {t_remove:.1f} s; total {total:.1f} s.",
        "",
        "Goals: peak memory under 1 GB "
        + ("met" if peak < 1024 else "**not met**")
        + f" ({peak:.0f} MiB); add, search and remove of "
        f"{n_models} models in under a minute "
        + ("met" if total < 60 else "**not met**")
        + f" ({total:.1f} s); {m_large} specifications searched in under 2 s "
        + ("met" if t_large < 2 else "**not met**")
        + f" ({rows[-1]['blocked'][0]:.2f} s for the kernel, {t_large:.2f} s for "
        "`ModelMarket.search`, which also reads the reduced sets from SQLite).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv))
