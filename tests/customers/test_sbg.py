"""Shifted-beta-geometric retention model: Fader & Hardie (2007) oracle and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from levelfield.customers import ShiftedBetaGeometricModel
from levelfield.customers._sbg import sbg_loglik
from levelfield.errors import ConfigError, DataError, InsufficientDataError, NotFittedError

# Fader & Hardie (2007), "How to project customer retention", table 1: customers of a
# 1,000-customer cohort still active at the start of years 1-13
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]


@pytest.mark.parametrize(
    ("counts", "alpha", "beta"),
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
)
def test_sbg_matches_fader_hardie_2007_published_estimates(
    counts: list[int], alpha: float, beta: float
) -> None:
    """The paper fits the first seven years (eight counts) of each segment."""
    m = ShiftedBetaGeometricModel().fit_counts(counts[:8])
    assert m.params_["alpha"] == pytest.approx(alpha, abs=5e-4)
    assert m.params_["beta"] == pytest.approx(beta, abs=5e-4)
    assert m.converged_ and all(math.isfinite(v) for v in m.standard_errors_.values())
    # and the projection tracks the five held-out years within a few customers per 1,000
    proj = m.expected_active(1000, np.arange(8, 13))
    np.testing.assert_allclose(proj, counts[8:], atol=20)


def _brute_force_loglik(alpha: float, beta: float, counts: list[int]) -> float:
    """Log-likelihood by the paper's recursion P(1) = a/(a+b), P(t) = P(t-1)(b+t-2)/(a+b+t-1)."""
    n = np.asarray(counts, dtype=float)
    lost = -np.diff(n)
    p, s, ll = alpha / (alpha + beta), 1.0, 0.0
    for t in range(1, len(n)):  # a dozen periods: the oracle is plain arithmetic
        if t > 1:
            p = p * (beta + t - 2) / (alpha + beta + t - 1)
        s -= p
        ll += lost[t - 1] * math.log(p)
    return ll + n[-1] * math.log(s)


def test_sbg_likelihood_matches_brute_force_recursion() -> None:
    m = ShiftedBetaGeometricModel().fit_counts(REGULAR[:8])
    assert m.log_likelihood_ == pytest.approx(
        _brute_force_loglik(m.params_["alpha"], m.params_["beta"], REGULAR[:8]), rel=1e-9
    )
    for a, b in [(0.3, 2.0), (2.5, 0.7), (1.0, 10.0)]:
        t = np.r_[np.arange(1, 13), 12.0]
        c = np.r_[np.ones(12), 0.0]
        w = np.r_[-np.diff(np.asarray(HIGH_END, dtype=float)), HIGH_END[-1]]
        ll = float(sbg_loglik(a, b, t, c)[0] @ w)
        assert ll == pytest.approx(_brute_force_loglik(a, b, HIGH_END), rel=1e-9)


def test_sbg_gradient_matches_finite_differences() -> None:
    t = np.array([1.0, 2.0, 5.0, 3.0, 0.0, 7.0])
    c = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    theta = np.array([0.8, 2.5])
    _, g = sbg_loglik(*theta, t, c)
    fd = approx_fprime(theta, lambda th: float(sbg_loglik(*th, t, c)[0].sum()), 1e-7)
    np.testing.assert_allclose(g.sum(axis=1), fd, rtol=1e-5)


def test_per_customer_records_equal_counts() -> None:
    by_counts = ShiftedBetaGeometricModel().fit_counts(HIGH_END[:8])
    n = np.asarray(HIGH_END[:8])
    periods = np.r_[np.repeat(np.arange(1, 8), -np.diff(n)), np.full(n[-1], 7)]
    churned = np.r_[np.ones(n[0] - n[-1]), np.zeros(n[-1])]
    rec = ShiftedBetaGeometricModel().fit(periods, churned)
    for k in ("alpha", "beta"):
        assert rec.params_[k] == pytest.approx(by_counts.params_[k], rel=1e-6)


