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
platforms, bookshops through Amazon, crafts through Etsy and markets). Each order holds
lines of the business's 3-8 products at their posted price of the day; three businesses
in four change each product's posted price 2-3 times a year, and units answer at a planted
elasticity (:func:`_catalog`, :func:`_lines`), so the fleet's pricing kernel has something
to learn. All of the price story is drawn from a stream of its own
(:func:`_pricing_rng`); :func:`planted_price_response` recomputes the planted elasticities
from the seed (they are not written into the fleet).

For partner matching the fleet also holds ``group_tokens/`` (the tokens each business
would derive with ``levelfield cooperate tokens`` from the e-mails it has on file, under a
demo group key derived from the seed) and ``competitors/`` (each business's own landscape
position). Behind the pseudonymous customer ids are people of town, regional and national
pools, so businesses of one region share customers and businesses of different regions
hardly any; e-mails exist in memory only (:func:`fleet_customer_emails` recomputes them).
All of it comes from a third stream (:mod:`levelfield.demo._fleet_cooperation`), so the
other tables are the same as without it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import uuid
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from levelfield.demo._fleet_cooperation import CooperationStream
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

    def sentence(self) -> str:
        """What was written and the next command, as ``demo --fleet`` prints it."""
        where = f", workspaces in {self.workspaces}" if self.workspaces else ""
        return (
            f"Wrote {self.n_businesses:,} businesses ({self.n_orders:,} orders) to "
            f"{self.directory}{where}. Next: levelfield fleet run {self.directory}"
        )


def _businesses(n: int, rng: np.random.Generator) -> pd.DataFrame:
    sectors = np.array(list(SECTORS))
    bands = np.array(list(SIZE_BANDS))
    size = bands[rng.choice(len(bands), n, p=[0.5, 0.35, 0.15])]
    lo = pd.Series(size).map({b: e[0] for b, e in _EMPLOYEES.items()}).to_numpy()
    hi = pd.Series(size).map({b: e[1] for b, e in _EMPLOYEES.items()}).to_numpy()
    has_costs = rng.random(n) < 0.6
    return pd.DataFrame(
        {
            "business_id": [f"b{i:06d}" for i in range(n)],
            "sector": sectors[rng.integers(0, len(sectors), n)],
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), n)],
            "size_band": size,
            "consent": rng.random(n) < 0.85,
            "employees": rng.integers(lo, hi + 1).astype("int64"),
            # 60 % keep product costs (their margin comes from them); half of the others
            # state a gross margin in the businesses table; the rest leave it unknown
            "_has_costs": has_costs,
            "gross_margin": np.where(
                ~has_costs & (rng.random(n) < 0.5), np.round(rng.uniform(0.35, 0.7, n), 3), np.nan
            ),
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


#: Posted-price levels (multiples of a product's base price) a product's price moves
#: between; its first regime is 1 and every change moves to another level.
_PRICE_LEVELS = np.array([0.75, 0.85, 1.0, 1.15, 1.3])
#: Price changes of a product of a business that moves prices (fewest, most) in the year.
_CHANGES = (2, 3)
_MAX_CHANGES = _CHANGES[1]
#: Share of businesses that move prices, and the range their planted elasticity is drawn from.
_MOVERS = 0.75
_ELASTICITY_RANGE = (-2.5, -0.5)
#: Baseline units per order: lines (1 + Poisson(0.6)) x units per line (1 + Poisson(0.25)),
#: at each product's highest posted price; lower prices add units (:func:`_lines`).
_BASE_UNITS_PER_ORDER = 1.6 * 1.25
#: Shape of the gamma popularity of a business's products (mean 1). With shape 1 one
#: product was often most of a business's sales, and its price changes are then hard to
#: tell apart from the week effects, which its own weeks mostly set.
_POPULARITY_SHAPE = 3.0
#: The pricing stream's key: ``default_rng([seed, _PRICING_STREAM])``.
_PRICING_STREAM = 1


