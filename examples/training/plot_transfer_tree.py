"""
=====================================================================
Transferring a decision tree: relabelling, SER and STRUT on few shots
=====================================================================

A decision tree learned on a *source* domain meets a *target* domain whose features
are shifted (every feature rescaled and offset, as after a recalibrated instrument)
and where only five rows per class are labelled. Segev et al. (TPAMI 2017) refine the
source tree on those rows instead of starting over:

- **relab**: keep the splits, replace the leaf distributions by the target's;
- **SER** (structure expansion/reduction): grow each leaf into a full tree on the
  target rows reaching it, then prune every subtree that does not beat a leaf on them;
- **STRUT** (structure transfer): keep the features of the splits but re-choose every
  threshold on the target rows, so that the class distributions on both sides stay
  close to the source's.

:class:`~skreuse.training.TransferTreeClassifier` implements the three; we compare them
with the source tree as it is and with a tree trained on the few target rows alone.
"""

# %%
# A shifted target with five labelled rows per class
# --------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from skreuse.datasets import make_transfer_task
from skreuse.training import TransferForestClassifier, TransferTreeClassifier

task = make_transfer_task("wine", n_shots=5, shift=1.0, random_state=0)
print(task.DESCR)
source = DecisionTreeClassifier(random_state=0).fit(task.X_source, task.y_source)
print(f"source tree: {source.tree_.node_count} nodes, depth {source.get_depth()}")

# %%
# Refine the source tree on the target rows
# -----------------------------------------
# The source tree is never modified; each refinement holds its own tree in ``tree_``
# (the arrays of a scikit-learn tree: ``children_left``, ``feature``, ``threshold``,
# ``value``...).
models = {
    "source as is": source,
    "target only": DecisionTreeClassifier(random_state=0).fit(task.X_target, task.y_target),
}
for algo in ("relab", "ser", "strut"):
    models[algo] = TransferTreeClassifier(source, algo=algo, random_state=0).fit(
        task.X_target, task.y_target
    )
for name, model in models.items():
    print(f"{name:>13}: test accuracy {model.score(task.X_test, task.y_test):.3f}")

# %%
# STRUT moves the thresholds, keeps the features
# ----------------------------------------------
# The root split of the source tree and of its STRUT refinement: same feature, a
# threshold moved to where the shifted target data separate the classes.
strut = models["strut"]
feature = source.tree_.feature[0]
print(
    f"root feature {task.feature_names[feature]!r}: source threshold "
    f"{source.tree_.threshold[0]:.3f}, STRUT threshold {strut.tree_.threshold[0]:.3f}"
)

# %%
# Over ten random tasks
# ---------------------
# One task says little with five rows per class; repeat over ten seeds (the benchmark
# ``benchmarks/bench_transfer_tree.py`` does this on more data sets, for forests too).
names = ["source as is", "target only", "relab", "ser", "strut", "forest strut"]
scores = {name: [] for name in names}
for seed in range(10):
    t = make_transfer_task("wine", n_shots=5, shift=1.0, random_state=seed)
    src = DecisionTreeClassifier(random_state=seed).fit(t.X_source, t.y_source)
    scores["source as is"].append(src.score(t.X_test, t.y_test))
    tgt = DecisionTreeClassifier(random_state=seed).fit(t.X_target, t.y_target)
    scores["target only"].append(tgt.score(t.X_test, t.y_test))
    for algo in ("relab", "ser", "strut"):
        model = TransferTreeClassifier(src, algo=algo, random_state=seed)
        scores[algo].append(model.fit(t.X_target, t.y_target).score(t.X_test, t.y_test))
    forest = RandomForestClassifier(10, random_state=seed).fit(t.X_source, t.y_source)
    model = TransferForestClassifier(forest, algo="strut", random_state=seed)
    scores["forest strut"].append(model.fit(t.X_target, t.y_target).score(t.X_test, t.y_test))

for name in names:
    print(f"{name:>13}: {np.mean(scores[name]):.3f} ± {np.std(scores[name]):.3f}")

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.boxplot([scores[n] for n in names], tick_labels=names)
ax.set_ylabel("target test accuracy")
ax.set_title("Wine, covariate shift, 5 labelled target rows per class (10 seeds)")
fig.tight_layout()
plt.show()
