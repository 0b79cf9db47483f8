"""Write the simulated history as the platforms' own export files.

Each writer takes a :class:`~levelfield.demo._simulate.Simulation` and writes one or more
files in the documented layout of the platform (see ``docs/contracts.md`` and the
column references in ``levelfield.ingest``). Formatting is vectorized with pandas string
operations; nothing here draws from the simulation's generator, and fake identities come
from a generator seeded separately, so files are byte-identical for a given seed.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from levelfield.demo._catalog import (
    CAFE_NAMES,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PRODUCTS,
    STREETS,
)
from levelfield.demo._simulate import PROMOTIONS, START, Simulation

__all__ = [
    "AMAZON_COLUMNS",
    "ETSY_ITEM_COLUMNS",
    "ETSY_ORDER_COLUMNS",
    "EU_CAFE_EVERY",
    "SHOPIFY_COLUMNS",
    "WHOLESALE_COLUMNS",
    "WHOLESALE_MAPPING",
    "People",
    "make_people",
    "write_amazon",
    "write_etsy",
    "write_shopify",
    "write_wholesale",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.object_]

VENDOR = "Ember & Oak Coffee Roasters"

#: Shopify orders export, 79 columns in the order of 2023-2026 exports.
SHOPIFY_COLUMNS: tuple[str, ...] = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total",
    "Discount Code", "Discount Amount", "Shipping Method", "Created at",
    "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem compare at price",
    "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable",
    "Lineitem fulfillment status", "Billing Name", "Billing Street", "Billing Address1",
    "Billing Address2", "Billing Company", "Billing City", "Billing Zip", "Billing Province",
    "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City",
    "Shipping Zip", "Shipping Province", "Shipping Country", "Shipping Phone", "Notes",
    "Note Attributes", "Cancelled at", "Payment Method", "Payment Reference",
    "Refunded Amount", "Vendor", "Outstanding Balance", "Employee", "Location", "Device ID",
    "Id", "Tags", "Risk Level", "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value",
    "Tax 2 Name", "Tax 2 Value", "Tax 3 Name", "Tax 3 Value", "Tax 4 Name", "Tax 4 Value",
    "Tax 5 Name", "Tax 5 Value", "Phone", "Receipt Number", "Duties", "Billing Province Name",
    "Shipping Province Name", "Payment ID", "Payment Terms Name", "Next Payment Due At",
    "Payment References",
)  # fmt: skip

#: Etsy ``EtsySoldOrders*.csv``, 36 columns.
ETSY_ORDER_COLUMNS: tuple[str, ...] = (
    "Sale Date", "Order ID", "Buyer User ID", "Full Name", "First Name", "Last Name",
    "Number of Items", "Payment Method", "Date Shipped", "Street 1", "Street 2", "Ship City",
    "Ship State", "Ship Zipcode", "Ship Country", "Currency", "Order Value", "Coupon Code",
    "Coupon Details", "Discount Amount", "Shipping Discount", "Shipping", "Sales Tax",
    "Order Total", "Status", "Card Processing Fees", "Order Net", "Adjusted Order Total",
    "Adjusted Card Processing Fees", "Adjusted Net Order Amount", "Buyer", "Order Type",
    "Payment Type", "InPerson Discount", "InPerson Location", "SKU",
)  # fmt: skip

#: Etsy ``EtsySoldOrderItems*.csv``, 33 columns.
ETSY_ITEM_COLUMNS: tuple[str, ...] = (
    "Sale Date", "Item Name", "Buyer", "Quantity", "Price", "Coupon Code", "Coupon Details",
    "Discount Amount", "Shipping Discount", "Order Shipping", "Order Sales Tax", "Item Total",
    "Currency", "Transaction ID", "Listing ID", "Date Paid", "Date Shipped", "Ship Name",
    "Ship Address1", "Ship Address2", "Ship City", "Ship State", "Ship Zipcode",
    "Ship Country", "Order ID", "Variations", "Order Type", "Listings Type", "Payment Type",
    "InPerson Discount", "InPerson Location", "VAT Paid by Buyer", "SKU",
)  # fmt: skip

#: Amazon seller "All Orders" flat-file report (tab-separated), 32 columns.
AMAZON_COLUMNS: tuple[str, ...] = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date",
    "order-status", "fulfillment-channel", "sales-channel", "order-channel", "url",
    "ship-service-level", "product-name", "sku", "asin", "item-status", "quantity",
    "currency", "item-price", "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price",
    "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order",
    "purchase-order-number", "price-designation",
)  # fmt: skip

#: The café invoice spreadsheet (exported from the bookkeeping tool).
WHOLESALE_COLUMNS: tuple[str, ...] = (
    "Invoice No", "Invoice Date", "Customer", "Item Code", "Description", "Qty",
    "Unit Price", "Line Total",
)  # fmt: skip

#: What a user passes as ``--map`` for the invoice spreadsheet (generic profile).
WHOLESALE_MAPPING: dict[str, str] = {
    "Invoice No": "order_id",
    "Invoice Date": "ordered_at",
    "Customer": "customer_id",
    "Item Code": "sku",
    "Description": "product",
    "Qty": "quantity",
    "Unit Price": "unit_price",
    "Line Total": "line_total",
}

_EPOCH = np.datetime64(START.isoformat(), "D")


@dataclass(frozen=True, eq=False)
class People:
    """Fake but realistic identities of the identified customers (index = customer)."""

    first: StrArray
    last: StrArray
    email: StrArray
    phone: StrArray
    street: StrArray
    zip_code: StrArray
    etsy_user_id: StrArray
    etsy_username: StrArray
    accepts_marketing: StrArray


def make_people(seed: int, n: int, city: IntArray) -> People:
    """Names, e-mails, phones and addresses for ``n`` customers (deterministic)."""
    rng = np.random.default_rng([seed, 101])
    first = np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n)]
    f = pd.Series(first, dtype=object).str.lower()
    lname = pd.Series(last, dtype=object).str.lower().str.replace("'", "", regex=False)
    style = rng.integers(0, 4, n)
    num = pd.Series(rng.integers(1, 99, n)).astype(str)
    year = pd.Series(rng.integers(1955, 2004, n)).astype(str)
    local = np.select(
        [style == 0, style == 1, style == 2],
        [f + "." + lname, f.str[0] + lname + num, f + lname + year.str[2:]],
        default=f + "_" + lname + year,
    )
    # unique local parts: suffix the customer number where a name repeats
    dup = pd.Series(local).duplicated(keep="first").to_numpy()
    local = np.where(dup, pd.Series(local) + pd.Series(np.arange(n)).astype(str), local)
    domain = np.array(EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(EMAIL_DOMAINS), n)]
    email = pd.Series(local) + "@" + pd.Series(domain)
    # Some people type their address capitalized: ingest must normalize case.
    shout = rng.random(n) < 0.04
    email = email.where(~shout, email.str.title())
    area = np.array(
        ["828", "704", "919", "404", "615", "804", "718", "617", "215", "312",
         "512", "303", "206", "503", "619", "612", "614", "305", "602", "864"]
    )  # fmt: skip
    phone = (
        "+1 "
        + pd.Series(area[city])
        + "-555-"
        + pd.Series(rng.integers(100, 10_000, n)).astype(str).str.zfill(4)
    )
    street = (
        pd.Series(rng.integers(2, 9_800, n)).astype(str)
        + " "
        + pd.Series(np.array(STREETS, dtype=object)[rng.integers(0, len(STREETS), n)])
    )
    zip_prefix = np.array([c[3] for c in CITIES], dtype=object)[city]
    zip_code = _ser(zip_prefix) + _digits(rng.integers(1, 100, n)).str.zfill(2)
    user_id = 100_000_000 + np.cumsum(rng.integers(1, 60_000, n))
    user_id = rng.permutation(user_id)
    username = (
        f
        + lname.str[:1]
        + _digits(rng.integers(1, 9_999, n))
        + _ser(np.where(dup, np.arange(n).astype(str), ""))
    )
    marketing = np.where(rng.random(n) < 0.55, "yes", "no").astype(object)
    return People(
        first=first,
        last=last,
        email=email.to_numpy(dtype=object),
        phone=phone.to_numpy(dtype=object),
        street=street.to_numpy(dtype=object),
        zip_code=zip_code.to_numpy(dtype=object),
        etsy_user_id=pd.Series(user_id).astype(str).to_numpy(dtype=object),
        etsy_username=username.to_numpy(dtype=object),
        accepts_marketing=marketing,
    )


# -- formatting helpers ------------------------------------------------------------------
def _ser(values: object) -> pd.Series[Any]:
    """A Series of Python objects (text columns are built from these)."""
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def _digits(values: npt.NDArray[np.integer[Any]]) -> pd.Series[Any]:
    """Integers as decimal text."""
    return _ser(np.asarray(values).astype(str))


def money(x: FloatArray) -> pd.Series[Any]:
    """``1234.5`` -> ``"1234.50"`` (no thousands separator, two decimals)."""
    cents = np.round(np.asarray(x, dtype=np.float64) * 100.0).astype(np.int64)
    sign = np.where(cents < 0, "-", "")
    a = np.abs(cents)
    out: pd.Series[Any] = _ser(sign) + _digits(a // 100) + "." + _digits(a % 100).str.zfill(2)
    return out


def _dates(day: IntArray) -> pd.Series[Any]:
    """Day index -> ``YYYY-MM-DD``."""
    return pd.Series(np.datetime_as_string(_EPOCH + day.astype("timedelta64[D]"), unit="D"))


def _hms(second: IntArray) -> pd.Series[Any]:
    s = pd.Series(second % 86_400)
    return (
        (s // 3600).astype(str).str.zfill(2)
        + ":"
        + (s // 60 % 60).astype(str).str.zfill(2)
        + ":"
        + (s % 60).astype(str).str.zfill(2)
    )


def _us_eastern_offset(day: IntArray) -> pd.Series[Any]:
    """``-0400`` in daylight saving time (second Sunday of March to first Sunday of
    November, for local times between 07:00 and 20:00), else ``-0500``."""
    dates = _EPOCH + day.astype("timedelta64[D]")
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    dst = np.zeros(day.shape[0], dtype=bool)
    for y in np.unique(years):
        mar1 = dt.date(int(y), 3, 1)
        start = mar1 + dt.timedelta(days=(6 - mar1.weekday()) % 7 + 7)
        nov1 = dt.date(int(y), 11, 1)
        end = nov1 + dt.timedelta(days=(6 - nov1.weekday()) % 7)
        in_year = years == y
        dst |= (
            in_year
            & (dates >= np.datetime64(start.isoformat()))
            & (dates < np.datetime64(end.isoformat()))
        )
    return pd.Series(np.where(dst, "-0400", "-0500"))


def _local_stamp(day: IntArray, second: IntArray) -> pd.Series[Any]:
    """Shopify-style local timestamp ``YYYY-MM-DD HH:MM:SS -0500`` (US Eastern)."""
    return _dates(day) + " " + _hms(second) + " " + _us_eastern_offset(day)


def _mdy(day: IntArray) -> pd.Series[Any]:
    """Etsy's ``MM/DD/YY``."""
    iso = _dates(day)
    return iso.str[5:7] + "/" + iso.str[8:10] + "/" + iso.str[2:4]


