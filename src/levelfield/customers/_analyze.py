"""``analyze(ws)``: the customer value analysis of a workspace, and its result."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from levelfield.customers._bgbb import BetaGeoBetaBinomModel
from levelfield.customers._covariate_effects import (
    MIN_CUSTOMERS,
    MIN_REPEAT,
    CovariateEffects,
    CovariatePredictions,
    fit_covariate_effects,
)
from levelfield.customers._family import FamilyChoice, choose_family, fit_weekly_bgbb
from levelfield.customers._kernels import median_time_to_next_purchase
from levelfield.customers._models import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from levelfield.customers._quality import FitQuality, assess_fit
from levelfield.customers._subscriber_base import SubscriberBaseResult
from levelfield.customers._subscriptions import SubscriptionsResult, subscription_retention
from levelfield.customers._summary import (
    CustomerSummary,
    summarize_workspace,
    workspace_purchases_sql,
)
from levelfield.customers._uncertainty import (
    INTERVAL_METHOD,
    probability_interval,
    value_interval,
)
from levelfield.customers._validation import (
    MODEL_LABELS,
    Cohorts,
    HoldoutValidation,
    ModelChoice,
    choose_by_holdout,
    holdout_validation,
    monthly_cohorts,
    repeat_purchases_by_date,
)
from levelfield.customers._value import (
    DAYS_PER_MONTH,
    NPS,
    RFM_SEGMENTS,
    cluster_segments,
    customer_lifetime_value,
    model_monthly_retention,
    net_promoter_score,
    rfm_segments,
)
from levelfield.errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    InsufficientDataError,
    ModelError,
    SmallSampleWarning,
)
from levelfield.findings import Finding, ProgressCallback, no_progress
from levelfield.findings import json_float as _f
from levelfield.workspace import UNSET, Unset, Workspace

__all__ = ["METHODS", "REFERENCES", "CustomersResult", "analyze", "product_cost_margin"]

Array = NDArray[np.float64]

METHODS = (
    "Customer value. Orders are netted of discounts and refunds (refund rows are charged "
    "to the order they refund, or to the customer's latest earlier order) and summarized "
    "per customer in DuckDB as repeat purchase days (frequency), time of last purchase "
    "(recency) and age (T), exactly as Fader and Hardie define them; guest orders and "
    "customers whose every order was refunded are left out. Repeat buying and drop-out "
    "are modelled with the BG/NBD model (Fader, Hardie & Lee 2005) or the Pareto/NBD "
    "model (Schmittlein, Morrison & Colombo 1987), fitted by maximum likelihood with "
    "analytic gradients; spend per purchase with the Gamma-Gamma model. Where the data "
    "span allows, both models are fitted on a calibration period and the one with the "
    "lower per-customer root mean squared error on the holdout period is used (both "
    "errors are reported). Drop-out counts as measured only when a likelihood-ratio test "
    "rejects the same model without drop-out (the NBD; chi-square 2 df, 5 %, conservative "
    "for a boundary null, Self & Liang 1987) and the fit lets at least 1 % of new "
    "customers stop over the observed history; otherwise the figures that rest on it "
    "(retention, P(alive), value at risk) are left out instead of stated as 100 % or 0. "
    "A singular information matrix or standard errors larger than the estimates are "
    "reported as a weak fit. Customer lifetime value "
    "is the margin on the expected purchases over the horizon, discounted monthly; the "
    "horizon is at most twice the observed history. Per-customer 90 % intervals for "
    "P(alive) and value come from parameter uncertainty by the delta method (logit and "
    "log scales, covariance from the inverse observed information). The next purchase "
    "date is the median waiting time of a customer who is still active (Lomax posterior "
    "predictive). Monthly retention is model-based: the expected share of customers alive "
    "today who are still alive a month later. Named "
    "segments come from RFM quintile scores; data-driven segments from k-means on "
    "standardized log recency, frequency, value, CLV and product mix, with the number of "
    "segments chosen by the mean silhouette. NPS carries a Wald 95 % interval."
)

REFERENCES = [
    'Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the '
    "easy way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.",
    "Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers: who "
    "are they and what will they do next? Management Science 33(1), 1-24.",
    "Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and "
    "related expressions. http://brucehardie.com/notes/009/",
    "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves "
    "for customer base analysis. Journal of Marketing Research 42(4), 415-430.",
    "Colombo, R. & Jiang, W. (1999). A stochastic RFM model. Journal of Interactive "
    "Marketing 13(3), 2-12.",
    "Hughes, A. M. (1994). Strategic Database Marketing. Probus.",
    "Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and "
    "validation of cluster analysis. J. Comput. Appl. Math. 20, 53-65.",
    "Reichheld, F. F. (2003). The one number you need to grow. Harvard Business Review "
    "81(12), 46-54.",
    "Rocks, B. (2016). Interval estimation for the net promoter score. The American "
    "Statistician 70(4), 365-372.",
    "Casella, G. & Berger, R. L. (2002). Statistical Inference, 2nd ed. Duxbury "
    "(section 5.5.4, the delta method).",
    "Self, S. G. & Liang, K.-Y. (1987). Asymptotic properties of maximum likelihood "
    "estimators and likelihood ratio tests under nonstandard conditions. JASA 82(398), "
    "605-610.",
]

_SEGMENT_TEXT = dict(RFM_SEGMENTS)


def _share(v: float, digits: int) -> str:
    """A share as a percentage that never rounds an estimate to 100 % or 0 %.

    0.9996 at one decimal is "more than 99.9%", not "100.0%": an estimated share below 1
    is never stated as certain.
    """
    text = f"{v:.{digits}%}"
    step = 10.0**-digits
    if 0 < v < 1 and float(text.rstrip("%")) >= 100:
        return f"more than {100 - step:.{digits}f}%"
    if 0 < v < 1 and float(text.rstrip("%")) <= 0:
        return f"less than {step:.{digits}f}%"
    return text


@dataclass(frozen=True)
class CustomersResult:
    """Customer value analysis of one workspace.

    ``customers`` holds one row per customer (ids are pseudonyms): summary, P(alive)
    with its 90 % interval, expected purchases, CLV with its 90 % interval, the next
    purchase date, RFM scores and segments. Money is in ``currency``; shares are 0-1;
    times in ``time_unit``.

    ``fit_quality`` says what the purchase model can tell. When it cannot measure
    drop-out (``fit_quality.dropout_identified`` is False), every figure that rests on
    drop-out (``monthly_retention``, ``value_at_risk``, ``value_at_risk_share``,
    ``churn_leak_share``, the ``p_alive`` column) is NaN, and construction refuses
    anything else, so no headline, finding or chart can state the boundary's 100 % or 0.
    """

    currency: str
    time_unit: str
    observation_end: dt.date
    model_name: str
    params: dict[str, float]
    standard_errors: dict[str, float]
    log_likelihood: float
    spend_params: dict[str, float] | None
    frequency_spend_correlation: float | None
    customers: pd.DataFrame
    horizon_months: int
    annual_discount_rate: float
    margin: float
    margin_source: str
    monthly_retention: float
    monthly_retention_method: str
    monthly_active_retention: float
    repeat_rate: float
    top20_value_share: float
    clv_total: float
    value_at_risk: float
    value_at_risk_share: float
    n_at_risk: int | None
    churn_leak_share: float
    churn_leak_customers: int | None
    cohorts: Cohorts
    segments: pd.DataFrame
    clusters: pd.DataFrame
    population_curve: pd.DataFrame
    fit_quality: FitQuality
    model_choice: ModelChoice
    validation: HoldoutValidation | None = None
    nps: NPS | None = None
    acquisition: pd.DataFrame | None = None
    n_guest_orders: int = 0
    n_refund_only_customers: int = 0
    notes: tuple[str, ...] = field(default=())
    interval_method: str = INTERVAL_METHOD
    interval_level: float = 0.9
    monthly_retention_interval: tuple[float, float] | None = None
    family: FamilyChoice | None = None
    subscriptions: SubscriptionsResult | None = None
    discrete_params: dict[str, float] | None = None
    covariates: CovariateEffects | None = None

    def __post_init__(self) -> None:
        if self.fit_quality.dropout_identified:
            return
        stated = {
            "monthly_retention": self.monthly_retention,
            "value_at_risk": self.value_at_risk,
            "value_at_risk_share": self.value_at_risk_share,
            "churn_leak_share": self.churn_leak_share,
        }
        bad = [k for k, v in stated.items() if math.isfinite(v)]
        if "p_alive" in self.customers and self.customers["p_alive"].notna().any():
            bad.append("p_alive")
        if self.monthly_retention_interval is not None:
            bad.append("monthly_retention_interval")
        if bad or self.n_at_risk is not None or self.churn_leak_customers is not None:
            raise ModelError(
                "the purchase model shows no measurable drop-out, so "
                f"{', '.join(bad) or 'the at-risk counts'} cannot be stated; they must be "
                "NaN/None (this is a bug in the caller)"
            )

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    def _retention_bounds(self) -> tuple[float, float]:
        if self.monthly_retention_interval is None:
            return float("nan"), float("nan")
        return self.monthly_retention_interval

    def _retention_words(self, open_: str = " (", close: str = ")") -> str:
        lo, hi = self._retention_bounds()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return ""
        level = f"{100 * self.interval_level:.0f} %"
        return f"{open_}{level} interval {_share(lo, 1)} to {_share(hi, 1)}{close}"

    @property
    def dropout_measured(self) -> bool:
        """Whether figures that rest on drop-out (retention, P(alive), risk) are stated."""
        return self.fit_quality.dropout_identified

    def summary(self) -> dict[str, Any]:
        """JSON-able headline numbers (read by scenarios, advice and the report)."""
        out: dict[str, Any] = {
            "n_customers": self.n_customers,
            "currency": self.currency,
            "time_unit": self.time_unit,
            "observation_end": self.observation_end.isoformat(),
            "model": self.model_name,
            "params": {k: _f(v) for k, v in self.params.items()},
            "standard_errors": {k: _f(v) for k, v in self.standard_errors.items()},
            "log_likelihood": _f(self.log_likelihood),
            "spend_params": (
                {k: _f(v) for k, v in self.spend_params.items()} if self.spend_params else None
            ),
            "frequency_spend_correlation": _f(self.frequency_spend_correlation),
            "clv_total": _f(self.clv_total),
            "clv_mean": _f(self.clv_total / max(self.n_customers, 1)),
            "horizon_months": self.horizon_months,
            "annual_discount_rate": self.annual_discount_rate,
            "margin": self.margin,
            "margin_source": self.margin_source,
            "monthly_retention": _f(self.monthly_retention),
            "monthly_retention_method": self.monthly_retention_method,
            "monthly_active_retention": _f(self.monthly_active_retention),
            "repeat_rate": _f(self.repeat_rate),
            "top20_value_share": _f(self.top20_value_share),
            "value_at_risk": _f(self.value_at_risk),
            "value_at_risk_share": _f(self.value_at_risk_share),
            "n_at_risk": self.n_at_risk,
            "churn_leak_share": _f(self.churn_leak_share),
            "n_guest_orders": self.n_guest_orders,
            "n_refund_only_customers": self.n_refund_only_customers,
            "notes": list(self.notes),
            "interval_method": self.interval_method,
            "interval_level": self.interval_level,
            "monthly_retention_lower": _f(self._retention_bounds()[0]),
            "monthly_retention_upper": _f(self._retention_bounds()[1]),
        }
        out.update(self._family_summary())
        for extra in (self.fit_quality.summary(), self.model_choice.summary()):
            out.update({k: _f(v) if isinstance(v, float) else v for k, v in extra.items()})
        if self.validation is not None:
            out.update(
                {
                    k: _f(v) if isinstance(v, float) else v
                    for k, v in self.validation.summary().items()
                }
            )
        if self.nps is not None:
            out.update({k: _f(float(v)) for k, v in self.nps.summary().items()})
        if self.acquisition is not None and len(self.acquisition):
            out["clv_cac_min"] = _f(float(self.acquisition["clv_cac"].min()))
        return out

    def _family_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.family is not None:
            out.update(self.family.summary())
        sub = self.subscriptions
        if sub is not None:
            out.update(
                subscriptions_one_year_retention=_f(sub.one_year_retention),
                subscriptions_one_year_retention_lower=_f(sub.one_year_interval[0]),
                subscriptions_one_year_retention_upper=_f(sub.one_year_interval[1]),
                subscriptions_new_subscriber_value=_f(sub.new_subscriber_value),
                subscriptions_new_subscriber_value_lower=_f(sub.new_subscriber_value_interval[0]),
                subscriptions_new_subscriber_value_upper=_f(sub.new_subscriber_value_interval[1]),
                subscriptions_params={k: _f(v) for k, v in sub.params.items()},
            )
        if self.discrete_params is not None:
            out["bgbb_params"] = {k: _f(v) for k, v in self.discrete_params.items()}
        if self.covariates is not None:
            out.update(self.covariates.summary())
        return out

    def _family_lines(self) -> list[str]:
        lines = []
        if self.family is not None:
            lines.append(f"Model family: {self.family.label}. {self.family.reason}")
        sub = self.subscriptions
        if sub is not None:
            lo, hi = sub.one_year_interval
            v_lo, v_hi = sub.new_subscriber_value_interval
            lines.append(
                f"Subscriptions (sBG): {_share(sub.one_year_retention, 0)} of a month's new "
                f"subscribers are expected to still pay a year later (90 % interval "
                f"{_share(lo, 0)} to {_share(hi, 0)}); a new subscriber is worth "
                f"{sub.currency} {sub.new_subscriber_value:,.0f} (90 % interval "
                f"{v_lo:,.0f} to {v_hi:,.0f}) in discounted payments."
            )
        if self.discrete_params is not None and "p_alive_weekly" in self.customers:
            alive = float(self.customers["p_alive_weekly"].mean())
            lines.append(
                f"Weekly opportunities (BG/BB): customers are on average {_share(alive, 0)} "
                "likely to still come to the market; per customer in the table with 90 % "
                "intervals (p_alive_weekly, expected_purchases_13w); each customer's expected "
                "purchases and value come from BG/BB over weekly opportunities."
            )
        if self.covariates is not None:
            lines.append(self.covariates.verdict)
            if self.covariates.kept:
                lines.extend(self.covariates.effect_lines())
        return lines

    def to_frame(self) -> pd.DataFrame:
        """One row per customer."""
        return self.customers.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every result table, for export."""
        t: dict[str, pd.DataFrame] = {
            "customers": self.to_frame().reset_index(),
            "parameters": pd.DataFrame(
                {
                    "model": self.model_name,
                    "parameter": list(self.params),
                    "estimate": list(self.params.values()),
                    "std_error": [self.standard_errors[k] for k in self.params],
                }
            ),
            "segments": self.segments.reset_index(),
            "clusters": self.clusters.reset_index(),
            "cohorts": self.cohorts.table,
            "population_curve": self.population_curve,
            "model_choice": self.model_choice.table(),
        }
        if self.validation is not None:
            t["holdout_by_frequency"] = self.validation.by_frequency
            t["holdout_tracking"] = self.validation.tracking
        if self.acquisition is not None:
            t["acquisition"] = self.acquisition.reset_index()
        return t

    def headline(self) -> list[str]:
        """Plain-language lines for the CLI, each with its number.

        Figures the purchase model cannot support are replaced by what the data cannot
        tell (see :class:`FitQuality`).
        """
        c = self.currency
        q = self.fit_quality
        value_basis = (
            "" if q.dropout_identified else "; assumes customers keep buying at their past rates"
        )
        if math.isfinite(self.clv_total):
            value_lines = [
                f"Expected value of the customer base over the next {self.horizon_months} "
                f"months: {c} {self.clv_total:,.0f} ({self.margin_source}{value_basis}).",
                f"The top 20 % of customers hold {self.top20_value_share:.0%} of that value.",
            ]
        else:
            value_lines = [
                "Expected value of the customer base: not measurable; the fitted purchase "
                "model gives no finite prediction for these customers."
            ]
        lines = [
            f"{self.n_customers:,} customers; {self.repeat_rate:.0%} bought more than once.",
            *value_lines,
            *self._family_lines(),
            f"Purchase model: {self.model_choice.reason}",
            *q.statements(),
        ]
        if math.isfinite(self.monthly_retention):
            lines.append(
                f"Monthly retention (model-based): {_share(self.monthly_retention, 1)}"
                f"{self._retention_words()} of active customers stay active from one month "
                "to the next."
            )
        else:
            seen = (
                f"; what the orders show directly is that {self.monthly_active_retention:.0%} "
                "of the customers who buy in a month buy again the next month"
                if math.isfinite(self.monthly_active_retention)
                else ""
            )
            lines.append(f"Monthly retention: not measurable from these data (see above){seen}.")
        if self.n_at_risk is not None and math.isfinite(self.value_at_risk):
            lines.append(
                f"Value at risk: {c} {self.value_at_risk:,.0f} from {self.n_at_risk:,} repeat "
                "customers whose chance of still being active has fallen below 50 %."
            )
        else:
            lines.append(
                "Value at risk: not measurable; without measurable drop-out the model cannot "
                "tell which customers have stopped buying."
            )
        if self.validation is not None:
            lines.append(self.validation.verdict())
        if self.nps is not None:
            lines.append(
                f"NPS {self.nps.score:+.0f} (95 % interval {self.nps.lower:+.0f} to "
                f"{self.nps.upper:+.0f}, {self.nps.n} answers)."
            )
        if self.acquisition is not None and len(self.acquisition):
            worst = str(self.acquisition["clv_cac"].idxmin())
            ratio = float(self.acquisition["clv_cac"].min())
            lines.append(f"Lowest customer value to acquisition cost: {worst} at {ratio:.1f}x.")
        return lines

    def findings(self) -> list[Finding]:
        """Measured facts with stable metric ids (see the package docstring)."""
        out = [
            Finding(
                "customers.top20_value_share",
                self.top20_value_share,
                "share",
                f"The top 20 % of customers account for {self.top20_value_share:.0%} of "
                "expected customer value.",
                "watch" if self.top20_value_share > 0.8 else "info",
                {"clv_total": self.clv_total},
            ),
            self._value_finding(),
            Finding(
                "customers.repeat_rate",
                self.repeat_rate,
                "share",
                f"{self.repeat_rate:.0%} of customers came back for a second purchase.",
                "warning"
                if self.repeat_rate < 0.2
                else "good"
                if self.repeat_rate > 0.4
                else "info",
                {"n_customers": self.n_customers},
            ),
        ]
        out.extend(self._dropout_findings())
        out.append(self._model_fit_finding())
        if self.covariates is not None:
            out.extend(self.covariates.findings())
        if self.nps is not None:
            out.append(
                Finding(
                    "customers.nps",
                    self.nps.score,
                    "index",
                    f"Net Promoter Score {self.nps.score:+.0f} (95 % interval "
                    f"{self.nps.lower:+.0f} to {self.nps.upper:+.0f}).",
                    "good" if self.nps.lower > 30 else "warning" if self.nps.upper < 0 else "info",
                    {"n": self.nps.n, "lower": self.nps.lower, "upper": self.nps.upper},
                )
            )
        if self.acquisition is not None and len(self.acquisition):
            worst = str(self.acquisition["clv_cac"].idxmin())
            ratio = float(self.acquisition["clv_cac"].min())
            out.append(
                Finding(
                    "customers.clv_cac",
                    ratio,
                    "ratio",
                    f"Customers won through {worst} are worth {ratio:.1f}x what they cost to "
                    "acquire.",
                    "warning" if ratio < 1 else "watch" if ratio < 3 else "good",
                    {"channel": worst},
                )
            )
        if self.validation is not None:
            out.append(
                Finding(
                    "customers.holdout_error",
                    abs(self.validation.aggregate_error),
                    "share",
                    self.validation.verdict(),
                    "info" if self.validation.quality != "poor" else "watch",
                    {"quality": self.validation.quality},
                )
            )
        return out

    def _value_finding(self) -> Finding:
        """``customers.value_per_customer``: expected value of the average customer."""
        per = self.clv_total / self.n_customers if self.n_customers else math.nan
        what = "profit" if self.margin < 1.0 else "revenue"
        return Finding(
            "customers.value_per_customer",
            per,
            "currency",
            f"The average customer is expected to bring {self.currency} {per:,.2f} of {what} "
            f"over the next {self.horizon_months} months (discounted at "
            f"{self.annual_discount_rate:.0%} a year).",
            "info",
            {
                "clv_total": self.clv_total,
                "horizon_months": self.horizon_months,
                "margin": self.margin,
                "margin_source": self.margin_source,
                "currency": self.currency,
            },
        )

    def _dropout_findings(self) -> list[Finding]:
        """Findings that rest on measured drop-out; none when the fit cannot measure it."""
        if not self.fit_quality.dropout_identified:
            return []
        c = self.currency
        n_at_risk = self.n_at_risk or 0
        return [
            Finding(
                "customers.monthly_retention",
                self.monthly_retention,
                "share",
                f"{_share(self.monthly_retention, 0).capitalize()} of active customers remain "
                f"active each month (model-based{self._retention_words('; ', '')}).",
                "info",
                {
                    "method": self.monthly_retention_method,
                    "lower": _f(self._retention_bounds()[0]),
                    "upper": _f(self._retention_bounds()[1]),
                },
            ),
            Finding(
                "customers.value_at_risk_share",
                self.value_at_risk_share,
                "share",
                f"{c} {self.value_at_risk:,.0f} ({self.value_at_risk_share:.0%} of customer "
                f"value) sits with {n_at_risk:,} repeat customers who are drifting away.",
                "warning"
                if self.value_at_risk_share > 0.2
                else "watch"
                if self.value_at_risk_share > 0.1
                else "info",
                {"value_at_risk": self.value_at_risk, "n_at_risk": n_at_risk},
            ),
            Finding(
                "customers.churn_leak",
                self.churn_leak_share,
                "share",
                f"{self.churn_leak_customers or 0:,} of your highest-value customers "
                f"({self.churn_leak_share:.0%} of revenue to date) are likely slipping away.",
                "critical"
                if self.churn_leak_share > 0.25
                else "warning"
                if self.churn_leak_share > 0.1
                else "info",
                {"customers": self.churn_leak_customers or 0},
            ),
        ]

    def _model_fit_finding(self) -> Finding:
        """``customers.model_fit``: 0 sound, 1 weakly identified, 2 at the boundary."""
        q = self.fit_quality
        code = {"ok": 0.0, "weak": 1.0, "boundary": 2.0}[q.status]
        said = q.statements()
        text = (
            " ".join(said)
            if said
            else f"The {q.model_name} purchase model is well determined by these data."
        )
        return Finding(
            "customers.model_fit",
            code,
            "index",
            text,
            "watch" if said else "info",
            {
                "status": q.status,
                "model": self.model_choice.label,
                "model_choice": self.model_choice.reason,
                "dropout_measured": q.dropout_identified,
                "horizon_months": self.horizon_months,
                "horizon_requested": q.horizon_requested,
            },
        )


