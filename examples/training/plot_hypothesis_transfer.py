"""
=====================================================
Hypothesis transfer and L2-SP: few shots, one source
=====================================================

A logistic regression trained on handwritten digits (the *source*) meets a
shifted target: the same digits, blurred horizontally by one pixel, with only a
few labelled images per class. Three ways to classify the target:

- **source only**: apply the source model as it is;
- **target only**: an L2 logistic regression trained on the few target images;
- **hypothesis transfer** (Kuzborskij & Orabona, ICML'13):
  :class:`~skreuse.training.HypothesisTransferClassifier` trains on the target
  images, but regularizes the weights toward the source's,
  ``lam * ||W - W_src||^2``, instead of toward zero (``mode="biased"``); or fits
  a correction on top of the source's scores with a learned source weight
  (``mode="residual"``, ``source_weights="learn"``).

Then the deep counterpart: :class:`~skreuse.deep.HypothesisTransferNet`
fine-tunes a small pre-trained network on the shifted target with L2-SP (Li et
al., ICML'18), the penalty ``lam / 2 * ||theta - theta0||^2`` toward the
pre-trained weights, against standard fine-tuning with weight decay
``lam / 2 * ||theta||^2`` and without any penalty.
"""

# %%
# Source and shifted target
# -------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from skreuse.training import HypothesisTransferClassifier

X, y = load_digits(return_X_y=True)
X = X / 16.0
perm = np.random.RandomState(0).permutation(len(y))
source_rows, target_rows = perm[:900], perm[900:]


def blur_right(X, weight_shifted):
    """Mix each image with a copy moved one pixel to the right."""
    images = X.reshape(-1, 8, 8)
    shifted = np.zeros_like(images)
    shifted[:, :, 1:] = images[:, :, :-1]
    return ((1 - weight_shifted) * images + weight_shifted * shifted).reshape(-1, 64)


X_source, y_source = X[source_rows], y[source_rows]
X_target, y_target = blur_right(X[target_rows], 0.5), y[target_rows]
source = LogisticRegression(C=1.0, max_iter=2000).fit(X_source, y_source)
print(f"source model on its own task (train): {source.score(X_source, y_source):.3f}")


def few_shot_split(y, shots, seed):
    rng = np.random.RandomState(seed)
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in np.unique(y)]
    )
    return train, np.setdiff1d(np.arange(len(y)), train)


# %%
# Accuracy against the number of target images per class
# -------------------------------------------------------
# ``lam=0.5`` with ``alpha=0`` puts the same strength on the penalty as
# ``LogisticRegression(C=1)`` (its ``1 / (2 C)``), only centred on the source.
# The default ``lam="auto"`` chooses among the source, half of it and no source
# as the centre, and among strengths from 0.1 to 100, by how well each candidate
# predicts labelled rows held out of its fit, and averages them. On this task it
# matches the hand-picked ``lam=0.5`` (within 0.4 point at every size). Chosen
# by the candidates' marginal likelihood instead, as before, it reached 0.857,
# 0.862, 0.896 and 0.928: with 64 pixels and 10 classes the evidence's Occam
# factor favoured strong pulls.
SHOTS = [2, 5, 10, 20]
SEEDS = range(5)
methods = {
    "source only": lambda: source,
    "target only": lambda: LogisticRegression(C=1.0, max_iter=2000),
    "transfer (biased)": lambda: HypothesisTransferClassifier(source, lam=0.5),
    # The default: the source's share and the penalty chosen on the few rows.
    "transfer (biased, lam='auto')": lambda: HypothesisTransferClassifier(source),
    "transfer (residual, learned weight)": lambda: HypothesisTransferClassifier(
        source, mode="residual", source_weights="learn", lam=0.5
    ),
}
accuracy = {name: [] for name in methods}
for shots in SHOTS:
    scores = {name: [] for name in methods}
    for seed in SEEDS:
        train, test = few_shot_split(y_target, shots, seed)
        for name, make in methods.items():
            model = make()
            if model is not source:
                model.fit(X_target[train], y_target[train])
            scores[name].append(model.score(X_target[test], y_target[test]))
    for name in methods:
        accuracy[name].append(np.mean(scores[name]))

