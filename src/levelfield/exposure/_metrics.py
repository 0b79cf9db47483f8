"""Exposure metrics in DuckDB SQL over the canonical workspace tables.

Every function takes a DuckDB connection (a workspace cursor) on which the temporary
tables built by :func:`prepare` exist. Nothing here changes the workspace's own tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from levelfield.exposure._alternatives import alternatives_count_sql
from levelfield.exposure._kernels import hhi_band
from levelfield.exposure._reference import OWN_CHANNEL_NAMES, PLATFORM_CHANNEL_NAMES

__all__ = [
    "ConcentrationRow",
    "average_sale",
    "channel_fee_warnings",
    "channel_table",
    "concentration",
    "diversification_pairs",
    "line_totals",
    "order_history",
    "prepare",
    "revenue_last_year",
    "single_source",
    "supplier_table",
    "top_keys",
]

#: Lead time treated as fully "long" in the supplier risk score (days). About the
#: order-to-door time of sea freight from East Asia to Europe or North America plus
#: production; a stated yardstick, not a published standard.
LEAD_TIME_LONG_DAYS = 90.0


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> list[tuple[object, ...]]:
    return con.execute(sql, params or []).fetchall()


#: Orders counted as revenue (view ``order_revenue``) with amounts as DOUBLE: shares and
#: rates need no exact decimals, and one cast here keeps DECIMAL arithmetic out of every
#: later aggregate. Fees larger than the order total are unknown (NULL); fees on sales are
#: read as paid whatever their sign. Every amount is in the base currency (``fx_rate`` of
#: ``order_revenue``; an order without a rate has NULL amounts and counts in no sum).
#: ``net_revenue_base`` stays the view's exact DECIMAL for the currency table.
_ORDERS_VIEW = """
CREATE OR REPLACE TEMP VIEW lf_ord AS
SELECT order_id, customer_id, channel, ordered_at, currency, is_refund, fx_rate,
       net_revenue_base,
       (CAST(gross AS DOUBLE) - CAST(discount AS DOUBLE) - CAST(refunded AS DOUBLE))
           * fx_rate AS revenue,
       (CAST(gross AS DOUBLE) - CAST(discount AS DOUBLE)) * fx_rate AS merch,
       CAST(shipping AS DOUBLE) * fx_rate AS shipping,
       CAST(tax AS DOUBLE) * fx_rate AS tax,
       CAST(fees AS DOUBLE) * fx_rate AS fees_raw,
       CASE
           WHEN fees IS NULL THEN NULL
           WHEN NOT is_refund AND abs(fees) > gross - discount + shipping + tax
                AND gross - discount + shipping + tax > 0 THEN NULL
           WHEN NOT is_refund THEN abs(CAST(fees AS DOUBLE))
           ELSE CAST(fees AS DOUBLE)
       END * fx_rate AS fees
FROM order_revenue
"""

#: One pass over the orders into a few groups (channel, currency and flags), from which
#: the channel table, the order history and the data-problem warnings are computed. Sums
#: of ``merch``/``shipping``/``tax`` of sales (all, and those without actual fees) let the
#: per-order schedule components, which are linear in these bases, be applied once per
#: channel instead of once per order. ``revenue_base`` (exact) and ``unconverted`` (orders
#: without a rate) give the revenue per currency.
_ORDER_GROUPS = """
CREATE OR REPLACE TEMP TABLE lf_ogroups AS
SELECT channel, currency, is_refund,
       fees IS NULL AS no_fee,
       fees_raw IS NOT NULL AND fees IS NULL AS fee_too_large,
       NOT is_refund AND fees_raw < 0 AND fees IS NOT NULL AS fee_negative,
       customer_id IS NOT NULL AS identified,
       shipping <> 0 AS has_shipping,
       tax <> 0 AS has_tax,
       ordered_at > (SELECT max(ordered_at) FROM lf_ord) - INTERVAL 365 DAY AS recent,
       count(*) AS orders, sum(revenue) AS revenue, sum(fees) AS fees,
       sum(merch) AS merch, sum(shipping) AS shipping, sum(tax) AS tax,
       min(ordered_at) AS first_at, max(ordered_at) AS last_at,
       sum(net_revenue_base) AS revenue_base,
       count(*) FILTER (WHERE net_revenue_base IS NULL) AS unconverted
