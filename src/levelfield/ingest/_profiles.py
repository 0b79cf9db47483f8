"""Platform profiles: how each export's columns map to levelfield's order fields.

A profile is recognised from the header row alone (never the file name): every column
in ``required`` must be present (case and surrounding spaces ignored), plus one column
from each group in ``required_any``. Extra, reordered and missing optional columns are
tolerated. Field sources are a column name, or an expression (starting with ``=``)
in which ``{Column Name}`` stands for that column's text (NULL when absent).

References
----------
Column lists follow the platforms' export documentation and public sample files:
Shopify "Exporting orders" help page (79 columns since 2023; 75 in 2021); Square
"Item sales" and "Transactions" report exports; Stripe Dashboard payments export
(``unified_payments.csv``); WooCommerce Analytics orders CSV and the "Advanced Order
Export For WooCommerce" plugin's default fields; Etsy "Download Data" sold orders /
sold order items CSVs; Amazon Seller Central "All Orders" flat-file report; the UCI
Online Retail data set (Chen, Sain and Guo 2012) and CDNOW (Fader and Hardie 2001).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "GENERIC_FIELDS",
    "ORDER_PROFILES",
    "OrderProfile",
    "ProfileMatch",
    "detect_profile",
    "norm",
]


def norm(name: str) -> str:
    """Normalised column name: lower case, single spaces, no surrounding blanks."""
    return re.sub(r"\s+", " ", name.replace("\ufeff", "")).strip().lower()


#: Fields the generic profile (``--map column=field``) can fill, with accepted aliases.
GENERIC_FIELDS: dict[str, tuple[str, ...]] = {
    "order_id": ("order", "order_number", "order_no", "invoice", "invoice_no", "order id"),
    "ordered_at": ("date", "order_date", "created_at", "ordered", "invoice_date", "timestamp"),
    "customer_id": ("customer", "client", "customer_number", "account", "customer id"),
    "email": ("customer_email", "e-mail", "email_address"),
    "buyer_id": ("buyer", "user_id", "buyer_id"),
    "currency": (),
    "status": ("order_status", "state"),
    "channel": (),
    "gross": ("subtotal", "merchandise", "gross_sales"),
    "total": ("order_total", "grand_total", "amount"),
    "discount": ("discounts", "discount_amount"),
    "tax": ("taxes", "vat", "sales_tax"),
    "shipping": ("delivery", "freight", "shipping_amount"),
    "fees": ("fee", "commission", "processing_fee"),
    "refunded": ("refund", "refunded_amount", "refund_amount"),
    "sku": ("product_id", "item_code", "stockcode", "article", "item_sku"),
    "product": ("item", "description", "product_name", "item_name"),
    "category": ("product_category",),
    "quantity": ("qty", "units", "quantity_ordered"),
    "unit_price": ("price", "list_price", "unit price", "price_per_unit"),
    "line_total": ("line_amount", "line_value", "item_total"),
    "line_discount": ("item_discount",),
    "refund_of": ("original_order", "original_order_id"),
    "subtotal": (),
    "phone": ("customer_phone", "telephone", "billing_phone"),
    "billing_name": (),
    "billing_zip": ("billing_postcode", "billing_postal_code"),
    "country": ("shipping_country", "ship_country", "billing_country", "customer_country"),
}

_SUM = "sum"
_FIRST = "first"


@dataclass(frozen=True)
class OrderProfile:
    """How one platform's order export maps to ``orders`` and ``order_lines``.

    Parameters
    ----------
    name, title
        Id used by ``--profile`` and the name shown to the user.
    channel
        Default ``orders.channel``.
    required, required_any
        Header columns that identify the export.
    fields
        Order field -> source column or ``=`` expression.
    amounts
        ``"first"``: order-level amounts sit on the order's first row only;
        ``"sum"``: every row carries its own share (line-level) and they add up.
    gross_from
        ``"lines"`` (quantity x unit price), ``"line_total"``, ``"gross"`` or ``"total"``.
    owns_orders
        False for exports (Etsy items) that may only fill gaps in orders another file
        owns; their lines still replace the order's lines.
    key_space
        Prefix of the workspace order key (``shopify:``): orders of different platforms
        never share a key. The key's native part is the ``source_id`` field when the
        profile has one (Shopify's ``Id``), else the order id.
    global_ids
        True when the platform's order ids are unique across all its stores and
        accounts (Shopify ``Id``, Stripe charge ids, Etsy order ids): two stores then
        never collide and ``--store`` is not part of the key.
    date_order
        The platform's native day/month order, used only when the column cannot decide.
    """

    name: str
    title: str
    channel: str
    required: tuple[str, ...]
    fields: Mapping[str, str]
    required_any: tuple[tuple[str, ...], ...] = ()
    amounts: str = _FIRST
    gross_from: str = "gross"
    owns_orders: bool = True
    date_order: str | None = None
    currency: str | None = None
    formats: tuple[str, ...] = ("csv", "excel", "parquet")
    variants: Mapping[int, str] = field(default_factory=dict)
    key_space: str | None = None
    global_ids: bool = False

    def matches(self, header: Sequence[str], fmt: str) -> tuple[bool, float, list[str]]:
        """Whether ``header`` fits, the share of required columns found, what is missing."""
        have = {norm(h) for h in header}
        need = [c for c in self.required if norm(c) not in have]
        for group in self.required_any:
            if not any(norm(c) in have for c in group):
                need.append(" or ".join(group))
        total = len(self.required) + len(self.required_any)
        share = 1 - len(need) / total if total else 0.0
        return (not need and fmt in self.formats), share, need


SHOPIFY = OrderProfile(
    name="shopify",
    title="Shopify orders export",
    channel="shopify",
    required=(
        "Name",
        "Email",
        "Financial Status",
        "Currency",
        "Subtotal",
        "Total",
        "Created at",
        "Lineitem quantity",
        "Lineitem name",
        "Lineitem price",
    ),
    fields={
        "order_id": "Name",
        "ordered_at": "Created at",
        "email": "Email",
        "currency": "Currency",
        "status": "=CASE WHEN {Cancelled at} IS NOT NULL AND trim({Cancelled at}) <> '' "
        "AND lower(coalesce({Financial Status}, '')) IN ('paid', 'pending', 'authorized') "
        "THEN 'cancelled' ELSE {Financial Status} END",
        "discount": "Discount Amount",
        "tax": "Taxes",
        "shipping": "Shipping",
        "refunded": "Refunded Amount",
        "quantity": "Lineitem quantity",
        "product": "Lineitem name",
        "unit_price": "Lineitem price",
        "sku": "Lineitem sku",
        "line_discount": "Lineitem discount",
        "source_id": "Id",
        "subtotal": "Subtotal",
        "phone": "=coalesce({Phone}, {Billing Phone}, {Shipping Phone})",
        "billing_name": "Billing Name",
        "billing_zip": "Billing Zip",
        "country": "=coalesce({Shipping Country}, {Billing Country})",
    },
    gross_from="lines",
    variants={79: "2023+ layout, 79 columns", 75: "2021 layout, 75 columns"},
    key_space="shopify",
    global_ids=True,
)

SQUARE_ITEMS = OrderProfile(
    name="square_items",
    title="Square item sales export",
    channel="square",
    required=(
        "Date",
        "Time",
        "Time Zone",
        "Item",
        "Qty",
        "Gross Sales",
        "Discounts",
        "Net Sales",
        "Transaction ID",
        "Event Type",
    ),
    fields={
        "order_id": "Transaction ID",
        "ordered_at": "={Date} || ' ' || coalesce({Time}, '00:00:00')",
        "time_zone": "Time Zone",
        "customer_id": "Customer ID",
        "category": "Category",
        "product": "Item",
        "sku": "SKU",
        "quantity": "Qty",
        "line_total": "Gross Sales",
        "line_discount": "Discounts",
        "discount": "Discounts",
        "tax": "Tax",
        "refund_flag": "=CASE WHEN lower({Event Type}) = 'refund' THEN 'y' END",
    },
    amounts=_SUM,
    gross_from="line_total",
    variants={35: "35 columns", 33: "older layout, 33 columns"},
    key_space="square",
    global_ids=True,
)

SQUARE_TRANSACTIONS = OrderProfile(
    name="square_transactions",
    title="Square transactions export",
    channel="square",
    required=(
        "Date",
        "Time",
        "Time Zone",
        "Gross Sales",
        "Discounts",
        "Tax",
        "Total Collected",
        "Fees",
        "Net Total",
        "Transaction ID",
        "Event Type",
    ),
    fields={
        "order_id": "Transaction ID",
        "ordered_at": "={Date} || ' ' || coalesce({Time}, '00:00:00')",
        "time_zone": "Time Zone",
        "customer_id": "Customer ID",
        "gross": "Gross Sales",
        "discount": "Discounts",
        "tax": "Tax",
        "fees": "Fees",
        "refunded": "Partial Refunds",
        "refund_flag": "=CASE WHEN lower({Event Type}) = 'refund' THEN 'y' END",
    },
    key_space="square",
    global_ids=True,
)

STRIPE = OrderProfile(
    name="stripe",
    title="Stripe payments export (unified_payments.csv)",
    channel="stripe",
    required=("id", "Amount", "Amount Refunded", "Currency", "Status"),
    required_any=(("Created (UTC)", "Created date (UTC)"),),
    fields={
        # A succeeded payment without an id is still a payment: it gets a stable id
        # from its own content. Attempts without an id that never succeeded
        # (requires_payment_method: abandoned checkouts) are skipped and counted.
        "order_id": "=coalesce({id}, CASE WHEN lower(coalesce({Status}, '')) IN "
        "('succeeded', 'paid', 'refunded', 'partially_refunded') THEN 'noid-' || "
        "substr(md5(concat_ws('|', coalesce({Created (UTC)}, {Created date (UTC)}), "
        "{Amount}, {Currency}, {Customer ID}, {Customer Email}, {Description})), 1, 16) END)",
        "skip": "=CASE WHEN {id} IS NULL AND lower(coalesce({Status}, '')) NOT IN "
        "('succeeded', 'paid', 'refunded', 'partially_refunded') THEN "
        "coalesce({Status}, 'no status') END",
        "ordered_at": "=coalesce({Created (UTC)}, {Created date (UTC)})",
        "customer_id": "Customer ID",
        "email": "Customer Email",
        "currency": "Currency",
        "gross": "Amount",
        "refunded": "Amount Refunded",
        "fees": "Fee",
        "converted_amount": "Converted Amount",
        "converted_currency": "Converted Currency",
        "status": "Status",
        "country": "=coalesce({Shipping Address Country}, {Card Address Country})",
    },
    key_space="stripe",
    global_ids=True,
)

WOO_ANALYTICS = OrderProfile(
    name="woocommerce_analytics",
    title="WooCommerce Analytics orders export",
    channel="woocommerce",
    required=("Date", "Order #", "N. Revenue (formatted)", "Status", "Customer", "Net Sales"),
    fields={
        "order_id": "Order #",
        "ordered_at": "Date",
        "buyer_id": "Customer",
        "status": "Status",
        "gross": "Net Sales",
        "currency_symbols": "N. Revenue (formatted)",
    },
    key_space="woocommerce",
)

WOO_EXPORT = OrderProfile(
    name="woocommerce_export",
    title="WooCommerce Advanced Order Export (plugin) layout",
    channel="woocommerce",
    required=(
        "Order Number",
        "Order Status",
        "Order Date",
        "Item Name",
        "Quantity",
        "Item Cost",
        "Order Total Amount",
    ),
    fields={
        "order_id": "Order Number",
        "ordered_at": "Order Date",
        "status": "Order Status",
        "email": "Email (Billing)",
        "customer_id": "Customer User ID",
        "sku": "SKU",
        "product": "Item Name",
        "quantity": "Quantity",
        "unit_price": "Item Cost",
        "discount": "=coalesce({Cart Discount Amount}, {Discount Amount})",
        "shipping": "Order Shipping Amount",
        "refunded": "Order Refund Amount",
        "tax": "Order Total Tax Amount",
        "currency": "Order Currency",
        "phone": "Phone (Billing)",
    },
    gross_from="lines",
    key_space="woocommerce",
)

ETSY_ORDERS = OrderProfile(
    name="etsy_orders",
    title="Etsy sold orders (EtsySoldOrders.csv)",
    channel="etsy",
    required=("Sale Date", "Order ID", "Buyer User ID", "Order Value", "Order Total"),
    required_any=(("Card Processing Fees", "Order Net"),),
    fields={
        "order_id": "Order ID",
        "ordered_at": "Sale Date",
        "customer_id": "Buyer User ID",
        "buyer_id": "Buyer",
        "currency": "Currency",
        "gross": "Order Value",
        "discount": "Discount Amount",
        "shipping": "=coalesce({Shipping}, {Delivery})",
        "tax": "Sales Tax",
        "fees": "Card Processing Fees",
        "total": "Order Total",
        "adjusted_total": "Adjusted Order Total",
        "status": "Status",
        "country": "Ship Country",
    },
    date_order="mdy",
    key_space="etsy",
    global_ids=True,
)

ETSY_ITEMS = OrderProfile(
    name="etsy_items",
    title="Etsy sold order items (EtsySoldOrderItems.csv)",
    channel="etsy",
    required=(
        "Sale Date",
        "Item Name",
        "Buyer",
        "Quantity",
        "Price",
        "Item Total",
        "Transaction ID",
        "Order ID",
    ),
    fields={
        "order_id": "Order ID",
        "ordered_at": "Sale Date",
        "buyer_id": "Buyer",
        "currency": "Currency",
        "product": "Item Name",
        "sku": "SKU",
        "quantity": "Quantity",
        "unit_price": "Price",
        "discount": "Discount Amount",
        "shipping": "=coalesce({Order Shipping}, {Order Delivery})",
        "tax": "Order Sales Tax",
        "country": "Ship Country",
    },
    gross_from="lines",
    owns_orders=False,
    date_order="mdy",
    key_space="etsy",
    global_ids=True,
)

AMAZON = OrderProfile(
    name="amazon",
    title="Amazon seller All Orders report",
    channel="amazon",
    required=(
        "amazon-order-id",
        "purchase-date",
        "order-status",
        "sku",
        "quantity",
        "currency",
        "item-price",
    ),
    fields={
        "order_id": "amazon-order-id",
        "ordered_at": "purchase-date",
        "status": "order-status",
        "sku": "sku",
        "product": "product-name",
        "quantity": "quantity",
        "currency": "currency",
        "line_total": "item-price",
        "tax": "item-tax",
        "shipping": "shipping-price",
        "line_discount": "item-promotion-discount",
        "discount": "item-promotion-discount",
    },
    amounts=_SUM,
    gross_from="line_total",
    key_space="amazon",
    global_ids=True,
)

UCI = OrderProfile(
    name="uci_online_retail",
    title="UCI Online Retail layout",
    channel="online",
    required=(
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    ),
    fields={
        "order_id": "InvoiceNo",
        "ordered_at": "InvoiceDate",
        "customer_id": "CustomerID",
        "sku": "StockCode",
        "product": "Description",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
        "refund_flag": "=CASE WHEN upper(left(trim({InvoiceNo}), 1)) = 'C' THEN 'y' END",
        "refund_of": "=CASE WHEN upper(left(trim({InvoiceNo}), 1)) = 'C' "
        "THEN substr(trim({InvoiceNo}), 2) END",
        "country": "Country",
    },
    gross_from="lines",
    date_order="mdy",
    currency="GBP",
    key_space="uci",
)

CDNOW = OrderProfile(
    name="cdnow",
    title="CDNOW transaction log (customer_id date quantity amount)",
    channel="online",
    required=("customer_id", "date", "quantity", "amount"),
    fields={
        "order_id": "={customer_id} || '-' || {date} || '-' || "
        "CAST(row_number() OVER (PARTITION BY {customer_id}, {date} ORDER BY _row) AS VARCHAR)",
        "ordered_at": "date",
        "customer_id": "customer_id",
        "quantity": "quantity",
        "line_total": "amount",
    },
    amounts=_SUM,
    gross_from="line_total",
    currency="USD",
    formats=("whitespace",),
    key_space="cdnow",
)

#: Order profiles in detection order (more specific first).
ORDER_PROFILES: tuple[OrderProfile, ...] = (
    SHOPIFY,
    SQUARE_TRANSACTIONS,
    SQUARE_ITEMS,
    STRIPE,
    WOO_EXPORT,
    WOO_ANALYTICS,
    ETSY_ORDERS,
    ETSY_ITEMS,
    AMAZON,
    UCI,
    CDNOW,
)


@dataclass(frozen=True)
class ProfileMatch:
    """The detected profile and a sentence saying why.

    When no profile matched, ``closest`` names the profile sharing the most
    identifying columns with the header (``shared`` of them), offered only when the
    header has at least half of that profile's identifying columns; ``missing`` lists
    the ones it lacks.
    """

    profile: OrderProfile | None
    reason: str
    closest: str | None = None
    missing: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()


def _loose(name: str) -> str:
    # "order-status", "Order Status" and "order_status" are the same column to a person.
    return re.sub(r"[^a-z0-9]", "", norm(name))


def _shared_identifying(p: OrderProfile, header: Sequence[str]) -> tuple[list[str], list[str]]:
    """Identifying columns of ``p`` present in ``header`` (loosely), and those missing."""
    have = {_loose(h) for h in header}
    shared: list[str] = []
    missing: list[str] = []
    for c in p.required:
        (shared if _loose(c) in have else missing).append(c)
    for group in p.required_any:
        hit = next((c for c in group if _loose(c) in have), None)
        if hit is None:
            missing.append(" or ".join(group))
        else:
            shared.append(hit)
    return shared, missing


def detect_profile(header: Sequence[str], fmt: str) -> ProfileMatch:
    """Pick the order profile whose required columns the header has (most columns first).

    Without a match, the closest profile is the one sharing the most identifying
    columns (ties: the larger share of its columns); it is only offered when the
    header has at least half of them, so that a few generic names (``Order ID``,
    ``Quantity``, ``Price``) do not point an Amazon order history at Etsy.
    """
    hits = [p for p in ORDER_PROFILES if p.matches(header, fmt)[0]]
    if hits:
        p = max(hits, key=lambda q: len(q.required) + len(q.required_any))
        n_req = len(p.required) + len(p.required_any)
        variant = p.variants.get(len(header))
        extra = f" ({variant})" if variant else ""
        reason = (
            f"{p.title}{extra}: the header has all {n_req} identifying columns "
            f"({', '.join(repr(c) for c in p.required[:4])}, ...)"
            if fmt != "whitespace"
            else f"{p.title}: every line is 'id YYYYMMDD quantity amount'"
        )
        return ProfileMatch(p, reason)
    ranked = []
    for p in ORDER_PROFILES:
        shared, missing = _shared_identifying(p, header)
        total = len(shared) + len(missing)
        ranked.append((len(shared), len(shared) / total, p, shared, missing))
    ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
    n, share, best, shared, missing = ranked[0]
    if n == 0 or share < 0.5:
        return ProfileMatch(None, "no platform profile matched")
    return ProfileMatch(
        None,
        "no platform profile matched",
        closest=best.name,
        missing=tuple(missing),
        shared=tuple(shared),
    )
