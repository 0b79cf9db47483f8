"""Playing-field exposure: concentration, platform fees and dependency, supplier and
country risk, regulatory burden and the asymmetry scorecard.

``analyze(ws)`` measures, on the business's own data and against stated yardsticks, how
much it depends on few customers, channels and platforms, what platforms take and who
owns the customer relationship, how concentrated and risky its supply is, what
regulation costs per employee at its size, and how it scores on the seeds' five
asymmetry dimensions (economic, technological, regulatory, informational, systemic).

Finding metric ids (``Finding.metric``), all shares 0-1 unless stated:

- ``exposure.customer_top1_share`` (context: top5_share, top20pct_share),
  ``exposure.customer_top5_share``, ``exposure.customer_top20pct_share``
- ``exposure.customer_hhi``, ``exposure.channel_hhi``, ``exposure.platform_hhi``,
  ``exposure.product_hhi``, ``exposure.supplier_hhi``, ``exposure.supplier_country_hhi``
  (index 0-10,000; context: band by the 2023 US Merger Guidelines)
- ``exposure.channel_dependency_hhi``: the channel HHI except for a business selling
  through one channel it runs itself (then absent: no dependence to measure); context:
  channels, platform_share_max. ``exposure.channel_hhi`` and ``exposure.platform_hhi``
  carry context ``by_choice`` (1 for one own channel by choice, severity info)
- ``exposure.single_channel_by_choice``: 1 when all revenue goes through one channel the
  business runs itself (context: channel)
- ``exposure.platform_share_max``: revenue share of the largest channel whose platform
  owns the customer relationship (context: channel, platform, fee_rate) — the platform trap;
  0 when every channel is known and none is a platform, absent when ownership is unknown
- ``exposure.ownership_unknown_share``: revenue share on channels whose ownership is
  unknown (no stated owns_customer, no fee profile, no known name; context: channels)
- ``exposure.data_ownership_share``: revenue share where the *business* owns the customer
  relationship (context: platform_owned_share, unknown_share); absent when more than half
  of revenue is on channels of unknown ownership
- ``exposure.fee_drag``: platform and payment fees as a share of gross margin (context:
  fees, fee_rate, revenue_fee_unknown_share); ``exposure.fee_rate_max`` (context: channel)
- ``exposure.scale_gap``: unit cost above the large-firm benchmarks of setting
  ``exposure.unit_cost_benchmarks`` (share, units-weighted); absent without benchmarks
- ``exposure.single_source_share``: share of product revenue on single-supplier products
- ``exposure.country_cogs_share_max``: largest country's share of supplier spend
  (context: country, risk 0-100) — fragile supply
- ``exposure.spend_weighted_country_risk`` (index 0-100)
- ``exposure.compliance_cost_share``: estimated cost over the last 12 months' revenue
  (annualized with less history; context: ratio_to_large)
- ``exposure.compliance_cost``: the estimated yearly compliance cost in money (currency
  and prices of the study: context currency, price_year, study)
- ``exposure.own_store_margin_gain`` (currency per year at the own-store follow
  assumption's mode; context: channel, low, high (at the range's ends),
  success_probability (chance the follow share beats break-even under the assumption),
  follow, follow_low, follow_high, breakeven_follow)
- ``exposure.scorecard_weakest`` (index 0-100; context: dimension, second)
- ``exposure.foreign_revenue_share``: revenue share in currencies other than the base
  (context: currencies, cost_share); ``exposure.fx_net_exposure_max``: the largest
  foreign net (revenue less costs, per year, base currency; context: currency, revenue,
  costs, volatility); ``exposure.fx_profit_share_max``: the largest share of profit one
  foreign currency carries (context: currency, net, volatility (ECB, 5 years),
  profit_move, amount (a typical year's swing), threshold 0.25, basis ``profit`` or
  ``revenue`` when no costs are imported). Only with more than one currency; the table
  ``currencies`` holds the mix.
- ``provenance.documented_revenue_share`` (from ``levelfield.provenance``): share of
  revenue from products whose origin the provenance log documents (context: lots,
  sells_on_origin, origin_claim, top_products, amount)

Public API: :func:`analyze`, :class:`ExposureResult`, :func:`figures` and the single
charts, :func:`channel_fee_rates`, :func:`fee_schedule`, :func:`country_risk_table`,
:func:`compliance_costs`, the kernels :func:`hhi`, :func:`top_share`,
:func:`own_store_shift`, :func:`shift_effects`, and ``METHODS``/``REFERENCES``.
"""

from __future__ import annotations

from levelfield.exposure._alternatives import NO_ALTERNATIVE_WORDS, alternatives_count_sql
from levelfield.exposure._analyze import CAPABILITIES, analyze, channel_fee_rates
from levelfield.exposure._assumptions import OWN_STORE_FOLLOW, OwnStoreFollow, own_store_follow
from levelfield.exposure._charts import (
    concentration_chart,
    country_risk_chart,
    fee_waterfall_chart,
    figures,
    scorecard_radar,
)
from levelfield.exposure._kernels import (
    HHI_HIGH,
    HHI_MODERATE,
    OwnStoreShift,
    hhi,
    hhi_band,
    linear_score,
    own_store_shift,
    shift_effects,
    top_share,
)
from levelfield.exposure._reference import (
    compliance_costs,
    country_risk_table,
    fee_schedule,
    normalize_countries,
)
from levelfield.exposure._result import ExposureResult
from levelfield.exposure._scorecard import INDICATORS, Indicator

