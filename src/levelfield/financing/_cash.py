"""13-week cash forecast with scenario bands, the cash-low week, its drivers and a backtest.

Cash in week ``w`` of one simulated future::

    receipts(w)  = simulated weekly sales (seasonal bootstrap, see ``_sales``)
    payments(w)  = operating costs(w) + variable share * receipts(w)
                   + debt service(w) + payables due(w)
    cash(w)      = opening cash + sum over weeks <= w of (receipts - payments)

The variable share is the cost of goods (products' unit costs) plus recorded platform and
payment fees, as a share of sales; payables are one-off amounts due on a known date.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from levelfield.errors import DataError
from levelfield.financing._sales import sales_futures

__all__ = ["CashForecast", "backtest_mape", "cash_forecast", "cash_tornado"]

FloatArray = NDArray[np.float64]

WEEKS = 13
#: Relative swing of the operating costs, the variable share and the payables in the
#: tornado (an assumption shown with the chart: recorded costs are rarely off by more).
COST_SWING = 0.10
#: Points of interest-rate swing on existing debt in the tornado.
RATE_SWING = 0.02


@dataclass(frozen=True)
class CashForecast:
    """Weekly cash over the next 13 weeks: receipts, payments and closing cash bands.

    Money in currency per week, arrays of length 13. ``cash_p10``/``cash_p50``/``cash_p90``
    are closing balances; ``cash_low_week`` is the first week (1-based) whose P10 balance
    is below ``buffer``, ``None`` when none is; ``lowest_week`` is the week of the lowest
    median balance. ``payments`` is the median total paid out per week, made of
    ``operating`` (recorded costs), ``variable_p50`` (cost of goods and fees),
    ``debt_service`` (existing debt) and ``payables`` (one-off amounts due).
    """

    receipts_p50: FloatArray
    payments: FloatArray
    cash_p10: FloatArray
    cash_p50: FloatArray
    cash_p90: FloatArray
    opening_cash: float
    buffer: float
    cash_low_week: int | None
    operating: FloatArray = field(default_factory=lambda: np.zeros(WEEKS))
    variable_p50: FloatArray = field(default_factory=lambda: np.zeros(WEEKS))
    debt_service: FloatArray = field(default_factory=lambda: np.zeros(WEEKS))
    payables: FloatArray = field(default_factory=lambda: np.zeros(WEEKS))
    variable_share: float = 0.0
    receipts_paths: FloatArray = field(default_factory=lambda: np.zeros((1, WEEKS)), repr=False)

    @property
    def lowest_week(self) -> int:
        """Week (1-based) of the lowest median closing balance."""
        return int(np.argmin(self.cash_p50)) + 1

    def fixed_payments(self) -> FloatArray:
        """Payments that do not follow sales, per week."""
        return np.asarray(self.operating + self.debt_service + self.payables, dtype=np.float64)

    def with_credit(self, inflow: float, payments: FloatArray) -> tuple[FloatArray, int | None]:
        """P10 closing cash and the first week below the buffer when credit is taken.

        ``inflow`` reaches the business in week 1; ``payments`` is ``(futures, 13)`` or
        ``(1, 13)`` (currency per week, aligned with :attr:`receipts_paths`).
        """
        cash = self._paths() + inflow - np.cumsum(np.asarray(payments), axis=-1)
        p10 = np.percentile(cash, 10, axis=0)
        below = np.flatnonzero(p10 < self.buffer)
        return p10, (int(below[0]) + 1 if below.size else None)

    def _paths(self) -> FloatArray:
        net = self.receipts_paths * (1.0 - self.variable_share) - self.fixed_payments()[None, :]
        return np.asarray(self.opening_cash + np.cumsum(net, axis=1), dtype=np.float64)


def _weekly(value: float | FloatArray | None, name: str) -> FloatArray:
    out = np.zeros(WEEKS) if value is None else np.broadcast_to(np.asarray(value, float), WEEKS)
    if not np.isfinite(out).all() or (out < 0).any():
        raise DataError(f"{name} must be finite, non-negative amounts per week")
    return np.array(out, dtype=np.float64)


def cash_forecast(
    history: FloatArray,
    weekly_costs: float | FloatArray,
    opening_cash: float,
    *,
    variable_share: float = 0.0,
    debt_service: FloatArray | None = None,
    payables: FloatArray | None = None,
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
        Operating payments per week (currency; from the ``costs`` table): one number or
        one per week.
    opening_cash
        Cash at the start (currency).
    variable_share
        Cost of goods and fees as a share of sales (0-1), paid the week of the sale.
    debt_service
        Payments per week (13,) on debt already owed.
    payables
        One-off amounts due per week (13,) (equipment, tax bills, supplier contracts).
    buffer
        Lowest comfortable balance; default two weeks of average payments.
    """
    if not 0.0 <= variable_share < 1.0:
        raise DataError(f"variable_share is a share of sales below 1, got {variable_share!r}")
    receipts = sales_futures(history, WEEKS, n_futures, seed=seed)
    operating = _weekly(weekly_costs, "weekly_costs")
    debt = _weekly(debt_service, "debt_service")
    due = _weekly(payables, "payables")
    variable_p50 = np.median(receipts, axis=0) * variable_share
    regular = operating + debt + variable_p50
    buf = float(2.0 * regular.mean()) if buffer is None else float(buffer)
    partial = CashForecast(
        np.median(receipts, axis=0),
        regular + due,
        np.zeros(WEEKS),
        np.zeros(WEEKS),
        np.zeros(WEEKS),
        float(opening_cash),
        buf,
        None,
        operating,
        variable_p50,
        debt,
        due,
        float(variable_share),
        receipts,
    )
    p10, p50, p90 = np.percentile(partial._paths(), [10, 50, 90], axis=0)
    below = np.flatnonzero(p10 < buf)
    return CashForecast(
        partial.receipts_p50,
        partial.payments,
        p10,
        p50,
        p90,
        partial.opening_cash,
        buf,
        int(below[0]) + 1 if below.size else None,
        operating,
        variable_p50,
        debt,
        due,
        float(variable_share),
        receipts,
    )


