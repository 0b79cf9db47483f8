from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from levelfield.errors import ConfigError, DataQualityWarning
from levelfield.scenarios import (
    PERT,
    Constant,
    Driver,
    Empirical,
    LogNormal,
    Normal,
    PnLModel,
    Triangular,
    Uniform,
    distribution_from_dict,
    iman_conover,
    nearest_correlation,
    spearman_matrix,
    validate_correlation,
)
from levelfield.scenarios._simulate import draw_latent, driver_values


def _bare_model(drivers: list[Driver], corr: np.ndarray, horizon: int = 1) -> PnLModel:
    """A model with only drivers (no business), to exercise the sampler."""
    return PnLModel(
        currency="EUR",
        months=tuple(f"m{i}" for i in range(horizon)),
        channels=(),
        revenue_base=np.zeros((horizon, 0)),
        take_rate=np.zeros(0),
        marketplace=np.zeros(0, dtype=bool),
        countries=(),
        country_weights=np.zeros(0),
        country_revenue_share=np.zeros(0),
        foreign=np.zeros(0, dtype=bool),
        has_alternative=np.zeros(0, dtype=bool),
        cogs_ratio=0.0,
        variable_ratio=0.0,
        wage_costs=np.zeros(horizon),
        other_fixed=np.zeros(horizon),
        opening_cash=0.0,
        debt=0.0,
        interest_rate=0.0,
        repeat_share=0.0,
        drivers=tuple(drivers),
        rank_correlation=corr,
    )


def _drv(name: str, dist: object, persistence: float = 0.0) -> Driver:
    return Driver(name, "x", 0.0, dist, persistence, "test", "test")  # type: ignore[arg-type]


def test_closed_form_profit_mean_and_variance_match_analytic() -> None:
    # profit = (p - c) q - F with independent normal p and q:
    # E = (mu_p - c) mu_q - F; Var = s_p^2 s_q^2 + s_p^2 mu_q^2 + s_q^2 (mu_p - c)^2.
    mu_p, s_p, mu_q, s_q, c, f = 25.0, 3.0, 1000.0, 150.0, 14.0, 6000.0
    model = _bare_model([_drv("p", Normal(mu_p, s_p)), _drv("q", Normal(mu_q, s_q))], np.eye(2))
    n = 200_000
    x = driver_values(model, draw_latent(model, n, np.random.default_rng(3)))
    profit = (x[0, 0] - c) * x[1, 0] - f
    mean = (mu_p - c) * mu_q - f
    var = s_p**2 * s_q**2 + s_p**2 * mu_q**2 + s_q**2 * (mu_p - c) ** 2
    se_mean = np.sqrt(var / n)
    assert abs(profit.mean() - mean) < 4 * se_mean
    # Var of the sample variance ~ (mu4 - var^2)/n; use a 3 % band (>> 4 SE here).
    assert profit.var(ddof=1) == pytest.approx(var, rel=0.03)


def test_rank_correlation_of_engine_samples_within_002_of_target() -> None:
    target = np.array(
        [[1.0, 0.7, -0.4, 0.2], [0.7, 1.0, -0.3, 0.5], [-0.4, -0.3, 1.0, 0.0], [0.2, 0.5, 0.0, 1.0]]
    )
    dists = [LogNormal(1.0, 0.3), Triangular(0, 1, 5), PERT(0.9, 1.0, 1.3), Uniform(-1, 1)]
    model = _bare_model([_drv(f"d{i}", d, 0.5) for i, d in enumerate(dists)], target, horizon=3)
    x = driver_values(model, draw_latent(model, 100_000, np.random.default_rng(0)))
    for m in range(3):
        got = spearman_matrix(x[:, m, :].T)
        assert np.abs(got - target).max() < 0.02


def test_copula_keeps_marginals() -> None:
    target = np.array([[1.0, 0.8], [0.8, 1.0]])
    dists = [Triangular(0, 1, 5), LogNormal(2.0, 0.5)]
    model = _bare_model([_drv("a", dists[0]), _drv("b", dists[1])], target)
    x = driver_values(model, draw_latent(model, 50_000, np.random.default_rng(1)))
    ks_tri = stats.kstest(x[0, 0], stats.triang(c=0.2, loc=0, scale=5).cdf)
    sig = np.sqrt(np.log1p(0.0625))
    ks_ln = stats.kstest(x[1, 0], stats.lognorm(s=sig, scale=2.0 * np.exp(-(sig**2) / 2)).cdf)
    assert ks_tri.pvalue > 0.001 and ks_ln.pvalue > 0.001


def test_iman_conover_1982_hits_target_and_keeps_values() -> None:
    rng = np.random.default_rng(5)
    samples = np.column_stack([rng.gamma(2.0, size=20_000), rng.uniform(size=20_000),
                               rng.standard_t(4, size=20_000)])  # fmt: skip
    target = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
    out = iman_conover(samples, target, seed=1)
    assert np.abs(spearman_matrix(out) - target).max() < 0.02
    assert np.array_equal(np.sort(out, axis=0), np.sort(samples, axis=0))


