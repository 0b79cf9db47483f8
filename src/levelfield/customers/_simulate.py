"""Draw customer summaries from the BG/NBD, Pareto/NBD and Gamma-Gamma models.

For tests and benchmarks: every draw is exact (no time grid) and vectorized.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from levelfield.errors import ConfigError

__all__ = [
    "simulate_bgnbd_summary",
    "simulate_calibration_holdout",
    "simulate_gamma_gamma_spend",
]

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


def simulate_calibration_holdout(
    model: str,
    params: dict[str, float],
    T: ArrayLike,
    holdout: float,
    rng: np.random.Generator,
) -> tuple[Array, Array, Array, Array]:
    """Calibration summary and holdout purchases of customers drawn from a count model.

    Parameters
    ----------
    model
        ``"bgnbd"`` (params ``r, alpha, a, b``) or ``"pareto_nbd"`` (``r, alpha, s,
        beta``); ``alpha`` and ``beta`` in the unit of ``T``.
    T
        Each customer's age at the end of calibration (one value per customer).
    holdout
        Length of the holdout period (unit of ``T``).
    rng
        Source of randomness.

    Returns
    -------
    frequency, recency, T, holdout_frequency
        Repeat purchases and time of the last one in calibration, age, and the number
        of purchases in ``(T, T + holdout]``.

    Notes
    -----
    BG/NBD: with ``N ~ Poisson(lambda (T + h))`` purchase opportunities in the whole
    window and ``J ~ Geometric(p)`` purchases before drop-out, ``m = min(N, J)`` happen;
    ``C ~ Binomial(N, T / (T + h))`` opportunities fall in calibration, so ``x = min(m, C)``
    and the holdout has ``m - x``; the ``x``-th of ``C`` uniform order statistics on
    ``[0, T]`` is ``T Beta(x, C - x + 1)``. Pareto/NBD: lifetime ``tau ~ Exp(mu)``;
    purchases are Poisson on ``[0, min(tau, T)]`` and ``(T, min(tau, T + h)]``; the last
    calibration purchase is the maximum of ``x`` uniforms on ``[0, min(tau, T)]``.
    """
    T_ = np.asarray(T, dtype=float)
    if T_.ndim != 1 or not (np.isfinite(T_).all() and (T_ > 0).all()):
        raise ConfigError("T must be one positive age per customer")
    if not (isinstance(holdout, int | float) and holdout > 0):
        raise ConfigError(f"holdout must be a length > 0, not {holdout!r}")
    names = {"bgnbd": ("r", "alpha", "a", "b"), "pareto_nbd": ("r", "alpha", "s", "beta")}
    if model not in names:
        raise ConfigError(f"model must be 'bgnbd' or 'pareto_nbd', not {model!r}")
    missing = [k for k in names[model] if k not in params]
    if missing:
        raise ConfigError(f"params lacks {', '.join(missing)} for {model}")
    _positive(**{k: params[k] for k in names[model]})
    n = len(T_)
    W = T_ + holdout
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    if model == "bgnbd":
        p = rng.beta(params["a"], params["b"], n)
        N = rng.poisson(lam * W)
        m = np.minimum(N, rng.geometric(np.clip(p, 1e-12, 1.0)))
        C = rng.binomial(N, T_ / W)
        x = np.minimum(m, C)
        hold = m - x
        t_x = T_ * rng.beta(np.maximum(x, 1), np.maximum(C - x + 1, 1))
    else:
        mu = rng.gamma(params["s"], 1.0 / params["beta"], n)
        tau = rng.exponential(1.0, n) / mu
        end_cal = np.minimum(tau, T_)
        x = rng.poisson(lam * end_cal)
        hold = rng.poisson(lam * (np.minimum(tau, W) - end_cal))
        t_x = end_cal * rng.beta(np.maximum(x, 1), 1.0)
    t_x = np.where(x > 0, t_x, 0.0)
    return x.astype(float), t_x, T_.copy(), hold.astype(float)
