from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from levelfield.errors import ConfigError, UnknownReferenceError
from levelfield.scenarios import (
    ACTIONS,
    SHOCKS,
    AddSupplier,
    DemandDrop,
    FXMove,
    InterestRateRise,
    PlatformFeeRise,
    PnLModel,
    PriceChange,
    Scenario,
    ShiftChannel,
    Strategy,
    SupplierOutage,
    Tariff,
    WageRise,
    build_model,
    load_scenarios,
)
from levelfield.scenarios._model import monthly_profit
from levelfield.scenarios._shocks import compile_changes
from levelfield.scenarios._simulate import draw_latent, driver_values
from levelfield.workspace import Workspace


@pytest.fixture
def model(shop: Workspace) -> PnLModel:
    return build_model(shop, horizon=12)


def _x(model: PnLModel, n: int = 500) -> np.ndarray:
    return driver_values(model, draw_latent(model, n, np.random.default_rng(0)))


def _revenue(model: PnLModel, x: np.ndarray, adj: object) -> np.ndarray:
    """Revenue per channel implied by the kernel: profit is linear in the take rate."""
    bumped = compile_changes(model, [])
    bumped.fee_points[:] = 1.0  # every channel pays 100 % more: profit drops by revenue
    base = monthly_profit(model, x, compile_changes(model, []))
    return base - monthly_profit(model, x, bumped)


def test_tariff_costs_exactly_its_share_of_cost_of_goods(model: PnLModel) -> None:
    x = _x(model)
    base = monthly_profit(model, x, compile_changes(model, []))
    hit = monthly_profit(model, x, compile_changes(model, [Tariff("cn", 25)]))
    j = model.country_index("CN")
    total = _revenue(model, x, None)
    k = model.driver_names
    cogs_cn = (total * model.cogs_ratio * model.country_weights[j] * x[k.index("unit_cost")]
               * x[k.index("fx")])  # fmt: skip
    assert np.allclose(base - hit, 0.25 * cogs_cn)


def test_platform_fee_rise_costs_points_times_channel_revenue(model: PnLModel) -> None:
    x = _x(model)
    c = model.channel_index("etsy")
    base = monthly_profit(model, x, compile_changes(model, []))
    hit = monthly_profit(model, x, compile_changes(model, [PlatformFeeRise("etsy", 3)]))
    only_etsy = compile_changes(model, [])
    only_etsy.fee_points[:, c] = 1.0
    etsy_rev = base - monthly_profit(model, x, only_etsy)
    assert np.allclose(base - hit, 0.03 * etsy_rev)


def test_demand_drop_hits_only_its_months(model: PnLModel) -> None:
    x = _x(model)
    base = monthly_profit(model, x, compile_changes(model, []))
    hit = monthly_profit(model, x, compile_changes(model, [DemandDrop(20, 3, start_month=2)]))
    assert np.allclose(base[[0, 4, 5, 11]], hit[[0, 4, 5, 11]])
    assert (hit[1:4] < base[1:4]).all()


def test_supplier_outage_fractions_and_alternative(model: PnLModel) -> None:
    out = SupplierOutage("CN", 8)
    frac = out.fractions(model)
    assert frac.sum() == pytest.approx(56 / (365.25 / 12))
    assert frac[0] == 1.0 and frac[2] == 0.0
    x = _x(model)
    base = monthly_profit(model, x, compile_changes(model, []))
    lost = monthly_profit(model, x, compile_changes(model, [out]))
    alt = monthly_profit(model, x, compile_changes(model, [SupplierOutage("CN", 8, True)]))
    assert (base - lost)[0].mean() > (base - alt)[0].mean() > 0
    # A second supplier for half of CN purchases halves the sales lost to the outage.
    half = compile_changes(model, [AddSupplier("CN", "FR", 50, 0), out])
    assert half.lost_share[0] == pytest.approx(compile_changes(model, [out]).lost_share[0] / 2)


def test_other_shocks_move_profit_the_right_way(model: PnLModel) -> None:
    x = _x(model)
    base = monthly_profit(model, x, compile_changes(model, [])).sum(axis=0)
    for shock in (FXMove(10), WageRise(5), InterestRateRise(2)):
        hit = monthly_profit(model, x, compile_changes(model, [shock])).sum(axis=0)
        assert (hit < base).all(), shock
    wage = monthly_profit(model, x, compile_changes(model, [WageRise(5)])).sum(axis=0)
    wages = x[model.driver_index("wages")]
    assert np.allclose(base - wage, (0.05 * 1200 * wages).sum(axis=0))
    interest = monthly_profit(model, x, compile_changes(model, [InterestRateRise(2)]))
    assert np.allclose(base - interest.sum(axis=0), 30000 * 0.02)


def test_actions(model: PnLModel) -> None:
    x = _x(model)
    base = monthly_profit(model, x, compile_changes(model, [])).sum(axis=0)
    up = monthly_profit(model, x, compile_changes(model, [PriceChange(5, elasticity=-1.0)]))
    # Unit elasticity: revenue unchanged, fewer units bought, so cost of goods falls.
    assert (up.sum(axis=0) > base).all()
    adj = compile_changes(model, [ShiftChannel("marketplaces", "own_store", 30, 100)])
    shop_i = model.channel_index("shopify")
    assert adj.route[model.channel_index("etsy"), shop_i] == pytest.approx(0.3)
    assert adj.route.sum(axis=1) == pytest.approx(np.ones(3))
    moved = monthly_profit(model, x, adj).sum(axis=0)
    assert (moved > base).all()  # shopify's 3 % fee beats etsy's and amazon's


