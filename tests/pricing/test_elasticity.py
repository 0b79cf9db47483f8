"""Elasticity estimation on synthetic workspaces with known answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pricing_synth import START, demand_panel, insert, load, to_tables

from levelfield import Workspace
from levelfield.errors import (
    ConfigError,
    DataQualityWarning,
    InsufficientDataError,
    InsufficientPriceVariation,
    NotFittedError,
    SchemaError,
    UnknownReferenceError,
)
from levelfield.pricing import ElasticityModel, analyze, product_slopes, weekly_panel

TRUE = [-0.6, -1.8, -3.0]
LEVELS = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)


def _known(seed: int = 11, **kw: object) -> pd.DataFrame:
    return demand_panel(
        seed,
        TRUE * 3,
        categories=["a"] * 3 + ["b"] * 3 + ["c"] * 3,
        n_weeks=156,
        base_units=400,
        noise_sd=0.05,
        levels=LEVELS,
        **kw,  # type: ignore[arg-type]
    )


def test_known_elasticities_recovered_within_0_1(ws: Workspace) -> None:
    load(ws, _known())
    res = analyze(ws)
    est = res.elasticities.set_index("sku")
    truth = pd.Series(TRUE * 3, index=[f"SKU{i:03d}" for i in range(9)])
    assert (est["status"] == "estimated").all()
    np.testing.assert_allclose(est.loc[truth.index, "elasticity"], truth, atol=0.1)
    np.testing.assert_allclose(est.loc[truth.index, "elasticity_raw"], truth, atol=0.1)
    # every 95 % interval is a real interval around the estimate
    assert (est["ci_low"] < est["elasticity"]).all() and (est["elasticity"] < est["ci_high"]).all()
    # promotion lift (true 0.4 in logs) and the pooled slope (mean of the truths)
    assert res.promo_effect == pytest.approx(0.4, abs=0.05)
    assert res.pooled.elasticity == pytest.approx(np.mean(TRUE), abs=0.2)
    assert res.elasticity("SKU002") == pytest.approx(-3.0, abs=0.1)
    # the headline says how far to trust the estimates: here, tightly
    first = res.headline()[0]
    spread = float(((res.estimated["ci_high"] - res.estimated["ci_low"]) / 2).median())
    assert f"Half of these estimates are uncertain by more than ±{spread:.2f} (95 %)." in first
    assert spread < 0.2 and "too uncertain" not in first


def test_headline_says_when_the_estimates_are_too_uncertain_to_act_on(ws: Workspace) -> None:
    """26 weeks of a few noisy units: the estimates exist, but their intervals are wide,
    and the headline says so instead of stating the median alone."""
    load(ws, demand_panel(3, [-1.0, -2.0, -1.5], n_weeks=26, base_units=3.0, noise_sd=0.8))
    res = analyze(ws)
    assert len(res.estimated) >= 1
    spread = float(((res.estimated["ci_high"] - res.estimated["ci_low"]) / 2).median())
    assert spread > 1
    assert "too uncertain to act on alone; a price pilot would tell" in res.headline()[0]


def _tier_tables(seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Retail orders of 1-10 units plus trade orders with volume-tier discounts.

    Retail and trade demand both respond to the posted price with elasticity -0.8
    (through the number of retail orders and the size of trade orders). The realized
    price falls with order size (10 % off from 10 units, 25 % off from 50), so weeks
    with a trade order have many units at a low average realized price.
    """
    rng = np.random.default_rng(seed)
    weeks, products = 208, 6
    rows = []
    for i in range(products):  # a few products; orders are generated vectorized per product
        base = 15.0 + 5 * i
        mult = np.repeat(rng.choice([0.85, 0.95, 1.05, 1.15], size=weeks // 6 + 1), 6)[:weeks]
        posted = np.round(base * mult, 2)
        n_orders = rng.poisson(30 * mult**-0.8)
        wk = np.repeat(np.arange(weeks), n_orders)
        qty = rng.integers(1, 10, wk.size).astype(float)
        trade_wk = np.flatnonzero(rng.random(weeks) < 0.3)
        trade = np.round(rng.integers(150, 300, trade_wk.size) * mult[trade_wk] ** -0.8)
        wk = np.concatenate([wk, trade_wk])
        qty = np.concatenate([qty, trade])
        disc = np.where(qty >= 50, 0.25, np.where(qty >= 10, 0.10, 0.0))
        rows.append(
            pd.DataFrame(
                {
                    "sku": f"T{i}",
                    "week_no": wk,
                    "quantity": qty,
                    "posted": posted[wk],
                    "unit": np.round(posted[wk] * (1 - disc), 2),
                }
            )
        )
    d = pd.concat(rows, ignore_index=True)
    ids = [f"V{i:07d}" for i in range(len(d))]
    orders = pd.DataFrame(
        {
            "order_id": ids,
            "ordered_at": START + pd.to_timedelta(d["week_no"] * 7 + 1, unit="D"),
            "channel": "shopify",
            "currency": "USD",
            "gross": d["quantity"] * d["posted"],
            "status": "paid",
            "import_id": 1,
        }
    )
    lines = pd.DataFrame(
        {
            "order_id": ids,
            "line_no": 1,
            "sku": d["sku"],
            "product": d["sku"],
            "category": "tiers",
            "quantity": d["quantity"],
            "unit_price": d["unit"],
            "list_price": d["posted"],
            "import_id": 1,
        }
    )
    return orders, lines


def test_volume_tiers_bias_the_naive_regression_but_not_the_posted_price_one(ws: Workspace) -> None:
    orders, lines = _tier_tables()
    insert(ws, "orders", orders)
    insert(ws, "order_lines", lines)
    res = analyze(ws)
    table = res.elasticities.set_index("sku")
    est, se = table["elasticity_raw"].to_numpy(), table["se_raw"].to_numpy()
    assert abs(est.mean() + 0.8) < 0.15  # unbiased on average
    assert np.all(np.abs(est + 0.8) < 3.5 * se)  # each within its own noise
    # naive: weekly units on the average realized price, same fixed effects
    panel = weekly_panel(ws.con).panel
    panel = panel.loc[panel["quantity"] > 0]
    p_codes, _ = pd.factorize(panel["sku"], sort=True)
    t_codes, _ = pd.factorize(panel["week"], sort=True)
    naive = product_slopes(
        np.log(panel["quantity"].to_numpy()),
        np.log(panel["realized_price"].to_numpy()),
        p_codes.astype(np.intp),
        t_codes.astype(np.intp),
        n_products=int(p_codes.max()) + 1,
        n_weeks=int(t_codes.max()) + 1,
    )
    assert naive.slope.mean() < -1.6  # badly biased: looks twice as elastic as it is
    assert abs(naive.slope.mean() + 0.8) > 5 * abs(est.mean() + 0.8)
    # tier discounts on a minority of lines do not make promotion weeks
    assert res.panel["promo"].mean() < 0.05


def test_zero_sales_weeks_use_poisson_pml(ws: Workspace) -> None:
    truth = np.array([-1.5, -2.5] * 4)
    d = demand_panel(
        3, truth, n_weeks=208, base_units=1.5, noise_sd=0.0, levels=LEVELS, promo_prob=0.0
    )
    assert (d["quantity"] == 0).mean() > 0.05
    load(ws, d)
    res = analyze(ws)
    est = res.elasticities.set_index("sku")
    many_zeros = est["zero_weeks"] >= 0.1 * est["weeks"]
    assert many_zeros.sum() >= 6
    assert (est.loc[many_zeros, "estimator"] == "ppml").all()
    err_ppml = est["elasticity_ppml"].to_numpy() - truth
    err_ols = est["elasticity_ols"].to_numpy() - truth
    assert abs(err_ppml.mean()) < 0.2
    assert np.all(np.abs(err_ppml) < 3.5 * est["se_ppml"].to_numpy())
    # the log-log fit on selling weeks alone is attenuated toward zero by the dropped zeros
    assert err_ols.mean() > 0.3 and abs(err_ols.mean()) > 2 * abs(err_ppml.mean())


def test_stockouts_are_flagged_and_excluded(ws: Workspace) -> None:
    d = _known(13)
    out = d.index[(d["sku"] == "SKU001") & d["week_no"].between(50, 53) & ~d["promo"]]
    d.loc[out, "quantity"] = 0.0
    load(ws, d)
    res = analyze(ws)
    row = res.elasticities.set_index("sku").loc["SKU001"]
    assert row["stockout_weeks"] == len(out)
    assert row["elasticity"] == pytest.approx(-1.8, abs=0.1)
    assert any("stock-outs" in n for n in res.notes)
    assert not res.panel.loc[res.panel["stockout"], "used"].any()


def test_quantity_outliers_are_pulled_in_and_reported(ws: Workspace) -> None:
    d = _known(17)
    spikes = d.index[(d["sku"] == "SKU000") & d["week_no"].isin([20, 70, 120])]
    d.loc[spikes, "quantity"] *= 40
    load(ws, d)
    res = analyze(ws)
    row = res.elasticities.set_index("sku").loc["SKU000"]
    assert row["outlier_weeks"] >= 3
    assert row["elasticity"] == pytest.approx(-0.6, abs=0.1)
    assert any("unusual quantities" in n for n in res.notes)


def test_single_price_point_and_one_week_product_get_no_number(ws: Workspace) -> None:
    d = _known(19)
    flat = d["sku"] == "SKU004"
    d.loc[flat, "posted"] = 12.5
    load(ws, d)
    one = demand_panel(2, [-1.0], n_weeks=1, base_units=30).assign(sku="ONCE")
    o, ln, _ = to_tables(one)
    insert(ws, "orders", o.assign(order_id="X" + o["order_id"]))
    insert(ws, "order_lines", ln.assign(order_id="X" + ln["order_id"]))
    res = analyze(ws)
    est = res.elasticities.set_index("sku")
    assert est.at["SKU004", "status"] == "insufficient_price_variation"
    assert (
        "distinct posted price" in est.at["SKU004", "reason"]
        or "varied by only" in est.at["SKU004", "reason"]
    )
    assert np.isnan(est.at["SKU004", "elasticity"])
    assert est.at["ONCE", "status"] == "too_few_weeks"
    with pytest.raises(InsufficientPriceVariation, match="pilot"):
        res.elasticity("SKU004")
    with pytest.raises(InsufficientPriceVariation):
        res.elasticity("ONCE")
    with pytest.raises(UnknownReferenceError):
        res.elasticity("NOPE")
    rec = res.recommendations.set_index("sku")
    assert rec.at["SKU004", "reasons"] == "no_elasticity" and np.isnan(
        rec.at["SKU004", "recommended_price"]
    )
    assert any(f.metric == "pricing.insufficient_variation" for f in res.findings())
    # the other products are unaffected
    assert est.at["SKU002", "elasticity"] == pytest.approx(-3.0, abs=0.1)


def test_zero_and_negative_prices_are_left_out_with_a_warning(ws: Workspace) -> None:
    d = _known(23)
    orders, lines, products = to_tables(d)
    lines.loc[lines.index[:5], "unit_price"] = 0.0
    lines.loc[lines.index[5:8], "list_price"] = -3.0
    insert(ws, "orders", orders)
    insert(ws, "order_lines", lines)
    insert(ws, "products", products)
    with pytest.warns(DataQualityWarning, match="8 order line"):
        res = analyze(ws)
    assert any("zero or negative price" in n for n in res.notes)
    assert res.elasticity("SKU001") == pytest.approx(-1.8, abs=0.1)


def test_partial_pooling_pulls_a_thin_product_toward_its_category() -> None:
    d = _known(29)
    d = d.loc[(d["sku"] != "SKU006") | (d["week_no"] < 40)].copy()  # thin product
    panel = pd.DataFrame(
        {
            "sku": d["sku"],
            "category": d["category"],
            "week": START + pd.to_timedelta(d["week_no"] * 7, unit="D"),
            "quantity": d["quantity"],
            "posted_price": d["posted"],
            "promo": d["promo"],
        }
    )
    m = ElasticityModel().fit(panel)
    est = m.elasticities_.set_index("sku")
    thin, thick = est.loc["SKU006"], est.loc["SKU000"]
    assert thin["own_weight"] < thick["own_weight"] <= 1.0
    assert thin["se"] < thin["se_raw"]
    cat_mean = m.categories_.set_index("category").at["c", "mean_elasticity"]
    lo, hi = sorted([thin["elasticity_raw"], cat_mean])
    assert lo - 1e-9 <= thin["elasticity"] <= hi + 1e-9
    assert m.predict("SKU000", [10.0, 20.0])[0] > m.predict("SKU000", [10.0, 20.0])[1]
    unpooled = ElasticityModel(shrink=False).fit(panel).elasticities_.set_index("sku")
    assert unpooled.at["SKU006", "elasticity"] == pytest.approx(
        unpooled.at["SKU006", "elasticity_raw"]
    )


def test_elasticity_model_bad_input() -> None:
    with pytest.raises(NotFittedError):
        ElasticityModel().elasticity("A")
    with pytest.raises(ConfigError, match="DataFrame"):
        ElasticityModel().fit([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="posted_price"):
        ElasticityModel().fit(
            pd.DataFrame({"sku": ["a"], "week": [dt.date(2024, 1, 1)], "quantity": [1]})
        )
    with pytest.raises(ConfigError, match="estimator"):
        ElasticityModel(estimator="magic").fit(pd.DataFrame())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="min_distinct_prices"):
        ElasticityModel(min_distinct_prices=1).fit(pd.DataFrame())
    bad = pd.DataFrame(
        {
            "sku": ["a", "a"],
            "week": [dt.date(2024, 1, 1)] * 2,
            "quantity": [np.nan, -1.0],
            "posted_price": [0.0, np.nan],
        }
    )
    with pytest.raises(InsufficientDataError, match="positive posted price"):
        ElasticityModel().fit(bad)
    d = _known(31)
    panel = pd.DataFrame(
        {
            "sku": d["sku"],
            "week": START + pd.to_timedelta(d["week_no"] * 7, unit="D"),
            "quantity": d["quantity"],
            "posted_price": d["posted"],
        }
    )
    m = ElasticityModel().fit(panel)
    with pytest.raises(ConfigError, match="positive"):
        m.predict("SKU000", [-1.0])


def test_empty_workspace_says_what_to_import(ws: Workspace) -> None:
    with pytest.raises(InsufficientDataError, match="import orders"):
        analyze(ws)
