"""Draw the demo business's history from known models (pure, vectorized NumPy).

The simulation is one function, :func:`simulate`, which turns a seed into arrays of
orders and order lines plus the ground truth that generated them. No file is written
here; ``_exports`` turns the arrays into platform files.

Customers (BG/NBD, Fader, Hardie & Lee 2005; time unit weeks): each identified customer
makes a first purchase on an acquisition day, then repeat purchases as a Poisson process
with rate ``lambda ~ Gamma(r, alpha)`` and, after each repeat purchase, drops out with
probability ``p ~ Beta(a, b)``. Purchase times are mapped to whole days after the first
purchase (``ceil(7 t)``); the rare second purchase on the same day is merged into one
order (counted in the truth) so that daily summaries see at most one order per day.

Spend (Gamma-Gamma, Fader, Hardie & Lee 2005b): each order gets a budget
``z ~ Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)`` per customer. The budget is spent in
whole units: ``max(1, stochastic_round(z / v))`` baseline units, where ``v`` is the
expected value of one baseline unit on that day and channel, so order values equal the
budget in expectation.

Demand (constant elasticity): each baseline unit picks a product with fixed shares; a
unit of product ``j`` posted at price ``P`` turns into ``1 + Poisson(f - 1)`` units with
``f = (P / P_ref_j) ** e_j`` (``P_ref_j`` the highest posted price of ``j``), so expected
units are proportional to ``P ** e_j`` times a product constant and a channel-day term:
regressing log weekly units on log posted price with product and week fixed effects
recovers ``e_j``. Promotions multiply ``f`` by a known uplift without touching the
posted price.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from levelfield.demo._catalog import (
    CAFE_NAMES,
    CATEGORY_ELASTICITY,
    CITIES,
    PRODUCTS,
)
from levelfield.errors import ConfigError

__all__ = [
    "BGNBD",
    "CHANNEL_CODES",
    "END",
    "GAMMA_GAMMA",
    "START",
    "Simulation",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

START = dt.date(2023, 1, 1)
END = dt.date(2025, 12, 31)
N_DAYS = (END - START).days + 1

#: BG/NBD parameters (time unit: weeks).
BGNBD: dict[str, float] = {"r": 0.75, "alpha": 8.0, "a": 0.6, "b": 3.5}
#: Gamma-Gamma spend parameters (USD per order): mean spend p * gamma / (q - 1).
GAMMA_GAMMA: dict[str, float] = {"p": 6.0, "q": 4.0, "gamma": 19.0}

#: Order channels in array code order; wholesale orders are simulated separately.
CHANNEL_CODES: tuple[str, ...] = ("shopify", "etsy", "amazon", "wholesale")
RETAIL = ("shopify", "etsy", "amazon")
#: Target shares of net revenue used to size the anonymous volume (Amazon, wholesale).
TARGET_SHARES: dict[str, float] = {"shopify": 0.38, "etsy": 0.22, "amazon": 0.30, "wholesale": 0.10}
SHOPIFY_CUSTOMER_SHARE = 0.62
GUEST_SHARE = 0.04  # extra Shopify orders without an e-mail (guest/POS checkouts)
REFUND_RATE = 0.042  # of Shopify and Etsy orders: about 3 % of all orders
FULL_REFUND_SHARE = 0.6
SHIPPING_FEE = 6.95
FREE_SHIPPING_FROM = 45.0
ETSY_SHIPPING = 5.50
N_CAFES = 40

# Acquisition and marketplace seasonality (Jan..Dec), with Nov-Dec gift peaks.
MONTH_SEASON = np.array([0.85, 0.75, 0.85, 0.9, 0.95, 0.9, 0.85, 0.9, 0.95, 1.05, 1.65, 2.1])
YEARLY_GROWTH = 0.2

# Two staggered historical price increases hitting different products on different days.
PRICE_CHANGES: tuple[dict[str, Any], ...] = (
    {
        "id": "2023-autumn",
        "date": dt.date(2023, 9, 11),
        "change": 0.15,
        "skus": (
            "SO-ETH-YIR", "SO-ETH-GUJ", "SO-COL-HUI", "SO-BRA-CER", "SO-GTM-ANT",
            "SO-IDN-SUM", "DC-COL-SWP", "DC-HOUSE", "DC-ESP", "EQ-DRIPPER", "EQ-PRESS",
        ),
    },
    {
        "id": "2024-summer",
        "date": dt.date(2024, 8, 5),
        "change": 0.12,
        "skus": (
            "BL-HOUSE", "BL-ESP", "BL-BKFST", "BL-DARK", "BL-HEARTH", "BL-COLD",
            "GF-SAMPLER", "GF-HOLIDAY", "SUB-MONTH", "GF-MUGSET", "EQ-FILTER",
            "EQ-GRINDER", "EQ-KETTLE", "EQ-SCALE", "SO-ETH-YIR", "SO-COL-HUI",
        ),
    },
)  # fmt: skip

PILOT: dict[str, Any] = {
    "pilot_id": "etsy-blend-price-2025",
    "name": "Etsy +10% on core blends (spring 2025)",
    "skus": ("BL-HOUSE", "BL-ESP", "BL-BKFST", "BL-DARK"),
    "test": "etsy",
    "control": "shopify",
    "starts_on": dt.date(2025, 4, 7),
    "ends_on": dt.date(2025, 6, 1),
    "price_change": 0.10,
}

# Product-specific promotions: a discount code, posted price unchanged (Shopify only).
PROMOTIONS: tuple[dict[str, Any], ...] = (
    {"code": "GUJI15", "sku": "SO-ETH-GUJ", "channel": "shopify", "starts_on": dt.date(2023, 5, 1),
     "ends_on": dt.date(2023, 5, 14), "discount": 0.15, "uplift": 1.3, "redemption": 0.75},
    {"code": "KETTLE20", "sku": "EQ-KETTLE", "channel": "shopify", "starts_on": dt.date(2024, 3, 4),
     "ends_on": dt.date(2024, 3, 17), "discount": 0.20, "uplift": 1.4, "redemption": 0.75},
    {"code": "PRESS25", "sku": "EQ-PRESS", "channel": "shopify", "starts_on": dt.date(2025, 2, 3),
     "ends_on": dt.date(2025, 2, 16), "discount": 0.25, "uplift": 1.5, "redemption": 0.75},
    {"code": "DECAF10", "sku": "DC-COL-SWP", "channel": "shopify", "starts_on": dt.date(2025, 9, 8),
     "ends_on": dt.date(2025, 9, 21), "discount": 0.10, "uplift": 1.2, "redemption": 0.75},
)  # fmt: skip

WHOLESALE_SKUS = (
    "BL-HOUSE", "BL-ESP", "BL-BKFST", "BL-DARK", "DC-HOUSE", "DC-ESP", "SO-COL-HUI",
    "SO-BRA-CER", "SO-ETH-YIR", "BL-COLD",
)  # fmt: skip
WHOLESALE_DISCOUNT = 0.40  # cafés pay 60 % of the posted retail price


def day_index(d: dt.date) -> int:
    """Days since :data:`START`."""
    return (d - START).days


@dataclass(frozen=True, eq=False)
class Simulation:
    """Simulated history: orders, lines, customers, wholesale invoices and the truth.

    Order arrays are aligned (one entry per order, ``channel`` codes index
    :data:`CHANNEL_CODES`); line arrays are aligned and sorted by order then SKU.
    ``customer`` is -1 for anonymous orders (Amazon, guest checkouts). Money in USD.
    """

    seed: int
    n_customers: int
    skus: tuple[str, ...]
    # customers
    cust_channel: IntArray
    cust_first_day: IntArray
    cust_lambda: FloatArray
    cust_p: FloatArray
    cust_nu: FloatArray
    cust_city: IntArray
    # orders (retail channels: shopify, etsy, amazon)
    channel: IntArray
    customer: IntArray
    day: IntArray
    second: IntArray
    budget: FloatArray
    discount_code: IntArray  # index into PROMOTIONS, -1 none
    discount: FloatArray
    shipping: FloatArray
    tax: FloatArray
    refund_kind: IntArray  # 0 none, 1 full, 2 partial
    refunded: FloatArray
    city: IntArray
    # lines
    line_order: IntArray
    line_sku: IntArray
    line_qty: IntArray
    line_price: FloatArray
    line_discount: FloatArray
    # wholesale
    ws_cafe: IntArray
    ws_day: IntArray
    ws_line_order: IntArray
    ws_line_sku: IntArray
    ws_line_qty: IntArray
    ws_line_price: FloatArray
    # prices[c, j, d] for the retail channels, and the per-product reference price
    prices: FloatArray
    price_ref: FloatArray
    elasticity: FloatArray
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def n_orders(self) -> int:
        return int(self.channel.shape[0])

    def order_gross(self) -> FloatArray:
        """Merchandise value of each order at posted prices (USD)."""
        return np.bincount(
            self.line_order,
            weights=self.line_qty * self.line_price,
            minlength=self.n_orders,
        ).astype(np.float64)


def _round_to_half(x: FloatArray) -> FloatArray:
    return np.round(x * 2.0) / 2.0


def _cents(x: npt.ArrayLike) -> FloatArray:
    return np.round(np.asarray(x, dtype=np.float64) + 1e-9, 2)


def price_schedule(elasticity: FloatArray) -> tuple[FloatArray, FloatArray, dict[str, Any]]:
    """Posted prices ``[channel, sku, day]`` for the retail channels and the changes."""
    skus = [p.sku for p in PRODUCTS]
    base = np.array([p.list_price for p in PRODUCTS])
    J = len(skus)
    prices = np.broadcast_to(base[None, :, None], (len(RETAIL), J, N_DAYS)).copy()
    changes = []
    for change in PRICE_CHANGES:
        idx = np.array([skus.index(s) for s in change["skus"]])
        d0 = day_index(change["date"])
        old = prices[0, idx, d0]
        new = _round_to_half(old * (1.0 + change["change"]))
        prices[:, idx, d0:] = new[None, :, None]
        changes.append(
            {
                "id": change["id"],
                "date": change["date"].isoformat(),
                "nominal_change": change["change"],
                "channels": list(RETAIL),
                "prices": {
                    s: {"old": float(o), "new": float(n)}
                    for s, o, n in zip(change["skus"], old, new, strict=True)
                },
            }
        )
    pidx = np.array([skus.index(s) for s in PILOT["skus"]])
    ps, pe = day_index(PILOT["starts_on"]), day_index(PILOT["ends_on"]) + 1
    c = RETAIL.index(PILOT["test"])
    prices[c, pidx, ps:pe] = _cents(prices[c, pidx, ps:pe] * (1.0 + PILOT["price_change"]))
    price_ref = prices.max(axis=(0, 2))
    return prices, price_ref, {"changes": changes}


def _seasonal_day_weights(extra_q4: float = 1.0) -> FloatArray:
    days = np.arange(N_DAYS)
    dates = np.datetime64(START.isoformat()) + days
    month = dates.astype("datetime64[M]").astype(np.int64) % 12
    season = MONTH_SEASON[month] ** extra_q4
    growth = 1.0 + YEARLY_GROWTH * days / 365.25
    w = season * growth
    return np.asarray(w / w.sum(), dtype=np.float64)


def _bgnbd_repeat_days(
    rng: np.random.Generator, lam: FloatArray, p: FloatArray, horizon_days: IntArray
) -> tuple[IntArray, IntArray, int]:
    """Repeat-purchase day offsets (>= 1) of each customer under BG/NBD.

    Returns (customer index, day offset, number of same-day purchases merged).
    """
    T = horizon_days / 7.0
    n_arrivals = rng.poisson(lam * T)
    n_before_death = rng.geometric(p)  # dies right after this many repeat purchases
    x = np.minimum(n_arrivals, n_before_death)
    cust = np.repeat(np.arange(lam.shape[0]), n_arrivals)
    t = rng.random(cust.shape[0]) * T[cust]
    order = np.lexsort((t, cust))
    cust, t = cust[order], t[order]
    starts = np.cumsum(n_arrivals) - n_arrivals
    rank = np.arange(cust.shape[0]) - starts[cust]
    keep = rank < x[cust]
    cust, t = cust[keep], t[keep]
    offset = np.clip(np.ceil(t * 7.0).astype(np.int64), 1, np.maximum(horizon_days[cust], 1))
    key = cust * (N_DAYS + 1) + offset
    ukey, first = np.unique(key, return_index=True)
    merged = int(key.shape[0] - ukey.shape[0])
    return cust[first], offset[first], merged


def _choose_lines(
    rng: np.random.Generator,
    n_units: IntArray,
    shares: FloatArray,
    f: FloatArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """Baseline units -> (order, sku, quantity) lines with constant-elasticity boosts.

    ``n_units[o]`` baseline units of order ``o`` each pick a product with ``shares``;
    ``f[o, j] >= 1`` is the demand multiplier of product ``j`` in order ``o``'s channel
    and day, so a line's quantity is ``count + Poisson(count * (f - 1))``.
    """
    order = np.repeat(np.arange(n_units.shape[0]), n_units)
    cum = np.cumsum(shares)
    sku = np.minimum(
        np.searchsorted(cum, rng.random(order.shape[0]) * cum[-1], side="right"),
        shares.shape[0] - 1,
    )
    J = shares.shape[0]
    key = order * J + sku
    ukey, counts = np.unique(key, return_counts=True)
    lo, ls = ukey // J, ukey % J
    boost = f[lo, ls] - 1.0
    qty = counts + rng.poisson(counts * boost)
    return lo.astype(np.int64), ls.astype(np.int64), qty.astype(np.int64)


def _check_simulation_args(seed: object, n_customers: object) -> None:
    """Raise :class:`ConfigError` unless ``seed`` is an integer and ``n_customers`` an
    integer from 100 to 1,000,000."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"seed must be an integer, not {seed!r}")
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise ConfigError(f"n_customers must be an integer, not {n_customers!r}")
    if n_customers < 100:
        raise ConfigError(f"n_customers must be at least 100 (got {n_customers}); try 10000")
    if n_customers > 1_000_000:
        raise ConfigError(f"n_customers must be at most 1,000,000 (got {n_customers})")


