"""The named stages of ElasticityModel.fit, each on its own small input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levelfield.errors import ConfigError, InsufficientDataError, SchemaError
from levelfield.pricing._elasticity import (
    _category_of,
    _cell_index,
    _cell_stats,
    _choose_estimates,
    _clean_panel,
    _combine_cells,
    _identification,
    _partial_pooling,
    _pull_in_outliers,
    _stockout_weeks,
)
from levelfield.pricing._fixed_effects import ProductSlopesFit


def _panel(**extra: object) -> pd.DataFrame:
    weeks = pd.date_range("2025-01-06", periods=4, freq="7D")
    return pd.DataFrame(
        {
            "sku": ["b"] * 4 + ["a"] * 4,
            "week": list(weeks) * 2,
            "quantity": [5, 0, 7, 9, 30, 31, 0, 29],
            "posted_price": [10.0, 10.0, 11.0, 9.0, 2.0, 2.0, 2.0, 2.0],
            **extra,
        }
    )


def test_clean_panel_drops_unusable_weeks_and_fills_optional_columns() -> None:
    df = _panel()
    df.loc[1, "posted_price"] = -1.0
    df.loc[2, "quantity"] = np.nan
    out, notes = _clean_panel(df)
    assert len(out) == 6
    assert notes == [
        "2 product-week(s) with a missing, zero or negative price or quantity were left out"
    ]
    assert set(out["category"]) == {"uncategorised"} and not out["promo"].any()
    assert (out["name"] == out["sku"]).all()
    assert out["quantity"].dtype == np.float64


def test_clean_panel_bad_input() -> None:
    with pytest.raises(ConfigError, match="DataFrame"):
        _clean_panel([1, 2])
    with pytest.raises(SchemaError, match="posted_price"):
        _clean_panel(_panel().drop(columns="posted_price"))
    with pytest.raises(InsufficientDataError, match="positive posted price"):
        _clean_panel(_panel().assign(posted_price=0.0))


def test_cell_index_splits_products_by_channel_with_channel_weeks() -> None:
    df, _ = _clean_panel(_panel(channel=["web", "shop"] * 4))
    c = _cell_index(df)
    # cells a/shop a/web b/shop b/web; web sells in weeks 1 and 3, shop in 2 and 4
    assert (c.P, c.S, c.T) == (4, 2, 4)
    assert list(c.skus) == ["a", "b"]
    assert list(c.cell_sku) == [0, 0, 1, 1]
    assert list(c.cell_channel) == ["shop", "web", "shop", "web"]
    plain = _cell_index(_clean_panel(_panel())[0])
    assert (plain.P, plain.T) == (2, 4) and not plain.by_channel


def test_stockouts_are_unexpected_zeros_at_a_usual_price() -> None:
    df, _ = _clean_panel(_panel())
    c = _cell_index(df)
    q = df["quantity"].to_numpy()
    x = np.log(df["posted_price"].to_numpy())
    st = _cell_stats(df, c.p, c.P, x, q > 0)
    assert list(st.distinct) == [1, 3] and list(st.sell_weeks) == [3, 3]
    flagged = _stockout_weeks(q > 0, x, c.p, st, 0.01)
    # product a sells ~30 a week: its zero is a stock-out; b sells ~7 (P(0) = e^-7 < 1 %)
    # but at its usual price too, so both zeros are flagged, while a looser threshold
    # keeps b's zero as demand
    assert list(np.flatnonzero(flagged)) == [1, 6]
    assert list(np.flatnonzero(_stockout_weeks(q > 0, x, c.p, st, 1e-6))) == [6]


def test_identification_gives_one_reason_per_failing_cell() -> None:
    df, _ = _clean_panel(_panel())
    c = _cell_index(df)
    q = df["quantity"].to_numpy()
    st = _cell_stats(df, c.p, c.P, np.log(df["posted_price"].to_numpy()), q > 0)
    reason, ok, few = _identification(st, 3, 2, 0.02)
    assert list(ok) == [False, True] and not few.any()
    assert reason[0] == "only 1 distinct posted price(s); needs 2"
    reason, ok, few = _identification(st, 4, 2, 0.02)
    assert list(few) == [True, True] and not ok.any()
    assert reason[1] == "sold in 3 week(s) only; needs 4"


def test_pull_in_outliers_clips_only_beyond_the_robust_limit() -> None:
    rng = np.random.default_rng(0)
    ps = np.repeat(np.arange(2), 20).astype(np.intp)
    fitted = np.zeros(40)
    y = rng.normal(0, 0.1, 40)
    y[5] = 3.0
    pulled, outlier = _pull_in_outliers(y, fitted, ps, 2, 5.0)
    assert list(np.flatnonzero(outlier)) == [5]
    assert 0 < pulled[5] < 1.0
    np.testing.assert_array_equal(np.delete(pulled, 5), np.delete(y, 5))
    same, none = _pull_in_outliers(y, fitted, ps, 2, 1e6)
    assert not none.any() and same is not y
    np.testing.assert_array_equal(same, y)


def _slopes(slope: list[float], se: list[float]) -> ProductSlopesFit:
    a = np.asarray(slope, dtype=float)
    z = np.zeros(a.size)
    return ProductSlopesFit(
        slope=a,
        slope_se=np.asarray(se, dtype=float),
        intercept=z,
        x_mean=z,
        week_effect=np.zeros(2),
        extra=np.zeros(1),
        extra_se=np.zeros(1),
        fitted=z,
        n_obs=np.ones(a.size, dtype=np.intp),
    )


def test_choose_estimates_takes_ppml_only_for_low_count_cells() -> None:
    ols = _slopes([-1.0, -2.0, -3.0], [0.1, 0.1, 0.0])
    ppml = _slopes([-1.5, np.nan, -3.5], [0.2, 0.2, 0.3])
    ok = np.array([True, True, True])
    low = np.array([True, True, False])
    ch = _choose_estimates(ols, ppml, low, ok, ppml_everywhere=False)
    assert list(ch.use_ppml) == [True, False, False]  # the NaN PPML slope is not used
    assert list(ch.e_raw) == [-1.5, -2.0, -3.0]
    assert list(ch.est) == [True, True, False]  # zero SE: not estimated
    everywhere = _choose_estimates(ols, ppml, low, ok, ppml_everywhere=True)
    assert list(everywhere.use_ppml) == [True, False, True]
    none = _choose_estimates(ols, None, low, ok, ppml_everywhere=False)
    assert not none.use_ppml.any() and np.isnan(none.e_ppml).all()


def test_category_of_takes_the_most_frequent_then_alphabetical() -> None:
    codes = np.array([0, 0, 0, 1, 1, 2], dtype=np.intp)
    cats = np.array(["x", "y", "y", "b", "a", "z"], dtype=object)
    assert list(_category_of(codes, cats)) == ["y", "a", "z"]


def test_combine_cells_weights_channels_by_inverse_variance() -> None:
    df, _ = _clean_panel(_panel(channel=["web", "shop"] * 4))
    c = _cell_index(df)
    ols = _slopes([-1.0, -2.0, -3.0, -3.0], [0.1, 0.2, 0.1, 0.1])
    ok = np.array([True, True, False, False])
    ch = _choose_estimates(ols, None, np.zeros(4, bool), ok, ppml_everywhere=False)
    per = _combine_cells(c, ols, ch, ok)
    w = np.array([1 / 0.01, 1 / 0.04])
    assert per["raw"][0] == pytest.approx((w @ [-1.0, -2.0]) / w.sum())
    assert per["raw_se"][0] == pytest.approx(1 / np.sqrt(w.sum()))
    assert list(per["est"]) == [True, False] and list(per["estimator"]) == ["ols", ""]
    assert np.isnan(per["elasticity_ols"][1])


def test_partial_pooling_needs_three_products() -> None:
    per = {
        "raw": np.array([-1.0, -2.0, np.nan]),
        "raw_se": np.array([0.1, 0.1, np.nan]),
        "est": np.array([True, True, False]),
    }
    notes: list[str] = []
    pool = _partial_pooling(per, np.array(["a", "a", "b"], dtype=object), True, notes)
    assert notes == ["fewer than 3 products with estimates: no partial pooling"]
    assert list(pool.estimate[:2]) == [-1.0, -2.0] and np.isnan(pool.estimate[2])
    assert list(pool.n_estimated) == [2, 0] and np.isnan(pool.tau2)
    per3 = {
        "raw": np.array([-1.0, -2.0, -1.6]),
        "raw_se": np.array([0.3, 0.3, 0.3]),
        "est": np.array([True, True, True]),
    }
    shrunk = _partial_pooling(per3, np.array(["a"] * 3, dtype=object), True, [])
    # toward the common mean: the spread shrinks, the mean stays
    assert np.ptp(shrunk.estimate) < 1.0
    assert shrunk.category_table()["products_estimated"].tolist() == [3]
