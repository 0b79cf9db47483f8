"""An independent check that every recommended price satisfies every guardrail.

Written from the guardrails' definitions (not from the implementation's intervals) so
that the property, demo and real-data tests share one statement of the invariant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from levelfield.pricing import REASON_CODES, Guardrails

_SUFFIX = {".99": "99", ".95": "95", ".90": "90", ".49": "49", "whole": "00", ".00": "00"}


def _tol(x: float) -> float:
    return 1e-7 * max(1.0, abs(x))


def _ending_ok(price: float, endings: tuple[str, ...]) -> bool:
    if abs(price * 100 - round(price * 100)) > 1e-6:
        return False  # not a whole number of cents
    if not endings:
        return True
    return f"{price:.2f}"[-2:] in {_SUFFIX[e] for e in endings}


def _limits(
    g: Guardrails, sku: str, p0: float, comp: tuple[float, float] | None
) -> tuple[float, float]:
    floor = g.floor.get(sku, math.nan)
    ceiling = g.ceiling.get(sku, math.nan)
    if g.use_competitor_index and comp is not None:
        floor = floor if math.isfinite(floor) else p0 * comp[0]
        ceiling = ceiling if math.isfinite(ceiling) else p0 * comp[1]
    return (
        floor if math.isfinite(floor) else -math.inf,
        ceiling if math.isfinite(ceiling) else math.inf,
    )


def violations(
    recs: pd.DataFrame,
    chan: pd.DataFrame,
    g: Guardrails,
    competitor_range: tuple[float, float] | None = None,
) -> list[str]:
    """Every broken guardrail, as readable lines (empty when all hold)."""
    out: list[str] = []
    by_sku = recs.set_index("sku")
    for r in recs.itertuples(index=False):  # a test checker, one product at a time
        codes = [c for c in str(r.reasons).split(";") if c]
        out += [f"{r.sku}: unknown reason {c!r}" for c in codes if c not in REASON_CODES]
        p, p0 = float(r.recommended_price), float(r.current_price)
        if not math.isfinite(p):
            if bool(r.withheld) != ("withheld" in codes):
                out.append(f"{r.sku}: withheld flag and reasons disagree ({r.reasons})")
            continue
        if "withheld" in codes:
            out.append(f"{r.sku}: a price {p} carries 'withheld'")
        lo, hi = _limits(g, str(r.sku), p0, competitor_range)
        cost = float(r.unit_cost)
        out += _price_violations(f"{r.sku}", p, p0, cost, lo, hi, g, retail=True)
    for c in chan.loc[chan["segment"] == ""].itertuples(index=False):
        p = float(c.recommended_price)
        if not math.isfinite(p):
            continue
        prod = by_sku.loc[c.sku]
        P, cost = float(prod["recommended_price"]), float(prod["unit_cost"])
        retail = g.wholesale_parity or str(c.channel).lower() not in g.wholesale_channels
        lo, hi = _limits(g, str(c.sku), float(prod["current_price"]), competitor_range)
        if not retail:
            lo, hi = -math.inf, math.inf
        where = f"{c.sku}@{c.channel}"
        out += _price_violations(where, p, float(c.current_price), cost, lo, hi, g, retail)
        if retail and abs(p - P) > g.channel_parity * P + _tol(P):
            out.append(f"{where}: {p} is more than {g.channel_parity:.0%} from {P}")
    return out


def _price_violations(
    where: str,
    p: float,
    p0: float,
    cost: float,
    floor: float,
    ceiling: float,
    g: Guardrails,
    retail: bool,
) -> list[str]:
    out: list[str] = []
    if abs(p - p0) > g.max_step * p0 + _tol(p0):
        out.append(f"{where}: {p0} -> {p} moves more than the max step {g.max_step:.0%}")
    if p < floor - _tol(floor) or p > ceiling + _tol(ceiling):
        out.append(f"{where}: {p} outside floor/ceiling [{floor}, {ceiling}]")
    if math.isfinite(cost) and cost >= 0 and (p - cost) < g.min_margin * p - _tol(p):
        out.append(f"{where}: {p} leaves less than {g.min_margin:.0%} margin over {cost}")
    if not _ending_ok(p, g.price_endings if retail else ()):
        out.append(f"{where}: {p} has no allowed ending {g.price_endings}")
    return out


def guardrails_of(params: Mapping[str, Any]) -> Guardrails:
    """The guardrails a pricing run recorded in its parameters."""
    return Guardrails(**{k: params[k] for k in Guardrails().as_dict()})
