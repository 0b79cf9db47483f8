"""Competitor prices over time, matched to the owner's products (one meaning for all).

``competitor_prices`` holds what the owner saw rivals charge: one row per competitor,
item and date. ``item`` names one of the owner's SKUs, product names or categories. Here
each observation is matched to the owner's products: an item equal (case and spaces
aside) to a SKU or a product name prices that product; one equal to a category prices
every product of the category, unless the same rival has a product-level price of that
product on that date. Pricing reads the latest snapshot of each rival as a reference and
a ceiling; landscape reads the whole history for positioning, its trend and the rivals'
price moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["WHOLESALE_CHANNELS", "RivalPrices", "rival_prices"]

#: Channel names (case-insensitive) whose prices are negotiated (wholesale, B2B): left
#: out of demand estimation and of the owner's posted price, and not held to retail
#: channel parity unless asked.
WHOLESALE_CHANNELS: tuple[str, ...] = ("wholesale", "b2b")

_OWN = """
    own AS (
        SELECT sku, any_value(name) AS name, any_value(category) AS category FROM (
            SELECT sku, name, category FROM products
            UNION ALL
            SELECT DISTINCT sku, product AS name, category FROM order_lines
            WHERE sku IS NOT NULL
        ) WHERE sku IS NOT NULL GROUP BY sku
    )"""


@dataclass(frozen=True)
class RivalPrices:
    """Rival price snapshots in the base currency, matched to the owner's products.

    Attributes
    ----------
    snapshots
        ``competitor, item, level`` (``product`` or ``category``), ``sku``, ``date``,
        ``price`` (float, base currency): one row per rival, product and date.
    unmatched
        Items that name no SKU, product or category of the owner (they are left out).
    other_currency
        Observations in another currency than ``currency`` (left out, not converted).
    currency
        The base currency.
    """

    snapshots: pd.DataFrame
    unmatched: tuple[str, ...]
    other_currency: int
    currency: str

    @property
    def empty(self) -> bool:
        return self.snapshots.empty


def rival_prices(con: Any, currency: str) -> RivalPrices:
    """Every dated rival price of ``currency`` (or without one), matched to products.

    Parameters
    ----------
    con
        A workspace connection.
    currency
        The base currency (``ws.currency()``); rows in another currency are counted in
        ``other_currency`` and left out.
    """
    norm = "lower(trim(regexp_replace({x}, '\\s+', ' ', 'g')))"
    item, sku, name, cat = (norm.format(x=x) for x in ("c.item", "o.sku", "o.name", "o.category"))
    base = "(c.currency IS NULL OR upper(c.currency) = ?)"
    frame = con.execute(
        f"WITH {_OWN}, m AS ("
        "SELECT c.competitor, c.item, "
        f"CASE WHEN {item} IN ({sku}, coalesce({name}, '')) THEN 'product' ELSE 'category' END "
        'AS level, o.sku, c."date", CAST(c.price AS DOUBLE) AS price '
        f"FROM competitor_prices c JOIN own o ON {item} IN ({sku}, coalesce({name}, ''), "
        f"coalesce({cat}, '')) WHERE {base}) "
        'SELECT competitor, item, level, sku, "date", price FROM m '
        'QUALIFY row_number() OVER (PARTITION BY competitor, sku, "date" '
        "ORDER BY level = 'product' DESC, item) = 1 "
        'ORDER BY competitor, sku, "date"',
        [currency],
    ).df()
    unmatched = con.execute(
        f"WITH {_OWN} SELECT DISTINCT c.item FROM competitor_prices c WHERE NOT EXISTS "
        f"(SELECT 1 FROM own o WHERE {item} IN ({sku}, coalesce({name}, ''), "
        f"coalesce({cat}, ''))) ORDER BY 1"
    ).fetchall()
    other = con.execute(
        "SELECT count(*) FROM competitor_prices c WHERE NOT (c.currency IS NULL OR "
        "upper(c.currency) = ?)",
        [currency],
    ).fetchall()[0][0]
    frame["date"] = pd.to_datetime(frame["date"])
    return RivalPrices(
        snapshots=frame,
        unmatched=tuple(str(r[0]) for r in unmatched),
        other_currency=int(other),
        currency=currency,
    )
