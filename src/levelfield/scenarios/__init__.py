"""Scenario planning: Monte Carlo P&L with correlated drivers, shocks and strategies.

``levelfield analyze scenarios`` builds a monthly P&L of the business from the
workspace (revenue by channel with seasonality and trend, cost of goods by supplier
country, platform fees, variable and fixed costs, interest, cash from the opening
balance), gives each uncertain driver a distribution, correlates the drivers through a
Gaussian copula on rank correlations (the marginals stay exact), and simulates many
futures in bounded-memory chunks. It reports the chance of a loss year, of running out
of cash and when (runway), the 5 % value at risk and expected shortfall, which drivers
matter (tornado swings and Sobol indices), how named shocks change the picture, and how
candidate strategies compare with doing nothing *on the same futures* (common random
numbers), as a distribution of the difference.

Main entry points::

    result = analyze(ws, horizon=24, n_trials=20_000, seed=0)
    result.headline(); result.findings(); figures(result)
    model = build_model(ws)
    impact = evaluate_action(model, ShiftChannel("etsy", "shopify", percent=30))

Drivers (see ``build_model(ws).drivers_frame()`` for base values and provenance):
``demand.<channel>`` (multiplier, lognormal from the channel's own monthly variation),
``retention`` (monthly share, from the latest customers run's ``monthly_retention``,
else a quarter-on-quarter repeat rate from the orders), ``refund_rate`` (share, an
empirical bootstrap of the monthly refund history), ``unit_cost`` and ``fx``
(multipliers on cost of goods and on foreign purchases), ``fee_rate`` (points added to
marketplace take rates; base take rates come from
``levelfield.exposure.channel_fee_rates`` when the exposure package provides it, else
from the ``orders.fees`` column), ``variable_costs``, ``fixed_costs``, ``wages``
(multipliers), ``interest_rate`` (points on debt) and ``elasticity`` (price
elasticity; default :data:`DEFAULT_ELASTICITY` = -1.5, or the pricing run's
``elasticity``).

Finding metric ids (stable, read by ``levelfield.advice``):

- ``scenarios.p_loss_year``: probability that the first 12 months end in a loss (share).
- ``scenarios.p_cash_negative``: probability that cash goes below zero within the
  horizon (share).
- ``scenarios.runway_months``: first month with a 10 % chance of negative cash (months;
  the horizon with ``context["beyond_horizon"]`` when never).
- ``scenarios.var5``: 5 % value at risk of first-year profit (currency, a loss amount;
  ``context["es5"]`` holds the expected shortfall).
- ``scenarios.top_driver``: total Sobol index of the driver that matters most (share;
  ``context["driver"]``).
- ``scenarios.worst_shock_change``: change of expected first-year profit under the
  worst scenario (currency; ``context["scenario"]``).
- ``scenarios.best_strategy_gain``: expected first-year profit gain of the best strategy
  against doing nothing (currency; ``context["strategy"]``, ``context["p_gain"]``).
"""

from __future__ import annotations

from levelfield.scenarios._analysis import (
    ActionImpact,
    ScenariosResult,
    analyze,
    default_scenarios,
    default_strategies,
    evaluate_action,
    evaluate_own_store_shift,
    risk_metrics,
)
from levelfield.scenarios._distributions import (
    PERT,
    Constant,
    Distribution,
    Empirical,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    distribution_from_dict,
    iman_conover,
    nearest_correlation,
    spearman_matrix,
    validate_correlation,
)
from levelfield.scenarios._figures import figures
from levelfield.scenarios._model import DEFAULT_ELASTICITY, Driver, PnLModel, build_model
from levelfield.scenarios._shocks import (
    ACTIONS,
    SHOCKS,
    AddSupplier,
    Change,
    DemandDrop,
    FXMove,
    InterestRateRise,
    PlatformFeeRise,
    PriceChange,
    Scenario,
    ShiftChannel,
    Strategy,
    SupplierOutage,
    Tariff,
    WageRise,
    load_scenarios,
)
from levelfield.scenarios._simulate import Simulation, simulate, sobol_drivers, tornado
from levelfield.scenarios._sobol import (
    ISHIGAMI_FIRST_ORDER,
    ISHIGAMI_TOTAL,
    SobolIndices,
    ishigami,
    saltelli_jansen,
    sobol_indices,
)

