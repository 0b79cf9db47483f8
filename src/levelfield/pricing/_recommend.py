"""Guarded price recommendations from elasticities, costs and the business's rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from levelfield.errors import ConfigError

__all__ = ["GUARDRAIL_ORDER", "REASON_CODES", "Guardrails", "recommend_prices"]

FloatArray = NDArray[np.float64]
_Z95 = 1.959963984540054
_WEEKS_PER_YEAR = 52.0

#: Guardrails in the fixed order they are applied; a later rule overrides an earlier
#: one where they conflict (e.g. the minimum margin wins over the ceiling).
GUARDRAIL_ORDER: tuple[str, ...] = (
    "max_step",
    "floor_ceiling",
    "min_margin",
    "price_ending",
    "channel_parity",
    "fairness",
)

#: Reason codes a recommendation can carry, with their meaning.
REASON_CODES: dict[str, str] = {
    "margin_optimal": "target is the margin-optimal price c·e/(1+e) for elastic demand (e < -1)",
    "inelastic_to_ceiling": "demand is inelastic at observed prices: move toward the ceiling",
    "max_step": "held to the maximum step change from today's price",
    "floor": "held at the price floor (yours or the cheapest competitor's level)",
    "ceiling": "held at the price ceiling (yours or the dearest competitor's level)",
    "min_margin": "raised to keep the minimum margin over unit cost",
    "price_ending": "rounded to an allowed price ending (.99, .95 or whole)",
    "channel_parity": "a channel's price was held within the parity limit of this price",
    "fairness": "segment prices were not set: the business has not opted in to segment discounts",
    "segment_discount": "a segment discount the business opted in to",
    "needs_unit_cost": "unit cost unknown: margin-optimal price, margin floor and profit need it",
    "no_elasticity": "no elasticity: the price never moved enough to learn from",
    "keep_current": "today's price is already as good as the rounded target: no change",
}

_ENDINGS = {".99": 0.99, ".95": 0.95, "whole": 0.0, ".49": 0.49, ".90": 0.90, ".00": 0.0}


def _share(name: str, v: Any, lo: float = 0.0, hi: float = 1.0) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise ConfigError(f"{name} must be a number, not {v!r}")
    if not lo <= float(v) <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, not {v!r}")
    return float(v)


def _prices(name: str, v: Any) -> dict[str, float]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise ConfigError(
            f"{name} must map SKU to a price, e.g. {{'SKU1': 19.99}}, not {type(v).__name__}"
        )
    out: dict[str, float] = {}
    for k, p in v.items():
        if isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p) or p <= 0:
            raise ConfigError(f"{name}[{k!r}] must be a positive price, not {p!r}")
        out[str(k)] = float(p)
    return out


@dataclass(frozen=True)
class Guardrails:
    """The business's pricing rules, applied in :data:`GUARDRAIL_ORDER`.

    Parameters
    ----------
    max_step
        Largest change from today's price in one move (share, default 0.10 = 10 %).
    floor, ceiling
        Per-SKU price limits (currency). Where absent, limits implied by competitor
        price indexes are used when ``use_competitor_index`` is true: with the
        business's own ``price_index`` ``s`` and competitors' ``c_min..c_max``, the floor
        is ``price * c_min / s`` and the ceiling ``price * c_max / s``.
    min_margin
        Minimum gross margin ``(price - cost) / price`` (share, default 0.10).
    price_endings
        Allowed endings: any of ``".99"``, ``".95"``, ``".90"``, ``".49"``, ``"whole"``;
        empty to keep exact prices.
    channel_parity
        Largest difference between a channel's price and the product's price (share,
        default 0.10): marketplaces penalise prices above those elsewhere.
    allow_segment_discounts, segment_discounts
        Segment discounts (``{"students": 0.1}``) are produced only when the business
        opts in. Prices personalised by customer attributes are never produced.
    """

    max_step: float = 0.10
    floor: Mapping[str, float] = field(default_factory=dict)
    ceiling: Mapping[str, float] = field(default_factory=dict)
    use_competitor_index: bool = True
    min_margin: float = 0.10
    price_endings: tuple[str, ...] = (".99", ".95", "whole")
    channel_parity: float = 0.10
    allow_segment_discounts: bool = False
    segment_discounts: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _share("max_step", self.max_step, 0.0, 1.0)
        _share("min_margin", self.min_margin, 0.0, 0.99)
        _share("channel_parity", self.channel_parity, 0.0, 1.0)
        object.__setattr__(self, "floor", _prices("floor", self.floor))
        object.__setattr__(self, "ceiling", _prices("ceiling", self.ceiling))
        for k in set(self.floor) & set(self.ceiling):
            if self.floor[k] > self.ceiling[k]:
                raise ConfigError(
                    f"floor for {k!r} ({self.floor[k]}) is above its ceiling ({self.ceiling[k]})"
                )
        endings = tuple(self.price_endings)
        unknown = [e for e in endings if e not in _ENDINGS]
        if unknown:
            raise ConfigError(
                f"unknown price ending(s) {unknown}; choose from {', '.join(sorted(_ENDINGS))}"
            )
        object.__setattr__(self, "price_endings", endings)
        if not isinstance(self.allow_segment_discounts, bool):
            raise ConfigError("allow_segment_discounts must be True or False")
        if not isinstance(self.segment_discounts, Mapping):
            raise ConfigError("segment_discounts must map a segment name to a discount share")
        for k, d in self.segment_discounts.items():
            _share(f"segment_discounts[{k!r}]", d, 0.0, 0.9)

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_step": self.max_step,
            "floor": dict(self.floor),
            "ceiling": dict(self.ceiling),
            "use_competitor_index": self.use_competitor_index,
            "min_margin": self.min_margin,
            "price_endings": list(self.price_endings),
            "channel_parity": self.channel_parity,
            "allow_segment_discounts": self.allow_segment_discounts,
            "segment_discounts": dict(self.segment_discounts),
        }


def _apply_endings(
    price: FloatArray,
    tiers: list[tuple[FloatArray, FloatArray]],
    endings: tuple[str, ...],
) -> FloatArray:
    """Nearest price with an allowed ending inside the first bounds ``tiers`` that allow one.

    ``tiers`` lists ``(lower, upper)`` bounds from the strictest (all guardrails) to
    the loosest (hard limits only); with no candidate inside any, the nearest ending.
    """
    if not endings:
        return price
    cents = np.array(sorted({_ENDINGS[e] for e in endings}))
    base = np.floor(price)[:, None] + np.arange(-1, 2)[None, :]
    cand = (base[:, :, None] + cents[None, None, :]).reshape(price.size, -1)
    cand = np.where(cand > 0, cand, np.inf)
    dist = np.abs(cand - price[:, None])
    pick = np.argmin(dist, axis=1)
    done = np.zeros(price.size, dtype=bool)
    for lower, upper in tiers:  # two or three tiers of bounds, not data
        inside = (cand >= lower[:, None] - 1e-9) & (cand <= upper[:, None] + 1e-9)
        ok = inside.any(axis=1) & ~done
        pick = np.where(ok, np.argmin(np.where(inside, dist, np.inf), axis=1), pick)
        done |= ok
    out = cand[np.arange(price.size), pick]
    return np.where(np.isfinite(out), np.round(out, 2), price)


def recommend_prices(
    products: pd.DataFrame,
    guardrails: Guardrails | None = None,
    *,
    competitor_range: tuple[float, float] | None = None,
    channel_prices: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recommend one price per product, bounded by the guardrails, with expected effects.

    Parameters
    ----------
    products
        One row per product: ``sku, current_price, unit_cost (NaN if unknown),
        elasticity, se, baseline_units`` (weekly units at today's price) and
        optionally ``name, category, status``.
    guardrails
        The business's rules (defaults when omitted).
    competitor_range
        ``(c_min / s, c_max / s)``: competitors' lowest and highest price index relative
        to the business's own, for floors and ceilings not given by the user.
    channel_prices
        ``sku, channel, posted_price``: today's price per channel (for parity).

    Returns
    -------
    recommendations, channel_table
        ``recommendations`` has the target, the recommended price, the ``basis``,
        ``reasons`` (guardrail codes in :data:`GUARDRAIL_ORDER`, ``;``-joined) and the
        expected yearly change in units, revenue and profit with a 95 % band from the
        elasticity's standard error; ``channel_table`` the per-channel and segment
        prices.

    Notes
    -----
    Margin-optimal price under constant elasticity ``e < -1`` and unit cost ``c``:
    maximising ``(p - c) q0 (p / p0)^e`` gives ``p* = c e / (1 + e)`` (the Lerner
    condition ``(p - c)/p = -1/e``). With ``e >= -1`` revenue rises with price, so the
    model has no interior optimum inside the data: the price moves toward the ceiling.

    References
    ----------
    Lerner, A. P. (1934). The concept of monopoly and the measurement of monopoly
    power. *Review of Economic Studies* 1(3), 157–175.
    Phillips, R. L. (2021). *Pricing and Revenue Optimization*, 2nd ed., ch. 2–3.
    Stanford University Press.
    """
    g = guardrails if guardrails is not None else Guardrails()
    if not isinstance(g, Guardrails):
        raise ConfigError(f"guardrails must be a Guardrails object, not {type(g).__name__}")
    need = ("sku", "current_price", "unit_cost", "elasticity", "se", "baseline_units")
    missing = [c for c in need if c not in products.columns]
    if missing:
        raise ConfigError(f"recommend_prices: products table lacks column(s) {', '.join(missing)}")
    df = products.reset_index(drop=True)
    n = len(df)
    sku = df["sku"].astype(str).to_numpy()
    p0 = df["current_price"].to_numpy(dtype=np.float64, na_value=np.nan)
    c = df["unit_cost"].to_numpy(dtype=np.float64, na_value=np.nan)
    e = df["elasticity"].to_numpy(dtype=np.float64, na_value=np.nan)
    s = df["se"].to_numpy(dtype=np.float64, na_value=np.nan)
    q0 = df["baseline_units"].to_numpy(dtype=np.float64, na_value=np.nan)
    has_e = np.isfinite(e) & np.isfinite(p0) & (p0 > 0)
    has_c = np.isfinite(c) & (c >= 0)
    elastic = has_e & (e < -1)
    reasons: list[list[str]] = [[] for _ in range(n)]

    def tag(mask: NDArray[np.bool_], code: str) -> None:
        for i in np.flatnonzero(mask):
            if code not in reasons[i]:
                reasons[i].append(code)

    # user or competitor floor/ceiling (absolute prices)
    floor = np.array([g.floor.get(k, np.nan) for k in sku], dtype=np.float64)
    ceiling = np.array([g.ceiling.get(k, np.nan) for k in sku], dtype=np.float64)
    if g.use_competitor_index and competitor_range is not None:
        lo_r, hi_r = competitor_range
        floor = np.where(np.isfinite(floor), floor, p0 * lo_r)
        ceiling = np.where(np.isfinite(ceiling), ceiling, p0 * hi_r)
    floor = np.where(np.isfinite(floor), floor, 0.0)
    ceiling = np.where(np.isfinite(ceiling), ceiling, np.inf)

    with np.errstate(divide="ignore", invalid="ignore"):
        optimal = np.where(elastic & has_c, c * e / (1.0 + e), np.nan)
    # inelastic: no interior optimum, so the target is the ceiling (unbounded when none)
    target = np.where(elastic, optimal, np.where(has_e, np.maximum(ceiling, p0), np.nan))
    basis = np.where(
        elastic, "margin_optimal", np.where(has_e, "inelastic_to_ceiling", "no_elasticity")
    )
    tag(~has_e, "no_elasticity")
    tag(has_e & ~has_c, "needs_unit_cost")
    active = has_e & ~np.isnan(target)

    # 1. maximum step
    price = target.copy()
    lo_step, hi_step = p0 * (1 - g.max_step), p0 * (1 + g.max_step)
    stepped = np.clip(price, lo_step, hi_step)
    tag(active & (np.abs(stepped - price) > 1e-9), "max_step")
    price = stepped
    # 2. floor and ceiling
    fc = np.clip(price, floor, np.maximum(ceiling, floor))
    tag(active & (fc > price + 1e-9), "floor")
    tag(active & (fc < price - 1e-9), "ceiling")
    price = fc
    # 3. minimum margin (overrides the ceiling where they conflict)
    min_price = np.where(has_c, c / (1.0 - g.min_margin), 0.0)
    mm = np.maximum(price, min_price)
    tag(active & (mm > price + 1e-9), "min_margin")
    price = mm
    # 4. price endings inside the hard limits
    lower = np.maximum(floor, min_price)
    upper = np.maximum(ceiling, lower)
    soft_lo = np.maximum(lower, np.minimum(lo_step, upper))
    soft_hi = np.minimum(upper, np.maximum(hi_step, lower))
    safe = np.where(active, price, 1.0)
    ended = np.where(
        active, _apply_endings(safe, [(soft_lo, soft_hi), (lower, upper)], g.price_endings), np.nan
    )
    tag(active & (np.abs(ended - price) > 0.005), "price_ending")
    price = ended

    # 5. channel parity: each channel keeps its price ratio, within the parity limit
    chan_rows: list[pd.DataFrame] = []
    if channel_prices is not None and not channel_prices.empty:
        cp = channel_prices.loc[channel_prices["sku"].astype(str).isin(sku)].copy()
        cp["sku"] = cp["sku"].astype(str)
        pos = pd.Series(np.arange(n), index=sku)
        i = pos.reindex(cp["sku"]).to_numpy()
        ratio = cp["posted_price"].to_numpy(dtype=np.float64) / p0[i]
        wanted = price[i] * ratio
        lo_p, hi_p = price[i] * (1 - g.channel_parity), price[i] * (1 + g.channel_parity)
        held = np.clip(wanted, lo_p, hi_p)
        clipped = np.isfinite(wanted) & (np.abs(held - wanted) > 0.005)
        mask = np.zeros(n, dtype=bool)
        mask[i[clipped]] = True
        tag(mask, "channel_parity")
        chan_rows.append(
            pd.DataFrame(
                {
                    "sku": cp["sku"].to_numpy(),
                    "channel": cp["channel"].astype(str).to_numpy(),
                    "segment": "",
                    "current_price": cp["posted_price"].to_numpy(dtype=np.float64),
                    "recommended_price": np.round(held, 2),
                    "reason": np.where(clipped, "channel_parity", ""),
                }
            )
        )
    # 6. fairness: one price for everyone unless segment discounts are opted in
    if g.segment_discounts:
        if g.allow_segment_discounts:
            for seg, d in g.segment_discounts.items():  # a handful of named segments
                seg_price = np.maximum(price * (1 - d), lower)
                chan_rows.append(
                    pd.DataFrame(
                        {
                            "sku": sku[active],
                            "channel": "",
                            "segment": str(seg),
                            "current_price": p0[active],
                            "recommended_price": np.round(seg_price[active], 2),
                            "reason": "segment_discount",
                        }
                    )
                )
        else:
            tag(active, "fairness")

    # expected yearly effects with a band from the elasticity's standard error
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = price / p0

        def effects(el: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
            q1 = q0 * np.power(r, el)
            du = (q1 - q0) * _WEEKS_PER_YEAR
            dr = (price * q1 - p0 * q0) * _WEEKS_PER_YEAR
            dp = np.where(has_c, ((price - c) * q1 - (p0 - c) * q0) * _WEEKS_PER_YEAR, np.nan)
            return du, dr, dp

        mid = effects(e)
        lo = effects(e - _Z95 * np.where(np.isfinite(s), s, 0.0))
        hi = effects(e + _Z95 * np.where(np.isfinite(s), s, 0.0))
    # elastic products without costs get no price: the optimum needs the cost
    no_price = elastic & ~has_c
    price = np.where(no_price, np.nan, price)
    # keep today's price when rounding leaves the move no better than standing still
    p0_ok = (p0 >= lower - 1e-9) & (p0 <= upper + 1e-9)
    keep = active & has_c & p0_ok & np.isfinite(mid[2]) & (mid[2] <= 0) & (price != p0)
    if keep.any():
        tag(keep, "keep_current")
        price = np.where(keep, p0, price)
        zero = np.where(keep, 0.0, np.nan)
        mid = tuple(np.where(keep, zero, m) for m in mid)  # type: ignore[assignment]
        lo = tuple(np.where(keep, zero, m) for m in lo)  # type: ignore[assignment]
        hi = tuple(np.where(keep, zero, m) for m in hi)  # type: ignore[assignment]

    def band(k: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        m, a, b = mid[k], lo[k], hi[k]
        low, high = np.fmin(a, b), np.fmax(a, b)
        return (
            np.where(np.isfinite(price), m, np.nan),
            np.where(np.isfinite(price), low, np.nan),
            np.where(np.isfinite(price), high, np.nan),
        )

    du, du_lo, du_hi = band(0)
    dr, dr_lo, dr_hi = band(1)
    dp, dp_lo, dp_hi = band(2)
    order = {
        code: k
        for k, code in enumerate(
            ("no_elasticity", "needs_unit_cost", *GUARDRAIL_ORDER, "keep_current")
        )
    }
    order.update({"floor": order["floor_ceiling"], "ceiling": order["floor_ceiling"]})
    reason_text = [";".join(sorted(rs, key=lambda x: order.get(x, 99))) for rs in reasons]
    out = pd.DataFrame(
        {
            "sku": sku,
            "name": df["name"].to_numpy() if "name" in df.columns else sku,
            "category": df["category"].to_numpy() if "category" in df.columns else "",
            "current_price": p0,
            "unit_cost": c,
            "elasticity": e,
            "se": s,
            "basis": basis,
            "target_price": np.where(np.isfinite(target), np.round(target, 4), np.nan),
            "recommended_price": price,
            "change": price / p0 - 1.0,
            "reasons": reason_text,
            "floor": np.where(floor > 0, floor, np.nan),
            "ceiling": np.where(np.isfinite(ceiling), ceiling, np.nan),
            "baseline_units_week": q0,
            "units_change_year": du,
            "units_change_year_low": du_lo,
            "units_change_year_high": du_hi,
            "revenue_change_year": dr,
            "revenue_change_year_low": dr_lo,
            "revenue_change_year_high": dr_hi,
            "profit_change_year": dp,
            "profit_change_year_low": dp_lo,
            "profit_change_year_high": dp_hi,
        }
    )
    chan = (
        pd.concat(chan_rows, ignore_index=True)
        if chan_rows
        else pd.DataFrame(
            {
                "sku": pd.Series(dtype=object),
                "channel": pd.Series(dtype=object),
                "segment": pd.Series(dtype=object),
                "current_price": pd.Series(dtype=float),
                "recommended_price": pd.Series(dtype=float),
                "reason": pd.Series(dtype=object),
            }
        )
    )
    return out, chan
