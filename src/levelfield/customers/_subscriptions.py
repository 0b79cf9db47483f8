"""The subscriptions analysis: recurring revenue and sBG retention of a workspace.

Stable finding metric ids (``SubscriptionsResult.findings()``):

``subscriptions.mrr``
    monthly recurring revenue at the end of the latest full month (currency).
``subscriptions.nrr_month``
    net revenue retention of that month (share; see :data:`FORMULAS`).
``subscriptions.revenue_churn_month``
    churned MRR of that month over the previous month's MRR (share).
``subscriptions.one_year_retention``
    share of a month's new subscribers the sBG model expects to still pay 12 months
    after their first payment, with its 90 % interval in context (0-1).
``subscriptions.new_subscriber_value``
    expected discounted revenue of one new subscriber over their lifetime (currency),
    with its 90 % interval and the DERL in context.
``subscriptions.model_choice``
    likelihood-ratio statistic of sBG against one churn rate for everyone (chi-square,
    1 degree of freedom); the text says why sBG is used.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.stats import chi2

from levelfield.customers._models import SMALL_SAMPLE
from levelfield.customers._recurring import FORMULAS, RecurringRevenue, recurring_revenue
from levelfield.customers._recurring import subscription_lifetimes as _lifetimes
from levelfield.customers._sbg import _COHORT_LOG_BOUND, ShiftedBetaGeometricModel
from levelfield.errors import (
    ConfigError,
    ConvergenceWarning,
    InsufficientDataError,
    SmallSampleWarning,
)
from levelfield.findings import Finding, ProgressCallback, json_float, no_progress
from levelfield.workspace import UNSET, Unset, Workspace

__all__ = [
    "METHODS",
    "REFERENCES",
    "SubscriptionsResult",
    "analyze",
    "figures",
    "simulate_subscriptions",
    "subscription_retention",
]

METHODS = (
    "Subscriptions. Monthly recurring revenue (MRR) is the monthly-normalized price x "
    "quantity of the subscriptions paying at each month's end (trials excluded); its "
    "movements (new, reactivation, expansion, contraction, churned) are per customer "
    "between month ends, net revenue retention is (last month's MRR + expansion - "
    "contraction - churned) / last month's MRR. Retention of monthly-billed "
    "subscriptions is modelled with the shifted-beta-geometric (sBG) model of Fader & "
    "Hardie (2007), pooled over all monthly cohorts and per cohort with at least 30 "
    "subscriptions: each subscriber has their own monthly cancel probability, drawn "
    "from a Beta distribution, fitted by maximum likelihood on paid periods (cancelled) "
    "and renewals (still paying). Intervals are 90 % delta-method intervals from the "
    "parameters' covariance. A new subscriber's value is the first payment plus the "
    "discounted expected residual lifetime (DERL, Fader & Hardie 2010) in payments."
)

REFERENCES = [
    "Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention. Journal "
    "of Interactive Marketing 21(1), 76-90.",
    "Fader, P. S. & Hardie, B. G. S. (2010). Customer-base valuation in a contractual "
    "setting: the perils of ignoring heterogeneity. Marketing Science 29(1), 85-93.",
]

_YEAR = 12  # renewals in a year of monthly billing


@dataclass(frozen=True)
class SubscriptionsResult:
    """Recurring revenue and sBG retention of a workspace's subscriptions.

    Attributes
    ----------
    revenue
        MRR by month, movements, NRR and cohort churn (:class:`RecurringRevenue`).
    params, standard_errors
        Pooled sBG ``alpha``, ``beta`` and their standard errors.
    cohort_fits
        One row per monthly cohort: ``cohort``, ``subscriptions``, ``cancelled``,
        ``alpha``, ``beta``, ``one_year_retention`` and its ``low``/``high`` 90 % bounds,
        ``derl`` (discounted expected payments after the first, at the first renewal
        decision) with ``derl_low``/``derl_high`` (NaN where the cohort has fewer than 30
        subscriptions or no cancellations).
    retention_curve
        ``renewals`` 0-24, ``survival`` (share of new subscribers still paying after that
        many renewals) with ``low``/``high``, and ``retention_rate`` (share renewing).
    one_year_retention, one_year_interval
        Pooled ``S(12)`` and its 90 % interval (0-1).
    monthly_price
        Mean monthly price of the latest cohort's subscriptions (currency).
    derl
        Discounted expected payments after the first one, at the first renewal decision.
    new_subscriber_value, new_subscriber_value_interval
        ``price x (1 + DERL / (1 + d))`` with its 90 % interval (currency).
    lr_statistic, lr_p_value
        sBG against one churn rate for all (geometric), chi-square 1 df.
    """

    currency: str
    revenue: RecurringRevenue
    params: dict[str, float]
    standard_errors: dict[str, float]
    n_subscriptions: int
    cohort_fits: pd.DataFrame
    retention_curve: pd.DataFrame
    one_year_retention: float
    one_year_interval: tuple[float, float]
    monthly_price: float
    monthly_discount_rate: float
    derl: float
    new_subscriber_value: float
    new_subscriber_value_interval: tuple[float, float]
    lr_statistic: float
    lr_p_value: float
    model_reason: str
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The monthly MRR table."""
        return self.revenue.to_frame()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every result table."""
        return {
            "mrr_by_month": self.revenue.monthly,
            "cohort_churn": self.revenue.cohorts,
            "sbg_cohorts": self.cohort_fits,
            "retention_curve": self.retention_curve,
        }

    def summary(self) -> dict[str, Any]:
        """JSON-able headline numbers (recorded with the run); NaN becomes None."""
        out = {
            "revenue": self.revenue.summary(),
            "model": "sBG",
            "params": self.params,
            "standard_errors": self.standard_errors,
            "n_subscriptions": self.n_subscriptions,
            "one_year_retention": self.one_year_retention,
            "one_year_interval": list(self.one_year_interval),
            "monthly_price": self.monthly_price,
            "derl": self.derl,
            "new_subscriber_value": self.new_subscriber_value,
            "new_subscriber_value_interval": list(self.new_subscriber_value_interval),
            "lr_statistic": self.lr_statistic,
            "lr_p_value": self.lr_p_value,
            "model_reason": self.model_reason,
            "notes": list(self.notes),
        }
        return {k: _json_safe(v) for k, v in out.items()}

    def headline(self) -> list[str]:
        """Plain-language lines, each with its number."""
        s = self.revenue.summary()
        lo, hi = self.one_year_interval
        vlo, vhi = self.new_subscriber_value_interval
        lines = [
            f"MRR at the end of {str(s['month'])[:7]}: {self.currency} {s['mrr']:,.2f} from "
            f"{s['customers']} paying customers.",
            f"Of this month's new subscribers, {_pct(self.one_year_retention)} will still pay "
            f"in a year ({_interval_text(lo, hi, 'pct')}).",
            f"A new subscriber at {self.currency} {self.monthly_price:,.2f} a month is worth "
            f"{self.currency} {self.new_subscriber_value:,.2f} in discounted revenue "
            f"({_interval_text(vlo, vhi, 'money')}; DERL {self.derl:.1f} payments).",
            self.model_reason,
        ]
        if s["nrr_month"] is not None:
            lines.insert(1, f"Net revenue retention that month: {s['nrr_month']:.1%}.")
        return lines + list(self.notes)

    def findings(self) -> list[Finding]:
        """Measured facts with stable metric ids (see the module docstring)."""
        s = self.revenue.summary()
        lo, hi = self.one_year_interval
        out = [
            Finding(
                "subscriptions.mrr",
                float(s["mrr"]),  # type: ignore[arg-type]
                "currency",
                f"Monthly recurring revenue at the end of {str(s['month'])[:7]} was "
                f"{self.currency} {s['mrr']:,.2f}.",
                "info",
                {"month": s["month"], "formula": FORMULAS["mrr"]},
            ),
            Finding(
                "subscriptions.one_year_retention",
                self.one_year_retention,
                "share",
                f"Of this month's new subscribers, {_pct(self.one_year_retention)} will still "
                f"pay in a year ({_interval_text(lo, hi, 'pct')}).",
                "warning" if self.one_year_retention < 0.3 else "info",
                _json_safe({"low": lo, "high": hi, "model": "sBG", **self.params}),
            ),
            Finding(
                "subscriptions.new_subscriber_value",
                self.new_subscriber_value,
                "currency",
                f"A new subscriber is worth {self.currency} {self.new_subscriber_value:,.2f} "
                "in discounted revenue over their lifetime.",
                "info",
                _json_safe(
                    {
                        "low": self.new_subscriber_value_interval[0],
                        "high": self.new_subscriber_value_interval[1],
                        "derl": self.derl,
                        "monthly_price": self.monthly_price,
                        "monthly_discount_rate": self.monthly_discount_rate,
                    }
                ),
            ),
            Finding(
                "subscriptions.model_choice",
                self.lr_statistic,
                "ratio",
                self.model_reason,
                "info",
                {"model": "sBG", "lr_p_value": self.lr_p_value},
            ),
        ]
        out += _revenue_findings(s)
        return out


def _revenue_findings(s: dict[str, Any]) -> list[Finding]:
    out = []
    if s["nrr_month"] is not None:
        nrr = float(s["nrr_month"])
        out.append(
            Finding(
                "subscriptions.nrr_month",
                nrr,
                "share",
                f"Net revenue retention in {str(s['month'])[:7]}: {nrr:.1%} of last month's "
                "recurring revenue kept, after expansion, contraction and churn.",
                "good" if nrr >= 1 else "watch" if nrr >= 0.95 else "warning",
                {"formula": FORMULAS["nrr_month"]},
            )
        )
        prev = float(s["mrr"]) - sum(
            float(s[k]) * sign
            for k, sign in (
                ("new", 1),
                ("reactivation", 1),
                ("expansion", 1),
                ("contraction", -1),
                ("churned", -1),
            )
        )
        if prev > 0:
            churn = float(s["churned"]) / prev
            out.append(
                Finding(
                    "subscriptions.revenue_churn_month",
                    churn,
                    "share",
                    f"{churn:.1%} of recurring revenue was lost to cancellations in "
                    f"{str(s['month'])[:7]}.",
                    "warning" if churn > 0.05 else "info",
                    {"churned": s["churned"]},
                )
            )
    return out


def _pct(x: float) -> str:
    if x > 0.999:
        return "more than 99.9 %"
    if x < 0.001:
        return "less than 0.1 %"
    return f"{x:.0%}".replace("%", " %")


def _json_safe(v: Any) -> Any:
    """Nested values with every float through :func:`levelfield.findings.json_float`."""
    if isinstance(v, float):
        return json_float(v)
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v


def _interval_text(lo: float, hi: float, fmt: str) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "no interval: the data cannot pin the model down"
    if fmt == "pct":
        return f"90 % interval {_pct(lo)} to {_pct(hi)}"
    return f"90 % interval {lo:,.2f} to {hi:,.2f}"


def _first(x: Any) -> float:
    return float(np.ravel(x)[0])


def _geometric_loglik(periods: np.ndarray, churned: np.ndarray) -> float:
    """Log-likelihood of one churn probability for all at its maximum."""
    c = churned == 1
    n_churn = float(c.sum())
    stay = float(np.where(c, periods - 1, periods).sum())  # renewals made
    p = n_churn / (n_churn + stay)
    if p <= 0 or p >= 1:
        return 0.0
    return n_churn * float(np.log(p)) + stay * float(np.log1p(-p))


def _fit(
    periods: np.ndarray, churned: np.ndarray, notes: list[str]
) -> tuple[ShiftedBetaGeometricModel, bool]:
    """Fit sBG; small samples and unidentified spreads become notes, not warnings.

    Returns the model and whether its spread is identified: not when the fit warns, nor
    when it runs to the no-spread boundary (``alpha`` or ``beta`` beyond ``e**15``, every
    subscriber the same). Then no interval may be given, whatever the delta method returns
    there: how close to singular a boundary fit's Hessian comes differs between CPUs in
    the last bits, so one machine printed an interval where another printed none."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SmallSampleWarning)
        warnings.simplefilter("always", ConvergenceWarning)
        model = ShiftedBetaGeometricModel().fit(periods, churned)
    kinds = {w.category for w in caught}
    if SmallSampleWarning in kinds:
        notes.append(
            f"only {len(periods)} monthly subscriptions: retention figures are rough "
            "(see the intervals)"
        )
    if ConvergenceWarning in kinds:
        notes.append(
            "the data cannot tell how much subscribers' cancel rates differ (the sBG "
            "spread is not identified), so no interval is given; import a longer history"
        )
    for w in caught:
        if w.category not in (SmallSampleWarning, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    a, b = model.params_["alpha"], model.params_["beta"]
    at_boundary = not (a > 0 and b > 0) or max(abs(math.log(a)), abs(math.log(b))) > (
        _COHORT_LOG_BOUND
    )
    return model, ConvergenceWarning not in kinds and not at_boundary


def _or_nan(identified: bool, lo: Any, hi: Any) -> tuple[float, float]:
    """The interval's bounds, or NaN twice when the fit cannot give one."""
    if not identified:
        return math.nan, math.nan
    return float(np.ravel(lo)[0]), float(np.ravel(hi)[0])


def _cohort_fits(life: pd.DataFrame, monthly_discount_rate: float) -> pd.DataFrame:
    """Per-cohort sBG: one-year retention and DERL, each with its 90 % interval."""
    rows = []
    for cohort, g in life.groupby("cohort", sort=True):
        row: dict[str, Any] = {
            "cohort": cohort,
            "subscriptions": len(g),
            "cancelled": int(g["churned"].sum()),
        }
        fit = dict.fromkeys(
            ("alpha", "beta", "one_year_retention", "low", "high", "derl", "derl_low", "derl_high"),
            np.nan,
        )
        if len(g) >= SMALL_SAMPLE:
            try:
                m, ok = _fit(g["periods"].to_numpy(float), g["churned"].to_numpy(float), [])
            except InsufficientDataError:
                m, ok = None, False
            if m is not None:
                lo, hi = _or_nan(ok, *m.survival_interval(_YEAR))
                d = monthly_discount_rate
                d_lo, d_hi = _or_nan(ok, *m.customer_value_interval(1.0, d, 0))
                fit = {
                    **m.params_,
                    "one_year_retention": _first(m.survival(_YEAR)),
                    "low": lo,
                    "high": hi,
                    "derl": _first(
                        m.discounted_expected_residual_lifetime(monthly_discount_rate, 0)
                    ),
                    "derl_low": d_lo,
                    "derl_high": d_hi,
                }
        rows.append({**row, **fit})
    return pd.DataFrame(rows)


def analyze(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    annual_discount_rate: float | Unset = UNSET,
    as_of: dt.datetime | Unset | None = UNSET,
) -> SubscriptionsResult:
    """Recurring revenue and sBG retention of the workspace's subscriptions; records the run.

    Keywords left out are read from the settings (``customers.annual_discount_rate``,
    ``subscriptions.as_of``); given ones override them for this run.

    Raises
    ------
    InsufficientDataError
        No subscriptions imported, none that paid, or no monthly-billed subscriptions
        with both cancellations and renewals.
    """
    kw, used = ws.settings.resolve(
        "subscriptions", {"annual_discount_rate": annual_discount_rate, "as_of": as_of}
    )
    return _run(ws, progress, used, kw["annual_discount_rate"], _as_datetime(kw["as_of"]))


def _as_datetime(v: str | dt.date | None) -> dt.datetime | None:
    if v is None or isinstance(v, dt.datetime):
        return v
    d = dt.date.fromisoformat(v) if isinstance(v, str) else v
    return dt.datetime(d.year, d.month, d.day)


def _run(
    ws: Workspace,
    progress: ProgressCallback,
    settings: Mapping[str, Any],
    annual_discount_rate: float,
    as_of: dt.datetime | None,
) -> SubscriptionsResult:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = _compute(ws, progress, annual_discount_rate, as_of)
    params = {"annual_discount_rate": annual_discount_rate, "as_of": str(as_of) if as_of else None}
    ws.record_run("subscriptions", params, result.summary(), started, settings=settings)
    progress("done", 1.0)
    return result


def subscription_retention(
    ws: Workspace, *, progress: ProgressCallback = no_progress
) -> SubscriptionsResult:
    """As :func:`analyze` with the workspace's settings, without recording a run.

    For the customers analysis, which shows the subscriptions' sBG retention when it
    picks the sBG family.
    """
    kw, _ = ws.settings.resolve("subscriptions", {"annual_discount_rate": UNSET, "as_of": UNSET})
    return _compute(ws, progress, kw["annual_discount_rate"], _as_datetime(kw["as_of"]))


def _compute(
    ws: Workspace,
    progress: ProgressCallback,
    annual_discount_rate: float,
    as_of: dt.datetime | None,
) -> SubscriptionsResult:
    if not (isinstance(annual_discount_rate, int | float) and 0 < annual_discount_rate < 1):
        raise ConfigError(
            f"annual_discount_rate must be a share between 0 and 1, not {annual_discount_rate!r}"
        )
    con = ws.cursor()
    try:
        n_subs = int(con.execute("SELECT count(*) FROM subscriptions").fetchall()[0][0])
        if n_subs == 0:
            raise InsufficientDataError(
                "no subscriptions imported; run 'levelfield import subscriptions FILE' "
                "(Stripe's subscriptions export or 'levelfield template subscriptions')"
            )
        currency, notes = _currency(con, ws.currency())
        progress("recurring revenue", 0.1)
        revenue = recurring_revenue(con, as_of=as_of, currency=currency)
        progress("sBG retention", 0.5)
        life = _lifetimes(con, as_of=as_of, currency=currency)
    finally:
        con.close()
    return _model(revenue, life, currency, annual_discount_rate, n_subs, notes)


def _currency(con: Any, base: str) -> tuple[str, list[str]]:
    """The currency MRR is counted in: the base one when subscriptions use it, else theirs.

    Amounts in other currencies are not converted; they are left out of MRR and said so.
    """
    rows = con.execute(
        "SELECT upper(coalesce(currency, ?)) AS c, count(*) FROM subscriptions "
        "GROUP BY 1 ORDER BY 2 DESC, 1",
        [base],
    ).fetchall()
    counts = {str(c): int(n) for c, n in rows}
    chosen = base if base in counts else next(iter(counts))
    others = {c: n for c, n in counts.items() if c != chosen}
    notes = []
    if others:
        notes.append(
            f"MRR counts {chosen} subscriptions only; "
            + ", ".join(f"{n} in {c}" for c, n in others.items())
            + " are left out (not converted)"
        )
    return chosen, notes


def _model(
    revenue: RecurringRevenue,
    life: pd.DataFrame,
    currency: str,
    annual_discount_rate: float,
    n_subs: int,
    notes: list[str],
) -> SubscriptionsResult:
    if len(life) < n_subs:
        notes.append(
            f"{n_subs - len(life)} of {n_subs} subscriptions are left out of the retention "
            "model (billed other than monthly, never paid, or ended in their trial); they "
            "count in MRR"
        )
    if life.empty:
        raise InsufficientDataError(
            "no monthly-billed subscription that paid: the sBG retention model needs them"
        )
    t = life["periods"].to_numpy(float)
    c = life["churned"].to_numpy(float)
    model, identified = _fit(t, c, notes)
    lr = max(0.0, 2.0 * (model.log_likelihood_ - _geometric_loglik(t, c)))
    p_value = float(chi2.sf(lr, 1))
    d = (1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0
    latest = life[life["cohort"] == life["cohort"].max()]
    price = float(latest["monthly_price"].mean())
    derl = _first(model.discounted_expected_residual_lifetime(d, 0))
    v_lo, v_hi = _or_nan(identified, *model.customer_value_interval(price, d, 0))
    value = price * (1.0 + derl / (1.0 + d))
    s12 = _first(model.survival(_YEAR))
    lo, hi = _or_nan(identified, *model.survival_interval(_YEAR))
    grid = np.arange(25.0)
    c_lo, c_hi = (
        model.survival_interval(grid)
        if identified
        else (np.full(grid.size, np.nan), np.full(grid.size, np.nan))
    )
    curve = pd.DataFrame(
        {
            "renewals": grid,
            "survival": model.survival(grid),
            "low": c_lo,
            "high": c_hi,
            "retention_rate": np.r_[np.nan, model.retention_rate(grid[1:])],
        }
    )
    reason = (
        "Model: shifted-beta-geometric (sBG), because subscriptions are contracts: each "
        "subscriber pays every month until they cancel, and the cancellation is seen (no "
        "guessing who is still a customer, as with orders). sBG lets each subscriber have "
        "their own cancel probability, so retention rises with tenure as the likely leavers "
        f"leave first; against one churn rate for everyone the likelihood-ratio statistic is "
        f"{lr:.1f} (p {'< 0.001' if p_value < 0.001 else f'= {p_value:.3f}'})"
        + (
            ", so subscribers do differ."
            if p_value < 0.05
            else "; the data cannot tell subscribers' churn rates apart, so the simpler "
            "one-rate model would forecast much the same."
        )
    )
    return SubscriptionsResult(
        currency=currency,
        revenue=revenue,
        params=dict(model.params_),
        standard_errors=dict(model.standard_errors_),
        n_subscriptions=len(life),
        cohort_fits=_cohort_fits(life, d),
        retention_curve=curve,
        one_year_retention=s12,
        one_year_interval=(lo, hi),
        monthly_price=price,
        monthly_discount_rate=d,
        derl=derl,
        new_subscriber_value=value,
        new_subscriber_value_interval=(price + v_lo / (1.0 + d), price + v_hi / (1.0 + d)),
        lr_statistic=lr,
        lr_p_value=p_value,
        model_reason=reason,
        notes=tuple(notes),
    )


def figures(result: SubscriptionsResult) -> dict[str, go.Figure]:
    """MRR by month and the sBG retention curve, keyed by title."""
    m = result.revenue.monthly
    mrr = go.Figure(go.Bar(x=m["month"], y=m["mrr"], name="MRR"))
    mrr.update_layout(title="Monthly recurring revenue", yaxis_title=f"MRR ({result.currency})")
    c = result.retention_curve
    curve = go.Figure(
        [
            go.Scatter(x=c["renewals"], y=c["high"], line={"width": 0}, showlegend=False),
            go.Scatter(
                x=c["renewals"], y=c["low"], fill="tonexty", line={"width": 0}, name="90 % interval"
            ),
            go.Scatter(x=c["renewals"], y=c["survival"], name="still paying (sBG)"),
        ]
    )
    curve.update_layout(
        title="Share of new subscribers still paying",
        xaxis_title="months after the first payment",
        yaxis_title="share",
    )
    return {"Monthly recurring revenue": mrr, "Subscriber retention (sBG)": curve}


def simulate_subscriptions(
    n: int,
    *,
    alpha: float,
    beta: float,
    start: dt.date,
    months: int,
    price: float = 24.0,
    seed: int | np.random.Generator = 0,
    prefix: str = "sub",
) -> tuple[pd.DataFrame, dt.datetime]:
    """Monthly subscriptions whose lifetimes follow an sBG with known ``alpha``, ``beta``.

    Each subscriber draws a cancel probability ``theta ~ Beta(alpha, beta)`` and pays
    ``T ~ Geometric(theta)`` months (>= 1); sign-ups are spread evenly over ``months``
    monthly cohorts from ``start``. Returns rows in the template's columns and the end
    of observation (the first day after the window); subscriptions still paying then
    have no ``ended_at``.
    """
    if not (isinstance(n, int) and n > 0 and isinstance(months, int) and months > 0):
        raise ConfigError(f"n and months must be whole numbers > 0, not {n!r}, {months!r}")
    if not (alpha > 0 and beta > 0):
        raise ConfigError(f"alpha and beta must be > 0, not {alpha!r}, {beta!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    theta = rng.beta(alpha, beta, n)
    paid = rng.geometric(np.clip(theta, 1e-12, 1.0))
    first = np.datetime64(start, "M")
    cohort = first + rng.integers(0, months, n).astype("timedelta64[M]")
    offset = rng.integers(0, 28 * 24, n).astype("timedelta64[h]")
    started = cohort.astype("datetime64[h]") + offset
    ended = (cohort + paid.astype("timedelta64[M]")).astype("datetime64[h]") + offset
    as_of = (first + np.timedelta64(months, "M")).astype("datetime64[h]")
    gone = ended <= as_of
    frame = pd.DataFrame(
        {
            "subscription_id": [f"{prefix}_{i:06d}" for i in range(n)],
            "customer_id": [f"{prefix}-customer-{i:06d}" for i in range(n)],
            "status": np.where(gone, "canceled", "active"),
            "started_at": pd.to_datetime(started),
            "ended_at": pd.to_datetime(np.where(gone, ended, np.datetime64("NaT"))),
            "quantity": 1,
            "amount": price,
            "interval": "month",
        }
    )
    return frame, pd.Timestamp(as_of).to_pydatetime()