FROM lf_ord
GROUP BY ALL
"""

_ORDER_CHANNELS = """
CREATE OR REPLACE TEMP TABLE lf_ochan AS
WITH g AS (
    SELECT *, NOT is_refund AS sale, CAST(orders AS DOUBLE) AS n FROM lf_ogroups
)
SELECT channel,
       CAST(sum(n) AS BIGINT) AS orders,
       sum(revenue) AS revenue,
       sum(revenue) FILTER (WHERE NOT no_fee) AS revenue_actual,
       sum(revenue) FILTER (WHERE identified) AS revenue_identified,
       sum(fees) AS fee_actual,
       CAST(coalesce(sum(n) FILTER (WHERE NOT no_fee), 0) AS BIGINT) AS orders_actual,
       CAST(coalesce(sum(n) FILTER (WHERE no_fee), 0) AS BIGINT) AS orders_no_fee,
       CAST(coalesce(sum(n) FILTER (WHERE sale), 0) AS BIGINT) AS sales,
       sum(merch) FILTER (WHERE sale) AS merch,
       sum(shipping) FILTER (WHERE sale) AS shipping,
       sum(tax) FILTER (WHERE sale) AS tax,
       CAST(coalesce(sum(n) FILTER (WHERE sale AND no_fee), 0) AS BIGINT) AS sales_nf,
       sum(merch) FILTER (WHERE sale AND no_fee) AS merch_nf,
       sum(shipping) FILTER (WHERE sale AND no_fee) AS shipping_nf,
       sum(tax) FILTER (WHERE sale AND no_fee) AS tax_nf,
       CAST(coalesce(sum(n) FILTER (WHERE sale AND has_shipping), 0) AS BIGINT)
           AS sales_with_shipping,
       CAST(coalesce(sum(n) FILTER (WHERE sale AND has_tax), 0) AS BIGINT) AS sales_with_tax,
       min(first_at) AS first_at,
       max(last_at) AS last_at
FROM g
GROUP BY channel
"""


def _item_fee_sql(
    con: duckdb.DuckDBPyConnection, *, lv: str, lq: str, sw: str, tw: str
) -> tuple[str, dict[str, object]]:
    """Per-item schedule fee of one line as a SQL expression, and its parameters.

    ``lv``, ``lq``, ``sw`` and ``tw`` are SQL expressions for the line's value, its units
    and the order's shipping and tax allocated to it; the expression also reads the
    channel id ``cid``. The schedule's numbers are bound as parameters: the text depends
    only on which channels have per-item components and on each component's base and
    price band. NULL when the channel has no per-item components.
    """
    rules = _rows(
        con,
        """
        SELECT c.cid, s.base, s.percentage, s.fixed_amount, s.price_min, s.price_max,
               s.min_fee
        FROM lf_chan c JOIN lf_fee_schedule s ON s.fee_profile = c.fee_profile
        WHERE s.per = 'item'
        ORDER BY c.cid
        """,
    )
    if not rules:
        return "CAST(NULL AS DOUBLE)", {}
    params: dict[str, object] = {}
    by_channel: dict[int, list[str]] = {}
    for k, (cid, base, pct, fixed, lo, hi, min_fee) in enumerate(rules):
        # The unit price a component applies to: the line's value plus its share of the
        # order's shipping (unless the base is merchandise) and tax (base order_total).
        extra = f" + {sw}" if base != "merchandise" else ""
        extra += f" + {tw}" if base == "order_total" else ""
        unit = f"(({lv}{extra}) / {lq})"
        params.update({f"p{k}": pct, f"f{k}": fixed, f"m{k}": min_fee})
        band = []
        if lo is not None:
            band.append(f"{unit} > $lo{k}")
            params[f"lo{k}"] = lo
        if hi is not None:
            band.append(f"{unit} <= $hi{k}")
            params[f"hi{k}"] = hi
        fee = (
            f"greatest(CAST($p{k} AS DOUBLE) / 100.0 * {unit}, "
            f"coalesce(CAST($m{k} AS DOUBLE), 0.0)) * {lq} + CAST($f{k} AS DOUBLE) * {lq}"
        )
        if band:
            fee = f"CASE WHEN {' AND '.join(band)} THEN {fee} ELSE 0.0 END"
        by_channel.setdefault(int(str(cid)), []).append(f"coalesce({fee}, 0.0)")
    cases = " ".join(f"WHEN {cid} THEN {' + '.join(t)}" for cid, t in by_channel.items())
    return f"CASE cid {cases} END", params


#: Orders with their channel id, date and refund flag (for the cost of goods) and what
#: their per-item schedule fee needs: ``item_sale``
#: (a sale in a channel whose fee profile has per-item components) and ``alloc`` (such a
#: sale with shipping or tax that a per-item base includes, to be allocated to its lines).
_ORDER_FEE_VIEW = """
CREATE OR REPLACE TEMP VIEW lf_ordc AS
SELECT o.order_id, c.cid, o.fees IS NULL AS no_fee, o.merch, o.shipping, o.tax, o.fx_rate,
       o.is_refund, CAST(o.ordered_at AS DATE) AS day,
       r.cid IS NOT NULL AND NOT o.is_refund AS item_sale,
       r.cid IS NOT NULL AND NOT o.is_refund
           AND ((o.shipping <> 0 AND r.any_shipping) OR (o.tax <> 0 AND r.any_tax)) AS alloc
