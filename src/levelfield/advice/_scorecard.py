"""Balanced scorecard: financial, customer, internal process, learning and growth.

Each perspective is filled from measured metrics (SQL on the workspace and the
analyses' findings) and user-entered ones (the ``business`` profile), with a yearly
trend where the history allows it. A metric that is not available says how to fill it.

References
----------
Kaplan, R. S. & Norton, D. P. (1992). The balanced scorecard — measures that drive
performance. *Harvard Business Review*, 70(1), 71–79.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from levelfield.findings import Finding
from levelfield.workspace import Workspace

__all__ = ["PERSPECTIVES", "ScorecardMetric", "balanced_scorecard"]

PERSPECTIVES = ("financial", "customer", "internal process", "learning and growth")
Status = Literal["good", "watch", "poor", "missing"]


@dataclass(frozen=True)
class ScorecardMetric:
    """One scorecard line: value, what good looks like, and where the number came from."""

    perspective: str
    name: str
    value: float | None
    unit: str
    higher_is_better: bool
    good: float
    poor: float
    reference: str
    source: str
    trend: tuple[tuple[int, float], ...] = field(default=())

    @property
    def status(self) -> Status:
        if self.value is None:
            return "missing"
        v = self.value
        if self.higher_is_better:
            return "good" if v >= self.good else "poor" if v <= self.poor else "watch"
        return "good" if v <= self.good else "poor" if v >= self.poor else "watch"

    def formatted(self) -> str:
        if self.value is None:
            return "not measured"
        if self.unit == "share":
            return f"{self.value:.0%}"
        if self.unit == "currency":
            return f"{self.value:,.0f}"
        return f"{self.value:,.1f}" if abs(self.value) < 100 else f"{self.value:,.0f}"


def _yearly(ws: Workspace, sql: str) -> tuple[tuple[int, float], ...]:
    rows = ws.con.execute(sql).fetchall()
    return tuple((int(y), float(v)) for y, v in rows if v is not None)


#: Days of orders below which the repeat-customer share is not judged.
MIN_REPEAT_DAYS = 90


def _history_days(ws: Workspace) -> float | None:
    """Days between the first and the last order (``None`` without orders)."""
    rows = ws.con.execute(
        "SELECT date_diff('second', min(ordered_at), max(ordered_at)) / 86400.0 FROM order_revenue"
    ).fetchall()
    return float(rows[0][0]) if rows and rows[0][0] is not None else None


def _growth_12m(ws: Workspace) -> float | None:
    """Net revenue of the last 12 months against the 12 before, up to the newest order.

    ``None`` with less than two full years of orders: comparing calendar years would
    set a partial first year against a full one (UCI Online Retail: December 2010 alone
    against 2011 reads as +1,100 %).
    """
    rows = ws.con.execute(
        """WITH b AS (SELECT max(ordered_at) AS last, min(ordered_at) AS first
                      FROM order_revenue)
           SELECT (SELECT first FROM b) <= (SELECT last FROM b) - INTERVAL 24 MONTH,
                  sum(net_revenue_base) FILTER (
                      WHERE ordered_at > (SELECT last FROM b) - INTERVAL 12 MONTH)::DOUBLE,
                  sum(net_revenue_base) FILTER (
                      WHERE ordered_at <= (SELECT last FROM b) - INTERVAL 12 MONTH
                        AND ordered_at > (SELECT last FROM b) - INTERVAL 24 MONTH)::DOUBLE
           FROM order_revenue"""
    ).fetchall()
    two_years, last, before = rows[0] if rows else (None, None, None)
    if not two_years or last is None or not before or before <= 0:
        return None
    return float(last) / float(before) - 1.0


def _finding(findings: Mapping[str, Sequence[Finding]], metric: str) -> float | None:
    """The metric's value; ``None`` when absent or not a number (NaN: n/a)."""
    fs = findings.get(metric)
    value = float(fs[0].value) if fs else math.nan
    return value if math.isfinite(value) else None


def balanced_scorecard(
    ws: Workspace,
    findings: Mapping[str, Sequence[Finding]],
    *,
    gross_margin: float | None,
    automation_hours: float | None,
) -> list[ScorecardMetric]:
    """Build the scorecard lines (thresholds and their reasons are in ``reference``).

    A line without its value says in ``source`` what would fill it.
    """
    return [_say_how_to_fill(m) for m in _lines(ws, findings, gross_margin, automation_hours)]


