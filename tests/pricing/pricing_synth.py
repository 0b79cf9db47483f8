"""Synthetic sales with known elasticities, written straight into workspace tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

START = dt.datetime(2023, 1, 2)  # a Monday


def price_path(
    rng: np.random.Generator, n_weeks: int, levels: Sequence[float], every: int = 6
) -> np.ndarray:
    """Posted-price multipliers: a new level from ``levels`` every ``every`` weeks."""
    n_blocks = -(-n_weeks // every)
    blocks = rng.choice(np.asarray(levels, dtype=float), size=n_blocks)
    return np.repeat(blocks, every)[:n_weeks]


def demand_panel(
    seed: int,
    elasticities: Sequence[float],
    *,
    n_weeks: int = 104,
    base_units: float = 200.0,
    base_price: float = 20.0,
    categories: Sequence[str] | None = None,
    promo_prob: float = 0.1,
    promo_depth: float = 0.2,
    promo_lift: float = 0.4,
    noise_sd: float = 0.1,
    week_sd: float = 0.2,
    levels: Sequence[float] = (0.8, 0.9, 1.0, 1.1, 1.2),
    poisson: bool = True,
) -> pd.DataFrame:
    """Product-week demand: log λ = a_i + g_t + e_i log P + lift·promo + noise."""
    rng = np.random.default_rng(seed)
    n = len(elasticities)
    e = np.asarray(elasticities, dtype=float)
    a = np.log(base_units) + rng.normal(0, 0.3, n)
    g = rng.normal(0, week_sd, n_weeks)
    mult = np.vstack([price_path(rng, n_weeks, levels) for _ in range(n)])
    bp = base_price * np.exp(rng.normal(0, 0.3, n))
    posted = np.round(bp[:, None] * mult, 2)
    promo = rng.random((n, n_weeks)) < promo_prob
    lam = np.exp(
        a[:, None]
        + g[None, :]
        + e[:, None] * np.log(posted / bp[:, None])
        + promo_lift * promo
        + rng.normal(0, noise_sd, (n, n_weeks))
    )
    q = rng.poisson(lam) if poisson else np.round(lam)
    cats = list(categories) if categories is not None else ["cat"] * n
    return pd.DataFrame(
        {
            "sku": np.repeat([f"SKU{i:03d}" for i in range(n)], n_weeks),
            "category": np.repeat(cats, n_weeks),
            "week_no": np.tile(np.arange(n_weeks), n),
            "posted": posted.ravel(),
            "promo": promo.ravel(),
            "quantity": q.ravel().astype(float),
            "unit_cost": np.repeat(np.round(bp * 0.5, 2), n_weeks),
        }
    )


def to_tables(
    demand: pd.DataFrame, *, promo_depth: float = 0.2, channel: str = "shopify"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One order with one line per selling product-week (promo lines discounted)."""
    d = demand.loc[demand["quantity"] > 0].reset_index(drop=True)
    ids = [f"O{i:07d}" for i in range(len(d))]
    unit = np.where(d["promo"], np.round(d["posted"] * (1 - promo_depth), 2), d["posted"])
    ordered = START + pd.to_timedelta(d["week_no"] * 7 + 2, unit="D")
    orders = pd.DataFrame(
        {
            "order_id": ids,
            "customer_id": None,
            "ordered_at": ordered,
            "channel": channel,
            "store": None,
            "currency": "USD",
            "gross": np.round(d["quantity"] * d["posted"], 4),
            "status": "paid",
            "import_id": 1,
        }
    )
    lines = pd.DataFrame(
        {
            "order_id": ids,
            "line_no": 1,
            "sku": d["sku"],
            "product": d["sku"],
            "category": d["category"],
            "quantity": d["quantity"],
            "unit_price": unit,
            "list_price": d["posted"],
            "import_id": 1,
        }
    )
    products = (
        demand.groupby("sku", sort=True)
        .agg(category=("category", "first"), unit_cost=("unit_cost", "first"))
        .reset_index()
        .assign(name=lambda f: "Product " + f["sku"], import_id=1)
    )
    return orders, lines, products


def insert(ws: Any, table: str, frame: pd.DataFrame) -> None:
    ws.con.register("_frame", frame)
    try:
        ws.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
    finally:
        ws.con.unregister("_frame")


def load(ws: Any, demand: pd.DataFrame, *, with_costs: bool = True, **kw: Any) -> None:
    orders, lines, products = to_tables(demand, **kw)
    if not with_costs:
        products = products.assign(unit_cost=None)
    insert(ws, "orders", orders)
    insert(ws, "order_lines", lines)
    insert(ws, "products", products)
