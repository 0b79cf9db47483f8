"""The stages of the factorized BG/NBD likelihood (count terms, row mixture), each alone."""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

from levelfield.customers._kernels import (
    _bgnbd_add_mixture,
    _bgnbd_count_terms,
    bgnbd_loglik,
    factorize,
)

P = (0.7, 3.0, 0.6, 2.2)


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    x = rng.poisson(1.5, 300).astype(float)
    T = rng.integers(20, 60, 300).astype(float)
    tx = np.where(x > 0, np.round(rng.uniform(0, 1, 300) * T), 0.0)
    return x, tx, T, rng.uniform(0.5, 2.0, 300)


def _count_value(p: tuple[float, ...], ux: np.ndarray, Wx: np.ndarray) -> float:
    r, alpha, a, b = p
    per_x = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + betaln(a, b + ux) - betaln(a, b)
    return float(Wx @ per_x)


def test_count_terms_value_gradient_and_hessian() -> None:
    x, _, _, w = _data()
    ux, ix = factorize(x)
    Wx = np.bincount(ix, weights=w, minlength=len(ux))
    total, grad, h = _bgnbd_count_terms(*P, ux, Wx, hessian=True)
    assert h is not None
    np.testing.assert_allclose(total, _count_value(P, ux, Wx), rtol=1e-13)
    eps = 1e-5
    for j in range(4):
        up, dn = list(P), list(P)
        up[j] += eps
        dn[j] -= eps
        fd = (_count_value(tuple(up), ux, Wx) - _count_value(tuple(dn), ux, Wx)) / (2 * eps)
        np.testing.assert_allclose(grad[j], fd, rtol=1e-6)
        g_up = np.array(_bgnbd_count_terms(*up, ux, Wx, hessian=False)[1])
        g_dn = np.array(_bgnbd_count_terms(*dn, ux, Wx, hessian=False)[1])
        column = (g_up - g_dn) / (2 * eps)
        hess = np.triu(h) + np.triu(h, 1).T
        np.testing.assert_allclose(hess[:, j], column, rtol=1e-5, atol=1e-6)
    assert _bgnbd_count_terms(*P, ux, Wx, hessian=False)[2] is None


def test_count_terms_plus_mixture_is_the_row_loglik() -> None:
    x, tx, T, w = _data()
    fx = factorize(x)
    Wx = np.bincount(fx[1], weights=w, minlength=len(fx[0]))
    start = _bgnbd_count_terms(*P, fx[0], Wx, hessian=False)
    total, grad, h = _bgnbd_add_mixture(*P, fx, factorize(tx), factorize(T), w, Wx, start)
    ll, g = bgnbd_loglik(*P, x, tx, T)
    np.testing.assert_allclose(total, ll @ w, rtol=1e-12)
    np.testing.assert_allclose(grad, g @ w, rtol=1e-10)
    assert h is None
