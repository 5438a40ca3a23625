"""Task-vector merges of torch networks: WeightAveraging against direct torch code.

The baseline is what one writes by hand from the papers with torch state dicts, as the
authors' code does: task arithmetic as a sum of state-dict differences, TIES with every
task vector flattened into one row, ``kthvalue`` for the trim, the elected sign and the
disjoint mean (prateeky2806/ties-merging), DARE with a Bernoulli mask per tensor
(yule-BUAA/MergeLM). WeightAveraging reads the models into float64 numpy, merges and
builds a new module (a deep copy of the first model), so it pays for the conversion.
"""

import copy

import numpy as np
import torch
from _timing import best_time

from skreuse.inference import WeightAveraging

HIDDEN = (128, 512, 1024)
N_MODELS = 4
DENSITY = 0.2
DROP = 0.9


def _zoo(hidden, n_models):
    torch.manual_seed(0)
    base = torch.nn.Sequential(
        torch.nn.Linear(256, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, 10),
    )  # fmt: skip
    models = []
    for _ in range(n_models):
        m = copy.deepcopy(base)
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.01 * torch.randn_like(p))
        models.append(m)
    return base, models


def _torch_task_arithmetic(base, models, scaling=1.0):
    b = base.state_dict()
    merged = {k: b[k] + scaling * sum(m.state_dict()[k] - b[k] for m in models) for k in b}
    out = copy.deepcopy(base)
    out.load_state_dict(merged)
    return out


def _torch_ties(base, models, density=DENSITY, scaling=1.0):
    b = base.state_dict()
    keys = list(b)
    flat = torch.stack(
        [torch.cat([(m.state_dict()[k] - b[k]).reshape(-1) for k in keys]) for m in models]
    )
    d = flat.shape[1]
    # The authors take the (d - int(d * density))-th smallest magnitude as the threshold,
    # which keeps one entry more than int(d * density); the +1 keeps exactly that many,
    # as WeightAveraging does, so that the two results can be compared.
    k = d - int(d * density) + 1
    kth = flat.abs().kthvalue(k, dim=1, keepdim=True).values
    trimmed = flat * (flat.abs() >= kth)
    sign = torch.sign(trimmed.sum(dim=0))
    sign[sign == 0] = torch.sign(sign.sum())
    keep = torch.where(sign > 0, trimmed > 0, trimmed < 0)
    merged = (trimmed * keep).sum(dim=0) / keep.sum(dim=0).clamp(min=1)
    out, start = {}, 0
    for key in keys:
        n = b[key].numel()
        out[key] = b[key] + scaling * merged[start : start + n].reshape(b[key].shape)
        start += n
    model = copy.deepcopy(base)
    model.load_state_dict(out)
    return model


def _torch_dare(base, models, p=DROP, scaling=1.0):
    b = base.state_dict()
    merged = {}
    for k in b:
        total = torch.zeros_like(b[k])
        for m in models:
            tau = m.state_dict()[k] - b[k]
            total += tau * torch.bernoulli(torch.full_like(tau, 1 - p)) / (1 - p)
        merged[k] = b[k] + scaling * total
    model = copy.deepcopy(base)
    model.load_state_dict(merged)
    return model


def _max_diff(a, b):
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def _rules(base, models, X):
    """``{rule: (WeightAveraging fit, direct torch merge)}`` for one zoo."""
    return {
        "task arithmetic": (
            lambda: WeightAveraging(models, method="task_arithmetic", base=base).fit(X),
            lambda: _torch_task_arithmetic(base, models),
        ),
        f"TIES (density {DENSITY})": (
            lambda: WeightAveraging(models, method="ties", base=base, density=DENSITY).fit(X),
            lambda: _torch_ties(base, models),
        ),
        f"DARE (p {DROP})": (
            lambda: WeightAveraging(
                models, method="dare", base=base, drop_rate=DROP, random_state=0
            ).fit(X),
            lambda: _torch_dare(base, models),
        ),
        "uniform soup": (
            lambda: WeightAveraging(models).fit(X),
            lambda: _torch_task_arithmetic(base, models, scaling=1.0 / len(models)),
        ),
    }


def main(hidden=HIDDEN, n_models=N_MODELS):
    X = np.zeros((2, 256), dtype=np.float32)
    lines = [
        "## Task-vector merges of torch networks (WeightAveraging vs direct torch code)",
        "",
        f"Merge {n_models} perturbed copies of a 256-h-h-10 MLP into its base: time (best of "
        "3) of WeightAveraging's `fit` and of a direct torch implementation of each rule "
        "(float32 state dicts, as in the authors' code), their ratio, and the largest "
        "parameter difference between the two results (TIES: with the threshold "
        "keeping exactly `int(density * d)` entries, where the authors' `kthvalue` keeps "
        "one more; DARE: different random masks, so only the time is comparable).",
        "",
        "| parameters | rule | WeightAveraging (s) | torch (s) | ratio | max abs diff |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for h in hidden:
        base, models = _zoo(h, n_models)
        n_params = sum(p.numel() for p in base.parameters())
        rules = _rules(base, models, X)
        for name, (ours, ref) in rules.items():
            t_ours, est = best_time(ours, repeat=3)
            t_ref, model = best_time(ref, repeat=3)
            diff = "-" if name.startswith("DARE") else f"{_max_diff(est.fused_, model):.1e}"
            lines.append(
                f"| {n_params:,} | {name} | {t_ours:.3f} | {t_ref:.3f} | "
                f"{t_ours / t_ref:.1f}x | {diff} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
