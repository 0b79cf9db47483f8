"""Every real export in ``../shared/data/wild-exports`` through ``levelfield import orders``.

The expected numbers are the facts ``SOURCES.md`` lists for each file, computed there
independently with pandas (all columns read as text). Each file is imported once, into
its own workspace, through the command line a shop owner uses. Files that are not a
platform's export (two Amazon *buyer* order histories, a per-invoice UCI summary, a
WooCommerce import sheet) need ``--map``; the arguments below are what a user types
after reading the error message, and each case says why. The CDNOW file shipped with
``lifetimes`` and a European semicolon sheet close the list.

Where levelfield's rules (issue 14) and the pandas facts differ on purpose, the case
says how: gift cards and tips are not merchandise, so Shopify's Σ Subtotal equals
Σ(gross - discount) plus the gift cards sold; customers without an e-mail are counted
by their (pseudonymized) phone, computed here from the file with the ``csv`` module.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_helpers import DATA
from typer.testing import CliRunner

from levelfield import Workspace
from levelfield.cli import app
from levelfield.workspace import open_workspace

WILD = Path(__file__).resolve().parents[3] / "shared" / "data" / "wild-exports"
D = Decimal


@dataclass(frozen=True)
class Case:
    """One file, the arguments a user passes, and the facts to check."""

    file: str
    args: tuple[str, ...] = ()
    why: str = ""
    orders: int = 0
    lines: int | None = None  # order_lines + non_merchandise_lines
    customers: int | None = None
    revenue: dict[str, Decimal] | None = None
    sums: dict[str, Decimal] = field(default_factory=dict)  # SQL expression -> total
    statuses: dict[str, int] = field(default_factory=dict)  # canonical status -> orders
    phone_customers: bool = False  # add distinct phones of e-mail-less orders
    email_customers: int | None = None  # SOURCES' e-mail count (Shopify)


AMOUNT_IDENTITY = "gross - discount"  # merchandise after item discounts

CASES = [
    Case(
        "amazonbuyer_cavenston_order_history.csv",
        (
            "--map",
            "Order ID=order_id",
            "--map",
            "OrderDate=ordered_at",
            "--map",
            "Total Charged=total",
        ),
        "an Amazon buyer's own order history, not a seller report: no profile fits",
        orders=175,
        customers=0,
        revenue={"USD": D("6561.43")},
    ),
    Case(
        "amazonbuyer_kshitij_order_history.csv",
        (
            "--map",
            "Order ID=order_id",
            "--map",
            "Order Date=ordered_at",
            "--map",
            "Total Charged=total",
            "--map",
            "Ordering Customer Email=email",
        ),
        "an Amazon buyer's order history (older layout, $ amounts)",
        orders=59,
        customers=1,
        revenue={"USD": D("1777.73")},
    ),
    Case(
        "etsy_deborahkim_EtsySoldOrders2021.csv",
        orders=4495,
        customers=4045,
        revenue={"USD": D("146850.68")},
        sums={
            "gross": D("158189.27"),
            "discount": D("11338.59"),
            "shipping": D("5320.35"),
            "fees": D("6020.06"),
            "refunded": D("0"),
        },
        statuses={"paid": 4495},
    ),
    Case(
        "etsy_deborahkim_EtsySoldOrders2022.csv",
        orders=2121,
        customers=1970,
        revenue={"USD": D("69951.16")},
        sums={
            "gross": D("74742.30"),
            "discount": D("4791.14"),
            "shipping": D("5752.91"),
            "fees": D("2970.03"),
            "refunded": D("0"),
        },
        statuses={"paid": 2121},
    ),
    Case(
        "etsy_sfc38_EtsySoldOrders2022_masked.csv",
        orders=2828,
        customers=607,
        revenue={"USD": D("68719.21")},
        sums={
            "gross": D("70247.35"),
            "discount": D("1528.14"),
            "shipping": D("12487.97"),
            "fees": D("3311.39"),
        },
    ),
    Case(
        "etsy_starrysticker_EtsySoldOrderItems2020.csv",
        orders=57,
        lines=70,
        customers=50,
        revenue={"USD": D("262.55") - D("2.71")},
        sums={
            "gross": D("262.55"),
            "discount": D("2.71"),
            "(SELECT sum(quantity) FROM order_lines)": D("73"),
        },
    ),
    Case(
        "etsy_starrysticker_EtsySoldOrderItems2021.csv",
        orders=109,
        lines=136,
        customers=104,
        revenue={"USD": D("568.30")},
        sums={"gross": D("568.30"), "(SELECT sum(quantity) FROM order_lines)": D("158")},
    ),
    Case(
        "generic_uci_invoices_mwoitek.csv",
        (
            "--map",
            "InvoiceNo=order_id",
            "--map",
            "InvoiceDate=ordered_at",
            "--map",
            "CustomerID=customer_id",
            "--map",
            "TotalPrice=total",
            "--currency",
            "GBP",
        ),
        "one row per UCI invoice with the uploader's own column names",
        orders=18532,
        customers=4338,
        revenue={"GBP": D("8911407.90")},
    ),
    Case(
        "generic_woo_import_moosakhan_PKR.csv",
        (
            "--map",
            "wc_order_id=order_id",
            "--map",
            "date_created=ordered_at",
            "--map",
            "billing_email=email",
            "--map",
            "order_total=total",
            "--map",
            "discount_total=discount",
            "--map",
            "shipping_total=shipping",
            "--map",
            "tax_total=tax",
        ),
        "a WooCommerce order-import sheet; subtotal/status/currency/phone map by name",
        orders=214,
        # gross + shipping + tax - discount is order_total on every order.
        sums={"gross - discount + shipping + tax": D("1363816.5")},
    ),
    Case(
        "shopify_autofulfill_CAD_orders_export.csv",
        orders=20,
        lines=64,
        email_customers=20,
        revenue={"CAD": D("1872.92") - D("1.54")},
        sums={AMOUNT_IDENTITY: D("1872.92"), "refunded": D("1.54")},
        statuses={"paid": 19, "partially_refunded": 1},
    ),
    Case(
        "shopify_bd2_BDT_orders_export_14.csv",
        orders=50,
        lines=50,
        email_customers=1,
        phone_customers=True,
        revenue={"BDT": D("0")},  # the one paid order has Subtotal 0
        sums={AMOUNT_IDENTITY: D("86700")},
        statuses={"pending": 37, "voided": 12, "paid": 1},
    ),
    Case(
        "shopify_bd_BDT_orders_export_10.csv",
        orders=50,
        lines=50,
        email_customers=0,
        phone_customers=True,
        revenue={},
        sums={AMOUNT_IDENTITY: D("84360")},
        statuses={"pending": 38, "voided": 12},
    ),
    Case(
        "shopify_bd_BDT_orders_export_21.csv",
        orders=57,
        lines=57,
        email_customers=0,
        phone_customers=True,
        revenue={},
        sums={AMOUNT_IDENTITY: D("126125")},
        statuses={"pending": 57},
    ),
    Case(
        "shopify_enavant_USD_orders_export_1.csv",
        orders=409,
        lines=811,
        email_customers=296,
        phone_customers=True,
        # Σ Subtotal 72,711.44 = merchandise 72,611.44 + one $100 digital gift card.
        sums={AMOUNT_IDENTITY: D("72611.44"), "non_merchandise": D("100")},
        statuses={"refunded": 43, "partially_refunded": 26},
    ),
    Case(
        "shopify_explorer_USD_orders_export_1.csv",
        orders=81,
        lines=98,
        email_customers=54,
        phone_customers=True,
        revenue={"USD": D("2956.00") - D("10.60")},
        # Σ qty x price 3,107.50 = Subtotal 2,956.00 + discount 149.00 + a 2.50 tip.
        sums={AMOUNT_IDENTITY: D("2956.00"), "non_merchandise": D("2.50"), "refunded": D("10.60")},
        statuses={"partially_refunded": 1},
    ),
    Case(
        "shopify_kidsliving_ZAR_orders_export.csv",
        orders=50,
        lines=101,
        email_customers=48,
        # Subtotal of paid orders 61,090 includes a R 500 gift voucher.
        revenue={"ZAR": D("61090") - D("500")},
        sums={AMOUNT_IDENTITY: D("144894") - D("500"), "non_merchandise": D("500")},
        statuses={"paid": 35, "pending": 13, "voided": 2},
    ),
    Case(
        "shopify_maisonmaria_GBP_orders_export_1.csv",
        orders=60,
        lines=61,
        email_customers=58,
        revenue={"GBP": D("1903.40")},
        # Refunded Amount 274.07 includes 20.00 of shipping refunded on cancelled
        # orders; merchandise refunds are 254.07.
        sums={AMOUNT_IDENTITY: D("2157.47"), "refunded": D("254.07")},
        statuses={"refunded": 8},
    ),
    Case(
        "shopify_peepads_USD_orders_export_1.csv",
        orders=3885,
        lines=5121,
        email_customers=3602,
        sums={
            AMOUNT_IDENTITY: D("318242.39"),
            "non_merchandise": D("977.88"),
            "(SELECT count(*) FROM non_merchandise_lines WHERE line_type = 'tip')": D("208"),
        },
        statuses={"partially_refunded": 121, "refunded": 40},
    ),
    Case(
        "stripe_overlayon_converted_THB_unified_payments.csv",
        orders=1,
        customers=1,
        revenue={"USD": D("15.00")},
        # Fee 35.40 THB in the charge's currency: 35.40 x 15.00 / 534.80.
        sums={"fees": D("0.9929"), "settled_amount": D("534.80")},
    ),
    Case(
        "stripe_primeorca_unified_payments.csv",
        orders=16,
        customers=11,
        revenue={"USD": D("5025.0") - D("365.0")},
        sums={"gross": D("5025.0"), "refunded": D("365.0"), "fees": D("150.53")},
    ),
    Case(
        "stripe_rrh1441_machine_unified_payments.csv",
        orders=316,  # 315 ids + the 'succeeded' payment without one
        customers=104,  # 106 ids-or-e-mails, 2 e-mails seen with and without an id
        sums={"gross": D("4299.0"), "refunded": D("279.6"), "fees": D("229.62")},
        statuses={"failed": 61},
    ),
    Case(
        "stripe_verdigris_unified_payments.csv",
        orders=29,
        customers=28,
        revenue={"USD": D("1595.0")},
        sums={"fees": D("56.8")},
    ),
    Case(
        "uci_online_retail_hellich_head182.csv",
        ("--max-reject-rate", "0.03"),
        "4 rows damaged by the uploader (2.2 %); the error message suggests the option",
        orders=23,
        lines=179,
        customers=14,
        revenue={"GBP": D("7753.62")},
    ),
]


def _cli_import(path: Path, ws_path: Path, args: tuple[str, ...]) -> str:
    r = CliRunner().invoke(app, ["import", "orders", str(path), "-w", str(ws_path), *args])
    assert r.exit_code == 0, r.output
    return r.output


def _phones_without_email(path: Path) -> int:
    """Distinct phones (as levelfield normalizes them) of Shopify orders without e-mail."""
    seen: set[str] = set()
    phones: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if row["Name"] in seen:
                continue
            seen.add(row["Name"])
            if row["Email"].strip():
                continue
            phone = next(
                (
                    row.get(c, "").strip()
                    for c in ("Phone", "Billing Phone", "Shipping Phone")
                    if row.get(c, "").strip()
                ),
                "",
            )
            norm = re.sub(r"[\s().'/-]", "", phone.lower())
            if norm:
                phones.add(norm)
    return len(phones)


def _value(ws: Workspace, sql: str) -> object:
    return ws.con.execute(sql).fetchall()[0][0]


@pytest.fixture(scope="module")
def wild() -> Path:
    if not WILD.exists():
        pytest.skip("shared wild-exports data not present")
    return WILD


def test_every_wild_file_has_a_case(wild: Path) -> None:
    assert sorted(c.file for c in CASES) == sorted(p.name for p in wild.glob("*.csv"))


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_wild_export_imports_exactly(case: Case, wild: Path, tmp_path: Path) -> None:
    out = _cli_import(wild / case.file, tmp_path / "w.duckdb", case.args)
    assert "rejected" in out
    with open_workspace(tmp_path / "w.duckdb") as ws:
        assert (
            _value(ws, "SELECT count(*) FROM orders LEFT JOIN order_details USING (order_id)")
            == case.orders
        )
        if case.lines is not None:
            n = _value(
                ws,
                "SELECT (SELECT count(*) FROM order_lines) + "
                "(SELECT count(*) FROM non_merchandise_lines)",
            )
            assert n == case.lines
        customers = case.customers
        if case.email_customers is not None:
            customers = case.email_customers
            if case.phone_customers:
                customers += _phones_without_email(wild / case.file)
        if customers is not None:
            assert (
                _value(
                    ws,
                    "SELECT count(DISTINCT customer_id) FROM orders LEFT JOIN order_details USING (order_id)",
                )
                == customers
            )
        if case.revenue is not None:
            got = dict(
                ws.con.execute(
                    "SELECT currency, sum(net_revenue) FROM order_revenue GROUP BY 1"
                ).fetchall()
            )
            # SOURCES.md rounds sums to cents (TotalPrice carries float noise).
            assert {k: round(D(v), 2) for k, v in got.items()} == {
                k: round(v, 2) for k, v in case.revenue.items()
            }
        for expr, total in case.sums.items():
            got_sum = _value(
                ws,
                f"SELECT coalesce(sum({expr}), 0) FROM orders LEFT JOIN order_details USING (order_id)",
            )
            if expr.startswith("(SELECT"):
                got_sum = _value(ws, f"SELECT {expr}")
            assert round(D(str(got_sum)), 2) == round(total, 2), expr
        for status, n_status in case.statuses.items():
            assert (
                _value(
                    ws,
                    f"SELECT count(*) FROM orders LEFT JOIN order_details USING (order_id) WHERE status = '{status}'",
                )
                == n_status
            )


def test_stripe_succeeded_payment_without_id_counts(wild: Path, tmp_path: Path) -> None:
    path = wild / "stripe_rrh1441_machine_unified_payments.csv"
    with path.open(newline="", encoding="utf-8") as f:
        blank = [r for r in csv.DictReader(f) if not r["id"].strip()]
    assert [r["Status"] for r in blank] == ["succeeded"]
    _cli_import(path, tmp_path / "w.duckdb", ())
    with open_workspace(tmp_path / "w.duckdb") as ws:
        got = _value(ws, "SELECT sum(net_revenue) FROM order_revenue")
        # SOURCES: Paid + Refunded rows 3,739.00 minus 279.60 refunded, plus the
        # succeeded payment without an id.
        assert D(str(got)) == D("3739.0") - D("279.6") + D(blank[0]["Amount"])


def test_two_bd_stores_keep_all_100_orders(wild: Path, tmp_path: Path) -> None:
    ws_path = tmp_path / "w.duckdb"
    _cli_import(wild / "shopify_bd_BDT_orders_export_10.csv", ws_path, ())
    out = _cli_import(wild / "shopify_bd2_BDT_orders_export_14.csv", ws_path, ())
    assert "50 loaded" in out
    assert "updated" not in out
    with open_workspace(ws_path) as ws:
        assert (
            _value(ws, "SELECT count(*) FROM orders LEFT JOIN order_details USING (order_id)")
            == 100
        )
        assert _value(ws, "SELECT count(*) FROM order_lines") == 100
        # 48 order names are shared by the two stores, as SOURCES.md says.
        assert (
            _value(
                ws,
                "SELECT count(*) FROM (SELECT order_ref FROM orders LEFT JOIN order_details USING (order_id) "
                "GROUP BY 1 HAVING count(*) = 2)",
            )
            == 48
        )


def test_cdnow_as_shipped_with_lifetimes(tmp_path: Path) -> None:
    """The full CDNOW master file from the ``lifetimes`` package (header line, leading
    blanks, CRLF): 23,570 customers, 69,659 purchases, every dollar."""
    import lifetimes.datasets as lifetimes_datasets  # a dev dependency: never skipped

    path = Path(lifetimes_datasets.__file__).parent / "CDNOW_master.txt"
    lines = path.read_text().splitlines()
    assert lines[0].split() == ["customer_id", "date", "number_of_cds", "dollar_value"]
    out = _cli_import(path, tmp_path / "w.duckdb", ())
    assert "69,659 loaded" in out
    with open_workspace(tmp_path / "w.duckdb") as ws:
        assert (
            _value(
                ws,
                "SELECT count(DISTINCT customer_id) FROM orders LEFT JOIN order_details USING (order_id)",
            )
            == 23_570
        )
        total = sum(D(x.split()[3]) for x in lines[1:] if x.strip())
        assert (
            D(
                str(
                    _value(
                        ws, "SELECT sum(gross) FROM orders LEFT JOIN order_details USING (order_id)"
                    )
                )
            )
            == total
        )


def test_european_semicolon_sheet(tmp_path: Path) -> None:
    out = _cli_import(DATA / "european_semicolon_invoices.csv", tmp_path / "w.duckdb", ())
    assert "EUR 1,251.51" in out
    assert 'decimal comma (detected in "amount")' in out
