"""Impact estimators: what an action is worth per year, as a range with its basis.

Every estimate is a change in annual gross profit in the business currency, from the
business's own numbers (:class:`BusinessFacts`) and the findings that fired the rule.
Where an input is missing the estimator states the assumption it used instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from levelfield.advice._facts import BusinessFacts
from levelfield.errors import ConfigError, LevelfieldError
from levelfield.exposure import own_store_follow
from levelfield.findings import Finding
from levelfield.findings import money as _money
from levelfield.workspace import Workspace

__all__ = ["ESTIMATORS", "ImpactEstimate", "estimate_impact"]

#: Used only when no unit costs were imported; said so in the basis text.
ASSUMED_MARGIN = 0.5
#: Own-store payment processing when the workspace has no fees for it (card rates ~3 %).
ASSUMED_OWN_FEE = 0.03
#: Platform take rate when neither the export nor the fee schedule gives one.
ASSUMED_PLATFORM_FEE = 0.15


@dataclass(frozen=True)
class ImpactEstimate:
    """Expected change in annual gross profit (business currency) with its range."""

    low: float
    mid: float
    high: float
    basis: str
    method: str = "range"
    #: Chance the action pays off under its stated uncertain assumption (None: the
    #: estimator has none; the rule's own success_probability applies).
    success_probability: float | None = None
    #: True when ``mid`` is already the mean over futures in which the action pays and
    #: futures in which it does not (a simulated estimate): it is then not multiplied by
    #: the chance of success again, which would count the same risk twice.
    averaged: bool = False

    @classmethod
    def from_range(
        cls, low: float, high: float, basis: str, method: str = "range"
    ) -> ImpactEstimate:
        lo, hi = sorted((float(low), float(high)))
        return cls(low=lo, mid=(lo + hi) / 2.0, high=hi, basis=basis, method=method)


Estimator = Callable[
    [Mapping[str, Any], Mapping[str, Finding], BusinessFacts, "Workspace | None"], ImpactEstimate
]


def _margin(facts: BusinessFacts) -> tuple[float, str]:
    if facts.gross_margin is not None:
        return facts.gross_margin, f"gross margin {facts.gross_margin:.0%} (measured)"
    return (
        ASSUMED_MARGIN,
        f"gross margin assumed {ASSUMED_MARGIN:.0%} (import unit costs to measure it)",
    )


def _first(bound: Mapping[str, Finding], params: Mapping[str, Any]) -> Finding:
    alias = params.get("alias")
    if alias is not None:
        return bound[str(alias)]
    return next(iter(bound.values()))


def _num(params: Mapping[str, Any], key: str) -> float:
    if key not in params:
        raise ConfigError(f"impact estimator needs parameter {key!r} (has {sorted(params)})")
    return float(params[key])


def channel_shift(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Profit from moving a share of a platform's revenue to the own store.

    A moved sale saves the platform's take rate but pays the own store's processing fee
    and loses ``conversion_loss`` of the moved revenue (buyers who do not follow):
    ``gain = s R [(1 - L)(m - t_own) - (m - t_platform)]``.
    """
    f = _first(bound, params)
    channel = str(f.context.get("channel", ""))
    revenue = facts.revenue_by_channel.get(channel, f.value * facts.net_revenue_12m)
    m, m_basis = _margin(facts)
    t_p = facts.fee_rate_by_channel.get(channel)
    t_p_basis = "measured"
    if t_p is None:
        take = f.context.get("take_rate")
        t_p, t_p_basis = (
            (float(take), "fee schedule")
            if take is not None
            else (
                ASSUMED_PLATFORM_FEE,
                "assumed",
            )
        )
    own = facts.own_channel
    t_o = facts.fee_rate_by_channel.get(own, ASSUMED_OWN_FEE) if own else ASSUMED_OWN_FEE
    follow = own_store_follow(ws)
    if "conversion_loss" in params:
        loss = _num(params, "conversion_loss")
        lo_f = hi_f = 1.0 - loss
        follow_text = f"{loss:.0%} of moved buyers assumed lost"
    else:
        lo_f, hi_f = follow.low, follow.high
        follow_text = f"own-store assumption: {follow.describe()}"
    per_unit_lo = lo_f * (m - t_o) - (m - t_p)
    per_unit_hi = hi_f * (m - t_o) - (m - t_p)
    lo = _num(params, "share_moved_low") * revenue * per_unit_lo
    hi = _num(params, "share_moved_high") * revenue * per_unit_hi
    breakeven = (m - t_p) / (m - t_o) if m > t_o else float("inf")
    p_ok = follow.probability_above(breakeven) if breakeven < float("inf") else 0.0
    basis = (
        f"moving {params['share_moved_low']:.0%}–{params['share_moved_high']:.0%} of "
        f"{_money(revenue, facts.currency)} {channel} revenue; {channel} takes {t_p:.1%} "
        f"({t_p_basis}), own store {t_o:.1%}; {follow_text}; pays if more than "
        f"{min(breakeven, 1.0):.0%} follow ({p_ok:.0%} likely); {m_basis}"
    )
    est = ImpactEstimate.from_range(lo, hi, basis)
    return ImpactEstimate(est.low, est.mid, est.high, basis, est.method, p_ok)


