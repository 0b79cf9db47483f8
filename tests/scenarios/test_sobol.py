from __future__ import annotations

import numpy as np
import pytest
from SALib.analyze import sobol as salib_sobol
from SALib.sample import sobol as salib_sample

from levelfield.errors import ConfigError, ModelError
from levelfield.scenarios import (
    ISHIGAMI_FIRST_ORDER,
    ISHIGAMI_TOTAL,
    Uniform,
    build_model,
    ishigami,
    saltelli_jansen,
    sobol_drivers,
    sobol_indices,
)
from levelfield.workspace import Workspace

PI = np.pi


def test_ishigami_homma_1990_analytic_indices() -> None:
    # The published values for a = 7, b = 0.1.
    assert pytest.approx([0.3139, 0.4424, 0.0], abs=1e-4) == ISHIGAMI_FIRST_ORDER
    assert pytest.approx([0.5576, 0.4424, 0.2437], abs=1e-4) == ISHIGAMI_TOTAL


def test_sobol_saltelli_2010_jansen_1999_recover_ishigami_indices() -> None:
    res = sobol_indices(ishigami, [Uniform(-PI, PI)] * 3, n=8192, seed=1)
    assert res.first == pytest.approx(ISHIGAMI_FIRST_ORDER, abs=0.03)
    assert res.total == pytest.approx(ISHIGAMI_TOTAL, abs=0.03)
    assert res.n_evaluations == 8192 * 5
    assert (res.first_conf > 0).all() and (res.first_conf < 0.1).all()


def test_sobol_agrees_with_salib_on_the_same_sample() -> None:
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}
    x = salib_sample.sample(problem, 4096, calc_second_order=False, seed=3)
    y = ishigami(x)
    si = salib_sobol.analyze(problem, y, calc_second_order=False, num_resamples=50, seed=3)
    step = 5
    # SALib standardizes outputs first; on the same outputs the estimators coincide.
    ys = (y - y.mean()) / y.std()
    f_a, f_b = ys[0::step], ys[step - 1 :: step]
    f_ab = np.stack([ys[j + 1 :: step] for j in range(3)])
    s1, st, _, _ = saltelli_jansen(f_a, f_b, f_ab, n_bootstrap=0)
    assert s1 == pytest.approx(si["S1"], abs=1e-10)
    assert st == pytest.approx(si["ST"], abs=1e-10)
    # On the raw outputs they agree within Monte Carlo error.
    s1r, str_, _, _ = saltelli_jansen(y[0::step], y[step - 1 :: step],
                                      np.stack([y[j + 1 :: step] for j in range(3)]),
                                      n_bootstrap=0)  # fmt: skip
    assert s1r == pytest.approx(si["S1"], abs=0.02)
    assert str_ == pytest.approx(si["ST"], abs=0.02)


def test_sobol_mc_method_and_names() -> None:
    res = sobol_indices(lambda x: x[:, 0] + 0.0 * x[:, 1], [Uniform(0, 1)] * 2, n=4000,
                        method="mc", names=["a", "b"])  # fmt: skip
    assert res.first[0] == pytest.approx(1.0, abs=0.05)
    assert abs(res.total[1]) < 1e-12
    assert list(res.to_frame()["driver"]) == ["a", "b"]


def test_sobol_bad_input() -> None:
    with pytest.raises(ConfigError):
        saltelli_jansen([1.0, 2.0], [1.0], [[1.0, 2.0]])
    with pytest.raises(ConfigError):
        saltelli_jansen([1.0], [1.0], [[1.0]])
    with pytest.raises(ModelError):
        saltelli_jansen([1.0, np.nan], [1.0, 2.0], [[1.0, 2.0]])
    with pytest.raises(ConfigError):
        sobol_indices(ishigami, [], n=16)
    with pytest.raises(ConfigError):
        sobol_indices(ishigami, [Uniform(0, 1)] * 3, n=1)
    with pytest.raises(ConfigError):
        sobol_indices(ishigami, [Uniform(0, 1)] * 3, n=16, method="lhs")
    with pytest.raises(ConfigError):
        sobol_indices(ishigami, ["uniform"] * 3, n=16)  # type: ignore[list-item]
    with pytest.raises(ConfigError):
        ishigami(np.zeros((4, 2)))


def test_sobol_on_the_pnl_model_ranks_drivers(shop: Workspace) -> None:
    model = build_model(shop, horizon=12)
    res = sobol_drivers(model, n=512, seed=0, n_bootstrap=0)
    frame = res.to_frame().set_index("driver")
    # Elasticity does nothing without a price change: both indices are exactly zero.
    assert frame.loc["elasticity", "total"] == 0.0
    assert frame["total"].max() > 0.1
    assert frame["first_order"].sum() < 1.2
