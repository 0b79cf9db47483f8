"""Shifted-beta-geometric (sBG) model of contractual retention (subscriptions).

Each customer renews at the end of every period until they cancel; their churn
probability per period is ``theta ~ Beta(alpha, beta)``, so the lifetime in periods is
shifted-geometric given ``theta`` and, across customers, shifted-beta-geometric. The
population's retention rate rises with tenure because the customers likely to leave
leave first (Fader & Hardie 2007).

References
----------
.. [1] Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention.
   Journal of Interactive Marketing 21(1), 76-90.
.. [2] Fader, P. S. & Hardie, B. G. S. (2010). Customer-base valuation in a contractual
   setting: the perils of ignoring heterogeneity. Marketing Science 29(1), 85-93.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, hyp2f1, polygamma

from levelfield.customers._models import SMALL_SAMPLE, _as_array, _check_lengths, _Model, _weights
from levelfield.customers._uncertainty import probability_interval, value_interval
from levelfield.errors import ConfigError, DataError, InsufficientDataError, SmallSampleWarning

__all__ = ["ShiftedBetaGeometricModel", "fit_sbg_cohorts", "sbg_loglik"]

Array = NDArray[np.float64]


def sbg_loglik(alpha: float, beta: float, periods: Array, churned: Array) -> tuple[Array, Array]:
    """sBG log-likelihood per record and its gradient in ``(alpha, beta)``.

    A record that churned after ``t`` paid periods has ``P(T = t) = B(alpha + 1,
    beta + t - 1) / B(alpha, beta)`` ([1]_, eq. 2); one still active after ``t``
    renewals has ``S(t) = B(alpha, beta + t) / B(alpha, beta)`` (eq. 3).

    Parameters
    ----------
    alpha, beta
        Beta parameters of the churn probability (> 0).
    periods
        Paid periods of churned records (>= 1), renewals made by active ones (>= 0).
    churned
        1 where the customer has cancelled, 0 where still active.
    """
    t = periods
    c = churned > 0
    d_ab = digamma(alpha + beta)
    a1 = np.where(c, alpha + 1.0, alpha)
    b1 = np.where(c, beta + t - 1.0, beta + t)
    ll = betaln(a1, b1) - betaln(alpha, beta)
    d_end = digamma(a1 + b1)
    d_alpha = digamma(a1) - d_end - digamma(alpha) + d_ab
    d_beta = digamma(b1) - d_end - digamma(beta) + d_ab
    return ll, np.stack([d_alpha, d_beta])


class ShiftedBetaGeometricModel(_Model):
    """Shifted-beta-geometric retention model of one cohort (or pooled cohorts).

    Parameters
    ----------
    penalizer, tol, max_iter
        As for :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta`` of the Beta distribution of churn probabilities.
    standard_errors_, covariance_, log_likelihood_, n_customers_
        As for the other models.

    References
    ----------
    .. [1] Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention.
       Journal of Interactive Marketing 21(1), 76-90.
    .. [2] Fader, P. S. & Hardie, B. G. S. (2010). Customer-base valuation in a
       contractual setting: the perils of ignoring heterogeneity. Marketing Science
       29(1), 85-93.
    """

    _names = ("alpha", "beta")
    _label = "sBG"

    def fit(self, periods: ArrayLike, churned: ArrayLike, weights: ArrayLike | None = None) -> Self:
        """Fit on per-customer records.

        Parameters
        ----------
        periods
            For a customer who cancelled: the number of periods they paid for (>= 1).
            For one still active: the number of renewals they have made (>= 0).
        churned
            True (1) where the customer has cancelled.
        weights
            Number of customers each record stands for (default 1).

        Raises
        ------
        DataError
            Negative or fractional periods, a cancellation after 0 paid periods,
            churned values other than 0/1.
        InsufficientDataError
            No cancellation or no renewal at all (the churn distribution cannot be
            learned from one side alone).
        """
        self._check_options()
        t = _as_array(periods, "periods")
        c = _as_array(churned, "churned")
        _check_lengths(periods=t, churned=c)
        w = _weights(weights, len(t))
        if (t < 0).any() or (np.abs(t - np.round(t)) > 1e-9).any():
            raise DataError("periods must be whole numbers >= 0 (paid periods or renewals)")
        if not np.isin(c, (0.0, 1.0)).all():
            raise DataError("churned must be 0/1 (False/True) per customer")
        if ((c == 1) & (t < 1)).any():
            raise DataError(
                "a cancelled customer must have paid for at least one period (periods >= 1)"
            )
        used = w > 0
        renewed = np.where(c == 1, t >= 2, t >= 1)
        if not ((c == 1) & used).any() or not (renewed & used).any():
            raise InsufficientDataError(
                "the sBG model needs both cancellations and renewals; with only one kind "
                "the churn rate's spread cannot be learned. Import a longer period"
            )
        n_eff = float(w.sum())
        if n_eff < SMALL_SAMPLE:
            warnings.warn(
                f"sBG is fitted on only {n_eff:g} customers; parameters are uncertain",
                SmallSampleWarning,
                stacklevel=2,
            )
        keys = t * 2 + c
        uniq, inverse = np.unique(keys, return_inverse=True)
        wc = np.bincount(inverse.ravel(), weights=w, minlength=len(uniq)).astype(float)
        self._optimize((np.floor(uniq / 2), uniq % 2), wc)
        self.n_customers_ = n_eff
        return self

    def fit_counts(self, active: ArrayLike) -> Self:
        """Fit on a cohort's active customers at the start and after each period.

        ``active[0]`` is the cohort's size, ``active[t]`` the customers still active
        after ``t`` renewal decisions (Fader & Hardie 2007, table 1), e.g.
        ``[1000, 631, 468, 382, 326, 289, 262, 241]``.
        """
        n = _as_array(active, "active")
        if len(n) < 2:
            raise InsufficientDataError("active needs the cohort size and at least one period")
        if (n < 0).any() or (np.abs(n - np.round(n)) > 1e-9).any() or (np.diff(n) > 0).any():
            raise DataError(
                "active must be whole, non-negative and non-increasing counts of customers "
                "(a cohort cannot gain members)"
            )
        lost = -np.diff(n)
        periods = np.r_[np.arange(1, len(n)), len(n) - 1.0]
        churned = np.r_[np.ones(len(n) - 1), 0.0]
        return self.fit(periods, churned, weights=np.r_[lost, n[-1]])

    def _loglik(self, theta: Array, data: tuple[Array, ...]) -> tuple[Array, Array]:
        return sbg_loglik(float(theta[0]), float(theta[1]), data[0], data[1])

    def _starts(self, data: tuple[Array, ...], w: Array) -> list[Array]:
        return [np.array([1.0, 1.0]), np.array([0.5, 2.0]), np.array([2.0, 8.0])]

    # -- predictions ------------------------------------------------------------------
    @staticmethod
    def _periods(t: ArrayLike, name: str = "t") -> Array:
        arr = np.asarray(t, dtype=float)
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise ConfigError(f"{name} must be whole numbers of periods >= 0, not {t!r}")
        return arr

    def survival(self, t: ArrayLike) -> Array:
        """Share of a new cohort still active after ``t`` renewals, ``S(t)`` (0-1)."""
        self._require_fit()
        a, b = self._theta
        out: Array = np.exp(betaln(a, b + self._periods(t)) - betaln(a, b))
        return out

    def retention_rate(self, t: ArrayLike) -> Array:
        """Share of those active after ``t - 1`` renewals who renew the ``t``-th time.

        ``r(t) = (beta + t - 1) / (alpha + beta + t - 1)`` for ``t >= 1``: rising with
        tenure ([1]_, eq. 4).
        """
        self._require_fit()
        a, b = self._theta
        tt = self._periods(t)
        if (tt < 1).any():
            raise ConfigError("retention_rate is defined from the first renewal, t >= 1")
        out: Array = (b + tt - 1.0) / (a + b + tt - 1.0)
        return out

    def expected_active(self, cohort_size: float, t: ArrayLike) -> Array:
        """Expected active customers of a cohort of ``cohort_size`` after ``t`` renewals."""
        return float(cohort_size) * self.survival(t)

    def discounted_expected_residual_lifetime(
        self, discount_rate: float, renewals: ArrayLike = 0
    ) -> Array:
        """DERL: expected discounted payments still to come from an active customer.

        For a customer who has made ``renewals`` renewals (``n - 1`` in [2]_), valued
        just before their next renewal decision, with the next payment undiscounted and
        each later one discounted by ``1 / (1 + d)`` per period:
        ``B(alpha, beta + n) / B(alpha, beta + n - 1) * 2F1(1, beta + n; alpha + beta + n;
        1 / (1 + d))`` ([2]_, eq. 6).

        Parameters
        ----------
        discount_rate
            Discount rate per period (share > 0).
        renewals
            Renewals made so far (>= 0), one value or one per customer.
        """
        self._require_fit()
        if not (isinstance(discount_rate, int | float) and discount_rate > 0):
            raise ConfigError(
                f"discount_rate must be a share > 0 per period, not {discount_rate!r}"
            )
        a, b = self._theta
        n = self._periods(renewals, "renewals") + 1.0
        ratio = np.exp(betaln(a, b + n) - betaln(a, b + n - 1.0))
        out: Array = ratio * hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + discount_rate))
        return out

    def customer_value(
        self, payment: float, discount_rate: float, renewals: ArrayLike = 0
    ) -> Array:
        """Expected discounted value of an active customer's remaining payments (currency)."""
        if not (isinstance(payment, int | float) and payment >= 0):
            raise ConfigError(f"payment must be an amount >= 0 per period, not {payment!r}")
        return float(payment) * self.discounted_expected_residual_lifetime(discount_rate, renewals)

    def survival_interval(self, t: ArrayLike, *, level: float = 0.9) -> tuple[Array, Array]:
        """Interval of :meth:`survival` from parameter uncertainty (delta method, logit)."""
        tt = np.atleast_1d(self._periods(t))
        return probability_interval(self, lambda m: m.survival(tt), level=level)

    def customer_value_interval(
        self, payment: float, discount_rate: float, renewals: ArrayLike = 0, *, level: float = 0.9
    ) -> tuple[Array, Array]:
        """Interval of :meth:`customer_value` from parameter uncertainty (delta method, log)."""
        n = np.atleast_1d(self._periods(renewals, "renewals"))
        value = np.atleast_1d(self.customer_value(payment, discount_rate, n))
        return value_interval(
            value,
            [(self, lambda m: m.discounted_expected_residual_lifetime(discount_rate, n))],
            level=level,
        )