def product_cost_margin(con: Any) -> float | None:
    """Gross margin (share 0-1) of sold lines from product costs, or None when unknown.

    Value and cost of goods are both in the base currency (the workspace's
    ``order_line_costs`` view). The margin is known when lines with a unit cost carry at
    least half of the sold lines' value and cost less than their value.
    """
    rows = con.execute(
        """
        SELECT sum(line_value_base), sum(line_value_base) FILTER (WHERE cost_base IS NOT NULL),
               sum(cost_base)
        FROM order_line_costs WHERE quantity > 0
        """
    ).fetchall()[0]
    revenue, covered, cost = rows
    if revenue and covered and cost is not None and covered >= 0.5 * revenue and covered > cost:
        return float(1.0 - cost / covered)
    return None


def _margin(con: Any) -> tuple[float, str]:
    """Gross margin of sold lines from product costs, else 1 (revenue value), and its source."""
    margin = product_cost_margin(con)
    if margin is not None:
        return margin, f"gross margin {margin:.0%} from product costs"
    return 1.0, "revenue value; import product costs to get profit value"


def _category_mix(con: Any, currency: str, ids: np.ndarray[Any, Any]) -> pd.DataFrame | None:
    df = con.execute(
        """
        WITH l AS (
            SELECT o.customer_id, coalesce(l.category, 'other') AS category,
                   sum(l.quantity * l.unit_price)::DOUBLE AS v
            FROM order_lines l JOIN orders o USING (order_id)
            WHERE o.currency = ? AND o.customer_id IS NOT NULL AND l.quantity > 0
            GROUP BY ALL
        ), top AS (SELECT category FROM l GROUP BY 1 ORDER BY sum(v) DESC LIMIT 5)
        SELECT customer_id, category, v / sum(v) OVER (PARTITION BY customer_id) AS share
        FROM l SEMI JOIN top USING (category)
        """,
        [currency],
    ).df()
    if df.empty or df["category"].nunique() < 2:
        return None
    wide = df.pivot_table(index="customer_id", columns="category", values="share", aggfunc="sum")
    wide = wide.reindex(pd.Index(ids, name="customer_id")).fillna(0.0)
    wide.columns = [f"share_{c}" for c in wide.columns]
    result: pd.DataFrame = wide
    return result