def _blank_where(values: pd.Series, mask: npt.NDArray[np.bool_]) -> pd.Series[Any]:
    return values.where(~mask, "")


def _product_attr(sku: IntArray, attr: str) -> pd.Series[Any]:
    table = np.array([getattr(p, attr) for p in PRODUCTS], dtype=object)
    return pd.Series(table[sku])


def _write_csv(frame: pd.DataFrame, path: Path, sep: str = ",") -> None:
    """Write text columns with minimal quoting, ``\\n`` line ends, UTF-8 without BOM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [frame[c].to_numpy(dtype=object).tolist() for c in frame.columns]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=sep, lineterminator="\n")
        writer.writerow(list(frame.columns))
        writer.writerows(zip(*columns, strict=True))


def _first_line(line_order: IntArray) -> npt.NDArray[np.bool_]:
    first = np.ones(line_order.shape[0], dtype=bool)
    first[1:] = line_order[1:] != line_order[:-1]
    return first


# -- Shopify -------------------------------------------------------------------------------
def _shopify_lines(
    sim: Simulation,
) -> tuple[IntArray, IntArray, IntArray, IntArray, FloatArray, FloatArray]:
    """Shopify's order numbers (#1001 up, -1 for other channels) and its lines, newest
    order first: (number, order, sku, quantity, price, discount) per line."""
    orders = np.flatnonzero(sim.channel == 0)
    number = np.full(sim.n_orders, -1, np.int64)
    number[orders] = 1001 + np.arange(orders.shape[0])
    sel = np.isin(sim.line_order, orders)
    lo = sim.line_order[sel]
    order_rows = np.lexsort((np.arange(lo.shape[0]), -number[lo]))
    return (
        number,
        lo[order_rows],
        sim.line_sku[sel][order_rows],
        sim.line_qty[sel][order_rows],
        sim.line_price[sel][order_rows],
        sim.line_discount[sel][order_rows],
    )


def _shopify_addresses(
    sim: Simulation, people: People, lo: IntArray, rng: np.random.Generator
) -> dict[str, pd.Series[Any]]:
    """Billing/shipping name, street, city, zip, province and phone per line; guests get
    a random first and last name and the shop's own street and zip."""
    n = lo.shape[0]
    cust = sim.customer[lo]
    known = cust >= 0
    ci = np.maximum(cust, 0)
    guest_names = np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), n)]
    guest_last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n)]
    first_name = np.where(known, people.first[ci], guest_names)
    last_name = np.where(known, people.last[ci], guest_last)
    city = sim.city[lo]
    zip_raw = _ser(np.where(known, people.zip_code[ci], "28801"))
    street = pd.Series(np.where(known, people.street[ci], "18 Depot St"))
    state = pd.Series(np.array([c[1] for c in CITIES], dtype=object)[city])
    state_name = pd.Series(np.array([c[2] for c in CITIES], dtype=object)[city])
    phone = pd.Series(np.where(known, people.phone[ci], ""))
    full = _ser(first_name) + " " + _ser(last_name)
    out: dict[str, pd.Series[Any]] = {}
    for side in ("Billing", "Shipping"):
        out[f"{side} Name"] = full
        out[f"{side} Street"] = street
        out[f"{side} Address1"] = street
        out[f"{side} City"] = pd.Series(np.array([c[0] for c in CITIES], dtype=object)[city])
        out[f"{side} Zip"] = zip_raw.where(~zip_raw.str.startswith("0"), "'" + zip_raw)
        out[f"{side} Province"] = state
        out[f"{side} Country"] = pd.Series(["US"] * n)
        out[f"{side} Phone"] = phone
        out[f"{side} Province Name"] = state_name
    return out


