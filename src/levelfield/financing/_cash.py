"""13-week cash forecast with scenario bands, the cash-low week and a backtest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from levelfield.financing._sales import sales_futures

__all__ = ["CashForecast", "backtest_mape", "cash_forecast"]

FloatArray = NDArray[np.float64]

WEEKS = 13


@dataclass(frozen=True)
class CashForecast:
    """Weekly cash over the next 13 weeks: receipts, payments and closing cash bands.

    ``cash_p10``/``cash_p50``/``cash_p90`` are closing balances (currency) per week;
    ``cash_low_week`` is the first week (1-based) whose P10 balance is below ``buffer``,
    ``None`` when none is.
    """

    receipts_p50: FloatArray
    payments: FloatArray
    cash_p10: FloatArray
    cash_p50: FloatArray
    cash_p90: FloatArray
    opening_cash: float
    buffer: float
    cash_low_week: int | None


def cash_forecast(
    history: FloatArray,
    weekly_costs: float,
    opening_cash: float,
    *,
    debt_service: FloatArray | None = None,
    buffer: float | None = None,
    n_futures: int = 2_000,
    seed: int | None = 0,
) -> CashForecast:
    """Cash over the next 13 weeks under simulated sales.

    Parameters
    ----------
    history
        Past weekly net sales (currency), oldest first.
    weekly_costs
        Payments per week for costs (currency; from the ``costs`` table).
    opening_cash
        Cash at the start (currency).
    debt_service
        Extra payments per week (13,) for debt, e.g. an offer being considered.
    buffer
        Lowest comfortable balance; default two weeks of payments.
    """
    receipts = sales_futures(history, WEEKS, n_futures, seed=seed)
    pay = np.full(WEEKS, float(weekly_costs))
    if debt_service is not None:
        pay = pay + np.asarray(debt_service, dtype=np.float64)[:WEEKS]
    cash = opening_cash + np.cumsum(receipts - pay[None, :], axis=1)
    p10, p50, p90 = np.percentile(cash, [10, 50, 90], axis=0)
    buf = float(2.0 * pay.mean()) if buffer is None else float(buffer)
    below = np.flatnonzero(p10 < buf)
    return CashForecast(
        np.median(receipts, axis=0),
        pay,
        p10,
        p50,
        p90,
        float(opening_cash),
        buf,
        int(below[0]) + 1 if below.size else None,
    )


def backtest_mape(
    history: FloatArray, *, n_futures: int = 500, seed: int | None = 0
) -> float | None:
    """Mean absolute percentage error of the median receipts forecast on the last 13 weeks.

    The forecast is made from the weeks before them only; weeks with no sales are left
    out of the mean. ``None`` when there are fewer than 26 + 13 weeks.
    """
    hist = np.asarray(history, dtype=np.float64)
    if hist.size < 26 + WEEKS:
        return None
    past, actual = hist[:-WEEKS], hist[-WEEKS:]
    forecast = np.median(sales_futures(past, WEEKS, n_futures, seed=seed), axis=0)
    ok = actual > 0
    if not ok.any():
        return None
    return float(np.mean(np.abs(forecast[ok] - actual[ok]) / actual[ok]))
