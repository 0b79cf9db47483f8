"""The simulated history reproduces the parameters it was drawn from."""

from __future__ import annotations

import lifetimes
import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln, hyp2f1

from levelfield.demo import BGNBD, GAMMA_GAMMA, simulate
from levelfield.demo._catalog import CATEGORY_ELASTICITY, PRODUCTS
from levelfield.demo._simulate import N_DAYS, PILOT, PROMOTIONS, RETAIL, day_index
from levelfield.errors import ConfigError


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    return simulate(7, 10_000)


def _daily_summary(sim):  # type: ignore[no-untyped-def]
    """Per identified customer: repeat days x, recency t_x and age T in weeks."""
    ident = sim.customer >= 0
    frame = pd.DataFrame({"c": sim.customer[ident], "d": sim.day[ident]})
    g = frame.groupby("c")["d"]
    first, last, n_days = g.min(), g.max(), g.nunique()
    x = (n_days - 1).to_numpy()
    t_x = ((last - first) / 7.0).to_numpy()
    T = ((N_DAYS - 1 - first) / 7.0).to_numpy()
    return x, t_x, T


def _bgnbd_expected_x(r: float, alpha: float, a: float, b: float, t: np.ndarray) -> np.ndarray:
    """E[X(t)] of BG/NBD (Fader, Hardie & Lee 2005, eq. 9)."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_same_seed_same_history_other_seed_differs() -> None:
    a, b, c = simulate(3, 300), simulate(3, 300), simulate(4, 300)
    assert np.array_equal(a.day, b.day)
    assert np.array_equal(a.line_qty, b.line_qty)
    assert a.truth == b.truth
    assert not (a.day.shape == c.day.shape and np.array_equal(a.day, c.day))


@pytest.mark.parametrize("bad", [True, 1.5, "7", None])
def test_seed_must_be_an_integer(bad: object) -> None:
    with pytest.raises(ConfigError, match="seed"):
        simulate(bad, 1_000)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -5, 99, 2_000_000, 1e4, False])
def test_customer_count_is_checked(bad: object) -> None:
    with pytest.raises(ConfigError, match="n_customers"):
        simulate(7, bad)  # type: ignore[arg-type]


def test_at_most_one_order_per_customer_per_day(sim) -> None:  # type: ignore[no-untyped-def]
    ident = sim.customer >= 0
    key = sim.customer[ident].astype(np.int64) * (N_DAYS + 1) + sim.day[ident]
    assert np.unique(key).shape[0] == key.shape[0]
    # every identified customer buys exactly once on their acquisition day, in one channel
    per_customer = np.bincount(sim.customer[ident], minlength=sim.n_customers)
    assert per_customer.min() >= 1
    chan = pd.Series(sim.channel[ident]).groupby(sim.customer[ident]).nunique()
    assert chan.max() == 1


def test_repeat_purchases_match_bgnbd_expectation(sim) -> None:  # type: ignore[no-untyped-def]
    x, _, T = _daily_summary(sim)
    expected = _bgnbd_expected_x(BGNBD["r"], BGNBD["alpha"], BGNBD["a"], BGNBD["b"], T)
    # Var(X) is large (heavy-tailed); the sample mean of 10,000 customers is within a few %.
    assert x.mean() == pytest.approx(expected.mean(), rel=0.06)
    # merged same-day purchases are rare (they bias the count only slightly)
    assert sim.truth["customers"]["same_day_purchases_merged"] < 0.02 * x.sum()


def test_bgnbd_fit_recovers_parameters_lifetimes(sim) -> None:  # type: ignore[no-untyped-def]
    x, t_x, T = _daily_summary(sim)
    model = lifetimes.BetaGeoFitter(penalizer_coef=0.0)
    model.fit(x, t_x, T)
    fitted = model.params_
    # Parameters are individually weakly identified (alpha with r, a with b); their
    # ratios, the mean purchase rate r/alpha and mean drop-out a/(a+b), are sharp.
    assert fitted["r"] / fitted["alpha"] == pytest.approx(BGNBD["r"] / BGNBD["alpha"], rel=0.12)
    mean_p = fitted["a"] / (fitted["a"] + fitted["b"])
    assert mean_p == pytest.approx(BGNBD["a"] / (BGNBD["a"] + BGNBD["b"]), rel=0.25)
    assert fitted["r"] == pytest.approx(BGNBD["r"], rel=0.25)


def _gg_loglik(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> float:
    p, q, g = np.exp(params)
    ll = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + m * x)
    )
    return -float(ll.sum())


def test_order_values_follow_gamma_gamma(sim) -> None:  # type: ignore[no-untyped-def]
    from scipy.optimize import minimize

    gross = sim.order_gross()
    ident = sim.customer >= 0
    frame = pd.DataFrame({"c": sim.customer[ident], "v": gross[ident]})
    stats = frame.groupby("c")["v"].agg(["mean", "count"])
    stats = stats[stats["count"] >= 2]
    x, m = stats["count"].to_numpy(float), stats["mean"].to_numpy(float)
    res = minimize(_gg_loglik, np.log([2.0, 2.0, 10.0]), args=(x, m), method="Nelder-Mead",
                   options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-8})  # fmt: skip
    p, q, g = np.exp(res.x)
    true_mean = GAMMA_GAMMA["p"] * GAMMA_GAMMA["gamma"] / (GAMMA_GAMMA["q"] - 1)
    # Whole units add rounding noise within customers (p is lower), not between them.
    assert p * g / (q - 1) == pytest.approx(true_mean, rel=0.12)
    assert q == pytest.approx(GAMMA_GAMMA["q"], rel=0.35)
    assert gross[ident].mean() == pytest.approx(true_mean, rel=0.15)


def _poisson_fe(y: np.ndarray, X: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson regression by damped Newton steps: coefficients and standard errors."""

    def loglik(b: np.ndarray) -> float:
        eta = X @ b
        return float(np.sum(y * eta - np.exp(eta)))

    beta = start.astype(float).copy()
    ll = loglik(beta)
    for _ in range(100):
        mu = np.exp(X @ beta)
        step = np.linalg.solve((X * mu[:, None]).T @ X, X.T @ (y - mu))
        t = 1.0
        while loglik(beta + t * step) < ll - 1e-9 and t > 1e-6:
            t /= 2
        beta = beta + t * step
        new = loglik(beta)
        if abs(new - ll) < 1e-10 * (1 + abs(ll)):
            break
        ll = new
    mu = np.exp(X @ beta)
    cov = np.linalg.inv((X * mu[:, None]).T @ X)
    return beta, np.sqrt(np.abs(np.diag(cov)))