def _shopify_order_level(
    sim: Simulation, people: People, lo: IntArray, number: IntArray, rng: np.random.Generator
) -> dict[str, pd.Series[Any]]:
    """Order-level fields per line (payment, fulfilment, amounts, discount code, notes,
    ids, tax); the caller blanks them on all but an order's first line."""
    n = lo.shape[0]
    known = sim.customer[lo] >= 0
    ci = np.maximum(sim.customer[lo], 0)
    day: IntArray = sim.day[lo]
    sec: IntArray = sim.second[lo]
    paid = _local_stamp(day, sec + rng.integers(1, 4, n, dtype=np.int64))
    ful_day = day + rng.integers(1, 3, n, dtype=np.int64)
    ful_sec: IntArray = np.asarray(rng.integers(9 * 3600, 17 * 3600, n), dtype=np.int64)
    subtotal = sim.order_gross() - sim.discount
    total = subtotal + sim.shipping + sim.tax
    kind = sim.refund_kind[lo]
    code_idx = sim.discount_code[lo]
    codes = np.array([p["code"] for p in PROMOTIONS] + [""], dtype=object)[
        np.where(code_idx >= 0, code_idx, len(PROMOTIONS))
    ]
    ship = sim.shipping[lo]
    notes_pick = rng.random(n)
    notes = np.select(
        [notes_pick < 0.006, notes_pick < 0.012],
        ["It's a gift for my dad!\nPlease leave out the invoice.", "Please leave by the side door"],
        default="",
    )
    pay_method = np.where(rng.random(n) < 0.82, "Shopify Payments", "PayPal Express Checkout")
    payment_ref = "c" + pd.Series(rng.integers(10**9, 10**10, n)).astype(str) + ".1"
    rate = np.array([c[4] for c in CITIES])[sim.city[lo]]
    state = pd.Series(np.array([c[1] for c in CITIES], dtype=object)[sim.city[lo]])
    tax_name = state + " State Tax " + pd.Series(np.round(rate * 100, 3)).astype(str) + "%"
    fin = np.select([kind == 1, kind == 2], ["refunded", "partially_refunded"], default="paid")
    return {
        "Financial Status": pd.Series(fin),
        "Paid at": paid,
        "Fulfillment Status": pd.Series(["fulfilled"] * n),
        "Fulfilled at": _local_stamp(ful_day, ful_sec),
        "Accepts Marketing": pd.Series(np.where(known, people.accepts_marketing[ci], "no")),
        "Currency": pd.Series(["USD"] * n),
        "Subtotal": money(subtotal[lo]),
        "Shipping": money(ship),
        "Taxes": money(sim.tax[lo]),
        "Total": money(total[lo]),
        "Discount Code": pd.Series(codes),
        "Discount Amount": money(sim.discount[lo]),
        "Shipping Method": pd.Series(
            np.where(ship > 0, "Standard Shipping", "Free Shipping (orders over $45)")
        ),
        "Notes": pd.Series(notes),
        "Payment Method": pd.Series(pay_method),
        "Payment Reference": payment_ref,
        "Refunded Amount": money(sim.refunded[lo]),
        "Outstanding Balance": pd.Series(["0.00"] * n),
        "Id": pd.Series(5_210_000_000_000 + number[lo] * 137).astype(str),
        "Risk Level": pd.Series(["Low"] * n),
        "Source": pd.Series(["web"] * n),
        "Tax 1 Name": tax_name.where(sim.tax[lo] > 0, ""),
        "Tax 1 Value": money(sim.tax[lo]).where(sim.tax[lo] > 0, ""),
        "Payment ID": payment_ref,
        "Payment References": payment_ref,
    }


