"""Fixtures: a workspace with orders drawn from a BG/NBD with known parameters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from levelfield import Workspace, open_workspace

TRUE_DAYS = {"r": 0.9, "alpha": 30.0, "a": 0.5, "b": 2.5}  # alpha in days
START = dt.datetime(2023, 1, 2)


def simulate_orders(n: int, seed: int, span_days: int = 420) -> pd.DataFrame:
    """Order rows of ``n`` customers: BG/NBD purchase times, Gamma-Gamma amounts."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE_DAYS["r"], 1 / TRUE_DAYS["alpha"], n)
    p = rng.beta(TRUE_DAYS["a"], TRUE_DAYS["b"], n)
    first = rng.integers(0, span_days * 2 // 3, n)
    K = 40
    gaps = rng.exponential(1.0, (n, K)) / lam[:, None]
    times = first[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(gaps, axis=1)], axis=1)
    J = rng.geometric(p)  # repeat purchases before drop-out
    k = np.arange(K + 1)[None, :]
    keep = (k <= J[:, None]) & (times < span_days)
    nu = rng.gamma(4.0, 1 / 60.0, n)
    amount = rng.gamma(6.0, 1.0, (n, K + 1)) / nu[:, None]
    cust, idx = np.nonzero(keep)
    ts = START + pd.to_timedelta(np.floor(times[cust, idx] * 86400), unit="s")
    df = pd.DataFrame(
        {
            "order_id": [f"o{c}_{i}" for c, i in zip(cust, idx, strict=True)],
            "customer_id": [f"c{c:05d}" for c in cust],
            "ordered_at": ts,
            "channel": np.where(cust % 3 == 0, "etsy", "shopify"),
            "gross": np.round(amount[cust, idx], 2),
        }
    )
    return df


def load_orders(ws: Workspace, df: pd.DataFrame) -> None:
    """Insert order rows straight into the canonical table (ingest is tested elsewhere)."""
    full = df.copy()
    for col, default in (
        ("currency", "USD"),
        ("discount", 0.0),
        ("refunded", 0.0),
        ("status", "paid"),
        ("refund_of", None),
    ):
        if col not in full:
            full[col] = default
    full["status"] = full["status"].fillna("paid")
    full["refund_of"] = full["refund_of"].astype(object)
    ws.con.register("_src", full)
    ws.con.execute(
        """INSERT INTO orders (order_id, customer_id, ordered_at, channel, currency, gross,
               discount, refunded, status, refund_of, import_id)
           SELECT order_id, customer_id, ordered_at, channel, currency, gross, discount,
                  refunded, status, refund_of::VARCHAR, 1 FROM _src"""
    )
    ws.con.unregister("_src")


@pytest.fixture
def sim_ws(tmp_path: Path) -> Iterator[Workspace]:
    """Workspace with 600 simulated customers plus guests, refunds, CAC and surveys."""
    w = open_workspace(tmp_path / "sim.duckdb")
    df = simulate_orders(600, seed=11)
    extra = pd.DataFrame(
        {
            "order_id": ["g1", "g2", "rf1", "only1", "only1r"],
            "customer_id": [None, None, "c00000", "cx_refund", "cx_refund"],
            "ordered_at": [
                START,
                START,
                START + dt.timedelta(days=300),
                START + dt.timedelta(days=10),
                START + dt.timedelta(days=12),
            ],
            "channel": ["shopify"] * 5,
            "gross": [20.0, 30.0, -5.0, 40.0, -40.0],
            "status": ["paid", "paid", "refund", "paid", "refund"],
            "refund_of": [None, None, None, None, "only1"],
        }
    )
    load_orders(w, pd.concat([df, extra], ignore_index=True))
    w.con.execute(
        "INSERT INTO channels (channel, platform, acquisition_cost, import_id) VALUES "
        "('shopify', 'shopify', 25, 1), ('etsy', 'etsy', 60, 1)"
    )
    scores = np.random.default_rng(3).integers(0, 11, 120)
    w.con.execute(
        "INSERT INTO surveys SELECT 'r' || i, NULL, NULL, s, 1 FROM "
        "(SELECT unnest(range(120)) AS i, unnest(?::INTEGER[]) AS s)",
        [scores.tolist()],
    )
    yield w
    w.close()
