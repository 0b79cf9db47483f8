"""How much of the revenue rests on products whose origin is documented in the log.

Exposure and advice call :func:`documented_revenue_share`: a business that sells on
origin (single-estate coffee, fair trade) but cannot show where its best sellers come
from carries a claim it cannot back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from levelfield.findings import Finding, Severity
from levelfield.provenance._lineage import lineage
from levelfield.workspace import Workspace

__all__ = ["DocumentedShare", "documented_revenue_share"]


@dataclass(frozen=True)
class DocumentedShare:
    """Share of net merchandise revenue from SKUs with a documented lot in the log.

    A SKU counts as documented when at least one of its lots traces back, through
    every transformation, to raw lots that all have a producer or country logged.
    ``share`` is ``None`` when there is no revenue to divide by.
    """

    share: float | None
    documented_revenue: float
    total_revenue: float
    currency: str
    documented_skus: tuple[str, ...]
    top_undocumented: tuple[tuple[str, float], ...] = field(default=())

    def summary(self) -> str:
        if self.share is None:
            return "No sales to compare the provenance log with."
        text = (
            f"{self.share:.0%} of revenue ({self.documented_revenue:,.0f} of "
            f"{self.total_revenue:,.0f} {self.currency}) comes from products with a "
            "documented origin"
        )
        if self.top_undocumented:
            sku, rev = self.top_undocumented[0]
            text += f"; the largest undocumented is {sku} ({rev:,.0f} {self.currency})"
        return text + "."

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.top_undocumented, columns=["sku", "revenue"])

    def to_finding(self) -> Finding:
        """As a finding ``provenance.documented_revenue_share`` (share 0-1)."""
        value = float("nan") if self.share is None else self.share
        severity: Severity = "info" if self.share is None or self.share >= 0.5 else "watch"
        context: dict[str, Any] = {
            "documented_skus": list(self.documented_skus),
            "top_undocumented": [list(x) for x in self.top_undocumented],
            "currency": self.currency,
        }
        return Finding(
            "provenance.documented_revenue_share",
            value,
            "share",
            self.summary(),
            severity,
            context,
        )


def _documented_skus(ws: Workspace) -> set[str]:
    rows = ws.con.execute("SELECT body FROM provenance_entries ORDER BY seq").fetchall()
    bodies = [json.loads(r[0]) for r in rows]
    skus: set[str] = set()
    for body in bodies:
        if body["kind"] == "lot":
            lot, sku = body["lot"], body.get("sku")
        elif body["kind"] == "transformation":
            lot, sku = body["output"]["lot"], body["output"].get("sku")
        else:
            continue
        if sku and sku not in skus and lineage(bodies, lot).documented:
            skus.add(sku)
    return skus


def documented_revenue_share(ws: Workspace, *, top: int = 5) -> DocumentedShare:
    """Share of net merchandise revenue (lines of non-refund orders) from documented SKUs."""
    documented = _documented_skus(ws)
    revenue = ws.con.execute(
        """SELECT l.sku, sum(l.quantity * l.unit_price - l.discount)::DOUBLE AS revenue
           FROM order_lines l JOIN order_revenue o USING (order_id)
           WHERE NOT o.is_refund AND l.sku IS NOT NULL
           GROUP BY l.sku ORDER BY revenue DESC, l.sku"""
    ).fetchall()
    total = float(sum(r[1] for r in revenue))
    done = float(sum(r[1] for r in revenue if r[0] in documented))
    missing = tuple((str(r[0]), float(r[1])) for r in revenue if r[0] not in documented)[:top]
    return DocumentedShare(
        share=done / total if total > 0 else None,
        documented_revenue=done,
        total_revenue=total,
        currency=ws.currency(),
        documented_skus=tuple(sorted(documented)),
        top_undocumented=missing,
    )