def write_shopify(sim: Simulation, people: People, path: Path) -> int:
    """Write the Shopify orders export (one row per line item, newest order first).

    Real exports repeat Name, Email and Created at on every line-item row; the other
    order-level fields (:func:`_shopify_order_level`, :func:`_shopify_addresses`) sit
    on the order's first row only. Returns the number of data rows.
    """
    rng = np.random.default_rng([sim.seed, 202])
    number, lo, ls, lq, lp, ld = _shopify_lines(sim)
    n = lo.shape[0]
    cont = ~_first_line(lo)
    addresses = _shopify_addresses(sim, people, lo, rng)
    created = _local_stamp(sim.day[lo], sim.second[lo])
    order_level = {**_shopify_order_level(sim, people, lo, number, rng), **addresses}
    cust = sim.customer[lo]
    blank = pd.Series([""] * n, dtype=object)
    cols: dict[str, pd.Series[Any]] = dict.fromkeys(SHOPIFY_COLUMNS, blank)
    cols["Email"] = pd.Series(np.where(cust >= 0, people.email[np.maximum(cust, 0)], ""))
    cols["Created at"] = created
    for name, values in order_level.items():
        cols[name] = _blank_where(values.reset_index(drop=True), cont)
    cols["Name"] = "#" + pd.Series(number[lo]).astype(str)
    cols["Lineitem quantity"] = pd.Series(lq).astype(str)
    cols["Lineitem name"] = _product_attr(ls, "name")
    cols["Lineitem price"] = money(lp)
    cols["Lineitem sku"] = _product_attr(ls, "sku")
    cols["Lineitem requires shipping"] = pd.Series(["true"] * n)
    cols["Lineitem taxable"] = pd.Series(["true"] * n)
    cols["Lineitem fulfillment status"] = pd.Series(["fulfilled"] * n)
    cols["Vendor"] = pd.Series([VENDOR] * n)
    cols["Lineitem discount"] = money(ld)
    frame = pd.DataFrame({c: cols[c].to_numpy(dtype=object) for c in SHOPIFY_COLUMNS})
    _write_csv(frame, path)
    return int(n)