#: What fills a line whose measurement is missing (by line name).
_FILL = {
    "Fees taken by platforms and payments": "import orders with their fees or set each "
    "channel's fee profile, and product unit costs, then run levelfield analyze exposure",
    "Chance of a loss year": "run levelfield analyze scenarios (needs 3 months of orders)",
    "Distinctiveness percentile": "import competitor profiles (levelfield template "
    "competitors, then levelfield import competitors FILE)",
    "Supplier spend concentration (HHI)": "import suppliers (levelfield template "
    "suppliers, then levelfield import suppliers FILE)",
    "Largest country share of cost of goods": "import suppliers with their countries and "
    "products linked to them (levelfield import suppliers FILE, levelfield import products FILE)",
    "Revenue whose customers you can reach directly": "run levelfield analyze exposure",
    "Repeat customers": "import orders with customer ids",
    "Refunds": "import orders",
}


def _say_how_to_fill(m: ScorecardMetric) -> ScorecardMetric:
    if m.value is not None or m.source.startswith("missing"):
        return m
    return replace(m, source=f"missing: {_FILL.get(m.name, 'import the data it needs')}")


_Trend = tuple[tuple[int, float], ...]


def _financial_lines(
    findings: Mapping[str, Sequence[Finding]],
    growth: float | None,
    margin: float | None,
    revenue_trend: _Trend,
    margin_trend: _Trend,
) -> list[ScorecardMetric]:
    """Financial perspective: revenue growth, gross margin, fees, chance of a loss year."""
    m = margin
    return [
        ScorecardMetric(
            "financial",
            "Revenue growth, last 12 months",
            growth,
            "share",
            True,
            0.05,
            -0.05,
            "last 12 months against the 12 before: above 5 % good, below -5 % poor "
            "(inflation-level growth is standing still)",
            "measured: orders"
            if growth is not None
            else "missing: needs two full years of orders to compare",
            revenue_trend,
        ),
        ScorecardMetric(
            "financial",
            "Gross margin",
            m,
            "share",
            True,
            0.45,
            0.30,
            "above 45 % good, below 30 % poor (a small-retail yardstick; businesses "
            "that sell services run higher)",
            "measured: order lines x product unit costs"
            if m is not None
            else "missing: import products with unit_cost",
            margin_trend,
        ),
        ScorecardMetric(
            "financial",
            "Fees taken by platforms and payments",
            _finding(findings, "exposure.fee_drag"),
            "share",
            False,
            0.05,
            0.12,
            "below 5 % of revenue good (card processing alone is ~3 %), above 12 % poor",
            "measured: exposure analysis",
        ),
        ScorecardMetric(
            "financial",
            "Chance of a loss year",
            _finding(findings, "scenarios.p_loss_year"),
            "share",
            False,
            0.05,
            0.25,
            "below 5 % good, above 25 % poor",
            "measured: scenario simulation",
        ),
    ]


def _customer_lines(
    findings: Mapping[str, Sequence[Finding]],
    repeat: float | None,
    days: float | None,
    repeat_trend: _Trend,
) -> list[ScorecardMetric]:
    """Customer perspective: repeat customers (not judged on a short history), NPS,
    distinctiveness (landscape's percentile shown as a share like the rest)."""
    # A few weeks of orders cannot show who comes back (most repeat cycles are longer).
    short = days is not None and days < MIN_REPEAT_DAYS
    if short:
        repeat = None
    percentile = _finding(findings, "landscape.distinctiveness_percentile")
    distinct = None if percentile is None else percentile / 100.0
    return [
        ScorecardMetric(
            "customer",
            "Repeat customers",
            repeat,
            "share",
            True,
            0.35,
            0.20,
            "above 35 % of customers buying again good, below 20 % poor (e-commerce norms)",
            f"missing: the orders cover {days:.0f} days; repeat buying needs at least "
            f"{MIN_REPEAT_DAYS} days of history to judge"
            if short and days is not None
            else "measured: orders",
            repeat_trend,
        ),
        ScorecardMetric(
            "customer",
            "Net Promoter Score",
            _finding(findings, "customers.nps"),
            "index",
            True,
            30.0,
            0.0,
            "above 30 good, below 0 poor (more detractors than promoters)",
            "measured: survey answers"
            if _finding(findings, "customers.nps") is not None
            else "missing: import NPS survey answers (levelfield template surveys)",
        ),
        ScorecardMetric(
            "customer",
            "Distinctiveness percentile",
            distinct,
            "share",
            True,
            0.6,
            0.3,
            "above the 60th percentile of the market good, below the 30th poor",
            "measured: landscape analysis",
        ),
    ]


def _process_lines(
    findings: Mapping[str, Sequence[Finding]], refund_trend: _Trend
) -> list[ScorecardMetric]:
    """Internal-process perspective: refunds, supplier concentration, country share."""
    return [
        ScorecardMetric(
            "internal process",
            "Refunds",
            refund_trend[-1][1] if refund_trend else None,
            "share",
            False,
            0.02,
            0.06,
            "below 2 % of sales good, above 6 % poor",
            "measured: orders",
            refund_trend,
        ),
        ScorecardMetric(
            "internal process",
            "Supplier spend concentration (HHI)",
            _finding(findings, "exposure.supplier_hhi"),
            "index",
            False,
            1000.0,
            1800.0,
            "2023 US Merger Guidelines bands: below 1,000 unconcentrated, above 1,800 highly",
            "measured: exposure analysis",
        ),
        ScorecardMetric(
            "internal process",
            "Largest country share of cost of goods",
            _finding(findings, "exposure.country_cogs_share_max"),
            "share",
            False,
            0.35,
            0.6,
            "below 35 % good, above 60 % poor (one origin carries the range)",
            "measured: exposure analysis",
        ),
    ]


