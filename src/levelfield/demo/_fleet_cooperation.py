"""What the demo fleet gives partner matching: the people behind the customer ids, their
group tokens, and each business's own landscape position.

**People.** The fleet's customer ids are pseudonyms per business, as in a real fleet.
Behind each is a person with an e-mail address, held in memory only: the fleet holds
the group tokens of the addresses, never the addresses. Every business trades in a town
of its region (about :data:`_TOWN_SIZE` businesses a town; the town is a draw of this
module, not a column of the businesses table). A customer is, by the shares of
:data:`_KINDS`, a regular of the town (a person of the town's pool), a regular of the
region (who shops in several of its towns), a web buyer from anywhere (the national
pool; only customers who order on the web store), or someone who buys at this business
only. A pool is sized from its businesses' expected customers so that its people buy at
about :data:`_BREADTH` of those businesses each. So a coffee shop and a bookshop of one
town share many customers, two businesses of one region some, two of different regions
only web buyers. A person is never two customers of one business (the same e-mail gets
one pseudonym at ingest): a second draw of the same person becomes a one-off customer.

**Who has an e-mail on file.** A business knows a customer's address when the customer
ordered on its web store, or, with probability :data:`_SHOP_EMAIL`, bought in its shop or
at its stall (e-mail receipt, loyalty card). Marketplace orders (Uber Eats, Amazon, ...)
never give it: the marketplace keeps the customer. Addresses are typed with the odd
capital or trailing space; tokens are derived from the known addresses under the demo's
group key (:func:`demo_group_key`) by :func:`levelfield.workspace.group_tokens`, the rule
``levelfield cooperate tokens`` applies to a member's order export.

**Positions.** Each business's own row of the competitor table (``is_self``), with the
attributes and ``#type`` row a member would write: ``format`` (its sector), ``area`` (the
region it trades in), ``price_tier`` (from its posted prices against its sector's),
``offer`` (a sector's staples and some extras), ``channels`` (those taking 15 % of its
orders or more) and ``rating`` (reviews, 3.5-5).

Every draw comes from the cooperation stream (:func:`cooperation_rng`), so the fleet's
businesses, customers, orders and prices are the same with or without this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from levelfield.workspace import GroupKey, group_tokens

__all__ = [
    "OFFERS",
    "POSITION_TYPES",
    "CooperationStream",
    "Pools",
    "chunk_people",
    "cooperation_rng",
    "demo_group_key",
    "emails",
    "fleet_pools",
    "local_offers",
    "own_positions",
    "token_table",
]

#: The cooperation stream's key: ``default_rng([seed, _COOPERATION_STREAM])`` (the
#: pricing stream is 1).
_COOPERATION_STREAM = 2
#: Businesses per town (a region of ``m`` businesses has ``ceil(m / _TOWN_SIZE)`` towns).
_TOWN_SIZE = 12
#: Shares of a business's customers: town regulars, region regulars, web buyers from
#: anywhere (only customers with a web order; others become one-off customers); the
#: rest buy at this business only.
_KINDS = (0.45, 0.12, 0.06)
#: Mean number of the pool's businesses a person of a town, region or national pool buys at.
_BREADTH = (2.0, 1.5, 1.3)
#: Chance that a business knows the e-mail of a customer who bought in its shop or at its
#: stall only (a web order always gives it; a marketplace order never does).
_SHOP_EMAIL = 0.6
#: Share of addresses typed with a capital first letter, and with a trailing space.
_TYPOS = (0.15, 0.05)
_FIRST = np.array(
    ["anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ida", "jonas",
     "lena", "max", "nora", "oskar", "paula", "ravi", "sara", "tom", "una", "yusuf"]
)  # fmt: skip
_LAST = np.array(
    ["berg", "costa", "dubois", "fischer", "garcia", "hansen", "ivanova", "jensen", "kowalski",
     "lopez", "meyer", "novak", "olsen", "peters", "rossi", "schmidt", "weber", "yilmaz"]
)  # fmt: skip
_DOMAINS = np.array(["example.org", "example.net", "example.com", "mail.example"])

#: sector -> (staples nearly every such business offers, extras some offer)
OFFERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "coffee": (("espresso drinks", "filter coffee"),
               ("pastries", "breakfast", "lunch", "beans to go")),
    "bakery": (("bread", "pastries"),
               ("cakes to order", "sandwiches", "coffee to go", "gluten-free")),
    "bike shop": (("repairs", "city bikes"), ("e-bikes", "road bikes", "rental", "parts")),
    "bookshop": (("new books", "children's books"),
                 ("second-hand", "author events", "stationery", "reading cafe")),
    "apparel": (("womenswear", "menswear"), ("kidswear", "shoes", "accessories", "alterations")),
    "crafts": (("handmade gifts", "jewellery"),
               ("yarn and fabric", "workshops", "kits", "commissions")),
}  # fmt: skip
_STAPLE, _EXTRA = 0.95, 0.4  # chance a business offers a staple, an extra
#: Chance that a business offers an item as its sector does in its town (else its own
#: draw): competitors in one place converge on what local customers ask for.
_FOLLOW = 0.8
#: The competitor table's ``#type`` row of the positions.
POSITION_TYPES: dict[str, str] = {
    "format": "category",
    "area": "category",
    "price_tier": "ordinal(budget<mid<premium)",
    "offer": "set",
    "channels": "set",
    "rating": "numeric",
}
#: Price level (geometric mean of a business's base prices over its sector's) below which
#: a business is budget, and from which it is premium.
_TIERS = (0.62, 0.8)
_CHANNEL_SHARE = 0.15  # share of a business's orders from which a channel is in its position


def cooperation_rng(seed: int) -> np.random.Generator:
    """The fleet's cooperation stream (towns, people, e-mails on file, positions), apart
    from the main and pricing streams of ``seed``: nothing the fleet drew before moves."""
    return np.random.default_rng([seed, _COOPERATION_STREAM])


def demo_group_key(seed: int) -> GroupKey:
    """The group key the demo fleet of ``seed`` derives its tokens under (a real group's
    key is random and stays with its members; the demo's is derived from the seed, so the
    same seed gives the same tokens). It is not written into the fleet."""
    return GroupKey(hashlib.sha256(f"levelfield demo fleet group key {seed}".encode()).hexdigest())


@dataclass(frozen=True)
class Pools:
    """The fleet's people: each business's town, and the person ids of every pool.

    Person ids: towns' pools first (``town_start[t]`` on, ``town_size[t]`` people), then
    regions' pools, then the national pool, then one-off customers (``one_off_start`` +
    the customer's serial number in the fleet).
    """

    town: np.ndarray[Any, np.dtype[np.int64]]
    region: np.ndarray[Any, np.dtype[np.int64]]
    town_start: np.ndarray[Any, np.dtype[np.int64]]
    town_size: np.ndarray[Any, np.dtype[np.int64]]
    region_start: np.ndarray[Any, np.dtype[np.int64]]
    region_size: np.ndarray[Any, np.dtype[np.int64]]
    national: tuple[int, int]
    one_off_start: int


def _pool_sizes(expected: np.ndarray[Any, Any], group: np.ndarray[Any, Any], k: int) -> Any:
    """People of each group's pool: its expected draws over the pool's breadth (>= 1)."""
    draws = np.bincount(group, weights=expected, minlength=k) * _KINDS[0]
    return np.maximum(1, np.ceil(draws / _BREADTH[0])).astype(np.int64)


def fleet_pools(
    region: np.ndarray[Any, Any], customers: np.ndarray[Any, Any], rng: np.random.Generator
) -> Pools:
    """Towns and pools of the fleet, from each business's region code and expected
    customers (the first draws of the cooperation stream: one town per business)."""
    n_regions = int(region.max()) + 1
    per_region = np.bincount(region, minlength=n_regions)
    towns = np.maximum(1, np.ceil(per_region / _TOWN_SIZE)).astype(np.int64)
    first_town = np.cumsum(towns) - towns
    town = first_town[region] + (rng.random(len(region)) * towns[region]).astype(np.int64)
    town_size = _pool_sizes(customers, town, int(towns.sum()))
    region_draws = np.bincount(region, weights=customers, minlength=n_regions) * _KINDS[1]
    region_size = np.maximum(1, np.ceil(region_draws / _BREADTH[1])).astype(np.int64)
    national = max(1, int(np.ceil(customers.sum() * _KINDS[2] / _BREADTH[2])))
    town_start = np.cumsum(town_size) - town_size
    region_start = town_size.sum() + np.cumsum(region_size) - region_size
    nat_start = int(town_size.sum() + region_size.sum())
    return Pools(
        town, region.astype(np.int64), town_start, town_size, region_start, region_size,
        (nat_start, national), nat_start + national,
    )  # fmt: skip


def chunk_people(
    orders: pd.DataFrame,
    business_index: pd.Index,
    own_channels: Sequence[str],
    pools: Pools,
    serial: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The person behind each customer of a chunk's orders and the e-mail address the
    business has on file for them (None when it has none): ``business_id``,
    ``customer_id``, ``person``, ``email``. In memory only; never written.

    ``orders`` are the chunk's generated orders (``business_id``, ``customer_id``,
    ``channel``); ``business_index`` the fleet's business ids (their positions index
    ``pools``); ``serial`` the number of customers of the chunks before (one-off people
    get ids of their own).
    """
    codes, cust = pd.factorize(orders["customer_id"], sort=False)
    nc = len(cust)
    first = np.full(nc, len(orders), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(orders)))
    bid = orders["business_id"].to_numpy()[first]
    b = business_index.get_indexer(pd.Index(bid)).astype(np.int64)
    channel = orders["channel"].to_numpy()
    web = np.bincount(codes, weights=channel == "web", minlength=nc) > 0
    own = np.bincount(codes, weights=np.isin(channel, list(own_channels)), minlength=nc) > 0
    u, pick = rng.random(nc), rng.random(nc)
    town, region = pools.town[b], pools.region[b]
    cut = np.cumsum(_KINDS)
    nat_start, nat_size = pools.national
    person = np.select(
        [u < cut[0], u < cut[1], (u < cut[2]) & web],
        [
            pools.town_start[town] + (pick * pools.town_size[town]).astype(np.int64),
            pools.region_start[region] + (pick * pools.region_size[region]).astype(np.int64),
            nat_start + (pick * nat_size).astype(np.int64),
        ],
        default=-1,
    )
    one_off = pools.one_off_start + serial + np.arange(nc, dtype=np.int64)
    # a person drawn twice by one business is one customer there: the second is a one-off
    again = pd.DataFrame({"b": b, "p": person}).duplicated().to_numpy() | (person < 0)
    person = np.where(again, one_off, person)
    known = web | (own & (rng.random(nc) < _SHOP_EMAIL))
    email = np.full(nc, None, dtype=object)
    email[known] = emails(person[known], rng)
    return pd.DataFrame(
        {"business_id": bid, "customer_id": np.asarray(cust), "person": person, "email": email}
    )


