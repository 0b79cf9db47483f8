"""BG/NBD and Pareto/NBD with time-invariant covariates on purchase and drop-out.

Each customer ``i`` has covariates ``z_i`` (acquisition channel, first-order value, store,
first product category, ...) that shift the scale parameters of the two processes, as
PyMC-Marketing and CLVTools define them (Fader & Hardie 2007, note 019):

BG/NBD (PyMC-Marketing's ``BetaGeoModel`` with ``purchase_covariate_cols`` and
``dropout_covariate_cols``)::

    alpha_i = alpha * exp(-gamma_purchase' z_i)      (purchase rate ~ Gamma(r, alpha_i))
    a_i     = a * exp(gamma_a' z_i)                   (drop-out p ~ Beta(a_i, b_i))
    b_i     = b * exp(gamma_b' z_i)

Pareto/NBD (CLVTools' static covariates, PyMC-Marketing's ``ParetoNBDModel``)::

    alpha_i = alpha * exp(-gamma_purchase' z_i)       (purchase rate ~ Gamma(r, alpha_i))
    beta_i  = beta * exp(-gamma_dropout' z_i)         (drop-out rate ~ Gamma(s, beta_i))

A positive purchase coefficient means customers with that trait buy more often (a
smaller Gamma scale); a positive Pareto/NBD drop-out coefficient means they leave sooner.

The likelihood of each customer is the model's own likelihood at their parameters, so a
model without covariates is exactly the plain model. Fitting is by maximum likelihood in
``(log r, log alpha, log a, log b, gamma...)``, started at the plain model's estimates
(coefficients 0): for the BG/NBD by Newton's method with the exact analytic Hessian
(the per-customer parameters are linear in the fitted vector, so the Hessian is a sum of
``D' diag(h) D`` blocks), for the Pareto/NBD by L-BFGS-B on the exact analytic gradient
with the Hessian for the standard errors from central differences of that gradient.
The likelihood-ratio test against the plain model is in ``lr_statistic_``,
``lr_df_`` and ``lr_p_value_``.

References
----------
.. [1] Fader, P. S. & Hardie, B. G. S. (2007). Incorporating time-invariant covariates
   into the Pareto/NBD and BG/NBD models. http://brucehardie.com/notes/019/
.. [2] Bachmann, P., Meierer, M. & Naef, J. (2021). The role of time-varying contextual
   factors in latent attrition models for customer base analysis. Marketing Science
   40(4), 783-809 (CLVTools).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import digamma, gammaln
from scipy.stats import chi2, norm
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from levelfield._estimator import Estimator, check_is_fitted
from levelfield.customers import _kernels as K  # noqa: N812
from levelfield.customers._models import (
    BetaGeoModel,
    ParetoNBDModel,
    _check_rfm,
    _compress,
    _weights,
)
from levelfield.errors import ConfigError, ConvergenceWarning, DataError, ModelError

__all__ = [
    "BetaGeoCovariateModel",
    "ParetoNBDCovariateModel",
    "bgnbd_row_derivatives",
]

Array = NDArray[np.float64]

#: the fit starts on every 8th (64th, ...) row while that leaves at least this many
_SUBSAMPLE_ROWS = 12_000
#: rows evaluated together in the covariate BG/NBD likelihood (see ``_total``)
_BLOCK_ROWS = 2**14
#: bound on |log-parameter| and |coefficient x covariate| steps
_MAX_STEP = 1.0


@dataclass(frozen=True)
class _Rows:
    """Per-row data of the BG/NBD likelihood, prepared once per fit.

    ``ux``/``ix``: the distinct purchase counts and each row's index into them (terms in
    ``r + x`` are evaluated once per distinct count); ``pos``: the rows with ``x > 0``,
    a slice when rows are sorted by ``x`` (the Beta-function terms vanish at ``x = 0``).
    """

    x: Array
    t_x: Array
    T: Array
    ux: Array
    ix: NDArray[np.intp]
    pos: slice | NDArray[np.intp]

    @classmethod
    def of(cls, x: Array, t_x: Array, T: Array) -> _Rows:
        ux, ix = K.factorize(x)
        if len(x) < 2 or bool((x[1:] >= x[:-1]).all()):
            pos: slice | NDArray[np.intp] = slice(int(np.searchsorted(x, 0.0, "right")), None)
        else:
            pos = np.flatnonzero(x > 0)
        return cls(x, t_x, T, ux, ix, pos)

    def subset(self, rows: slice) -> _Rows:
        return _Rows.of(self.x[rows], self.t_x[rows], self.T[rows])

    @cached_property
    def blocks(self) -> tuple[tuple[slice, _Rows], ...]:
        """The rows in blocks of ``_BLOCK_ROWS``, each prepared on its own."""
        n = len(self.x)
        if n <= _BLOCK_ROWS:
            return ((slice(0, n), self),)
        cuts = range(0, n, _BLOCK_ROWS)
        return tuple(
            (slice(i, i + _BLOCK_ROWS), self.subset(slice(i, i + _BLOCK_ROWS))) for i in cuts
        )


def _on_pos(rows: _Rows, values: Array) -> Array:
    """``values`` (one per row with ``x > 0``) in a full-length array, 0 elsewhere."""
    out = np.zeros(len(rows.x))
    out[rows.pos] = values
    return out


def _bgnbd_rows(
    r: float, u_alpha: Array, u_a: Array, u_b: Array, rows: _Rows, derivatives: bool
) -> tuple[Array, Array | None, Array | None]:
    """BG/NBD log-likelihood per row, with gradient and Hessian in log-parameters.

    ``u_*`` are the rows' log-parameters (``r`` is shared). With mixing weight
    ``w4 = sigmoid(A4 - A3)`` and ``L = A3 + softplus(A4 - A3)`` (Fader, Hardie & Lee
    2005, eq. 6), ``e = theta * (grad A3 - grad A4)``; the Hessian in log-parameters is
    ``theta theta' H + diag(g_u)`` written out entry by entry.
    """
    alpha, a, b = np.exp(u_alpha), np.exp(u_a), np.exp(u_b)
    x, pos = rows.x, rows.pos
    rx_u = r + rows.ux
    rx = rx_u[rows.ix]
    lT = np.log(alpha + rows.T)
    dl = np.log(alpha + rows.t_x) - lT
    ap, bp, xp = a[pos], b[pos], x[pos]
    abp = ap + bp
    bx1 = bp + xp - 1.0
    d = np.full(len(x), -np.inf)  # A4 - A3; A4 = -inf where x = 0
    d[pos] = u_a[pos] - np.log(bx1) - rx[pos] * dl[pos]
    e = np.exp(-np.abs(d))
    inv = 1.0 / (1.0 + e)
    w4 = np.where(d >= 0.0, inv, e * inv)
    ll = (gammaln(rx_u) - gammaln(r))[rows.ix] + r * u_alpha - rx * lT
    ll += np.maximum(d, 0.0) + np.log1p(e)
    ll += _on_pos(rows, gammaln(abp) - gammaln(abp + xp) + gammaln(bp + xp) - gammaln(bp))
    if not derivatives:  # a line search needs the value only
        return ll, None, None
    iT = 1.0 / (alpha + rows.T)
    di = 1.0 / (alpha + rows.t_x) - iT
    dig_ab = _on_pos(rows, digamma(abp) - digamma(abp + xp))
    e3 = _on_pos(rows, bp / bx1)  # b * d(A3 - A4)/db
    g = np.empty((4, len(x)))
    g[0] = r * ((digamma(rx_u) - digamma(r))[rows.ix] + u_alpha - lT - w4 * dl)
    g[1] = r - alpha * rx * (iT + w4 * di)
    g[2] = a * dig_ab + w4
    g[3] = b * (dig_ab + _on_pos(rows, digamma(bp + xp) - digamma(bp))) - w4 * e3
    ww = w4 * (1.0 - w4)
    e0 = r * dl
    e1 = alpha * rx * di
    tg_ab = _on_pos(rows, K.trigamma(abp) - K.trigamma(abp + xp))
    tg_b = _on_pos(rows, K.trigamma(bp + xp) - K.trigamma(bp))
    H = np.empty((4, 4, len(x)))
    H[0, 0] = r * r * (K.trigamma(rx_u) - K.trigamma(r))[rows.ix] + ww * e0 * e0 + g[0]
    H[0, 1] = r * (1.0 - alpha * (iT + w4 * di)) + ww * e0 * e1
    H[1, 1] = alpha * alpha * rx * (iT * iT + w4 * di * (di + 2.0 * iT)) - r + ww * e1 * e1
    H[1, 1] += g[1]
    H[0, 2] = -ww * e0
    H[0, 3] = ww * e0 * e3
    H[1, 2] = -ww * e1
    H[1, 3] = ww * e1 * e3
    H[2, 2] = a * a * tg_ab - w4 + ww + g[2]
    H[2, 3] = a * b * tg_ab - ww * e3
    H[3, 3] = b * b * (tg_ab + tg_b) + (w4 + ww) * e3 * e3 + g[3]
    for i, j in ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2)):  # 4 x 4 parameters
        H[i, j] = H[j, i]
    return ll, g, H


def bgnbd_row_derivatives(
    r: float,
    alpha: Array,
    a: Array,
    b: Array,
    x: Array,
    t_x: Array,
    T: Array,
    derivatives: bool = True,
) -> tuple[Array, Array, Array]:
    """BG/NBD log-likelihood per customer with gradient and Hessian in log-parameters.

    Parameters are per customer (arrays, ``r`` one value). With ``u = (log r, log alpha,
    log a, log b)`` the gradient is ``g_u = g * theta`` and the Hessian
    ``H_u = diag(theta) H diag(theta) + diag(g_u)``, where ``H`` is the Hessian in the
    natural parameters: ``w3 H(A3) + w4 H(A4) + w3 w4 d d'`` plus the Gamma-function
    terms, with ``L = log(exp(A3) + exp(A4))`` as in Fader, Hardie & Lee (2005), eq. 6.

    Returns
    -------
    ll : ndarray (n,)
    grad : ndarray (4, n)
    hess : ndarray (4, 4, n)
        (empty arrays for ``grad`` and ``hess`` when ``derivatives`` is false)
    """
    x, t_x, T = (np.asarray(v, dtype=float).reshape(-1) for v in (x, t_x, T))
    n = len(x)
    u = [np.log(np.broadcast_to(np.asarray(p, dtype=float), (n,))) for p in (alpha, a, b)]
    ll, g, H = _bgnbd_rows(float(r), u[0], u[1], u[2], _Rows.of(x, t_x, T), derivatives)
    if g is None or H is None:
        return ll, np.empty(0), np.empty(0)
    return ll, g, H


@dataclass(frozen=True)
class _Design:
    """How the fitted vector maps to each customer's log-parameters.

    ``u_j = phi[index[j]] @ columns[j]'`` row by row: ``columns[j]`` is ``(n, m_j)`` with a
    leading column of ones (the base log-parameter) and the signed covariates.
    """

    index: tuple[NDArray[np.intp], ...]
    columns: tuple[Array, ...]

    # einsum for the sums over rows, and the Hessian's products under the fit's one BLAS
    # thread: OpenBLAS threads spinning on 2 busy cores doubled the CPU time of a fit
    def log_params(self, phi: Array) -> list[Array]:
        return [
            np.einsum("ij,j->i", c, phi[i]) for i, c in zip(self.index, self.columns, strict=True)
        ]

    def gradient(self, g_u: Array, w: Array, k: int) -> Array:
        out = np.zeros(k)
        for j, (i, c) in enumerate(zip(self.index, self.columns, strict=True)):
            out[i] += np.einsum("ij,i->j", c, w * g_u[j])
        return out

    def hessian(self, H_u: Array, w: Array, k: int) -> Array:
        out = np.zeros((k, k))
        m = len(self.index)
        for j in range(m):  # base parameters, not customers
            cj = self.columns[j]
            for l_ in range(j, m):
                block = (cj * (w * H_u[j, l_])[:, None]).T @ self.columns[l_]
                out[np.ix_(self.index[j], self.index[l_])] += block
                if l_ != j:
                    out[np.ix_(self.index[l_], self.index[j])] += block.T
        return out

    def subset(self, rows: NDArray[np.intp] | slice) -> _Design:
        return _Design(self.index, tuple(c[rows] for c in self.columns))


def _covariate_matrix(
    z: ArrayLike | pd.DataFrame | None, n: int, kind: str
) -> tuple[Array, list[str]]:
    """Covariates as an ``(n, k)`` float matrix with their names (k may be 0)."""
    if z is None:
        return np.zeros((n, 0)), []
    if isinstance(z, pd.Series):
        z = z.to_frame()
    if isinstance(z, pd.DataFrame):
        names = [str(c) for c in z.columns]
        bad_cols = [c for c in z.columns if not pd.api.types.is_numeric_dtype(z[c])]
        if bad_cols:
            raise DataError(
                f"{kind} covariate(s) {', '.join(map(str, bad_cols))} are not numbers; encode "
                "categories as 0/1 columns (customer_covariates does this) first"
            )
        arr = z.to_numpy(dtype=float)
    else:
        if isinstance(z, str | bytes):
            raise DataError(f"{kind} covariates must be numbers, not the text {z!r}")
        try:
            arr = np.asarray(z, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{kind} covariates must be numbers: {exc}") from exc
        if arr.ndim == 1:
            arr = arr[:, None]
        names = [f"{kind}_{j}" for j in range(arr.shape[1] if arr.ndim == 2 else 0)]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise DataError(
            f"{kind} covariates must have one row per customer ({n:,}); got shape {arr.shape}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(
            f"{kind} covariate {names[col]!r} has {int(bad.sum()):,} missing or infinite "
            f"value(s) (first at row {row}); fill them (e.g. 0 and an indicator column)"
        )
    constant = [names[j] for j in range(arr.shape[1]) if np.ptp(arr[:, j]) == 0]
    if constant:
        raise DataError(
            f"{kind} covariate(s) {', '.join(constant)} take one value for every customer, "
            "so their effect cannot be told from the base parameters; drop them"
        )
    if arr.shape[1] and _collinear(arr):
        raise DataError(
            f"{kind} covariates {', '.join(names)} are collinear (one is a combination of "
            "the others, e.g. every level of a category as a 0/1 column); drop one of them"
        )
    return arr, names


def _merge_rows(columns: list[Array], w: Array) -> tuple[list[Array], Array]:
    """Identical rows merged (weights summed), sorted by the first column (``x``).

    With a continuous covariate (an evenly spread sample of 2,000 rows nearly all
    distinct) merging cannot pay for its hashing: the rows are then only sorted by
    ``x`` and those with zero weight dropped.
    """
    n = len(w)
    probe = slice(None, None, max(1, n // 2000))
    m = len(w[probe])
    if m >= 1000 and any(len(pd.unique(c[probe])) > 0.9 * m for c in columns[3:]):
        keep = np.flatnonzero(w > 0)
        order = keep[np.argsort(columns[0][keep], kind="stable")]
        return [c[order] for c in columns], w[order]
    return _compress(columns, w)


def _collinear(arr: Array) -> bool:
    """Whether a centred column is (to 1e-10) a combination of the others.

    From the eigenvalues of the columns' correlation matrix (k x k, scale-free), not an
    SVD of all rows (0.3 s on a million).
    """
    c = arr - arr.mean(axis=0)
    c = c / np.sqrt(np.einsum("ij,ij->j", c, c))
    return bool(np.linalg.eigvalsh(np.einsum("ij,il->jl", c, c)).min() < 1e-10)


class _CovariateModel(Estimator):
    """Shared machinery: design, starting fit, optimization, standard errors, LR test."""

    _base_names: tuple[str, ...] = ()
    _label = ""
    #: per base parameter: which covariate group shifts it ('' none) and the sign
    _links: tuple[tuple[str, float], ...] = ()

    def __init__(self, *, tol: float = 1e-8, max_iter: int = 200) -> None:
        self.tol = tol
        self.max_iter = max_iter

    def _check_options(self) -> None:
        if not (isinstance(self.tol, int | float) and 0 < self.tol < 1):
            raise ConfigError(f"tol must be between 0 and 1, not {self.tol!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter > 0):
            raise ConfigError(f"max_iter must be a positive integer, not {self.max_iter!r}")

    def _base_model(self) -> BetaGeoModel | ParetoNBDModel:
        raise NotImplementedError

    def _coef_names(self, groups: dict[str, list[str]]) -> list[str]:
        names: list[str] = []
        for base, (group, _) in zip(self._base_names, self._links, strict=True):
            if group:
                names.extend(f"{self._coef_prefix(base)}:{c}" for c in groups[group])
        return names

    def _coef_prefix(self, base: str) -> str:
        raise NotImplementedError

    def _design(self, groups: dict[str, Array]) -> _Design:
        n = len(next(iter(groups.values())))
        ones = np.ones((n, 1))
        index: list[NDArray[np.intp]] = []
        columns: list[Array] = []
        nxt = len(self._base_names)
        for j, (group, sign) in enumerate(self._links):
            z = groups[group] if group else np.zeros((n, 0))
            k = z.shape[1]
            index.append(np.r_[j, np.arange(nxt, nxt + k)].astype(np.intp))
            columns.append(np.hstack([ones, sign * z]))
            nxt += k
        return _Design(tuple(index), tuple(columns))

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        purchase_covariates: ArrayLike | pd.DataFrame | None = None,
        dropout_covariates: ArrayLike | pd.DataFrame | None = None,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood; the plain model is fitted first for the LR test.

        Parameters
        ----------
        frequency, recency, T
            Per-customer summary as for the plain model (time in the summary's unit).
        purchase_covariates, dropout_covariates
            ``(n, k)`` numbers per customer (DataFrame columns give the names), or None.
            Categories enter as 0/1 columns without a reference level; numbers are best
            centred (the base parameters are then those of an average customer).
        weights
            Number of customers each row stands for (default 1).

        Raises
        ------
        DataError
            Covariates with missing values, text, a constant or collinear column, or a
            row count that differs from the summary's.
        """
        self._check_options()
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        n = len(x)
        w = _weights(weights, n)
        zp, p_names = _covariate_matrix(purchase_covariates, n, "purchase")
        zd, d_names = _covariate_matrix(dropout_covariates, n, "dropout")
        # one BLAS thread: OpenBLAS threads spinning on small products over busy cores
        # doubled the CPU time of the fit
        with threadpool_limits(limits=1, user_api="blas"):
            base = self._base_model().fit(x, t_x, T_, weights=w)
            cols, wc = _merge_rows([x, t_x, T_, *zp.T, *zd.T], w)
            xc, tc, Tc = cols[0], cols[1], cols[2]
            kp = zp.shape[1]
            zpc = np.column_stack(cols[3 : 3 + kp]) if kp else np.zeros((len(wc), 0))
            zdc = np.column_stack(cols[3 + kp :]) if zd.shape[1] else np.zeros((len(wc), 0))
            design = self._design({"purchase": zpc, "dropout": zdc})
            coef_names = self._coef_names({"purchase": p_names, "dropout": d_names})
            phi0 = np.r_[
                np.log([base.params_[k] for k in self._base_names]), np.zeros(len(coef_names))
            ]
            data = self._prepare((xc, tc, Tc))
            if coef_names:
                phi, ll, hess, ok = self._optimize(phi0, data, design, wc)
            else:
                ll = base.log_likelihood_
                phi = phi0
                hess = self._hessian(phi, data, design, wc)
                ok = True
            self._finish(phi, ll, hess, ok, coef_names, base, p_names, d_names, float(w.sum()))
        return self

    # -- likelihood over the compressed rows --------------------------------------------
    def _prepare(self, data: tuple[Array, ...]) -> Any:
        """The rows in the form ``_total`` wants (once per fit)."""
        return data

    def _total(
        self, phi: Array, data: tuple[Array, ...], design: _Design, w: Array, hessian: bool
    ) -> tuple[float, Array, Array | None]:
        raise NotImplementedError

    def _hessian(self, phi: Array, data: tuple[Array, ...], design: _Design, w: Array) -> Array:
        _, _, H = self._total(phi, data, design, w, True)
        if H is None:
            raise ModelError(f"{self._label}: no Hessian")  # pragma: no cover
        return H

    def _optimize(
        self, phi0: Array, data: tuple[Array, ...], design: _Design, w: Array
    ) -> tuple[Array, float, Array, bool]:
        raise NotImplementedError

    def _finish(
        self,
        phi: Array,
        ll: float,
        hess: Array,
        ok: bool,
        coef_names: list[str],
        base: BetaGeoModel | ParetoNBDModel,
        p_names: list[str],
        d_names: list[str],
        n_eff: float,
    ) -> None:
        nb = len(self._base_names)
        names = [*self._base_names, *coef_names]
        theta = np.r_[np.exp(phi[:nb]), phi[nb:]]
        self.converged_ = bool(ok)
        if not ok:
            warnings.warn(
                f"{self._label} with covariates did not converge; parameters may be "
                "unreliable. Try fewer covariates or centred numeric ones",
                ConvergenceWarning,
                stacklevel=3,
            )
        # covariance in phi, then in the reported parameters (delta method: d theta/d phi)
        try:
            cov_phi = np.linalg.inv(-hess)
        except np.linalg.LinAlgError:
            cov_phi = np.full_like(hess, np.nan)
        jac = np.r_[np.exp(phi[:nb]), np.ones(len(phi) - nb)]
        cov = cov_phi * np.outer(jac, jac)
        var = np.diag(cov)
        if not (np.isfinite(var).all() and (var > 0).all()):
            warnings.warn(
                f"{self._label} with covariates: the information matrix is not positive "
                "definite at the optimum; standard errors are NaN (weakly identified)",
                ConvergenceWarning,
                stacklevel=3,
            )
            cov = cov * np.nan
            var = np.diag(cov)
        self.params_ = {k: float(v) for k, v in zip(names, theta, strict=True)}
        self.standard_errors_ = {
            k: float(math.sqrt(v)) if v > 0 else float("nan")
            for k, v in zip(names, var, strict=True)
        }
        self.covariance_ = cov
        self.log_likelihood_ = float(ll)
        self.base_params_ = dict(base.params_)
        self.base_log_likelihood_ = float(base.log_likelihood_)
        self.lr_df_ = len(coef_names)
        self.lr_statistic_ = max(0.0, 2.0 * (self.log_likelihood_ - self.base_log_likelihood_))
        self.lr_p_value_ = float(chi2.sf(self.lr_statistic_, self.lr_df_)) if coef_names else 1.0
        self.purchase_covariates_ = list(p_names)
        self.dropout_covariates_ = list(d_names)
        self.n_customers_ = n_eff

    # -- predictions ---------------------------------------------------------------------
    def probability_alive(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        purchase_covariates: ArrayLike | pd.DataFrame | None = None,
        dropout_covariates: ArrayLike | pd.DataFrame | None = None,
    ) -> Array:
        """P(customer is still active at the end of observation), a share 0-1."""
        p, rfm = self._customers(frequency, recency, T, purchase_covariates, dropout_covariates)
        return self._alive(p, *rfm)

    def conditional_expected_purchases(
        self,
        t: float,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        purchase_covariates: ArrayLike | pd.DataFrame | None = None,
        dropout_covariates: ArrayLike | pd.DataFrame | None = None,
    ) -> Array:
        """Expected purchases of each customer in the next ``t`` time units."""
        p, rfm = self._customers(frequency, recency, T, purchase_covariates, dropout_covariates)
        return self._expected(p, float(t), *rfm)

    def _customers(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, zp: Any, zd: Any
    ) -> tuple[dict[str, Array], tuple[Array, Array, Array]]:
        """Each customer's parameters and checked (x, t_x, T)."""
        x, t_x, T_ = _check_rfm(frequency, recency, T)
        return self.customer_params(zp, zd, len(x)), (x, t_x, T_)

    def _alive(self, p: dict[str, Array], x: Array, t_x: Array, T: Array) -> Array:
        raise NotImplementedError

    def _expected(self, p: dict[str, Array], t: float, x: Array, t_x: Array, T: Array) -> Array:
        raise NotImplementedError

    def customer_params(
        self,
        purchase_covariates: ArrayLike | pd.DataFrame | None = None,
        dropout_covariates: ArrayLike | pd.DataFrame | None = None,
        n: int | None = None,
    ) -> dict[str, Array]:
        """Each customer's model parameters (e.g. ``alpha_i``) from their covariates."""
        check_is_fitted(self, "params_")
        rows = n
        for z in (purchase_covariates, dropout_covariates):
            if z is not None and rows is None:
                rows = len(np.asarray(z))
        rows = 1 if rows is None else rows
        zp, zd = self._prediction_covariates(purchase_covariates, dropout_covariates, rows)
        design = self._design({"purchase": zp, "dropout": zd})
        phi = self._phi()
        return {k: np.exp(u) for k, u in zip(self._base_names, design.log_params(phi), strict=True)}

    def _phi(self) -> Array:
        nb = len(self._base_names)
        vals = np.array(list(self.params_.values()), dtype=float)
        out: Array = np.r_[np.log(vals[:nb]), vals[nb:]]
        return out

    def _prediction_covariates(self, zp_in: Any, zd_in: Any, n: int) -> tuple[Array, Array]:
        out = []
        for z, names, kind in (
            (zp_in, self.purchase_covariates_, "purchase"),
            (zd_in, self.dropout_covariates_, "dropout"),
        ):
            if not names:
                if z is not None and np.asarray(z).size:
                    raise DataError(f"the model was fitted without {kind} covariates")
                out.append(np.zeros((n, 0)))
                continue
            if z is None:
                raise DataError(
                    f"the model was fitted with {kind} covariates {', '.join(names)}; pass "
                    f"{kind}_covariates with those columns"
                )
            if isinstance(z, pd.DataFrame):
                missing = [c for c in names if c not in z.columns]
                if missing:
                    raise DataError(f"{kind} covariates lack the column(s) {', '.join(missing)}")
                z = z[names]
            arr = np.asarray(z, dtype=float)
            arr = arr[:, None] if arr.ndim == 1 else arr
            if arr.shape != (n, len(names)) or not np.isfinite(arr).all():
                raise DataError(
                    f"{kind} covariates must be finite numbers of shape ({n}, {len(names)}), "
                    f"not {arr.shape}"
                )
            out.append(arr)
        return out[0], out[1]

    def summary(self) -> pd.DataFrame:
        """Parameter table: estimate, standard error, 95 % Wald interval, z and p."""
        check_is_fitted(self, "params_")
        est = np.array(list(self.params_.values()))
        se = np.array([self.standard_errors_[k] for k in self.params_])
        nb = len(self._base_names)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.r_[np.full(nb, np.nan), est[nb:] / se[nb:]]
        return pd.DataFrame(
            {
                "estimate": est,
                "std_error": se,
                "lower_95": est - 1.959964 * se,
                "upper_95": est + 1.959964 * se,
                "z": z,
                "p_value": 2.0 * (1.0 - _norm_cdf(np.abs(z))),
            },
            index=pd.Index(list(self.params_), name="parameter"),
        )

    def likelihood_ratio_test(self) -> dict[str, float]:
        """Against the same model without covariates: statistic, degrees of freedom, p."""
        check_is_fitted(self, "params_")
        return {
            "statistic": self.lr_statistic_,
            "df": float(self.lr_df_),
            "p_value": self.lr_p_value_,
        }


