"""The customer-base kernels one by one, against closed forms, numerical integrals and
each other (written for the mutation run of issue #17: each test kills mutants that the
model-level tests let through; docs/mutation.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import polygamma

from levelfield.customers import _kernels as K  # noqa: N812


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Whole-week data with repeated values (x = 0 included) and integer weights."""
    rng = np.random.default_rng(11)
    x = rng.integers(0, 6, 300).astype(float)
    T = np.round(rng.uniform(4, 40, 300))
    t = np.where(x > 0, np.maximum(np.round(T * rng.uniform(0.1, 1, 300)), 1.0), 0.0)
    w = rng.integers(1, 5, 300).astype(float)
    return x, t, T, w


def test_factorized_bgnbd_total_equals_the_weighted_per_customer_sum(rows) -> None:  # type: ignore[no-untyped-def]
    x, t, T, w = rows
    theta = (0.7, 4.0, 0.8, 2.5)
    ll, grad = K.bgnbd_loglik(*theta, x, t, T)
    data = tuple(K.factorize(c) for c in (x, t, T))
    total, g = K.bgnbd_loglik_total(*theta, *data, w)
    assert total == pytest.approx(float(ll @ w), rel=1e-12)
    np.testing.assert_allclose(g, grad @ w, rtol=1e-10)
    total_h, g_h, _ = K.bgnbd_loglik_hessian_total(*theta, *data, w)
    assert total_h == pytest.approx(total, rel=1e-14)
    np.testing.assert_allclose(g_h, g, rtol=1e-14)


def test_factorized_gamma_gamma_total_equals_the_weighted_per_customer_sum(rows) -> None:  # type: ignore[no-untyped-def]
    x, _, _, w = rows
    xg = np.maximum(x, 1.0)
    z = np.random.default_rng(3).uniform(5, 50, x.size)
    theta = (5.0, 3.0, 14.0)
    ll, grad = K.gamma_gamma_loglik(*theta, xg, z)
    data = (K.factorize(xg), xg * z, np.log(z))
    total, g = K.gamma_gamma_loglik_total(*theta, *data, w)
    assert total == pytest.approx(float(ll @ w), rel=1e-12)
    np.testing.assert_allclose(g, grad @ w, rtol=1e-10)


def test_gamma_gamma_hessian_is_the_jacobian_of_its_gradient() -> None:
    # exact second derivatives at a point where every entry is far from zero
    rng = np.random.default_rng(8)
    x = rng.integers(1, 7, 120).astype(float)
    z = rng.uniform(5, 50, 120)
    w = rng.integers(1, 4, 120).astype(float)
    data = (K.factorize(x), x * z, np.log(z))
    theta = np.array([4.0, 2.5, 10.0])
    _, _, H = K.gamma_gamma_loglik_hessian_total(*theta, *data, w)
    fd = np.empty((3, 3))
    for j in range(3):
        h = 1e-5 * theta[j]
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        fd[:, j] = (
            K.gamma_gamma_loglik_total(*up, *data, w)[1]
            - K.gamma_gamma_loglik_total(*dn, *data, w)[1]
        ) / (2 * h)
    np.testing.assert_allclose(H, fd, rtol=1e-6)


def test_nbd_is_the_bgnbd_without_drop_out(rows) -> None:  # type: ignore[no-untyped-def]
    # a -> 0 (no one drops out): the BG/NBD likelihood tends to the NBD's
    x, t, T, _ = rows
    r, alpha = 0.9, 5.0
    total, grad = K.nbd_loglik_total(r, alpha, K.factorize(x), K.factorize(T))
    ll_bg = K.bgnbd_loglik(r, alpha, 1e-12, 1.0, x, t, T)[0]
    assert total == pytest.approx(float(ll_bg.sum()), rel=1e-9)

    def f(th: np.ndarray) -> float:
        return K.nbd_loglik_total(th[0], th[1], K.factorize(x), K.factorize(T))[0]

    h = 1e-6
    fd = [(f(np.array([r + h, alpha])) - f(np.array([r - h, alpha]))) / (2 * h)]
    fd.append((f(np.array([r, alpha + h])) - f(np.array([r, alpha - h]))) / (2 * h))
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_bgnbd_prob_alive_hand_computed() -> None:
    # 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)); a customer without repeats is alive
    r, alpha, a, b = 0.5, 4.0, 0.6, 2.0
    x, t, T = np.array([0.0, 2.0]), np.array([0.0, 6.0]), np.array([20.0, 20.0])
    odds = 0.6 / (2.0 + 2.0 - 1.0) * (24.0 / 10.0) ** 2.5
    np.testing.assert_allclose(K.bgnbd_prob_alive(r, alpha, a, b, x, t, T), [1.0, 1 / (1 + odds)])


