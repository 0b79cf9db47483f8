"""Per-business metrics of the fleet: the single-business kernels on one business's orders.

Nothing here knows about Spark: :func:`business_metrics` takes one business's rows of the
canonical ``orders`` table (a pandas frame) and returns its metric rows. Spark calls it per
business through ``groupBy("business_id").applyInPandas``; the benchmark's floor calls it
through ``multiprocessing``. The numbers come from the same kernels as
``levelfield.customers.analyze(ws, model="bgnbd", holdout=None)`` and
``levelfield.exposure.analyze(ws)``: :func:`levelfield.customers.summarize_transactions`,
the BG/NBD fit, :func:`levelfield.customers.assess_fit`,
:func:`levelfield.customers.model_monthly_retention` and the concentration kernels
:func:`levelfield.exposure.hhi` and :func:`levelfield.exposure.top_share`.
:func:`pricing_metrics` runs ``levelfield analyze pricing``'s weekly panel and elasticity
model on a connection holding one business's canonical tables.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from levelfield.customers import (
    BetaGeoModel,
    assess_fit,
    customer_lifetime_value,
    model_monthly_retention,
    spend_per_purchase,
    summarize_transactions,
)
from levelfield.customers._summary import _scratch_database
from levelfield.errors import InsufficientDataError, SchemaError
from levelfield.exposure import hhi, top_share
from levelfield.pricing import ElasticityModel, weekly_panel
from levelfield.workspace import SETTINGS

__all__ = [
    "CHANNEL_FEE_PREFIX",
    "FINDING_COLUMNS",
    "LINE_COLUMNS",
    "METRICS",
    "ORDER_COLUMNS",
    "REVENUE_VALUE_UNIT",
    "business_metrics",
    "metric_unit",
    "pricing_metrics",
    "safe_business_metrics",
]

#: Canonical ``orders`` columns the fleet reads (plus ``business_id``).
ORDER_COLUMNS: dict[str, str] = {
    "business_id": "string",
    "order_id": "string",
    "customer_id": "string",
    "ordered_at": "timestamp",
    "channel": "string",
    "currency": "string",
    "gross": "double",
    "discount": "double",
    "tax": "double",
    "shipping": "double",
    "fees": "double",
    "refunded": "double",
    "status": "string",
}

#: Canonical ``order_lines`` columns the fleet reads (plus ``business_id``); a fleet's
#: lines may also carry ``unit_cost`` (joined from its ``products``).
LINE_COLUMNS: dict[str, str] = {
    "business_id": "string",
    "order_id": "string",
    "line_no": "int",
    "sku": "string",
    "product": "string",
    "category": "string",
    "quantity": "double",
    "unit_price": "double",
    "list_price": "double",
    "discount": "double",
}

#: Metric ids (the same as ``findings()`` of the single-business analyses) and their units.
#: ``customers.value_per_customer`` is a profit value (margin from product costs or the
#: stated gross margin); where the margin is unknown it is a revenue value and its row's
#: unit is :data:`REVENUE_VALUE_UNIT` instead, so the two are never pooled.
METRICS: dict[str, str] = {
    "customers.repeat_rate": "share",
    "customers.monthly_retention": "share",
    "customers.value_per_customer": "currency",
    "pricing.median_elasticity": "elasticity",
    "exposure.customer_hhi": "index",
    "exposure.customer_top1_share": "share",
    "exposure.customer_top5_share": "share",
    "exposure.customer_top20pct_share": "share",
    "exposure.channel_hhi": "index",
    "exposure.fee_rate_max": "share",
    "exposure.fee_drag": "share",
    "exposure.platform_share_max": "share",
    "exposure.data_ownership_share": "share",
    "exposure.supplier_hhi": "index",
    "exposure.compliance_cost_share": "share",
    "exposure.compliance_cost": "currency",
}
#: Per-channel effective fee rate of a marketplace channel (``ExposureResult.channels``'s
#: ``fee_rate``): ``exposure.channel_fee_rate.<channel>``, a share.
CHANNEL_FEE_PREFIX = "exposure.channel_fee_rate."
#: Unit of ``customers.value_per_customer`` when the business's margin is unknown.
REVENUE_VALUE_UNIT = "currency (revenue value, margin unknown)"


def metric_unit(metric: str) -> str:
    """Unit of a fleet metric id ("share", "index"), or "" for an id the fleet does not know."""
    if metric.startswith(CHANNEL_FEE_PREFIX):
        return "share"
    return METRICS.get(metric, "")


#: Columns of a metric row (``fleet_findings`` adds ``run_fingerprint``).
FINDING_COLUMNS = ["business_id", "analysis", "metric", "value", "unit", "error"]

# Orders that are not revenue, as the workspace's ``order_revenue`` view defines them.
_NOT_REVENUE = ("failed", "voided", "cancelled", "pending")
_REFUND = ("refund", "return")
# The customer analysis's defaults (``customers.analyze``): weeks, days merged, 12 months.
_UNIT_DAYS = 7.0
_DAYS_PER_MONTH = 30.4375
_HORIZON_MONTHS = int(SETTINGS["customers.horizon_months"].default)
_ANNUAL_DISCOUNT = float(SETTINGS["customers.annual_discount_rate"].default)


def _revenue_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders counted as revenue, with ``revenue`` = gross - discount - refunded."""
    missing = [c for c in ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise SchemaError(f"orders lack the column(s) {', '.join(missing)}")
    rev = orders.loc[~orders["status"].isin(_NOT_REVENUE)].copy()
    rev["revenue"] = (
        rev["gross"].astype(float) - rev["discount"].astype(float) - rev["refunded"].astype(float)
    )
    rev["is_refund"] = rev["status"].isin(_REFUND) | (rev["gross"].astype(float) < 0)
    return rev


def customer_metrics(rev: pd.DataFrame, margin: float | None = None) -> dict[str, float]:
    """Repeat rate, model-based monthly retention (BG/NBD, in weeks, days merged) and the
    expected 12-month value of the average customer (Gamma-Gamma spend).

    The value is ``margin`` (gross margin, share 0-1) times the revenue value, as in
    ``customers.analyze``; with ``margin=None`` it is the revenue value (the caller labels
    it :data:`REVENUE_VALUE_UNIT`).
    """
    if margin is not None and not (np.isfinite(margin) and 0.0 < margin <= 1.0):
        raise InsufficientDataError(
            f"gross margin {margin!r} is not a share in (0, 1]: fix the business's gross_margin"
        )
    if bool(rev["is_refund"].any()):
        # Netting refund rows into earlier orders needs the workspace's ASOF rule; the fleet
        # states that instead of computing a different number.
        raise InsufficientDataError(
            "refund rows found: the fleet nets refunds only through the 'refunded' column; "
            "run this business through 'levelfield analyze' instead"
        )
    buy = rev.loc[rev["customer_id"].notna() & (rev["revenue"] > 0)]
    if buy.empty:
        raise InsufficientDataError(
            "no purchases with a customer id: the customer analysis needs customer ids"
        )
    _one_duckdb_thread()
    # DuckDB scans a three-column Arrow table in a third of the time of the whole frame
    cols = pa.Table.from_pandas(buy[["customer_id", "ordered_at", "revenue"]], preserve_index=False)
    summ = summarize_transactions(
        cols, "customer_id", "ordered_at", "revenue", time_unit="week", group_by="day"
    )
    if summ.n_customers == 0 or float(summ.T.max()) <= 0:
        raise InsufficientDataError("all orders fall on one day: repeat buying cannot be measured")
    if not (summ.frequency > 0).any():
        raise InsufficientDataError(f"none of the {summ.n_customers:,} customers bought twice")
    out = {"customers.repeat_rate": float((summ.frequency > 0).mean())}
    model = BetaGeoModel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weak fits are judged by assess_fit below
        model.fit(summ.frequency, summ.recency, summ.T)
    quality = assess_fit(model, "BG/NBD", summ.frequency, summ.T, _UNIT_DAYS, _HORIZON_MONTHS)
    _, spend = spend_per_purchase(summ, [])
    clv = customer_lifetime_value(
        model,
        summ.frequency,
        summ.recency,
        summ.T,
        spend,
        months=quality.horizon_months,
        annual_discount_rate=_ANNUAL_DISCOUNT,
        units_per_month=_DAYS_PER_MONTH / _UNIT_DAYS,
    )
    value = float(clv.sum()) / summ.n_customers
    out["customers.value_per_customer"] = value if margin is None else margin * value
    if quality.dropout_identified:
        out["customers.monthly_retention"] = model_monthly_retention(
            model, summ.frequency, summ.recency, summ.T, _DAYS_PER_MONTH / _UNIT_DAYS
        )
    return out


@functools.cache
def _one_duckdb_thread() -> None:
    """One DuckDB thread in this process, as one BLAS thread: the fleet runs one business
    per core (a Spark task, a pool worker), so more threads would only contend."""
    _scratch_database().execute("SET threads = 1")


def exposure_metrics(rev: pd.DataFrame) -> dict[str, float]:
    """Customer and channel revenue concentration (HHI 0-10,000, top shares 0-1)."""
    if rev.empty:
        raise InsufficientDataError("no orders counted as revenue")
    known = rev.loc[rev["customer_id"].notna()]
    per_customer = known.groupby("customer_id", sort=False)["revenue"].sum().to_numpy()
    per_channel = rev.groupby("channel", sort=False)["revenue"].sum().to_numpy()
    out = {
        "exposure.customer_hhi": hhi(per_customer),
        "exposure.customer_top1_share": top_share(per_customer, k=1),
        "exposure.customer_top5_share": top_share(per_customer, k=5),
        "exposure.customer_top20pct_share": top_share(per_customer, fraction=0.2),
        "exposure.channel_hhi": hhi(per_channel),
    }
    return {k: v for k, v in out.items() if np.isfinite(v)}


_ELASTICITY_PARAMS = (
    "estimator", "min_distinct_prices", "min_log_price_sd", "min_weeks", "stockout_probability",
    "outlier_threshold", "zero_share_for_ppml", "min_units_for_ols", "shrink",
)  # fmt: skip


def _elasticity_model() -> ElasticityModel:
    """The elasticity model with the defaults of ``levelfield analyze pricing``."""
    return ElasticityModel(**{k: SETTINGS[f"pricing.{k}"].default for k in _ELASTICITY_PARAMS})


def _can_learn_prices(con: Any, model: ElasticityModel) -> bool:
    """Whether some product could have an elasticity: a cheap necessary condition.

    A product-channel cell is estimated only with ``min_weeks`` selling weeks and
    ``min_distinct_prices`` posted prices; counted here over all lines with a positive
    quantity (a superset of the panel's lines, and a superset of its posted prices: a
    line's list price, else its product's, else its selling price), so a business this
    says no to would get no elasticity from the panel either, only later.
    """
    rows = con.execute(
        """
        SELECT count(*) FROM (
            SELECT 1 FROM order_lines ol JOIN orders o ON o.order_id = ol.order_id
            LEFT JOIN products p ON p.sku = ol.sku
            WHERE ol.quantity > 0 AND coalesce(ol.sku, ol.product) IS NOT NULL
            GROUP BY coalesce(ol.sku, ol.product), o.channel, o.currency
            HAVING count(DISTINCT date_trunc('week', o.ordered_at)) >= ?
               AND count(DISTINCT coalesce(ol.list_price, p.list_price, ol.unit_price)) >= ?)
        """,
        [int(model.min_weeks), int(model.min_distinct_prices)],
    ).fetchall()
    return bool(rows[0][0])


def pricing_metrics(con: Any) -> dict[str, float]:
    """Median product price elasticity, as ``levelfield analyze pricing`` finds it.

    ``con`` holds the business's canonical ``order_lines``, ``orders``, ``products`` and
    the ``base_currency`` view (a workspace's connection). The weekly panel
    (:func:`levelfield.pricing.weekly_panel`) and the elasticity model
    (:class:`levelfield.pricing.ElasticityModel`, the pricing settings' defaults) are the
    single-business analysis's own, and the number is
    :meth:`levelfield.pricing.PricingResult.median_elasticity` of its ``findings()``
    (``pricing.median_elasticity``). No lines, no product whose posted price moved enough,
    or a pooled elasticity that cannot be estimated: no value (an empty dict), never 0.
    """
    model = _elasticity_model()
    if not _can_learn_prices(con, model):
        return {}
    wholesale = SETTINGS["pricing.wholesale_channels"].default
    pdata = weekly_panel(
        con,
        promo_threshold=float(SETTINGS["pricing.promo_threshold"].default),
        exclude_channels=tuple(wholesale),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # thin panels are reported by the missing value
        model.fit(pdata.panel)
    if not np.isfinite(model.pooled_.elasticity):
        return {}  # 'analyze pricing' stops here with InsufficientDataError
    estimated = model.elasticities_.loc[model.elasticities_["status"] == "estimated"]
    if estimated.empty:
        return {}
    return {"pricing.median_elasticity": float(estimated["elasticity"].median())}


_ANALYSES: dict[str, Callable[[pd.DataFrame], dict[str, float]]] = {
    "customers": customer_metrics,
    "exposure": exposure_metrics,
}


def business_metrics(orders: pd.DataFrame) -> pd.DataFrame:
    """Metric rows of one business; an analysis that cannot run becomes one error row.

    Parameters
    ----------
    orders
        One business's rows of the canonical ``orders`` table, with ``business_id``.

    Returns
    -------
    DataFrame with :data:`FINDING_COLUMNS`: one row per metric, or per failed analysis a
    row with metric ``"<analysis>.error"``, NaN value, unit ``"error"`` and the message.
    """
    bid = str(orders["business_id"].iloc[0]) if len(orders) else ""
    rows: list[tuple[str, str, str, float, str, str | None]] = []
    rev = _revenue_orders(orders)
    for analysis, kernel in _ANALYSES.items():  # two analyses, not rows
        try:
            values = kernel(rev)
        except Exception as exc:  # one business's failure must not fail the fleet
            rows.append((bid, analysis, f"{analysis}.error", np.nan, "error", _message(exc)))
            continue
        rows.extend((bid, analysis, m, float(v), METRICS[m], None) for m, v in values.items())
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def safe_business_metrics(orders: pd.DataFrame) -> pd.DataFrame:
    """:func:`business_metrics`, with a bad frame (missing columns) as an error row too."""
    try:
        return business_metrics(orders)
    except Exception as exc:  # the batch boundary: report, never fail the job
        bid = str(orders["business_id"].iloc[0]) if "business_id" in orders and len(orders) else ""
        return pd.DataFrame(
            [(bid, "fleet", "fleet.error", np.nan, "error", _message(exc))],
            columns=FINDING_COLUMNS,
        )


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
