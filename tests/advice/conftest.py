from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from levelfield import Workspace, open_workspace


def _insert_business(ws: Workspace) -> None:
    con = ws.con
    con.execute(
        "INSERT INTO imports VALUES (1, 'orders', 't.csv', 'x', 'test', 6, 6, 0, now(), now(), 'ok', NULL)"
    )
    # 12 months of orders in two channels; amazon carries 60 % of revenue.
    con.execute(
        """INSERT INTO orders
           SELECT 'o' || i, 'c' || (i % 40), TIMESTAMP '2024-01-01' + INTERVAL (i) DAY,
                  CASE WHEN i % 5 < 3 THEN 'amazon' ELSE 'shopify' END, NULL, 'USD',
                  100, 0, 0, 0,
                  CASE WHEN i % 5 < 3 THEN 15 ELSE 3 END, 0, 'paid', NULL, 1
           FROM range(300) t(i)"""
    )
    con.execute(
        """INSERT INTO order_lines SELECT 'o' || i, 1, 'SKU1', 'Beans', 'beans', 2, 50, 50, 0, 1
           FROM range(300) t(i)"""
    )
    con.execute("INSERT INTO products VALUES ('SKU1', 'Beans', 'beans', 20, 50, 'USD', 'S1', 1)")
    con.execute(
        """INSERT INTO costs SELECT DATE '2024-01-01' + INTERVAL (m) MONTH, 'rent', 1000, true, 'USD', 1
           FROM range(12) t(m)"""
    )
    con.execute("""INSERT INTO business VALUES ('capabilities', '["online_ordering", "crm"]', 1),
                   ('employee_satisfaction', '8', 1), ('currency', '"USD"', 1)""")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Workspace]:
    """A small coffee shop: 300 orders of USD 100, 60 % via Amazon, margin 60 %."""
    ws = open_workspace(tmp_path / "shop.duckdb")
    _insert_business(ws)
    yield ws
    ws.close()


@pytest.fixture
def shop_file(tmp_path: Path) -> Path:
    """The same shop, closed (for the CLI), with an automation questionnaire of two tasks."""
    path = tmp_path / "shop-file.duckdb"
    with open_workspace(path) as ws:
        _insert_business(ws)
        ws.con.execute(
            """INSERT INTO automation VALUES
               ('finance', 'bookkeeping', 5, 30, 0.10, 'spreadsheets', 1),
               ('sales', 'quotes | offers', 0.5, 20, 0.0, '', 1)"""
        )
    return path
