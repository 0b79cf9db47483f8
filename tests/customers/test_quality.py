"""Boundary and weakly identified fits are detected and never stated as 100 % or 0."""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield import Workspace, open_workspace
from levelfield.customers import (
    BetaGeoModel,
    CustomersResult,
    ParetoNBDModel,
    analyze,
    assess_fit,
    figures,
    simulate_bgnbd_summary,
    simulate_calibration_holdout,
    supported_horizon_months,
)
from levelfield.customers._quality import FitQuality
from levelfield.errors import ConfigError, ModelError

SHARED = Path(__file__).resolve().parents[3] / "shared"
ONLINE_RETAIL = SHARED / "data" / "online-retail" / "online_retail.parquet"
PEEPADS = SHARED / "data" / "wild-exports" / "shopify_peepads_USD_orders_export_1.csv"
DROPOUT_FINDINGS = {
    "customers.monthly_retention",
    "customers.value_at_risk_share",
    "customers.churn_leak",
}


def _no_dropout_data(n: int = 3000) -> tuple[np.ndarray, ...]:
    """Customers who never stop buying (Pareto/NBD with a vanishing death rate)."""
    rng = np.random.default_rng(8)
    T = rng.uniform(10.0, 52.0, n)
    params = {"r": 0.8, "alpha": 10.0, "s": 0.5, "beta": 1e7}
    x, t_x, T, _ = simulate_calibration_holdout("pareto_nbd", params, T, 1.0, rng)
    return x, t_x, T


@pytest.mark.parametrize("model", [BetaGeoModel, ParetoNBDModel])
def test_fit_without_dropout_is_reported_at_the_boundary(model: type) -> None:
    x, t_x, T = _no_dropout_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = model().fit(x, t_x, T)
    q = assess_fit(m, "test", x, T, 7.0, 12)
    assert q.status == "boundary" and not q.dropout_identified
    assert q.dropout_lr < 5.991  # the NBD (nobody leaves) fits as well
    assert not q.intervals_available
    text = " ".join(q.statements())
    assert "no measurable drop-out" in text and "cannot tell the monthly retention" in text


def test_sound_fit_is_ok_and_says_nothing() -> None:
    rng = np.random.default_rng(3)
    x, t_x, T = simulate_bgnbd_summary(8000, 0.8, 6.0, 0.6, 3.0, rng.uniform(20, 60, 8000), rng)
    m = BetaGeoModel().fit(x, t_x, T)
    q = assess_fit(m, "BG/NBD", x, T, 7.0, 12)
    assert q.dropout_lr > 100
    assert (q.status, q.weak_parameters, q.horizon_months) == ("ok", (), 12)
    assert q.dropout_identified and q.intervals_available
    assert q.statements() == []


class _Fitted:
    """A fitted count model reduced to what assess_fit reads (its Protocol)."""

    def __init__(self, se_b: float) -> None:
        self.params_ = {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}
        self.standard_errors_ = {"r": 0.05, "alpha": 0.4, "a": 0.1, "b": se_b}
        self.log_likelihood_ = 0.0  # far above the NBD on the data below

    def survival(self, dt: float, frequency: object, T: object) -> np.ndarray:
        return np.array([0.5])


def test_huge_standard_errors_mark_a_weak_fit() -> None:
    x, T = np.array([0.0, 1.0, 3.0]), np.array([20.0, 40.0, 52.0])
    q = assess_fit(_Fitted(se_b=9.0), "BG/NBD", x, T, 7.0, 12)
    assert q.status == "weak" and q.weak_parameters == ("b",)
    assert q.intervals_available  # the covariance exists; intervals are just wide
    assert "how quickly customers stop buying only roughly" in " ".join(q.statements())
    q = assess_fit(_Fitted(se_b=float("nan")), "BG/NBD", x, T, 7.0, 12)
    assert q.status == "weak" and not q.covariance_available and not q.intervals_available
    assert "not positive definite" in " ".join(q.statements())


def test_assess_fit_rejects_bad_history() -> None:
    with pytest.raises(ConfigError, match="ages T"):
        assess_fit(_Fitted(1.0), "BG/NBD", [0.0, 0.0], [0.0, 0.0], 7.0, 12)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 5000, allow_nan=False), st.integers(1, 600))
def test_supported_horizon_never_exceeds_request_or_twice_the_history(
    days: float, months: int
) -> None:
    h = supported_horizon_months(days, months)
    assert 1 <= h <= months
    assert h == 1 or h <= 2 * days / 30.4375 + 1e-9
    if 2 * days / 30.4375 >= months:
        assert h == months


