"""A demo group of 6-12 small businesses, each a real workspace built through ingest.

Every business gets export files (orders with customers' e-mails, products, suppliers,
channels, competitors with its own row, business profile, costs) written from a seeded
simulation and imported with :func:`levelfield.ingest.import_file`, exactly as an owner
would. The group also gets ``purchases.csv`` and ``price_breaks.csv`` (the planted price
breaks of :func:`~levelfield.cooperation.demo_group`), a group key, and each member's
group tokens derived from its own order export.

Planted truth (:data:`GROUP_TRUTH`): two complementary pairs (customers in common,
different products, adjacent positions, a shared supplier, same region) and one pair of
rivals (identical products and nearly identical positions).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levelfield.cooperation._demo import demo_group
from levelfield.cooperation._tokens import derive_tokens, new_group_key, write_group_key
from levelfield.errors import ConfigError
from levelfield.ingest import import_file
from levelfield.workspace import open_workspace

__all__ = ["GROUP_TRUTH", "GroupDemo", "build_demo_group", "slug"]

# name, format, region, price tier, {category: unit price}, suppliers, platform channel
# (or None), employees, customers
_Member = tuple[str, str, str, str, dict[str, float], tuple[str, ...], str | None, int, int]
_ROSTER: tuple[_Member, ...] = (
    ("Bean There Cafe", "cafe", "north", "premium", {"coffee": 4.2, "tea": 3.5},
     ("Nordic Roast Supply", "PackRight", "Dairy Alt"), "Uber Eats", 6, 420),
    ("Corner Bakery", "bakery", "north", "premium", {"bread": 5.5, "pastries": 3.2},
     ("Mill & Co", "PackRight"), "Uber Eats", 5, 380),
    ("Oak Street Deli", "deli", "south", "mid", {"sandwiches": 7.5, "cheese": 9.0},
     ("Mill & Co", "Nordic Roast Supply"), "Uber Eats", 4, 300),
    ("Rise & Shine Bakery", "bakery", "north", "premium", {"bread": 5.4, "pastries": 3.3},
     ("Mill & Co", "PackRight"), "Uber Eats", 5, 360),
    ("Little Roastery", "roaster", "east", "premium", {"coffee beans": 14.0},
     ("Nordic Roast Supply", "Dairy Alt"), "Etsy", 3, 260),
    ("Green Leaf Cafe", "cafe", "south", "mid", {"coffee": 3.6, "salads": 8.5},
     ("Nordic Roast Supply", "Dairy Alt", "PackRight"), "Uber Eats", 5, 340),
    ("Page Turner Books", "bookshop", "south", "mid", {"books": 16.0, "cards": 3.5},
     ("Gardners Books",), "Amazon", 3, 280),
    ("Bloom Florist", "florist", "west", "premium", {"flowers": 28.0, "plants": 19.0},
     ("Dutch Flower Hub",), "Etsy", 2, 220),
    ("Wheel Easy Bikes", "bike shop", "west", "mid", {"bike repairs": 45.0, "parts": 22.0},
     ("Cycle Parts Ltd",), None, 4, 200),
    ("Stitch & Thread", "crafts", "east", "budget", {"yarn": 9.0, "patterns": 6.0},
     ("Wool Direct",), "Etsy", 2, 240),
    ("Paws Pet Supplies", "pet shop", "west", "mid", {"pet food": 24.0, "toys": 8.0},
     ("PetWholesale",), "Amazon", 3, 260),
    ("Hilltop Wine", "wine shop", "south", "premium", {"wine": 18.0, "gifts": 25.0},
     ("Vino Import",), None, 3, 230),
)  # fmt: skip

# (member a, member b, share of a's customers who also buy from b)
_COMPLEMENTS = (
    ("Bean There Cafe", "Corner Bakery", 0.34),
    ("Green Leaf Cafe", "Page Turner Books", 0.25),
)
_RIVALS = ("Corner Bakery", "Rise & Shine Bakery")
# Review ratings: the rivals share one; complementary partners are close.
_RATINGS = dict(
    zip(
        (r[0] for r in _ROSTER),
        (4.4, 4.5, 4.0, 4.5, 4.2, 4.3, 4.3, 4.7, 3.9, 4.1, 4.0, 4.6),
        strict=True,
    )
)

GROUP_TRUTH: dict[str, Any] = {
    "complementary": [(a, b) for a, b, _ in _COMPLEMENTS],
    "overlap_share": {(a, b): s for a, b, s in _COMPLEMENTS},
    "rivals": _RIVALS,
    "shared_supplier": {("Bean There Cafe", "Corner Bakery"): "PackRight"},
    "platform_users": {
        p: [r[0] for r in _ROSTER if r[6] == p] for p in ("Uber Eats", "Etsy", "Amazon")
    },
}
"""What the demo group was built to show (for the full 12 members)."""

_PLATFORMS = {  # platform channel -> (fee rate, owns the customer?)
    "Uber Eats": 0.30,
    "Etsy": 0.095,
    "Amazon": 0.15,
}
_CARD_FEE = 0.026  # Square card payments in the shop
_START = dt.date(2025, 1, 1)
_POOL = 20_000  # people in the town (e-mail addresses the businesses draw customers from)
_TYPES = {
    "format": "category",
    "price_tier": "ordinal(budget<mid<premium)",
    "offer": "set",
    "organic": "flag",
    "rating": "numeric",
}
_COMPLIANCE_PER_EMPLOYEE = 1_150.0  # USD a year: what the members report spending


def slug(name: str) -> str:
    """Folder name of a member (``Rise & Shine Bakery`` -> ``rise-shine-bakery``)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass(frozen=True)
