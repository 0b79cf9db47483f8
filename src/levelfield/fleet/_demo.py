"""A seeded demo fleet: many small businesses of varied sectors, sizes, channels and regions.

Orders are drawn for the whole fleet at once (NumPy, no loop over customers or orders):
each customer starts buying at a uniform time in the year, buys again at a personal rate
(gamma-distributed across customers) until a personal drop-out time (exponential), as in
the BG/NBD story. Channel mixes differ by sector (coffee shops sell through delivery
platforms, bookshops through Amazon, crafts through Etsy and markets).
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from levelfield.errors import ConfigError

__all__ = ["SECTORS", "FleetDemo", "demo_fleet"]

#: sector -> (channels, mean order value in EUR, platform fee rate per channel)
SECTORS: dict[str, tuple[tuple[str, ...], float, tuple[float, ...]]] = {
    "coffee": (("shop", "web", "ubereats"), 9.0, (0.0175, 0.029, 0.30)),
    "bakery": (("shop", "web", "deliveroo"), 14.0, (0.0175, 0.029, 0.25)),
    "bike shop": (("shop", "web", "ebay"), 140.0, (0.0175, 0.029, 0.13)),
    "bookshop": (("shop", "web", "amazon"), 22.0, (0.0175, 0.029, 0.15)),
    "apparel": (("web", "shop", "zalando"), 55.0, (0.029, 0.0175, 0.20)),
    "crafts": (("etsy", "web", "market"), 30.0, (0.095, 0.029, 0.0)),
}
REGIONS = ("north", "south", "east", "west")
SIZE_BANDS: dict[str, int] = {"micro": 40, "small": 120, "medium": 300}  # mean customers

_START = pd.Timestamp(dt.datetime(2024, 1, 1))
_DAYS = 365.0


@dataclass(frozen=True)
class FleetDemo:
    """Where a demo fleet was written and what it holds."""

    directory: Path
    n_businesses: int
    n_orders: int
    seed: int


def _businesses(n: int, rng: np.random.Generator) -> pd.DataFrame:
    sectors = np.array(list(SECTORS))
    bands = np.array(list(SIZE_BANDS))
    return pd.DataFrame(
        {
            "business_id": [f"b{i:06d}" for i in range(n)],
            "sector": sectors[rng.integers(0, len(sectors), n)],
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), n)],
            "size_band": bands[rng.choice(len(bands), n, p=[0.5, 0.35, 0.15])],
            "consent": rng.random(n) < 0.85,
        }
    )


def _orders(biz: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Orders of the businesses in ``biz`` (vectorized across the whole chunk)."""
    mean_customers = biz["size_band"].map(SIZE_BANDS).to_numpy(dtype=float)
    n_cust = np.maximum(8, rng.poisson(mean_customers))
    b_of_c = np.repeat(np.arange(len(biz)), n_cust)
    nc = len(b_of_c)
    # purchase rate per day (gamma across customers; businesses differ in loyalty)
    loyalty = rng.gamma(2.0, 0.5, len(biz))[b_of_c]
    rate = rng.gamma(0.8, 1.0 / 40.0, nc) * loyalty
    first = rng.uniform(0.0, _DAYS, nc)
    life = rng.exponential(rng.uniform(120.0, 400.0, len(biz))[b_of_c])
    active = np.clip(np.minimum(life, _DAYS - first), 0.0, None)
    n_repeat = rng.poisson(rate * active)
    c_of_o = np.repeat(np.arange(nc), 1 + n_repeat)
    is_first = np.r_[True, c_of_o[1:] != c_of_o[:-1]]
    t = np.where(is_first, first[c_of_o], first[c_of_o] + rng.random(len(c_of_o)) * active[c_of_o])
    b_of_o = b_of_c[c_of_o]
    sector = biz["sector"].to_numpy()[b_of_o]
    # channel mix per business (Dirichlet), then one channel per order
    mix = rng.dirichlet([3.0, 1.5, 1.0], len(biz))
    cum = np.cumsum(mix, axis=1)[b_of_o]
    ch_idx = (rng.random(len(b_of_o))[:, None] > cum[:, :-1]).sum(axis=1)
    channels = np.array([SECTORS[s][0] for s in SECTORS], dtype=object)
    fees = np.array([SECTORS[s][2] for s in SECTORS])
    mean_value = np.array([SECTORS[s][1] for s in SECTORS])
    s_idx = pd.Index(list(SECTORS)).get_indexer(pd.Index(sector))
    gross = np.round(mean_value[s_idx] * rng.lognormal(-0.18, 0.6, len(b_of_o)), 2)
    gross = np.maximum(gross, 1.0)
    bid = biz["business_id"].to_numpy()[b_of_o]
    n = len(b_of_o)
    zero = np.zeros(n)
    return pd.DataFrame(
        {
            "business_id": bid,
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": pd.Series([f"c{c}" for c in c_of_o], dtype=object).to_numpy(),
            "ordered_at": (
                pd.Timestamp(_START) + pd.to_timedelta(t, unit="D").floor("min")
            ).tz_localize("UTC"),
            "channel": channels[s_idx, ch_idx],
            "currency": "EUR",
            "gross": gross,
            "discount": zero,
            "tax": zero,
            "shipping": zero,
            "fees": np.round(gross * fees[s_idx, ch_idx], 2),
            "refunded": zero,
            "status": "paid",
        }
    )


def demo_fleet(n: int, directory: str | Path, *, seed: int = 0, chunk: int = 500) -> FleetDemo:
    """Write a demo fleet of ``n`` businesses to ``directory`` (replacing an earlier one).

    Layout: ``orders/part-*.parquet`` (canonical ``orders`` columns plus ``business_id``)
    and ``businesses.parquet`` (business_id, sector, region, size_band, consent). The same
    ``n`` and ``seed`` give the same files. The fleet is written next to ``directory`` and
    moved into place, so a failed run leaves no half-written fleet.
    """
    if not (isinstance(n, int) and 1 <= n <= 10_000_000):
        raise ConfigError(f"the fleet size must be a whole number 1-10,000,000, not {n!r}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".fleet-{uuid.uuid4().hex}"
    (tmp / "orders").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    biz = _businesses(n, rng)
    total = 0
    try:
        for part, start in enumerate(range(0, n, chunk)):  # chunks of businesses, not rows
            orders = _orders(biz.iloc[start : start + chunk], rng)
            orders["order_id"] = orders["business_id"] + "-" + orders["order_id"]
            orders["customer_id"] = orders["business_id"] + "-" + orders["customer_id"]
            total += len(orders)
            table = pa.Table.from_pandas(orders, preserve_index=False)
            # microseconds, UTC: the timestamp type Spark and DuckDB both read
            pq.write_table(
                table, tmp / "orders" / f"part-{part:05d}.parquet", coerce_timestamps="us"
            )
        pq.write_table(pa.Table.from_pandas(biz, preserve_index=False), tmp / "businesses.parquet")
        for name in ("orders", "businesses.parquet"):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            (tmp / name).rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return FleetDemo(out, n, total, seed)