def _per_cohort(cohort: NDArray[np.intp], v: Array, k: int) -> Array:
    return np.asarray(np.bincount(cohort, weights=v, minlength=k), dtype=float)


#: |log alpha|, |log beta| beyond which a cohort's fit is at the no-spread boundary
_COHORT_LOG_BOUND = 15.0


def _cohort_derivatives(
    log_ab: Array,
    cohort: NDArray[np.intp],
    t: Array,
    c: Array,
    w: Array,
    k: int,
    full: bool = True,
) -> tuple[Array, Array, Array]:
    """Per-cohort log-likelihood, gradient (k, 2) and Hessian (k, 2, 2) in (log a, log b)."""
    a = np.exp(log_ab[cohort, 0])
    b = np.exp(log_ab[cohort, 1])
    a1 = a + c
    b1 = b + t - c
    ll = w * (betaln(a1, b1) - betaln(a, b))
    if not full:
        return _per_cohort(cohort, ll, k), np.empty(0), np.empty(0)
    d_ab, d_end = digamma(a + b), digamma(a1 + b1)
    t_ab, t_end = polygamma(1, a + b), polygamma(1, a1 + b1)
    g_a = w * (digamma(a1) - d_end - digamma(a) + d_ab)
    g_b = w * (digamma(b1) - d_end - digamma(b) + d_ab)
    h_aa = w * (polygamma(1, a1) - t_end - polygamma(1, a) + t_ab)
    h_ab = w * (t_ab - t_end)
    h_bb = w * (polygamma(1, b1) - t_end - polygamma(1, b) + t_ab)

    def per(v: Array) -> Array:
        return _per_cohort(cohort, v, k)

    theta = np.exp(log_ab)
    G = np.stack([per(g_a), per(g_b)], axis=1)
    H = np.empty((k, 2, 2))
    H[:, 0, 0] = per(h_aa)
    H[:, 0, 1] = H[:, 1, 0] = per(h_ab)
    H[:, 1, 1] = per(h_bb)
    G_u = G * theta
    H_u = theta[:, :, None] * H * theta[:, None, :]
    H_u[:, 0, 0] += G_u[:, 0]
    H_u[:, 1, 1] += G_u[:, 1]
    return per(ll), G_u, H_u