def test_supported_horizon_rejects_bad_input() -> None:
    with pytest.raises(ConfigError):
        supported_horizon_months(10.0, 0)
    with pytest.raises(ConfigError):
        supported_horizon_months(float("nan"), 12)


def test_result_refuses_boundary_figures(sim_ws: Workspace) -> None:
    """The class of error is impossible: a boundary fit cannot carry a retention figure."""
    res = analyze(sim_ws, holdout=None)
    boundary = dataclasses.replace(res.fit_quality, status="boundary", dropout_identified=False)
    with pytest.raises(ModelError, match="no measurable drop-out"):
        dataclasses.replace(res, fit_quality=boundary)
    nan = float("nan")
    cust = res.customers.assign(p_alive=nan)
    with pytest.raises(ModelError, match="p_alive"):
        dataclasses.replace(
            res,
            fit_quality=boundary,
            monthly_retention=nan,
            value_at_risk=nan,
            value_at_risk_share=nan,
            churn_leak_share=nan,
            n_at_risk=None,
            churn_leak_customers=None,
        )
    with pytest.raises(ModelError, match="monthly_retention_interval"):
        dataclasses.replace(
            res,
            fit_quality=boundary,
            customers=cust,
            monthly_retention=nan,
            value_at_risk=nan,
            value_at_risk_share=nan,
            churn_leak_share=nan,
            n_at_risk=None,
            churn_leak_customers=None,
        )
    ok = dataclasses.replace(
        res,
        fit_quality=boundary,
        monthly_retention_interval=None,
        customers=cust,
        monthly_retention=nan,
        value_at_risk=nan,
        value_at_risk_share=nan,
        churn_leak_share=nan,
        n_at_risk=None,
        churn_leak_customers=None,
    )
    _assert_no_boundary_statements(ok)


_HUNDRED = re.compile(r"100(\.0)?\s?%")


def _assert_no_boundary_statements(res: CustomersResult) -> None:
    c = res.currency
    zero_money = re.compile(rf"{c} 0(?![\d.,])")
    said = res.headline() + [f.text for f in res.findings()]
    for line in said:
        assert not _HUNDRED.search(line), line
        assert not zero_money.search(line), line
        assert "from 0 repeat" not in line, line
    assert not DROPOUT_FINDINGS & {f.metric for f in res.findings()}
    fit = next(f for f in res.findings() if f.metric == "customers.model_fit")
    assert fit.value == 2.0 and "no measurable drop-out" in fit.text
    assert any("not measurable" in line for line in res.headline())
    chart = figures(res)["Chance each customer is still active"]
    assert len(chart.data) == 0  # no points, so no "100%" ticks
    assert "not measurable" in chart.layout.title.text
    s = res.summary()
    for key in ("monthly_retention", "value_at_risk", "value_at_risk_share", "n_at_risk"):
        assert s[key] is None, key
    assert res.to_frame()["p_alive"].isna().all()


