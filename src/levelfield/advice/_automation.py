"""Targeted automation priorities from the owner's questionnaire.

The questionnaire (``automation`` table: area, task, hours per week, hourly cost, error
rate, tools in use) is sized against a reference table of what off-the-shelf tools can
take over per area (``automation_reference.csv``, with its basis). Candidates are
ranked by payback, then risk, and worded as augmenting staff: the hours freed move to
work only people do well.

References
----------
McKinsey Global Institute (2017). *A future that works: automation, employment, and
productivity*. Technical automation potential by activity type.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from levelfield.errors import DataError
from levelfield.workspace import Workspace

__all__ = ["AutomationCandidate", "automation_priorities", "automation_reference"]

_RISK_RANK = {"low": 0, "medium": 1, "high": 2}
#: Errors are assumed to cost this multiple of the time of the task they spoil (rework).
_REWORK_FACTOR = 1.0
#: Share of errors that automation of a task removes (assumed; stated in the basis).
_ERROR_REDUCTION = 0.5
_WEEKS = 52.0


@dataclass(frozen=True)
class AutomationCandidate:
    """One task worth automating, with what it frees and what it costs."""

    area: str
    task: str
    solution: str
    hours_freed_per_week: float
    annual_savings: float
    annual_tool_cost: float
    setup_cost: float
    payback_months: float
    risk: str
    already_has_tool: bool
    basis: str

    @property
    def net_annual_benefit(self) -> float:
        return self.annual_savings - self.annual_tool_cost

    @property
    def payback_words(self) -> str:
        """``"1.3 months"``, or ``"does not pay back"`` when savings never cover the tool."""
        if math.isfinite(self.payback_months):
            return f"{self.payback_months:.1f} months"
        return "does not pay back"

    def sentence(self, currency: str) -> str:
        """Plain-language recommendation, worded as augmenting staff."""
        tool = "extend the tool you already use to" if self.already_has_tool else "use"
        payback = (
            f"pays back in about {self.payback_months:.0f} months"
            if math.isfinite(self.payback_months)
            else "does not pay back at these numbers"
        )
        return (
            f"{self.area.replace('_', ' ').capitalize()} — {self.task}: {tool} "
            f"{self.solution}. It frees about {self.hours_freed_per_week:.1f} hours a week "
            f"for your team to spend with customers and on quality, worth "
            f"{currency} {self.net_annual_benefit:,.0f} a year after tool costs; {payback} "
            f"({self.risk} risk)."
        )


def automation_reference() -> pd.DataFrame:
    """The per-area reference table (solution, automatable share, tool cost, basis)."""
    text = (
        resources.files("levelfield.advice").joinpath("automation_reference.csv").read_text("utf-8")
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    df = pd.DataFrame(rows)
    for col in ("automatable_share", "tool_monthly_cost", "setup_hours"):
        df[col] = df[col].astype(float)
    df["customer_facing"] = df["customer_facing"] == "true"
    return df.set_index("area")


def _normalise_area(area: str) -> str:
    return area.strip().lower().replace(" ", "_").replace("-", "_")


def _area_lookup(ref: pd.DataFrame) -> dict[str, str]:
    """Map every area name and alias (normalised) to its reference area."""
    lookup = {str(a): str(a) for a in ref.index}
    for area, aliases in ref["aliases"].items():
        for alias in str(aliases).split(";"):
            if alias.strip():
                lookup[_normalise_area(alias)] = str(area)
    return lookup


def automation_priorities(ws: Workspace) -> list[AutomationCandidate]:
    """Rank the questionnaire's tasks by payback (months), then by risk.

    Returns an empty list when no questionnaire was imported. Tasks in areas the
    reference does not know raise :class:`DataError` listing the known areas.
    """
    q = ws.con.execute(
        "SELECT area, task, hours_per_week, hourly_cost, coalesce(error_rate, 0), "
        "coalesce(tools, '') FROM automation ORDER BY area, task"
    ).df()
    if q.empty:
        return []
    ref = automation_reference()
    q.columns = ["area", "task", "hours", "cost", "error_rate", "tools"]
    lookup = _area_lookup(ref)
    normalised = q["area"].map(_normalise_area)
    unknown = sorted(set(normalised) - set(lookup))
    if unknown:
        raise DataError(
            f"automation questionnaire: unknown area(s) {', '.join(unknown)}; use one of "
            f"{', '.join(ref.index)} (or a common name for one, e.g. 'orders' for "
            "operations; see 'levelfield template automation')"
        )
    q["area_key"] = normalised.map(lookup)
    bad = q[(q["hours"] < 0) | (q["cost"] < 0) | (q["error_rate"] < 0) | (q["error_rate"] > 1)]
    if not bad.empty:
        first = bad.iloc[0]
        raise DataError(
            f"automation questionnaire, task {first['task']!r}: hours and cost must be >= 0 "
            "and error_rate a share between 0 and 1"
        )
    r = ref.loc[q["area_key"]].reset_index(drop=True)
    share = r["automatable_share"].to_numpy()
    hours = q["hours"].to_numpy(dtype=float)
    cost = q["cost"].to_numpy(dtype=float)
    err = q["error_rate"].to_numpy(dtype=float)
    labour = hours * cost * _WEEKS
    savings = labour * share + labour * err * _REWORK_FACTOR * _ERROR_REDUCTION
    tool = r["tool_monthly_cost"].to_numpy() * 12.0
    setup = r["setup_hours"].to_numpy() * cost
    monthly_net = (savings - tool) / 12.0
    with np.errstate(divide="ignore", invalid="ignore"):
        payback = np.where(
            monthly_net > 0, setup / np.where(monthly_net > 0, monthly_net, 1.0), np.inf
        )
    keywords = r["keywords"].str.split(";")
    tools_lower = q["tools"].str.lower()
    has_tool = [
        any(k and k in t for k in kws) for kws, t in zip(keywords, tools_lower, strict=True)
    ]
    risk = r["risk"].tolist()
    out = [
        AutomationCandidate(
            area=str(q["area_key"].iat[i]),
            task=str(q["task"].iat[i]),
            solution=str(r["solution"].iat[i]),
            hours_freed_per_week=float(hours[i] * share[i]),
            annual_savings=float(savings[i]),
            annual_tool_cost=float(tool[i]),
            setup_cost=float(setup[i]),
            payback_months=float(payback[i]),
            risk=str(risk[i]),
            already_has_tool=bool(has_tool[i]),
            basis=(
                f"{share[i]:.0%} of {hours[i]:.1f} h/week automatable ({r['basis'].iat[i]}); "
                f"errors at {err[i]:.0%} assumed to cost their task's time again and to "
                f"halve; setup {r['setup_hours'].iat[i]:.0f} h at the task's hourly cost"
            ),
        )
        for i in range(len(q))
    ]
    return sorted(out, key=lambda c: (c.payback_months, _RISK_RANK[c.risk], c.area, c.task))