@dataclass(frozen=True)
class _Demand:
    """Posted prices and demand multipliers (the constant-elasticity model).

    ``f[c, j, d] >= 1``: demand multiplier at the posted price relative to ``P_ref``
    (promotion uplifts included); ``unit_value[c, d]``: expected USD per baseline unit.
    """

    elasticity: FloatArray
    prices: FloatArray
    price_ref: FloatArray
    price_truth: dict[str, Any]
    shares: FloatArray
    f: FloatArray
    promo_sku: IntArray
    unit_value: FloatArray


def _draw_demand(rng: np.random.Generator) -> _Demand:
    """Product elasticities scattered around the category means, the price schedule and
    the demand multipliers they imply."""
    J = len(PRODUCTS)
    skus = tuple(p.sku for p in PRODUCTS)
    cat_mean = np.array([CATEGORY_ELASTICITY[p.category] for p in PRODUCTS])
    elasticity = np.round(cat_mean + rng.normal(0.0, 0.12, J), 3)
    elasticity = np.minimum(elasticity, -0.2)
    prices, price_ref, price_truth = price_schedule(elasticity)
    shares = np.array([p.weight for p in PRODUCTS])
    shares = shares / shares.sum()
    f = (prices / price_ref[None, :, None]) ** elasticity[None, :, None]
    promo_sku = np.array([skus.index(pr["sku"]) for pr in PROMOTIONS])
    for k, pr in enumerate(PROMOTIONS):
        c = RETAIL.index(pr["channel"])
        f[c, promo_sku[k], day_index(pr["starts_on"]) : day_index(pr["ends_on"]) + 1] *= pr[
            "uplift"
        ]
    unit_value = np.einsum("j,cjd->cd", shares, f * prices)
    return _Demand(elasticity, prices, price_ref, price_truth, shares, f, promo_sku, unit_value)


