"""Guarded price recommendations from elasticities, costs and the business's rules.

Every guardrail is a bound on the price. The recommendation is chosen inside the
intersection of all of them at once (the *feasible interval*), and the price ending is
picked inside that interval, so no rule can undo another. When the interval is empty,
or holds no price with an allowed ending, the price is withheld and the reasons name
the guardrails in conflict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from levelfield.errors import ConfigError
from levelfield.pricing._panel import WHOLESALE_CHANNELS

__all__ = [
    "GUARDRAIL_ORDER",
    "REASON_CODES",
    "WHOLESALE_CHANNELS",
    "Guardrails",
    "recommend_prices",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
StrArray = NDArray[Any]  # str or object dtype
_Z95 = 1.959963984540054
_WEEKS_PER_YEAR = 52.0

#: Guardrails in the order their reason codes are listed. All of them bound the price
#: at once (their intersection), so the order never decides which rule wins.
GUARDRAIL_ORDER: tuple[str, ...] = (
    "max_step",
    "floor_ceiling",
    "competitor_ceiling",
    "min_margin",
    "price_ending",
    "channel_parity",
    "fairness",
)

#: Reason codes a recommendation can carry, with their meaning.
REASON_CODES: dict[str, str] = {
    "margin_optimal": "target is the margin-optimal price c·e/(1+e) for elastic demand (e < -1)",
    "inelastic_to_ceiling": "demand is inelastic at observed prices: move toward the ceiling",
    "withheld": (
        "no price satisfies every guardrail at once: the other codes name the guardrails "
        "in conflict; loosen one of them to get a price"
    ),
    "max_step": "held to the maximum step change from today's price",
    "floor": "held at the price floor (yours or the cheapest competitor's level)",
    "ceiling": "held at the price ceiling (yours or the dearest competitor's level)",
    "competitor_ceiling": (
        "held at the competitor ceiling: the dearest rival's latest price for this product "
        "(competitor_prices), plus the premium you allow"
    ),
    "min_margin": "raised to keep the minimum margin over unit cost",
    "price_ending": "rounded to an allowed price ending (.99, .95 or whole) inside all limits",
    "channel_parity": "held within the parity limit between a retail channel and this price",
    "fairness": "segment prices were not set: the business has not opted in to segment discounts",
    "segment_discount": "a segment discount the business opted in to",
    "needs_unit_cost": "unit cost unknown: margin-optimal price, margin floor and profit need it",
    "no_elasticity": "no elasticity: the price never moved enough to learn from",
    "keep_current": "today's price is already as good as the rounded target: no change",
}

_ENDINGS = {".99": 0.99, ".95": 0.95, "whole": 0.0, ".49": 0.49, ".90": 0.90, ".00": 0.0}
_LOWER_CODES = ("max_step", "floor", "min_margin", "channel_parity")
_UPPER_CODES = ("max_step", "ceiling", "channel_parity")


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


def _names(name: str, v: Any) -> tuple[str, ...]:
    if isinstance(v, str) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{name} must be a list of channel names, e.g. ['wholesale']")
    return tuple(x.lower() for x in v)


@dataclass(frozen=True)
class Guardrails:
    """The business's pricing rules; a recommendation satisfies all of them at once.

    Parameters
    ----------
    max_step
        Largest change from today's price in one move (share, default 0.10 = 10 %),
        for the product's price and for every channel's price.
    floor, ceiling
        Per-SKU price limits (currency). Where absent, limits implied by competitor
        price indexes are used when ``use_competitor_index`` is true: with the
        business's own ``price_index`` ``s`` and competitors' ``c_min..c_max``, the floor
        is ``price * c_min / s`` and the ceiling ``price * c_max / s``. They bound the
        product's price and its retail channels' prices.
    min_margin
        Minimum gross margin ``(price - cost) / price`` (share, default 0.10), for every
        price of a product with a known unit cost.
    price_endings
        Allowed endings of retail prices: any of ``".99"``, ``".95"``, ``".90"``,
        ``".49"``, ``"whole"``; empty for exact prices (whole cents).
    channel_parity
        Largest difference between a retail channel's price and the product's price
        (share, default 0.10): marketplaces penalise prices above those elsewhere.
    wholesale_channels
        Channels with negotiated prices (default :data:`WHOLESALE_CHANNELS`). Their
        prices keep the maximum step and minimum margin but not parity, endings or the
        retail floor and ceiling, unless ``wholesale_parity`` is true.
    wholesale_parity
        Hold wholesale channels to retail parity too (default false).
    competitor_ceiling
        Hold every retail price at or below the dearest rival's latest observed price
        for the product (``levelfield import competitor_prices``) times
        ``1 + competitor_ceiling_premium`` (default false: rival prices are shown as
        references only). Products no rival prices are not bound.
    competitor_ceiling_premium
        Share above the dearest rival's price the ceiling allows (default 0.0).
    allow_segment_discounts, segment_discounts
        Segment discounts (``{"students": 0.1}``) are produced only when the business
        opts in; they never go below the floor or the minimum margin. Prices
        personalised by customer attributes are never produced.
    """

    max_step: float = 0.10
    floor: Mapping[str, float] = field(default_factory=dict)
    ceiling: Mapping[str, float] = field(default_factory=dict)
    use_competitor_index: bool = True
    min_margin: float = 0.10
    price_endings: tuple[str, ...] = (".99", ".95", "whole")
    channel_parity: float = 0.10
    wholesale_channels: tuple[str, ...] = WHOLESALE_CHANNELS
    wholesale_parity: bool = False
    competitor_ceiling: bool = False
    competitor_ceiling_premium: float = 0.0
    allow_segment_discounts: bool = False
    segment_discounts: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _share("max_step", self.max_step, 0.0, 1.0)
        _share("min_margin", self.min_margin, 0.0, 0.99)
        _share("channel_parity", self.channel_parity, 0.0, 0.99)
        _share("competitor_ceiling_premium", self.competitor_ceiling_premium, 0.0, 1.0)
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
        object.__setattr__(
            self, "wholesale_channels", _names("wholesale_channels", self.wholesale_channels)
        )
        for flag in (
            "use_competitor_index",
            "wholesale_parity",
            "competitor_ceiling",
            "allow_segment_discounts",
        ):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{flag} must be True or False")
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
            "wholesale_channels": list(self.wholesale_channels),
            "wholesale_parity": self.wholesale_parity,
            "competitor_ceiling": self.competitor_ceiling,
            "competitor_ceiling_premium": self.competitor_ceiling_premium,
            "allow_segment_discounts": self.allow_segment_discounts,
            "segment_discounts": dict(self.segment_discounts),
        }

    def cents(self) -> FloatArray | None:
        """The allowed endings as fractions of a currency unit (None: any whole cent)."""
        if not self.price_endings:
            return None
        return np.array(sorted({_ENDINGS[e] for e in self.price_endings}), dtype=np.float64)


# -- kernels ------------------------------------------------------------------------------
def _tol(x: FloatArray) -> FloatArray:
    return 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(x), x, 0.0)))


def has_allowed_ending(price: FloatArray, cents: FloatArray | None) -> BoolArray:
    """Whether each price is a whole number of cents ending in one of ``cents``."""
    c = np.round(price * 100.0)
    exact = np.isfinite(price) & (np.abs(price * 100.0 - c) < 1e-6) & (price > 0)
    if cents is None:
        return exact
    frac = np.mod(c, 100.0) / 100.0
    return exact & (np.abs(frac[:, None] - cents[None, :]) < 1e-9).any(axis=1)


def _nearest_allowed(
    t: FloatArray, lo: FloatArray, hi: FloatArray, cents: FloatArray | None
) -> FloatArray:
    """The allowed price in ``[lo, hi]`` nearest to ``t`` (NaN where there is none).

    The nearest allowed price below ``t`` lies within one currency unit of it, and so
    does the nearest above, so the candidates around ``floor(t)`` are enough.
    """
    if cents is None:
        cand = np.stack([np.floor(t * 100.0), np.ceil(t * 100.0)], axis=1) / 100.0
    else:
        base = np.floor(t)[:, None] + np.arange(-1.0, 2.0)[None, :]
        cand = (base[:, :, None] + cents[None, None, :]).reshape(t.size, 3 * cents.size)
    cand = np.round(cand, 2)
    if t.size == 0:
        return np.empty(0)
    ok = (cand > 0) & (cand >= (lo - _tol(lo))[:, None]) & (cand <= (hi + _tol(hi))[:, None])
    dist = np.where(ok, np.abs(cand - t[:, None]), np.inf)
    out = cand[np.arange(t.size), np.argmin(dist, axis=1)]
    return np.where(ok.any(axis=1), out, np.nan)


def _choose(
    target: FloatArray, p0: FloatArray, lo: FloatArray, hi: FloatArray, cents: FloatArray | None
) -> tuple[FloatArray, BoolArray, BoolArray, BoolArray]:
    """The allowed price inside ``[lo, hi]`` nearest to ``target``.

    When today's price ``p0`` is inside the interval, only prices between it and the
    target qualify (rounding never moves a price against its target). Returns the
    price (NaN where withheld), ``empty`` (``lo > hi``: the guardrails conflict) and
    ``no_end_lo``, ``no_end_hi``: no allowed price in the part of the interval that
    qualifies, blocked by the lower (moving down) or upper (moving up) bound; both
    when today's price is outside the interval.
    """
    empty = lo > hi + _tol(hi)
    hi_ = np.maximum(hi, lo)
    aim = np.where(np.isnan(target), p0, target)
    t = np.clip(aim, lo, hi_)
    p0_in = (p0 >= lo - _tol(lo)) & (p0 <= hi + _tol(hi))
    # the direction comes from the target itself: clipped to a bound at today's price it
    # would equal p0 and read as "up" (a floor at today's price, a target below it)
    down = p0_in & (aim < p0)
    up = p0_in & ~down
    d_lo = np.where(up, np.maximum(p0, lo), lo)
    d_hi = np.where(down, np.minimum(p0, hi_), hi_)
    safe = np.isfinite(t) & np.isfinite(d_lo) & np.isfinite(d_hi)
    tt = np.where(safe, np.clip(t, d_lo, d_hi), 1.0)
    price = _nearest_allowed(tt, np.where(safe, d_lo, 1.0), np.where(safe, d_hi, 1.0), cents)
    price = np.where(safe & ~empty, price, np.nan)
    no_ending = ~empty & np.isnan(price)
    # which bound blocked a price without an allowed ending: the one toward the target
    return price, empty, no_ending & ~up, no_ending & ~down


def _tightest(bounds: list[FloatArray], upper: bool) -> tuple[FloatArray, NDArray[np.intp]]:
    """The binding bound and the index of the rule that sets it (first on ties)."""
    stack = np.vstack(bounds)
    idx = np.argmin(stack, axis=0) if upper else np.argmax(stack, axis=0)
    return stack[idx, np.arange(stack.shape[1])], idx


def _codes_text(masks: Mapping[str, BoolArray], n: int) -> StrArray:
    """``;``-joined reason codes per row, in the fixed order of ``masks``."""
    out = np.full(n, "", dtype=object)
    for code, m in masks.items():  # a dozen codes, each vectorised over rows
        out = np.where(m, np.where(out == "", code, out + ";" + code), out)
    return out.astype(str)


# -- stages -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Limits:
    """Per-product bounds that do not depend on channels (absolute prices)."""

    step_lo: FloatArray
    step_hi: FloatArray
    floor: FloatArray  # -inf where none
    ceiling: FloatArray  # +inf where none
    margin: FloatArray  # lowest price with the minimum margin; -inf without a cost
    rival_binds: BoolArray  # the competitor ceiling is the ceiling (not yours or the index)


def _limits(
    g: Guardrails,
    sku: StrArray,
    p0: FloatArray,
    c: FloatArray,
    competitor_range: tuple[float, float] | None,
    rival_high: FloatArray,
) -> _Limits:
    floor = np.array([g.floor.get(k, np.nan) for k in sku], dtype=np.float64)
    ceiling = np.array([g.ceiling.get(k, np.nan) for k in sku], dtype=np.float64)
    if g.use_competitor_index and competitor_range is not None:
        lo_r, hi_r = competitor_range
        floor = np.where(np.isfinite(floor), floor, p0 * lo_r)
        ceiling = np.where(np.isfinite(ceiling), ceiling, p0 * hi_r)
    ceiling = np.where(np.isfinite(ceiling), ceiling, np.inf)
    rival = np.full(sku.size, np.inf)
    if g.competitor_ceiling:
        ok = np.isfinite(rival_high) & (rival_high > 0)
        rival = np.where(ok, rival_high * (1.0 + g.competitor_ceiling_premium), np.inf)
    rival_binds = np.isfinite(rival) & (rival <= ceiling)
    has_c = np.isfinite(c) & (c >= 0)
    return _Limits(
        step_lo=p0 * (1.0 - g.max_step),
        step_hi=p0 * (1.0 + g.max_step),
        floor=np.where(np.isfinite(floor), floor, -np.inf),
        ceiling=np.minimum(ceiling, rival),
        margin=np.where(has_c, c / (1.0 - g.min_margin), -np.inf),
        rival_binds=rival_binds,
    )


@dataclass(frozen=True)
class _Channels:
    """Today's channel prices with each channel's own bounds (before parity)."""

    sku: StrArray
    channel: StrArray
    row: NDArray[np.intp]  # product row of each channel price
    p0: FloatArray
    retail: BoolArray  # held to parity, endings, floor and ceiling
    lo: FloatArray
    hi: FloatArray
    lo_idx: NDArray[np.intp]  # into _LOWER_CODES
    hi_idx: NDArray[np.intp]  # into _UPPER_CODES


def _channels(
    channel_prices: pd.DataFrame | None, g: Guardrails, sku: StrArray, lim: _Limits
) -> _Channels:
    cp = channel_prices if channel_prices is not None else pd.DataFrame()
    if cp.empty:
        cp = pd.DataFrame({"sku": [], "channel": [], "posted_price": []})
    pos = pd.Series(np.arange(sku.size), index=sku)
    keep = cp["sku"].astype(str).isin(pos.index) & (
        pd.to_numeric(cp["posted_price"], errors="coerce") > 0
    )
    cp = cp.loc[keep]
    i = pos.reindex(cp["sku"].astype(str)).to_numpy(dtype=np.intp)
    pc0 = cp["posted_price"].to_numpy(dtype=np.float64)
    name = cp["channel"].astype(str).to_numpy()
    retail = g.wholesale_parity | ~np.isin(np.char.lower(name.astype(str)), g.wholesale_channels)
    inf = np.full(pc0.size, np.inf)
    lo, lo_idx = _tightest(
        [
            pc0 * (1.0 - g.max_step),
            np.where(retail, lim.floor[i], -inf),
            lim.margin[i],
            -inf,
        ],
        upper=False,
    )
    hi, hi_idx = _tightest(
        [pc0 * (1.0 + g.max_step), np.where(retail, lim.ceiling[i], inf), inf], upper=True
    )
    return _Channels(
        sku=cp["sku"].astype(str).to_numpy(),
        channel=name,
        row=i,
        p0=pc0,
        retail=retail,
        lo=lo,
        hi=hi,
        lo_idx=lo_idx,
        hi_idx=hi_idx,
    )


def _parity_bounds(ch: _Channels, g: Guardrails, n: int) -> tuple[FloatArray, FloatArray]:
    """Product prices that leave every retail channel a price within parity and its own
    bounds: ``P >= lo_c / (1 + parity)`` and ``P <= hi_c / (1 - parity)``.

    A channel whose own bounds already conflict is withheld on its own and does not
    bind the product.
    """
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    use = ch.retail & (ch.lo <= ch.hi + _tol(ch.hi))
    np.maximum.at(lo, ch.row[use], ch.lo[use] / (1.0 + g.channel_parity))
    np.minimum.at(hi, ch.row[use], ch.hi[use] / (1.0 - g.channel_parity))
    return lo, hi


def _conflict_masks(
    lo_idx: NDArray[np.intp],
    hi_idx: NDArray[np.intp],
    empty: BoolArray,
    no_end_lo: BoolArray,
    no_end_hi: BoolArray,
) -> dict[str, BoolArray]:
    """Reason codes of a withheld price: the guardrails that left no allowed price."""
    lo_ = empty | no_end_lo
    hi_ = empty | no_end_hi
    return {
        "max_step": (lo_ & (lo_idx == 0)) | (hi_ & (hi_idx == 0)),
        "floor": lo_ & (lo_idx == 1),
        "ceiling": hi_ & (hi_idx == 1),
        "min_margin": lo_ & (lo_idx == 2),
        "price_ending": no_end_lo | no_end_hi,
        "channel_parity": (lo_ & (lo_idx == 3)) | (hi_ & (hi_idx == 2)),
    }


def _reason_masks(
    target: FloatArray,
    price: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    lo_idx: NDArray[np.intp],
    hi_idx: NDArray[np.intp],
    empty: BoolArray,
    no_end_lo: BoolArray,
    no_end_hi: BoolArray,
) -> dict[str, BoolArray]:
    """Which guardrails bound each price (or, when withheld, which conflict)."""
    ok = np.isfinite(price)
    t = np.clip(np.where(np.isnan(target), price, target), lo, np.maximum(hi, lo))
    above = ok & (target > hi + _tol(hi))
    below = ok & (target < lo - _tol(lo))
    conflict = _conflict_masks(lo_idx, hi_idx, empty, no_end_lo, no_end_hi)
    bound = {
        "max_step": (above & (hi_idx == 0)) | (below & (lo_idx == 0)),
        "floor": below & (lo_idx == 1),
        "ceiling": above & (hi_idx == 1),
        "min_margin": below & (lo_idx == 2),
        "price_ending": ok & (np.abs(price - t) > 0.005),
        "channel_parity": (above & (hi_idx == 2)) | (below & (lo_idx == 3)),
    }
    return {k: conflict[k] | bound[k] for k in bound}


def _channel_table(
    ch: _Channels,
    g: Guardrails,
    p0: FloatArray,
    price: FloatArray,
    product_reasons: StrArray,
) -> tuple[pd.DataFrame, BoolArray]:
    """Each channel's price: its ratio to the product price kept, inside its bounds.

    Returns the table and, per channel price, whether parity held it.
    """
    P = price[ch.row]
    par = np.where(ch.retail, g.channel_parity, np.inf)
    plo, phi = P * (1.0 - par), P * (1.0 + par)
    plo = np.where(ch.retail, plo, -np.inf)
    lo, lo_idx = _tightest([ch.lo, plo], upper=False)
    hi, hi_idx = _tightest([ch.hi, phi], upper=True)
    lo_idx = np.where(lo_idx == 1, 3, ch.lo_idx)  # back to _LOWER_CODES
    hi_idx = np.where(hi_idx == 1, 2, ch.hi_idx)  # back to _UPPER_CODES
    target = P * ch.p0 / p0[ch.row]
    has_p = np.isfinite(P)
    cents = g.cents()
    out = np.full(P.size, np.nan)
    flags = np.zeros((3, P.size), dtype=bool)  # empty, no ending below, no ending above
    for kind in (True, False):  # retail channels take endings, wholesale exact cents
        m = has_p & (ch.retail == kind)
        pr, *fl = _choose(target[m], ch.p0[m], lo[m], hi[m], cents if kind else None)
        out[m] = pr
        flags[:, m] = np.vstack(fl)
    withheld = flags[0] | flags[1] | flags[2]
    masks = _reason_masks(target, out, lo, hi, lo_idx, hi_idx, *flags)
    text = _codes_text({"withheld": withheld, **masks}, P.size)
    text = np.where(has_p, text, product_reasons[ch.row])
    table = pd.DataFrame(
        {
            "sku": ch.sku,
            "channel": ch.channel,
            "segment": "",
            "current_price": ch.p0,
            "recommended_price": out,
            "reason": text,
        }
    )
    return table, masks["channel_parity"]


def _segment_table(
    g: Guardrails, sku: StrArray, p0: FloatArray, price: FloatArray, lim: _Limits
) -> pd.DataFrame | None:
    """Opted-in segment discounts, never below the floor or the minimum margin."""
    if not (g.segment_discounts and g.allow_segment_discounts):
        return None
    ok = np.isfinite(price)
    hard = np.maximum(lim.floor, lim.margin)[ok]
    rows = []
    for seg, d in g.segment_discounts.items():  # a handful of named segments
        want = np.floor(price[ok] * (1.0 - d) * 100.0 + 1e-6) / 100.0
        held = np.maximum(want, np.ceil(hard * 100.0 - 1e-6) / 100.0)
        code = np.where(
            held > want,
            np.where(
                hard == lim.margin[ok], "segment_discount;min_margin", "segment_discount;floor"
            ),
            "segment_discount",
        )
        rows.append(
            pd.DataFrame(
                {
                    "sku": sku[ok],
                    "channel": "",
                    "segment": str(seg),
                    "current_price": p0[ok],
                    "recommended_price": np.minimum(held, price[ok]),
                    "reason": code,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _effects(
    p0: FloatArray, price: FloatArray, c: FloatArray, e: FloatArray, s: FloatArray, q0: FloatArray
) -> dict[str, FloatArray]:
    """Expected yearly change in units, revenue and profit, with a 95 % band from the SE."""
    has_c = np.isfinite(c) & (c >= 0)
    sd = np.where(np.isfinite(s), s, 0.0)
    out: dict[str, FloatArray] = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = price / p0
        runs = []
        for el in (e, e - _Z95 * sd, e + _Z95 * sd):  # estimate and the two band ends
            q1 = q0 * np.power(r, el)
            runs.append(
                {
                    "units": (q1 - q0) * _WEEKS_PER_YEAR,
                    "revenue": (price * q1 - p0 * q0) * _WEEKS_PER_YEAR,
                    "profit": np.where(
                        has_c, ((price - c) * q1 - (p0 - c) * q0) * _WEEKS_PER_YEAR, np.nan
                    ),
                }
            )
    ok = np.isfinite(price)
    for k in ("units", "revenue", "profit"):
        mid, a, b = (run[k] for run in runs)
        out[f"{k}_change_year"] = np.where(ok, mid, np.nan)
        out[f"{k}_change_year_low"] = np.where(ok, np.fmin(a, b), np.nan)
        out[f"{k}_change_year_high"] = np.where(ok, np.fmax(a, b), np.nan)
    return out


def _product_price(
    g: Guardrails,
    lim: _Limits,
    parity: tuple[FloatArray, FloatArray],
    target: FloatArray,
    p0: FloatArray,
    active: BoolArray,
) -> tuple[FloatArray, dict[str, BoolArray], BoolArray]:
    """The product price inside all guardrails at once, its reason masks and ``p0_ok``
    (today's price satisfies every guardrail, ending included)."""
    lo, lo_idx = _tightest([lim.step_lo, lim.floor, lim.margin, parity[0]], upper=False)
    hi, hi_idx = _tightest([lim.step_hi, lim.ceiling, parity[1]], upper=True)
    cents = g.cents()
    price, *flags = _choose(target, p0, lo, hi, cents)
    price = np.where(active, price, np.nan)
    empty, end_lo, end_hi = (active & f for f in flags)
    withheld = empty | end_lo | end_hi
    masks = _reason_masks(target, price, lo, hi, lo_idx, hi_idx, empty, end_lo, end_hi)
    p0_ok = (
        active
        & (p0 >= lo - _tol(lo))
        & (p0 <= hi + _tol(hi))
        & (lo <= hi + _tol(hi))
        & has_allowed_ending(p0, cents)
    )
    return price, {"withheld": withheld, **masks}, p0_ok


_REFERENCE = ("rivals", "rival_low", "rival_reference", "rival_high")


def _reference_columns(sku: StrArray, rival_reference: pd.DataFrame | None) -> dict[str, Any]:
    """The rivals' latest prices per product, aligned to ``sku`` (NaN where none)."""
    ref = rival_reference if rival_reference is not None else pd.DataFrame()
    if ref.empty:
        ref = pd.DataFrame(columns=["sku", *_REFERENCE, "rivals_as_of"])
    by = ref.drop_duplicates("sku").set_index(ref["sku"].drop_duplicates().astype(str))
    out: dict[str, Any] = {
        k: by[k].reindex(sku).to_numpy(dtype=np.float64, na_value=np.nan) for k in _REFERENCE
    }
    out["rivals"] = np.nan_to_num(out["rivals"], nan=0.0).astype(np.int64)
    out["rivals_as_of"] = pd.to_datetime(by["rivals_as_of"].reindex(sku)).to_numpy()
    return out


def _split_ceiling(masks: dict[str, BoolArray], rival_binds: BoolArray) -> dict[str, BoolArray]:
    """``ceiling`` becomes ``competitor_ceiling`` where the rivals' price set the ceiling."""
    out: dict[str, BoolArray] = {}
    for k, m in masks.items():
        if k == "ceiling":
            out["ceiling"] = m & ~rival_binds
            out["competitor_ceiling"] = m & rival_binds
        else:
            out[k] = m
    return out


_PRODUCT_COLUMNS = ("sku", "current_price", "unit_cost", "elasticity", "se", "baseline_units")


def _product_inputs(
    products: pd.DataFrame,
) -> tuple[pd.DataFrame, NDArray[Any], tuple[FloatArray, ...]]:
    """The products table with a fresh index, SKUs as text, and its numeric columns
    ``(current_price, unit_cost, elasticity, se, baseline_units)`` as floats (NaN
    where missing)."""
    missing = [c for c in _PRODUCT_COLUMNS if c not in products.columns]
    if missing:
        raise ConfigError(f"recommend_prices: products table lacks column(s) {', '.join(missing)}")
    df = products.reset_index(drop=True)
    sku = df["sku"].astype(str).to_numpy()
    values = tuple(df[k].to_numpy(dtype=np.float64, na_value=np.nan) for k in _PRODUCT_COLUMNS[1:])
    return df, sku, values


def _targets(
    p0: FloatArray, c: FloatArray, e: FloatArray, has_c: NDArray[np.bool_], ceiling: FloatArray
) -> tuple[FloatArray, NDArray[Any], NDArray[np.bool_]]:
    """The price each product aims at before the guardrails, and why.

    Elastic products (e < -1) with a cost aim at the margin-optimal price
    ``c e / (1 + e)`` (Lerner); inelastic ones have no interior optimum, so they aim at
    the ceiling (unbounded when none) or stay; products without an elasticity get no
    target. Returns ``(target, basis, active)``.
    """
    has_e = np.isfinite(e) & np.isfinite(p0) & (p0 > 0)
    elastic = has_e & (e < -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        optimal = np.where(elastic & has_c, c * e / (1.0 + e), np.nan)
    target = np.where(elastic, optimal, np.where(has_e, np.maximum(ceiling, p0), np.nan))
    basis = np.where(
        elastic, "margin_optimal", np.where(has_e, "inelastic_to_ceiling", "no_elasticity")
    )
    return target, basis, has_e & ~np.isnan(target)


def _keep_current(
    p0: FloatArray, price: FloatArray, can_keep: NDArray[np.bool_], eff: dict[str, FloatArray]
) -> tuple[FloatArray, dict[str, FloatArray], NDArray[np.bool_]]:
    """Keep today's price where the (rounded) move is no better than standing still.

    ``can_keep`` marks products whose price today is inside every guardrail and whose
    profit can be computed. Returns the prices, the effects (0 where kept) and the mask.
    """
    keep = can_keep & (eff["profit_change_year"] <= 0) & (np.abs(price - p0) > 1e-9)
    return np.where(keep, p0, price), {k: np.where(keep, 0.0, v) for k, v in eff.items()}, keep


def _identity_columns(df: pd.DataFrame, sku: NDArray[Any]) -> dict[str, Any]:
    """``sku, name, category`` of the recommendations (name defaults to the SKU)."""
    return {
        "sku": sku,
        "name": df["name"].to_numpy() if "name" in df.columns else sku,
        "category": df["category"].to_numpy() if "category" in df.columns else "",
    }


def recommend_prices(
    products: pd.DataFrame,
    guardrails: Guardrails | None = None,
    *,
    competitor_range: tuple[float, float] | None = None,
    channel_prices: pd.DataFrame | None = None,
    rival_reference: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recommend one price per product inside every guardrail at once, with effects.

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
    rival_reference
        ``sku, rivals, rival_low, rival_reference, rival_high, rivals_as_of``: the
        rivals' latest prices per product (:func:`rival_reference`); shown as reference
        prices, and ``rival_high`` is the competitor ceiling when
        ``guardrails.competitor_ceiling`` is on.

    Returns
    -------
    recommendations, channel_table
        ``recommendations`` has the target, the recommended price (NaN when withheld),
        the ``basis``, ``reasons`` (codes of :data:`REASON_CODES`, ``;``-joined; a
        withheld price has ``withheld`` and the codes of the guardrails in conflict) and
        the expected yearly change in units, revenue and profit with a 95 % band from
        the elasticity's standard error; ``channel_table`` the per-channel and segment
        prices, each inside its own guardrails.

    Notes
    -----
    Margin-optimal price under constant elasticity ``e < -1`` and unit cost ``c``:
    maximising ``(p - c) q0 (p / p0)^e`` gives ``p* = c e / (1 + e)`` (the Lerner
    condition ``(p - c)/p = -1/e``). With ``e >= -1`` revenue rises with price, so the
    model has no interior optimum inside the data: the price moves toward the ceiling.

    Every guardrail is an interval on the price: max step ``[p0(1-s), p0(1+s)]``,
    floor and ceiling, minimum margin ``[c/(1-m), inf)`` and, for channel parity, the
    product prices that leave each retail channel a price within parity and inside
    its own step, margin, floor and ceiling. The target is moved into the
    intersection, then to the nearest allowed ending inside it (between today's price
    and the target when today's price is inside, so rounding never moves a price
    against its target). An empty intersection, or one without an allowed ending,
    withholds the price.

    References
    ----------
    Lerner, A. P. (1934). The concept of monopoly and the measurement of monopoly
    power. *Review of Economic Studies* 1(3), 157–175.
    Phillips, R. L. (2021). *Pricing and Revenue Optimization*, 2nd ed., ch. 2–3.
    Stanford University Press.

    Over 80 lines with this docstring; the body (about 45 lines) only chains the
    stages: inputs, limits, targets, channel bounds, price, effects, reasons, tables.
    """
    g = guardrails if guardrails is not None else Guardrails()
    if not isinstance(g, Guardrails):
        raise ConfigError(f"guardrails must be a Guardrails object, not {type(g).__name__}")
    df, sku, (p0, c, e, s, q0) = _product_inputs(products)
    n = len(df)
    has_e = np.isfinite(e) & np.isfinite(p0) & (p0 > 0)
    has_c = np.isfinite(c) & (c >= 0)
    ref = _reference_columns(sku, rival_reference)
    lim = _limits(g, sku, p0, c, competitor_range, ref["rival_high"])
    target, basis, active = _targets(p0, c, e, has_c, lim.ceiling)
    ch = _channels(channel_prices, g, sku, lim)
    price, masks, p0_ok = _product_price(g, lim, _parity_bounds(ch, g, n), target, p0, active)
    price, eff, keep = _keep_current(p0, price, p0_ok & has_c, _effects(p0, price, c, e, s, q0))
    fair = np.zeros(n, dtype=bool)
    if g.segment_discounts and not g.allow_segment_discounts:
        fair = active
    masks = _split_ceiling(masks, lim.rival_binds)
    lead = {"withheld": masks.pop("withheld"), "no_elasticity": ~has_e}
    lead["needs_unit_cost"] = has_e & ~has_c
    pre = _codes_text({**lead, **masks}, n)
    chan, parity_held = _channel_table(ch, g, p0, price, pre)
    held = np.zeros(n, dtype=bool)
    held[ch.row[parity_held]] = True
    masks["channel_parity"] = masks["channel_parity"] | held
    reasons = _codes_text(
        {**lead, **masks, "fairness": fair, "keep_current": keep},
        n,
    )
    seg = _segment_table(g, sku, p0, price, lim)
    out = pd.DataFrame(
        {
            **_identity_columns(df, sku),
            "current_price": p0,
            "unit_cost": c,
            "elasticity": e,
            "se": s,
            "basis": basis,
            "target_price": np.where(np.isfinite(target), np.round(target, 4), np.nan),
            "recommended_price": price,
            "change": price / p0 - 1.0,
            "reasons": reasons,
            "withheld": lead["withheld"],
            "floor": np.where(np.isfinite(lim.floor), lim.floor, np.nan),
            "ceiling": np.where(np.isfinite(lim.ceiling), lim.ceiling, np.nan),
            "baseline_units_week": q0,
            **ref,
            "price_vs_rivals": p0 / ref["rival_reference"] - 1.0,
            **eff,
        }
    )
    chan = pd.concat([chan, seg], ignore_index=True) if seg is not None else chan
    chan["recommended_price"] = chan["recommended_price"].astype(np.float64)
    chan["current_price"] = chan["current_price"].astype(np.float64)
    return out, chan
