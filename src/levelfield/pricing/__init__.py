"""Pricing and pilots: elasticity from the business's own sales, guarded price
recommendations, and pilot / A/B analysis.

``analyze(ws)`` builds a weekly product panel in DuckDB, estimates each product's
price elasticity (log units on log *posted* price with product and week fixed
effects, a promotion indicator, Poisson PML where zero-sales weeks are common,
stock-out weeks excluded, outliers pulled in, partial pooling toward the category
mean), recommends one guarded price per product and analyses the pilots in the
``pilots`` table. ``plan_pilot`` sizes the next pilot; ``conversion_ab_test`` reads a
conversion A/B test.

Finding metric ids (stable; :mod:`levelfield.advice` reads them):

- ``pricing.median_elasticity`` — median product elasticity (unit ``elasticity``).
- ``pricing.elastic_share`` — share of revenue (0–1) from products with e < -1;
  high values with low distinctiveness are the "commodity trap".
- ``pricing.inelastic_share`` — share of revenue (0–1) from products with e > -1
  (room to raise prices).
- ``pricing.insufficient_variation`` — count of products whose price never moved
  enough to learn from (a pilot would).
- ``pricing.recommended_profit_gain`` — expected yearly profit change of the
  recommendations (currency; ``context`` has ``low``/``high`` of the 95 % band).
- ``pricing.no_costs`` — count of products without unit cost (no margin-optimal price).
- ``pricing.promo_lift`` — relative lift in units in promotion weeks (share).
- ``pricing.pilot_effect`` — proportional effect of a pilot on weekly units (share).
  Every number and the verdict come from one read (``PilotResult.read``: the log-scale
  difference-in-differences, or the one in units when an arm had no sales);
  ``context`` has ``pilot_id``, ``read_scale``, ``significant``, ``ci`` (units per
  unit-week), ``relative_ci``, ``adjusted_ci`` (relative, for repeated looks),
  ``implied_elasticity``.
- ``pricing.pilot_peeking`` — real false-positive rate of a pilot read several times
  without a sequential design (share).

Every recommendation satisfies every guardrail at once (maximum step change, floor and
ceiling, minimum margin, price endings, channel price parity, fairness): the price is
chosen inside the intersection of their intervals, the ending inside that, and a price
the guardrails leave no room for is withheld with reason ``withheld`` plus the codes of
the guardrails in conflict. Wholesale channels (:data:`WHOLESALE_CHANNELS`) are not held
to retail parity unless ``wholesale_parity=True``. Reason codes are listed in
:data:`REASON_CODES`, in the order of :data:`GUARDRAIL_ORDER`.
"""

from __future__ import annotations

from levelfield.pricing._analyze import analyze, competitor_price_range
from levelfield.pricing._charts import (
    demand_curve_chart,
    elasticity_chart,
    figures,
    pilot_chart,
    recommendations_table,
)
from levelfield.pricing._elasticity import ElasticityModel, PooledElasticity
from levelfield.pricing._experiments import (
    ABTestResult,
    DiDEstimate,
    PilotPlan,
    conversion_ab_test,
    difference_in_differences,
    plan_pilot,
    probability_to_beat,
    ratio_difference_in_differences,
    repeated_testing_alpha,
    sequential_boundaries,
    sequential_inflation,
    two_proportion_ztest,
)
from levelfield.pricing._fixed_effects import (
    FixedEffectsFit,
    ProductSlopesFit,
    fe_ols,
    fe_ppml,
    product_slopes,
    product_slopes_ppml,
    within_transform,
)
from levelfield.pricing._panel import WHOLESALE_CHANNELS, PanelData, channel_prices, weekly_panel
from levelfield.pricing._pilots import PilotResult, analyze_pilots
from levelfield.pricing._recommend import (
    GUARDRAIL_ORDER,
    REASON_CODES,
    Guardrails,
    recommend_prices,
)
from levelfield.pricing._result import PricingResult
from levelfield.pricing._rivals import (
    rival_reference,
)
from levelfield.pricing._shrinkage import ShrinkageFit, shrink_to_group_means