def _norm_cdf(v: Array) -> Array:
    out: Array = norm.cdf(v)
    return out


def _dot(u: Array, v: Array) -> float:
    # einsum, not BLAS ddot (OpenBLAS threads are slow for these on busy machines)
    return float(np.einsum("i,i->", u, v))


def _maximize(
    total: Any, phi0: Array, tol: float, max_iter: int
) -> tuple[Array, float, Array, bool]:
    """Maximize ``total(phi) -> (ll, gradient, Hessian)`` by scipy's ``trust-exact``.

    The exact Hessian in a trust region (Moré & Sorensen's subproblem, the Levenberg
    damping of a hand-written Newton loop done properly); the objective is scaled by
    ``1 / |ll(phi0)|``, so ``tol`` bounds the gradient relative to the log-likelihood.
    Each point is evaluated once (value, gradient and Hessian together).

    Against the hand-written damped Newton loop this replaced (BG/NBD with 3 covariates
    on purchase and drop-out, 100,000 simulated customers of
    ``benchmarks/clv_models.py``, started at the plain fit): 4 iterations and 5
    evaluations vs 5 Newton steps with 5 Hessian and 4 line-search evaluations; CPU
    0.71 s vs 0.65 s (best of 3, load average 12 on 2 cores: equal within the noise);
    the same optimum (parameters within 4e-7, log-likelihoods within 1e-9).

    Returns the optimum, its log-likelihood and Hessian, and whether ``tol`` was met.
    """
    cache: dict[bytes, tuple[float, Array, Array]] = {}

    def evaluate(p: Array) -> tuple[float, Array, Array]:
        key = p.tobytes()
        if key not in cache:
            cache.clear()
            with np.errstate(all="ignore"):
                cache[key] = total(p, hessian=True)
        return cache[key]

    scale = 1.0 / max(abs(evaluate(np.asarray(phi0, dtype=float))[0]), 1.0)

    def fun(p: Array) -> tuple[float, Array]:
        ll, g, _ = evaluate(p)
        if not (math.isfinite(ll) and np.isfinite(g).all()):
            return 1e100, np.zeros_like(p)  # outside the domain: the trust region shrinks
        return -ll * scale, -g * scale

    def hess(p: Array) -> Array:
        ll, g, H = evaluate(p)
        if not (math.isfinite(ll) and np.isfinite(g).all() and np.isfinite(H).all()):
            # Outside the domain ``fun`` is 1e100, so this step is rejected; trust-exact
            # still builds its model there and needs a finite matrix to do it.
            return np.eye(len(p))
        return -H * scale

    res = minimize(
        fun,
        phi0,
        jac=True,
        hess=hess,
        method="trust-exact",
        options={"gtol": tol, "maxiter": max_iter},
    )
    ll, g, H = evaluate(res.x)
    ok = math.isfinite(ll) and float(np.linalg.norm(g)) * scale <= tol
    return np.asarray(res.x, dtype=float), float(ll), H, ok


