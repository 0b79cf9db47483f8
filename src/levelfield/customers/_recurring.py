"""Recurring revenue of subscriptions: MRR, its movements, net revenue retention, cohorts.

All figures are computed in DuckDB SQL over the ``subscriptions`` table (one row per
subscription; see ``levelfield template subscriptions``), set-based, no loop over rows.

Formulas (also in :data:`FORMULAS`, which results carry into their output):

- **Monthly price** of a subscription = ``amount x quantity x k / interval_count`` with
  ``k`` = 1 for ``month``, 1/12 for ``year``, 52/12 for ``week``, 365.25/12 for ``day``
  (blank quantity = 1, blank interval = month, blank interval count = 1).
- A subscription **pays at** instant ``t`` when it started before ``t``, has not ended
  by ``t`` (end = ``ended_at``, else ``canceled_at`` when its status is canceled), is
  not in a trial at ``t`` (``trial_start < t <= trial_end``; status ``trialing`` without
  a trial end counts as a trial throughout), and is not ``incomplete``/
  ``incomplete_expired`` (never paid) nor ``unpaid``/``paused`` from its current period
  start on.
- **MRR of month m** = sum of the monthly prices of the subscriptions paying at the end
  of ``m`` (for the last month: at the as-of date, so that month is partial).
- Per customer, from month ``m-1`` to ``m`` (``p`` = last month's MRR, ``c`` = this
  month's): **new** = ``c`` when ``p = 0`` and the customer never paid before;
  **reactivation** = ``c`` when ``p = 0`` and they paid before; **expansion** =
  ``c - p`` when ``0 < p < c``; **contraction** = ``p - c`` when ``0 < c < p``;
  **churned** = ``p`` when ``c = 0 < p``. Hence ``MRR_m = MRR_{m-1} + new +
  reactivation + expansion - contraction - churned``.
- **Net revenue retention (month)** = ``(MRR_{m-1} + expansion - contraction -
  churned) / MRR_{m-1}``; **NRR (12 months)** = MRR in ``m`` of the customers who paid
  in ``m-12``, divided by their MRR in ``m-12``.
- **Cohort** of a customer = the first month they paid at its end. At age ``k`` months:
  **logo retention** = paying customers of the cohort / cohort size, **logo churn** =
  1 - logo retention; **revenue retention** = the cohort's MRR / its MRR at age 0,
  **revenue churn** = 1 - revenue retention (negative when expansion outweighs churn).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from levelfield.errors import ConfigError, InsufficientDataError

__all__ = [
    "FORMULAS",
    "RecurringRevenue",
    "recurring_revenue",
    "subscription_lifetimes",
]

FORMULAS: dict[str, str] = {
    "monthly_price": "amount x quantity x k / interval_count; k = 1 month, 1/12 year, "
    "52/12 week, 365.25/12 day",
    "mrr": "sum of monthly prices of subscriptions paying at the month's end (trials, "
    "never-paid, unpaid and paused subscriptions excluded); last month at the as-of date",
    "movements": "per customer: new (first paying month), reactivation (paying again), "
    "expansion (c - p when 0 < p < c), contraction (p - c when 0 < c < p), churned (p when "
    "c = 0); MRR_m = MRR_m-1 + new + reactivation + expansion - contraction - churned",
    "nrr_month": "(MRR_m-1 + expansion - contraction - churned) / MRR_m-1",
    "nrr_12m": "MRR in m of customers paying in m-12 / their MRR in m-12",
    "cohort_retention": "logo: paying customers / cohort size; revenue: cohort MRR / cohort "
    "MRR in its first month; churn = 1 - retention",
}

_NEVER_PAID = "('incomplete', 'incomplete_expired')"


def _as_of_sql(table: str) -> str:
    return (
        f"(SELECT greatest(max(started_at), coalesce(max(current_period_start), "
        f"max(started_at)), coalesce(max(ended_at), max(started_at)), "
        f"coalesce(max(canceled_at), max(started_at))) FROM {table})"
    )


def _spans_sql(table: str, currency: str | None) -> str:
    """One row per subscription: customer, monthly price and the span it pays in."""
    where = f"AND upper(coalesce(currency, {_q(currency)})) = {_q(currency)}" if currency else ""
    return f"""
        SELECT subscription_id, customer_id, started_at,
          coalesce(ended_at, CASE WHEN status = 'canceled'
                THEN coalesce(canceled_at, current_period_end) END,
                CASE WHEN status IN ('unpaid', 'paused')
                THEN coalesce(current_period_start, started_at) END) AS end_at,
          CASE WHEN trial_end IS NOT NULL THEN coalesce(trial_start, started_at) END AS tr_start,
          trial_end AS tr_end,
          coalesce(status = 'trialing' AND trial_end IS NULL, false) AS trial_open,
          coalesce("interval", 'month') = 'month' AND coalesce(interval_count, 1) = 1
            AS monthly_billed,
          CAST(amount AS DOUBLE) * coalesce(quantity, 1)
            * CASE coalesce("interval", 'month') WHEN 'day' THEN 365.25 / 12
                WHEN 'week' THEN 52.0 / 12 WHEN 'year' THEN 1.0 / 12 ELSE 1.0 END
            / coalesce(nullif(interval_count, 0), 1) AS monthly_price
        FROM {table}
        WHERE coalesce(status, 'active') NOT IN {_NEVER_PAID} AND amount IS NOT NULL {where}
    """


def _q(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class RecurringRevenue:
    """MRR by month with its movements, net revenue retention and cohort churn.

    Attributes
    ----------
    as_of
        The date the data describe (latest start, period start, cancel or end).
    monthly
        One row per month: ``month``, ``mrr``, ``customers``, ``new``, ``reactivation``,
        ``expansion``, ``contraction``, ``churned`` (currency per month), ``nrr_month``,
        ``nrr_12m`` (shares; NaN where undefined), ``partial`` (the as-of month).
    cohorts
        One row per cohort month and age: ``cohort``, ``age_months``, ``cohort_size``,
        ``customers``, ``mrr``, ``logo_retention``, ``logo_churn``,
        ``revenue_retention``, ``revenue_churn``.
    currency
        Currency of the amounts.
    formulas
        The definitions used (:data:`FORMULAS`).
    """

    as_of: dt.datetime
    monthly: pd.DataFrame
    cohorts: pd.DataFrame
    currency: str | None
    formulas: dict[str, str] = field(default_factory=lambda: dict(FORMULAS))

    def to_frame(self) -> pd.DataFrame:
        """The monthly table."""
        return self.monthly.copy()

    def summary(self) -> dict[str, object]:
        """Latest full month's MRR, its movements and NRR (JSON-able)."""
        full = self.monthly[~self.monthly["partial"]]
        last = (full if len(full) else self.monthly).iloc[-1]
        return {
            "as_of": self.as_of.isoformat(),
            "month": str(last["month"].date()),
            "mrr": float(last["mrr"]),
            "customers": int(last["customers"]),
            **{
                k: float(last[k])
                for k in ("new", "reactivation", "expansion", "contraction", "churned")
            },
            "nrr_month": _none_if_nan(last["nrr_month"]),
            "nrr_12m": _none_if_nan(last["nrr_12m"]),
            "currency": self.currency,
            "formulas": dict(self.formulas),
        }


