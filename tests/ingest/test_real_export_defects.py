"""One test per defect of issue 14 ("Real exports import exactly"), each on a minimal
file in ``tests/data/ingest`` written in the platform's real layout (headers copied from
the real exports in ``../shared/data/wild-exports``)."""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_helpers import DATA, counts
from typer.testing import CliRunner

from levelfield import Workspace
from levelfield._warnings import collect_plain_warnings, plain_warning, plain_warnings
from levelfield.cli import app
from levelfield.errors import ConvergenceWarning, UnknownLayoutError
from levelfield.ingest import import_file


def rows(ws: Workspace, sql: str) -> list[tuple[object, ...]]:
    return ws.con.execute(sql).fetchall()


# 1 ---------------------------------------------------------------------------------------
def test_etsy_adjusted_order_total_zero_means_not_adjusted(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "EtsySoldOrders2022_unadjusted.csv")
    assert s.profile == "etsy_orders"
    # Order Value - Discount Amount - refunds: (32.00 - 3.20) + 18.00 + (45.00 - 10.00);
    # the third order's Adjusted Order Total 40.00 of 50.00 is a 10.00 refund.
    assert s.revenue == {"USD": Decimal("81.8000")}
    got = dict(
        rows(ws, "SELECT order_ref, status FROM orders LEFT JOIN order_details USING (order_id)")
    )
    assert got == {"2345600001": "paid", "2345600002": "paid", "2345600003": "partially_refunded"}
    assert rows(
        ws,
        "SELECT refunded FROM orders LEFT JOIN order_details USING (order_id) WHERE order_ref = '2345600003'",
    ) == [(Decimal("10.0000"),)]


# 2 ---------------------------------------------------------------------------------------
def test_two_shopify_stores_with_the_same_order_names_keep_both(ws: Workspace) -> None:
    a = import_file(ws, "orders", DATA / "shopify_store_a_orders_export.csv")
    b = import_file(ws, "orders", DATA / "shopify_store_b_orders_export.csv")
    assert (a.rows_loaded, b.rows_loaded) == (2, 2)
    assert counts(ws)["orders"] == 4
    assert counts(ws)["order_lines"] == 4
    # Keyed by Shopify's global order Id; the shop's own number stays in order_ref.
    got = rows(
        ws,
        "SELECT order_id, order_ref FROM orders LEFT JOIN order_details USING (order_id) ORDER BY order_id",
    )
    assert got == [
        ("shopify:6870100000001", "#1111"),
        ("shopify:6870100000002", "#1112"),
        ("shopify:7069200000001", "#1111"),
        ("shopify:7069200000002", "#1112"),
    ]
    assert not any("were updated" in n for n in b.notes)
    # Every line belongs to an order of its own store.
    orphan = rows(ws, "SELECT count(*) FROM order_lines ANTI JOIN orders USING (order_id)")
    assert orphan == [(0,)]


def test_generic_files_of_two_stores_kept_apart_with_store(ws: Workspace) -> None:
    path = DATA / "wholesale_invoices.csv"
    maps = ["Invoice=order_id", "Invoice Date=ordered_at", "Client=customer_id", "Qty=quantity"]
    first = import_file(ws, "orders", path, mapping=maps, store="berlin")
    n = counts(ws)["orders"]
    copy = Path(ws.path).parent / "other_store.csv"
    copy.write_bytes(path.read_bytes() + b"\n")
    again = import_file(ws, "orders", copy, mapping=maps)
    # Without --store the same numbers from another file would update those orders;
    # with a different store (none here) they are kept apart and nothing is updated.
    assert counts(ws)["orders"] == 2 * n
    assert not any("updated" in x for x in again.notes)
    assert rows(
        ws, "SELECT DISTINCT store FROM orders LEFT JOIN order_details USING (order_id) ORDER BY 1"
    ) == [("berlin",), (None,)]
    assert first.rows_loaded == again.rows_loaded