class BetaGeoCovariateModel(_CovariateModel):
    """BG/NBD with time-invariant covariates (PyMC-Marketing's definition).

    ``alpha_i = alpha exp(-gamma_purchase' z_i)``, ``a_i = a exp(gamma_a' z_i)``,
    ``b_i = b exp(gamma_b' z_i)``; ``r`` is shared.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b`` (a customer whose covariates are all 0), then
        ``purchase:<name>``, ``dropout_a:<name>``, ``dropout_b:<name>`` coefficients.
    standard_errors_, covariance_
        From the inverse of the exact observed information.
    log_likelihood_, base_log_likelihood_
        With and without covariates.
    lr_statistic_, lr_df_, lr_p_value_
        Likelihood-ratio test against the plain BG/NBD (chi-square).

    References
    ----------
    .. [1] Fader & Hardie (2007), note 019; PyMC-Marketing ``clv.BetaGeoModel``.
    """

    _base_names = ("r", "alpha", "a", "b")
    _label = "BG/NBD"
    _links = (("", 1.0), ("purchase", -1.0), ("dropout", 1.0), ("dropout", 1.0))

    def _base_model(self) -> BetaGeoModel:
        return BetaGeoModel()

    def _coef_prefix(self, base: str) -> str:
        return {"alpha": "purchase", "a": "dropout_a", "b": "dropout_b"}[base]

    def _prepare(self, data: tuple[Array, ...]) -> _Rows:
        return _Rows.of(*data)

    def _total(
        self, phi: Array, data: Any, design: _Design, w: Array, hessian: bool
    ) -> tuple[float, Array, Array | None]:
        rows = data if isinstance(data, _Rows) else _Rows.of(*data)
        r = float(np.exp(phi[0]))
        k = len(phi)
        total, grad, H = 0.0, np.zeros(k), np.zeros((k, k))
        # blocks of rows, not single rows: a block's temporaries stay in the CPU cache
        # (on a million rows one pass over all at once took 3 s CPU, in blocks about 1 s)
        for sl, block in rows.blocks:
            part, wb = design.subset(sl), w[sl]
            u = part.log_params(phi)
            ll, g_u, H_u = _bgnbd_rows(r, u[1], u[2], u[3], block, True)
            total += _dot(ll, wb)
            grad += part.gradient(g_u, wb, k)  # type: ignore[arg-type]
            if hessian:
                H += part.hessian(H_u, wb, k)  # type: ignore[arg-type]
        return total, grad, H if hessian else None

    def _optimize(
        self, phi0: Array, data: Any, design: _Design, w: Array
    ) -> tuple[Array, float, Array, bool]:
        phi = phi0
        n = len(w)
        steps: list[int] = []  # every 64th, then every 8th row, ... while that leaves enough rows
        while n // (8 ** (len(steps) + 1)) >= _SUBSAMPLE_ROWS:
            steps.append(8 ** (len(steps) + 1))
        for step in reversed(steps):
            # evenly spread rows (sorted by x) find the optimum's neighbourhood cheaply
            sub = slice(None, None, step)
            phi = _maximize(
                partial(self._total, data=data.subset(sub), design=design.subset(sub), w=w[sub]),
                phi,
                1e-5,
                self.max_iter,
            )[0]
        total = partial(self._total, data=data, design=design, w=w)
        return _maximize(total, phi, self.tol, self.max_iter)

    def _alive(self, p: dict[str, Array], x: Array, t_x: Array, T: Array) -> Array:
        return K.bgnbd_prob_alive(p["r"], p["alpha"], p["a"], p["b"], x, t_x, T)

    def _expected(self, p: dict[str, Array], t: float, x: Array, t_x: Array, T: Array) -> Array:
        return K.bgnbd_conditional_expected(p["r"], p["alpha"], p["a"], p["b"], t, x, t_x, T)


