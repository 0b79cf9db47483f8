"""``analyze``: the scenario planning run, its result object and ``evaluate_action``."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from levelfield.errors import ConfigError, SmallSampleWarning
from levelfield.findings import Finding, ProgressCallback, money, no_progress
from levelfield.findings import json_float as _f
from levelfield.scenarios._model import PnLModel, build_model
from levelfield.scenarios._shocks import (
    AddSupplier,
    Change,
    DemandDrop,
    FXMove,
    InterestRateRise,
    PlatformFeeRise,
    PriceChange,
    Scenario,
    ShiftChannel,
    Strategy,
    SupplierOutage,
    Tariff,
    WageRise,
    compile_changes,
    load_scenarios,
)
from levelfield.scenarios._simulate import (
    CaseOutcome,
    Simulation,
    annual_window,
    simulate,
    sobol_drivers,
    tornado,
)
from levelfield.workspace import UNSET, Unset, Workspace

__all__ = [
    "ActionImpact",
    "ScenariosResult",
    "analyze",
    "default_scenarios",
    "default_strategies",
    "evaluate_action",
    "evaluate_own_store_shift",
    "risk_metrics",
]

FloatArray = NDArray[np.float64]

#: Probability of negative cash at which the runway ends (1 in 10 futures).
RUNWAY_RISK = 0.10
_FAN_Q = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
_GAIN_Q = tuple(np.round(np.linspace(0.01, 0.99, 99), 2))


def risk_metrics(case: CaseOutcome, horizon: int) -> dict[str, Any]:
    """Risk figures of one case: loss-year probability, cash risk, runway, VaR, ES.

    ``var5`` is the loss not exceeded in 95 % of first years (minus the 5th percentile
    of first-year profit; negative when even a bad year is profitable); ``es5`` is the
    average loss over the worst 5 % of first years (expected shortfall).
    """
    a = case.annual_profit
    q05 = float(np.quantile(a, 0.05))
    tail = a[a <= q05]
    fn = case.first_negative
    by_month = np.array([np.mean((fn > 0) & (fn <= m)) for m in range(1, horizon + 1)])
    hit = np.nonzero(by_month >= RUNWAY_RISK)[0]
    runway = int(hit[0] + 1) if hit.size else None
    neg = fn[fn > 0]
    return {
        "mean_annual_profit": float(a.mean()),
        "annual_profit_p10": float(np.quantile(a, 0.10)),
        "annual_profit_p50": float(np.quantile(a, 0.50)),
        "annual_profit_p90": float(np.quantile(a, 0.90)),
        "p_loss_year": float(np.mean(a < 0)),
        "p_cash_negative": float(np.mean(fn > 0)),
        "runway_months": runway,
        "median_month_cash_negative": float(np.median(neg)) if neg.size else None,
        "var5": -q05,
        "es5": float(-tail.mean()) if tail.size else -q05,
        "lowest_cash_p5": float(np.quantile(case.min_cash, 0.05)),
        "cash_negative_by_month": by_month,
    }


@dataclass(frozen=True, eq=False)
class ActionImpact:
    """Distribution of the change in first-year profit from an action.

    ``values`` holds one difference per trial (action minus doing nothing, same draws);
    money in ``currency``.
    """

    action: str
    currency: str
    months: int
    values: FloatArray
    scenario: str = "baseline"

    @property
    def mean(self) -> float:
        return float(self.values.mean())

    @property
    def sd(self) -> float:
        return float(self.values.std(ddof=1))

    @property
    def p_positive(self) -> float:
        return float(np.mean(self.values > 0))

    def quantile(self, q: float | Sequence[float]) -> Any:
        return np.quantile(self.values, q)

    def summary(self) -> dict[str, Any]:
        lo, mid, hi = (float(v) for v in np.quantile(self.values, [0.05, 0.5, 0.95]))
        return {
            "action": self.action,
            "scenario": self.scenario,
            "months": self.months,
            "currency": self.currency,
            "mean": self.mean,
            "sd": self.sd,
            "p_positive": self.p_positive,
            "p5": lo,
            "p50": mid,
            "p95": hi,
            "n_trials": int(self.values.size),
        }

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"profit_difference": self.values})


@dataclass(frozen=True, eq=False)
class ScenariosResult:
    """Result of :func:`analyze`: risk of the baseline, shocks, drivers, strategies.

    Money is in ``currency``; "year" means the first 12 projected months (or the horizon
    when shorter). Tables are pandas DataFrames (see :meth:`tables`).
    """

    currency: str
    horizon: int
    year_months: int
    n_trials: int
    seed: int | None
    months: tuple[str, ...]
    drivers: pd.DataFrame
    baseline_pnl: pd.DataFrame
    risk: pd.DataFrame
    fan: pd.DataFrame
    cash_risk: pd.DataFrame
    tornado: pd.DataFrame
    sobol: pd.DataFrame
    strategies: pd.DataFrame
    strategy_gains: pd.DataFrame
    notes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    # -- contract ----------------------------------------------------------------------
    def _base(self) -> pd.Series:
        return self.risk.iloc[0]

    def summary(self) -> dict[str, Any]:
        b = self._base()
        top = self.sobol.sort_values("total", ascending=False)
        out: dict[str, Any] = {
            "currency": self.currency,
            "horizon": self.horizon,
            "n_trials": self.n_trials,
            "seed": self.seed,
            "mean_annual_profit": _f(b["mean_annual_profit"]),
            "annual_profit_p10": _f(b["annual_profit_p10"]),
            "annual_profit_p90": _f(b["annual_profit_p90"]),
            "p_loss_year": _f(b["p_loss_year"]),
            "p_cash_negative": _f(b["p_cash_negative"]),
            "runway_months": None if pd.isna(b["runway_months"]) else int(b["runway_months"]),
            "var5": _f(b["var5"]),
            "es5": _f(b["es5"]),
            "top_drivers": [str(d) for d in top["driver"].head(3)],
            "scenarios": {
                str(r.scenario): {
                    "p_loss_year": _f(r.p_loss_year),
                    "p_cash_negative": _f(r.p_cash_negative),
                    "mean_change": _f(r.mean_change_vs_baseline),
                }
                for r in self.risk.iloc[1:].itertuples()
            },
        }
        best = self._best_strategy()
        if best is not None:
            out["best_strategy"] = str(best["strategy"])
            out["best_strategy_gain"] = _f(best["mean_gain"])
            out["best_strategy_p_gain"] = _f(best["p_gain"])
        return out

    def to_frame(self) -> pd.DataFrame:
        """Risk per case (baseline first, then each scenario)."""
        return self.risk.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "risk": self.risk,
            "drivers": self.drivers,
            "baseline_pnl": self.baseline_pnl,
            "fan": self.fan,
            "cash_risk": self.cash_risk,
            "tornado": self.tornado,
            "sobol": self.sobol,
            "strategies": self.strategies,
            "strategy_gains": self.strategy_gains,
        }

    def _best_strategy(self) -> pd.Series | None:
        base = self.strategies[self.strategies["scenario"] == "baseline"]
        if base.empty:
            return None
        return base.sort_values("mean_gain", ascending=False).iloc[0]

    def _money(self, x: Any) -> str:
        return money(float(x), self.currency)

    def headline(self) -> list[str]:
        b = self._base()
        y = self.year_months
        lines = [
            f"Next {y} months: expected profit {self._money(b['mean_annual_profit'])} "
            f"(80% range {self._money(b['annual_profit_p10'])} to "
            f"{self._money(b['annual_profit_p90'])}); probability of a loss: "
            f"{b['p_loss_year']:.0%}.",
        ]
        if pd.isna(b["runway_months"]):
            lines.append(
                f"Cash: {b['p_cash_negative']:.0%} chance of falling below zero within "
                f"{self.horizon} months; runway beyond the horizon at 90% confidence."
            )
        else:
            lines.append(
                f"Cash: {b['p_cash_negative']:.0%} chance of falling below zero within "
                f"{self.horizon} months; runway {int(b['runway_months'])} months "
                f"(first month with a {RUNWAY_RISK:.0%} chance of negative cash)."
            )
        lines.append(
            f"Bad year (1 in 20): profit {self._money(-b['var5'])} or worse (5% value at "
            f"risk); average of the worst 5%: {self._money(-b['es5'])}."
        )
        top = self.sobol.sort_values("total", ascending=False).head(3)
        if not top.empty and top["total"].iloc[0] > 0:
            parts = ", ".join(f"{r.driver} ({r.total:.0%})" for r in top.itertuples())
            lines.append(f"Drivers that matter most (share of profit variance): {parts}.")
        if len(self.risk) > 1:
            worst = self.risk.iloc[1:].sort_values("mean_change_vs_baseline").iloc[0]
            lines.append(
                f"Worst shock: {worst['scenario']} changes expected profit by "
                f"{self._money(worst['mean_change_vs_baseline'])} (loss probability "
                f"{worst['p_loss_year']:.0%})."
            )
        base = self.strategies[self.strategies["scenario"] == "baseline"]
        for r in base.sort_values("mean_gain", ascending=False).itertuples():
            lines.append(
                f"Strategy '{r.strategy}': {self._money(r.mean_gain)} a year on average "
                f"(gain in {r.p_gain:.0%} of futures; 90% range {self._money(r.gain_p5)} "
                f"to {self._money(r.gain_p95)})."
            )
        return lines

    def findings(self) -> list[Finding]:
        """Loss, cash and runway (:meth:`_loss_findings`), bad-year loss and the top
        driver (:meth:`_spread_findings`), the worst shock and the best strategy
        (:meth:`_choice_findings`)."""
        b = self._base()
        return [*self._loss_findings(b), *self._spread_findings(b), *self._choice_findings(b)]

    def _loss_findings(self, b: pd.Series[Any]) -> list[Finding]:
        """Chance of a loss over the year, of negative cash, and the runway."""
        y = self.year_months
        out: list[Finding] = []
        p_loss = float(b["p_loss_year"])
        out.append(
            Finding(
                "scenarios.p_loss_year",
                p_loss,
                "share",
                f"{p_loss:.0%} chance that the next {y} months end with a loss.",
                _sev(p_loss, 0.1, 0.25, 0.5),
                {"months": y, "mean_annual_profit": _f(b["mean_annual_profit"])},
            )
        )
        p_cash = float(b["p_cash_negative"])
        out.append(
            Finding(
                "scenarios.p_cash_negative",
                p_cash,
                "share",
                f"{p_cash:.0%} chance that cash falls below zero within {self.horizon} months.",
                _sev(p_cash, 0.05, 0.10, 0.30),
                {
                    "months": self.horizon,
                    "median_month": _f(b["median_month_cash_negative"]),
                    "lowest_cash_p5": _f(b["lowest_cash_p5"]),
                },
            )
        )
        beyond = pd.isna(b["runway_months"])
        runway = float(self.horizon if beyond else b["runway_months"])
        out.append(
            Finding(
                "scenarios.runway_months",
                runway,
                "months",
                (
                    f"Cash stays above zero in at least 90% of futures for the whole "
                    f"{self.horizon}-month horizon."
                    if beyond
                    else f"Runway: after {runway:.0f} months there is a 1-in-10 chance "
                    "that cash has run out."
                ),
                "good" if beyond else ("critical" if runway <= 6 else "warning"),
                {"beyond_horizon": bool(beyond), "risk_level": RUNWAY_RISK},
            )
        )
        return out

    def _spread_findings(self, b: pd.Series[Any]) -> list[Finding]:
        """Profit in a bad year (1 in 20) and the driver of most of its variance."""
        y = self.year_months
        out: list[Finding] = []
        var5 = float(b["var5"])
        out.append(
            Finding(
                "scenarios.var5",
                var5,
                "currency",
                f"In a bad year (1 in 20) profit is {self._money(-var5)} or worse; "
                f"the worst 5% average {self._money(-float(b['es5']))}.",
                "warning" if var5 > 0 else "info",
                {"es5": _f(b["es5"]), "months": y},
            )
        )
        top = self.sobol.sort_values("total", ascending=False)
        if not top.empty and float(top["total"].iloc[0]) > 0:
            t = top.iloc[0]
            swing = self.tornado.set_index("driver")["swing"].get(t["driver"], float("nan"))
            out.append(
                Finding(
                    "scenarios.top_driver",
                    float(t["total"]),
                    "share",
                    f"{t['driver']} drives {float(t['total']):.0%} of the variance of profit "
                    f"(P10 to P90 swing {self._money(float(swing))}).",
                    "info",
                    {"driver": str(t["driver"]), "first_order": _f(t["first_order"])},
                )
            )
        return out

    def _choice_findings(self, b: pd.Series[Any]) -> list[Finding]:
        """The worst shock tested and the best strategy tested."""
        y = self.year_months
        out: list[Finding] = []
        if len(self.risk) > 1:
            worst = self.risk.iloc[1:].sort_values("mean_change_vs_baseline").iloc[0]
            chg = float(worst["mean_change_vs_baseline"])
            out.append(
                Finding(
                    "scenarios.worst_shock_change",
                    chg,
                    "currency",
                    f"The worst shock tested, {worst['scenario']}, changes profit over "
                    f"{y} months by {self._money(chg)} on average.",
                    "warning" if chg < -0.1 * abs(float(b["mean_annual_profit"]) or 1) else "watch",
                    {"scenario": str(worst["scenario"]), "p_loss_year": _f(worst["p_loss_year"])},
                )
            )
        best = self._best_strategy()
        if best is not None:
            g = float(best["mean_gain"])
            out.append(
                Finding(
                    "scenarios.best_strategy_gain",
                    g,
                    "currency",
                    f"Best strategy tested, {best['strategy']}: {self._money(g)} a year on "
                    f"average, a gain in {float(best['p_gain']):.0%} of futures.",
                    "good" if g > 0 else "info",
                    {
                        "strategy": str(best["strategy"]),
                        "p_gain": _f(best["p_gain"]),
                        "gain_p5": _f(best["gain_p5"]),
                        "gain_p95": _f(best["gain_p95"]),
                    },
                )
            )
        return out


def _sev(x: float, watch: float, warn: float, crit: float) -> Any:
    if x >= crit:
        return "critical"
    if x >= warn:
        return "warning"
    if x >= watch:
        return "watch"
    return "good"


# -- default scenario and strategy libraries ---------------------------------------------


def default_scenarios(model: PnLModel) -> list[Scenario]:
    """Shock scenarios that fit the business: its largest marketplace, supplier country..."""
    out: list[Scenario] = []
    rev = model.revenue_base.sum(axis=0)
    markets = [c for c in model.channels if c in model.marketplace_channels]
    storm: list[Change] = []
    if markets:
        big = max(markets, key=lambda c: rev[model.channels.index(c)])
        fee = PlatformFeeRise(big, 3.0)
        out.append(Scenario(f"{big} fee +3 points", (fee,)))
        storm.append(fee)
    demand = DemandDrop(20.0, 3)
    out.append(Scenario("demand -20% for 3 months", (demand,)))
    storm.append(demand)
    abroad = [
        (w, c)
        for w, c, f in zip(model.country_weights, model.countries, model.foreign, strict=True)
        if f and w > 0
    ]
    if abroad:
        country = max(abroad)[1]
        tariff = Tariff(country, 25.0)
        out.append(Scenario(f"tariff +25% on {country}", (tariff,)))
        storm.append(tariff)
        out.append(Scenario(f"{country} suppliers out 8 weeks", (SupplierOutage(country, 8),)))
        out.append(Scenario("purchase currency +10%", (FXMove(10.0),)))
    if float(model.wage_costs.sum()) > 0:
        out.append(Scenario("wages +5%", (WageRise(5.0),)))
    if model.debt > 0:
        out.append(Scenario("interest +2 points", (InterestRateRise(2.0),)))
    if len(storm) > 1:
        out.append(Scenario("combined: " + ", ".join(s.describe() for s in storm), tuple(storm)))
    return out


def default_strategies(model: PnLModel) -> list[Strategy]:
    """Candidate strategies: own-store shift, second supplier country, price +5 %."""
    out: list[Strategy] = []
    if model.marketplace_channels and model.own_store_channels:
        out.append(
            Strategy(
                "move 30% of marketplace sales to own store",
                (ShiftChannel("marketplaces", "own_store", 30.0),),
            )
        )
    used = [(w, c) for w, c in zip(model.country_weights, model.countries, strict=True) if w > 0]
    if used:
        main = max(used)[1]
        others = [c for c in model.countries if c != main and c != "UNKNOWN"]
        if model.home_country and model.home_country in others:
            alt = model.home_country
        elif others:
            alt = others[0]
        else:
            alt = None
        if alt is not None:
            out.append(
                Strategy(
                    f"second supplier: half of {main} purchases from {alt}",
                    (AddSupplier(main, alt, 50.0, 5.0),),
                )
            )
    out.append(Strategy("raise prices 5%", (PriceChange(5.0),)))
    return out


# -- analyze ---------------------------------------------------------------------------


def _resolve(
    value: Any, model: PnLModel, default: Any, kind: type
) -> tuple[list[Any], dict[str, Any]]:
    if value is None:
        return list(default(model)), {}
    if isinstance(value, str | Path):
        scen, strat, drivers = load_scenarios(value, model)
        return (scen if kind is Scenario else strat), drivers
    if isinstance(value, kind):
        return [value], {}
    try:
        items = list(value)
    except TypeError:
        raise ConfigError(
            f"expected a list of {kind.__name__} objects or a TOML path, not {value!r}"
        ) from None
    for it in items:
        if not isinstance(it, kind):
            raise ConfigError(f"{it!r} is not a {kind.__name__}")
    return items, {}


def analyze(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    horizon: int | Unset = UNSET,
    n_trials: int | Unset = UNSET,
    seed: int | Unset | None = UNSET,
    scenarios: Sequence[Scenario] | None = None,
    strategies: Sequence[Strategy] | None = None,
    scenario_file: str | Path | Unset | None = UNSET,
    drivers: Mapping[str, Any] | None = None,
    correlations: Any = None,
    repair_correlation: bool | Unset = UNSET,
    elasticity: float | Unset | None = UNSET,
    sobol_samples: int | Unset = UNSET,
    chunk_size: int | Unset = UNSET,
) -> ScenariosResult:
    """Monte Carlo scenario planning for the business in ``ws``.

    Keywords left out are read from the workspace's settings (``scenarios.horizon``,
    ``scenarios.scenario_file``, ...; ``levelfield settings``); given ones override them
    for this run. ``scenarios``, ``strategies``, ``drivers`` and ``correlations`` are
    Python objects (the settings' way to give them is ``scenarios.scenario_file``). The
    run records the settings it used, and those of customers and pricing it reads.

    Parameters
    ----------
    ws
        Open workspace.
    progress
        ``progress(step, fraction)`` callback.
    horizon
        Months to project (1–120).
    n_trials
        Simulated futures.
    seed
        Random seed; the same seed and data give identical results.
    scenarios, strategies
        Lists of :class:`Scenario` / :class:`Strategy`; ``None`` uses
        :func:`default_scenarios` / :func:`default_strategies`; ``[]`` for none.
    scenario_file
        TOML file with ``[[scenario]]``, ``[[strategy]]`` and ``[drivers]``; its
        scenarios and strategies replace the defaults (see :func:`load_scenarios`).
    drivers, correlations, repair_correlation, elasticity
        Passed to :func:`build_model`.
    sobol_samples
        Base sample size ``N`` of the Sobol estimate (``N (K + 2)`` model runs).
    chunk_size
        Trials per chunk (bounds memory).

    Returns
    -------
    ScenariosResult
        Also recorded in the workspace's run history as ``scenarios``.
    """
    kw, used = ws.settings.resolve(
        "scenarios",
        {
            "horizon": horizon,
            "n_trials": n_trials,
            "seed": seed,
            "scenario_file": scenario_file,
            "repair_correlation": repair_correlation,
            "elasticity": elasticity,
            "sobol_samples": sobol_samples,
            "chunk_size": chunk_size,
        },
    )
    for name, given in (
        ("scenarios", scenarios),
        ("strategies", strategies),
        ("drivers", drivers),
        ("correlations", correlations),
    ):
        if given is not None:  # Python objects no setting holds: the run is not the settings'
            used[f"scenarios.{name}"] = "given in Python"
    return _run(
        ws,
        progress,
        used,
        _Objects(scenarios, strategies, drivers, correlations),
        **kw,
    )


@dataclass(frozen=True)
class _Objects:
    """The Python-only inputs of :func:`analyze`."""

    scenarios: Sequence[Scenario] | None
    strategies: Sequence[Strategy] | None
    drivers: Mapping[str, Any] | None
    correlations: Any


def _run(
    ws: Workspace,
    progress: ProgressCallback,
    settings: Mapping[str, Any],
    objects: _Objects,
    *,
    horizon: int,
    n_trials: int,
    seed: int | None,
    scenario_file: str | Path | None,
    repair_correlation: bool,
    elasticity: float | None,
    sobol_samples: int,
    chunk_size: int,
) -> ScenariosResult:
    scenarios, strategies = objects.scenarios, objects.strategies
    drivers, correlations = objects.drivers, objects.correlations
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    progress("building the P&L model", 0.0)
    model = build_model(
        ws,
        horizon=horizon,
        drivers=drivers,
        correlations=correlations,
        repair_correlation=repair_correlation,
        elasticity=elasticity,
    )
    file_drivers: dict[str, Any] = {}
    if scenario_file is not None:
        f_scen, f_strat, file_drivers = load_scenarios(Path(scenario_file), model)
        if file_drivers:
            model = model.with_drivers(file_drivers, repair_correlation=repair_correlation)
        if scenarios is None:
            scenarios = f_scen
        if strategies is None:
            strategies = f_strat
    scen, _ = _resolve(scenarios, model, default_scenarios, Scenario)
    strat, _ = _resolve(strategies, model, default_strategies, Strategy)
    if isinstance(n_trials, int) and not isinstance(n_trials, bool) and 2 <= n_trials < 1000:
        warnings.warn(
            f"n_trials={n_trials} is small: probabilities are uncertain by about "
            f"±{1 / math.sqrt(n_trials):.0%}; use 10,000 or more",
            SmallSampleWarning,
            stacklevel=2,
        )

    def sim_progress(step: str, fraction: float) -> None:
        progress(step, 0.05 + 0.75 * fraction)

    sim = simulate(
        model,
        n_trials=n_trials,
        seed=seed,
        scenarios=scen,
        strategies=strat,
        chunk_size=chunk_size,
        progress=sim_progress,
    )
    progress("sensitivity (tornado and Sobol indices)", 0.8)
    torn = tornado(model)
    sob = sobol_drivers(model, n=sobol_samples, seed=seed).to_frame()
    result = _result(sim, torn, sob)
    params = {
        "horizon": model.horizon,
        "n_trials": sim.n_trials,
        "seed": seed,
        "scenarios": [s.name for s in scen],
        "strategies": [s.name for s in strat],
        "scenario_file": str(scenario_file) if scenario_file is not None else None,
        "drivers": {k: _jsonable(v) for k, v in {**(drivers or {}), **file_drivers}.items()},
        "repair_correlation": repair_correlation,
        "elasticity": elasticity,
        "sobol_samples": sobol_samples,
        "chunk_size": chunk_size,
    }
    result = ScenariosResult(**{**result.__dict__, "params": params})
    ws.record_run("scenarios", params, result.summary(), started, settings=settings)
    progress("done", 1.0)
    return result


def _jsonable(v: Any) -> Any:
    if hasattr(v, "to_dict"):
        return v.to_dict()
    return v


def _risk_table(sim: Simulation) -> tuple[pd.DataFrame, dict[str, FloatArray]]:
    """Risk metrics per case (with the mean change of first-year profit against the
    baseline) and each case's chance of negative cash by month."""
    h = sim.model.horizon
    rows = []
    by_month: dict[str, FloatArray] = {}
    for name, case in sim.cases.items():
        r = risk_metrics(case, h)
        by_month[name] = r.pop("cash_negative_by_month")
        r["mean_change_vs_baseline"] = (
            float((case.annual_profit - sim.baseline.annual_profit).mean())
            if name != "baseline"
            else 0.0
        )
        rows.append({"scenario": name, "description": case.description, **r})
    risk = pd.DataFrame(rows)
    risk["runway_months"] = risk["runway_months"].astype("Float64")
    risk["median_month_cash_negative"] = risk["median_month_cash_negative"].astype("Float64")

    return risk, by_month


def _fan_table(sim: Simulation) -> pd.DataFrame:
    """Quantiles and mean of monthly profit and cash per case and month (fan charts)."""
    model = sim.model
    h = model.horizon
    fan_rows = []
    for name, case in sim.cases.items():
        for metric, paths in (("profit", case.profit_paths), ("cash", case.cash_paths)):
            q = np.quantile(paths.astype(float), _FAN_Q, axis=0)  # (Q, M)
            for m in range(h):
                fan_rows.append(
                    {
                        "scenario": name,
                        "metric": metric,
                        "month": model.months[m],
                        **{f"p{round(p * 100):02d}": q[i, m] for i, p in enumerate(_FAN_Q)},
                        "mean": float(paths[:, m].astype(float).mean()),
                    }
                )
    fan = pd.DataFrame(fan_rows)

    return fan


def _strategy_tables(sim: Simulation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (strategy, case): the gain's mean, spread (with and without common random
    numbers), chance, quantiles and chance of negative cash; and the gain quantiles."""
    strat_rows = []
    gain_rows = []
    for (st, sc), g in sim.strategy_gain.items():
        base = sim.cases[sc].annual_profit
        sd_crn = float(g.std(ddof=1))
        sd_indep = float(np.sqrt(base.var(ddof=1) + (base + g).var(ddof=1)))
        strat_rows.append(
            {
                "strategy": st,
                "scenario": sc,
                "mean_gain": float(g.mean()),
                "sd_gain": sd_crn,
                "se_mean_gain": sd_crn / math.sqrt(g.size),
                "sd_gain_without_crn": sd_indep,
                "p_gain": float(np.mean(g > 0)),
                "gain_p5": float(np.quantile(g, 0.05)),
                "gain_p50": float(np.quantile(g, 0.50)),
                "gain_p95": float(np.quantile(g, 0.95)),
                "p_cash_negative": sim.strategy_cash_negative[(st, sc)],
                "description": next(s.describe() for s in sim.strategies if s.name == st),
            }
        )
        qs = np.quantile(g, _GAIN_Q)
        gain_rows += [
            {"strategy": st, "scenario": sc, "quantile": float(p), "gain": float(v)}
            for p, v in zip(_GAIN_Q, qs, strict=True)
        ]
    cols = [
        "strategy", "scenario", "mean_gain", "sd_gain", "se_mean_gain", "sd_gain_without_crn",
        "p_gain", "gain_p5", "gain_p50", "gain_p95", "p_cash_negative", "description",
    ]  # fmt: skip
    strategies = pd.DataFrame(strat_rows, columns=cols)
    gains = pd.DataFrame(gain_rows, columns=["strategy", "scenario", "quantile", "gain"])
    return strategies, gains


def _result(sim: Simulation, torn: pd.DataFrame, sob: pd.DataFrame) -> ScenariosResult:
    """Assemble the result tables (:func:`_risk_table`, :func:`_fan_table`,
    :func:`_strategy_tables`) of a simulation."""
    model = sim.model
    h = model.horizon
    risk, by_month = _risk_table(sim)
    fan = _fan_table(sim)
    cash_risk = pd.DataFrame(
        {"month": list(model.months), **{f"p_cash_negative[{k}]": v for k, v in by_month.items()}}
    )
    strategies, gains = _strategy_tables(sim)
    return ScenariosResult(
        currency=model.currency,
        horizon=h,
        year_months=annual_window(model),
        n_trials=sim.n_trials,
        seed=sim.seed,
        months=model.months,
        drivers=model.drivers_frame(),
        baseline_pnl=model.baseline_frame(),
        risk=risk,
        fan=fan,
        cash_risk=cash_risk,
        tornado=torn,
        sobol=sob,
        strategies=strategies,
        strategy_gains=gains,
        notes=model.notes,
    )


# -- evaluate_action -------------------------------------------------------------------


def evaluate_action(
    ws_or_model: Any,
    action: Change | Strategy | Sequence[Change],
    *,
    n_trials: int = 10_000,
    seed: int | None = 0,
    scenario: Scenario | None = None,
    horizon: int | None = None,
) -> ActionImpact:
    """Distribution of the change in first-year profit from taking ``action``.

    The action and doing nothing are simulated on the same random draws (common random
    numbers), optionally under a shock ``scenario``, so the result is the distribution
    of the *difference*, not two noisy totals.

    Parameters
    ----------
    ws_or_model
        An open workspace (a model is built from it quietly; its assumptions are in
        ``build_model(ws).notes``) or a :class:`PnLModel`.
    action
        A shock or action (e.g. ``ShiftChannel("etsy", "shopify", 30)``), a list of
        them, or a :class:`Strategy`.
    n_trials, seed
        Monte Carlo size and seed.
    scenario
        Conditions to compare under (default: the baseline).
    horizon
        Months to simulate (default: the model's horizon, or 12 for a workspace); the
        difference is summed over the first 12 (or all when shorter).

    Returns
    -------
    ActionImpact
    """
    if isinstance(ws_or_model, PnLModel):
        model = ws_or_model
        if horizon is not None and horizon != model.horizon:
            model = model.with_horizon(horizon)
    else:
        model = build_model(ws_or_model, horizon=12 if horizon is None else horizon, warn=False)
    if isinstance(action, Strategy):
        strat = action
    elif isinstance(action, Change):
        strat = Strategy(action.describe(), (action,))
    else:
        try:
            items = tuple(action)
        except TypeError:
            raise ConfigError(
                f"action must be a shock/action, a list of them or a Strategy, not {action!r}"
            ) from None
        strat = Strategy("; ".join(getattr(a, "describe", lambda: "?")() for a in items), items)
    compile_changes(model, strat.actions)
    if scenario is not None and not isinstance(scenario, Scenario):
        raise ConfigError(f"scenario must be a Scenario, not {scenario!r}")
    scen = [scenario] if scenario is not None else []
    sim = simulate(
        model, n_trials=n_trials, seed=seed, scenarios=scen, strategies=[strat], keep_paths=1
    )
    sc = scenario.name if scenario is not None else "baseline"
    return ActionImpact(
        action=strat.describe(),
        currency=model.currency,
        months=annual_window(model),
        values=sim.strategy_gain[(strat.name, sc)],
        scenario=sc,
    )


def evaluate_own_store_shift(
    ws_or_model: Any,
    source: str,
    percent: float,
    *,
    n_trials: int = 10_000,
    seed: int | None = 0,
) -> ActionImpact:
    """Moving ``percent`` % of ``source``'s sales to the own store, with the share of buyers
    who follow uncertain (the business's own-store assumption, a PERT prior).

    The simulation draws the share per future (see ``simulate``: profit is linear in it,
    so each future's gain is exact from the two ends on the same draws). The result's
    ``p_positive`` is the chance the move pays off given both the business's uncertain
    future and the uncertain follow.
    """
    if isinstance(ws_or_model, PnLModel):
        model = ws_or_model
    else:
        model = build_model(ws_or_model, horizon=12, warn=False)
    follow = model.own_store_follow
    move = Strategy("move", (ShiftChannel(source, "own_store", percent),))
    compile_changes(model, move.actions)
    sim = simulate(model, n_trials=n_trials, seed=seed, strategies=[move], keep_paths=1)
    return ActionImpact(
        action=f"move {percent:g}% of {source} sales to the own store ({follow.describe()})",
        currency=model.currency,
        months=annual_window(model),
        values=sim.strategy_gain[(move.name, "baseline")],
    )