# -- Etsy ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _EtsyOrders:
    """Per-order amounts and ids of the Etsy export (arrays over all orders)."""

    etsy_id: IntArray
    gross: FloatArray
    units: npt.NDArray[Any]
    total: FloatArray
    fees: FloatArray
    net: FloatArray
    adj_total: FloatArray
    adj_fees: FloatArray
    adj_net: FloatArray
    status: npt.NDArray[np.str_]
    shipped: IntArray
    cust: IntArray
    sku_list: npt.NDArray[np.object_]


def _etsy_orders(sim: Simulation, rng: np.random.Generator, orders: IntArray) -> _EtsyOrders:
    """Etsy's order ids, totals, card fees (3 % + 0.25), refund adjustments, status,
    ship day and the SKU list (the order's SKUs joined by commas)."""
    etsy_id = np.full(sim.n_orders, -1, np.int64)
    etsy_id[orders] = 2_900_000_000 + np.cumsum(rng.integers(700, 4_000, orders.shape[0]))
    gross = sim.order_gross()
    units = np.bincount(sim.line_order, weights=sim.line_qty, minlength=sim.n_orders)
    total = gross - sim.discount + sim.shipping + sim.tax
    fees = np.round(0.03 * total + 0.25, 2)
    refunded = np.where(sim.refund_kind == 1, total, sim.refunded)
    adj_total = total - refunded
    adj_fees = np.where(sim.refund_kind == 1, 0.0, fees)
    status = np.select(
        [sim.refund_kind == 1, sim.refund_kind == 2],
        ["Fully Refunded", "Partially Refunded"],
        "Completed",
    )
    shipped = sim.day + rng.integers(1, 4, sim.n_orders)
    in_etsy = np.isin(sim.line_order, orders)
    e_order = sim.line_order[in_etsy]
    e_sku = (np.array(sim.skus, dtype=object) + ",")[sim.line_sku[in_etsy]]
    starts = np.flatnonzero(_first_line(e_order))
    joined = np.add.reduceat(e_sku, starts) if starts.shape[0] else np.array([], dtype=object)
    sku_list = np.full(sim.n_orders, "", dtype=object)
    sku_list[e_order[starts]] = pd.Series(joined, dtype=object).str[:-1].to_numpy(dtype=object)
    return _EtsyOrders(
        etsy_id=etsy_id,
        gross=gross,
        units=units,
        total=total,
        fees=fees,
        net=total - fees,
        adj_total=adj_total,
        adj_fees=adj_fees,
        adj_net=adj_total - adj_fees,
        status=status,
        shipped=shipped,
        cust=np.maximum(sim.customer, 0),
        sku_list=sku_list,
    )