def test_overwriting_orders_from_another_file_says_so(ws: Workspace, tmp_path: Path) -> None:
    path = DATA / "wholesale_invoices.csv"
    maps = ["Invoice=order_id", "Invoice Date=ordered_at", "Client=customer_id", "Qty=quantity"]
    import_file(ws, "orders", path, mapping=maps)
    copy = tmp_path / "shop_two.csv"
    copy.write_bytes(path.read_bytes() + b"\n")
    s = import_file(ws, "orders", copy, mapping=maps)
    assert any("already in the workspace from wholesale_invoices.csv" in n for n in s.notes)
    assert any("--store" in n for n in s.notes)


# 3 ---------------------------------------------------------------------------------------
def test_tips_gift_cards_and_shipping_protection_are_not_merchandise(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "shopify_tip_giftcard_orders_export.csv")
    other = rows(
        ws,
        "SELECT line_type, product, amount FROM non_merchandise_lines ORDER BY order_id, line_no",
    )
    assert other == [
        ("tip", "Tip", Decimal("3.0000")),
        ("shipping_protection", "Route Shipping Protection", Decimal("1.5000")),
        ("gift_card", "Digital Gift Card - $50", Decimal("50.0000")),
        ("tip", "Tip", Decimal("2.0000")),
    ]
    products = {r[0] for r in rows(ws, "SELECT product FROM order_lines")}
    assert products == {"Grain-Free Salmon Kibble 4 lb", "Catnip Mouse"}
    # Merchandise revenue: 2 x 20.00 + 3 x 4.00; the rest is on the order, apart.
    assert s.revenue == {"USD": Decimal("52.0000")}
    assert rows(
        ws, "SELECT sum(non_merchandise) FROM orders LEFT JOIN order_details USING (order_id)"
    ) == [(Decimal("56.5000"),)]
    assert any("tip 2 (USD 5.00)" in n for n in s.notes)


# 4 ---------------------------------------------------------------------------------------
def test_shipping_discount_is_not_taken_off_merchandise(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "shopify_freeship_orders_export.csv")
    got = rows(
        ws,
        "SELECT order_ref, gross, discount, shipping FROM orders LEFT JOIN order_details USING (order_id) ORDER BY order_ref",
    )
    # #1323: FREESHIP 15.00 = its shipping, Subtotal 93.00 = the items: no item discount.
    # #1324: SUMMER10 takes 11.60 off the items (116.00 -> Subtotal 104.40).
    assert got == [
        ("#1323", Decimal("93.0000"), Decimal("0.0000"), Decimal("0.0000")),
        ("#1324", Decimal("116.0000"), Decimal("11.6000"), Decimal("10.0000")),
    ]
    assert s.revenue == {"USD": Decimal("197.4000")}  # = sum of Subtotal


# 5 ---------------------------------------------------------------------------------------
def test_stripe_attempts_without_id_are_skipped_and_counted(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "stripe_payment_attempts_unified_payments.csv")
    assert (s.rows_in, s.rows_loaded, s.rows_rejected, s.rows_skipped) == (5, 3, 0, 2)
    assert "2 skipped" in "\n".join(s.lines())
    assert any("requires_payment_method: 2" in n for n in s.notes)
    # The succeeded payment without an id is a payment, under a stable generated id.
    got = rows(
        ws,
        "SELECT status, gross FROM orders LEFT JOIN order_details USING (order_id) WHERE order_ref LIKE 'noid-%'",
    )
    assert got == [("paid", Decimal("8.0000"))]
    assert s.revenue == {"USD": Decimal("58.0000")}
    # Importing it again gives the same id (nothing new).
    (ws.path.parent / "again.csv").write_bytes(
        (DATA / "stripe_payment_attempts_unified_payments.csv").read_bytes() + b"\n"
    )
    import_file(ws, "orders", ws.path.parent / "again.csv")
    assert counts(ws)["orders"] == 3


# 6 ---------------------------------------------------------------------------------------
def test_cash_on_delivery_shop_customers_by_phone_and_pending_explained(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "shopify_cod_phone_only_orders_export.csv")
    ids = [
        r[0]
        for r in rows(
            ws,
            "SELECT customer_id FROM orders LEFT JOIN order_details USING (order_id) ORDER BY order_ref",
        )
    ]
    assert all(ids)
    # "+8801711111111" and "01711-111111" are written differently: two customers.
    assert len(set(ids)) == 3
    # Pseudonymized: no phone number is stored.
    dump = str(rows(ws, "SELECT * FROM orders LEFT JOIN order_details USING (order_id)"))
    assert "8801711111111" not in dump and "01711" not in dump
    assert s.revenue == {}
    text = "\n".join(s.lines())
    assert "none (no order in this file is paid" in text
    assert "all 3 orders are pending" in text
    assert "BDT 4,340.00" in text
    assert "phone number (3 orders)" in text


