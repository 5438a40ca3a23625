"""
=====================================================
Multi-party reuse of local models on digits with HMR
=====================================================

Four parties each own part of scikit-learn's digits, over their own overlapping subsets
of the ten classes, and each trained its own local model (logistic regression or a small
neural network). Nobody may pool the raw data. Combined by the max rule (every party votes
with its probability for each class it knows), the local models disagree badly: each is
confident on digits it has never seen.

:class:`~skreuse.multiparty.HMRCalibrator` (Wu, Liu & Zhou, ICML 2019) calibrates them by
communicating a few training rows with a non-positive multiparty multiclass margin. We
compare the uncalibrated global model, HMR at growing communication budgets and a
centralized model trained on all the data at once.
"""

# %%
# Parties and their local data
# ----------------------------
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skreuse.multiparty import HMRCalibrator

# The small networks stop at max_iter before Adam's tolerance; that is good enough here.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)

party_classes = {
    "A": [0, 1, 2, 3],
    "B": [2, 3, 4, 5, 6],
    "C": [5, 6, 7, 8],
    "D": [8, 9, 0, 1],
}
names = list(party_classes)
# A row goes to one of the parties that know its class, at random.
rng = np.random.RandomState(0)
owners = [[k for k, n in enumerate(names) if c in party_classes[n]] for c in range(10)]
groups = np.array([rng.choice(owners[c]) for c in y_train])
for k, name in enumerate(names):
    print(f"party {name}: classes {party_classes[name]}, {np.sum(groups == k)} rows")


def local_models():
    return [
        ("A", LogisticRegression(C=10, max_iter=500)),
        ("B", MLPClassifier((32,), max_iter=300, random_state=0)),
        ("C", LogisticRegression(C=10, max_iter=500)),
        ("D", MLPClassifier((32,), max_iter=300, random_state=0)),
    ]


# %%
# HMR at growing budgets
# ----------------------
# With ``warm_start=True`` each call to ``fit`` continues the calibration up to the new
# budget, so one run gives every row of the table. Each party has hundreds of rows, so
# misclassified rows are what calibration needs: ``min_margin=0`` is Algorithm 1 as
# published, whose loop stops early once no training row has a non-positive margin (the
# default would go on sending well-classified rows up to the budget, each a refit).
budgets = [0, 10, 20, 50, 100, 200, 500]
hmr = HMRCalibrator(local_models(), min_margin=0, random_state=0, warm_start=True)
rows = []
start = time.perf_counter()
for budget in budgets:
    hmr.set_params(budget=budget).fit(X_train, y_train, groups=groups)
    rows.append((budget, hmr.n_communicated_, hmr.score(X_test, y_test)))
elapsed = time.perf_counter() - start

central = {
    "LR": LogisticRegression(C=10, max_iter=500).fit(X_train, y_train).score(X_test, y_test),
    "MLP": MLPClassifier((32,), max_iter=300, random_state=0)
    .fit(X_train, y_train)
    .score(X_test, y_test),
}
central_acc = max(central.values())

print(f"\n{'model':<22} {'rows sent':>9} {'test accuracy':>13}")
for budget, sent, acc in rows:
    label = "uncalibrated (max rule)" if budget == 0 else f"HMR, budget {budget}"
    print(f"{label:<22} {sent:>9} {acc:>13.3f}")
for name, acc in central.items():
    print(f"{'centralized ' + name:<22} {'all data':>9} {acc:>13.3f}")
gap = central_acc - rows[0][2]
print(
    f"\nHMR closes {(rows[-1][2] - rows[0][2]) / gap:.0%} of the gap to the best centralized "
    f"model with {rows[-1][1]} communicated rows ({elapsed:.1f} s of calibration)."
)

# %%
# Plot
# ----
fig, ax = plt.subplots()
sent = [r[1] for r in rows]
ax.plot(sent, [r[2] for r in rows], marker="o", label="HMR (test)")
ax.axhline(rows[0][2], color="tab:gray", linestyle=":", label="uncalibrated")
ax.axhline(central_acc, color="tab:green", linestyle="--", label="centralized")
ax.set_xscale("symlog", linthresh=10)
ax.set_xlabel("Communicated rows")
ax.set_ylabel("Test accuracy")
ax.set_title("Digits split across four parties")
ax.legend(loc="lower right")
plt.show()
