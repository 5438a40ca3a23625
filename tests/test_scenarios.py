"""The few-shot reuse scenarios of the reuse-gain benchmark (skreuse.datasets._scenarios)."""

import numpy as np
import pytest

from skreuse.datasets import _scenarios as sc


@pytest.mark.parametrize("name", ["wine", "breast_cancer", "digits"])
def test_shifted_covariates_same_columns_different_rows(name):
    s = sc.shifted_covariates(name, random_state=0)
    assert s.X_source.shape[1] == s.X_target.shape[1]
    assert len(s.y_source) + len(s.y_target) == len(np.r_[s.y_source, s.y_target])
    # The target is drifted: its column means differ from the source's by more than
    # sampling noise on the drifted half of the columns.
    gap = np.abs(s.X_source.mean(axis=0) - s.X_target.mean(axis=0))
    assert np.sum(gap > 0.3) >= s.X_source.shape[1] // 4


def test_useless_source_is_the_shift_split_with_shuffled_source_labels():
    s = sc.useless_source("wine", random_state=3)
    shift = sc.shifted_covariates("wine", random_state=3)
    np.testing.assert_array_equal(s.X_source, shift.X_source)
    np.testing.assert_array_equal(s.X_target, shift.X_target)
    np.testing.assert_array_equal(s.y_target, shift.y_target)
    # The same labels, shuffled: a model of the source rows learns nothing of the task.
    np.testing.assert_array_equal(np.sort(s.y_source), np.sort(shift.y_source))
    assert np.mean(s.y_source == shift.y_source) < 0.6


def test_class_subsets_source_knows_only_some_classes():
    s = sc.class_subsets("digits", random_state=1)
    known = s.info["source_classes"]
    assert len(known) == 6
    np.testing.assert_array_equal(np.unique(s.y_source), known)
    assert len(np.unique(s.y_target)) == 10


def test_vanished_new_columns_partition_the_columns():
    s = sc.vanished_new_columns("wine", random_state=0)
    src, tgt = set(s.source_columns), set(s.target_columns)
    assert len(src - tgt) == len(tgt - src) == round(0.25 * 13)
    assert len(src | tgt) == 13
    assert s.X_source.shape[1] == len(src)
    assert s.X_target.shape[1] == len(tgt)


def test_parties_own_rows_of_their_classes():
    s = sc.parties("digits", random_state=0)
    blocks = s.info["party_classes"]
    assert len(blocks) == 3
    # Neighbouring blocks share their boundary class; together they cover all classes.
    assert len(set(np.concatenate(blocks))) == 10
    for i, block in enumerate(blocks):
        assert set(s.y_source[s.source_groups == i]) <= set(block)


def test_draw_shots_per_class_and_disjoint_test():
    y = np.repeat(np.arange(3), [5, 2, 10])
    shots, test = sc.draw_shots(y, 3, random_state=0, max_test=4)
    counts = np.bincount(y[shots])
    np.testing.assert_array_equal(counts, [3, 1, 3])  # class 1 keeps one row back
    assert len(test) == 4
    assert not set(shots) & set(test)
