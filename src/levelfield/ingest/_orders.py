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
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from levelfield.errors import ConfigError
from levelfield.ingest._dates import plan_dates
from levelfield.ingest._profiles import OrderProfile
from levelfield.ingest._sql import MONEY_LIMIT, lit, money_reason_sql, money_sql

__all__ = ["OrderOptions", "PreparedOrders", "prepare_orders"]

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
    "unit_price",
    "line_total",
    "line_discount",
)
_PRIVATE_FIELDS = ("customer_id", "email", "buyer_id")

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
                "ordered_at = excluded.ordered_at, channel = excluded.channel, "
                "currency = excluded.currency, gross = excluded.gross, "
                "discount = excluded.discount, tax = excluded.tax, "
                "shipping = excluded.shipping, "
                "fees = coalesce(excluded.fees, orders.fees), refunded = excluded.refunded, "
                "status = excluded.status, "
                "refund_of = coalesce(excluded.refund_of, orders.refund_of), "
                "import_id = excluded.import_id"
            )
        else:
            update = (
                "customer_id = coalesce(orders.customer_id, excluded.customer_id), "
                "fees = coalesce(orders.fees, excluded.fees), "
                "refund_of = coalesce(orders.refund_of, excluded.refund_of)"
            )
        # Without an existing order to update, a plain INSERT writes the same rows and
        # skips the per-row conflict handling.
        order_overlap = con.execute(
            f"SELECT count(*) FROM orders WHERE order_id IN (SELECT order_id FROM {ORD})"
        ).fetchall()[0][0]
        upsert = f" ON CONFLICT (order_id) DO UPDATE SET {update}" if order_overlap else ""
        con.execute(
            f"INSERT INTO orders ({cols}) SELECT order_id, customer_id, ordered_at, channel, "
            "NULL, currency, gross, discount, tax, shipping, fees, refunded, status, "
            f"refund_of, ? FROM {ORD}{upsert}",
            [import_id],
        )
        if self.has_lines:
            overlap = con.execute(
                f"SELECT count(*) FROM order_lines WHERE order_id IN (SELECT order_id FROM {LIN})"
            ).fetchall()[0][0]
            verb = "INSERT OR REPLACE" if overlap else "INSERT"
            con.execute(
                f"{verb} INTO order_lines (order_id, line_no, sku, product, category, "
                "quantity, unit_price, list_price, discount, import_id) SELECT order_id, "
                "line_no, sku, product, category, quantity, unit_price, list_price, discount, "
                f"? FROM {LIN}",
                [import_id],
            )
            # Lines beyond the new count belong to an older version of the order (there
            # is none when no line of these orders was stored before).
            if overlap:
                con.execute(
                    "DELETE FROM order_lines USING (SELECT order_id AS oid, max(line_no) AS m "
                    f"FROM {LIN} GROUP BY order_id) n "
                    "WHERE order_lines.order_id = n.oid AND order_lines.line_no > n.m"
                )
        return self.rows_in - self.rows_rejected


def _agg_first(x: str) -> str:
    return f"arg_min({x}, _row) FILTER (WHERE {x} IS NOT NULL)"


