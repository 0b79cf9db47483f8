"""Kernels checked by hand and against brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield.errors import ConfigError
from levelfield.exposure import (
    HHI_HIGH,
    HHI_MODERATE,
    hhi,
    hhi_band,
    linear_score,
    own_store_shift,
    shift_effects,
    top_share,
)


def test_hhi_by_hand() -> None:
    # shares 50/30/20 % -> 2500 + 900 + 400
    assert hhi([50, 30, 20]) == pytest.approx(3800.0)
    assert hhi([5.0, 3.0, 2.0]) == pytest.approx(3800.0)
    assert hhi([1.0]) == pytest.approx(10_000.0)
    assert hhi([1, 1, 1, 1]) == pytest.approx(2500.0)


def test_hhi_ignores_zero_negative_nan_and_empty_is_nan() -> None:
    assert hhi([50, 30, 20, 0, -5, np.nan]) == pytest.approx(3800.0)
    assert math.isnan(hhi([]))
    assert math.isnan(hhi([0, -1]))


def test_hhi_bands_follow_2023_merger_guidelines() -> None:
    assert (HHI_MODERATE, HHI_HIGH) == (1000.0, 1800.0)
    assert hhi_band(1800.0) == "moderate"
    assert hhi_band(1800.1) == "high"
    assert hhi_band(999.9) == "low"
    assert hhi_band(1000.0) == "moderate"
    assert hhi_band(float("nan")) == "unknown"


def test_top_share_by_hand() -> None:
    v = [10, 40, 20, 30]
    assert top_share(v, k=1) == pytest.approx(0.4)
    assert top_share(v, k=2) == pytest.approx(0.7)
    assert top_share(v, k=10) == pytest.approx(1.0)
    # top 20 % of 4 customers -> ceil(0.8) = 1 customer
    assert top_share(v, fraction=0.2) == pytest.approx(0.4)
    assert top_share(list(range(1, 11)), fraction=0.2) == pytest.approx(19 / 55)
    assert math.isnan(top_share([], k=1))
    with pytest.raises(ConfigError, match="exactly one"):
        top_share(v)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=40))
def test_hhi_between_equal_split_and_monopoly(values: list[float]) -> None:
    h = hhi(values)
    assert 10_000.0 / len(values) - 1e-6 <= h <= 10_000.0 + 1e-6


def test_linear_score_boundaries_both_directions() -> None:
    assert linear_score(0.05, good=0.05, bad=0.20) == 100.0
    assert linear_score(0.20, good=0.05, bad=0.20) == 0.0
    assert linear_score(0.125, good=0.05, bad=0.20) == pytest.approx(50.0)
    assert linear_score(0.0, good=0.05, bad=0.20) == 100.0
    assert linear_score(0.9, good=0.05, bad=0.20) == 0.0
    assert linear_score(1.0, good=1.0, bad=0.0) == 100.0
    assert linear_score(0.25, good=1.0, bad=0.0) == pytest.approx(25.0)
    assert np.isnan(linear_score(np.nan, good=1.0, bad=0.0))
    with pytest.raises(ConfigError, match="differ"):
        linear_score(1.0, good=1.0, bad=1.0)


def test_shift_effects_match_recomputed_hhi() -> None:
    spend = np.array([60.0, 30.0, 10.0, 0.0])
    group = np.array([0, 0, 1, 2])
    risk = np.array([70.0, 70.0, 20.0, 10.0])
    src = np.array([0, 0, 1, 0])
    dst = np.array([2, 1, 3, 3])
    amount = np.array([15.0, 15.0, 5.0, 30.0])
    d_sup, d_cty, d_risk = shift_effects(spend, group, risk, src, dst, amount)
    for k in range(len(src)):
        after = spend.copy()
        after[src[k]] -= amount[k]
        after[dst[k]] += amount[k]
        assert d_sup[k] == pytest.approx(hhi(after) - hhi(spend))
        by_c = np.bincount(group, weights=spend)
        by_c_after = np.bincount(group, weights=after)
        assert d_cty[k] == pytest.approx(hhi(by_c_after) - hhi(by_c))
        w_before = np.dot(spend, risk) / spend.sum()
        w_after = np.dot(after, risk) / after.sum()
        assert d_risk[k] == pytest.approx(w_after - w_before)


def test_shift_effects_zero_total_is_nan() -> None:
    z = np.zeros(2)
    out = shift_effects(z, np.array([0, 1]), z, np.array([0]), np.array([1]), np.array([0.0]))
    assert all(np.isnan(o).all() for o in out)


def test_own_store_shift_solved_by_hand() -> None:
    # 100,000 on the marketplace, move 20 % = 20,000; 30 % lost on the way -> 14,000 arrive.
    # margin before on the moved part: 20,000 * (0.50 - 0.15) = 7,000
    # margin after: 14,000 * (0.50 - 0.03) = 6,580 -> gained -420
    # break-even loss: 1 - 0.35 / 0.47 = 0.2553...
    r = own_store_shift(100_000, 0.2, 0.3, 0.5, 0.15, 0.03)
    assert r.moved_revenue == pytest.approx(20_000)
    assert r.kept_revenue == pytest.approx(14_000)
    assert r.lost_revenue == pytest.approx(6_000)
    assert r.margin_before == pytest.approx(7_000)
    assert r.margin_after == pytest.approx(6_580)
    assert r.margin_gained == pytest.approx(-420)
    assert r.fees_saved == pytest.approx(20_000 * 0.15 - 14_000 * 0.03)
    assert r.breakeven_conversion_loss == pytest.approx(1 - 0.35 / 0.47)
    at_breakeven = own_store_shift(100_000, 0.2, r.breakeven_conversion_loss, 0.5, 0.15, 0.03)
    assert at_breakeven.margin_gained == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(own_store_shift(1.0, 0.2, 0.3, 0.1, 0.2, 0.1).breakeven_conversion_loss)
