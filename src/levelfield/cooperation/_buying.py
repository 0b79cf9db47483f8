"""Buying-group simulator: pooled volumes, tiers reached, and fair shares of the saving.

The cost game: a coalition ``S`` buys each item (supplier × item) either pooled, at the
all-units tier price its pooled volume reaches, or with every member on their own best
terms (their current price, or the list price their own volume reaches), whichever is
cheaper: ``c_j(S) = min(V_S p_j(V_S), sum_{i in S} a_ij)``, ``c(S) = sum_j c_j(S)``.
The group's saving is split three ways (proportional to volume per item, Shapley value,
nucleolus) and each split is checked against the core.

References
----------
Shapley, L. S. (1953). A value for n-person games.
Schmeidler, D. (1969). The nucleolus of a characteristic function game.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from levelfield.cooperation._core import LP_MAX_PLAYERS, CoreCheck, core_check, nucleolus
from levelfield.cooperation._inputs import check_price_breaks, check_purchases
from levelfield.cooperation._shapley import (
    EXACT_MAX_PLAYERS,
    FloatArray,
    shapley_exact,
    shapley_sampled,
    subset_sums,
)
from levelfield.errors import InsufficientDataError

__all__ = ["BuyingGame", "BuyingGroupResult", "buying_game", "buying_group"]

_CELLS = 1 << 22  # float cells per chunk of the coalition × item arrays (32 MB each)


def _list_cost(
    thresholds: FloatArray, prices: FloatArray, pooled: FloatArray, items: NDArray[np.int64]
) -> FloatArray:
    """List cost of ``pooled`` volumes; ``inf`` below the first tier, NaN at volume 0."""
    # One in-place pass per tier (a handful), no (..., k, tiers) array and no gather.
    price = np.full(pooled.shape, np.inf)
    for t in range(1, thresholds.shape[1]):
        np.copyto(price, prices[items, t], where=pooled >= thresholds[items, t])
    with np.errstate(invalid="ignore"):  # inf price times zero volume is NaN
        np.multiply(pooled, price, out=price)
    return price


def _item_costs(
    thresholds: FloatArray,
    prices: FloatArray,
    pooled: FloatArray,
    separate: FloatArray,
    items: NDArray[np.int64],
) -> FloatArray:
    """``min(list cost of the pooled volume, members on their own)``, per item."""
    # fmin ignores the NaN of a zero volume (and then separate is 0 as well).
    return np.fmin(_list_cost(thresholds, prices, pooled, items), separate)


@dataclass(frozen=True)
class BuyingGame:
    """Arrays of the buying game: ``n`` members, ``m`` pooled items, ``t`` tiers per item.

    ``volume`` and ``alone`` are ``(n, m)``: annual volume, and the cost of each member's
    best terms on their own (currency per year). ``thresholds``/``prices`` are ``(m, t+1)``
    with a leading tier 0 (threshold 0, price ``inf``: no list price reached) padded with
    ``inf``.
    """

    members: tuple[str, ...]
    items: tuple[tuple[str, str], ...]
    volume: FloatArray
    alone: FloatArray
    spend: FloatArray
    thresholds: FloatArray
    prices: FloatArray

    def item_costs(
        self, pooled: FloatArray, separate: FloatArray, items: NDArray[np.int64]
    ) -> FloatArray:
        """Cost of ``items`` (k indices) for pooled volumes ``(..., k)`` whose members'
        own best cost is ``separate``: pooled at list price or separately, the cheaper."""
        return _item_costs(self.thresholds, self.prices, pooled, separate, items)

    def tier(self, pooled: FloatArray) -> NDArray[np.int64]:
        """Tier index (0 = none) reached by pooled volumes ``(m,)``."""
        return np.asarray((pooled[:, None] >= self.thresholds).sum(axis=1) - 1, dtype=np.int64)

    def coalition_costs(self) -> FloatArray:
        """``c(S)`` for all ``2**n`` coalitions (bitmask order), chunked over items."""
        n, m = self.volume.shape
        k = max(1, _CELLS // (1 << n))
        total = np.zeros(1 << n)
        for start in range(0, m, k):
            items = np.arange(start, min(m, start + k))
            pooled = subset_sums(self.volume[:, items])
            separate = subset_sums(self.alone[:, items])
            total += self.item_costs(pooled, separate, items).sum(axis=1)
        return total

    def prefix_costs(self, perms: NDArray[np.int64]) -> FloatArray:
        """``c`` of each prefix of each permutation ``(B, n)`` (for sampled Shapley)."""
        m = self.volume.shape[1]
        items = np.arange(m)
        pooled = np.cumsum(self.volume[perms], axis=1)
        separate = np.cumsum(self.alone[perms], axis=1)
        return np.asarray(self.item_costs(pooled, separate, items).sum(axis=2))


def buying_game(purchases: pd.DataFrame, price_breaks: pd.DataFrame) -> BuyingGame:
    """Build the game from checked purchases and price breaks (items with a price list)."""
    listed = price_breaks[["supplier", "item"]].drop_duplicates()
    pooled = purchases.merge(listed, on=["supplier", "item"])
    members = tuple(sorted(purchases["member"].unique()))
    keys = sorted(set(zip(pooled["supplier"], pooled["item"], strict=True)))
    n, m = len(members), len(keys)
    if m == 0:
        raise InsufficientDataError(
            "no purchase matches a supplier and item of the price breaks; spell supplier and "
            "item the same way in both files (e.g. "
            f"{purchases['supplier'].iloc[0]} / {purchases['item'].iloc[0]})"
        )
    mi = pd.Index(members).get_indexer(pooled["member"])
    ki = pd.MultiIndex.from_tuples(keys).get_indexer(
        pd.MultiIndex.from_arrays([pooled["supplier"], pooled["item"]])
    )
    volume = np.zeros((n, m))
    spend = np.zeros((n, m))
    volume[mi, ki] = pooled["annual_volume"].to_numpy()
    spend[mi, ki] = pooled["spend"].to_numpy()
    counts = price_breaks.groupby(["supplier", "item"]).size()
    t = int(counts.max()) + 1 if m else 1
    thresholds = np.full((m, t), np.inf)
    prices = np.full((m, t), np.inf)
    thresholds[:, 0] = 0.0
    br = price_breaks.merge(pd.DataFrame(keys, columns=["supplier", "item"]))
    bk = pd.MultiIndex.from_tuples(keys).get_indexer(
        pd.MultiIndex.from_arrays([br["supplier"], br["item"]])
    )
    rank = br.groupby(["supplier", "item"]).cumcount().to_numpy() + 1
    thresholds[bk, rank] = br["min_volume"].to_numpy()
    prices[bk, rank] = br["unit_price"].to_numpy()
    own = _item_costs(thresholds, prices, volume, spend, np.arange(m))
    return BuyingGame(members, tuple(keys), volume, own, spend, thresholds, prices)


@dataclass(frozen=True)
class BuyingGroupResult:
    """What pooling buys the group and each member's share of it under three rules.

    Money is currency per year. ``members`` has one row per member: ``today`` (current
    spend on pooled items), ``alone`` (best cost on their own), ``volume_share`` and the
    saving against today under ``proportional``, ``shapley`` and ``nucleolus``
    (NaN when not computed). ``items`` has one row per supplier × item.
    """

    members: pd.DataFrame
    items: pd.DataFrame
    total_saving: float
    shapley_method: str
    shapley_se: FloatArray | None
    core: dict[str, CoreCheck | None]
    core_nonempty: bool | None
    notes: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """The members table."""
        return self.members.copy()

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (run history, reports)."""
        return {
            "members": len(self.members),
            "items_pooled": int((self.items["saving"] > 0.005).sum()),
            "total_saving": round(self.total_saving, 2),
            "shapley_method": self.shapley_method,
            "core_nonempty": self.core_nonempty,
            "in_core": {k: (None if v is None else v.in_core) for k, v in self.core.items()},
            "leave_under_proportional": _leavers(self),
            "notes": list(self.notes),
        }


