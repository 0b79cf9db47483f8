"""Customer value engine: lifetime value, churn risk, cohorts and segments.

Summaries are computed in DuckDB with Fader & Hardie's definitions (identical to
``lifetimes.utils.summary_data_from_transaction_data``); the BG/NBD, Pareto/NBD and
Gamma-Gamma models are scikit-learn style estimators with analytic gradients and Hessian
standard errors; :func:`analyze` runs the whole analysis on a workspace.

Stable finding metric ids (``CustomersResult.findings()``):

``customers.top20_value_share``
    share of expected customer value held by the top 20 % of customers (0-1).
``customers.repeat_rate``
    share of customers with more than one purchase (0-1).
``customers.monthly_retention``
    model-based share of active customers still active a month later (0-1).
``customers.value_at_risk_share``
    value of repeat customers whose P(alive) fell below the risk threshold, as a share
    of the customer base's value (0-1); context ``value_at_risk`` (currency).
``customers.churn_leak``
    share of revenue to date from high-value customers (top 20 % by spend) whose P(alive)
    is falling below the threshold (0-1).
``customers.nps``
    Net Promoter Score (-100 to 100) with its interval in context (only with surveys).
``customers.clv_cac``
    lowest ratio of customer lifetime value to acquisition cost over channels (only when
    ``channels.acquisition_cost`` is set); context ``channel``.
``customers.holdout_error``
    absolute relative error of the model on the holdout period (share).

``summary()`` of the result (stored in ``runs``) carries ``monthly_retention`` (model
based, documented in ``monthly_retention_method``), ``monthly_active_retention`` (share of
customers active one month who are active the next), ``clv_total``, ``n_customers``,
``repeat_rate``, ``top20_value_share``, ``value_at_risk``.
"""

from levelfield.customers._analyze import METHODS, REFERENCES, CustomersResult, analyze
from levelfield.customers._charts import (
    cohort_heatmap,
    figures,
    holdout_by_frequency_chart,
    holdout_tracking_chart,
    p_alive_chart,
    segment_chart,
    value_distribution_chart,
)
from levelfield.customers._models import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from levelfield.customers._simulate import simulate_bgnbd_summary, simulate_gamma_gamma_spend
from levelfield.customers._summary import (
    CustomerSummary,
    summarize_transactions,
    summarize_workspace,
)
from levelfield.customers._validation import (
    Cohorts,
    HoldoutValidation,
    holdout_validation,
    monthly_cohorts,
)
from levelfield.customers._value import (
    NPS,
    RFM_SEGMENTS,
    cluster_segments,
    customer_lifetime_value,
    model_monthly_retention,
    net_promoter_score,
    rfm_segments,
)

__all__ = [
    "METHODS",
    "NPS",
    "REFERENCES",
    "RFM_SEGMENTS",
    "BetaGeoModel",
    "Cohorts",
    "CustomerSummary",
    "CustomersResult",
    "GammaGammaModel",
    "HoldoutValidation",
    "ParetoNBDModel",
    "analyze",
    "cluster_segments",
    "cohort_heatmap",
    "customer_lifetime_value",
    "figures",
    "holdout_by_frequency_chart",
    "holdout_tracking_chart",
    "holdout_validation",
    "model_monthly_retention",
    "monthly_cohorts",
    "net_promoter_score",
    "p_alive_chart",
    "rfm_segments",
    "segment_chart",
    "simulate_bgnbd_summary",
    "simulate_gamma_gamma_spend",
    "summarize_transactions",
    "summarize_workspace",
    "value_distribution_chart",
]
