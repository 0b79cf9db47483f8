"""A buying group's result in plain sentences: shared by the CLI, the web page and the pack.

No Typer or Rich here: the web app imports this module.
"""

from __future__ import annotations

import math
from typing import Any

from levelfield.cooperation._buying import BuyingGroupResult

__all__ = ["RULES", "Row", "core_sentences", "item_sentences", "money", "recommendation"]

RULES = {
    "proportional": "each item's saving split by share of its volume",
    "shapley": "each member's average added saving over every order of joining",
    "nucleolus": "the split that leaves the least-satisfied subgroup as well off as possible",
}


class Row:
    """Attribute access to one record (values typed ``Any``, as pandas gives them)."""

    def __init__(self, record: dict[Any, Any]) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return self._record[name]


def money(x: float) -> str:
    """``x`` with thousands separators and cents; ``-`` when it is not finite."""
    return "-" if not math.isfinite(x) else f"{x:,.2f}"


def item_sentences(result: BuyingGroupResult) -> list[str]:
    """One sentence per pooled item: the tier reached and the saving, or why none."""
    lines = []
    for row in result.items.to_dict("records"):
        r = Row(row)
        what = f"{r.item} ({r.supplier})"
        if r.saving <= 0.005:
            lines.append(
                f"{what}: together {r.pooled_volume:,.0f} a year; no price break beats what "
                "you pay now"
                + (
                    f" (the next starts at {r.next_tier_min_volume:,.0f})."
                    if math.isfinite(r.next_tier_min_volume)
                    else "."
                )
            )
            continue
        line = (
            f"Together you reach tier {r.tier} for {what}: {r.pooled_volume:,.0f} a year at "
            f"{money(r.tier_unit_price)} each, saving {money(r.saving)} a year."
        )
        if math.isfinite(r.next_tier_min_volume):
            line += (
                f" {r.next_tier_min_volume - r.pooled_volume:,.0f} more would reach the next tier."
            )
        lines.append(line)
    return lines


def core_sentences(result: BuyingGroupResult) -> list[str]:
    """Whether each split is in the core, and who would leave when it is not."""
    names = result.members["member"].tolist()
    lines = []
    for rule, check in result.core.items():
        label = rule.capitalize() if rule != "shapley" else "Shapley"
        if check is None:
            continue
        if check.in_core:
            lines.append(
                f"{label} split: fair in the strong sense; no subgroup would do better alone."
            )
        else:
            who = ", ".join(names[i] for i in check.blocking)
            lines.append(
                f"{label} split: {who} would save {money(check.max_gain)} more a year by "
                "buying together without the others; they have a reason to leave."
            )
    if result.core["shapley"] is None:
        lines.append(
            "The core was not checked: with more than 20 members there are too many subgroups."
        )
    elif result.core["nucleolus"] is None and not result.core["shapley"].in_core:
        lines.append("The nucleolus is computed for up to 14 members; this group is larger.")
    if result.core_nonempty is False:
        lines.append(
            "No split satisfies every subgroup (the core is empty): some subgroup will always "
            "do better alone; the nucleolus keeps that temptation as small as possible."
        )
    return lines


def recommendation(result: BuyingGroupResult) -> str:
    """The split to propose, with its reason in one sentence."""
    shap, nucl = result.core["shapley"], result.core["nucleolus"]
    if shap is not None and shap.in_core:
        return (
            "Suggested split: Shapley (it rewards what each member adds, and no subgroup "
            "gains by leaving)."
        )
    if nucl is not None:
        return "Suggested split: nucleolus (the Shapley split gives a subgroup a reason to leave)."
    return "Suggested split: Shapley; check large subgroups by hand before you sign."