def _leavers(result: BuyingGroupResult) -> list[str]:
    check = result.core.get("proportional")
    if check is None or check.in_core:
        return []
    return [str(result.members["member"].iloc[i]) for i in check.blocking]


def _items_frame(game: BuyingGame, purchases: pd.DataFrame) -> pd.DataFrame:
    pooled = game.volume.sum(axis=0)
    tier = game.tier(pooled)
    rows = np.arange(len(game.items))
    group = game.item_costs(pooled, game.alone.sum(axis=0), rows)
    frame = pd.DataFrame(
        {
            "supplier": [k[0] for k in game.items],
            "item": [k[1] for k in game.items],
            "pooled_volume": pooled,
            "tier": tier,
            "tier_min_volume": game.thresholds[rows, tier],
            "tier_unit_price": np.where(tier > 0, game.prices[rows, tier], np.nan),
            "next_tier_min_volume": np.hstack([game.thresholds, np.full((len(rows), 1), np.inf)])[
                rows, tier + 1
            ],
            "today": game.spend.sum(axis=0),
            "group_cost": group,
        }
    )
    frame["saving"] = frame["today"] - frame["group_cost"]
    return frame


def _proportional(game: BuyingGame) -> FloatArray:
    """Cost shares: each item's group gain split by volume share, on top of best-alone."""
    pooled = game.volume.sum(axis=0)
    group = game.item_costs(pooled, game.alone.sum(axis=0), np.arange(pooled.size))
    gain = game.alone.sum(axis=0) - group
    share = np.divide(game.volume, pooled, out=np.zeros_like(game.volume), where=pooled > 0)
    return np.asarray(game.alone.sum(axis=1) - share @ gain)


