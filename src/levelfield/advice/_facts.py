"""Business facts advice needs to size actions, computed in DuckDB from the workspace."""

from __future__ import annotations

from dataclasses import dataclass, field

from levelfield.workspace import Workspace

__all__ = ["BusinessFacts", "business_facts"]


@dataclass(frozen=True)
class BusinessFacts:
    """Money figures over the last 12 months of data (business currency).

    ``gross_margin`` is (net revenue - cost of goods) / net revenue over the lines whose
    product has a unit cost; ``None`` when no unit costs were imported. ``top_product``
    (the product with the most line revenue) and ``sector`` (business profile) let the
    playbook give examples from this business instead of one trade.
    """

    currency: str
    net_revenue_12m: float
    orders_12m: int
    revenue_by_channel: dict[str, float] = field(default_factory=dict)
    fee_rate_by_channel: dict[str, float] = field(default_factory=dict)
    gross_margin: float | None = None
    cogs_12m: float = 0.0
    fixed_costs_12m: float = 0.0
    yearly: dict[int, dict[str, float]] = field(default_factory=dict)
    top_product: str = "your best-selling product"
    sector: str | None = None

    @property
    def peers(self) -> str:
        """Who this business could team up with, in words (``"bakery businesses"``)."""
        return f"{self.sector} businesses" if self.sector else "businesses like yours"

    @property
    def own_channel(self) -> str | None:
        """The business's own online store channel, when it has one."""
        for name in ("shopify", "woocommerce", "own_store", "square", "stripe"):
            if name in self.revenue_by_channel:
                return name
        return None


def _scalar(ws: Workspace, sql: str) -> float:
    rows = ws.con.execute(sql).fetchall()
    return float(rows[0][0]) if rows and rows[0][0] is not None else 0.0


def business_facts(ws: Workspace) -> BusinessFacts:
    """Compute :class:`BusinessFacts` for the last 12 months of the order history."""
    con = ws.con
    end_rows = con.execute("SELECT max(ordered_at) FROM order_revenue").fetchall()
    end = end_rows[0][0] if end_rows else None
    if end is None:
        return BusinessFacts(currency=ws.currency(), net_revenue_12m=0.0, orders_12m=0)
    window = "ordered_at > (SELECT max(ordered_at) FROM order_revenue) - INTERVAL 12 MONTH"
    by_channel = con.execute(
        f"""SELECT channel, sum(net_revenue_base)::DOUBLE,
                   sum(CAST(fees * fx_rate AS DECIMAL(18,4)))::DOUBLE
                   / nullif(sum(net_revenue_base) FILTER (WHERE fees IS NOT NULL), 0)
            FROM order_revenue WHERE {window} GROUP BY channel ORDER BY 2 DESC"""
    ).fetchall()
    revenue = {str(c): float(r or 0.0) for c, r, _ in by_channel}
    fee_rate = {str(c): float(f) for c, _, f in by_channel if f is not None}
    n_orders = int(
        _scalar(ws, f"SELECT count(*) FROM order_revenue WHERE {window} AND NOT is_refund")
    )
    margin_rows = con.execute(
        f"""SELECT sum(CAST(line_value_base AS DECIMAL(18,4)))::DOUBLE, sum(cost_base)
            FROM order_line_costs WHERE cost_base IS NOT NULL AND {window}"""
    ).fetchall()
    sales, cogs = margin_rows[0] if margin_rows else (None, None)
    gross_margin = (sales - cogs) / sales if sales and cogs is not None and sales > 0 else None
    total_rev = sum(revenue.values())
    cogs_12m = total_rev * (1.0 - gross_margin) if gross_margin is not None else 0.0
    fixed = _scalar(
        ws,
        "SELECT sum(amount)::DOUBLE FROM costs WHERE fixed AND month > "
        "(SELECT max(month) FROM costs) - INTERVAL 12 MONTH",
    )
    yearly_rows = con.execute(
        """SELECT year(ordered_at) AS y, sum(net_revenue_base)::DOUBLE,
                  count(*) FILTER (WHERE NOT is_refund),
                  count(DISTINCT customer_id)
           FROM order_revenue GROUP BY y ORDER BY y"""
    ).fetchall()
    yearly = {
        int(y): {"net_revenue": float(r or 0.0), "orders": float(n), "customers": float(c)}
        for y, r, n, c in yearly_rows
    }
    top = con.execute(
        f"""SELECT coalesce(nullif(trim(l.product), ''), l.sku)
            FROM order_lines l JOIN order_revenue o USING (order_id)
            WHERE NOT o.is_refund AND {window.replace("ordered_at", "o.ordered_at", 1)}
              AND coalesce(nullif(trim(l.product), ''), l.sku) IS NOT NULL
            GROUP BY 1 ORDER BY sum(l.quantity * l.unit_price * o.fx_rate) DESC NULLS LAST, 1
            LIMIT 1"""
    ).fetchall()
    sector = ws.get_business("sector")
    return BusinessFacts(
        currency=ws.currency(),
        top_product=str(top[0][0]) if top else "your best-selling product",
        sector=str(sector).strip() or None if sector else None,
        net_revenue_12m=total_rev,
        orders_12m=n_orders,
        revenue_by_channel=revenue,
        fee_rate_by_channel=fee_rate,
        gross_margin=gross_margin,
        cogs_12m=cogs_12m,
        fixed_costs_12m=fixed,
        yearly=yearly,
    )
