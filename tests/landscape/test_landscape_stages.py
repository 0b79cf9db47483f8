"""The named stages of the landscape's profile reading, Gower kernels, text model,
white-space tests and synthetic market, each on its own small input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix
from scipy.stats import fisher_exact

from levelfield.errors import DataError, SchemaError
from levelfield.landscape import binary_features, make_market, profiles_from_frame
from levelfield.landscape._gower import _numeric_kernels, _set_kernels
from levelfield.landscape._profiles import _check_firms, _frame_columns, _type_row
from levelfield.landscape._synthetic import _attribute_column, _descriptions
from levelfield.landscape._text import _calibrated_distance, _cliches, text_model
from levelfield.landscape._whitespace import _attribute_lifts, _pair_tests


def test_frame_columns_and_type_row() -> None:
    df = pd.DataFrame(
        {" Name ": ["#type", "A", "B"], "tier": ["ordinal(lo<hi)", "lo", "hi"], "x": ["-", 1, 2]}
    )
    frame, cols, name_col = _frame_columns(df)
    assert name_col == "Name" and list(cols) == ["Name", "tier", "x"]
    rows, declared = _type_row(frame, cols, name_col, {"x": "numeric"})
    assert list(rows["Name"]) == ["A", "B"] and list(rows.index) == [0, 1]
    assert declared == {"x": "numeric", "tier": "ordinal(lo<hi)"}  # given types win
    with pytest.raises(SchemaError, match="no 'name' column"):
        _frame_columns(pd.DataFrame({"firm": ["a"]}))
    with pytest.raises(SchemaError, match="same name"):
        _frame_columns(pd.DataFrame([[1, 2]], columns=["name", " name"]))
    with pytest.raises(DataError, match="DataFrame"):
        _frame_columns([["a"]])


def test_check_firms_one_row_per_snapshot_and_one_self() -> None:
    no_date = np.array(["NaT"] * 3, dtype="datetime64[D]")
    _check_firms(["A", "B", "C"], no_date, np.array([True, False, False]))
    with pytest.raises(DataError, match="'A', 'a'"):
        _check_firms(["A", "a", "C"], no_date, np.zeros(3, bool))
    two_dates = np.array(["2024-01-01", "2025-01-01", "NaT"], dtype="datetime64[D]")
    _check_firms(["A", "a", "C"], two_dates, np.zeros(3, bool))
    with pytest.raises(DataError, match="2 different firms are marked self"):
        _check_firms(["A", "B", "C"], no_date, np.array([True, True, False]))


def test_numeric_and_set_kernels_are_gower_and_jaccard() -> None:
    df = pd.DataFrame(
        {
            "name": list("abcd"),
            "price": ["1", "3", "5", "9"],
            "size": ["10", "", "30", "20"],
            "menu": ["x;y", "y", "x;y;z", "z"],
        }
    )
    p = profiles_from_frame(df, {"price": "numeric", "size": "numeric", "menu": "set"})
    used = [(a, 1.0) for a in p.attributes]
    rows = np.arange(4, dtype=np.intp)
    num, den = np.zeros((4, 4)), np.zeros((4, 4))
    for k in _numeric_kernels(used):
        k(rows, num, den)
    price = np.array([1, 3, 5, 9.0])
    size = np.array([10, np.nan, 30, 20.0])
    d_size = np.abs(size[:, None] - size[None, :]) / 20.0
    both = ~np.isnan(d_size)
    expect = np.abs(price[:, None] - price[None, :]) / 8.0 + np.nan_to_num(d_size)
    np.testing.assert_allclose(num, expect)
    np.testing.assert_allclose(den, 1.0 + both)
    num, den = np.zeros((4, 4)), np.zeros((4, 4))
    for k in _set_kernels(used):
        k(rows, num, den)
    assert num[0, 1] == pytest.approx(1 - 1 / 2) and num[0, 2] == pytest.approx(1 - 2 / 3)
    assert num[0, 3] == pytest.approx(1.0) and (den == 1.0).all()


def test_calibrated_distance_removes_chance_and_marks_missing_text() -> None:
    sim = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.0], [0.0, 0.0, 0.0]])
    base_sim = np.zeros((3, 4))
    dist, chance = _calibrated_distance(sim, base_sim, np.array([True, True, False]))
    assert list(chance) == [0.0, 0.0, 0.0]
    assert dist[0, 1] == pytest.approx(0.4) and dist[0, 0] == 0.0
    assert np.isnan(dist[2]).all() and np.isnan(dist[:, 2]).all()
    # a higher chance similarity to generic texts makes the same overlap count less
    dist2, _ = _calibrated_distance(sim, np.full((3, 4), 0.5), np.array([True, True, False]))
    assert dist2[0, 1] > dist[0, 1]


def test_cliches_are_words_most_rivals_use() -> None:
    texts = [
        "sourdough rye passion",
        "passion baguette croissant",
        "passion pastry eclair",
        "passion bagel rye",
    ]
    m = text_model(texts, method="tfidf", baseline=())
    present = (csr_matrix(m.tfidf) > 0).astype(float).tocsc()
    df_market = np.asarray(present.sum(axis=0)).ravel()
    table, share = _cliches(present.tocsr()[0], df_market, 4, m, 0.5)
    assert list(table["term"]) == ["passion"]  # 3 of 3 rivals; rye only 1 of 3
    assert int(table["rivals_using"].iloc[0]) == 3
    assert share == pytest.approx(1 / 3)  # of sourdough, rye, passion


def test_pair_tests_match_fisher_exact_lower_tail() -> None:
    df, types, _ = make_market(40, 2, n_attributes=10, noise=0.2, seed=1)
    feats = binary_features(profiles_from_frame(df, types).attributes)
    F = feats.present.astype(float)
    A = feats.available.astype(float)
    iu, ju, o, nn, expected, p = _pair_tests(feats, F, A, None, ())
    assert iu.size > 10
    src = np.asarray(feats.attribute, dtype=object)
    assert (src[iu] != src[ju]).all()
    for t in range(0, iu.size, max(iu.size // 8, 1)):
        i, j = iu[t], ju[t]
        known = (A[:, i] * A[:, j]) > 0
        a, b = F[known, i] > 0, F[known, j] > 0
        table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
        assert p[t] == pytest.approx(fisher_exact(table, alternative="less")[1], rel=1e-9)
        assert expected[t] == pytest.approx(a.sum() * b.sum() / known.sum())
        assert (o[t], nn[t]) == (np.sum(a & b), known.sum())
    excluded = _pair_tests(feats, F, A, None, (src[0],))[0]
    assert excluded.size < iu.size


def test_attribute_lifts_keep_features_most_of_a_group_has() -> None:
    df = pd.DataFrame({"name": list("abcdef"), "vegan": ["yes"] * 3 + ["no"] * 3})
    feats = binary_features(profiles_from_frame(df, {"vegan": "flag"}).attributes)
    labels = np.array([0, 0, 0, 1, 1, 1])
    groups = np.unique(labels)
    onehot = (labels[:, None] == groups[None, :]).astype(float)
    table = _attribute_lifts(feats, groups, onehot, 3)
    # a flag is one feature: group 0 has it (100 % vs 50 %), group 1 has nothing above
    assert list(table["group"]) == [0] and list(table["feature"]) == ["vegan"]
    assert list(table["group_share"]) == [1.0] and list(table["lift"]) == [0.5]
    assert _attribute_lifts(feats, groups, onehot, 0).empty


def test_synthetic_attribute_columns_follow_the_prototypes() -> None:
    groups = np.array([0, 0, 1, 1, 0, 1], dtype=np.intp)
    rng = np.random.default_rng(0)
    cells, kind = _attribute_column("category", "category_02", groups, 2, 0.0, rng)
    assert kind == "category"
    assert len(set(cells[groups == 0])) == 1 and len(set(cells[groups == 1])) == 1
    assert cells[0] != cells[2]
    flags, kind = _attribute_column("flag", "flag_04", groups, 2, 1.0, rng)
    assert kind == "flag" and set(flags) <= {"yes", "no"}
    texts = _descriptions(groups, 2, 10, np.random.default_rng(1))
    assert len(texts) == 6 and all(len(t.split()) >= 10 for t in texts)