def _describe_cluster(row: pd.Series, features: list[str], labels: dict[str, str]) -> str:
    z = {f: float(row[f"z_{f}"]) for f in features}
    top = sorted(z, key=lambda f: -abs(z[f]))[:2]
    parts = []
    for f in top:
        if abs(z[f]) < 0.25:
            continue
        word = "higher" if z[f] > 0 else "lower"
        if f == "log_days_since_last":
            word = "longer ago" if z[f] > 0 else "more recently"
            parts.append(f"last bought {word} than average")
        else:
            parts.append(f"{word} {labels.get(f, f)} than average")
    return "; ".join(parts) if parts else "close to the average customer"


_MODEL_CHOICES = ("auto", "bgnbd", "pareto_nbd")


def _check_params(
    model: str,
    time_unit: str,
    horizon_months: int,
    annual_discount_rate: float,
    margin: float | None,
    risk_threshold: float,
) -> None:
    if model not in _MODEL_CHOICES:
        raise ConfigError(f"model must be 'auto', 'bgnbd' or 'pareto_nbd', not {model!r}")
    if time_unit not in ("day", "week"):
        raise ConfigError(f"time_unit must be 'day' or 'week', not {time_unit!r}")
    if not (isinstance(horizon_months, int) and 1 <= horizon_months <= 600):
        raise ConfigError(f"horizon_months must be a whole number 1-600, not {horizon_months!r}")
    if not (isinstance(annual_discount_rate, int | float) and 0 <= annual_discount_rate < 1):
        raise ConfigError(f"annual_discount_rate must be a share 0-1, not {annual_discount_rate!r}")
    if margin is not None and not (isinstance(margin, int | float) and 0 < margin <= 1):
        raise ConfigError(f"margin must be a share in (0, 1], not {margin!r}")
    if not (isinstance(risk_threshold, int | float) and 0 < risk_threshold < 1):
        raise ConfigError(f"risk_threshold must be a share between 0 and 1, not {risk_threshold!r}")


