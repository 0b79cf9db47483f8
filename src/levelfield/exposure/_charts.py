"""Plotly charts of an :class:`ExposureResult`; computing stays in ``_analyze``."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from levelfield.exposure._kernels import HHI_HIGH, HHI_MODERATE
from levelfield.exposure._metrics import as_float
from levelfield.exposure._result import ExposureResult

__all__ = [
    "concentration_chart",
    "country_risk_chart",
    "fee_waterfall_chart",
    "figures",
    "scorecard_radar",
]

_LABELS = {
    "customer": "Customers",
    "channel": "Sales channels",
    "platform": "Platforms",
    "product": "Products",
    "supplier": "Suppliers (spend)",
    "supplier_country": "Supplier countries (spend)",
}


def concentration_chart(result: ExposureResult) -> go.Figure:
    """HHI per dimension as bars, with the 2023 Merger Guidelines bands behind them."""
    c = result.concentration.dropna(subset=["hhi"])
    fig = go.Figure()
    top = max(10_000.0, float(c["hhi"].max()) if len(c) else 0.0)
    for lo, hi, color, name in (
        (0, HHI_MODERATE, "rgba(46,160,67,0.12)", "unconcentrated"),
        (HHI_MODERATE, HHI_HIGH, "rgba(219,171,9,0.15)", "moderately"),
        (HHI_HIGH, top, "rgba(207,34,46,0.10)", "highly"),
    ):
        fig.add_hrect(
            y0=lo,
            y1=hi,
            fillcolor=color,
            line_width=0,
            layer="below",
            annotation_text=name,
            annotation_position="top left",
        )
    fig.add_bar(
        x=[_LABELS.get(d, d) for d in c["dimension"]],
        y=c["hhi"],
        text=[f"{h:,.0f}" for h in c["hhi"]],
        textposition="outside",
        customdata=np.column_stack([c["top1_share"], c["n"]]) if len(c) else None,
        hovertemplate="%{x}<br>HHI %{y:,.0f}<br>largest %{customdata[0]:.1%}"
        "<br>%{customdata[1]} parts<extra></extra>",
        marker_color="#3b6ea5",
        name="HHI",
    )
    fig.update_layout(
        title="Concentration (HHI, 0-10,000; bands: 2023 US Merger Guidelines)",
        yaxis_title="HHI",
        yaxis_range=[0, top * 1.05],
        showlegend=False,
    )
    return fig


def fee_waterfall_chart(result: ExposureResult) -> go.Figure:
    """Revenue to margin after fees: COGS, then each channel's fees, as a waterfall."""
    ch = result.channels[result.channels["revenue"] > 0]
    known = ch[ch["fee_rate"].notna()]
    revenue = float(known["revenue"].sum())
    gm = result.metrics.get("gross_margin_rate", math.nan)
    x, y, measure = ["Revenue (fees known)"], [revenue], ["absolute"]
    if math.isfinite(gm):
        x.append("Cost of goods")
        y.append(-revenue * (1.0 - gm))
        measure.append("relative")
    for r in known.sort_values("fees_est", ascending=False).itertuples():
        if as_float(r.fees_est) != 0:
            x.append(f"Fees: {r.channel}")
            y.append(-as_float(r.fees_est))
            measure.append("relative")
    x.append("Margin after fees" if math.isfinite(gm) else "Revenue after fees")
    y.append(0.0)
    measure.append("total")
    fig = go.Figure(go.Waterfall(x=x, y=y, measure=measure, connector={"line": {"color": "#999"}}))
    fig.update_layout(
        title=f"Fee drag ({result.currency}, whole history)",
        showlegend=False,
        yaxis_title=result.currency,
    )
    return fig


def country_risk_chart(result: ExposureResult) -> go.Figure:
    """Supplier spend share per country, coloured by WGI governance risk."""
    c = result.countries
    fig = go.Figure()
    if len(c):
        fig.add_bar(
            x=c["name"].fillna(c["country"]),
            y=c["share"],
            marker={
                "color": c["risk"],
                "colorscale": "RdYlGn_r",
                "cmin": 0,
                "cmax": 100,
                "colorbar": {"title": "risk"},
            },
            text=[
                f"risk {r:.0f}" if np.isfinite(r) else "risk n/a"
                for r in c["risk"].astype("float64")
            ],
            textposition="outside",
            hovertemplate="%{x}<br>share of spend %{y:.1%}<br>%{text}<extra></extra>",
        )
    fig.update_layout(
        title="Supplier spend by country (colour: World Bank WGI risk 0-100)",
        yaxis_tickformat=".0%",
        yaxis_title="share of supplier spend",
        showlegend=False,
    )
    return fig


def scorecard_radar(result: ExposureResult) -> go.Figure:
    """The asymmetry scorecard as a radar; the two weakest dimensions are marked."""
    d = result.dimensions
    theta = [
        str(x) + (" (weakest)" if w else "")
        for x, w in zip(d["dimension"], d["weakest"], strict=True)
    ]
    r = [float(s) if np.isfinite(s) else 0.0 for s in d["score"].astype("float64")]
    fig = go.Figure(
        go.Scatterpolar(r=[*r, r[0]], theta=[*theta, theta[0]], fill="toself", name="score")
    )
    weak = d[d["weakest"]]
    if len(weak):
        fig.add_trace(
            go.Scatterpolar(
                r=weak["score"].astype("float64"),
                theta=[str(x) + " (weakest)" for x in weak["dimension"]],
                mode="markers",
                marker={"size": 14, "color": "#cf222e"},
                name="weakest",
            )
        )
    fig.update_layout(
        title="Asymmetry scorecard (0-100, higher = more level field)",
        polar={"radialaxis": {"range": [0, 100]}},
    )
    return fig


def figures(result: ExposureResult) -> dict[str, go.Figure]:
    """The exposure charts in display order, keyed by title."""
    return {
        "Asymmetry scorecard": scorecard_radar(result),
        "Concentration": concentration_chart(result),
        "Fee drag": fee_waterfall_chart(result),
        "Supplier countries": country_risk_chart(result),
    }
