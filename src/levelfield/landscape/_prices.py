"""Price positioning against rivals, its trend over time, and rivals' price moves.

Reads the dated rival prices (``levelfield import competitor_prices``, matched to the
owner's products by :func:`levelfield.workspace.rival_prices`) and the owner's own
posted prices per month (median list price of the month's order lines in the base
currency, else the selling price; carried forward through months without a sale, and
``products.list_price`` before the first sale).

For each product and month, a rival's price is its latest observation up to the month's
end (at most :data:`STALE_DAYS` old). The product's **price index** is the owner's price
over the rivals' median; its **percentile** is the share of rivals priced below the
owner (ties count half), 0-100. The business's figures are the medians over products.

A **price move** is a change between two consecutive observations of one rival's price
for one item of at least ``move_threshold`` (share, default 0.10) in either direction;
moves whose later observation lies within ``move_window_days`` (default 183) of the
newest observation become findings ``landscape.rival_price_move`` with the number
behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from levelfield.errors import ConfigError
from levelfield.findings import Finding, money
from levelfield.workspace import WHOLESALE_CHANNELS, rival_prices

__all__ = ["STALE_DAYS", "PricePositioning", "price_positioning"]

_SPREAD = ("rival_low", "rival_median", "rival_high", "price_index", "percentile")

#: Oldest observation (days before a month's end) that still prices that month.
STALE_DAYS = 92


@dataclass(frozen=True)
class PricePositioning:
    """Where the owner's prices sit among the rivals', now and over time.

    Attributes
    ----------
    products
        Latest month, one row per product a rival prices: ``sku, own_price, rivals,
        rival_low, rival_median, rival_high, price_index, percentile``.
    trend
        One row per month: ``month, products, price_index, percentile`` (medians over
        products).
    rivals_trend
        One row per month and rival: ``month, competitor, relative_price`` (median over
        the products it prices of its price over the owner's; 1 = the same price).
    moves
        Every price move at or above the threshold: ``competitor, item, from_date,
        to_date, from_price, to_price, change`` (share), ``recent`` (within the window).
    """

    currency: str
    as_of: pd.Timestamp
    products: pd.DataFrame
    trend: pd.DataFrame
    rivals_trend: pd.DataFrame
    moves: pd.DataFrame
    move_threshold: float
    move_window_days: int
    notes: tuple[str, ...] = field(default=())

    @property
    def price_index(self) -> float:
        return float(self.products["price_index"].median()) if len(self.products) else np.nan

    @property
    def percentile(self) -> float:
        return float(self.products["percentile"].median()) if len(self.products) else np.nan

    def summary(self) -> dict[str, Any]:
        recent = self.moves.loc[self.moves["recent"]]
        return {
            "price_index": _num(self.price_index),
            "price_percentile": _num(self.percentile),
            "priced_products": len(self.products),
            "rival_price_moves": len(recent),
            "rival_prices_as_of": self.as_of.strftime("%Y-%m-%d"),
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "landscape_price_position": self.products.copy(),
            "landscape_price_trend": self.trend.copy(),
            "landscape_rival_price_trend": self.rivals_trend.copy(),
            "landscape_rival_price_moves": self.moves.copy(),
        }

    def headline(self) -> list[str]:
        if not len(self.products):
            return ["Rival prices: none matches a product you sold recently."]
        lines = [
            f"Price position: your prices are {self.price_index:.2f} x the rivals' median "
            f"(percentile {self.percentile:.0f}: that share of rivals is cheaper), over "
            f"{len(self.products)} products, rival prices as of {self.as_of:%Y-%m-%d}."
        ]
        lines += [f.text for f in self._move_findings()[:3]]
        return lines

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        if len(self.products):
            idx, pct = self.price_index, self.percentile
            out.append(
                Finding(
                    "landscape.price_position",
                    idx,
                    "ratio",
                    f"Your prices are {idx:.2f} x the rivals' median price for the same "
                    f"products (median over {len(self.products)} products; percentile "
                    f"{pct:.0f}, the share of rivals cheaper than you), as of "
                    f"{self.as_of:%Y-%m-%d}.",
                    "watch" if idx > 1.15 or idx < 0.85 else "info",
                    {
                        "percentile": _num(pct),
                        "products": len(self.products),
                        "as_of": self.as_of.strftime("%Y-%m-%d"),
                    },
                )
            )
        return out + self._move_findings()

    def _move_findings(self) -> list[Finding]:
        recent = self.moves.loc[self.moves["recent"]].sort_values(
            ["to_date", "change"], ascending=[False, False]
        )
        out = []
        for m in recent.to_dict("records"):  # a handful of recent moves
            change = float(m["change"])
            verb = "raised" if change > 0 else "cut"
            start, end = pd.Timestamp(m["from_date"]), pd.Timestamp(m["to_date"])
            p0, p1 = float(m["from_price"]), float(m["to_price"])
            out.append(
                Finding(
                    "landscape.rival_price_move",
                    change,
                    "share",
                    f"{m['competitor']} {verb} its price for {m['item']} by {abs(change):.0%} "
                    f"({_price(p0, self.currency)} to {_price(p1, self.currency)}) between "
                    f"{start:%Y-%m-%d} and {end:%Y-%m-%d}.",
                    "warning" if change < 0 else "watch",
                    {
                        "competitor": str(m["competitor"]),
                        "item": str(m["item"]),
                        "from_date": f"{start:%Y-%m-%d}",
                        "to_date": f"{end:%Y-%m-%d}",
                        "from_price": p0,
                        "to_price": p1,
                        "currency": self.currency,
                        "threshold": self.move_threshold,
                    },
                )
            )
        return out


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _price(x: float, currency: str) -> str:
    return f"{currency} {x:,.2f}" if abs(x) < 100 else money(x, currency)


def _own_monthly(con: Any, currency: str) -> pd.DataFrame:
    """The owner's posted price per product and month (base-currency orders)."""
    sold = con.execute(
        "WITH m AS (SELECT l.sku, o.channel, "
        "CAST(date_trunc('month', o.ordered_at) AS DATE) AS month, "
        "median(CAST(coalesce(l.list_price, l.unit_price) AS DOUBLE)) AS own_price, "
        "count(*) AS n FROM order_lines l JOIN order_revenue o USING (order_id) "
        "WHERE o.currency = ? AND NOT o.is_refund AND l.sku IS NOT NULL AND l.quantity > 0 "
        "AND coalesce(l.list_price, l.unit_price) > 0 AND lower(o.channel) NOT IN "
        f"({', '.join(repr(c) for c in WHOLESALE_CHANNELS)}) GROUP BY ALL), "
        # the retail channel that sells the product most often
        "main AS (SELECT sku, arg_max(channel, lines) AS channel FROM "
        "(SELECT sku, channel, sum(n) AS lines FROM m GROUP BY ALL) GROUP BY sku) "
        "SELECT m.sku, m.month, m.own_price FROM m JOIN main USING (sku, channel)",
        [currency],
    ).df()
    listed = con.execute(
        "SELECT sku, CAST(list_price AS DOUBLE) AS own_price FROM products "
        "WHERE list_price > 0 AND (currency IS NULL OR upper(currency) = ?)",
        [currency],
    ).df()
    listed["month"] = pd.Timestamp("1900-01-01")
    out = pd.concat([listed, sold], ignore_index=True)
    out["month"] = pd.to_datetime(out["month"])
    ordered: pd.DataFrame = out.sort_values("month")
    return ordered


def _monthly_grid(snap: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """Rival and own price per month, rival and product (rivals' latest observation)."""
    months = pd.date_range(
        snap["date"].min().to_period("M").start_time, snap["date"].max(), freq="MS"
    )
    # one text dtype for the join keys (DuckDB gives object, pandas may infer str)
    snap = snap.astype({"competitor": str, "sku": str})
    own = own.astype({"sku": str})
    pairs = snap[["competitor", "sku"]].drop_duplicates()
    grid = pairs.merge(pd.DataFrame({"month": months}), how="cross")
    grid["month_end"] = grid["month"] + pd.offsets.MonthEnd(0)
    grid = pd.merge_asof(
        grid.sort_values("month_end"),
        snap[["competitor", "sku", "date", "price"]].sort_values("date"),
        left_on="month_end",
        right_on="date",
        by=["competitor", "sku"],
        tolerance=pd.Timedelta(days=STALE_DAYS),
    )
    grid = pd.merge_asof(
        grid.sort_values("month_end"),
        own.rename(columns={"month": "own_month"}).sort_values("own_month"),
        left_on="month_end",
        right_on="own_month",
        by="sku",
    )
    return grid.dropna(subset=["price", "own_price"])


def _per_product(grid: pd.DataFrame) -> pd.DataFrame:
    """Per month and product: rivals' spread, the owner's index and percentile."""
    g = grid.assign(
        below=(grid["price"] < grid["own_price"]).astype(float)
        + 0.5 * (grid["price"] == grid["own_price"]).astype(float)
    )
    out = g.groupby(["month", "sku"], as_index=False).agg(
        own_price=("own_price", "first"),
        rivals=("competitor", "nunique"),
        rival_low=("price", "min"),
        rival_median=("price", "median"),
        rival_high=("price", "max"),
        below=("below", "sum"),
    )
    out["price_index"] = out["own_price"] / out["rival_median"]
    out["percentile"] = 100.0 * out.pop("below") / out["rivals"]
    return out


def _moves(raw: pd.DataFrame, threshold: float, window: int) -> pd.DataFrame:
    r = raw.sort_values(["competitor", "item", "date"])
    prev = r.groupby(["competitor", "item"])[["date", "price"]].shift(1)
    r = r.assign(from_date=prev["date"], from_price=prev["price"]).dropna(subset=["from_price"])
    r = r.assign(change=r["price"] / r["from_price"] - 1.0)
    moves = r.loc[r["change"].abs() >= threshold - 1e-12].rename(
        columns={"date": "to_date", "price": "to_price"}
    )
    newest = raw["date"].max()
    moves = moves.assign(recent=moves["to_date"] >= newest - pd.Timedelta(days=window))
    cols = ["competitor", "item", "from_date", "to_date", "from_price", "to_price", "change"]
    return moves[[*cols, "recent"]].reset_index(drop=True)


def price_positioning(
    con: Any,
    currency: str,
    *,
    move_threshold: float = 0.10,
    move_window_days: int = 183,
) -> PricePositioning | None:
    """Price position, its monthly trend and the rivals' price moves (None without data).

    Raises
    ------
    ConfigError
        ``move_threshold`` is not a share in (0, 1] or ``move_window_days`` not >= 1.
    """
    if (
        isinstance(move_threshold, bool)
        or not isinstance(move_threshold, int | float)
        or not 0 < move_threshold <= 1
    ):
        raise ConfigError(
            f"price_move_threshold must be a share above 0 and at most 1 (0.10 = 10 %), "
            f"not {move_threshold!r}"
        )
    if isinstance(move_window_days, bool) or not isinstance(move_window_days, int):
        raise ConfigError(f"price_move_window_days must be whole days, not {move_window_days!r}")
    if move_window_days < 1:
        raise ConfigError(f"price_move_window_days must be >= 1, not {move_window_days}")
    rp = rival_prices(con, currency)
    raw = con.execute(
        'SELECT competitor, item, "date", CAST(price AS DOUBLE) AS price FROM competitor_prices '
        "WHERE currency IS NULL OR upper(currency) = ?",
        [currency],
    ).df()
    if raw.empty:
        return None
    raw["date"] = pd.to_datetime(raw["date"])
    notes = []
    if rp.unmatched:
        notes.append(
            f"{len(rp.unmatched)} item(s) of the competitor prices name none of your SKUs, "
            "products or categories; their moves are shown, their positions are not"
        )
    if rp.other_currency:
        notes.append(f"{rp.other_currency:,} competitor price(s) not in {currency} left out")
    per = pd.DataFrame(columns=["month", "sku", "own_price", "rivals", *_SPREAD])
    rivals_trend = pd.DataFrame(columns=["month", "competitor", "relative_price"])
    if not rp.empty:
        grid = _monthly_grid(rp.snapshots, _own_monthly(con, currency))
        if len(grid):
            per = _per_product(grid)
            rel = grid.assign(relative_price=grid["price"] / grid["own_price"])
            rivals_trend = rel.groupby(["month", "competitor"], as_index=False).agg(
                relative_price=("relative_price", "median")
            )
    trend = per.groupby("month", as_index=False).agg(
        products=("sku", "nunique"),
        price_index=("price_index", "median"),
        percentile=("percentile", "median"),
    )
    latest = per.loc[per["month"] == per["month"].max()].drop(columns="month")
    return PricePositioning(
        currency=currency,
        as_of=pd.Timestamp(raw["date"].max()),
        products=latest.reset_index(drop=True),
        trend=trend,
        rivals_trend=rivals_trend,
        moves=_moves(raw, float(move_threshold), move_window_days),
        move_threshold=float(move_threshold),
        move_window_days=move_window_days,
        notes=tuple(notes),
    )
