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

from levelfield.exposure._kernels import hhi_band

__all__ = [
    "ConcentrationRow",
    "channel_table",
    "concentration",
    "diversification_pairs",
    "prepare",
    "scheduled_fees",
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


def prepare(con: duckdb.DuckDBPyConnection, owns_profiles: list[str]) -> dict[str, Any]:
    """Build the temporary working tables ``lf_ord``, ``lf_lines`` and ``lf_chan``.

    Returns counts of data problems found on the way (fees larger than the order total,
    negative fees on sales) so that the caller can warn about them.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE lf_ord AS
        SELECT order_id, customer_id, channel, ordered_at, currency, is_refund,
               CAST(gross AS DOUBLE) - CAST(discount AS DOUBLE) - CAST(refunded AS DOUBLE)
                   AS revenue,
               CAST(gross AS DOUBLE) - CAST(discount AS DOUBLE) AS merch,
               CAST(shipping AS DOUBLE) AS shipping,
               CAST(tax AS DOUBLE) AS tax,
               CAST(fees AS DOUBLE) AS fees_raw,
               CASE
                   WHEN fees IS NULL THEN NULL
                   WHEN NOT is_refund AND abs(fees) > gross - discount + shipping + tax
                        AND gross - discount + shipping + tax > 0 THEN NULL
                   WHEN NOT is_refund THEN abs(CAST(fees AS DOUBLE))
                   ELSE CAST(fees AS DOUBLE)
               END AS fees
        FROM order_revenue
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE lf_lines AS
        SELECT l.order_id, o.channel, o.is_refund,
               coalesce(l.sku, l.product) AS item,
               coalesce(l.category, p.category) AS category,
               CAST(l.quantity AS DOUBLE) AS q,
               CAST(l.quantity AS DOUBLE) * CAST(l.unit_price AS DOUBLE)
                   - CAST(l.discount AS DOUBLE) AS value,
               CAST(p.unit_cost AS DOUBLE) AS unit_cost,
               p.supplier_id
        FROM order_lines l
        JOIN lf_ord o ON o.order_id = l.order_id
        LEFT JOIN products p ON p.sku = l.sku
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE lf_chan AS
        WITH names AS (
            SELECT channel FROM lf_ord GROUP BY channel
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
                       WHEN lower(n.channel) IN ('etsy', 'amazon', 'doordash', 'ubereats',
                                                 'uber_eats', 'app_store', 'google_play') THEN false
                       WHEN lower(n.channel) IN ('shopify', 'woocommerce', 'square', 'stripe',
                                                 'wholesale', 'paypal', 'own_store') THEN true
                   END
               ) AS owns_customer,
               c.owns_customer IS NOT NULL AS owns_stated
        FROM names n LEFT JOIN channels c ON c.channel = n.channel
        """,
        {"owns": owns_profiles},
    )
    problems = _rows(
        con,
        """
        SELECT count(*) FILTER (WHERE fees_raw IS NOT NULL AND fees IS NULL),
               count(*) FILTER (WHERE NOT is_refund AND fees_raw < 0 AND fees IS NOT NULL),
               list(order_id ORDER BY order_id) FILTER (
                   WHERE fees_raw IS NOT NULL AND fees IS NULL)[1:3],
               count(DISTINCT currency)
        FROM lf_ord
        """,
    )[0]
    return {
        "fees_too_large": int(problems[0] or 0),  # type: ignore[call-overload]
        "fees_negative": int(problems[1] or 0),  # type: ignore[call-overload]
        "fees_too_large_examples": list(problems[2] or []),  # type: ignore[call-overload]
        "currencies": int(problems[3] or 0),  # type: ignore[call-overload]
    }