FROM lf_ord o
JOIN lf_chan c ON c.channel = o.channel
LEFT JOIN (
    SELECT c.cid, bool_or(s.base <> 'merchandise') AS any_shipping,
           bool_or(s.base = 'order_total') AS any_tax
    FROM lf_chan c JOIN lf_fee_schedule s ON s.fee_profile = c.fee_profile
    WHERE s.per = 'item'
    GROUP BY c.cid
) r ON r.cid = c.cid
"""


def prepare(con: duckdb.DuckDBPyConnection, owns_profiles: list[str]) -> dict[str, Any]:
    """Build the working tables: view ``lf_ord``, per-channel order aggregates
    ``lf_ochan``, channels ``lf_chan`` and line aggregates ``lf_items``.

    Needs the registered fee schedule ``lf_fee_schedule``. Each of the two large tables
    (orders, order lines) is read once into small aggregates; every metric is computed from
    those. Returns counts of data problems found on the way (fees larger than the order
    total, negative fees on sales) so that the caller can warn about them.
    """
    con.execute(_ORDERS_VIEW)
    con.execute(_ORDER_GROUPS)
    con.execute(_ORDER_CHANNELS)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE lf_chan AS
        WITH names AS (
            SELECT channel FROM lf_ochan
            UNION SELECT channel FROM channels
        )
        SELECT n.channel,
               coalesce(c.platform, n.channel) AS platform,
               nullif(trim(c.fee_profile), '') AS fee_profile,
               coalesce(
                   c.owns_customer,
                   CASE
                       WHEN list_contains($owns, nullif(trim(c.fee_profile), '')) THEN false
                       WHEN c.fee_profile IS NOT NULL
                            AND EXISTS (SELECT 1 FROM lf_fee_schedule s
                                        WHERE s.fee_profile = trim(c.fee_profile)) THEN true
                       WHEN list_contains($platform_names, lower(trim(n.channel))) THEN false
                       WHEN list_contains($own_names, lower(trim(n.channel))) THEN true
                   END
               ) AS owns_customer,
               c.owns_customer IS NOT NULL AS owns_stated,
               CASE
                   WHEN c.owns_customer IS NOT NULL THEN 'stated'
                   WHEN list_contains($owns, nullif(trim(c.fee_profile), '')) THEN 'fee profile'
                   WHEN c.fee_profile IS NOT NULL
                        AND EXISTS (SELECT 1 FROM lf_fee_schedule s
                                    WHERE s.fee_profile = trim(c.fee_profile)) THEN 'fee profile'
                   WHEN list_contains($platform_names, lower(trim(n.channel)))
                        OR list_contains($own_names, lower(trim(n.channel))) THEN 'channel name'
               END AS owns_basis,
               nullif(trim(c.fee_profile), '') IN (SELECT fee_profile FROM lf_fee_schedule)
                   AS fee_known,
               CAST(row_number() OVER (ORDER BY n.channel) AS INTEGER) AS cid
        FROM names n LEFT JOIN channels c ON c.channel = n.channel
        """,
        {
            "owns": owns_profiles,
            "platform_names": sorted(PLATFORM_CHANNEL_NAMES),
            "own_names": sorted(OWN_CHANNEL_NAMES),
        },
    )
    _line_aggregates(con)
    row = _rows(
        con,
        """
        SELECT sum(orders) FILTER (WHERE fee_too_large), sum(orders) FILTER (WHERE fee_negative),
               count(DISTINCT currency)
        FROM lf_ogroups
        """,
    )[0]
    too_large = int(row[0] or 0)  # type: ignore[call-overload]
    examples: list[object] = []
    if too_large:
        examples = list(
            _rows(
                con,
                "SELECT list(order_id ORDER BY order_id)[1:3] FROM lf_ord "
                "WHERE fees_raw IS NOT NULL AND fees IS NULL",
            )[0][0]  # type: ignore[call-overload]
            or []
        )
    return {
        "fees_too_large": too_large,
        "fees_negative": int(row[1] or 0),  # type: ignore[call-overload]
        "fees_too_large_examples": examples,
        "currencies": int(row[2] or 0),  # type: ignore[call-overload]
    }


#: Each product's unit cost, the currency it is stated in (``products.currency``; none
#: given: the base currency) and its supplier. The same rule as the workspace's
#: ``order_line_costs`` view, read here inside the one pass over the lines instead of
#: through that view (which reads the lines and orders again).
_PRODUCT_COSTS = """
CREATE OR REPLACE TEMP TABLE lf_prod AS
SELECT p.sku, p.supplier_id, CAST(p.unit_cost AS DOUBLE) AS unit_cost,
       coalesce(upper(nullif(trim(p.currency), '')), b.currency) AS cost_currency,
       coalesce(upper(nullif(trim(p.currency), '')), b.currency) = b.currency AS cost_in_base
FROM products p CROSS JOIN base_currency b
"""