def emails(person: np.ndarray[Any, Any], rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """An e-mail address per person as a business has it on file (in memory only): the
    same person has the same address everywhere, give or take a capital or a space."""
    p = person.astype(np.int64)
    address = (
        pd.Series(_FIRST[p % len(_FIRST)]) + "." + _LAST[(p // len(_FIRST)) % len(_LAST)] + "."
        + pd.Series(p).astype(str) + "@" + _DOMAINS[(p // 7) % len(_DOMAINS)]
    )  # fmt: skip
    u = rng.random(len(p))
    address = address.where(u >= _TYPOS[0], address.str.capitalize())
    spaced = (u >= _TYPOS[0]) & (u < _TYPOS[0] + _TYPOS[1])
    return np.asarray(address.where(~spaced, address + " ").to_numpy())


def token_table(people: pd.DataFrame, key: GroupKey) -> pd.DataFrame:
    """The group tokens each business derives from the e-mails it has on file
    (:func:`chunk_people`): ``business_id``, ``group_id``, ``token``, one row per business
    and token, sorted."""
    known = people.loc[people["email"].notna()]
    tokens = group_tokens(known["email"].to_numpy(), key).to_numpy(zero_copy_only=False)
    out = pd.DataFrame(
        {"business_id": known["business_id"].to_numpy(), "group_id": key.group_id, "token": tokens}
    )
    out = out.loc[out["token"].notna()].drop_duplicates(["business_id", "token"])
    return out.sort_values(["business_id", "token"], ignore_index=True)


@dataclass
class CooperationStream:
    """The cooperation stream across a fleet's chunks: its generator, the fleet's pools,
    the demo group key, and how many customers the chunks so far had."""

    rng: np.random.Generator
    pools: Pools
    key: GroupKey
    business_index: pd.Index
    own_channels: tuple[str, ...]
    local_offer: np.ndarray[Any, Any]
    serial: int = 0

    @classmethod
    def start(
        cls, seed: int, biz: pd.DataFrame, regions: Sequence[str], customers: np.ndarray[Any, Any],
        own_channels: Sequence[str],
    ) -> CooperationStream:  # fmt: skip
        """The stream of the fleet ``biz`` (``business_id``, ``region`` one of ``regions``;
        ``customers`` expected per business)."""
        rng = cooperation_rng(seed)
        region = pd.Index(list(regions)).get_indexer(pd.Index(biz["region"])).astype(np.int64)
        pools = fleet_pools(region, np.asarray(customers, dtype=float), rng)
        ids = pd.Index(biz["business_id"])
        offers = local_offers(int(pools.town.max()) + 1, rng)
        return cls(rng, pools, demo_group_key(seed), ids, tuple(own_channels), offers)

    def _local(self, biz: pd.DataFrame) -> np.ndarray[Any, Any]:
        """The town-and-sector offer of each business of ``biz``."""
        b = self.business_index.get_indexer(pd.Index(biz["business_id"]))
        sector = pd.Index(list(OFFERS)).get_indexer(pd.Index(biz["sector"]))
        return np.asarray(self.local_offer[self.pools.town[b], sector])

    def tables(
        self, biz: pd.DataFrame, price_level: np.ndarray[Any, Any], orders: pd.DataFrame
    ) -> dict[str, pd.DataFrame]:
        """A chunk's people (in memory only), group tokens and own competitor rows."""
        people = chunk_people(
            orders, self.business_index, self.own_channels, self.pools, self.serial, self.rng
        )
        self.serial += len(people)
        return {
            "people": people,
            "group_tokens": token_table(people, self.key),
            "competitors": own_positions(biz, self._local(biz), price_level, orders, self.rng),
        }


def _joined(names: np.ndarray[Any, Any], chosen: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Per row, the chosen names of that row joined by ``;`` (a set attribute's text)."""
    out = pd.Series("", index=range(len(names)), dtype=object)
    for k in range(names.shape[1]):  # a loop over the few columns, not the rows
        add = pd.Series(names[:, k], dtype=object).where(chosen[:, k], "")
        out = out.where(~chosen[:, k] | (out == ""), out + ";") + add
    return out.to_numpy()


def _offer_items() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The offer items ``[sector, item]`` (:data:`OFFERS`) and the chance of each item."""
    items = np.array([[*staples, *extras] for staples, extras in OFFERS.values()], dtype=object)
    n_staples = len(next(iter(OFFERS.values()))[0])
    return items, np.where(np.arange(items.shape[1]) < n_staples, _STAPLE, _EXTRA)


def local_offers(n_towns: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """What a sector's businesses of a town usually offer, ``[town, sector, item]``:
    most of them follow it (:data:`_FOLLOW`), so rivals are close in one town."""
    items, chance = _offer_items()
    return np.asarray(rng.random((n_towns, *items.shape)) < chance)


def own_positions(
    biz: pd.DataFrame,
    local_offer: np.ndarray[Any, Any],
    price_level: np.ndarray[Any, Any],
    orders: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each business's own competitor row (``is_self``) with its landscape position.

    ``biz`` are the chunk's businesses (``business_id``, ``sector``, ``region``),
    ``local_offer`` what their sector offers in their town (:func:`local_offers`, a row
    per business), ``price_level`` their posted prices over their sector's (geometric mean, 1 = the
    sector's usual price), ``orders`` their generated orders (``business_id``,
    ``channel``). Columns as the workspace's competitor table (``attributes`` and
    ``attribute_types`` JSON text) plus ``business_id``.
    """
    n = len(biz)
    sector = biz["sector"].to_numpy()
    s_idx = pd.Index(list(OFFERS)).get_indexer(pd.Index(sector))
    items, chance = _offer_items()
    own = rng.random((n, items.shape[1])) < chance
    offer = np.where(rng.random((n, items.shape[1])) < _FOLLOW, local_offer, own)
    offer[:, 0] |= ~offer.any(axis=1)  # everyone offers something
    share = pd.crosstab(orders["business_id"], orders["channel"], normalize="index")
    share = share.reindex(biz["business_id"], fill_value=0.0)
    chans = np.broadcast_to(np.array(share.columns, dtype=object), share.shape)
    tier = np.array(["budget", "mid", "premium"])[np.searchsorted(_TIERS, price_level, "right")]
    rating = np.round(np.clip(rng.normal(4.4, 0.25, n), 3.5, 5.0), 1)
    frame = pd.DataFrame(
        {
            "business_id": biz["business_id"].to_numpy(),
            "format": sector,
            "area": biz["region"].to_numpy(),
            "price_tier": tier,
            "offer": _joined(items[s_idx], offer),
            "channels": _joined(chans, share.to_numpy() >= _CHANNEL_SHARE),
            "rating": pd.Series(rating).map("{:.1f}".format).to_numpy(),
        }
    )
    # JSON as ingest stores a competitor row: json_object of the attributes' raw text
    attrs = ", ".join(f"'{a}', \"{a}\"" for a in POSITION_TYPES)
    con = duckdb.connect()
    try:
        con.register("_lf_pos", frame.assign(_i=np.arange(n)))
        json_text = con.sql(
            f"SELECT json_object({attrs})::VARCHAR AS a FROM _lf_pos ORDER BY _i"
        ).fetchnumpy()["a"]
    finally:
        con.close()
    name = "Demo " + pd.Series(sector, dtype=object) + " " + frame["business_id"]
    return pd.DataFrame(
        {
            "business_id": frame["business_id"],
            "competitor_id": name.str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True),
            "name": name,
            "is_self": True,
            "attributes": np.asarray(json_text, dtype=object),
            "attribute_types": json.dumps(POSITION_TYPES),
            "description": "own position (" + frame["format"] + ", " + frame["area"] + ")",
            "snapshot_date": dt.date(2024, 12, 31),
            "source": "own assessment (demo)",
        }
    )