print(f"\n{'images per class':<38}" + "".join(f"{s:>8}" for s in SHOTS))
for name, values in accuracy.items():
    print(f"{name:<38}" + "".join(f"{v:8.3f}" for v in values))

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in accuracy.items():
    ax.plot(SHOTS, values, marker="o", label=name)
ax.set_xlabel("labelled target images per class")
ax.set_ylabel(f"target test accuracy (mean of {len(SEEDS)} draws)")
ax.set_xscale("log")
ax.set_xticks(SHOTS, [str(s) for s in SHOTS])
ax.legend()
ax.set_title("Shifted digits: transfer vs. source and target only")
fig.tight_layout()

# %%
# The two limits of ``lam``
# -------------------------
# ``lam = 0`` (with the plain L2 penalty ``alpha``) is the target-only model,
# a very large ``lam`` returns the source's weights (only the intercept is
# refitted). In between lies the gain.
train, test = few_shot_split(y_target, 5, 0)
lams = [0.0, 0.01, 0.1, 0.5, 2.0, 10.0, 100.0, 1e4]
lam_scores = [
    HypothesisTransferClassifier(source, lam=lam, alpha=0.05)
    .fit(X_target[train], y_target[train])
    .score(X_target[test], y_target[test])
    for lam in lams
]
print("\nlam:      " + " ".join(f"{lam:>7g}" for lam in lams))
print("accuracy: " + " ".join(f"{s:7.3f}" for s in lam_scores))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx([max(lam, 1e-3) for lam in lams], lam_scores, marker="o")
ax.axhline(source.score(X_target[test], y_target[test]), ls="--", c="gray", label="source only")
ax.set_xlabel("lam (0 drawn at 1e-3)")
ax.set_ylabel("target test accuracy")
ax.legend()
fig.tight_layout()

# %%
# L2-SP fine-tuning of a pre-trained network
# ------------------------------------------
# A two-layer network is pre-trained on the source images, then fine-tuned on
# 3 images per class of a more strongly shifted target.
import torch

from skreuse.deep import HypothesisTransferNet

torch.manual_seed(0)
X_source32 = torch.from_numpy(X_source.astype(np.float32))
pretrained = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
optimizer = torch.optim.Adam(pretrained.parameters(), lr=0.01)
for _ in range(150):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(pretrained(X_source32), torch.from_numpy(y_source))
    loss.backward()
    optimizer.step()

X_deep = blur_right(X[target_rows], 0.7).astype(np.float32)
settings = {
    "no penalty": dict(penalty="l2", lam=0.0),
    "L2 (weight decay), lam=0.1": dict(penalty="l2", lam=0.1),
    "L2-SP, lam=0.1": dict(penalty="l2sp", lam=0.1),
    "L2-SP-Fisher, lam=0.1": dict(penalty="l2sp_fisher", lam=0.1),
}
deep = {name: [] for name in settings}
for seed in range(3):
    train, test = few_shot_split(y_target, 3, seed)
    for name, params in settings.items():
        torch.manual_seed(seed)
        net = HypothesisTransferNet(
            pretrained,
            max_epochs=30,
            lr=0.1,
            batch_size=32,
            optimizer=torch.optim.SGD,
            optimizer__momentum=0.9,
            train_split=None,
            verbose=0,
            **params,
        ).fit(X_deep[train], y_target[train])
        deep[name].append((net.score(X_deep[test], y_target[test]), net.distance_to_start()))

print(f"\n{'fine-tuning':<32}{'accuracy':>10}{'||theta - theta0||':>20}")
for name, values in deep.items():
    acc, dist = np.mean(values, axis=0)
    print(f"{name:<32}{acc:10.3f}{dist:20.2f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, values in deep.items():
    acc, dist = np.mean(values, axis=0)
    ax.scatter(dist, acc, s=60, label=name)
ax.set_xlabel("distance to the pre-trained weights")
ax.set_ylabel("target test accuracy")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