def analyze(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    model: Literal["auto", "bgnbd", "pareto_nbd"] | Unset = UNSET,
    time_unit: Literal["day", "week"] | Unset = UNSET,
    horizon_months: int | Unset = UNSET,
    annual_discount_rate: float | Unset = UNSET,
    margin: float | Unset | None = UNSET,
    holdout: Literal["auto"] | str | dt.date | Unset | None = UNSET,
    risk_threshold: float | Unset = UNSET,
    observation_end: str | dt.date | Unset | None = UNSET,
    seed: int | Unset = UNSET,
    covariates: list[str] | tuple[str, ...] | Unset = UNSET,
) -> CustomersResult | SubscriberBaseResult:
    """Customer value analysis of a workspace's orders; records the run.

    Every keyword left out is read from the workspace's settings (``customers.model``,
    ``customers.horizon_months``, ..., ``levelfield settings``); a keyword given
    overrides its setting for this run (checked the same way). The run records the
    settings it used.

    Parameters
    ----------
    ws
        An open workspace with orders carrying customer ids.
    progress
        ``progress(step, fraction)`` callback.
    model
        ``"auto"`` (default: BG/NBD and Pareto/NBD are both fitted on the calibration
        period and the one with the lower holdout error is used; BG/NBD when there is no
        holdout period), ``"bgnbd"`` or ``"pareto_nbd"`` (both holdout errors are still
        reported).
    time_unit
        Unit of the models' time (``"week"`` default).
    horizon_months
        CLV horizon in months; shortened to twice the observed history when that is
        shorter (the result says so).
    annual_discount_rate
        Discount rate per year for CLV (share).
    margin
        Profit share of revenue; default: from product costs when they cover at least
        half of line revenue, else 1 (CLV is revenue value).
    holdout
        ``"auto"`` (the last third of the data, at most 26 weeks, when the data span at
        least 16 weeks), ``None`` for no holdout check, or a calibration end date.
    risk_threshold
        A repeat customer is "at risk" when P(alive) is below this.
    observation_end
        End of observation (default: last order date).
    seed
        Seed of the clustering.
    covariates
        Customer traits put on the purchase and drop-out processes (any of
        ``channel``, ``first_order_value``, ``region``, ``first_category``, ``store``;
        empty: none). The model with them is kept only when a likelihood-ratio test
        rejects the model without them at 5 % (``result.covariates``).

    Returns
    -------
    CustomersResult or SubscriberBaseResult
        The purchase-model analysis; for a workspace with subscriptions whose orders
        cannot carry a purchase model (none, one day, no repeat buyer), the subscribers'
        sBG analysis instead (retention in a year, a new subscriber's value, cohort
        curves), not a failure.

    Raises
    ------
    InsufficientDataError
        No orders with customer ids, or no repeat customers to learn from (and no
        subscriptions the sBG model can be fitted on).
    """
    kw, used = ws.settings.resolve(
        "customers",
        {
            "model": model,
            "time_unit": time_unit,
            "horizon_months": horizon_months,
            "annual_discount_rate": annual_discount_rate,
            "margin": margin,
            "holdout": holdout,
            "risk_threshold": risk_threshold,
            "observation_end": observation_end,
            "seed": seed,
            "covariates": covariates,
        },
    )
    return _run(ws, progress=progress, settings=used, **kw)


def _run(
    ws: Workspace,
    *,
    progress: ProgressCallback,
    settings: Mapping[str, Any],
    model: Literal["auto", "bgnbd", "pareto_nbd"],
    time_unit: Literal["day", "week"],
    horizon_months: int,
    annual_discount_rate: float,
    margin: float | None,
    holdout: Literal["auto"] | str | dt.date | None,
    risk_threshold: float,
    observation_end: str | dt.date | None,
    seed: int,
    covariates: list[str] | tuple[str, ...] = (),
) -> CustomersResult | SubscriberBaseResult:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _check_params(model, time_unit, horizon_months, annual_discount_rate, margin, risk_threshold)
    params = {
        "model": model,
        "time_unit": time_unit,
        "horizon_months": horizon_months,
        "annual_discount_rate": annual_discount_rate,
        "margin": margin,
        "holdout": str(holdout) if holdout is not None else None,
        "risk_threshold": risk_threshold,
        "observation_end": str(observation_end) if observation_end else None,
        "seed": seed,
        "covariates": list(covariates),
    }
    currency = ws.currency()
    progress("choosing the model family", 0.02)
    family = choose_family(ws, currency=currency)
    progress("summarizing customers", 0.05)
    try:
        summ = summarize_workspace(ws, time_unit=time_unit, observation_end=observation_end)
        _check_learnable(summ)
    except InsufficientDataError as exc:
        if family.family != "sbg":
            raise
        base = _subscribers_only(ws, family, currency, exc)
        ws.record_run("customers", params, base.summary(), started, settings=settings)
        progress("done", 1.0)
        return base
    notes = list(summ.notes)
    subs, discrete = _family_models(ws, family, currency, notes)
    if summ.n_customers < 30:
        notes.append(f"only {summ.n_customers} customers: model figures are rough")
    con = ws.cursor()
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _lf_cust_tx AS "
            f"SELECT * FROM ({workspace_purchases_sql(currency)}) WHERE amount > 0"
        )
        fitted = _fit_models(
            ws,
            con,
            summ,
            model=model,
            holdout=holdout,
            horizon_months=horizon_months,
            margin=margin,
            annual_discount_rate=annual_discount_rate,
            notes=notes,
            progress=progress,
        )
        tables = _customer_tables(
            ws, con, fitted, discrete, covariates, risk_threshold, seed, currency, notes, progress
        )
    finally:
        con.close()
    if not fitted.value.intervals:
        notes.append("no per-customer intervals: the parameters' covariance is unavailable")
    result = _customers_result(
        fitted, tables, currency, float(annual_discount_rate), family, subs, discrete, notes
    )
    ws.record_run("customers", params, result.summary(), started, settings=settings)
    progress("done", 1.0)
    return result


