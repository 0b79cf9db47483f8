"""Test workspaces for scenarios, built by inserting rows directly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from levelfield import Workspace, open_workspace


def fill_business(
    ws: Workspace,
    *,
    months: int = 24,
    seed: int = 7,
    profile: dict[str, object] | None = None,
    with_costs: bool = True,
    with_products: bool = True,
    orders_per_month: int = 120,
) -> None:
    """A small shop: shopify (own store), etsy and amazon; suppliers in CN and US."""
    rng = np.random.default_rng(seed)
    con = ws.con
    con.execute(
        "INSERT INTO imports VALUES (1, 'orders', 'test', 'x', 'test', 0, 0, 0, "
        "TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01', 'ok', NULL)"
    )
    n = months * orders_per_month
    start = np.datetime64("2022-01-01T00:00:00")
    day = rng.uniform(0, months * 30.4375, n)
    season = 1 + 0.3 * np.sin(2 * np.pi * (day / 365.25))
    keep = rng.random(n) < season / 1.3
    day = np.sort(day[keep])
    n = day.size
    ts = start + (day * 86400).astype("timedelta64[s]")
    channel = rng.choice(["shopify", "etsy", "amazon"], size=n, p=[0.5, 0.3, 0.2])
    price = rng.choice([20.0, 35.0, 50.0], size=n)
    qty = rng.integers(1, 4, size=n)
    gross = price * qty
    fee_rate = np.select([channel == "etsy", channel == "amazon"], [0.095, 0.15], 0.03)
    orders_df = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": [f"c{j}" for j in rng.integers(0, 400, size=n)],
            "ordered_at": ts,
            "channel": channel,
            "store": None,
            "currency": "EUR",
            "gross": gross,
            "discount": 0.0,
            "tax": 0.0,
            "shipping": 0.0,
            "fees": np.round(gross * fee_rate, 2),
            "refunded": np.where(rng.random(n) < 0.04, gross, 0.0),
            "status": "paid",
            "refund_of": None,
            "import_id": 1,
        }
    )
    con.register("orders_df", orders_df)
    con.execute("INSERT INTO orders SELECT * FROM orders_df")
    sku = np.where(price == 20.0, "MUG", np.where(price == 35.0, "BAG", "LAMP"))
    lines_df = pd.DataFrame(
        {
            "order_id": orders_df["order_id"],
            "line_no": 1,
            "sku": sku,
            "product": sku,
            "category": "home",
            "quantity": qty.astype(float),
            "unit_price": price,
            "list_price": price,
            "discount": 0.0,
            "import_id": 1,
        }
    )
    con.register("lines_df", lines_df)
    con.execute("INSERT INTO order_lines SELECT * FROM lines_df")
    if with_products:
        con.execute(
            "INSERT INTO products VALUES ('MUG','Mug','home',8,20,'EUR','S1',1),"
            "('BAG','Bag','home',14,35,'EUR','S2',1),('LAMP','Lamp','home',20,50,'EUR','S1',1)"
        )
        con.execute(
            "INSERT INTO suppliers VALUES ('S1','Shenzhen Co','CN',40000,'USD',45,'',1),"
            "('S2','Local Leather','FR',20000,'EUR',10,'S9',1)"
        )
    con.execute(
        "INSERT INTO channels VALUES ('shopify','shopify','shopify_payments_basic',true,NULL,1),"
        "('etsy','etsy','etsy_standard',false,NULL,1),"
        "('amazon','amazon','amazon_referral_standard',false,NULL,1)"
    )
    if with_costs:
        ms = pd.date_range("2022-01-01", periods=months, freq="MS")
        costs_df = pd.DataFrame(
            {
                "month": np.repeat(ms.date, 3),
                "category": ["rent", "wages", "packaging"] * months,
                "amount": [800.0, 1200.0, 300.0] * months,
                "fixed": [True, True, False] * months,
                "currency": "EUR",
                "import_id": 1,
            }
        )
        con.register("costs_df", costs_df)
        con.execute("INSERT INTO costs SELECT * FROM costs_df")
    prof = {
        "currency": "EUR",
        "country": "FR",
        "opening_cash": 20000,
        "debt": 30000,
        "interest_rate": 0.06,
        "employees": 3,
    }
    prof.update(profile or {})
    for k, v in prof.items():
        if v is not None:
            con.execute("INSERT INTO business VALUES (?, ?, 1)", [k, json.dumps(v)])


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace with two years of a three-channel shop."""
    w = open_workspace(tmp_path / "shop.duckdb")
    fill_business(w)
    yield w
    w.close()


@pytest.fixture
def make_shop(tmp_path: Path) -> Iterator[Callable[..., Workspace]]:
    """Factory of shop workspaces with options of :func:`fill_business`."""
    opened: list[Workspace] = []

    def make(name: str = "custom", **kwargs: Any) -> Workspace:
        w = open_workspace(tmp_path / f"{name}.duckdb")
        fill_business(w, **kwargs)
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()