def test_unknown_country_or_channel_lists_the_known_ones(model: PnLModel) -> None:
    with pytest.raises(UnknownReferenceError, match="CN, FR"):
        compile_changes(model, [Tariff("DE", 10)])
    with pytest.raises(UnknownReferenceError, match="amazon, etsy, shopify"):
        compile_changes(model, [PlatformFeeRise("ebay", 2)])
    with pytest.raises(UnknownReferenceError, match="CN, FR"):
        compile_changes(model, [SupplierOutage("VN", 4)])
    with pytest.raises(UnknownReferenceError, match="shopify"):
        compile_changes(model, [ShiftChannel("etsy", "woocommerce")])


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tariff("CN", "25"),
        lambda: Tariff("", 25),
        lambda: Tariff("CN", float("nan")),
        lambda: DemandDrop(150, 3),
        lambda: DemandDrop(20, 0),
        lambda: DemandDrop(20, 2.5),
        lambda: SupplierOutage("CN", -2),
        lambda: SupplierOutage("CN", 4, alternative="yes"),
        lambda: PlatformFeeRise("etsy", 300),
        lambda: ShiftChannel("etsy", "shopify", percent=130),
        lambda: PriceChange(5, elasticity=0.5),
        lambda: FXMove(-95),
        lambda: Scenario("", ()),
        lambda: Scenario("x", ("tariff",)),
    ],
)
def test_bad_shock_parameters(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]


def test_start_month_after_horizon(model: PnLModel) -> None:
    with pytest.raises(ConfigError, match="after the 12-month horizon"):
        compile_changes(model, [Tariff("CN", 10, start_month=13)])


TOML = """
[[scenario]]
name = "trade war"
description = "tariffs and a slump"
shocks = [
  { type = "tariff", country = "CN", percent = 25 },
  { type = "demand_drop", percent = 10, months = 3, channel = "etsy" },
]

[[strategy]]
name = "own store push"
actions = [{ type = "shift_channel", source = "etsy", target = "shopify", percent = 30 }]

[drivers]
"demand.etsy" = { kind = "lognormal", mean = 1.0, sd = 0.2 }
"""


def test_load_scenarios_from_toml(model: PnLModel, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(TOML, encoding="utf-8")
    scen, strat, drivers = load_scenarios(path, model)
    assert [s.name for s in scen] == ["trade war"]
    assert scen[0].shocks == (Tariff("CN", 25.0), DemandDrop(10.0, 3, channel="etsy"))
    assert strat == [Strategy("own store push", (ShiftChannel("etsy", "shopify", 30.0),))]
    assert drivers == {"demand.etsy": {"kind": "lognormal", "mean": 1.0, "sd": 0.2}}
    assert load_scenarios(TOML)[0] == scen


def test_every_change_round_trips_through_its_dict() -> None:
    from levelfield.scenarios._shocks import _change_from_dict

    examples = [
        Tariff("CN", 25), PlatformFeeRise("etsy", 3), DemandDrop(20, 3),
        SupplierOutage("CN", 6, False), FXMove(10), WageRise(4), InterestRateRise(1.5),
        ShiftChannel("etsy", "shopify"), AddSupplier("CN", "FR"), PriceChange(5),
    ]  # fmt: skip
    assert {type(e).type_name for e in examples} == set(SHOCKS) | set(ACTIONS)
    for e in examples:
        reg = SHOCKS if e.type_name in SHOCKS else ACTIONS
        assert _change_from_dict(e.to_dict(), reg, "t") == e
        assert e.describe()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[scenario]]\nname = 'x'\nshocks = [{ type = 'meteor' }]", "choose one of"),
        (
            "[[scenario]]\nname = 'x'\nshocks = [{ type = 'tariff', percent = 5 }]",
            "missing country",
        ),
        (
            "[[scenario]]\nname = 'x'\nshocks = [{ type = 'tariff', country = 'CN', percent = 5, "
            "rate = 3 }]",
            "no field",
        ),
        (
            "[[scenario]]\nname = 'x'\nshocks = [{ type = 'tariff', country = 'CN', "
            "percent = 'lots' }]",
            "must be a number",
        ),
        ("[[scenario]]\nshocks = [{ type = 'tariff', country = 'CN', percent = 5 }]", "name"),
        ("[[scenario]]\nname = 'x'\nshocks = []", "non-empty"),
        ("[[scenario]]\nname = 'x'\nshock = [{ type = 'fx_move', percent = 5 }]", "unknown key"),
        (
            "[[strategy]]\nname = 'y'\nactions = [{ type = 'tariff', country = 'CN', "
            "percent = 5 }]",
            "choose one of",
        ),
        ("[weather]\nrain = 1", "unknown section"),
        ("[[scenario]\nname = ", "not valid TOML"),
    ],
)
def test_toml_validation_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_scenarios(text)


def test_toml_checked_against_model(model: PnLModel, tmp_path: Path) -> None:
    text = "[[scenario]]\nname = 'x'\nshocks = [{ type = 'tariff', country = 'BR', percent = 5 }]"
    load_scenarios(text)  # structurally fine
    with pytest.raises(UnknownReferenceError, match="known|countries are CN, FR"):
        load_scenarios(text, model)
    with pytest.raises(UnknownReferenceError, match="unknown driver"):
        load_scenarios("[drivers]\nweather = { kind = 'normal', mean = 1, sd = 1 }", model)
    with pytest.raises(ConfigError, match="does not exist"):
        load_scenarios(tmp_path / "missing.toml")
