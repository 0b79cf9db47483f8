"""The named stages of fit_sbg_cohorts (record counts, grid start, covariance), each alone."""

from __future__ import annotations

import numpy as np
import pytest

from levelfield.customers._sbg import (
    _cohort_derivatives,
    _cohort_inputs,
    _cohort_variances,
    _CohortCounts,
    _grid_start,
)
from levelfield.errors import DataError


def _counts() -> _CohortCounts:
    t = np.array([1.0, 1.0, 2.0, 3.0, 1.0, 2.0])
    c = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    labels = np.array(["b", "a", "a", "b", "c", "a"])
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.5])
    return _CohortCounts.of(t, c, labels, w)


def test_cohort_counts_merge_equal_records_and_flag_identified_cohorts() -> None:
    counts = _counts()
    assert list(counts.names) == ["a", "b", "c"]
    assert counts.customers.tolist() == [4.0, 2.0, 3.0]
    assert counts.cancelled.tolist() == [2.0, 2.0, 0.0]
    # "a": a cancellation and renewals; "b": one renewed before cancelling; "c": no cancel
    assert counts.identified.tolist() == [True, True, False]
    # the two (a, 2 periods, renewed) customers are one record of weight 2
    a2 = (counts.cohort == 0) & (counts.periods == 2.0) & (counts.churned == 0.0)
    assert counts.weight[a2].tolist() == [2.0]
    assert len(counts.weight) == 5
    cohort, periods, _, weight = counts.records(counts.cohort != 0)
    assert set(cohort.tolist()) == {1, 2} and weight.sum() == 5.0 and len(periods) == 3


def test_cohort_inputs_name_the_bad_column() -> None:
    one = np.ones(3)
    with pytest.raises(DataError, match="one label per customer"):
        _cohort_inputs(one, one, ["a", "b"], None)
    with pytest.raises(DataError, match="whole numbers"):
        _cohort_inputs(np.array([1.0, 1.5, 2.0]), one, ["a"] * 3, None)
    with pytest.raises(DataError, match="0/1"):
        _cohort_inputs(one, np.array([0.0, 2.0, 1.0]), ["a"] * 3, None)
    with pytest.raises(DataError, match="at least one period"):
        _cohort_inputs(np.array([0.0, 1.0, 1.0]), np.array([1.0, 0.0, 0.0]), ["a"] * 3, None)


def test_grid_start_is_each_cohorts_best_grid_point() -> None:
    counts = _counts()
    start = _grid_start(counts)
    grid = [(u, v) for u in (-1.0, 0.0, 1.0, 2.0) for v in (-1.0, 0.0, 1.0, 2.0)]
    k = len(counts.names)
    for i in range(k):
        lls = [
            _cohort_derivatives(np.tile(g, (k, 1)), *counts.records(), k, full=False)[0][i]
            for g in grid
        ]
        assert tuple(start[i]) == grid[int(np.argmax(lls))]


def test_cohort_variances_are_the_inverse_information_in_alpha_beta() -> None:
    rng = np.random.default_rng(0)
    theta = rng.uniform(0.5, 3.0, (4, 2))
    G = rng.normal(size=(4, 2))
    info = np.array([[[3.0, 1.0], [1.0, 2.0]], [[5.0, -2.0], [-2.0, 4.0]]] * 2)
    # the Hessian in log parameters whose natural-scale version is -info
    H = -info * theta[:, :, None] * theta[:, None, :] + np.einsum("ki,ij->kij", G, np.eye(2))
    var_a, var_b = _cohort_variances(theta, G, H)
    inv = np.linalg.inv(info)
    np.testing.assert_allclose(var_a, inv[:, 0, 0], rtol=1e-12)
    np.testing.assert_allclose(var_b, inv[:, 1, 1], rtol=1e-12)
