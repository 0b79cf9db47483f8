"""The named stages of analyze_profiles, each on its own small input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from levelfield.errors import ConfigError
from levelfield.findings import no_progress
from levelfield.landscape import binary_features, make_market, profiles_from_frame
from levelfield.landscape._analysis import (
    _check_options,
    _communications_of,
    _current_text,
    _distances,
    _find_groups,
    _position,
    _self_attribution,
    _structure,
)
from levelfield.landscape._gower import attribute_weights
from levelfield.landscape._kernels import distinctiveness, strategic_homogeneity


def _profiles(n: int = 24, groups: int = 4, seed: int = 3):  # type: ignore[no-untyped-def]
    df, types, labels = make_market(n, groups, n_attributes=12, noise=0.08, seed=seed)
    return profiles_from_frame(df, types), labels


def test_check_options_names_what_is_wrong() -> None:
    p, _ = _profiles()
    _check_options(p, 0.05, 0.5)
    with pytest.raises(ConfigError, match="CompetitorProfiles"):
        _check_options(pd.DataFrame(), 0.05, 0.5)
    with pytest.raises(ConfigError, match="alpha"):
        _check_options(p, True, 0.5)
    with pytest.raises(ConfigError, match="cliche_threshold"):
        _check_options(p, 0.05, 0.0)


def test_distances_blend_attributes_and_text_half_and_half() -> None:
    p, _ = _profiles()
    w = attribute_weights(p.attributes, None)
    d = _distances(p, w, None, "tfidf", True, no_progress)
    assert d.attributes is not None and d.text is not None and d.text_model is not None
    both = ~np.isnan(d.attributes) & ~np.isnan(d.text)
    np.testing.assert_allclose(d.combined[both], 0.5 * (d.attributes + d.text)[both])
    only_attr = _distances(p, w, {"attributes": 1.0, "text": 0.0}, "tfidf", True, no_progress)
    np.testing.assert_allclose(only_attr.combined, d.attributes)


def test_current_text_restricts_every_row_wise_part() -> None:
    p, _ = _profiles()
    d = _distances(p, attribute_weights(p.attributes, None), None, "tfidf", True, no_progress)
    cur = np.array([3, 0, 5], dtype=np.intp)
    t = _current_text(d.text_model, cur)
    assert t is not None and d.text_model is not None and t.matrix is not None
    np.testing.assert_array_equal(t.distance, d.text_model.distance[np.ix_(cur, cur)])
    assert t.matrix.shape[0] == 3 and t.terms == d.text_model.terms
    assert _current_text(None, cur) is None


def test_find_groups_recovers_planted_groups_and_numbers_them_from_one() -> None:
    p, planted = _profiles()
    d = _distances(p, attribute_weights(p.attributes, None), None, "tfidf", True, no_progress)
    g = _find_groups(d.combined, None, 8, binary_features(p.attributes), None)
    assert g.clear and g.best_split == 4
    assert adjusted_rand_score(planted, g.labels) >= 0.9
    assert sorted(g.descriptions) == [1, 2, 3, 4]
    assert sorted(g.profiles["group"].unique()) == [1, 2, 3, 4]


def test_find_groups_without_structure_is_one_market() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(30, 20))  # one Gaussian cloud: no groups
    D = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2))
    D /= D.max()
    x = z[:, 0]
    df = pd.DataFrame({"name": [f"f{i}" for i in range(30)], "v": x})
    feats = binary_features(profiles_from_frame(df, {"v": "numeric"}).attributes)
    g = _find_groups(D, None, 8, feats, None)
    assert not g.clear and g.reason
    assert not g.labels.any()
    assert g.descriptions == {1: "one market without clear strategic groups"}


def test_communications_and_attribution_without_words_or_business() -> None:
    p, _ = _profiles()
    terms, cliches, share = _communications_of(None, p, 0.5)
    assert terms.empty and cliches.empty and np.isnan(share)
    no_self = p.take(np.arange(1, p.n))
    assert no_self.self_index is None
    out = _self_attribution(
        no_self,
        None,
        None,
        None,
        {"attributes": 0.5},
        np.ones(1),
        np.zeros((1, 1), np.intp),
        True,
    )
    assert out.empty
    assert list(out.columns) == ["kind", "feature", "value", "contribution", "share_of_similarity"]


def _two_snapshots():  # type: ignore[no-untyped-def]
    df, types, labels = make_market(24, 4, n_attributes=12, noise=0.08, seed=3)
    rng = np.random.default_rng(1)
    old, new = (
        df.assign(snapshot_date=date, market_share=share / share.sum())
        for date, share in (
            ("2024-01-01", rng.uniform(1, 5, len(df))),
            ("2025-01-01", rng.uniform(1, 5, len(df))),
        )
    )
    return profiles_from_frame(pd.concat([old, new], ignore_index=True), types), labels


def test_position_measures_the_latest_snapshot_only() -> None:
    p, _ = _two_snapshots()
    d = _distances(p, attribute_weights(p.attributes, None), None, "tfidf", True, no_progress)
    steps: list[str] = []
    pos = _position(p, d, 5, None, lambda step, _f: steps.append(step))
    assert steps == ["distinctiveness", "homogeneity"]
    np.testing.assert_array_equal(pos.index, np.arange(24, 48))
    assert pos.current.n == 24 and pos.current.names == p.names[24:]
    np.testing.assert_array_equal(pos.distance, d.combined[24:, 24:])
    assert pos.attribute_distance is not None and d.attributes is not None
    np.testing.assert_array_equal(pos.attribute_distance, d.attributes[24:, 24:])
    score, nearest, pct = distinctiveness(pos.distance, 5)
    np.testing.assert_array_equal(pos.score, score)
    np.testing.assert_array_equal(pos.nearest, nearest)
    np.testing.assert_array_equal(pos.percentile, pct)
    shares = p.shares[24:] / p.shares[24:].sum()
    np.testing.assert_allclose(pos.shares, shares)
    assert pos.shares_given and pos.share_notes == ()
    shi, sdi, eff = strategic_homogeneity(pos.distance, shares)
    assert (pos.shi, pos.sdi, pos.effective) == pytest.approx((shi, sdi, eff))
    assert len(pos.trend) == 2 and pos.trend_per_year is not None


def test_structure_maps_and_groups_the_current_market() -> None:
    p, planted = _profiles()
    d = _distances(p, attribute_weights(p.attributes, None), None, "tfidf", True, no_progress)
    pos = _position(p, d, 5, None, no_progress)
    text = _current_text(d.text_model, pos.index)
    steps: list[str] = []
    st = _structure(pos, text, None, 8, 0.05, None, 0, lambda step, _f: steps.append(step))
    assert steps == ["strategic groups", "market map", "white space"]
    assert st.groups.clear and adjusted_rand_score(planted, st.groups.labels) >= 0.9
    assert st.coords.shape == (24, 2) and 0 <= st.stress < 0.3
    forced = _structure(pos, text, 2, 8, 0.05, None, 0, no_progress)
    assert forced.groups.best_split == 2
    assert set(st.white_space.columns) == set(forced.white_space.columns)