def _shares(
    game: BuyingGame, permutations: int, seed: int
) -> tuple[FloatArray | None, FloatArray, FloatArray | None, str, FloatArray | None]:
    """Coalition costs (when enumerable), Shapley and nucleolus cost shares."""
    n = len(game.members)
    if n <= EXACT_MAX_PLAYERS:
        costs = game.coalition_costs()
        shapley = shapley_exact(costs)
        nucl = nucleolus(costs) if n <= LP_MAX_PLAYERS else None
        return costs, shapley, nucl, "exact", None
    sampled = shapley_sampled(game.prefix_costs, n, permutations=permutations, seed=seed)
    method = f"sampled ({sampled.permutations} random orders)"
    return None, sampled.value, None, method, sampled.standard_error


def buying_group(
    purchases: pd.DataFrame,
    price_breaks: pd.DataFrame,
    *,
    permutations: int = 2000,
    seed: int = 0,
) -> BuyingGroupResult:
    """Simulate a buying group and split its saving fairly.

    Parameters
    ----------
    purchases
        Columns ``member, supplier, item, annual_volume, unit_price`` (one currency).
    price_breaks
        Columns ``supplier, item, min_volume, unit_price`` (all-units tiers).
    permutations
        Random orders for the sampled Shapley value (more than 20 members).
    seed
        Seed of the sampling.

    Notes
    -----
    Shapley is exact up to 20 members, sampled above (with a standard error per member).
    The nucleolus and the core's emptiness (least-core linear programme) are computed up
    to 14 members; every split is checked against all coalitions up to 20 members.
    """
    purchases = check_purchases(purchases)
    price_breaks = check_price_breaks(price_breaks)
    game = buying_game(purchases, price_breaks)
    today = game.spend.sum(axis=1)
    alone = game.alone.sum(axis=1)
    costs, shapley, nucl, method, se = _shares(game, permutations, seed)
    rules: dict[str, FloatArray | None] = {
        "proportional": _proportional(game),
        "shapley": shapley,
        "nucleolus": nucl,
    }
    core: dict[str, CoreCheck | None] = {
        k: (None if costs is None or x is None else core_check(costs, x)) for k, x in rules.items()
    }
    volume = game.volume.sum(axis=1)
    members = pd.DataFrame(
        {
            "member": list(game.members),
            "volume_share": volume / max(volume.sum(), 1e-300),
            "today": today,
            "alone": alone,
        }
    )
    for k, x in rules.items():
        members[k] = today - x if x is not None else np.nan
    if se is not None:
        members["shapley_se"] = se
    items = _items_frame(game, purchases)
    notes = _notes(purchases, price_breaks, game, members)
    nonempty = None
    if core["nucleolus"] is not None:
        nonempty = core["nucleolus"].in_core  # the nucleolus is in the core when it is not empty
    return BuyingGroupResult(
        members=members,
        items=items,
        total_saving=float(items["saving"].sum()),
        shapley_method=method,
        shapley_se=se,
        core=core,
        core_nonempty=nonempty,
        notes=notes,
    )


def _notes(
    purchases: pd.DataFrame, price_breaks: pd.DataFrame, game: BuyingGame, members: pd.DataFrame
) -> tuple[str, ...]:
    notes = []
    unlisted = purchases.merge(
        price_breaks[["supplier", "item"]].drop_duplicates(), how="left", indicator=True
    )
    missing = unlisted[unlisted["_merge"] == "left_only"]
    if len(missing):
        pairs = missing[["supplier", "item"]].drop_duplicates()
        notes.append(
            f"{len(pairs)} item(s) have no price breaks and are left out of the pooling "
            f"(e.g. {pairs.iloc[0]['supplier']} / {pairs.iloc[0]['item']})"
        )
    notes.extend(_own_deal_notes(game))
    gap = (members["today"] - members["alone"]).to_numpy()
    for name, own in zip(members["member"][gap > 0.005], gap[gap > 0.005], strict=True):
        notes.append(
            f"{name} could already save {own:,.2f} alone at the supplier's "
            "list price; that part is theirs, not the group's"
        )
    return tuple(notes)


def _own_deal_notes(game: BuyingGame) -> list[str]:
    """Members whose own deal beats the group's tier price on a pooled item.

    The game pools an item for all members of a coalition or for none (a coalition does
    not pick which members' volume to pool), so such a member's volume is priced at the
    group tier; the treasurer may keep that member's volume of the item out instead.
    """
    pooled = game.volume.sum(axis=0)
    items = np.arange(pooled.size)
    group = game.item_costs(pooled, game.alone.sum(axis=0), items)
    list_cost = _list_cost(game.thresholds, game.prices, pooled, items)
    is_pooled = np.isfinite(list_cost) & (np.abs(group - list_cost) < 1e-9)
    tier_price = np.divide(list_cost, pooled, out=np.full_like(pooled, np.inf), where=pooled > 0)
    own_price = np.divide(
        game.alone, game.volume, out=np.full_like(game.alone, np.inf), where=game.volume > 0
    )
    better = (own_price < tier_price - 1e-9) & is_pooled
    rows, cols = np.nonzero(better)
    return [
        f"{game.members[i]} pays {own_price[i, j]:,.2f} for {game.items[j][1]} "
        f"({game.items[j][0]}), below the group's {tier_price[j]:,.2f}; the split above "
        "pools their volume anyway; consider leaving it out of that order"
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
