"""An association's evidence pack: what platforms and regulation cost its members.

From several members' workspaces the pack states the fee burden per platform, the share
of members depending on one platform and the compliance cost per employee against large
firms (Crain & Crain), as one HTML file an association can publish. Every number in it is
an aggregate released through the fleet's k-anonymity rule
(:func:`levelfield.fleet._peers.peer_benchmarks`): a group is published only when at
least ``k`` members contributed (k = 10 as soon as more than a handful, five, of firms
contribute), never republished after a change of fewer than ``k`` members (the ledger of
earlier releases is kept beside the pack, privately), and everything suppressed is named
with the reason.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.exposure import channel_fee_rates, compliance_costs
from levelfield.fleet._peers import peer_benchmarks
from levelfield.workspace import Workspace, open_workspace

__all__ = [
    "EVIDENCE_METRICS",
    "HANDFUL",
    "EvidencePack",
    "MemberEvidence",
    "evidence_pack",
    "member_evidence",
    "render_evidence_html",
]

HANDFUL = 5
"""Up to this many contributing firms, the pack is for the members themselves (k = 3)."""
DEPENDENT_SHARE = 0.5
"""A member depends on one platform when it carries at least this share of revenue."""
EVIDENCE_METRICS: dict[str, str] = {
    "evidence.fee_rate": "share",
    "evidence.platform_dependent": "share",
    "evidence.compliance_cost_per_employee": "currency",
}
_ALL = "all members"


@dataclass(frozen=True)
class MemberEvidence:
    """One member's contribution (stays inside the pack builder; never published)."""

    name: str
    currency: str
    fee_rates: dict[str, float]
    platform_shares: dict[str, float]
    largest_platform_share: float | None
    compliance_per_employee: float | None


