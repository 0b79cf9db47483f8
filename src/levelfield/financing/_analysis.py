"""``levelfield analyze financing``: offers on one scale, cash forecast, lender metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from levelfield.errors import DataError, InsufficientDataError
from levelfield.financing._cash import (
    WEEKS,
    CashForecast,
    backtest_mape,
    cash_forecast,
    cash_tornado,
)
from levelfield.financing._offers import CreditOffer, offer_cash_flows, weekly_payments
from levelfield.financing._sales import sales_futures, slow_season_offset, weekly_sales
from levelfield.findings import Finding, ProgressCallback, no_progress
from levelfield.workspace import UNSET, Unset, Workspace

__all__ = ["NO_OFFERS_HINT", "FinancingResult", "analyze", "compare_offers", "read_payables"]

#: What to do when no offers are imported.
NO_OFFERS_HINT = (
    "no credit offers imported: write the offers you are weighing into a file with "
    "'levelfield template credit_offers > offers.csv' (one row per offer: term loan, line "
    "of credit, merchant cash advance, revenue-based financing, invoice factoring or "
    "equipment lease) and load it with 'levelfield import credit_offers offers.csv'"
)
DISCLAIMER = (
    "Information, not financial advice: rates follow the actuarial method of U.S. "
    "Regulation Z, Appendix J, on the stated assumptions; check the contract terms."
)
#: Commonly used minimum debt-service coverage ratio in bank lending.
DSCR_THRESHOLD = 1.25
DSCR_SOURCE = (
    "1.25 is the minimum debt-service coverage many U.S. banks ask of small businesses; "
    "the SBA's 7(a) rules (SOP 50 10 7.1) set 1.15 as the floor"
)
CONCENTRATION_THRESHOLD = 0.10
CONCENTRATION_SOURCE = (
    "10 % of revenue from one customer is the threshold at which U.S. GAAP (ASC 280-10-50-42) "
    "requires disclosure of a major customer"
)
_HORIZON_WEEKS = 104


@dataclass(frozen=True)
class FinancingResult:
    """Offers compared by APR, the 13-week cash forecast and lender metrics."""

    offers: pd.DataFrame
    cash: CashForecast
    backtest_mape: float | None
    metrics: pd.DataFrame
    currency: str
    period: tuple[str, str]
    notes: tuple[str, ...] = field(default=())
    costs_known: bool = True
    tornado: pd.DataFrame = field(default_factory=pd.DataFrame)
    forecast_start: str = ""
    assumptions: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        best = self.offers.iloc[0] if len(self.offers) else None
        return {
            "n_offers": len(self.offers),
            "best_offer": None if best is None else str(best["offer_id"]),
            "best_apr": None if best is None else float(best["apr_median"]),
            "cash_low_week": self.cash.cash_low_week if self.costs_known else None,
            "lowest_week": self.cash.lowest_week if self.costs_known else None,
            "backtest_mape": self.backtest_mape,
            "period": list(self.period),
        }

    def to_frame(self) -> pd.DataFrame:
        """The offers, ranked by median APR (the main table)."""
        return self.offers.copy()

    def tables(self) -> Mapping[str, pd.DataFrame]:
        weeks = np.arange(1, WEEKS + 1)
        cash = pd.DataFrame(
            {
                "week": weeks,
                "week_starting": self.week_starts(),
                "receipts_p50": self.cash.receipts_p50,
                "operating_costs": self.cash.operating,
                "cost_of_goods_and_fees": self.cash.variable_p50,
                "debt_service": self.cash.debt_service,
                "payables": self.cash.payables,
                "payments": self.cash.payments,
                "cash_p10": self.cash.cash_p10,
                "cash_p50": self.cash.cash_p50,
                "cash_p90": self.cash.cash_p90,
            }
        )
        return {
            "offers": self.offers,
            "cash_forecast": cash,
            "cash_drivers": self.tornado,
            "lender_metrics": self.metrics,
        }

    def week_starts(self) -> list[str]:
        """The Monday of each forecast week (ISO dates; empty strings when not known)."""
        if not self.forecast_start:
            return [""] * WEEKS
        start = dt.date.fromisoformat(self.forecast_start)
        return [(start + dt.timedelta(days=7 * k)).isoformat() for k in range(WEEKS)]

    def headline(self) -> list[str]:
        lines: list[str] = []
        for rank, row in enumerate(_records(self.offers), start=1):
            band = (
                f" (90 % band over sales futures {row['apr_p05']:.1%}-{row['apr_p95']:.1%}"
                + (
                    f"; {row['apr_slow']:.1%} if taken just before the slowest 13 weeks, "
                    "since a fixed payback repaid more slowly costs less per year"
                    if np.isfinite(row["apr_slow"])
                    else ""
                )
                + ")"
                if row["sales_linked"]
                else ""
            )
            lines.append(
                f"{rank}. {row['offer_id']} ({str(row['kind']).replace('_', ' ')}, "
                f"{row['lender']}): APR "
                f"{row['apr_median']:.1%}{band}; cost {row['finance_charge']:,.0f} {self.currency} "
                f"on {row['amount_financed']:,.0f} received"
                + (
                    "; taken now, cash stays above the buffer for 13 weeks (P10)"
                    if self.costs_known and not np.isfinite(row["cash_low_week_with"])
                    else f"; taken now, P10 cash first falls below the buffer in week "
                    f"{row['cash_low_week_with']:.0f}"
                    if self.costs_known
                    else ""
                )
            )
        c = self.cash
        if not self.costs_known:
            lines.append(
                "13-week cash: receipts only (no costs imported), so the week cash runs "
                "low cannot be told"
            )
        elif c.cash_low_week is None:
            lines.append(
                f"13-week cash: the P10 balance stays above the {c.buffer:,.0f} {self.currency} "
                "buffer in every week"
            )
        else:
            lines.append(
                f"13-week cash: week {c.cash_low_week} (from "
                f"{self.week_starts()[c.cash_low_week - 1]}) is the first in which the P10 "
                f"balance ({c.cash_p10[c.cash_low_week - 1]:,.0f}) falls below the "
                f"{c.buffer:,.0f} {self.currency} buffer; the median balance is lowest in week "
                f"{c.lowest_week} ({c.cash_p50[c.lowest_week - 1]:,.0f})"
            )
        if self.costs_known and len(self.tornado):
            top = self.tornado.iloc[0]
            lines.append(
                f"What moves the cash low most: {top['driver']} ({top['range']}): lowest median "
                f"balance {top['low_case']:,.0f} to {top['high_case']:,.0f} {self.currency}"
            )
        if self.backtest_mape is not None:
            lines.append(
                f"Sales forecast error on the last 13 weeks (MAPE): {self.backtest_mape:.0%}"
            )
        lines.extend(self.notes)
        lines.append(DISCLAIMER)
        return lines

    def findings(self) -> list[Finding]:
        out = _offer_findings(self)
        if self.costs_known:
            out.append(_cash_finding(self))
        for row in _records(self.metrics):
            if row["value"] is None or not np.isfinite(row["value"]):
                continue
            out.append(
                Finding(
                    f"financing.{row['metric']}",
                    float(row["value"]),
                    str(row["unit"]),
                    f"{row['label']}: {row['value']:.2f} against {row['threshold']} "
                    f"({row['status']}).",
                    "good" if row["status"] == "passes" else "watch",
                    {
                        "threshold": row["threshold"],
                        "source": row["source"],
                        "status": row["status"],
                        "label": row["label"],
                    },
                )
            )
        return out


def _offer_findings(res: FinancingResult) -> list[Finding]:
    if not len(res.offers):
        return []
    best = res.offers.iloc[0]
    worst = res.offers.iloc[-1]
    out = [
        Finding(
            "financing.best_offer_apr",
            float(best["apr_median"]),
            "share",
            f"The cheapest offer, {best['offer_id']}, costs an APR of {best['apr_median']:.1%}.",
            "info",
            {"offer_id": str(best["offer_id"]), "kind": str(best["kind"])},
        ),
        Finding(
            "financing.worst_offer_apr",
            float(worst["apr_median"]),
            "share",
            f"The dearest offer, {worst['offer_id']}, costs an APR of "
            f"{worst['apr_median']:.1%} in a typical season"
            + (
                f", {worst['apr_p05']:.1%} to {worst['apr_p95']:.1%} depending on how "
                "fast sales repay it (faster sales, higher APR)."
                if bool(worst["sales_linked"])
                else "."
            )
            + (
                f" The cheapest offer entered, {best['offer_id']} "
                f"({best['apr_median']:.1%}), costs "
                f"{worst['finance_charge'] - best['finance_charge']:,.0f} "
                f"{res.currency} less in total."
                if worst["offer_id"] != best["offer_id"]
                else ""
            ),
            "warning" if float(worst["apr_median"]) > 0.36 else "watch",
            {
                "offer_id": str(worst["offer_id"]),
                "kind": str(worst["kind"]),
                "apr_p95": float(worst["apr_p95"]),
                "saving_vs_best": float(worst["finance_charge"] - best["finance_charge"]),
                # For the playbook's estimator: the money the cheapest offer saves.
                "amount": float(worst["finance_charge"] - best["finance_charge"]),
                "best_offer_id": str(best["offer_id"]),
                "best_apr": float(best["apr_median"]),
            },
        ),
    ]
    linked = res.offers[res.offers["sales_linked"].astype(bool)]
    fixed = res.offers[~res.offers["sales_linked"].astype(bool)]
    if len(linked) and len(fixed):
        out.append(_sales_linked_finding(res, linked.iloc[-1], fixed.iloc[0]))
    return out


def _sales_linked_finding(res: FinancingResult, adv: pd.Series, alt: pd.Series) -> Finding:
    """The dearest sales-linked offer against the cheapest offer on a fixed schedule."""
    slow = float(adv["apr_slow"]) if np.isfinite(adv["apr_slow"]) else float(adv["apr_p05"])
    saving = float(adv["finance_charge"] - alt["finance_charge"])
    kind = str(alt["kind"]).replace("_", " ")
    text = (
        f"The {str(adv['kind']).replace('_', ' ')} {adv['offer_id']} costs an APR of "
        f"{adv['apr_median']:.1%} in a typical season ({adv['apr_p05']:.1%} to "
        f"{adv['apr_p95']:.1%} over the simulated futures; {slow:.1%} if taken before the "
        f"slowest 13 weeks). The {kind} {alt['offer_id']} at {alt['apr_median']:.1%} costs "
        f"{saving:,.0f} {res.currency} " + ("less" if saving >= 0 else "more") + " in total."
    )
    return Finding(
        "financing.sales_linked_apr",
        float(adv["apr_median"]),
        "share",
        text,
        "warning" if float(adv["apr_median"]) > 0.36 else "watch",
        {
            "offer_id": str(adv["offer_id"]),
            "apr_p05": float(adv["apr_p05"]),
            "apr_p95": float(adv["apr_p95"]),
            "apr_slow": slow,
            "alt_offer_id": str(alt["offer_id"]),
            "alt_kind": kind,
            "alt_apr": float(alt["apr_median"]),
            "saving": saving,
            "amount": max(saving, 0.0),
            "finance_charge": float(adv["finance_charge"]),
            "weeks_to_repay": float(adv["weeks_to_repay"]),
        },
    )


def _cash_finding(res: FinancingResult) -> Finding:
    c = res.cash
    week = c.cash_low_week
    top = res.tornado.iloc[0] if len(res.tornado) else None
    starts = res.week_starts()
    return Finding(
        "financing.cash_low_week",
        float(week or 0),
        "weeks",
        "No week of the next 13 is likely to fall below the cash buffer."
        if week is None
        else f"Cash may fall below the {c.buffer:,.0f} {res.currency} buffer in week {week} "
        f"(from {starts[week - 1]}; P10 balance {c.cash_p10[week - 1]:,.0f}).",
        "good" if week is None else "warning",
        {
            "buffer": c.buffer,
            "beyond_horizon": week is None,
            "week_starting": "" if week is None else starts[week - 1],
            "p10_at_week": float(c.cash_p10[(week or c.lowest_week) - 1]),
            "shortfall": 0.0 if week is None else float(c.buffer - c.cash_p10[week - 1]),
            "lowest_week": c.lowest_week,
            "lowest_p50": float(c.cash_p50[c.lowest_week - 1]),
            "driver": "" if top is None else str(top["driver"]),
            "assumptions": "; ".join(res.assumptions),
            "amount": 0.0,
        },
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def _read_offers(ws: Workspace) -> list[CreditOffer]:
    cur = ws.con.execute("SELECT * FROM credit_offers ORDER BY offer_id")
    names = [d[0] for d in cur.description]
    return [CreditOffer.from_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def compare_offers(
    offers: list[CreditOffer],
    history: np.ndarray[Any, np.dtype[np.float64]],
    *,
    n_futures: int = 2_000,
    seed: int | None = 0,
) -> pd.DataFrame:
    """One row per offer with its APR (median, 90 % band, slow season) and cost, ranked."""
    futures = sales_futures(history, _HORIZON_WEEKS, n_futures, seed=seed)
    slow_at = slow_season_offset(history)
    slow = (
        None
        if slow_at is None
        else sales_futures(history, _HORIZON_WEEKS, n_futures, seed=seed, start_offset=slow_at)
    )
    rows = []
    for offer in offers:
        flows = offer_cash_flows(offer, futures)
        rates = flows.apr()
        slow_apr = float("nan")
        if offer.sales_linked and slow is not None:
            slow_apr = float(np.nanmedian(offer_cash_flows(offer, slow).apr()))
        rows.append(
            {
                "offer_id": offer.offer_id,
                "lender": offer.lender,
                "kind": offer.kind,
                "sales_linked": offer.sales_linked,
                "amount_financed": flows.amount_financed,
                "apr_median": float(np.nanmedian(rates)),
                "apr_p05": float(np.nanpercentile(rates, 5)),
                "apr_p95": float(np.nanpercentile(rates, 95)),
                "apr_slow": slow_apr,
                "finance_charge": float(np.median(flows.finance_charge())),
                "weeks_to_repay": float(np.median(flows.weeks_to_repay())),
                "unpaid_at_horizon": flows.unpaid_at_horizon,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "offer_id",
            "lender",
            "kind",
            "sales_linked",
            "amount_financed",
            "apr_median",
            "apr_p05",
            "apr_p95",
            "apr_slow",
            "finance_charge",
            "weeks_to_repay",
            "unpaid_at_horizon",
        ],
    )
    return frame.sort_values("apr_median", kind="stable").reset_index(drop=True)


def _monthly_costs(ws: Workspace) -> float | None:
    """Average monthly costs over the last three months of the ``costs`` table."""
    rows = ws.con.execute(
        "SELECT month, sum(CAST(amount AS DOUBLE)) FROM costs GROUP BY 1 ORDER BY 1 DESC LIMIT 3"
    ).fetchall()
    return float(np.mean([r[1] for r in rows])) if rows else None


def _top_customer_share(ws: Workspace) -> float | None:
    rows = ws.con.execute(
        """SELECT max(v) / nullif(sum(v), 0) FROM (
               SELECT sum(CAST(net_revenue_base AS DOUBLE)) AS v FROM order_revenue
               WHERE customer_id IS NOT NULL AND ordered_at >= (
                   SELECT max(ordered_at) - INTERVAL 365 DAY FROM order_revenue)
               GROUP BY customer_id)"""
    ).fetchall()
    return None if rows[0][0] is None else float(rows[0][0])


def _metric(
    metric: str,
    label: str,
    value: float | None,
    unit: str,
    threshold: str,
    passes: bool | None,
    source: str,
) -> dict[str, Any]:
    status = "not known" if passes is None else ("passes" if passes else "fails")
    return {
        "metric": metric,
        "label": label,
        "value": value,
        "unit": unit,
        "threshold": threshold,
        "status": status,
        "source": source,
    }


def lender_metrics(
    ws: Workspace,
    sales: np.ndarray[Any, np.dtype[np.float64]],
    offer_annual_payments: float,
    variable_share: float = 0.0,
) -> pd.DataFrame:
    """Debt-service coverage, revenue trend and volatility, concentration, runway.

    Net operating income is a year of sales less the cost of goods and fees
    (``variable_share`` of sales) and twelve months of recorded costs. Debt-service
    coverage is shown twice: over the last year with the existing debt only
    (``dscr_historical``, undefined without debt), and pro forma with the cheapest
    offer's first-year payments added (``dscr_with_offer``), as a lender sizes a loan.
    """
    year = sales[-52:]
    annual_sales = float(year.sum()) * 52.0 / year.size
    monthly_costs = _monthly_costs(ws)
    debt = float(ws.get_business("debt", 0.0) or 0.0)
    rate = float(ws.get_business("interest_rate", 0.0) or 0.0)
    rows = []
    if monthly_costs is not None:
        noi = annual_sales * (1.0 - variable_share) - 12.0 * monthly_costs
        # interest only when no schedule is known
        rows += _coverage_rows(noi, debt * rate, offer_annual_payments)
        rows += _margin_rows(noi, annual_sales, monthly_costs, ws.get_business("opening_cash"))
    rows += _revenue_rows(sales)
    top = _top_customer_share(ws)
    rows.append(
        _metric(
            "top_customer_share",
            "Largest customer's share of revenue",
            top,
            "share",
            f"< {CONCENTRATION_THRESHOLD:.0%}",
            None if top is None else top < CONCENTRATION_THRESHOLD,
            CONCENTRATION_SOURCE,
        )
    )
    return pd.DataFrame(rows)


def _coverage_rows(
    noi: float, existing_service: float, offer_annual_payments: float
) -> list[dict[str, Any]]:
    """Debt-service coverage rows: over the last year with the existing debt (undefined
    without debt service) and pro forma with the offer's first-year payments added."""
    historical = noi / existing_service if existing_service > 0 else None
    service = existing_service + offer_annual_payments
    dscr = noi / service if service > 0 else None
    return [
        _metric(
            "dscr_historical",
            "Debt-service coverage over the last year (existing debt, interest only)"
            if existing_service > 0
            else "Debt-service coverage over the last year: no debt service recorded "
            "(set 'debt' and 'interest_rate' in the business profile if you have debt)",
            historical,
            "ratio",
            f">= {DSCR_THRESHOLD}",
            None if historical is None else historical >= DSCR_THRESHOLD,
            DSCR_SOURCE,
        ),
        _metric(
            "dscr_with_offer",
            "Debt-service coverage with the cheapest offer",
            dscr,
            "ratio",
            f">= {DSCR_THRESHOLD}",
            None if dscr is None else dscr >= DSCR_THRESHOLD,
            DSCR_SOURCE,
        ),
    ]


