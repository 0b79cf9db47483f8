"""Annual percentage rate by the actuarial method of Regulation Z, Appendix J.

The kernel solves the general equation of Appendix J (b)(8) for one advance at time 0::

    A = sum_k  P_k / ((1 + f_k i) (1 + i) ** t_k)

for the unit-period rate ``i`` (``t_k`` full unit-periods and ``f_k`` a fraction of one
before payment ``k``; the fraction earns simple interest, (b)(6)); the annual
percentage rate is ``i`` times the number of unit-periods in a year ((b)(1)). Many
rows (offers x futures) are solved at once by a safeguarded Newton iteration on arrays:
a Newton step that leaves the current bracket is replaced by bisection, so every row
converges whatever its starting point.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from levelfield.errors import ConfigError, DataError, ModelError

__all__ = ["apr", "apr_dated", "apr_schedule", "unit_periods"]

FloatArray = NDArray[np.float64]

#: Lowest unit-period rate searched (a loan repaid with less than it lent).
_RATE_FLOOR = -0.99
#: Highest unit-period rate searched: 1,000 % per unit-period.
_RATE_CEILING = 10.0
_TOL = 1e-12
_MAX_ITER = 200


def _horner(rate: FloatArray, payments: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Present value and its derivative for payments at 1, 2, ..., n unit-periods.

    Horner's scheme in the discount factor v = 1 / (1 + i): n multiply-adds per row
    instead of n powers, exact for the regular grid that most schedules use.
    """
    v = 1.0 / (1.0 + rate)
    value = np.zeros_like(rate)
    dvalue = np.zeros_like(rate)
    for k in range(payments.shape[1] - 1, -1, -1):
        dvalue = dvalue * v + value
        value = value * v + payments[:, k]
    # value(v) = v * sum P_k v^(k-1); d value / d i = d value / d v * (-v^2).
    pv = value * v
    dpv_dv = value + v * dvalue
    return pv, -dpv_dv * v * v


