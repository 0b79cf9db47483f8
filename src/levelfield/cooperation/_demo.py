"""A small demo buying group with planted price breaks (known answers for tests and demos)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["DEMO_TRUTH", "demo_group", "write_demo_group"]

_MEMBERS = (
    "Bean There Cafe",
    "Corner Bakery",
    "Oak Street Deli",
    "Rise & Shine Bakery",
    "Little Roastery",
    "Green Leaf Cafe",
)
# (supplier, item, [(min_volume, unit_price), ...], {member: (annual volume, price today)})
_PLAN: tuple[tuple[str, str, list[tuple[float, float]], dict[str, tuple[float, float]]], ...] = (
    (
        "Nordic Roast Supply",
        "espresso beans 1 kg",
        [(0, 22.90), (500, 20.40), (1000, 18.90), (2000, 17.50)],
        {
            "Bean There Cafe": (600, 21.50),
            "Green Leaf Cafe": (300, 22.90),
            "Oak Street Deli": (250, 22.90),
            "Corner Bakery": (200, 22.90),
            "Rise & Shine Bakery": (150, 22.90),
        },
    ),
    (
        "Mill & Co",
        "bread flour 25 kg",
        [(0, 19.00), (400, 16.00), (800, 14.50)],
        {
            "Corner Bakery": (350, 18.50),
            "Rise & Shine Bakery": (330, 18.80),
            "Oak Street Deli": (60, 15.50),  # an own deal below the group's price
        },
    ),
    (
        "PackRight",
        "paper cups 12 oz (1000)",
        [(0, 68.00), (100, 59.00), (250, 52.00)],
        {m: (v, 68.00) for m, v in zip(_MEMBERS, (40, 35, 30, 30, 25, 20), strict=True)},
    ),
    (
        "Dairy Alt",
        "oat milk 1 l (case of 12)",
        [(0, 26.00), (300, 21.00)],
        {
            "Bean There Cafe": (150, 22.00),
            "Green Leaf Cafe": (150, 22.00),
            "Little Roastery": (150, 30.00),  # pays far more today than the others
        },
    ),
)

DEMO_TRUTH = {
    "tiers": {
        "espresso beans 1 kg": 3,  # 1,500 kg: tier 1,000, 500 short of the next
        "bread flour 25 kg": 2,  # 740 sacks: tier 400
        "paper cups 12 oz (1000)": 2,  # 180 cases, nobody reaches 100 alone
        "oat milk 1 l (case of 12)": 2,  # 450 cases: only two of the three needed
    },
    "own_deal": ("Oak Street Deli", "bread flour 25 kg"),
    # Under the proportional split a subgroup with Little Roastery (pays most today for
    # oat milk) and without the Deli (whose cheap flour is pooled at the group price)
    # does better alone; the nucleolus is in the core.
    "in_leaving_subgroup": "Little Roastery",
    "not_in_leaving_subgroup": "Oak Street Deli",
}
"""What the demo group was built to show, for tests and the demo's explanation."""


def demo_group() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Purchases and price breaks of the demo group (six cafes, bakeries and a deli)."""
    purchases = pd.DataFrame(
        [
            (member, supplier, item, volume, price)
            for supplier, item, _, buyers in _PLAN
            for member, (volume, price) in buyers.items()
        ],
        columns=["member", "supplier", "item", "annual_volume", "unit_price"],
    )
    breaks = pd.DataFrame(
        [(supplier, item, lo, price) for supplier, item, tiers, _ in _PLAN for lo, price in tiers],
        columns=["supplier", "item", "min_volume", "unit_price"],
    )
    return purchases, breaks


def write_demo_group(directory: Path) -> tuple[Path, Path]:
    """Write ``purchases.csv`` and ``price_breaks.csv`` of the demo group into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    purchases, breaks = demo_group()
    p, b = directory / "purchases.csv", directory / "price_breaks.csv"
    purchases.to_csv(p, index=False)
    breaks.to_csv(b, index=False)
    return p, b