@pytest.fixture(scope="module")
def uci(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    if not ONLINE_RETAIL.exists():
        pytest.skip("shared UCI Online Retail data not present")
    from levelfield.ingest import import_file

    w = open_workspace(tmp_path_factory.mktemp("uci") / "uci.duckdb")
    import_file(w, "orders", ONLINE_RETAIL)
    yield w
    w.close()


@pytest.mark.slow
def test_uci_online_retail_states_no_boundary_figures(uci: Workspace) -> None:
    """UCI Online Retail: BG/NBD and Pareto/NBD both fit at the no-drop-out boundary."""
    res = analyze(uci)
    assert res.fit_quality.status == "boundary"
    assert res.n_customers == 4324 and res.currency == "GBP"
    _assert_no_boundary_statements(res)
    # both models were compared on the holdout, and the choice is explained
    s = res.summary()
    assert s["model_choice"] == "holdout"
    assert s["holdout_rmse_bgnbd"] > 0 and s["holdout_rmse_pareto_nbd"] > 0
    assert "BG/NBD" in s["model_choice_reason"] and "Pareto/NBD" in s["model_choice_reason"]
    # what the data can tell is still told: value if customers keep buying, next dates
    c = res.to_frame()
    assert (c["clv"] > 0).all() and math.isfinite(res.clv_total)
    assert c["next_purchase_date"].notna().mean() > 0.9
    assert (c["next_purchase_date"] > np.datetime64(res.observation_end)).all()
    assert math.isfinite(res.monthly_active_retention)
    assert any("buy again the next month" in line for line in res.headline())


def test_short_history_shortens_and_flags_the_horizon(tmp_path: Path) -> None:
    """A 34-day Shopify export is not projected over 12 months."""
    if not PEEPADS.exists():
        pytest.skip("shared wild exports not present")
    from levelfield.ingest import import_file

    with open_workspace(tmp_path / "pp.duckdb") as w:
        import_file(w, "orders", PEEPADS)
        res = analyze(w)
    q = res.fit_quality
    assert round(q.history_days) == 34
    assert q.horizon_requested == 12 and res.horizon_months == q.horizon_months == 2
    assert q.horizon_shortened
    said = " ".join(res.headline())
    assert "only 34 days" in said and "instead of the 12 asked for" in said
    assert "next 12 months" not in said and "next 2 months" in said
    fit = next(f for f in res.findings() if f.metric == "customers.model_fit")
    assert fit.context["horizon_requested"] == 12 and fit.context["horizon_months"] == 2
    assert res.summary()["horizon_months"] == 2


def test_fit_quality_summary_is_json_ready() -> None:
    import json

    q = FitQuality("ok", "BG/NBD", 0.3, 80.0, 400.0, True, True, (), 12, 12)
    json.dumps(q.summary(), allow_nan=False)
    assert q.summary()["fit_statements"] == []


def test_nbd_likelihood_is_the_no_dropout_limit_of_bgnbd_and_pareto_nbd() -> None:
    from levelfield.customers import _kernels as K  # noqa: N812
    from levelfield.customers._quality import nbd_log_likelihood

    x, t_x, T = _no_dropout_data(800)
    best = nbd_log_likelihood(x, T)
    r, alpha = 0.8, 10.0
    nbd = K.nbd_loglik_total(r, alpha, K.factorize(x), K.factorize(T))[0]
    bg = K.bgnbd_loglik(r, alpha, 1e-12, 1.0, x, t_x, T)[0].sum()
    pareto = K.pareto_nbd_loglik(r, alpha, 1e-12, 1.0, x, t_x, T)[0].sum()
    assert nbd == pytest.approx(bg, rel=1e-9) and nbd == pytest.approx(pareto, rel=1e-9)
    assert best >= nbd  # the maximum is at least as high as any point


def test_an_estimated_share_is_never_rounded_to_100_percent(sim_ws: Workspace) -> None:
    from levelfield.customers._analyze import _share

    assert _share(0.9996, 1) == "more than 99.9%" and _share(0.996, 0) == "more than 99%"
    assert _share(0.0004, 1) == "less than 0.1%" and _share(0.5, 1) == "50.0%"
    assert _share(1.0, 1) == "100.0%"  # only an exact 1 is stated as 100 %
    res = analyze(sim_ws, holdout=None)
    high = dataclasses.replace(
        res, monthly_retention=0.99962, monthly_retention_interval=(0.9991, 0.99985)
    )
    said = high.headline() + [f.text for f in high.findings()]
    assert not any(_HUNDRED.search(line) for line in said), said
    assert any("more than 99.9%" in line for line in said)


def test_identical_customers_get_no_nan_figures_and_no_failed_analysis(ws: Workspace) -> None:
    """40 customers who all buy the same thing every 40 days: a fit that overflows is left out.

    The BG/NBD fit runs off to a limit where its predictions are not finite; it must be
    dropped from the holdout comparison (not chosen for an RMSE of NaN), the segments must
    still be formed, and no line may print "nan".
    """
    con = ws.con
    con.execute(
        "INSERT INTO imports VALUES (1, 'orders', 'test.csv', 'abc', 'test', 1, 1, 0, "
        "now()::TIMESTAMP, now()::TIMESTAMP, 'ok', NULL)"
    )
    con.execute(
        """INSERT INTO orders (order_id, customer_id, ordered_at, channel, currency, gross,
               discount, tax, shipping, refunded, status, import_id)
        SELECT 'o' || i, 'c' || (i % 40), TIMESTAMP '2024-01-01' + INTERVAL (i % 400) DAY,
               'shopify', 'EUR', 100, 10, 0, 0, 0, 'paid', 1
        FROM range(120) t(i)"""
    )
    con.execute(
        """INSERT INTO order_lines (order_id, line_no, sku, product, category, quantity,
               unit_price, list_price, discount, import_id)
        SELECT order_id, 1, 'SKU1', 'Mug', 'mugs', 2, 45, 50, 0, 1 FROM orders"""
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = analyze(ws)
    text = " ".join(result.headline()).lower()
    assert "nan" not in re.findall(r"[a-z]+", text)
    assert result.model_choice.chosen == "pareto_nbd"
    assert "bgnbd" not in result.model_choice.validations
    assert result.customers["cluster"].notna().all()