def _business(ws: Workspace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in ws.con.execute("SELECT key, value FROM business").fetchall():
        out[str(k)] = json.loads(v)
    return out


def _compliance_per_employee(ws: Workspace, employees: float | None) -> float | None:
    row = ws.con.execute(
        "WITH c AS (SELECT month, amount FROM costs WHERE lower(category) LIKE '%complian%'), "
        "w AS (SELECT * FROM c WHERE month > (SELECT max(month) FROM c) - INTERVAL 12 MONTH) "
        "SELECT sum(amount), count(DISTINCT month) FROM w"
    ).fetchall()[0]
    if row[0] is None or not employees or employees <= 0:
        return None
    return float(row[0]) * 12.0 / int(row[1]) / employees  # annualised with less history


def member_evidence(ws: Workspace) -> MemberEvidence:
    """Fee rate and revenue share per platform, platform dependence, compliance cost."""
    biz = _business(ws)
    rates = channel_fee_rates(ws)
    rows = ws.con.execute(
        "SELECT o.channel, coalesce(c.platform, o.channel), coalesce(c.owns_customer, false), "
        "sum(o.net_revenue_base) FROM order_revenue o LEFT JOIN channels c USING (channel) "
        "GROUP BY ALL"
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["channel", "platform", "owns", "revenue"])
    frame["revenue"] = frame["revenue"].astype(float)
    frame["rate"] = frame["channel"].map(rates)
    total = float(frame["revenue"].sum())
    known = frame.dropna(subset=["rate"])
    fee = (known["rate"] * known["revenue"]).groupby(known["platform"]).sum() / known.groupby(
        "platform"
    )["revenue"].sum()
    shares = frame.groupby("platform")["revenue"].sum() / total if total > 0 else pd.Series()
    owned = frame.loc[~frame["owns"].astype(bool)].groupby("platform")["revenue"].sum()
    employees = biz.get("employees")
    return MemberEvidence(
        name=str(biz.get("name") or ws.path.parent.name),
        currency=str(biz.get("currency") or "EUR"),
        fee_rates={str(k): float(v) for k, v in fee.items() if np.isfinite(v)},
        platform_shares={str(k): float(v) for k, v in shares.items()},
        largest_platform_share=float(owned.max() / total) if total > 0 and len(owned) else 0.0,
        compliance_per_employee=_compliance_per_employee(
            ws, float(employees) if isinstance(employees, (int, float, str)) else None
        ),
    )


def _contributions(members: list[MemberEvidence]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metric rows and the 'businesses' table that groups them, as the fleet rule reads them.

    Fee rates are grouped by platform: one contribution per member and platform.
    """
    rows: list[tuple[str, str, float, str]] = []
    for m in members:  # a few dozen members, a handful of metrics each
        rows += [(f"{m.name}|{p}", "evidence.fee_rate", r, p) for p, r in m.fee_rates.items()]
        if m.largest_platform_share is not None:
            dep = float(m.largest_platform_share >= DEPENDENT_SHARE)
            rows.append((m.name, "evidence.platform_dependent", dep, _ALL))
        if m.compliance_per_employee is not None:
            v = m.compliance_per_employee
            rows.append((m.name, "evidence.compliance_cost_per_employee", v, _ALL))
    frame = pd.DataFrame(rows, columns=["business_id", "metric", "value", "sector"])
    findings = frame[["business_id", "metric", "value"]].assign(error=None)
    businesses = (
        frame[["business_id", "sector"]]
        .drop_duplicates("business_id")
        .assign(region="all", size_band="all", consent=True)
    )
    return findings, businesses


@dataclass(frozen=True)
class EvidencePack:
    """The published table (aggregates only), what was suppressed, and the private ledger."""

    table: pd.DataFrame
    ledger: pd.DataFrame
    k: int
    n_members: int
    currency: str
    large_firm: dict[str, Any]
    made: str

    @property
    def suppressed(self) -> pd.DataFrame:
        return self.table.loc[self.table["status"] == "suppressed"]

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> dict[str, Any]:
        return {
            "members": self.n_members,
            "k": self.k,
            "published": int((self.table["status"] != "suppressed").sum()),
            "suppressed": int((self.table["status"] == "suppressed").sum()),
        }


def _choose_k(n: int, k: int | None) -> int:
    if k is None:
        return 10 if n > HANDFUL else 3
    if not isinstance(k, int) or k < 3:
        raise ConfigError(f"k must be a whole number of at least 3, not {k!r}")
    if n > HANDFUL and k < 10:
        raise ConfigError(
            f"{n} firms contribute: with more than {HANDFUL}, every aggregate needs k >= 10 "
            f"(asked k={k})"
        )
    return k


def _means(table: pd.DataFrame, findings: pd.DataFrame, businesses: pd.DataFrame) -> pd.Series:
    """The mean of each published group (the share of dependent members, for instance)."""
    vals = findings.merge(businesses[["business_id", "sector"]], on="business_id")
    means = vals.groupby(["metric", "sector"])["value"].mean()
    keys = pd.MultiIndex.from_frame(table[["metric", "sector"]])
    out = pd.Series(means.reindex(keys).to_numpy(), index=table.index)
    return out.where(table["status"] != "suppressed")


def evidence_pack(
    workspaces: list[Path], *, k: int | None = None, ledger: pd.DataFrame | None = None
) -> EvidencePack:
    """Build the evidence pack from members' workspaces (see the module docstring).

    Parameters
    ----------
    workspaces
        The members' workspace files (at least 3).
    k
        Smallest number of contributing members of a published aggregate; default 10 when
        more than :data:`HANDFUL` firms contribute, else 3. Below 10 is refused then.
    ledger
        The private ledger of the previous pack (``EvidencePack.ledger``), so that a group
        changed by fewer than ``k`` members is suppressed rather than republished.
    """
    if len(workspaces) < 3:
        raise InsufficientDataError(
            f"an evidence pack needs at least 3 members' workspaces, found {len(workspaces)}"
        )
    members = []
    for p in workspaces:
        with open_workspace(p, create=False) as ws:
            members.append(member_evidence(ws))
    currencies = sorted({m.currency for m in members})
    if len(currencies) > 1:
        raise InsufficientDataError(
            f"members report in several currencies ({', '.join(currencies)}); build one pack "
            "per currency"
        )
    kk = _choose_k(len(members), k)
    findings, businesses = _contributions(members)
    release = peer_benchmarks(findings, businesses, k=kk, ledger=ledger, metrics=EVIDENCE_METRICS)
    table = release.table.copy()
    table["mean"] = _means(table, findings, businesses)
    large = compliance_costs()
    crain = large.loc[(large["study"] == "crain_crain_2014")].set_index("size_band")
    big: dict[str, Any] = {str(c): v for c, v in crain.loc["large"].to_dict().items()}
    small: dict[str, Any] = {str(c): v for c, v in crain.loc["small"].to_dict().items()}
    return EvidencePack(
        table=table,
        ledger=release.ledger,
        k=kk,
        n_members=len(members),
        currency=currencies[0],
        large_firm={
            "large": float(big["cost_per_employee"]),
            "small": float(small["cost_per_employee"]),
            "currency": str(big["currency"]),
            "price_year": int(big["price_year"]),
            "source": str(big["source"]),
            "caveat": str(big["caveat"]),
        },
        made=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
    )


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#1d2433;line-height:1.45}
h1{font-size:1.7rem}
h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ee;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#3b6fd8;height:.7rem;border-radius:2px}.muted{color:#667}
.big{font-size:1.4rem;font-weight:600}.suppressed{color:#a33}
"""


def _pct(x: Any) -> str:
    return "—" if x is None or not np.isfinite(float(x)) else f"{float(x):.1%}"


def _amount(x: Any, currency: str) -> str:
    return "—" if x is None or not np.isfinite(float(x)) else f"{currency} {float(x):,.0f}"


def _reason(pack: EvidencePack, reason: str) -> str:
    if reason.startswith("fewer than k="):
        return f"fewer than k={pack.k} members contribute"
    return reason.removeprefix("suppressed: ")


def _fee_rows(pack: EvidencePack) -> str:
    fees = pack.table.loc[pack.table["metric"] == "evidence.fee_rate"].sort_values("sector")
    out = []
    for r in fees.to_dict("records"):
        if r["status"] == "suppressed":
            out.append(
                f"<tr><td>{html.escape(str(r['sector']))}</td><td class='num'>fewer than "
                f"{pack.k}</td><td colspan='2' class='suppressed'>suppressed: "
                f"{html.escape(_reason(pack, str(r['reason'])))}</td></tr>"
            )
            continue
        width = min(float(r["p50"]) / 0.35, 1.0) * 100
        out.append(
            f"<tr><td>{html.escape(str(r['sector']))}</td><td class='num'>{int(r['n'])}</td>"
            f"<td class='num'>{_pct(r['p50'])} <span class='muted'>({_pct(r['p25'])}–"
            f"{_pct(r['p75'])})</span></td><td style='width:30%'><div class='bar' "
            f"style='width:{width:.0f}%'></div></td></tr>"
        )
    return "".join(out)


def _group_row(pack: EvidencePack, metric: str) -> dict[str, Any] | None:
    rows = pack.table.loc[pack.table["metric"] == metric].to_dict("records")
    return {str(k): v for k, v in rows[0].items()} if rows else None


def _dependence(pack: EvidencePack) -> str:
    r = _group_row(pack, "evidence.platform_dependent")
    if r is None:
        return "<p>No member's sales by channel could be read.</p>"
    if r["status"] == "suppressed":
        return f"<p class='suppressed'>Suppressed: {html.escape(_reason(pack, r['reason']))}.</p>"
    return (
        f"<p><span class='big'>{_pct(r['mean'])}</span> of the {int(r['n'])} members sell at "
        f"least {DEPENDENT_SHARE:.0%} of their revenue through one platform that owns the "
        "customer relationship (a marketplace or delivery app).</p>"
    )


def _compliance(pack: EvidencePack) -> str:
    r = _group_row(pack, "evidence.compliance_cost_per_employee")
    lf = pack.large_firm
    ref = (
        f"Large firms (100 or more employees) bear {lf['currency']} {lf['large']:,.0f} per "
        f"employee a year, small firms {lf['currency']} {lf['small']:,.0f} ({lf['price_year']} "
        f"dollars; {html.escape(lf['source'])}; {html.escape(lf['caveat'])})."
    )
    if r is None:
        return (
            f"<p>No member reported compliance costs (costs category 'compliance').</p><p>{ref}</p>"
        )
    if r["status"] == "suppressed":
        why = html.escape(_reason(pack, str(r["reason"])))
        return f"<p class='suppressed'>Suppressed: {why}.</p><p>{ref}</p>"
    ratio = ""
    if pack.currency == lf["currency"]:
        ratio = (
            f" That is {float(r['p50']) / lf['large']:.2f} times the large-firm figure per "
            "employee (different years and scope: read it as an order of magnitude)."
        )
    return (
        f"<p>Members report a median of <span class='big'>{_amount(r['p50'], pack.currency)}"
        f"</span> per employee a year on compliance (middle half {_amount(r['p25'], pack.currency)}"
        f"–{_amount(r['p75'], pack.currency)}; {int(r['n'])} members).{ratio}</p><p>{ref}</p>"
    )


def _suppressed_list(pack: EvidencePack) -> str:
    sup = pack.suppressed
    if sup.empty:
        return "<p>Nothing was suppressed.</p>"
    items = "".join(
        f"<li>{html.escape(str(r['metric']).split('.', 1)[1].replace('_', ' '))}, "
        f"{html.escape(str(r['sector']))}: {html.escape(_reason(pack, str(r['reason'])))}</li>"
        for r in sup.to_dict("records")
    )
    return f"<ul>{items}</ul>"


def render_evidence_html(pack: EvidencePack, title: str = "Evidence pack") -> str:
    """The pack as one self-contained HTML file (no scripts, no external resources)."""
    t = html.escape(title)
    rule = (
        f"Every figure aggregates at least k = {pack.k} members"
        + (
            f" (more than {HANDFUL} firms contributed, so k is at least 10)"
            if pack.n_members > HANDFUL
            else f" (only {pack.n_members} firms: this pack is for the members themselves)"
        )
        + "; a group that changed by fewer than k members since the last pack is not "
        "republished. No member's own figure appears anywhere."
    )
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{t}</title>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<style>{_CSS}</style></head><body><h1>{t}</h1>"
        f"<p class='muted'>{pack.n_members} member businesses contributed; made "
        f"{pack.made} with levelfield. Money in {html.escape(pack.currency)}.</p>"
        f"<p>{rule}</p>"
        "<h2 id='fees'>What platforms take</h2><p>Fees paid to each platform (marketplace, "
        "delivery app or card processor) as a share of the sales made through it: median "
        "and middle half across the members who use it.</p><table><thead><tr><th>Platform"
        "</th><th>Members</th><th>Fee rate</th><th></th></tr></thead><tbody>"
        f"{_fee_rows(pack)}</tbody></table>"
        f"<h2 id='dependence'>Depending on one platform</h2>{_dependence(pack)}"
        f"<h2 id='compliance'>The cost of compliance</h2>{_compliance(pack)}"
        f"<h2 id='suppressed'>What was left out, and why</h2>{_suppressed_list(pack)}"
        "<h2>How this was made</h2><p>Each member's figures were computed in its own "
        "workspace: fee rates from the fees in its exports (or the published fee schedule "
        "where an export has none), revenue per channel, compliance costs as the member "
        "books them (costs category 'compliance') over the last 12 months divided by "
        "employees. Only the aggregates above left the builder; the list of which member "
        "was in which group stays with the association (the ledger) so the next pack cannot "
        "be compared with this one to single out a member.</p></body></html>"
    )