def scheduled_fees(con: duckdb.DuckDBPyConnection) -> None:
    """Fee per order from the published schedule: temp table ``lf_ofee(order_id, sched)``.

    Orders of channels without a known fee profile get no row (fee unknown, not zero);
    refund rows get 0. Per-item components use the order's lines, with the order's
    shipping and tax allocated to lines by value; an order without lines is one item.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE lf_ofee AS
        WITH known AS MATERIALIZED (
            SELECT o.order_id, o.is_refund, o.merch, o.shipping, o.tax, c.fee_profile
            FROM lf_ord o JOIN lf_chan c ON c.channel = o.channel
            WHERE c.fee_profile IN (SELECT fee_profile FROM lf_fee_schedule)
        ),
        per_order AS (
            SELECT k.order_id,
                   sum(s.percentage / 100.0 * CASE s.base
                           WHEN 'order_total' THEN k.merch + k.shipping + k.tax
                           WHEN 'merchandise_plus_shipping' THEN k.merch + k.shipping
                           ELSE k.merch END
                       + s.fixed_amount) AS fee
            FROM known k JOIN lf_fee_schedule s ON s.fee_profile = k.fee_profile
            WHERE s.per = 'order' AND NOT k.is_refund
            GROUP BY k.order_id
        ),
        item_orders AS MATERIALIZED (
            SELECT k.* FROM known k
            WHERE NOT k.is_refund AND k.fee_profile IN (
                SELECT fee_profile FROM lf_fee_schedule WHERE per = 'item')
        ),
        item_lines AS MATERIALIZED (
            SELECT l.order_id, l.q, l.value FROM lf_lines l
            SEMI JOIN item_orders io ON io.order_id = l.order_id
            WHERE l.q > 0
        ),
        line_tot AS (
            SELECT order_id, sum(value) AS tot FROM item_lines GROUP BY order_id
        ),
        alloc AS (
            SELECT io.order_id, coalesce(il.q, 1.0) AS q, coalesce(il.value, io.merch) AS value,
                   io.fee_profile,
                   CASE WHEN il.order_id IS NULL THEN 1.0
                        WHEN lt.tot > 0 THEN il.value / lt.tot ELSE 0.0 END AS w_share,
                   io.shipping, io.tax
            FROM item_orders io
            LEFT JOIN item_lines il ON il.order_id = io.order_id
            LEFT JOIN line_tot lt ON lt.order_id = io.order_id
        ),
        per_item AS (
            SELECT a.order_id,
                   sum(CASE
                       WHEN (s.price_min IS NULL OR u.unit_total > s.price_min)
                        AND (s.price_max IS NULL OR u.unit_total <= s.price_max)
                       THEN greatest(s.percentage / 100.0 * u.unit_total,
                                     coalesce(s.min_fee, 0.0)) * a.q + s.fixed_amount * a.q
                       ELSE 0 END) AS fee
            FROM alloc a
            JOIN lf_fee_schedule s ON s.fee_profile = a.fee_profile AND s.per = 'item',
            LATERAL (SELECT (a.value
                             + CASE WHEN s.base <> 'merchandise' THEN a.shipping * a.w_share
                                    ELSE 0 END
                             + CASE WHEN s.base = 'order_total' THEN a.tax * a.w_share
                                    ELSE 0 END) / a.q AS unit_total) u
            GROUP BY a.order_id
        )
        SELECT k.order_id,
               CASE WHEN k.is_refund THEN 0.0
                    ELSE coalesce(po.fee, 0.0) + coalesce(pi.fee, 0.0) END AS sched
        FROM known k
        LEFT JOIN per_order po ON po.order_id = k.order_id
        LEFT JOIN per_item pi ON pi.order_id = k.order_id
        """
    )