class _Fitted(NamedTuple):
    """The chosen purchase model with its holdout check, fitted with the spend model."""

    choice: ModelChoice
    validation: HoldoutValidation | None
    value: _Valuation
    margin_source: str


class _Tables(NamedTuple):
    """What the fitted models say about the customers, their segments and cohorts."""

    customers: pd.DataFrame
    covariates: CovariateEffects | None
    risk: dict[str, Any]
    segments: pd.DataFrame
    clusters: pd.DataFrame
    cohorts: Cohorts
    nps: NPS | None
    acquisition: pd.DataFrame | None


def _fit_models(
    ws: Workspace,
    con: Any,
    summ: CustomerSummary,
    *,
    model: Literal["auto", "bgnbd", "pareto_nbd"],
    holdout: Literal["auto"] | str | dt.date | None,
    horizon_months: int,
    margin: float | None,
    annual_discount_rate: float,
    notes: list[str],
    progress: ProgressCallback,
) -> _Fitted:
    """Choose the purchase model on the holdout period, fit it and the spend model, and
    find the margin (given, or from product costs); notes are appended to ``notes``."""
    progress("holdout check and model choice", 0.1)
    choice, validation = _choose_model(ws, con, holdout, summ, model, summ.time_unit, notes)
    progress("fitting the purchase model", 0.3)
    count_model = _fit_count(choice.chosen, summ, notes)
    unit_days = 7.0 if summ.time_unit == "week" else 1.0
    quality = assess_fit(
        count_model, choice.label, summ.frequency, summ.T, unit_days, horizon_months
    )
    progress("fitting the spend model", 0.4)
    spend_model, spend = spend_per_purchase(summ, notes)
    if margin is None:
        margin_v, margin_source = _margin(con)
    else:
        margin_v, margin_source = float(margin), f"margin {margin:.0%} as given"
    value = _Valuation(
        count_model, spend_model, quality, summ, spend, margin_v, annual_discount_rate
    )
    return _Fitted(choice, validation, value, margin_source)


def _customer_tables(
    ws: Workspace,
    con: Any,
    fitted: _Fitted,
    discrete: tuple[Any, pd.DataFrame] | None,
    covariates: list[str] | tuple[str, ...],
    risk_threshold: float,
    seed: int,
    currency: str,
    notes: list[str],
    progress: ProgressCallback,
) -> _Tables:
    """Per-customer predictions (with covariates and the weekly BG/BB when fitted), value
    at risk, segments, cohorts, NPS and value per acquisition cost."""
    value = fitted.value
    progress("predicting value", 0.45)
    cust = value.table()
    progress("covariates", 0.5)
    cov_effects = _with_covariates(
        ws, value, cust, fitted.choice.chosen, covariates, currency, notes
    )
    if discrete is not None:
        cust = cust.join(_weekly_table(*discrete), how="left")
        _bgbb_values(discrete[0], discrete[1], value, cust)
    risk = value.risk(cust, risk_threshold)
    progress("segments", 0.55)
    segs, cl = _segments(con, cust, value.summ, currency, seed, risk["clv_total"])
    progress("cohorts", 0.65)
    cohorts = monthly_cohorts(con, "_lf_cust_tx", value.summ.observation_end)
    progress("scorecard", 0.9)
    nps = _nps(con)
    acquisition = _acquisition(con, cust, value.margin, currency)
    return _Tables(cust, cov_effects, risk, segs, cl, cohorts, nps, acquisition)


def _customers_result(
    fitted: _Fitted,
    tables: _Tables,
    currency: str,
    annual_discount_rate: float,
    family: FamilyChoice,
    subs: SubscriptionsResult | None,
    discrete: tuple[Any, pd.DataFrame] | None,
    notes: list[str],
) -> CustomersResult:
    """The result of the analysis from its stages."""
    value, choice, risk = fitted.value, fitted.choice, tables.risk
    summ, count_model, spend_model = value.summ, value.model, value.spend_model
    grid = np.linspace(0.0, 52.0 * 7.0 / value.unit_days, 53)
    curve = pd.DataFrame(
        {"t": grid, "expected_repeat_purchases": count_model.expected_purchases(grid)}
    )
    return CustomersResult(
        currency=currency,
        time_unit=summ.time_unit,
        observation_end=summ.observation_end,
        model_name=choice.label,
        params=dict(count_model.params_),
        standard_errors=dict(count_model.standard_errors_),
        log_likelihood=count_model.log_likelihood_,
        spend_params=dict(spend_model.params_) if spend_model else None,
        frequency_spend_correlation=(
            spend_model.frequency_spend_correlation_ if spend_model else None
        ),
        customers=tables.customers,
        horizon_months=value.quality.horizon_months,
        annual_discount_rate=annual_discount_rate,
        margin=value.margin,
        margin_source=fitted.margin_source,
        monthly_retention=value.monthly_retention(),
        monthly_retention_interval=value.monthly_retention_interval(),
        monthly_retention_method=(
            f"model-based ({choice.label}): expected share of customers alive now still "
            "alive one month later"
        ),
        monthly_active_retention=tables.cohorts.monthly_active_retention,
        repeat_rate=float((summ.frequency > 0).mean()),
        top20_value_share=risk["top20"],
        clv_total=risk["clv_total"],
        value_at_risk=risk["value_at_risk"],
        value_at_risk_share=risk["value_at_risk_share"],
        n_at_risk=risk["n_at_risk"],
        churn_leak_share=risk["churn_leak_share"],
        churn_leak_customers=risk["churn_leak_customers"],
        cohorts=tables.cohorts,
        segments=tables.segments,
        clusters=tables.clusters,
        population_curve=curve,
        fit_quality=value.quality,
        model_choice=choice,
        validation=fitted.validation,
        nps=tables.nps,
        acquisition=tables.acquisition,
        n_guest_orders=summ.n_guest_orders,
        n_refund_only_customers=summ.n_refund_only_customers,
        notes=tuple(notes),
        family=family,
        subscriptions=subs,
        discrete_params=dict(discrete[0].params_) if discrete is not None else None,
        covariates=tables.covariates,
    )


def _subscribers_only(
    ws: Any, family: FamilyChoice, currency: str, why: InsufficientDataError
) -> SubscriberBaseResult:
    """The sBG result of a subscriptions-only workspace (no purchase model can be fitted)."""
    try:
        subs = subscription_retention(ws)
    except InsufficientDataError as exc:
        raise InsufficientDataError(
            f"the orders cannot carry a purchase model ({why}) and the subscriptions cannot "
            f"carry the sBG retention model ({exc})"
        ) from exc
    return SubscriberBaseResult(subs.currency, family, subs, str(why))


