"""What a prior on reuse trades: hypothesis transfer with one and three rows per class.

Run with ``python benchmarks/bench_reuse_prior.py`` (or ``python -m benchmarks --only
reuse_prior``).

``HypothesisTransferClassifier(lam="auto")`` averages the candidates of its grid
weighted by their held-out likelihood times a prior, and keeps only the kind (with the
source, or without it) of larger posterior mass. The candidates with the source have
prior mass ``p`` together, those without it ``1 - p``: here ``p`` runs from 0.05 to 0.95,
on the two families of ``bench_reuse_gain.py`` that share their target rows:
``shift`` (a source fitted to the source rows' labels, about 95 % right on breast
cancer's target rows and 93 % on wine's) and ``useless`` (the same split, the source
fitted to shuffled labels). With one or three labelled rows per class the shots are too
few for the held-out likelihood to tell the two sources apart on every draw, and the
prior sets which family pays for it. With two classes and one row each, a source that is
95 % right misses one of the two shots on about one draw in ten; a source that guesses
does so on half of them, so one miss is five times likelier under the useless source and
drops a good one unless the prior odds on reuse exceed 5 to 1 (``p`` above 0.84). With
three classes a source that guesses gets two of the three shots right on 22 % of the
draws (a 95 % right one on 14 %), so odds that keep the good source after a miss keep a
useless one on those draws.

Seeds 100-139 (those of the design trials, not the reuse-gain benchmark's 0-9 or
200-209); the same draws of shots and test rows as that benchmark. The candidates' fits
and held-out scores do not depend on the prior: each draw is fitted once and its
candidates weighed again with the class's own ``_candidate_weights`` at each ``p``,
which gives the predictions of a fit with that prior
(``tests/test_benchmark_bounds.py``)."""

import copy
import sys
import time
import warnings
from pathlib import Path

import numpy as np

# ``benchmarks`` as a package, however this file is run (the editable install also puts
# the repository's root on the path).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from benchmarks import bench_reuse_gain as gain  # noqa: E402
from skreuse.training import HypothesisTransferClassifier  # noqa: E402

SEEDS = range(100, 140)
PRIORS = (0.05, 0.2, 0.3, 0.35, 0.4, 0.5, 0.65, 0.8, 0.95)
CELLS = [
    (family, name, k)
    for family in ("shift", "useless")
    for name in ("breast_cancer", "wine")
    for k in (1, 3)
]


class PriorHT(HypothesisTransferClassifier):
    """``HypothesisTransferClassifier`` whose prior probability of reusing the source is
    ``reuse_prior`` (0.5 is the class itself)."""

    reuse_prior = 0.5

    def _candidate_weights(self, log_likelihood, shares):
        return HypothesisTransferClassifier._candidate_weights(
            log_likelihood, shares, self.reuse_prior
        )


class RecordingHT(HypothesisTransferClassifier):
    """``HypothesisTransferClassifier`` that keeps its candidates' fits and held-out
    scores, so that :func:`at_prior` can weigh them again at any prior: the fits and the
    scores do not depend on it (one fit per draw instead of one per prior)."""

    def _candidate_scores(self, fits, refit, target, prior_knows):
        self.fits_ = [self._uncentred(f) for f in fits]
        self.held_out_ = super()._candidate_scores(fits, refit, target, prior_knows)
        return self.held_out_


def at_prior(model, prior):
    """``model`` (a fitted :class:`RecordingHT`) as :class:`PriorHT` with ``reuse_prior=
    prior`` would have fitted it: the candidates averaged with that prior's weights."""
    shares = model.candidates_[:, 0]
    w = HypothesisTransferClassifier._candidate_weights(model.held_out_, shares, prior)
    out = copy.copy(model)
    out.coef_ = sum(wj * f["coef"] for wj, f in zip(w, model.fits_))
    out.intercept_ = sum(wj * f["intercept"] for wj, f in zip(w, model.fits_))
    if model.mode == "residual":
        share = sum(wj * f["share"] for wj, f in zip(w, model.fits_))
        out.source_weights_ = share * gain.fixed_source_weights(model)
    return out


def run_cell(family, name, k, mode, seeds=SEEDS, priors=PRIORS):
    """``(gains, baselines)``: per prior, the mean gain in accuracy over the better of
    target-only and source-only (in points); and those two baselines' mean accuracies."""
    acc = {p: [] for p in priors}
    base = []
    for seed in seeds:
        s = gain._same_space(family, name, seed)
        source = gain._lr().fit(s.X_source, s.y_source)
        _, shots, test = gain.draw(s.y_target, seed, k)
        Xl, yl = s.X_target[shots], s.y_target[shots]
        Xt, yt = s.X_target[test], s.y_target[test]
        base.append(
            (gain._accuracy(gain._lr().fit(Xl, yl), Xt, yt), gain._accuracy(source, Xt, yt))
        )
        model = RecordingHT(source, mode=mode).fit(Xl, yl)
        for p in priors:
            acc[p].append(gain._accuracy(at_prior(model, p), Xt, yt))
    base = np.mean(base, axis=0)
    return {p: 100 * (np.mean(a) - base.max()) for p, a in acc.items()}, base


def main(seeds=SEEDS):
    start = time.perf_counter()
    rows, worst = [], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mode in ("biased", "residual"):
            for family, name, k in CELLS:
                gains, base = run_cell(family, name, k, mode, seeds)
                rows.append(
                    f"| {mode} | {family} | {name} | {k} | {base[0]:.3f} | {base[1]:.3f} | "
                    + " | ".join(f"{gains[p]:+.1f}" for p in PRIORS)
                    + " |"
                )
                for p in PRIORS:
                    worst[mode, p] = min(worst.get((mode, p), np.inf), gains[p])
    elapsed = time.perf_counter() - start
    head = " | ".join(f"p = {p}" for p in PRIORS)
    verdict = [
        f"| {mode} | "
        + " | ".join(f"{worst[mode, p]:+.1f}" for p in PRIORS)
        + f" | {'yes' if max(worst[mode, p] for p in PRIORS) >= -1.0 else 'no'} |"
        for mode in ("biased", "residual")
    ]
    doc = __doc__.split("\n\n", 2)[2].strip()
    return "\n".join(
        [
            "## Hypothesis transfer: what a prior on reuse trades (one and three rows per class)",
            "",
            doc,
            "",
            f"Gain in accuracy points over the better of target-only and source-only (mean over "
            f"{len(seeds)} seeds; p = 0.5, even odds, is the default). "
            f"Computed in {elapsed:.0f} s.",
            "",
            "| mode | family | dataset | shots/class | target-only | source-only | " + head + " |",
            "|---|---|---|---:|---:|---:|" + "---:|" * len(PRIORS),
            *rows,
            "",
            "Worst cell over the eight above, per prior, and whether some prior keeps every cell "
            "within 1 point of the better baseline:",
            "",
            "| mode | " + head + " | some prior keeps all within 1 pt |",
            "|---|" + "---:|" * len(PRIORS) + "---|",
            *verdict,
        ]
    )


if __name__ == "__main__":
    print(main())
