"""The named stages of recommend_prices and weekly_panel, each on its own small input."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.pricing._panel import _channel_filter, _check_shares, _line_counts, _panel_sql
from levelfield.pricing._recommend import (
    Guardrails,
    _channel_table,
    _Channels,
    _conflict_masks,
    _keep_current,
    _Limits,
    _nearest_allowed,
    _product_inputs,
    _reference_columns,
    _segment_table,
    _split_ceiling,
    _targets,
    recommend_prices,
)


def test_targets_lerner_price_for_elastic_ceiling_for_inelastic() -> None:
    p0 = np.array([10.0, 10.0, 10.0, 10.0, 10.0])
    c = np.array([4.0, np.nan, 4.0, 4.0, 4.0])
    e = np.array([-2.0, -2.0, -0.5, -0.5, np.nan])
    ceiling = np.array([np.inf, np.inf, 12.0, 8.0, 12.0])
    target, basis, active = _targets(p0, c, e, np.isfinite(c), ceiling)
    assert target[0] == pytest.approx(4.0 * -2.0 / (1.0 - 2.0))  # p* = c e / (1 + e) = 8
    assert np.isnan(target[1])  # elastic without a cost: no optimum to aim at
    assert list(target[2:4]) == [12.0, 10.0]  # inelastic: up to the ceiling, never down
    assert list(basis) == [
        "margin_optimal",
        "margin_optimal",
        "inelastic_to_ceiling",
        "inelastic_to_ceiling",
        "no_elasticity",
    ]
    assert list(active) == [True, False, True, True, False]


def test_keep_current_when_the_move_does_not_pay() -> None:
    p0 = np.array([10.0, 10.0, 10.0, 10.0])
    price = np.array([10.5, 10.5, 10.0, 10.5])
    eff = {"profit_change_year": np.array([-5.0, 5.0, -1.0, -5.0]), "units": np.ones(4)}
    can = np.array([True, True, True, False])
    new, eff2, keep = _keep_current(p0, price, can, eff)
    # only a real move that loses profit, from a price today inside the guardrails
    assert list(keep) == [True, False, False, False]
    assert list(new) == [10.0, 10.5, 10.0, 10.5]
    assert list(eff2["units"]) == [0.0, 1.0, 1.0, 1.0]
    assert list(eff2) == list(eff)


def test_product_inputs_need_every_column_and_give_floats() -> None:
    products = pd.DataFrame(
        {
            "sku": [1, 2],
            "current_price": [10, 12],
            "unit_cost": [4.0, None],
            "elasticity": [-2.0, -1.0],
            "se": [0.1, 0.2],
            "baseline_units": [5, 6],
        },
        index=[7, 9],
    )
    df, sku, (p0, c, _, _, q0) = _product_inputs(products)
    assert list(df.index) == [0, 1] and list(sku) == ["1", "2"]
    assert p0.dtype == np.float64 and np.isnan(c[1]) and list(q0) == [5.0, 6.0]
    with pytest.raises(ConfigError, match="baseline_units, se|se, baseline_units"):
        _product_inputs(products.drop(columns=["se", "baseline_units"]))


def test_channel_filter_leaves_out_wholesale_unless_nothing_else_is_left() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE orders (channel VARCHAR)")
    con.execute("INSERT INTO orders VALUES ('Web'), ('Wholesale'), ('O''Shop')")
    sql, excluded = _channel_filter(con, ["Wholesale", "o'shop"])
    assert excluded == ("wholesale", "o'shop")
    kept = con.execute(f"SELECT channel FROM orders o WHERE TRUE {sql}").fetchall()
    assert kept == [("Web",)]
    assert _channel_filter(con, ["web", "wholesale", "o'shop"]) == ("", ())
    assert _channel_filter(con, []) == ("", ())
    with pytest.raises(ConfigError, match="list of channel names"):
        _channel_filter(con, "wholesale")


def test_line_counts_sort_lines_by_reason() -> None:
    con = duckdb.connect()
    lines = (
        "SELECT * FROM (VALUES (2.0, 5.0, 6.0), (1.0, 5.0, NULL), (1.0, 0.0, 6.0), "
        "(1.0, 5.0, -1.0), (0.0, 5.0, 6.0), (-1.0, 5.0, NULL)) t(q, up, lp)"
    )
    assert _line_counts(con, lines) == (2, 2, 2, 1)
    with pytest.raises(InsufficientDataError, match="no usable order lines"):
        _line_counts(con, lines + " WHERE q <= 0")


def test_check_shares_names_the_bad_option() -> None:
    _check_shares(promo_threshold=0, discount_tolerance=1.0)
    for bad in (True, "0.5", -0.1, 1.5):
        with pytest.raises(ConfigError, match="discount_tolerance must be a share"):
            _check_shares(promo_threshold=0.5, discount_tolerance=bad)  # type: ignore[arg-type]


def test_panel_sql_fills_weeks_carries_prices_and_marks_promotions() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE l AS SELECT sku, 'Mug' AS name, 'kitchen' AS category, "
        "CAST(week AS DATE) AS week, 'web' AS channel, true AS in_base, 'USD' AS currency, "
        "q, up, lp, 0.0 AS line_discount, 0.0 AS order_discount FROM (VALUES "
        "('m', '2024-01-01', 2.0, 10.0, 10.0), ('m', '2024-01-01', 1.0, 10.0, 10.0), "
        "('m', '2024-01-15', 1.0, 8.0, 10.0), ('m', '2024-01-15', 1.0, 8.0, 10.0), "
        "('m', '2024-01-15', 3.0, 10.0, 10.0), ('t', '2024-01-08', 1.0, 4.0, NULL)) "
        "t(sku, week, q, up, lp)"
    )
    panel = con.execute(_panel_sql("SELECT * FROM l", "channel"), [0.02, 0.5]).df()
    mug = panel[panel["sku"] == "m"].reset_index(drop=True)
    assert [str(w.date()) for w in pd.to_datetime(mug["week"])] == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
    ]
    assert list(mug["quantity"]) == [3.0, 0.0, 5.0]
    assert list(mug["posted_price"]) == [10.0, 10.0, 10.0]  # carried into the empty week
    assert list(mug["price_source"]) == ["list", "carried_forward", "list"]
    assert mug["promo_share"].tolist() == pytest.approx([0.0, 0.0, 2 / 3])
    assert list(mug["promo"]) == [False, False, True]
    assert mug.loc[2, "realized_price"] == pytest.approx(46.0 / 5.0)
    tea = panel[panel["sku"] == "t"].iloc[0]
    assert tea["price_source"] == "modal_selling_price" and tea["posted_price"] == 4.0
    stricter = con.execute(_panel_sql("SELECT * FROM l", "channel"), [0.02, 0.7]).df()
    assert not stricter["promo"].any()


# Stages below were found untested by a mutation run (mutmut, seed 17, 2026-12-04): a
# mutant of each survived every test. Each test here fails on that mutant.


def test_nearest_allowed_takes_a_price_exactly_on_the_lower_bound() -> None:
    # candidates 9.99 and 10.00; only 10.00 is inside [10, 12]
    got = _nearest_allowed(np.array([9.994]), np.array([10.0]), np.array([12.0]), None)
    assert list(got) == [10.0]
    got = _nearest_allowed(np.array([12.006]), np.array([10.0]), np.array([12.0]), None)
    assert list(got) == [12.0]
    got = _nearest_allowed(np.array([11.0]), np.array([11.5]), np.array([11.2]), None)
    assert np.isnan(got).all()  # nothing allowed in an empty interval


def test_conflict_masks_name_the_rule_that_set_each_bound() -> None:
    # lower-bound codes: max_step 0, floor 1, min_margin 2, parity 3;
    # upper-bound codes: max_step 0, ceiling 1, parity 2
    lo_idx = np.array([0, 1, 2, 3, 3])
    hi_idx = np.array([0, 1, 1, 2, 1])
    empty = np.array([True, True, True, True, False])
    no = np.zeros(5, dtype=bool)
    m = _conflict_masks(lo_idx, hi_idx, empty, no, no)
    assert list(m["max_step"]) == [True, False, False, False, False]
    assert list(m["floor"]) == [False, True, False, False, False]
    assert list(m["ceiling"]) == [False, True, True, False, False]
    assert list(m["min_margin"]) == [False, False, True, False, False]
    assert list(m["channel_parity"]) == [False, False, False, True, False]
    assert not m["price_ending"].any()


def _one_channel(lo: float, hi: float) -> _Channels:
    return _Channels(
        sku=np.array(["A"]),
        channel=np.array(["wholesale"]),
        row=np.array([0], dtype=np.intp),
        p0=np.array([10.0]),
        retail=np.array([False]),
        lo=np.array([lo]),
        hi=np.array([hi]),
        lo_idx=np.array([1], dtype=np.intp),
        hi_idx=np.array([1], dtype=np.intp),
    )


def test_channel_table_withholds_a_channel_whose_own_bounds_conflict() -> None:
    g = Guardrails()
    p0, price, why = np.array([10.0]), np.array([10.5]), np.array([""])
    table, _ = _channel_table(_one_channel(12.0, 11.0), g, p0, price, why)
    assert np.isnan(table["recommended_price"]).all()
    assert table["reason"].iloc[0].split(";")[:3] == ["withheld", "floor", "ceiling"]
    table, _ = _channel_table(_one_channel(9.0, 11.0), g, p0, price, why)
    assert list(table["recommended_price"]) == [10.5]  # the product's move, kept
    assert "withheld" not in table["reason"].iloc[0]


def _limits(floor: list[float], margin: list[float]) -> _Limits:
    full = np.full(len(floor), np.inf)
    return _Limits(
        step_lo=-full,
        step_hi=full,
        floor=np.array(floor),
        ceiling=full,
        margin=np.array(margin),
        rival_binds=np.zeros(len(floor), dtype=bool),
    )


def test_segment_discounts_round_down_to_the_cent_and_stop_at_the_floor() -> None:
    g = Guardrails(allow_segment_discounts=True, segment_discounts={"loyal": 0.1, "staff": 0.3})
    sku, p0 = np.array(["A", "B"]), np.array([10.0, 20.0])
    price = np.array([10.0, 19.99])
    lim = _limits(floor=[8.0, -np.inf], margin=[-np.inf, 15.0])
    table = _segment_table(g, sku, p0, price, lim)
    assert table is not None and table.index.equals(pd.RangeIndex(4))
    assert list(table.columns) == [
        "sku",
        "channel",
        "segment",
        "current_price",
        "recommended_price",
        "reason",
    ]
    assert (table["channel"] == "").all()
    loyal = table.loc[table["segment"] == "loyal"]
    assert list(loyal["recommended_price"]) == [9.0, 17.99]  # 19.99 * 0.9 = 17.991
    assert list(loyal["reason"]) == ["segment_discount", "segment_discount"]
    staff = table.loc[table["segment"] == "staff"]
    assert list(staff["recommended_price"]) == [8.0, 15.0]  # 7.00 and 13.99 wanted
    assert list(staff["reason"]) == ["segment_discount;floor", "segment_discount;min_margin"]
    off = _segment_table(Guardrails(), sku, p0, price, lim)
    assert off is None


def test_reference_columns_align_the_rivals_prices_to_the_products() -> None:
    ref = pd.DataFrame(
        {
            "sku": ["B", "A"],
            "rivals": [3, 1],
            "rival_low": [8.0, 4.5],
            "rival_reference": [9.0, 5.0],
            "rival_high": [11.0, 5.5],
            "rivals_as_of": ["2026-11-01", "2026-10-01"],
        }
    )
    out = _reference_columns(np.array(["A", "B", "C"]), ref)
    assert list(out["rivals"]) == [1, 3, 0]
    assert out["rival_high"][:2].tolist() == [5.5, 11.0] and np.isnan(out["rival_high"][2])
    assert str(out["rivals_as_of"][1])[:10] == "2026-11-01"
    none = _reference_columns(np.array(["A"]), None)
    assert list(none["rivals"]) == [0] and np.isnan(none["rival_reference"]).all()


def test_a_floor_at_todays_price_never_sends_a_lower_target_up() -> None:
    """Found by the guardrail property test (hypothesis): today 17.04 with a floor of
    17.04 and a Lerner target of 0 (cost 0) was recommended 17.49, the nearest allowed
    ending above, against the target; no allowed price lies between, so it is withheld."""
    prod = pd.DataFrame(
        {
            "sku": ["S0"],
            "current_price": [17.04],
            "unit_cost": [0.0],
            "elasticity": [-3.67],
            "se": [0.16],
            "baseline_units": [1.5],
        }
    )
    g = Guardrails(floor={"S0": 17.04}, price_endings=(".49", ".95"))
    recs, _ = recommend_prices(prod, g)
    r = recs.iloc[0]
    assert r["target_price"] < 17.04
    assert np.isnan(r["recommended_price"]) and bool(r["withheld"])
    assert r["reasons"].split(";")[0] == "withheld" and "price_ending" in r["reasons"]


def test_split_ceiling_names_the_rivals_where_their_price_set_the_ceiling() -> None:
    masks = {"floor": np.array([True, False]), "ceiling": np.array([True, True])}
    out = _split_ceiling(masks, np.array([False, True]))
    assert list(out) == ["floor", "ceiling", "competitor_ceiling"]
    assert list(out["ceiling"]) == [True, False]
    assert list(out["competitor_ceiling"]) == [False, True]
    assert out["floor"] is masks["floor"]


def test_every_recommendation_column_with_a_number_is_a_float_column() -> None:
    prod = pd.DataFrame(
        {
            "sku": ["A", "B"],
            "current_price": [10.0, 20.0],
            "unit_cost": [4.0, np.nan],
            "elasticity": [-2.0, np.nan],
            "se": [0.2, 0.1],
            "baseline_units": [50.0, 10.0],
        }
    )
    recs, _ = recommend_prices(prod, Guardrails())
    changes = [c for c in recs.columns if "_change_year" in c]
    assert len(changes) == 9
    for c in [*changes, "recommended_price", "target_price", "change"]:
        assert recs[c].dtype == np.float64, c
    assert recs.loc[1, changes].isna().all()  # no elasticity: no effect, NaN not None


def test_a_price_held_at_the_floor_with_an_allowed_ending_names_only_the_floor() -> None:
    """A mutation run (seed 2026) found that no test looked at the reasons of a price
    held at a floor below a lower target: the ending is allowed, so only the floor binds."""
    prod = pd.DataFrame(
        {
            "sku": ["A"],
            "current_price": [10.0],
            "unit_cost": [0.0],
            "elasticity": [-3.0],
            "se": [0.1],
            "baseline_units": [20.0],
        }
    )
    g = Guardrails(floor={"A": 9.99}, price_endings=(".99",))
    recs, _ = recommend_prices(prod, g)
    assert recs.loc[0, "target_price"] < 9.99
    assert recs.loc[0, "recommended_price"] == 9.99
    assert recs.loc[0, "reasons"] == "floor"
