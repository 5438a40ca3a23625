"""
========================================
Find and reuse models in a model market
========================================

Eight developers each trained a classifier on a few digit classes and added it to a
:class:`~skreuse.market.ModelMarket` with the RKME specification of their data, never
the data. A user holds unlabeled images of the digits 0, 1, 2 and 7: the search ranks
the models by the squared MMD between the user's data and each specification, the
mixture weights say which combination of models describes the data, and
:meth:`~skreuse.market.ModelMarket.reuser` returns an estimator that routes every row to
one of the found models.
"""

# %%
# Build the market
# ----------------
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skreuse.market import ModelMarket

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_dev, X_user_all, y_dev, y_user_all = train_test_split(X, y, test_size=0.5, random_state=0)

market = ModelMarket(tempfile.mkdtemp(), n_reduced=30, random_state=0)
for classes in [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (0, 2, 4), (1, 7), (3, 5, 8)]:
    rows = np.isin(y_dev, classes)
    name = "digits " + "".join(map(str, classes))
    model = LogisticRegression(max_iter=500).fit(X_dev[rows], y_dev[rows])
    market.add(name, model, X_dev[rows], tags=["digits"], description=f"classes {classes}")
market.catalog()[["name", "task", "n_features", "classes", "added"]]

# %%
# Search with unlabeled data
# --------------------------
# The user's rows come from four classes; no single model knows them all.
user_rows = np.isin(y_user_all, (0, 1, 2, 7))
X_user, y_user = X_user_all[user_rows], y_user_all[user_rows]
found = market.search(X_user, k=4)
print(found[["name", "mmd2", "weight"]])

# %%
# Reuse the found models
# ----------------------
# The labels are used here only to score the result.
reuser = market.reuser(X_user, k=4)
accuracies = {name: market.load(name).score(X_user, y_user) for name in found["name"]}
accuracies["market reuse (job selector)"] = reuser.score(X_user, y_user)
for name, acc in accuracies.items():
    print(f"{name:>30}: {acc:.3f}")

fig, (ax_w, ax_a) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
ax_w.barh(found["name"][::-1], found["weight"][::-1])
ax_w.set_xlabel("mixture weight")
ax_w.set_title("Which models describe the user's data")
ax_a.barh(list(accuracies)[::-1], list(accuracies.values())[::-1])
ax_a.set_xlabel("accuracy on the user's rows")
ax_a.set_xlim(0, 1)
ax_a.set_title("Single models vs their reuse")
plt.show()
market.close()