METHODS = (
    "Price elasticities come from the business's own sales. Order lines are summed into a "
    "weekly panel per product (DuckDB). The log of weekly units is regressed on the log of "
    "the posted (list) price — not the realized unit price, which falls with volume-tier "
    "discounts and would fake elasticity — with product and week fixed effects absorbed by "
    "the two-way within transform (alternating projections for unbalanced panels) and a "
    "promotion indicator (most of a week's lines sold below the standing posted price or "
    "with a discount code). Each product has its own elasticity; products with many "
    "zero-sales weeks are estimated by Poisson pseudo-maximum likelihood with the same "
    "fixed effects, which keeps the zeros. Weeks with no sales where a zero was very "
    "unlikely at a usual price are treated as stock-outs and left out; weekly quantities "
    "beyond five robust standard deviations of a product's residuals are pulled in to "
    "that limit. Product elasticities are partially pooled toward their category mean "
    "(normal empirical Bayes with the DerSimonian–Laird between-product variance). A "
    "product whose price never moved enough (a single posted price, fewer than six selling "
    "weeks, or "
    "under 2 % log-price variation) gets no number. The pooled elasticity has standard "
    "errors clustered by product. Recommendations target the margin-optimal price "
    "c·e/(1+e) for elastic products (e < -1) and move inelastic ones toward the ceiling, "
    "inside the intersection of all guardrails at once (maximum step, floor/ceiling, "
    "minimum margin, channel parity for retail channels, fairness), with the price ending "
    "chosen inside that interval; where no price satisfies them all the recommendation is "
    "withheld and the conflict named. Expected changes in units, revenue "
    "and profit carry a 95 % band from the elasticity's standard error. Pilots are read "
    "by difference-in-differences with unit-clustered standard errors (test minus control "
    "periods for period pilots), conversion tests by the two-proportion z-test and the "
    "beta-binomial probability to beat control; repeated looks are flagged and the "
    "interval widened with Pocock or O'Brien–Fleming boundaries."
)

REFERENCES = [
    "Guimarães, P. and Portugal, P. (2010). A simple feasible procedure to fit models with "
    "high-dimensional fixed effects. Stata Journal 10(4), 628–649.",
    "Gaure, S. (2013). OLS with multiple high dimensional category variables. "
    "Computational Statistics & Data Analysis 66, 8–18.",
    "Santos Silva, J. M. C. and Tenreyro, S. (2006). The log of gravity. Review of "
    "Economics and Statistics 88(4), 641–658.",
    "Correia, S., Guimarães, P. and Zylkin, T. (2020). Fast Poisson estimation with "
    "high-dimensional fixed effects. Stata Journal 20(1), 95–115.",
    "Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust "
    "inference. Journal of Human Resources 50(2), 317–372.",
    "Morris, C. N. (1983). Parametric empirical Bayes inference: theory and applications. "
    "JASA 78(381), 47–55.",
    "DerSimonian, R. and Laird, N. (1986). Meta-analysis in clinical trials. Controlled "
    "Clinical Trials 7(3), 177–188.",
    "Hitsch, G. J., Hortaçsu, A. and Lin, X. (2021). Prices and promotions in U.S. retail "
    "markets. Quantitative Marketing and Economics 19, 289–368.",
    "Phillips, R. L. (2021). Pricing and Revenue Optimization, 2nd ed. Stanford University Press.",
    "Angrist, J. D. and Pischke, J.-S. (2009). Mostly Harmless Econometrics, ch. 5. "
    "Princeton University Press.",
    "Pocock, S. J. (1977). Group sequential methods in the design and analysis of clinical "
    "trials. Biometrika 64(2), 191–199.",
    "O'Brien, P. C. and Fleming, T. R. (1979). A multiple testing procedure for clinical "
    "trials. Biometrics 35(3), 549–556.",
    "Jennison, C. and Turnbull, B. W. (2000). Group Sequential Methods with Applications to "
    "Clinical Trials. Chapman & Hall/CRC.",
    "Armitage, P., McPherson, C. K. and Rowe, B. C. (1969). Repeated significance tests on "
    "accumulating data. JRSS A 132(2), 235–244.",
    "Miller, E. (2015). Formulas for Bayesian A/B testing. evanmiller.org.",
    "Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed. Erlbaum.",
]

__all__ = [
    "GUARDRAIL_ORDER",
    "METHODS",
    "REASON_CODES",
    "REFERENCES",
    "WHOLESALE_CHANNELS",
    "ABTestResult",
    "DiDEstimate",
    "ElasticityModel",
    "FixedEffectsFit",
    "Guardrails",
    "PanelData",
    "PilotPlan",
    "PilotResult",
    "PooledElasticity",
    "PricingResult",
    "ProductSlopesFit",
    "ShrinkageFit",
    "analyze",
    "analyze_pilots",
    "channel_prices",
    "competitor_price_range",
    "conversion_ab_test",
    "demand_curve_chart",
    "difference_in_differences",
    "elasticity_chart",
    "fe_ols",
    "fe_ppml",
    "figures",
    "pilot_chart",
    "plan_pilot",
    "probability_to_beat",
    "product_slopes",
    "product_slopes_ppml",
    "ratio_difference_in_differences",
    "recommend_prices",
    "recommendations_table",
    "repeated_testing_alpha",
    "rival_reference",
    "sequential_boundaries",
    "sequential_inflation",
    "shrink_to_group_means",
    "two_proportion_ztest",
    "weekly_panel",
    "within_transform",
]