def _margin_rows(
    noi: float, annual_sales: float, monthly_costs: float, cash: Any
) -> list[dict[str, Any]]:
    """Operating margin and cash runway (months of recorded costs the cash covers)."""
    margin = noi / annual_sales if annual_sales > 0 else None
    runway = None if cash is None or monthly_costs <= 0 else float(cash) / monthly_costs
    return [
        _metric(
            "operating_margin",
            "Operating margin (sales less cost of goods, fees and recorded costs)",
            margin,
            "share",
            "> 0",
            None if margin is None else margin > 0,
            "a lender first asks whether the business covers its costs",
        ),
        _metric(
            "runway_months",
            "Months of costs the cash on hand covers",
            runway,
            "months",
            ">= 3",
            None if runway is None else runway >= 3.0,
            "three months of operating expenses is the usual small-business cash reserve",
        ),
    ]


def _revenue_rows(sales: np.ndarray[Any, np.dtype[np.float64]]) -> list[dict[str, Any]]:
    """Revenue trend (year on year, needs 104 weeks) and month-to-month volatility
    (coefficient of variation of 4-week sums over the last 52 weeks)."""
    # Year on year only: over a shorter span the trend and the season cannot be told apart.
    growth = (
        float(sales[-52:].sum() / max(float(sales[-104:-52].sum()), 1e-9) - 1.0)
        if sales.size >= 104
        else None
    )
    year = sales[-52:]
    monthly = np.add.reduceat(year, np.arange(0, year.size, 4))
    cv = float(np.std(monthly) / max(float(np.mean(monthly)), 1e-9))
    return [
        _metric(
            "revenue_trend",
            "Revenue change on the year before",
            growth,
            "share",
            ">= 0",
            None if growth is None else growth >= 0,
            "lenders look for stable or growing revenue (needs two years of sales)",
        ),
        _metric(
            "revenue_volatility",
            "Month-to-month revenue variation (coefficient of variation)",
            cv,
            "ratio",
            "<= 0.25",
            cv <= 0.25,
            "revenue that swings more than about a quarter month to month is read as risky",
        ),
    ]


