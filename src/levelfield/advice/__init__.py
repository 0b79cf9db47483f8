"""The advice playbook: measured findings turned into ranked, concrete actions.

``advise(ws)`` reads the latest findings of every analysis (running those without
stored findings), matches them against the declarative playbook
(``playbook.toml``: rules in data, each grounded in a strategy essay in
``shared/seeds``), sizes each action from the business's own numbers, ranks them by
expected value over effort, and adds the cross-analysis insights (commodity trap,
platform trap, concentration risk, fragile supply, churn leak), targeted automation
priorities from the owner's questionnaire, and a balanced scorecard.

Metric ids the playbook reads (produced by the analyses' ``findings()``):
``exposure.platform_share_max`` (context ``channel``), ``exposure.data_ownership_share``,
``exposure.customer_top1_share``, ``exposure.channel_dependency_hhi`` (NaN for one own
channel by choice), ``exposure.supplier_hhi``,
``exposure.country_cogs_share_max`` (context ``country``, ``risk`` 0–100),
``exposure.single_source_share``, ``exposure.fee_drag``, ``exposure.scale_gap``,
``exposure.compliance_cost_share``, ``customers.value_at_risk_share`` (context
``amount``), ``customers.churn_leak``, ``customers.repeat_rate``, ``customers.nps``,
``landscape.distinctiveness_percentile``, ``landscape.white_space_count``,
``landscape.cliche_share``, ``pricing.median_elasticity``,
``pricing.recommended_profit_gain`` (context ``low``, ``high``),
``scenarios.p_cash_negative``, ``scenarios.p_loss_year``,
``exposure.fx_profit_share_max`` (context ``currency``, ``amount``),
``provenance.documented_revenue_share`` (context ``sells_on_origin``, ``origin_claim``,
``top_products``, ``amount``); and its own
``advice.automation_savings``.
"""

from levelfield.advice._advise import (
    Action,
    AdvicePlan,
    Insight,
    PilotDesign,
    advise,
    rank_actions,
)
from levelfield.advice._automation import (
    AutomationCandidate,
    automation_priorities,
    automation_reference,
)
from levelfield.advice._charts import figures
from levelfield.advice._facts import BusinessFacts, business_facts
from levelfield.advice._impact import ESTIMATORS, ImpactEstimate, estimate_impact
from levelfield.advice._playbook import Condition, Rule, evaluate_rule, load_playbook
from levelfield.advice._render import plan_markdown, plan_to_dict
from levelfield.advice._scorecard import PERSPECTIVES, ScorecardMetric, balanced_scorecard
from levelfield.advice._unlocks import DATA_KINDS, DataKind, Unlock, data_present

METHODS = (
    "Advice matches the analyses' findings against a declarative playbook of rules, each "
    "grounded in one of the strategy essays levelfield builds on. An action is proposed "
    "only when a measured finding triggers it, and it quotes that finding's number. Its "
    "value is the expected change in annual gross profit, computed from the business's "
    "own revenue, margin and fees with the assumptions stated beside it (a range where "
    "the effect cannot be measured before trying), and actions are ranked by expected "
    "value per point of effort (1 = an afternoon, 5 = a major project). Automation "
    "priorities size the owner's questionnaire against the technical automation "
    "potential by activity type (McKinsey Global Institute 2017), kept conservative for "
    "off-the-shelf tools, and are ranked by payback then risk. The balanced scorecard "
    "(Kaplan and Norton 1992) groups measured and owner-entered metrics into four "
    "perspectives with the thresholds and their reasons shown."
)
REFERENCES = [
    "Kaplan, R. S. & Norton, D. P. (1992). The balanced scorecard: measures that drive "
    "performance. Harvard Business Review 70(1), 71-79.",
    "McKinsey Global Institute (2017). A future that works: automation, employment, and "
    "productivity.",
    "U.S. Department of Justice & Federal Trade Commission (2023). Merger Guidelines (HHI bands).",
]

__all__ = [
    "DATA_KINDS",
    "ESTIMATORS",
    "METHODS",
    "PERSPECTIVES",
    "REFERENCES",
    "Action",
    "AdvicePlan",
    "AutomationCandidate",
    "BusinessFacts",
    "Condition",
    "DataKind",
    "ImpactEstimate",
    "Insight",
    "PilotDesign",
    "Rule",
    "ScorecardMetric",
    "Unlock",
    "advise",
    "automation_priorities",
    "automation_reference",
    "balanced_scorecard",
    "business_facts",
    "data_present",
    "estimate_impact",
    "evaluate_rule",
    "figures",
    "load_playbook",
    "plan_markdown",
    "plan_to_dict",
    "rank_actions",
]