__all__ = [
    "CAPABILITIES",
    "HHI_HIGH",
    "HHI_MODERATE",
    "INDICATORS",
    "METHODS",
    "NO_ALTERNATIVE_WORDS",
    "OWN_STORE_FOLLOW",
    "REFERENCES",
    "ExposureResult",
    "Indicator",
    "OwnStoreFollow",
    "OwnStoreShift",
    "alternatives_count_sql",
    "analyze",
    "channel_fee_rates",
    "compliance_costs",
    "concentration_chart",
    "country_risk_chart",
    "country_risk_table",
    "fee_schedule",
    "fee_waterfall_chart",
    "figures",
    "hhi",
    "hhi_band",
    "linear_score",
    "normalize_countries",
    "own_store_follow",
    "own_store_shift",
    "scorecard_radar",
    "shift_effects",
    "top_share",
]

METHODS = (
    "Exposure is measured on the business's own orders, lines, products, suppliers and "
    "channels in DuckDB. Revenue is net revenue (gross less discounts and refunds) of paid "
    "orders. Concentration is the Herfindahl-Hirschman index (HHI, sum of squared percent "
    "shares, 0-10,000) with the top-1, top-5 and top-20% shares, read against the 2023 US "
    "Merger Guidelines bands (above 1,800 highly, 1,000-1,800 moderately concentrated) as a "
    "yardstick, not a verdict. A channel's effective fee rate uses the export's actual fees "
    "and, for orders without them, the shipped schedule of published US list rates "
    "(platform_fees.csv, with source and date per row); a channel without a usable fee "
    "profile has unknown fees, never zero. Fee drag is fees over gross margin (revenue less "
    "cost of goods from product unit costs). The own-store what-if moves a stated share of "
    "a marketplace's revenue to the own store, loses a stated share of it on the way, and "
    "compares margins after each side's fees; it also states the break-even loss. The share "
    "of buyers who follow is one assumption per business (own_store_follow: PERT 40-70-90% "
    "unless the business profile sets it), shared with the scenario engine and the advice; "
    "the what-if gives the margin at the range's ends and the chance the move pays under "
    "it. Supplier "
    "spend is the stated annual spend, else the cost of goods bought per year. Country risk "
    "is 100 minus the mean World Bank WGI percentile rank of political stability, regulatory "
    "quality and rule of law (2023 data, CC BY 4.0), overridable. A supplier's risk score is "
    "the unweighted mean of five 0-100 components (country risk, share of spend, lead time "
    "against 90 days, share of revenue from its products, 100/(1 + alternatives)), each "
    "shown. Diversification suggestions shift a stated share of a supplier's spend to a "
    "named alternative (or a lower-risk supplier of the same category elsewhere) and rank "
    "moves that lower both supplier HHI and spend-weighted country risk first, by the HHI "
    "change 2m(s_to - s_from) + 2m^2. The compliance burden multiplies employees by the "
    "per-employee cost of the firm's size band in Crain & Crain (US federal averages; an "
    "order of magnitude). Each scorecard indicator scores 100 at a stated good value and 0 "
    "at a stated bad value, linearly between; a dimension is the unweighted mean of its "
    "measured indicators because no evidence ranks them, and is n/a (with the import that "
    "would measure it) when fewer than half of its indicators are measured: missing data "
    "never score. A channel without a stated owner, a fee profile or a known marketplace or "
    "own-store name is of unknown ownership, never counted as a platform; one channel the "
    "business runs itself is a business-model choice, not channel dependence. The "
    "compliance share uses the last 12 months of revenue."
)

REFERENCES = [
    "U.S. Department of Justice and Federal Trade Commission (2023). Merger Guidelines, "
    "18 December 2023, section 2.1.",
    "Kaufmann, D. and A. Kraay (2024). Worldwide Governance Indicators, 2024 update. "
    "World Bank, www.govindicators.org (CC BY 4.0).",
    "Crain, W. M. and N. V. Crain (2014). The Cost of Federal Regulation to the U.S. "
    "Economy, Manufacturing and Small Business. National Association of Manufacturers.",
    "Crain, N. V. and W. M. Crain (2010). The Impact of Regulatory Costs on Small Firms. "
    "U.S. Small Business Administration, Office of Advocacy.",
    "Copeland, C. W. (2011). Analysis of an Estimate of the Total Costs of Federal "
    "Regulations. Congressional Research Service R41763.",
    "European Commission, DG Enterprise and Industry (2007). Models to reduce the "
    "disproportionate regulatory burden on SMEs. Report of the Expert Group.",
    "Financial Accounting Standards Board. ASC 280-10-50-42, Segment Reporting: "
    "information about major customers.",
    "Platform fee pages as listed per row in levelfield/data/platform_fees.csv.",
]
