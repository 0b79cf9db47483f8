"""``analyze``: read the workspace, measure every exposure, record the run."""

from __future__ import annotations

import datetime as dt
import difflib
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from levelfield.errors import (
    ConfigError,
    DataError,
    DataQualityWarning,
    InsufficientDataError,
)
from levelfield.exposure import _metrics as msql
from levelfield.exposure._assumptions import OwnStoreFollow, own_store_follow
from levelfield.exposure._currency import country_currencies, currency_exposure
from levelfield.exposure._kernels import own_store_shift, shift_effects
from levelfield.exposure._reference import (
    PLATFORM_OWNS_CUSTOMER,
    compliance_costs,
    country_risk_table,
    fee_schedule,
    normalize_countries,
)
from levelfield.exposure._result import ExposureResult
from levelfield.exposure._scorecard import score_indicators
from levelfield.findings import ProgressCallback, no_progress
from levelfield.provenance import documented_revenue_share
from levelfield.workspace import UNSET, Unset, Workspace, fx_statement

__all__ = ["CAPABILITIES", "analyze", "channel_fee_rates"]

#: The digital-capability checklist of the ``business.capabilities`` profile key.
CAPABILITIES = (
    "online_ordering",
    "crm",
    "email_automation",
    "inventory_system",
    "analytics",
    "loyalty_program",
    "subscription",
    "delivery",
    "pos_integration",
    "accounting_software",
)

_EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
_STUDIES = ("crain_crain_2014", "crain_crain_2010")
_SCHEDULE_COLS = [
    "fee_profile",
    "component",
    "percentage",
    "fixed_amount",
    "per",
    "base",
    "price_min",
    "price_max",
    "min_fee",
]


@dataclass(frozen=True)
class _Params:
    shift_channel: str | None = None
    shift_share: float = 0.2
    conversion_loss: float | None = None
    own_store_fee_rate: float | None = None
    diversify_share: float = 0.25
    n_suggestions: int = 5
    country_risk: Mapping[str, float] | None = None
    compliance_study: str = "crain_crain_2014"
    unit_cost_benchmarks: Mapping[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "shift_channel": self.shift_channel,
            "shift_share": self.shift_share,
            "conversion_loss": self.conversion_loss,
            "own_store_fee_rate": self.own_store_fee_rate,
            "diversify_share": self.diversify_share,
            "n_suggestions": self.n_suggestions,
            "country_risk": dict(self.country_risk or {}),
            "compliance_study": self.compliance_study,
            "unit_cost_benchmarks": dict(self.unit_cost_benchmarks or {}),
        }