def _pricing_rng(seed: int) -> np.random.Generator:
    """The fleet's pricing stream (who moves prices, planted elasticities, price paths,
    the units that answer them), apart from the main stream of ``seed``: a change of the
    price story never moves the draws of businesses, customers, orders or suppliers."""
    return np.random.default_rng([seed, _PRICING_STREAM])


def _price_response(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Per business: whether it moves prices and its planted price elasticity (every
    business has one; only a mover's data can reveal it). The first draws of the pricing
    stream, so :func:`planted_price_response` recomputes them from the seed."""
    moves = rng.random(n) < _MOVERS
    elasticity = rng.uniform(*_ELASTICITY_RANGE, n)
    return pd.DataFrame(
        {"business_id": [f"b{i:06d}" for i in range(n)], "moves": moves, "elasticity": elasticity}
    )


def planted_price_response(n: int, seed: int) -> pd.DataFrame:
    """The price response ``demo_fleet(n, directory, seed=seed)`` plants: ``business_id``,
    ``moves`` (whether its posted prices change) and ``elasticity`` (units answer
    ``posted_price ** elasticity``). The ground truth a test compares the fleet's
    ``pricing.median_elasticity`` with; it is not written into the fleet."""
    return _price_response(n, _pricing_rng(seed))


def _price_paths(
    moves: np.ndarray[Any, Any], rng: np.random.Generator
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Change days ``[product, change]`` (inf when there is no such change) and price
    multipliers ``[product, regime]`` (regime 0 is 1) of products, ``moves`` per product.

    A moving product's posted price changes 2-3 times, on days drawn from day 30 to 335,
    each time to another of :data:`_PRICE_LEVELS` (never a change to the same price).
    """
    n = len(moves)
    k = np.where(moves, rng.integers(_CHANGES[0], _CHANGES[1] + 1, n), 0)
    times = np.sort(rng.uniform(30.0, _DAYS - 30.0, (n, _MAX_CHANGES)), axis=1)
    times[np.arange(_MAX_CHANGES)[None, :] >= k[:, None]] = np.inf
    # a step of 1 to len - 1 levels around the ring of levels: always another level
    jumps = rng.integers(1, len(_PRICE_LEVELS), (n, _MAX_CHANGES))
    start = int(np.flatnonzero(_PRICE_LEVELS == 1.0)[0])
    level = (start + np.cumsum(jumps, axis=1)) % len(_PRICE_LEVELS)
    return times, np.c_[np.ones(n), _PRICE_LEVELS[level]]


def _demand_boost(
    times: np.ndarray[Any, Any], steps: np.ndarray[Any, Any], elasticity: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Each product's reference multiplier (its highest posted price in the year) and its
    year-average demand boost ``(price / reference) ** elasticity`` (>= 1)."""
    live = np.c_[np.ones(len(times), dtype=bool), np.isfinite(times)]
    ref = np.where(live, steps, 0.0).max(axis=1)
    bounds = np.c_[np.zeros(len(times)), np.minimum(times, _DAYS), np.full(len(times), _DAYS)]
    share = np.diff(bounds, axis=1) / _DAYS  # time share of each regime (0 if never reached)
    boost = (steps / ref[:, None]) ** elasticity[:, None]
    return ref, (share * boost).sum(axis=1)


def _catalog(
    biz: pd.DataFrame, truth: pd.DataFrame, rng: np.random.Generator, price_rng: np.random.Generator
) -> pd.DataFrame:
    """3-8 products per business with a base price, a unit cost where the business keeps
    product costs, a popularity weight and a price path.

    ``truth`` is the chunk's rows of :func:`_price_response`. A business that moves
    prices changes each product's posted price 2-3 times in the year (:func:`_price_paths`);
    the others never do, so they have no elasticity to learn. Units answer the posted
    price at the business's planted elasticity (:func:`_lines`). Price paths come from
    ``price_rng``, everything else from ``rng``.
    """
    n_sku = rng.integers(3, 9, len(biz))
    b_of_p = np.repeat(np.arange(len(biz)), n_sku)
    j = np.arange(len(b_of_p)) - np.repeat(np.cumsum(n_sku) - n_sku, n_sku)
    sector = biz["sector"].to_numpy()[b_of_p]
    mean_value = pd.Series({s: v[1] for s, v in SECTORS.items()}).reindex(sector).to_numpy()
    spread = rng.lognormal(-0.125, 0.5, len(b_of_p))
    cost_share = rng.uniform(0.3, 0.65, len(b_of_p))
    weight = rng.gamma(_POPULARITY_SHAPE, 1.0 / _POPULARITY_SHAPE, len(b_of_p))
    elasticity = truth["elasticity"].to_numpy()[b_of_p]
    times, steps = _price_paths(truth["moves"].to_numpy()[b_of_p], price_rng)
    ref, boost = _demand_boost(times, steps, elasticity)
    # the sector's mean order value holds: base units per order times the year's boost
    base = np.round(mean_value / _BASE_UNITS_PER_ORDER / boost * spread, 1)
    base = np.maximum(base, 1.4)  # every order is worth at least 1 at the lowest level
    has_costs = biz["_has_costs"].to_numpy()[b_of_p]
    bid = biz["business_id"].to_numpy()[b_of_p]
    return pd.DataFrame(
        {
            "b": b_of_p,
            "business_id": bid,
            "sku": pd.Series(bid).str.cat(pd.Series(j).astype(str), sep="-p").to_numpy(),
            "product": pd.Series(sector).str.cat(pd.Series(j).astype(str), sep=" item ").to_numpy(),
            "category": sector,
            "base_price": base,
            "unit_cost": np.where(has_costs, np.round(base * cost_share, 2), np.nan),
            "weight": weight,
            "elasticity": elasticity,
            "ref": ref,
            **{f"t{i}": times[:, i] for i in range(_MAX_CHANGES)},
            **{f"m{i}": steps[:, i] for i in range(_MAX_CHANGES + 1)},
        }
    )


def _lines(
    catalog: pd.DataFrame,
    b_of_o: np.ndarray[Any, Any],
    t: np.ndarray[Any, Any],
    rng: np.random.Generator,
    price_rng: np.random.Generator,
) -> pd.DataFrame:
    """Lines of the orders (business index ``b_of_o``, day ``t``), ``o`` = order index.

    Each order has 1 + Poisson(0.6) lines, each a product of its business by popularity
    at the product's posted price that day, with ``q0`` = 1 + Poisson(0.25) baseline
    units. Units answer price as in the single-business demo (``levelfield.demo``): a
    line holds ``q0 + Poisson(q0 (f - 1))`` units with ``f = (price / ref) ** elasticity``
    (``ref`` the product's highest posted price of the year, so ``f >= 1``), so expected
    units are proportional to ``price ** elasticity`` in every order, whatever its number
    of lines; orders and lines themselves do not depend on price. The boost is drawn
    from ``price_rng``.
    """
    k = 1 + rng.poisson(0.6, len(b_of_o))
    o = np.repeat(np.arange(len(b_of_o)), k)
    b = b_of_o[o]
    w = catalog["weight"].to_numpy()
    cat_b = catalog["b"].to_numpy()
    share = w / np.bincount(cat_b, weights=w)[cat_b]
    # products sorted by business: keys b + cumulative share lie in (b, b + 1]
    keys = cat_b + (pd.Series(share).groupby(cat_b).cumsum().to_numpy())
    pick = np.searchsorted(keys, b + rng.random(len(o)) * (1 - 1e-12), side="left")
    times = catalog[[f"t{i}" for i in range(_MAX_CHANGES)]].to_numpy()[pick]
    regime = (t[o][:, None] > times).sum(axis=1)
    steps = catalog[[f"m{i}" for i in range(_MAX_CHANGES + 1)]].to_numpy()
    m = steps[pick, regime]
    f = (m / catalog["ref"].to_numpy()[pick]) ** catalog["elasticity"].to_numpy()[pick]
    q0 = 1 + rng.poisson(0.25, len(o))
    line_no = np.arange(len(o)) - np.searchsorted(o, o, side="left") + 1
    return pd.DataFrame(
        {
            "o": o,
            "line_no": line_no,
            "sku": catalog["sku"].to_numpy()[pick],
            "product": catalog["product"].to_numpy()[pick],
            "category": catalog["category"].to_numpy()[pick],
            "quantity": q0 + price_rng.poisson(q0 * (f - 1.0)),
            "unit_price": np.round(catalog["base_price"].to_numpy()[pick] * m, 2),
        }
    )


def channels_table() -> pd.DataFrame:
    """The fleet-wide ``channels`` table (channel, platform, fee_profile, owns_customer)."""
    return pd.DataFrame(
        [(c, p, None, own) for c, (p, own) in CHANNELS.items()],
        columns=["channel", "platform", "fee_profile", "owns_customer"],
    ).astype({"fee_profile": "string"})


def _orders(
    biz: pd.DataFrame,
    catalog: pd.DataFrame,
    rng: np.random.Generator,
    price_rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders of the businesses in ``biz`` and their lines (vectorized across the chunk);
    an order's gross is the sum of its lines, a line's ``o`` the row of its order. Units
    that answer price are drawn from ``price_rng`` (:func:`_lines`)."""
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
    s_idx = pd.Index(list(SECTORS)).get_indexer(pd.Index(sector))
    bid = biz["business_id"].to_numpy()[b_of_o]
    n = len(b_of_o)
    lines = _lines(catalog, b_of_o, t, rng, price_rng)
    gross = np.round(
        np.bincount(lines["o"], weights=lines["quantity"] * lines["unit_price"], minlength=n), 2
    )
    zero = np.zeros(n)
    orders = pd.DataFrame(
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
    return orders, lines


def _write(frame: pd.DataFrame, path: Path) -> None:
    # microseconds, UTC: the timestamp type Spark and DuckDB both read
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, coerce_timestamps="us")


def _check_size(n: object) -> None:
    if isinstance(n, bool) or not (isinstance(n, int) and 1 <= n <= 10_000_000):
        raise ConfigError(f"the fleet size must be a whole number 1-10,000,000, not {n!r}")


def demo_fleet(
    n: int,
    directory: str | Path,
    *,
    seed: int = 0,
    chunk: int = 500,
    workspaces: bool = False,
) -> FleetDemo:
    """Write a demo fleet of ``n`` businesses to ``directory`` (replacing an earlier one).

    Layout: ``orders/part-*.parquet``, ``order_lines/part-*.parquet``,
    ``suppliers/part-*.parquet`` and ``products/part-*.parquet`` (canonical columns plus
    ``business_id``; products only of businesses that keep product costs),
    ``channels.parquet`` (the fleet-wide channels table) and ``businesses.parquet``
    (business_id, sector, region, size_band, consent, employees, gross_margin: stated by
    half of the businesses without product costs, else null), and for partner matching
    ``group_tokens/part-*.parquet`` (business_id, group_id, token: what each business
    derives from the customers' e-mails it has on file, under the group key
    :func:`~levelfield.demo._fleet_cooperation.demo_group_key` of ``seed``; no e-mail is
    written) and ``competitors/part-*.parquet`` (the business's own competitor row with
    its landscape position, as the workspace's competitor table). The other tables are the
    generated exports imported through
    :func:`levelfield.ingest.import_file` and read back from the workspace, a chunk of
    businesses at a time (see the module doc). With ``workspaces``, also
    ``workspaces/<business_id>.duckdb``, one per business, each importing that business's
    rows of the Parquet dataset as CSV exports (:func:`write_workspaces`). The same ``n``
    and ``seed`` give the same Parquet files; the price elasticities they plant are
    :func:`planted_price_response` of ``n`` and ``seed`` (not written into the fleet). The
    fleet is written next to ``directory`` and moved into place, so a failed run leaves
    no half-written fleet.
    """
    _check_size(n)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".fleet-{uuid.uuid4().hex}"
    rng = np.random.default_rng(seed)
    biz = _businesses(n, rng)
    total = 0
    names = [*_TABLES, *_COOPERATION_TABLES, "channels.parquet", "businesses.parquet"]
    for name in (*_TABLES, *_COOPERATION_TABLES):
        (tmp / name).mkdir(parents=True)
    try:
        template = _seeded_template(tmp / ".ingest", seed)
        for part, made in enumerate(_chunks(biz, rng, seed, chunk)):
            tables = _through_ingest(
                made["orders"], made["order_lines"], made["suppliers"], made["catalog"], template
            )
            total += len(tables["orders"])
            for name in _COOPERATION_TABLES:
                tables[name] = made[name]
            for name, frame in tables.items():
                _write(frame, tmp / name / f"part-{part:05d}.parquet")
        _write(channels_table(), tmp / "channels.parquet")
        _write(biz.drop(columns="_has_costs"), tmp / "businesses.parquet")
        if workspaces:
            write_workspaces(tmp, tmp / "workspaces")
            names.append("workspaces")
        for name in (*names, "workspaces"):
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


#: Tables of the fleet for cooperation (:mod:`levelfield.demo._fleet_cooperation`),
#: written as generated (no customer data in them, so not through ingest).
_COOPERATION_TABLES = ("group_tokens", "competitors")


def _chunks(
    biz: pd.DataFrame, rng: np.random.Generator, seed: int, chunk: int
) -> Iterator[dict[str, pd.DataFrame]]:
    """The fleet's generated tables, a chunk of businesses at a time, before ingest:
    ``orders``, ``order_lines``, ``suppliers``, ``catalog``, ``people`` (with the e-mails
    on file: in memory only), ``group_tokens`` and ``competitors``.

    ``rng`` is the main stream right after :func:`_businesses` drew ``biz``. The price
    story comes from the pricing stream, people, tokens and positions from the
    cooperation stream, so neither moves a draw of the main stream.
    """
    price_rng = _pricing_rng(seed)
    response = _price_response(len(biz), price_rng)
    coop = CooperationStream.start(
        seed, biz, REGIONS, biz["size_band"].map(SIZE_BANDS).to_numpy(dtype=float),
        [c for c, (_, own) in CHANNELS.items() if own],
    )  # fmt: skip
    for start in range(0, len(biz), chunk):  # chunks of businesses, not rows
        some = biz.iloc[start : start + chunk]
        catalog = _catalog(some, response.iloc[start : start + chunk], rng, price_rng)
        orders, lines = _orders(some, catalog, rng, price_rng)
        orders["order_id"] = orders["business_id"] + "-" + orders["order_id"]
        lines.insert(0, "order_id", orders["order_id"].to_numpy()[lines.pop("o")])
        orders["customer_id"] = orders["business_id"] + "-" + orders["customer_id"]
        revenue = orders.groupby("business_id")["gross"].sum()
        suppliers = _suppliers(some, revenue, rng)
        yield {
            "orders": orders,
            "order_lines": lines,
            "suppliers": suppliers,
            "catalog": catalog,
            **coop.tables(some, _price_level(some, catalog), orders),
        }


def _price_level(biz: pd.DataFrame, catalog: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Per business, its base prices over its sector's usual unit price (geometric mean;
    1 = the sector's usual price level)."""
    usual = pd.Series({s: v[1] for s, v in SECTORS.items()}) / _BASE_UNITS_PER_ORDER
    b = catalog["b"].to_numpy()
    ratio = catalog["base_price"].to_numpy() / usual.reindex(catalog["category"]).to_numpy()
    products = np.bincount(b, minlength=len(biz))
    return np.asarray(np.exp(np.bincount(b, weights=np.log(ratio), minlength=len(biz)) / products))


def fleet_customer_emails(n: int, seed: int, *, chunk: int = 500) -> pd.DataFrame:
    """The e-mail each business of ``demo_fleet(n, directory, seed=seed, chunk=chunk)`` has
    on file per customer: ``business_id``, ``email``. The truth its ``group_tokens`` were
    derived from (a test derives them again as a member would); never written into the
    fleet. Replays the generator without ingest."""
    _check_size(n)
    rng = np.random.default_rng(seed)
    biz = _businesses(n, rng)
    people = [made["people"] for made in _chunks(biz, rng, seed, chunk)]
    frame = pd.concat(people, ignore_index=True)
    return frame.loc[frame["email"].notna(), ["business_id", "email"]].reset_index(drop=True)


#: The fleet's canonical tables (one Parquet folder each, a file per chunk), the columns
#: kept of each (plus ``business_id``), and the id its rows' business id starts.
_TABLES: dict[str, tuple[str, ...]] = {
    "orders": (
        "order_id", "customer_id", "ordered_at", "channel", "currency", "gross", "discount",
        "tax", "shipping", "fees", "refunded", "status",
    ),
    "order_lines": (
        "order_id", "line_no", "sku", "product", "category", "quantity", "unit_price",
        "list_price", "discount",
    ),
    "suppliers": (
        "supplier_id", "name", "country", "annual_spend", "currency", "lead_time_days",
        "alternatives",
    ),
    "products": ("sku", "name", "category", "unit_cost", "list_price", "currency", "supplier_id"),
}  # fmt: skip
_MONEY = (
    "gross", "discount", "tax", "shipping", "fees", "refunded", "annual_spend", "quantity",
    "unit_price", "list_price", "unit_cost",
)  # fmt: skip


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


def _read_back(ws: Any) -> dict[str, pd.DataFrame]:
    """The workspace's canonical tables (:data:`_TABLES`), ``business_id`` from their ids."""
    frames = {}
    for table, cols in _TABLES.items():
        sel = ", ".join(f"{c}::DOUBLE AS {c}" if c in _MONEY else c for c in cols)
        order = ", ".join(cols[:2]) if table == "order_lines" else cols[0]
        frame = ws.con.sql(f"SELECT {sel} FROM {table} ORDER BY {order}").df()
        # the demo's order, supplier and product ids start with their business's id
        frame.insert(0, "business_id", frame[cols[0]].str.split("-", n=1).str[0])
        frames[table] = frame
    frames["orders"]["ordered_at"] = pd.to_datetime(frames["orders"]["ordered_at"]).dt.tz_localize(
        "UTC"
    )
    return frames


def _export_csvs(
    folder: Path,
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    suppliers: pd.DataFrame,
    products: pd.DataFrame,
    profile: dict[str, object],
) -> dict[str, Path]:
    """Exports as the generic CSV templates ``levelfield import`` reads, in import order.

    Orders are written a row per line (the order's fields repeated); ingest sums the
    lines into the order's gross.
    """
    folder.mkdir(parents=True, exist_ok=True)
    frame = orders.drop(columns=["business_id", "gross"]).merge(
        lines[["order_id", "line_no", "sku", "product", "category", "quantity", "unit_price"]],
        on="order_id",
        validate="one_to_many",
    )
    frame = frame.sort_values(["order_id", "line_no"], kind="stable").drop(columns="line_no")
    frame["ordered_at"] = frame["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    frame.to_csv(folder / "orders.csv", index=False)
    mine = channels_table()
    mine = mine.loc[mine["channel"].isin(set(orders["channel"]))]
    mine.assign(owns_customer=np.where(mine["owns_customer"], "yes", "no")).to_csv(
        folder / "channels.csv", index=False
    )
    suppliers.drop(columns=["business_id"]).to_csv(folder / "suppliers.csv", index=False)
    products[["sku", "name", "category", "unit_cost", "currency"]].to_csv(
        folder / "products.csv", index=False
    )
    pd.DataFrame({"key": list(profile), "value": [json.dumps(v) for v in profile.values()]}).to_csv(
        folder / "business.csv", index=False
    )
    kinds = ("business", "channels", "suppliers", "products", "orders")
    return {k: folder / f"{k}.csv" for k in kinds if k != "products" or len(products)}


def _through_ingest(
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    suppliers: pd.DataFrame,
    catalog: pd.DataFrame,
    template: Path,
) -> dict[str, pd.DataFrame]:
    """A chunk's exports imported into a copy of ``template``; its canonical rows read back.

    The chunk's businesses share one import of each export (their order, customer,
    supplier and product ids are prefixed with the business id), so ingest runs once per
    chunk, not once per business: the same validation and pseudonymization at a fraction
    of the cost. Products are the catalog's products with a unit cost. The workspace is
    deleted afterwards.
    """
    from levelfield.ingest import import_file
    from levelfield.workspace import open_workspace

    scratch = template.parent
    folder = scratch / uuid.uuid4().hex
    products = catalog.loc[catalog["unit_cost"].notna()].rename(columns={"product": "name"})
    files = _export_csvs(
        folder, orders, lines, suppliers, products.assign(currency="EUR"), {"currency": "EUR"}
    )
    work = folder / "chunk.duckdb"
    shutil.copyfile(template, work)
    try:
        with open_workspace(work, key_dir=scratch / "keys") as ws:
            for kind, path in files.items():
                import_file(ws, kind, path)
            got = _read_back(ws)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sent = {"orders": orders, "order_lines": lines, "suppliers": suppliers, "products": products}
    if any(len(got[t]) != len(sent[t]) for t in sent):
        counts = ", ".join(f"{len(got[t]):,} of {len(sent[t]):,} {t}" for t in sent)
        raise DataError(f"ingest kept {counts}: the demo generator wrote rows ingest rejects")
    return got


def write_workspaces(
    fleet: str | Path, target: str | Path, *, only: set[str] | None = None
) -> list[Path]:
    """One workspace per business of the Parquet fleet in ``fleet``, through ingest.

    Each business's rows (orders with their lines, channels, suppliers, products) are
    written as CSV exports (``exports/<business_id>/``) and
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
        tables = {t: pd.read_parquet(base / t / part.name) for t in _TABLES}
        in_part = biz.loc[biz["business_id"].isin(set(tables["orders"]["business_id"]))]
        if only is not None:
            in_part = in_part.loc[in_part["business_id"].isin(only)]
        for profile in in_part.to_dict("records"):  # businesses, each its own workspace
            bid = str(profile["business_id"])
            mine = {t: f.loc[f["business_id"] == bid] for t, f in tables.items()}
            files = _export_csvs(
                out / "exports" / bid,
                mine["orders"],
                mine["order_lines"],
                mine["suppliers"],
                mine["products"],
                _profile(profile),
            )
            with open_workspace(out / f"{bid}.duckdb", key_dir=out / "keys") as ws:
                for kind, path in files.items():
                    import_file(ws, kind, path)
                margin = profile.get("gross_margin")
                if margin is not None and np.isfinite(margin):
                    # the margin the association was told, as the member would set it
                    ws.settings.set("customers.margin", float(margin), by="demo")
            written.append(out / f"{bid}.duckdb")
    return written


def _profile(row: Mapping[Hashable, Any]) -> dict[str, object]:
    """A member's business profile (the ``business`` import) from its businesses row."""
    return {
        "name": f"Demo {row['sector']} {row['business_id']}",
        "currency": "EUR",
        "sector": str(row["sector"]),
        "region": str(row["region"]),
        "size_band": str(row["size_band"]),
        "employees": int(row["employees"]),
    }