METHODS = (
    "Scenario planning builds a monthly profit-and-loss model from the workspace: net "
    "revenue per channel (last 12 months' level, seasonal indices from a ratio to the "
    "centred 12-month moving average, log-linear trend), cost of goods from product unit "
    "costs weighted by supplier country, platform take rates, variable and fixed costs "
    "from the costs table, interest on debt, and cash from the opening balance. Each "
    "uncertain driver has a distribution (normal, lognormal, triangular, PERT, uniform, "
    "or an empirical bootstrap of the business's own monthly history) and a "
    "month-to-month persistence (AR(1) on its latent normal). Drivers are correlated "
    "through a Gaussian copula whose latent correlations 2 sin(pi rho / 6) reproduce the "
    "target Spearman rank correlations while keeping every marginal exact (the "
    "distribution-free Iman-Conover method is provided for pre-drawn samples); a "
    "correlation matrix that is not positive semi-definite is rejected or, on request, "
    "replaced by the nearest correlation matrix (Higham 2002). Trials are simulated in "
    "chunks so memory stays bounded. Shocks (tariffs, fee rises, demand drops, supplier "
    "outages, currency moves, wage and interest rises) and strategies (channel shift, "
    "second supplier, price change with a price elasticity) are deterministic changes "
    "applied to the same random draws as the baseline (common random numbers), so a "
    "strategy is judged by the distribution of its difference from doing nothing. Risk "
    "is summarised by the probability of a loss over the first 12 months, the "
    "probability and timing of negative cash (runway: the first month with a 10% chance), "
    "the 5% value at risk and expected shortfall of first-year profit. Sensitivity uses "
    "one-at-a-time P10/P90 swings (tornado) and variance-based Sobol indices with the "
    "Saltelli (2010) first-order and Jansen (1999) total estimators, computed with "
    "drivers independent, as variance decomposition requires; the estimators are "
    "validated on the Ishigami function (Ishigami & Homma 1990)."
)

REFERENCES = [
    "Iman, R. L. & Conover, W. J. (1982). A distribution-free approach to inducing rank "
    "correlation among input variables. Communications in Statistics - Simulation and "
    "Computation 11(3), 311-334.",
    "Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M. & Tarantola, S. "
    "(2010). Variance based sensitivity analysis of model output. Design and estimator "
    "for the total sensitivity index. Computer Physics Communications 181(2), 259-270.",
    "Jansen, M. J. W. (1999). Analysis of variance designs for model output. Computer "
    "Physics Communications 117(1-2), 35-43.",
    "Higham, N. J. (2002). Computing the nearest correlation matrix - a problem from "
    "finance. IMA Journal of Numerical Analysis 22(3), 329-343.",
    "Ishigami, T. & Homma, T. (1990). An importance quantification technique in "
    "uncertainty analysis for computer models. Proceedings of ISUMA '90, 398-403.",
    "Glasserman, P. (2003). Monte Carlo Methods in Financial Engineering, ch. 4.2 "
    "(common random numbers). Springer.",
    "Vose, D. (2008). Risk Analysis: A Quantitative Guide, 3rd ed. (PERT distribution). Wiley.",
]

__all__ = [
    "ACTIONS",
    "DEFAULT_ELASTICITY",
    "ISHIGAMI_FIRST_ORDER",
    "ISHIGAMI_TOTAL",
    "METHODS",
    "PERT",
    "REFERENCES",
    "SHOCKS",
    "ActionImpact",
    "AddSupplier",
    "Change",
    "Constant",
    "DemandDrop",
    "Distribution",
    "Driver",
    "Empirical",
    "FXMove",
    "InterestRateRise",
    "LogNormal",
    "Normal",
    "PlatformFeeRise",
    "PnLModel",
    "PriceChange",
    "Scenario",
    "ScenariosResult",
    "ShiftChannel",
    "Simulation",
    "SobolIndices",
    "Strategy",
    "SupplierOutage",
    "Tariff",
    "Triangular",
    "Uniform",
    "WageRise",
    "analyze",
    "build_model",
    "default_scenarios",
    "default_strategies",
    "distribution_from_dict",
    "evaluate_action",
    "evaluate_own_store_shift",
    "figures",
    "iman_conover",
    "ishigami",
    "load_scenarios",
    "nearest_correlation",
    "risk_metrics",
    "saltelli_jansen",
    "simulate",
    "sobol_drivers",
    "sobol_indices",
    "spearman_matrix",
    "tornado",
    "validate_correlation",
]