def _learning_lines(
    ws: Workspace, findings: Mapping[str, Sequence[Finding]], automation_hours: float | None
) -> list[ScorecardMetric]:
    """Learning-and-growth perspective: capabilities, staff satisfaction, revenue whose
    customers can be reached directly, hours automation could free."""
    caps = ws.get_business("capabilities")
    n_caps = float(len(caps)) if isinstance(caps, list) else None
    satisfaction = ws.get_business("employee_satisfaction")
    sat = float(satisfaction) if isinstance(satisfaction, int | float) else None
    owned = _finding(findings, "exposure.data_ownership_share")
    return [
        ScorecardMetric(
            "learning and growth",
            "Digital capabilities in place",
            n_caps,
            "count",
            True,
            6.0,
            3.0,
            "of the 10 on the checklist; 6 or more good, 3 or fewer poor",
            "user-entered: business profile 'capabilities'"
            if n_caps is not None
            else "missing: add 'capabilities' to the business profile",
        ),
        ScorecardMetric(
            "learning and growth",
            "Employee satisfaction (0-10)",
            sat,
            "index",
            True,
            7.5,
            5.0,
            "7.5 or more good, 5 or less poor",
            "user-entered: business profile"
            if sat is not None
            else "missing: add 'employee_satisfaction' to the business profile",
        ),
        ScorecardMetric(
            "learning and growth",
            "Revenue whose customers you can reach directly",
            owned,
            "share",
            True,
            0.7,
            0.4,
            "70 % or more good, 40 % or less poor (informational asymmetry)",
            "measured: exposure analysis",
        ),
        ScorecardMetric(
            "learning and growth",
            "Staff hours automation could free each week",
            automation_hours,
            "count",
            False,
            2.0,
            10.0,
            "under 2 h/week of routine work left to automate good, over 10 h poor",
            "measured: automation questionnaire"
            if automation_hours is not None
            else "missing: fill the automation questionnaire (levelfield template automation)",
        ),
    ]


def _lines(
    ws: Workspace,
    findings: Mapping[str, Sequence[Finding]],
    gross_margin: float | None,
    automation_hours: float | None,
) -> list[ScorecardMetric]:
    revenue_trend = _yearly(
        ws,
        "SELECT year(ordered_at) y, sum(net_revenue_base)::DOUBLE FROM order_revenue "
        "GROUP BY y ORDER BY y",
    )
    growth = _growth_12m(ws)
    margin_trend = _yearly(
        ws,
        """SELECT year(ordered_at) y,
                  1 - sum(cost_base)
                      / nullif(sum(CAST(line_value_base AS DECIMAL(18,4))), 0)::DOUBLE
           FROM order_line_costs WHERE cost_base IS NOT NULL GROUP BY y ORDER BY y""",
    )
    repeat_trend = _yearly(
        ws,
        """SELECT y, avg((n > 1)::INT)::DOUBLE FROM (
               SELECT year(ordered_at) y, customer_id, count(*) n FROM order_revenue
               WHERE customer_id IS NOT NULL AND NOT is_refund GROUP BY y, customer_id)
           GROUP BY y ORDER BY y""",
    )
    refund_trend = _yearly(
        ws,
        """SELECT year(ordered_at) y,
                  (sum(CAST(refunded * fx_rate AS DECIMAL(18,4)))
                   + sum(CASE WHEN is_refund THEN -net_revenue_base ELSE 0 END))::DOUBLE
                  / nullif(sum(CASE WHEN is_refund THEN 0
                                    ELSE CAST((gross - discount) * fx_rate AS DECIMAL(18,4))
                                    END), 0)::DOUBLE
           FROM order_revenue GROUP BY y ORDER BY y""",
    )
    repeat = _finding(findings, "customers.repeat_rate")
    if repeat is None and repeat_trend:
        repeat = repeat_trend[-1][1]
    m = (
        gross_margin
        if gross_margin is not None
        else (margin_trend[-1][1] if margin_trend else None)
    )
    return [
        *_financial_lines(findings, growth, m, revenue_trend, margin_trend),
        *_customer_lines(findings, repeat, _history_days(ws), repeat_trend),
        *_process_lines(findings, refund_trend),
        *_learning_lines(ws, findings, automation_hours),
    ]