def _line_cost_sql(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The cost of goods of one line in the base currency: ``(join, rate)`` SQL fragments.

    Builds ``lf_prod`` (:data:`_PRODUCT_COSTS`). A cost in another currency is converted
    at the rate of the order's date (``fx_base_daily``, as ``order_line_costs``
    converts). ``join`` is the rate lookup and ``rate`` the line's cost rate (NULL when the
    product has no unit cost or its currency no rate); when every costed product is in the
    base currency there is nothing to convert, and the lookup, one probe per line, is left
    out (``join`` empty).
    """
    con.execute(_PRODUCT_COSTS)
    foreign = _rows(
        con, "SELECT count(*) FROM lf_prod WHERE unit_cost IS NOT NULL AND NOT cost_in_base"
    )[0][0]
    if not foreign:
        return "", "1.0"
    join = "LEFT JOIN fx_base_daily x ON x.currency = p.cost_currency AND x.day = o.day"
    return join, "CASE WHEN p.cost_in_base THEN 1.0 ELSE x.fx_rate END"


def _line_aggregates(con: duckdb.DuckDBPyConnection) -> None:
    """Read the order lines once into ``lf_items`` per (channel, item), with per-item fees.

    ``lf_items`` holds units, value, value of lines with positive value, units of lines
    with positive quantity, the cost of goods (all lines, ``cogs``; sales only,
    ``cogs_sales``) and the product's unit cost (both in the base currency, converted at
    each order's date, :func:`_line_cost_sql`; the unit cost averaged over the lines'
    units), the currency the cost is stated in, and supplier, and the per-item schedule
    fee of the lines' sales (all, and those without actual fees). Per-item fees use each
    line's price with the order's shipping and tax allocated to lines by value; a sale
    without lines of positive quantity counts as one item worth its merchandise.
    ``lf_item_fees`` holds the per-item fees that need a second look at some lines (sales
    with shipping or tax to allocate to lines, sales whose lines all have quantity <= 0);
    there are usually none, and then the lines are read once.
    """
    con.execute(_ORDER_FEE_VIEW)
    line_fee, params = _item_fee_sql(con, lv="value", lq="q", sw="0.0", tw="0.0")
    order_fee, _ = _item_fee_sql(con, lv="merch", lq="1.0", sw="shipping", tw="tax")
    alloc_fee, _ = _item_fee_sql(con, lv="value", lq="q", sw="shipping * w", tw="tax * w")
    cost_join, cost_rate = _line_cost_sql(con)
    con.execute(_items_sql(line_fee, order_fee, cost_join, cost_rate), params)
    _item_fees_table(con, _second_look_sql(con, alloc_fee, order_fee), params)


def _items_sql(line_fee: str, order_fee: str, cost_join: str, cost_rate: str) -> str:
    """The statement building ``lf_items`` in one pass over the order lines.

    ``line_fee`` and ``order_fee`` are the per-item fee of a line and of an order counted
    as one item (:func:`_item_fee_sql`); ``cost_join`` and ``cost_rate`` convert the
    line's cost of goods (:func:`_line_cost_sql`). The right join keeps orders without
    lines: their fee is the one-item fee of the order.
    """
    return f"""
        CREATE OR REPLACE TEMP TABLE lf_items AS
        WITH o AS (
            SELECT order_id, cid, no_fee, fx_rate, is_refund, day,
                   item_sale AND NOT alloc AS line_fee,
                   CASE WHEN item_sale THEN {order_fee} END AS order_fee
            FROM lf_ordc
        ),
        f AS (
            SELECT o.cid, o.no_fee, o.is_refund,
                   coalesce(l.sku, l.product) AS item, l.sku IS NULL AS no_sku,
                   CAST(l.quantity AS DOUBLE) AS q,
                   (CAST(l.quantity AS DOUBLE) * CAST(l.unit_price AS DOUBLE)
                       - CAST(l.discount AS DOUBLE)) * o.fx_rate AS value,
                   CASE WHEN l.order_id IS NULL THEN o.order_fee
                        WHEN o.line_fee AND q > 0 THEN {line_fee} END AS fee,
                   CAST(l.quantity AS DOUBLE) * p.unit_cost * {cost_rate} AS cost,
                   p.unit_cost * {cost_rate} AS ucb
            FROM order_lines l RIGHT JOIN o ON o.order_id = l.order_id
            LEFT JOIN lf_prod p ON p.sku = l.sku
            {cost_join}
        ),
        g AS (
            SELECT cid, item, no_sku,
                   sum(q) AS q,
                   sum(q) FILTER (WHERE q > 0) AS q_pos,
                   sum(value) AS value,
                   sum(value) FILTER (WHERE value > 0) AS value_pos,
                   sum(fee) AS fee_item,
                   sum(fee) FILTER (WHERE no_fee) AS fee_item_nf,
                   sum(cost) AS cogs,
                   sum(cost) FILTER (WHERE NOT is_refund) AS cogs_sales,
                   coalesce(sum(abs(q) * ucb) / nullif(sum(abs(q)) FILTER (WHERE ucb IS NOT NULL),
                                                       0), avg(ucb)) AS unit_cost
            FROM f GROUP BY cid, item, no_sku
        )
        SELECT c.channel, g.item, g.no_sku, g.q, g.q_pos, g.value, g.value_pos,
               g.fee_item, g.fee_item_nf, g.cogs, g.cogs_sales, g.unit_cost,
               p.cost_currency, p.supplier_id
        FROM g
        JOIN lf_chan c ON c.cid = g.cid
        LEFT JOIN lf_prod p ON p.sku = g.item AND NOT g.no_sku
        """


def _second_look_sql(con: duckdb.DuckDBPyConnection, alloc_fee: str, order_fee: str) -> list[str]:
    """Queries ``(cid, no_fee, fee)`` for the per-item fees the one pass cannot give.

    Sales in channels with per-item fees whose base includes shipping or tax allocate
    those to the lines by value (``alloc_fee``); sales whose lines all have quantity <= 0
    pay the fee of one item worth their merchandise (``order_fee``). A cheap check on
    the small tables says whether any are needed; usually none are.
    """
    need_alloc, need_unpriced = _rows(
        con,
        """
        SELECT coalesce(bool_or((a.sales_with_shipping > 0 AND s.base <> 'merchandise')
                                OR (a.sales_with_tax > 0 AND s.base = 'order_total')), false),
               count(s.fee_profile) > 0
                   AND EXISTS (SELECT 1 FROM order_lines WHERE quantity <= 0)
        FROM lf_ochan a
        JOIN lf_chan c ON c.channel = a.channel
        JOIN lf_fee_schedule s ON s.fee_profile = c.fee_profile AND s.per = 'item'
        """,
    )[0]
    sources = []
    if need_alloc:
        sources.append(
            f"""
            SELECT cid, no_fee, {alloc_fee} AS fee
            FROM (
                SELECT *, CASE WHEN tot > 0 THEN value / tot ELSE 0.0 END AS w
                FROM (
                    SELECT o.cid, o.no_fee, o.shipping, o.tax,
                           CAST(l.quantity AS DOUBLE) AS q,
                           (CAST(l.quantity AS DOUBLE) * CAST(l.unit_price AS DOUBLE)
                               - CAST(l.discount AS DOUBLE)) * o.fx_rate AS value,
                           sum(value) OVER (PARTITION BY l.order_id) AS tot
                    FROM order_lines l JOIN lf_ordc o ON o.order_id = l.order_id
                    WHERE o.alloc AND l.quantity > 0
                )
            )
            """
        )
    if need_unpriced:
        sources.append(
            f"""
            WITH u AS (
                SELECT o.* FROM lf_ordc o
                SEMI JOIN (SELECT order_id FROM order_lines WHERE quantity <= 0) n
                    ON n.order_id = o.order_id
                WHERE o.item_sale
            ),
            priced AS (
                SELECT DISTINCT l.order_id FROM order_lines l
                SEMI JOIN u ON u.order_id = l.order_id
                WHERE l.quantity > 0
            )
            SELECT cid, no_fee, {order_fee} AS fee
            FROM u ANTI JOIN priced p ON p.order_id = u.order_id
            """
        )
    return sources


def _item_fees_table(
    con: duckdb.DuckDBPyConnection, sources: list[str], params: dict[str, object]
) -> None:
    """Build ``lf_item_fees`` (per channel: ``fee_item``, ``fee_item_nf``) from the
    queries of :func:`_second_look_sql`; empty when there are none."""
    if not sources:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE lf_item_fees "
            "(channel VARCHAR, fee_item DOUBLE, fee_item_nf DOUBLE)"
        )
        return
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE lf_item_fees AS
        SELECT c.channel, sum(f.fee) AS fee_item,
               sum(f.fee) FILTER (WHERE f.no_fee) AS fee_item_nf
        FROM ({" UNION ALL ".join(f"({x})" for x in sources)}) f
        JOIN lf_chan c ON c.cid = f.cid
        GROUP BY c.channel
        """,
        params,
    )


