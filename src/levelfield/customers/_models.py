"""BG/NBD, Pareto/NBD and Gamma-Gamma as scikit-learn style estimators.

Each model takes its options in ``__init__`` and data in ``fit``, which returns ``self``.
Fitted state ends in ``_``: ``params_`` (dict), ``standard_errors_`` (dict, from the
inverse Hessian of the log-likelihood at the optimum), ``log_likelihood_`` (total over
customers), ``n_customers_``. Identical data rows are compressed into weights before
fitting, so a million customers with integer-day summaries cost a fraction of that.

Fitting is L-BFGS-B in log-parameters with analytic gradients from several starting
points. Models with an analytic Hessian (BG/NBD, Gamma-Gamma) then finish with Newton's
method, which also gives the standard errors; with many distinct rows their L-BFGS-B
stage runs on an evenly spread subsample, so the full data are passed over only a few
times.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from levelfield._estimator import Estimator, check_is_fitted
from levelfield.customers import _kernels as K  # noqa: N812
from levelfield.errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    InsufficientDataError,
    ModelError,
    SmallSampleWarning,
)

__all__ = ["BetaGeoModel", "GammaGammaModel", "ParetoNBDModel"]

Array = NDArray[np.float64]
LoglikFn = Callable[[Array, tuple[Array, ...]], tuple[Array, Array]]

#: below this many customers a SmallSampleWarning is issued
SMALL_SAMPLE = 30
#: above twice this many distinct rows, models with an analytic Hessian find their start
#: on a subsample of about this many rows
_SUBSAMPLE_ROWS = 20_000
#: bound on the log-parameters (the optimizers work in log space)
_LOG_BOUND = 25.0


def _as_array(value: ArrayLike, name: str) -> Array:
    if isinstance(value, str | bytes):
        raise DataError(f"{name} must be numbers, not the text {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{name} must be numbers (one per customer); could not convert: {exc}"
        ) from exc
    arr = np.atleast_1d(arr)
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional (one value per customer)")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"{name} has {int(bad.sum()):,} missing or infinite value(s) (first at position "
            f"{int(np.flatnonzero(bad)[0])}); drop those customers or fill the values"
        )
    return arr


def _check_lengths(**arrays: Array) -> int:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"inputs have different lengths {lengths}; pass one value per customer")
    return next(iter(lengths.values()))


def _weights(weights: ArrayLike | None, n: int) -> Array:
    if weights is None:
        return np.ones(n)
    w = _as_array(weights, "weights")
    if len(w) != n:
        raise DataError(f"weights has {len(w):,} values for {n:,} customers")
    if (w < 0).any():
        raise DataError("weights must be >= 0 (they count identical customers)")
    if w.sum() <= 0:
        raise InsufficientDataError("all weights are zero; there is nothing to fit")
    return w


def _compress(columns: Sequence[Array], weights: Array) -> tuple[list[Array], Array]:
    """Merge identical rows, summing their weights (rows keyed by combined value codes).

    Rows come out sorted by their values (first column first). Codes per column come from
    a hash table and the combined key is sorted once (no argsort) when every weight is 1,
    as it is for plain per-customer data: a million rows take a fraction of a second.
    """
    n = len(weights)
    factors = [pd.factorize(col, sort=True) for col in columns]
    sizes = [len(uniq) for _, uniq in factors]
    if math.prod(sizes) < 2**62:
        key = np.zeros(n, dtype=np.int64)
        for (codes, _), size in zip(factors, sizes, strict=True):
            key = key * size + codes
        if bool((weights == 1.0).all()):
            skey = np.sort(key)
            starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
            ukey = skey[starts]
            w = np.diff(np.r_[starts, n]).astype(float)
        else:
            ukey, inverse = np.unique(key, return_inverse=True)
            w = np.bincount(inverse.ravel(), weights=weights, minlength=len(ukey))
            keep = w > 0
            ukey, w = ukey[keep], np.asarray(w[keep], dtype=float)
        cols: list[Array] = []
        rest = ukey
        for (_, uniq), size in zip(reversed(factors), reversed(sizes), strict=True):
            cols.append(np.asarray(uniq, dtype=float)[rest % size])
            rest = rest // size
        return cols[::-1], w
    stacked = np.column_stack(columns)
    uniq_rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=weights, minlength=len(uniq_rows))
    keep = w > 0
    cols = [uniq_rows[keep, j].copy() for j in range(uniq_rows.shape[1])]
    return cols, np.asarray(w[keep], dtype=float)


class _Model(Estimator):
    """Shared maximum-likelihood machinery (log-parameters, L-BFGS-B, Hessian SEs)."""

    _names: tuple[str, ...] = ()
    _label = ""

    def __init__(self, *, penalizer: float = 0.0, tol: float = 1e-9, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # -- parameter checks in one place -------------------------------------------------
    def _check_options(self) -> None:
        if not (isinstance(self.penalizer, int | float) and self.penalizer >= 0):
            raise ConfigError(f"penalizer must be a number >= 0, not {self.penalizer!r}")
        if not (isinstance(self.tol, int | float) and 0 < self.tol < 1):
            raise ConfigError(f"tol must be between 0 and 1, not {self.tol!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter > 0):
            raise ConfigError(f"max_iter must be a positive integer, not {self.max_iter!r}")

    def _loglik(self, theta: Array, data: tuple[Array, ...]) -> tuple[Array, Array]:
        raise NotImplementedError

    def _loglik_total(self, theta: Array, data: tuple[Any, ...], w: Array) -> tuple[float, Array]:
        """Weighted total log-likelihood and gradient (models override with fast paths)."""
        ll, grad = self._loglik(theta, data)
        # einsum, not BLAS: OpenBLAS threading is slow for these on busy machines
        return float(np.einsum("i,i->", ll, w)), np.einsum("ki,i->k", grad, w)

    def _prepare(self, data: tuple[Array, ...]) -> tuple[Any, ...]:
        """Data in the form ``_loglik_total`` wants (computed once per fit)."""
        return data

    def _starts(self, data: tuple[Array, ...], w: Array) -> list[Array]:
        raise NotImplementedError

    def _loglik_hessian_total(
        self, theta: Array, data: tuple[Any, ...], w: Array
    ) -> tuple[float, Array, Array]:
        """Total log-likelihood, gradient and Hessian (models with analytic Hessians)."""
        raise NotImplementedError

    _has_hessian = False

    def _lbfgs(
        self, data: tuple[Array, ...], w: Array, prepared: tuple[Any, ...], max_iter: int
    ) -> Any:
        """L-BFGS-B in log-parameters from each of the model's starting points."""
        wsum = float(w.sum())

        def objective(log_theta: Array) -> tuple[float, Array]:
            theta = np.exp(log_theta)
            with np.errstate(all="ignore"):
                ll, grad = self._loglik_total(theta, prepared, w)
            f = -ll / wsum + self.penalizer * float(theta @ theta)
            g = -grad / wsum + 2.0 * self.penalizer * theta
            if not (math.isfinite(f) and np.isfinite(g).all()):
                return 1e100, np.zeros_like(log_theta)
            return f, g * theta

        best: Any = None
        for start in self._starts(data, w):
            res = minimize(
                objective,
                np.log(start),
                jac=True,
                method="L-BFGS-B",
                bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(start),
                options={"maxiter": max_iter, "ftol": self.tol * 1e-3, "gtol": self.tol},
            )
            if res.fun < 1e99 and (best is None or res.fun < best.fun - 1e-12):
                best = res
            if res.success and best is res and np.abs(res.jac).max() < 1e-4:
                break
        return best

    def _newton(
        self, log_theta: Array, prepared: tuple[Any, ...], w: Array, max_iter: int
    ) -> tuple[Array, float, Array, Array, int, bool]:
        """Newton's method in log-parameters with the analytic Hessian, from near the optimum.

        Damped (Levenberg) where the Hessian is not positive definite, with a
        backtracking line search. Returns the log-parameters, the total log-likelihood,
        its gradient and Hessian in the parameters there, the iterations and whether the
        gradient tolerance was met.

        Kept hand-written rather than scipy's ``minimize(method="trust-exact")`` with the
        same analytic gradient and Hessian (issue #17), because of the Gamma-Gamma case.
        Measured from the same L-BFGS-B point, CPU best of 7, load average 18 on 2 cores:

        ========================================  ===========  ===========  ============
        fit (distinct rows)                       this loop    trust-exact  optimum
        ========================================  ===========  ===========  ============
        BG/NBD, CDNOW (1,016)                     4.9 ms, 1    5.0 ms, 1    identical
        BG/NBD, 1M simulated customers (293,563)  65 ms, 1     63 ms, 1     identical
        Gamma-Gamma, CDNOW (753)                  2.3 ms, 1    11.9 ms, 13  within 7e-8
        ========================================  ===========  ===========  ============

        (time, iterations). On the Gamma-Gamma fit trust-exact stops short of the 1e-9
        gradient tolerance: its ratio test rejects steps whose decrease is at rounding
        level, which this loop accepts when the gradient shrinks. The covariate fits
        (``_covariates.py``) use trust-exact, where it is as fast as this loop was.
        """
        wsum = float(w.sum())
        pen = self.penalizer
        eye = np.eye(len(log_theta))

        def trial_value(phi: Array) -> tuple[float, Array]:
            """Objective and gradient without the Hessian (a line-search trial may be
            rejected; both models' totals compute these exactly as with the Hessian)."""
            theta = np.exp(phi)
            with np.errstate(all="ignore"):
                ll, g = self._loglik_total(theta, prepared, w)
            f = -ll / wsum + pen * float(theta @ theta)
            return f, (-g / wsum + 2.0 * pen * theta) * theta

        def evaluate(phi: Array) -> tuple[float, Array, Array, float, Array, Array]:
            theta = np.exp(phi)
            with np.errstate(all="ignore"):
                ll, g, H = self._loglik_hessian_total(theta, prepared, w)
            f = -ll / wsum + pen * float(theta @ theta)
            g_t = -g / wsum + 2.0 * pen * theta
            g_phi = g_t * theta
            H_phi = theta[:, None] * (-H / wsum + 2.0 * pen * eye) * theta[None, :]
            H_phi = H_phi + np.diag(g_phi)
            return f, g_phi, H_phi, ll, g, H

        phi = np.asarray(log_theta, dtype=float)
        cur = evaluate(phi)
        it = 0
        ok = False
        while True:
            f, g, Hp = cur[0], cur[1], cur[2]
            if not (math.isfinite(f) and np.isfinite(g).all() and np.isfinite(Hp).all()):
                break
            if float(np.abs(g).max()) <= self.tol:
                ok = True
                break
            if it >= max_iter:
                break
            lam = 0.0
            scale = max(float(np.abs(np.diag(Hp)).max()), 1e-12)
            for _ in range(60):
                try:
                    np.linalg.cholesky(Hp + lam * eye)
                    break
                except np.linalg.LinAlgError:
                    lam = max(2.0 * lam, 1e-10 * scale)
            step = -np.linalg.solve(Hp + lam * eye, g)
            step_max = float(np.abs(step).max())
            if step_max > 1.0:  # at most a factor e per parameter per step
                step = step / step_max
            slope = float(g @ step)
            g_max = float(np.abs(g).max())
            # Near the optimum, changes in f drown in rounding; there a step is taken
            # when f stays within rounding and the gradient shrinks.
            noise = 1e-12 * max(1.0, abs(f))
            t = 1.0
            accepted = None
            while t > 1e-12:
                trial_phi = phi + t * step
                if float(np.abs(trial_phi).max()) <= _LOG_BOUND:
                    f_t, g_t = trial_value(trial_phi)
                    if math.isfinite(f_t) and (
                        f_t <= f + 1e-4 * t * slope
                        or (f_t <= f + noise and float(np.abs(g_t).max()) < g_max)
                    ):
                        accepted = trial_phi, evaluate(trial_phi)
                        break
                t *= 0.5
            it += 1
            if accepted is None:
                break  # no decrease at rounding level: judged by the gradient below
            phi, cur = accepted
            if float(np.abs(cur[1]).max()) >= g_max and cur[0] >= f - noise:
                break  # no progress in f or gradient: at the optimum to rounding
        ok = ok or float(np.abs(cur[1]).max()) <= self.tol
        return phi, cur[3], cur[4], cur[5], it, ok

    def _optimize(self, data: tuple[Array, ...], w: Array) -> None:
        prepared = self._prepare(data)
        stage_data, stage_w, stage_prepared = data, w, prepared
        if self._has_hessian and len(w) > 2 * _SUBSAMPLE_ROWS:
            # Many distinct rows: find the optimum's neighbourhood on every k-th
            # (compressed, value-sorted, so evenly spread) row, then let Newton's method
            # finish on all rows in a few steps.
            step = -(-len(w) // _SUBSAMPLE_ROWS)
            stage_data = tuple(col[::step] for col in data)
            stage_w = w[::step]
            stage_prepared = self._prepare(stage_data)
        best = self._lbfgs(stage_data, stage_w, stage_prepared, self.max_iter)
        if best is None:
            raise ModelError(
                f"{self._label}: the log-likelihood could not be evaluated at any starting "
                "point; check the data for extreme values (e.g. ages in seconds)"
            )
        if self._has_hessian:
            phi, ll, grad, hess, n_newton, ok = self._newton(
                best.x, prepared, w, max(self.max_iter - int(best.nit), 0)
            )
            full = None if ok or stage_w is w else self._lbfgs(data, w, prepared, self.max_iter)
            if full is not None:
                # the subsample's optimum was no good start: do it the long way
                best = full
                phi, ll, grad, hess, n_newton, ok = self._newton(
                    best.x, prepared, w, max(self.max_iter - int(best.nit), 0)
                )
            theta = np.exp(phi)
            g_phi = (-grad / float(w.sum()) + 2.0 * self.penalizer * theta) * theta
            grad_norm = float(np.abs(g_phi).max())
            n_iter = int(best.nit) + n_newton
            message = "Newton's method stopped before the gradient tolerance"
            self.converged_ = bool(ok or grad_norm < 1e-5)
        else:
            theta = np.exp(best.x)
            grad_norm = float(np.abs(best.jac).max())
            n_iter = int(best.nit)
            message = str(best.message)
            # L-BFGS-B may end on a line-search stop at the optimum: judge by the gradient
            self.converged_ = bool((best.success and grad_norm < 1e-3) or grad_norm < 1e-5)
            with np.errstate(all="ignore"):
                ll, _ = self._loglik_total(theta, prepared, w)
            hess = self._fd_hessian(theta, prepared, w)
        if not self.converged_:
            warnings.warn(
                f"{self._label} fit did not converge ({message}; largest gradient "
                f"{grad_norm:.2g}); parameters may be unreliable. Try more data, "
                "penalizer=0.01, or a coarser time unit",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.params_ = {k: float(v) for k, v in zip(self._names, theta, strict=True)}
        self.log_likelihood_ = float(ll)
        self.n_iter_ = n_iter
        self.standard_errors_ = self._standard_errors(hess, float(w.sum()))

    def _fd_hessian(self, theta: Array, data: tuple[Any, ...], w: Array) -> Array:
        """Hessian of the total log-likelihood by central differences of the gradient."""
        k = len(theta)
        H = np.empty((k, k))
        with np.errstate(all="ignore"):
            for j in range(k):  # k <= 4 parameters, not customers
                h = 1e-5 * theta[j]
                up, dn = theta.copy(), theta.copy()
                up[j] += h
                dn[j] -= h
                H[:, j] = (
                    self._loglik_total(up, data, w)[1] - self._loglik_total(dn, data, w)[1]
                ) / (2 * h)
        return 0.5 * (H + H.T)

    def _standard_errors(self, hess: Array, wsum: float) -> dict[str, float]:
        """Square roots of the diagonal of the inverse observed information matrix."""
        k = len(hess)
        H = hess - 2.0 * self.penalizer * wsum * np.eye(k)
        try:
            cov = np.linalg.inv(-H)
        except np.linalg.LinAlgError:
            cov = np.full((k, k), np.nan)
        var = np.diag(cov)
        self.covariance_ = cov if np.isfinite(var).all() and (var > 0).all() else cov * np.nan
        if not (np.isfinite(var).all() and (var > 0).all()):
            warnings.warn(
                f"{self._label}: the information matrix is not positive definite at the "
                "optimum, so standard errors are unavailable (reported as NaN); the "
                "parameters are weakly identified by these data",
                ConvergenceWarning,
                stacklevel=4,
            )
            return {k_: float("nan") for k_ in self._names}
        return {k_: float(math.sqrt(v)) for k_, v in zip(self._names, var, strict=True)}

    def _require_fit(self) -> None:
        check_is_fitted(self, "params_")

    @property
    def _theta(self) -> tuple[Any, ...]:
        self._require_fit()
        return tuple(self.params_[k] for k in self._names)

    def summary(self) -> pd.DataFrame:
        """Parameter table: estimate, standard error and a 95 % Wald interval."""
        self._require_fit()
        est = np.array([self.params_[k] for k in self._names])
        se = np.array([self.standard_errors_[k] for k in self._names])
        return pd.DataFrame(
            {
                "estimate": est,
                "std_error": se,
                "lower_95": est - 1.959964 * se,
                "upper_95": est + 1.959964 * se,
            },
            index=pd.Index(self._names, name="parameter"),
        )

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{type(self).__name__}({ps}, log_likelihood={self.log_likelihood_:.2f})"


def _check_rfm(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[Array, ...]:
    x = _as_array(frequency, "frequency")
    t_x = _as_array(recency, "recency")
    T_ = _as_array(T, "T")
    n = _check_lengths(frequency=x, recency=t_x, T=T_)
    if n == 0:
        raise InsufficientDataError("no customers to fit; import orders with customer ids")
    for name, arr in (("frequency", x), ("recency", t_x), ("T", T_)):
        if (arr < 0).any():
            raise DataError(
                f"{name} has {int((arr < 0).sum()):,} negative value(s); summaries count "
                "purchases and time since the first purchase, which cannot be negative"
            )
    if (t_x > T_ + 1e-9).any():
        i = int(np.flatnonzero(t_x > T_ + 1e-9)[0])
        raise DataError(
            f"recency exceeds T for {int((t_x > T_ + 1e-9).sum()):,} customer(s) (first at "
            f"position {i}: recency {t_x[i]:g} > T {T_[i]:g}); purchases after the "
            "observation end must be removed (check calibration_end)"
        )
    if (np.abs(x - np.round(x)) > 1e-9).any():
        raise DataError("frequency must be whole numbers of repeat purchases")
    if ((x > 0) & (t_x <= 0)).any():
        raise DataError("customers with repeat purchases must have recency > 0")
    if ((x == 0) & (t_x > 0)).any():
        bad = (x == 0) & (t_x > 0)
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{int(bad.sum()):,} customer(s) have no repeat purchase but recency > 0 (first "
            f"at position {i}: recency {t_x[i]:g}); recency is the time from the first to "
            "the last repeat purchase, so it must be 0 when frequency is 0. Summaries made "
            "by summarize_workspace or summarize_transactions satisfy this"
        )
    return x, t_x, T_


class _CountModelBase(_Model):
    """Shared fit and checks of the purchase-count models (BG/NBD, Pareto/NBD)."""

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency
            Repeat purchases per customer (purchases after the first, whole numbers).
        recency
            Time of the last purchase since the first (0 without repeat purchases).
        T
            Age: time from the first purchase to the end of observation.
        weights
            Number of customers each row stands for (default 1).

        Returns
        -------
        self

        Raises
        ------
        InsufficientDataError
            No customers, a single customer, no repeat purchases, or all purchases on one
            day (nothing to learn the purchase rate from).
        DataError
            Negative, missing or inconsistent values.
        """
        self._check_options()
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        w = _weights(weights, len(x))
        n_eff = float(w.sum())
        if n_eff < 2:
            raise InsufficientDataError(
                f"{self._label} needs many customers; got {n_eff:g}. Import more orders"
            )
        if float(T_.max()) <= 0:
            raise InsufficientDataError(
                "all purchases fall on one day (every customer's age T is 0); a purchase "
                "rate cannot be learned. Import a longer period of orders"
            )
        if float(w[x > 0].sum()) == 0:
            raise InsufficientDataError(
                f"no customer has a repeat purchase among {n_eff:,.0f}, so {self._label} "
                "cannot separate purchase rates from drop-out; import a longer period or "
                "use the historical value figures instead"
            )
        if n_eff < SMALL_SAMPLE:
            warnings.warn(
                f"{self._label} is fitted on only {n_eff:g} customers; parameters are "
                "uncertain (see standard_errors_)",
                SmallSampleWarning,
                stacklevel=2,
            )
        cols, wc = _compress([x, t_x, T_], w)
        data = (cols[0], cols[1], cols[2])
        self._optimize(data, wc)
        self.n_customers_ = n_eff
        return self

    def _starts(self, data: tuple[Array, ...], w: Array) -> list[Array]:
        x, _, T_ = data
        scale = max(float(np.average(T_, weights=w)), 1e-6)
        rate = max(float(np.average(x, weights=w)), 0.05) / scale
        base = [1.0, 1.0 / rate]
        return [
            np.array([*base, *self._start_tail(scale)]),
            np.array([0.5, 0.5 / rate, *self._start_tail(scale * 4)]),
            np.array([0.1, scale, *self._start_tail(scale)]),
        ]

    def _start_tail(self, scale: float) -> list[float]:
        raise NotImplementedError

    def _rfm(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> tuple[Array, Array, Array]:
        self._require_fit()
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        return x, t_x, T_

    @staticmethod
    def _horizon(t: ArrayLike | float) -> Array:
        arr = np.asarray(t, dtype=float)
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise ConfigError(f"t must be finite and >= 0 (time in the summary's unit), not {t!r}")
        return arr


class BetaGeoModel(_CountModelBase):
    """BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    While alive, a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each
    purchase they drop out with probability ``p ~ Beta(a, b)``.

    Parameters
    ----------
    penalizer
        L2 penalty on the parameters added to the mean negative log-likelihood (as in
        lifetimes' ``penalizer_coef``); 0 for plain maximum likelihood.
    tol
        Gradient tolerance of the optimizer.
    max_iter
        Iteration limit of the optimizer.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (time unit of the data), ``a``, ``b``.
    standard_errors_ : dict
    covariance_ : ndarray
        Inverse observed information in the order of ``params_`` (NaN where it is not
        positive definite).
    log_likelihood_ : float
    converged_ : bool

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers"
       the easy way: an alternative to the Pareto/NBD model. Marketing Science 24(2),
       275-284.
    """

    _names = ("r", "alpha", "a", "b")
    _label = "BG/NBD"

    def _loglik(self, theta: Array, data: tuple[Array, ...]) -> tuple[Array, Array]:
        r, al, a, b = theta
        return K.bgnbd_loglik(r, al, a, b, data[0], data[1], data[2])

    def _prepare(self, data: tuple[Array, ...]) -> tuple[Any, ...]:
        return tuple(K.factorize(col) for col in data)

    def _loglik_total(self, theta: Array, data: tuple[Any, ...], w: Array) -> tuple[float, Array]:
        r, al, a, b = theta
        return K.bgnbd_loglik_total(r, al, a, b, data[0], data[1], data[2], w)

    _has_hessian = True

    def _loglik_hessian_total(
        self, theta: Array, data: tuple[Any, ...], w: Array
    ) -> tuple[float, Array, Array]:
        r, al, a, b = theta
        return K.bgnbd_loglik_hessian_total(r, al, a, b, data[0], data[1], data[2], w)

    def _start_tail(self, scale: float) -> list[float]:
        return [1.0, 2.0]

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """P(customer is still active at the end of observation), a share 0-1."""
        x, t_x, T_ = self._rfm(frequency, recency, T)
        r, al, a, b = self._theta
        return K.bgnbd_prob_alive(r, al, a, b, x, t_x, T_)

    def conditional_expected_purchases(
        self, t: ArrayLike | float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Array:
        """Expected purchases of each customer in the next ``t`` time units."""
        x, t_x, T_ = self._rfm(frequency, recency, T)
        r, al, a, b = self._theta
        return K.bgnbd_conditional_expected(r, al, a, b, self._horizon(t), x, t_x, T_)

    def expected_purchases(self, t: ArrayLike | float) -> Array:
        """Expected repeat purchases of a new customer in their first ``t`` time units."""
        self._require_fit()
        r, al, a, b = self._theta
        return K.bgnbd_expected(r, al, a, b, self._horizon(t))

    def survival(self, dt: float, frequency: ArrayLike, T: ArrayLike) -> Array:
        """P(alive ``dt`` units from now | alive now, data): the model's retention."""
        self._require_fit()
        r, alpha, a, b = self._theta
        x = _as_array(frequency, "frequency")
        T_ = _as_array(T, "T")
        return K.bgnbd_survival(r, alpha, a, b, float(dt), x, T_)


class ParetoNBDModel(_CountModelBase):
    """Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

    While alive, a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; lifetimes
    are exponential with rate ``mu ~ Gamma(s, beta)``. The likelihood is evaluated in log
    space by quadrature of the death-time integral (see
    :func:`levelfield.customers._kernels.pareto_nbd_loglik`), stable where the
    hypergeometric closed form cancels.

    Parameters
    ----------
    penalizer, tol, max_iter
        As for :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta`` (``alpha`` and ``beta`` in the data's time unit).

    References
    ----------
    .. [1] Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your
       customers: who are they and what will they do next? Management Science 33(1), 1-24.
    .. [2] Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model
       and related expressions. http://brucehardie.com/notes/009/
    """

    _names = ("r", "alpha", "s", "beta")
    _label = "Pareto/NBD"

    def _loglik(self, theta: Array, data: tuple[Array, ...]) -> tuple[Array, Array]:
        r, al, s, be = theta
        ll, grad, _ = K.pareto_nbd_loglik(r, al, s, be, data[0], data[1], data[2])
        return ll, grad

    def _start_tail(self, scale: float) -> list[float]:
        return [1.0, scale]

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """P(customer is still active at the end of observation), a share 0-1."""
        x, t_x, T_ = self._rfm(frequency, recency, T)
        r, al, s, be = self._theta
        return K.pareto_nbd_loglik(r, al, s, be, x, t_x, T_)[2]

    def conditional_expected_purchases(
        self, t: ArrayLike | float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Array:
        """Expected purchases of each customer in the next ``t`` time units."""
        x, t_x, T_ = self._rfm(frequency, recency, T)
        r, al, s, be = self._theta
        return K.pareto_nbd_conditional_expected(r, al, s, be, self._horizon(t), x, t_x, T_)

    def expected_purchases(self, t: ArrayLike | float) -> Array:
        """Expected repeat purchases of a new customer in their first ``t`` time units."""
        self._require_fit()
        r, al, s, be = self._theta
        return K.pareto_nbd_expected(r, al, s, be, self._horizon(t))

    def survival(self, dt: float, frequency: ArrayLike, T: ArrayLike) -> Array:
        """P(alive ``dt`` units from now | alive now): ``((beta+T)/(beta+T+dt))^s``."""
        self._require_fit()
        _, _, s, beta = self._theta
        T_ = _as_array(T, "T")
        return K.pareto_nbd_survival(s, beta, float(dt), T_)


class GammaGammaModel(_Model):
    """Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005; Colombo & Jiang 1999).

    Each customer's purchases are Gamma(p, nu) with ``nu ~ Gamma(q, gamma)``; it assumes
    spend per purchase is independent of how often a customer buys: the Pearson
    correlation between frequency and mean spend is reported in
    ``frequency_spend_correlation_`` (above 0.3 in absolute value the assumption is
    doubtful).

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``gamma`` (``gamma`` in currency).
    frequency_spend_correlation_ : float

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value
       curves for customer base analysis. Journal of Marketing Research 42(4), 415-430.
    .. [2] Colombo, R. & Jiang, W. (1999). A stochastic RFM model. Journal of Interactive
       Marketing 13(3), 2-12.
    .. [3] Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
       http://brucehardie.com/notes/025/
    """

    _names = ("p", "q", "gamma")
    _label = "Gamma-Gamma"

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit on repeat customers' number of repeat purchases and mean repeat spend.

        Customers with ``frequency == 0`` carry no spend information and are ignored.

        Raises
        ------
        DataError
            Zero or negative mean spend among repeat customers (net out refunds and drop
            free orders first), missing values.
        InsufficientDataError
            Fewer than two repeat customers.
        """
        self._check_options()
        x = _as_array(frequency, "frequency")
        z = _as_array(monetary_value, "monetary_value")
        _check_lengths(frequency=x, monetary_value=z)
        w = _weights(weights, len(x))
        if (x < 0).any():
            raise DataError("frequency has negative values; it counts repeat purchases")
        rep = (x > 0) & (w > 0)
        if ((z <= 0) & rep).any():
            raise DataError(
                f"{int(((z <= 0) & rep).sum()):,} repeat customer(s) have zero or negative mean "
                "spend; the Gamma-Gamma model needs positive amounts. Net refunds into their "
                "orders and drop free orders, or exclude those customers"
            )
        x, z, w = x[rep], z[rep], w[rep]
        if float(w.sum()) < 2:
            raise InsufficientDataError(
                "the Gamma-Gamma spend model needs at least two customers with repeat "
                f"purchases; found {float(w.sum()):g}. Import a longer period of orders"
            )
        if float(w.sum()) < SMALL_SAMPLE:
            warnings.warn(
                f"Gamma-Gamma is fitted on only {float(w.sum()):g} repeat customers",
                SmallSampleWarning,
                stacklevel=2,
            )
        if np.ptp(x) > 0 and np.ptp(z) > 0:
            mx = np.average(x, weights=w)
            mz = np.average(z, weights=w)
            cov = np.average((x - mx) * (z - mz), weights=w)
            corr = cov / math.sqrt(
                np.average((x - mx) ** 2, weights=w) * np.average((z - mz) ** 2, weights=w)
            )
            self.frequency_spend_correlation_ = float(corr)
        else:
            self.frequency_spend_correlation_ = 0.0
        cols, wc = _compress([x, z], w)
        self._optimize((cols[0], cols[1]), wc)
        self.n_customers_ = float(w.sum())
        return self

    def _loglik(self, theta: Array, data: tuple[Array, ...]) -> tuple[Array, Array]:
        p, q, g = theta
        return K.gamma_gamma_loglik(p, q, g, data[0], data[1])

    def _prepare(self, data: tuple[Array, ...]) -> tuple[Any, ...]:
        x, z = data
        return (K.factorize(x), x * z, np.log(z))

    def _loglik_total(self, theta: Array, data: tuple[Any, ...], w: Array) -> tuple[float, Array]:
        p, q, g = theta
        return K.gamma_gamma_loglik_total(p, q, g, data[0], data[1], data[2], w)

    _has_hessian = True

    def _loglik_hessian_total(
        self, theta: Array, data: tuple[Any, ...], w: Array
    ) -> tuple[float, Array, Array]:
        p, q, g = theta
        return K.gamma_gamma_loglik_hessian_total(p, q, g, data[0], data[1], data[2], w)

    def _starts(self, data: tuple[Array, ...], w: Array) -> list[Array]:
        z = data[1]
        mean = float(np.average(z, weights=w))
        return [
            np.array([1.0, 1.0, mean]),
            np.array([5.0, 3.0, 2.0 * mean]),
            np.array([1.0, 3.0, mean]),
        ]

    def conditional_expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> Array:
        """Expected spend per future purchase of each customer (currency).

        Customers without repeat purchases get the population mean ``p gamma / (q - 1)``.
        """
        self._require_fit()
        x = _as_array(frequency, "frequency")
        z = _as_array(monetary_value, "monetary_value")
        _check_lengths(frequency=x, monetary_value=z)
        if (x < 0).any():
            raise DataError("frequency has negative values; it counts repeat purchases")
        p, q, g = self._theta
        if q <= 1:
            raise ModelError(
                f"Gamma-Gamma q = {q:.3g} <= 1: the mean spend is infinite under these "
                "parameters; spend data are too heavy-tailed for this model"
            )
        return K.gamma_gamma_conditional_spend(p, q, g, x, np.where(x > 0, z, 0.0))

    def mean_spend(self) -> float:
        """Population mean spend per purchase ``p gamma / (q - 1)`` (currency)."""
        p, q, g = self._theta
        return float(p * g / (q - 1.0)) if q > 1 else float("inf")