def test_billing_name_identifies_customers_only_in_email_less_shops(
    ws: Workspace, tmp_path: Path
) -> None:
    src = (DATA / "shopify_cod_phone_only_orders_export.csv").read_text()
    # The same shop without phones: billing name + zip is all there is.
    no_phone = tmp_path / "orders_export.csv"
    no_phone.write_text(
        src.replace("+8801711111111", "").replace("01711-111111", "").replace("+8801822222222", "")
    )
    s = import_file(ws, "orders", no_phone)
    assert rows(
        ws,
        "SELECT count(DISTINCT customer_id) FROM orders LEFT JOIN order_details USING (order_id)",
    ) == [(3,)]
    assert any("billing name + zip (3 orders)" in n for n in s.notes)


# 7 ---------------------------------------------------------------------------------------
def test_refunded_without_amount_is_a_full_refund(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "generic_refunded_without_amount.csv")
    got = {
        r[0]: (r[1], r[2])
        for r in rows(
            ws,
            "SELECT order_ref, status, refunded FROM orders LEFT JOIN order_details USING (order_id)",
        )
    }
    assert got["W-1002"] == ("refunded", Decimal("25.0000"))
    assert got["W-1003"] == ("refunded", Decimal("10.0000"))  # partial amount kept
    assert got["W-1004"] == ("paid", Decimal("0.0000"))
    assert s.revenue == {"USD": Decimal("75.0000")}  # 40 + 0 + 20 + 15
    assert any("refunded without a refund amount" in n for n in s.notes)


# 8 ---------------------------------------------------------------------------------------
def test_stripe_same_email_with_and_without_customer_id_is_one_person(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "stripe_same_email_unified_payments.csv")
    got = dict(
        rows(
            ws, "SELECT order_ref, customer_id FROM orders LEFT JOIN order_details USING (order_id)"
        )
    )
    assert got["ch_3P0aLink01"] == got["ch_3P0aLink02"] == got["ch_3P0aLink03"]
    assert got["ch_3P0aLink04"] != got["ch_3P0aLink01"]
    assert rows(
        ws,
        "SELECT count(DISTINCT customer_id) FROM orders LEFT JOIN order_details USING (order_id)",
    ) == [(2,)]
    assert any("linked to one through the same e-mail" in n for n in s.notes)


# 9 ---------------------------------------------------------------------------------------
def test_cdnow_lifetimes_copy_with_header_line(ws: Workspace) -> None:
    path = DATA / "CDNOW_master_lifetimes_extract.txt"
    s = import_file(ws, "orders", path)
    assert s.profile == "cdnow"
    assert (s.rows_in, s.rows_loaded) == (300, 300)
    total = sum(Decimal(line.split()[3]) for line in path.read_text().splitlines()[1:])
    assert s.revenue == {"USD": total}
    n = len({line.split()[0] for line in path.read_text().splitlines()[1:]})
    assert rows(
        ws,
        "SELECT count(DISTINCT customer_id) FROM orders LEFT JOIN order_details USING (order_id)",
    ) == [(n,)]


# 10 --------------------------------------------------------------------------------------
def test_decimal_comma_detected_per_column_and_stated(ws: Workspace) -> None:
    s = import_file(ws, "orders", DATA / "european_semicolon_invoices.csv")
    assert s.revenue == {"EUR": Decimal("1251.5100")}  # 1,00 + 4,01 + 12,50 + 1.234,00
    assert any('decimal comma (detected in "amount")' in n for n in s.notes)


