"""How much of the revenue rests on products whose origin is documented in the log.

Exposure and advice call :func:`documented_revenue_share`: a business that sells on
origin (single-estate coffee, fair trade) but cannot show where its best sellers come
from carries a claim it cannot back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from levelfield.findings import Finding, Severity
from levelfield.provenance._lineage import lineage
from levelfield.workspace import Workspace

__all__ = ["ORIGIN_WORDS", "DocumentedShare", "documented_revenue_share", "origin_claim"]


#: Words in the business's own competitor row (``competitors`` with ``self`` = yes) that
#: say it sells on origin: single origins, direct or fair trade, traceability, terroir.
ORIGIN_WORDS = re.compile(
    r"\b(single[- ]?origins?|origins?|direct[- ]trade|fair[- ]?trade|traceab\w*|provenance|"
    r"terroir|single[- ]estate|farm[- ]to[- ]\w+|bean[- ]to[- ]bar|rainforest alliance)\b",
    re.IGNORECASE,
)
_NO = {"no", "n", "false", "0", "none", "-", "n/a", ""}


def origin_claim(ws: Workspace) -> str | None:
    """Where the business's own landscape row says it sells on origin, else ``None``.

    Reads the attributes of the ``self`` row of ``competitors`` (not its description):
    an attribute named for origin (``single_origin``, ``fair_trade``) with a yes-like
    value, or any attribute whose value names origin (``certifications: direct
    trade``). Returns ``"<attribute>: <value>"`` of the first such attribute.
    """
    rows = ws.con.execute(
        "SELECT attributes FROM competitors WHERE is_self AND attributes IS NOT NULL"
    ).fetchall()
    for (raw,) in rows:
        attrs = json.loads(raw) if isinstance(raw, str) else raw
        for name, value in sorted(dict(attrs).items()):
            text = "" if value is None else str(value).strip()
            if text.lower() in _NO:
                continue
            if ORIGIN_WORDS.search(str(name).replace("_", " ")) or ORIGIN_WORDS.search(text):
                return f"{name}: {text}"
    return None


@dataclass(frozen=True)
class DocumentedShare:
    """Share of net merchandise revenue from SKUs with a documented lot in the log.

    A SKU counts as documented when at least one of its lots traces back, through
    every transformation, to raw lots that all have a producer or country logged.
    Revenue is in the base currency (each order at its own rate). ``share`` is ``None``
    when there is no revenue to divide by; ``lots`` counts the lots in the log (0: no
    lots recorded). ``origin_claim`` is where the business's landscape row says it
    sells on origin (:func:`origin_claim`), ``undocumented_revenue`` the yearly revenue
    of the ``top_undocumented`` products.
    """

    share: float | None
    documented_revenue: float
    total_revenue: float
    currency: str
    documented_skus: tuple[str, ...]
    top_undocumented: tuple[tuple[str, float], ...] = field(default=())
    lots: int = 0
    origin_claim: str | None = None
    undocumented_revenue: float = 0.0

    def summary(self) -> str:
        if self.share is None:
            return "No sales to compare the provenance log with."
        if self.lots == 0:
            text = (
                "No lots recorded in the provenance log: the origin of none of your revenue "
                f"({self.total_revenue:,.0f} {self.currency}) is documented"
            )
        else:
            text = (
                f"{self.share:.0%} of revenue ({self.documented_revenue:,.0f} of "
                f"{self.total_revenue:,.0f} {self.currency}) comes from products with a "
                f"documented origin ({self.lots:,} lots in the log)"
            )
        if self.top_undocumented:
            sku, rev = self.top_undocumented[0]
            text += f"; the largest undocumented is {sku} ({rev:,.0f} {self.currency})"
        if self.origin_claim:
            text += f"; you sell on origin ({self.origin_claim})"
        return text + "."

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.top_undocumented, columns=["sku", "revenue"])

    def to_finding(self) -> Finding:
        """As a finding ``provenance.documented_revenue_share`` (share 0-1).

        Context: ``lots``, ``sells_on_origin`` (1/0), ``origin_claim``, ``amount`` (yearly
        revenue of the largest undocumented products), ``top_products`` (their SKUs).
        """
        value = float("nan") if self.share is None else self.share
        # An undocumented origin matters where the business sells on it.
        severity: Severity = (
            "watch" if self.share is not None and self.share < 0.5 and self.origin_claim else "info"
        )
        context: dict[str, Any] = {
            "documented_skus": list(self.documented_skus),
            "top_undocumented": [list(x) for x in self.top_undocumented],
            "top_products": ", ".join(sku for sku, _ in self.top_undocumented[:3]) or "-",
            "currency": self.currency,
            "lots": self.lots,
            "sells_on_origin": 1.0 if self.origin_claim else 0.0,
            "origin_claim": self.origin_claim or "",
            "amount": self.undocumented_revenue,
        }
        return Finding(
            "provenance.documented_revenue_share",
            value,
            "share",
            self.summary(),
            severity,
            context,
        )


def _documented_skus(ws: Workspace) -> tuple[set[str], int]:
    rows = ws.con.execute("SELECT body FROM provenance_entries ORDER BY seq").fetchall()
    bodies = [json.loads(r[0]) for r in rows]
    skus: set[str] = set()
    lots = 0
    for body in bodies:  # log entries (lots, steps), not order rows
        if body["kind"] == "lot":
            lot, sku = body["lot"], body.get("sku")
            lots += 1
        elif body["kind"] == "transformation":
            lot, sku = body["output"]["lot"], body["output"].get("sku")
            lots += 1
        else:
            continue
        if sku and sku not in skus and lineage(bodies, lot).documented:
            skus.add(sku)
    return skus, lots


def documented_revenue_share(ws: Workspace, *, top: int = 5) -> DocumentedShare:
    """Share of net merchandise revenue (lines of non-refund orders, in the base currency)
    from documented SKUs; orders without a rate to the base currency are left out."""
    documented, lots = _documented_skus(ws)
    rows = ws.con.execute(
        """SELECT l.sku, sum((l.quantity * l.unit_price - l.discount) * o.fx_rate)::DOUBLE
                  AS revenue,
                  greatest(date_diff('day', min(min(o.ordered_at)) OVER (),
                                     max(max(o.ordered_at)) OVER ()), 1) / 365.25 AS years
           FROM order_lines l JOIN order_revenue o USING (order_id)
           WHERE NOT o.is_refund AND l.sku IS NOT NULL AND o.fx_rate IS NOT NULL
           GROUP BY l.sku ORDER BY revenue DESC, l.sku"""
    ).fetchall()
    revenue = [(str(r[0]), float(r[1] or 0.0)) for r in rows]
    years = float(rows[0][2]) if rows else 1.0
    total = float(sum(r for _, r in revenue))
    done = float(sum(r for sku, r in revenue if sku in documented))
    missing = tuple((sku, r) for sku, r in revenue if sku not in documented)[:top]
    return DocumentedShare(
        share=done / total if total > 0 else None,
        documented_revenue=done,
        total_revenue=total,
        currency=ws.currency(),
        documented_skus=tuple(sorted(documented)),
        top_undocumented=missing,
        lots=lots,
        origin_claim=origin_claim(ws),
        undocumented_revenue=sum(r for _, r in missing) / max(years, 1 / 12),
    )
