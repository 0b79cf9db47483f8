"""A seeded demo fleet: many small businesses of varied sectors, sizes, channels and regions.

Written as the Parquet dataset an association's data lake holds (canonical tables with a
``business_id`` column plus the ``businesses`` table) and, with ``workspaces=True``, also
as one workspace per business. Every business goes through the real ingest path: the
generated exports (generic CSV templates) are imported with
:func:`levelfield.ingest.import_file` (validation, currency checks, pseudonymization,
atomic loads) into a scratch workspace, a chunk of businesses per import (their ids are
prefixed with the business id), and the Parquet dataset holds that workspace's canonical
``orders`` and ``suppliers`` rows, so customer ids in it are pseudonyms. The pseudonym
key of a demo is derived from its seed (the same seed, the same files); a real member's
key is random and stays with the member.

Orders are drawn for the whole fleet at once (NumPy, no loop over customers or orders):
each customer starts buying at a uniform time in the year, buys again at a personal rate
(gamma-distributed across customers) until a personal drop-out time (exponential), as in
the BG/NBD story. Channel mixes differ by sector (coffee shops sell through delivery
platforms, bookshops through Amazon, crafts through Etsy and markets).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from levelfield.errors import ConfigError, DataError

__all__ = ["CHANNELS", "SECTORS", "FleetDemo", "demo_fleet", "write_workspaces"]

#: sector -> (channels, mean order value in EUR, platform fee rate per channel)
SECTORS: dict[str, tuple[tuple[str, ...], float, tuple[float, ...]]] = {
    "coffee": (("shop", "web", "ubereats"), 9.0, (0.0175, 0.029, 0.30)),
    "bakery": (("shop", "web", "deliveroo"), 14.0, (0.0175, 0.029, 0.25)),
    "bike shop": (("shop", "web", "ebay"), 140.0, (0.0175, 0.029, 0.13)),
    "bookshop": (("shop", "web", "amazon"), 22.0, (0.0175, 0.029, 0.15)),
    "apparel": (("web", "shop", "zalando"), 55.0, (0.029, 0.0175, 0.20)),
    "crafts": (("etsy", "web", "market"), 30.0, (0.095, 0.029, 0.0)),
}
#: The fleet-wide channels table: channel -> (platform, owns_customer). Marketplaces hold
#: the customer relationship; the shop, web store and market stall are the business's own.
CHANNELS: dict[str, tuple[str, bool]] = {
    "shop": ("own shop (card terminal)", True),
    "web": ("own web store", True),
    "market": ("market stall", True),
    "ubereats": ("Uber Eats", False),
    "deliveroo": ("Deliveroo", False),
    "ebay": ("eBay", False),
    "amazon": ("Amazon", False),
    "zalando": ("Zalando", False),
    "etsy": ("Etsy", False),
}
REGIONS = ("north", "south", "east", "west")
SIZE_BANDS: dict[str, int] = {"micro": 40, "small": 120, "medium": 300}  # mean customers
#: employees per size band (low, high), drawn uniformly
_EMPLOYEES: dict[str, tuple[int, int]] = {"micro": (1, 2), "small": (2, 5), "medium": (4, 9)}
_SUPPLIER_COUNTRIES = np.array(["DE", "FR", "IT", "NL", "PL", "CN", "VN", "ET", "CO"])

_START = pd.Timestamp(dt.datetime(2024, 1, 1))
_DAYS = 365.0


@dataclass(frozen=True)
class FleetDemo:
    """Where a demo fleet was written and what it holds."""

    directory: Path
    n_businesses: int
    n_orders: int
    seed: int
    workspaces: Path | None = None


def _businesses(n: int, rng: np.random.Generator) -> pd.DataFrame:
    sectors = np.array(list(SECTORS))
    bands = np.array(list(SIZE_BANDS))
    size = bands[rng.choice(len(bands), n, p=[0.5, 0.35, 0.15])]
    lo = pd.Series(size).map({b: e[0] for b, e in _EMPLOYEES.items()}).to_numpy()
    hi = pd.Series(size).map({b: e[1] for b, e in _EMPLOYEES.items()}).to_numpy()
    return pd.DataFrame(
        {
            "business_id": [f"b{i:06d}" for i in range(n)],
            "sector": sectors[rng.integers(0, len(sectors), n)],
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), n)],
            "size_band": size,
            "consent": rng.random(n) < 0.85,
            "employees": rng.integers(lo, hi + 1).astype("int64"),
        }
    )


def _suppliers(biz: pd.DataFrame, revenue: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """2-8 suppliers per business sharing 35 % of its revenue as yearly spend (Dirichlet)."""
    n_sup = rng.integers(2, 9, len(biz))
    b_of_s = np.repeat(np.arange(len(biz)), n_sup)
    weight = rng.gamma(rng.uniform(0.3, 3.0, len(biz))[b_of_s], 1.0)
    total = pd.Series(weight).groupby(b_of_s).transform("sum").to_numpy()
    bid = biz["business_id"].to_numpy()[b_of_s]
    spend = 0.35 * revenue.reindex(bid).fillna(0.0).to_numpy() * weight / total
    idx = np.arange(len(b_of_s)) - np.repeat(np.cumsum(n_sup) - n_sup, n_sup)
    sid = pd.Series(bid).str.cat(pd.Series(idx).astype(str), sep="-s")
    return pd.DataFrame(
        {
            "business_id": bid,
            "supplier_id": sid.to_numpy(),
            "name": ("Supplier " + sid).to_numpy(),
            "country": _SUPPLIER_COUNTRIES[rng.integers(0, len(_SUPPLIER_COUNTRIES), len(bid))],
            "annual_spend": np.round(spend, 2),
            "currency": "EUR",
            "lead_time_days": rng.integers(2, 60, len(bid)).astype(float),
            "alternatives": rng.integers(0, 4, len(bid)).astype(str),
        }
    )


def channels_table() -> pd.DataFrame:
    """The fleet-wide ``channels`` table (channel, platform, fee_profile, owns_customer)."""
    return pd.DataFrame(
        [(c, p, None, own) for c, (p, own) in CHANNELS.items()],
        columns=["channel", "platform", "fee_profile", "owns_customer"],
    ).astype({"fee_profile": "string"})


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


def _write(frame: pd.DataFrame, path: Path) -> None:
    # microseconds, UTC: the timestamp type Spark and DuckDB both read
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, coerce_timestamps="us")


def demo_fleet(
    n: int,
    directory: str | Path,
    *,
    seed: int = 0,
    chunk: int = 500,
    workspaces: bool = False,
) -> FleetDemo:
    """Write a demo fleet of ``n`` businesses to ``directory`` (replacing an earlier one).

    Layout: ``orders/part-*.parquet`` (canonical ``orders`` columns plus ``business_id``),
    ``suppliers/part-*.parquet`` (canonical ``suppliers`` plus ``business_id``),
    ``channels.parquet`` (the fleet-wide channels table) and ``businesses.parquet``
    (business_id, sector, region, size_band, consent, employees). The orders and
    suppliers are the generated exports imported through
    :func:`levelfield.ingest.import_file` and read back from the workspace, a chunk of
    businesses at a time (see the module doc). With ``workspaces``, also
    ``workspaces/<business_id>.duckdb``, one per business, each importing that business's
    rows of the Parquet dataset as CSV exports (:func:`write_workspaces`). The same ``n``
    and ``seed`` give the same Parquet files. The
    fleet is written next to ``directory`` and moved into place, so a failed run leaves
    no half-written fleet.
    """
    if isinstance(n, bool) or not (isinstance(n, int) and 1 <= n <= 10_000_000):
        raise ConfigError(f"the fleet size must be a whole number 1-10,000,000, not {n!r}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".fleet-{uuid.uuid4().hex}"
    (tmp / "orders").mkdir(parents=True)
    (tmp / "suppliers").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    biz = _businesses(n, rng)
    total = 0
    names = ["orders", "suppliers", "channels.parquet", "businesses.parquet"]
    try:
        template = _seeded_template(tmp / ".ingest", seed)
        for part, start in enumerate(range(0, n, chunk)):  # chunks of businesses, not rows
            some = biz.iloc[start : start + chunk]
            orders = _orders(some, rng)
            orders["order_id"] = orders["business_id"] + "-" + orders["order_id"]
            orders["customer_id"] = orders["business_id"] + "-" + orders["customer_id"]
            revenue = orders.groupby("business_id")["gross"].sum()
            suppliers = _suppliers(some, revenue, rng)
            orders, suppliers = _through_ingest(orders, suppliers, template)
            total += len(orders)
            _write(orders, tmp / "orders" / f"part-{part:05d}.parquet")
            _write(suppliers, tmp / "suppliers" / f"part-{part:05d}.parquet")
        _write(channels_table(), tmp / "channels.parquet")
        _write(biz, tmp / "businesses.parquet")
        if workspaces:
            write_workspaces(tmp, tmp / "workspaces")
            names.append("workspaces")
        for name in ("orders", "suppliers", "channels.parquet", "businesses.parquet", "workspaces"):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        for name in names:
            (tmp / name).rename(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return FleetDemo(out, n, total, seed, out / "workspaces" if workspaces else None)


def _business_csvs(
    folder: Path, orders: pd.DataFrame, suppliers: pd.DataFrame, profile: pd.Series
) -> dict[str, Path]:
    """One business's exports as the generic CSV templates ``levelfield import`` reads."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = orders.drop(columns=["business_id"])
    frame["ordered_at"] = frame["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    frame.to_csv(folder / "orders.csv", index=False)
    mine = channels_table()
    mine = mine.loc[mine["channel"].isin(set(orders["channel"]))]
    mine.assign(owns_customer=np.where(mine["owns_customer"], "yes", "no")).to_csv(
        folder / "channels.csv", index=False
    )
    suppliers.drop(columns=["business_id"]).to_csv(folder / "suppliers.csv", index=False)
    keys = {
        "name": f"Demo {profile['sector']} {profile['business_id']}",
        "currency": "EUR",
        "sector": str(profile["sector"]),
        "region": str(profile["region"]),
        "size_band": str(profile["size_band"]),
        "employees": int(profile["employees"]),
    }
    pd.DataFrame({"key": list(keys), "value": [json.dumps(v) for v in keys.values()]}).to_csv(
        folder / "business.csv", index=False
    )
    return {k: folder / f"{k}.csv" for k in ("business", "channels", "suppliers", "orders")}


_KEPT_ORDER_COLUMNS = (
    "order_id", "customer_id", "ordered_at", "channel", "currency", "gross", "discount", "tax",
    "shipping", "fees", "refunded", "status",
)  # fmt: skip
_KEPT_SUPPLIER_COLUMNS = (
    "supplier_id", "name", "country", "annual_spend", "currency", "lead_time_days", "alternatives",
)  # fmt: skip
_MONEY = ("gross", "discount", "tax", "shipping", "fees", "refunded", "annual_spend")


def _seeded_template(folder: Path, seed: int) -> Path:
    """A migrated empty workspace whose pseudonym key is derived from ``seed``.

    The key enters the way a workspace written before keys moved out of the file carries
    it (``meta.secret``); opening it moves the key to ``folder/keys`` as for any such
    workspace. Copies of the template share the key, so a demo's pseudonyms depend on its
    seed only.
    """
    import duckdb

    from levelfield.workspace import open_workspace

    path = folder / "template.duckdb"
    with open_workspace(path, key_dir=folder / "keys"):
        pass
    key = hashlib.sha256(f"levelfield demo fleet {seed}".encode()).hexdigest()
    con = duckdb.connect(str(path))
    try:
        con.execute("DELETE FROM meta WHERE key IN ('workspace_id', 'key_check')")
        con.execute("INSERT INTO meta VALUES ('secret', ?)", [key])
    finally:
        con.close()
    with open_workspace(path, key_dir=folder / "keys"):
        pass
    return path


def _read_back(ws: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The workspace's canonical orders and suppliers, ``business_id`` from their ids."""
    frames = []
    for table, cols in (("orders", _KEPT_ORDER_COLUMNS), ("suppliers", _KEPT_SUPPLIER_COLUMNS)):
        sel = ", ".join(f"{c}::DOUBLE AS {c}" if c in _MONEY else c for c in cols)
        frame = ws.con.sql(f"SELECT {sel} FROM {table} ORDER BY {cols[0]}").df()
        # the demo's order and supplier ids start with their business's id
        frame.insert(0, "business_id", frame[cols[0]].str.split("-", n=1).str[0])
        frames.append(frame)
    frames[0]["ordered_at"] = pd.to_datetime(frames[0]["ordered_at"]).dt.tz_localize("UTC")
    return frames[0], frames[1]


def _through_ingest(
    orders: pd.DataFrame, suppliers: pd.DataFrame, template: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A chunk's exports imported into a copy of ``template``; its canonical rows read back.

    The chunk's businesses share one import of each export (their order, customer and
    supplier ids are prefixed with the business id), so ingest runs once per chunk, not
    once per business: the same validation and pseudonymization at a fraction of the
    cost. The workspace is deleted afterwards.
    """
    from levelfield.ingest import import_file
    from levelfield.workspace import open_workspace

    scratch = template.parent
    folder = scratch / uuid.uuid4().hex
    folder.mkdir()
    frame = orders.drop(columns=["business_id"])
    frame["ordered_at"] = frame["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    frame.to_csv(folder / "orders.csv", index=False)
    suppliers.drop(columns=["business_id"]).to_csv(folder / "suppliers.csv", index=False)
    table = channels_table()
    table.assign(owns_customer=np.where(table["owns_customer"], "yes", "no")).to_csv(
        folder / "channels.csv", index=False
    )
    pd.DataFrame({"key": ["currency"], "value": [json.dumps("EUR")]}).to_csv(
        folder / "business.csv", index=False
    )
    work = folder / "chunk.duckdb"
    shutil.copyfile(template, work)
    try:
        with open_workspace(work, key_dir=scratch / "keys") as ws:
            for kind in ("business", "channels", "suppliers", "orders"):
                import_file(ws, kind, folder / f"{kind}.csv")
            got_o, got_s = _read_back(ws)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if len(got_o) != len(orders) or len(got_s) != len(suppliers):
        raise DataError(
            f"ingest kept {len(got_o):,} of {len(orders):,} demo orders and {len(got_s):,} of "
            f"{len(suppliers):,} suppliers: the demo generator wrote rows ingest rejects"
        )
    return got_o, got_s


def write_workspaces(
    fleet: str | Path, target: str | Path, *, only: set[str] | None = None
) -> list[Path]:
    """One workspace per business of the Parquet fleet in ``fleet``, through ingest.

    Each business's rows are written as CSV exports (``exports/<business_id>/``) and
    imported with :func:`levelfield.ingest.import_file` into
    ``target/<business_id>.duckdb``; the pseudonym keys go to ``target/keys``. ``only``
    limits it to those business ids.
    """
    from levelfield.ingest import import_file
    from levelfield.workspace import open_workspace

    base, out = Path(fleet), Path(target)
    out.mkdir(parents=True, exist_ok=True)
    biz = pd.read_parquet(base / "businesses.parquet")
    written = []
    for part in sorted((base / "orders").glob("*.parquet")):  # one file holds a chunk
        orders = pd.read_parquet(part)
        suppliers = pd.read_parquet(base / "suppliers" / part.name)
        in_part = biz.loc[biz["business_id"].isin(set(orders["business_id"]))]
        if only is not None:
            in_part = in_part.loc[in_part["business_id"].isin(only)]
        for profile in in_part.to_dict("records"):  # businesses, each its own workspace
            bid = str(profile["business_id"])
            files = _business_csvs(
                out / "exports" / bid,
                orders.loc[orders["business_id"] == bid],
                suppliers.loc[suppliers["business_id"] == bid],
                pd.Series(profile),
            )
            with open_workspace(out / f"{bid}.duckdb", key_dir=out / "keys") as ws:
                for kind, path in files.items():
                    import_file(ws, kind, path)
            written.append(out / f"{bid}.duckdb")
    return written
