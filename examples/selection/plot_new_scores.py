"""
=======================================================================
Ranking a model zoo with N-LEEP, SFDA and PARC, next to LogME and peers
=======================================================================

Transferability scores rank pre-trained models for a target task from one forward
pass, without fine-tuning. Three recent ones complete LogME (You et al., ICML'21)
and the H-score:

- :func:`~skreuse.transferability.nleep_score` (Li et al., CVPR'21): a Gaussian
  mixture on the PCA'ed features replaces the source head in LEEP;
- :func:`~skreuse.transferability.sfda_score` (Shao et al., ECCV'22): a regularized
  Fisher discriminant, challenged by mixing hard examples toward the other classes;
- :func:`~skreuse.transferability.parc_score` (Bolya et al., NeurIPS'21): the Spearman
  correlation between the pairwise dissimilarities of the features and of the labels.

We rank the models of :func:`~skreuse.datasets.make_model_zoo` (classifiers and
feature extractors trained on related digit tasks) with every score, and compare each
ranking with the quantity we want to predict: the held-out accuracy of a logistic
regression trained on the model's features. Kendall's tau measures the agreement.
"""

# %%
# The zoo and the target task
# ---------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import kendalltau
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skreuse.datasets import make_model_zoo
from skreuse.transferability import (
    gbc_score,
    hscore,
    logme_score,
    nleep_score,
    parc_score,
    sfda_score,
    transrate,
)

zoo = make_model_zoo("digits", random_state=0)
X_fit, X_test, y_fit, y_test = train_test_split(
    zoo.X_target, zoo.y_target, train_size=300, stratify=zoo.y_target, random_state=0
)


def features(model, X):
    """A feature extractor's output, or a classifier's class probabilities."""
    return model.transform(X) if hasattr(model, "transform") else model.predict_proba(X)


# %%
# Score every model, and measure what the scores should predict
# -------------------------------------------------------------
scores = {
    "LogME": logme_score,
    "H-score": hscore,
    "TransRate": transrate,
    "GBC": gbc_score,
    "N-LEEP": lambda F, y: nleep_score(F, y, random_state=0),
    "SFDA": sfda_score,
    "PARC": parc_score,
}
table = {name: [] for name in scores}
accuracy = []
for _name, model in zoo.models:
    F_fit, F_test = features(model, X_fit), features(model, X_test)
    for score_name, score in scores.items():
        table[score_name].append(score(F_fit, y_fit))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        head = LogisticRegression(max_iter=2000).fit(F_fit, y_fit)
    accuracy.append(head.score(F_test, y_test))

names = [name for name, _ in zoo.models]
print(f"{'model':<22}" + "".join(f"{s:>10}" for s in scores) + f"{'accuracy':>10}")
for i in np.argsort(accuracy)[::-1]:
    row = "".join(f"{table[s][i]:10.3f}" for s in scores)
    print(f"{names[i]:<22}{row}{accuracy[i]:10.3f}")

# %%
# Agreement of each ranking with the accuracy
# -------------------------------------------
taus = {s: kendalltau(table[s], accuracy)[0] for s in scores}
for s, tau in taus.items():
    print(f"Kendall tau({s}, accuracy) = {tau:+.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].bar(list(taus), list(taus.values()), color="tab:blue")
axes[0].axhline(0, color="black", linewidth=0.8)
axes[0].set_ylabel("Kendall tau with head accuracy")
axes[0].set_title("Ranking quality of each score")
axes[0].tick_params(axis="x", rotation=30)
# Scores live on different scales: rank them to draw all of them on one axis.
for s in scores:
    ranks = np.argsort(np.argsort(table[s]))
    axes[1].plot(accuracy, ranks, "o", label=s, alpha=0.7)
axes[1].set_xlabel("held-out accuracy of a logistic head")
axes[1].set_ylabel("rank of the model by the score")
axes[1].set_title("All scores side by side")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()
