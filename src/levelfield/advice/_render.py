"""The advice plan as plain data (JSON) and as Markdown, for pasting elsewhere."""

from __future__ import annotations

import math
from typing import Any

from levelfield.advice._advise import Action, AdvicePlan

__all__ = ["plan_markdown", "plan_to_dict"]


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _action_dict(a: Action, headline: bool) -> dict[str, Any]:
    return {
        "rank": a.rank,
        "rule": a.rule_id,
        "headline": headline,
        "title": a.title,
        "do": a.do,
        "finding": a.finding,
        "metric": a.metric,
        "value": _finite(a.value),
        "impact": {
            "low": a.impact.low,
            "mid": a.impact.mid,
            "high": a.impact.high,
            "method": a.impact.method,
        },
        "assumptions": a.impact.basis,
        "success_probability": a.success_probability,
        "expected_value": a.expected_value,
        "effort": a.effort,
        "effort_words": a.effort_words,
        "horizon_weeks": a.horizon_weeks,
        "kpi": a.kpi,
        "strategy": a.strategy,
        "source": a.source,
        "pilot": a.pilot.description if a.pilot else None,
        "reasoning": a.reasoning,
    }


def plan_to_dict(plan: AdvicePlan) -> dict[str, Any]:
    """The whole plan as JSON-able data (no NaN or infinity: those become ``None``)."""
    top = {a.rule_id for a in plan.headline_actions}
    return {
        "currency": plan.currency,
        "actions": [_action_dict(a, a.rule_id in top) for a in plan.actions],
        "insights": [{"name": i.name, "explanation": i.explanation} for i in plan.insights],
        "automation": [
            {
                "area": c.area,
                "task": c.task,
                "solution": c.solution,
                "hours_freed_per_week": c.hours_freed_per_week,
                "net_annual_benefit": c.net_annual_benefit,
                "setup_cost": c.setup_cost,
                "payback_months": _finite(c.payback_months),
                "risk": c.risk,
                "basis": c.basis,
            }
            for c in plan.automation
        ],
        "scorecard": [
            {
                "perspective": m.perspective,
                "metric": m.name,
                "value": None if m.value is None else _finite(m.value),
                "unit": m.unit,
                "status": m.status,
                "reference": m.reference,
                "source": m.source,
            }
            for m in plan.scorecard
        ],
        "missing_data": [
            {"data": u.data, "how": u.how, "would_unlock": list(u.advice)} for u in plan.unlocks
        ],
        "not_analysed": dict(plan.skipped),
    }


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())


def _action_markdown(a: Action, currency: str) -> list[str]:
    return [
        f"{a.rank}. **{a.title}**",
        f"   - Why: {a.finding}",
        f"   - Do: {a.do}",
        f"   - Worth: {a.worth_text(currency)}; chance it "
        f"works: {a.success_probability:.0%}; effort: {a.effort_words}; within "
        f"{a.horizon_weeks} weeks",
        f"   - Assumptions: {a.impact.basis}",
        f"   - Track: {a.kpi}",
    ]


def plan_markdown(plan: AdvicePlan) -> str:
    """The whole plan as Markdown: headline actions, the rest, data to add, tables."""
    top = plan.headline_actions
    top_ids = {a.rule_id for a in top}
    lines = ["# Plan", "", "## Actions worth doing this quarter", ""]
    if not top:
        lines.append("No action stands out: none of the playbook's conditions is met.")
    for a in top:
        lines += _action_markdown(a, plan.currency)
    more = [a for a in plan.actions if a.rule_id not in top_ids]
    if more:
        lines += ["", "## More actions, ranked", ""]
        for a in more:
            lines += _action_markdown(a, plan.currency)
    if plan.insights:
        lines += ["", "## Patterns across the analyses", ""]
        lines += [f"- **{i.name}**: {i.explanation}" for i in plan.insights]
    if plan.unlocks or plan.skipped:
        lines += ["", "## More data, more advice", ""]
        lines += [f"- {name} not analysed: {why}" for name, why in plan.skipped.items()]
        lines += [f"- {u.sentence()}" for u in plan.unlocks]
    lines += ["", "## Automation priorities", ""]
    if plan.automation:
        lines += [
            f"| Area | Task | Tool | Hours freed a week | Worth a year ({plan.currency}) "
            "| Payback | Risk |",
            "|---|---|---|---:|---:|---|---|",
        ]
        for c in plan.automation:
            lines.append(
                f"| {_cell(c.area.replace('_', ' '))} | {_cell(c.task)} | {_cell(c.solution)} "
                f"| {c.hours_freed_per_week:.1f} | {c.net_annual_benefit:,.0f} | {c.payback_words} "
                f"| {c.risk} |"
            )
    else:
        lines.append(
            "No automation questionnaire yet (levelfield template automation, then "
            "levelfield import automation FILE)."
        )
    lines += [
        "",
        "## Balanced scorecard",
        "",
        "| Perspective | Metric | Value | Status | What good looks like |",
        "|---|---|---:|---|---|",
    ]
    lines += [
        f"| {m.perspective} | {_cell(m.name)} | {m.formatted()} | {m.status} "
        f"| {_cell(m.reference)} |"
        for m in plan.scorecard
    ]
    return "\n".join(lines) + "\n"
