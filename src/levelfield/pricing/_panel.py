"""The weekly product panel, built in DuckDB from ``order_lines`` and ``orders``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.workspace import WHOLESALE_CHANNELS

__all__ = ["WHOLESALE_CHANNELS", "PanelData", "channel_prices", "weekly_panel"]


# Orders that are not sales: excluded from the demand panel. Prices are compared within
# one currency and channel: an order in another currency than the base one sells in its
# own market, named ``<channel> (<currency>)`` (no elasticity across currencies).
_NOT_SALES = "('failed', 'voided', 'cancelled', 'pending', 'refund', 'return')"

_LINES = f"""
    SELECT coalesce(ol.sku, ol.product) AS sku,
           coalesce(p.name, ol.product, ol.sku) AS name,
           coalesce(ol.category, p.category, 'uncategorised') AS category,
           CAST(date_trunc('week', o.ordered_at) AS DATE) AS week,
           CASE WHEN o.currency = (SELECT currency FROM base_currency) THEN o.channel
                ELSE o.channel || ' (' || o.currency || ')' END AS channel,
           o.currency = (SELECT currency FROM base_currency) AS in_base,
           o.currency AS currency,
           CAST(ol.quantity AS DOUBLE) AS q,
           CAST(ol.unit_price AS DOUBLE) AS up,
           CAST(coalesce(ol.list_price, p.list_price) AS DOUBLE) AS lp,
           CAST(ol.discount AS DOUBLE) AS line_discount,
           CAST(o.discount AS DOUBLE) AS order_discount
    FROM order_lines ol
    JOIN orders o ON o.order_id = ol.order_id
    LEFT JOIN products p ON p.sku = ol.sku
    WHERE o.status NOT IN {_NOT_SALES}
      AND coalesce(ol.sku, ol.product) IS NOT NULL
