"""Analysis settings: one typed, validated registry, stored per workspace.

Every parameter an analysis accepts is a :class:`Setting` in :data:`SETTINGS` (key, type,
default, unit, range or choices, a one-line doc and the analyses that read it). A value
comes from, in order: the user (``levelfield set``, the web settings page; table
``settings``, every change in ``settings_ledger`` with who, when, old and new value),
the business profile (a ``business`` row under the setting's key, or its ``profile_key``
such as ``currency``), else the registry default. Analyses read their values through
:meth:`SettingsStore.resolve`, which also applies explicit keyword overrides, and record
the values they used with the run, so a changed setting makes the run stale
(:func:`levelfield.pipeline.collect_findings` runs it again, and its dependents).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import duckdb

from levelfield.errors import ConfigError
from levelfield.workspace._fx import sync_reference_rates
from levelfield.workspace._rivals import WHOLESALE_CHANNELS

__all__ = [
    "SETTINGS",
    "UNSET",
    "Setting",
    "SettingValue",
    "SettingsStore",
    "Unset",
    "settings_of",
]

Kind = Literal["bool", "int", "float", "choice", "text", "date", "path", "list", "mapping"]


class Unset(enum.Enum):
    """Marker of a keyword override that was not given (``None`` can be a real value)."""

    UNSET = "unset"


#: The default of every ``analyze(ws, ...)`` keyword: "read it from the settings".
UNSET: Final = Unset.UNSET

_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Setting:
    """One analysis parameter.

    ``param`` is the keyword of ``analyze`` it feeds (default: the key's last part);
    ``none_word`` is the word that means "not set, let the analysis decide" (``auto``),
    for settings whose value may be ``None``; ``words`` are other accepted words (a
    date setting's ``auto``); ``keys`` restricts a mapping's keys.
    """

    key: str
    kind: Kind
    default: Any
    unit: str
    doc: str
    analyses: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    none_word: str | None = None
    words: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    param: str = ""
    profile_key: str = ""
    upper: bool = False

    @property
    def name(self) -> str:
        """The keyword of ``analyze`` this setting feeds."""
        return self.param or self.key.rsplit(".", 1)[-1]

    @property
    def allowed(self) -> str:
        """The allowed values in words (for errors, ``levelfield settings`` and the web)."""
        out = self._allowed_values()
        if self.none_word:
            out += f", or {self.none_word!r}"
        return out

    def _allowed_values(self) -> str:
        if self.kind == "bool":
            return "yes or no"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind in ("int", "float"):
            return ("a whole number" if self.kind == "int" else "a number") + self._range()
        if self.kind == "date":
            extra = "".join(f" or {w!r}" for w in self.words)
            return "a date YYYY-MM-DD" + extra
        if self.kind == "path":
            return "the path of an existing file"
        if self.kind == "list":
            items = f" from {', '.join(self.choices)}" if self.choices else ""
            return f"a comma-separated list{items} ('' for none)"
        if self.kind == "mapping":
            keys = f" ({', '.join(self.keys)})" if self.keys else ""
            return f"NAME=NUMBER pairs{keys}, comma-separated, each{self._range()} ('' for none)"
        if self.upper:
            return "a three-letter currency code (ISO 4217)"
        return "text"

    def _range(self) -> str:
        if self.low is None and self.high is None:
            return ""
        lo = "" if self.low is None else f"{self.low:g} {'<' if self.low_open else '<='} "
        hi = "" if self.high is None else f" {'<' if self.high_open else '<='} {self.high:g}"
        return f" with {lo}x{hi}"

    # -- parsing and checking -------------------------------------------------------------
    def parse(self, text: str) -> Any:
        """The value of ``text`` as typed on the command line or in the web form.

        Raises
        ------
        ConfigError
            Not an allowed value; the message names the key and what is allowed.
        """
        t = text.strip()
        empty_collection = self.kind in ("list", "mapping") and t == ""
        is_none = self.none_word is not None and t.lower() in (self.none_word, "none", "")
        if is_none and not empty_collection:
            return None
        try:
            return self._parse(t, text)
        except ConfigError as exc:
            if str(exc).startswith(f"setting {self.key}: no file"):
                raise
            raise self._error(text) from None

    def _parse(self, t: str, text: str) -> Any:
        if self.kind == "bool":
            if t.lower() in _TRUE:
                return True
            if t.lower() in _FALSE:
                return False
            raise self._error(text)
        if self.kind in ("int", "float"):
            return self.check(self._number(t, text))
        if self.kind == "list":
            return self.check([p.strip() for p in t.split(",") if p.strip()])
        if self.kind == "mapping":
            return self.check(self._pairs(t, text))
        return self.check(t)

    def _number(self, t: str, text: str) -> float | int:
        pct = t.endswith("%")
        body = t.removesuffix("%").replace("_", "").replace(",", "").strip()
        try:
            v = float(body) / 100 if pct else float(body)
        except ValueError:
            raise self._error(text) from None
        if self.kind == "int":
            if not v.is_integer() or pct:
                raise self._error(text)
            return int(v)
        return v

    def _pairs(self, t: str, text: str) -> dict[str, float]:
        if t.startswith("{"):
            try:
                raw = json.loads(t)
            except json.JSONDecodeError:
                raise self._error(text) from None
            if not isinstance(raw, dict):
                raise self._error(text)
            return raw
        out: dict[str, float] = {}
        for part in (p.strip() for p in t.split(",") if p.strip()):
            name, sep, num = part.partition("=")
            if not sep or not name.strip():
                raise self._error(text)
            try:
                out[name.strip()] = float(num.strip().replace("_", ""))
            except ValueError:
                raise self._error(text) from None
        return out

    def _error(self, value: Any) -> ConfigError:
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        return ConfigError(f"setting {self.key}: {shown!r} is not allowed; give {self.allowed}")

    def check(self, value: Any) -> Any:
        """The canonical (JSON-able) value of ``value``, or :class:`ConfigError`."""
        if value is None:
            if self.none_word is None:
                raise self._error("none")
            return None
        check = _CHECKS[self.kind]
        return check(self, value)

    def to_text(self, value: Any) -> str:
        """``value`` as ``levelfield settings`` and the web page show it (parses back)."""
        if value is None:
            return self.none_word or ""
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "list":
            return ",".join(value)
        if self.kind == "mapping":
            return ",".join(f"{k}={v:g}" for k, v in value.items())
        if self.kind == "float":
            return f"{value:g}"
        return str(value)

    def in_range(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return not (
            self.high is not None and (v > self.high or (self.high_open and v == self.high))
        )


def _check_bool(s: Setting, v: Any) -> bool:
    if not isinstance(v, bool):
        raise s._error(v)
    return v


def _check_number(s: Setting, v: Any) -> float | int:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise s._error(v)
    if s.kind == "int" and isinstance(v, float) and not v.is_integer():
        raise s._error(v)
    out: float | int = int(v) if s.kind == "int" else float(v)
    if not s.in_range(float(out)):
        raise s._error(v)
    return out


def _check_choice(s: Setting, v: Any) -> str:
    if not isinstance(v, str) or v not in s.choices:
        raise s._error(v)
    return str(v)


def _check_text(s: Setting, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise s._error(v)
    out = str(v).strip()
    if s.upper:
        out = out.upper()
        if not _CURRENCY.match(out):
            raise s._error(v)
    return out


def _check_date(s: Setting, v: Any) -> str:
    if isinstance(v, dt.date):
        return v.isoformat()[:10]
    if not isinstance(v, str):
        raise s._error(v)
    if v in s.words:
        return v
    try:
        return dt.date.fromisoformat(v.strip()).isoformat()
    except ValueError:
        raise s._error(v) from None


def _check_path(s: Setting, v: Any) -> str:
    if not isinstance(v, str | Path) or not str(v).strip():
        raise s._error(v)
    p = Path(v).expanduser()
    if not p.is_file():
        raise ConfigError(
            f"setting {s.key}: no file at {p}; give {s.allowed} (the path is kept as given, "
            "so keep the file there)"
        )
    return str(p.resolve())


def _check_list(s: Setting, v: Any) -> list[str]:
    if isinstance(v, str) or not isinstance(v, list | tuple):
        raise s._error(v)
    out = [str(x).strip() for x in v if str(x).strip()]
    bad = [x for x in out if s.choices and x not in s.choices]
    if bad or any(not isinstance(x, str) for x in v):
        raise s._error(v)
    return list(dict.fromkeys(out))


def _check_mapping(s: Setting, v: Any) -> dict[str, float]:
    if not isinstance(v, Mapping):
        raise s._error(v)
    out: dict[str, float] = {}
    for k, x in v.items():
        if not isinstance(k, str) or not k.strip() or (s.keys and k not in s.keys):
            raise s._error(dict(v))
        if isinstance(x, bool) or not isinstance(x, int | float) or not s.in_range(float(x)):
            raise s._error(dict(v))
        out[k.strip()] = float(x)
    return out


_CHECKS: dict[str, Any] = {
    "bool": _check_bool,
    "int": _check_number,
    "float": _check_number,
    "choice": _check_choice,
    "text": _check_text,
    "date": _check_date,
    "path": _check_path,
    "list": _check_list,
    "mapping": _check_mapping,
}

_ALL = ("customers", "subscriptions", "landscape", "exposure", "pricing", "scenarios", "financing")
_PRICING = ("pricing",)


def _s(key: str, kind: Kind, default: Any, unit: str, doc: str, *an: str, **kw: Any) -> Setting:
    return Setting(key, kind, default, unit, doc, tuple(an), **kw)


_SHARE: dict[str, Any] = {"low": 0.0, "high": 1.0}

_REGISTRY: tuple[Setting, ...] = (
    # -- the business -------------------------------------------------------------------
    _s("business.currency", "text", None, "ISO 4217 code",
       "Base currency every amount is converted to (auto: the currency of most revenue).",
       *_ALL, "advice", none_word="auto", upper=True, profile_key="currency"),
    # -- customers ------------------------------------------------------------------------
    _s("customers.model", "choice", "auto", "",
       "Purchase model: auto picks BG/NBD or Pareto/NBD by holdout error.",
       "customers", "scenarios", "advice", choices=("auto", "bgnbd", "pareto_nbd")),
    _s("customers.time_unit", "choice", "week", "", "Time unit of the purchase models.",
       "customers", "scenarios", "advice", choices=("day", "week")),
    _s("customers.horizon_months", "int", 12, "months",
       "Customer lifetime value horizon (cut to twice the history when that is shorter).",
       "customers", "scenarios", "advice", low=1, high=120),
    _s("customers.annual_discount_rate", "float", 0.10, "share per year",
       "Discount rate of future customer and subscription value.",
       "customers", "subscriptions", "scenarios", "advice", low=0.0, high=1.0,
       low_open=True, high_open=True),
    _s("customers.margin", "float", None, "share of revenue",
       "Profit share of revenue in customer value (auto: from product costs, else 1).",
       "customers", "scenarios", "advice", low=0.0, high=1.0, low_open=True, none_word="auto"),
    _s("customers.holdout", "date", "auto", "date",
       "Calibration end of the model check (auto: last third, at most 26 weeks).",
       "customers", "scenarios", "advice", none_word="none", words=("auto",)),
    _s("customers.risk_threshold", "float", 0.5, "probability",
       "A repeat customer is at risk when P(alive) is below this.",
       "customers", "scenarios", "advice", low=0.0, high=1.0, low_open=True, high_open=True),
    _s("customers.observation_end", "date", None, "date",
       "End of observation (auto: the last order date).",
       "customers", "scenarios", "advice", none_word="auto"),
    _s("customers.seed", "int", 0, "", "Random seed of the customer clustering.",
       "customers", "scenarios", "advice", low=0),
    _s("customers.covariates", "list",
       ["channel", "first_order_value", "region", "first_category"], "",
       "Customer traits tested on purchase and drop-out (kept only when a likelihood-ratio "
       "test at 5 % says they matter); '' switches covariates off.",
       "customers", "scenarios", "advice",
       choices=("channel", "first_order_value", "region", "first_category", "store")),
    # -- subscriptions --------------------------------------------------------------------
    _s("subscriptions.as_of", "date", None, "date",
       "Date recurring revenue is measured at (auto: now).",
       "subscriptions", "advice", none_word="auto"),
    # -- landscape ------------------------------------------------------------------------
    _s("landscape.k", "int", 5, "rivals", "Nearest rivals measured for distinctiveness.",
       "landscape", "advice", low=1, high=100),
    _s("landscape.weights", "mapping", {}, "weights",
       "Weights of attributes and text in the distance (empty: 0.5 each).",
       "landscape", "advice", low=0.0, keys=("attributes", "text")),
    _s("landscape.attribute_weights", "mapping", {}, "weights",
       "Weight per attribute inside the Gower distance (empty: 1 each).",
       "landscape", "advice", low=0.0),
    _s("landscape.n_groups", "int", None, "groups",
       "Number of strategic groups (auto: chosen by silhouette).",
       "landscape", "advice", low=2, high=50, none_word="auto"),
    _s("landscape.max_groups", "int", 8, "groups", "Largest number of strategic groups tried.",
       "landscape", "advice", low=2, high=50),
    _s("landscape.text_method", "choice", "auto", "", "How descriptions are compared.",
       "landscape", "advice", choices=("auto", "tfidf", "embeddings")),
    _s("landscape.alpha", "float", 0.05, "false discovery rate",
       "Benjamini-Hochberg q for under-served combinations.",
       "landscape", "advice", low=0.0, high=1.0, low_open=True, high_open=True),
    _s("landscape.asymmetric_flags", "bool", True, "",
       "Flag rivals that are close to you while you are not close to them.",
       "landscape", "advice"),
    _s("landscape.cliche_threshold", "float", 0.5, "share of firms",
       "A phrase used by more than this share of firms is a cliché.",
       "landscape", "advice", **_SHARE),
    _s("landscape.share_column", "text", None, "",
       "Numeric attribute used as market-share proxy (auto: the profiles' share).",
       "landscape", "advice", none_word="auto"),
    _s("landscape.map_max_iter", "int", None, "iterations",
       "Iterations of the competitor map layout (auto: by size).",
       "landscape", "advice", low=1, none_word="auto"),
    _s("landscape.seed", "int", 0, "", "Random seed of groups and map.",
       "landscape", "advice", low=0),
    _s("landscape.price_move_threshold", "float", 0.10, "share of price",
       "A rival's price move at least this large is a finding.",
       "landscape", "advice", low=0.0, high=1.0, low_open=True),
    _s("landscape.price_move_window_days", "int", 183, "days",
       "Rival price moves are looked for this far back from the newest observation.",
       "landscape", "advice", low=1, high=3660),
    # -- exposure -------------------------------------------------------------------------
    _s("exposure.shift_channel", "text", None, "channel",
       "Marketplace for the own-store what-if (auto: the one with most revenue).",
       "exposure", "scenarios", "advice", none_word="auto"),
    _s("exposure.shift_share", "float", 0.2, "share", "Share of its revenue moved in the what-if.",
       "exposure", "scenarios", "advice", **_SHARE),
    _s("exposure.conversion_loss", "float", None, "share",
       "Share of moved revenue lost on the way (auto: from own_store_follow).",
       "exposure", "scenarios", "advice", none_word="auto", **_SHARE),
    _s("exposure.own_store_fee_rate", "float", None, "share of revenue",
       "Fee rate of your own store (auto: your largest own channel's).",
       "exposure", "scenarios", "advice", low=0.0, high=1.0, high_open=True, none_word="auto"),
    _s("exposure.diversify_share", "float", 0.25, "share",
       "Share of a supplier's spend shifted in the diversification what-if.",
       "exposure", "scenarios", "advice", **_SHARE),
    _s("exposure.n_suggestions", "int", 5, "suggestions", "Alternatives suggested per risk.",
       "exposure", "scenarios", "advice", low=0, high=50),
    _s("exposure.country_risk", "mapping", {}, "risk 0-100",
       "Country risk overriding the World Bank WGI table (COUNTRY=risk).",
       "exposure", "scenarios", "advice", low=0.0, high=100.0),
    _s("exposure.compliance_study", "choice", "crain_crain_2014", "",
       "Study the compliance cost burden is read from.",
       "exposure", "scenarios", "advice", choices=("crain_crain_2014", "crain_crain_2010")),
    _s("exposure.unit_cost_benchmarks", "mapping", {}, "currency per unit",
       "Large-firm unit cost per SKU, for the scale gap (SKU=cost).",
       "exposure", "scenarios", "advice", low=0.0, low_open=True),
    # -- pricing --------------------------------------------------------------------------
    _s("pricing.estimator", "choice", "auto", "", "Elasticity estimator (auto: PPML for sparse).",
       "pricing", "scenarios", "advice", choices=("auto", "ols", "ppml")),
    _s("pricing.min_distinct_prices", "int", 2, "prices",
       "Distinct posted prices a product needs for its own elasticity.",
       "pricing", "scenarios", "advice", low=2),
    _s("pricing.min_log_price_sd", "float", 0.02, "log points",
       "Least spread of a product's log price for its own elasticity.",
       "pricing", "scenarios", "advice", low=0.0),
    _s("pricing.min_weeks", "int", 6, "weeks", "Selling weeks a product needs.",
       "pricing", "scenarios", "advice", low=2),
    _s("pricing.stockout_probability", "float", 0.01, "probability",
       "A zero week less likely than this under normal demand is a stock-out.",
       "pricing", "scenarios", "advice", low=0.0, high=1.0, low_open=True, high_open=True),
    _s("pricing.outlier_threshold", "float", 5.0, "robust z",
       "Robust z-score beyond which a week's units are an outlier.",
       "pricing", "scenarios", "advice", low=0.0, low_open=True),
    _s("pricing.zero_share_for_ppml", "float", 0.1, "share of weeks",
       "Share of zero weeks from which auto uses PPML.", "pricing", "scenarios", "advice",
       **_SHARE),
    _s("pricing.min_units_for_ols", "float", 20.0, "units per week",
       "Median weekly units below which auto uses PPML.", "pricing", "scenarios", "advice",
       low=0.0),
    _s("pricing.shrink", "bool", True, "",
       "Pool product elasticities toward their category mean.", "pricing", "scenarios", "advice"),
    _s("pricing.max_step", "float", 0.10, "share of price",
       "Largest price change in one move.", "pricing", "scenarios", "advice",
       low=0.0, high=1.0, low_open=True),
    _s("pricing.floor", "mapping", {}, "currency",
       "Lowest price per SKU (SKU=price).", "pricing", "scenarios", "advice",
       low=0.0, low_open=True),
    _s("pricing.ceiling", "mapping", {}, "currency",
       "Highest price per SKU (SKU=price).", "pricing", "scenarios", "advice",
       low=0.0, low_open=True),
    _s("pricing.use_competitor_index", "bool", True, "",
       "Bound prices by competitors' price indexes where no floor or ceiling is set.",
       "pricing", "scenarios", "advice"),
    _s("pricing.min_margin", "float", 0.10, "share of price",
       "Margin target: least gross margin of every recommended price.",
       "pricing", "scenarios", "advice", low=0.0, high=0.99),
    _s("pricing.price_endings", "list", [".99", ".95", "whole"], "",
       "Allowed price endings ('' for exact prices).", "pricing", "scenarios", "advice",
       choices=(".99", ".95", ".90", ".49", "whole")),
    _s("pricing.channel_parity", "float", 0.10, "share of price",
       "Largest gap between a channel's price and the product's price.",
       "pricing", "scenarios", "advice", low=0.0, high=0.99),
    _s("pricing.wholesale_channels", "list", list(WHOLESALE_CHANNELS), "channels",
       "Channels with negotiated prices (no parity or endings).",
       "pricing", "scenarios", "advice"),
    _s("pricing.wholesale_parity", "bool", False, "",
       "Hold wholesale channels to retail parity too.", "pricing", "scenarios", "advice"),
    _s("pricing.competitor_ceiling", "bool", False, "",
       "Cap every retail price at the dearest rival's latest price (competitor_prices).",
       "pricing", "scenarios", "advice"),
    _s("pricing.competitor_ceiling_premium", "float", 0.0, "share of price",
       "How far above the dearest rival's price the competitor ceiling allows.",
       "pricing", "scenarios", "advice", **_SHARE),
    _s("pricing.allow_segment_discounts", "bool", False, "",
       "Produce the published segment discounts below.", "pricing", "scenarios", "advice"),
    _s("pricing.segment_discounts", "mapping", {}, "share",
       "Published discount per segment (students=0.1).", "pricing", "scenarios", "advice",
       low=0.0, high=0.9),
    _s("pricing.promo_threshold", "float", 0.5, "share of lines",
       "Share of discounted lines that makes a promotion week.",
       "pricing", "scenarios", "advice", **_SHARE),
    _s("pricing.baseline_weeks", "int", 13, "weeks", "Weeks averaged for today's volume.",
       "pricing", "scenarios", "advice", low=1, high=520),
    _s("pricing.alpha", "float", 0.05, "significance", "Significance level of pilot tests.",
       "pricing", "scenarios", "advice", low=0.0, high=1.0, low_open=True, high_open=True),
    _s("pricing.exclude_channels", "list", None, "channels",
       "Channels left out of demand estimation (auto: the wholesale channels).",
       "pricing", "scenarios", "advice", none_word="auto"),
    # -- scenarios ------------------------------------------------------------------------
    _s("scenarios.horizon", "int", 24, "months", "Months the scenarios project.",
       "scenarios", "advice", low=1, high=120),
    _s("scenarios.n_trials", "int", 20_000, "futures", "Simulated futures.",
       "scenarios", "advice", low=2, high=2_000_000),
    _s("scenarios.seed", "int", 0, "", "Random seed (random: a new draw each run).",
       "scenarios", "advice", low=0, none_word="random"),
    _s("scenarios.scenario_file", "path", None, "TOML file",
       "Your scenarios, strategies and drivers (auto: the built-in shocks).",
       "scenarios", "advice", none_word="auto"),
    _s("scenarios.repair_correlation", "bool", False, "",
       "Repair a driver correlation matrix that is not positive definite.",
       "scenarios", "advice"),
    _s("scenarios.elasticity", "float", None, "elasticity",
       "Price elasticity of demand in the model (auto: pricing's pooled estimate).",
       "scenarios", "advice", high=0.0, none_word="auto"),
    _s("scenarios.sobol_samples", "int", 1024, "samples",
       "Base sample size of the Sobol sensitivity estimate.",
       "scenarios", "advice", low=1, high=65_536),
    _s("scenarios.chunk_size", "int", 25_000, "futures",
       "Futures simulated at once (bounds memory, not results).",
       "scenarios", "advice", low=1, high=1_000_000),
    # -- financing ------------------------------------------------------------------------
    _s("financing.n_futures", "int", 2_000, "futures",
       "Simulated sales paths for the APR bands.", "financing", "advice",
       low=100, high=1_000_000),
    _s("financing.seed", "int", 0, "", "Random seed of the sales paths.",
       "financing", "advice", low=0),
    _s("financing.buffer", "float", None, "currency",
       "Lowest comfortable cash (auto: two weeks of payments).",
       "financing", "advice", low=0.0, none_word="auto"),
    # -- advice: the buying-group rule and the playbook ----------------------------------
    _s("advice.playbook", "path", None, "TOML file",
       "Your own playbook of rules (auto: the shipped one).", "advice", none_word="auto"),
    _s("advice.buy_together.min_scale_gap", "float", 0.05, "share of unit cost",
       "Scale gap from which 'buy together with peers' is proposed.", "advice", **_SHARE),
    _s("advice.buy_together.low_share", "float", 0.02, "share of cost of goods",
       "Low end of the saving a buying group brings.", "advice", **_SHARE),
    _s("advice.buy_together.high_share", "float", 0.06, "share of cost of goods",
       "High end of the saving a buying group brings.", "advice", **_SHARE),
    _s("advice.buy_together.success_probability", "float", 0.5, "probability",
       "Chance a buying group forms and delivers.", "advice", **_SHARE),
)  # fmt: skip

#: Every setting by key, in display order.
SETTINGS: dict[str, Setting] = {s.key: s for s in _REGISTRY}


def settings_of(analysis: str) -> tuple[Setting, ...]:
    """The settings ``analysis`` depends on (its own and those of what it reads)."""
    return tuple(s for s in _REGISTRY if analysis in s.analyses)


def _lookup(key: str) -> Setting:
    s = SETTINGS.get(key)
    if s is None:
        import difflib

        near = difflib.get_close_matches(key, list(SETTINGS), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ConfigError(f"unknown setting {key!r}{hint} ('levelfield settings' lists them all)")
    return s


@dataclass(frozen=True)
class SettingValue:
    """A setting's value now and where it came from (``default``, ``profile``, ``user``)."""

    setting: Setting
    value: Any
    source: Literal["default", "business profile", "user"]
    set_by: str | None = None
    set_at: dt.datetime | None = None
    problem: str | None = field(default=None)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class SettingsStore:
    """The settings of one workspace (``ws.settings``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def _user(self) -> dict[str, tuple[Any, str | None, dt.datetime | None]]:
        rows = self._con.execute("SELECT key, value, set_by, set_at FROM settings").fetchall()
        return {str(k): (json.loads(v), by, at) for k, v, by, at in rows}

    def _profile(self) -> dict[str, Any]:
        rows = self._con.execute("SELECT key, value FROM business").fetchall()
        return {str(k): json.loads(v) for k, v in rows}

    def values(self) -> list[SettingValue]:
        """Every setting with its value now and where it came from, in display order.

        A profile value that does not pass the setting's check is ignored (the default
        applies) and named in ``problem``; a user value was checked when it was set.
        """
        user, profile = self._user(), self._profile()
        out: list[SettingValue] = []
        for s in _REGISTRY:
            if s.key in user:
                v, by, at = user[s.key]
                out.append(SettingValue(s, v, "user", by, at))
                continue
            pkey = s.profile_key or s.key
            if pkey in profile and profile[pkey] is not None and profile[pkey] != "":
                try:
                    out.append(SettingValue(s, s.check(profile[pkey]), "business profile"))
                except ConfigError as exc:
                    out.append(SettingValue(s, s.default, "default", problem=str(exc)))
                continue
            out.append(SettingValue(s, s.default, "default"))
        return out

    def get(self, key: str) -> Any:
        """The value of setting ``key`` now."""
        s = _lookup(key)
        return next(v.value for v in self.values() if v.setting is s)

    def used_by(self, analysis: str) -> dict[str, Any]:
        """``{key: value}`` of the settings ``analysis`` depends on (its cache key part)."""
        want = {s.key for s in settings_of(analysis)}
        return {v.setting.key: v.value for v in self.values() if v.setting.key in want}

    def resolve(
        self, analysis: str, overrides: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Keyword values for ``analysis``: the settings, with explicit ``overrides``.

        ``overrides`` maps keyword names (``max_step``) to values or :data:`UNSET`; given
        values are checked like settings. Returns ``(kwargs, used)``: the keyword values,
        and ``{setting key: value}`` of everything the run depends on (recorded with the
        run; an override shows up there, so the run is stale against the settings).
        """
        used = self.used_by(analysis)
        own = {s.name: s for s in settings_of(analysis) if s.key.startswith(f"{analysis}.")}
        shared = {s.name: s for s in settings_of(analysis) if s.name not in own}
        by_name = {**shared, **own}
        kwargs: dict[str, Any] = {}
        for name, given in overrides.items():
            s = by_name.get(name)
            if s is None:
                raise ConfigError(f"{analysis} has no setting named {name!r}")
            if given is UNSET:
                kwargs[name] = used[s.key]
            else:
                kwargs[name] = _override(s, given)
                used[s.key] = _jsonable(s, kwargs[name])
        return kwargs, used

    def set(self, key: str, value: Any, *, by: str, parse: bool = True) -> SettingValue:
        """Set ``key`` (text parsed like the CLI when ``parse``) and log the change.

        Raises
        ------
        ConfigError
            Unknown key (near matches named) or a value outside the allowed range.
        """
        s = _lookup(key)
        new = s.parse(value) if parse and isinstance(value, str) else s.check(value)
        old = self.get(key)
        now = _utcnow()
        self._con.execute("BEGIN TRANSACTION")
        try:
            self._con.execute(
                "INSERT OR REPLACE INTO settings VALUES (?, ?, ?, ?)",
                [key, json.dumps(new), by, now],
            )
            self._log(key, old, new, by, now, "set")
            if key == "business.currency":
                sync_reference_rates(self._con)
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")
        return next(v for v in self.values() if v.setting is s)

    def reset(self, key: str, *, by: str) -> SettingValue:
        """Forget the user's value of ``key`` (profile or default applies again)."""
        s = _lookup(key)
        old = self.get(key)
        now = _utcnow()
        self._con.execute("BEGIN TRANSACTION")
        try:
            n = self._con.execute(
                "DELETE FROM settings WHERE key = ? RETURNING key", [key]
            ).fetchall()
            if n:
                self._log(key, old, None, by, now, "reset")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")
        return next(v for v in self.values() if v.setting is s)

    def _log(self, key: str, old: Any, new: Any, by: str, at: dt.datetime, action: str) -> None:
        self._con.execute(
            "INSERT INTO settings_ledger VALUES (nextval('settings_change_seq'), ?, ?, ?, ?, ?, ?)",
            [key, json.dumps(old), None if new is None and action == "reset" else json.dumps(new),
             action, by, at],
        )  # fmt: skip

    def ledger(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest changes, newest first: key, old, new (shown as text), action, who, when."""
        rows = self._con.execute(
            "SELECT change_id, key, old_value, new_value, action, changed_by, changed_at "
            "FROM settings_ledger ORDER BY change_id DESC LIMIT ?",
            [limit],
        ).fetchall()
        out = []
        for cid, key, old, new, action, by, at in rows:
            s = SETTINGS.get(str(key))
            show = s.to_text if s is not None else str
            out.append(
                {
                    "change_id": int(cid),
                    "key": str(key),
                    "old": show(json.loads(old)) or "(none)",
                    "new": "(reset)" if new is None else show(json.loads(new)) or "(none)",
                    "action": str(action),
                    "by": str(by),
                    "at": at,
                }
            )
        return out


def _override(s: Setting, given: Any) -> Any:
    """A keyword override, checked like the setting but kept as given (Python objects)."""
    if given is None:
        return s.check(None)
    if s.kind == "mapping" and isinstance(given, Mapping):
        s.check(dict(given))
        return given
    if s.kind == "list" and isinstance(given, str):
        return s.check([given])
    if s.kind == "list":
        return s.check(list(given))
    if s.kind in ("date", "path") and isinstance(given, dt.date | Path):
        s.check(given)
        return given
    return s.check(given)


def _jsonable(s: Setting, v: Any) -> Any:
    if isinstance(v, dt.date):
        return v.isoformat()[:10]
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): float(x) for k, x in v.items()}
    return v