def _none_if_nan(x: object) -> float | None:
    v = float(x)  # type: ignore[arg-type]
    return None if np.isnan(v) else v


def recurring_revenue(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str = "subscriptions",
    as_of: dt.datetime | None = None,
    currency: str | None = None,
) -> RecurringRevenue:
    """MRR by month, MRR movements, net revenue retention and cohort churn.

    Parameters
    ----------
    con
        Connection holding ``table`` (columns of the workspace ``subscriptions`` table).
    table
        Table or view name.
    as_of
        End of observation (default: the latest date in the data).
    currency
        Count only subscriptions in this currency (blank currency counts as it).

    Raises
    ------
    InsufficientDataError
        No subscription that ever paid.
    """
    if as_of is not None and not isinstance(as_of, dt.datetime):
        raise ConfigError(f"as_of must be a datetime, not {as_of!r}")
    end = _q(as_of.isoformat(sep=" ")) + "::TIMESTAMP" if as_of else _as_of_sql(table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _lf_sub_spans AS {_spans_sql(table, currency)}")
    first = con.execute(f"SELECT min(started_at), {end} FROM _lf_sub_spans").fetchall()[0]
    if first[0] is None or first[1] is None:
        raise InsufficientDataError(
            "no subscription with an amount that ever paid; import subscriptions "
            "(levelfield import subscriptions FILE) with amount, start and status"
        )
    as_of_v: dt.datetime = first[1]
    con.execute(_paying_sql(end))
    monthly = _monthly(con)
    if not (monthly["mrr"] > 0).any():
        raise InsufficientDataError(
            "no subscription paid at any month's end (all in trial or never paid)"
        )
    return RecurringRevenue(as_of_v, monthly, _cohorts(con), currency)


def _paying_sql(end: str) -> str:
    return f"""
        CREATE OR REPLACE TEMP TABLE _lf_sub_cm AS
        WITH months AS (
            SELECT m, least(m + INTERVAL 1 MONTH, {end} + INTERVAL 1 MICROSECOND) AS t,
                   m + INTERVAL 1 MONTH > {end} AS partial
            FROM range(date_trunc('month', (SELECT min(started_at) FROM _lf_sub_spans)),
                       date_trunc('month', {end}) + INTERVAL 1 MONTH, INTERVAL 1 MONTH) r(m)
        )
        SELECT months.m, months.partial, s.customer_id, sum(s.monthly_price) AS mrr
        FROM months JOIN _lf_sub_spans s
          ON s.started_at < months.t AND (s.end_at IS NULL OR s.end_at >= months.t)
         AND NOT s.trial_open
         AND NOT coalesce(s.tr_start < months.t AND s.tr_end >= months.t, false)
        GROUP BY ALL HAVING sum(s.monthly_price) > 0
    """


def _monthly(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    out: pd.DataFrame = (
        con.sql(
            """
        WITH months AS (SELECT DISTINCT m, partial FROM _lf_sub_cm
            UNION SELECT range AS m, false FROM range(
                (SELECT min(m) FROM _lf_sub_cm), (SELECT max(m) FROM _lf_sub_cm),
                INTERVAL 1 MONTH)),
        mo AS (SELECT m, bool_or(partial) AS partial FROM months GROUP BY m),
        firsts AS (SELECT customer_id, min(m) AS first_m FROM _lf_sub_cm GROUP BY 1),
        pairs AS (
            SELECT coalesce(c.m, p.m + INTERVAL 1 MONTH) AS m,
                   coalesce(c.customer_id, p.customer_id) AS customer_id,
                   round(coalesce(c.mrr, 0), 6) AS cur, round(coalesce(p.mrr, 0), 6) AS prev
            FROM _lf_sub_cm c FULL JOIN _lf_sub_cm p
              ON c.customer_id = p.customer_id AND c.m = p.m + INTERVAL 1 MONTH),
        mv AS (
            SELECT pairs.m, sum(cur) AS mrr, count(*) FILTER (cur > 0) AS customers,
              sum(cur) FILTER (prev = 0 AND pairs.m = f.first_m) AS new,
              sum(cur) FILTER (prev = 0 AND cur > 0 AND pairs.m > f.first_m) AS reactivation,
              sum(cur - prev) FILTER (prev > 0 AND cur > prev) AS expansion,
              sum(prev - cur) FILTER (cur > 0 AND cur < prev) AS contraction,
              sum(prev) FILTER (cur = 0 AND prev > 0) AS churned,
              sum(prev) AS mrr_prev
            FROM pairs JOIN firsts f USING (customer_id)
            GROUP BY 1),
        nrr12 AS (
            SELECT c.m, sum(coalesce(n.mrr, 0)) / sum(c.mrr) AS nrr_12m
            FROM _lf_sub_cm c LEFT JOIN _lf_sub_cm n
              ON n.customer_id = c.customer_id AND n.m = c.m + INTERVAL 12 MONTH
            WHERE c.m + INTERVAL 12 MONTH <= (SELECT max(m) FROM _lf_sub_cm)
            GROUP BY 1)
        SELECT mo.m AS month, coalesce(mv.mrr, 0) AS mrr,
               coalesce(mv.customers, 0) AS customers,
               coalesce(new, 0) AS new, coalesce(reactivation, 0) AS reactivation,
               coalesce(expansion, 0) AS expansion, coalesce(contraction, 0) AS contraction,
               coalesce(churned, 0) AS churned,
               CASE WHEN mrr_prev > 0 THEN (mrr_prev + coalesce(expansion, 0)
                 - coalesce(contraction, 0) - coalesce(churned, 0)) / mrr_prev END
                 AS nrr_month,
               nrr12.nrr_12m, mo.partial
        FROM mo LEFT JOIN mv ON mv.m = mo.m
        LEFT JOIN nrr12 ON nrr12.m + INTERVAL 12 MONTH = mo.m
        ORDER BY month
        """
        )
        .df()
        .astype({"nrr_month": float, "nrr_12m": float, "customers": int, "partial": bool})
    )
    return out


def _cohorts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    out: pd.DataFrame = con.sql(
        """
        WITH f AS (SELECT customer_id, min(m) AS cohort FROM _lf_sub_cm GROUP BY 1),
        size AS (SELECT f.cohort, count(*) AS cohort_size, sum(c.mrr) AS mrr0
                 FROM f JOIN _lf_sub_cm c ON c.customer_id = f.customer_id AND c.m = f.cohort
                 GROUP BY 1),
        grid AS (SELECT size.*, m.m FROM size JOIN (SELECT DISTINCT m FROM _lf_sub_cm) m
                 ON m.m >= size.cohort),
        act AS (SELECT f.cohort, c.m, count(*) AS customers, sum(c.mrr) AS mrr
                FROM f JOIN _lf_sub_cm c USING (customer_id) GROUP BY 1, 2)
        SELECT grid.cohort, date_diff('month', grid.cohort, grid.m) AS age_months,
               cohort_size, coalesce(customers, 0) AS customers, coalesce(mrr, 0) AS mrr,
               coalesce(customers, 0) / cohort_size AS logo_retention,
               1 - coalesce(customers, 0) / cohort_size AS logo_churn,
               coalesce(mrr, 0) / mrr0 AS revenue_retention,
               1 - coalesce(mrr, 0) / mrr0 AS revenue_churn
        FROM grid LEFT JOIN act ON act.cohort = grid.cohort AND act.m = grid.m
        ORDER BY 1, 2
        """
    ).df()
    return out


def subscription_lifetimes(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str = "subscriptions",
    as_of: dt.datetime | None = None,
    currency: str | None = None,
) -> pd.DataFrame:
    """Per monthly-billed subscription that paid: cohort, periods and churned, for sBG.

    A subscription's paid start is its trial end (when later than its start), else its
    start; payments fall on the paid start and every month after it. ``periods`` is the
    number of monthly payments for a churned subscription (>= 1) and the number of
    renewals (payments - 1) for one still active, as
    :meth:`ShiftedBetaGeometricModel.fit` takes them. Subscriptions billed other than
    monthly, and those ending in their trial, are left out (``monthly_billed`` = False
    rows are not returned). Columns: ``subscription_id``, ``cohort`` (month of the paid
    start), ``periods``, ``churned``, ``monthly_price``. ``currency`` keeps only
    subscriptions in that currency (blank counts as it).
    """
    end = _q(as_of.isoformat(sep=" ")) + "::TIMESTAMP" if as_of else _as_of_sql(table)
    out: pd.DataFrame = con.sql(
        f"""
        WITH s AS ({_spans_sql(table, currency)}),
        p AS (SELECT *, CASE WHEN tr_end > started_at THEN tr_end ELSE started_at END
                  AS paid_start,
                  end_at IS NOT NULL AND end_at <= {end} AS churned_b
              FROM s WHERE monthly_billed AND NOT trial_open),
        q AS (SELECT *, coalesce(CASE WHEN churned_b THEN end_at END, {end}) AS stop,
                  date_diff('month', paid_start, coalesce(CASE WHEN churned_b THEN end_at END,
                  {end})) AS k
              FROM p WHERE NOT churned_b OR end_at > paid_start)
        SELECT subscription_id, CAST(date_trunc('month', paid_start) AS DATE) AS cohort,
          CAST(CASE WHEN churned_b
                 THEN k + CASE WHEN paid_start + to_months(k) < stop THEN 1 ELSE 0 END
                 ELSE k + CASE WHEN paid_start + to_months(k) <= stop THEN 1 ELSE 0 END - 1
               END AS INTEGER) AS periods,
          CAST(churned_b AS INTEGER) AS churned, monthly_price
        FROM q WHERE paid_start <= {end}
        ORDER BY subscription_id
        """
    ).df()
    return out