def test_posted_price_elasticities_are_recoverable(sim) -> None:  # type: ignore[no-untyped-def]
    """PPML of weekly units on log posted price, product and week fixed effects."""
    W, J = 156, len(sim.skus)
    wk = sim.day[sim.line_order] // 7
    keep = wk < W
    units = np.zeros((J, W))
    np.add.at(units, (sim.line_sku[keep], wk[keep]), sim.line_qty[keep])
    days = np.arange(W * 7)
    price = np.stack(
        [np.bincount(days // 7, weights=sim.prices[0, j, : W * 7]) / 7 for j in range(J)]
    )
    promo = np.zeros((J, W), dtype=bool)
    for pr in PROMOTIONS:
        j = sim.skus.index(pr["sku"])
        promo[j, day_index(pr["starts_on"]) // 7 : day_index(pr["ends_on"]) // 7 + 1] = True
    cats = sorted(CATEGORY_ELASTICITY)
    cat_of = np.array([cats.index(p.category) for p in PRODUCTS])
    jj, ww = np.meshgrid(np.arange(J), np.arange(W), indexing="ij")
    ok = ~promo.ravel()
    jj, ww = jj.ravel()[ok], ww.ravel()[ok]
    lp = np.log(price).ravel()[ok]
    slopes = (cat_of[jj][:, None] == np.arange(len(cats))[None, :]) * lp[:, None]
    X = np.hstack([slopes, np.eye(J)[jj], np.eye(W)[ww][:, 1:]])
    y = units.ravel()[ok]
    start = np.zeros(X.shape[1])
    start[len(cats) : len(cats) + J] = np.log(np.maximum(units.mean(axis=1), 0.5))
    beta, se = _poisson_fe(y, X, start)
    for k, cat in enumerate(cats):
        planted = np.mean(
            [sim.truth["pricing"]["elasticities"][p.sku] for p in PRODUCTS if p.category == cat]
        )
        assert abs(beta[k] - planted) < 3.5 * se[k] + 0.05, (cat, beta[k], planted, se[k])
        assert se[k] < 0.35, (cat, se[k])
        assert abs(planted - CATEGORY_ELASTICITY[cat]) < 0.3


def test_price_changes_are_staggered_and_pilot_is_planted(sim) -> None:  # type: ignore[no-untyped-def]
    changes = sim.truth["pricing"]["price_changes"]
    assert len(changes) == 2
    assert changes[0]["date"] != changes[1]["date"]
    assert set(changes[0]["prices"]) != set(changes[1]["prices"])
    ps, pe = day_index(PILOT["starts_on"]), day_index(PILOT["ends_on"])
    test, control = RETAIL.index(PILOT["test"]), RETAIL.index(PILOT["control"])
    pidx = [sim.skus.index(s) for s in PILOT["skus"]]
    ratio = sim.prices[test, pidx, ps : pe + 1] / sim.prices[control, pidx, ps : pe + 1]
    assert np.allclose(ratio, 1 + PILOT["price_change"], atol=0.002)
    outside = np.r_[0:ps, pe + 1 : N_DAYS]
    assert np.array_equal(sim.prices[test][:, outside], sim.prices[control][:, outside])
    others = [j for j in range(len(sim.skus)) if j not in pidx]
    assert np.array_equal(sim.prices[test, others], sim.prices[control, others])
    pilot = sim.truth["pricing"]["pilot"]
    e = np.mean([sim.truth["pricing"]["elasticities"][s] for s in PILOT["skus"]])
    assert pilot["true_elasticity"] == pytest.approx(e)
    assert pilot["expected_log_unit_change"] == pytest.approx(
        e * np.log(1 + PILOT["price_change"]) + pilot["budget_effect"]
    )
    assert abs(pilot["budget_effect"]) < 0.02


def test_channel_shares_and_refunds_are_realistic(sim) -> None:  # type: ignore[no-untyped-def]
    truth = sim.truth
    assert 0.45 <= truth["marketplace_share"] <= 0.6
    assert sum(c["share"] for c in truth["channels"].values()) == pytest.approx(1.0)
    assert 0.02 <= truth["refunds"]["rate"] <= 0.04
    assert truth["refunds"]["full"] > 0 and truth["refunds"]["partial"] > 0
    assert truth["customers"]["guest_orders"] > 0
    assert 30 <= truth["customers"]["mean_order_value"] <= 50
    # Nov-Dec acquisition peak
    month = (np.datetime64("2023-01-01") + sim.cust_first_day).astype("datetime64[M]").astype(
        int
    ) % 12
    per_month = np.bincount(month, minlength=12)
    assert per_month[10:].mean() > 1.4 * per_month[:10].mean()
