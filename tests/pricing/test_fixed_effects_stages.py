"""The named stages of product_slopes and fe_ppml, each on its own small input."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from levelfield.pricing._fixed_effects import (
    _extra_se,
    _informative_rows,
    _poisson_cluster_cov,
    _product_blocks,
    _residual_variance,
    _solve_week_system,
    _week_system,
)


def test_informative_rows_drop_all_zero_groups_until_none_is_left() -> None:
    y = np.array([0.0, 0.0, 3.0, 0.0, 1.0, 2.0])
    g1 = np.array([0, 0, 1, 1, 2, 2])
    # dropping group1 = 0 leaves week 1 with only a zero: it must go in the next pass
    g2 = np.array([0, 1, 0, 1, 2, 2])
    assert list(_informative_rows(y, g1, g2)) == [False, False, True, False, True, True]
    assert not _informative_rows(np.zeros(4), np.arange(4), np.zeros(4, int)).any()


def test_product_blocks_centre_x_per_product_and_skip_flat_ones() -> None:
    x = np.array([1.0, 3.0, 5.0, 5.0, 2.0])
    product = np.array([0, 0, 1, 1, 2])
    ok = np.array([True, False, True, True])  # product 1 has no slope, 3 no rows
    xm, xc, i00, i11 = _product_blocks(x, product, np.ones(5), ok, 4)
    assert list(xm[:3]) == [2.0, 5.0, 2.0] and xm[3] == 0.0
    assert list(xc) == [-1.0, 1.0, 0.0, 0.0, 0.0]  # product 2: one price, nothing to centre
    assert list(i00) == [0.5, 0.5, 1.0, 1.0]  # the empty product gets a unit block
    assert list(i11) == [0.5, 1.0, 1.0, 1.0]


def _panel(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    P, T = 5, 6
    product = np.repeat(np.arange(P), T)
    week = np.tile(np.arange(T), P)
    x = rng.normal(size=P * T)
    promo = (rng.uniform(size=P * T) < 0.3).astype(float)
    y = rng.normal(size=P)[product] - 1.2 * x + 0.1 * week + 0.4 * promo
    y += rng.normal(0, 0.1, P * T)
    return y, x, product, week, promo


def test_week_system_solution_matches_dummy_regression_statsmodels() -> None:
    y, x, product, week, promo = _panel()
    P, T = 5, 6
    w = np.ones(y.size)
    E = promo[:, None]
    _, xc, i00, i11 = _product_blocks(x, product, w, np.ones(P, bool), P)
    M, rhs, _, _, week_weight = _week_system(y, xc, product, week, w, E, i00, i11, P, T)
    keep, _, theta = _solve_week_system(M, rhs, week_weight, 1)
    assert list(keep) == [1, 2, 3, 4, 5, 6]  # week 0 is the reference
    dummies = np.column_stack(
        [product == p for p in range(P)]
        + [(product == p) * x for p in range(P)]
        + [week == t for t in range(1, T)]
        + [promo]
    ).astype(float)
    ref = sm.OLS(y, dummies).fit()
    np.testing.assert_allclose(theta[1:], ref.params[2 * P :], rtol=1e-9, atol=1e-12)
    assert theta[0] == 0.0


def test_solve_week_system_drops_empty_weeks_and_flat_regressors() -> None:
    y, x, product, week, _ = _panel(1)
    P, T = 5, 8  # weeks 6 and 7 have no data
    w = np.ones(y.size)
    E = np.zeros((y.size, 1))  # a promotion that is never on
    _, xc, i00, i11 = _product_blocks(x, product, w, np.ones(P, bool), P)
    M, rhs, _, _, week_weight = _week_system(y, xc, product, week, w, E, i00, i11, P, T)
    keep, sub_inv, theta = _solve_week_system(M, rhs, week_weight, 1)
    assert list(keep) == [1, 2, 3, 4, 5]
    assert sub_inv.shape == (5, 5)
    assert theta[6] == theta[7] == theta[8] == 0.0
    se = _extra_se(keep, sub_inv, 1.0, T, 1)
    assert se.shape == (1,) and np.isnan(se[0])


def test_residual_variance_per_product_or_pooled() -> None:
    u = np.array([1.0, -1.0, 1.0, 2.0, -2.0, 0.0, 2.0])
    product = np.array([0, 0, 0, 1, 1, 1, 1])
    ok = np.array([True, True])
    n_p = np.bincount(product)
    per = _residual_variance(u, np.ones(7), product, ok, n_p, 3, False)
    assert list(per) == [3.0 / 1, 12.0 / 2]
    pooled = _residual_variance(u, np.ones(7), product, ok, n_p, 3, True)
    # 7 observations - 2 slopes - 2 intercepts - (3 - 1) week/common columns = 1 dof
    assert list(pooled) == [15.0, 15.0]


def test_poisson_cluster_cov_matches_statsmodels_glm_cluster() -> None:
    rng = np.random.default_rng(4)
    n = 300
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    groups = np.repeat(np.arange(30), 10)
    y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 1])).astype(float)
    glm = sm.GLM(y, X, family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    mu = glm.fittedvalues
    cov, n_cl = _poisson_cluster_cov(X, y - mu, mu, groups, 2)
    assert n_cl == 30
    np.testing.assert_allclose(cov, glm.cov_params(), rtol=1e-6)
    assert np.sqrt(np.diag(cov)) == pytest.approx(glm.bse, rel=1e-6)
