"""White space: under-served combinations and empty regions of the map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from levelfield.landscape import (
    binary_features,
    group_profiles,
    map_gaps,
    profiles_from_frame,
    underserved_combinations,
)
from levelfield.landscape._whitespace import _bh


def _market_without_premium_delivery(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    premium = rng.random(n) < 0.5
    delivery = rng.random(n) < 0.5
    delivery[premium] = False  # planted: no premium firm delivers
    return pd.DataFrame(
        {
            "name": [f"F{i}" for i in range(n)],
            "tier": np.where(premium, "premium", "budget"),
            "delivery": np.where(delivery, "yes", "no"),
            "wifi": np.where(rng.random(n) < 0.5, "yes", "no"),
        }
    )


def test_planted_underserved_combination_is_found_with_fisher_p() -> None:
    df = _market_without_premium_delivery()
    p = profiles_from_frame(df, {"tier": "category", "delivery": "flag", "wifi": "flag"})
    feats = binary_features(p.attributes)
    out = underserved_combinations(feats, alpha=0.05)
    assert len(out) >= 1
    top = out.iloc[0]
    assert {top["feature_a"], top["feature_b"]} == {"tier = premium", "delivery"}
    assert top["observed"] == 0
    prem = (df["tier"] == "premium").to_numpy()
    deliv = (df["delivery"] == "yes").to_numpy()
    assert top["expected"] == pytest.approx(prem.sum() * deliv.sum() / len(df))
    table = [[0, prem.sum()], [deliv.sum(), len(df) - prem.sum() - deliv.sum()]]
    _, p_fisher = fisher_exact(table, alternative="less")
    assert top["p_value"] == pytest.approx(p_fisher, rel=1e-9)


def test_independent_features_give_no_candidates() -> None:
    rng = np.random.default_rng(1)
    n = 60
    df = pd.DataFrame(
        {
            "name": [f"F{i}" for i in range(n)],
            "a": np.where(rng.random(n) < 0.5, "yes", "no"),
            "b": np.where(rng.random(n) < 0.5, "yes", "no"),
            "c": rng.choice(["x", "y", "z"], n),
        }
    )
    p = profiles_from_frame(df, {"a": "flag", "b": "flag", "c": "category"})
    assert underserved_combinations(binary_features(p.attributes)).empty


def test_benjamini_hochberg_matches_statsmodels() -> None:
    p = np.random.default_rng(2).random(50) ** 3
    np.testing.assert_allclose(_bh(p), multipletests(p, method="fdr_bh")[1], atol=1e-12)


def test_binary_features_cover_every_kind() -> None:
    df = pd.DataFrame(
        {
            "name": list("ABCDEF"),
            "price": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "tier": ["lo", "hi", "lo", "hi", "lo", "hi"],
            "style": ["a", "b", "a", "b", "c", "c"],
            "chan": ["web;shop", "shop", "web", "shop", "web;shop", "app"],
            "deliv": ["yes", "no", "yes", "no", "yes", "no"],
        }
    )
    p = profiles_from_frame(df, {"tier": "ordinal(lo<hi)"})
    f = binary_features(p.attributes)
    assert "high price (> 4.33)" in f.labels and "low price (< 2.67)" in f.labels
    assert {"tier = lo", "tier = hi", "style = a", "chan: web", "deliv"} <= set(f.labels)
    assert f.present.shape == (6, len(f.labels))


def test_group_profiles_describe_what_sets_groups_apart() -> None:
    df = pd.DataFrame(
        {
            "name": list("ABCDEF"),
            "tier": ["premium"] * 3 + ["budget"] * 3,
            "delivery": ["yes", "yes", "yes", "no", "no", "yes"],
        }
    )
    p = profiles_from_frame(df)
    labels = np.array([0, 0, 0, 1, 1, 1])
    table, desc = group_profiles(binary_features(p.attributes), labels)
    assert "tier = premium (100% vs 50%)" in desc[0]
    assert "tier = budget" in desc[1]
    assert set(table["group"]) == {0, 1}


def test_map_gap_between_two_separated_groups() -> None:
    rng = np.random.default_rng(0)
    left = rng.normal([0, 0], 0.05, (10, 2))
    right = rng.normal([1, 0], 0.05, (10, 2))
    coords = np.vstack([left, right])
    labels = np.repeat([0, 1], 10)
    gaps = map_gaps(coords, labels, [f"F{i}" for i in range(20)])
    assert len(gaps) == 1
    assert 0.2 <= gaps.loc[0, "x"] <= 0.8
    assert gaps.loc[0, "spacing_ratio"] > 2
    # a firm sitting in the middle fills the gap
    filled = np.vstack([coords, [[0.5, 0.0], [0.35, 0.0], [0.65, 0.0]]])
    labels2 = np.append(labels, [0, 0, 1])
    assert map_gaps(filled, labels2, [f"F{i}" for i in range(23)]).empty


def test_degenerate_inputs_give_empty_tables() -> None:
    assert map_gaps(np.zeros((2, 2)), np.array([0, 1]), ["a", "b"]).empty
    df = pd.DataFrame({"name": list("ABC"), "x": ["yes", "no", "yes"]})
    p = profiles_from_frame(df)
    assert underserved_combinations(binary_features(p.attributes)).empty
