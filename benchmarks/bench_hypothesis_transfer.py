"""HypothesisTransferRegressor with ``lam="auto"``: time of the strength selection.

``lam="auto"`` fits 22 candidates (the source kept, halved or dropped at 7 strengths, and
the source as it is) and averages them by their evidence (marginal likelihood), whose
Occam factor is the log-determinant of ``I + G / p`` for the Gram matrix ``G`` and the
penalty ``p``. skreuse decomposes one Gram matrix (of the rows when there are fewer rows
than features) and takes every candidate's weights and log-determinant from it; with
learned source weights, whose two penalties differ, each candidate solves its own system
and takes its log-determinant from one smaller eigenvalue problem. The straightforward
way forms the Gram matrix and solves the ``d x d`` (or ``n x n``) system for every
candidate's weights, and factors ``G + P`` for its log-determinant. Side by side:
skreuse's fit, the same estimator with the per-candidate solves, and scikit-learn's
``RidgeCV`` (efficient GCV over as many strengths; no source), on the same data. (Until
stop 28 the candidates were scored by generalized cross-validation and one was picked.)

Run ``python benchmarks/bench_hypothesis_transfer.py``.
"""

import numpy as np
from _timing import best_time
from sklearn.linear_model import Ridge, RidgeCV

from skreuse.training import HypothesisTransferRegressor
from skreuse.training._hypothesis_transfer import _WeightedGram

SIZES = [(30, 800), (100, 1000), (2000, 300), (5000, 800)]
# (mode, source_weights); learned source weights have 7 candidates, the others 22.
MODES = [("biased", None), ("residual", None), ("residual", "learn")]


class _SolvedGram(_WeightedGram):
    """The log-determinant by forming the Gram matrix and factoring the d x d system,
    for every penalty (the straightforward way)."""

    def log_det(self, penalty):
        A = self._rows()
        p = np.broadcast_to(np.asarray(penalty, dtype=float) / self.scale / self.scale, A.shape[1:])
        return float(np.linalg.slogdet(A.T @ A + np.diag(p))[1] - np.sum(np.log(p)))


class _PerCandidateSolve(HypothesisTransferRegressor):
    """The same estimator with every candidate's weights and log-determinant solved on
    their own."""

    def _shares_decomposition(self):
        return False

    def _candidate_scores(self, fits, refit, target, prior_knows):
        return np.array(
            [
                self._log_evidence(fit, target, [_SolvedGram(fit["X"], fit["sample_weight"])])
                for fit in fits
            ]
        )


def _task(n, d, seed=0):
    """A target of ``n`` rows and ``d`` features, and a source whose weights are the
    target's plus noise."""
    rng = np.random.RandomState(seed)
    w = rng.normal(size=d) / np.sqrt(d)
    X = rng.normal(size=(n, d))
    y = X @ w + 0.5 * rng.normal(size=n)
    source = Ridge().fit(rng.normal(size=(50, d)), rng.normal(size=50))
    source.coef_ = w + 0.3 * rng.normal(size=d) / np.sqrt(d)
    return X, y, source


def main():
    lines = [
        '## Hypothesis transfer (regressor): `lam="auto"` with one decomposition vs a solve '
        "per candidate",
        "",
        "Fit time in seconds (best of 2; one run for the per-candidate solve) of "
        '`HypothesisTransferRegressor(source)` with `lam="auto"` (22 candidates averaged '
        "by their evidence; 7 with learned source weights), of the same estimator solving "
        "every candidate's weights and log-determinant on their own (the straightforward "
        "way), and of scikit-learn's `RidgeCV` over 22 strengths (no source). "
        "`max weight diff` and `max coef diff`: the largest differences of the two fits' "
        "candidate weights and coefficients.",
        "",
        "| n | d | mode | skreuse (s) | per-candidate solve (s) | speed-up | RidgeCV (s) "
        "| max weight diff | max coef diff |",
        "|---:|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    for n, d in SIZES:
        X, y, source = _task(n, d)
        ridge_time, _ = best_time(RidgeCV(alphas=np.logspace(-2, 3, 22)).fit, X, y, repeat=2)
        for mode, learn in MODES:
            params = dict(mode=mode, source_weights=learn)
            fast_time, fast = best_time(
                HypothesisTransferRegressor(source, **params).fit, X, y, repeat=2
            )
            slow_time, slow = best_time(_PerCandidateSolve(source, **params).fit, X, y)
            same = float(np.max(np.abs(fast.candidate_weights_ - slow.candidate_weights_)))
            diff = float(np.max(np.abs(fast.coef_ - slow.coef_)))
            label = f"{mode}, learned weights" if learn else mode
            lines.append(
                f"| {n:,} | {d:,} | {label} | {fast_time:.3f} | {slow_time:.2f} "
                f"| {slow_time / fast_time:.0f}x | {ridge_time:.3f} | {same:.1e} "
                f"| {diff:.1e} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
