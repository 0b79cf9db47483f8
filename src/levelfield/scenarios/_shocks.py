"""Named shocks, strategy actions, scenarios and strategies, and their TOML form.

A *shock* is something the business does not control (a tariff, a fee rise); an
*action* is something it decides (move sales to its own store). Both are deterministic
changes to the baseline P&L, applied on top of the same random draws, so a scenario or a
strategy is compared with the baseline under common random numbers.

Units: ``percent`` is a percentage (25 = +25 %), ``points`` a change of a rate in
percentage points (3 = +3 points); months count from 1 = first projected month.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from levelfield.errors import ConfigError, UnknownReferenceError
from levelfield.scenarios._model import Adjustments, PnLModel

__all__ = [
    "ACTIONS",
    "SHOCKS",
    "AddSupplier",
    "Change",
    "DemandDrop",
    "FXMove",
    "InterestRateRise",
    "PlatformFeeRise",
    "PriceChange",
    "Scenario",
    "ShiftChannel",
    "Strategy",
    "SupplierOutage",
    "Tariff",
    "WageRise",
    "compile_changes",
    "load_scenarios",
]

_DAYS_PER_MONTH = 365.25 / 12


def _window(model: PnLModel, start_month: int, months: int | None, what: str) -> NDArray[np.bool_]:
    h = model.horizon
    if start_month > h:
        raise ConfigError(
            f"{what} starts in month {start_month}, after the {h}-month horizon; "
            f"use start_month between 1 and {h}"
        )
    mask = np.zeros(h, dtype=bool)
    end = h if months is None else min(h, start_month - 1 + months)
    mask[start_month - 1 : end] = True
    return mask


class Change:
    """Base class of shocks and actions: a deterministic change to the baseline P&L."""

    type_name: ClassVar[str] = ""
    kind: ClassVar[str] = "shock"

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        """Apply the change to ``adj`` in place; raise on unknown countries/channels."""
        raise NotImplementedError  # pragma: no cover - abstract

    def describe(self) -> str:
        """One line for people."""
        raise NotImplementedError  # pragma: no cover - abstract

    def to_dict(self) -> dict[str, Any]:
        """The TOML/JSON form: ``{"type": ..., field: value, ...}``."""
        out: dict[str, Any] = {"type": self.type_name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if v is not None:
                out[f.name] = v
        return out

    def _check(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            _coerce(self, f.name, f.type, getattr(self, f.name))


def _coerce(obj: Any, name: str, typ: Any, value: Any) -> None:
    t = str(typ)
    where = f"{obj.type_name} {name}"
    if value is None:
        if "None" not in t:
            raise ConfigError(f"{where} is required")
        return
    if t.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ConfigError(f"{where} must be a number, not {value!r}")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{where} must be finite, not {value}")
        object.__setattr__(obj, name, float(value))
    elif t.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{where} must be a whole number, not {value!r}")
        if int(value) < 1:
            raise ConfigError(f"{where} must be at least 1, got {value}")
        object.__setattr__(obj, name, int(value))
    elif t.startswith("bool"):
        if not isinstance(value, bool | np.bool_):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        object.__setattr__(obj, name, bool(value))
    elif t.startswith("str"):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where} must be a non-empty text, not {value!r}")
        object.__setattr__(obj, name, value.strip())


def _pct(value: float, where: str, low: float = -100.0, high: float = 1000.0) -> float:
    if not low <= value <= high:
        raise ConfigError(f"{where} must be between {low:g} and {high:g} percent, got {value:g}")
    return value / 100.0


# -- shocks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tariff(Change):
    """Tariff or duty of ``percent`` % on goods bought from supplier ``country``."""

    country: str
    percent: float
    start_month: int = 1
    months: int | None = None
    type_name: ClassVar[str] = "tariff"

    def __post_init__(self) -> None:
        self._check()

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        j = model.country_index(self.country)
        mask = _window(model, self.start_month, self.months, "tariff")
        adj.country_mult[mask, j] *= 1 + _pct(self.percent, "tariff percent")

    def describe(self) -> str:
        return f"tariff {self.percent:+g}% on goods from {self.country.upper()}"


@dataclass(frozen=True)
class PlatformFeeRise(Change):
    """Platform fee on ``channel`` up by ``points`` percentage points.

    ``channel="marketplaces"`` raises every marketplace channel.
    """

    channel: str
    points: float
    start_month: int = 1
    months: int | None = None
    type_name: ClassVar[str] = "platform_fee"

    def __post_init__(self) -> None:
        self._check()
        if not -100 <= self.points <= 100:
            raise ConfigError(
                f"platform_fee points must be between -100 and 100, got {self.points}"
            )

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        cols = _channels(model, self.channel)
        mask = _window(model, self.start_month, self.months, "platform fee rise")
        adj.fee_points[np.ix_(mask, np.asarray(cols, dtype=np.intp))] += self.points / 100.0

    def describe(self) -> str:
        return f"{self.channel} fee {self.points:+g} points"


@dataclass(frozen=True)
class DemandDrop(Change):
    """Demand down ``percent`` % for ``months`` months (one channel or all)."""

    percent: float
    months: int
    start_month: int = 1
    channel: str | None = None
    type_name: ClassVar[str] = "demand_drop"

    def __post_init__(self) -> None:
        self._check()
        _pct(self.percent, "demand_drop percent", -1000.0, 100.0)

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        cols = _channels(model, self.channel) if self.channel else list(range(len(model.channels)))
        mask = _window(model, self.start_month, self.months, "demand drop")
        adj.demand_mult[np.ix_(mask, np.asarray(cols, dtype=np.intp))] *= 1 - self.percent / 100.0

    def describe(self) -> str:
        where = f" on {self.channel}" if self.channel else ""
        return f"demand -{self.percent:g}%{where} for {self.months} months"


@dataclass(frozen=True)
class SupplierOutage(Change):
    """Suppliers in ``country`` unavailable for ``weeks`` weeks.

    Without an alternative, sales of the products sourced there are lost for the
    outage; with one, they continue at a ``cost_premium_percent`` higher cost.
    ``alternative=None`` reads whether the workspace's suppliers there list
    alternatives.
    """

    country: str
    weeks: int
    alternative: bool | None = None
    start_month: int = 1
    cost_premium_percent: float = 15.0
    type_name: ClassVar[str] = "supplier_outage"

    def __post_init__(self) -> None:
        self._check()
        _pct(self.cost_premium_percent, "supplier_outage cost_premium_percent", 0.0)

    def fractions(self, model: PnLModel) -> NDArray[np.float64]:
        """Share of each projected month covered by the outage."""
        _window(model, self.start_month, None, "supplier outage")
        s = (self.start_month - 1) * _DAYS_PER_MONTH
        e = s + 7.0 * self.weeks
        lo = np.arange(model.horizon) * _DAYS_PER_MONTH
        overlap = np.clip(np.minimum(lo + _DAYS_PER_MONTH, e) - np.maximum(lo, s), 0.0, None)
        out: NDArray[np.float64] = overlap / _DAYS_PER_MONTH
        return out

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        j = model.country_index(self.country)
        frac = self.fractions(model)
        alt = bool(model.has_alternative[j]) if self.alternative is None else self.alternative
        if alt:
            adj.country_mult[:, j] *= 1 + frac * self.cost_premium_percent / 100.0
            return
        base_w = model.country_weights[j]
        # A strategy that moved part of the purchases elsewhere shrinks what is lost.
        still = adj.country_weights[j] / base_w if base_w > 0 else 0.0
        lost = model.country_revenue_share[j] * min(max(still, 0.0), 1.0) * frac
        adj.lost_share[:] = 1.0 - (1.0 - adj.lost_share) * (1.0 - lost)

    def describe(self) -> str:
        alt = {None: "", True: " (alternative supplier)", False: " (no alternative)"}
        return (
            f"suppliers in {self.country.upper()} out for {self.weeks} weeks{alt[self.alternative]}"
        )


@dataclass(frozen=True)
class FXMove(Change):
    """Purchase currency moves: foreign purchases cost ``percent`` % more (or less)."""

    percent: float
    start_month: int = 1
    months: int | None = None
    type_name: ClassVar[str] = "fx_move"

    def __post_init__(self) -> None:
        self._check()
        _pct(self.percent, "fx_move percent", -90.0)

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        mask = _window(model, self.start_month, self.months, "FX move")
        adj.fx_mult[mask] *= 1 + self.percent / 100.0

    def describe(self) -> str:
        return f"foreign purchases {self.percent:+g}% (currency move)"


@dataclass(frozen=True)
class WageRise(Change):
    """Wage costs up ``percent`` % from ``start_month``."""

    percent: float
    start_month: int = 1
    type_name: ClassVar[str] = "wage_rise"

    def __post_init__(self) -> None:
        self._check()
        _pct(self.percent, "wage_rise percent", -100.0)

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        mask = _window(model, self.start_month, None, "wage rise")
        adj.wage_mult[mask] *= 1 + self.percent / 100.0

    def describe(self) -> str:
        return f"wages {self.percent:+g}%"


@dataclass(frozen=True)
class InterestRateRise(Change):
    """Interest rate on debt up ``points`` percentage points from ``start_month``."""

    points: float
    start_month: int = 1
    type_name: ClassVar[str] = "interest_rise"

    def __post_init__(self) -> None:
        self._check()
        if not -50 <= self.points <= 100:
            raise ConfigError(
                f"interest_rise points must be between -50 and 100, got {self.points}"
            )

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        mask = _window(model, self.start_month, None, "interest rate rise")
        adj.interest_points[mask] += self.points / 100.0

    def describe(self) -> str:
        return f"interest rate {self.points:+g} points"


# -- actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftChannel(Change):
    """Move ``percent`` % of ``source``'s sales to ``target``.

    ``source="marketplaces"`` moves from every marketplace; ``target="own_store"``
    picks the own-store channel with the most revenue. ``follow_percent`` of the moved
    buyers follow; the rest are lost. The default (None) is the business's own-store
    assumption, ``model.own_store_follow`` (:func:`levelfield.exposure.own_store_follow`),
    the same one exposure and advice use: ``simulate`` draws it per future from its PERT
    prior; a single deterministic application uses its mode.
    """

    source: str
    target: str
    percent: float = 30.0
    follow_percent: float | None = None
    type_name: ClassVar[str] = "shift_channel"
    kind: ClassVar[str] = "action"

    def __post_init__(self) -> None:
        self._check()
        _pct(self.percent, "shift_channel percent", 0.0, 100.0)
        if self.follow_percent is not None:
            _pct(self.follow_percent, "shift_channel follow_percent", 0.0, 100.0)

    def follow_share(self, model: PnLModel) -> float:
        """Share of moved buyers who follow: the given percent, else the model's assumption."""
        if self.follow_percent is None:
            return model.own_store_follow.mode
        return self.follow_percent / 100.0

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        src = _channels(model, self.source)
        if self.target.lower() in ("own_store", "own"):
            own = [model.channels.index(c) for c in model.own_store_channels]
            if not own:
                raise UnknownReferenceError(
                    "no own-store channel (one the business owns the customer on); the "
                    f"channels are {', '.join(model.channels)}; name the target channel"
                )
            tgt = max(own, key=lambda c: float(model.revenue_base[:, c].sum()))
        else:
            tgt = model.channel_index(self.target)
        s, f = self.percent / 100.0, self.follow_share(model)
        for c in src:
            if c == tgt:
                continue
            moved = adj.route[c].copy() * s
            adj.route[c] -= moved
            adj.route[c, tgt] += moved.sum() * f

    def describe(self) -> str:
        follow = (
            "buyers who follow: the own-store assumption, drawn per future"
            if self.follow_percent is None
            else f"{self.follow_percent:g}% of buyers follow"
        )
        return f"move {self.percent:g}% of {self.source} sales to {self.target} ({follow})"


