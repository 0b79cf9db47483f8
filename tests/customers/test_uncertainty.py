"""Per-customer intervals (delta method) and next purchase dates."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from levelfield import Workspace
from levelfield.customers import (
    BetaGeoModel,
    GammaGammaModel,
    analyze,
    customer_lifetime_value,
    probability_interval,
    simulate_bgnbd_summary,
    simulate_gamma_gamma_spend,
    value_interval,
)
from levelfield.customers import _kernels as K  # noqa: N812
from levelfield.customers._uncertainty import _with_params, log_gradient
from levelfield.errors import ConfigError

TRUE = {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}  # weeks
TRUE_GG = {"p": 6.0, "q": 4.0, "gamma": 15.0}


def _fit(n: int, seed: int) -> tuple[BetaGeoModel, GammaGammaModel, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    x, t_x, T = simulate_bgnbd_summary(n, *TRUE.values(), rng.uniform(10, 52, n), rng)
    z = simulate_gamma_gamma_spend(x, *TRUE_GG.values(), rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BetaGeoModel().fit(x, t_x, T), GammaGammaModel().fit(x, z), (x, t_x, T, z)


def test_log_gradient_is_exact_for_a_known_function() -> None:
    m, _, _ = _fit(500, 0)
    r, alpha = m.params_["r"], m.params_["alpha"]
    # d(r * alpha) / d log r = r * alpha, and the same for log alpha; a and b do not enter
    g = log_gradient(m, lambda mm: np.array([mm.params_["r"] * mm.params_["alpha"]]))
    np.testing.assert_allclose(g[:, 0], [r * alpha, r * alpha, 0.0, 0.0], rtol=1e-7, atol=1e-9)


def test_intervals_bracket_the_estimate_and_shrink_with_more_customers() -> None:
    widths = []
    for n in (600, 12_000):
        m, gg, (x, t_x, T, z) = _fit(n, 1)

        def p_alive(
            mm: BetaGeoModel, x: np.ndarray = x, t: np.ndarray = t_x, T: np.ndarray = T
        ) -> np.ndarray:
            return mm.probability_alive(x, t, T)

        p = p_alive(m)
        lo, hi = probability_interval(m, p_alive)
        assert ((lo <= p + 1e-12) & (p <= hi + 1e-12) & (lo >= 0) & (hi <= 1)).all()
        rep = x > 0
        widths.append(float(np.median((hi - lo)[rep])))
        assert (lo[~rep] == 1).all()  # BG/NBD: no repeat purchase means surely alive

        def purchases(
            mm: BetaGeoModel, x: np.ndarray = x, t: np.ndarray = t_x, T: np.ndarray = T
        ) -> np.ndarray:
            return customer_lifetime_value(mm, x, t, T, np.ones(len(x)), months=12)

        def spend(g: GammaGammaModel, x: np.ndarray = x, z: np.ndarray = z) -> np.ndarray:
            return g.conditional_expected_spend(x, z)

        v = purchases(m) * spend(gg)
        vlo, vhi = value_interval(v, [(m, purchases), (gg, spend)])
        assert ((vlo < v) & (v < vhi)).all()
    assert widths[1] < 0.5 * widths[0]


def test_interval_level_is_checked() -> None:
    m, _, (x, t_x, T, _) = _fit(300, 2)
    for bad in (0.0, 1.0, 90, "0.9"):
        with pytest.raises(ConfigError, match="level"):
            probability_interval(
                m,
                lambda mm: mm.probability_alive(x, t_x, T),
                level=bad,  # type: ignore[arg-type]
            )


@pytest.mark.slow
def test_intervals_cover_the_true_parameters_predictions_at_the_nominal_rate() -> None:
    """Coverage by simulation: 40 data sets drawn from known BG/NBD and Gamma-Gamma
    parameters; the 90 % intervals of P(alive) and 12-month value of every customer
    should contain the prediction made with the true parameters about 90 % of the time.
    """
    cover_p, cover_v = [], []
    for seed in range(40):
        m, gg, (x, t_x, T, z) = _fit(1000, 100 + seed)
        true_m = _with_params(m, np.array(list(TRUE.values())))
        true_gg = _with_params(gg, np.array(list(TRUE_GG.values())))

        def p_alive(
            mm: BetaGeoModel, x: np.ndarray = x, t: np.ndarray = t_x, T: np.ndarray = T
        ) -> np.ndarray:
            return mm.probability_alive(x, t, T)

        def purchases(
            mm: BetaGeoModel, x: np.ndarray = x, t: np.ndarray = t_x, T: np.ndarray = T
        ) -> np.ndarray:
            return customer_lifetime_value(mm, x, t, T, np.ones(len(x)), months=12)

        def spend(g: GammaGammaModel, x: np.ndarray = x, z: np.ndarray = z) -> np.ndarray:
            return g.conditional_expected_spend(x, z)

        lo, hi = probability_interval(m, p_alive)
        truth = p_alive(true_m)
        rep = x > 0  # P(alive) = 1 exactly otherwise, covered trivially
        cover_p.append(np.mean((truth[rep] >= lo[rep]) & (truth[rep] <= hi[rep])))
        vlo, vhi = value_interval(purchases(m) * spend(gg), [(m, purchases), (gg, spend)])
        tv = purchases(true_m) * spend(true_gg)
        cover_v.append(np.mean((tv >= vlo) & (tv <= vhi)))
    assert 0.8 <= float(np.mean(cover_p)) <= 0.97
    assert 0.8 <= float(np.mean(cover_v)) <= 0.97


def test_median_time_to_next_purchase_matches_simulation() -> None:
    """Lomax median of an active customer's wait, against draws of the posterior rate."""
    rng = np.random.default_rng(4)
    r, alpha = 0.8, 6.0
    x, T = np.array([0.0, 2.0, 10.0]), np.array([30.0, 20.0, 50.0])
    med = K.median_time_to_next_purchase(r, alpha, x, T)
    lam = rng.gamma(r + x[:, None], 1.0 / (alpha + T[:, None]), (3, 400_000))
    wait = rng.exponential(1.0, lam.shape) / lam
    np.testing.assert_allclose(np.median(wait, axis=1), med, rtol=0.02)


