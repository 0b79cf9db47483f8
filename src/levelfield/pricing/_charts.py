"""Charts for the pricing results (Plotly figures; computing stays in the result)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from levelfield.errors import ConfigError
from levelfield.pricing._result import PricingResult

__all__ = [
    "demand_curve_chart",
    "elasticity_chart",
    "figures",
    "pilot_chart",
    "recommendations_table",
]


def _check(result: object) -> PricingResult:
    if not isinstance(result, PricingResult):
        raise ConfigError(f"expected a PricingResult, not {type(result).__name__}")
    return result


def _top_skus(result: PricingResult, n: int) -> list[str]:
    est = result.estimated.sort_values("revenue", ascending=False)
    return [str(s) for s in est["sku"].head(n)]


def demand_curve_chart(
    result: PricingResult, skus: Sequence[str] | None = None, *, max_products: int = 6
) -> go.Figure:
    """Weekly units against posted price, with the fitted constant-elasticity curve.

    Points are the product's selling weeks with week and promotion effects removed;
    the line is ``q = A p^e`` with the (partially pooled) elasticity.
    """
    res = _check(result)
    chosen = list(skus) if skus is not None else _top_skus(res, max_products)
    chosen = [s for s in chosen if s in set(res.estimated["sku"].astype(str))][:max_products]
    if not chosen:
        fig = go.Figure()
        fig.update_layout(title="Demand curves: no product with an elasticity")
        return fig
    cols = min(3, len(chosen))
    rows = math.ceil(len(chosen) / cols)
    el = res.elasticities
    label = dict(zip(el["sku"].astype(str), el["name"].astype(str), strict=True))
    elas = dict(zip(el["sku"].astype(str), el["elasticity"].astype(float), strict=True))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"{label[s]} (e = {elas[s]:.2f})" for s in chosen],
    )
    panel = res.panel
    curve = res.curve.set_index("sku")
    for k, sku in enumerate(chosen):
        r, c = k // cols + 1, k % cols + 1
        cv = curve.loc[sku]
        pts = panel.loc[(panel["sku"] == sku) & panel["used"]]
        if "channel" in panel.columns:
            pts = pts.loc[pts["channel"] == cv["channel"]]
        fig.add_trace(
            go.Scatter(
                x=pts["posted_price"],
                y=pts["adjusted_quantity"],
                mode="markers",
                marker={"size": 5, "opacity": 0.5, "color": "#4c78a8"},
                name="weeks",
                showlegend=k == 0,
                hovertemplate="price %{x:.2f}<br>units %{y:.1f}<extra></extra>",
            ),
            row=r,
            col=c,
        )
        e = elas[sku]
        lo, hi = float(pts["posted_price"].min()), float(pts["posted_price"].max())
        grid = np.linspace(lo * 0.9, hi * 1.1, 40)
        q = cv["smearing"] * np.exp(cv["intercept"] + e * (np.log(grid) - cv["x_mean"]))
        fig.add_trace(
            go.Scatter(
                x=grid,
                y=q,
                mode="lines",
                line={"color": "#e45756"},
                name="fitted",
                showlegend=k == 0,
            ),
            row=r,
            col=c,
        )
    fig.update_layout(
        title="Demand curves: weekly units by posted price",
        height=320 * rows,
        template="plotly_white",
    )
    fig.update_xaxes(title_text=f"posted price ({res.currency})")
    fig.update_yaxes(title_text="units per week")
    return fig


def elasticity_chart(result: PricingResult, *, max_products: int = 40) -> go.Figure:
    """Product elasticities with 95 % intervals: own estimate and partially pooled."""
    res = _check(result)
    est = res.estimated.sort_values("revenue", ascending=False).head(max_products)
    est = est.sort_values("elasticity")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=est["elasticity_raw"],
            y=est["name"],
            mode="markers",
            marker={"symbol": "circle-open", "color": "#9d9d9d"},
            error_x={
                "type": "data",
                "array": 1.96 * est["se_raw"],
                "color": "#c0c0c0",
            },
            name="own data only",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=est["elasticity"],
            y=est["name"],
            mode="markers",
            marker={"color": "#4c78a8"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": est["ci_high"] - est["elasticity"],
                "arrayminus": est["elasticity"] - est["ci_low"],
            },
            name="pooled with category",
        )
    )
    fig.add_vline(
        x=-1.0, line_dash="dash", line_color="#e45756", annotation_text="elastic | inelastic"
    )
    fig.update_layout(
        title="Price elasticity by product (95 % intervals)",
        xaxis_title="elasticity (% change in units per 1 % price change)",
        height=max(300, 22 * len(est) + 120),
        template="plotly_white",
    )
    return fig


def recommendations_table(result: PricingResult) -> go.Figure:
    """The recommended prices with the guardrails that bound them and expected effects."""
    res = _check(result)
    r = res.recommendations.copy()
    r = r.sort_values("profit_change_year", ascending=False, na_position="last")

    def fmt(v: float, spec: str) -> str:
        return "" if v is None or not np.isfinite(v) else format(v, spec)

    cells = [
        r["name"].astype(str).tolist(),
        [fmt(v, ".2f") for v in r["current_price"]],
        [fmt(v, ".2f") for v in r["recommended_price"]],
        [fmt(v, "+.0%") for v in r["change"]],
        [fmt(v, ".2f") for v in r["elasticity"]],
        r["basis"].astype(str).tolist(),
        [s or "" for s in r["reasons"]],
        [
            "" if not np.isfinite(m) else f"{m:,.0f} ({lo:,.0f} to {hi:,.0f})"
            for m, lo, hi in zip(
                r["profit_change_year"],
                r["profit_change_year_low"],
                r["profit_change_year_high"],
                strict=True,
            )
        ],
    ]
    fig = go.Figure(
        go.Table(
            header={
                "values": [
                    "product",
                    "price now",
                    "recommended",
                    "change",
                    "elasticity",
                    "basis",
                    "bounded by",
                    f"profit/yr ({res.currency}, 95 % band)",
                ],
                "align": "left",
            },
            cells={"values": cells, "align": "left"},
        )
    )
    fig.update_layout(title="Price recommendations and the rules that bound them")
    return fig


def pilot_chart(result: PricingResult) -> go.Figure:
    """Each pilot's relative effect on weekly units with its interval (and adjusted one),
    from the same read (:attr:`PilotResult.read`) as the headline and the finding."""
    res = _check(result)
    fig = go.Figure()
    if not res.pilots:
        fig.update_layout(title="Pilot results: no pilots imported")
        return fig
    names = [f"{p.name} [{p.sku}]" if p.sku else p.name for p in res.pilots]
    # the same read as the headline and the finding: the relative effect and its interval
    eff = 100 * np.array([p.relative_effect for p in res.pilots])
    lo = 100 * np.array([p.relative_ci[0] for p in res.pilots])
    hi = 100 * np.array([p.relative_ci[1] for p in res.pilots])
    fig.add_trace(
        go.Scatter(
            x=eff,
            y=names,
            mode="markers",
            marker={"size": 10, "color": "#4c78a8"},
            error_x={"type": "data", "symmetric": False, "array": hi - eff, "arrayminus": eff - lo},
            name="95 % interval",
        )
    )
    adj = [(name, p) for name, p in zip(names, res.pilots, strict=True) if p.looks > 1]
    if adj:
        a_eff = 100 * np.array([p.relative_effect for _, p in adj])
        a_lo = 100 * np.array([p.adjusted_relative_ci[0] for _, p in adj])
        a_hi = 100 * np.array([p.adjusted_relative_ci[1] for _, p in adj])
        fig.add_trace(
            go.Scatter(
                x=a_eff,
                y=[name for name, _ in adj],
                mode="markers",
                marker={"size": 1, "color": "#e45756"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": a_hi - a_eff,
                    "arrayminus": a_eff - a_lo,
                    "color": "#e45756",
                },
                name="adjusted for repeated looks",
            )
        )
    fig.add_vline(x=0.0, line_dash="dash", line_color="#888888")
    fig.update_layout(
        title="Pilot results: change in weekly units (difference-in-differences)",
        xaxis_title="change in weekly units (%)",
        template="plotly_white",
    )
    return fig


def figures(result: PricingResult) -> dict[str, go.Figure]:
    """The pricing charts for the report and the web app, in display order."""
    res = _check(result)
    out = {
        "Price recommendations": recommendations_table(res),
        "Price elasticity by product": elasticity_chart(res),
        "Demand curves": demand_curve_chart(res),
    }
    if res.pilots:
        out["Pilot results"] = pilot_chart(res)
    return out
