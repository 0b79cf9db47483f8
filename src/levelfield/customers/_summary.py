"""Per-customer recency/frequency/age/value summaries, computed in DuckDB.

Definitions follow Fader & Hardie and are identical to
``lifetimes.utils.summary_data_from_transaction_data``: purchases are grouped into periods
(day or week; weeks start on Monday like pandas' ``W`` periods), several purchases in one
period count as one purchase of their summed value, and

* ``frequency`` = number of periods with a purchase, minus one (repeat purchases);
* ``recency`` = time from the first to the last purchase period;
* ``T`` = time from the first purchase period to the observation end's period;
* ``monetary_value`` = mean value of the repeat purchase periods (0 without repeats).

Times are in ``time_unit`` (days, or weeks = days / 7).
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from levelfield.errors import (
    ConfigError,
    DataQualityWarning,
    InsufficientDataError,
    SchemaError,
)

__all__ = [
    "CustomerSummary",
    "summarize_transactions",
    "summarize_workspace",
    "workspace_purchases_sql",
]

TimeUnit = Literal["day", "week"]
_UNIT_DAYS = {"day": 1.0, "week": 7.0}
Array = NDArray[np.float64]


@dataclass(frozen=True)
class CustomerSummary:
    """One row per customer: the inputs of the BG/NBD, Pareto/NBD and Gamma-Gamma models.

    Attributes
    ----------
    customer_id : ndarray of str
    frequency, recency, T : ndarray
        Repeat purchases, time from first to last purchase, time from first purchase to
        ``observation_end`` (in ``time_unit``).
    monetary_value : ndarray
        Mean value of repeat purchases (currency; 0 without repeats).
    first_purchase : ndarray of datetime64[D]
    total_value : ndarray
        Sum of all purchase values up to ``observation_end`` (currency).
    frequency_holdout, monetary_value_holdout : ndarray or None
        Purchases (periods) and their mean value after ``calibration_end``.
    duration_holdout : float
        Length of the holdout period in ``time_unit`` (0 without holdout).
    n_guest_orders : int
        Orders without a customer id, excluded.
    n_refund_only_customers : int
        Customers whose every order was refunded (net value <= 0), excluded.
    """

    customer_id: NDArray[Any]
    frequency: Array
    recency: Array
    T: Array
    monetary_value: Array
    first_purchase: NDArray[np.datetime64]
    total_value: Array
    time_unit: TimeUnit
    group_by: TimeUnit
    observation_end: dt.date
    calibration_end: dt.date | None = None
    frequency_holdout: Array | None = None
    monetary_value_holdout: Array | None = None
    duration_holdout: float = 0.0
    n_guest_orders: int = 0
    n_refund_only_customers: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def n_customers(self) -> int:
        return len(self.customer_id)

    def to_frame(self) -> pd.DataFrame:
        """The summary as a DataFrame indexed by ``customer_id``."""
        cols: dict[str, Any] = {
            "frequency": self.frequency,
            "recency": self.recency,
            "T": self.T,
            "monetary_value": self.monetary_value,
            "total_value": self.total_value,
            "first_purchase": self.first_purchase,
        }
        if self.frequency_holdout is not None:
            cols["frequency_holdout"] = self.frequency_holdout
            cols["monetary_value_holdout"] = self.monetary_value_holdout
            cols["duration_holdout"] = np.full(self.n_customers, self.duration_holdout)
        return pd.DataFrame(cols, index=pd.Index(self.customer_id, name="customer_id"))


@functools.cache
def _scratch_database() -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB in which frames are summarized, one cursor per call.

    Opened on first use and kept: opening a database costs 50-500 ms (its catalog is
    built each time), a cursor on it next to nothing. A cursor is its own connection, so
    the registered frame and temp views vanish when it is closed, and threads do not
    share state.
    """
    return duckdb.connect(":memory:")


def _check_unit(name: str, value: object) -> TimeUnit:
    if value not in _UNIT_DAYS:
        raise ConfigError(f"{name} must be 'day' or 'week', not {value!r}")
    return value  # type: ignore[return-value]


