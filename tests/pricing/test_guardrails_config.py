"""Guardrails as configuration: every check's message, the boundaries it accepts, and
the round trip through ``as_dict`` (written for the mutation run of issue #17: the
bad-input tests only asked for a ConfigError, so a check could say anything or test
the wrong bound; docs/mutation.md)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from levelfield.errors import ConfigError
from levelfield.pricing import WHOLESALE_CHANNELS, Guardrails
from levelfield.pricing._recommend import has_allowed_ending


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_step": -0.1}, "max_step must be between 0.0 and 1.0, not -0.1"),
        ({"max_step": 1.01}, "max_step must be between 0.0 and 1.0, not 1.01"),
        ({"max_step": "10%"}, "max_step must be a number, not '10%'"),
        ({"max_step": True}, "max_step must be a number, not True"),
        ({"min_margin": 0.995}, "min_margin must be between 0.0 and 0.99, not 0.995"),
        ({"channel_parity": float("nan")}, "channel_parity must be a number, not nan"),
        ({"channel_parity": 1.0}, "channel_parity must be between 0.0 and 0.99, not 1.0"),
        (
            {"competitor_ceiling_premium": 1.5},
            "competitor_ceiling_premium must be between 0.0 and 1.0, not 1.5",
        ),
        ({"floor": {"A": -1.0}}, "floor['A'] must be a positive price, not -1.0"),
        ({"floor": {"A": 0}}, "floor['A'] must be a positive price, not 0"),
        ({"ceiling": {"A": True}}, "ceiling['A'] must be a positive price, not True"),
        ({"ceiling": {"A": float("inf")}}, "ceiling['A'] must be a positive price, not inf"),
        (
            {"floor": [10.0]},
            "floor must map SKU to a price, e.g. {'SKU1': 19.99}, not list",
        ),
        (
            {"floor": {"A": 12.0}, "ceiling": {"A": 10.0}},
            "floor for 'A' (12.0) is above its ceiling (10.0)",
        ),
        (
            {"price_endings": (".97", ".99")},
            "unknown price ending(s) ['.97']; choose from .00, .49, .90, .95, .99, whole",
        ),
        (
            {"wholesale_channels": "wholesale"},
            "wholesale_channels must be a list of channel names, e.g. ['wholesale']",
        ),
        (
            {"wholesale_channels": ["wholesale", 3]},
            "wholesale_channels must be a list of channel names, e.g. ['wholesale']",
        ),
        ({"use_competitor_index": 1}, "use_competitor_index must be True or False"),
        ({"wholesale_parity": "no"}, "wholesale_parity must be True or False"),
        ({"competitor_ceiling": None}, "competitor_ceiling must be True or False"),
        ({"allow_segment_discounts": 0}, "allow_segment_discounts must be True or False"),
        (
            {"segment_discounts": [("students", 0.1)]},
            "segment_discounts must map a segment name to a discount share",
        ),
        (
            {"segment_discounts": {"students": 0.95}},
            "segment_discounts['students'] must be between 0.0 and 0.9, not 0.95",
        ),
    ],
)
def test_each_bad_guardrail_says_what_and_where(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        Guardrails(**kwargs)  # type: ignore[arg-type]


def test_bounds_are_inclusive() -> None:
    g = Guardrails(
        max_step=1.0,
        min_margin=0.99,
        channel_parity=0.99,
        competitor_ceiling_premium=1.0,
        floor={"A": 10.0},
        ceiling={"A": 10.0},
        segment_discounts={"s": 0.9},
    )
    assert (g.max_step, g.min_margin, g.channel_parity) == (1.0, 0.99, 0.99)
    g0 = Guardrails(max_step=0, min_margin=0, channel_parity=0, competitor_ceiling_premium=0)
    assert (g0.max_step, g0.min_margin, g0.channel_parity) == (0.0, 0.0, 0.0)


def test_as_dict_round_trips_and_normalises() -> None:
    g = Guardrails(
        max_step=0.2,
        floor={"A": 9},
        ceiling={"A": 12.5, 7: 3.0},  # type: ignore[dict-item]
        use_competitor_index=False,
        min_margin=0.25,
        price_endings=[".49", "whole"],  # type: ignore[arg-type]
        channel_parity=0.05,
        wholesale_channels=["Wholesale", "B2B"],  # type: ignore[arg-type]
        wholesale_parity=True,
        competitor_ceiling=True,
        competitor_ceiling_premium=0.1,
        allow_segment_discounts=True,
        segment_discounts={"students": 0.1},
    )
    d = g.as_dict()
    assert d == {
        "max_step": 0.2,
        "floor": {"A": 9.0},
        "ceiling": {"A": 12.5, "7": 3.0},
        "use_competitor_index": False,
        "min_margin": 0.25,
        "price_endings": [".49", "whole"],
        "channel_parity": 0.05,
        "wholesale_channels": ["wholesale", "b2b"],
        "wholesale_parity": True,
        "competitor_ceiling": True,
        "competitor_ceiling_premium": 0.1,
        "allow_segment_discounts": True,
        "segment_discounts": {"students": 0.1},
    }
    assert Guardrails(**d) == g
    default = Guardrails().as_dict()
    assert default["price_endings"] == [".99", ".95", "whole"]
    assert default["wholesale_channels"] == list(WHOLESALE_CHANNELS)
    assert (default["max_step"], default["min_margin"], default["channel_parity"]) == (
        0.1,
        0.1,
        0.1,
    )
    assert default["use_competitor_index"] is True and default["competitor_ceiling"] is False


@pytest.mark.parametrize(
    ("endings", "cents"),
    [
        ((".99", ".95", "whole"), [0.0, 0.95, 0.99]),
        ((".90", ".49"), [0.49, 0.90]),
        ((".00", "whole"), [0.0]),
    ],
)
def test_cents_are_the_sorted_distinct_endings(
    endings: tuple[str, ...], cents: list[float]
) -> None:
    got = Guardrails(price_endings=endings).cents()
    assert got is not None
    np.testing.assert_array_equal(got, cents)
    assert Guardrails(price_endings=()).cents() is None


def test_has_allowed_ending_needs_whole_cents_a_positive_price_and_an_ending() -> None:
    price = np.array([9.99, 9.95, 10.0, 9.49, 9.9, 9.999, 0.0, -1.0, np.nan, 19.989999999])
    cents = Guardrails(price_endings=(".99", "whole")).cents()
    assert list(has_allowed_ending(price, cents)) == [
        True,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        True,  # 19.99 up to float noise
    ]
    assert list(has_allowed_ending(price, None)) == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        True,
    ]
