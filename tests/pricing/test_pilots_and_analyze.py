"""Pilots read from the workspace, the analyze() contract, charts and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import statsmodels.formula.api as smf
from pricing_synth import START, demand_panel, insert, load

import levelfield.pricing as pricing
from levelfield import Workspace
from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.findings import Finding
from levelfield.workspace import to_json


def _store_pilot(
    ws: Workspace, *, looks: int = 1, sequential: bool = False, seed: int = 4
) -> pd.DataFrame:
    """8 stores, 24 weeks; test stores raise the price 10 % from week 12 (elasticity -1.5)."""
    rng = np.random.default_rng(seed)
    stores = [f"S{i}" for i in range(8)]
    test = set(stores[:4])
    wk = np.tile(np.arange(24), 8)
    st = np.repeat(stores, 24)
    treated = np.isin(st, list(test))
    post = wk >= 12
    lam = 40 * np.exp(rng.normal(0, 0.2, 8))[np.repeat(np.arange(8), 24)] * (1 + 0.01 * wk)
    lam = lam * np.where(treated & post, 1.1**-1.5, 1.0)
    units = rng.poisson(lam).astype(float)
    ids = [f"P{i:05d}" for i in range(units.size)]
    when = START + pd.to_timedelta(wk * 7 + 3, unit="D")
    price = np.where(treated & post, 11.0, 10.0)
    orders = pd.DataFrame(
        {
            "order_id": ids,
            "ordered_at": when,
            "channel": "square",
            "store": st,
            "currency": "EUR",
            "gross": units * price,
            "status": "paid",
            "import_id": 1,
        }
    )
    lines = pd.DataFrame(
        {
            "order_id": ids,
            "line_no": 1,
            "sku": "MUG",
            "product": "Mug",
            "category": "mugs",
            "quantity": units,
            "unit_price": price,
            "list_price": price,
            "import_id": 1,
        }
    )
    keep = units > 0
    insert(ws, "orders", orders.loc[keep])
    insert(ws, "order_lines", lines.loc[keep])
    start = (START + dt.timedelta(weeks=12)).date()
    pilots = pd.DataFrame(
        {
            "pilot_id": "mug-up",
            "name": "Mug +10%",
            "unit_type": "store",
            "unit": stores,
            "arm": ["test" if s in test else "control" for s in stores],
            "sku": "MUG",
            "starts_on": start,
            "ends_on": start + dt.timedelta(weeks=12) - dt.timedelta(days=1),
            "price_change": 0.10,
            "sequential": sequential,
            "looks": looks,
            "import_id": 1,
        }
    )
    insert(ws, "pilots", pilots)
    return pd.DataFrame(
        {
            "y": units,
            "treated": treated.astype(float),
            "post": post.astype(float),
            "unit": st,
            "week": wk,
        }
    )


def test_store_pilot_did_matches_statsmodels_ols_with_interaction(ws: Workspace) -> None:
    truth = _store_pilot(ws)
    # DiD uses 12 pre-weeks (as many as the pilot lasts)
    m = smf.ols("y ~ treated * post", truth).fit(
        cov_type="cluster", cov_kwds={"groups": truth["unit"]}, use_t=True
    )
    pilots, notes = pricing.analyze_pilots(ws.con)
    assert notes == [] and len(pilots) == 1
    p = pilots[0]
    assert (p.n_test, p.n_control, p.weeks_before, p.weeks_after) == (4, 4, 12, 12)
    assert p.units.effect == pytest.approx(m.params["treated:post"], rel=1e-9)
    assert p.units.se == pytest.approx(m.bse["treated:post"], rel=1e-7)
    lo, hi = m.conf_int().loc["treated:post"]
    assert (p.units.ci_low, p.units.ci_high) == pytest.approx((lo, hi), rel=1e-7)
    assert p.units.relative_effect == pytest.approx(1.1**-1.5 - 1, abs=0.05)
    assert p.implied_elasticity == pytest.approx(-1.5, abs=0.6)
    assert not p.peeking and p.design == "fixed"


def test_peeking_pilot_is_flagged_with_a_wider_interval(ws: Workspace) -> None:
    _store_pilot(ws, looks=4)
    (p,), _ = pricing.analyze_pilots(ws.con)
    assert p.peeking and p.design == "pocock"
    assert p.false_positive_rate == pytest.approx(0.126, abs=1e-3)
    # widened on the scale of the one read the pilot is reported by
    assert p.adjusted_ci_high - p.adjusted_ci_low > p.read.ci_high - p.read.ci_low
    alo, ahi = p.adjusted_relative_ci
    assert alo < p.relative_ci[0] < p.relative_ci[1] < ahi


def _disagreeing_pilot(ws: Workspace, seed: int = 7, test_sells: str = "always") -> None:
    """One test channel against one control channel, 8 + 8 weeks, a big control arm:
    the DiD in levels and the proportional DiD disagree (as on the demo's Etsy pilot)."""
    rng = np.random.default_rng(seed)
    wk = np.tile(np.arange(16), 2)
    unit = np.repeat(["etsy", "shopify"], 16)
    test = unit == "etsy"
    post = wk >= 8
    lam = np.where(test, 25.0, 90.0) * (1 + 0.25 * np.sin(wk)) * np.where(test & post, 0.75, 1.0)
    units = np.maximum(rng.poisson(lam), 1).astype(float)
    sells = {"always": True, "never": False, "after": post}[test_sells]
    units = np.where(test & ~sells, 0.0, units)
    ids = [f"E{i:04d}" for i in range(units.size)]
    orders = pd.DataFrame(
        {
            "order_id": ids,
            "ordered_at": START + pd.to_timedelta(wk * 7 + 2, unit="D"),
            "channel": unit,
            "currency": "USD",
            "gross": units * 18.0,
            "status": "paid",
            "import_id": 1,
        }
    )
    lines = pd.DataFrame(
        {
            "order_id": ids,
            "line_no": 1,
            "sku": "BLEND",
            "product": "Blend",
            "category": "coffee",
            "quantity": units,
            "unit_price": 18.0,
            "list_price": 18.0,
            "import_id": 1,
        }
    )
    insert(ws, "orders", orders.loc[units > 0])
    insert(ws, "order_lines", lines.loc[units > 0])
    start = (START + dt.timedelta(weeks=8)).date()
    pilots = pd.DataFrame(
        {
            "pilot_id": "etsy-up",
            "name": "Etsy +10%",
            "unit_type": "channel",
            "unit": ["etsy", "shopify"],
            "arm": ["test", "control"],
            "sku": "BLEND",
            "starts_on": start,
            "ends_on": start + dt.timedelta(weeks=8) - dt.timedelta(days=1),
            "price_change": [0.10, 0.0],
            "import_id": 1,
        }
    )
    insert(ws, "pilots", pilots)


def test_pilot_headline_finding_and_chart_come_from_one_read(ws: Workspace) -> None:
    # issue 15: the headline read "units -26 % (95 % CI -41 % to -7 %)" from the
    # proportional DiD while the finding judged "not distinguishable from no effect"
    # from the DiD in levels
    _disagreeing_pilot(ws)
    (p,), notes = pricing.analyze_pilots(ws.con)
    assert notes == []
    assert p.proportional is not None and p.read is p.proportional
    lvl_sig = p.units.ci_low > 0 or p.units.ci_high < 0
    assert p.significant != lvl_sig  # the two estimators disagree on this pilot
    load(ws, demand_panel(2, [-0.8, -1.6], n_weeks=40, base_units=100, levels=(0.9, 1.0, 1.1)))
    res = pricing.analyze(ws)
    assert [q.read.effect for q in res.pilots] == [p.read.effect]
    head = [line for line in res.headline() if line.startswith("Pilot")]
    (finding,) = [f for f in res.findings() if f.metric == "pricing.pilot_effect"]
    verdict = "a real effect" if p.significant else "not distinguishable from no effect"
    rlo, rhi = p.relative_ci
    ci = f"(95 % CI {rlo:+.0%} to {rhi:+.0%})"
    for text in (head[0], finding.text):
        assert verdict in text and ci in text and f"{p.relative_effect:+.0%}" in text
    assert finding.context["significant"] == p.significant
    assert finding.value == pytest.approx(p.relative_effect)
    u, ulo, uhi = p.unit_effect
    assert ulo < u < uhi and (ulo > 0 or uhi < 0) == p.significant
    assert u == pytest.approx(p.proportional.counterfactual * p.relative_effect)
    bar = pricing.pilot_chart(res).data[0]
    assert bar.x[0] == pytest.approx(100 * p.relative_effect)
    assert bar.x[0] - bar.error_x.arrayminus[0] == pytest.approx(100 * rlo)


def test_period_and_customer_pilots_and_a_broken_one(ws: Workspace) -> None:
    d = demand_panel(8, [-1.2], n_weeks=20, base_units=50, promo_prob=0.0, levels=(1.0,))
    load(ws, d)
    weeks = [(START + dt.timedelta(weeks=k)).date() for k in range(8, 16)]
    period = pd.DataFrame(
        {
            "pilot_id": "alt",
            "name": "alternating weeks",
            "unit_type": "period",
            "unit": [w.isoformat() for w in weeks],
            "arm": ["test", "control"] * 4,
            "sku": "SKU000",
            "starts_on": weeks[0],
            "ends_on": weeks[-1],
            "price_change": 0.05,
            "sequential": False,
            "looks": 1,
            "import_id": 1,
        }
    )
    insert(ws, "pilots", period)
    cust = [f"c_{i:020x}" for i in range(40)]
    orders = pd.DataFrame(
        {
            "order_id": [f"C{i}" for i in range(40)],
            "customer_id": cust,
            "ordered_at": [pd.Timestamp(weeks[2]) + pd.Timedelta(days=1)] * 40,
            "channel": "shopify",
            "currency": "USD",
            "gross": 10.0,
            "status": "paid",
            "import_id": 1,
        }
    )
    buys = np.arange(40) % 3 != 0
    lines = pd.DataFrame(
        {
            "order_id": orders["order_id"][buys],
            "line_no": 1,
            "sku": "NEW",
            "quantity": 1.0,
            "unit_price": 10.0,
            "list_price": 10.0,
            "import_id": 1,
        }
    )
    insert(ws, "orders", orders)
    insert(ws, "order_lines", lines)
    cp = pd.DataFrame(
        {
            "pilot_id": "cust",
            "name": "email offer",
            "unit_type": "customer",
            "unit": cust,
            "arm": ["test"] * 20 + ["control"] * 20,
            "sku": "NEW",
            "starts_on": weeks[0],
            "ends_on": weeks[-1],
            "price_change": None,
            "sequential": True,
            "looks": 2,
            "import_id": 1,
        }
    )
    insert(ws, "pilots", cp)
    bad = pd.DataFrame(
        {
            "pilot_id": "bad",
            "name": "typo",
            "unit_type": "store",
            "unit": ["A", "B"],
            "arm": ["test", "treatment"],
            "sku": None,
            "starts_on": weeks[0],
            "ends_on": weeks[-1],
            "price_change": None,
            "sequential": False,
            "looks": 1,
            "import_id": 1,
        }
    )
    insert(ws, "pilots", bad)
    pilots, notes = pricing.analyze_pilots(ws.con)
    by = {p.pilot_id: p for p in pilots}
    assert set(by) == {"alt", "cust"}
    assert any("'bad'" in n and "arms" in n for n in notes)
    alt = by["alt"]
    assert (
        alt.n_test == 4
        and alt.n_control == 4
        and alt.units.ci_low < alt.units.effect < alt.units.ci_high
    )
    c = by["cust"]
    assert c.conversion is not None
    assert c.conversion.visitors_test == 20 and c.conversion.sequential
    assert 0 <= c.conversion.probability_to_beat <= 1
    assert c.design == "obrien_fleming" and not c.peeking


def test_analyze_contract_records_run_and_is_json_safe(ws: Workspace) -> None:
    d = demand_panel(
        2,
        [-0.6, -1.8, -3.0, -1.2],
        n_weeks=80,
        base_units=200,
        noise_sd=0.05,
        levels=(0.8, 0.9, 1.0, 1.1, 1.2),
    )
    load(ws, d)
    _store_pilot(ws, looks=3)
    res = pricing.analyze(ws, max_step=0.15)
    assert isinstance(res, pricing.PricingResult)
    run = ws.latest_run("pricing")
    assert run is not None and run["params"]["max_step"] == 0.15
    json.loads(to_json(res.summary()))
    assert run["summary"]["products"] == res.summary()["products"] == 5
    tables = res.tables()
    assert set(tables) == {
        "recommendations",
        "elasticities",
        "category_elasticities",
        "channel_prices",
        "pilots",
        "weekly_panel",
    }
    assert all(isinstance(t, pd.DataFrame) for t in tables.values())
    assert len(res.to_frame()) == 5
    lines = res.headline()
    assert lines and all(isinstance(x, str) for x in lines)
    metrics = {f.metric for f in res.findings()}
    assert {
        "pricing.median_elasticity",
        "pricing.elastic_share",
        "pricing.recommended_profit_gain",
        "pricing.pilot_effect",
        "pricing.pilot_peeking",
    } <= metrics
    assert all(isinstance(f, Finding) and f.metric.startswith("pricing.") for f in res.findings())
    assert all(np.isfinite(f.value) for f in res.findings())
    figs = pricing.figures(res)
    assert list(figs) == [
        "Price recommendations",
        "Price elasticity by product",
        "Demand curves",
        "Pilot results",
    ]
    assert all(isinstance(f, go.Figure) for f in figs.values())
    assert len(pricing.demand_curve_chart(res, ["SKU000"]).data) == 2
    with pytest.raises(ConfigError):
        pricing.figures("not a result")  # type: ignore[arg-type]


def test_no_costs_still_shows_elasticities_and_says_costs_are_needed(ws: Workspace) -> None:
    d = demand_panel(
        6,
        [-0.6, -2.5, -1.8],
        n_weeks=80,
        base_units=200,
        noise_sd=0.05,
        levels=(0.8, 0.9, 1.0, 1.1, 1.2),
    )
    load(ws, d, with_costs=False)
    res = pricing.analyze(ws)
    assert res.elasticities["elasticity"].notna().all()
    rec = res.recommendations.set_index("sku")
    assert rec["reasons"].str.contains("needs_unit_cost").all()
    assert np.isnan(rec.at["SKU001", "recommended_price"])
    f = {x.metric: x for x in res.findings()}
    assert f["pricing.no_costs"].value == 3
    assert any("unit cost" in line for line in res.headline())
    assert "pricing.recommended_profit_gain" not in f


def test_competitor_price_index_sets_limits(ws: Workspace) -> None:
    d = demand_panel(6, [-0.5, -0.7], n_weeks=60, base_units=200, levels=(0.8, 1.0, 1.2))
    load(ws, d)
    comp = pd.DataFrame(
        {
            "competitor_id": ["me", "a", "b"],
            "name": ["Me", "A", "B"],
            "is_self": [True, False, False],
            "attributes": [
                '{"price_index": "100"}',
                '{"price_index": "104"}',
                '{"price_index": "90"}',
            ],
            "import_id": 1,
        }
    )
    insert(ws, "competitors", comp)
    assert pricing.competitor_price_range(ws.con) == ((0.9, 1.04), None)
    res = pricing.analyze(ws, price_endings=())
    rec = res.recommendations
    # inelastic demand: the target is the competitor-implied ceiling itself
    assert (rec["basis"] == "inelastic_to_ceiling").all()
    np.testing.assert_allclose(rec["ceiling"], rec["current_price"] * 1.04)
    # exact prices are whole cents: the largest one at or below the ceiling
    np.testing.assert_allclose(rec["recommended_price"], np.floor(rec["ceiling"] * 100) / 100)
    assert (rec["revenue_change_year"] > 0).all()


def test_analyze_bad_parameters(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="personalised"):
        pricing.analyze(ws, personalize_by="age")
    with pytest.raises(TypeError, match="max_stepp"):
        pricing.analyze(ws, max_stepp=0.1)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="max_step"):
        pricing.analyze(ws, max_step=-1)
    with pytest.raises(ConfigError, match="baseline_weeks"):
        pricing.analyze(ws, baseline_weeks=0)
    with pytest.raises(ConfigError, match="guardrails"):
        pricing.analyze(ws, guardrails={"max_step": 0.1})  # type: ignore[arg-type]
    with pytest.raises(InsufficientDataError):
        pricing.analyze(ws)


