"""``analyze`` on small workspaces whose answers are known by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from exposure_helpers import business, insert, order

import levelfield.exposure as ex
from levelfield import Workspace
from levelfield.errors import (
    ConfigError,
    DataError,
    InsufficientDataError,
    UnknownReferenceError,
)
from levelfield.findings import Finding


def _shop(ws: Workspace) -> None:
    """Customers 50/30/20 over three channels; two suppliers, one in a risky country."""
    insert(
        ws,
        "orders",
        [
            order("o1", "shopify", 50.0, customer="a", fees=1.75, day=1),
            order("o2", "etsy", 30.0, customer="b", day=2),
            order("o3", "wholesale", 20.0, customer="c", day=3),
            order("o4", "shopify", 10.0, customer=None, day=4),
        ],
    )
    insert(
        ws,
        "order_lines",
        [
            {"order_id": "o1", "line_no": 1, "sku": "tea", "quantity": 5, "unit_price": 10.0},
            {"order_id": "o2", "line_no": 1, "sku": "mug", "quantity": 3, "unit_price": 10.0},
            {"order_id": "o3", "line_no": 1, "sku": "tea", "quantity": 2, "unit_price": 10.0},
            {"order_id": "o4", "line_no": 1, "sku": "pot", "quantity": 1, "unit_price": 10.0},
        ],
    )
    insert(
        ws,
        "products",
        [
            {"sku": "tea", "category": "tea", "unit_cost": 4.0, "supplier_id": "ET1"},
            {"sku": "mug", "category": "ware", "unit_cost": 5.0, "supplier_id": "DE1"},
            {"sku": "pot", "category": "ware", "unit_cost": 5.0, "supplier_id": "DE1"},
        ],
    )
    insert(
        ws,
        "suppliers",
        [
            {
                "supplier_id": "ET1",
                "country": "ET",
                "annual_spend": 800.0,
                "lead_time_days": 120,
                "alternatives": "none",
            },
            {
                "supplier_id": "DE1",
                "country": "DE",
                "annual_spend": 200.0,
                "lead_time_days": 9,
                "alternatives": "2",
            },
            {"supplier_id": "NEW", "country": "DE", "annual_spend": 0.0, "lead_time_days": 5},
        ],
    )
    insert(
        ws,
        "channels",
        [
            {"channel": "shopify", "platform": "Shopify", "fee_profile": "shopify_payments_basic"},
            {"channel": "etsy", "platform": "Etsy", "fee_profile": "etsy_standard"},
            {"channel": "wholesale", "platform": "wholesale", "fee_profile": "none"},
        ],
    )


def test_concentration_by_hand(ws: Workspace) -> None:
    _shop(ws)
    r = ex.analyze(ws)
    c = r.concentration.set_index("dimension")
    # identified customers 50/30/20 (the guest order is left out of customer shares)
    assert c.loc["customer", "hhi"] == pytest.approx(3800.0)
    assert c.loc["customer", "top1_share"] == pytest.approx(0.5)
    assert c.loc["customer", "top5_share"] == pytest.approx(1.0)
    assert c.loc["customer", "top20pct_share"] == pytest.approx(0.5)  # ceil(0.6) = 1 customer
    # channels: shopify 60, etsy 30, wholesale 20 of 110
    shares = np.array([60, 30, 20]) / 110
    assert c.loc["channel", "hhi"] == pytest.approx(10_000 * (shares**2).sum())
    assert c.loc["channel", "band"] == "high"
    # products: tea 70, mug 30, pot 10 of 110
    assert c.loc["product", "hhi"] == pytest.approx(
        10_000 * ((np.array([70, 30, 10]) / 110) ** 2).sum()
    )
    # supplier spend 800/200 (zero-spend supplier left out); both DE suppliers in one country
    assert c.loc["supplier", "hhi"] == pytest.approx(6400 + 400)
    assert c.loc["supplier", "n"] == 2
    assert c.loc["supplier_country", "hhi"] == pytest.approx(6800.0)
    assert r.metrics["identified_revenue_share"] == pytest.approx(100 / 110)


def test_suppliers_single_source_and_country_share(ws: Workspace) -> None:
    _shop(ws)
    r = ex.analyze(ws)
    # tea (70 of 110 line revenue) comes from ET1, which has no alternatives
    assert r.metrics["single_source_share"] == pytest.approx(70 / 110)
    assert r.metrics["country_cogs_share_max"] == pytest.approx(0.8)
    top = r.countries.iloc[0]
    assert top["country"] == "ET"
    risk = ex.country_risk_table().set_index("country")["risk"]
    assert r.metrics["spend_weighted_country_risk"] == pytest.approx(
        0.8 * risk["ET"] + 0.2 * risk["DE"]
    )
    s = r.suppliers.set_index("supplier_id")
    et = s.loc["ET1"]
    assert et["c_spend_share"] == pytest.approx(80.0)
    assert et["c_lead_time"] == pytest.approx(100.0)  # 120 days >= 90
    assert et["c_alternatives"] == pytest.approx(100.0)
    assert et["c_revenue_dependence"] == pytest.approx(100 * 70 / 110)
    assert et["risk_score"] == pytest.approx(np.mean([risk["ET"], 80, 100, 100 * 70 / 110, 100]))
    assert s.loc["DE1", "c_alternatives"] == pytest.approx(100 / 3)
    assert s.loc["NEW", "spend_share"] == 0.0  # zero spend: kept, no share
    assert any("zero or unknown spend" in n for n in r.notes)
    f = {x.metric: x for x in r.findings()}
    assert f["exposure.country_cogs_share_max"].context["country"] == "ET"
    assert f["exposure.country_cogs_share_max"].severity == "warning"


def test_fees_margin_and_data_ownership(ws: Workspace) -> None:
    _shop(ws)
    r = ex.analyze(ws)
    ch = r.channels.set_index("channel")
    # shopify: 1.75 actual on o1 + schedule on o4 (2.9% x 10 + 0.30 = 0.59), revenue 60
    assert ch.loc["shopify", "fee_rate"] == pytest.approx((1.75 + 0.59) / 60)
    assert ch.loc["shopify", "fee_source"] == "actual + schedule"
    # etsy 30 with one line of 3 units: 3 x 0.20 + 6.5% x 30 + 3% x 30 + 0.25 = 3.7
    assert ch.loc["etsy", "fee_rate"] == pytest.approx(3.7 / 30)
    assert not ch.loc["etsy", "owns_customer"]
    assert r.metrics["data_ownership_share"] == pytest.approx(80 / 110)
    assert r.metrics["platform_share_max"] == pytest.approx(30 / 110)
    fees = 1.75 + 0.59 + 3.7
    cogs = 7 * 4.0 + 3 * 5.0 + 1 * 5.0
    assert r.metrics["gross_margin_rate"] == pytest.approx(1 - cogs / 110)
    assert r.metrics["fee_drag"] == pytest.approx(fees / (110 - cogs))
    f = {x.metric: x for x in r.findings()}
    assert f["exposure.platform_share_max"].context["channel"] == "etsy"
    assert f["exposure.data_ownership_share"].value == pytest.approx(80 / 110)


def test_own_store_whatif_matches_hand_solution(ws: Workspace) -> None:
    _shop(ws)
    r = ex.analyze(ws, shift_share=0.5, conversion_loss=0.2, own_store_fee_rate=0.03)
    w = r.whatif.iloc[0]
    assert w["channel"] == "etsy"
    years = 3 / 365.25  # orders span day 1 .. day 4 = 4 days
    annual = 30 / (4 / 365.25)
    g = 1 - 48 / 110
    fp = 3.7 / 30
    moved = 0.5 * annual
    assert w["moved_revenue"] == pytest.approx(moved)
    assert w["margin_gained"] == pytest.approx(moved * 0.8 * (g - 0.03) - moved * (g - fp))
    assert w["breakeven_conversion_loss"] == pytest.approx(1 - (g - fp) / (g - 0.03))
    assert years > 0


def test_diversification_finds_the_obvious_best_move(ws: Workspace) -> None:
    insert(ws, "orders", [order("o1", "shopify", 100.0)])
    insert(
        ws,
        "order_lines",
        [{"order_id": "o1", "line_no": 1, "sku": "x", "quantity": 1, "unit_price": 100.0}],
    )
    insert(
        ws,
        "products",
        [
            {"sku": "x", "category": "c", "unit_cost": 10.0, "supplier_id": "BIG"},
            {"sku": "y", "category": "c", "unit_cost": 12.0, "supplier_id": "SAFE"},
            {"sku": "z", "category": "c", "unit_cost": 9.0, "supplier_id": "RISKY"},
        ],
    )
    insert(
        ws,
        "suppliers",
        [
            {
                "supplier_id": "BIG",
                "country": "ET",
                "annual_spend": 900.0,
                "alternatives": "SAFE;RISKY",
            },
            {"supplier_id": "SAFE", "country": "DE", "annual_spend": 50.0},
            {"supplier_id": "RISKY", "country": "ET", "annual_spend": 50.0},
        ],
    )
    insert(ws, "channels", [{"channel": "shopify", "fee_profile": "none"}])
    r = ex.analyze(ws, diversify_share=0.5)
    d = r.diversification
    best = d.iloc[0]
    assert (best["from_supplier"], best["to_supplier"]) == ("BIG", "SAFE")
    assert best["lowers_risk"]
    # move 450: shares .9/.05 -> .45/.5 ; HHI change 2m(s_to - s_from) + 2m^2 with m = .45
    assert best["delta_supplier_hhi"] == pytest.approx(
        10_000 * (2 * 0.45 * (0.05 - 0.9) + 2 * 0.45**2)
    )
    assert best["cost_difference"] == pytest.approx(450 * (12 / 10 - 1))
    # the same-country move lowers supplier HHI but not country risk: ranked after
    second = d.iloc[1]
    assert second["to_supplier"] == "RISKY" and not second["lowers_risk"]
    assert second["delta_country_hhi"] == 0.0


def test_unknown_supplier_country_raises_with_near_matches(ws: Workspace) -> None:
    insert(ws, "orders", [order("o1", "shopify", 10.0)])
    insert(ws, "channels", [{"channel": "shopify", "fee_profile": "none"}])
    insert(ws, "suppliers", [{"supplier_id": "A", "country": "Vietnum", "annual_spend": 1.0}])
    with pytest.raises(UnknownReferenceError, match=r"Vietnum.*Viet Nam \(VN\)"):
        ex.analyze(ws)


def test_country_risk_override_is_used(ws: Workspace) -> None:
    insert(ws, "orders", [order("o1", "shopify", 10.0)])
    insert(ws, "channels", [{"channel": "shopify", "fee_profile": "none"}])
    insert(ws, "suppliers", [{"supplier_id": "A", "country": "VN", "annual_spend": 1.0}])
    r = ex.analyze(ws, country_risk={"VN": 12.5})
    assert r.countries.loc[0, "risk"] == 12.5
    assert r.countries.loc[0, "risk_source"] == "user"


def test_negative_supplier_spend_is_a_data_error(ws: Workspace) -> None:
    insert(ws, "orders", [order("o1", "shopify", 10.0)])
    insert(ws, "channels", [{"channel": "shopify", "fee_profile": "none"}])
    insert(ws, "suppliers", [{"supplier_id": "A", "country": "DE", "annual_spend": -5.0}])
    with pytest.raises(DataError, match="annual_spend is negative.*A"):
        ex.analyze(ws)


def test_burden_and_scorecard(ws: Workspace) -> None:
    _shop(ws)
    business(
        ws, employees=8, capabilities=["crm", "analytics", "online_ordering", "bogus"], country="US"
    )
    r = ex.analyze(ws)
    b = r.burden.iloc[0]
    assert b["size_band"] == "small" and b["cost_per_employee"] == 11724
    assert b["cost"] == pytest.approx(8 * 11724)
    assert b["excess_over_large"] == pytest.approx(8 * (11724 - 9083))
    # 93,792 a year against 10,044 of annualized sales: a cost 9.3 times the revenue is
    # no share a going business carries, so it is not stated (the cost itself is)
    assert math.isnan(r.metrics["compliance_cost_share"])
    note = next(n for n in r.notes if "compliance cost" in n and "times the revenue" in n)
    assert "9.3 times" in note and "not all of the business's revenue" in note
    assert "exposure.compliance_cost_share" not in {f.metric for f in r.findings()}
    assert r.metrics["compliance_cost"] == pytest.approx(8 * 11724)
    assert r.metrics["digital_capabilities"] == pytest.approx(0.3)
    sc = r.scorecard.set_index("indicator")
    assert sc.loc["digital_capabilities", "score"] == pytest.approx(30.0)
    assert sc.loc["customer_top1_share", "score"] == 0.0  # 50% >= 20% bad anchor
    assert math.isnan(sc.loc["scale_gap", "score"])  # no benchmarks given: not measured
    dims = r.dimensions.set_index("dimension")
    assert dims.loc["technological", "score"] == pytest.approx(30.0)
    assert dims["weakest"].sum() == 2
    econ = sc[sc["dimension"] == "economic"]["score"].dropna()
    assert dims.loc["economic", "score"] == pytest.approx(econ.mean())
    weakest = next(f for f in r.findings() if f.metric == "exposure.scorecard_weakest")
    assert weakest.context["dimension"] in set(dims.index[dims["weakest"]])


def test_burden_band_by_employees(ws: Workspace) -> None:
    _shop(ws)
    business(ws, employees=60)
    assert ex.analyze(ws).burden.iloc[0]["size_band"] == "medium"


def test_scale_gap_from_benchmarks(ws: Workspace) -> None:
    _shop(ws)
    # tea costs 4.00 against a large-firm 3.20 (7 units); mug 5.00 against 5.00 (3 units)
    r = ex.analyze(ws, unit_cost_benchmarks={"tea": 3.2, "mug": 5.0})
    assert r.metrics["scale_gap"] == pytest.approx((7 * 4 + 3 * 5) / (7 * 3.2 + 3 * 5) - 1)


@pytest.mark.parametrize(
    ("indicator", "good", "bad"),
    [(i.name, i.good, i.bad) for i in ex.INDICATORS],
)
def test_each_scorecard_indicator_at_its_boundaries(
    indicator: str, good: float, bad: float
) -> None:
    from levelfield.exposure._scorecard import score_indicators

    for value, expected in ((good, 100.0), (bad, 0.0), ((good + bad) / 2, 50.0)):
        table, _ = score_indicators({indicator: value})
        row = table.set_index("indicator").loc[indicator]
        assert row["score"] == pytest.approx(expected)
        assert isinstance(row["reference"], str) and len(row["reference"]) > 20
    beyond = good - (bad - good)  # past the good anchor: still 100, never above
    table, _ = score_indicators({indicator: beyond})
    assert table.set_index("indicator").loc[indicator, "score"] == 100.0


def test_run_is_recorded_and_outputs_follow_the_contract(ws: Workspace) -> None:
    _shop(ws)
    r = ex.analyze(ws)
    run = ws.latest_run("exposure")
    assert run is not None and run["params"]["shift_share"] == 0.2
    assert run["summary"]["metrics"]["customer_hhi"] == pytest.approx(3800.0)
    json.dumps(r.summary(), allow_nan=False)
    assert isinstance(r.to_frame(), pd.DataFrame) and len(r.to_frame()) == len(ex.INDICATORS)
    assert {"scorecard", "channels", "suppliers", "diversification"} <= set(r.tables())
    lines = r.headline()
    assert lines and all(isinstance(x, str) for x in lines)
    assert any("Fee schedule checked" in x for x in lines)
    fs = r.findings()
    # exposure also counts the revenue whose origin the provenance log documents, under
    # the provenance package's own finding id (docs/contracts.md)
    assert all(
        isinstance(f, Finding)
        and (f.metric.startswith("exposure.") or f.metric == "provenance.documented_revenue_share")
        for f in fs
    )
    assert len({f.metric for f in fs}) == len(fs)
    figs = ex.figures(r)
    assert list(figs) == ["Asymmetry scorecard", "Concentration", "Fee drag", "Supplier countries"]
    assert all(isinstance(f, go.Figure) for f in figs.values())
    assert (
        r.concentration_top.query("dimension == 'customer'")["key"]
        .str.startswith("customer #")
        .all()
    )


def test_empty_workspace_says_what_to_import(ws: Workspace) -> None:
    with pytest.raises(InsufficientDataError, match="levelfield import orders"):
        ex.analyze(ws)


def test_orders_only_workspace_works(ws: Workspace) -> None:
    insert(
        ws, "orders", [order("o1", "shopify", 10.0), order("o2", "wholesale", 30.0, customer="z")]
    )
    insert(
        ws,
        "channels",
        [
            {"channel": "shopify", "fee_profile": "stripe_standard"},
            {"channel": "wholesale", "fee_profile": "none"},
        ],
    )
    r = ex.analyze(ws)
    assert math.isnan(r.metrics["supplier_hhi"])
    assert r.suppliers.empty and r.diversification.empty
    assert math.isnan(r.metrics["fee_drag"])  # no unit costs
    assert r.dimensions.loc[r.dimensions["dimension"] == "technological", "score"].isna().all()
    json.dumps(r.summary(), allow_nan=False)
    assert ex.figures(r)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"shift_share": 1.5}, "shift_share"),
        ({"conversion_loss": -0.1}, "conversion_loss"),
        ({"conversion_loss": float("nan")}, "conversion_loss"),
        ({"diversify_share": "half"}, "diversify_share"),
        ({"own_store_fee_rate": 1.0}, "own_store_fee_rate"),
        ({"n_suggestions": -1}, "n_suggestions"),
        ({"compliance_study": "foo"}, "compliance_study"),
        ({"country_risk": [1, 2]}, "country_risk"),
        ({"unit_cost_benchmarks": {"tea": -1.0}}, "unit_cost_benchmarks"),
        ({"shift_channel": "etsyy"}, "did you mean etsy"),
    ],
)
def test_bad_parameters(ws: Workspace, params: dict[str, object], match: str) -> None:
    _shop(ws)
    with pytest.raises(ConfigError, match=match):
        ex.analyze(ws, **params)


def test_a_misspelt_parameter_or_setting_names_the_right_one(ws: Workspace) -> None:
    _shop(ws)
    with pytest.raises(TypeError, match="shift_chanel"):
        ex.analyze(ws, shift_chanel="etsy")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="did you mean exposure.shift_channel"):
        ws.settings.set("exposure.shift_chanel", "etsy", by="test")


def test_bad_employees_value(ws: Workspace) -> None:
    _shop(ws)
    business(ws, employees=-3)
    with pytest.raises(DataError, match="employees"):
        ex.analyze(ws)


def test_methods_and_references_are_listed() -> None:
    assert isinstance(ex.METHODS, str) and len(ex.REFERENCES) >= 5