_CITY_NAME = np.array([c[0] for c in CITIES], dtype=object)
_STATE = np.array([c[1] for c in CITIES], dtype=object)


def _etsy_orders_frame(
    sim: Simulation, people: People, e: _EtsyOrders, o: IntArray, rng: np.random.Generator
) -> pd.DataFrame:
    """One year's ``EtsySoldOrders`` rows for orders ``o`` (newest first)."""
    c = e.cust[o]
    city = sim.city[o]
    return pd.DataFrame(
        {
            "Sale Date": _mdy(sim.day[o]),
            "Order ID": pd.Series(e.etsy_id[o]).astype(str),
            "Buyer User ID": pd.Series(people.etsy_user_id[c]),
            "Full Name": pd.Series(people.first[c]) + " " + pd.Series(people.last[c]),
            "First Name": pd.Series(people.first[c]),
            "Last Name": pd.Series(people.last[c]),
            "Number of Items": pd.Series(e.units[o].astype(np.int64)).astype(str),
            "Payment Method": pd.Series(
                np.where(rng.random(o.shape[0]) < 0.85, "Credit Card", "PayPal")
            ),
            "Date Shipped": _mdy(e.shipped[o]),
            "Street 1": pd.Series(people.street[c]),
            "Street 2": "",
            "Ship City": pd.Series(_CITY_NAME[city]),
            "Ship State": pd.Series(_STATE[city]),
            "Ship Zipcode": pd.Series(people.zip_code[c]),
            "Ship Country": "United States",
            "Currency": "USD",
            "Order Value": money(e.gross[o]),
            "Coupon Code": "",
            "Coupon Details": "",
            "Discount Amount": money(sim.discount[o]),
            "Shipping Discount": "0.00",
            "Shipping": money(sim.shipping[o]),
            "Sales Tax": money(sim.tax[o]),
            "Order Total": money(e.total[o]),
            "Status": pd.Series(e.status[o]),
            "Card Processing Fees": money(e.fees[o]),
            "Order Net": money(e.net[o]),
            "Adjusted Order Total": money(e.adj_total[o]),
            "Adjusted Card Processing Fees": money(e.adj_fees[o]),
            "Adjusted Net Order Amount": money(e.adj_net[o]),
            "Buyer": pd.Series(people.etsy_username[c]),
            "Order Type": "online",
            "Payment Type": "online_cc",
            "InPerson Discount": "",
            "InPerson Location": "",
            "SKU": pd.Series(e.sku_list[o]),
        }
    )[list(ETSY_ORDER_COLUMNS)]