def _family_models(
    ws: Any, family: FamilyChoice, currency: str, notes: list[str]
) -> tuple[SubscriptionsResult | None, tuple[Any, pd.DataFrame] | None]:
    """The sBG retention of the subscriptions, or BG/BB on weekly opportunities."""
    if family.family == "sbg":
        try:
            return subscription_retention(ws), None
        except InsufficientDataError as exc:
            notes.append(f"subscriptions present but the sBG model could not be fitted: {exc}")
            return None, None
    if family.family == "bgbb":
        try:
            model, pattern = fit_weekly_bgbb(ws, currency=currency)
        except (InsufficientDataError, ModelError) as exc:
            notes.append(f"the weekly BG/BB model could not be fitted: {exc}")
            return None, None
        return None, (model, pattern)
    return None, None


def _weekly_table(model: Any, pattern: pd.DataFrame) -> pd.DataFrame:
    """Per-customer BG/BB P(alive) and 13-week expected purchases with 90 % intervals."""
    x, tx, n = (pattern[c].to_numpy(float) for c in ("frequency", "recency", "n_periods"))
    out = pd.DataFrame(index=pd.Index(pattern["customer_id"], name="customer_id"))
    out["p_alive_weekly"] = model.probability_alive(x, tx, n)
    out["expected_purchases_13w"] = model.conditional_expected_purchases(13, x, tx, n)
    if np.isfinite(model.covariance_).all():
        lo, hi = probability_interval(model, lambda m: m.probability_alive(x, tx, n))
        e = out["expected_purchases_13w"].to_numpy()
        e_lo, e_hi = value_interval(
            e, [(model, lambda m: m.conditional_expected_purchases(13, x, tx, n))]
        )
        out["p_alive_weekly_lower"], out["p_alive_weekly_upper"] = lo, hi
        out["expected_purchases_13w_lower"], out["expected_purchases_13w_upper"] = e_lo, e_hi
    return out


class _WeeklyBound:
    """BG/BB predictions in the PurchaseModel shape (time in weekly opportunities).

    A customer whose first purchase fell in the last week has had no opportunity yet
    (``n = 0``): their expectation is a new customer's (eq. 7 of Fader, Hardie & Shang).
    """

    def __init__(self, model: BetaGeoBetaBinomModel) -> None:
        self.model = model

    def conditional_expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Array:
        n = np.asarray(T, dtype=float)
        seen = self.model.conditional_expected_purchases(t, frequency, recency, np.maximum(n, 1.0))
        out: Array = np.where(n >= 1, seen, self.model.expected_purchases(float(t)))
        return out

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Array:
        n = np.asarray(T, dtype=float)
        p = self.model.probability_alive(frequency, recency, np.maximum(n, 1.0))
        out: Array = np.where(n >= 1, p, 1.0)
        return out

    def survival(self, dt: float, frequency: Any, T: Any) -> Array:  # pragma: no cover
        raise ModelError("BG/BB survival over calendar time is not used here")


def _bgbb_values(
    model: BetaGeoBetaBinomModel, pattern: pd.DataFrame, value: _Valuation, cust: pd.DataFrame
) -> None:
    """Expected purchases and CLV of every customer from BG/BB, with 90 % intervals.

    Weekly opportunities: 13 of them stand for the next 90 days and 4.35 for a month;
    the spend per purchase and the margin are the analysis's.
    """
    pat = pattern.set_index("customer_id").reindex(cust.index)
    x, tx, n = (pat[c].fillna(0).to_numpy(float) for c in ("frequency", "recency", "n_periods"))
    weeks = DAYS_PER_MONTH / 7.0
    months, rate = value.quality.horizon_months, value.rate

    def e13(m: BetaGeoBetaBinomModel) -> Array:
        return _WeeklyBound(m).conditional_expected_purchases(13.0, x, tx, n)

    def discounted(m: BetaGeoBetaBinomModel) -> Array:
        return customer_lifetime_value(
            _WeeklyBound(m),
            x,
            tx,
            n,
            np.ones(len(x)),
            months=months,
            annual_discount_rate=rate,
            margin=1.0,
            units_per_month=weeks,
        )

    clv = value.margin * value.spend * discounted(model)
    e90 = e13(model)
    cust["expected_purchases_90d"] = e90
    cust["clv"] = clv
    if not np.isfinite(model.covariance_).all():
        for c in ("expected_purchases_90d", "clv"):
            cust[f"{c}_lower"] = cust[f"{c}_upper"] = np.nan
        return
    e_lo, e_hi = value_interval(e90, [(model, e13)], level=value.level)
    parts: list[tuple[Any, Any]] = [(model, discounted)]
    if value.spend_model is not None:
        parts.append((value.spend_model, value._spend_of))
    v_lo, v_hi = value_interval(clv, parts, level=value.level)
    cust["expected_purchases_90d_lower"], cust["expected_purchases_90d_upper"] = e_lo, e_hi
    cust["clv_lower"], cust["clv_upper"] = v_lo, v_hi


def _check_learnable(summ: CustomerSummary) -> None:
    if summ.n_customers == 0 or float(summ.T.max()) <= 0:
        raise InsufficientDataError(
            "all orders fall on one day, so repeat buying cannot be measured; import "
            "orders covering several weeks or months"
        )
    if not (summ.frequency > 0).any():
        raise InsufficientDataError(
            f"none of the {summ.n_customers:,} customers bought twice, so lifetime value and "
            "churn risk cannot be modelled; import a longer period of orders (at least a "
            "few months), or check that orders carry customer ids"
        )


def _fit_count(key: str, summ: CustomerSummary, notes: list[str]) -> BetaGeoModel | ParetoNBDModel:
    """Fit a purchase model; its warnings become notes (weak fits are judged by FitQuality)."""
    m: BetaGeoModel | ParetoNBDModel = BetaGeoModel() if key == "bgnbd" else ParetoNBDModel()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(summ.frequency, summ.recency, summ.T)
    for w in caught:
        if issubclass(w.category, ConvergenceWarning) and "did not converge" in str(w.message):
            period = " (calibration period)" if summ.calibration_end else ""
            notes.append(
                f"the {MODEL_LABELS[key]} fit{period} stopped before converging; its "
                "figures are rough"
            )
    return m


def spend_per_purchase(
    summ: CustomerSummary, notes: list[str]
) -> tuple[GammaGammaModel | None, Array]:
    """Expected spend of each customer's next purchase (currency), and its model.

    The Gamma-Gamma model when at least ten repeat buyers with positive spend let it be
    fitted (and its ``q > 1``: a finite mean); else each repeat buyer's own average and
    the mean order value for one-time buyers, with a note appended to ``notes``.
    """
    x, z = summ.frequency, summ.monetary_value
    rep = x > 0
    if int(rep.sum()) >= 10 and (z[rep] > 0).all():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallSampleWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            # Averages rounded to 1e-9: when spend barely varies the likelihood is flat in q
            # and the optimum would move with the last bit of a sum (the order customers'
            # orders were added in), so the same data would give different values.
            gg = GammaGammaModel().fit(x, np.round(z, 9))
        if gg.params_["q"] > 1:
            return gg, gg.conditional_expected_spend(x, z)
    mean_order = float(summ.total_value.sum() / (x + 1).sum())
    notes.append(
        "spend per purchase is each customer's own average "
        "(too few repeat buyers for the Gamma-Gamma model)"
    )
    return None, np.where(rep, z, mean_order)


