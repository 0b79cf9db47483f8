"""Draw customer summaries from the BG/NBD and Gamma-Gamma models (for tests, benchmarks)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from levelfield.errors import ConfigError

__all__ = ["simulate_bgnbd_summary", "simulate_gamma_gamma_spend"]

Array = NDArray[np.float64]


def _positive(**kw: float) -> None:
    for k, v in kw.items():
        if not (isinstance(v, int | float) and v > 0):
            raise ConfigError(f"{k} must be a number > 0, not {v!r}")


def simulate_bgnbd_summary(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    rng: np.random.Generator,
) -> tuple[Array, Array, Array]:
    """Frequency, recency and T of ``n`` customers drawn from a BG/NBD.

    Each customer buys at rate ``lambda ~ Gamma(r, alpha)`` (alpha a rate) and drops out
    after each repeat purchase with probability ``p ~ Beta(a, b)``. With ``N ~
    Poisson(lambda T)`` purchase opportunities and ``J ~ Geometric(p)`` repeat purchases
    before drop-out, ``x = min(N, J)``; given ``N``, purchase times are uniform order
    statistics, so ``t_x = T * Beta(x, N - x + 1)``.

    Parameters
    ----------
    n
        Number of customers.
    r, alpha, a, b
        True parameters (alpha in the unit of ``T``).
    T
        Age of each customer (scalar or ``n`` values).
    rng
        Source of randomness.
    """
    _positive(r=r, alpha=alpha, a=a, b=b)
    if not (isinstance(n, int) and n > 0):
        raise ConfigError(f"n must be a positive whole number, not {n!r}")
    T_ = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    N = rng.poisson(lam * T_)
    J = rng.geometric(np.clip(p, 1e-12, 1.0))
    x = np.minimum(N, J)
    pos = x > 0
    t_x = np.zeros(n)
    t_x[pos] = T_[pos] * rng.beta(x[pos], N[pos] - x[pos] + 1)
    return x.astype(float), t_x, T_


def simulate_gamma_gamma_spend(
    frequency: ArrayLike, p: float, q: float, gamma: float, rng: np.random.Generator
) -> Array:
    """Mean spend of each customer's ``frequency`` purchases under the Gamma-Gamma model.

    ``nu ~ Gamma(q, gamma)`` (rate) per customer; the sum of ``x`` purchases is
    ``Gamma(p x, nu)``. Customers with ``x = 0`` get 0.
    """
    _positive(p=p, q=q, gamma=gamma)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    shape = np.where(x > 0, p * x, 1.0)
    total = rng.gamma(shape, 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1.0), 0.0)
