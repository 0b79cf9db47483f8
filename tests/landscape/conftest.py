"""Fixtures for the landscape tests: small synthetic markets with planted groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levelfield.landscape import make_market


@pytest.fixture
def market() -> tuple[pd.DataFrame, dict[str, str], np.ndarray]:
    """24 firms in 4 planted strategic groups, 12 mixed attributes, short texts."""
    return make_market(24, 4, n_attributes=12, noise=0.08, seed=3)


@pytest.fixture
def bakery_frame() -> pd.DataFrame:
    """A hand-written bakery market with every attribute type and a type row."""
    rows = [
        [
            "#type",
            "-",
            "-",
            "-",
            "numeric",
            "ordinal(budget<mid<premium)",
            "category",
            "set",
            "flag",
            "flag",
            "text",
        ],
        [
            "Our Bakery",
            "yes",
            "Family-owned bakery with passion and quality: sourdough and rye.",
            "0.10",
            "1.1",
            "mid",
            "artisan",
            "walk-in;cafe",
            "yes",
            "no",
            "Slow rye loaves",
        ],
        [
            "Crumb & Co",
            "no",
            "Sourdough, rye and spelt baked with passion and quality.",
            "0.20",
            "1.2",
            "mid",
            "artisan",
            "walk-in;cafe",
            "yes",
            "no",
            "Rye and spelt",
        ],
        [
            "Bread Box",
            "no",
            "Quality supermarket bread at friendly prices, family owned.",
            "0.40",
            "0.7",
            "budget",
            "industrial",
            "walk-in;delivery",
            "no",
            "yes",
            "",
        ],
        [
            "Sugar Tier",
            "no",
            "Bespoke wedding cakes, tiered fondant and sugarcraft.",
            "0.15",
            "1.8",
            "premium",
            "cakes",
            "online;delivery",
            "yes",
            "yes",
            "Custom cakes",
        ],
        [
            "Vegan Oven",
            "no",
            "Plant-based vegan pastries, oat milk and gluten-free bakes.",
            "0.15",
            "1.3",
            "premium",
            "artisan",
            "walk-in;online",
            "yes",
            "no",
            "",
        ],
    ]
    cols = [
        "name",
        "self",
        "description",
        "market_share",
        "price_index",
        "price_tier",
        "style",
        "channels",
        "online_ordering",
        "subscription",
        "tagline",
    ]
    return pd.DataFrame(rows, columns=cols)
