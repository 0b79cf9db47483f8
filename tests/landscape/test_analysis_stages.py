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
    _self_attribution,
)
from levelfield.landscape._gower import attribute_weights


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
