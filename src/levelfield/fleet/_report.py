"""The association's report: one HTML file built only from a published peer release.

``levelfield fleet report DIR -o FILE`` reads ``DIR/peer_benchmarks.parquet`` and
``DIR/peer_privacy.json`` (what an association may show anyone) and nothing else: no
business's findings, no ledger. It shows each metric's distribution across members (the
published p10/p25/p50/p75/p90 of every group as a box), and systemic findings estimated
from those aggregates: the typical effective fee of each marketplace, the share of
members above a concentration threshold, and the compliance burden. Each estimate says
how it was made from the published percentiles.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup

from levelfield._version import __version__
from levelfield.errors import DataError
from levelfield.exposure import HHI_HIGH, compliance_costs
from levelfield.fleet._kernels import CHANNEL_FEE_PREFIX
from levelfield.report import PEER_LABELS, asset_text, plotly_js, read_peer_release, report_csp
from levelfield.workspace import SETTINGS

__all__ = ["SystemicFinding", "systemic_findings", "write_fleet_report"]

_KNOTS = ("p10", "p25", "p50", "p75", "p90")
#: Compliance cost above this share of revenue is counted as a heavy burden.
COMPLIANCE_HEAVY = 0.10


@dataclass(frozen=True)
class SystemicFinding:
    """One fleet-wide fact estimated from published aggregates, and how."""

    title: str
    text: str
    method: str


def _published(table: pd.DataFrame) -> pd.DataFrame:
    return table.loc[(table["status"] != "suppressed") & table["n"].notna()].copy()


def _share_above(rows: pd.DataFrame, threshold: float) -> tuple[float, float]:
    """Estimated members above ``threshold`` (interpolating each group's percentiles)."""
    knots = np.maximum.accumulate(rows[list(_KNOTS)].to_numpy(dtype=float), axis=1)
    q = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    below = np.array([np.interp(threshold, k, q) for k in knots])  # groups, not members
    n = rows["n"].to_numpy(dtype=float)
    return float(((1 - below) * n).sum()), float(n.sum())


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2.0)])


def systemic_findings(table: pd.DataFrame) -> list[SystemicFinding]:
    """Fleet-wide findings from a peer release's published groups only."""
    pub = _published(table)
    out = []
    fees = pub.loc[pub["metric"].str.startswith(CHANNEL_FEE_PREFIX)]
    for metric, rows in fees.groupby("metric", sort=True):  # marketplaces (a few)
        med = _weighted_median(rows["p50"].to_numpy(float), rows["n"].to_numpy(float))
        channel = str(metric)[len(CHANNEL_FEE_PREFIX) :]
        out.append(
            SystemicFinding(
                f"Effective fee on {channel}",
                f"Members selling on {channel} pay a median effective fee of {med:.1%} of the "
                f"revenue they make there ({int(rows['n'].sum()):,} members in "
                f"{len(rows)} published group(s); group medians from "
                f"{rows['p50'].min():.1%} to {rows['p50'].max():.1%}).",
                "member-weighted median of the published group medians",
            )
        )
    high = f"highly concentrated (HHI above {HHI_HIGH:,.0f})"
    heavy = f"an estimated compliance cost above {COMPLIANCE_HEAVY:.0%} of revenue"
    for metric, threshold, words in (
        ("exposure.supplier_hhi", HHI_HIGH, f"supplier spend {high}"),
        ("exposure.customer_hhi", HHI_HIGH, f"customer revenue {high}"),
        ("exposure.compliance_cost_share", COMPLIANCE_HEAVY, heavy),
    ):
        rows = pub.loc[pub["metric"] == metric]
        if rows.empty:
            continue
        above, n = _share_above(rows, threshold)
        med = _weighted_median(rows["p50"].to_numpy(float), rows["n"].to_numpy(float))
        unit = "share" if metric.endswith("share") else "index"
        typical = f"{med:.1%}" if unit == "share" else f"{med:,.0f}"
        out.append(
            SystemicFinding(
                PEER_LABELS.get(metric, metric).capitalize(),
                f"About {above / n:.0%} of {n:,.0f} members ({above:,.0f}) have {words}; the "
                f"typical member's value is {typical}.",
                "each published group's share above the threshold interpolated linearly "
                "between its p10-p90 (capped at 10 % and 90 %), weighted by its count",
            )
        )
    burden = _compliance_total(pub, table)
    return out + ([burden] if burden else [])


