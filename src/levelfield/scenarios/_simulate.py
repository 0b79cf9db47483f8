"""Monte Carlo engine: correlated driver paths, chunked simulation, sensitivity.

Trials are processed in chunks of ``chunk_size``: each chunk draws independent standard
normals ``(months, drivers, trials)``, gives each driver its month-to-month persistence
(an AR(1) recursion over months), mixes drivers to the target rank correlation
(Gaussian copula) and maps each driver through its quantile function. The baseline,
every scenario and every strategy are evaluated on the *same* chunk of draws (common
random numbers), so differences between them carry no sampling noise from the drivers.
Per trial, only a few numbers are kept (first-year profit, lowest cash, first month with
negative cash, strategy differences); monthly paths are kept for the first
``keep_paths`` trials (a random sample, since trials are exchangeable) for fan charts.
Memory is therefore bounded by the chunk size plus a few numbers per trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from levelfield.errors import ConfigError
from levelfield.findings import ProgressCallback, no_progress
from levelfield.scenarios._model import Adjustments, PnLModel, monthly_profit
from levelfield.scenarios._shocks import (
    Change,
    Scenario,
    ShiftChannel,
    Strategy,
    compile_changes,
)
from levelfield.scenarios._sobol import SobolIndices, saltelli_jansen

__all__ = [
    "CaseOutcome",
    "Simulation",
    "annual_window",
    "draw_latent",
    "driver_values",
    "simulate",
    "sobol_drivers",
    "tornado",
]

FloatArray = NDArray[np.float64]

#: Latent normal quantile of the 10th percentile (tornado swings use P10 and P90).
_Z10 = -1.2815515655446004


def annual_window(model: PnLModel) -> int:
    """Months summed into the "year" figures: 12, or the horizon when shorter."""
    return min(12, model.horizon)


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    if int(value) < low:
        raise ConfigError(f"{name} must be at least {low}, got {value}")
    return int(value)


def draw_latent(
    model: PnLModel, n: int, rng: np.random.Generator, *, correlated: bool = True
) -> NDArray[np.float32]:
    """Latent standard normals ``(drivers, months, n)`` with persistence and correlation.

    Single precision: the latent normals only choose quantiles, and 7 significant
    digits are far finer than the Monte Carlo error, while halving memory traffic.
    """
    k, m = len(model.drivers), model.horizon
    e = rng.standard_normal((k, m, n), dtype=np.float32)
    _persist(model, e)
    if correlated:
        # One matrix product per group of correlated drivers, over all months and trials.
        for idx, mix in model.mixing_blocks:
            b = idx.size
            mix32 = mix.astype(np.float32)
            if idx[-1] - idx[0] == b - 1:  # contiguous drivers: work on a view
                view = e[idx[0] : idx[0] + b].reshape(b, m * n)
                view[:] = mix32 @ view
            else:
                e[idx] = (mix32 @ e[idx].reshape(b, m * n)).reshape(b, m, n)
    return e


def _persist(model: PnLModel, e: NDArray[np.floating[Any]]) -> None:
    """AR(1) over months in place: ``z_m = phi z_{m-1} + sqrt(1 - phi^2) e_m``."""
    phi = np.array([d.persistence for d in model.drivers])
    for i in np.nonzero(phi)[0]:  # per driver, vectorized over months' trials
        p, c = phi[i], np.sqrt(1.0 - phi[i] ** 2)
        zi = e[i]
        if p == 1.0:
            zi[1:] = zi[0]
            continue
        for m in range(1, zi.shape[0]):  # months, not trials
            zi[m] *= c
            zi[m] += p * zi[m - 1]


def driver_values(model: PnLModel, z: NDArray[np.floating[Any]]) -> FloatArray:
    """Driver values ``(drivers, months, n)`` (double precision) from latent normals."""
    x = np.empty(z.shape)
    for i, d in enumerate(model.drivers):  # one vectorized transform per driver
        x[i] = d.distribution.from_normal(z[i])
    return x


@dataclass(frozen=True, eq=False)
class CaseOutcome:
    """Per-trial outcomes of one case (baseline or scenario).

    ``annual_profit``: profit over the first year (or the horizon when shorter);
    ``min_cash``: lowest month-end cash; ``first_negative``: first month (1-based) with
    negative cash, 0 when never; ``profit_paths``/``cash_paths``: monthly paths of the
    first ``keep_paths`` trials, ``(trials, months)``.
    """

    name: str
    description: str
    annual_profit: FloatArray
    total_profit: FloatArray
    min_cash: FloatArray
    first_negative: NDArray[np.int16]
    profit_paths: NDArray[np.float32]
    cash_paths: NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class Simulation:
    """Everything a simulation produced.

    ``strategy_gain[(strategy, scenario)]`` is the per-trial difference in first-year
    profit between the strategy and doing nothing, both under ``scenario`` and the same
    draws; ``strategy_cash_negative[(strategy, scenario)]`` the probability that cash
    goes below zero with the strategy.
    """

    model: PnLModel
    n_trials: int
    seed: int | None
    cases: dict[str, CaseOutcome]
    strategy_gain: dict[tuple[str, str], FloatArray]
    strategy_cash_negative: dict[tuple[str, str], float]
    strategies: tuple[Strategy, ...]
    scenarios: tuple[Scenario, ...]

    @property
    def baseline(self) -> CaseOutcome:
        return self.cases["baseline"]


def _unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ConfigError(f"two {what}s are named {n!r}; give each a different name")
        seen.add(n)


def _follow_ends(strategy: Strategy) -> tuple[tuple[Change, ...], ...]:
    """The strategy's actions, or (nobody follows, everybody follows) when it moves sales
    to the own store under the business's uncertain own-store assumption.

    Profit is linear in the share of buyers who follow, so a future's profit at its drawn
    share is exact from these two ends (one uncertain shift per strategy; with several,
    they share the draw).
    """
    uncertain = [
        a for a in strategy.actions if isinstance(a, ShiftChannel) and a.follow_percent is None
    ]
    if not uncertain:
        return (strategy.actions,)
    return tuple(
        tuple(replace(a, follow_percent=end) if a in uncertain else a for a in strategy.actions)
        for end in (0.0, 100.0)
    )


def _check_simulation_inputs(
    n_trials: int,
    chunk_size: int,
    keep_paths: int,
    seed: int | None,
    scenarios: Sequence[Scenario],
    strategies: Sequence[Strategy],
) -> tuple[int, int, int]:
    """Checked ``(n_trials, chunk_size, keep_paths)``; :class:`ConfigError` for a bad
    seed, a non-scenario or non-strategy, or a repeated name."""
    n_trials = _check_int(n_trials, "n_trials", 2)
    chunk_size = _check_int(chunk_size, "chunk_size", 1)
    keep_paths = _check_int(keep_paths, "keep_paths", 1)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ConfigError(f"seed must be a whole number or None, not {seed!r}")
    for sc in scenarios:
        if not isinstance(sc, Scenario):
            raise ConfigError(f"{sc!r} is not a Scenario")
    for st in strategies:
        if not isinstance(st, Strategy):
            raise ConfigError(f"{st!r} is not a Strategy")
    _unique(["baseline", *(s.name for s in scenarios)], "scenario")
    _unique([s.name for s in strategies], "strategy")
    return n_trials, chunk_size, keep_paths


def _compile_cases(
    model: PnLModel, scenarios: Sequence[Scenario], strategies: Sequence[Strategy]
) -> tuple[list[tuple[str, str, Adjustments]], dict[tuple[str, str], tuple[Adjustments, ...]]]:
    """The cases (baseline and each scenario: name, description, adjustments) and, per
    (strategy, case), the adjustments of the strategy under that case's shocks (two
    when the share of buyers who follow is uncertain: its ends, 0 % and 100 %)."""
    cases: list[tuple[str, str, Adjustments]] = [
        ("baseline", "no shock", Adjustments.neutral(model))
    ]
    cases += [(s.name, s.describe(), compile_changes(model, s.shocks)) for s in scenarios]
    strat_adj: dict[tuple[str, str], tuple[Adjustments, ...]] = {}
    for st in strategies:
        for sc_name, _, _ in cases:
            shocks: tuple[Change, ...] = ()
            if sc_name != "baseline":
                shocks = next(s for s in scenarios if s.name == sc_name).shocks
            strat_adj[(st.name, sc_name)] = tuple(
                compile_changes(model, (*actions, *shocks)) for actions in _follow_ends(st)
            )
    return cases, strat_adj


@dataclass
class _Results:
    """Per-trial outcomes filled chunk by chunk (arrays by case or (strategy, case))."""

    annual: dict[str, FloatArray]
    total: dict[str, FloatArray]
    min_cash: dict[str, FloatArray]
    first_neg: dict[str, NDArray[np.int16]]
    p_paths: dict[str, NDArray[np.float32]]
    c_paths: dict[str, NDArray[np.float32]]
    gain: dict[tuple[str, str], FloatArray]
    neg_count: dict[tuple[str, str], int]

    @classmethod
    def empty(
        cls, names: Sequence[str], keys: Sequence[tuple[str, str]], n_trials: int, keep: int, m: int
    ) -> _Results:
        """Buffers for ``n_trials`` trials, ``keep`` kept paths of ``m`` months."""
        return cls(
            annual={c: np.empty(n_trials) for c in names},
            total={c: np.empty(n_trials) for c in names},
            min_cash={c: np.empty(n_trials) for c in names},
            first_neg={c: np.empty(n_trials, dtype=np.int16) for c in names},
            p_paths={c: np.empty((keep, m), dtype=np.float32) for c in names},
            c_paths={c: np.empty((keep, m), dtype=np.float32) for c in names},
            gain={key: np.empty(n_trials) for key in keys},
            neg_count=dict.fromkeys(keys, 0),
        )

    def record_case(
        self, name: str, model: PnLModel, profit: FloatArray, year: int, done: int, keep: int
    ) -> FloatArray:
        """Store one chunk's outcomes of case ``name`` (trials ``done`` onwards) from its
        monthly profit (months x trials); return its first-year profit per trial."""
        n = profit.shape[1]
        sl = slice(done, done + n)
        cash = np.cumsum(profit, axis=0)
        cash += model.opening_cash
        first_year: FloatArray = profit[:year].sum(axis=0)
        self.annual[name][sl] = first_year
        self.total[name][sl] = cash[-1] - model.opening_cash
        self.min_cash[name][sl] = cash.min(axis=0)
        neg = cash < 0
        self.first_neg[name][sl] = np.where(neg.any(axis=0), neg.argmax(axis=0) + 1, 0)
        if done < keep:
            k = min(keep - done, n)
            self.p_paths[name][done : done + k] = profit[:, :k].T
            self.c_paths[name][done : done + k] = cash[:, :k].T
        return first_year


def _simulate_chunk(
    model: PnLModel,
    x: Any,
    follow: FloatArray,
    cases: Sequence[tuple[str, str, Adjustments]],
    strat_adj: Mapping[tuple[str, str], tuple[Adjustments, ...]],
    out: _Results,
    place: tuple[int, int, int],
) -> None:
    """Evaluate every case and strategy on one chunk of driver draws ``x``.

    ``place`` is (first trial of the chunk, kept paths, first-year months). A
    strategy's gain is its first-year profit minus the case's; profit is linear in the
    share that follows, so two evaluations at its ends give every draw's value.
    """
    done, keep, year = place
    base_annual: dict[str, FloatArray] = {}
    for name, _, adj in cases:
        base_annual[name] = out.record_case(
            name, model, monthly_profit(model, x, adj), year, done, keep
        )
    for (st_name, sc_name), adjs in strat_adj.items():
        profit = monthly_profit(model, x, adjs[0])
        sl = slice(done, done + profit.shape[1])
        if len(adjs) == 2:  # profit is linear in the share that follows
            profit = profit + (monthly_profit(model, x, adjs[1]) - profit) * follow[sl]
        out.gain[(st_name, sc_name)][sl] = profit[:year].sum(axis=0) - base_annual[sc_name]
        cash = np.cumsum(profit, axis=0)
        out.neg_count[(st_name, sc_name)] += int((cash.min(axis=0) + model.opening_cash < 0).sum())


def simulate(
    model: PnLModel,
    *,
    n_trials: int = 20_000,
    seed: int | None = 0,
    scenarios: Sequence[Scenario] = (),
    strategies: Sequence[Strategy] = (),
    chunk_size: int = 25_000,
    keep_paths: int = 20_000,
    progress: ProgressCallback = no_progress,
) -> Simulation:
    """Run the Monte Carlo P&L for the baseline, scenarios and strategies.

    Stages: check the inputs, compile the cases (:func:`_compile_cases`), then per
    chunk of draws evaluate them (:func:`_simulate_chunk`).

    Parameters
    ----------
    model
        The P&L model (:func:`build_model`).
    n_trials
        Number of simulated futures (each ``horizon`` months long).
    seed
        Seed of the random generator: the same seed, model and ``chunk_size`` give
        identical results.
    scenarios
        Shock scenarios; each is evaluated on the same draws as the baseline.
    strategies
        Strategies; each is evaluated against doing nothing under the baseline and
        under every scenario, on the same draws.
    chunk_size
        Trials per chunk (memory is about ``chunk_size x months x drivers x 24`` bytes).
    keep_paths
        Trials whose monthly paths are kept for fan charts.
    progress
        ``progress(step, fraction)`` callback.

    Returns
    -------
    Simulation
    """
    n_trials, chunk_size, keep_paths = _check_simulation_inputs(
        n_trials, chunk_size, keep_paths, seed, scenarios, strategies
    )
    year = annual_window(model)
    cases, strat_adj = _compile_cases(model, scenarios, strategies)
    # One draw per future of the share of buyers who follow to the own store (the
    # business's own-store assumption), shared by every strategy that relies on it.
    follow = model.own_store_follow.sample(n_trials, seed=(0 if seed is None else int(seed)) + 1)
    keep = min(keep_paths, n_trials)
    out = _Results.empty([c[0] for c in cases], list(strat_adj), n_trials, keep, model.horizon)
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_trials:
        n = min(chunk_size, n_trials - done)
        x = driver_values(model, draw_latent(model, n, rng))
        _simulate_chunk(model, x, follow, cases, strat_adj, out, (done, keep, year))
        done += n
        progress(f"simulated {done:,} of {n_trials:,} trials", done / n_trials)
    outcomes = {
        name: CaseOutcome(
            name,
            desc,
            out.annual[name],
            out.total[name],
            out.min_cash[name],
            out.first_neg[name],
            out.p_paths[name],
            out.c_paths[name],
        )
        for name, desc, _ in cases
    }
    return Simulation(
        model=model,
        n_trials=n_trials,
        seed=seed,
        cases=outcomes,
        strategy_gain=out.gain,
        strategy_cash_negative={k: v / n_trials for k, v in out.neg_count.items()},
        strategies=tuple(strategies),
        scenarios=tuple(scenarios),
    )


def tornado(model: PnLModel, adj: Adjustments | None = None) -> Any:
    """One-at-a-time swings of first-year profit with each driver at its P10 and P90.

    All other drivers stay at their median (latent ``z = 0``); a driver's whole monthly
    path is set to its 10th or 90th percentile. Returns a DataFrame sorted by swing.
    """
    import pandas as pd

    k, m = len(model.drivers), model.horizon
    z = np.zeros((k, m, 2 * k + 1))
    idx = np.arange(k)
    z[idx, :, 1 + idx] = _Z10
    z[idx, :, 1 + k + idx] = -_Z10
    x = driver_values(model, z)
    profit = monthly_profit(model, x, adj or Adjustments.neutral(model))
    year = profit[: annual_window(model)].sum(axis=0)
    low, high = year[1 : 1 + k], year[1 + k :]
    q = np.array([[d.distribution.from_normal(np.array([v]))[0] for v in (_Z10, -_Z10)]
                  for d in model.drivers]).reshape(k, 2)  # fmt: skip
    df = pd.DataFrame(
        {
            "driver": list(model.driver_names),
            "value_p10": q[:, 0],
            "value_p90": q[:, 1],
            "profit_at_p10": low,
            "profit_at_p90": high,
            "swing": np.abs(high - low),
            "profit_at_median": year[0],
        }
    )
    return df.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


def sobol_drivers(
    model: PnLModel,
    *,
    n: int = 1024,
    seed: int | None = 0,
    adj: Adjustments | None = None,
    n_bootstrap: int = 100,
) -> SobolIndices:
    """Sobol first-order and total indices of first-year profit for each driver.

    Each driver's whole monthly path is one input. Variance decomposition needs
    independent inputs, so drivers are sampled without their cross-correlation here;
    each keeps its own month-to-month persistence.

    References
    ----------
    Saltelli et al. (2010); Jansen (1999).
    """
    n = _check_int(n, "sobol n", 2)
    k, m = len(model.drivers), model.horizon
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m, n))
    b = rng.standard_normal((k, m, n))
    _persist(model, a)
    _persist(model, b)
    adj = adj or Adjustments.neutral(model)
    year = annual_window(model)

    def f(z: FloatArray) -> FloatArray:
        out: FloatArray = monthly_profit(model, driver_values(model, z), adj)[:year].sum(axis=0)
        return out

    f_a, f_b = f(a), f(b)
    f_ab = np.empty((k, n))
    for i in range(k):  # one batch per driver
        ab = a.copy()
        ab[i] = b[i]
        f_ab[i] = f(ab)
    s1, st, c1, ct = saltelli_jansen(f_a, f_b, f_ab, n_bootstrap=n_bootstrap, seed=seed)
    var = float(np.var(np.concatenate([f_a, f_b])))
    if var <= 0:
        s1 = st = np.zeros(k)
    return SobolIndices(model.driver_names, s1, st, c1, ct, n * (k + 2), var)