def _variable_share(ws: Workspace) -> tuple[float, str]:
    """Cost of goods (products' unit costs) plus recorded fees, as a share of last year's sales."""
    row = ws.con.execute(
        """WITH o AS (SELECT * FROM order_revenue WHERE NOT is_refund AND ordered_at >= (
                      SELECT max(ordered_at) - INTERVAL 365 DAY FROM order_revenue))
           SELECT (SELECT sum(cost_base) / nullif(sum(line_value_base), 0)
                   FROM order_line_costs WHERE NOT is_refund AND cost_base IS NOT NULL
                   AND ordered_at >= (SELECT max(ordered_at) - INTERVAL 365 DAY
                                      FROM order_revenue)),
                  (SELECT sum(CAST(coalesce(fees, 0) * fx_rate AS DOUBLE))
                          / nullif(sum(CAST(net_revenue_base AS DOUBLE)), 0) FROM o)"""
    ).fetchall()[0]
    cogs = float(row[0]) if row[0] is not None and np.isfinite(row[0]) else 0.0
    fees = float(row[1]) if row[1] is not None and np.isfinite(row[1]) else 0.0
    share = float(np.clip(cogs + fees, 0.0, 0.95))
    return share, (
        f"cost of goods {cogs:.1%} of sales (products' unit costs) and recorded fees "
        f"{fees:.1%}, paid the week of the sale"
        if share > 0
        else "no product unit costs or fees recorded: cost of goods is left out (import "
        "products with unit_cost)"
    )


