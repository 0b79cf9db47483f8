"""The customer's country (``order_details.country``, the region covariate) from real exports.

Expected counts are computed here from the files with the ``csv`` module: per order, the
first non-blank shipping country, else the billing one (Shopify), Etsy's "Ship Country",
Stripe's "Shipping Address Country" else "Card Address Country".
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from levelfield.ingest import import_file
from levelfield.workspace import open_workspace

WILD = Path(__file__).resolve().parents[3] / "shared" / "data" / "wild-exports"
if not WILD.exists():
    WILD = Path("/work/shared/data/wild-exports")

CASES = [
    (
        "shopify_maisonmaria_GBP_orders_export_1.csv",
        "Name",
        ("Shipping Country", "Billing Country"),
    ),
    ("shopify_kidsliving_ZAR_orders_export.csv", "Name", ("Shipping Country", "Billing Country")),
    ("etsy_deborahkim_EtsySoldOrders2022.csv", "Order ID", ("Ship Country",)),
    (
        "stripe_overlayon_converted_THB_unified_payments.csv",
        "id",
        ("Shipping Address Country", "Card Address Country"),
    ),
]


def _expected(path: Path, key: str, cols: tuple[str, ...]) -> Counter[str]:
    """Country per order: the first row of the order with a non-blank value, column order."""
    found: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    for col in cols:  # a coalesce over whole orders: shipping first, then billing
        for row in rows:
            order = (row.get(key) or "").strip()
            value = (row.get(col) or "").strip()
            if order and value and order not in found:
                found[order] = value
    return Counter(found.values())


@pytest.mark.parametrize(("name", "key", "cols"), CASES, ids=[c[0][:24] for c in CASES])
def test_country_of_each_order_lands_in_order_details(
    name: str, key: str, cols: tuple[str, ...], tmp_path: Path
) -> None:
    path = WILD / name
    if not path.exists():
        pytest.skip("shared wild exports not present")
    with open_workspace(tmp_path / "w.duckdb") as ws:
        import_file(ws, "orders", path)
        got = dict(
            ws.con.execute(
                "SELECT country, count(*) FROM order_details d JOIN orders o USING (order_id) "
                "WHERE d.country IS NOT NULL AND o.status <> 'refund' GROUP BY 1"
            ).fetchall()
        )
    want = _expected(path, key, cols)
    assert want, "the file states countries"
    assert got == dict(want)


def test_generic_orders_take_a_country_column(tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    src.write_text(
        "order_id,date,customer,total,shipping_country\n"
        "A1,2024-01-02,c1,10.00,DE\nA2,2024-01-03,c2,12.00,\nA3,2024-01-04,c1,9.00, FR \n"
    )
    with open_workspace(tmp_path / "w.duckdb") as ws:
        import_file(ws, "orders", src)
        rows = ws.con.execute(
            "SELECT order_id, country FROM order_details ORDER BY order_id"
        ).fetchall()
    assert [r[1] for r in rows] == ["DE", None, "FR"]