class ParetoNBDCovariateModel(_CovariateModel):
    """Pareto/NBD with time-invariant covariates (CLVTools' and PyMC-Marketing's definition).

    ``alpha_i = alpha exp(-gamma_purchase' z_i)``, ``beta_i = beta exp(-gamma_dropout' z_i)``;
    ``r`` and ``s`` are shared.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta``, then ``purchase:<name>`` and
        ``dropout:<name>`` coefficients.

    References
    ----------
    .. [1] Fader & Hardie (2007), note 019; CLVTools ``pnbd(..., static covariates)``.
    """

    _base_names = ("r", "alpha", "s", "beta")
    _label = "Pareto/NBD"
    _links = (("", 1.0), ("purchase", -1.0), ("", 1.0), ("dropout", -1.0))

    def _base_model(self) -> ParetoNBDModel:
        return ParetoNBDModel()

    def _coef_prefix(self, base: str) -> str:
        return {"alpha": "purchase", "beta": "dropout"}[base]

    def _gradient_total(
        self, phi: Array, data: tuple[Array, ...], design: _Design, w: Array
    ) -> tuple[float, Array]:
        u = design.log_params(phi)
        theta = [np.exp(v) for v in u]
        ll, grad, _ = K.pareto_nbd_loglik(
            float(theta[0][0]), theta[1], float(theta[2][0]), theta[3], *data
        )
        g_u = grad * np.stack(theta)
        return float(ll @ w), design.gradient(g_u, w, len(phi))

    def _total(
        self, phi: Array, data: tuple[Array, ...], design: _Design, w: Array, hessian: bool
    ) -> tuple[float, Array, Array | None]:
        ll, g = self._gradient_total(phi, data, design, w)
        if not hessian:
            return ll, g, None
        k = len(phi)
        H = np.empty((k, k))
        h = 1e-5
        for j in range(k):  # parameters, not customers
            up, dn = phi.copy(), phi.copy()
            up[j] += h
            dn[j] -= h
            H[:, j] = (
                self._gradient_total(up, data, design, w)[1]
                - self._gradient_total(dn, data, design, w)[1]
            ) / (2 * h)
        return ll, g, 0.5 * (H + H.T)

    def _optimize(
        self, phi0: Array, data: tuple[Array, ...], design: _Design, w: Array
    ) -> tuple[Array, float, Array, bool]:
        wsum = float(w.sum())

        def objective(p: Array) -> tuple[float, Array]:
            with np.errstate(all="ignore"):
                ll, g = self._gradient_total(p, data, design, w)
            if not (math.isfinite(ll) and np.isfinite(g).all()):
                return 1e100, np.zeros_like(p)
            return -ll / wsum, -g / wsum

        res = minimize(
            objective,
            phi0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter * 10, "ftol": 1e-15, "gtol": self.tol},
        )
        ll, _, H = self._total(res.x, data, design, w, True)
        grad_norm = float(np.abs(res.jac).max())
        return res.x, ll, H if H is not None else np.eye(len(phi0)), grad_norm < 1e-5

    def _alive(self, p: dict[str, Array], x: Array, t_x: Array, T: Array) -> Array:
        return K.pareto_nbd_loglik(
            float(p["r"][0]), p["alpha"], float(p["s"][0]), p["beta"], x, t_x, T
        )[2]

    def _expected(self, p: dict[str, Array], t: float, x: Array, t_x: Array, T: Array) -> Array:
        return K.pareto_nbd_conditional_expected(
            float(p["r"][0]), p["alpha"], float(p["s"][0]), p["beta"], t, x, t_x, T
        )


