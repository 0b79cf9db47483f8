"""Shapley value kernels: exact over bitmask-indexed coalitions, and permutation sampling.

A coalition of ``n`` players is the integer bitmask ``S`` (bit ``i`` set when player ``i``
is in it); a game is the array ``values[S]`` of length ``2**n``. Work is vectorized over
coalitions; the only Python loops run over players (at most about 20).

References
----------
Shapley, L. S. (1953). A value for n-person games. Contributions to the Theory of Games II,
    307-317.
Castro, J., Gomez, D., Tejada, J. (2009). Polynomial calculation of the Shapley value based
    on sampling. Computers & Operations Research 36(5), 1726-1730.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from levelfield.errors import ConfigError

__all__ = [
    "EXACT_MAX_PLAYERS",
    "SampledShapley",
    "popcount",
    "shapley_exact",
    "shapley_sampled",
    "subset_sums",
]

EXACT_MAX_PLAYERS = 20
"""Largest game solved exactly: 2**20 coalitions, about 8 MB per float array."""

FloatArray = NDArray[np.float64]
PrefixCosts = Callable[[NDArray[np.int64]], FloatArray]


def _players(values: FloatArray) -> int:
    size = int(values.shape[0])
    n = size.bit_length() - 1
    if values.ndim != 1 or size < 2 or (1 << n) != size:
        raise ConfigError(
            f"a game needs one value per coalition (2**n of them); got {values.shape}"
        )
    if n > EXACT_MAX_PLAYERS:
        raise ConfigError(
            f"{n} players is beyond the exact limit of {EXACT_MAX_PLAYERS}; use shapley_sampled"
        )
    if not np.all(np.isfinite(values)):
        raise ConfigError("every coalition value must be a finite number")
    return n


def popcount(n: int) -> NDArray[np.int64]:
    """Size of each coalition ``0 .. 2**n - 1`` (number of set bits)."""
    sizes = np.zeros(1 << n, dtype=np.int64)
    for i in range(n):  # doubling: coalitions with bit i are those without it, plus one
        sizes[1 << i : 1 << (i + 1)] = sizes[: 1 << i] + 1
    return sizes


def subset_sums(x: FloatArray) -> FloatArray:
    """Sum of the rows of ``x`` (players × features) over every coalition.

    Returns an array ``(2**n, features)``: row ``S`` is ``x[S].sum(axis=0)``.
    """
    n = int(x.shape[0])
    out = np.zeros((1 << n, *x.shape[1:]), dtype=np.float64)
    for i in range(n):
        out[1 << i : 1 << (i + 1)] = out[: 1 << i] + x[i]
    return out


def shapley_exact(values: FloatArray) -> FloatArray:
    """Exact Shapley value of a game given on all ``2**n`` coalitions.

    ``phi_i = sum_{S not containing i} |S|! (n-|S|-1)! / n! * (v(S + i) - v(S))``,
    evaluated for all ``S`` at once per player. ``values[0]`` (the empty coalition) is
    taken as the game's zero; only differences matter.

    Parameters
    ----------
    values
        ``float`` array of length ``2**n``, ``n <= 20``; cost or worth, in currency.

    Returns
    -------
    Array of length ``n``; it sums to ``values[-1] - values[0]`` (efficiency).

    Examples
    --------
    The airport game of Littlechild & Owen (1973): three planes need runways of cost 1, 2
    and 3, a coalition pays for its longest. The Shapley value splits each runway segment
    equally among the planes that use it: 1/3, 1/3 + 1/2 and 1/3 + 1/2 + 1.

    >>> import numpy as np
    >>> need = np.array([1.0, 2.0, 3.0])
    >>> cost = np.array([max((need[i] for i in range(3) if s >> i & 1), default=0.0)
    ...                  for s in range(8)])  # cost of each coalition, bitmask-indexed
    >>> shapley_exact(cost).round(4)
    array([0.3333, 0.8333, 1.8333])
    """
    v = np.asarray(values, dtype=np.float64)
    n = _players(v)
    sizes = popcount(n)
    log_fact = gammaln(np.arange(n + 1) + 1.0)
    weight = np.exp(log_fact[:n] + log_fact[n - 1 :: -1] - log_fact[n])  # by |S|
    masks = np.arange(1 << n, dtype=np.int64)
    phi = np.empty(n)
    for i in range(n):
        without = masks[(masks >> i) & 1 == 0]
        phi[i] = np.dot(weight[sizes[without]], v[without | (1 << i)] - v[without])
    return phi


@dataclass(frozen=True)
class SampledShapley:
    """Permutation-sampling estimate of the Shapley value.

    ``value`` sums exactly to the grand coalition's value (every permutation does);
    ``standard_error`` is the per-player standard error of the mean marginal contribution.
    """

    value: FloatArray
    standard_error: FloatArray
    permutations: int


def shapley_sampled(
    prefix_costs: PrefixCosts,
    n: int,
    *,
    permutations: int = 2000,
    batch: int = 64,
    seed: int | np.random.Generator | None = 0,
) -> SampledShapley:
    """Shapley value by random permutations (Castro, Gomez & Tejada 2009).

    Parameters
    ----------
    prefix_costs
        Vectorized game: given permutations ``(B, n)`` of player indices, returns
        ``(B, n)`` values of each prefix (the first ``k + 1`` players of each row).
    n
        Number of players.
    permutations
        Number of random orders; the standard error shrinks as ``1 / sqrt(permutations)``.
    batch
        Orders evaluated at once (memory grows linearly with it).
    seed
        Seed or ``numpy.random.Generator``.
    """
    if n < 1 or permutations < 2 or batch < 1:
        raise ConfigError("need at least 1 player, 2 permutations and a batch of 1 or more")
    rng = np.random.default_rng(seed)
    total = np.zeros(n)
    total_sq = np.zeros(n)
    done = 0
    while done < permutations:
        b = min(batch, permutations - done)
        perms = rng.permuted(np.tile(np.arange(n, dtype=np.int64), (b, 1)), axis=1)
        prefix = np.asarray(prefix_costs(perms), dtype=np.float64)
        marginal = np.diff(prefix, axis=1, prepend=0.0)
        by_player = np.take_along_axis(marginal, np.argsort(perms, axis=1), axis=1)
        total += by_player.sum(axis=0)
        total_sq += np.square(by_player).sum(axis=0)
        done += b
    mean = total / done
    var = np.maximum(total_sq / done - mean**2, 0.0) * done / (done - 1)
    return SampledShapley(mean, np.sqrt(var / done), done)
