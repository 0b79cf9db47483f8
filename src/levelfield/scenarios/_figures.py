"""Charts of a scenarios result (Plotly figures; computing lives elsewhere)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from levelfield.scenarios._analysis import ScenariosResult

__all__ = ["figures"]

_BLUE = "31, 119, 180"


def _fan(result: ScenariosResult, metric: str, title: str) -> go.Figure:
    df = result.fan[(result.fan["scenario"] == "baseline") & (result.fan["metric"] == metric)]
    x = list(df["month"])
    fig = go.Figure()
    for lo, hi, alpha, label in (
        ("p05", "p95", 0.15, "90% range"),
        ("p25", "p75", 0.35, "50% range"),
    ):
        fig.add_trace(go.Scatter(x=x, y=list(df[hi]), mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(df[lo]),
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=f"rgba({_BLUE}, {alpha})",
                name=label,
            )
        )
    fig.add_trace(go.Scatter(x=x, y=list(df["p50"]), mode="lines", name="median",
                             line={"color": f"rgb({_BLUE})"}))  # fmt: skip
    fig.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    fig.update_layout(title=title, xaxis_title="month", yaxis_title=result.currency,
                      template="plotly_white")  # fmt: skip
    return fig


def _tornado(result: ScenariosResult) -> go.Figure:
    df = result.tornado[result.tornado["swing"] > 0].iloc[::-1]
    base = float(result.tornado["profit_at_median"].iloc[0]) if len(result.tornado) else 0.0
    fig = go.Figure()
    fig.add_trace(go.Bar(y=list(df["driver"]), x=list(df["profit_at_p10"] - base), base=base,
                         orientation="h", name="driver at P10"))  # fmt: skip
    fig.add_trace(go.Bar(y=list(df["driver"]), x=list(df["profit_at_p90"] - base), base=base,
                         orientation="h", name="driver at P90"))  # fmt: skip
    fig.update_layout(
        title=f"Profit over {result.year_months} months with one driver at P10 / P90",
        barmode="overlay",
        xaxis_title=result.currency,
        template="plotly_white",
    )
    return fig


def _sobol(result: ScenariosResult) -> go.Figure:
    df = result.sobol.sort_values("total", ascending=True)
    fig = go.Figure()
    fig.add_trace(go.Bar(y=list(df["driver"]), x=list(df["first_order"].clip(lower=0)),
                         orientation="h", name="first order (alone)"))  # fmt: skip
    fig.add_trace(go.Bar(y=list(df["driver"]), x=list(df["total"].clip(lower=0)),
                         orientation="h", name="total (with interactions)"))  # fmt: skip
    fig.update_layout(title="Share of profit variance per driver (Sobol indices)",
                      barmode="group", xaxis_title="share of variance",
                      xaxis_tickformat=".0%", template="plotly_white")  # fmt: skip
    return fig


def _strategies(result: ScenariosResult) -> go.Figure:
    g = result.strategy_gains[result.strategy_gains["scenario"] == "baseline"]
    fig = go.Figure()
    for name, df in g.groupby("strategy", sort=False):
        fig.add_trace(go.Scatter(x=list(df["gain"]), y=list(df["quantile"]), mode="lines",
                                 name=str(name)))  # fmt: skip
    fig.add_vline(x=0, line={"color": "grey", "dash": "dot"})
    fig.update_layout(
        title=f"Change in profit over {result.year_months} months per strategy "
        "(cumulative distribution, same futures)",
        xaxis_title=result.currency,
        yaxis_title="share of futures at or below",
        yaxis_tickformat=".0%",
        template="plotly_white",
    )
    return fig


def _risk(result: ScenariosResult) -> go.Figure:
    df = result.risk
    fig = go.Figure()
    fig.add_trace(go.Bar(x=list(df["scenario"]), y=list(df["p_loss_year"]), name="P(loss)"))
    fig.add_trace(go.Bar(x=list(df["scenario"]), y=list(df["p_cash_negative"]),
                         name="P(cash < 0)"))  # fmt: skip
    fig.update_layout(title="Risk under each scenario", barmode="group",
                      yaxis_tickformat=".0%", template="plotly_white")  # fmt: skip
    return fig


def figures(result: ScenariosResult) -> dict[str, Any]:
    """Charts in display order: cash and profit fans, risk per scenario, tornado, Sobol,
    strategy differences."""
    figs: dict[str, Any] = {
        "Cash over the horizon (fan chart)": _fan(result, "cash", "Cash at month end"),
        "Monthly profit (fan chart)": _fan(result, "profit", "Monthly profit"),
        "Risk under each scenario": _risk(result),
        "What moves profit (tornado)": _tornado(result),
        "Sobol sensitivity indices": _sobol(result),
    }
    if not result.strategy_gains.empty:
        figs["Strategy comparison (difference vs doing nothing)"] = _strategies(result)
    return figs
