"""Calibration/holdout validation and monthly acquisition cohorts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from levelfield.customers._summary import CustomerSummary
from levelfield.errors import ConfigError, ModelError

__all__ = [
    "MODEL_LABELS",
    "Cohorts",
    "HoldoutValidation",
    "ModelChoice",
    "choose_by_holdout",
    "holdout_validation",
    "monthly_cohorts",
]

#: holdout RMSEs closer than this (relative) count as equal
_SAME_RMSE = 1e-3

#: the purchase models by key, as the owner reads them
MODEL_LABELS = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}

Array = NDArray[np.float64]


class _Model(Protocol):
    def conditional_expected_purchases(
        self, t: ArrayLike | float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Array: ...

    def expected_purchases(self, t: ArrayLike | float) -> Array: ...


@dataclass(frozen=True)
class HoldoutValidation:
    """How well the purchase model predicted the holdout period.

    Attributes
    ----------
    by_frequency : DataFrame
        Per calibration frequency (0, 1, ..., ``max_frequency``+): customers, actual and
        predicted mean holdout purchases.
    tracking : DataFrame
        Weekly cumulative repeat purchases of calibration customers: ``date``, ``actual``,
        ``predicted``, ``period`` (calibration/holdout).
    actual_total, predicted_total : float
        Holdout repeat purchases, actual and predicted.
    aggregate_error : float
        ``(predicted - actual) / actual`` over the holdout (share).
    mae_by_frequency : float
        Mean absolute error of the by-frequency means, weighted by customers.
    individual_mae : float
        Mean absolute error per customer (purchases).
    correlation : float
        Correlation of predicted and actual holdout purchases per customer.
    rmse : float
        Root mean squared error per customer (purchases): the score on which the
        purchase models are compared (squared error is minimized by the conditional
        mean, which is what the models predict).
    """

    calibration_end: dt.date
    duration: float
    time_unit: str
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame
    actual_total: float
    predicted_total: float
    aggregate_error: float
    mae_by_frequency: float
    individual_mae: float
    correlation: float
    rmse: float

    @property
    def quality(self) -> str:
        """``good``, ``fair`` or ``poor`` from the aggregate holdout error."""
        e = abs(self.aggregate_error)
        return "good" if e <= 0.10 else "fair" if e <= 0.25 else "poor"

    def verdict(self) -> str:
        """The fit in plain words."""
        direction = "over" if self.predicted_total > self.actual_total else "under"
        return (
            f"Holdout check ({self.duration:.0f} {self.time_unit}s after {self.calibration_end}): "
            f"the model predicted {self.predicted_total:,.0f} repeat purchases against "
            f"{self.actual_total:,.0f} actual ({abs(self.aggregate_error):.0%} {direction}), "
            f"a {self.quality} fit; per-customer correlation {self.correlation:.2f}."
        )

    def summary(self) -> dict[str, Any]:
        return {
            "holdout_quality": self.quality,
            "holdout_aggregate_error": self.aggregate_error,
            "holdout_actual": self.actual_total,
            "holdout_predicted": self.predicted_total,
            "holdout_mae_by_frequency": self.mae_by_frequency,
            "holdout_correlation": self.correlation,
            "holdout_rmse": self.rmse,
        }


def holdout_validation(
    model: _Model,
    summary: CustomerSummary,
    repeat_purchases_by_date: pd.DataFrame | None = None,
    *,
    max_frequency: int = 7,
) -> HoldoutValidation:
    """Compare a model fitted on the calibration summary with the holdout period.

    Parameters
    ----------
    model
        A purchase model fitted on ``summary``'s calibration columns.
    summary
        A summary made with ``calibration_end``.
    repeat_purchases_by_date
        Optional ``date``, ``purchases``: repeat purchases (periods after a customer's
        first) of calibration customers per day, for the tracking chart.
    max_frequency
        Calibration frequencies at or above this are pooled.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers"
       the easy way. Marketing Science 24(2), 275-284 (figures 3 and 4).
    """
    if summary.frequency_holdout is None or summary.calibration_end is None:
        raise ConfigError(
            "holdout validation needs a summary made with calibration_end=...; pass a "
            "calibration end date inside the data"
        )
    x, t_x, T = summary.frequency, summary.recency, summary.T
    pred = model.conditional_expected_purchases(summary.duration_holdout, x, t_x, T)
    if not np.isfinite(pred).all():
        # a fit that ran off to a limit where its formulas overflow cannot be compared
        raise ModelError(
            f"the fitted model gives no finite prediction for {int((~np.isfinite(pred)).sum()):,} "
            "of the calibration customers, so its holdout error cannot be measured"
        )
    act = summary.frequency_holdout
    bucket = np.minimum(x, max_frequency).astype(np.int64)
    counts = np.bincount(bucket, minlength=max_frequency + 1).astype(np.float64)
    act_mean = np.bincount(bucket, weights=act, minlength=max_frequency + 1).astype(np.float64)
    pred_mean = np.bincount(bucket, weights=pred, minlength=max_frequency + 1).astype(np.float64)
    has = counts > 0
    act_mean[has] /= counts[has]
    pred_mean[has] /= counts[has]
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    by_freq = pd.DataFrame(
        {
            "frequency": labels,
            "customers": counts.astype(np.int64),
            "actual": act_mean,
            "predicted": pred_mean,
        }
    )[has]
    mae_f = float(np.sum(counts * np.abs(act_mean - pred_mean)) / counts.sum())
    a_tot, p_tot = float(act.sum()), float(pred.sum())
    agg = (p_tot - a_tot) / a_tot if a_tot > 0 else (0.0 if p_tot == 0 else 1.0)
    corr = float(np.corrcoef(pred, act)[0, 1]) if np.ptp(pred) > 0 and np.ptp(act) > 0 else 0.0
    tracking = _tracking(model, summary, repeat_purchases_by_date)
    return HoldoutValidation(
        calibration_end=summary.calibration_end,
        duration=summary.duration_holdout,
        time_unit=summary.time_unit,
        by_frequency=by_freq.reset_index(drop=True),
        tracking=tracking,
        actual_total=a_tot,
        predicted_total=p_tot,
        aggregate_error=float(agg),
        mae_by_frequency=mae_f,
        individual_mae=float(np.abs(pred - act).mean()),
        correlation=corr,
        rmse=float(np.sqrt(np.mean((pred - act) ** 2))),
    )


@dataclass(frozen=True)
class ModelChoice:
    """Which purchase model was used, and why.

    Attributes
    ----------
    chosen
        ``"bgnbd"`` or ``"pareto_nbd"``.
    how
        ``"holdout"`` (the better holdout prediction), ``"given"`` (asked for) or
        ``"default"`` (BG/NBD, no holdout period to compare on).
    validations
        Holdout check of each model fitted on the calibration period, by key (empty
        without a holdout period).
    reason
        The choice in plain words, with both models' holdout errors.
    """

    chosen: str
    how: str
    validations: dict[str, HoldoutValidation]
    reason: str

    @property
    def label(self) -> str:
        return MODEL_LABELS[self.chosen]

    def table(self) -> pd.DataFrame:
        """Holdout scores of every model compared (one row per model)."""
        return pd.DataFrame(
            {
                "model": [MODEL_LABELS[k] for k in self.validations],
                "chosen": [k == self.chosen for k in self.validations],
                "holdout_rmse": [v.rmse for v in self.validations.values()],
                "holdout_aggregate_error": [v.aggregate_error for v in self.validations.values()],
                "holdout_correlation": [v.correlation for v in self.validations.values()],
            }
        )

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model_choice": self.how, "model_choice_reason": self.reason}
        for k, v in self.validations.items():
            out[f"holdout_rmse_{k}"] = v.rmse
            out[f"holdout_aggregate_error_{k}"] = v.aggregate_error
        return out


def choose_by_holdout(validations: dict[str, HoldoutValidation], given: str | None) -> ModelChoice:
    """Pick the model with the lower per-customer holdout RMSE (or the one ``given``).

    Parameters
    ----------
    validations
        Holdout checks by model key (``"bgnbd"``, ``"pareto_nbd"``), at least one.
    given
        A model key the user asked for, or None to choose.
    """
    if not validations:
        raise ConfigError("choose_by_holdout needs the holdout check of at least one model")
    unknown = set(validations) - set(MODEL_LABELS)
    if unknown or (given is not None and given not in MODEL_LABELS):
        raise ConfigError(f"models must be among {sorted(MODEL_LABELS)}; got {sorted(unknown)}")

    def score(k: str) -> str:
        v = validations[k]
        return (
            f"{MODEL_LABELS[k]} {v.rmse:.3f} purchases per customer (total "
            f"{v.aggregate_error:+.0%})"
        )

    ranked = sorted(validations, key=lambda k: (validations[k].rmse, k))
    scores = "; ".join(score(k) for k in ranked)
    if given is not None:
        return ModelChoice(
            given, "given", validations, f"{MODEL_LABELS[given]} as set. Holdout error: {scores}."
        )
    best = ranked[0]
    if len(ranked) == 1:
        reason = f"{MODEL_LABELS[best]} (the only model compared). Holdout error: {scores}."
        return ModelChoice(best, "holdout", validations, reason)
    gap = validations[ranked[1]].rmse / max(validations[best].rmse, 1e-12) - 1.0
    if gap < _SAME_RMSE and "bgnbd" in validations:
        # identical predictions (both fits at the same limit, e.g. no drop-out): keep the
        # simpler, faster default rather than a difference in the fourth digit
        reason = (
            "BG/NBD: both models predicted the holdout period equally well (root mean "
            f"squared error {scores}), so the default is kept."
        )
        return ModelChoice("bgnbd", "holdout", validations, reason)
    close = " The two are almost equally good." if gap < 0.01 else ""
    reason = (
        f"{MODEL_LABELS[best]} was chosen because it predicted the holdout period "
        f"better. Holdout error (root mean squared error): {scores}.{close}"
    )
    return ModelChoice(best, "holdout", validations, reason)


def _tracking(model: _Model, summary: CustomerSummary, actual: pd.DataFrame | None) -> pd.DataFrame:
    """Weekly cumulative repeat purchases: expected from the population curve vs actual."""
    first = summary.first_purchase.astype("datetime64[D]")
    start = first.min()
    end = np.datetime64(summary.observation_end, "D")
    grid = np.arange(start + np.timedelta64(7, "D"), end + np.timedelta64(7, "D"), 7)
    grid = np.minimum(grid, end)
    days, n_first = np.unique(first, return_counts=True)
    unit = 7.0 if summary.time_unit == "week" else 1.0
    # age of each first-purchase day at each grid date (days x grid), in model units
    age = (grid[None, :] - days[:, None]).astype(float) / unit
    expected = model.expected_purchases(np.clip(age, 0.0, None))
    predicted = (n_first[:, None] * expected).sum(axis=0)
    out = pd.DataFrame({"date": pd.to_datetime(grid), "predicted": predicted})
    cal_end = np.datetime64(summary.calibration_end, "D")
    out["period"] = np.where(grid <= cal_end, "calibration", "holdout")
    if actual is not None and len(actual):
        d = actual["date"].to_numpy().astype("datetime64[D]")
        order = np.argsort(d)
        cum = np.cumsum(actual["purchases"].to_numpy(dtype=float)[order])
        idx = np.searchsorted(d[order], grid, side="right")
        out["actual"] = np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)
    else:
        out["actual"] = np.nan
    return out[["date", "actual", "predicted", "period"]]


def repeat_purchases_by_date(
    con: duckdb.DuckDBPyConnection,
    source: str,
    group_by: str,
    calibration_end: dt.date,
    observation_end: dt.date,
) -> pd.DataFrame:
    """Repeat purchase periods per day of calibration customers (SQL on ``source``)."""
    sql = f"""
    WITH per AS (
        SELECT customer_id, date_trunc('{group_by}', ts)::DATE AS period
        FROM {source} WHERE ts::DATE <= $obs GROUP BY ALL
    ), f AS (
        SELECT customer_id, min(period) AS first FROM per GROUP BY 1
        HAVING min(period) <= $cal
    )
    SELECT period AS date, count(*)::DOUBLE AS purchases
    FROM per JOIN f USING (customer_id) WHERE period > first GROUP BY 1 ORDER BY 1
    """
    return con.execute(sql, {"obs": observation_end, "cal": calibration_end}).df()


@dataclass(frozen=True)
class Cohorts:
    """Monthly acquisition cohorts.

    Attributes
    ----------
    table : DataFrame
        Long format: ``cohort`` (month of first purchase), ``age`` (months since),
        ``customers`` active, ``revenue``, ``customer_retention`` and
        ``revenue_retention`` (shares of month 0).
    monthly_active_retention : float
        Share of customers active in one month who are active the next, pooled over
        all complete months (NaN without two complete months).
    """

    table: pd.DataFrame
    monthly_active_retention: float

    def customer_matrix(self) -> pd.DataFrame:
        return self.table.pivot(index="cohort", columns="age", values="customer_retention")

    def revenue_matrix(self) -> pd.DataFrame:
        return self.table.pivot(index="cohort", columns="age", values="revenue_retention")


def monthly_cohorts(
    con: duckdb.DuckDBPyConnection, source: str, observation_end: dt.date
) -> Cohorts:
    """Customer and revenue retention by monthly acquisition cohort (SQL on ``source``).

    ``source`` has ``customer_id, ts, amount``. The month of ``observation_end`` counts
    only if it is complete for the active-retention figure.
    """
    sql = f"""
    WITH m AS (
        SELECT customer_id, date_trunc('month', ts)::DATE AS month, sum(amount) AS revenue
        FROM {source} WHERE ts::DATE <= $end GROUP BY ALL
    ), c AS (SELECT customer_id, min(month) AS cohort FROM m GROUP BY 1),
    cells AS (
        SELECT cohort, date_diff('month', cohort, month) AS age,
               count(*) AS customers, sum(revenue)::DOUBLE AS revenue
        FROM m JOIN c USING (customer_id) GROUP BY ALL
    )
    SELECT cohort, age, customers, revenue,
           customers / first_value(customers) OVER w AS customer_retention,
           CASE WHEN first_value(revenue) OVER w > 0
                THEN revenue / first_value(revenue) OVER w ELSE 0 END
               AS revenue_retention
    FROM cells
    WINDOW w AS (PARTITION BY cohort ORDER BY age
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ORDER BY cohort, age
    """
    table = con.execute(sql, {"end": observation_end}).df()
    last_full = (pd.Timestamp(observation_end) + pd.Timedelta(days=1)).to_period("M").start_time
    ret = con.execute(
        f"""
        WITH m AS (SELECT DISTINCT customer_id, date_trunc('month', ts)::DATE AS month
                   FROM {source} WHERE ts < $full)
        SELECT count(*)::DOUBLE, count(n.customer_id)::DOUBLE
        FROM m LEFT JOIN m n ON n.customer_id = m.customer_id
                            AND n.month = m.month + INTERVAL 1 MONTH
        WHERE m.month + INTERVAL 1 MONTH < $full
        """,
        {"full": last_full.to_pydatetime()},
    ).fetchall()[0]
    active, kept = ret
    table["cohort"] = pd.to_datetime(table["cohort"])
    table["age"] = table["age"].astype(np.int64)
    table["customers"] = table["customers"].astype(np.int64)
    # NaN, not 0, when no complete pair of months exists: nothing was measured
    rate = float(kept / active) if active else float("nan")
    return Cohorts(table=table, monthly_active_retention=rate)