def _compliance_total(pub: pd.DataFrame, table: pd.DataFrame) -> SystemicFinding | None:
    """The members' total compliance cost in money, from the published group totals."""
    if "total" not in pub.columns:  # a release written before totals were published
        return None
    rows = pub.loc[(pub["metric"] == "exposure.compliance_cost") & pub["total"].notna()]
    if rows.empty:
        return None
    cc = compliance_costs()
    study = cc.loc[cc["study"] == SETTINGS["exposure.compliance_study"].default].iloc[0]
    cur, source = str(study["currency"]), str(study["source"])
    source = source[: source.find(")") + 1] if ")" in source else source
    total, n = float(rows["total"].sum()), int(rows["n"].sum())
    hidden = table.loc[
        (table["metric"] == "exposure.compliance_cost") & (table["status"] == "suppressed")
    ]
    left = (
        f" Members in {len(hidden):,} suppressed group(s) are not counted, so the true total "
        "is higher."
        if len(hidden)
        else ""
    )
    return SystemicFinding(
        "Total compliance burden",
        f"The {n:,} members in {len(rows):,} published group(s) bear an estimated "
        f"{cur} {total:,.0f} a year of regulatory compliance cost in all, "
        f"{cur} {total / n:,.0f} per member on average.{left}",
        "sum of the published group totals; each member's cost is its employees times the "
        f"per-employee cost of its size band in {source} ({cur}, prices of "
        f"{study['price_year']}), an order of magnitude outside the United States",
    )


def _distribution_chart(rows: pd.DataFrame, metric: str) -> go.Figure:
    """One box per published group, drawn from its percentiles (whiskers p10 and p90)."""
    keys = zip(rows["sector"], rows["region"], rows["size_band"], rows["n"], strict=True)
    names = [
        " / ".join(str(v) for v in (s, r, z) if v != "pooled") + f" (n={int(n):,})"
        for s, r, z, n in keys
    ]
    fig = go.Figure(
        go.Box(
            name=metric,
            x=names,
            lowerfence=rows["p10"],
            q1=rows["p25"],
            median=rows["p50"],
            q3=rows["p75"],
            upperfence=rows["p90"],
            boxpoints=False,
        )
    )
    fig.update_layout(margin={"l": 40, "r": 10, "t": 10, "b": 120}, showlegend=False, height=360)
    if str(rows["unit"].iloc[0]) == "share":
        fig.update_yaxes(tickformat=".0%")
    return fig


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="generator" content="levelfield {version}">
<title>Fleet report: peer benchmarks of {members} members</title>
<link rel="icon" href="data:,"><style>{css}</style></head>
<body><main>
<header><p class="muted">levelfield fleet report · {generated}</p>
<h1>Peer benchmarks of the association</h1>
<p class="muted">Built only from the published release: {groups} published groups over {metrics}
metrics; {suppressed} groups suppressed. {privacy}</p></header>
<section class="card" id="systemic"><h2>Systemic findings</h2>
<ul class="findings">{systemic}</ul></section>
{sections}
</main>
<script>{plotly_js}</script><script>{charts_js}</script>
</body></html>
"""


def _section(metric: str, rows: pd.DataFrame, idx: int) -> str:
    fig = _distribution_chart(rows, metric)
    cid = f"fleet-{idx}"
    label = html.escape(PEER_LABELS.get(metric, metric.replace(CHANNEL_FEE_PREFIX, "fee rate on ")))
    data = fig.to_json().replace("</", "<\\/")
    return (
        f'<section class="card" id="m-{idx}" data-metric="{html.escape(metric)}"><h2>{label}</h2>'
        f'<p class="muted">{html.escape(metric)}: {int(rows["n"].sum()):,} members in '
        f"{len(rows)} published group(s); boxes p25-p75, line the median, whiskers p10 and "
        f'p90.</p><figure class="chart-box"><div class="lf-chart" id="{cid}" '
        f'data-figure="{cid}-data" role="img" aria-label="{label}"></div>'
        f'<script type="application/json" id="{cid}-data">{data}</script></figure></section>'
    )


def write_fleet_report(directory: str | Path, output: str | Path) -> Path:
    """Write the association's one-file HTML report from ``DIRECTORY``'s peer release."""
    base = Path(directory)
    table = read_peer_release(base / "peer_benchmarks.parquet")
    privacy_file = base / "peer_privacy.json"
    privacy = json.loads(privacy_file.read_text()) if privacy_file.is_file() else {}
    pub = _published(table)
    if pub.empty:
        raise DataError(
            f"{base / 'peer_benchmarks.parquet'} publishes no group (all suppressed): lower k "
            "or pool more consenting members"
        )
    sections = "".join(
        _section(str(m), rows, i)
        for i, (m, rows) in enumerate(pub.groupby("metric", sort=True))  # metrics, not rows
    )
    systemic = "".join(
        f'<li class="sev-info"><strong>{html.escape(f.title)}.</strong> {html.escape(f.text)} '
        f'<span class="muted">({html.escape(f.method)})</span></li>'
        for f in systemic_findings(table)
    )
    statement = privacy.get("statement") or (
        f"k-anonymous release: every published group has at least k={privacy.get('k', '?')} "
        "consenting members; no noise added."
    )
    page = _PAGE.format(
        csp=report_csp(),
        version=__version__,
        members=f"{int(pub.groupby('metric')['n'].sum().max()):,}",
        css=asset_text("report.css"),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        groups=f"{len(pub):,}",
        metrics=pub["metric"].nunique(),
        suppressed=f"{int((table['status'] == 'suppressed').sum()):,}",
        privacy=html.escape(statement),
        systemic=systemic or "<li>No systemic finding: too few published groups.</li>",
        sections=sections,
        plotly_js=Markup(plotly_js()),
        charts_js=asset_text("charts.js").replace("</script", "<\\/script"),
    )
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