def test_methods_references_and_metrics_are_documented() -> None:
    assert len(pricing.METHODS) > 200 and len(pricing.REFERENCES) >= 10
    for metric in (
        "pricing.median_elasticity",
        "pricing.elastic_share",
        "pricing.recommended_profit_gain",
        "pricing.pilot_effect",
        "pricing.no_costs",
    ):
        assert metric in (pricing.__doc__ or "")


def test_cli_analyze_pricing_prints_recommendations(ws: Workspace) -> None:
    from typer.testing import CliRunner

    from levelfield.cli import app

    d = demand_panel(9, [-0.6, -2.2], n_weeks=60, base_units=200, levels=(0.8, 1.0, 1.2))
    load(ws, d)
    path = ws.path
    ws.close()
    out = CliRunner().invoke(app, ["analyze", "pricing", "--workspace", str(path)])
    assert out.exit_code == 0, out.output
    assert "elasticity" in out.output and "reasons" in out.output


def test_pilot_that_cannot_be_estimated_is_said_so_and_stays_json_safe(ws: Workspace) -> None:
    # issue 16 item 12: the demo without its Etsy export made the Etsy pilots' numbers
    # NaN, and recording the findings raised "Out of range float values are not JSON
    # compliant"
    _disagreeing_pilot(ws, test_sells="never")
    pilots, notes = pricing.analyze_pilots(ws.con)
    assert pilots == []
    assert notes == [
        "pilot 'etsy-up' not analysed: the test arm (etsy) has no sales of BLEND from "
        "2023-01-02 to 2023-04-23, so its effect cannot be estimated; import that unit's "
        "orders or check that the pilot's unit names match the orders"
    ]
    load(ws, demand_panel(2, [-0.8, -1.6], n_weeks=40, base_units=100, levels=(0.9, 1.0, 1.1)))
    res = pricing.analyze(ws)
    assert res.pilots == () and res.pilots_not_analysed == tuple(notes)
    assert any(line.startswith("Pilot 'etsy-up' not analysed") for line in res.headline())
    assert json.loads(to_json(res.summary()))["pilots_not_analysed"] == notes


def test_pilot_without_a_baseline_has_no_share_and_json_safe_findings(ws: Workspace) -> None:
    _disagreeing_pilot(ws, test_sells="after")  # the test arm sold only during the pilot
    load(ws, demand_panel(2, [-0.8, -1.6], n_weeks=40, base_units=100, levels=(0.9, 1.0, 1.1)))
    res = pricing.analyze(ws)
    (p,) = res.pilots
    assert p.proportional is None and p.read is p.units
    assert np.isnan(p.relative_effect) and np.isnan(p.implied_elasticity)
    (f,) = [f for f in res.findings() if f.metric == "pricing.pilot_effect"]
    assert f.unit == "count" and np.isfinite(f.value)
    assert "no baseline sales to express it as a share" in f.text
    assert "no implied elasticity" in f.text
    assert f.context["relative_ci"] == [None, None] and f.context["implied_elasticity"] is None
    for g in res.findings():
        json.loads(to_json(g.context))  # no NaN/inf reaches what is recorded
    summary = json.loads(to_json(res.summary()))
    assert summary["pilots"][0]["relative_effect"] is None
    run = ws.latest_run("pricing")
    assert run is not None and run["summary"]["pilots"][0]["implied_elasticity"] is None
