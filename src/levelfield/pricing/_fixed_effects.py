"""Fixed-effects kernels: two-way within transform, OLS, product slopes and Poisson PML.

Pure NumPy functions over arrays. Group codes are dense integers ``0..G-1``; every
kernel is vectorized with :func:`numpy.bincount` (no Python loop over rows, products
or weeks); loops run over iterations of an algorithm only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from levelfield.errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    InsufficientDataError,
    ModelError,
)

__all__ = [
    "FixedEffectsFit",
    "ProductSlopesFit",
    "fe_ols",
    "fe_ppml",
    "ppml_separated",
    "product_slopes",
    "product_slopes_ppml",
    "singleton_rows",
    "within_transform",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _sweep_means(
    v: FloatArray, g: IntArray, n_groups: int, w: FloatArray | None, wsum: FloatArray
) -> FloatArray:
    """(Weighted) mean of each row of ``v`` (shape ``(k, n)``) within groups ``g``."""
    out = np.empty((v.shape[0], n_groups))
    for j in range(v.shape[0]):  # columns of the model, each a contiguous row here
        out[j] = np.bincount(g, weights=v[j] if w is None else w * v[j], minlength=n_groups)
    out /= wsum
    return out


def _is_balanced(g1: IntArray, n1: int, g2: IntArray, n2: int) -> bool:
    """Every (group1, group2) pair appears exactly once (a full panel)."""
    if g1.size != n1 * n2 or g1.size == 0:
        return False
    cells = np.bincount(g1 * n2 + g2, minlength=n1 * n2)
    return bool(cells.max() == 1)


def _demean(
    vt: FloatArray,
    g1: IntArray,
    g2: IntArray,
    w: FloatArray | None,
    tol: float,
    max_iter: int,
) -> tuple[int, bool]:
    """Remove both fixed effects from each row of ``vt`` (``(k, n)``, in place).

    A full unweighted panel is demeaned exactly in one pass (``v - mean_1 - mean_2 +
    mean``); otherwise by alternating projections until the largest group-2 mean is
    below ``tol`` times the row's scale.
    """
    n = vt.shape[1]
    if n == 0:
        return 0, True
    n1, n2 = int(g1.max()) + 1, int(g2.max()) + 1
    wts = np.ones(n) if w is None else w
    w1 = np.bincount(g1, weights=None if w is None else w, minlength=n1).astype(np.float64)
    w2 = np.bincount(g2, weights=None if w is None else w, minlength=n2).astype(np.float64)
    w1[w1 == 0] = 1.0
    w2[w2 == 0] = 1.0
    if w is None and _is_balanced(g1, n1, g2, n2):
        m1 = _sweep_means(vt, g1, n1, None, w1)
        m2 = _sweep_means(vt, g2, n2, None, w2)
        grand = vt.mean(axis=1)
        for j in range(vt.shape[0]):  # columns of the model
            vt[j] -= m1[j][g1]
            vt[j] -= m2[j][g2] - grand[j]
        return 1, True
    sq = (vt * vt) @ wts / wts.sum()
    mean = vt @ wts / wts.sum()
    scale = np.maximum(np.sqrt(np.maximum(sq - mean * mean, 0.0)), 1e-300)
    for it in range(1, max_iter + 1):  # iterations of the algorithm
        m1 = _sweep_means(vt, g1, n1, w, w1)
        for j in range(vt.shape[0]):
            vt[j] -= m1[j][g1]
        m2 = _sweep_means(vt, g2, n2, w, w2)
        for j in range(vt.shape[0]):
            vt[j] -= m2[j][g2]
        if np.all(np.max(np.abs(m2), axis=1) / scale < tol):
            return it, True
    return max_iter, False


def within_transform(
    values: FloatArray,
    group1: IntArray,
    group2: IntArray,
    *,
    weights: FloatArray | None = None,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> tuple[FloatArray, int, bool]:
    """Two-way within transform by alternating projections.

    Removes group-1 and group-2 (e.g. product and week) fixed effects from each column
    of ``values``: the result is the residual of a (weighted) least-squares regression
    of each column on both sets of dummies. For a full (balanced) panel one pass is
    exact and is used; for an unbalanced panel the sweeps are repeated until the
    largest change is below ``tol`` times the column scale (the method of alternating
    projections, whose limit is the projection on the intersection of both orthogonal
    complements).

    Parameters
    ----------
    values
        Array ``(n,)`` or ``(n, k)``.
    group1, group2
        Dense integer codes ``(n,)`` of the two fixed effects.
    weights
        Optional positive observation weights ``(n,)`` (weighted demeaning).
    tol
        Convergence tolerance relative to each column's standard deviation.
    max_iter
        Largest number of sweeps.

    Returns
    -------
    demeaned, iterations, converged

    References
    ----------
    Guimarães, P. and Portugal, P. (2010). A simple feasible procedure to fit models
    with high-dimensional fixed effects. *Stata Journal* 10(4), 628–649.
    Gaure, S. (2013). OLS with multiple high dimensional category variables.
    *Computational Statistics & Data Analysis* 66, 8–18.
    """
    v = np.asarray(values, dtype=np.float64)
    one_d = v.ndim == 1
    vt = np.array(v[None, :] if one_d else v.T, dtype=np.float64, order="C", copy=True)
    n = vt.shape[1]
    if group1.shape != (n,) or group2.shape != (n,):
        raise DataError(
            "within_transform: group1 and group2 need one group code per row of values; "
            f"got {group1.shape} and {group2.shape} for {n} rows"
        )
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    it, converged = _demean(vt, group1, group2, w, tol, max_iter)
    return (vt[0] if one_d else vt.T), it, converged


@dataclass(frozen=True)
class FixedEffectsFit:
    """A linear or Poisson model with two absorbed fixed effects and a few slopes.

    Attributes
    ----------
    coef, se
        Coefficients of the non-absorbed regressors and their cluster-robust standard
        errors.
    n_obs, n_clusters
        Observations used and number of clusters.
    iterations, converged
        Sweeps of the within transform (OLS) or IRLS iterations (Poisson).
    """

    coef: FloatArray
    se: FloatArray
    cov: FloatArray
    n_obs: int
    n_clusters: int
    iterations: int
    converged: bool


def _dense_codes(g: NDArray[np.integer]) -> tuple[IntArray, int]:
    """Codes ``0..G-1`` in sorted order of the values (as ``np.unique``), in O(n) for
    small non-negative integers (the usual case) and by sorting otherwise."""
    a = np.asarray(g)
    if a.dtype.kind in "iu" and a.size and int(a.min()) >= 0 and int(a.max()) < 2 * a.size + 1024:
        present = np.bincount(a) > 0
        if present.all():
            return a.astype(np.intp, copy=False), int(present.size)
        remap = np.cumsum(present) - 1
        return remap[a].astype(np.intp), int(remap[-1]) + 1
    uniq, codes = np.unique(a, return_inverse=True)
    return codes.astype(np.intp).ravel(), int(uniq.size)


def _nested_levels(g: IntArray, n_groups: int, cl: IntArray, n_cl: int) -> bool:
    """Whether every level of fixed effect ``g`` lies within a single cluster."""
    first = np.full(n_groups, -1, dtype=np.intp)
    first[g] = cl  # any cluster of each level; nested iff all rows agree with it
    return bool(np.all(first[g] == cl))


def _solve_normal(xtx: FloatArray, xty: FloatArray) -> FloatArray:
    """``(X'X)^-1 X'y`` for a handful of regressors; least squares if near-singular."""
    if np.linalg.cond(xtx) < 1e10:
        return np.asarray(np.linalg.solve(xtx, xty), dtype=np.float64)
    return np.asarray(np.linalg.lstsq(xtx, xty, rcond=None)[0], dtype=np.float64)


def fe_ols(
    y: FloatArray,
    X: FloatArray,
    group1: IntArray,
    group2: IntArray,
    cluster: IntArray,
    *,
    ssc: str = "full",
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> FixedEffectsFit:
    """OLS with two absorbed fixed effects and cluster-robust standard errors.

    ``y = X b + a[group1] + g[group2] + u``; both effects are removed by
    :func:`within_transform` (Frisch–Waugh–Lovell), then ``b`` is the least-squares
    fit on the demeaned data. Standard errors are clustered on ``cluster`` with the
    small-sample factor ``G/(G-1) * (n-1)/(n-K)``; ``ssc`` sets what ``K`` counts:

    - ``"full"`` (default): every parameter including all absorbed dummies,
      ``K = k + G1 + G2 - 1`` — statsmodels' OLS with dummy variables and
      ``cov_type="cluster"`` (the textbook regression) gives the same numbers.
    - ``"nested"``: a fixed effect whose every level lies within one cluster (product
      effects with errors clustered by product) is not counted, except one for its
      intercept, ``K = k + G1 + G2 - 1 - G_nested + n_nested`` — fixest's and
      pyfixest's default (``ssc(k_adj=True, k_fixef="nonnested", G_adj=True)``), and
      Stata's ``reghdfe``. The difference is ``sqrt((n-K_nested)/(n-K_full))``; with
      10,000 products over 156 weeks about 0.3 %.

    References
    ----------
    Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. *Journal of Human Resources* 50(2), 317–372.
    Bergé, L. (2018). Efficient estimation of maximum likelihood models with multiple
    fixed-effects: the R package FENmlm. CREA Discussion Papers 13 (fixest's small
    sample corrections: the ``ssc`` vignette).
    """
    if ssc not in ("full", "nested"):
        raise ConfigError(f"fe_ols: ssc must be 'full' or 'nested', not {ssc!r}")
    X2 = np.asarray(X, dtype=np.float64)
    if X2.ndim == 1:
        X2 = X2[:, None]
    n, k = X2.shape
    if n == 0:
        raise InsufficientDataError("fe_ols: no observations to fit")
    g1, n1 = _dense_codes(group1)
    g2, n2 = _dense_codes(group2)
    cl, n_cl = _dense_codes(cluster)
    vt = np.empty((k + 1, n))
    vt[0] = y
    vt[1:] = X2.T
    it, ok = _demean(vt, g1, g2, None, tol, max_iter)
    yt, xt = vt[0], vt[1:]
    xtx = xt @ xt.T
    coef = _solve_normal(xtx, xt @ yt)
    u = yt - coef @ xt
    n_total = k + n1 + n2 - 1
    if ssc == "nested":
        for g, ng in ((g1, n1), (g2, n2)):  # the two fixed effects
            if _nested_levels(g, ng, cl, n_cl):
                n_total -= ng - 1
    bread = np.linalg.pinv(xtx)
    scores = np.empty((k, n_cl))
    for j in range(k):  # regressors
        scores[j] = np.bincount(cl, weights=xt[j] * u, minlength=n_cl)
    factor = (n_cl / max(n_cl - 1, 1)) * ((n - 1) / max(n - n_total, 1))
    cov = factor * bread @ (scores @ scores.T) @ bread
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    if not ok:
        warnings.warn(
            f"two-way within transform stopped after {it} sweeps without converging; "
            "the panel is very unbalanced — raise max_iter or check for isolated weeks",
            ConvergenceWarning,
            stacklevel=2,
        )
    return FixedEffectsFit(coef, se, cov, n, n_cl, it, ok)


def _informative_rows(yv: FloatArray, group1: IntArray, group2: IntArray) -> NDArray[np.bool_]:
    """Rows outside groups whose outcomes are all zero (their effect is minus infinity).

    Three passes, because dropping one group's zeros can empty another's.
    """
    keep = np.ones(yv.size, dtype=bool)
    for _ in range(3):
        for g in (group1, group2):
            codes, ng = _dense_codes(g[keep])
            tot = np.bincount(codes, weights=yv[keep], minlength=ng)
            keep_sub = tot[codes] > 0
            idx = np.flatnonzero(keep)
            keep[idx[~keep_sub]] = False
    return keep


def _ppml_irls(
    yv: FloatArray, X2: FloatArray, g1: IntArray, g2: IntArray, tol: float, max_iter: int
) -> tuple[FloatArray, FloatArray, FloatArray, int, bool]:
    """IRLS for Poisson PML with both fixed effects absorbed by the weighted within
    transform; stops when the deviance changes by less than ``tol`` (relative).

    Returns ``(beta, mu, demeaned X, iterations, converged)``.
    """
    mu = (yv + yv.mean()) / 2.0
    eta = np.log(mu)
    beta = np.zeros(X2.shape[1])
    dev_old = np.inf
    converged = False
    it = 0
    xt = X2
    for it in range(1, max_iter + 1):  # noqa: B007 - IRLS iterations
        z = eta + (yv - mu) / mu
        data = np.column_stack([z, X2])
        dm, _, _ = within_transform(data, g1, g2, weights=mu, tol=1e-12)
        zt, xt = dm[:, 0], dm[:, 1:]
        wx = xt * mu[:, None]
        beta = np.linalg.lstsq(wx.T @ xt, wx.T @ zt, rcond=None)[0]
        resid = zt - xt @ beta
        # fixed effects are absorbed: the fitted index is z minus the weighted residual
        eta = np.clip(z - resid, -50.0, 50.0)
        mu = np.exp(eta)
        pos = yv > 0
        dev = 2.0 * (np.sum(yv[pos] * np.log(yv[pos] / mu[pos])) - np.sum(yv - mu))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            converged = True
            break
        dev_old = dev
    return np.asarray(beta, dtype=np.float64), mu, xt, it, converged


def _poisson_cluster_cov(
    xt: FloatArray, u: FloatArray, mu: FloatArray, cluster: IntArray, n_params: int
) -> tuple[FloatArray, int]:
    """Cluster-robust sandwich of Poisson PML, with the usual small-sample factor.

    The score is ``x~ (y - mu)``, the bread ``(x~' W x~)^{-1}`` with ``W = mu``;
    ``n_params`` counts the coefficients and the identified fixed effects.
    """
    n, k = xt.shape
    cl, n_cl = _dense_codes(cluster)
    wx = xt * mu[:, None]
    bread = np.linalg.pinv(wx.T @ xt)
    scores = np.empty((n_cl, k))
    for j in range(k):  # over regressors (a handful), not rows
        scores[:, j] = np.bincount(cl, weights=xt[:, j] * u, minlength=n_cl)
    factor = (n_cl / max(n_cl - 1, 1)) * ((n - 1) / max(n - n_params, 1))
    return np.asarray(factor * bread @ (scores.T @ scores) @ bread, dtype=np.float64), n_cl


def fe_ppml(
    y: FloatArray,
    X: FloatArray,
    group1: IntArray,
    group2: IntArray,
    cluster: IntArray,
    *,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> FixedEffectsFit:
    """Poisson pseudo-maximum likelihood with two absorbed fixed effects.

    Iteratively reweighted least squares: at each step the working response
    ``z = eta + (y - mu)/mu`` is regressed on ``X`` with weights ``mu``, both fixed
    effects absorbed by the weighted :func:`within_transform`. Zero outcomes are kept
    (the reason to use it: log-linear OLS must drop zero-sales weeks). Groups whose
    outcomes are all zero carry no information (their effect is minus infinity) and are
    dropped first. Standard errors are the cluster-robust sandwich.

    References
    ----------
    Santos Silva, J. M. C. and Tenreyro, S. (2006). The log of gravity. *Review of
    Economics and Statistics* 88(4), 641–658.
    Correia, S., Guimarães, P. and Zylkin, T. (2020). Fast Poisson estimation with
    high-dimensional fixed effects. *Stata Journal* 20(1), 95–115.
    """
    yv = np.asarray(y, dtype=np.float64)
    X2 = np.asarray(X, dtype=np.float64)
    if X2.ndim == 1:
        X2 = X2[:, None]
    if np.any(yv < 0):
        raise InsufficientDataError("fe_ppml: outcomes must be >= 0 (quantities sold)")
    keep = _informative_rows(yv, group1, group2)
    yv, X2, c = yv[keep], X2[keep], cluster[keep]
    g1, n1 = _dense_codes(group1[keep])
    g2, n2 = _dense_codes(group2[keep])
    n, k = X2.shape
    if n == 0:
        raise InsufficientDataError("fe_ppml: every group has zero total outcome; nothing to fit")
    beta, mu, xt, it, converged = _ppml_irls(yv, X2, g1, g2, tol, max_iter)
    cov, n_cl = _poisson_cluster_cov(xt, yv - mu, mu, c, k + n1 + n2 - 1)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    if not converged:
        warnings.warn(
            f"Poisson PML did not converge in {max_iter} iterations; the zero-sales "
            "estimate may be unreliable (often a product with sales at one price only)",
            ConvergenceWarning,
            stacklevel=2,
        )
    return FixedEffectsFit(np.asarray(beta, dtype=np.float64), se, cov, n, n_cl, it, converged)


@dataclass(frozen=True)
class ProductSlopesFit:
    """Product-specific slopes with product intercepts and common week effects.

    Attributes
    ----------
    slope, slope_se
        Per-product slope on ``x`` (the elasticity) and its standard error; NaN for
        products without usable variation in ``x``.
    intercept
        Per-product intercept (at the product's mean ``x``).
    week_effect
        Common week effects, the first week normalised to 0.
    extra
        Coefficients of the extra common regressors (e.g. the promotion indicator).
    fitted
        Fitted values ``(n,)`` (linear index).
    """

    slope: FloatArray
    slope_se: FloatArray
    intercept: FloatArray
    x_mean: FloatArray
    week_effect: FloatArray
    extra: FloatArray
    extra_se: FloatArray
    fitted: FloatArray
    n_obs: IntArray
    iterations: int = 1
    converged: bool = True


def _batched_inv2(
    s00: FloatArray, s01: FloatArray, s11: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    det = s00 * s11 - s01 * s01
    det = np.where(np.abs(det) > 1e-300, det, np.inf)
    return s11 / det, -s01 / det, s00 / det


def _sym_pinv(a: FloatArray, rtol: float = 1e-10) -> FloatArray:
    """Pseudo-inverse of a symmetric positive semi-definite matrix."""
    if a.size == 0:
        return np.zeros_like(a)
    vals, vecs = np.linalg.eigh(a)
    cut = rtol * max(float(np.max(np.abs(vals))), 1e-300)
    inv = np.where(vals > cut, 1.0 / np.where(vals > cut, vals, 1.0), 0.0)
    return np.asarray((vecs * inv) @ vecs.T, dtype=np.float64)


def product_slopes(
    y: FloatArray,
    x: FloatArray,
    product: IntArray,
    week: IntArray,
    *,
    n_products: int,
    n_weeks: int,
    extra: FloatArray | None = None,
    weights: FloatArray | None = None,
    slope_ok: NDArray[np.bool_] | None = None,
    pooled_variance: bool = False,
    cov_type: str = "classical",
) -> ProductSlopesFit:
    """Weighted least squares with a slope and intercept per product and week effects.

    ``y = a[p] + b[p] * x + g[t] + extra @ c + u``. The product blocks ``[1, x]`` are
    partialled out in closed form (a 2x2 system per product, batched), which leaves a
    ``(T + k)``-square normal system for the week effects and ``c``; its cross-product
    matrix is one BLAS product of a ``(T+k) x 2P`` matrix. The solution is the exact
    least-squares fit of the full dummy-and-interaction regression, for balanced and
    unbalanced panels alike.

    Parameters
    ----------
    y, x
        Outcome and regressor with a product-specific slope (log quantity and log
        posted price), ``(n,)``.
    product, week
        Dense codes ``0..P-1`` and ``0..T-1``.
    extra
        Common regressors ``(n, k)`` (e.g. promotion share), optional.
    weights
        Observation weights (IRLS weights for Poisson), optional.
    slope_ok
        Per-product flag: estimate a slope (else only an intercept; slope NaN).
    pooled_variance
        Use one residual variance for all products (the textbook OLS covariance)
        instead of one per product (the default: products differ in noise).
    cov_type
        ``"classical"`` (the residual variances above) or a robust sandwich of the full
        model, week effects' error included: ``"HC0"``, ``"HC1"``, ``"HC2"``, ``"HC3"``
        (:func:`robust_slope_se`).

    Notes
    -----
    The slope's variance includes the uncertainty of the week effects (partitioned
    inverse): ``s2_p * (1/Sxx_p + A_p' M^{-1} A_p / Sxx_p^2)``.

    References
    ----------
    Wooldridge, J. M. (2010). *Econometric Analysis of Cross Section and Panel Data*,
    2nd ed., §11.7 (random trend / heterogeneous slope models). MIT Press.
    """
    fit, system = _solve_product_slopes(
        y,
        x,
        product,
        week,
        n_products=n_products,
        n_weeks=n_weeks,
        extra=extra,
        weights=weights,
        slope_ok=slope_ok,
        pooled_variance=pooled_variance,
    )
    if cov_type == "classical":
        return fit
    r = system.w * (y - fit.fitted)
    se = robust_slope_se(r, product, week, system, kind=cov_type)
    return replace(fit, slope_se=np.where(np.isfinite(fit.slope), se, np.nan))


@dataclass(frozen=True)
class _SlopesSystem:
    """What a robust variance of the product slopes needs from a fit: the weights, the
    centred ``x``, the inverse block diagonals, the cross products ``A0``/``A1`` of each
    product's ``[1, x]`` with the week dummies and common regressors, the identified
    columns of the week system and the inverse of their block."""

    w: FloatArray
    xc: FloatArray
    E: FloatArray
    i00: FloatArray
    i11: FloatArray
    A0: FloatArray
    A1: FloatArray
    keep: IntArray
    sub_inv: FloatArray
    T: int

    @cached_property
    def U(self) -> FloatArray:
        """Per cell, its rows' week-system regressors projected on its intercept
        (``A0 / S00``), over the identified columns."""
        return np.asarray((self.A0 * self.i00[:, None])[:, self.keep], dtype=np.float64)

    @cached_property
    def V(self) -> FloatArray:
        """Per cell, the same projected on its centred ``x`` (``A1 / S11``)."""
        return np.asarray((self.A1 * self.i11[:, None])[:, self.keep], dtype=np.float64)

    @cached_property
    def pos(self) -> IntArray:
        """Position of each week-system column among the identified ones (-1: dropped)."""
        pos = np.full(self.T + self.E.shape[1], -1, dtype=np.intp)
        pos[self.keep] = np.arange(self.keep.size)
        return pos


def _solve_product_slopes(
    y: FloatArray,
    x: FloatArray,
    product: IntArray,
    week: IntArray,
    *,
    n_products: int,
    n_weeks: int,
    extra: FloatArray | None,
    weights: FloatArray | None,
    slope_ok: NDArray[np.bool_] | None,
    pooled_variance: bool,
) -> tuple[ProductSlopesFit, _SlopesSystem]:
    """:func:`product_slopes` and the system it solved (for robust variances)."""
    n = y.size
    P, T = n_products, n_weeks
    w = np.ones(n) if weights is None else weights
    ok = np.ones(P, dtype=bool) if slope_ok is None else slope_ok
    E = np.zeros((n, 0)) if extra is None else (extra[:, None] if extra.ndim == 1 else extra)
    k = E.shape[1]
    xm, xc, i00, i11 = _product_blocks(x, product, w, ok, P)
    M, rhs, A0, A1, week_weight = _week_system(y, xc, product, week, w, E, i00, i11, P, T)
    keep, sub_inv, theta = _solve_week_system(M, rhs, week_weight, k)
    g = theta[:T]
    c = theta[T:]
    r = y - g[week] - (E @ c if k else 0.0)
    a = np.bincount(product, weights=w * r, minlength=P) * i00
    b = np.bincount(product, weights=w * xc * r, minlength=P) * i11
    b = np.where(ok, b, 0.0)
    fitted = a[product] + b[product] * xc + g[week] + (E @ c if k else 0.0)
    u = y - fitted
    n_p = np.bincount(product, minlength=P)
    sigma2 = _residual_variance(u, w, product, ok, n_p, T + k, pooled_variance)
    A1k = A1[:, keep]
    quad = np.sum((A1k @ sub_inv) * A1k, axis=1)
    se = np.sqrt(np.clip(sigma2 * (i11 + i11 * i11 * quad), 0.0, None))
    # common extra coefficients: SE from the pooled residual variance
    sigma_all = float(np.sum(w * u * u) / max(n - 2 * P - (T - 1) - k, 1))
    fit = ProductSlopesFit(
        slope=np.where(ok & (n_p >= 3), b, np.nan),
        slope_se=np.where(ok & (n_p >= 3), se, np.nan),
        intercept=a,
        x_mean=xm,
        week_effect=g,
        extra=c,
        extra_se=_extra_se(keep, sub_inv, sigma_all, T, k),
        fitted=fitted,
        n_obs=n_p.astype(np.intp),
    )
    return fit, _SlopesSystem(w, xc, E, i00, i11, A0, A1, keep, sub_inv, T)


def _row_dot(mat: FloatArray, rows: IntArray, wp: IntArray, sysm: _SlopesSystem) -> FloatArray:
    """``R_j . mat[rows_j]`` for every observation ``j``, where ``R_j`` is its row of the
    week system's identified columns (its week's dummy at position ``wp_j``, -1 when that
    week is not a column; its common regressors) and ``mat`` has one row per product over
    those columns."""
    T, E, pos = sysm.T, sysm.E, sysm.pos
    out = np.where(wp >= 0, mat[rows, np.maximum(wp, 0)], 0.0)
    for j in range(E.shape[1]):
        if pos[T + j] >= 0:
            out = out + E[:, j] * mat[rows, pos[T + j]]
    return np.asarray(out, dtype=np.float64)


def _leverage(product: IntArray, week: IntArray, sysm: _SlopesSystem) -> FloatArray:
    """Diagonal of the weighted hat matrix of the full regression (cell intercepts and
    slopes, week effects, common regressors), from the partitioned inverse:
    ``h_j = w_j (1/S00 + xc_j^2/S11 + d_j' M^+ d_j)`` with ``d_j`` the row's week-system
    regressors net of its cell's ``[1, x]`` block. Vectorized: ``d_j' M^+ d_j`` expands
    into per-cell scalars and lookups of per-cell rows of ``M^+``-products."""
    Minv, E, xc, U, V, pos = sysm.sub_inv, sysm.E, sysm.xc, sysm.U, sysm.V, sysm.pos
    MU, MV = U @ Minv, V @ Minv
    T, k = sysm.T, E.shape[1]
    wp = pos[week]
    diag = np.diag(Minv)
    rr = np.where(wp >= 0, diag[np.maximum(wp, 0)], 0.0)
    for a in range(k):
        pa = pos[T + a]
        if pa < 0:
            continue
        rr = rr + 2.0 * E[:, a] * np.where(wp >= 0, Minv[np.maximum(wp, 0), pa], 0.0)
        for b in range(k):
            pb = pos[T + b]
            if pb >= 0:
                rr = rr + E[:, a] * E[:, b] * Minv[pa, pb]
    q = product
    uMu = np.sum(MU * U, axis=1)[q]
    uMv = np.sum(MU * V, axis=1)[q]
    vMv = np.sum(MV * V, axis=1)[q]
    dMd = (
        rr
        - 2.0 * _row_dot(MU, q, wp, sysm)
        - 2.0 * xc * _row_dot(MV, q, wp, sysm)
        + uMu
        + 2.0 * xc * uMv
        + xc * xc * vMv
    )
    h = sysm.w * (sysm.i00[q] + xc * xc * sysm.i11[q] + dMd)
    return np.asarray(np.clip(h, 0.0, 1.0), dtype=np.float64)


def robust_slope_se(
    r: FloatArray,
    product: IntArray,
    week: IntArray,
    sysm: _SlopesSystem,
    *,
    kind: str = "HC3",
) -> FloatArray:
    """Heteroskedasticity-robust SE of each product slope in the *full* regression.

    Unlike a per-product sandwich that holds the week effects fixed, this one carries
    their estimation error: a slope's error is ``i11_p sum_j r_j psi_pj`` with
    ``psi_pj = 1[j in p] xc_j - a_p' d_j`` and ``a_p = M^+ A1_p`` (every observation moves
    the week effects, and through them every slope). ``r`` is the score residual
    (``y - mu`` for Poisson, the residual for least squares). ``kind``: ``"HC0"`` (the
    plain sandwich, as ``statsmodels`` ``cov_type="HC0"``), ``"HC1"`` (times
    ``n / (n - parameters)``), ``"HC2"`` (residuals divided by ``sqrt(1 - h)``, unbiased
    under constant variance) or ``"HC3"`` (divided by ``1 - h``, the jackknife-like
    correction that keeps a slope resting on a few high-leverage weeks from looking
    precise; MacKinnon and White 1985, Long and Ervin 2000). The sums over
    observations are assembled per cell, so the cost is ``O(n + P m^2)`` for ``m``
    identified week-system columns.

    References
    ----------
    MacKinnon, J. G. and White, H. (1985). Some heteroskedasticity-consistent covariance
    matrix estimators with improved finite sample properties. *J. Econometrics* 29(3).
    Long, J. S. and Ervin, L. H. (2000). Using heteroscedasticity consistent standard
    errors in the linear regression model. *The American Statistician* 54(3), 217–224.
    """
    if kind not in ("HC0", "HC1", "HC2", "HC3"):
        raise ConfigError(
            f"robust_slope_se: kind must be 'HC0', 'HC1', 'HC2' or 'HC3', not {kind!r}"
        )
    P = sysm.i11.size
    keep, Minv, E, xc, T = sysm.keep, sysm.sub_inv, sysm.E, sysm.xc, sysm.T
    if kind in ("HC2", "HC3"):
        h = _leverage(product, week, sysm)
        scale = np.maximum(1.0 - h, 1e-10) ** (1.0 if kind == "HC3" else 0.5)
        r = np.where(h < 1.0 - 1e-10, r / scale, 0.0)
    s = r * r
    m = T + E.shape[1]
    pt = product * T + week
    S0 = np.zeros((P, m))
    S1 = np.zeros((P, m))
    S0[:, :T] = np.bincount(pt, weights=s, minlength=P * T).reshape(P, T)
    S1[:, :T] = np.bincount(pt, weights=s * xc, minlength=P * T).reshape(P, T)
    for j in range(E.shape[1]):
        S0[:, T + j] = np.bincount(product, weights=s * E[:, j], minlength=P)
        S1[:, T + j] = np.bincount(product, weights=s * xc * E[:, j], minlength=P)
    s0 = np.bincount(product, weights=s, minlength=P)
    s1 = np.bincount(product, weights=s * xc, minlength=P)
    s2 = np.bincount(product, weights=s * xc * xc, minlength=P)
    RsR = np.zeros((m, m))
    RsR[:T, :T] = np.diag(np.bincount(week, weights=s, minlength=T))
    if E.shape[1]:
        cross = np.column_stack(
            [np.bincount(week, weights=s * E[:, j], minlength=T) for j in range(E.shape[1])]
        )
        RsR[:T, T:] = cross
        RsR[T:, :T] = cross.T
        RsR[T:, T:] = (E * s[:, None]).T @ E
    U, V = sysm.U, sysm.V
    S0k, S1k = S0[:, keep], S1[:, keep]
    B = (
        RsR[np.ix_(keep, keep)]
        - S0k.T @ U
        - U.T @ S0k
        - S1k.T @ V
        - V.T @ S1k
        + (U * s0[:, None]).T @ U
        + (U * s1[:, None]).T @ V
        + (V * s1[:, None]).T @ U
        + (V * s2[:, None]).T @ V
    )
    Ak = sysm.A1[:, keep] @ Minv
    middle = np.sum(Ak * (S1k - s1[:, None] * U - s2[:, None] * V), axis=1)
    var = sysm.i11**2 * (s2 - 2.0 * middle + np.sum((Ak @ B) * Ak, axis=1))
    if kind == "HC1":
        n_par = int(np.count_nonzero(np.bincount(product, minlength=P))) * 2 + keep.size
        var = var * r.size / max(r.size - n_par, 1)
    return np.asarray(np.sqrt(np.clip(var, 0.0, None)), dtype=np.float64)


def _residual_variance(
    u: FloatArray,
    w: FloatArray,
    product: IntArray,
    ok: NDArray[np.bool_],
    n_p: NDArray[Any],
    m: int,
    pooled: bool,
) -> FloatArray:
    """Classical residual variance per product (weights: Pearson-type scale).

    One per product with ``n_p - 2`` degrees of freedom by default; ``pooled`` gives
    every product the pooled variance with the textbook degrees of freedom (slopes,
    intercepts and the ``m - 1`` identified week/common columns removed).
    """
    P = n_p.size
    sse = np.bincount(product, weights=w * u * u, minlength=P)
    if pooled:
        n_slopes = int(np.sum(ok & (n_p > 0)))
        n_int = int(np.sum(n_p > 0))
        dof_all = max(u.size - n_slopes - n_int - (m - 1), 1)
        return np.full(P, float(np.sum(sse)) / dof_all)
    return np.asarray(sse / np.maximum(n_p - 2, 1), dtype=np.float64)


def _product_blocks(
    x: FloatArray, product: IntArray, w: FloatArray, ok: NDArray[np.bool_], P: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Each product's ``[1, x]`` block with ``x`` centred on its weighted mean.

    Returns ``(x_mean, x_centred, 1/S00, 1/S11)``: with centred ``x`` the 2x2 block
    is diagonal. Products without a slope (``ok`` false) get ``x_centred = 0``; empty
    or constant blocks get a unit diagonal so that nothing divides by zero.
    """
    s00 = np.bincount(product, weights=w, minlength=P)
    xm = np.bincount(product, weights=w * x, minlength=P) / np.where(s00 > 0, s00, 1.0)
    xc = np.where(ok[product], x - xm[product], 0.0)
    s11 = np.bincount(product, weights=w * xc * xc, minlength=P)
    s11 = np.where(ok & (s11 > 0), s11, 1.0)
    s00 = np.where(s00 > 0, s00, 1.0)
    return xm, xc, 1.0 / s00, 1.0 / s11


def _week_system(
    y: FloatArray,
    xc: FloatArray,
    product: IntArray,
    week: IntArray,
    w: FloatArray,
    E: FloatArray,
    i00: FloatArray,
    i11: FloatArray,
    P: int,
    T: int,
) -> tuple[FloatArray, FloatArray, NDArray[Any], NDArray[Any], NDArray[Any]]:
    """The ``(T + k)``-square normal system of week effects and common regressors with
    the product blocks partialled out: ``M = R'WR - R'WP R`` and its right-hand side.

    Returns ``(M, rhs, A0, A1, week_weight)``; ``A0`` and ``A1`` (products x (T + k))
    are the cross products of ``1`` and of centred ``x`` with the week dummies and
    regressors, needed for the slopes' standard errors; ``week_weight`` is the total
    weight of each week.
    """
    k = E.shape[1]
    pt = product * T + week
    A0 = np.bincount(pt, weights=w, minlength=P * T).reshape(P, T)
    A1 = np.bincount(pt, weights=w * xc, minlength=P * T).reshape(P, T)
    if k:
        E0 = np.column_stack(
            [np.bincount(product, weights=w * E[:, j], minlength=P) for j in range(k)]
        )
        E1 = np.column_stack(
            [np.bincount(product, weights=w * xc * E[:, j], minlength=P) for j in range(k)]
        )
        A0 = np.hstack([A0, E0])
        A1 = np.hstack([A1, E1])
    m = T + k
    RWR = np.zeros((m, m))
    week_weight = np.bincount(week, weights=w, minlength=T)
    RWR[:T, :T] = np.diag(week_weight)
    if k:
        cross = np.column_stack(
            [np.bincount(week, weights=w * E[:, j], minlength=T) for j in range(k)]
        )
        RWR[:T, T:] = cross
        RWR[T:, :T] = cross.T
        RWR[T:, T:] = (E * w[:, None]).T @ E
    RWPR = (A0 * i00[:, None]).T @ A0 + (A1 * i11[:, None]).T @ A1
    Ry = np.concatenate(
        [np.bincount(week, weights=w * y, minlength=T), (E * (w * y)[:, None]).sum(axis=0)]
    )
    zy0 = np.bincount(product, weights=w * y, minlength=P)
    zy1 = np.bincount(product, weights=w * xc * y, minlength=P)
    RWPy = A0.T @ (i00 * zy0) + A1.T @ (i11 * zy1)
    return RWR - RWPR, Ry - RWPy, A0, A1, week_weight


def _solve_week_system(
    M: FloatArray, rhs: FloatArray, week_weight: FloatArray, k: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Solve for week effects and common coefficients on the identified columns.

    The first week with data is the reference (its effect is 0: the intercepts carry
    the level); weeks without data and regressors with no variation left after the
    product blocks (e.g. a promotion flag that is never on) are dropped, not solved.
    A pseudo-inverse (symmetric eigen-decomposition) gives week effects that the data
    cannot separate from a product's own intercept (a channel-week with one thin
    product) the minimum-norm value instead of an arbitrary huge one. Returns
    ``(kept columns, inverse of their block, full coefficient vector)``.
    """
    T = week_weight.size
    present = np.flatnonzero(week_weight > 0)
    cand = np.concatenate([present[1:], T + np.arange(k)]).astype(np.intp)
    diag = np.diag(M)[cand]
    keep = cand[diag > 1e-10 * max(1.0, float(np.max(np.abs(np.diag(M)))))]
    sub_inv = _sym_pinv(M[np.ix_(keep, keep)])
    theta = np.zeros(T + k)
    theta[keep] = sub_inv @ rhs[keep]
    return keep, sub_inv, theta


def _extra_se(keep: IntArray, sub_inv: FloatArray, sigma2: float, T: int, k: int) -> FloatArray:
    """Standard errors of the common coefficients (NaN for a dropped regressor)."""
    pos = {int(c): j for j, c in enumerate(keep)}
    dvar = np.diag(sub_inv)
    return np.array(
        [
            math.sqrt(max(dvar[pos[T + j]] * sigma2, 0.0)) if T + j in pos else np.nan
            for j in range(k)
        ],
        dtype=np.float64,
    )


def singleton_rows(
    product: IntArray,
    week: IntArray,
    slope_ok: NDArray[np.bool_],
    *,
    n_products: int,
    n_weeks: int,
) -> NDArray[np.bool_]:
    """Rows that their own fixed effects fit exactly, found iteratively (``True``: drop).

    A row alone in its week is fitted exactly by that week's effect; a cell with one row
    (or two, when it has a slope) by its own intercept and slope. Such rows leave every
    estimate unchanged but count as observations: they shrink residual variances and
    make standard errors too small. Dropping one can leave another alone, so the test
    repeats until nothing changes (Correia 2015).

    References
    ----------
    Correia, S. (2015). Singletons, cluster-robust standard errors and fixed effects:
    a bad mix. Technical note, Duke University.
    """
    drop = np.zeros(product.size, dtype=bool)
    need = np.where(slope_ok, 3, 2)  # rows a cell needs for any residual to be left
    while True:
        keep = ~drop
        in_week = np.bincount(week[keep], minlength=n_weeks)
        in_cell = np.bincount(product[keep], minlength=n_products)
        alone = keep & ((in_week[week] < 2) | (in_cell[product] < need[product]))
        if not alone.any():
            return drop
        drop |= alone


def ppml_separated(
    y: FloatArray,
    x: FloatArray,
    product: IntArray,
    week: IntArray,
    *,
    n_products: int,
    n_weeks: int,
    extra: FloatArray | None = None,
    slope_ok: NDArray[np.bool_] | None = None,
    tol: float = 1e-5,
    max_iter: int = 200,
) -> NDArray[np.bool_]:
    """Zero-sales rows that make the Poisson estimates run off to infinity (``True``).

    The Poisson PML estimate exists only without *separation*: no combination ``z`` of
    the regressors (cell intercepts and slopes, week effects, the extra columns) that is
    0 wherever sales are positive and >= 0 wherever they are zero, positive somewhere.
    When there is one, the rows where ``z > 0`` can be fitted perfectly by sending a
    coefficient to minus infinity: a product that sold at its low price and never at its
    high one gives an elasticity of -60 with a tiny standard error, which is no estimate
    at all. The iterative rectifier of Correia, Guimarães and Zylkin finds ``z``:
    least squares of ``u`` (first ``1[y = 0]``) on the model's regressors with a heavy
    weight on the positive rows (so the fit is ~0 there), then ``u <- max(fit, 0)`` on
    the zero rows, until the fit is >= 0 on every zero row (separation: the rows where it
    is > 0) or no zero row keeps a negative residual (none left to find). Dropping the
    separated rows leaves the estimates of every other parameter unchanged; a cell whose
    slope rested on them is no longer identified, which the caller must check.

    References
    ----------
    Correia, S., Guimarães, P. and Zylkin, T. (2021). Verifying the existence of maximum
    likelihood estimates for generalized linear models. arXiv:1903.01633.
    Santos Silva, J. M. C. and Tenreyro, S. (2010). On the existence of the maximum
    likelihood estimates in Poisson regression. *Economics Letters* 107(2), 310–312.
    """
    zero = y <= 0
    none = np.zeros(y.size, dtype=bool)
    if not zero.any() or zero.all():
        return none
    u = zero.astype(np.float64)
    w = np.where(zero, 1.0, 1e6)  # the method of weighting for "fit = 0 where y > 0"
    design: dict[str, Any] = {"n_products": n_products, "n_weeks": n_weeks, "extra": extra}
    for _ in range(max_iter):
        fit = product_slopes(u, x, product, week, weights=w, slope_ok=slope_ok, **design)
        z = np.where(zero, fit.fitted, 0.0)
        resid = u - fit.fitted
        z[zero & (z >= -0.1 * tol) & (z <= tol)] = 0.0
        if np.all(z[zero] >= 0.0):
            return zero & (z > 0.0)
        if np.min(resid[zero]) >= -tol:  # no negative residual: nothing left to uncover
            z[zero & (resid > tol)] = 0.0
            return zero & (z > 0.0)
        u[zero] = np.maximum(z[zero], 0.0)
    warnings.warn(
        f"the separation check for Poisson PML did not settle in {max_iter} iterations; "
        "no zero-sales week was dropped",
        ConvergenceWarning,
        stacklevel=2,
    )
    return none


def product_slopes_ppml(
    y: FloatArray,
    x: FloatArray,
    product: IntArray,
    week: IntArray,
    *,
    n_products: int,
    n_weeks: int,
    extra: FloatArray | None = None,
    slope_ok: NDArray[np.bool_] | None = None,
    tol: float = 1e-9,
    max_iter: int = 200,
    cov_type: str = "HC3",
) -> ProductSlopesFit:
    """Poisson PML with a slope and intercept per product and common week effects.

    IRLS around :func:`product_slopes`: each step is the weighted least-squares fit of
    the working response with weights ``mu``. Zero-sales weeks stay in the sample.
    Standard errors are robust sandwiches of the full model, week effects' error
    included (:func:`robust_slope_se`; ``cov_type`` ``"HC0"`` to ``"HC3"``, ``"HC3"``
    the default). Products or weeks with zero total sales must be removed by the
    caller, and separated zero rows too (:func:`ppml_separated`).

    References
    ----------
    Santos Silva, J. M. C. and Tenreyro, S. (2006). The log of gravity. *Review of
    Economics and Statistics* 88(4), 641–658.
    """
    if np.any(y < 0):
        raise InsufficientDataError("product_slopes_ppml: quantities must be >= 0")
    P = n_products
    tot_p = np.bincount(product, weights=y, minlength=P)
    tot_t = np.bincount(week, weights=y, minlength=n_weeks)
    if np.any(tot_p[np.unique(product)] <= 0) or np.any(tot_t[np.unique(week)] <= 0):
        raise ModelError(
            "product_slopes_ppml: a product or week has zero total sales; drop it first"
        )
    n_p = np.bincount(product, minlength=P).astype(np.float64)
    mean_p = tot_p / np.where(n_p > 0, n_p, 1.0)
    mu = (y + mean_p[product]) / 2.0
    mu = np.where(mu > 0, mu, 1e-3)
    eta = np.log(mu)
    dev_old = np.inf
    fit: ProductSlopesFit | None = None
    converged = False
    it = 0
    design: dict[str, Any] = {
        "n_products": P,
        "n_weeks": n_weeks,
        "extra": extra,
        "slope_ok": slope_ok,
    }
    system: _SlopesSystem | None = None
    for it in range(1, max_iter + 1):  # noqa: B007 - IRLS iterations
        z = eta + (y - mu) / mu
        fit, system = _solve_product_slopes(
            z, x, product, week, weights=mu, pooled_variance=False, **design
        )
        eta = np.clip(fit.fitted, -50.0, 50.0)
        mu = np.exp(eta)
        pos = y > 0
        dev = 2.0 * (np.sum(y[pos] * np.log(y[pos] / mu[pos])) - np.sum(y - mu))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            converged = True
            break
        dev_old = dev
    if fit is None or system is None:  # pragma: no cover - max_iter >= 1
        raise ModelError("product_slopes_ppml: max_iter must be at least 1")
    se = robust_slope_se(y - mu, product, week, system, kind=cov_type)
    if not converged:
        warnings.warn(
            f"Poisson PML with product slopes did not converge in {max_iter} iterations; "
            "zero-sales elasticities may be unreliable",
            ConvergenceWarning,
            stacklevel=2,
        )
    slope_se = np.where(np.isfinite(fit.slope), se, np.nan)
    return replace(fit, slope_se=slope_se, iterations=it, converged=converged)
