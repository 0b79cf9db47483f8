"""Estimator behaviour: recovery of known parameters, gradients, bad input, warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from levelfield.customers import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    customer_lifetime_value,
    model_monthly_retention,
    simulate_bgnbd_summary,
    simulate_gamma_gamma_spend,
)
from levelfield.customers import _kernels as K  # noqa: N812
from levelfield.customers import _models as M  # noqa: N812
from levelfield.errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    InsufficientDataError,
    NotFittedError,
    SmallSampleWarning,
)

TRUE = {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}  # weeks


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    T = rng.uniform(20, 60, 20_000)
    return simulate_bgnbd_summary(20_000, *TRUE.values(), T, rng)


def test_bgnbd_recovers_simulated_parameters_within_standard_errors(simulated) -> None:  # type: ignore[no-untyped-def]
    m = BetaGeoModel().fit(*simulated)
    for k, v in TRUE.items():
        assert abs(m.params_[k] - v) < 3.5 * m.standard_errors_[k], (k, m.params_[k])


def test_gamma_gamma_recovers_simulated_parameters(simulated) -> None:  # type: ignore[no-untyped-def]
    x = simulated[0]
    z = simulate_gamma_gamma_spend(x, 6.0, 4.0, 15.0, np.random.default_rng(1))
    m = GammaGammaModel().fit(x, z)
    for k, v in {"p": 6.0, "q": 4.0, "gamma": 15.0}.items():
        assert abs(m.params_[k] - v) < 3.5 * m.standard_errors_[k], (k, m.params_[k])


def test_weights_equal_repeated_rows(simulated) -> None:  # type: ignore[no-untyped-def]
    x, t, T = (a[:300] for a in simulated)
    w = np.arange(300) % 3 + 1
    a = BetaGeoModel().fit(np.repeat(x, w), np.repeat(t, w), np.repeat(T, w))
    b = BetaGeoModel().fit(x, t, T, weights=w)
    for k in a.params_:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-5)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)


@pytest.mark.parametrize("which", ["bgnbd", "pareto", "gg"])
def test_analytic_gradients_match_finite_differences(which: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 8, 50).astype(float)
    T = rng.uniform(5, 40, 50)
    t = np.where(x > 0, T * rng.uniform(0.1, 1, 50), 0.0)
    z = rng.uniform(5, 50, 50)
    if which == "bgnbd":
        theta = np.array([0.7, 4.0, 0.8, 2.5])

        def f(th: np.ndarray) -> float:
            return float(K.bgnbd_loglik(*th, x, t, T)[0].sum())

        g = K.bgnbd_loglik(*theta, x, t, T)[1].sum(axis=1)
    elif which == "pareto":
        theta = np.array([0.6, 9.0, 0.7, 12.0])

        def f(th: np.ndarray) -> float:
            return float(K.pareto_nbd_loglik(*th, x, t, T)[0].sum())

        g = K.pareto_nbd_loglik(*theta, x, t, T)[1].sum(axis=1)
    else:
        theta = np.array([5.0, 3.0, 14.0])
        xg = np.maximum(x, 1)

        def f(th: np.ndarray) -> float:
            return float(K.gamma_gamma_loglik(*th, xg, z)[0].sum())

        g = K.gamma_gamma_loglik(*theta, xg, z)[1].sum(axis=1)
    np.testing.assert_allclose(g, approx_fprime(theta, f, 1e-7), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("which", ["bgnbd", "gg"])
def test_analytic_hessians_match_finite_differences_of_gradient(which: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 8, 200).astype(float)
    T = np.round(rng.uniform(5, 40, 200))
    t = np.where(x > 0, np.maximum(np.round(T * rng.uniform(0.1, 1, 200)), 1.0), 0.0)
    w = rng.integers(1, 4, 200).astype(float)
    if which == "bgnbd":
        theta = np.array([0.7, 4.0, 0.8, 2.5])
        data = tuple(K.factorize(c) for c in (x, t, T))
        hess_fn, grad_fn = K.bgnbd_loglik_hessian_total, K.bgnbd_loglik_total
    else:
        theta = np.array([5.0, 3.0, 14.0])
        xg, z = np.maximum(x, 1.0), rng.uniform(5, 50, 200)
        data = (K.factorize(xg), xg * z, np.log(z))
        hess_fn, grad_fn = K.gamma_gamma_loglik_hessian_total, K.gamma_gamma_loglik_total
    ll, g, H = hess_fn(*theta, *data, w)  # type: ignore[operator]
    ll0, g0 = grad_fn(*theta, *data, w)  # type: ignore[operator]
    assert ll == pytest.approx(ll0, rel=1e-13)
    np.testing.assert_allclose(g, g0, rtol=1e-12)
    fd = np.empty_like(H)
    for j in range(len(theta)):
        h = 1e-6 * theta[j]
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        fd[:, j] = (grad_fn(*up, *data, w)[1] - grad_fn(*dn, *data, w)[1]) / (2 * h)  # type: ignore[operator]
    np.testing.assert_allclose(H, H.T)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())


def test_many_distinct_rows_fit_same_optimum_via_subsample_and_newton(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # continuous ages: every customer is a distinct row, so the subsample path is taken
    rng = np.random.default_rng(11)
    T = rng.uniform(20, 60, 12_000)
    x, t, T = simulate_bgnbd_summary(12_000, *TRUE.values(), T, rng)
    monkeypatch.setattr(M, "_SUBSAMPLE_ROWS", 2_000)
    stage_rows: list[int] = []
    lbfgs = M._Model._lbfgs

    def spy(self, data, w, prepared, max_iter):  # type: ignore[no-untyped-def]
        stage_rows.append(len(w))
        return lbfgs(self, data, w, prepared, max_iter)

    monkeypatch.setattr(M._Model, "_lbfgs", spy)
    fast = BetaGeoModel().fit(x, t, T)
    assert stage_rows == [2_000]  # L-BFGS-B saw the subsample only
    assert fast.converged_ and fast.n_iter_ < 200
    monkeypatch.setattr(M, "_SUBSAMPLE_ROWS", 10**9)
    plain = BetaGeoModel().fit(x, t, T)
    for k in TRUE:
        assert fast.params_[k] == pytest.approx(plain.params_[k], rel=1e-6)
        assert fast.standard_errors_[k] == pytest.approx(plain.standard_errors_[k], rel=1e-5)
    assert fast.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-12)


def test_failed_newton_from_subsample_falls_back_to_full_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(12)
    T = rng.uniform(20, 60, 6_000)
    x, t, T = simulate_bgnbd_summary(6_000, *TRUE.values(), T, rng)
    monkeypatch.setattr(M, "_SUBSAMPLE_ROWS", 1_000)
    stage_rows: list[int] = []
    lbfgs, newton = M._Model._lbfgs, M._Model._newton

    def spy(self, data, w, prepared, max_iter):  # type: ignore[no-untyped-def]
        stage_rows.append(len(w))
        return lbfgs(self, data, w, prepared, max_iter)

    def fails_once(self, *args):  # type: ignore[no-untyped-def]
        out = newton(self, *args)
        return (*out[:5], False) if len(stage_rows) == 1 else out

    monkeypatch.setattr(M._Model, "_lbfgs", spy)
    monkeypatch.setattr(M._Model, "_newton", fails_once)
    m = BetaGeoModel().fit(x, t, T)
    assert stage_rows == [1_000, 6_000] and m.converged_


def test_pareto_nbd_likelihood_is_stable_where_closed_form_cancels() -> None:
    # t_x == T and huge frequencies: the hypergeometric difference cancels to 0 there
    x = np.array([0.0, 50.0, 200.0])
    T = np.array([30.0, 30.0, 30.0])
    ll, grad, p = K.pareto_nbd_loglik(0.5, 10.0, 0.6, 12.0, x, T, T)
    assert np.isfinite(ll).all() and np.isfinite(grad).all()
    assert ((p > 0) & (p <= 1)).all()


def test_unfitted_models_raise_not_fitted() -> None:
    for m in (BetaGeoModel(), ParetoNBDModel()):
        with pytest.raises(NotFittedError, match="fit"):
            m.probability_alive([1], [1], [2])
        with pytest.raises(NotFittedError):
            m.expected_purchases(1.0)
    with pytest.raises(NotFittedError):
        GammaGammaModel().conditional_expected_spend([1], [10])
    with pytest.raises(NotFittedError):
        BetaGeoModel().summary()


@pytest.mark.parametrize(
    ("x", "t", "T", "err", "match"),
    [
        ([], [], [], InsufficientDataError, "no customers"),
        ([1], [2], [3], InsufficientDataError, "many customers"),
        ([0, 0, 0], [0, 0, 0], [5, 6, 7], InsufficientDataError, "repeat purchase"),
        ([0, 0], [0, 0], [0, 0], InsufficientDataError, "one day"),
        ([1, -1], [1, 1], [2, 2], DataError, "negative"),
        ([1, np.nan], [1, 1], [2, 2], DataError, "missing"),
        ([1, 2], [5, 1], [2, 2], DataError, "recency exceeds T"),
        ([1, 2], [1, 1], [2], DataError, "different lengths"),
        ("abc", [1], [2], DataError, "text"),
        ([1.5, 2], [1, 1], [2, 2], DataError, "whole numbers"),
        # lifetimes' _check_inputs: "There exist non-zero recency values when frequency is zero."
        ([0, 2], [1, 1], [2, 2], DataError, "no repeat purchase but recency > 0"),
    ],
)
def test_count_models_reject_bad_input(x, t, T, err, match) -> None:  # type: ignore[no-untyped-def]
    for model in (BetaGeoModel(), ParetoNBDModel()):
        with pytest.raises(err, match=match):
            model.fit(x, t, T)


def test_frequency_zero_with_recency_is_a_levelfield_error_in_predictions_too() -> None:
    from levelfield.errors import LevelfieldError

    rng = np.random.default_rng(5)
    m = BetaGeoModel().fit(*simulate_bgnbd_summary(500, *TRUE.values(), 40.0, rng))
    with pytest.raises(LevelfieldError, match="recency > 0"):
        m.probability_alive([0], [2.0], [5.0])


def test_gamma_gamma_rejects_zero_or_negative_spend() -> None:
    with pytest.raises(DataError, match="zero or negative"):
        GammaGammaModel().fit([1, 2, 3], [10.0, 0.0, -5.0])
    with pytest.raises(InsufficientDataError, match="two customers"):
        GammaGammaModel().fit([0, 0, 1], [0.0, 0.0, 5.0])


def test_bad_options_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="penalizer"):
        BetaGeoModel(penalizer=-1).fit([1, 0], [1, 0], [2, 2])
    with pytest.raises(ConfigError, match="max_iter"):
        BetaGeoModel(max_iter=0).fit([1, 0], [1, 0], [2, 2])


def test_small_sample_and_non_convergence_warn() -> None:
    x, t, T = [1, 0, 2, 0, 3], [1, 0, 3, 0, 4], [5, 5, 6, 7, 8]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = BetaGeoModel().fit(x, t, T)
    assert any(issubclass(w.category, SmallSampleWarning) for w in rec)
    # five customers cannot pin four parameters: either SEs are finite or it says so
    if any(issubclass(w.category, ConvergenceWarning) for w in rec):
        assert all(np.isnan(v) for v in m.standard_errors_.values())
    rng = np.random.default_rng(3)
    xs, ts, Ts = simulate_bgnbd_summary(2000, 0.8, 6.0, 0.6, 3.0, 30.0, rng)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        BetaGeoModel(max_iter=2).fit(xs, ts, Ts)


def test_predictions_are_sane_and_monotone(simulated) -> None:  # type: ignore[no-untyped-def]
    x, t, T = (a[:2000] for a in simulated)
    for m in (BetaGeoModel().fit(x, t, T), ParetoNBDModel().fit(x, t, T)):
        p = m.probability_alive(x, t, T)
        assert ((p >= 0) & (p <= 1)).all()
        e1 = m.conditional_expected_purchases(4.0, x, t, T)
        e2 = m.conditional_expected_purchases(8.0, x, t, T)
        assert (e2 >= e1).all() and (e1 >= 0).all()
        curve = m.expected_purchases(np.array([0.0, 1.0, 10.0, 50.0]))
        assert curve[0] == pytest.approx(0.0) and np.all(np.diff(curve) > 0)
        ret = model_monthly_retention(m, x, t, T, 4.348)
        assert 0.5 < ret < 1
        clv = customer_lifetime_value(m, x, t, T, np.full(len(x), 20.0), months=12)
        clv_d = customer_lifetime_value(
            m, x, t, T, np.full(len(x), 20.0), months=12, annual_discount_rate=0.5
        )
        assert (clv >= clv_d).all() and (clv_d >= 0).all()
        with pytest.raises(ConfigError):
            m.conditional_expected_purchases(-1.0, x, t, T)
    with pytest.raises(ConfigError, match="months"):
        customer_lifetime_value(m, x, t, T, np.ones(len(x)), months=0)
    with pytest.raises(ConfigError, match="margin"):
        customer_lifetime_value(m, x, t, T, np.ones(len(x)), margin=0)


def test_summary_table_and_repr() -> None:
    rng = np.random.default_rng(5)
    x, t, T = simulate_bgnbd_summary(1000, 0.8, 6.0, 0.6, 3.0, 40.0, rng)
    m = BetaGeoModel().fit(x, t, T)
    tab = m.summary()
    assert list(tab.index) == ["r", "alpha", "a", "b"]
    assert (tab["lower_95"] < tab["estimate"]).all()
    assert "BetaGeoModel(r=" in repr(m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.probability_alive(x, t, T)
