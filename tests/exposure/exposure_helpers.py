"""Helpers building small hand-made workspaces (rows inserted directly)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from levelfield import Workspace


def insert(ws: Workspace, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert dict rows (``import_id`` defaults to 1)."""
    for row in rows:
        r = {"import_id": 1, **row}
        cols = ", ".join(f'"{c}"' for c in r)
        marks = ", ".join("?" for _ in r)
        ws.con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(r.values()))


def order(
    order_id: str,
    channel: str,
    gross: float,
    *,
    customer: str | None = "c1",
    fees: float | None = None,
    day: int = 1,
    shipping: float = 0.0,
    tax: float = 0.0,
    discount: float = 0.0,
    refunded: float = 0.0,
    status: str = "paid",
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": customer,
        "ordered_at": f"2025-01-{day:02d} 12:00:00",
        "channel": channel,
        "currency": "USD",
        "gross": gross,
        "discount": discount,
        "tax": tax,
        "shipping": shipping,
        "fees": fees,
        "refunded": refunded,
        "status": status,
    }


def business(ws: Workspace, **values: Any) -> None:
    insert(ws, "business", [{"key": k, "value": json.dumps(v)} for k, v in values.items()])
