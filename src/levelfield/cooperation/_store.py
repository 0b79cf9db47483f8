"""Keep a group's results in each member's workspace (runs and findings).

A member's workspace then holds its own share of the group's work: its saving in the
buying group, its partners and rivals (counts and names of businesses, never customers).
``levelfield advise``, the report and the web app read them from there
(:data:`levelfield.pipeline.GROUP_ANALYSES`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from levelfield.cooperation._buying import BuyingGroupResult
from levelfield.cooperation._partners import PartnersResult, plain_records
from levelfield.errors import DataError
from levelfield.findings import Finding, money
from levelfield.pipeline import COOPERATION_BUYING, COOPERATION_PARTNERS
from levelfield.workspace import Workspace, open_workspace

__all__ = [
    "BUYING_RUN",
    "PARTNERS_RUN",
    "buying_findings",
    "partner_findings",
    "record_buying_group",
    "record_partners",
    "store_buying_share",
    "store_partner_share",
    "workspace_names",
]

BUYING_RUN = COOPERATION_BUYING
PARTNERS_RUN = COOPERATION_PARTNERS
_RULE_WORDS = {"shapley": "Shapley", "nucleolus": "nucleolus", "proportional": "proportional"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def workspace_names(paths: list[Path]) -> dict[str, Path]:
    """Business name (``business`` table, else folder name) -> workspace file."""
    out: dict[str, Path] = {}
    for p in paths:
        with open_workspace(p, create=False) as ws:
            rows = ws.con.execute("SELECT value FROM business WHERE key = 'name'").fetchall()
        name = str(json.loads(rows[0][0])) if rows else p.parent.name
        if name in out:
            raise DataError(f"{out[name]} and {p} are both named {name!r}; name each member once")
        out[name] = p
    return out


def recommended_rule(result: BuyingGroupResult) -> str:
    """The split the command recommends: Shapley in the core, else the nucleolus."""
    shap, nucl = result.core["shapley"], result.core["nucleolus"]
    if shap is not None and shap.in_core:
        return "shapley"
    if nucl is not None:
        return "nucleolus"
    return "shapley"


def buying_findings(result: BuyingGroupResult, member: str, currency: str) -> list[Finding]:
    """``cooperation.buying_group_saving`` of one member (value: saving a year)."""
    rows = result.members.loc[result.members["member"] == member]
    if rows.empty:
        return []
    r = rows.iloc[0]
    rule = recommended_rule(result)
    values = [float(r[k]) for k in ("proportional", "shapley", "nucleolus") if np.isfinite(r[k])]
    saving = float(r[rule])
    text = (
        f"The buying group of {len(result.members)} saves {money(result.total_saving, currency)} "
        f"a year; your share under the {_RULE_WORDS[rule]} split is "
        f"{money(saving, currency)} (from {money(min(values), currency)} to "
        f"{money(max(values), currency)} across the three splits)"
    )
    return [
        Finding(
            metric="cooperation.buying_group_saving",
            value=saving,
            unit="currency",
            text=text,
            severity="info",
            context={
                "low": min(values),
                "high": max(values),
                "rule": _RULE_WORDS[rule],
                "members": len(result.members),
                "group_saving": result.total_saving,
                "saving_text": money(saving, currency),
                "proportional": float(r["proportional"]),
                "shapley": float(r["shapley"]),
                "nucleolus": float(r["nucleolus"]) if np.isfinite(r["nucleolus"]) else None,
                "leave_under_proportional": result.summary()["leave_under_proportional"],
            },
        )
    ]


def _currency(ws: Workspace) -> str:
    rows = ws.con.execute("SELECT value FROM business WHERE key = 'currency'").fetchall()
    return str(json.loads(rows[0][0])) if rows else "EUR"


def store_buying_share(
    ws: Workspace, result: BuyingGroupResult, member: str, params: dict[str, Any]
) -> None:
    """Store ``member``'s share of the buying group in its open workspace ``ws``."""
    started = _now()
    findings = buying_findings(result, member, _currency(ws))
    mine = result.members.loc[result.members["member"] == member]
    if mine.empty:
        raise DataError(f"{member!r} is not a member of this buying group")
    summary = {
        **result.summary(),
        "total_saving": result.total_saving,
        "member": member,
        "member_row": plain_records(mine)[0],
        "recommended_rule": recommended_rule(result),
        "items": _items(result),
    }
    run = ws.record_run(BUYING_RUN, params, summary, started)
    ws.record_findings(run, BUYING_RUN, findings)


def record_buying_group(
    result: BuyingGroupResult, workspaces: dict[str, Path], params: dict[str, Any]
) -> list[str]:
    """Store each member's share in the workspace of the same name; returns who got one."""
    stored = []
    for member in result.members["member"]:
        path = workspaces.get(str(member))
        if path is None:
            continue
        with open_workspace(path, create=False) as ws:
            store_buying_share(ws, result, str(member), params)
        stored.append(str(member))
    return stored


def _items(result: BuyingGroupResult) -> list[dict[str, Any]]:
    cols = ["supplier", "item", "pooled_volume", "tier", "tier_unit_price", "saving"]
    return plain_records(result.items[cols])


def partner_findings(result: PartnersResult, member: str) -> list[Finding]:
    """``cooperation.partner_overlap_share`` per top partner, ``cooperation.rival_*`` per rival."""
    out = []
    r: dict[Any, Any]
    for r in result.top_partners(member).to_dict("records"):
        out.append(
            Finding(
                metric="cooperation.partner_overlap_share",
                value=float(r["overlap_share"]),
                unit="share",
                text=f"{r['partner']}: {r['reasons']}",
                context={
                    "partner": r["partner"],
                    "shared": int(r["shared_customers"]),
                    "customers": int(r["customers_with_token"]),
                    "shared_suppliers": list(r["shared_suppliers"]),
                    "suggestion": r["suggestion"],
                    "amount": float(r["reach_revenue"]),
                    "amount_is": f"{r['partner']}'s customers who do not buy from you yet",
                    "score": float(r["score"]),
                },
            )
        )
    for r in result.rivals(member).to_dict("records"):
        out.append(
            Finding(
                metric="cooperation.rival_shared_suppliers",
                value=float(len(r["shared_suppliers"])),
                unit="count",
                text=str(r["reasons"]),
                severity="info",
                context={
                    "partner": r["partner"],
                    "distance": float(r["position_distance"]),
                    "activities": str(r["activities"]),
                    "shared_suppliers": list(r["shared_suppliers"]),
                },
            )
        )
    return out


def store_partner_share(
    ws: Workspace, result: PartnersResult, member: str, params: dict[str, Any]
) -> None:
    """Store ``member``'s partners, rivals and findings in its open workspace ``ws``."""
    if member not in {m.name for m in result.members}:
        raise DataError(f"{member!r} is not a member of this group")
    run = ws.record_run(PARTNERS_RUN, params, result.member_summary(member), _now())
    ws.record_findings(run, PARTNERS_RUN, partner_findings(result, member))


def record_partners(result: PartnersResult, params: dict[str, Any]) -> None:
    """Store each member's partners, rivals and findings in its own workspace."""
    for m in result.members:
        with open_workspace(m.path, create=False) as ws:
            store_partner_share(ws, result, m.name, params)
