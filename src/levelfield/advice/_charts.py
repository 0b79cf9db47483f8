"""Charts for the advice plan (Plotly figures; computing stays in the other modules)."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from levelfield.advice._advise import AdvicePlan

__all__ = ["figures"]

_STATUS_COLOURS = {"good": "#2e7d32", "watch": "#f9a825", "poor": "#c62828", "missing": "#9e9e9e"}


def actions_chart(plan: AdvicePlan) -> go.Figure:
    """Expected annual value of each action with its range, in rank order."""
    acts = list(plan.actions)[::-1]
    fig = go.Figure(
        go.Bar(
            x=[a.impact.mid for a in acts],
            y=[f"{a.rank}. {a.title}" for a in acts],
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [a.impact.high - a.impact.mid for a in acts],
                "arrayminus": [a.impact.mid - a.impact.low for a in acts],
            },
            marker_color=["#1565c0" if a.rank <= 3 else "#90a4ae" for a in acts],
            hovertext=[a.impact.basis for a in acts],
        )
    )
    fig.update_layout(
        title="What each action is worth a year (range), best first",
        xaxis_title=f"expected gross profit a year ({plan.currency})",
        height=max(300, 60 * len(acts) + 120),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        yaxis={"automargin": True},
    )
    return fig


def automation_chart(plan: AdvicePlan) -> go.Figure:
    """Hours freed per week against payback, one point per task."""
    cands = [c for c in plan.automation if math.isfinite(c.payback_months)]
    fig = go.Figure(
        go.Scatter(
            x=[c.payback_months for c in cands],
            y=[c.hours_freed_per_week for c in cands],
            mode="markers+text",
            text=[c.task for c in cands],
            textposition="top center",
            marker={"size": [8 + c.net_annual_benefit / 500 for c in cands], "sizemode": "area"},
        )
    )
    fig.update_layout(
        title="Automation: hours given back to staff vs months to pay back",
        xaxis_title="payback (months)",
        yaxis_title="hours freed per week",
    )
    return fig


def scorecard_chart(plan: AdvicePlan) -> go.Figure:
    """Balanced scorecard as a coloured table: one row per metric."""
    rows = list(plan.scorecard)
    fig = go.Figure(
        go.Table(
            header={"values": ["Perspective", "Metric", "Value", "Status", "What good looks like"]},
            cells={
                "values": [
                    [m.perspective for m in rows],
                    [m.name for m in rows],
                    [m.formatted() for m in rows],
                    [m.status for m in rows],
                    [m.reference for m in rows],
                ],
                "fill_color": [["white"] * len(rows)] * 3
                + [[_STATUS_COLOURS[m.status] for m in rows]]
                + [["white"] * len(rows)],
                "align": "left",
            },
        )
    )
    fig.update_layout(title="Balanced scorecard", height=80 + 40 * len(rows))
    return fig


def figures(plan: AdvicePlan) -> dict[str, go.Figure]:
    """The advice charts for the report and the web app, in display order."""
    out = {"Actions ranked by value": actions_chart(plan)}
    if plan.automation:
        out["Automation priorities"] = automation_chart(plan)
    out["Balanced scorecard"] = scorecard_chart(plan)
    return out
