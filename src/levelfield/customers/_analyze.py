"""``analyze(ws)``: the customer value analysis of a workspace, and its result."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from levelfield.customers._models import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from levelfield.customers._summary import (
    CustomerSummary,
    summarize_workspace,
    workspace_purchases_sql,
)
from levelfield.customers._validation import (
    Cohorts,
    HoldoutValidation,
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
from levelfield.errors import ConfigError, InsufficientDataError, SmallSampleWarning
from levelfield.findings import Finding, ProgressCallback, no_progress

__all__ = ["METHODS", "REFERENCES", "CustomersResult", "analyze"]

METHODS = (
    "Customer value. Orders are netted of discounts and refunds (refund rows are charged "
    "to the order they refund, or to the customer's latest earlier order) and summarized "
    "per customer in DuckDB as repeat purchase days (frequency), time of last purchase "
    "(recency) and age (T), exactly as Fader and Hardie define them; guest orders and "
    "customers whose every order was refunded are left out. Repeat buying and drop-out "
    "are modelled with the BG/NBD model (Fader, Hardie & Lee 2005) or the Pareto/NBD "
    "model (Schmittlein, Morrison & Colombo 1987), fitted by maximum likelihood with "
    "analytic gradients; spend per purchase with the Gamma-Gamma model. Customer "
    "lifetime value is the margin on the expected purchases over the horizon, discounted "
    "monthly. Monthly retention is model-based: the expected share of customers alive "
    "today who are still alive a month later. Where the data span allows, the model is "
    "refitted on a calibration period and checked against a holdout period. Named "
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
]

_SEGMENT_TEXT = dict(RFM_SEGMENTS)


def _f(v: float | None) -> float | None:
    """JSON-safe float (NaN/inf become None)."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class CustomersResult:
    """Customer value analysis of one workspace.

    ``customers`` holds one row per customer (ids are pseudonyms): summary, P(alive),
    expected purchases, CLV, RFM scores and segments. Money is in ``currency``; shares are
    0-1; times in ``time_unit``.
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
    n_at_risk: int
    churn_leak_share: float
    churn_leak_customers: int
    cohorts: Cohorts
    segments: pd.DataFrame
    clusters: pd.DataFrame
    population_curve: pd.DataFrame
    validation: HoldoutValidation | None = None
    nps: NPS | None = None
    acquisition: pd.DataFrame | None = None
    n_guest_orders: int = 0
    n_refund_only_customers: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def n_customers(self) -> int:
        return len(self.customers)

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
        }
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
        }
        if self.validation is not None:
            t["holdout_by_frequency"] = self.validation.by_frequency
            t["holdout_tracking"] = self.validation.tracking
        if self.acquisition is not None:
            t["acquisition"] = self.acquisition.reset_index()
        return t

    def headline(self) -> list[str]:
        """Plain-language lines for the CLI, each with its number."""
        c = self.currency
        lines = [
            f"{self.n_customers:,} customers; {self.repeat_rate:.0%} bought more than once.",
            f"Expected value of the customer base over the next {self.horizon_months} months: "
            f"{c} {self.clv_total:,.0f} ({self.margin_source}).",
            f"The top 20 % of customers hold {self.top20_value_share:.0%} of that value.",
            f"Monthly retention (model-based): {self.monthly_retention:.1%} of active customers "
            "stay active from one month to the next.",
            f"Value at risk: {c} {self.value_at_risk:,.0f} from {self.n_at_risk:,} repeat "
            "customers whose chance of still being active has fallen below 50 %.",
        ]
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
        c = self.currency
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
            Finding(
                "customers.monthly_retention",
                self.monthly_retention,
                "share",
                f"About {self.monthly_retention:.0%} of active customers remain active each "
                "month (model-based).",
                "info",
                {"method": self.monthly_retention_method},
            ),
            Finding(
                "customers.value_at_risk_share",
                self.value_at_risk_share,
                "share",
                f"{c} {self.value_at_risk:,.0f} ({self.value_at_risk_share:.0%} of customer "
                f"value) sits with {self.n_at_risk:,} repeat customers who are drifting away.",
                "warning"
                if self.value_at_risk_share > 0.2
                else "watch"
                if self.value_at_risk_share > 0.1
                else "info",
                {"value_at_risk": self.value_at_risk, "n_at_risk": self.n_at_risk},
            ),
            Finding(
                "customers.churn_leak",
                self.churn_leak_share,
                "share",
                f"{self.churn_leak_customers:,} of your highest-value customers "
                f"({self.churn_leak_share:.0%} of revenue to date) are likely slipping away.",
                "critical"
                if self.churn_leak_share > 0.25
                else "warning"
                if self.churn_leak_share > 0.1
                else "info",
                {"customers": self.churn_leak_customers},
            ),
        ]
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


def _margin(con: Any, currency: str) -> tuple[float, str]:
    rows = con.execute(
        """
        SELECT sum(l.quantity * l.unit_price)::DOUBLE,
               sum(l.quantity * l.unit_price) FILTER (WHERE p.unit_cost IS NOT NULL)::DOUBLE,
               sum(l.quantity * p.unit_cost) FILTER (WHERE p.unit_cost IS NOT NULL)::DOUBLE
        FROM order_lines l JOIN orders o USING (order_id)
        LEFT JOIN products p USING (sku)
        WHERE o.currency = ? AND l.quantity > 0
        """,
        [currency],
    ).fetchall()[0]
    revenue, covered, cost = rows
    if revenue and covered and cost is not None and covered >= 0.5 * revenue and covered > cost:
        return float(
            1.0 - cost / covered
        ), f"gross margin {1 - cost / covered:.0%} from product costs"
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


def _check_params(
    model: str,
    time_unit: str,
    horizon_months: int,
    annual_discount_rate: float,
    margin: float | None,
    risk_threshold: float,
) -> None:
    if model not in ("bgnbd", "pareto_nbd"):
        raise ConfigError(f"model must be 'bgnbd' or 'pareto_nbd', not {model!r}")
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
    ws: Any,
    *,
    progress: ProgressCallback = no_progress,
    model: Literal["bgnbd", "pareto_nbd"] = "bgnbd",
    time_unit: Literal["day", "week"] = "week",
    horizon_months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float | None = None,
    holdout: Literal["auto"] | str | dt.date | None = "auto",
    risk_threshold: float = 0.5,
    observation_end: str | dt.date | None = None,
    seed: int = 0,
) -> CustomersResult:
    """Customer value analysis of a workspace's orders; records the run.

    Parameters
    ----------
    ws
        An open workspace with orders carrying customer ids.
    progress
        ``progress(step, fraction)`` callback.
    model
        ``"bgnbd"`` (default) or ``"pareto_nbd"``.
    time_unit
        Unit of the models' time (``"week"`` default).
    horizon_months
        CLV horizon in months.
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

    Raises
    ------
    InsufficientDataError
        No orders with customer ids, or no repeat customers to learn from.
    """
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
    }
    currency = ws.currency()
    progress("summarizing customers", 0.05)
    summ = summarize_workspace(ws, time_unit=time_unit, observation_end=observation_end)
    unit_days = 7.0 if time_unit == "week" else 1.0
    upm = DAYS_PER_MONTH / unit_days
    x, t_x, T = summ.frequency, summ.recency, summ.T
    if float(T.max()) <= 0:
        raise InsufficientDataError(
            "all orders fall on one day, so repeat buying cannot be measured; import "
            "orders covering several weeks or months"
        )
    if not (x > 0).any():
        raise InsufficientDataError(
            f"none of the {summ.n_customers:,} customers bought twice, so lifetime value and "
            "churn risk cannot be modelled; import a longer period of orders (at least a "
            "few months), or check that orders carry customer ids"
        )
    progress("fitting the purchase model", 0.2)
    count_model: BetaGeoModel | ParetoNBDModel = (
        BetaGeoModel() if model == "bgnbd" else ParetoNBDModel()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        count_model.fit(x, t_x, T)
    notes = list(summ.notes)
    if summ.n_customers < 30:
        notes.append(f"only {summ.n_customers} customers: model figures are rough")

    progress("fitting the spend model", 0.35)
    spend_model: GammaGammaModel | None = None
    rep = x > 0
    if int(rep.sum()) >= 10 and (summ.monetary_value[rep] > 0).all():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallSampleWarning)
            gg = GammaGammaModel().fit(x, summ.monetary_value)
        if gg.params_["q"] > 1:
            spend_model = gg
    if spend_model is not None:
        spend = spend_model.conditional_expected_spend(x, summ.monetary_value)
    else:
        mean_order = float(summ.total_value.sum() / (x + 1).sum())
        spend = np.where(rep, summ.monetary_value, mean_order)
        notes.append(
            "spend per purchase is each customer's own average "
            "(too few repeat buyers for the Gamma-Gamma model)"
        )

    con = ws.cursor()
    try:
        if margin is None:
            margin_v, margin_source = _margin(con, currency)
        else:
            margin_v, margin_source = float(margin), f"margin {margin:.0%} as given"
        progress("predicting value", 0.45)
        p_alive = count_model.probability_alive(x, t_x, T)
        exp90 = count_model.conditional_expected_purchases(90.0 / unit_days, x, t_x, T)
        clv = customer_lifetime_value(
            count_model,
            x,
            t_x,
            T,
            spend,
            months=horizon_months,
            annual_discount_rate=annual_discount_rate,
            margin=margin_v,
            units_per_month=upm,
        )
        retention = model_monthly_retention(count_model, x, t_x, T, upm)
        obs_end = summ.observation_end
        days_since_last = (T - t_x) * unit_days
        cust = pd.DataFrame(
            {
                "frequency": x,
                "recency": t_x,
                "T": T,
                "monetary_value": summ.monetary_value,
                "total_value": summ.total_value,
                "first_purchase": pd.to_datetime(summ.first_purchase),
                "days_since_last": days_since_last,
                "p_alive": p_alive,
                "expected_purchases_90d": exp90,
                "expected_spend": spend,
                "clv": clv,
            },
            index=pd.Index(summ.customer_id, name="customer_id"),
        )
        # value if still alive: conditional expectations are P(alive) x E[... | alive]
        clv_if_alive = np.divide(clv, p_alive, out=np.zeros_like(clv), where=p_alive > 1e-12)
        at_risk = rep & (p_alive < risk_threshold)
        value_at_risk = float((clv_if_alive - clv)[at_risk].sum())
        clv_total = float(clv.sum())
        var_share = (
            value_at_risk / (clv_total + value_at_risk) if clv_total + value_at_risk > 0 else 0.0
        )
        n = len(clv)
        k20 = max(1, math.ceil(0.2 * n))
        top20 = float(np.sort(clv)[::-1][:k20].sum() / clv_total) if clv_total > 0 else 0.0
        hv_cut = np.quantile(summ.total_value, 0.8)
        leak = (summ.total_value >= hv_cut) & rep & (p_alive < risk_threshold)
        total_rev = float(summ.total_value.sum())
        leak_share = float(summ.total_value[leak].sum() / total_rev) if total_rev > 0 else 0.0

        progress("segments", 0.55)
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
        label_words.update(
            {c: f"share of {c[6:]}" for c in feats.columns if c.startswith("share_")}
        )
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

        progress("cohorts", 0.65)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _lf_cust_tx AS "
            f"SELECT * FROM ({workspace_purchases_sql(currency)}) WHERE amount > 0"
        )
        cohorts = monthly_cohorts(con, "_lf_cust_tx", obs_end)

        progress("holdout check", 0.75)
        validation = _holdout(ws, con, holdout, summ, model, time_unit, notes)

        progress("scorecard", 0.9)
        nps = _nps(con)
        acquisition = _acquisition(con, cust, margin_v, currency)
    finally:
        con.close()

    grid = np.linspace(0.0, 52.0 * 7.0 / unit_days, 53)
    curve = pd.DataFrame(
        {"t": grid, "expected_repeat_purchases": count_model.expected_purchases(grid)}
    )
    result = CustomersResult(
        currency=currency,
        time_unit=time_unit,
        observation_end=summ.observation_end,
        model_name="BG/NBD" if model == "bgnbd" else "Pareto/NBD",
        params=dict(count_model.params_),
        standard_errors=dict(count_model.standard_errors_),
        log_likelihood=count_model.log_likelihood_,
        spend_params=dict(spend_model.params_) if spend_model else None,
        frequency_spend_correlation=(
            spend_model.frequency_spend_correlation_ if spend_model else None
        ),
        customers=cust,
        horizon_months=horizon_months,
        annual_discount_rate=float(annual_discount_rate),
        margin=margin_v,
        margin_source=margin_source,
        monthly_retention=retention,
        monthly_retention_method=(
            f"model-based ({'BG/NBD' if model == 'bgnbd' else 'Pareto/NBD'}): expected share "
            "of customers alive now still alive one month later"
        ),
        monthly_active_retention=cohorts.monthly_active_retention,
        repeat_rate=float(rep.mean()),
        top20_value_share=top20,
        clv_total=clv_total,
        value_at_risk=value_at_risk,
        value_at_risk_share=float(var_share),
        n_at_risk=int(at_risk.sum()),
        churn_leak_share=leak_share,
        churn_leak_customers=int(leak.sum()),
        cohorts=cohorts,
        segments=segs,
        clusters=cl,
        population_curve=curve,
        validation=validation,
        nps=nps,
        acquisition=acquisition,
        n_guest_orders=summ.n_guest_orders,
        n_refund_only_customers=summ.n_refund_only_customers,
        notes=tuple(notes),
    )
    ws.record_run("customers", params, result.summary(), started)
    progress("done", 1.0)
    return result


def _holdout(
    ws: Any,
    con: Any,
    holdout: Any,
    summ: CustomerSummary,
    model: str,
    time_unit: Literal["day", "week"],
    notes: list[str],
) -> HoldoutValidation | None:
    if holdout is None:
        return None
    first = pd.Timestamp(summ.first_purchase.min()).date()
    obs_end = summ.observation_end
    span = (obs_end - first).days
    if holdout == "auto":
        if span < 16 * 7:
            notes.append("no holdout check: the data span less than 16 weeks")
            return None
        cal_end = obs_end - dt.timedelta(days=min(span // 3, 26 * 7))
    else:
        cal_end = holdout if isinstance(holdout, dt.date) else dt.date.fromisoformat(str(holdout))
    cal = summarize_workspace(
        ws, time_unit=time_unit, calibration_end=cal_end, observation_end=obs_end
    )
    if not (cal.frequency > 0).any():
        notes.append("no holdout check: no repeat purchases in the calibration period")
        return None
    m: BetaGeoModel | ParetoNBDModel = BetaGeoModel() if model == "bgnbd" else ParetoNBDModel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        m.fit(cal.frequency, cal.recency, cal.T)
    rp = repeat_purchases_by_date(con, "_lf_cust_tx", cal.group_by, cal_end, obs_end)
    return holdout_validation(m, cal, rp)


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