def _choose_model(
    ws: Any,
    con: Any,
    holdout: Any,
    summ: CustomerSummary,
    model: str,
    time_unit: Literal["day", "week"],
    notes: list[str],
) -> tuple[ModelChoice, HoldoutValidation | None]:
    """Fit both purchase models on the calibration period and pick by holdout error."""
    given = None if model == "auto" else model
    cal_end, why_not = _calibration_end(holdout, summ)
    cal = None
    if cal_end is not None:
        cal = summarize_workspace(
            ws, time_unit=time_unit, calibration_end=cal_end, observation_end=summ.observation_end
        )
        if not (cal.frequency > 0).any():
            why_not, cal = "no repeat purchases in the calibration period", None
    if cal is None or cal_end is None:
        chosen = given or "bgnbd"
        notes.append(f"no holdout check: {why_not}")
        reason = (
            f"{MODEL_LABELS[chosen]} {'as set' if given else 'by default'}; the models could "
            f"not be compared on a holdout period ({why_not})."
        )
        return ModelChoice(chosen, "given" if given else "default", {}, reason), None
    rp = repeat_purchases_by_date(con, "_lf_cust_tx", cal.group_by, cal_end, summ.observation_end)
    validations: dict[str, HoldoutValidation] = {}
    for key in MODEL_LABELS:  # two candidate models, not customers
        try:
            validations[key] = holdout_validation(_fit_count(key, cal, notes), cal, rp)
        except (ModelError, InsufficientDataError) as exc:
            notes.append(
                f"{MODEL_LABELS[key]} could not be fitted on the calibration period: {exc}"
            )
    if not validations or (given is not None and given not in validations):
        chosen = given or "bgnbd"
        reason = (
            f"{MODEL_LABELS[chosen]} {'as set' if given else 'by default'}; the holdout "
            "comparison failed (see the notes)."
        )
        return ModelChoice(chosen, "given" if given else "default", validations, reason), None
    choice = choose_by_holdout(validations, given)
    return choice, validations[choice.chosen]