@dataclass(frozen=True)
class _Customers:
    """Identified customers (BG/NBD + Gamma-Gamma draws) and their orders
    (``id_cust``/``id_day``/``id_budget``, first purchases first)."""

    channel: IntArray
    first_day: IntArray
    lam: FloatArray
    pdrop: FloatArray
    nu: FloatArray
    city: IntArray
    merged: int
    id_cust: IntArray
    id_day: IntArray
    id_budget: FloatArray


def _draw_customers(rng: np.random.Generator, n: int) -> _Customers:
    """Draw ``n`` identified customers: channel, acquisition day, purchase rate, dropout
    probability, spend scale and city, then their repeat purchases and order budgets."""
    cust_channel = np.where(rng.random(n) < SHOPIFY_CUSTOMER_SHARE, 0, 1).astype(np.int64)
    acq_w = _seasonal_day_weights()
    first_day = np.sort(rng.choice(N_DAYS, size=n, p=acq_w)).astype(np.int64)
    lam = rng.gamma(BGNBD["r"], 1.0 / BGNBD["alpha"], n)
    pdrop = rng.beta(BGNBD["a"], BGNBD["b"], n)
    nu = rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["gamma"], n)
    horizon = (N_DAYS - 1 - first_day).astype(np.int64)
    rep_cust, rep_off, merged = _bgnbd_repeat_days(rng, lam, pdrop, horizon)
    city_w = np.linspace(2.0, 1.0, len(CITIES))
    cust_city = rng.choice(len(CITIES), size=n, p=city_w / city_w.sum()).astype(np.int64)
    id_cust = np.concatenate([np.arange(n), rep_cust])
    id_day = np.concatenate([first_day, first_day[rep_cust] + rep_off])
    id_budget = rng.gamma(GAMMA_GAMMA["p"], 1.0 / nu[id_cust])
    return _Customers(
        cust_channel, first_day, lam, pdrop, nu, cust_city, merged, id_cust, id_day, id_budget
    )


