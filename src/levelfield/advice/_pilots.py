"""Pilot designs for actions, from the pricing module's power planner.

Two kinds of pilot appear in the playbook:

- ``conversion``: a share of buyers who respond (``baseline`` rate, ``lift`` in
  percentage points); units are buyers, and the weeks needed follow from the business's
  own order rate.
- ``price``: a price change read on weekly orders (``effect`` = smallest relative
  change worth detecting); weekly orders are treated as Poisson, so their standard
  deviation is the square root of their mean (stated in the design).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from levelfield.advice._facts import BusinessFacts
from levelfield.errors import ConfigError

__all__ = ["PilotDesign", "pilot_design"]


@dataclass(frozen=True)
class PilotDesign:
    """How to test an action before rolling it out (from the pricing power planner)."""

    description: str
    per_arm: int | None
    weeks: float | None = None


def pilot_design(spec: Mapping[str, Any], facts: BusinessFacts) -> PilotDesign:
    """A :class:`PilotDesign` for the pilot ``spec`` describes."""
    from levelfield.pricing import plan_pilot

    orders_per_week = facts.orders_12m / 52.0
    kind = spec.get("kind")
    if kind == "conversion":
        base, lift = float(spec["baseline"]), float(spec["lift"])
        plan = plan_pilot(minimum_effect=lift / base, baseline_rate=base)
        weeks = plan.total_units / orders_per_week if orders_per_week > 0 else None
        text = plan.describe()
        if weeks is not None:
            text += (
                f" At your {orders_per_week:,.0f} orders a week that takes about "
                f"{weeks:,.0f} weeks."
            )
        return PilotDesign(description=text, per_arm=plan.units_per_arm, weeks=weeks)
    if kind == "price":
        if orders_per_week <= 0:
            return PilotDesign(
                description="No orders in the last 12 months to size a price pilot on.",
                per_arm=None,
            )
        plan = plan_pilot(
            minimum_effect=float(spec["effect"]),
            baseline_mean=orders_per_week,
            baseline_sd=math.sqrt(orders_per_week),
        )
        text = (
            f"Price pilot read on weekly orders (about {orders_per_week:,.0f} a week, "
            f"Poisson spread assumed): {plan.describe()} Here the units are weeks."
        )
        return PilotDesign(
            description=text, per_arm=plan.units_per_arm, weeks=float(plan.total_units)
        )
    raise ConfigError(f"unknown pilot kind {kind!r} in the playbook; use 'conversion' or 'price'")
