"""Plotly charts of the customer analysis (functions taking results, returning figures)."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from levelfield.customers._analyze import CustomersResult
from levelfield.customers._subscriber_base import SubscriberBaseResult, cohort_retention_curves
from levelfield.customers._subscriptions import figures as subscription_figures
from levelfield.customers._validation import Cohorts, HoldoutValidation

__all__ = [
    "cohort_heatmap",
    "cohort_retention_chart",
    "figures",
    "holdout_by_frequency_chart",
    "holdout_tracking_chart",
    "p_alive_chart",
    "segment_chart",
    "value_distribution_chart",
]

#: Points drawn in a per-customer scatter: a random sample beyond this many. Two thousand
#: show the shape; more only make the page heavier (5,000 made the customers page 830 kB
#: at 100,000 customers and the web app's busiest page).
_MAX_POINTS = 2000
#: Points of the value curve: it is smooth, and 1,000 points draw it to within a pixel.
_CURVE_POINTS = 1000


def value_distribution_chart(result: CustomersResult) -> go.Figure:
    """Concentration of expected value: share of CLV by share of customers (Lorenz curve)."""
    clv = np.sort(result.customers["clv"].to_numpy())[::-1]
    total = clv.sum()
    n = len(clv)
    cum = np.concatenate([[0.0], np.cumsum(clv) / total if total > 0 else np.zeros(n)])
    share = np.linspace(0.0, 1.0, n + 1)
    if n + 1 > _CURVE_POINTS:
        idx = np.unique(np.linspace(0, n, _CURVE_POINTS).astype(int))
        share, cum = share[idx], cum[idx]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=share, y=cum, mode="lines", name="customers by value"))
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="equal value", line={"dash": "dot"})
    )
    fig.add_vline(
        x=0.2, line_dash="dash", annotation_text=f"top 20 % hold {result.top20_value_share:.0%}"
    )
    fig.update_layout(
        title=f"Who holds the value: expected {result.horizon_months}-month value",
        xaxis_title="share of customers (most valuable first)",
        yaxis_title="share of expected value",
        xaxis_tickformat=".0%",
        yaxis_tickformat=".0%",
    )
    return fig


def p_alive_chart(result: CustomersResult) -> go.Figure:
    """P(alive) against days since the last purchase, sized by expected value.

    When the purchase model cannot measure drop-out, the chart says so instead of
    plotting the boundary's P(alive) of 1 for everyone.
    """
    if not result.dropout_measured:
        fig = go.Figure()
        fig.add_annotation(
            text=(
                "Not measurable from these data: the orders show no measurable drop-out,<br>"
                "so the model cannot tell which customers have stopped buying."
            ),
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
        )
        fig.update_layout(
            title="Chance each customer is still active: not measurable",
            xaxis={"visible": False},
            yaxis={"visible": False},
        )
        return fig
    c = result.customers
    if len(c) > _MAX_POINTS:
        c = c.sample(_MAX_POINTS, random_state=0)
    size = 6 + 14 * np.sqrt(c["clv"].clip(lower=0) / max(float(c["clv"].max()), 1e-12))
    fig = go.Figure(
        go.Scattergl(
            x=c["days_since_last"],
            y=c["p_alive"],
            mode="markers",
            marker={
                "size": size,
                "color": c["frequency"] + 1,
                "colorscale": "Viridis",
                "colorbar": {"title": "purchases"},
                "opacity": 0.6,
            },
            text=[
                f"{s}: {result.currency} {v:,.0f}; still active {p:.0%} "
                f"(90 % interval {lo:.0%} to {hi:.0%})"
                if lo == lo
                else f"{s}: {result.currency} {v:,.0f}; still active {p:.0%}"
                for s, v, p, lo, hi in zip(
                    c["segment"],
                    c["clv"],
                    c["p_alive"],
                    c["p_alive_lower"],
                    c["p_alive_upper"],
                    strict=True,
                )
            ],
        )
    )
    fig.update_layout(
        title="Chance each customer is still active",
        xaxis_title="days since last purchase",
        yaxis_title="probability still active",
        yaxis_tickformat=".0%",
    )
    return fig


def cohort_heatmap(cohorts: Cohorts, *, kind: str = "customers") -> go.Figure:
    """Retention by monthly acquisition cohort (``kind`` = ``customers`` or ``revenue``)."""
    m = cohorts.customer_matrix() if kind == "customers" else cohorts.revenue_matrix()
    z = m.to_numpy(dtype=float)
    text = np.where(np.isfinite(z), np.char.mod("%.0f%%", np.nan_to_num(z) * 100), "")
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(a) for a in m.columns],
            y=[d.strftime("%Y-%m") for d in m.index],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1 if kind == "customers" else None,
            colorbar={"tickformat": ".0%"},
        )
    )
    fig.update_layout(
        title=f"{'Customer' if kind == 'customers' else 'Revenue'} retention "
        "by first-purchase month",
        xaxis_title="months since first purchase",
        yaxis_title="first-purchase month",
        yaxis_autorange="reversed",
    )
    return fig


def segment_chart(result: CustomersResult) -> go.Figure:
    """Named RFM segments: share of customers, revenue and expected value."""
    s = result.segments
    total_customers = max(int(s["customers"].sum()), 1)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(y=s.index, x=s["customers"] / total_customers, name="customers", orientation="h")
    )
    fig.add_trace(go.Bar(y=s.index, x=s["revenue_share"], name="revenue to date", orientation="h"))
    fig.add_trace(go.Bar(y=s.index, x=s["clv_share"], name="expected value", orientation="h"))
    fig.update_layout(
        title="Customer segments: size and value",
        barmode="group",
        xaxis_tickformat=".0%",
        yaxis_autorange="reversed",
    )
    return fig


def holdout_by_frequency_chart(validation: HoldoutValidation) -> go.Figure:
    """Mean holdout purchases by calibration frequency: actual vs predicted."""
    b = validation.by_frequency
    fig = go.Figure()
    fig.add_trace(go.Bar(x=b["frequency"], y=b["actual"], name="actual"))
    fig.add_trace(go.Bar(x=b["frequency"], y=b["predicted"], name="model"))
    fig.update_layout(
        title=f"Holdout check by past purchases ({validation.quality} fit)",
        xaxis_title="repeat purchases in the calibration period",
        yaxis_title="mean purchases in the holdout period",
        barmode="group",
    )
    return fig


def holdout_tracking_chart(validation: HoldoutValidation) -> go.Figure:
    """Cumulative repeat purchases over time: actual vs model."""
    t = validation.tracking
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t["date"], y=t["actual"], mode="lines", name="actual"))
    fig.add_trace(
        go.Scatter(x=t["date"], y=t["predicted"], mode="lines", name="model", line={"dash": "dash"})
    )
    fig.add_vline(x=str(validation.calibration_end), line_dash="dot")
    fig.update_layout(
        title="Cumulative repeat purchases: model vs actual",
        xaxis_title="date",
        yaxis_title="repeat purchases (cumulative)",
    )
    return fig


def cohort_retention_chart(result: SubscriberBaseResult) -> go.Figure:
    """Share of each monthly cohort still paying, by renewals, from its own sBG fit."""
    curves = cohort_retention_curves(result.subscriptions.cohort_fits)
    fig = go.Figure()
    for cohort, g in curves.groupby("cohort", sort=True):  # cohorts, not customers
        fig.add_trace(go.Scatter(x=g["renewals"], y=g["survival"], name=str(cohort)[:7]))
    fig.update_layout(
        title="Subscribers still paying, by monthly cohort (sBG)",
        xaxis_title="renewals after the first payment",
        yaxis_title="share still paying",
    )
    return fig


def figures(result: CustomersResult | SubscriberBaseResult) -> dict[str, Any]:
    """The customer charts for the report and web app, in display order, keyed by title."""
    if isinstance(result, SubscriberBaseResult):
        return {
            **subscription_figures(result.subscriptions),
            "Retention by cohort (sBG)": cohort_retention_chart(result),
        }
    figs: dict[str, Any] = {
        "Who holds the value": value_distribution_chart(result),
        "Chance each customer is still active": p_alive_chart(result),
        "Customer segments": segment_chart(result),
        "Customer retention by cohort": cohort_heatmap(result.cohorts, kind="customers"),
        "Revenue retention by cohort": cohort_heatmap(result.cohorts, kind="revenue"),
    }
    if result.validation is not None:
        figs["Holdout check by past purchases"] = holdout_by_frequency_chart(result.validation)
        figs["Cumulative repeat purchases"] = holdout_tracking_chart(result.validation)
    return figs