def _draw_anonymous(
    rng: np.random.Generator, n: int, day_weights: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Days and Gamma-Gamma budgets of ``n`` orders without a customer."""
    day = rng.choice(N_DAYS, size=n, p=day_weights).astype(np.int64)
    budget = rng.gamma(
        GAMMA_GAMMA["p"], 1.0 / rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["gamma"], n)
    )
    return day, budget


def _order_stream(
    rng: np.random.Generator, cust: _Customers
) -> tuple[IntArray, IntArray, IntArray, FloatArray, IntArray]:
    """All retail orders in chronological order: (channel, customer or -1, day, budget,
    second of the day).

    Guest Shopify checkouts come on top of identified orders; Amazon's anonymous
    volume is sized to its target revenue share.
    """
    n_shop_id = int(np.count_nonzero(cust.channel[cust.id_cust] == 0))
    n_guest = round(GUEST_SHARE * n_shop_id)
    guest_day, guest_budget = _draw_anonymous(rng, n_guest, _seasonal_day_weights())
    own_orders = cust.id_cust.shape[0] + n_guest
    amazon_per_own = TARGET_SHARES["amazon"] / (TARGET_SHARES["shopify"] + TARGET_SHARES["etsy"])
    n_amazon = round(own_orders * amazon_per_own)
    amz_day, amz_budget = _draw_anonymous(rng, n_amazon, _seasonal_day_weights(extra_q4=1.3))
    channel = np.concatenate(
        [cust.channel[cust.id_cust], np.zeros(n_guest, np.int64), np.full(n_amazon, 2, np.int64)]
    )
    customer = np.concatenate([cust.id_cust, np.full(n_guest + n_amazon, -1, np.int64)])
    day = np.concatenate([cust.id_day, guest_day, amz_day]).astype(np.int64)
    budget = np.concatenate([cust.id_budget, guest_budget, amz_budget])
    # Shopify and Etsy: local business hours keep the UTC date equal to the local date.
    second = np.where(
        channel == 2,
        rng.integers(0, 86_400, day.shape[0]),
        rng.integers(7 * 3600, 19 * 3600, day.shape[0]),
    ).astype(np.int64)
    # Chronological order of orders (ties broken by time of day, then customer).
    chrono = np.lexsort((customer, second, day))
    return channel[chrono], customer[chrono], day[chrono], budget[chrono], second[chrono]


def _promotion_discounts(
    rng: np.random.Generator,
    demand: _Demand,
    channel: IntArray,
    day: IntArray,
    lines: tuple[IntArray, IntArray, IntArray, FloatArray],
) -> tuple[FloatArray, IntArray]:
    """Discount codes redeemed on the promoted SKU's lines inside each promotion's
    window: (discount per line, promotion index per order or -1).

    ``lines`` is (order, sku, quantity, price) per line.
    """
    line_order, line_sku, line_qty, line_price = lines
    line_discount = np.zeros(line_order.shape[0])
    discount_code = np.full(channel.shape[0], -1, np.int64)
    for k, pr in enumerate(PROMOTIONS):
        in_window = (
            (channel[line_order] == RETAIL.index(pr["channel"]))
            & (line_sku == demand.promo_sku[k])
            & (day[line_order] >= day_index(pr["starts_on"]))
            & (day[line_order] <= day_index(pr["ends_on"]))
        )
        redeem = in_window & (rng.random(line_order.shape[0]) < pr["redemption"])
        line_discount[redeem] = _cents(pr["discount"] * line_qty[redeem] * line_price[redeem])
        discount_code[line_order[redeem]] = k
    return line_discount, discount_code


def _shipping_tax_refunds(
    rng: np.random.Generator,
    channel: IntArray,
    customer: IntArray,
    cust_city: IntArray,
    subtotal: FloatArray,
) -> tuple[IntArray, FloatArray, FloatArray, IntArray, FloatArray]:
    """Per order: (city, shipping, tax, refund kind 0/1 full/2 partial, refunded).

    Guests and Amazon buyers get a random city; Amazon returns live in a separate
    report, so Amazon orders are never refunded here.
    """
    n_orders = channel.shape[0]
    city = np.where(
        customer >= 0, cust_city[np.maximum(customer, 0)], rng.choice(len(CITIES), n_orders)
    )
    tax_rate = np.array([c[4] for c in CITIES])[city]
    shipping = np.where(
        channel == 0,
        np.where(subtotal < FREE_SHIPPING_FROM, SHIPPING_FEE, 0.0),
        np.where(channel == 1, ETSY_SHIPPING, 0.0),
    )
    tax = _cents(tax_rate * np.where(channel == 1, subtotal + shipping, subtotal))
    refund_draw = rng.random(n_orders)
    refundable = channel != 2
    refund_kind = np.where(
        refundable & (refund_draw < REFUND_RATE * FULL_REFUND_SHARE),
        1,
        np.where(refundable & (refund_draw < REFUND_RATE), 2, 0),
    ).astype(np.int64)
    partial = _cents(subtotal * rng.uniform(0.2, 0.6, n_orders))
    refunded = np.where(
        refund_kind == 1, subtotal + shipping + tax, np.where(refund_kind == 2, partial, 0.0)
    )
    return city.astype(np.int64), shipping, tax, refund_kind, _cents(refunded)


def simulate(seed: int = 7, n_customers: int = 10_000) -> Simulation:
    """Simulate three years (2023-01-01 .. 2025-12-31) of the demo business.

    Stages (one random generator, drawn from in this order): demand
    (:func:`_draw_demand`), identified customers (:func:`_draw_customers`), the order
    stream with guests and Amazon (:func:`_order_stream`), order lines
    (:func:`_choose_lines`), promotions (:func:`_promotion_discounts`), shipping, tax
    and refunds (:func:`_shipping_tax_refunds`), wholesale (:func:`_simulate_wholesale`).

    Parameters
    ----------
    seed
        Seed of the only random generator used; the same seed gives the same history.
    n_customers
        Identified customers (Shopify e-mails and Etsy buyers), at least 100.

    Returns
    -------
    Simulation
        Orders, lines, wholesale invoices and the ground truth (``truth``).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers" the
    easy way: An alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005b). RFM and CLV: Using iso-value
    curves for customer base analysis. Journal of Marketing Research 42(4), 415-430.
    """
    _check_simulation_args(seed, n_customers)
    rng = np.random.default_rng(seed)
    skus = tuple(p.sku for p in PRODUCTS)
    demand = _draw_demand(rng)
    cust = _draw_customers(rng, int(n_customers))
    channel, customer, day, budget, second = _order_stream(rng, cust)
    n_orders = day.shape[0]
    v = demand.unit_value[channel, day]
    n_units = np.maximum(1, np.floor(budget / v + rng.random(n_orders))).astype(np.int64)
    line_order, line_sku, line_qty = _choose_lines(
        rng, n_units, demand.shares, demand.f[channel, :, day]
    )
    line_price = demand.prices[channel[line_order], line_sku, day[line_order]]
    lines = (line_order, line_sku, line_qty, line_price)
    line_discount, discount_code = _promotion_discounts(rng, demand, channel, day, lines)
    discount = np.bincount(line_order, weights=line_discount, minlength=n_orders)
    gross = np.bincount(line_order, weights=line_qty * line_price, minlength=n_orders)
    subtotal = gross - discount
    city, shipping, tax, refund_kind, refunded = _shipping_tax_refunds(
        rng, channel, customer, cust.city, np.asarray(subtotal, dtype=np.float64)
    )
    retail_net = float(
        np.sum(subtotal - np.where(refund_kind == 1, subtotal, np.minimum(refunded, subtotal)))
    )
    ws_target = retail_net * TARGET_SHARES["wholesale"] / (1.0 - TARGET_SHARES["wholesale"])
    ws = _simulate_wholesale(rng, demand.prices, skus, ws_target)
    sim = Simulation(
        seed=int(seed),
        n_customers=int(n_customers),
        skus=skus,
        cust_channel=cust.channel,
        cust_first_day=cust.first_day,
        cust_lambda=cust.lam,
        cust_p=cust.pdrop,
        cust_nu=cust.nu,
        cust_city=cust.city,
        channel=channel,
        customer=customer,
        day=day,
        second=second,
        budget=budget,
        discount_code=discount_code,
        discount=_cents(discount),
        shipping=shipping,
        tax=tax,
        refund_kind=refund_kind,
        refunded=refunded,
        city=city,
        line_order=line_order,
        line_sku=line_sku,
        line_qty=line_qty,
        line_price=line_price,
        line_discount=line_discount,
        ws_cafe=ws[0],
        ws_day=ws[1],
        ws_line_order=ws[2],
        ws_line_sku=ws[3],
        ws_line_qty=ws[4],
        ws_line_price=ws[5],
        prices=demand.prices,
        price_ref=demand.price_ref,
        elasticity=demand.elasticity,
    )
    truth = _truth(sim, cust.merged, demand.price_truth, demand.shares, demand.f, demand.unit_value)
    object.__setattr__(sim, "truth", truth)
    return sim


def _simulate_wholesale(
    rng: np.random.Generator, prices: FloatArray, skus: tuple[str, ...], target_revenue: float
) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray, FloatArray]:
    """Café invoices: (cafe, day) per invoice and (invoice, sku, qty, unit price) lines.

    Quantities are scaled so that expected wholesale revenue is ``target_revenue``.
    """
    n_cafes = N_CAFES
    join = np.where(
        np.arange(n_cafes) < 30,
        rng.integers(0, 40, n_cafes),
        rng.integers(60, N_DAYS - 90, n_cafes),
    )
    max_inv = N_DAYS // 14 + 2
    gaps = rng.gamma(8.0, 28.0 / 8.0, (n_cafes, max_inv))
    days = join[:, None] + np.floor(np.cumsum(gaps, axis=1) - gaps[:, :1]).astype(np.int64)
    valid = days < N_DAYS
    cafe = np.broadcast_to(np.arange(n_cafes)[:, None], days.shape)[valid]
    inv_day = days[valid]
    chrono = np.lexsort((cafe, inv_day))
    cafe, inv_day = cafe[chrono].astype(np.int64), inv_day[chrono].astype(np.int64)
    n_inv = inv_day.shape[0]
    size = rng.gamma(3.0, 1.0 / 3.0, n_cafes)  # café size: bags per order multiplier
    ws_idx = np.array([skus.index(s) for s in WHOLESALE_SKUS])
    n_lines = rng.integers(2, 5, n_inv)
    line_order = np.repeat(np.arange(n_inv), n_lines)
    # distinct SKUs per invoice: rank random keys within the invoice
    pick = rng.random((n_inv, ws_idx.shape[0]))
    pick[:, :4] -= 0.5  # blends are the staples
    ranked = np.argsort(pick, axis=1)
    pos = np.arange(line_order.shape[0]) - (np.cumsum(n_lines) - n_lines)[line_order]
    line_sku = ws_idx[ranked[line_order, pos]]
    month = inv_day[line_order] // 30.4
    season = 1.0 + 0.25 * np.cos(2 * np.pi * (month % 12 - 11) / 12)
    line_price = _cents(prices[0, line_sku, inv_day[line_order]] * (1.0 - WHOLESALE_DISCOUNT))
    # Size the bags per line so that wholesale's expected revenue hits its target share.
    shape = size[cafe[line_order]] * season
    scale = target_revenue / float(np.sum(shape * line_price))
    line_qty = (1 + rng.poisson(np.maximum(shape * scale - 1.0, 0.05))).astype(np.int64)
    order = np.lexsort((line_sku, line_order))
    return (
        cafe,
        inv_day,
        line_order[order].astype(np.int64),
        line_sku[order].astype(np.int64),
        line_qty[order],
        line_price[order],
    )


def _pilot_truth(
    sim: Simulation, shares: FloatArray, unit_value: FloatArray
) -> tuple[FloatArray, float, float]:
    """The pilot's true effect: (elasticities of its SKUs, expected log change of pilot
    units in the test channel all else equal, the budget effect within it).

    The budget effect: the test channel's unit value moves with the pilot prices.
    """
    skus = sim.skus
    pidx = np.array([skus.index(s) for s in PILOT["skus"]])
    ps, pe = day_index(PILOT["starts_on"]), day_index(PILOT["ends_on"]) + 1
    ct = RETAIL.index(PILOT["test"])
    pilot_e = sim.elasticity[pidx]
    own = np.log(1.0 + PILOT["price_change"]) * pilot_e
    base_prices = sim.prices[RETAIL.index(PILOT["control"]), :, ps:pe]
    base_f = (base_prices / sim.price_ref[:, None]) ** sim.elasticity[:, None]
    v_cf = np.einsum("j,jd->d", shares, base_f * base_prices)
    budget_effect = float(np.mean(np.log(v_cf / unit_value[ct, ps:pe])))
    return pilot_e, float(own.mean() + budget_effect), budget_effect


def _supplier_spend(sim: Simulation) -> dict[str, float]:
    """Units (retail and wholesale) x unit cost per supplier, averaged per year."""
    J = len(sim.skus)
    unit_cost = np.array([p.unit_cost for p in PRODUCTS])
    units_by_sku = np.bincount(sim.line_sku, weights=sim.line_qty, minlength=J) + np.bincount(
        sim.ws_line_sku, weights=sim.ws_line_qty, minlength=J
    )
    supplier_of = [p.supplier_id for p in PRODUCTS]
    spend: dict[str, float] = {}
    for j in range(J):
        spend[supplier_of[j]] = (
            spend.get(supplier_of[j], 0.0) + float(units_by_sku[j] * unit_cost[j]) / 3.0
        )
    return spend


def _customer_truth(sim: Simulation, merged: int, gross: FloatArray) -> dict[str, Any]:
    """The ``customers`` part of the truth: parameters and realised order counts."""
    ident = sim.customer >= 0
    per_cust = np.bincount(sim.customer[ident], minlength=sim.n_customers)
    repeat = per_cust - 1
    gg_mean = GAMMA_GAMMA["p"] * GAMMA_GAMMA["gamma"] / (GAMMA_GAMMA["q"] - 1.0)
    return {
        "n_customers": sim.n_customers,
        "by_channel": {
            "shopify": int(np.count_nonzero(sim.cust_channel == 0)),
            "etsy": int(np.count_nonzero(sim.cust_channel == 1)),
        },
        "bgnbd": {**BGNBD, "time_unit": "weeks"},
        "gamma_gamma": {**GAMMA_GAMMA, "mean_spend": gg_mean},
        "same_day_purchases_merged": merged,
        "identified_orders": int(np.count_nonzero(ident)),
        "repeat_orders": int(repeat.sum()),
        "customers_with_repeat": int(np.count_nonzero(repeat > 0)),
        "mean_repeat_orders": float(repeat.mean()),
        "mean_order_value": float(gross[ident].mean()),
        "guest_orders": int(np.count_nonzero((sim.customer < 0) & (sim.channel == 0))),
        "spend_note": (
            "each order's budget is drawn from Gamma-Gamma and spent in whole units at "
            "posted prices; realized order values equal the budget in expectation"
        ),
    }


def _pricing_truth(
    sim: Simulation, price_truth: dict[str, Any], shares: FloatArray, unit_value: FloatArray
) -> dict[str, Any]:
    """The ``pricing`` part of the truth: elasticities, price changes, promotions, pilot."""
    skus = sim.skus
    pilot_e, expected_change, budget_effect = _pilot_truth(sim, shares, unit_value)
    return {
        "elasticities": {s: float(e) for s, e in zip(skus, sim.elasticity, strict=True)},
        "category_elasticities": dict(CATEGORY_ELASTICITY),
        "categories": {p.sku: p.category for p in PRODUCTS},
        "model": (
            "expected units of a product proportional to posted_price ** elasticity "
            "(constant elasticity, no cross-price effects) in shopify, etsy and amazon; "
            "wholesale quantities do not respond to price"
        ),
        "elasticity_channels": list(RETAIL),
        "reference_prices": {s: float(p) for s, p in zip(skus, sim.price_ref, strict=True)},
        "price_changes": price_truth["changes"],
        "promotions": [
            {
                **{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in pr.items()},
                "posted_price_unchanged": True,
            }
            for pr in PROMOTIONS
        ],
        "pilot": {
            "pilot_id": PILOT["pilot_id"],
            "name": PILOT["name"],
            "skus": list(PILOT["skus"]),
            "test": PILOT["test"],
            "control": PILOT["control"],
            "starts_on": PILOT["starts_on"].isoformat(),
            "ends_on": PILOT["ends_on"].isoformat(),
            "price_change": PILOT["price_change"],
            "true_elasticity": float(pilot_e.mean()),
            "sku_elasticities": {s: float(e) for s, e in zip(PILOT["skus"], pilot_e, strict=True)},
            "expected_log_unit_change": expected_change,
            "budget_effect": budget_effect,
        },
    }


def _truth(
    sim: Simulation,
    merged: int,
    price_truth: dict[str, Any],
    shares: FloatArray,
    f: FloatArray,
    unit_value: FloatArray,
) -> dict[str, Any]:
    """The ground truth recorded in ``manifest.json`` (JSON-able).

    Customers (:func:`_customer_truth`), pricing (:func:`_pricing_truth`), channel
    revenue, refunds, supplier spend (:func:`_supplier_spend`) and wholesale.
    """
    gross = sim.order_gross()
    merch_refund = np.where(
        sim.refund_kind == 1,
        gross - sim.discount,
        np.where(sim.refund_kind == 2, sim.refunded, 0.0),
    )
    net = gross - sim.discount - merch_refund
    ws_gross = float(np.sum(sim.ws_line_qty * sim.ws_line_price))
    revenue = {ch: float(net[sim.channel == k].sum()) for k, ch in enumerate(RETAIL)}
    revenue["wholesale"] = ws_gross
    total = sum(revenue.values())
    orders = {ch: int(np.count_nonzero(sim.channel == k)) for k, ch in enumerate(RETAIL)}
    orders["wholesale"] = int(sim.ws_day.shape[0])
    return {
        "customers": _customer_truth(sim, merged, gross),
        "pricing": _pricing_truth(sim, price_truth, shares, unit_value),
        "channels": {
            ch: {
                "orders": orders[ch],
                "net_revenue": round(revenue[ch], 2),
                "share": revenue[ch] / total,
            }
            for ch in CHANNEL_CODES
        },
        "marketplace_share": (revenue["amazon"] + revenue["etsy"]) / total,
        "revenue_total": round(total, 2),
        "refunds": {
            "full": int(np.count_nonzero(sim.refund_kind == 1)),
            "partial": int(np.count_nonzero(sim.refund_kind == 2)),
            "rate": float(np.count_nonzero(sim.refund_kind > 0) / sim.n_orders),
            "merchandise_refunded": round(float(merch_refund.sum()), 2),
            "shape": {
                "shopify": "Financial Status refunded/partially_refunded with Refunded Amount",
                "etsy": "Status and Adjusted Order Total/Adjusted Net Order Amount",
            },
        },
        "supplier_spend_per_year": {k: round(v, 2) for k, v in _supplier_spend(sim).items()},
        "wholesale": {
            "cafes": N_CAFES,
            "invoices": int(sim.ws_day.shape[0]),
            "discount_off_list": WHOLESALE_DISCOUNT,
            "cafe_names": list(CAFE_NAMES[:N_CAFES]),
        },
    }