def test_decimal_comma_flag_still_decides_ambiguous_columns(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "amb.csv"
    f.write_text("order;date;amount\nA;2024-01-03;1,234\nB;2024-01-04;2,500\n")
    import_file(ws, "orders", f, decimal_comma=True, currency="EUR")
    got = dict(
        rows(ws, "SELECT order_ref, gross FROM orders LEFT JOIN order_details USING (order_id)")
    )
    assert got == {"A": Decimal("1.2340"), "B": Decimal("2.5000")}


# 11 --------------------------------------------------------------------------------------
def test_competitors_sharing_a_name_are_kept_or_merged_row_by_row(ws: Workspace) -> None:
    s = import_file(ws, "competitors", DATA / "competitors_repeated_names.csv")
    ids = [r[0] for r in rows(ws, "SELECT competitor_id FROM competitors ORDER BY 1")]
    # The two Blackrocks differ by state: two firms. The two Summit rows are the same
    # in every column: one firm, merged, and the note names the rows.
    assert ids == ["blackrocks-brewery-ma", "blackrocks-brewery-mi", "our-taproom",
                   "summit-brewing-company"]  # fmt: skip
    text = " ".join(s.notes)
    assert "Blackrocks Brewery (state: MI / MA)" in text
    assert "merged" in text and "rows 4, 5 (Summit Brewing Company)" in text


def test_craft_beer_breweries_all_558_kept(ws: Workspace) -> None:
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "craft-beers" / "breweries.csv"
    if not path.exists():
        pytest.skip("shared craft-beers data not present")
    s = import_file(ws, "competitors", path)
    assert s.rows_loaded == 558
    assert counts(ws)["competitors"] == 558
    assert any("8 names appear on more than one row" in n for n in s.notes)


# 12 --------------------------------------------------------------------------------------
def test_closest_profile_hint_needs_shared_identifying_columns(ws: Workspace) -> None:
    with pytest.raises(UnknownLayoutError) as exc:
        import_file(ws, "orders", DATA / "amazon_buyer_order_history.csv")
    assert "closest profile" not in str(exc.value)
    assert "Etsy" not in str(exc.value)


def test_closest_profile_hint_ranked_by_shared_columns(ws: Workspace, tmp_path: Path) -> None:
    # A Shopify export that lost two columns: Shopify shares 8 of 10.
    src = (DATA / "shopify_orders_2023.csv").read_text().splitlines()
    cut = [
        ",".join(c for i, c in enumerate(line.split(",")) if i not in (17, 18)) for line in src[:1]
    ]
    f = tmp_path / "cut.csv"
    f.write_text(cut[0] + "\n")
    with pytest.raises(UnknownLayoutError) as exc:
        import_file(ws, "orders", f)
    assert "closest profile is Shopify orders export (shopify)" in str(exc.value)
    assert "8 of its identifying columns" in str(exc.value)


# 13 --------------------------------------------------------------------------------------
def test_warnings_are_one_plain_sentence() -> None:
    raw = (
        "/work/src/levelfield/customers/_analyze.py:508: ConvergenceWarning: fit did\nnot converge"
    )
    assert plain_warning(raw) == "Warning: Fit did not converge."
    assert plain_warning(ConvergenceWarning("the optimizer stopped early")) == (
        "Warning: The optimizer stopped early."
    )
    shown: list[str] = []
    with plain_warnings(shown.append):
        warnings.simplefilter("always")
        warnings.warn("few customers; estimates are rough", ConvergenceWarning, stacklevel=1)
        warnings.warn("few customers; estimates are rough", ConvergenceWarning, stacklevel=1)
    assert shown == ["Warning: Few customers; estimates are rough."]
    with collect_plain_warnings() as notes:
        warnings.warn("two\nlines", UserWarning, stacklevel=1)
    assert notes == ["Warning: Two lines."]


def test_cli_prints_warnings_without_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import levelfield.ingest._cli as ingest_cli

    real = ingest_cli.import_file

    def noisy(*args: object, **kwargs: object) -> object:
        warnings.warn("the date column is half empty", ConvergenceWarning, stacklevel=1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_cli, "import_file", noisy)
    ws_path = tmp_path / "w.duckdb"
    runner = CliRunner()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        r = runner.invoke(
            app, ["import", "orders", str(DATA / "shopify_orders_2023.csv"), "-w", str(ws_path)]
        )
    assert r.exit_code == 0, r.output
    assert "Warning: The date column is half empty." in r.output
    assert ".py:" not in r.output