def test_persistence_one_holds_the_draw_for_the_horizon() -> None:
    model = _bare_model([_drv("a", Normal(0, 1), 1.0), _drv("b", Normal(0, 1), 0.0)], np.eye(2), 6)
    x = driver_values(model, draw_latent(model, 2000, np.random.default_rng(2)))
    assert np.allclose(x[0], x[0, :1])
    assert abs(np.corrcoef(x[1, 0], x[1, 1])[0, 1]) < 0.1


def test_nearest_correlation_matches_higham_2002_example() -> None:
    # Higham (2002), section 4: the nearest correlation matrix to this 3x3 matrix.
    a = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    got = nearest_correlation(a)
    want = np.array([[1.0, 0.7607, 0.1573], [0.7607, 1.0, 0.7607], [0.1573, 0.7607, 1.0]])
    assert np.allclose(got, want, atol=1e-4)


def test_non_psd_correlation_errors_or_repairs_with_warning() -> None:
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    with pytest.raises(ConfigError, match="not positive semi-definite"):
        validate_correlation(bad)
    with pytest.warns(DataQualityWarning, match="Higham"):
        fixed = validate_correlation(bad, repair=True)
    assert np.linalg.eigvalsh(fixed)[0] > -1e-10
    assert np.allclose(np.diag(fixed), 1.0)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1.0, 0.5], [0.4, 1.0]], "not symmetric"),
        ([[2.0, 0.0], [0.0, 1.0]], "diagonal"),
        ([[1.0, 1.5], [1.5, 1.0]], "between -1 and 1"),
        ([[1.0, np.nan], [np.nan, 1.0]], "NaN"),
        ([[1.0, 0.0, 0.0]], "square"),
        ([["a", "b"], ["c", "d"]], "numbers"),
    ],
)
def test_bad_correlation_matrices(matrix: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_correlation(matrix)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Normal(1.0, 0.0),
        lambda: Normal(1.0, -1.0),
        lambda: Normal(float("nan"), 1.0),
        lambda: Normal("1", 1.0),
        lambda: LogNormal(-1.0, 0.1),
        lambda: LogNormal(1.0, 0.0),
        lambda: Uniform(2.0, 1.0),
        lambda: Triangular(0.0, 2.0, 1.0),
        lambda: Triangular(1.0, 1.0, 1.0),
        lambda: PERT(0.0, -1.0, 1.0),
        lambda: PERT(0.0, 0.5, 1.0, lamb=0.0),
        lambda: Empirical((1.0,)),
        lambda: Empirical((1.0, float("nan"))),
        lambda: Empirical("abc"),
        lambda: Constant(float("inf")),
    ],
)
def test_impossible_distribution_parameters_raise(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]


def test_tabulated_quantiles_match_scipy() -> None:
    z = np.random.default_rng(0).standard_normal(100_000)
    u = special.ndtr(z)
    pert = PERT(2.0, 3.0, 10.0)
    want = 2.0 + 8.0 * stats.beta(pert.alpha, pert.beta).ppf(u)
    assert np.abs(pert.from_normal(z) - want).max() < 1e-6
    tri = Triangular(0.0, 1.0, 5.0)
    assert np.abs(tri.from_normal(z) - stats.triang(0.2, 0, 5).ppf(u)).max() < 1e-6
    assert pert.expected_value() == pytest.approx((2 + 4 * 3 + 10) / 6)
    assert pert.from_normal(z).mean() == pytest.approx(pert.expected_value(), rel=0.01)


def test_empirical_bootstrap_draws_each_value_equally() -> None:
    e = Empirical((5.0, 1.0, 3.0, 2.0))
    z = np.random.default_rng(0).standard_normal(400_000)
    vals, counts = np.unique(e.from_normal(z), return_counts=True)
    assert vals.tolist() == [1.0, 2.0, 3.0, 5.0]
    assert np.allclose(counts / z.size, 0.25, atol=0.005)


def test_distribution_from_dict() -> None:
    d = distribution_from_dict({"kind": "pert", "low": 0, "mode": 1, "high": 2})
    assert isinstance(d, PERT) and d.to_dict()["mode"] == 1.0
    assert isinstance(distribution_from_dict({"kind": "empirical", "values": [1, 2]}), Empirical)
    with pytest.raises(ConfigError, match="choose one of"):
        distribution_from_dict({"kind": "cauchy"})
    with pytest.raises(ConfigError, match="missing sd"):
        distribution_from_dict({"kind": "normal", "mean": 1})
    with pytest.raises(ConfigError, match="unknown parameter"):
        distribution_from_dict({"kind": "normal", "mean": 1, "sd": 1, "skew": 2})
    with pytest.raises(ConfigError, match="sd must be > 0"):
        distribution_from_dict({"kind": "normal", "mean": 1, "sd": -1}, where="driver x")
    with pytest.raises(ConfigError):
        distribution_from_dict([1, 2])