def _etsy_items_frame(sim: Simulation, people: People, e: _EtsyOrders, o: IntArray) -> pd.DataFrame:
    """One year's ``EtsySoldOrderItems`` rows: the lines of orders ``o``, newest order
    first; order-level amounts on each order's first line only."""
    listing = 1_300_000_000 + np.arange(len(PRODUCTS)) * 7_919
    sel = np.isin(sim.line_order, o)
    lo = sim.line_order[sel]
    rows = np.lexsort((np.arange(lo.shape[0]), -e.etsy_id[lo]))
    lo = lo[rows]
    line_pos = np.flatnonzero(sel)[rows]
    ls, lq, lp = sim.line_sku[sel][rows], sim.line_qty[sel][rows], sim.line_price[sel][rows]
    cont = ~_first_line(lo)
    lc = e.cust[lo]
    city = sim.city[lo]
    unground = _product_attr(ls, "category").isin(["equipment", "gifts_subscriptions"])
    return pd.DataFrame(
        {
            "Sale Date": _mdy(sim.day[lo]),
            "Item Name": _product_attr(ls, "name"),
            "Buyer": pd.Series(people.etsy_username[lc]),
            "Quantity": pd.Series(lq).astype(str),
            "Price": money(lp),
            "Coupon Code": "",
            "Coupon Details": "",
            "Discount Amount": _blank_where(money(sim.discount[lo]), cont),
            "Shipping Discount": _blank_where(pd.Series(["0.00"] * lo.shape[0]), cont),
            "Order Shipping": _blank_where(money(sim.shipping[lo]), cont),
            "Order Sales Tax": _blank_where(money(sim.tax[lo]), cont),
            "Item Total": money(lq * lp),
            "Currency": "USD",
            "Transaction ID": pd.Series(4_100_000_000 + 3 * line_pos).astype(str),
            "Listing ID": pd.Series(listing[ls]).astype(str),
            "Date Paid": _mdy(sim.day[lo]),
            "Date Shipped": _mdy(e.shipped[lo]),
            "Ship Name": pd.Series(people.first[lc]) + " " + pd.Series(people.last[lc]),
            "Ship Address1": pd.Series(people.street[lc]),
            "Ship Address2": "",
            "Ship City": pd.Series(_CITY_NAME[city]),
            "Ship State": pd.Series(_STATE[city]),
            "Ship Zipcode": pd.Series(people.zip_code[lc]),
            "Ship Country": "United States",
            "Order ID": pd.Series(e.etsy_id[lo]).astype(str),
            "Variations": pd.Series(np.where(unground, "", "Grind:Whole Bean")),
            "Order Type": "online",
            "Listings Type": "listing",
            "Payment Type": "online_cc",
            "InPerson Discount": "",
            "InPerson Location": "",
            "VAT Paid by Buyer": "",
            "SKU": _product_attr(ls, "sku"),
        }
    )[list(ETSY_ITEM_COLUMNS)]


def write_etsy(sim: Simulation, people: People, directory: Path) -> list[Path]:
    """Write ``EtsySoldOrders<year>.csv`` and ``EtsySoldOrderItems<year>.csv`` per year."""
    rng = np.random.default_rng([sim.seed, 303])
    orders = np.flatnonzero(sim.channel == 1)
    e = _etsy_orders(sim, rng, orders)
    year = (_EPOCH + sim.day.astype("timedelta64[D]")).astype("datetime64[Y]").astype(
        np.int64
    ) + 1970
    written: list[Path] = []
    for y in np.unique(year[orders]):
        o = orders[year[orders] == y][::-1]  # newest first, as Etsy lists them
        p = directory / f"EtsySoldOrders{y}.csv"
        _write_csv(_etsy_orders_frame(sim, people, e, o, rng), p)
        written.append(p)
        p = directory / f"EtsySoldOrderItems{y}.csv"
        _write_csv(_etsy_items_frame(sim, people, e, o), p)
        written.append(p)
    return written


# -- Amazon --------------------------------------------------------------------------------
def _asin(sku: str) -> str:
    digest = hashlib.sha256(sku.encode()).hexdigest().upper()
    return "B0" + digest[:8]


def write_amazon(sim: Simulation, path: Path) -> int:
    """Write the Amazon "All Orders" report (tab-separated, one row per line)."""
    rng = np.random.default_rng([sim.seed, 404])
    orders = np.flatnonzero(sim.channel == 2)
    k = np.full(sim.n_orders, -1, np.int64)
    k[orders] = np.arange(orders.shape[0])
    sel = np.isin(sim.line_order, orders)
    lo, ls, lq, lp = sim.line_order[sel], sim.line_sku[sel], sim.line_qty[sel], sim.line_price[sel]
    n = lo.shape[0]
    part3 = rng.integers(1_000_000, 10_000_000, orders.shape[0])
    prefix = np.array(["111", "112", "113", "114"], dtype=object)[
        rng.integers(0, 4, orders.shape[0])
    ]
    amz_id = (
        pd.Series(prefix)
        + "-"
        + pd.Series(1_000_000 + np.arange(orders.shape[0]) * 3).astype(str)
        + "-"
        + pd.Series(part3).astype(str)
    )
    oid = amz_id.to_numpy(dtype=object)[k[lo]]
    stamp = _dates(sim.day[lo]) + "T" + _hms(sim.second[lo]) + "+00:00"
    updated = _dates(sim.day[lo] + 2) + "T" + _hms(sim.second[lo]) + "+00:00"
    line_total = lq * lp
    rate = np.array([c[4] for c in CITIES])[sim.city[lo]]
    city = sim.city[lo]
    asins = np.array([_asin(p.sku) for p in PRODUCTS], dtype=object)
    zip_prefix = np.array([c[3] for c in CITIES], dtype=object)[city]
    zip_tail = pd.Series(rng.integers(1, 100, orders.shape[0])).astype(str).str.zfill(2)
    zip_code = pd.Series(zip_prefix) + pd.Series(zip_tail.to_numpy(dtype=object)[k[lo]])
    frame = pd.DataFrame(
        {
            "amazon-order-id": pd.Series(oid),
            "merchant-order-id": "",
            "purchase-date": stamp,
            "last-updated-date": updated,
            "order-status": "Shipped",
            "fulfillment-channel": "Amazon",
            "sales-channel": "Amazon.com",
            "order-channel": "",
            "url": "",
            "ship-service-level": pd.Series(np.where(rng.random(n) < 0.7, "Expedited", "Standard")),
            "product-name": _product_attr(ls, "name"),
            "sku": _product_attr(ls, "sku"),
            "asin": pd.Series(asins[ls]),
            "item-status": "Shipped",
            "quantity": pd.Series(lq).astype(str),
            "currency": "USD",
            "item-price": money(line_total),
            "item-tax": money(np.round(line_total * rate, 2)),
            "shipping-price": "0.00",
            "shipping-tax": "0.00",
            "gift-wrap-price": "",
            "gift-wrap-tax": "",
            "item-promotion-discount": "0.00",
            "ship-promotion-discount": "0.00",
            "ship-city": pd.Series(
                np.array([c[0] for c in CITIES], dtype=object)[city]
            ).str.upper(),
            "ship-state": pd.Series(np.array([c[1] for c in CITIES], dtype=object)[city]),
            "ship-postal-code": zip_code,
            "ship-country": "US",
            "promotion-ids": "",
            "is-business-order": "false",
            "purchase-order-number": "",
            "price-designation": "",
        }
    )
    _write_csv(frame[list(AMAZON_COLUMNS)], path, sep="\t")
    return int(n)


