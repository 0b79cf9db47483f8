"""How far a fitted purchase model can be trusted, in plain words.

A maximum-likelihood fit of the BG/NBD or Pareto/NBD can be *at the boundary* (the best
fit is a limit the model can only approach, such as "no customer ever stops buying") or
*weakly identified* (the information matrix is not positive definite, or standard errors
are larger than the estimates). Figures derived from such a fit state the model's edge,
not a measurement: "monthly retention 100.0 %", "value at risk 0". :class:`FitQuality`
records what the data can and cannot tell, and :class:`CustomersResult` consults it for
every headline, finding and chart, so such statements are never made.

The projection horizon is judged here too: a value projected more than
:data:`HORIZON_FACTOR` times as far as the observed history cannot be checked against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from levelfield.customers import _kernels as K  # noqa: N812
from levelfield.errors import ConfigError

__all__ = [
    "DROPOUT_FLOOR",
    "HORIZON_FACTOR",
    "LR_CRITICAL",
    "REL_SE_LIMIT",
    "FitQuality",
    "assess_fit",
    "nbd_log_likelihood",
    "supported_horizon_months",
]

#: below this share of new customers dropping out over the observed history, the data
#: show no measurable drop-out (the fit is at the model's no-drop-out boundary)
DROPOUT_FLOOR = 0.01
#: 95 % point of the chi-square distribution with 2 degrees of freedom: the critical value
#: of the likelihood-ratio test of "no drop-out" against the full model. The null sits on
#: the boundary of the parameter space, where the statistic is a chi-square mixture with
#: at most 2 degrees of freedom (Self & Liang 1987), so this is conservative: drop-out is
#: only called measured when the data reject "nobody leaves" clearly.
LR_CRITICAL = 5.991
#: a standard error larger than this multiple of its estimate marks a weak parameter
REL_SE_LIMIT = 1.0
#: values are projected at most this many times as far as the observed history
HORIZON_FACTOR = 2.0

_DAYS_PER_MONTH = 30.4375
_DROPOUT_PARAMS = {"a", "b", "s", "beta"}

Status = Literal["ok", "weak", "boundary"]


class _FittedCountModel(Protocol):
    params_: dict[str, float]
    standard_errors_: dict[str, float]
    log_likelihood_: float

    def survival(self, dt: float, frequency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]: ...


def history_words(days: float) -> str:
    """``"34 days"`` or ``"12.4 months"``: a span of time the way an owner says it."""
    if days < 90:
        return f"{days:.0f} days"
    return f"{days / _DAYS_PER_MONTH:.1f} months"


def supported_horizon_months(history_days: float, requested: int) -> int:
    """The longest horizon (months) the history supports, at most ``requested``.

    ``floor(HORIZON_FACTOR * history in months)``, at least 1: in the Fader & Hardie
    CDNOW studies a model calibrated on 39 weeks is checked on the next 39; much further
    than the history no check is possible.
    """
    if not (isinstance(requested, int) and requested >= 1):
        raise ConfigError(f"horizon must be a whole number of months >= 1, not {requested!r}")
    if not (math.isfinite(history_days) and history_days >= 0):
        raise ConfigError(f"history_days must be a number >= 0, not {history_days!r}")
    cap = max(1, math.floor(HORIZON_FACTOR * history_days / _DAYS_PER_MONTH + 1e-9))
    return min(requested, cap)


@dataclass(frozen=True)
class FitQuality:
    """What the fitted purchase model can tell, and what it cannot.

    Attributes
    ----------
    status
        ``"ok"``; ``"weak"`` (parameters poorly determined: intervals are wide or
        unavailable); ``"boundary"`` (no measurable drop-out: retention, P(alive) and
        value at risk cannot be estimated).
    model_name
        ``"BG/NBD"`` or ``"Pareto/NBD"``.
    dropout_over_history
        Share of new customers the fitted model lets stop buying within the observed
        history (0-1).
    dropout_lr
        Likelihood-ratio statistic of the fit against the same data without drop-out
        (the NBD); drop-out is measured only above :data:`LR_CRITICAL`.
    history_days
        Days from the first purchase to the end of observation.
    dropout_identified
        False at the no-drop-out boundary: P(alive), monthly retention, value at risk
        and churn leak are then not reported.
    covariance_available
        Whether the information matrix is positive definite (intervals can be given).
    weak_parameters
        Parameters whose standard error exceeds :data:`REL_SE_LIMIT` times the estimate
        (or is unavailable).
    horizon_months, horizon_requested
        Projection horizon used and asked for (months); smaller when the history is
        short (see :func:`supported_horizon_months`).
    """

    status: Status
    model_name: str
    dropout_over_history: float
    dropout_lr: float
    history_days: float
    dropout_identified: bool
    covariance_available: bool
    weak_parameters: tuple[str, ...]
    horizon_months: int
    horizon_requested: int

    @property
    def horizon_shortened(self) -> bool:
        return self.horizon_months < self.horizon_requested

    @property
    def intervals_available(self) -> bool:
        """Per-customer intervals need a positive definite information matrix."""
        return self.covariance_available and self.dropout_identified

    def statements(self) -> list[str]:
        """Plain sentences on what the data cannot tell (empty when the fit is sound)."""
        out: list[str] = []
        hist = history_words(self.history_days)
        if not self.dropout_identified:
            edge = (
                f"the {self.model_name} model's best fit is at its edge, where customers "
                "never stop buying"
                if self.dropout_over_history < DROPOUT_FLOOR
                else "a model in which no customer ever stops buying fits them as well "
                f"as the {self.model_name} (likelihood-ratio test at 5 %)"
            )
            out.append(
                f"Over the {hist} observed, the data show no measurable drop-out: {edge}. "
                "So these data cannot tell the monthly retention, which customers have "
                "stopped buying, or how much value is at risk; those figures are left out. "
                "Expected values assume customers keep buying at their past rates."
            )
        elif not self.covariance_available:
            out.append(
                f"The {self.model_name} model's parameters are not pinned down by these data "
                "(the information matrix is not positive definite at the best fit), so no "
                "intervals can be given for retention or customer value; treat them as rough."
            )
        if self.dropout_identified and self.covariance_available and self.weak_parameters:
            names = ", ".join(self.weak_parameters)
            what = (
                "how quickly customers stop buying"
                if set(self.weak_parameters) & _DROPOUT_PARAMS
                else "how purchase rates vary between customers"
            )
            out.append(
                f"The data determine {what} only roughly ({names}: standard error larger "
                "than the estimate), so the intervals on P(alive) and value are wide."
            )
        if self.horizon_shortened:
            out.append(
                f"The orders cover only {hist}, so values are projected over "
                f"{self.horizon_months} month{'s' if self.horizon_months > 1 else ''} instead "
                f"of the {self.horizon_requested} asked for: a projection more than "
                f"{HORIZON_FACTOR:g} times as long as the history cannot be checked against it."
            )
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "fit_status": self.status,
            "dropout_identified": self.dropout_identified,
            "dropout_likelihood_ratio": self.dropout_lr if math.isfinite(self.dropout_lr) else None,
            "dropout_over_history": (
                self.dropout_over_history if math.isfinite(self.dropout_over_history) else None
            ),
            "history_days": self.history_days,
            "covariance_available": self.covariance_available,
            "weak_parameters": list(self.weak_parameters),
            "horizon_requested": self.horizon_requested,
            "fit_statements": self.statements(),
        }


def nbd_log_likelihood(frequency: ArrayLike, T: ArrayLike) -> float:
    """Maximum log-likelihood of the NBD (no drop-out) on a customer summary."""
    x = K.factorize(np.asarray(frequency, dtype=float))
    t = K.factorize(np.asarray(T, dtype=float))
    n = float(len(x[1]))

    def objective(phi: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        r, alpha = np.exp(phi)
        with np.errstate(all="ignore"):
            ll, grad = K.nbd_loglik_total(float(r), float(alpha), x, t)
        if not (math.isfinite(ll) and np.isfinite(grad).all()):
            return 1e100, np.zeros(2)
        return -ll / n, -grad * np.exp(phi) / n

    scale = max(float(np.mean(np.asarray(T, dtype=float))), 1e-6)
    rate = max(float(np.mean(np.asarray(frequency, dtype=float))), 0.05) / scale
    res = minimize(
        objective,
        np.log([1.0, 1.0 / rate]),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-25.0, 25.0)] * 2,
        options={"maxiter": 500, "gtol": 1e-10, "ftol": 1e-14},
    )
    return float(-res.fun * n)


def assess_fit(
    model: _FittedCountModel,
    model_name: str,
    frequency: ArrayLike,
    T: ArrayLike,
    unit_days: float,
    horizon_requested: int,
) -> FitQuality:
    """Judge a fitted BG/NBD or Pareto/NBD model.

    Parameters
    ----------
    model
        A fitted :class:`BetaGeoModel` or :class:`ParetoNBDModel`.
    model_name
        Its name for the statements.
    frequency, T
        The summary it was fitted on (the model's time unit); the history is ``max(T)``.
    unit_days
        Days per model time unit.
    horizon_requested
        The projection horizon asked for (months).

    Notes
    -----
    Drop-out is *measured* when two things hold. The data reject a model without
    drop-out (the NBD, the common limit of both models): the likelihood-ratio statistic
    ``2 (l_model - l_NBD)`` exceeds :data:`LR_CRITICAL`. And the fit lets at least
    :data:`DROPOUT_FLOOR` of new customers stop buying within the observed history
    (``1 - S(history)`` with ``S`` the model's survival of a customer with no purchases
    yet); below it the fit sits at the no-drop-out boundary (BG/NBD ``a / (a + b) -> 0``,
    Pareto/NBD ``s / beta -> 0``), where P(alive) is 1 and retention 100 % by
    construction.

    References
    ----------
    .. [1] Self, S. G. & Liang, K.-Y. (1987). Asymptotic properties of maximum likelihood
       estimators and likelihood ratio tests under nonstandard conditions. Journal of the
       American Statistical Association 82(398), 605-610.
    """
    T_ = np.asarray(T, dtype=float)
    history = float(T_.max()) if T_.size else 0.0
    if not (math.isfinite(history) and history > 0):
        raise ConfigError(f"the customers' ages T must include a time > 0, not {history!r}")
    surv = float(model.survival(history, np.zeros(1), np.zeros(1))[0])
    dropout = 1.0 - surv if math.isfinite(surv) else float("nan")
    lr = max(2.0 * (model.log_likelihood_ - nbd_log_likelihood(frequency, T_)), 0.0)
    identified = bool(math.isfinite(dropout) and dropout >= DROPOUT_FLOOR and lr > LR_CRITICAL)
    est = model.params_
    se = model.standard_errors_
    cov_ok = all(math.isfinite(v) for v in se.values())
    weak = tuple(
        k for k in est if not (math.isfinite(se[k]) and se[k] <= REL_SE_LIMIT * abs(est[k]))
    )
    status: Status = "boundary" if not identified else "weak" if weak else "ok"
    history_days = history * unit_days
    return FitQuality(
        status=status,
        model_name=model_name,
        dropout_over_history=dropout,
        dropout_lr=lr,
        history_days=history_days,
        dropout_identified=identified,
        covariance_available=cov_ok,
        weak_parameters=weak if cov_ok else tuple(est),
        horizon_months=supported_horizon_months(history_days, horizon_requested),
        horizon_requested=horizon_requested,
    )
