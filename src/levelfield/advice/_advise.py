"""From findings to ranked actions: the ``levelfield advise`` engine."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from levelfield.advice._automation import AutomationCandidate, automation_priorities
from levelfield.advice._facts import BusinessFacts, business_facts
from levelfield.advice._impact import ImpactEstimate, estimate_impact
from levelfield.advice._pilots import PilotDesign, pilot_design
from levelfield.advice._playbook import Rule, evaluate_rule, load_playbook, render
from levelfield.advice._scorecard import ScorecardMetric, balanced_scorecard
from levelfield.advice._unlocks import Unlock, data_present, unlocks
from levelfield.errors import ConfigError
from levelfield.findings import Finding, ProgressCallback, no_progress
from levelfield.workspace import UNSET, Unset, Workspace

__all__ = ["Action", "AdvicePlan", "Insight", "PilotDesign", "advise", "rank_actions"]

EFFORT_WORDS = {
    1: "an afternoon",
    2: "a few days",
    3: "a few weeks",
    4: "a quarter-long project",
    5: "a major project",
}
MAX_HEADLINE = 3
SEED_TITLES = {
    "000": "Globalization Asymmetry",
    "001": "Systemic Market Distortion",
    "002": "Strategic Homogenization Risk",
    "003": "Are you enjoying globalization yet?",
    "004": "New SMB growth models",
}


@dataclass(frozen=True)
class Action:
    """A concrete action with the finding and the number behind it."""

    rule_id: str
    title: str
    do: str
    finding: str
    metric: str
    value: float
    strategy: str
    source: str
    impact: ImpactEstimate
    effort: int
    horizon_weeks: int
    kpi: str
    insight: str | None = None
    pilot: PilotDesign | None = None
    success_probability: float = 1.0
    rank: int = 0
    reasoning: str = ""

    @property
    def expected_value(self) -> float:
        """Expected annual profit: the sized impact times the chance the action works.

        A simulated impact that already averages over the futures where the action fails
        is its own expectation and is not discounted again.
        """
        if self.impact.averaged:
            return self.impact.mid
        return self.impact.mid * self.success_probability

    @property
    def informational(self) -> bool:
        """The rule informs (what a lender sees, when cash runs low) and claims no gain."""
        return self.impact.method == "information"

    @property
    def worth_doing(self) -> bool:
        """Expected to gain something, or information to act on (no money figure claimed).

        The rest were considered and are not recommended: on the data they are expected
        to gain nothing or to lose money.
        """
        return self.informational or self.expected_value > 0

    def worth_text(self, currency: str) -> str:
        """What the action is worth, in words: a yearly range, or that it claims none."""
        if self.informational:
            return "information, no money figure claimed"
        return f"{currency} {self.impact.low:,.0f} to {self.impact.high:,.0f} a year"

    @property
    def score(self) -> float:
        """Expected annual profit per effort point (what the ranking sorts by)."""
        return self.expected_value / self.effort

    @property
    def effort_words(self) -> str:
        return EFFORT_WORDS[self.effort]


@dataclass(frozen=True)
class Insight:
    """A cross-analysis pattern (commodity trap, platform trap, ...)."""

    rule_id: str
    name: str
    explanation: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class AdvicePlan:
    """Ranked actions, insights, automation priorities and the balanced scorecard."""

    actions: tuple[Action, ...]
    insights: tuple[Insight, ...]
    automation: tuple[AutomationCandidate, ...]
    scorecard: tuple[ScorecardMetric, ...]
    currency: str
    skipped: Mapping[str, str] = field(default_factory=dict)
    silent_rules: tuple[str, ...] = ()
    unlocks: tuple[Unlock, ...] = ()

    @property
    def headline_actions(self) -> tuple[Action, ...]:
        """At most three actions worth doing this quarter (positive expected value)."""
        return tuple(a for a in self.actions if a.expected_value > 0)[:MAX_HEADLINE]

    def headline(self) -> list[str]:
        lines: list[str] = []
        top = self.headline_actions
        if not top:
            lines.append("No action stands out: none of the playbook's conditions is met.")
        for a in top:
            lines.append(f"{a.rank}. {a.title}")
            lines.append(f"   Why: {a.finding}")
            lines.append(f"   Worth: {a.worth_text(self.currency)}; effort: {a.effort_words}")
        shown = {a.rule_id for a in top}
        for ins in self.insights:
            if ins.rule_id not in shown:  # an insight already headlined as an action
                lines.append(f"! {ins.name}: {ins.explanation}")
        worth = sum(1 for a in self.actions if a.worth_doing)
        if worth > len(top):
            lines.append(f"({worth - len(top)} more actions in the report)")
        if len(self.actions) > worth:
            n_not = len(self.actions) - worth
            lines.append(
                f"({n_not} more considered but not recommended: expected to gain nothing "
                "or to lose money on your data)"
            )
        for name, why in self.skipped.items():
            lines.append(f"({name} not analysed: {why})")
        if self.unlocks:
            n = len(self.actions)
            support = "no action yet" if n == 0 else f"{n} action{'' if n == 1 else 's'}"
            lines.append(f"Your data support {support}; more advice needs more data:")
            lines.extend(f"+ {u.sentence()}" for u in self.unlocks)
        return lines

    def summary(self) -> dict[str, Any]:
        return {
            "n_actions": len(self.actions),
            "headline": [a.rule_id for a in self.headline_actions],
            "insights": [i.name for i in self.insights],
            "expected_gain_top3": sum(a.impact.mid for a in self.headline_actions),
            "n_automation_candidates": len(self.automation),
            "skipped": dict(self.skipped),
            "unlocks": {u.data: list(u.advice) for u in self.unlocks},
        }

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "rank": a.rank,
                    "action": a.title,
                    "do": a.do,
                    "finding": a.finding,
                    "metric": a.metric,
                    "value": a.value,
                    "strategy": a.strategy,
                    "source": a.source,
                    "impact_low": a.impact.low,
                    "impact_mid": a.impact.mid,
                    "impact_high": a.impact.high,
                    "impact_basis": a.impact.basis,
                    "success_probability": a.success_probability,
                    "effort": a.effort,
                    "horizon_weeks": a.horizon_weeks,
                    "kpi": a.kpi,
                    "pilot": a.pilot.description if a.pilot else "",
                    "reasoning": a.reasoning,
                }
                for a in self.actions
            ],
            columns=[
                "rank",
                "action",
                "do",
                "finding",
                "metric",
                "value",
                "strategy",
                "source",
                "impact_low",
                "impact_mid",
                "impact_high",
                "impact_basis",
                "success_probability",
                "effort",
                "horizon_weeks",
                "kpi",
                "pilot",
                "reasoning",
            ],
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        automation = pd.DataFrame(
            [
                {
                    "area": c.area,
                    "task": c.task,
                    "solution": c.solution,
                    "hours_freed_per_week": c.hours_freed_per_week,
                    "annual_savings": c.annual_savings,
                    "annual_tool_cost": c.annual_tool_cost,
                    "setup_cost": c.setup_cost,
                    "payback_months": c.payback_months,
                    "risk": c.risk,
                    "basis": c.basis,
                }
                for c in self.automation
            ]
        )
        scorecard = pd.DataFrame(
            [
                {
                    "perspective": m.perspective,
                    "metric": m.name,
                    "value": m.value,
                    "unit": m.unit,
                    "status": m.status,
                    "reference": m.reference,
                    "source": m.source,
                    "trend": "; ".join(f"{y}: {v:.3g}" for y, v in m.trend),
                }
                for m in self.scorecard
            ]
        )
        insights = pd.DataFrame(
            [{"insight": i.name, "explanation": i.explanation} for i in self.insights],
            columns=["insight", "explanation"],
        )
        missing = pd.DataFrame(
            [
                {"data": u.data, "how": u.how, "would_unlock": "; ".join(u.advice)}
                for u in self.unlocks
            ],
            columns=["data", "how", "would_unlock"],
        )
        return {
            "actions": self.to_frame(),
            "insights": insights,
            "automation": automation,
            "scorecard": scorecard,
            "missing_data": missing,
        }

    def findings(self) -> list[Finding]:
        return [
            Finding(
                metric="advice.top_action",
                value=a.impact.mid,
                unit="currency",
                text=f"{a.title}: worth {a.worth_text(self.currency)}",
                severity="info",
                context={"rule": a.rule_id, "rank": a.rank},
            )
            for a in self.headline_actions
        ]


def _automation_findings(candidates: Sequence[AutomationCandidate], currency: str) -> list[Finding]:
    paying = [c for c in candidates if math.isfinite(c.payback_months)]
    if not paying:
        return []
    c = paying[0]
    return [
        Finding(
            metric="advice.automation_savings",
            value=c.net_annual_benefit,
            unit="currency",
            text=(
                f"Automating {c.task} ({c.area.replace('_', ' ')}) would free "
                f"{c.hours_freed_per_week:.1f} hours a week, worth {currency} "
                f"{c.net_annual_benefit:,.0f} a year after tool costs, paying back in "
                f"{c.payback_words}"
            ),
            severity="info",
            context={
                "area": c.area.replace("_", " "),
                "task": c.task,
                "solution": c.solution,
                "amount": c.net_annual_benefit,
            },
        )
    ]


def _pilot(rule: Rule, facts: BusinessFacts) -> PilotDesign | None:
    spec = rule.pilot
    if not spec:
        return None
    return pilot_design(spec, facts)


def rank_actions(actions: Sequence[Action], currency: str) -> tuple[Action, ...]:
    """Order by expected annual profit per effort point, ties by rule id (stable)."""
    ordered = sorted(actions, key=lambda a: (-a.score, a.rule_id))
    out = []
    for i, a in enumerate(ordered, start=1):
        if a.impact.averaged:
            chance = (
                f" (the average over futures where it pays, {a.success_probability:.0%} of "
                "them, and where it does not)"
            )
        elif a.success_probability < 1:
            chance = f" x {a.success_probability:.0%} chance the hypothesis holds"
        else:
            chance = ""
        reasoning = (
            f"#{i}: expected {currency} {a.impact.mid:,.0f} a year{chance} for "
            f"{a.effort_words} of effort (effort {a.effort}/5) = {currency} "
            f"{a.score:,.0f} per effort point"
        )
        if i > 1:
            prev = ordered[i - 2]
            reasoning += f", below #{i - 1} ({currency} {prev.score:,.0f} per point)"
        out.append(
            Action(**{**a.__dict__, "rank": i, "reasoning": reasoning})  # frozen: rebuild
        )
    return tuple(out)


def _tuned(rule: Rule, settings: Mapping[str, Any]) -> Rule:
    """``rule`` with the owner's settings applied (the buying-group rule's numbers)."""
    if rule.id != "buy_together":
        return rule
    pre = "advice.buy_together."
    gap = float(settings[pre + "min_scale_gap"])
    conditions = tuple(
        replace(c, value=gap) if c.metric == "exposure.scale_gap" else c for c in rule.conditions
    )
    low, high = float(settings[pre + "low_share"]), float(settings[pre + "high_share"])
    if low > high:
        raise ConfigError(
            f"setting {pre}low_share ({low:g}) is above {pre}high_share ({high:g}); "
            f"'levelfield set {pre}low_share {high:g}' or raise the high share"
        )
    return replace(
        rule,
        conditions=conditions,
        impact={**rule.impact, "low_share": low, "high_share": high},
        success_probability=float(settings[pre + "success_probability"]),
    )


def _gather_findings(
    ws: Workspace,
    findings: Mapping[str, Sequence[Finding]] | None,
    skipped: Mapping[str, str] | None,
    progress: ProgressCallback,
) -> tuple[list[Finding], dict[str, str]]:
    """All findings in one list, and the analyses that did not run (with why): the given
    ones, or the latest stored (running the analyses that have none, 0-70 % progress)."""
    if findings is None:
        from levelfield.pipeline import collect_findings

        by_analysis, not_run = collect_findings(ws, progress=lambda s, f: progress(s, 0.7 * f))
        flat = [f for fs in by_analysis.values() for f in fs]
    else:
        not_run = dict(skipped or {})
        flat = [f for fs in findings.values() for f in fs]
    return flat, not_run


def _fire_rules(
    ws: Workspace,
    rules: Sequence[Rule],
    by_metric: Mapping[str, list[Finding]],
    facts: BusinessFacts,
) -> tuple[list[Action], list[Insight], list[str]]:
    """Evaluate every rule against the findings by metric: the actions (sized with the
    business facts), the cross-analysis insights, and the ids of rules that did not fire."""
    actions: list[Action] = []
    insights: list[Insight] = []
    silent: list[str] = []
    for rule in rules:
        bound = evaluate_rule(rule, by_metric)
        if bound is None:
            silent.append(rule.id)
            continue
        lead = next(iter(bound.values()))
        insight_text = None
        if rule.kind == "insight" and rule.explain and rule.name:
            insight_text = render(rule.explain, bound, facts, rule.id)
            insights.append(Insight(rule.id, rule.name, insight_text, rule.metrics))
        finding_text = insight_text or "; ".join(dict.fromkeys(f.text for f in bound.values()))
        actions.append(
            Action(
                rule_id=rule.id,
                title=render(rule.title, bound, facts, rule.id),
                do=render(rule.do, bound, facts, rule.id),
                finding=finding_text,
                metric=lead.metric,
                value=lead.value,
                strategy=rule.strategy,
                source=f"{SEED_TITLES.get(rule.seed, 'seed ' + rule.seed)} — {rule.source}",
                impact=(impact := estimate_impact(rule.impact, bound, facts, rule.id, ws)),
                effort=rule.effort,
                horizon_weeks=rule.horizon_weeks,
                kpi=render(rule.kpi, bound, facts, rule.id),
                insight=rule.name if rule.kind == "insight" else None,
                pilot=_pilot(rule, facts),
                success_probability=rule.success_probability
                if impact.success_probability is None
                else impact.success_probability,
            )
        )
    return actions, insights, silent


def advise(
    ws: Workspace,
    *,
    findings: Mapping[str, Sequence[Finding]] | None = None,
    skipped: Mapping[str, str] | None = None,
    playbook: str | Path | Unset | None = UNSET,
    progress: ProgressCallback = no_progress,
) -> AdvicePlan:
    """Match the analyses' findings against the playbook and rank the actions.

    Parameters
    ----------
    ws
        The workspace (facts for sizing, the automation questionnaire, the profile).
    findings
        Findings by analysis name or by metric id; when ``None`` the latest stored
        findings of each analysis are used, running the analyses that have none.
    skipped
        With ``findings``: the analyses that could not run and why (shown in the plan).
    playbook
        A playbook TOML file; ``None`` for the shipped one; left out, the setting
        ``advice.playbook``. The ``advice.buy_together.*`` settings tune the buying-group
        rule (its scale-gap threshold, saving range and chance of success).

    Returns
    -------
    AdvicePlan
        Ranked actions (each with its finding, number, strategy, impact, effort, horizon,
        KPI and pilot design), cross-analysis insights, automation priorities and the
        balanced scorecard, and the imports that would unlock the rules that could not
        fire. The run is recorded in ``runs`` as ``advice``.
    """
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    kw, used = ws.settings.resolve("advice", {"playbook": playbook})
    rules = [_tuned(r, used) for r in load_playbook(kw["playbook"])]
    flat, not_run = _gather_findings(ws, findings, skipped, progress)
    progress("sizing actions", 0.75)
    facts = business_facts(ws)
    automation = automation_priorities(ws)
    flat += _automation_findings(automation, facts.currency)
    by_metric: dict[str, list[Finding]] = {}
    for f in flat:
        by_metric.setdefault(f.metric, []).append(f)

    actions, insights, silent = _fire_rules(ws, rules, by_metric, facts)
    replaced = {
        r for rule in rules if rule.id in {a.rule_id for a in actions} for r in rule.replaces
    }
    actions = [a for a in actions if a.rule_id not in replaced]
    progress("ranking", 0.9)
    ranked = rank_actions(actions, facts.currency)
    scorecard = balanced_scorecard(
        ws,
        by_metric,
        gross_margin=facts.gross_margin,
        automation_hours=sum(c.hours_freed_per_week for c in automation) if automation else None,
    )
    plan = AdvicePlan(
        actions=ranked,
        insights=tuple(insights),
        automation=tuple(automation),
        scorecard=tuple(scorecard),
        currency=facts.currency,
        skipped=not_run,
        silent_rules=tuple(silent),
        unlocks=unlocks(
            [(r.about, r.needs) for r in rules if r.id in set(silent)], data_present(ws)
        ),
    )
    ws.record_run(
        "advice",
        {"playbook": str(kw["playbook"]) if kw["playbook"] else "shipped"},
        plan.summary(),
        started,
        settings=used,
    )
    progress("done", 1.0)
    return plan
