"""The monthly P&L model: baseline from the workspace, named drivers, vectorized kernel.

Profit in month ``m`` of one trial::

    revenue_c  = base_c(m) * demand_c * retention_effect * refund_effect * shocks
    revenue_c' = revenue routed between channels (strategy) * price effect * (1 - lost)
    fees       = sum_c revenue_c' * (take_rate_c + fee_change + shock points)
    cogs       = revenue' / price_factor * cogs_ratio * unit_cost
                 * sum_k w_k * country_mult_k * (fx if country k is foreign)
    variable   = revenue' * variable_ratio * variable_costs
    fixed      = wages(m) * wages_driver * wage_shocks + other_fixed(m) * fixed_costs
    interest   = debt * (interest_rate + interest_change + shocks) / 12
    profit     = revenue' - fees - cogs - variable - fixed - interest
    cash(m)    = opening_cash + cumulative profit

Tax, inventory timing and payment terms are left out: cash follows profit.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from levelfield.errors import (
    ConfigError,
    DataQualityWarning,
    InsufficientDataError,
    LevelfieldError,
    UnknownReferenceError,
)

# Declared interface: scenarios uses exposure's public API (see the import-linter contracts).
from levelfield.exposure import (
    OWN_STORE_FOLLOW,
    OwnStoreFollow,
    alternatives_count_sql,
    channel_fee_rates,
    own_store_follow,
)
from levelfield.scenarios._distributions import (
    PERT,
    Distribution,
    Empirical,
    LogNormal,
    Normal,
    Triangular,
    distribution_from_dict,
    latent_mixing_matrix,
    validate_correlation,
)
from levelfield.workspace import pair_volatility

__all__ = [
    "DEFAULT_ELASTICITY",
    "MARKETPLACES",
    "Driver",
    "PnLModel",
    "build_model",
]

FloatArray = NDArray[np.float64]

#: Price elasticity of demand used when no pricing run gives one: a common mid value
#: for discretionary consumer goods (own-price elasticities of -1 to -2 are typical).
DEFAULT_ELASTICITY = -1.5

#: Channels treated as marketplaces (the platform owns the customer) when the
#: ``channels`` table does not say (``owns_customer``).
MARKETPLACES = frozenset(
    {"etsy", "amazon", "ebay", "walmart", "doordash", "ubereats", "uber_eats", "deliveroo",
     "notonthehighstreet", "faire", "wayfair", "zalando", "bol", "cdiscount", "mercadolibre",
     "app_store", "google_play", "just_eat", "grubhub"}
)  # fmt: skip

_WAGE_PATTERN = re.compile(r"wage|salar|payroll|staff|labou?r|personnel|employee", re.I)

#: Default Spearman rank correlations between drivers (documented in the docs table).
DEFAULT_CORRELATIONS: dict[tuple[str, str], float] = {
    ("unit_cost", "fx"): 0.3,
    ("unit_cost", "variable_costs"): 0.3,
}
_DEMAND_CORR = 0.5
_DEMAND_RETENTION_CORR = 0.3


@dataclass(frozen=True)
class Driver:
    """One uncertain input of the P&L model.

    Parameters
    ----------
    name
        Stable id, e.g. ``"demand.etsy"``, ``"unit_cost"``.
    unit
        ``"multiplier"`` (1 = as in the baseline), ``"share"`` (0–1), ``"points"``
        (change of a rate, 0.01 = one percentage point) or ``"elasticity"``.
    base
        Value in the baseline (what the P&L uses when the driver is at its base).
    distribution
        Marginal distribution of the driver's value in a month.
    persistence
        Month-to-month correlation of the driver's latent path, 0–1 (1: one draw per
        trial held for the whole horizon, 0: independent months).
    provenance
        Where the base value and the spread came from.
    description
        What the driver means, in the owner's words.
    """

    name: str
    unit: str
    base: float
    distribution: Distribution
    persistence: float
    provenance: str
    description: str

    def __post_init__(self) -> None:
        p = float(self.persistence)
        if not (math.isfinite(p) and 0.0 <= p <= 1.0):
            raise ConfigError(f"driver {self.name}: persistence must be between 0 and 1, got {p}")
        object.__setattr__(self, "persistence", p)


@dataclass(frozen=True, eq=False)
class PnLModel:
    """Baseline monthly P&L of the business plus its uncertain drivers.

    Build it with :func:`build_model`. Arrays are indexed by projected month (length
    ``horizon``), channel (``channels``) and supplier country (``countries``); money is
    in ``currency`` per month.
    """

    currency: str
    months: tuple[str, ...]
    channels: tuple[str, ...]
    revenue_base: FloatArray  # (M, C) net revenue per month and channel
    take_rate: FloatArray  # (C,) platform/payment fees as a share of net revenue
    marketplace: NDArray[np.bool_]  # (C,)
    countries: tuple[str, ...]
    country_weights: FloatArray  # (J,) share of cost of goods bought in each country
    country_revenue_share: FloatArray  # (J,) share of revenue from products of each country
    foreign: NDArray[np.bool_]  # (J,) bought in another currency/country
    has_alternative: NDArray[np.bool_]  # (J,) suppliers there list alternatives
    cogs_ratio: float
    variable_ratio: float
    wage_costs: FloatArray  # (M,)
    other_fixed: FloatArray  # (M,)
    opening_cash: float
    debt: float
    interest_rate: float
    repeat_share: float
    drivers: tuple[Driver, ...]
    rank_correlation: FloatArray  # (K, K) Spearman
    home_country: str | None = None
    notes: tuple[str, ...] = ()
    fee_source: str = ""
    own_store_follow: OwnStoreFollow = OWN_STORE_FOLLOW
    mixing: FloatArray = field(init=False, repr=False)
    mixing_blocks: tuple[tuple[NDArray[np.intp], FloatArray], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [d.name for d in self.drivers]
        if len(set(names)) != len(names):
            raise ConfigError(f"driver names must be unique: {names}")
        mix = latent_mixing_matrix(self.rank_correlation, names=names)
        object.__setattr__(self, "mixing", mix)
        # Drivers only correlated within groups: mixing each group alone is exact and
        # much cheaper than one dense product over all drivers.
        k = len(names)
        blocks: list[tuple[NDArray[np.intp], FloatArray]] = []
        if k:
            n_comp, label = connected_components(
                np.abs(np.asarray(self.rank_correlation)) > 0, directed=False
            )
            for c in range(n_comp):
                idx = np.nonzero(label == c)[0]
                if idx.size > 1:
                    sub = np.asarray(self.rank_correlation)[np.ix_(idx, idx)]
                    blocks.append((idx, latent_mixing_matrix(sub)))
        object.__setattr__(self, "mixing_blocks", tuple(blocks))

    # -- lookups -----------------------------------------------------------------------
    @property
    def horizon(self) -> int:
        return len(self.months)

    @property
    def driver_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.drivers)

    def driver_index(self, name: str) -> int:
        try:
            return self.driver_names.index(name)
        except ValueError:
            raise UnknownReferenceError(
                f"unknown driver {name!r}; the model has {', '.join(self.driver_names)}"
            ) from None

    def channel_index(self, channel: str) -> int:
        key = str(channel).strip().lower()
        for i, c in enumerate(self.channels):
            if c.lower() == key:
                return i
        raise UnknownReferenceError(
            f"unknown channel {channel!r}; the workspace's channels are "
            f"{', '.join(self.channels) or '(none)'}"
        )

    def country_index(self, country: str) -> int:
        key = str(country).strip().upper()
        for i, c in enumerate(self.countries):
            if c.upper() == key:
                return i
        raise UnknownReferenceError(
            f"unknown supplier country {country!r}; the workspace's supplier countries are "
            f"{', '.join(self.countries) or '(none: import suppliers with a country)'}"
        )

    @property
    def own_store_channels(self) -> tuple[str, ...]:
        return tuple(c for c, mk in zip(self.channels, self.marketplace, strict=True) if not mk)

    @property
    def marketplace_channels(self) -> tuple[str, ...]:
        return tuple(c for c, mk in zip(self.channels, self.marketplace, strict=True) if mk)

    def with_horizon(self, horizon: int) -> PnLModel:
        """The same model over the first ``horizon`` months (at most the built horizon)."""
        h = _check_horizon(horizon)
        if h > self.horizon:
            raise ConfigError(
                f"horizon {h} exceeds the model's {self.horizon} months; rebuild it with "
                f"build_model(ws, horizon={h})"
            )
        return replace(
            self,
            months=self.months[:h],
            revenue_base=self.revenue_base[:h],
            wage_costs=self.wage_costs[:h],
            other_fixed=self.other_fixed[:h],
        )

    def with_drivers(
        self,
        overrides: Mapping[str, Any] | None = None,
        correlations: Any = None,
        *,
        repair_correlation: bool = False,
    ) -> PnLModel:
        """A copy with driver distributions and/or correlations replaced.

        Parameters
        ----------
        overrides
            ``{driver: Distribution | {"kind": ..., ..., "persistence": p}}``.
        correlations
            ``{(driver_a, driver_b): rank_corr}`` pairs, or a full ``K x K`` matrix in
            driver order.
        repair_correlation
            Replace a non-PSD correlation matrix by the nearest valid one (with a
            :class:`~levelfield.errors.DataQualityWarning`) instead of raising.
        """
        drivers = list(self.drivers)
        for name, spec in (overrides or {}).items():
            i = self.driver_index(name)
            persistence = drivers[i].persistence
            if isinstance(spec, dict) and "persistence" in spec:
                spec = dict(spec)
                persistence = _num(spec.pop("persistence"), f"driver {name} persistence")
            dist = distribution_from_dict(spec, where=f"driver {name}")
            drivers[i] = replace(
                drivers[i],
                distribution=dist,
                persistence=persistence,
                provenance="set by the user",
            )
        corr = self.rank_correlation
        if correlations is not None:
            corr = _correlation_matrix(correlations, [d.name for d in drivers], corr)
        names = [d.name for d in drivers]
        corr = validate_correlation(corr, repair=repair_correlation, names=names)
        return replace(self, drivers=tuple(drivers), rank_correlation=corr)

    def drivers_frame(self) -> Any:
        """Table of drivers: name, unit, base, distribution, persistence, provenance."""
        import pandas as pd

        return pd.DataFrame(
            {
                "driver": [d.name for d in self.drivers],
                "unit": [d.unit for d in self.drivers],
                "base": [d.base for d in self.drivers],
                "distribution": [d.distribution.describe() for d in self.drivers],
                "persistence": [d.persistence for d in self.drivers],
                "provenance": [d.provenance for d in self.drivers],
                "description": [d.description for d in self.drivers],
            }
        )

    def baseline_frame(self) -> Any:
        """The deterministic baseline P&L per month (all drivers at their base)."""
        import pandas as pd

        rev = self.revenue_base.sum(axis=1)
        fees = (self.revenue_base * self.take_rate).sum(axis=1)
        cogs = rev * self.cogs_ratio
        var = rev * self.variable_ratio
        interest = np.full(self.horizon, self.debt * self.interest_rate / 12)
        profit = rev - fees - cogs - var - self.wage_costs - self.other_fixed - interest
        return pd.DataFrame(
            {
                "month": list(self.months),
                "revenue": rev,
                "platform_fees": fees,
                "cost_of_goods": cogs,
                "variable_costs": var,
                "wages": self.wage_costs,
                "other_fixed_costs": self.other_fixed,
                "interest": interest,
                "profit": profit,
                "cash": self.opening_cash + np.cumsum(profit),
            }
        )


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{where} must be a number, not {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{where} must be finite, not {v}")
    return v


def _check_horizon(horizon: Any) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise ConfigError(f"horizon must be a whole number of months, not {horizon!r}")
    h = int(horizon)
    if h < 1:
        raise ConfigError(f"horizon must be at least 1 month, got {h}; 12 or 24 are typical")
    if h > 120:
        raise ConfigError(f"horizon must be at most 120 months, got {h}")
    return h


def _correlation_matrix(spec: Any, names: Sequence[str], start: FloatArray) -> FloatArray:
    k = len(names)
    if isinstance(spec, Mapping):
        c = np.array(start, dtype=float, copy=True)
        for key, value in spec.items():
            if not (isinstance(key, tuple | list) and len(key) == 2):
                raise ConfigError(
                    f"correlation keys must be (driver_a, driver_b) pairs, not {key!r}"
                )
            a, b = (str(x) for x in key)
            for nm in (a, b):
                if nm not in names:
                    raise UnknownReferenceError(
                        f"correlation names unknown driver {nm!r}; drivers are {', '.join(names)}"
                    )
            i, j = names.index(a), names.index(b)
            v = _num(value, f"correlation ({a}, {b})")
            if i == j:
                raise ConfigError(f"correlation of {a} with itself is always 1; remove it")
            if not -1 <= v <= 1:
                raise ConfigError(f"correlation ({a}, {b}) must lie in [-1, 1], got {v}")
            c[i, j] = c[j, i] = v
        return c
    arr = np.asarray(spec, dtype=float)
    if arr.shape != (k, k):
        raise ConfigError(
            f"correlation matrix must be {k}x{k} (one row per driver: {', '.join(names)}), "
            f"got shape {arr.shape}"
        )
    return arr


# -- kernel ----------------------------------------------------------------------------


@dataclass
class Adjustments:
    """Deterministic changes to the baseline from shocks and strategy actions.

    Built fresh for each scenario or strategy by ``compile_changes``.
    """

    demand_mult: FloatArray  # (M, C)
    fee_points: FloatArray  # (M, C) added to the take rate
    country_mult: FloatArray  # (M, J) multiplier on cost of goods bought there
    country_weights: FloatArray  # (J,) share of purchases per country
    lost_share: FloatArray  # (M,) share of revenue lost (supply outage)
    fx_mult: FloatArray  # (M,)
    wage_mult: FloatArray  # (M,)
    interest_points: FloatArray  # (M,)
    route: FloatArray  # (C, C) revenue of channel i that ends up in channel j
    price_change: float = 0.0
    elasticity: float | None = None

    @classmethod
    def neutral(cls, model: PnLModel) -> Adjustments:
        m, c, j = model.horizon, len(model.channels), len(model.countries)
        return cls(
            demand_mult=np.ones((m, c)),
            fee_points=np.zeros((m, c)),
            country_mult=np.ones((m, j)),
            country_weights=model.country_weights.copy(),
            lost_share=np.zeros(m),
            fx_mult=np.ones(m),
            wage_mult=np.ones(m),
            interest_points=np.zeros(m),
            route=np.eye(c),
        )


#: Value a driver takes when the model does not have it (it has no effect then).
_NEUTRAL: dict[str, float] = {
    "unit_cost": 1.0,
    "fx": 1.0,
    "fee_rate": 0.0,
    "fixed_costs": 1.0,
    "wages": 1.0,
    "interest_rate": 0.0,
    "variable_costs": 1.0,
    "elasticity": DEFAULT_ELASTICITY,
}


def monthly_profit(model: PnLModel, x: FloatArray, adj: Adjustments) -> FloatArray:
    """Profit per month and trial, ``(M, n)``, for driver values ``x`` of shape ``(K, M, n)``.

    Pure and vectorized over trials; ``adj`` holds the scenario's deterministic changes.
    """
    names = model.driver_names
    pos = {nm: i for i, nm in enumerate(names)}
    m, n = x.shape[1], x.shape[2]

    def drv(name: str) -> FloatArray | float:
        i = pos.get(name)
        return x[i] if i is not None else _NEUTRAL[name]

    base = model.revenue_base * adj.demand_mult  # (M, C)
    n_ch = len(model.channels)
    factor = np.ones((m, n))
    if "retention" in pos and model.repeat_share > 0:
        r0 = model.drivers[pos["retention"]].base
        ratio = np.cumprod(x[pos["retention"]] / r0, axis=0)
        ratio *= model.repeat_share
        factor += ratio - model.repeat_share
    if "refund_rate" in pos:
        rr0 = model.drivers[pos["refund_rate"]].base
        factor *= (1.0 - x[pos["refund_rate"]]) / (1.0 - rr0)
    if adj.lost_share.any():
        factor *= (1.0 - adj.lost_share)[:, None]
    p = adj.price_change
    if p:
        e = drv("elasticity") if adj.elasticity is None else adj.elasticity
        factor *= (1.0 + p) ** (1.0 + np.asarray(e))
    rev = np.empty((n_ch, m, n))
    for c, ch in enumerate(model.channels):  # a handful of channels
        i = pos.get(f"demand.{ch}")
        if i is None:
            np.multiply(factor, base[:, c, None], out=rev[c])
        else:
            np.multiply(x[i], base[:, c, None], out=rev[c])
            rev[c] *= factor
    if not np.array_equal(adj.route, np.eye(n_ch)):
        rev = np.tensordot(adj.route.T, rev, axes=(1, 0))
    total = rev.sum(axis=0)

    rate = model.take_rate[None, :] + adj.fee_points  # (M, C)
    fees = np.zeros((m, n))
    for c in range(n_ch):
        if rate[:, c].any():
            fees += rev[c] * rate[:, c, None]
    fee_change = drv("fee_rate")
    if model.marketplace.any() and isinstance(fee_change, np.ndarray):
        fees += fee_change * rev[model.marketplace].sum(axis=0)

    w = adj.country_weights[None, :] * adj.country_mult  # (M, J)
    home = (w * ~model.foreign).sum(axis=1)[:, None]
    abroad = ((w * model.foreign).sum(axis=1) * adj.fx_mult)[:, None]
    share = home + abroad * drv("fx") if abroad.any() else home
    cogs = total * (model.cogs_ratio / (1.0 + p))
    cogs = cogs * share
    cogs *= drv("unit_cost")

    variable = total * model.variable_ratio
    variable *= drv("variable_costs")
    fixed = (model.wage_costs * adj.wage_mult)[:, None] * drv("wages")
    fixed = fixed + model.other_fixed[:, None] * drv("fixed_costs")
    rate_i = (model.interest_rate + adj.interest_points)[:, None] + drv("interest_rate")
    interest = model.debt / 12.0 * np.maximum(rate_i, 0.0)
    out = total - fees
    out -= cogs
    out -= variable
    out -= fixed
    out -= interest
    return np.asarray(out, dtype=float)


# -- building from the workspace ---------------------------------------------------------


def _rows(ws: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return list(ws.con.execute(sql, list(params)).fetchall())


def _month_add(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, 1)


_Notes = list[tuple[str, bool]]

#: Highest monthly retention a driver may take: at 0.999 a customer stays 83 years on
#: average. Estimates above it come from boundary fits (a dropout rate the data cannot
#: tell from zero) and are not a fact about the business.
RETENTION_CAP = 0.99


def _fix_suffix(reason: str) -> str:
    """``reason`` as a provenance suffix ("" when nothing was repaired)."""
    return f" ({reason})" if reason else ""


def _share_pert(
    mode: float,
    *,
    down: float,
    up: float,
    what: str,
    low: float = 0.0,
    high: float = 1.0,
    fallback: float = 0.5,
) -> tuple[PERT, float, str]:
    """A valid PERT for a share estimated from data, the mode it uses, and why it changed.

    The range is ``[mode - down, mode + up]`` cut to ``[low, high]``. A mode outside
    ``[low, high]`` is clipped to the bound and a mode that is not a number falls back to
    ``fallback``; both are stated in the returned reason (empty when nothing changed). A
    range that collapses to a point is widened to ``[low, high]``. The result always
    satisfies ``low <= mode <= high`` and ``low < high``, so data can never make the
    model fail to build.
    """
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(f"share range needs finite low < high, got {low}, {high}")
    reason = ""
    m = float(mode) if isinstance(mode, int | float) else float("nan")
    if not math.isfinite(m):
        m = min(max(fallback, low), high)
        reason = f"{what} could not be estimated ({mode!r}); assumed {m:g}"
    elif not low <= m <= high:
        clipped = min(max(m, low), high)
        reason = (
            f"{what} estimate {m:.12g} is outside [{low:g}, {high:g}], the range the model "
            f"accepts (a boundary estimate, not a fact about the business); used {clipped:g}"
        )
        m = clipped
    d = abs(down) if math.isfinite(down) else 0.0
    u = abs(up) if math.isfinite(up) else 0.0
    lo, hi = max(low, m - d), min(high, m + u)
    if not lo < hi:
        lo, hi = low, high
    return PERT(lo, m, hi), m, reason


def _note(notes: _Notes, text: str, warn: bool = True) -> None:
    """Record an assumption; ``warn`` ones become DataQualityWarnings when asked."""
    notes.append((text, warn))


def build_model(
    ws: Any,
    *,
    horizon: int = 24,
    drivers: Mapping[str, Any] | None = None,
    correlations: Any = None,
    repair_correlation: bool = False,
    elasticity: float | None = None,
    warn: bool = True,
) -> PnLModel:
    """Build the monthly P&L model of the business in workspace ``ws``.

    Parameters
    ----------
    ws
        An open :class:`~levelfield.workspace.Workspace`.
    horizon
        Months to project (1–120; 12 or 24 are typical). Projection starts the month
        after the last complete month of orders.
    drivers
        Overrides of driver distributions, ``{name: Distribution | dict}``; see
        :meth:`PnLModel.with_drivers`.
    correlations
        Rank correlations between drivers (pairs or full matrix), on top of defaults.
    repair_correlation
        Use the nearest valid correlation matrix when the given one is not PSD.
    elasticity
        Price elasticity of demand (negative); default: the pricing run's, else
        :data:`DEFAULT_ELASTICITY`.
    warn
        Emit a :class:`~levelfield.errors.DataQualityWarning` for each assumption made
        for missing data (they are always listed in ``model.notes``).

    Returns
    -------
    PnLModel

    Raises
    ------
    InsufficientDataError
        Fewer than 3 complete months of orders.
    ConfigError
        Bad horizon, driver override or correlation.

    Notes
    -----
    Data sources, in order of preference, are stated in each driver's ``provenance``:
    platform fee take rates come from :func:`levelfield.exposure.channel_fee_rates`
    when the exposure package provides it, else from the ``orders.fees`` column
    (fees / net revenue per channel); retention from the latest ``customers`` run's
    ``monthly_retention``, else a quarter-on-quarter repeat rate from the orders.
    """
    h = _check_horizon(horizon)
    notes: _Notes = []
    currency = str(ws.currency())
    hist = _monthly_history(ws, currency, notes)
    proj = _project_revenue(hist, h, notes)
    marketplace = _marketplace_flags(ws, hist.channels)
    take_rate, fee_source = _take_rates(ws, list(hist.channels), currency, notes)
    dlist = _demand_drivers(hist.channels, proj.resid)
    repeat_share, retention_refunds = _retention_and_refund_drivers(ws, hist, notes)
    dlist += retention_refunds
    buying = _purchases(ws, currency, notes, bool(marketplace.any()))
    dlist += buying.drivers
    wage, other_fixed, variable_ratio, wage_note = _fixed_costs(
        ws, hist.end_month, hist.rev.sum(axis=1), hist.first_month, notes
    )
    if wage_note:
        _note(notes, wage_note, warn=False)
    dlist += _cost_drivers(variable_ratio, other_fixed, wage)
    money = _cash_and_debt(ws, notes)
    dlist += money.drivers
    e0, e_prov = _elasticity(ws, elasticity)
    dlist.append(
        Driver(
            "elasticity",
            "elasticity",
            e0,
            Normal(e0, max(0.3, 0.2 * abs(e0))),
            1.0,
            e_prov,
            "price elasticity of demand (used when prices change)",
        )
    )
    model = PnLModel(
        currency=currency,
        months=proj.months,
        channels=hist.channels,
        revenue_base=proj.revenue_base,
        take_rate=take_rate,
        marketplace=marketplace,
        countries=buying.countries,
        country_weights=buying.weights,
        country_revenue_share=buying.rev_share,
        foreign=buying.foreign,
        has_alternative=buying.alt,
        cogs_ratio=buying.cogs_ratio,
        variable_ratio=variable_ratio,
        wage_costs=np.full(h, wage),
        other_fixed=np.full(h, other_fixed),
        opening_cash=money.opening_cash,
        debt=money.debt,
        interest_rate=money.rate,
        repeat_share=repeat_share,
        drivers=tuple(dlist),
        rank_correlation=_default_correlation([d.name for d in dlist]),
        home_country=buying.home,
        notes=tuple(t for t, _ in notes),
        fee_source=fee_source,
        own_store_follow=own_store_follow(ws),
    )
    if warn:
        for text, loud in notes:
            if loud:
                warnings.warn(text, DataQualityWarning, stacklevel=2)
    if drivers or correlations is not None:
        model = model.with_drivers(drivers, correlations, repair_correlation=repair_correlation)
    return model


# -- build_model's stages ----------------------------------------------------------------


@dataclass(frozen=True)
class _History:
    """Complete months of net revenue per channel, refunds and gross sales."""

    first_month: dt.date
    end_month: dt.date
    channels: tuple[str, ...]
    rev: FloatArray  # (months, channels)
    refunds: FloatArray
    gross: FloatArray

    @property
    def n(self) -> int:
        return int(self.rev.shape[0])


def _monthly_history(ws: Any, currency: str, notes: _Notes) -> _History:
    """Complete months of orders in the base currency (InsufficientDataError under 3)."""
    hist = _rows(
        ws,
        """SELECT CAST(date_trunc('month', ordered_at) AS DATE) AS m, channel,
                  CAST(sum(net_revenue_base) AS DOUBLE),
                  CAST(sum(CASE WHEN is_refund THEN -net_revenue_base
                                ELSE CAST(refunded * fx_rate AS DECIMAL(18,4)) END) AS DOUBLE),
                  CAST(sum(CASE WHEN is_refund THEN 0
                                ELSE CAST(gross * fx_rate AS DECIMAL(18,4)) END) AS DOUBLE)
           FROM order_revenue WHERE fx_rate IS NOT NULL GROUP BY ALL ORDER BY 1, 2""",
    )
    last_ts = _rows(ws, "SELECT max(ordered_at), min(ordered_at) FROM order_revenue")[0]
    if not hist or last_ts[0] is None:
        raise InsufficientDataError(
            "no orders in the workspace: import your sales with 'levelfield import orders "
            "FILE' before running scenarios"
        )
    last: dt.datetime = last_ts[0]
    last_month = dt.date(last.year, last.month, 1)
    # A month whose last order falls before its 28th is taken as incomplete.
    end_month = last_month if last.day >= 28 else _month_add(last_month, -1)
    first: dt.datetime = last_ts[1]
    first_month = dt.date(first.year, first.month, 1)
    if first.day > 3:
        first_month = _month_add(first_month, 1)
    n_hist = (end_month.year - first_month.year) * 12 + end_month.month - first_month.month + 1
    if n_hist < 3:
        raise InsufficientDataError(
            f"scenarios need at least 3 complete months of orders; the workspace has "
            f"{max(n_hist, 0)} ({first:%Y-%m-%d} to {last:%Y-%m-%d}). Import a longer history"
        )
    channels = sorted({str(r[1]) for r in hist})
    rev = np.zeros((n_hist, len(channels)))
    refunds = np.zeros(n_hist)
    gross = np.zeros(n_hist)
    for r in hist:  # at most a few hundred month-channel rows
        k = (r[0].year - first_month.year) * 12 + r[0].month - first_month.month
        if 0 <= k < n_hist:
            rev[k, channels.index(str(r[1]))] += r[2] or 0.0
            refunds[k] += r[3] or 0.0
            gross[k] += r[4] or 0.0
    keep = rev.sum(axis=0) > 0
    channels = [c for c, kp in zip(channels, keep, strict=True) if kp]
    if not channels:
        raise InsufficientDataError("orders have no positive net revenue in any channel")
    other = _rows(
        ws,
        "SELECT count(*), CAST(coalesce(sum(net_revenue), 0) AS DOUBLE) FROM order_revenue "
        "WHERE fx_rate IS NULL",
    )[0]
    if other[0]:
        _note(notes, f"{other[0]} orders without an exchange rate to {currency} were left out")
    return _History(first_month, end_month, tuple(channels), rev[:, keep], refunds, gross)


@dataclass(frozen=True)
class _Projection:
    months: tuple[str, ...]
    revenue_base: FloatArray  # (horizon, channels)
    resid: FloatArray  # log residuals of history around trend and season


def _project_revenue(hist: _History, h: int, notes: _Notes) -> _Projection:
    """Level x season x trend per channel for ``h`` months, and the history's residuals."""
    n_hist, rev = hist.n, hist.rev
    cal = np.array([(hist.first_month.month - 1 + k) % 12 for k in range(n_hist)])
    season, season_note = _seasonality(rev.sum(axis=1), cal)
    _note(notes, season_note, warn=False)
    window = min(12, n_hist)
    deseason = rev / season[cal][:, None]
    growth, growth_note = _growth(deseason.sum(axis=1))
    _note(notes, growth_note, warn=False)
    level = deseason[-window:].mean(axis=0)
    start = _month_add(hist.end_month, 1)
    months = tuple(f"{_month_add(start, k):%Y-%m}" for k in range(h))
    proj_cal = np.array([(start.month - 1 + k) % 12 for k in range(h)])
    # Months from the centre of the level window to each projected month.
    dist = (window - 1) / 2 + 1 + np.arange(h)
    trend = (1 + growth) ** (dist / 12)
    revenue_base = level[None, :] * season[proj_cal][:, None] * trend[:, None]
    # Demand volatility and persistence per channel, from the log residuals.
    t = np.arange(n_hist) - (n_hist - 1) / 2
    fitted = deseason[-window:].mean(axis=0)[None, :] * (1 + growth) ** (
        (t - t[-window:].mean())[:, None] / 12
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = np.log(np.where(rev > 0, deseason, np.nan) / fitted)
    return _Projection(months, revenue_base, resid)


def _marketplace_flags(ws: Any, channels: Sequence[str]) -> NDArray[np.bool_]:
    """Which channels are marketplaces: the channels table's owns_customer, else the name."""
    info = {
        str(r[0]).lower(): r
        for r in _rows(ws, "SELECT channel, platform, fee_profile, owns_customer FROM channels")
    }

    def is_marketplace(c: str) -> bool:
        row = info.get(c.lower())
        if row is not None and row[3] is not None:
            return not bool(row[3])
        return (
            c.lower() in MARKETPLACES or str((row or (None, ""))[1] or "").lower() in MARKETPLACES
        )

    return np.array([is_marketplace(c) for c in channels], dtype=bool)


def _demand_drivers(channels: Sequence[str], resid: FloatArray) -> list[Driver]:
    """One log-normal demand multiplier per channel, AR(1) persistence from the residuals."""
    out: list[Driver] = []
    for ci, c in enumerate(channels):
        res = resid[:, ci]
        res = res[np.isfinite(res)]
        if res.size >= 6:
            sd_log = float(np.clip(np.std(res, ddof=1), 0.03, 0.5))
            prov = (
                f"monthly variation of {c} net revenue around trend and season, {res.size} months"
            )
        else:
            sd_log = 0.15
            prov = f"assumed 15% monthly variation ({res.size} months of {c} history)"
        if res.size >= 12:
            rc = res - res.mean()
            denom = float(np.sum(rc**2))
            phi = float(np.clip(np.sum(rc[1:] * rc[:-1]) / denom, 0.0, 0.9)) if denom > 0 else 0.5
        else:
            phi = 0.5
        sd = math.sqrt(math.expm1(sd_log**2))
        out.append(
            Driver(
                f"demand.{c}",
                "multiplier",
                1.0,
                LogNormal(1.0, sd),
                phi,
                prov,
                f"monthly demand on {c} relative to its trend and season",
            )
        )
    return out


def _retention_and_refund_drivers(
    ws: Any, hist: _History, notes: _Notes
) -> tuple[float, list[Driver]]:
    """The repeat share of revenue and the retention and refund-rate drivers."""
    out: list[Driver] = []
    r0, r_prov, repeat_share = _retention(ws, notes)
    if repeat_share > 0:
        r_dist, r0, r_fix = _share_pert(
            r0, down=0.04, up=0.02, high=RETENTION_CAP, what="monthly retention"
        )
        if r_fix:
            _note(notes, r_fix)
        out.append(
            Driver(
                "retention",
                "share",
                r0,
                r_dist,
                1.0,
                r_prov + "; assumed it may slip 4 points or improve 2 (PERT)" + _fix_suffix(r_fix),
                "share of customers who stay each month (drives repeat revenue)",
            )
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        rr_hist = np.where(hist.gross > 0, hist.refunds / hist.gross, np.nan)
    rr_hist = np.clip(rr_hist[np.isfinite(rr_hist)], 0.0, 0.95)
    rr0 = float(np.mean(rr_hist)) if rr_hist.size else 0.0
    if rr_hist.size >= 6 and np.ptp(rr_hist) > 0:
        rr_dist: Distribution = Empirical(tuple(rr_hist), source="monthly refund share")
        rr_prov = f"bootstrap of {rr_hist.size} months of refunds / gross sales"
    else:
        rr_dist, rr0, rr_fix = _share_pert(
            rr0, down=rr0, up=max(rr0, 0.02), high=0.95, what="refund share"
        )
        rr_prov = "assumed range around the observed refund share" + _fix_suffix(rr_fix)
    out.append(
        Driver(
            "refund_rate", "share", rr0, rr_dist, 0.0, rr_prov, "share of sales refunded in a month"
        )
    )
    return repeat_share, out


@dataclass(frozen=True)
class _Purchases:
    """Cost of goods by supplier country, the home country and the purchase drivers."""

    cogs_ratio: float
    countries: tuple[str, ...]
    weights: FloatArray
    rev_share: FloatArray
    alt: NDArray[np.bool_]
    foreign: NDArray[np.bool_]
    home: str | None
    drivers: list[Driver]


def _purchases(ws: Any, currency: str, notes: _Notes, has_marketplace: bool) -> _Purchases:
    """Supplier countries (plus a home slot for local suppliers), unit cost, FX and fees."""
    cogs_ratio, countries, weights, rev_share, alt = _cost_of_goods(ws, notes)
    home_country = ws.get_business("country")
    home = str(home_country).upper() if home_country else None
    if home is not None and cogs_ratio > 0 and home not in countries:
        # A home-country slot (no purchases yet) lets strategies add a local supplier.
        countries = (*countries, home)
        weights = np.r_[weights, 0.0]
        rev_share = np.r_[rev_share, 0.0]
        alt = np.r_[alt, False]
    foreign = np.array([c not in ("UNKNOWN",) and c != home for c in countries], dtype=bool)
    if home is None and countries:
        _note(
            notes,
            "business country unknown: all supplier countries are treated as foreign "
            "currency purchases (set 'country' in the business profile)",
            warn=False,
        )
    out: list[Driver] = []
    if cogs_ratio > 0:
        out.append(
            Driver(
                "unit_cost",
                "multiplier",
                1.0,
                PERT(0.97, 1.0, 1.10),
                0.9,
                "assumed: supplier prices may ease 3% or rise up to 10% (PERT)",
                "cost of goods per unit relative to today's product costs",
            )
        )
        if foreign.any():
            fx_vol = _fx_volatility(ws, currency)
            out.append(
                Driver(
                    "fx",
                    "multiplier",
                    1.0,
                    LogNormal(1.0, fx_vol[0] if fx_vol else 0.08),
                    0.95,
                    fx_vol[1]
                    if fx_vol
                    else "assumed 8% volatility of the purchase currency (typical major pairs; "
                    "set suppliers.currency to use the ECB history)",
                    "cost of foreign purchases in your currency relative to today",
                )
            )
    if has_marketplace:
        out.append(
            Driver(
                "fee_rate",
                "points",
                0.0,
                Triangular(-0.005, 0.0, 0.02),
                1.0,
                "assumed: marketplaces raise fees more often than they cut them",
                "change of marketplace take rates (0.01 = one percentage point)",
            )
        )
    return _Purchases(cogs_ratio, tuple(countries), weights, rev_share, alt, foreign, home, out)


def _cost_drivers(variable_ratio: float, other_fixed: float, wage: float) -> list[Driver]:
    """Variable costs, overheads and wages, each when the business has them."""
    out: list[Driver] = []
    if variable_ratio > 0:
        out.append(
            Driver(
                "variable_costs",
                "multiplier",
                1.0,
                Normal(1.0, 0.05),
                0.5,
                "assumed 5% variation of variable costs per unit of revenue",
                "variable costs (from 'costs' rows not marked fixed) relative to history",
            )
        )
    if other_fixed > 0:
        out.append(
            Driver(
                "fixed_costs",
                "multiplier",
                1.0,
                Normal(1.0, 0.05),
                0.3,
                "assumed 5% month-to-month variation of overheads",
                "fixed costs other than wages relative to the last 12 months",
            )
        )
    if wage > 0:
        out.append(
            Driver(
                "wages",
                "multiplier",
                1.0,
                Triangular(1.0, 1.03, 1.08),
                1.0,
                "assumed wage growth 0–8%, most likely 3%",
                "wage costs relative to the last 12 months",
            )
        )
    return out


@dataclass(frozen=True)
class _CashAndDebt:
    opening_cash: float
    debt: float
    rate: float
    drivers: list[Driver]


def _cash_and_debt(ws: Any, notes: _Notes) -> _CashAndDebt:
    """Opening cash, debt and its rate from the business profile (noted when assumed)."""
    opening_cash = ws.get_business("opening_cash")
    if opening_cash is None:
        _note(
            notes,
            "opening cash not in the business profile: cash starts at 0 (set "
            "'opening_cash' in the business profile)",
        )
        opening_cash = 0.0
    debt = float(ws.get_business("debt", 0.0) or 0.0)
    rate = ws.get_business("interest_rate")
    if debt > 0 and rate is None:
        _note(notes, "debt without an interest rate: assumed 8% a year (set 'interest_rate')")
        rate = 0.08
    out: list[Driver] = []
    if debt > 0:
        out.append(
            Driver(
                "interest_rate",
                "points",
                0.0,
                Triangular(-0.01, 0.0, 0.03),
                1.0,
                "assumed: rates may fall 1 point or rise up to 3 points",
                "change of the annual interest rate on debt (0.01 = one point)",
            )
        )
    return _CashAndDebt(float(opening_cash), debt, float(rate or 0.0), out)


def _default_correlation(names: Sequence[str]) -> FloatArray:
    """Rank correlations: channels' demand together, demand with retention, the defaults."""
    corr = np.eye(len(names))
    dem = [i for i, nm in enumerate(names) if nm.startswith("demand.")]
    for i in dem:
        for j in dem:
            if i != j:
                corr[i, j] = _DEMAND_CORR
        if "retention" in names:
            k = names.index("retention")
            corr[i, k] = corr[k, i] = _DEMAND_RETENTION_CORR
    for (a, b), v in DEFAULT_CORRELATIONS.items():
        if a in names and b in names:
            i, j = names.index(a), names.index(b)
            corr[i, j] = corr[j, i] = v
    return corr


def _seasonality(total: FloatArray, cal: NDArray[np.int_]) -> tuple[FloatArray, str]:
    n = total.size
    if n >= 24:
        # Classical decomposition: ratio to the centred 12-month moving average.
        k = np.convolve(total, np.r_[0.5, np.ones(11), 0.5] / 12, mode="valid")
        ratio = total[6 : 6 + k.size] / np.where(k > 0, k, np.nan)
        c = cal[6 : 6 + k.size]
        ok = np.isfinite(ratio)
        sums = np.bincount(c[ok], weights=ratio[ok], minlength=12)
        cnt = np.bincount(c[ok], minlength=12)
        s = np.where(cnt > 0, sums / np.maximum(cnt, 1), 1.0)
        s = s / s.mean()
        if (s < 0.1).any():
            # Months of the year without sales make a factor near 0, and dividing by it
            # would blow up the level: sparse data cannot tell season from chance.
            s = 0.5 + 0.5 * s
            return s / s.mean(), (
                f"seasonality from {n} months shrunk half-way to flat (some months of the "
                "year have almost no sales)"
            )
        return s, f"seasonality from {n} months (ratio to 12-month moving average)"
    if n >= 12:
        last = total[-12:]
        c = cal[-12:]
        mean = last.mean()
        s = np.ones(12)
        if mean > 0:
            # One year cannot separate season from noise: shrink half-way towards flat.
            s[c] = 0.5 + 0.5 * last / mean
        return s / s.mean(), f"seasonality from one year ({n} months), shrunk half-way to flat"
    return np.ones(12), f"no seasonality ({n} months of history; 12 needed)"


def _growth(deseason_total: FloatArray) -> tuple[float, str]:
    n = deseason_total.size
    if n < 18 or (deseason_total <= 0).any():
        return 0.0, f"no trend assumed ({n} months of history; 18 needed)"
    t = np.arange(n, dtype=float)
    slope = np.polyfit(t, np.log(deseason_total), 1)[0]
    g = float(np.clip(np.expm1(12 * slope), -0.5, 1.0))
    return g, f"trend {g:+.1%} a year from a log-linear fit to {n} months"


def _take_rates(
    ws: Any, channels: Sequence[str], currency: str, notes: _Notes, use_exposure: bool = True
) -> tuple[FloatArray, str]:
    """Take rate per channel: exposure's fee profiles first, then ``orders.fees``."""
    rates: dict[str, float] = {}
    sources: list[str] = []
    if use_exposure:
        try:
            got = dict(channel_fee_rates(ws))
        except LevelfieldError as exc:
            _note(notes, f"exposure fee rates unavailable ({exc}); using orders.fees", warn=False)
            got = {}
        rates = {str(k).lower(): float(v) for k, v in got.items() if v is not None}
        if rates:
            sources.append("levelfield.exposure.channel_fee_rates (fee profiles and exported fees)")
    rows = _rows(
        ws,
        """SELECT lower(channel), CAST(sum(CAST(fees * fx_rate AS DECIMAL(18,4))) AS DOUBLE),
                  CAST(sum(net_revenue_base) AS DOUBLE)
           FROM order_revenue WHERE fees IS NOT NULL AND fx_rate IS NOT NULL
           GROUP BY 1""",
    )
    from_orders = {r[0]: max(0.0, r[1] / r[2]) for r in rows if r[2] and r[2] > 0}
    filled = [c for c in channels if c.lower() not in rates and c.lower() in from_orders]
    if filled:
        sources.append(f"orders.fees column (fees / net revenue) for {', '.join(filled)}")
        rates.update({c.lower(): from_orders[c.lower()] for c in filled})
    missing = [c for c in channels if c.lower() not in rates]
    if missing:
        _note(
            notes,
            f"no fee data for {', '.join(missing)}: their platform fees are taken as 0 "
            "(import fees or set the channel's fee_profile)",
            warn=False,
        )
    out = np.array([min(1.0, max(0.0, rates.get(c.lower(), 0.0))) for c in channels])
    return out, "; ".join(sources) or "none (no fee data)"


def _fx_volatility(ws: Any, currency: str) -> tuple[float, str] | None:
    """Annual volatility of the most volatile supplier currency against ``currency``.

    From the ECB reference history (five years up to its last rate); ``None`` when no
    supplier states a currency with ECB rates other than the base one.
    """
    rows = _rows(
        ws,
        "SELECT DISTINCT upper(trim(currency)) FROM suppliers "
        "WHERE nullif(trim(currency), '') IS NOT NULL AND upper(trim(currency)) <> ?",
        [currency],
    )
    known = [(str(c), v) for (c,) in rows if (v := pair_volatility(currency, str(c)))]
    if not known:
        return None
    cur, (sigma, last) = max(known, key=lambda t: t[1][0])
    return sigma, (
        f"ECB reference rates, 5 years to {last:%Y-%m-%d}: {cur}/{currency} moves "
        f"{sigma:.1%} a year (standard deviation of daily changes, annualized; the most "
        "volatile supplier currency)"
    )


def _retention(ws: Any, notes: _Notes) -> tuple[float, str, float]:
    rep = _rows(
        ws,
        """WITH o AS (
             SELECT customer_id, ordered_at, net_revenue_base AS net_revenue,
                    row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS k
             FROM order_revenue WHERE NOT is_refund AND customer_id IS NOT NULL)
           SELECT CAST(sum(CASE WHEN k > 1 THEN net_revenue ELSE 0 END) AS DOUBLE),
                  CAST(sum(net_revenue) AS DOUBLE), count(DISTINCT customer_id)
           FROM o""",
    )[0]
    repeat_share = float(rep[0] / rep[1]) if rep[1] else 0.0
    run = ws.latest_run("customers")
    if run is not None:
        value = (run.get("summary") or {}).get("monthly_retention")
        if isinstance(value, int | float) and 0 < float(value) < 1:
            return float(value), f"customers run {run['run_id']} (monthly_retention)", repeat_share
    if not rep[2]:
        return 0.8, "assumed 0.8 (no customer ids in orders)", 0.0
    rows = _rows(
        ws,
        """WITH a AS (
             SELECT DISTINCT customer_id,
                    (year(ordered_at) * 12 + month(ordered_at)) // 3 AS q
             FROM order_revenue WHERE NOT is_refund AND customer_id IS NOT NULL),
           b AS (SELECT max(q) AS qmax FROM a)
           SELECT count(*), count(nxt.customer_id)
           FROM a CROSS JOIN b
           LEFT JOIN a AS nxt ON nxt.customer_id = a.customer_id AND nxt.q = a.q + 1
           WHERE a.q < b.qmax""",
    )[0]
    if rows[0] < 30:
        return 0.8, f"assumed 0.8 (only {rows[0]} customer-quarters to estimate from)", repeat_share
    quarterly = max(rows[1] / rows[0], 1e-3)
    r0 = float(np.clip(quarterly ** (1 / 3), 0.05, 0.99))
    return (
        r0,
        f"orders: {quarterly:.0%} of a quarter's customers buy again the next quarter "
        f"(cube root, {rows[0]} customer-quarters)",
        repeat_share,
    )


def _cost_of_goods(
    ws: Any, notes: _Notes
) -> tuple[float, tuple[str, ...], FloatArray, FloatArray, NDArray[np.bool_]]:
    rows = _rows(
        ws,
        """SELECT upper(coalesce(nullif(trim(s.country), ''), 'UNKNOWN')) AS country,
                  sum(c.cost_base) AS cost,
                  CAST(sum(CASE WHEN c.cost_base IS NOT NULL
                                THEN CAST(c.line_value_base AS DECIMAL(18,4)) END)
                       AS DOUBLE) AS rev_costed,
                  CAST(sum(CAST(c.line_value_base AS DECIMAL(18,4))) AS DOUBLE) AS rev,
                  bool_or(coalesce("""
        + alternatives_count_sql("s.alternatives")
        + """, 0) > 0) AS alt
           FROM order_line_costs c
           LEFT JOIN suppliers s ON s.supplier_id = c.supplier_id
           WHERE NOT c.is_refund
           GROUP BY 1 ORDER BY 1""",
    )
    cost = np.array([r[1] or 0.0 for r in rows])
    rev_costed = np.array([r[2] or 0.0 for r in rows])
    rev = np.array([r[3] or 0.0 for r in rows])
    if not rows or rev_costed.sum() <= 0:
        _note(
            notes,
            "no product unit costs: cost of goods is left out of profit (import products "
            "with unit_cost and supplier_id)",
        )
        return 0.0, (), np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    countries = tuple(str(r[0]) for r in rows)
    ratio = float(cost.sum() / rev_costed.sum())
    weights = cost / cost.sum() if cost.sum() > 0 else np.full(len(rows), 1 / len(rows))
    share = rev / rev.sum() if rev.sum() > 0 else weights
    alt = np.array([bool(r[4]) for r in rows], dtype=bool)
    return ratio, countries, weights, share, alt


def _fixed_costs(
    ws: Any,
    end_month: dt.date,
    total_rev: FloatArray,
    first_month: dt.date,
    notes: _Notes,
) -> tuple[float, float, float, str]:
    rows = _rows(
        ws,
        """SELECT CAST(date_trunc('month', month) AS DATE), category, fixed,
                  CAST(sum(amount) AS DOUBLE)
           FROM costs GROUP BY ALL ORDER BY 1""",
    )
    if not rows:
        _note(
            notes,
            "no costs in the workspace: profit leaves out rent, wages and other overheads "
            "(import them with 'levelfield import costs FILE')",
        )
        return 0.0, 0.0, 0.0, ""
    last = max(r[0] for r in rows)
    start = _month_add(last, -11)
    recent = [r for r in rows if r[0] >= start]
    n_months = len({r[0] for r in recent})
    wage = sum(r[3] for r in recent if r[2] and _WAGE_PATTERN.search(str(r[1]))) / n_months
    other = sum(r[3] for r in recent if r[2] and not _WAGE_PATTERN.search(str(r[1]))) / n_months
    var_total = sum(r[3] for r in recent if not r[2])
    var_ratio = 0.0
    if var_total:
        # Revenue of the same months, from the order history.
        idx = [
            (r0.year - first_month.year) * 12 + r0.month - first_month.month
            for r0 in sorted({r[0] for r in recent if not r[2]})
        ]
        idx = [i for i in idx if 0 <= i < total_rev.size]
        rev = float(total_rev[idx].sum()) if idx else 0.0
        var_ratio = var_total / rev if rev > 0 else 0.0
    note = f"fixed costs: average of {n_months} month(s) of the 'costs' table up to {last:%Y-%m}"
    return float(wage), float(other), float(max(var_ratio, 0.0)), note


def _elasticity(ws: Any, given: float | None) -> tuple[float, str]:
    if given is not None:
        e = _num(given, "elasticity")
        if e >= 0:
            raise ConfigError(f"elasticity must be negative (demand falls as price rises), got {e}")
        return e, "set by the user"
    run = ws.latest_run("pricing")
    if run is not None:
        summary = run.get("summary") or {}
        for key in ("elasticity", "median_elasticity", "mean_elasticity"):
            v = summary.get(key)
            if isinstance(v, int | float) and math.isfinite(v) and v < 0:
                return float(v), f"pricing run {run['run_id']} ({key})"
    return DEFAULT_ELASTICITY, f"assumed {DEFAULT_ELASTICITY} (no pricing run)"
