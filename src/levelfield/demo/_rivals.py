"""``competitor_prices.csv``: four rivals' monthly prices, with one planted price move.

Each rival prices a few of the demo's products (by SKU) and one category at a steady
level relative to Ember & Oak's final list price (a premium roaster above, a value
roaster below), drifting slowly with at most 1.5 % noise a month, so no month-to-month
change reaches 10 % except the planted one: Altitude & Ash Roasters raises its house
blend equivalent (``BL-HOUSE``) by 18 % on 2025-10-01. The truth goes to the manifest.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levelfield.demo._catalog import PRODUCTS
from levelfield.demo._simulate import Simulation

__all__ = ["COMPETITOR_PRICE_COLUMNS", "write_competitor_prices"]

COMPETITOR_PRICE_COLUMNS = ("competitor", "item", "price", "currency", "date", "source")

#: Rival, price level relative to ours, SKUs it prices, category it prices as a whole.
_RIVALS: tuple[tuple[str, float, tuple[str, ...], str], ...] = (
    ("Northbound Coffee Lab", 1.12, ("BL-HOUSE", "BL-ESP", "SO-ETH-YIR"), "decaf"),
    ("Altitude & Ash Roasters", 1.04, ("BL-HOUSE", "BL-ESP", "SO-COL-HUI"), "decaf"),
    ("Lumen Coffee Works", 0.97, ("BL-HOUSE", "SO-ETH-YIR", "SO-BRA-CER"), "decaf"),
    ("Summit Value Roasters", 0.82, ("BL-HOUSE", "BL-DARK", "SO-BRA-CER"), "decaf"),
)
_MOVE_RIVAL, _MOVE_ITEM, _MOVE_DATE, _MOVE_CHANGE = (
    "Altitude & Ash Roasters",
    "BL-HOUSE",
    "2025-10-01",
    0.18,
)
_FIRST_MONTH = dt.date(2024, 1, 1)
_MONTHS = 24


def write_competitor_prices(sim: Simulation, seed: int, path: Path) -> dict[str, Any]:
    """Write the file; return the manifest's truth (the planted move, the rivals)."""
    rng = np.random.default_rng([seed, 2112])
    final = {p.sku: float(sim.prices[0, j, -1]) for j, p in enumerate(PRODUCTS)}
    by_cat: dict[str, list[float]] = {}
    for p in PRODUCTS:
        by_cat.setdefault(p.category, []).append(final[p.sku])
    months = pd.date_range(_FIRST_MONTH, periods=_MONTHS, freq="MS")
    move_at = pd.Timestamp(_MOVE_DATE)
    frames = []
    for name, level, skus, category in _RIVALS:
        items = [*skus, category]
        base = np.array([*(final[s] for s in skus), float(np.median(by_cat[category]))])
        drift = 1.0 + 0.002 * np.arange(_MONTHS)
        noise = 1.0 + rng.uniform(-0.015, 0.015, size=(len(items), _MONTHS))
        price = level * base[:, None] * drift[None, :] * noise
        planted = (name == _MOVE_RIVAL) & (np.array(items) == _MOVE_ITEM)
        price[planted] *= np.where(months >= move_at, 1.0 + _MOVE_CHANGE, 1.0)[None, :]
        slug = name.lower().replace(" & ", "-").replace(" ", "-").replace(".", "")
        frames.append(
            pd.DataFrame(
                {
                    "competitor": name,
                    "item": np.repeat(items, _MONTHS),
                    "price": np.round(price.ravel(), 2),
                    "currency": "USD",
                    "date": np.tile(months.strftime("%Y-%m-%d"), len(items)),
                    "source": f"{slug}.example/shop (web page)",
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    table.to_csv(path, index=False, columns=list(COMPETITOR_PRICE_COLUMNS), float_format="%.2f")
    return {
        "planted_move": {
            "competitor": _MOVE_RIVAL,
            "item": _MOVE_ITEM,
            "date": _MOVE_DATE,
            "change": _MOVE_CHANGE,
        },
        "rivals": [name for name, *_ in _RIVALS],
        "months": _MONTHS,
        "rows": len(table),
        "max_unplanted_change": 0.04,
    }
