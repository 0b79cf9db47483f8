"""The customer analysis of a subscription business without (enough) one-off orders.

When the workspace holds subscriptions but too few orders to fit a purchase model, the
customer analysis is the subscribers' sBG analysis (Fader & Hardie 2007) in the customer
analysis's terms: how many of this month's new subscribers will still pay in a year,
what a new subscriber is worth (DERL and discounted value), and the retention curve of
every monthly cohort, each with its 90 % interval where the data pin it down. No
purchase model is fitted, so no BG/NBD figure is stated.

Finding metric ids (``customers.*``, beside the ``subscriptions`` analysis's own):

``customers.subscribers_one_year_retention``
    share of a month's new subscribers still paying a year later (0-1), with ``low`` and
    ``high`` in the context.
``customers.new_subscriber_value``
    a new subscriber's discounted payments (currency), with ``low``, ``high`` and ``derl``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln

from levelfield.customers._family import FamilyChoice
from levelfield.customers._subscriptions import SubscriptionsResult
from levelfield.findings import Finding
from levelfield.findings import json_float as _f

__all__ = ["SubscriberBaseResult", "cohort_retention_curves"]

#: renewals the per-cohort curves run to (two years of monthly billing)
CURVE_RENEWALS = 24


def cohort_retention_curves(
    cohort_fits: pd.DataFrame, renewals: int = CURVE_RENEWALS
) -> pd.DataFrame:
    """Share of each cohort still paying after 0..``renewals`` renewals, from its sBG fit.

    ``S(t) = B(alpha, beta + t) / B(alpha, beta)`` per cohort (Fader & Hardie 2007, eq.
    4); cohorts without their own fit (too small, no cancellations) are left out.
    Long format: ``cohort``, ``renewals``, ``survival``.
    """
    fit = cohort_fits.dropna(subset=["alpha", "beta"])
    if fit.empty:
        return pd.DataFrame({"cohort": [], "renewals": [], "survival": []})
    a = fit["alpha"].to_numpy(float)[:, None]
    b = fit["beta"].to_numpy(float)[:, None]
    t = np.arange(renewals + 1, dtype=float)[None, :]
    surv = np.exp(betaln(a, b + t) - betaln(a, b))
    return pd.DataFrame(
        {
            "cohort": np.repeat(fit["cohort"].to_numpy(), renewals + 1),
            "renewals": np.tile(np.arange(renewals + 1), len(fit)),
            "survival": surv.ravel(),
        }
    )


def _pct(v: float) -> str:
    return f"{v:.0%}" if math.isfinite(v) else "n/a"


@dataclass(frozen=True)
class SubscriberBaseResult:
    """Customer analysis of a subscriptions-only workspace (the sBG family).

    ``subscriptions`` is the full sBG result (pooled parameters, per-cohort fits with
    one-year retention and DERL, the pooled retention curve with its interval);
    ``why_no_orders`` says why no purchase model was fitted.
    """

    currency: str
    family: FamilyChoice
    subscriptions: SubscriptionsResult
    why_no_orders: str

    @property
    def interval_known(self) -> bool:
        lo, hi = self.subscriptions.one_year_interval
        return math.isfinite(lo) and math.isfinite(hi)

    def _retention_text(self) -> str:
        s = self.subscriptions
        lo, hi = s.one_year_interval
        said = (
            f"90 % interval {_pct(lo)} to {_pct(hi)}"
            if self.interval_known
            else "no interval: the data cannot yet tell how much subscribers differ"
        )
        return (
            f"Of this month's new subscribers, {_pct(s.one_year_retention)} are expected to "
            f"still pay in a year ({said})."
        )

    def _value_text(self) -> str:
        s = self.subscriptions
        lo, hi = s.new_subscriber_value_interval
        said = (
            f"90 % interval {s.currency} {lo:,.0f} to {hi:,.0f}"
            if math.isfinite(lo) and math.isfinite(hi)
            else "no interval"
        )
        return (
            f"A new subscriber at {s.currency} {s.monthly_price:,.2f} a month is worth "
            f"{s.currency} {s.new_subscriber_value:,.0f} in discounted payments ({said}); "
            f"after the first payment they are expected to make {s.derl:.1f} more "
            "(discounted expected residual lifetime, DERL)."
        )

    def _cohort_text(self) -> str:
        cf = self.subscriptions.cohort_fits.dropna(subset=["one_year_retention"])
        if cf.empty:
            return (
                "No monthly cohort is large enough (30 subscriptions with cancellations) for "
                "its own retention curve; the figures above pool all cohorts."
            )
        r = cf["one_year_retention"].to_numpy(dtype=float)
        names = [str(c)[:7] for c in cf["cohort"]]
        lo, hi = int(np.argmin(r)), int(np.argmax(r))
        return (
            f"Retention curves of {len(cf)} monthly cohorts (table cohort_retention): "
            f"one-year retention from {_pct(float(r[lo]))} (cohort {names[lo]}) to "
            f"{_pct(float(r[hi]))} (cohort {names[hi]}); young and small cohorts are "
            "uncertain, each cohort's 90 % interval is in table sbg_cohorts."
        )

    def headline(self) -> list[str]:
        """Plain-language lines, each with its number."""
        return [
            f"Model family: {self.family.label}. {self.family.reason}",
            self._retention_text(),
            self._value_text(),
            self._cohort_text(),
            f"No purchase model (BG/NBD or Pareto/NBD) is fitted: {self.why_no_orders}.",
            *self.subscriptions.notes,
        ]

    def summary(self) -> dict[str, Any]:
        """JSON-able headline numbers (recorded with the run)."""
        s = self.subscriptions
        return {
            **self.family.summary(),
            "model": "sBG",
            "currency": self.currency,
            "n_subscriptions": s.n_subscriptions,
            "params": {k: _f(v) for k, v in s.params.items()},
            "standard_errors": {k: _f(v) for k, v in s.standard_errors.items()},
            "subscriptions_one_year_retention": _f(s.one_year_retention),
            "subscriptions_one_year_retention_lower": _f(s.one_year_interval[0]),
            "subscriptions_one_year_retention_upper": _f(s.one_year_interval[1]),
            "subscriptions_derl": _f(s.derl),
            "subscriptions_new_subscriber_value": _f(s.new_subscriber_value),
            "subscriptions_new_subscriber_value_lower": _f(s.new_subscriber_value_interval[0]),
            "subscriptions_new_subscriber_value_upper": _f(s.new_subscriber_value_interval[1]),
            "no_purchase_model": self.why_no_orders,
            "notes": list(s.notes),
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """Per-cohort fits (one-year retention, DERL, with bounds), curves, MRR."""
        s = self.subscriptions
        return {
            "sbg_cohorts": s.cohort_fits,
            "cohort_retention": cohort_retention_curves(s.cohort_fits),
            "retention_curve": s.retention_curve,
            "mrr_by_month": s.revenue.monthly,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per monthly cohort."""
        return self.subscriptions.cohort_fits.copy()

    def findings(self) -> list[Finding]:
        """The subscriber figures as customer findings (see the module docstring)."""
        s = self.subscriptions
        lo, hi = s.one_year_interval
        v_lo, v_hi = s.new_subscriber_value_interval
        return [
            Finding(
                "customers.subscribers_one_year_retention",
                s.one_year_retention,
                "share",
                self._retention_text(),
                "warning" if s.one_year_retention < 0.3 else "info",
                {"low": _f(lo), "high": _f(hi), "model": "sBG"},
            ),
            Finding(
                "customers.new_subscriber_value",
                s.new_subscriber_value,
                "currency",
                self._value_text(),
                "info",
                {"low": _f(v_lo), "high": _f(v_hi), "derl": _f(s.derl)},
            ),
        ]
