"""Scaling past memory and past one machine (issue 16).

- LogMESelector on one candidate with 200 000 x 512 features: the streamed fit (LogME
  statistics chunk by chunk) against the old path (materialize the feature matrix, score
  it, extract it again for the head), peak memory (tracemalloc) and time side by side.
- NCMClassifier.predict against scikit-learn's NearestCentroid on float32 data.
- RKMESpecification.fit time against n.
- The same LogME and RKME computations on a dask LocalCluster, time per worker count.

Run ``python benchmarks/bench_scale.py`` (``--quick`` for smaller sizes).
"""

import sys
import time
import tracemalloc
import warnings

import numpy as np
from _timing import best_time
from sklearn.neighbors import NearestCentroid

from skreuse.inference import NCMClassifier
from skreuse.selection import LogMESelector
from skreuse.selection._logme_selector import _BayesianLinearHead
from skreuse.specification import RKMESpecification
from skreuse.transferability import logme_score
from skreuse.utils._features import extract_features

QUICK = "--quick" in sys.argv
MiB = 2**20


def _peak(fn):
    """``(seconds, peak traced MiB, result)`` of one call of ``fn``."""
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / MiB
    tracemalloc.stop()
    return seconds, peak, out


class _ReluFeatures:
    """A fixed random ReLU layer (64 -> width), float32 like a torch backbone's output."""

    def __init__(self, width, seed=0):
        self.W = np.random.RandomState(seed).normal(size=(64, width)).astype(np.float32)

    def __call__(self, Z):
        out = np.asarray(Z, dtype=np.float32) @ self.W
        np.maximum(out, 0, out=out)
        return out


def bench_selector(n, width=512):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 64)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0.5)
    model = _ReluFeatures(width)

    def old_path():
        # What LogMESelector.fit did before: the whole feature matrix for the score, and
        # the selected candidate's features extracted again for the head.
        score = logme_score(extract_features(model, X), y)
        _BayesianLinearHead().fit(extract_features(model, X), y)
        return score

    def streamed():
        return LogMESelector([("relu", model)]).fit(X, y).scores_["relu"]

    t_old, m_old, s_old = _peak(old_path)
    t_new, m_new, s_new = _peak(streamed)
    full32, full64 = n * width * 4 / MiB, n * width * 8 / MiB
    lines = [
        f"### LogMESelector, one candidate, n={n:,} rows x {width} float32 features",
        "",
        f"The full feature matrix is {full32:.0f} MiB in float32 ({full64:.0f} MiB in "
        "float64). Peak memory is what tracemalloc sees allocated during the call (numpy "
        "buffers), on top of the inputs. The old path is what `LogMESelector.fit` did "
        "before (materialize the features, score them, extract them again for the head), "
        "run with today's `logme_score`.",
        "",
        "| path | time (s) | peak memory (MiB) | peak / float32 matrix | score |",
        "|---|---:|---:|---:|---:|",
        f"| old: full matrix, features extracted twice | {t_old:.2f} | {m_old:.0f} | "
        f"{m_old / full32:.1%} | {s_old:.6f} |",
        f"| streamed statistics, one pass | {t_new:.2f} | {m_new:.0f} | "
        f"{m_new / full32:.1%} | {s_new:.6f} |",
        "",
        f"Memory ratio old / streamed: {m_old / m_new:.1f}x; time ratio: {t_old / t_new:.2f}x; "
        f"score difference {abs(s_old - s_new):.1e}.",
        "",
    ]
    return lines