def channel_fee_warnings(con: duckdb.DuckDBPyConnection, known: list[str]) -> list[Any]:
    """``(channel, fee_profile, orders without fees)`` of channels whose fees are unknown."""
    return _rows(
        con,
        """
        SELECT c.channel, c.fee_profile, o.orders_no_fee
        FROM lf_chan c JOIN lf_ochan o ON o.channel = c.channel
        WHERE o.orders_no_fee > 0
          AND (c.fee_profile IS NULL OR c.fee_profile NOT IN (SELECT unnest($known)))
        ORDER BY c.channel
        """,
        {"known": known},  # type: ignore[arg-type]
    )


def channel_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Revenue, fees (actual, scheduled, used), COGS and margins per channel.

    A channel with a known fee profile has a scheduled fee on every order (0 on refund
    rows): the per-order components applied to its summed bases plus the per-item
    components of its lines. ``fee_used`` takes the actual fee where the export has one.
    """
    return con.execute(
        """
        WITH per_order AS (
            SELECT a.channel,
                   sum(s.percentage / 100.0 * CASE s.base
                           WHEN 'order_total' THEN a.merch + a.shipping + a.tax
                           WHEN 'merchandise_plus_shipping' THEN a.merch + a.shipping
                           ELSE a.merch END
                       + s.fixed_amount * a.sales) AS fee,
                   sum(s.percentage / 100.0 * CASE s.base
                           WHEN 'order_total' THEN a.merch_nf + a.shipping_nf + a.tax_nf
                           WHEN 'merchandise_plus_shipping' THEN a.merch_nf + a.shipping_nf
                           ELSE a.merch_nf END
                       + s.fixed_amount * a.sales_nf) AS fee_nf
            FROM lf_ochan a
            JOIN lf_chan c ON c.channel = a.channel
            JOIN lf_fee_schedule s ON s.fee_profile = c.fee_profile
            WHERE s.per = 'order'
            GROUP BY a.channel
        ),
        per_item AS (
            SELECT channel, sum(fee_item) AS fee, sum(fee_item_nf) AS fee_nf
            FROM (SELECT channel, fee_item, fee_item_nf FROM lf_items
                  UNION ALL SELECT channel, fee_item, fee_item_nf FROM lf_item_fees)
            GROUP BY channel
        ),
        sched AS (
            SELECT a.channel,
                   coalesce(po.fee, 0.0) + coalesce(pi.fee, 0.0) AS fee,
                   coalesce(po.fee_nf, 0.0) + coalesce(pi.fee_nf, 0.0) AS fee_nf
            FROM lf_ochan a
            JOIN lf_chan c ON c.channel = a.channel AND c.fee_known
            LEFT JOIN per_order po ON po.channel = a.channel
            LEFT JOIN per_item pi ON pi.channel = a.channel
        ),
        cogs AS (
            SELECT channel,
                   sum(cogs) AS cogs,
                   sum(value) FILTER (WHERE unit_cost IS NOT NULL) AS value_costed,
                   sum(value) AS line_value
            FROM lf_items GROUP BY channel
        )
        SELECT a.channel, c.platform, c.fee_profile, c.owns_customer, c.owns_stated, c.owns_basis,
               a.revenue, a.orders, a.fee_actual, a.revenue_actual,
               s.fee AS fee_scheduled,
               CASE WHEN a.fee_actual IS NULL AND (s.fee IS NULL OR a.orders_no_fee = 0)
                    THEN NULL
                    ELSE coalesce(a.fee_actual, 0.0)
                         + CASE WHEN a.orders_no_fee > 0 THEN coalesce(s.fee_nf, 0.0)
                                ELSE 0.0 END
               END AS fee_used,
               CASE WHEN s.channel IS NOT NULL THEN a.revenue ELSE a.revenue_actual END
                   AS revenue_fee_known,
               a.orders_actual,
               CASE WHEN s.channel IS NOT NULL THEN a.orders_no_fee ELSE 0 END AS orders_sched,
               CASE WHEN s.channel IS NULL THEN a.orders_no_fee ELSE 0 END AS orders_unknown,
               g.cogs, g.value_costed, g.line_value
        FROM lf_ochan a
        JOIN lf_chan c ON c.channel = a.channel
        LEFT JOIN sched s ON s.channel = a.channel
        LEFT JOIN cogs g ON g.channel = a.channel
        ORDER BY a.revenue DESC, a.channel
        """
    ).df()


def line_totals(con: duckdb.DuckDBPyConnection) -> tuple[float, float, float]:
    """``(cogs, value of costed lines, value of all lines)`` over every order line."""
    row = _rows(
        con,
        "SELECT sum(cogs), sum(value) FILTER (WHERE unit_cost IS NOT NULL), "
        "sum(value) FROM lf_items",
    )[0]
    return as_float(row[0]), as_float(row[1]), as_float(row[2])


def single_source(con: duckdb.DuckDBPyConnection) -> tuple[float, float, float]:
    """Value of positive lines ``(from single-source suppliers, with known alternatives,
    all)``; needs ``lf_sup``."""
    row = _rows(
        con,
        """
        SELECT sum(i.value_pos) FILTER (WHERE s.n_alternatives = 0),
               sum(i.value_pos) FILTER (WHERE s.n_alternatives IS NOT NULL),
               sum(i.value_pos)
        FROM lf_items i LEFT JOIN lf_sup s ON s.supplier_id = i.supplier_id
        """,
    )[0]
    return (
        0.0 if row[0] is None else as_float(row[0]),
        as_float(row[1]),
        as_float(row[2]),
    )


def average_sale(con: duckdb.DuckDBPyConnection, channel: str) -> float:
    """Mean order total (merchandise + shipping + tax) of the sales of ``channel``."""
    row = _rows(
        con,
        "SELECT (merch + shipping + tax) / sales FROM lf_ochan WHERE channel = ? AND sales > 0",
        [channel],
    )
    return as_float(row[0][0]) if row else float("nan")


@dataclass(frozen=True)
class ConcentrationRow:
    """Concentration of one dimension (customers, channels, ...)."""

    dimension: str
    n: int
    total: float
    hhi: float
    top1_share: float
    top5_share: float
    top20pct_share: float

    @property
    def band(self) -> str:
        return hhi_band(self.hhi)


_CONCENTRATION_SQL = """
WITH v AS (SELECT key, v FROM {table} WHERE v > 0),
t AS (SELECT sum(v) AS tot, count(*) AS n FROM v),
r AS (SELECT v, row_number() OVER (ORDER BY v DESC) AS rk FROM v)
SELECT t.n, t.tot,
       sum(power(100.0 * r.v / t.tot, 2)),
       sum(r.v) FILTER (WHERE r.rk = 1) / t.tot,
       sum(r.v) FILTER (WHERE r.rk <= 5) / t.tot,
       sum(r.v) FILTER (WHERE r.rk <= greatest(1, ceil(0.2 * t.n))) / t.tot
