"""BG/NBD and Pareto/NBD with time-invariant covariates.

Oracles: the per-customer likelihood against direct numerical integration over the
purchase rate and drop-out probability (BG/NBD) and against Fader & Hardie's independent
hypergeometric closed form (Pareto/NBD, note 009 eq. 22), both to 1e-6; the model without
covariates is exactly the plain model; planted coefficients are recovered.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import gammaln, hyp2f1, polygamma

from levelfield.customers import (
    BetaGeoCovariateModel,
    BetaGeoModel,
    ParetoNBDCovariateModel,
    ParetoNBDModel,
    customer_covariates,
    summarize_workspace,
)
from levelfield.customers._covariates import bgnbd_row_derivatives
from levelfield.customers._kernels import bgnbd_loglik, pareto_nbd_loglik, trigamma
from levelfield.errors import ConfigError, DataError

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "cdnow")
CASES = [(0.0, 0.0, 30.0), (1.0, 10.0, 35.0), (3.0, 20.5, 38.0), (7.0, 30.0, 39.0)]


def _cdnow() -> pd.DataFrame:
    return pd.read_csv(os.path.join(DATA, "cdnow_customers_summary.csv"))


def _gamma_moment(x: float, tau: float, r: float, alpha: float) -> float:
    """E[lambda^x exp(-lambda tau)] for lambda ~ Gamma(r, rate alpha), by quadrature."""

    def f(lam: float) -> float:
        return float(lam**x * np.exp(-lam * tau) * stats.gamma.pdf(lam, r, scale=1 / alpha))

    return float(integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12, limit=500)[0])


def _beta_moment(f: object, a: float, b: float) -> float:
    return float(
        integrate.quad(
            lambda p: f(p) * stats.beta.pdf(p, a, b),  # type: ignore[operator]
            0,
            1,
            epsabs=0,
            epsrel=1e-12,
            limit=500,
        )[0]
    )


def _bgnbd_brute_force(
    r: float, al: float, a: float, b: float, x: float, tx: float, T: float
) -> float:
    """log of E_{lambda, p}[(1-p)^x l^x e^{-l T} + 1{x>0} p (1-p)^{x-1} l^x e^{-l t_x}]."""
    like = _beta_moment(lambda p: (1 - p) ** x, a, b) * _gamma_moment(x, T, r, al)
    if x > 0:
        like += _beta_moment(lambda p: p * (1 - p) ** (x - 1), a, b) * _gamma_moment(x, tx, r, al)
    return float(np.log(like))


def _pareto_closed_form(
    r: float, al: float, s: float, be: float, x: float, tx: float, T: float
) -> float:
    """Fader & Hardie (2005) note 009, eq. 22 with its two Gauss hypergeometric cases."""
    c = r + s + x
    if al >= be:
        z1, z2, arg, base_t, base_T = (
            (al - be) / (al + tx),
            (al - be) / (al + T),
            s + 1,
            al + tx,
            al + T,
        )
    else:
        z1, z2, arg, base_t, base_T = (
            (be - al) / (be + tx),
            (be - al) / (be + T),
            r + x,
            be + tx,
            be + T,
        )
    a0 = hyp2f1(c, arg, c + 1, z1) / base_t**c - hyp2f1(c, arg, c + 1, z2) / base_T**c
    head = gammaln(r + x) - gammaln(r) + r * np.log(al) + s * np.log(be)
    return float(head + np.log(1 / ((al + T) ** (r + x) * (be + T) ** s) + s / c * a0))


def test_bgnbd_covariate_likelihood_matches_numerical_integration() -> None:
    r = 0.6
    for i, (x, tx, T) in enumerate(CASES):
        al, a, b = 4.0 + i, 0.7 + 0.1 * i, 2.0 - 0.2 * i  # a different customer each
        ll = bgnbd_row_derivatives(
            r, np.array([al]), np.array([a]), np.array([b]), *(np.array([v]) for v in (x, tx, T))
        )[0][0]
        assert ll == pytest.approx(_bgnbd_brute_force(r, al, a, b, x, tx, T), abs=1e-6)


def test_pareto_nbd_covariate_likelihood_matches_fader_hardie_2005_closed_form() -> None:
    r, s = 0.6, 0.5
    for i, (x, tx, T) in enumerate(CASES):
        for al, be in ((4.0 + i, 8.0 + 2 * i), (12.0 + i, 3.0)):  # both hypergeometric cases
            ll = pareto_nbd_loglik(
                r, np.array([al]), s, np.array([be]), *(np.array([v]) for v in (x, tx, T))
            )[0][0]
            assert ll == pytest.approx(_pareto_closed_form(r, al, s, be, x, tx, T), abs=1e-6)


def test_row_derivatives_are_exact() -> None:
    d = _cdnow()
    x, tx, T = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    rng = np.random.default_rng(0)
    n = len(x)
    r = 0.3
    al, a, b = (np.exp(rng.normal(m, 0.3, n)) for m in (1.0, -0.5, 1.0))
    ll, g_u, H_u = bgnbd_row_derivatives(r, al, a, b, x, tx, T)
    ll2, g2 = bgnbd_loglik(r, al, a, b, x, tx, T)
    np.testing.assert_allclose(ll, ll2, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(g_u, g2 * np.stack([np.full(n, r), al, a, b]), atol=1e-12)
    u = np.stack([np.full(n, np.log(r)), np.log(al), np.log(a), np.log(b)])
    for j in range(1, 4):  # per-customer parameters (r is shared, its column is summed)
        up, dn = u.copy(), u.copy()
        up[j] += 1e-6
        dn[j] -= 1e-6
        grad_up = bgnbd_row_derivatives(r, *np.exp(up[1:]), x, tx, T)[1]
        grad_dn = bgnbd_row_derivatives(r, *np.exp(dn[1:]), x, tx, T)[1]
        fd = (grad_up - grad_dn) / 2e-6
        np.testing.assert_allclose(H_u[:, j], fd, rtol=1e-5, atol=1e-6)


def test_row_hessian_in_log_r_matches_central_differences() -> None:
    d = _cdnow()
    x, tx, T = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    rng = np.random.default_rng(1)
    al, a, b = (np.exp(rng.normal(m, 0.3, len(x))) for m in (1.0, -0.5, 1.0))
    r, h = 0.3, 1e-6
    H_u = bgnbd_row_derivatives(r, al, a, b, x, tx, T)[2]
    up = bgnbd_row_derivatives(r * np.exp(h), al, a, b, x, tx, T)[1]
    dn = bgnbd_row_derivatives(r * np.exp(-h), al, a, b, x, tx, T)[1]
    np.testing.assert_allclose(H_u[:, 0], (up - dn) / (2 * h), rtol=1e-5, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-8, max_value=1e12, allow_nan=False))
def test_trigamma_matches_scipy_polygamma(v: float) -> None:
    assert trigamma(np.array([v]))[0] == pytest.approx(float(polygamma(1, v)), rel=1e-14)
    assert float(trigamma(v)) == pytest.approx(float(polygamma(1, v)), rel=1e-14)


def test_trigamma_poles_and_nan_as_scipy() -> None:
    v = np.array([0.0, -1.0, -1.5, np.nan, np.inf, 2.0])
    np.testing.assert_allclose(trigamma(v), polygamma(1, v), rtol=1e-15, atol=0)


def test_staged_fit_on_subsamples_reaches_the_direct_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every 8th/64th row first, then all rows: the same optimum as all rows at once."""
    import levelfield.customers._covariates as covariates_module

    summ, z, _ = _simulate_bgnbd(20_000, seed=7)
    args = (summ["frequency"], summ["recency"], summ["T"], z, z[["channel=ads"]])
    monkeypatch.setattr(covariates_module, "_SUBSAMPLE_ROWS", 10**9)
    direct = BetaGeoCovariateModel().fit(*args)
    monkeypatch.setattr(covariates_module, "_SUBSAMPLE_ROWS", 300)
    staged = BetaGeoCovariateModel().fit(*args)
    assert direct.converged_ and staged.converged_
    assert staged.log_likelihood_ == pytest.approx(direct.log_likelihood_, abs=1e-6)
    for k, v in direct.params_.items():
        assert staged.params_[k] == pytest.approx(v, rel=1e-6, abs=1e-6), k


