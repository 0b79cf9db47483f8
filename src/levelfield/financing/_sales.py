"""Weekly sales: the business's own history and simulated futures of it.

Futures are a seasonal bootstrap of the business's own weeks: week ``h`` ahead draws a
week within +/-2 weeks of the same week one year earlier (or, with less than a year of
history, any of the last 26 weeks), scaled by the recent year-on-year level and by one
level multiplier per future drawn from the spread of 13-week year-on-year ratios, so a
future can be a slow or a brisk year and keeps its seasonality.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from levelfield.errors import InsufficientDataError
from levelfield.workspace import Workspace

__all__ = ["WeeklySales", "sales_futures", "slow_season_offset", "weekly_sales"]

FloatArray = NDArray[np.float64]

#: Fewest weeks of orders the sales model needs.
MIN_WEEKS = 8


@dataclass(frozen=True)
class WeeklySales:
    """Net sales per week (currency), Monday-based weeks, oldest first, gaps filled with 0."""

    weeks: tuple[dt.date, ...]
    sales: FloatArray

    @property
    def last_week(self) -> dt.date:
        return self.weeks[-1]


def weekly_sales(ws: Workspace) -> WeeklySales:
    """Net sales per week from ``orders`` (refunds and cancelled orders excluded).

    The last week is dropped when it is incomplete (fewer than 7 days of it observed).
    """
    rows = ws.con.execute(
        """
        WITH w AS (
            SELECT CAST(date_trunc('week', ordered_at) AS DATE) AS week,
                   sum(CAST(net_revenue_base AS DOUBLE)) AS sales
            FROM order_revenue GROUP BY 1
        ), span AS (SELECT min(week) AS lo, max(week) AS hi FROM w)
        SELECT CAST(g.week AS DATE), coalesce(w.sales, 0.0)
        FROM span, (SELECT unnest(generate_series(span.lo, span.hi, INTERVAL 7 DAY)) AS week
                    FROM span) g
        LEFT JOIN w ON w.week = CAST(g.week AS DATE)
        ORDER BY 1
        """
    ).fetchall()
    last_order = ws.con.execute("SELECT max(ordered_at) FROM order_revenue").fetchall()[0][0]
    if rows and last_order is not None:
        end = rows[-1][0] + dt.timedelta(days=6)
        if last_order.date() < end:
            rows = rows[:-1]
    if len(rows) < MIN_WEEKS:
        raise InsufficientDataError(
            f"{len(rows)} complete week(s) of orders; the financing analysis needs at least "
            f"{MIN_WEEKS} weeks of sales (import a longer order export)"
        )
    weeks = tuple(r[0] for r in rows)
    return WeeklySales(weeks, np.maximum(np.array([r[1] for r in rows], dtype=np.float64), 0.0))


def _level(sales: FloatArray) -> tuple[float, float]:
    """Recent year-on-year level (ratio) and the spread of its log (sd)."""
    if sales.size < 52 + 13:
        recent = sales[-26:]
        cv = float(np.std(recent) / max(float(np.mean(recent)), 1e-9))
        return 1.0, float(np.clip(cv / 2.0, 0.05, 0.5))
    windows = np.lib.stride_tricks.sliding_window_view(sales, 13).sum(axis=-1)
    ratios = windows[52:] / np.maximum(windows[:-52], 1e-9)
    ratios = ratios[(ratios > 0) & np.isfinite(ratios)]
    if ratios.size == 0:
        return 1.0, 0.2
    level = float(np.clip(ratios[-1], 0.25, 4.0))
    spread = float(np.std(np.log(ratios))) if ratios.size > 2 else 0.2
    return level, float(np.clip(spread, 0.02, 1.0))


def sales_futures(
    history: FloatArray,
    horizon: int,
    n_futures: int,
    *,
    seed: int | None = 0,
    start_offset: int = 0,
) -> FloatArray:
    """Simulated weekly sales, ``(n_futures, horizon)`` (currency).

    Parameters
    ----------
    history
        Past weekly sales, oldest first (at least :data:`MIN_WEEKS`).
    horizon
        Weeks to simulate.
    n_futures
        Number of futures.
    seed
        Seed of the random generator.
    start_offset
        Weeks after the end of the history at which the simulation starts (to ask what
        happens when the advance is taken at another time of the year).
    """
    hist = np.asarray(history, dtype=np.float64)
    if hist.size < MIN_WEEKS:
        raise InsufficientDataError(f"need at least {MIN_WEEKS} weeks of sales, got {hist.size}")
    rng = np.random.default_rng(seed)
    level, spread = _level(hist)
    steps = np.arange(horizon) + start_offset
    if hist.size >= 52:
        # Same week one, two, ... years back within the history, +/-2 weeks.
        base = hist.size - 52 + (steps % 52)
        jitter = rng.integers(-2, 3, size=(n_futures, horizon))
        idx = np.clip(base[None, :] + jitter, 0, hist.size - 1)
    else:
        idx = rng.integers(max(0, hist.size - 26), hist.size, size=(n_futures, horizon))
    levels = level * np.exp(rng.normal(-0.5 * spread**2, spread, size=(n_futures, 1)))
    return np.asarray(hist[idx] * levels, dtype=np.float64)


def slow_season_offset(history: FloatArray, weeks: int = 13) -> int | None:
    """Weeks from the end of the history to the start of the slowest ``weeks`` of the year.

    ``None`` with less than a year of history (no season can be seen).
    """
    hist = np.asarray(history, dtype=np.float64)
    if hist.size < 52:
        return None
    year = hist[-52:]
    cyclic = np.concatenate([year, year[: weeks - 1]])
    sums = np.lib.stride_tricks.sliding_window_view(cyclic, weeks).sum(axis=-1)
    return int(np.argmin(sums))
