"""Charts of the landscape result (Plotly figures; computing lives elsewhere)."""

from __future__ import annotations

import plotly.graph_objects as go

from levelfield.landscape._analysis import LandscapeResult

__all__ = [
    "attribution_figure",
    "distinctiveness_figure",
    "figures",
    "group_profile_figure",
    "homogeneity_figure",
    "market_map_figure",
    "price_position_figure",
]

_PALETTE = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#B279A2",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#9D755D",
    "#FF9DA6",
    "#BAB0AC",
)
_SELF = "#D62728"


def market_map_figure(result: LandscapeResult) -> go.Figure:
    """2-D MDS map: firms coloured by strategic group, the business highlighted,
    empty regions between groups marked."""
    f = result.firms
    fig = go.Figure()
    for g in sorted(f["group"].unique()):
        sub = f[(f["group"] == g) & ~f["self"]]
        fig.add_trace(
            go.Scatter(
                x=sub["x"],
                y=sub["y"],
                mode="markers",
                name=f"group {g}",
                marker={
                    "size": 10,
                    "color": _PALETTE[(int(g) - 1) % len(_PALETTE)],
                    "opacity": 0.85,
                },
                text=sub["name"],
                customdata=sub[["distinctiveness", "nearest_rival"]].to_numpy(),
                hovertemplate=(
                    "<b>%{text}</b><br>group " + str(g) + "<br>distinctiveness %{customdata[0]:.2f}"
                    "<br>nearest rival %{customdata[1]}<extra></extra>"
                ),
                hoverinfo="text",
            )
        )
    me = f[f["self"]]
    if len(me):
        fig.add_trace(
            go.Scatter(
                x=me["x"],
                y=me["y"],
                mode="markers+text",
                name=f"{me['name'].iloc[0]} (you)",
                text=me["name"],
                textposition="top center",
                marker={
                    "size": 18,
                    "symbol": "star",
                    "color": _SELF,
                    "line": {"width": 1, "color": "black"},
                },
                hovertemplate="<b>%{text}</b> (you)<extra></extra>",
            )
        )
    if len(result.gaps):
        fig.add_trace(
            go.Scatter(
                x=result.gaps["x"],
                y=result.gaps["y"],
                mode="markers",
                name="open ground?",
                marker={"size": 22, "symbol": "circle-open", "color": "#555", "line": {"width": 2}},
                hovertemplate="unoccupied position (a hypothesis to test)<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"Market map (metric MDS, stress {result.stress:.3f})",
        xaxis={"title": "", "showticklabels": False, "zeroline": False},
        yaxis={"title": "", "showticklabels": False, "zeroline": False, "scaleanchor": "x"},
        legend={"orientation": "h"},
        template="plotly_white",
    )
    return fig


def distinctiveness_figure(result: LandscapeResult) -> go.Figure:
    """Horizontal bars of each firm's distinctiveness, the business highlighted."""
    f = result.firms.sort_values("distinctiveness", kind="stable")
    colors = [_SELF if s else "#9BB7D4" for s in f["self"]]
    fig = go.Figure(
        go.Bar(
            x=f["distinctiveness"],
            y=f["name"],
            orientation="h",
            marker={"color": colors},
            customdata=f[["percentile", "nearest_rival"]].to_numpy(),
            hovertemplate=(
                "<b>%{y}</b><br>distinctiveness %{x:.2f}<br>percentile %{customdata[0]:.0f}"
                "<br>nearest rival %{customdata[1]}<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title=f"Distinctiveness: mean distance to the {result.k} nearest rivals",
        xaxis={"title": "distance (0 = identical, 1 = nothing in common)", "range": [0, 1]},
        height=max(320, 18 * len(f) + 120),
        template="plotly_white",
    )
    return fig


def homogeneity_figure(result: LandscapeResult) -> go.Figure:
    """SHI gauge, or SHI over snapshot dates when there is a trend."""
    if len(result.trend) >= 2:
        t = result.trend
        fig = go.Figure(
            go.Scatter(
                x=t["snapshot_date"],
                y=t["shi"],
                mode="lines+markers",
                customdata=t[["sdi", "effective_strategies", "firms"]].to_numpy(),
                hovertemplate=(
                    "%{x|%Y-%m-%d}<br>SHI %{y:,.0f}<br>SDI %{customdata[0]:.2f}"
                    "<br>%{customdata[1]:.1f} effective strategies among %{customdata[2]} firms"
                    "<extra></extra>"
                ),
            )
        )
        fig.update_layout(
            title="Strategic homogeneity index over time (higher = more alike)",
            yaxis={"title": "SHI (0–10,000)", "range": [0, 10_000]},
            template="plotly_white",
        )
        return fig
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number",
            value=result.shi,
            number={"valueformat": ",.0f"},
            title={
                "text": f"SHI (SDI {result.sdi:.2f}, "
                f"{result.effective_strategies:.1f} effective strategies)"
            },
            gauge={
                "axis": {"range": [0, 10_000]},
                "bar": {"color": "#333"},
                "steps": [
                    {"range": [0, 2500], "color": "#C7E9C0"},
                    {"range": [2500, 5000], "color": "#FDD49E"},
                    {"range": [5000, 10_000], "color": "#FC9272"},
                ],
            },
        )
    )
    fig.update_layout(title="Strategic homogeneity index", template="plotly_white")
    return fig


def group_profile_figure(result: LandscapeResult) -> go.Figure:
    """What sets each strategic group apart: share of its firms with each feature."""
    gp = result.group_profiles
    attr = gp[gp["kind"] == "attribute"]
    fig = go.Figure()
    for g in sorted(result.firms["group"].unique()):
        sub = attr[attr["group"] == g]
        fig.add_trace(
            go.Bar(
                x=sub["group_share"],
                y=sub["feature"],
                orientation="h",
                name=f"group {g}",
                marker={"color": _PALETTE[(int(g) - 1) % len(_PALETTE)]},
                customdata=sub[["market_share"]].to_numpy(),
                hovertemplate=(
                    "%{y}<br>%{x:.0%} of the group vs %{customdata[0]:.0%} of the market"
                    "<extra>group " + str(g) + "</extra>"
                ),
            )
        )
    fig.update_layout(
        title="Strategic groups: features over-represented in each group",
        xaxis={"title": "share of the group's firms", "tickformat": ".0%", "range": [0, 1]},
        barmode="group",
        height=max(320, 22 * len(attr) + 140),
        template="plotly_white",
    )
    return fig


def attribution_figure(result: LandscapeResult) -> go.Figure:
    """What makes the business similar to its nearest rivals (attributes and words)."""
    a = result.attribution.head(15).iloc[::-1]
    labels = [
        f"{f} = {v}" if k == "attribute" and v else (f"“{f}”" if k == "word" else f)
        for k, f, v in zip(a["kind"], a["feature"], a["value"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=a["share_of_similarity"],
            y=labels,
            orientation="h",
            marker={"color": ["#4C78A8" if k == "attribute" else "#F58518" for k in a["kind"]]},
            hovertemplate="%{y}<br>%{x:.0%} of your similarity to your nearest rivals"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"What makes you similar to your {result.k} nearest rivals",
        xaxis={"title": "share of similarity", "tickformat": ".0%"},
        height=max(320, 22 * len(a) + 140),
        template="plotly_white",
    )
    return fig


def price_position_figure(result: LandscapeResult) -> go.Figure:
    """Each rival's price relative to yours (median over the products it prices), by month."""
    fig = go.Figure()
    pp = result.prices
    if pp is not None:
        rt = pp.rivals_trend
        for i, (name, g) in enumerate(rt.groupby("competitor", sort=True)):
            fig.add_trace(
                go.Scatter(
                    x=g["month"],
                    y=g["relative_price"],
                    mode="lines+markers",
                    name=str(name),
                    line={"color": _PALETTE[i % len(_PALETTE)]},
                )
            )
        if len(pp.trend):
            fig.add_trace(
                go.Scatter(
                    x=pp.trend["month"],
                    y=[1.0] * len(pp.trend),
                    mode="lines",
                    name="your price",
                    line={"color": _SELF, "dash": "dash"},
                )
            )
        for m in pp.moves.loc[pp.moves["recent"]].itertuples(index=False):
            fig.add_annotation(
                x=m.to_date,
                y=1.0,
                text=f"{m.competitor}: {m.item} {m.change:+.0%}",
                showarrow=True,
                arrowhead=2,
                ay=-40,
            )
    fig.update_layout(
        title="Rivals' prices relative to yours (1 = the same price)",
        xaxis_title="month",
        yaxis_title="rival price / your price",
        template="plotly_white",
    )
    return fig


def figures(result: LandscapeResult) -> dict[str, go.Figure]:
    """The landscape charts for the report and web app, in display order."""
    out = {
        "Market map": market_map_figure(result),
        "Distinctiveness": distinctiveness_figure(result),
        "Strategic homogeneity": homogeneity_figure(result),
        "Strategic groups": group_profile_figure(result),
    }
    if len(result.attribution):
        out["What makes you similar"] = attribution_figure(result)
    if result.prices is not None and len(result.prices.rivals_trend):
        out["Prices against rivals over time"] = price_position_figure(result)
    return out