class GroupDemo:
    """Where the demo group was written."""

    directory: Path
    members: tuple[str, ...]
    workspaces: tuple[Path, ...]
    purchases: Path
    price_breaks: Path
    group_key: Path
    seed: int


def _customers(n: int, seed: int) -> dict[str, np.ndarray[Any, np.dtype[np.int64]]]:
    """Each member's customers (indices into the town's people), with planted overlaps."""
    rng = np.random.default_rng(seed)
    names = [r[0] for r in _ROSTER[:n]]
    out = {r[0]: rng.choice(_POOL, size=r[8], replace=False) for r in _ROSTER[:n]}
    for a, b, share in _COMPLEMENTS:
        if a in out and b in out:
            k = round(share * len(out[a]))
            shared = rng.choice(out[a], size=k, replace=False)
            rest = np.setdiff1d(out[b], shared)
            out[b] = np.concatenate([shared, rng.choice(rest, size=len(out[b]) - k, replace=False)])
    return {m: out[m] for m in names}


def _orders(
    name: str,
    people: np.ndarray[Any, np.dtype[np.int64]],
    row: tuple[Any, ...],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One line per order; every customer orders 1-6 times in 2025."""
    cats = list(row[4])
    n_orders = rng.integers(1, 7, size=len(people))
    who = np.repeat(people, n_orders)
    m = len(who)
    cat = rng.integers(0, len(cats), size=m)
    price = np.array([row[4][c] for c in cats])[cat]
    qty = rng.integers(1, 4, size=m)
    day = rng.integers(0, 365, size=m)
    platform = row[6]
    on_platform = rng.random(m) < (0.6 if platform else 0.0)
    gross = np.round(price * qty, 2)
    fee_rate = np.where(on_platform, _PLATFORMS.get(platform or "", 0.0), _CARD_FEE)
    prefix = slug(name)[:4].upper()
    return pd.DataFrame(
        {
            "order_id": [f"{prefix}-{i + 1:05d}" for i in range(m)],
            "ordered_at": [
                (pd.Timestamp(_START) + pd.Timedelta(days=int(d), hours=9)).strftime(
                    "%Y-%m-%d %H:%M:%S"
                )
                for d in day
            ],
            "email": [f"person{p:05d}@example.org" for p in who],
            "channel": np.where(on_platform, slug(platform or "shop"), "shop"),
            "currency": "USD",
            "status": "paid",
            "sku": [f"{prefix}-{c}" for c in cat],
            "product": [cats[c] for c in cat],
            "category": [cats[c] for c in cat],
            "quantity": qty,
            "unit_price": price,
            "fees": np.round(gross * fee_rate, 2),
        }
    ).sort_values("ordered_at", kind="stable")


def _tables(row: tuple[Any, ...], rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    name, fmt, region, tier, cats, suppliers, platform, employees, _ = row
    prefix = slug(name)[:4].upper()
    sup_ids = [f"SUP-{slug(s)[:10].upper()}" for s in suppliers]
    products = pd.DataFrame(
        {
            "sku": [f"{prefix}-{i}" for i in range(len(cats))],
            "name": list(cats),
            "category": list(cats),
            "unit_cost": [round(p * 0.35, 2) for p in cats.values()],
            "list_price": list(cats.values()),
            "currency": "USD",
            "supplier_id": [sup_ids[i % len(sup_ids)] for i in range(len(cats))],
        }
    )
    supplier_frame = pd.DataFrame(
        {
            "supplier_id": sup_ids,
            "name": list(suppliers),
            "country": "US",
            "annual_spend": rng.integers(3_000, 20_000, size=len(suppliers)),
            "currency": "USD",
            "lead_time_days": 7,
            "alternatives": 2,
        }
    )
    channels = [("shop", "Square", "none", "yes")]
    if platform:
        channels.append((slug(platform), platform, "none", "no"))
    offer = ";".join(sorted(cats))
    rating = _RATINGS[name]
    competitors = pd.DataFrame(
        [
            ["#type", "-", "-", "-", *_TYPES.values()],
            [name, "yes", f"{fmt} in the {region}", "0.05", fmt, tier, offer, "yes", rating],
            [f"Chain {fmt} A", "no", "national chain", "0.30", fmt, "budget", offer, "no", 3.9],
            [f"Chain {fmt} B", "no", "regional chain", "0.20", fmt, "mid", offer, "no", 4.0],
        ],
        columns=["name", "self", "description", "market_share", *_TYPES],
    )
    business = pd.DataFrame(
        [("name", name), ("currency", "USD"), ("country", "US"), ("region", region),
         ("sector", fmt), ("employees", str(employees)), ("opening_cash", "15000")],
        columns=["key", "value"],
    )  # fmt: skip
    months = pd.period_range("2025-01", "2025-12", freq="M").astype(str)
    costs = pd.DataFrame(
        {
            "month": list(months) * 2,
            "category": ["rent"] * 12 + ["compliance"] * 12,
            "amount": [1800.0] * 12
            + list(np.round(rng.normal(_COMPLIANCE_PER_EMPLOYEE * employees / 12, 20, 12), 2)),
            "fixed": "yes",
            "currency": "USD",
        }
    )
    return {
        "products": products,
        "suppliers": supplier_frame,
        "channels": pd.DataFrame(
            channels, columns=["channel", "platform", "fee_profile", "owns_customer"]
        ),
        "competitors": competitors,
        "business": business,
        "costs": costs,
    }


def _build_member(
    directory: Path, row: tuple[Any, ...], people: np.ndarray[Any, np.dtype[np.int64]], seed: int
) -> Path:
    rng = np.random.default_rng([seed, _ROSTER.index(row)])
    folder = directory / slug(row[0])
    exports = folder / "exports"
    exports.mkdir(parents=True)
    files = {"orders": _orders(row[0], people, row, rng), **_tables(row, rng)}
    workspace = folder / "levelfield.duckdb"
    with open_workspace(workspace) as ws:
        for kind in (
            "business",
            "products",
            "suppliers",
            "channels",
            "competitors",
            "costs",
            "orders",
        ):
            path = exports / f"{kind}.csv"
            files[kind].to_csv(path, index=False)
            import_file(ws, kind, path)
    return workspace


def build_demo_group(
    directory: Path, *, n: int = 8, seed: int = 0, force: bool = False
) -> GroupDemo:
    """Write a demo group of ``n`` businesses (6-12) into ``directory``.

    Each member's folder holds ``exports/`` and ``levelfield.duckdb``; the group folder
    holds ``purchases.csv``, ``price_breaks.csv``, ``group.key`` and ``truth.json``.
    The same ``seed`` gives the same exports (workspace keys differ, pseudonyms too).
    """
    if not (isinstance(n, int) and 6 <= n <= len(_ROSTER)):
        raise ConfigError(f"a demo group has 6 to {len(_ROSTER)} businesses, not {n!r}")
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        if not force or not (directory / "truth.json").is_file():
            raise ConfigError(
                f"{directory} is not empty; choose an empty folder"
                + (
                    " (or --force to rebuild a demo group there)"
                    if (directory / "truth.json").is_file()
                    else ""
                )
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    customers = _customers(n, seed)
    workspaces = tuple(
        _build_member(directory, row, customers[row[0]], seed) for row in _ROSTER[:n]
    )
    key = new_group_key()
    key_path = write_group_key(directory / "group.key", key)
    for ws_path in workspaces:
        with open_workspace(ws_path) as ws:
            derive_tokens(ws, key, [ws_path.parent / "exports" / "orders.csv"])
    members = tuple(r[0] for r in _ROSTER[:n])
    purchases, breaks = demo_group()
    p, b = directory / "purchases.csv", directory / "price_breaks.csv"
    purchases.to_csv(p, index=False)
    breaks.to_csv(b, index=False)
    truth = {
        "seed": seed,
        "members": list(members),
        "complementary": [
            [a, b_, s] for a, b_, s in _COMPLEMENTS if a in members and b_ in members
        ],
        "rivals": list(_RIVALS),
        "compliance_cost_per_employee": _COMPLIANCE_PER_EMPLOYEE,
    }
    (directory / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return GroupDemo(directory, members, workspaces, p, b, key_path, seed)
