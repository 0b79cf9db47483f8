"""Beta-geometric/beta-Bernoulli (BG/BB) model of discrete-time repeat transactions.

For businesses whose customers can buy only at discrete opportunities (annual
donations, weekly markets, events): while alive, a customer transacts at each
opportunity with probability ``p ~ Beta(alpha, beta)``; before each opportunity they
may become inactive for good with probability ``theta ~ Beta(gamma, delta)``.
A customer's history is summarized by ``x`` transactions in ``n`` opportunities, the
last at opportunity ``t_x`` (Fader, Hardie & Shang 2010).

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a
   discrete-time noncontractual setting. Marketing Science 29(6), 1086-1108.
"""

from __future__ import annotations

import warnings
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, gammaln

from levelfield.customers._models import (
    SMALL_SAMPLE,
    _as_array,
    _check_lengths,
    _compress,
    _Model,
    _weights,
)
from levelfield.errors import ConfigError, DataError, InsufficientDataError, SmallSampleWarning

__all__ = ["BetaGeoBetaBinomModel", "bgbb_loglik"]

Array = NDArray[np.float64]


def _terms(
    alpha: float, beta: float, gamma: float, delta: float, x: Array, t_x: Array, n: Array
) -> tuple[Array, Array]:
    """Log of each term of the BG/BB likelihood (rows x terms) and its gradient.

    Term 0 is "alive through all n opportunities"; term ``1 + i`` is "active through
    ``t_x + i`` opportunities, then inactive", ``i = 0 .. n - t_x - 1`` ([1]_, eq. 5).
    Terms past a row's last ``i`` are ``-inf``.
    """
    k = int(np.max(n - t_x)) if len(n) else 0
    i = np.arange(k)[None, :]
    m = np.concatenate([(n - x)[:, None], t_x[:, None] - x[:, None] + i], axis=1)
    g = np.concatenate([np.zeros((len(n), 1)), np.ones((len(n), k))], axis=1)
    h = np.concatenate([n[:, None], t_x[:, None] + i], axis=1)
    valid = np.concatenate([np.ones((len(n), 1), bool), i < (n - t_x)[:, None]], axis=1)
    xa = (alpha + x)[:, None]
    bm = beta + m
    gg = gamma + g
    dh = delta + h
    log_t = betaln(xa, bm) - betaln(alpha, beta) + betaln(gg, dh) - betaln(gamma, delta)
    log_t = np.where(valid, log_t, -np.inf)
    end_ab = digamma(xa + bm)
    end_gd = digamma(gg + dh)
    grads = np.stack(
        [
            digamma(xa) - end_ab - digamma(alpha) + digamma(alpha + beta),
            digamma(bm) - end_ab - digamma(beta) + digamma(alpha + beta),
            digamma(gg) - end_gd - digamma(gamma) + digamma(gamma + delta),
            digamma(dh) - end_gd - digamma(delta) + digamma(gamma + delta),
        ]
    )
    return log_t, grads


def bgbb_loglik(
    alpha: float, beta: float, gamma: float, delta: float, x: Array, t_x: Array, n: Array
) -> tuple[Array, Array]:
    """BG/BB log-likelihood per customer and its gradient in ``(alpha, beta, gamma, delta)``.

    Evaluated in log space (log-sum-exp over the terms of [1]_, eq. 5).
    """
    log_t, grads = _terms(alpha, beta, gamma, delta, x, t_x, n)
    top = log_t.max(axis=1)
    e = np.exp(log_t - top[:, None])
    s = e.sum(axis=1)
    ll = top + np.log(s)
    weights = e / s[:, None]
    return ll, np.einsum("kij,ij->ki", np.nan_to_num(grads), weights)