@dataclass(frozen=True)
class AddSupplier(Change):
    """Buy ``percent`` % of what comes from ``country_from`` in ``country_to`` instead.

    The new supplier costs ``cost_premium_percent`` % more; in exchange tariffs and
    outages in ``country_from`` hit a smaller share.
    """

    country_from: str
    country_to: str
    percent: float = 50.0
    cost_premium_percent: float = 5.0
    type_name: ClassVar[str] = "add_supplier"
    kind: ClassVar[str] = "action"

    def __post_init__(self) -> None:
        self._check()
        _pct(self.percent, "add_supplier percent", 0.0, 100.0)
        _pct(self.cost_premium_percent, "add_supplier cost_premium_percent", -50.0)

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        a = model.country_index(self.country_from)
        b = model.country_index(self.country_to)
        if a == b:
            raise ConfigError(
                f"add_supplier: country_from and country_to are both {self.country_from!r}; "
                "pick another country"
            )
        moved = adj.country_weights[a] * self.percent / 100.0
        adj.country_weights[a] -= moved
        adj.country_weights[b] += moved * (1 + self.cost_premium_percent / 100.0)

    def describe(self) -> str:
        return (
            f"buy {self.percent:g}% of {self.country_from.upper()} goods in "
            f"{self.country_to.upper()} (+{self.cost_premium_percent:g}% cost)"
        )


