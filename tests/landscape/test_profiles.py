"""Typed competitor profiles: parsing, inference and every bad input of issue 5."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levelfield.errors import (
    DataError,
    DataQualityWarning,
    InsufficientDataError,
    ParseError,
    SchemaError,
)
from levelfield.landscape import AttributeSpec, profiles_from_frame
from levelfield.landscape._profiles import parse_type


def _by_name(profiles, name):
    return next(a for a in profiles.attributes if a.name == name)


def test_type_row_is_read_and_values_encoded(bakery_frame: pd.DataFrame) -> None:
    p = profiles_from_frame(bakery_frame)
    assert p.n == 5
    assert p.self_index == 0
    kinds = {a.name: a.kind for a in p.attributes}
    assert kinds == {
        "price_index": "numeric",
        "price_tier": "ordinal",
        "style": "category",
        "channels": "set",
        "online_ordering": "flag",
        "subscription": "flag",
    }
    assert p.text_columns == ("tagline",)
    assert "Slow rye loaves" in p.texts[0]
    np.testing.assert_allclose(_by_name(p, "price_tier").values, [1, 1, 0, 2, 2])
    ch = _by_name(p, "channels")
    assert set(ch.labels) == {"walk-in", "cafe", "delivery", "online"}
    assert ch.values.sum(axis=1).tolist() == [2, 2, 2, 2, 2]
    np.testing.assert_allclose(p.shares, [0.1, 0.2, 0.4, 0.15, 0.15])


def test_types_argument_and_inference() -> None:
    df = pd.DataFrame(
        {
            "name": ["A", "B", "C", "D"],
            "rating": ["4.5", "3.9", "4.1", "4.8"],
            "delivery": ["Yes", "no", "TRUE", "0"],
            "segments": ["kids;families", "students", "kids", "offices;students"],
            "style": ["modern", "classic", "modern", "classic"],
            "about": [
                "we bake bread every morning for the village",
                "cakes for weddings and birthdays in town",
                "a small cafe with sourdough and coffee",
                "catering for offices across the city",
            ],
            "tier": ["low", "high", "mid", "low"],
        }
    )
    p = profiles_from_frame(df, {"tier": "ordinal(low<mid<high)"})
    kinds = {a.name: (a.kind, a.spec.inferred) for a in p.attributes}
    assert kinds["rating"] == ("numeric", True)
    assert kinds["delivery"] == ("flag", True)
    assert kinds["segments"] == ("set", True)
    assert kinds["style"] == ("category", True)
    assert kinds["tier"] == ("ordinal", False)
    assert p.text_columns == ("about",)
    np.testing.assert_allclose(_by_name(p, "delivery").values, [1, 0, 1, 0])
    assert any("read as numeric" in note for note in p.notes)


def test_missing_values_are_not_available() -> None:
    df = pd.DataFrame(
        {
            "name": ["A", "B", "C"],
            "rating": [4.5, np.nan, 3.0],
            "style": ["x", "", "y"],
            "flag": ["yes", "n/a", None],
            "size": [1.0, 2.0, 3.0],
        }
    )
    p = profiles_from_frame(df, {"rating": "numeric", "style": "category", "flag": "flag"})
    for a in p.attributes[:3]:
        assert not a.available[1]
    assert np.isnan(_by_name(p, "rating").values[1])


def test_fewer_than_three_firms_is_insufficient() -> None:
    df = pd.DataFrame({"name": ["A", "B"], "rating": [1.0, 2.0]})
    with pytest.raises(InsufficientDataError, match="at least 3"):
        profiles_from_frame(df)


def test_duplicate_names_are_rejected_with_advice() -> None:
    df = pd.DataFrame({"name": ["Crumb", "crumb ", "Other"], "rating": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="more than once.*snapshot_date"):
        profiles_from_frame(df)


def test_same_name_on_different_snapshot_dates_is_allowed() -> None:
    df = pd.DataFrame(
        {
            "name": ["A", "A", "B", "C"],
            "snapshot_date": ["2023-01-01", "2024-01-01", "2024-01-01", "2024-01-01"],
            "rating": [1.0, 2.0, 3.0, 4.0],
        }
    )
    p = profiles_from_frame(df)
    assert p.n == 4
    assert p.latest_index().tolist() == [1, 2, 3]


def test_firm_with_every_attribute_missing_is_dropped_with_warning() -> None:
    df = pd.DataFrame(
        {
            "name": ["A", "B", "C", "Ghost"],
            "rating": [1.0, 2.0, 3.0, None],
            "tier": ["x", "y", "x", ""],
        }
    )
    with pytest.warns(DataQualityWarning, match="Ghost"):
        p = profiles_from_frame(df)
    assert p.names == ("A", "B", "C")
    assert any("Ghost" in note for note in p.notes)


def test_empty_self_row_is_an_error() -> None:
    df = pd.DataFrame(
        {
            "name": ["Me", "B", "C", "D"],
            "self": ["yes", "no", "no", "no"],
            "rating": [None, 2.0, 3.0, 1.0],
        }
    )
    with pytest.raises(DataError, match="your own business"):
        profiles_from_frame(df)


def test_dropping_empty_firms_can_leave_too_few() -> None:
    df = pd.DataFrame({"name": ["A", "B", "C"], "rating": [1.0, 2.0, None]})
    with pytest.warns(DataQualityWarning), pytest.raises(InsufficientDataError):
        profiles_from_frame(df)


@pytest.mark.parametrize(
    "values",
    [
        ["12", "about 20", "15", "9"],  # mostly numbers, one word
        ["ab12", "cd34", "ef56", "gh78", "ij90"],  # all-distinct short labels
    ],
)
def test_uninferable_column_suggests_the_type_row(values: list[str]) -> None:
    df = pd.DataFrame({"name": [f"F{i}" for i in range(len(values))], "mystery": values})
    with pytest.raises(SchemaError, match="#type") as err:
        profiles_from_frame(df)
    assert "mystery" in str(err.value)


def test_unknown_type_lists_valid_types() -> None:
    df = pd.DataFrame({"name": ["A", "B", "C"], "x": ["1", "2", "3"]})
    with pytest.raises(SchemaError, match="numbr.*numeric, ordinal"):
        profiles_from_frame(df, {"x": "numbr"})


@pytest.mark.parametrize(
    ("type_", "bad", "match"),
    [
        ("numeric", "twelve", "not a number"),
        ("ordinal(low<high)", "medium", "not one of the levels"),
        ("flag", "maybe", "not a flag"),
    ],
)
def test_value_not_fitting_its_type_names_firm_and_column(type_: str, bad: str, match: str) -> None:
    df = pd.DataFrame({"name": ["A", "B", "C"], "x": ["1", bad, "0"]})
    if type_.startswith("ordinal"):
        df["x"] = ["low", bad, "high"]
    if type_ == "flag":
        df["x"] = ["yes", bad, "no"]
    with pytest.raises(ParseError, match=match) as err:
        profiles_from_frame(df, {"x": type_})
    assert "'B'" in str(err.value) and '"x"' in str(err.value)


def test_negative_share_is_an_error() -> None:
    df = pd.DataFrame({"name": ["A", "B", "C"], "market_share": [0.5, -0.1, 0.6], "r": [1, 2, 3]})
    with pytest.raises(DataError, match="negative"):
        profiles_from_frame(df)


def test_percent_shares_are_parsed() -> None:
    df = pd.DataFrame({"name": ["A", "B", "C"], "market_share": ["50%", "30%", ""], "r": [1, 2, 3]})
    p = profiles_from_frame(df)
    np.testing.assert_allclose(p.shares[:2], [0.5, 0.3])
    assert np.isnan(p.shares[2])


def test_wrong_input_type_and_missing_name_column() -> None:
    with pytest.raises(DataError, match="DataFrame"):
        profiles_from_frame([["A", 1]])  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="no 'name' column"):
        profiles_from_frame(pd.DataFrame({"firm": ["A", "B", "C"]}))


def test_several_self_firms_is_an_error() -> None:
    df = pd.DataFrame({"name": ["A", "B", "C"], "self": ["yes", "yes", "no"], "r": [1, 2, 3]})
    with pytest.raises(DataError, match="marked self"):
        profiles_from_frame(df)


@pytest.mark.parametrize("bad", ["ordinal(a)", "ordinal(a<a)", "ordinal(a<)"])
def test_bad_ordinal_declarations(bad: str) -> None:
    with pytest.raises(SchemaError):
        parse_type(bad, "tier")


def test_parse_type_labels_round_trip() -> None:
    spec = parse_type("ordinal(budget < mid < premium)", "tier")
    assert spec == AttributeSpec("tier", "ordinal", ("budget", "mid", "premium"))
    assert spec is not None and spec.type_label() == "ordinal(budget<mid<premium)"
    assert parse_type("-", "name") is None
