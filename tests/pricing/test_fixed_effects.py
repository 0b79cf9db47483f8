"""Fixed-effects kernels against statsmodels' dummy-variable regressions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield.errors import DataError, InsufficientDataError, ModelError
from levelfield.pricing import (
    fe_ols,
    fe_ppml,
    product_slopes,
    product_slopes_ppml,
    within_transform,
)


def _panel(seed: int = 1, P: int = 7, T: int = 18, drop: float = 0.2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = np.repeat(np.arange(P), T)
    t = np.tile(np.arange(T), P)
    keep = rng.random(P * T) > drop
    p, t = p[keep], t[keep]
    x = rng.normal(0, 0.2, p.size) + 0.1 * t / T
    promo = (rng.random(p.size) < 0.2).astype(float)
    e = np.linspace(-3.0, -0.5, P)
    y = 1 + 0.3 * p + np.sin(t) + e[p] * x + 0.4 * promo + rng.normal(0, 0.1, p.size)
    count = rng.poisson(np.exp(y - 1.0)).astype(float)
    return pd.DataFrame({"y": y, "x": x, "p": p, "t": t, "promo": promo, "count": count})


def test_within_transform_matches_dummy_regression_residuals_unbalanced() -> None:
    df = _panel(drop=0.35)
    resid = smf.ols("y ~ C(p) + C(t)", df).fit().resid.to_numpy()
    out, iters, ok = within_transform(df["y"].to_numpy(), df["p"].to_numpy(), df["t"].to_numpy())
    assert ok and iters > 1
    np.testing.assert_allclose(out, resid, atol=1e-8)


def test_within_transform_balanced_panel_converges_in_one_sweep() -> None:
    df = _panel(drop=0.0).sample(frac=1.0, random_state=4)  # any row order
    out, iters, ok = within_transform(
        df[["y", "x"]].to_numpy(), df["p"].to_numpy(), df["t"].to_numpy()
    )
    assert ok and iters == 1  # the exact one-pass demeaning of a full panel
    for j, col in enumerate(("y", "x")):
        resid = smf.ols(f"{col} ~ C(p) + C(t)", df).fit().resid.to_numpy()
        np.testing.assert_allclose(out[:, j], resid, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=2, max_value=6),
    st.integers(min_value=2, max_value=8),
    st.integers(min_value=0, max_value=10_000),
)
def test_within_transform_leaves_zero_group_means(P: int, T: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.repeat(np.arange(P), T)
    t = np.tile(np.arange(T), P)
    keep = rng.random(P * T) > 0.3
    keep[:: T + 1] = True  # keep a diagonal so every group stays connected
    keep[:T] = True
    p, t = p[keep], t[keep]
    v = rng.normal(size=(p.size, 2)) * 10
    out, _, ok = within_transform(v, p, t, tol=1e-12)
    assert ok
    for g in (p, t):
        sums = np.vstack([np.bincount(g, weights=out[:, j]) for j in range(2)])
        np.testing.assert_allclose(sums, 0.0, atol=1e-7)


def test_fe_ols_matches_statsmodels_dummy_ols_clustered_by_product() -> None:
    df = _panel()
    m = smf.ols("y ~ C(p) + C(t) + x + promo", df).fit(
        cov_type="cluster", cov_kwds={"groups": df["p"]}
    )
    f = fe_ols(
        df["y"].to_numpy(),
        df[["x", "promo"]].to_numpy(),
        df["p"].to_numpy(),
        df["t"].to_numpy(),
        df["p"].to_numpy(),
    )
    np.testing.assert_allclose(f.coef, m.params[["x", "promo"]].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(f.se, m.bse[["x", "promo"]].to_numpy(), rtol=1e-6)
    assert f.n_clusters == df["p"].nunique()


def test_product_slopes_match_statsmodels_ols_with_interactions() -> None:
    df = _panel()
    m = smf.ols("y ~ C(p) + C(p):x + C(t) + promo", df).fit()
    P, T = df["p"].nunique(), df["t"].nunique()
    f = product_slopes(
        df["y"].to_numpy(),
        df["x"].to_numpy(),
        df["p"].to_numpy(),
        df["t"].to_numpy(),
        n_products=P,
        n_weeks=T,
        extra=df["promo"].to_numpy(),
        pooled_variance=True,
    )
    np.testing.assert_allclose(f.slope, m.params.filter(like=":x").to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(f.slope_se, m.bse.filter(like=":x").to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(f.extra[0], m.params["promo"], rtol=1e-7)
    np.testing.assert_allclose(f.extra_se[0], m.bse["promo"], rtol=1e-6)
    np.testing.assert_allclose(f.fitted, m.fittedvalues.to_numpy(), atol=1e-8)


def test_product_slopes_without_slope_give_nan_but_still_fit_week_effects() -> None:
    df = _panel()
    P, T = df["p"].nunique(), df["t"].nunique()
    ok = np.ones(P, dtype=bool)
    ok[0] = False
    f = product_slopes(
        df["y"].to_numpy(),
        df["x"].to_numpy(),
        df["p"].to_numpy(),
        df["t"].to_numpy(),
        n_products=P,
        n_weeks=T,
        slope_ok=ok,
    )
    assert np.isnan(f.slope[0]) and np.all(np.isfinite(f.slope[1:]))


def test_fe_ppml_matches_statsmodels_poisson_glm_with_dummies() -> None:
    df = _panel()
    m = smf.glm("count ~ C(p) + C(t) + x + promo", df, family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": df["p"]}
    )
    f = fe_ppml(
        df["count"].to_numpy(),
        df[["x", "promo"]].to_numpy(),
        df["p"].to_numpy(),
        df["t"].to_numpy(),
        df["p"].to_numpy(),
    )
    assert f.converged
    np.testing.assert_allclose(f.coef, m.params[["x", "promo"]].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(f.se, m.bse[["x", "promo"]].to_numpy(), rtol=1e-4)


def test_product_slopes_ppml_match_statsmodels_poisson_glm_with_interactions() -> None:
    df = _panel()
    m = smf.glm("count ~ C(p) + C(p):x + C(t) + promo", df, family=sm.families.Poisson()).fit()
    P, T = df["p"].nunique(), df["t"].nunique()
    f = product_slopes_ppml(
        df["count"].to_numpy(),
        df["x"].to_numpy(),
        df["p"].to_numpy(),
        df["t"].to_numpy(),
        n_products=P,
        n_weeks=T,
        extra=df["promo"].to_numpy(),
    )
    assert f.converged
    np.testing.assert_allclose(f.slope, m.params.filter(like=":x").to_numpy(), rtol=1e-6)


def test_bad_input_to_kernels() -> None:
    empty = np.zeros(0)
    codes = np.zeros(0, dtype=np.intp)
    with pytest.raises(InsufficientDataError):
        fe_ols(empty, empty, codes, codes, codes)
    df = _panel()
    with pytest.raises(InsufficientDataError, match=">= 0"):
        fe_ppml(
            -df["count"].to_numpy() - 1,
            df["x"].to_numpy(),
            df["p"].to_numpy(),
            df["t"].to_numpy(),
            df["p"].to_numpy(),
        )
    zero = np.zeros(len(df))
    with pytest.raises(ModelError, match="zero total"):
        product_slopes_ppml(
            zero,
            df["x"].to_numpy(),
            df["p"].to_numpy(),
            df["t"].to_numpy(),
            n_products=7,
            n_weeks=18,
        )
    with pytest.raises(DataError, match="one group code per row"):
        within_transform(np.ones(3), np.zeros(2, dtype=np.intp), np.zeros(3, dtype=np.intp))


# pyfixest 0.60 calls reset_index(inplace=True), deprecated in pandas 3.1: the peer's
# warning, not ours
@pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning")
@pytest.mark.parametrize(("drop", "shuffle"), [(0.0, False), (0.0, True), (0.25, True)])
def test_fe_ols_matches_pyfixest_feols_crv1(drop: float, shuffle: bool) -> None:
    # issue 18: pyfixest is the peer; its default small-sample correction does not
    # count fixed effects nested in the cluster (ssc="nested"), statsmodels' dummy
    # regression counts all of them (ssc="full")
    import pyfixest as pf  # a dev dependency (the issue-18 peer): never skipped
    from pyfixest.demeaners import MapDemeaner

    df = _panel(seed=5, P=40, T=30, drop=drop)
    if shuffle:
        df = df.sample(frac=1.0, random_state=2).reset_index(drop=True)
    # pyfixest's alternating projections stop at fixef_tol (default 1e-6); tighter
    # here so that unbalanced panels agree to 1e-8 like balanced ones
    tight = MapDemeaner(fixef_tol=1e-12)
    m = pf.feols("y ~ x + promo | p + t", data=df, vcov={"CRV1": "p"}, demeaner=tight)
    X = df[["x", "promo"]].to_numpy()
    p, t = df["p"].to_numpy(), df["t"].to_numpy()
    ours = fe_ols(df["y"].to_numpy(), X, p, t, p, ssc="nested")
    np.testing.assert_allclose(ours.coef, m.coef().to_numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.se, m.se().to_numpy(), rtol=1e-8)
    # the statsmodels convention differs only by sqrt((n - K_nested) / (n - K_full))
    full = fe_ols(df["y"].to_numpy(), X, p, t, p)
    n, k_full, k_nested = len(df), 2 + 40 + 30 - 1, 2 + 30
    np.testing.assert_allclose(
        full.se / ours.se, np.sqrt((n - k_nested) / (n - k_full)), rtol=1e-10
    )
    # clustered on the week instead: no fixed effect nested, both conventions agree
    by_week = fe_ols(df["y"].to_numpy(), X, p, t, t, ssc="nested")
    m2 = pf.feols("y ~ x + promo | p + t", data=df, vcov={"CRV1": "t"}, demeaner=tight)
    np.testing.assert_allclose(by_week.se, m2.se().to_numpy(), rtol=1e-8)


def test_fe_ols_bad_ssc() -> None:
    df = _panel()
    with pytest.raises(ValueError, match="ssc"):
        fe_ols(df["y"].to_numpy(), df["x"].to_numpy(), df["p"], df["t"], df["p"], ssc="fixest")
