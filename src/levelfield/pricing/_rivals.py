"""Reference prices from the rivals' latest observed prices (``competitor_prices``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from levelfield.workspace import rival_prices

__all__ = ["rival_reference"]


def rival_reference(con: Any, currency: str) -> tuple[pd.DataFrame, list[str]]:
    """Each product's rivals at their latest observation: count, lowest, median, highest.

    Parameters
    ----------
    con
        A workspace connection.
    currency
        The base currency; rival prices in another currency are left out (named in a note).

    Returns
    -------
    reference, notes
        ``sku, rivals, rival_low, rival_reference`` (median), ``rival_high``,
        ``rivals_as_of`` (newest observation used); empty without competitor prices.
    """
    rp = rival_prices(con, currency)
    notes: list[str] = []
    if rp.other_currency:
        notes.append(
            f"{rp.other_currency:,} competitor price(s) not in {currency} were left out of the "
            "reference prices (not converted); record them in your base currency"
        )
    if rp.unmatched:
        shown = ", ".join(rp.unmatched[:5]) + (" ..." if len(rp.unmatched) > 5 else "")
        notes.append(
            f"competitor prices for {len(rp.unmatched)} item(s) that are none of your SKUs, "
            f"product names or categories were left out: {shown}"
        )
    snap = rp.snapshots
    if snap.empty:
        return pd.DataFrame(
            columns=["sku", "rivals", "rival_low", "rival_reference", "rival_high", "rivals_as_of"]
        ), notes
    latest = snap.sort_values("date").groupby(["sku", "competitor"], as_index=False).last()
    ref = latest.groupby("sku", as_index=False).agg(
        rivals=("competitor", "nunique"),
        rival_low=("price", "min"),
        rival_reference=("price", "median"),
        rival_high=("price", "max"),
        rivals_as_of=("date", "max"),
    )
    return ref, notes
