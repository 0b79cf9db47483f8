"""Gower distance: oracle tests against the ``gower`` package and SciPy's Jaccard."""

from __future__ import annotations

import gower
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist, squareform

from levelfield.errors import ConfigError
from levelfield.landscape import gower_components, gower_matrix, profiles_from_frame
from levelfield.landscape._gower import attribute_weights

# price, rating, staff, tier (ranks) are numeric; style, region, online categorical.
_CAT = [False, False, False, False, True, True, True]


def _random_mixed(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict[str, str]]:
    df = pd.DataFrame(
        {
            "name": [f"F{i}" for i in range(n)],
            "price": rng.uniform(5, 50, n).round(2),
            "rating": rng.uniform(1, 5, n).round(1),
            "staff": rng.integers(1, 40, n).astype(float),
            "tier": rng.choice(["budget", "mid", "premium", "luxury"], n),
            "style": rng.choice(["a", "b", "c"], n),
            "region": rng.choice(["north", "south", "east", "west", "centre"], n),
            "online": rng.choice(["yes", "no"], n),
        }
    )
    types = {
        "price": "numeric",
        "rating": "numeric",
        "staff": "numeric",
        "tier": "ordinal(budget<mid<premium<luxury)",
        "style": "category",
        "region": "category",
        "online": "flag",
    }
    return df, types


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gower_matches_gower_package_on_random_mixed_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    df, types = _random_mixed(rng, 60)
    p = profiles_from_frame(df, types)
    ours, weight = gower_matrix(p.attributes, asymmetric_flags=False)
    # The gower package: numerics range-normalized, objects compared as categories;
    # ordinal levels enter as their ranks (a numeric column), flags as categories.
    peer_in = df.drop(columns="name").copy()
    peer_in["tier"] = (
        peer_in["tier"].map({"budget": 0, "mid": 1, "premium": 2, "luxury": 3}).astype(float)
    )
    assert peer_in["tier"].min() == 0  # gower divides by max; our range is max - min
    peer = gower.gower_matrix(peer_in.astype(object).to_numpy(), cat_features=_CAT)
    np.testing.assert_allclose(ours, peer, atol=2e-6)
    np.testing.assert_allclose(weight, 7.0)


def test_weighted_gower_matches_gower_package() -> None:
    rng = np.random.default_rng(5)
    df, types = _random_mixed(rng, 40)
    p = profiles_from_frame(df, types)
    w = {
        "price": 3.0,
        "rating": 0.5,
        "staff": 1.0,
        "tier": 2.0,
        "style": 1.5,
        "region": 0.0,
        "online": 1.0,
    }
    ours, _ = gower_matrix(p.attributes, attribute_weights(p.attributes, w), asymmetric_flags=False)
    peer_in = df.drop(columns="name").copy()
    peer_in["tier"] = peer_in["tier"].map({"budget": 0, "mid": 1, "premium": 2, "luxury": 3})
    peer_in["tier"] = peer_in["tier"].astype(float)
    peer = gower.gower_matrix(
        peer_in.astype(object).to_numpy(),
        weight=np.array([w[c] for c in peer_in.columns]),
        cat_features=_CAT,
    )
    np.testing.assert_allclose(ours, peer, atol=2e-6)


def test_set_attribute_is_jaccard_distance_like_scipy() -> None:
    rng = np.random.default_rng(1)
    labels = np.array(["kids", "students", "offices", "tourists", "families"])
    member = rng.random((30, 5)) < 0.45
    member[~member.any(axis=1), 0] = True
    df = pd.DataFrame(
        {"name": [f"F{i}" for i in range(30)], "segments": [";".join(labels[m]) for m in member]}
    )
    p = profiles_from_frame(df, {"segments": "set"})
    ours, _ = gower_matrix(p.attributes)
    order = [list(p.attributes[0].labels).index(lab) for lab in labels]
    peer = squareform(pdist(p.attributes[0].values[:, order], "jaccard"))
    np.testing.assert_allclose(ours, peer, atol=1e-12)
    np.testing.assert_allclose(peer, squareform(pdist(member, "jaccard")), atol=1e-12)


