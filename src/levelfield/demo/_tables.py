"""Write the demo's plain CSVs (the kinds without a platform export).

Columns follow ``levelfield template KIND``: products, suppliers, channels, competitors
(with the ``#type`` row), costs, pilots, surveys (NPS), automation and business.
Each writer returns the truth it planted (JSON-able) for the manifest.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levelfield.demo._catalog import (
    AUTOMATION,
    BUSINESS,
    BUSINESS_NAME,
    CHANNELS,
    COMPETITOR_GROUPS,
    COMPETITORS,
    COST_LINES,
    PRODUCTS,
    SELF_ATTRIBUTES,
    SELF_DESCRIPTION,
    SELF_TAGLINE,
    SUPPLIERS,
)
from levelfield.demo._exports import People, money
from levelfield.demo._simulate import END, N_DAYS, PILOT, START, Simulation, day_index

__all__ = [
    "NPS_PROBABILITIES",
    "write_automation",
    "write_business",
    "write_channels",
    "write_competitors",
    "write_costs",
    "write_pilots",
    "write_products",
    "write_suppliers",
    "write_surveys",
]

#: True probabilities of NPS answers 0..10 (promoters 9-10, detractors 0-6).
NPS_PROBABILITIES: tuple[float, ...] = (
    0.01, 0.01, 0.01, 0.02, 0.02, 0.04, 0.06, 0.09, 0.17, 0.24, 0.33,
)  # fmt: skip

_EPOCH = np.datetime64(START.isoformat(), "D")


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def write_products(sim: Simulation, path: Path) -> dict[str, Any]:
    """``products.csv``: SKU, name, category, unit cost, current list price, supplier."""
    final = sim.prices[0, :, -1]
    rows = [
        [p.sku, p.name, p.category, _fmt(p.unit_cost), _fmt(float(final[j])), "USD", p.supplier_id]
        for j, p in enumerate(PRODUCTS)
    ]
    _write_rows(
        path,
        ["sku", "name", "category", "unit_cost", "list_price", "currency", "supplier_id"],
        rows,
    )
    return {"n_products": len(rows), "categories": sorted({p.category for p in PRODUCTS})}


def write_suppliers(sim: Simulation, path: Path) -> dict[str, Any]:
    """``suppliers.csv`` with yearly spend equal to the simulated cost of goods bought."""
    spend = sim.truth["supplier_spend_per_year"]
    rows = [
        [sid, name, country, _fmt(spend.get(sid, 0.0)), "USD", str(lead), str(alt)]
        for sid, name, country, lead, alt in SUPPLIERS
    ]
    _write_rows(
        path,
        [
            "supplier_id",
            "name",
            "country",
            "annual_spend",
            "currency",
            "lead_time_days",
            "alternatives",
        ],
        rows,
    )
    countries = sorted({s[2] for s in SUPPLIERS})
    return {
        "n_suppliers": len(rows),
        "countries": countries,
        "by_supplier": {
            sid: {
                "country": c,
                "annual_spend": spend.get(sid, 0.0),
                "lead_time_days": lead,
                "alternatives": alt,
            }
            for sid, _, c, lead, alt in SUPPLIERS
        },
        "single_source_risk": [sid for sid, *_, alt in SUPPLIERS if alt <= 1],
    }


def write_channels(path: Path) -> dict[str, Any]:
    """``channels.csv``: platform, fee profile, owned customer, acquisition cost."""
    rows = [
        [c, plat, fee, "yes" if own else "no", _fmt(cac)] for c, plat, fee, own, cac in CHANNELS
    ]
    _write_rows(
        path, ["channel", "platform", "fee_profile", "owns_customer", "acquisition_cost"], rows
    )
    return {c: {"fee_profile": fee, "owns_customer": own} for c, _, fee, own, _ in CHANNELS}


_ATTRS = (
    ("tagline", "text"),
    ("price_index", "numeric"),
    ("rating", "numeric"),
    ("review_count", "numeric"),
    ("employees", "numeric"),
    ("years", "numeric"),
    ("price_tier", "ordinal(budget<mid<premium)"),
    ("category", "category"),
    ("segments", "set"),
    ("channels", "set"),
    ("certifications", "set"),
    ("value_propositions", "set"),
    ("online_ordering", "flag"),
    ("subscription", "flag"),
    ("wholesale", "flag"),
    ("loyalty_program", "flag"),
)


def _attr_row(
    rng: np.random.Generator, centre: dict[str, Any], tagline: str, noise: bool
) -> list[str]:
    def jitter(x: float, rel: float) -> float:
        return float(x * np.exp(rng.normal(0.0, rel))) if noise else float(x)

    flags = centre["flags"]
    sets = {
        k: list(centre[k]) for k in ("segments", "channels", "certifications", "value_propositions")
    }
    if noise and rng.random() < 0.35:  # not every member carries every group trait
        key = ("segments", "channels", "value_propositions")[int(rng.integers(0, 3))]
        if len(sets[key]) > 1:
            sets[key].pop(int(rng.integers(0, len(sets[key]))))
    rating = min(5.0, max(1.0, centre["rating"] + (rng.normal(0.0, 0.12) if noise else 0.0)))
    return [
        tagline,
        f"{jitter(centre['price_index'], 0.07):.0f}",
        f"{rating:.1f}",
        f"{jitter(centre['reviews'], 0.4):.0f}",
        f"{max(1.0, jitter(centre['employees'], 0.35)):.0f}",
        f"{max(1.0, jitter(centre['years'], 0.3)):.0f}",
        str(centre["price_tier"]),
        str(centre["category"]),
        ";".join(sets["segments"]),
        ";".join(sets["channels"]),
        ";".join(sets["certifications"]),
        ";".join(sets["value_propositions"]),
        str(flags["online_ordering"]),
        str(flags["subscription"]),
        str(flags["wholesale"]),
        str(flags["loyalty_program"]),
    ]


def write_competitors(seed: int, path: Path) -> dict[str, Any]:
    """``competitors.csv`` (contract format with a ``#type`` row), self row first."""
    rng = np.random.default_rng([seed, 505])
    fixed = ["name", "self", "description", "market_share", "snapshot_date", "source"]
    header = [*fixed, *(a for a, _ in _ATTRS)]
    types = ["#type", "-", "-", "-", "-", "-", *(t for _, t in _ATTRS)]
    snapshot = END.isoformat()
    own = _attr_row(rng, SELF_ATTRIBUTES, SELF_TAGLINE, noise=False)
    share_self = f"{SELF_ATTRIBUTES['share']:.4f}"
    rows = [[BUSINESS_NAME, "yes", SELF_DESCRIPTION, share_self, snapshot, "own assessment", *own]]
    groups: dict[str, str] = {}
    for name, group, tagline, about in COMPETITORS:
        centre = COMPETITOR_GROUPS[group]
        share = float(centre["share"]) * float(np.exp(rng.normal(0.0, 0.35)))  # type: ignore[arg-type]
        source = "websites, review sites and trade press"
        attrs = _attr_row(rng, centre, tagline, noise=True)
        rows.append([name, "no", about, f"{share:.4f}", snapshot, source, *attrs])
        groups[name] = group
    _write_rows(path, header, [types, *rows])
    return {
        "self": BUSINESS_NAME,
        "n_competitors": len(COMPETITORS),
        "planted_groups": groups,
        "group_names": sorted(COMPETITOR_GROUPS),
        "shared_cliches": [
            "passionate about quality",
            "freshly roasted",
            "sustainably sourced",
            "direct trade",
        ],
    }


def _monthly_revenue(sim: Simulation) -> np.ndarray[Any, np.dtype[np.float64]]:
    months = (_EPOCH + np.arange(N_DAYS).astype("timedelta64[D]")).astype("datetime64[M]")
    month_idx = (months - months[0]).astype(np.int64)
    gross = sim.order_gross() - sim.discount
    retail = np.bincount(month_idx[sim.day], weights=gross, minlength=36)
    ws = np.bincount(
        month_idx[sim.ws_day[sim.ws_line_order]],
        weights=sim.ws_line_qty * sim.ws_line_price,
        minlength=36,
    )
    return np.asarray(retail + ws, dtype=np.float64)


def write_costs(sim: Simulation, path: Path) -> dict[str, Any]:
    """``costs.csv``: 36 months x cost lines; variable lines follow revenue."""
    rng = np.random.default_rng([sim.seed, 606])
    revenue = _monthly_revenue(sim)
    m = np.arange(36)
    year = m // 12
    season = 1.0 + 0.18 * np.cos(2 * np.pi * (m % 12) / 12)  # heating in winter
    frames = []
    for category, base, fixed, share in COST_LINES:
        amount = base * (1.0 + 0.035 * year)
        if category == "utilities":
            amount = amount * season
        if category == "wages":
            amount = amount * (1.0 + 0.04 * year) / (1.0 + 0.035 * year)
        amount = amount + share * revenue
        if not fixed or category == "utilities":
            amount = amount * np.exp(rng.normal(0.0, 0.04, 36))
        frames.append(
            pd.DataFrame(
                {
                    "month": [f"{2023 + int(i) // 12}-{int(i) % 12 + 1:02d}" for i in m],
                    "category": category,
                    "amount": money(amount),
                    "fixed": "yes" if fixed else "no",
                    "currency": "USD",
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True).sort_values(["month", "category"], kind="stable")
    frame.to_csv(path, index=False, lineterminator="\n")
    total = frame["amount"].astype(float).groupby(frame["category"]).sum()
    return {
        "months": 36,
        "categories": [c[0] for c in COST_LINES],
        "total_by_category": {k: round(float(v), 2) for k, v in total.items()},
        "variable_share_of_revenue": {c[0]: c[3] for c in COST_LINES if not c[2]},
    }


def write_pilots(path: Path) -> dict[str, str]:
    """``pilots.csv``: one pilot per SKU (the table's key allows one row per unit), each
    with the test channel and the control channel."""
    ids: dict[str, str] = {}
    rows = []
    for sku in PILOT["skus"]:
        pid = f"{PILOT['pilot_id']}-{sku}"
        ids[sku] = pid
        for unit, arm in ((PILOT["test"], "test"), (PILOT["control"], "control")):
            rows.append(
                [
                    pid,
                    PILOT["name"],
                    "channel",
                    unit,
                    arm,
                    sku,
                    PILOT["starts_on"].isoformat(),
                    PILOT["ends_on"].isoformat(),
                    f"{PILOT['price_change'] if arm == 'test' else 0.0:.2f}",
                ]
            )
    _write_rows(
        path,
        [
            "pilot_id",
            "name",
            "unit_type",
            "unit",
            "arm",
            "sku",
            "starts_on",
            "ends_on",
            "price_change",
        ],
        rows,
    )
    return ids


def write_surveys(sim: Simulation, people: People, path: Path) -> dict[str, Any]:
    """``nps_survey.csv``: answers one week after a sampled Shopify order."""
    rng = np.random.default_rng([sim.seed, 707])
    shop = np.flatnonzero((sim.channel == 0) & (sim.customer >= 0) & (sim.day < N_DAYS - 8))
    n = min(1_500, shop.shape[0] // 4)
    pick = np.sort(rng.choice(shop, size=n, replace=False))
    # one answer per customer: keep each customer's first sampled order
    _, first = np.unique(sim.customer[pick], return_index=True)
    pick = pick[np.sort(first)]
    n = pick.shape[0]
    score = np.asarray(rng.choice(11, size=n, p=np.asarray(NPS_PROBABILITIES)), dtype=np.int64)
    day = sim.day[pick] + 7
    stamp = pd.Series(np.datetime_as_string(_EPOCH + day.astype("timedelta64[D]"), unit="D")) + (
        " " + pd.Series(rng.integers(10, 21, n)).astype(str).str.zfill(2) + ":00:00"
    )
    frame = pd.DataFrame(
        {
            "response_id": "R-" + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(5),
            "email": people.email[sim.customer[pick]],
            "answered_at": stamp,
            "score": score.astype(str),
        }
    )
    frame.to_csv(path, index=False, lineterminator="\n")
    p = np.asarray(NPS_PROBABILITIES)
    return {
        "responses": int(n),
        "score_probabilities": list(NPS_PROBABILITIES),
        "true_nps": round(float(100 * (p[9:].sum() - p[:7].sum())), 2),
        "sample_nps": round(float(100 * (np.mean(score >= 9) - np.mean(score <= 6))), 2),
    }


def write_automation(path: Path) -> dict[str, Any]:
    """``automation.csv``: the manual-task questionnaire."""
    rows = [[a, t, f"{h:g}", f"{c:g}", f"{e:g}", tools] for a, t, h, c, e, tools in AUTOMATION]
    _write_rows(
        path, ["area", "task", "hours_per_week", "hourly_cost", "error_rate", "tools"], rows
    )
    hours = sum(r[2] for r in AUTOMATION)
    cost = sum(r[2] * r[3] for r in AUTOMATION)
    return {"tasks": len(rows), "hours_per_week": hours, "cost_per_week": round(cost, 2)}


def write_business(path: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``business.csv``: key,value rows; values are JSON (``extra`` keys added last)."""
    profile = {**BUSINESS, **(extra or {})}
    rows = [[k, json.dumps(v)] for k, v in profile.items()]
    _write_rows(path, ["key", "value"], rows)
    return profile


def pilot_window_days() -> tuple[int, int]:
    """First and last day index of the pilot (inclusive)."""
    return day_index(PILOT["starts_on"]), day_index(PILOT["ends_on"])
