"""Newton's line search evaluates trial points without the Hessian (``_Model._newton``).

That keeps the fit identical to evaluating everything with the Hessian only because each
model's objective and gradient come out bit for bit the same from ``_loglik_total`` and
from ``_loglik_hessian_total``; these tests pin that invariant for every model with an
analytic Hessian, at ordinary and at boundary parameters (a, b of the BG/NBD near 1e8,
where the line search halves its step most often).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield.customers import BetaGeoModel, GammaGammaModel

_RNG = np.random.default_rng(7)
_X = _RNG.poisson(1.5, 300).astype(float)
_T = np.round(_RNG.uniform(1.0, 52.0, 300), 1)
_REC = np.where(_X > 0, np.round(_T * _RNG.uniform(0.0, 1.0, 300), 1), 0.0)
_W = _RNG.integers(1, 4, 300).astype(float)
_LOG = st.floats(-4.0, 18.0)


@settings(max_examples=60, deadline=None)
@given(_LOG, _LOG, _LOG, _LOG)
def test_bgnbd_objective_without_hessian_is_bit_identical(
    lr: float, la: float, lA: float, lb: float
) -> None:
    model = BetaGeoModel()
    prepared = model._prepare((_X, _REC, _T))
    theta = np.exp([lr, la, lA, lb])
    with np.errstate(all="ignore"):
        ll, g = model._loglik_total(theta, prepared, _W)
        ll_h, g_h, _ = model._loglik_hessian_total(theta, prepared, _W)
    assert ll == ll_h or (np.isnan(ll) and np.isnan(ll_h))
    np.testing.assert_array_equal(g, g_h)


@settings(max_examples=40, deadline=None)
@given(_LOG, _LOG, _LOG)
def test_gamma_gamma_objective_without_hessian_is_bit_identical(
    lp: float, lq: float, lg: float
) -> None:
    x = _X[_X > 0]
    z = np.round(_RNG.uniform(5.0, 80.0, len(x)), 2)
    model = GammaGammaModel()
    prepared = model._prepare((x, z))
    w = np.ones(len(x))
    theta = np.exp([lp, lq, lg])
    with np.errstate(all="ignore"):
        ll, g = model._loglik_total(theta, prepared, w)
        ll_h, g_h, _ = model._loglik_hessian_total(theta, prepared, w)
    assert ll == ll_h or (np.isnan(ll) and np.isnan(ll_h))
    np.testing.assert_array_equal(g, g_h)
