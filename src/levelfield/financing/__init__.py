"""Financing readiness: the true price of credit offers, a cash forecast, lender metrics.

The kernel is :func:`apr` (equal periods) and :func:`apr_dated` (dated payments): the
annual percentage rate by the actuarial method of U.S. Regulation Z, Appendix J
(12 CFR 1026), vectorized over many offers and many simulated futures. Offers
(:class:`CreditOffer`, the ``credit_offers`` table) become cash flows under the
business's own weekly sales and simulated futures of them (:func:`offer_cash_flows`);
sales-linked offers get an APR band and a slow-season APR.

Finding metric ids (stable, read by ``levelfield.advice``):

- ``financing.best_offer_apr``: median APR of the cheapest offer (share per year).
- ``financing.worst_offer_apr``: median APR of the dearest offer (share;
  ``context["apr_p95"]``, ``context["saving_vs_best"]`` in currency).
- ``financing.cash_low_week``: first of the next 13 weeks whose P10 cash is below the
  buffer (weeks; 0 with ``context["beyond_horizon"]`` when none).
- ``financing.dscr_historical`` (last year, existing debt; absent without debt),
  ``financing.dscr_with_offer`` (pro forma), ``financing.operating_margin``,
  ``financing.runway_months``, ``financing.revenue_trend``,
  ``financing.revenue_volatility``, ``financing.top_customer_share``: lender metrics,
  each with ``context["threshold"]`` and ``context["source"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from levelfield.financing._analysis import (
    DISCLAIMER,
    NO_OFFERS_HINT,
    FinancingResult,
    analyze,
    compare_offers,
    lender_metrics,
    read_payables,
)
from levelfield.financing._apr import apr, apr_dated, apr_schedule, unit_periods
from levelfield.financing._cash import CashForecast, backtest_mape, cash_forecast, cash_tornado
from levelfield.financing._offers import (
    OFFER_KINDS,
    SALES_LINKED,
    CreditOffer,
    OfferFlows,
    offer_cash_flows,
    weekly_payments,
)
from levelfield.financing._sales import (
    WeeklySales,
    sales_futures,
    slow_season_offset,
    weekly_sales,
)

METHODS = (
    "Each credit offer is turned into the money that reaches the business (the amount "
    "financed, after fees withheld) and its payment schedule; sales-linked offers (merchant "
    "cash advances, revenue-based financing) remit a share of each week's sales until the "
    "agreed total is repaid, under 2,000 simulated futures of weekly sales (a seasonal "
    "bootstrap of the business's own weeks with a level drawn from its year-on-year "
    "variation). The annual percentage rate is solved by the actuarial method of U.S. "
    "Regulation Z, Appendix J (unit-period rate times unit-periods per year; odd fractions "
    "at simple interest), vectorized Newton iteration with a bisection safeguard. Offers "
    "are ranked by median APR; sales-linked ones also get a 90 % band and the APR if taken "
    "just before the slowest 13 weeks of the year. The 13-week cash forecast adds simulated "
    "receipts and subtracts the recorded monthly costs, the cost of goods and recorded fees "
    "as a share of sales, interest on existing debt and the payables due (business profile); "
    "P10/P50/P90 are across the simulated futures, the buffer is two weeks of regular "
    "payments, and what moves the lowest balance is found by moving one driver at a time to "
    "its unfavourable and favourable end (tornado). The backtest forecasts the last 13 weeks "
    "of sales from the weeks before them."
)
REFERENCES = [
    "12 CFR Part 1026 (Regulation Z), Appendix J: Annual Percentage Rate Computations for "
    "Closed-End Credit Transactions. Consumer Financial Protection Bureau.",
    "U.S. Small Business Administration (2023). SOP 50 10 7.1, Lender and Development "
    "Company Loan Programs (debt-service coverage).",
    "FASB ASC 280-10-50-42 (major customer disclosure at 10 % of revenue).",
]


def figures(result: FinancingResult) -> Mapping[str, Any]:
    """The charts: 13-week cash bands and offer APRs."""
    from levelfield.financing._figures import cash_figure, offers_figure

    out: dict[str, Any] = {"13-week cash forecast": cash_figure(result)}
    if len(result.offers):
        out["Credit offers by APR"] = offers_figure(result)
    return out


__all__ = [
    "DISCLAIMER",
    "METHODS",
    "NO_OFFERS_HINT",
    "OFFER_KINDS",
    "REFERENCES",
    "SALES_LINKED",
    "CashForecast",
    "CreditOffer",
    "FinancingResult",
    "OfferFlows",
    "WeeklySales",
    "analyze",
    "apr",
    "apr_dated",
    "apr_schedule",
    "backtest_mape",
    "cash_forecast",
    "cash_tornado",
    "compare_offers",
    "figures",
    "lender_metrics",
    "offer_cash_flows",
    "read_payables",
    "sales_futures",
    "slow_season_offset",
    "unit_periods",
    "weekly_payments",
    "weekly_sales",
]
