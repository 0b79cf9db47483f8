"""Which family of customer-base model fits the business, and why, in plain words.

* Subscriptions imported: contracts with observed cancellations, so the
  shifted-beta-geometric (sBG) model (Fader & Hardie 2007).
* Orders that fall on one weekday week after week (a weekly market, a club night): each
  week is one purchase opportunity, so the discrete-time BG/BB model (Fader, Hardie &
  Shang 2010) on the weekly recency/frequency pattern.
* Otherwise customers can buy any day: the continuous-time BG/NBD or Pareto/NBD, the one
  with the lower holdout error.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from levelfield.customers._bgbb import BetaGeoBetaBinomModel
from levelfield.customers._summary import workspace_purchases_sql
from levelfield.errors import ConvergenceWarning, InsufficientDataError, SmallSampleWarning

__all__ = ["DISCRETE_WEEKDAY_SHARE", "FamilyChoice", "choose_family", "weekly_pattern"]

Family = Literal["sbg", "bgbb", "continuous"]

#: share of purchase days on one weekday above which purchases are taken to happen at
#: weekly opportunities (a market day), not any day
DISCRETE_WEEKDAY_SHARE = 0.9
#: weeks of market days needed before a weekly pattern is believed
_MIN_WEEKS = 8
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LABELS = {
    "sbg": "sBG (contractual: subscriptions)",
    "bgbb": "BG/BB (discrete: weekly opportunities)",
    "continuous": "BG/NBD or Pareto/NBD (continuous time)",
}


@dataclass(frozen=True)
class FamilyChoice:
    """The model family chosen from the data, with the evidence and the reason."""

    family: Family
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LABELS[self.family]

    def summary(self) -> dict[str, Any]:
        return {
            "model_family": self.family,
            "model_family_label": self.label,
            "model_family_reason": self.reason,
            **{f"model_family_{k}": v for k, v in self.evidence.items()},
        }


def _weekday_profile(con: Any, currency: str) -> tuple[int, int, int, float]:
    """Purchase days, weeks with purchases, the busiest weekday and its share of days."""
    rows = con.execute(
        f"""
        WITH p AS ({workspace_purchases_sql(currency)}),
        d AS (SELECT DISTINCT CAST(ts AS DATE) AS day FROM p WHERE amount > 0)
        SELECT isodow(day) - 1 AS dow, count(*) AS n,
               count(DISTINCT date_trunc('week', day)) AS weeks
        FROM d GROUP BY 1 ORDER BY 2 DESC
        """
    ).fetchall()
    if not rows:
        return 0, 0, 0, 0.0
    days = sum(int(r[1]) for r in rows)
    return days, int(rows[0][2]), int(rows[0][0]), int(rows[0][1]) / days


def choose_family(ws: Any, *, currency: str | None = None) -> FamilyChoice:
    """Pick the customer-base model family from what the workspace holds, and say why."""
    cur = currency or ws.currency()
    con = ws.cursor()
    try:
        n_subs = int(con.execute("SELECT count(*) FROM subscriptions").fetchall()[0][0])
        days, weeks, dow, share = _weekday_profile(con, cur)
    finally:
        con.close()
    evidence: dict[str, Any] = {
        "subscriptions": n_subs,
        "purchase_days": days,
        "busiest_weekday": _DAYS[dow] if days else None,
        "busiest_weekday_share": round(share, 4),
    }
    if n_subs > 0:
        orders = (
            " Orders outside the subscriptions are still modelled as one-off buying "
            "(BG/NBD or Pareto/NBD, picked on a holdout period)."
            if days
            else ""
        )
        return FamilyChoice(
            "sbg",
            f"{n_subs:,} subscriptions are imported. A subscriber pays every period until "
            "they cancel, and the cancellation is recorded, so nobody has to guess who is "
            "still a customer: retention is contractual, and the shifted-beta-geometric "
            "(sBG) model projects it per monthly cohort, letting each subscriber have their "
            "own cancel probability." + orders,
            evidence,
        )
    if days and share >= DISCRETE_WEEKDAY_SHARE and weeks >= _MIN_WEEKS:
        return FamilyChoice(
            "bgbb",
            f"{share:.0%} of the days with purchases are {_DAYS[dow]}s, over {weeks} weeks: "
            "customers can only buy on that day (a weekly market or event), so each week is "
            "one purchase opportunity that a customer takes or skips. The discrete-time "
            "BG/BB model fits this; continuous-time models would count the six days without "
            "trading as days the customer chose not to buy.",
            {**evidence, "weeks": weeks},
        )
    said = (
        f"the busiest weekday ({_DAYS[dow]}) has only {share:.0%} of the days with purchases"
        if days
        else "there are no purchases to tell otherwise"
    )
    return FamilyChoice(
        "continuous",
        f"Customers buy on any day ({said}) and there are no subscriptions, so buying is "
        "modelled in continuous time: BG/NBD and Pareto/NBD, the one with the lower error "
        "on a holdout period.",
        evidence,
    )


def weekly_pattern(ws: Any, *, currency: str | None = None) -> pd.DataFrame:
    """Each customer's recency/frequency pattern over the weekly opportunities.

    Opportunities are the weeks with any purchase in the workspace; a customer's are the
    ones after the week of their first purchase: ``n_periods`` of them, ``frequency``
    with a purchase, ``recency`` the index of the last one (0 without any).
    """
    cur = currency or ws.currency()
    con = ws.cursor()
    try:
        df: pd.DataFrame = con.execute(
            f"""
            WITH p AS ({workspace_purchases_sql(cur)}),
            w AS (SELECT DISTINCT customer_id, date_trunc('week', ts) AS wk FROM p
                  WHERE amount > 0),
            o AS (SELECT wk, row_number() OVER (ORDER BY wk) AS k
                  FROM (SELECT DISTINCT wk FROM w)),
            c AS (SELECT w.customer_id, min(o.k) AS first_k, max(o.k) AS last_k,
                         count(*) - 1 AS frequency
                  FROM w JOIN o USING (wk) GROUP BY 1)
            SELECT customer_id, frequency, last_k - first_k AS recency,
                   (SELECT max(k) FROM o) - first_k AS n_periods
            FROM c WHERE (SELECT max(k) FROM o) > first_k
            ORDER BY customer_id
            """
        ).df()
    finally:
        con.close()
    return df


def fit_weekly_bgbb(
    ws: Any, *, currency: str | None = None
) -> tuple[BetaGeoBetaBinomModel, pd.DataFrame]:
    """BG/BB on the weekly opportunity pattern (small samples and weak fits as warnings)."""
    pattern = weekly_pattern(ws, currency=currency)
    if pattern.empty:
        raise InsufficientDataError("no customer has a weekly opportunity after their first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = BetaGeoBetaBinomModel().fit(
            pattern["frequency"], pattern["recency"], pattern["n_periods"]
        )
    x, tx, n = (pattern[c].to_numpy(float) for c in ("frequency", "recency", "n_periods"))
    pattern["p_alive"] = model.probability_alive(x, tx, n)
    pattern["expected_purchases_13w"] = model.conditional_expected_purchases(13, x, tx, n)
    return model, pattern