def _present_value(
    rate: FloatArray, payments: FloatArray, t: FloatArray, f: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Present value of the payments at ``rate`` (per row) and its derivative in rate."""
    regular = not f.any() and np.array_equal(t, np.arange(1, t.size + 1))
    # Below -50 % a period, v ** n could overflow for long schedules: use logs there.
    if regular and t.size <= 1_000 and rate.size and float(rate.min()) > -0.5:
        return _horner(rate, payments)
    i = rate[..., None]
    # In logs, clipped: at rates near -100 % over hundreds of periods the factor would
    # overflow; a huge finite value still says "the root lies above".
    disc = np.exp(np.minimum(-t * np.log1p(i) - np.log1p(f * i), 250.0))
    value = payments * disc
    slope = -value * (f / (1.0 + f * i) + t / (1.0 + i))
    return value.sum(axis=-1), slope.sum(axis=-1)


def _solve_rate(
    amount: FloatArray, payments: FloatArray, t: FloatArray, f: FloatArray
) -> FloatArray:
    """Unit-period rate per row of ``payments`` (rows x payments), NaN when none exists."""
    rows = payments.shape[0]
    lo = np.full(rows, _RATE_FLOOR)
    hi = np.full(rows, _RATE_CEILING)
    g_lo = _present_value(lo, payments, t, f)[0] - amount
    g_hi = _present_value(hi, payments, t, f)[0] - amount
    ok = (g_lo >= 0) & (g_hi <= 0)
    # Start from the simple-interest guess: finance charge over amount and mean time.
    total = payments.sum(axis=-1)
    mean_t = (payments * (t + f)).sum(axis=-1) / np.where(total > 0, total, 1.0)
    rate = np.where(
        ok, (total - amount) / np.maximum(amount * np.maximum(mean_t, 1e-9), 1e-300), 0.0
    )
    rate = np.clip(rate, lo + 1e-9, hi - 1e-9)
    active = ok.copy()
    for _ in range(_MAX_ITER):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        r = rate[idx]
        g, dg = _present_value(r, payments[idx], t, f)
        g = g - amount[idx]
        # g falls as the rate rises: a positive g means the root lies above r.
        above = g > 0
        lo[idx] = np.where(above, r, lo[idx])
        hi[idx] = np.where(above, hi[idx], r)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(dg != 0, g / dg, np.nan)
        newton = r - step
        inside = np.isfinite(newton) & (newton > lo[idx]) & (newton < hi[idx])
        new = np.where(inside, newton, 0.5 * (lo[idx] + hi[idx]))
        exact = np.abs(g) <= _TOL * amount[idx]
        done = exact | (np.abs(new - r) <= _TOL * (1.0 + np.abs(r)))
        rate[idx] = np.where(exact, r, new)
        active[idx] = ~done
    if active.any():
        raise ModelError(
            f"the APR iteration did not converge for {int(active.sum())} of {rows} payment "
            "schedules; check that the payments are finite and not all zero"
        )
    return np.where(ok, rate, np.nan)


def _as_payments(payments: ArrayLike, what: str) -> FloatArray:
    arr = np.asarray(payments, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise DataError(f"{what}: no payments given; pass at least one payment")
    if not np.isfinite(arr).all():
        raise DataError(f"{what}: payments contain NaN or infinity; remove or fill them")
    if (arr < 0).any():
        raise DataError(f"{what}: payments must not be negative (a refund is not a payment)")
    return arr


def _as_amount(amount: ArrayLike, batch: tuple[int, ...], what: str) -> FloatArray:
    arr = np.asarray(amount, dtype=np.float64)
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise DataError(f"{what}: the amount financed must be a positive, finite number")
    try:
        return np.broadcast_to(arr, batch).astype(np.float64)
    except ValueError as exc:
        raise DataError(
            f"{what}: amount of shape {arr.shape} does not match payments batch {batch}"
        ) from exc


def apr_schedule(
    amount: ArrayLike,
    payments: ArrayLike,
    times: ArrayLike,
    periods_per_year: float,
) -> FloatArray:
    """APR of one advance repaid by payments at given times (in unit-periods).

    Parameters
    ----------
    amount
        Amount financed (currency), scalar or one per schedule (shape ``batch``).
    payments
        Payments (currency), shape ``batch + (n,)``; zeros are allowed.
    times
        Time of each payment from the advance in unit-periods, shape ``(n,)``: the whole
        part is ``t`` (full unit-periods, compounded) and the remainder ``f`` (the odd
        fraction, simple interest), as in Appendix J (b)(5) and (b)(8).
    periods_per_year
        Unit-periods in a year (12 monthly, 52 weekly, 365 daily).

    Returns
    -------
    numpy.ndarray
        Nominal APR as a share per year (0.0969 for 9.69 %), shape ``batch``; NaN where
        the payments are below 1 % of the amount per unit-period ceiling (no rate fits).

    References
    ----------
    12 CFR 1026, Appendix J (b)(1), (b)(5), (b)(6), (b)(8) (Regulation Z).
    """
    pay = _as_payments(payments, "apr")
    tm = np.asarray(times, dtype=np.float64)
    if tm.shape != pay.shape[-1:]:
        raise DataError(f"apr: {tm.shape[-1] if tm.ndim else 0} times for {pay.shape[-1]} payments")
    if not np.isfinite(tm).all() or (tm < 0).any():
        raise DataError("apr: payment times must be finite and not negative")
    if not np.isfinite(periods_per_year) or periods_per_year <= 0:
        raise ConfigError(f"apr: periods_per_year must be positive, got {periods_per_year!r}")
    batch = pay.shape[:-1]
    amt = _as_amount(amount, batch, "apr")
    t = np.floor(tm + 1e-9)
    f = np.clip(tm - t, 0.0, None)
    flat = pay.reshape(-1, pay.shape[-1])
    rate = _solve_rate(amt.reshape(-1), flat, t, f)
    return (rate * periods_per_year).reshape(batch)


def apr(amount: ArrayLike, payments: ArrayLike, periods_per_year: float) -> FloatArray:
    """APR of an advance repaid by payments at the end of each equal unit-period.

    ``payments[..., k]`` falls ``k + 1`` unit-periods after the advance. Vectorized:
    ``payments`` of shape ``(offers, futures, n)`` gives APRs of shape ``(offers, futures)``.
    See :func:`apr_schedule` for units and references.

    Examples
    --------
    >>> round(float(apr(5000, [230] * 24, 12)) * 100, 2)  # Appendix J (c)(1)(i)
    9.69
    """
    pay = _as_payments(payments, "apr")
    times = np.arange(1, pay.shape[-1] + 1, dtype=np.float64)
    return apr_schedule(amount, pay, times, periods_per_year)


def unit_periods(start: dt.date, when: dt.date, unit: str) -> float:
    """Full unit-periods plus fraction from ``start`` to ``when`` per Appendix J (b)(5).

    ``unit`` is ``"month"`` (full months measured back from the later date, the odd days
    divided by 30), ``"week"`` (days / 7) or ``"day"`` (days).
    """
    days = (when - start).days
    if days < 0:
        raise DataError(f"payment date {when} is before the advance on {start}")
    if unit == "day":
        return float(days)
    if unit == "week":
        return days / 7.0
    if unit != "month":
        raise ConfigError(f"unit must be 'month', 'week' or 'day', got {unit!r}")
    months = (when.year - start.year) * 12 + (when.month - start.month)
    while months > 0 and _months_back(when, months) < start:
        months -= 1
    odd = (_months_back(when, months) - start).days
    return months + odd / 30.0


def _months_back(when: dt.date, months: int) -> dt.date:
    y, m = divmod(when.year * 12 + when.month - 1 - months, 12)
    m += 1
    day = when.day
    while True:
        try:
            return dt.date(y, m, day)
        except ValueError:
            day -= 1


_PER_YEAR = {"month": 12.0, "week": 52.0, "day": 365.0}


def apr_dated(
    amount: float,
    dated_payments: Sequence[tuple[dt.date, float]],
    *,
    start: dt.date,
    unit: str | None = None,
) -> float:
    """APR of an advance on ``start`` repaid by ``(date, amount)`` payments.

    The unit-period is the most frequent interval between payments (month when the
    payments fall about a month apart, week when about a week, else day), as
    Appendix J (b)(4) asks; pass ``unit`` to fix it. A single payment uses the term as
    its unit-period, (b)(4)(ii) and (b)(5)(vii): 365 / days periods a year below a year.

    Returns
    -------
    float
        Nominal APR as a share per year.
    """
    if not dated_payments:
        raise DataError("apr_dated: no payments given; pass at least one (date, amount)")
    dates = [d for d, _ in dated_payments]
    if any(b < a for a, b in itertools.pairwise(dates)):
        raise DataError("apr_dated: payment dates must be in ascending order")
    amounts = [float(p) for _, p in dated_payments]
    if len(dates) == 1:
        days = (dates[0] - start).days
        if days <= 0:
            raise DataError("apr_dated: the single payment must fall after the advance")
        if unit is None:
            years = unit_periods(start, dates[0], "month") / 12.0
            if years >= 1.0:
                times = [years]
                return float(apr_schedule(amount, amounts, times, 1.0))
            return float(apr_schedule(amount, amounts, [1.0], 365.0 / days))
    chosen = unit or _common_unit(start, dates)
    times = [unit_periods(start, d, chosen) for d in dates]
    return float(apr_schedule(amount, amounts, times, _PER_YEAR[chosen]))


def _common_unit(start: dt.date, dates: Sequence[dt.date]) -> str:
    gaps = np.diff(np.array([(d - start).days for d in dates]))
    typical = float(np.median(gaps)) if gaps.size else 30.0
    if 27 <= typical <= 32:
        return "month"
    if typical == 7:
        return "week"
    return "day"