class BetaGeoBetaBinomModel(_Model):
    """BG/BB model of repeat transactions at discrete opportunities.

    Parameters
    ----------
    penalizer, tol, max_iter
        As for :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta`` (transaction probability), ``gamma``, ``delta`` (drop-out
        probability per opportunity).
    standard_errors_, covariance_, log_likelihood_, n_customers_
        As for the other models.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in
       a discrete-time noncontractual setting. Marketing Science 29(6), 1086-1108.
    """

    _names = ("alpha", "beta", "gamma", "delta")
    _label = "BG/BB"

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        n_periods: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit on the recency/frequency pattern table.

        Parameters
        ----------
        frequency
            Repeat transactions ``x`` (whole numbers, 0 <= x <= recency).
        recency
            Opportunity of the last transaction ``t_x`` (0 without any).
        n_periods
            Opportunities observed ``n`` (>= recency, >= 1).
        weights
            Customers with each pattern (default 1).
        """
        self._check_options()
        x, t_x, n = _check_pattern(frequency, recency, n_periods)
        w = _weights(weights, len(x))
        n_eff = float(w.sum())
        if not ((x > 0) & (w > 0)).any() or not ((x < n) & (w > 0)).any():
            raise InsufficientDataError(
                "the BG/BB model needs customers who transacted again and customers who "
                "skipped opportunities; these data have only one kind"
            )
        if n_eff < SMALL_SAMPLE:
            warnings.warn(
                f"BG/BB is fitted on only {n_eff:g} customers; parameters are uncertain",
                SmallSampleWarning,
                stacklevel=2,
            )
        cols, wc = _compress([x, t_x, n], w)
        self._optimize((cols[0], cols[1], cols[2]), wc)
        self.n_customers_ = n_eff
        return self

    def _loglik(self, theta: Array, data: tuple[Array, ...]) -> tuple[Array, Array]:
        a, b, g, d = (float(v) for v in theta)
        return bgbb_loglik(a, b, g, d, data[0], data[1], data[2])

    def _starts(self, data: tuple[Array, ...], w: Array) -> list[Array]:
        return [
            np.array([1.0, 1.0, 1.0, 1.0]),
            np.array([1.0, 0.5, 0.5, 3.0]),
            np.array([0.5, 2.0, 2.0, 0.5]),
        ]

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> Array:
        """P(alive at opportunity ``n + 1`` | x, t_x, n) ([1]_, eq. 11), a share 0-1."""
        self._require_fit()
        x, t_x, n = _check_pattern(frequency, recency, n_periods)
        a, b, g, d = self._theta
        ll, _ = bgbb_loglik(a, b, g, d, x, t_x, n)
        alive = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + 1) - betaln(g, d)
        out: Array = np.exp(alive - ll)
        return out

    def conditional_expected_purchases(
        self, t: ArrayLike | float, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> Array:
        """Expected transactions in the next ``t`` opportunities ([1]_, eq. 13)."""
        self._require_fit()
        x, t_x, n = _check_pattern(frequency, recency, n_periods)
        ns = np.asarray(t, dtype=float)
        if not np.isfinite(ns).all() or (ns < 0).any():
            raise ConfigError(f"t must be a number of opportunities >= 0, not {t!r}")
        a, b, g, d = self._theta
        ll, _ = bgbb_loglik(a, b, g, d, x, t_x, n)
        lead = np.exp(betaln(a + x + 1.0, b + n - x) - betaln(a, b) - ll)
        diff = np.exp(gammaln(1.0 + d + n) - gammaln(g + d + n)) - np.exp(
            gammaln(1.0 + d + n + ns) - gammaln(g + d + n + ns)
        )
        out: Array = lead * d / (g - 1.0) * np.exp(gammaln(g + d) - gammaln(1.0 + d)) * diff
        return out

    def expected_purchases(self, t: ArrayLike | float) -> Array:
        """Expected transactions of a new customer in their first ``t`` opportunities (eq. 7)."""
        self._require_fit()
        ns = np.asarray(t, dtype=float)
        if not np.isfinite(ns).all() or (ns < 0).any():
            raise ConfigError(f"t must be a number of opportunities >= 0, not {t!r}")
        a, b, g, d = self._theta
        ratio = np.exp(
            gammaln(g + d) + gammaln(1.0 + d + ns) - gammaln(g + d + ns) - gammaln(1 + d)
        )
        out: Array = a / (a + b) * d / (g - 1.0) * (1.0 - ratio)
        return out


def _check_pattern(
    frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
) -> tuple[Array, Array, Array]:
    x = _as_array(frequency, "frequency")
    t_x = _as_array(recency, "recency")
    n = _as_array(n_periods, "n_periods")
    if _check_lengths(frequency=x, recency=t_x, n_periods=n) == 0:
        raise InsufficientDataError("no customers to fit")
    for name, arr in (("frequency", x), ("recency", t_x), ("n_periods", n)):
        if (arr < 0).any() or (np.abs(arr - np.round(arr)) > 1e-9).any():
            raise DataError(f"{name} must be whole numbers >= 0 (counts of opportunities)")
    if (n < 1).any():
        raise DataError("n_periods must be >= 1: every customer had at least one opportunity")
    bad = (x > t_x) | (t_x > n) | ((x == 0) & (t_x > 0)) | ((x > 0) & (t_x < 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{int(bad.sum()):,} pattern(s) are impossible (first at position {i}: x "
            f"{x[i]:g}, t_x {t_x[i]:g}, n {n[i]:g}); they need 0 <= x <= t_x <= n, with "
            "t_x = 0 exactly when x = 0"
        )
    return x, t_x, n
