"""Customer value engine: lifetime value, churn risk, cohorts and segments.

Summaries are computed in DuckDB with Fader & Hardie's definitions (identical to
``lifetimes.utils.summary_data_from_transaction_data``); the BG/NBD, Pareto/NBD and
Gamma-Gamma models are scikit-learn style estimators with analytic gradients and Hessian
standard errors; :func:`analyze` runs the whole analysis on a workspace.

Contractual and discrete-time models with the same estimator style:
:class:`ShiftedBetaGeometricModel` (sBG, Fader & Hardie 2007: subscription retention,
survival, DERL and customer value) and :class:`BetaGeoBetaBinomModel` (BG/BB, Fader,
Hardie & Shang 2010: repeat transactions at discrete opportunities).
:class:`BetaGeoCovariateModel` and :class:`ParetoNBDCovariateModel` put time-invariant
covariates (:func:`customer_covariates`: acquisition channel, first-order value, store,
first product category) on the purchase and drop-out processes, with a likelihood-ratio
test against the plain model.

Stable finding metric ids (``CustomersResult.findings()``):

``customers.top20_value_share``
    share of expected customer value held by the top 20 % of customers (0-1).
``customers.value_per_customer``
    expected discounted value of the average customer over the horizon (currency; profit
    when a margin is known, else revenue); context ``clv_total``, ``horizon_months``,
    ``margin``.
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
``customers.model_fit``
    how far the purchase model can be trusted: 0 sound, 1 weakly identified, 2 no
    measurable drop-out (see :class:`FitQuality`); the text says in plain words what the
    data cannot tell, the context carries ``status``, ``model``, ``model_choice``,
    ``horizon_months`` and ``horizon_requested``.

``customers.covariates_lr_p_value``
    p-value of the likelihood-ratio test of the purchase model with the customers' traits
    (``customers.covariates`` setting) against the model without them; the covariate
    model is kept below 5 % (context ``kept``, ``statistic``, ``df``).
``customers.covariate_effect``
    one per trait and process: the multiplier on the purchase rate, drop-out rate or
    drop-out chance against the most common group (per doubling for the first-order
    value), context ``covariate``, ``process``, ``lower``, ``upper``, ``p_value``.
``customers.subscribers_one_year_retention``, ``customers.new_subscriber_value``
    only when the workspace holds subscriptions and too few orders for a purchase model:
    the result is then a :class:`SubscriberBaseResult` (sBG), not a failure.

``customers.monthly_retention``, ``customers.value_at_risk_share`` and
``customers.churn_leak`` are left out when the data show no measurable drop-out: their
100 % and 0 would come from the model's boundary, not from the data.

The model family is chosen from the data first (:func:`choose_family`): subscriptions
imported -> sBG (their retention and a new subscriber's value are in the result's
``subscriptions``), purchases on one weekday week after week -> BG/BB on weekly
opportunities (``p_alive_weekly``, ``expected_purchases_13w`` with intervals), else
continuous time; the reason is stated in plain words (``model_family_reason``).
Within continuous time the model is chosen on the holdout period
(``analyze(model="auto")``, the default): both BG/NBD and Pareto/NBD are fitted on the
calibration period and the lower per-customer root mean squared error wins
(:class:`ModelChoice`). The customer table carries 90 % intervals of P(alive), expected
purchases, value and the next purchase date of a customer who is still active, from
parameter uncertainty (delta method, see :data:`INTERVAL_METHOD`).

``summary()`` of the result (stored in ``runs``) carries ``monthly_retention`` (model
based, documented in ``monthly_retention_method``), ``monthly_active_retention`` (share of
customers active one month who are active the next), ``clv_total``, ``n_customers``,
``repeat_rate``, ``top20_value_share``, ``value_at_risk``.
"""

from levelfield.customers._analyze import (
    METHODS,
    REFERENCES,
    CustomersResult,
    analyze,
    product_cost_margin,
    spend_per_purchase,
)
from levelfield.customers._bgbb import BetaGeoBetaBinomModel
from levelfield.customers._charts import (
    cohort_heatmap,
    cohort_retention_chart,
    figures,
    holdout_by_frequency_chart,
    holdout_tracking_chart,
    p_alive_chart,
    segment_chart,
    value_distribution_chart,
)
from levelfield.customers._covariate_effects import CovariateEffects
from levelfield.customers._covariates import (
    WORKSPACE_COVARIATES,
    BetaGeoCovariateModel,
    ParetoNBDCovariateModel,
    customer_covariates,
)
from levelfield.customers._family import FamilyChoice, choose_family
from levelfield.customers._models import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from levelfield.customers._quality import FitQuality, assess_fit, supported_horizon_months
from levelfield.customers._recurring import (
    FORMULAS as RECURRING_REVENUE_FORMULAS,
)
from levelfield.customers._recurring import (
    RecurringRevenue,
    recurring_revenue,
    subscription_lifetimes,
)
from levelfield.customers._sbg import ShiftedBetaGeometricModel, fit_sbg_cohorts
from levelfield.customers._simulate import (
    simulate_bgnbd_summary,
    simulate_calibration_holdout,
    simulate_gamma_gamma_spend,
)
from levelfield.customers._subscriber_base import SubscriberBaseResult, cohort_retention_curves
from levelfield.customers._subscriptions import simulate_subscriptions
from levelfield.customers._summary import (
    CustomerSummary,
    summarize_transactions,
    summarize_workspace,
)
from levelfield.customers._uncertainty import (
    INTERVAL_METHOD,
    probability_interval,
    value_interval,
)
from levelfield.customers._validation import (
    MODEL_LABELS,
    Cohorts,
    HoldoutValidation,
    ModelChoice,
    choose_by_holdout,
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
    "INTERVAL_METHOD",
    "METHODS",
    "MODEL_LABELS",
    "NPS",
    "RECURRING_REVENUE_FORMULAS",
    "REFERENCES",
    "RFM_SEGMENTS",
    "WORKSPACE_COVARIATES",
    "BetaGeoBetaBinomModel",
    "BetaGeoCovariateModel",
    "BetaGeoModel",
    "Cohorts",
    "CovariateEffects",
    "CustomerSummary",
    "CustomersResult",
    "FamilyChoice",
    "FitQuality",
    "GammaGammaModel",
    "HoldoutValidation",
    "ModelChoice",
    "ParetoNBDCovariateModel",
    "ParetoNBDModel",
    "RecurringRevenue",
    "ShiftedBetaGeometricModel",
    "SubscriberBaseResult",
    "analyze",
    "assess_fit",
    "choose_by_holdout",
    "choose_family",
    "cluster_segments",
    "cohort_heatmap",
    "cohort_retention_chart",
    "cohort_retention_curves",
    "customer_covariates",
    "customer_lifetime_value",
    "figures",
    "fit_sbg_cohorts",
    "holdout_by_frequency_chart",
    "holdout_tracking_chart",
    "holdout_validation",
    "model_monthly_retention",
    "monthly_cohorts",
    "net_promoter_score",
    "p_alive_chart",
    "probability_interval",
    "product_cost_margin",
    "recurring_revenue",
    "rfm_segments",
    "segment_chart",
    "simulate_bgnbd_summary",
    "simulate_calibration_holdout",
    "simulate_gamma_gamma_spend",
    "simulate_subscriptions",
    "spend_per_purchase",
    "subscription_lifetimes",
    "summarize_transactions",
    "summarize_workspace",
    "supported_horizon_months",
    "value_distribution_chart",
    "value_interval",
]
