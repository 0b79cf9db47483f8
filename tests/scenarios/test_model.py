from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from levelfield.errors import (
    ConfigError,
    DataQualityWarning,
    InsufficientDataError,
    UnknownReferenceError,
)
from levelfield.scenarios import DEFAULT_ELASTICITY, Normal, build_model
from levelfield.workspace import Workspace


def test_model_reads_channels_fees_costs_and_profile(shop: Workspace) -> None:
    m = build_model(shop, horizon=12)
    assert m.channels == ("amazon", "etsy", "shopify")
    assert m.marketplace.tolist() == [True, True, False]
    # Fees were 15 %, 9.5 %, 3 % of gross; about 4 % of gross was refunded.
    assert m.take_rate == pytest.approx([0.15 / 0.96, 0.095 / 0.96, 0.03 / 0.96], rel=0.05)
    assert "exposure" in m.fee_source or "orders.fees" in m.fee_source
    assert m.cogs_ratio == pytest.approx(0.4)  # every product costs 40 % of its price
    assert m.countries == ("CN", "FR")
    assert m.foreign.tolist() == [True, False]
    assert m.has_alternative.tolist() == [False, True]
    assert m.country_weights.sum() == pytest.approx(1.0)
    assert m.wage_costs == pytest.approx(np.full(12, 1200.0))
    assert m.other_fixed == pytest.approx(np.full(12, 800.0))
    assert m.opening_cash == 20000 and m.debt == 30000 and m.interest_rate == 0.06
    assert m.months[0] == "2024-01"
    names = set(m.driver_names)
    assert {"demand.etsy", "retention", "refund_rate", "unit_cost", "fx", "fee_rate",
            "wages", "fixed_costs", "interest_rate", "elasticity"} <= names  # fmt: skip
    frame = m.drivers_frame()
    assert frame["provenance"].str.len().min() > 5
    assert frame["unit"].isin(["multiplier", "share", "points", "elasticity"]).all()


def test_baseline_revenue_is_close_to_last_year(shop: Workspace) -> None:
    m = build_model(shop, horizon=12)
    last_year = shop.con.execute(
        "SELECT CAST(sum(net_revenue) AS DOUBLE) FROM order_revenue "
        "WHERE ordered_at >= TIMESTAMP '2023-01-01'"
    ).fetchall()[0][0]
    assert m.baseline_frame()["revenue"].sum() == pytest.approx(last_year, rel=0.1)


def test_no_orders_and_short_history_raise(
    ws: Workspace, make_shop: Callable[..., Workspace]
) -> None:
    with pytest.raises(InsufficientDataError, match="import"):
        build_model(ws)
    with pytest.raises(InsufficientDataError, match="3 complete months"):
        build_model(make_shop(months=2))


@pytest.mark.parametrize("horizon", [0, -3, 1.5, "12", True, 500])
def test_bad_horizon(shop: Workspace, horizon: object) -> None:
    with pytest.raises(ConfigError, match="horizon"):
        build_model(shop, horizon=horizon)  # type: ignore[arg-type]


def test_missing_profile_and_costs_warn_and_are_noted(make_shop: Callable[..., Workspace]) -> None:
    w = make_shop(profile={"opening_cash": None, "debt": None, "interest_rate": None},
                  with_costs=False, with_products=False)  # fmt: skip
    with pytest.warns(DataQualityWarning) as rec:
        m = build_model(w)
    texts = " ".join(str(r.message) for r in rec)
    assert "opening cash" in texts and "no costs" in texts and "unit costs" in texts
    assert m.opening_cash == 0.0 and m.cogs_ratio == 0.0
    assert any("opening cash" in n for n in m.notes)
    assert "unit_cost" not in m.driver_names and "interest_rate" not in m.driver_names


def test_customers_and_pricing_runs_are_used(shop: Workspace) -> None:
    import datetime as dt

    now = dt.datetime(2024, 1, 1)
    shop.record_run("customers", {}, {"monthly_retention": 0.91}, now)
    shop.record_run("pricing", {}, {"elasticity": -2.2}, now)
    m = build_model(shop)
    r = m.drivers[m.driver_index("retention")]
    assert r.base == 0.91 and "customers run" in r.provenance
    e = m.drivers[m.driver_index("elasticity")]
    assert e.base == -2.2 and "pricing run" in e.provenance
    assert build_model(shop, elasticity=-0.8).drivers[m.driver_index("elasticity")].base == -0.8
    with pytest.raises(ConfigError, match="negative"):
        build_model(shop, elasticity=0.5)
    assert DEFAULT_ELASTICITY < 0


def test_driver_overrides_and_correlations(shop: Workspace) -> None:
    m = build_model(
        shop,
        drivers={"unit_cost": Normal(1.05, 0.02), "fx": {"kind": "uniform", "low": 0.9,
                                                        "high": 1.1, "persistence": 0.2}},
        correlations={("demand.etsy", "demand.amazon"): 0.9},
    )  # fmt: skip
    assert m.drivers[m.driver_index("unit_cost")].distribution == Normal(1.05, 0.02)
    assert m.drivers[m.driver_index("fx")].persistence == 0.2
    i, j = m.driver_index("demand.etsy"), m.driver_index("demand.amazon")
    assert m.rank_correlation[i, j] == 0.9
    with pytest.raises(UnknownReferenceError, match="demand.etsy"):
        build_model(shop, drivers={"demand.ebay": Normal(1, 0.1)})
    with pytest.raises(UnknownReferenceError, match="unknown driver"):
        build_model(shop, correlations={("fx", "weather"): 0.5})
    with pytest.raises(ConfigError, match="between -1 and 1|\\[-1, 1\\]"):
        build_model(shop, correlations={("fx", "unit_cost"): 1.5})
    with pytest.raises(ConfigError, match="sd must be > 0"):
        build_model(shop, drivers={"fx": {"kind": "normal", "mean": 1, "sd": 0}})


def test_contradictory_correlations_error_or_repair(shop: Workspace) -> None:
    bad = {
        ("demand.etsy", "demand.amazon"): 0.95,
        ("demand.etsy", "demand.shopify"): 0.95,
        ("demand.amazon", "demand.shopify"): -0.95,
    }
    with pytest.raises(ConfigError, match="positive semi-definite"):
        build_model(shop, correlations=bad)
    with pytest.warns(DataQualityWarning, match="nearest"):
        m = build_model(shop, correlations=bad, repair_correlation=True)
    assert np.linalg.eigvalsh(m.rank_correlation)[0] > -1e-9


def test_fee_rates_fall_back_to_the_orders_fees_column(shop: Workspace) -> None:
    from levelfield.scenarios._model import _take_rates

    notes: list[tuple[str, bool]] = []
    rates, source = _take_rates(shop, ["amazon", "etsy", "shopify", "pos"], "EUR", notes, False)
    assert rates[:3] == pytest.approx([0.15 / 0.96, 0.095 / 0.96, 0.03 / 0.96], rel=0.05)
    assert rates[3] == 0.0 and "orders.fees" in source
    assert any("pos" in n for n, _ in notes)