def _as_date(name: str, value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError as exc:
            raise ConfigError(f"{name} must be a date like 2024-06-30, not {value!r}") from exc
    raise ConfigError(f"{name} must be a date like 2024-06-30, not {value!r}")


def _check_window(
    first_day: dt.date, last_day: dt.date, obs_end: dt.date, calibration_end: dt.date | None
) -> str | None:
    """Check the observation and calibration ends against the data's first and last
    purchase; a note (None when fine) when the observation ends after the last purchase.

    Raises :class:`ConfigError` when the observation ends before the first purchase or
    the calibration end leaves no holdout or lies before the data.
    """
    if obs_end < first_day:
        raise ConfigError(
            f"observation_end {obs_end} is before the first purchase ({first_day}); "
            "choose a later date"
        )
    if calibration_end is not None:
        if calibration_end >= obs_end:
            raise ConfigError(
                f"the holdout starts after the data end: calibration_end {calibration_end} "
                f"is not before the observation end {obs_end} (last purchase "
                f"{last_day}); choose a calibration_end earlier than {obs_end}"
            )
        if calibration_end < first_day:
            raise ConfigError(
                f"calibration_end {calibration_end} is before the first purchase "
                f"({first_day}); choose a date inside the data"
            )
    if obs_end > last_day:
        return (
            f"observation_end {obs_end} is after the last purchase ({last_day}); "
            "customers look older and less active than the data can show"
        )
    return None


def _summary_sql(
    source: str,
    *,
    time_unit: TimeUnit,
    group_by: TimeUnit,
    obs_end: dt.date,
    calibration_end: dt.date | None,
) -> tuple[str, dict[str, object]]:
    """The one-scan SQL of the summary over ``source`` and its parameters.

    Periods are truncated to their start, as pandas' ``to_period(freq).to_timestamp()``.
    The date filters are turned into timestamp bounds here, once, so that the scan
    compares raw timestamps instead of truncating every row.
    """
    grp = group_by
    unit = _UNIT_DAYS[time_unit]
    fit_end = calibration_end or obs_end
    one_day = dt.timedelta(days=1)
    if calibration_end is None:
        # every purchase in a period up to the observation end's period counts
        end_cut = _period_start(obs_end, grp) + (7 if grp == "week" else 1) * one_day
        cal_key, in_cal, having = "", "", ""
        holdout = "0 AS frequency_holdout, NULL::DOUBLE AS monetary_value_holdout"
    else:
        # split on dates, as lifetimes' calibration_and_holdout_data: calibration
        # purchases are on or before calibration_end, holdout purchases after it
        end_cut = obs_end + one_day
        cal_key, in_cal = ", ts < $cal_cut AS cal", " FILTER (WHERE cal)"
        having = "HAVING count(*) FILTER (WHERE cal) > 0"
        holdout = """count(*) FILTER (WHERE NOT cal) AS frequency_holdout,
               avg(amount) FILTER (WHERE NOT cal) AS monetary_value_holdout"""
    period = "ts::DATE" if grp == "day" else "date_trunc('week', ts)::DATE"
    # One scan of the source, one GROUP BY (customer, period[, calibration?]) and one
    # GROUP BY customer. The mean repeat value is (all periods - first period) / repeats;
    # the first period's value comes from arg_min, so no window or join is needed.
    sql = f"""
    WITH per AS (
        SELECT customer_id, {period} AS period{cal_key}, sum(amount) AS amount
        FROM {source} WHERE ts < $end_cut
        GROUP BY ALL
    ),
    cust AS (
        SELECT customer_id,
               count(*){in_cal} AS n_periods,
               min(period){in_cal} AS first_period,
               max(period){in_cal} AS last_period,
               sum(amount){in_cal} AS total_value,
               arg_min(amount, period){in_cal} AS first_value,
               {holdout}
        FROM per
        GROUP BY customer_id
        {having}
    )
    SELECT customer_id::VARCHAR AS customer_id,
           (n_periods - 1)::DOUBLE AS frequency,
           (last_period - first_period) / {unit} AS recency,
           ($fit_period::DATE - first_period) / {unit} AS T,
           CASE WHEN n_periods > 1 THEN (total_value - first_value) / (n_periods - 1)
                ELSE 0.0 END AS monetary_value,
           first_period AS first_purchase, total_value,
           frequency_holdout::DOUBLE AS frequency_holdout,
           coalesce(monetary_value_holdout, 0.0) AS monetary_value_holdout
    FROM cust
    ORDER BY cust.customer_id
    """
    params: dict[str, object] = {
        "end_cut": dt.datetime.combine(end_cut, dt.time()),
        "fit_period": _period_start(fit_end, grp),
    }
    if calibration_end is not None:
        params["cal_cut"] = dt.datetime.combine(fit_end + one_day, dt.time())
    return sql, params


def _holdout_duration(
    obs_end: dt.date, calibration_end: dt.date | None, time_unit: TimeUnit, group_by: TimeUnit
) -> float:
    """Length of the holdout in ``time_unit`` (0 without one), from period starts.

    Examples
    --------
    >>> _holdout_duration(dt.date(2024, 3, 31), dt.date(2024, 3, 3), "week", "day")
    4.0
    """
    if calibration_end is None:
        return 0.0
    days = (
        pd.Timestamp(obs_end).to_period(_PANDAS_FREQ[group_by]).start_time
        - pd.Timestamp(calibration_end).to_period(_PANDAS_FREQ[group_by]).start_time
    ).days
    return float(days / _UNIT_DAYS[time_unit])


def _summarize(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    time_unit: TimeUnit,
    group_by: TimeUnit,
    observation_end: dt.date | None,
    calibration_end: dt.date | None,
    n_guest_orders: int = 0,
    n_refund_only: int = 0,
    notes: tuple[str, ...] = (),
    span: tuple[Any, Any, int] | None = None,
) -> CustomerSummary:
    """Summaries from ``source``: a relation with ``customer_id, ts, amount`` columns.

    ``span`` is ``(first day, last day, rows)`` of ``source`` when the caller has it.
    Stages: check the window (:func:`_check_window`), one scan (:func:`_summary_sql`),
    the holdout's length (:func:`_holdout_duration`).
    """
    if span is None:
        sql_span = f"SELECT min(ts)::DATE, max(ts)::DATE, count(*) FROM {source}"
        span = con.execute(sql_span).fetchall()[0]
    first_day, last_day, n_rows = span
    if not n_rows:
        raise InsufficientDataError(
            "no purchases with a customer id to summarize; import orders that carry "
            "customer ids (guest checkouts cannot be followed over time)"
        )
    obs_end = observation_end or last_day
    note_list = list(notes)
    late = _check_window(first_day, last_day, obs_end, calibration_end)
    if late is not None:
        if calibration_end is not None:
            warnings.warn(late, DataQualityWarning, stacklevel=3)
        note_list.append(late)
    sql, params = _summary_sql(
        source,
        time_unit=time_unit,
        group_by=group_by,
        obs_end=obs_end,
        calibration_end=calibration_end,
    )
    res = con.execute(sql, params).fetchnumpy()
    if len(res["customer_id"]) == 0:
        raise InsufficientDataError(
            f"no customer bought on or before {calibration_end or obs_end}; "
            "choose a later calibration_end"
        )

    def f64(name: str) -> Array:
        return np.asarray(res[name], dtype=np.float64)

    return CustomerSummary(
        customer_id=np.asarray(res["customer_id"], dtype=object),
        frequency=f64("frequency"),
        recency=f64("recency"),
        T=f64("T"),
        monetary_value=f64("monetary_value"),
        first_purchase=np.asarray(res["first_purchase"]).astype("datetime64[D]"),
        total_value=f64("total_value"),
        time_unit=time_unit,
        group_by=group_by,
        observation_end=obs_end,
        calibration_end=calibration_end,
        frequency_holdout=f64("frequency_holdout") if calibration_end else None,
        monetary_value_holdout=f64("monetary_value_holdout") if calibration_end else None,
        duration_holdout=_holdout_duration(obs_end, calibration_end, time_unit, group_by),
        n_guest_orders=n_guest_orders,
        n_refund_only_customers=n_refund_only,
        notes=tuple(note_list),
    )


_PANDAS_FREQ = {"day": "D", "week": "W"}


def _period_start(day: dt.date, group_by: TimeUnit) -> dt.date:
    """First day of the period holding ``day`` (weeks start on Monday)."""
    return day - dt.timedelta(days=day.weekday()) if group_by == "week" else day


def _check_columns(data: Any, names: Sequence[str | None]) -> None:
    """Raise unless ``data`` is a pandas DataFrame or Arrow table holding every named
    column (``None`` names are skipped)."""
    if isinstance(data, pd.DataFrame):
        columns = [str(c) for c in data.columns]
    elif hasattr(data, "column_names"):
        columns = [str(c) for c in data.column_names]
    else:
        raise ConfigError(
            f"data must be a pandas DataFrame or an Arrow table, not {type(data).__name__}"
        )
    for col in names:
        if col is not None and col not in columns:
            raise SchemaError(
                f"column {col!r} not found in the transactions "
                f"(columns: {', '.join(map(str, columns))})"
            )


def _scan_transactions(
    con: duckdb.DuckDBPyConnection,
    data: Any,
    customer_id: str,
    datetime: str,
    monetary_value: str | None,
) -> tuple[int, int, Any, Any, int]:
    """Create the ``_lf_all`` view of valid purchases over ``data`` and count, in one
    pass: guest rows (no customer id), rows without a date or amount, and the first
    day, last day and number of the valid rows.

    The frame or Arrow table is scanned in place (no copy into DuckDB): a view names
    the columns, and each query is one pass over the input.
    """
    con.register("_lf_src", data)
    amount = f'CAST("{monetary_value}" AS DOUBLE)' if monetary_value else "1.0"
    con.execute(
        f"""CREATE TEMP VIEW _lf_raw AS SELECT "{customer_id}" AS customer_id,
            CAST("{datetime}" AS TIMESTAMP) AS ts, {amount} AS amount FROM _lf_src"""
    )
    valid = "ts IS NOT NULL AND amount IS NOT NULL AND NOT isnan(amount)"
    con.execute(
        f"CREATE TEMP VIEW _lf_all AS SELECT * FROM _lf_raw "
        f"WHERE customer_id IS NOT NULL AND {valid}"
    )
    guests, bad, first_day, last_day, n_rows = con.execute(
        f"""SELECT count(*) FILTER (WHERE customer_id IS NULL),
                   count(*) FILTER (WHERE customer_id IS NOT NULL AND NOT ({valid})),
                   min(ts) FILTER (WHERE ok)::DATE, max(ts) FILTER (WHERE ok)::DATE,
                   count(*) FILTER (WHERE ok)
            FROM (SELECT *, customer_id IS NOT NULL AND {valid} AS ok FROM _lf_raw)"""
    ).fetchall()[0]
    return int(guests), int(bad), first_day, last_day, int(n_rows)


def summarize_transactions(
    data: Any,
    customer_id: str = "customer_id",
    datetime: str = "date",
    monetary_value: str | None = None,
    *,
    time_unit: TimeUnit = "day",
    group_by: TimeUnit | None = None,
    observation_end: dt.date | str | None = None,
    calibration_end: dt.date | str | None = None,
) -> CustomerSummary:
    """Per-customer summary of a transaction table (pandas DataFrame or Arrow table).

    Parameters
    ----------
    data
        One row per transaction.
    customer_id, datetime, monetary_value
        Column names. Without ``monetary_value`` every purchase counts as value 1 and
        ``monetary_value`` in the result is 0/1.
    time_unit
        Unit of ``recency`` and ``T``: ``"day"`` or ``"week"`` (days / 7).
    group_by
        Period in which purchases are merged (default: ``time_unit``). ``"day"`` with
        ``time_unit="week"`` is lifetimes' ``freq="D", freq_multiplier=7`` (the CDNOW
        convention); ``"week"`` is ``freq="W"``.
    observation_end
        End of observation (default: the last purchase date).
    calibration_end
        When given, models see purchases up to this date; later purchases are counted
        in ``frequency_holdout``.

    Returns
    -------
    CustomerSummary

    Raises
    ------
    SchemaError
        A named column is missing.
    InsufficientDataError
        No transactions with a customer id.
    ConfigError
        Bad unit, or a calibration end that leaves no holdout.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "a"],
    ...     "date": ["2024-01-01", "2024-01-10", "2024-01-05", "2024-02-01"],
    ... })
    >>> s = summarize_transactions(orders, observation_end="2024-03-01")
    >>> s.to_frame()[["frequency", "recency", "T"]]
                 frequency  recency     T
    customer_id
    a                  2.0     31.0  60.0
    b                  0.0      0.0  56.0
    """
    unit = _check_unit("time_unit", time_unit)
    grp = _check_unit("group_by", group_by or time_unit)
    _check_columns(data, (customer_id, datetime, monetary_value))
    con = _scratch_database().cursor()
    try:
        guests, bad, first_day, last_day, n_rows = _scan_transactions(
            con, data, customer_id, datetime, monetary_value
        )
        notes: tuple[str, ...] = ()
        if bad:
            notes = (f"{bad:,} transaction(s) without a date or amount were skipped",)
            warnings.warn(notes[0], DataQualityWarning, stacklevel=2)
        return _summarize(
            con,
            "_lf_all",
            time_unit=unit,
            group_by=grp,
            observation_end=_as_date("observation_end", observation_end),
            calibration_end=_as_date("calibration_end", calibration_end),
            n_guest_orders=int(guests),
            notes=notes,
            span=(first_day, last_day, int(n_rows)),
        )
    except duckdb.ConversionException as exc:
        raise SchemaError(
            f"column {datetime!r} or {monetary_value!r} could not be read as a date or "
            f"number: {exc}"
        ) from exc
    finally:
        con.close()


def workspace_purchases_sql(currency: str) -> str:
    """SQL of a purchase relation (``customer_id, ts, amount, order_id, channel``).

    Built from the ``order_revenue`` view in one currency: in the base currency every
    order with a rate counts at its base amount (``net_revenue_base``); in another
    currency only that currency's orders count, at their own amounts. Refund rows linked to an order
    (``refund_of``) are netted into it; unlinked refund rows are netted into the same
    customer's latest order at or before the refund (an ASOF join). Orders whose net value
    is zero or less after refunds are not purchases. Guest orders (no customer id) are
    left out.
    """
    cur = currency.replace("'", "''")
    return f"""
    WITH bc AS (SELECT currency = '{cur}' AS is_base FROM base_currency),
    o AS (
        SELECT order_id, customer_id, ordered_at, channel,
               CAST(CASE WHEN bc.is_base THEN net_revenue_base ELSE net_revenue END AS DOUBLE)
                   AS net,
               is_refund, refund_of
        FROM order_revenue CROSS JOIN bc
        WHERE customer_id IS NOT NULL
          AND (CASE WHEN bc.is_base THEN fx_rate IS NOT NULL ELSE currency = '{cur}' END)
    ),
    base AS (SELECT * FROM o WHERE NOT is_refund),
    linked AS (
        SELECT r.refund_of AS order_id, sum(r.net) AS adj
        FROM o r SEMI JOIN base b ON r.refund_of = b.order_id
        WHERE r.is_refund GROUP BY 1
    ),
    unlinked AS (
        SELECT b.order_id, sum(u.net) AS adj
        FROM (SELECT * FROM o r WHERE r.is_refund
              AND (r.refund_of IS NULL OR r.refund_of NOT IN (SELECT order_id FROM base))) u
        ASOF JOIN base b ON u.customer_id = b.customer_id AND u.ordered_at >= b.ordered_at
        GROUP BY 1
    )
    SELECT b.customer_id, b.ordered_at AS ts,
           b.net + coalesce(l.adj, 0) + coalesce(u.adj, 0) AS amount,
           b.order_id, b.channel
    FROM base b
    LEFT JOIN linked l USING (order_id)
    LEFT JOIN unlinked u USING (order_id)
    """


def summarize_workspace(
    ws: Any,
    *,
    time_unit: TimeUnit = "week",
    group_by: TimeUnit = "day",
    observation_end: dt.date | str | None = None,
    calibration_end: dt.date | str | None = None,
    currency: str | None = None,
) -> CustomerSummary:
    """Per-customer summary from a workspace's orders (refunds netted, guests excluded).

    Parameters
    ----------
    ws
        An open :class:`levelfield.workspace.Workspace`.
    time_unit, group_by, observation_end, calibration_end
        As for :func:`summarize_transactions`.
    currency
        Orders in this currency are used (default: the business currency); orders in
        other currencies are left out and counted in ``notes``.

    Raises
    ------
    InsufficientDataError
        No orders with a customer id.
    """
    unit = _check_unit("time_unit", time_unit)
    grp = _check_unit("group_by", group_by)
    cur = currency or ws.currency()
    con = ws.cursor()
    try:
        counts = con.execute(
            """SELECT count(*) FILTER (WHERE customer_id IS NULL AND currency = ?),
                       count(*) FILTER (WHERE CASE WHEN ? = (SELECT currency FROM base_currency)
                                              THEN fx_rate IS NULL ELSE currency <> ? END)
                FROM order_revenue""",
            [cur, cur, cur],
        ).fetchall()[0]
        n_guest, n_other = int(counts[0]), int(counts[1])
        con.execute(f"CREATE OR REPLACE TEMP VIEW _lf_purchases AS {workspace_purchases_sql(cur)}")
        con.execute(
            "CREATE OR REPLACE TEMP VIEW _lf_tx AS SELECT * FROM _lf_purchases WHERE amount > 0"
        )
        n_refund_only = int(
            con.execute(
                """SELECT count(*) FROM (SELECT customer_id FROM _lf_purchases GROUP BY 1
                   HAVING max(amount) <= 0)"""
            ).fetchall()[0][0]
        )
        notes: list[str] = []
        if n_guest:
            notes.append(f"{n_guest:,} guest order(s) without a customer id were left out")
        if n_refund_only:
            notes.append(
                f"{n_refund_only:,} customer(s) whose every order was refunded were left out"
            )
        if n_other:
            notes.append(f"{n_other:,} order(s) with no amount in {cur} were left out")
        return _summarize(
            con,
            "_lf_tx",
            time_unit=unit,
            group_by=grp,
            observation_end=_as_date("observation_end", observation_end),
            calibration_end=_as_date("calibration_end", calibration_end),
            n_guest_orders=n_guest,
            n_refund_only=n_refund_only,
            notes=tuple(notes),
        )
    finally:
        con.close()
