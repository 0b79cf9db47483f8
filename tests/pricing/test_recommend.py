"""Guardrails: order, reason codes and expected effects on constructed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levelfield.errors import ConfigError
from levelfield.pricing import GUARDRAIL_ORDER, REASON_CODES, Guardrails, recommend_prices


def _one(**kw: float | str) -> pd.DataFrame:
    row = {
        "sku": "A",
        "current_price": 10.0,
        "unit_cost": 5.0,
        "elasticity": -2.0,
        "se": 0.1,
        "baseline_units": 100.0,
        "name": "A",
        "category": "x",
    }
    row.update(kw)
    return pd.DataFrame([row])


def _rec(products: pd.DataFrame, g: Guardrails | None = None, **kw: object) -> pd.Series:
    out, _ = recommend_prices(products, g, **kw)  # type: ignore[arg-type]
    return out.iloc[0]


def test_margin_optimal_price_inside_all_limits_has_no_reason() -> None:
    # c e / (1 + e) = 5 * -2 / -1 = 10.0 -> already optimal: no change, no guardrail
    r = _rec(_one(current_price=9.5))
    assert r["basis"] == "margin_optimal" and r["target_price"] == pytest.approx(10.0)
    assert r["recommended_price"] == pytest.approx(10.0) and r["reasons"] == ""


def test_max_step_then_price_ending_in_documented_order() -> None:
    # target 16 from 10: held to +10 % (11.00), an allowed whole ending
    r = _rec(_one(unit_cost=8.0))
    assert r["target_price"] == pytest.approx(16.0)
    assert r["recommended_price"] == pytest.approx(11.0)
    assert r["reasons"] == "max_step"
    g = Guardrails(price_endings=(".99",))
    r = _rec(_one(unit_cost=8.0), g)
    assert r["recommended_price"] == pytest.approx(10.99)  # within the step, ending .99
    assert r["reasons"] == "max_step;price_ending"


def test_ceiling_bounds_inelastic_move_and_min_margin_overrides_it() -> None:
    g = Guardrails(ceiling={"A": 10.5}, price_endings=())
    r = _rec(_one(elasticity=-0.5), g)
    assert r["basis"] == "inelastic_to_ceiling"
    assert (
        r["recommended_price"] == pytest.approx(10.5) and r["reasons"] == ""
    )  # target is the ceiling
    g = Guardrails(ceiling={"A": 10.2}, price_endings=(), max_step=0.5)
    r = _rec(_one(elasticity=-0.5, unit_cost=9.8), g)
    # min margin 10 % needs 9.8 / 0.9 = 10.89 > ceiling 10.2: no price satisfies both
    assert np.isnan(r["recommended_price"]) and bool(r["withheld"])
    assert r["reasons"] == "withheld;ceiling;min_margin"
    assert np.isnan(r["profit_change_year"])
    g = Guardrails(ceiling={"A": 10.2}, price_endings=(), max_step=0.05)
    r = _rec(_one(elasticity=-2.0, unit_cost=9.0), g)
    # target 18; the tightest upper bound is the ceiling 10.2 (step allows 10.5)
    assert r["recommended_price"] == pytest.approx(10.2)
    assert r["reasons"] == "ceiling"


def test_floor_from_competitor_index_and_reason_order() -> None:
    # elastic, low cost: optimum 4.0 -> step 9.0 -> competitor floor 0.95*10
    r = _rec(
        _one(unit_cost=2.0), Guardrails(price_endings=(".99", ".95")), competitor_range=(0.95, 1.2)
    )
    assert r["recommended_price"] == pytest.approx(9.95)
    assert r["floor"] == pytest.approx(9.5) and r["ceiling"] == pytest.approx(12.0)
    codes = r["reasons"].split(";")
    assert codes == ["floor", "price_ending"]  # the floor 9.5 binds, not the step's 9.0
    order = {"floor": "floor_ceiling", "ceiling": "floor_ceiling"}
    ranks = [GUARDRAIL_ORDER.index(order.get(c, c)) for c in codes]
    assert ranks == sorted(ranks)
    assert all(c in REASON_CODES for c in codes)


def test_price_endings_never_break_the_margin_floor() -> None:
    g = Guardrails(price_endings=("whole",), min_margin=0.5, max_step=0.2)
    r = _rec(_one(current_price=10.3, unit_cost=5.1, elasticity=-0.5), g)
    # inelastic: up to the step 12.36; whole 12.0 is inside every limit
    assert r["recommended_price"] == pytest.approx(12.0)
    assert r["reasons"] == "max_step;price_ending"
    # margin needs 10.2 above today's 9.60; the nearest whole 10.0 breaks it: 11.0
    r = _rec(_one(current_price=9.6, unit_cost=5.1, elasticity=-3.0), g)
    assert r["target_price"] == pytest.approx(7.65)
    assert r["recommended_price"] == pytest.approx(11.0)
    assert r["reasons"] == "min_margin;price_ending"
    # from 10.30 the target is below but the margin stops at 10.2: no whole price
    # between them, and rounding up would move against the target: withheld
    r = _rec(_one(current_price=10.3, unit_cost=5.1, elasticity=-3.0), g)
    assert np.isnan(r["recommended_price"])
    assert r["reasons"] == "withheld;min_margin;price_ending"
    # no whole price within a zero step: withheld, never moved outside the step
    g0 = Guardrails(price_endings=("whole",), min_margin=0.5, max_step=0.0)
    r = _rec(_one(current_price=10.3, unit_cost=5.1, elasticity=-0.5), g0)
    assert np.isnan(r["recommended_price"])
    assert r["reasons"] == "withheld;max_step;price_ending"
    # an elastic product whose rounded move would lose profit keeps today's price
    r = _rec(_one(current_price=11.0, unit_cost=5.5, elasticity=-2.0), g)
    assert r["target_price"] == pytest.approx(11.0)
    assert r["recommended_price"] == pytest.approx(11.0) and r["profit_change_year"] == 0


def test_channel_parity_and_fairness() -> None:
    chan = pd.DataFrame(
        {"sku": ["A", "A"], "channel": ["shopify", "amazon"], "posted_price": [10.0, 13.0]}
    )
    out, table = recommend_prices(
        _one(unit_cost=8.0), Guardrails(channel_parity=0.1), channel_prices=chan
    )
    assert out.iloc[0]["recommended_price"] == pytest.approx(11.0)
    assert "channel_parity" in out.iloc[0]["reasons"]
    amazon = table.set_index("channel").loc["amazon"]
    # amazon would keep its ratio (14.30); parity holds it to 12.10, whole ending 12.00
    assert amazon["recommended_price"] == pytest.approx(12.0)
    assert amazon["reason"] == "price_ending;channel_parity"
    g = Guardrails(segment_discounts={"students": 0.1})
    out, table = recommend_prices(_one(unit_cost=8.0), g)
    assert out.iloc[0]["reasons"].endswith("fairness") and table.empty
    g = Guardrails(segment_discounts={"students": 0.1}, allow_segment_discounts=True)
    out, table = recommend_prices(_one(unit_cost=8.0), g)
    seg = table.set_index("segment").loc["students"]
    assert seg["recommended_price"] == pytest.approx(max(11.0 * 0.9, 8.0 / 0.9), abs=0.01)
    assert "fairness" not in out.iloc[0]["reasons"]


def test_no_cost_elastic_needs_cost_inelastic_still_moves() -> None:
    both = pd.concat(
        [_one(unit_cost=np.nan), _one(sku="B", name="B", elasticity=-0.4, unit_cost=np.nan)]
    )
    out, _ = recommend_prices(both)
    a, b = out.iloc[0], out.iloc[1]
    assert np.isnan(a["recommended_price"]) and "needs_unit_cost" in a["reasons"]
    assert b["recommended_price"] == pytest.approx(11.0) and "needs_unit_cost" in b["reasons"]
    assert np.isnan(b["profit_change_year"]) and b["revenue_change_year"] > 0


def test_expected_effects_and_band_from_standard_error() -> None:
    r = _rec(_one(unit_cost=8.0, se=0.2))
    q1 = 100 * (11 / 10) ** -2.0
    assert r["units_change_year"] == pytest.approx((q1 - 100) * 52)
    assert r["revenue_change_year"] == pytest.approx((11 * q1 - 1000) * 52)
    assert r["profit_change_year"] == pytest.approx(((11 - 8) * q1 - 2 * 100) * 52)
    for k in ("units", "revenue", "profit"):
        assert r[f"{k}_change_year_low"] <= r[f"{k}_change_year"] <= r[f"{k}_change_year_high"]
    wide = _rec(_one(unit_cost=8.0, se=0.6))
    assert (wide["profit_change_year_high"] - wide["profit_change_year_low"]) > (
        r["profit_change_year_high"] - r["profit_change_year_low"]
    )


def test_keep_current_price_when_rounding_makes_the_move_worse() -> None:
    r = _rec(_one(current_price=10.1, unit_cost=5.0, elasticity=-2.0))  # target 10.0
    assert r["recommended_price"] == pytest.approx(10.0) or "keep_current" in r["reasons"]
    assert r["profit_change_year"] >= 0


def test_no_elasticity_row_gets_no_price() -> None:
    r = _rec(_one(elasticity=np.nan, se=np.nan))
    assert np.isnan(r["recommended_price"]) and r["reasons"] == "no_elasticity"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_step": -0.1},
        {"max_step": "10%"},
        {"min_margin": 1.0},
        {"price_endings": (".97",)},
        {"floor": {"A": 12.0}, "ceiling": {"A": 10.0}},
        {"floor": {"A": -1.0}},
        {"floor": [10.0]},
        {"segment_discounts": {"x": 1.5}},
        {"channel_parity": float("nan")},
    ],
)
def test_guardrails_bad_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Guardrails(**kwargs)  # type: ignore[arg-type]


def test_recommend_prices_bad_input() -> None:
    with pytest.raises(ConfigError, match="lacks"):
        recommend_prices(pd.DataFrame({"sku": ["A"]}))
    with pytest.raises(ConfigError, match="Guardrails"):
        recommend_prices(_one(), {"max_step": 0.1})  # type: ignore[arg-type]
    out, _ = recommend_prices(_one(current_price=0.0))
    assert np.isnan(out.iloc[0]["recommended_price"])
