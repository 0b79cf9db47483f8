"""BG/BB model: Fader, Hardie & Shang (2010) donation data oracle, lifetimes, brute force."""

from __future__ import annotations

import math
from pathlib import Path

import lifetimes
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime
from scipy.special import beta as B  # noqa: N812

from levelfield.customers import BetaGeoBetaBinomModel
from levelfield.customers._bgbb import bgbb_loglik
from levelfield.errors import ConfigError, DataError, InsufficientDataError, NotFittedError


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    """The 1995 cohort of 11,104 donors, six annual opportunities (the paper's table 1),
    as shipped with lifetimes, vendored in tests/data/cdnow (frequency, recency, periods,
    weights)."""
    df = pd.read_csv(Path(__file__).parents[1] / "data" / "cdnow" / "donations.csv")
    assert int(df["weights"].sum()) == 11_104
    return df


@pytest.fixture(scope="module")
def fitted(donations: pd.DataFrame) -> BetaGeoBetaBinomModel:
    d = donations
    return BetaGeoBetaBinomModel().fit(d["frequency"], d["recency"], d["periods"], d["weights"])


def test_bgbb_matches_fader_hardie_shang_2010_donation_estimates(
    fitted: BetaGeoBetaBinomModel,
) -> None:
    published = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    for k, v in published.items():
        assert fitted.params_[k] == pytest.approx(v, abs=5e-4), k
    assert fitted.log_likelihood_ == pytest.approx(-33_225.6, abs=0.05)
    assert fitted.converged_
    assert all(0 < fitted.standard_errors_[k] < fitted.params_[k] for k in published)


def _brute_force_likelihood(
    a: float, b: float, g: float, d: float, x: int, tx: int, n: int
) -> float:
    """Equation 5 of the paper, term by term with plain beta functions."""
    total = B(a + x, b + n - x) / B(a, b) * B(g, d + n) / B(g, d)
    for i in range(n - tx):  # at most n terms per pattern
        total += B(a + x, b + tx - x + i) / B(a, b) * B(g + 1, d + tx + i) / B(g, d)
    return float(total)


def test_bgbb_likelihood_matches_brute_force(donations: pd.DataFrame) -> None:
    x, tx, n = (donations[c].to_numpy(dtype=float) for c in ("frequency", "recency", "periods"))
    for params in [(1.204, 0.750, 0.657, 2.783), (0.5, 2.0, 1.5, 0.4), (3.0, 3.0, 0.2, 9.0)]:
        ll, _ = bgbb_loglik(*params, x, tx, n)
        brute = [
            math.log(_brute_force_likelihood(*params, int(a), int(b), int(c)))
            for a, b, c in zip(x, tx, n, strict=True)
        ]
        np.testing.assert_allclose(ll, brute, rtol=1e-10)


def test_bgbb_gradient_matches_finite_differences(donations: pd.DataFrame) -> None:
    x, tx, n = (donations[c].to_numpy(dtype=float) for c in ("frequency", "recency", "periods"))
    theta = np.array([1.1, 0.8, 0.7, 2.5])
    _, g = bgbb_loglik(*theta, x, tx, n)
    fd = approx_fprime(theta, lambda th: float(bgbb_loglik(*th, x, tx, n)[0].sum()), 1e-7)
    np.testing.assert_allclose(g.sum(axis=1), fd, rtol=1e-5)


def test_bgbb_predictions_agree_with_lifetimes(
    fitted: BetaGeoBetaBinomModel, donations: pd.DataFrame
) -> None:
    peer = lifetimes.BetaGeoBetaBinomFitter()
    peer.params_ = pd.Series(fitted.params_)
    x, tx, n = donations["frequency"], donations["recency"], donations["periods"]
    np.testing.assert_allclose(
        fitted.probability_alive(x, tx, n),
        peer.conditional_probability_alive(1, x, tx, n),
        rtol=1e-9,
    )
    for horizon in (1, 5, 10):
        np.testing.assert_allclose(
            fitted.conditional_expected_purchases(horizon, x, tx, n),
            peer.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, n),
            rtol=1e-9,
        )


def test_bgbb_population_curve_matches_simulation(fitted: BetaGeoBetaBinomModel) -> None:
    a, b, g, d = fitted.params_.values()
    rng = np.random.default_rng(0)
    m = 400_000
    p = rng.beta(a, b, m)
    theta = rng.beta(g, d, m)
    # drop-out happens at the start of an opportunity, before the chance to transact
    alive = np.cumprod(rng.random((m, 6)) > theta[:, None], axis=1).astype(bool)
    buys = alive & (rng.random((m, 6)) < p[:, None])
    assert float(buys.sum(axis=1).mean()) == pytest.approx(
        float(fitted.expected_purchases(6)), rel=0.01
    )


def test_bgbb_bad_input(fitted: BetaGeoBetaBinomModel) -> None:
    m = BetaGeoBetaBinomModel()
    with pytest.raises(NotFittedError):
        m.probability_alive([1], [1], [6])
    with pytest.raises(DataError, match="impossible"):
        m.fit([2, 1], [1, 1], [6, 6])
    with pytest.raises(DataError, match="impossible"):
        m.fit([0, 1], [2, 1], [6, 6])
    with pytest.raises(DataError, match="impossible"):
        m.fit([1, 1], [7, 1], [6, 6])
    with pytest.raises(DataError, match="whole numbers"):
        m.fit([1.5, 1], [2, 1], [6, 6])
    with pytest.raises(DataError, match=">= 1"):
        m.fit([0, 0], [0, 0], [0, 0])
    with pytest.raises(InsufficientDataError, match="only one kind"):
        m.fit([0, 0], [0, 0], [6, 6])
    with pytest.raises(InsufficientDataError, match="no customers"):
        m.fit([], [], [])
    with pytest.raises(ConfigError, match="opportunities"):
        fitted.conditional_expected_purchases(-1, [1], [1], [6])
    with pytest.raises(ConfigError, match="opportunities"):
        fitted.expected_purchases(np.nan)