def test_asymmetric_flags_are_jaccard_on_capabilities() -> None:
    rng = np.random.default_rng(2)
    F = rng.random((25, 6)) < 0.4
    F[~F.any(axis=1), 0] = True
    df = pd.DataFrame({f"cap{j}": np.where(F[:, j], "yes", "no") for j in range(6)})
    df.insert(0, "name", [f"F{i}" for i in range(25)])
    p = profiles_from_frame(df, {f"cap{j}": "flag" for j in range(6)})
    ours, weight = gower_matrix(p.attributes)  # asymmetric by default
    np.testing.assert_allclose(ours, squareform(pdist(F, "jaccard")), atol=1e-12)
    # evidence = number of capabilities at least one of the pair has
    np.testing.assert_allclose(weight, (F[:, None, :] | F[None, :, :]).sum(-1))
    sym, _ = gower_matrix(p.attributes, asymmetric_flags=False)
    np.testing.assert_allclose(sym, squareform(pdist(F, "hamming")), atol=1e-12)


def test_missing_values_drop_out_of_the_pair_average() -> None:
    df = pd.DataFrame(
        {
            "name": ["A", "B", "C"],
            "price": [10.0, np.nan, 20.0],
            "style": ["x", "y", "x"],
            "delivery": ["no", "no", "yes"],
        }
    )
    p = profiles_from_frame(df, {"price": "numeric", "style": "category", "delivery": "flag"})
    D, W = gower_matrix(p.attributes)
    # A-B: price missing, style differs (1), delivery both absent (skipped) -> 1/1
    assert D[0, 1] == pytest.approx(1.0) and W[0, 1] == 1
    # A-C: price |10-20|/10 = 1, style same (0), delivery differs (1) -> 2/3
    assert D[0, 2] == pytest.approx(2 / 3) and W[0, 2] == 3
    # B-C: style 1, delivery 1 -> 1
    assert D[1, 2] == pytest.approx(1.0)
    np.testing.assert_allclose(np.diag(D), 0.0)


def test_pair_without_comparable_attribute_is_nan() -> None:
    df = pd.DataFrame({"name": ["A", "B", "C"], "p": [1.0, np.nan, 3.0], "q": [np.nan, 2.0, 1.0]})
    p = profiles_from_frame(df)
    D, W = gower_matrix(p.attributes)
    assert np.isnan(D[0, 1]) and W[0, 1] == 0
    assert np.isfinite(D[0, 2])


def test_rows_subset_and_components_agree_with_full_matrix() -> None:
    rng = np.random.default_rng(7)
    df, types = _random_mixed(rng, 30)
    df.loc[3, "price"] = np.nan
    df.loc[5, "style"] = ""
    p = profiles_from_frame(df, types)
    full, wfull = gower_matrix(p.attributes)
    part, wpart = gower_matrix(p.attributes, rows=np.array([3, 5, 0]))
    np.testing.assert_allclose(part, full[[3, 5, 0]])
    np.testing.assert_allclose(wpart, wfull[[3, 5, 0]])
    d, delta = gower_components(p.attributes, 3)
    np.testing.assert_allclose((d * delta).sum(0) / delta.sum(0), full[3], atol=1e-12)


def test_bad_weights_are_config_errors() -> None:
    rng = np.random.default_rng(0)
    df, types = _random_mixed(rng, 10)
    p = profiles_from_frame(df, types)
    with pytest.raises(ConfigError, match="not an attribute"):
        attribute_weights(p.attributes, {"nope": 1.0})
    with pytest.raises(ConfigError, match=">= 0"):
        attribute_weights(p.attributes, {"price": -1.0})
    with pytest.raises(ConfigError, match="number"):
        attribute_weights(p.attributes, {"price": "heavy"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError):
        gower_matrix([])
