"""The cooperation section: what this business does with others (stored group results).

Group analyses (``levelfield cooperate buying-group --workspaces``, ``cooperate partners``)
store each member's share of the result in its own workspace; this module reads them
back for the report and the web page. Nothing here re-runs them: they need the group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go

from levelfield.findings import Finding, money
from levelfield.pipeline import COOPERATION_BUYING, COOPERATION_PARTNERS, group_findings
from levelfield.report._data import Chart, Section, TablePreview, _finding_view
from levelfield.workspace import Workspace

__all__ = ["COOPERATION_METHODS", "CooperationView", "cooperation_section", "cooperation_view"]

COOPERATION_METHODS = (
    "Buying group: the members' annual volumes are pooled per supplier and item against the "
    "supplier's all-units price breaks; the saving is split by volume, by the Shapley value "
    "(exact up to 20 members) and by the nucleolus, each checked against every subgroup "
    "(the core). Partners: customers in common are counted from keyed hashes of e-mails under "
    "the group's key (only counts leave a workspace); products by the Jaccard similarity of "
    "categories; positions by the Gower distance of the members' own competitor rows; "
    "rivals (nearly the same position and products) are proposed only for joint purchasing, "
    "logistics and advocacy."
)
_REFERENCES = (
    "Shapley, L. S. (1953). A value for n-person games.",
    "Schmeidler, D. (1969). The nucleolus of a characteristic function game.",
    "Gower, J. C. (1971). A general coefficient of similarity and some of its properties.",
)


@dataclass(frozen=True)
class CooperationView:
    """The stored group results of one workspace, ready to show."""

    buying: dict[str, Any] | None
    partners: dict[str, Any] | None
    findings: tuple[Finding, ...] = field(default=())
    when: str = ""

    def headline(self, currency: str) -> list[str]:
        lines = []
        if self.buying:
            row = self.buying.get("member_row", {})
            rule = str(self.buying.get("recommended_rule", "shapley"))
            saving = row.get(rule)
            lines.append(
                f"The buying group of {self.buying.get('members')} saves "
                f"{money(float(self.buying.get('total_saving') or 0.0), currency)} a year; "
                f"your share ({rule} split) is {money(float(saving or 0.0), currency)}."
            )
        if self.partners:
            top = self.partners.get("partners") or []
            if top:
                p = top[0]
                lines.append(f"Best partner: {p['partner']}: {p['reasons']}.")
            else:
                lines.append("No complementary partner in your group.")
            for r in self.partners.get("rivals") or []:
                lines.append(f"Rival for co-opetition only: {r['partner']}.")
        return lines


def cooperation_view(ws: Workspace) -> CooperationView | None:
    """The latest stored group results of ``ws``, or ``None`` when it is in no group."""
    buying = ws.latest_run(COOPERATION_BUYING)
    partners = ws.latest_run(COOPERATION_PARTNERS)
    if buying is None and partners is None:
        return None
    found = group_findings(ws)
    stamps = [str(r["finished_at"])[:16] for r in (buying, partners) if r is not None]
    return CooperationView(
        buying=buying["summary"] if buying else None,
        partners=partners["summary"] if partners else None,
        findings=tuple(f for fs in found.values() for f in fs),
        when=max(stamps) if stamps else "",
    )


def _split_chart(view: CooperationView, currency: str) -> tuple[Chart, ...]:
    if not view.buying:
        return ()
    row = view.buying.get("member_row", {})
    rules = [("proportional", "by volume"), ("shapley", "Shapley"), ("nucleolus", "nucleolus")]
    shown = [(label, row.get(k)) for k, label in rules if isinstance(row.get(k), (int, float))]
    fig = go.Figure(go.Bar(x=[s[0] for s in shown], y=[s[1] for s in shown]))
    fig.update_layout(yaxis_title=f"{currency} a year", margin={"t": 10})
    title = "Your saving in the buying group under three ways to split it"
    return (Chart(title, str(fig.to_json()), title),)


def _tables(view: CooperationView) -> tuple[TablePreview, ...]:
    out = []
    if view.buying and view.buying.get("items"):
        items = view.buying["items"]
        item_cols = ("supplier", "item", "pooled_volume", "tier", "tier_unit_price", "saving")
        rows = tuple(tuple("" if r.get(c) is None else f"{r[c]}" for c in item_cols) for r in items)
        out.append(TablePreview("pooled items", item_cols, rows, len(rows)))
    if view.partners:
        cols = ("partner", "shared_customers", "overlap_share", "shared_suppliers", "suggestion")
        recs = list(view.partners.get("partners") or [])
        partner_rows = tuple(
            (
                str(r["partner"]),
                f"{r['shared_customers']:,}",
                f"{r['overlap_share']:.0%}",
                ", ".join(r.get("shared_suppliers") or []),
                str(r["suggestion"]),
            )
            for r in recs
        )
        out.append(TablePreview("partners", cols, partner_rows, len(partner_rows)))
    return tuple(out)


def cooperation_section(ws: Workspace, currency: str) -> Section | None:
    """The report's cooperation section, or ``None`` when the business is in no group."""
    view = cooperation_view(ws)
    if view is None:
        return None
    return Section(
        name="cooperation",
        title="Cooperation: what you can do with other businesses",
        status="done",
        headline=tuple(view.headline(currency)),
        findings=tuple(_finding_view(f) for f in view.findings),
        charts=_split_chart(view, currency),
        tables=_tables(view),
        methods=COOPERATION_METHODS
        + (f" Privacy: {view.partners['privacy']}" if view.partners else "")
        + (f" Group results as of {view.when} UTC." if view.when else ""),
        references=_REFERENCES,
        summary={"buying": bool(view.buying), "partners": bool(view.partners)},
    )