def read_payables(ws: Workspace, start: dt.date) -> tuple[np.ndarray[Any, Any], list[str]]:
    """One-off amounts due per forecast week from the profile's ``payables``.

    ``payables`` is a list of ``{"due": "YYYY-MM-DD", "amount": n, "what": "..."}`` in
    the business currency; week 1 starts on ``start``. Returns the weekly amounts (13,)
    and a note per payable counted.
    """
    raw = ws.get_business("payables", [])
    if not isinstance(raw, list):
        raise DataError(
            "business profile 'payables' must be a JSON list of "
            '{"due": "YYYY-MM-DD", "amount": number, "what": text}'
        )
    out = np.zeros(WEEKS)
    notes: list[str] = []
    for i, item in enumerate(raw, start=1):
        try:
            due = dt.date.fromisoformat(str(item["due"]))
            amount = float(item["amount"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"business profile 'payables' entry {i} ({item!r}) needs a 'due' date "
                "(YYYY-MM-DD) and a numeric 'amount'"
            ) from exc
        if not (np.isfinite(amount) and amount >= 0):
            raise DataError(f"business profile 'payables' entry {i}: amount must be >= 0")
        week = (due - start).days // 7 + 1
        if 1 <= week <= WEEKS:
            out[week - 1] += amount
            what = str(item.get("what") or "payable")
            notes.append(f"{what}: {amount:,.0f} due {due.isoformat()} (week {week})")
    return out, notes


def _cash_with_offers(
    table: pd.DataFrame, offers: list[CreditOffer], cash: CashForecast
) -> pd.DataFrame:
    """Add each offer's first week below the buffer if it is taken now."""
    by_id = {o.offer_id: o for o in offers}
    weeks: list[float] = []
    for offer_id in table["offer_id"]:
        offer = by_id[str(offer_id)]
        pay = weekly_payments(offer, cash.receipts_paths)
        _, week = cash.with_credit(offer.amount_financed, pay)
        weeks.append(float("nan") if week is None else float(week))
    out = table.copy()
    out["cash_low_week_with"] = weeks
    return out


def _forecast(
    ws: Workspace, sales: np.ndarray[Any, Any], start: dt.date, params: Mapping[str, Any]
) -> tuple[CashForecast, float | None, list[str], list[str]]:
    """The cash forecast and the notes and assumptions behind it."""
    notes: list[str] = []
    monthly_costs = _monthly_costs(ws)
    if monthly_costs is None:
        notes.append(
            "no costs imported ('levelfield import costs costs.csv'): the cash forecast "
            "counts receipts only and the debt-service coverage cannot be computed"
        )
    opening = ws.get_business("opening_cash")
    if opening is None:
        notes.append("no opening_cash in the business profile: the cash forecast starts at 0")
    share, share_note = _variable_share(ws)
    payables, payable_notes = read_payables(ws, start)
    debt = float(ws.get_business("debt", 0.0) or 0.0)
    rate = float(ws.get_business("interest_rate", 0.0) or 0.0)
    assumptions = [
        f"opening cash {float(opening or 0.0):,.0f} at the start of week 1 ({start.isoformat()})",
        f"operating costs {monthly_costs or 0.0:,.0f} a month (average of the last 3 months "
        "of the costs table), paid evenly over the weeks",
        share_note,
        f"existing debt {debt:,.0f} at {rate:.1%}: interest only, {debt * rate / 52:,.0f} a week"
        if debt > 0
        else "no existing debt in the business profile",
        *(payable_notes or ["no payables due in the 13 weeks (business profile 'payables')"]),
        "no new credit taken (each offer's effect is shown with the offers)",
    ]
    cash = cash_forecast(
        sales,
        (monthly_costs or 0.0) * 12.0 / 52.0,
        float(opening or 0.0),
        variable_share=share,
        debt_service=np.full(WEEKS, debt * rate / 52.0),
        payables=payables,
        buffer=params.get("buffer"),
        n_futures=int(params.get("n_futures", 2_000)),
        seed=params.get("seed", 0),
    )
    return cash, monthly_costs, notes, assumptions


def analyze(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    n_futures: int | Unset = UNSET,
    seed: int | Unset = UNSET,
    buffer: float | Unset | None = UNSET,
) -> FinancingResult:
    """Compare the imported credit offers, forecast 13 weeks of cash, score lender metrics.

    Parameters
    ----------
    ws
        Workspace with at least 8 weeks of orders; ``credit_offers``, ``costs``,
        ``products`` (unit costs) and the profile's ``opening_cash``, ``debt``,
        ``interest_rate`` and ``payables`` are optional (without offers the result says
        what to import).
    n_futures, seed, buffer
        Simulated sales paths (default 2,000), their seed (0) and the lowest comfortable
        cash (default two weeks of regular payments). Left out, each is read from the
        settings (``financing.n_futures``, ...); given, it overrides the setting for
        this run.
    """
    params, used = ws.settings.resolve(
        "financing", {"n_futures": n_futures, "seed": seed, "buffer": buffer}
    )
    return _run(ws, progress, used, params)


def _run(
    ws: Workspace,
    progress: ProgressCallback,
    settings: Mapping[str, Any],
    params: Mapping[str, Any],
) -> FinancingResult:
    started = dt.datetime.now(dt.UTC)
    n_futures = int(params["n_futures"])
    seed = int(params["seed"])
    if n_futures < 100:
        raise InsufficientDataError("n_futures must be at least 100 for stable APR bands")
    progress("reading weekly sales", 0.05)
    hist = weekly_sales(ws)
    start = hist.last_week + dt.timedelta(days=7)
    offers = _read_offers(ws)
    progress("pricing offers", 0.3)
    table = compare_offers(offers, hist.sales, n_futures=n_futures, seed=seed)
    notes = [] if offers else [NO_OFFERS_HINT[0].upper() + NO_OFFERS_HINT[1:]]
    progress("forecasting cash", 0.6)
    cash, monthly_costs, cash_notes, assumptions = _forecast(ws, hist.sales, start, params)
    notes.extend(cash_notes)
    table = _cash_with_offers(table, offers, cash)
    mape = backtest_mape(hist.sales, seed=seed)
    best_annual = 0.0
    if len(table):
        best = next(o for o in offers if o.offer_id == table.iloc[0]["offer_id"])
        flows = offer_cash_flows(best, sales_futures(hist.sales, 52, 200, seed=seed))
        in_year = flows.times * 52.0 / flows.periods_per_year <= 52.0
        best_annual = float(np.median(flows.payments[:, in_year].sum(axis=-1)))
    metrics = lender_metrics(ws, hist.sales, best_annual, cash.variable_share)
    result = FinancingResult(
        table,
        cash,
        mape,
        metrics,
        ws.currency(),
        (hist.weeks[0].isoformat(), (hist.last_week + dt.timedelta(days=6)).isoformat()),
        tuple(notes),
        costs_known=monthly_costs is not None,
        tornado=cash_tornado(cash, debt=float(ws.get_business("debt", 0.0) or 0.0)),
        forecast_start=start.isoformat(),
        assumptions=tuple(assumptions),
    )
    ws.record_run(
        "financing",
        {"n_futures": n_futures, "seed": seed, "buffer": params["buffer"]},
        result.summary(),
        started,
        settings=settings,
    )
    progress("done", 1.0)
    return result
