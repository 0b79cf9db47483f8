"""Platform profiles: each fixture file in tests/data/ingest is written in the
platform's export format (see the README there) and must import with the right
profile and the right numbers."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_helpers import DATA, counts

from levelfield import Workspace
from levelfield.errors import SchemaError
from levelfield.ingest import import_file


def one(ws: Workspace, sql: str, params: list[object] | None = None) -> tuple[object, ...]:
    rows = ws.con.execute(sql, params or []).fetchall()
    assert len(rows) == 1, rows
    return tuple(rows[0])


def test_shopify_2023_layout(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "shopify_orders_2023.csv")
    assert s.profile == "shopify"
    assert "79 columns" in s.profile_reason
    assert (s.rows_in, s.rows_loaded, s.rows_rejected) == (5, 5, 0)
    c = counts(ws)
    assert (c["orders"], c["order_lines"]) == (4, 5)
    # Order-level amounts come from the first row only; gross = sum(qty x list price).
    gross, discount, tax, shipping, fees, status = one(
        ws,
        "SELECT gross, discount, tax, shipping, fees, status FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1001'",
    )
    assert (gross, discount, tax, shipping) == (
        Decimal("45.0000"),
        Decimal("4.5000"),
        Decimal("2.6500"),
        Decimal("4.9000"),
    )
    assert fees is None  # Shopify's orders export has no fee column: unknown, not 0
    assert status == "paid"
    # Line discount gives the realized unit price; list price is the posted one.
    assert one(
        ws,
        "SELECT unit_price, list_price, discount FROM order_lines "
        "WHERE order_id = (SELECT order_id FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1001') AND line_no = 1",
    ) == (Decimal("13.5000"), Decimal("15.0000"), Decimal("3.0000"))
    # Offsets change with daylight saving inside the file; stored as UTC.
    assert str(
        one(
            ws,
            "SELECT ordered_at FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1003'",
        )[0]
    ) == ("2023-10-28 23:30:00")
    assert str(
        one(
            ws,
            "SELECT ordered_at FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1004'",
        )[0]
    ) == ("2023-10-30 07:15:00")
    # Refund shapes: amount on the order and status.
    assert one(
        ws,
        "SELECT status, refunded FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1002'",
    ) == (
        "partially_refunded",
        Decimal("14.0000"),
    )
    assert one(
        ws,
        "SELECT status FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1004'",
    ) == ("refunded",)
    assert one(
        ws,
        "SELECT status FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1003'",
    )[0] in (
        "voided",
        "cancelled",
    )
    # Net revenue: 40.50 + (28 - 14) + (14 - 14); the voided order does not count.
    assert s.revenue == {"EUR": Decimal("54.5000")}
    # E-mail is normalized (trimmed, lower-cased) before the keyed pseudonym.
    bob = one(
        ws,
        "SELECT customer_id FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1002'",
    )[0]
    assert bob == ws.pseudonymize(["bob@example.com"])[0]
    ann = {
        r[0]
        for r in ws.con.execute(
            "SELECT customer_id FROM orders JOIN order_details USING (order_id) WHERE order_ref IN ('#1001', '#1004')"
        ).fetchall()
    }
    assert len(ann) == 1
    assert one(
        ws,
        "SELECT customer_id FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1003'",
    ) == (None,)


def test_shopify_2021_layout(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "shopify_orders_2021.csv")
    assert s.profile == "shopify"
    assert "75 columns" in s.profile_reason
    assert counts(ws)["orders"] == 2


def test_profile_detected_from_header_not_file_name(ws: Workspace, tmp_path: Path) -> None:
    renamed = tmp_path / "amazon_orders.csv"
    shutil.copy(DATA / "shopify_orders_2023.csv", renamed)
    assert import_file(ws, "orders", renamed).profile == "shopify"


def test_square_item_sales(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "square_item_sales.csv")
    assert s.profile == "square_items"
    # Refund rows (Event Type = Refund) become a linked refund order, never a sale.
    assert one(
        ws, "SELECT gross, status, refund_of FROM orders WHERE order_id = 'square:T1aa:refund'"
    ) == (Decimal("-4.0000"), "refund", "square:T1aa")
    # Line-level money is summed: 9.00 + 8.00 gross, 1.00 discount ("-$1.00").
    assert one(ws, "SELECT gross, discount FROM orders WHERE order_id = 'square:T1aa'") == (
        Decimal("17.0000"),
        Decimal("1.0000"),
    )
    # "Eastern Time (US & Canada)" 09:15 in July is 13:15 UTC.
    assert str(one(ws, "SELECT ordered_at FROM orders WHERE order_id = 'square:T1aa'")[0]) == (
        "2023-07-01 13:15:02"
    )
    # Weighed goods: decimal quantity.
    assert one(ws, "SELECT quantity FROM order_lines WHERE sku = 'HB-LB'") == (Decimal("0.5000"),)
    assert s.revenue == {"USD": Decimal("15.0000")}


def test_square_transactions_fees_positive(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "square_transactions.csv")
    assert s.profile == "square_transactions"
    assert one(ws, "SELECT fees, gross, discount FROM orders WHERE order_id = 'square:TX1'") == (
        Decimal("0.4800"),
        Decimal("17.0000"),
        Decimal("1.0000"),
    )
    assert one(ws, "SELECT status, refund_of FROM orders WHERE order_id = 'square:TX1:refund'") == (
        "refund",
        "square:TX1",
    )


@pytest.mark.parametrize(
    "name", ["stripe_unified_payments.csv", "stripe_payments_created_date.csv"]
)
def test_stripe_both_date_headers(ws: Workspace, name: str) -> None:
    s = import_file(ws, "orders", DATA / name)
    assert s.profile == "stripe"
    assert one(
        ws,
        "SELECT currency, refunded, status FROM orders JOIN order_details USING (order_id) WHERE order_ref = 'ch_3Na2'",
    ) == (
        "EUR",
        Decimal("40.0000"),
        "partially_refunded",
    )
    # Fee is in the settlement currency (USD 3.50 on USD 110): 3.50 x 100 / 110 in EUR.
    assert one(
        ws,
        "SELECT fees FROM orders JOIN order_details USING (order_id) WHERE order_ref = 'ch_3Na2'",
    ) == (Decimal("3.1818"),)


def test_stripe_failed_payments_are_not_revenue(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "stripe_unified_payments.csv")
    assert one(
        ws,
        "SELECT status FROM orders JOIN order_details USING (order_id) WHERE order_ref = 'ch_3Na3'",
    ) == ("failed",)
    # USD: 50 paid + 30 refunded in full -> 50; the failed 20 is not revenue.
    assert s.revenue == {"EUR": Decimal("60.0000"), "USD": Decimal("50.0000")}
    n = one(
        ws,
        "SELECT count(*) FROM order_revenue JOIN order_details USING (order_id) WHERE order_ref = 'ch_3Na3'",
    )[0]
    assert n == 0


def test_woocommerce_analytics(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "woocommerce_analytics_orders.csv")
    assert s.profile == "woocommerce_analytics"
    assert set(s.revenue) == {"EUR"}  # from the "€" in the formatted revenue column
    assert one(
        ws,
        "SELECT gross, status FROM orders JOIN order_details USING (order_id) WHERE order_ref = '2053'",
    ) == (
        Decimal("-10.0000"),
        "refund",
    )


@pytest.mark.parametrize("name", ["woocommerce_order_export.csv", "woocommerce_order_export.xlsx"])
def test_woocommerce_order_export_csv_and_xlsx(ws: Workspace, name: str) -> None:
    s = import_file(ws, "orders", DATA / name)
    assert s.profile == "woocommerce_export"
    assert (counts(ws)["orders"], counts(ws)["order_lines"]) == (2, 3)
    assert one(
        ws,
        "SELECT gross, discount, shipping, status FROM orders JOIN order_details USING (order_id) WHERE order_ref = '3001'",
    ) == (
        Decimal("36.0000"),
        Decimal("2.0000"),
        Decimal("5.0000"),
        "paid",
    )
    assert one(
        ws,
        "SELECT status, refunded FROM orders JOIN order_details USING (order_id) WHERE order_ref = '3002'",
    ) == (
        "refunded",
        Decimal("18.0000"),
    )


@pytest.mark.parametrize("items_first", [True, False])
def test_etsy_orders_and_items_combine(ws: Workspace, items_first: bool) -> None:
    files = ["EtsySoldOrderItems2023.csv", "EtsySoldOrders2023.csv"]
    if not items_first:
        files.reverse()
    profiles = [import_file(ws, "orders", DATA / f).profile for f in files]
    assert sorted(profiles) == ["etsy_items", "etsy_orders"]
    c = counts(ws)
    assert (c["orders"], c["order_lines"]) == (2, 3)
    # Whatever the order of import, the orders file's fields win: fees, buyer id.
    fees, customer, gross, discount = one(
        ws,
        "SELECT fees, customer_id, gross, discount FROM orders JOIN order_details USING (order_id) WHERE order_ref = '2801234567'",
    )
    assert fees == Decimal("1.4500")
    assert customer == ws.pseudonymize(["98765432"])[0]
    assert (gross, discount) == (Decimal("36.0000"), Decimal("3.6000"))
    # Adjusted Order Total 6.30 of 24.30: 18.00 refunded (the whole merchandise).
    assert one(
        ws,
        "SELECT refunded, status FROM orders JOIN order_details USING (order_id) WHERE order_ref = '2801234999'",
    ) == (
        Decimal("18.0000"),
        "refunded",
    )


def test_amazon_all_orders_tsv(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "amazon_all_orders.txt")
    assert s.profile == "amazon"
    row = one(
        ws,
        "SELECT channel, customer_id, gross, discount, tax, shipping, fees FROM orders JOIN order_details USING (order_id) "
        "WHERE order_ref = '111-1234567-1234567'",
    )
    assert row == (
        "amazon",
        None,
        Decimal("130.0000"),
        Decimal("5.0000"),
        Decimal("10.4000"),
        Decimal("4.9900"),
        None,
    )
    # item-price is the line total: list price per unit is 50.00 / 2.
    assert one(
        ws, "SELECT list_price, unit_price FROM order_lines WHERE sku = 'ESP-1KG' AND quantity = 2"
    ) == (Decimal("25.0000"), Decimal("22.5000"))
    assert one(
        ws,
        "SELECT status FROM orders JOIN order_details USING (order_id) WHERE order_ref = '112-7654321-7654321'",
    ) == ("cancelled",)


def test_uci_online_retail_layout(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "online_retail_sample.csv")
    assert s.profile == "uci_online_retail"
    assert s.revenue == {"GBP": Decimal("15.5400")}
    # "C" invoices are cancellations: refunds, linked when the original is known.
    assert one(
        ws,
        "SELECT gross, status, refund_of FROM orders JOIN order_details USING (order_id) WHERE order_ref = 'C536366'",
    ) == (
        Decimal("-3.7000"),
        "refund",
        "uci:536366",
    )
    assert one(
        ws,
        "SELECT refund_of FROM orders JOIN order_details USING (order_id) WHERE order_ref = 'C536379'",
    ) == (None,)
    # Guest sales (no CustomerID) are kept for revenue without a customer.
    assert one(
        ws,
        "SELECT customer_id FROM orders JOIN order_details USING (order_id) WHERE order_ref = '536366'",
    ) == (None,)
    assert str(
        one(
            ws,
            "SELECT ordered_at FROM orders JOIN order_details USING (order_id) WHERE order_ref = '536366'",
        )[0]
    ) == ("2010-12-13 08:28:00")


def test_cdnow_whitespace_detected_by_shape(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "cdnow_sample.txt")
    assert s.profile == "cdnow"
    assert counts(ws)["orders"] == 6
    assert s.revenue == {"USD": Decimal("171.6200")}
    # Two purchases by one customer on one day stay two orders.
    n = one(ws, "SELECT count(*) FROM orders WHERE order_id LIKE 'cdnow:00002-19970112-%'")[0]
    assert n == 2
    assert str(s.date_min)[:10] == "1997-01-01"


def test_generic_wholesale_with_map_and_channel(ws: Workspace) -> None:
    s = import_file(
        ws,
        "orders",
        DATA / "wholesale_invoices.csv",
        mapping=[
            "Invoice=order_id",
            "Client=customer",
            "Invoice Date=ordered_at",
            "Qty=quantity",
            "Unit Price=unit_price",
            "Article=sku",
            "VAT=tax",
        ],
        channel="wholesale",
        currency="EUR",
    )
    assert s.profile == "generic"
    assert one(
        ws,
        "SELECT channel, currency, gross, tax FROM orders JOIN order_details USING (order_id) WHERE order_ref = 'W-2023-001'",
    ) == (
        "wholesale",
        "EUR",
        Decimal("281.0000"),
        Decimal("17.3600"),
    )
    assert s.revenue == {"EUR": Decimal("405.0000")}


def test_no_profile_names_closest_and_columns(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text("Name,Email,Financial Status,Currency,Total\n#1,a@b.c,paid,EUR,10\n")
    with pytest.raises(SchemaError) as err:
        import_file(ws, "orders", f)
    msg = str(err.value)
    assert "Columns found: Name, Email, Financial Status, Currency, Total" in msg
    assert "closest profile is Shopify orders export" in msg
    assert "--map" in msg
    assert counts(ws)["orders"] == 0


def test_forced_profile_that_does_not_fit(ws: Workspace) -> None:
    with pytest.raises(SchemaError, match="does not look like a Amazon|missing"):
        import_file(ws, "orders", DATA / "shopify_orders_2023.csv", profile="amazon")