def bench_ncm(n, d=128, c=1000):
    rng = np.random.RandomState(0)
    centers = rng.normal(size=(c, d)).astype(np.float32)
    y = rng.randint(c, size=n)
    X = centers[y] + rng.normal(size=(n, d)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        nc = NearestCentroid().fit(X, y)
    ncm = NCMClassifier().fit(X, y)
    t_ref, m_ref, p_ref = _peak(lambda: nc.predict(X))
    t_new, m_new, p_new = _peak(lambda: ncm.predict(X))
    return [
        f"### NCMClassifier.predict vs NearestCentroid.predict, n={n:,}, d={d}, {c} classes, "
        "float32",
        "",
        "| implementation | time (s) | peak memory (MiB) |",
        "|---|---:|---:|",
        f"| sklearn NearestCentroid | {t_ref:.2f} | {m_ref:.0f} |",
        f"| skreuse NCMClassifier (chunked) | {t_new:.2f} | {m_new:.0f} |",
        "",
        f"Speed-up {t_ref / t_new:.2f}x, memory ratio NCM / NearestCentroid "
        f"{m_new / m_ref:.2f}; prediction agreement {np.mean(p_new == p_ref):.5f}. "
        f"The input itself is {X.nbytes / MiB:.0f} MiB.",
        "",
    ]


def _mixture(n, d=5, seed=0):
    rng = np.random.RandomState(seed)
    centers = 3 * rng.normal(size=(4, d))
    return centers[rng.randint(4, size=n)] + rng.normal(size=(n, d))


def bench_rkme(sizes):
    rows = []
    for n in sizes:
        X = _mixture(n)
        spec = RKMESpecification(n_reduced=50, n_iter=3, random_state=0)
        t, _ = best_time(lambda X=X, spec=spec: spec.fit(X))
        rows.append((n, t, spec.n_iter_))
    lines = [
        "### RKMESpecification.fit time vs n (d=5, 50 reduced points, at most 3 rounds)",
        "",
        "| n | time (s) | rounds | time / n (µs per row) |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {n:,} | {t:.2f} | {r} | {1e6 * t / n:.1f} |" for n, t, r in rows]
    lines += [
        "",
        "Each round is a fixed number of passes over the rows (O(n) each); the k-means "
        "initialization runs on at most 20 000 rows, a fixed cost that dominates the "
        "smallest sizes.",
        "",
    ]
    return lines


def bench_dask(n_logme, n_rkme, workers=(1, 2)):
    import dask.array as da
    from distributed import Client, LocalCluster

    F = _ReluFeatures(256)(np.random.RandomState(1).normal(size=(n_logme, 64)))
    y = (F[:, 0] > F[:, 1]).astype(int)
    X = _mixture(n_rkme)
    ref_logme = logme_score(F, y)
    ref_spec = RKMESpecification(n_reduced=50, n_iter=3, random_state=0).fit(X)
    t_logme_mem, _ = best_time(lambda: logme_score(F, y))
    t_rkme_mem, _ = best_time(lambda: RKMESpecification(50, n_iter=3, random_state=0).fit(X))
    rows = [("in memory (numpy)", t_logme_mem, 0.0, t_rkme_mem, ref_spec.mmd(X))]
    for k in workers:
        with (
            # dask warns about the arrays embedded in the graph by from_array: intended here.
            warnings.catch_warnings(),
            LocalCluster(
                n_workers=k, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster),
        ):
            warnings.simplefilter("ignore", UserWarning)
            Fd = da.from_array(F, chunks=(max(1, n_logme // 8), -1)).persist()
            Xd = da.from_array(X, chunks=(max(1, n_rkme // 8), -1)).persist()
            logme_score(Fd[:1000], y[:1000])  # warm the workers (imports)
            t_l, s = best_time(lambda Fd=Fd: logme_score(Fd, y))
            spec = RKMESpecification(n_reduced=50, n_iter=3, random_state=0)
            t_r, _ = best_time(lambda Xd=Xd, spec=spec: spec.fit(Xd))
            rows.append((f"LocalCluster, {k} worker(s)", t_l, abs(s - ref_logme), t_r, spec.mmd(X)))
    lines = [
        f"### Dask LocalCluster: LogME on {n_logme:,} x 256 features, RKME fit on "
        f"{n_rkme:,} x 5 rows (8 chunks each)",
        "",
        "| run | LogME (s) | LogME score difference | RKME fit (s) | RKME MMD² to the data |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r} | {tl:.2f} | {ds:.1e} | {tr:.2f} | {m:.2e} |" for r, tl, ds, tr, m in rows]
    lines += [
        "",
        "Worker processes on this machine share its cores with everything else; the cluster "
        "adds scheduling and transfer costs that pay only when the data do not fit in one "
        "process or are spread over machines.",
        "",
    ]
    return lines


def main():
    n_sel = 50_000 if QUICK else 200_000
    n_ncm = 100_000 if QUICK else 1_000_000
    rkme_sizes = (10_000, 30_000, 100_000) if QUICK else (10_000, 100_000, 1_000_000)
    lines = ["## Scaling: streaming statistics, chunked prediction, Dask", ""]
    lines += bench_selector(n_sel)
    lines += bench_ncm(n_ncm)
    lines += bench_rkme(rkme_sizes)
    lines += bench_dask(n_sel // 2, 50_000 if QUICK else 100_000)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