def _share_param(name: str, value: Any, *, upper_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a number between 0 and 1, not {value!r}")
    if value < 0 or value > 1 or (upper_open and value == 1):
        bound = "0 <= x < 1" if upper_open else "0 <= x <= 1"
        raise ConfigError(f"{name} must be a share ({bound}), not {value!r}")
    return float(value)


def _check_params(params: Mapping[str, Any]) -> _Params:
    known = set(_Params.__dataclass_fields__)
    unknown = sorted(set(params) - known)
    if unknown:
        near = {u: difflib.get_close_matches(u, sorted(known), n=1) for u in unknown}
        hint = "; ".join(
            f"{u!r}" + (f" (did you mean {n[0]!r}?)" if n else "") for u, n in near.items()
        )
        raise ConfigError(
            f"unknown exposure parameter(s): {hint}; known: {', '.join(sorted(known))}"
        )
    p = _Params(**params)
    _share_param("shift_share", p.shift_share)
    if p.conversion_loss is not None:
        _share_param("conversion_loss", p.conversion_loss)
    _share_param("diversify_share", p.diversify_share)
    if p.own_store_fee_rate is not None:
        _share_param("own_store_fee_rate", p.own_store_fee_rate, upper_open=True)
    if (
        isinstance(p.n_suggestions, bool)
        or not isinstance(p.n_suggestions, int)
        or p.n_suggestions < 0
    ):
        raise ConfigError(f"n_suggestions must be a whole number >= 0, not {p.n_suggestions!r}")
    if p.shift_channel is not None and not isinstance(p.shift_channel, str):
        raise ConfigError(f"shift_channel must be a channel name, not {p.shift_channel!r}")
    if p.compliance_study not in _STUDIES:
        raise ConfigError(
            f"compliance_study must be one of {', '.join(_STUDIES)}, not {p.compliance_study!r}"
        )
    for name, mapping in (
        ("country_risk", p.country_risk),
        ("unit_cost_benchmarks", p.unit_cost_benchmarks),
    ):
        if mapping is not None and not isinstance(mapping, Mapping):
            raise ConfigError(
                f"{name} must be a mapping {{key: number}}, not {type(mapping).__name__}"
            )
    if p.unit_cost_benchmarks:
        bad = [
            k
            for k, v in p.unit_cost_benchmarks.items()
            if isinstance(v, bool)
            or not isinstance(v, int | float)
            or not math.isfinite(v)
            or v <= 0
        ]
        if bad:
            raise ConfigError(
                f"unit_cost_benchmarks must be positive unit costs; check sku(s) {bad[:5]}"
            )
    return p


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _register_schedule(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    sched = fee_schedule()
    table = sched[_SCHEDULE_COLS].astype(
        {"fee_profile": "object", "component": "object", "per": "object", "base": "object"}
    )
    con.register("lf_fee_schedule", table)
    return sched


def _fee_profile_warnings(con: duckdb.DuckDBPyConnection, known: list[str]) -> list[str]:
    notes = []
    for channel, profile, missing in msql.channel_fee_warnings(con, known):
        if profile is None:
            msg = (
                f"channel {channel!r} has no fee profile and {missing:,} of its orders have no "
                "fees column value: their fees count as unknown, not zero. Set "
                "channels.fee_profile (e.g. 'etsy_standard', or 'none' for no fees)"
            )
        else:
            near = difflib.get_close_matches(str(profile), known, n=3)
            msg = (
                f"channel {channel!r} has unknown fee profile {profile!r}"
                + (f" (did you mean {', '.join(near)}?)" if near else "")
                + f"; fees of its {missing:,} orders without a fee count as unknown, not zero"
            )
        warnings.warn(msg, DataQualityWarning, stacklevel=4)
        notes.append(msg)
    return notes


def channel_fee_rates(ws: Workspace) -> dict[str, float]:
    """Effective platform/payment fee rate per channel, as a share of net revenue.

    The rate uses the export's actual ``fees`` where present and the shipped fee schedule
    (``channels.fee_profile``) for orders without them. A channel whose fees are unknown
    on every order (no fee column, no or unknown fee profile) is absent, not 0; a channel
    with fee profile ``none`` is 0.

    Parameters
    ----------
    ws
        An open workspace.

    Returns
    -------
    dict
        ``{channel: fee rate}`` (share of net revenue, 0-1).
    """
    con = ws.cursor()
    try:
        sched = _register_schedule(con)
        msql.prepare(con, sorted(PLATFORM_OWNS_CUSTOMER))
        known = sorted(set(sched["fee_profile"].astype(str)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            _fee_profile_warnings(con, known)
        table = msql.channel_table(con)
    finally:
        con.close()
    out: dict[str, float] = {}
    for r in table.itertuples():
        fee = msql.as_float(r.fee_used)
        rev = msql.as_float(r.revenue_fee_known)
        if math.isfinite(fee) and math.isfinite(rev) and rev > 0:
            out[str(r.channel)] = fee / rev
    return out


def _channels_frame(table: pd.DataFrame, total_revenue: float) -> pd.DataFrame:
    t = table.copy()
    num = [
        "revenue",
        "fee_actual",
        "revenue_actual",
        "fee_scheduled",
        "fee_used",
        "revenue_fee_known",
        "cogs",
        "value_costed",
        "line_value",
    ]
    for col in num:
        t[col] = pd.to_numeric(t[col], errors="coerce").astype("float64")
    t["share"] = t["revenue"] / total_revenue if total_revenue > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        t["fee_rate"] = np.where(
            t["revenue_fee_known"] > 0, t["fee_used"] / t["revenue_fee_known"], np.nan
        )
        t["fee_rate_actual"] = np.where(
            t["revenue_actual"] > 0, t["fee_actual"] / t["revenue_actual"], np.nan
        )
        t["cogs_rate"] = np.where(t["value_costed"] > 0, t["cogs"] / t["value_costed"], np.nan)
    src = np.select(
        [t["orders_unknown"].eq(t["orders"]), t["orders_sched"].eq(0), t["orders_actual"].eq(0)],
        ["unknown", "actual", "schedule"],
        default="actual + schedule",
    )
    t["fee_source"] = src
    t["fees_est"] = t["fee_rate"] * t["revenue"]
    t["gross_margin"] = t["revenue"] * (1.0 - t["cogs_rate"])
    t["margin_after_fees"] = t["gross_margin"] - t["fees_est"]
    t["owns_customer"] = t["owns_customer"].astype("boolean")
    keep = [
        "channel",
        "platform",
        "fee_profile",
        "owns_customer",
        "owns_stated",
        "owns_basis",
        "revenue",
        "share",
        "orders",
        "fee_rate",
        "fee_source",
        "fee_rate_actual",
        "fee_actual",
        "fee_scheduled",
        "fees_est",
        "orders_actual",
        "orders_sched",
        "orders_unknown",
        "cogs_rate",
        "gross_margin",
        "margin_after_fees",
    ]
    return t[keep].reset_index(drop=True)


def _supplier_scores(sup: pd.DataFrame) -> pd.DataFrame:
    s = sup.copy()
    for col in (
        "spend",
        "spend_share",
        "revenue_share",
        "risk",
        "lead_time_days",
        "n_alternatives",
        "annual_spend",
        "revenue",
    ):
        s[col] = pd.to_numeric(s[col], errors="coerce").astype("float64")
    s["c_country_risk"] = s["risk"]
    s["c_spend_share"] = 100.0 * s["spend_share"]
    s["c_lead_time"] = 100.0 * np.clip(s["lead_time_days"] / msql.LEAD_TIME_LONG_DAYS, 0.0, 1.0)
    s["c_revenue_dependence"] = 100.0 * s["revenue_share"]
    s["c_alternatives"] = 100.0 / (1.0 + np.clip(s["n_alternatives"], 0.0, None))
    comp = s[
        ["c_country_risk", "c_spend_share", "c_lead_time", "c_revenue_dependence", "c_alternatives"]
    ].to_numpy(dtype="float64")
    n = np.isfinite(comp).sum(axis=1)
    total = np.where(np.isfinite(comp), comp, 0.0).sum(axis=1)
    # Equal weights over the components that are known: no component is shown to matter
    # more than another for a small buyer's supply risk.
    s["risk_score"] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    s["components_known"] = n
    return (
        s.drop(columns=["country_raw"])
        .sort_values(["risk_score", "spend"], ascending=[False, False], na_position="last")
        .reset_index(drop=True)
    )


def _diversification(
    con: duckdb.DuckDBPyConnection, sup: pd.DataFrame, share: float, n: int
) -> pd.DataFrame:
    cols = [
        "from_supplier",
        "to_supplier",
        "kind",
        "from_country",
        "to_country",
        "amount_moved",
        "delta_supplier_hhi",
        "delta_country_hhi",
        "delta_country_risk",
        "cost_difference",
        "lowers_risk",
    ]
    pairs = msql.diversification_pairs(con)
    if pairs.empty or n == 0 or share == 0:
        return pd.DataFrame(columns=cols)
    ids = sup["supplier_id"].astype(str).to_numpy()
    index = {k: i for i, k in enumerate(ids)}
    spend = np.clip(sup["spend"].to_numpy(dtype="float64", na_value=0.0), 0.0, None)
    countries = sup["country"].astype("object").where(sup["country"].notna(), "?").astype(str)
    codes, group = np.unique(countries.to_numpy(), return_inverse=True)
    risk = sup["risk"].to_numpy(dtype="float64", na_value=np.nan)
    src = pairs["src"].astype(str).map(index).to_numpy(dtype="int64")
    dst = pairs["dst"].astype(str).map(index).to_numpy(dtype="int64")
    amount = share * spend[src]
    d_sup, d_cty, d_risk = shift_effects(spend, group.astype("int64"), risk, src, dst, amount)
    ratio = pd.to_numeric(pairs["cost_ratio"], errors="coerce").to_numpy(dtype="float64")
    out = pd.DataFrame(
        {
            "from_supplier": ids[src],
            "to_supplier": ids[dst],
            "kind": pairs["kind"].to_numpy(),
            "from_country": codes[group[src]],
            "to_country": codes[group[dst]],
            "amount_moved": amount,
            "delta_supplier_hhi": d_sup,
            "delta_country_hhi": d_cty,
            "delta_country_risk": d_risk,
            "cost_difference": amount * (ratio - 1.0),
        }
    )
    out = out[(out["amount_moved"] > 0) & (out["delta_supplier_hhi"] < 0)]
    out["lowers_risk"] = out["delta_country_risk"].lt(0).to_numpy()
    # Moves that lower both concentration and country risk first, each group by the HHI gain.
    out = out.sort_values(
        ["lowers_risk", "delta_supplier_hhi", "delta_country_risk"], ascending=[False, True, True]
    )
    return out.head(n).reset_index(drop=True)[cols]


def _burden_share(
    cost: float,
    cost_currency: str,
    employees: float,
    annual_revenue: float,
    currency: str,
    notes: list[str],
) -> float:
    """The estimated compliance cost as a share of revenue, or NaN with a note.

    A cost above the whole revenue is not a burden a going business carries: the imported
    sales are not all its revenue, or a national average per employee does not fit it.
    The cost is still reported; the share is not stated as a fact.
    """
    share = cost / annual_revenue if annual_revenue > 0 else float("nan")
    if share > 1.0:
        notes.append(
            f"the estimated compliance cost ({cost_currency} {cost:,.0f} a year for "
            f"{employees:g} employee(s)) is {share:.1f} times the revenue of the imported "
            f"sales ({currency} {annual_revenue:,.0f} a year): either those "
            "sales are not all of the business's revenue, or the average cost per employee "
            "does not fit a business this size; the share of revenue is not shown"
        )
        return float("nan")
    return share


def _burden(
    ws: Workspace, study: str, annual_revenue: float, currency: str, notes: list[str]
) -> tuple[pd.DataFrame, dict[str, float]]:
    employees = ws.get_business("employees")
    cols = [
        "study",
        "size_band",
        "employees",
        "cost_per_employee",
        "currency",
        "price_year",
        "cost",
        "share_of_revenue",
        "large_firm_cost_per_employee",
        "ratio_to_large",
        "excess_over_large",
        "source",
        "caveat",
    ]
    if employees is None:
        notes.append("business.employees is not set: the compliance burden is not estimated")
        return pd.DataFrame(columns=cols), {}
    if isinstance(employees, bool) or not isinstance(employees, int | float) or employees < 1:
        raise DataError(
            f"business profile key 'employees' must be a whole number >= 1, not {employees!r}; "
            "fix it in your business profile"
        )
    cc = compliance_costs()
    rows = cc[(cc["study"] == study)]
    band = rows[
        (rows["employees_min"] <= employees)
        & (rows["employees_max"].isna() | (rows["employees_max"] >= employees))
    ]
    large = rows[rows["size_band"] == "large"].iloc[0]
    b = band.iloc[0]
    cost = float(employees) * float(b["cost_per_employee"])
    share = _burden_share(cost, str(b["currency"]), employees, annual_revenue, currency, notes)
    if str(b["currency"]) != currency:
        notes.append(
            f"compliance cost is in {b['currency']} of {b['price_year']} (study) while revenue "
            f"is in {currency}: the share of revenue is an order of magnitude only"
        )
    country = ws.get_business("country")
    if country and str(country).upper() not in ("US", "USA"):
        notes.append(
            f"the compliance cost levels are US federal averages; for {country} read them as "
            "an order of magnitude"
            + (
                " (the European Commission reports up to 10x per employee for SMEs)"
                if str(country).upper() in _EU
                else ""
            )
        )
    frame = pd.DataFrame(
        [
            {
                "study": study,
                "size_band": str(b["size_band"]),
                "employees": float(employees),
                "cost_per_employee": float(b["cost_per_employee"]),
                "currency": str(b["currency"]),
                "price_year": int(b["price_year"]),
                "cost": cost,
                "share_of_revenue": share,
                "large_firm_cost_per_employee": float(large["cost_per_employee"]),
                "ratio_to_large": float(b["ratio_to_large"]),
                "excess_over_large": float(employees)
                * (float(b["cost_per_employee"]) - float(large["cost_per_employee"])),
                "source": str(b["source"]),
                "caveat": str(b["caveat"]),
            }
        ]
    )
    return frame, {
        "compliance_cost": cost,
        "compliance_cost_share": share,
        "compliance_cost_ratio": float(b["ratio_to_large"]),
    }


def _burden_revenue(
    con: duckdb.DuckDBPyConnection, metrics: dict[str, float], notes: list[str]
) -> float:
    """Revenue of the last 12 months, the yardstick of an annual compliance cost.

    The average over the whole history would understate the share of a growing business
    (and overstate a shrinking one's). With less than a year of orders the revenue is
    annualized, and the note says so.
    """
    years = metrics["years_of_history"]
    if years >= 1.0:
        rev = msql.revenue_last_year(con)
        metrics["revenue_last_12m"] = rev
        return rev
    notes.append(
        f"less than a year of orders ({365.25 * years:.0f} days): revenue is annualized for "
        "the compliance-cost share"
    )
    return metrics["annual_revenue"]


def _ownership(
    pos: pd.DataFrame, metrics: dict[str, float], labels: dict[str, str], notes: list[str]
) -> None:
    """Who holds the customer relationship, by revenue: the business, a platform, or unknown.

    A channel is *unknown* unless stated (``channels.owns_customer``), implied by its fee
    profile or by a known channel name; an unknown channel is never counted as a platform
    nor as owned. When most revenue is unknown, the ownership share is not a number (NaN):
    the data cannot tell.
    """
    pos_rev = float(pos["revenue"].sum())
    if pos_rev <= 0:
        return
    owned = pos["owns_customer"]
    is_own = owned.eq(True).fillna(False).to_numpy(dtype=bool)
    is_plat = owned.eq(False).fillna(False).to_numpy(dtype=bool)
    is_unknown = owned.isna().to_numpy(dtype=bool)
    own_rev = float(pos.loc[is_own, "revenue"].sum())
    plat_rev = float(pos.loc[is_plat, "revenue"].sum())
    # From the unknown channels themselves, not 1 - known: rounding must not invent a
    # share (and a note naming no channel) when every channel is known.
    unknown_share = float(pos.loc[is_unknown, "revenue"].sum()) / pos_rev
    metrics["ownership_unknown_share"] = unknown_share
    metrics["platform_owned_share"] = plat_rev / pos_rev
    metrics["data_ownership_share"] = own_rev / pos_rev if unknown_share <= 0.5 else math.nan
    plat = pos[is_plat]
    if len(plat):
        metrics["platform_share_max"] = float(plat["revenue"].max()) / pos_rev
    elif unknown_share == 0:
        metrics["platform_share_max"] = 0.0  # every channel known, none a platform
    else:
        metrics["platform_share_max"] = math.nan
    if unknown_share > 0:
        unknown = pos.loc[is_unknown, "channel"].astype(str).tolist()
        labels["ownership_unknown_channels"] = ", ".join(unknown)
        notes.append(
            f"who owns the customer is unknown for channel(s) {', '.join(unknown)} "
            f"({100 * unknown_share:.1f}% of revenue): no fee profile and not a known "
            "marketplace or own-store name. Set channels.owns_customer (true for your own "
            "store) to measure it"
        )
    by_name = pos[pos["owns_basis"].astype("object").eq("channel name").to_numpy(dtype=bool)]
    for r in by_name.itertuples():
        kind = "your own channel" if bool(r.owns_customer) else "a marketplace"
        notes.append(
            f"channel {r.channel!r} is taken as {kind} from its name; set "
            "channels.owns_customer if that is wrong"
        )


def _channel_dependency(
    pos: pd.DataFrame, metrics: dict[str, float], labels: dict[str, str]
) -> None:
    """Tell one own channel by choice from dependence on platforms.

    A business selling through one channel it runs itself (its own store) has a channel
    HHI of 10,000 by its business model; that is not dependence on a platform's terms.
    ``channel_dependency_hhi`` is the channel HHI except in that case (NaN: no channel
    dependency to measure), and ``single_channel_by_choice`` is 1 in that case.
    """
    h = metrics.get("channel_hhi", math.nan)
    live = pos[pos["revenue"] > 0]
    own_single = len(live) == 1 and bool(live["owns_customer"].eq(True).fillna(False).iloc[0])
    metrics["channels_with_revenue"] = float(len(live))
    if own_single:
        metrics["single_channel_by_choice"] = 1.0
        labels["single_channel"] = str(live["channel"].iloc[0])
        metrics["channel_dependency_hhi"] = math.nan
    else:
        metrics["channel_dependency_hhi"] = h


def _scale_gap(con: duckdb.DuckDBPyConnection, bench: Mapping[str, float] | None) -> float:
    if not bench:
        return float("nan")
    frame = pd.DataFrame(
        {"sku": [str(k) for k in bench], "bench": [float(v) for v in bench.values()]}
    )
    con.register("lf_bench", frame)
    try:
        row = con.execute(
            """
            SELECT sum(i.q_pos * i.unit_cost) / sum(i.q_pos * b.bench) - 1
            FROM lf_items i JOIN lf_bench b ON b.sku = i.item
            WHERE i.unit_cost IS NOT NULL AND i.q_pos IS NOT NULL
            """
        ).fetchall()[0][0]
    finally:
        con.unregister("lf_bench")
    return msql.as_float(row)


def analyze(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    shift_channel: str | Unset | None = UNSET,
    shift_share: float | Unset = UNSET,
    conversion_loss: float | Unset | None = UNSET,
    own_store_fee_rate: float | Unset | None = UNSET,
    diversify_share: float | Unset = UNSET,
    n_suggestions: int | Unset = UNSET,
    country_risk: Mapping[str, float] | Unset = UNSET,
    compliance_study: str | Unset = UNSET,
    unit_cost_benchmarks: Mapping[str, float] | Unset = UNSET,
) -> ExposureResult:
    """Measure the business's exposure to customers, platforms, suppliers, countries and rules.

    Keywords left out are read from the workspace's settings (``exposure.shift_share``,
    ``exposure.unit_cost_benchmarks``, ...; ``levelfield settings``); given ones
    override them for this run. The run records the settings it used.

    Parameters
    ----------
    ws
        An open workspace with at least orders imported.
    progress
        ``progress(step, fraction)`` callback.
    shift_channel, shift_share, conversion_loss, own_store_fee_rate, diversify_share, \
n_suggestions, country_risk, compliance_study, unit_cost_benchmarks
        ``shift_channel`` (channel for the own-store what-if; default the marketplace
        with most revenue), ``shift_share`` (share of its revenue moved, default 0.2),
        ``conversion_loss`` (share of moved revenue lost on the way; default one minus
        the business's own-store follow assumption, :func:`own_store_follow`, whose range
        also gives the what-if's low/high and success probability),
        ``own_store_fee_rate`` (default the fee rate of your largest own channel, else
        Shopify Payments Basic at your average order), ``diversify_share`` (share of a
        supplier's spend shifted, default 0.25),
        ``n_suggestions`` (default 5), ``country_risk`` (``{country: risk 0-100}``
        overriding the WGI table), ``compliance_study`` (``"crain_crain_2014"`` or
        ``"crain_crain_2010"``), ``unit_cost_benchmarks`` (``{sku: large-firm unit cost}``).

    Returns
    -------
    ExposureResult

    Raises
    ------
    InsufficientDataError
        No orders in the workspace.
    UnknownReferenceError
        A supplier country code is unknown (the message lists near matches).
    ConfigError
        A parameter is invalid.

    Warns
    -----
    DataQualityWarning
        Fees larger than the order total (ignored), negative fees on sales (taken as
        positive), a channel without a usable fee profile (fees unknown, not zero),
        orders without an exchange rate to the base currency.

    References
    ----------
    U.S. DOJ and FTC (2023). Merger Guidelines. Kaufmann, D. and A. Kraay (2024).
    Worldwide Governance Indicators. Crain, W. msql. and N. V. Crain (2014). The Cost of
    Federal Regulation to the U.S. Economy, Manufacturing and Small Business.
    """
    params, used = ws.settings.resolve(
        "exposure",
        {
            "shift_channel": shift_channel,
            "shift_share": shift_share,
            "conversion_loss": conversion_loss,
            "own_store_fee_rate": own_store_fee_rate,
            "diversify_share": diversify_share,
            "n_suggestions": n_suggestions,
            "country_risk": country_risk,
            "compliance_study": compliance_study,
            "unit_cost_benchmarks": unit_cost_benchmarks,
        },
    )
    started = _utcnow()
    p = _check_params(params)
    _require_orders(ws)
    con = ws.cursor()
    try:
        result = _compute(ws, con, p, progress)
    finally:
        con.close()
    ws.record_run("exposure", p.as_dict(), result.summary(), started, settings=used)
    progress("done", 1.0)
    return result


def _require_orders(ws: Workspace) -> None:
    """Raise :class:`InsufficientDataError` saying what to import when no order counts."""
    n_orders = int(ws.con.execute("SELECT count(*) FROM order_revenue").fetchall()[0][0])
    if n_orders == 0:
        raise InsufficientDataError(
            "no orders to analyse: import your sales export first, e.g. "
            "'levelfield import orders orders.csv' (or try 'levelfield demo DIR')"
        )


def _compute(
    ws: Workspace, con: duckdb.DuckDBPyConnection, p: _Params, progress: ProgressCallback
) -> ExposureResult:
    """The analysis in named stages over the working tables of :func:`msql.prepare`."""
    currency = ws.currency()
    progress("preparing orders", 0.05)
    sched = _register_schedule(con)
    known_profiles = sorted(set(sched["fee_profile"].astype(str)))
    notes = _data_notes(con, msql.prepare(con, sorted(PLATFORM_OWNS_CUSTOMER)))
    notes.extend(_fee_profile_warnings(con, known_profiles))
    revenue, years, identified_share, _ = msql.order_history(con)

    progress("fees and channels", 0.2)
    channels = _channels_frame(msql.channel_table(con), revenue)
    metrics: dict[str, float] = {
        "revenue": revenue,
        "years_of_history": years,
        "annual_revenue": revenue / years,
        "identified_revenue_share": identified_share,
    }
    labels: dict[str, str] = {}

    progress("concentration", 0.35)
    conc_rows = [msql.concentration(con, d) for d in ("customer", "channel", "platform", "product")]
    tops = {d.dimension: msql.top_keys(con, d.dimension) for d in conc_rows}
    pos = channels[channels["revenue"] > 0]
    gm_rate = _fees_and_margin(con, pos, metrics, labels, notes)
    _ownership(pos, metrics, labels, notes)
    whatif = _whatif(con, pos, p, gm_rate, labels, notes, own_store_follow(ws))
    if len(whatif):
        metrics["whatif_margin_gained"] = float(whatif.iloc[0]["margin_gained"])

    progress("suppliers and countries", 0.55)
    _check_supplier_spend(con)
    raw, codes, risk_table = _register_countries(con, p.country_risk)
    suppliers = _supplier_frame(con, years, notes)
    for d in ("supplier", "supplier_country"):
        conc_rows.append(msql.concentration(con, d))
        tops[d] = msql.top_keys(con, d)
    countries = _country_table(con, risk_table, metrics)
    progress("currencies", 0.62)
    currencies, fx_notes = currency_exposure(con, currency, years, country_currencies(raw, codes))
    notes.extend(fx_notes)
    _currency_metrics(currencies, metrics, labels)
    documented = documented_revenue_share(ws)
    metrics["documented_revenue_share"] = (
        documented.share if documented.share is not None else math.nan
    )
    _single_source_metrics(con, metrics)

    progress("diversification", 0.7)
    diversification = _diversification(con, suppliers, p.diversify_share, p.n_suggestions)
    conc = _concentration_table(conc_rows, metrics)
    _channel_dependency(pos, metrics, labels)
    _customer_shares(conc_rows[0], metrics)

    progress("burden and scorecard", 0.85)
    burden = _burden_and_scale(ws, con, p, currency, metrics, notes)
    scorecard, dimensions = _scorecard(metrics)
    return ExposureResult(
        currency=currency,
        metrics=metrics,
        concentration=conc,
        concentration_top=_top_keys_table(tops),
        channels=channels,
        whatif=whatif,
        suppliers=suppliers,
        countries=countries,
        diversification=diversification,
        burden=burden,
        currencies=currencies,
        documented=documented,
        scorecard=scorecard,
        dimensions=dimensions,
        fee_schedule_dates=_schedule_dates(channels, sched, known_profiles),
        notes=tuple(notes),
        labels=labels,
        params=p.as_dict(),
    )


def _data_notes(con: duckdb.DuckDBPyConnection, problems: Mapping[str, Any]) -> list[str]:
    """Notes (and warnings) on the data problems :func:`msql.prepare` counted: fees larger
    than the order total, negative fees, and with several currencies what was converted."""
    notes: list[str] = []
    if problems["fees_too_large"]:
        msg = (
            f"{problems['fees_too_large']:,} order(s) have fees larger than the order total "
            f"(e.g. {', '.join(map(str, problems['fees_too_large_examples']))}); those fees "
            "are treated as unknown. Check the fee column mapping of the import"
        )
        warnings.warn(msg, DataQualityWarning, stacklevel=4)
        notes.append(msg)
    if problems["fees_negative"]:
        msg = (
            f"{problems['fees_negative']:,} sale(s) have negative fees; read as fees paid "
            "(sign flipped), as in exports that show fees as deductions"
        )
        warnings.warn(msg, DataQualityWarning, stacklevel=4)
        notes.append(msg)
    if problems["currencies"] > 1:
        fx = fx_statement(con)
        notes.append(fx.text())
        if fx.missing:
            warnings.warn(fx.text(), DataQualityWarning, stacklevel=4)
    return notes


def _fees_and_margin(
    con: duckdb.DuckDBPyConnection,
    pos: pd.DataFrame,
    metrics: dict[str, float],
    labels: dict[str, str],
    notes: list[str],
) -> float:
    """Gross margin, cost coverage, fees and fee drag of the channels with revenue
    (``pos``) into ``metrics``; returns the gross margin rate (NaN without unit costs)."""
    fee_known = pos[pos["fee_rate"].notna()]
    fees_total = float(fee_known["fees_est"].sum())
    rev_known = float(fee_known["revenue"].sum())
    cogs, value_costed, line_value = msql.line_totals(con)
    gm_rate = (
        1.0 - cogs / value_costed
        if math.isfinite(value_costed) and value_costed > 0
        else float("nan")
    )
    metrics["gross_margin_rate"] = gm_rate
    metrics["cogs_coverage"] = value_costed / line_value if line_value > 0 else float("nan")
    metrics["fees_total"] = fees_total
    metrics["fee_rate_total"] = fees_total / rev_known if rev_known > 0 else float("nan")
    metrics["revenue_fee_unknown_share"] = (
        1.0 - rev_known / float(pos["revenue"].sum())
        if float(pos["revenue"].sum()) > 0
        else float("nan")
    )
    gross_margin = rev_known * gm_rate
    metrics["fee_drag"] = fees_total / gross_margin if gross_margin > 0 else float("nan")
    if not math.isfinite(gm_rate):
        notes.append("no product unit costs: fee drag on gross margin cannot be computed")
    if len(fee_known):
        top_fee = fee_known.sort_values("fee_rate", ascending=False).iloc[0]
        metrics["fee_rate_max"] = float(top_fee["fee_rate"])
        labels["fee_rate_max_channel"] = str(top_fee["channel"])
    return gm_rate


def _check_supplier_spend(con: duckdb.DuckDBPyConnection) -> None:
    """Raise :class:`DataError` naming the suppliers whose stated spend is negative."""
    neg = con.execute(
        "SELECT list(supplier_id ORDER BY supplier_id)[1:5], count(*) FROM suppliers "
        "WHERE annual_spend < 0"
    ).fetchall()[0]
    if neg[1]:
        raise DataError(
            f"suppliers.annual_spend is negative for {neg[1]} supplier(s) ({', '.join(neg[0])}); "
            "spend must be >= 0 — fix the suppliers file and import it again"
        )


def _register_countries(
    con: duckdb.DuckDBPyConnection, overrides: Mapping[str, float] | None
) -> tuple[list[str], list[str | None], pd.DataFrame]:
    """Register ``lf_country(raw, country, risk)`` for the suppliers' country values.

    Returns the raw values, their ISO codes and the risk table (WGI with ``overrides``).
    """
    raw = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT country FROM suppliers WHERE country IS NOT NULL"
        ).fetchall()
    ]
    codes = normalize_countries(raw)
    risk_table = country_risk_table(overrides)
    risk_map = dict(zip(risk_table["country"].astype(str), risk_table["risk"], strict=True))
    con.register(
        "lf_country",
        pd.DataFrame(
            {
                "raw": pd.Series(raw, dtype="object"),
                "country": pd.Series(codes, dtype="object"),
                "risk": pd.Series(
                    [risk_map.get(c, np.nan) if c else np.nan for c in codes], dtype="float64"
                ),
            }
        ),
    )
    return raw, codes, risk_table


def _supplier_frame(con: duckdb.DuckDBPyConnection, years: float, notes: list[str]) -> pd.DataFrame:
    """The scored supplier table (builds ``lf_sup``; needs ``lf_country``), noting the
    suppliers left out of the spend shares."""
    suppliers = _supplier_scores(msql.supplier_table(con, years))
    zero = suppliers[suppliers["spend"].fillna(0.0) <= 0]
    if len(zero):
        notes.append(
            f"{len(zero)} supplier(s) have zero or unknown spend and are left out of "
            "the spend shares"
        )
    return suppliers


def _country_table(
    con: duckdb.DuckDBPyConnection, risk_table: pd.DataFrame, metrics: dict[str, float]
) -> pd.DataFrame:
    """Spend, share, risk and supplier count per supplier country (needs ``lf_sup``); the
    largest country's share and the spend-weighted risk go into ``metrics``."""
    countries = con.execute(
        """
        SELECT country, sum(spend) AS spend, sum(spend) / sum(sum(spend)) OVER () AS share,
               any_value(risk) AS risk, count(*) AS suppliers
        FROM lf_sup WHERE country IS NOT NULL AND spend > 0 GROUP BY country
        ORDER BY spend DESC, country
        """
    ).df()
    names = dict(
        zip(risk_table["country"].astype(str), risk_table["name"].astype(str), strict=True)
    )
    sources = dict(
        zip(risk_table["country"].astype(str), risk_table["risk_source"].astype(str), strict=True)
    )
    countries.insert(1, "name", countries["country"].map(names))
    countries["risk_source"] = countries["country"].map(sources)
    if len(countries):
        metrics["country_cogs_share_max"] = float(countries["share"].iloc[0])
        known_risk = countries[countries["risk"].notna()]
        if len(known_risk):
            w = known_risk["share"].to_numpy(dtype="float64")
            metrics["spend_weighted_country_risk"] = float(
                np.dot(w, known_risk["risk"].to_numpy(dtype="float64")) / w.sum()
            )
    return countries


def _single_source_metrics(con: duckdb.DuckDBPyConnection, metrics: dict[str, float]) -> None:
    """Share of product revenue from single-source suppliers, and how much of it the
    suppliers' stated alternatives cover (only when some are stated)."""
    single, alt_known, line_total = msql.single_source(con)
    if alt_known > 0 and line_total > 0:
        metrics["single_source_share"] = single / line_total
        metrics["single_source_coverage"] = alt_known / line_total


def _concentration_table(
    conc_rows: list[msql.ConcentrationRow], metrics: dict[str, float]
) -> pd.DataFrame:
    """One row per dimension; each dimension's HHI into ``metrics``."""
    conc = pd.DataFrame(
        [
            {
                "dimension": r.dimension,
                "n": r.n,
                "total": r.total,
                "hhi": r.hhi,
                "band": r.band,
                "top1_share": r.top1_share,
                "top5_share": r.top5_share,
                "top20pct_share": r.top20pct_share,
            }
            for r in conc_rows
        ]
    )
    for r in conc_rows:
        metrics[f"{r.dimension}_hhi"] = r.hhi
    return conc


def _customer_shares(customers: msql.ConcentrationRow, metrics: dict[str, float]) -> None:
    """The largest, five largest and top 20% customers' revenue shares into ``metrics``."""
    metrics["customer_top1_share"] = customers.top1_share
    metrics["customer_top5_share"] = customers.top5_share
    metrics["customer_top20pct_share"] = customers.top20pct_share


def _top_keys_table(tops: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The largest keys of every dimension in one table, ranked; customers by rank only
    (their ids are pseudonyms)."""
    top_frames = []
    for dim, frame in tops.items():
        f = frame.copy()
        f.insert(0, "dimension", dim)
        f.insert(1, "rank", np.arange(1, len(f) + 1))
        if dim == "customer":
            f["key"] = [f"customer #{i}" for i in f["rank"]]
        top_frames.append(f)
    return pd.concat(top_frames, ignore_index=True) if top_frames else pd.DataFrame()


def _burden_and_scale(
    ws: Workspace,
    con: duckdb.DuckDBPyConnection,
    p: _Params,
    currency: str,
    metrics: dict[str, float],
    notes: list[str],
) -> pd.DataFrame:
    """Compliance burden, scale gap, digital capabilities and whether customers are
    measured, into ``metrics``; returns the burden table."""
    burden_revenue = _burden_revenue(con, metrics, notes)
    burden, bm = _burden(ws, p.compliance_study, burden_revenue, currency, notes)
    metrics.update(bm)
    metrics["scale_gap"] = _scale_gap(con, p.unit_cost_benchmarks)
    caps = ws.get_business("capabilities")
    if isinstance(caps, list):
        have = {str(c).strip().lower() for c in caps}
        metrics["digital_capabilities"] = len(have & set(CAPABILITIES)) / len(CAPABILITIES)
    else:
        notes.append(
            "business.capabilities is not set: the technological dimension is not measured"
        )
    metrics["measures_customers"] = 1.0 if ws.latest_run("customers") is not None else 0.0
    return burden


def _scorecard(metrics: Mapping[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scorecard; channel dependency is not applicable to one own channel by choice."""
    not_applicable = (
        {
            "channel_dependency_hhi": "one channel you run yourself, by choice of business "
            "model: not a dependence on a platform"
        }
        if metrics.get("single_channel_by_choice") == 1.0
        else {}
    )
    return score_indicators(metrics, not_applicable)


def _schedule_dates(
    channels: pd.DataFrame, sched: pd.DataFrame, known_profiles: list[str]
) -> dict[str, str]:
    """The date each fee profile in use was checked against the platform's pages."""
    used = sorted(set(channels["fee_profile"].dropna().astype(str)) & set(known_profiles))
    return {
        prof: str(sched.loc[sched["fee_profile"] == prof, "checked_on"].iloc[0]) for prof in used
    }


def _currency_metrics(
    table: pd.DataFrame, metrics: dict[str, float], labels: dict[str, str]
) -> None:
    """Headline numbers of the currency table (only with more than one currency)."""
    foreign = table[~table["is_base"].astype(bool)]
    if foreign.empty:
        return
    metrics["foreign_revenue_share"] = float(foreign["revenue_share"].sum())
    metrics["foreign_cost_share"] = float(foreign["cost_share"].sum())
    top = foreign.iloc[foreign["net"].abs().to_numpy().argmax()]
    metrics["fx_net_exposure_max"] = float(top["net"])
    labels["fx_net_exposure_max_currency"] = str(top["currency"])
    shares = foreign["profit_share"].to_numpy(dtype="float64")
    if np.isfinite(shares).any():
        i = int(np.nanargmax(shares))
        metrics["fx_profit_share_max"] = float(shares[i])
        labels["fx_profit_share_max_currency"] = str(foreign.iloc[i]["currency"])


def _whatif_channel(pos: pd.DataFrame, shift_channel: str | None) -> pd.Series | None:
    """The channel the what-if moves revenue from: ``shift_channel`` (it must have
    revenue), else the marketplace with most revenue; None when there is none."""
    if shift_channel is not None:
        chosen = pos[pos["channel"] == shift_channel]
        if chosen.empty:
            near = difflib.get_close_matches(shift_channel, pos["channel"].astype(str).tolist())
            raise ConfigError(
                f"shift_channel {shift_channel!r} has no revenue in this workspace"
                + (f"; did you mean {', '.join(near)}?" if near else "")
            )
    else:
        plat = pos[pos["owns_customer"].eq(False).fillna(False).astype(bool)]
        chosen = plat.sort_values("revenue", ascending=False).head(1)
    return None if chosen.empty else chosen.iloc[0]


def _own_store_fee_rate(
    con: duckdb.DuckDBPyConnection, pos: pd.DataFrame, channel: str, given: float | None
) -> tuple[float, str]:
    """The own store's fee rate (share of revenue) and where it comes from: ``given``,
    else the fee rate of the largest own channel that takes payments, else Shopify
    Payments Basic at the average order of ``channel``."""
    if given is not None:
        return float(given), "parameter"
    # The own store is an owned channel that takes payments (a processor profile);
    # direct channels without a processor (fee profile 'none') come last.
    own = pos[
        pos["owns_customer"].eq(True).fillna(False).astype(bool) & pos["fee_rate"].notna()
    ].assign(_direct=lambda f: f["fee_profile"].astype("object").eq("none"))
    own = own.sort_values(["_direct", "revenue"], ascending=[True, False])
    if len(own):
        return float(own.iloc[0]["fee_rate"]), f"fee rate of {own.iloc[0]['channel']}"
    aov_f = msql.average_sale(con, channel)
    return (
        0.029 + (0.30 / aov_f if aov_f > 0 else 0.0),
        "Shopify Payments Basic (2.9% + 0.30) at this channel's average order",
    )


def _whatif(
    con: duckdb.DuckDBPyConnection,
    pos: pd.DataFrame,
    p: _Params,
    gm_rate: float,
    labels: dict[str, str],
    notes: list[str],
    follow: OwnStoreFollow,
) -> pd.DataFrame:
    """The own-store what-if: margin gained by moving a share of a marketplace's revenue
    to the own store (one row; empty without a marketplace or with its fee rate unknown).
    """
    row = _whatif_channel(pos, p.shift_channel)
    if row is None:
        return pd.DataFrame()
    f_p = float(row["fee_rate"])
    if not math.isfinite(f_p):
        notes.append(f"own-store what-if skipped: the fee rate of {row['channel']} is unknown")
        return pd.DataFrame()
    f_o, own_source = _own_store_fee_rate(con, pos, str(row["channel"]), p.own_store_fee_rate)
    gm = gm_rate if math.isfinite(gm_rate) else 1.0
    if not math.isfinite(gm_rate):
        notes.append("own-store what-if uses revenue less fees (no unit costs to compute margin)")
    years = msql.order_history(con)[1]
    loss = 1.0 - follow.mode if p.conversion_loss is None else p.conversion_loss
    rev_year = float(row["revenue"]) / years
    r = own_store_shift(rev_year, p.shift_share, loss, gm, f_p, float(f_o))
    at_low = own_store_shift(rev_year, p.shift_share, 1.0 - follow.low, gm, f_p, float(f_o))
    at_high = own_store_shift(rev_year, p.shift_share, 1.0 - follow.high, gm, f_p, float(f_o))
    breakeven_follow = 1.0 - r.breakeven_conversion_loss
    labels["whatif_channel"] = str(row["channel"])
    return pd.DataFrame(
        [
            {
                "channel": str(row["channel"]),
                "share_moved": p.shift_share,
                "conversion_loss": loss,
                "follow_low": follow.low,
                "follow_mode": follow.mode,
                "follow_high": follow.high,
                "follow_source": follow.source,
                "margin_gained_low": at_low.margin_gained,
                "margin_gained_high": at_high.margin_gained,
                "breakeven_follow": breakeven_follow,
                "success_probability": follow.probability_above(breakeven_follow),
                "gross_margin_rate": gm,
                "platform_fee_rate": f_p,
                "own_store_fee_rate": float(f_o),
                "own_store_fee_source": own_source,
                "moved_revenue": r.moved_revenue,
                "kept_revenue": r.kept_revenue,
                "lost_revenue": r.lost_revenue,
                "fees_saved": r.fees_saved,
                "margin_before": r.margin_before,
                "margin_after": r.margin_after,
                "margin_gained": r.margin_gained,
                "breakeven_conversion_loss": r.breakeven_conversion_loss,
                "assumption": f"own-store assumption: {follow.describe()}; the conversion "
                "loss is the share of moved buyers who do not follow",
            }
        ]
    )