def test_new_customer_expectation_is_the_conditional_one_at_age_zero() -> None:
    # a customer observed for no time with no purchase is a new customer
    t = np.array([1.0, 13.0, 52.0])
    zero = np.zeros(3)
    bg = (0.243, 4.414, 0.793, 2.426)  # CDNOW, Fader, Hardie & Lee (2005)
    np.testing.assert_allclose(
        K.bgnbd_conditional_expected(*bg, t, zero, zero, zero),
        K.bgnbd_expected(*bg, t),
        rtol=1e-12,
    )
    pn = (0.553, 10.58, 0.606, 11.67)  # CDNOW, Fader & Hardie (2005) note
    np.testing.assert_allclose(
        K.pareto_nbd_conditional_expected(*pn, t, zero, zero, zero),
        K.pareto_nbd_expected(*pn, t),
        rtol=1e-12,
    )


@pytest.mark.parametrize("s", [0.606, 1.0, 1.0 + 1e-7, 2.5])
def test_pareto_nbd_expected_is_the_integral_of_the_purchase_rate(s: float) -> None:
    # E[X(t)] = (r/alpha) * integral_0^t (beta/(beta+u))^s du  ([3] eq. 17); s = 1 + 1e-7
    # is outside the s = 1 branch, whose log is then off by ~1e-7 relative
    r, alpha, beta = 0.553, 10.58, 11.67
    for t in (0.5, 39.0, 400.0):
        want = r / alpha * integrate.quad(lambda u: (beta / (beta + u)) ** s, 0.0, t)[0]
        got = K.pareto_nbd_expected(r, alpha, s, beta, np.array([t]))[0]
        assert got == pytest.approx(want, rel=1e-9)


def test_pareto_nbd_survival_hand_computed() -> None:
    # ((beta+T)/(beta+T+dt))^s
    got = K.pareto_nbd_survival(0.5, 10.0, 6.0, np.array([0.0, 6.0]))
    np.testing.assert_allclose(got, [(10 / 16) ** 0.5, (16 / 22) ** 0.5], rtol=1e-14)


def test_bgnbd_survival_is_the_posterior_mean_of_exp_minus_lambda_p_dt() -> None:
    # lambda ~ Gamma(r + x, alpha + T) integrates to (1 + p dt/(alpha+T))^-(r+x);
    # then p ~ Beta(a, b + x)
    r, alpha, a, b, dt = 0.8, 5.0, 0.7, 2.5, 9.0
    x, T = np.array([0.0, 3.0]), np.array([12.0, 30.0])
    got = K.bgnbd_survival(r, alpha, a, b, dt, x, T)
    for i in range(2):
        pdf = stats.beta(a, b + x[i]).pdf

        def integrand(p: float, i: int = i, pdf=pdf) -> float:  # type: ignore[no-untyped-def]
            return float((1 + p * dt / (alpha + T[i])) ** -(r + x[i]) * pdf(p))

        assert got[i] == pytest.approx(integrate.quad(integrand, 0.0, 1.0)[0], rel=1e-8)


def test_median_time_to_next_purchase_is_the_lomax_median() -> None:
    # (alpha + T) (2^(1/(r+x)) - 1); P(W > median) = 1/2
    got = K.median_time_to_next_purchase(0.5, 4.0, np.array([0.0, 1.5]), np.array([10.0, 10.0]))
    np.testing.assert_allclose(got, [14.0 * 3.0, 14.0 * (np.sqrt(2.0) - 1.0)], rtol=1e-14)
    assert (14.0 / (14.0 + got[1])) ** 2.0 == pytest.approx(0.5, rel=1e-14)


def test_gamma_gamma_conditional_spend_hand_computed() -> None:
    # p (gamma + x z) / (p x + q - 1), CDNOW parameters of Fader, Hardie & Lee (2005)
    p, q, g = 6.25, 3.74, 15.44
    got = K.gamma_gamma_conditional_spend(p, q, g, np.array([0.0, 2.0]), np.array([0.0, 35.0]))
    np.testing.assert_allclose(got, [96.5 / 2.74, 534.0 / 15.24], rtol=1e-14)


def test_trigamma_matches_scipy_on_both_sides_of_the_shift_and_off_domain() -> None:
    v = np.concatenate(
        [np.geomspace(1e-4, 1e6, 200), [0.5, 1.0, 9.0, 9.999999, 10.0, 10.000001, 11.0]]
    )
    np.testing.assert_allclose(K.trigamma(v), polygamma(1, v), rtol=2e-14, atol=0)
    bad = np.array([0.0, -1.0, -1.5, np.nan, np.inf, -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = polygamma(1, bad)
    np.testing.assert_array_equal(K.trigamma(bad), want)
    scalar = K.trigamma(2.0)
    assert scalar.shape == () and float(scalar) == pytest.approx(np.pi**2 / 6 - 1, rel=1e-14)


def test_factorize_gives_sorted_distinct_values_and_codes() -> None:
    values = np.array([3.0, 1.0, 3.0, 0.0, 1.0])
    uniq, codes = K.factorize(values)
    np.testing.assert_array_equal(uniq, [0.0, 1.0, 3.0])
    np.testing.assert_array_equal(uniq[codes], values)
    assert uniq.dtype == np.float64 and codes.dtype == np.intp