def _calibration_end(holdout: Any, summ: CustomerSummary) -> tuple[dt.date | None, str]:
    if holdout is None:
        return None, "no holdout check was asked for"
    if isinstance(holdout, dt.date):
        return holdout, ""
    if holdout != "auto":
        return dt.date.fromisoformat(str(holdout)), ""
    first = pd.Timestamp(summ.first_purchase.min()).date()
    span = (summ.observation_end - first).days
    if span < 16 * 7:
        return None, "the data span less than 16 weeks"
    return summ.observation_end - dt.timedelta(days=min(span // 3, 26 * 7)), ""


class _Valuation:
    """Per-customer predictions of one fitted purchase model, gated by its FitQuality."""

    def __init__(
        self,
        count_model: BetaGeoModel | ParetoNBDModel,
        spend_model: GammaGammaModel | None,
        quality: FitQuality,
        summ: CustomerSummary,
        spend: Array,
        margin: float,
        annual_discount_rate: float,
        level: float = 0.9,
    ) -> None:
        self.model, self.spend_model, self.quality, self.summ = (
            count_model,
            spend_model,
            quality,
            summ,
        )
        self.spend, self.margin, self.rate, self.level = spend, margin, annual_discount_rate, level
        self.unit_days = 7.0 if summ.time_unit == "week" else 1.0
        self.upm = DAYS_PER_MONTH / self.unit_days
        spend_cov_ok = spend_model is None or bool(np.isfinite(spend_model.covariance_).all())
        self.intervals = quality.intervals_available and spend_cov_ok

    def _discounted_purchases(self, model: BetaGeoModel | ParetoNBDModel) -> Array:
        s = self.summ
        return customer_lifetime_value(
            model,
            s.frequency,
            s.recency,
            s.T,
            np.ones(len(s.frequency)),
            months=self.quality.horizon_months,
            annual_discount_rate=self.rate,
            margin=1.0,
            units_per_month=self.upm,
        )

    def _p_alive(self, model: BetaGeoModel | ParetoNBDModel) -> Array:
        return model.probability_alive(self.summ.frequency, self.summ.recency, self.summ.T)

    def _spend_of(self, model: GammaGammaModel) -> Array:
        return model.conditional_expected_spend(self.summ.frequency, self.summ.monetary_value)

    def _expected_90d(self, model: BetaGeoModel | ParetoNBDModel) -> Array:
        s = self.summ
        return model.conditional_expected_purchases(
            90.0 / self.unit_days, s.frequency, s.recency, s.T
        )

    def _wait(self, model: BetaGeoModel | ParetoNBDModel) -> Array:
        p = model.params_
        return median_time_to_next_purchase(p["r"], p["alpha"], self.summ.frequency, self.summ.T)

    def _date(self, wait: Array) -> pd.DatetimeIndex:
        """Observation end plus a waiting time (NaT beyond ten years or unknown)."""
        days = wait * self.unit_days
        out: pd.DatetimeIndex = (
            pd.Timestamp(self.summ.observation_end)
            + pd.to_timedelta(np.where(days <= 3650.0, days, np.nan), unit="D")
        ).floor("D")
        return out

    def table(self) -> pd.DataFrame:
        """One row per customer, with intervals and the next purchase date."""
        s, m = self.summ, self.model
        n = len(s.frequency)
        nan = np.full(n, np.nan)
        clv = self.margin * self.spend * self._discounted_purchases(m)
        p_alive = self._p_alive(m) if self.quality.dropout_identified else nan
        p_lo = p_hi = v_lo = v_hi = nan
        if self.intervals:
            p_lo, p_hi = probability_interval(m, self._p_alive, level=self.level)
            parts: list[tuple[Any, Any]] = [(m, self._discounted_purchases)]
            if self.spend_model is not None:
                parts.append((self.spend_model, self._spend_of))
            v_lo, v_hi = value_interval(clv, parts, level=self.level)
        e90 = m.conditional_expected_purchases(90.0 / self.unit_days, s.frequency, s.recency, s.T)
        wait = self._wait(m)
        e_lo = e_hi = w_lo = w_hi = nan
        if self.intervals:
            e_lo, e_hi = value_interval(e90, [(m, self._expected_90d)], level=self.level)
            w_lo, w_hi = value_interval(wait, [(m, self._wait)], level=self.level)
        dates = [self._date(v) for v in (wait, w_lo, w_hi)]
        return pd.DataFrame(
            {
                "frequency": s.frequency,
                "recency": s.recency,
                "T": s.T,
                "monetary_value": s.monetary_value,
                "total_value": s.total_value,
                "first_purchase": pd.to_datetime(s.first_purchase),
                "days_since_last": (s.T - s.recency) * self.unit_days,
                "p_alive": p_alive,
                "p_alive_lower": p_lo,
                "p_alive_upper": p_hi,
                "expected_purchases_90d": e90,
                "expected_purchases_90d_lower": e_lo,
                "expected_purchases_90d_upper": e_hi,
                "expected_spend": self.spend,
                "clv": clv,
                "clv_lower": v_lo,
                "clv_upper": v_hi,
                "next_purchase_date": dates[0],
                "next_purchase_date_lower": dates[1],
                "next_purchase_date_upper": dates[2],
            },
            index=pd.Index(s.customer_id, name="customer_id"),
        )

    def monthly_retention(self) -> float:
        if not self.quality.dropout_identified:
            return float("nan")
        s = self.summ
        return model_monthly_retention(self.model, s.frequency, s.recency, s.T, self.upm)

    def _retention_of(self, model: BetaGeoModel | ParetoNBDModel) -> Array:
        s = self.summ
        share = model_monthly_retention(model, s.frequency, s.recency, s.T, self.upm)
        return np.array([share])

    def monthly_retention_interval(self) -> tuple[float, float] | None:
        """Delta-method interval of the model-based monthly retention (None without one)."""
        if not self.intervals:
            return None
        lo, hi = probability_interval(self.model, self._retention_of, level=self.level)
        return float(lo[0]), float(hi[0])

    def risk(self, cust: pd.DataFrame, threshold: float) -> dict[str, Any]:
        """Value concentration, value at risk and churn leak (NaN/None without drop-out)."""
        clv = cust["clv"].to_numpy()
        total_value = self.summ.total_value
        clv_total = float(clv.sum())
        k20 = max(1, math.ceil(0.2 * len(clv)))
        out: dict[str, Any] = {
            "clv_total": clv_total,
            "top20": float(np.sort(clv)[::-1][:k20].sum() / clv_total) if clv_total > 0 else 0.0,
            "value_at_risk": float("nan"),
            "value_at_risk_share": float("nan"),
            "n_at_risk": None,
            "churn_leak_share": float("nan"),
            "churn_leak_customers": None,
        }
        if not self.quality.dropout_identified:
            return out
        p_alive = cust["p_alive"].to_numpy()
        rep = self.summ.frequency > 0
        # value if still alive: conditional expectations are P(alive) x E[... | alive]
        clv_if_alive = np.divide(clv, p_alive, out=np.zeros_like(clv), where=p_alive > 1e-12)
        at_risk = rep & (p_alive < threshold)
        var = float((clv_if_alive - clv)[at_risk].sum())
        leak = (total_value >= np.quantile(total_value, 0.8)) & at_risk
        total_rev = float(total_value.sum())
        out.update(
            value_at_risk=var,
            value_at_risk_share=var / (clv_total + var) if clv_total + var > 0 else 0.0,
            n_at_risk=int(at_risk.sum()),
            churn_leak_share=float(total_value[leak].sum() / total_rev) if total_rev > 0 else 0.0,
            churn_leak_customers=int(leak.sum()),
        )
        return out


def _with_covariates(
    ws: Any,
    value: _Valuation,
    cust: pd.DataFrame,
    model_key: str,
    include: list[str] | tuple[str, ...],
    currency: str,
    notes: list[str],
) -> CovariateEffects | None:
    """Fit the covariate model and test it; when kept, its predictions replace ``cust``'s.

    Too few customers, covariates that do not vary and fits that fail become notes: the
    analysis goes on without covariates.
    """
    summ = value.summ
    if not include:
        return None
    n_rep = int((summ.frequency > 0).sum())
    if summ.n_customers < MIN_CUSTOMERS or n_rep < MIN_REPEAT:
        notes.append(
            f"covariates not fitted: {summ.n_customers:,} customers with {n_rep:,} repeat "
            f"buyers; at least {MIN_CUSTOMERS} and {MIN_REPEAT} are needed"
        )
        return None
    try:
        effects, model, z = fit_covariate_effects(
            ws,
            summ,
            model_key,
            tuple(include),
            currency,
            notes,
            on_dropout=value.quality.dropout_identified,
        )
    except (DataError, ModelError, InsufficientDataError) as exc:
        notes.append(f"covariates not fitted: {exc}")
        return None
    if effects.kept:
        _covariate_table(value, cust, CovariatePredictions(model, z, summ, value.upm))
    return effects


def _covariate_table(value: _Valuation, cust: pd.DataFrame, pred: CovariatePredictions) -> None:
    """P(alive), 90-day purchases and CLV of each customer from their own parameters."""
    zq = float(norm.ppf(0.5 + value.level / 2.0))
    months, rate, ud = value.quality.horizon_months, value.rate, value.unit_days
    disc = pred.discounted_purchases(months, rate)
    clv = value.margin * value.spend * disc
    e90 = pred.expected(90.0, ud)
    cust["expected_purchases_90d"] = e90
    cust["clv"] = clv
    if value.quality.dropout_identified:
        p = pred.p_alive()
        cust["p_alive"] = p
        if value.intervals:
            se = pred.log_se(lambda m: (q := pred.p_alive(m)) / (1.0 - q))
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                odds = p / (1.0 - p)
                cust["p_alive_lower"] = 1.0 / (1.0 + 1.0 / (odds * np.exp(-zq * se)))
                cust["p_alive_upper"] = 1.0 / (1.0 + 1.0 / (odds * np.exp(zq * se)))
    if not value.intervals:
        return
    se_e = pred.log_se(lambda m: pred.expected(90.0, ud, m))
    cust["expected_purchases_90d_lower"] = e90 * np.exp(-zq * se_e)
    cust["expected_purchases_90d_upper"] = e90 * np.exp(zq * se_e)
    var = pred.log_se(lambda m: pred.discounted_purchases(months, rate, m)) ** 2
    if value.spend_model is not None:
        lo, _ = value_interval(clv, [(value.spend_model, value._spend_of)], level=value.level)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = var + np.nan_to_num(np.log(clv / lo) / zq) ** 2
    half = zq * np.sqrt(var)
    cust["clv_lower"] = np.where(clv > 0, clv * np.exp(-half), clv)
    cust["clv_upper"] = np.where(clv > 0, clv * np.exp(half), clv)


def _segments(
    con: Any,
    cust: pd.DataFrame,
    summ: CustomerSummary,
    currency: str,
    seed: int,
    clv_total: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Named RFM segments and data-driven clusters (columns added to ``cust``)."""
    x = summ.frequency
    total_rev = float(summ.total_value.sum())
    days_since_last = cust["days_since_last"].to_numpy()
    clv = cust["clv"].to_numpy()
    rfm = rfm_segments(days_since_last, x + 1, summ.total_value)
    cust["rfm_r"] = rfm["r"].to_numpy()
    cust["rfm_f"] = rfm["f"].to_numpy()
    cust["rfm_m"] = rfm["m"].to_numpy()
    cust["segment"] = rfm["segment"].to_numpy()
    segs = cust.groupby("segment").agg(
        customers=("clv", "size"),
        revenue=("total_value", "sum"),
        clv=("clv", "sum"),
        p_alive=("p_alive", "mean"),
    )
    segs["revenue_share"] = segs["revenue"] / max(total_rev, 1e-12)
    segs["clv_share"] = segs["clv"] / max(clv_total, 1e-12)
    segs["description"] = [_SEGMENT_TEXT.get(str(s), "") for s in segs.index]
    segs = segs.sort_values("clv", ascending=False)

    feats = pd.DataFrame(
        {
            "log_days_since_last": np.log1p(days_since_last),
            "log_purchases": np.log1p(x + 1),
            "log_value": np.log1p(np.maximum(summ.total_value, 0)),
            "log_clv": np.log1p(np.maximum(clv, 0)),
        },
        index=cust.index,
    )
    mix = _category_mix(con, currency, summ.customer_id)
    if mix is not None:
        feats = feats.join(mix)
    label_words = {
        "log_purchases": "purchase frequency",
        "log_value": "spend to date",
        "log_clv": "expected future value",
    }
    label_words.update({c: f"share of {c[6:]}" for c in feats.columns if c.startswith("share_")})
    # A feature the data cannot give for every customer (expected value when the fit
    # cannot value customers) does not shape the segments rather than failing them.
    feats = feats.loc[:, np.isfinite(feats.to_numpy(dtype=float)).all(axis=0)]
    labels, profile, _k = cluster_segments(feats, seed=seed)
    cust["cluster"] = labels
    cl = cust.groupby("cluster").agg(
        customers=("clv", "size"),
        revenue=("total_value", "sum"),
        clv=("clv", "sum"),
        mean_purchases=("frequency", lambda s: float((s + 1).mean())),
        mean_days_since_last=("days_since_last", "mean"),
    )
    cl["revenue_share"] = cl["revenue"] / max(total_rev, 1e-12)
    cl["clv_share"] = cl["clv"] / max(clv_total, 1e-12)
    cl["description"] = [
        _describe_cluster(profile.loc[i], list(feats.columns), label_words) for i in cl.index
    ]
    return segs, cl


def _nps(con: Any) -> NPS | None:
    scores = con.execute("SELECT score::DOUBLE FROM surveys WHERE score IS NOT NULL").fetchnumpy()
    s = np.asarray(scores[next(iter(scores))], dtype=float)
    if s.size == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        return net_promoter_score(s)


def _acquisition(con: Any, cust: pd.DataFrame, margin: float, currency: str) -> pd.DataFrame | None:
    cac = con.execute(
        "SELECT channel, acquisition_cost::DOUBLE AS cac FROM channels "
        "WHERE acquisition_cost IS NOT NULL AND acquisition_cost > 0"
    ).df()
    if cac.empty:
        return None
    first = con.execute(
        "SELECT customer_id, arg_min(channel, ts) AS channel FROM _lf_cust_tx GROUP BY 1"
    ).df()
    df = cust[["total_value", "clv"]].join(first.set_index("customer_id"), how="inner")
    df["lifetime_value"] = margin * df["total_value"] + df["clv"]
    g = df.groupby("channel").agg(
        customers=("clv", "size"), lifetime_value=("lifetime_value", "mean")
    )
    out = g.join(cac.set_index("channel"), how="inner")
    if out.empty:
        return None
    out["clv_cac"] = out["lifetime_value"] / out["cac"]
    out.index.name = "channel"
    result: pd.DataFrame = out
    return result
