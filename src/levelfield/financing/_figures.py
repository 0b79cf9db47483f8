"""Charts of the financing analysis (Plotly figures from a result)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

if TYPE_CHECKING:
    from levelfield.financing._analysis import FinancingResult

__all__ = ["cash_figure", "offers_figure"]


def cash_figure(result: FinancingResult) -> go.Figure:
    """Closing cash per week: P10-P90 band, median and the buffer."""
    c = result.cash
    weeks = np.arange(1, c.cash_p50.size + 1)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=weeks, y=c.cash_p90, line={"width": 0}, name="P90"))
    fig.add_trace(go.Scatter(x=weeks, y=c.cash_p10, fill="tonexty", line={"width": 0}, name="P10"))
    fig.add_trace(go.Scatter(x=weeks, y=c.cash_p50, name="median"))
    fig.add_hline(y=c.buffer, line_dash="dot", annotation_text="buffer")
    fig.update_layout(xaxis_title="week", yaxis_title=f"cash ({result.currency})")
    return fig


def offers_figure(result: FinancingResult) -> go.Figure:
    """Median APR per offer with its 90 % band."""
    o = result.offers
    fig = go.Figure(
        go.Bar(
            x=o["apr_median"] * 100,
            y=o["offer_id"],
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (o["apr_p95"] - o["apr_median"]) * 100,
                "arrayminus": (o["apr_median"] - o["apr_p05"]) * 100,
            },
        )
    )
    fig.update_layout(xaxis_title="APR (%)", yaxis={"autorange": "reversed"})
    return fig
