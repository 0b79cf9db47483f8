"""Load order exports into ``orders`` and ``order_lines`` with set-based SQL.

The staged rows (all ``VARCHAR``) are mapped to order fields, parsed and validated in
one ``CREATE TEMP TABLE ... AS SELECT``; bad rows carry the first failing column, its
value and the reason. Orders with a bad row are rejected whole (a partial order would
misstate revenue). Good rows are grouped per order, amounts taken from the order's
first row or summed per line as the profile says, and upserted on the natural keys
(``order_id``; ``order_id, line_no``). Nothing here commits: :meth:`PreparedOrders.write`
runs inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from levelfield.errors import ConfigError
from levelfield.ingest._currency import check_order_currencies
from levelfield.ingest._dates import plan_dates
from levelfield.ingest._profiles import OrderProfile
from levelfield.ingest._sql import MONEY_LIMIT, lit, money_reason_sql, money_sql

__all__ = [
    "NON_MERCHANDISE_TYPES",
    "ORD",
    "OrderOptions",
    "PreparedOrders",
    "key_prefix",
    "line_type_sql",
    "prepare_orders",
]

ST = "_lf_st"
PV = "_lf_pv"
ORD = "_lf_ord"
LIN = "_lf_lin"
BAD = "_lf_bad"

_MONEY_FIELDS = (
    "gross",
    "total",
    "discount",
    "tax",
    "shipping",
    "fees",
    "refunded",
    "adjusted_total",
    "converted_amount",
    "subtotal",
    "unit_price",
    "line_total",
    "line_discount",
)
_PRIVATE_FIELDS = ("customer_id", "email", "buyer_id", "phone", "billing_name", "billing_zip")

# Rails/ActiveSupport zone labels that Square writes in "Time Zone" -> IANA names.
_ZONES = {
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "arizona": "America/Phoenix",
    "pacific time (us & canada)": "America/Los_Angeles",
    "alaska": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "atlantic time (canada)": "America/Halifax",
    "newfoundland": "America/St_Johns",
    "london": "Europe/London",
    "edinburgh": "Europe/London",
    "dublin": "Europe/Dublin",
    "lisbon": "Europe/Lisbon",
    "madrid": "Europe/Madrid",
    "paris": "Europe/Paris",
    "amsterdam": "Europe/Amsterdam",
    "berlin": "Europe/Berlin",
    "rome": "Europe/Rome",
    "stockholm": "Europe/Stockholm",
    "tokyo": "Asia/Tokyo",
    "sydney": "Australia/Sydney",
    "melbourne": "Australia/Melbourne",
    "brisbane": "Australia/Brisbane",
    "perth": "Australia/Perth",
    "adelaide": "Australia/Adelaide",
    "auckland": "Pacific/Auckland",
    "utc": "UTC",
}

_STATUS = {
    "paid": (
        "paid completed complete shipped delivered succeeded success fulfilled processing "
        "closed captured settled shipping invoiced approved sold partially paid"
    ),
    "refunded": "refunded fully refunded",
    "partially_refunded": "partially refunded partial refund",
    "cancelled": "cancelled canceled cancel",
    "voided": "voided void",
    "failed": "failed declined requires payment method expired blocked",
    "pending": (
        "pending on hold pending payment authorized unshipped draft incomplete "
        "requires action requires capture requires confirmation uncaptured"
    ),
    "refund": "refund return returned",
}
_STATUS_MULTI = {
    "fully refunded",
    "partially refunded",
    "partial refund",
    "partially paid",
    "on hold",
    "pending payment",
    "requires payment method",
    "requires action",
    "requires capture",
    "requires confirmation",
}


def _status_words(canonical: str) -> list[str]:
    text = _STATUS[canonical]
    out = [m for m in _STATUS_MULTI if m in text]
    for m in out:
        text = text.replace(m, " ")
    return out + text.split()


def _status_norm_sql(x: str) -> str:
    """Status text reduced to lower-case words (``wc-on-hold`` -> ``on hold``)."""
    return f"trim(regexp_replace(regexp_replace(lower({x}), '^wc-', ''), '[-_\\s]+', ' ', 'g'))"


def _status_sql(x: str, s: str | None = None) -> str:
    """Canonical status of raw status ``x``; ``s`` is ``_status_norm_sql(x)`` when
    the caller has already computed it (the regexes then run once per row)."""
    if s is None:
        s = _status_norm_sql(x)
    whens = []
    for canonical in _STATUS:
        words = ", ".join(lit(w) for w in _status_words(canonical))
        whens.append(f"WHEN {s} IN ({words}) THEN '{canonical}'")
    return (
        f"(CASE WHEN {x} IS NULL THEN 'paid' {' '.join(whens)} "
        f"WHEN {s} LIKE 'shipped%' OR {s} LIKE 'delivered%' THEN 'paid' END)"
    )


@dataclass(frozen=True)
class OrderOptions:
    """User choices that override detection."""

    decimal_comma: bool | None = None
    dayfirst: bool | None = None
    date_format: str | None = None
    currency: str | None = None
    channel: str | None = None
    store: str | None = None


@dataclass
class PreparedOrders:
    """Parsed, validated orders waiting in temp tables to be written."""

    rows_in: int
    rows_rejected: int
    top_reasons: list[tuple[str, int]]
    examples: list[tuple[int | None, str | None, str | None, str]]
    date_min: dt.datetime | None
    date_max: dt.datetime | None
    revenue: dict[str, Decimal]
    notes: list[str]
    decimal_comma: bool
    has_lines: bool
    owns_orders: bool
    store: str | None = None
    rows_skipped: int = 0

    def write(self, con: duckdb.DuckDBPyConnection, import_id: int) -> int:
        """Upsert orders and lines and record rejects; returns the rows loaded."""
        con.execute("INSERT INTO rejects SELECT ?, _row, col, val, reason FROM " + BAD, [import_id])
        cols = (
            "order_id, customer_id, ordered_at, channel, store, currency, gross, discount, "
            "tax, shipping, fees, refunded, status, refund_of, import_id"
        )
        if self.owns_orders:
            update = (
                "customer_id = coalesce(excluded.customer_id, orders.customer_id), "
                "store = coalesce(excluded.store, orders.store), "
                "ordered_at = excluded.ordered_at, channel = excluded.channel, "
                "currency = excluded.currency, gross = excluded.gross, "
                "discount = excluded.discount, tax = excluded.tax, "
                "shipping = excluded.shipping, "
                "fees = coalesce(excluded.fees, orders.fees), refunded = excluded.refunded, "
                "status = excluded.status, "
                "refund_of = coalesce(excluded.refund_of, orders.refund_of), "
                "import_id = excluded.import_id"
            )
            detail_update = (
                "order_ref = excluded.order_ref, non_merchandise = excluded.non_merchandise, "
                "settled_amount = coalesce(excluded.settled_amount, "
                "order_details.settled_amount), settled_currency = coalesce("
                "excluded.settled_currency, order_details.settled_currency), "
                "country = coalesce(excluded.country, order_details.country)"
            )
        else:
            update = (
                "customer_id = coalesce(orders.customer_id, excluded.customer_id), "
                "store = coalesce(orders.store, excluded.store), "
                "fees = coalesce(orders.fees, excluded.fees), "
                "refund_of = coalesce(orders.refund_of, excluded.refund_of)"
            )
            detail_update = (
                "order_ref = coalesce(order_details.order_ref, excluded.order_ref), "
                "non_merchandise = excluded.non_merchandise, "
                "country = coalesce(order_details.country, excluded.country)"
            )
        # Without an existing order to update, a plain INSERT writes the same rows and
        # skips the per-row conflict handling.
        order_overlap = con.execute(
            f"SELECT count(*) FROM orders WHERE order_id IN (SELECT order_id FROM {ORD})"
        ).fetchall()[0][0]
        upsert = f" ON CONFLICT (order_id) DO UPDATE SET {update}" if order_overlap else ""
        con.execute(
            f"INSERT INTO orders ({cols}) SELECT order_id, customer_id, ordered_at, channel, "
            "?, currency, gross, discount, tax, shipping, fees, refunded, status, "
            f"refund_of, ? FROM {ORD}{upsert}",
            [self.store, import_id],
        )
        con.execute(
            "INSERT INTO order_details (order_id, order_ref, non_merchandise, settled_amount, "
            "settled_currency, country) SELECT order_id, order_ref, non_merchandise, "
            f"settled_amount, settled_currency, country FROM {ORD}"
            + (f" ON CONFLICT (order_id) DO UPDATE SET {detail_update}" if order_overlap else "")
        )
        if self.has_lines:
            self._write_lines(con, import_id)
        return self.rows_in - self.rows_rejected - self.rows_skipped

    def _write_lines(self, con: duckdb.DuckDBPyConnection, import_id: int) -> None:
        """Merchandise lines to ``order_lines``, the others to ``non_merchandise_lines``.

        A new version of an order replaces all its lines, so stored lines of these
        orders that the new version does not have are deleted first (there are none
        when none of these orders had lines before).
        """
        targets = (
            ("order_lines", "line_type = 'merchandise'"),
            ("non_merchandise_lines", "line_type <> 'merchandise'"),
        )
        overlap = sum(
            int(
                con.execute(
                    f"SELECT count(*) FROM {t} WHERE order_id IN (SELECT order_id FROM {ORD})"
                ).fetchall()[0][0]
            )
            for t, _ in targets
        )
        if overlap:
            for t, cond in targets:
                con.execute(
                    f"DELETE FROM {t} WHERE order_id IN (SELECT order_id FROM {ORD}) AND NOT "
                    f"EXISTS (SELECT 1 FROM {LIN} l WHERE l.order_id = {t}.order_id AND "
                    f"l.line_no = {t}.line_no AND l.{cond})"
                )
        verb = "INSERT OR REPLACE" if overlap else "INSERT"
        con.execute(
            f"{verb} INTO order_lines (order_id, line_no, sku, product, category, "
            "quantity, unit_price, list_price, discount, import_id) SELECT order_id, "
            "line_no, sku, product, category, quantity, unit_price, list_price, discount, "
            f"? FROM {LIN} WHERE line_type = 'merchandise'",
            [import_id],
        )
        con.execute(
            f"{verb} INTO non_merchandise_lines (order_id, line_no, line_type, sku, product, "
            "quantity, amount, import_id) SELECT order_id, line_no, line_type, sku, product, "
            "quantity, CAST(quantity * unit_price AS DECIMAL(18,4)), ? "
            f"FROM {LIN} WHERE line_type <> 'merchandise'",
            [import_id],
        )


def _agg_first(x: str) -> str:
    return f"arg_min({x}, _row) FILTER (WHERE {x} IS NOT NULL)"


#: Line types that are not merchandise, recognised from the line's product name.
NON_MERCHANDISE_TYPES: dict[str, str] = {
    "tip": r"tips?|tip[ :(-].*|.* tip|gratuity|tip for .*",
    "gift_card": r".*(gift ?card|e-?gift|gift certificate|gift voucher).*",
    "shipping_protection": (
        r".*((shipping|package|parcel|order|delivery) (protection|insurance|guarantee)"
        r"|navidium|route protection).*"
    ),
    "donation": r"(donation|charity|round ?up)( .*)?|.* donation",
}


def line_type_sql(product: str) -> str:
    """SQL giving a line's type from its product name: ``merchandise`` or one of
    :data:`NON_MERCHANDISE_TYPES` (tips, gift cards, shipping protection, donations:
    money that passes through the order but is not a sale of goods)."""
    p = f"lower(trim({product}))"
    whens = " ".join(
        f"WHEN regexp_full_match({p}, {lit(rx)}) THEN {lit(t)}"
        for t, rx in NON_MERCHANDISE_TYPES.items()
    )
    return f"(CASE WHEN {product} IS NULL THEN 'merchandise' {whens} ELSE 'merchandise' END)"


# A currency code or symbol may follow the number ("1,00 EUR").
_EU = r",\d{1,2}[^\d.,]*$|,\d{4,}[^\d.,]*$|\.\d{3},"
_US = r"\.\d{1,2}[^\d.,]*$|\.\d{4,}[^\d.,]*$|,\d{3}\."


def _detect_decimal_comma(
    con: duckdb.DuckDBPyConnection, fields: list[str], forced: bool | None
) -> tuple[dict[str, bool], list[str]]:
    """Decimal comma per column, and the columns where it was detected.

    Each column decides alone, like dates do: digits with a comma followed by one, two
    or four-plus digits (``1,00 EUR``) and no dot-decimal value mean a decimal comma;
    the reverse means a point. A column that cannot tell (``1,234`` or whole numbers)
    follows the file as a whole. ``forced`` (the user's flag) overrides everything.
    """
    if forced is not None or not fields:
        return {f: bool(forced) for f in fields}, []
    digits = "{f}"
    parts = ", ".join(
        f"count(*) FILTER (WHERE regexp_matches({digits.format(f=f)}, {lit(_EU)})), "
        f"count(*) FILTER (WHERE regexp_matches({digits.format(f=f)}, {lit(_US)}))"
        for f in fields
    )
    row = con.execute(f"SELECT {parts} FROM (SELECT * FROM {ST} LIMIT 200000)").fetchall()[0]
    eu = dict(zip(fields, (int(v) for v in row[0::2]), strict=True))
    us = dict(zip(fields, (int(v) for v in row[1::2]), strict=True))
    whole_file = sum(eu.values()) > 0 and sum(us.values()) == 0
    out = {}
    for f in fields:
        if eu[f] and not us[f]:
            out[f] = True
        elif us[f] and not eu[f]:
            out[f] = False
        else:
            out[f] = whole_file
    return out, [f for f in fields if out[f]]


def _detect_currency(con: duckdb.DuckDBPyConnection, fields: list[str]) -> str | None:
    if not fields:
        return None
    cat = " || ".join(f"coalesce({f}, '')" for f in fields)
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE s LIKE '%€%' OR upper(s) LIKE '%EUR%'), "
        f"count(*) FILTER (WHERE s LIKE '%£%' OR upper(s) LIKE '%GBP%'), "
        f"count(*) FILTER (WHERE s LIKE '%$%' OR upper(s) LIKE '%USD%') "
        f"FROM (SELECT {cat} AS s FROM {ST} LIMIT 100000)"
    ).fetchall()[0]
    counts = {"EUR": int(row[0]), "GBP": int(row[1]), "USD": int(row[2])}
    code, n = max(counts.items(), key=lambda kv: kv[1])
    return code if n > 0 else None


def key_prefix(profile: OrderProfile | None, store: str | None, has_source_id: bool) -> str:
    """Prefix that makes an export's order ids workspace-unique order keys.

    Platform orders are keyed ``<platform>:<id>`` (``shopify:5210000000137``); the
    store (``--store``) joins the key when the platform's ids are only unique within
    one store (WooCommerce order numbers, UCI invoices, Shopify files without ``Id``).
    Generic files keep their own ids, prefixed by the store when one is given.
    """
    if profile is None or profile.key_space is None:
        return f"{store}:" if store else ""
    global_ids = profile.global_ids and ("source_id" not in profile.fields or has_source_id)
    if store and not global_ids:
        return f"{profile.key_space}/{store}:"
    return f"{profile.key_space}:"


# Ids read from floats ("17850.0") lose the ".0"; LIKE keeps the regex off most rows.
_ID_NORM = "CASE WHEN {x} LIKE '%.0' THEN regexp_replace({x}, '^(\\d+)\\.0+$', '\\1') ELSE {x} END"


def _identity_sql(has: set[str], linked: bool, by_name: bool) -> tuple[str, str]:
    """SQL of the raw customer identity and of where it came from.

    Order of preference: the platform's customer id; the customer id another row of
    the file gives the same e-mail (Stripe lists a person with and without a Customer
    ID); the e-mail; a buyer id; the phone; billing name + zip (only when ``by_name``:
    in a shop that collects e-mails, an order without one is a guest or counter sale
    and a name alone would invent a customer per guest). Everything here is
    pseudonymized before it is stored. Phones and names carry a prefix so they never
    equal an e-mail or id.
    """
    cands: list[tuple[str, str]] = []
    if "customer_id" in has:
        cands.append((_ID_NORM.format(x="customer_id"), "id"))
    if linked:
        cands.append(("_em_cid", "linked"))
    if "email" in has:
        cands.append(("lower(email)", "e-mail"))
    if "buyer_id" in has:
        cands.append(("lower(buyer_id)", "buyer"))
    if "phone" in has:
        phone = "nullif(regexp_replace(lower(phone), '[\\s().''/-]', '', 'g'), '')"
        cands.append((f"'tel:' || {phone}", "phone"))
    if "billing_name" in has and by_name:
        zip_ = (
            "coalesce(regexp_replace(lower(billing_zip), '\\s', '', 'g'), '')"
            if ("billing_zip" in has)
            else "''"
        )
        name = "regexp_replace(lower(billing_name), '\\s+', ' ', 'g')"
        cands.append((f"'name:' || {name} || '|' || {zip_}", "name"))
    if not cands:
        return "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
    value = "coalesce(" + ", ".join(v for v, _ in cands) + ")"
    source = "(CASE " + " ".join(f"WHEN {v} IS NOT NULL THEN '{s}'" for v, s in cands) + " END)"
    return value, source


def _zone_sql() -> str:
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in _ZONES.items())
    return (
        f"(CASE lower(time_zone) {cases} "
        "ELSE (CASE WHEN time_zone LIKE '%/%' AND time_zone IN "
        "(SELECT name FROM pg_timezone_names()) THEN time_zone END) END)"
    )


def _row_checks(
    has: set[str],
    money_present: list[str],
    dc_by: Mapping[str, bool],
    gross_from: str,
    opts: OrderOptions,
    zone: str | None,
) -> list[tuple[str, str, str]]:
    """Row-level validity checks: (condition, field, reason SQL)."""
    checks: list[tuple[str, str, str]] = []
    checks.append(("order_id IS NULL", "order_id", "'blank (an order id is required)'"))
    date_reason = (
        "'not a date in the column''s format; pass --date-format'"
        if opts.date_format is None
        else f"{lit('not a date in the format ' + opts.date_format)}"
    )
    checks.append(("ordered_at IS NOT NULL AND v_ts IS NULL", "ordered_at", date_reason))
    if zone is not None:
        checks.append(
            ("time_zone IS NOT NULL AND v_zone IS NULL", "time_zone", "'an unknown time zone'")
        )
    for f in money_present:
        checks.append((f"{f} IS NOT NULL AND v_{f} IS NULL", f, money_reason_sql(f, dc_by[f])))
        checks.append((f"abs(v_{f}) >= {MONEY_LIMIT}", f, "'implausibly large (1e12 or more)'"))
    if gross_from == "lines":
        checks.append(("quantity IS NULL", "quantity", "'blank (a quantity is required)'"))
        checks.append(("unit_price IS NULL", "unit_price", "'blank (a price is required)'"))
        checks.append(
            (
                "v_unit_price < 0 AND v_quantity > 0",
                "unit_price",
                "'a negative price on a sale row (refunds need a negative quantity "
                "or a refund status)'",
            )
        )
        checks.append(
            (
                "abs(CAST(v_quantity AS DOUBLE) * CAST(v_unit_price AS DOUBLE)) >= 1e12",
                "quantity",
                "'implausibly large (quantity x price is 1e12 or more)'",
            )
        )
    elif gross_from == "line_total":
        status = "status" if "status" in has else "NULL"
        checks.append(
            (
                f"line_total IS NULL AND coalesce(lower({status}), '') NOT LIKE 'cancel%'",
                "line_total",
                "'blank (an amount is required)'",
            )
        )
    return checks


def _error_sql(checks: Sequence[tuple[str, str, str]], labels: Mapping[str, str]) -> str:
    """SQL struct (col, val, reason) of a row's first failed check; private values show
    as ``***`` and columns by the user's label."""

    def label(f: str) -> str:
        return lit(labels.get(f, f))

    cases = " ".join(
        f"WHEN {cond} THEN {{'col': {label(f)}, "
        f"'val': {lit('***') if f in _PRIVATE_FIELDS else f'CAST({f} AS VARCHAR)'}, "
        f"'reason': {reason}}}"
        for cond, f, reason in checks
    )
    return f"(CASE {cases} END)"


def _customer_identity(
    con: duckdb.DuckDBPyConnection, has: set[str], source: str
) -> tuple[str, str, str]:
    """Join the e-mail -> customer id map when both exist; SQL of (source, customer,
    identity source).

    Name + zip identify customers only in shops where most orders have nothing better
    (e-mail-less, cash-on-delivery shops): decided on the first 200,000 rows.
    """
    linked = "customer_id" in has and "email" in has
    if linked:
        con.execute(
            "CREATE TEMP TABLE _lf_emap AS SELECT lower(email) AS _em_e, "
            f"arg_min({_ID_NORM.format(x='customer_id')}, _row) AS _em_cid FROM {ST} "
            "WHERE email IS NOT NULL AND customer_id IS NOT NULL GROUP BY 1"
        )
        source += " s LEFT JOIN _lf_emap ON _em_e = lower(s.email)"
    by_name = False
    if "billing_name" in has:
        ident = " OR ".join(
            f"{f} IS NOT NULL" for f in ("customer_id", "email", "buyer_id", "phone") if f in has
        )
        n_known, n_all = con.execute(
            f"SELECT count(DISTINCT order_id) FILTER (WHERE {ident or 'false'}), "
            f"count(DISTINCT order_id) FROM (SELECT * FROM {ST} LIMIT 200000)"
        ).fetchall()[0]
        by_name = int(n_known) < 0.5 * int(n_all)
    customer, id_src = _identity_sql(has, linked, by_name)
    return source, customer, id_src


def _line_types(con: duckdb.DuckDBPyConnection, has: set[str], source: str) -> tuple[str, str]:
    """Classify lines (merchandise, shipping, tip, ...) by product name; SQL of
    (source, line type). Classified once per distinct product name, not once per row,
    and joined only when some product is not merchandise."""
    if "product" not in has:
        return source, "'merchandise'"
    con.execute(
        f"CREATE TEMP TABLE _lf_ltype AS SELECT p AS _lt_p, {line_type_sql('p')} AS _lt "
        f"FROM (SELECT DISTINCT product AS p FROM {ST} WHERE product IS NOT NULL)"
    )
    n_other = con.execute("SELECT count(*) FROM _lf_ltype WHERE _lt <> 'merchandise'").fetchall()[
        0
    ][0]
    if not n_other:  # most files sell merchandise only: no join then
        return source, "'merchandise'"
    return source + " LEFT JOIN _lf_ltype ON _lt_p = product", "coalesce(_lt, 'merchandise')"


@dataclass(frozen=True)
class _RowParsing:
    """How one file's staged rows are parsed into :data:`PV` (decided before parsing).

    Attributes
    ----------
    has
        Order fields the file provides.
    labels
        Order field -> column name as the user sees it (for reject messages).
    opts
        The user's choices that override detection.
    dc_by
        Whether each amount field is written with a decimal comma.
    plan_sql
        SQL parsing ``ordered_at`` in the chosen date order (:func:`plan_dates`).
    zone
        SQL of the row's IANA time zone, None when the file has no time-zone column.
    gross_from
        Where an order's gross comes from (the profile's rule: ``lines``, ``gross``, ...).
    prefix
        Prefix of the workspace key of the file's order ids (:func:`key_prefix`).
    """

    has: set[str]
    labels: Mapping[str, str]
    opts: OrderOptions
    dc_by: Mapping[str, bool]
    plan_sql: str
    zone: str | None
    gross_from: str
    prefix: str


def _create_pv(con: duckdb.DuckDBPyConnection, parsing: _RowParsing) -> None:
    """Parse every staged row into :data:`PV` with its first failing check (``err``)."""
    has, labels, dc_by, zone = parsing.has, parsing.labels, parsing.dc_by, parsing.zone
    gross_from, prefix = parsing.gross_from, parsing.prefix

    def col(f: str) -> str:
        return f if f in has else "NULL"

    def money(f: str) -> str:
        return money_sql(f, dc_by[f]) if f in has else "CAST(NULL AS DECIMAL(18,4))"

    numeric = [*_MONEY_FIELDS, "quantity"]
    parsed = [
        "*",
        f"{_ID_NORM.format(x='order_id')} AS v_key",
        f"{parsing.plan_sql} AS v_ts",
    ] + [f"{money(f)} AS v_{f}" for f in numeric]
    if zone is not None:
        parsed.append(f"{zone} AS v_zone")
    money_present = [f for f in _MONEY_FIELDS if f in has] + (
        ["quantity"] if "quantity" in has else []
    )
    checks = _row_checks(has, money_present, dc_by, gross_from, parsing.opts, zone)
    err = _error_sql(checks, labels)
    source = f"(SELECT {', '.join(parsed)} FROM {ST}" + (
        " WHERE skip IS NULL)" if "skip" in has else ")"
    )
    source, customer, id_src = _customer_identity(con, has, source)
    # With a source id (Shopify's Id, on an order's first row only) rows are grouped by
    # the file's own short order number and mapped to the workspace key per order
    # afterwards (_KEYMAP): short keys keep the row-level grouping fast.
    key = f"{lit(prefix)} || v_key" if prefix and "source_id" not in has else "v_key"
    refund_of = (
        f"{lit(prefix)} || {_ID_NORM.format(x='refund_of')}" if "refund_of" in has else "NULL"
    )
    source, line_type = _line_types(con, has, source)
    final = [
        "_row",
        f"{key} AS key",
        "v_key AS nkey",
        f"{_ID_NORM.format(x='source_id') if 'source_id' in has else 'NULL'} AS src_id",
        "v_ts AS ts",
        f"{customer} AS customer",
        f"{id_src} AS id_src",
        f"upper({col('currency')}) AS currency",
        f"{col('status')} AS status_raw",
        f"{col('channel')} AS channel_raw",
        f"{col('converted_currency')} AS converted_currency",
        f"nullif(trim(CAST({col('country')} AS VARCHAR)), '') AS country",
        f"{_ID_NORM.format(x='sku') if 'sku' in has else 'NULL'} AS sku",
        f"{col('product')} AS product",
        f"{col('category')} AS category",
        f"{line_type} AS line_type",
        "v_quantity AS quantity",
        f"({col('refund_flag')} IS NOT NULL OR coalesce(v_quantity < 0, false)) AS refund_row",
        f"{refund_of} AS refund_of_raw",
        *[f"v_{f} AS {f}" for f in _MONEY_FIELDS],
        f"{err} AS err",
    ]
    con.execute(f"CREATE TEMP TABLE {PV} AS SELECT {', '.join(final)} FROM {source}")


_KEYMAP = "_lf_km"


def _create_keymap(con: duckdb.DuckDBPyConnection, prefix: str) -> None:
    """File order number -> workspace key, for profiles keyed by a source id."""
    con.execute(
        f"CREATE TEMP TABLE {_KEYMAP} AS SELECT key, {lit(prefix)} || "
        f"coalesce(max(src_id), key) AS final FROM {PV} WHERE key IS NOT NULL GROUP BY key"
    )


def _remap_keys(con: duckdb.DuckDBPyConnection, table: str, refund_of: bool) -> None:
    """Replace file order numbers in ``table`` by workspace keys (``:refund`` kept)."""
    base = (
        "CASE WHEN t.order_id LIKE '%:refund' THEN left(t.order_id, length(t.order_id) - 7) "
        "ELSE t.order_id END"
    )
    ref = ", coalesce(r.final, t.refund_of) AS refund_of" if refund_of else ""
    join_r = f" LEFT JOIN {_KEYMAP} r ON r.key = t.refund_of" if refund_of else ""
    con.execute(
        f"CREATE TEMP TABLE _lf_remap AS SELECT t.* REPLACE (m.final || CASE WHEN "
        f"t.order_id LIKE '%:refund' THEN ':refund' ELSE '' END AS order_id{ref}) "
        f"FROM {table} t JOIN {_KEYMAP} m ON m.key = {base}{join_r}"
    )
    con.execute(f"DROP TABLE {table}")
    con.execute(f"ALTER TABLE _lf_remap RENAME TO {table}")


def _create_bad(
    con: duckdb.DuckDBPyConnection,
    gross_from: str,
    chan: str,
    label: Mapping[str, str],
    keymap: bool = False,
) -> None:
    """Rejected rows: bad rows, rows of an order with a bad row, order-level failures,
    and orders whose key belongs to another channel."""
    whole = [("count(ts) = 0", "ordered_at", "'blank (an order date is required)'")]
    if gross_from in ("gross", "total"):
        whole.append((f"count({gross_from}) = 0", gross_from, "'blank (an amount is required)'"))
    whole_cases = " ".join(
        f"WHEN {cond} THEN {{'col': {lit(label.get(f, f))}, 'val': NULL, 'reason': {r}}}"
        for cond, f, r in whole
    )
    con.execute(
        f"CREATE TEMP TABLE {BAD} AS "
        f"WITH wholebad AS (SELECT key, min(_row) AS _row, (CASE {whole_cases} END) AS e "
        f"FROM {PV} WHERE key IS NOT NULL AND err IS NULL GROUP BY key "
        f"HAVING (CASE {whole_cases} END) IS NOT NULL), "
        f"badkeys AS (SELECT DISTINCT key FROM {PV} WHERE err IS NOT NULL "
        "AND key IS NOT NULL UNION SELECT key FROM wholebad), "
        f"clash AS (SELECT DISTINCT p.key, o.channel FROM {PV} p "
        + (
            f"JOIN {_KEYMAP} m ON m.key = p.key JOIN orders o ON o.order_id = m.final "
            if keymap
            else "JOIN orders o ON o.order_id = p.key "
        )
        + f"WHERE o.channel <> coalesce(p.channel_raw, {chan})) "
        f"SELECT _row, err.col AS col, err.val AS val, err.reason AS reason FROM {PV} "
        "WHERE err IS NOT NULL "
        "UNION ALL SELECT _row, e.col, e.val, e.reason FROM wholebad "
        "UNION ALL SELECT p._row, NULL, NULL, 'part of an order with a rejected row' "
        f"FROM {PV} p JOIN badkeys b ON p.key = b.key WHERE p.err IS NULL "
        "AND p._row NOT IN (SELECT _row FROM wholebad) "
        f"UNION ALL SELECT p._row, {lit(label.get('order_id', 'order_id'))}, p.nkey, "
        "'an order id already imported for channel ' || c.channel "
        f"FROM {PV} p JOIN clash c ON p.key = c.key "
        f"WHERE p.err IS NULL AND p.key NOT IN (SELECT key FROM badkeys)"
    )
    con.execute(f"DELETE FROM {PV} WHERE _row IN (SELECT _row FROM {BAD})")


# Refund rows that share an id with a sale become their own order '<key>:refund'.
_GROUPED = (
    f"WITH sales AS (SELECT DISTINCT key FROM {PV} WHERE NOT refund_row), "
    "g AS (SELECT *, CASE WHEN refund_row AND (key IN (SELECT key FROM sales) OR "
    "key IN (SELECT order_id FROM orders WHERE status <> 'refund')) "
    "THEN key || ':refund' ELSE key END AS oid, "
    "CASE WHEN refund_row AND (key IN (SELECT key FROM sales) OR "
    "key IN (SELECT order_id FROM orders WHERE status <> 'refund')) THEN key "
    "ELSE (CASE WHEN refund_of_raw IN (SELECT key FROM sales) "
    "OR refund_of_raw IN (SELECT order_id FROM orders) THEN refund_of_raw END) "
    f"END AS link FROM {PV})"
)


def _order_amounts(has: set[str], gross_from: str, amounts: str) -> dict[str, str]:
    """SQL aggregates per order: merchandise gross, non-merchandise, discount,
    shipping, fees and refunded (before the status rules)."""
    first = _agg_first

    def agg(x: str) -> str:
        return first(x) if amounts == "first" else f"sum({x})"

    merch = "line_type = 'merchandise'"
    if gross_from == "lines":
        amount = "quantity * unit_price"
    elif gross_from == "line_total":
        amount = "line_total"
    else:
        amount = ""
    if amount:
        gross = f"coalesce(sum({amount}) FILTER (WHERE {merch}), 0)"
        other = f"coalesce(sum({amount}) FILTER (WHERE NOT {merch}), 0)"
    elif gross_from == "gross":
        gross, other = first("gross"), "0"
    else:
        gross = (
            f"{first('total')} - coalesce({agg('tax')}, 0) - coalesce({agg('shipping')}, 0) "
            f"+ coalesce(abs({agg('discount')}), 0)"
        )
        other = "0"
    # Aggregates are computed once per order (d_raw, ship_raw, items, sub); the
    # discount and shipping rules below combine them per order (columns of ``a``).
    discount = "coalesce(d_raw, 0)"
    shipping = "ship_raw"
    items, sub = "CAST(NULL AS DECIMAL(38,8))", "CAST(NULL AS DECIMAL(18,4))"
    if "subtotal" in has and amount:
        # Shopify's Discount Amount also holds shipping discounts (FREESHIP); its
        # Subtotal is the items (tips excluded) after item discounts only. The item
        # discount is what separates them; the rest comes off shipping.
        items = f"coalesce(sum({amount}) FILTER (WHERE line_type <> 'tip'), 0)"
        sub = first("subtotal")
        item_disc = "greatest(items - sub, 0)"
        discount = (
            "(CASE WHEN sub IS NULL THEN coalesce(d_raw, 0) "
            f"WHEN d_raw IS NULL THEN {item_disc} ELSE least(d_raw, {item_disc}) END)"
        )
        shipping = f"greatest(ship_raw - greatest(coalesce(d_raw, 0) - {discount}, 0), 0)"
    fee = first("fees")
    if "converted_amount" in has:
        # Stripe states the fee in the settlement currency: bring it to the charge's.
        fee = (
            f"CASE WHEN {first('converted_currency')} IS NOT NULL AND "
            f"upper({first('converted_currency')}) <> coalesce({first('currency')}, '') "
            f"AND {first('converted_amount')} > 0 THEN CAST({first('fees')} * "
            f"{first('gross')} / {first('converted_amount')} AS DECIMAL(18,4)) "
            f"ELSE {first('fees')} END"
        )
    refunded = f"abs({first('refunded')})"
    if "adjusted_total" in has:
        # Etsy writes 0.00 in Adjusted Order Total when nothing was adjusted; a
        # non-zero value is the total after a partial refund.
        refunded = (
            f"coalesce({refunded}, CASE WHEN {first('adjusted_total')} <> 0 THEN "
            f"greatest({first('total')} - {first('adjusted_total')}, 0) END)"
        )
    return {
        "gross": gross,
        "other": other,
        "d_raw": f"abs({agg('discount')})",
        "ship_raw": f"coalesce(abs({agg('shipping')}), 0)",
        "items": items,
        "sub": sub,
        "discount": discount,
        "shipping": shipping,
        "tax": f"coalesce(abs({agg('tax')}), 0)",
        "fees": fee,
        "refunded": refunded,
    }


def _create_ord(
    con: duckdb.DuckDBPyConnection,
    has: set[str],
    gross_from: str,
    amounts: str,
    chan: str,
    currency_default: str,
) -> None:
    """One row per order in :data:`ORD`, with canonical status and refund rules."""
    first = _agg_first
    a = _order_amounts(has, gross_from, amounts)
    settled = (
        f"{first('converted_amount')} AS settled_amount, "
        f"upper({first('converted_currency')}) AS settled_currency"
        if "converted_amount" in has
        else "CAST(NULL AS DECIMAL(18,4)) AS settled_amount, "
        "CAST(NULL AS VARCHAR) AS settled_currency"
    )
    con.execute(
        f"CREATE TEMP TABLE {ORD} AS {_GROUPED}, a AS (SELECT oid AS order_id, "
        f"arg_min(nkey, _row) AS order_ref, min(_row) AS first_row, "
        f"{first('customer')} AS customer_raw, {first('id_src')} AS id_src, "
        "min(ts) AS ordered_at, "
        f"coalesce({first('channel_raw')}, {chan}) AS channel, "
        f"coalesce({first('currency')}, {lit(currency_default)}) AS currency, "
        f"CAST({a['gross']} AS DECIMAL(38,4)) AS g, "
        f"CAST({a['other']} AS DECIMAL(18,4)) AS non_merchandise, "
        f"{a['d_raw']} AS d_raw, {a['ship_raw']} AS ship_raw, {a['items']} AS items, "
        f"{a['sub']} AS sub, "
        f"CAST({a['tax']} AS DECIMAL(18,4)) AS tax, "
        f"CAST(abs({a['fees']}) AS DECIMAL(18,4)) AS fees, "
        f"CAST(coalesce({a['refunded']}, 0) AS DECIMAL(18,4)) AS r, {settled}, "
        f"{first('country')} AS country, "
        f"{first('status_raw')} AS status_raw, bool_or(refund_row) AS refund_row, "
        f"{first('link')} AS refund_of FROM g GROUP BY oid), "
        # The keyed hash runs once per customer, not once per order.
        "pn AS (SELECT c, lf_pseudonym(c) AS p FROM "
        "(SELECT DISTINCT customer_raw AS c FROM a WHERE customer_raw IS NOT NULL)) "
        "SELECT order_id, order_ref, first_row, customer_id, id_src, ordered_at, channel, "
        "currency, "
        "CAST(CASE WHEN is_refund THEN -(abs(g) - d) ELSE g END AS DECIMAL(18,4)) AS gross, "
        "CASE WHEN is_refund THEN CAST(0 AS DECIMAL(18,4)) ELSE d END AS discount, "
        "tax, shipping, fees, non_merchandise, settled_amount, settled_currency, country, "
        # A refunded order without a refund amount was refunded in full.
        "CAST(CASE WHEN is_refund THEN 0 WHEN st = 'refunded' AND r = 0 "
        "THEN greatest(g - d, 0) ELSE least(r, greatest(g - d, 0)) END "
        "AS DECIMAL(18,4)) AS refunded, "
        "CASE WHEN is_refund THEN 'refund' "
        "WHEN st = 'paid' AND r > 0 AND r >= g - d THEN 'refunded' "
        "WHEN st = 'paid' AND r > 0 THEN 'partially_refunded' "
        "ELSE coalesce(st, 'paid') END AS status, "
        "CASE WHEN is_refund THEN refund_of END AS refund_of, st IS NULL AS unknown_status, "
        "(NOT is_refund AND st = 'refunded' AND r = 0 AND g - d > 0) AS full_refund_assumed "
        "FROM (SELECT *, (refund_row OR g < 0 OR st = 'refund') AS is_refund FROM "
        f"(SELECT *, {_status_sql('status_raw', '_sn')} AS st FROM "
        f"(SELECT a.*, pn.p AS customer_id, {_status_norm_sql('a.status_raw')} AS _sn, "
        f"CAST({a['discount']} AS DECIMAL(18,4)) AS d, "
        f"CAST({a['shipping']} AS DECIMAL(18,4)) AS shipping "
        "FROM a LEFT JOIN pn ON pn.c = a.customer_raw)))"
    )


def _create_lin(con: duckdb.DuckDBPyConnection, gross_from: str, keymap: bool) -> None:
    """Lines in :data:`LIN`, keyed like :data:`ORD` (mapped to source keys directly)."""
    order_id = "oid"
    join = ""
    if keymap:
        order_id = "m.final || CASE WHEN oid <> x.key THEN ':refund' ELSE '' END"
        join = f" JOIN {_KEYMAP} m ON m.key = x.key"
    if gross_from == "lines":
        list_price = "unit_price"
    else:
        list_price = "CASE WHEN quantity <> 0 THEN line_total / quantity ELSE line_total END"
    con.execute(
        f"CREATE TEMP TABLE {LIN} AS {_GROUPED} SELECT {order_id} AS order_id, "
        "CAST(row_number() OVER (PARTITION BY oid ORDER BY _row) AS INTEGER) AS line_no, "
        "line_type, sku, product, category, CAST(quantity AS DECIMAL(18,4)) AS quantity, "
        f"CAST(coalesce(lp - ld / nullif(abs(quantity), 0), lp) AS DECIMAL(18,4)) "
        "AS unit_price, CAST(lp AS DECIMAL(18,4)) AS list_price, "
        "CAST(ld AS DECIMAL(18,4)) AS discount FROM (SELECT *, "
        f"coalesce({list_price}, 0) AS lp, coalesce(abs(line_discount), 0) AS ld FROM g) x{join}"
    )


def _stage_fields(
    con: duckdb.DuckDBPyConnection, sources: Mapping[str, str], raw: str
) -> tuple[set[str], int, list[tuple[str, int]]]:
    """Create the :data:`ST` view of trimmed order fields over ``raw``.

    Returns the fields present, the number of data rows, and the rows marked ``skip``
    (Stripe's payment attempts without an id) per reason, most frequent first.
    """
    has = set(sources)
    sel = ", ".join(
        f"nullif(trim(CAST(({expr}) AS VARCHAR)), '') AS {f}" for f, expr in sources.items()
    )
    con.execute(f"DROP VIEW IF EXISTS {ST}")
    # A view: the detection queries read samples, the parse reads it once.
    con.execute(f"CREATE TEMP VIEW {ST} AS SELECT _row, {sel} FROM {raw}")
    rows_in = int(con.execute(f"SELECT count(*) FROM {raw}").fetchall()[0][0])
    skipped: list[tuple[str, int]] = []
    if "skip" in has:
        skipped = [
            (str(s), int(n))
            for s, n in con.execute(
                f"SELECT skip, count(*) FROM {ST} WHERE skip IS NOT NULL GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
        ]
    return has, rows_in, skipped


def default_currency_of(
    option: str | None, profile: OrderProfile | None, detected: str | None, workspace: str
) -> tuple[str, str]:
    """The currency of rows without one, and where it came from.

    First of: ``--currency``, the export's own currency (profile), the one detected
    from the amounts' signs, the workspace's base currency.

    Examples
    --------
    >>> default_currency_of(None, None, "gbp", "EUR")
    ('GBP', "detected from the amounts' signs")
    >>> default_currency_of("usd", None, "GBP", "EUR")
    ('USD', '--currency usd')
    """
    return next(
        (c.upper(), why)
        for c, why in (
            (option, f"--currency {option}"),
            (profile.currency if profile else None, "the export's currency"),
            (detected, "detected from the amounts' signs"),
            (workspace, "the workspace's base currency"),
        )
        if c
    )


def _reject_summary(
    con: duckdb.DuckDBPyConnection,
) -> tuple[int, list[tuple[str, int]], list[tuple[int | None, str | None, str | None, str]]]:
    """Rejected rows in :data:`BAD`: count, top 5 reasons, and 3 examples (rows rejected
    only for sharing an order with a bad row are not shown as examples)."""
    n_bad = int(con.execute(f"SELECT count(*) FROM {BAD}").fetchall()[0][0])
    reasons = [
        (str(r), int(n))
        for r, n in con.execute(
            f"SELECT reason, count(*) AS n FROM {BAD} GROUP BY reason ORDER BY n DESC, reason "
            "LIMIT 5"
        ).fetchall()
    ]
    examples = [
        (int(r) if r is not None else None, c, v, str(reason))
        for r, c, v, reason in con.execute(
            f"SELECT _row, col, val, reason FROM {BAD} "
            "WHERE reason <> 'part of an order with a rejected row' ORDER BY _row LIMIT 3"
        ).fetchall()
    ]
    return n_bad, reasons, examples


def _revenue(con: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    """Net revenue (gross - discount - refunded) of :data:`ORD` per currency, leaving
    out failed, voided, cancelled and pending orders."""
    return {
        str(c): Decimal(v)
        for c, v in con.execute(
            "SELECT currency, CAST(sum(gross - discount - refunded) AS DECIMAL(18,4)) "
            f"FROM {ORD} WHERE status NOT IN ('failed', 'voided', 'cancelled', 'pending') "
            "GROUP BY currency ORDER BY currency"
        ).fetchall()
        if v is not None
    }


def _parse_notes(
    skipped: Sequence[tuple[str, int]],
    dc_labels: Sequence[str],
    date_order: str | None,
) -> tuple[list[str], list[str]]:
    """Notes on how the file was read: (notes that come first, notes that come last).

    First: skipped payment attempts. Last: a detected decimal comma (``dc_labels``: the
    columns it was seen in; empty when not detected or given) and the day/month order.
    """
    first = []
    if skipped:
        n = sum(k for _, k in skipped)
        first.append(
            f"{n:,} payment attempt{'s' if n != 1 else ''} without a payment id skipped "
            f"({', '.join(f'{s}: {k:,}' for s, k in skipped)}): abandoned or unfinished "
            "checkouts, not payments"
        )
    last = []
    if dc_labels:
        last.append(
            "amounts use a decimal comma (detected in "
            + ", ".join(f'"{x}"' for x in dc_labels)
            + "); pass --decimal-point if that is wrong"
        )
    if date_order is not None:
        last.append(
            "day/month dates read as "
            + ("day-first (DD/MM)" if date_order == "dmy" else "month-first (MM/DD)")
        )
    return first, last


def _amount_conventions(
    con: duckdb.DuckDBPyConnection,
    has: set[str],
    *,
    name: str,
    labels: Mapping[str, str],
    opts: OrderOptions,
    profile: OrderProfile | None,
    workspace: str,
) -> tuple[dict[str, bool], list[str], str]:
    """Decimal comma per amount field, the fields it was detected in, and the currency
    of rows without one (after checking every row's currency against its amounts).
    """
    numeric = [*_MONEY_FIELDS, "quantity"]
    dc_by, dc_cols = _detect_decimal_comma(
        con, [f for f in numeric if f in has], opts.decimal_comma
    )
    dc_by = {f: dc_by.get(f, False) for f in numeric}
    detected = _detect_currency(con, [f for f in (*_MONEY_FIELDS, "currency_symbols") if f in has])
    currency_default, origin = default_currency_of(opts.currency, profile, detected, workspace)
    check_order_currencies(
        con,
        staged=ST,
        name=name,
        labels=labels,
        has=has,
        money_fields=_MONEY_FIELDS,
        default_currency=currency_default,
        default_origin=origin,
    )
    return dc_by, dc_cols, currency_default


def _build_orders(
    con: duckdb.DuckDBPyConnection,
    parsing: _RowParsing,
    *,
    chan: str,
    amounts: str,
    currency_default: str,
) -> bool:
    """Parsed rows (:data:`PV`), rejects (:data:`BAD`), orders (:data:`ORD`) and, when the
    file has line amounts and quantities, lines (:data:`LIN`). Returns whether it has lines.
    """
    has, gross_from = parsing.has, parsing.gross_from
    _create_pv(con, parsing)
    keymap = "source_id" in has
    if keymap:
        _create_keymap(con, parsing.prefix)
    _create_bad(con, gross_from, chan, parsing.labels, keymap)
    _create_ord(con, has, gross_from, amounts, chan, currency_default)
    if keymap:
        _remap_keys(con, ORD, refund_of=True)
    has_lines = gross_from in ("lines", "line_total") and "quantity" in has
    if has_lines:
        _create_lin(con, gross_from, keymap)
    return has_lines


def prepare_orders(
    con: duckdb.DuckDBPyConnection,
    *,
    name: str,
    profile: OrderProfile | None,
    sources: Mapping[str, str],
    labels: Mapping[str, str],
    raw: str,
    opts: OrderOptions,
    default_channel: str,
    default_currency: str,
    gross_from: str,
    amounts: str,
    owns_orders: bool,
) -> PreparedOrders:
    """Parse and validate staged order rows into temp tables (no workspace writes).

    Stages: stage the fields (:func:`_stage_fields`); detect decimal commas and the
    currency and check the currencies; decide the date order (:func:`plan_dates`);
    build orders, lines and rejects (:func:`_build_orders`); summarise.

    Parameters
    ----------
    sources
        Order field -> SQL expression over the staged ``VARCHAR`` columns.
    labels
        Order field -> column name as the user sees it (for reject messages).
    """
    for t in (PV, ORD, LIN, BAD, "_lf_emap", "_lf_ltype", _KEYMAP, "_lf_remap"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    has, rows_in, skipped = _stage_fields(con, sources, raw)
    dc_by, dc_cols, currency_default = _amount_conventions(
        con, has, name=name, labels=labels, opts=opts, profile=profile, workspace=default_currency
    )
    plan = plan_dates(
        con,
        ST,
        "ordered_at",
        name=name,
        label=labels.get("ordered_at", "ordered_at"),
        dayfirst=opts.dayfirst,
        date_format=opts.date_format,
        native_order=profile.date_order if profile else None,
    )
    zone = _zone_sql() if "time_zone" in has else None
    prefix = key_prefix(profile, opts.store, "source_id" in has)
    parsing = _RowParsing(
        has=has,
        labels=labels,
        opts=opts,
        dc_by=dc_by,
        plan_sql=plan.sql("ordered_at", "_dshape", zone),
        zone=zone,
        gross_from=gross_from,
        prefix=prefix,
    )
    has_lines = _build_orders(
        con,
        parsing,
        chan=lit(opts.channel or default_channel),
        amounts=amounts,
        currency_default=currency_default,
    )
    n_bad, reasons, examples = _reject_summary(con)
    stats = con.execute(f"SELECT min(ordered_at), max(ordered_at) FROM {ORD}").fetchall()[0]
    revenue = _revenue(con)
    dc_labels = [labels.get(f, f) for f in dc_cols] if opts.decimal_comma is None else []
    first, last = _parse_notes(skipped, dc_labels, plan.order)
    notes = [*first, *_order_notes(con, owns_orders, has_lines, bool(opts.store)), *last]
    return PreparedOrders(
        rows_in=rows_in,
        rows_rejected=n_bad,
        top_reasons=reasons,
        examples=examples,
        date_min=stats[0],
        date_max=stats[1],
        revenue=revenue,
        notes=notes,
        decimal_comma=bool(dc_cols) or bool(opts.decimal_comma),
        has_lines=has_lines,
        owns_orders=owns_orders,
        store=opts.store,
        rows_skipped=sum(k for _, k in skipped),
    )


def _money_list(rows: list[tuple[object, ...]]) -> str:
    return ", ".join(f"{c} {Decimal(str(v)):,.2f}" for c, v in rows if v is not None)


def _order_notes(
    con: duckdb.DuckDBPyConnection, owns_orders: bool, has_lines: bool, has_store: bool
) -> list[str]:
    """Plain sentences on what the import assumed or could not count."""
    notes: list[str] = []
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE unknown_status), "
        "count(*) FILTER (WHERE full_refund_assumed), "
        "count(*) FILTER (WHERE status NOT IN ('failed', 'voided', 'cancelled', 'pending')), "
        "count(*) FILTER (WHERE order_ref LIKE 'noid-%') "
        f"FROM {ORD}"
    ).fetchall()[0]
    n_orders, n_unknown, n_full, n_counted, n_noid = (int(v) for v in row)
    if n_unknown:
        notes.append(f"{n_unknown:,} orders had a status levelfield does not know; counted as paid")
    if n_full:
        notes.append(
            f"{n_full:,} orders are marked refunded without a refund amount; counted as "
            "refunded in full"
        )
    if n_noid:
        notes.append(
            f"{n_noid:,} successful payments had no id; each is kept under an id made from "
            "its date, amount and customer (noid-...)"
        )
    notes.extend(_identity_notes(con, n_orders))
    if has_lines:
        other = con.execute(
            f"SELECT l.line_type, count(*), o.currency, sum(l.quantity * l.unit_price) "
            f"FROM {LIN} l JOIN {ORD} o USING (order_id) WHERE l.line_type <> 'merchandise' "
            "GROUP BY ALL ORDER BY 1, 3"
        ).fetchall()
        if other:
            parts = ", ".join(
                f"{t.replace('_', ' ')} {int(n):,} ({c} {Decimal(str(v)):,.2f})"
                for t, n, c, v in other
            )
            notes.append(
                f"lines that are not merchandise: {parts}; kept apart from merchandise "
                "revenue, products and pricing"
            )
    excluded = con.execute(
        f"SELECT status, count(*), currency, sum(gross - discount) FROM {ORD} "
        "WHERE status IN ('pending', 'voided', 'cancelled', 'failed') GROUP BY ALL ORDER BY 1, 3"
    ).fetchall()
    by_status: dict[str, list[tuple[object, ...]]] = {}
    for st, n, cur, v in excluded:
        by_status.setdefault(str(st), []).append((int(n), cur, v))
    if "pending" in by_status:
        n = sum(int(str(k)) for k, _, _ in by_status["pending"])
        value = _money_list([(c, v) for _, c, v in by_status["pending"]])
        lead = (
            f"no revenue yet: all {n:,} orders are pending"
            if n_counted == 0 and n == n_orders
            else f"{n:,} orders are pending"
        )
        notes.append(
            f"{lead} (not paid yet: cash on delivery, bank transfer or an unpaid invoice; "
            f"{value}); an order counts as revenue once the export says it is paid"
        )
    others = [s for s in ("voided", "cancelled", "failed") if s in by_status]
    if others:
        notes.append(
            "not revenue: "
            + ", ".join(f"{sum(int(str(k)) for k, _, _ in by_status[s]):,} {s}" for s in others)
            + " orders"
        )
    notes.extend(_overlap_notes(con, owns_orders, has_store))
    return notes


def _identity_notes(con: duckdb.DuckDBPyConnection, n_orders: int) -> list[str]:
    rows = {
        str(s): int(n)
        for s, n in con.execute(
            f"SELECT coalesce(id_src, 'none'), count(*) FROM {ORD} WHERE gross >= 0 GROUP BY 1"
        ).fetchall()
    }
    out = []
    if rows.get("linked"):
        out.append(
            f"{rows['linked']:,} orders without a customer id were linked to one through the "
            "same e-mail (pseudonymized)"
        )
    weak = {k: rows[k] for k in ("phone", "name") if rows.get(k)}
    if weak:
        how = {"phone": "the phone number", "name": "billing name + zip"}
        out.append(
            "customers without an e-mail identified by "
            + " and ".join(f"{how[k]} ({n:,} orders)" for k, n in weak.items())
            + ", pseudonymized like e-mails"
        )
    if rows.get("none") and rows["none"] < n_orders:
        out.append(
            f"{rows['none']:,} orders have no customer identity (no id, e-mail, phone or "
            "name); they count for revenue but not for customer analyses"
        )
    elif rows.get("none"):
        out.append(
            "no order has a customer identity (no id, e-mail, phone or name); customer "
            "analyses need one"
        )
    return out


def _overlap_notes(con: duckdb.DuckDBPyConnection, owns_orders: bool, has_store: bool) -> list[str]:
    rows = con.execute(
        "SELECT i.source_name, count(*) FROM orders o JOIN imports i USING (import_id) "
        f"WHERE o.order_id IN (SELECT order_id FROM {ORD}) GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    if not rows:
        return []
    n = sum(int(k) for _, k in rows)
    files = ", ".join(f"{s} ({int(k):,})" for s, k in rows[:3])
    if not owns_orders:
        return [f"{n:,} orders were already imported from {files}; their lines were added"]
    hint = (
        ""
        if has_store
        else "; if those came from a different store, import this file with --store NAME "
        "to keep both"
    )
    return [f"{n:,} orders were already in the workspace from {files} and were updated{hint}"]


def check_profile_fields(sources: Mapping[str, str], gross_from: str, name: str) -> None:
    """Fail early when a mapping lacks what an order needs."""
    missing = [f for f in ("order_id", "ordered_at") if f not in sources]
    need = {
        "lines": ("quantity", "unit_price"),
        "line_total": ("line_total",),
        "gross": ("gross",),
        "total": ("total",),
    }[gross_from]
    missing += [f for f in need if f not in sources]
    if missing:
        raise ConfigError(f"{name}: the column mapping has no {', '.join(missing)}")