def test_survival_retention_and_derl_are_consistent() -> None:
    m = ShiftedBetaGeometricModel().fit_counts(REGULAR[:8])
    a, b = m.params_["alpha"], m.params_["beta"]
    s = m.survival(np.arange(0, 30))
    assert s[0] == 1 and (np.diff(s) < 0).all()
    np.testing.assert_allclose(m.retention_rate(np.arange(1, 30)), s[1:] / s[:-1], rtol=1e-12)
    assert (np.diff(m.retention_rate(np.arange(1, 30))) > 0).all()  # rising with tenure
    # DERL against the sum of discounted survival (the definition) over 5,000 periods
    d = 0.10
    for renewals in (0, 4):
        n = renewals + 1
        k = np.arange(0, 5_000)
        sk = m.survival(n + k) / m.survival(n - 1)
        brute = float((sk * np.exp(-k * np.log1p(d))).sum())
        assert m.discounted_expected_residual_lifetime(d, renewals) == pytest.approx(
            brute, rel=1e-9
        )
    # a loyal customer (more renewals) is worth more: survivors churn less
    v = m.customer_value(50.0, d, np.array([0, 1, 5]))
    assert (np.diff(v) > 0).all()
    assert a > 0 and b > 0


def test_sbg_bad_input() -> None:
    m = ShiftedBetaGeometricModel()
    with pytest.raises(NotFittedError):
        m.survival(3)
    with pytest.raises(DataError, match="non-increasing"):
        m.fit_counts([100, 120, 80])
    with pytest.raises(DataError, match="whole"):
        m.fit([1.5, 2], [1, 0])
    with pytest.raises(DataError, match="0/1"):
        m.fit([1, 2], [2, 0])
    with pytest.raises(DataError, match="at least one period"):
        m.fit([0, 2], [1, 0])
    with pytest.raises(InsufficientDataError, match="both cancellations and renewals"):
        m.fit([1, 1, 1], [1, 1, 1])
    with pytest.raises(InsufficientDataError, match="both cancellations and renewals"):
        m.fit([3, 4, 5], [0, 0, 0])
    with pytest.raises(InsufficientDataError, match="cohort size"):
        m.fit_counts([100])
    with pytest.raises(DataError, match="missing"):
        m.fit([1, np.nan], [1, 0])
    m.fit_counts(REGULAR[:8])
    with pytest.raises(ConfigError, match="discount_rate"):
        m.discounted_expected_residual_lifetime(0.0)
    with pytest.raises(ConfigError, match="t >= 1"):
        m.retention_rate(0)
    with pytest.raises(ConfigError, match="renewals"):
        m.discounted_expected_residual_lifetime(0.1, -1)
    with pytest.raises(ConfigError, match="payment"):
        m.customer_value(-1.0, 0.1)


def test_sbg_intervals_bracket_estimates_and_cover_by_simulation() -> None:
    """Delta-method intervals of survival and value: around the estimate, and covering the
    true cohort's curve about 90 % of the time over data sets drawn from known parameters.
    """
    m = ShiftedBetaGeometricModel().fit_counts(REGULAR[:8])
    lo, hi = m.survival_interval(np.arange(1, 13))
    s = m.survival(np.arange(1, 13))
    assert ((lo < s) & (s < hi)).all()
    vlo, vhi = m.customer_value_interval(50.0, 0.1, [0, 3])
    v = m.customer_value(50.0, 0.1, np.array([0, 3]))
    assert ((vlo < v) & (v < vhi)).all()
    rng = np.random.default_rng(7)
    truth = ShiftedBetaGeometricModel().fit_counts(REGULAR[:8])
    a, b = truth.params_["alpha"], truth.params_["beta"]
    horizon = np.array([3.0, 8.0, 12.0])
    covered = []
    for _ in range(60):  # 60 cohorts of 1,000, seven years observed each
        theta = rng.beta(a, b, 1000)
        life = rng.geometric(theta)
        counts = [int((life > t).sum()) for t in range(8)]
        fit = ShiftedBetaGeometricModel().fit_counts(counts)
        lo, hi = fit.survival_interval(horizon)
        true_s = truth.survival(horizon)
        covered.append(((lo <= true_s) & (true_s <= hi)).mean())
    assert 0.8 <= float(np.mean(covered)) <= 0.98