# -- wholesale ---------------------------------------------------------------------------
#: Every ``EU_CAFE_EVERY``-th café is the EU wholesale account of ``--eur-wholesale``.
EU_CAFE_EVERY = 4


def _usd_per_eur(days: pd.Series[Any]) -> FloatArray:
    """ECB reference USD per EUR on each date (the last published on or before it)."""
    from levelfield.workspace import ecb_history

    hist = ecb_history()
    usd = hist.loc[hist["currency"] == "USD"].sort_values("rate_date")
    dates = pd.to_datetime(usd["rate_date"]).to_numpy(dtype="datetime64[D]")
    want = pd.to_datetime(days).to_numpy(dtype="datetime64[D]")
    i = np.searchsorted(dates, want, side="right") - 1
    return usd["per_eur"].to_numpy(dtype=np.float64)[np.clip(i, 0, None)]


def write_wholesale(sim: Simulation, path: Path, eur_path: Path | None = None) -> int:
    """Write the café invoice spreadsheet (one row per invoice line).

    With ``eur_path``, the invoices of every :data:`EU_CAFE_EVERY`-th café (the EU
    wholesale account) go there instead, priced in EUR at the ECB reference rate of the
    invoice date (unit prices rounded to cents) with a ``Currency`` column: converted
    back to USD at the same rate they are the default demo's USD invoices to within
    half a cent per unit.
    """
    lo = sim.ws_line_order
    cafe = sim.ws_cafe[lo]
    number = pd.Series(10_001 + lo).astype(str)
    price = np.asarray(sim.ws_line_price, dtype=np.float64)
    frame = pd.DataFrame(
        {
            "Invoice No": "INV-" + number,
            "Invoice Date": _dates(sim.ws_day[lo]),
            "Customer": pd.Series(np.array(CAFE_NAMES, dtype=object)[cafe]),
            "Item Code": pd.Series(np.array(sim.skus, dtype=object)[sim.ws_line_sku]),
            "Description": _product_attr(sim.ws_line_sku, "name"),
            "Qty": pd.Series(sim.ws_line_qty).astype(str),
            "Unit Price": money(price),
            "Line Total": money(sim.ws_line_qty * price),
        }
    )
    eu = np.zeros(len(frame), dtype=bool) if eur_path is None else cafe % EU_CAFE_EVERY == 0
    _write_csv(frame.loc[~eu, list(WHOLESALE_COLUMNS)], path)
    if eur_path is not None:
        rate = _usd_per_eur(frame.loc[eu, "Invoice Date"])
        eur_price = np.round(price[eu] / rate, 2)  # the invoice's unit price, in cents
        eur = frame.loc[eu, list(WHOLESALE_COLUMNS)].copy()
        eur["Unit Price"] = money(eur_price).to_numpy()
        eur["Line Total"] = money(sim.ws_line_qty[eu] * eur_price).to_numpy()
        eur["Currency"] = "EUR"
        _write_csv(eur, eur_path)
    return int((~eu).sum())