@dataclass(frozen=True)
class PriceChange(Change):
    """Change all prices by ``percent`` %; demand responds with the price elasticity.

    Quantity changes by ``(1 + p)^elasticity``, revenue by ``(1 + p)^(1 + elasticity)``.
    ``elasticity=None`` uses the model's ``elasticity`` driver (uncertain).
    """

    percent: float
    elasticity: float | None = None
    type_name: ClassVar[str] = "price_change"
    kind: ClassVar[str] = "action"

    def __post_init__(self) -> None:
        self._check()
        _pct(self.percent, "price_change percent", -90.0, 500.0)
        if self.elasticity is not None and self.elasticity >= 0:
            raise ConfigError(f"price_change elasticity must be negative, got {self.elasticity}")

    def apply(self, model: PnLModel, adj: Adjustments) -> None:
        adj.price_change = (1 + adj.price_change) * (1 + self.percent / 100.0) - 1
        if self.elasticity is not None:
            adj.elasticity = self.elasticity

    def describe(self) -> str:
        return f"prices {self.percent:+g}%"


def _channels(model: PnLModel, name: str | None) -> list[int]:
    key = str(name).strip().lower()
    if key in ("marketplaces", "marketplace"):
        cols = [model.channels.index(c) for c in model.marketplace_channels]
        if not cols:
            raise UnknownReferenceError(
                "no marketplace channel in the workspace; the channels are "
                f"{', '.join(model.channels)}"
            )
        return cols
    if key in ("all", "*"):
        return list(range(len(model.channels)))
    return [model.channel_index(str(name))]


