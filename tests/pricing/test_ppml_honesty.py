"""Poisson elasticities that do not claim more than the data hold.

Three defects this file guards against, each found on the demo fleet (a product's
elasticity of -57.6 with a standard error of 0.06, planted -1.02; 29 % of 244 product
estimates outside their 95 % interval):

* separation: a product sold at one price and never at another has no Poisson estimate
  (:func:`ppml_separated`, Correia, Guimarães and Zylkin's iterative rectifier);
* singletons: rows fitted exactly by their own week or cell effect shrink the standard
  errors without changing any estimate (:func:`singleton_rows`);
* standard errors that held the week effects fixed: :func:`robust_slope_se` is the full
  model's sandwich, checked here against ``statsmodels`` (HC0) and a dense-design
  computation (HC1, HC3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from patsy import dmatrix
from test_fixed_effects import _panel

from levelfield.errors import ConfigError
from levelfield.pricing import ElasticityModel
from levelfield.pricing._elasticity import _LOST_REASON
from levelfield.pricing._fixed_effects import (
    _solve_product_slopes,
    ppml_separated,
    product_slopes,
    product_slopes_ppml,
    robust_slope_se,
    singleton_rows,
)

FORMULA = "C(p) + C(p):x + C(t) + promo"


def _ppml(df: pd.DataFrame, cov_type: str) -> np.ndarray:
    return product_slopes_ppml(
        df["count"].to_numpy(float),
        df["x"].to_numpy(),
        df["p"].to_numpy(),
        df["t"].to_numpy(),
        n_products=df["p"].nunique(),
        n_weeks=df["t"].nunique(),
        extra=df["promo"].to_numpy(),
        cov_type=cov_type,
        tol=1e-13,
    ).slope_se


@pytest.mark.parametrize("seed", [1, 2])
def test_robust_se_hc0_matches_statsmodels_full_dummy_glm(seed: int) -> None:
    df = _panel(seed)
    m = smf.glm("count ~ " + FORMULA, df, family=sm.families.Poisson()).fit(
        cov_type="HC0", tol=1e-13
    )
    want = m.bse.filter(like=":x").to_numpy()
    np.testing.assert_allclose(_ppml(df, "HC0"), want, rtol=1e-6)


@pytest.mark.parametrize("kind", ["HC1", "HC2", "HC3"])
def test_robust_se_hc1_to_hc3_match_the_dense_sandwich(kind: str) -> None:
    df = _panel(3)
    m = smf.glm("count ~ " + FORMULA, df, family=sm.families.Poisson()).fit(tol=1e-13)
    X = np.asarray(dmatrix(FORMULA, df))
    y, mu = df["count"].to_numpy(float), np.asarray(m.mu)
    bread = np.linalg.inv(X.T @ (X * mu[:, None]))
    h = mu * np.sum((X @ bread) * X, axis=1)
    r = {
        "HC1": (y - mu) * np.sqrt(y.size / (y.size - X.shape[1])),
        "HC2": (y - mu) / np.sqrt(1 - h),
        "HC3": (y - mu) / (1 - h),
    }[kind]
    cov = bread @ (X.T @ (X * (r * r)[:, None])) @ bread
    slopes = [i for i, name in enumerate(m.params.index) if ":x" in name]
    np.testing.assert_allclose(_ppml(df, kind), np.sqrt(np.diag(cov))[slopes], rtol=1e-6)
    # HC3 is the larger: each residual is divided by 1 - leverage
    assert np.all(_ppml(df, "HC3") > _ppml(df, "HC0"))


def test_robust_se_of_least_squares_matches_statsmodels_hc0() -> None:
    df = _panel(4)
    m = smf.ols("y ~ " + FORMULA, df).fit(cov_type="HC0")
    P, T = df["p"].nunique(), df["t"].nunique()
    fit, system = _solve_product_slopes(
        df["y"].to_numpy(),
        df["x"].to_numpy(),
        df["p"].to_numpy(),
        df["t"].to_numpy(),
        n_products=P,
        n_weeks=T,
        extra=df["promo"].to_numpy(),
        weights=None,
        slope_ok=None,
        pooled_variance=False,
    )
    resid = df["y"].to_numpy() - fit.fitted
    se = robust_slope_se(resid, df["p"].to_numpy(), df["t"].to_numpy(), system, kind="HC0")
    np.testing.assert_allclose(se, m.bse.filter(like=":x").to_numpy(), rtol=1e-7)
    with pytest.raises(ConfigError, match="HC0"):
        robust_slope_se(resid, df["p"].to_numpy(), df["t"].to_numpy(), system, kind="HC4")


def test_least_squares_hc2_intervals_hold_their_level_with_few_products() -> None:
    """4 products x 52 weeks, each product with its own noise level, prices changing
    twice: the HC2 interval of ``product_slopes`` misses the true slope about 5 % of the
    time (measured 5.7 % over 1,600 slopes; the per-product classical variance: 11.9 %,
    because the week effects use up degrees of freedom it does not count)."""
    rng = np.random.default_rng(0)
    miss = []
    levels = np.log([0.8, 0.9, 1.0, 1.1, 1.2])
    for _ in range(300):
        P, T = 4, 52
        p = np.repeat(np.arange(P), T)
        t = np.tile(np.arange(T), P)
        kept = rng.random(P * T) > 0.1
        p, t = p[kept], t[kept]
        x = levels[(rng.integers(0, 5, P)[p] + (t > rng.integers(10, 40, P)[p])) % 5]
        noise = rng.normal(0, 1, p.size) * rng.uniform(0.2, 0.8, P)[p]
        y = 2 - 1.5 * x + rng.normal(0, 0.3, T)[t] + noise
        fit = product_slopes(y, x, p, t, n_products=P, n_weeks=T, cov_type="HC2")
        ok = np.isfinite(fit.slope)
        miss.extend(np.abs((fit.slope[ok] + 1.5) / fit.slope_se[ok]) > 1.96)
    assert len(miss) > 1000
    assert 0.03 <= np.mean(miss) <= 0.08


def test_singletons_are_found_iteratively() -> None:
    # cell 0: weeks 0, 1, 2; cell 1: weeks 0, 1, 3 (week 3 is alone, then cell 1 has 2 rows
    # with a slope: both fitted exactly, so week 0's and week 1's other rows stay)
    product = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    week = np.array([0, 1, 2, 0, 1, 3, 0, 1, 2])
    ok = np.array([True, True, False])
    drop = singleton_rows(product, week, ok, n_products=3, n_weeks=4)
    assert drop.tolist() == [False, False, False, True, True, True, False, False, False]
    # without a slope, two rows of a cell leave a residual: only week 3's row goes
    drop = singleton_rows(product, week, np.zeros(3, bool), n_products=3, n_weeks=4)
    assert drop.tolist() == [False] * 5 + [True] + [False] * 3


def _separated_panel() -> tuple[np.ndarray, ...]:
    """Cells 0 and 1 sell at every price; cell 2 sells at its low price (weeks 0-11) and
    never at its high one (weeks 12-17): a slope of minus infinity fits those zeros."""
    rng = np.random.default_rng(0)
    T = 18
    product = np.repeat(np.arange(3), T)
    week = np.tile(np.arange(T), 3)
    x = np.log(np.where(week < 12, 10.0, 12.0)) + np.where(product == 0, 0.05 * (week % 3), 0.0)
    y = rng.poisson(4.0, product.size).astype(float)
    y[(product == 2) & (week >= 12)] = 0.0
    return y, x, product, week


def test_separated_rows_are_the_zero_sales_at_the_price_never_sold_at() -> None:
    y, x, product, week = _separated_panel()
    sep = ppml_separated(y, x, product, week, n_products=3, n_weeks=18)
    assert np.flatnonzero(sep).tolist() == list(range(2 * 18 + 12, 3 * 18))
    # the same data with one sale at the high price: the estimate exists
    y2 = y.copy()
    y2[2 * 18 + 15] = 1.0
    assert not ppml_separated(y2, x, product, week, n_products=3, n_weeks=18).any()
    # no zeros, or nothing but zeros: nothing to test
    assert not ppml_separated(y + 1, x, product, week, n_products=3, n_weeks=18).any()


def test_a_product_never_sold_at_its_high_price_gets_no_elasticity_and_says_why() -> None:
    y, x, product, week = _separated_panel()
    panel = pd.DataFrame(
        {
            "sku": np.array(["A", "B", "C"])[product],
            "week": pd.Timestamp("2025-01-06") + pd.to_timedelta(7 * week, unit="D"),
            "quantity": y,
            "posted_price": np.exp(x).round(2),
        }
    )
    model = ElasticityModel(estimator="ppml", shrink=False).fit(panel)
    row = model.elasticities_.set_index("sku").loc["C"]
    assert row["status"] != "estimated"
    assert row["reason"] == _LOST_REASON
    assert np.isnan(row["elasticity"])
    assert any("set aside" in note for note in model.notes_)