def test_customer_table_carries_intervals_and_next_purchase_dates(sim_ws: Workspace) -> None:
    res = analyze(sim_ws, holdout=None)
    c = res.to_frame()
    assert res.fit_quality.intervals_available
    assert res.interval_level == 0.9 and "delta method" in res.interval_method
    for col in ("p_alive", "clv"):
        lo, mid, hi = c[f"{col}_lower"], c[col], c[f"{col}_upper"]
        assert not (lo.isna() | hi.isna()).any()
        assert ((lo <= mid + 1e-9) & (mid <= hi + 1e-9)).all()
    assert (c["next_purchase_date"] > np.datetime64(res.observation_end)).all()
    # a customer who buys often is expected back sooner than one who bought once
    often = c.loc[c["frequency"] >= 5, "next_purchase_date"].median()
    once = c.loc[(c["frequency"] == 0) & (c["T"] > 30), "next_purchase_date"].median()
    assert often < once


def test_monthly_retention_carries_its_interval(sim_ws: Workspace) -> None:
    res = analyze(sim_ws, holdout=None)
    assert res.monthly_retention_interval is not None
    lo, hi = res.monthly_retention_interval
    assert 0 < lo < res.monthly_retention < hi < 1
    line = next(x for x in res.headline() if x.startswith("Monthly retention"))
    assert "90 % interval" in line
    f = next(f for f in res.findings() if f.metric == "customers.monthly_retention")
    assert f.context["lower"] == lo and f.context["upper"] == hi
    assert res.summary()["monthly_retention_lower"] == lo