def cash_tornado(
    forecast: CashForecast, *, debt: float = 0.0, rate_swing: float = RATE_SWING
) -> pd.DataFrame:
    """What moves the cash low: the lowest median balance with one driver at a time moved.

    Sales move to the 10th and 90th percentile of the simulated 13-week totals; operating
    costs, the cost-of-goods-and-fees share and the payables by +/- :data:`COST_SWING`; the
    interest rate on ``debt`` by +/- ``rate_swing``. The other drivers stay at their median.
    Returns one row per driver (``low_case``/``high_case`` are the lowest balances when the
    driver is at its unfavourable/favourable end), sorted by swing.
    """
    c = forecast
    receipts = c.receipts_p50
    totals = c.receipts_paths.sum(axis=1)
    mid = max(float(np.median(totals)), 1e-9)
    lo_s, hi_s = (float(np.percentile(totals, q)) / mid for q in (10, 90))
    extra_interest = np.full(WEEKS, debt * rate_swing / 52.0)

    def low(
        scale_sales: float = 1.0, d_fixed: FloatArray | float = 0.0, share: float = 0.0
    ) -> float:
        sales = receipts * scale_sales
        net = sales * (1.0 - c.variable_share - share) - c.fixed_payments() - d_fixed
        return float(np.min(c.opening_cash + np.cumsum(net)))

    s = COST_SWING
    rows = [
        (
            "sales",
            f"P10-P90 of 13-week sales, {lo_s:.0%}-{hi_s:.0%} of the median",
            low(lo_s),
            low(hi_s),
        ),
        (
            "operating costs",
            f"+/-{s:.0%}",
            low(d_fixed=s * c.operating),
            low(d_fixed=-s * c.operating),
        ),
        (
            "cost of goods and fees",
            f"+/-{s:.0%} of {c.variable_share:.0%} of sales",
            low(share=s * c.variable_share),
            low(share=-s * c.variable_share),
        ),
        ("payables due", f"+/-{s:.0%}", low(d_fixed=s * c.payables), low(d_fixed=-s * c.payables)),
        (
            "interest on existing debt",
            f"+/-{rate_swing * 100:.0f} points",
            low(d_fixed=extra_interest),
            low(d_fixed=-extra_interest),
        ),
    ]
    base = low()
    frame = pd.DataFrame(rows, columns=["driver", "range", "low_case", "high_case"])
    frame["swing"] = (frame["high_case"] - frame["low_case"]).abs()
    frame["lowest_at_median"] = base
    frame = frame[frame["swing"] > 0]
    return frame.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


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