def from_finding(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """The finding states the annual profit gain itself, with its own uncertainty band."""
    f = _first(bound, params)
    lo = f.context.get(str(params.get("low_field", "low")), f.value)
    hi = f.context.get(str(params.get("high_field", "high")), f.value)
    lo_f, hi_f = sorted((float(lo), float(hi)))
    mid = float(f.value)
    return ImpactEstimate(
        low=min(lo_f, mid),
        mid=mid,
        high=max(hi_f, mid),
        basis=f"as measured: {f.text}",
        method="model",
    )


def from_finding_value(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """A share of the money amount the finding states (e.g. value at risk recovered)."""
    f = _first(bound, params)
    amount = float(f.context.get("amount", f.value))
    lo, hi = _num(params, "low_share"), _num(params, "high_share")
    basis = f"{lo:.0%}–{hi:.0%} of {_money(amount, facts.currency)} ({f.text})"
    return ImpactEstimate.from_range(amount * lo, amount * hi, basis)


def retention_recovery(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Lifetime value won back from at-risk customers, net of the campaign's cost.

    The money at risk is the finding's context ``amount_field`` (e.g. ``value_at_risk``)
    when the rule names one, else the finding's share of the last 12 months' revenue.
    """
    f = _first(bound, params)
    field = params.get("amount_field")
    amount = f.context.get(str(field)) if field is not None else None
    basis_amount = f"{field} as measured"
    if not isinstance(amount, int | float):
        amount = f.value * facts.net_revenue_12m
        basis_amount = "its share of the last 12 months' revenue"
    amount = float(amount)
    m, m_basis = _margin(facts)
    cost = _num(params, "cost_share") * amount * _num(params, "recover_low")
    lo = amount * _num(params, "recover_low") * m - cost
    hi = amount * _num(params, "recover_high") * m - cost
    basis = (
        f"winning back {params['recover_low']:.0%}–{params['recover_high']:.0%} of "
        f"{_money(amount, facts.currency)} ({basis_amount}); {m_basis}; campaign cost "
        f"{params['cost_share']:.0%} of what it wins back at the low end"
    )
    return ImpactEstimate.from_range(lo, hi, basis)


def _margin_share_range(
    amount: float, params: Mapping[str, Any], facts: BusinessFacts, describe: str, **names: str
) -> ImpactEstimate:
    """Profit from ``low_share``..``high_share`` of ``amount`` of revenue at the margin.

    ``describe`` is formatted with ``lo``, ``hi`` (shares), ``amount`` (money text) and
    ``names`` (passed as values, so user text with braces is never parsed as a format).
    """
    m, m_basis = _margin(facts)
    lo, hi = _num(params, "low_share"), _num(params, "high_share")
    text = describe.format(lo=lo, hi=hi, amount=_money(amount, facts.currency), **names)
    basis = f"{text}; {m_basis}"
    return ImpactEstimate.from_range(amount * lo * m, amount * hi * m, basis)


def revenue_range(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """A stated range of revenue uplift, converted to profit at the gross margin."""
    return _margin_share_range(
        facts.net_revenue_12m,
        params,
        facts,
        "assumed revenue uplift {lo:.1%}–{hi:.1%} of {amount} "
        "(a range, not a measurement: test it with a pilot)",
    )


def channel_revenue_range(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Like :func:`revenue_range` on one channel's revenue (``channel = "own"``: own store)."""
    name = str(params.get("channel", "own"))
    channel = facts.own_channel if name == "own" else name
    return _margin_share_range(
        facts.revenue_by_channel.get(channel or "", 0.0),
        params,
        facts,
        "assumed uplift {lo:.1%}–{hi:.1%} of {amount} revenue in {where}",
        where=channel or "the own store (none found)",
    )


def from_finding_revenue(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Profit protected on the revenue share the finding names (e.g. top customer)."""
    f = _first(bound, params)
    share = float(f.value) if f.unit == "share" else 1.0
    return _margin_share_range(
        share * facts.net_revenue_12m,
        params,
        facts,
        "expected loss avoided: {lo:.0%}–{hi:.0%} of the {amount} exposed revenue",
    )


def finding_amount_margin(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Profit at the margin on ``low_share``..``high_share`` of the revenue the finding
    names in ``context["amount"]`` (e.g. a partner's customers a joint offer can reach)."""
    f = _first(bound, params)
    amount = float(f.context.get("amount", 0.0))
    return _margin_share_range(
        amount,
        params,
        facts,
        "if {lo:.0%}–{hi:.0%} of the {amount} a year that {what} stands for were won",
        what=str(f.context.get("amount_is", "the finding")),
    )


def supply_risk(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Expected annual profit loss avoided by a second source outside a risky country."""
    f = _first(bound, params)
    share = float(f.value)
    dependent = share * facts.net_revenue_12m
    m, m_basis = _margin(facts)
    loss = _num(params, "loss_share")
    d_lo, d_hi = _num(params, "disruption_low"), _num(params, "disruption_high")
    country = f.context.get("country", "the country")
    basis = (
        f"{share:.0%} of cost of goods from {country} supports about "
        f"{_money(dependent, facts.currency)} of revenue; a disruption probability of "
        f"{d_lo:.0%}–{d_hi:.0%} a year (assumed) losing {loss:.0%} of it; {m_basis}"
    )
    return ImpactEstimate.from_range(
        dependent * d_lo * loss * m, dependent * d_hi * loss * m, basis
    )


def fee_cut(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Savings from cutting a stated share of the fees the business pays.

    Uses the fee amount in the finding's context (``fees``) when given, else the fee
    rates measured in the workspace over the last 12 months.
    """
    f = _first(bound, params)
    stated = f.context.get("fees")
    if isinstance(stated, int | float) and stated > 0:
        fees = float(stated)
    else:
        fees = sum(
            facts.revenue_by_channel.get(c, 0.0) * r for c, r in facts.fee_rate_by_channel.items()
        )
    lo, hi = _num(params, "cut_low"), _num(params, "cut_high")
    basis = f"cutting {lo:.0%}–{hi:.0%} of about {_money(fees, facts.currency)} fees a year"
    return ImpactEstimate.from_range(fees * lo, fees * hi, basis)


def cogs_range(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Savings of a stated share of the cost of goods."""
    lo, hi = _num(params, "low_share"), _num(params, "high_share")
    c = facts.cogs_12m
    basis = f"assumed {lo:.0%}–{hi:.0%} lower cost on {_money(c, facts.currency)} cost of goods"
    return ImpactEstimate.from_range(c * lo, c * hi, basis)


#: Monte Carlo size for actions sized with the scenario engine (a few seconds each).
SCENARIO_TRIALS = 4_000


def _simulated(impact: Any, what: str, currency: str, *, averaged: bool = False) -> ImpactEstimate:
    """An impact from a simulated profit change: mean, 90 % interval, chance of a gain.

    ``averaged``: the simulation already draws whether the action works in each future,
    so its mean must not be discounted by the success probability again.
    """
    p5, p95 = (float(v) for v in impact.quantile([0.05, 0.95]))
    basis = (
        f"simulated with the scenario engine: {what}; first-year profit change against "
        f"doing nothing on the same {SCENARIO_TRIALS:,} futures (common random numbers), "
        f"90 % interval {currency} {p5:,.0f} to {p95:,.0f}, gains in "
        f"{impact.p_positive:.0%} of futures"
    )
    return ImpactEstimate(
        low=min(p5, impact.mean),
        mid=impact.mean,
        high=max(p95, impact.mean),
        basis=basis,
        method="scenario",
        success_probability=impact.p_positive if averaged else None,
        averaged=averaged,
    )


def _from_simulation(ws: Workspace, change: Any, what: str, currency: str) -> ImpactEstimate:
    from levelfield.scenarios import evaluate_action

    impact = evaluate_action(ws, change, n_trials=SCENARIO_TRIALS, seed=0)
    return _simulated(impact, what, currency)


def scenario_shift_channel(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Move ``percent`` % of a platform's sales to the own store, simulated.

    The share of buyers who follow is the business's one own-store assumption
    (:func:`levelfield.exposure.own_store_follow`, shared with exposure and scenarios),
    drawn per simulated future, so the range and the success probability carry its
    uncertainty. Falls back to :func:`channel_shift` (a stated range) when the scenario
    engine cannot model the business (e.g. no own store or no costs imported).
    """
    from levelfield.scenarios import evaluate_own_store_shift

    if "follow_percent" in params or "conversion_loss" in params:
        raise ConfigError(
            "scenario_shift_channel takes no follow_percent: the share of buyers who follow "
            "to the own store is set once per business ('own_store_follow' in the business "
            "profile)"
        )
    f = _first(bound, params)
    channel = str(f.context.get("channel", ""))
    percent = _num(params, "percent")
    follow = own_store_follow(ws)
    if ws is not None and channel:
        try:
            impact = evaluate_own_store_shift(
                ws, channel, percent, n_trials=SCENARIO_TRIALS, seed=0
            )
        except LevelfieldError:
            impact = None
        if impact is not None:
            what = (
                f"moving {percent:.0f} % of {channel} sales to the own store; own-store "
                f"assumption: {follow.describe()}, drawn per future"
            )
            return _simulated(impact, what, facts.currency, averaged=True)
    fallback = {
        "share_moved_low": percent / 100.0 * 0.5,
        "share_moved_high": percent / 100.0 * 1.5,
        **({"alias": params["alias"]} if "alias" in params else {}),
    }
    return channel_shift(fallback, bound, facts, ws)


def scenario_add_supplier(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Buy ``percent`` % of a risky country's volume elsewhere, simulated under an outage.

    The alternative country is the lowest-risk supplier country already in the
    workspace; the benefit shows under the scenario of a three-month outage in the
    risky country (a profit *protected*, net of the new supplier's cost premium).
    Falls back to :func:`supply_risk` when it cannot be simulated.
    """
    f = _first(bound, params)
    country = str(f.context.get("country", ""))
    if ws is not None and country:
        try:
            from levelfield.exposure import country_risk_table
            from levelfield.scenarios import (
                AddSupplier,
                Scenario,
                SupplierOutage,
                build_model,
                evaluate_action,
            )

            model = build_model(ws, horizon=12, warn=False)
            known = {c.upper() for c in model.countries} - {country.upper()}
            risk = country_risk_table(None)
            risk = risk[risk["country"].isin(known)]
            if not risk.empty:
                target = str(risk.sort_values("risk")["country"].iloc[0])
                percent = _num(params, "percent")
                premium = _num(params, "cost_premium_percent")
                outage = Scenario(
                    f"{country} outage", (SupplierOutage(country, weeks=13, alternative=False),)
                )
                move = AddSupplier(country, target, percent=percent, cost_premium_percent=premium)
                impact, calm = (
                    evaluate_action(model, move, n_trials=SCENARIO_TRIALS, seed=0, scenario=sc)
                    for sc in (outage, None)
                )
                p_lo, p_hi = _num(params, "disruption_low"), _num(params, "disruption_high")
                # Expected value: the outage year with probability p, a calm year otherwise.
                lo = p_lo * impact.mean + (1 - p_lo) * calm.mean
                hi = p_hi * impact.mean + (1 - p_hi) * calm.mean
                basis = (
                    f"simulated with the scenario engine: {percent:.0f} % of {country} volume "
                    f"bought in {target} at {premium:.0f} % more; profit change "
                    f"{facts.currency} {impact.mean:,.0f} in a year with a 13-week {country} "
                    f"outage and {facts.currency} {calm.mean:,.0f} in a calm year, weighted "
                    f"by an outage probability of {p_lo:.0%}–{p_hi:.0%} a year (assumed)"
                )
                return ImpactEstimate.from_range(lo, hi, basis, method="scenario")
        except LevelfieldError:
            pass
    return supply_risk(params, bound, facts, ws)


def information(
    params: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """No change in profit is claimed: the rule informs (e.g. what a lender will see).

    The basis quotes the finding's ``assumptions`` context when it has one.
    """
    f = _first(bound, params)
    stated = str(f.context.get("assumptions", "") or "")
    basis = "information only, no change in profit is claimed" + (
        f"; assumptions: {stated}" if stated else ""
    )
    return ImpactEstimate(low=0.0, mid=0.0, high=0.0, basis=basis, method="information")


ESTIMATORS: dict[str, Estimator] = {
    "information": information,
    "scenario_shift_channel": scenario_shift_channel,
    "scenario_add_supplier": scenario_add_supplier,
    "channel_shift": channel_shift,
    "from_finding": from_finding,
    "from_finding_value": from_finding_value,
    "retention_recovery": retention_recovery,
    "revenue_range": revenue_range,
    "channel_revenue_range": channel_revenue_range,
    "from_finding_revenue": from_finding_revenue,
    "finding_amount_margin": finding_amount_margin,
    "supply_risk": supply_risk,
    "fee_cut": fee_cut,
    "cogs_range": cogs_range,
}


def estimate_impact(
    spec: Mapping[str, Any],
    bound: Mapping[str, Finding],
    facts: BusinessFacts,
    rule_id: str,
    ws: Workspace | None = None,
) -> ImpactEstimate:
    """Run the estimator ``spec["estimator"]`` with the rule's parameters."""
    name = str(spec.get("estimator"))
    if name not in ESTIMATORS:
        raise ConfigError(
            f"playbook rule {rule_id!r}: unknown impact estimator {name!r}; "
            f"known: {', '.join(sorted(ESTIMATORS))}"
        )
    params = {k: v for k, v in spec.items() if k != "estimator"}
    return ESTIMATORS[name](params, bound, facts, ws)
