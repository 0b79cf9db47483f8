"""The result of ``levelfield.exposure.analyze``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from levelfield.exposure._currency import FX_PROFIT_SHARE_THRESHOLD
from levelfield.exposure._kernels import HHI_HIGH, HHI_MODERATE, hhi_band
from levelfield.exposure._metrics import as_float
from levelfield.findings import Finding, Severity
from levelfield.provenance import DocumentedShare

__all__ = ["ExposureResult"]


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN/inf become None, NumPy scalars become Python ones."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pct(x: float | None) -> str:
    # None: the number is unknown (e.g. a channel whose fees cannot be measured).
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:,.0f}"


def _hhi_severity(h: float) -> Severity:
    if not math.isfinite(h):
        return "info"
    return "warning" if h > HHI_HIGH else "watch" if h >= HHI_MODERATE else "good"


@dataclass(frozen=True)
class ExposureResult:
    """Exposure of a business to customers, platforms, suppliers, countries and rules.

    Attributes
    ----------
    metrics
        Headline numbers by metric name (shares 0-1, HHI 0-10,000, money per year in
        ``currency``); NaN where the data do not allow a number.
    concentration
        One row per dimension (customer, channel, platform, product, supplier,
        supplier_country): ``n``, ``total``, ``hhi``, ``band``, ``top1_share``,
        ``top5_share``, ``top20pct_share``.
    concentration_top
        The ten largest keys per dimension with ``value`` and ``share`` (customers are
        listed by rank only).
    channels
        Per channel: revenue, share, fee profile, who owns the customer, actual and
        scheduled fees, the effective fee rate and its source, COGS and margins.
    whatif
        The own-store what-if (one row) with its assumptions.
    suppliers
        Per supplier: spend, shares, country and risk, each risk component (0-100) and
        the risk score.
    countries
        Supplier spend per country with its WGI risk.
    diversification
        Suggested spend shifts, best first, with the change in supplier HHI,
        supplier-country HHI, spend-weighted country risk and cost.
    burden
        Compliance cost estimate per study band (empty when employees are unknown).
    currencies
        Revenue, costs and net per currency per year in ``currency``
        (``levelfield.exposure._currency``): shares of revenue, costs and profit, the
        rate costs were converted at and the pair's ECB volatility.
    documented
        Share of revenue from products whose origin the provenance log documents.
    scorecard
        Indicators with value, yardstick (good/bad), direction, reference and score.
    dimensions
        Scorecard dimensions with score and the two weakest flagged.
    fee_schedule_dates
        ``{fee_profile: as_of}`` of the schedule rows used.
    notes
        Assumptions applied and data repaired, in plain language.
    labels
        Names behind headline metrics (e.g. ``fee_rate_max_channel``).
    """

    currency: str
    metrics: dict[str, float]
    concentration: pd.DataFrame
    concentration_top: pd.DataFrame
    channels: pd.DataFrame
    whatif: pd.DataFrame
    suppliers: pd.DataFrame
    countries: pd.DataFrame
    diversification: pd.DataFrame
    burden: pd.DataFrame
    scorecard: pd.DataFrame
    dimensions: pd.DataFrame
    currencies: pd.DataFrame = field(default_factory=pd.DataFrame)
    documented: DocumentedShare | None = None
    fee_schedule_dates: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    # -- contract methods ----------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """JSON-able headline numbers."""
        dims = {str(r.dimension): _clean(as_float(r.score)) for r in self.dimensions.itertuples()}
        weakest = [str(d) for d in self.dimensions.loc[self.dimensions["weakest"], "dimension"]]
        return {
            "currency": self.currency,
            "metrics": {k: _clean(float(v)) for k, v in self.metrics.items()},
            "scorecard": dims,
            "scorecard_missing": {
                str(r.dimension): str(r.fill_with)
                for r in self.dimensions.itertuples()
                if not math.isfinite(as_float(r.score)) and "fill_with" in self.dimensions
            },
            "weakest_dimensions": weakest,
            "fee_schedule_dates": dict(self.fee_schedule_dates),
            "notes": list(self.notes),
        }

    def to_frame(self) -> pd.DataFrame:
        """The main table: the scorecard indicators with values, yardsticks and scores."""
        return self.scorecard.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every result table, for ``levelfield export``."""
        return {
            "scorecard": self.scorecard.copy(),
            "scorecard_dimensions": self.dimensions.copy(),
            "concentration": self.concentration.copy(),
            "concentration_top": self.concentration_top.copy(),
            "channels": self.channels.copy(),
            "own_store_whatif": self.whatif.copy(),
            "suppliers": self.suppliers.copy(),
            "supplier_countries": self.countries.copy(),
            "diversification": self.diversification.copy(),
            "compliance_burden": self.burden.copy(),
            "currencies": self.currencies.copy(),
        }

    def _weakest(self) -> list[tuple[str, float]]:
        d = self.dimensions.dropna(subset=["score"]).sort_values(["score", "dimension"])
        return [(str(r.dimension), as_float(r.score)) for r in d.head(2).itertuples()]

    def headline(self) -> list[str]:
        """Plain-language lines for the CLI, each with its number and yardstick."""
        lines: list[str] = []
        scores = ", ".join(
            f"{r.dimension} {r.score:.0f}"
            if math.isfinite(as_float(r.score))
            else f"{r.dimension} n/a"
            for r in self.dimensions.itertuples()
        )
        lines.append(f"Asymmetry scorecard (0-100, higher is a more level field): {scores}.")
        na = self.dimensions[self.dimensions["score"].isna()]
        if len(na) and "fill_with" in na:
            lines.append(
                "Not scored (too few indicators measured; missing data never count as good): "
                + "; ".join(f"{r.dimension} needs {r.fill_with}" for r in na.itertuples())
                + "."
            )
        weak = self._weakest()
        if weak:
            lines.append(
                "Weakest: "
                + " and ".join(f"{d} ({s:.0f})" for d, s in weak)
                + "; see the indicators behind them in the scorecard table."
            )
        lines.extend(f.text for f in self._ranked_findings()[:6])
        if self.fee_schedule_dates:
            dates = sorted(set(self.fee_schedule_dates.values()))
            lines.append(
                f"Fee schedule checked {', '.join(dates)} (levelfield/data/platform_fees.csv)."
            )
        return lines

    def _ranked_findings(self) -> list[Finding]:
        severity = {"critical": 0, "warning": 1, "watch": 2, "info": 3, "good": 4}
        priority = [
            "platform_share_max",
            "data_ownership_share",
            "fee_drag",
            "customer_top1_share",
            "country_cogs_share_max",
            "single_source_share",
            "supplier_hhi",
            "channel_dependency_hhi",
            "ownership_unknown_share",
            "single_channel_by_choice",
            "compliance_cost_share",
            "own_store_margin_gain",
            "spend_weighted_country_risk",
            "fx_profit_share_max",
        ]
        rank = {f"exposure.{m}": i for i, m in enumerate(priority)}
        fs = [f for f in self.findings() if f.metric in rank]
        return sorted(fs, key=lambda f: (severity[f.severity], rank[f.metric]))

    def findings(self) -> list[Finding]:
        """Measured facts with stable metric ids (see the package docstring).

        Concentration (:meth:`_concentration_findings`), platforms and fees
        (:meth:`_platform_findings`), costs and supply (:meth:`_cost_findings`), the
        own-store what-if, currencies, documented supply chain and the weakest
        asymmetry dimension, in that order.
        """
        out = [
            *self._concentration_findings(),
            *self._platform_findings(),
            *self._cost_findings(),
            *self._whatif_findings(),
            *self._currency_findings(),
        ]
        if self.documented is not None and self.documented.share is not None:
            out.append(self.documented.to_finding())
        out.extend(self._weakest_findings())
        return out

    def _concentration_findings(self) -> list[Finding]:
        """Customer shares and the HHI of customers, channels, platforms, products,
        suppliers and supplier countries (a single own channel is a choice, not a risk)."""
        return self._customer_share_findings() + self._hhi_findings()

    def _customer_share_findings(self) -> list[Finding]:
        """The largest customer's, the five largest's and the top 20%'s revenue shares."""
        m = self.metrics
        out: list[Finding] = []
        add = _adder(out)
        top1 = m.get("customer_top1_share", math.nan)
        add(
            "customer_top1_share",
            top1,
            "share",
            f"Your largest customer brings {_pct(top1)} of identified revenue "
            "(a customer at 10% or more is a 'major customer' under US GAAP ASC 280).",
            "warning" if top1 >= 0.2 else "watch" if top1 >= 0.1 else "good",
            top5_share=m.get("customer_top5_share"),
            top20pct_share=m.get("customer_top20pct_share"),
            reference="ASC 280-10-50-42",
        )
        add(
            "customer_top5_share",
            m.get("customer_top5_share", math.nan),
            "share",
            f"Your five largest customers bring {_pct(m.get('customer_top5_share', math.nan))} "
            "of identified revenue.",
            "info",
        )
        add(
            "customer_top20pct_share",
            m.get("customer_top20pct_share", math.nan),
            "share",
            f"The top 20% of customers bring {_pct(m.get('customer_top20pct_share', math.nan))} "
            "of identified revenue.",
            "info",
        )
        return out

    def _hhi_findings(self) -> list[Finding]:
        """The HHI of each dimension against the Merger Guidelines' bands, the channel
        dependency and whether one own channel is a choice of business model."""
        m = self.metrics
        out: list[Finding] = []
        add = _adder(out)
        yard = "2023 US Merger Guidelines: above 1,800 highly, 1,000-1,800 moderately concentrated"
        by_choice = m.get("single_channel_by_choice", 0.0) == 1.0
        own_channel = self.labels.get("single_channel", "your own store")
        for dim, label in (
            ("customer", "customer"),
            ("channel", "sales-channel"),
            ("platform", "platform"),
            ("product", "product"),
            ("supplier", "supplier spend"),
            ("supplier_country", "supplier-country spend"),
        ):
            h = m.get(f"{dim}_hhi", math.nan)
            choice = by_choice and dim in ("channel", "platform")
            add(
                f"{dim}_hhi",
                h,
                "index",
                f"{label.capitalize()} concentration HHI is {_num(h)} ({hhi_band(h)}; {yard})"
                + (
                    f": all sales go through {own_channel}, a channel you run yourself, by "
                    "choice of business model, not dependence on a platform."
                    if choice
                    else "."
                ),
                "info" if choice else _hhi_severity(h),
                band=hhi_band(h),
                reference="US DOJ/FTC Merger Guidelines 2023",
                **({"by_choice": 1.0 if choice else 0.0} if dim in ("channel", "platform") else {}),
            )
        dep = m.get("channel_dependency_hhi", math.nan)
        add(
            "channel_dependency_hhi",
            dep,
            "index",
            f"Sales-channel concentration HHI is {_num(dep)} ({hhi_band(dep)}; {yard}).",
            _hhi_severity(dep),
            band=hhi_band(dep),
            channels=m.get("channels_with_revenue"),
            platform_share_max=m.get("platform_share_max"),
        )
        add(
            "single_channel_by_choice",
            m.get("single_channel_by_choice", math.nan),
            "flag",
            f"You sell through one channel, {own_channel}, which you run yourself: a "
            "business-model choice, not dependence on a platform or a customer. Its risks "
            "are your own store's (traffic, outages), not a platform's terms.",
            "info",
            channel=self.labels.get("single_channel"),
        )
        return out

    def _platform_findings(self) -> list[Finding]:
        """The largest marketplace's share, who owns the customer relationship, fee drag."""
        m = self.metrics
        out: list[Finding] = []
        add = _adder(out)
        ps = m.get("platform_share_max", math.nan)
        ch = self._top_platform_channel()
        add(
            "platform_share_max",
            ps,
            "share",
            f"{ch.get('channel', 'A marketplace')} brings {_pct(ps)} of revenue and holds the "
            "customer relationship; its effective fee rate is "
            f"{_pct(ch.get('fee_rate', math.nan))}."
            if ch
            else "No marketplace sells for you: every channel with revenue is one you run "
            "yourself, so no platform holds your customers.",
            "critical"
            if ps >= 0.5
            else "warning"
            if ps >= 0.3
            else "watch"
            if ps >= 0.1
            else "good",
            channel=ch.get("channel"),
            platform=ch.get("platform"),
            fee_rate=ch.get("fee_rate"),
        )
        own = m.get("data_ownership_share", math.nan)
        plat_share = m.get("platform_owned_share", math.nan)
        unk = m.get("ownership_unknown_share", 0.0)
        rest = [
            f"a platform holds it on {_pct(plat_share)}" if plat_share > 0 else "",
            f"it is unknown on {_pct(unk)}" if unk > 0 else "",
        ]
        rest_text = " and ".join(r for r in rest if r)
        add(
            "data_ownership_share",
            own,
            "share",
            f"You own the customer relationship on {_pct(own)} of revenue"
            + (f"; {rest_text}." if rest_text else " (every channel is yours)."),
            "warning" if own < 0.5 else "watch" if own < 0.8 else "good",
            platform_owned_share=plat_share,
            unknown_share=unk,
        )
        add(
            "ownership_unknown_share",
            unk if unk > 0 else math.nan,
            "share",
            f"Who owns the customer relationship is unknown on {_pct(unk)} of revenue "
            f"(channel(s) {self.labels.get('ownership_unknown_channels', 'n/a')}: no fee "
            "profile and not a known marketplace or own-store name); set "
            "channels.owns_customer to measure it.",
            "info",
            channels=self.labels.get("ownership_unknown_channels"),
        )
        fd = m.get("fee_drag", math.nan)
        add(
            "fee_drag",
            fd,
            "share",
            f"Platform and payment fees take {_pct(fd)} of your gross margin "
            f"({_pct(m.get('fee_rate_total', math.nan))} of revenue).",
            "warning" if fd >= 0.25 else "watch" if fd >= 0.10 else "good",
            fees=m.get("fees_total"),
            fee_rate=m.get("fee_rate_total"),
            revenue_fee_unknown_share=m.get("revenue_fee_unknown_share"),
        )
        return out

    def _cost_findings(self) -> list[Finding]:
        """Scale gap, the dearest channel's fees, single sourcing, country and
        compliance cost."""
        return self._supply_findings() + self._country_findings() + self._compliance_findings()

    def _supply_findings(self) -> list[Finding]:
        """Scale gap against the owner's benchmarks, the dearest channel's fee rate and
        the revenue of single-source products."""
        m = self.metrics
        out: list[Finding] = []
        add = _adder(out)
        gap = m.get("scale_gap", math.nan)
        add(
            "scale_gap",
            gap,
            "share",
            f"Your unit costs are {_pct(gap)} above the large-firm benchmarks you set "
            "(setting exposure.unit_cost_benchmarks), weighted by the units you sell."
            if gap >= 0
            else f"Your unit costs are {_pct(-gap)} below the large-firm benchmarks you set.",
            "warning" if gap >= 0.15 else "watch" if gap >= 0.05 else "good",
        )
        fr = m.get("fee_rate_max", math.nan)
        add(
            "fee_rate_max",
            fr,
            "share",
            f"The most expensive channel, {self.labels.get('fee_rate_max_channel', 'n/a')}, keeps "
            f"{_pct(fr)} of its revenue in fees.",
            "warning" if fr >= 0.2 else "watch" if fr >= 0.1 else "info",
            channel=self.labels.get("fee_rate_max_channel"),
        )
        ss = m.get("single_source_share", math.nan)
        add(
            "single_source_share",
            ss,
            "share",
            f"{_pct(ss)} of product revenue depends on products with a single supplier.",
            "warning" if ss >= 0.5 else "watch" if ss >= 0.2 else "good",
            coverage=m.get("single_source_coverage"),
        )
        return out

    def _country_findings(self) -> list[Finding]:
        """The largest supplier country's share of purchases with its governance risk, and
        the spend-weighted country risk (World Bank WGI)."""
        m = self.metrics
        out: list[Finding] = []
        add = _adder(out)
        cs = m.get("country_cogs_share_max", math.nan)
        cty = self._top_country()
        risk = cty.get("risk", math.nan)
        add(
            "country_cogs_share_max",
            cs,
            "share",
            f"{cty.get('name', 'One country')} supplies {_pct(cs)} of your purchases; its "
            f"governance risk is {_num(risk)}/100 (World Bank WGI).",
            "warning"
            if cs >= 0.5 and risk >= 50
            else "watch"
            if cs >= 0.5 or risk >= 50
            else "good",
            country=cty.get("country"),
            risk=risk,
            reference="World Bank WGI 2023",
        )
        wr = m.get("spend_weighted_country_risk", math.nan)
        add(
            "spend_weighted_country_risk",
            wr,
            "index",
            f"Spend-weighted supplier country risk is {_num(wr)}/100 (World Bank WGI).",
            "warning" if wr >= 60 else "watch" if wr >= 40 else "good",
        )
        return out

    def _compliance_findings(self) -> list[Finding]:
        """Estimated regulatory compliance cost: share of revenue and yearly amount."""
        m = self.metrics
        out: list[Finding] = []
        add = _adder(out)
        cc = m.get("compliance_cost_share", math.nan)
        add(
            "compliance_cost_share",
            cc,
            "share",
            f"Estimated regulatory compliance cost is {_pct(cc)} of revenue "
            f"({_num(m.get('compliance_cost', math.nan))} per year; "
            f"{m.get('compliance_cost_ratio', math.nan):.2f}x a large firm's cost per employee, "
            "Crain & Crain).",
            "warning" if cc >= 0.10 else "watch" if cc >= 0.03 else "info",
            ratio_to_large=m.get("compliance_cost_ratio"),
        )
        if len(self.burden):
            b = self.burden.iloc[0]
            add(
                "compliance_cost",
                m.get("compliance_cost", math.nan),
                "currency",
                f"Estimated regulatory compliance cost: {b['currency']} "
                f"{_num(m.get('compliance_cost', math.nan))} a year ({int(b['employees'])} "
                f"employees at {b['currency']} {_num(float(b['cost_per_employee']))} each, "
                f"{b['price_year']} prices).",
                "info",
                currency=str(b["currency"]),
                price_year=int(b["price_year"]),
                study=str(b["study"]),
            )
        return out

    def _whatif_findings(self) -> list[Finding]:
        """The margin of moving a marketplace's revenue to the own store, with its range."""
        m = self.metrics
        out: list[Finding] = []
        add = _adder(out)
        wg = m.get("whatif_margin_gained", math.nan)
        if math.isfinite(wg) and len(self.whatif):
            w = self.whatif.iloc[0]
            p_ok = float(w["success_probability"])
            add(
                "own_store_margin_gain",
                wg,
                "currency",
                f"Moving {_pct(float(w['share_moved']))} of {w['channel']} revenue to your own "
                f"store, losing {_pct(float(w['conversion_loss']))} of it on the way, would change "
                f"margin by {wg:,.0f} {self.currency} a year ({float(w['margin_gained_low']):,.0f} "
                f"if {_pct(float(w['follow_low']))} of buyers follow, "
                f"{float(w['margin_gained_high']):,.0f} if {_pct(float(w['follow_high']))} do; "
                f"it pays if more than {_pct(float(w['breakeven_follow']))} follow, "
                f"{_pct(p_ok)} likely under the own-store assumption).",
                "good" if wg > 0 else "info",
                channel=str(w["channel"]),
                low=float(w["margin_gained_low"]),
                high=float(w["margin_gained_high"]),
                success_probability=p_ok,
                follow=float(w["follow_mode"]),
                follow_low=float(w["follow_low"]),
                follow_high=float(w["follow_high"]),
                breakeven_follow=float(w["breakeven_follow"]),
            )
        return out

    def _weakest_findings(self) -> list[Finding]:
        """The weakest asymmetry dimension of the scorecard (and the next one)."""
        out: list[Finding] = []
        add = _adder(out)
        weak = self._weakest()
        if weak:
            d, s = weak[0]
            add(
                "scorecard_weakest",
                s,
                "index",
                f"The weakest asymmetry dimension is {d} ({s:.0f}/100)"
                + (f", then {weak[1][0]} ({weak[1][1]:.0f})." if len(weak) > 1 else "."),
                "warning" if s < 40 else "watch" if s < 60 else "info",
                dimension=d,
                second=weak[1][0] if len(weak) > 1 else None,
            )
        return out

    def _currency_findings(self) -> list[Finding]:
        """``exposure.foreign_revenue_share``, ``exposure.fx_net_exposure_max`` and
        ``exposure.fx_profit_share_max`` (only with more than one currency)."""
        t, m, base = self.currencies, self.metrics, self.currency
        if t.empty or "foreign_revenue_share" not in m:
            return []
        foreign = t[~t["is_base"].astype(bool)]
        names = ", ".join(foreign["currency"].astype(str))
        out = [
            Finding(
                "exposure.foreign_revenue_share",
                float(m["foreign_revenue_share"]),
                "share",
                f"{_pct(m['foreign_revenue_share'])} of revenue and "
                f"{_pct(m.get('foreign_cost_share'))} of costs are in currencies other than "
                f"{base} ({names}); the currency table shows revenue, costs and the net "
                f"per currency in {base}.",
                "info",
                {"currencies": names, "cost_share": _clean(m.get("foreign_cost_share"))},
            )
        ]
        cur = self.labels.get("fx_net_exposure_max_currency")
        if cur is not None:
            row = t.set_index("currency").loc[cur]
            net = as_float(row["net"])
            way = (
                f"long {cur}: a weaker {cur} lowers your profit"
                if net >= 0
                else f"short {cur}: a stronger {cur} raises your costs"
            )
            out.append(
                Finding(
                    "exposure.fx_net_exposure_max",
                    net,
                    "currency",
                    f"Your largest net currency position is {cur}: "
                    f"{_num(as_float(row['revenue']))} {base} of revenue less "
                    f"{_num(as_float(row['costs']))} {base} of costs a year ({way}).",
                    "info",
                    {
                        "currency": cur,
                        "revenue": _clean(as_float(row["revenue"])),
                        "costs": _clean(as_float(row["costs"])),
                        "volatility": _clean(as_float(row["volatility"])),
                    },
                )
            )
        out.extend(self._profit_share_finding())
        return out

    def _profit_share_finding(self) -> list[Finding]:
        share = self.metrics.get("fx_profit_share_max", math.nan)
        cur = self.labels.get("fx_profit_share_max_currency")
        if cur is None or not math.isfinite(share):
            return []
        t, base = self.currencies.set_index("currency"), self.currency
        vol = as_float(t.loc[cur, "volatility"])
        no_costs = float(t["costs"].sum()) <= 0
        of = (
            "revenue (no costs are imported, so revenue stands in for profit)"
            if no_costs
            else f"profit (revenue less costs in {cur}, a year)"
        )
        move = (
            f"; {cur} typically moves {_pct(vol)} a year against {base} (ECB reference rates, "
            f"5 years), which would move your profit by about {_pct(share * vol)}"
            if math.isfinite(vol)
            else ""
        )
        limit = FX_PROFIT_SHARE_THRESHOLD
        sev: Severity = "warning" if share >= 2 * limit else "watch" if share >= limit else "info"
        return [
            Finding(
                "exposure.fx_profit_share_max",
                share,
                "share",
                f"{cur} carries {_pct(share)} of your {of}{move}. A foreign currency at "
                f"{limit:.0%} of profit or more is worth watching when you price and buy.",
                sev,
                {
                    "currency": cur,
                    "net": _clean(as_float(t.loc[cur, "net"])),
                    "volatility": _clean(vol),
                    "profit_move": _clean(share * vol),
                    # a typical year's swing of the profit earned in this currency
                    "amount": abs(as_float(t.loc[cur, "net"])) * vol if math.isfinite(vol) else 0.0,
                    "threshold": limit,
                    "basis": "revenue" if no_costs else "profit",
                },
            )
        ]

    def _top_platform_channel(self) -> dict[str, Any]:
        c = self.channels
        if c.empty:
            return {}
        plat = c[c["owns_customer"].eq(False).fillna(False).astype(bool)]
        if plat.empty:
            return {}
        r = plat.sort_values("revenue", ascending=False).iloc[0]
        return {
            "channel": str(r["channel"]),
            "platform": str(r["platform"]),
            "fee_rate": _clean(float(r["fee_rate"])),
        }

    def _top_country(self) -> dict[str, Any]:
        c = self.countries
        if c.empty:
            return {}
        r = c.iloc[0]
        return {
            "country": str(r["country"]),
            "name": str(r["name"]),
            "risk": float(r["risk"]) if pd.notna(r["risk"]) else math.nan,
        }


def _adder(out: list[Finding]) -> Callable[..., None]:
    """``add(metric, value, unit, text, severity, **context)``: append an
    ``exposure.<metric>`` finding to ``out`` when ``value`` is finite."""

    def add(metric: str, value: float, unit: str, text: str, sev: Severity, **context: Any) -> None:
        if math.isfinite(value):
            out.append(
                Finding(
                    f"exposure.{metric}",
                    float(value),
                    unit,
                    text,
                    sev,
                    {k: _clean(v) for k, v in context.items()},
                )
            )

    return add
