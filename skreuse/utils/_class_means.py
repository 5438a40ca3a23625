"""How many dimensions the class means of a feature space span (collapsed classes)."""

import numpy as np
import scipy.sparse as sp


def class_sums(F, codes, n_classes):
    """Per-class sums of the rows of ``F`` (numpy, ``codes`` in ``range(n_classes)``), float64.

    A sparse one-hot product: ``O(n * d)``, whatever the number of classes.
    """
    rows = np.arange(len(codes))
    onehot = sp.csr_matrix((np.ones(len(codes)), (codes, rows)), shape=(n_classes, len(codes)))
    return np.asarray(onehot @ np.asarray(F, dtype=np.float64))


def class_mean_span(sums, counts, dtype=np.float64):
    """Number of dimensions spanned by the class means, ``sums / counts``, around their mean.

    ``C`` classes whose means are in general position span ``C - 1`` dimensions; fewer
    means that some class mean is an affine combination of the others: the features
    place that class where a mix of the other classes would be. Features trained on a
    subset of the classes do this by construction (a classifier's probabilities over
    ``k`` classes sum to one, so they span at most ``k - 1`` dimensions; an LDA has
    ``k - 1`` components), whatever the rows.

    The rank is numerical, with the tolerance of :func:`numpy.linalg.matrix_rank` for the
    precision ``dtype`` of the features (float32 features are only exact to float32
    rounding, e.g. a float32 softmax sums to one to about ``1e-7``), relative to the
    largest singular value of the means before centring (never smaller than that of the
    centred means, a projection of them): centring leaves rounding errors of the means'
    own size, so class means that differ by little next to their common part (the
    probabilities of a weak classifier, all near ``1 / n_classes``) would otherwise count
    that rounding as a dimension. Classes without rows are left out.
    """
    seen = counts > 0
    means = sums[seen] / counts[seen, None]
    centred = means - means.mean(axis=0)
    if centred.size == 0:
        return 0
    s = np.linalg.svd(centred, compute_uv=False)
    eps = np.finfo(np.float32 if dtype == np.float32 else np.float64).eps
    return int(np.sum(s > np.linalg.norm(means, 2) * max(centred.shape) * eps))
