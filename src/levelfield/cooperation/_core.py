"""Core, least core and nucleolus of cost games given on bitmask-indexed coalitions.

A cost allocation ``x`` (what each member pays, ``x.sum() == c(N)``) is in the **core**
when no coalition ``S`` pays more together than it would alone: ``x(S) <= c(S)``. The
*gain from leaving* of ``S`` is ``x(S) - c(S)``; the **least core** minimizes the largest
gain (a linear programme), and the **nucleolus** minimizes the gains lexicographically
(sequence of linear programmes), so it lies in the core whenever the core is non-empty.

References
----------
Schmeidler, D. (1969). The nucleolus of a characteristic function game. SIAM Journal on
    Applied Mathematics 17(6), 1163-1170.
Maschler, M., Peleg, B., Shapley, L. S. (1979). Geometric properties of the kernel,
    nucleolus and related solution concepts. Mathematics of Operations Research 4(4),
    303-338.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

from levelfield.cooperation._shapley import FloatArray, _players, subset_sums
from levelfield.errors import ConfigError, ModelError

__all__ = ["LP_MAX_PLAYERS", "CoreCheck", "core_check", "least_core", "nucleolus"]

LP_MAX_PLAYERS = 14
"""Largest game for the least-core and nucleolus programmes (2**14 constraints)."""

_TOL = 1e-7


@dataclass(frozen=True)
class CoreCheck:
    """Whether an allocation is in the core, and the coalition with most to gain by leaving.

    ``max_gain`` is ``max_S x(S) - c(S)`` over proper coalitions (currency); the allocation
    is in the core when it is not positive. ``blocking`` lists the players of the coalition
    that gains most (empty when none gains).
    """

    in_core: bool
    max_gain: float
    blocking: tuple[int, ...]


def _members(mask: int, n: int) -> tuple[int, ...]:
    return tuple(i for i in range(n) if (mask >> i) & 1)


def core_check(costs: FloatArray, allocation: FloatArray, tol: float = 1e-6) -> CoreCheck:
    """Check ``allocation`` against every coalition of the cost game ``costs`` (exact).

    ``tol`` is in currency and relative to ``|c(N)|`` (whichever is larger), so rounding
    of cents does not count as a gain.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([0.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0])  # airport game 1, 2, 3
    >>> check = core_check(cost, np.array([1 / 3, 5 / 6, 11 / 6]))
    >>> check.in_core, check.blocking
    (True, ())
    """
    c = np.asarray(costs, dtype=np.float64)
    n = _players(c)
    x = np.asarray(allocation, dtype=np.float64)
    if x.shape != (n,) or not np.all(np.isfinite(x)):
        raise ConfigError(f"allocation must be {n} finite numbers, one per player")
    gain = subset_sums(x[:, None])[:, 0] - c
    gain[0] = gain[-1] = -np.inf
    best = int(np.argmax(gain))
    limit = tol * max(1.0, abs(float(c[-1])))
    max_gain = float(gain[best]) if n > 1 else 0.0
    inside = max_gain <= limit
    return CoreCheck(inside, max_gain, () if inside else _members(best, n))


def _check_lp_size(c: FloatArray) -> int:
    n = _players(c)
    if n > LP_MAX_PLAYERS:
        raise ConfigError(
            f"the least core and nucleolus are solved for up to {LP_MAX_PLAYERS} players; "
            f"this game has {n}"
        )
    return n


def _indicators(n: int) -> NDArray[np.float64]:
    masks = np.arange(1 << n, dtype=np.int64)
    return ((masks[:, None] >> np.arange(n)) & 1).astype(np.float64)


def least_core(costs: FloatArray) -> tuple[FloatArray, float]:
    """A least-core allocation and its largest gain from leaving ``epsilon``.

    The core is non-empty exactly when ``epsilon <= 0`` (then the returned allocation is
    in the core). Solved as one linear programme with ``scipy.optimize.linprog`` (HiGHS).
    """
    c = np.asarray(costs, dtype=np.float64)
    n = _check_lp_size(c)
    a = _indicators(n)[1:-1]
    a_ub = np.hstack([a, -np.ones((a.shape[0], 1))])
    a_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
    obj = np.zeros(n + 1)
    obj[-1] = 1.0
    res = linprog(
        obj,
        A_ub=a_ub if n > 1 else None,
        b_ub=c[1:-1] if n > 1 else None,
        A_eq=a_eq,
        b_eq=[c[-1]],
        bounds=[(None, None)] * (n + 1),
        method="highs",
    )
    if res.status != 0:
        raise ModelError(f"the least-core programme failed: {res.message}")
    return np.asarray(res.x[:n]), float(res.x[-1]) if n > 1 else 0.0


def _in_span(basis_rows: NDArray[np.float64], rows: NDArray[np.float64]) -> NDArray[np.bool_]:
    q, r = np.linalg.qr(basis_rows.T)
    q = q[:, np.abs(np.diag(r)) > 1e-9] if r.size else q[:, :0]
    resid = rows - (rows @ q) @ q.T
    return np.asarray(np.abs(resid).max(axis=1) < 1e-9)


def nucleolus(costs: FloatArray) -> FloatArray:
    """Nucleolus of a cost game (imputations: nobody pays more than alone).

    Sequential linear programmes (Maschler, Peleg & Shapley 1979): minimize the largest
    gain from leaving, fix the coalitions whose constraint has a positive dual multiplier
    (tight in every optimum, by complementary slackness), and repeat on the rest until
    the fixed coalitions determine the allocation.
    """
    c = np.asarray(costs, dtype=np.float64)
    n = _check_lp_size(c)
    ind = _indicators(n)
    free = np.arange(1, (1 << n) - 1)
    fixed_rows = [ind[-1]]
    fixed_rhs = [float(c[-1])]
    bounds = [(None, float(c[1 << i])) for i in range(n)] + [(None, None)]
    x = np.full(n, float(c[-1]) / n)
    while free.size and np.linalg.matrix_rank(np.array(fixed_rows)) < n:
        a_ub = np.hstack([ind[free], -np.ones((free.size, 1))])
        a_eq = np.hstack([np.array(fixed_rows), np.zeros((len(fixed_rows), 1))])
        obj = np.zeros(n + 1)
        obj[-1] = 1.0
        res = linprog(obj, A_ub=a_ub, b_ub=c[free], A_eq=a_eq, b_eq=fixed_rhs, bounds=bounds)
        if res.status != 0:
            raise ModelError(f"the nucleolus programme failed: {res.message}")
        x, t = np.asarray(res.x[:n]), float(res.x[-1])
        binding = np.asarray(res.ineqlin.marginals) < -_TOL
        if not binding.any():  # cannot happen for an optimal dual (duals sum to 1)
            raise ModelError("the nucleolus programme returned no binding coalition")
        for s in free[binding]:
            fixed_rows.append(ind[s])
            fixed_rhs.append(float(c[s]) + t)
        rest = free[~binding]
        free = rest[~_in_span(np.array(fixed_rows), ind[rest])] if rest.size else rest
    if np.linalg.matrix_rank(np.array(fixed_rows)) == n:
        x = np.linalg.lstsq(np.array(fixed_rows), np.array(fixed_rhs), rcond=None)[0]
    return np.asarray(x, dtype=np.float64)