"""


@dataclass(frozen=True)
class PanelData:
    """The weekly product panel and what was left out building it.

    Attributes
    ----------
    panel
        One row per product and week from the product's first to its last selling week:
        ``sku, name, category, week, quantity, revenue, posted_price, realized_price,
        promo, promo_share, n_lines, price_source`` (zero-sales weeks have quantity 0
        and the posted price carried forward).
    lines_used
        Order lines that entered the panel.
    excluded
        Count of lines left out, by reason (``non_positive_price``,
        ``non_positive_quantity``).
    list_price_known
        Share of used lines (0–1) with a posted (list) price; the rest fall back to the
        week's most common selling price.
    """

    panel: pd.DataFrame
    lines_used: int
    excluded: dict[str, int]
    list_price_known: float
    excluded_channels: tuple[str, ...] = ()


def _channel_filter(con: Any, exclude_channels: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """SQL condition leaving out ``exclude_channels`` (case-insensitive) and the channels
    it leaves out; ``("", ())`` when none is given or nothing else would be left."""
    if isinstance(exclude_channels, str) or not all(isinstance(c, str) for c in exclude_channels):
        raise ConfigError("exclude_channels must be a list of channel names, e.g. ['wholesale']")
    excluded = [c.lower() for c in exclude_channels]
    if excluded:
        left = con.execute(
            "SELECT count(*) FROM orders WHERE lower(channel) NOT IN (SELECT unnest(?))",
            [excluded],
        ).fetchall()[0][0]
        if not left:
            return "", ()
    if not excluded:
        return "", ()
    quoted = ", ".join("'" + c.replace("'", "''") + "'" for c in excluded)
    return f"\n      AND lower(o.channel) NOT IN ({quoted})", tuple(excluded)


def weekly_panel(
    con: Any,
    *,
    promo_threshold: float = 0.5,
    discount_tolerance: float = 0.02,
    by_channel: bool = True,
    exclude_channels: Sequence[str] = WHOLESALE_CHANNELS,
) -> PanelData:
    """Aggregate order lines into a weekly product panel (DuckDB SQL).

    A line is *discounted* when it sold more than ``discount_tolerance`` (share)
    below its posted price, carried a line discount, or belonged to an order with a
    discount code. A week is a *promotion* week when at least ``promo_threshold`` of
    the product's lines that week were discounted while the posted price stood: the
    share of lines, not of units, so that volume-tier discounts on a few large orders
    do not turn a week into a promotion.

    Parameters
    ----------
    con
        DuckDB connection of the workspace.
    promo_threshold
        Share of discounted lines (0–1) that makes a promotion week.
    discount_tolerance
        Realized price this far below the posted price (share) counts as a discount.
    by_channel
        One row per product, channel and week (each channel keeps its own posted
        price); else channels are summed.
    exclude_channels
        Channels left out of demand estimation: negotiated wholesale prices and
        quantities do not follow posted prices. Ignored when nothing else is left.

    Raises
    ------
    InsufficientDataError
        No usable order lines.

    Notes
    -----
    Stages: the channel filter (:func:`_channel_filter`), the option checks, the line
    counts (:func:`_line_counts`), then the panel as one DuckDB statement
    (:func:`_panel_sql`: lines, posted price per week, weekly sums, the full week grid
    with prices carried forward), so no rows move through Python.
    """
    chan_filter, excluded_channels = _channel_filter(con, exclude_channels)
    lines_sql = _LINES + chan_filter
    chan = (
        "channel"
        if by_channel
        else "CASE WHEN in_base THEN 'all' ELSE 'all (' || currency || ')' END"
    )
    _check_shares(promo_threshold=promo_threshold, discount_tolerance=discount_tolerance)
    used, bad_price, bad_qty, with_list = _line_counts(con, lines_sql)
    panel = con.execute(
        _panel_sql(lines_sql, chan), [float(discount_tolerance), float(promo_threshold)]
    ).df()
    panel["week"] = pd.to_datetime(panel["week"])
    panel["n_lines"] = panel["n_lines"].astype("int64")
    if not by_channel:
        panel = panel.drop(columns="channel")
    return PanelData(
        panel=panel,
        lines_used=used,
        excluded={"non_positive_price": bad_price, "non_positive_quantity": bad_qty},
        list_price_known=with_list / used if used else 0.0,
        excluded_channels=excluded_channels,
    )


def _check_shares(**shares: float) -> None:
    """Raise :class:`ConfigError` unless every keyword is a number from 0 to 1."""
    for name, v in shares.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= float(v) <= 1.0:
            raise ConfigError(f"{name} must be a share between 0 and 1, not {v!r}")


def _line_counts(con: Any, lines_sql: str) -> tuple[int, int, int, int]:
    """Order lines used, left out for a price <= 0, left out for a quantity <= 0, and
    used with a list price.

    Raises
    ------
    InsufficientDataError
        No line is usable.
    """
    counts = con.execute(
        f"""
        WITH l AS ({lines_sql})
        SELECT count(*) FILTER (WHERE q > 0 AND up > 0 AND (lp IS NULL OR lp > 0)),
               count(*) FILTER (WHERE q > 0 AND (up <= 0 OR lp <= 0)),
               count(*) FILTER (WHERE q <= 0),
               count(*) FILTER (WHERE q > 0 AND up > 0 AND lp > 0)
        FROM l
        """
    ).fetchall()[0]
    used, bad_price, bad_qty, with_list = (int(c or 0) for c in counts)
    if used == 0:
        raise InsufficientDataError(
            "no usable order lines for pricing (need order_lines with a SKU or product, "
            "quantity > 0 and a price > 0 on paid orders); import orders with line items, "
            "e.g. 'levelfield import orders orders.csv'"
        )
    return used, bad_price, bad_qty, with_list


def _panel_sql(lines_sql: str, chan: str) -> str:
    """The panel statement over the lines ``lines_sql``, grouped by the channel
    expression ``chan``; its parameters are the discount tolerance and the promotion
    threshold (shares)."""
    return f"""
        WITH l AS ({lines_sql}),
        good AS (
            SELECT * REPLACE ({chan} AS channel),
                   coalesce(lp, mode(up) OVER (PARTITION BY sku, {chan}, week)) AS posted,
                   lp IS NOT NULL AS has_list
            FROM l WHERE q > 0 AND up > 0 AND (lp IS NULL OR lp > 0)
        ),
        wk AS (
            SELECT sku, channel, any_value(name) AS name, mode(category) AS category, week,
                   sum(q) AS quantity, sum(q * up) AS revenue,
                   median(posted) AS posted_price,
                   avg(CASE WHEN up < posted * (1 - ?) OR line_discount > 0
                            OR order_discount > 0 THEN 1.0 ELSE 0.0 END) AS promo_share,
                   count(*) AS n_lines,
                   CASE WHEN bool_and(has_list) THEN 'list' ELSE 'modal_selling_price' END
                       AS price_source
            FROM good GROUP BY sku, channel, week
        ),
        span AS (
            SELECT sku, channel, min(week) AS first_week, max(week) AS last_week,
                   any_value(name) AS name, mode(category) AS category
            FROM wk GROUP BY sku, channel
        ),
        grid AS (
            SELECT s.sku, s.channel, s.name, s.category, CAST(g.week AS DATE) AS week
            FROM span s,
                 LATERAL (SELECT unnest(generate_series(CAST(s.first_week AS TIMESTAMP),
                                                        CAST(s.last_week AS TIMESTAMP),
                                                        INTERVAL 7 DAY)) AS week) g
        )
        SELECT g.sku, g.channel, g.name, g.category, g.week,
               coalesce(w.quantity, 0.0) AS quantity,
               coalesce(w.revenue, 0.0) AS revenue,
               last_value(w.posted_price IGNORE NULLS) OVER (
                   PARTITION BY g.sku, g.channel ORDER BY g.week
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS posted_price,
               CASE WHEN w.quantity > 0 THEN w.revenue / w.quantity END AS realized_price,
               coalesce(w.promo_share, 0.0) AS promo_share,
               coalesce(w.promo_share, 0.0) >= ? AS promo,
               coalesce(w.n_lines, 0) AS n_lines,
               coalesce(w.price_source, 'carried_forward') AS price_source
        FROM grid g LEFT JOIN wk w
             ON w.sku = g.sku AND w.channel = g.channel AND w.week = g.week
        ORDER BY g.sku, g.channel, g.week
        """


def channel_prices(con: Any, *, weeks: int = 13) -> pd.DataFrame:
    """Median posted price of each product per channel over the last ``weeks`` weeks.

    Only orders in the base currency: prices in two currencies are not compared.
    """
    frame: pd.DataFrame = con.execute(
        f"""
        WITH l AS ({_LINES}),
        good AS (SELECT *, coalesce(lp, up) AS posted FROM l
                 WHERE q > 0 AND up > 0 AND (lp IS NULL OR lp > 0) AND in_base),
        last AS (SELECT max(week) AS w FROM good)
        SELECT sku, channel, median(posted) AS posted_price, sum(q) AS quantity
        FROM good, last
        WHERE week > last.w - CAST(? AS INTEGER) * 7
        GROUP BY sku, channel ORDER BY sku, channel
        """,
        [int(weeks)],
    ).df()
    return frame