def test_merging_rows_or_only_sorting_them_gives_the_same_fit() -> None:
    """Binned covariates merge identical rows; a continuous one only sorts them by x."""
    summ, z, _ = _simulate_bgnbd(5_000, seed=3)
    rec = np.where(summ["frequency"] > 0, np.maximum(summ["recency"].round(0), 1.0), 0.0)
    summ = summ.assign(recency=rec, T=np.ceil(summ["T"]))
    binned = z.assign(value=z["value"].round(0))
    args = (summ["frequency"], summ["recency"], summ["T"])
    merged = BetaGeoCovariateModel().fit(*args, binned, binned[["channel=ads"]])
    # the same rows, but a tiny continuous covariate makes every row distinct
    jitter = binned.assign(tiny=np.random.default_rng(0).normal(0, 1e-9, len(binned)))
    from levelfield.customers._covariates import _merge_rows

    cols = [summ[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    assert len(_merge_rows([*cols, *binned.to_numpy().T], np.ones(len(summ)))[1]) < len(summ)
    assert len(_merge_rows([*cols, *jitter.to_numpy().T], np.ones(len(summ)))[1]) == len(summ)
    sorted_only = BetaGeoCovariateModel().fit(*args, jitter, binned[["channel=ads"]])
    assert sorted_only.log_likelihood_ == pytest.approx(merged.log_likelihood_, abs=1e-4)
    for k, v in merged.params_.items():
        assert sorted_only.params_[k] == pytest.approx(v, abs=1e-4), k


@pytest.mark.parametrize(
    ("cov_model", "plain"),
    [(BetaGeoCovariateModel, BetaGeoModel), (ParetoNBDCovariateModel, ParetoNBDModel)],
)
def test_without_covariates_is_exactly_the_plain_model(cov_model: type, plain: type) -> None:
    d = _cdnow().head(800)
    args = (d["frequency"], d["recency"], d["T"])
    m = cov_model().fit(*args)
    p = plain().fit(*args)
    assert m.params_ == p.params_
    assert m.log_likelihood_ == p.log_likelihood_
    assert m.lr_statistic_ == 0.0 and m.lr_df_ == 0
    np.testing.assert_allclose(m.probability_alive(*args), p.probability_alive(*args), rtol=1e-12)
    np.testing.assert_allclose(
        m.conditional_expected_purchases(10.0, *args),
        p.conditional_expected_purchases(10.0, *args),
        rtol=1e-10,
    )
    for k, se in p.standard_errors_.items():
        assert m.standard_errors_[k] == pytest.approx(se, rel=1e-3)


def _simulate_bgnbd(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """BG/NBD customers whose alpha, a, b depend on a channel flag and a centred number."""
    rng = np.random.default_rng(seed)
    z = pd.DataFrame({"channel=ads": (rng.random(n) < 0.4) * 1.0, "value": rng.normal(0, 1, n)})
    truth = {
        "r": 0.8,
        "alpha": 6.0,
        "a": 0.6,
        "b": 2.5,
        "purchase:channel=ads": -0.5,
        "purchase:value": 0.3,
        "dropout_a:channel=ads": 0.6,
        "dropout_b:channel=ads": -0.2,
    }
    ads = z["channel=ads"].to_numpy()
    alpha = truth["alpha"] * np.exp(-(truth["purchase:channel=ads"] * ads + 0.3 * z["value"]))
    a = truth["a"] * np.exp(truth["dropout_a:channel=ads"] * ads)
    b = truth["b"] * np.exp(truth["dropout_b:channel=ads"] * ads)
    lam = rng.gamma(truth["r"], 1 / alpha)
    p = rng.beta(a, b)
    T = rng.uniform(20, 52, n)
    k = np.arange(60)[None, :]
    times = np.cumsum(rng.exponential(1.0, (n, 60)) / lam[:, None], axis=1)
    alive_after = rng.geometric(p)  # purchases made before dropping out (incl. the one)
    seen = (times <= T[:, None]) & (k < alive_after[:, None])
    x = seen.sum(axis=1).astype(float)
    tx = np.where(x > 0, np.max(np.where(seen, times, 0.0), axis=1), 0.0)
    summ = pd.DataFrame({"frequency": x, "recency": tx, "T": T})
    return summ, z, truth


def test_bgnbd_covariates_recover_planted_coefficients() -> None:
    summ, z, truth = _simulate_bgnbd(20_000, seed=5)
    m = BetaGeoCovariateModel().fit(
        summ["frequency"],
        summ["recency"],
        summ["T"],
        purchase_covariates=z,
        dropout_covariates=z[["channel=ads"]],
    )
    assert m.converged_
    for k, v in truth.items():
        assert abs(m.params_[k] - v) < 4 * m.standard_errors_[k], k
    assert m.lr_df_ == 4
    assert m.lr_p_value_ < 1e-6
    table = m.summary()
    assert list(table.index) == list(truth)
    assert table.loc["purchase:value", "p_value"] < 1e-6
    # the exact analytic gradient vanishes at the optimum and matches central differences
    phi = m._phi()
    data = tuple(summ[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    design = m._design({"purchase": z.to_numpy(), "dropout": z[["channel=ads"]].to_numpy()})
    w = np.ones(len(summ))
    _, g, H = m._total(phi, data, design, w, True)
    assert np.abs(g).max() < 1e-3
    h = 1e-6
    for j in (1, 4, 6):
        up, dn = phi.copy(), phi.copy()
        up[j] += h
        dn[j] -= h
        fd = (m._total(up, data, design, w, False)[1] - m._total(dn, data, design, w, False)[1]) / (
            2 * h
        )
        np.testing.assert_allclose(H[:, j], fd, rtol=1e-4, atol=1e-2)
    # predictions use each customer's own parameters
    alive = m.probability_alive(
        summ["frequency"], summ["recency"], summ["T"], z, z[["channel=ads"]]
    )
    assert ((alive > 0) & (alive <= 1)).all()


def test_pareto_nbd_covariates_fit_and_lr_test() -> None:
    d = _cdnow().head(1000)
    rng = np.random.default_rng(2)
    flag = (rng.random(len(d)) < 0.5) * 1.0
    # customers flagged buy twice as often: drawn again from a scaled summary
    m = ParetoNBDCovariateModel().fit(
        d["frequency"],
        d["recency"],
        d["T"],
        purchase_covariates=pd.DataFrame({"flag": flag}),
        dropout_covariates=pd.DataFrame({"flag": flag}),
    )
    assert m.converged_
    assert set(m.params_) == {"r", "alpha", "s", "beta", "purchase:flag", "dropout:flag"}
    # a random flag explains nothing: small coefficients, no significant LR statistic
    assert abs(m.params_["purchase:flag"]) < 3 * m.standard_errors_["purchase:flag"]
    assert m.lr_p_value_ > 0.01
    assert m.log_likelihood_ >= m.base_log_likelihood_ - 1e-6
    expected = m.conditional_expected_purchases(
        10.0, d["frequency"], d["recency"], d["T"], flag, flag
    )
    assert np.isfinite(expected).all() and (expected > 0).all()


def test_covariates_bad_input_is_a_data_error() -> None:
    d = _cdnow().head(200)
    args = (d["frequency"], d["recency"], d["T"])
    n = len(d)
    bad_nan = np.ones((n, 1)) * np.r_[np.nan, np.arange(n - 1.0)][:, None]
    with pytest.raises(DataError, match="missing"):
        BetaGeoCovariateModel().fit(*args, purchase_covariates=bad_nan)
    with pytest.raises(DataError, match="one value"):
        BetaGeoCovariateModel().fit(*args, purchase_covariates=np.ones(n))
    two = np.arange(n, dtype=float)
    with pytest.raises(DataError, match="collinear"):
        BetaGeoCovariateModel().fit(*args, purchase_covariates=np.c_[two, 2 * two])
    level = np.arange(n) % 3  # every level of a category as a 0/1 column
    with pytest.raises(DataError, match="collinear"):
        BetaGeoCovariateModel().fit(*args, purchase_covariates=np.eye(3)[level])
    # columns on very different scales are not collinear for that
    scaled = np.c_[100.0 * (level == 1), 0.01 * np.log1p(two)]
    assert BetaGeoCovariateModel().fit(*args, purchase_covariates=scaled).lr_df_ == 2
    with pytest.raises(DataError, match="one row per customer"):
        BetaGeoCovariateModel().fit(*args, purchase_covariates=np.arange(5.0))
    with pytest.raises(DataError, match="not numbers"):
        BetaGeoCovariateModel().fit(*args, purchase_covariates=pd.DataFrame({"c": ["x"] * n}))
    with pytest.raises(ConfigError):
        BetaGeoCovariateModel(tol=2.0).fit(*args)
    m = BetaGeoCovariateModel().fit(*args, purchase_covariates=pd.DataFrame({"v": two}))
    with pytest.raises(DataError, match="pass purchase_covariates"):
        m.probability_alive(*args)


def test_customer_covariates_from_the_demo_workspace(demo_dir: object) -> None:
    from levelfield import open_workspace

    ws = open_workspace(os.path.join(str(demo_dir), "levelfield.duckdb"))
    try:
        summ = summarize_workspace(ws)
        z = customer_covariates(ws, summ.customer_id)
        with pytest.raises(ConfigError, match="unknown covariate"):
            customer_covariates(ws, summ.customer_id, include=("age",))
    finally:
        ws.close()
    assert len(z) == summ.n_customers
    assert list(z.index) == list(summ.customer_id)
    assert "first_order_value" in z.columns
    assert any(c.startswith("channel=") for c in z.columns)
    assert z["first_order_value"].mean() == pytest.approx(0.0, abs=1e-9)
    dummies = z.drop(columns="first_order_value")
    assert set(np.unique(dummies.to_numpy())) <= {0.0, 1.0}
    m = BetaGeoCovariateModel().fit(
        summ.frequency, summ.recency, summ.T, purchase_covariates=z, dropout_covariates=z
    )
    assert m.converged_
    assert np.isfinite(list(m.standard_errors_.values())).all()
    assert 0.0 <= m.lr_p_value_ <= 1.0