FROM r, t GROUP BY t.n, t.tot
"""

#: SQL producing ``(key, v)`` per concentration dimension, over the prepared temp tables.
DIMENSIONS: dict[str, str] = {
    "customer": "SELECT customer_id AS key, sum(revenue) AS v FROM lf_ord "
    "WHERE customer_id IS NOT NULL GROUP BY customer_id",
    "channel": "SELECT channel AS key, revenue AS v FROM lf_ochan",
    "platform": "SELECT c.platform AS key, sum(o.revenue) AS v FROM lf_ochan o "
    "JOIN lf_chan c ON c.channel = o.channel GROUP BY c.platform",
    "product": "SELECT item AS key, sum(value) AS v FROM lf_items WHERE item IS NOT NULL "
    "GROUP BY item",
    "supplier": "SELECT supplier_id AS key, spend AS v FROM lf_sup",
    "supplier_country": "SELECT country AS key, sum(spend) AS v FROM lf_sup "
    "WHERE country IS NOT NULL GROUP BY country",
}


def concentration(con: duckdb.DuckDBPyConnection, dimension: str) -> ConcentrationRow:
    """Revenue (or spend) concentration of one dimension; NaN fields when it has no data."""
    table = f"lf_conc_{dimension}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {DIMENSIONS[dimension]}")
    rows = _rows(con, _CONCENTRATION_SQL.format(table=table))
    if not rows:
        nan = float("nan")
        return ConcentrationRow(dimension, 0, 0.0, nan, nan, nan, nan)
    n, tot, h, t1, t5, t20 = rows[0]
    return ConcentrationRow(
        dimension,
        int(n),  # type: ignore[call-overload]
        float(tot),  # type: ignore[arg-type]
        float(h),  # type: ignore[arg-type]
        float(t1),  # type: ignore[arg-type]
        float(t5),  # type: ignore[arg-type]
        float(t20),  # type: ignore[arg-type]
    )


def top_keys(con: duckdb.DuckDBPyConnection, dimension: str, n: int = 10) -> pd.DataFrame:
    """The ``n`` largest keys of a dimension with their value and share of the positive total."""
    table = f"lf_conc_{dimension}"
    return con.execute(
        f"""
        SELECT key, v AS value, v / (SELECT sum(v) FROM {table} WHERE v > 0) AS share
        FROM {table} WHERE v > 0
        ORDER BY v DESC, key
        LIMIT ?
        """,
        [n],
    ).df()


def supplier_table(con: duckdb.DuckDBPyConnection, years: float) -> pd.DataFrame:
    """Build temp table ``lf_sup`` (one row per supplier) and return it.

    Needs the temp table ``lf_country(raw, country, risk)`` mapping the raw country
    values to ISO codes and risk. Spend is ``suppliers.annual_spend`` when given, else the
    cost of goods sold of the supplier's products per year (``years`` of order history).
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE lf_sup AS
        WITH prod AS (
            SELECT supplier_id, sum(value) AS revenue, sum(cogs) AS cogs
            FROM lf_items WHERE supplier_id IS NOT NULL GROUP BY supplier_id
        ),
        ids AS (SELECT supplier_id FROM suppliers UNION SELECT supplier_id FROM prod),
        alt AS (
            SELECT supplier_id, """
        + alternatives_count_sql("alternatives")
        + """ AS n_alternatives
            FROM suppliers
        )
        SELECT i.supplier_id, s.name, s.country AS country_raw, lc.country, lc.risk,
               CAST(s.annual_spend AS DOUBLE) AS annual_spend,
               coalesce(p.cogs, 0.0) / $years AS cogs_per_year,
               coalesce(CAST(s.annual_spend AS DOUBLE), coalesce(p.cogs, 0.0) / $years) AS spend,
               CASE WHEN s.annual_spend IS NOT NULL THEN 'annual_spend'
                    WHEN p.cogs IS NOT NULL THEN 'cogs_per_year' ELSE 'none' END AS spend_basis,
               s.lead_time_days, a.n_alternatives, s.alternatives,
               coalesce(p.revenue, 0.0) AS revenue
        FROM ids i
        LEFT JOIN suppliers s ON s.supplier_id = i.supplier_id
        LEFT JOIN prod p ON p.supplier_id = i.supplier_id
        LEFT JOIN alt a ON a.supplier_id = i.supplier_id
        LEFT JOIN lf_country lc ON lc.raw = s.country
        """,
        {"years": years},
    )
    return con.execute(
        """
        WITH tot AS (
            SELECT sum(spend) FILTER (WHERE spend > 0) AS spend_total,
                   (SELECT sum(value_pos) FROM lf_items) AS revenue_total
            FROM lf_sup
        )
        SELECT s.*,
               CASE WHEN t.spend_total > 0 THEN greatest(s.spend, 0) / t.spend_total END
                   AS spend_share,
               CASE WHEN t.revenue_total > 0 THEN greatest(s.revenue, 0) / t.revenue_total END
                   AS revenue_share
        FROM lf_sup s, tot t
        ORDER BY s.spend DESC NULLS LAST, s.supplier_id
        """
    ).df()


def diversification_pairs(
    con: duckdb.DuckDBPyConnection, n_sources: int = 50, per_category: int = 10
) -> pd.DataFrame:
    """Candidate spend shifts ``src -> dst`` with the unit-cost ratio when comparable.

    Candidates are the alternatives a supplier row names (supplier ids in
    ``suppliers.alternatives``); one of the ``n_sources`` largest suppliers naming none is
    paired with the ``per_category`` lowest-risk suppliers of each category it sells that
    are in another country with lower risk (moves from small suppliers change the HHI
    little, and bounding the candidates keeps the work linear in suppliers). The cost
    ratio is the mean over shared categories of the destination's mean unit cost divided
    by the source's (NaN when they share no costed category).
    """
    return con.execute(
        """
        WITH listed AS (
            SELECT s.supplier_id AS src, trim(x.tok) AS dst
            FROM suppliers s,
                 unnest(string_split_regex(s.alternatives, '[;,|]')) AS x(tok)
            WHERE s.alternatives IS NOT NULL
        ),
        listed_ok AS (
            SELECT DISTINCT l.src, l.dst FROM listed l
            JOIN lf_sup d ON d.supplier_id = l.dst WHERE l.src <> l.dst
        ),
        cat AS (
            SELECT p.supplier_id, p.category, avg(pc.unit_cost_base) AS cost
            FROM products p LEFT JOIN product_costs pc ON pc.sku = p.sku
            WHERE p.supplier_id IS NOT NULL AND p.category IS NOT NULL
            GROUP BY p.supplier_id, p.category
        ),
        src_top AS (
            SELECT supplier_id FROM lf_sup WHERE spend > 0
            ORDER BY spend DESC, supplier_id LIMIT $n_sources
        ),
        cat_best AS (
            SELECT c.supplier_id, c.category, s.country, s.risk
            FROM cat c JOIN lf_sup s ON s.supplier_id = c.supplier_id
            WHERE s.risk IS NOT NULL
            QUALIFY row_number() OVER (
                PARTITION BY c.category ORDER BY s.risk, s.spend DESC, c.supplier_id
            ) <= $per_category
        ),
        by_category AS (
            SELECT DISTINCT a.supplier_id AS src, b.supplier_id AS dst
            FROM cat a
            JOIN lf_sup sa ON sa.supplier_id = a.supplier_id
            JOIN cat_best b ON b.category = a.category AND b.supplier_id <> a.supplier_id
            WHERE a.supplier_id IN (SELECT supplier_id FROM src_top)
              AND a.supplier_id NOT IN (SELECT src FROM listed_ok)
              AND sa.country IS DISTINCT FROM b.country
              AND b.risk < sa.risk
        ),
        pairs AS (
            SELECT src, dst, 'listed alternative' AS kind FROM listed_ok
            UNION ALL SELECT src, dst, 'same category, other country' FROM by_category
        ),
        cost AS (
            SELECT p.src, p.dst, avg(b.cost / a.cost) AS cost_ratio
            FROM pairs p
            JOIN cat a ON a.supplier_id = p.src
            JOIN cat b ON b.supplier_id = p.dst AND b.category = a.category
            WHERE a.cost > 0 AND b.cost IS NOT NULL
            GROUP BY p.src, p.dst
        )
        SELECT p.src, p.dst, p.kind, c.cost_ratio
        FROM pairs p LEFT JOIN cost c ON c.src = p.src AND c.dst = p.dst
        ORDER BY p.src, p.dst
        """,
        {"n_sources": n_sources, "per_category": per_category},
    ).df()


def order_history(con: duckdb.DuckDBPyConnection) -> tuple[float, float, float, int]:
    """``(revenue, years, identified_revenue_share, n_orders)`` of the prepared orders.

    ``years`` is the span from first to last order in years (at least 1/365.25).
    """
    row = _rows(
        con,
        """
        SELECT sum(revenue), (epoch(max(last_at)) - epoch(min(first_at))) / 86400.0,
               sum(revenue_identified), sum(orders)
        FROM lf_ochan
        """,
    )[0]
    revenue = float(row[0] or 0.0)  # type: ignore[arg-type]
    days = float(row[1] or 0.0) + 1.0  # type: ignore[arg-type]
    ident = float(row[2] or 0.0)  # type: ignore[arg-type]
    share = ident / revenue if revenue > 0 else float("nan")
    return revenue, max(days, 1.0) / 365.25, share, int(row[3] or 0)  # type: ignore[call-overload]


def revenue_last_year(con: duckdb.DuckDBPyConnection) -> float:
    """Net revenue of the 365 days up to the last order (the last 12 months)."""
    row = _rows(con, "SELECT sum(revenue) FILTER (WHERE recent) FROM lf_ogroups")[0]
    return float(row[0] or 0.0)  # type: ignore[arg-type]


def as_float(value: object) -> float:
    """A float from a DuckDB/pandas scalar; NaN for NULL/NA."""
    if value is None or value is pd.NA:
        return float("nan")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return out if np.isfinite(out) else float("nan")