SHOCKS: dict[str, type[Change]] = {
    c.type_name: c
    for c in (
        Tariff,
        PlatformFeeRise,
        DemandDrop,
        SupplierOutage,
        FXMove,
        WageRise,
        InterestRateRise,
    )
}
ACTIONS: dict[str, type[Change]] = {
    c.type_name: c for c in (ShiftChannel, AddSupplier, PriceChange)
}


# -- scenarios and strategies ----------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Named set of shocks applied together."""

    name: str
    shocks: tuple[Change, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        _check_named(self, "scenario", self.shocks)

    def describe(self) -> str:
        return self.description or "; ".join(s.describe() for s in self.shocks) or "no change"


@dataclass(frozen=True)
class Strategy:
    """Named set of actions the business could take (compared with doing nothing)."""

    name: str
    actions: tuple[Change, ...] = field(default=())
    description: str = ""

    def __post_init__(self) -> None:
        _check_named(self, "strategy", self.actions)

    def describe(self) -> str:
        return self.description or "; ".join(a.describe() for a in self.actions) or "no change"


def _check_named(obj: Any, what: str, items: Any) -> None:
    if not isinstance(obj.name, str) or not obj.name.strip():
        raise ConfigError(f"a {what} needs a non-empty name")
    if isinstance(items, Change):
        items = (items,)
    if not isinstance(items, Iterable):
        raise ConfigError(f"{what} {obj.name!r}: changes must be a list, not {items!r}")
    items = tuple(items)
    for it in items:
        if not isinstance(it, Change):
            raise ConfigError(
                f"{what} {obj.name!r}: {it!r} is not a shock or action; use Tariff(...), "
                "ShiftChannel(...) and so on"
            )
    attr = "shocks" if what == "scenario" else "actions"
    object.__setattr__(obj, attr, items)


def compile_changes(model: PnLModel, changes: Iterable[Change]) -> Adjustments:
    """Deterministic adjustments of ``model`` for ``changes``, applied in order.

    Raises
    ------
    UnknownReferenceError
        A change names a country or channel the model does not have (the message lists
        the known ones).
    """
    adj = Adjustments.neutral(model)
    for ch in changes:
        ch.apply(model, adj)
    return adj


# -- TOML ------------------------------------------------------------------------------


def _change_from_dict(spec: Any, registry: Mapping[str, type[Change]], where: str) -> Change:
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{where}: expected a table like {{ type = 'tariff', ... }}, got {spec!r}"
        )
    typ = spec.get("type")
    if typ not in registry:
        raise ConfigError(
            f"{where}: unknown type {typ!r}; choose one of {', '.join(sorted(registry))}"
        )
    cls = registry[str(typ)]
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(spec) - set(fields) - {"type"})
    if unknown:
        raise ConfigError(
            f"{where}: {typ} has no field(s) {', '.join(unknown)}; it takes {', '.join(fields)}"
        )
    required = [
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [n for n in required if n not in spec]
    if missing:
        raise ConfigError(f"{where}: {typ} is missing {', '.join(missing)}")
    try:
        return cls(**{k: v for k, v in spec.items() if k != "type"})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _read_toml(source: str | Path | Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The parsed scenario table and the label errors name it by (the file's path, or
    ``scenarios`` for text and mappings).

    Raises :class:`ConfigError` for a missing file, a wrong type or invalid TOML.
    """
    label = "scenarios"
    if isinstance(source, Mapping):
        data: Mapping[str, Any] = source
    else:
        text: str
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and source.endswith(".toml")
        ):
            p = Path(source)
            label = str(p)
            if not p.is_file():
                raise ConfigError(f"scenario file {p} does not exist")
            text = p.read_text(encoding="utf-8")
        elif isinstance(source, str):
            text = source
        else:
            raise ConfigError(
                f"scenarios must be a TOML file path or text, not {type(source).__name__}"
            )
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    return data, label


def load_scenarios(
    source: str | Path | Mapping[str, Any], model: PnLModel | None = None
) -> tuple[list[Scenario], list[Strategy], dict[str, Any]]:
    """Read user scenarios and strategies from TOML.

    Format::

        [[scenario]]
        name = "Trade war"
        shocks = [
          { type = "tariff", country = "CN", percent = 25 },
          { type = "demand_drop", percent = 10, months = 3 },
        ]

        [[strategy]]
        name = "Own store push"
        actions = [{ type = "shift_channel", source = "etsy", target = "shopify", percent = 30 }]

        [drivers]   # optional distribution overrides
        "demand.etsy" = { kind = "lognormal", mean = 1.0, sd = 0.2 }

    Parameters
    ----------
    source
        A path to a ``.toml`` file, TOML text, or an already parsed mapping.
    model
        When given, every shock and action is also checked against it (unknown
        countries and channels are reported with the known ones).

    Returns
    -------
    scenarios, strategies, driver_overrides

    Raises
    ------
    ConfigError
        Invalid TOML or fields, with the scenario name and shock number.
    UnknownReferenceError
        With ``model``: an unknown country or channel.
    """
    data, label = _read_toml(source)
    unknown = sorted(set(data) - {"scenario", "strategy", "drivers"})
    if unknown:
        raise ConfigError(
            f"{label}: unknown section(s) {', '.join(unknown)}; use [[scenario]], "
            "[[strategy]] and [drivers]"
        )
    scenarios = [
        _named_from_dict(s, i, "scenario", "shocks", SHOCKS, label)
        for i, s in enumerate(_list(data.get("scenario", []), label, "scenario"))
    ]
    strategies = [
        _named_from_dict(s, i, "strategy", "actions", ACTIONS, label)
        for i, s in enumerate(_list(data.get("strategy", []), label, "strategy"))
    ]
    drivers = data.get("drivers", {})
    if not isinstance(drivers, Mapping):
        raise ConfigError(f"{label}: [drivers] must be a table of driver = {{ kind = ... }}")
    if model is not None:
        for sc in scenarios:
            compile_changes(model, sc.shocks)
        for st in strategies:
            compile_changes(model, st.actions)
        for name in drivers:
            model.driver_index(str(name))
    return scenarios, strategies, dict(drivers)


def _list(value: Any, label: str, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{label}: [[{what}]] must be an array of tables")
    return value


def _named_from_dict(
    spec: Any,
    index: int,
    what: str,
    key: str,
    registry: Mapping[str, type[Change]],
    label: str,
) -> Any:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{label}: {what} #{index + 1} must be a table")
    name = spec.get("name")
    where = f"{label}: {what} {name!r}" if name else f"{label}: {what} #{index + 1}"
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where} needs a name")
    extra = sorted(set(spec) - {"name", "description", key})
    if extra:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(extra)}; use name, description, {key}"
        )
    items = spec.get(key, [])
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: {key} must be a non-empty list of {{ type = ... }} tables")
    changes = tuple(
        _change_from_dict(it, registry, f"{where}, {key[:-1]} #{k + 1}")
        for k, it in enumerate(items)
    )
    desc = str(spec.get("description", ""))
    if what == "scenario":
        return Scenario(name.strip(), changes, desc)
    return Strategy(name.strip(), changes, desc)