def channel_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Revenue, fees (actual, scheduled, used), COGS and margins per channel."""
    return con.execute(
        """
        WITH o AS (
            SELECT o.channel, o.revenue, o.fees, f.sched,
                   coalesce(o.fees, f.sched) AS fee_used
            FROM lf_ord o LEFT JOIN lf_ofee f ON f.order_id = o.order_id
        ),
        agg AS (
            SELECT channel,
                   sum(revenue) AS revenue,
                   count(*) AS orders,
                   sum(fees) AS fee_actual,
                   sum(revenue) FILTER (WHERE fees IS NOT NULL) AS revenue_actual,
                   sum(sched) AS fee_scheduled,
                   sum(fee_used) AS fee_used,
                   sum(revenue) FILTER (WHERE fee_used IS NOT NULL) AS revenue_fee_known,
                   count(*) FILTER (WHERE fees IS NOT NULL) AS orders_actual,
                   count(*) FILTER (WHERE fees IS NULL AND sched IS NOT NULL) AS orders_sched,
                   count(*) FILTER (WHERE fee_used IS NULL) AS orders_unknown
            FROM o GROUP BY channel
        ),
        cogs AS (
            SELECT channel,
                   sum(q * unit_cost) AS cogs,
                   sum(value) FILTER (WHERE unit_cost IS NOT NULL) AS value_costed,
                   sum(value) AS line_value
            FROM lf_lines GROUP BY channel
        )
        SELECT a.channel, c.platform, c.fee_profile, c.owns_customer, c.owns_stated,
               a.revenue, a.orders, a.fee_actual, a.revenue_actual, a.fee_scheduled,
               a.fee_used, a.revenue_fee_known, a.orders_actual, a.orders_sched,
               a.orders_unknown,
               g.cogs, g.value_costed, g.line_value
        FROM agg a
        JOIN lf_chan c ON c.channel = a.channel
        LEFT JOIN cogs g ON g.channel = a.channel
        ORDER BY a.revenue DESC, a.channel
        """
    ).df()


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
r AS (SELECT v, row_number() OVER (ORDER BY v DESC, key) AS rk FROM v)
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
    "channel": "SELECT channel AS key, sum(revenue) AS v FROM lf_ord GROUP BY channel",
    "platform": "SELECT c.platform AS key, sum(o.revenue) AS v FROM lf_ord o "
    "JOIN lf_chan c ON c.channel = o.channel GROUP BY c.platform",
    "product": "SELECT item AS key, sum(value) AS v FROM lf_lines WHERE item IS NOT NULL "
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
        SELECT key, v AS value, v / sum(v) OVER () AS share
        FROM {table} WHERE v > 0 QUALIFY row_number() OVER (ORDER BY v DESC, key) <= ?
        ORDER BY v DESC, key
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
            SELECT supplier_id, sum(value) AS revenue, sum(q * unit_cost) AS cogs
            FROM lf_lines WHERE supplier_id IS NOT NULL GROUP BY supplier_id
        ),
        ids AS (SELECT supplier_id FROM suppliers UNION SELECT supplier_id FROM prod),
        alt AS (
            SELECT supplier_id,
                   CASE
                       WHEN alternatives IS NULL OR trim(alternatives) = '' THEN NULL
                       WHEN lower(trim(alternatives)) IN ('none', 'no', '-', 'n/a') THEN 0
                       WHEN TRY_CAST(trim(alternatives) AS INTEGER) IS NOT NULL
                           THEN greatest(TRY_CAST(trim(alternatives) AS INTEGER), 0)
                       ELSE len(list_filter(string_split_regex(alternatives, '[;,|]'),
                                            lambda x: trim(x) <> ''))
                   END AS n_alternatives
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
                   (SELECT sum(value) FROM lf_lines WHERE value > 0) AS revenue_total
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
            SELECT p.supplier_id, p.category, avg(CAST(p.unit_cost AS DOUBLE)) AS cost
            FROM products p
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
        SELECT sum(revenue), (epoch(max(ordered_at)) - epoch(min(ordered_at))) / 86400.0,
               sum(revenue) FILTER (WHERE customer_id IS NOT NULL), count(*)
        FROM lf_ord
        """,
    )[0]
    revenue = float(row[0] or 0.0)  # type: ignore[arg-type]
    days = float(row[1] or 0.0) + 1.0  # type: ignore[arg-type]
    ident = float(row[2] or 0.0)  # type: ignore[arg-type]
    share = ident / revenue if revenue > 0 else float("nan")
    return revenue, max(days, 1.0) / 365.25, share, int(row[3] or 0)  # type: ignore[call-overload]


def as_float(value: object) -> float:
    """A float from a DuckDB/pandas scalar; NaN for NULL/NA."""
    if value is None or value is pd.NA:
        return float("nan")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return out if np.isfinite(out) else float("nan")
