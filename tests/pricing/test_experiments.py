"""Pilot and A/B kernels against published tables and statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.pricing import (
    conversion_ab_test,
    difference_in_differences,
    plan_pilot,
    probability_to_beat,
    repeated_testing_alpha,
    sequential_boundaries,
    sequential_inflation,
    two_proportion_ztest,
)

# Jennison & Turnbull (2000), Table 2.1 (Pocock C_P) and 2.3 (O'Brien-Fleming C_B),
# two-sided alpha = 0.05.
POCOCK = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413}
OBF = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040}
# Tables 2.2 and 2.4: maximum sample size relative to fixed, alpha 0.05, power 0.8.
R_POCOCK = {2: 1.110, 3: 1.166, 4: 1.202, 5: 1.229}
R_OBF = {2: 1.008, 3: 1.017, 4: 1.024, 5: 1.028}
# Armitage, McPherson & Rowe (1969): repeated tests at nominal 0.05.
ARMITAGE = {2: 0.083, 3: 0.107, 5: 0.142, 10: 0.193}


@pytest.mark.parametrize("K", [2, 3, 4, 5])
def test_boundaries_match_jennison_turnbull_2000_tables_2_1_and_2_3(K: int) -> None:
    assert sequential_boundaries(K, design="pocock") == pytest.approx(
        np.full(K, POCOCK[K]), abs=1e-3
    )
    obf = sequential_boundaries(K, design="obrien_fleming")
    assert obf[-1] == pytest.approx(OBF[K], abs=1e-3)
    assert obf[0] == pytest.approx(OBF[K] * np.sqrt(K), abs=2e-3)


@pytest.mark.parametrize("K", [2, 3, 5])
def test_inflation_matches_jennison_turnbull_2000_tables_2_2_and_2_4(K: int) -> None:
    assert sequential_inflation(K, design="pocock") == pytest.approx(R_POCOCK[K], abs=1.5e-3)
    assert sequential_inflation(K, design="obrien_fleming") == pytest.approx(R_OBF[K], abs=1.5e-3)


@pytest.mark.parametrize("K", [2, 3, 5, 10])
def test_repeated_testing_alpha_matches_armitage_1969(K: int) -> None:
    assert repeated_testing_alpha(K) == pytest.approx(ARMITAGE[K], abs=1e-3)


def test_single_look_is_the_fixed_test() -> None:
    assert sequential_boundaries(1)[0] == pytest.approx(1.959964, abs=1e-6)
    assert repeated_testing_alpha(1) == pytest.approx(0.05, abs=1e-9)
    assert sequential_inflation(1) == 1.0


@pytest.mark.parametrize(
    ("c1", "n1", "c0", "n0"), [(120, 1000, 100, 1000), (7, 50, 19, 80), (0, 10, 3, 12)]
)
def test_two_proportion_z_matches_statsmodels_proportions_ztest(
    c1: int, n1: int, c0: int, n0: int
) -> None:
    z, p = two_proportion_ztest(c1, n1, c0, n0)
    zs, ps = proportions_ztest([c1, c0], [n1, n0])
    assert z == pytest.approx(float(zs), rel=1e-10)
    assert p == pytest.approx(float(ps), rel=1e-10)


def test_probability_to_beat_matches_monte_carlo_and_is_complementary() -> None:
    rng = np.random.default_rng(7)
    a = rng.beta(1 + 45, 1 + 955, 400_000)
    b = rng.beta(1 + 30, 1 + 970, 400_000)
    mc = float((a > b).mean())
    exact = probability_to_beat(45, 1000, 30, 1000)
    assert exact == pytest.approx(mc, abs=0.003)
    assert exact + probability_to_beat(30, 1000, 45, 1000) == pytest.approx(1.0, abs=1e-9)
    # non-integer prior takes the quadrature path and agrees with the closed form
    assert probability_to_beat(45, 1000, 30, 1000, prior=(1.0000001, 1.0)) == pytest.approx(
        exact, abs=1e-5
    )


def test_conversion_ab_test_reads_peeking_and_widens_interval() -> None:
    once = conversion_ab_test(130, 1000, 100, 1000)
    peek = conversion_ab_test(130, 1000, 100, 1000, looks=5)
    seq = conversion_ab_test(130, 1000, 100, 1000, looks=5, sequential=True)
    assert once.peeking_warning is None and once.significant
    assert peek.false_positive_rate == pytest.approx(0.142, abs=1e-3)
    assert peek.design == "pocock" and "without a sequential design" in (peek.peeking_warning or "")
    assert peek.adjusted_ci_high - peek.adjusted_ci_low > seq.adjusted_ci_high - seq.adjusted_ci_low
    assert seq.adjusted_ci_high - seq.adjusted_ci_low > once.ci_high - once.ci_low
    assert 0.9 < once.probability_to_beat < 1.0
    assert set(once.summary()) >= {"p_value", "probability_to_beat", "significant"}
    assert once.to_frame()["visitors"].tolist() == [1000, 1000]


@pytest.mark.parametrize(
    "args",
    [
        (5, 4, 1, 10),
        (-1, 10, 1, 10),
        (1, 0, 1, 10),
        ("3", 10, 1, 10),
        (1.5, 10, 1, 10),
        (np.nan, 10, 1, 10),
    ],
)
def test_conversion_bad_counts_are_clear_errors(args: tuple[object, ...]) -> None:
    with pytest.raises((ConfigError, InsufficientDataError)):
        conversion_ab_test(*args)  # type: ignore[arg-type]


def test_conversion_bad_options() -> None:
    with pytest.raises(ConfigError, match="alpha"):
        conversion_ab_test(1, 10, 1, 10, alpha=1.5)
    with pytest.raises(ConfigError, match="looks"):
        conversion_ab_test(1, 10, 1, 10, looks=0)
    with pytest.raises(ConfigError, match="design"):
        conversion_ab_test(1, 10, 1, 10, design="bonferroni")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="prior"):
        probability_to_beat(1, 10, 1, 10, prior=(0.0, 1.0))


@pytest.mark.parametrize(("d", "ratio"), [(0.4, 1.0), (0.25, 2.0), (0.8, 1.0)])
def test_plan_pilot_means_matches_statsmodels_ttestindpower(d: float, ratio: float) -> None:
    plan = plan_pilot(minimum_effect=d * 5 / 20, baseline_mean=20, baseline_sd=5, ratio=ratio)
    n = TTestIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8, ratio=ratio)
    assert plan.units_per_arm == int(np.ceil(n))
    assert plan.units_control == int(np.ceil(n * ratio))
    assert plan.effect_size == pytest.approx(d)


@pytest.mark.parametrize(("p0", "lift"), [(0.05, 0.2), (0.3, 0.1)])
def test_plan_pilot_rates_matches_statsmodels_normalindpower(p0: float, lift: float) -> None:
    plan = plan_pilot(minimum_effect=lift, baseline_rate=p0, alpha=0.05, power=0.9)
    h = proportion_effectsize(p0 * (1 + lift), p0)
    n = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.9)
    assert plan.units_per_arm == int(np.ceil(n))
    assert "visitors" in plan.describe()


def test_plan_pilot_sequential_inflates_and_flags_feasibility() -> None:
    fixed = plan_pilot(minimum_effect=0.1, baseline_rate=0.2)
    seq = plan_pilot(
        minimum_effect=0.1, baseline_rate=0.2, looks=5, design="pocock", units_available=100
    )
    assert seq.units_per_arm == int(np.ceil(seq.inflation * _n(0.2, 0.1) - 1e-9))
    assert seq.units_per_arm > fixed.units_per_arm
    assert len(seq.boundaries) == 5 and not seq.feasible
    assert "only 100" in seq.describe()
    assert seq.summary()["design"] == "pocock"


def _n(p0: float, lift: float) -> float:
    h = proportion_effectsize(p0 * (1 + lift), p0)
    return float(NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"minimum_effect": 0.1},
        {"minimum_effect": -0.1, "baseline_rate": 0.1},
        {"minimum_effect": 0.1, "baseline_rate": 1.5},
        {"minimum_effect": 2.0, "baseline_rate": 0.6},
        {"minimum_effect": 0.1, "baseline_mean": 10.0, "baseline_sd": 0.0},
        {"minimum_effect": "big", "baseline_rate": 0.1},
        {"minimum_effect": 0.1, "baseline_rate": 0.1, "power": 1.0},
        {"minimum_effect": float("nan"), "baseline_rate": 0.1},
    ],
)
def test_plan_pilot_bad_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        plan_pilot(**kwargs)  # type: ignore[arg-type]


def _did_frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    units = np.repeat(np.arange(12), 16)
    week = np.tile(np.arange(16), 12)
    treated = (units < 6).astype(float)
    post = (week >= 8).astype(float)
    y = 20 + units * 0.5 + 0.2 * week - 3.0 * treated * post + rng.normal(0, 2, units.size)
    return pd.DataFrame({"y": y, "treated": treated, "post": post, "unit": units})


def test_did_matches_statsmodels_ols_interaction_clustered() -> None:
    df = _did_frame()
    m = smf.ols("y ~ treated * post", df).fit(
        cov_type="cluster", cov_kwds={"groups": df["unit"]}, use_t=True
    )
    d = difference_in_differences(df["y"], df["treated"], df["post"], cluster=df["unit"])
    assert d.effect == pytest.approx(m.params["treated:post"], rel=1e-10)
    assert d.se == pytest.approx(m.bse["treated:post"], rel=1e-8)
    lo, hi = m.conf_int().loc["treated:post"]
    assert (d.ci_low, d.ci_high) == pytest.approx((lo, hi), rel=1e-8)
    assert d.p_value == pytest.approx(m.pvalues["treated:post"], rel=1e-6)
    assert d.ci_low < -3.0 < d.ci_high


def test_did_matches_statsmodels_hc1_without_clusters() -> None:
    df = _did_frame(5)
    m = smf.ols("y ~ treated * post", df).fit(cov_type="HC1", use_t=True)
    d = difference_in_differences(df["y"], df["treated"], df["post"])
    assert d.se == pytest.approx(m.bse["treated:post"], rel=1e-8)


def test_did_bad_input() -> None:
    with pytest.raises(InsufficientDataError, match="four cells"):
        difference_in_differences([1.0, 2.0], [1, 1], [0, 1])
    with pytest.raises(ConfigError, match="NaN"):
        difference_in_differences([np.nan, 1, 2, 3], [0, 0, 1, 1], [0, 1, 0, 1])
    with pytest.raises(ConfigError, match="equal length"):
        difference_in_differences([1.0, 2.0], [1], [0, 1])
