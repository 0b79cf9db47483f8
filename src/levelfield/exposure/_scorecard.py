"""The asymmetry scorecard: named indicators, their yardsticks and the 0-100 scores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from levelfield.exposure._kernels import HHI_MODERATE, linear_score

__all__ = ["DIMENSIONS", "INDICATORS", "MIN_MEASURED_SHARE", "Indicator", "score_indicators"]

#: The seeds' asymmetry dimensions, in display order.
DIMENSIONS = ("economic", "technological", "regulatory", "informational", "systemic")


@dataclass(frozen=True)
class Indicator:
    """One measured indicator of a scorecard dimension.

    ``good`` scores 100 and ``bad`` scores 0, linearly between; ``good < bad`` means lower
    is better. ``reference`` says where the two anchors come from.
    """

    dimension: str
    name: str
    label: str
    unit: str
    good: float
    bad: float
    reference: str
    fill: str = ""

    @property
    def fill_with(self) -> str:
        """The import or setting that would measure this indicator."""
        return self.fill or _FILL.get(self.name, "")

    @property
    def direction(self) -> str:
        return "lower is better" if self.good < self.bad else "higher is better"


_HHI_REF = (
    "1,000 = upper bound of 'unconcentrated' in the 2023 US Merger Guidelines; "
    "5,000 = two equal parts (half of everything rides on one)"
)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "economic",
        "customer_top1_share",
        "largest customer's share of revenue",
        "share",
        0.05,
        0.20,
        "US GAAP ASC 280-10-50-42 makes a customer with 10% or more of revenue a disclosed "
        "'major customer'; 100 at half that share, 0 at twice it",
    ),
    Indicator(
        "economic",
        "channel_dependency_hhi",
        "sales-channel concentration (HHI; not scored for one own channel by choice)",
        "index",
        HHI_MODERATE,
        5000.0,
        _HHI_REF,
    ),
    Indicator(
        "economic",
        "supplier_hhi",
        "supplier spend concentration (HHI)",
        "index",
        HHI_MODERATE,
        5000.0,
        _HHI_REF,
    ),
    Indicator(
        "economic",
        "fee_drag",
        "platform and payment fees as share of gross margin",
        "share",
        0.05,
        0.30,
        "card processing alone (about 3% of revenue) takes about 5-6% of a 50% gross margin; "
        "marketplace commissions of 15-30% of revenue take 30% or more of it",
    ),
    Indicator(
        "economic",
        "scale_gap",
        "unit cost above the large-firm benchmark",
        "share",
        0.0,
        0.30,
        "benchmarks you supply; 0 = same unit cost as the large firm, 30% above = no margin "
        "left at a typical retail markup",
    ),
    Indicator(
        "technological",
        "digital_capabilities",
        "share of the 10 digital capabilities in use",
        "share",
        1.0,
        0.0,
        "checklist of docs/contracts.md: online ordering, CRM, e-mail automation, inventory "
        "system, analytics, loyalty program, subscription, delivery, POS integration, "
        "accounting software",
    ),
    Indicator(
        "regulatory",
        "compliance_cost_share",
        "estimated compliance cost as share of revenue",
        "share",
        0.01,
        0.10,
        "per-employee compliance cost of the firm's size band (Crain & Crain) times "
        "employees; 1% of revenue is about a large firm's level, 10% leaves little margin",
    ),
    Indicator(
        "regulatory",
        "compliance_cost_ratio",
        "compliance cost per employee vs a large firm",
        "ratio",
        1.0,
        2.0,
        "ratio of the size band's per-employee cost to the large-firm band in the same study; "
        "the European Commission (2007) reports ratios of up to 10",
    ),
    Indicator(
        "informational",
        "data_ownership_share",
        "share of revenue where the business owns the customer relationship",
        "share",
        1.0,
        0.0,
        "revenue on channels where the business, not a marketplace, holds the customer "
        "contact and history",
    ),
    Indicator(
        "informational",
        "identified_revenue_share",
        "share of revenue with a known customer",
        "share",
        1.0,
        0.0,
        "a business can only measure customers it can tell apart (guest sales count as 0)",
    ),
    Indicator(
        "informational",
        "measures_customers",
        "customer analysis run in this workspace",
        "flag",
        1.0,
        0.0,
        "1 when levelfield's customer analysis has been run on these data",
    ),
    Indicator(
        "systemic",
        "platform_share_max",
        "largest marketplace's share of revenue",
        "share",
        0.10,
        0.50,
        "10%: a platform's rule change costs a tenth of revenue; 50%: half the business "
        "depends on one platform's terms",
    ),
    Indicator(
        "systemic",
        "supplier_country_hhi",
        "supplier-country concentration (HHI)",
        "index",
        HHI_MODERATE,
        5000.0,
        _HHI_REF,
    ),
    Indicator(
        "systemic",
        "spend_weighted_country_risk",
        "spend-weighted supplier country risk",
        "index",
        25.0,
        75.0,
        "World Bank WGI 2023: risk = 100 - mean percentile rank of political stability, "
        "regulatory quality and rule of law; 25 = top-quartile governance, 75 = bottom quartile",
    ),
    Indicator(
        "systemic",
        "single_source_share",
        "share of revenue on single-source products",
        "share",
        0.0,
        0.50,
        "0 = every product has a second supplier; 50% = half of sales stop if one supplier fails",
    ),
)


_SUPPLIERS = (
    "suppliers with country and alternatives ('levelfield import suppliers'), linked from "
    "products ('levelfield import products')"
)
_CHANNELS = "channels with owns_customer or a fee profile ('levelfield import channels')"
_FILL = {
    "customer_top1_share": "orders with customer ids",
    "channel_dependency_hhi": "orders with their sales channel",
    "supplier_hhi": _SUPPLIERS,
    "fee_drag": "product unit costs ('levelfield import products') and channel fees",
    "scale_gap": "large-firm unit costs (parameter unit_cost_benchmarks)",
    "digital_capabilities": "the business profile key 'capabilities'",
    "compliance_cost_share": "the business profile key 'employees'",
    "compliance_cost_ratio": "the business profile key 'employees'",
    "data_ownership_share": _CHANNELS,
    "identified_revenue_share": "orders with customer ids",
    "measures_customers": "'levelfield analyze customers'",
    "platform_share_max": _CHANNELS,
    "supplier_country_hhi": _SUPPLIERS,
    "spend_weighted_country_risk": _SUPPLIERS,
    "single_source_share": _SUPPLIERS,
}

#: A dimension is scored only when at least this share of its indicators is measured: a
#: score from one indicator of four says little about the dimension, and a missing
#: indicator must never count as a good one.
MIN_MEASURED_SHARE = 0.5


def score_indicators(
    values: Mapping[str, float], not_applicable: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every indicator with a value; returns ``(indicators, dimensions)`` tables.

    A dimension's score is the unweighted mean of its measured indicators: there is no
    evidence on which indicator matters more, so none gets more weight. A dimension with
    fewer than half of its indicators measured has a NaN score (n/a) and is not ranked;
    missing data never score. ``fill_with`` names the imports that would measure the
    missing indicators. ``not_applicable`` maps indicators that do not apply to this
    business to the reason (e.g. channel concentration of one own channel by choice);
    they are shown with the reason and count neither as measured nor as missing.
    """
    na = dict(not_applicable or {})
    rows = []
    for ind in INDICATORS:
        value = float(values.get(ind.name, float("nan")))
        measured = bool(np.isfinite(value)) and ind.name not in na
        score = float(linear_score(value, ind.good, ind.bad)) if measured else np.nan
        rows.append(
            {
                "dimension": ind.dimension,
                "indicator": ind.name,
                "label": ind.label,
                "value": value,
                "unit": ind.unit,
                "good": ind.good,
                "bad": ind.bad,
                "direction": ind.direction,
                "reference": ind.reference,
                "score": score,
                "fill_with": "" if measured or ind.name in na else ind.fill_with,
                "not_applicable": na.get(ind.name, ""),
            }
        )
    table = pd.DataFrame(rows)
    applicable = table.assign(applies=table["not_applicable"].eq(""))
    dims = (
        applicable.groupby("dimension", sort=False)
        .agg(score=("score", "mean"), measured=("score", "count"), indicators=("applies", "sum"))
        .reindex(list(DIMENSIONS))
        .reset_index()
    )
    enough = dims["measured"] >= MIN_MEASURED_SHARE * dims["indicators"]
    dims.loc[~enough, "score"] = np.nan
    missing: dict[str, list[str]] = {}
    for dim, fill in zip(table["dimension"], table["fill_with"], strict=True):
        if fill and fill not in missing.setdefault(str(dim), []):
            missing[str(dim)].append(str(fill))
    dims["fill_with"] = ["; ".join(missing.get(str(d), [])) for d in dims["dimension"]]
    ranked = dims.dropna(subset=["score"]).sort_values(["score", "dimension"])
    weakest = set(ranked["dimension"].head(2))
    dims["weakest"] = dims["dimension"].isin(weakest)
    return table, dims
