"""The ``subscriptions`` analysis (``levelfield analyze subscriptions``).

Recurring revenue (MRR, its movements, net revenue retention, cohort churn) and
shifted-beta-geometric retention of the workspace's ``subscriptions`` table; see
:mod:`levelfield.customers._subscriptions` for the finding metric ids.
"""

from __future__ import annotations

from levelfield.customers._subscriptions import (
    METHODS,
    REFERENCES,
    SubscriptionsResult,
    analyze,
    figures,
)

__all__ = ["METHODS", "REFERENCES", "SubscriptionsResult", "analyze", "figures"]