def _newton_steps(G: Array, H: Array) -> Array:
    """Damped Newton steps of many 2-parameter problems at once (maximization)."""
    A = -H
    tr = A[:, 0, 0] + A[:, 1, 1]
    det = A[:, 0, 0] * A[:, 1, 1] - A[:, 0, 1] ** 2
    low = 0.5 * (tr - np.sqrt(np.maximum(tr**2 - 4 * det, 0.0)))  # smaller eigenvalue
    # not negative definite: Levenberg damping towards a gradient step
    lam = np.where(low > 1e-10 * np.abs(tr), 0.0, 0.1 * np.abs(tr) - low + 1e-12)
    A = A + lam[:, None, None] * np.eye(2)[None]
    det = A[:, 0, 0] * A[:, 1, 1] - A[:, 0, 1] ** 2
    step = np.stack(
        [
            (A[:, 1, 1] * G[:, 0] - A[:, 0, 1] * G[:, 1]) / det,
            (A[:, 0, 0] * G[:, 1] - A[:, 0, 1] * G[:, 0]) / det,
        ],
        axis=1,
    )
    biggest = np.abs(step).max(axis=1, keepdims=True)
    out: Array = step / np.maximum(biggest, 1.0)  # at most a factor e per step
    return out


def fit_sbg_cohorts(
    periods: ArrayLike,
    churned: ArrayLike,
    cohort: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    tol: float = 1e-8,
    max_iter: int = 200,
) -> pd.DataFrame:
    """Fit one sBG model per cohort at once (vectorized Newton over all cohorts).

    The same maximum likelihood as :meth:`ShiftedBetaGeometricModel.fit` on each cohort's
    records, with the exact Hessian: records are counted per (cohort, periods, churned),
    and every cohort takes its damped Newton step with a backtracking line search in the
    same array operation, so 10,000 cohorts cost about what a few dozen fits do.

    Parameters
    ----------
    periods, churned, weights
        As for :meth:`ShiftedBetaGeometricModel.fit`, one entry per customer.
    cohort
        Cohort label of each customer (any hashable values).

    Returns
    -------
    DataFrame
        One row per cohort (sorted): ``customers``, ``cancelled``, ``alpha``, ``beta``,
        ``alpha_se``, ``beta_se`` (inverse observed information), ``log_likelihood``,
        ``converged`` and ``boundary`` (alpha and beta ran off together: the data show no
        spread in churn rates, one rate for all fits as well); NaN parameters for cohorts
        without both a cancellation and a renewal (their spread cannot be learned).
    """
    t, c, labels, w = _cohort_inputs(periods, churned, cohort, weights)
    counts = _CohortCounts.of(t, c, labels, w)
    log_ab = _grid_start(counts)
    log_ab, ll, G, H = _cohort_newton(log_ab, counts, tol, max_iter)
    ok, k = counts.identified, len(counts.names)
    converged = ok & (np.abs(G).max(axis=1) <= 1e-5 * np.maximum(counts.customers, 1.0))
    theta = np.exp(log_ab)
    var_a, var_b = _cohort_variances(theta, G, H)
    nan = np.full(k, np.nan)
    return pd.DataFrame(
        {
            "cohort": counts.names,
            "customers": counts.customers,
            "cancelled": counts.cancelled,
            "alpha": np.where(ok, theta[:, 0], nan),
            "beta": np.where(ok, theta[:, 1], nan),
            "alpha_se": np.where(ok & (var_a > 0), np.sqrt(np.abs(var_a)), nan),
            "beta_se": np.where(ok & (var_b > 0), np.sqrt(np.abs(var_b)), nan),
            "log_likelihood": np.where(ok, ll, nan),
            "converged": converged,
            "boundary": ok & (np.abs(log_ab).max(axis=1) >= _COHORT_LOG_BOUND),
        }
    )


