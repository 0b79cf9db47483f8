"""Financing readiness: the true price of credit offers, a cash forecast, lender metrics.

The kernel is :func:`apr` (equal periods) and :func:`apr_dated` (dated payments): the
annual percentage rate by the actuarial method of U.S. Regulation Z, Appendix J
(12 CFR 1026), vectorized over many offers and many simulated futures.
"""

from __future__ import annotations

from levelfield.financing._apr import apr, apr_dated, apr_schedule, unit_periods

__all__ = ["apr", "apr_dated", "apr_schedule", "unit_periods"]