#: covariates :func:`customer_covariates` can build from a workspace
WORKSPACE_COVARIATES = ("channel", "first_order_value", "region", "first_category", "store")


def _indicators(values: pd.Series, name: str, min_share: float) -> pd.DataFrame:
    """0/1 columns per level, the most common level as reference (no column).

    Levels held by fewer than ``min_share`` of customers are pooled as ``other``, and a
    pooled ``other`` still below ``min_share`` joins the reference level: a handful of
    customers cannot identify their own coefficients (their drop-out coefficient runs
    to the boundary). A category with one level left gives no column.
    """
    v = values.fillna("unknown").astype(str)
    share = v.value_counts(normalize=True)
    rare = share.index[share < min_share]
    if len(rare) > 0:
        pooled = "other" if float(share[rare].sum()) >= min_share else str(share.index[0])
        v = v.where(~v.isin(rare), pooled)
    counts = v.value_counts()
    levels = sorted(str(c) for c in counts.index[1:])  # the most common is the reference
    return pd.DataFrame(
        {f"{name}={lev}": (v == lev).to_numpy(dtype=float) for lev in levels}, index=v.index
    )


def customer_covariates(
    ws: Any,
    customer_ids: ArrayLike,
    *,
    include: tuple[str, ...] = WORKSPACE_COVARIATES,
    currency: str | None = None,
    min_share: float = 0.02,
) -> pd.DataFrame:
    """Time-invariant covariates of each customer, from their first order in the workspace.

    Parameters
    ----------
    ws
        An open workspace.
    customer_ids
        The (pseudonymous) ids of the summary the model is fitted on; rows come out in
        this order.
    include
        Any of ``channel`` (acquisition channel: the first order's), ``first_order_value``
        (log of the first order's net value, centred on the customers' mean),
        ``region`` (the country the first order was shipped or billed to, as the export
        states it: ``order_details.country``), ``first_category`` (product category with
        the most value in the first order) and ``store`` (where the first order was
        placed: the workspace's location field).
    currency
        Currency of the purchases (default: the workspace's base currency).
    min_share
        Levels held by fewer customers than this share are pooled as ``other`` (or join
        the most common level when even the pool is below it).

    Returns
    -------
    DataFrame
        0/1 columns ``channel=<level>``, ``region=<level>``, ``first_category=<level>``,
        ``store=<level>`` (the
        most common level is the reference and has no column) and ``first_order_value``;
        columns that do not vary are left out.
    """
    unknown = [c for c in include if c not in WORKSPACE_COVARIATES]
    if unknown:
        raise ConfigError(
            f"unknown covariate(s) {', '.join(unknown)}; choose from "
            f"{', '.join(WORKSPACE_COVARIATES)}"
        )
    from levelfield.customers._summary import workspace_purchases_sql

    cur = currency or ws.currency()
    con = ws.cursor()
    try:
        first = con.execute(
            f"""
            WITH p AS ({workspace_purchases_sql(cur)}),
            f AS (
                SELECT customer_id, arg_min(order_id, (ts, order_id)) AS order_id,
                       arg_min(channel, (ts, order_id)) AS channel,
                       arg_min(amount, (ts, order_id)) AS amount
                FROM p WHERE amount > 0 GROUP BY 1
            ),
            cat AS (
                SELECT l.order_id, arg_max(coalesce(l.category, 'unknown'),
                                           l.quantity * l.unit_price) AS category
                FROM order_lines l SEMI JOIN f USING (order_id) GROUP BY 1
            )
            SELECT f.customer_id, f.channel, f.amount::DOUBLE AS amount,
                   coalesce(o.store, 'unknown') AS store, cat.category AS first_category,
                   d.country AS region
            FROM f LEFT JOIN orders o USING (order_id) LEFT JOIN cat USING (order_id)
            LEFT JOIN order_details d USING (order_id)
            """
        ).df()
    finally:
        con.close()
    ids = pd.Index(np.asarray(customer_ids), name="customer_id")
    first = first.set_index("customer_id").reindex(ids)
    missing = int(first["amount"].isna().sum())
    if missing:
        raise DataError(
            f"{missing:,} of the customers have no purchase in {cur} in the workspace; pass "
            "the ids of a summary made from this workspace"
        )
    parts = []
    for name in include:
        if name == "first_order_value":
            lv = np.log(first["amount"].to_numpy(dtype=float))
            if np.ptp(lv) > 0:
                parts.append(pd.DataFrame({name: lv - lv.mean()}, index=ids))
        else:
            parts.append(_indicators(first[name], name, min_share))
    out = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=ids)
    out = out.loc[:, [c for c in out.columns if np.ptp(out[c].to_numpy()) > 0]]
    return out.iloc[:, _independent_columns(out.to_numpy(dtype=float))] if out.shape[1] else out


def _independent_columns(z: Array) -> list[int]:
    """Columns kept in order while each adds a direction beside the intercept and the rest.

    Two traits can say the same thing in a workspace (every Etsy order states a country,
    no other channel does: ``region=...`` and ``channel=etsy`` coincide); the later one
    is dropped instead of making the fit fail.
    """
    keep: list[int] = []
    basis = np.ones((z.shape[0], 1)) / math.sqrt(z.shape[0])
    for j in range(z.shape[1]):  # covariate columns (a handful), each vectorized
        v = z[:, j] - basis @ (basis.T @ z[:, j])
        norm_v = float(np.linalg.norm(v))
        if norm_v > 1e-8 * max(1.0, float(np.linalg.norm(z[:, j]))):
            keep.append(j)
            basis = np.hstack([basis, (v / norm_v)[:, None]])
    return keep