def _cohort_inputs(
    periods: ArrayLike, churned: ArrayLike, cohort: ArrayLike, weights: ArrayLike | None
) -> tuple[Array, Array, NDArray[Any], Array]:
    """Checked ``periods``, ``churned``, cohort labels and weights (one per customer)."""
    t = _as_array(periods, "periods")
    c = _as_array(churned, "churned")
    labels = np.asarray(cohort)
    if labels.ndim != 1 or len(labels) != len(t):
        raise DataError("cohort must give one label per customer")
    _check_lengths(periods=t, churned=c)
    w = _weights(weights, len(t))
    if (t < 0).any() or (np.abs(t - np.round(t)) > 1e-9).any():
        raise DataError("periods must be whole numbers >= 0 (paid periods or renewals)")
    if not np.isin(c, (0.0, 1.0)).all():
        raise DataError("churned must be 0/1 (False/True) per customer")
    if ((c == 1) & (t < 1)).any():
        raise DataError("a cancelled customer must have paid for at least one period")
    return t, c, labels, w


@dataclass(frozen=True)
class _CohortCounts:
    """Customers counted per distinct (cohort, periods, churned) record.

    ``cohort``, ``periods``, ``churned`` and ``weight`` have one entry per distinct
    record; ``customers``, ``cancelled`` and ``identified`` one per cohort (in the order
    of ``names``, sorted). A cohort is identified when it has both a cancellation and a
    renewal: without both, the spread of churn rates cannot be learned.
    """

    names: NDArray[Any]
    cohort: NDArray[np.intp]
    periods: Array
    churned: Array
    weight: Array
    customers: Array
    cancelled: Array
    identified: NDArray[np.bool_]

    @classmethod
    def of(cls, t: Array, c: Array, labels: NDArray[Any], w: Array) -> _CohortCounts:
        codes, names = pd.factorize(labels, sort=True)
        k = len(names)
        tmax = int(t.max()) + 1
        key = (codes.astype(np.int64) * tmax + t.astype(np.int64)) * 2 + c.astype(np.int64)
        ukey, inverse = np.unique(key, return_inverse=True)
        wc = np.asarray(np.bincount(inverse.ravel(), weights=w, minlength=len(ukey)), dtype=float)
        cc = (ukey % 2).astype(float)
        tc = ((ukey // 2) % tmax).astype(float)
        coh = (ukey // 2 // tmax).astype(np.intp)
        n_cust = _per_cohort(coh, wc, k)
        n_churn = _per_cohort(coh, wc * cc, k)
        renewed = np.where(cc == 1, tc >= 2, tc >= 1)
        n_renew = np.bincount(coh, weights=wc * renewed, minlength=k)
        ok = (n_churn > 0) & (n_renew > 0)
        return cls(np.asarray(names), coh, tc, cc, wc, n_cust, n_churn, ok)

    def records(
        self, rows: NDArray[np.bool_] | None = None
    ) -> tuple[NDArray[np.intp], Array, Array, Array]:
        """Cohort, periods, churned and weight of the records (of ``rows`` if given)."""
        if rows is None:
            return self.cohort, self.periods, self.churned, self.weight
        return self.cohort[rows], self.periods[rows], self.churned[rows], self.weight[rows]


def _grid_start(counts: _CohortCounts) -> Array:
    """Each cohort's best point of a coarse grid in (log alpha, log beta) (16 evaluations,
    each vectorized over all cohorts)."""
    k = len(counts.names)
    grid = np.array([(u, v) for u in (-1.0, 0.0, 1.0, 2.0) for v in (-1.0, 0.0, 1.0, 2.0)])
    best = np.full(k, -np.inf)
    log_ab = np.zeros((k, 2))
    for g in grid:
        cand = np.broadcast_to(g, (k, 2))
        ll_g = _cohort_derivatives(cand, *counts.records(), k, full=False)[0]
        better = ll_g > best
        best = np.where(better, ll_g, best)
        log_ab = np.where(better[:, None], cand, log_ab)
    return log_ab


def _cohort_newton(
    log_ab: Array, counts: _CohortCounts, tol: float, max_iter: int
) -> tuple[Array, Array, Array, Array]:
    """Damped Newton with backtracking from ``log_ab``, each iteration over the cohorts
    still moving; the optimum, its log-likelihood, gradient and Hessian per cohort.

    A cohort stops when its gradient is below ``tol`` per customer, when alpha and beta
    run off together (the no-spread boundary) or when backtracking cannot improve it.
    """
    n_cust, k = counts.customers, len(counts.names)
    ll, G, H = _cohort_derivatives(log_ab, *counts.records(), k)
    done = ~counts.identified
    for _ in range(max_iter):
        done |= np.abs(G).max(axis=1) <= tol * np.maximum(n_cust, 1.0)
        # alpha, beta -> infinity at a fixed ratio: no spread in churn rates (boundary)
        done |= np.abs(log_ab).max(axis=1) >= _COHORT_LOG_BOUND
        if done.all():
            break
        sub = counts.records(~done[counts.cohort])
        step = np.where(done[:, None], 0.0, _newton_steps(G, H))
        scale = np.where(done, 0.0, 1.0)
        for _ in range(40):  # backtracking, per cohort
            trial = log_ab + scale[:, None] * step
            ll_t = _cohort_derivatives(trial, *sub, k, full=False)[0]
            good = done | (np.isfinite(ll_t) & (ll_t >= ll - 1e-12 * np.abs(ll)))
            if good.all():
                break
            scale = np.where(good, scale, 0.5 * scale)
        stuck = ~done & (scale < 2.0**-39)
        log_ab = np.where(stuck[:, None], log_ab, log_ab + scale[:, None] * step)
        ll_n, G_n, H_n = _cohort_derivatives(log_ab, *sub, k)
        moving = ~done
        ll = np.where(moving, ll_n, ll)
        G = np.where(moving[:, None], G_n, G)
        H = np.where(moving[:, None, None], H_n, H)
        done |= stuck
    return log_ab, ll, G, H


def _cohort_variances(theta: Array, G: Array, H: Array) -> tuple[Array, Array]:
    """Variances of alpha and beta per cohort: the diagonal of the inverse of -H in
    natural parameters, from the gradient ``G`` and Hessian ``H`` in (log alpha,
    log beta) at ``theta`` (NaN or negative where the matrix is singular or not
    negative definite)."""
    Hn = (H - np.einsum("ki,ij->kij", G, np.eye(2))) / (theta[:, :, None] * theta[:, None, :])
    det = Hn[:, 0, 0] * Hn[:, 1, 1] - Hn[:, 0, 1] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        var_a = -Hn[:, 1, 1] / det
        var_b = -Hn[:, 0, 0] / det
    return var_a, var_b
