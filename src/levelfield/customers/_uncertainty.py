"""Per-customer intervals from parameter uncertainty (delta method), next purchase dates.

P(alive) and expected value of each customer are functions of the fitted parameters;
their sampling uncertainty follows from the asymptotic covariance of the maximum
likelihood estimates (the inverse observed information) by the delta method:
``Var f(theta_hat) ~ g' Sigma g`` with ``g`` the gradient of ``f``. Gradients are taken
by central differences in the log-parameters (``2 k`` evaluations of the vectorized
prediction for ``k`` parameters, all customers at once), and intervals are formed on
the logit scale for probabilities and the log scale for values, so they stay inside
(0, 1) and (0, inf). The count model and the spend model are fitted on independent
likelihoods, so their covariances are combined block-diagonally.

References
----------
.. [1] Casella, G. & Berger, R. L. (2002). Statistical Inference, 2nd ed., section 5.5.4
   (the delta method). Duxbury.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from levelfield.errors import ConfigError

__all__ = ["INTERVAL_METHOD", "log_gradient", "probability_interval", "value_interval"]

Array = NDArray[np.float64]

INTERVAL_METHOD = (
    "delta method: gradients by central differences in the log-parameters, covariance "
    "from the inverse observed information; logit scale for P(alive), log scale for value"
)

#: step in the log-parameters for central differences
_STEP = 1e-4
#: below this p (1 - p), a logit-scale interval is numerically meaningless
_LOGIT_FLOOR = 1e-8


class _Fitted(Protocol):
    params_: dict[str, float]
    covariance_: Array


M = TypeVar("M")


def _z(level: float) -> float:
    if not (isinstance(level, float) and 0 < level < 1):
        raise ConfigError(f"interval level must be a share between 0 and 1, not {level!r}")
    return float(norm.ppf(0.5 + level / 2.0))


def _params(model: Any) -> dict[str, float]:
    params: dict[str, float] = model.params_
    return params


def _with_params(model: M, theta: Array) -> M:
    """A copy of a fitted model with other parameter values (for predictions only)."""
    twin: M = type(model).__new__(type(model))
    twin.__dict__.update(model.__dict__)
    twin.__dict__["params_"] = {k: float(v) for k, v in zip(_params(model), theta, strict=True)}
    return twin


def log_gradient(model: M, predict: Callable[[M], Array]) -> Array:
    """Gradient of ``predict(model)`` in the model's log-parameters, shape ``(k, n)``."""
    theta = np.array(list(_params(model).values()), dtype=float)
    rows = []
    for j in range(len(theta)):  # k <= 4 parameters, each step vectorized over customers
        up, dn = theta.copy(), theta.copy()
        up[j] *= np.exp(_STEP)
        dn[j] *= np.exp(-_STEP)
        rows.append((predict(_with_params(model, up)) - predict(_with_params(model, dn))) / 2)
    return np.stack(rows) / _STEP


def _log_covariance(model: Any) -> Array:
    fitted: _Fitted = model
    theta = np.array(list(fitted.params_.values()), dtype=float)
    cov: Array = fitted.covariance_ / np.outer(theta, theta)
    return cov


def _variance(grad: Array, cov_log: Array) -> Array:
    out: Array = np.einsum("in,ij,jn->n", grad, cov_log, grad)
    return np.maximum(out, 0.0)


def probability_interval(
    model: M, predict: Callable[[M], Array], *, level: float = 0.9
) -> tuple[Array, Array]:
    """Delta-method interval of a per-customer probability (e.g. P(alive)).

    Formed on the logit scale (``se_logit = se_p / (p (1 - p))``); where ``p (1 - p)`` is
    below 1e-8 (P(alive) exactly or nearly 1, as for BG/NBD customers without repeat
    purchases) the interval is ``p +- z se_p`` clipped to [0, 1].
    """
    z = _z(level)
    p = predict(model)
    se = np.sqrt(_variance(log_gradient(model, predict), _log_covariance(model)))
    pq = p * (1.0 - p)
    ok = pq > _LOGIT_FLOOR
    # np.where evaluates both branches: exp overflows where p is at the floor (unused).
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logit = np.log(p) - np.log1p(-p)
        half = z * se / pq
        lo = np.where(ok, 1.0 / (1.0 + np.exp(-(logit - half))), np.clip(p - z * se, 0, 1))
        hi = np.where(ok, 1.0 / (1.0 + np.exp(-(logit + half))), np.clip(p + z * se, 0, 1))
    return lo, hi


def _log_of(predict: Callable[[Any], Array]) -> Callable[[Any], Array]:
    def log_predict(model: Any) -> Array:
        out: Array = np.log(predict(model))
        return out

    return log_predict


def value_interval(
    value: Array,
    parts: list[tuple[Any, Callable[[Any], Array]]],
    *,
    level: float = 0.9,
) -> tuple[Array, Array]:
    """Delta-method interval of a positive per-customer value on the log scale.

    Parameters
    ----------
    value
        The value at the estimates (e.g. CLV), > 0 where an interval is wanted.
    parts
        ``(model, predict)`` pairs whose product (times constants) is the value, from
        independently fitted models, e.g. the count model with the discounted expected
        purchases and the spend model with the expected spend per purchase. The log
        value's variance is the sum of each part's delta-method variance.
    level
        Coverage of the interval.
    """
    z = _z(level)
    var = np.zeros(len(value))
    for model, predict in parts:
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = log_gradient(model, _log_of(predict))
        var = var + _variance(np.nan_to_num(grad), _log_covariance(model))
    half = z * np.sqrt(var)
    # an unbounded upper end (huge variance) is inf, not a warning
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lo = np.where(value > 0, value * np.exp(-half), value)
        hi = np.where(value > 0, value * np.exp(half), value)
    return lo, hi