def _detect_decimal_comma(con: duckdb.DuckDBPyConnection, fields: list[str]) -> bool:
    if not fields:
        return False
    eu = r",\d{1,2}$|,\d{4,}$|\.\d{3},"
    us = r"\.\d{1,2}$|\.\d{4,}$|,\d{3}\."
    parts = ", ".join(
        f"count(*) FILTER (WHERE regexp_matches({f}, {lit(eu)})) AS eu_{i}, "
        f"count(*) FILTER (WHERE regexp_matches({f}, {lit(us)})) AS us_{i}"
        for i, f in enumerate(fields)
    )
    row = con.execute(f"SELECT {parts} FROM (SELECT * FROM {ST} LIMIT 200000)").fetchall()[0]
    n_eu = sum(int(v) for v in row[0::2])
    n_us = sum(int(v) for v in row[1::2])
    return n_eu > 0 and n_us == 0


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

    Parameters
    ----------
    sources
        Order field -> SQL expression over the staged ``VARCHAR`` columns.
    labels
        Order field -> column name as the user sees it (for reject messages).
    """
    for t in (PV, ORD, LIN, BAD):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    fields = dict(sources)
    sel = ", ".join(
        f"nullif(trim(CAST(({expr}) AS VARCHAR)), '') AS {f}" for f, expr in fields.items()
    )
    con.execute(f"DROP VIEW IF EXISTS {ST}")
    # A view: the detection queries read samples, the parse reads it once.
    con.execute(f"CREATE TEMP VIEW {ST} AS SELECT _row, {sel} FROM {raw}")
    rows_in = int(con.execute(f"SELECT count(*) FROM {raw}").fetchall()[0][0])

    def has(f: str) -> bool:
        return f in fields

    def col(f: str) -> str:
        return f if has(f) else "NULL"

    money_present = [f for f in _MONEY_FIELDS if has(f)] + (["quantity"] if has("quantity") else [])
    dc = opts.decimal_comma
    if dc is None:
        dc = _detect_decimal_comma(con, money_present)
    currency_default = (
        opts.currency
        or (profile.currency if profile else None)
        or _detect_currency(con, [f for f in (*_MONEY_FIELDS, "currency_symbols") if has(f)])
        or default_currency
    ).upper()
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

    zone = None
    if has("time_zone"):
        cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in _ZONES.items())
        zone = (
            f"(CASE lower(time_zone) {cases} "
            "ELSE (CASE WHEN time_zone LIKE '%/%' AND time_zone IN "
            "(SELECT name FROM pg_timezone_names()) THEN time_zone END) END)"
        )
    # Ids read from floats ("17850.0") lose the ".0"; LIKE keeps the regex off most rows.
    id_norm = (
        "CASE WHEN {x} LIKE '%.0' THEN regexp_replace({x}, '^(\\d+)\\.0+$', '\\1') ELSE {x} END"
    )

    def money(f: str) -> str:
        return money_sql(f, dc) if has(f) else "CAST(NULL AS DECIMAL(18,4))"

    numeric = [*_MONEY_FIELDS, "quantity"]
    # Layer 2: parsed values (v_*) next to the raw text they came from.
    parsed = [
        "*",
        f"{id_norm.format(x='order_id')} AS v_key",
        f"{plan.sql('ordered_at', '_dshape', zone)} AS v_ts",
    ] + [f"{money(f)} AS v_{f}" for f in numeric]
    if zone is not None:
        parsed.append(f"{zone} AS v_zone")

    checks: list[tuple[str, str, str]] = []  # (condition, field, reason SQL)
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
        checks.append((f"{f} IS NOT NULL AND v_{f} IS NULL", f, money_reason_sql(f, dc)))
        checks.append((f"abs(v_{f}) >= {MONEY_LIMIT}", f, "'implausibly large (1e12 or more)'"))
    line_mode = gross_from in ("lines", "line_total") and has("quantity")
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
        checks.append(
            (
                f"line_total IS NULL AND coalesce(lower({col('status')}), '') NOT LIKE 'cancel%'",
                "line_total",
                "'blank (an amount is required)'",
            )
        )

    def label(f: str) -> str:
        return lit(labels.get(f, f))

    err_cases = " ".join(
        f"WHEN {cond} THEN {{'col': {label(f)}, "
        f"'val': {lit('***') if f in _PRIVATE_FIELDS else f'CAST({f} AS VARCHAR)'}, "
        f"'reason': {reason}}}"
        for cond, f, reason in checks
    )
    customer_raw = (
        "(coalesce("
        + ", ".join(
            [id_norm.format(x="customer_id") if has("customer_id") else "NULL"]
            + [f"lower({f})" if f == "email" else f for f in ("email", "buyer_id") if has(f)]
        )
        + "))"
    )
    final = [
        "_row",
        "v_key AS key",
        "v_ts AS ts",
        f"{customer_raw} AS customer",
        f"upper({col('currency')}) AS currency",
        f"{col('status')} AS status_raw",
        f"{col('channel')} AS channel_raw",
        f"{col('converted_currency')} AS converted_currency",
        f"{id_norm.format(x='sku') if has('sku') else 'NULL'} AS sku",
        f"{col('product')} AS product",
        f"{col('category')} AS category",
        "v_quantity AS quantity",
        f"({col('refund_flag')} IS NOT NULL OR coalesce(v_quantity < 0, false)) AS refund_row",
        f"{id_norm.format(x='refund_of') if has('refund_of') else 'NULL'} AS refund_of_raw",
        *[f"v_{f} AS {f}" for f in _MONEY_FIELDS],
        f"(CASE {err_cases} END) AS err",
    ]
    con.execute(
        f"CREATE TEMP TABLE {PV} AS SELECT {', '.join(final)} FROM ("
        f"SELECT {', '.join(parsed)} FROM {ST})"
    )

    chan = lit(opts.channel or default_channel)
    # Order-level requirements: a date, and an amount when amounts are order-level.
    whole = [("count(ts) = 0", "ordered_at", "'blank (an order date is required)'")]
    if gross_from in ("gross", "total"):
        whole.append((f"count({gross_from}) = 0", gross_from, "'blank (an amount is required)'"))
    whole_cases = " ".join(
        f"WHEN {cond} THEN {{'col': {label(f)}, 'val': NULL, 'reason': {r}}}"
        for cond, f, r in whole
    )
    # Rows of an order with any bad row, and orders whose id belongs to another channel.
    con.execute(
        f"CREATE TEMP TABLE {BAD} AS "
        f"WITH wholebad AS (SELECT key, min(_row) AS _row, (CASE {whole_cases} END) AS e "
        f"FROM {PV} WHERE key IS NOT NULL AND err IS NULL GROUP BY key "
        f"HAVING (CASE {whole_cases} END) IS NOT NULL), "
        f"badkeys AS (SELECT DISTINCT key FROM {PV} WHERE err IS NOT NULL "
        "AND key IS NOT NULL UNION SELECT key FROM wholebad), "
        f"clash AS (SELECT DISTINCT p.key, o.channel FROM {PV} p JOIN orders o "
        f"ON o.order_id = p.key WHERE o.channel <> coalesce(p.channel_raw, {chan})) "
        f"SELECT _row, err.col AS col, err.val AS val, err.reason AS reason FROM {PV} "
        "WHERE err IS NOT NULL "
        "UNION ALL SELECT _row, e.col, e.val, e.reason FROM wholebad "
        "UNION ALL SELECT p._row, NULL, NULL, 'part of an order with a rejected row' "
        f"FROM {PV} p JOIN badkeys b ON p.key = b.key WHERE p.err IS NULL "
        "AND p._row NOT IN (SELECT _row FROM wholebad) "
        f"UNION ALL SELECT p._row, {label('order_id')}, p.key, "
        "'an order id already imported for channel ' || c.channel "
        f"FROM {PV} p JOIN clash c ON p.key = c.key "
        f"WHERE p.err IS NULL AND p.key NOT IN (SELECT key FROM badkeys)"
    )
    con.execute(f"DELETE FROM {PV} WHERE _row IN (SELECT _row FROM {BAD})")

    # Refund rows that share an id with a sale become their own order '<id>:refund'.
    first = _agg_first
    refund_of_known = (
        "CASE WHEN refund_of_raw IN (SELECT key FROM sales) "
        "OR refund_of_raw IN (SELECT order_id FROM orders) THEN refund_of_raw END"
    )
    grouped = (
        f"WITH sales AS (SELECT DISTINCT key FROM {PV} WHERE NOT refund_row), "
        f"g AS (SELECT *, CASE WHEN refund_row AND (key IN (SELECT key FROM sales) OR "
        "key IN (SELECT order_id FROM orders WHERE status <> 'refund')) "
        "THEN key || ':refund' ELSE key END AS oid, "
        "CASE WHEN refund_row AND (key IN (SELECT key FROM sales) OR "
        "key IN (SELECT order_id FROM orders WHERE status <> 'refund')) THEN key "
        f"ELSE {refund_of_known} END AS link FROM {PV})"
    )
    agg = first if amounts == "first" else (lambda x: f"sum({x})")
    if gross_from == "lines":
        gross = "sum(quantity * unit_price)"
    elif gross_from == "line_total":
        gross = "coalesce(sum(line_total), 0)"
    elif gross_from == "gross":
        gross = first("gross")
    else:
        gross = (
            f"{first('total')} - coalesce({agg('tax')}, 0) - coalesce({agg('shipping')}, 0) "
            f"+ coalesce(abs({agg('discount')}), 0)"
        )
    fee = first("fees")
    if has("converted_amount"):
        # Stripe states the fee in the settlement currency: bring it to the charge's.
        fee = (
            f"CASE WHEN {first('converted_currency')} IS NOT NULL AND "
            f"upper({first('converted_currency')}) <> coalesce({first('currency')}, '') "
            f"AND {first('converted_amount')} > 0 THEN CAST({first('fees')} * "
            f"{first('gross')} / {first('converted_amount')} AS DECIMAL(18,4)) "
            f"ELSE {first('fees')} END"
        )
    refunded = f"abs({first('refunded')})"
    if has("adjusted_total"):
        refunded = (
            f"coalesce({refunded}, CASE WHEN {first('adjusted_total')} IS NOT NULL THEN "
            f"greatest({first('total')} - {first('adjusted_total')}, 0) END)"
        )
    con.execute(
        f"CREATE TEMP TABLE {ORD} AS {grouped}, a AS (SELECT oid AS order_id, "
        f"{first('customer')} AS customer_raw, min(ts) AS ordered_at, "
        f"coalesce({first('channel_raw')}, {chan}) AS channel, "
        f"coalesce({first('currency')}, {lit(currency_default)}) AS currency, "
        f"CAST({gross} AS DECIMAL(38,4)) AS g, "
        f"CAST(coalesce(abs({agg('discount')}), 0) AS DECIMAL(18,4)) AS d, "
        f"CAST(coalesce(abs({agg('tax')}), 0) AS DECIMAL(18,4)) AS tax, "
        f"CAST(coalesce(abs({agg('shipping')}), 0) AS DECIMAL(18,4)) AS shipping, "
        f"CAST(abs({fee}) AS DECIMAL(18,4)) AS fees, "
        f"CAST(coalesce({refunded}, 0) AS DECIMAL(18,4)) AS r, "
        f"{first('status_raw')} AS status_raw, bool_or(refund_row) AS refund_row, "
        f"{first('link')} AS refund_of FROM g GROUP BY oid), "
        # The keyed hash runs once per customer, not once per order.
        "pn AS (SELECT c, lf_pseudonym(c) AS p FROM "
        "(SELECT DISTINCT customer_raw AS c FROM a WHERE customer_raw IS NOT NULL)) "
        "SELECT order_id, customer_id, ordered_at, channel, currency, "
        "CAST(CASE WHEN is_refund THEN -(abs(g) - d) ELSE g END AS DECIMAL(18,4)) AS gross, "
        "CASE WHEN is_refund THEN CAST(0 AS DECIMAL(18,4)) ELSE d END AS discount, "
        "tax, shipping, fees, "
        "CAST(CASE WHEN is_refund THEN 0 ELSE least(r, greatest(g - d, 0)) END "
        "AS DECIMAL(18,4)) AS refunded, "
        "CASE WHEN is_refund THEN 'refund' "
        "WHEN st = 'paid' AND r > 0 AND r >= g - d THEN 'refunded' "
        "WHEN st = 'paid' AND r > 0 THEN 'partially_refunded' "
        "ELSE coalesce(st, 'paid') END AS status, "
        "CASE WHEN is_refund THEN refund_of END AS refund_of, st IS NULL AS unknown_status "
        "FROM (SELECT *, (refund_row OR g < 0 OR st = 'refund') AS is_refund FROM "
        f"(SELECT *, {_status_sql('status_raw', '_sn')} AS st FROM "
        f"(SELECT a.*, pn.p AS customer_id, {_status_norm_sql('a.status_raw')} AS _sn "
        "FROM a LEFT JOIN pn ON pn.c = a.customer_raw)))"
    )
    has_lines = line_mode
    if has_lines:
        if gross_from == "lines":
            list_price = "unit_price"
        else:
            list_price = "CASE WHEN quantity <> 0 THEN line_total / quantity ELSE line_total END"
        con.execute(
            f"CREATE TEMP TABLE {LIN} AS {grouped} SELECT oid AS order_id, "
            "CAST(row_number() OVER (PARTITION BY oid ORDER BY _row) AS INTEGER) AS line_no, "
            "sku, product, category, CAST(quantity AS DECIMAL(18,4)) AS quantity, "
            f"CAST(coalesce(lp - ld / nullif(abs(quantity), 0), lp) AS DECIMAL(18,4)) "
            "AS unit_price, CAST(lp AS DECIMAL(18,4)) AS list_price, "
            "CAST(ld AS DECIMAL(18,4)) AS discount FROM (SELECT *, "
            f"coalesce({list_price}, 0) AS lp, coalesce(abs(line_discount), 0) AS ld FROM g)"
        )

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
    stats = con.execute(
        "SELECT min(ordered_at), max(ordered_at), count(*) FILTER (WHERE unknown_status) "
        f"FROM {ORD}"
    ).fetchall()[0]
    revenue = {
        str(c): Decimal(v)
        for c, v in con.execute(
            "SELECT currency, CAST(sum(gross - discount - refunded) AS DECIMAL(18,4)) "
            f"FROM {ORD} WHERE status NOT IN ('failed', 'voided', 'cancelled', 'pending') "
            "GROUP BY currency ORDER BY currency"
        ).fetchall()
        if v is not None
    }
    notes = []
    if int(stats[2]):
        notes.append(
            f"{int(stats[2]):,} orders had a status levelfield does not know; counted as paid"
        )
    if dc and opts.decimal_comma is None:
        notes.append("amounts use a decimal comma (detected)")
    if plan.order is not None:
        notes.append(
            "day/month dates read as "
            + ("day-first (DD/MM)" if plan.order == "dmy" else "month-first (MM/DD)")
        )
    notes = [n for n in notes if n]
    return PreparedOrders(
        rows_in=rows_in,
        rows_rejected=n_bad,
        top_reasons=reasons,
        examples=examples,
        date_min=stats[0],
        date_max=stats[1],
        revenue=revenue,
        notes=notes,
        decimal_comma=dc,
        has_lines=has_lines,
        owns_orders=owns_orders,
    )


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
