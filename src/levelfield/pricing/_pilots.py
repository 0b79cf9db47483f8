"""Price pilots read from the workspace: assignment in ``pilots``, outcomes from orders."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from levelfield.errors import DataError, InsufficientDataError
from levelfield.pricing._experiments import (
    ABTestResult,
    DiDEstimate,
    conversion_ab_test,
    difference_in_differences,
    ratio_difference_in_differences,
    repeated_testing_alpha,
    sequential_boundaries,
)

__all__ = ["PilotResult", "analyze_pilots"]

_UNIT_TYPES = ("store", "channel", "customer", "period")
_NOT_SALES = "('failed', 'voided', 'cancelled', 'pending', 'refund', 'return')"


def _units_share(units: DiDEstimate, x: float) -> float:
    """A unit effect as a share of the test arm's counterfactual weekly units; NaN when
    the test arm had no sales before the pilot (no baseline to be a share of)."""
    cf = units.counterfactual
    baseline = units.means.get("test_before", cf)
    return x / cf if cf > 0 and baseline > 0 else float("nan")


@dataclass(frozen=True)
class PilotResult:
    """One pilot: its design and what it showed.

    Attributes
    ----------
    units, revenue
        Difference-in-differences of weekly units and revenue per assigned unit (for
        ``period`` pilots: the difference between test and control weeks).
    proportional
        Difference-in-differences in logs (saturated Poisson): the proportional effect
        on units, robust to arms of different size.
    implied_elasticity
        ``log-scale unit effect / log(1 + price_change)`` when the pilot changed the
        price.
    adjusted_ci_low, adjusted_ci_high
        Interval of :attr:`read` (on its scale) widened for repeated looks
        (``looks > 1``); :attr:`adjusted_relative_ci` gives it as shares.
    false_positive_rate
        Real false-positive rate of the nominal test when looked at ``looks`` times.
    conversion
        For customer pilots: share of assigned customers who bought, test vs control.
    """

    pilot_id: str
    name: str
    unit_type: str
    sku: str | None
    starts_on: dt.date
    ends_on: dt.date
    price_change: float | None
    n_test: int
    n_control: int
    weeks_before: int
    weeks_after: int
    units: DiDEstimate
    revenue: DiDEstimate
    implied_elasticity: float
    looks: int
    sequential: bool
    design: str
    adjusted_ci_low: float
    adjusted_ci_high: float
    false_positive_rate: float
    conversion: ABTestResult | None
    proportional: DiDEstimate | None = None
    notes: tuple[str, ...] = ()

    @property
    def read(self) -> DiDEstimate:
        """The one estimate the pilot is read by, for every number and verdict shown.

        The proportional (log-scale) difference-in-differences when both arms sold in
        both periods; else the difference-in-differences in units (``read_scale``).
        """
        return self.proportional if self.proportional is not None else self.units

    @property
    def read_scale(self) -> str:
        """``"log"`` (proportional read) or ``"units"`` (read in units per unit-week)."""
        return "log" if self.proportional is not None else "units"

    def _to_relative(self, x: float) -> float:
        if self.proportional is not None:
            return math.expm1(x)
        return _units_share(self.units, x)

    def _to_units(self, x: float) -> float:
        if self.proportional is not None:
            return self.proportional.counterfactual * math.expm1(x)
        return x

    @property
    def relative_effect(self) -> float:
        """Proportional change in weekly units (share), from :attr:`read`."""
        return self._to_relative(self.read.effect)

    @property
    def relative_ci(self) -> tuple[float, float]:
        """95 % interval of :attr:`relative_effect`, from :attr:`read`."""
        return (self._to_relative(self.read.ci_low), self._to_relative(self.read.ci_high))

    @property
    def unit_effect(self) -> tuple[float, float, float]:
        """Change in weekly units per unit with its 95 % interval, from :attr:`read`
        (a proportional read times the test arm's counterfactual weekly units)."""
        r = self.read
        return (self._to_units(r.effect), self._to_units(r.ci_low), self._to_units(r.ci_high))

    @property
    def p_value(self) -> float:
        """Two-sided p-value of :attr:`read`."""
        return self.read.p_value

    @property
    def significant(self) -> bool:
        """Whether the 95 % interval of :attr:`read` excludes no effect."""
        return self.read.ci_low > 0 or self.read.ci_high < 0

    @property
    def adjusted_relative_ci(self) -> tuple[float, float]:
        """:attr:`relative_ci` widened for repeated looks."""
        return (self._to_relative(self.adjusted_ci_low), self._to_relative(self.adjusted_ci_high))

    @property
    def peeking(self) -> bool:
        """Results were read more than once without a declared sequential design."""
        return self.looks > 1 and not self.sequential

    def row(self) -> dict[str, Any]:
        return {
            "pilot_id": self.pilot_id,
            "name": self.name,
            "unit_type": self.unit_type,
            "sku": self.sku,
            "starts_on": self.starts_on,
            "ends_on": self.ends_on,
            "price_change": self.price_change,
            "n_test": self.n_test,
            "n_control": self.n_control,
            "weeks_before": self.weeks_before,
            "weeks_after": self.weeks_after,
            "read_scale": self.read_scale,
            "unit_effect": self.unit_effect[0],
            "unit_effect_ci_low": self.unit_effect[1],
            "unit_effect_ci_high": self.unit_effect[2],
            "relative_effect": self.relative_effect,
            "relative_effect_ci_low": self.relative_ci[0],
            "relative_effect_ci_high": self.relative_ci[1],
            "p_value": self.p_value,
            "significant": self.significant,
            "revenue_effect": self.revenue.effect,
            "revenue_effect_ci_low": self.revenue.ci_low,
            "revenue_effect_ci_high": self.revenue.ci_high,
            "implied_elasticity": self.implied_elasticity,
            "looks": self.looks,
            "sequential": self.sequential,
            "design": self.design,
            "adjusted_relative_ci_low": self.adjusted_relative_ci[0],
            "adjusted_relative_ci_high": self.adjusted_relative_ci[1],
            "false_positive_rate": self.false_positive_rate,
            "conversion_test": None if self.conversion is None else self.conversion.rate_test,
            "conversion_control": None if self.conversion is None else self.conversion.rate_control,
            "probability_to_beat": None
            if self.conversion is None
            else self.conversion.probability_to_beat,
            "notes": "; ".join(self.notes),
        }


def _unit_expr(unit_type: str) -> str:
    return {"store": "o.store", "channel": "o.channel", "customer": "o.customer_id"}[unit_type]


def _weekly_outcomes(
    con: Any, pilot_id: str, unit_type: str, sku: str | None, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Units and revenue per assigned unit and week (zeros filled) from ``start`` to ``end``."""
    unit_match = (
        "s.unit IN (a.unit, lf_pseudonym(a.unit))" if unit_type == "customer" else "s.unit = a.unit"
    )
    frame: pd.DataFrame = con.execute(
        f"""
        WITH a AS (SELECT unit, lower(arm) AS arm FROM pilots WHERE pilot_id = ?),
        s AS (
            SELECT {_unit_expr(unit_type)} AS unit,
                   CAST(date_trunc('week', o.ordered_at) AS DATE) AS week,
                   sum(CAST(ol.quantity AS DOUBLE)) AS units,
                   sum(CAST(ol.quantity * ol.unit_price AS DOUBLE)) AS revenue
            FROM order_lines ol JOIN orders o ON o.order_id = ol.order_id
            WHERE o.status NOT IN {_NOT_SALES} AND ol.quantity > 0
              AND (CAST(? AS VARCHAR) IS NULL OR coalesce(ol.sku, ol.product) = ?)
              AND o.ordered_at >= CAST(? AS DATE) AND o.ordered_at < CAST(? AS DATE) + 7
            GROUP BY 1, 2
        ),
        wk AS (
            SELECT CAST(unnest(generate_series(
                CAST(date_trunc('week', CAST(? AS DATE)) AS TIMESTAMP),
                CAST(date_trunc('week', CAST(? AS DATE)) AS TIMESTAMP), INTERVAL 7 DAY)) AS DATE)
                AS week
        )
        SELECT a.unit, a.arm, wk.week,
               coalesce(sum(s.units), 0.0) AS units, coalesce(sum(s.revenue), 0.0) AS revenue
        FROM a CROSS JOIN wk
        LEFT JOIN s ON {unit_match} AND s.week = wk.week
        GROUP BY a.unit, a.arm, wk.week
        ORDER BY a.unit, wk.week
        """,
        [pilot_id, sku, sku, start, end, start, end],
    ).df()
    return frame


def _require_sales(
    frame: pd.DataFrame, pid: str, sku: str | None, start: dt.date, end: dt.date
) -> None:
    """An arm without a single sale in the whole window cannot be read: its orders are
    usually missing (a channel's export not imported) or its units misnamed."""
    total = frame.groupby("arm")["units"].sum()
    empty = sorted(str(a) for a, v in total.items() if v <= 0)
    if empty:
        units = sorted(frame.loc[frame["arm"].isin(empty), "unit"].astype(str).unique())
        what = f"of {sku} " if sku else ""
        raise DataError(
            f"pilot {pid!r}: the {' and '.join(empty)} arm ({', '.join(units[:5])}) has no "
            f"sales {what}from {start} to {end}, so its effect cannot be estimated; import "
            "that unit's orders or check that the pilot's unit names match the orders"
        )


def _welch(y: np.ndarray, treated: np.ndarray, alpha: float) -> DiDEstimate:
    a, b = y[treated == 1], y[treated == 0]
    if a.size < 2 or b.size < 2:
        raise InsufficientDataError("a period pilot needs at least 2 test and 2 control periods")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else 1.0
    eff = float(a.mean() - b.mean())
    tc = float(stats.t.isf(alpha / 2, df))
    p = float(2 * stats.t.sf(abs(eff) / se, df)) if se > 0 else (0.0 if eff else 1.0)
    cf = float(b.mean())
    return DiDEstimate(
        effect=eff,
        se=se,
        ci_low=eff - tc * se,
        ci_high=eff + tc * se,
        p_value=p,
        relative_effect=eff / cf if cf > 0 else float("nan"),
        counterfactual=cf,
        n_obs=int(y.size),
        n_clusters=int(y.size),
        df=round(df),
        means={"control": cf, "test": float(a.mean())},
    )


@dataclass(frozen=True)
class _PilotMeta:
    """One row of the ``pilots`` table, parsed and checked."""

    pilot_id: str
    name: str
    unit_type: str
    sku: str | None
    start: dt.date
    end: dt.date
    price_change: float | None
    looks: int
    sequential: bool


def _pilot_meta(meta: pd.Series) -> _PilotMeta:
    """Parse a pilot's row; a unit type, window or arms it cannot read is a DataError."""
    pid = str(meta["pilot_id"])
    unit_type = str(meta["unit_type"]).lower()
    start = pd.Timestamp(meta["starts_on"]).date()
    end = pd.Timestamp(meta["ends_on"]).date()
    if unit_type not in _UNIT_TYPES:
        raise DataError(
            f"pilot {pid!r}: unit_type {unit_type!r} is not one of {', '.join(_UNIT_TYPES)}; "
            "fix the pilots file and import it again"
        )
    if end < start:
        raise DataError(f"pilot {pid!r} ends ({end}) before it starts ({start})")
    arms = set(meta["arms"])
    if not arms <= {"test", "control"} or len(arms) < 2:
        raise DataError(
            f"pilot {pid!r}: arms must be 'test' and 'control' (found {sorted(arms)}); "
            "assign every unit to one of them"
        )
    return _PilotMeta(
        pilot_id=pid,
        name=str(meta["name"]) if not pd.isna(meta["name"]) else pid,
        unit_type=unit_type,
        sku=None if pd.isna(meta["sku"]) else str(meta["sku"]),
        start=start,
        end=end,
        price_change=None if pd.isna(meta["price_change"]) else float(meta["price_change"]),
        looks=max(int(meta["looks"]), 1),
        sequential=bool(meta["sequential"]),
    )


@dataclass(frozen=True)
class _Reads:
    """The estimates of one pilot, its arm sizes and windows, and notes on its design."""

    units: DiDEstimate
    revenue: DiDEstimate
    proportional: DiDEstimate | None
    conversion: ABTestResult | None
    n_test: int
    n_control: int
    weeks_before: int
    weeks_after: int
    notes: tuple[str, ...]


def _period_reads(con: Any, m: _PilotMeta, alpha: float) -> _Reads:
    """A pilot whose units are periods (weeks on test vs weeks on control): Welch t.

    One SQL statement sums each period's units and revenue.
    """
    frame = con.execute(
        f"""
        WITH a AS (SELECT unit, lower(arm) AS arm,
                          CAST(date_trunc('week', TRY_CAST(unit AS DATE)) AS DATE) AS week
                   FROM pilots WHERE pilot_id = ?)
        SELECT a.unit, a.arm, a.week,
               coalesce(sum(CAST(ol.quantity AS DOUBLE)), 0.0) AS units,
               coalesce(sum(CAST(ol.quantity * ol.unit_price AS DOUBLE)), 0.0) AS revenue
        FROM a LEFT JOIN orders o
             ON CAST(date_trunc('week', o.ordered_at) AS DATE) = a.week
            AND o.status NOT IN {_NOT_SALES}
        LEFT JOIN order_lines ol ON ol.order_id = o.order_id AND ol.quantity > 0
            AND (CAST(? AS VARCHAR) IS NULL OR coalesce(ol.sku, ol.product) = ?)
        GROUP BY a.unit, a.arm, a.week
        """,
        [m.pilot_id, m.sku, m.sku],
    ).df()
    if frame["week"].isna().any():
        bad = frame.loc[frame["week"].isna(), "unit"].iloc[0]
        raise DataError(
            f"pilot {m.pilot_id!r}: period unit {bad!r} is not a date; give each period as its "
            "first day, e.g. 2024-03-04"
        )
    treated = (frame["arm"] == "test").to_numpy(dtype=np.float64)
    units = _welch(frame["units"].to_numpy(dtype=np.float64), treated, alpha)
    revenue = _welch(frame["revenue"].to_numpy(dtype=np.float64), treated, alpha)
    n_test, n_ctrl = int(treated.sum()), int((1 - treated).sum())
    return _Reads(units, revenue, None, None, n_test, n_ctrl, 0, int(frame.shape[0]), ())


def _cluster_design(n_test: int, n_ctrl: int, units: np.ndarray) -> tuple[Any, list[str]]:
    """Cluster by unit when both arms have at least 2 units; notes on a thin design."""
    if min(n_test, n_ctrl) < 2:
        return None, [
            "one unit in an arm: the interval treats weeks as independent and is too "
            "narrow; assign more units"
        ]
    if n_test + n_ctrl < 10:
        return units, [
            f"only {n_test + n_ctrl} units: the interval is wide (t with {n_test + n_ctrl - 1} df)"
        ]
    return units, []


def _unit_reads(con: Any, m: _PilotMeta, alpha: float) -> _Reads:
    """A pilot whose units are stores, channels or customers: difference-in-differences
    on weekly outcomes, before (at least 4 weeks) and during the pilot."""
    weeks_after = (m.end - m.start).days // 7 + 1
    weeks_before = max(4, weeks_after)
    pre_start = m.start - dt.timedelta(weeks=weeks_before)
    frame = _weekly_outcomes(con, m.pilot_id, m.unit_type, m.sku, pre_start, m.end)
    start_week = pd.Timestamp(m.start) - pd.Timedelta(days=m.start.weekday())
    post = (pd.to_datetime(frame["week"]) >= start_week).to_numpy()
    treated = (frame["arm"] == "test").to_numpy(dtype=np.float64)
    n_test = int(frame.loc[frame["arm"] == "test", "unit"].nunique())
    n_ctrl = int(frame.loc[frame["arm"] == "control", "unit"].nunique())
    cluster, notes = _cluster_design(n_test, n_ctrl, frame["unit"].astype(str).to_numpy())
    _require_sales(frame, m.pilot_id, m.sku, pre_start, m.end)
    y_units = frame["units"].to_numpy(dtype=np.float64)
    did = {"cluster": cluster, "alpha": alpha}
    units = difference_in_differences(y_units, treated, post.astype(float), **did)
    revenue = difference_in_differences(
        frame["revenue"].to_numpy(dtype=np.float64), treated, post.astype(float), **did
    )
    proportional: DiDEstimate | None
    try:
        proportional = ratio_difference_in_differences(y_units, treated, post.astype(float), **did)
    except InsufficientDataError:
        proportional = None
        notes.append("no sales in one arm or period: only the unit-level effect is given")
    conversion = None
    if m.unit_type == "customer":
        conversion = _customer_conversion(frame.loc[post], m, alpha)
    return _Reads(
        units,
        revenue,
        proportional,
        conversion,
        n_test,
        n_ctrl,
        weeks_before,
        weeks_after,
        tuple(notes),
    )


def _customer_conversion(during: pd.DataFrame, m: _PilotMeta, alpha: float) -> ABTestResult:
    """Share of customers in each arm who bought during the pilot, as an A/B test."""
    bought = during.groupby(["unit", "arm"], sort=False)["units"].sum().reset_index()
    bt = bought.loc[bought["arm"] == "test", "units"]
    bc = bought.loc[bought["arm"] == "control", "units"]
    return conversion_ab_test(
        int((bt > 0).sum()),
        int(bt.size),
        int((bc > 0).sum()),
        int(bc.size),
        alpha=alpha,
        looks=m.looks,
        sequential=m.sequential,
    )


def _look_adjusted(
    read: DiDEstimate, looks: int, sequential: bool, alpha: float
) -> tuple[str, float, float, float]:
    """The interval widened for repeated looks, and the false-positive rate of peeking.

    Returns ``(design, ci_low, ci_high, false_positive_rate)``; one look is the fixed
    design with the read's own interval and a NaN rate.
    """
    if looks <= 1:
        return "fixed", read.ci_low, read.ci_high, float("nan")
    design = "obrien_fleming" if sequential else "pocock"
    crit = float(sequential_boundaries(looks, alpha=alpha, design=design)[-1])  # type: ignore[arg-type]
    # keep the t-reference widening of small samples on top of the boundary
    widen = float(stats.t.isf(alpha / 2, read.df) / stats.norm.isf(alpha / 2))
    return (
        design,
        read.effect - crit * widen * read.se,
        read.effect + crit * widen * read.se,
        repeated_testing_alpha(looks, alpha=alpha),
    )


def _implied_elasticity(
    units: DiDEstimate, proportional: DiDEstimate | None, price_change: float | None
) -> float:
    """Log change in units over log change in price (NaN without a usable price change).

    The log change in units is the proportional read when there is one, else the unit
    effect as a share of the counterfactual.
    """
    if proportional is not None:
        log_effect = proportional.effect
    else:
        rel = _units_share(units, units.effect)
        log_effect = math.log1p(rel) if math.isfinite(rel) and rel > -1 else float("nan")
    if price_change is None or price_change == 0 or price_change <= -1:
        return float("nan")
    if not math.isfinite(log_effect):
        return float("nan")
    return log_effect / math.log1p(price_change)


def _one_pilot(con: Any, meta: pd.Series, alpha: float) -> PilotResult:
    """Read one pilot: parse its row, estimate, adjust for looks, imply an elasticity."""
    m = _pilot_meta(meta)
    r = _period_reads(con, m, alpha) if m.unit_type == "period" else _unit_reads(con, m, alpha)
    read = r.proportional if r.proportional is not None else r.units  # one read per pilot
    design, adj_lo, adj_hi, fpr = _look_adjusted(read, m.looks, m.sequential, alpha)
    return PilotResult(
        pilot_id=m.pilot_id,
        name=m.name,
        unit_type=m.unit_type,
        sku=m.sku,
        starts_on=m.start,
        ends_on=m.end,
        price_change=m.price_change,
        n_test=r.n_test,
        n_control=r.n_control,
        weeks_before=r.weeks_before,
        weeks_after=r.weeks_after,
        units=r.units,
        revenue=r.revenue,
        implied_elasticity=_implied_elasticity(r.units, r.proportional, m.price_change),
        looks=m.looks,
        sequential=m.sequential,
        design=design,
        adjusted_ci_low=adj_lo,
        adjusted_ci_high=adj_hi,
        false_positive_rate=fpr,
        conversion=r.conversion,
        proportional=r.proportional,
        notes=r.notes,
    )


def analyze_pilots(con: Any, *, alpha: float = 0.05) -> tuple[list[PilotResult], list[str]]:
    """Analyse every pilot in the ``pilots`` table.

    Returns the results and notes on pilots that could not be analysed (each with the
    reason); one bad pilot does not stop the others.
    """
    meta = con.execute(
        """
        SELECT pilot_id, any_value(name) AS name, any_value(unit_type) AS unit_type,
               any_value(sku) AS sku, min(starts_on) AS starts_on, max(ends_on) AS ends_on,
               coalesce(max(price_change) FILTER (WHERE lower(arm) = 'test'),
                        any_value(price_change)) AS price_change,
               bool_or(sequential) AS sequential,
               max(looks) AS looks, list(DISTINCT lower(arm)) AS arms,
               count(DISTINCT lower(unit_type)) AS n_types
        FROM pilots GROUP BY pilot_id ORDER BY pilot_id
        """
    ).df()
    results: list[PilotResult] = []
    notes: list[str] = []
    for _, row in meta.iterrows():  # a handful of pilots, not data rows
        if int(row["n_types"]) > 1:
            notes.append(
                f"pilot {row['pilot_id']!r} mixes unit types; give one unit_type per pilot"
            )
            continue
        try:
            results.append(_one_pilot(con, row, alpha))
        except DataError as exc:
            pid = f"pilot {row['pilot_id']!r}"
            notes.append(f"{pid} not analysed: {str(exc).removeprefix(pid + ': ')}")
    return results, notes
