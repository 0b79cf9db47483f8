"""The lender pack: one printable HTML file with what a lender asks for, and nothing more.

Offers ranked by true cost (APR by the actuarial method of Regulation Z, Appendix J, with
bands), the 13-week cash forecast (P10/P50/P90, the first week below the buffer, what
moves the low), the lender metrics with their usual thresholds and sources, and the data
sources and period. Only aggregates: no customer identifier, pseudonym or order appears.
The file has no script at all (its Content-Security-Policy forbids them) and a print
style sheet, so the browser's "Print to PDF" makes the PDF a lender asks for.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from markupsafe import Markup, escape

from levelfield._version import __version__
from levelfield.findings import ProgressCallback, no_progress
from levelfield.report._output import check_output_file
from levelfield.workspace import Workspace

if TYPE_CHECKING:
    from levelfield.financing import FinancingResult

__all__ = [
    "LENDER_CSP",
    "LenderPack",
    "build_lender_pack",
    "render_lender_pack",
    "write_lender_pack",
]

#: No script may run, nothing loads from elsewhere; the chart is inline SVG.
LENDER_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "base-uri 'none'; object-src 'none'"
)


@dataclass(frozen=True)
class LenderPack:
    """What the pack shows, as plain data (rows are lists of display strings)."""

    business_name: str
    currency: str
    generated_at: str
    period: tuple[str, str]
    forecast_start: str
    offers: list[dict[str, str]]
    cash_rows: list[dict[str, str]]
    cash_statement: str
    cash_low_week: int | None
    drivers: list[dict[str, str]]
    backtest: str
    metrics: list[dict[str, str]]
    sources: list[dict[str, str]]
    assumptions: list[str]
    notes: list[str]
    disclaimer: str
    methods: str
    references: list[str]
    chart_svg: str


def _pct(x: Any) -> str:
    return "—" if x is None or not math.isfinite(float(x)) else f"{float(x):.1%}"


def _money(x: Any) -> str:
    return "—" if x is None or not math.isfinite(float(x)) else f"{float(x):,.0f}"


def _offer_rows(res: FinancingResult) -> list[dict[str, str]]:
    rows = []
    for rank, r in enumerate(res.offers.to_dict("records"), start=1):
        linked = bool(r["sales_linked"])
        rows.append(
            {
                "rank": str(rank),
                "offer": str(r["offer_id"]),
                "lender": str(r["lender"]),
                "kind": str(r["kind"]).replace("_", " "),
                "received": _money(r["amount_financed"]),
                "apr": _pct(r["apr_median"]),
                "band": f"{_pct(r['apr_p05'])} – {_pct(r['apr_p95'])}" if linked else "fixed",
                "slow": _pct(r["apr_slow"]) if linked else "—",
                "cost": _money(r["finance_charge"]),
                "weeks": f"{float(r['weeks_to_repay']):.0f}",
                "cash_low": "stays above buffer"
                if not math.isfinite(float(r["cash_low_week_with"]))
                else f"week {float(r['cash_low_week_with']):.0f}",
            }
        )
    return rows


def _cash_rows(res: FinancingResult) -> list[dict[str, str]]:
    table = res.tables()["cash_forecast"]
    low = res.cash.cash_low_week
    return [
        {
            "week": str(int(r["week"])),
            "starting": str(r["week_starting"]),
            "receipts": _money(r["receipts_p50"]),
            "payments": _money(r["payments"]),
            "payables": _money(r["payables"]) if r["payables"] > 0 else "",
            "p10": _money(r["cash_p10"]),
            "p50": _money(r["cash_p50"]),
            "p90": _money(r["cash_p90"]),
            "flag": "below"
            if low is not None and int(r["week"]) >= low and (r["cash_p10"] < res.cash.buffer)
            else "",
        }
        for r in table.to_dict("records")
    ]


def cash_chart_svg(res: FinancingResult, width: int = 640, height: int = 240) -> str:
    """Inline SVG of the P10-P90 band, the median and the buffer (no script needed)."""
    c = res.cash
    values = np.concatenate([c.cash_p10, c.cash_p90, [c.buffer, 0.0]])
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else 1.0
    pad_l, pad_r, pad_t, pad_b = 70, 10, 10, 30
    n = c.cash_p50.size

    def xy(i: int, v: float) -> str:
        x = pad_l + (width - pad_l - pad_r) * i / max(n - 1, 1)
        y = pad_t + (height - pad_t - pad_b) * (1 - (v - lo) / span)
        return f"{x:.1f},{y:.1f}"

    band = " ".join(xy(i, v) for i, v in enumerate(c.cash_p90))
    band += " " + " ".join(xy(i, v) for i, v in reversed(list(enumerate(c.cash_p10))))
    median = " ".join(xy(i, v) for i, v in enumerate(c.cash_p50))
    buf_y = xy(0, c.buffer).split(",")[1]
    ticks = "".join(
        f'<text x="{xy(i, lo).split(",")[0]}" y="{height - 8}" font-size="11" '
        f'text-anchor="middle">{i + 1}</text>'
        for i in range(n)
    )
    labels = "".join(
        f'<text x="{pad_l - 6}" y="{xy(0, v).split(",")[1]}" font-size="11" '
        f'text-anchor="end">{escape(_money(v))}</text>'
        for v in (lo, (lo + hi) / 2, hi)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="13-week closing cash: P10 to P90 band, median and buffer">'
        f'<polygon points="{band}" fill="#1f6feb" fill-opacity="0.18"/>'
        f'<polyline points="{median}" fill="none" stroke="#1f6feb" stroke-width="2"/>'
        f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{buf_y}" y2="{buf_y}" stroke="#bc4c00" '
        f'stroke-dasharray="5,4"/><text x="{width - pad_r}" y="{float(buf_y) - 4:.1f}" '
        f'font-size="11" text-anchor="end" fill="#bc4c00">buffer</text>{ticks}{labels}</svg>'
    )


def _sources(ws: Workspace) -> list[dict[str, str]]:
    rows = ws.con.execute(
        """SELECT kind, source_name, rows_loaded, CAST(finished_at AS VARCHAR) FROM imports
           WHERE status = 'ok' ORDER BY import_id"""
    ).fetchall()
    return [
        {"kind": str(k), "file": str(name), "rows": f"{int(n or 0):,}", "when": str(w)[:16]}
        for k, name, n, w in rows
    ]


def build_lender_pack(ws: Workspace, result: FinancingResult | None = None) -> LenderPack:
    """Collect the pack's content from a financing result (run now when not given)."""
    from levelfield import financing
    from levelfield.report._data import _business_name

    res = financing.analyze(ws) if result is None else result
    c = res.cash
    return LenderPack(
        business_name=_business_name(ws),
        currency=res.currency,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        period=res.period,
        forecast_start=res.forecast_start,
        offers=_offer_rows(res),
        cash_rows=_cash_rows(res),
        cash_statement=next(
            (line for line in res.headline() if line.startswith("13-week cash")), ""
        ),
        cash_low_week=c.cash_low_week if res.costs_known else None,
        drivers=[
            {
                "driver": str(r["driver"]),
                "range": str(r["range"]),
                "low": _money(r["low_case"]),
                "high": _money(r["high_case"]),
                "swing": _money(r["swing"]),
            }
            for r in res.tornado.to_dict("records")
        ],
        backtest="not enough history (needs 39 weeks)"
        if res.backtest_mape is None
        else f"{res.backtest_mape:.0%} mean absolute percentage error of weekly sales over the "
        "last 13 weeks, forecast from the weeks before them",
        metrics=[
            {
                "label": str(r["label"]),
                "value": "not known"
                if r["value"] is None or not math.isfinite(float(r["value"]))
                else f"{float(r['value']):.1%}"
                if r["unit"] == "share"
                else f"{float(r['value']):.2f}",
                "threshold": str(r["threshold"]),
                "status": str(r["status"]),
                "source": str(r["source"]),
            }
            for r in res.metrics.to_dict("records")
        ],
        sources=_sources(ws),
        assumptions=list(res.assumptions),
        notes=list(res.notes),
        disclaimer=financing.DISCLAIMER,
        methods=financing.METHODS,
        references=list(financing.REFERENCES),
        chart_svg=cash_chart_svg(res),
    )


@functools.cache
def _template() -> Any:
    from levelfield.report._render import make_environment

    return make_environment().get_template("lender.html.j2")


def render_lender_pack(pack: LenderPack) -> str:
    """The pack's HTML text: inline CSS, inline SVG, no script, no external request."""
    from levelfield.report._render import asset_text

    return str(
        _template().render(
            pack=pack,
            css=Markup(asset_text("report.css")),
            chart=Markup(pack.chart_svg),
            csp=LENDER_CSP,
            version=__version__,
        )
    )


def write_lender_pack(
    ws: Workspace,
    output: str | Path,
    *,
    progress: ProgressCallback = no_progress,
    result: FinancingResult | None = None,
) -> Path:
    """Write the lender pack for ``ws`` to ``output`` (one HTML file) and return its path.

    Raises
    ------
    ConfigError
        ``output`` is an existing folder or cannot be written.
    InsufficientDataError
        Fewer than 8 weeks of orders (the financing analysis cannot run).
    """
    out = Path(output)
    check_output_file(out)
    progress("financing analysis", 0.1)
    html = render_lender_pack(build_lender_pack(ws, result))
    progress("writing", 0.9)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    progress("done", 1.0)
    return out
